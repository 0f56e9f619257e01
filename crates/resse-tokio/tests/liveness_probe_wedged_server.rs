//! The end-to-end liveness probe over real sockets: a server whose
//! keep-alive comments keep flowing while its event path is wedged (the
//! publisher stops and probe answers stop). The idle watchdog alone never
//! fires; with the probe the client reconnects within interval + timeout
//! (+10%) and, once the path recovers, resumes exactly once from its
//! `Last-Event-ID`. Several clients with their own identities probe the
//! same server: each answer reaches its own client.
#![cfg(all(feature = "server", feature = "client"))]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Response, StatusCode};
use http_body_util::{Either, Full};
use resse_codec::Event;
use resse_tokio::client::{Cause, ClientBuilder, ProbeConfig, SessionEvent};
use resse_tokio::server::{
    BroadcastConfig, Broadcaster, ConnConfig, KeepAliveConfig, ProbeAnswer, SseBody, last_event_id,
    serve_connection,
};
use tokio::net::TcpListener;

const KEEP_ALIVE: Duration = Duration::from_millis(150);
const PUBLISH_EVERY: Duration = Duration::from_millis(50);
const INTERVAL: Duration = Duration::from_millis(1000);
const TIMEOUT: Duration = Duration::from_millis(500);

/// A server on 127.0.0.1: `/events?client=ID` streams (keep-alive every
/// 150 ms, whatever the wedge), `/events/probe` answers probes unless
/// wedged, and a publisher sends `0, 1, 2, …` every 50 ms unless wedged.
struct Wedgeable {
    addr: SocketAddr,
    wedged: Arc<AtomicBool>,
}

async fn server() -> Wedgeable {
    let broadcaster = Broadcaster::new(BroadcastConfig::default().id_prefix(""));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let wedged = Arc::new(AtomicBool::new(false));
    {
        let (broadcaster, wedged) = (broadcaster.clone(), Arc::clone(&wedged));
        tokio::spawn(async move {
            let mut n = 0u64;
            loop {
                tokio::time::sleep(PUBLISH_EVERY).await;
                if !wedged.load(Ordering::SeqCst) {
                    let _ = broadcaster.publish(Event::new(n.to_string()));
                    n += 1;
                }
            }
        });
    }
    {
        let wedged = Arc::clone(&wedged);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (broadcaster, wedged) = (broadcaster.clone(), Arc::clone(&wedged));
                tokio::spawn(async move {
                    let config = ConnConfig::default();
                    let _ = serve_connection(stream, &config, |request| async move {
                        let query = request.uri().query();
                        if request.uri().path() == "/events/probe" {
                            let status = if wedged.load(Ordering::SeqCst) {
                                // Wedged: accepted, never answered.
                                StatusCode::NO_CONTENT
                            } else {
                                match broadcaster.answer_probe(&ProbeAnswer::default(), query) {
                                    Ok(_) => StatusCode::NO_CONTENT,
                                    Err(e) => e.status(),
                                }
                            };
                            let mut response =
                                Response::new(Either::Right(Full::new(Bytes::new())));
                            *response.status_mut() = status;
                            return response;
                        }
                        let identity = query
                            .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("client=")))
                            .unwrap_or("anonymous")
                            .to_owned();
                        let subscription =
                            broadcaster.subscribe_as(identity, last_event_id(request.headers()));
                        SseBody::new(subscription)
                            .keep_alive(KeepAliveConfig::new(KEEP_ALIVE))
                            .into_response()
                            .map(Either::Left)
                    })
                    .await;
                });
            }
        });
    }
    Wedgeable { addr, wedged }
}

/// What a client saw: event data in order, and each reconnection's cause
/// with the instant it was reported.
#[derive(Default)]
struct Seen {
    data: Vec<u64>,
    reconnects: Vec<(Instant, Cause)>,
}

/// Runs a client until `until`, recording what it sees.
async fn run(builder: ClientBuilder, until: Instant) -> Seen {
    let mut client = builder.build().expect("client");
    let mut seen = Seen::default();
    let deadline = tokio::time::Instant::from_std(until);
    while let Ok(Some(item)) = tokio::time::timeout_at(deadline, client.next()).await {
        match item {
            SessionEvent::Event(e) => {
                assert_eq!(e.event_type(), "message", "probe answers are consumed");
                seen.data.push(e.data().parse().expect("a number"));
            }
            SessionEvent::Reconnecting { cause, .. } => {
                seen.reconnects.push((Instant::now(), cause))
            }
            SessionEvent::Closed { reason } => panic!("closed: {reason}"),
            _ => {}
        }
    }
    seen
}

