//! Real parts for the server tests: a hyper server on 127.0.0.1 that serves
//! a [`Broadcaster`] through [`SseBody`], and a raw HTTP/1.1 client over a
//! `TcpStream` that reads the head, de-chunks the body and decodes events
//! with resse-codec (no HTTP client library in between, so the tests see
//! exactly what went over the wire).
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use hyper::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use resse_codec::{Decoder, Event, Frame};
use resse_tokio::server::{Broadcaster, ReplayOutcome, SseBody, Subscription, last_event_id};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Fails the test if `f` takes longer than `limit`.
pub async fn within<T>(limit: Duration, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, f)
        .await
        .unwrap_or_else(|_| panic!("did not finish within {limit:?}"))
}

/// What the server reports for each subscription it opened.
#[derive(Clone, Debug)]
pub struct Opened {
    pub identity: Option<String>,
    pub replay: ReplayOutcome,
}

/// Buffer limits of an [`SseServer`]; `None` keeps the default.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerOptions {
    /// hyper's `http1::Builder::max_buf_size` (its write buffer).
    pub max_buf_size: Option<usize>,
    /// `SO_SNDBUF` of the accepted sockets (the kernel doubles it).
    pub send_buffer_size: Option<u32>,
}

/// A hyper HTTP/1.1 server: `GET /events[?client=NAME]` subscribes (as
/// `NAME` if given) with the request's `Last-Event-ID` and streams the
/// subscription.
pub struct SseServer {
    pub addr: SocketAddr,
    pub broadcaster: Broadcaster,
    pub opened: mpsc::UnboundedReceiver<Opened>,
    open: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl SseServer {
    pub async fn start(broadcaster: Broadcaster) -> Self {
        Self::start_with(broadcaster, |body| body, ServerOptions::default()).await
    }

    /// With `configure` applied to every response body, and the buffer
    /// limits of `options`.
    pub async fn start_with(
        broadcaster: Broadcaster,
        configure: fn(SseBody<Subscription>) -> SseBody<Subscription>,
        options: ServerOptions,
    ) -> Self {
        let socket = TcpSocket::new_v4().expect("socket");
        if let Some(size) = options.send_buffer_size {
            // Accepted sockets inherit it.
            socket.set_send_buffer_size(size).expect("SO_SNDBUF");
        }
        socket
            .bind("127.0.0.1:0".parse().expect("address"))
            .expect("bind");
        let listener = socket.listen(1024).expect("listen");
        let max_buf_size = options.max_buf_size;
        let addr = listener.local_addr().expect("local addr");
        let (tx, opened) = mpsc::unbounded_channel();
        let open = Arc::new(AtomicUsize::new(0));
        let (b, o) = (broadcaster.clone(), open.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (b, tx, o) = (b.clone(), tx.clone(), o.clone());
                o.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let identity = request
                            .uri()
                            .query()
                            .and_then(|q| q.strip_prefix("client="))
                            .map(str::to_owned);
                        let last = last_event_id(request.headers());
                        let subscription = match &identity {
                            Some(name) => b.subscribe_as(name.clone(), last),
                            None => b.subscribe(last),
                        };
                        let _ = tx.send(Opened {
                            identity,
                            replay: subscription.replay(),
                        });
                        let response = configure(SseBody::new(subscription)).into_response();
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let mut builder = hyper::server::conn::http1::Builder::new();
                    if let Some(max) = max_buf_size {
                        builder.max_buf_size(max);
                    }
                    let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            addr,
            broadcaster,
            opened,
            open,
            task,
        }
    }

    /// Connections being served.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Waits for the server to report the next subscription.
    pub async fn next_opened(&mut self) -> Opened {
        within(Duration::from_secs(10), self.opened.recv())
            .await
            .expect("server running")
    }
}

impl Drop for SseServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A response head.
#[derive(Clone, Debug)]
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

enum Chunk {
    Size,
    Data(usize),
    DataEnd,
    Done,
}

/// A raw HTTP/1.1 client for one event stream response.
pub struct RawClient {
    stream: TcpStream,
    raw: BytesMut,
    body: BytesMut,
    chunk: Chunk,
    head_read: bool,
    decoder: Decoder,
    eof: bool,
}

/// The request for `path`, with `Last-Event-ID` if given.
fn request(path: &str, last_event_id: Option<&str>) -> String {
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\
         Accept-Encoding: gzip, br\r\n"
    );
    if let Some(id) = last_event_id {
        request.push_str(&format!("Last-Event-ID: {id}\r\n"));
    }
    request.push_str("\r\n");
    request
}

