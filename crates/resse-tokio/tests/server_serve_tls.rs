//! `serve` over TLS (feature `server-tls`), on 127.0.0.1 with a certificate
//! made by rcgen: ALPN `h2` is served by hyper's HTTP/2 connection with
//! the same routing (stream, replay, 404), `http/1.1` and no ALPN by the
//! lean driver; resse's own client negotiates HTTP/2; probes, plain HTTP
//! and silent connections neither stop the server nor hold it; shutdown
//! ends open HTTP/2 streams within the grace; and clients that stop
//! reading are reset under TLS too, over either protocol.
#![cfg(feature = "server-tls")]

#[path = "support/tls.rs"]
#[allow(dead_code, unreachable_pub)]
mod tls;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use resse_codec::Event;
use resse_tokio::server::{BroadcastConfig, Broadcaster, ConnConfig, ServeConfig, serve};
use rustls::pki_types::ServerName;
use tls::TestCert;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

const LIMIT: Duration = Duration::from_secs(20);

/// Fails the test if `f` takes longer than `limit`.
async fn within<T>(limit: Duration, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, f)
        .await
        .unwrap_or_else(|_| panic!("did not finish within {limit:?}"))
}

/// `serve` over TLS on an ephemeral port, recording the HTTP version of
/// every stream request (through the identity hook, which sees each).
struct Server {
    addr: SocketAddr,
    broadcaster: Broadcaster,
    cert: TestCert,
    versions: Arc<Mutex<Vec<Version>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl Server {
    async fn start(config: ServeConfig) -> Self {
        let cert = TestCert::generate();
        // The test certificate's configuration offers h2 and http/1.1;
        // `serve` must fill in an empty list the same way.
        let mut tls = cert.server_config();
        tls.alpn_protocols.clear();
        Self::start_with(config, cert, tls).await
    }

    async fn start_with(config: ServeConfig, cert: TestCert, tls: rustls::ServerConfig) -> Self {
        let broadcaster = Broadcaster::new(BroadcastConfig::default().id_prefix(""));
        // Id 1, so that a test can ask for what comes after it.
        broadcaster.publish(Event::new("zero")).expect("publish");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let versions = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&versions);
        let config = config.tls(Arc::new(tls)).identity(move |request| {
            lock(&seen).push(request.version());
            None
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, broadcaster.clone(), config, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            broadcaster,
            cert,
            versions,
            stop: Some(stop),
            task,
        }
    }

    fn publish(&self, data: &str) {
        self.broadcaster.publish(Event::new(data)).expect("publish");
    }

    fn versions(&self) -> Vec<Version> {
        lock(&self.versions).clone()
    }

    /// A TLS connection offering `alpn` (nothing for none).
    async fn tls(&self, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
        self.tls_over(TcpStream::connect(self.addr).await.expect("connect"), alpn)
            .await
    }

    async fn tls_over<IO>(&self, io: IO, alpn: &[&[u8]]) -> TlsStream<IO>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let mut config = self.cert.client_config();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let name = ServerName::IpAddress(self.addr.ip().into());
        TlsConnector::from(Arc::new(config))
            .connect(name, io)
            .await
            .expect("TLS handshake")
    }

    /// An HTTP/2 connection (ALPN `h2`, checked).
    async fn h2(&self) -> SendRequest<Empty<Bytes>> {
        let tls = self.tls(&[b"h2", b"http/1.1"]).await;
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        h2_over(tls).await
    }

