//! Deterministic simulation: a `ClientSession` against a replaying server
//! built on `ReplayLog`, with random faults from a seed. Over 10,000 seeds
//! the delivered sequence is exactly the published one: no gap, no
//! duplicate, in order (or an exact prefix when the server says 204).
//!
//! The server publishes events `1..=n` (ids "1".."n"), one every 150 ms of
//! fake time, into its replay log. On each connection it picks a fault:
//! refused, 500, 204, 503 with `Retry-After`, a redirect, no response at all
//! (connect stall), or a 200 stream that replays from `Last-Event-ID` and
//! then goes live, in random chunks with keep-alive comments and `retry:`
//! lines, until it ends cleanly, is cut in the middle of an event (end of
//! body or I/O error), fails at a boundary, or stalls past the idle timeout.

mod support;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::header::{ACCEPT, CACHE_CONTROL, HeaderValue, LOCATION, RETRY_AFTER};
use http::{HeaderMap, Method, StatusCode};
use resse_codec::{Encoder, Event};
use resse_session::{
    Action, Cause, ClientSession, CloseReason, LAST_EVENT_ID, Replay, ReplayLog, Request,
    SessionConfig, SessionEvent, StopReason,
};
use support::{Rng, stream_head};

const BASE: &str = "http://sim.test/events?x=1";
const MOVED: &str = "http://sim.test/moved";
const IDLE: Duration = Duration::from_secs(2);
const PUBLISH_EVERY: Duration = Duration::from_millis(150);
const SEEDS: u64 = 10_000;

/// Checks that `delivered` is exactly `published` (or, when the run was
/// stopped by the server, an exact prefix of it). The message names the
/// first problem: a duplicate, a gap, a reordering, or a missing tail.
fn check_delivery(published: &[u32], delivered: &[u32], stopped: bool) -> Result<(), String> {
    for (i, &got) in delivered.iter().enumerate() {
        let Some(&want) = published.get(i) else {
            return Err(format!("extra event {got} at position {i}"));
        };
        if got == want {
            continue;
        }
        return Err(if delivered[..i].contains(&got) {
            format!("duplicate: event {got} again at position {i} (expected {want})")
        } else if published[i..].contains(&got) && !delivered.contains(&want) {
            format!("gap: event {want} missing, got {got} at position {i}")
        } else {
            format!("out of order: got {got} at position {i}, expected {want}")
        });
    }
    if !stopped && delivered.len() != published.len() {
        return Err(format!(
            "gap: {} of {} events delivered",
            delivered.len(),
            published.len()
        ));
    }
    Ok(())
}

/// Deliberate bugs, to show the simulation catches them.
#[derive(Clone, Copy, Default)]
struct Bugs {
    /// The adapter drops the `Last-Event-ID` header.
    drop_last_event_id: bool,
    /// The server skips the first event it should replay.
    server_skips_one: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    Never,
    CleanEof,
    CutEof,
    CutIo,
    IoAtBoundary,
    Stall,
}

/// The stream the server is writing.
struct Conn {
    ending: Ending,
    /// Events still to send before the ending.
    budget: u32,
    /// Response head not sent (connect stall) or the stream stalled.
    silent: bool,
}

/// How often each fault happened, over all seeds.
#[derive(Default, Debug)]
struct Tally {
    refused: u64,
    status_500: u64,
    no_content: u64,
    unavailable: u64,
    redirect: u64,
    connect_stall: u64,
    streams: u64,
    clean_eof: u64,
    cut_eof: u64,
    cut_io: u64,
    io_at_boundary: u64,
    stall: u64,
}

struct Sim {
    rng: Rng,
    bugs: Bugs,
    session: ClientSession,
    t0: Instant,
    now: Instant,
    post: bool,
    n: u32,
    log: ReplayLog,
    published: Vec<u32>,
    delivered: Vec<u32>,
    in_flight: bool,
    conn: Option<Conn>,
    stopped: bool,
    expect_url: &'static str,
    expect_cause: Option<Cause>,
    expect_min_delay: Option<Duration>,
    tally: Tally,
}

