//! [`ClientSession`] and its outputs.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use resse_codec::{ChunkDecoder, DecodeError, Decoder, Event, Frame, Text};
use resse_heartbeat::{IdleConfig, IdleWatchdog, Liveness};
use resse_reconnect::{
    Cause, Decision, DelayReason, Reconnect, ReconnectPolicy, StopReason, Verdict,
};

use crate::probe::{Answer, Prober};
use crate::request::{Request, Template};
use crate::{ConfigError, Metrics, Probe, SessionConfig};

/// What the adapter must do next: the output of
/// [`ClientSession::poll_action`].
///
/// Waiting is not an action: when there is none, wait for I/O or until
/// [`ClientSession::poll_timeout`].
#[derive(Clone, Debug, PartialEq)]
#[must_use = "an action must be performed"]
#[non_exhaustive]
// One action per connection attempt: a box would cost more in ergonomics
// (`Connect(request)` moves the request out) than the size costs.
#[allow(clippy::large_enum_variant)]
pub enum Action {
    /// Open a connection with this request. Feed its response head to
    /// [`handle_response`](ClientSession::handle_response), its body to
    /// [`handle_body`](ClientSession::handle_body) and its end to
    /// [`handle_eof`](ClientSession::handle_eof) or
    /// [`handle_error`](ClientSession::handle_error). Issued only when no
    /// other connection is in flight.
    Connect(Request),
    /// Drop the connection in flight without reading more of it; the
    /// session already counts it as ended (idle timeout, a response that is
    /// not a stream, [`restart_now`](ClientSession::restart_now)). Do not
    /// feed anything more from it.
    Disconnect,
    /// Send the liveness probe's side request ([`SessionConfig::probe`]):
    /// beside the stream, without holding up its reads, with the client
    /// you already have. Report a failure (no response, a status other
    /// than 2xx) with
    /// [`handle_probe_error`](ClientSession::handle_probe_error); the
    /// answer comes on the stream. Issued only while a stream is open, at
    /// most one outstanding at a time; a probe still in flight when its
    /// stream ends can be dropped.
    Probe(Probe),
    /// The session is closed: drop the connection in flight, if any, and
    /// stop driving the session. Reported once, after
    /// [`SessionEvent::Closed`].
    Stop,
}

/// Something that happened: the output of [`ClientSession::poll_event`].
///
/// Events of the stream ([`Event`](Self::Event), [`Comment`](Self::Comment))
/// and connection state changes come out of one queue, in the order they
/// happened. Each is reported once.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// A connection attempt starts (an [`Action::Connect`] was issued).
    /// `attempt` is 0 for the first connection and after
    /// [`restart_now`](ClientSession::restart_now), else the reconnection
    /// attempt of the current outage (1 for the first reconnection after a
    /// stream that worked, then 2, ...). A request that follows a redirect
    /// keeps the attempt number.
    Connecting {
        /// Which attempt this is (see above).
        attempt: u32,
    },
    /// The response was a redirect; the next request goes to `url` (the
    /// `Location` resolved against the request URL).
    Redirected {
        /// The redirect status.
        status: StatusCode,
        /// The URL of the next request.
        url: String,
    },
    /// The response is an event stream: events follow.
    Open,
    /// A decoded event. Its [`last_event_id()`](Event::last_event_id) is the
    /// last event id in effect, carried across reconnections.
    Event(Event),
    /// A comment line, only when the decoder is configured to report them
    /// ([`DecoderConfig::comments`](resse_codec::DecoderConfig::comments)).
    Comment(Text),
    /// A decoder limit was exceeded; the offending event was skipped and the
    /// stream goes on ([`Overflow::Skip`](resse_codec::Overflow::Skip)). With
    /// `Overflow::Stop` the session closes instead.
    DecodeError(DecodeError),
    /// The connection ended or the attempt failed; the session reconnects
    /// after `delay`.
    Reconnecting {
        /// Why the connection ended.
        cause: Cause,
        /// Which reconnection attempt of the current outage comes next.
        attempt: u32,
        /// How long the session waits.
        delay: Duration,
        /// What set the delay's lower bound.
        reason: DelayReason,
    },
    /// The session is closed for good (until
    /// [`restart_now`](ClientSession::restart_now)).
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

