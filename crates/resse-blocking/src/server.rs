//! A blocking event-stream server: a thread per connection over
//! [`std::net::TcpListener`], driving the sans-IO [`resse_session::Fanout`]
//! (the same core as `resse-tokio`'s `Broadcaster`).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use resse_codec::{Event, Text};
use resse_session::{Fanout, Subscribe, SubscriberKey, Transmit};

/// The core's configuration and answers, so that server authors need no
/// dependency on the sans-IO crates.
pub use resse_session::{
    EndReason, FanoutConfig, FanoutStats, ProbeAnswer, ProbeError, PublishError, ReplayConfig,
    ReplayOutcome, SendError, SupersededEvent,
};

/// Publishes events to the subscribers of a blocking server: a mutex around
/// a [`Fanout`], and the threads to unpark when it has bytes for them.
/// Cloning it is cheap (an `Arc`).
///
/// The SSE rules (ids, encoding once, the one ring for replay and live
/// delivery, lag, identities, keep-alives) are the core's; see
/// [`FanoutConfig`].
#[derive(Clone)]
pub struct Broadcaster {
    shared: Arc<Mutex<State>>,
}

struct State {
    core: Fanout,
    /// The thread serving each subscriber slot.
    threads: Vec<Option<(SubscriberKey, Thread)>>,
    wakeups: Vec<SubscriberKey>,
}

impl State {
    /// Unparks the threads of the core's wake-ups.
    fn wake(&mut self) {
        self.core.drain_wakeups(&mut self.wakeups);
        for key in self.wakeups.drain(..) {
            if let Some(Some((k, thread))) = self.threads.get(key.index()) {
                if *k == key {
                    thread.unpark();
                }
            }
        }
    }
}

impl fmt::Debug for Broadcaster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broadcaster")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Default for Broadcaster {
    fn default() -> Self {
        Self::new(FanoutConfig::default())
    }
}

