//! The checks behind the fuzz targets, in one place.
//!
//! This file is compiled twice: by the cargo-fuzz targets in `fuzz/` (nightly,
//! libFuzzer) and by `tests/fuzz_corpus.rs` (stable `cargo test`), which
//! replays the committed seed corpus through exactly these functions. Both
//! include it with `#[path]`, next to `oracle.rs` (as a sibling module named
//! `oracle`), so a fuzz target is a one-line wrapper around one `check_*`
//! function here.
//!
//! Every check panics (`assert!`) on a violated property; libFuzzer reports a
//! panic as a crash, `cargo test` as a failure.
//!
//! Input formats (stable: committed corpus files depend on them):
//!
//! * `check_decode`, `check_differential`: the input is the raw byte stream.
//! * `check_decode_chunked`: byte 0 picks the decoder config (see
//!   [`ChunkedInput`]), byte 1 `& 7` is `k`, the next `k` bytes are chunk
//!   sizes used in turn (a `0` appends nothing before a `decode` call; `k == 0`
//!   or all zero means one byte per chunk), the rest is the stream.
//! * `check_roundtrip`: see [`roundtrip_ops`].
#![allow(dead_code)]

use super::oracle;
use bytes::{Bytes, BytesMut};
use core::time::Duration;
use resse_codec::{
    BufferedDecoder, DEFAULT_MAX_EVENT_LEN, DEFAULT_MAX_LINE_LEN, DecodeError, Decoder,
    DecoderConfig, EncodeError, Encoder, Event, Frame, FrameRef, Overflow, Text,
};

/// One output of `Decoder::decode` / `decode_eof` (errors are outputs too:
/// with `Overflow::Skip` decoding goes on after them).
pub(crate) type Output = Result<Frame, DecodeError>;

/// Everything observable about one decoded stream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Run {
    /// Frames and errors, in order, from the whole stream including EOF.
    pub(crate) outputs: Vec<Output>,
    /// `Decoder::last_event_id()` after EOF.
    pub(crate) last_event_id: Text,
    /// `Decoder::incomplete_at_eof()` after EOF.
    pub(crate) incomplete_at_eof: bool,
    /// `Decoder::is_stopped()` after EOF.
    pub(crate) stopped: bool,
}

/// Bytes a decoder may keep in the caller's buffer beyond
/// `max(max_line_len, max_event_len)` between calls (room for a pending CR or
/// a partial BOM). Anything more means memory grows with the input instead
/// of with the limits.
const HELD_SLACK: usize = 8;

/// Small limits, so that fuzz inputs (a few KiB) hit them often.
pub(crate) const SMALL_LINE: usize = 16;
/// See [`SMALL_LINE`].
pub(crate) const SMALL_EVENT: usize = 64;

/// The configs `check_decode` runs every input through.
fn decode_configs() -> [DecoderConfig; 4] {
    let small = DecoderConfig::default()
        .max_line_len(SMALL_LINE)
        .max_event_len(SMALL_EVENT)
        .comments(true);
    let default = DecoderConfig::default().comments(true);
    [
        small.clone().on_overflow(Overflow::Skip),
        small.on_overflow(Overflow::Stop),
        default.clone().on_overflow(Overflow::Skip),
        default.on_overflow(Overflow::Stop),
    ]
}

fn is_stop(config: &DecoderConfig) -> bool {
    matches!(config.get_on_overflow(), Overflow::Stop)
}

/// Most bytes the caller's buffer may still hold when `decode` says it needs
/// more input.
fn held_bound(config: &DecoderConfig) -> usize {
    config
        .get_max_line_len()
        .max(config.get_max_event_len())
        .saturating_add(HELD_SLACK)
}

/// Decodes `chunks` as one stream with a fresh decoder.
pub(crate) fn run(config: &DecoderConfig, chunks: &[&[u8]]) -> Run {
    run_with(&mut Decoder::with_config(config.clone()), chunks)
}

