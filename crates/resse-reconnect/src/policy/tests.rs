use std::time::UNIX_EPOCH;

use http::HeaderValue;

use super::*;
use crate::VerdictTable;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_static(v));
    }
    h
}

fn sse() -> HeaderMap {
    headers(&[("content-type", "text/event-stream")])
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).expect("valid status code")
}

/// Exponential steps without jitter, from 1 s (doubling up to 30 s): exact
/// delays for the tests of everything but the jitter.
fn no_jitter() -> ReconnectConfig {
    ReconnectConfig::default()
        .jitter(Jitter::None)
        .initial_delay(secs(1))
}

fn policy(config: ReconnectConfig) -> ReconnectPolicy {
    ReconnectPolicy::new(config).expect("valid config")
}

#[track_caller]
fn reconnect(d: impl Into<Verdict>) -> Reconnect {
    match d.into() {
        Verdict::ReconnectAt(r) => r,
        other => panic!("expected a reconnection, got {other:?}"),
    }
}

#[track_caller]
fn stop(d: impl Into<Verdict>) -> StopReason {
    match d.into() {
        Verdict::Stop(s) => s,
        other => panic!("expected a stop, got {other:?}"),
    }
}

/// Fails `n` times in a row (connect failures 1 ms apart) and returns the delays.
fn delays(p: &mut ReconnectPolicy, t0: Instant, n: usize) -> Vec<Duration> {
    (0..n)
        .map(|i| reconnect(p.on_error(t0 + ms(i as u64), Cause::ConnectFailed)).delay)
        .collect()
}

// ---- verdicts ----

#[test]
fn ok_event_stream_streams() {
    let t0 = Instant::now();
    for ct in [
        "text/event-stream",
        "Text/Event-Stream; charset=utf-8",
        "TEXT/EVENT-STREAM;charset=UTF-8",
        "text/event-stream ; q=1",
    ] {
        let mut p = policy(ReconnectConfig::default());
        let v = p.on_response(t0, StatusCode::OK, &headers(&[("content-type", ct)]));
        assert_eq!(v, Verdict::Stream, "{ct}");
        assert!(p.is_connected());
    }
}

#[test]
fn ok_with_wrong_or_missing_content_type_fails() {
    let t0 = Instant::now();
    let mut p = policy(ReconnectConfig::default());
    let s = stop(p.on_response(
        t0,
        StatusCode::OK,
        &headers(&[("content-type", "text/html; charset=utf-8")]),
    ));
    assert_eq!(
        s,
        StopReason::ContentType(Some("text/html; charset=utf-8".into()))
    );
    assert!(s.is_error());
    assert_eq!(
        s.to_string(),
        "response content type is \"text/html; charset=utf-8\", expected text/event-stream"
    );
    assert!(!p.is_connected());

    let s = stop(p.on_response(t0, StatusCode::OK, &HeaderMap::new()));
    assert_eq!(s, StopReason::ContentType(None));
    assert_eq!(
        s.to_string(),
        "response has no content type, expected text/event-stream"
    );
}

