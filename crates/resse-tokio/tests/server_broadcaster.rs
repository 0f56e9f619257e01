//! The broadcaster: monotonic ids, one encoding shared by every subscriber,
//! replay from `Last-Event-ID`, one subscription per identity, prompt
//! removal of dropped subscriptions, slow subscribers cut off, close.
#![cfg(feature = "server")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use resse_codec::{Decoder, EncodeError, Event, Frame};
use resse_session::{PushError, ReplayConfig};
use resse_tokio::server::{
    BroadcastConfig, Broadcaster, EndReason, PublishError, ReplayOutcome, Subscription,
};

fn plain() -> BroadcastConfig {
    BroadcastConfig::default().id_prefix("")
}

/// Decodes an item (one or more encoded events) into (id, data) pairs.
fn events(bytes: &[u8]) -> Vec<(String, String)> {
    let mut decoder = Decoder::new();
    let mut buf = bytes::BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(frame) = decoder.decode(&mut buf).expect("valid") {
        if let Frame::Event(e) = frame {
            out.push((e.last_event_id().to_owned(), e.data().to_owned()));
        }
    }
    assert!(buf.is_empty(), "items hold whole events");
    out
}

/// Everything a subscription has ready now, without waiting.
fn ready(sub: &mut Subscription) -> Vec<Bytes> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut items = Vec::new();
    while let Poll::Ready(Some(item)) = sub.poll_next_unpin(&mut cx) {
        items.push(item);
    }
    items
}

fn ready_events(sub: &mut Subscription) -> Vec<(String, String)> {
    ready(sub).iter().flat_map(|b| events(b)).collect()
}

fn ids(events: &[(String, String)]) -> Vec<&str> {
    events.iter().map(|(id, _)| id.as_str()).collect()
}

/// Whether the stream has ended (polled without waiting).
fn ended(sub: &mut Subscription) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    matches!(sub.poll_next_unpin(&mut cx), Poll::Ready(None))
}

#[test]
fn assigned_ids_are_monotonic_and_own_ids_are_kept() {
    let b = Broadcaster::new(plain());
    let mut sub = b.subscribe(None);
    let mut published = Vec::new();
    for n in 0..5 {
        published.push(b.publish(Event::new(format!("e{n}"))).expect("publish"));
    }
    published.push(
        b.publish(Event::new("own").with_id("custom-7"))
            .expect("publish"),
    );
    published.push(b.publish(Event::new("next")).expect("publish"));
    assert_eq!(published, ["1", "2", "3", "4", "5", "custom-7", "6"]);
    let got = ready_events(&mut sub);
    assert_eq!(ids(&got), ["1", "2", "3", "4", "5", "custom-7", "6"]);
    assert_eq!(got[5].1, "own");
}

#[test]
fn the_default_id_prefix_changes_between_broadcasters_started_apart() {
    let first = Broadcaster::default()
        .publish(Event::new("x"))
        .expect("publish");
    std::thread::sleep(Duration::from_millis(5));
    let second = Broadcaster::default()
        .publish(Event::new("x"))
        .expect("publish");
    assert!(
        first.ends_with("-1") && second.ends_with("-1"),
        "{first} {second}"
    );
    assert_ne!(
        first, second,
        "an id from a previous run must not match this run's"
    );
    // Numbers after the prefix still grow one by one.
    let b = Broadcaster::default();
    let ids: Vec<String> = (0..3)
        .map(|_| b.publish(Event::new("x")).expect("publish").to_string())
        .collect();
    let prefix = ids[0].strip_suffix('1').expect("ends with 1");
    assert_eq!(
        ids,
        [
            format!("{prefix}1"),
            format!("{prefix}2"),
            format!("{prefix}3")
        ]
    );
}

#[test]
fn every_subscriber_gets_the_same_encoded_bytes() {
    let b = Broadcaster::new(plain());
    let mut subs: Vec<_> = (0..5).map(|_| b.subscribe(None)).collect();
    b.publish(Event::new("hello").with_event_type("greeting"))
        .expect("publish");
    let items: Vec<Bytes> = subs.iter_mut().map(|s| ready(s).remove(0)).collect();
    assert_eq!(&items[0][..], b"event: greeting\nid: 1\ndata: hello\n\n");
    for item in &items {
        assert_eq!(item.as_ptr(), items[0].as_ptr(), "encoded once, shared");
    }
    // A replayed subscriber gets the same bytes too.
    let mut late = b.subscribe(Some("0"));
    assert!(matches!(late.replay(), ReplayOutcome::Unknown { .. }));
    b.publish(Event::new("second")).expect("publish");
    let mut replayed = b.subscribe(Some("1"));
    assert_eq!(replayed.replay(), ReplayOutcome::Exact { replayed: 1 });
    let r = ready(&mut replayed);
    let l = ready(&mut late);
    assert_eq!(r[0].as_ptr(), l[0].as_ptr());
}