/// Why a session closed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// [`ClientSession::close`] was called. Not an error.
    Requested,
    /// The reconnection policy stopped: the server said stop (204), a
    /// response was refused (status, content type, redirects), or a retry
    /// limit was reached. [`StopReason::is_error`] tells which.
    Policy(StopReason),
    /// A decoder limit was exceeded with
    /// [`Overflow::Stop`](resse_codec::Overflow::Stop).
    Decode(DecodeError),
    /// The server sent the event type of
    /// [`SessionConfig::stop_on_event`] (by default `superseded`: a newer
    /// connection with the same client identity replaced this one). Not an
    /// error.
    ServerStop {
        /// The event type.
        event_type: Text,
        /// The event's data: the server's reason, readable.
        reason: Text,
    },
}

impl CloseReason {
    /// Whether this is a failure (`false` for a requested close and for the
    /// policy's requested stops: 204, a clean end with `stop_on_clean_end`).
    pub fn is_error(&self) -> bool {
        match self {
            Self::Requested | Self::ServerStop { .. } => false,
            Self::Policy(reason) => reason.is_error(),
            Self::Decode(_) => true,
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Requested => f.write_str("closed by the user"),
            Self::Policy(reason) => fmt::Display::fmt(reason, f),
            Self::Decode(e) => fmt::Display::fmt(e, f),
            Self::ServerStop { event_type, reason } if reason.is_empty() => {
                write!(f, "the server said stop (a `{event_type}` event)")
            }
            Self::ServerStop { event_type, reason } => {
                write!(f, "the server said stop (a `{event_type}` event): {reason}")
            }
        }
    }
}

/// A close is reported as an error where it is one (see
/// [`CloseReason::is_error`]), e.g. by an adapter's `next_event()`.
impl std::error::Error for CloseReason {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Requested | Self::ServerStop { .. } => None,
            Self::Policy(reason) => Some(reason),
            Self::Decode(e) => Some(e),
        }
    }
}

/// Where a session is: [`ClientSession::state`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectionState {
    /// A connection was requested; its response head has not arrived.
    Connecting,
    /// The stream is open.
    Open,
    /// No connection; waiting to reconnect at [`ClientSession::poll_timeout`].
    Waiting,
    /// Closed for good.
    Closed,
}

#[derive(Clone, Copy, Debug)]
enum State {
    Connecting { attempt: u32 },
    Open,
    Waiting(Reconnect),
    Closed,
}

