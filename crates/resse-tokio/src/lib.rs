//! [Server-Sent Events] on tokio, both ends of the wire: thin adapters over
//! the sans-IO `resse` crates, which hold every SSE rule.
//!
//! # Client side
//!
//! * [`codec::SseCodec`]: `tokio_util::codec::{Decoder, Encoder}` for
//!   `FramedRead`/`FramedWrite`, delegating to `resse-codec`.
//! * [`SseStreamExt`]: turns any `Stream<Item = Result<Bytes, E>>` (a
//!   reqwest `bytes_stream()`, a hyper body's data stream, an LLM API
//!   response) into a stream of events. The one-liner:
//!   `body.sse_events()`.
//! * [`client::Client`][c-client] (feature `client`): a reconnecting client — a
//!   `Stream` of events and connection state changes — driven by
//!   [`resse_session::ClientSession`]: `Last-Event-ID`, jittered backoff,
//!   `retry:`, 204 "stop", `Retry-After`, redirects, an idle watchdog.
//!   Requests go through a [`client::Connect`][c-connect]; the default is
//!   [`client::HyperConnector`][c-hyper] (hyper 1, HTTP/1.1 and HTTP/2, TLS by
//!   rustls with feature `rustls`).
//!
//! # Server side (feature `server`)
//!
//! * [`server::SseBody`][s-body]: an `http_body::Body` (hyper, axum) from any
//!   `Stream` of events or pre-encoded bytes, batching ready items, with
//!   keep-alive comments from `resse-heartbeat`.
//! * [`server::headers`][s-headers], [`server::SseBody::into_response`][s-into-response]: the
//!   event-stream response head (`Content-Type: text/event-stream`,
//!   `Cache-Control: no-store`, `X-Accel-Buffering: no`).
//! * [`server::Broadcaster`][s-broadcaster]: publish once (encoded once, bytes shared),
//!   `Last-Event-ID` replay with no gap or duplicate, slow subscribers
//!   disconnected rather than buffered, one connection per client identity
//!   (the older stream gets `event: superseded`), targeted events: the
//!   tokio driver of the sans-IO `resse_session::Fanout`.
//! * `server::serve`, `server::serve_connection`, `server::TimeoutIo`: a
//!   whole server in one call (with TLS, HTTP/2 and HTTP/1.1 by ALPN under
//!   feature `server-tls`), a lean HTTP/1.1 driver, and the write timeout
//!   with a reset that keeps stuck clients from pinning memory.
//!
//! See the [`server`][s-module] module docs for what to configure in hyper and axum
//! so that long-lived streams are not cut by timeouts meant for ordinary
//! requests.
//!
//! # Crate features
//!
//! | feature | default | what |
//! | --- | --- | --- |
//! | `client` | yes | the reconnecting client over hyper-util |
//! | `rustls` | yes | `https://` for the client: rustls with the ring provider and Mozilla's roots (`webpki-roots`) |
//! | `server` | yes | the response body, head helper, broadcaster, `serve_connection` and `serve`; without `client` and `rustls` it pulls in no HTTP client and no rustls/ring (`default-features = false, features = ["server"]`) |
//! | `server-tls` | yes | TLS for `serve` (`ServeConfig::tls`, `server::tls_config`, `server::rustls`): rustls with the ring provider through tokio-rustls, HTTP/2 (hyper's server connection) or HTTP/1.1 (the lean driver) by ALPN; implies `server`, and pulls in no HTTP client (`default-features = false, features = ["server-tls"]`) |
//!
//! The codec and the stream extension are always there.
//!
//! # One dependency
//!
//! Every type this crate's API names from the lower `resse` crates is
//! re-exported, so `resse-tokio` is the only `resse` dependency a client or
//! a server needs:
//!
//! * at the crate root: the codec's [`Event`], [`Frame`], [`Text`],
//!   [`DecoderConfig`], [`Overflow`], [`Decoder`], [`Encoder`],
//!   [`DecodeError`] and [`EncodeError`], and the [`http`] and [`bytes`]
//!   crates this API is written with (`resse_tokio::http::HeaderMap`);
//! * in [`client`][c-module]: the session and its configuration
//!   (`SessionConfig`, `ClientSession`, `SessionEvent`, `CloseReason`,
//!   `ConnectionState`, `Metrics`, `Request`, `ConfigError`, `InvalidUrl`)
//!   and the reconnection policy's (`ReconnectConfig`, `Jitter`,
//!   `VerdictTable`, `StatusAction`, `StatusClass`, `Cause`, `DelayReason`,
//!   `StopReason`);
//! * in [`server`][s-module]: the keep-alive configuration
//!   (`KeepAliveConfig`, `KeepAliveMessage`) and the replay log's
//!   (`ReplayConfig`).
//!
//! ```
//! use resse_tokio::http::{HeaderMap, HeaderValue};
//! use resse_tokio::{DecoderConfig, Event, Overflow};
//!
//! let event = Event::new("hello").with_id("1");
//! let limits = DecoderConfig::default()
//!     .max_event_len(1 << 20)
//!     .on_overflow(Overflow::Stop);
//! let mut headers = HeaderMap::new();
//! headers.insert("last-event-id", HeaderValue::from_static("1"));
//! # let _ = (event, limits);
//! ```
//!
//! # Time
//!
//! Timers are tokio's (`tokio::time`), and the current instant is read
//! with `tokio::time::Instant::now()`, so tests can run under tokio's
//! paused clock.
//!
//! [Server-Sent Events]: https://html.spec.whatwg.org/multipage/server-sent-events.html
#![cfg_attr(
    feature = "client",
    doc = "[c-client]: client::Client\n[c-connect]: client::Connect\n[c-hyper]: client::HyperConnector\n[c-module]: client"
)]
#![cfg_attr(
    not(feature = "client"),
    doc = "[c-client]: #crate-features\n[c-connect]: #crate-features\n[c-hyper]: #crate-features\n[c-module]: #crate-features"
)]
#![cfg_attr(
    feature = "server",
    doc = "[s-body]: server::SseBody\n[s-headers]: server::headers\n[s-into-response]: server::SseBody::into_response\n[s-broadcaster]: server::Broadcaster\n[s-module]: server"
)]
#![cfg_attr(
    not(feature = "server"),
    doc = "[s-body]: #crate-features\n[s-headers]: #crate-features\n[s-into-response]: #crate-features\n[s-broadcaster]: #crate-features\n[s-module]: #crate-features"
)]
#![forbid(unsafe_code)]

