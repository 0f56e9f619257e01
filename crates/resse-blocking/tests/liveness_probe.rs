//! The liveness probe with the blocking client and the blocking server
//! (`ServerConfig::probe`): probes are answered on the right stream among
//! several identities (no probe timeout, even while the publisher pauses:
//! the probe checks the path, not the publisher); a server that does not
//! answer probes (its probe path is 404, keep-alives flow) is left with
//! `Cause::ProbeTimeout` exactly interval + timeout (+10%) after each
//! opening, the failed side request counting only at the deadline, and the
//! stream resumes exactly once each time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use resse_blocking::server::{
    Broadcaster, FanoutConfig, ProbeAnswer, Server, ServerConfig, ServerHandle,
};
use resse_blocking::{
    Cause, ClientBuilder, Event, KeepAliveConfig, ProbeConfig, ReconnectConfig, SessionEvent,
};

const INTERVAL: Duration = Duration::from_millis(600);
const TIMEOUT: Duration = Duration::from_millis(400);

fn start(probe: Option<ProbeAnswer>) -> (Broadcaster, ServerHandle) {
    let broadcaster = Broadcaster::new(
        FanoutConfig::default()
            .id_prefix("")
            .keep_alive(Some(KeepAliveConfig::new(Duration::from_millis(100)))),
    );
    let server = Server::bind(
        "127.0.0.1:0",
        broadcaster.clone(),
        ServerConfig::new().probe(probe).identity(|parts| {
            parts
                .uri
                .query()
                .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("client=")))
                .map(str::to_owned)
        }),
    )
    .expect("bind")
    .spawn()
    .expect("spawn");
    (broadcaster, server)
}

/// Publishes `0, 1, …` every 50 ms for `run`, pausing while `paused`.
fn publisher(
    broadcaster: &Broadcaster,
    run: Duration,
    paused: Arc<AtomicBool>,
) -> thread::JoinHandle<()> {
    let broadcaster = broadcaster.clone();
    thread::spawn(move || {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < run {
            thread::sleep(Duration::from_millis(50));
            if !paused.load(Ordering::SeqCst) {
                let _ = broadcaster.publish(Event::new(n.to_string()));
                n += 1;
            }
        }
    })
}

type Seen = (Vec<u64>, Vec<(Instant, Cause)>, Vec<Instant>);

/// A probing client of `/events?client=ID` for `run`: its event data, its
/// reconnections, and when each stream opened.
fn client(addr: SocketAddr, id: &'static str, run: Duration) -> thread::JoinHandle<Seen> {
    let url = format!("http://{addr}/events?client={id}");
    thread::spawn(move || {
        let mut client = ClientBuilder::new(url)
            .proxy_from_env(false)
            .seed(id.len() as u64)
            .idle_timeout(Some(Duration::from_secs(2)))
            .reconnect(
                ReconnectConfig::default()
                    .initial_delay(Duration::from_millis(50))
                    .max_delay(Duration::from_millis(200)),
            )
            .probe(Some(ProbeConfig::new(INTERVAL, TIMEOUT)))
            .build()
            .expect("client");
        let close = client.close_handle();
        thread::spawn(move || {
            thread::sleep(run);
            close.close();
        });
        let (mut data, mut reconnects, mut opens) = (Vec::new(), Vec::new(), Vec::new());
        for item in client.by_ref() {
            match item {
                SessionEvent::Event(e) => data.push(e.data().parse().expect("number")),
                SessionEvent::Reconnecting { cause, .. } => {
                    reconnects.push((Instant::now(), cause))
                }
                SessionEvent::Open => opens.push(Instant::now()),
                _ => {}
            }
        }
        (data, reconnects, opens)
    })
}

fn assert_exactly_once(data: &[u64]) {
    assert!(data.len() > 10, "{}", data.len());
    for pair in data.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "a gap or a duplicate: {pair:?}");
    }
}

#[test]
fn probes_are_answered_on_each_clients_own_stream() {
    let (broadcaster, server) = start(Some(ProbeAnswer::default()));
    let addr = server.addr();
    // A bad nonce: 400 with a reason.
    let mut raw = TcpStream::connect(addr).expect("connect");
    raw.write_all(b"POST /events/probe?client=a&nonce=%21 HTTP/1.1\r\nhost: x\r\n\r\n")
        .expect("write");
    let mut answer = String::new();
    let _ = raw.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("ASCII letters"), "{answer}");

    let paused = Arc::new(AtomicBool::new(false));
    let run = Duration::from_millis(4000);
    let publishing = publisher(&broadcaster, run, Arc::clone(&paused));
    let clients = ["a", "b", "c"].map(|id| client(addr, id, run));
    thread::sleep(Duration::from_millis(1500));
    paused.store(true, Ordering::SeqCst);
    thread::sleep(Duration::from_millis(1500));
    paused.store(false, Ordering::SeqCst);
    for c in clients {
        let (data, reconnects, _) = c.join().expect("client");
        assert!(reconnects.is_empty(), "{reconnects:?}");
        assert_exactly_once(&data);
    }
    publishing.join().expect("publisher");
    server.shutdown();
    broadcaster.close();
}

#[test]
fn unanswered_probes_end_each_stream_at_interval_plus_timeout() {
    // No probe endpoint: every side request gets 404, keep-alives flow.
    let (broadcaster, server) = start(None);
    let run = Duration::from_millis(4500);
    let publishing = publisher(&broadcaster, run, Arc::new(AtomicBool::new(false)));
    let (data, reconnects, opens) = client(server.addr(), "x", run).join().expect("client");
    assert!(reconnects.len() >= 2, "{reconnects:?}");
    let bound = (INTERVAL + TIMEOUT).mul_f64(1.1);
    for ((at, cause), opened) in reconnects.iter().zip(&opens) {
        assert_eq!(*cause, Cause::ProbeTimeout);
        let took = *at - *opened;
        eprintln!("probe timeout {took:?} after the stream opened");
        assert!(
            took >= INTERVAL + TIMEOUT,
            "not before the deadline: {took:?}"
        );
        assert!(took <= bound, "{took:?} > {bound:?}");
    }
    assert_exactly_once(&data);
    publishing.join().expect("publisher");
    server.shutdown();
    broadcaster.close();
}