/// Decodes `chunks` as one stream with `decoder`, appending each chunk to the
/// buffer like `FramedRead` does, then calling `decode_eof` until `Ok(None)`.
///
/// Asserts while running: the decoder terminates (at most one output per
/// input byte), the buffer it leaves between calls stays within its limits,
/// `Overflow::Stop` stops at the first error and empties the buffer, and
/// `decode_eof` consumes everything.
pub(crate) fn run_with(decoder: &mut Decoder, chunks: &[&[u8]]) -> Run {
    let config = decoder.config().clone();
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    // Every output needs at least one input byte (a blank line, a comment
    // line, a `retry:` line, or an over-long line), so more outputs than
    // bytes means the decoder is looping.
    let budget = total + 1;
    let mut outputs = Vec::new();
    let mut buf = BytesMut::new();
    let mut record = |out: Output, decoder: &Decoder| {
        if out.is_err() && is_stop(&config) {
            assert!(
                decoder.is_stopped(),
                "Overflow::Stop: error returned but decoder not stopped"
            );
        }
        outputs.push(out);
        assert!(
            outputs.len() <= budget,
            "decoder produced {} outputs from {total} input bytes: it is looping",
            outputs.len()
        );
    };
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match decoder.decode(&mut buf) {
                Ok(None) => break,
                Ok(Some(frame)) => record(Ok(frame), decoder),
                Err(e) => record(Err(e), decoder),
            }
        }
        assert!(
            buf.len() <= held_bound(&config),
            "decoder holds {} bytes between calls; limits are line {} / event {}",
            buf.len(),
            config.get_max_line_len(),
            config.get_max_event_len()
        );
        if decoder.is_stopped() {
            assert!(
                buf.is_empty(),
                "stopped decoder left {} bytes in the buffer",
                buf.len()
            );
        }
    }
    loop {
        match decoder.decode_eof(&mut buf) {
            Ok(None) => break,
            Ok(Some(frame)) => record(Ok(frame), decoder),
            Err(e) => record(Err(e), decoder),
        }
    }
    assert!(
        buf.is_empty(),
        "decode_eof returned Ok(None) but left {} bytes",
        buf.len()
    );
    Run {
        outputs,
        last_event_id: decoder.last_event_id().clone(),
        incomplete_at_eof: decoder.incomplete_at_eof(),
        stopped: decoder.is_stopped(),
    }
}

/// Properties every run must have, whatever the input.
/// What the limits count of `input` at most: its bytes, and where it holds
/// invalid UTF-8 also its text after U+FFFD replacement (see
/// `DecoderConfig`'s "Memory": an event with invalid UTF-8 counts its raw
/// bytes and its replaced data).
pub(crate) fn counted_len(input: &[u8]) -> usize {
    match std::str::from_utf8(input) {
        Ok(_) => input.len(),
        Err(_) => input.len() + String::from_utf8_lossy(input).len(),
    }
}

/// `input_len` is [`counted_len`] of the input: an input that counts no
/// more than both limits can break neither.
pub(crate) fn validate(config: &DecoderConfig, run: &Run, input_len: usize) {
    let line = config.get_max_line_len();
    let event = config.get_max_event_len();
    // Invalid UTF-8 turns each bad byte into U+FFFD (3 bytes).
    let lossy = |n: usize| n.saturating_mul(3);
    let mut seen_error = false;
    for out in &run.outputs {
        if seen_error && is_stop(config) {
            panic!("Overflow::Stop: output after the first error: {out:?}");
        }
        match out {
            Ok(Frame::Event(e)) => {
                let id = e
                    .id()
                    .expect("decoded events always carry the last event id");
                assert!(!id.contains(['\0', '\r', '\n']), "decoded id {id:?}");
                assert!(
                    id.len() <= lossy(line),
                    "id of {} bytes, line limit {line}",
                    id.len()
                );
                if let Some(t) = e.event_type_text() {
                    assert!(
                        !t.is_empty(),
                        "decoded event type Some(\"\") should be None"
                    );
                    assert!(!t.contains(['\r', '\n']), "decoded event type {t:?}");
                    assert!(
                        t.len() <= lossy(line),
                        "event type of {} bytes, line limit {line}",
                        t.len()
                    );
                }
                assert!(
                    !e.data().contains('\r'),
                    "decoded data contains CR: {:?}",
                    e.data()
                );
                assert!(
                    e.data().len() <= lossy(event),
                    "data of {} bytes, event limit {event}",
                    e.data().len()
                );
                assert_eq!(e.retry(), None, "decoded events carry no retry");
            }
            Ok(Frame::Comment(c)) => {
                assert!(config.get_comments(), "comment frame with comments off");
                assert!(!c.contains(['\r', '\n']), "comment {c:?}");
                assert!(
                    c.len() <= lossy(line),
                    "comment of {} bytes, line limit {line}",
                    c.len()
                );
            }
            Ok(Frame::Retry(_)) => {}
            Ok(other) => panic!("unknown frame kind {other:?}"),
            Err(DecodeError::LineTooLong { limit }) => {
                assert_eq!(*limit, line);
                seen_error = true;
            }
            Err(DecodeError::EventTooLong { limit }) => {
                assert_eq!(*limit, event);
                seen_error = true;
            }
            Err(other) => panic!("unknown error kind {other:?}"),
        }
    }
    if input_len <= line.min(event) {
        assert!(
            !seen_error,
            "limit error on input counting {input_len} bytes, limits {line}/{event}"
        );
    }
    if !is_stop(config) {
        assert!(!run.stopped, "Overflow::Skip decoder reports is_stopped()");
    }
}

