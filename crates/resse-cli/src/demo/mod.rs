//! `resse demo`: a resse server, a fleet of resse clients and a
//! fault-injecting proxy between them, in one process on loopback, driven by
//! a seeded schedule of the failures SSE meets in production; then a check
//! that every client received exactly the published sequence.
//!
//! The server is `resse serve`'s ([`crate::serve::Server`]: the same
//! publishing, replay and connection code), the clients are
//! [`resse_tokio::client::Client`]s with their defaults but for a short idle
//! timeout, and the proxy ([`proxy`]) breaks connections. Nothing here
//! repairs what a fault breaks: recovery is the library's.

mod cluster;
mod proxy;
mod report;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use resse_redis::MemoryLog;
use resse_tokio::client::{Cause, ClientBuilder, CloseHandle, ProbeConfig, SessionEvent};
use resse_tokio::server::{BroadcastConfig, ReplayConfig};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use self::cluster::{Cluster, Down, RedisLink, Store};
use self::proxy::{ConnFault, Holds, Proxy};
use crate::error::CliError;
use crate::serve::lock;
use crate::tail::parse_secs;

/// The keep-alive interval of the demo's server.
const KEEP_ALIVE: Duration = Duration::from_secs(1);
/// The clients' idle timeout: what detects a half-open connection.
const IDLE_TIMEOUT: Duration = Duration::from_secs(4);
/// The clients' liveness probe: what detects a wedged server.
const PROBE_INTERVAL: Duration = Duration::from_secs(2);
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the wedged server delivers nothing (keep-alives only): a bit
/// longer than interval + timeout.
const WEDGE: Duration = Duration::from_millis(3500);
/// The `retry:` the server announces.
const RETRY: Duration = Duration::from_millis(500);
/// Events a subscriber may fall behind before the server drops it.
const LAG_CAPACITY: usize = 64;
/// The send buffer of the server's sockets: small, so that a reader that
/// stops is noticed within a second (the kernel holds little for it).
const SEND_BUFFER: u32 = 16 * 1024;
/// After a crash: how long the port refuses connections, then how long the
/// server answers `503` with `Retry-After`.
const CRASH_REFUSE: Duration = Duration::from_millis(500);
const CRASH_UNAVAILABLE: Duration = Duration::from_millis(1500);
/// How long a Redis outage refuses connections.
const REDIS_OUTAGE: Duration = Duration::from_secs(1);
/// How long the end of a run waits for every client to catch up.
const SETTLE: Duration = Duration::from_secs(10);
/// Filler that gives events the size of a short chat message.
const TEXT: &str = "The quick brown fox jumps over the lazy dog; pack my box with five dozen \
                    liquor jugs. Sphinx of black quartz, judge my vow: how vexingly quick daft \
                    zebras jump!";

/// Arguments of `resse demo`.
#[derive(Debug, Args)]
#[command(after_help = "\
What runs: a resse server (the code of `resse serve`: replay log, keep-alive comments every \
1 s, `retry: 500`), CLIENTS resse clients (idle timeout 4 s, liveness probe every 2 s \
answered within 1 s) that each follow the stream as \
`/events?client=ID`, and a TCP proxy between them that injects faults on a seeded schedule. \
The server publishes RATE events per second (about 220 bytes each) for the whole run.

Faults, each at least once in a default run: a connection reset (RST); a clean close (FIN); a \
cut in the middle of an event; a stall with both sockets left open (a half-open connection: \
only the client's idle timeout can see it); a duplicate connection (the client loses its \
connection while the server still holds it: the client's new connection supersedes the old \
one); a subscriber that stops reading (the server drops it instead of buffering for it); a \
wedged server (for 3.5 s the server publishes nothing and answers no probe while its \
keep-alive comments go on: only the clients' liveness probe, every 2 s with a 1 s timeout, \
can see it); a server crash (listener and every connection dropped; connections refused for 0.5 s, then \
`503` with `Retry-After: 1` for 1.5 s; the publisher and its replay log live on, as a shared \
store would); and a restart that drops every client at once (the thundering herd). \
Connection faults hit a random client whose stream is under way; --faults spreads them over \
the run, in turn by kind.

The check: every client must receive every event published after its first one, exactly \
once and in order, through every fault; the run waits up to 10 s at the end for clients to \
catch up. The summary gives events published, received, lost, duplicated and out of order, \
faults by kind with the time from the fault to the first byte of the client's next \
connection (p50/p99), reconnects by cause, half-open detection time, wedged-server \
detection time (p50/max against the probe's interval + timeout), the herd's busiest \
100 ms window, supersessions, slow subscribers dropped, and bytes on the wire.

