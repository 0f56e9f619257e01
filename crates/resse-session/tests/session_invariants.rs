//! Property tests of `ClientSession` invariants.
//!
//! * Arbitrary input sequences (the `session_ops` fuzz target's checker,
//!   see `support/ops.rs`): never two connections in flight, requests carry
//!   the right headers, reported events equal a reference decoder's, the
//!   last event id equals the reference's, deadlines are never in the past
//!   of the input that set them, early timeouts do nothing, `Closed`/`Stop`
//!   pair up, inputs that do not fit are ignored.
//! * Structured streams cut at random points: the last event id is exactly
//!   the id of the last *complete* block that set one, across connections,
//!   whatever the chunking and however the connection ended.

mod support;

use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use resse_session::{Cause, LAST_EVENT_ID, SessionConfig, SessionEvent};
use support::Client;

/// One operation of the ops checker, as bytes: opcode, argument, payload.
fn op_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Responses: mostly event streams, so that bodies get decoded.
        4 => prop_oneof![Just(0u8), Just(10), any::<u8>()].prop_map(|s| vec![1, s]),
        6 => proptest::collection::vec(
                prop_oneof![3 => 0xF0u8..=0xFF, 1 => any::<u8>()], 0..24)
            .prop_map(|body| {
                let mut v = vec![2, body.len() as u8];
                v.extend(body);
                v
            }),
        2 => any::<u8>().prop_map(|a| vec![0, a]),
        1 => Just(vec![3]),
        1 => any::<u8>().prop_map(|a| vec![4, a]),
        1 => Just(vec![5]),
        2 => Just(vec![6]),
        1 => Just(vec![7]),
        1 => Just(vec![8]),
        1 => Just(vec![9]),
        1 => Just(vec![10]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_input_sequences_keep_the_invariants(
        flags in any::<u8>(),
        seed in any::<u8>(),
        ops in proptest::collection::vec(op_bytes(), 0..80),
    ) {
        let mut data = vec![flags, seed];
        for op in ops {
            data.extend(op);
        }
        support::ops::check_session_ops(&data);
    }

    #[test]
    fn raw_bytes_never_break_the_invariants(
        data in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        support::ops::check_session_ops(&data);
    }
}

#[derive(Clone, Debug)]
struct Block {
    /// `None`: no id field; `Some("")`: an empty `id` (clears the id).
    id: Option<&'static str>,
    data: Option<&'static str>,
}

impl Block {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::new();
        match self.id {
            Some("") => v.extend_from_slice(b"id\n"),
            Some(id) => v.extend_from_slice(format!("id: {id}\n").as_bytes()),
            None => {}
        }
        if let Some(d) = self.data {
            v.extend_from_slice(format!("data: {d}\n").as_bytes());
        }
        v.extend_from_slice(b"\n");
        v
    }
}

fn block() -> impl Strategy<Value = Block> {
    (
        prop_oneof![
            2 => Just(None),
            3 => prop_oneof![Just("1"), Just("2"), Just("abc"), Just("\u{e9}t\u{e9}")].prop_map(Some),
            1 => Just(Some("")),
        ],
        prop_oneof![3 => Just(Some("x")), 1 => Just(Some("")), 1 => Just(None)],
    )
        .prop_map(|(id, data)| Block { id, data })
}

#[derive(Clone, Debug)]
struct Connection {
    blocks: Vec<Block>,
    /// How much of the last block is sent: `None` all of it, else a strict
    /// prefix of this many bytes (modulo its length).
    cut: Option<usize>,
    /// 0: end of body, 1: I/O error, 2: idle timeout.
    ending: u8,
    /// Chunk sizes (cycled; 0 counts as 1).
    chunks: Vec<usize>,
}

fn connection() -> impl Strategy<Value = Connection> {
    (
        proptest::collection::vec(block(), 1..6),
        proptest::option::of(any::<usize>()),
        0u8..3,
        proptest::collection::vec(0usize..12, 1..5),
    )
        .prop_map(|(blocks, cut, ending, chunks)| Connection {
            blocks,
            cut,
            ending,
            chunks,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn last_event_id_comes_only_from_complete_blocks(
        conns in proptest::collection::vec(connection(), 1..6),
    ) {
        let config = SessionConfig::new("http://p.test/e").idle_timeout(Some(Duration::from_secs(5)));
        let mut c = Client::new(config);
        let mut expected = String::new();
        for conn in &conns {
            // The request resumes from the id of the last complete block.
            let request = c.expect_connect();
            let header = request.headers.get(LAST_EVENT_ID).map(|v| v.as_bytes().to_vec());
            prop_assert_eq!(header, (!expected.is_empty()).then(|| expected.as_bytes().to_vec()));
            c.open();
            c.events();

            let mut wire = Vec::new();
            let mut model = expected.clone();
            let mut dispatched = Vec::new();
            let last = conn.blocks.len() - 1;
            let mut cut_mid = false;
            for (i, b) in conn.blocks.iter().enumerate() {
                let bytes = b.encode();
                match conn.cut {
                    Some(n) if i == last => {
                        let n = n % bytes.len();
                        wire.extend_from_slice(&bytes[..n]);
                        cut_mid = n > 0;
                    }
                    _ => {
                        wire.extend_from_slice(&bytes);
                        if let Some(id) = b.id {
                            model = id.to_owned();
                        }
                        if b.data.is_some() {
                            dispatched.push(model.clone());
                        }
                    }
                }
            }
            let mut rest = Bytes::from(wire);
            let mut k = 0;
            while !rest.is_empty() {
                let n = conn.chunks[k % conn.chunks.len()].clamp(1, rest.len());
                k += 1;
                c.session.handle_body(c.now, rest.split_to(n));
            }
            let mut seen = Vec::new();
            let mut cause = None;
            match conn.ending {
                0 => c.session.handle_eof(c.now),
                1 => c.session.handle_error(c.now, Cause::Io),
                _ => {
                    c.fire_timer();
                }
            }
            for e in c.events() {
                match e {
                    SessionEvent::Event(e) => seen.push(e.last_event_id().to_owned()),
                    SessionEvent::Reconnecting { cause: x, .. } => cause = Some(x),
                    _ => {}
                }
            }
            // Events carry the id in effect, and a cut block dispatches nothing.
            prop_assert_eq!(&seen, &dispatched);
            prop_assert_eq!(c.session.last_event_id().as_str(), model.as_str());
            let want = match conn.ending {
                0 if cut_mid => Cause::EndOfBodyMidEvent,
                0 => Cause::EndOfBodyClean,
                1 => Cause::Io,
                _ => Cause::IdleTimeout,
            };
            prop_assert_eq!(cause, Some(want));
            expected = model;
            c.fire_timer();
        }
    }
}
