//! The publish rate one Redis sustains through the Lua script, against plain
//! `XADD` in the same run. Ignored by default (it prints figures, it asserts
//! nothing about speed):
//!
//! `cargo test -p resse-redis --release --test publish_rate -- --ignored --nocapture`

mod support;

use std::time::{Duration, Instant};

use resse_redis::{Event, RedisConfig, RedisLog};
use support::RedisServer;

const EVENTS: usize = 20_000;
const IN_FLIGHT: usize = 64;
const DATA: &str = r#"{"symbol":"ACME","price":101.25,"volume":1200,"note":"a payload of about a hundred bytes ...."}"#;

async fn rate<F, Fut>(events: usize, in_flight: usize, f: F) -> f64
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..events {
        if tasks.len() >= in_flight {
            tasks.join_next().await.unwrap().unwrap();
        }
        tasks.spawn(f(i));
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    events as f64 / started.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "prints publish rates; run with --ignored --nocapture"]
async fn publish_rate_through_the_script_against_plain_xadd() {
    let server = RedisServer::start();
    let log = RedisLog::connect(
        RedisConfig::new(server.url())
            .stream("bench")
            .response_timeout(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    let client = redis::Client::open(server.url()).unwrap();
    let plain = client.get_connection_manager().await.unwrap();
    let max_len = log.config().get_max_len();
    println!(
        "{EVENTS} events of {} bytes, MAXLEN {max_len} (exact) in both",
        DATA.len()
    );
    // The first round warms both up (connections, script cache, allocator)
    // and is not printed.
    for (label, in_flight) in [
        ("warm-up", IN_FLIGHT),
        ("sequential", 1),
        ("concurrent", IN_FLIGHT),
    ] {
        let script = {
            let log = log.clone();
            rate(EVENTS, in_flight, move |_| {
                let log = log.clone();
                async move {
                    log.publish(&Event::new(DATA).with_event_type("tick"))
                        .await
                        .unwrap();
                }
            })
            .await
        };
        let xadd = {
            let plain = plain.clone();
            rate(EVENTS, in_flight, move |_| {
                let mut conn = plain.clone();
                async move {
                    let _: String = redis::cmd("XADD")
                        .arg("plain")
                        .arg("MAXLEN")
                        .arg(max_len)
                        .arg("*")
                        .arg("t")
                        .arg("tick")
                        .arg("d")
                        .arg(DATA)
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                }
            })
            .await
        };
        if label == "warm-up" {
            continue;
        }
        println!(
            "{label:>10} ({in_flight:>2} in flight): script {script:>8.0}/s, plain XADD {xadd:>8.0}/s, script/XADD = {:.2}",
            script / xadd
        );
    }
}
