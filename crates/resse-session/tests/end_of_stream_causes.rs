//! How each way a connection ends maps to a reconnection cause and delay.

mod support;

use std::time::Duration;

use http::header::{HeaderValue, RETRY_AFTER};
use http::{HeaderMap, StatusCode};
use resse_codec::{DecodeError, DecoderConfig, Overflow};
use resse_session::{
    Action, Cause, CloseReason, ConnectionState, DelayReason, ReconnectConfig, SessionConfig,
    SessionEvent, StopReason,
};
use support::{Client, ms};

/// A session with exact delays (no jitter).
fn exact() -> Client {
    let reconnect = support::exact_policy();
    let mut c = Client::new(
        SessionConfig::new("http://h.test/e")
            .reconnect(reconnect)
            .idle_timeout(Some(Duration::from_secs(5))),
    );
    c.expect_connect();
    assert_eq!(c.events(), [SessionEvent::Connecting { attempt: 0 }]);
    c
}

fn reconnecting(c: &mut Client) -> (Cause, u32, Duration, DelayReason) {
    let events = c.events();
    let found = events.iter().find_map(|e| match e {
        SessionEvent::Reconnecting {
            cause,
            attempt,
            delay,
            reason,
        } => Some((*cause, *attempt, *delay, *reason)),
        _ => None,
    });
    found.unwrap_or_else(|| panic!("no Reconnecting in {events:?}"))
}

#[test]
fn clean_end_and_end_mid_event_are_distinct_causes() {
    let mut c = exact();
    c.open();
    c.body(b"data: a\n\n");
    c.session.handle_eof(c.now);
    assert_eq!(reconnecting(&mut c).0, Cause::EndOfBodyClean);

    c.fire_timer();
    c.expect_connect();
    c.open();
    c.body(b"data: a\n\ndata: b");
    c.session.handle_eof(c.now);
    assert_eq!(reconnecting(&mut c).0, Cause::EndOfBodyMidEvent);

    c.fire_timer();
    c.expect_connect();
    c.open();
    c.body(b"data: a\n\n: trailing comment without newline");
    c.session.handle_eof(c.now);
    assert_eq!(reconnecting(&mut c).0, Cause::EndOfBodyMidEvent);

    c.fire_timer();
    c.expect_connect();
    c.open();
    c.body(b"data: a\n\n: a whole comment\n");
    c.session.handle_eof(c.now);
    assert_eq!(reconnecting(&mut c).0, Cause::EndOfBodyClean);
}

#[test]
fn an_eof_before_the_response_head_is_a_failed_connect() {
    let mut c = exact();
    c.session.handle_eof(c.now);
    assert_eq!(reconnecting(&mut c).0, Cause::ConnectFailed);
}

#[test]
fn silence_past_the_idle_timeout_disconnects() {
    let mut c = exact();
    c.open();
    let start = c.now;
    c.at(Duration::from_secs(3));
    c.body(b": keep-alive\n"); // any byte is a sign of life
    assert_eq!(
        c.session.poll_timeout(),
        Some(c.now + Duration::from_secs(5))
    );
    c.session.handle_timeout(start + Duration::from_secs(5)); // old deadline: nothing
    assert!(c.actions().is_empty());
    let fired = c.fire_timer();
    assert_eq!(fired, start + Duration::from_secs(8));
    assert_eq!(c.actions(), [Action::Disconnect]);
    assert_eq!(reconnecting(&mut c).0, Cause::IdleTimeout);
    assert_eq!(c.session.state(), ConnectionState::Waiting);
    // Bytes of the dropped connection arriving late are ignored.
    c.body(b"data: late\n\n");
    assert!(c.events().is_empty());
}

#[test]
fn no_response_head_within_the_idle_timeout_is_a_failed_connect() {
    let mut c = exact();
    let fired = c.fire_timer();
    assert_eq!(fired, c.t0 + Duration::from_secs(5));
    assert_eq!(c.actions(), [Action::Disconnect]);
    assert_eq!(reconnecting(&mut c).0, Cause::ConnectFailed);
}

#[test]
fn retry_field_sets_the_base_delay() {
    let mut c = exact();
    c.open();
    c.body(b"retry: 2500\ndata: a\n\n");
    c.session.handle_eof(c.now);
    let (_, attempt, delay, reason) = reconnecting(&mut c);
    assert_eq!(
        (attempt, delay, reason),
        (1, ms(2500), DelayReason::ServerRetry)
    );
    assert_eq!(c.session.poll_timeout(), Some(c.now + ms(2500)));
    // The next failure in the same outage doubles it.
    c.fire_timer();
    c.expect_connect();
    c.session.handle_error(c.now, Cause::ConnectFailed);
    let (_, attempt, delay, _) = reconnecting(&mut c);
    assert_eq!((attempt, delay), (2, ms(5000)));
}