#[test]
fn no_content_stops_for_good() {
    let mut p = policy(ReconnectConfig::default());
    let s = stop(p.on_response(Instant::now(), StatusCode::NO_CONTENT, &HeaderMap::new()));
    assert_eq!(s, StopReason::ServerStop(StatusCode::NO_CONTENT));
    assert!(!s.is_error());
    assert_eq!(
        s.to_string(),
        "server asked the client to stop (204 No Content)"
    );
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn redirects_follow_the_location() {
    let t0 = Instant::now();
    for code in [301, 302, 303, 307, 308] {
        let mut p = policy(ReconnectConfig::default());
        let v = p.on_response(t0, status(code), &headers(&[("location", " /next?a=1 ")]));
        assert_eq!(v, Verdict::Follow("/next?a=1".into()), "{code}");
        assert_eq!(p.redirects(), 1);
        assert_eq!(p.attempt(), 0, "a redirect is not a failure");
    }
}

#[test]
fn redirect_without_usable_location_fails() {
    let t0 = Instant::now();
    let mut p = policy(ReconnectConfig::default());
    assert_eq!(
        stop(p.on_response(t0, StatusCode::FOUND, &HeaderMap::new())),
        StopReason::MissingLocation(StatusCode::FOUND)
    );
    assert_eq!(
        stop(p.on_response(t0, StatusCode::FOUND, &headers(&[("location", "")]))),
        StopReason::MissingLocation(StatusCode::FOUND)
    );
    let mut h = HeaderMap::new();
    h.insert(
        "location",
        HeaderValue::from_bytes(b"/caf\xe9").expect("obs-text is a valid header value"),
    );
    let s = stop(p.on_response(t0, StatusCode::TEMPORARY_REDIRECT, &h));
    assert_eq!(
        s,
        StopReason::InvalidLocation(StatusCode::TEMPORARY_REDIRECT)
    );
    assert_eq!(
        s.to_string(),
        "redirect (307 Temporary Redirect) to a location that is not a valid http or https url"
    );
    // Raw UTF-8 is passed through for the caller's URL parser.
    let mut h = HeaderMap::new();
    h.insert(
        "location",
        HeaderValue::from_bytes("/café".as_bytes()).expect("obs-text is a valid header value"),
    );
    assert_eq!(
        p.on_response(t0, StatusCode::FOUND, &h),
        Verdict::Follow("/café".into())
    );
}

#[test]
fn redirects_are_bounded() {
    let t0 = Instant::now();
    let loc = headers(&[("location", "/again")]);
    let mut p = policy(ReconnectConfig::default().max_redirects(3));
    for i in 1..=3 {
        assert_eq!(
            p.on_response(t0, StatusCode::FOUND, &loc),
            Verdict::Follow("/again".into())
        );
        assert_eq!(p.redirects(), i);
    }
    let s = stop(p.on_response(t0, StatusCode::FOUND, &loc));
    assert_eq!(s, StopReason::TooManyRedirects { limit: 3 });
    assert_eq!(s.to_string(), "more than 3 redirects in a row");

    // The count is per chain: any other verdict starts it over.
    let mut p = policy(ReconnectConfig::default().max_redirects(2));
    for _ in 0..2 {
        assert!(matches!(
            p.on_response(t0, StatusCode::FOUND, &loc),
            Verdict::Follow(_)
        ));
    }
    assert_eq!(p.on_response(t0, StatusCode::OK, &sse()), Verdict::Stream);
    assert_eq!(p.redirects(), 0);
    for _ in 0..2 {
        assert!(matches!(
            p.on_response(t0, StatusCode::FOUND, &loc),
            Verdict::Follow(_)
        ));
    }
    let _ = p.on_error(t0, Cause::ConnectFailed);
    assert_eq!(p.redirects(), 0);

    // Zero: no redirect is followed.
    let mut p = policy(ReconnectConfig::default().max_redirects(0));
    assert_eq!(
        stop(p.on_response(t0, StatusCode::FOUND, &loc)),
        StopReason::TooManyRedirects { limit: 0 }
    );
}

#[test]
fn rate_limited_and_unavailable_honour_retry_after_seconds() {
    let t0 = Instant::now();
    for code in [429, 503] {
        let mut p = policy(no_jitter());
        let r = reconnect(p.on_response(t0, status(code), &headers(&[("retry-after", "120")])));
        assert_eq!(r.delay, secs(120), "{code}");
        assert_eq!(r.at, t0 + secs(120));
        assert_eq!(r.attempt, 1);
        assert_eq!(r.cause, Cause::Status(status(code)));
        assert_eq!(r.reason, DelayReason::RetryAfter);
        assert_eq!(p.poll_timeout(), Some(t0 + secs(120)));
    }
}

#[test]
fn retry_after_is_spread_above_not_below() {
    let t0 = Instant::now();
    // The default (decorrelated, 2 s base): the first attempt's range
    // [2 s, 5 s) is shifted up to start at 30 s, keeping its width.
    let mut seen = Vec::new();
    for seed in 0..50 {
        let mut p = policy(ReconnectConfig::default().seed(seed));
        let r = reconnect(p.on_response(t0, status(503), &headers(&[("retry-after", "30")])));
        assert!(r.delay >= secs(30) && r.delay < secs(33), "{:?}", r.delay);
        assert_eq!(r.reason, DelayReason::RetryAfter);
        seen.push(r.delay);
    }
    seen.sort();
    seen.dedup();
    assert!(seen.len() > 45, "hardly spread: {seen:?}");
    // Even with full jitter, Retry-After is a hard lower bound.
    for seed in 0..50 {
        let mut p = policy(ReconnectConfig::default().seed(seed).jitter(Jitter::Full));
        let r = reconnect(p.on_response(t0, status(429), &headers(&[("retry-after", "30")])));
        assert!(r.delay >= secs(30) && r.delay < secs(60), "{:?}", r.delay);
    }
}

#[test]
fn retry_after_http_date_is_measured_from_the_date_header() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter());
    let h = headers(&[
        ("date", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ("retry-after", "Sun, 06 Nov 1994 08:50:22 GMT"),
    ]);
    let r = reconnect(p.on_response(t0, status(503), &h));
    assert_eq!(r.delay, secs(45));
    assert_eq!(r.reason, DelayReason::RetryAfter);

    // Obsolete formats too.
    let mut p = policy(no_jitter());
    let h = headers(&[
        ("date", "Sun Nov  6 08:49:37 1994"),
        ("retry-after", "Sunday, 06-Nov-94 08:50:37 GMT"),
    ]);
    assert_eq!(
        reconnect(p.on_response(t0, status(429), &h)).delay,
        secs(60)
    );
}

#[test]
fn retry_after_http_date_without_date_header_needs_a_wall_clock() {
    let t0 = Instant::now();
    let h = headers(&[("retry-after", "Sun, 06 Nov 1994 08:50:37 GMT")]);
    // No reference: ignored, plain backoff.
    let mut p = policy(no_jitter());
    let r = reconnect(p.on_response(t0, status(503), &h));
    assert_eq!((r.delay, r.reason), (secs(1), DelayReason::Backoff));
    // With the caller's wall clock.
    let mut p = policy(no_jitter());
    let wall = UNIX_EPOCH + Duration::from_secs(784_111_777);
    let r = reconnect(p.on_response_with_wall_clock(t0, wall, status(503), &h));
    assert_eq!((r.delay, r.reason), (secs(60), DelayReason::RetryAfter));
    // A date in the past asks for nothing.
    let mut p = policy(no_jitter());
    let late = wall + secs(3600);
    let r = reconnect(p.on_response_with_wall_clock(t0, late, status(503), &h));
    assert_eq!((r.delay, r.reason), (secs(1), DelayReason::Backoff));
}

#[test]
fn invalid_or_missing_retry_after_falls_back_to_backoff() {
    let t0 = Instant::now();
    for h in [
        HeaderMap::new(),
        headers(&[("retry-after", "soon")]),
        headers(&[("retry-after", "-5")]),
        headers(&[("retry-after", "1.5")]),
        headers(&[("retry-after", "")]),
    ] {
        let mut p = policy(no_jitter());
        let r = reconnect(p.on_response(t0, status(503), &h));
        assert_eq!(
            (r.delay, r.reason),
            (secs(1), DelayReason::Backoff),
            "{h:?}"
        );
    }
}

#[test]
fn retry_after_below_the_step_changes_nothing() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter());
    assert_eq!(delays(&mut p, t0, 3), [secs(1), secs(2), secs(4)]);
    let r = reconnect(p.on_response(t0, status(503), &headers(&[("retry-after", "3")])));
    assert_eq!(
        (r.delay, r.reason, r.attempt),
        (secs(8), DelayReason::Backoff, 4)
    );
}

