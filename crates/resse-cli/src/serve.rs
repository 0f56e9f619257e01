//! `resse serve`: an event stream server fed by stdin lines (or a ticker),
//! with keep-alive comments, a replay log for `Last-Event-ID`, and a live
//! page at `/` that follows the stream with the browser's `EventSource`.
//!
//! Everything SSE comes from [`resse_tokio::server`]: a [`Broadcaster`]
//! (publishing, the replay log, bounded subscriber queues), [`SseBody`]
//! (keep-alives) and, for plain HTTP, [`serve_connection`] (one request per
//! connection, HTTP/1.1). With TLS ([`crate::tls`]) connections go through
//! hyper-util's automatic HTTP/2-or-HTTP/1.1 connection instead. This
//! module reads the input, answers requests, and logs one line per
//! connection on stderr.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::io::{self, BufRead};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use clap::Args;
use futures_util::{Stream, StreamExt};
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{HeaderName, Method, Request, Response, StatusCode};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use resse_codec::{Encoder, Event, Text};
use resse_redis::{
    MemoryLog, Node, NodeConfig, NodeHealth, NodeSubscription, RedisConfig, RedisLog,
};
use resse_tokio::server::{
    BroadcastConfig, BroadcastStats, Broadcaster, ConnConfig, ConnError, DEFAULT_SEND_BUFFER_SIZE,
    EndReason, KeepAliveConfig, ProbeAnswer, PublishError, ReplayConfig, ReplayOutcome, SseBody,
    Subscription, TimeoutIo, last_event_id, serve_connection, tune_accepted,
};
use serde_json::{Map, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::error::CliError;
use crate::render::note;
use crate::tail::parse_secs;
use crate::tls::{self, Tls};

/// The page served at `/`, with `{{...}}` placeholders filled per request.
const PAGE: &str = include_str!("page.html");

/// The most event types the page is told about (it listens for each).
const MAX_TYPES: usize = 64;

/// How long open connections get to finish after a stop signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The pause of a listener restart (SIGHUP) without `--retry`.
const RESTART_PAUSE: Duration = Duration::from_secs(1);

/// What connections are told: serve on, stop (streams end cleanly, as the
/// broadcaster is closed), or drop at once (a listener restart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Serving,
    Stopping,
    Restarting,
}

/// Arguments of `resse serve`.
#[derive(Debug, Args)]
#[command(after_help = "\
Input: without --ticker, every line of stdin is published as one event as soon as it is read. \
A line that is a JSON object with any of the keys \"event\", \"data\" and \"id\" (string \
values; null counts as absent) is that event, e.g. {\"event\":\"price\",\"data\":\"42\",\"id\":\"p-1\"}; \
any other line (plain text, or JSON that is not such an object) is the data of a `message` \
event. An event object that cannot be sent (a value that is not a string, an unknown key, a \
line break in \"event\" or \"id\", a NUL in \"id\", an empty \"id\", an id still in the replay \
log) is refused with one `resse: stdin line N not published: WHY` line on stderr; nothing is \
published for it and the server goes on. A line that is not UTF-8 is refused the same way.

Ids: an event without an id gets the next assigned one, PREFIX-1, PREFIX-2, ... where PREFIX \
is the server's start time (milliseconds since the Unix epoch, in hex), so that ids from an \
earlier run read as unknown. The counter only counts assigned ids: an event with its own id \
keeps it and does not move the counter. Ids must be unique within the replay log.

End of stdin does not stop the server: it goes on serving the replay log and keep-alives. \
Ctrl-C or SIGTERM stops it: every open stream gets what was queued for it, then ends cleanly, \
and the server exits with status 0.

SIGHUP restarts the listener: the server closes the listening socket and drops every \
connection at once (as a crash or a network cut would), waits the --retry delay (1 s without \
--retry), then listens on the same address and port again. Publishing and the replay log go on \
meanwhile, so clients that reconnect with Last-Event-ID get exactly what they missed. If the \
address cannot be bound again, the server exits with status 1.

