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
//!   disconnected rather than buffered, one connection per client identity.
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
//! | `server` | yes | the response body, head helper and broadcaster |
//!
//! The codec and the stream extension are always there.
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
    doc = "[c-client]: client::Client\n[c-connect]: client::Connect\n[c-hyper]: client::HyperConnector"
)]
#![cfg_attr(
    not(feature = "client"),
    doc = "[c-client]: #crate-features\n[c-connect]: #crate-features\n[c-hyper]: #crate-features"
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