#[test]
fn absurd_retry_after_is_clamped_to_the_ceiling() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter());
    let r = reconnect(p.on_response(t0, status(503), &headers(&[("retry-after", "86400")])));
    assert_eq!(r.delay, ReconnectConfig::DEFAULT_CEILING);
    let mut p = policy(no_jitter().ceiling(secs(600)));
    let h = headers(&[("retry-after", "99999999999999999999999999")]);
    assert_eq!(
        reconnect(p.on_response(t0, status(429), &h)).delay,
        secs(600)
    );
}

#[test]
fn server_errors_and_request_timeout_back_off() {
    let t0 = Instant::now();
    for code in [408, 500, 501, 502, 504, 599] {
        let mut p = policy(no_jitter());
        let r = reconnect(p.on_response(t0, status(code), &HeaderMap::new()));
        assert_eq!((r.delay, r.attempt), (secs(1), 1), "{code}");
        let r = reconnect(p.on_response(t0 + secs(1), status(code), &HeaderMap::new()));
        assert_eq!((r.delay, r.attempt), (secs(2), 2), "{code}");
    }
}

#[test]
fn other_client_errors_fail_with_a_readable_reason() {
    let t0 = Instant::now();
    for code in [400, 401, 403, 404, 405, 406, 410, 418, 451] {
        let mut p = policy(ReconnectConfig::default());
        let s = stop(p.on_response(t0, status(code), &HeaderMap::new()));
        assert_eq!(s, StopReason::Rejected(status(code)));
        assert!(s.is_error());
        assert_eq!(p.poll_timeout(), None);
    }
    let s = StopReason::Rejected(StatusCode::NOT_FOUND);
    assert_eq!(s.to_string(), "server answered 404 Not Found");
}

#[test]
fn odd_statuses_fail() {
    let t0 = Instant::now();
    for code in [100, 201, 206, 300, 304, 600, 999] {
        let mut p = policy(ReconnectConfig::default());
        assert_eq!(
            stop(p.on_response(t0, status(code), &sse())),
            StopReason::Rejected(status(code)),
            "{code}"
        );
    }
}

#[test]
fn strict_mode_is_the_whatwg_behaviour() {
    let t0 = Instant::now();
    let strict = || policy(ReconnectConfig::default().verdicts(VerdictTable::strict()));
    assert_eq!(
        strict().on_response(t0, StatusCode::OK, &sse()),
        Verdict::Stream
    );
    assert_eq!(
        stop(strict().on_response(
            t0,
            StatusCode::OK,
            &headers(&[("content-type", "text/plain")])
        )),
        StopReason::ContentType(Some("text/plain".into()))
    );
    // 204 is the spec's way to stop a client: a stop, not an error.
    let v = strict().on_response(t0, StatusCode::NO_CONTENT, &sse());
    assert_eq!(
        stop(v.clone()),
        StopReason::ServerStop(StatusCode::NO_CONTENT)
    );
    assert!(!stop(v).is_error());
    for code in [400, 404, 408, 429, 500, 502, 503] {
        let h = headers(&[("retry-after", "5"), ("content-type", "text/event-stream")]);
        assert_eq!(
            stop(strict().on_response(t0, status(code), &h)),
            StopReason::Rejected(status(code)),
            "{code}"
        );
    }
    for code in [301, 302, 303, 307, 308] {
        let h = headers(&[("location", "https://example.com/")]);
        assert_eq!(
            strict().on_response(t0, status(code), &h),
            Verdict::Follow("https://example.com/".into())
        );
    }
    // Network errors and the end of the stream still reconnect, as the spec says.
    let r = reconnect(strict().on_error(t0, Cause::EndOfBodyMidEvent));
    assert_eq!(r.attempt, 1);
}

// ---- the formula, Jitter::None ----

#[test]
fn exponential_steps_are_capped() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter());
    let got = delays(&mut p, t0, 8);
    let want: Vec<Duration> = [1, 2, 4, 8, 16, 30, 30, 30].map(secs).to_vec();
    assert_eq!(got, want);
    assert_eq!(p.attempt(), 8);
}

#[test]
fn fractional_multiplier() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter().multiplier(1.5).initial_delay(ms(1000)));
    assert_eq!(
        delays(&mut p, t0, 4),
        [ms(1000), ms(1500), ms(2250), ms(3375)]
    );
    let mut p = policy(no_jitter().multiplier(1.0));
    assert_eq!(delays(&mut p, t0, 3), [secs(1); 3]);
}

#[test]
fn server_retry_replaces_the_base() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter());
    p.on_retry(secs(5));
    assert_eq!(p.server_retry(), Some(secs(5)));
    let got = delays(&mut p, t0, 4);
    assert_eq!(got, [secs(5), secs(10), secs(20), secs(30)]);
    let r = reconnect(p.on_error(t0, Cause::Io));
    assert_eq!(r.reason, DelayReason::ServerRetry);

    // A retry above the cap is honoured as is: the cap never lowers the base.
    let mut p = policy(no_jitter());
    p.on_retry(secs(90));
    assert_eq!(delays(&mut p, t0, 3), [secs(90); 3]);
}

#[test]
fn retry_zero_is_raised_to_the_floor() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter());
    p.on_retry(Duration::ZERO);
    assert_eq!(delays(&mut p, t0, 3), [ms(100), ms(200), ms(400)]);
    let mut p = policy(no_jitter().multiplier(1.0).floor(ms(250)));
    p.on_retry(Duration::ZERO);
    assert_eq!(delays(&mut p, t0, 3), [ms(250); 3]);
    // A zero initial delay too, and with full jitter.
    for seed in 0..20 {
        let mut p = policy(
            ReconnectConfig::default()
                .initial_delay(Duration::ZERO)
                .jitter(Jitter::Full)
                .seed(seed),
        );
        for d in delays(&mut p, t0, 5) {
            assert!(d >= ms(100), "{d:?}");
        }
    }
}

