//! The end-to-end liveness probe: [`ProbeConfig`] and [`Probe`] for the
//! client, [`ProbeQuery`], [`ProbeAnswer`] and [`answer_probe`] for the
//! server.
//!
//! # Why
//!
//! The idle watchdog ([`SessionConfig::idle_timeout`](crate::SessionConfig::idle_timeout))
//! and a server's keep-alive comments detect a dead TCP path. They cannot
//! detect a server whose keep-alive timer still runs while its event path
//! is wedged: a stuck publisher, a node that lost its subscription to a
//! shared log, a proxy that answers keep-alives from a cache. The probe
//! checks the whole path: every [`interval`](ProbeConfig::new) of an open
//! stream the client sends a small side request (a ping) carrying a fresh
//! nonce, and expects the server to answer it **on the event stream**, with
//! an event of type `pong` (configurable) whose data carries the nonce,
//! within the probe's `timeout`. No answer: the stream is dropped with
//! [`Cause::ProbeTimeout`](resse_reconnect::Cause::ProbeTimeout) and
//! reopened with `Last-Event-ID`, as after any other failure.
//!
//! # When to use it
//!
//! * The idle watchdog is enough when the server's keep-alives come from
//!   the same place as its events (one process, one loop): if the events
//!   stop, so do the keep-alives.
//! * Use the probe when they can part ways: keep-alives written by a
//!   per-connection timer while events come through a publisher, a broker,
//!   a shared log or another node; an intermediary that generates its own
//!   keep-alives.
//!
//! # What it costs
//!
//! One small request per `interval` per client (plus one small event back
//! on its stream), and on the server one lookup and one targeted event.
//! With 10 000 clients and a 30 s interval that is about 330 requests per
//! second. The adapters open a connection per probe (they keep no pool).
//!
//! # With the heartbeat
//!
//! The probe does not replace the idle watchdog: a probe answer counts as
//! bytes received, and keep-alives keep the watchdog quiet, but only the
//! probe notices a stream that carries keep-alives and nothing else.
//! Detection takes at most `interval + timeout` after the path wedges
//! (the probe sent at most `interval` later, its deadline `timeout` after
//! that). Keep the idle timeout for dead TCP paths (it is usually shorter
//! to react to a silent connection), and choose `interval + timeout` for
//! how long a wedged stream may go unnoticed.
//!
//! # The wire protocol
//!
//! * **Request**: [`ProbeConfig::method`] (default `POST`: a cache must not
//!   answer it) to the probe URL, which by default is the stream URL's path
//!   followed by `/probe` (`/events` → `/events/probe`, `/events/` →
//!   `/events/probe`) with the stream URL's query kept, so that the
//!   identity it carries (`?client=ID`) reaches the probe endpoint; then
//!   `nonce=N` is appended to the query. `N` is 16 lowercase hex digits
//!   from the session's seeded generator. The headers are the stream
//!   request's (authorization included; `Accept`, `Last-Event-ID` and
//!   body headers left out); no body.
//! * **Answer**: an event, without an id (it must not move the client's
//!   `Last-Event-ID`), of type `pong` whose data carries the nonce
//!   ([`answer_probe`] sends `event: pong` and `data: N`), sent to that one
//!   subscriber through the fan-out. The side request's own response does
//!   not matter (the server answers `204` when the answer was queued); a
//!   failed side request counts only at the deadline, as a missing answer.

use std::fmt;
use std::time::{Duration, Instant};

use http::Method;
use http::header::{ACCEPT, CONTENT_ENCODING, CONTENT_LANGUAGE, CONTENT_LENGTH, CONTENT_TYPE};
use resse_codec::{Event, Text};

use crate::fanout::{Fanout, SendError, SubscriberKey};
use crate::request::{LAST_EVENT_ID, Request, Template};

