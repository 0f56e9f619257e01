//! [`ReconnectPolicy`] and its inputs and outputs.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use http::header::LOCATION;
use http::{HeaderMap, StatusCode};

use crate::rng::SplitMix64;
use crate::verdict::{content_type_lossy, is_event_stream};
use crate::{ConfigError, Jitter, ReconnectConfig, RetryAfter, StatusAction};

/// The largest exponent the exponential backoff step grows by (jitter modes
/// other than [`Jitter::Decorrelated`]): `multiplier^n` uses
/// `n = min(attempt - 1, MAX_EXPONENT)`. Far beyond any useful growth (and
/// the cap stops growth long before), it keeps the arithmetic bounded.
pub const MAX_EXPONENT: u32 = 64;

/// Why a connection ended or could not be made: the input of
/// [`ReconnectPolicy::on_error`].
///
/// Each cause is distinct so that logs and metrics can tell them apart; all
/// of them lead to a reconnection with backoff (as the WHATWG spec's
/// "reestablish the connection" does), except as noted.
///
/// Every adapter classifies the end of a body the same way: the body ended
/// where its HTTP framing allows it to end (the last chunk of a chunked
/// body, the whole `Content-Length`, or the end of a close-delimited body)
/// is an end of the body, [`EndOfBodyClean`](Self::EndOfBodyClean) or
/// [`EndOfBodyMidEvent`](Self::EndOfBodyMidEvent) as the decoder finds it;
/// a body that ends before its framing says (a chunk cut short, no last
/// chunk, fewer bytes than the `Content-Length`) is [`Io`](Self::Io): the
/// connection was cut, which never counts as the server ending the stream
/// (so [`ReconnectConfig::stop_on_clean_end`] does not stop on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cause {
    /// The body ended at an event boundary (after a blank line, nothing
    /// pending). The server closed the stream on purpose, or a proxy did.
    /// Stops instead when [`ReconnectConfig::stop_on_clean_end`] is set.
    EndOfBodyClean,
    /// The body ended in the middle of an event (the decoder discarded an
    /// unterminated block): the connection was cut.
    EndOfBodyMidEvent,
    /// A read or transport error while streaming (connection reset, TLS
    /// error, broken chunked encoding, a body cut before its framing ends).
    Io,
    /// The idle watchdog declared the connection dead: no byte for the idle
    /// timeout (half-open TCP, a NAT that forgot the flow, a stuck proxy).
    IdleTimeout,
    /// The end-to-end liveness probe went unanswered: the session's side
    /// request (a ping) got no answer event on the stream within the probe
    /// timeout, although bytes (keep-alive comments) may still be flowing.
    /// The server looks alive but its event path is wedged.
    ProbeTimeout,
    /// No response: DNS, TCP connect, TLS handshake or request write failed,
    /// or the connection closed before a response head arrived.
    ConnectFailed,
    /// The response had this status. [`ReconnectPolicy::on_response`]
    /// produces it for statuses whose action is [`StatusAction::Retry`]; when
    /// passed to [`ReconnectPolicy::on_error`], the status's
    /// [`StatusAction::Stop`] or [`StatusAction::Fail`] stops, anything else
    /// retries (without `Retry-After`, which only `on_response` sees).
    Status(StatusCode),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EndOfBodyClean => f.write_str("stream ended at an event boundary"),
            Self::EndOfBodyMidEvent => f.write_str("stream ended in the middle of an event"),
            Self::Io => f.write_str("connection error while streaming"),
            Self::IdleTimeout => f.write_str("no data within the idle timeout"),
            Self::ProbeTimeout => {
                f.write_str("the liveness probe got no answer on the stream within its timeout")
            }
            Self::ConnectFailed => f.write_str("could not connect"),
            Self::Status(s) => write!(f, "server answered {s}"),
        }
    }
}

/// What set the lower bound of a reconnection delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DelayReason {
    /// Backoff from the configured initial delay.
    Backoff,
    /// Backoff from the server's `retry:` value.
    ServerRetry,
    /// The response's `Retry-After` asked for more than the backoff would
    /// have (more than the base with [`Jitter::Decorrelated`], more than the
    /// exponential step otherwise).
    RetryAfter,
}

