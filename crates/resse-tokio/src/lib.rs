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
//! * [`client::Client`] (feature `client`): a reconnecting client — a
//!   `Stream` of events and connection state changes — driven by
//!   [`resse_session::ClientSession`]: `Last-Event-ID`, jittered backoff,
//!   `retry:`, 204 "stop", `Retry-After`, redirects, an idle watchdog.
//!   Requests go through a [`client::Connect`]; the default is
//!   [`client::HyperConnector`] (hyper 1, HTTP/1.1 and HTTP/2, TLS by
//!   rustls with feature `rustls`).
//!
//! # Server side (feature `server`)
//!
//! * [`server::SseBody`]: an `http_body::Body` (hyper, axum) from any
//!   `Stream` of events or pre-encoded bytes, batching ready items, with
//!   keep-alive comments from `resse-heartbeat`.
//! * [`server::headers`], [`server::SseBody::into_response`]: the
//!   event-stream response head (`Content-Type: text/event-stream`,
//!   `Cache-Control: no-store`, `X-Accel-Buffering: no`).
//! * [`server::Broadcaster`]: publish once (encoded once, bytes shared),
//!   `Last-Event-ID` replay with no gap or duplicate, slow subscribers
//!   disconnected rather than buffered, one connection per client identity.
//!
//! See the [`server`] module docs for what to configure in hyper and axum
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
#![forbid(unsafe_code)]

#[cfg(feature = "client")]
pub mod client;
pub mod codec;
mod ext;
#[cfg(feature = "server")]
pub mod server;

pub use ext::{SseEvents, SseFrames, SseStreamExt, StreamError};

/// A boxed error, as bodies, streams and `Connect`
/// implementations report them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
