//! A `CloseHandle` stops a client promptly from another thread, whatever
//! it is blocked on.

mod support;

use std::time::{Duration, Instant};

use resse_session::{CloseReason, SessionEvent};
use resse_testkit::within;
use support::server::TestServer;

/// Starts `client` on a thread, closes it after `after`, and returns how
/// long the close took and the last event.
fn close_after(
    client: resse_blocking::Client,
    after: Duration,
) -> (Duration, Option<SessionEvent>) {
    let handle = client.close_handle();
    let mut client = client;
    let runner =
        std::thread::spawn(move || std::iter::from_fn(|| client.next_session_event()).last());
    std::thread::sleep(after);
    let closed_at = Instant::now();
    handle.close();
    let last = runner.join().unwrap();
    (closed_at.elapsed(), last)
}

/// `close()` took effect within 500 ms and the session ended as requested.
fn assert_closed_promptly(took: Duration, last: Option<SessionEvent>) {
    assert!(took < Duration::from_millis(500), "close took {took:?}");
    assert_eq!(
        last,
        Some(SessionEvent::Closed {
            reason: CloseReason::Requested
        })
    );
}

#[test]
fn close_interrupts_a_blocked_read() {
    let (took, last) = within(Duration::from_secs(5), || {
        let server = TestServer::start(); // publishes nothing: the read blocks
        let client = resse_blocking::ClientBuilder::new(server.url("/events"))
            .idle_timeout(None)
            .build()
            .unwrap();
        close_after(client, Duration::from_millis(100))
    });
    assert_closed_promptly(took, last);
}

#[test]
fn close_interrupts_the_wait_before_reconnecting() {
    let (took, last) = within(Duration::from_secs(5), || {
        let server = TestServer::start();
        let slow = resse_testkit::fast_reconnect(5)
            .initial_delay(Duration::from_secs(30))
            .max_delay(Duration::from_secs(60));
        let client = resse_blocking::ClientBuilder::new(server.url("/500"))
            .reconnect(slow)
            .build()
            .unwrap();
        close_after(client, Duration::from_millis(100))
    });
    assert_closed_promptly(took, last);
}
