//! Shared helpers for the resse-codec integration tests: drive the real
//! decoder over an input cut into given chunks, and enumerate chunkings.

#![allow(dead_code)] // each test binary uses a different subset

pub(crate) mod oracle;

use bytes::{Bytes, BytesMut};
use resse_codec::{ChunkDecoder, DecodeError, Decoder, DecoderConfig, Frame};

/// Guard against a decoder that never stops producing output.
const MAX_OUTPUTS_PER_CALL_SITE: usize = 1_000_000;

/// One item the decoder produced: a frame or a (limit) error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Out {
    /// `Ok(Some(frame))`.
    Frame(Frame),
    /// `Err(DecodeError::LineTooLong { limit })`.
    LineTooLong(usize),
    /// `Err(DecodeError::EventTooLong { limit })`.
    EventTooLong(usize),
}

impl Out {
    fn from_error(e: &DecodeError) -> Self {
        match e {
            DecodeError::LineTooLong { limit } => Self::LineTooLong(*limit),
            DecodeError::EventTooLong { limit } => Self::EventTooLong(*limit),
            other => panic!("unknown DecodeError variant: {other:?}"),
        }
    }
}

/// What a decoder run yields, comparable with [`oracle::Outcome`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    /// Frames and errors in order.
    pub(crate) outs: Vec<Out>,
    /// `Decoder::last_event_id()` after `decode_eof` returned `Ok(None)`.
    pub(crate) last_event_id: String,
    /// `Decoder::incomplete_at_eof()` at that point.
    pub(crate) incomplete: bool,
    /// `Decoder::is_stopped()` at that point.
    pub(crate) stopped: bool,
    /// The largest `buf.len()` seen after any decode call.
    pub(crate) max_buffered: usize,
}

impl Run {
    /// The frames, panicking if the run produced an error.
    pub(crate) fn frames(&self) -> Vec<Frame> {
        self.outs
            .iter()
            .map(|o| match o {
                Out::Frame(f) => f.clone(),
                other => panic!("unexpected decode error {other:?} in {:?}", self.outs),
            })
            .collect()
    }

    /// `(frames, last_event_id, incomplete)`, panicking on errors.
    pub(crate) fn triple(&self) -> (Vec<Frame>, String, bool) {
        (self.frames(), self.last_event_id.clone(), self.incomplete)
    }
}

/// Decodes every frame `decode` has for `buf` right now, appending to `outs`.
pub(crate) fn drain(dec: &mut Decoder, buf: &mut BytesMut, outs: &mut Vec<Out>) {
    for _ in 0..MAX_OUTPUTS_PER_CALL_SITE {
        match dec.decode(buf) {
            Ok(Some(f)) => outs.push(Out::Frame(f)),
            Ok(None) => return,
            Err(e) => outs.push(Out::from_error(&e)),
        }
    }
    panic!("decode never returned Ok(None)");
}

/// Calls `decode_eof` until `Ok(None)`, appending to `outs`.
pub(crate) fn drain_eof(dec: &mut Decoder, buf: &mut BytesMut, outs: &mut Vec<Out>) {
    for _ in 0..MAX_OUTPUTS_PER_CALL_SITE {
        match dec.decode_eof(buf) {
            Ok(Some(f)) => outs.push(Out::Frame(f)),
            Ok(None) => return,
            Err(e) => outs.push(Out::from_error(&e)),
        }
    }
    panic!("decode_eof never returned Ok(None)");
}

/// Feeds `chunks` in order to `dec` through one `BytesMut` that is only ever
/// appended to (as `FramedRead` does), draining after each chunk, then runs
/// `decode_eof` until `Ok(None)`.
pub(crate) fn run_decoder<'a>(
    dec: &mut Decoder,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Run {
    let mut buf = BytesMut::new();
    let mut outs = Vec::new();
    let mut max_buffered = 0;
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        drain(dec, &mut buf, &mut outs);
        max_buffered = max_buffered.max(buf.len());
    }
    drain_eof(dec, &mut buf, &mut outs);
    Run {
        outs,
        last_event_id: dec.last_event_id().as_str().to_owned(),
        incomplete: dec.incomplete_at_eof(),
        stopped: dec.is_stopped(),
        max_buffered,
    }
}

