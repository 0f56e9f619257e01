//! What the client's configuration means against real servers: unusable
//! URLs are refused by `build()`, a clean end stops a `POST` and reconnects
//! a `GET`, and a `Retry-After` date is honoured without a `Date` header.

mod support;

use std::time::Duration;

use http::Method;
use resse_blocking::{ClientBuilder, ConfigError, Error};
use resse_session::{Cause, CloseReason, DelayReason, SessionEvent, StopReason};
use resse_testkit::raw::{RawServer, http_date_in, response, stream};
use resse_testkit::within;
use support::client;

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn unusable_urls_are_refused_by_build() {
    for (url, says) in [
        ("example.com/events", "it has no scheme"),
        ("127.0.0.1:8080/events", "it has no scheme"),
        (
            "ftp://example.com/events",
            "the scheme \"ftp\" is not supported",
        ),
        ("http://", "it has no host"),
        ("http://[::1/events", "invalid IPv6 address"),
    ] {
        let err = ClientBuilder::new(url).build().expect_err(url);
        assert!(
            matches!(err, Error::Config(ConfigError::Url(_))),
            "{url}: {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains(says), "{url}: {msg}");
        assert!(msg.contains(&format!("{url:?}")), "{url}: {msg}");
        assert!(msg.contains("http://") && msg.contains("https://"), "{msg}");
    }
    assert!(
        ClientBuilder::new("https://example.com/events")
            .build()
            .is_ok()
    );
}

/// Runs a client against a server that answers each request with one event
/// and a clean end (a `204` from the third request on, to stop for sure).
fn clean_end(
    builder: impl FnOnce(ClientBuilder) -> ClientBuilder + Send + 'static,
) -> (Vec<SessionEvent>, usize) {
    within(LIMIT, move || {
        let server = RawServer::start(Box::new(|n| match n {
            0 | 1 => stream(&format!("id: {n}\ndata: answer {n}\n\n")),
            _ => response("204 No Content", &[], ""),
        }));
        let mut client = builder(client(&server.url("/chat"), Duration::from_secs(5), 7))
            .build()
            .unwrap();
        let events: Vec<_> = std::iter::from_fn(|| client.next_session_event()).collect();
        (events, server.heads().len())
    })
}

fn closed(events: &[SessionEvent]) -> Option<&CloseReason> {
    events.iter().find_map(|e| match e {
        SessionEvent::Closed { reason } => Some(reason),
        _ => None,
    })
}

#[test]
fn a_clean_end_stops_a_post_by_default() {
    let (events, requests) = clean_end(|b| b.method(Method::POST).body("{}"));
    assert_eq!(requests, 1, "the question is not asked again: {events:?}");
    assert_eq!(
        closed(&events),
        Some(&CloseReason::Policy(StopReason::EndOfStream))
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, SessionEvent::Event(ev) if ev.data() == "answer 0"))
    );
}

#[test]
fn a_clean_end_reconnects_a_get_and_the_setter_overrides_both_ways() {
    for (method, stop, want) in [
        (Method::GET, None, 3),
        (Method::POST, Some(false), 3),
        (Method::GET, Some(true), 1),
    ] {
        let m = method.clone();
        let (events, requests) = clean_end(move |mut b| {
            b = b.method(m);
            match stop {
                Some(yes) => b.stop_on_clean_end(yes),
                None => b,
            }
        });
        assert_eq!(requests, want, "{method} {stop:?}: {events:?}");
        if want == 3 {
            assert!(events.iter().any(|e| matches!(
                e,
                SessionEvent::Reconnecting {
                    cause: Cause::EndOfBodyClean,
                    ..
                }
            )));
        }
    }
}

#[test]
fn a_retry_after_date_without_a_date_header_is_honoured() {
    let (events, heads) = within(LIMIT, || {
        // 3 s ahead in whole seconds: between 2 and 3 s from now.
        let date = http_date_in(3);
        let server = RawServer::start(Box::new(move |n| match n {
            0 => response("503 Service Unavailable", &[("retry-after", &date)], ""),
            _ => response("204 No Content", &[], ""),
        }));
        let mut client = client(&server.url("/events"), Duration::from_secs(10), 3)
            .build()
            .unwrap();
        let events: Vec<_> = std::iter::from_fn(|| client.next_session_event()).collect();
        (events, server.heads())
    });
    let (delay, reason) = events
        .iter()
        .find_map(|e| match e {
            SessionEvent::Reconnecting { delay, reason, .. } => Some((*delay, *reason)),
            _ => None,
        })
        .expect("a retry after the 503");
    assert_eq!(reason, DelayReason::RetryAfter, "{events:?}");
    assert!(delay >= Duration::from_millis(1500), "{delay:?}");
    assert_eq!(heads.len(), 2);
    let waited = heads[1].0 - heads[0].0;
    assert!(waited >= Duration::from_millis(1500), "{waited:?}");
}

#[test]
fn the_request_hook_runs_before_every_request() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let heads = within(LIMIT, move || {
        let server = RawServer::start(Box::new(|n| match n {
            0 => stream("id: 1\ndata: one\n\n"),
            _ => response("204 No Content", &[], ""),
        }));
        let mut client = client(&server.url("/events"), Duration::from_secs(5), 9)
            .on_request(move |request| {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                request.headers.insert(
                    "authorization",
                    http::HeaderValue::from_str(&format!("Bearer token-{n}")).unwrap(),
                );
            })
            .build()
            .unwrap();
        while client.next_session_event().is_some() {}
        server.heads()
    });
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(heads.len(), 2);
    for (i, (_, head)) in heads.iter().enumerate() {
        let head = head.to_ascii_lowercase();
        assert!(
            head.contains(&format!("authorization: bearer token-{i}")),
            "{head}"
        );
    }
    // The second request resumes from the first one's event.
    assert!(heads[1].1.to_ascii_lowercase().contains("last-event-id: 1"));
}
