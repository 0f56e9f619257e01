//! A reconnecting event-stream client: a [`Stream`] of events and
//! connection state changes, driven by
//! [`resse_session::ClientSession`].
//!
//! Every decision (when to connect, how long to wait, what `Last-Event-ID`
//! to send, whether a response is a stream, when a silent connection is
//! dead) is the session's. The [`Client`] only performs its actions: it
//! sends requests through a [`Connect`] ([`HyperConnector`] by default),
//! feeds it the response and the body chunks, and keeps one timer armed at
//! [`poll_timeout()`](resse_session::ClientSession::poll_timeout).
//!
//! It spawns nothing: all of it runs inside `poll_next`, so dropping the
//! client (or [`close`](Client::close)) drops the connection at once.
//! (hyper's own connection tasks end with their connection.) The liveness
//! probe's side request ([`ClientBuilder::probe`], see
//! [`resse_session::probe`]) is sent through the same [`Connect`] and
//! polled beside the stream in `poll_next` too, rather than spawned: it
//! needs no runtime handle, cannot outlive the client, and is dropped
//! with the stream it probes.
//!
//! ```no_run
//! use std::time::Duration;
//! use futures_util::StreamExt;
//! use resse_tokio::client::{ClientBuilder, SessionEvent};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut client = ClientBuilder::new("https://example.com/events")
//!     .idle_timeout(Some(Duration::from_secs(45)))
//!     .build()?;
//! while let Some(item) = client.next().await {
//!     match item {
//!         SessionEvent::Event(event) => println!("{}: {}", event.event_type(), event.data()),
//!         SessionEvent::Reconnecting { cause, delay, .. } => {
//!             eprintln!("{cause}; reconnecting in {delay:?}")
//!         }
//!         SessionEvent::Closed { reason } => eprintln!("closed: {reason}"),
//!         _ => {}
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod connect;
mod error;
mod proxy;

use std::collections::hash_map::RandomState;
use std::fmt;
use std::future::Future;
use std::hash::BuildHasher;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use futures_core::{FusedStream, Stream};
use http_body::Body;
use resse_codec::Event;
use resse_session::Action;

use crate::now;
// What the client's API names from the sans-IO crates, so that users need
// no dependency on them: the session that drives a `Client`, its
// configuration and what it reports, and the reconnection policy's
// configuration with the causes and reasons found in `SessionEvent`s.
pub use resse_reconnect::{
    Cause, DelayReason, Jitter, ReconnectConfig, ReconnectPolicy, StatusAction, StatusClass,
    StopReason, VerdictTable,
};
pub use resse_session::{
    ClientSession, CloseReason, ConfigError, ConnectionState, InvalidUrl, Metrics, Probe,
    ProbeConfig, Request, SessionConfig, SessionEvent,
};

pub use connect::{BoxError, Connect, HyperConnector, HyperConnectorBuilder};
/// Why the [`HyperConnector`] could not open a connection: it fails with
/// it, and the [`Client`] keeps it as its
/// [`last_error`](Client::last_error) (downcast the `BoxError` to read its
/// fields).
pub use error::ConnectError;
pub use error::ConnectErrorKind;
pub use proxy::InvalidProxy;
/// The proxy setting of this client: set it with [`ClientBuilder::proxy`]
/// or [`HyperConnectorBuilder::proxy`].
/// Without one, the client reads the proxy from the environment, as curl
/// does: see [`HyperConnectorBuilder::proxy_from_env`].
///
/// ```
/// use resse_tokio::client::Proxy;
///
/// let proxy = Proxy::new("http://user:secret@127.0.0.1:3128")?
///     .no_proxy("localhost, .internal.example, 10.0.0.0/8");
/// assert_eq!(proxy.authority(), "127.0.0.1:3128");
/// # Ok::<(), resse_tokio::client::InvalidProxy>(())
/// ```
pub use proxy::Proxy;

/// A seed for the reconnection jitter from the OS random source (std's
/// `RandomState` keys come from it), so that clients dropped together do not
/// come back together.
fn random_seed() -> u64 {
    RandomState::new().hash_one(std::process::id())
}

/// A hook that may change each request before it is sent.
type Hook = Box<dyn FnMut(&mut Request) + Send>;

