//! Decoder throughput: resse against the peer crates and the physical limits,
//! one criterion group per workload, every parser on the same bytes.
//!
//! Ids are `decode/<workload>/<parser>/<chunking>` where chunking is `16KiB`
//! (fed in 16 KiB pieces) or `1chunk` (everything at once). `memchr2_scan`
//! and `memcpy` are the physical limits: finding every CR/LF, and copying the
//! bytes into a preallocated buffer.
//!
//! Before timing anything each parser's event count and total data length are
//! checked against the generator's (see `resse_benches::Workload`).

mod support;

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use resse_benches::{
    Chunking, Scale, Workload, memchr2_count, memcpy_chunks, resse_decode, resse_decode_bytes,
    resse_decode_slice, resse_frames, scan_copy,
};
use support::{Peer, PeerState};

fn decode(c: &mut Criterion) {
    let scale = Scale::from_args();
    for workload in Workload::all(scale) {
        let input = &workload.bytes[..];
        let expected = workload.expected;
        let mut group = c.benchmark_group(format!("decode/{}", workload.name));
        group.throughput(Throughput::Bytes(input.len() as u64));
        // Iterations take milliseconds to seconds: the fewest samples criterion
        // allows, each of a fixed number of iterations.
        group.sample_size(10);
        group.sampling_mode(SamplingMode::Flat);

        let mut buf = BytesMut::new();
        let mut dst = vec![0u8; input.len()];
        for chunking in Chunking::ALL {
            let chunk_len = chunking.chunk_len(input.len());
            let label = chunking.label();

            // Correctness first, outside the timed loop.
            let got = resse_decode(input, chunk_len, &mut buf).expect("resse: within limits");
            assert_eq!(got, expected, "resse on {} at {label}", workload.name);

            let got = resse_decode_bytes(&workload.bytes, chunk_len).expect("resse: within limits");
            assert_eq!(
                got, expected,
                "resse (Bytes) on {} at {label}",
                workload.name
            );

            let got = resse_decode_slice(input, chunk_len).expect("resse: within limits");
            assert_eq!(
                got, expected,
                "resse (borrowed) on {} at {label}",
                workload.name
            );
            let got = resse_frames(input, chunk_len).expect("resse: within limits");
            assert_eq!(
                got, expected,
                "resse (frames) on {} at {label}",
                workload.name
            );

            // `resse`: the zero-copy entry point (`decode_bytes` on `Bytes`
            // chunks); `resse-borrowed`: borrowed events (`decode_slice` on
            // `&[u8]` chunks); `resse-frames`: the same through
            // `Decoder::frames` (a line index per chunk); `resse-bytesmut`:
            // the tokio-util call shape
            // (`decode` on an appended `BytesMut`).
            group.bench_function(BenchmarkId::new("resse", label), |b| {
                b.iter(|| resse_decode_bytes(black_box(&workload.bytes), chunk_len))
            });
            group.bench_function(BenchmarkId::new("resse-borrowed", label), |b| {
                b.iter(|| resse_decode_slice(black_box(input), chunk_len))
            });
            group.bench_function(BenchmarkId::new("resse-frames", label), |b| {
                b.iter(|| resse_frames(black_box(input), chunk_len))
            });
            group.bench_function(BenchmarkId::new("resse-bytesmut", label), |b| {
                b.iter(|| resse_decode(black_box(input), chunk_len, &mut buf))
            });
            group.bench_function(BenchmarkId::new("memchr2_scan", label), |b| {
                b.iter(|| memchr2_count(black_box(input), chunk_len))
            });
            let mut grow = Vec::new();
            group.bench_function(BenchmarkId::new("scan+copy", label), |b| {
                b.iter(|| scan_copy(black_box(input), chunk_len, &mut grow))
            });
            group.bench_function(BenchmarkId::new("memcpy", label), |b| {
                b.iter(|| {
                    memcpy_chunks(black_box(input), chunk_len, &mut dst);
                    black_box(&mut dst);
                })
            });

            for peer in Peer::ALL {
                if let Err(reason) = peer.supports(chunking) {
                    eprintln!(
                        "decode/{}/{}/{label}: not run: {reason}",
                        workload.name,
                        peer.name()
                    );
                    continue;
                }
                let mut state = PeerState::default();
                let got = peer.decode(input, chunk_len, &mut state);
                assert_eq!(
                    got,
                    expected,
                    "{} on {} at {label}",
                    peer.name(),
                    workload.name
                );
                group.bench_function(BenchmarkId::new(peer.name(), label), |b| {
                    b.iter(|| peer.decode(black_box(input), chunk_len, &mut state))
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, decode);
criterion_main!(benches);
