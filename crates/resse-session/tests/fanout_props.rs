//! The fan-out core under random operation sequences: every subscriber sees
//! exactly the published sequence from its resume point (or a documented
//! `TooOld` / `Unknown` / end), targeted events in order, memory bounded by
//! the configured limits, and a subscriber that keeps up is never cut off.

mod support;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use proptest::prelude::*;
use resse_codec::{Decoder, Event, Frame};
use resse_session::{
    EndReason, Fanout, FanoutConfig, ReplayConfig, ReplayOutcome, Subscribe, SubscriberKey,
    Transmit,
};

#[derive(Clone, Debug)]
enum Op {
    Publish(usize),
    Subscribe {
        resume: Option<usize>,
        identity: Option<u8>,
        kept: bool,
    },
    Poll {
        sub: usize,
        ack: bool,
    },
    Drop(usize),
    SendTo(usize),
    Tick(u64),
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        24 => (0usize..200).prop_map(Op::Publish),
        8 => (proptest::option::of(0usize..1000), proptest::option::of(0u8..3), any::<bool>())
            .prop_map(|(resume, identity, kept)| Op::Subscribe { resume, identity, kept }),
        24 => (0usize..16, any::<bool>()).prop_map(|(sub, ack)| Op::Poll { sub, ack }),
        4 => (0usize..16).prop_map(Op::Drop),
        4 => (0usize..16).prop_map(Op::SendTo),
        4 => (0u64..20).prop_map(Op::Tick),
        1 => Just(Op::Close),
    ]
}

struct Sub {
    key: SubscriberKey,
    /// Global sequence of the next published event it must get.
    next: usize,
    /// Targeted events sent to it: (number, sequence it goes before).
    targeted: VecDeque<(usize, usize)>,
    decoder: Decoder,
    buf: BytesMut,
    ended: Option<EndReason>,
    superseded_seen: bool,
    /// Polled and acknowledged after every publish: must never lag.
    diligent: bool,
}

const MAX_EVENTS: usize = 16;
const MAX_LAG: usize = 6;
const MAX_TARGETED: usize = 200;