/// [`run_decoder`] with a fresh decoder built from `config`; checks on the
/// way that the borrowing entry points (`decode_slice`, and `frames` read
/// whole or restarted every few frames) and [`ChunkDecoder`] (chunks
/// pushed, read in place, or both in turn) give the same frames, errors and
/// state on the same chunks, so that every conformance case covers them
/// too.
pub(crate) fn run<'a>(config: &DecoderConfig, chunks: impl IntoIterator<Item = &'a [u8]>) -> Run {
    let chunks: Vec<&[u8]> = chunks.into_iter().collect();
    let run = run_decoder(
        &mut Decoder::with_config(config.clone()),
        chunks.iter().copied(),
    );
    for how in [
        Borrowing::Slice,
        Borrowing::Frames(usize::MAX),
        Borrowing::Frames(2),
    ] {
        let borrowed = run_borrowed(&mut Decoder::with_config(config.clone()), &chunks, how);
        assert_eq!(
            (
                &borrowed.outs,
                &borrowed.last_event_id,
                borrowed.incomplete,
                borrowed.stopped
            ),
            (&run.outs, &run.last_event_id, run.incomplete, run.stopped),
            "{how:?} differs from decode on {chunks:?}"
        );
    }
    for how in [Feeding::Push, Feeding::Read, Feeding::Alternate] {
        let fed = run_chunk_decoder(config, &chunks, how);
        assert_eq!(
            (&fed.outs, &fed.last_event_id, fed.incomplete),
            (&run.outs, &run.last_event_id, run.incomplete),
            "ChunkDecoder ({how:?}) differs from decode on {chunks:?}"
        );
    }
    run
}

/// How [`run_chunk_decoder`] gives a [`ChunkDecoder`] each chunk.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Feeding {
    /// `push`.
    Push,
    /// Copied into `read_buf` (asked for a few bytes more than the chunk),
    /// then `filled`; before every third chunk a `read_buf` that is never
    /// filled (a read that failed).
    Read,
    /// `Read` and `Push` in turn.
    Alternate,
}

/// Feeds `chunks` to a [`ChunkDecoder`] built from `config`, pulling every
/// frame after each chunk, then ends the input and drains it.
pub(crate) fn run_chunk_decoder(config: &DecoderConfig, chunks: &[&[u8]], how: Feeding) -> Run {
    let mut dec = ChunkDecoder::with_config(config.clone());
    let mut outs = Vec::new();
    let mut pull = |dec: &mut ChunkDecoder| {
        let mut budget = MAX_OUTPUTS_PER_CALL_SITE;
        while let Some(r) = dec.next_frame() {
            outs.push(match r {
                Ok(f) => Out::Frame(f),
                Err(e) => Out::from_error(&e),
            });
            budget -= 1;
            assert!(budget > 0, "next_frame never returned None");
        }
    };
    for (i, chunk) in chunks.iter().enumerate() {
        let read = match how {
            Feeding::Push => false,
            Feeding::Read => true,
            Feeding::Alternate => i % 2 == 0,
        };
        if read {
            if i % 3 == 0 {
                dec.read_buf(5).fill(b'x');
            }
            dec.read_buf(chunk.len() + 3)[..chunk.len()].copy_from_slice(chunk);
            dec.filled(chunk.len());
        } else {
            dec.push(Bytes::copy_from_slice(chunk));
        }
        pull(&mut dec);
    }
    dec.end();
    pull(&mut dec);
    assert!(dec.is_done(), "not done after the end was drained");
    Run {
        outs,
        last_event_id: dec.decoder().last_event_id().as_str().to_owned(),
        incomplete: dec.incomplete_at_eof(),
        stopped: dec.decoder().is_stopped(),
        max_buffered: 0,
    }
}

/// How [`run_borrowed`] reads each chunk.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Borrowing {
    /// `Decoder::decode_slice` until `Ok(None)`.
    Slice,
    /// `Decoder::frames`, given up after this many frames and started
    /// again on its `rest()` (a new line index, on a tail of the chunk).
    Frames(usize),
}

