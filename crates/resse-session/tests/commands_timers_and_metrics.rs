//! User commands, timer behaviour, poll order and the metrics snapshot.

mod support;

use std::time::Duration;

use http::StatusCode;
use resse_session::{
    Action, Cause, CloseReason, ConnectionState, DelayReason, SessionConfig, SessionEvent,
};
use support::{Client, ms};

#[test]
fn a_new_session_connects_at_once() {
    let mut c = Client::new(SessionConfig::new("http://h.test/e"));
    assert_eq!(c.session.state(), ConnectionState::Connecting);
    assert!(c.session.is_connected());
    assert_eq!(c.events(), [SessionEvent::Connecting { attempt: 0 }]);
    c.expect_connect();
    c.open();
    assert_eq!(c.events(), [SessionEvent::Open]);
    assert_eq!(c.session.state(), ConnectionState::Open);
}

#[test]
fn close_stops_once_and_restart_reopens() {
    let mut c = Client::new(SessionConfig::new("http://h.test/e"));
    c.expect_connect();
    c.open();
    c.session.close();
    c.session.close();
    assert_eq!(c.actions(), [Action::Stop]);
    let closed: Vec<_> = c
        .events()
        .into_iter()
        .filter(|e| matches!(e, SessionEvent::Closed { .. }))
        .collect();
    assert_eq!(
        closed,
        [SessionEvent::Closed {
            reason: CloseReason::Requested
        }]
    );
    assert_eq!(c.session.poll_timeout(), None);
    // Inputs after closing are ignored.
    c.body(b"data: x\n\n");
    c.session.handle_eof(c.now);
    c.session.handle_timeout(c.now + Duration::from_secs(3600));
    assert!(c.actions().is_empty() && c.events().is_empty());
    c.session.restart_now(c.now);
    c.expect_connect();
    assert_eq!(c.session.state(), ConnectionState::Connecting);
}

#[test]
fn restart_now_drops_the_connection_first_and_resets_the_backoff() {
    let reconnect = support::exact_policy();
    let mut c = Client::new(SessionConfig::new("http://h.test/e").reconnect(reconnect));
    for _ in 0..3 {
        c.expect_connect();
        c.session.handle_error(c.now, Cause::ConnectFailed);
        c.fire_timer();
    }
    c.expect_connect();
    c.open();
    c.events();
    c.session.restart_now(c.now);
    let actions = c.actions();
    assert_eq!(actions[0], Action::Disconnect);
    assert!(matches!(actions[1], Action::Connect(_)));
    assert_eq!(actions.len(), 2);
    c.session.handle_error(c.now, Cause::ConnectFailed);
    let delay = c.events().iter().find_map(|e| match e {
        SessionEvent::Reconnecting { attempt, delay, .. } => Some((*attempt, *delay)),
        _ => None,
    });
    assert_eq!(delay, Some((1, Duration::from_secs(1))));
}

#[test]
fn early_and_repeated_timeouts_are_harmless() {
    let reconnect = support::exact_policy();
    let mut c = Client::new(SessionConfig::new("http://h.test/e").reconnect(reconnect));
    c.expect_connect();
    c.session.handle_error(c.now, Cause::ConnectFailed);
    c.events();
    let deadline = c.session.poll_timeout().expect("waiting");
    assert_eq!(deadline, c.t0 + Duration::from_secs(1));
    for early in [0, 500, 999] {
        c.session.handle_timeout(c.t0 + ms(early));
        assert!(c.actions().is_empty());
        assert_eq!(c.session.poll_timeout(), Some(deadline));
    }
    c.session.handle_timeout(deadline);
    c.expect_connect();
    c.session.handle_timeout(deadline);
    assert!(c.actions().is_empty());
    // The idle deadline is armed for the new attempt, later than now.
    assert!(c.session.poll_timeout().is_some_and(|t| t > deadline));
}

#[test]
fn time_going_backwards_counts_as_the_latest_instant() {
    let reconnect = support::exact_policy();
    let mut c = Client::new(SessionConfig::new("http://h.test/e").reconnect(reconnect));
    c.expect_connect();
    let later = c.t0 + Duration::from_secs(10);
    c.session
        .handle_response(later, StatusCode::OK, &support::stream_head());
    c.session.handle_error(c.t0, Cause::Io); // an earlier instant
    assert_eq!(
        c.session.poll_timeout(),
        Some(later + Duration::from_secs(1))
    );
}

#[test]
fn metrics_snapshot() {
    let reconnect = support::exact_policy();
    let mut c = Client::new(SessionConfig::new("http://h.test/e").reconnect(reconnect));
    let m = c.session.metrics(c.now);
    assert_eq!(
        (m.state, m.attempt, m.connections),
        (ConnectionState::Connecting, 0, 1)
    );
    assert_eq!((m.last_cause, m.since_last_byte), (None, None));
    assert_eq!(
        (m.next_delay, m.next_delay_reason),
        (Duration::from_secs(1), DelayReason::Backoff)
    );
    c.expect_connect();
    c.open();
    c.body(b"retry: 3000\nid: 4\ndata: a\n\ndata: b\n\n");
    c.at(Duration::from_secs(2));
    let m = c.session.metrics(c.now);
    assert_eq!(m.state, ConnectionState::Open);
    assert_eq!(m.since_last_byte, Some(Duration::from_secs(2)));
    assert_eq!(m.last_event_id, "4");
    assert_eq!((m.events_received, m.bytes_received), (2, 36));
    assert_eq!(
        (m.next_delay, m.next_delay_reason),
        (Duration::from_secs(3), DelayReason::ServerRetry)
    );

    c.session.handle_eof(c.now);
    let m = c.session.metrics(c.now);
    assert_eq!(m.state, ConnectionState::Waiting);
    assert_eq!((m.attempt, m.last_cause), (1, Some(Cause::EndOfBodyClean)));
    assert_eq!(m.reconnect_at, Some(c.now + Duration::from_secs(3)));

    c.fire_timer();
    c.expect_connect();
    c.open();
    c.body(b"data: c\n\n");
    let m = c.session.metrics(c.now);
    assert_eq!(
        (m.connections, m.events_received, m.bytes_received),
        (2, 1, 9)
    );
    assert_eq!((m.total_events, m.total_bytes), (3, 45));
}