Streams: GET PATH (default /events) answers text/event-stream, with a keep-alive comment \
after --keep-alive seconds of quiet. Every stream starts with `retry: MS` when --retry is \
given. A new client (no Last-Event-ID) gets the events published from then on. A client that reconnects with Last-Event-ID is replayed \
exactly the events published after that id, then goes live, with no gap or duplicate. If the \
id is older than the replay log (evicted) or unknown (never published here, e.g. from before a \
restart), no exact replay exists: the client gets live events only, preceded by one event of \
type `reload` whose data is {\"last_event_id\":ID,\"reason\":\"too-old\"|\"unknown\"} and whose \
id is the newest published id (empty if none yet), so that it can reload its state and resume \
exactly from there; a `lastEventId=ID` query parameter counts as Last-Event-ID when the \
header is absent (for pages that reopen their EventSource themselves). Liveness probes: GET or \
POST PATH/probe?client=ID&nonce=N sends the event `pong` with data N to that client's stream \
and answers 204 (400 for a bad nonce, 404 for no such client), so that `resse tail \
--probe-interval` and the page can tell a stream that delivers from one that only keeps \
alive. A stream request with a `client=ID` query parameter (for example \
/events?client=alice; ID as sent, 1 to 128 bytes) is that client's one connection: a newer \
connection of the same client ends the older one. A client that falls more than 512 events (or \
the --replay count, if smaller) behind (it reads too slowly) is disconnected rather than \
buffered for; it reconnects and is replayed from the log. A client that stops reading \
altogether pins at most its socket's send buffer (128 KiB) in the kernel, and is cut with a \
reset once a write has been blocked for 30 s.

TLS: with --tls-cert and --tls-key, or --tls-self-signed, the server speaks HTTPS only, \
offering HTTP/2 and HTTP/1.1 (ALPN); the start-up lines give the certificate's SHA-256 \
fingerprint, to compare with what a client sees (`resse tail --insecure` accepts a \
self-signed certificate; browsers ask first).

GET / serves a live page that follows the stream with the browser's EventSource: connection \
state (with the retry countdown), last event id, reconnections, and the events, newest first. \
EventSource delivers only the event types a page listens for: the page listens for `message`, \
`tick`, `reload` and the types published before it loaded. Other paths get 404, other \
methods 405.

Logs (stderr): one line at start with the URLs; one line per connection when a stream opens \
(new, resumed, too old, unknown) and when it closes (the client went away, the server stopped, \
the client fell too far behind) and one per other request. -q leaves out the connection lines.

Exit status: 0 after Ctrl-C or SIGTERM; 1 when the address cannot be bound (at start, or \
again after SIGHUP) or the certificate or key cannot be used; 2 on bad arguments.")]
pub(crate) struct ServeArgs {
    /// The IP address to listen on (IPv4 or IPv6).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    bind: IpAddr,

    /// The TCP port; 0 picks a free one (the start-up line on stderr says which).
    #[arg(short, long, value_name = "N", default_value_t = 8080)]
    port: u16,

    /// The path of the event stream.
    #[arg(long, value_name = "PATH", default_value = "/events", value_parser = parse_path)]
    path: String,

    /// Send a keep-alive comment after this many seconds of quiet on a stream (0: never).
    #[arg(long, value_name = "SECS", default_value = "15", value_parser = parse_secs)]
    keep_alive: Duration,

    /// How many recent events the replay log keeps for Last-Event-ID (at least 1, at most 4 MiB
    /// of them); subscribers may fall this many events behind (or 512 if fewer) before they are
    /// dropped.
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000_000))]
    replay: usize,

    /// Announce this reconnection delay (`retry:`, in milliseconds) at the start of every stream.
    #[arg(long, value_name = "MS")]
    retry: Option<u64>,

    /// Publish a counter event (type `tick`, data 1, 2, 3, ...) every MS milliseconds instead of reading stdin.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    ticker: Option<u64>,

    /// Do not log connections on stderr.
    #[arg(short, long)]
    quiet: bool,

    /// Run as one node of a service sharing its event log in Redis (e.g.
    /// redis://127.0.0.1:6379/): events are published to Redis, and every
    /// node serves them all, resuming a client on any node; a lost position
    /// gets an `event: reset`. Redis unreachable at start: exit status 1.
    #[arg(long, value_name = "URL")]
    redis: Option<String>,

    /// The stream's name in Redis (with --redis): nodes with the same name
    /// serve the same events.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "events",
        requires = "redis"
    )]
    stream: String,

    /// Serve HTTPS (HTTP/2 or HTTP/1.1) with this certificate chain (PEM, leaf first).
    #[arg(
        long,
        value_name = "PEM",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Serve HTTPS with a new self-signed certificate (for localhost, 127.0.0.1, ::1 and
    /// --bind); its SHA-256 fingerprint is printed at start.
    #[arg(long)]
    tls_self_signed: bool,
}

/// Parses `--path`: an absolute path other than `/`, of URL path characters.
fn parse_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') {
        return Err(format!("{s:?} must start with '/'"));
    }
    if s == "/" {
        return Err("\"/\" is the page; choose another path for the stream".to_owned());
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/-._~!$&'()*+,;=:@%".contains(c);
    if let Some(c) = s.chars().find(|&c| !allowed(c)) {
        return Err(format!("{c:?} is not allowed in a URL path"));
    }
    Ok(s.to_owned())
}

/// Locks a mutex, ignoring poisoning (nothing here panics while holding one).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What every connection shares.
pub(crate) struct Server {
    pub(crate) broadcaster: Broadcaster,
    /// With a shared log: the node that publishes to it and serves the
    /// streams (then `broadcaster` is unused).
    pub(crate) node: Option<Arc<SharedNode>>,
    /// The id of the newest published event. Held across publishing and
    /// subscribing, so that a subscriber's replay and this id agree.
    newest: Mutex<Option<Text>>,
    /// The event types published so far (but `message`), for the page.
    types: Mutex<BTreeSet<String>>,
    path: String,
    retry: Option<Duration>,
    keep_alive: Option<Duration>,
    quiet: bool,
    conn: ConnConfig,
    /// The send buffer of accepted sockets (what a client that stops
    /// reading can pin in the kernel).
    send_buffer: Option<usize>,
    /// Set while the listener restarts (SIGHUP): streams dropped then say so.
    restarting: Arc<AtomicBool>,
    /// While set, requests for the stream are answered `503` with this
    /// `Retry-After` (`resse demo`'s outage).
    unavailable: Mutex<Option<Duration>>,
    /// While set, probe requests are accepted but not answered (`resse
    /// demo`'s wedged server: keep-alives go on, events and answers stop).
    wedged: AtomicBool,
    /// How probes are answered.
    probe: ProbeAnswer,
}

/// What a [`Server`] is built from.
pub(crate) struct ServerOptions {
    pub(crate) broadcast: BroadcastConfig,
    pub(crate) path: String,
    pub(crate) retry: Option<Duration>,
    pub(crate) keep_alive: Option<Duration>,
    pub(crate) quiet: bool,
    pub(crate) conn: ConnConfig,
    /// The send buffer of accepted sockets (`None`: the system's).
    pub(crate) send_buffer: Option<usize>,
    pub(crate) node: Option<Arc<SharedNode>>,
}

/// A node over a shared log (`serve --redis`; `demo --nodes`).
pub(crate) enum SharedNode {
    /// Over Redis.
    Redis(Node<RedisLog>),
    /// Over an in-process log (`resse demo --nodes N` without `--redis`).
    Memory(Node<MemoryLog>),
}

/// Runs `$e` on the node, whichever log it is over.
macro_rules! on_node {
    ($self:ident, $node:ident => $e:expr) => {
        match $self {
            SharedNode::Redis($node) => $e,
            SharedNode::Memory($node) => $e,
        }
    };
}