#[test]
fn absurd_retry_is_clamped_to_the_ceiling() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter());
    p.on_retry(secs(10 * 3600));
    assert_eq!(delays(&mut p, t0, 2), [secs(3600); 2]);
    p.on_retry(Duration::MAX);
    assert_eq!(delays(&mut p, t0, 1), [secs(3600)]);
}

#[test]
fn huge_values_do_not_panic() {
    let t0 = Instant::now();
    for jitter in [
        Jitter::Spread(1e300),
        Jitter::Decorrelated(1e300),
        Jitter::Decorrelated(2.5),
        Jitter::Decorrelated(1.0 + f64::EPSILON),
    ] {
        let config = ReconnectConfig::default()
            .initial_delay(Duration::MAX)
            .max_delay(Duration::MAX)
            .ceiling(Duration::MAX)
            .multiplier(1e300)
            .jitter(jitter);
        let mut p = policy(config);
        p.on_retry(Duration::MAX);
        for i in 0..100 {
            let r = reconnect(p.on_error(t0, Cause::Io));
            assert!(r.at >= t0);
            assert_eq!(r.attempt, i + 1);
        }
        // A huge base that `f64` cannot hold exactly: no panic, never
        // below the base.
        let mut p = policy(config_with_huge_odd_base(jitter));
        for _ in 0..100 {
            let r = reconnect(p.on_error(t0, Cause::Io));
            assert!(
                r.delay >= Duration::new(u64::MAX / 3, 999_999_999),
                "{jitter:?}"
            );
        }
    }
    let mut p = policy(ReconnectConfig::default().ceiling(Duration::MAX));
    let h = headers(&[("retry-after", "99999999999999999999")]);
    let r = reconnect(p.on_response(t0, status(503), &h));
    assert!(r.delay >= Duration::from_secs(u64::MAX));
}

/// A base of about 2^62 s with nanoseconds, which `f64` cannot hold exactly.
fn config_with_huge_odd_base(jitter: Jitter) -> ReconnectConfig {
    ReconnectConfig::default()
        .initial_delay(Duration::new(u64::MAX / 3, 999_999_999))
        .max_delay(Duration::MAX)
        .ceiling(Duration::MAX)
        .jitter(jitter)
}

#[test]
fn the_exponent_is_capped() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter().multiplier(1.01).max_delay(Duration::MAX));
    let d = delays(&mut p, t0, 200);
    let limit = mul(secs(1), 1.01f64.powi(MAX_EXPONENT as i32));
    assert_eq!(d[MAX_EXPONENT as usize], limit);
    assert!(d[MAX_EXPONENT as usize..].iter().all(|x| *x == limit));
    assert!(d.windows(2).all(|w| w[0] <= w[1]));
}

// ---- jitter ----

#[test]
fn jitter_modes_stay_in_their_ranges() {
    let t0 = Instant::now();
    let step = secs(4); // attempt 3, from 1 s
    let cases: [(Jitter, Duration, Duration); 4] = [
        (Jitter::Spread(1.0), step, step * 2),
        (Jitter::Spread(0.25), step, step + ms(1000)),
        (Jitter::Full, Duration::ZERO, step),
        (Jitter::Equal, step / 2, step),
    ];
    for (jitter, lo, hi) in cases {
        let mut seen = Vec::new();
        for seed in 0..200 {
            let config = ReconnectConfig::default()
                .jitter(jitter)
                .initial_delay(secs(1))
                .seed(seed);
            let mut p = policy(config);
            let d = delays(&mut p, t0, 3)[2];
            assert!(
                d >= lo.max(ms(100)) && d < hi + ms(100),
                "{jitter:?}: {d:?}"
            );
            seen.push(d);
        }
        seen.sort();
        seen.dedup();
        assert!(
            seen.len() > 150,
            "{jitter:?} hardly spreads: {} values",
            seen.len()
        );
        // The spread covers most of the range.
        let span = *seen.last().expect("values") - seen[0];
        assert!(span > (hi - lo) * 9 / 10, "{jitter:?}: span {span:?}");
    }
}

#[test]
fn full_jitter_at_the_floor_is_shifted_not_clamped() {
    // step = floor = 100 ms: [0, 100) is shifted to [100, 200), keeping the spread.
    let t0 = Instant::now();
    let mut seen = Vec::new();
    for seed in 0..100 {
        let mut p = policy(
            ReconnectConfig::default()
                .jitter(Jitter::Full)
                .initial_delay(ms(100))
                .seed(seed),
        );
        let d = delays(&mut p, t0, 1)[0];
        assert!(d >= ms(100) && d < ms(200), "{d:?}");
        seen.push(d);
    }
    seen.sort();
    seen.dedup();
    assert!(seen.len() > 90);
}

