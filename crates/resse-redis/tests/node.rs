//! `Node`: several nodes over one shared log (in memory, and a real
//! redis-server started per test on 127.0.0.1), resuming clients exactly
//! once on any node.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use resse_codec::{ChunkDecoder, DecoderConfig, Frame};
use resse_redis::{
    Event, MemoryConfig, MemoryLog, Node, NodeConfig, NodeSubscription, Position, RedisConfig,
    RedisLog, Resume, SharedLog, Targeted,
};
use resse_tokio::server::{BroadcastConfig, ReplayConfig};
use support::{RedisServer, within};
use tokio::sync::RwLock;

/// A small ring, so that resuming goes through the log often.
fn node_config(ring: usize) -> NodeConfig {
    NodeConfig::default()
        .broadcast(
            BroadcastConfig::default()
                .replay(ReplayConfig::default().max_events(ring))
                .capacity(ring),
        )
        .read_batch(7)
}

fn redis_config(server: &RedisServer) -> RedisConfig {
    RedisConfig::new(server.url())
        .tail_block(Duration::from_millis(200))
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .response_timeout(Duration::from_secs(1))
        .connect_timeout(Duration::from_secs(1))
}

/// A client's view of a stream: decoded events.
struct Reader {
    sub: NodeSubscription,
    decoder: ChunkDecoder,
}

impl Reader {
    fn new(sub: NodeSubscription) -> Self {
        Self {
            sub,
            decoder: ChunkDecoder::with_config(DecoderConfig::default()),
        }
    }

    /// The next event; `None` when the stream ended.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(frame) = self.decoder.next_frame() {
                if let Ok(Frame::Event(e)) = frame {
                    return Some(e);
                }
                continue;
            }
            let chunk = self.sub.next().await?;
            self.decoder.push(chunk);
        }
    }

    async fn next_within(&mut self, secs: u64) -> Option<Event> {
        within(secs, "next event", self.next()).await
    }
}