/// Configures a [`Client`]: the options of [`SessionConfig`], the connect
/// timeout, the proxy and a hook run before every request.
pub struct ClientBuilder {
    config: SessionConfig,
    connect_timeout: Duration,
    proxy: Option<Proxy>,
    proxy_from_env: bool,
    hook: Option<Hook>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("config", &self.config)
            .field("connect_timeout", &self.connect_timeout)
            .field("proxy", &self.proxy)
            .field("proxy_from_env", &self.proxy_from_env)
            .field("hook", &self.hook.is_some())
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// A client of the event stream at `url` (`http://` or `https://`).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            config: SessionConfig::new(url),
            connect_timeout: HyperConnectorBuilder::DEFAULT_CONNECT_TIMEOUT,
            proxy: None,
            proxy_from_env: true,
            hook: None,
        }
    }

    resse_session::client_builder_session_setters!();

    /// The connect timeout of the default [`HyperConnector`] (10 s): TCP
    /// connection, proxy tunnel and TLS handshake together.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sends every request of the default [`HyperConnector`] through
    /// `proxy` (except to the hosts of its [`no_proxy`](Proxy::no_proxy)
    /// list), instead of the proxy from the environment. See
    /// [`HyperConnectorBuilder::proxy`].
    ///
    /// ```
    /// use resse_tokio::client::{ClientBuilder, Proxy};
    ///
    /// let builder = ClientBuilder::new("https://example.com/events")
    ///     .proxy(Proxy::new("http://proxy.internal:3128")?);
    /// # Ok::<(), resse_tokio::client::InvalidProxy>(())
    /// ```
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Whether the default [`HyperConnector`] reads the proxy from the
    /// environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`,
    /// as curl does) when no [`proxy`](Self::proxy) is set: on by default,
    /// read when the client is built. `false` connects directly.
    pub fn proxy_from_env(mut self, yes: bool) -> Self {
        self.proxy_from_env = yes;
        self
    }

    /// Runs `hook` on every request before it is sent, reconnections and
    /// redirects included: put a fresh auth token in, move to another URL.
    /// The `Last-Event-ID` header is already set. It runs on the liveness
    /// probe's side requests too (so that a fresh token follows them): tell
    /// them apart by their URL if the hook rewrites URLs.
    ///
    /// ```
    /// use http::{HeaderValue, header::AUTHORIZATION};
    /// use resse_tokio::client::ClientBuilder;
    ///
    /// let builder = ClientBuilder::new("https://example.com/events").on_request(|request| {
    ///     let token = "fresh-token"; // e.g. from a token cache
    ///     if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
    ///         request.headers.insert(AUTHORIZATION, value);
    ///     }
    /// });
    /// ```
    pub fn on_request(mut self, hook: impl FnMut(&mut Request) + Send + 'static) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    /// A client over the default [`HyperConnector`]. It connects when first
    /// polled, which must happen inside a tokio runtime (with its time and
    /// I/O drivers enabled).
    ///
    /// # Errors
    /// [`ConfigError`] for a URL that is not an absolute `http://` or
    /// `https://` URL with a host, or an invalid reconnection policy; its
    /// message says what is wrong and what is accepted.
    pub fn build(self) -> Result<Client<HyperConnector>, ConfigError> {
        let mut connector = HyperConnector::builder()
            .connect_timeout(self.connect_timeout)
            .proxy_from_env(self.proxy_from_env);
        if let Some(proxy) = self.proxy.clone() {
            connector = connector.proxy(proxy);
        }
        self.build_with(connector.build())
    }

    /// A client over your own [`Connect`].
    ///
    /// # Errors
    /// [`ConfigError`], as for [`build`](Self::build).
    pub fn build_with<C: Connect>(self, connector: C) -> Result<Client<C>, ConfigError> {
        let mut config = self.config;
        if config.get_seed().is_none() {
            config = config.seed(random_seed());
        }
        let session = ClientSession::new(now(), config)?;
        Ok(Client {
            session,
            connector,
            hook: self.hook,
            conn: Conn::None,
            probe: None,
            sleep: None,
            armed: None,
            close: CloseHandle::default(),
            last_error: None,
            stopped: false,
        })
    }
}

type ResponseFuture<B> =
    Pin<Box<dyn Future<Output = Result<http::Response<B>, BoxError>> + Send + 'static>>;

enum Conn<B> {
    None,
    Connecting(ResponseFuture<B>),
    Streaming(B),
}

/// Stops a [`Client`] from anywhere (another task, a signal handler): the
/// client drops its connection, reports
/// [`SessionEvent::Closed`] with [`CloseReason::Requested`] and ends.
#[derive(Clone, Debug, Default)]
pub struct CloseHandle {
    shared: Arc<CloseShared>,
}

