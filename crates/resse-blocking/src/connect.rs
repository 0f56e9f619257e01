//! [`Connect`], [`Body`] and the default [`HttpConnector`]: ureq 3 over
//! this crate's TCP transport, rustls for `https://`.

use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode, Uri};
use resse_session::{PROXY_CREDENTIALS_HINT, ProxyConfig, Request, error_chain, target_authority};
use ureq::config::Config;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    ConnectProxyConnector, Connector, NextTimeout, RustlsConnector,
};

use crate::CloseHandle;
use crate::connect_error::{ConnectError, ConnectErrorKind, DnsError, into_io};
use crate::proxy::{self, Proxy};
use crate::transport::{CallContext, CallSlot, ReadDeadline, ReadLimit, TcpConnector, lock_slot};

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
pub trait Body: Read {
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
    type Body: Body;

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
    ) -> io::Result<Response<Self::Body>>;
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
/// so the body streams as it arrives. No connection reuse: an event
/// stream holds its connection anyway.
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
/// # Proxies
///
/// By default it honours the proxy environment variables as curl and
/// reqwest do (read once, when the connector is made): `HTTPS_PROXY` for
/// `https://` URLs, `HTTP_PROXY` for `http://` URLs, `ALL_PROXY` for
/// both when the specific one is unset, lower-case forms too, and
/// `NO_PROXY` for the hosts to reach directly (host names with their
/// subdomains, IP addresses, CIDR blocks, `*`). They are all ignored
/// when `REQUEST_METHOD` is set (a CGI script, where `HTTP_PROXY` could
/// come from a request header). An unparsable value is ignored. Only
/// `http://` proxies are supported: a request for which the environment
/// names another kind fails rather than going around it. The rules are
/// `resse-session`'s
/// [`ProxyConfig::from_env_with`](resse_session::ProxyConfig::from_env_with),
/// the same for every adapter.
///
/// Every request through a proxy, `http://` or `https://`, goes through
/// a `CONNECT` tunnel (ureq's), with `Proxy-Authorization: Basic` when
/// the proxy URL has credentials; TLS runs end to end inside the tunnel.
/// The connection to the proxy is this crate's transport, so the
/// deadlines and [`CloseHandle::close`] work as without a proxy.
/// [`proxy`](Self::proxy) sets a proxy explicitly and
/// [`proxy_from_env`](Self::proxy_from_env) turns the lookup off.
///
/// # Errors
///
/// A connection that cannot be opened (refused, a host that does not
/// resolve, a failed TLS handshake, a connect timeout, a proxy that does
/// not open the tunnel) fails with an [`io::Error`] around a
/// [`ConnectError`] that names the cause and the address.
///
/// [ureq]: https://docs.rs/ureq/3
/// [webpki roots]: https://docs.rs/webpki-roots
pub struct HttpConnector {
    agent: ureq::Agent,
    tls: TlsConfig,
    call: CallSlot,
    /// The proxy rules; `None`: every request goes direct.
    proxies: Option<Arc<ProxyConfig>>,
    /// Whether [`proxy`](Self::proxy) set them.
    explicit_proxy: bool,
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
    /// A connector with the same TLS and proxy configuration and an agent
    /// of its own.
    fn clone(&self) -> Self {
        let mut clone = Self::with_parts(self.tls.clone(), self.proxies.clone());
        clone.explicit_proxy = self.explicit_proxy;
        clone
    }
}

impl HttpConnector {
    /// A connector that trusts the webpki roots and takes the proxy from
    /// the environment.
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
        Self::with_parts(tls, Some(Arc::new(proxy::from_env())))
    }

    /// Sends every request through `proxy` (except to the hosts of its
    /// [`no_proxy`](Proxy::no_proxy) list); the proxy environment
    /// variables are then not used. See [Proxies](Self#proxies).
    ///
    /// ```
    /// use resse_blocking::{HttpConnector, Proxy};
    ///
    /// let connector = HttpConnector::new().proxy(Proxy::new("http://proxy.internal:3128")?);
    /// # Ok::<(), resse_blocking::InvalidProxy>(())
    /// ```
    #[must_use]
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxies = Some(Arc::new(ProxyConfig::explicit(proxy)));
        self.explicit_proxy = true;
        self
    }

    /// Whether to use the proxy from the environment (`HTTPS_PROXY`,
    /// `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`; read when the connector was
    /// made, and again by `proxy_from_env(true)`) when no
    /// [`proxy`](Self::proxy) is set. On by default; `false` connects
    /// directly.
    #[must_use]
    pub fn proxy_from_env(mut self, yes: bool) -> Self {
        if !self.explicit_proxy {
            self.proxies = yes.then(|| Arc::new(proxy::from_env()));
        }
        self
    }

    fn with_parts(tls: TlsConfig, proxies: Option<Arc<ProxyConfig>>) -> Self {
        let config = ureq::Agent::config_builder()
            // The session classifies statuses and follows redirects.
            .http_status_as_error(false)
            .max_redirects(0)
            // Not from ureq's reading of the environment (one proxy for
            // every scheme): each request is given its own.
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
        // ureq's default chain, with this crate's TCP transport: the proxy
        // step makes its connection to the proxy by running this chain.
        let connector = ConnectProxyConnector::default()
            .chain(TcpConnector {
                call: Arc::clone(&call),
            })
            .chain(RustlsConnector::default());
        let agent = ureq::Agent::with_parts(config, connector, MarkDns::default());
        Self {
            agent,
            tls,
            call,
            proxies,
            explicit_proxy: false,
        }
    }

    fn run<S: ureq::AsSendBody>(
        &self,
        request: http::Request<S>,
        connect: Duration,
        proxy: Option<&ureq::Proxy>,
    ) -> Result<http::Response<ureq::Body>, ureq::Error> {
        let request = self
            .agent
            .configure_request(request)
            .timeout_connect(Some(connect))
            .proxy(proxy.cloned())
            .build();
        self.agent.run(request)
    }
}