#[test]
fn retry_after_is_honoured_and_5xx_disconnects() {
    let mut c = exact();
    let mut h = HeaderMap::new();
    h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
    c.session
        .handle_response(c.now, StatusCode::SERVICE_UNAVAILABLE, &h);
    assert_eq!(c.actions(), [Action::Disconnect]);
    let (cause, _, delay, reason) = reconnecting(&mut c);
    assert_eq!(cause, Cause::Status(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(
        (delay, reason),
        (Duration::from_secs(7), DelayReason::RetryAfter)
    );
}

#[test]
fn no_content_closes_the_session() {
    let mut c = exact();
    c.session
        .handle_response(c.now, StatusCode::NO_CONTENT, &HeaderMap::new());
    assert_eq!(c.actions(), [Action::Stop]);
    let reason = CloseReason::Policy(StopReason::ServerStop(StatusCode::NO_CONTENT));
    assert!(!reason.is_error());
    assert_eq!(c.events(), [SessionEvent::Closed { reason }]);
    assert!(c.session.is_closed());
    assert_eq!(c.session.poll_timeout(), None);
    assert_eq!(c.session.poll_action(), None);
}

#[test]
fn wrong_content_type_fails_with_a_readable_reason() {
    let mut c = exact();
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("text/html"));
    c.session.handle_response(c.now, StatusCode::OK, &h);
    let events = c.events();
    let Some(SessionEvent::Closed { reason }) = events.last() else {
        panic!("closed: {events:?}")
    };
    assert!(reason.is_error());
    assert!(reason.to_string().contains("text/html"), "{reason}");
}

#[test]
fn decoder_limits_skip_or_close() {
    let small = DecoderConfig::default().max_line_len(8);
    let mut c = Client::new(SessionConfig::new("http://h.test/e").decoder(small.clone()));
    c.expect_connect();
    c.open();
    c.body(b"data: far too long\n\ndata: ok\n\n");
    let events = c.events();
    assert!(
        events.contains(&SessionEvent::DecodeError(DecodeError::LineTooLong {
            limit: 8
        }))
    );
    assert_eq!(Client::data(&events), ["ok"]);

    let stop = small.on_overflow(Overflow::Stop);
    let mut c = Client::new(SessionConfig::new("http://h.test/e").decoder(stop));
    c.expect_connect();
    c.open();
    c.body(b"data: far too long\n\ndata: ok\n\n");
    assert_eq!(c.actions(), [Action::Stop]);
    assert!(c.events().contains(&SessionEvent::Closed {
        reason: CloseReason::Decode(DecodeError::LineTooLong { limit: 8 })
    }));
}

#[test]
fn attempt_limit_closes_after_the_last_attempt() {
    let reconnect = ReconnectConfig::default().max_attempts(Some(2));
    let mut c = Client::new(SessionConfig::new("http://h.test/e").reconnect(reconnect));
    for _ in 0..2 {
        c.expect_connect();
        c.session.handle_error(c.now, Cause::ConnectFailed);
        c.fire_timer();
    }
    c.expect_connect();
    c.session.handle_error(c.now, Cause::ConnectFailed);
    assert_eq!(c.actions(), [Action::Stop]);
    assert!(matches!(
        c.events().last(),
        Some(SessionEvent::Closed {
            reason: CloseReason::Policy(StopReason::AttemptLimit { attempts: 2 })
        })
    ));
}

#[test]
fn a_clean_end_stops_a_post_and_reconnects_a_get_by_default() {
    use http::Method;
    let run = |config: SessionConfig| {
        let mut c = Client::new(config.idle_timeout(None));
        c.expect_connect();
        c.open();
        c.body(b"data: the answer\n\n");
        c.session.handle_eof(c.now);
        let events = c.events();
        events.into_iter().find_map(|e| match e {
            SessionEvent::Closed { reason } => Some(Err(reason)),
            SessionEvent::Reconnecting { cause, .. } => Some(Ok(cause)),
            _ => None,
        })
    };
    let get = SessionConfig::new("http://h.test/e");
    assert_eq!(run(get.clone()), Some(Ok(Cause::EndOfBodyClean)));
    let post = get.clone().method(Method::POST).body("{}");
    let stopped = run(post.clone());
    assert_eq!(
        stopped,
        Some(Err(CloseReason::Policy(StopReason::EndOfStream)))
    );
    assert!(!CloseReason::Policy(StopReason::EndOfStream).is_error());
    // The setter overrides the method's default, in either direction and
    // whatever the order of the calls.
    assert_eq!(
        run(post.clone().stop_on_clean_end(false)),
        Some(Ok(Cause::EndOfBodyClean))
    );
    assert_eq!(
        run(SessionConfig::new("http://h.test/e")
            .stop_on_clean_end(false)
            .method(Method::POST)
            .reconnect(ReconnectConfig::default().stop_on_clean_end(true))),
        Some(Ok(Cause::EndOfBodyClean))
    );
    assert_eq!(
        run(get.stop_on_clean_end(true)),
        Some(Err(CloseReason::Policy(StopReason::EndOfStream)))
    );
    // A POST stream cut mid-event is a failure: it is sent again.
    let mut c = Client::new(post.idle_timeout(None));
    c.expect_connect();
    c.open();
    c.body(b"data: the ans");
    c.session.handle_eof(c.now);
    assert!(c.events().iter().any(|e| matches!(
        e,
        SessionEvent::Reconnecting {
            cause: Cause::EndOfBodyMidEvent,
            ..
        }
    )));
}

#[test]
fn an_unusable_url_is_refused_at_creation() {
    use resse_session::{ClientSession, ConfigError};
    for (url, says) in [
        ("example.com/events", "it has no scheme"),
        ("localhost:8080/events", "it has no scheme"),
        (
            "ftp://example.com/events",
            "the scheme \"ftp\" is not supported",
        ),
        ("http://", "it has no host"),
    ] {
        let err =
            ClientSession::new(std::time::Instant::now(), SessionConfig::new(url)).expect_err(url);
        assert!(matches!(err, ConfigError::Url(_)), "{url}: {err:?}");
        let msg = err.to_string();
        assert!(msg.contains(says) && msg.contains(url), "{url}: {msg}");
        assert!(msg.contains("http://") && msg.contains("https://"), "{msg}");
    }
    let err = ClientSession::new(
        std::time::Instant::now(),
        SessionConfig::new("http://h.test/e")
            .reconnect(ReconnectConfig::default().floor(Duration::ZERO)),
    )
    .expect_err("zero floor");
    assert_eq!(
        err.to_string(),
        "invalid reconnection policy: the delay floor must not be zero"
    );
}
