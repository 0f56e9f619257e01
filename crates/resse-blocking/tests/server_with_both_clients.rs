//! The blocking server (a thread per connection over the sans-IO fan-out
//! core) with both resse clients: live events, replay from
//! `Last-Event-ID`, keep-alives, 404 elsewhere, quiet close of an empty
//! connection, supersession without flapping, and every event exactly once
//! through 200 random faults injected by the test kit's proxy.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use resse_blocking::server::{Broadcaster, FanoutConfig, ReplayConfig, Server, ServerConfig};
use resse_blocking::{Cause, CloseReason, Event, KeepAliveConfig, SessionEvent};
use resse_testkit::fault::{self, FaultProxy};
use resse_testkit::within;
use support::client;

fn start(config: FanoutConfig) -> (Broadcaster, resse_blocking::server::ServerHandle) {
    let broadcaster = Broadcaster::new(config.id_prefix(""));
    let server = Server::bind(
        "127.0.0.1:0",
        broadcaster.clone(),
        ServerConfig::new().identity(|parts| {
            parts
                .uri
                .query()
                .and_then(|q| q.strip_prefix("client="))
                .map(str::to_owned)
        }),
    )
    .expect("bind");
    (broadcaster, server.spawn().expect("spawn"))
}

fn raw(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("write");
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out);
    out
}