impl SharedNode {
    /// Publishes to the shared log; the event's id is its position.
    pub(crate) async fn publish(&self, event: &Event) -> Result<String, String> {
        let published = on_node!(self, node => node.publish(event).await);
        published.map(|p| p.to_string()).map_err(|e| e.to_string())
    }

    /// A stream resumed after `last`, as `identity`.
    pub(crate) async fn subscribe(
        &self,
        last: Option<&str>,
        identity: Option<&str>,
    ) -> NodeSubscription {
        on_node!(self, node => node.subscribe(last, identity).await)
    }

    /// The node's links.
    pub(crate) fn health(&self) -> NodeHealth {
        on_node!(self, node => node.health())
    }

    /// Sends `event` to the stream of `identity`, on whichever node holds it
    /// (this one only, over an in-process log); failures are dropped (a
    /// probe that gets no answer times out on the client).
    pub(crate) async fn send_to(&self, identity: &str, event: &Event) {
        let _ = on_node!(self, node => node.send_to(identity, event).await);
    }

    /// The node's local broadcaster counters.
    pub(crate) fn stats(&self) -> BroadcastStats {
        on_node!(self, node => node.stats())
    }

    /// Ends every stream.
    pub(crate) fn close(&self) {
        on_node!(self, node => node.close())
    }
}

/// The response body: an event stream or a small fixed body.
type Reply = Either<SseBody<EventStream>, Full<Bytes>>;

impl Server {
    /// A server with nothing published yet.
    pub(crate) fn new(options: ServerOptions) -> Self {
        Self {
            broadcaster: Broadcaster::new(options.broadcast),
            node: options.node,
            newest: Mutex::new(None),
            types: Mutex::new(BTreeSet::new()),
            path: options.path,
            retry: options.retry,
            keep_alive: options.keep_alive,
            quiet: options.quiet,
            conn: options.conn,
            send_buffer: options.send_buffer,
            restarting: Arc::new(AtomicBool::new(false)),
            unavailable: Mutex::new(None),
            wedged: AtomicBool::new(false),
            probe: ProbeAnswer::default(),
        }
    }

    /// Wedges the event path (see `wedged`), or unwedges it.
    pub(crate) fn set_wedged(&self, yes: bool) {
        self.wedged.store(yes, Ordering::SeqCst);
    }

    /// Whether the event path is wedged.
    pub(crate) fn is_wedged(&self) -> bool {
        self.wedged.load(Ordering::SeqCst)
    }

    /// Answers a liveness probe (`GET` or `POST` on PATH/probe, with
    /// `client=ID&nonce=N`): the `pong` event goes to that client's stream.
    fn answer_probe(&self, request: &Request<()>) -> (Response<Reply>, String) {
        let (method, path) = (request.method(), request.uri().path());
        if method != Method::GET && method != Method::POST {
            return method_not_allowed(method, path, "GET, POST", b"only GET and POST\n");
        }
        if self.is_wedged() {
            let response = fixed(
                StatusCode::NO_CONTENT,
                "text/plain; charset=utf-8",
                Bytes::new(),
            );
            return (
                response,
                format!("{method} {path}: 204 (wedged: not answered)"),
            );
        }
        if let Some(node) = &self.node {
            // The answer goes to wherever the client's stream is (another
            // node, with Redis): sent in the background, accepted now.
            return match self.probe.parse(request.uri().query()) {
                Ok(query) if query.identity.is_some() => {
                    let identity = query.identity.unwrap_or_default().to_owned();
                    let event = self.probe.event(query.nonce);
                    let node = Arc::clone(node);
                    tokio::spawn(async move { node.send_to(&identity, &event).await });
                    let response = fixed(
                        StatusCode::ACCEPTED,
                        "text/plain; charset=utf-8",
                        Bytes::new(),
                    );
                    (
                        response,
                        format!("{method} {path}: 202 (probe answer sent)"),
                    )
                }
                Ok(_) => {
                    let body = "a probe of a node needs the client's identity (client=ID)\n";
                    let response = fixed(
                        StatusCode::BAD_REQUEST,
                        "text/plain; charset=utf-8",
                        body.into(),
                    );
                    (response, format!("{method} {path}: 400"))
                }
                Err(e) => {
                    let status = e.status();
                    let response =
                        fixed(status, "text/plain; charset=utf-8", format!("{e}\n").into());
                    (response, format!("{method} {path}: {}", status.as_u16()))
                }
            };
        }
        match self
            .broadcaster
            .answer_probe(&self.probe, request.uri().query())
        {
            Ok(_) => {
                let response = fixed(
                    StatusCode::NO_CONTENT,
                    "text/plain; charset=utf-8",
                    Bytes::new(),
                );
                (response, format!("{method} {path}: 204 (probe answered)"))
            }
            Err(e) => {
                let status = e.status();
                let response = fixed(status, "text/plain; charset=utf-8", format!("{e}\n").into());
                (response, format!("{method} {path}: {}", status.as_u16()))
            }
        }
    }

    /// Answers requests for the stream with `503` and `Retry-After` (rounded
    /// up to whole seconds) while `retry_after` is `Some`.
    pub(crate) fn set_unavailable(&self, retry_after: Option<Duration>) {
        *lock(&self.unavailable) = retry_after;
    }

    /// Publishes `event`, noting its id and type.
    pub(crate) fn publish(&self, event: Event) -> Result<Text, PublishError> {
        let mut newest = lock(&self.newest);
        let event_type = event.event_type_text().map(|t| t.as_str().to_owned());
        let id = self.broadcaster.publish(event)?;
        *newest = Some(id.clone());
        drop(newest);
        if let Some(event_type) = event_type.filter(|t| !t.is_empty() && t != "message") {
            let mut types = lock(&self.types);
            if types.len() < MAX_TYPES {
                types.insert(event_type);
            }
        }
        Ok(id)
    }

