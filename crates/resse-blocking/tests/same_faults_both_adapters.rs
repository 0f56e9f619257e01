//! One sequence of server faults through both adapters: the blocking
//! client and the tokio client report the same causes and the same events,
//! in the same order.
//!
//! The classification both follow (documented on `Cause`): a body that ends
//! before its framing says (a chunked body cut inside a chunk or without its
//! last chunk, a body short of its `Content-Length`) is `Cause::Io`, a cut
//! connection; only a body whose end the framing allows (the last chunk, the
//! whole length, or the end of a close-delimited body) is an end of the
//! body, clean or mid-event as the decoder finds it.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use resse_session::{ReconnectConfig, SessionEvent};
use resse_testkit::raw::{RawServer, response, stream};

/// A chunked event-stream head.
fn chunked_head() -> String {
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\
     connection: close\r\n\r\n"
        .to_owned()
}

fn chunk(data: &str) -> String {
    format!("{:x}\r\n{data}\r\n", data.len())
}

/// The `n`th response (from 0) of the scripted server.
fn respond(n: usize) -> Vec<u8> {
    match n {
        // Chunked, cut inside a chunk at an event boundary: a cut (Io).
        0 => {
            let mut r = chunked_head();
            r.push_str(&chunk("retry: 10\nid: 1\ndata: one\n\n"));
            r.push_str("40\r\nid: 2\ndata: two\n\n");
            r.into_bytes()
        }
        // Chunked, cut inside a chunk in the middle of an event: Io.
        1 => {
            let mut r = chunked_head();
            r.push_str(&chunk("id: 3\ndata: three\n\n"));
            r.push_str("40\r\nid: 4\ndata: fo");
            r.into_bytes()
        }
        // Chunked, every chunk complete but no last chunk: Io.
        2 => {
            let mut r = chunked_head();
            r.push_str(&chunk("id: 4\ndata: four\n\n"));
            r.into_bytes()
        }
        // Close-delimited, ends at an event boundary: a clean end.
        3 => stream("id: 5\ndata: five\n\n"),
        // Close-delimited, ends inside an event: mid-event.
        4 => stream("id: 6\ndata: six\n\nid: 7\ndata: sev"),
        // Content-Length longer than the body: Io.
        5 => response(
            "200 OK",
            &[
                ("content-type", "text/event-stream"),
                ("content-length", "100"),
            ],
            "id: 7\ndata: seven\n\n",
        ),
        // A retryable status.
        6 => response("503 Service Unavailable", &[("retry-after", "0")], ""),
        // Chunked and complete: a clean end.
        7 => {
            let mut r = chunked_head();
            r.push_str(&chunk("id: 8\ndata: eight\n\n"));
            r.push_str("0\r\n\r\n");
            r.into_bytes()
        }
        // Stop.
        _ => response("204 No Content", &[], ""),
    }
}

fn policy() -> ReconnectConfig {
    ReconnectConfig::default()
        .initial_delay(Duration::from_millis(10))
        .floor(Duration::from_millis(5))
        .max_delay(Duration::from_millis(40))
        .seed(5)
}

/// What a user sees of a session, in order: events with their id, and
/// reconnections with their cause, and how it closed.
fn summary(events: &[SessionEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Event(e) => Some(format!("event {}={}", e.last_event_id(), e.data())),
            SessionEvent::Reconnecting { cause, attempt, .. } => {
                Some(format!("reconnecting #{attempt}: {cause:?}"))
            }
            SessionEvent::Closed { reason } => Some(format!("closed: {reason:?}")),
            _ => None,
        })
        .collect()
}

fn blocking(url: String) -> Vec<SessionEvent> {
    let mut client = resse_blocking::ClientBuilder::new(url)
        .reconnect(policy())
        .seed(5)
        .idle_timeout(Some(Duration::from_secs(5)))
        .proxy_from_env(false)
        .build()
        .unwrap();
    std::iter::from_fn(|| client.next_session_event()).collect()
}

fn tokio(url: String) -> Vec<SessionEvent> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let mut client = resse_tokio::client::ClientBuilder::new(url)
            .reconnect(policy())
            .seed(5)
            .idle_timeout(Some(Duration::from_secs(5)))
            .proxy_from_env(false)
            .build()
            .unwrap();
        let mut all = Vec::new();
        while let Some(event) = client.next().await {
            all.push(event);
        }
        all
    })
}

#[test]
fn the_same_faults_give_the_same_causes_and_events_in_both_adapters() {
    let got: Vec<Vec<String>> = [
        blocking as fn(String) -> Vec<SessionEvent>,
        tokio as fn(String) -> Vec<SessionEvent>,
    ]
    .into_iter()
    .map(|run| {
        resse_testkit::within(Duration::from_secs(20), move || {
            let server = RawServer::start(Box::new(respond));
            summary(&run(server.url("/events")))
        })
    })
    .collect();
    let want = [
        "event 1=one",
        "event 2=two",
        "reconnecting #1: Io",
        "event 3=three",
        "reconnecting #1: Io",
        "event 4=four",
        "reconnecting #1: Io",
        "event 5=five",
        "reconnecting #1: EndOfBodyClean",
        "event 6=six",
        "reconnecting #1: EndOfBodyMidEvent",
        "event 7=seven",
        "reconnecting #1: Io",
        "reconnecting #2: Status(503)",
        "event 8=eight",
        "reconnecting #1: EndOfBodyClean",
        "closed: Policy(ServerStop(204))",
    ];
    assert_eq!(got[0], want, "blocking");
    assert_eq!(got[1], want, "tokio");
}
