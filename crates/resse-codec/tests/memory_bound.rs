//! The decoder's memory on hostile input shapes, measured by a global
//! allocator that tracks the bytes live on the thread that switched
//! measuring on (so the harness's other threads cannot disturb it): what the
//! decoder allocates (its buffers, its bookkeeping, the events it hands out
//! while they live) and, for `decode`, the caller's buffer it reads from.
//!
//! The documented bound ([`DecoderConfig`]): at most
//! `max(max_line_len, max_event_len)` + one chunk + [`SLACK`] on every shape.

// The measuring allocator needs `unsafe impl GlobalAlloc`; it only forwards to
// `System`. This is a test binary, not library code.
#![allow(unsafe_code)]

use bytes::Bytes;
use resse_codec::{BufferedDecoder, ChunkDecoder, DecodeError, Decoder, DecoderConfig, Frame};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Measuring;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
}

fn note(delta: i64) {
    let _ = ENABLED.try_with(|on| {
        if on.get() {
            let _ = LIVE.try_with(|live| {
                let now = live.get() + delta;
                live.set(now);
                let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
            });
        }
    });
}

fn size(n: usize) -> i64 {
    i64::try_from(n).expect("allocation size fits i64")
}

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds the `GlobalAlloc` contract; measuring touches only thread-local
// `Cell`s, which neither allocate nor unwind.
unsafe impl GlobalAlloc for Measuring {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(size(layout.size()));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(size(layout.size()));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(size(new_size) - size(layout.size()));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-size(layout.size()));
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Measuring = Measuring;

/// The most bytes live at once while `f` runs, counted from its start.
fn peak_of(f: impl FnOnce()) -> usize {
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    ENABLED.with(|on| on.set(true));
    f();
    ENABLED.with(|on| on.set(false));
    usize::try_from(PEAK.with(Cell::get)).expect("peak is not negative")
}

/// Bytes a read brings.
const CHUNK: usize = 16 * 1024;

/// What the decoder may hold beyond the limit and one chunk (documented in
/// `DecoderConfig`).
const SLACK: usize = resse_codec::MEMORY_SLACK;

/// A hostile input: `repeat` copies of `unit` after `head`, then `tail`,
/// produced one chunk at a time (the test never holds the whole input).
struct Shape {
    name: &'static str,
    head: Vec<u8>,
    unit: &'static [u8],
    repeat: usize,
    tail: &'static [u8],
}

impl Shape {
    fn chunks(&self) -> impl Iterator<Item = Vec<u8>> + '_ {
        let total = self.head.len() + self.unit.len() * self.repeat + self.tail.len();
        let mut at = 0;
        std::iter::from_fn(move || {
            if at >= total {
                return None;
            }
            let end = (at + CHUNK).min(total);
            let chunk = (at..end).map(|i| self.byte(i)).collect();
            at = end;
            Some(chunk)
        })
    }

    fn byte(&self, i: usize) -> u8 {
        if i < self.head.len() {
            return self.head[i];
        }
        let i = i - self.head.len();
        let body = self.unit.len() * self.repeat;
        if i < body {
            self.unit[i % self.unit.len()]
        } else {
            self.tail[i - body]
        }
    }
}

/// The shapes of the issue, for a limit of `limit` bytes.
fn shapes(limit: usize) -> Vec<Shape> {
    vec![
        // Tiny data lines and never a blank line (the issue: 2 GiB of them).
        Shape {
            name: "data: x lines, no blank line",
            head: Vec::new(),
            unit: b"data: x\n",
            repeat: 4 * limit / 8,
            tail: b"",
        },
        // One block of tiny data lines just under the limit, dispatched.
        Shape {
            name: "one block of tiny data lines",
            head: Vec::new(),
            unit: b"data:\n",
            repeat: (limit - 64) / 6,
            tail: b"\n",
        },
        // Invalid UTF-8: every byte becomes a 3-byte U+FFFD.
        Shape {
            name: "data: + invalid UTF-8",
            head: b"data: ".to_vec(),
            unit: b"\xFF",
            repeat: limit / 16 * 15,
            tail: b"\n\n",
        },
        // One long line (the shape already bounded before).
        Shape {
            name: "one long line",
            head: b"data: ".to_vec(),
            unit: b"a",
            repeat: limit - 64,
            tail: b"\n\n",
        },
        // Many lines of a long event type and id, then a long line.
        Shape {
            name: "event and id lines",
            head: Vec::new(),
            unit: b"event: 0123456789abcdefghijklmnopqrstuvwxyz\nid: 0123456789abcdefghijklmnopqrstuvwxyz\ndata: x\n",
            repeat: limit / 96 - 1,
            tail: b"\n",
        },
    ]
}

fn config(limit: usize) -> DecoderConfig {
    DecoderConfig::default()
        .max_line_len(limit)
        .max_event_len(limit)
}