impl Broadcaster {
    /// A broadcaster with this configuration (keep-alives, ring, lag
    /// limits, id prefix, …) and no subscribers.
    pub fn new(config: FanoutConfig) -> Self {
        Self {
            shared: Arc::new(Mutex::new(State {
                core: Fanout::new(config),
                threads: Vec::new(),
                wakeups: Vec::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes `event` to every subscriber and the replay ring; returns
    /// its id (see [`Fanout::publish`]).
    ///
    /// # Errors
    /// [`PublishError`]; nothing was sent then.
    pub fn publish(&self, event: Event) -> Result<Text, PublishError> {
        let mut state = self.lock();
        let id = state.core.publish(Instant::now(), event)?;
        state.wake();
        Ok(id)
    }

    /// Sends `event` (without an id) to the live subscriber with this
    /// identity only (see [`Fanout::send_to`]).
    ///
    /// # Errors
    /// [`SendError`]; nothing was queued then.
    pub fn send_to_identity(&self, identity: &str, event: &Event) -> Result<(), SendError> {
        let mut state = self.lock();
        state.core.send_to_identity(identity, event)?;
        state.wake();
        Ok(())
    }

    /// Answers a liveness probe request (see [`resse_session::probe`]):
    /// parses its query (`nonce=N`, and `client=ID`, the identity the
    /// stream subscribed with) and sends the `pong` answer to that one
    /// subscriber, in order with the published events. [`Server`] routes
    /// `GET`/`POST` on its path + `/probe` here (with its
    /// [`identity`](ServerConfig::identity) function when set).
    ///
    /// # Errors
    /// [`ProbeError`]: a bad nonce or identity (400), no such subscriber
    /// (404), a full queue (503).
    pub fn answer_probe(
        &self,
        answer: &ProbeAnswer,
        query: Option<&str>,
    ) -> Result<SubscriberKey, ProbeError> {
        let mut state = self.lock();
        let key = resse_session::answer_probe(&mut state.core, answer, query)?;
        state.wake();
        Ok(key)
    }

    /// [`answer_probe`](Self::answer_probe) to the live subscriber with
    /// `identity` (chosen by the server, e.g. from its
    /// [`identity`](ServerConfig::identity) function), not the query's.
    ///
    /// # Errors
    /// As [`answer_probe`](Self::answer_probe).
    pub fn answer_probe_as(
        &self,
        answer: &ProbeAnswer,
        identity: &str,
        query: Option<&str>,
    ) -> Result<SubscriberKey, ProbeError> {
        // A bad request is refused as such whoever it names.
        answer.parse(query)?;
        let mut state = self.lock();
        let key = state
            .core
            .identity_key(identity)
            .ok_or(ProbeError::NoSubscriber)?;
        resse_session::answer_probe_to(&mut state.core, answer, key, query)?;
        state.wake();
        Ok(key)
    }

    /// Counters and ring sizes.
    pub fn stats(&self) -> FanoutStats {
        self.lock().core.stats()
    }

    /// Ends every stream (each writes what was published before, then
    /// ends) and refuses further events.
    pub fn close(&self) {
        let mut state = self.lock();
        state.core.close();
        state.wake();
    }

    /// Streams to `writer` on the current thread until the stream ends:
    /// subscribes (replayed from `last_event_id`, superseding the live
    /// subscriber with `identity`), then writes what the core hands out,
    /// acknowledging each write, and parks between events (keep-alives
    /// included). Returns why the stream ended; the subscriber is removed
    /// however it returns.
    ///
    /// `on_subscribed` is called with the replay outcome before anything is
    /// written (to log it, or to write a reload hint of your own).
    ///
    /// # Errors
    /// Writing failed (the client went away, or a write timed out); the
    /// subscriber is removed.
    pub fn stream_to<W: Write>(
        &self,
        writer: &mut W,
        last_event_id: Option<&str>,
        identity: Option<&str>,
        on_subscribed: impl FnOnce(ReplayOutcome),
    ) -> io::Result<EndReason> {
        let subscribed = {
            let mut state = self.lock();
            let subscribed = state.core.subscribe(
                Instant::now(),
                Subscribe::new()
                    .last_event_id(last_event_id)
                    .identity(identity),
            );
            let index = subscribed.key.index();
            if state.threads.len() <= index {
                state.threads.resize_with(index + 1, || None);
            }
            state.threads[index] = Some((subscribed.key, thread::current()));
            state.wake();
            subscribed
        };
        let key = subscribed.key;
        let _remove = Unsubscribe {
            broadcaster: self,
            key,
        };
        on_subscribed(subscribed.outcome);
        loop {
            let now = Instant::now();
            let mut state = self.lock();
            match state.core.poll_transmit(now, key) {
                Transmit::Send(bytes) => {
                    drop(state);
                    writer.write_all(&bytes)?;
                    writer.flush()?;
                    self.lock().core.acknowledge(Instant::now(), key);
                }
                Transmit::Wait => {
                    let deadline = state.core.poll_timeout(key);
                    drop(state);
                    // A wake between the unlock and here leaves the park
                    // token set: the park returns at once.
                    match deadline {
                        Some(deadline) => {
                            thread::park_timeout(deadline.saturating_duration_since(now))
                        }
                        None => thread::park(),
                    }
                }
                Transmit::End(reason) => return Ok(reason),
                Transmit::Gone => return Ok(EndReason::Closed),
            }
        }
    }
}

/// Removes a subscriber when its thread stops streaming.
struct Unsubscribe<'a> {
    broadcaster: &'a Broadcaster,
    key: SubscriberKey,
}

impl Drop for Unsubscribe<'_> {
    fn drop(&mut self) {
        let mut state = self.broadcaster.lock();
        state.core.unsubscribe(self.key);
        if let Some(slot) = state.threads.get_mut(self.key.index()) {
            if slot.as_ref().is_some_and(|(k, _)| *k == self.key) {
                *slot = None;
            }
        }
    }
}

/// Chooses a subscriber's identity from its request (e.g. a query
/// parameter or an authenticated user); `None` for none.
pub type IdentityFn = dyn Fn(&http::request::Parts) -> Option<String> + Send + Sync;

/// Settings of a [`Server`].
#[derive(Clone)]
pub struct ServerConfig {
    path: String,
    write_timeout: Option<Duration>,
    head_timeout: Duration,
    max_head_len: usize,
    send_buffer_size: Option<usize>,
    identity: Option<Arc<IdentityFn>>,
    probe: Option<ProbeAnswer>,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("path", &self.path)
            .field("write_timeout", &self.write_timeout)
            .field("head_timeout", &self.head_timeout)
            .field("max_head_len", &self.max_head_len)
            .field("send_buffer_size", &self.send_buffer_size)
            .field("identity", &self.identity.is_some())
            .field("probe", &self.probe)
            .finish()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            path: "/events".into(),
            write_timeout: Some(Self::DEFAULT_WRITE_TIMEOUT),
            head_timeout: Self::DEFAULT_HEAD_TIMEOUT,
            max_head_len: Self::DEFAULT_MAX_HEAD_LEN,
            send_buffer_size: Some(Self::DEFAULT_SEND_BUFFER_SIZE),
            identity: None,
            probe: None,
        }
    }
}

impl ServerConfig {
    /// Default [`write_timeout`](Self::write_timeout): 30 s.
    pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default [`head_timeout`](Self::head_timeout): 10 s.
    pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default [`max_head_len`](Self::max_head_len): 16 KiB.
    pub const DEFAULT_MAX_HEAD_LEN: usize = 16 * 1024;
    /// Default [`send_buffer_size`](Self::send_buffer_size): 128 KiB.
    pub const DEFAULT_SEND_BUFFER_SIZE: usize = 128 * 1024;