#[test]
fn deterministic_per_seed() {
    let t0 = Instant::now();
    // The default jitter.
    let run = |seed| {
        let mut p = policy(ReconnectConfig::default().seed(seed));
        delays(&mut p, t0, 10)
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
    // Spread(1.0) from 1 s, and the formula by hand: step + step·u, u from
    // the 53 high bits of each SplitMix64 output.
    let run = |seed| {
        let config = ReconnectConfig::default()
            .jitter(Jitter::Spread(1.0))
            .initial_delay(secs(1))
            .seed(seed);
        delays(&mut policy(config), t0, 10)
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
    let mut rng = SplitMix64::new(7);
    let want: Vec<Duration> = [1u64, 2, 4]
        .into_iter()
        .map(|s| {
            let step_ns = s * 1_000_000_000;
            let u53 = u128::from(rng.next_u64() >> 11);
            let extra = (u128::from(step_ns) * u53) >> 53;
            Duration::from_nanos(step_ns + extra as u64)
        })
        .collect();
    assert_eq!(run(7)[..3], want[..]);
}

#[test]
fn next_delay_predicts_the_next_failure() {
    let t0 = Instant::now();
    let mut p = policy(ReconnectConfig::default().seed(99));
    for i in 0..10 {
        let predicted = p.next_delay();
        assert_eq!(predicted, p.next_delay(), "pure");
        let r = reconnect(p.on_error(t0 + secs(i), Cause::IdleTimeout));
        assert_eq!(r.delay, predicted);
    }
}

// ---- decorrelated jitter (the default) ----

/// `lo + uniform(0, hi - lo)` drawn from `rng` as the policy does.
fn draw(rng: &mut SplitMix64, lo: Duration, hi: Duration) -> Duration {
    let width = u64::try_from((hi - lo).as_nanos()).expect("test widths fit u64");
    lo + Duration::from_nanos(rng.below(width))
}

/// The upper end of the default jitter's range after a delay of `prev`.
fn default_hi(prev: Duration) -> Duration {
    prev.mul_f64(2.5).min(secs(30))
}

#[test]
fn decorrelated_draws_exactly_per_attempt() {
    let t0 = Instant::now();
    let base = ReconnectConfig::DEFAULT_INITIAL_DELAY;
    for seed in [0, 7, 0x5eed, u64::MAX] {
        let mut p = policy(ReconnectConfig::default().seed(seed));
        let mut rng = SplitMix64::new(seed);
        let mut prev = base; // attempt 1: [base, 2.5 × base)
        let mut now = t0;
        for k in 1..=15 {
            let hi = default_hi(prev);
            let want = draw(&mut rng, base, hi);
            let r = reconnect(p.on_error(now, Cause::ConnectFailed));
            assert_eq!(
                (r.attempt, r.delay, r.reason),
                (k, want, DelayReason::Backoff),
                "seed {seed}"
            );
            assert!(
                r.delay >= base && r.delay < hi,
                "{:?} not in [{base:?}, {hi:?})",
                r.delay
            );
            prev = r.delay;
            now = r.at;
        }
    }
}

#[test]
fn decorrelated_never_below_the_base_floor_or_retry_after() {
    let t0 = Instant::now();
    let default = |seed| ReconnectConfig::default().seed(seed);
    for seed in 0..200 {
        // The server's retry: is the base.
        let mut p = policy(default(seed));
        p.on_retry(secs(3));
        let mut prev = secs(3);
        for d in delays(&mut p, t0, 10) {
            assert!(d >= secs(3) && d < default_hi(prev), "{d:?} after {prev:?}");
            prev = d;
        }
        assert_eq!(
            reconnect(p.on_error(t0, Cause::Io)).reason,
            DelayReason::ServerRetry
        );

        // retry: 0 and a zero initial delay: the floor is the base.
        let mut p = policy(default(seed));
        p.on_retry(Duration::ZERO);
        let d = delays(&mut p, t0, 10);
        assert!(d[0] >= ms(100) && d[0] < ms(250), "{:?}", d[0]);
        assert!(d.iter().all(|d| *d >= ms(100)), "{d:?}");
        let mut p = policy(default(seed).initial_delay(Duration::ZERO));
        assert!(delays(&mut p, t0, 10).iter().all(|d| *d >= ms(100)));

        // Retry-After above the base: the range [base, hi) is shifted up to
        // start at it, keeping its width.
        let mut p = policy(default(seed));
        let prev = delays(&mut p, t0, 2)[1];
        let width = default_hi(prev) - secs(2);
        let r = reconnect(p.on_response(t0, status(503), &headers(&[("retry-after", "40")])));
        assert_eq!(r.reason, DelayReason::RetryAfter);
        assert!(
            r.delay >= secs(40) && r.delay < secs(40) + width,
            "{:?}",
            r.delay
        );

        // Retry-After below the base changes nothing.
        let mut p = policy(default(seed));
        let r = reconnect(p.on_response(t0, status(429), &headers(&[("retry-after", "1")])));
        assert_eq!(r.reason, DelayReason::Backoff);
        assert!(r.delay >= secs(2) && r.delay < secs(5), "{:?}", r.delay);
    }
}

#[test]
fn decorrelated_prev_is_the_delay_used() {
    let t0 = Instant::now();
    let mut p = policy(ReconnectConfig::default().seed(5));
    // Retry-After 20 s: [2 s, 5 s) shifted to [20 s, 23 s).
    let r = reconnect(p.on_response(t0, status(503), &headers(&[("retry-after", "20")])));
    assert!(r.delay >= secs(20) && r.delay < secs(23));
    // The next range grows from that delay: [2 s, min(30 s, 2.5 × 20+ s)).
    let want = draw(&mut p.rng.clone(), secs(2), secs(30));
    assert_eq!(p.next_delay(), want);
    assert_eq!(
        reconnect(p.on_error(r.at, Cause::ConnectFailed)).delay,
        want
    );

    // A server retry: raised mid-outage above the last delay: the range
    // starts at the new base (prev counts as at least the base).
    let mut p = policy(ReconnectConfig::default().seed(5));
    let _ = delays(&mut p, t0, 1);
    p.on_retry(secs(20));
    let want = draw(&mut p.rng.clone(), secs(20), secs(30));
    let r = reconnect(p.on_error(t0, Cause::Io));
    assert_eq!((r.delay, r.reason), (want, DelayReason::ServerRetry));
}

#[test]
fn decorrelated_starts_over_after_a_healthy_period_and_on_reset() {
    let t0 = Instant::now();
    let base = secs(2);
    let mut p = policy(ReconnectConfig::default().seed(3));
    let prev = *delays(&mut p, t0, 8).last().expect("8 delays");
    assert!(prev > secs(5), "grew: {prev:?}");

    // A stream shorter than min_healthy: same outage, the range follows prev.
    let t1 = t0 + secs(100);
    assert_eq!(p.on_response(t1, StatusCode::OK, &sse()), Verdict::Stream);
    let want = draw(&mut p.rng.clone(), base, default_hi(prev));
    let r = reconnect(p.on_error(t1 + secs(9), Cause::Io));
    assert_eq!((r.attempt, r.delay), (9, want));

    // A healthy stream: attempt 1 again, drawn in [base, 2.5 × base).
    let t2 = t1 + secs(100);
    assert_eq!(p.on_response(t2, StatusCode::OK, &sse()), Verdict::Stream);
    let want = draw(&mut p.rng.clone(), base, secs(5));
    let r = reconnect(p.on_error(t2 + secs(10), Cause::Io));
    assert_eq!((r.attempt, r.delay), (1, want));

    // reset() too.
    let _ = delays(&mut p, t2, 5);
    p.reset();
    let want = draw(&mut p.rng.clone(), base, secs(5));
    assert_eq!(p.next_delay(), want);
    let r = reconnect(p.on_error(t2, Cause::Io));
    assert_eq!((r.attempt, r.delay), (1, want));
}

#[test]
fn decorrelated_respects_the_cap() {
    let t0 = Instant::now();
    let mut highest = Duration::ZERO;
    for seed in 0..100 {
        let mut p = policy(ReconnectConfig::default().seed(seed).max_delay(secs(10)));
        for d in delays(&mut p, t0, 50) {
            assert!(d >= secs(2) && d < secs(10), "{d:?}");
            highest = highest.max(d);
        }
    }
    assert!(highest > ms(9900), "never near the cap: {highest:?}");

    // A server retry: above the cap is honoured as is: the range is empty.
    let mut p = policy(ReconnectConfig::default().seed(1));
    p.on_retry(secs(90));
    assert_eq!(delays(&mut p, t0, 5), [secs(90); 5]);
    // So is a growth factor of 1.
    let mut p = policy(ReconnectConfig::default().jitter(Jitter::Decorrelated(1.0)));
    assert_eq!(delays(&mut p, t0, 5), [secs(2); 5]);
}

#[test]
fn decorrelated_delays_grow_over_attempts() {
    let t0 = Instant::now();
    const SEEDS: u64 = 2000;
    const ATTEMPTS: usize = 12;
    let mut sum = [Duration::ZERO; ATTEMPTS];
    let mut max = [Duration::ZERO; ATTEMPTS];
    for seed in 0..SEEDS {
        let mut p = policy(ReconnectConfig::default().seed(seed));
        for (k, d) in delays(&mut p, t0, ATTEMPTS).into_iter().enumerate() {
            sum[k] += d;
            max[k] = max[k].max(d);
        }
    }
    let mean: Vec<f64> = sum.iter().map(|s| s.as_secs_f64() / SEEDS as f64).collect();
    // Attempt 1 is uniform in [2 s, 5 s): mean 3.5 s.
    assert!((3.4..3.6).contains(&mean[0]), "{mean:?}");
    // The mean grows attempt after attempt until the cap tells...
    assert!(mean[..6].windows(2).all(|w| w[0] < w[1]), "{mean:?}");
    // ... then levels off between the base and the cap.
    assert!(
        mean[ATTEMPTS - 1] > 10.0 && mean[ATTEMPTS - 1] < 30.0,
        "{mean:?}"
    );
    // Attempt k is below min(30 s, 2 s × 2.5^k); the highest delay seen
    // grows attempt after attempt too, up to the cap.
    for (k, m) in max.iter().enumerate() {
        let bound = secs(2).mul_f64(2.5f64.powi(k as i32 + 1)).min(secs(30));
        assert!(*m < bound, "attempt {}: {m:?}", k + 1);
    }
    assert!(max[0] > ms(4990), "{max:?}");
    assert!(max[..4].windows(2).all(|w| w[0] < w[1]), "{max:?}");
    assert!(max[ATTEMPTS - 1] > secs(29), "{max:?}");
}

// ---- health ----

#[test]
fn immediate_close_keeps_backing_off() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter());
    let mut now = t0;
    let mut got = Vec::new();
    for _ in 0..6 {
        assert_eq!(p.on_response(now, StatusCode::OK, &sse()), Verdict::Stream);
        now += ms(10);
        let r = reconnect(p.on_error(now, Cause::EndOfBodyClean));
        got.push((r.attempt, r.delay));
        now = r.at;
    }
    let want: Vec<(u32, Duration)> = [1, 2, 4, 8, 16, 30]
        .into_iter()
        .zip(1..)
        .map(|(s, a)| (a, secs(s)))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn reset_only_after_the_healthy_period() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter().min_healthy(secs(10)));
    assert_eq!(delays(&mut p, t0, 4), [secs(1), secs(2), secs(4), secs(8)]);

    // Up for 10 s minus 1 ms: still the same outage.
    assert_eq!(p.on_response(t0, StatusCode::OK, &sse()), Verdict::Stream);
    let r = reconnect(p.on_error(t0 + secs(10) - ms(1), Cause::EndOfBodyMidEvent));
    assert_eq!((r.attempt, r.delay), (5, secs(16)));

    // Up for exactly 10 s: the outage is over.
    let t1 = t0 + secs(100);
    assert_eq!(p.on_response(t1, StatusCode::OK, &sse()), Verdict::Stream);
    let r = reconnect(p.on_error(t1 + secs(10), Cause::Io));
    assert_eq!((r.attempt, r.delay), (1, secs(1)));
    assert_eq!(p.attempt(), 1);
}

