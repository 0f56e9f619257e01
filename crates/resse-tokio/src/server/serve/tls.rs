//! TLS for [`serve`](super::serve) (feature `server-tls`): the handshake,
//! then HTTP/2 through hyper or HTTP/1.1 through the lean driver, as ALPN
//! chose.
//!
//! Why two HTTP stacks: HTTP/1.1 event streams stay on
//! [`serve_connection`](crate::server::serve_connection), which keeps no
//! buffer while a stream is idle (what bounds how many subscribers a
//! machine holds); HTTP/2 needs framing, HPACK, flow control and stream
//! multiplexing, which hyper's server connection does well and a driver of
//! our own would copy.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::{Served, http1, route, stopped};
use crate::server::TimeoutIo;

/// The interval of HTTP/2 keep-alive pings (which find dead peers on idle
/// connections).
const PING_INTERVAL: Duration = Duration::from_secs(30);
/// How long a ping may go unanswered before the connection is closed.
const PING_TIMEOUT: Duration = Duration::from_secs(20);

/// The ALPN protocols offered when the configuration names none: `h2`,
/// then `http/1.1`.
pub(super) fn default_alpn() -> Vec<Vec<u8>> {
    vec![b"h2".to_vec(), b"http/1.1".to_vec()]
}

/// A rustls server configuration for [`ServeConfig::tls`](super::ServeConfig::tls)
/// (feature `server-tls`): the certificate chain (leaf first) and its
/// private key, rustls' safe default protocol versions (TLS 1.2 and 1.3)
/// with the ring provider, no client authentication, and ALPN `h2` and
/// `http/1.1`. Read PEM files with [`rustls::pki_types::pem::PemObject`]
/// (see [`serve`](super::serve#tls)). For anything else (client
/// certificates, session resumption settings, another provider), build a
/// [`rustls::ServerConfig`] yourself.
///
/// # Errors
/// The key does not match the certificate, or is of an unsupported kind.
pub fn tls_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
    // ring, as the client: rustls 0.23.48 deprecates ring's provider
    // (no post-quantum key exchange) in favour of aws-lc-rs, which needs
    // cmake to build; resse stays on ring. (`allow`, not `expect`: older
    // 0.23 releases do not deprecate it.)
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(cert_chain, key)?;
    config.alpn_protocols = default_alpn();
    Ok(Arc::new(config))
}

/// Serves one TLS connection: the handshake (within the head timeout, or
/// until shutdown starts), then HTTP/2 or HTTP/1.1.
pub(super) async fn connection(
    io: TimeoutIo<TcpStream>,
    config: Arc<rustls::ServerConfig>,
    mut served: Served,
) {
    let handshake = tokio::time::timeout(
        served.config.conn.get_head_timeout(),
        TlsAcceptor::from(config).accept(io),
    );
    let tls = tokio::select! {
        handshake = handshake => match handshake {
            Ok(Ok(tls)) => tls,
            // A port probe, plain HTTP sent to the TLS port, a client that
            // does not trust the certificate: nothing to answer.
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "TLS handshake failed; connection closed");
                return;
            }
            Err(_) => {
                tracing::debug!("TLS handshake timed out; connection closed");
                return;
            }
        },
        () = stopped(&mut served.stopping) => return,
    };
    match tls.get_ref().1.alpn_protocol() {
        Some(b"h2") => h2(tls, served).await,
        Some(b"http/1.1") | None => http1(tls, &served).await,
        Some(other) => tracing::debug!(
            protocol = %String::from_utf8_lossy(other),
            "unsupported ALPN protocol; connection closed"
        ),
    }
}

/// Serves an HTTP/2 connection with hyper: every request routed by
/// [`route`], `GOAWAY` when shutdown starts.
async fn h2(tls: TlsStream<TimeoutIo<TcpStream>>, mut served: Served) {
    let requested = Arc::new(AtomicBool::new(false));
    let service = {
        let (broadcaster, config) = (served.broadcaster.clone(), Arc::clone(&served.config));
        let requested = Arc::clone(&requested);
        service_fn(move |request: Request<Incoming>| {
            requested.store(true, Ordering::Relaxed);
            // The request body (none for `GET`) is not read.
            let request = Request::from_parts(request.into_parts().0, ());
            std::future::ready(Ok::<_, Infallible>(route(&request, &broadcaster, &config)))
        })
    };
    let mut builder = http2::Builder::new(TokioExecutor::new());
    let max_head_len = served.config.conn.get_max_head_len();
    builder
        .max_header_list_size(u32::try_from(max_head_len).unwrap_or(u32::MAX))
        .timer(TokioTimer::new())
        .keep_alive_interval(PING_INTERVAL)
        .keep_alive_timeout(PING_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(tls), service);
    let mut conn = std::pin::pin!(conn);
    // The first request must come within the head timeout (a client that
    // completes the handshake and sends nothing must not hold a task).
    let first = tokio::time::sleep(served.config.conn.get_head_timeout());
    let mut first = std::pin::pin!(first);
    let mut waiting = true;
    let result = loop {
        tokio::select! {
            result = conn.as_mut() => break result,
            () = first.as_mut(), if waiting => {
                if !requested.load(Ordering::Relaxed) {
                    tracing::debug!("no HTTP/2 request within the head timeout; connection closed");
                    return;
                }
                waiting = false;
            }
            () = stopped(&mut served.stopping) => {
                // The streams are ending (the broadcaster is closed): GOAWAY,
                // let them finish, and close.
                conn.as_mut().graceful_shutdown();
                break conn.await;
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "HTTP/2 event stream connection ended");
    }
}
