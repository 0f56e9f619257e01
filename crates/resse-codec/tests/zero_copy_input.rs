//! `Decoder::decode_bytes` (chunks read as `Bytes`, zero-copy),
//! `Decoder::decode_slice` and `Decoder::frames` (borrowed frames) must give
//! exactly what
//! `Decoder::decode` gives on the whole input: frames, errors, last event ID,
//! incomplete flag and stopped state, for any chunking, any limits and both
//! overflow modes.

mod support;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use resse_codec::{DecodeError, Decoder, DecoderConfig, Frame, FrameRef, Overflow};

type Outcome = (Vec<Result<Frame, DecodeError>>, String, bool, bool);

/// Pulls frames from `next` until it reports `Ok(None)`; more than `budget`
/// outputs in all means the decoder is looping.
fn drain(
    out: &mut Vec<Result<Frame, DecodeError>>,
    budget: usize,
    mut next: impl FnMut() -> Result<Option<Frame>, DecodeError>,
) {
    loop {
        match next() {
            Ok(None) => break,
            r => out.push(r.map(|f| f.expect("Some"))),
        }
        assert!(out.len() <= budget, "looping");
    }
}

fn whole(config: &DecoderConfig, input: &[u8]) -> Outcome {
    let mut d = Decoder::with_config(config.clone());
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    let budget = input.len() + 2;
    drain(&mut out, budget, || d.decode(&mut buf));
    drain(&mut out, budget, || d.decode_eof(&mut buf));
    (
        out,
        d.last_event_id().to_string(),
        d.incomplete_at_eof(),
        d.is_stopped(),
    )
}

fn zero_copy(config: &DecoderConfig, input: &[u8], cuts: &[usize]) -> Outcome {
    let mut d = Decoder::with_config(config.clone());
    let input = Bytes::copy_from_slice(input);
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c % (input.len() + 1)).collect();
    bounds.push(0);
    bounds.push(input.len());
    bounds.sort_unstable();
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let mut chunk = input.slice(w[0]..w[1]);
        drain(&mut out, input.len() + 2, || d.decode_bytes(&mut chunk));
        assert!(chunk.is_empty(), "Ok(None) before the chunk was used up");
    }
    drain(&mut out, input.len() + 2, || d.decode_bytes_eof());
    (
        out,
        d.last_event_id().to_string(),
        d.incomplete_at_eof(),
        d.is_stopped(),
    )
}

/// The chunk boundaries `cuts` make in `len` bytes, in order.
fn bounds(len: usize, cuts: &[usize]) -> Vec<usize> {
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c % (len + 1)).collect();
    bounds.push(0);
    bounds.push(len);
    bounds.sort_unstable();
    bounds
}

/// `decode_slice` (or, with `frames`, `Decoder::frames`) over the chunks,
/// each borrowed frame turned into an owned one while it is valid (and the
/// borrowed event's accessors checked against it).
fn borrowed(config: &DecoderConfig, input: &[u8], cuts: &[usize], frames: bool) -> Outcome {
    let mut d = Decoder::with_config(config.clone());
    let mut out = Vec::new();
    let budget = input.len() + 2;
    let owned = |r: Result<Option<FrameRef<'_>>, DecodeError>| {
        r.map(|f| {
            f.map(|f| {
                let frame = f.to_frame();
                if let (FrameRef::Event(e), Frame::Event(o)) = (f, &frame) {
                    assert_eq!(e.event_type(), o.event_type());
                    assert_eq!(e.event_type_str(), o.event_type_text().map(|t| t.as_str()));
                    assert_eq!((e.data(), e.last_event_id()), (o.data(), o.last_event_id()));
                }
                frame
            })
        })
    };
    for w in bounds(input.len(), cuts).windows(2) {
        let mut chunk = &input[w[0]..w[1]];
        if frames {
            let mut frames = d.frames(chunk);
            drain(&mut out, budget, || owned(frames.next()));
            chunk = frames.rest();
        } else {
            drain(&mut out, budget, || owned(d.decode_slice(&mut chunk)));
        }
        assert!(chunk.is_empty(), "Ok(None) before the chunk was used up");
    }
    drain(&mut out, budget, || owned(d.decode_slice_eof()));
    (
        out,
        d.last_event_id().to_string(),
        d.incomplete_at_eof(),
        d.is_stopped(),
    )
}

