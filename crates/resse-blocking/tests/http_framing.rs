//! The default connector reads bodies framed by `Content-Length` after an
//! interim `100 Continue` head, sends the configured request, and gives up
//! on a response head that does not come.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use http::{HeaderName, HeaderValue, Method};
use resse_session::{Cause, SessionEvent};
use resse_testkit::within;

#[test]
fn content_length_body_after_interim_head_then_clean_end_reconnects() {
    let (events, request) = within(Duration::from_secs(5), || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            // Head, then the 4-byte body.
            while !request.ends_with(b"\r\n\r\nping") {
                conn.read_exact(&mut byte).unwrap();
                request.push(byte[0]);
            }
            let body = b"id: a\ndata: one\n\nid: b\ndata: two\n\n";
            let head = format!(
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            conn.write_all(head.as_bytes()).unwrap();
            conn.write_all(body).unwrap();
            // Keep the connection open: the client must stop at the length.
            std::thread::sleep(Duration::from_millis(300));
            String::from_utf8(request).unwrap()
        });
        let mut client = support::client(
            &format!("http://{addr}/feed?x=1"),
            Duration::from_secs(2),
            9,
        )
        .method(Method::POST)
        .header(
            HeaderName::from_static("x-token"),
            HeaderValue::from_static("t"),
        )
        .body("ping")
        .last_event_id("z")
        // A POST subscription that is resumed after a clean end.
        .stop_on_clean_end(false)
        .build()
        .unwrap();
        let mut events = Vec::new();
        let started = Instant::now();
        while let Some(event) = client.next_session_event() {
            let reconnecting = matches!(event, SessionEvent::Reconnecting { .. });
            events.push(event);
            if reconnecting {
                // The body ended at its length, not when the server closed.
                assert!(started.elapsed() < Duration::from_millis(250));
                break;
            }
        }
        (events, server.join().unwrap())
    });
    let data: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Event(e) => Some((e.last_event_id().to_owned(), e.data().to_owned())),
            _ => None,
        })
        .collect();
    assert_eq!(
        data,
        [("a".into(), "one".into()), ("b".into(), "two".into())]
    );
    assert!(matches!(
        events.last(),
        Some(SessionEvent::Reconnecting {
            cause: Cause::EndOfBodyClean,
            ..
        })
    ));
    let lower = request.to_ascii_lowercase();
    assert!(
        request.starts_with("POST /feed?x=1 HTTP/1.1\r\n"),
        "{request}"
    );
    for line in [
        "x-token: t\r\n",
        "last-event-id: z\r\n",
        "content-length: 4\r\n",
        "accept: text/event-stream\r\n",
    ] {
        assert!(lower.contains(line), "missing {line:?} in {request}");
    }
    // Nothing may compress the stream.
    assert!(!lower.contains("accept-encoding"), "{request}");
}

#[test]
fn missing_response_head_times_out_at_the_idle_deadline() {
    const IDLE: Duration = Duration::from_millis(200);
    let (took, cause, error, requests) = within(Duration::from_secs(5), || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads each request and never answers, keeping the connection.
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    if conn.read(&mut buf).unwrap_or(0) > 0 {
                        let _ = tx.send(());
                    }
                    while conn.read(&mut buf).unwrap_or(0) > 0 {}
                });
            }
        });
        let mut client = support::client(&format!("http://{addr}/events"), IDLE, 10)
            .build()
            .unwrap();
        let started = Instant::now();
        let cause = std::iter::from_fn(|| client.next_session_event()).find_map(|e| match e {
            SessionEvent::Reconnecting { cause, .. } => Some(cause),
            _ => None,
        });
        let took = started.elapsed();
        let error = client.last_error().map(std::io::Error::kind);
        (took, cause, error, rx.try_iter().count())
    });
    assert_eq!(requests, 1, "the request was sent");
    // No response head: the attempt failed, at the session's deadline.
    assert_eq!(cause, Some(Cause::ConnectFailed));
    assert_eq!(error, Some(std::io::ErrorKind::TimedOut));
    assert!(took >= IDLE, "gave up before the deadline: {took:?}");
    assert!(took < IDLE * 3, "gave up too late: {took:?}");
}
