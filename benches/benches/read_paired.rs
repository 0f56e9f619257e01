//! What a driver that reads its input itself (a socket) gains by reading
//! into the decoder's memory: a `ChunkDecoder` fed 16 KiB reads
//! (each a copy out of the input, standing for the socket's) either pushed
//! as fresh chunks (`read-push`, what the blocking adapters did) or read in
//! place with `ChunkDecoder::read_buf` (`read-in-place`, what they do now),
//! with `scan+copy` (one `memchr2` scan and one copy of every byte) as the
//! physical limit of both. Paired as in `decode_paired`: every runner once
//! per round, in an order that rotates, ratios taken within a round.
//!
//! ```text
//! cargo bench -p resse-benches --bench read_paired [-- large --rounds 31]
//! cargo bench -p resse-benches --bench read_paired --profile bench-lto
//! ```
//!
//! A binary of its own, and its driver kept out of the bench library: a
//! second caller of `Decoder::decode_bytes` beside the `resse` runner made
//! the compiler inline that runner's loop differently (on `small`, 5.4%
//! more instructions in `decode_paired`, 1.4% with the caller only in the
//! library), which would blur the figures measured there.
//! Under `cargo test --benches` it runs one round on small inputs and only
//! checks that every runner reports the generator's event count.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use resse_benches::{CHUNK_LEN, Counts, Scale, Workload, median, paired_times, scan_copy};
use resse_codec::{ChunkDecoder, DecodeError, Frame};

/// Rounds when none are asked for.
const DEFAULT_ROUNDS: usize = 15;

/// The runners, the one the ratios are taken against first.
const RUNNERS: [&str; 3] = ["read-in-place", "read-push", "scan+copy"];

/// What a driver that reads its input itself (a socket; here `input`,
/// copied `chunk_len` bytes per read) does with a
/// [`ChunkDecoder`]: each read goes into a fresh
/// buffer that is pushed as a chunk (`IN_PLACE` false, as the blocking
/// adapters did, with `buf` as their read buffer), or with `read_buf`
/// (`IN_PLACE` true, as they do now: at the end of the carry when it holds
/// the start of a long line, else into a fresh chunk). Both pay the read's
/// copy; pushing pays one more for each event that spans reads (into the
/// decoder's carry). Events are dropped as soon as their data length is
/// recorded. Out of line, so that the two share no inlining decisions with
/// the timing loop.
///
/// # Errors
///
/// Any [`DecodeError`] (none is expected on the benchmark workloads).
#[inline(never)]
fn resse_read<const IN_PLACE: bool>(
    input: &[u8],
    chunk_len: usize,
    buf: &mut BytesMut,
) -> Result<Counts, DecodeError> {
    let mut decoder = ChunkDecoder::default();
    let mut counts = Counts::default();
    let mut drain = |decoder: &mut ChunkDecoder| -> Result<(), DecodeError> {
        while let Some(frame) = decoder.next_frame() {
            if let Frame::Event(event) = frame? {
                counts.add(event.data().len());
            }
        }
        Ok(())
    };
    let chunk_len = chunk_len.max(1);
    for read in input.chunks(chunk_len) {
        if IN_PLACE {
            decoder.read_buf(chunk_len)[..read.len()].copy_from_slice(read);
            decoder.filled(read.len());
        } else {
            buf.resize(chunk_len, 0);
            buf[..read.len()].copy_from_slice(read);
            buf.truncate(read.len());
            decoder.push(buf.split().freeze());
        }
        drain(&mut decoder)?;
    }
    decoder.end();
    drain(&mut decoder)?;
    Ok(counts)
}

/// Runs runner `i` of [`RUNNERS`] once over the workload, checking the
/// events it reports.
fn run(i: usize, workload: &Workload, buf: &mut BytesMut, grow: &mut Vec<u8>) -> Duration {
    let input = black_box(&workload.bytes[..]);
    let start = Instant::now();
    let counts = match i {
        0 => Some(resse_read::<true>(input, CHUNK_LEN, buf).expect("within limits")),
        1 => Some(resse_read::<false>(input, CHUNK_LEN, buf).expect("within limits")),
        _ => {
            black_box(scan_copy(input, CHUNK_LEN, grow));
            None
        }
    };
    let elapsed = start.elapsed();
    if let Some(counts) = counts {
        assert_eq!(
            counts, workload.expected,
            "{} on {}",
            RUNNERS[i], workload.name
        );
    }
    elapsed
}

fn main() {
    let benchmarking = Scale::benchmarking();
    let mut rounds = if benchmarking { DEFAULT_ROUNDS } else { 1 };
    let mut only = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => {
                rounds = (args.next().and_then(|n| n.parse().ok()))
                    .filter(|&n| n > 0)
                    .expect("--rounds takes a positive number");
            }
            // Flags cargo and libtest pass to every bench target.
            flag if flag.starts_with("--") => {}
            name => only.push(name.to_owned()),
        }
    }
    let scale = if benchmarking {
        Scale::FULL
    } else {
        Scale::TEST
    };
    println!(
        "read_paired: {rounds} rounds, 16 KiB reads; GB/s = 10^9 bytes/s (median); \
         ratio = read-in-place's throughput over the other's, per round (median [min, max])"
    );
    for workload in Workload::all(scale) {
        if !only.is_empty() && !only.iter().any(|o| o == workload.name) {
            continue;
        }
        let (mut buf, mut grow) = (BytesMut::new(), Vec::new());
        let times = paired_times(RUNNERS.len(), rounds, |i| {
            run(i, &workload, &mut buf, &mut grow)
        });
        if !benchmarking {
            // Tiny inputs in a debug build: the times mean nothing.
            println!("{}: every runner agrees with the generator", workload.name);
            continue;
        }
        let bytes = workload.bytes.len() as f64;
        for (name, t) in RUNNERS.iter().zip(&times) {
            let mut ratios: Vec<f64> = t.iter().zip(&times[0]).map(|(o, f)| o / f).collect();
            // `median` sorts: the ends are then the range.
            let ratio = median(&mut ratios);
            println!(
                "{} {name}: {:.3} GB/s; read-in-place / it {ratio:.3} [{:.3}, {:.3}]",
                workload.name,
                bytes / median(&mut t.clone()) / 1e9,
                ratios[0],
                ratios[ratios.len() - 1],
            );
        }
    }
}
