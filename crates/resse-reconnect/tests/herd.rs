//! Thundering herd with the default policy, from `ReconnectPolicy` alone on
//! fake time (one start instant plus durations): 10,000 clients, seeded with
//! their index, stream from the same server and lose it at the same instant.
//!
//! * Run (a), the server is back at once: no 100 ms window holds more than
//!   5 % of the reconnection attempts, and 99 % of the clients stream again
//!   within 3× the base delay.
//! * Run (b), the server stays down for 30 s (attempts fail at once while it
//!   is down, as refused connections do): after the first 5 s, no 100 ms
//!   window of the outage holds more than 2× the mean attempt rate of
//!   `[5 s, 30 s)` (no synchronised waves).
//!
//! Windows are the 100 ms buckets since the drop; the targets are also
//! checked for any 100 ms interval, wherever it starts. (The previous default,
//! 1 s doubling with `Jitter::Spread(1.0)`, fails both: 10.4 % and 5.1×.) Run
//! with
//! `cargo test -p resse-reconnect --test herd -- --nocapture` to see the
//! figures and the histograms (attempts per bucket, one row per second).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, StatusCode};
use resse_reconnect::{Cause, Decision, ReconnectConfig, ReconnectPolicy, Verdict};

const CLIENTS: u64 = 10_000;
const BUCKET: Duration = Duration::from_millis(100);
const BASE: Duration = ReconnectConfig::DEFAULT_INITIAL_DELAY;

/// What happened to the herd, as times since the server was lost.
struct Herd {
    /// Every reconnection attempt.
    attempts: Vec<Duration>,
    /// When each client streamed again, sorted.
    streaming: Vec<Duration>,
}

fn sse() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "content-type",
        HeaderValue::from_static("text/event-stream"),
    );
    h
}

/// Every client streams for 60 s (healthy), loses the server at the same
/// instant, and reconnects whenever its policy says; the server refuses
/// connections for `down`, then accepts them.
fn herd(down: Duration) -> Herd {
    let t0 = Instant::now();
    let lost = t0 + Duration::from_secs(60);
    let back = lost + down;
    let stream = sse();
    let mut herd = Herd {
        attempts: Vec::new(),
        streaming: Vec::with_capacity(CLIENTS as usize),
    };
    for seed in 0..CLIENTS {
        let config = ReconnectConfig::default().seed(seed);
        let mut p = ReconnectPolicy::new(config).expect("the default config is valid");
        assert_eq!(p.on_response(t0, StatusCode::OK, &stream), Verdict::Stream);
        let mut decision = p.on_error(lost, Cause::Io);
        loop {
            let Decision::ReconnectAt(r) = decision else {
                panic!("client {seed} stopped: {decision:?}")
            };
            assert_eq!(p.poll_timeout(), Some(r.at));
            assert!(p.handle_timeout(r.at), "the timer fires when due");
            herd.attempts.push(r.at.duration_since(lost));
            if r.at < back {
                decision = p.on_error(r.at, Cause::ConnectFailed);
            } else {
                assert_eq!(
                    p.on_response(r.at, StatusCode::OK, &stream),
                    Verdict::Stream
                );
                herd.streaming.push(r.at.duration_since(lost));
                break;
            }
        }
    }
    herd.streaming.sort();
    herd
}

fn bucket(t: Duration) -> usize {
    usize::try_from(t.as_nanos() / BUCKET.as_nanos()).expect("a small bucket index")
}

/// Attempts per 100 ms bucket since the drop.
fn histogram(attempts: &[Duration]) -> Vec<u32> {
    let last = attempts.iter().map(|t| bucket(*t)).max().unwrap_or(0);
    let mut counts = vec![0u32; last + 1];
    for t in attempts {
        counts[bucket(*t)] += 1;
    }
    counts
}

/// The histogram as rows of 10 buckets (one second each).
fn render(title: &str, counts: &[u32]) -> String {
    let mut out = format!("{title}\n     s |");
    for tenth in 0..10 {
        write!(out, "   .{tenth}").expect("writing to a String");
    }
    for (second, row) in counts.chunks(10).enumerate() {
        write!(out, "\n  {second:>4} |").expect("writing to a String");
        for n in row {
            write!(out, " {n:>4}").expect("writing to a String");
        }
    }
    out
}

