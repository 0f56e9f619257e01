//! [`ConnectError`] (from `resse-session`): the connector's failures,
//! classified by looking into hyper-util's, the resolver's, rustls' and
//! the I/O errors.

use std::error::Error;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

pub use resse_session::{ConnectError, ConnectErrorKind};
use resse_session::{PROXY_CREDENTIALS_HINT, error_chain};

use crate::BoxError;

/// A connection that took longer than `timeout`.
pub(crate) fn timed_out(target: String, proxy: Option<String>, timeout: Duration) -> ConnectError {
    let source = io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no connection within {timeout:?}"),
    );
    ConnectError::new(ConnectErrorKind::Timeout, target, "", Arc::new(source))
        .with_proxy(proxy)
        .with_timeout(timeout)
}

/// Classifies `error` by walking its chain of sources.
pub(crate) fn classify(
    error: BoxError,
    target: String,
    proxy: Option<String>,
    timeout: Duration,
) -> ConnectError {
    let mut found: Option<(ConnectErrorKind, String)> = None;
    let mut tunnel = false;
    for e in error_chain(&*error) {
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
            (_, Some(hit)) if matches!(hit.0, ConnectErrorKind::Dns | ConnectErrorKind::Tls) => {
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
            detail.push_str(PROXY_CREDENTIALS_HINT);
            detail.push(')');
        }
        (ConnectErrorKind::Proxy, detail)
    });
    let error = ConnectError::new(kind, target, detail, Arc::from(error)).with_proxy(proxy);
    if kind == ConnectErrorKind::Timeout {
        error.with_timeout(timeout)
    } else {
        error
    }
}

/// The messages of the chain, joined, repeated ones left out.
fn describe(error: &(dyn Error + 'static)) -> String {
    let mut out = String::new();
    for e in error_chain(error) {
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
        let e = classify(io, "127.0.0.1:9".into(), None, Duration::from_secs(1));
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
        let e = classify(outer, "x.invalid:80".into(), None, Duration::from_secs(1));
        assert_eq!(e.kind(), ConnectErrorKind::Dns);
        assert_eq!(
            e.to_string(),
            "could not resolve host x.invalid: no such host"
        );
    }
}
