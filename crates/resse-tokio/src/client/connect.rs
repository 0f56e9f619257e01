//! [`Connect`]: how the [`Client`](super::Client) sends a request, and the
//! default [`HyperConnector`].

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client as LegacyClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use resse_session::Request;

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
/// use resse_session::Request;
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
type Transport = hyper_rustls::HttpsConnector<HttpConnector>;
#[cfg(not(feature = "rustls"))]
type Transport = HttpConnector;

/// The default [`Connect`]: hyper 1 through `hyper-util`'s client, HTTP/1.1
/// and HTTP/2, with TLS by rustls (feature `rustls`, on by default: ring
/// provider, Mozilla's root store from `webpki-roots`, HTTP/2 chosen by
/// ALPN).
///
/// It keeps no idle connection: an event stream holds its connection for
/// as long as it lives, and a connection left in a pool after a failed
/// attempt would outlive [`Client::close`](super::Client::close).
#[derive(Clone, Debug)]
pub struct HyperConnector {
    client: LegacyClient<Transport, Full<Bytes>>,
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
    /// negotiates it), the webpki root store.
    pub fn new() -> Self {
        Self {
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            http2_only: false,
            #[cfg(feature = "rustls")]
            tls: None,
        }
    }

    /// How long a TCP connection may take to open.
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

    /// The connector.
    pub fn build(self) -> HyperConnector {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(self.connect_timeout));
        http.set_nodelay(true);
        #[cfg(feature = "rustls")]
        let transport = {
            http.enforce_http(false);
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
        let client = LegacyClient::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .http2_only(self.http2_only)
            .build(transport);
        HyperConnector { client }
    }
}

/// rustls with the ring provider, its safe default protocol versions and
/// Mozilla's root certificates.
#[cfg(feature = "rustls")]
fn default_tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    // rustls 0.23.48 deprecates ring's provider because ring has no
    // post-quantum key exchange, pointing to aws-lc-rs instead. This crate
    // stays on ring (no aws-lc-rs, so no cmake or C toolchain beyond `cc`),
    // so the deprecation is allowed here, and only here; a config built on
    // another provider can be passed to `tls_config`. (`allow`, not
    // `expect`: older 0.23 releases, which `Cargo.toml` accepts, do not
    // deprecate it.)
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
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

impl Connect for HyperConnector {
    type Body = hyper::body::Incoming;

    fn connect(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<http::Response<Self::Body>, BoxError>> + Send + 'static {
        let client = self.client.clone();
        async move {
            let request = to_http(request)?;
            Ok(client.request(request).await?)
        }
    }
}
