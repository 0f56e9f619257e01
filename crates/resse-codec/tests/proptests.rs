//! Property tests: chunking invariance, LF/CRLF/CR equivalence, the
//! encode/decode round-trip law, agreement with the naive oracle, and bounded
//! memory under small limits.

mod support;

use bytes::BytesMut;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use resse_codec::{Decoder, DecoderConfig, EncodeError, Encoder, Event, Frame, Overflow};
use std::time::Duration;
use support::oracle::{self, OracleConfig};
use support::{Out, Run};

/// Pieces that make SSE syntax likely: field names, separators, every line
/// end, BOMs (whole and partial), digits, NUL and invalid UTF-8.
const PIECES: &[&[u8]] = &[
    b"data",
    b"data",
    b"data:",
    b"data: ",
    b"id",
    b"id:",
    b"event",
    b"event:",
    b"retry",
    b"retry:",
    b"Data",
    b":",
    b":",
    b" ",
    b" ",
    b"\r",
    b"\n",
    b"\n",
    b"\r\n",
    b"\n\n",
    b"\xEF\xBB\xBF",
    b"\xEF\xBB",
    b"0",
    b"7",
    b"123",
    b"x",
    b"abc",
    b"\0",
    b"\xFF",
    b"\xC0\x80",
    b"\xF0\x9F\x98",
    b"\xF0\x9F\x98\x80",
    b"\xED\xA0\x80",
    b"\xE2\x82\xAC",
    "\u{e9}".as_bytes(),
];

/// The same pieces without CR and LF, for building lines.
fn line_piece() -> impl Strategy<Value = &'static [u8]> {
    prop::sample::select(
        PIECES
            .iter()
            .copied()
            .filter(|p| !p.contains(&b'\r') && !p.contains(&b'\n'))
            .collect::<Vec<_>>(),
    )
}

/// Inputs biased toward SSE syntax.
fn sse_input() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(PIECES), 0..80).prop_map(|ps| ps.concat())
}

/// SSE-like inputs or fully arbitrary bytes.
fn any_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => sse_input(),
        1 => prop::collection::vec(any::<u8>(), 0..200),
    ]
}

/// An input plus sorted cut offsets into it.
fn input_and_cuts(
    input: impl Strategy<Value = Vec<u8>>,
) -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    input.prop_flat_map(|input| {
        let len = input.len();
        let cuts = prop::collection::vec(0..=len, 0..12).prop_map(|mut c| {
            c.sort_unstable();
            c
        });
        (Just(input), cuts)
    })
}

/// Text for event data: any chars, with CR, LF, CRLF, NUL and spaces common.
fn data_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => any::<char>().prop_map(String::from),
            1 => Just("\r".to_owned()),
            1 => Just("\n".to_owned()),
            1 => Just("\r\n".to_owned()),
            1 => Just("\0".to_owned()),
            1 => Just(" ".to_owned()),
            1 => Just(":".to_owned()),
        ],
        0..24,
    )
    .prop_map(|v| v.concat())
}

/// Text without CR and LF (and without NUL if `no_nul`).
fn field_text(no_nul: bool) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => any::<char>(),
            1 => Just(' '),
            1 => Just(':'),
            1 => Just('\0'),
        ],
        0..12,
    )
    .prop_map(move |v| {
        v.into_iter()
            .filter(|c| *c != '\r' && *c != '\n' && !(no_nul && *c == '\0'))
            .collect()
    })
}

fn retry_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        any::<u64>().prop_map(Duration::from_millis),
        (0u64..100_000).prop_map(Duration::from_millis),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
    ]
}

/// An arbitrary encodable event.
fn event() -> impl Strategy<Value = Event> {
    (
        data_text(),
        proptest::option::of(field_text(false)),
        proptest::option::of(field_text(true)),
        proptest::option::of(retry_duration()),
    )
        .prop_map(|(data, event_type, id, retry)| {
            let mut e = Event::new(data);
            if let Some(t) = event_type {
                e = e.with_event_type(t);
            }
            if let Some(id) = id {
                e = e.with_id(id);
            }
            if let Some(r) = retry {
                e = e.with_retry(r);
            }
            e
        })
}

/// What the decoder reports for a retry the encoder wrote: whole
/// milliseconds, saturating.
fn wire_retry(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// 512 cases unless `PROPTEST_CASES` says otherwise (for long local runs).
/// Failures are saved to `proptest-regressions/proptests.txt` (relative to
/// the package root, where `cargo test` runs) and replayed first; commit it.
fn config() -> ProptestConfig {
    let mut config = ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/proptests.txt",
        ))),
        ..ProptestConfig::default()
    };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 512;
    }
    config
}

