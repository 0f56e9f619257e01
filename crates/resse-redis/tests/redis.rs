//! resse-redis against a real redis-server (started per test on 127.0.0.1).

mod support;

use std::time::Duration;

use resse_redis::{
    ErrorKind, Event, LinkState, LostReason, Notice, Position, ReadAfter, RedisConfig, RedisLog,
    TailFrom, TailItem, Targeted,
};
use support::{RedisServer, free_port, within};

fn config(server: &RedisServer) -> RedisConfig {
    RedisConfig::new(server.url())
        .tail_block(Duration::from_millis(200))
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .response_timeout(Duration::from_secs(1))
        .connect_timeout(Duration::from_secs(1))
}

async fn publish_n(log: &RedisLog, from: usize, n: usize) -> Vec<Position> {
    let mut out = Vec::new();
    for i in from..from + n {
        let e = Event::new(format!("event {i}")).with_event_type("tick");
        out.push(log.publish(&e).await.expect("publish"));
    }
    out
}

async fn next_item(tail: &mut resse_redis::Tail) -> TailItem {
    within(10, "tail item", tail.next())
        .await
        .expect("tail ended")
}

#[tokio::test]
async fn publish_assigns_consecutive_offsets_across_two_concurrent_publishers() {
    let server = RedisServer::start();
    let a = RedisLog::connect(config(&server)).await.unwrap();
    let b = RedisLog::connect(config(&server)).await.unwrap();
    let run = |log: RedisLog| {
        tokio::spawn(async move {
            let mut tasks = Vec::new();
            for i in 0..100 {
                let log = log.clone();
                tasks.push(tokio::spawn(async move {
                    log.publish(&Event::new(format!("{i}"))).await.unwrap()
                }));
            }
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        })
    };
    let (pa, pb) = within(10, "publishing", async {
        let (a, b) = (run(a.clone()), run(b.clone()));
        (a.await.unwrap(), b.await.unwrap())
    })
    .await;
    let epoch = pa[0].epoch().clone();
    let mut offsets: Vec<u64> = pa.iter().chain(&pb).map(Position::offset).collect();
    assert!(pa.iter().chain(&pb).all(|p| *p.epoch() == epoch));
    offsets.sort_unstable();
    assert_eq!(offsets, (1..=200).collect::<Vec<_>>());
    assert_eq!(a.head().await.unwrap(), Position::new(epoch, 200));
}

#[tokio::test]
async fn read_after_in_batches_returns_exactly_the_events_after_a_position() {
    let server = RedisServer::start();
    let log = RedisLog::connect(config(&server).max_read_batch(4))
        .await
        .unwrap();
    let positions = publish_n(&log, 1, 25).await;
    let mut at = positions[6].clone(); // event 7
    let mut got = Vec::new();
    let mut calls = 0;
    loop {
        calls += 1;
        // Asks for 100; the configured bound cuts it to 4.
        match log.read_after(&at, 100).await.unwrap() {
            ReadAfter::Events { events, head } => {
                assert_eq!(head, positions[24]);
                assert!(events.len() <= 4);
                let Some((last, _)) = events.last() else {
                    break;
                };
                at = last.clone();
                got.extend(events);
            }
            lost => panic!("{lost:?}"),
        }
    }
    assert_eq!(calls, 6, "18 events in batches of 4, then one empty read");
    let expected: Vec<_> = (8..=25).collect();
    let offsets: Vec<u64> = got.iter().map(|(p, _)| p.offset()).collect();
    assert_eq!(offsets, expected);
    for (p, e) in &got {
        assert_eq!(e.data(), format!("event {}", p.offset()));
        assert_eq!(e.event_type(), "tick");
        assert_eq!(e.id(), Some(p.to_string().as_str()));
        // The id on the wire parses back to the same position.
        assert_eq!(e.id().unwrap().parse::<Position>().unwrap(), *p);
    }
    // From before the first event.
    let start = Position::new(positions[0].epoch().clone(), 0);
    let ReadAfter::Events { events, .. } = log.read_after(&start, 2).await.unwrap() else {
        panic!("lost");
    };
    assert_eq!(
        events.iter().map(|(p, _)| p.offset()).collect::<Vec<_>>(),
        [1, 2]
    );
}