#[test]
fn live_replay_keep_alive_404_and_a_quiet_close() {
    within(Duration::from_secs(20), || {
        let (b, server) = start(
            FanoutConfig::default()
                .keep_alive(Some(KeepAliveConfig::new(Duration::from_millis(100)))),
        );
        let url = format!("http://{}/events", server.addr());
        for n in 1..=3 {
            b.publish(Event::new(format!("e{n}"))).expect("publish");
        }
        // Replay after 1, then live.
        let mut c = client(&url, Duration::from_secs(5), 1)
            .last_event_id("1")
            .build()
            .expect("client");
        let mut got = Vec::new();
        while got.len() < 3 {
            match c.next_session_event() {
                Some(SessionEvent::Event(e)) => got.push(e.data().to_owned()),
                Some(SessionEvent::Open) if got.is_empty() => {
                    b.publish(Event::new("e4")).expect("publish");
                }
                Some(_) => {}
                None => panic!("ended"),
            }
        }
        assert_eq!(got, ["e2", "e3", "e4"]);
        drop(c);

        // The head, and a keep-alive while idle.
        let mut s = TcpStream::connect(server.addr()).expect("connect");
        s.write_all(b"GET /events HTTP/1.1\r\nhost: x\r\n\r\n")
            .expect("write");
        s.set_read_timeout(Some(Duration::from_secs(5))).expect("t");
        let mut buf = vec![0; 4096];
        let mut text = String::new();
        while !text.contains(": keep-alive") {
            let n = s.read(&mut buf).expect("read");
            assert!(n > 0, "{text}");
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        for header in [
            "content-type: text/event-stream",
            "cache-control: no-store",
            "x-accel-buffering: no",
            "transfer-encoding: chunked",
        ] {
            assert!(text.contains(header), "{header}: {text}");
        }
        drop(s);

        assert!(
            raw(server.addr(), "GET /other HTTP/1.1\r\nhost: x\r\n\r\n")
                .starts_with("HTTP/1.1 404")
        );
        // A connection that sends nothing and closes gets nothing.
        assert_eq!(raw(server.addr(), ""), "");
        server.shutdown();
        b.close();
    });
}

#[test]
fn a_superseded_blocking_client_stops_and_the_newer_one_stays() {
    within(Duration::from_secs(20), || {
        let (b, server) = start(FanoutConfig::default());
        let url = format!("http://{}/events?client=alice", server.addr());
        let publisher = {
            let b = b.clone();
            std::thread::spawn(move || {
                while b.publish(Event::new("tick")).is_ok() {
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        let mut first = client(&url, Duration::from_secs(5), 2)
            .build()
            .expect("client");
        assert_eq!(
            first.next_event().expect("live").expect("event").data(),
            "tick"
        );
        let mut second = client(&url, Duration::from_secs(5), 3)
            .build()
            .expect("client");
        assert_eq!(
            second.next_event().expect("live").expect("event").data(),
            "tick"
        );
        let reason = loop {
            match first.next_session_event().expect("a close") {
                SessionEvent::Closed { reason } => break reason,
                SessionEvent::Reconnecting { cause, .. } => panic!("reconnects: {cause:?}"),
                _ => {}
            }
        };
        assert!(
            matches!(reason, CloseReason::ServerStop { .. }),
            "{reason:?}"
        );
        for _ in 0..20 {
            assert_eq!(
                second.next_event().expect("live").expect("event").data(),
                "tick"
            );
        }
        assert_eq!(b.stats().replaced, 1);
        b.close();
        publisher.join().expect("publisher");
        server.shutdown();
    });
}

const FAULTS: usize = 200;

/// A client run: (url, seed, publishing finished, last published id) →
/// (ids received, reconnection causes).
type Reader = fn(String, u64, Arc<AtomicBool>, Arc<AtomicU64>) -> (Vec<u64>, Vec<Cause>);
const MIN_EVENTS: u64 = 2000;

/// Runs the publisher and one client (`read`) through the fault proxy;
/// checks every event arrived once, in order.
fn exactly_once(seed: u64, read: Reader) {
    let started = Instant::now();
    let (ids, total, causes, faults) = within(Duration::from_secs(90), move || {
        let (b, server) = start(
            FanoutConfig::default().replay(
                ReplayConfig::default()
                    .max_events(1_000_000)
                    .max_len(1 << 30),
            ),
        );
        for _ in 0..100 {
            b.publish(Event::new("x")).expect("publish");
        }
        let proxy = Arc::new(FaultProxy::start(
            server.addr(),
            fault::random_plan(seed, FAULTS),
        ));
        let published = Arc::new(AtomicU64::new(100));
        let finished = Arc::new(AtomicBool::new(false));
        let publisher = {
            let (b, proxy) = (b.clone(), Arc::clone(&proxy));
            let (published, finished) = (Arc::clone(&published), Arc::clone(&finished));
            std::thread::spawn(move || {
                let mut n = 100;
                loop {
                    let last = proxy.connections() > FAULTS && n + 10 >= MIN_EVENTS;
                    published.store(n + 10, Ordering::SeqCst);
                    finished.store(last, Ordering::SeqCst);
                    for _ in 0..10 {
                        n += 1;
                        b.publish(Event::new(format!("event {n}")))
                            .expect("publish");
                    }
                    if last {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        };
        let (ids, causes) = read(proxy.url("/events"), seed, finished, Arc::clone(&published));
        publisher.join().expect("publisher");
        let _ = proxy.settle(Duration::from_secs(5));
        b.close();
        server.shutdown();
        (
            ids,
            published.load(Ordering::SeqCst),
            causes,
            proxy.faults(),
        )
    });
    // The client starts from `Last-Event-ID: 1`.
    let expected: Vec<u64> = (2..=total).collect();
    assert!(
        ids == expected,
        "gap, duplicate or disorder: got {} ids of {total}",
        ids.len()
    );
    assert!(
        faults.len() >= FAULTS * 9 / 10,
        "{} faults injected",
        faults.len()
    );
    assert!(
        causes.contains(&Cause::Io),
        "a cut chunked body is an I/O error: {causes:?}"
    );
    eprintln!(
        "{} events, {} faults, {} reconnections in {:?}",
        ids.len(),
        faults.len(),
        causes.len(),
        started.elapsed()
    );
}

fn check(e: &Event, ids: &mut Vec<u64>) -> u64 {
    let id: u64 = e.last_event_id().parse().expect("numeric id");
    if id > 100 {
        assert_eq!(e.data(), format!("event {id}"));
    }
    ids.push(id);
    id
}

fn blocking_client(
    url: String,
    seed: u64,
    finished: Arc<AtomicBool>,
    published: Arc<AtomicU64>,
) -> (Vec<u64>, Vec<Cause>) {
    let mut client = client(&url, Duration::from_millis(100), seed)
        .last_event_id("1")
        .build()
        .expect("client");
    let (mut ids, mut causes) = (Vec::new(), Vec::new());
    while let Some(event) = client.next_session_event() {
        match event {
            SessionEvent::Event(e) => {
                let id = check(&e, &mut ids);
                if finished.load(Ordering::SeqCst) && id >= published.load(Ordering::SeqCst) {
                    break;
                }
            }
            SessionEvent::Reconnecting { cause, .. } => causes.push(cause),
            SessionEvent::Closed { reason } => panic!("closed: {reason}"),
            _ => {}
        }
    }
    (ids, causes)
}

fn tokio_client(
    url: String,
    seed: u64,
    finished: Arc<AtomicBool>,
    published: Arc<AtomicU64>,
) -> (Vec<u64>, Vec<Cause>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let mut client = resse_tokio::client::ClientBuilder::new(url)
            .reconnect(resse_testkit::fast_reconnect(seed))
            .seed(seed)
            .idle_timeout(Some(Duration::from_millis(100)))
            .connect_timeout(Duration::from_secs(2))
            .proxy_from_env(false)
            .last_event_id("1")
            .build()
            .expect("client");
        let (mut ids, mut causes) = (Vec::new(), Vec::new());
        while let Some(event) = client.next_session_event().await {
            match event {
                SessionEvent::Event(e) => {
                    let id = check(&e, &mut ids);
                    if finished.load(Ordering::SeqCst) && id >= published.load(Ordering::SeqCst) {
                        break;
                    }
                }
                SessionEvent::Reconnecting { cause, .. } => causes.push(cause),
                SessionEvent::Closed { reason } => panic!("closed: {reason}"),
                _ => {}
            }
        }
        (ids, causes)
    })
}

#[test]
fn the_blocking_client_gets_every_event_once_through_200_faults() {
    exactly_once(0x5eed_0101, blocking_client);
}

#[test]
fn the_tokio_client_gets_every_event_once_through_200_faults() {
    exactly_once(0x5eed_0102, tokio_client);
}
