//! A silent connection is detected within the idle timeout + 10% and the
//! client resumes from the last complete event; `close()` and drop stop
//! everything promptly, leaving no task and no connection behind.
#![cfg(feature = "client")]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use resse_reconnect::Cause;
use resse_testkit::fault::{Fault, FaultProxy};
use resse_tokio::client::{CloseReason, SessionEvent};
use support::server::{TestServer, ticking};
use support::{client, within};

const TICK: Duration = Duration::from_millis(20);

async fn ticking_server() -> TestServer {
    TestServer::start(Arc::new(|request| ticking(&request, TICK))).await
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Waits (bounded) until `f` holds.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn idle_stall_is_detected_within_the_timeout_plus_ten_percent() {
    let server = ticking_server().await;
    let proxy = FaultProxy::start(
        server.addr,
        Box::new(|n| (n == 0).then_some(Fault::Stall(200))),
    );
    let idle = Duration::from_millis(500);
    let mut client = client(&proxy.url("/events"), idle, 1).build().unwrap();
    let mut last = None;
    let mut resumed_at = None;
    let mut stall = None;
    within(Duration::from_secs(10), async {
        while let Some(item) = client.next().await {
            match item {
                SessionEvent::Event(e) => {
                    let id: u64 = e.data().parse().unwrap();
                    if stall.is_some() {
                        resumed_at.get_or_insert(id);
                        if id >= resumed_at.unwrap() + 3 {
                            break;
                        }
                    } else {
                        last = Some((id, Instant::now()));
                    }
                }
                SessionEvent::Reconnecting { cause, .. } => {
                    assert_eq!(cause, Cause::IdleTimeout);
                    stall = Some(Instant::now());
                }
                _ => {}
            }
        }
    })
    .await;
    let (last_id, last_at) = last.expect("events before the stall");
    let detected = stall.expect("the stall was detected") - last_at;
    assert!(
        detected >= idle && detected <= idle + idle / 10,
        "detected {detected:?} after the last event, idle timeout {idle:?}"
    );
    assert_eq!(
        resumed_at,
        Some(last_id + 1),
        "resumed right after the last complete event"
    );
    assert_eq!(proxy.faults(), [Fault::Stall(200)]);
    let seen = server.seen();
    assert_eq!(seen[1].last_event_id, Some(last_id.to_string()));
}

#[tokio::test]
async fn close_from_another_task_stops_promptly_and_leaks_nothing() {
    let server = ticking_server().await;
    let proxy = FaultProxy::start(server.addr, Box::new(|_| None));
    let baseline = alive_tasks();
    let mut client = client(&proxy.url("/events"), Duration::from_secs(5), 2)
        .build()
        .unwrap();
    let handle = client.close_handle();
    let mut events = 0;
    let mut closed_after = None;
    let mut closer = None;
    within(Duration::from_secs(10), async {
        while let Some(item) = client.next().await {
            match item {
                SessionEvent::Event(_) => {
                    events += 1;
                    if events == 5 {
                        let handle = handle.clone();
                        closer = Some(tokio::spawn(async move {
                            let t = Instant::now();
                            handle.close();
                            t
                        }));
                    }
                }
                SessionEvent::Closed { reason } => {
                    assert_eq!(reason, CloseReason::Requested);
                    closed_after = Some(Instant::now());
                }
                _ => {}
            }
        }
    })
    .await;
    let asked = closer.unwrap().await.unwrap();
    let took = closed_after.expect("Closed is reported") - asked;
    assert!(took < Duration::from_millis(100), "close took {took:?}");
    assert!(client.next().await.is_none(), "the stream stays ended");
    drop(client);
    // The connection is gone at the proxy and at the server, and every task
    // started for it (hyper's connection tasks, the proxy's and the
    // server's) has ended.
    eventually("the proxy connection closing", || proxy.open() == 0).await;
    eventually("the server connection closing", || server.open() == 0).await;
    eventually("the tasks ending", || alive_tasks() == baseline).await;
}

#[tokio::test]
async fn drop_mid_stream_leaks_nothing() {
    let server = ticking_server().await;
    let proxy = FaultProxy::start(server.addr, Box::new(|_| None));
    let baseline = alive_tasks();
    for round in 0..5 {
        let mut client = client(&proxy.url("/events"), Duration::from_secs(5), round)
            .build()
            .unwrap();
        within(Duration::from_secs(5), async {
            let mut n = 0;
            while let Some(item) = client.next().await {
                if matches!(item, SessionEvent::Event(_)) {
                    n += 1;
                    if n == 3 {
                        break;
                    }
                }
            }
        })
        .await;
    }
    eventually("the proxy connections closing", || proxy.open() == 0).await;
    eventually("the server connections closing", || server.open() == 0).await;
    eventually("the tasks ending", || alive_tasks() == baseline).await;
    assert_eq!(proxy.connections(), 5);
}

#[tokio::test]
async fn close_interrupts_a_long_backoff_wait() {
    // Nothing listens on this port once the listener is dropped.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let policy = resse_testkit::fast_reconnect(4)
        .initial_delay(Duration::from_secs(30))
        .floor(Duration::from_secs(30))
        .max_delay(Duration::from_secs(30));
    let mut client = client(
        &format!("http://127.0.0.1:{port}/events"),
        Duration::from_secs(5),
        4,
    )
    .reconnect(policy)
    .seed(4)
    .build()
    .unwrap();
    let handle = client.close_handle();
    let events = within(Duration::from_secs(5), async {
        let mut all = Vec::new();
        while let Some(item) = client.next().await {
            if let SessionEvent::Reconnecting { cause, delay, .. } = &item {
                assert_eq!(*cause, Cause::ConnectFailed, "{:?}", client.last_error());
                assert!(*delay >= Duration::from_secs(30));
                let handle = handle.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    handle.close();
                });
            }
            all.push(item);
        }
        all
    })
    .await;
    assert!(matches!(
        events.last(),
        Some(SessionEvent::Closed {
            reason: CloseReason::Requested
        })
    ));
}
