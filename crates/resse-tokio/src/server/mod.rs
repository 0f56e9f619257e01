//! The server side: a response body, the response head, a broadcaster.
//!
//! * [`SseBody`]: an [`http_body::Body`] (`Data = Bytes`) that writes any
//!   [`Stream`](futures_core::Stream) of [`Event`](resse_codec::Event)s,
//!   pre-encoded [`Bytes`](bytes::Bytes) or `Result`s of them as
//!   `text/event-stream`, with keep-alive comments from
//!   [`resse_heartbeat::KeepAlive`] while the stream is quiet. Items that are
//!   ready together go out in one chunk.
//! * [`headers`], [`response_builder`] and [`SseBody::into_response`]: the
//!   response head (`Content-Type: text/event-stream`,
//!   `Cache-Control: no-store`, `X-Accel-Buffering: no`, no compression).
//! * [`Broadcaster`]: publish an event once, deliver the same encoded bytes
//!   to every [`Subscription`], replay what a reconnecting client missed
//!   from its `Last-Event-ID` ([`resse_session::ReplayLog`]), disconnect
//!   subscribers that fall behind instead of buffering for them, and keep
//!   one connection per client identity.
//! * [`last_event_id`]: the `Last-Event-ID` of a request.
//! * [`serve`]: a whole server in one call (accept loop, socket tuning,
//!   routing, write timeouts with resets, graceful shutdown), over TLS with
//!   HTTP/2 and HTTP/1.1 by ALPN with `ServeConfig::tls` (feature
//!   `server-tls`).
//! * [`TimeoutIo`] and [`tune_accepted`]: what keeps stuck clients from
//!   pinning memory, for hyper and axum users.
//! * [`serve_connection`]: a lean HTTP/1.1 connection driver for the
//!   event-stream endpoint of a server with very many subscribers: no
//!   per-connection read or write buffer while idle, a write timeout for
//!   clients that stop reading. Use hyper or axum for everything else.
//!
//! Every SSE rule lives in the sans-IO crates: encoding in
//! [`resse_codec::Encoder`], keep-alive timing in
//! [`resse_heartbeat::KeepAlive`], the fan-out (ids, replay, lag, identities,
//! targeted events, the response head, `Last-Event-ID`) in
//! [`resse_session::Fanout`]. This module moves bytes, locks, wakes and
//! sleeps.
//!
//! # With hyper
//!
//! A `service_fn` returns `Response<SseBody<S>>`; hyper polls the body and
//! writes each frame as an HTTP/1.1 chunk or HTTP/2 data frame.
//!
//! ```no_run
//! use std::convert::Infallible;
//! use hyper::{Request, body::Incoming, server::conn::http1, service::service_fn};
//! use hyper_util::rt::TokioIo;
//! use resse_tokio::server::{Broadcaster, SseBody, last_event_id};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let broadcaster = Broadcaster::default();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     let broadcaster = broadcaster.clone();
//!     tokio::spawn(async move {
//!         let service = service_fn(move |request: Request<Incoming>| {
//!             let subscription = broadcaster.subscribe(last_event_id(request.headers()));
//!             async move { Ok::<_, Infallible>(SseBody::new(subscription).into_response()) }
//!         });
//!         let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
//!     });
//! }
//! # }
//! ```
//!
//! # With axum
//!
//! An `http::Response<SseBody<S>>` is an axum `IntoResponse` (the body is
//! `Body<Data = Bytes>`, `Send`, and its error converts into axum's
//! `BoxError`), so a handler returns it as it is:
//!
//! ```no_run
//! use axum::{Router, extract::State, http::HeaderMap, routing::get};
//! use resse_tokio::server::{Broadcaster, SseBody, Subscription, last_event_id};
//!
//! async fn events(
//!     State(broadcaster): State<Broadcaster>,
//!     headers: HeaderMap,
//! ) -> http::Response<SseBody<Subscription>> {
//!     SseBody::new(broadcaster.subscribe(last_event_id(&headers))).into_response()
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let app = Router::new().route("/events", get(events)).with_state(Broadcaster::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! # Long-lived streams and server timeouts
//!
//! An event stream is one response that lasts for hours. Timeouts meant for
//! ordinary requests must not apply to it:
//!
//! * **hyper**: `http1::Builder::header_read_timeout` (30 s by default when a
//!   timer is set) only bounds reading a request *head*; it does not end a
//!   response being written, so it is safe. hyper has no total-request or
//!   write timeout of its own. HTTP/2 keep-alive pings
//!   (`http2::Builder::keep_alive_interval`) are fine too.
//! * **tower / tower-http / axum**: tower-http's `TimeoutLayer` (like
//!   `tower::timeout`) bounds the time until the handler returns the
//!   response *head*; the body streams outside it. It is harmless for a
//!   handler that returns the [`SseBody`] at once, and cuts (with a 408) a
//!   handler that awaits events before returning: don't.
//!   `ResponseBodyTimeoutLayer` bounds the gap between two body frames: keep
//!   it well above the keep-alive interval (15 s by default) or leave the
//!   event route out of it, or it ends quiet streams.
//! * **Compression**: never compress an event stream: compressors buffer
//!   output until they have enough to compress, which delays events
//!   indefinitely. The head from [`headers`] sets no `Content-Encoding`;
//!   tower-http's `CompressionLayer` skips `text/event-stream` with its
//!   default predicate (keep that exclusion if you set your own); tell
//!   proxies the same (nginx: `gzip off` for the event location; its
//!   buffering is already off through `X-Accel-Buffering: no`).
//! * **Proxies and load balancers** close connections that stay quiet for
//!   their idle timeout (nginx `proxy_read_timeout` and AWS ALB default to
//!   60 s): the keep-alive comments of [`SseBody`] (every 15 s of quiet by
//!   default) keep the connection busy, and let the server notice clients
//!   that vanished (the write fails and hyper drops the body, which removes
//!   the [`Subscription`]).
//! * **Graceful shutdown** (`axum::serve(..).with_graceful_shutdown`,
//!   hyper's `graceful_shutdown`) waits for responses to finish, and an
//!   event stream never does: call [`Broadcaster::close`] when shutdown
//!   starts, so that every stream ends and clients reconnect elsewhere.
//! * **Clients that stop reading**: a [`Broadcaster`] disconnects their
//!   subscription once they fall behind, but while their socket is full
//!   the HTTP server waits to write and the TCP connection lives on, with
//!   what the kernel buffers for it (several MiB per socket with send-buffer
//!   autotuning). Give accepted sockets a capped send buffer
//!   ([`tune_accepted`], [`DEFAULT_SEND_BUFFER_SIZE`]) and wrap them in
//!   [`TimeoutIo::tcp`]: a write blocked past the timeout (default 30 s)
//!   fails, and the connection is reset (`SO_LINGER` 0), so that no orphan
//!   socket keeps its buffers. [`serve`] does both; with hyper, wrap the
//!   stream before `TokioIo`; with axum, serve through hyper or a listener
//!   of your own that returns `TimeoutIo<TcpStream>`.
//! * **Many idle connections**: an idle stream costs the body (a few
//!   hundred bytes, including its keep-alive timer) and a subscriber slot
//!   (tens of bytes) on top of the HTTP stack, and the HTTP stack dominates:
//!   hyper's HTTP/1.1 connection keeps an 8 KiB read and an 8 KiB write
//!   buffer. Serving with `hyper::server::conn::http1` directly is leaner
//!   than hyper-util's HTTP/1-or-2 auto-detecting connection, which
//!   `axum::serve` uses; [`serve_connection`] keeps no buffer at all while
//!   a stream is idle (see `benches/` for the figures).
//!
//! # Feature
//!
//! This module is behind the `server` feature (on by default). A
//! server-only build needs neither the client nor rustls/ring:
//! `resse-tokio = { version = "0.1", default-features = false, features = ["server"] }`.
//! TLS for [`serve`] is the `server-tls` feature (on by default; rustls
//! with ring, and hyper's HTTP/2 server, still without the client):
//! `default-features = false, features = ["server-tls"]`.
//! Everything a server author needs is re-exported here (the codec's
//! [`Event`](crate::Event), the fan-out core's configuration, keep-alive and
//! replay settings).

mod body;
mod broadcast;
mod conn;
mod io;
mod serve;

pub use body::{BodyError, BoxError, IntoWire, SseBody, Wire};
pub use broadcast::{
    BroadcastConfig, BroadcastStats, Broadcaster, EndReason, PublishError, ReplayOutcome,
    SubscribeOptions, Subscription,
};
pub use conn::{ConnConfig, ConnError, serve_connection};
pub use io::{DEFAULT_SEND_BUFFER_SIZE, DEFAULT_WRITE_TIMEOUT, TimeoutIo, tune_accepted};
/// The rustls crate of [`ServeConfig::tls`] and [`tls_config`] (feature
/// `server-tls`): its `pki_types` read certificates and keys from PEM.
#[cfg(feature = "server-tls")]
pub use rustls;
#[cfg(feature = "server-tls")]
pub use serve::tls_config;
pub use serve::{IdentityFn, ServeConfig, serve};
// The configuration types of `SseBody::keep_alive` and
// `BroadcastConfig::replay`, so that users need no dependency on the
// sans-IO crates.
pub use resse_heartbeat::{KeepAliveConfig, KeepAliveMessage};
pub use resse_session::ReplayConfig;

use http::header::HeaderMap;

/// The `X-Accel-Buffering` header, which tells nginx (and proxies that copy
/// it) not to buffer this response (the sans-IO core's constant).
pub use resse_session::X_ACCEL_BUFFERING;

/// The `Last-Event-ID` request header: the id of the last event a
/// reconnecting client received (the client side's constant, re-exported).
pub use resse_session::LAST_EVENT_ID;

/// The sans-IO fan-out core that [`Broadcaster`] drives, and its types, for
/// servers that drive it themselves.
pub use resse_session::{
    Fanout, FanoutConfig, LagReport, SendError, Subscribe, Subscribed, SubscriberKey,
    SupersededEvent, Transmit,
};

/// The server side of the liveness probe (see [`resse_session::probe`]):
/// how probe requests are parsed and answered
/// ([`Broadcaster::answer_probe`]).
pub use resse_session::{ProbeAnswer, ProbeError, ProbeQuery};

/// The response headers of an event stream:
///
/// * `Content-Type: text/event-stream`
/// * `Cache-Control: no-store`: neither browsers nor proxies may cache or
///   replay it.
/// * `X-Accel-Buffering: no`: nginx (and compatible proxies) must pass each
///   chunk on at once instead of buffering the response.
///
/// No `Content-Encoding`: an event stream must not be compressed (see the
/// [module docs](self#long-lived-streams-and-server-timeouts)).
///
/// ```
/// let headers = resse_tokio::server::headers();
/// assert_eq!(headers["content-type"], "text/event-stream");
/// assert_eq!(headers["cache-control"], "no-store");
/// assert_eq!(headers["x-accel-buffering"], "no");
/// ```
pub fn headers() -> HeaderMap {
    resse_session::response_headers()
}

/// A `200 OK` response builder with the event stream [`headers`], for a body
/// of your own (or to add headers before [`SseBody`]).
///
/// ```
/// use resse_tokio::server::{SseBody, response_builder};
/// use futures_util::stream;
/// use resse_codec::Event;
///
/// let body = SseBody::new(stream::iter([Event::new("hi")]));
/// let response = response_builder().header("x-stream", "news").body(body)?;
/// assert_eq!(response.headers()["content-type"], "text/event-stream");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn response_builder() -> http::response::Builder {
    let mut builder = http::Response::builder().status(http::StatusCode::OK);
    if let Some(map) = builder.headers_mut() {
        map.extend(headers());
    }
    builder
}

/// The request's `Last-Event-ID`, to pass to [`Broadcaster::subscribe`]:
/// `None` when absent, empty, or not UTF-8.
///
/// ```
/// use http::HeaderMap;
/// use resse_tokio::server::last_event_id;
///
/// let mut headers = HeaderMap::new();
/// assert_eq!(last_event_id(&headers), None);
/// headers.insert("last-event-id", "42".parse()?);
/// assert_eq!(last_event_id(&headers), Some("42"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn last_event_id(headers: &HeaderMap) -> Option<&str> {
    resse_session::last_event_id(headers)
}
