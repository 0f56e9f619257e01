//! The reconnecting [`Client`], its [`ClientBuilder`] and [`CloseHandle`].

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::io::{self, Read};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use resse_codec::Event;
use resse_reconnect::Cause;
use resse_session::{
    Action, ClientSession, CloseReason, ConnectionState, Request, SessionConfig, SessionEvent,
};

use crate::connect::{Body, Connect, HttpConnector, Timeouts};
use crate::reader::READ_LEN;
use crate::{Error, Proxy};

/// Shortest read timeout: a zero timeout means "block" to `std`.
const MIN_TIMEOUT: Duration = Duration::from_millis(1);

type Interrupt = Box<dyn Fn() + Send + Sync>;

struct Shared {
    closed: bool,
    interrupt: Option<Interrupt>,
}

struct CloseInner {
    shared: Mutex<Shared>,
    wake: Condvar,
}

/// Stops a [`Client`] from any thread, promptly: a blocked read or connect
/// is interrupted (the connection is shut down) and a wait for the next
/// reconnection ends. Cheap to clone.
#[derive(Clone)]
pub struct CloseHandle {
    inner: Arc<CloseInner>,
}

impl fmt::Debug for CloseHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloseHandle")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl CloseHandle {
    fn new() -> Self {
        Self {
            inner: Arc::new(CloseInner {
                shared: Mutex::new(Shared {
                    closed: false,
                    interrupt: None,
                }),
                wake: Condvar::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // The lock only guards plain data: a panic elsewhere cannot leave it
        // inconsistent.
        self.inner
            .shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes the client: its iterator ends after
    /// [`SessionEvent::Closed`]. Idempotent.
    pub fn close(&self) {
        let interrupt = {
            let mut shared = self.lock();
            shared.closed = true;
            shared.interrupt.take()
        };
        self.inner.wake.notify_all();
        if let Some(interrupt) = interrupt {
            interrupt();
        }
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Registers how to interrupt the connection being made (for
    /// [`Connect`] implementations): `interrupt` runs once if the handle is
    /// closed while it is registered, at once if it already is.
    pub fn on_close(&self, interrupt: impl Fn() + Send + Sync + 'static) {
        let mut shared = self.lock();
        if shared.closed {
            drop(shared);
            interrupt();
        } else {
            shared.interrupt = Some(Box::new(interrupt));
        }
    }

    fn clear_interrupt(&self) {
        self.lock().interrupt = None;
    }

    /// Sleeps until `deadline` or until closed, whichever comes first.
    fn sleep_until(&self, deadline: Instant) {
        let mut shared = self.lock();
        loop {
            let now = Instant::now();
            if shared.closed || now >= deadline {
                return;
            }
            shared = self
                .inner
                .wake
                .wait_timeout(shared, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// A seed for the reconnection jitter from the OS random source (std's
/// `RandomState` keys are drawn from it once per process and then vary per
/// instance).
fn random_seed() -> u64 {
    RandomState::new().hash_one(std::process::id())
}

/// Configures a [`Client`]: the options of
/// [`SessionConfig`] plus the connect timeout and the proxy.
#[derive(Clone)]
pub struct ClientBuilder {
    config: SessionConfig,
    connect_timeout: Duration,
    proxy: Option<Proxy>,
    proxy_from_env: bool,
    hook: Option<Hook>,
}

/// A hook that may change each request before it is sent (shared by the
/// clones of a builder).
type Hook = Arc<Mutex<dyn FnMut(&mut Request) + Send>>;

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("config", &self.config)
            .field("connect_timeout", &self.connect_timeout)
            .field("proxy", &self.proxy)
            .field("proxy_from_env", &self.proxy_from_env)
            .field("hook", &self.hook.is_some())
            .finish()
    }
}

impl ClientBuilder {
    /// Default TCP connect timeout.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

    /// A client of the event stream at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            config: SessionConfig::new(url),
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            proxy: None,
            proxy_from_env: true,
            hook: None,
        }
    }

    resse_session::client_builder_session_setters!();

    /// The connect timeout (default 10 s; at least 1 ms): TCP connection,
    /// proxy tunnel and TLS handshake together.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(MIN_TIMEOUT);
        self
    }

    /// Sends every request of the default [`HttpConnector`] through
    /// `proxy` (except to the hosts of its [`no_proxy`](Proxy::no_proxy)
    /// list), instead of the proxy from the environment. See
    /// [`HttpConnector`'s proxies](HttpConnector#proxies).
    ///
    /// ```
    /// use resse_blocking::{ClientBuilder, Proxy};
    ///
    /// let builder = ClientBuilder::new("https://example.com/events")
    ///     .proxy(Proxy::new("http://proxy.internal:3128")?);
    /// # Ok::<(), resse_blocking::InvalidProxy>(())
    /// ```
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Whether the default [`HttpConnector`] reads the proxy from the
    /// environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`,
    /// as curl does) when no [`proxy`](Self::proxy) is set: on by default,
    /// read when the client is built. `false` connects directly.
    pub fn proxy_from_env(mut self, yes: bool) -> Self {
        self.proxy_from_env = yes;
        self
    }

    /// Runs `hook` on every request before it is sent, reconnections and
    /// redirects included: put a fresh auth token in, move to another URL.
    /// The `Last-Event-ID` header is already set. Clones of this builder
    /// share the hook. It runs on the liveness probe's side requests too
    /// (so that a fresh token follows them): tell them apart by their URL
    /// if the hook rewrites URLs.
    ///
    /// ```
    /// use resse_blocking::ClientBuilder;
    /// use resse_blocking::http::{HeaderValue, header::AUTHORIZATION};
    ///
    /// let builder = ClientBuilder::new("https://example.com/events").on_request(|request| {
    ///     let token = "fresh-token"; // e.g. from a token cache
    ///     if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
    ///         request.headers.insert(AUTHORIZATION, value);
    ///     }
    /// });
    /// ```
    pub fn on_request(mut self, hook: impl FnMut(&mut Request) + Send + 'static) -> Self {
        self.hook = Some(Arc::new(Mutex::new(hook)));
        self
    }

    /// A client over the default [`HttpConnector`] (`http://` and
    /// `https://`, webpki roots). It connects on the first call to `next`.
    ///
    /// # Errors
    /// [`Error::Config`] for a URL that is not an absolute `http://` or
    /// `https://` URL with a host, or an invalid reconnection policy; its
    /// message says what is wrong and what is accepted.
    pub fn build(self) -> Result<Client<HttpConnector>, Error> {
        let connector = match &self.proxy {
            Some(proxy) => HttpConnector::new().proxy(proxy.clone()),
            None => HttpConnector::new().proxy_from_env(self.proxy_from_env),
        };
        self.build_with(connector)
    }

    /// A client over your own [`Connect`].
    ///
    /// # Errors
    /// [`Error::Config`], as for [`build`](Self::build).
    pub fn build_with<C: Connect>(self, connector: C) -> Result<Client<C>, Error> {
        let mut config = self.config;
        if config.get_seed().is_none() {
            config = config.seed(random_seed());
        }
        let session = ClientSession::new(Instant::now(), config)?;
        Ok(Client {
            session,
            connector,
            hook: self.hook,
            conn: None,
            close: CloseHandle::new(),
            connect_timeout: self.connect_timeout,
            stopped: false,
            last_error: None,
        })
    }
}

/// A blocking, reconnecting event stream client: an [`Iterator`] of
/// events that reconnects with `Last-Event-ID` through any number of
/// failures, as the [`ClientSession`] it drives decides.
///
/// The loop: the session says when to connect; body bytes go to the
/// session as they arrive; the socket read timeout is the time left until
/// [`poll_timeout()`](ClientSession::poll_timeout) (at least 1 ms), and a
/// read that times out means "call
/// [`handle_timeout`](ClientSession::handle_timeout)" — that is how a
/// silent connection is detected and dropped. Between connections the
/// thread sleeps until the reconnection deadline (or until closed).
///
/// The liveness probe's side request ([`ClientBuilder::probe`], see
/// [`resse_session::probe`]) is sent inline, between two reads of the
/// stream, through the same [`Connect`], and waits for its response head
/// no longer than the probe's deadline: a [`Connect`] takes `&mut self`
/// and need not be `Send` or `Clone`, so a second thread would need a
/// second connector; the stream's bytes meanwhile wait in the socket
/// buffer, and the answer is read right after. A [`CloseHandle::close`]
/// during that request takes effect when it returns (within the probe
/// timeout).
///
/// [`next_event`](Self::next_event) returns the events alone (`Ok(None)`
/// at a requested end, `Err` for a failure); as an [`Iterator`], or with
/// [`next_session_event`](Self::next_session_event), it yields every
/// [`SessionEvent`], state changes included: the same two shapes as
/// `resse_tokio`'s client. Stop it from another thread with a
/// [`CloseHandle`].
///
/// ```no_run
/// use resse_blocking::ClientBuilder;
///
/// let mut client = ClientBuilder::new("http://127.0.0.1:8080/events").build()?;
/// let close = client.close_handle(); // e.g. for a Ctrl-C handler
/// while let Some(event) = client.next_event()? {
///     println!("{}: {}", event.event_type(), event.data());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Client<C: Connect = HttpConnector> {
    session: ClientSession,
    connector: C,
    hook: Option<Hook>,
    conn: Option<C::Body>,
    close: CloseHandle,
    connect_timeout: Duration,
    stopped: bool,
    last_error: Option<io::Error>,
}

impl<C: Connect> fmt::Debug for Client<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.session.state())
            .field("last_event_id", self.session.last_event_id())
            .field("stopped", &self.stopped)
            .finish_non_exhaustive()
    }
}

