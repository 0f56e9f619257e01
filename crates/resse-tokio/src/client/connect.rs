//! [`Connect`]: how the [`Client`](super::Client) sends a request, and the
//! default [`HyperConnector`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http::header::PROXY_AUTHORIZATION;
use http_body_util::Full;
use hyper_util::client::legacy::Client as LegacyClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use resse_session::{ProxyConfig, Request, target_authority};
use tower_service::Service;

use super::error::{self, ConnectError};
use super::proxy::{self, Proxy, ProxyConnect, Resolver};
pub use crate::BoxError;

/// Sends the request a [`ClientSession`](resse_session::ClientSession)
/// asks for and returns the response head with its body: bring your own
/// HTTP client (reqwest, a pre-configured hyper client, a test double) by
/// implementing it. [`HyperConnector`] is the default.
///
/// The returned future owns what it needs (`'static`): clone your client
/// handle into it. It should resolve once the response head is in; the
/// [`Client`](super::Client) bounds the wait by its idle timeout and drops
/// the future when it expires or on close. Do not follow redirects or
/// decompress the body: the session follows redirects itself (and counts
/// them), and a compressed event stream cannot be read incrementally.
///
/// ```
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use resse_session::{ProxyConfig, Request};
/// use resse_tokio::client::{BoxError, Connect};
///
/// /// Answers every request with a fixed stream (a test double).
/// struct Canned(&'static str);
///
/// impl Connect for Canned {
///     type Body = Full<Bytes>;
///     fn connect(
///         &self,
///         _request: Request,
///     ) -> impl Future<Output = Result<http::Response<Full<Bytes>>, BoxError>> + Send + 'static
///     {
///         let body = Full::new(Bytes::from_static(self.0.as_bytes()));
///         async move {
///             Ok(http::Response::builder()
///                 .header("content-type", "text/event-stream")
///                 .body(body)?)
///         }
///     }
/// }
/// ```
pub trait Connect: Send + 'static {
    /// The response body.
    type Body: http_body::Body<Data = Bytes, Error: Into<BoxError>> + Send + Unpin + 'static;

    /// Sends `request`; resolves to the response head and body.
    fn connect(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<http::Response<Self::Body>, BoxError>> + Send + 'static;
}

#[cfg(feature = "rustls")]
type Transport = hyper_rustls::HttpsConnector<ProxyConnect>;
#[cfg(not(feature = "rustls"))]
type Transport = ProxyConnect;

/// The default [`Connect`]: hyper 1 through `hyper-util`'s client, HTTP/1.1
/// and HTTP/2, with TLS by rustls (feature `rustls`, on by default: ring
/// provider, Mozilla's root store from `webpki-roots`, HTTP/2 chosen by
/// ALPN).
///
/// It keeps no idle connection: an event stream holds its connection for
/// as long as it lives, and a connection left in a pool after a failed
/// attempt would outlive [`Client::close`](super::Client::close).
///
/// # Proxies
///
/// By default it honours the proxy environment variables as curl and
/// reqwest do (read once, when the connector is built): `HTTPS_PROXY` for
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
/// An `https://` request goes through a `CONNECT` tunnel (TLS runs end to
/// end inside it). An `http://` request is sent to the proxy in absolute
/// form (`GET http://host/path HTTP/1.1`, with `Proxy-Authorization` when
/// the proxy URL has credentials), as curl does; with
/// [`http2_only`](HyperConnectorBuilder::http2_only) it is tunnelled too.
/// [`HyperConnectorBuilder::proxy`] sets a proxy explicitly and
/// [`HyperConnectorBuilder::proxy_from_env`] turns the lookup off.
///
/// # Errors
///
/// A connection that cannot be opened fails with a [`ConnectError`] that
/// names the cause and the address ("connection refused by
/// 127.0.0.1:9"); the connect timeout covers the TCP connection, the
/// proxy tunnel and the TLS handshake.
#[derive(Clone, Debug)]
pub struct HyperConnector {
    client: LegacyClient<Classify<Transport>, Full<Bytes>>,
    /// The proxy rules, to add `Proxy-Authorization` to requests sent to
    /// the proxy in absolute form.
    proxy: Option<Arc<ProxyConfig>>,
    http2_only: bool,
}

