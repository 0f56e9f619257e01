//! [`ConnectError`]: why a connection could not be opened, in words. The
//! adapters classify their HTTP library's errors into its
//! [`ConnectErrorKind`]; the messages are the same for all of them.

use std::error::Error;
use std::fmt;
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
    /// Anything else.
    Other,
}

/// A connection that could not be opened: its [`kind`](Self::kind), the
/// target and proxy addresses, and the underlying error as its
/// [`source`](Error::source).
///
/// Its `Display` says what happened and where, e.g. "connection refused
/// by 127.0.0.1:9", "could not resolve host nosuch.invalid: …", "TLS
/// handshake with 127.0.0.1:8443 failed: invalid peer certificate:
/// UnknownIssuer", "connect to 127.0.0.1:8080 timed out after 1s",
/// "proxy 127.0.0.1:3128 refused the connection". An adapter makes one
/// from its HTTP library's error: [`new`](Self::new) with the kind it
/// found, then the proxy and the timeout when they apply.
///
/// ```
/// use std::io;
/// use std::sync::Arc;
/// use resse_session::{ConnectError, ConnectErrorKind};
///
/// let io = io::Error::from(io::ErrorKind::ConnectionRefused);
/// let e = ConnectError::new(ConnectErrorKind::Refused, "127.0.0.1:9", io.to_string(), Arc::new(io));
/// assert_eq!(
///     e.to_string(),
///     "connection refused by 127.0.0.1:9 (is the server running and listening there?)"
/// );
/// let e = e.with_proxy("127.0.0.1:3128".to_owned());
/// assert_eq!(e.to_string(), "proxy 127.0.0.1:3128 refused the connection (is it running there?)");
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
    /// A failure of `kind` to connect to `target` (its `host:port`):
    /// `detail` says what happened in words (it follows the colon in the
    /// message, e.g. the resolver's or the TLS library's message), and
    /// `source` is the error it comes from.
    pub fn new(
        kind: ConnectErrorKind,
        target: impl Into<String>,
        detail: impl Into<String>,
        source: Arc<dyn Error + Send + Sync>,
    ) -> Self {
        Self {
            kind,
            target: target.into(),
            proxy: None,
            timeout: None,
            detail: detail.into(),
            source,
        }
    }

    /// The connection went through the proxy at this `host:port` (`None`:
    /// directly).
    #[must_use]
    pub fn with_proxy(mut self, proxy: impl Into<Option<String>>) -> Self {
        self.proxy = proxy.into();
        self
    }

    /// The connect timeout, named by the message of a
    /// [`Timeout`](ConnectErrorKind::Timeout).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

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
            _ => write!(f, "could not connect to {target}{via}: {detail}"),
        }
    }
}

impl Error for ConnectError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.source)
    }
}

/// What to do about a proxy that wants credentials (`407 Proxy
/// Authentication Required`): the adapters add it to the detail of such a
/// [`ConnectError`].
pub const PROXY_CREDENTIALS_HINT: &str =
    "give the proxy's credentials in its URL: http://user:password@host:port";

/// `host:port` of a request URI, the port defaulting to its scheme's (443
/// for `https`, else 80): how a [`ConnectError`] names its target, and the
/// authority a `CONNECT` tunnel asks for.
///
/// ```
/// use resse_session::target_authority;
///
/// let uri = "https://example.com/events".parse()?;
/// assert_eq!(target_authority(&uri), "example.com:443");
/// let uri = "http://127.0.0.1:8080/events".parse()?;
/// assert_eq!(target_authority(&uri), "127.0.0.1:8080");
/// # Ok::<(), http::uri::InvalidUri>(())
/// ```
pub fn target_authority(uri: &http::Uri) -> String {
    let host = uri.host().unwrap_or_default();
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    format!("{host}:{port}")
}

/// The host of a `host:port`.
fn host(host_port: &str) -> &str {
    host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
}

/// `error` and its sources, for an adapter to look for its library's
/// errors in: an [`io::Error`](std::io::Error) is followed by the error
/// it wraps (its own `source()` skips that one).
pub fn error_chain<'a>(
    error: &'a (dyn Error + 'static),
) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&e| match e.downcast_ref::<std::io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn Error + 'static)),
        None => e.source(),
    })
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;
    use ConnectErrorKind::*;

    fn error(kind: ConnectErrorKind, detail: &str) -> ConnectError {
        let source = Arc::new(io::Error::other(detail.to_owned()));
        ConnectError::new(kind, "example.com:443", detail, source)
    }

    #[test]
    fn each_kind_says_what_happened_and_where() {
        let proxy = || Some("127.0.0.1:3128".to_owned());
        let cases = [
            (
                error(Refused, "refused"),
                "connection refused by example.com:443 (is the server running and listening there?)",
            ),
            (
                error(Refused, "refused").with_proxy(proxy()),
                "proxy 127.0.0.1:3128 refused the connection (is it running there?)",
            ),
            (
                error(Dns, "no such host"),
                "could not resolve host example.com: no such host",
            ),
            (
                error(Dns, "no such host").with_proxy(proxy()),
                "could not resolve proxy host 127.0.0.1: no such host",
            ),
            (
                error(Tls, "bad certificate").with_proxy(proxy()),
                "TLS handshake with example.com:443 through proxy 127.0.0.1:3128 failed: bad \
                 certificate",
            ),
            (
                error(Timeout, "").with_timeout(Duration::from_secs(1)),
                "connect to example.com:443 timed out after 1s",
            ),
            (
                error(Timeout, "").with_proxy(proxy()),
                "connect to example.com:443 through proxy 127.0.0.1:3128 timed out",
            ),
            (
                error(Proxy, "it answered 403 Forbidden").with_proxy(proxy()),
                "proxy 127.0.0.1:3128 did not open a tunnel to example.com:443: it answered 403 \
                 Forbidden",
            ),
            (
                error(Proxy, "unusable"),
                "could not connect to example.com:443: unusable",
            ),
            (
                error(Other, "reset").with_proxy(proxy()),
                "could not connect to example.com:443 through proxy 127.0.0.1:3128: reset",
            ),
        ];
        for (e, message) in cases {
            assert_eq!(e.to_string(), message);
        }
        let e = error(Refused, "refused").with_proxy(None);
        assert_eq!(e.kind(), Refused);
        assert_eq!(e.target(), "example.com:443");
        assert_eq!(e.proxy(), None);
        assert_eq!(e.source().unwrap().to_string(), "refused");
    }

    #[test]
    fn the_chain_looks_inside_io_errors() {
        let outer = io::Error::other(error(Dns, "no such host"));
        let found = error_chain(&outer).find_map(|e| e.downcast_ref::<ConnectError>());
        assert_eq!(found.map(ConnectError::kind), Some(Dns));
        // And on to the sources of what it wraps.
        assert!(error_chain(&outer).any(|e| e.to_string() == "no such host"));
    }
}
