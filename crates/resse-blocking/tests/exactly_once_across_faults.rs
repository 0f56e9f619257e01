//! Every event arrives once and in order through 100 random faults (cuts
//! mid-event and between events, stalls past the idle timeout, resets,
//! refused connections) injected by a proxy between client and server.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use resse_session::{Cause, SessionEvent};
use support::proxy::{Fault, FaultProxy};
use support::server::TestServer;
use support::{Rng, client, within};

const EVENTS: u64 = 2000;
const FAULTS: usize = 100;

fn plan(seed: u64) -> support::proxy::Plan {
    let mut rng = Rng::new(seed);
    Box::new(move |index| {
        if index >= FAULTS {
            return None;
        }
        let offset = rng.range(20, 300) as usize;
        Some(match rng.range(0, 5) {
            0 => Fault::CutMidEvent(offset),
            1 => Fault::CutBetweenEvents(offset),
            2 => Fault::Stall(offset),
            3 => Fault::Reset,
            _ => Fault::Refuse,
        })
    })
}

/// `cut`: the cause a cut connection reports on `path` (a chunked body cut
/// short is an I/O error; a close-delimited one ends mid-event).
fn run(path: &'static str, seed: u64, cut: Cause) {
    let started = Instant::now();
    let (ids, causes, faults, hits) = within(Duration::from_secs(30), move || {
        let server = Arc::new(TestServer::start());
        server.publish(100);
        server.publish_over_time(EVENTS - 100, 10, Duration::from_millis(1));
        let proxy = FaultProxy::start(server.addr(), plan(seed));
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
                    if id == EVENTS {
                        break;
                    }
                }
                SessionEvent::Reconnecting { cause, .. } => causes.push(cause),
                SessionEvent::Closed { reason } => panic!("closed: {reason}"),
                _ => {}
            }
        }
        (ids, causes, proxy.faults(), server.hits())
    });
    let expected: Vec<u64> = (1..=EVENTS).collect();
    assert!(
        ids == expected,
        "gap, duplicate or disorder: got {} ids",
        ids.len()
    );
    assert_eq!(faults.len(), FAULTS, "every planned fault was injected");
    for kind in [
        |f: &Fault| matches!(f, Fault::CutMidEvent(_)),
        |f: &Fault| matches!(f, Fault::CutBetweenEvents(_)),
        |f: &Fault| matches!(f, Fault::Stall(_)),
        |f: &Fault| matches!(f, Fault::Reset),
        |f: &Fault| matches!(f, Fault::Refuse),
    ] {
        assert!(
            faults.iter().any(kind),
            "a fault kind is missing: {faults:?}"
        );
    }
    for kind in [cut, Cause::IdleTimeout, Cause::ConnectFailed] {
        assert!(
            causes.contains(&kind),
            "no reconnection for {kind:?}: {causes:?}"
        );
    }
    // Each request resumed from an id no older than the previous one.
    let resumed: Vec<u64> = hits
        .iter()
        .map(|h| {
            h.last_event_id
                .as_deref()
                .map_or(0, |id| id.parse().unwrap())
        })
        .collect();
    assert!(resumed.windows(2).all(|w| w[0] <= w[1]), "{resumed:?}");
    eprintln!(
        "{path}: {} events, {} faults, {} requests in {:?}",
        ids.len(),
        faults.len(),
        hits.len(),
        started.elapsed()
    );
}

#[test]
fn chunked_stream_delivers_exactly_once_through_100_faults() {
    run("/chunked", 0x5eed_0001, Cause::Io);
}

#[test]
fn close_delimited_stream_delivers_exactly_once_through_100_faults() {
    run("/events", 0x5eed_0002, Cause::EndOfBodyMidEvent);
}
