//! A threaded SSE server publishing numbered events (`id: n`, `data: event
//! n`) into a `ReplayLog`, replaying from `Last-Event-ID`.
//!
//! Paths: `/events` (close-delimited body), `/chunked` (chunked body),
//! `/204`, `/500` (always), `/500-twice` (500 twice, then the stream),
//! `/wrong-type` (200 `text/plain`), `/redirect` (307 to `/events`, with
//! a body).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use resse_codec::{Encoder, Event};
use resse_session::{Replay, ReplayConfig, ReplayLog};

/// One request the server saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub path: String,
    pub last_event_id: Option<String>,
}

struct State {
    log: ReplayLog,
    published: u64,
    hits: Vec<Hit>,
}

struct Inner {
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
}

/// The server; stops its threads when dropped.
pub struct TestServer {
    addr: SocketAddr,
    inner: Arc<Inner>,
}

impl TestServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind test server");
        let addr = listener.local_addr().expect("local addr");
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                log: ReplayLog::new(
                    ReplayConfig::default()
                        .max_events(1_000_000)
                        .max_len(1 << 30),
                ),
                published: 0,
                hits: Vec::new(),
            }),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let accept = Arc::clone(&inner);
        thread::spawn(move || {
            for conn in listener.incoming() {
                if accept.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let inner = Arc::clone(&accept);
                thread::spawn(move || {
                    let _ = serve(&inner, conn);
                });
            }
        });
        Self { addr, inner }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Publishes the next `n` numbered events.
    pub fn publish(&self, n: u64) {
        let mut state = self.inner.state.lock().unwrap();
        for _ in 0..n {
            state.published += 1;
            let id = state.published;
            let mut bytes = Vec::new();
            Encoder::new()
                .encode(
                    &Event::new(format!("event {id}")).with_id(id.to_string()),
                    &mut bytes,
                )
                .unwrap();
            state.log.push(id.to_string(), bytes.into()).unwrap();
        }
        drop(state);
        self.inner.changed.notify_all();
    }

    /// Publishes `n` events, `per_tick` at a time every `tick`, on a thread.
    pub fn publish_over_time(self: &Arc<Self>, n: u64, per_tick: u64, tick: Duration) {
        let server = Arc::clone(self);
        thread::spawn(move || {
            let mut left = n;
            while left > 0 && !server.inner.stop.load(Ordering::SeqCst) {
                let k = left.min(per_tick);
                server.publish(k);
                left -= k;
                thread::sleep(tick);
            }
        });
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.inner.state.lock().unwrap().hits.clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.inner.changed.notify_all();
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
    }
}

fn read_head(conn: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    Ok(head)
}

fn serve(inner: &Inner, mut conn: TcpStream) -> std::io::Result<()> {
    let head = String::from_utf8_lossy(&read_head(&mut conn)?).into_owned();
    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
    let last_event_id = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("last-event-id")
            .then(|| value.trim().to_owned())
    });
    let previous = {
        let mut state = inner.state.lock().unwrap();
        let previous = state.hits.iter().filter(|h| h.path == path).count();
        state.hits.push(Hit {
            path: path.clone(),
            last_event_id: last_event_id.clone(),
        });
        previous
    };
    let chunked = match path.as_str() {
        "/events" => false,
        "/chunked" => true,
        "/500-twice" if previous >= 2 => false,
        "/204" => return conn.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"),
        "/wrong-type" => {
            return conn.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nhi",
            );
        }
        "/redirect" => {
            return conn.write_all(
                b"HTTP/1.1 307 Temporary Redirect\r\nlocation: /events\r\ncontent-length: 5\r\n\r\nmoved",
            );
        }
        "/500" | "/500-twice" => {
            return conn.write_all(b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n");
        }
        _ => return conn.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"),
    };
    let te = if chunked {
        "transfer-encoding: chunked\r\n"
    } else {
        ""
    };
    conn.write_all(
        format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n{te}\r\n").as_bytes(),
    )?;
    let mut cursor = last_event_id.filter(|id| !id.is_empty());
    loop {
        let mut out = Vec::new();
        {
            let mut state = inner.state.lock().unwrap();
            loop {
                if inner.stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                let entries: Vec<_> = match &cursor {
                    None => state.log.iter().collect(),
                    Some(id) => match state.log.events_after(id) {
                        Replay::Events(events) => events.collect(),
                        // The log keeps everything: every id the client can
                        // send is in it.
                        _ => panic!("cannot replay after {id}"),
                    },
                };
                for entry in &entries {
                    out.extend_from_slice(entry.bytes());
                }
                if let Some(last) = entries.last() {
                    cursor = Some(last.id().to_string());
                    break;
                }
                let deadline = Instant::now() + Duration::from_millis(20);
                state = inner
                    .changed
                    .wait_timeout(state, deadline - Instant::now())
                    .unwrap()
                    .0;
            }
        }
        if chunked {
            let mut framed = format!("{:x}\r\n", out.len()).into_bytes();
            framed.extend_from_slice(&out);
            framed.extend_from_slice(b"\r\n");
            out = framed;
        }
        conn.write_all(&out)?;
    }
}
