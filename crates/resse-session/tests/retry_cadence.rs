//! A server that sends `retry: 500` and ends every response after one event
//! (serverless platforms, proxies with request timeouts, servers that rotate
//! connections): the client comes back at the server's pace, as a browser
//! does, while a server that ends responses without any event is still
//! backed off from.

mod support;

use std::time::Duration;

use resse_session::{Action, ReconnectConfig, SessionConfig, SessionEvent};
use support::{Client, ms};

/// How long a scripted exchange takes on the wire: the response head, then
/// the body, then the end, each this long after the previous step.
const RTT: Duration = Duration::from_millis(2);

/// Runs a session against a scripted server for `window` of fake time: each
/// connection gets `body` and then a clean end. Returns the events received
/// and every reconnection delay.
fn run(seed: u64, body: &'static [u8], window: Duration) -> (usize, Vec<Duration>) {
    let mut c = Client::new(
        SessionConfig::new("http://rotate.test/events")
            .reconnect(ReconnectConfig::default().seed(seed)),
    );
    let end = c.t0 + window;
    let (mut events, mut delays) = (0, Vec::new());
    while c.now < end {
        let actions = c.actions();
        assert!(
            actions.iter().any(|a| matches!(a, Action::Connect(_))),
            "{actions:?}"
        );
        c.now += RTT;
        c.open();
        c.now += RTT;
        c.body(body);
        c.now += RTT;
        c.session.handle_eof(c.now);
        for e in c.events() {
            match e {
                SessionEvent::Event(_) if c.now <= end => events += 1,
                SessionEvent::Reconnecting { delay, .. } => delays.push(delay),
                SessionEvent::Closed { reason } => panic!("closed: {reason}"),
                _ => {}
            }
        }
        c.fire_timer();
    }
    (events, delays)
}

#[test]
fn one_event_per_response_reconnects_at_the_servers_retry() {
    for seed in 0..20 {
        let (events, delays) = run(
            seed,
            b"retry: 500\nid: 1\ndata: tick\n\n",
            Duration::from_secs(60),
        );
        // A browser waits exactly 500 ms (about 120 a minute); the default
        // jitter draws from [500 ms, 1250 ms): a mean of 875 ms, about 68.
        assert!(events >= 60, "seed {seed}: {events} events in 60 s");
        // The first delay comes before the `retry:` (the initial 2 s base);
        // every one after it is within [R, 2.5 R).
        for (i, d) in delays.iter().enumerate().skip(1) {
            assert!(
                *d >= ms(500) && *d < ms(1250),
                "seed {seed}, reconnection {i}: {d:?}"
            );
        }
    }
}

#[test]
fn a_server_that_ends_responses_without_events_is_backed_off_to_the_cap() {
    let (events, delays) = run(
        7,
        b"retry: 500\n: nothing to say\n\n",
        Duration::from_secs(600),
    );
    assert_eq!(events, 0);
    let cap = ReconnectConfig::DEFAULT_MAX_DELAY;
    let longest = delays.iter().max().copied().unwrap_or_default();
    assert!(longest > cap * 2 / 3, "{longest:?}");
    assert!(longest <= cap, "{longest:?}");
    // Flap protection: far fewer attempts than at the server's pace (about
    // 685 in 600 s at [500 ms, 1250 ms)).
    assert!(delays.len() < 100, "{} attempts", delays.len());
}
