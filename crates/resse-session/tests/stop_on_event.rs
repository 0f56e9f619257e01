//! The `superseded` event (or the configured stop event) closes a session
//! with a readable reason instead of reconnecting; turned off, it is an
//! ordinary event.

use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header::CONTENT_TYPE};
use resse_session::{Action, ClientSession, CloseReason, SessionConfig, SessionEvent};

fn open(config: SessionConfig) -> (ClientSession, Instant) {
    let now = Instant::now();
    let mut session = ClientSession::new(now, config).expect("valid");
    assert!(matches!(session.poll_action(), Some(Action::Connect(_))));
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    session.handle_response(now, StatusCode::OK, &headers);
    (session, now)
}

fn events(session: &mut ClientSession) -> Vec<SessionEvent> {
    std::iter::from_fn(|| session.poll_event()).collect()
}

const BODY: &[u8] =
    b"data: one\n\nevent: superseded\ndata: a newer connection replaced this one\n\ndata: two\n\n";

#[test]
fn the_superseded_event_stops_the_session_with_its_reason() {
    let (mut session, now) = open(SessionConfig::new("http://127.0.0.1:1/events"));
    session.handle_body(now, Bytes::from_static(BODY));
    let got = events(&mut session);
    let closed = got
        .iter()
        .find_map(|e| match e {
            SessionEvent::Closed { reason } => Some(reason.clone()),
            _ => None,
        })
        .expect("closed");
    assert_eq!(
        closed,
        CloseReason::ServerStop {
            event_type: "superseded".into(),
            reason: "a newer connection replaced this one".into(),
        }
    );
    assert!(!closed.is_error());
    assert_eq!(
        closed.to_string(),
        "the server said stop (a `superseded` event): a newer connection replaced this one"
    );
    let data: Vec<_> = got
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Event(e) => Some(e.data().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(data, ["one"], "nothing after the stop");
    assert!(session.is_closed());
    assert!(matches!(session.poll_action(), Some(Action::Stop)));
}

#[test]
fn the_stop_event_is_configurable_and_can_be_turned_off() {
    let config = SessionConfig::new("http://127.0.0.1:1/events").stop_on_event(None::<&str>);
    let (mut session, now) = open(config);
    session.handle_body(now, Bytes::from_static(BODY));
    let n = events(&mut session)
        .iter()
        .filter(|e| matches!(e, SessionEvent::Event(_)))
        .count();
    assert_eq!(n, 3);
    assert!(!session.is_closed());

    let config = SessionConfig::new("http://127.0.0.1:1/events").stop_on_event(Some("bye"));
    let (mut session, now) = open(config);
    session.handle_body(
        now,
        Bytes::from_static(b"event: bye\ndata: maintenance\n\n"),
    );
    let got = events(&mut session);
    assert!(got.iter().any(|e| matches!(e,
        SessionEvent::Closed { reason: CloseReason::ServerStop { reason, .. } } if reason.as_str() == "maintenance")));
}
