//! Stuck clients cannot pin memory: through `serve` (capped send buffers,
//! `TimeoutIo` with a reset on write timeout), 200 clients that connect and
//! never read are reset within the write timeout + 1 s, the kernel's TCP
//! memory (`/proc/net/sockstat`) stays within 200 × (send buffer cap +
//! 64 KiB), and normal subscribers receive every event.
//!
//! The quick variant runs in the normal test run (write timeout 3 s); the
//! full one (`cargo test -p resse-tokio --test server_stuck_clients -- --ignored
//! --nocapture`) uses the default 30 s write timeout. Both print their
//! figures. `RESSE_STUCK_NO_CAP=1` runs it without the send buffer cap, for
//! comparison.
#![cfg(feature = "server")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use resse_codec::Event;
use resse_tokio::server::{
    BroadcastConfig, Broadcaster, ConnConfig, DEFAULT_SEND_BUFFER_SIZE, ServeConfig, serve,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

const STUCK: usize = 200;
const NORMAL: usize = 50;
const RATE: u64 = 2000; // events per second
const DATA_LEN: usize = 200;

/// The kernel's TCP memory in bytes (`mem` of `/proc/net/sockstat`, in
/// pages), or `None` where there is no such file.
fn tcp_mem() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/sockstat").ok()?;
    let line = text.lines().find(|l| l.starts_with("TCP:"))?;
    let mut fields = line.split_whitespace();
    while let Some(f) = fields.next() {
        if f == "mem" {
            return fields.next()?.parse::<u64>().ok().map(|pages| pages * 4096);
        }
    }
    None
}

fn request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nhost: test\r\naccept: text/event-stream\r\n\r\n")
}

/// Connects with a small receive buffer, sends the request and never
/// reads; returns when the server resets the connection, with the time.
async fn stuck_client(addr: SocketAddr) -> Instant {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut stream = socket.connect(addr).await.expect("connect");
    stream
        .write_all(request("/events").as_bytes())
        .await
        .expect("request");
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        // A reset shows as a pending socket error, or fails the next write.
        if let Ok(Some(_)) = stream.take_error() {
            return Instant::now();
        }
        if stream.write_all(b"\n").await.is_err() {
            return Instant::now();
        }
    }
}

/// Reads the stream and counts the events (blank-line-terminated blocks
/// with `data:`), until `stop` events.
async fn normal_client(addr: SocketAddr, count: Arc<AtomicU64>, stop: u64) -> u64 {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(request("/events").as_bytes())
        .await
        .expect("request");
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry = Vec::new();
    let mut seen = 0u64;
    while seen < stop {
        let n = stream.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return seen; // ended early (checked by the caller)
        }
        carry.extend_from_slice(&buf[..n]);
        while let Some(i) = carry.windows(2).position(|w| w == b"\n\n") {
            if carry[..i].windows(5).any(|w| w == b"data:") {
                seen += 1;
                count.fetch_add(1, Ordering::Relaxed);
            }
            carry.drain(..i + 2);
        }
    }
    seen
}

