//! End-to-end tests of `resse demo`: run the built binary (server, clients
//! and fault-injecting proxy in one process on loopback) and read its JSON
//! summary. The demo bounds its own run (--duration plus at most 10 s of
//! catching up); the tests bound the process again and kill it past that.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde_json::Value;

#[path = "support/redis.rs"]
mod redis;

use redis::Redis;

/// Runs `resse demo ARGS --json` and returns its exit code and summary.
fn demo(args: &[&str], limit: Duration) -> (i32, Value, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_resse"))
        .arg("demo")
        .args(args)
        .arg("--json")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start resse demo");
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut out = String::new();
        let mut err = String::new();
        let _ = stdout.read_to_string(&mut out);
        let _ = stderr.read_to_string(&mut err);
        let _ = tx.send((out, err));
    });
    let Ok((out, err)) = rx.recv_timeout(limit) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("resse demo {args:?} still running after {limit:?}");
    };
    let status = child.wait().expect("wait for resse demo");
    let summary: Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("the summary is not JSON ({e}): {out:?}; stderr: {err}"));
    (status.code().unwrap_or(-1), summary, err)
}

/// The kinds of fault every default run injects.
const KINDS: [&str; 9] = [
    "reset",
    "fin",
    "mid_event_cut",
    "half_open_stall",
    "duplicate_connection",
    "slow_reader",
    "server_crash",
    "herd_restart",
    "wedged_server",
];

#[test]
fn every_fault_kind_is_injected_and_nothing_is_lost() {
    let (code, summary, err) = demo(
        &[
            "--duration",
            "16",
            "--clients",
            "12",
            "--faults",
            "18",
            "--seed",
            "7",
        ],
        Duration::from_secs(60),
    );
    let events = &summary["events"];
    assert_eq!(code, 0, "{summary:#}\n{err}");
    assert_eq!(summary["passed"], true);
    assert!(
        // 200 a second for 10 s, but for the 3.5 s of the wedge.
        events["published"].as_u64().unwrap() >= 1_200,
        "{summary:#}"
    );
    assert_eq!(events["lost"], 0);
    assert_eq!(events["duplicated"], 0);
    assert_eq!(events["out_of_order"], 0);
    assert_eq!(events["received"], events["expected"]);
    assert!(summary["faults_injected"].as_u64().unwrap() >= 14);
    assert_eq!(
        summary["kinds_not_injected"],
        Value::Array(Vec::new()),
        "{summary:#}"
    );
    for kind in KINDS {
        let injected = summary["faults"][kind]["injected"].as_u64().unwrap();
        assert!(injected >= 1, "{kind} was not injected: {summary:#}");
    }
    // The server fault hit every client, and each came back.
    let herd = &summary["faults"]["herd_restart"];
    assert!(herd["clients_hit"].as_u64().unwrap() >= 1, "{summary:#}");
    // The wedged server (keep-alives only) was seen by the probe, within
    // its interval + timeout (+10%).
    let wedge = &summary["wedged_server_detection_ms"];
    assert!(wedge["detected"].as_u64().unwrap() >= 1, "{wedge}");
    let bound = wedge["probe_interval_plus_timeout"].as_u64().unwrap();
    assert!(wedge["max"].as_u64().unwrap() <= bound * 11 / 10, "{wedge}");
    // Each stall was seen by the idle timeout or sooner by the probe (plus
    // scheduling slack).
    let half_open = &summary["half_open_detection_ms"];
    assert_eq!(
        half_open["detected"],
        summary["faults"]["half_open_stall"]["injected"]
    );
    assert!(half_open["max"].as_u64().unwrap() <= 4_500, "{half_open}");
    // The server superseded each duplicate connection.
    let server = &summary["server"];
    assert!(server["supersessions"].as_u64().unwrap() >= 2, "{server}");
    assert_eq!(server["orphaned_connections_left_open"], 0, "{server}");
    // A subscriber that stops reading is dropped by the server's lag limit,
    // or, now that clients probe, often first left by its client (its probe
    // answers stop too); either way every one recovered.
    let slow = &summary["faults"]["slow_reader"];
    assert!(
        server["slow_subscribers_dropped"].as_u64().unwrap() >= 1
            || slow["recovered"] == slow["clients_hit"],
        "{server} {slow}"
    );
}

/// The checker can fail: when an intermediary strips `Last-Event-ID`, clients
/// that reconnect miss what was published while they were away, and the demo
/// says so.
#[test]
fn a_proxy_stripping_last_event_id_makes_the_check_report_loss_and_fail() {
    let (code, summary, err) = demo(
        &[
            "--duration",
            "6",
            "--clients",
            "8",
            "--faults",
            "8",
            "--seed",
            "3",
            "--strip-last-event-id",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(code, 1, "{summary:#}\n{err}");
    assert_eq!(summary["passed"], false);
    assert!(
        summary["events"]["lost"].as_u64().unwrap() > 0,
        "{summary:#}"
    );
    assert!(!summary["failing_clients"].as_array().unwrap().is_empty());
}

#[test]
fn help_explains_the_run() {
    let out = Command::new(env!("CARGO_BIN_EXE_resse"))
        .args(["demo", "--help"])
        .output()
        .expect("run resse demo --help");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for needle in [
        "--duration",
        "--rate",
        "--clients",
        "--seed",
        "--json",
        "half-open",
        "Exit status",
    ] {
        assert!(
            help.contains(needle),
            "{needle} missing from --help:\n{help}"
        );
    }
}

/// Checks a multi-node run: passed, nothing lost, every kind injected.
fn assert_clean_multi_node_run(code: i32, summary: &Value, err: &str, shared_log: &str) {
    assert_eq!(code, 0, "{summary:#}\n{err}");
    assert_eq!(summary["passed"], true);
    assert_eq!(summary["nodes"], 3);
    assert_eq!(summary["shared_log"], shared_log);
    let events = &summary["events"];
    assert!(
        events["published"].as_u64().unwrap() >= 1_000,
        "{summary:#}"
    );
    assert_eq!(events["lost"], 0);
    assert_eq!(events["duplicated"], 0);
    assert_eq!(events["out_of_order"], 0);
    assert_eq!(events["reloads"], 0, "no position may be lost: {summary:#}");
    assert_eq!(
        summary["kinds_not_injected"],
        Value::Array(Vec::new()),
        "{summary:#}"
    );
    // The crashed node was replaced by a fresh one, which resumed its
    // clients from the shared log.
    assert!(
        summary["faults"]["server_crash"]["injected"]
            .as_u64()
            .unwrap()
            >= 1
    );
}

#[test]
fn three_nodes_over_an_in_process_log_lose_nothing() {
    let (code, summary, err) = demo(
        &[
            "--nodes",
            "3",
            "--duration",
            "12",
            "--clients",
            "12",
            "--faults",
            "12",
            "--seed",
            "11",
        ],
        Duration::from_secs(60),
    );
    assert_clean_multi_node_run(code, &summary, &err, "memory");
}

#[test]
fn three_nodes_over_redis_lose_nothing_through_node_and_redis_faults() {
    let redis = Redis::start();
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let (code, summary, err) = demo(
        &[
            "--nodes",
            "3",
            "--redis",
            &url,
            "--duration",
            "12",
            "--clients",
            "12",
            "--faults",
            "12",
            "--seed",
            "5",
        ],
        Duration::from_secs(60),
    );
    assert_clean_multi_node_run(code, &summary, &err, "redis");
    assert_eq!(
        summary["faults"]["redis_outage"]["injected"], 1,
        "{summary:#}"
    );
}