--strip-last-event-id makes the proxy remove `Last-Event-ID` from every request (as some \
proxies and CDNs do): reconnecting clients then start from the live edge, miss what was \
published while they were away, and the check says so (exit status 1).

Exit status: 0 when nothing was lost, duplicated or reordered; 1 otherwise; 2 on bad \
arguments.")]
pub(crate) struct DemoArgs {
    /// How long to publish and inject faults (then up to 10 s to catch up).
    #[arg(long, value_name = "SECS", default_value = "16", value_parser = parse_secs)]
    duration: Duration,

    /// Events published per second.
    #[arg(long, value_name = "N", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(1..=20_000))]
    rate: u32,

    /// How many clients follow the stream.
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=2_000))]
    clients: u32,

    /// How many connection faults to inject (server crash and herd restart come on top).
    #[arg(long, value_name = "N", default_value_t = 36)]
    faults: u32,

    /// The seed of the fault schedule and of the clients' jitter (default: random, printed).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,

    /// Events the server's replay log keeps (default: 30 seconds' worth, RATE × 30).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    replay: Option<u64>,

    /// Make the proxy strip `Last-Event-ID` from every request, as some proxies and CDNs
    /// do: reconnecting clients then start from the live edge, and the check fails.
    #[arg(long)]
    strip_last_event_id: bool,

    /// Run this many server nodes over one shared event log (in process, or Redis with
    /// --redis); the proxy sends each connection to a random node, and a crash replaces a node.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=16))]
    nodes: u32,

    /// Share the nodes' log in this Redis (redis://HOST:PORT[/DB]; a stream named
    /// resse-demo-SEED); the nodes reach it through a link the demo cuts once (a Redis outage).
    #[arg(long, value_name = "URL")]
    redis: Option<String>,

    /// Print the summary as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Every kind of fault the demo injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum FaultKind {
    Conn(ConnFault),
    /// The server crashes: listener and connections dropped, then `503`.
    Crash,
    /// The server restarts, dropping every client at once.
    Herd,
    /// The server's event path wedges: no events, no probe answers, while
    /// keep-alives flow.
    Wedge,
    /// Every connection of the nodes to Redis is cut, and Redis refuses
    /// new ones for a second (`--redis` only).
    RedisOutage,
}

impl FaultKind {
    /// Every kind a run injects, in the order of the summary.
    fn all(redis: bool) -> impl Iterator<Item = Self> {
        ConnFault::ALL
            .into_iter()
            .map(Self::Conn)
            .chain([Self::Crash, Self::Herd, Self::Wedge])
            .chain(redis.then_some(Self::RedisOutage))
    }