/// A reconnecting Server-Sent Events client, sans-IO: the decoder, the
/// reconnection policy, the idle watchdog and the last event id in one state
/// machine that tells an adapter what to do.
///
/// # Drive loop
///
/// * **Inputs** (each takes `now` first; time must not go backwards, an
///   earlier `now` counts as the latest one seen):
///   [`handle_response(now, status, &headers)`](Self::handle_response),
///   [`handle_body(now, bytes)`](Self::handle_body),
///   [`handle_eof(now)`](Self::handle_eof),
///   [`handle_error(now, cause)`](Self::handle_error),
///   [`handle_timeout(now)`](Self::handle_timeout); user commands
///   [`close()`](Self::close) and [`restart_now(now)`](Self::restart_now).
///   Inputs that do not fit the state (body bytes when no stream is open, a
///   response when no connection was requested) are ignored.
/// * **Outputs**, drained in this order after creating the session and after
///   every input:
///   1. [`poll_action()`](Self::poll_action) until `None`: perform each
///      [`Action`] in order (a `Disconnect` always comes before the `Connect`
///      that follows it);
///   2. [`poll_event()`](Self::poll_event) until `None`: events and
///      connection state changes, in order;
///   3. [`poll_timeout()`](Self::poll_timeout): arm one timer for it; when
///      it fires call `handle_timeout(now)`.
///
///   The two queues are independent, so the order only matters for what a
///   user sees first; inputs made while draining are fine.
/// * **Timer**: `poll_timeout()` is the reconnection deadline while
///   waiting, or the idle deadline while connecting or streaming (moved by
///   `handle_response`, by non-empty `handle_body`, and set by every
///   `Connect`). An early `handle_timeout` does nothing.
///
/// # Guarantees
///
/// * **At most one connection in flight.** An [`Action::Connect`] is issued
///   only after the previous connection ended: reported by the adapter
///   (`handle_eof`, `handle_error`) or ended by the session (an
///   [`Action::Disconnect`] or [`Action::Stop`] issued before).
/// * **Last event id.** It survives any number of reconnections, is sent as
///   `Last-Event-ID` on each [`Request`] (omitted while empty: an empty
///   `id:` field removes it), is never taken from a block the connection cut
///   off before its blank line, and events of a new connection inherit it.
/// * **Causes.** A body that ends at an event boundary is
///   [`Cause::EndOfBodyClean`], one that ends inside an event
///   [`Cause::EndOfBodyMidEvent`], silence past the idle timeout
///   [`Cause::IdleTimeout`] ([`Cause::ConnectFailed`] before the response
///   head); the [`ReconnectPolicy`] turns them into a delay.
/// * **A stream that delivered an event worked.** When it ends, the
///   reconnection is the first of a new outage, drawn from the server's
///   `retry:` (with the default jitter, in `[R, 2.5 R)`; see
///   [`ReconnectPolicy`]'s "Reconnecting at the server's `retry:`"); a
///   stream that ends without any event keeps the backoff growing.
/// * `retry:` fields set the policy's base delay; a redirect changes the URL
///   of the next request only (bounded by
///   [`max_redirects`](resse_reconnect::ReconnectConfig::max_redirects));
///   every reconnection starts from the configured URL again, as
///   `EventSource` does.
///
/// See the [crate docs](crate) for a complete drive loop.
#[derive(Debug)]
pub struct ClientSession {
    /// The configured request.
    template: Template,
    /// The request of the connection in flight.
    current: Template,
    /// The request that follows a redirect.
    redirect: Option<Template>,
    policy: ReconnectPolicy,
    idle_config: Option<IdleConfig>,
    idle: Option<IdleWatchdog>,
    /// The decoder, driven over the body's chunks.
    chunks: ChunkDecoder,
    /// The event type that stops the session.
    stop_on_event: Option<Text>,
    /// The liveness probe, if configured.
    prober: Option<Prober>,
    probes_sent: u64,
    probes_answered: u64,
    probes_failed: u64,
    state: State,
    actions: VecDeque<Action>,
    events: VecDeque<SessionEvent>,
    /// The latest `now` seen.
    now: Instant,
    last_byte: Option<Instant>,
    last_cause: Option<Cause>,
    connections: u64,
    conn_events: u64,
    conn_bytes: u64,
    total_events: u64,
    total_bytes: u64,
}