    /// The counters of whichever broadcaster serves the streams (the node's,
    /// with a shared log).
    pub(crate) fn stats(&self) -> BroadcastStats {
        match &self.node {
            Some(node) => node.stats(),
            None => self.broadcaster.stats(),
        }
    }

    /// Ends every stream (the node's too) for a graceful stop.
    pub(crate) fn close(&self) {
        self.broadcaster.close();
        if let Some(node) = &self.node {
            node.close();
        }
    }

    /// Publishes `event` to the node's shared log when there is one, else
    /// here; the error as text.
    pub(crate) async fn publish_any(&self, event: Event) -> Result<Text, String> {
        let Some(node) = &self.node else {
            return self.publish(event).map_err(|e| match e {
                PublishError::Encode(e) => e.to_string(),
                PublishError::Replay(e) => e.to_string(),
                e => e.to_string(),
            });
        };
        let event_type = event.event_type_text().map(|t| t.as_str().to_owned());
        let id = node.publish(&event).await?;
        if let Some(event_type) = event_type.filter(|t| !t.is_empty() && t != "message") {
            let mut types = lock(&self.types);
            if types.len() < MAX_TYPES {
                types.insert(event_type);
            }
        }
        Ok(Text::from(id))
    }

    /// Subscribes from `last` (as `identity`, when given: one connection
    /// per identity) and returns the newest id published before.
    fn subscribe(
        &self,
        last: Option<&str>,
        identity: Option<&str>,
    ) -> (Subscription, Option<Text>) {
        let newest = lock(&self.newest);
        let mut options = self.broadcaster.subscriber().last_event_id(last);
        if let Some(identity) = identity {
            options = options.identity(identity);
        }
        (options.subscribe(), newest.clone())
    }

    /// Answers one request; `opened` is set when it is an event stream.
    /// With `close_log` (the peer), the stream logs its own end (unless
    /// quiet) when it is dropped.
    fn respond(
        &self,
        request: &Request<()>,
        ended: &Arc<Mutex<Option<EndReason>>>,
        opened: &mut bool,
        close_log: Option<String>,
    ) -> (Response<Reply>, String) {
        let method = request.method();
        let path = request.uri().path();
        if path.strip_prefix(self.path.trim_end_matches('/')) == Some("/probe") {
            return self.answer_probe(request);
        }
        if method != Method::GET && method != Method::HEAD {
            return method_not_allowed(method, path, "GET, HEAD", b"only GET and HEAD\n");
        }
        if path == "/" {
            let page = self.page();
            let response = fixed(StatusCode::OK, "text/html; charset=utf-8", page);
            return (response, format!("{method} {path}: 200 (the page)"));
        }
        if path != self.path {
            let body = format!("not found; the event stream is at {}\n", self.path);
            let response = fixed(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                body.into(),
            );
            return (response, format!("{method} {path}: 404"));
        }
        if let Some(retry_after) = *lock(&self.unavailable) {
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            let mut response = fixed(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain; charset=utf-8",
                Bytes::from_static(
                    b"unavailable for a moment; retry after the Retry-After delay\n",
                ),
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
            return (response, format!("{method} {path}: 503 (unavailable)"));
        }
        if method == Method::HEAD {
            // The head of a stream, without subscribing.
            let mut response = Response::new(Either::Right(Full::new(Bytes::new())));
            *response.headers_mut() = resse_tokio::server::headers();
            return (response, format!("{method} {path}: 200"));
        }
        // A page that reopens its EventSource itself (after a probe timeout)
        // passes its last id as `lastEventId=`: EventSource sends the header
        // only on its own reconnections. The header wins.
        let last =
            last_event_id(request.headers()).or_else(|| query_last_event_id(request.uri().query()));
        let identity = client_identity(request.uri().query());
        if let Some(node) = &self.node {
            return self.respond_node(node, last, identity, ended, opened, close_log);
        }
        let (subscription, newest) = self.subscribe(last, identity);
        let outcome = subscription.replay();
        let prefix = self.prefix(outcome, last, newest.as_deref());
        let stream = EventStream {
            prefix: (!prefix.is_empty()).then_some(prefix),
            subscription: Source::Local(subscription),
            ended: Arc::clone(ended),
            close_log: close_log.filter(|_| !self.quiet),
            restarting: Arc::clone(&self.restarting),
        };
        let body = SseBody::new(stream);
        let body = match self.keep_alive {
            Some(interval) => body.keep_alive(KeepAliveConfig::new(interval)),
            None => body.without_keep_alive(),
        };
        *opened = true;
        let how = match (outcome, last) {
            (ReplayOutcome::Exact { replayed }, Some(id)) => {
                format!("resumed after {id:?}, {replayed} replayed")
            }
            (ReplayOutcome::TooOld { .. }, Some(id)) => {
                format!(
                    "Last-Event-ID {id:?} is older than the replay log: sent `reload`, live from now"
                )
            }
            (ReplayOutcome::Unknown { .. }, Some(id)) => {
                format!("Last-Event-ID {id:?} is unknown: sent `reload`, live from now")
            }
            _ => "new".to_owned(),
        };
        let how = match identity {
            Some(identity) => format!("{how}; client {identity:?}"),
            None => how,
        };
        (
            body.into_response().map(Either::Left),
            format!("stream opened ({how})"),
        )
    }

    /// A stream served by the node: resumed from its ring or the shared log
    /// (a lost position gets `event: reset` from the node).
    fn respond_node(
        &self,
        node: &Arc<SharedNode>,
        last: Option<&str>,
        identity: Option<&str>,
        ended: &Arc<Mutex<Option<EndReason>>>,
        opened: &mut bool,
        close_log: Option<String>,
    ) -> (Response<Reply>, String) {
        let prefix = self.prefix(ReplayOutcome::New, None, None);
        let node = Arc::clone(node);
        let (owned_last, owned_identity) = (last.map(str::to_owned), identity.map(str::to_owned));
        let source = futures_util::stream::once(async move {
            node.subscribe(owned_last.as_deref(), owned_identity.as_deref())
                .await
        })
        .flatten();
        let stream = EventStream {
            prefix: (!prefix.is_empty()).then_some(prefix),
            subscription: Source::Node(Box::pin(source)),
            ended: Arc::clone(ended),
            close_log: close_log.filter(|_| !self.quiet),
            restarting: Arc::clone(&self.restarting),
        };
        let body = SseBody::new(stream);
        let body = match self.keep_alive {
            Some(interval) => body.keep_alive(KeepAliveConfig::new(interval)),
            None => body.without_keep_alive(),
        };
        *opened = true;
        let how = match last {
            Some(id) => format!("resuming after {id:?} from the node's ring or the shared log"),
            None => "new".to_owned(),
        };
        let how = match identity {
            Some(identity) => format!("{how}; client {identity:?}"),
            None => how,
        };
        (
            body.into_response().map(Either::Left),
            format!("stream opened ({how})"),
        )
    }

    /// What a stream starts with: `retry:`, and a `reload` event when the
    /// client's id cannot be replayed exactly.
    fn prefix(&self, outcome: ReplayOutcome, last: Option<&str>, newest: Option<&str>) -> Bytes {
        let mut buf = BytesMut::new();
        if let Some(retry) = self.retry {
            Encoder::new().retry(retry, &mut buf);
            buf.extend_from_slice(b"\n");
        }
        let reason = match outcome {
            ReplayOutcome::TooOld { .. } => "too-old",
            ReplayOutcome::Unknown { .. } => "unknown",
            _ => return buf.freeze(),
        };
        let data = serde_json::json!({ "last_event_id": last, "reason": reason });
        let event = Event::new(data.to_string())
            .with_event_type("reload")
            .with_id(newest.unwrap_or_default());
        // Published ids and a fixed type always encode.
        let _ = Encoder::new().encode(&event, &mut buf);
        buf.freeze()
    }

    /// The page, with this server's settings filled in.
    fn page(&self) -> Bytes {
        let types: Vec<String> = lock(&self.types).iter().cloned().collect();
        let types = serde_json::to_string(&types).unwrap_or_else(|_| "[]".to_owned());
        let retry = self
            .retry
            .map_or(String::new(), |r| r.as_millis().to_string());
        PAGE.replace("{{PATH}}", &escape_html(&self.path))
            .replace("{{RETRY}}", &retry)
            .replace("{{TYPES}}", &escape_html(&types))
            .into()
    }
}

/// The client identity of a stream request: the value of its `client`
/// query parameter (as sent, not percent-decoded), when it is 1 to 128
/// bytes long.
fn client_identity(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("client="))
        .filter(|id| (1..=128).contains(&id.len()))
}

