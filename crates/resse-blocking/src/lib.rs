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
//! [`HttpConnector`], is a minimal HTTP/1.1 client over
//! [`TcpStream`](std::net::TcpStream) for `http://` URLs. Why not ureq 3
//! (with rustls) as the default: the session's idle timeout has to be a
//! socket read timeout that changes before every read (the time left until
//! [`poll_timeout()`](resse_session::ClientSession::poll_timeout)), and
//! [`CloseHandle::close`] has to shut the socket down from another thread.
//! ureq 3's timeouts (`config::Timeouts`) are fixed per agent or request,
//! and its `recv_body` bounds the whole body rather than the silence
//! between two reads, so an endless stream either times out for good or
//! never; its response body gives no access to the socket. Expressing
//! both would take a custom ureq `Transport`, which is more code than this
//! HTTP/1.1 client, and it would pull a TLS stack into every build. For
//! `https://`, implement [`Connect`] over your TLS client (its body must
//! support a read timeout: [`Stream`]).
//!
//! # Idle detection
//!
//! A silent connection is found through the [`Stream`]'s read timeout: a
//! read that fails with `WouldBlock`/`TimedOut` wakes the session. A
//! [`Connect`] whose body cannot time out cannot detect idleness.
//!
//! ```no_run
//! use std::time::Duration;
//! use resse_blocking::ClientBuilder;
//!
//! let client = ClientBuilder::new("http://127.0.0.1:8080/events")
//!     .idle_timeout(Some(Duration::from_secs(30)))
//!     .build()?;
//! for event in client {
//!     let event = event?;
//!     println!("{} {}", event.last_event_id(), event.data());
//! }
//! # Ok::<(), resse_blocking::Error>(())
//! ```
//!
//! # Crate features
//!
//! None. No async runtime, no executor.
//!
//! [Server-Sent Events]: https://html.spec.whatwg.org/multipage/server-sent-events.html
#![forbid(unsafe_code)]

mod client;
mod connect;
mod error;
mod reader;
mod writer;

pub use client::{Client, ClientBuilder, CloseHandle};
pub use connect::{Connect, HttpBody, HttpConnector, Response, Stream, Timeouts};
pub use error::Error;
pub use reader::EventReader;
pub use writer::EventWriter;
