//! [`SessionConfig`] and [`ConfigError`].

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use resse_codec::{DecoderConfig, Text};
use resse_heartbeat::IdleConfig;
use resse_reconnect::ReconnectConfig;

/// Configuration of a [`ClientSession`](crate::ClientSession): what to
/// request, and the decoder, reconnection and idle settings.
///
/// Chainable by-value setters; getters are named `get_*`.
///
/// ```
/// use std::time::Duration;
/// use http::{HeaderValue, Method, header::AUTHORIZATION};
/// use resse_session::SessionConfig;
///
/// // An LLM-style POST endpoint: the body is sent again on every reconnection.
/// let config = SessionConfig::new("https://api.example/v1/stream")
///     .method(Method::POST)
///     .header(AUTHORIZATION, HeaderValue::from_static("Bearer t0ken"))
///     .body(r#"{"prompt":"hi"}"#)
///     .seed(0x5eed) // one seed per client, for the reconnection jitter
///     .idle_timeout(Some(Duration::from_secs(60)));
/// assert_eq!(config.get_url(), "https://api.example/v1/stream");
/// ```
#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub(crate) url: String,
    pub(crate) method: Method,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
    pub(crate) last_event_id: Text,
    pub(crate) reconnect: ReconnectConfig,
    /// Whether [`seed`](Self::seed) was called since the last
    /// [`reconnect`](Self::reconnect).
    pub(crate) seeded: bool,
    pub(crate) stop_on_clean_end: Option<bool>,
    pub(crate) stop_on_event: Option<Text>,
    pub(crate) idle: Option<IdleConfig>,
    pub(crate) probe: Option<crate::ProbeConfig>,
    pub(crate) decoder: DecoderConfig,
}

