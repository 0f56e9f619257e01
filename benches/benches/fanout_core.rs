//! The broadcaster alone, in one thread, without sockets: CPU per delivery.
//!
//! * `light`: one event at a time; every subscriber is woken, polled, gets
//!   it and waits again (the light-load path: one wake and one poll per
//!   delivery).
//! * `burst`: all events published first, then each subscriber drains them
//!   (batched).
//!
//! CPU time is this thread's (`/proc/thread-self/schedstat`), so the figure
//! holds on a shared machine; elsewhere wall time is used.
//! `cargo bench -p resse-benches --bench fanout_core`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use futures_util::StreamExt;
use resse_codec::Event;
use resse_tokio::server::{BroadcastConfig, Broadcaster, ReplayConfig};

struct Count(AtomicU64);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// This thread's CPU time in ns, or wall time where it cannot be read.
fn cpu_ns(start: Instant) -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| start.elapsed().as_nanos() as u64)
}

fn run(subscribers: usize, events: usize, light: bool) -> f64 {
    let broadcaster = Broadcaster::new(
        BroadcastConfig::default()
            .id_prefix("")
            .capacity(events)
            .replay(ReplayConfig::default().max_events(events).max_len(64 << 20)),
    );
    let counter = Arc::new(Count(AtomicU64::new(0)));
    let waker = Waker::from(Arc::clone(&counter));
    let mut cx = Context::from_waker(&waker);
    let mut subs: Vec<_> = (0..subscribers)
        .map(|_| broadcaster.subscribe(None))
        .collect();
    for sub in &mut subs {
        assert!(sub.poll_next_unpin(&mut cx).is_pending());
    }
    let data = "x".repeat(100);
    let start = Instant::now();
    let t0 = cpu_ns(start);
    // Delivered bytes (counting events would cost more than delivering
    // them); checked against what was published.
    let mut delivered = 0u64;
    let mut drain = |subs: &mut Vec<_>, cx: &mut Context<'_>| {
        for sub in subs.iter_mut() {
            let sub: &mut resse_tokio::server::Subscription = sub;
            while let Poll::Ready(Some(bytes)) = sub.poll_next_unpin(cx) {
                delivered += bytes.len() as u64;
            }
        }
    };
    if light {
        for _ in 0..events {
            broadcaster
                .publish(Event::new(data.as_str()))
                .expect("publish");
            drain(&mut subs, &mut cx);
        }
    } else {
        for _ in 0..events {
            broadcaster
                .publish(Event::new(data.as_str()))
                .expect("publish");
        }
        drain(&mut subs, &mut cx);
    }
    let ns = cpu_ns(start) - t0;
    let encoded: u64 = (1..=events)
        .map(|n| format!("id: {n}\ndata: {data}\n\n").len() as u64)
        .sum();
    assert_eq!(
        delivered,
        subscribers as u64 * encoded,
        "every event delivered"
    );
    ns as f64 / (subscribers * events) as f64
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let plans: &[(usize, usize)] = if full {
        &[(1_000, 2_000), (10_000, 200)]
    } else {
        &[(10, 10)]
    };
    println!("| subscribers | events | light ns/delivery | burst ns/delivery |");
    println!("|---|---|---|---|");
    for &(subscribers, events) in plans {
        let rounds = if full { 5 } else { 1 };
        let best = |light| {
            (0..rounds)
                .map(|_| run(subscribers, events, light))
                .fold(f64::INFINITY, f64::min)
        };
        let (light, burst) = (best(true), best(false));
        println!("| {subscribers} | {events} | {light:.1} | {burst:.1} |");
    }
}
