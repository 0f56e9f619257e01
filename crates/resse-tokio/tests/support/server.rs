//! A real HTTP server on 127.0.0.1 (hyper-util's auto builder: HTTP/1.1
//! and HTTP/2, optionally over TLS) that records what it was asked.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, Version};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type BoxBody = UnsyncBoxBody<Bytes, BoxError>;
pub type Handler = Arc<dyn Fn(Request<Incoming>) -> Response<BoxBody> + Send + Sync>;

/// A whole response body.
pub fn full(bytes: impl Into<Bytes>) -> BoxBody {
    http_body_util::Full::new(bytes.into())
        .map_err(|e: Infallible| match e {})
        .boxed_unsync()
}

/// Any body as a [`BoxBody`].
pub fn boxed<B>(body: B) -> BoxBody
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(Into::into).boxed_unsync()
}

/// One request the server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub last_event_id: Option<String>,
    pub version: Version,
    pub method: http::Method,
    pub headers: http::HeaderMap,
}

pub struct TestServer {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    open: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TestServer {
    pub async fn start(handler: Handler) -> Self {
        Self::start_inner(handler, None).await
    }

    pub async fn start_tls(handler: Handler, tls: rustls::ServerConfig) -> Self {
        Self::start_inner(
            handler,
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(tls))),
        )
        .await
    }

    async fn start_inner(handler: Handler, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind server");
        let addr = listener.local_addr().expect("local addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let open = Arc::new(AtomicUsize::new(0));
        let (s, o) = (seen.clone(), open.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let (handler, seen, open, tls) =
                    (handler.clone(), s.clone(), o.clone(), tls.clone());
                open.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        seen.lock().unwrap().push(Seen {
                            path: request.uri().path().to_owned(),
                            last_event_id: request
                                .headers()
                                .get("last-event-id")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned),
                            version: request.version(),
                            method: request.method().clone(),
                            headers: request.headers().clone(),
                        });
                        let response = handler(request);
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match tls {
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                        }
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(tcp).await {
                                let _ = builder
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            }
                        }
                    }
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            addr,
            seen,
            open,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn https_url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// The requests so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Connections being served now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An endless event stream: `id: n` / `data: n` every `every`, from the
/// event after the request's `Last-Event-ID` (or 1).
pub fn ticking(request: &Request<Incoming>, every: std::time::Duration) -> Response<BoxBody> {
    let start = request
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(1, |n| n + 1);
    let frames = futures_util::stream::unfold(start, move |n| async move {
        if n != start {
            tokio::time::sleep(every).await;
        }
        let frame = http_body::Frame::data(Bytes::from(format!("id: {n}\ndata: {n}\n\n")));
        Some((Ok::<_, BoxError>(frame), n + 1))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(http_body_util::StreamBody::new(frames).boxed_unsync())
        .unwrap()
}