/// The one clock of the client.
fn now() -> Instant {
    Instant::now()
}

impl<C: Connect> Client<C> {
    /// A handle that stops this client from another thread.
    pub fn close_handle(&self) -> CloseHandle {
        self.close.clone()
    }

    /// The session (state, last event id, metrics).
    pub fn session(&self) -> &ClientSession {
        &self.session
    }

    /// The error of the last failed connection attempt or read (a refused
    /// connection, an untrusted certificate, a reset...), kept until a
    /// response arrives: what lies behind a
    /// [`Cause::ConnectFailed`] or [`Cause::Io`], and behind a final
    /// [`CloseReason`] for an attempt limit. With the default
    /// [`HttpConnector`], a connection that could not be opened is an
    /// error around a [`ConnectError`](crate::ConnectError) (its message;
    /// [`io::Error::get_ref`] for its kind and addresses).
    pub fn last_error(&self) -> Option<&io::Error> {
        self.last_error.as_ref()
    }

    /// The next event, skipping state changes, blocking; `Ok(None)` when
    /// the stream ends normally (a 204, a clean end with
    /// [`stop_on_clean_end`](ClientBuilder::stop_on_clean_end),
    /// [`CloseHandle::close`]), `Err` when it ends for a failure. The same
    /// method as `resse_tokio`'s `Client::next_event`.
    ///
    /// ```no_run
    /// let mut client = resse_blocking::ClientBuilder::new("http://127.0.0.1:8080/events").build()?;
    /// while let Some(event) = client.next_event()? {
    ///     println!("{}: {}", event.last_event_id(), event.data());
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// The [`CloseReason`] of a session that closed for a failure (a
    /// refused response, a retry limit, a decoder limit with
    /// `Overflow::Stop`); [`last_error`](Self::last_error) may tell more.
    pub fn next_event(&mut self) -> Result<Option<Event>, CloseReason> {
        loop {
            match self.next_session_event() {
                Some(SessionEvent::Event(event)) => return Ok(Some(event)),
                Some(SessionEvent::Closed { reason }) if reason.is_error() => return Err(reason),
                Some(_) => {}
                None => return Ok(None),
            }
        }
    }