#[cfg(feature = "client")]
pub mod client;
pub mod codec;
mod ext;
#[cfg(feature = "server")]
pub mod server;

pub use ext::{SseEvents, SseFrames, SseStreamExt, StreamError};

/// The `http` crate this API is written with (requests, responses, header
/// maps, status codes), so that you need no `http` dependency of your own
/// and cannot end up with a second version of it.
pub use http;

/// The `bytes` crate of [`Bytes`](bytes::Bytes) bodies and chunks.
pub use bytes;

/// Re-exported from `resse-codec`: events and frames, the decoder with its
/// limits, the encoder, and their errors.
pub use resse_codec::{
    DecodeError, Decoder, DecoderConfig, EncodeError, Encoder, Event, Frame, Overflow, Text,
};

/// The one clock of the adapters: tokio's (so that tests with a paused
/// clock drive the client's timer and the keep-alives), as a std `Instant`
/// for the sans-IO crates.
#[cfg(any(feature = "client", feature = "server"))]
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// A boxed error, as bodies, streams and `Connect`
/// implementations report them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The README's examples, compiled and run as doctests (not part of the API).
#[cfg(all(doctest, feature = "client", feature = "server"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The workspace README's examples (the codec, an axum handler, a client),
/// compiled and run as doctests (not part of the API).
#[cfg(all(doctest, feature = "client", feature = "server"))]
#[doc = include_str!("../../../README.md")]
pub struct WorkspaceReadmeDoctests;
