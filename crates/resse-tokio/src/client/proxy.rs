//! HTTP proxies: the [`Proxy`] setting, and the connector step that goes
//! through one (hyper-util's [`Matcher`] decides, its [`Tunnel`] sends
//! `CONNECT`).

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use http::uri::Scheme;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::dns::{GaiAddrs, GaiResolver, Name};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

use super::error::{DnsError, TunnelFailed};
use crate::BoxError;

/// An HTTP proxy to send every request through, given as a URL:
/// `http://[user:password@]host[:port]` (the port defaults to 80; a URL
/// without a scheme is taken as `http://`). User and password are
/// percent-decoded and sent as `Proxy-Authorization: Basic`.
///
/// Set it with [`ClientBuilder::proxy`](super::ClientBuilder::proxy) or
/// [`HyperConnectorBuilder::proxy`](super::HyperConnectorBuilder::proxy).
/// Without one, the client reads the proxy from the environment, as curl
/// does: see [`HyperConnectorBuilder::proxy_from_env`](super::HyperConnectorBuilder::proxy_from_env).
///
/// ```
/// use resse_tokio::client::Proxy;
///
/// let proxy = Proxy::new("http://user:secret@127.0.0.1:3128")?
///     .no_proxy("localhost, .internal.example, 10.0.0.0/8");
/// assert_eq!(proxy.authority(), "127.0.0.1:3128");
/// assert!(Proxy::new("socks5://127.0.0.1:1080").is_err());
/// # Ok::<(), resse_tokio::client::InvalidProxy>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    /// The URL, credentials included, normalized to `http://…`.
    url: String,
    /// `host:port`, for messages.
    authority: String,
    /// The exceptions, in `NO_PROXY` syntax.
    no_proxy: String,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the credentials.
        f.debug_struct("Proxy")
            .field("authority", &self.authority)
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

impl Proxy {
    /// Parses a proxy URL.
    ///
    /// # Errors
    /// [`InvalidProxy`] when the URL does not parse, has no host, or names
    /// a scheme other than `http` (`https://` and SOCKS proxies are not
    /// supported).
    pub fn new(url: &str) -> Result<Self, InvalidProxy> {
        let (url, authority) = parse_proxy_url(url)?;
        Ok(Self {
            url,
            authority,
            no_proxy: String::new(),
        })
    }

    /// Hosts to reach directly, in the syntax of the `NO_PROXY` environment
    /// variable: comma-separated host names (each also matches its
    /// subdomains; a leading `.` is allowed), IP addresses, CIDR blocks
    /// (`10.0.0.0/8`), or `*` for every host. Replaces any earlier list.
    pub fn no_proxy(mut self, list: &str) -> Self {
        self.no_proxy = list.to_owned();
        self
    }

    /// The proxy's `host:port`.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    pub(crate) fn matcher(&self) -> Matcher {
        Matcher::builder()
            .all(self.url.clone())
            .no(self.no_proxy.clone())
            .build()
    }
}

/// A proxy URL that cannot be used: what is wrong with it, and the URL
/// (its password hidden).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidProxy {
    url: String,
    reason: &'static str,
}

impl fmt::Display for InvalidProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid proxy URL `{}`: {}", self.url, self.reason)
    }
}

impl std::error::Error for InvalidProxy {}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return redact_authority(url);
    };
    format!("{scheme}://{}", redact_authority(rest))
}

fn redact_authority(rest: &str) -> String {
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{user}:***@{host}{}", &rest[end..])
        }
        None => rest.to_owned(),
    }
}

/// The normalized URL and `host:port` of an `http://` proxy.
fn parse_proxy_url(url: &str) -> Result<(String, String), InvalidProxy> {
    let invalid = |reason| InvalidProxy {
        url: redact(url),
        reason,
    };
    let trimmed = url.trim();
    if trimmed.is_empty() {
        return Err(invalid("it is empty; give http://host:port"));
    }
    let full = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("http://{trimmed}")
    };
    let uri: Uri = full
        .parse()
        .map_err(|_| invalid("it does not parse as a URL; give http://host:port"))?;
    if !uri
        .scheme_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("http"))
    {
        return Err(invalid(
            "only http:// proxies are supported (no https:// or SOCKS proxy)",
        ));
    }
    let authority = uri
        .authority()
        .filter(|a| !a.host().is_empty())
        .ok_or_else(|| invalid("it has no host; give http://host:port"))?;
    let port = authority.port_u16().unwrap_or(80);
    Ok((full, format!("{}:{port}", authority.host())))
}

