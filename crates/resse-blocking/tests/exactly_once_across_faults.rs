//! Every event arrives once and in order through 200 random faults (cuts
//! mid-event and between events, stalls past the idle timeout, one byte at
//! a time throttling, resets, refused connections) injected by a proxy
//! between client and server while the server keeps publishing. The plan
//! and the proxy are the ones of the tokio client's suite
//! (`resse_testkit::fault::random_plan`).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use resse_session::{Cause, SessionEvent};
use resse_testkit::fault::{self, FaultProxy};
use resse_testkit::within;
use support::client;
use support::server::TestServer;

const FAULTS: usize = 200;
const MIN_EVENTS: u64 = 2000;

/// `cut`: the cause a cut connection reports on `path` (a chunked body cut
/// short is an I/O error; a close-delimited one ends mid-event).
fn run(path: &'static str, seed: u64, cut: Cause) {
    let started = Instant::now();
    let (ids, total, causes, faults, abandoned, requests, hits) =
        within(Duration::from_secs(60), move || {
            let server = Arc::new(TestServer::start());
            server.publish(100);
            let proxy = Arc::new(FaultProxy::start(
                server.addr(),
                fault::random_plan(seed, FAULTS),
            ));
            // The publisher: 10 events every millisecond until every planned
            // fault has had its connection and at least MIN_EVENTS are out. The
            // total is known before the last batch goes out.
            let published = Arc::new(AtomicU64::new(100));
            let finished = Arc::new(AtomicBool::new(false));
            let publisher = {
                let (server, proxy) = (Arc::clone(&server), Arc::clone(&proxy));
                let (published, finished) = (Arc::clone(&published), Arc::clone(&finished));
                std::thread::spawn(move || {
                    let mut n = 100;
                    loop {
                        let last = proxy.connections() > FAULTS && n + 10 >= MIN_EVENTS;
                        n += 10;
                        published.store(n, Ordering::SeqCst);
                        finished.store(last, Ordering::SeqCst);
                        server.publish(10);
                        if last {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                })
            };
            let mut client = client(&proxy.url(path), Duration::from_millis(100), seed)
                .build()
                .unwrap();
            let (mut ids, mut causes) = (Vec::new(), Vec::new());
            while let Some(event) = client.next_session_event() {
                match event {
                    SessionEvent::Event(e) => {
                        let id: u64 = e.last_event_id().parse().unwrap();
                        assert_eq!(e.data(), format!("event {id}"));
                        ids.push(id);
                        if finished.load(Ordering::SeqCst) && id >= published.load(Ordering::SeqCst)
                        {
                            break;
                        }
                    }
                    SessionEvent::Reconnecting { cause, .. } => causes.push(cause),
                    SessionEvent::Closed { reason } => panic!("closed: {reason}"),
                    _ => {}
                }
            }
            publisher.join().unwrap();
            drop(client);
            assert!(
                proxy.settle(Duration::from_secs(5)),
                "every planned connection has an outcome"
            );
            (
                ids,
                published.load(Ordering::SeqCst),
                causes,
                proxy.faults(),
                proxy.abandoned(),
                proxy.requests(),
                server.hits(),
            )
        });
    let expected: Vec<u64> = (1..=total).collect();
    assert!(
        ids == expected,
        "gap, duplicate or disorder: got {} ids of {total}",
        ids.len()
    );
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
    for kind in [cut, Cause::IdleTimeout, Cause::ConnectFailed] {
        assert!(
            causes.contains(&kind),
            "no reconnection for {kind:?}: {causes:?}"
        );
    }
    assert!(
        causes.len() >= faults.len(),
        "{} reconnections for {} faults",
        causes.len(),
        faults.len()
    );
    // Each request resumed from an id no older than the previous one, in
    // the order the client made its connections. (Not in the order the
    // server saw them: under load the proxy may forward the request of a
    // connection the client already gave up on after the next one.)
    let resumed: Vec<u64> = requests
        .iter()
        .map(|(_, head)| {
            head.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("last-event-id")
                        .then(|| v.trim().parse().unwrap())
                })
                .unwrap_or(0)
        })
        .collect();
    if let Some(i) = resumed.windows(2).position(|w| w[0] > w[1]) {
        panic!(
            "request {} resumed from {:?} after {:?} ({} requests)",
            i + 1,
            resumed[i + 1],
            &resumed[i.saturating_sub(3)..=i],
            resumed.len()
        );
    }
    eprintln!(
        "{path}: {} events, {} faults injected, {} abandoned, {} requests sent, {} served in {:?}",
        ids.len(),
        faults.len(),
        abandoned.len(),
        requests.len(),
        hits.len(),
        started.elapsed()
    );
}

#[test]
fn chunked_stream_delivers_exactly_once_through_200_faults() {
    run("/chunked", 0x5eed_0001, Cause::Io);
}

#[test]
fn close_delimited_stream_delivers_exactly_once_through_200_faults() {
    run("/events", 0x5eed_0002, Cause::EndOfBodyMidEvent);
}