/// The client side of the liveness probe: set it with
/// [`SessionConfig::probe`](crate::SessionConfig::probe). See the
/// [module docs](self) for what it is for and what it costs.
///
/// ```
/// use std::time::Duration;
/// use resse_session::{ProbeConfig, SessionConfig};
///
/// let config = SessionConfig::new("https://api.example/events?client=alice")
///     .probe(Some(ProbeConfig::new(Duration::from_secs(30), Duration::from_secs(5))));
/// let probe = config.get_probe().unwrap();
/// assert_eq!(probe.get_event_type(), "pong");
/// assert_eq!(probe.get_url(), None); // derived: /events/probe?client=alice&nonce=…
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeConfig {
    interval: Duration,
    timeout: Duration,
    url: Option<String>,
    method: Method,
    event_type: Text,
    deliver_answer: bool,
}

impl ProbeConfig {
    /// The default answer event type, `pong`.
    pub const DEFAULT_EVENT_TYPE: &'static str = "pong";
    /// The query parameter that carries the nonce, `nonce`.
    pub const NONCE_PARAM: &'static str = "nonce";

    /// A probe every `interval` of an open stream (the first one `interval`
    /// after the stream opens, the next ones `interval` after the previous
    /// one was sent, and never two at once), each answered within
    /// `timeout`. Both must be above zero
    /// ([`ClientSession::new`](crate::ClientSession::new) refuses zero with
    /// [`ConfigError::Probe`](crate::ConfigError::Probe)).
    pub fn new(interval: Duration, timeout: Duration) -> Self {
        Self {
            interval,
            timeout,
            url: None,
            method: Method::POST,
            event_type: Text::from(Self::DEFAULT_EVENT_TYPE),
            deliver_answer: false,
        }
    }

    /// The probe URL, absolute or relative to the stream URL (resolved as a
    /// browser resolves a link); `nonce=N` is appended to its query.
    /// Default: the stream URL's path followed by `/probe`, its query kept.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// The probe's request method (default `POST`, which no cache answers).
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// The event type of the answer (default `pong`). Events of this type
    /// are the probe's, whatever nonce they carry: a stale or foreign nonce
    /// is ignored.
    pub fn event_type(mut self, event_type: impl Into<Text>) -> Self {
        self.event_type = event_type.into();
        self
    }

    /// Whether answer events are also passed on to the user as
    /// [`SessionEvent::Event`](crate::SessionEvent::Event) (default
    /// `false`: the session consumes them).
    pub fn deliver_answer(mut self, yes: bool) -> Self {
        self.deliver_answer = yes;
        self
    }

    /// The interval between probes.
    pub fn get_interval(&self) -> Duration {
        self.interval
    }
    /// How long an answer may take.
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }
    /// The probe URL as configured (`None`: derived from the stream URL).
    pub fn get_url(&self) -> Option<&str> {
        self.url.as_deref()
    }
    /// The request method.
    pub fn get_method(&self) -> &Method {
        &self.method
    }
    /// The answer's event type.
    pub fn get_event_type(&self) -> &str {
        &self.event_type
    }
    /// Whether answers are passed on to the user.
    pub fn get_deliver_answer(&self) -> bool {
        self.deliver_answer
    }
}

/// A side request the session asks for: [`Action::Probe`](crate::Action::Probe).
///
/// Send [`request`](Self::request) with the client you already have, do
/// not wait for it in the stream's read loop, and report a failure (no
/// response, or a status other than 2xx) with
/// [`ClientSession::handle_probe_error`](crate::ClientSession::handle_probe_error).
/// The answer comes on the event stream; the response body can be dropped.
/// Waiting longer than [`deadline`](Self::deadline) is useless: the session
/// has decided by then.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Probe {
    /// The request: method, URL (with `nonce=N`), the stream request's
    /// headers, no body.
    pub request: Request,
    /// The nonce the answer must carry.
    pub nonce: Text,
    /// When the session gives up waiting for the answer.
    pub deadline: Instant,
}

/// The probe's state inside a session.
#[derive(Debug)]
pub(crate) struct Prober {
    config: ProbeConfig,
    /// The probe request without its nonce.
    template: Template,
    rng: u64,
    /// When the next probe is due (a stream is open, none outstanding).
    next_at: Option<Instant>,
    outstanding: Option<Outstanding>,
}

#[derive(Debug)]
struct Outstanding {
    nonce: Text,
    sent: Instant,
    deadline: Instant,
}

/// What an event of the stream is to the probe.
pub(crate) enum Answer {
    /// Not the probe's event type.
    NotProbe,
    /// The probe's type: the answer to the outstanding probe, or a stale or
    /// foreign one (ignored).
    Probe { answered: bool },
}

