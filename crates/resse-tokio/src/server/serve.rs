//! [`serve`]: a whole event-stream server in one call.

#[cfg(feature = "server-tls")]
mod tls;
#[cfg(feature = "server-tls")]
pub use tls::tls_config;

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
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
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
    #[cfg(feature = "server-tls")]
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = f.debug_struct("ServeConfig");
        f.field("path", &self.path)
            .field("conn", &self.conn)
            .field("send_buffer_size", &self.send_buffer_size)
            .field("keep_alive", &self.keep_alive)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("identity", &self.identity.is_some());
        #[cfg(feature = "server-tls")]
        f.field("tls", &self.tls.is_some());
        f.finish()
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
            #[cfg(feature = "server-tls")]
            tls: None,
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

    /// Serves TLS (HTTPS) with this rustls configuration (feature
    /// `server-tls`): every connection is a TLS one, then HTTP/2 or
    /// HTTP/1.1 as ALPN chose (see [`serve`]). [`tls_config`] makes one
    /// from a certificate chain and its key.
    ///
    /// The configuration's `alpn_protocols` say what is offered: empty
    /// (rustls' default) is filled in with `h2` and `http/1.1`, in that
    /// order of preference; set them yourself to offer less (only
    /// `http/1.1`, say, to keep every stream on the lean driver). A client
    /// that offers no ALPN gets HTTP/1.1.
    ///
    /// The handshake must complete within the connection's
    /// [`head_timeout`](ConnConfig::head_timeout) (10 s by default), like a
    /// request head: a client that opens a connection and sends no
    /// `ClientHello` is closed then.
    #[cfg(feature = "server-tls")]
    pub fn tls(mut self, mut config: Arc<rustls::ServerConfig>) -> Self {
        if config.alpn_protocols.is_empty() {
            Arc::make_mut(&mut config).alpn_protocols = tls::default_alpn();
        }
        self.tls = Some(config);
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
/// * With `ServeConfig::tls` (feature `server-tls`), each connection is a
///   TLS one (the handshake within [`ConnConfig::head_timeout`]; one that
///   fails, such as a port probe or plain HTTP sent to the TLS port, is
///   closed quietly and logged at `debug` level only), then served as ALPN
///   chose: `h2` by hyper's HTTP/2 server connection, `http/1.1` (or no
///   ALPN) by [`serve_connection`] as above. Both route requests the same
///   way. See [HTTP/2](#http2) for what differs there.
/// * On shutdown: stops accepting, [closes](Broadcaster::close) the
///   broadcaster (every stream writes what it has and ends), tells HTTP/2
///   connections to go away (`GOAWAY`), waits up to
///   [`shutdown_grace`](ServeConfig::shutdown_grace) for the connections,
///   and returns.
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
/// # TLS
///
/// With the `server-tls` feature, from PEM files:
///
#[cfg_attr(feature = "server-tls", doc = "```no_run")]
#[cfg_attr(not(feature = "server-tls"), doc = "```ignore")]
/// use resse_tokio::server::rustls::pki_types::pem::PemObject;
/// use resse_tokio::server::rustls::pki_types::{CertificateDer, PrivateKeyDer};
/// use resse_tokio::server::{Broadcaster, ServeConfig, serve, tls_config};
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let certs = CertificateDer::pem_file_iter("cert.pem")?.collect::<Result<Vec<_>, _>>()?;
/// let key = PrivateKeyDer::from_pem_file("key.pem")?;
/// let config = ServeConfig::new().tls(tls_config(certs, key)?);
///
/// let broadcaster = Broadcaster::default();
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:8443").await?;
/// let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
/// serve(listener, broadcaster, config, shutdown).await?;
/// # Ok(()) }
/// ```
///
/// # HTTP/2
///
/// An HTTP/2 connection carries many streams (hyper's default limit: 200
/// at once), each routed like an HTTP/1.1 request. The write timeout holds
/// for the connection as a whole: [`TimeoutIo`] is under TLS, so a client
/// that stops reading its socket is reset after the write timeout, with
/// all its streams. A client that reads its socket but stops granting
/// flow-control window to one stream (a stuck stream) does not stall the
/// others: hyper keeps the connection and stops polling that stream's
/// body, holding one batch that waits for window (hyper sends body data
/// only as the stream has send capacity, which h2 bounds by the peer's
/// window and a 400 KiB send buffer per stream); the [`Broadcaster`]
/// disconnects the subscriber once it falls behind its lag limit (so the
/// replay log is not pinned), and the stream itself ends when the client
/// resets it or closes the connection, or at shutdown with the connection
/// after the grace. A connection must send its first request within the
/// head timeout; [`ConnConfig::max_head_len`] bounds each request's header
/// list; connections are pinged every 30 s, and one that does not answer
/// within 20 s is closed.
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
    // Tells the connections that shutdown started (HTTP/2 ones send GOAWAY,
    // TLS handshakes stop); HTTP/1.1 streams end with the broadcaster.
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let context = Served {
                        broadcaster: broadcaster.clone(),
                        config: Arc::clone(&config),
                        stopping: stopping.clone(),
                    };
                    connections.spawn(connection(stream, context));
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
    let _ = stop.send(true);
    let drained = tokio::time::timeout(config.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
    Ok(())
}

/// What a connection of [`serve`] needs.
struct Served {
    broadcaster: Broadcaster,
    config: Arc<ServeConfig>,
    /// Becomes `true` when shutdown starts.
    #[cfg_attr(not(feature = "server-tls"), allow(dead_code))]
    stopping: watch::Receiver<bool>,
}

/// Completes when shutdown starts (or `serve` is gone).
#[cfg(feature = "server-tls")]
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stopping| *stopping).await;
}

async fn connection(stream: TcpStream, served: Served) {
    if let Err(e) = tune_accepted(&stream, served.config.send_buffer_size) {
        tracing::debug!(error = %e, "could not set the socket options");
    }
    let io = TimeoutIo::tcp(stream, served.config.conn.get_write_timeout());
    #[cfg(feature = "server-tls")]
    if let Some(tls) = &served.config.tls {
        let tls = Arc::clone(tls);
        return tls::connection(io, tls, served).await;
    }
    http1(io, &served).await;
}

/// Serves an HTTP/1.1 connection (plain or TLS) with the lean driver.
async fn http1<IO: AsyncRead + AsyncWrite + Unpin>(io: IO, served: &Served) {
    let config = &served.config;
    let result = serve_connection(io, &config.conn, |request| {
        std::future::ready(route(&request, &served.broadcaster, config))
    })
    .await;
    match result {
        Ok(()) | Err(ConnError::NoRequest) => {}
        Err(e) => tracing::debug!(error = %e, "event stream connection ended"),
    }
}

/// The response to a request of any HTTP version: the stream on the path,
/// `404` elsewhere, `405` for methods other than `GET` and `HEAD`. `HEAD`
/// gets the stream's head without subscribing.
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
    if request.method() == Method::HEAD {
        let mut response = Response::new(Routed::Empty);
        *response.headers_mut() = super::headers();
        return response;
    }
    if request.method() != Method::GET {
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