/// Event `k` on the wire; a deterministic function of `k`, with multi-line
/// data and an event type now and then.
fn encode(k: u32) -> Bytes {
    let mut event = Event::new(if k.is_multiple_of(3) {
        format!("e{k}\nsecond line\r\nthird")
    } else {
        format!("e{k}")
    })
    .with_id(k.to_string());
    if k.is_multiple_of(4) {
        event = event.with_event_type("tick");
    }
    let mut wire = BytesMut::new();
    Encoder::new()
        .encode(&event, &mut wire)
        .expect("ids and types are plain");
    wire.freeze()
}

impl Sim {
    fn new(seed: u64, bugs: Bugs) -> Self {
        let mut rng = Rng::new(seed);
        let n = 20 + rng.below(31) as u32;
        let post = rng.chance(50);
        let mut config = SessionConfig::new(BASE).seed(seed).idle_timeout(Some(IDLE));
        if post {
            // A POST subscription that is resumed after clean ends too.
            config = config
                .method(Method::POST)
                .body("subscribe")
                .stop_on_clean_end(false);
        }
        let t0 = Instant::now();
        let session = ClientSession::new(t0, config).expect("valid config");
        Self {
            rng,
            bugs,
            session,
            t0,
            now: t0,
            post,
            n,
            log: ReplayLog::default(),
            published: Vec::new(),
            delivered: Vec::new(),
            in_flight: false,
            conn: None,
            stopped: false,
            expect_url: BASE,
            expect_cause: None,
            expect_min_delay: None,
            tally: Tally::default(),
        }
    }