    /// The next event or state change (connecting, open, reconnecting with
    /// cause and delay, closed), blocking; `None` once the session is closed
    /// and its [`SessionEvent::Closed`] was returned. What the client's
    /// [`Iterator`] yields; the same method as `resse_tokio`'s
    /// `Client::next_session_event`.
    pub fn next_session_event(&mut self) -> Option<SessionEvent> {
        loop {
            if let Some(event) = self.session.poll_event() {
                return Some(event);
            }
            if let Some(action) = self.session.poll_action() {
                self.perform(action);
                continue;
            }
            if self.stopped {
                return None;
            }
            if self.close.is_closed() {
                self.session.close();
                continue;
            }
            self.wait();
        }
    }

    fn drop_conn(&mut self) {
        self.conn = None;
        self.close.clear_interrupt();
    }

    fn perform(&mut self, action: Action) {
        match action {
            Action::Connect(mut request) => {
                if let Some(hook) = &self.hook {
                    // The lock only guards the hook: a panic in it cannot
                    // leave shared data inconsistent.
                    (hook.lock().unwrap_or_else(PoisonError::into_inner))(&mut request);
                }
                let start = now();
                let response = self
                    .session
                    .poll_timeout()
                    .map(|d| d.saturating_duration_since(start).max(MIN_TIMEOUT));
                let timeouts = Timeouts {
                    connect: response.map_or(self.connect_timeout, |r| r.min(self.connect_timeout)),
                    response,
                };
                match self.connector.connect(&request, timeouts, &self.close) {
                    Ok(response) => {
                        self.last_error = None;
                        // The wall clock resolves a `Retry-After` date when
                        // the response has no `Date` header.
                        self.session.handle_response_with_wall_clock(
                            now(),
                            SystemTime::now(),
                            response.status,
                            &response.headers,
                        );
                        if self.session.state() == ConnectionState::Open {
                            self.conn = Some(response.body);
                        } else {
                            self.close.clear_interrupt();
                        }
                    }
                    Err(e) => {
                        self.close.clear_interrupt();
                        if self.close.is_closed() {
                            self.session.close();
                            return;
                        }
                        let t = now();
                        if is_timeout(&e) {
                            self.session.handle_timeout(t);
                        }
                        self.last_error = Some(e);
                        // Still connecting: the deadline is not quite there
                        // (timer granularity), or it was another failure.
                        self.session.handle_error(t, Cause::ConnectFailed);
                    }
                }
            }
            Action::Probe(probe) => self.probe(probe),
            Action::Disconnect => self.drop_conn(),
            Action::Stop => {
                self.drop_conn();
                self.stopped = true;
            }
            // A later kind of action this adapter does not know: nothing
            // to do.
            _ => {}
        }
    }

