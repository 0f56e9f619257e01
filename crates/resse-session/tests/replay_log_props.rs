//! Property tests of `ReplayLog`: answers are exactly-once and ordered, and
//! memory is bounded by event count and bytes.

use bytes::Bytes;
use proptest::prelude::*;
use resse_session::{PushError, Replay, ReplayConfig, ReplayLog};

#[derive(Clone, Debug)]
enum Op {
    /// Publish a new event with a fresh id and this many bytes.
    Push(usize),
    /// Publish with an id already used (the n-th published, modulo).
    PushDuplicate(usize),
    PushEmptyId,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..40).prop_map(Op::Push),
        1 => (0usize..40).prop_map(Op::Push).prop_map(|o| match o { Op::Push(n) => Op::Push(n * 4), o => o }),
        1 => any::<usize>().prop_map(Op::PushDuplicate),
        1 => Just(Op::PushEmptyId),
    ]
}

/// Ids that are not numbers and not ordered: exercise "any string".
fn id_of(n: usize) -> String {
    format!(
        "{:x}-{}",
        (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40,
        n
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn replay_is_exactly_once_in_order_and_bounded(
        max_events in 0usize..12,
        max_len in 0usize..200,
        max_tombstones in 0usize..8,
        ops in proptest::collection::vec(op(), 0..120),
    ) {
        let config = ReplayConfig::default()
            .max_events(max_events)
            .max_len(max_len)
            .max_tombstones(max_tombstones);
        let mut log = ReplayLog::new(config);
        // The model: everything published (id, bytes), and where the log's
        // memory starts (after the last entry too large to keep).
        let mut published: Vec<(String, Bytes)> = Vec::new();
        let mut epoch = 0;
        for op in ops {
            match op {
                Op::Push(len) => {
                    let n = published.len();
                    let id = id_of(n);
                    let bytes = Bytes::from(vec![b'a' + (n % 26) as u8; len]);
                    prop_assert_eq!(log.push(id.as_str(), bytes.clone()), Ok(()));
                    if id.len() + len > max_len || max_events == 0 {
                        epoch = n + 1;
                    }
                    published.push((id, bytes));
                }
                Op::PushDuplicate(i) if !published.is_empty() => {
                    let (id, _) = &published[i % published.len()];
                    let before = log.len();
                    let exact = log.events_after(id).is_exact();
                    let r = log.push(id.as_str(), Bytes::new());
                    // Refused while the log can answer exactly after the id.
                    if exact {
                        prop_assert_eq!(r, Err(PushError::DuplicateId(id.as_str().into())));
                        prop_assert_eq!(log.len(), before);
                    } else if r.is_ok() {
                        // Accepted: the id is reused for a new event.
                        let n = published.len();
                        if id.len() > max_len || max_events == 0 {
                            epoch = n + 1;
                        }
                        let id = id.clone();
                        // Earlier entries with this id can no longer be
                        // answered after: drop them from the model's keys.
                        for p in published.iter_mut() {
                            if p.0 == id {
                                p.0 = format!("reused:{}", p.0);
                            }
                        }
                        published.push((id, Bytes::new()));
                    }
                }
                Op::PushDuplicate(_) => {}
                Op::PushEmptyId => {
                    prop_assert_eq!(log.push("", Bytes::new()), Err(PushError::EmptyId));
                }
            }

            // Bounded memory.
            prop_assert!(log.len() <= max_events);
            prop_assert!(log.byte_len() <= max_len);
            // The log keeps the longest suffix (since the epoch) that fits.
            let mut keep = 0;
            let mut bytes = 0;
            for (id, b) in published[epoch..].iter().rev() {
                if keep + 1 > max_events || bytes + id.len() + b.len() > max_len {
                    break;
                }
                keep += 1;
                bytes += id.len() + b.len();
            }
            prop_assert_eq!(log.len(), keep);
            prop_assert_eq!(log.byte_len(), bytes);
            let kept: Vec<(String, Bytes)> =
                log.iter().map(|e| (e.id().to_string(), e.bytes().clone())).collect();
            prop_assert_eq!(&kept[..], &published[published.len() - keep..]);

            // Every published id (queried after every operation): exactly
            // the events after it, in order, once; or an explicit refusal
            // when some of them are gone.
            let first_kept = published.len() - keep;
            for (i, (id, _)) in published.iter().enumerate() {
                if id.starts_with("reused:") {
                    continue;
                }
                match log.events_after(id) {
                    Replay::Events(events) => {
                        prop_assert!(i + 1 >= first_kept, "exact answer for {id} though events are gone");
                        let got: Vec<(String, Bytes)> =
                            events.map(|e| (e.id().to_string(), e.bytes().clone())).collect();
                        prop_assert_eq!(&got[..], &published[i + 1..]);
                    }
                    Replay::TooOld | Replay::Unknown => {
                        prop_assert!(i + 1 < first_kept, "no answer for {id} though all is kept");
                    }
                }
            }
            prop_assert!(matches!(log.events_after("never-published"), Replay::Unknown));
        }
    }

    #[test]
    fn evicted_ids_are_too_old_while_remembered(
        total in 1usize..60,
        max_events in 1usize..10,
        max_tombstones in 0usize..20,
    ) {
        let mut log = ReplayLog::new(
            ReplayConfig::default().max_events(max_events).max_tombstones(max_tombstones),
        );
        for n in 0..total {
            log.push(id_of(n), Bytes::from_static(b"data: x\n\n")).expect("fresh ids");
        }
        let kept = total.min(max_events);
        let evicted = total - kept;
        for n in 0..total {
            let answer = log.events_after(&id_of(n));
            if n + 1 >= evicted {
                // Kept, or the newest evicted one: exact.
                prop_assert_eq!(answer.event_count(), Some(total - n - 1));
            } else if evicted - 1 - n <= max_tombstones {
                prop_assert!(matches!(answer, Replay::TooOld), "{n}: {answer:?}");
            } else {
                prop_assert!(matches!(answer, Replay::Unknown), "{n}: {answer:?}");
            }
        }
    }
}
