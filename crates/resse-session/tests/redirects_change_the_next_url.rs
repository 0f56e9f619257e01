//! A redirect changes the URL of the next request only, is bounded by the
//! policy, and never forwards credentials to another origin.

mod support;

use http::header::{AUTHORIZATION, HeaderValue, LOCATION};
use http::{HeaderMap, Method, StatusCode};
use resse_session::{
    Action, Cause, CloseReason, ReconnectConfig, SessionConfig, SessionEvent, StopReason,
};
use support::Client;

fn location(l: &'static str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(LOCATION, HeaderValue::from_static(l));
    h
}

#[test]
fn redirect_is_followed_at_once_then_reconnections_start_over() {
    let config = SessionConfig::new("http://a.test/v1/events?x=1").last_event_id("9");
    let mut c = Client::new(config);
    c.expect_connect();
    c.session.handle_response(
        c.now,
        StatusCode::TEMPORARY_REDIRECT,
        &location("../v2/events"),
    );
    let actions = c.actions();
    assert_eq!(actions.len(), 2);
    assert_eq!(actions[0], Action::Disconnect);
    let Action::Connect(r) = &actions[1] else {
        panic!("{actions:?}")
    };
    assert_eq!(r.url, "http://a.test/v2/events");
    assert_eq!(r.headers["last-event-id"], "9");
    let events = c.events();
    assert!(events.contains(&SessionEvent::Redirected {
        status: StatusCode::TEMPORARY_REDIRECT,
        url: "http://a.test/v2/events".to_owned()
    }));
    assert!(events.contains(&SessionEvent::Connecting { attempt: 0 }));
    assert_eq!(c.session.current_url(), "http://a.test/v2/events");
    c.open();
    c.session.handle_eof(c.now);
    c.fire_timer();
    assert_eq!(c.expect_connect().url, "http://a.test/v1/events?x=1");
}

#[test]
fn cross_origin_redirect_drops_credentials_and_303_turns_post_into_get() {
    let config = SessionConfig::new("https://a.test/chat")
        .method(Method::POST)
        .body("q")
        .header(AUTHORIZATION, HeaderValue::from_static("Bearer k"));
    let mut c = Client::new(config);
    c.expect_connect();
    c.session.handle_response(
        c.now,
        StatusCode::SEE_OTHER,
        &location("https://b.test/result"),
    );
    let r = c.expect_connect();
    assert_eq!(
        (r.method, r.url.as_str()),
        (Method::GET, "https://b.test/result")
    );
    assert!(r.body.is_none());
    assert!(!r.headers.contains_key(AUTHORIZATION));
}

#[test]
fn redirect_loops_are_bounded_by_the_policy() {
    let reconnect = ReconnectConfig::default().max_redirects(3);
    let mut c = Client::new(SessionConfig::new("http://a.test/e").reconnect(reconnect));
    // Three redirects in a row are followed; the fourth is one too many.
    for _ in 0..4 {
        c.expect_connect();
        c.session
            .handle_response(c.now, StatusCode::FOUND, &location("/e"));
    }
    assert_eq!(c.actions(), [Action::Stop]);
    assert!(c.events().contains(&SessionEvent::Closed {
        reason: CloseReason::Policy(StopReason::TooManyRedirects { limit: 3 })
    }));
}

#[test]
fn a_redirect_target_that_fails_reconnects_to_the_configured_url() {
    let mut c = Client::new(SessionConfig::new("http://a.test/e"));
    c.expect_connect();
    c.session.handle_response(
        c.now,
        StatusCode::MOVED_PERMANENTLY,
        &location("http://c.test/"),
    );
    assert_eq!(c.expect_connect().url, "http://c.test/");
    c.session.handle_error(c.now, Cause::ConnectFailed);
    c.fire_timer();
    assert_eq!(c.expect_connect().url, "http://a.test/e");
}