#[test]
fn events_waiting_together_come_as_one_item() {
    let b = Broadcaster::new(plain().max_batch_len(64));
    let mut sub = b.subscribe(None);
    for n in 0..6 {
        b.publish(Event::new(format!("{n}"))).expect("publish");
    }
    let items = ready(&mut sub);
    let lens: Vec<usize> = items.iter().map(Bytes::len).collect();
    assert_eq!(b"id: 1\ndata: 0\n\n".len(), 15);
    assert_eq!(lens, [60, 30], "four 15-byte events fit in 64 bytes");
    let all: Vec<_> = items.iter().flat_map(|b| events(b)).collect();
    assert_eq!(ids(&all), ["1", "2", "3", "4", "5", "6"]);
}

#[test]
fn replay_answers_exactly_from_the_last_event_id() {
    let b = Broadcaster::new(plain().replay(ReplayConfig::default().max_events(3)));
    for n in 1..=5 {
        b.publish(Event::new(format!("e{n}"))).expect("publish");
    }
    // The log keeps 3, 4, 5.
    let mut sub = b.subscribe(Some("3"));
    assert_eq!(sub.replay(), ReplayOutcome::Exact { replayed: 2 });
    assert!(sub.replay().is_exact());
    b.publish(Event::new("e6")).expect("publish");
    assert_eq!(ids(&ready_events(&mut sub)), ["4", "5", "6"]);

    // The newest id: nothing to replay, live from here.
    let mut sub = b.subscribe(Some("6"));
    assert_eq!(sub.replay(), ReplayOutcome::Exact { replayed: 0 });
    assert!(ready(&mut sub).is_empty());

    // Evicted: too old; live only, or everything kept if asked.
    let mut sub = b.subscribe(Some("1"));
    assert_eq!(sub.replay(), ReplayOutcome::TooOld { replayed: 0 });
    assert!(!sub.replay().is_exact());
    assert!(ready(&mut sub).is_empty());
    let mut sub = b
        .subscriber()
        .last_event_id(Some("1"))
        .replay_kept_on_miss(true)
        .subscribe();
    assert_eq!(sub.replay(), ReplayOutcome::TooOld { replayed: 3 });
    assert_eq!(ids(&ready_events(&mut sub)), ["4", "5", "6"]);

    // Never published here.
    let sub = b.subscribe(Some("from-another-run-3"));
    assert_eq!(sub.replay(), ReplayOutcome::Unknown { replayed: 0 });
    // No id (or an empty one): a new subscriber.
    assert_eq!(b.subscribe(None).replay(), ReplayOutcome::New);
    assert_eq!(b.subscribe(Some("")).replay(), ReplayOutcome::New);
}

#[test]
fn refused_events_are_not_sent_nor_logged() {
    let b = Broadcaster::new(plain());
    let mut sub = b.subscribe(None);
    assert_eq!(
        b.publish(Event::new("x").with_id("1\ndata: injected")),
        Err(PublishError::Encode(EncodeError::IdHasNewline))
    );
    assert_eq!(
        b.publish(Event::new("x").with_event_type("a\rb")),
        Err(PublishError::Encode(EncodeError::EventTypeHasNewline))
    );
    assert_eq!(
        b.publish(Event::new("x").with_id("")),
        Err(PublishError::Replay(PushError::EmptyId))
    );
    b.publish(Event::new("x").with_id("dup")).expect("first");
    assert!(matches!(
        b.publish(Event::new("y").with_id("dup")),
        Err(PublishError::Replay(PushError::DuplicateId(_)))
    ));
    let got = ready_events(&mut sub);
    assert_eq!(got, [("dup".to_owned(), "x".to_owned())]);
    assert_eq!(b.stats().published, 1);
    let message = b
        .publish(Event::new("y").with_id("dup"))
        .unwrap_err()
        .to_string();
    assert!(message.contains("already in the replay log"), "{message}");
}