/// The `lastEventId` query parameter of a stream request, as sent (not
/// percent-decoded; the page sends ids of letters and digits), when
/// non-empty.
fn query_last_event_id(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("lastEventId="))
        .filter(|id| !id.is_empty())
}

/// `405` with its `Allow` header, and the request's log line.
fn method_not_allowed(
    method: &Method,
    path: &str,
    allow: &'static str,
    body: &'static [u8],
) -> (Response<Reply>, String) {
    let mut response = fixed(
        StatusCode::METHOD_NOT_ALLOWED,
        "text/plain; charset=utf-8",
        Bytes::from_static(body),
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    (response, format!("{method} {path}: 405"))
}

/// A response with a fixed body.
fn fixed(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Reply> {
    let len = body.len();
    let mut response = Response::new(Either::Right(Full::new(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
             connect-src 'self'; img-src data:",
        ),
    );
    response
}

/// Escapes text for an HTML attribute or element.
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Where a stream's events come from.
enum Source {
    /// This process's broadcaster.
    Local(Subscription),
    /// A node over a shared log.
    Node(Pin<Box<dyn Stream<Item = Bytes> + Send>>),
}

/// A subscription with what the stream starts with, noting why it ended.
struct EventStream {
    prefix: Option<Bytes>,
    subscription: Source,
    ended: Arc<Mutex<Option<EndReason>>>,
    /// The peer, when this stream logs its end itself.
    close_log: Option<String>,
    /// The server's listener-restart flag.
    restarting: Arc<AtomicBool>,
}

impl Drop for EventStream {
    fn drop(&mut self) {
        if let Some(peer) = &self.close_log {
            let reason = *lock(&self.ended);
            let cause = if reason.is_none() && self.restarting.load(Ordering::Relaxed) {
                RESTART_CAUSE
            } else {
                close_cause(reason)
            };
            note(&format!("{peer} stream closed: {cause}"));
        }
    }
}

/// Why a stream closed when the listener restarted.
const RESTART_CAUSE: &str = "the listener is restarting (SIGHUP): connection dropped";

/// Why a stream closed, from its subscription's end.
fn close_cause(reason: Option<EndReason>) -> &'static str {
    match reason {
        Some(EndReason::Closed) => "the server is stopping",
        Some(EndReason::Lagged) => {
            "the client fell too far behind (it will reconnect and be replayed)"
        }
        Some(EndReason::Replaced) => "replaced by a newer connection",
        Some(_) => "the subscription ended",
        None => "the client went away",
    }
}

impl Stream for EventStream {
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = self.get_mut();
        if let Some(prefix) = this.prefix.take() {
            return Poll::Ready(Some(prefix));
        }
        match &mut this.subscription {
            Source::Local(subscription) => {
                let next = Pin::new(&mut *subscription).poll_next(cx);
                if let Poll::Ready(None) = next {
                    *lock(&this.ended) = subscription.end_reason();
                }
                next
            }
            Source::Node(stream) => stream.as_mut().poll_next(cx),
        }
    }
}

/// Serves one connection and logs it.
pub(crate) async fn connection(
    server: Arc<Server>,
    stream: TcpStream,
    peer: SocketAddr,
    mut phase: watch::Receiver<Phase>,
) {
    let ended = Arc::new(Mutex::new(None));
    let mut opened = false;
    let mut what = None;
    let requested = AtomicBool::new(false);
    // A client that stops reading pins at most the send buffer in the
    // kernel, and is cut with a reset after the write timeout.
    let _ = tune_accepted(&stream, server.send_buffer);
    let stream = TimeoutIo::tcp(stream, server.conn.get_write_timeout());
    let served = {
        let served = serve_connection(stream, &server.conn, |request| {
            requested.store(true, Ordering::Relaxed);
            let (response, line) = server.respond(&request, &ended, &mut opened, None);
            if opened && !server.quiet {
                note(&format!("{peer} {line}"));
            }
            what = Some(line);
            std::future::ready(response)
        });
        let mut served = std::pin::pin!(served);
        tokio::select! {
            served = served.as_mut() => Some(served),
            _ = phase.changed() => {
                if *phase.borrow() == Phase::Restarting {
                    // Dropped at once: the connection closes.
                    None
                } else if !requested.load(Ordering::Relaxed) {
                    // Still waiting for a request (a browser's
                    // preconnection): nothing to finish.
                    return;
                } else {
                    // A response is under way; its stream ends now that
                    // the broadcaster is closed.
                    Some(served.await)
                }
            }
        }
    };
    if server.quiet {
        return;
    }
    let Some(served) = served else {
        if opened {
            note(&format!("{peer} stream closed: {RESTART_CAUSE}"));
        }
        return;
    };
    let line = match (&served, opened) {
        // A connection that never sent a request (a browser's
        // preconnection, a port check): nothing to tell.
        (Err(ConnError::HeadTimeout | ConnError::NoRequest), false) if what.is_none() => return,
        (Err(ConnError::BadRequest(why)), false)
            if what.is_none() && why.starts_with("the connection closed before") =>
        {
            return;
        }
        (Err(e), true) => format!("{peer} stream closed: {e}"),
        (Err(e), false) => match &what {
            Some(what) => format!("{peer} {what}; then {e}"),
            None => format!("{peer} {e}"),
        },
        (Ok(()), true) => format!("{peer} stream closed: {}", close_cause(*lock(&ended))),
        (Ok(()), false) => format!("{peer} {}", what.as_deref().unwrap_or("no request")),
    };
    note(&line);
}

/// Serves one TLS connection with hyper (HTTP/2 or HTTP/1.1, as ALPN
/// chose), until it ends or the server stops.
async fn tls_connection(
    server: Arc<Server>,
    acceptor: tokio_rustls::TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    mut phase: watch::Receiver<Phase>,
) {
    let _ = tune_accepted(&stream, server.send_buffer);
    // The write timeout sits under TLS: a client that stops reading is cut
    // (with a reset) even while TLS holds encrypted bytes it could not
    // write yet, which a timeout over the TLS stream would not see.
    let stream = TimeoutIo::tcp(stream, server.conn.get_write_timeout());
    let handshake = tokio::time::timeout(ConnConfig::DEFAULT_HEAD_TIMEOUT, acceptor.accept(stream));
    let handshake = tokio::select! {
        handshake = handshake => handshake,
        _ = phase.changed() => return,
    };
    let tls = match handshake {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            if !server.quiet {
                note(&format!("{peer} TLS handshake failed: {e}"));
            }
            return;
        }
        Err(_) => {
            if !server.quiet {
                note(&format!("{peer} TLS handshake timed out"));
            }
            return;
        }
    };
    let service_server = Arc::clone(&server);
    let service = service_fn(move |request: Request<Incoming>| {
        let server = Arc::clone(&service_server);
        async move {
            let version = request.version();
            let (parts, _body) = request.into_parts();
            let request = Request::from_parts(parts, ());
            let ended = Arc::new(Mutex::new(None));
            let mut opened = false;
            let (response, line) =
                server.respond(&request, &ended, &mut opened, Some(peer.to_string()));
            if !server.quiet {
                note(&format!("{peer} {line} [{version:?}]"));
            }
            Ok::<_, Infallible>(response)
        }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(tls), service);
    let mut conn = std::pin::pin!(conn);
    let served = tokio::select! {
        served = conn.as_mut() => served,
        _ = phase.changed() => {
            if *phase.borrow() == Phase::Restarting {
                // Dropped at once (its streams log that).
                return;
            }
            // Streams are ending (the broadcaster is closed): let the
            // responses finish, then close (HTTP/2: GOAWAY).
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = served {
        if !server.quiet && !client_left(&*e) {
            note(&format!("{peer} connection ended: {e}"));
        }
    }
}

/// Whether a connection error only says that the client went away (its
/// streams log that already).
fn client_left(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if matches!(
                io.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            ) {
                return true;
            }
        }
        if let Some(hyper) = e.downcast_ref::<hyper::Error>() {
            if hyper.is_incomplete_message() || hyper.is_canceled() {
                return true;
            }
        }
        cause = e.source();
    }
    false
}

/// The signals that stop the server, caught from creation on, and SIGHUP.
struct StopSignals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    /// Installs the handlers (Ctrl-C, and SIGTERM and SIGHUP on Unix).
    /// Needs a runtime.
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            let hangup = signal(SignalKind::hangup()).ok();
            Self { unix, hangup }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// Waits for a stop signal (`Some`, saying which) or SIGHUP (`None`).
    async fn recv_or_hangup(&mut self) -> Option<&'static str> {
        #[cfg(unix)]
        if let (Some((int, term)), Some(hangup)) = (&mut self.unix, &mut self.hangup) {
            return tokio::select! {
                _ = int.recv() => Some("interrupted"),
                _ = term.recv() => Some("terminated (SIGTERM)"),
                Some(()) = hangup.recv() => None,
            };
        }
        Some(self.recv().await)
    }

    /// Waits for a stop signal and says which it was.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        if let Some((int, term)) = &mut self.unix {
            return tokio::select! {
                _ = int.recv() => "interrupted",
                _ = term.recv() => "terminated (SIGTERM)",
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        "interrupted"
    }
}