#[derive(Debug, Default)]
struct CloseShared {
    closed: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl CloseHandle {
    /// Asks the client to close. Idempotent.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        let waker = self
            .shared
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    fn register(&self, waker: &Waker) {
        let mut slot = self
            .shared
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match &*slot {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }
}

/// A reconnecting Server-Sent Events client: a [`Stream`] of
/// [`SessionEvent`]s (events, and connection state changes in between)
/// that reconnects with `Last-Event-ID` through any number of failures, as
/// its [`ClientSession`] decides, and ends after
/// [`SessionEvent::Closed`].
///
/// Build it with [`ClientBuilder`]. [`next_event`](Self::next_event) skips
/// the state changes. Dropping it, or [`close`](Self::close), stops
/// everything: it owns its connection and its one timer, and spawns no
/// task.
pub struct Client<C: Connect = HyperConnector> {
    session: ClientSession,
    connector: C,
    hook: Option<Hook>,
    conn: Conn<C::Body>,
    /// The liveness probe's side request in flight, with its nonce.
    probe: Option<(resse_codec::Text, ResponseFuture<C::Body>)>,
    /// The one timer, made on first use (so that building a client needs no
    /// runtime).
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    armed: Option<Instant>,
    close: CloseHandle,
    last_error: Option<BoxError>,
    stopped: bool,
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

/// How many inputs one `poll_next` feeds the session before yielding to the
/// runtime (a body that is always ready with comments only must not hog
/// the thread).
const BUDGET: usize = 64;

impl<C: Connect> Client<C> {
    /// A handle that closes this client from elsewhere.
    pub fn close_handle(&self) -> CloseHandle {
        self.close.clone()
    }

    /// Closes the client: the connection is dropped, the stream yields
    /// [`SessionEvent::Closed`] and ends.
    pub fn close(&mut self) {
        self.close.close();
    }

    /// The session: state, last event id, [`metrics`](ClientSession::metrics).
    pub fn session(&self) -> &ClientSession {
        &self.session
    }

    /// The last error a connection attempt or a body reported (the
    /// session's [`Cause`] says what kind; this says what exactly, e.g. a
    /// certificate the TLS stack did not trust). With the default
    /// [`HyperConnector`], a connection that could not be opened is a
    /// [`ConnectError`] (`downcast_ref` it for its kind and addresses).
    pub fn last_error(&self) -> Option<&BoxError> {
        self.last_error.as_ref()
    }

    /// The next event, skipping state changes; `Ok(None)` when the stream
    /// ends normally (204, a clean end with
    /// [`stop_on_clean_end`](ClientBuilder::stop_on_clean_end),
    /// [`close`](Self::close)), `Err` when it ends for a failure. The same
    /// method as `resse_blocking`'s `Client::next_event`.
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut client = resse_tokio::client::ClientBuilder::new("http://127.0.0.1:8080/events").build()?;
    /// while let Some(event) = client.next_event().await? {
    ///     println!("{}: {}", event.last_event_id(), event.data());
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The [`CloseReason`] of a session that closed for a failure (a
    /// refused response, a retry limit, a decoder limit with
    /// `Overflow::Stop`); [`last_error`](Self::last_error) may tell more.
    pub async fn next_event(&mut self) -> Result<Option<Event>, CloseReason> {
        loop {
            match self.next_session_event().await {
                Some(SessionEvent::Event(event)) => return Ok(Some(event)),
                Some(SessionEvent::Closed { reason }) if reason.is_error() => return Err(reason),
                Some(_) => {}
                None => return Ok(None),
            }
        }
    }

    /// The next event or state change (connecting, open, reconnecting with
    /// cause and delay, closed); `None` once the session is closed and its
    /// [`SessionEvent::Closed`] was returned. What the client's [`Stream`]
    /// yields, without needing `StreamExt`; the same method as
    /// `resse_blocking`'s `Client::next_session_event`.
    pub async fn next_session_event(&mut self) -> Option<SessionEvent> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    fn perform(&mut self, action: Action) {
        match action {
            Action::Connect(mut request) => {
                if let Some(hook) = &mut self.hook {
                    hook(&mut request);
                }
                self.conn = Conn::Connecting(Box::pin(self.connector.connect(request)));
            }
            Action::Probe(probe) => {
                let mut request = probe.request;
                if let Some(hook) = &mut self.hook {
                    hook(&mut request);
                }
                let future = Box::pin(self.connector.connect(request));
                self.probe = Some((probe.nonce, future));
            }
            Action::Disconnect => {
                self.conn = Conn::None;
                self.probe = None;
            }
            Action::Stop => {
                self.conn = Conn::None;
                self.probe = None;
                self.stopped = true;
            }
            // A later kind of action this adapter does not know.
            _ => {}
        }
    }

    /// Polls the connection once; `true` when the session got an input.
    fn poll_conn(&mut self, cx: &mut Context<'_>) -> bool {
        match &mut self.conn {
            Conn::None => false,
            Conn::Connecting(future) => match future.as_mut().poll(cx) {
                Poll::Pending => false,
                Poll::Ready(Ok(response)) => {
                    let (head, body) = response.into_parts();
                    // The wall clock resolves a `Retry-After` date when the
                    // response has no `Date` header.
                    self.session.handle_response_with_wall_clock(
                        now(),
                        SystemTime::now(),
                        head.status,
                        &head.headers,
                    );
                    self.conn = match self.session.state() {
                        ConnectionState::Open => Conn::Streaming(body),
                        // Not a stream: the session has issued `Disconnect`.
                        _ => Conn::None,
                    };
                    true
                }
                Poll::Ready(Err(e)) => {
                    tracing::debug!(error = %e, "event stream connection failed");
                    self.last_error = Some(e);
                    self.conn = Conn::None;
                    self.session.handle_error(now(), Cause::ConnectFailed);
                    true
                }
            },
            Conn::Streaming(body) => match Pin::new(body).poll_frame(cx) {
                Poll::Pending => false,
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.session.handle_body(now(), data);
                    }
                    true
                }
                Poll::Ready(Some(Err(e))) => {
                    let e: BoxError = e.into();
                    tracing::debug!(error = %e, "event stream body failed");
                    self.last_error = Some(e);
                    self.conn = Conn::None;
                    self.session.handle_error(now(), Cause::Io);
                    true
                }
                Poll::Ready(None) => {
                    self.conn = Conn::None;
                    self.session.handle_eof(now());
                    true
                }
            },
        }
    }

    /// Polls the probe's side request; `true` when the session got an input
    /// (its failure). A 2xx response is all it needs: the answer comes on
    /// the stream, and the response body is dropped.
    fn poll_probe(&mut self, cx: &mut Context<'_>) -> bool {
        let Some((nonce, future)) = &mut self.probe else {
            return false;
        };
        let Poll::Ready(result) = future.as_mut().poll(cx) else {
            return false;
        };
        let failed = match result {
            Ok(response) if response.status().is_success() => false,
            Ok(response) => {
                tracing::debug!(status = %response.status(), "liveness probe refused");
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "liveness probe failed");
                true
            }
        };
        let nonce = nonce.clone();
        self.probe = None;
        if failed {
            self.session.handle_probe_error(now(), &nonce);
        }
        failed
    }

    /// Arms the timer for the session's deadline and polls it; `true` when
    /// it fired and the session got it.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.session.poll_timeout() else {
            self.armed = None;
            return false;
        };
        let at = tokio::time::Instant::from_std(deadline);
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        if self.armed != Some(deadline) {
            sleep.as_mut().reset(at);
            self.armed = Some(deadline);
        }
        if sleep.as_mut().poll(cx).is_ready() {
            self.armed = None;
            self.session.handle_timeout(now());
            true
        } else {
            false
        }
    }
}

impl<C: Connect> Stream for Client<C> {
    type Item = SessionEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SessionEvent>> {
        // `Client` holds no self-references: the futures it polls are boxed.
        let this = self.get_mut();
        for _ in 0..BUDGET {
            while let Some(action) = this.session.poll_action() {
                this.perform(action);
            }
            if let Some(event) = this.session.poll_event() {
                return Poll::Ready(Some(event));
            }
            if this.stopped {
                return Poll::Ready(None);
            }
            if this.close.is_closed() {
                this.session.close();
                continue;
            }
            this.close.register(cx.waker());
            if this.close.is_closed() {
                continue;
            }
            if this.poll_conn(cx) || this.poll_probe(cx) || this.poll_timer(cx) {
                continue;
            }
            return Poll::Pending;
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<C: Connect> FusedStream for Client<C> {
    fn is_terminated(&self) -> bool {
        self.stopped
    }
}

impl<C: Connect> Unpin for Client<C> {}