#[test]
fn a_stream_that_dispatched_an_event_ends_the_outage() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter());
    assert_eq!(delays(&mut p, t0, 4), [secs(1), secs(2), secs(4), secs(8)]);
    let mut now = t0 + secs(20);
    p.on_retry(ms(500));
    for _ in 0..10 {
        assert_eq!(p.on_response(now, StatusCode::OK, &sse()), Verdict::Stream);
        p.on_progress();
        // Open for 1 ms only: the event is what counts.
        now += ms(1);
        let r = reconnect(p.on_error(now, Cause::EndOfBodyClean));
        assert_eq!(
            (r.attempt, r.delay, r.reason),
            (1, ms(500), DelayReason::ServerRetry)
        );
        assert_eq!(p.next_delay(), ms(1000), "no event yet: the outage goes on");
        now = r.at;
    }
}

#[test]
fn progress_counts_once_per_stream_and_only_while_open() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter());
    // Before any stream, and while waiting: ignored.
    p.on_progress();
    assert_eq!(delays(&mut p, t0, 2), [secs(1), secs(2)]);
    p.on_progress();
    let r = reconnect(p.on_error(t0 + ms(5), Cause::ConnectFailed));
    assert_eq!((r.attempt, r.delay), (3, secs(4)));
    // An event on one stream does not carry over to the next one.
    assert_eq!(
        p.on_response(t0 + secs(10), StatusCode::OK, &sse()),
        Verdict::Stream
    );
    p.on_progress();
    assert_eq!(p.next_delay(), secs(1), "the open stream worked");
    let r = reconnect(p.on_error(t0 + secs(11), Cause::Io));
    assert_eq!((r.attempt, r.delay), (1, secs(1)));
    assert_eq!(p.on_response(r.at, StatusCode::OK, &sse()), Verdict::Stream);
    let r = reconnect(p.on_error(r.at + ms(1), Cause::EndOfBodyMidEvent));
    assert_eq!((r.attempt, r.delay), (2, secs(2)));
    // A failed attempt after an event-less stream keeps counting.
    let r = reconnect(p.on_error(r.at, Cause::ConnectFailed));
    assert_eq!((r.attempt, r.delay), (3, secs(4)));
}

