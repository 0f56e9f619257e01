//! The end-to-end liveness probe, under fake time: exact probe timing, no
//! probe traffic while disconnected or backing off, stale nonces ignored,
//! answers consumed, a missing answer ends the stream with
//! `Cause::ProbeTimeout`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use resse_session::{
    Action, Cause, ClientSession, ConfigError, Probe, ProbeConfig, SessionConfig, SessionEvent,
};

const INTERVAL: Duration = Duration::from_secs(10);
const TIMEOUT: Duration = Duration::from_secs(3);

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn config() -> SessionConfig {
    SessionConfig::new("http://127.0.0.1:1/events?client=alice")
        .header(AUTHORIZATION, HeaderValue::from_static("Bearer t"))
        .seed(7)
        .idle_timeout(Some(Duration::from_secs(45)))
        .probe(Some(ProbeConfig::new(INTERVAL, TIMEOUT)))
}

fn stream_head() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers
}

/// Every action queued now.
fn actions(s: &mut ClientSession) -> Vec<Action> {
    std::iter::from_fn(|| s.poll_action()).collect()
}

fn events(s: &mut ClientSession) -> Vec<SessionEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

fn probes(actions: &[Action]) -> Vec<Probe> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Probe(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

/// A session with its stream open at `t0`.
fn open(config: SessionConfig, t0: Instant) -> ClientSession {
    let mut s = ClientSession::new(t0, config).expect("valid");
    assert!(matches!(actions(&mut s).as_slice(), [Action::Connect(_)]));
    s.handle_response(t0, StatusCode::OK, &stream_head());
    events(&mut s);
    s
}

/// Drives the session's timer up to `until`, collecting what it asks for.
fn run_until(s: &mut ClientSession, until: Instant) -> Vec<(Instant, Action)> {
    let mut out = Vec::new();
    while let Some(at) = s.poll_timeout() {
        if at > until {
            break;
        }
        s.handle_timeout(at);
        for a in actions(s) {
            out.push((at, a));
        }
    }
    out
}

fn pong(nonce: &str) -> Bytes {
    Bytes::from(format!("event: pong\ndata: {nonce}\n\n"))
}

#[test]
fn probes_every_interval_and_the_request_follows_the_stream_request() {
    let t0 = Instant::now();
    let mut s = open(config(), t0);
    // The first probe is due exactly one interval after the stream opened.
    assert_eq!(s.poll_timeout(), Some(t0 + INTERVAL));
    s.handle_timeout(t0 + INTERVAL - secs(0.001));
    assert!(actions(&mut s).is_empty(), "not before its time");
    s.handle_timeout(t0 + INTERVAL);
    let p = probes(&actions(&mut s)).pop().expect("a probe");
    assert_eq!(p.deadline, t0 + INTERVAL + TIMEOUT);
    assert_eq!(s.poll_timeout(), Some(p.deadline));
    assert_eq!(p.nonce.len(), 16);
    assert_eq!(p.request.method, Method::POST);
    assert_eq!(
        p.request.url,
        format!(
            "http://127.0.0.1:1/events/probe?client=alice&nonce={}",
            p.nonce
        )
    );
    assert_eq!(p.request.headers[AUTHORIZATION], "Bearer t", "auth follows");
    assert!(!p.request.headers.contains_key(ACCEPT));
    assert!(p.request.body.is_none());

    // Answered 1 s later: the next probe is due one interval after the
    // previous was sent, not after the answer.
    let answered = t0 + INTERVAL + secs(1.0);
    s.handle_body(answered, pong(&p.nonce));
    assert!(events(&mut s).is_empty(), "the answer is consumed");
    assert_eq!(s.poll_timeout(), Some(t0 + INTERVAL * 2));
    let mut nonces = vec![p.nonce.clone()];
    for k in 2..=5u32 {
        let at = t0 + INTERVAL * k;
        let got = run_until(&mut s, at);
        assert_eq!(got.len(), 1, "one probe at {k} intervals");
        assert_eq!(got[0].0, at);
        let p = probes(&[got[0].1.clone()]).pop().expect("a probe");
        assert!(!nonces.contains(&p.nonce), "fresh nonces");
        nonces.push(p.nonce.clone());
        s.handle_body(at + secs(0.5), pong(&p.nonce));
    }
    let m = s.metrics(t0 + INTERVAL * 5);
    assert_eq!((m.probes_sent, m.probes_answered), (5, 5));
    assert_eq!(m.total_events, 0, "answers are not the user's events");
}

#[test]
fn the_nonces_come_from_the_seed() {
    let t0 = Instant::now();
    let nonce = |seed| {
        let mut s = open(config().seed(seed), t0);
        s.handle_timeout(t0 + INTERVAL);
        probes(&actions(&mut s)).pop().expect("a probe").nonce
    };
    assert_eq!(nonce(1), nonce(1));
    assert_ne!(nonce(1), nonce(2));
}

#[test]
fn a_missing_answer_ends_the_stream_at_the_deadline_and_reconnects() {
    let t0 = Instant::now();
    let mut s = open(config(), t0);
    s.handle_body(t0, Bytes::from_static(b"id: 1\ndata: x\n\n"));
    events(&mut s);
    s.handle_timeout(t0 + INTERVAL);
    let p = probes(&actions(&mut s)).pop().expect("a probe");
    // Keep-alive comments flow; the idle watchdog stays quiet.
    for i in 1..=6 {
        s.handle_body(
            t0 + INTERVAL + secs(0.4 * f64::from(i)),
            Bytes::from_static(b": ka\n"),
        );
    }
    // A failed side request ends nothing by itself.
    s.handle_probe_error(t0 + INTERVAL + secs(0.1), &p.nonce);
    assert!(actions(&mut s).is_empty());
    assert_eq!(s.metrics(t0).probes_failed, 1);
    s.handle_timeout(p.deadline - secs(0.001));
    assert!(actions(&mut s).is_empty());
    s.handle_timeout(p.deadline);
    assert!(matches!(actions(&mut s).as_slice(), [Action::Disconnect]));
    let reconnecting = events(&mut s).into_iter().find_map(|e| match e {
        SessionEvent::Reconnecting { cause, .. } => Some(cause),
        _ => None,
    });
    assert_eq!(reconnecting, Some(Cause::ProbeTimeout));
    assert_eq!(
        Cause::ProbeTimeout.to_string(),
        "the liveness probe got no answer on the stream within its timeout"
    );
    // The reconnection resumes from the last id.
    let got = run_until(&mut s, t0 + secs(60.0));
    let Some((_, Action::Connect(request))) = got.first() else {
        panic!("a reconnection: {got:?}")
    };
    assert_eq!(request.headers["last-event-id"], "1");
}

#[test]
fn no_probe_traffic_while_connecting_disconnected_or_backing_off() {
    let t0 = Instant::now();
    let mut s = ClientSession::new(t0, config().idle_timeout(None)).expect("valid");
    assert!(matches!(actions(&mut s).as_slice(), [Action::Connect(_)]));
    // Connecting, no response head for a long time: no probe, no timer.
    assert_eq!(s.poll_timeout(), None);
    s.handle_timeout(t0 + INTERVAL * 3);
    assert!(probes(&actions(&mut s)).is_empty());
    // Failed attempts and backoff for a long time: only connections.
    let mut now = t0 + INTERVAL * 3;
    s.handle_error(now, Cause::ConnectFailed);
    for _ in 0..20 {
        let at = s.poll_timeout().expect("a reconnection deadline");
        assert!(at > now);
        now = at;
        s.handle_timeout(now);
        let got = actions(&mut s);
        assert!(matches!(got.as_slice(), [Action::Connect(_)]), "{got:?}");
        s.handle_error(now, Cause::ConnectFailed);
    }
    // Open at last: the first probe is one interval after the opening.
    let got = run_until(&mut s, now + secs(30.0));
    let Some((at, Action::Connect(_))) = got.first() else {
        panic!("{got:?}")
    };
    let opened = *at;
    s.handle_response(opened, StatusCode::OK, &stream_head());
    assert_eq!(s.poll_timeout(), Some(opened + INTERVAL));
    // The stream ends before the probe is due: the probe is off again.
    s.handle_eof(opened + INTERVAL - secs(1.0));
    let got = run_until(&mut s, opened + INTERVAL * 4);
    assert!(probes(&got.iter().map(|(_, a)| a.clone()).collect::<Vec<_>>()).is_empty());
}

#[test]
fn an_outstanding_probe_is_dropped_with_its_stream() {
    let t0 = Instant::now();
    let mut s = open(config().idle_timeout(None), t0);
    s.handle_timeout(t0 + INTERVAL);
    let p = probes(&actions(&mut s)).pop().expect("a probe");
    s.handle_eof(t0 + INTERVAL + secs(1.0));
    events(&mut s);
    // Waiting: the deadline of the old probe is not a timer any more.
    let at = s.poll_timeout().expect("reconnection");
    assert!(at != p.deadline);
    s.handle_timeout(at);
    assert!(matches!(actions(&mut s).as_slice(), [Action::Connect(_)]));
    s.handle_response(at, StatusCode::OK, &stream_head());
    // A late answer to the old probe on the new stream is stale.
    s.handle_body(at + secs(0.5), pong(&p.nonce));
    assert!(
        events(&mut s)
            .iter()
            .all(|e| !matches!(e, SessionEvent::Event(_)))
    );
    assert_eq!(s.metrics(at).probes_answered, 0);
    assert_eq!(s.poll_timeout(), Some(at + INTERVAL));
}

#[test]
fn stale_and_foreign_nonces_are_ignored() {
    let t0 = Instant::now();
    let mut s = open(config().idle_timeout(None), t0);
    s.handle_timeout(t0 + INTERVAL);
    let p1 = probes(&actions(&mut s)).pop().expect("a probe");
    s.handle_body(t0 + INTERVAL + secs(0.1), pong(&p1.nonce));
    s.handle_timeout(t0 + INTERVAL * 2);
    let p2 = probes(&actions(&mut s)).pop().expect("a probe");
    // The answer to the first probe again, and one to nobody: ignored.
    s.handle_body(t0 + INTERVAL * 2, pong(&p1.nonce));
    s.handle_body(t0 + INTERVAL * 2, pong("0123456789abcdef"));
    s.handle_probe_error(t0 + INTERVAL * 2, &p1.nonce);
    assert_eq!(s.metrics(t0).probes_failed, 0, "a stale failure is ignored");
    assert!(events(&mut s).is_empty());
    assert_eq!(s.poll_timeout(), Some(p2.deadline), "still waiting for p2");
    s.handle_timeout(p2.deadline);
    assert!(matches!(actions(&mut s).as_slice(), [Action::Disconnect]));
}

#[test]
fn answers_can_be_delivered_and_other_events_pass() {
    let t0 = Instant::now();
    let probe = ProbeConfig::new(INTERVAL, TIMEOUT)
        .event_type("alive")
        .deliver_answer(true);
    let mut s = open(config().probe(Some(probe)), t0);
    s.handle_timeout(t0 + INTERVAL);
    let p = probes(&actions(&mut s)).pop().expect("a probe");
    let body = format!(
        "event: pong\ndata: {n}\n\nevent: alive\ndata: {{\"nonce\":\"{n}\"}}\n\n",
        n = p.nonce
    );
    s.handle_body(t0 + INTERVAL, Bytes::from(body));
    let got: Vec<String> = events(&mut s)
        .into_iter()
        .filter_map(|e| match e {
            SessionEvent::Event(e) => Some(e.event_type().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(got, ["pong", "alive"], "a `pong` is not this probe's type");
    assert_eq!(s.metrics(t0).probes_answered, 1, "data carrying the nonce");
}

#[test]
fn probe_urls_and_bad_settings() {
    let t0 = Instant::now();
    let url = |stream: &str, probe: ProbeConfig| {
        let mut s = open(SessionConfig::new(stream).seed(1).probe(Some(probe)), t0);
        s.handle_timeout(t0 + INTERVAL);
        let p = probes(&actions(&mut s)).pop().expect("a probe");
        p.request.url.replace(p.nonce.as_str(), "N")
    };
    let base = ProbeConfig::new(INTERVAL, TIMEOUT);
    assert_eq!(
        url("http://h/events/", base.clone()),
        "http://h/events/probe?nonce=N"
    );
    assert_eq!(url("http://h/", base.clone()), "http://h/probe?nonce=N");
    assert_eq!(
        url(
            "http://h/a/events?client=x",
            base.clone().url("ping").method(Method::GET)
        ),
        "http://h/a/ping?nonce=N"
    );
    assert_eq!(
        url("http://h/events", base.clone().url("https://o/p?k=1")),
        "https://o/p?k=1&nonce=N"
    );
    for bad in [
        ProbeConfig::new(Duration::ZERO, TIMEOUT),
        ProbeConfig::new(INTERVAL, Duration::ZERO),
        base.clone().url("ftp://x/"),
    ] {
        let e = ClientSession::new(t0, SessionConfig::new("http://h/e").probe(Some(bad)))
            .expect_err("refused");
        assert!(matches!(e, ConfigError::Probe(_)));
        assert!(e.to_string().starts_with("invalid liveness probe: "), "{e}");
    }
}

mod server {
    use std::time::Instant;

    use resse_session::{
        Fanout, FanoutConfig, ProbeAnswer, ProbeError, Subscribe, SubscriberKey, Transmit,
        answer_probe, answer_probe_to,
    };

    fn drain(f: &mut Fanout, now: Instant, key: SubscriberKey) -> String {
        let mut out = String::new();
        while let Transmit::Send(bytes) = f.poll_transmit(now, key) {
            out.push_str(std::str::from_utf8(&bytes).expect("utf-8"));
            f.acknowledge(now, key);
        }
        out
    }

    #[test]
    fn the_answer_reaches_the_one_subscriber_with_that_identity() {
        let now = Instant::now();
        let config = FanoutConfig::default().keep_alive(None).retry(None);
        let mut f = Fanout::new(config);
        let answer = ProbeAnswer::default();
        let anon = f.subscribe(now, Subscribe::new()).key;
        let bob = f.subscribe(now, Subscribe::new().identity(Some("bob"))).key;
        let alice_old = f
            .subscribe(now, Subscribe::new().identity(Some("alice")))
            .key;
        // The same identity again: the newer connection supersedes the old.
        let alice = f.subscribe(now, Subscribe::new().identity(Some("alice")));
        assert_eq!(alice.superseded, Some(alice_old));
        let alice = alice.key;
        for k in [anon, bob, alice_old, alice] {
            drain(&mut f, now, k);
        }
        let to = answer_probe(&mut f, &answer, Some("client=alice&nonce=n-1")).expect("sent");
        assert_eq!(to, alice);
        assert_eq!(drain(&mut f, now, alice), "event: pong\ndata: n-1\n\n");
        for k in [anon, bob, alice_old] {
            assert_eq!(drain(&mut f, now, k), "", "nobody else");
        }
        // By key, e.g. an id the server handed out at subscribe time.
        answer_probe_to(&mut f, &answer, anon, Some("nonce=n_2")).expect("sent");
        assert_eq!(drain(&mut f, now, anon), "event: pong\ndata: n_2\n\n");
        assert_eq!(drain(&mut f, now, bob), "");
    }

    #[test]
    fn bad_probe_requests_are_refused_with_a_status_and_a_reason() {
        let now = Instant::now();
        let mut f = Fanout::new(FanoutConfig::default());
        f.subscribe(now, Subscribe::new().identity(Some("a")));
        let answer = ProbeAnswer::default().max_nonce_len(8);
        let long = "x".repeat(9);
        let cases: [(Option<&str>, u16, &str); 7] = [
            (None, 400, "missing `nonce=`"),
            (Some("client=a"), 400, "missing `nonce=`"),
            (Some("client=a&nonce="), 400, "empty"),
            (Some("client=a&nonce=%20x"), 400, "ASCII letters"),
            (Some(&format!("client=a&nonce={long}")), 400, "too long"),
            (Some("nonce=1"), 400, "no client identity"),
            (Some("client=b&nonce=1"), 404, "no live event stream"),
        ];
        for (query, status, text) in cases {
            let e = answer_probe(&mut f, &answer, query).expect_err("refused");
            assert_eq!(e.status(), status, "{query:?}");
            assert!(e.to_string().contains(text), "{query:?}: {e}");
        }
        assert!(matches!(
            answer_probe(&mut f, &answer, Some("client=&nonce=1")),
            Err(ProbeError::BadIdentity)
        ));
    }
}