    fn run(mut self) -> (Vec<u32>, Vec<u32>, bool, Tally) {
        self.drain();
        for _ in 0..200_000 {
            // Done when the last event arrived (the check then says whether
            // everything before it did, once).
            if self.stopped || self.delivered.last() == Some(&self.n) {
                return (self.published, self.delivered, self.stopped, self.tally);
            }
            let next_publish = (self.published.len() < self.n as usize)
                .then(|| self.t0 + PUBLISH_EVERY * (self.published.len() as u32 + 1));
            let next = match (next_publish, self.session.poll_timeout()) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a
                    .or(b)
                    .expect("the simulation is stuck: nothing left to happen"),
            };
            assert!(next >= self.now, "time went backwards");
            self.now = next;
            if next_publish == Some(next) {
                self.publish();
                self.drain();
            }
            if self.session.poll_timeout().is_some_and(|t| t <= self.now) {
                self.session.handle_timeout(self.now);
                self.drain();
            }
        }
        panic!("the simulation did not finish");
    }

    fn publish(&mut self) {
        let k = self.published.len() as u32 + 1;
        self.published.push(k);
        let bytes = encode(k);
        self.log
            .push(k.to_string(), bytes.clone())
            .expect("ids are unique");
        if self.conn.as_ref().is_some_and(|c| !c.silent) {
            self.send_event(k, bytes);
        }
    }

    /// Drains the session's outputs, performing the actions.
    fn drain(&mut self) {
        loop {
            let mut connect = None;
            while let Some(action) = self.session.poll_action() {
                match action {
                    Action::Connect(request) => {
                        assert!(!self.in_flight, "two connections in flight");
                        assert!(connect.is_none(), "two Connects at once");
                        self.in_flight = true;
                        connect = Some(request);
                    }
                    Action::Disconnect => {
                        assert!(self.in_flight, "Disconnect without a connection");
                        self.in_flight = false;
                        self.conn = None;
                    }
                    Action::Stop => {
                        self.stopped = true;
                        self.in_flight = false;
                        self.conn = None;
                    }
                    other => panic!("unexpected action {other:?}"),
                }
            }
            while let Some(event) = self.session.poll_event() {
                self.on_event(event);
            }
            assert_eq!(self.session.is_connected(), self.in_flight);
            match connect {
                Some(request) => self.on_connect(request),
                None => break,
            }
        }
    }

    fn on_event(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::Event(e) => {
                let k: u32 = e
                    .data()
                    .lines()
                    .next()
                    .and_then(|l| l.strip_prefix('e'))
                    .and_then(|n| n.parse().ok())
                    .expect("data starts with e<k>");
                assert_eq!(e.last_event_id(), k.to_string(), "event id");
                if k.is_multiple_of(3) {
                    assert_eq!(e.data(), format!("e{k}\nsecond line\nthird"));
                }
                assert_eq!(
                    e.event_type(),
                    if k.is_multiple_of(4) {
                        "tick"
                    } else {
                        "message"
                    }
                );
                self.delivered.push(k);
            }
            SessionEvent::Reconnecting { cause, delay, .. } => {
                let expected = self
                    .expect_cause
                    .take()
                    .unwrap_or_else(|| panic!("unexpected reconnect: {cause:?}"));
                assert_eq!(cause, expected);
                if let Some(min) = self.expect_min_delay.take() {
                    assert!(delay >= min, "Retry-After {min:?} not honoured: {delay:?}");
                }
            }
            SessionEvent::Redirected { url, .. } => assert_eq!(url, MOVED),
            SessionEvent::Closed { reason } => assert_eq!(
                reason,
                CloseReason::Policy(StopReason::ServerStop(StatusCode::NO_CONTENT))
            ),
            _ => {}
        }
    }

    fn on_connect(&mut self, mut request: Request) {
        assert_eq!(request.url, self.expect_url);
        self.expect_url = BASE;
        assert_eq!(request.headers[ACCEPT], "text/event-stream");
        assert_eq!(request.headers[CACHE_CONTROL], "no-store");
        if self.post {
            assert_eq!(request.method, Method::POST);
            assert_eq!(request.body.as_deref(), Some(&b"subscribe"[..]));
        }
        let expected_id = self.delivered.last().map(u32::to_string);
        assert_eq!(
            request
                .headers
                .get(LAST_EVENT_ID)
                .and_then(|v| v.to_str().ok()),
            expected_id.as_deref(),
            "Last-Event-ID is the id of the last delivered event"
        );
        if self.bugs.drop_last_event_id {
            request.headers.remove(LAST_EVENT_ID);
        }
        let last_id = request
            .headers
            .get(LAST_EVENT_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);

        let now = self.now;
        let roll = self.rng.below(100);
        match roll {
            0..8 => {
                self.tally.refused += 1;
                self.in_flight = false;
                self.expect_cause = Some(Cause::ConnectFailed);
                self.session.handle_error(now, Cause::ConnectFailed);
            }
            8..14 => {
                self.tally.status_500 += 1;
                self.expect_cause = Some(Cause::Status(StatusCode::INTERNAL_SERVER_ERROR));
                self.session.handle_response(
                    now,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &HeaderMap::new(),
                );
            }
            14 => {
                self.tally.no_content += 1;
                self.session
                    .handle_response(now, StatusCode::NO_CONTENT, &HeaderMap::new());
            }
            15..21 => {
                self.tally.unavailable += 1;
                let secs = 1 + self.rng.below(5);
                let mut h = HeaderMap::new();
                h.insert(RETRY_AFTER, HeaderValue::from(secs));
                self.expect_cause = Some(Cause::Status(StatusCode::SERVICE_UNAVAILABLE));
                self.expect_min_delay = Some(Duration::from_secs(secs));
                self.session
                    .handle_response(now, StatusCode::SERVICE_UNAVAILABLE, &h);
            }
            21..27 => {
                self.tally.redirect += 1;
                let mut h = HeaderMap::new();
                h.insert(LOCATION, HeaderValue::from_static("/moved"));
                self.expect_url = MOVED;
                self.session
                    .handle_response(now, StatusCode::TEMPORARY_REDIRECT, &h);
            }
            27..30 => {
                self.tally.connect_stall += 1;
                self.expect_cause = Some(Cause::ConnectFailed);
                self.conn = Some(Conn {
                    ending: Ending::Stall,
                    budget: 0,
                    silent: true,
                });
            }
            _ => self.stream(last_id.as_deref()),
        }
    }

    /// A 200 stream: replay from `last_id`, then live.
    fn stream(&mut self, last_id: Option<&str>) {
        self.tally.streams += 1;
        let ending = match self.rng.below(6) {
            0 => Ending::Never,
            1 => Ending::CleanEof,
            2 => Ending::CutEof,
            3 => Ending::CutIo,
            4 => Ending::IoAtBoundary,
            _ => Ending::Stall,
        };
        let budget = match ending {
            Ending::Never => u32::MAX,
            _ => self.rng.below(6) as u32,
        };
        self.session
            .handle_response(self.now, StatusCode::OK, &stream_head());
        self.conn = Some(Conn {
            ending,
            budget,
            silent: false,
        });
        if budget == 0 {
            self.end_stream(self.published.len() as u32 + 1);
            return;
        }
        let mut replay: Vec<(u32, Bytes)> = match last_id {
            None => self.log.iter().map(entry).collect(),
            Some(id) => match self.log.events_after(id) {
                Replay::Events(events) => events.map(entry).collect(),
                other => panic!("the server cannot resume from {id:?}: {other:?}"),
            },
        };
        if self.bugs.server_skips_one && replay.len() > 1 {
            replay.remove(0);
        }
        for (k, bytes) in replay {
            if self.conn.as_ref().is_none_or(|c| c.silent) {
                break;
            }
            self.send_event(k, bytes);
        }
    }

    /// Writes event `k` to the open stream, in random chunks, maybe after a
    /// keep-alive comment or a `retry:` line; then maybe ends the stream.
    fn send_event(&mut self, k: u32, bytes: Bytes) {
        match self.rng.below(10) {
            0 => self.feed(Bytes::from_static(b": keep-alive\n")),
            1 => {
                let ms = 100 + self.rng.below(900);
                let mut line = String::new();
                write!(line, "retry: {ms}\n\n").expect("write to a String");
                self.feed(Bytes::from(line));
            }
            _ => {}
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = if self.rng.chance(20) {
                1
            } else {
                1 + self.rng.below(rest.len() as u64) as usize
            };
            let chunk = rest.split_to(n);
            self.feed(chunk);
        }
        let conn = self.conn.as_mut().expect("a stream is open");
        conn.budget = conn.budget.saturating_sub(1);
        if conn.budget == 0 {
            self.end_stream(k + 1);
        }
    }

    /// Body bytes to the session: pushed as a chunk, or (every other
    /// chunk, by length) read into its buffer as the blocking client does.
    fn feed(&mut self, bytes: Bytes) {
        if bytes.len().is_multiple_of(2) {
            self.session.handle_body(self.now, bytes);
        } else {
            self.session.body_buf(bytes.len())[..].copy_from_slice(&bytes);
            self.session.handle_body_read(self.now, bytes.len());
        }
    }

    /// Ends the stream as planned; `next` is the event that would follow.
    fn end_stream(&mut self, next: u32) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let now = self.now;
        match conn.ending {
            Ending::Never => conn.budget = u32::MAX,
            Ending::Stall => {
                self.tally.stall += 1;
                conn.silent = true;
                self.expect_cause = Some(Cause::IdleTimeout);
            }
            Ending::CleanEof | Ending::IoAtBoundary => {
                let clean = conn.ending == Ending::CleanEof;
                self.conn = None;
                self.in_flight = false;
                if clean {
                    self.tally.clean_eof += 1;
                    self.expect_cause = Some(Cause::EndOfBodyClean);
                    self.session.handle_eof(now);
                } else {
                    self.tally.io_at_boundary += 1;
                    self.expect_cause = Some(Cause::Io);
                    self.session.handle_error(now, Cause::Io);
                }
            }
            Ending::CutEof | Ending::CutIo => {
                let eof = conn.ending == Ending::CutEof;
                self.conn = None;
                // A strict, non-empty prefix of the next event: its id line
                // may be complete, but the block is not.
                let whole = encode(next);
                let cut = 1 + self.rng.below(whole.len() as u64 - 1) as usize;
                self.feed(whole.slice(..cut));
                self.in_flight = false;
                if eof {
                    self.tally.cut_eof += 1;
                    self.expect_cause = Some(Cause::EndOfBodyMidEvent);
                    self.session.handle_eof(now);
                } else {
                    self.tally.cut_io += 1;
                    self.expect_cause = Some(Cause::Io);
                    self.session.handle_error(now, Cause::Io);
                }
            }
        }
    }
}

