//! Arbitrary `ClientSession` input sequences with monotone fake time, and the
//! invariants they must keep. Shared by the `session_ops` fuzz target
//! (`fuzz/fuzz_targets/session_ops.rs`), the proptest in
//! `tests/session_invariants.rs` and the corpus replay; self-contained (it
//! only uses the crates' public APIs).
//!
//! Byte mapping: byte 0 = config flags, byte 1 = seed; then operations, one
//! opcode byte (`% 11`) plus arguments:
//!
//! | op | input |
//! | --- | --- |
//! | 0 | advance time by `arg²` ms (arg: next byte) |
//! | 1 | `handle_response`, status from a table (arg) |
//! | 2 | `handle_body` with `arg % 48` bytes (`body_buf` and `handle_body_read` when `arg >= 0x80`); bytes `>= 0xF0` expand to SSE tokens |
//! | 3 | `handle_eof` |
//! | 4 | `handle_error` with a cause (arg) |
//! | 5 | `handle_timeout(now)` (often early: spurious) |
//! | 6 | jump to `poll_timeout()` and `handle_timeout` |
//! | 7 | `close()` |
//! | 8 | `restart_now(now)` |
//! | 9 | `metrics(now)` |
//! | 10 | advance time by 1 ms |
//!
//! Config flags: 1 idle watchdog (2 s), 2 small decoder limits, 4
//! `Overflow::Stop`, 8 comments, 16 `stop_on_clean_end`, 32 at most 3
//! attempts, 64 start from last event id "7", 128 `POST` with a body.
//!
//! Invariants: at most one connection in flight (a `Connect` only when none
//! is, a `Disconnect` only when one is, `is_connected()` agrees); every
//! request carries `Accept`, `Cache-Control` and `Last-Event-ID` exactly
//! when the last event id is non-empty; the events, comments and decode
//! errors the session reports for each body chunk and end of body are
//! exactly those a reference `resse_codec::Decoder` fed the same bytes (reset
//! per connection) yields, and the last event id always equals the
//! reference's (so it is never taken from a block that was cut off); a
//! deadline set by an input is later than its `now`, a fired timer is never
//! due again at the same instant, an early `handle_timeout` changes nothing;
//! `Closed` and `Stop` come in pairs; metrics count what was fed and seen;
//! inputs that do not fit the state change nothing; nothing panics.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderValue, LOCATION, RETRY_AFTER};
use http::{HeaderMap, Method, StatusCode};
use resse_codec::{DecodeError, Decoder, DecoderConfig, Frame, Overflow};
use resse_session::{
    Action, Cause, ClientSession, ConnectionState, LAST_EVENT_ID, ReconnectConfig, SessionConfig,
    SessionEvent,
};

const TOKENS: [&[u8]; 16] = [
    b"data: ",
    b"id: ",
    b"id\n",
    b"retry: 10\n",
    b"event: e\n",
    b":c\n",
    b"\n",
    b"\r\n",
    b"\r",
    b"data\n",
    b"id: 1\n",
    b"id:\n",
    b"\xEF\xBB\xBF",
    b"data: x\n\n",
    b"id: \0\n",
    b"id: \x01\n",
];

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
}

/// What the session must report for a body chunk or end of body.
#[derive(Debug, PartialEq)]
enum Out {
    Event(resse_codec::Event),
    Comment(String),
    DecodeError(DecodeError),
}

struct Checker {
    session: ClientSession,
    now: Instant,
    reference: Decoder,
    ref_buf: BytesMut,
    overflow_stop: bool,
    in_flight: bool,
    closed_events: u32,
    stop_actions: u32,
    events_seen: u64,
    bytes_fed: u64,
}

