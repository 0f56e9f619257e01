//! [`serve_connection`]: a lean HTTP/1.1 connection driver for event
//! streams, for servers that hold tens of thousands of idle subscribers.

use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, Version};
use http_body::Body;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::BoxError;

/// Limits of [`serve_connection`].
#[derive(Clone, Debug)]
pub struct ConnConfig {
    max_head_len: usize,
    max_headers: usize,
    head_timeout: Duration,
    write_timeout: Option<Duration>,
}

impl Default for ConnConfig {
    fn default() -> Self {
        Self {
            max_head_len: Self::DEFAULT_MAX_HEAD_LEN,
            max_headers: Self::DEFAULT_MAX_HEADERS,
            head_timeout: Self::DEFAULT_HEAD_TIMEOUT,
            write_timeout: Some(Self::DEFAULT_WRITE_TIMEOUT),
        }
    }
}

impl ConnConfig {
    /// Default [`max_head_len`](Self::max_head_len): 16 KiB.
    pub const DEFAULT_MAX_HEAD_LEN: usize = 16 * 1024;
    /// Default [`max_headers`](Self::max_headers): 64.
    pub const DEFAULT_MAX_HEADERS: usize = 64;
    /// Default [`head_timeout`](Self::head_timeout): 10 s.
    pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default [`write_timeout`](Self::write_timeout): 30 s.
    pub const DEFAULT_WRITE_TIMEOUT: Duration = super::io::DEFAULT_WRITE_TIMEOUT;

    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    resse_builder::field_methods! {
        /// The longest request head accepted (request line and headers);
        /// longer ones get `431` and the connection is closed.
        pub fn max_head_len(mut self, len: usize) -> Self;

        /// The most request headers accepted; more get `431`.
        pub fn max_headers(mut self, n: usize) -> Self;

        /// How long the whole request head may take to arrive (slow-loris
        /// protection); then the connection gets `408` and is closed.
        pub fn head_timeout(mut self, timeout: Duration) -> Self;

        /// How long one write may stay blocked (the client stopped reading and
        /// its socket is full) before the connection is closed; `None` waits
        /// for ever. This is what frees the memory and the socket of a client
        /// that never reads. To have it reset the connection (so that the
        /// kernel frees the socket's buffers at once rather than keeping an
        /// orphan), pass the stream wrapped in
        /// [`TimeoutIo::tcp`](super::TimeoutIo::tcp), as [`serve`](super::serve)
        /// does.
        pub fn write_timeout(mut self, timeout: Option<Duration>) -> Self;

        /// The request head limit.
        pub fn get_max_head_len(&self) -> usize = self.max_head_len;

        /// The request header count limit.
        pub fn get_max_headers(&self) -> usize = self.max_headers;

        /// The request head timeout.
        pub fn get_head_timeout(&self) -> Duration = self.head_timeout;

        /// The write timeout.
        pub fn get_write_timeout(&self) -> Option<Duration> = self.write_timeout;
    }
}

/// Why [`serve_connection`] ended other than by the stream's end or the
/// client's departure.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnError {
    /// Reading or writing the connection failed.
    Io(io::Error),
    /// The request head did not arrive within
    /// [`ConnConfig::head_timeout`] (answered `408`).
    HeadTimeout,
    /// The request head was longer than [`ConnConfig::max_head_len`] or had
    /// more than [`ConnConfig::max_headers`] headers (answered `431`).
    HeadTooLarge,
    /// The request head was not valid HTTP/1.x, or the connection closed
    /// in the middle of it (answered `400`).
    BadRequest(&'static str),
    /// The client closed the connection without sending anything (a port
    /// probe, a health check, a browser's preconnection): closed quietly,
    /// not answered. Not worth logging.
    NoRequest,
    /// A write stayed blocked longer than [`ConnConfig::write_timeout`]:
    /// the client stopped reading. The connection was closed.
    WriteTimeout,
    /// The response body failed; the response was cut off there, so the
    /// client sees a truncated stream and reconnects.
    Body(BoxError),
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "connection i/o failed: {e}"),
            Self::HeadTimeout => f.write_str("the request head did not arrive in time"),
            Self::HeadTooLarge => f.write_str("the request head is too large"),
            Self::BadRequest(why) => write!(f, "bad request: {why}"),
            Self::NoRequest => f.write_str("the client closed without sending a request"),
            Self::WriteTimeout => {
                f.write_str("the client stopped reading: a write was blocked too long")
            }
            Self::Body(e) => write!(f, "the response body failed: {e}"),
        }
    }
}