async fn run(write_timeout: Duration, publish_for: Duration) {
    let limit = rlimit::increase_nofile_limit(4096).unwrap_or(0);
    assert!(
        limit >= 1000,
        "needs 1,000 open files; the limit is {limit}"
    );
    let broadcaster = Broadcaster::new(BroadcastConfig::default().id_prefix(""));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    // `RESSE_STUCK_NO_CAP=1` leaves the send buffers to the kernel's
    // autotuning, for comparison (the memory bound is then not checked).
    let no_cap = std::env::var_os("RESSE_STUCK_NO_CAP").is_some();
    let config = ServeConfig::new()
        .conn(ConnConfig::default().write_timeout(Some(write_timeout)))
        .send_buffer_size((!no_cap).then_some(DEFAULT_SEND_BUFFER_SIZE))
        .keep_alive(None);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, broadcaster.clone(), config, async move {
        let _ = stop_rx.await;
    }));
    let baseline = tcp_mem();

    let total = (RATE * publish_for.as_millis() as u64) / 1000;
    let count = Arc::new(AtomicU64::new(0));
    let normals: Vec<_> = (0..NORMAL)
        .map(|_| tokio::spawn(normal_client(addr, Arc::clone(&count), total)))
        .collect();
    let stuck: Vec<_> = (0..STUCK)
        .map(|_| tokio::spawn(stuck_client(addr)))
        .collect();
    while broadcaster.subscriber_count() < NORMAL + STUCK {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Publish RATE events per second; sample the kernel's TCP memory.
    let started = Instant::now();
    let data = "x".repeat(DATA_LEN);
    let mut peak = 0u64;
    let mut published = 0u64;
    let tick = Duration::from_millis(10);
    while published < total {
        let due = (started.elapsed().as_millis() as u64 * RATE / 1000).min(total);
        while published < due {
            broadcaster
                .publish(Event::new(data.as_str()))
                .expect("publish");
            published += 1;
        }
        if let (Some(now), Some(base)) = (tcp_mem(), baseline) {
            peak = peak.max(now.saturating_sub(base));
        }
        tokio::time::sleep(tick).await;
    }
    for normal in normals {
        tokio::time::timeout(Duration::from_secs(30), normal)
            .await
            .expect("normal clients finish")
            .expect("normal client");
    }
    if !no_cap {
        assert_eq!(
            count.load(Ordering::Relaxed),
            NORMAL as u64 * total,
            "every normal subscriber got every event"
        );
    }
    // Every stuck socket is reset; when. (Without the cap, they need not
    // be: the kernel may take in everything, and the write never blocks.)
    let mut resets = Vec::new();
    let deadline = tokio::time::Instant::now()
        + write_timeout
        + Duration::from_secs(if no_cap { 2 } else { 30 });
    for s in stuck {
        match tokio::time::timeout_at(deadline, s).await {
            Ok(at) => resets.push(at.expect("stuck client").saturating_duration_since(started)),
            Err(_) => assert!(no_cap, "every stuck socket is reset"),
        }
    }
    let reset_count = resets.len();
    if let (Some(now), Some(base)) = (tcp_mem(), baseline) {
        peak = peak.max(now.saturating_sub(base));
    }
    if no_cap {
        eprintln!(
            "without the cap: kernel TCP memory peak above baseline {} KiB; {reset_count}/{STUCK} \
             stuck sockets reset; normal subscribers got {}/{} events",
            peak / 1024,
            count.load(Ordering::Relaxed),
            NORMAL as u64 * total
        );
        let _ = stop_tx.send(());
        return;
    }
    // Keep sampling a little after (the peak may come late).
    if let (Some(now), Some(base)) = (tcp_mem(), baseline) {
        peak = peak.max(now.saturating_sub(base));
    }
    resets.sort();
    let latest = *resets.last().expect("some");
    let earliest = resets[0];
    // The sockets are full within a fraction of a second of the first
    // events (128 KiB + a 4 KiB window at 400 KB/s); then the write timeout
    // runs.
    let fill = Duration::from_millis(700);
    let bound = (STUCK as u64) * (DEFAULT_SEND_BUFFER_SIZE as u64 + 64 * 1024);
    eprintln!(
        "stuck clients: {STUCK} stuck + {NORMAL} normal, {RATE} events/s of {DATA_LEN} B for \
         {publish_for:?}; kernel TCP memory peak above baseline: {} KiB (bound {STUCK} x \
         ({} KiB cap + 64 KiB) = {} KiB); resets after {earliest:?} .. {latest:?} from the \
         first event (write timeout {write_timeout:?} + fill <= {fill:?} + 1 s); normal \
         subscribers got {}/{} events",
        peak / 1024,
        DEFAULT_SEND_BUFFER_SIZE / 1024,
        bound / 1024,
        count.load(Ordering::Relaxed),
        NORMAL as u64 * total,
    );
    if baseline.is_some() && !no_cap {
        assert!(peak <= bound, "kernel TCP memory {peak} > {bound}");
    }
    assert!(
        latest <= write_timeout + fill + Duration::from_secs(1),
        "a stuck socket was reset after {latest:?}"
    );
    assert!(
        earliest >= write_timeout,
        "reset before the write timeout: {earliest:?}"
    );
    let _ = stop_tx.send(());
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("shutdown")
        .expect("serve task")
        .expect("serve");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_clients_are_reset_and_pin_little_kernel_memory() {
    run(Duration::from_secs(3), Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "about 40 s: the default 30 s write timeout"]
async fn stuck_clients_with_the_default_write_timeout() {
    run(ConnConfig::DEFAULT_WRITE_TIMEOUT, Duration::from_secs(32)).await;
}