#[test]
fn default_jitter_after_working_streams_stays_in_r_to_2_5_r() {
    // Every reconnection after a stream that delivered events waits in
    // [R, 2.5 R), however many came before, for any seed.
    let t0 = Instant::now();
    let r_ms = 500;
    for seed in 0..200 {
        let mut p = policy(ReconnectConfig::default().seed(seed));
        let mut now = t0;
        for i in 0..50 {
            assert_eq!(p.on_response(now, StatusCode::OK, &sse()), Verdict::Stream);
            if i == 0 {
                p.on_retry(ms(r_ms));
            }
            p.on_progress();
            now += ms(3);
            let r = reconnect(p.on_error(now, Cause::EndOfBodyClean));
            assert_eq!(r.attempt, 1);
            assert!(
                r.delay >= ms(r_ms) && r.delay < ms(r_ms * 5 / 2),
                "seed {seed}, stream {i}: {:?}",
                r.delay
            );
            now = r.at;
        }
    }
}

#[test]
fn a_flapping_server_still_backs_off_to_the_cap() {
    // Accepts and closes without an event, `retry: 500`: the default policy
    // grows to the cap.
    let t0 = Instant::now();
    let mut p = policy(ReconnectConfig::default().seed(3));
    let mut now = t0;
    let mut last = Duration::ZERO;
    for _ in 0..40 {
        assert_eq!(p.on_response(now, StatusCode::OK, &sse()), Verdict::Stream);
        p.on_retry(ms(500));
        now += ms(3);
        let r = reconnect(p.on_error(now, Cause::EndOfBodyClean));
        last = last.max(r.delay);
        now = r.at;
    }
    assert_eq!(p.attempt(), 40);
    assert!(last > secs(20), "{last:?}");
}

#[test]
fn zero_min_healthy_resets_on_every_open() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter().min_healthy(Duration::ZERO));
    let _ = delays(&mut p, t0, 3);
    p.on_connected(t0 + secs(10));
    let r = reconnect(p.on_error(t0 + secs(10), Cause::EndOfBodyClean));
    assert_eq!((r.attempt, r.delay), (1, secs(1)));
}

#[test]
fn server_retry_survives_a_healthy_reset() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter());
    p.on_connected(t0);
    p.on_retry(secs(3));
    let r = reconnect(p.on_error(t0 + secs(60), Cause::EndOfBodyClean));
    assert_eq!(
        (r.attempt, r.delay, r.reason),
        (1, secs(3), DelayReason::ServerRetry)
    );
}

// ---- limits ----

#[test]
fn attempt_limit() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter().max_attempts(Some(3)));
    assert_eq!(delays(&mut p, t0, 3), [secs(1), secs(2), secs(4)]);
    let s = stop(p.on_error(t0, Cause::ConnectFailed));
    assert_eq!(s, StopReason::AttemptLimit { attempts: 3 });
    assert_eq!(s.to_string(), "gave up after 3 reconnection attempts");
    // Retry statuses count too.
    assert_eq!(
        stop(p.on_response(t0, status(503), &HeaderMap::new())),
        StopReason::AttemptLimit { attempts: 3 }
    );
    // A healthy period starts over.
    p.on_connected(t0 + secs(100));
    let r = reconnect(p.on_error(t0 + secs(200), Cause::Io));
    assert_eq!(r.attempt, 1);

    let mut p = policy(no_jitter().max_attempts(Some(0)));
    assert_eq!(
        stop(p.on_error(t0, Cause::ConnectFailed)),
        StopReason::AttemptLimit { attempts: 0 }
    );
}

#[test]
fn elapsed_limit() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter().max_elapsed(Some(secs(10))));
    // Outage starts at t0: reconnections at 1, 1+2=3, 3+4=7; the next would be 7+8=15 > 10.
    let mut now = t0;
    for want in [1, 3, 7] {
        let r = reconnect(p.on_error(now, Cause::ConnectFailed));
        assert_eq!(r.at, t0 + secs(want));
        now = r.at;
    }
    let s = stop(p.on_error(now, Cause::ConnectFailed));
    assert_eq!(
        s,
        StopReason::ElapsedLimit {
            elapsed: secs(7),
            attempts: 3
        }
    );
    assert_eq!(s.to_string(), "gave up reconnecting after 7s (3 attempts)");

    // Exactly at the limit is allowed.
    let mut p = policy(no_jitter().max_elapsed(Some(secs(3))));
    let r = reconnect(p.on_error(t0, Cause::ConnectFailed));
    let r = reconnect(p.on_error(r.at, Cause::ConnectFailed));
    assert_eq!(r.at, t0 + secs(3));
    // One millisecond beyond it is not.
    let mut p = policy(no_jitter().max_elapsed(Some(secs(3) - ms(1))));
    let r = reconnect(p.on_error(t0, Cause::ConnectFailed));
    assert!(matches!(
        stop(p.on_error(r.at, Cause::ConnectFailed)),
        StopReason::ElapsedLimit { attempts: 1, .. }
    ));

    // A Retry-After beyond the budget stops at once.
    let mut p = policy(no_jitter().max_elapsed(Some(secs(60))));
    let h = headers(&[("retry-after", "120")]);
    assert!(matches!(
        stop(p.on_response(t0, status(503), &h)),
        StopReason::ElapsedLimit { .. }
    ));
}

