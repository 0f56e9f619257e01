//! Blocking [Server-Sent Events] over `std::io`, for programs without an
//! async runtime: a thin layer over the sans-IO `resse` crates.
//!
//! * [`EventReader`]: an [`Iterator`] of decoded frames over any
//!   [`Read`](std::io::Read), within the codec's limits.
//! * [`EventWriter`]: writes events, comments and keep-alives (scheduled by
//!   `resse-heartbeat`'s `KeepAlive`) to any [`Write`](std::io::Write),
//!   for a threaded server.
//! * [`Client`]: a reconnecting client driven by
//!   [`resse_session::ClientSession`]: `Last-Event-ID`, jittered backoff,
//!   `retry:`, 204 "stop", an idle timeout, a [`CloseHandle`] for other
//!   threads.
//!
//! Every SSE rule lives in the lower crates; this one only moves bytes,
//! reads the clock and sleeps.
//!
//! # HTTP
//!
//! The client sends its requests through a [`Connect`]. The default,
//! [`HttpConnector`], is [ureq] 3 with rustls (ring provider, webpki
//! roots; your own roots or a ureq [`TlsConfig`](ureq::tls::TlsConfig)
//! through [`HttpConnector::with_root_certificates`] and
//! [`HttpConnector::with_tls_config`]): `http://` and `https://`, HTTP/1.1.
//! It honours the proxy environment variables (`HTTPS_PROXY`,
//! `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`) as curl does, or goes through
//! an explicit [`Proxy`] (see [its proxies](HttpConnector#proxies)), and
//! reports a connection it cannot open as a [`ConnectError`] that names
//! the cause and the address.
//!
//! The session's idle timeout has to be a socket read timeout that changes
//! before every read (the time left until
//! [`poll_timeout()`](resse_session::ClientSession::poll_timeout)), and
//! [`CloseHandle::close`] has to shut the socket down from another thread.
//! ureq's own timeouts cannot say that: they are fixed per agent or
//! request, and its `recv_body` bounds the whole body rather than the
//! silence between two reads. So the connector gives ureq a transport of
//! its own through ureq's `unversioned::transport` API: a TCP transport
//! whose reads stop at the deadline of the current body read (or at the
//! response deadline while the head is awaited) and whose socket is
//! registered with the [`CloseHandle`], chained with ureq's
//! `RustlsConnector` for TLS. That API does not follow semver, so this
//! crate pins ureq's minor version (`~3.5`); ureq is re-exported as
//! [`resse_blocking::ureq`](ureq) so you can name its TLS types.
//!
//! To use another HTTP client, implement [`Connect`] (its body must
//! support a read timeout: [`Body`]).
//!
//! # Idle detection
//!
//! A silent connection is found through the [`Body`]'s read timeout: a
//! read that fails with `WouldBlock`/`TimedOut` wakes the session. A
//! [`Connect`] whose body cannot time out cannot detect idleness.
//!
//! ```no_run
//! use std::time::Duration;
//! use resse_blocking::ClientBuilder;
//!
//! let mut client = ClientBuilder::new("http://127.0.0.1:8080/events")
//!     .idle_timeout(Some(Duration::from_secs(30)))
//!     .build()?;
//! while let Some(event) = client.next_event()? {
//!     println!("{} {}", event.last_event_id(), event.data());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # One dependency
//!
//! Every type this crate's API names from the lower `resse` crates is
//! re-exported here, so `resse-blocking` is the only `resse` dependency a
//! program needs: the codec's [`Event`], [`Frame`], [`Text`],
//! [`DecoderConfig`], [`Overflow`], [`Decoder`], [`Encoder`],
//! [`DecodeError`] and [`EncodeError`]; the session and what it reports
//! ([`SessionConfig`], [`ClientSession`], [`SessionEvent`],
//! [`CloseReason`], [`ConnectionState`], [`Metrics`], [`Request`],
//! [`ConfigError`], [`InvalidUrl`]); the reconnection policy's
//! configuration and reasons ([`ReconnectConfig`], [`Jitter`],
//! [`VerdictTable`], [`StatusAction`], [`StatusClass`], [`Cause`],
//! [`DelayReason`], [`StopReason`]); the
//! keep-alive configuration ([`KeepAliveConfig`], [`KeepAliveMessage`]);
//! and the [`http`] and [`bytes`] crates this API is written with.
//!
//! ```no_run
//! use std::time::Duration;
//! use resse_blocking::http::{HeaderValue, header::AUTHORIZATION};
//! use resse_blocking::{ClientBuilder, ReconnectConfig, SessionEvent};
//!
//! let mut client = ClientBuilder::new("https://example.com/events")
//!     .header(AUTHORIZATION, HeaderValue::from_static("Bearer token"))
//!     .reconnect(ReconnectConfig::default().max_delay(Duration::from_secs(10)))
//!     .build()?;
//! for item in client.by_ref() {
//!     match item {
//!         SessionEvent::Event(event) => println!("{}", event.data()),
//!         SessionEvent::Reconnecting { cause, delay, .. } => eprintln!("{cause}; retry in {delay:?}"),
//!         SessionEvent::Closed { reason } => eprintln!("closed: {reason}"),
//!         _ => {}
//!     }
//! }
//! # Ok::<(), resse_blocking::Error>(())
//! ```
//!
//! # Crate features
//!
//! None. No async runtime, no executor: ureq is blocking, and its TLS is
//! rustls with the ring provider (no aws-lc-rs, so no cmake or C
//! toolchain beyond `cc`).
//!
//! [Server-Sent Events]: https://html.spec.whatwg.org/multipage/server-sent-events.html
//! [ureq]: https://docs.rs/ureq/3
#![forbid(unsafe_code)]