/// Feeds `chunks` to `dec` through a borrowing entry point, each frame
/// copied to an owned one while it is borrowed, then `decode_slice_eof`
/// until `Ok(None)`.
pub(crate) fn run_borrowed(dec: &mut Decoder, chunks: &[&[u8]], how: Borrowing) -> Run {
    let mut outs = Vec::new();
    let mut push = |r: Result<Option<resse_codec::FrameRef<'_>>, DecodeError>| match r {
        Ok(Some(f)) => {
            outs.push(Out::Frame(f.to_frame()));
            true
        }
        Ok(None) => false,
        Err(e) => {
            outs.push(Out::from_error(&e));
            true
        }
    };
    for chunk in chunks {
        let mut rest = *chunk;
        let mut budget = MAX_OUTPUTS_PER_CALL_SITE;
        match how {
            Borrowing::Slice => {
                while push(dec.decode_slice(&mut rest)) {
                    budget -= 1;
                    assert!(budget > 0, "decode_slice never returned Ok(None)");
                }
            }
            Borrowing::Frames(every) => 'chunk: loop {
                let mut frames = dec.frames(rest);
                for _ in 0..every {
                    if !push(frames.next()) {
                        rest = frames.rest();
                        break 'chunk;
                    }
                    budget -= 1;
                    assert!(budget > 0, "frames never returned Ok(None)");
                }
                rest = frames.rest();
            },
        }
        assert!(rest.is_empty(), "Ok(None) before the chunk was used up");
    }
    let mut budget = MAX_OUTPUTS_PER_CALL_SITE;
    while push(dec.decode_slice_eof()) {
        budget -= 1;
        assert!(budget > 0, "decode_slice_eof never returned Ok(None)");
    }
    Run {
        outs,
        last_event_id: dec.last_event_id().as_str().to_owned(),
        incomplete: dec.incomplete_at_eof(),
        stopped: dec.is_stopped(),
        max_buffered: 0,
    }
}

/// Decodes `input` cut at the given (sorted, in-range) offsets.
pub(crate) fn run_split(config: &DecoderConfig, input: &[u8], cuts: &[usize]) -> Run {
    run(config, split_at(input, cuts))
}

/// `(frames, last_event_id, incomplete)` for `input` cut into `chunks`
/// (default config, comments as given); panics on decode errors.
pub(crate) fn decode_chunks(comments: bool, chunks: &[&[u8]]) -> (Vec<Frame>, String, bool) {
    run(
        &DecoderConfig::default().comments(comments),
        chunks.iter().copied(),
    )
    .triple()
}

/// Cuts `input` at `cuts` (sorted offsets, each `<= input.len()`; repeats give
/// empty chunks, which the decoder must tolerate).
pub(crate) fn split_at<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &c in cuts {
        assert!(c >= start && c <= input.len(), "bad cut {c} in {cuts:?}");
        out.push(&input[start..c]);
        start = c;
    }
    out.push(&input[start..]);
    out
}

/// The chunkings every table case is run under: whole, byte by byte, every
/// two-way split, and (for inputs up to `three_way_max` bytes) every three-way
/// split. Each item is a list of cut offsets plus a label for messages.
pub(crate) fn chunkings(len: usize, three_way_max: usize) -> Vec<(String, Vec<usize>)> {
    let mut out = vec![
        ("whole".to_owned(), Vec::new()),
        ("byte-by-byte".to_owned(), (1..len).collect()),
    ];
    for i in 0..=len {
        out.push((format!("split at {i}"), vec![i]));
    }
    if len <= three_way_max {
        for i in 0..=len {
            for j in i..=len {
                out.push((format!("split at {i},{j}"), vec![i, j]));
            }
        }
    }
    out
}

/// A tiny deterministic PRNG (xorshift64*) for reproducible random chunkings
/// without a dependency.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is remapped).
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Sorted random cut offsets for an input of `len` bytes.
    pub(crate) fn cuts(&mut self, len: usize) -> Vec<usize> {
        if len == 0 {
            return Vec::new();
        }
        let n = (self.next_u64() % 8) as usize;
        let mut cuts: Vec<usize> = (0..n)
            .map(|_| (self.next_u64() % (len as u64 + 1)) as usize)
            .collect();
        cuts.sort_unstable();
        cuts
    }
}

/// Renders frames for readable assertion messages.
pub(crate) fn show(input: &[u8]) -> String {
    input.escape_ascii().to_string()
}