// ---- causes ----

#[test]
fn every_cause_is_distinct_and_reconnects() {
    let t0 = Instant::now();
    let causes = [
        Cause::EndOfBodyClean,
        Cause::EndOfBodyMidEvent,
        Cause::Io,
        Cause::IdleTimeout,
        Cause::ConnectFailed,
        Cause::Status(StatusCode::BAD_GATEWAY),
    ];
    let messages: Vec<String> = causes.iter().map(ToString::to_string).collect();
    for (i, cause) in causes.iter().enumerate() {
        let mut p = policy(no_jitter());
        let r = reconnect(p.on_error(t0, *cause));
        assert_eq!(
            (r.cause, r.attempt, r.delay, r.at),
            (*cause, 1, secs(1), t0 + secs(1))
        );
        for (j, other) in causes.iter().enumerate() {
            assert_eq!(i == j, cause == other);
            assert_eq!(i == j, messages[i] == messages[j]);
        }
    }
}

#[test]
fn stop_on_clean_end_only_stops_clean_ends() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter().stop_on_clean_end(true));
    let s = stop(p.on_error(t0, Cause::EndOfBodyClean));
    assert_eq!(s, StopReason::EndOfStream);
    assert!(!s.is_error());
    let r = reconnect(p.on_error(t0, Cause::EndOfBodyMidEvent));
    assert_eq!(r.cause, Cause::EndOfBodyMidEvent);
}

#[test]
fn status_causes_follow_the_table() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter());
    assert_eq!(
        stop(p.on_error(t0, Cause::Status(StatusCode::NOT_FOUND))),
        StopReason::Rejected(StatusCode::NOT_FOUND)
    );
    assert_eq!(
        stop(p.on_error(t0, Cause::Status(StatusCode::NO_CONTENT))),
        StopReason::ServerStop(StatusCode::NO_CONTENT)
    );
    let r = reconnect(p.on_error(t0, Cause::Status(StatusCode::SERVICE_UNAVAILABLE)));
    assert_eq!(r.attempt, 1);
}

// ---- timer ----

#[test]
fn timer_fires_once_when_due() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter());
    assert_eq!(p.poll_timeout(), None);
    assert!(!p.handle_timeout(t0 + secs(100)));
    let r = reconnect(p.on_error(t0, Cause::ConnectFailed));
    assert_eq!(p.poll_timeout(), Some(r.at));
    assert!(!p.handle_timeout(r.at - Duration::from_nanos(1)));
    assert_eq!(p.poll_timeout(), Some(r.at));
    assert!(p.handle_timeout(r.at));
    assert_eq!(p.poll_timeout(), None);
    assert!(!p.handle_timeout(r.at + secs(1)));
}

#[test]
fn inputs_clear_the_pending_reconnection() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter());
    let _ = p.on_error(t0, Cause::ConnectFailed);
    assert_eq!(p.on_response(t0, StatusCode::OK, &sse()), Verdict::Stream);
    assert_eq!(p.poll_timeout(), None);
    let _ = p.on_error(t0, Cause::ConnectFailed);
    p.on_connected(t0);
    assert_eq!(p.poll_timeout(), None);
    let _ = p.on_error(t0, Cause::ConnectFailed);
    p.reset();
    assert_eq!(p.poll_timeout(), None);
    assert_eq!(p.attempt(), 0);
}

#[test]
fn reset_starts_over_but_keeps_retry() {
    let t0 = Instant::now();
    let mut p = policy(no_jitter().max_attempts(Some(2)));
    p.on_retry(secs(2));
    let _ = delays(&mut p, t0, 2);
    assert!(matches!(p.on_error(t0, Cause::Io), Decision::Stop(_)));
    p.reset();
    let r = reconnect(p.on_error(t0, Cause::Io));
    assert_eq!((r.attempt, r.delay), (1, secs(2)));
}

#[test]
fn invalid_config_is_the_only_error() {
    assert_eq!(
        ReconnectPolicy::new(ReconnectConfig::default().floor(Duration::ZERO)).err(),
        Some(ConfigError::ZeroFloor)
    );
}

#[test]
fn messages_are_lowercase_without_period() {
    let reasons = [
        StopReason::ServerStop(StatusCode::NO_CONTENT),
        StopReason::Rejected(StatusCode::NOT_FOUND),
        StopReason::ContentType(None),
        StopReason::ContentType(Some("text/html".into())),
        StopReason::MissingLocation(StatusCode::FOUND),
        StopReason::InvalidLocation(StatusCode::FOUND),
        StopReason::TooManyRedirects { limit: 20 },
        StopReason::AttemptLimit { attempts: 3 },
        StopReason::ElapsedLimit {
            elapsed: secs(3),
            attempts: 3,
        },
        StopReason::EndOfStream,
    ];
    let causes = [
        Cause::EndOfBodyClean,
        Cause::EndOfBodyMidEvent,
        Cause::Io,
        Cause::IdleTimeout,
        Cause::ConnectFailed,
        Cause::Status(StatusCode::BAD_GATEWAY),
    ];
    let messages = reasons
        .iter()
        .map(ToString::to_string)
        .chain(causes.iter().map(ToString::to_string));
    for m in messages {
        assert!(m.starts_with(|c: char| c.is_lowercase()), "{m}");
        assert!(!m.ends_with('.'), "{m}");
    }
}