#[tokio::test]
async fn trimmed_position_is_lost_with_the_current_head() {
    let server = RedisServer::start();
    let log = RedisLog::connect(config(&server).max_len(5)).await.unwrap();
    let positions = publish_n(&log, 1, 10).await;
    let head = positions[9].clone();
    // Entries 6..=10 are kept: after 5 is still covered, after 4 is not.
    assert_eq!(
        log.read_after(&positions[3], 10).await.unwrap(),
        ReadAfter::Lost {
            reason: LostReason::Trimmed,
            head: head.clone()
        }
    );
    let ReadAfter::Events { events, .. } = log.read_after(&positions[4], 10).await.unwrap() else {
        panic!("lost");
    };
    assert_eq!(events.len(), 5);
    // A position past the head of the same epoch: Redis lost writes.
    let ahead = Position::new(head.epoch().clone(), 99);
    assert_eq!(
        log.read_after(&ahead, 10).await.unwrap(),
        ReadAfter::Lost {
            reason: LostReason::AheadOfLog,
            head
        }
    );
}

#[tokio::test]
async fn flushed_redis_is_lost_with_the_new_epoch_and_current_id() {
    let server = RedisServer::start();
    let log = RedisLog::connect(config(&server)).await.unwrap();
    let old = publish_n(&log, 1, 3).await;
    server.cmd(&redis::cmd("FLUSHALL"));
    let new = publish_n(&log, 1, 1).await;
    assert_ne!(
        new[0].epoch(),
        old[0].epoch(),
        "a flushed log gets a new epoch"
    );
    assert_eq!(new[0].offset(), 1);
    assert_eq!(
        log.read_after(&old[1], 10).await.unwrap(),
        ReadAfter::Lost {
            reason: LostReason::EpochChanged,
            head: new[0].clone()
        }
    );
}

