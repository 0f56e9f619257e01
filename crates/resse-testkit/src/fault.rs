//! A fault-injecting TCP proxy (std threads): each connection follows a
//! plan, passing through or injecting one [`Fault`].
//!
//! # Offsets
//!
//! Every offset counts **body bytes**: the bytes of the response after its
//! head (after the blank line that ends the status line and headers), as
//! they are on the wire, so a chunked body's framing (chunk sizes, CRLFs)
//! counts too. The head itself is never cut, stalled or counted.
//!
//! # Outcomes
//!
//! A planned fault is *injected* (listed by [`FaultProxy::faults`]) once
//! its connection reaches the fault's trigger, just before the client can
//! see the fault. A connection that ends before its trigger (the client
//! hung up, for instance after its idle timeout, or the server ended the
//! response) has its fault listed by [`FaultProxy::abandoned`] instead.
//! Every planned fault ends in exactly one of the two lists.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::Rng;

/// What goes wrong on one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward up to a byte inside an `id: ` or `data: ` line, after at
    /// least one byte of its value, at or after `offset` body bytes, then
    /// close both sides.
    CutMidEvent(usize),
    /// Forward up to the end of a blank line (the end of an event) at or
    /// after `offset` body bytes, then close both sides.
    CutBetweenEvents(usize),
    /// Forward up to the end of a blank line at or after `offset` body
    /// bytes, then forward nothing more, keeping both sides open and silent
    /// until the client hangs up (at most 10 s).
    Stall(usize),
    /// Forward the response one byte per write (each its own TCP segment:
    /// `TCP_NODELAY`) until `offset` body bytes are through, then close
    /// both sides.
    Throttle(usize),
    /// Read the request, then abort the connection with a TCP reset
    /// (`SO_LINGER` 0, then close): the client sees `ECONNRESET`, not an
    /// orderly end. Triggered when the request arrives.
    Reset,
    /// Accept and close at once, before any response byte and without
    /// connecting to the server: an orderly close (FIN), never a reset
    /// (what the client sends is read and discarded until it closes, at
    /// most 1 s).
    Refuse,
}

/// The plan: the fault (if any) of the `n`th connection (from 0).
pub type Plan = Box<dyn FnMut(usize) -> Option<Fault> + Send>;

/// A random fault: every kind equally likely, offsets uniform in
/// `20..600` body bytes.
pub fn random_fault(rng: &mut Rng) -> Fault {
    let offset = rng.range(20, 600) as usize;
    match rng.range(0, 6) {
        0 => Fault::CutMidEvent(offset),
        1 => Fault::CutBetweenEvents(offset),
        2 => Fault::Stall(offset),
        3 => Fault::Throttle(offset),
        4 => Fault::Reset,
        _ => Fault::Refuse,
    }
}

/// The plan of the exactly-once suites of both adapters: a [`random_fault`]
/// (from `seed`) on each of the first `count` connections, then none.
pub fn random_plan(seed: u64, count: usize) -> Plan {
    let mut rng = Rng::new(seed);
    Box::new(move |n| (n < count).then(|| random_fault(&mut rng)))
}

/// The kinds of fault, by name, for checking that a plan used them all.
pub const KINDS: [&str; 6] = [
    "CutMidEvent",
    "CutBetweenEvents",
    "Stall",
    "Throttle",
    "Reset",
    "Refuse",
];

impl Fault {
    /// The kind of fault, one of [`KINDS`].
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CutMidEvent(_) => KINDS[0],
            Self::CutBetweenEvents(_) => KINDS[1],
            Self::Stall(_) => KINDS[2],
            Self::Throttle(_) => KINDS[3],
            Self::Reset => KINDS[4],
            Self::Refuse => KINDS[5],
        }
    }
}

