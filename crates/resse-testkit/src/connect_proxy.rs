//! A forwarding HTTP proxy on 127.0.0.1 (std threads) that records what it
//! was asked: `CONNECT host:port` tunnels and absolute-form requests
//! (`GET http://host:port/path`), each with its `Proxy-Authorization`.
//! It only forwards to loopback addresses, and can insist on credentials
//! (`407 Proxy Authentication Required` without them).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// One request the proxy saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxySeen {
    /// The request line, e.g. `CONNECT 127.0.0.1:4433 HTTP/1.1` or
    /// `GET http://127.0.0.1:8080/events HTTP/1.1`.
    pub request_line: String,
    /// The `Proxy-Authorization` header, if any.
    pub authorization: Option<String>,
}

impl ProxySeen {
    /// Whether it was a `CONNECT` (a tunnel) rather than an absolute-form
    /// request.
    pub fn is_connect(&self) -> bool {
        self.request_line.starts_with("CONNECT ")
    }
}

/// The proxy; its accept loop stops on drop.
pub struct ConnectProxy {
    /// Where it listens.
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<ProxySeen>>>,
    stop: Arc<AtomicBool>,
}

impl ConnectProxy {
    /// A proxy on an ephemeral port of 127.0.0.1 that asks for no
    /// credentials.
    pub fn start() -> Self {
        Self::start_inner(None)
    }

    /// A proxy that answers 407 unless `Proxy-Authorization` is `auth`.
    pub fn start_requiring(auth: &str) -> Self {
        Self::start_inner(Some(auth.to_owned()))
    }

    fn start_inner(require: Option<String>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&seen), Arc::clone(&stop));
        thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (s, require) = (Arc::clone(&s), require.clone());
                thread::spawn(move || serve(conn, &s, require));
            }
        });
        Self { addr, seen, stop }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://user:password@127.0.0.1:PORT`.
    pub fn url_with_credentials(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@{}", self.addr)
    }

    /// The requests seen so far, in order.
    pub fn seen(&self) -> Vec<ProxySeen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
    }
}

/// The address of `authority` (`host:port`) if it is on the loopback
/// interface.
fn loopback(authority: &str) -> Option<SocketAddr> {
    let addr: SocketAddr = authority.replace("localhost", "127.0.0.1").parse().ok()?;
    addr.ip().is_loopback().then_some(addr)
}

/// Copies both ways until either side ends.
fn pipe(client: TcpStream, upstream: TcpStream) {
    let (Ok(mut c2), Ok(mut u2)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let up = thread::spawn(move || {
        let mut client = client;
        let mut upstream = upstream;
        let _ = std::io::copy(&mut client, &mut upstream);
        let _ = upstream.shutdown(Shutdown::Both);
        let _ = client.shutdown(Shutdown::Both);
    });
    let _ = std::io::copy(&mut u2, &mut c2);
    let _ = c2.shutdown(Shutdown::Both);
    let _ = u2.shutdown(Shutdown::Both);
    let _ = up.join();
}

fn serve(mut client: TcpStream, seen: &Mutex<Vec<ProxySeen>>, require: Option<String>) {
    let _ = client.set_nodelay(true);
    let _ = client.set_read_timeout(Some(Duration::from_secs(5)));
    // The request head, byte by byte: nothing past it is read here.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let _ = client.set_read_timeout(None);
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let headers: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    let authorization = headers.iter().find_map(|h| {
        let (name, value) = h.split_once(':')?;
        name.eq_ignore_ascii_case("proxy-authorization")
            .then(|| value.trim().to_owned())
    });
    let refused = require.is_some() && require != authorization;
    seen.lock().unwrap().push(ProxySeen {
        request_line: request_line.clone(),
        authorization,
    });
    if refused {
        let _ = client.write_all(
            b"HTTP/1.1 407 Proxy Authentication Required\r\n\
              proxy-authenticate: Basic realm=\"test\"\r\ncontent-length: 0\r\n\r\n",
        );
        return;
    }
    let mut parts = request_line.split(' ');
    let (method, target, version) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or("HTTP/1.1"),
    );
    let (authority, forward) = if method == "CONNECT" {
        (target, None)
    } else if let Some(after) = target.strip_prefix("http://") {
        // Absolute form: forwarded in origin form.
        let (authority, path) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, "/"),
        };
        let mut out = format!("{method} {path} {version}\r\n");
        for h in &headers {
            let name = h.split(':').next().unwrap_or_default();
            if !name.eq_ignore_ascii_case("proxy-authorization")
                && !name.eq_ignore_ascii_case("proxy-connection")
            {
                out.push_str(h);
                out.push_str("\r\n");
            }
        }
        out.push_str("\r\n");
        (authority, Some(out))
    } else {
        let _ = client.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        return;
    };
    let Some(addr) = loopback(authority) else {
        let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\n\r\n");
        return;
    };
    let Ok(mut upstream) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
        return;
    };
    let _ = upstream.set_nodelay(true);
    let ready = match forward {
        None => client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n"),
        Some(head) => upstream.write_all(head.as_bytes()),
    };
    if ready.is_ok() {
        pipe(client, upstream);
    }
}