/// `host:port` of a URI, the port defaulting to its scheme's.
pub(crate) fn host_port(uri: &Uri) -> String {
    let host = uri.host().unwrap_or_default();
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme() == Some(&Scheme::HTTPS) {
            443
        } else {
            80
        });
    format!("{host}:{port}")
}

/// The resolver of the connector: the system's (`getaddrinfo`), its
/// failures marked as name resolution failures.
#[derive(Clone)]
pub(crate) struct Resolver(GaiResolver);

impl Resolver {
    pub(crate) fn new() -> Self {
        Self(GaiResolver::new())
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resolver")
    }
}

impl Service<Name> for Resolver {
    type Response = GaiAddrs;
    type Error = DnsError;
    type Future = Pin<Box<dyn Future<Output = Result<GaiAddrs, DnsError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), DnsError>> {
        self.0.poll_ready(cx).map_err(DnsError)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let resolving = self.0.call(name);
        Box::pin(async move { resolving.await.map_err(DnsError) })
    }
}

/// The TCP step of the connector: straight to the target, or to the proxy
/// the matcher picks for it. `https://` targets (and every target with
/// `tunnel_http`) go through a `CONNECT` tunnel; `http://` targets get a
/// connection to the proxy marked as proxied, so that hyper sends the
/// request in absolute form.
#[derive(Clone, Debug)]
pub(crate) struct ProxyConnect {
    pub(crate) http: HttpConnector<Resolver>,
    pub(crate) proxy: Option<Arc<Matcher>>,
    pub(crate) tunnel_http: bool,
}

impl Service<Uri> for ProxyConnect {
    type Response = ProxyStream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<ProxyStream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let intercept = self.proxy.as_ref().and_then(|m| m.intercept(&dst));
        let mut http = self.http.clone();
        let tunnel_http = self.tunnel_http;
        Box::pin(async move {
            let Some(proxy) = intercept else {
                let io = http.call(dst).await?;
                return Ok(ProxyStream { io, proxied: false });
            };
            if proxy.uri().scheme() != Some(&Scheme::HTTP) {
                return Err(TunnelFailed(
                    "the proxy from the environment is not an http:// proxy (https:// and SOCKS \
                     proxies are not supported); set one with `proxy` or turn the lookup off \
                     with `proxy_from_env(false)`"
                        .into(),
                )
                .into());
            }
            if dst.scheme() == Some(&Scheme::HTTPS) || tunnel_http {
                let io = tunnel(http, &proxy, &dst).await?;
                Ok(ProxyStream { io, proxied: false })
            } else {
                let io = http.call(proxy.uri().clone()).await?;
                Ok(ProxyStream { io, proxied: true })
            }
        })
    }
}

/// Opens a `CONNECT` tunnel to `dst` through `proxy`.
async fn tunnel(
    http: HttpConnector<Resolver>,
    proxy: &Intercept,
    dst: &Uri,
) -> Result<TokioIo<TcpStream>, BoxError> {
    // The tunnel needs the port (it assumes 443 when there is none).
    let target: Uri = format!(
        "{}://{}/",
        dst.scheme_str().unwrap_or("http"),
        host_port(dst)
    )
    .parse()
    .map_err(|e| TunnelFailed(Box::new(e)))?;
    let mut tunnel = Tunnel::new(proxy.uri().clone(), http);
    if let Some(auth) = proxy.basic_auth() {
        tunnel = tunnel.with_auth(auth.clone());
    }
    tunnel
        .call(target)
        .await
        .map_err(|e| TunnelFailed(Box::new(e)).into())
}

/// A TCP connection, to the target or to a proxy that forwards the
/// requests written to it (`proxied`: hyper then writes them in absolute
/// form).
#[derive(Debug)]
pub(crate) struct ProxyStream {
    io: TokioIo<TcpStream>,
    proxied: bool,
}

impl Connection for ProxyStream {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.proxied)
    }
}

impl Read for ProxyStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl Write for ProxyStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_are_checked_and_normalized() {
        let p = Proxy::new("user:pw@127.0.0.1:3128").unwrap();
        assert_eq!(p.authority(), "127.0.0.1:3128");
        assert!(!format!("{p:?}").contains("pw"));
        assert_eq!(Proxy::new("http://proxy").unwrap().authority(), "proxy:80");
        let e = Proxy::new("socks5://u:secret@127.0.0.1:1080").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("only http:// proxies"), "{msg}");
        assert!(!msg.contains("secret"), "{msg}");
        assert!(Proxy::new("").is_err());
        assert!(Proxy::new("http://").is_err());
        assert!(Proxy::new("http://a b:1").is_err());
    }
}