/// The proxy. On drop it stops accepting, closes every connection it relays
/// and joins all its threads.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    connections: AtomicUsize,
    open: AtomicUsize,
    planned: AtomicUsize,
    faults: Mutex<Vec<Fault>>,
    abandoned: Mutex<Vec<Fault>>,
    /// Clones of the sockets of the connections being relayed, to unblock
    /// their threads on drop.
    live: Mutex<HashMap<usize, Vec<TcpStream>>>,
    /// The request heads, by connection.
    heads: Arc<Mutex<Vec<(usize, String)>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn track(&self, index: usize, socket: &TcpStream) {
        if let Ok(clone) = socket.try_clone() {
            self.live
                .lock()
                .unwrap()
                .entry(index)
                .or_default()
                .push(clone);
        }
    }

    fn outcome(&self, fault: Option<Fault>, injected: bool) {
        if let Some(fault) = fault {
            let list = if injected {
                &self.faults
            } else {
                &self.abandoned
            };
            list.lock().unwrap().push(fault);
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

impl FaultProxy {
    /// A proxy on an ephemeral port of 127.0.0.1 in front of `upstream`.
    pub fn start(upstream: SocketAddr, mut plan: Plan) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        let accept = thread::spawn(move || {
            for client in listener.incoming() {
                if s.stopping() {
                    break;
                }
                let Ok(client) = client else { continue };
                let index = s.connections.fetch_add(1, Ordering::SeqCst);
                let fault = plan(index);
                if fault.is_some() {
                    s.planned.fetch_add(1, Ordering::SeqCst);
                }
                s.open.fetch_add(1, Ordering::SeqCst);
                s.track(index, &client);
                let shared = Arc::clone(&s);
                let relay = thread::spawn(move || {
                    relay(index, client, upstream, fault, &shared);
                    shared.live.lock().unwrap().remove(&index);
                    shared.open.fetch_sub(1, Ordering::SeqCst);
                });
                s.threads.lock().unwrap().push(relay);
            }
        });
        Self {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Where the proxy listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The faults injected so far, in order.
    pub fn faults(&self) -> Vec<Fault> {
        self.shared.faults.lock().unwrap().clone()
    }

    /// The planned faults whose connection ended before their trigger.
    pub fn abandoned(&self) -> Vec<Fault> {
        self.shared.abandoned.lock().unwrap().clone()
    }

    /// The request heads the clients sent, in the order of their
    /// connections (the order a client made them, whenever the proxy got
    /// to read them), with the index of the connection. A connection
    /// refused by [`Fault::Refuse`] has none.
    pub fn requests(&self) -> Vec<(usize, String)> {
        let mut heads = self.shared.heads.lock().unwrap().clone();
        heads.sort_by_key(|(index, _)| *index);
        heads
    }

    /// How many connections were planned a fault so far.
    pub fn planned(&self) -> usize {
        self.shared.planned.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Connections being relayed now.
    pub fn open(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// Waits (at most `limit`) until every planned fault accepted so far is
    /// either injected or abandoned; whether they all are.
    pub fn settle(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let outcomes = self.shared.faults.lock().unwrap().len()
                + self.shared.abandoned.lock().unwrap().len();
            if outcomes >= self.planned() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop, and wait for it: no connection is added
        // after this.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        for sockets in self.shared.live.lock().unwrap().values() {
            for socket in sockets {
                let _ = socket.shutdown(Shutdown::Both);
            }
        }
        let threads = std::mem::take(&mut *self.shared.threads.lock().unwrap());
        for thread in threads {
            let _ = thread.join();
        }
    }
}

fn relay(
    index: usize,
    mut client: TcpStream,
    upstream: SocketAddr,
    fault: Option<Fault>,
    shared: &Shared,
) {
    match fault {
        Some(Fault::Refuse) => {
            shared.outcome(fault, true);
            // FIN at once; then drain until the client closes, so that an
            // unread request does not turn the close into a reset.
            let _ = client.shutdown(Shutdown::Write);
            let _ = client.set_read_timeout(Some(Duration::from_secs(1)));
            let _ = std::io::copy(&mut client, &mut std::io::sink());
            return;
        }
        Some(Fault::Reset) => {
            // Take the request, then abort: SO_LINGER 0 makes close send RST.
            let _ = client.set_read_timeout(Some(Duration::from_secs(2)));
            let mut head = Head::default();
            let mut buf = [0u8; 4096];
            while !head.done {
                match client.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.record(index, &buf[..n], &shared.heads),
                }
            }
            let arrived = head.done;
            shared.outcome(fault, arrived);
            if arrived {
                let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
            }
            return;
        }
        _ => {}
    }
    let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(2)) else {
        shared.outcome(fault, false);
        return;
    };
    shared.track(index, &server);
    let _ = client.set_nodelay(true);
    let (Ok(mut client_r), Ok(mut server_w)) = (client.try_clone(), server.try_clone()) else {
        shared.outcome(fault, false);
        return;
    };
    // Client → server: the request; its end means the client hung up.
    let hung_up = Arc::new(AtomicBool::new(false));
    let hung = Arc::clone(&hung_up);
    let heads = Arc::clone(&shared.heads);
    let pump = thread::spawn(move || {
        let mut head = Head::default();
        let mut buf = [0u8; 4096];
        loop {
            match client_r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    head.record(index, &buf[..n], &heads);
                    if server_w.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        hung.store(true, Ordering::SeqCst);
        let _ = server_w.shutdown(Shutdown::Both);
    });
    let mut server_r = server;
    let mut client_w = client;
    let _ = server_r.set_read_timeout(Some(Duration::from_millis(50)));
    let mut scanner = Scanner::default();
    let mut buf = [0u8; 16 * 1024];
    let mut fired = None;
    while !shared.stopping() && !hung_up.load(Ordering::SeqCst) {
        let n = match server_r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => break,
        };
        let (through, fires) = scanner.feed(&buf[..n], fault);
        let written = if let Some(Fault::Throttle(_)) = fault {
            buf[..through]
                .iter()
                .all(|b| client_w.write_all(std::slice::from_ref(b)).is_ok())
        } else {
            client_w.write_all(&buf[..through]).is_ok()
        };
        if !written {
            break;
        }
        if fires {
            fired = fault;
            break;
        }
    }
    shared.outcome(fault, fired.is_some());
    if let Some(Fault::Stall(_)) = fired {
        // Hold both sides open and silent until the client gives up.
        let until = Instant::now() + Duration::from_secs(10);
        while !hung_up.load(Ordering::SeqCst) && !shared.stopping() && Instant::now() < until {
            thread::sleep(Duration::from_millis(2));
        }
    }
    let _ = client_w.shutdown(Shutdown::Both);
    let _ = server_r.shutdown(Shutdown::Both);
    let _ = pump.join();
}

/// The head of the request a client sent on one connection.
#[derive(Default)]
struct Head {
    bytes: Vec<u8>,
    done: bool,
}

impl Head {
    fn record(&mut self, index: usize, chunk: &[u8], heads: &Mutex<Vec<(usize, String)>>) {
        if self.done {
            return;
        }
        self.bytes.extend_from_slice(chunk);
        if let Some(end) = self.bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            self.done = true;
            let head = String::from_utf8_lossy(&self.bytes[..end + 4]).into_owned();
            heads.lock().unwrap().push((index, head));
        }
    }
}

/// Follows the response bytes to find where a fault fires.
#[derive(Default)]
struct Scanner {
    head: Vec<u8>,
    in_body: bool,
    /// Body bytes so far.
    pos: usize,
    line: Vec<u8>,
    last2: [u8; 2],
}

impl Scanner {
    /// How many bytes of `chunk` to forward, and whether `fault` fires
    /// right after them.
    fn feed(&mut self, chunk: &[u8], fault: Option<Fault>) -> (usize, bool) {
        for (i, &b) in chunk.iter().enumerate() {
            if !self.in_body {
                self.head.push(b);
                self.in_body = self.head.ends_with(b"\r\n\r\n");
                continue;
            }
            self.pos += 1;
            self.last2 = [self.last2[1], b];
            if b == b'\n' {
                self.line.clear();
            } else if b != b'\r' {
                self.line.push(b);
            }
            let fire = match fault {
                Some(Fault::CutMidEvent(k)) => {
                    self.pos >= k
                        && ((self.line.starts_with(b"data: ") && self.line.len() > 6)
                            || (self.line.starts_with(b"id: ") && self.line.len() > 4))
                }
                Some(Fault::CutBetweenEvents(k) | Fault::Stall(k)) => {
                    self.pos >= k && self.last2 == *b"\n\n"
                }
                Some(Fault::Throttle(k)) => self.pos >= k,
                _ => false,
            };
            if fire {
                return (i + 1, true);
            }
        }
        (chunk.len(), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\n\r\nid: 1\ndata: one\n\nid: 2\ndata: two\n\n";

    fn fires_after(fault: Fault) -> Option<usize> {
        let (n, fires) = Scanner::default().feed(RESPONSE, Some(fault));
        fires.then(|| n - 19)
    }

    #[test]
    fn offsets_count_body_bytes() {
        assert_eq!(fires_after(Fault::Throttle(3)), Some(3));
        assert_eq!(fires_after(Fault::CutBetweenEvents(0)), Some(17));
        assert_eq!(fires_after(Fault::Stall(18)), Some(34));
        // Inside `data: one` (after at least one byte of the value).
        assert_eq!(fires_after(Fault::CutMidEvent(7)), Some(13));
        // Inside `id: 2`.
        assert_eq!(fires_after(Fault::CutMidEvent(18)), Some(22));
        assert_eq!(fires_after(Fault::CutBetweenEvents(37)), None);
    }

    /// Sends a request through a proxy whose only connection has `fault`;
    /// what the client read, and how its reading ended.
    fn through(fault: Fault) -> (Vec<u8>, std::io::Result<usize>, FaultProxy) {
        let server = crate::raw::RawServer::start(Box::new(|_| RESPONSE.to_vec()));
        let upstream: SocketAddr = server
            .url("")
            .trim_start_matches("http://")
            .parse()
            .unwrap();
        let proxy = FaultProxy::start(upstream, Box::new(move |n| (n == 0).then_some(fault)));
        let mut tcp = TcpStream::connect(proxy.addr()).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        let end = loop {
            match tcp.read(&mut buf) {
                Ok(0) => break Ok(0),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => break Err(e),
            }
        };
        assert!(proxy.settle(Duration::from_secs(5)));
        (got, end, proxy)
    }

    #[test]
    fn reset_is_a_tcp_reset() {
        let (got, end, proxy) = through(Fault::Reset);
        assert!(got.is_empty());
        assert_eq!(end.unwrap_err().kind(), ErrorKind::ConnectionReset);
        assert_eq!(proxy.faults(), [Fault::Reset]);
    }

    #[test]
    fn refuse_is_an_orderly_close_before_any_byte() {
        let (got, end, proxy) = through(Fault::Refuse);
        assert!(got.is_empty());
        assert_eq!(end.unwrap(), 0);
        assert_eq!(proxy.faults(), [Fault::Refuse]);
    }

    #[test]
    fn cuts_and_throttle_forward_up_to_their_trigger() {
        for (fault, body) in [
            (Fault::CutBetweenEvents(0), 17),
            (Fault::CutMidEvent(18), 22),
            (Fault::Throttle(30), 30),
        ] {
            let (got, end, proxy) = through(fault);
            assert_eq!(end.unwrap(), 0, "{fault:?}");
            assert_eq!(got, RESPONSE[..19 + body], "{fault:?}");
            assert_eq!(proxy.faults(), [fault]);
        }
    }

    #[test]
    fn a_fault_past_the_end_of_the_response_is_abandoned() {
        let (got, _, proxy) = through(Fault::CutBetweenEvents(1000));
        assert_eq!(got, RESPONSE);
        assert!(proxy.faults().is_empty());
        assert_eq!(proxy.abandoned(), [Fault::CutBetweenEvents(1000)]);
    }
}