/// A scheduled reconnection: when, after how long, which attempt, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Reconnect {
    /// Connect again at this instant (`now + delay`); also what
    /// [`ReconnectPolicy::poll_timeout`] returns until then.
    pub at: Instant,
    /// The delay chosen.
    pub delay: Duration,
    /// Which consecutive attempt this will be: 1 for the first reconnection
    /// of an outage.
    pub attempt: u32,
    /// What ended the previous connection or attempt.
    pub cause: Cause,
    /// What set the delay's lower bound.
    pub reason: DelayReason,
}

/// Why the client should stop for good. [`is_error`](Self::is_error) tells a
/// requested stop from a failure. Messages (`Display`) are meant for users.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopReason {
    /// The status's action is [`StatusAction::Stop`] (by default 204 No
    /// Content, the spec's way for a server to say "stop reconnecting"). Not
    /// an error.
    ServerStop(StatusCode),
    /// The status's action is [`StatusAction::Fail`] (by default any 4xx but
    /// 408 and 429, and statuses outside 1xx–5xx).
    Rejected(StatusCode),
    /// A streaming status, but the content type is not `text/event-stream`
    /// (the value received, lossily decoded, or `None` when absent).
    ContentType(Option<String>),
    /// A redirect without a `Location` header, or with an empty one.
    MissingLocation(StatusCode),
    /// A redirect whose `Location` is not valid UTF-8, or (found by the
    /// session, which resolves it) not a valid `http://` or `https://` URL:
    /// fetch treats a redirect to any other scheme as a network error.
    InvalidLocation(StatusCode),
    /// More than [`ReconnectConfig::max_redirects`] redirects in a row.
    TooManyRedirects {
        /// The configured limit.
        limit: u32,
    },
    /// [`ReconnectConfig::max_attempts`] consecutive attempts failed.
    AttemptLimit {
        /// Attempts made in this outage.
        attempts: u32,
    },
    /// The next reconnection would start later than
    /// [`ReconnectConfig::max_elapsed`] after the outage began.
    ElapsedLimit {
        /// Time since the outage began.
        elapsed: Duration,
        /// Attempts made in this outage.
        attempts: u32,
    },
    /// The stream ended cleanly and [`ReconnectConfig::stop_on_clean_end`]
    /// is set. Not an error.
    EndOfStream,
}

impl StopReason {
    /// Whether this is a failure (`false` for [`ServerStop`](Self::ServerStop)
    /// and [`EndOfStream`](Self::EndOfStream), which are requested stops).
    pub fn is_error(&self) -> bool {
        !matches!(self, Self::ServerStop(_) | Self::EndOfStream)
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ServerStop(s) => write!(f, "server asked the client to stop ({s})"),
            Self::Rejected(s) => write!(f, "server answered {s}"),
            Self::ContentType(None) => {
                f.write_str("response has no content type, expected text/event-stream")
            }
            Self::ContentType(Some(ct)) => {
                write!(
                    f,
                    "response content type is {ct:?}, expected text/event-stream"
                )
            }
            Self::MissingLocation(s) => write!(f, "redirect ({s}) without a location"),
            Self::InvalidLocation(s) => {
                write!(
                    f,
                    "redirect ({s}) to a location that is not a valid http or https url"
                )
            }
            Self::TooManyRedirects { limit } => write!(f, "more than {limit} redirects in a row"),
            Self::AttemptLimit { attempts } => {
                write!(f, "gave up after {attempts} reconnection attempts")
            }
            Self::ElapsedLimit { elapsed, attempts } => write!(
                f,
                "gave up reconnecting after {elapsed:?} ({attempts} attempts)"
            ),
            Self::EndOfStream => f.write_str("stream ended"),
        }
    }
}

/// A stop can be reported as an error (see [`StopReason::is_error`]).
impl std::error::Error for StopReason {}

