//! What the client does with responses that are not a stream.

mod support;

use std::time::Duration;

use http::StatusCode;
use resse_session::{Cause, CloseReason, SessionEvent, StopReason};
use resse_testkit::within;
use support::client;
use support::server::TestServer;

#[test]
fn no_content_stops_for_good() {
    let (events, hits) = within(Duration::from_secs(5), || {
        let server = TestServer::start();
        let client = client(&server.url("/204"), Duration::from_secs(1), 1)
            .build()
            .unwrap();
        let mut client = client;
        let events: Vec<_> = std::iter::from_fn(|| client.next_session_event()).collect();
        // Nothing reconnects afterwards.
        std::thread::sleep(Duration::from_millis(100));
        (events, server.hits())
    });
    assert!(
        matches!(
            events.last(),
            Some(SessionEvent::Closed {
                reason: CloseReason::Policy(StopReason::ServerStop(StatusCode::NO_CONTENT))
            })
        ),
        "{events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, SessionEvent::Reconnecting { .. }))
    );
    assert_eq!(hits.len(), 1);
}

#[test]
fn server_errors_are_retried_until_the_stream_opens() {
    let (causes, ids, hits) = within(Duration::from_secs(5), || {
        let server = TestServer::start();
        server.publish(5);
        let mut client = client(&server.url("/500-twice"), Duration::from_secs(1), 2)
            .build()
            .unwrap();
        let (mut causes, mut ids) = (Vec::new(), Vec::new());
        while let Some(event) = client.next_session_event() {
            match event {
                SessionEvent::Reconnecting { cause, .. } => causes.push(cause),
                SessionEvent::Event(e) => {
                    ids.push(e.last_event_id().to_owned());
                    if ids.len() == 5 {
                        break;
                    }
                }
                _ => {}
            }
        }
        (causes, ids, server.hits())
    });
    let error = Cause::Status(StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(causes, [error, error]);
    assert_eq!(ids, ["1", "2", "3", "4", "5"]);
    assert_eq!(hits.len(), 3);
}

#[test]
fn redirects_are_followed_by_the_session_not_by_the_http_client() {
    let (events, hits) = within(Duration::from_secs(5), || {
        let server = TestServer::start();
        server.publish(3);
        let mut client = client(&server.url("/redirect"), Duration::from_secs(1), 5)
            .build()
            .unwrap();
        let mut events = Vec::new();
        while let Some(event) = client.next_session_event() {
            let last = matches!(&event, SessionEvent::Event(e) if e.last_event_id() == "3");
            events.push(event);
            if last {
                break;
            }
        }
        (events, server.hits())
    });
    let redirected: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Redirected { status, url } => Some((*status, url.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(redirected.len(), 1, "{events:?}");
    assert_eq!(redirected[0].0, StatusCode::TEMPORARY_REDIRECT);
    assert!(redirected[0].1.ends_with("/events"), "{redirected:?}");
    let ids: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Event(e) => Some(e.last_event_id().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(ids, ["1", "2", "3"]);
    let paths: Vec<_> = hits.iter().map(|h| h.path.as_str()).collect();
    assert_eq!(paths, ["/redirect", "/events"]);
}

#[test]
fn wrong_content_type_ends_with_an_error() {
    let items = within(Duration::from_secs(5), || {
        let server = TestServer::start();
        let mut client = client(&server.url("/wrong-type"), Duration::from_secs(1), 3)
            .build()
            .unwrap();
        client.next_event()
    });
    assert!(
        matches!(
            &items,
            Err(CloseReason::Policy(StopReason::ContentType(Some(t)))) if t == "text/plain"
        ),
        "{items:?}"
    );
}

#[test]
fn refused_connections_give_up_at_the_attempt_limit() {
    let items = within(Duration::from_secs(5), || {
        // A port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = resse_testkit::fast_reconnect(4).max_attempts(Some(3));
        let mut client =
            resse_blocking::ClientBuilder::new(format!("http://127.0.0.1:{port}/events"))
                .reconnect(config)
                .seed(4)
                .build()
                .unwrap();
        client.next_event()
    });
    assert!(
        matches!(
            items,
            Err(CloseReason::Policy(StopReason::AttemptLimit { .. }))
        ),
        "{items:?}"
    );
}