    /// Sends the liveness probe's side request, waiting for its response
    /// head until the probe's deadline at most, and reports a failure.
    fn probe(&mut self, probe: resse_session::Probe) {
        let mut request = probe.request;
        if let Some(hook) = &self.hook {
            (hook.lock().unwrap_or_else(PoisonError::into_inner))(&mut request);
        }
        let left = probe
            .deadline
            .saturating_duration_since(now())
            .max(MIN_TIMEOUT);
        let timeouts = Timeouts {
            connect: left.min(self.connect_timeout),
            response: Some(left),
        };
        // Its own handle: the stream's keeps interrupting the stream.
        let failed = match self
            .connector
            .connect(&request, timeouts, &CloseHandle::new())
        {
            // The answer comes on the stream; the body is dropped.
            Ok(response) => !response.status.is_success(),
            Err(_) => true,
        };
        if failed {
            self.session.handle_probe_error(now(), &probe.nonce);
        }
    }

    /// Waits for body bytes or the session's deadline, and feeds the
    /// session what happened.
    fn wait(&mut self) {
        let deadline = self.session.poll_timeout();
        let Some(conn) = &mut self.conn else {
            match deadline {
                Some(deadline) => {
                    self.close.sleep_until(deadline);
                    self.session.handle_timeout(now());
                }
                // Not connected and nothing to wait for: only a closed
                // session gets here, and it has issued `Stop`.
                None => self.stopped = true,
            }
            return;
        };
        let timeout = deadline.map(|d| d.saturating_duration_since(now()).max(MIN_TIMEOUT));
        // Into the decoder's memory: a large event that spans reads is not
        // copied again.
        let read = match conn.set_read_timeout(timeout) {
            Ok(()) => conn.read(self.session.body_buf(READ_LEN)),
            Err(e) => Err(e),
        };
        let t = now();
        match read {
            Ok(n) if n > 0 => self.session.handle_body_read(t, n),
            _ if self.close.is_closed() => self.session.close(),
            Ok(_) => {
                self.drop_conn();
                self.session.handle_eof(t);
            }
            Err(e) if is_timeout(&e) => self.session.handle_timeout(t),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Any other error, `UnexpectedEof` included: the body ended
            // before its framing said (a chunked body without its last
            // chunk, a body short of its `Content-Length`): the connection
            // was cut, which is `Cause::Io` as in every adapter, never an
            // end of the stream.
            Err(e) => {
                self.drop_conn();
                self.last_error = Some(e);
                self.session.handle_error(t, Cause::Io);
            }
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Every event and state change, as `resse_tokio`'s `Client` is a `Stream`
/// of them: see [`next_session_event`](Client::next_session_event), and
/// [`next_event`](Client::next_event) for the events alone.
impl<C: Connect> Iterator for Client<C> {
    type Item = SessionEvent;

    fn next(&mut self) -> Option<SessionEvent> {
        self.next_session_event()
    }
}