#[test]
fn a_new_subscription_with_the_same_identity_ends_the_old_one() {
    let b = Broadcaster::new(plain());
    let mut first = b.subscribe_as("alice", None);
    let mut bob = b.subscribe_as("bob", None);
    b.publish(Event::new("one")).expect("publish");
    assert_eq!(b.subscriber_count(), 2);

    let mut second = b.subscribe_as("alice", Some("1"));
    assert_eq!(b.subscriber_count(), 2, "alice has one subscription");
    assert_eq!(first.end_reason(), Some(EndReason::Replaced));
    // The old stream gets the superseded event at once (queued events or
    // not), so that its client stops instead of reconnecting, then ends.
    let last = ready(&mut first);
    assert_eq!(last.len(), 1, "{last:?}");
    assert!(
        last[0].starts_with(b"event: superseded\ndata: "),
        "{last:?}"
    );
    assert!(ended(&mut first));
    assert_eq!(b.stats().replaced, 1);

    b.publish(Event::new("two")).expect("publish");
    assert_eq!(ids(&ready_events(&mut second)), ["2"]);
    assert_eq!(ids(&ready_events(&mut bob)), ["1", "2"]);
    assert_eq!(second.end_reason(), None);

    // Dropping the replaced subscription does not touch the new one.
    drop(first);
    assert_eq!(b.subscriber_count(), 2);
    let _third = b.subscribe_as("alice", None);
    assert_eq!(second.end_reason(), Some(EndReason::Replaced));
}

#[tokio::test]
async fn replacement_wakes_the_old_subscriber() {
    let b = Broadcaster::new(plain());
    let mut old = b.subscribe_as("alice", None);
    let reader = tokio::spawn(async move {
        let superseded = old.next().await.expect("the superseded event");
        assert!(superseded.starts_with(b"event: superseded\n"));
        let next = old.next().await;
        (next, old.end_reason())
    });
    tokio::task::yield_now().await; // let it wait
    let _new = b.subscribe_as("alice", None);
    let (next, reason) = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("woken")
        .expect("task");
    assert_eq!(next, None);
    assert_eq!(reason, Some(EndReason::Replaced));
}

#[test]
fn dropped_subscriptions_are_removed_at_once() {
    let b = Broadcaster::new(plain());
    let subs: Vec<_> = (0..100)
        .map(|n| {
            if n % 2 == 0 {
                b.subscribe(None)
            } else {
                b.subscribe_as(format!("c{n}"), None)
            }
        })
        .collect();
    assert_eq!(b.subscriber_count(), 100);
    drop(subs);
    assert_eq!(b.subscriber_count(), 0);
    assert_eq!(b.stats().subscribers, 0);
    // Identities are free again: no one is replaced.
    let _c1 = b.subscribe_as("c1", None);
    assert_eq!(b.stats().replaced, 0);
}

#[test]
fn a_subscriber_that_falls_behind_is_cut_off_and_memory_stays_bounded() {
    let capacity = 8;
    let b = Broadcaster::new(plain().capacity(capacity).replay(ReplayConfig::default()));
    let mut slow = b.subscribe(None);
    let mut fast = b.subscribe(None);
    let mut fast_got = Vec::new();
    let mut slow_got = Vec::new();
    for n in 1..=100 {
        b.publish(Event::new(format!("{n:03}")))
            .expect("publish never waits");
        fast_got.extend(ready_events(&mut fast));
        if n <= 3 {
            slow_got.extend(ready_events(&mut slow)); // then it stops reading
        }
        // One ring serves replay and delivery: bounded by the replay limits
        // whatever the subscribers do; the lag (as of the last sweep, every
        // capacity / 4 events) by the capacity.
        let stats = b.stats();
        assert!(stats.queued_events <= 1024, "{stats:?}");
        assert!(stats.queued_len <= 100 * 20, "{stats:?}"); // 19-byte events
        assert!(stats.longest_queue <= capacity, "{stats:?}");
    }
    assert_eq!(fast_got.len(), 100, "the fast subscriber got every event");
    // The publisher noticed without the slow one being polled.
    assert_eq!(slow.end_reason(), Some(EndReason::Lagged));
    assert!(ended(&mut slow));
    assert_eq!(b.stats().lagged, 1);
    assert_eq!(b.subscriber_count(), 1);
    // Its client reconnects with the last id it got and misses nothing.
    assert_eq!(ids(&slow_got), ["1", "2", "3"]);
    let mut again = b.subscribe(Some("3"));
    assert_eq!(again.replay(), ReplayOutcome::Exact { replayed: 97 });
    let replayed = ready_events(&mut again);
    let expected: Vec<String> = (4..=100).map(|n| n.to_string()).collect();
    assert_eq!(ids(&replayed), expected);
}

#[test]
fn a_lagging_subscriber_that_is_polled_notices_by_itself() {
    let b = Broadcaster::new(plain().capacity(100));
    let mut slow = b.subscribe(None);
    for _ in 0..101 {
        b.publish(Event::new("x")).expect("publish");
    }
    // 101 events, capacity 100: the first one is gone; the sweep (every 25
    // evictions) has not run yet, the poll finds out.
    assert_eq!(slow.end_reason(), None);
    assert!(ended(&mut slow));
    assert_eq!(slow.end_reason(), Some(EndReason::Lagged));
}