    /// The key of the JSON summary.
    fn key(self) -> &'static str {
        match self {
            Self::Conn(ConnFault::Reset) => "reset",
            Self::Conn(ConnFault::Fin) => "fin",
            Self::Conn(ConnFault::MidEvent) => "mid_event_cut",
            Self::Conn(ConnFault::Stall) => "half_open_stall",
            Self::Conn(ConnFault::Duplicate) => "duplicate_connection",
            Self::Conn(ConnFault::SlowReader) => "slow_reader",
            Self::Crash => "server_crash",
            Self::Herd => "herd_restart",
            Self::Wedge => "wedged_server",
            Self::RedisOutage => "redis_outage",
        }
    }

    /// What the table says.
    fn describe(self) -> &'static str {
        match self {
            Self::Conn(ConnFault::Reset) => "connection reset (RST)",
            Self::Conn(ConnFault::Fin) => "clean close (FIN)",
            Self::Conn(ConnFault::MidEvent) => "cut in the middle of an event",
            Self::Conn(ConnFault::Stall) => "half-open stall",
            Self::Conn(ConnFault::Duplicate) => "duplicate connection",
            Self::Conn(ConnFault::SlowReader) => "subscriber stops reading",
            Self::Crash => "server (node) crash, then 503",
            Self::Herd => "restart dropping everyone",
            Self::Wedge => "wedged server (keep-alives only)",
            Self::RedisOutage => "Redis outage (1 s)",
        }
    }
}

/// A client's connection state, for the progress line.
const CONNECTING: u8 = 0;
const OPEN: u8 = 1;
const RECONNECTING: u8 = 2;
const CLOSED: u8 = 3;

/// What one client saw.
struct ClientLog {
    id: String,
    /// The sequence numbers of the events received, in order.
    received: Mutex<Vec<u64>>,
    /// `reload` events (the server could not replay exactly).
    reloads: AtomicU64,
    state: AtomicU8,
    /// The fault awaiting this client's next connection, and when.
    pending: Mutex<Option<(FaultKind, Instant)>>,
    /// When a stall started on this client's connection.
    stalled_at: Mutex<Option<Instant>>,
}

/// What the whole run shares.
struct Demo {
    clients: Vec<Arc<ClientLog>>,
    /// The sequence number of the newest published event.
    published: AtomicU64,
    delivered: AtomicU64,
    faults: Mutex<BTreeMap<FaultKind, u64>>,
    /// Clients whose connection a fault hit, by kind.
    hit: Mutex<BTreeMap<FaultKind, u64>>,
    /// Fault to first byte of the next connection, by kind.
    recovery: Mutex<BTreeMap<FaultKind, Vec<Duration>>>,
    /// Stall start to the client's idle or probe timeout.
    half_open: Mutex<Vec<Duration>>,
    causes: Mutex<BTreeMap<&'static str, u64>>,
    /// When the herd restart happened.
    herd_at: Mutex<Option<Instant>>,
    /// Publications a node could not make at once (tried again).
    publish_retries: AtomicU64,
    /// When the server wedged, while it is.
    wedged_at: Mutex<Option<Instant>>,
    /// Wedge start to each client's probe timeout (its first only).
    wedge_detect: Mutex<BTreeMap<String, Duration>>,
}

impl Demo {
    fn count_fault(&self, kind: FaultKind) {
        *lock(&self.faults).entry(kind).or_default() += 1;
    }

    /// Marks a server-side fault of `kind` at `now` on `clients`: each one
    /// without a fault pending is hit (timed from `now`); one still
    /// recovering from an earlier fault is counted and timed with that one.
    fn hit_all(&self, clients: &[String], kind: FaultKind, now: Instant) {
        let mut hit = 0;
        for client in self.clients.iter().filter(|c| clients.contains(&c.id)) {
            let mut pending = lock(&client.pending);
            if pending.is_none() {
                *pending = Some((kind, now));
                hit += 1;
            }
        }
        *lock(&self.hit).entry(kind).or_default() += hit;
    }

    fn injected(&self) -> u64 {
        lock(&self.faults).values().sum()
    }
}

/// A short name for why a connection ended.
fn cause_key(cause: &Cause) -> &'static str {
    match cause {
        Cause::EndOfBodyClean => "stream ended between events",
        Cause::EndOfBodyMidEvent => "stream ended mid-event",
        Cause::Io => "connection error",
        Cause::IdleTimeout => "idle timeout",
        Cause::ProbeTimeout => "probe timeout",
        Cause::ConnectFailed => "could not connect",
        Cause::Status(s) if s.as_u16() == 503 => "503 Service Unavailable",
        Cause::Status(_) => "other status",
        _ => "other",
    }
}