pub(crate) fn check_session_ops(data: &[u8]) {
    let mut input = Input(data);
    let flags = input.byte().unwrap_or(0);
    let seed = u64::from(input.byte().unwrap_or(0));
    let mut decoder = DecoderConfig::default().comments(flags & 8 != 0);
    if flags & 2 != 0 {
        decoder = decoder.max_line_len(16).max_event_len(48);
    }
    if flags & 4 != 0 {
        decoder = decoder.on_overflow(Overflow::Stop);
    }
    let mut reconnect = ReconnectConfig::default()
        .seed(seed)
        .stop_on_clean_end(flags & 16 != 0);
    if flags & 32 != 0 {
        reconnect = reconnect.max_attempts(Some(3));
    }
    let mut config = SessionConfig::new("http://fuzz.test/events")
        .reconnect(reconnect)
        .decoder(decoder.clone())
        .idle_timeout((flags & 1 != 0).then(|| Duration::from_secs(2)));
    if flags & 64 != 0 {
        config = config.last_event_id("7");
    }
    if flags & 128 != 0 {
        config = config.method(Method::POST).body("q");
    }
    let mut reference = Decoder::with_config(decoder);
    reference.set_last_event_id(config.get_last_event_id().clone());

    let now = Instant::now();
    let session = ClientSession::new(now, config).expect("valid config");
    let mut c = Checker {
        session,
        now,
        reference,
        ref_buf: BytesMut::new(),
        overflow_stop: flags & 4 != 0,
        in_flight: false,
        closed_events: 0,
        stop_actions: 0,
        events_seen: 0,
        bytes_fed: 0,
    };
    c.after(Op::Other, None, Vec::new());

    while let Some(op) = input.byte() {
        let before_timeout = c.session.poll_timeout();
        let before_state = c.session.state();
        match op % 11 {
            0 => {
                let arg = u64::from(input.byte().unwrap_or(0));
                c.now += Duration::from_millis(arg * arg);
            }
            1 => {
                let (status, headers) = response(input.byte().unwrap_or(0));
                c.session.handle_response(c.now, status, &headers);
                let kind = if before_state == ConnectionState::Connecting {
                    Op::Other
                } else {
                    Op::Ignored
                };
                c.after(kind, before_timeout, Vec::new());
            }
            2 => {
                let arg = input.byte().unwrap_or(0);
                let n = arg % 48;
                let mut chunk = Vec::new();
                for _ in 0..n {
                    let Some(b) = input.byte() else { break };
                    if b >= 0xF0 {
                        chunk.extend_from_slice(TOKENS[usize::from(b & 0x0F)]);
                    } else {
                        chunk.push(b);
                    }
                }
                let open = before_state == ConnectionState::Open;
                let expected = if open && !chunk.is_empty() {
                    c.bytes_fed += chunk.len() as u64;
                    c.ref_buf.extend_from_slice(&chunk);
                    c.reference_frames(false)
                } else {
                    Vec::new()
                };
                if arg >= 0x80 {
                    // Read in place, as the blocking client reads, a few
                    // bytes of the buffer left unfilled.
                    c.session.body_buf(chunk.len() + 3)[..chunk.len()].copy_from_slice(&chunk);
                    c.session.handle_body_read(c.now, chunk.len());
                } else {
                    c.session.handle_body(c.now, Bytes::from(chunk));
                }
                let kind = if open { Op::Body } else { Op::Ignored };
                c.after(kind, before_timeout, expected);
            }
            3 => {
                let expected = if before_state == ConnectionState::Open {
                    c.reference_frames(true)
                } else {
                    Vec::new()
                };
                let was_in_flight = c.in_flight;
                c.in_flight = false;
                c.session.handle_eof(c.now);
                let kind = if was_in_flight { Op::Body } else { Op::Ignored };
                c.after(kind, before_timeout, expected);
            }
            4 => {
                let cause = match input.byte().unwrap_or(0) % 4 {
                    0 => Cause::ConnectFailed,
                    1 => Cause::Io,
                    2 => Cause::EndOfBodyClean,
                    _ => Cause::Status(StatusCode::BAD_GATEWAY),
                };
                let was_in_flight = c.in_flight;
                c.in_flight = false;
                c.session.handle_error(c.now, cause);
                let kind = if was_in_flight {
                    Op::Other
                } else {
                    Op::Ignored
                };
                c.after(kind, before_timeout, Vec::new());
            }
            5 => {
                c.session.handle_timeout(c.now);
                c.after(Op::Timeout, before_timeout, Vec::new());
            }
            6 => {
                if let Some(t) = before_timeout {
                    c.now = c.now.max(t);
                }
                c.session.handle_timeout(c.now);
                c.after(Op::Timeout, before_timeout, Vec::new());
            }
            7 => {
                let was_closed = c.session.is_closed();
                c.session.close();
                let kind = if was_closed { Op::Ignored } else { Op::Other };
                c.after(kind, before_timeout, Vec::new());
            }
            8 => {
                c.session.restart_now(c.now);
                c.after(Op::Other, before_timeout, Vec::new());
            }
            9 => c.check_metrics(),
            _ => c.now += Duration::from_millis(1),
        }
    }
}

/// A response head from a small table of interesting ones.
fn response(arg: u8) -> (StatusCode, HeaderMap) {
    let mut h = HeaderMap::new();
    let status = match arg % 12 {
        0 => {
            h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
            StatusCode::OK
        }
        1 => {
            h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            StatusCode::OK
        }
        2 => StatusCode::NO_CONTENT,
        3 => {
            h.insert(LOCATION, HeaderValue::from_static("/r"));
            StatusCode::TEMPORARY_REDIRECT
        }
        4 => {
            h.insert(
                LOCATION,
                HeaderValue::from_static("https://other.example/x"),
            );
            StatusCode::MOVED_PERMANENTLY
        }
        5 => StatusCode::FOUND,
        6 => StatusCode::NOT_FOUND,
        7 => StatusCode::INTERNAL_SERVER_ERROR,
        8 => {
            h.insert(RETRY_AFTER, HeaderValue::from(u32::from(arg % 10)));
            StatusCode::SERVICE_UNAVAILABLE
        }
        9 => StatusCode::TOO_MANY_REQUESTS,
        10 => {
            h.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("Text/Event-Stream; charset=utf-8"),
            );
            StatusCode::OK
        }
        _ => {
            h.insert(LOCATION, HeaderValue::from_static("?q=1"));
            StatusCode::PERMANENT_REDIRECT
        }
    };
    (status, h)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    /// An input the session must ignore: nothing may change.
    Ignored,
    /// Body bytes or end of body: reported frames must match the reference.
    Body,
    /// `handle_timeout`.
    Timeout,
    Other,
}