proptest! {
    #![proptest_config(config())]

    /// (a) Any split of any input gives the same frames, last event ID and
    /// incomplete flag as the whole input.
    #[test]
    fn chunking_invariance((input, cuts) in input_and_cuts(any_input()), comments in any::<bool>()) {
        let config = DecoderConfig::default().comments(comments);
        let whole = support::run_split(&config, &input, &[]);
        let split = support::run_split(&config, &input, &cuts);
        prop_assert_eq!(&split, &Run { max_buffered: split.max_buffered, ..whole.clone() });
        let bytewise = support::run(&config, input.chunks(1));
        prop_assert_eq!(&bytewise, &Run { max_buffered: bytewise.max_buffered, ..whole });
    }

    /// (b) The same logical lines joined with LF, CRLF or CR decode alike.
    #[test]
    fn line_end_equivalence(
        lines in prop::collection::vec(prop::collection::vec(line_piece(), 0..8), 0..24),
        terminate_last in any::<bool>(),
        comments in any::<bool>(),
    ) {
        let lines: Vec<Vec<u8>> = lines.into_iter().map(|l| l.concat()).collect();
        let join = |end: &[u8]| -> Vec<u8> {
            let mut out = lines.join(end);
            if terminate_last && !lines.is_empty() {
                out.extend_from_slice(end);
            }
            out
        };
        let config = DecoderConfig::default().comments(comments);
        let lf = support::run(&config, [&join(b"\n")[..]]).triple();
        let crlf = support::run(&config, [&join(b"\r\n")[..]]).triple();
        let cr = support::run(&config, [&join(b"\r")[..]]).triple();
        prop_assert_eq!(&crlf, &lf);
        prop_assert_eq!(&cr, &lf);
    }

    /// (c) decode(encode(e)) == [Retry(r)?, normalize(e)] with a fresh decoder,
    /// whole and at a random split.
    #[test]
    fn round_trip(e in event(), cut in any::<prop::sample::Index>()) {
        let mut wire = BytesMut::new();
        Encoder::new().encode(&e, &mut wire).expect("encodable by construction");
        let mut want = Vec::new();
        if let Some(r) = e.retry() {
            want.push(Frame::Retry(wire_retry(r)));
        }
        want.push(Frame::Event(oracle::normalize(&e)));
        let last_id = e.id().unwrap_or("").to_owned();
        let expected = (want, last_id, false);
        prop_assert_eq!(support::decode_chunks(false, &[&wire[..]]), expected.clone());
        let at = cut.index(wire.len() + 1);
        prop_assert_eq!(support::decode_chunks(false, &[&wire[..at], &wire[at..]]), expected);
    }

    /// (c) A sequence of events and comments through one decoder: ids persist
    /// from event to event, comments come back line by line.
    #[test]
    fn round_trip_sequence(
        items in prop::collection::vec(prop_oneof![3 => event().prop_map(Ok), 1 => data_text().prop_map(Err)], 0..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut enc = Encoder::new();
        let mut wire = Vec::new();
        let mut want = Vec::new();
        let mut last_id = String::new();
        for item in &items {
            match item {
                Ok(e) => {
                    enc.encode(e, &mut wire).expect("encodable by construction");
                    if let Some(r) = e.retry() {
                        want.push(Frame::Retry(wire_retry(r)));
                    }
                    if let Some(id) = e.id() {
                        last_id = id.to_owned();
                    }
                    let n = oracle::normalize(e).with_id(last_id.as_str());
                    want.push(Frame::Event(n));
                }
                Err(text) => {
                    enc.comment(text, &mut wire);
                    let (lines, rest) = oracle::split_lines(text);
                    for line in lines.into_iter().chain([rest]) {
                        want.push(Frame::Comment(line.into()));
                    }
                }
            }
        }
        let at = cut.index(wire.len() + 1);
        let got = support::decode_chunks(true, &[&wire[..at], &wire[at..]]);
        prop_assert_eq!(got, (want, last_id, false));
    }

    /// (c) Framing-breaking values are refused with the right error and
    /// nothing is written.
    #[test]
    fn encode_refuses_injection(
        data in data_text(),
        good in field_text(true),
        prefix in field_text(true),
        suffix in field_text(false),
        bad in prop::sample::select(vec!["\r", "\n", "\r\n", "\0"]),
        in_type in any::<bool>(),
    ) {
        let poisoned = format!("{prefix}{bad}{suffix}");
        let has_newline = poisoned.contains(['\r', '\n']);
        let e = if in_type {
            Event::new(data).with_event_type(poisoned.as_str()).with_id(good)
        } else {
            Event::new(data).with_event_type(good).with_id(poisoned.as_str())
        };
        let mut dst = BytesMut::from(&b"before"[..]);
        let err = Encoder::new().encode(&e, &mut dst);
        if err.is_err() {
            prop_assert_eq!(&dst[..], b"before");
        }
        match (in_type, has_newline) {
            // NUL is fine in an event type.
            (true, false) => prop_assert_eq!(err, Ok(())),
            (true, true) => prop_assert_eq!(err, Err(EncodeError::EventTypeHasNewline)),
            (false, true) => prop_assert!(
                err == Err(EncodeError::IdHasNewline)
                    || (poisoned.contains('\0') && err == Err(EncodeError::IdHasNul)),
                "{:?}", err
            ),
            (false, false) => prop_assert_eq!(err, Err(EncodeError::IdHasNul)),
        }
    }

    /// (d) The decoder agrees with the naive oracle on any input and chunking.
    #[test]
    fn agrees_with_oracle((input, cuts) in input_and_cuts(any_input()), comments in any::<bool>()) {
        let config = DecoderConfig::default().comments(comments);
        let got = support::run_split(&config, &input, &cuts).triple();
        let want = oracle::decode_with(&input, &OracleConfig { comments, last_event_id: String::new() });
        prop_assert_eq!(got, (want.frames, want.last_event_id, want.incomplete));
    }

    /// (e) Arbitrary bytes with tiny limits: no panic, the buffer stays within
    /// the documented bound (the larger limit plus the last chunk after every
    /// call), and the output (frames and errors) does not depend on the
    /// chunking.
    #[test]
    fn small_limits_bounded(
        (input, cuts) in input_and_cuts(any_input()),
        max_line in 1usize..64,
        max_event in 1usize..64,
        stop in any::<bool>(),
        comments in any::<bool>(),
    ) {
        let config = DecoderConfig::default()
            .max_line_len(max_line)
            .max_event_len(max_event)
            .on_overflow(if stop { Overflow::Stop } else { Overflow::Skip })
            .comments(comments);
        let limit = max_line.max(max_event);
        let mut dec = Decoder::with_config(config.clone());
        let mut buf = BytesMut::new();
        let mut outs = Vec::new();
        for chunk in support::split_at(&input, &cuts) {
            buf.extend_from_slice(chunk);
            loop {
                let r = dec.decode(&mut buf);
                // During a call: what may be held after `Ok(None)` (the
                // larger limit plus a 2-byte terminator, see below) plus the
                // chunk just appended. The terminator belongs here too: an
                // empty chunk after a block whose last line ended exactly at
                // the limit leaves `limit + 1` bytes held.
                prop_assert!(buf.len() <= limit + 2 + chunk.len(), "held {} > {} + 2 + {}", buf.len(), limit, chunk.len());
                match r {
                    Ok(Some(f)) => outs.push(Out::Frame(f)),
                    Ok(None) => break,
                    Err(resse_codec::DecodeError::LineTooLong { limit }) => outs.push(Out::LineTooLong(limit)),
                    Err(resse_codec::DecodeError::EventTooLong { limit }) => outs.push(Out::EventTooLong(limit)),
                    Err(other) => prop_assert!(false, "unknown error {:?}", other),
                }
                prop_assert!(outs.len() <= input.len() + 1, "more outputs than bytes");
            }
            // Once `decode` wants more bytes, it holds at most the larger
            // limit plus the terminator (up to 2 bytes) of the last complete
            // line, which the event limit does not count, or a partial BOM.
            prop_assert!(buf.len() <= limit + 2, "held {} after Ok(None), limit {}", buf.len(), limit);
        }
        support::drain_eof(&mut dec, &mut buf, &mut outs);
        prop_assert!(buf.is_empty());
        prop_assert_eq!(dec.is_stopped(), stop && outs.iter().any(|o| !matches!(o, Out::Frame(_))));
        let whole = support::run(&config, [&input[..]]);
        prop_assert_eq!(&outs, &whole.outs);
        let bytewise = support::run(&config, input.chunks(1));
        prop_assert_eq!(&bytewise.outs, &whole.outs);
    }
}

/// The case behind the regression seed above (`small_limits_bounded`): a block
/// whose last complete line ends exactly at the event limit (53) leaves 54
/// bytes held (the limit plus that line's LF), as documented; an empty chunk
/// appended then must not be taken for growth.
#[test]
fn block_ending_at_the_limit_then_an_empty_chunk() {
    let input: &[u8] = &[
        100, 97, 116, 97, 58, 255, 195, 169, 101, 118, 101, 110, 116, 58, 120, 226, 130, 172, 226,
        130, 172, 55, 120, 48, 58, 192, 128, 13, 239, 187, 239, 187, 120, 32, 100, 97, 116, 97,
        240, 159, 152, 192, 128, 13, 49, 50, 51, 255, 55, 10, 97, 98, 99, 10, 10, 226, 130, 172,
        55, 120, 10, 10, 100, 97, 116, 97, 114, 101, 116, 114, 121,
    ];
    let config = DecoderConfig::default()
        .max_line_len(53)
        .max_event_len(53)
        .comments(true);
    let mut dec = Decoder::with_config(config.clone());
    let mut buf = BytesMut::new();
    let mut outs = Vec::new();
    for chunk in support::split_at(input, &[54, 54]) {
        buf.extend_from_slice(chunk);
        support::drain(&mut dec, &mut buf, &mut outs);
        assert!(buf.len() <= 53 + 2, "held {}", buf.len());
    }
    support::drain_eof(&mut dec, &mut buf, &mut outs);
    assert_eq!(outs, support::run(&config, [input]).outs);
}
