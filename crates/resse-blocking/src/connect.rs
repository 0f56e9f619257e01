//! [`Connect`], [`Stream`] and the default [`HttpConnector`]: ureq 3 over
//! this crate's TCP transport, rustls for `https://`.

use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode};
use resse_session::Request;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{Connector, RustlsConnector};

use crate::CloseHandle;
use crate::transport::{CallContext, CallSlot, ReadLimit, TcpConnector, lock_slot};

/// An open response: the status and headers, and the body to read.
#[derive(Debug)]
#[non_exhaustive]
pub struct Response<S> {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: S,
}

impl<S> Response<S> {
    /// A response.
    pub fn new(status: StatusCode, headers: HeaderMap, body: S) -> Self {
        Self {
            status,
            headers,
            body,
        }
    }
}

/// How long a [`Connect`] may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// For the TCP (and TLS) connection itself.
    pub connect: Duration,
    /// Until the whole response head has arrived, counted from the start of
    /// the attempt (the session's idle deadline); `None` for no limit.
    pub response: Option<Duration>,
}

/// A response body the [`Client`](crate::Client) can read with a timeout.
///
/// A body whose reads cannot time out cannot detect a silent connection:
/// the idle timeout then only acts between reads.
pub trait Stream: Read {
    /// Makes each following `read` fail with `WouldBlock` or `TimedOut`
    /// after `timeout` without data (`None`: block). The client passes at
    /// least 1 ms.
    ///
    /// # Errors
    /// When the timeout cannot be set.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;
}

/// Opens the connection a [`Request`] describes: bring your own HTTP client
/// by implementing it.
pub trait Connect {
    /// The response body.
    type Stream: Stream;

    /// Sends `request` and reads the response head, within `timeouts`.
    ///
    /// To let [`CloseHandle::close`] interrupt a blocked call promptly,
    /// register a way to shut the connection down with
    /// [`CloseHandle::on_close`] as soon as there is one (the client
    /// unregisters it when the connection ends).
    ///
    /// # Errors
    /// Any failure to get a response head (the client reconnects); a
    /// `WouldBlock` or `TimedOut` error means the response timeout expired.
    fn connect(
        &mut self,
        request: &Request,
        timeouts: Timeouts,
        close: &CloseHandle,
    ) -> io::Result<Response<Self::Stream>>;
}

/// The default [`Connect`]: [ureq] 3, over a TCP transport of this crate
/// that gives the client per-read deadlines and a socket to shut down,
/// and rustls (ring provider) for `https://`.
///
/// The request goes out as the session built it (method, headers,
/// `Last-Event-ID`, body) with ureq's `Host`, `User-Agent` and body
/// framing headers. Every response is returned as it is: ureq follows no
/// redirect (the session does, and counts them) and turns no status into
/// an error. Nothing is decompressed and no `Accept-Encoding` is added,
/// so the body streams as it arrives. No proxy, no connection reuse: an
/// event stream holds its connection anyway.
///
/// Server certificates are checked against the [webpki roots] (Mozilla's
/// list, built in) unless you pass your own roots or a whole ureq
/// [`TlsConfig`] (client certificates, SNI, crypto provider).
///
/// ```no_run
/// use resse_blocking::{ClientBuilder, HttpConnector};
///
/// // Trust a private certificate authority (and nothing else).
/// let ca = std::fs::read("ca.der")?;
/// let connector = HttpConnector::with_root_certificates([ca]);
/// let client = ClientBuilder::new("https://events.internal/feed").build_with(connector)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [ureq]: https://docs.rs/ureq/3
/// [webpki roots]: https://docs.rs/webpki-roots
pub struct HttpConnector {
    agent: ureq::Agent,
    tls: TlsConfig,
    call: CallSlot,
}

