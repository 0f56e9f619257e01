//! How the client answers each kind of response from a real server: 204
//! stops for good, 5xx is retried with backoff, 503 + `Retry-After` waits,
//! a wrong content type fails readably, redirects are followed and bounded.
#![cfg(feature = "client")]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::{Response, StatusCode};
use resse_reconnect::{Cause, StopReason};
use resse_tokio::client::{CloseReason, SessionEvent};
use support::server::{BoxBody, TestServer, full};
use support::{client, collect, data};

const LIMIT: Duration = Duration::from_secs(20);

fn stream(body: &'static str) -> Response<BoxBody> {
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(full(body))
        .unwrap()
}

fn status(code: u16) -> Response<BoxBody> {
    Response::builder().status(code).body(full("")).unwrap()
}

/// A server whose `n`th request (from 0) gets `respond(n)`.
async fn server(
    respond: impl Fn(usize) -> Response<BoxBody> + Send + Sync + 'static,
) -> TestServer {
    let count = AtomicUsize::new(0);
    TestServer::start(Arc::new(move |_| {
        respond(count.fetch_add(1, Ordering::SeqCst))
    }))
    .await
}

fn closed_reason(events: &[SessionEvent]) -> CloseReason {
    match events.last() {
        Some(SessionEvent::Closed { reason }) => reason.clone(),
        other => panic!("the stream should end with Closed, got {other:?}"),
    }
}

#[tokio::test]
async fn no_content_stops_for_good() {
    let server = server(|_| status(204)).await;
    let mut client = client(&server.url("/events"), Duration::from_secs(5), 1)
        .build()
        .unwrap();
    let events = collect(&mut client, LIMIT).await;
    let reason = closed_reason(&events);
    assert_eq!(
        reason,
        CloseReason::Policy(StopReason::ServerStop(StatusCode::NO_CONTENT))
    );
    assert!(
        !reason.is_error(),
        "204 is the server's request to stop, not a failure"
    );
    assert_eq!(server.seen().len(), 1, "no request after a 204");
    assert_eq!(
        client.next_event().await,
        Ok(None),
        "the stream stays ended"
    );
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_resume() {
    let server = server(|n| match n {
        0 | 1 => status(500),
        2 => stream("id: 1\ndata: a\n\n"),
        _ => status(204),
    })
    .await;
    let mut client = client(&server.url("/events"), Duration::from_secs(5), 2)
        .build()
        .unwrap();
    let events = collect(&mut client, LIMIT).await;
    let retries: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Reconnecting { cause, delay, .. } => Some((*cause, *delay)),
            _ => None,
        })
        .collect();
    assert_eq!(retries.len(), 3, "two 500s and a clean end: {events:?}");
    for (cause, delay) in &retries[..2] {
        assert_eq!(*cause, Cause::Status(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(*delay > Duration::ZERO, "a retry waits");
    }
    assert_eq!(retries[2].0, Cause::EndOfBodyClean);
    assert_eq!(data(&events), ["a"]);
    let ids: Vec<_> = server.seen().into_iter().map(|s| s.last_event_id).collect();
    assert_eq!(ids, [None, None, None, Some("1".to_owned())]);
    assert!(!closed_reason(&events).is_error());
}

#[tokio::test]
async fn service_unavailable_waits_for_retry_after() {
    let first = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let second = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let (f, s) = (first.clone(), second.clone());
    let server = server(move |n| match n {
        0 => {
            *f.lock().unwrap() = Some(Instant::now());
            Response::builder()
                .status(503)
                .header("retry-after", "1")
                .body(full(""))
                .unwrap()
        }
        1 => {
            *s.lock().unwrap() = Some(Instant::now());
            status(204)
        }
        _ => status(500),
    })
    .await;
    let mut client = client(&server.url("/events"), Duration::from_secs(5), 3)
        .build()
        .unwrap();
    let events = collect(&mut client, LIMIT).await;
    let delay = events
        .iter()
        .find_map(|e| match e {
            SessionEvent::Reconnecting { cause, delay, .. } => {
                assert_eq!(*cause, Cause::Status(StatusCode::SERVICE_UNAVAILABLE));
                Some(*delay)
            }
            _ => None,
        })
        .expect("a retry after the 503");
    assert!(
        delay >= Duration::from_secs(1),
        "Retry-After: 1 is honoured: {delay:?}"
    );
    let waited = second.lock().unwrap().unwrap() - first.lock().unwrap().unwrap();
    assert!(
        waited >= Duration::from_secs(1),
        "the second request came after {waited:?}"
    );
}

#[tokio::test]
async fn wrong_content_type_fails_with_a_readable_error() {
    let server = server(|_| {
        Response::builder()
            .header("content-type", "text/html")
            .body(full("<html></html>"))
            .unwrap()
    })
    .await;
    let mut client = client(&server.url("/events"), Duration::from_secs(5), 4)
        .build()
        .unwrap();
    let error = support::within(LIMIT, client.next_event())
        .await
        .expect_err("a page that is not an event stream is a failure");
    assert_eq!(
        error,
        CloseReason::Policy(StopReason::ContentType(Some("text/html".into())))
    );
    let message = error.to_string();
    assert!(
        message.contains("text/html") && message.contains("content type"),
        "{message}"
    );
    assert_eq!(server.seen().len(), 1, "not retried");
}

#[tokio::test]
async fn redirects_are_followed() {
    let server = TestServer::start(Arc::new(|request| match request.uri().path() {
        "/old" => Response::builder()
            .status(302)
            .header("location", "/events")
            .body(full(""))
            .unwrap(),
        "/events" if request.headers().contains_key("last-event-id") => status(204),
        _ => stream("id: 7\ndata: moved\n\n"),
    }))
    .await;
    let mut client = client(&server.url("/old"), Duration::from_secs(5), 5)
        .build()
        .unwrap();
    let events = collect(&mut client, LIMIT).await;
    assert!(events.iter().any(|e| matches!(e,
        SessionEvent::Redirected { status, url } if *status == StatusCode::FOUND && url.ends_with("/events"))));
    assert_eq!(data(&events), ["moved"]);
    let paths: Vec<_> = server.seen().into_iter().map(|s| s.path).collect();
    // A reconnection starts from the configured URL again, as EventSource does.
    assert_eq!(paths, ["/old", "/events", "/old", "/events"]);
}

#[tokio::test]
async fn redirect_loops_are_bounded() {
    let server = TestServer::start(Arc::new(|_| {
        Response::builder()
            .status(307)
            .header("location", "/loop")
            .body(full(""))
            .unwrap()
    }))
    .await;
    let policy = resse_testkit::fast_reconnect(6).max_redirects(3);
    let mut client = client(&server.url("/loop"), Duration::from_secs(5), 6)
        .reconnect(policy)
        .seed(6)
        .build()
        .unwrap();
    let events = collect(&mut client, LIMIT).await;
    let reason = closed_reason(&events);
    assert_eq!(
        reason,
        CloseReason::Policy(StopReason::TooManyRedirects { limit: 3 })
    );
    assert!(reason.is_error());
    assert_eq!(
        server.seen().len(),
        4,
        "the first request and three redirects"
    );
}