/// Peak memory of a `ChunkDecoder` on `shape`, and what it decoded: with
/// each chunk pushed (the `decode_bytes` path), or read into its own buffer
/// (`read_buf`, as a driver reading a socket does; the chunk stands for
/// the socket and is dropped before the read is counted as filled).
fn chunk_decoder_peak(limit: usize, shape: &Shape, read: bool) -> (usize, usize) {
    let mut outs = 0;
    let peak = peak_of(|| {
        let mut decoder = ChunkDecoder::with_config(config(limit));
        for chunk in shape.chunks() {
            if read {
                let n = chunk.len();
                decoder.read_buf(CHUNK)[..n].copy_from_slice(&chunk);
                drop(chunk);
                decoder.filled(n);
            } else {
                decoder.push(Bytes::from(chunk));
            }
            while let Some(frame) = decoder.next_frame() {
                let _ = frame;
                outs += 1;
            }
        }
        decoder.end();
        while let Some(frame) = decoder.next_frame() {
            let _ = frame;
            outs += 1;
        }
    });
    (peak, outs)
}

/// Peak memory of `Decoder::decode_slice` (or `Decoder::frames`, whose
/// line index is on the stack) on `shape`, and what it decoded.
fn borrowed_peak(limit: usize, shape: &Shape, frames: bool) -> (usize, usize) {
    let mut outs = 0;
    let peak = peak_of(|| {
        let mut decoder = Decoder::with_config(config(limit));
        for chunk in shape.chunks() {
            let mut rest = &chunk[..];
            if frames {
                let mut frames = decoder.frames(rest);
                while !matches!(frames.next(), Ok(None)) {
                    outs += 1;
                }
                continue;
            }
            while !matches!(decoder.decode_slice(&mut rest), Ok(None)) {
                outs += 1;
            }
        }
        while !matches!(decoder.decode_slice_eof(), Ok(None)) {
            outs += 1;
        }
    });
    (peak, outs)
}

/// Peak memory of a `BufferedDecoder` (`Decoder::decode` on the `BytesMut`
/// it owns) on `shape`, and what it decoded.
fn buffered_peak(limit: usize, shape: &Shape) -> (usize, usize) {
    let mut outs = 0;
    let peak = peak_of(|| {
        let mut decoder = BufferedDecoder::new(Decoder::with_config(config(limit)));
        let mut take = |r: Result<Option<Frame>, DecodeError>| match r {
            Ok(Some(_)) | Err(_) => {
                outs += 1;
                true
            }
            Ok(None) => false,
        };
        for chunk in shape.chunks() {
            decoder.feed(&chunk);
            drop(chunk);
            while take(decoder.next_frame()) {}
        }
        while take(decoder.finish()) {}
    });
    (peak, outs)
}

fn check(limit: usize) {
    let bound = limit + CHUNK + SLACK;
    let mut report = Vec::new();
    let mut failed = Vec::new();
    for shape in shapes(limit) {
        let (bytes_peak, bytes_outs) = chunk_decoder_peak(limit, &shape, false);
        let (read_peak, read_outs) = chunk_decoder_peak(limit, &shape, true);
        let (mut_peak, mut_outs) = buffered_peak(limit, &shape);
        let (slice_peak, slice_outs) = borrowed_peak(limit, &shape, false);
        let (frames_peak, frames_outs) = borrowed_peak(limit, &shape, true);
        assert_eq!(bytes_outs, read_outs, "{}", shape.name);
        assert_eq!(bytes_outs, mut_outs, "{}", shape.name);
        assert_eq!(bytes_outs, slice_outs, "{}", shape.name);
        assert_eq!(bytes_outs, frames_outs, "{}", shape.name);
        report.push(format!(
            "{:<32} ChunkDecoder push {:>10}  read {:>10}  BufferedDecoder {:>10}  decode_slice {:>10}  frames {:>10}  bound {bound}",
            shape.name, bytes_peak, read_peak, mut_peak, slice_peak, frames_peak
        ));
        eprintln!("{}", report[report.len() - 1]);
        if [bytes_peak, read_peak, mut_peak, slice_peak, frames_peak]
            .iter()
            .any(|&peak| peak > bound)
        {
            failed.push(shape.name);
        }
    }
    assert!(
        failed.is_empty(),
        "over {bound}: {failed:?}\n{}",
        report.join("\n")
    );
    println!("{}", report.join("\n"));
}

#[test]
fn hostile_shapes_stay_within_limit_plus_a_chunk() {
    check(1024 * 1024);
}

/// The same at the default 16 MiB limits (about 2 minutes in a debug build:
/// `cargo test --release -p resse-codec --test memory_bound -- --ignored`).
#[test]
#[ignore = "slow in debug builds"]
fn hostile_shapes_at_default_limits() {
    check(resse_codec::DEFAULT_MAX_EVENT_LEN);
}
