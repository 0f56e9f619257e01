//! Subscribing with `Last-Event-ID: N` while another thread keeps
//! publishing yields exactly N+1, N+2, … in order: no gap and no duplicate
//! where the replay meets the live feed.
#![cfg(feature = "server")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use futures_util::StreamExt;
use resse_codec::{Decoder, Event, Frame};
use resse_session::ReplayConfig;
use resse_tokio::server::{BroadcastConfig, Broadcaster, ReplayOutcome, Subscription};

/// Events per round; the queue and the log hold them all, so that no
/// subscriber can lag or miss the log and every answer must be exact.
const EVENTS: u64 = 20_000;
const ROUNDS: u64 = 10;
const SUBSCRIBERS: u64 = 24;

/// Reads a subscription to its end; returns the ids as numbers.
async fn read_all(mut sub: Subscription) -> Vec<u64> {
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::new();
    let mut ids = Vec::new();
    while let Some(item) = sub.next().await {
        buf.extend_from_slice(&item);
        while let Some(frame) = decoder.decode(&mut buf).expect("valid stream") {
            if let Frame::Event(e) = frame {
                let id: u64 = e.last_event_id().parse().expect("numeric id");
                assert_eq!(e.data(), format!("event {id}"), "id and data match");
                ids.push(id);
            }
        }
    }
    assert!(buf.is_empty(), "items hold whole events");
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_while_another_thread_publishes_has_no_gap_and_no_duplicate() {
    let events = usize::try_from(EVENTS).expect("fits");
    let mut races = 0;
    for round in 0..ROUNDS {
        let config = BroadcastConfig::default()
            .id_prefix("")
            .capacity(events)
            .max_queued_len(usize::MAX)
            .replay(
                ReplayConfig::default()
                    .max_events(events)
                    .max_len(usize::MAX),
            );
        let broadcaster = Broadcaster::new(config);
        let published = Arc::new(AtomicU64::new(0));
        let subscribed = Arc::new(AtomicU64::new(0));

        // Subscribers wait for different points of the run, then subscribe
        // with the newest id they saw (resume) or none (new subscriber).
        let mut readers = Vec::new();
        for k in 0..SUBSCRIBERS {
            let (b, published, subscribed) =
                (broadcaster.clone(), published.clone(), subscribed.clone());
            readers.push(tokio::spawn(async move {
                let at = 1 + (k * 7919 + round * 131) % (EVENTS - 100);
                let mut seen = published.load(Ordering::Acquire);
                while seen < at {
                    tokio::task::yield_now().await;
                    seen = published.load(Ordering::Acquire);
                }
                let resume = k % 4 != 0;
                let last = resume.then(|| seen.to_string());
                let sub = b.subscribe(last.as_deref());
                // Still publishing right after subscribing: the seam raced.
                let raced = published.load(Ordering::Acquire) < EVENTS;
                subscribed.fetch_add(1, Ordering::AcqRel);
                let replay = sub.replay();
                (resume, seen, raced, replay, read_all(sub).await)
            }));
        }

        // The publisher: another OS thread, as fast as it goes.
        let (b, p, s) = (broadcaster.clone(), published.clone(), subscribed.clone());
        let publisher = std::thread::spawn(move || {
            for n in 1..=EVENTS {
                let id = b
                    .publish(Event::new(format!("event {n}")))
                    .expect("publish");
                assert_eq!(id, n.to_string().as_str());
                p.store(n, Ordering::Release);
            }
            // Close (ending the subscriptions after their queued events)
            // once everyone has subscribed.
            while s.load(Ordering::Acquire) < SUBSCRIBERS {
                std::thread::yield_now();
            }
            b.close();
        });

        for reader in readers {
            let (resume, seen, raced, replay, ids) =
                tokio::time::timeout(Duration::from_secs(60), reader)
                    .await
                    .expect("reader finished")
                    .expect("reader task");
            if resume {
                assert!(
                    matches!(replay, ReplayOutcome::Exact { .. }),
                    "round {round}: {replay:?}"
                );
                let expected: Vec<u64> = (seen + 1..=EVENTS).collect();
                assert!(
                    ids == expected,
                    "round {round}: resumed after {seen}: got {} ids from {:?} to {:?}, \
                     first mismatch at {:?}",
                    ids.len(),
                    ids.first(),
                    ids.last(),
                    ids.iter().zip(&expected).position(|(a, b)| a != b)
                );
            } else {
                assert_eq!(replay, ReplayOutcome::New);
                // Live from somewhere after `seen`, contiguous to the end.
                if let Some(&first) = ids.first() {
                    assert!(
                        first > seen,
                        "round {round}: new subscriber got old event {first}"
                    );
                    let expected: Vec<u64> = (first..=EVENTS).collect();
                    assert_eq!(ids, expected, "round {round}: contiguous live feed");
                }
            }
            races += u64::from(raced);
        }
        publisher.join().expect("publisher");
        assert_eq!(broadcaster.subscriber_count(), 0);
    }
    // Most subscriptions start while the other thread is publishing; make
    // sure the seam was really exercised.
    assert!(
        races >= ROUNDS * SUBSCRIBERS / 4,
        "only {races} subscriptions raced a publisher"
    );
}