    async fn stop(mut self) -> Duration {
        let started = Instant::now();
        self.stop.take().expect("running").send(()).expect("stop");
        within(LIMIT, self.task)
            .await
            .expect("serve task")
            .expect("serve");
        started.elapsed()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An HTTP/2 client connection (hyper's) over `io`.
async fn h2_over<IO>(io: IO) -> SendRequest<Empty<Bytes>>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(conn);
    sender
}

/// `GET path` on an HTTP/2 connection.
async fn h2_get(
    sender: &mut SendRequest<Empty<Bytes>>,
    path: &str,
    last_event_id: Option<&str>,
) -> Response<Incoming> {
    let mut request = Request::get(format!("https://127.0.0.1{path}"));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let request = request.body(Empty::new()).expect("request");
    within(LIMIT, sender.send_request(request))
        .await
        .expect("response")
}

/// Reads `body` until its text contains `needle`; returns all of it.
async fn body_until(body: &mut Incoming, needle: &str) -> String {
    let mut text = String::new();
    within(LIMIT, async {
        while !text.contains(needle) {
            let frame = body.frame().await.expect("a frame").expect("body");
            if let Ok(data) = frame.into_data() {
                text.push_str(&String::from_utf8_lossy(&data));
            }
        }
    })
    .await;
    text
}

/// Reads `io` until its text contains `needle`; returns all of it.
async fn read_until<IO: AsyncRead + Unpin>(io: &mut IO, needle: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    within(LIMIT, async {
        while !String::from_utf8_lossy(&got).contains(needle) {
            let n = io.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    String::from_utf8_lossy(&got).into_owned()
}

fn is_event_stream(response: &Response<Incoming>) -> bool {
    response.status() == StatusCode::OK
        && response.headers().get("content-type").map(|v| v.as_bytes())
            == Some(&b"text/event-stream"[..])
}

#[tokio::test]
async fn h2_by_alpn_streams_live_events_and_routes_like_http1() {
    let server = Server::start(ServeConfig::new()).await;
    server.publish("one");
    let mut h2 = server.h2().await;

    let mut response = h2_get(&mut h2, "/events", Some("1")).await;
    assert!(is_event_stream(&response), "{response:?}");
    assert_eq!(response.version(), Version::HTTP_2);
    let body = response.body_mut();
    assert_eq!(
        body_until(body, "data: one\n\n").await,
        "id: 2\ndata: one\n\n"
    );
    server.publish("two");
    assert_eq!(
        body_until(body, "data: two\n\n").await,
        "id: 3\ndata: two\n\n"
    );

    // Other paths and methods on the same connection, while the stream is
    // open: the same routing as HTTP/1.1.
    let not_found = h2_get(&mut h2, "/other", None).await;
    assert_eq!(not_found.status(), StatusCode::NOT_FOUND);
    let post = Request::post("https://127.0.0.1/events")
        .body(Empty::new())
        .unwrap();
    let refused = within(LIMIT, h2.send_request(post))
        .await
        .expect("response");
    assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED);
    // HEAD: the head of a stream, and no body.
    let head = Request::head("https://127.0.0.1/events")
        .body(Empty::new())
        .unwrap();
    let mut head = within(LIMIT, h2.send_request(head))
        .await
        .expect("response");
    assert!(is_event_stream(&head), "{head:?}");
    let rest = within(LIMIT, head.body_mut().collect())
        .await
        .expect("body");
    assert!(rest.to_bytes().is_empty());

    // The first stream still flows.
    server.publish("three");
    body_until(response.body_mut(), "data: three\n\n").await;
    // Only the stream requests reach the identity hook (HEAD does not
    // subscribe); all of them came over HTTP/2.
    assert_eq!(server.versions(), [Version::HTTP_2]);
    server.stop().await;
}

#[tokio::test]
async fn h2_replays_from_last_event_id() {
    let server = Server::start(ServeConfig::new()).await;
    for data in ["one", "two", "three"] {
        server.publish(data);
    }
    let mut h2 = server.h2().await;
    let mut response = h2_get(&mut h2, "/events", Some("2")).await;
    assert!(is_event_stream(&response), "{response:?}");
    let text = body_until(response.body_mut(), "data: three\n\n").await;
    assert_eq!(text, "id: 3\ndata: two\n\nid: 4\ndata: three\n\n");
    server.stop().await;
}

#[tokio::test]
async fn http11_by_alpn_or_without_alpn_is_served_by_the_lean_driver() {
    let server = Server::start(ServeConfig::new()).await;
    server.publish("one");
    for alpn in [&[&b"http/1.1"[..]][..], &[]] {
        let mut tls = server.tls(alpn).await;
        let expected = (!alpn.is_empty()).then_some(&b"http/1.1"[..]);
        assert_eq!(tls.get_ref().1.alpn_protocol(), expected);
        tls.write_all(b"GET /events HTTP/1.1\r\nhost: x\r\nlast-event-id: 1\r\n\r\n")
            .await
            .expect("request");
        let text = read_until(&mut tls, "data: one\n\n").await;
        // The lean driver's response: no chunked framing, `connection: close`.
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(
            text.contains("content-type: text/event-stream\r\n"),
            "{text}"
        );
        assert!(text.contains("connection: close\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nid: 2\ndata: one\n\n"), "{text}");
    }
    assert_eq!(server.versions(), [Version::HTTP_11, Version::HTTP_11]);
    server.stop().await;
}

#[tokio::test]
async fn a_configuration_offering_only_http11_keeps_every_stream_on_http11() {
    let cert = TestCert::generate();
    let mut tls = cert.server_config();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let server = Server::start_with(ServeConfig::new(), cert, tls).await;
    server.publish("one");
    let mut tls = server.tls(&[b"h2", b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    tls.write_all(b"GET /events HTTP/1.1\r\nhost: x\r\nlast-event-id: 1\r\n\r\n")
        .await
        .expect("request");
    read_until(&mut tls, "data: one\n\n").await;
    server.stop().await;
}

#[cfg(feature = "rustls")]
#[tokio::test]
async fn the_resse_client_receives_events_over_tls_and_negotiates_h2() {
    use resse_tokio::client::{ClientBuilder, HyperConnector};

    let server = Server::start(ServeConfig::new()).await;
    server.publish("one");
    server.publish("two");
    let connector = HyperConnector::builder()
        .tls_config(server.cert.client_config())
        .build();
    let url = format!("https://127.0.0.1:{}/events", server.addr.port());
    let mut client = ClientBuilder::new(url)
        .reconnect(resse_testkit::fast_reconnect(1))
        .proxy_from_env(false)
        .build_with(connector)
        .expect("client");
    // A new client starts at the live end (no `Last-Event-ID`): publish
    // once it subscribed.
    let broadcaster = server.broadcaster.clone();
    let publisher = tokio::spawn(async move {
        while broadcaster.stats().subscribers == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        broadcaster.publish(Event::new("three")).expect("publish");
        broadcaster.publish(Event::new("four")).expect("publish");
    });
    let mut got = Vec::new();
    within(LIMIT, async {
        while got.len() < 2 {
            let event = client
                .next_event()
                .await
                .expect("no close")
                .expect("an event");
            got.push(event.data().to_owned());
        }
    })
    .await;
    publisher.await.expect("publisher");
    assert_eq!(got, ["three", "four"]);
    assert_eq!(server.versions(), [Version::HTTP_2]);
    drop(client);
    server.stop().await;
}

#[tokio::test]
async fn probes_plain_http_and_silent_connections_are_closed_and_do_not_stop_the_server() {
    let server = Server::start(
        ServeConfig::new().conn(ConnConfig::new().head_timeout(Duration::from_millis(1500))),
    )
    .await;
    server.publish("one");

    // A port probe: connects and closes without a ClientHello.
    drop(TcpStream::connect(server.addr).await.expect("connect"));

    // Plain HTTP to the TLS port: no HTTP answer (a TLS alert at most),
    // and the connection is closed at once.
    let mut plain = TcpStream::connect(server.addr).await.expect("connect");
    plain
        .write_all(b"GET /events HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let started = Instant::now();
    let _ = within(Duration::from_secs(5), plain.read_to_end(&mut answer)).await;
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(1), "closed at once");

    // Silent: no ClientHello; and silent after the handshake (ALPN h2,
    // no HTTP/2 preface, no request; the server's SETTINGS come first):
    // both closed after the head timeout.
    let started = Instant::now();
    let mut no_hello = TcpStream::connect(server.addr).await.expect("connect");
    let mut no_request = server.tls(&[b"h2"]).await;
    let (mut buf, mut rest) = ([0u8; 16], Vec::new());
    let (no_hello, _) = within(Duration::from_secs(10), async {
        tokio::join!(no_hello.read(&mut buf), no_request.read_to_end(&mut rest))
    })
    .await;
    assert!(matches!(no_hello, Ok(0) | Err(_)), "{no_hello:?}");
    assert!(started.elapsed() >= Duration::from_millis(1200));

    // The server still serves.
    let mut h2 = server.h2().await;
    let mut response = h2_get(&mut h2, "/events", Some("1")).await;
    body_until(response.body_mut(), "data: one\n\n").await;
    server.stop().await;
}

#[tokio::test]
async fn shutdown_ends_open_h2_streams_and_handshakes_within_the_grace() {
    // Long head timeout and grace: returning sooner shows that shutdown
    // ended the HTTP/2 connection (GOAWAY) and the pending handshake
    // rather than waiting them out.
    let config = ServeConfig::new()
        .conn(ConnConfig::new().head_timeout(Duration::from_secs(30)))
        .shutdown_grace(Duration::from_secs(10));
    let server = Server::start(config).await;
    server.publish("one");
    let mut h2 = server.h2().await;
    let mut response = h2_get(&mut h2, "/events", Some("1")).await;
    let body = response.body_mut();
    body_until(body, "data: one\n\n").await;
    let mut idle = server.h2().await;
    assert_eq!(
        h2_get(&mut idle, "/other", None).await.status(),
        StatusCode::NOT_FOUND
    );
    let _handshaking = TcpStream::connect(server.addr).await.expect("connect");
    let mut h1 = server.tls(&[b"http/1.1"]).await;
    h1.write_all(b"GET /events HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("request");
    read_until(&mut h1, "\r\n\r\n").await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let took = server.stop().await;
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    // The HTTP/2 stream ended cleanly (the broadcaster closed), not cut.
    within(LIMIT, async {
        while let Some(frame) = body.frame().await {
            frame.expect("a clean end");
        }
    })
    .await;
    // So did the HTTP/1.1 one (end of the TLS connection).
    let mut rest = Vec::new();
    within(LIMIT, h1.read_to_end(&mut rest))
        .await
        .expect("closed cleanly");
}

/// Whether reads are paused, and the reader to wake when they resume.
type PauseState = Arc<Mutex<(bool, Option<Waker>)>>;

/// A transport whose reads can be paused: the client stops reading its
/// socket (and whatever HTTP/2 or TLS does above it stalls).
struct Pausable {
    io: TcpStream,
    state: PauseState,
}

impl Pausable {
    fn new(io: TcpStream) -> (Self, PauseState) {
        let state = Arc::new(Mutex::new((false, None)));
        let io = Self {
            io,
            state: Arc::clone(&state),
        };
        (io, state)
    }
}

fn set_paused(state: &Mutex<(bool, Option<Waker>)>, paused: bool) {
    let mut state = lock(state);
    state.0 = paused;
    if !paused {
        if let Some(waker) = state.1.take() {
            waker.wake();
        }
    }
}

impl AsyncRead for Pausable {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        {
            let mut state = lock(&self.state);
            if state.0 {
                state.1 = Some(cx.waker().clone());
                return Poll::Pending;
            }
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Pausable {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A connection with a small receive buffer.
async fn small_window(addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(addr).await.expect("connect")
}

/// Publishes 4 KiB events every 2 ms until `done` completes.
async fn publishing<T>(server: &Server, done: impl Future<Output = T>) -> T {
    let data = "x".repeat(4096);
    let mut done = std::pin::pin!(done);
    loop {
        tokio::select! {
            out = &mut done => return out,
            () = tokio::time::sleep(Duration::from_millis(2)) => server.publish(&data),
        }
    }
}

fn stuck_config() -> ServeConfig {
    ServeConfig::new()
        .conn(ConnConfig::new().write_timeout(Some(Duration::from_secs(1))))
        .send_buffer_size(Some(8 * 1024))
}

#[tokio::test]
async fn a_stuck_h2_client_is_reset_after_the_write_timeout() {
    let server = Server::start(stuck_config()).await;
    let (io, pause) = Pausable::new(small_window(server.addr).await);
    let tls = server.tls_over(io, &[b"h2"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let mut h2 = h2_over(tls).await;
    let mut response = h2_get(&mut h2, "/events", None).await;
    assert!(is_event_stream(&response));
    server.publish("first");
    body_until(response.body_mut(), "data: first\n\n").await;

    // The client stops reading its socket while events keep coming, for
    // well past the write timeout; then it reads again and finds the
    // connection reset (not a stream that ended cleanly, nor one that
    // still flows).
    set_paused(&pause, true);
    publishing(&server, tokio::time::sleep(Duration::from_secs(3))).await;
    set_paused(&pause, false);
    let body = response.body_mut();
    let end = publishing(
        &server,
        within(LIMIT, async {
            loop {
                match body.frame().await {
                    Some(Ok(_)) => {}
                    other => return other,
                }
            }
        }),
    )
    .await;
    assert!(matches!(end, Some(Err(_))), "{end:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_stuck_http11_client_over_tls_is_reset_after_the_write_timeout_even_when_quiet() {
    let server = Server::start(stuck_config().keep_alive(None)).await;
    let mut tls = server
        .tls_over(small_window(server.addr).await, &[b"http/1.1"])
        .await;
    tls.write_all(b"GET /events HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("request");
    read_until(&mut tls, "\r\n\r\n").await;
    server.publish("first");
    read_until(&mut tls, "data: first\n\n").await;

    // The client never reads again, and one burst comes: more than the
    // socket buffers hold, less than what TLS buffers above them, so that
    // the last write succeeds and only its flush is blocked. Then the
    // stream is quiet: the flush alone must be cut by the write timeout.
    let data = "x".repeat(4096);
    for _ in 0..12 {
        server.publish(&data);
    }
    // The reset shows as a pending socket error, or fails the next write.
    let started = Instant::now();
    within(LIMIT, async {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if let Ok(Some(_)) = tls.get_ref().0.take_error() {
                return;
            }
            if tls.write_all(b"\n").await.is_err() || tls.flush().await.is_err() {
                return;
            }
        }
    })
    .await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "reset after {took:?}");
    server.stop().await;
}