    /// The defaults: the stream at `/events`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The path of the event stream (default `/events`); other paths get
    /// `404`. The query string is ignored.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    resse_builder::field_methods! {
        /// How long one write may stay blocked (the client stopped reading)
        /// before the connection is reset (default 30 s); `None` waits for
        /// ever.
        pub fn write_timeout(mut self, timeout: Option<Duration>) -> Self;

        /// How long the request head may take to arrive (default 10 s).
        pub fn head_timeout(mut self, timeout: Duration) -> Self;

        /// The longest request head accepted (default 16 KiB); longer gets
        /// `431`.
        pub fn max_head_len(mut self, len: usize) -> Self;

        /// The kernel send buffer of each accepted socket (`SO_SNDBUF`, default
        /// 128 KiB; the kernel may double it): what a client that stops reading
        /// can pin in kernel memory. `None` keeps the system's default (often
        /// several MiB with autotuning).
        pub fn send_buffer_size(mut self, size: Option<usize>) -> Self;

        /// Answers liveness probes (see [`resse_session::probe`]) at the
        /// stream's path + `/probe` (`GET` or `POST`, `?client=ID&nonce=N`, or
        /// the [`identity`](Self::identity) function's identity when set): the
        /// `pong` answer goes to that subscriber's stream and the request gets
        /// `204`; a bad nonce gets `400`, an unknown identity `404`, with a
        /// message. Default `None`: that path is `404` like any other.
        pub fn probe(mut self, answer: Option<ProbeAnswer>) -> Self;
    }

    /// How a subscriber's identity is taken from its request (default:
    /// none). One connection per identity: a newer one supersedes the
    /// older.
    pub fn identity(
        mut self,
        identity: impl Fn(&http::request::Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.identity = Some(Arc::new(identity));
        self
    }
}

/// A blocking HTTP/1.1 event-stream server: one thread per connection.
///
/// `GET` on the [path](ServerConfig::path) streams from the
/// [`Broadcaster`] (chunked, with the head of
/// [`resse_session::response_headers`], replayed from `Last-Event-ID`);
/// other paths get `404`, other methods `405`. A connection that sends
/// nothing and closes is closed quietly. Accept errors such as `EMFILE`
/// pause the accept loop briefly instead of ending it.
///
/// ```no_run
/// use resse_blocking::Event;
/// use resse_blocking::server::{Broadcaster, Server, ServerConfig};
///
/// let broadcaster = Broadcaster::default();
/// let server = Server::bind("127.0.0.1:8080", broadcaster.clone(), ServerConfig::new())?;
/// let handle = server.spawn()?;
/// broadcaster.publish(Event::new("hello"))?;
/// handle.shutdown();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Server {
    listener: TcpListener,
    broadcaster: Broadcaster,
    config: Arc<ServerConfig>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds `addr`.
    ///
    /// # Errors
    /// Binding failed.
    pub fn bind(
        addr: impl ToSocketAddrs,
        broadcaster: Broadcaster,
        config: ServerConfig,
    ) -> io::Result<Self> {
        Ok(Self::from_listener(
            TcpListener::bind(addr)?,
            broadcaster,
            config,
        ))
    }

