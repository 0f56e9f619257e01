//! Decoder throughput as *paired* ratios: every parser runs once per round,
//! on the same bytes fed in 16 KiB chunks, and each ratio is taken between
//! runs of the same round, then summarised by its median over the rounds.
//!
//! Why besides `decode` (criterion): criterion measures one benchmark after
//! the other, so two figures of one run can be minutes apart. On a shared
//! virtual machine the memory bandwidth drifts by 20–30% over minutes, and a
//! memory-bound workload (`large` streams 655 MB) can then show a ratio that
//! is reversed in every single round here. Pairing the runs cancels the
//! drift; rotating the order within each round cancels the position.
//!
//! ```text
//! cargo bench -p resse-benches --bench decode_paired                # all workloads, 15 rounds
//! cargo bench -p resse-benches --bench decode_paired -- large --rounds 31
//! cargo bench -p resse-benches --bench decode_paired --profile bench-lto   # thin LTO, 1 CGU
//! ```
//!
//! Under `cargo test --benches` it runs one round on small inputs and only
//! checks that every parser reports the generator's event count.

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use resse_benches::{
    CHUNK_LEN, Chunking, Counts, Scale, Workload, median, memchr2_count, memcpy_chunks,
    paired_times, resse_decode_bytes, resse_decode_slice, resse_frames, scan_copy,
};
use support::{Peer, PeerState};

/// Rounds when none are asked for: enough for a stable median in about two
/// minutes on a 2-core VM.
const DEFAULT_ROUNDS: usize = 15;

/// What a round runs.
#[derive(Clone, Copy, PartialEq)]
enum Runner {
    Resse,
    /// `decode_slice`: borrowed events.
    ResseBorrowed,
    /// `Decoder::frames`: borrowed events, with the chunk's line index.
    ResseFrames,
    Memchr2,
    Memcpy,
    ScanCopy,
    Peer(Peer),
}

impl Runner {
    /// resse first (the ratios are taken against it), then the limits and
    /// every peer that runs on 16 KiB chunks.
    fn all() -> Vec<Self> {
        let mut all = vec![
            Self::Resse,
            Self::ResseBorrowed,
            Self::ResseFrames,
            Self::Memchr2,
            Self::Memcpy,
            Self::ScanCopy,
        ];
        let chunked = Peer::ALL
            .into_iter()
            .filter(|peer| peer.supports(Chunking::Chunked).is_ok());
        all.extend(chunked.map(Self::Peer));
        all
    }

    fn name(self) -> &'static str {
        match self {
            Self::Resse => "resse",
            Self::ResseBorrowed => "resse-borrowed",
            Self::ResseFrames => "resse-frames",
            Self::Memchr2 => "memchr2_scan",
            Self::Memcpy => "memcpy",
            Self::ScanCopy => "scan+copy",
            Self::Peer(peer) => peer.name(),
        }
    }
}

/// Buffers reused across rounds.
struct State {
    shared: Bytes,
    dst: Vec<u8>,
    grow: Vec<u8>,
    peer: PeerState,
}

impl State {
    /// Runs `runner` once over the workload, checking what it reports.
    /// Kept out of line, so that what one run costs reads off a profile
    /// (callgrind's inclusive count of `State::run`).
    #[inline(never)]
    fn run(&mut self, runner: Runner, workload: &Workload) -> Duration {
        let input = &workload.bytes[..];
        let start = Instant::now();
        let counts: Option<Counts> = match runner {
            Runner::Resse => {
                Some(resse_decode_bytes(black_box(&self.shared), CHUNK_LEN).expect("within limits"))
            }
            Runner::ResseBorrowed => {
                Some(resse_decode_slice(black_box(input), CHUNK_LEN).expect("within limits"))
            }
            Runner::ResseFrames => {
                Some(resse_frames(black_box(input), CHUNK_LEN).expect("within limits"))
            }
            Runner::Memchr2 => {
                black_box(memchr2_count(black_box(input), CHUNK_LEN));
                None
            }
            Runner::Memcpy => {
                memcpy_chunks(black_box(input), CHUNK_LEN, &mut self.dst);
                black_box(&mut self.dst);
                None
            }
            Runner::ScanCopy => {
                black_box(scan_copy(black_box(input), CHUNK_LEN, &mut self.grow));
                None
            }
            Runner::Peer(peer) => Some(peer.decode(black_box(input), CHUNK_LEN, &mut self.peer)),
        };
        let elapsed = start.elapsed();
        if let Some(counts) = counts {
            assert_eq!(
                counts,
                workload.expected,
                "{} on {}",
                runner.name(),
                workload.name
            );
        }
        elapsed
    }
}

/// Command line: workload names to keep (all when none), `--rounds N`,
/// `--runner NAME` (repeatable: run only these, in this order, with their
/// GB/s and their paired ratios to the first instead of the report; also
/// for counting instructions under callgrind or `perf stat`, which machine
/// noise does not change).
struct Args {
    benchmarking: bool,
    rounds: usize,
    only: Vec<String>,
    runners: Vec<String>,
}

impl Args {
    fn parse() -> Self {
        let benchmarking = Scale::benchmarking();
        let mut rounds = if benchmarking { DEFAULT_ROUNDS } else { 1 };
        let mut only = Vec::new();
        let mut runners = Vec::new();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--rounds" => {
                    rounds = args
                        .next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n > 0)
                        .expect("--rounds takes a positive number");
                }
                "--runner" => runners.push(args.next().expect("--runner takes a name")),
                // Flags cargo and libtest pass to every bench target.
                flag if flag.starts_with("--") => {}
                name => only.push(name.to_owned()),
            }
        }
        Self {
            benchmarking,
            rounds,
            only,
            runners,
        }
    }
}