/// What to do with a response head: the output of
/// [`ReconnectPolicy::on_response`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[must_use = "a verdict says whether to stream, follow, wait or stop"]
#[non_exhaustive]
pub enum Verdict {
    /// The stream is open: read the body. (The policy has already noted the
    /// connection as if by [`ReconnectPolicy::on_connected`].)
    Stream,
    /// Request this location now (the raw `Location` value, trimmed: resolve
    /// it against the request URL). Bounded by
    /// [`ReconnectConfig::max_redirects`].
    Follow(String),
    /// Not a stream; reconnect at the given instant.
    ReconnectAt(Reconnect),
    /// Stop for good.
    Stop(StopReason),
}

/// What to do after a connection ended or failed: the output of
/// [`ReconnectPolicy::on_error`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[must_use = "a decision says whether to reconnect or stop"]
#[non_exhaustive]
pub enum Decision {
    /// Reconnect at `Reconnect::at`.
    ReconnectAt(Reconnect),
    /// Stop for good.
    Stop(StopReason),
}

impl From<Decision> for Verdict {
    fn from(d: Decision) -> Self {
        match d {
            Decision::ReconnectAt(r) => Self::ReconnectAt(r),
            Decision::Stop(s) => Self::Stop(s),
        }
    }
}

/// The reconnection policy of one client: response verdicts, backoff with
/// seeded jitter, `retry:`, `Retry-After`, limits.
///
/// A sans-IO state machine: it reads no clock (every time-dependent input
/// takes `now`), draws randomness only from the seed in its
/// [`ReconnectConfig`], and returns decisions as values.
///
/// # Drive loop
///
/// * **Inputs**: [`on_response(now, status, headers)`](Self::on_response)
///   when a response head arrives; [`on_retry(d)`](Self::on_retry) for each
///   `retry:` field the decoder yields; [`on_progress()`](Self::on_progress)
///   when the open stream dispatches an event;
///   [`on_error(now, cause)`](Self::on_error)
///   when the stream ends or an attempt fails. [`on_connected(now)`](Self::on_connected)
///   is only for drivers that classify responses themselves.
/// * **Outputs**: the [`Verdict`] and [`Decision`] those inputs return.
/// * **Timer**: [`poll_timeout()`](Self::poll_timeout) is the instant of the
///   pending reconnection (set by a `ReconnectAt`, cleared by the next input);
///   [`handle_timeout(now)`](Self::handle_timeout) returns `true` once when it
///   is due: connect then. Early calls return `false`.
///
/// # The delay formula
///
/// For attempt `k` (1 for the first reconnection of an outage):
///
/// ```text
/// base       = clamp(server retry: ?? initial_delay, floor, ceiling)
/// cap        = max(max_delay, base)
/// ra         = min(Retry-After, ceiling)                 (0 when absent)
/// Decorrelated(g) (the default, g = 2.5):
///   prev     = the delay used for attempt k-1 of this outage (base when k = 1)
///   [lo, hi) = [base, min(cap, g × max(prev, base)))
/// None, Spread(s), Full, Equal:
///   step     = min(base × multiplier^min(k-1, MAX_EXPONENT), cap)
///   step     = max(step, ra)
///   [lo, hi) = None: [step, step]        Spread(s): [step, step·(1+s))
///              Full: [0, step)            Equal:     [step/2, step)
/// not_before = max(floor, ra)
/// if lo < not_before { hi += not_before - lo; lo = not_before }   (shift, keep width)
/// delay      = lo + uniform(0, hi - lo)                   (seeded generator; lo when hi = lo)
/// ```
///
/// With the defaults (`Decorrelated(2.5)`, 2 s, cap 30 s) and no `retry:`,
/// the first delay of an outage is in `[2 s, 5 s)`, the next in
/// `[2 s, 2.5 × that)`, and so on up to 30 s. `prev` is the delay actually
/// scheduled, after any `Retry-After` shift; it is forgotten, like `k`, when
/// the outage ends. Why decorrelated jitter is the default (a herd of clients
/// dropped together stays spread out, instead of coming back in waves) is
/// explained on [`Jitter`].
///
/// All arithmetic saturates (an integer factor multiplies exactly; others go
/// through `f64`). Consequences:
///
/// * `floor ≤ delay` and `ra ≤ delay`, whatever the jitter: `retry: 0`
///   cannot cause a tight loop, and `Retry-After` is always honoured.
/// * With the default `Decorrelated`, `base ≤ delay`; with `Spread` and
///   `None`, `step ≤ delay`: never sooner than the server's `retry:` (or the
///   initial delay, or the backoff step) asked.
/// * `Decorrelated`: `delay ≤ cap` unless a `Retry-After` above the base
///   shifted the range, and then `delay ≤ ra + cap - base`. With the
///   defaults: a delay is
///   in `[2 s, 30 s]` (in `[base, max(30 s, base)]` once the server sent
///   `retry:`) unless a `Retry-After` asks for more.
/// * Other modes: `delay ≤ step × (1 + w)`, with `w` = `s` for `Spread(s)`,
///   0 for `None`, 1 for `Full`, ½ for `Equal`; and `step ≤ max(cap, ra)`.
///
/// # Outages, limits and health
///
/// An outage starts at the first failure after a stream that worked (or
/// ever). Within it, `k` counts up; [`max_attempts`](ReconnectConfig::max_attempts)
/// stops when `k` would exceed it, and
/// [`max_elapsed`](ReconnectConfig::max_elapsed) stops rather than schedule
/// a reconnection later than the outage start plus the limit. The outage
/// ends (and `k`, `prev`, the step and the elapsed clock start over) when a
/// stream worked: it dispatched at least one event
/// ([`on_progress`](Self::on_progress)), or it stayed open for
/// [`min_healthy`](ReconnectConfig::min_healthy). A server that accepts and
/// closes without any event keeps the client backing off (flap
/// protection). The server's `retry:` value persists across outages, as in
/// the spec.
///
/// # Reconnecting at the server's `retry:`
///
/// A server that sends `retry: R` and ends each response after some events
/// (serverless platforms, proxies with request timeouts, servers that
/// rotate connections) gets every reconnection after a stream that
/// delivered an event at the first delay of a new outage: with the default
/// `Decorrelated(2.5)`, uniform in `[R, 2.5 R)` (mean 1.75 R; `R` raised to
/// the floor and lowered to the ceiling first, the upper end capped at
/// `max(max_delay, R)`), never longer, however many such streams came
/// before. A browser's `EventSource` waits exactly `R`; resse does not,
/// because a server that drops all its clients at once (a restart, a
/// deploy) would get all of them back in the same instant: drawing over
/// `[R, 2.5 R)` spreads that herd over 1.5 R, and never comes sooner than
/// the server asked. `Jitter::Spread(s)` draws from `[R, R (1 + s))`
/// instead, and `Jitter::None` waits exactly `R` (for a client that is
/// alone).
///
/// ```
/// use std::time::{Duration, Instant};
/// use http::{HeaderMap, StatusCode};
/// use resse_reconnect::{Cause, Decision, Jitter, ReconnectConfig, ReconnectPolicy, Verdict};
///
/// let t0 = Instant::now();
/// let s = Duration::from_secs;
/// // The default: decorrelated jitter from 2 s, never sooner than the base.
/// let mut policy = ReconnectPolicy::new(ReconnectConfig::default().seed(7))?;
/// let Decision::ReconnectAt(r) = policy.on_error(t0, Cause::ConnectFailed) else { panic!() };
/// assert!(r.delay >= s(2) && r.delay < s(5)); // [base, 2.5 × base)
/// let prev = r.delay;
/// let Decision::ReconnectAt(r) = policy.on_error(r.at, Cause::ConnectFailed) else { panic!() };
/// assert!(r.delay >= s(2) && r.delay < prev.mul_f64(2.5).min(s(30)));
///
/// // Exponential steps without jitter, from 1 s.
/// let config = ReconnectConfig::default().jitter(Jitter::None).initial_delay(s(1));
/// let mut policy = ReconnectPolicy::new(config)?;
///
/// // The first connection fails: wait 1 s, then 2 s, ...
/// let Decision::ReconnectAt(r) = policy.on_error(t0, Cause::ConnectFailed) else { panic!() };
/// assert_eq!((r.at, r.attempt), (t0 + s(1), 1));
/// assert!(policy.handle_timeout(t0 + s(1)));
/// let mut headers = HeaderMap::new();
/// headers.insert("content-type", "text/event-stream".parse()?);
/// assert_eq!(policy.on_response(t0 + s(1), StatusCode::OK, &headers), Verdict::Stream);
/// // ... the server says `retry: 5000`, then closes after 2 s without any
/// // event: the stream did not work (no event, open less than 10 s), so the
/// // backoff goes on from the new base: 5 s × 2.
/// policy.on_retry(s(5));
/// let Decision::ReconnectAt(r) = policy.on_error(t0 + s(3), Cause::EndOfBodyClean) else { panic!() };
/// assert_eq!((r.delay, r.attempt), (s(10), 2));
///
/// // The next stream delivers an event before it ends: it worked, so the
/// // outage is over and the wait is the first of a new one: `retry:` alone.
/// assert!(policy.handle_timeout(r.at));
/// assert_eq!(policy.on_response(r.at, StatusCode::OK, &headers), Verdict::Stream);
/// policy.on_progress();
/// let Decision::ReconnectAt(r) = policy.on_error(r.at + s(1), Cause::EndOfBodyClean) else { panic!() };
/// assert_eq!((r.delay, r.attempt), (s(5), 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ReconnectPolicy {
    config: ReconnectConfig,
    rng: SplitMix64,
    /// Attempts scheduled in the current outage.
    attempt: u32,
    /// First failure of the current outage.
    outage_start: Option<Instant>,
    /// When the current stream opened.
    connected_since: Option<Instant>,
    /// Whether the current stream dispatched an event.
    progress: bool,
    /// The server's latest `retry:`.
    server_retry: Option<Duration>,
    /// The delay scheduled for the previous attempt of the current outage
    /// (the `prev` of [`Jitter::Decorrelated`]).
    prev_delay: Option<Duration>,
    /// The pending reconnection.
    pending: Option<Instant>,
    /// Redirects followed in a row.
    redirects: u32,
}