impl std::error::Error for ConnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Body(e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<io::Error> for ConnError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Serves one HTTP/1.1 connection whose response is an event stream, with
/// a few hundred bytes of state per idle connection.
///
/// It reads the request head (parsed by `httparse`, within the limits of
/// [`ConnConfig`]), frees the buffer it was read into, calls `handler`
/// with an `http::Request<()>`, writes the response head with
/// `Connection: close`, then writes the body's data frames as they come:
/// the body is delimited by the end of the connection (RFC 9112, 6.3), so
/// there is no chunk framing. It returns when the body ends (the connection
/// is shut down), when the client closes its side, or on an error. While it
/// waits, it holds the body and the socket and nothing else: no read or
/// write buffer.
///
/// **Use it for the event-stream endpoint of a server with very many
/// subscribers** (memory per idle connection is what bounds how many one
/// machine holds); use hyper or axum with [`SseBody`](super::SseBody) for
/// everything else. It serves exactly one request per connection and does
/// not read request bodies (the connection is closed after the response,
/// so a body cannot be mistaken for a next request); `HEAD` gets the head
/// only. TLS goes in `io` (any `AsyncRead + AsyncWrite`, e.g. a
/// `tokio_rustls` stream); offer only `http/1.1` in its ALPN protocols, as
/// this driver does not speak HTTP/2 ([`serve`](super::serve) with
/// [`ServeConfig::tls`](super::ServeConfig) does both, by ALPN).
///
/// ```no_run
/// use resse_tokio::server::{Broadcaster, ConnConfig, SseBody, last_event_id, serve_connection};
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let broadcaster = Broadcaster::default();
/// let config = ConnConfig::default();
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// loop {
///     let (stream, _) = listener.accept().await?;
///     let (broadcaster, config) = (broadcaster.clone(), config.clone());
///     tokio::spawn(async move {
///         let served = serve_connection(stream, &config, |request| async move {
///             let subscription = broadcaster.subscribe(last_event_id(request.headers()));
///             SseBody::new(subscription).into_response()
///         })
///         .await;
///         if let Err(e) = served {
///             tracing::debug!("event stream connection ended: {e}");
///         }
///     });
/// }
/// # }
/// ```
///
/// # Errors
/// [`ConnError`] when the request is refused (after answering it), on I/O
/// errors, when a write is blocked past the write timeout, and when the
/// body fails. A client that goes away is not an error.
pub async fn serve_connection<IO, F, Fut, B>(
    mut io: IO,
    config: &ConnConfig,
    handler: F,
) -> Result<(), ConnError>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(Request<()>) -> Fut,
    Fut: Future<Output = Response<B>>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let request = match tokio::time::timeout(config.head_timeout, read_head(&mut io, config)).await
    {
        Ok(Ok(request)) => request,
        Ok(Err(e)) => {
            let status = match e {
                ConnError::HeadTooLarge => Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
                ConnError::BadRequest(_) => Some(StatusCode::BAD_REQUEST),
                _ => None,
            };
            if let Some(status) = status {
                let _ = refuse(&mut io, status).await;
            }
            return Err(e);
        }
        Err(_) => {
            let _ = refuse(&mut io, StatusCode::REQUEST_TIMEOUT).await;
            return Err(ConnError::HeadTimeout);
        }
    };
    let head_only = request.method() == Method::HEAD;
    let response = handler(request).await;
    let (parts, body) = response.into_parts();
    let head_only = head_only
        || parts.status.is_informational()
        || parts.status == StatusCode::NO_CONTENT
        || parts.status == StatusCode::NOT_MODIFIED;
    write_all(&mut io, &encode_head(&parts), config.write_timeout).await?;
    if !head_only {
        let mut body = std::pin::pin!(body);
        let mut stream = Streaming {
            pending: Bytes::new(),
            flushing: false,
            blocked: None,
            write_timeout: config.write_timeout,
            discarded: 0,
        };
        poll_fn(|cx| stream.poll(cx, &mut io, body.as_mut())).await?;
    }
    poll_fn(|cx| Pin::new(&mut io).poll_shutdown(cx)).await?;
    Ok(())
}

