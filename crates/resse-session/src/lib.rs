//! Sans-IO [Server-Sent Events] sessions: the glue between the codec, the
//! reconnection policy and the heartbeat timers, for both ends of the wire.
//!
//! * [`ClientSession`]: a reconnecting client (what `EventSource` does, and
//!   more). It owns a [`Decoder`](resse_codec::Decoder), a
//!   [`ReconnectPolicy`](resse_reconnect::ReconnectPolicy), an
//!   [`IdleWatchdog`](resse_heartbeat::IdleWatchdog) and the last event id,
//!   tells an adapter which request to open and when, and hands out events
//!   and connection state changes.
//! * [`ReplayLog`]: the server side of `Last-Event-ID`, a bounded log of
//!   encoded events that answers "the events after this id" exactly, in
//!   order, once, or says it cannot.
//! * What the HTTP adapters share: the [`Proxy`] setting and which proxy
//!   a request goes through ([`ProxyConfig`], with curl's [`NoProxy`]
//!   rules; the adapter reads the environment and passes the values in),
//!   and [`ConnectError`], a failed connection in words (the adapter
//!   picks its [`ConnectErrorKind`] from its HTTP library's errors).
//!
//! # Sans-IO
//!
//! This crate does no I/O, reads no clock, never sleeps, spawns nothing and
//! draws no randomness of its own: time is an [`Instant`](std::time::Instant)
//! argument, bytes come in as [`Bytes`](bytes::Bytes), the reconnection
//! jitter comes from a seed in the configuration, and decisions go out as
//! values. Adapters (tokio, blocking `std::io`, your own HTTP stack) move the
//! bytes, sleep until the instant the session asks for, and give each
//! session its own seed from the OS random source
//! ([`SessionConfig::seed`]), so that clients dropped together do not come
//! back together. The drive loop:
//!
//! 1. Create the session: [`ClientSession::new(now, config)`](ClientSession::new).
//! 2. Drain [`poll_action()`](ClientSession::poll_action) and perform each
//!    [`Action`]: [`Connect`](Action::Connect) opens the [`Request`];
//!    [`Disconnect`](Action::Disconnect) drops the connection;
//!    [`Probe`](Action::Probe) sends the liveness probe's side request
//!    (only with [`SessionConfig::probe`]; see [`probe`]);
//!    [`Stop`](Action::Stop) ends the loop.
//! 3. Drain [`poll_event()`](ClientSession::poll_event): decoded events and
//!    state changes ([`SessionEvent`]).
//! 4. Wait for the next I/O or until [`poll_timeout()`](ClientSession::poll_timeout),
//!    whichever comes first, and feed what happened:
//!    [`handle_response`](ClientSession::handle_response),
//!    [`handle_body`](ClientSession::handle_body),
//!    [`handle_eof`](ClientSession::handle_eof),
//!    [`handle_error`](ClientSession::handle_error) or
//!    [`handle_timeout`](ClientSession::handle_timeout). Go to step 2.
//!
//! Here the "network" is a script and time is fake (one start instant plus
//! durations): the first connection is cut in the middle of event 2, the
//! session waits, reconnects with `Last-Event-ID: 1`, and gets event 2 whole;
//! then the server answers 204, which means "stop".
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use http::{HeaderMap, HeaderValue, StatusCode, header::CONTENT_TYPE};
//! use resse_session::{Action, ClientSession, SessionConfig, SessionEvent};
//!
//! let t0 = Instant::now(); // read once; the session never reads the clock
//! let mut now = t0;
//! let config = SessionConfig::new("http://127.0.0.1:8080/events").seed(1);
//! let mut session = ClientSession::new(now, config)?;
//!
//! let mut stream_head = HeaderMap::new();
//! stream_head.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
//! // What the scripted server sends on each connection, before closing it.
//! let mut script = vec![
//!     vec![&b"retry: 500\nid: 1\ndata: first\n\n"[..], b"id: 2\ndata: cut o"],
//!     vec![&b"id: 2\ndata: second\n\n"[..]],
//! ]
//! .into_iter();
//!
//! let (mut seen, mut sent_ids, mut delays) = (Vec::new(), Vec::new(), Vec::new());
//! 'drive: loop {
//!     // 2. Actions.
//!     while let Some(action) = session.poll_action() {
//!         match action {
//!             Action::Connect(request) => {
//!                 sent_ids.push(request.headers.get("last-event-id").cloned());
//!                 // A real adapter sends `request` and feeds what comes back as it
//!                 // arrives; the script answers at once.
//!                 match script.next() {
//!                     Some(chunks) => {
//!                         session.handle_response(now, StatusCode::OK, &stream_head);
//!                         for chunk in chunks {
//!                             session.handle_body(now, Bytes::from_static(chunk));
//!                         }
//!                         session.handle_eof(now);
//!                     }
//!                     None => session.handle_response(now, StatusCode::NO_CONTENT, &HeaderMap::new()),
//!                 }
//!             }
//!             Action::Disconnect => {} // drop the connection
//!             Action::Stop => break 'drive,
//!             _ => {}
//!         }
//!     }
//!     // 3. Events.
//!     while let Some(event) = session.poll_event() {
//!         match event {
//!             SessionEvent::Event(e) => seen.push((e.last_event_id().to_owned(), e.data().to_owned())),
//!             SessionEvent::Reconnecting { delay, .. } => delays.push(delay),
//!             _ => {}
//!         }
//!     }
//!     // 4. Sleep until the deadline (fake time: jump to it), then wake the session.
//!     let Some(deadline) = session.poll_timeout() else { break };
//!     now = deadline;
//!     session.handle_timeout(now);
//! }
//!
//! assert_eq!(seen, [("1".to_owned(), "first".to_owned()), ("2".to_owned(), "second".to_owned())]);
//! assert_eq!(sent_ids, [None, Some(HeaderValue::from_static("1")), Some(HeaderValue::from_static("2"))]);
//! // `retry: 500` set the base delay: no reconnection came sooner than that.
//! assert_eq!(delays.len(), 2);
//! assert!(delays.iter().all(|d| *d >= Duration::from_millis(500)));
//! assert!(session.is_closed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Exactly once
//!
//! Together, the two halves deliver every event once and in order across
//! any number of reconnections: the client only commits an id when its block
//! is complete and sends it back as `Last-Event-ID`; the server's
//! [`ReplayLog::events_after`] answers with exactly the events after it. The
//! test suite checks this against a simulated server with random faults
//! (refused connections, 5xx, `Retry-After`, redirects, cuts in the middle
//! of an event, stalls past the idle timeout) over 10,000 seeds.
//!
//! # Limits and untrusted input
//!
//! Everything a server controls is bounded: event and line sizes by the
//! [`DecoderConfig`](resse_codec::DecoderConfig), delays by the policy's
//! floor and ceiling, redirects by its limit, silence by the idle timeout.
//! A replay log is bounded by event count and bytes ([`ReplayConfig`]). No
//! input panics; the `session_ops` fuzz target checks the invariants on
//! arbitrary input sequences.
//!
//! # Crate features
//!
//! None.
//!
//! [Server-Sent Events]: https://html.spec.whatwg.org/multipage/server-sent-events.html
#![forbid(unsafe_code)]

