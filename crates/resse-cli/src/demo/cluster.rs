//! The demo's servers: one node (its broadcaster's replay log survives a
//! crash, as a shared store would), or `--nodes N` nodes over one shared
//! log (in process, or Redis with `--redis URL`), each with its own port;
//! a crashed node is replaced by a fresh one that resumes its clients from
//! the shared log. With Redis, the nodes reach it through a forwarder that
//! the demo can cut (a Redis outage).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use resse_codec::Event;
use resse_redis::{MemoryLog, Node, NodeConfig, RedisConfig, RedisLog};
use resse_tokio::server::{BroadcastConfig, BroadcastStats, ConnConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::{Demo, KEEP_ALIVE, RETRY, SEND_BUFFER, TEXT};
use crate::serve::{Phase, Server, ServerOptions, SharedNode, connection, lock};

/// Where the nodes keep their events.
#[derive(Clone)]
pub(super) enum Store {
    /// One node; its broadcaster's ring is the log.
    Local,
    /// Nodes share an in-process log.
    Memory(MemoryLog),
    /// Nodes share a Redis stream (through the forwarder's address).
    Redis(String),
}

/// The servers, one slot per node.
pub(super) struct Cluster {
    store: Store,
    broadcast: BroadcastConfig,
    slots: Vec<Mutex<Arc<Server>>>,
    pub(super) addrs: Vec<SocketAddr>,
    /// Counters of nodes that were replaced.
    retired: Mutex<BroadcastStats>,
    /// The Redis stream's name (unique per run).
    stream: String,
}

/// What the fault injector asks of one node.
pub(super) struct Down {
    /// How long the port refuses connections.
    pub(super) refuse: Duration,
    /// Then how long the node answers `503` with `Retry-After: 1`.
    pub(super) unavailable: Duration,
    /// Whether the node is replaced by a fresh one (shared log only: a
    /// single node keeps its broadcaster, the replay log living on).
    pub(super) replace: bool,
}

impl Cluster {
    /// Starts `nodes` nodes over `store`, each listening on an ephemeral
    /// loopback port, and returns the cluster with each node's fault
    /// channel.
    pub(super) async fn start(
        store: Store,
        nodes: usize,
        broadcast: BroadcastConfig,
        seed: u64,
    ) -> Result<(Arc<Self>, Vec<mpsc::Sender<Down>>), String> {
        let mut listeners = Vec::with_capacity(nodes);
        let mut addrs = Vec::with_capacity(nodes);
        for _ in 0..nodes {
            let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0)))
                .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
            addrs.push(listener.local_addr().map_err(|e| e.to_string())?);
            listeners.push(listener);
        }
        let mut cluster = Self {
            store,
            broadcast,
            slots: Vec::new(),
            addrs,
            retired: Mutex::new(BroadcastStats::default()),
            stream: format!("resse-demo-{seed:x}"),
        };
        for _ in 0..nodes {
            let server = cluster.make().await?;
            cluster.slots.push(Mutex::new(server));
        }
        let cluster = Arc::new(cluster);
        let mut faults = Vec::with_capacity(nodes);
        for (index, listener) in listeners.into_iter().enumerate() {
            let (tx, rx) = mpsc::channel(4);
            faults.push(tx);
            tokio::spawn(Arc::clone(&cluster).run(index, listener, rx));
        }
        Ok((cluster, faults))
    }

    /// A new server for one node.
    async fn make(&self) -> Result<Arc<Server>, String> {
        let config = NodeConfig::default().broadcast(self.broadcast.clone());
        let node = match &self.store {
            Store::Local => None,
            Store::Memory(log) => Some(SharedNode::Memory(
                Node::start(log.clone(), config)
                    .await
                    .map_err(|e| e.to_string())?,
            )),
            Store::Redis(url) => {
                let log =
                    RedisLog::connect(RedisConfig::new(url.clone()).stream(self.stream.clone()))
                        .await
                        .map_err(|e| e.to_string())?;
                Some(SharedNode::Redis(
                    Node::start(log, config).await.map_err(|e| e.to_string())?,
                ))
            }
        };
        Ok(Arc::new(Server::new(ServerOptions {
            node: node.map(Arc::new),
            broadcast: self.broadcast.clone(),
            path: "/events".to_owned(),
            retry: Some(RETRY),
            keep_alive: Some(KEEP_ALIVE),
            quiet: true,
            conn: ConnConfig::default().write_timeout(Some(Duration::from_secs(5))),
            send_buffer: Some(SEND_BUFFER as usize),
        })))
    }

    /// The current server of node `index`.
    pub(super) fn server(&self, index: usize) -> Arc<Server> {
        Arc::clone(&lock(&self.slots[index % self.slots.len()]))
    }

    /// Wedges (or unwedges) every node's event path: no events, no probe
    /// answers, keep-alives as usual.
    pub(super) fn set_wedged(&self, yes: bool) {
        for slot in &self.slots {
            lock(slot).set_wedged(yes);
        }
    }

    /// Whether the nodes are wedged.
    pub(super) fn is_wedged(&self) -> bool {
        self.server(0).is_wedged()
    }

    /// How many nodes there are.
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The counters of every node that served in this run.
    pub(super) fn stats(&self) -> BroadcastStats {
        let mut total = *lock(&self.retired);
        for slot in &self.slots {
            add(&mut total, &lock(slot).stats());
        }
        total
    }

    /// Serves node `index` on `listener` until `faults` closes.
    async fn run(
        self: Arc<Self>,
        index: usize,
        listener: TcpListener,
        mut faults: mpsc::Receiver<Down>,
    ) {
        let addr = self.addrs[index];
        let (phase, _) = watch::channel(Phase::Serving);
        let mut listener = Some(listener);
        let mut tasks = JoinSet::new();
        loop {
            tokio::select! {
                fault = faults.recv() => {
                    let Some(down) = fault else { break };
                    drop(listener.take());
                    phase.send_replace(Phase::Restarting);
                    let _ = tokio::time::timeout(Duration::from_secs(2), async {
                        while tasks.join_next().await.is_some() {}
                    })
                    .await;
                    tasks.abort_all();
                    phase.send_replace(Phase::Serving);
                    if down.replace {
                        let old = self.server(index);
                        old.close();
                        add(&mut lock(&self.retired), &old.stats());
                        // A node that cannot start again stays down; the
                        // check then reports what its clients missed.
                        if let Ok(fresh) = self.make().await {
                            *lock(&self.slots[index]) = fresh;
                        }
                    }
                    tokio::time::sleep(down.refuse).await;
                    let server = self.server(index);
                    if !down.unavailable.is_zero() {
                        server.set_unavailable(Some(Duration::from_secs(1)));
                        tokio::spawn(async move {
                            tokio::time::sleep(down.unavailable).await;
                            server.set_unavailable(None);
                        });
                    }
                    listener = listen(addr).ok();
                }
                accepted = async { listener.as_ref()?.accept().await.ok() }, if listener.is_some() => {
                    if let Some((stream, peer)) = accepted {
                        let _ = stream.set_nodelay(true);
                        tasks.spawn(connection(self.server(index), stream, peer, phase.subscribe()));
                    }
                }
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        self.server(index).close();
        tasks.abort_all();
    }
}

/// Adds the counters of `more` to `total`.
fn add(total: &mut BroadcastStats, more: &BroadcastStats) {
    total.lagged += more.lagged;
    total.replaced += more.replaced;
    total.published += more.published;
}

/// A listener whose accepted sockets have a small send buffer (so that a
/// reader that stops is noticed within a second).
pub(super) fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.set_send_buffer_size(SEND_BUFFER)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// The sequence number of a published or received event id: the whole id
/// (one node) or the offset of a shared log's `{epoch}-{offset}`.
pub(super) fn sequence(id: &str) -> Option<u64> {
    id.rsplit('-').next()?.parse().ok()
}

/// Publishes `rate` events a second, through the nodes in turn, until
/// `stop` says so. An event a node cannot publish (it is down, or the
/// shared log is) is tried again on the next node, then again after a
/// pause: it is delayed, never dropped.
pub(super) async fn publish(
    cluster: Arc<Cluster>,
    demo: Arc<Demo>,
    rate: u32,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut turn = 0usize;
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        // A wedged server publishes nothing (its publisher is stuck).
        if cluster.is_wedged() {
            continue;
        }
        n += 1;
        let data = format!("{{\"n\":{n},\"text\":\"{TEXT}\"}}");
        let event = Event::new(data).with_event_type("chat");
        loop {
            turn += 1;
            match cluster.server(turn).publish_any(event.clone()).await {
                Ok(id) => {
                    if let Some(seq) = sequence(&id) {
                        demo.published.fetch_max(seq, Ordering::Relaxed);
                    }
                    break;
                }
                Err(_) if *stop.borrow() => return,
                Err(_) => {
                    demo.publish_retries.fetch_add(1, Ordering::Relaxed);
                    if turn.is_multiple_of(cluster.len()) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }
    }
}

/// A TCP forwarder between the nodes and Redis that can cut every
/// connection and refuse new ones for a while (a Redis outage, as a restart
/// or a network partition looks to the nodes).
pub(super) struct RedisLink {
    pub(super) addr: SocketAddr,
    target: SocketAddr,
    down: AtomicBool,
    /// Bumped by an outage: connections of an older generation end.
    generation: watch::Sender<u64>,
    pub(super) outages: AtomicU64,
}

impl RedisLink {
    /// Forwards an ephemeral loopback port to `target`.
    pub(super) async fn start(target: SocketAddr) -> std::io::Result<Arc<Self>> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let link = Arc::new(Self {
            addr: listener.local_addr()?,
            target,
            down: AtomicBool::new(false),
            generation: watch::Sender::new(0),
            outages: AtomicU64::new(0),
        });
        let accepting = Arc::clone(&link);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                if accepting.down.load(Ordering::Relaxed) {
                    super::proxy::reset(stream);
                    continue;
                }
                tokio::spawn(Arc::clone(&accepting).forward(stream));
            }
        });
        Ok(link)
    }

    /// Cuts every connection now and refuses new ones for `pause`.
    pub(super) async fn outage(&self, pause: Duration) {
        self.down.store(true, Ordering::Relaxed);
        self.generation.send_modify(|g| *g += 1);
        self.outages.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(pause).await;
        self.down.store(false, Ordering::Relaxed);
    }

    async fn forward(self: Arc<Self>, mut client: TcpStream) {
        let mut generation = self.generation.subscribe();
        let Ok(mut redis) = TcpStream::connect(self.target).await else {
            super::proxy::reset(client);
            return;
        };
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut redis) => {
                let _ = client.shutdown().await;
            }
            _ = generation.changed() => {
                super::proxy::reset(client);
                super::proxy::reset(redis);
            }
        }
    }
}