/// Waits until `node` has fed `position` into its ring.
async fn fed<L: SharedLog>(node: &Node<L>, position: &Position) {
    within(10, "the tail to reach a position", async {
        while node.health().fed != *position {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn resume_beyond_the_ring_reads_the_log_then_hands_over_to_the_ring_with_no_gap_or_duplicate()
{
    let log = MemoryLog::new(MemoryConfig::default().max_read_batch(5));
    let a = Node::start(log.clone(), node_config(8)).await.unwrap();
    let b = Node::start(log.clone(), node_config(8)).await.unwrap();
    let mut positions = Vec::new();
    for i in 1..=100 {
        positions.push(a.publish(&Event::new(format!("{i}"))).await.unwrap());
    }
    fed(&b, &positions[99]).await;
    // From event 10, far behind b's ring of 8, while 100 more are published.
    let sub = b.subscribe(Some(&positions[9].to_string()), None).await;
    assert_eq!(*sub.resume(), Resume::Log);
    let mut reader = Reader::new(sub);
    let publisher = tokio::spawn(async move {
        for i in 101..=200 {
            a.publish(&Event::new(format!("{i}"))).await.unwrap();
            if i % 10 == 0 {
                tokio::task::yield_now().await;
            }
        }
        a
    });
    let mut got = Vec::new();
    let mut last = positions[9].to_string();
    while got.len() < 190 {
        match reader.next_within(10).await {
            Some(e) => {
                last = e.id().unwrap().to_owned();
                got.push(e.data().to_owned());
            }
            // Cut for lag behind the small ring: resume as a client does.
            None => reader = Reader::new(b.subscribe(Some(&last), None).await),
        }
    }
    let want: Vec<String> = (11..=200).map(|i| i.to_string()).collect();
    assert_eq!(got, want);
    publisher.await.unwrap();
    // A resume inside the ring is served by the ring.
    let last = b.health().fed;
    let sub = b.subscribe(Some(&last.to_string()), None).await;
    assert_eq!(*sub.resume(), Resume::Ring);
}

#[tokio::test]
async fn a_lost_position_gets_a_reset_event_with_the_head_as_id_then_live_events() {
    let log = MemoryLog::default();
    let node = Node::start(log.clone(), node_config(4)).await.unwrap();
    let mut positions = Vec::new();
    for i in 1..=20 {
        positions.push(node.publish(&Event::new(format!("{i}"))).await.unwrap());
    }
    fed(&node, &positions[19]).await;

    // Trimmed: the events after position 2 are gone from the log and the ring.
    log.trim(5);
    let mut r = Reader::new(node.subscribe(Some(&positions[1].to_string()), None).await);
    let reset = r.next_within(5).await.unwrap();
    assert_eq!(reset.event_type(), "reset");
    assert_eq!(reset.id(), Some(positions[19].to_string().as_str()));
    assert!(
        reset.data().contains("\"reason\":\"trimmed\""),
        "{}",
        reset.data()
    );

    // Not a position at all.
    let mut u = Reader::new(node.subscribe(Some("17"), None).await);
    let reset = u.next_within(5).await.unwrap();
    assert_eq!(reset.event_type(), "reset");
    assert!(reset.data().contains("unknown-id"), "{}", reset.data());
    assert!(reset.data().contains("\"last_event_id\":\"17\""));

    // Flushed: a new epoch; live subscribers get the tail's reset, then the
    // new epoch's events.
    let mut live = Reader::new(node.subscribe(None, None).await);
    log.flush();
    let p = node.publish(&Event::new("after flush")).await.unwrap();
    for reader in [&mut r, &mut u, &mut live] {
        let reset = reader.next_within(5).await.unwrap();
        assert_eq!(reset.event_type(), "reset", "{reset:?}");
        assert!(reset.data().contains("epoch-changed"), "{}", reset.data());
        let e = reader.next_within(5).await.unwrap();
        assert_eq!(e.data(), "after flush");
        assert_eq!(e.id(), Some(p.to_string().as_str()));
    }
    // A client of the old epoch resuming now is told too.
    let mut old = Reader::new(node.subscribe(Some(&positions[19].to_string()), None).await);
    // The ring still holds the old epoch's last events: it replays the
    // tail's reset, then the new epoch.
    let reset = old.next_within(5).await.unwrap();
    assert_eq!(reset.event_type(), "reset");
    assert_eq!(old.next_within(5).await.unwrap().data(), "after flush");
}

/// A tiny seeded generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

type Nodes = Arc<RwLock<Vec<Arc<Node<RedisLog>>>>>;

/// Three nodes, 100 clients each reconnecting to a random node, seeded
/// faults: about 200 connection cuts, two node kills and restarts, two
/// Redis restarts (append-only file on, clean stop). Every client gets the
/// log's sequence exactly, in order, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_and_100_clients_get_exactly_the_published_sequence_through_cuts_node_and_redis_restarts()
 {
    const CLIENTS: usize = 100;
    const EVENTS: usize = 300;
    let mut server = RedisServer::start_with(true);
    let config = redis_config(&server);
    let mut nodes = Vec::new();
    for i in 0..3 {
        let log = RedisLog::connect(config.clone().node_id(format!("n{i}")))
            .await
            .unwrap();
        nodes.push(Arc::new(Node::start(log, node_config(32)).await.unwrap()));
    }
    let start = nodes[0].publish(&Event::new("start")).await.unwrap();
    let nodes: Nodes = Arc::new(RwLock::new(nodes));
    let done = Arc::new(AtomicBool::new(false));
    let mut rng = Rng(0x5eed_1234_abcd_ef01);

    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let nodes = Arc::clone(&nodes);
        let start = start.to_string();
        let mut rng = Rng(rng.next() | 1);
        clients.push(tokio::spawn(async move {
            let mut last = start;
            let mut got: Vec<String> = Vec::new();
            let mut cuts = 0u32;
            loop {
                let node = {
                    let nodes = nodes.read().await;
                    Arc::clone(&nodes[rng.below(3) as usize])
                };
                let mut reader = Reader::new(node.subscribe(Some(&last), None).await);
                drop(node);
                // Cut after a random number of events (about 2 cuts each).
                let cut_after = 1 + rng.below((EVENTS / 2) as u64) as usize;
                let mut n = 0;
                loop {
                    let next = tokio::time::timeout(Duration::from_secs(20), reader.next()).await;
                    let Ok(Some(e)) = next else { break };
                    assert_ne!(e.event_type(), "reset", "client {c}: {e:?}");
                    last = e.id().expect("every event has an id").to_owned();
                    got.push(e.data().to_owned());
                    if e.data() == "end" {
                        return (got, cuts);
                    }
                    n += 1;
                    if n == cut_after {
                        cuts += 1;
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(rng.below(20))).await;
            }
        }));
    }

    // Faults among the publishing: node kills and Redis restarts.
    let publisher = {
        let nodes = Arc::clone(&nodes);
        let mut rng = Rng(rng.next() | 1);
        tokio::spawn(async move {
            let mut i = 1;
            while i <= EVENTS {
                let node = {
                    let nodes = nodes.read().await;
                    Arc::clone(&nodes[rng.below(3) as usize])
                };
                let data = if i == EVENTS {
                    "end".to_owned()
                } else {
                    i.to_string()
                };
                match node.publish(&Event::new(data)).await {
                    Ok(_) => i += 1,
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        })
    };
    for round in 0..4 {
        tokio::time::sleep(Duration::from_millis(150 + rng.below(150))).await;
        if round % 2 == 0 {
            let victim = rng.below(3) as usize;
            let mut nodes = nodes.write().await;
            nodes[victim].close();
            let log = nodes[victim].log().clone();
            nodes[victim] = Arc::new(Node::start(log, node_config(32)).await.unwrap());
        } else {
            tokio::task::block_in_place(|| server.restart());
        }
    }
    within(60, "publishing", publisher).await.unwrap();
    done.store(true, Ordering::Relaxed);

    // The log's sequence after `start`.
    let log = nodes.read().await[0].log().clone();
    let mut want = Vec::new();
    let mut at = start.clone();
    loop {
        match log.read_after(&at, 500).await.unwrap() {
            resse_redis::ReadAfter::Events { events, .. } if events.is_empty() => break,
            resse_redis::ReadAfter::Events { events, .. } => {
                for (p, e) in events {
                    want.push(e.data().to_owned());
                    at = p;
                }
            }
            lost => panic!("the log lost data: {lost:?}"),
        }
    }
    assert_eq!(want.last().map(String::as_str), Some("end"));
    let mut total_cuts = 0;
    for (c, client) in clients.into_iter().enumerate() {
        let (got, cuts) = within(60, "a client", client).await.unwrap();
        total_cuts += cuts;
        assert_eq!(got, want, "client {c}");
    }
    assert!(total_cuts >= 150, "only {total_cuts} cuts");
}

#[tokio::test]
async fn identity_supersession_and_targeted_events_across_nodes() {
    let server = RedisServer::start();
    let config = redis_config(&server);
    let a = Node::start(
        RedisLog::connect(config.clone().node_id("a"))
            .await
            .unwrap(),
        NodeConfig::default(),
    )
    .await
    .unwrap();
    let b = Node::start(
        RedisLog::connect(config.clone().node_id("b"))
            .await
            .unwrap(),
        NodeConfig::default(),
    )
    .await
    .unwrap();
    let mut first = Reader::new(a.subscribe(None, Some("alice")).await);
    // Targeted from node b reaches alice on node a.
    let sent = b
        .send_to("alice", &Event::new("hi").with_event_type("probe"))
        .await
        .unwrap();
    assert_eq!(sent, Targeted::Delivered);
    let e = first.next_within(5).await.unwrap();
    assert_eq!((e.event_type(), e.data()), ("probe", "hi"));

    // alice reconnects to node b: the stream on a ends with `superseded`.
    let mut second = Reader::new(b.subscribe(None, Some("alice")).await);
    let e = first.next_within(5).await.unwrap();
    assert_eq!(e.event_type(), "superseded");
    assert_eq!(first.next_within(5).await, None);

    // Targeted from a now reaches her on b; published events still flow.
    assert_eq!(
        a.send_to("alice", &Event::new("again")).await.unwrap(),
        Targeted::Delivered
    );
    assert_eq!(second.next_within(5).await.unwrap().data(), "again");
    a.publish(&Event::new("for all")).await.unwrap();
    assert_eq!(second.next_within(5).await.unwrap().data(), "for all");

    // Gone: released, nobody holds it.
    drop(second);
    within(5, "release", async {
        loop {
            if a.send_to("alice", &Event::new("x")).await.unwrap() == Targeted::NotHeld {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn redis_flushed_mid_run_gives_reset_to_clients_whose_position_was_lost_and_none_misses_an_event_silently()
 {
    let server = RedisServer::start();
    let config = redis_config(&server);
    let a = Node::start(
        RedisLog::connect(config.clone()).await.unwrap(),
        node_config(4),
    )
    .await
    .unwrap();
    let b = Node::start(
        RedisLog::connect(config.clone()).await.unwrap(),
        node_config(4),
    )
    .await
    .unwrap();
    let mut before = Vec::new();
    for i in 1..=10 {
        before.push(a.publish(&Event::new(format!("{i}"))).await.unwrap());
    }
    fed(&b, &before[9]).await;
    let mut live = Reader::new(a.subscribe(Some(&before[9].to_string()), None).await);
    server.cmd(&redis::cmd("FLUSHALL"));
    // Publishing works again at once, in a new epoch.
    let p = within(10, "publish after flush", async {
        loop {
            if let Ok(p) = a.publish(&Event::new("new")).await {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_ne!(p.epoch(), before[0].epoch());
    // The live client is told, then goes on.
    let reset = live.next_within(10).await.unwrap();
    assert_eq!(reset.event_type(), "reset");
    assert_eq!(live.next_within(10).await.unwrap().data(), "new");
    // A client of the old epoch on the other node, beyond its ring: reset
    // with the head as id, then everything after it.
    let mut old = Reader::new(b.subscribe(Some(&before[2].to_string()), None).await);
    let reset = old.next_within(10).await.unwrap();
    assert_eq!(reset.event_type(), "reset");
    assert!(reset.data().contains("epoch-changed"), "{}", reset.data());
    let resumed_at: Position = reset.id().unwrap().parse().unwrap();
    a.publish(&Event::new("newer")).await.unwrap();
    let mut rest = Vec::new();
    while rest.last().map(String::as_str) != Some("newer") {
        rest.push(old.next_within(10).await.unwrap().data().to_owned());
    }
    if resumed_at.offset() == 0 {
        assert_eq!(rest, ["new", "newer"]);
    } else {
        assert_eq!(rest, ["newer"]);
    }
    // Trimmed: XTRIM behind a client's back.
    for i in 0..20 {
        a.publish(&Event::new(format!("t{i}"))).await.unwrap();
    }
    let head = a.log().head().await.unwrap();
    server.cmd(
        redis::cmd("XTRIM")
            .arg("resse:{events}:log")
            .arg("MAXLEN")
            .arg(3),
    );
    let mut trimmed = Reader::new(
        b.subscribe(Some(&Position::new(p.epoch().clone(), 2).to_string()), None)
            .await,
    );
    let reset = trimmed.next_within(10).await.unwrap();
    assert_eq!(reset.event_type(), "reset");
    assert!(reset.data().contains("trimmed"), "{}", reset.data());
    assert_eq!(reset.id(), Some(head.to_string().as_str()));
}

#[tokio::test]
async fn redis_down_keeps_live_streams_makes_publish_fail_clearly_and_shows_in_health() {
    let mut server = RedisServer::start_with(true);
    let node = Node::start(
        RedisLog::connect(redis_config(&server)).await.unwrap(),
        NodeConfig::default(),
    )
    .await
    .unwrap();
    let mut live = Reader::new(node.subscribe(None, None).await);
    node.publish(&Event::new("1")).await.unwrap();
    assert_eq!(live.next_within(5).await.unwrap().data(), "1");
    assert!(node.health().is_healthy());
    server.stop();
    let err = node.publish(&Event::new("lost?")).await.unwrap_err();
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
    within(10, "health to turn", async {
        while node.health().is_healthy() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    server.start_again();
    within(15, "publish after restart", async {
        while node.publish(&Event::new("2")).await.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    // The live stream survived and continues.
    assert_eq!(live.next_within(10).await.unwrap().data(), "2");
}

/// Redis's CPU seconds so far (`INFO cpu`: user + sys).
fn redis_cpu(server: &RedisServer) -> f64 {
    match server.cmd(redis::cmd("INFO").arg("cpu")) {
        redis::Value::BulkString(bytes) => cpu_of(&String::from_utf8_lossy(&bytes)),
        redis::Value::VerbatimString { text, .. } | redis::Value::SimpleString(text) => {
            cpu_of(&text)
        }
        _ => f64::NAN,
    }
}

fn cpu_of(text: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("used_cpu_sys:") || l.starts_with("used_cpu_user:"))
        .filter_map(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
        .sum()
}

/// Publishes `n` events (data = send time in µs since `t0`) with `publish`
/// while `reader` reads them; returns (events/s, p99 latency in µs).
async fn measure<F, Fut>(n: usize, mut reader: Reader, publish: F) -> (f64, u64)
where
    F: Fn(Event) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let t0 = std::time::Instant::now();
    let publisher = tokio::spawn(async move {
        for _ in 0..n {
            publish(Event::new(t0.elapsed().as_micros().to_string())).await;
        }
    });
    let mut latencies = Vec::with_capacity(n);
    while latencies.len() < n {
        let e = reader.next_within(30).await.expect("stream ended");
        let sent: u64 = e.data().parse().unwrap();
        latencies.push(u64::try_from(t0.elapsed().as_micros()).unwrap() - sent);
    }
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    publisher.await.unwrap();
    latencies.sort_unstable();
    (rate, latencies[n * 99 / 100])
}

/// Bench: publish→receive across 2 nodes through Redis against one node
/// alone (a plain `Broadcaster`). Prints ratios; run with
/// `cargo test -p resse-redis --release --test node -- --ignored --nocapture bench`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: prints figures"]
async fn bench_two_nodes_through_redis_against_one_node_alone() {
    const N: usize = 5_000;
    // One node alone.
    let local = resse_tokio::server::Broadcaster::new(
        BroadcastConfig::default()
            .replay(ReplayConfig::default().max_events(N))
            .capacity(N),
    );
    let reader = local.subscribe(None);
    let t0 = std::time::Instant::now();
    let publisher = {
        let local = local.clone();
        tokio::spawn(async move {
            for i in 0..N {
                local
                    .publish(Event::new(t0.elapsed().as_micros().to_string()))
                    .unwrap();
                if i % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let mut decoder = ChunkDecoder::with_config(DecoderConfig::default());
    let mut reader = reader;
    let mut lat = Vec::with_capacity(N);
    while lat.len() < N {
        let chunk = reader.next().await.expect("local stream ended");
        decoder.push(chunk);
        while let Some(Ok(frame)) = decoder.next_frame() {
            if let Frame::Event(e) = frame {
                let sent: u64 = e.data().parse().unwrap();
                lat.push(u64::try_from(t0.elapsed().as_micros()).unwrap() - sent);
            }
        }
    }
    let local_rate = N as f64 / t0.elapsed().as_secs_f64();
    publisher.await.unwrap();
    lat.sort_unstable();
    let local_p99 = lat[N * 99 / 100];

    // Two nodes through Redis: publish on a, receive on b.
    let server = RedisServer::start();
    let config = redis_config(&server).max_len(100_000);
    let a = Node::start(
        RedisLog::connect(config.clone()).await.unwrap(),
        NodeConfig::default(),
    )
    .await
    .unwrap();
    let b = Node::start(
        RedisLog::connect(config).await.unwrap(),
        NodeConfig::default(),
    )
    .await
    .unwrap();
    let reader = Reader::new(b.subscribe(None, None).await);
    let cpu0 = redis_cpu(&server);
    let a = Arc::new(a);
    let (redis_rate, redis_p99) = measure(N, reader, move |e| {
        let a = Arc::clone(&a);
        async move {
            a.publish(&e).await.unwrap();
        }
    })
    .await;
    let cpu = redis_cpu(&server) - cpu0;
    println!(
        "one node alone: {local_rate:.0} events/s, p99 {local_p99} µs\n\
         two nodes through Redis (sequential publisher): {redis_rate:.0} events/s, p99 {redis_p99} µs, \
         Redis CPU {cpu:.2} s for {N} events ({:.1} µs/event)\n\
         ratios (Redis / alone): rate {:.3}, p99 {:.1}",
        cpu * 1e6 / N as f64,
        redis_rate / local_rate,
        redis_p99 as f64 / local_p99.max(1) as f64,
    );
}