/// splitmix64: the schedule's random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The fault schedule: when (from the start) and what. The wedge comes at
/// 5% of the run (it lasts a few seconds, and is over before the crash), the crash at 35%, a Redis outage (with `redis`) at 50%
/// and the herd restart at 70%; connection faults, in turn by kind, at
/// random times in the rest, kept 1.5 s away from the server faults.
fn schedule(seed: u64, duration: Duration, faults: u32, redis: bool) -> Vec<(Duration, FaultKind)> {
    let mut rng = Rng(seed);
    let crash = duration.mul_f64(0.35);
    let herd = duration.mul_f64(0.70);
    let wedge = duration.mul_f64(0.05);
    let mut plan = vec![
        (wedge, FaultKind::Wedge),
        (crash, FaultKind::Crash),
        (herd, FaultKind::Herd),
    ];
    if redis {
        plan.push((duration.mul_f64(0.5), FaultKind::RedisOutage));
    }
    let lo = 1_000u64;
    let hi = (duration.as_millis() as u64)
        .saturating_sub(1_500)
        .max(lo + 1);
    let clear = |t: Duration| {
        [wedge, crash, herd]
            .iter()
            .all(|&s| t.abs_diff(s) >= Duration::from_millis(1_500))
    };
    for i in 0..faults as usize {
        let kind = FaultKind::Conn(ConnFault::ALL[i % ConnFault::ALL.len()]);
        // A few draws find a time clear of the server faults in any run of
        // more than a few seconds; a short run takes what it gets.
        let mut at = Duration::from_millis(lo + rng.below(hi - lo));
        for _ in 0..32 {
            if clear(at) {
                break;
            }
            at = Duration::from_millis(lo + rng.below(hi - lo));
        }
        plan.push((at, kind));
    }
    plan.sort_by_key(|&(at, kind)| (at, kind));
    plan
}