/// The largest number of attempts in any 100 ms interval, wherever it
/// starts (not only on bucket boundaries), among `sorted` times.
fn sliding_max(sorted: &[Duration]) -> usize {
    let mut start = 0;
    let mut max = 0;
    for (end, t) in sorted.iter().enumerate() {
        while *t - sorted[start] >= BUCKET {
            start += 1;
        }
        max = max.max(end + 1 - start);
    }
    max
}

#[test]
fn server_back_at_once() {
    let h = herd(Duration::ZERO);
    let n = h.attempts.len();
    assert_eq!(n, CLIENTS as usize, "one attempt each: the server is up");
    let counts = histogram(&h.attempts);
    let max = *counts.iter().max().expect("attempts");
    let share = f64::from(max) / n as f64;
    let mut sorted = h.attempts.clone();
    sorted.sort();
    let sliding = sliding_max(&sorted) as f64 / n as f64;
    // The time by which 99 % of the clients stream again.
    let p99 = h.streaming[(n * 99).div_ceil(100) - 1];
    let p99_base = p99.as_secs_f64() / BASE.as_secs_f64();
    let first = h.streaming[0];
    let last = h.streaming[n - 1];
    println!(
        "{}",
        render(
            "run (a), server back at once: reconnection attempts per 100 ms since the drop",
            &counts
        )
    );
    println!(
        "run (a): max 100 ms window {max} of {n} attempts = {:.2} % (target <= 5 %; \
         any 100 ms interval: {:.2} %); 99 % streaming after {p99:.3?} = {p99_base:.2}x \
         the {BASE:?} base (target <= 3x); first {first:.3?}, last {last:.3?}",
        share * 100.0,
        sliding * 100.0,
    );
    assert!(
        share <= 0.05,
        "{:.2} % of the attempts in one window",
        share * 100.0
    );
    assert!(
        sliding <= 0.05,
        "{:.2} % of the attempts in 100 ms",
        sliding * 100.0
    );
    assert!(p99 <= BASE * 3, "99 % back only after {p99:?}");
    // Never sooner than the base.
    assert!(first >= BASE, "{first:?}");
}

#[test]
fn server_down_for_30_s() {
    let down = Duration::from_secs(30);
    let h = herd(down);
    let counts = histogram(&h.attempts);
    // The attempts in [5 s, 30 s): buckets 50..300.
    let (from, to) = (bucket(Duration::from_secs(5)), bucket(down));
    let period = &counts[from..to];
    let total: u32 = period.iter().sum();
    let mean = f64::from(total) / period.len() as f64;
    let max = *period.iter().max().expect("250 buckets");
    let ratio = f64::from(max) / mean;
    let mut in_period: Vec<Duration> = h
        .attempts
        .iter()
        .copied()
        .filter(|t| (Duration::from_secs(5)..down).contains(t))
        .collect();
    in_period.sort();
    let sliding = sliding_max(&in_period) as f64 / mean;
    let n = h.streaming.len();
    let p99 = h.streaming[(n * 99).div_ceil(100) - 1];
    println!(
        "{}",
        render(
            "run (b), server down for 30 s: reconnection attempts per 100 ms since the drop",
            &counts
        )
    );
    println!(
        "run (b): {} attempts in all, {total} in [5 s, 30 s): mean {mean:.1} per 100 ms, \
         max window {max} = {ratio:.2}x the mean (target <= 2x; any 100 ms interval: \
         {sliding:.2}x); 99 % streaming {:.3?} after the server was back",
        h.attempts.len(),
        p99.saturating_sub(down),
    );
    assert!(
        ratio <= 2.0,
        "a window holds {max} attempts, {ratio:.2}x the mean {mean:.1}"
    );
    assert!(
        sliding <= 2.0,
        "a 100 ms interval holds {sliding:.2}x the mean {mean:.1}"
    );
    // Every client is back, and none before the server.
    assert_eq!(n, CLIENTS as usize);
    assert!(h.streaming[0] >= down);
}