fn main() {
    let args = Args::parse();
    let scale = if args.benchmarking {
        Scale::FULL
    } else {
        Scale::TEST
    };
    let mut runners = Runner::all();
    if !args.runners.is_empty() {
        // In the order named: the first is what the others are compared to.
        runners = (args.runners.iter())
            .filter_map(|n| runners.iter().copied().find(|r| r.name() == n))
            .collect();
    }
    println!(
        "decode_paired ({}): {} rounds, 16 KiB chunks; GB/s = 10^9 bytes/s (median); \
         ratio = resse's throughput over the other's, per round (median [min, max])",
        profile(),
        args.rounds
    );
    for workload in Workload::all(scale) {
        if !args.only.is_empty() && !args.only.iter().any(|o| o == workload.name) {
            continue;
        }
        let mut state = State {
            shared: workload.bytes.clone(),
            dst: vec![0; workload.bytes.len()],
            grow: Vec::new(),
            peer: PeerState::default(),
        };
        // One untimed run each first (page faults, allocator warm-up, and
        // the event-count checks before anything is timed).
        let times = paired_times(runners.len(), args.rounds, |i| {
            state.run(runners[i], &workload)
        });
        if args.benchmarking && args.runners.is_empty() {
            report(&workload, &runners, &times);
        } else if args.benchmarking {
            report_selected(&workload, &runners, &times);
        } else {
            // Tiny inputs in a debug build: the times mean nothing.
            println!("{}: every parser agrees with the generator", workload.name);
        }
    }
}

/// With `--runner`: each named runner's median GB/s and its paired ratio
/// to the first one named (for A/B runs of two binaries or two runners).
fn report_selected(workload: &Workload, runners: &[Runner], times: &[Vec<f64>]) {
    let bytes = workload.bytes.len() as f64;
    for (runner, t) in runners.iter().zip(times) {
        let mut ratios: Vec<f64> = t.iter().zip(&times[0]).map(|(o, f)| o / f).collect();
        println!(
            "{} {}: {:.3} GB/s; {} / it {:.3}",
            workload.name,
            runner.name(),
            bytes / median(&mut t.clone()) / 1e9,
            runners[0].name(),
            median(&mut ratios)
        );
    }
}

/// The cargo profile this binary was built with, from its path
/// (`target/<profile>/deps/...`): `release` is cargo's name for the default
/// bench profile's output.
fn profile() -> String {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().and_then(|deps| deps.parent());
    match dir.and_then(|d| d.file_name()).and_then(|n| n.to_str()) {
        Some("release") => "profile bench".to_owned(),
        Some(name) => format!("profile {name}"),
        None => "profile unknown".to_owned(),
    }
}

/// Prints one workload's table: every runner's throughput and, per round,
/// each resse entry point's throughput over it (medians [min, max]), then
/// the ratios the issue's targets are about.
fn report(workload: &Workload, runners: &[Runner], times: &[Vec<f64>]) {
    let bytes = workload.bytes.len() as f64;
    let index = |r: Runner| runners.iter().position(|&x| x == r).expect("runner");
    let bases: Vec<(&str, &[f64])> = [Runner::Resse, Runner::ResseBorrowed, Runner::ResseFrames]
        .into_iter()
        .map(|r| (r.name(), &times[index(r)][..]))
        .collect();
    let resse = bases[0].1;
    // Median [min, max] over rounds of `base`'s throughput over `other`'s.
    let ratio = |other: &[f64], base: &[f64]| {
        let mut r: Vec<f64> = other.iter().zip(base).map(|(o, b)| o / b).collect();
        let m = median(&mut r);
        (m, r[0], r[r.len() - 1])
    };
    println!("\n## {} ({:.1} MB)", workload.name, bytes / 1e6);
    let heads: Vec<String> = bases
        .iter()
        .map(|(n, _)| format!(" {n} / parser |"))
        .collect();
    println!("| parser | GB/s |{}", heads.concat());
    println!("|---|---|{}", "---|".repeat(bases.len()));
    for (runner, t) in runners.iter().zip(times) {
        let gbs = bytes / median(&mut t.clone()) / 1e9;
        let cells: Vec<String> = bases
            .iter()
            .map(|(_, base)| {
                let (m, lo, hi) = ratio(t, base);
                format!(" {m:.2}× [{lo:.2}, {hi:.2}] |")
            })
            .collect();
        println!("| {} | {gbs:.2} |{}", runner.name(), cells.concat());
    }
    let peers = runners
        .iter()
        .zip(times)
        .filter(|(r, _)| matches!(r, Runner::Peer(_)));
    // The fastest peer: the one resse leads least.
    let Some((peer, peer_times)) =
        peers.min_by(|a, b| ratio(a.1, resse).0.total_cmp(&ratio(b.1, resse).0))
    else {
        return;
    };
    for (name, base) in bases {
        println!(
            "{} ({name}): {:.2}× the fastest peer ({}); {:.2} of the memchr2 scan; {:.2} of scan+copy",
            workload.name,
            ratio(peer_times, base).0,
            peer.name(),
            ratio(&times[index(Runner::Memchr2)], base).0,
            ratio(&times[index(Runner::ScanCopy)], base).0,
        );
    }
}