mod client;
mod connect;
mod connect_error;
mod error;
mod proxy;
mod reader;
pub mod server;
mod transport;
mod writer;

pub use client::{Client, ClientBuilder, CloseHandle};
pub use connect::{Body, Connect, HttpBody, HttpConnector, Response, Timeouts};
/// Why the [`HttpConnector`] could not open a connection. It returns it
/// inside an [`io::Error`](std::io::Error) (of kind `ConnectionRefused`, `NotFound`, `InvalidData`, `TimedOut` or
/// `Other`), which the [`Client`] keeps as its
/// [`last_error`](Client::last_error): the `io::Error` shows this message,
/// and [`get_ref`](std::io::Error::get_ref) gives this value back. A
/// failure once connected (a server that closes before answering, a
/// malformed response) is not one of these: it keeps ureq's message.
///
/// ```no_run
/// use resse_blocking::{ClientBuilder, ConnectError};
///
/// let mut client = ClientBuilder::new("http://127.0.0.1:9/events").build()?;
/// let _ = client.next_event();
/// if let Some(e) = client.last_error() {
///     eprintln!("{e}"); // connection refused by 127.0.0.1:9 (...)
///     let connect = e.get_ref().and_then(|e| e.downcast_ref::<ConnectError>());
///     println!("{:?}", connect.map(|c| c.kind()));
/// }
/// # Ok::<(), resse_blocking::Error>(())
/// ```
pub use connect_error::ConnectError;
pub use connect_error::ConnectErrorKind;
pub use error::Error;
pub use proxy::InvalidProxy;
/// The proxy setting of this crate's clients: set it with
/// [`ClientBuilder::proxy`] or [`HttpConnector::proxy`].
/// Without one, the client reads the proxy from the environment, as curl
/// does: see [`HttpConnector`](HttpConnector#proxies).
///
/// ```
/// use resse_blocking::Proxy;
///
/// let proxy = Proxy::new("http://user:secret@127.0.0.1:3128")?
///     .no_proxy("localhost, .internal.example, 10.0.0.0/8");
/// assert_eq!(proxy.authority(), "127.0.0.1:3128");
/// # Ok::<(), resse_blocking::InvalidProxy>(())
/// ```
pub use proxy::Proxy;
pub use reader::EventReader;
pub use writer::EventWriter;

/// The ureq this crate's [`HttpConnector`] runs on, to name its TLS types
/// ([`ureq::tls::TlsConfig`], [`ureq::tls::RootCerts`]).
pub use ureq;

/// The `http` crate this API is written with (methods, header maps, status
/// codes), so that you need no `http` dependency of your own and cannot end
/// up with a second version of it.
pub use http;

/// The `bytes` crate of request bodies and frames' payloads.
pub use bytes;

// What this crate's API names from the sans-IO crates, so that users need no
// dependency on them.
pub use resse_codec::{
    DecodeError, Decoder, DecoderConfig, EncodeError, Encoder, Event, Frame, Overflow, Text,
};
pub use resse_heartbeat::{KeepAliveConfig, KeepAliveMessage};
pub use resse_reconnect::{
    Cause, DelayReason, Jitter, ReconnectConfig, ReconnectPolicy, StatusAction, StatusClass,
    StopReason, VerdictTable,
};
pub use resse_session::{
    ClientSession, CloseReason, ConfigError, ConnectionState, InvalidUrl, Metrics, Probe,
    ProbeAnswer, ProbeConfig, ProbeError, Request, SessionConfig, SessionEvent,
};

/// The README's examples, compiled and run as doctests (not part of the API).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