impl fmt::Debug for HttpConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConnector")
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Default for HttpConnector {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for HttpConnector {
    /// A connector with the same TLS configuration and an agent of its
    /// own.
    fn clone(&self) -> Self {
        Self::with_tls_config(self.tls.clone())
    }
}

impl HttpConnector {
    /// A connector that trusts the webpki roots.
    pub fn new() -> Self {
        Self::with_tls_config(TlsConfig::default())
    }

    /// A connector that trusts only the given root certificates (DER), for
    /// a private certificate authority or a self-signed server. A
    /// certificate that does not parse is ignored.
    pub fn with_root_certificates<I>(roots: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let roots: Vec<Certificate<'static>> = roots
            .into_iter()
            .map(|der| Certificate::from_der(der.as_ref()).to_owned())
            .collect();
        Self::with_tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::new_with_certs(&roots))
                .build(),
        )
    }

    /// A connector with this TLS configuration (roots, client certificate,
    /// SNI, rustls crypto provider). Its provider must be
    /// [`TlsProvider::Rustls`](ureq::tls::TlsProvider::Rustls), the
    /// default: this crate builds ureq without native-tls.
    pub fn with_tls_config(tls: TlsConfig) -> Self {
        let config = ureq::Agent::config_builder()
            // The session classifies statuses and follows redirects.
            .http_status_as_error(false)
            .max_redirects(0)
            // Not even from the environment: this transport has no proxy
            // support, and an event stream must not be buffered.
            .proxy(None)
            // An encoded body would have to be decoded before the events
            // can be, and some decoders buffer.
            .accept_encoding("")
            .allow_non_standard_methods(true)
            // Every connection is new: the socket belongs to one stream.
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .tls_config(tls.clone())
            .build();
        let call = CallSlot::default();
        let connector = TcpConnector {
            call: Arc::clone(&call),
        }
        .chain(RustlsConnector::default());
        let agent = ureq::Agent::with_parts(config, connector, DefaultResolver::default());
        Self { agent, tls, call }
    }

    fn run<S: ureq::AsSendBody>(
        &self,
        request: http::Request<S>,
        connect: Duration,
    ) -> Result<http::Response<ureq::Body>, ureq::Error> {
        let request = self
            .agent
            .configure_request(request)
            .timeout_connect(Some(connect))
            .build();
        self.agent.run(request)
    }
}

/// An [`io::Error`] that keeps ureq's message, with a kind the client
/// understands (`TimedOut`: the deadline expired).
fn to_io(e: ureq::Error) -> io::Error {
    let kind = match &e {
        ureq::Error::Io(_) => return e.into_io(),
        ureq::Error::Timeout(_) => io::ErrorKind::TimedOut,
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => io::ErrorKind::InvalidInput,
        ureq::Error::HostNotFound => io::ErrorKind::NotFound,
        ureq::Error::Protocol(_) | ureq::Error::Tls(_) | ureq::Error::Rustls(_) => {
            io::ErrorKind::InvalidData
        }
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

impl Connect for HttpConnector {
    type Stream = HttpBody;

    fn connect(
        &mut self,
        request: &Request,
        timeouts: Timeouts,
        close: &CloseHandle,
    ) -> io::Result<Response<HttpBody>> {
        let start = Instant::now();
        let limit = Arc::new(ReadLimit::default());
        limit.set_deadline(timeouts.response.map(|t| start + t));
        let mut builder = http::Request::builder()
            .method(request.method.clone())
            .uri(request.url.as_str());
        if let Some(headers) = builder.headers_mut() {
            headers.extend(request.headers.clone());
        }
        let head = builder
            .body(())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        *lock_slot(&self.call) = Some(CallContext {
            close: close.clone(),
            limit: Arc::clone(&limit),
        });
        let result = match &request.body {
            Some(body) => {
                let (parts, ()) = head.into_parts();
                self.run(
                    http::Request::from_parts(parts, &body[..]),
                    timeouts.connect,
                )
            }
            None => self.run(head, timeouts.connect),
        };
        *lock_slot(&self.call) = None;
        let (parts, body) = result.map_err(to_io)?.into_parts();
        // The head is in: the body's reads set their own deadlines.
        limit.set_deadline(None);
        let body = HttpBody {
            reader: body.into_reader(),
            limit,
        };
        Ok(Response::new(parts.status, parts.headers, body))
    }
}

/// The body of an [`HttpConnector`] response, as framed by the server
/// (`Content-Length`, chunked, or the end of the connection).
pub struct HttpBody {
    reader: ureq::BodyReader<'static>,
    limit: Arc<ReadLimit>,
}

impl fmt::Debug for HttpBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpBody").finish_non_exhaustive()
    }
}

impl Read for HttpBody {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        // One deadline for the whole read, however many socket reads the
        // framing takes.
        self.limit.start_read(Instant::now());
        self.reader.read(out)
    }
}

impl Stream for HttpBody {
    /// Each following read fails with `TimedOut` when no body byte came
    /// within `timeout` (`None`: block). A zero timeout is refused, as by
    /// [`TcpStream::set_read_timeout`](std::net::TcpStream::set_read_timeout).
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        if timeout == Some(Duration::ZERO) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a zero read timeout; use None to block",
            ));
        }
        self.limit.set_timeout(timeout);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn connector_and_body_can_move_to_another_thread() {
        assert_send::<HttpConnector>();
        assert_send::<HttpBody>();
    }

    #[test]
    fn ureq_errors_keep_their_message_and_a_useful_kind() {
        let timeout = to_io(ureq::Error::Timeout(ureq::Timeout::Connect));
        assert_eq!(timeout.kind(), io::ErrorKind::TimedOut);
        let host = to_io(ureq::Error::HostNotFound);
        assert_eq!(host.kind(), io::ErrorKind::NotFound);
        assert!(host.to_string().contains("host"), "{host}");
        let io = to_io(ureq::Error::Io(io::ErrorKind::ConnectionRefused.into()));
        assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused);
    }
}
