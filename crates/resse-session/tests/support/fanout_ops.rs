//! Arbitrary bytes as a sequence of `Fanout` operations, with invariants:
//! shared by the fuzz target `fanout_ops` (fuzz/) and the stable test
//! `fanout_props.rs`.
//!
//! Each operation takes two bytes `(op, arg)`: `op % 8` picks publish
//! (data of `arg` bytes; an own id when `arg` is a multiple of 16, which may
//! be a duplicate), subscribe (`arg` picks the `Last-Event-ID`: none, a
//! published id, a bad one; and an identity among 4), poll and acknowledge,
//! poll without acknowledging, unsubscribe, targeted send, time forward
//! (`arg` seconds), close (only when `arg == 255`).
//!
//! Invariants: nothing panics; the ring stays within its limits; live
//! subscriber count matches; every subscriber gets the ring's events in
//! increasing publishing order with no gap and no duplicate, until its
//! stream ends; nothing comes after the end.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use bytes::BytesMut;
use resse_codec::{Decoder, Event, Frame};
use resse_session::{Fanout, FanoutConfig, ReplayConfig, Subscribe, SubscriberKey, Transmit};

struct Sub {
    key: SubscriberKey,
    decoder: Decoder,
    buf: BytesMut,
    /// Publishing order of the last ring event received.
    last: Option<usize>,
    ended: bool,
}

/// Runs the operations encoded in `data` and checks the invariants.
pub fn check_fanout_ops(data: &[u8]) {
    let mut now = Instant::now();
    let max_events = 8 + usize::from(data.first().copied().unwrap_or(0) % 32);
    let config = FanoutConfig::default()
        .replay(
            ReplayConfig::default()
                .max_events(max_events)
                .max_len(4096)
                .max_tombstones(16),
        )
        .max_lag_events(usize::from(data.get(1).copied().unwrap_or(4)))
        .max_lag_len(1024)
        .max_batch_len(200)
        .max_targeted_len(256)
        .retry(
            data.get(2)
                .is_some_and(|b| b % 2 == 0)
                .then_some(Duration::from_secs(1)),
        )
        .keep_alive(Some(resse_session::KeepAliveConfig::new(
            Duration::from_secs(3),
        )));
    let mut fanout = Fanout::new(config);
    // Publishing order of each id; the data carries the order too.
    let mut published: Vec<String> = Vec::new();
    let mut subs: Vec<Sub> = Vec::new();
    let mut wakeups = Vec::new();
    for pair in data.get(3..).unwrap_or_default().chunks(2) {
        let (op, arg) = (pair[0], pair.get(1).copied().unwrap_or(0));
        match op % 8 {
            0 => {
                let n = published.len();
                let mut event = Event::new(format!("{n} {}", "x".repeat(usize::from(arg))));
                if arg % 16 == 0 {
                    event = event.with_id(format!("own-{}", arg / 16));
                }
                if let Ok(id) = fanout.publish(now, event) {
                    published.push(id.to_string());
                }
            }
            1 => {
                let id = match arg % 4 {
                    0 => None,
                    1 | 2 if !published.is_empty() => {
                        Some(published[usize::from(arg) % published.len()].clone())
                    }
                    _ => Some(format!("bad-{arg}")),
                };
                let identity = (arg % 3 == 0).then(|| format!("c{}", arg % 4));
                let subscribed = fanout.subscribe(
                    now,
                    Subscribe::new()
                        .last_event_id(id.as_deref())
                        .identity(identity.as_deref())
                        .replay_kept_on_miss(arg % 5 == 0),
                );
                subs.push(Sub {
                    key: subscribed.key,
                    decoder: Decoder::new(),
                    buf: BytesMut::new(),
                    last: None,
                    ended: false,
                });
            }
            2 | 3 if !subs.is_empty() => {
                let n = usize::from(arg) % subs.len();
                poll(&mut fanout, now, &mut subs[n], op % 8 == 2);
            }
            4 if !subs.is_empty() => {
                let sub = subs.remove(usize::from(arg) % subs.len());
                fanout.unsubscribe(sub.key);
                assert_eq!(fanout.poll_transmit(now, sub.key), Transmit::Gone);
            }
            5 if !subs.is_empty() => {
                let key = subs[usize::from(arg) % subs.len()].key;
                let _ = fanout.send_to(key, &Event::new("targeted"));
            }
            6 => now += Duration::from_secs(u64::from(arg % 8)),
            7 if arg == 255 => fanout.close(),
            _ => {}
        }
        fanout.drain_wakeups(&mut wakeups);
        wakeups.clear();
        let stats = fanout.stats();
        assert!(stats.queued_events <= max_events, "{stats:?}");
        assert!(stats.replay_len <= 4096, "{stats:?}");
        let live = subs
            .iter()
            .filter(|s| fanout.end_reason(s.key).is_none())
            .count();
        assert_eq!(stats.subscribers, live);
    }
}

fn poll(fanout: &mut Fanout, now: Instant, sub: &mut Sub, ack: bool) {
    match fanout.poll_transmit(now, sub.key) {
        Transmit::Send(bytes) => {
            assert!(!sub.ended, "nothing after the end");
            assert!(!bytes.is_empty());
            sub.buf.extend_from_slice(&bytes);
            while let Ok(Some(frame)) = sub.decoder.decode(&mut sub.buf) {
                let Frame::Event(event) = frame else { continue };
                if event.event_type() != "message" || event.data() == "targeted" {
                    continue;
                }
                let n: usize = event
                    .data()
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("published data starts with its order");
                if let Some(last) = sub.last {
                    // The order counts accepted events only.
                    assert_eq!(n, last + 1, "no gap, no duplicate, no disorder");
                }
                sub.last = Some(n);
            }
            if ack {
                fanout.acknowledge(now, sub.key);
            }
        }
        Transmit::End(_) => sub.ended = true,
        Transmit::Wait => assert!(!sub.ended),
        Transmit::Gone => panic!("a live key is gone"),
    }
}