impl Prober {
    /// Checks `config` against the stream's request `stream`.
    pub(crate) fn new(config: ProbeConfig, stream: &Template, seed: u64) -> Result<Self, String> {
        if config.interval.is_zero() || config.timeout.is_zero() {
            return Err(format!(
                "the probe interval and timeout must be above zero (got {:?} and {:?})",
                config.interval, config.timeout
            ));
        }
        let url = match &config.url {
            Some(url) => crate::url::resolve(&stream.url, url).ok_or_else(|| {
                format!(
                    "the probe URL {url:?} is not an http:// or https:// URL, absolute or relative to the stream URL"
                )
            })?,
            None => {
                let mut url = stream.url.clone();
                let path = url.path();
                let path = if path.ends_with('/') {
                    format!("{path}probe")
                } else {
                    format!("{path}/probe")
                };
                url.set_path(&path);
                url
            }
        };
        let mut headers = stream.headers.clone();
        for name in [
            ACCEPT,
            CONTENT_ENCODING,
            CONTENT_LANGUAGE,
            CONTENT_LENGTH,
            CONTENT_TYPE,
            LAST_EVENT_ID,
        ] {
            headers.remove(name);
        }
        let template = Template {
            method: config.method.clone(),
            url,
            headers,
            body: None,
        };
        Ok(Self {
            config,
            template,
            // Another stream than the jitter's, from the same seed.
            rng: seed ^ 0x7072_6f62_655f_6e6f,
            next_at: None,
            outstanding: None,
        })
    }

    /// A stream opened at `now`: the first probe is due `interval` later.
    pub(crate) fn open(&mut self, now: Instant) {
        self.next_at = Some(now + self.config.interval);
        self.outstanding = None;
    }

    /// The stream ended: no probe until the next one opens.
    pub(crate) fn stop(&mut self) {
        self.next_at = None;
        self.outstanding = None;
    }

    /// The next deadline: the outstanding probe's, or when the next is due.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match &self.outstanding {
            Some(o) => Some(o.deadline),
            None => self.next_at,
        }
    }

    /// Whether the outstanding probe is past its deadline at `now`.
    pub(crate) fn expired(&self, now: Instant) -> bool {
        self.outstanding.as_ref().is_some_and(|o| now >= o.deadline)
    }

    /// The probe due at `now`, if one is.
    pub(crate) fn due(&mut self, now: Instant) -> Option<Probe> {
        if self.outstanding.is_some() || self.next_at.is_none_or(|at| now < at) {
            return None;
        }
        let nonce = Text::from(format!("{:016x}", self.next_u64()));
        let mut url = self.template.url.clone();
        url.query_pairs_mut()
            .append_pair(ProbeConfig::NONCE_PARAM, &nonce);
        let deadline = now + self.config.timeout;
        self.next_at = None;
        self.outstanding = Some(Outstanding {
            nonce: nonce.clone(),
            sent: now,
            deadline,
        });
        let request = Request {
            method: self.template.method.clone(),
            url: url.as_str().to_owned(),
            headers: self.template.headers.clone(),
            body: None,
            last_event_id: Text::new(),
        };
        Some(Probe {
            request,
            nonce,
            deadline,
        })
    }

    /// Looks at an event of the stream received at `now`.
    pub(crate) fn on_event(&mut self, now: Instant, event: &Event) -> Answer {
        if event.event_type() != self.config.event_type.as_str() {
            return Answer::NotProbe;
        }
        let answered = self
            .outstanding
            .as_ref()
            .is_some_and(|o| event.data().contains(o.nonce.as_str()));
        if answered {
            if let Some(o) = self.outstanding.take() {
                self.next_at = Some((o.sent + self.config.interval).max(now));
            }
        }
        Answer::Probe { answered }
    }

    /// Whether answers go to the user too.
    pub(crate) fn deliver(&self) -> bool {
        self.config.deliver_answer
    }

    /// The nonce of the outstanding probe, if any.
    pub(crate) fn outstanding_nonce(&self) -> Option<&str> {
        self.outstanding.as_ref().map(|o| o.nonce.as_str())
    }

    /// SplitMix64.
    fn next_u64(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

// ---- server side ----

/// How a server answers probes: [`answer_probe`].
///
/// ```
/// use resse_session::ProbeAnswer;
///
/// let answer = ProbeAnswer::default();
/// assert_eq!(answer.get_event_type(), "pong");
/// assert_eq!(answer.get_identity_param(), "client");
/// assert_eq!(answer.get_max_nonce_len(), 64);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeAnswer {
    event_type: Text,
    identity_param: String,
    max_nonce_len: usize,
    max_identity_len: usize,
}