fn run(ops: Vec<Op>, retry: bool) -> Result<(), TestCaseError> {
    let mut now = Instant::now();
    let config = FanoutConfig::default()
        .replay(
            ReplayConfig::default()
                .max_events(MAX_EVENTS)
                .max_len(8 * 1024),
        )
        .max_lag_events(MAX_LAG)
        .max_lag_len(2 * 1024)
        .max_batch_len(300)
        .max_targeted_len(MAX_TARGETED)
        .retry(retry.then_some(Duration::from_millis(1500)))
        .keep_alive(Some(resse_session::KeepAliveConfig::new(
            Duration::from_secs(5),
        )));
    let mut fanout = Fanout::new(config);
    let mut published: Vec<String> = Vec::new();
    let mut subs: Vec<Sub> = Vec::new();
    let mut targeted_no = 0usize;
    let mut closed = false;
    // A diligent subscriber, present from the start.
    let key = fanout.subscribe(now, Subscribe::new()).key;
    subs.push(Sub {
        key,
        next: 0,
        targeted: VecDeque::new(),
        decoder: Decoder::new(),
        buf: BytesMut::new(),
        ended: None,
        superseded_seen: false,
        diligent: true,
    });
    let mut wakeups = Vec::new();

    for op in ops {
        match op {
            Op::Publish(len) => {
                let seq = published.len();
                let data = format!("p{seq} {}", "x".repeat(len));
                match fanout.publish(now, Event::new(data)) {
                    Ok(id) => {
                        prop_assert!(!closed);
                        prop_assert_eq!(id.as_str(), (seq + 1).to_string());
                        published.push(id.to_string());
                    }
                    Err(_) => prop_assert!(closed),
                }
                // The diligent subscriber keeps up.
                for sub in subs.iter_mut().filter(|s| s.diligent) {
                    drain(&mut fanout, now, sub, &published, true)?;
                }
            }
            Op::Subscribe {
                resume,
                identity,
                kept,
            } => {
                let identity_s = identity.map(|n| format!("client-{n}"));
                let resume_id = resume.map(|n| {
                    if n % 7 == 6 || published.is_empty() {
                        format!("unknown-{n}")
                    } else {
                        published[n % published.len()].clone()
                    }
                });
                let before = fanout.identity_key(identity_s.as_deref().unwrap_or("-"));
                let subscribed = fanout.subscribe(
                    now,
                    Subscribe::new()
                        .last_event_id(resume_id.as_deref())
                        .identity(identity_s.as_deref())
                        .replay_kept_on_miss(kept),
                );
                prop_assert_eq!(subscribed.superseded, if closed { None } else { before });
                let head = published.len();
                let kept_from = head.saturating_sub(MAX_EVENTS);
                let next = match (subscribed.outcome, &resume_id) {
                    (ReplayOutcome::New, _) => {
                        prop_assert!(resume_id.is_none() || closed);
                        head
                    }
                    (ReplayOutcome::Exact { replayed }, Some(id)) => {
                        let i = published.iter().position(|p| p == id);
                        prop_assert_eq!(i.map(|i| i + 1), Some(head - replayed));
                        head - replayed
                    }
                    (ReplayOutcome::TooOld { replayed }, Some(id)) => {
                        let i = published.iter().position(|p| p == id);
                        // Evicted: older than the newest evicted event.
                        prop_assert!(i.is_some_and(|i| i + 1 < kept_from), "{:?}", i);
                        if kept {
                            kept_from.max(head - replayed)
                        } else {
                            head
                        }
                    }
                    (ReplayOutcome::Unknown { replayed }, Some(id)) => {
                        let i = published.iter().position(|p| p == id);
                        prop_assert!(i.is_none_or(|i| i + 1 < kept_from), "{:?}", i);
                        if kept { head - replayed } else { head }
                    }
                    (outcome, _) => {
                        return Err(TestCaseError::fail(format!("{outcome:?} without an id")));
                    }
                };
                if !kept {
                    prop_assert!(
                        subscribed.outcome.is_exact() || subscribed.outcome.replayed() == 0
                    );
                }
                subs.push(Sub {
                    key: subscribed.key,
                    next,
                    targeted: VecDeque::new(),
                    decoder: Decoder::new(),
                    buf: BytesMut::new(),
                    ended: None,
                    superseded_seen: false,
                    diligent: false,
                });
            }
            Op::Poll { sub, ack } => {
                if let Some(n) = (!subs.is_empty()).then(|| sub % subs.len()) {
                    drain(&mut fanout, now, &mut subs[n], &published, ack)?;
                }
            }
            Op::Drop(sub) => {
                if subs.len() > 1 {
                    let n = 1 + sub % (subs.len() - 1);
                    let gone = subs.remove(n);
                    fanout.unsubscribe(gone.key);
                    prop_assert_eq!(fanout.poll_transmit(now, gone.key), Transmit::Gone);
                }
            }
            Op::SendTo(sub) => {
                let n = sub % subs.len();
                let data = format!("t{targeted_no}");
                match fanout.send_to(subs[n].key, &Event::new(data)) {
                    Ok(()) => {
                        subs[n].targeted.push_back((targeted_no, published.len()));
                        targeted_no += 1;
                    }
                    Err(e) => {
                        let full = subs[n].targeted.len() * 10 >= MAX_TARGETED - 20;
                        let ended = fanout.end_reason(subs[n].key).is_some();
                        prop_assert!(full || ended, "{e}");
                    }
                }
            }
            Op::Tick(secs) => now += Duration::from_secs(secs),
            Op::Close => {
                fanout.close();
                closed = true;
            }
        }
        fanout.drain_wakeups(&mut wakeups);
        wakeups.clear();
        // Memory stays within the limits.
        let stats = fanout.stats();
        prop_assert!(stats.queued_events <= MAX_EVENTS, "{stats:?}");
        prop_assert!(stats.replay_len <= 8 * 1024, "{stats:?}");
        let live = subs
            .iter()
            .filter(|s| fanout.end_reason(s.key).is_none())
            .count();
        prop_assert_eq!(stats.subscribers, live);
    }
    // Drain everyone: each ends as documented or is caught up.
    for sub in &mut subs {
        drain(&mut fanout, now, sub, &published, true)?;
        if sub.diligent {
            prop_assert!(
                matches!(sub.ended, None | Some(EndReason::Closed)),
                "a subscriber that keeps up was cut: {:?}",
                sub.ended
            );
        }
        match sub.ended {
            None | Some(EndReason::Closed) => prop_assert_eq!(sub.next, published.len()),
            Some(EndReason::Replaced) => prop_assert!(sub.superseded_seen),
            Some(_) => {}
        }
    }
    Ok(())
}

