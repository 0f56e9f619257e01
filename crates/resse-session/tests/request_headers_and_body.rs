//! Every `Connect` carries the SSE request headers, the user's headers, the
//! body (resent on every reconnection) and `Last-Event-ID` when known.

mod support;

use http::Method;
use http::header::{ACCEPT, AUTHORIZATION, CACHE_CONTROL, HeaderValue};
use resse_session::{Cause, LAST_EVENT_ID, SessionConfig};
use support::Client;

#[test]
fn first_request_has_the_sse_headers_and_no_last_event_id() {
    let mut c = Client::new(SessionConfig::new("http://h.test/e"));
    let r = c.expect_connect();
    assert_eq!(r.method, Method::GET);
    assert_eq!(r.url, "http://h.test/e");
    assert_eq!(r.headers[ACCEPT], "text/event-stream");
    assert_eq!(r.headers[CACHE_CONTROL], "no-store");
    assert!(!r.headers.contains_key(LAST_EVENT_ID));
    assert!(r.body.is_none());
    assert!(r.last_event_id.is_empty());
}

#[test]
fn post_body_and_user_headers_are_resent_on_every_reconnection() {
    let config = SessionConfig::new("http://h.test/chat")
        .method(Method::POST)
        .header(AUTHORIZATION, HeaderValue::from_static("Bearer k"))
        .body(&b"{\"prompt\":\"hi\"}"[..]);
    let mut c = Client::new(config);
    for attempt in 0..4 {
        let r = c.expect_connect();
        assert_eq!(r.method, Method::POST, "attempt {attempt}");
        assert_eq!(r.body.as_deref(), Some(&b"{\"prompt\":\"hi\"}"[..]));
        assert_eq!(r.headers[AUTHORIZATION], "Bearer k");
        assert_eq!(r.headers[ACCEPT], "text/event-stream");
        c.session.handle_error(c.now, Cause::ConnectFailed);
        c.fire_timer();
    }
}

#[test]
fn configured_last_event_id_is_sent_from_the_first_request() {
    let mut c = Client::new(SessionConfig::new("http://h.test/e").last_event_id("41"));
    let r = c.expect_connect();
    assert_eq!(r.headers[LAST_EVENT_ID], "41");
    // A user-supplied Last-Event-ID header is ignored: the session owns it.
    let config = SessionConfig::new("http://h.test/e")
        .header(LAST_EVENT_ID, HeaderValue::from_static("forged"));
    let mut c = Client::new(config);
    assert!(!c.expect_connect().headers.contains_key(LAST_EVENT_ID));
}

#[test]
fn last_event_id_header_follows_the_stream_and_an_empty_id_removes_it() {
    let mut c = Client::new(SessionConfig::new("http://h.test/e"));
    c.expect_connect();
    c.open();
    c.body(b"id: 7\ndata: a\n\n");
    c.session.handle_eof(c.now);
    c.fire_timer();
    assert_eq!(c.expect_connect().headers[LAST_EVENT_ID], "7");
    c.open();
    c.body(b"id\ndata: b\n\n"); // `id` with an empty value clears it
    assert!(c.session.last_event_id().is_empty());
    c.session.handle_eof(c.now);
    c.fire_timer();
    let r = c.expect_connect();
    assert!(!r.headers.contains_key(LAST_EVENT_ID));
    assert!(r.last_event_id.is_empty());
}

#[test]
fn an_id_that_is_no_header_value_is_reported_but_not_sent() {
    let mut c = Client::new(SessionConfig::new("http://h.test/e"));
    c.expect_connect();
    c.open();
    c.body(b"id: a\x01b\ndata: x\n\n");
    assert_eq!(c.session.last_event_id(), "a\u{1}b");
    c.session.handle_eof(c.now);
    c.fire_timer();
    let r = c.expect_connect();
    assert!(!r.headers.contains_key(LAST_EVENT_ID));
    assert_eq!(r.last_event_id, "a\u{1}b");
}