mod builder;
mod client;
mod config;
mod connect_error;
mod fanout;
mod metrics;
pub mod probe;
mod proxy;
mod replay;
mod request;
mod url;

pub use client::{Action, ClientSession, CloseReason, ConnectionState, SessionEvent};
pub use config::{ConfigError, SessionConfig};
pub use connect_error::{
    ConnectError, ConnectErrorKind, PROXY_CREDENTIALS_HINT, error_chain, target_authority,
};
pub use fanout::{
    EndReason, Fanout, FanoutConfig, FanoutStats, LagReport, PublishError, ReplayOutcome,
    SendError, Subscribe, Subscribed, SubscriberKey, SupersededEvent, Transmit, X_ACCEL_BUFFERING,
    encode_keep_alive, last_event_id, response_headers,
};
pub use metrics::Metrics;
pub use probe::{
    Probe, ProbeAnswer, ProbeConfig, ProbeError, ProbeQuery, answer_probe, answer_probe_to,
};
pub use proxy::{InvalidProxy, NoProxy, Proxy, ProxyConfig};
pub use replay::{Events, PushError, Replay, ReplayConfig, ReplayEntry, ReplayLog};
pub use request::{LAST_EVENT_ID, Request};
/// The keep-alive settings of [`FanoutConfig::keep_alive`], re-exported.
pub use resse_heartbeat::{KeepAliveConfig, KeepAliveMessage};
pub use url::InvalidUrl;

/// Re-exported from [`resse_reconnect`]: the causes, delay reasons and stop
/// reasons that appear in [`SessionEvent`]s, and the policy configuration.
pub use resse_reconnect::{Cause, DelayReason, ReconnectConfig, StopReason};

/// What [`client_builder_session_setters!`] names, for the adapters that
/// use it. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::ProbeConfig;
    pub use bytes::Bytes;
    pub use http::{HeaderMap, HeaderName, HeaderValue, Method};
    pub use resse_codec::{DecoderConfig, Text};
    pub use resse_reconnect::ReconnectConfig;
}