#[tokio::test]
async fn tail_survives_a_redis_restart_with_persistence_without_gap_or_duplicate() {
    let mut server = RedisServer::start_with(true);
    let log = RedisLog::connect(config(&server)).await.unwrap();
    let mut tail = log.tail(TailFrom::Head);
    // The tail starts after the head it first sees: wait until it is up.
    let mut states = tail.watch_state();
    within(
        5,
        "tail connected",
        states.wait_for(LinkState::is_connected),
    )
    .await
    .unwrap();
    publish_n(&log, 1, 30).await;
    for i in 1..=15 {
        let TailItem::Event(p, _) = next_item(&mut tail).await else {
            panic!("lost")
        };
        assert_eq!(p.offset(), i);
    }
    // Restart Redis with its append-only file: the tail sees an error and
    // resumes from the last entry it yielded.
    server.stop();
    within(5, "tail notices", states.wait_for(|s| !s.is_connected()))
        .await
        .unwrap();
    let err = log.publish(&Event::new("while down")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    server.start_again();
    let mut published = 30;
    within(10, "publish after restart", async {
        while published < 60 {
            if log
                .publish(&Event::new(format!("event {}", published + 1)))
                .await
                .is_ok()
            {
                published += 1;
            } else {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    })
    .await;
    let mut epoch = None;
    for i in 16..=60 {
        match next_item(&mut tail).await {
            TailItem::Event(p, e) => {
                assert_eq!(p.offset(), i, "no gap, no duplicate");
                assert_eq!(e.data(), format!("event {i}"));
                assert_eq!(*epoch.get_or_insert(p.epoch().clone()), *p.epoch());
            }
            lost => panic!("{lost:?}"),
        }
    }
    assert!(tail.state().is_connected());
    assert!(log.state().is_connected());
}

#[tokio::test]
async fn tail_signals_a_flush_then_continues_after_the_new_head() {
    let server = RedisServer::start();
    let log = RedisLog::connect(config(&server)).await.unwrap();
    let old = publish_n(&log, 1, 3).await;
    let mut tail = log.tail(TailFrom::After(old[0].clone()));
    for i in 2..=3 {
        let TailItem::Event(p, _) = next_item(&mut tail).await else {
            panic!("lost")
        };
        assert_eq!(p.offset(), i);
    }
    server.cmd(&redis::cmd("FLUSHALL"));
    let TailItem::Lost { reason, resume } = next_item(&mut tail).await else {
        panic!("expected lost")
    };
    assert_eq!(reason, LostReason::EpochChanged);
    assert_ne!(resume.epoch(), old[0].epoch());
    let new = publish_n(&log, 1, 3).await;
    assert_eq!(*new[0].epoch(), *resume.epoch());
    // The flush was found while idle, before these publishes.
    assert_eq!(resume.offset(), 0);
    for p in &new {
        let expected = Event::new(format!("event {}", p.offset()))
            .with_event_type("tick")
            .with_id(p.to_string());
        assert_eq!(
            next_item(&mut tail).await,
            TailItem::Event(p.clone(), expected)
        );
    }
}

#[tokio::test]
async fn tail_from_a_trimmed_position_says_lost_then_reads_what_is_kept() {
    let server = RedisServer::start();
    let log = RedisLog::connect(config(&server).max_len(3)).await.unwrap();
    let positions = publish_n(&log, 1, 10).await;
    let mut tail = log.tail(TailFrom::After(positions[0].clone()));
    assert_eq!(
        next_item(&mut tail).await,
        TailItem::Lost {
            reason: LostReason::Trimmed,
            resume: positions[6].clone()
        }
    );
    for p in &positions[7..] {
        let TailItem::Event(got, _) = next_item(&mut tail).await else {
            panic!("lost")
        };
        assert_eq!(got, *p);
    }
}

#[tokio::test]
async fn corrupt_entries_are_errors_and_tail_skips_them_with_a_signal() {
    let server = RedisServer::start();
    let log = RedisLog::connect(config(&server)).await.unwrap();
    let positions = publish_n(&log, 1, 2).await;
    let stream = "resse:{events}:log";
    // Entry 3 without its data field, written behind the script's back, then
    // the counter moved on as a publish would have.
    server.cmd(
        redis::cmd("XADD")
            .arg(stream)
            .arg("3-0")
            .arg("e")
            .arg(positions[0].epoch().as_str()),
    );
    server.cmd(
        redis::cmd("HSET")
            .arg("resse:{events}:meta")
            .arg("offset")
            .arg(3),
    );
    let fourth = log.publish(&Event::new("fine")).await.unwrap();
    let err = log.read_after(&positions[1], 10).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupt);
    assert!(err.to_string().contains("no data field"), "{err}");
    let mut tail = log.tail(TailFrom::After(positions[1].clone()));
    let TailItem::Lost {
        reason: LostReason::Corrupt(_),
        resume,
    } = next_item(&mut tail).await
    else {
        panic!("expected corrupt");
    };
    assert_eq!(resume.offset(), 3);
    let TailItem::Event(p, e) = next_item(&mut tail).await else {
        panic!("lost")
    };
    assert_eq!((p, e.data()), (fourth, "fine"));
    // A meta hash with a bad epoch is an error too.
    server.cmd(
        redis::cmd("HSET")
            .arg("resse:{events}:meta")
            .arg("epoch")
            .arg("Not An Epoch"),
    );
    assert_eq!(log.head().await.unwrap_err().kind(), ErrorKind::Corrupt);
    assert_eq!(
        log.publish(&Event::new("x")).await.unwrap_err().kind(),
        ErrorKind::Corrupt
    );
}

#[tokio::test]
async fn identity_claim_on_node_b_supersedes_node_a() {
    let server = RedisServer::start();
    let a = RedisLog::connect(config(&server).node_id("node-a"))
        .await
        .unwrap();
    let b = RedisLog::connect(config(&server).node_id("node-b"))
        .await
        .unwrap();
    let (ids_a, mut notices_a) = a.identities();
    let (ids_b, _notices_b) = b.identities();
    let first = ids_a.claim("alice").await.unwrap();
    assert_eq!(first.superseded, None);
    assert_eq!(first.token.node_id(), "node-a");
    let second = ids_b.claim("alice").await.unwrap();
    assert_eq!(second.superseded, Some(first.token.clone()));
    assert_eq!(
        within(5, "notice on node A", notices_a.next()).await,
        Some(Notice::Superseded {
            identity: "alice".into(),
            token: first.token.clone()
        })
    );
    assert!(!ids_a.holds("alice", &first.token));
    // The older connection's release leaves the newer claim alone.
    assert!(!ids_a.release("alice", &first.token).await.unwrap());
    assert!(ids_b.holds("alice", &second.token));
    assert!(ids_b.release("alice", &second.token).await.unwrap());
}

#[tokio::test]
async fn targeted_send_reaches_the_holder_on_another_node() {
    let server = RedisServer::start();
    let a = RedisLog::connect(config(&server).node_id("node-a"))
        .await
        .unwrap();
    let b = RedisLog::connect(config(&server).node_id("node-b"))
        .await
        .unwrap();
    let (ids_a, _notices_a) = a.identities();
    let (ids_b, mut notices_b) = b.identities();
    let claim = ids_b.claim("bob").await.unwrap();
    within(
        5,
        "control channel",
        ids_b.watch_state().wait_for(LinkState::is_connected),
    )
    .await
    .unwrap();
    let probe = Event::new("are you there?\nline 2").with_event_type("probe");
    assert_eq!(
        ids_a.send_to("bob", &probe).await.unwrap(),
        Targeted::Delivered
    );
    assert_eq!(
        within(5, "targeted on node B", notices_b.next()).await,
        Some(Notice::Targeted {
            identity: "bob".into(),
            token: claim.token.clone(),
            event: probe.clone()
        })
    );
    assert_eq!(
        ids_a.send_to("nobody", &probe).await.unwrap(),
        Targeted::NotHeld
    );
    // A holder whose node no longer listens: the sender is told.
    drop(notices_b);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        ids_a.send_to("bob", &probe).await.unwrap(),
        Targeted::HolderUnreachable
    );
}

#[tokio::test]
async fn a_supersession_missed_while_the_control_channel_was_down_is_raised_after() {
    let mut server = RedisServer::start();
    let a = RedisLog::connect(config(&server).node_id("node-a"))
        .await
        .unwrap();
    let (ids_a, mut notices_a) = a.identities();
    let claim = ids_a.claim("carol").await.unwrap();
    within(
        5,
        "control channel",
        ids_a.watch_state().wait_for(LinkState::is_connected),
    )
    .await
    .unwrap();
    // Redis restarts empty (no persistence): the key is gone, so is the
    // claim; node A finds out when it resubscribes.
    server.kill();
    server.start_again();
    assert_eq!(
        within(10, "notice after reconnect", notices_a.next()).await,
        Some(Notice::Superseded {
            identity: "carol".into(),
            token: claim.token
        })
    );
}

#[tokio::test]
async fn publish_while_redis_is_down_is_a_clear_error() {
    let mut server = RedisServer::start();
    let log = RedisLog::connect(config(&server)).await.unwrap();
    log.publish(&Event::new("up")).await.unwrap();
    server.kill();
    let started = std::time::Instant::now();
    let err = log.publish(&Event::new("down")).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        err.to_string()
            .contains(&format!("127.0.0.1:{}", server.port())),
        "{err}"
    );
    assert!(
        matches!(log.state(), LinkState::Reconnecting { .. }),
        "{:?}",
        log.state()
    );
}

#[tokio::test]
async fn connect_to_nothing_is_a_clear_error_with_the_password_elided() {
    let port = free_port();
    let url = format!("redis://:sekrit@127.0.0.1:{port}/");
    let err = RedisLog::connect(RedisConfig::new(url)).await.unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.kind(), ErrorKind::Connect, "{msg}");
    assert!(
        msg.contains(&format!("redis://:***@127.0.0.1:{port}/")),
        "{msg}"
    );
    assert!(!msg.contains("sekrit"), "{msg}");
    // A bad setting is refused before connecting, and says what is accepted.
    let err = RedisLog::connect(RedisConfig::new("redis://127.0.0.1:1/").max_len(0))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("expected 1 to"), "{err}");
}