impl ReconnectPolicy {
    /// A policy for a client that has not connected yet. Fails only if the
    /// configuration is invalid (see [`ReconnectConfig::validate`]).
    pub fn new(config: ReconnectConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            rng: SplitMix64::new(config.seed),
            config,
            attempt: 0,
            outage_start: None,
            connected_since: None,
            progress: false,
            server_retry: None,
            prev_delay: None,
            pending: None,
            redirects: 0,
        })
    }

    // ---- getters ----

    /// The configuration.
    pub fn config(&self) -> &ReconnectConfig {
        &self.config
    }

    /// Reconnection attempts scheduled in the current outage: 0 before any
    /// failure and after a healthy period (reset lazily, at the next input
    /// after the stream ends).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The server's reconnection time (its latest `retry:` field), as
    /// received (before clamping).
    pub fn server_retry(&self) -> Option<Duration> {
        self.server_retry
    }

    /// Redirects followed in a row so far.
    pub fn redirects(&self) -> u32 {
        self.redirects
    }

    /// Whether a stream is open (since [`Verdict::Stream`] or
    /// [`on_connected`](Self::on_connected), until the next input).
    pub fn is_connected(&self) -> bool {
        self.connected_since.is_some()
    }

    /// The delay the next failure of the current outage would get, without
    /// changing anything: same seed state, no `Retry-After`, no healthy
    /// reset in between. For tests, logs and "reconnecting in..." displays.
    ///
    /// While a stream that has dispatched an event is open, that is the first
    /// delay of a new outage (the stream worked).
    pub fn next_delay(&self) -> Duration {
        let mut rng = self.rng.clone();
        let (attempt, prev) = if self.progress {
            (1, None)
        } else {
            (self.attempt.saturating_add(1), self.prev_delay)
        };
        self.delay(&mut rng, attempt, prev, None).0
    }

    // ---- inputs ----

    /// Classifies a response head received at `now` and returns what to do.
    ///
    /// The status's [`StatusAction`] (from the [`VerdictTable`](crate::VerdictTable))
    /// decides:
    ///
    /// * `Stream`: [`Verdict::Stream`] if the content type's essence is
    ///   `text/event-stream` (parameters and any case allowed), else
    ///   [`Verdict::Stop`] with [`StopReason::ContentType`].
    /// * `Follow`: [`Verdict::Follow`] with the `Location` value; a missing,
    ///   empty or non-UTF-8 one, or one redirect too many, stops.
    /// * `Retry`: a failed attempt ([`Cause::Status`]), reconnecting no sooner
    ///   than `Retry-After` asks (seconds, or an HTTP date measured from the
    ///   response's `Date` header; an HTTP date with no `Date` header is
    ///   ignored here, see [`on_response_with_wall_clock`](Self::on_response_with_wall_clock)).
    ///   The attempt and elapsed limits apply.
    /// * `Stop` / `Fail`: [`Verdict::Stop`] with [`StopReason::ServerStop`] /
    ///   [`StopReason::Rejected`].
    ///
    /// Clears the pending reconnection. Any verdict but `Follow` resets the
    /// redirect count.
    pub fn on_response(
        &mut self,
        now: Instant,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> Verdict {
        self.response(now, None, status, headers)
    }

    /// [`on_response`](Self::on_response), with the wall-clock time at which
    /// the response arrived, used to resolve a `Retry-After` HTTP date when
    /// the response has no valid `Date` header (which servers may omit on
    /// 5xx). The policy never reads the clock itself.
    pub fn on_response_with_wall_clock(
        &mut self,
        now: Instant,
        wall_clock: SystemTime,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> Verdict {
        self.response(now, Some(wall_clock), status, headers)
    }

    /// Notes that a stream opened at `now`: the healthy period starts.
    ///
    /// [`on_response`](Self::on_response) does this itself when it returns
    /// [`Verdict::Stream`]; call it only if you classify responses yourself.
    pub fn on_connected(&mut self, now: Instant) {
        self.end_connection(now);
        self.pending = None;
        self.redirects = 0;
        self.connected_since = Some(now);
    }

    /// Notes that the open stream dispatched an event: the stream worked, so
    /// when it ends the outage is over, as after
    /// [`min_healthy`](ReconnectConfig::min_healthy), and the next delay is
    /// the first of a new outage (from the server's `retry:`, if any). Call
    /// it for each event, or only for the first of each connection; comments
    /// and `retry:` fields alone are not progress. Ignored when no stream is
    /// open.
    pub fn on_progress(&mut self) {
        if self.connected_since.is_some() {
            self.progress = true;
        }
    }

    /// Notes the server's reconnection time (a `retry:` field): it replaces
    /// the base delay from the next failure on, clamped into
    /// `[floor, ceiling]`. Persists until the next `retry:`.
    pub fn on_retry(&mut self, retry: Duration) {
        self.server_retry = Some(retry);
    }

    /// Notes that the connection ended, or an attempt failed, at `now`, and
    /// decides whether and when to reconnect.
    ///
    /// If the stream that ended dispatched an event
    /// ([`on_progress`](Self::on_progress)) or was open for at least
    /// [`min_healthy`](ReconnectConfig::min_healthy), the outage counters
    /// start over first. Every [`Cause`] reconnects with backoff, except
    /// [`Cause::EndOfBodyClean`] with
    /// [`stop_on_clean_end`](ReconnectConfig::stop_on_clean_end) and
    /// [`Cause::Status`] of a status whose action is `Stop` or `Fail`; the
    /// attempt and elapsed limits turn a reconnection into a stop.
    pub fn on_error(&mut self, now: Instant, cause: Cause) -> Decision {
        self.pending = None;
        self.redirects = 0;
        self.end_connection(now);
        match cause {
            Cause::EndOfBodyClean if self.config.stop_on_clean_end => {
                Decision::Stop(StopReason::EndOfStream)
            }
            Cause::Status(status) => match self.config.verdicts.action(status) {
                StatusAction::Stop => Decision::Stop(StopReason::ServerStop(status)),
                StatusAction::Fail => Decision::Stop(StopReason::Rejected(status)),
                _ => self.fail(now, cause, None),
            },
            _ => self.fail(now, cause, None),
        }
    }

    /// Starts over: no outage, no pending reconnection, no open stream, no
    /// redirects. Keeps the server's `retry:` and the generator state. For a
    /// user-requested reconnection, or reuse after a stop.
    pub fn reset(&mut self) {
        self.attempt = 0;
        self.prev_delay = None;
        self.outage_start = None;
        self.connected_since = None;
        self.progress = false;
        self.pending = None;
        self.redirects = 0;
    }

    // ---- timer ----

    /// The instant of the pending reconnection, if one is scheduled.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending
    }

    /// Returns `true` once when the pending reconnection is due
    /// (`now >= at`), and clears it: connect now. Otherwise `false`, changing
    /// nothing.
    #[must_use = "true means: connect now"]
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.pending {
            Some(at) if now >= at => {
                self.pending = None;
                true
            }
            _ => false,
        }
    }

    // ---- internals ----

    fn response(
        &mut self,
        now: Instant,
        wall_clock: Option<SystemTime>,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> Verdict {
        self.pending = None;
        self.end_connection(now);
        let action = self.config.verdicts.action(status);
        if action != StatusAction::Follow {
            self.redirects = 0;
        }
        match action {
            StatusAction::Stream if is_event_stream(headers) => {
                self.on_connected(now);
                Verdict::Stream
            }
            StatusAction::Stream => {
                Verdict::Stop(StopReason::ContentType(content_type_lossy(headers)))
            }
            StatusAction::Follow => self.follow(status, headers),
            StatusAction::Retry => {
                let retry_after = RetryAfter::from_headers(headers)
                    .and_then(|ra| ra.resolve(headers, wall_clock));
                self.fail(now, Cause::Status(status), retry_after).into()
            }
            StatusAction::Stop => Verdict::Stop(StopReason::ServerStop(status)),
            StatusAction::Fail => Verdict::Stop(StopReason::Rejected(status)),
        }
    }

    fn follow(&mut self, status: StatusCode, headers: &HeaderMap) -> Verdict {
        let location = match headers
            .get(LOCATION)
            .map(|v| std::str::from_utf8(v.as_bytes()))
        {
            None => return Verdict::Stop(StopReason::MissingLocation(status)),
            Some(Err(_)) => return Verdict::Stop(StopReason::InvalidLocation(status)),
            Some(Ok(l)) => l.trim_matches([' ', '\t']),
        };
        if location.is_empty() {
            return Verdict::Stop(StopReason::MissingLocation(status));
        }
        if self.redirects >= self.config.max_redirects {
            self.redirects = 0;
            return Verdict::Stop(StopReason::TooManyRedirects {
                limit: self.config.max_redirects,
            });
        }
        self.redirects += 1;
        Verdict::Follow(location.to_owned())
    }

    /// Ends the open stream, if any, at `now`; one that worked (an event, or
    /// open for `min_healthy`) ends the outage.
    fn end_connection(&mut self, now: Instant) {
        let progress = std::mem::take(&mut self.progress);
        if let Some(since) = self.connected_since.take() {
            if progress || now.saturating_duration_since(since) >= self.config.min_healthy {
                self.attempt = 0;
                self.prev_delay = None;
                self.outage_start = None;
            }
        }
    }

    /// A failed attempt: schedule the next one, or give up.
    fn fail(&mut self, now: Instant, cause: Cause, retry_after: Option<Duration>) -> Decision {
        let start = *self.outage_start.get_or_insert(now);
        let attempt = self.attempt.saturating_add(1);
        if self.config.max_attempts.is_some_and(|max| attempt > max) {
            return Decision::Stop(StopReason::AttemptLimit {
                attempts: self.attempt,
            });
        }
        let mut rng = self.rng.clone();
        let (delay, reason) = self.delay(&mut rng, attempt, self.prev_delay, retry_after);
        self.rng = rng;
        let at = saturating_add(now, delay);
        if let Some(limit) = self.config.max_elapsed {
            if at.saturating_duration_since(start) > limit {
                return Decision::Stop(StopReason::ElapsedLimit {
                    elapsed: now.saturating_duration_since(start),
                    attempts: self.attempt,
                });
            }
        }
        self.attempt = attempt;
        self.prev_delay = Some(delay);
        self.pending = Some(at);
        Decision::ReconnectAt(Reconnect {
            at,
            delay,
            attempt,
            cause,
            reason,
        })
    }

    /// The delay formula (see the type docs).
    fn delay(
        &self,
        rng: &mut SplitMix64,
        attempt: u32,
        prev: Option<Duration>,
        retry_after: Option<Duration>,
    ) -> (Duration, DelayReason) {
        let c = &self.config;
        let (base, mut reason) = match self.server_retry {
            Some(r) => (r, DelayReason::ServerRetry),
            None => (c.initial_delay, DelayReason::Backoff),
        };
        let base = base.clamp(c.floor, c.ceiling);
        let cap = c.max_delay.max(base);
        let ra = retry_after.map_or(Duration::ZERO, |ra| ra.min(c.ceiling));
        // What the backoff alone asks for at least: the base (decorrelated),
        // or the exponential step.
        let backoff = match c.jitter {
            Jitter::Decorrelated(_) => base,
            _ => {
                let n = attempt.saturating_sub(1).min(MAX_EXPONENT);
                let factor = c.multiplier.powi(i32::try_from(n).unwrap_or(i32::MAX));
                mul(base, factor).min(cap)
            }
        };
        if ra > backoff {
            reason = DelayReason::RetryAfter;
        }
        let step = backoff.max(ra);
        let (mut lo, mut hi) = match c.jitter {
            Jitter::None => (step, step),
            Jitter::Spread(s) => (step, step.saturating_add(mul(step, s))),
            Jitter::Full => (Duration::ZERO, step),
            Jitter::Equal => (step / 2, step),
            Jitter::Decorrelated(g) => {
                let prev = prev.map_or(base, |p| p.max(base));
                // Defensive: `g ≥ 1`, but a range going through `f64` must
                // never end below its start.
                (base, mul(prev, g).min(cap).max(base))
            }
        };
        let not_before = c.floor.max(ra);
        if lo < not_before {
            hi = hi.saturating_add(not_before - lo);
            lo = not_before;
        }
        if c.jitter == Jitter::None {
            return (lo, reason);
        }
        let width = u64::try_from((hi - lo).as_nanos()).unwrap_or(u64::MAX);
        let offset = Duration::from_nanos(rng.below(width));
        (lo.saturating_add(offset), reason)
    }
}

/// `d × f` for a finite `f ≥ 0` (or `+∞`, giving `Duration::MAX`), saturating:
/// exact for integer factors.
fn mul(d: Duration, f: f64) -> Duration {
    if f.fract() == 0.0 && f <= f64::from(u32::MAX) {
        // Exact: `f` is an integer in u32 range (checked above).
        d.saturating_mul(f as u32)
    } else {
        Duration::try_from_secs_f64(d.as_secs_f64() * f).unwrap_or(Duration::MAX)
    }
}

/// `at + d` without panicking (an unrepresentable instant is approached by
/// halving the step).
fn saturating_add(at: Instant, mut d: Duration) -> Instant {
    loop {
        if let Some(t) = at.checked_add(d) {
            return t;
        }
        d /= 2;
    }
}

#[cfg(test)]
mod tests;
