//! One client that never reads, 1,000 clients that read everything, one
//! publisher, a real hyper server on 127.0.0.1: the slow subscriber is
//! disconnected with a logged reason, the fast ones get every event, the
//! broadcaster's memory stays within its bounds, and the slow client, once
//! it reads again, finds a cleanly ended stream and resumes exactly from its
//! last id.
#![cfg(feature = "server")]

#[path = "support/server_http.rs"]
mod server_http;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use resse_codec::Event;
use resse_session::ReplayConfig;
use resse_tokio::server::{BroadcastConfig, Broadcaster, ReplayOutcome};
use server_http::{RawClient, ServerOptions, SseServer, within};
use tokio::sync::{Notify, mpsc};
use tracing::field::{Field, Visit};
use tracing::{Level, Metadata, span};

const FAST: u64 = 1_000;
/// Events a subscriber may fall behind.
const CAPACITY: usize = 16;
/// Events published between two checks that every fast client has them all.
const BURST: u64 = 8;
const DATA_LEN: usize = 1000;
/// Bound on the run, in case the slow client were never cut off.
const MAX_EVENTS: u64 = 5_000;

/// Warnings and errors logged with `tracing`.
static LOGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= Level::WARN
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(format!("{} ", event.metadata().level()));
        event.record(&mut fields);
        LOGS.lock().expect("logs").push(fields.0);
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

fn event(n: u64) -> Event {
    let mut data = format!("{n}:");
    data.extend(std::iter::repeat_n('x', DATA_LEN - data.len()));
    Event::new(data)
}

/// A fast client: reads and checks every event until `end`; returns how
/// many it got.
async fn fast_client(
    addr: std::net::SocketAddr,
    ready: mpsc::UnboundedSender<()>,
    received: Arc<AtomicU64>,
    progress: Arc<Notify>,
) -> u64 {
    let mut client = RawClient::get(addr, "/events", None).await;
    let head = client.head().await;
    assert_eq!(head.status, 200);
    ready.send(()).expect("test running");
    let mut expected = 1;
    while let Some(event) = client.next_event().await {
        if event.data() == "end" {
            return expected - 1;
        }
        assert_eq!(
            event.last_event_id(),
            expected.to_string(),
            "in order, no gap"
        );
        assert_eq!(event.data(), event_data(expected));
        expected += 1;
        received.fetch_add(1, Ordering::AcqRel);
        progress.notify_one();
    }
    panic!("a fast client's stream ended before the end event (after {expected} events)");
}

fn event_data(n: u64) -> String {
    event(n).data().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_is_cut_off_while_1000_fast_ones_keep_up() {
    // About 2,000 sockets live in this process (both ends of every
    // connection): raise the soft open-file limit where it is the usual 1,024.
    let limit = rlimit::increase_nofile_limit(4096).unwrap_or(0);
    assert!(
        limit >= 2100,
        "this test needs 2,100 open files; the limit is {limit}"
    );
    tracing::subscriber::set_global_default(Capture).expect("the only subscriber");
    let started = Instant::now();
    within(Duration::from_secs(60), async {
        let config = BroadcastConfig::default()
            .id_prefix("")
            .capacity(CAPACITY)
            .max_batch_len(8 * 1024)
            .replay(
                ReplayConfig::default()
                    .max_events(100_000)
                    .max_len(usize::MAX),
            );
        let broadcaster = Broadcaster::new(config);
        // What a connection that does not read can hold back is bounded:
        // hyper buffers at most 8 KiB, the socket's send buffer 32 KiB.
        let options = ServerOptions {
            max_buf_size: Some(8 * 1024),
            send_buffer_size: Some(16 * 1024),
        };
        let mut server = SseServer::start_with(
            broadcaster.clone(),
            |body| body.max_batch_len(8 * 1024),
            options,
        )
        .await;
        let addr = server.addr;

        // The slow client: sends its request, never reads.
        let mut slow = RawClient::get_small_window(addr, "/events?client=slow", None).await;
        server.next_opened().await;

        // The fast clients, connected in waves of 100.
        let received = Arc::new(AtomicU64::new(0));
        let progress = Arc::new(Notify::new());
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
        let mut fast = Vec::new();
        for wave in 0..FAST / 100 {
            for _ in 0..100 {
                fast.push(tokio::spawn(fast_client(
                    addr,
                    ready_tx.clone(),
                    received.clone(),
                    progress.clone(),
                )));
            }
            for _ in 0..100 {
                ready_rx.recv().await.expect("a client is ready");
            }
            assert_eq!(broadcaster.subscriber_count() as u64, 1 + (wave + 1) * 100);
        }
        assert_eq!(broadcaster.subscriber_count() as u64, FAST + 1);

        // Publish in bursts; after each, wait until every fast client has
        // every event so far (they keep up; the slow one does not read).
        let mut published = 0;
        let mut bursts_after_cut = 0;
        while bursts_after_cut < 2 {
            assert!(
                published < MAX_EVENTS,
                "the slow subscriber was never cut off: {:?}",
                broadcaster.stats()
            );
            for _ in 0..BURST {
                published += 1;
                broadcaster.publish(event(published)).expect("publish");
            }
            loop {
                let notified = progress.notified();
                if received.load(Ordering::Acquire) >= FAST * published {
                    break;
                }
                notified.await;
            }
            let stats = broadcaster.stats();
            // One ring serves replay and delivery (here sized for 100,000
            // events); the lag is bounded by the capacity.
            assert!(stats.queued_events <= 100_000, "{stats:?}");
            assert!(stats.longest_queue <= CAPACITY, "{stats:?}");
            if stats.lagged > 0 {
                bursts_after_cut += 1;
            }
        }
        broadcaster.publish(Event::new("end")).expect("publish");
        for client in fast {
            assert_eq!(client.await.expect("fast client"), published, "every event");
        }

        let stats = broadcaster.stats();
        assert_eq!(stats.lagged, 1, "only the slow subscriber was cut off");
        let logs = LOGS.lock().expect("logs").clone();
        let warning = logs
            .iter()
            .find(|l| l.starts_with("WARN") && l.contains("fell behind"))
            .unwrap_or_else(|| panic!("no warning logged: {logs:?}"));
        // One aggregated line, with the count.
        assert!(warning.contains("dropped=1"), "{warning}");

        // The slow client reads again: what was buffered, then a clean end.
        let mut last = 0;
        while let Some(event) = slow.next_event().await {
            last += 1;
            assert_eq!(event.last_event_id(), last.to_string(), "in order, no gap");
        }
        assert!(slow.ended_cleanly(), "the stream was ended, not cut");
        assert!(last < published, "it fell behind ({last} of {published})");
        // It reconnects with its last id and misses nothing.
        let mut again = RawClient::get(addr, "/events?client=slow", Some(&last.to_string())).await;
        let opened = loop {
            let opened = server.next_opened().await;
            if opened.identity.as_deref() == Some("slow") {
                break opened;
            }
        };
        assert_eq!(
            opened.replay,
            ReplayOutcome::Exact {
                replayed: usize::try_from(published + 1 - last).expect("fits")
            }
        );
        let rest = again.events_until("end").await;
        let ids: Vec<u64> = rest
            .iter()
            .filter(|e| e.data() != "end")
            .map(|e| e.last_event_id().parse().expect("numeric"))
            .collect();
        assert_eq!(ids, (last + 1..=published).collect::<Vec<_>>());
        eprintln!(
            "slow client cut off after {last} of {published} events; {FAST} fast clients, {:?}",
            started.elapsed()
        );
    })
    .await;
}