/// Target `decode`: arbitrary bytes with small and default limits, both
/// overflow modes, comments on. No panic, bounded buffer, sane frames; a
/// decoder reused after EOF behaves like a fresh one given the same last
/// event id; limits change nothing when not exceeded; comments off only
/// removes the comment frames.
pub(crate) fn check_decode(data: &[u8]) {
    let mut runs = Vec::new();
    for config in decode_configs() {
        let mut decoder = Decoder::with_config(config.clone());
        let first = run_with(&mut decoder, &[data]);
        validate(&config, &first, counted_len(data));
        if !first.stopped {
            // After decode_eof the decoder is ready for a new stream.
            let again = run_with(&mut decoder, &[data]);
            let mut fresh = Decoder::with_config(config.clone());
            fresh.set_last_event_id(first.last_event_id.clone());
            let expected = run_with(&mut fresh, &[data]);
            assert_eq!(
                again, expected,
                "decoder reused after EOF differs from a fresh one"
            );
        }
        runs.push(first);
    }
    let [small_skip, small_stop, default_skip, default_stop] = &runs[..] else {
        unreachable!("four configs")
    };
    assert_eq!(
        default_skip, default_stop,
        "overflow mode matters without overflow"
    );
    for small in [small_skip, small_stop] {
        if small.outputs.iter().all(Result::is_ok) {
            assert_eq!(
                small, default_skip,
                "small limits changed a stream that never exceeded them"
            );
        }
    }
    let no_comments = run(&DecoderConfig::default().comments(false), &[data]);
    let filtered = Run {
        outputs: default_skip
            .outputs
            .iter()
            .filter(|o| !matches!(o, Ok(Frame::Comment(_))))
            .cloned()
            .collect(),
        last_event_id: default_skip.last_event_id.clone(),
        incomplete_at_eof: default_skip.incomplete_at_eof,
        stopped: default_skip.stopped,
    };
    assert_eq!(
        no_comments, filtered,
        "comments(false) must only drop comment frames"
    );
}

/// A `decode_chunked` input split into its parts.
#[derive(Debug)]
pub(crate) struct ChunkedInput<'a> {
    /// Decoder config from byte 0: bits 0..2 limits (0 default, 1 line 16 /
    /// event 64, 2 line 4 / event 16, 3 line 64 / event 24), bit 2
    /// `Overflow::Stop`, bit 3 comments on.
    pub(crate) config: DecoderConfig,
    /// Chunk sizes, used in turn; empty means one byte per chunk.
    pub(crate) sizes: Vec<usize>,
    /// The stream.
    pub(crate) payload: &'a [u8],
}

impl<'a> ChunkedInput<'a> {
    /// Parses the leading bytes; missing header bytes count as 0.
    pub(crate) fn parse(data: &'a [u8]) -> Self {
        let at = |i: usize| data.get(i).copied().unwrap_or(0);
        let selector = at(0);
        let (line, event) = match selector & 3 {
            0 => (DEFAULT_MAX_LINE_LEN, DEFAULT_MAX_EVENT_LEN),
            1 => (16, 64),
            2 => (4, 16),
            _ => (64, 24),
        };
        let overflow = if selector & 4 != 0 {
            Overflow::Stop
        } else {
            Overflow::Skip
        };
        let config = DecoderConfig::default()
            .max_line_len(line)
            .max_event_len(event)
            .on_overflow(overflow)
            .comments(selector & 8 != 0);
        let k = usize::from(at(1) & 7);
        let header = (2 + k).min(data.len());
        let mut sizes: Vec<usize> = data[2.min(data.len())..header]
            .iter()
            .map(|&b| usize::from(b))
            .collect();
        if sizes.iter().all(|&s| s == 0) {
            sizes.clear();
        }
        Self {
            config,
            sizes,
            payload: &data[header..],
        }
    }

