//! Property tests for both timers with fake time (one start instant plus
//! durations, never sleeping): they never fire early, fire once per silence,
//! and fire as soon as they are due.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use resse_heartbeat::{IdleConfig, IdleWatchdog, KeepAlive, KeepAliveConfig, Liveness};

#[derive(Clone, Copy, Debug)]
enum Op {
    /// Bytes received (watchdog) or sent (keep-alive).
    Bytes,
    /// A timer call, possibly early, late or spurious.
    Timeout,
    /// Poll the deadline and call `handle_timeout` exactly at it.
    TimeoutAtDeadline,
    /// Watchdog only: re-arm (new connection).
    Reset,
    /// Watchdog only: stop watching.
    Disarm,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Bytes),
        4 => Just(Op::Timeout),
        2 => Just(Op::TimeoutAtDeadline),
        1 => Just(Op::Reset),
        1 => Just(Op::Disarm),
    ]
}

/// Steps: an operation after `dt` microseconds (monotone time).
fn steps() -> impl Strategy<Value = Vec<(Op, u64)>> {
    prop::collection::vec((op(), 0u64..3_000_000), 0..60)
}

proptest! {
    #[test]
    fn watchdog_matches_model(timeout_ms in 1u64..2_000, steps in steps()) {
        let timeout = Duration::from_millis(timeout_ms);
        let t0 = Instant::now();
        let mut w = IdleWatchdog::new(t0, IdleConfig::new(timeout));
        // Model: when the current silence started; whether a death was
        // reported for it; whether the watchdog watches at all.
        let mut silence_start = t0;
        let mut reported = false;
        let mut armed = true;
        let mut now = t0;
        for (op, dt) in steps {
            now += Duration::from_micros(dt);
            match op {
                Op::Bytes => {
                    w.on_bytes_received(now);
                    if armed && !reported {
                        silence_start = now;
                    }
                }
                Op::Timeout | Op::TimeoutAtDeadline => {
                    if let (Op::TimeoutAtDeadline, Some(deadline)) = (op, w.poll_timeout()) {
                        now = now.max(deadline);
                    }
                    let due = armed && !reported && now >= silence_start + timeout;
                    let got = w.handle_timeout(now);
                    if got == Liveness::Dead {
                        // Never early, never twice per silence.
                        prop_assert!(armed && !reported);
                        prop_assert!(now.duration_since(silence_start) >= timeout);
                        reported = true;
                    }
                    // Fires as soon as it is due.
                    prop_assert_eq!(got == Liveness::Dead, due);
                }
                Op::Reset => {
                    w.reset(now);
                    silence_start = now;
                    reported = false;
                    armed = true;
                }
                Op::Disarm => {
                    w.disarm();
                    armed = false;
                    reported = false;
                }
            }
            prop_assert_eq!(w.is_dead(), armed && reported);
            let expected_deadline = (armed && !reported).then(|| silence_start + timeout);
            prop_assert_eq!(w.poll_timeout(), expected_deadline);
        }
    }

    #[test]
    fn keepalive_matches_model(interval_ms in 1u64..2_000, steps in steps()) {
        let interval = Duration::from_millis(interval_ms);
        let t0 = Instant::now();
        let mut ka = KeepAlive::new(t0, KeepAliveConfig::new(interval));
        // Model: last instant anything (data or keep-alive) went out.
        let mut last = t0;
        let mut now = t0;
        for (op, dt) in steps {
            now += Duration::from_micros(dt);
            match op {
                Op::Bytes | Op::Reset | Op::Disarm => {
                    ka.on_bytes_sent(now);
                    last = now;
                }
                Op::Timeout | Op::TimeoutAtDeadline => {
                    if let Op::TimeoutAtDeadline = op {
                        now = now.max(ka.poll_timeout().expect("always armed"));
                    }
                    let due = now >= last + interval;
                    let got = ka.handle_timeout(now);
                    if got.is_some() {
                        // Never early: a full quiet interval since the last send.
                        prop_assert!(now.duration_since(last) >= interval);
                        last = now;
                    }
                    prop_assert_eq!(got.is_some(), due);
                    // Once per quiet interval: an immediate second call is empty.
                    prop_assert!(ka.handle_timeout(now).is_none());
                }
            }
            prop_assert_eq!(ka.poll_timeout(), Some(last + interval));
        }
    }

    #[test]
    fn keepalive_count_over_a_silence(interval_ms in 1u64..10_000, silence_ms in 0u64..100_000) {
        // Polled exactly at every deadline, a silence of `s` yields
        // floor(s / interval) keep-alives.
        let interval = Duration::from_millis(interval_ms);
        let t0 = Instant::now();
        let end = t0 + Duration::from_millis(silence_ms);
        let mut ka = KeepAlive::new(t0, KeepAliveConfig::new(interval));
        let mut sent = 0u64;
        while let Some(deadline) = ka.poll_timeout().filter(|d| *d <= end) {
            prop_assert!(ka.handle_timeout(deadline - Duration::from_nanos(1)).is_none());
            prop_assert!(ka.handle_timeout(deadline).is_some());
            sent += 1;
        }
        prop_assert_eq!(sent, silence_ms / interval_ms);
    }
}
