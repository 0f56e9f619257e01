//! Heap allocations per decoded event in steady state, counted by a global
//! allocator that only counts on the thread that switched counting on (so the
//! test harness's other threads cannot disturb the numbers). Keep this file to
//! a single `#[test]`.

// The counting allocator needs `unsafe impl GlobalAlloc`; it only forwards to
// `System`. This is a test binary, not library code.
#![allow(unsafe_code)]

use bytes::BytesMut;
use resse_codec::{ChunkDecoder, Decoder, Frame, FrameRef};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    // `const` initialisers and no destructors: reading them never allocates.
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: during thread teardown the slots may be gone; then do not count.
    let _ = ENABLED.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds the `GlobalAlloc` contract; counting touches only thread-local
// `Cell`s, which neither allocate nor unwind.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Counts the allocations `f` makes on this thread.
fn count_allocations<T>(f: impl FnOnce() -> T) -> (T, u64) {
    COUNT.with(|c| c.set(0));
    ENABLED.with(|on| on.set(true));
    let out = f();
    ENABLED.with(|on| on.set(false));
    (out, COUNT.with(Cell::get))
}

const CHUNK: usize = 16 * 1024;
const EVENTS: usize = 10_000;
/// Events decoded before counting starts (buffer and decoder warmed up).
const WARM_UP: usize = 1_000;

/// What one steady-state measurement saw.
#[derive(Debug)]
struct Measured {
    events: usize,
    chunks: usize,
    allocations: u64,
}

/// Feeds `input` to `decode_chunk` in 16 KiB chunks (it decodes one chunk,
/// letting every frame go at once, and returns how many events it saw);
/// counts allocations from the first chunk that starts after `WARM_UP`
/// events to the end.
fn measure_with(input: &[u8], mut decode_chunk: impl FnMut(&[u8]) -> usize) -> Measured {
    let mut chunks = input.chunks(CHUNK);
    let mut warm = 0;
    while warm < WARM_UP {
        warm += decode_chunk(chunks.next().expect("input longer than the warm-up"));
    }
    let ((events, chunks), allocations) = count_allocations(|| {
        let (mut events, mut n) = (0, 0);
        for chunk in chunks {
            n += 1;
            events += decode_chunk(chunk);
        }
        (events, n)
    });
    assert_eq!(warm + events, EVENTS, "every event decoded");
    Measured {
        events,
        chunks,
        allocations,
    }
}

/// `Decoder::decode` on one reused `BytesMut` that each chunk is appended
/// to (as `FramedRead` does).
fn measure(input: &[u8]) -> Measured {
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::with_capacity(4 * CHUNK);
    measure_with(input, |chunk| {
        buf.extend_from_slice(chunk);
        let mut events = 0;
        while let Some(frame) = decoder.decode(&mut buf).expect("no limit hit") {
            events += usize::from(matches!(frame, Frame::Event(_)));
        }
        events
    })
}

/// The borrowing entry points (`decode_slice`, or `frames` when `frames`):
/// each chunk a plain slice, each event read and let go before the next.
fn measure_borrowed(input: &[u8], frames: bool) -> Measured {
    let mut decoder = Decoder::new();
    let count = |frame: FrameRef<'_>| {
        if let FrameRef::Event(e) = frame {
            assert!(!e.data().is_empty());
            1
        } else {
            0
        }
    };
    measure_with(input, |mut chunk| {
        let mut events = 0;
        if frames {
            let mut frames = decoder.frames(chunk);
            while let Some(frame) = frames.next().expect("no limit hit") {
                events += count(frame);
            }
        } else {
            while let Some(frame) = decoder.decode_slice(&mut chunk).expect("no limit hit") {
                events += count(frame);
            }
        }
        events
    })
}

/// A `ChunkDecoder` whose input is read into its own buffer (`read_buf`,
/// as the blocking adapters read a socket).
fn measure_read(input: &[u8]) -> Measured {
    let mut decoder = ChunkDecoder::default();
    measure_with(input, |chunk| {
        decoder.read_buf(CHUNK)[..chunk.len()].copy_from_slice(chunk);
        decoder.filled(chunk.len());
        let mut events = 0;
        while let Some(frame) = decoder.next_frame() {
            events += usize::from(matches!(frame.expect("no limit hit"), Frame::Event(_)));
        }
        events
    })
}

#[test]
fn steady_state_allocations_per_event() {
    // 1. Single-line data, the common case: zero-copy, so allocations can
    //    only come from growing the buffer when a chunk is appended. Bound:
    //    at most one per appended chunk (that is one per ~300 events here),
    //    i.e. far below one per event.
    let single: Vec<u8> = (0..EVENTS)
        .flat_map(|i| format!("data: {{\"seq\":{i},\"msg\":\"hello world\"}}\n\n").into_bytes())
        .collect();
    let m = measure(&single);
    println!("single-line: {m:?}");
    assert!(m.events > EVENTS / 2, "{m:?}");
    assert!(
        m.allocations <= m.chunks as u64,
        "single-line events: {} allocations for {} events in {} chunks",
        m.allocations,
        m.events,
        m.chunks
    );

    // 2. Multi-line data with `event:` and `id:` lines: joining the data lines
    //    may allocate once per event (the decoder may also reuse a join
    //    buffer, as it currently does); type and id are slices. Bound: one per
    //    event plus one buffer growth per appended chunk.
    let multi: Vec<u8> = (0..EVENTS)
        .flat_map(|i| {
            format!("event: update\nid: {i}\ndata: {{\"seq\":{i},\ndata: \"msg\":\"hello\"}}\n\n")
                .into_bytes()
        })
        .collect();
    let m = measure(&multi);
    println!("multi-line: {m:?}");
    assert!(
        m.allocations <= (m.events + m.chunks) as u64,
        "multi-line events: {} allocations for {} events in {} chunks",
        m.allocations,
        m.events,
        m.chunks
    );

    // 2b. Read into a `ChunkDecoder`'s own buffer: its memory is reclaimed
    //     once the events are dropped, so nothing is allocated.
    let m = measure_read(&single);
    println!("read in place, single-line: {m:?}");
    assert!(m.events > EVENTS / 2, "{m:?}");
    assert_eq!(m.allocations, 0, "read in place, single-line: {m:?}");

    // 3. The borrowing entry point: no allocation at all in steady state,
    //    single-line or multi-line (joins reuse the decoder's buffer, events
    //    that span chunks its carry).
    for (name, input) in [("single-line", &single), ("multi-line", &multi)] {
        for frames in [false, true] {
            let m = measure_borrowed(input, frames);
            println!("borrowed {name} (frames: {frames}): {m:?}");
            assert!(m.events > EVENTS / 2, "{m:?}");
            assert_eq!(
                m.allocations, 0,
                "borrowed {name} (frames: {frames}): {m:?}"
            );
        }
    }
}
