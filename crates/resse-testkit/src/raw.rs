//! A raw HTTP/1.1 server on 127.0.0.1 (std threads, no HTTP library): the
//! `n`th request (from 0) gets the bytes `respond(n)` returns, then the
//! connection closes. Nothing is added to the response (hyper would add a
//! `Date` header, for instance), and every request head is recorded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The response to the `n`th request (from 0), as raw bytes.
pub type Respond = Box<dyn Fn(usize) -> Vec<u8> + Send + Sync>;

/// The server; it stops (and its thread ends) on drop.
pub struct RawServer {
    addr: SocketAddr,
    heads: Arc<Mutex<Vec<(Instant, String)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RawServer {
    /// Starts a server on an ephemeral port of 127.0.0.1.
    pub fn start(respond: Respond) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind raw server");
        let addr = listener.local_addr().expect("local addr");
        let heads = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (heads.clone(), stop.clone());
        let count = AtomicUsize::new(0);
        let thread = std::thread::spawn(move || {
            for socket in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut socket) = socket else { continue };
                let Some(head) = read_request(&mut socket) else {
                    continue;
                };
                h.lock().unwrap().push((Instant::now(), head));
                let response = respond(count.fetch_add(1, Ordering::SeqCst));
                let _ = socket.write_all(&response);
                let _ = socket.shutdown(std::net::Shutdown::Both);
            }
        });
        Self {
            addr,
            heads,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The request heads received, with when each arrived.
    pub fn heads(&self) -> Vec<(Instant, String)> {
        self.heads.lock().unwrap().clone()
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads a request head and its `content-length` body; the head as text.
fn read_request(socket: &mut TcpStream) -> Option<String> {
    socket.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = socket.read(&mut chunk).ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = buf.len() - end;
    while body < length {
        let n = socket.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body += n;
    }
    Some(head)
}

/// A response with these status line, headers and body (and `connection:
/// close`: the body ends with the connection).
pub fn response(status: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 {status}\r\nconnection: close\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    r.push_str(body);
    r.into_bytes()
}

/// An event stream response with this body.
pub fn stream(body: &str) -> Vec<u8> {
    response("200 OK", &[("content-type", "text/event-stream")], body)
}

/// An HTTP date `secs` seconds from now (wall clock).
pub fn http_date_in(secs: u64) -> String {
    httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(secs))
}