    /// Serves on a listener of your own.
    pub fn from_listener(
        listener: TcpListener,
        broadcaster: Broadcaster,
        config: ServerConfig,
    ) -> Self {
        Self {
            listener,
            broadcaster,
            config: Arc::new(config),
        }
    }

    /// The bound address.
    ///
    /// # Errors
    /// As [`TcpListener::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Runs the accept loop on a background thread.
    ///
    /// # Errors
    /// The listener's address cannot be read.
    pub fn spawn(self) -> io::Result<ServerHandle> {
        let addr = self.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            thread::Builder::new()
                .name("resse-accept".into())
                .spawn(move || self.run_until(&stop))?
        };
        Ok(ServerHandle {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// Runs the accept loop on this thread, for ever.
    pub fn run(self) {
        self.run_until(&AtomicBool::new(false));
    }

    fn run_until(self, stop: &AtomicBool) {
        while !stop.load(Ordering::SeqCst) {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let (broadcaster, config) =
                        (self.broadcaster.clone(), Arc::clone(&self.config));
                    let spawned = thread::Builder::new()
                        .name("resse-conn".into())
                        .spawn(move || serve(stream, &broadcaster, &config));
                    if spawned.is_err() {
                        // No thread to be had: the connection is dropped
                        // (closed); pause before accepting more.
                        thread::sleep(Duration::from_millis(50));
                    }
                }
                // Out of descriptors or memory, or a connection reset before
                // it was accepted: pause and go on.
                Err(_) => thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

/// A [`Server`] running on a background thread ([`Server::spawn`]).
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and waits for the accept thread (streams
    /// in progress go on until their end; close the [`Broadcaster`] to end
    /// them).
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocked accept.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop_now();
        }
    }
}

/// Serves one connection; errors end it (with a reset after a write
/// timeout).
fn serve(mut stream: TcpStream, broadcaster: &Broadcaster, config: &ServerConfig) {
    let _ = stream.set_nodelay(true);
    if let Some(size) = config.send_buffer_size {
        let _ = socket2::SockRef::from(&stream).set_send_buffer_size(size);
    }
    let _ = stream.set_read_timeout(Some(config.head_timeout));
    let parts = match read_head(&mut stream, config.max_head_len) {
        Ok(Some(parts)) => parts,
        // Nothing sent: a port probe or a preconnect. Close quietly.
        Ok(None) => return,
        Err(status) => {
            let _ = respond(&mut stream, status);
            return;
        }
    };
    if let Some(probe) = config
        .probe
        .as_ref()
        .filter(|_| is_probe_path(parts.uri.path(), &config.path))
    {
        let _ = answer_probe(&mut stream, broadcaster, config, probe, &parts);
        return;
    }
    if parts.uri.path() != config.path {
        let _ = respond(&mut stream, "404 Not Found");
        return;
    }
    if parts.method != http::Method::GET && parts.method != http::Method::HEAD {
        let _ = respond(&mut stream, "405 Method Not Allowed");
        return;
    }
    let _ = stream.set_write_timeout(config.write_timeout);
    let mut head = String::from("HTTP/1.1 200 OK\r\n");
    for (name, value) in &resse_session::response_headers() {
        head.push_str(name.as_str());
        head.push_str(": ");
        head.push_str(value.to_str().unwrap_or_default());
        head.push_str("\r\n");
    }
    let head_only = parts.method == http::Method::HEAD;
    head.push_str(if head_only {
        "connection: close\r\n\r\n"
    } else {
        "transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    });
    if stream.write_all(head.as_bytes()).is_err() || head_only {
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }
    let last_event_id = resse_session::last_event_id(&parts.headers).map(str::to_owned);
    let identity = config.identity.as_ref().and_then(|f| f(&parts));
    let mut chunked = Chunked {
        stream: &mut stream,
        buf: Vec::new(),
    };
    let result = broadcaster.stream_to(
        &mut chunked,
        last_event_id.as_deref(),
        identity.as_deref(),
        |_| {},
    );
    match result {
        Ok(_) => {
            let _ = stream.write_all(b"0\r\n\r\n");
            let _ = stream.shutdown(Shutdown::Write);
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            // The client stopped reading: reset, so that the kernel frees the
            // socket's buffers now instead of keeping an orphan.
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        }
        Err(_) => {}
    }
}

/// Writes each write as one HTTP/1.1 chunk.
struct Chunked<'a> {
    stream: &'a mut TcpStream,
    buf: Vec<u8>,
}

impl Write for Chunked<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        self.buf.clear();
        self.buf
            .extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
        self.stream.write_all(&self.buf)?;
        if self.buf.capacity() > 64 * 1024 {
            self.buf = Vec::new(); // an idle stream keeps no large buffer
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// Reads the request head: `Ok(None)` if the client closed before sending
/// anything, `Err(status line)` if it cannot be served.
fn read_head(
    stream: &mut TcpStream,
    max_head_len: usize,
) -> Result<Option<http::request::Parts>, &'static str> {
    let mut buf = Vec::with_capacity(1024.min(max_head_len.max(1)));
    let mut chunk = [0u8; 1024];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return if buf.is_empty() {
                    Ok(None)
                } else {
                    Err("408 Request Timeout")
                };
            }
            Err(_) => return Ok(None),
        };
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err("400 Bad Request")
            };
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => return parts(&request).ok_or("400 Bad Request"),
            Ok(httparse::Status::Partial) if buf.len() < max_head_len => {}
            Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
                return Err("431 Request Header Fields Too Large");
            }
            Err(_) => return Err("400 Bad Request"),
        }
    }
}