/// The event of one input line, or why it is refused.
fn parse_line(line: &[u8]) -> Result<Event, String> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = std::str::from_utf8(line).map_err(|_| "it is not UTF-8".to_owned())?;
    if text.trim_start().starts_with('{') {
        if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) {
            if ["event", "data", "id"]
                .iter()
                .any(|k| object.contains_key(*k))
            {
                return event_from_object(&object);
            }
        }
    }
    Ok(Event::new(text))
}

/// The event described by a JSON object with `event`, `data` or `id`.
fn event_from_object(object: &Map<String, Value>) -> Result<Event, String> {
    if let Some(key) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "event" | "data" | "id"))
    {
        return Err(format!(
            "unknown key {key:?} (an event object has only \"event\", \"data\" and \"id\")"
        ));
    }
    let field = |key: &str| -> Result<Option<&str>, String> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(format!(
                "\"{key}\" must be a string, not {}",
                match other {
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    Value::Array(_) => "an array",
                    _ => "an object",
                }
            )),
        }
    };
    let data = field("data")?;
    let event_type = field("event")?;
    let id = field("id")?;
    let mut event = Event::new(data.unwrap_or_default());
    if let Some(t) = event_type {
        if t.contains(['\r', '\n']) {
            return Err("\"event\" holds a line break".to_owned());
        }
        event = event.with_event_type(t);
    }
    if let Some(id) = id {
        if id.contains(['\r', '\n']) {
            return Err("\"id\" holds a line break".to_owned());
        }
        if id.contains('\0') {
            return Err("\"id\" holds a NUL".to_owned());
        }
        if id.is_empty() {
            return Err(
                "\"id\" is empty (an event needs an id to be replayed; leave \"id\" out to have one assigned)"
                    .to_owned(),
            );
        }
        event = event.with_id(id);
    }
    Ok(event)
}

