//! The session settings of every adapter's client builder, written once.

/// Writes, inside an adapter's `impl ClientBuilder { … }` whose `config`
/// field is a [`SessionConfig`](crate::SessionConfig), the setters that
/// forward to it: `method`, `stop_on_clean_end`, `stop_on_event`, `header`, `headers`,
/// `body`, `last_event_id`, `reconnect`, `seed`, `idle_timeout`, `probe`,
/// `decoder`.
/// One implementation and one text for both adapters, so that the same
/// setter means the same thing in each.
///
/// Not a public API of its own: it exists for resse's adapters.
#[doc(hidden)]
#[macro_export]
macro_rules! client_builder_session_setters {
    () => {
        /// The request method (default `GET`; LLM and MCP endpoints use
        /// `POST`).
        ///
        /// It also sets what a clean end of the stream does by default: a
        /// `GET` reconnects (as `EventSource` does), any other method stops
        /// (the stream ends after the answer; sending the request again
        /// would ask again). [`stop_on_clean_end`](Self::stop_on_clean_end)
        /// overrides it.
        pub fn method(mut self, method: $crate::__private::Method) -> Self {
            self.config = self.config.method(method);
            self
        }

        /// Whether a stream that ends at an event boundary closes the client
        /// (`SessionEvent::Closed` with `StopReason::EndOfStream`, which is
        /// not an error) instead of reconnecting. Default: `false` for
        /// `GET`, `true` for any other [`method`](Self::method). A stream cut
        /// mid-event, and every other failure, reconnects either way. See
        /// [`SessionConfig::stop_on_clean_end`](resse_session::SessionConfig::stop_on_clean_end).
        pub fn stop_on_clean_end(mut self, yes: bool) -> Self {
            self.config = self.config.stop_on_clean_end(yes);
            self
        }

        /// An event type that makes the client stop (closed, not an error,
        /// with the event's data as the reason) instead of reconnecting;
        /// default `superseded`, which a resse server sends to a connection
        /// replaced by a newer one with the same identity. `None` for none.
        /// See
        /// [`SessionConfig::stop_on_event`](resse_session::SessionConfig::stop_on_event).
        pub fn stop_on_event(
            mut self,
            event_type: ::core::option::Option<impl ::core::convert::Into<$crate::__private::Text>>,
        ) -> Self {
            self.config = self.config.stop_on_event(event_type);
            self
        }

        /// Adds a request header, after any earlier value of the same name
        /// (see [`SessionConfig::header`](resse_session::SessionConfig::header):
        /// `Last-Event-ID` is the session's own; credentials do not follow a
        /// redirect to another origin).
        pub fn header(
            mut self,
            name: $crate::__private::HeaderName,
            value: $crate::__private::HeaderValue,
        ) -> Self {
            self.config = self.config.header(name, value);
            self
        }

        /// Adds all these request headers (see [`header`](Self::header)).
        pub fn headers(mut self, headers: $crate::__private::HeaderMap) -> Self {
            self.config = self.config.headers(headers);
            self
        }

        /// The request body, sent again with every request (reconnections
        /// included).
        pub fn body(mut self, body: impl Into<$crate::__private::Bytes>) -> Self {
            self.config = self.config.body(body);
            self
        }

        /// The `Last-Event-ID` of the first request (default none): resume
        /// after a restart of the client process.
        pub fn last_event_id(mut self, id: impl Into<$crate::__private::Text>) -> Self {
            self.config = self.config.last_event_id(id);
            self
        }

        /// The reconnection policy (default `ReconnectConfig::default()`).
        /// It replaces the whole policy configuration, seed included: the
        /// client then draws a seed from the OS random source unless
        /// [`seed`](Self::seed) is called after this.
        pub fn reconnect(mut self, config: $crate::__private::ReconnectConfig) -> Self {
            self.config = self.config.reconnect(config);
            self
        }

        /// A fixed seed for the reconnection jitter (tests, replays). By
        /// default each client draws one from the OS random source, so that
        /// clients dropped together do not come back together.
        pub fn seed(mut self, seed: u64) -> Self {
            self.config = self.config.seed(seed);
            self
        }

        /// How long a connection may stay silent (waiting for the response
        /// head included) before it is dropped and reopened; `None` disables
        /// it (a half-open connection then hangs forever). Default 45 s; set
        /// it above the server's keep-alive interval. See
        /// [`SessionConfig::idle_timeout`](resse_session::SessionConfig::idle_timeout).
        pub fn idle_timeout(mut self, timeout: Option<::core::time::Duration>) -> Self {
            self.config = self.config.idle_timeout(timeout);
            self
        }

        /// The end-to-end liveness probe (default off): every interval of
        /// an open stream, a side request with a fresh nonce (by default a
        /// `POST` to the stream's path + `/probe`, its query kept) whose
        /// answer, a `pong` event carrying the nonce, must come on the
        /// stream within the timeout, or the stream is reopened
        /// (`Cause::ProbeTimeout`). See
        /// [`SessionConfig::probe`](resse_session::SessionConfig::probe).
        pub fn probe(
            mut self,
            probe: ::core::option::Option<$crate::__private::ProbeConfig>,
        ) -> Self {
            self.config = self.config.probe(probe);
            self
        }

        /// The decoder's limits and options (default
        /// `DecoderConfig::default()`: 16 MiB lines and events, oversized
        /// events skipped and reported).
        pub fn decoder(mut self, config: $crate::__private::DecoderConfig) -> Self {
            self.config = self.config.decoder(config);
            self
        }
    };
}
