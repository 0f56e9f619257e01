//! A connection that goes silent is dropped after the idle timeout and the
//! client resumes from the last event id.

mod support;

use std::time::{Duration, Instant};

use resse_session::{Cause, SessionEvent};
use resse_testkit::fault::{Fault, FaultProxy};
use resse_testkit::within;
use support::client;
use support::server::TestServer;

#[test]
fn stalled_stream_reconnects_within_idle_timeout_and_resumes() {
    const IDLE: Duration = Duration::from_millis(200);
    const MARGIN: Duration = Duration::from_millis(300);
    let (gap, causes, ids, last_id, hits, faults) = within(Duration::from_secs(10), || {
        let server = TestServer::start();
        server.publish(10);
        // First connection: stall after the first event that ends at or after
        // 60 body bytes.
        let proxy = FaultProxy::start(
            server.addr(),
            Box::new(|i| (i == 0).then_some(Fault::Stall(60))),
        );
        let mut client = client(&proxy.url("/events"), IDLE, 7).build().unwrap();
        let (mut ids, mut causes) = (Vec::new(), Vec::new());
        let mut last_before_stall = None;
        let mut last_id_before_stall = None;
        let mut gap = None;
        while let Some(event) = client.next_session_event() {
            match event {
                SessionEvent::Event(e) => {
                    let id: u64 = e.last_event_id().parse().unwrap();
                    ids.push(id);
                    if causes.is_empty() {
                        last_before_stall = Some(Instant::now());
                        last_id_before_stall = Some(id);
                    } else if gap.is_none() {
                        gap = last_before_stall.map(|t| t.elapsed());
                    }
                    if id == 10 {
                        break;
                    }
                }
                SessionEvent::Reconnecting { cause, .. } => causes.push(cause),
                _ => {}
            }
        }
        (
            gap,
            causes,
            ids,
            last_id_before_stall,
            server.hits(),
            proxy.faults(),
        )
    });
    assert_eq!(faults, [Fault::Stall(60)]);
    assert_eq!(causes, [Cause::IdleTimeout]);
    assert_eq!(ids, (1..=10).collect::<Vec<_>>());
    let gap = gap.expect("events after the stall");
    assert!(gap >= IDLE, "dropped before the idle timeout: {gap:?}");
    assert!(gap < IDLE + MARGIN, "idle detection too late: {gap:?}");
    assert_eq!(hits.len(), 2);
    // The reconnection resumed from the last event received whole.
    let last_id = last_id.expect("events before the stall").to_string();
    assert_eq!(hits[1].last_event_id.as_deref(), Some(last_id.as_str()));
}