impl RawClient {
    /// Connects and sends `GET path`.
    pub async fn get(addr: SocketAddr, path: &str, last_event_id: Option<&str>) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Self::send(stream, path, last_event_id).await
    }

    /// Like [`get`](Self::get) over a socket with a small receive buffer
    /// (so that a client that does not read fills it quickly).
    pub async fn get_small_window(
        addr: SocketAddr,
        path: &str,
        last_event_id: Option<&str>,
    ) -> Self {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let stream = socket.connect(addr).await.expect("connect");
        Self::send(stream, path, last_event_id).await
    }

    async fn send(mut stream: TcpStream, path: &str, last_event_id: Option<&str>) -> Self {
        stream
            .write_all(request(path, last_event_id).as_bytes())
            .await
            .expect("send request");
        Self {
            stream,
            raw: BytesMut::with_capacity(4096),
            body: BytesMut::new(),
            chunk: Chunk::Size,
            head_read: false,
            decoder: Decoder::new(),
            eof: false,
        }
    }

    async fn fill(&mut self) -> bool {
        if self.eof {
            return false;
        }
        self.raw.reserve(4096);
        match self.stream.read_buf(&mut self.raw).await {
            Ok(0) | Err(_) => {
                self.eof = true;
                false
            }
            Ok(_) => true,
        }
    }

    /// Reads the response head.
    pub async fn head(&mut self) -> Head {
        assert!(!self.head_read, "head already read");
        loop {
            if let Some(end) = find(&self.raw, b"\r\n\r\n") {
                let text = String::from_utf8(self.raw[..end].to_vec()).expect("ASCII head");
                self.raw.advance(end + 4);
                self.head_read = true;
                let mut lines = text.split("\r\n");
                let status_line = lines.next().expect("status line");
                let status = status_line
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .expect("status code");
                let headers = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                    .collect();
                return Head { status, headers };
            }
            assert!(self.fill().await, "connection closed before the head");
        }
    }

    /// De-chunks what is buffered into `body`; true if progress was made.
    fn dechunk(&mut self) -> bool {
        let mut progress = false;
        loop {
            match self.chunk {
                Chunk::Size => {
                    let Some(end) = find(&self.raw, b"\r\n") else {
                        return progress;
                    };
                    let line = std::str::from_utf8(&self.raw[..end]).expect("chunk size line");
                    let size = line.split(';').next().unwrap_or("").trim();
                    let size = usize::from_str_radix(size, 16).expect("hex chunk size");
                    self.raw.advance(end + 2);
                    self.chunk = if size == 0 {
                        Chunk::Done
                    } else {
                        Chunk::Data(size)
                    };
                    progress = true;
                }
                Chunk::Data(left) => {
                    if self.raw.is_empty() {
                        return progress;
                    }
                    let n = left.min(self.raw.len());
                    self.body.extend_from_slice(&self.raw[..n]);
                    self.raw.advance(n);
                    self.chunk = if n == left {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left - n)
                    };
                    progress = true;
                }
                Chunk::DataEnd => {
                    if self.raw.len() < 2 {
                        return progress;
                    }
                    assert_eq!(&self.raw[..2], b"\r\n", "chunk not followed by CRLF");
                    self.raw.advance(2);
                    self.chunk = Chunk::Size;
                    progress = true;
                }
                Chunk::Done => return progress,
            }
        }
    }

    /// Whether the response ended with the final (zero) chunk.
    pub fn ended_cleanly(&self) -> bool {
        matches!(self.chunk, Chunk::Done)
    }

    /// The next de-chunked body bytes (whatever arrived), `None` at the end
    /// of the body or of the connection.
    pub async fn next_body(&mut self) -> Option<BytesMut> {
        if !self.head_read {
            self.head().await;
        }
        loop {
            self.dechunk();
            if !self.body.is_empty() {
                return Some(self.body.split());
            }
            if self.ended_cleanly() || !self.fill().await {
                return None;
            }
        }
    }

    /// The next event, `None` at the end of the body or of the connection.
    pub async fn next_event(&mut self) -> Option<Event> {
        if !self.head_read {
            self.head().await;
        }
        loop {
            self.dechunk();
            while let Some(frame) = self.decoder.decode(&mut self.body).expect("valid stream") {
                if let Frame::Event(event) = frame {
                    return Some(event);
                }
            }
            if self.ended_cleanly() || !self.fill().await {
                return None;
            }
        }
    }

    /// Reads events until the one with data `last` (inclusive).
    pub async fn events_until(&mut self, last: &str) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(event) = self.next_event().await {
            let done = event.data() == last;
            events.push(event);
            if done {
                break;
            }
        }
        events
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = haystack[from..].iter().position(|&b| b == first) {
        let at = from + i;
        if haystack[at + 1..].starts_with(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}