/// Follows the stream as one client until it is closed.
async fn follow(demo: Arc<Demo>, log: Arc<ClientLog>, mut client: resse_tokio::client::Client) {
    while let Some(item) = client.next_session_event().await {
        match item {
            SessionEvent::Open => {
                log.state.store(OPEN, Ordering::Relaxed);
                if let Some((kind, at)) = lock(&log.pending).take() {
                    lock(&demo.recovery)
                        .entry(kind)
                        .or_default()
                        .push(at.elapsed());
                }
            }
            SessionEvent::Event(event) => {
                if matches!(event.event_type(), "reload" | "reset") {
                    log.reloads.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                // Every event the server publishes has an id it assigned:
                // its sequence number (or the shared log's `{epoch}-{offset}`).
                // Anything else counts as out of order.
                let n = event.id().and_then(cluster::sequence).unwrap_or(0);
                lock(&log.received).push(n);
                demo.delivered.fetch_add(1, Ordering::Relaxed);
            }
            SessionEvent::Reconnecting { cause, .. } => {
                log.state.store(RECONNECTING, Ordering::Relaxed);
                *lock(&demo.causes).entry(cause_key(&cause)).or_default() += 1;
                if cause == Cause::ProbeTimeout {
                    if let Some(at) = *lock(&demo.wedged_at) {
                        lock(&demo.wedge_detect)
                            .entry(log.id.clone())
                            .or_insert_with(|| at.elapsed());
                    }
                }
                // A stall is seen by the idle timeout, or sooner by the probe.
                if matches!(cause, Cause::IdleTimeout | Cause::ProbeTimeout) {
                    if let Some(at) = lock(&log.stalled_at).take() {
                        lock(&demo.half_open).push(at.elapsed());
                    }
                }
            }
            SessionEvent::Closed { .. } => break,
            _ => {}
        }
    }
    log.state.store(CLOSED, Ordering::Relaxed);
}

/// What server-side faults act on.
struct Targets {
    /// Each node's fault channel.
    nodes: Vec<mpsc::Sender<Down>>,
    /// Whether a crashed node is replaced (a shared log).
    replace: bool,
    /// The Redis link, with `--redis`.
    link: Option<Arc<RedisLink>>,
    /// The nodes (a wedge stops them all).
    cluster: Arc<Cluster>,
}

/// Injects the planned faults, from `start` on (a connection fault waits
/// up to 3 s for a client whose stream is under way).
async fn inject(
    demo: Arc<Demo>,
    proxy: Arc<Proxy>,
    targets: Targets,
    plan: Vec<(Duration, FaultKind)>,
    start: tokio::time::Instant,
    seed: u64,
) {
    let Targets {
        nodes,
        replace,
        link,
        cluster,
    } = targets;
    let mut rng = Rng(seed ^ 0x5eed);
    let by_id: BTreeMap<&str, &Arc<ClientLog>> =
        demo.clients.iter().map(|c| (c.id.as_str(), c)).collect();
    for (at, kind) in plan {
        tokio::time::sleep_until(start + at).await;
        match kind {
            FaultKind::Conn(fault) => {
                // A client whose stream is under way and that has no fault
                // pending; if there is none right now, try again shortly.
                for _ in 0..30 {
                    let candidates: Vec<String> = proxy
                        .streaming_clients()
                        .into_iter()
                        .filter(|id| {
                            by_id
                                .get(id.as_str())
                                .is_some_and(|c| lock(&c.pending).is_none())
                        })
                        .collect();
                    if !candidates.is_empty() {
                        let id = &candidates[rng.below(candidates.len() as u64) as usize];
                        let now = Instant::now();
                        if proxy.inject(id, fault) {
                            let log = by_id[id.as_str()];
                            *lock(&log.pending) = Some((kind, now));
                            if fault == ConnFault::Stall {
                                *lock(&log.stalled_at) = Some(now);
                            }
                            demo.count_fault(kind);
                            *lock(&demo.hit).entry(kind).or_default() += 1;
                            break;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            FaultKind::RedisOutage => {
                if let Some(link) = &link {
                    let link = Arc::clone(link);
                    tokio::spawn(async move { link.outage(REDIS_OUTAGE).await });
                    demo.count_fault(kind);
                }
            }
            FaultKind::Wedge => {
                let now = Instant::now();
                demo.hit_all(&proxy.streaming_clients(), kind, now);
                *lock(&demo.wedged_at) = Some(now);
                demo.count_fault(kind);
                let (cluster, demo) = (Arc::clone(&cluster), Arc::clone(&demo));
                cluster.set_wedged(true);
                tokio::spawn(async move {
                    tokio::time::sleep(WEDGE).await;
                    cluster.set_wedged(false);
                    *lock(&demo.wedged_at) = None;
                });
            }
            FaultKind::Crash | FaultKind::Herd => {
                // A crash takes one node (a random one), the herd restart
                // all of them. Every client with a stream under way there is
                // hit; one still recovering from a connection fault is
                // counted (and timed) with that fault.
                let node = (kind == FaultKind::Crash && nodes.len() > 1)
                    .then(|| rng.below(nodes.len() as u64) as usize);
                let now = Instant::now();
                demo.hit_all(&proxy.streaming_clients_on(node), kind, now);
                let down = || {
                    if kind == FaultKind::Crash {
                        Down {
                            refuse: CRASH_REFUSE,
                            unavailable: CRASH_UNAVAILABLE,
                            replace,
                        }
                    } else {
                        Down {
                            refuse: Duration::ZERO,
                            unavailable: Duration::ZERO,
                            replace: false,
                        }
                    }
                };
                if kind == FaultKind::Herd {
                    *lock(&demo.herd_at) = Some(now);
                }
                let mut sent = false;
                for (index, faults) in nodes.iter().enumerate() {
                    if node.is_none_or(|n| n == index) {
                        sent |= faults.send(down()).await.is_ok();
                    }
                }
                if sent {
                    demo.count_fault(kind);
                }
            }
        }
    }
}

/// Runs `resse demo`.
pub(crate) fn run(args: DemoArgs) -> Result<ExitCode, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(demo(args))
}

async fn demo(args: DemoArgs) -> Result<ExitCode, CliError> {
    let seed = args.seed.unwrap_or_else(random_seed);
    // The log must cover the longest time a client can be away (a stall is
    // seen after the idle timeout, a crash adds its outage and backoff):
    // what it does not cover is lost, and the check would say so.
    let replay = args.replay.map_or(args.rate as usize * 30, |n| {
        usize::try_from(n).unwrap_or(usize::MAX)
    });
    let broadcast = BroadcastConfig::default()
        .id_prefix("")
        .capacity(LAG_CAPACITY)
        .replay(
            ReplayConfig::default()
                .max_events(replay)
                .max_len(replay.saturating_mul(512).max(1 << 20)),
        );
    // The shared log (several nodes, or Redis); Redis through a link the
    // demo can cut.
    let mut link = None;
    let store = match &args.redis {
        Some(url) => {
            let (target, _) =
                cluster::redis_through(url, loopback_any()).map_err(CliError::Usage)?;
            let target = tokio::net::lookup_host(&target)
                .await
                .ok()
                .and_then(|mut addrs| addrs.next())
                .ok_or_else(|| CliError::Redis(format!("cannot resolve {target}")))?;
            let started = RedisLink::start(target)
                .await
                .map_err(|e| CliError::Demo(format!("cannot start the Redis link: {e}")))?;
            let (_, via) = cluster::redis_through(url, started.addr).map_err(CliError::Usage)?;
            link = Some(started);
            Store::Redis(via)
        }
        None if args.nodes > 1 => Store::Memory(MemoryLog::default()),
        None => Store::Local,
    };
    let replace = !matches!(store, Store::Local);
    let sticky_probes = matches!(store, Store::Memory(_));
    let (cluster, node_faults) = Cluster::start(store, args.nodes as usize, broadcast, seed)
        .await
        .map_err(|e| match &args.redis {
            Some(_) => CliError::Redis(e),
            None => CliError::Demo(e),
        })?;
    let holds = Holds {
        stall: IDLE_TIMEOUT + Duration::from_secs(2),
        slow: Duration::from_millis(2500),
        orphan: Duration::from_secs(8),
    };
    let strip = args.strip_last_event_id;
    let loopback = loopback_any();
    let proxy = Proxy::start(cluster.addrs.clone(), holds, strip, sticky_probes, seed)
        .await
        .map_err(|source| CliError::Bind {
            addr: loopback,
            source,
        })?;

    let clients: Vec<Arc<ClientLog>> = (0..args.clients)
        .map(|i| {
            Arc::new(ClientLog {
                id: format!("c{:02}", i + 1),
                received: Mutex::new(Vec::new()),
                reloads: AtomicU64::new(0),
                state: AtomicU8::new(CONNECTING),
                pending: Mutex::new(None),
                stalled_at: Mutex::new(None),
            })
        })
        .collect();
    let demo = Arc::new(Demo {
        clients,
        published: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        faults: Mutex::new(BTreeMap::new()),
        hit: Mutex::new(BTreeMap::new()),
        recovery: Mutex::new(BTreeMap::new()),
        half_open: Mutex::new(Vec::new()),
        causes: Mutex::new(BTreeMap::new()),
        herd_at: Mutex::new(None),
        publish_retries: AtomicU64::new(0),
        wedged_at: Mutex::new(None),
        wedge_detect: Mutex::new(BTreeMap::new()),
    });

    let mut closers: Vec<CloseHandle> = Vec::new();
    let mut followers = JoinSet::new();
    for (i, log) in demo.clients.iter().enumerate() {
        let url = format!("http://{}/events?client={}", proxy.addr, log.id);
        let client = ClientBuilder::new(url)
            .idle_timeout(Some(IDLE_TIMEOUT))
            .probe(Some(ProbeConfig::new(PROBE_INTERVAL, PROBE_TIMEOUT)))
            .seed(seed.wrapping_add(i as u64 + 1))
            .build()
            .map_err(|e| CliError::Usage(e.to_string()))?;
        closers.push(client.close_handle());
        followers.spawn(follow(Arc::clone(&demo), Arc::clone(log), client));
    }
    // The clients connect before anything is published, so that each one's
    // sequence starts at the first event.
    let connected = tokio::time::timeout(Duration::from_secs(10), async {
        while proxy.streaming_clients().len() < demo.clients.len() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    if connected.is_err() {
        return Err(CliError::Demo(format!(
            "only {} of {} clients connected within 10 s",
            proxy.streaming_clients().len(),
            demo.clients.len()
        )));
    }

    let started = Instant::now();
    let start = tokio::time::Instant::now();
    let progress = report::Progress::start(Arc::clone(&demo), args.duration);
    let (stop_tx, stop_rx) = watch::channel(false);
    let publisher = tokio::spawn(cluster::publish(
        Arc::clone(&cluster),
        Arc::clone(&demo),
        args.rate,
        stop_rx,
    ));
    let plan = schedule(seed, args.duration, args.faults, link.is_some());
    let injector = tokio::spawn(inject(
        Arc::clone(&demo),
        Arc::clone(&proxy),
        Targets {
            nodes: node_faults.clone(),
            replace,
            link: link.clone(),
            cluster: Arc::clone(&cluster),
        },
        plan,
        start,
        seed,
    ));
    tokio::time::sleep_until(start + args.duration).await;
    // Faults still waiting for a client (all were busy) are not injected.
    injector.abort();
    let herd_at = *lock(&demo.herd_at);
    let _ = stop_tx.send(true);
    let _ = publisher.await;

    // Every client catches up with the last event, or the wait runs out.
    let last = demo.published.load(Ordering::Relaxed);
    progress.settling();
    let _ = tokio::time::timeout(SETTLE, async {
        loop {
            let behind = demo
                .clients
                .iter()
                .filter(|c| lock(&c.received).last().is_none_or(|&n| n < last))
                .count();
            if behind == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let elapsed = started.elapsed();
    for close in &closers {
        close.close();
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while followers.join_next().await.is_some() {}
    })
    .await;
    progress.finish();
    drop(node_faults);

    let summary = report::summarize(&report::Inputs {
        demo: &demo,
        proxy: &proxy,
        stats: cluster.stats(),
        nodes: cluster.len(),
        redis: link.is_some(),
        herd_at,
        seed,
        rate: args.rate,
        duration: args.duration,
        elapsed,
        replay,
    });
    if args.json {
        println!("{}", summary.json());
    } else {
        print!("{}", summary.table());
    }
    Ok(if summary.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// 127.0.0.1, port 0.
fn loopback_any() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A seed from the clock and the process id.
fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    Rng(nanos ^ u64::from(std::process::id()).rotate_left(32)).next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_has_every_kind_clear_of_the_server_faults() {
        for seed in 0..50 {
            let plan = schedule(seed, Duration::from_secs(16), 36, false);
            assert_eq!(plan.len(), 39);
            for kind in FaultKind::all(false) {
                assert!(plan.iter().any(|&(_, k)| k == kind), "{kind:?} missing");
            }
            let server: Vec<Duration> = plan
                .iter()
                .filter(|(_, k)| !matches!(k, FaultKind::Conn(_)))
                .map(|&(at, _)| at)
                .collect();
            for &(at, kind) in &plan {
                if let FaultKind::Conn(_) = kind {
                    assert!(at >= Duration::from_secs(1) && at <= Duration::from_millis(14_500));
                    assert!(
                        server
                            .iter()
                            .all(|&s| at.abs_diff(s) >= Duration::from_millis(1_500))
                    );
                }
            }
            assert!(plan.windows(2).all(|w| w[0].0 <= w[1].0));
        }
        assert_eq!(
            schedule(7, Duration::from_secs(16), 36, true),
            schedule(7, Duration::from_secs(16), 36, true)
        );
    }
}
