//! Property tests of the reconnection policy's invariants, on fake time (one
//! start instant plus durations): delays within their documented bounds
//! (for decorrelated jitter, within the exact range of each attempt),
//! deterministic per seed, outage counters reset only after a healthy period,
//! limits honoured, the timer never early and fired once.

use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, StatusCode};
use proptest::prelude::*;
use resse_reconnect::{
    Cause, Decision, Jitter, Reconnect, ReconnectConfig, ReconnectPolicy, StopReason, Verdict,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        1 => Just(Jitter::None),
        1 => Just(Jitter::Full),
        1 => Just(Jitter::Equal),
        1 => Just(Jitter::Spread(1.0)),
        1 => (0.0f64..4.0).prop_map(Jitter::Spread),
        3 => Just(Jitter::Decorrelated(2.5)),
        2 => (1.0f64..4.0).prop_map(Jitter::Decorrelated),
        1 => Just(Jitter::Decorrelated(1.0)),
    ]
}

fn multiplier() -> impl Strategy<Value = f64> {
    prop_oneof![Just(1.0), Just(2.0), Just(3.0), 1.0f64..4.0]
}

fn config() -> impl Strategy<Value = ReconnectConfig> {
    (
        (
            any::<u64>(),
            0u64..5_000,
            1u64..60_000,
            multiplier(),
            jitter(),
        ),
        (1u64..500, 0u64..10_000_000),
        (
            prop::option::of(0u32..12),
            prop::option::of(0u64..300_000),
            0u64..20_000,
            0u32..4,
        ),
    )
        .prop_map(
            |(
                (seed, initial, max, mult, jitter),
                (floor, ceiling_extra),
                (attempts, elapsed, healthy, redirects),
            )| {
                ReconnectConfig::default()
                    .seed(seed)
                    .initial_delay(ms(initial))
                    .max_delay(ms(max))
                    .multiplier(mult)
                    .jitter(jitter)
                    .floor(ms(floor))
                    .ceiling(ms(floor + ceiling_extra))
                    .max_attempts(attempts)
                    .max_elapsed(elapsed.map(ms))
                    .min_healthy(ms(healthy))
                    .max_redirects(redirects)
            },
        )
}

#[derive(Clone, Debug)]
enum Op {
    Advance(u64),
    /// A response: status, whether the content type is right, Retry-After seconds.
    Response(u16, bool, Option<u64>),
    Retry(u64),
    Error(usize),
    Timeout,
    /// Jump to the pending reconnection and fire the timer.
    WaitUntilDue,
    Reset,
}

const CAUSES: [Cause; 6] = [
    Cause::EndOfBodyClean,
    Cause::EndOfBodyMidEvent,
    Cause::Io,
    Cause::IdleTimeout,
    Cause::ConnectFailed,
    Cause::Status(StatusCode::BAD_GATEWAY),
];

fn op() -> impl Strategy<Value = Op> {
    let status = prop::sample::select(vec![200u16, 200, 200, 204, 302, 404, 408, 429, 500, 503]);
    prop_oneof![
        3 => (0u64..60_000).prop_map(Op::Advance),
        4 => (status, prop::bool::weighted(0.9), prop::option::of(0u64..20_000))
            .prop_map(|(s, ok, ra)| Op::Response(s, ok, ra)),
        1 => prop_oneof![0u64..10_000, 0u64..100_000_000].prop_map(Op::Retry),
        4 => (0..CAUSES.len()).prop_map(Op::Error),
        1 => Just(Op::Timeout),
        3 => Just(Op::WaitUntilDue),
        1 => Just(Op::Reset),
    ]
}

fn headers(ok_type: bool, retry_after: Option<u64>) -> HeaderMap {
    let mut h = HeaderMap::new();
    let ct = if ok_type {
        "text/event-stream; charset=utf-8"
    } else {
        "text/plain"
    };
    h.insert("content-type", HeaderValue::from_static(ct));
    h.insert("location", HeaderValue::from_static("/elsewhere"));
    if let Some(s) = retry_after {
        h.insert("retry-after", HeaderValue::from(s));
    }
    h
}

/// The test's own bookkeeping of what the policy must do.
struct Model {
    config: ReconnectConfig,
    attempt: u32,
    outage_start: Option<Instant>,
    connected_since: Option<Instant>,
    server_retry: Option<Duration>,
    /// The delay of the previous attempt of the outage.
    prev_delay: Option<Duration>,
    pending: Option<Instant>,
    redirects: u32,
}

impl Model {
    fn end_connection(&mut self, now: Instant) {
        if let Some(since) = self.connected_since.take() {
            if now.duration_since(since) >= self.config.get_min_healthy() {
                self.attempt = 0;
                self.prev_delay = None;
                self.outage_start = None;
            }
        }
    }