/// Reads stdin lines on a thread of its own (a blocking read cannot be
/// cancelled, so it must not hold up the runtime's shutdown).
fn read_stdin() -> mpsc::Receiver<io::Result<Vec<u8>>> {
    let (tx, rx) = mpsc::channel(64);
    std::thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        loop {
            let mut line = Vec::new();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(_) => {
                    if tx.blocking_send(Ok(line)).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    rx
}

/// Publishes stdin lines until the input ends.
async fn publish_stdin(server: Arc<Server>) {
    let mut lines = read_stdin();
    let mut n = 0u64;
    while let Some(line) = lines.recv().await {
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                note(&format!("reading stdin: {e}; no more input, still serving"));
                return;
            }
        };
        n += 1;
        let published = match parse_line(&line) {
            Ok(event) => server.publish_any(event).await,
            Err(e) => Err(e),
        };
        match published {
            Ok(_) => {}
            Err(_) if server.broadcaster.is_closed() => return,
            Err(why) => note(&format!("stdin line {n} not published: {why}")),
        }
    }
    note(&format!(
        "end of input after {n} lines; still serving (Ctrl-C or SIGTERM stops)"
    ));
}

/// Publishes a counter every `period`.
pub(crate) async fn publish_ticks(server: Arc<Server>, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    for n in 1u64.. {
        ticks.tick().await;
        let event = Event::new(n.to_string()).with_event_type("tick");
        if let Err(e) = server.publish_any(event).await {
            if server.node.is_none() {
                return;
            }
            // The shared log is down: say so, go on ticking.
            note(&format!("tick {n} not published: {e}"));
        }
    }
}

/// Notes each change of the node's health (Redis links) on stderr.
pub(crate) async fn report_health(node: Arc<SharedNode>) {
    let mut healthy = true;
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        every.tick().await;
        let health = node.health();
        if health.is_healthy() != healthy {
            healthy = health.is_healthy();
            if healthy {
                note("shared log: connected again; delivery across nodes resumed");
            } else {
                note(&format!(
                    "shared log: link down (log {:?}, tail {:?}); local streams stay open, publishing fails until it is back",
                    health.log, health.tail
                ));
            }
        }
    }
}

