//! Allocation counts: decodes every workload at 16 KiB chunks under a
//! counting global allocator, prints allocations per event for resse and the
//! peers, and checks resse's targets:
//!
//! * single-line events (`small`, `large`, `crlf`, `heartbeat`,
//!   `heartbeat-lines`): no
//!   allocation per event, i.e. at most [`SLACK`] allocations for the whole
//!   run whatever the event count (buffer growth, decoder setup);
//! * multi-line events (`multiline`): at most one per event (joining the data
//!   lines), plus [`SLACK`].
//!
//! Under `cargo test --benches` it checks resse alone at a tenth of the full
//! size (large enough that a cost per 16 KiB chunk shows up: the multi-line
//! workload spans about 280 chunks) and exits non-zero when a target is
//! missed. Under `cargo bench` it runs at full size, adds the peers for
//! comparison, and only reports (a miss is printed as `MISSED`), so that the
//! timing benches after it still run.

// The counting allocator needs `unsafe impl GlobalAlloc`; it only forwards to
// `System` and bumps counters.
#![allow(unsafe_code)]

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;
use resse_benches::{
    CHUNK_LEN, Counts, Scale, Workload, resse_decode, resse_decode_bytes, resse_decode_slice,
    resse_frames,
};
use support::{Peer, PeerState};

/// Allocations allowed per run independently of the event count.
const SLACK: usize = 64;

/// Counts calls to `alloc`, `alloc_zeroed` and `realloc`.
struct CountingAlloc;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; the counter has no effect on
// memory.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's (`layout` has non-zero size).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by this allocator (hence by `System`)
        // with `layout`, as our caller guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with `layout`, as our caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Runs `f` and returns its result with the number of allocations it made.
fn counted<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let out = f();
    (out, ALLOCATIONS.load(Ordering::Relaxed) - before)
}

fn per_event(allocs: usize, counts: Counts) -> f64 {
    allocs as f64 / counts.events.max(1) as f64
}

fn main() -> ExitCode {
    let benchmarking = Scale::benchmarking();
    let scale = if benchmarking {
        Scale::FULL
    } else {
        Scale::divided_by(10)
    };
    let mut passed = 0;
    let mut failed = Vec::new();
    println!("allocations while decoding at {CHUNK_LEN}-byte chunks ({scale:?})");
    println!(
        "{:<16} {:<19} {:>9} {:>11} {:>12}",
        "workload", "parser", "events", "allocs", "allocs/event"
    );
    for workload in Workload::all(scale) {
        let input = &workload.bytes[..];
        for parser in ["resse", "resse-bytesmut", "resse-borrowed", "resse-frames"] {
            let (got, allocs) = counted(|| match parser {
                "resse" => resse_decode_bytes(&workload.bytes, CHUNK_LEN),
                "resse-borrowed" => resse_decode_slice(input, CHUNK_LEN),
                "resse-frames" => resse_frames(input, CHUNK_LEN),
                _ => {
                    let mut buf = BytesMut::new();
                    resse_decode(input, CHUNK_LEN, &mut buf)
                }
            });
            let got = got.expect("resse: within limits");
            println!(
                "{:<16} {:<19} {:>9} {:>11} {:>12.4}",
                workload.name,
                parser,
                got.events,
                allocs,
                per_event(allocs, got)
            );
            let multi_line = workload.name == "multiline";
            let limit = if multi_line {
                got.events + SLACK
            } else {
                SLACK
            };
            if got != workload.expected {
                failed.push(format!(
                    "{}: {parser} decoded {got:?}, expected {:?}",
                    workload.name, workload.expected
                ));
            } else if allocs > limit {
                let target = if multi_line {
                    "<= 1 per event"
                } else {
                    "0 per event"
                };
                failed.push(format!(
                    "{}: {parser} made {allocs} allocations for {} events (target {target}, limit {limit})",
                    workload.name, got.events
                ));
            } else {
                passed += 1;
            }
        }

        // Debug builds of the peers take minutes at this size: bench mode only.
        let peers = if benchmarking { &Peer::ALL[..] } else { &[] };
        for &peer in peers {
            let (got, allocs) = counted(|| {
                let mut state = PeerState::default();
                peer.decode(input, CHUNK_LEN, &mut state)
            });
            assert_eq!(
                got,
                workload.expected,
                "{} on {}",
                peer.name(),
                workload.name
            );
            println!(
                "{:<16} {:<19} {:>9} {:>11} {:>12.4}",
                "",
                peer.name(),
                got.events,
                allocs,
                per_event(allocs, got)
            );
        }
    }
    let verdict = if benchmarking { "MISSED" } else { "FAILED" };
    for failure in &failed {
        eprintln!("{verdict} {failure}");
    }
    println!("alloc_count: {passed} passed, {} failed", failed.len());
    if failed.is_empty() || benchmarking {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
