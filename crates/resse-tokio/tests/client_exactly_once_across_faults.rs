//! The client receives exactly the published sequence — in order, nothing
//! missing, nothing twice — from a real resse server (Broadcaster +
//! SseBody on hyper) through a proxy that injects 200 random faults (cuts
//! mid-event and between events, stalls past the idle timeout, resets,
//! refusals, one-byte-at-a-time throttling), while a publisher keeps
//! publishing. The plan and the proxy (on its own threads) are the ones of
//! the blocking client's suite (`resse_testkit::fault::random_plan`).
#![cfg(all(feature = "client", feature = "server"))]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use resse_codec::Event;
use resse_heartbeat::KeepAliveConfig;
use resse_session::ReplayConfig;
use resse_testkit::fault::{self, FaultProxy};
use resse_tokio::client::SessionEvent;
use resse_tokio::server::{BroadcastConfig, Broadcaster, SseBody};
use support::server::{TestServer, boxed};
use support::{client, within};

const FAULTS: usize = 200;
const MIN_EVENTS: u64 = 4_000;

async fn exactly_once(seed: u64) {
    let broadcaster = Broadcaster::new(
        BroadcastConfig::default().replay(ReplayConfig::default().max_events(1_000_000)),
    );
    let b = broadcaster.clone();
    let server = TestServer::start(Arc::new(move |request| {
        let last = request
            .headers()
            .get("last-event-id")
            .and_then(|v| v.to_str().ok());
        let subscription = b.subscribe(last);
        SseBody::new(subscription)
            .keep_alive(KeepAliveConfig::new(Duration::from_millis(40)))
            .into_response()
            .map(boxed)
    }))
    .await;
    let proxy = Arc::new(FaultProxy::start(
        server.addr,
        fault::random_plan(seed, FAULTS),
    ));

    // Event 1 is out before the client starts, and the client resumes
    // from it: a client without a last event id cannot resume, so
    // "exactly once" is defined from there on.
    let genesis = broadcaster.publish(Event::new("event 1")).expect("publish");

    // The publisher: a few events every 2 ms, until every planned fault
    // has had its connection and at least MIN_EVENTS are out. The total is
    // known before the last batch goes out.
    let published = Arc::new(AtomicU64::new(1));
    let finished = Arc::new(AtomicBool::new(false));
    let publisher = {
        let (proxy, published, finished) = (proxy.clone(), published.clone(), finished.clone());
        tokio::spawn(async move {
            let mut n = 1u64;
            loop {
                let last = proxy.connections() > FAULTS && n + 4 >= MIN_EVENTS;
                published.store(n + 4, Ordering::SeqCst);
                finished.store(last, Ordering::SeqCst);
                for _ in 0..4 {
                    n += 1;
                    broadcaster
                        .publish(Event::new(format!("event {n}")))
                        .expect("publish");
                }
                if last {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    let mut client = client(&proxy.url("/events"), Duration::from_millis(150), seed)
        .last_event_id(genesis.as_str())
        .build()
        .unwrap();
    let mut received = Vec::new();
    let mut reconnects = 0;
    within(Duration::from_secs(90), async {
        while let Some(item) = client.next().await {
            match item {
                SessionEvent::Event(event) => {
                    received.push(event.data().to_owned());
                    // Stop at the last event published (or if more came
                    // than were published: the comparison below says why).
                    let total = published.load(Ordering::SeqCst);
                    if finished.load(Ordering::SeqCst)
                        && (event.data() == format!("event {total}")
                            || received.len() as u64 >= total)
                    {
                        break;
                    }
                }
                SessionEvent::Reconnecting { cause, delay, .. } => {
                    reconnects += 1;
                    if std::env::var_os("FAULTS_TRACE").is_some() {
                        eprintln!(
                            "reconnect {reconnects}: {cause} {delay:?}; received {}, published {}, connections {}, faults {:?}",
                            received.len(),
                            published.load(Ordering::SeqCst),
                            proxy.connections(),
                            proxy.faults().last()
                        );
                    }
                }
                SessionEvent::Closed { reason } => panic!("closed: {reason}"),
                other => {
                    if std::env::var_os("FAULTS_TRACE").is_some() && reconnects >= FAULTS {
                        eprintln!("{other:?}; received {}", received.len());
                    }
                }
            }
        }
    })
    .await;
    publisher.await.unwrap();
    let total = published.load(Ordering::SeqCst);
    let expected: Vec<String> = (2..=total).map(|n| format!("event {n}")).collect();
    // Compare the first difference, not 4,000 lines.
    if let Some(i) = (0..expected.len()).find(|&i| received.get(i) != Some(&expected[i])) {
        panic!(
            "first difference at {i}: got {:?}, want {:?} (received {}, published {total})",
            received.get(i),
            expected[i],
            received.len()
        );
    }
    assert_eq!(
        received.len(),
        expected.len(),
        "nothing after the last event"
    );
    drop(client);
    let settled = {
        let proxy = proxy.clone();
        tokio::task::spawn_blocking(move || proxy.settle(Duration::from_secs(5)))
            .await
            .unwrap()
    };
    assert!(settled, "every planned connection has an outcome");
    let (faults, abandoned) = (proxy.faults(), proxy.abandoned());
    // A planned fault is injected once its connection reaches the trigger;
    // one whose connection the client gave up on first (its idle timeout
    // under load, before a far offset) is abandoned. Each planned fault is
    // one or the other, and abandoning must stay the exception.
    assert_eq!(
        faults.len() + abandoned.len(),
        FAULTS,
        "every planned fault has an outcome"
    );
    assert!(
        abandoned.len() <= FAULTS / 20,
        "{} planned faults abandoned: {abandoned:?}",
        abandoned.len()
    );
    for kind in fault::KINDS {
        assert!(
            faults.iter().any(|f| f.kind() == kind),
            "{kind} was injected: {faults:?}"
        );
    }
    eprintln!(
        "{} events, {} faults injected, {} abandoned, {} connections, {reconnects} reconnections",
        received.len(),
        faults.len(),
        abandoned.len(),
        proxy.connections()
    );
    assert!(
        reconnects >= faults.len(),
        "{reconnects} reconnections for {} faults",
        faults.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_through_200_random_faults_while_publishing() {
    // `FAULTS_SEED=N` replays another fault plan (and `FAULTS_TRACE=1`
    // prints each reconnection).
    let seed = std::env::var("FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    exactly_once(seed).await;
}
