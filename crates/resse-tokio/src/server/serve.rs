//! [`serve`]: a whole event-stream server in one call.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::{
    BodyError, Broadcaster, ConnConfig, ConnError, DEFAULT_SEND_BUFFER_SIZE, KeepAliveConfig,
    SseBody, Subscription, TimeoutIo, last_event_id, serve_connection, tune_accepted,
};

/// Chooses a subscriber's identity from its request; `None` for none.
pub type IdentityFn = dyn Fn(&Request<()>) -> Option<String> + Send + Sync;

/// Settings of [`serve`].
#[derive(Clone)]
pub struct ServeConfig {
    path: String,
    conn: ConnConfig,
    send_buffer_size: Option<usize>,
    keep_alive: Option<KeepAliveConfig>,
    shutdown_grace: Duration,
    identity: Option<Arc<IdentityFn>>,
}

impl fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeConfig")
            .field("path", &self.path)
            .field("conn", &self.conn)
            .field("send_buffer_size", &self.send_buffer_size)
            .field("keep_alive", &self.keep_alive)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("identity", &self.identity.is_some())
            .finish()
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            path: "/events".into(),
            conn: ConnConfig::default(),
            send_buffer_size: Some(DEFAULT_SEND_BUFFER_SIZE),
            keep_alive: Some(KeepAliveConfig::default()),
            shutdown_grace: Self::DEFAULT_SHUTDOWN_GRACE,
            identity: None,
        }
    }
}

impl ServeConfig {
    /// Default [`shutdown_grace`](Self::shutdown_grace): 5 s.
    pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

    /// The defaults: the stream at `/events`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The path of the event stream (default `/events`; the query string is
    /// ignored); other paths get `404`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    resse_builder::field_methods! {
        /// The connection limits and timeouts (default [`ConnConfig::default`]:
        /// 30 s write timeout, after which a stuck client's connection is
        /// reset).
        pub fn conn(mut self, conn: ConnConfig) -> Self;

        /// The send buffer of each accepted socket (default
        /// [`DEFAULT_SEND_BUFFER_SIZE`], 128 KiB); `None` keeps the system's
        /// autotuning (several MiB per stuck client).
        pub fn send_buffer_size(mut self, size: Option<usize>) -> Self;

        /// Keep-alives of the streams (default [`KeepAliveConfig::default`]);
        /// `None` for none.
        pub fn keep_alive(mut self, config: Option<KeepAliveConfig>) -> Self;

        /// How long shutdown waits for the streams to write what they have
        /// before the remaining connections are dropped (default 5 s).
        pub fn shutdown_grace(mut self, grace: Duration) -> Self;
    }

    /// How a subscriber's identity is taken from its request (default:
    /// none); a newer connection with the same identity supersedes the
    /// older one.
    pub fn identity(
        mut self,
        identity: impl Fn(&Request<()>) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.identity = Some(Arc::new(identity));
        self
    }
}

/// Serves `broadcaster` on `listener` until `shutdown` completes: the
/// common case of an event-stream server in one call.
///
/// * Accepts connections, backing off briefly when accepting fails (out of
///   file descriptors, `EMFILE`/`ENFILE`, or memory) instead of ending.
/// * Each socket gets `TCP_NODELAY` and a capped send buffer
///   ([`ServeConfig::send_buffer_size`]), and is wrapped in
///   [`TimeoutIo::tcp`]: a client that stops reading is cut after the
///   write timeout with a reset, so it pins neither process nor kernel
///   memory.
/// * `GET` (or `HEAD`) on the [path](ServeConfig::path) streams from the
///   broadcaster (replayed from `Last-Event-ID`, with keep-alives) through
///   [`serve_connection`] (HTTP/1.1); other paths get `404`, other methods
///   `405`. A connection that sends nothing and closes is closed quietly.
/// * On shutdown: stops accepting, [closes](Broadcaster::close) the
///   broadcaster (every stream writes what it has and ends), waits up to
///   [`shutdown_grace`](ServeConfig::shutdown_grace) for the connections,
///   and returns.
///
/// TLS and HTTP/2 are not served here: serve with hyper (and
/// [`TimeoutIo`]) for those.
///
/// ```no_run
/// use resse_tokio::server::{Broadcaster, ServeConfig, serve};
///
/// # #[tokio::main] async fn main() -> std::io::Result<()> {
/// let broadcaster = Broadcaster::default();
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
/// # let shutdown = std::future::ready(());
/// serve(listener, broadcaster, ServeConfig::new(), shutdown).await
/// # }
/// ```
///
/// # Errors
/// None today (accept errors are retried); the `Result` leaves room for
/// listener failures that cannot be retried.
pub async fn serve(
    listener: TcpListener,
    broadcaster: Broadcaster,
    config: ServeConfig,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let config = Arc::new(config);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let (broadcaster, config) = (broadcaster.clone(), Arc::clone(&config));
                    connections.spawn(connection(stream, broadcaster, config));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed; retrying in 100 ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    drop(listener);
    broadcaster.close();
    let drained = tokio::time::timeout(config.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
    Ok(())
}

async fn connection(stream: TcpStream, broadcaster: Broadcaster, config: Arc<ServeConfig>) {
    if let Err(e) = tune_accepted(&stream, config.send_buffer_size) {
        tracing::debug!(error = %e, "could not set the socket options");
    }
    let io = TimeoutIo::tcp(stream, config.conn.get_write_timeout());
    let served = serve_connection(io, &config.conn, |request| {
        let response = route(&request, &broadcaster, &config);
        std::future::ready(response)
    })
    .await;
    match served {
        Ok(()) | Err(ConnError::NoRequest) => {}
        Err(e) => tracing::debug!(error = %e, "event stream connection ended"),
    }
}

fn route(
    request: &Request<()>,
    broadcaster: &Broadcaster,
    config: &ServeConfig,
) -> Response<Routed> {
    let refuse = |status| {
        let mut response = Response::new(Routed::Empty);
        *response.status_mut() = status;
        response
    };
    if request.uri().path() != config.path {
        return refuse(StatusCode::NOT_FOUND);
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return refuse(StatusCode::METHOD_NOT_ALLOWED);
    }
    let mut options = broadcaster
        .subscriber()
        .last_event_id(last_event_id(request.headers()));
    if let Some(identity) = config.identity.as_ref().and_then(|f| f(request)) {
        options = options.identity(identity);
    }
    let body = SseBody::new(options.subscribe());
    let body = match &config.keep_alive {
        Some(keep_alive) => body.keep_alive(keep_alive.clone()),
        None => body.without_keep_alive(),
    };
    body.into_response().map(|body| Routed::Stream { body })
}

pin_project_lite::pin_project! {
    /// The body of a routed response: the stream, or nothing.
    #[project = RoutedProj]
    enum Routed {
        Stream { #[pin] body: SseBody<Subscription> },
        Empty,
    }
}

impl Body for Routed {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.project() {
            RoutedProj::Stream { body } => body.poll_frame(cx),
            RoutedProj::Empty => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Stream { body } => body.is_end_stream(),
            Self::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Stream { body } => body.size_hint(),
            Self::Empty => SizeHint::with_exact(0),
        }
    }
}