#[test]
fn lagging_is_also_measured_in_bytes() {
    let b = Broadcaster::new(plain().capacity(1000).max_queued_len(1000));
    let mut slow = b.subscribe(None);
    let big = "x".repeat(300);
    for _ in 0..3 {
        b.publish(Event::new(big.clone())).expect("publish");
    }
    assert_eq!(
        ready(&mut slow).len(),
        1,
        "900 bytes is within the limit (one item)"
    );
    for _ in 0..4 {
        b.publish(Event::new(big.clone())).expect("publish");
    }
    assert!(ended(&mut slow), "1200 bytes behind: cut off");
    // One event larger than the limit is still delivered to those who keep up.
    let mut sub = b.subscribe(None);
    b.publish(Event::new("y".repeat(5000))).expect("publish");
    assert_eq!(ready_events(&mut sub)[0].1.len(), 5000);
}

struct CountWakes(AtomicUsize);

impl Wake for CountWakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_waiting_subscriber_is_woken_once_per_batch() {
    let b = Broadcaster::new(plain());
    let mut sub = b.subscribe(None);
    let counter = Arc::new(CountWakes(AtomicUsize::new(0)));
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(sub.poll_next_unpin(&mut cx).is_pending());
    for _ in 0..50 {
        b.publish(Event::new("x")).expect("publish");
    }
    assert_eq!(
        counter.0.load(Ordering::SeqCst),
        1,
        "one wake for 50 events"
    );
    match sub.poll_next_unpin(&mut cx) {
        Poll::Ready(Some(item)) => assert_eq!(events(&item).len(), 50),
        other => panic!("{other:?}"),
    }
    assert!(sub.poll_next_unpin(&mut cx).is_pending());
    b.publish(Event::new("x")).expect("publish");
    assert_eq!(counter.0.load(Ordering::SeqCst), 2);
}

#[test]
fn close_ends_every_subscription_after_its_queued_events() {
    let b = Broadcaster::new(plain());
    let mut subs: Vec<_> = (0..3).map(|_| b.subscribe(None)).collect();
    b.publish(Event::new("last")).expect("publish");
    b.close();
    assert!(b.is_closed());
    assert_eq!(b.subscriber_count(), 0);
    assert_eq!(b.publish(Event::new("late")), Err(PublishError::Closed));
    for sub in &mut subs {
        assert_eq!(sub.end_reason(), Some(EndReason::Closed));
        assert_eq!(ids(&ready_events(sub)), ["1"]);
        assert!(ended(sub));
    }
    let mut after = b.subscribe(Some("1"));
    assert!(ended(&mut after));
    assert_eq!(b.subscriber_count(), 0);
}

#[test]
fn the_broadcaster_is_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    fn assert_send_unpin<T: Send + Unpin>() {}
    assert_send_sync::<Broadcaster>();
    assert_send_unpin::<Subscription>();
}

#[test]
fn targeted_events_reach_one_subscriber_in_order() {
    let b = Broadcaster::new(plain());
    let mut alice = b.subscribe_as("alice", None);
    let mut bob = b.subscribe(None);
    b.publish(Event::new("one")).expect("publish");
    b.send_to_identity("alice", &Event::new("for alice"))
        .expect("alice is live");
    b.send_to(bob.key(), &Event::new("for bob"))
        .expect("bob is live");
    b.publish(Event::new("two")).expect("publish");
    let data = |sub: &mut Subscription| -> Vec<String> {
        ready_events(sub).into_iter().map(|(_, d)| d).collect()
    };
    assert_eq!(data(&mut alice), ["one", "for alice", "two"]);
    assert_eq!(data(&mut bob), ["one", "for bob", "two"]);
    // Not replayable: an id is refused; nobody with that identity: refused.
    assert_eq!(
        b.send_to_identity("alice", &Event::new("x").with_id("9")),
        Err(resse_tokio::server::SendError::HasId)
    );
    assert_eq!(
        b.send_to_identity("carol", &Event::new("x")),
        Err(resse_tokio::server::SendError::NoSubscriber)
    );
    assert_eq!(b.stats().targeted, 2);
}

#[test]
fn the_retry_announcement_starts_every_stream() {
    let b = Broadcaster::new(plain().retry(Some(Duration::from_millis(2500))));
    let mut sub = b.subscribe(None);
    b.publish(Event::new("one")).expect("publish");
    let items = ready(&mut sub);
    assert_eq!(&items[0][..], b"retry: 2500\nid: 1\ndata: one\n\n");
}