impl Checker {
    /// Runs the reference decoder over what it has buffered.
    fn reference_frames(&mut self, eof: bool) -> Vec<Out> {
        let mut out = Vec::new();
        loop {
            let r = if eof {
                self.reference.decode_eof(&mut self.ref_buf)
            } else {
                self.reference.decode(&mut self.ref_buf)
            };
            match r {
                Ok(Some(Frame::Event(e))) => out.push(Out::Event(e)),
                Ok(Some(Frame::Comment(t))) => out.push(Out::Comment(t.to_string())),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) if self.overflow_stop => {
                    // The session closes instead of reporting the error.
                    let _ = e;
                    break;
                }
                Err(e) => out.push(Out::DecodeError(e)),
            }
        }
        out
    }

    fn after(&mut self, op: Op, before_timeout: Option<Instant>, expected: Vec<Out>) {
        let now = self.now;
        let mut actions = 0;
        while let Some(action) = self.session.poll_action() {
            actions += 1;
            match action {
                Action::Connect(request) => {
                    assert!(!self.in_flight, "Connect while a connection is in flight");
                    self.in_flight = true;
                    assert_eq!(request.headers[ACCEPT], "text/event-stream");
                    assert_eq!(request.headers[CACHE_CONTROL], "no-store");
                    let id = self.session.last_event_id();
                    assert_eq!(&request.last_event_id, id);
                    match request.headers.get(LAST_EVENT_ID) {
                        Some(v) => assert_eq!(v.as_bytes(), id.as_bytes()),
                        None => assert!(
                            id.is_empty() || HeaderValue::from_bytes(id.as_bytes()).is_err(),
                            "Last-Event-ID missing for {id:?}"
                        ),
                    }
                    if request.method == Method::POST {
                        assert_eq!(request.body.as_deref(), Some(&b"q"[..]));
                    }
                }
                Action::Disconnect => {
                    assert!(self.in_flight, "Disconnect without a connection");
                    self.in_flight = false;
                }
                Action::Stop => {
                    assert!(self.session.is_closed(), "Stop from an open session");
                    self.in_flight = false;
                    self.stop_actions += 1;
                }
                other => panic!("unknown action {other:?}"),
            }
        }
        assert_eq!(self.session.is_connected(), self.in_flight);

        let mut reported = Vec::new();
        let mut events = 0;
        while let Some(event) = self.session.poll_event() {
            events += 1;
            match event {
                SessionEvent::Event(e) => {
                    self.events_seen += 1;
                    reported.push(Out::Event(e));
                }
                SessionEvent::Comment(t) => reported.push(Out::Comment(t.to_string())),
                SessionEvent::DecodeError(e) => reported.push(Out::DecodeError(e)),
                SessionEvent::Closed { .. } => self.closed_events += 1,
                SessionEvent::Reconnecting { delay, .. } => {
                    assert!(delay > Duration::ZERO, "a zero reconnection delay");
                }
                _ => {}
            }
        }
        assert_eq!(
            reported, expected,
            "reported frames differ from the reference decoder"
        );
        assert_eq!(
            self.closed_events, self.stop_actions,
            "Closed and Stop come in pairs"
        );

        if self.session.state() != ConnectionState::Open {
            // Whatever ended or never started, the next stream starts afresh,
            // as the session's decoder does.
            self.reference.reset();
            self.ref_buf.clear();
        }
        assert_eq!(
            self.session.last_event_id(),
            self.reference.last_event_id(),
            "last event id differs from the reference decoder"
        );

        let after_timeout = self.session.poll_timeout();
        match op {
            Op::Ignored => {
                assert_eq!((actions, events), (0, 0), "an ignored input had effects");
                assert_eq!(after_timeout, before_timeout);
            }
            Op::Timeout => {
                if let Some(t) = after_timeout {
                    assert!(t > now, "a fired timer is due again at once");
                }
                if before_timeout.is_none_or(|t| now < t) {
                    assert_eq!((actions, events), (0, 0), "an early timeout had effects");
                    assert_eq!(after_timeout, before_timeout);
                }
            }
            Op::Body | Op::Other => {}
        }
        if let Some(t) = after_timeout.filter(|t| Some(*t) != before_timeout) {
            assert!(t > now, "an input set a deadline not after its now");
        }
    }

    fn check_metrics(&self) {
        let m = self.session.metrics(self.now);
        assert_eq!(m.total_events, self.events_seen);
        assert_eq!(m.total_bytes, self.bytes_fed);
        assert_eq!(&m.last_event_id, self.session.last_event_id());
        assert_eq!(m.state, self.session.state());
        assert!(m.next_delay > Duration::ZERO);
    }
}
