//! Helpers shared by the integration tests: fake time, output draining, a
//! seeded PRNG. Each test binary uses a different subset.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, StatusCode};
use resse_reconnect::Jitter;
use resse_session::{Action, ClientSession, ReconnectConfig, Request, SessionConfig, SessionEvent};

pub(crate) mod fanout_ops;
pub(crate) mod ops;

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A policy with exact, known delays: 1 s doubling, no jitter (whatever
/// the defaults are).
pub(crate) fn exact_policy() -> ReconnectConfig {
    ReconnectConfig::default()
        .jitter(Jitter::None)
        .initial_delay(Duration::from_secs(1))
        .multiplier(2.0)
}

/// The response head of an event stream.
pub(crate) fn stream_head() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h
}

/// SplitMix64: a deterministic PRNG for tests.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64() >> 11) * u128::from(n)) >> 53) as u64
    }

    /// `true` with probability `percent`/100.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A session under fake time: one start instant plus durations.
pub(crate) struct Client {
    pub(crate) t0: Instant,
    pub(crate) now: Instant,
    pub(crate) session: ClientSession,
}

impl Client {
    pub(crate) fn new(config: SessionConfig) -> Self {
        let t0 = Instant::now();
        let session = ClientSession::new(t0, config).expect("valid config");
        Self {
            t0,
            now: t0,
            session,
        }
    }

    /// Sets the fake clock to `t0 + d`.
    pub(crate) fn at(&mut self, d: Duration) -> Instant {
        self.now = self.t0 + d;
        self.now
    }

    pub(crate) fn actions(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.session.poll_action()).collect()
    }

    pub(crate) fn events(&mut self) -> Vec<SessionEvent> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }

    /// Drains the actions and expects exactly one `Connect`.
    pub(crate) fn expect_connect(&mut self) -> Request {
        let actions = self.actions();
        let mut connects = actions.into_iter().filter_map(|a| match a {
            Action::Connect(r) => Some(r),
            _ => None,
        });
        let r = connects.next().expect("a Connect action");
        assert!(connects.next().is_none(), "a single Connect");
        r
    }

    /// Answers the pending connection with a 200 event stream.
    pub(crate) fn open(&mut self) {
        self.session
            .handle_response(self.now, StatusCode::OK, &stream_head());
    }

    pub(crate) fn body(&mut self, bytes: &'static [u8]) {
        self.session
            .handle_body(self.now, Bytes::from_static(bytes));
    }

    /// Jumps to the session's deadline and fires it; returns the deadline.
    pub(crate) fn fire_timer(&mut self) -> Instant {
        let deadline = self.session.poll_timeout().expect("a deadline");
        self.now = deadline;
        self.session.handle_timeout(deadline);
        deadline
    }

    /// The data of the decoded events among `events`.
    pub(crate) fn data(events: &[SessionEvent]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Event(e) => Some(e.data().to_owned()),
                _ => None,
            })
            .collect()
    }
}
