//! The demo's fault-injecting TCP proxy: it sits between the clients and
//! the server, forwards bytes, and breaks one connection at a time the way
//! networks and intermediaries break them.
//!
//! The proxy learns which client a connection belongs to from the request
//! line (`GET /events?client=ID`), so that a fault can be aimed at a client
//! and its recovery timed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;

use crate::serve::lock;

/// A fault the proxy applies to one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum ConnFault {
    /// The client side is reset (RST), as by a crashing middlebox.
    Reset,
    /// Both sides are closed cleanly (FIN), as by a proxy's timeout.
    Fin,
    /// The stream is cut in the middle of an event (the next `data:` line
    /// is sent half, then FIN).
    MidEvent,
    /// Nothing is forwarded any more, both sockets left open: a half-open
    /// connection that only the client's idle watchdog can see.
    Stall,
    /// The client loses its connection (RST on its side) while the server's
    /// side stays open: the server still holds the old connection when the
    /// client comes back with the same identity, and must supersede it.
    Duplicate,
    /// The proxy stops reading the server's side for a while (a subscriber
    /// that stops reading): the server drops it rather than buffer for it.
    SlowReader,
}

impl ConnFault {
    /// Every connection fault, in the order of the summary.
    pub(crate) const ALL: [Self; 6] = [
        Self::Reset,
        Self::Fin,
        Self::MidEvent,
        Self::Stall,
        Self::Duplicate,
        Self::SlowReader,
    ];
}

/// How long the proxy holds a stalled connection (then closes it).
pub(crate) struct Holds {
    /// A [`ConnFault::Stall`]: longer than the client's idle timeout.
    pub(crate) stall: Duration,
    /// A [`ConnFault::SlowReader`]: how long the server's side goes unread.
    pub(crate) slow: Duration,
    /// A [`ConnFault::Duplicate`]: the longest wait for the server to end
    /// the orphaned side.
    pub(crate) orphan: Duration,
}

/// One proxied connection, as the fault injector sees it.
struct Conn {
    serial: u64,
    /// Which upstream (node) it goes to.
    node: usize,
    /// Set once the server's response has started.
    streaming: Arc<AtomicBool>,
    faults: mpsc::UnboundedSender<ConnFault>,
}

/// What the proxy counts and shares with the demo.
pub(crate) struct Proxy {
    pub(crate) addr: SocketAddr,
    /// The nodes; each connection goes to a random one.
    upstreams: Vec<SocketAddr>,
    /// Picks the node of each connection.
    pick: Mutex<super::Rng>,
    conns: Mutex<HashMap<String, Conn>>,
    serial: AtomicU64,
    /// Bytes from the server to the clients.
    pub(crate) down_bytes: AtomicU64,
    /// Bytes from the clients to the server.
    pub(crate) up_bytes: AtomicU64,
    /// When each stream connection was accepted (for the herd's busiest
    /// window; probes are not counted).
    pub(crate) accepted: Mutex<Vec<Instant>>,
    /// Orphaned server sides ended by the server (superseded), and those
    /// still open when the proxy gave up waiting.
    pub(crate) orphans_ended: AtomicU64,
    pub(crate) orphans_kept: AtomicU64,
    holds: Holds,
    /// Remove `Last-Event-ID` from requests (a misbehaving intermediary).
    strip_last_event_id: bool,
    /// Send a probe to the node of its client's stream.
    sticky_probes: bool,
}