/// Polls `sub` until it waits or ends, checking every byte it gets.
fn drain(
    fanout: &mut Fanout,
    now: Instant,
    sub: &mut Sub,
    published: &[String],
    ack: bool,
) -> Result<(), TestCaseError> {
    for _ in 0..1000 {
        if sub.ended.is_some() {
            return Ok(());
        }
        match fanout.poll_transmit(now, sub.key) {
            Transmit::Send(bytes) => {
                prop_assert!(!sub.superseded_seen, "nothing after the superseded event");
                sub.buf.extend_from_slice(&bytes);
                while let Some(frame) = sub.decoder.decode(&mut sub.buf).expect("valid") {
                    let Frame::Event(event) = frame else { continue };
                    if event.event_type() == "superseded" {
                        sub.superseded_seen = true;
                        continue;
                    }
                    let data = event.data();
                    if let Some(rest) = data.strip_prefix('p') {
                        let seq: usize = rest.split(' ').next().unwrap_or("").parse().expect("n");
                        prop_assert_eq!(seq, sub.next, "no gap, no duplicate");
                        prop_assert_eq!(event.last_event_id(), published[seq].as_str());
                        // No targeted event was due before this one.
                        prop_assert!(sub.targeted.front().is_none_or(|&(_, before)| before > seq));
                        sub.next += 1;
                    } else if let Some(rest) = data.strip_prefix('t') {
                        let n: usize = rest.parse().expect("n");
                        let (want, before) = sub.targeted.pop_front().expect("one was sent");
                        prop_assert_eq!(n, want, "targeted events in order");
                        prop_assert!(before <= sub.next, "after the events published before it");
                    }
                }
                prop_assert!(sub.buf.is_empty() || !bytes.is_empty());
                if ack {
                    fanout.acknowledge(now, sub.key);
                } else {
                    return Ok(());
                }
            }
            Transmit::Wait => return Ok(()),
            Transmit::End(reason) => {
                if reason == EndReason::Replaced {
                    prop_assert!(sub.superseded_seen, "the superseded event comes first");
                }
                sub.ended = Some(reason);
            }
            Transmit::Gone => return Err(TestCaseError::fail("a live key is gone")),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_subscriber_sees_the_published_sequence(
        ops in proptest::collection::vec(op(), 1..200),
        retry in any::<bool>(),
    ) {
        run(ops, retry)?;
    }
}

#[test]
fn two_clients_with_the_same_identity_do_not_flap() {
    // Two clients with one identity. Each stops on the superseded event (as
    // resse's clients do) instead of reconnecting: the newer one stays.
    let now = Instant::now();
    let mut fanout = Fanout::new(FanoutConfig::default().keep_alive(None));
    let first = fanout
        .subscribe(now, Subscribe::new().identity(Some("alice")))
        .key;
    let second = fanout.subscribe(now, Subscribe::new().identity(Some("alice")));
    assert_eq!(second.superseded, Some(first));
    let Transmit::Send(bytes) = fanout.poll_transmit(now, first) else {
        panic!("the superseded event")
    };
    assert!(bytes.starts_with(b"event: superseded\ndata: "));
    assert_eq!(
        fanout.poll_transmit(now, first),
        Transmit::End(EndReason::Replaced)
    );
    fanout.unsubscribe(first);
    // The first client stops: nothing more happens, however long.
    for _ in 0..10 {
        fanout.publish(now, Event::new("x")).expect("publish");
        let Transmit::Send(_) = fanout.poll_transmit(now, second.key) else {
            panic!("the second one stays live")
        };
        fanout.acknowledge(now, second.key);
    }
    assert_eq!(fanout.stats().replaced, 1);
    assert_eq!(fanout.subscriber_count(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The fuzz target's mapping (`fuzz/fuzz_targets/fanout_ops.rs`), on
    /// random bytes.
    #[test]
    fn fanout_ops_from_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        support::fanout_ops::check_fanout_ops(&data);
    }
}