    /// Checks one failure's outcome; `ra` is the Retry-After asked for.
    fn check_failure(
        &mut self,
        now: Instant,
        cause: Cause,
        ra: Option<Duration>,
        outcome: &Verdict,
    ) -> Result<(), TestCaseError> {
        let c = self.config.clone();
        let start = *self.outage_start.get_or_insert(now);
        let next = self.attempt + 1;
        match outcome {
            Verdict::Stop(StopReason::AttemptLimit { attempts }) => {
                prop_assert!(c.get_max_attempts().is_some_and(|m| next > m));
                prop_assert_eq!(*attempts, self.attempt);
            }
            Verdict::Stop(StopReason::ElapsedLimit { elapsed, attempts }) => {
                prop_assert!(c.get_max_elapsed().is_some());
                prop_assert!(c.get_max_attempts().is_none_or(|m| next <= m));
                prop_assert_eq!(*elapsed, now.duration_since(start));
                prop_assert_eq!(*attempts, self.attempt);
            }
            Verdict::ReconnectAt(r) => {
                self.check_reconnect(now, start, cause, ra, r)?;
                self.attempt = next;
                self.prev_delay = Some(r.delay);
                self.pending = Some(r.at);
            }
            other => prop_assert!(false, "a failure gave {:?}", other),
        }
        Ok(())
    }

    fn check_reconnect(
        &self,
        now: Instant,
        start: Instant,
        cause: Cause,
        ra: Option<Duration>,
        r: &Reconnect,
    ) -> Result<(), TestCaseError> {
        let c = &self.config;
        prop_assert_eq!(
            r.attempt,
            self.attempt + 1,
            "attempts count up within an outage"
        );
        prop_assert_eq!(r.cause, cause);
        prop_assert_eq!(r.at, now + r.delay);
        // Limits.
        if let Some(max) = c.get_max_attempts() {
            prop_assert!(r.attempt <= max);
        }
        if let Some(limit) = c.get_max_elapsed() {
            prop_assert!(r.at.duration_since(start) <= limit);
        }
        // Bounds.
        let base = self
            .server_retry
            .unwrap_or(c.get_initial_delay())
            .clamp(c.get_floor(), c.get_ceiling());
        let ra = ra.unwrap_or(Duration::ZERO).min(c.get_ceiling());
        prop_assert!(r.delay >= c.get_floor(), "below the floor: {:?}", r.delay);
        prop_assert!(
            r.delay >= ra,
            "before Retry-After: {:?} < {:?}",
            r.delay,
            ra
        );
        let cap = c.get_max_delay().max(base);
        if let Jitter::Decorrelated(g) = c.get_jitter() {
            // The exact range: [base, min(cap, g × max(prev, base))), shifted
            // up to start at max(floor, Retry-After), keeping its width.
            let prev = self.prev_delay.unwrap_or(base).max(base);
            let hi = prev.mul_f64(g).min(cap).max(base);
            let not_before = c.get_floor().max(ra);
            let (lo, hi) = if base < not_before {
                (not_before, hi + (not_before - base))
            } else {
                (base, hi)
            };
            prop_assert!(r.delay >= base, "below the base: {:?}", r.delay);
            prop_assert!(r.delay >= lo, "{:?} below {:?}", r.delay, lo);
            let tolerance = Duration::from_micros(1); // f64 rounding of g × prev
            prop_assert!(
                r.delay == lo || r.delay < hi + tolerance,
                "{:?} not in [{:?}, {:?})",
                r.delay,
                lo,
                hi
            );
            // The documented bounds: ≤ cap without a Retry-After above the
            // base, ≤ ra + cap - base with one.
            if ra <= base {
                prop_assert!(r.delay <= cap, "{:?} above the cap {:?}", r.delay, cap);
            } else {
                let bound = ra + (cap - base);
                prop_assert!(r.delay <= bound, "{:?} above {:?}", r.delay, bound);
            }
            return Ok(());
        }
        let w = match c.get_jitter() {
            Jitter::None => 0.0,
            Jitter::Spread(s) => {
                prop_assert!(r.delay >= base, "Spread below the base: {:?}", r.delay);
                s
            }
            Jitter::Full => 1.0,
            Jitter::Equal => 0.5,
            _ => unreachable!("no other modes generated"),
        };
        if c.get_jitter() == Jitter::None {
            prop_assert!(r.delay >= base);
        }
        let step_max = c.get_max_delay().max(base).max(ra);
        let bound = step_max.mul_f64(1.0 + w) + Duration::from_micros(1);
        prop_assert!(r.delay <= bound, "{:?} above {:?}", r.delay, bound);
        Ok(())
    }
}