impl Proxy {
    /// Starts a proxy on an ephemeral loopback port in front of `upstream`.
    pub(crate) async fn start(
        upstreams: Vec<SocketAddr>,
        holds: Holds,
        strip_last_event_id: bool,
        sticky_probes: bool,
        seed: u64,
    ) -> std::io::Result<Arc<Self>> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let proxy = Arc::new(Self {
            addr: listener.local_addr()?,
            upstreams,
            pick: Mutex::new(super::Rng(seed ^ 0x9e37)),
            conns: Mutex::new(HashMap::new()),
            serial: AtomicU64::new(0),
            down_bytes: AtomicU64::new(0),
            up_bytes: AtomicU64::new(0),
            accepted: Mutex::new(Vec::new()),
            orphans_ended: AtomicU64::new(0),
            orphans_kept: AtomicU64::new(0),
            holds,
            strip_last_event_id,
            sticky_probes,
        });
        let accepting = Arc::clone(&proxy);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                tokio::spawn(Arc::clone(&accepting).forward(stream));
            }
        });
        Ok(proxy)
    }

    /// The clients whose response is under way, sorted.
    pub(crate) fn streaming_clients(&self) -> Vec<String> {
        self.streaming_clients_on(None)
    }

    /// The clients whose response is under way from `node` (any with
    /// `None`), sorted.
    pub(crate) fn streaming_clients_on(&self, node: Option<usize>) -> Vec<String> {
        let mut clients: Vec<String> = lock(&self.conns)
            .iter()
            .filter(|(_, c)| c.streaming.load(Ordering::Relaxed))
            .filter(|(_, c)| node.is_none_or(|n| n == c.node))
            .map(|(id, _)| id.clone())
            .collect();
        clients.sort();
        clients
    }

    /// Applies `fault` to the current connection of `client`; `false` if it
    /// has none (or it just ended).
    pub(crate) fn inject(&self, client: &str, fault: ConnFault) -> bool {
        lock(&self.conns)
            .get(client)
            .is_some_and(|c| c.faults.send(fault).is_ok())
    }

    /// Forwards one connection until it ends or a fault ends it.
    async fn forward(self: Arc<Self>, mut client: TcpStream) {
        let accepted_at = Instant::now();
        let _ = client.set_nodelay(true);
        let Some((mut head, what)) = read_head(&mut client).await else {
            return;
        };
        if self.strip_last_event_id {
            head = strip_header(&head, b"last-event-id");
        }
        let random = lock(&self.pick).below(self.upstreams.len() as u64) as usize;
        let (client_id, node) = match what {
            Head::Stream(id) => {
                lock(&self.accepted).push(accepted_at);
                (id, random)
            }
            // Over an in-process log, nodes cannot pass a probe's answer to
            // one another: the probe goes where its client's stream is (as a
            // load balancer's session affinity would send it).
            Head::Probe(Some(id)) if self.sticky_probes => {
                let node = lock(&self.conns).get(&id).map_or(random, |c| c.node);
                (None, node)
            }
            Head::Probe(_) => (None, random),
        };
        let Ok(mut upstream) = self.connect_upstream(self.upstreams[node]).await else {
            // No server (it is down): the client sees its connection reset.
            reset(client);
            return;
        };
        if upstream.write_all(&head).await.is_err() {
            reset(client);
            return;
        }
        self.up_bytes
            .fetch_add(head.len() as u64, Ordering::Relaxed);
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let streaming = Arc::new(AtomicBool::new(false));
        let (tx, mut faults) = mpsc::unbounded_channel();
        if let Some(id) = &client_id {
            lock(&self.conns).insert(
                id.clone(),
                Conn {
                    serial,
                    node,
                    streaming: Arc::clone(&streaming),
                    faults: tx,
                },
            );
        }
        let mut down = vec![0u8; 16 * 1024];
        let mut up = vec![0u8; 1024];
        let mut cut_next_event = false;
        loop {
            tokio::select! {
                Some(fault) = faults.recv() => match fault {
                    ConnFault::Reset => {
                        reset(client);
                        break;
                    }
                    ConnFault::Fin => {
                        let _ = client.shutdown().await;
                        break;
                    }
                    ConnFault::MidEvent => cut_next_event = true,
                    ConnFault::Stall => {
                        // Both sockets stay open, nothing moves.
                        tokio::time::sleep(self.holds.stall).await;
                        break;
                    }
                    ConnFault::Duplicate => {
                        reset(client);
                        self.drain_orphan(upstream).await;
                        break;
                    }
                    ConnFault::SlowReader => {
                        tokio::time::sleep(self.holds.slow).await;
                    }
                },
                read = upstream.read(&mut down) => {
                    let n = match read {
                        Ok(0) | Err(_) => {
                            let _ = client.shutdown().await;
                            break;
                        }
                        Ok(n) => n,
                    };
                    streaming.store(true, Ordering::Relaxed);
                    let mut chunk = &down[..n];
                    let mut cut = false;
                    if cut_next_event {
                        if let Some(at) = memchr::memmem::find(chunk, b"data:") {
                            chunk = &chunk[..at + 3];
                            cut = true;
                        }
                    }
                    if client.write_all(chunk).await.is_err() {
                        break;
                    }
                    self.down_bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    if cut {
                        let _ = client.shutdown().await;
                        break;
                    }
                }
                read = client.read(&mut up) => {
                    let n = match read {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if upstream.write_all(&up[..n]).await.is_err() {
                        break;
                    }
                    self.up_bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
        }
        if let Some(id) = client_id {
            let mut conns = lock(&self.conns);
            if conns.get(&id).is_some_and(|c| c.serial == serial) {
                conns.remove(&id);
            }
        }
    }

    /// Reads and discards the server's side of a connection whose client is
    /// gone, until the server ends it or the hold runs out.
    async fn drain_orphan(&self, mut upstream: TcpStream) {
        let mut sink = vec![0u8; 16 * 1024];
        let drained = tokio::time::timeout(self.holds.orphan, async {
            while let Ok(n) = upstream.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
        match drained {
            Ok(()) => self.orphans_ended.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.orphans_kept.fetch_add(1, Ordering::Relaxed),
        };
    }

    /// A connection to the server whose receive buffer is small, so that a
    /// reader that stops is noticed by the server within a second rather
    /// than after megabytes of kernel buffers.
    async fn connect_upstream(&self, upstream: SocketAddr) -> std::io::Result<TcpStream> {
        let socket = TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(8 * 1024)?;
        let stream = socket.connect(upstream).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// `head` without its `name:` header lines (`name` in lower case).
fn strip_header(head: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len());
    for line in head.split_inclusive(|&b| b == b'\n') {
        let is_it = line.len() > name.len()
            && line[..name.len()].eq_ignore_ascii_case(name)
            && line[name.len()] == b':';
        if !is_it {
            out.extend_from_slice(line);
        }
    }
    out
}

/// Closes `stream` with a reset (RST) rather than a FIN.
pub(crate) fn reset(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// What a request is, by its request line.
enum Head {
    /// A stream request (or anything else), of this client.
    Stream(Option<String>),
    /// A liveness probe of this client's stream.
    Probe(Option<String>),
}

/// Reads a request head (up to its blank line, at most 16 KiB, within 5 s)
/// and what it is.
async fn read_head(client: &mut TcpStream) -> Option<(Vec<u8>, Head)> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let n = client.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            head.extend_from_slice(&buf[..n]);
            if memchr::memmem::find(&head, b"\r\n\r\n").is_some() {
                return Some(());
            }
            if head.len() > 16 * 1024 {
                return None;
            }
        }
    })
    .await;
    read.ok().flatten()?;
    let line_end = memchr::memchr(b'\n', &head).unwrap_or(head.len());
    let line = std::str::from_utf8(&head[..line_end]).ok()?;
    let target = line.split(' ').nth(1)?;
    // A liveness probe's side request names its client too, but it is not
    // that client's stream: faults are aimed at streams only.
    let (path, query) = target.split_once('?')?;
    let client = query
        .split('&')
        .find_map(|p| p.strip_prefix("client="))
        .map(str::to_owned);
    Some(if path.ends_with("/probe") {
        (head, Head::Probe(client))
    } else {
        (head, Head::Stream(client))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripping_a_header_keeps_the_rest() {
        let head = b"GET /events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 7\r\naccept: a\r\n\r\n";
        assert_eq!(
            strip_header(head, b"last-event-id"),
            b"GET /events HTTP/1.1\r\nHost: x\r\naccept: a\r\n\r\n"
        );
        assert_eq!(
            strip_header(b"Last-Event-IDs: 1\r\n", b"last-event-id"),
            b"Last-Event-IDs: 1\r\n"
        );
    }
}