fn builder(addr: SocketAddr, client: &str) -> ClientBuilder {
    ClientBuilder::new(format!("http://{addr}/events?client={client}"))
        .proxy_from_env(false)
        .seed(client.len() as u64)
        .idle_timeout(Some(Duration::from_secs(2)))
        .reconnect(
            resse_tokio::client::ReconnectConfig::default()
                .initial_delay(Duration::from_millis(50))
                .max_delay(Duration::from_millis(200)),
        )
}

/// Exactly once, in order: a run of consecutive numbers.
fn assert_exactly_once(data: &[u64]) {
    assert!(!data.is_empty());
    for pair in data.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "a gap or a duplicate: {pair:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idle_watchdog_alone_never_fires_on_a_wedged_server() {
    let server = server().await;
    let start = Instant::now();
    let wedge = {
        let wedged = Arc::clone(&server.wedged);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            wedged.store(true, Ordering::SeqCst);
            // Longer than the idle timeout (2 s): keep-alives hide it.
            tokio::time::sleep(Duration::from_millis(3000)).await;
            wedged.store(false, Ordering::SeqCst);
        })
    };
    let seen = run(
        builder(server.addr, "plain"),
        start + Duration::from_millis(4000),
    )
    .await;
    wedge.await.expect("wedge");
    assert!(seen.reconnects.is_empty(), "{:?}", seen.reconnects);
    assert_exactly_once(&seen.data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_detects_the_wedge_and_resumes_exactly_once() {
    let server = server().await;
    let start = Instant::now();
    let wedge_at = start + Duration::from_millis(1700);
    let wedge_for = (INTERVAL + TIMEOUT) * 2;
    let wedge = {
        let wedged = Arc::clone(&server.wedged);
        tokio::spawn(async move {
            tokio::time::sleep_until(tokio::time::Instant::from_std(wedge_at)).await;
            wedged.store(true, Ordering::SeqCst);
            tokio::time::sleep(wedge_for).await;
            wedged.store(false, Ordering::SeqCst);
        })
    };
    let until = wedge_at + wedge_for + Duration::from_millis(2500);
    let probe = || Some(ProbeConfig::new(INTERVAL, TIMEOUT));
    // Three clients, each with its own identity: each answer must reach
    // its own client, or that client would time out before the wedge.
    let runs = ["alice", "bob", "carol"].map(|id| {
        let builder = builder(server.addr, id).probe(probe());
        tokio::spawn(run(builder, until))
    });
    let mut detections = Vec::new();
    for run in runs {
        let seen = run.await.expect("client");
        let first = seen.reconnects.first().expect("a reconnection");
        assert_eq!(first.1, Cause::ProbeTimeout, "{:?}", seen.reconnects);
        assert!(first.0 >= wedge_at, "no probe timeout before the wedge");
        assert!(
            seen.reconnects
                .iter()
                .all(|(_, c)| *c == Cause::ProbeTimeout),
            "{:?}",
            seen.reconnects
        );
        detections.push(first.0 - wedge_at);
        assert_exactly_once(&seen.data);
        // It caught up after the wedge: events published after recovery.
        let per_second = 1000 / PUBLISH_EVERY.as_millis() as u64;
        assert!(
            *seen.data.last().expect("events") > per_second,
            "{:?}",
            seen.data.last()
        );
    }
    wedge.await.expect("wedge");
    let bound = (INTERVAL + TIMEOUT).mul_f64(1.1);
    eprintln!(
        "detection times {detections:?} (interval + timeout = {:?})",
        INTERVAL + TIMEOUT
    );
    for d in &detections {
        assert!(*d <= bound, "detected after {d:?}, more than {bound:?}");
    }
}

#[tokio::test]
async fn a_bad_probe_request_gets_400_with_a_reason() {
    let server = server().await;
    let response = reqwest::Client::new()
        .post(format!(
            "http://{}/events/probe?client=x&nonce=a%20b",
            server.addr
        ))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 400);
    let response = reqwest::Client::new()
        .post(format!(
            "http://{}/events/probe?client=nobody&nonce=ab",
            server.addr
        ))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 404);
}
