//! HTTP proxies: the connector step that goes through one. Which proxy a
//! request goes through is `resse-session`'s [`ProxyConfig`] (curl's
//! rules); hyper-util's [`Tunnel`] sends `CONNECT`.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::uri::Scheme;
use http::{HeaderValue, Uri};
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::dns::{GaiAddrs, GaiResolver, Name};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
pub use resse_session::{InvalidProxy, Proxy};
use resse_session::{ProxyConfig, target_authority};
use tokio::net::TcpStream;
use tower_service::Service;

use super::error::{DnsError, TunnelFailed};
use crate::BoxError;

/// The proxy environment variables, as curl reads them (see
/// [`ProxyConfig::from_env_with`]).
pub(crate) fn from_env() -> ProxyConfig {
    ProxyConfig::from_env_with(|name| std::env::var(name).ok())
}

/// The proxy for a request to `dst` (`None`: directly), or why the one
/// configured for it cannot be used.
pub(crate) fn choose(
    config: Option<&ProxyConfig>,
    dst: &Uri,
) -> Option<Result<Proxy, InvalidProxy>> {
    config?
        .for_uri(dst)
        .map(|chosen| chosen.cloned().map_err(Clone::clone))
}

/// The `Proxy-Authorization` value for `proxy`, when its URL has
/// credentials.
pub(crate) fn authorization(proxy: &Proxy) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(proxy.basic_auth()?).ok()?;
    value.set_sensitive(true);
    Some(value)
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
/// the configuration picks for it. `https://` targets (and every target with
/// `tunnel_http`) go through a `CONNECT` tunnel; `http://` targets get a
/// connection to the proxy marked as proxied, so that hyper sends the
/// request in absolute form.
#[derive(Clone, Debug)]
pub(crate) struct ProxyConnect {
    pub(crate) http: HttpConnector<Resolver>,
    pub(crate) proxy: Option<Arc<ProxyConfig>>,
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
        let chosen = choose(self.proxy.as_deref(), &dst);
        let mut http = self.http.clone();
        let tunnel_http = self.tunnel_http;
        Box::pin(async move {
            let proxy = match chosen {
                None => {
                    let io = http.call(dst).await?;
                    return Ok(ProxyStream { io, proxied: false });
                }
                Some(Ok(proxy)) => proxy,
                Some(Err(_)) => {
                    return Err(TunnelFailed(
                        "the proxy from the environment is not an http:// proxy (https:// and \
                         SOCKS proxies are not supported); set one with `proxy` or turn the \
                         lookup off with `proxy_from_env(false)`"
                            .into(),
                    )
                    .into());
                }
            };
            let proxy_uri: Uri = format!("http://{}/", proxy.authority())
                .parse()
                .map_err(|e| TunnelFailed(Box::new(e)))?;
            if dst.scheme() == Some(&Scheme::HTTPS) || tunnel_http {
                let io = tunnel(http, proxy_uri, authorization(&proxy), &dst).await?;
                Ok(ProxyStream { io, proxied: false })
            } else {
                let io = http.call(proxy_uri).await?;
                Ok(ProxyStream { io, proxied: true })
            }
        })
    }
}

/// Opens a `CONNECT` tunnel to `dst` through the proxy at `proxy`.
async fn tunnel(
    http: HttpConnector<Resolver>,
    proxy: Uri,
    auth: Option<HeaderValue>,
    dst: &Uri,
) -> Result<TokioIo<TcpStream>, BoxError> {
    // The tunnel needs the port (it assumes 443 when there is none).
    let target: Uri = format!(
        "{}://{}/",
        dst.scheme_str().unwrap_or("http"),
        target_authority(dst)
    )
    .parse()
    .map_err(|e| TunnelFailed(Box::new(e)))?;
    let mut tunnel = Tunnel::new(proxy, http);
    if let Some(auth) = auth {
        tunnel = tunnel.with_auth(auth);
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

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn the_chosen_proxy_gives_its_credentials_as_a_header() {
        let proxy = Proxy::new("user:secret@127.0.0.1:3128").unwrap();
        let config = ProxyConfig::explicit(proxy);
        let chosen = choose(Some(&config), &uri("http://example.com/"))
            .unwrap()
            .unwrap();
        assert_eq!(chosen.authority(), "127.0.0.1:3128");
        let auth = authorization(&chosen).unwrap();
        assert_eq!(auth, "Basic dXNlcjpzZWNyZXQ=");
        assert!(auth.is_sensitive());
        assert!(choose(None, &uri("http://example.com/")).is_none());
        let bare = Proxy::new("127.0.0.1:3128").unwrap();
        assert!(authorization(&bare).is_none());
    }

    #[test]
    fn no_proxy_follows_curl_through_this_path_too() {
        let proxy = Proxy::new("127.0.0.1:3128")
            .unwrap()
            .no_proxy("localhost, 10.0.0.0/8, ::1");
        let config = ProxyConfig::explicit(proxy);
        let cases = [
            ("http://localhost/", true),
            ("http://a.localhost/", true),
            ("http://10.9.8.7:8080/", true),
            ("http://11.9.8.7/", false),
            ("https://[::1]:8443/", true),
            ("http://notlocalhost/", false),
        ];
        for (url, direct) in cases {
            let chosen = choose(Some(&config), &uri(url));
            assert_eq!(chosen.is_none(), direct, "{url}");
        }
        // hyper-util's matcher applies `*` to names only; curl's rule, here,
        // to addresses too.
        let everything = ProxyConfig::explicit(Proxy::new("127.0.0.1:3128").unwrap().no_proxy("*"));
        assert!(choose(Some(&everything), &uri("http://127.0.0.1:8080/")).is_none());
    }
}