impl Default for HyperConnector {
    fn default() -> Self {
        HyperConnectorBuilder::new().build()
    }
}

impl HyperConnector {
    /// A connector with the defaults of [`HyperConnectorBuilder`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Configures a connector.
    pub fn builder() -> HyperConnectorBuilder {
        HyperConnectorBuilder::new()
    }
}

/// Configures a [`HyperConnector`].
#[derive(Clone, Debug)]
pub struct HyperConnectorBuilder {
    connect_timeout: Duration,
    http2_only: bool,
    #[cfg(feature = "rustls")]
    tls: Option<rustls::ClientConfig>,
    proxy: Option<Proxy>,
    proxy_from_env: bool,
}

impl Default for HyperConnectorBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl HyperConnectorBuilder {
    /// The default TCP connect timeout.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

    /// The defaults: 10 s connect timeout, HTTP/1.1 (or HTTP/2 when TLS
    /// negotiates it), the webpki root store, the proxy from the
    /// environment.
    pub fn new() -> Self {
        Self {
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            http2_only: false,
            #[cfg(feature = "rustls")]
            tls: None,
            proxy: None,
            proxy_from_env: true,
        }
    }

    /// Sends every request through `proxy` (except to the hosts of its
    /// [`no_proxy`](Proxy::no_proxy) list); the proxy environment
    /// variables are then not read. See [`HyperConnector`] for how
    /// requests go through it.
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Whether to read the proxy from the environment (`HTTPS_PROXY`,
    /// `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`; see [`HyperConnector`]) when
    /// no [`proxy`](Self::proxy) is set. On by default; `false` connects
    /// directly.
    pub fn proxy_from_env(mut self, yes: bool) -> Self {
        self.proxy_from_env = yes;
        self
    }

    /// How long a connection may take to open: the TCP connection, the
    /// proxy tunnel and the TLS handshake together.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Speak HTTP/2 only, also over plain TCP ("prior knowledge", `h2c`).
    pub fn http2_only(mut self, yes: bool) -> Self {
        self.http2_only = yes;
        self
    }

    /// The rustls configuration for `https://` (your root store, client
    /// certificates). Its ALPN protocols are replaced by `h2` and
    /// `http/1.1` (or `h2` alone with [`http2_only`](Self::http2_only)).
    #[cfg(feature = "rustls")]
    pub fn tls_config(mut self, config: rustls::ClientConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// The connector. The proxy environment variables are read now.
    pub fn build(self) -> HyperConnector {
        let proxy = match (&self.proxy, self.proxy_from_env) {
            (Some(proxy), _) => Some(Arc::new(ProxyConfig::explicit(proxy.clone()))),
            (None, true) => Some(Arc::new(proxy::from_env())),
            (None, false) => None,
        };
        let mut http = HttpConnector::new_with_resolver(Resolver::new());
        http.set_connect_timeout(Some(self.connect_timeout));
        http.set_nodelay(true);
        // TLS is added on top for `https://` URLs.
        http.enforce_http(!cfg!(feature = "rustls"));
        let http = ProxyConnect {
            http,
            proxy: proxy.clone(),
            tunnel_http: self.http2_only,
        };
        #[cfg(feature = "rustls")]
        let transport = {
            let tls = self.tls.unwrap_or_else(default_tls_config);
            let builder = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls)
                .https_or_http();
            if self.http2_only {
                builder.enable_http2().wrap_connector(http)
            } else {
                builder.enable_all_versions().wrap_connector(http)
            }
        };
        #[cfg(not(feature = "rustls"))]
        let transport = http;
        let transport = Classify {
            inner: transport,
            proxy: proxy.clone(),
            timeout: self.connect_timeout,
        };
        let client = LegacyClient::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .http2_only(self.http2_only)
            .build(transport);
        HyperConnector {
            client,
            proxy,
            http2_only: self.http2_only,
        }
    }
}

/// The outer step of the connector: bounds the whole connection (TCP,
/// tunnel, TLS) by the connect timeout and turns its failures into
/// [`ConnectError`]s.
#[derive(Clone, Debug)]
pub(crate) struct Classify<C> {
    inner: C,
    proxy: Option<Arc<ProxyConfig>>,
    timeout: Duration,
}

impl<C> Service<Uri> for Classify<C>
where
    C: Service<Uri>,
    C::Future: Send + 'static,
    C::Error: Into<BoxError>,
{
    type Response = C::Response;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, ConnectError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| error::classify(e.into(), String::new(), None, self.timeout))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let target = target_authority(&dst);
        let proxy = self
            .proxy
            .as_deref()
            .and_then(|config| config.for_uri(&dst))
            .and_then(Result::ok)
            .map(|p| p.authority().to_owned());
        let timeout = self.timeout;
        let connecting = self.inner.call(dst);
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(Ok(io)) => Ok(io),
                Ok(Err(e)) => Err(error::classify(e.into(), target, proxy, timeout)),
                Err(_) => Err(error::timed_out(target, proxy, timeout)),
            }
        })
    }
}