/// Runs `resse serve` until Ctrl-C or SIGTERM.
pub(crate) fn run(args: ServeArgs) -> Result<ExitCode, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> Result<ExitCode, CliError> {
    let tls: Option<Tls> = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls::from_files(cert, key)?),
        _ if args.tls_self_signed => Some(tls::self_signed(args.bind)?),
        _ => None,
    };
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| CliError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| CliError::Bind { addr, source })?;
    // One ring serves replay and live delivery: subscribers may fall 512
    // events behind (the default capacity) or the whole log if it is
    // shorter, before they are cut off; a client that was cut off is then
    // replayed exactly when it reconnects soon enough.
    let config = BroadcastConfig::default().replay(ReplayConfig::default().max_events(args.replay));
    let node = match &args.redis {
        Some(url) => {
            let log = RedisLog::connect(RedisConfig::new(url.clone()).stream(args.stream.clone()))
                .await
                .map_err(|e| CliError::Redis(e.to_string()))?;
            let node = Node::start(log, NodeConfig::default().broadcast(config.clone()))
                .await
                .map_err(|e| CliError::Redis(e.to_string()))?;
            Some(Arc::new(SharedNode::Redis(node)))
        }
        None => None,
    };
    if let Some(node) = &node {
        tokio::spawn(report_health(Arc::clone(node)));
    }
    let server = Arc::new(Server::new(ServerOptions {
        node,
        broadcast: config,
        path: args.path,
        retry: args.retry.map(Duration::from_millis),
        keep_alive: (!args.keep_alive.is_zero()).then_some(args.keep_alive),
        quiet: args.quiet,
        conn: ConnConfig::default(),
        send_buffer: Some(DEFAULT_SEND_BUFFER_SIZE),
    }));
    // Signals are caught from here on: before anyone can know the address.
    let mut stop = StopSignals::install();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut line = format!(
        "serving {scheme}://{local}{} (live page: {scheme}://{local}/)",
        server.path
    );
    match args.ticker {
        Some(ms) => {
            let _ = write!(line, "; a tick every {ms} ms");
            tokio::spawn(publish_ticks(
                Arc::clone(&server),
                Duration::from_millis(ms),
            ));
        }
        None => {
            line.push_str("; publishing stdin lines");
            tokio::spawn(publish_stdin(Arc::clone(&server)));
        }
    }
    note(&line);
    if let Some(tls) = &tls {
        note(&format!("TLS: {}", tls.description));
    }
    let acceptor = tls.map(|tls| tokio_rustls::TlsAcceptor::from(tls.config));
    let (phase_tx, _) = watch::channel(Phase::Serving);
    let pause = server.retry.unwrap_or(RESTART_PAUSE);

    let mut tasks = JoinSet::new();
    let mut listener = listener;
    let why = loop {
        let hangup = tokio::select! {
            signal = stop.recv_or_hangup() => match signal {
                Some(why) => break why,
                None => true,
            },
            accepted = listener.accept() => {
                match accepted {
                    Ok((stream, peer)) => {
                        let server = Arc::clone(&server);
                        let phase = phase_tx.subscribe();
                        match &acceptor {
                            Some(acceptor) => {
                                let acceptor = acceptor.clone();
                                tasks.spawn(tls_connection(server, acceptor, stream, peer, phase));
                            }
                            None => {
                                tasks.spawn(connection(server, stream, peer, phase));
                            }
                        }
                    }
                    Err(e) => {
                        // Out of file descriptors, or a connection reset
                        // before it was accepted: wait a little, go on.
                        note(&format!("accepting a connection: {e}"));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                false
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => false,
        };
        if !hangup {
            continue;
        }
        // A listener restart: no listener and no connection for `pause`,
        // while publishing and the replay log go on.
        drop(listener);
        note(&format!(
            "SIGHUP: listener closed; dropping {} open connection(s); listening again in {} ms",
            tasks.len(),
            pause.as_millis()
        ));
        server.restarting.store(true, Ordering::Relaxed);
        phase_tx.send_replace(Phase::Restarting);
        let dropped = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if dropped.is_err() {
            tasks.shutdown().await;
        }
        server.restarting.store(false, Ordering::Relaxed);
        phase_tx.send_replace(Phase::Serving);
        tokio::select! {
            why = stop.recv() => {
                note(&format!("{why}: stopping"));
                server.close();
                return Ok(ExitCode::SUCCESS);
            }
            () = tokio::time::sleep(pause) => {}
        }
        listener = TcpListener::bind(local)
            .await
            .map_err(|source| CliError::Bind {
                addr: local,
                source,
            })?;
        note(&format!("listening again on {local}"));
    };
    drop(listener);
    note(&format!("{why}: stopping"));
    server.close();
    phase_tx.send_replace(Phase::Stopping);
    let finished = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        note(&format!(
            "{} connections still open after {}s: closing them",
            tasks.len(),
            SHUTDOWN_GRACE.as_secs()
        ));
        tasks.shutdown().await;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_are_message_data() {
        let event = parse_line(b"hello world\r\n").unwrap();
        assert_eq!(event.data(), "hello world");
        assert_eq!(event.event_type(), "message");
        assert_eq!(event.id(), None);
        // JSON that is not an event object is data, as it is.
        for line in ["{\"temp\":3}", "[1,2]", "\"s\"", "{not json", "{}"] {
            assert_eq!(parse_line(line.as_bytes()).unwrap().data(), line);
        }
    }

    #[test]
    fn event_objects() {
        let event = parse_line(br#"{"event":"price","data":"42","id":"p-1"}"#).unwrap();
        assert_eq!(
            (event.event_type(), event.data(), event.id()),
            ("price", "42", Some("p-1"))
        );
        let event = parse_line(br#"{"data":"a\nb","id":null}"#).unwrap();
        assert_eq!((event.data(), event.id()), ("a\nb", None));
        let event = parse_line(br#" {"event":"ping"}"#).unwrap();
        assert_eq!((event.event_type(), event.data()), ("ping", ""));
    }

    #[test]
    fn refused_objects() {
        let refused = |line: &str| parse_line(line.as_bytes()).unwrap_err();
        assert_eq!(
            refused(r#"{"data":1}"#),
            "\"data\" must be a string, not a number"
        );
        assert_eq!(
            refused(r#"{"event":"a\nb"}"#),
            "\"event\" holds a line break"
        );
        assert_eq!(refused(r#"{"id":"a\rb"}"#), "\"id\" holds a line break");
        assert_eq!(refused(r#"{"id":"a\u0000b"}"#), "\"id\" holds a NUL");
        assert!(refused(r#"{"id":""}"#).starts_with("\"id\" is empty"));
        assert!(refused(r#"{"data":"x","retry":5}"#).starts_with("unknown key \"retry\""));
        assert_eq!(parse_line(b"\xff\n").unwrap_err(), "it is not UTF-8");
    }

    #[test]
    fn identities() {
        assert_eq!(client_identity(Some("client=ab-7")), Some("ab-7"));
        assert_eq!(client_identity(Some("x=1&client=c")), Some("c"));
        assert_eq!(client_identity(Some("client=")), None);
        assert_eq!(
            client_identity(Some(&format!("client={}", "a".repeat(129)))),
            None
        );
        assert_eq!(client_identity(Some("clients=1")), None);
        assert_eq!(client_identity(None), None);
    }

    #[test]
    fn paths() {
        assert_eq!(parse_path("/events").unwrap(), "/events");
        assert!(parse_path("events").is_err());
        assert!(parse_path("/").is_err());
        assert!(parse_path("/a b").is_err());
        assert!(parse_path("/a\"<").is_err());
    }

    #[test]
    fn html_escaping() {
        assert_eq!(
            escape_html(r#"<a href="x">'&"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
        );
    }
}