fn entry(e: &resse_session::ReplayEntry) -> (u32, Bytes) {
    let k = e.id().parse().expect("numeric ids");
    (k, e.bytes().clone())
}

fn run(seed: u64, bugs: Bugs) -> Result<Tally, String> {
    let (published, delivered, stopped, tally) = Sim::new(seed, bugs).run();
    check_delivery(&published, &delivered, stopped)
        .map(|()| tally)
        .map_err(|e| format!("seed {seed}: {e}"))
}

#[test]
fn delivered_sequence_is_exactly_the_published_one_over_10000_seeds() {
    let mut total = Tally::default();
    for seed in 0..SEEDS {
        let t = run(seed, Bugs::default()).unwrap_or_else(|e| panic!("{e}"));
        total.refused += t.refused;
        total.status_500 += t.status_500;
        total.no_content += t.no_content;
        total.unavailable += t.unavailable;
        total.redirect += t.redirect;
        total.connect_stall += t.connect_stall;
        total.streams += t.streams;
        total.clean_eof += t.clean_eof;
        total.cut_eof += t.cut_eof;
        total.cut_io += t.cut_io;
        total.io_at_boundary += t.io_at_boundary;
        total.stall += t.stall;
    }
    println!("faults over {SEEDS} seeds: {total:?}");
    // Every kind of fault happened many times.
    for (name, n) in [
        ("refused", total.refused),
        ("500", total.status_500),
        ("204", total.no_content),
        ("503", total.unavailable),
        ("redirect", total.redirect),
        ("connect stall", total.connect_stall),
        ("clean eof", total.clean_eof),
        ("cut + eof", total.cut_eof),
        ("cut + io", total.cut_io),
        ("io at boundary", total.io_at_boundary),
        ("stall", total.stall),
    ] {
        assert!(n >= 100, "fault {name} happened only {n} times");
    }
}