/// Inputs biased towards event stream syntax, including the shapes the
/// decoder's fast paths handle.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(&b"data:"[..]),
        Just(&b"data: "[..]),
        Just(&b"data"[..]),
        Just(&b"event: "[..]),
        Just(&b"id: "[..]),
        Just(&b"retry: "[..]),
        Just(&b": ping\n\n"[..]),
        Just(&b":"[..]),
        Just(&b" "[..]),
        Just(&b"\n"[..]),
        Just(&b"\r"[..]),
        Just(&b"\r\n"[..]),
        Just(&b"\n\n"[..]),
        Just(&b"\xEF\xBB\xBF"[..]),
        Just(&b"\xE2\x82"[..]),
        Just(&b"\0"[..]),
        Just(&b"12"[..]),
        Just(&b"hello world, a longer value to cross a word"[..]),
    ];
    prop::collection::vec(piece, 0..48).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn decode_bytes_equals_decode(
        input in input(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        comments in any::<bool>(),
    ) {
        let config = DecoderConfig::default().comments(comments);
        let whole = whole(&config, &input);
        prop_assert_eq!(&zero_copy(&config, &input, &cuts), &whole);
        prop_assert_eq!(&borrowed(&config, &input, &cuts, false), &whole);
        prop_assert_eq!(&borrowed(&config, &input, &cuts, true), &whole);
    }

    #[test]
    fn decode_bytes_equals_decode_with_small_limits(
        input in input(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        max_line in 1usize..48,
        max_event in 1usize..96,
        stop in any::<bool>(),
    ) {
        let config = DecoderConfig::default()
            .max_line_len(max_line)
            .max_event_len(max_event)
            .on_overflow(if stop { Overflow::Stop } else { Overflow::Skip });
        let whole = whole(&config, &input);
        prop_assert_eq!(&zero_copy(&config, &input, &cuts), &whole);
        prop_assert_eq!(&borrowed(&config, &input, &cuts, false), &whole);
        prop_assert_eq!(&borrowed(&config, &input, &cuts, true), &whole);
    }
}

#[test]
fn events_inside_a_chunk_share_its_memory() {
    let chunk = Bytes::from_static(b"id: 1\ndata: hello\n\ndata: world\n\n");
    let range = chunk.as_ptr() as usize..chunk.as_ptr() as usize + chunk.len();
    let mut input = chunk.clone();
    let mut d = Decoder::new();
    let Some(Frame::Event(e)) = d.decode_bytes(&mut input).expect("valid") else {
        panic!("expected an event")
    };
    assert_eq!((e.data(), e.last_event_id()), ("hello", "1"));
    let Some(Frame::Event(e)) = d.decode_bytes(&mut input).expect("valid") else {
        panic!("expected an event")
    };
    assert_eq!(e.data(), "world");
    // The single-line event's data is a slice of the chunk: no copy.
    assert!(range.contains(&(e.data().as_ptr() as usize)));
    assert_eq!(d.decode_bytes(&mut input).expect("valid"), None);
}

#[test]
fn whole_blocks_with_type_and_id_copy_only_what_they_must() {
    // A single data line with a type and an id, long or short, is still a
    // slice of the chunk; a multi-line block is joined.
    let long = "x".repeat(300);
    let text = format!(
        "event: big\nid: 7\ndata: {long}\n\n: note\nevent: update\nid: 8\ndata: a\ndata: b\n\n\
         event: tick\nid: 9\ndata: small\n\n"
    );
    let chunk = Bytes::from(text);
    let range = chunk.as_ptr() as usize..chunk.as_ptr() as usize + chunk.len();
    let mut input = chunk.clone();
    let mut d = Decoder::new();
    let Some(Frame::Event(e)) = d.decode_bytes(&mut input).expect("valid") else {
        panic!("expected an event")
    };
    assert_eq!(
        (e.event_type(), e.data(), e.last_event_id()),
        ("big", long.as_str(), "7")
    );
    assert!(range.contains(&(e.data().as_ptr() as usize)));
    let Some(Frame::Event(e)) = d.decode_bytes(&mut input).expect("valid") else {
        panic!("expected an event")
    };
    assert_eq!(
        (e.event_type(), e.data(), e.last_event_id()),
        ("update", "a\nb", "8")
    );
    assert!(!range.contains(&(e.data().as_ptr() as usize)));
    let Some(Frame::Event(e)) = d.decode_bytes(&mut input).expect("valid") else {
        panic!("expected an event")
    };
    assert_eq!(
        (e.event_type(), e.data(), e.last_event_id()),
        ("tick", "small", "9")
    );
    assert!(range.contains(&(e.data().as_ptr() as usize)));
    // Short types and ids are copied (inline), not shared: the event does
    // not hold the chunk through them.
    assert!(!range.contains(&(e.event_type().as_ptr() as usize)));
    assert!(!range.contains(&(e.last_event_id().as_ptr() as usize)));
    assert_eq!(d.decode_bytes(&mut input).expect("valid"), None);
    assert_eq!(d.last_event_id(), "9");
}

#[test]
fn non_ascii_in_a_block_that_spans_chunks_is_checked_at_every_split() {
    // `decode_bytes` checks the pieces it keeps between chunks for ASCII as
    // it keeps them; a non-ASCII byte in any piece, before or after any
    // split, must still get the full UTF-8 treatment.
    let long = "x".repeat(40);
    for (input, want) in [
        (
            format!("data: {long}é{long}\n\nid: ü\ndata: {long}\n\n").into_bytes(),
            [format!("{long}é{long}"), long.clone()],
        ),
        (
            [
                format!("data: {long}").as_bytes(),
                b"\xFF",
                format!("{long}\n\nid: ü\ndata: {long}\n\n").as_bytes(),
            ]
            .concat(),
            [format!("{long}\u{FFFD}{long}"), long.clone()],
        ),
    ] {
        for cut in 0..=input.len() {
            for second in [cut, (cut + 7).min(input.len())] {
                let cuts = [cut, second];
                let got = zero_copy(&DecoderConfig::default(), &input, &cuts);
                for frames in [false, true] {
                    assert_eq!(
                        borrowed(&DecoderConfig::default(), &input, &cuts, frames),
                        got,
                        "cuts {cuts:?}"
                    );
                }
                assert_eq!(
                    got,
                    whole(&DecoderConfig::default(), &input),
                    "cuts {cuts:?}"
                );
                let data: Vec<String> = got
                    .0
                    .iter()
                    .filter_map(|f| match f {
                        Ok(Frame::Event(e)) => Some(e.data().to_owned()),
                        _ => None,
                    })
                    .collect();
                assert_eq!(data, want, "cuts {cuts:?}");
            }
        }
    }
}

#[test]
fn borrowed_events_inside_a_chunk_point_into_it() {
    let chunk: &[u8] = b"id: 1\ndata: hello\n\nevent: t\ndata: a\ndata: b\n\ndata: world\n\n";
    let range = chunk.as_ptr() as usize..chunk.as_ptr() as usize + chunk.len();
    let mut input = chunk;
    let mut d = Decoder::new();
    let Some(FrameRef::Event(e)) = d.decode_slice(&mut input).expect("valid") else {
        panic!("expected an event")
    };
    assert_eq!((e.data(), e.last_event_id()), ("hello", "1"));
    assert!(range.contains(&(e.data().as_ptr() as usize)));
    let Some(FrameRef::Event(e)) = d.decode_slice(&mut input).expect("valid") else {
        panic!("expected an event")
    };
    // Joined lines live in the decoder; the type is still the chunk's.
    assert_eq!((e.event_type(), e.data()), ("t", "a\nb"));
    assert!(!range.contains(&(e.data().as_ptr() as usize)));
    assert!(range.contains(&(e.event_type().as_ptr() as usize)));
    let Some(FrameRef::Event(e)) = d.decode_slice(&mut input).expect("valid") else {
        panic!("expected an event")
    };
    assert_eq!(e.data(), "world");
    assert!(range.contains(&(e.data().as_ptr() as usize)));
    assert_eq!(d.decode_slice(&mut input).expect("valid"), None);
    assert!(input.is_empty());
}

/// `Decoder::frames` reads a chunk with a line index built 4 KiB at a time:
/// lines of every length around the index's 64-byte words and 4 KiB
/// windows (and past a window), with CR, LF and CRLF, and non-ASCII bytes
/// at the edges, decode exactly as `decode` decodes them, in chunks of
/// every size around a window; single-line events point into the chunk.
/// Lines of every length around 64 bytes and the line index's 4 KiB
/// windows and beyond, CR/LF/CRLF, non-ASCII at their edges, with a block
/// of short lines now and then; and how many events they make.
fn long_lines() -> (Vec<u8>, usize) {
    let mut input = Vec::new();
    let mut lens: Vec<usize> = (0..140).collect();
    lens.extend([4000, 4030, 4089, 4090, 4091, 4095, 4096, 4097, 5000, 9000]);
    lens.extend((0..40).map(|i| 4096 - 6 - i));
    for (n, &len) in lens.iter().enumerate() {
        let mut value = vec![b'a' + (n % 26) as u8; len];
        if len > 2 && n % 3 == 0 {
            value[len - 2..].copy_from_slice("é".as_bytes());
        }
        if len > 1 && n % 5 == 0 {
            value[0] = 0xFF;
        }
        let eol: &[u8] = [&b"\n"[..], b"\r\n", b"\r"][n % 3];
        input.extend_from_slice(b"data: ");
        input.extend_from_slice(&value);
        input.extend_from_slice(eol);
        input.extend_from_slice(eol);
        if n % 7 == 0 {
            input.extend_from_slice(b"id: 5\nevent: t\ndata: x\ndata: y\n\n");
        }
    }
    let events = lens.len() + lens.len().div_ceil(7);
    (input, events)
}

#[test]
fn frames_agree_across_line_index_windows() {
    let (input, events) = long_lines();
    let config = DecoderConfig::default();
    let want = whole(&config, &input);
    assert_eq!(want.0.iter().filter(|f| f.is_ok()).count(), events);
    for chunk_len in [input.len(), 65536, 16384, 4097, 4096, 4095, 1000, 63] {
        let cuts: Vec<usize> = (chunk_len..input.len()).step_by(chunk_len).collect();
        assert_eq!(
            borrowed(&config, &input, &cuts, true),
            want,
            "chunks of {chunk_len}"
        );
    }
    // Events wholly inside the chunk are slices of it.
    let range = input.as_ptr() as usize..input.as_ptr() as usize + input.len();
    let mut d = Decoder::new();
    let mut frames = d.frames(&input);
    let mut inside = 0;
    while let Some(frame) = frames.next().expect("valid") {
        if let FrameRef::Event(e) = frame {
            if e.data().len() > 8 && !e.data().contains('\u{FFFD}') && !e.data().contains('\n') {
                assert!(range.contains(&(e.data().as_ptr() as usize)));
                inside += 1;
            }
        }
    }
    assert!(inside > 100, "{inside}");
}

/// A `ChunkDecoder` read into in place (`read_buf`: a long line's start
/// in the carry, the read going on at its end; else a fresh chunk), or fed
/// by reads and pushes in turn, gives what `decode` gives, whatever the
/// read size (each chunking checked by `support::run`, which runs every
/// entry point).
#[test]
fn chunk_decoder_reads_in_place_agree_on_long_lines() {
    let (input, events) = long_lines();
    let config = DecoderConfig::default();
    let want = support::run(&config, [&input[..]]);
    assert_eq!(want.frames().len(), events);
    for read_len in [16384, 8192, 4097, 4096, 4095, 1000, 63] {
        let run = support::run(&config, input.chunks(read_len));
        assert_eq!(run.outs, want.outs, "reads of {read_len}");
    }
}

/// `ChunkFrames` given up early hands back what it did not read, which
/// `decode_slice` or a new `frames` then reads; the result is as if it had
/// been read to the end.
#[test]
fn frames_given_up_early_hand_back_the_rest() {
    let input: &[u8] = b"data: one\n\nid: 2\ndata: two\n\ndata: thr";
    let mut d = Decoder::new();
    let mut frames = d.frames(input);
    let Some(FrameRef::Event(e)) = frames.next().expect("valid") else {
        panic!("expected an event")
    };
    assert_eq!(e.data(), "one");
    let mut rest = frames.rest();
    assert_eq!(rest, b"id: 2\ndata: two\n\ndata: thr");
    let Some(FrameRef::Event(e)) = d.decode_slice(&mut rest).expect("valid") else {
        panic!("expected an event")
    };
    assert_eq!((e.data(), e.last_event_id()), ("two", "2"));
    let mut frames = d.frames(rest);
    assert_eq!(frames.next().expect("valid"), None);
    assert!(frames.rest().is_empty());
    let mut frames = d.frames(b"ee\n\n");
    let Some(FrameRef::Event(e)) = frames.next().expect("valid") else {
        panic!("expected an event")
    };
    assert_eq!((e.data(), e.last_event_id()), ("three", "2"));
    assert_eq!(frames.next().expect("valid"), None);
}