    /// The payload cut into chunks (zero sizes give empty chunks).
    pub(crate) fn chunks(&self) -> Vec<&'a [u8]> {
        if self.sizes.is_empty() {
            return self.payload.chunks(1).collect();
        }
        let mut out = Vec::new();
        let mut rest = self.payload;
        let mut sizes = self.sizes.iter().cycle();
        while !rest.is_empty() {
            let n = sizes.next().copied().unwrap_or(1).min(rest.len());
            let (chunk, tail) = rest.split_at(n);
            out.push(chunk);
            rest = tail;
        }
        out
    }
}

/// Target `decode_chunked`: the same stream fed whole and in the chunks the
/// leading bytes pick gives the same frames, errors, last event id,
/// `incomplete_at_eof` and stopped state; `BufferedDecoder` agrees too.
pub(crate) fn check_decode_chunked(data: &[u8]) {
    let input = ChunkedInput::parse(data);
    let chunks = input.chunks();
    let whole = run(&input.config, &[input.payload]);
    let chunked = run(&input.config, &chunks);
    validate(&input.config, &chunked, counted_len(input.payload));
    assert_eq!(
        whole, chunked,
        "chunking changed the result; chunks: {chunks:?}"
    );

    let mut buffered = BufferedDecoder::new(Decoder::with_config(input.config.clone()));
    let mut outputs = Vec::new();
    let budget = input.payload.len() + 1;
    for chunk in &chunks {
        buffered.feed(chunk);
        loop {
            match buffered.next_frame() {
                Ok(None) => break,
                Ok(Some(frame)) => outputs.push(Ok(frame)),
                Err(e) => outputs.push(Err(e)),
            }
            assert!(outputs.len() <= budget, "BufferedDecoder is looping");
        }
    }
    loop {
        match buffered.finish() {
            Ok(None) => break,
            Ok(Some(frame)) => outputs.push(Ok(frame)),
            Err(e) => outputs.push(Err(e)),
        }
        assert!(
            outputs.len() <= budget,
            "BufferedDecoder::finish is looping"
        );
    }
    let buffered = Run {
        outputs,
        last_event_id: buffered.decoder().last_event_id().clone(),
        incomplete_at_eof: buffered.decoder().incomplete_at_eof(),
        stopped: buffered.decoder().is_stopped(),
    };
    assert_eq!(
        chunked, buffered,
        "BufferedDecoder differs from Decoder on the same chunks"
    );

    let zero_copy = run_bytes(&input.config, &chunks);
    assert_eq!(
        whole, zero_copy,
        "Decoder::decode_bytes differs from Decoder::decode; chunks: {chunks:?}"
    );
    for every in [None, Some(usize::MAX), Some(2)] {
        let borrowed = run_slice(&input.config, &chunks, every);
        assert_eq!(
            whole, borrowed,
            "Decoder::decode_slice or frames ({every:?}) differs from Decoder::decode; chunks: {chunks:?}"
        );
    }
}

/// Runs a fresh decoder over `chunks` with [`Decoder::decode_slice`] (each
/// frame borrowed, copied to an owned one while it is valid), then
/// [`Decoder::decode_slice_eof`]. With `frames: Some(n)`, each chunk is read
/// with [`Decoder::frames`] instead, given up after `n` frames and started
/// again on its `rest()`.
pub(crate) fn run_slice(config: &DecoderConfig, chunks: &[&[u8]], frames: Option<usize>) -> Run {
    let mut decoder = Decoder::with_config(config.clone());
    let mut outputs = Vec::new();
    let budget = chunks.iter().map(|c| c.len()).sum::<usize>() + 2;
    let owned = |r: Result<Option<FrameRef<'_>>, DecodeError>| match r {
        Ok(None) => None,
        Ok(Some(frame)) => Some(Ok(frame.to_frame())),
        Err(e) => Some(Err(e)),
    };
    for chunk in chunks {
        let mut chunk = *chunk;
        match frames {
            None => {
                while let Some(out) = owned(decoder.decode_slice(&mut chunk)) {
                    outputs.push(out);
                    assert!(outputs.len() <= budget, "decode_slice is looping");
                }
            }
            Some(every) => 'chunk: loop {
                let mut frames = decoder.frames(chunk);
                for _ in 0..every {
                    let Some(out) = owned(frames.next()) else {
                        chunk = frames.rest();
                        break 'chunk;
                    };
                    outputs.push(out);
                    assert!(outputs.len() <= budget, "frames is looping");
                }
                chunk = frames.rest();
            },
        }
        assert!(
            chunk.is_empty(),
            "decode_slice or frames returned Ok(None) before using its input"
        );
    }
    while let Some(out) = owned(decoder.decode_slice_eof()) {
        outputs.push(out);
        assert!(outputs.len() <= budget, "decode_slice_eof is looping");
    }
    Run {
        outputs,
        last_event_id: decoder.last_event_id().clone(),
        incomplete_at_eof: decoder.incomplete_at_eof(),
        stopped: decoder.is_stopped(),
    }
}