/// ureq's resolver, its failures marked as name resolution failures.
#[derive(Debug, Default)]
struct MarkDns(DefaultResolver);

impl Resolver for MarkDns {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        self.0.resolve(uri, config, timeout).map_err(|e| match e {
            ureq::Error::Io(e) => ureq::Error::Io(io::Error::new(e.kind(), DnsError(e))),
            e => e,
        })
    }
}

/// The kind of connect failure behind an I/O error, and what to say.
fn classify_io(error: &io::Error) -> Option<(ConnectErrorKind, String)> {
    for e in error_chain(error) {
        if let Some(dns) = e.downcast_ref::<DnsError>() {
            return Some((ConnectErrorKind::Dns, dns.to_string()));
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some((ConnectErrorKind::Tls, tls.to_string()));
        }
        if e.is::<ReadDeadline>() {
            // The response deadline (the session's), not a connect timeout.
            return None;
        }
    }
    match error.kind() {
        io::ErrorKind::ConnectionRefused => Some((ConnectErrorKind::Refused, error.to_string())),
        io::ErrorKind::TimedOut => Some((ConnectErrorKind::Timeout, error.to_string())),
        _ => None,
    }
}

/// What ureq says of a proxy that did not open the tunnel, in words
/// ("proxy server responded 407/407": the status and its reason).
fn proxy_detail(why: &str) -> String {
    let status = why
        .strip_prefix("proxy server responded ")
        .and_then(|rest| rest.split('/').next())
        .and_then(|code| code.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok());
    match status {
        Some(StatusCode::PROXY_AUTHENTICATION_REQUIRED) => {
            format!("it answered 407 Proxy Authentication Required ({PROXY_CREDENTIALS_HINT})")
        }
        Some(status) => format!(
            "it answered {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or_default()
        ),
        None => why.to_owned(),
    }
}

/// A [`ConnectError`] in an [`io::Error`] when `e` is a failure to
/// connect, else the error as [`to_io`] makes it.
fn classify(e: ureq::Error, target: String, proxy: Option<String>, timeout: Duration) -> io::Error {
    let found = match &e {
        ureq::Error::HostNotFound => {
            Some((ConnectErrorKind::Dns, "the name has no address".to_owned()))
        }
        ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => {
            Some((ConnectErrorKind::Timeout, String::new()))
        }
        ureq::Error::Rustls(tls) => Some((ConnectErrorKind::Tls, tls.to_string())),
        ureq::Error::Tls(what) => Some((ConnectErrorKind::Tls, (*what).to_owned())),
        ureq::Error::ConnectProxyFailed(why) => Some((ConnectErrorKind::Proxy, proxy_detail(why))),
        ureq::Error::Io(io) => classify_io(io),
        _ => None,
    };
    let Some((kind, detail)) = found else {
        return to_io(e);
    };
    // Whole milliseconds: the timeout may be the time left to a deadline.
    let timeout = Duration::from_millis(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
    let mut error = ConnectError::new(kind, target, detail, Arc::new(e)).with_proxy(proxy);
    if kind == ConnectErrorKind::Timeout {
        error = error.with_timeout(timeout);
    }
    into_io(error)
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
    type Body = HttpBody;

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
        let target = target_authority(head.uri());
        let proxy = match self.proxies.as_deref() {
            Some(config) => proxy::for_uri(config, head.uri(), &target).map_err(into_io)?,
            None => None,
        };
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
                    proxy.as_ref().map(|(ureq, _)| ureq),
                )
            }
            None => self.run(head, timeouts.connect, proxy.as_ref().map(|(ureq, _)| ureq)),
        };
        *lock_slot(&self.call) = None;
        let via = proxy.map(|(_, authority)| authority);
        let (parts, body) = result
            .map_err(|e| classify(e, target, via, timeouts.connect))?
            .into_parts();
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

impl Body for HttpBody {
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
