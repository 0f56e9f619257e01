//! A fault-injecting TCP proxy (tokio): each connection follows a plan —
//! pass through, or one fault at a body offset.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What goes wrong on one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Close both sides inside an `id:` or `data:` line, at or after
    /// `offset` response bytes.
    CutMidEvent(usize),
    /// Close both sides right after a blank line, at or after `offset`.
    CutBetweenEvents(usize),
    /// Stop forwarding after the first blank line at or after `offset`
    /// response bytes, keeping both sides open and silent until the client
    /// hangs up.
    Stall(usize),
    /// Forward one byte per write (each its own TCP segment) for `offset`
    /// bytes, then cut.
    Throttle(usize),
    /// Read the request, then abort the connection with a TCP reset.
    Reset,
    /// Accept and close at once, before any response.
    Refuse,
}

pub type Plan = Box<dyn FnMut(usize) -> Option<Fault> + Send>;

pub struct FaultProxy {
    addr: SocketAddr,
    faults: Arc<Mutex<Vec<Fault>>>,
    connections: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    pub async fn start(upstream: SocketAddr, mut plan: Plan) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("local addr");
        let faults = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let (f, c, o) = (faults.clone(), connections.clone(), open.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let index = c.fetch_add(1, Ordering::SeqCst);
                let fault = plan(index);
                let (f, o) = (f.clone(), o.clone());
                o.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    relay(client, upstream, fault, &f).await;
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            addr,
            faults,
            connections,
            open,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The faults actually injected, in order.
    pub fn faults(&self) -> Vec<Fault> {
        self.faults.lock().unwrap().clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Connections being relayed now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(
    mut client: TcpStream,
    upstream: SocketAddr,
    fault: Option<Fault>,
    faults: &Mutex<Vec<Fault>>,
) {
    match fault {
        Some(Fault::Refuse) => {
            faults.lock().unwrap().push(Fault::Refuse);
            return;
        }
        Some(Fault::Reset) => {
            // Take the request, then abort: SO_LINGER 0 makes close send RST.
            let mut buf = [0u8; 1024];
            let _ = tokio::time::timeout(Duration::from_secs(1), client.read(&mut buf)).await;
            faults.lock().unwrap().push(Fault::Reset);
            let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
            return;
        }
        _ => {}
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let (mut client_r, mut client_w) = client.into_split();
    let (mut server_r, mut server_w) = server.into_split();
    // Client → server: the request; its end means the client hung up.
    let mut upstream_copy = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_r, &mut server_w).await;
        let _ = server_w.shutdown().await;
    });
    let mut scanner = Scanner::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            read = server_r.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            _ = &mut upstream_copy => break,
        };
        let (cut_at, fired) = scanner.feed(&buf[..n], fault);
        if let Some(Fault::Throttle(_)) = fault {
            for &b in &buf[..cut_at] {
                if client_w.write_all(&[b]).await.is_err() {
                    break;
                }
                tokio::task::yield_now().await;
            }
        } else if client_w.write_all(&buf[..cut_at]).await.is_err() {
            break;
        }
        if let Some(fault) = fired {
            faults.lock().unwrap().push(fault);
            if let Fault::Stall(_) = fault {
                // Hold both sides open and silent until the client gives up.
                let _ = tokio::time::timeout(Duration::from_secs(10), &mut upstream_copy).await;
            }
            break;
        }
    }
    upstream_copy.abort();
}

/// Follows the response bytes to find where a fault fires.
#[derive(Default)]
struct Scanner {
    head: Vec<u8>,
    in_body: bool,
    pos: usize,
    line: Vec<u8>,
    last2: [u8; 2],
}

impl Scanner {
    /// How many bytes of `chunk` to forward, and the fault if it fires
    /// after them.
    fn feed(&mut self, chunk: &[u8], fault: Option<Fault>) -> (usize, Option<Fault>) {
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
                        && (self.line.starts_with(b"data: ") || self.line.starts_with(b"id: "))
                        && self.line.len() > 4
                }
                Some(Fault::CutBetweenEvents(k) | Fault::Stall(k)) => {
                    self.pos >= k && self.last2 == *b"\n\n"
                }
                Some(Fault::Throttle(k)) => self.pos >= k,
                _ => false,
            };
            if fire {
                return (i + 1, fault);
            }
        }
        (chunk.len(), None)
    }
}