/// Runs a fresh decoder over `chunks` with [`Decoder::decode_bytes`] (each
/// chunk a `Bytes`, as HTTP clients hand them out), then
/// [`Decoder::decode_bytes_eof`].
pub(crate) fn run_bytes(config: &DecoderConfig, chunks: &[&[u8]]) -> Run {
    let mut decoder = Decoder::with_config(config.clone());
    let mut outputs = Vec::new();
    let budget = chunks.iter().map(|c| c.len()).sum::<usize>() + 2;
    for chunk in chunks {
        let mut chunk = Bytes::copy_from_slice(chunk);
        loop {
            match decoder.decode_bytes(&mut chunk) {
                Ok(None) => break,
                Ok(Some(frame)) => outputs.push(Ok(frame)),
                Err(e) => outputs.push(Err(e)),
            }
            assert!(outputs.len() <= budget, "decode_bytes is looping");
        }
        assert!(
            chunk.is_empty(),
            "decode_bytes returned Ok(None) before using its input"
        );
    }
    loop {
        match decoder.decode_bytes_eof() {
            Ok(None) => break,
            Ok(Some(frame)) => outputs.push(Ok(frame)),
            Err(e) => outputs.push(Err(e)),
        }
        assert!(outputs.len() <= budget, "decode_bytes_eof is looping");
    }
    Run {
        outputs,
        last_event_id: decoder.last_event_id().clone(),
        incomplete_at_eof: decoder.incomplete_at_eof(),
        stopped: decoder.is_stopped(),
    }
}

/// One step of a `roundtrip` input.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    /// `Encoder::encode` of this event.
    Event(Event),
    /// `Encoder::comment` of this text.
    Comment(String),
    /// `Encoder::retry` of this many milliseconds.
    Retry(Duration),
}

/// Decimal digits of `bytes` (other bytes ignored), saturating at
/// `u64::MAX`, as milliseconds.
fn millis(bytes: &[u8]) -> Duration {
    let ms = bytes
        .iter()
        .filter(|b| b.is_ascii_digit())
        .fold(0u64, |acc, b| {
            acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
        });
    Duration::from_millis(ms)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Maps `roundtrip` input bytes to encoder operations.
///
/// Records are separated by `0xFE`. A record starting with `0xFD` is a
/// comment (the rest is its text); one starting with `0xFC` is a bare
/// `retry` (its decimal digits, in ms). Any other record is an event: fields
/// separated by `0xFF` in the order data, event type, id, retry; a missing
/// field is unset, a present one is set even when empty. Text is UTF-8 with
/// invalid sequences replaced by U+FFFD. (`0xFC..=0xFF` never occur in UTF-8,
/// so the separators are easy to write by hand and never clash with text.)
pub(crate) fn roundtrip_ops(data: &[u8]) -> Vec<Op> {
    data.split(|&b| b == 0xFE)
        .map(|record| match record.split_first() {
            Some((0xFD, text)) => Op::Comment(lossy(text)),
            Some((0xFC, digits)) => Op::Retry(millis(digits)),
            _ => {
                let mut fields = record.splitn(4, |&b| b == 0xFF);
                let mut event = Event::new(lossy(fields.next().unwrap_or_default()));
                if let Some(t) = fields.next() {
                    event = event.with_event_type(lossy(t));
                }
                if let Some(id) = fields.next() {
                    event = event.with_id(lossy(id));
                }
                if let Some(r) = fields.next() {
                    event = event.with_retry(millis(r));
                }
                Op::Event(event)
            }
        })
        .collect()
}

/// The errors `Encoder::encode` may return for `e`; empty when it must
/// succeed.
fn encode_errors(e: &Event) -> Vec<EncodeError> {
    let mut errors = Vec::new();
    if e.event_type_text()
        .is_some_and(|t| t.contains(['\r', '\n']))
    {
        errors.push(EncodeError::EventTypeHasNewline);
    }
    if let Some(id) = e.id() {
        if id.contains(['\r', '\n']) {
            errors.push(EncodeError::IdHasNewline);
        }
        if id.contains('\0') {
            errors.push(EncodeError::IdHasNul);
        }
    }
    errors
}

/// Lines of `text` split at CRLF, lone CR and LF (a trailing terminator
/// gives a trailing empty line).
fn lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['\r', '\n']) {
        out.push(&rest[..i]);
        let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[i + skip..];
    }
    out.push(rest);
    out
}