/// Reads and parses the request head; the buffer is freed on return.
async fn read_head<IO: AsyncRead + Unpin>(
    io: &mut IO,
    config: &ConnConfig,
) -> Result<Request<()>, ConnError> {
    let mut buf = Vec::with_capacity(1024.min(config.max_head_len.max(1)));
    loop {
        if buf.len() >= config.max_head_len {
            return Err(ConnError::HeadTooLarge);
        }
        if buf.len() == buf.capacity() {
            buf.reserve(buf.len().min(config.max_head_len - buf.len()));
        }
        let start = buf.len();
        let room = (config.max_head_len - start).min(buf.capacity() - start);
        buf.resize(start + room, 0);
        let n = poll_fn(|cx| {
            let mut read = ReadBuf::new(&mut buf[start..]);
            ready!(Pin::new(&mut *io).poll_read(cx, &mut read))?;
            Poll::Ready(Ok::<_, io::Error>(read.filled().len()))
        })
        .await?;
        buf.truncate(start + n);
        if n == 0 && start == 0 {
            return Err(ConnError::NoRequest);
        }
        if n == 0 {
            return Err(ConnError::BadRequest(
                "the connection closed before a full request head",
            ));
        }
        if let Some(request) = parse_head(&buf, config.max_headers)? {
            return Ok(request);
        }
    }
}

/// The request in `buf`, `None` if its head is not complete yet.
fn parse_head(buf: &[u8], max_headers: usize) -> Result<Option<Request<()>>, ConnError> {
    let mut headers = vec![httparse::EMPTY_HEADER; max_headers];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(buf) {
        Ok(httparse::Status::Partial) => return Ok(None),
        Ok(httparse::Status::Complete(_)) => {}
        Err(httparse::Error::TooManyHeaders) => return Err(ConnError::HeadTooLarge),
        Err(_) => return Err(ConnError::BadRequest("malformed request head")),
    }
    let method = parsed
        .method
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .ok_or(ConnError::BadRequest("invalid method"))?;
    let uri = parsed
        .path
        .and_then(|p| Uri::try_from(p).ok())
        .ok_or(ConnError::BadRequest("invalid request target"))?;
    let version = match parsed.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    let map = request.headers_mut();
    map.reserve(parsed.headers.len());
    for header in parsed.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes())
            .map_err(|_| ConnError::BadRequest("invalid header name"))?;
        let value = HeaderValue::from_bytes(header.value)
            .map_err(|_| ConnError::BadRequest("invalid header value"))?;
        map.append(name, value);
    }
    Ok(Some(request))
}

/// The response head, with `Connection: close` and no chunked framing.
fn encode_head(parts: &http::response::Parts) -> Vec<u8> {
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(parts.status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(
        parts
            .status
            .canonical_reason()
            .unwrap_or("Unknown")
            .as_bytes(),
    );
    head.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if name == CONNECTION || name == TRANSFER_ENCODING {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"connection: close\r\n\r\n");
    head
}

/// Answers a refused request and closes.
async fn refuse<IO: AsyncWrite + Unpin>(io: &mut IO, status: StatusCode) -> Result<(), ConnError> {
    let mut parts = Response::new(()).into_parts().0;
    parts.status = status;
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    write_all(io, &encode_head(&parts), Some(Duration::from_secs(1))).await?;
    Ok(poll_fn(|cx| Pin::new(&mut *io).poll_shutdown(cx)).await?)
}

/// Writes all of `bytes` within `timeout` per blocked write.
async fn write_all<IO: AsyncWrite + Unpin>(
    io: &mut IO,
    bytes: &[u8],
    timeout: Option<Duration>,
) -> Result<(), ConnError> {
    let write = async {
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = poll_fn(|cx| Pin::new(&mut *io).poll_write(cx, rest)).await?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero));
            }
            // A writer that claims more than it was given is treated as
            // having written everything, rather than trusted to panic.
            rest = rest.get(n..).unwrap_or_default();
        }
        poll_fn(|cx| Pin::new(&mut *io).poll_flush(cx)).await
    };
    match timeout {
        Some(t) => tokio::time::timeout(t, write)
            .await
            .map_err(|_| ConnError::WriteTimeout)?
            .map_err(ConnError::Io),
        None => write.await.map_err(ConnError::Io),
    }
}