impl ClientSession {
    /// A session created at `now`. Its first [`Action::Connect`] is ready
    /// at once. Fails if the URL is not an absolute `http://` or `https://`
    /// URL with a host ([`ConfigError::Url`]), or if the reconnection
    /// configuration is invalid ([`ConfigError::Reconnect`], see
    /// [`ReconnectConfig::validate`](resse_reconnect::ReconnectConfig::validate)).
    pub fn new(now: Instant, config: SessionConfig) -> Result<Self, ConfigError> {
        let url = crate::url::parse_endpoint(&config.url).map_err(ConfigError::Url)?;
        let policy =
            ReconnectPolicy::new(config.effective_reconnect()).map_err(ConfigError::Reconnect)?;
        let template = Template::from_config(&config, url);
        let prober = match config.probe.clone() {
            Some(probe) => Some(
                Prober::new(probe, &template, config.reconnect.get_seed())
                    .map_err(ConfigError::Probe)?,
            ),
            None => None,
        };
        let mut chunks = ChunkDecoder::with_config(config.decoder.clone());
        chunks
            .decoder_mut()
            .set_last_event_id(config.last_event_id.clone());
        let mut session = Self {
            current: template.clone(),
            template,
            redirect: None,
            policy,
            idle_config: config.idle,
            idle: None,
            chunks,
            stop_on_event: config.stop_on_event.clone(),
            prober,
            probes_sent: 0,
            probes_answered: 0,
            probes_failed: 0,
            state: State::Closed,
            actions: VecDeque::new(),
            events: VecDeque::new(),
            now,
            last_byte: None,
            last_cause: None,
            connections: 0,
            conn_events: 0,
            conn_bytes: 0,
            total_events: 0,
            total_bytes: 0,
        };
        session.connect(now, 0);
        Ok(session)
    }

    // ---- getters ----

    /// Where the session is.
    pub fn state(&self) -> ConnectionState {
        match self.state {
            State::Connecting { .. } => ConnectionState::Connecting,
            State::Open => ConnectionState::Open,
            State::Waiting(_) => ConnectionState::Waiting,
            State::Closed => ConnectionState::Closed,
        }
    }