/// Runs the ops, checking every output against the model; returns the
/// outputs for the determinism check.
fn run(t0: Instant, config: &ReconnectConfig, ops: &[Op]) -> Result<Vec<String>, TestCaseError> {
    let mut now = t0;
    let mut p = ReconnectPolicy::new(config.clone()).expect("generated configs are valid");
    let mut m = Model {
        config: config.clone(),
        attempt: 0,
        outage_start: None,
        connected_since: None,
        server_retry: None,
        prev_delay: None,
        pending: None,
        redirects: 0,
    };
    let mut log = Vec::new();
    for op in ops {
        match *op {
            Op::Advance(d) => now += ms(d),
            Op::Retry(d) => {
                p.on_retry(ms(d));
                m.server_retry = Some(ms(d));
            }
            Op::Timeout | Op::WaitUntilDue => {
                if let (Op::WaitUntilDue, Some(at)) = (op, p.poll_timeout()) {
                    now = now.max(at);
                }
                let due = m.pending.is_some_and(|at| now >= at);
                let fired = p.handle_timeout(now);
                prop_assert_eq!(fired, due, "timer fired early, late or twice");
                if fired {
                    m.pending = None;
                    prop_assert!(!p.handle_timeout(now), "fired twice");
                }
                log.push(format!("timeout {fired}"));
            }
            Op::Reset => {
                p.reset();
                m.attempt = 0;
                m.prev_delay = None;
                m.outage_start = None;
                m.connected_since = None;
                m.pending = None;
                m.redirects = 0;
                log.push("reset".into());
            }
            Op::Error(i) => {
                let cause = CAUSES[i];
                let d = p.on_error(now, cause);
                m.pending = None;
                m.redirects = 0;
                m.end_connection(now);
                let v: Verdict = d.clone().into();
                m.check_failure(now, cause, None, &v)?;
                log.push(format!("{d:?}"));
            }
            Op::Response(code, ok_type, ra) => {
                let status = StatusCode::from_u16(code).expect("valid code");
                let v = p.on_response(now, status, &headers(ok_type, ra));
                m.pending = None;
                m.end_connection(now);
                if code != 302 {
                    m.redirects = 0;
                }
                match code {
                    200 if ok_type => {
                        prop_assert_eq!(&v, &Verdict::Stream);
                        m.connected_since = Some(now);
                    }
                    200 => {
                        let wrong = matches!(v, Verdict::Stop(StopReason::ContentType(_)));
                        prop_assert!(wrong, "expected a content type failure: {:?}", v);
                    }
                    204 => prop_assert_eq!(&v, &Verdict::Stop(StopReason::ServerStop(status))),
                    302 if m.redirects < config.get_max_redirects() => {
                        prop_assert_eq!(&v, &Verdict::Follow("/elsewhere".into()));
                        m.redirects += 1;
                    }
                    302 => {
                        let too_many =
                            matches!(v, Verdict::Stop(StopReason::TooManyRedirects { .. }));
                        prop_assert!(too_many, "expected too many redirects: {:?}", v);
                        m.redirects = 0;
                    }
                    404 => prop_assert_eq!(&v, &Verdict::Stop(StopReason::Rejected(status))),
                    _ => {
                        let ra = ra.map(Duration::from_secs);
                        m.check_failure(now, Cause::Status(status), ra, &v)?;
                    }
                }
                prop_assert_eq!(p.redirects(), m.redirects);
                log.push(format!("{v:?}"));
            }
        }
        prop_assert_eq!(p.attempt(), m.attempt);
        prop_assert_eq!(p.poll_timeout(), m.pending);
        prop_assert_eq!(p.is_connected(), m.connected_since.is_some());
    }
    Ok(log)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn policy_invariants_and_determinism(config in config(), ops in prop::collection::vec(op(), 0..80)) {
        let t0 = Instant::now();
        let first = run(t0, &config, &ops)?;
        let second = run(t0, &config, &ops)?;
        prop_assert_eq!(first, second, "same seed, same inputs: same outputs");
    }

    #[test]
    fn without_limits_failures_always_reconnect(seed in any::<u64>(), causes in prop::collection::vec(0..5usize, 1..200)) {
        let t0 = Instant::now();
        let mut p = ReconnectPolicy::new(ReconnectConfig::default().seed(seed)).expect("valid");
        let mut now = t0;
        for (i, c) in causes.into_iter().enumerate() {
            match p.on_error(now, CAUSES[c]) {
                Decision::ReconnectAt(r) => {
                    prop_assert_eq!(r.attempt as usize, i + 1);
                    // Defaults: [base, cap] = [2 s, 30 s].
                    prop_assert!(r.delay >= Duration::from_secs(2));
                    prop_assert!(r.delay <= Duration::from_secs(30));
                    now = r.at;
                }
                other => prop_assert!(false, "stopped: {:?}", other),
            }
        }
    }

    #[test]
    fn next_delay_is_what_the_next_failure_gets(config in config(), n in 1usize..30) {
        let config = config.max_attempts(None).max_elapsed(None);
        let t0 = Instant::now();
        let mut p = ReconnectPolicy::new(config).expect("valid");
        for i in 0..n {
            let predicted = p.next_delay();
            match p.on_error(t0 + ms(i as u64), Cause::Io) {
                Decision::ReconnectAt(r) => prop_assert_eq!(r.delay, predicted),
                other => prop_assert!(false, "stopped: {:?}", other),
            }
        }
    }
}
