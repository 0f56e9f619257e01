//! A fault-injecting TCP proxy: each connection follows a plan (pass
//! through, or one fault at a body offset).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What goes wrong on one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Close both sides inside an `id:` or `data:` line, at or after
    /// `offset` body bytes.
    CutMidEvent(usize),
    /// Close both sides right after a blank line, at or after `offset`.
    CutBetweenEvents(usize),
    /// Stop forwarding after `offset` body bytes, keeping both sides open,
    /// until the client hangs up.
    Stall(usize),
    /// Do not read the request and drop the client socket: unread data
    /// makes the kernel answer with a reset.
    Reset,
    /// Accept and close at once, before any response.
    Refuse,
}

pub type Plan = Box<dyn FnMut(usize) -> Option<Fault> + Send>;

pub struct FaultProxy {
    addr: SocketAddr,
    faults: Arc<Mutex<Vec<Fault>>>,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
}

impl FaultProxy {
    pub fn start(upstream: SocketAddr, mut plan: Plan) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("local addr");
        let faults = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let (f, s, c) = (
            Arc::clone(&faults),
            Arc::clone(&stop),
            Arc::clone(&connections),
        );
        thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let index = c.fetch_add(1, Ordering::SeqCst);
                let fault = plan(index);
                let (f, s) = (Arc::clone(&f), Arc::clone(&s));
                thread::spawn(move || relay(client, upstream, fault, &f, &s));
            }
        });
        Self {
            addr,
            faults,
            stop,
            connections,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The faults actually injected, in order.
    pub fn faults(&self) -> Vec<Fault> {
        self.faults.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    fault: Option<Fault>,
    faults: &Mutex<Vec<Fault>>,
    stop: &AtomicBool,
) {
    match fault {
        Some(Fault::Refuse) => {
            faults.lock().unwrap().push(Fault::Refuse);
            drop(client);
            return;
        }
        Some(Fault::Reset) => {
            // Let the request arrive, then close with it unread.
            thread::sleep(Duration::from_millis(5));
            faults.lock().unwrap().push(Fault::Reset);
            drop(client);
            return;
        }
        _ => {}
    }
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    let (Ok(mut client_r), Ok(mut server_w)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    // Client → server: the request; its end means the client hung up.
    let hung_up = Arc::new(AtomicBool::new(false));
    let hung = Arc::clone(&hung_up);
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match client_r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
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
    let mut head = Vec::new();
    let mut in_body = false;
    let mut body_pos = 0usize;
    let mut line = Vec::new();
    let mut last2 = [0u8; 2];
    let mut buf = [0u8; 4096];
    loop {
        if stop.load(Ordering::SeqCst) || hung_up.load(Ordering::SeqCst) {
            break;
        }
        let n = match server_r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => break,
        };
        let mut out = Vec::with_capacity(n);
        for &b in &buf[..n] {
            out.push(b);
            if !in_body {
                head.push(b);
                in_body = head.ends_with(b"\r\n\r\n");
                continue;
            }
            body_pos += 1;
            last2 = [last2[1], b];
            if b == b'\n' {
                line.clear();
            } else if b != b'\r' {
                line.push(b);
            }
            let fire = match fault {
                Some(Fault::CutMidEvent(k)) => {
                    body_pos >= k
                        && (line.starts_with(b"data: ") || line.starts_with(b"id: "))
                        && line.len() > 4
                }
                Some(Fault::CutBetweenEvents(k)) => body_pos >= k && last2 == *b"\n\n",
                Some(Fault::Stall(k)) => body_pos >= k,
                _ => false,
            };
            if fire {
                let _ = client_w.write_all(&out);
                let fault = fault.expect("fire implies a fault");
                faults.lock().unwrap().push(fault);
                if let Fault::Stall(_) = fault {
                    // Hold both sides open, silent, until the client gives up.
                    let until = Instant::now() + Duration::from_secs(10);
                    while !hung_up.load(Ordering::SeqCst)
                        && !stop.load(Ordering::SeqCst)
                        && Instant::now() < until
                    {
                        thread::sleep(Duration::from_millis(2));
                    }
                }
                let _ = client_w.shutdown(Shutdown::Both);
                let _ = server_r.shutdown(Shutdown::Both);
                return;
            }
        }
        if client_w.write_all(&out).is_err() {
            break;
        }
    }
    let _ = client_w.shutdown(Shutdown::Both);
    let _ = server_r.shutdown(Shutdown::Both);
}