fn parts(request: &httparse::Request<'_, '_>) -> Option<Option<http::request::Parts>> {
    let mut builder = http::Request::builder()
        .method(request.method?)
        .uri(request.path?);
    for header in request.headers.iter() {
        builder = builder.header(header.name, header.value);
    }
    Some(Some(builder.body(()).ok()?.into_parts().0))
}

/// Whether `path` is the probe path of the stream at `stream_path`: the
/// stream's path + `/probe` (what clients derive by default).
fn is_probe_path(path: &str, stream_path: &str) -> bool {
    path.strip_prefix(stream_path.trim_end_matches('/')) == Some("/probe")
}

/// Answers a probe request: `204`, or the refusal's status and message.
fn answer_probe(
    stream: &mut TcpStream,
    broadcaster: &Broadcaster,
    config: &ServerConfig,
    probe: &ProbeAnswer,
    parts: &http::request::Parts,
) -> io::Result<()> {
    if parts.method != http::Method::GET && parts.method != http::Method::POST {
        return respond(stream, "405 Method Not Allowed");
    }
    let query = parts.uri.query();
    let result = match config.identity.as_ref().and_then(|f| f(parts)) {
        Some(identity) => broadcaster.answer_probe_as(probe, &identity, query),
        None => broadcaster.answer_probe(probe, query),
    };
    match result {
        Ok(_) => respond(stream, "204 No Content"),
        Err(e) => {
            let status = e.status();
            let body = format!("{e}\n");
            stream.write_all(
                format!(
                    "HTTP/1.1 {} {}\r\ncontent-type: text/plain; charset=utf-8\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or_default(),
                    body.len()
                )
                .as_bytes(),
            )?;
            stream.shutdown(Shutdown::Write)
        }
    }
}

fn respond(stream: &mut TcpStream, status: &str) -> io::Result<()> {
    stream.write_all(
        format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes(),
    )?;
    stream.shutdown(Shutdown::Write)
}
