//! The demo's live progress line, its check of what every client received,
//! and the summary (a table, or one JSON object).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

use super::proxy::Proxy;
use super::{
    CONNECTING, ClientLog, Demo, FaultKind, IDLE_TIMEOUT, OPEN, PROBE_INTERVAL, PROBE_TIMEOUT,
    RECONNECTING,
};
use crate::serve::lock;
use resse_tokio::server::BroadcastStats;

/// The progress display on stderr (drawn only when stderr is a terminal).
pub(super) struct Progress {
    bar: ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl Progress {
    /// Starts drawing: elapsed time against `duration`, events published and
    /// delivered, faults so far, clients connected and reconnecting.
    pub(super) fn start(demo: Arc<Demo>, duration: Duration) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(duration.as_millis() as u64),
            ProgressDrawTarget::stderr_with_hz(10),
        );
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed:>3} [{bar:24}] {prefix}{msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let started = Instant::now();
        let shown = bar.clone();
        let ticker = tokio::spawn(async move {
            loop {
                shown.set_position(started.elapsed().as_millis() as u64);
                shown.set_message(status_line(&demo));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Self { bar, ticker }
    }

    /// Says that publishing stopped and clients are catching up.
    pub(super) fn settling(&self) {
        self.bar.set_prefix("catching up · ");
    }

    /// Clears the display.
    pub(super) fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}

/// `published 1,200 · delivered 59,800 · faults 12 · clients 48 up, 2 reconnecting`.
fn status_line(demo: &Demo) -> String {
    let mut up = 0;
    let mut down = 0;
    for client in &demo.clients {
        match client.state.load(Ordering::Relaxed) {
            OPEN => up += 1,
            RECONNECTING | CONNECTING => down += 1,
            _ => {}
        }
    }
    format!(
        "published {} · delivered {} · faults {} · clients {up} up, {down} reconnecting",
        thousands(demo.published.load(Ordering::Relaxed)),
        thousands(demo.delivered.load(Ordering::Relaxed)),
        demo.injected(),
    )
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What the summary is made from.
pub(super) struct Inputs<'a> {
    pub(super) demo: &'a Demo,
    pub(super) proxy: &'a Proxy,
    /// The counters of every node that served.
    pub(super) stats: BroadcastStats,
    pub(super) nodes: usize,
    pub(super) redis: bool,
    pub(super) herd_at: Option<Instant>,
    pub(super) seed: u64,
    pub(super) rate: u32,
    pub(super) duration: Duration,
    pub(super) elapsed: Duration,
    pub(super) replay: usize,
}

/// The check of one client's sequence against the published one.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Check {
    /// Events the client should have received.
    pub(super) expected: u64,
    pub(super) received: u64,
    pub(super) lost: u64,
    pub(super) duplicated: u64,
    pub(super) out_of_order: u64,
}

impl std::ops::AddAssign for Check {
    fn add_assign(&mut self, other: Self) {
        self.expected += other.expected;
        self.received += other.received;
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.out_of_order += other.out_of_order;
    }
}

/// Checks `received` (sequence numbers in arrival order) against the
/// events `1..=last`: the client must have every event from its first one
/// on, once, in order. A number that was never published (0 stands for an
/// event without a number) counts as out of order.
pub(super) fn check(received: &[u64], last: u64) -> Check {
    let Some(&first) = received.first() else {
        // Connected before the first event (the demo waits for that), so
        // every published event was due.
        return Check {
            expected: last,
            lost: last,
            ..Check::default()
        };
    };
    let first = first.clamp(1, last.max(1));
    let span = usize::try_from(last.saturating_sub(first) + 1).unwrap_or(usize::MAX);
    let mut seen = vec![false; span];
    let mut result = Check {
        expected: span as u64,
        received: received.len() as u64,
        ..Check::default()
    };
    let mut highest = 0;
    for &n in received {
        if n < first || n > last {
            result.out_of_order += 1;
            continue;
        }
        let slot = &mut seen[(n - first) as usize];
        if *slot {
            result.duplicated += 1;
            continue;
        }
        *slot = true;
        if n < highest {
            result.out_of_order += 1;
        }
        highest = highest.max(n);
    }
    result.lost = seen.iter().filter(|s| !**s).count() as u64;
    result
}

/// The run's figures.
pub(super) struct Summary {
    json: Value,
    table: String,
    passed: bool,
}

impl Summary {
    pub(super) fn json(&self) -> String {
        self.json.to_string()
    }

    pub(super) fn table(&self) -> &str {
        &self.table
    }

    /// Nothing lost, duplicated or reordered.
    pub(super) fn passed(&self) -> bool {
        self.passed
    }
}

/// The `p`-quantile (0..=1) of `values`, by the nearest rank.
fn quantile(values: &mut [Duration], p: f64) -> Option<Duration> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

fn ms(d: Option<Duration>) -> Value {
    d.map_or(Value::Null, |d| json!(d.as_millis() as u64))
}

fn show(d: Option<Duration>) -> String {
    d.map_or_else(
        || "-".to_owned(),
        |d| format!("{} ms", thousands(d.as_millis() as u64)),
    )
}

/// The most accepted connections in any 100 ms window of the 5 s after the
/// herd restart, and how many there were in those 5 s.
fn busiest_window(accepted: &[Instant], herd_at: Instant) -> (usize, usize) {
    let mut times: Vec<Instant> = accepted
        .iter()
        .copied()
        .filter(|&t| t >= herd_at && t < herd_at + Duration::from_secs(5))
        .collect();
    times.sort_unstable();
    let mut best = 0;
    let mut j = 0;
    for i in 0..times.len() {
        while times[j] + Duration::from_millis(100) <= times[i] {
            j += 1;
        }
        best = best.max(i - j + 1);
    }
    (best, times.len())
}

/// Checks every client and gathers the figures.
pub(super) fn summarize(inputs: &Inputs<'_>) -> Summary {
    let demo = inputs.demo;
    let last = demo.published.load(Ordering::Relaxed);
    let mut total = Check::default();
    let mut failing: Vec<(&ClientLog, Check)> = Vec::new();
    let mut reloads = 0;
    for client in &demo.clients {
        let one = check(&lock(&client.received), last);
        reloads += client.reloads.load(Ordering::Relaxed);
        if one.lost + one.duplicated + one.out_of_order > 0 {
            failing.push((client, one));
        }
        total += one;
    }
    let passed = total.lost + total.duplicated + total.out_of_order == 0;
    let faults = lock(&demo.faults).clone();
    let hit = lock(&demo.hit).clone();
    let mut recovery = lock(&demo.recovery).clone();
    let mut half_open = lock(&demo.half_open).clone();
    let causes = lock(&demo.causes).clone();
    let stats = inputs.stats;
    let herd = inputs
        .herd_at
        .map(|at| busiest_window(&lock(&inputs.proxy.accepted), at));
    let down = inputs.proxy.down_bytes.load(Ordering::Relaxed);
    let up = inputs.proxy.up_bytes.load(Ordering::Relaxed);
    let orphans_ended = inputs.proxy.orphans_ended.load(Ordering::Relaxed);
    let orphans_kept = inputs.proxy.orphans_kept.load(Ordering::Relaxed);

    let mut fault_rows = Vec::new();
    let mut fault_json = serde_json::Map::new();
    for kind in FaultKind::all(inputs.redis) {
        let injected = faults.get(&kind).copied().unwrap_or(0);
        let clients = hit.get(&kind).copied().unwrap_or(0);
        let times = recovery.entry(kind).or_default();
        let recovered = times.len();
        let p50 = quantile(times, 0.5);
        let p99 = quantile(times, 0.99);
        fault_json.insert(
            kind.key().to_owned(),
            json!({ "injected": injected, "clients_hit": clients, "recovered": recovered, "p50_ms": ms(p50), "p99_ms": ms(p99) }),
        );
        fault_rows.push((kind, injected, clients, recovered, p50, p99));
    }
    let injected: u64 = faults.values().sum();
    let half_p50 = quantile(&mut half_open, 0.5);
    let half_max = half_open.last().copied();
    let mut wedge: Vec<Duration> = lock(&demo.wedge_detect).values().copied().collect();
    let wedge_p50 = quantile(&mut wedge, 0.5);
    let wedge_max = wedge.last().copied();
    let wedge_hit = hit.get(&FaultKind::Wedge).copied().unwrap_or(0);
    let probe_bound = PROBE_INTERVAL + PROBE_TIMEOUT;

    let json = json!({
        "passed": passed,
        "seed": inputs.seed,
        "clients": demo.clients.len(),
        "rate": inputs.rate,
        "duration_ms": inputs.duration.as_millis() as u64,
        "elapsed_ms": inputs.elapsed.as_millis() as u64,
        "replay": inputs.replay,
        "nodes": inputs.nodes,
        "shared_log": if inputs.redis { "redis" } else if inputs.nodes > 1 { "memory" } else { "none" },
        "publish_retries": demo.publish_retries.load(Ordering::Relaxed),
        "events": {
            "published": last,
            "expected": total.expected,
            "received": total.received,
            "lost": total.lost,
            "duplicated": total.duplicated,
            "out_of_order": total.out_of_order,
            "reloads": reloads,
        },
        "faults_injected": injected,
        "kinds_not_injected": fault_rows.iter().filter(|row| row.1 == 0).map(|row| row.0.key()).collect::<Vec<_>>(),
        "faults": fault_json,
        "reconnects_by_cause": causes,
        "half_open_detection_ms": {
            "detected": half_open.len(),
            "p50": ms(half_p50),
            "max": ms(half_max),
            "idle_timeout": IDLE_TIMEOUT.as_millis() as u64,
        },
        "wedged_server_detection_ms": {
            "detected": wedge.len(),
            "clients_hit": wedge_hit,
            "p50": ms(wedge_p50),
            "max": ms(wedge_max),
            "probe_interval_plus_timeout": probe_bound.as_millis() as u64,
        },
        "herd": herd.map(|(busiest, reconnects)| json!({
            "reconnects": reconnects,
            "busiest_100ms": busiest,
            "busiest_share": if reconnects == 0 { 0.0 } else { busiest as f64 / reconnects as f64 },
        })),
        "server": {
            "supersessions": stats.replaced,
            "slow_subscribers_dropped": stats.lagged,
            "orphaned_connections_ended": orphans_ended,
            "orphaned_connections_left_open": orphans_kept,
        },
        "bytes": { "server_to_clients": down, "clients_to_server": up },
        "failing_clients": failing.iter().map(|(c, k)| json!({
            "client": c.id, "lost": k.lost, "duplicated": k.duplicated, "out_of_order": k.out_of_order,
        })).collect::<Vec<_>>(),
    });

    let mut t = String::new();
    let _ = writeln!(
        t,
        "resse demo: {} clients, {}{} s at {} events/s through a fault-injecting proxy (seed {}; run again with --seed {})",
        demo.clients.len(),
        match (inputs.nodes, inputs.redis) {
            (n, true) => format!("{n} node(s) sharing a Redis stream, "),
            (1, false) => String::new(),
            (n, false) => format!("{n} nodes sharing an in-process log, "),
        },
        inputs.duration.as_secs_f64(),
        inputs.rate,
        inputs.seed,
        inputs.seed,
    );
    let _ = writeln!(t);
    let _ = writeln!(t, "Events");
    let rows = [
        ("published", last),
        ("due to the clients", total.expected),
        ("received", total.received),
        ("lost", total.lost),
        ("duplicated", total.duplicated),
        ("out of order", total.out_of_order),
    ];
    for (name, n) in rows {
        let _ = writeln!(t, "  {name:<34}{:>12}", thousands(n));
    }
    if reloads > 0 {
        let _ = writeln!(
            t,
            "  {:<34}{:>12}",
            "`reload` (no exact replay possible)",
            thousands(reloads)
        );
    }
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "{:<36}{:>8}{:>8}{:>10}   fault → first byte of the next connection",
        "Faults", "injected", "clients", "recovered"
    );
    for (kind, injected, clients, recovered, p50, p99) in &fault_rows {
        let _ = writeln!(
            t,
            "  {:<34}{:>8}{:>8}{:>10}   p50 {:>9}   p99 {:>9}",
            kind.describe(),
            injected,
            clients,
            recovered,
            show(*p50),
            show(*p99),
        );
    }
    let _ = writeln!(t, "  {:<34}{:>8}", "total", injected);
    let missing: Vec<&str> = fault_rows
        .iter()
        .filter(|row| row.1 == 0)
        .map(|row| row.0.key())
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(
            t,
            "  not injected: {} (too short a run for its faults: give it a longer --duration)",
            missing.join(", ")
        );
    }
    let _ = writeln!(t);
    let _ = writeln!(t, "Reconnects by cause (client side)");
    for (cause, n) in &causes {
        let _ = writeln!(t, "  {cause:<34}{:>8}", thousands(*n));
    }
    let _ = writeln!(t);
    let _ = writeln!(t, "Detection and recovery");
    let _ = writeln!(
        t,
        "  {:<34}{} of {} stalls; p50 {}, max {} (idle timeout {} ms, probe {} ms)",
        "half-open connections detected",
        half_open.len(),
        faults
            .get(&FaultKind::Conn(super::ConnFault::Stall))
            .copied()
            .unwrap_or(0),
        show(half_p50),
        show(half_max),
        IDLE_TIMEOUT.as_millis(),
        (PROBE_INTERVAL + PROBE_TIMEOUT).as_millis()
    );
    let _ = writeln!(
        t,
        "  {:<34}{} of {} clients; p50 {}, max {} (probe interval + timeout {} ms)",
        "wedged server detected (probe)",
        wedge.len(),
        wedge_hit,
        show(wedge_p50),
        show(wedge_max),
        probe_bound.as_millis()
    );
    if let Some((busiest, reconnects)) = herd {
        let share = if reconnects == 0 {
            0.0
        } else {
            100.0 * busiest as f64 / reconnects as f64
        };
        let _ = writeln!(
            t,
            "  {:<34}{busiest} of {reconnects} reconnects ({share:.0}%) in the busiest 100 ms window",
            "herd restart"
        );
    }
    let _ = writeln!(
        t,
        "  {:<34}{} (orphaned connections ended by the server: {orphans_ended}, left open: {orphans_kept})",
        "supersessions (server)", stats.replaced
    );
    let _ = writeln!(
        t,
        "  {:<34}{}",
        "slow subscribers dropped (server)", stats.lagged
    );
    let retries = demo.publish_retries.load(Ordering::Relaxed);
    if retries > 0 {
        let _ = writeln!(
            t,
            "  {:<34}{} (a node or the shared log was down; each published later)",
            "publications retried",
            thousands(retries)
        );
    }
    let _ = writeln!(
        t,
        "  {:<34}{:.1} MiB to the clients, {:.1} KiB to the server",
        "bytes on the wire",
        down as f64 / (1024.0 * 1024.0),
        up as f64 / 1024.0
    );
    let _ = writeln!(t);
    if passed {
        let _ = writeln!(
            t,
            "PASS: every client received every event from its first one on, exactly once and in order, through {injected} faults ({:.1} s).",
            inputs.elapsed.as_secs_f64()
        );
    } else {
        let _ = writeln!(
            t,
            "FAIL: {} lost, {} duplicated, {} out of order, in {} of {} clients (first: {}).",
            thousands(total.lost),
            thousands(total.duplicated),
            thousands(total.out_of_order),
            failing.len(),
            demo.clients.len(),
            failing
                .iter()
                .take(5)
                .map(|(c, _)| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Summary {
        json,
        table: t,
        passed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_counts_each_kind_of_damage() {
        assert_eq!(
            check(&[1, 2, 3], 3),
            Check {
                expected: 3,
                received: 3,
                ..Check::default()
            }
        );
        // A client that joined at 5 owes nothing before it.
        assert_eq!(check(&[5, 6], 6).lost, 0);
        let lost = check(&[1, 2, 4], 5);
        assert_eq!((lost.lost, lost.duplicated, lost.out_of_order), (2, 0, 0));
        let dup = check(&[1, 2, 2, 3], 3);
        assert_eq!((dup.lost, dup.duplicated, dup.out_of_order), (0, 1, 0));
        let swapped = check(&[1, 3, 2], 3);
        assert_eq!(
            (swapped.lost, swapped.duplicated, swapped.out_of_order),
            (0, 0, 1)
        );
        // An event that was never published (or has no number).
        assert_eq!(check(&[1, 0, 2], 2).out_of_order, 1);
        assert_eq!(check(&[], 4).lost, 4);
        assert_eq!(check(&[], 0), Check::default());
    }

    #[test]
    fn quantiles_and_windows() {
        let mut v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&mut v, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(quantile(&mut v, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(quantile(&mut [], 0.5), None);
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let accepted = [at(0), at(10), at(50), at(99), at(100), at(300), at(6000)];
        assert_eq!(busiest_window(&accepted, t0), (4, 6));
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
    }
}