/// Target `roundtrip`: encode the operations of [`roundtrip_ops`] into one
/// buffer; events the encoder must refuse (CR/LF in type or id, NUL in id)
/// are refused with a matching [`EncodeError`] and write nothing; decoding the
/// buffer with a fresh decoder (comments on) gives exactly the expected
/// frames: `Retry` then `normalize(event)` (id carried over from the last
/// encoded id when unset), one comment frame per comment line, `Retry` for a
/// bare retry, and nothing left incomplete at EOF.
pub(crate) fn check_roundtrip(data: &[u8]) {
    let mut encoder = Encoder::new();
    let mut buf = BytesMut::new();
    let mut expected: Vec<Output> = Vec::new();
    let mut last_id = Text::new();
    for op in roundtrip_ops(data) {
        match op {
            Op::Event(e) => {
                let before = buf.len();
                let allowed = encode_errors(&e);
                match encoder.encode(&e, &mut buf) {
                    Ok(()) => {
                        assert!(
                            allowed.is_empty(),
                            "encoded {e:?}; expected one of {allowed:?}"
                        );
                        if let Some(r) = e.retry() {
                            expected.push(Ok(Frame::Retry(r)));
                        }
                        let mut n = oracle::normalize(&e);
                        match e.id_text() {
                            Some(id) => last_id = id.clone(),
                            None => n = n.with_id(last_id.clone()),
                        }
                        expected.push(Ok(Frame::Event(n)));
                    }
                    Err(err) => {
                        assert!(
                            allowed.contains(&err),
                            "refused {e:?} with {err:?}; allowed {allowed:?}"
                        );
                        assert_eq!(
                            buf.len(),
                            before,
                            "encode wrote bytes although it failed with {err:?}"
                        );
                    }
                }
            }
            Op::Comment(text) => {
                encoder.comment(&text, &mut buf);
                for line in lines(&text) {
                    expected.push(Ok(Frame::Comment(Text::from(line))));
                }
            }
            Op::Retry(d) => {
                encoder.retry(d, &mut buf);
                expected.push(Ok(Frame::Retry(d)));
            }
        }
    }
    let encoded: Bytes = buf.freeze();
    let config = DecoderConfig::default().comments(true);
    let got = run(&config, &[&encoded]);
    validate(&config, &got, counted_len(&encoded));
    let want = Run {
        outputs: expected,
        last_event_id: last_id,
        incomplete_at_eof: false,
        stopped: false,
    };
    assert_eq!(
        got,
        want,
        "decode(encode(ops)) differs; encoded: {:?}",
        String::from_utf8_lossy(&encoded)
    );
}

/// Target `differential`: the real decoder (default limits), through its
/// owned and its borrowing entry point, and the naive reference decoder of
/// `oracle.rs` agree on frames, last event id and `incomplete_at_eof`, with
/// comments on and off.
pub(crate) fn check_differential(data: &[u8]) {
    for comments in [true, false] {
        let config = DecoderConfig::default().comments(comments);
        let got = run(&config, &[data]);
        let want = oracle_run(data, comments);
        assert_eq!(
            got, want,
            "decoder differs from the reference decoder (comments {comments})"
        );
        for frames in [None, Some(usize::MAX)] {
            let borrowed = run_slice(&config, &[data], frames);
            assert_eq!(
                borrowed, want,
                "decode_slice or frames ({frames:?}) differs from the reference decoder (comments {comments})"
            );
        }
    }
}

/// The reference decoder's answer, shaped as a [`Run`].
fn oracle_run(data: &[u8], comments: bool) -> Run {
    let config = oracle::OracleConfig {
        comments,
        ..Default::default()
    };
    let out = oracle::decode_with(data, &config);
    Run {
        outputs: out.frames.into_iter().map(Ok).collect(),
        last_event_id: Text::from(out.last_event_id),
        incomplete_at_eof: out.incomplete,
        stopped: false,
    }
}
