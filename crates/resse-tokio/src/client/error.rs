//! [`ConnectError`]: why a connection could not be opened, in words.

use std::error::Error;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::BoxError;

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
/// "proxy 127.0.0.1:3128 refused the connection". The
/// [`HyperConnector`](super::HyperConnector) fails with it, and the
/// [`Client`](super::Client) keeps it as its
/// [`last_error`](super::Client::last_error) (downcast the `BoxError` to
/// read its fields).
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

    /// A connection that took longer than `timeout`.
    pub(crate) fn timed_out(target: String, proxy: Option<String>, timeout: Duration) -> Self {
        Self {
            kind: ConnectErrorKind::Timeout,
            target,
            proxy,
            timeout: Some(timeout),
            detail: String::new(),
            source: Arc::new(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no connection within {timeout:?}"),
            )),
        }
    }

    /// Classifies `error` by walking its chain of sources.
    pub(crate) fn classify(
        error: BoxError,
        target: String,
        proxy: Option<String>,
        timeout: Duration,
    ) -> Self {
        let mut found: Option<(ConnectErrorKind, String)> = None;
        let mut tunnel = false;
        for e in chain(&*error) {
            let hit = if let Some(dns) = e.downcast_ref::<DnsError>() {
                Some((ConnectErrorKind::Dns, dns.0.to_string()))
            } else if let Some(tls) = as_tls(e) {
                Some((ConnectErrorKind::Tls, tls))
            } else if let Some(io) = e.downcast_ref::<io::Error>() {
                match io.kind() {
                    io::ErrorKind::ConnectionRefused => {
                        Some((ConnectErrorKind::Refused, io.to_string()))
                    }
                    io::ErrorKind::TimedOut => Some((ConnectErrorKind::Timeout, io.to_string())),
                    _ => None,
                }
            } else {
                tunnel |= e.is::<TunnelFailed>();
                None
            };
            // The first DNS or TLS failure wins; an I/O kind only until
            // one of those shows up deeper.
            match (&found, hit) {
                (_, Some(hit))
                    if matches!(hit.0, ConnectErrorKind::Dns | ConnectErrorKind::Tls) =>
                {
                    found = Some(hit);
                    break;
                }
                (None, Some(hit)) => found = Some(hit),
                _ => {}
            }
        }
        let (kind, detail) = found.unwrap_or_else(|| {
            let mut detail = describe(&*error);
            if !tunnel {
                return (ConnectErrorKind::Other, detail);
            }
            if detail.ends_with("proxy authorization required") {
                detail.push_str(" (");
                detail.push_str(CREDENTIALS_HINT);
                detail.push(')');
            }
            (ConnectErrorKind::Proxy, detail)
        });
        Self {
            kind,
            target,
            proxy,
            timeout: (kind == ConnectErrorKind::Timeout).then_some(timeout),
            detail,
            source: Arc::from(error),
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
            _ => write!(f, "could not connect to {target}{via}: {detail}"),
        }
    }
}

impl Error for ConnectError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.source)
    }
}

/// What to do about a proxy that wants credentials.
const CREDENTIALS_HINT: &str =
    "give the proxy's credentials in its URL: http://user:password@host:port";

/// The host of a `host:port`.
fn host(host_port: &str) -> &str {
    host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
}

/// `error` and its sources; an `io::Error` is followed by the error it
/// wraps (its own `source()` skips that one).
fn chain<'a>(error: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&e| match e.downcast_ref::<io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn Error + 'static)),
        None => e.source(),
    })
}

/// The messages of the chain, joined, repeated ones left out.
fn describe(error: &(dyn Error + 'static)) -> String {
    let mut out = String::new();
    for e in chain(error) {
        let msg = e.to_string();
        if !msg.is_empty() && !out.contains(&msg) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&msg);
        }
    }
    out
}

#[cfg(feature = "rustls")]
fn as_tls(e: &(dyn Error + 'static)) -> Option<String> {
    e.downcast_ref::<rustls::Error>().map(ToString::to_string)
}

#[cfg(not(feature = "rustls"))]
fn as_tls(_: &(dyn Error + 'static)) -> Option<String> {
    None
}

/// A name resolution failure (marks the resolver's errors).
#[derive(Debug)]
pub(crate) struct DnsError(pub(crate) io::Error);

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "name resolution failed: {}", self.0)
    }
}

impl Error for DnsError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

/// The proxy did not open a tunnel (marks the tunnel's errors).
#[derive(Debug)]
pub(crate) struct TunnelFailed(pub(crate) BoxError);

impl fmt::Display for TunnelFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Error for TunnelFailed {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_names_the_address_and_keeps_the_source() {
        let io: BoxError = Box::new(io::Error::from(io::ErrorKind::ConnectionRefused));
        let e = ConnectError::classify(io, "127.0.0.1:9".into(), None, Duration::from_secs(1));
        assert_eq!(e.kind(), ConnectErrorKind::Refused);
        assert!(
            e.to_string()
                .starts_with("connection refused by 127.0.0.1:9")
        );
        assert!(e.source().is_some());
    }

    #[test]
    fn a_wrapped_dns_failure_is_found_deep_in_the_chain() {
        let dns = DnsError(io::Error::other("no such host"));
        let outer: BoxError = Box::new(io::Error::other(dns));
        let e = ConnectError::classify(outer, "x.invalid:80".into(), None, Duration::from_secs(1));
        assert_eq!(e.kind(), ConnectErrorKind::Dns);
        assert_eq!(
            e.to_string(),
            "could not resolve host x.invalid: no such host"
        );
    }
}