impl Default for ProbeAnswer {
    fn default() -> Self {
        Self {
            event_type: Text::from(ProbeConfig::DEFAULT_EVENT_TYPE),
            identity_param: "client".to_owned(),
            max_nonce_len: 64,
            max_identity_len: 128,
        }
    }
}

impl ProbeAnswer {
    /// The answer's event type (default `pong`, the client's default).
    pub fn event_type(mut self, event_type: impl Into<Text>) -> Self {
        self.event_type = event_type.into();
        self
    }
    /// The query parameter that names the client identity (default
    /// `client`: the stream request's `?client=ID`, which the client's
    /// default probe URL keeps).
    pub fn identity_param(mut self, name: impl Into<String>) -> Self {
        self.identity_param = name.into();
        self
    }
    /// The longest nonce accepted, in bytes (default 64).
    pub fn max_nonce_len(mut self, len: usize) -> Self {
        self.max_nonce_len = len;
        self
    }
    /// The longest identity accepted, in bytes (default 128).
    pub fn max_identity_len(mut self, len: usize) -> Self {
        self.max_identity_len = len;
        self
    }
    /// The answer's event type.
    pub fn get_event_type(&self) -> &str {
        &self.event_type
    }
    /// The identity's query parameter.
    pub fn get_identity_param(&self) -> &str {
        &self.identity_param
    }
    /// The longest nonce accepted.
    pub fn get_max_nonce_len(&self) -> usize {
        self.max_nonce_len
    }
    /// The longest identity accepted.
    pub fn get_max_identity_len(&self) -> usize {
        self.max_identity_len
    }

    /// The answer event for `nonce`: this type, the nonce as data, no id.
    pub fn event(&self, nonce: &str) -> Event {
        Event::new(nonce).with_event_type(self.event_type.as_str())
    }

    /// Parses a probe request's query (`nonce=N`, and the identity
    /// parameter). Values are taken as sent, not percent-decoded, as the
    /// stream's identity is.
    ///
    /// # Errors
    /// [`ProbeError::BadNonce`] for a missing, empty, too long nonce, or one
    /// with characters other than ASCII letters, digits, `-` and `_`;
    /// [`ProbeError::BadIdentity`] for an empty or too long identity.
    pub fn parse<'a>(&self, query: Option<&'a str>) -> Result<ProbeQuery<'a>, ProbeError> {
        let mut nonce = None;
        let mut identity = None;
        for pair in query.unwrap_or_default().split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if name == ProbeConfig::NONCE_PARAM && nonce.is_none() {
                nonce = Some(value);
            } else if name == self.identity_param && identity.is_none() {
                identity = Some(value);
            }
        }
        let nonce = nonce.ok_or(ProbeError::BadNonce("missing `nonce=` parameter"))?;
        if nonce.is_empty() {
            return Err(ProbeError::BadNonce("the nonce is empty"));
        }
        if nonce.len() > self.max_nonce_len {
            return Err(ProbeError::BadNonce("the nonce is too long"));
        }
        if !nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ProbeError::BadNonce(
                "the nonce may hold only ASCII letters, digits, `-` and `_`",
            ));
        }
        if let Some(id) = identity {
            if id.is_empty() || id.len() > self.max_identity_len {
                return Err(ProbeError::BadIdentity);
            }
        }
        Ok(ProbeQuery { nonce, identity })
    }
}

/// A parsed probe request: [`ProbeAnswer::parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProbeQuery<'a> {
    /// The nonce to send back.
    pub nonce: &'a str,
    /// The client identity, if the request named one.
    pub identity: Option<&'a str>,
}