/// The host and port of a `redis://` URL, and the URL with them replaced by
/// `via` (to reach Redis through the [`RedisLink`]).
pub(super) fn redis_through(url: &str, via: SocketAddr) -> Result<(String, String), String> {
    let (scheme, rest) = url
        .split_once("://")
        .filter(|(s, _)| *s == "redis")
        .ok_or_else(|| {
            "--redis takes a redis://HOST:PORT URL (TLS is not supported by the demo)".to_owned()
        })?;
    let (userinfo, hostpath) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (hostport, path) = match hostpath.split_once('/') {
        Some((h, p)) => (h, Some(p)),
        None => (hostpath, None),
    };
    let hostport = if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:6379")
    };
    let mut via_url = format!("{scheme}://");
    if let Some(userinfo) = userinfo {
        via_url.push_str(userinfo);
        via_url.push('@');
    }
    via_url.push_str(&via.to_string());
    if let Some(path) = path {
        via_url.push('/');
        via_url.push_str(path);
    }
    Ok((hostport, via_url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_of_both_id_shapes() {
        assert_eq!(sequence("17"), Some(17));
        assert_eq!(sequence("9f3c2a7b10d4e6f8-1042"), Some(1042));
        assert_eq!(sequence("x"), None);
    }

    #[test]
    fn redis_urls_go_through_the_link() {
        let via: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert_eq!(
            redis_through("redis://127.0.0.1:6380", via).unwrap(),
            (
                "127.0.0.1:6380".to_owned(),
                "redis://127.0.0.1:5000".to_owned()
            )
        );
        assert_eq!(
            redis_through("redis://:pw@localhost/2", via).unwrap(),
            (
                "localhost:6379".to_owned(),
                "redis://:pw@127.0.0.1:5000/2".to_owned()
            )
        );
        assert!(redis_through("rediss://h:1", via).is_err());
    }
}