impl SessionConfig {
    /// A `GET` of `url` with the default decoder, reconnection policy (seed
    /// 0: set your own with [`seed`](Self::seed)) and a 45 s idle timeout.
    ///
    /// The URL must be an absolute `http://` or `https://` URL with a host;
    /// [`ClientSession::new`](crate::ClientSession::new) refuses anything
    /// else with [`ConfigError::Url`]. It is parsed as browsers parse an
    /// `EventSource` URL (the WHATWG URL standard, by the `url` crate):
    /// the host is lowercased, a default port dropped, a fragment removed.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            method: Method::GET,
            headers: HeaderMap::new(),
            body: None,
            last_event_id: Text::new(),
            reconnect: ReconnectConfig::default(),
            seeded: false,
            stop_on_clean_end: None,
            stop_on_event: Some(Text::from(crate::SupersededEvent::DEFAULT_EVENT_TYPE)),
            idle: Some(IdleConfig::default()),
            probe: None,
            decoder: DecoderConfig::default(),
        }
    }

    /// The URL to connect to. Every reconnection starts from it again (as
    /// `EventSource` does); a redirect only changes the request that follows
    /// it.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// The request method (default `GET`). For a `POST` endpoint, set the
    /// [`body`](Self::body) too: it is sent again on every reconnection.
    ///
    /// The method also sets what a clean end of the stream means, unless
    /// [`stop_on_clean_end`](Self::stop_on_clean_end) says otherwise: a
    /// `GET` stream that ends at an event boundary is reconnected (as
    /// `EventSource` does), a stream of any other method stops (LLM and MCP
    /// endpoints end the stream after the answer; sending the request again
    /// would ask again).
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Whether a stream that ends at an event boundary
    /// ([`Cause::EndOfBodyClean`](resse_reconnect::Cause::EndOfBodyClean))
    /// closes the session ([`StopReason::EndOfStream`](resse_reconnect::StopReason::EndOfStream),
    /// not an error) instead of reconnecting. Default: `false` for `GET`,
    /// `true` for any other [`method`](Self::method). A stream cut in the
    /// middle of an event, and every other failure, reconnects either way.
    ///
    /// Setting it overrides the method's default and the
    /// [`ReconnectConfig::stop_on_clean_end`] of [`reconnect`](Self::reconnect),
    /// whatever the order of the calls.
    ///
    /// ```
    /// use http::Method;
    /// use resse_session::SessionConfig;
    ///
    /// let llm = SessionConfig::new("https://api.example/v1/chat").method(Method::POST);
    /// assert!(llm.get_stop_on_clean_end());
    /// let feed = SessionConfig::new("https://api.example/v1/feed");
    /// assert!(!feed.get_stop_on_clean_end());
    /// // A POST subscription that the server rotates: reconnect after a clean end.
    /// let rotating = llm.stop_on_clean_end(false);
    /// assert!(!rotating.get_stop_on_clean_end());
    /// ```
    pub fn stop_on_clean_end(mut self, yes: bool) -> Self {
        self.stop_on_clean_end = Some(yes);
        self
    }

    /// An event type that tells the client to stop: the session closes with
    /// [`CloseReason::ServerStop`](crate::CloseReason::ServerStop) (not an
    /// error; the event's data is the readable reason) instead of delivering
    /// the event and reconnecting. Default: `superseded`, the final event a
    /// resse server sends to a connection replaced by a newer one with the
    /// same client identity, so that two clients with one identity do not
    /// supersede each other in turn. `None`: no event stops the client.
    ///
    /// ```
    /// use resse_session::SessionConfig;
    ///
    /// let config = SessionConfig::new("https://api.example/feed");
    /// assert_eq!(config.get_stop_on_event(), Some("superseded"));
    /// assert_eq!(config.stop_on_event(None::<&str>).get_stop_on_event(), None);
    /// ```
    pub fn stop_on_event(mut self, event_type: Option<impl Into<Text>>) -> Self {
        self.stop_on_event = event_type.map(Into::into);
        self
    }

    /// The event type that stops the client, if any.
    pub fn get_stop_on_event(&self) -> Option<&str> {
        self.stop_on_event.as_deref()
    }

    /// Adds a request header, after any earlier value of the same name.
    ///
    /// A user header replaces the session's default of the same name
    /// (`Accept`, `Cache-Control`). `Last-Event-ID` cannot be set this way
    /// (it is ignored): the session owns it; use
    /// [`last_event_id`](Self::last_event_id) to start from a known id.
    /// `Authorization`, `Cookie` and `Proxy-Authorization` are not forwarded
    /// to another origin after a redirect.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Adds all these request headers (see [`header`](Self::header)).
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        let mut current = None;
        for (name, value) in headers {
            if let Some(name) = name {
                current = Some(name);
            }
            if let Some(name) = &current {
                self.headers.append(name.clone(), value);
            }
        }
        self
    }

    /// A request body, sent with every connection attempt (for endpoints
    /// that stream the answer to a `POST`). Default: none.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// The last event id to start from (default empty: none), sent as
    /// `Last-Event-ID` on the first connection already. Useful to resume
    /// after a restart of the client process.
    pub fn last_event_id(mut self, id: impl Into<Text>) -> Self {
        self.last_event_id = id.into();
        self
    }

    /// The reconnection policy's configuration (default
    /// [`ReconnectConfig::default()`]).
    pub fn reconnect(mut self, config: ReconnectConfig) -> Self {
        self.reconnect = config;
        self.seeded = false;
        self
    }

    /// Seeds the reconnection jitter: shorthand for setting
    /// [`ReconnectConfig::seed`] in [`reconnect`](Self::reconnect).
    ///
    /// **Give every client its own seed**, or clients dropped together all
    /// come back at the same instant: adapters should draw it from the OS
    /// random source (or hash a client id); tests pass fixed seeds. The
    /// session itself never draws randomness. Call it after
    /// [`reconnect`](Self::reconnect), which replaces the whole policy
    /// configuration, seed included.
    pub fn seed(mut self, seed: u64) -> Self {
        self.reconnect = self.reconnect.seed(seed);
        self.seeded = true;
        self
    }

    /// How long a connection may stay silent (no response head yet, or no
    /// byte of body, keep-alive comments included) before the session
    /// declares it dead and reconnects. `None` disables the watchdog (a
    /// half-open connection then hangs forever). Default 45 s
    /// ([`IdleConfig::DEFAULT_TIMEOUT`]); servers should send a keep-alive
    /// comment well within it (every 15 s is common).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle = timeout.map(IdleConfig::new);
        self
    }

    /// The end-to-end liveness probe (default `None`: off). While a stream
    /// is open, every probe interval the session asks for a side request
    /// ([`Action::Probe`](crate::Action::Probe)) and expects its answer, an
    /// event of type `pong` carrying the probe's nonce, on the stream within
    /// the probe timeout; otherwise it drops the stream with
    /// [`Cause::ProbeTimeout`](resse_reconnect::Cause::ProbeTimeout) and
    /// reconnects. For servers whose keep-alives can flow while their
    /// events do not; see [`probe`](crate::probe) for when to use it, what it
    /// costs and the wire protocol.
    pub fn probe(mut self, probe: Option<crate::ProbeConfig>) -> Self {
        self.probe = probe;
        self
    }

    /// The liveness probe's configuration, if enabled.
    pub fn get_probe(&self) -> Option<&crate::ProbeConfig> {
        self.probe.as_ref()
    }

    /// The decoder's limits and options (default [`DecoderConfig::default()`]).
    /// With [`Overflow::Stop`](resse_codec::Overflow::Stop) an oversized
    /// event closes the session; with `Skip` (default) it is reported and
    /// skipped.
    pub fn decoder(mut self, config: DecoderConfig) -> Self {
        self.decoder = config;
        self
    }

    /// The configured URL.
    pub fn get_url(&self) -> &str {
        &self.url
    }
    /// The request method.
    pub fn get_method(&self) -> &Method {
        &self.method
    }
    /// The user's request headers.
    pub fn get_headers(&self) -> &HeaderMap {
        &self.headers
    }
    /// The request body.
    pub fn get_body(&self) -> Option<&Bytes> {
        self.body.as_ref()
    }
    /// The last event id the session starts from.
    pub fn get_last_event_id(&self) -> &Text {
        &self.last_event_id
    }
    /// The reconnection policy's configuration.
    pub fn get_reconnect(&self) -> &ReconnectConfig {
        &self.reconnect
    }
    /// The seed given with [`seed`](Self::seed) since the last
    /// [`reconnect`](Self::reconnect), or `None` when none was: then the
    /// session runs with the [`ReconnectConfig`]'s seed as it is (0 by
    /// default), and an adapter should give it one from the OS random source
    /// first, so that clients dropped together do not come back together.
    ///
    /// ```
    /// use resse_session::{ReconnectConfig, SessionConfig};
    ///
    /// let config = SessionConfig::new("https://example.com/events");
    /// assert_eq!(config.get_seed(), None);
    /// let config = config.seed(7);
    /// assert_eq!(config.get_seed(), Some(7));
    /// // `reconnect` replaces the whole policy configuration, seed included.
    /// assert_eq!(config.reconnect(ReconnectConfig::default()).get_seed(), None);
    /// ```
    pub fn get_seed(&self) -> Option<u64> {
        self.seeded.then(|| self.reconnect.get_seed())
    }
    /// Whether a clean end of the stream stops the session (see
    /// [`stop_on_clean_end`](Self::stop_on_clean_end)): the setting if
    /// made, else `true` when the policy's own setting is, or the method is
    /// not `GET`.
    pub fn get_stop_on_clean_end(&self) -> bool {
        self.stop_on_clean_end
            .unwrap_or(self.reconnect.get_stop_on_clean_end() || self.method != Method::GET)
    }
    /// The idle timeout, if the watchdog is enabled.
    pub fn get_idle_timeout(&self) -> Option<Duration> {
        self.idle.map(|c| c.get_timeout())
    }
    /// The decoder's configuration.
    pub fn get_decoder(&self) -> &DecoderConfig {
        &self.decoder
    }
}