/// Why a probe request was not answered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeError {
    /// The nonce is missing or malformed (answer `400`).
    BadNonce(&'static str),
    /// The identity is empty or too long (answer `400`).
    BadIdentity,
    /// The request names no identity and no subscriber (answer `400`).
    NoIdentity,
    /// No live subscriber has that identity or key (answer `404`).
    NoSubscriber,
    /// The subscriber's targeted queue is full (answer `503`).
    Full,
    /// The answer event cannot be encoded (a bad configured event type;
    /// answer `500`).
    Send(SendError),
}

impl ProbeError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            Self::BadNonce(_) | Self::BadIdentity | Self::NoIdentity => StatusCode::BAD_REQUEST,
            Self::NoSubscriber => StatusCode::NOT_FOUND,
            Self::Full => StatusCode::SERVICE_UNAVAILABLE,
            Self::Send(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadNonce(why) => write!(
                f,
                "bad probe request: {why} (expected `nonce=N`, N of 1 to the configured maximum \
                 of ASCII letters, digits, `-` or `_`)"
            ),
            Self::BadIdentity => f.write_str(
                "bad probe request: the client identity is empty or longer than the maximum",
            ),
            Self::NoIdentity => f.write_str(
                "bad probe request: no client identity (the stream's `?client=ID`) to answer to",
            ),
            Self::NoSubscriber => {
                f.write_str("no live event stream with this client identity to answer the probe on")
            }
            Self::Full => f.write_str("the client's stream queue is full; probe not answered"),
            Self::Send(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for ProbeError {}

impl From<SendError> for ProbeError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::NoSubscriber => Self::NoSubscriber,
            SendError::Full => Self::Full,
            e => Self::Send(e),
        }
    }
}

/// Answers a probe request: parses `query` (see [`ProbeAnswer::parse`])
/// and sends the answer event (type `pong`, the nonce as data, no id) to
/// the live subscriber with that identity, through
/// [`Fanout::send_to_identity`], in order with the published events: so the
/// answer arrives only if the stream's event path works. Returns the
/// subscriber it went to. To answer a subscriber known by its key instead
/// (an id the server gave the client at subscribe time, mapped to its
/// [`SubscriberKey`] by the server), use [`answer_probe_to`].
///
/// # Errors
/// [`ProbeError`]; its [`status`](ProbeError::status) is the HTTP answer.
///
/// ```
/// use std::time::Instant;
/// use resse_session::{Fanout, FanoutConfig, ProbeAnswer, Subscribe, answer_probe};
///
/// let mut fanout = Fanout::new(FanoutConfig::default());
/// let now = Instant::now();
/// let alice = fanout.subscribe(now, Subscribe::new().identity(Some("alice"))).key;
/// let answer = ProbeAnswer::default();
/// assert_eq!(answer_probe(&mut fanout, &answer, Some("client=alice&nonce=ab12"))?, alice);
/// assert_eq!(answer_probe(&mut fanout, &answer, Some("client=alice&nonce=a b")).unwrap_err().status(), 400);
/// assert_eq!(answer_probe(&mut fanout, &answer, Some("client=bob&nonce=1")).unwrap_err().status(), 404);
/// # Ok::<(), resse_session::ProbeError>(())
/// ```
pub fn answer_probe(
    fanout: &mut Fanout,
    answer: &ProbeAnswer,
    query: Option<&str>,
) -> Result<SubscriberKey, ProbeError> {
    let probe = answer.parse(query)?;
    let identity = probe.identity.ok_or(ProbeError::NoIdentity)?;
    Ok(fanout.send_to_identity(identity, &answer.event(probe.nonce))?)
}

/// [`answer_probe`] to the subscriber `key` (the server mapped the request
/// to it, e.g. from an id it gave the client when it subscribed); the
/// query's identity, if any, is not used.
///
/// # Errors
/// As [`answer_probe`], without [`ProbeError::NoIdentity`].
pub fn answer_probe_to(
    fanout: &mut Fanout,
    answer: &ProbeAnswer,
    key: SubscriberKey,
    query: Option<&str>,
) -> Result<(), ProbeError> {
    let probe = answer.parse(query)?;
    Ok(fanout.send_to(key, &answer.event(probe.nonce))?)
}