    /// Whether the session is closed (after [`SessionEvent::Closed`]).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Whether a connection is in flight: requested and not ended yet.
    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Connecting { .. } | State::Open)
    }

    /// The last event id: what the next request sends as `Last-Event-ID`
    /// (empty: none).
    pub fn last_event_id(&self) -> &Text {
        self.chunks.decoder().last_event_id()
    }

    /// The URL of the connection in flight, or of the last one.
    pub fn current_url(&self) -> &str {
        self.current.url.as_str()
    }

    /// The reconnection policy (attempts, the server's `retry:`, ...).
    pub fn policy(&self) -> &ReconnectPolicy {
        &self.policy
    }

    /// The decoder.
    pub fn decoder(&self) -> &Decoder {
        self.chunks.decoder()
    }

    /// A snapshot of counters and timings, with durations measured up to
    /// `now`.
    pub fn metrics(&self, now: Instant) -> Metrics {
        let (next_delay, next_delay_reason, reconnect_at) = match self.state {
            State::Waiting(r) => (r.delay, r.reason, Some(r.at)),
            _ => {
                let reason = if self.policy.server_retry().is_some() {
                    DelayReason::ServerRetry
                } else {
                    DelayReason::Backoff
                };
                (self.policy.next_delay(), reason, None)
            }
        };
        let attempt = match self.state {
            State::Connecting { attempt } => attempt,
            State::Waiting(r) => r.attempt,
            State::Open | State::Closed => self.policy.attempt(),
        };
        Metrics {
            state: self.state(),
            attempt,
            connections: self.connections,
            next_delay,
            next_delay_reason,
            reconnect_at,
            last_cause: self.last_cause,
            since_last_byte: self.last_byte.map(|t| now.saturating_duration_since(t)),
            last_event_id: self.last_event_id().clone(),
            events_received: self.conn_events,
            bytes_received: self.conn_bytes,
            total_events: self.total_events,
            total_bytes: self.total_bytes,
            probes_sent: self.probes_sent,
            probes_answered: self.probes_answered,
            probes_failed: self.probes_failed,
        }
    }

    // ---- inputs ----

    /// The response head of the connection in flight arrived at `now`.
    ///
    /// The policy classifies it: an event stream opens
    /// ([`SessionEvent::Open`]; feed the body next); a redirect issues
    /// [`Action::Disconnect`] then [`Action::Connect`] to the new location;
    /// a retryable status (5xx, 429, ... honouring `Retry-After`) issues
    /// `Disconnect` and waits; 204 and refused responses close the session.
    /// Ignored unless a connection is being made.
    pub fn handle_response(&mut self, now: Instant, status: StatusCode, headers: &HeaderMap) {
        let now = self.tick(now);
        if !matches!(self.state, State::Connecting { .. }) {
            return;
        }
        let verdict = self.policy.on_response(now, status, headers);
        self.response(now, status, verdict);
    }

    /// [`handle_response`](Self::handle_response), with the wall-clock time
    /// the response arrived, to resolve a `Retry-After` HTTP date when the
    /// response has no `Date` header (the session never reads a clock).
    pub fn handle_response_with_wall_clock(
        &mut self,
        now: Instant,
        wall_clock: SystemTime,
        status: StatusCode,
        headers: &HeaderMap,
    ) {
        let now = self.tick(now);
        if !matches!(self.state, State::Connecting { .. }) {
            return;
        }
        let verdict = self
            .policy
            .on_response_with_wall_clock(now, wall_clock, status, headers);
        self.response(now, status, verdict);
    }

    /// Body bytes of the open stream arrived at `now`: decodes them (events
    /// come out of [`poll_event`](Self::poll_event)) and counts as activity
    /// for the idle watchdog (any byte does, comments and partial lines
    /// included). `retry:` fields go to the reconnection policy. Ignored
    /// unless the stream is open.
    pub fn handle_body(&mut self, now: Instant, bytes: Bytes) {
        if self.body_arrived(now, bytes.len()) {
            // Zero-copy: events that lie within this chunk are slices of it.
            self.chunks.push(bytes);
            self.drain();
        }
    }

    /// A buffer of `len` bytes to read the open stream's body into, for a
    /// driver that reads the body itself (from a socket or any reader):
    /// in the decoder's own memory, so that a large event that spans reads
    /// is not copied again (see
    /// [`ChunkDecoder::read_buf`](resse_codec::ChunkDecoder::read_buf)).
    /// Then call [`handle_body_read`](Self::handle_body_read) with the
    /// count read; a read that failed needs nothing more (what it was handed
    /// is dropped before anything is decoded).
    pub fn body_buf(&mut self, len: usize) -> &mut [u8] {
        self.chunks.read_buf(len)
    }

    /// `n` body bytes were read into [`body_buf`](Self::body_buf) at `now`:
    /// what [`handle_body`](Self::handle_body) does with a chunk. `0` adds
    /// nothing (the end of the body is [`handle_eof`](Self::handle_eof)).
    pub fn handle_body_read(&mut self, now: Instant, n: usize) {
        if self.body_arrived(now, n) {
            self.chunks.filled(n);
            self.drain();
        } else {
            self.chunks.filled(0);
        }
    }

    /// Counts `n` body bytes that arrived at `now` (the idle watchdog, the
    /// counters); whether they are to be decoded: not unless the stream is
    /// open.
    fn body_arrived(&mut self, now: Instant, n: usize) -> bool {
        let now = self.tick(now);
        if !matches!(self.state, State::Open) || n == 0 {
            return false;
        }
        let n = n as u64;
        self.conn_bytes = self.conn_bytes.saturating_add(n);
        self.total_bytes = self.total_bytes.saturating_add(n);
        self.last_byte = Some(now);
        if let Some(idle) = &mut self.idle {
            idle.on_bytes_received(now);
        }
        true
    }

    /// The body of the open stream ended at `now` (or the connection closed
    /// before the response head: then it is [`Cause::ConnectFailed`]).
    ///
    /// Complete lines still buffered are decoded; an event not ended by a
    /// blank line is discarded (its id is not committed) and makes the cause
    /// [`Cause::EndOfBodyMidEvent`], else [`Cause::EndOfBodyClean`]. The
    /// policy then schedules the reconnection ([`SessionEvent::Reconnecting`])
    /// or stops. Ignored when no connection is in flight.
    pub fn handle_eof(&mut self, now: Instant) {
        let now = self.tick(now);
        match self.state {
            State::Connecting { .. } => self.ended(now, Cause::ConnectFailed),
            State::Open => {
                self.chunks.end();
                self.drain();
                if self.is_closed() {
                    return;
                }
                let cause = if self.chunks.incomplete_at_eof() {
                    Cause::EndOfBodyMidEvent
                } else {
                    Cause::EndOfBodyClean
                };
                self.ended(now, cause);
            }
            State::Waiting(_) | State::Closed => {}
        }
    }

    /// The connection in flight failed at `now` for `cause`: typically
    /// [`Cause::ConnectFailed`] (no response: DNS, connect, TLS, request
    /// write) or [`Cause::Io`] (a read error while streaming, or a body that
    /// ended before its HTTP framing says: see [`Cause`]). A block cut
    /// off by the error is discarded. The policy then schedules the
    /// reconnection or stops. Ignored when no connection is in flight.
    pub fn handle_error(&mut self, now: Instant, cause: Cause) {
        let now = self.tick(now);
        if self.is_connected() {
            self.ended(now, cause);
        }
    }

    /// The timer armed at [`poll_timeout`](Self::poll_timeout) fired (or
    /// any other wake-up): at the reconnection deadline, issues the
    /// [`Action::Connect`]; past the idle deadline, issues
    /// [`Action::Disconnect`] and treats the connection as ended by
    /// [`Cause::IdleTimeout`] ([`Cause::ConnectFailed`] if no response head
    /// came). With the liveness probe, while the stream is open: when a
    /// probe is due, issues [`Action::Probe`]; past an unanswered probe's
    /// deadline, issues [`Action::Disconnect`] and treats the stream as
    /// ended by [`Cause::ProbeTimeout`]. Before a deadline it does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.tick(now);
        match self.state {
            State::Waiting(r) => {
                if self.policy.handle_timeout(now) {
                    self.connect(now, r.attempt);
                }
            }
            State::Connecting { .. } | State::Open => {
                let dead = self
                    .idle
                    .as_mut()
                    .is_some_and(|idle| idle.handle_timeout(now) == Liveness::Dead);
                if dead {
                    let cause = if matches!(self.state, State::Open) {
                        Cause::IdleTimeout
                    } else {
                        Cause::ConnectFailed
                    };
                    self.actions.push_back(Action::Disconnect);
                    self.ended(now, cause);
                    return;
                }
                if matches!(self.state, State::Open) {
                    self.probe_timeout(now);
                }
            }
            State::Closed => {}
        }
    }

    /// The side request of the probe with this `nonce`
    /// ([`Action::Probe`]) failed at `now`: no response, or a status other
    /// than 2xx. It is counted ([`Metrics::probes_failed`]) but ends nothing
    /// by itself: only a missing answer at the probe's deadline does (the
    /// answer may still come, e.g. when a proxy failed the response after
    /// the server had sent it). A stale nonce is ignored.
    pub fn handle_probe_error(&mut self, now: Instant, nonce: &str) {
        self.tick(now);
        let current = self
            .prober
            .as_ref()
            .and_then(Prober::outstanding_nonce)
            .is_some_and(|n| n == nonce);
        if current {
            self.probes_failed = self.probes_failed.saturating_add(1);
        }
    }

    /// Closes the session for good: [`SessionEvent::Closed`] with
    /// [`CloseReason::Requested`] and [`Action::Stop`] (drop the connection,
    /// if any). Nothing happens if it is already closed.
    pub fn close(&mut self) {
        if !self.is_closed() {
            self.finish(CloseReason::Requested);
        }
    }

    /// Reconnects at once, whatever the state (a closed session reopens):
    /// drops the connection in flight ([`Action::Disconnect`]), starts the
    /// backoff over, and issues [`Action::Connect`] (attempt 0). The last
    /// event id and the server's `retry:` are kept.
    pub fn restart_now(&mut self, now: Instant) {
        let now = self.tick(now);
        if self.is_connected() {
            self.actions.push_back(Action::Disconnect);
        }
        self.policy.reset();
        self.redirect = None;
        self.connect(now, 0);
    }

    // ---- outputs ----

    /// The next thing the adapter must do, if any. Drain it after every
    /// input (see the drive loop on [`ClientSession`]).
    #[must_use = "an action must be performed"]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next event or state change, if any, in the order they happened.
    #[must_use = "events are reported once"]
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout): the earliest of
    /// the reconnection deadline (while waiting), the idle deadline (while
    /// connecting or streaming, if the watchdog is enabled) and, while a
    /// stream is open with the liveness probe, when the next probe is due or
    /// the outstanding one's deadline. `None` when
    /// closed, or connected without a watchdog. A deadline an input sets is
    /// always later than that input's `now`.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        // Only one of the two timers is armed at a time: the reconnection
        // deadline while waiting, the idle deadline while connected.
        let reconnect = match self.state {
            State::Waiting(_) => self.policy.poll_timeout(),
            _ => None,
        };
        let idle = self.idle.as_ref().and_then(IdleWatchdog::poll_timeout);
        let probe = match self.state {
            State::Open => self.prober.as_ref().and_then(Prober::poll_timeout),
            _ => None,
        };
        [reconnect, idle, probe].into_iter().flatten().min()
    }

    // ---- internals ----

    /// The probe's timers, while the stream is open.
    fn probe_timeout(&mut self, now: Instant) {
        let Some(prober) = &mut self.prober else {
            return;
        };
        if prober.expired(now) {
            self.actions.push_back(Action::Disconnect);
            self.ended(now, Cause::ProbeTimeout);
            return;
        }
        if let Some(probe) = prober.due(now) {
            self.probes_sent = self.probes_sent.saturating_add(1);
            self.actions.push_back(Action::Probe(probe));
        }
    }

    /// Time never goes backwards.
    fn tick(&mut self, now: Instant) -> Instant {
        if now > self.now {
            self.now = now;
        }
        self.now
    }

    /// Issues a connection attempt.
    fn connect(&mut self, now: Instant, attempt: u32) {
        self.current = self
            .redirect
            .take()
            .unwrap_or_else(|| self.template.clone());
        self.chunks.reset();
        self.idle = self.idle_config.map(|c| IdleWatchdog::new(now, c));
        if let Some(prober) = &mut self.prober {
            prober.stop();
        }
        self.connections = self.connections.saturating_add(1);
        self.conn_events = 0;
        self.conn_bytes = 0;
        self.state = State::Connecting { attempt };
        self.events.push_back(SessionEvent::Connecting { attempt });
        let request = self
            .current
            .to_request(self.chunks.decoder().last_event_id());
        self.actions.push_back(Action::Connect(request));
    }

    fn response(&mut self, now: Instant, status: StatusCode, verdict: Verdict) {
        let State::Connecting { attempt } = self.state else {
            return;
        };
        match verdict {
            Verdict::Stream => {
                self.state = State::Open;
                if let Some(idle) = &mut self.idle {
                    idle.on_bytes_received(now);
                }
                if let Some(prober) = &mut self.prober {
                    prober.open(now);
                }
                self.events.push_back(SessionEvent::Open);
            }
            Verdict::Follow(location) => {
                let Some(next) = self.current.redirect(status, &location) else {
                    let reason = StopReason::InvalidLocation(status);
                    self.finish(CloseReason::Policy(reason));
                    return;
                };
                self.events.push_back(SessionEvent::Redirected {
                    status,
                    url: next.url.as_str().to_owned(),
                });
                self.redirect = Some(next);
                self.actions.push_back(Action::Disconnect);
                self.connect(now, attempt);
            }
            Verdict::ReconnectAt(r) => {
                self.actions.push_back(Action::Disconnect);
                self.last_cause = Some(r.cause);
                self.wait(r);
            }
            Verdict::Stop(reason) => self.finish(CloseReason::Policy(reason)),
            // A verdict this version does not know: the safe reading is a
            // failed attempt.
            _ => {
                self.actions.push_back(Action::Disconnect);
                self.ended(now, Cause::Status(status));
            }
        }
    }

    /// Handles every frame the decoder has for now.
    fn drain(&mut self) {
        while let Some(result) = self.chunks.next_frame() {
            self.frame(result);
        }
    }

    /// Handles one decoder result.
    fn frame(&mut self, result: Result<Frame, DecodeError>) {
        let now = self.now;
        let probe = match (&result, &mut self.prober) {
            (Ok(Frame::Event(event)), Some(prober)) => match prober.on_event(now, event) {
                Answer::NotProbe => None,
                Answer::Probe { answered } => Some((answered, prober.deliver())),
            },
            _ => None,
        };
        if let Some((answered, deliver)) = probe {
            if answered {
                self.probes_answered = self.probes_answered.saturating_add(1);
                // The whole path delivered: the stream works.
                self.policy.on_progress();
            }
            if !deliver {
                return;
            }
        }
        match result {
            Ok(Frame::Event(event))
                if self
                    .stop_on_event
                    .as_deref()
                    .is_some_and(|t| t == event.event_type()) =>
            {
                self.finish(CloseReason::ServerStop {
                    event_type: Text::from(event.event_type()),
                    reason: Text::from(event.data()),
                });
            }
            Ok(Frame::Event(event)) => {
                if self.conn_events == 0 {
                    // The stream works: when it ends, the outage is over.
                    self.policy.on_progress();
                }
                self.conn_events = self.conn_events.saturating_add(1);
                self.total_events = self.total_events.saturating_add(1);
                self.events.push_back(SessionEvent::Event(event));
            }
            Ok(Frame::Retry(d)) => self.policy.on_retry(d),
            Ok(Frame::Comment(text)) => self.events.push_back(SessionEvent::Comment(text)),
            Ok(_) => {}
            // `Overflow::Stop`: the driver is done, and so is the session.
            Err(e) if self.chunks.is_done() => self.finish(CloseReason::Decode(e)),
            Err(e) => self.events.push_back(SessionEvent::DecodeError(e)),
        }
    }

    /// The connection in flight ended at `now` because of `cause`.
    fn ended(&mut self, now: Instant, cause: Cause) {
        self.chunks.reset();
        self.idle = None;
        if let Some(prober) = &mut self.prober {
            prober.stop();
        }
        self.last_cause = Some(cause);
        match self.policy.on_error(now, cause) {
            Decision::ReconnectAt(r) => self.wait(r),
            Decision::Stop(reason) => self.finish(CloseReason::Policy(reason)),
            // A decision this version does not know: stopping is safe.
            _ => self.finish(CloseReason::Policy(StopReason::EndOfStream)),
        }
    }

    fn wait(&mut self, r: Reconnect) {
        self.idle = None;
        if let Some(prober) = &mut self.prober {
            prober.stop();
        }
        self.state = State::Waiting(r);
        self.events.push_back(SessionEvent::Reconnecting {
            cause: r.cause,
            attempt: r.attempt,
            delay: r.delay,
            reason: r.reason,
        });
    }

    fn finish(&mut self, reason: CloseReason) {
        self.chunks.reset();
        self.idle = None;
        if let Some(prober) = &mut self.prober {
            prober.stop();
        }
        self.redirect = None;
        self.state = State::Closed;
        self.events.push_back(SessionEvent::Closed { reason });
        self.actions.push_back(Action::Stop);
    }
}