#[test]
fn checker_detects_a_duplicate_and_a_gap() {
    let published = [1, 2, 3, 4];
    assert_eq!(check_delivery(&published, &[1, 2, 3, 4], false), Ok(()));
    assert_eq!(check_delivery(&published, &[1, 2], true), Ok(()));
    let dup = check_delivery(&published, &[1, 2, 2, 3, 4], false).unwrap_err();
    assert!(dup.starts_with("duplicate"), "{dup}");
    let gap = check_delivery(&published, &[1, 3, 4], false).unwrap_err();
    assert!(gap.starts_with("gap"), "{gap}");
    let gap_at_end = check_delivery(&published, &[1, 2, 3], false).unwrap_err();
    assert!(gap_at_end.starts_with("gap"), "{gap_at_end}");
    let swapped = check_delivery(&published, &[1, 3, 2, 4], false).unwrap_err();
    assert!(
        swapped.starts_with("gap") || swapped.starts_with("out of order"),
        "{swapped}"
    );
    let dup_after_stop = check_delivery(&published, &[1, 1], true).unwrap_err();
    assert!(dup_after_stop.starts_with("duplicate"), "{dup_after_stop}");
    assert!(check_delivery(&published, &[1, 2, 3, 4, 5], false).is_err());
}

#[test]
fn simulation_catches_a_client_that_forgets_last_event_id() {
    let bugs = Bugs {
        drop_last_event_id: true,
        ..Bugs::default()
    };
    let failures: Vec<String> = (0..200).filter_map(|s| run(s, bugs).err()).collect();
    assert!(
        failures.iter().any(|e| e.contains("duplicate")),
        "no duplicate detected: {failures:?}"
    );
}

#[test]
fn simulation_catches_a_server_that_skips_a_replayed_event() {
    let bugs = Bugs {
        server_skips_one: true,
        ..Bugs::default()
    };
    let failures: Vec<String> = (0..200).filter_map(|s| run(s, bugs).err()).collect();
    assert!(
        failures.iter().any(|e| e.contains("gap")),
        "no gap detected: {failures:?}"
    );
}