impl SessionConfig {
    /// The policy configuration the session runs: [`reconnect`](Self::reconnect)
    /// with the effective [`stop_on_clean_end`](Self::get_stop_on_clean_end).
    pub(crate) fn effective_reconnect(&self) -> ReconnectConfig {
        self.reconnect
            .clone()
            .stop_on_clean_end(self.get_stop_on_clean_end())
    }
}

/// A [`SessionConfig`] that a [`ClientSession`](crate::ClientSession) cannot
/// start from: what [`ClientSession::new`](crate::ClientSession::new), and
/// the adapters' `build()`, return. `Display` says what is wrong and what is
/// accepted.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The URL is not an absolute `http://` or `https://` URL with a host.
    Url(crate::InvalidUrl),
    /// The reconnection policy's configuration is invalid.
    Reconnect(resse_reconnect::ConfigError),
    /// The liveness probe's configuration is invalid (a zero interval or
    /// timeout, a probe URL that is not `http://` or `https://`); the text
    /// says what and what is accepted.
    Probe(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(e) => fmt::Display::fmt(e, f),
            Self::Reconnect(e) => write!(f, "invalid reconnection policy: {e}"),
            Self::Probe(e) => write!(f, "invalid liveness probe: {e}"),
        }
    }
}

/// `Display` already holds the inner error's message, so `source()` goes on
/// from the inner error's own source.
impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Url(e) => std::error::Error::source(e),
            Self::Reconnect(e) => std::error::Error::source(e),
            Self::Probe(_) => None,
        }
    }
}

impl From<resse_reconnect::ConfigError> for ConfigError {
    fn from(e: resse_reconnect::ConfigError) -> Self {
        Self::Reconnect(e)
    }
}

impl From<crate::InvalidUrl> for ConfigError {
    fn from(e: crate::InvalidUrl) -> Self {
        Self::Url(e)
    }
}