/// rustls with the process's default provider if the application installed
/// one, else ring; its safe default protocol versions; Mozilla's root
/// certificates.
#[cfg(feature = "rustls")]
fn default_tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    // A provider the application installed for the process (for instance
    // aws-lc-rs, with post-quantum key exchange) is used as it is.
    // Otherwise ring: rustls 0.23.48 deprecates ring's provider because ring
    // has no post-quantum key exchange, pointing to aws-lc-rs instead. This
    // crate stays on ring (no aws-lc-rs, so no cmake or C toolchain beyond
    // `cc`), so the deprecation is allowed here, and only here. (`allow`,
    // not `expect`: older 0.23 releases, which `Cargo.toml` accepts, do not
    // deprecate it.)
    #[allow(deprecated)]
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    // ring supports rustls' safe default versions; should that ever fail,
    // the process-wide default provider is used instead.
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| rustls::ClientConfig::builder());
    builder.with_root_certificates(roots).with_no_client_auth()
}

/// The `http::Request` a session's [`Request`] describes.
pub(crate) fn to_http(request: Request) -> Result<http::Request<Full<Bytes>>, BoxError> {
    let mut builder = http::Request::builder()
        .method(request.method)
        .uri(request.url.as_str());
    if let Some(headers) = builder.headers_mut() {
        *headers = request.headers;
    }
    Ok(builder.body(Full::new(request.body.unwrap_or_default()))?)
}

impl HyperConnector {
    /// The `Proxy-Authorization` of a request that goes to the proxy in
    /// absolute form (an `http://` URL through a proxy with credentials).
    fn proxy_authorization(&self, request: &Request) -> Option<http::HeaderValue> {
        if self.http2_only {
            return None;
        }
        let uri: Uri = request.url.as_str().parse().ok()?;
        if uri.scheme() != Some(&http::uri::Scheme::HTTP) {
            return None;
        }
        let proxy = self.proxy.as_deref()?.for_uri(&uri)?.ok()?;
        proxy::authorization(proxy)
    }
}

/// The [`ConnectError`] among the sources of `error`.
fn find_connect_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a ConnectError> {
    std::iter::successors(Some(error), |e| (*e).source()).find_map(|e| e.downcast_ref())
}

impl Connect for HyperConnector {
    type Body = hyper::body::Incoming;

    fn connect(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<http::Response<Self::Body>, BoxError>> + Send + 'static {
        let client = self.client.clone();
        let auth = self.proxy_authorization(&request);
        async move {
            let mut request = to_http(request)?;
            if let Some(auth) = auth {
                request
                    .headers_mut()
                    .entry(PROXY_AUTHORIZATION)
                    .or_insert(auth);
            }
            client.request(request).await.map_err(|e| {
                // The connector's own error, rather than hyper-util's
                // "client error (Connect)" around it.
                match find_connect_error(&e) {
                    Some(connect) => Box::new(connect.clone()) as BoxError,
                    None => Box::new(e),
                }
            })
        }
    }
}