/// The state of the body phase: what is being written.
struct Streaming {
    /// Bytes of a data frame not written yet.
    pending: Bytes,
    /// Whether a written frame still has to be flushed (a TLS stream
    /// buffers its records until then).
    flushing: bool,
    /// The write-timeout timer, only while a write is blocked (boxed so
    /// that an idle connection does not carry it).
    blocked: Option<Pin<Box<Sleep>>>,
    write_timeout: Option<Duration>,
    /// Bytes the client sent after its request (ignored), to bound them.
    discarded: usize,
}

/// How many bytes a client may send after its request head before the
/// connection is closed (this driver reads no request body).
const MAX_DISCARD: usize = 64 * 1024;

impl Streaming {
    /// Drives the body phase: `Ready(Ok)` when the body ended or the client
    /// left.
    fn poll<IO, B>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut IO,
        mut body: Pin<&mut B>,
    ) -> Poll<Result<(), ConnError>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        loop {
            // Has the client gone? (A read of 0 bytes; anything it sends is
            // discarded.) Reads into a small buffer on the stack.
            let mut scratch = [0u8; 64];
            let mut read = ReadBuf::new(&mut scratch);
            match Pin::new(&mut *io).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if read.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => {
                    self.discarded += read.filled().len();
                    if self.discarded > MAX_DISCARD {
                        return Poll::Ready(Err(ConnError::BadRequest(
                            "the client sent data after its request",
                        )));
                    }
                    continue;
                }
                Poll::Ready(Err(e)) if is_gone(&e) => return Poll::Ready(Ok(())),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(ConnError::Io(e))),
                Poll::Pending => {}
            }
            if !self.pending.is_empty() {
                match Pin::new(&mut *io).poll_write(cx, &self.pending) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into()));
                    }
                    Poll::Ready(Ok(n)) => {
                        self.pending.advance(n.min(self.pending.len()));
                        self.blocked = None;
                        self.flushing = self.pending.is_empty();
                        continue;
                    }
                    Poll::Ready(Err(e)) if is_gone(&e) => return Poll::Ready(Ok(())),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                    Poll::Pending => return self.poll_blocked(cx),
                }
            }
            if self.flushing {
                // Nothing buffered in a plain socket; a TLS stream writes its
                // records here, and the next frame waits until they are out
                // (so that the write timeout covers them too).
                match Pin::new(&mut *io).poll_flush(cx) {
                    Poll::Ready(Ok(())) => {
                        self.flushing = false;
                        self.blocked = None;
                    }
                    Poll::Ready(Err(e)) if is_gone(&e) => return Poll::Ready(Ok(())),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                    Poll::Pending => return self.poll_blocked(cx),
                }
            }
            match ready!(body.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.pending = data;
                    }
                }
                Some(Err(e)) => return Poll::Ready(Err(ConnError::Body(e.into()))),
                None => return Poll::Ready(Ok(())),
            }
        }
    }
}

impl Streaming {
    /// A write or flush is blocked: `Pending` until the write timeout, then
    /// [`ConnError::WriteTimeout`].
    fn poll_blocked(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnError>> {
        let Some(timeout) = self.write_timeout else {
            return Poll::Pending;
        };
        let timer = self
            .blocked
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(Err(ConnError::WriteTimeout))
    }
}

/// Errors that mean the client closed or reset the connection.
fn is_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}
