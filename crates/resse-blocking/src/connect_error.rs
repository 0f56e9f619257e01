//! [`ConnectError`]: why a connection could not be opened, in words.

use std::error::Error;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// What kind of failure a [`ConnectError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectErrorKind {
    /// Nothing listens at the address (or a firewall said no): the peer
    /// refused the TCP connection.
    Refused,
    /// The host name did not resolve.
    Dns,
    /// The TLS handshake failed (an untrusted or mismatched certificate,
    /// a server that does not speak TLS).
    Tls,
    /// The connection (TCP, proxy tunnel and TLS handshake) took longer
    /// than the connect timeout.
    Timeout,
    /// The proxy answered but did not open the tunnel (e.g. `407 Proxy
    /// Authentication Required`), or cannot be used.
    Proxy,
}

/// A connection that could not be opened: its [`kind`](Self::kind), the
/// target and proxy addresses, and the underlying error as its
/// [`source`](Error::source).
///
/// Its `Display` says what happened and where, e.g. "connection refused
/// by 127.0.0.1:9", "could not resolve host nosuch.invalid: …", "TLS
/// handshake with 127.0.0.1:8443 failed: invalid peer certificate:
/// UnknownIssuer", "connect to 127.0.0.1:8080 timed out after 1s",
/// "proxy 127.0.0.1:3128 refused the connection".
///
/// The [`HttpConnector`](crate::HttpConnector) returns it inside an
/// [`io::Error`] (of kind `ConnectionRefused`, `NotFound`, `InvalidData`,
/// `TimedOut` or `Other`), which the [`Client`](crate::Client) keeps as
/// its [`last_error`](crate::Client::last_error): the `io::Error` shows
/// this message, and [`io::Error::get_ref`] gives this value back. A
/// failure once connected (a server that closes before answering, a
/// malformed response) is not one of these: it keeps ureq's message.
///
/// ```no_run
/// use resse_blocking::{ClientBuilder, ConnectError};
///
/// let mut client = ClientBuilder::new("http://127.0.0.1:9/events").build()?;
/// client.next_event();
/// if let Some(e) = client.last_error() {
///     eprintln!("{e}"); // connection refused by 127.0.0.1:9 (...)
///     let connect = e.get_ref().and_then(|e| e.downcast_ref::<ConnectError>());
///     println!("{:?}", connect.map(|c| c.kind()));
/// }
/// # Ok::<(), resse_blocking::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ConnectError {
    kind: ConnectErrorKind,
    target: String,
    proxy: Option<String>,
    timeout: Option<Duration>,
    detail: String,
    source: Arc<dyn Error + Send + Sync>,
}

impl ConnectError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ConnectErrorKind {
        self.kind
    }

    /// The `host:port` the request was for.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The proxy's `host:port`, when the connection went through one.
    pub fn proxy(&self) -> Option<&str> {
        self.proxy.as_deref()
    }

    pub(crate) fn new(
        kind: ConnectErrorKind,
        target: String,
        proxy: Option<String>,
        timeout: Option<Duration>,
        detail: String,
        source: Arc<dyn Error + Send + Sync>,
    ) -> Self {
        Self {
            kind,
            target,
            proxy,
            timeout,
            detail,
            source,
        }
    }

    /// The [`io::ErrorKind`] that carries it.
    pub(crate) fn io_kind(&self) -> io::ErrorKind {
        match self.kind {
            ConnectErrorKind::Refused => io::ErrorKind::ConnectionRefused,
            ConnectErrorKind::Dns => io::ErrorKind::NotFound,
            ConnectErrorKind::Tls => io::ErrorKind::InvalidData,
            ConnectErrorKind::Timeout => io::ErrorKind::TimedOut,
            ConnectErrorKind::Proxy => io::ErrorKind::Other,
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = &self.target;
        let detail = &self.detail;
        let via = match &self.proxy {
            Some(p) => format!(" through proxy {p}"),
            None => String::new(),
        };
        match (self.kind, &self.proxy) {
            (ConnectErrorKind::Refused, Some(proxy)) => {
                write!(
                    f,
                    "proxy {proxy} refused the connection (is it running there?)"
                )
            }
            (ConnectErrorKind::Refused, None) => write!(
                f,
                "connection refused by {target} (is the server running and listening there?)"
            ),
            (ConnectErrorKind::Dns, Some(proxy)) => {
                write!(f, "could not resolve proxy host {}: {detail}", host(proxy))
            }
            (ConnectErrorKind::Dns, None) => {
                write!(f, "could not resolve host {}: {detail}", host(target))
            }
            (ConnectErrorKind::Tls, _) => {
                write!(f, "TLS handshake with {target}{via} failed: {detail}")
            }
            (ConnectErrorKind::Timeout, _) => match self.timeout {
                Some(t) => write!(f, "connect to {target}{via} timed out after {t:?}"),
                None => write!(f, "connect to {target}{via} timed out"),
            },
            (ConnectErrorKind::Proxy, Some(proxy)) => {
                write!(
                    f,
                    "proxy {proxy} did not open a tunnel to {target}: {detail}"
                )
            }
            (ConnectErrorKind::Proxy, None) => {
                write!(f, "could not connect to {target}: {detail}")
            }
        }
    }
}

impl Error for ConnectError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.source)
    }
}

/// What to do about a proxy that wants credentials.
pub(crate) const CREDENTIALS_HINT: &str =
    "give the proxy's credentials in its URL: http://user:password@host:port";

/// The host of a `host:port`.
fn host(host_port: &str) -> &str {
    host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
}

/// A name resolution failure (marks the resolver's errors).
#[derive(Debug)]
pub(crate) struct DnsError(pub(crate) io::Error);

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Error for DnsError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}
