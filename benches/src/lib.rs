//! Shared pieces of the resse benchmarks: deterministic workloads, the resse
//! decode driver and the physical-limit baselines (memchr2 scan, memcpy).
//!
//! Every parser in `benches/decode.rs` is fed exactly the bytes generated
//! here, so their throughputs are comparable. The generator also knows how
//! many events each workload holds and the total length of their data, which
//! is what every driver reports back as [`Counts`] and what the benches check.
//!
//! Sizes: [`Scale::FULL`] is what the issue asks for (for example one million
//! small events); [`Scale::TEST`] divides counts by 1000 so
//! `cargo test --benches` stays quick. [`Scale::from_args`] picks one the way
//! criterion picks its own mode.

use bytes::{Bytes, BytesMut};
use resse_codec::{DecodeError, Decoder, Event, Frame, FrameRef, Text};

/// Chunk size for the "network-like" runs: every workload is also fed to
/// every parser in pieces of this many bytes.
pub const CHUNK_LEN: usize = 16 * 1024;

/// Length of the single `data:` value of each `large` event.
pub const LARGE_DATA_LEN: usize = 64 * 1024;

/// Length of each of the five `data:` values of a `multiline` event.
pub const MULTILINE_DATA_LEN: usize = 80;

/// Number of `data:` lines per `multiline` event.
pub const MULTILINE_LINES: usize = 5;

/// Number of keep-alive comments between two events of `heartbeat`.
pub const HEARTBEAT_COMMENTS_PER_EVENT: usize = 100;

/// One keep-alive as servers send it: a comment line, then the blank line
/// that ends the (empty) block, so it never merges into a following event.
pub const HEARTBEAT_COMMENT: &[u8] = b": ping\n\n";

/// A keep-alive as some servers send it: a comment line alone, with no blank
/// line after it, so a run of them (and the event after them) is one block.
pub const HEARTBEAT_LINE: &[u8] = b": ping\n";

/// How big the generated workloads are: every event or comment count of the
/// full-size workloads divided by a divisor (1 for full size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    divisor: usize,
}

impl Scale {
    /// The sizes the benchmark is about (hundreds of MB in total).
    pub const FULL: Self = Self { divisor: 1 };

    /// Counts divided by 1000, for a quick `cargo test --benches`.
    pub const TEST: Self = Self { divisor: 1000 };

    /// Counts divided by `divisor` (treated as 1 when 0).
    pub const fn divided_by(divisor: usize) -> Self {
        Self {
            divisor: if divisor == 0 { 1 } else { divisor },
        }
    }

    /// Whether this is [`Scale::FULL`].
    pub const fn is_full(self) -> bool {
        self.divisor == 1
    }

    /// Whether the process runs as a benchmark: `cargo bench` passes
    /// `--bench`, `cargo test --benches` does not, and criterion treats
    /// `--bench --test` as a test run. This is how criterion picks its mode.
    pub fn benchmarking() -> bool {
        Self::benchmarking_args(std::env::args())
    }

    /// [`Scale::benchmarking`] on an explicit argument list.
    pub fn benchmarking_args<I, S>(args: I) -> bool
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let (mut bench, mut test) = (false, false);
        for arg in args {
            match arg.as_ref() {
                "--bench" => bench = true,
                "--test" => test = true,
                _ => {}
            }
        }
        bench && !test
    }

    /// [`Scale::FULL`] when [`Scale::benchmarking`], [`Scale::TEST`] otherwise.
    pub fn from_args() -> Self {
        if Self::benchmarking() {
            Self::FULL
        } else {
            Self::TEST
        }
    }

    /// `full` divided by this scale's divisor, at least 1.
    pub fn count(self, full: usize) -> usize {
        (full / self.divisor).max(1)
    }
}

/// What a decode run found: the number of dispatched events and the sum of
/// their data lengths (data lines joined with `\n`, as the spec builds it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Dispatched message events.
    pub events: usize,
    /// Sum of the byte lengths of the events' data.
    pub data_len: usize,
}

impl Counts {
    /// Records one event whose data is `data_len` bytes long.
    ///
    /// The length goes through [`std::hint::black_box`] so the compiler cannot
    /// drop the work that produced the event.
    #[inline]
    pub fn add(&mut self, data_len: usize) {
        self.events += 1;
        self.data_len += std::hint::black_box(data_len);
    }
}

/// One generated input.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Short name used in benchmark ids (`small`, `large`, ...).
    pub name: &'static str,
    /// The event-stream bytes.
    pub bytes: Bytes,
    /// What a correct decoder reports for `bytes`.
    pub expected: Counts,
}

impl Workload {
    /// The six decode workloads, in the order the benches run them.
    pub fn all(scale: Scale) -> Vec<Self> {
        vec![
            Self::small(scale),
            Self::large(scale),
            Self::multiline(scale),
            Self::crlf(scale),
            Self::heartbeat(scale),
            Self::heartbeat_lines(scale),
        ]
    }

    /// One million `data: {"seq":N,"v":"abcdefgh"}` events with LF endings
    /// (about 37 bytes each).
    pub fn small(scale: Scale) -> Self {
        small_stream("small", scale.count(1_000_000), b"\n")
    }

    /// [`Workload::small`] with CRLF line endings.
    pub fn crlf(scale: Scale) -> Self {
        small_stream("crlf", scale.count(1_000_000), b"\r\n")
    }

    /// Ten thousand events, each one `data:` line with a 64 KiB value.
    pub fn large(scale: Scale) -> Self {
        let events = scale.count(10_000);
        let mut out = Vec::with_capacity(events * (LARGE_DATA_LEN + 8));
        let mut expected = Counts::default();
        let mut rng = XorShift::new(0x5EED_0001);
        let template: Vec<u8> = (0..LARGE_DATA_LEN).map(|_| rng.ascii()).collect();
        for seq in 0..events {
            out.extend_from_slice(b"data: ");
            let start = out.len();
            out.extend_from_slice(&template);
            // Make every event distinct: stamp the sequence number in front.
            let stamp = format!("{seq:010}");
            out[start..start + stamp.len()].copy_from_slice(stamp.as_bytes());
            out.extend_from_slice(b"\n\n");
            expected.add(LARGE_DATA_LEN);
        }
        Self {
            name: "large",
            bytes: Bytes::from(out),
            expected,
        }
    }

    /// One hundred thousand events of `event: update`, `id: N`, five `data:`
    /// lines with 80-byte values, and the blank line.
    pub fn multiline(scale: Scale) -> Self {
        let events = scale.count(100_000);
        let mut out = Vec::with_capacity(events * 480);
        let mut expected = Counts::default();
        let mut rng = XorShift::new(0x5EED_0002);
        for seq in 0..events {
            out.extend_from_slice(b"event: update\n");
            out.extend_from_slice(format!("id: {seq}\n").as_bytes());
            for _ in 0..MULTILINE_LINES {
                out.extend_from_slice(b"data: ");
                out.extend((0..MULTILINE_DATA_LEN).map(|_| rng.ascii()));
                out.push(b'\n');
            }
            out.push(b'\n');
            expected.add(MULTILINE_LINES * MULTILINE_DATA_LEN + MULTILINE_LINES - 1);
        }
        Self {
            name: "multiline",
            bytes: Bytes::from(out),
            expected,
        }
    }

    /// One million keep-alive comments ([`HEARTBEAT_COMMENT`]) with one small
    /// event after every [`HEARTBEAT_COMMENTS_PER_EVENT`].
    pub fn heartbeat(scale: Scale) -> Self {
        Self::keep_alives("heartbeat", HEARTBEAT_COMMENT, scale)
    }

    /// [`Workload::heartbeat`] with keep-alives as bare comment lines
    /// ([`HEARTBEAT_LINE`], no blank line between them): one million of
    /// them, and one small event after every
    /// [`HEARTBEAT_COMMENTS_PER_EVENT`].
    pub fn heartbeat_lines(scale: Scale) -> Self {
        Self::keep_alives("heartbeat-lines", HEARTBEAT_LINE, scale)
    }

    /// One million copies of `comment` with one small event after every
    /// [`HEARTBEAT_COMMENTS_PER_EVENT`].
    fn keep_alives(name: &'static str, comment: &[u8], scale: Scale) -> Self {
        let comments = scale.count(1_000_000);
        let mut out = Vec::with_capacity(comments * (comment.len() + 1));
        let mut expected = Counts::default();
        let mut seq = 0;
        for i in 1..=comments {
            out.extend_from_slice(comment);
            if i % HEARTBEAT_COMMENTS_PER_EVENT == 0 {
                let data = small_data(seq);
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(data.as_bytes());
                out.extend_from_slice(b"\n\n");
                expected.add(data.len());
                seq += 1;
            }
        }
        Self {
            name,
            bytes: Bytes::from(out),
            expected,
        }
    }

    /// The events [`Workload::small`] carries, ready for an encoder: the
    /// same data, no event type, no id.
    pub fn small_events(scale: Scale) -> Vec<Event> {
        (0..scale.count(1_000_000))
            .map(|seq| Event::new(small_data(seq)))
            .collect()
    }

    /// The events [`Workload::large`] carries, for an encoder. Their data are
    /// zero-copy slices of `large.bytes`.
    ///
    /// Returns `None` if `large` is not a [`Workload::large`] stream.
    pub fn large_events(large: &Self) -> Option<Vec<Event>> {
        const EVENT_LEN: usize = 6 + LARGE_DATA_LEN + 2;
        if !large.bytes.len().is_multiple_of(EVENT_LEN) {
            return None;
        }
        (0..large.bytes.len() / EVENT_LEN)
            .map(|i| {
                let start = i * EVENT_LEN + 6;
                let data = large.bytes.slice(start..start + LARGE_DATA_LEN);
                Text::from_utf8(data).ok().map(Event::new)
            })
            .collect()
    }
}

/// The data of small event number `seq`.
fn small_data(seq: usize) -> String {
    format!("{{\"seq\":{seq},\"v\":\"abcdefgh\"}}")
}

fn small_stream(name: &'static str, events: usize, eol: &[u8]) -> Workload {
    let mut out = Vec::with_capacity(events * (32 + 2 * eol.len()));
    let mut expected = Counts::default();
    for seq in 0..events {
        let data = small_data(seq);
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(data.as_bytes());
        out.extend_from_slice(eol);
        out.extend_from_slice(eol);
        expected.add(data.len());
    }
    Workload {
        name,
        bytes: Bytes::from(out),
        expected,
    }
}

/// Tiny deterministic generator for filler text (xorshift64).
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A printable ASCII byte other than `:`; never CR or LF.
    fn ascii(&mut self) -> u8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        const ALPHABET: &[u8] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 _-{}\"";
        ALPHABET[(self.0 % ALPHABET.len() as u64) as usize]
    }
}

/// How a workload is fed to a parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunking {
    /// [`CHUNK_LEN`]-byte pieces, the way bytes arrive from a socket.
    Chunked,
    /// Everything at once.
    Whole,
}

impl Chunking {
    /// Both, chunked first.
    pub const ALL: [Self; 2] = [Self::Chunked, Self::Whole];

    /// Label used in benchmark ids.
    pub fn label(self) -> &'static str {
        match self {
            Self::Chunked => "16KiB",
            Self::Whole => "1chunk",
        }
    }

    /// Chunk length to use for an input of `input_len` bytes (never 0).
    pub fn chunk_len(self, input_len: usize) -> usize {
        match self {
            Self::Chunked => CHUNK_LEN,
            Self::Whole => input_len.max(1),
        }
    }
}

/// Decodes `input` with a fresh [`resse_codec::Decoder`], appending
/// `chunk_len`-byte pieces to `buf` with `extend_from_slice` and draining
/// `decode` after each, then `decode_eof`. Events are dropped as soon as their
/// data length is recorded.
///
/// `buf` is the caller's reusable read buffer (like `FramedRead`'s); it is
/// cleared first, and its allocation is reused once earlier events are gone.
///
/// # Errors
///
/// Any [`DecodeError`] (the benchmark workloads stay within the default
/// limits, so none is expected).
pub fn resse_decode(
    input: &[u8],
    chunk_len: usize,
    buf: &mut BytesMut,
) -> Result<Counts, DecodeError> {
    let mut decoder = Decoder::new();
    let mut counts = Counts::default();
    buf.clear();
    for chunk in input.chunks(chunk_len.max(1)) {
        buf.extend_from_slice(chunk);
        while let Some(frame) = decoder.decode(buf)? {
            if let Frame::Event(event) = frame {
                counts.add(event.data().len());
            }
        }
    }
    while let Some(frame) = decoder.decode_eof(buf)? {
        if let Frame::Event(event) = frame {
            counts.add(event.data().len());
        }
    }
    Ok(counts)
}

/// Decodes `input` with a fresh [`resse_codec::Decoder`] through its
/// zero-copy entry point, [`Decoder::decode_bytes`]: each `chunk_len`-byte
/// chunk is a `Bytes` slice of `input` (as an HTTP client hands out body
/// chunks), nothing is copied for events that lie within a chunk. Events are
/// dropped as soon as their data length is recorded.
///
/// # Errors
///
/// Any [`DecodeError`] (none is expected on the benchmark workloads).
pub fn resse_decode_bytes(input: &Bytes, chunk_len: usize) -> Result<Counts, DecodeError> {
    let mut decoder = Decoder::new();
    let mut counts = Counts::default();
    let chunk_len = chunk_len.max(1);
    let mut start = 0;
    while start < input.len() {
        let end = (start + chunk_len).min(input.len());
        let mut chunk = input.slice(start..end);
        while let Some(frame) = decoder.decode_bytes(&mut chunk)? {
            if let Frame::Event(event) = frame {
                counts.add(event.data().len());
            }
        }
        start = end;
    }
    while let Some(frame) = decoder.decode_bytes_eof()? {
        if let Frame::Event(event) = frame {
            counts.add(event.data().len());
        }
    }
    Ok(counts)
}

/// Decodes `input` with a fresh [`resse_codec::Decoder`] through its
/// borrowing entry point, [`Decoder::decode_slice`]: each `chunk_len`-byte
/// chunk is a plain `&[u8]`, events borrow from it (or from the decoder when
/// they span chunks or join lines) and are used before the next call, as a
/// consumer that parses each event at once does. No reference count is
/// touched.
///
/// # Errors
///
/// Any [`DecodeError`] (none is expected on the benchmark workloads).
pub fn resse_decode_slice(input: &[u8], chunk_len: usize) -> Result<Counts, DecodeError> {
    let mut decoder = Decoder::new();
    let mut counts = Counts::default();
    for chunk in input.chunks(chunk_len.max(1)) {
        let mut rest = chunk;
        while let Some(frame) = decoder.decode_slice(&mut rest)? {
            if let FrameRef::Event(event) = frame {
                counts.add(event.data().len());
            }
        }
    }
    while let Some(frame) = decoder.decode_slice_eof()? {
        if let FrameRef::Event(event) = frame {
            counts.add(event.data().len());
        }
    }
    Ok(counts)
}

/// [`resse_decode_slice`] through [`Decoder::frames`]: each chunk's frames
/// read with the chunk's line index.
///
/// # Errors
///
/// Any [`DecodeError`] (none is expected on the benchmark workloads).
pub fn resse_frames(input: &[u8], chunk_len: usize) -> Result<Counts, DecodeError> {
    let mut decoder = Decoder::new();
    let mut counts = Counts::default();
    for chunk in input.chunks(chunk_len.max(1)) {
        let mut frames = decoder.frames(chunk);
        while let Some(frame) = frames.next()? {
            if let FrameRef::Event(event) = frame {
                counts.add(event.data().len());
            }
        }
    }
    while let Some(frame) = decoder.decode_slice_eof()? {
        if let FrameRef::Event(event) = frame {
            counts.add(event.data().len());
        }
    }
    Ok(counts)
}

/// Runs `runners` runners (`run(i)` runs runner `i` once and returns how
/// long it took) once each untimed (page faults, warm-up, checks), then
/// `rounds` paired rounds, each runner once per round in an order that
/// rotates from round to round; returns each runner's times in seconds,
/// round by round, so that ratios can be taken within a round.
pub fn paired_times(
    runners: usize,
    rounds: usize,
    mut run: impl FnMut(usize) -> std::time::Duration,
) -> Vec<Vec<f64>> {
    for i in 0..runners {
        run(i);
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); runners];
    for round in 0..rounds {
        for k in 0..runners {
            let i = (round + k) % runners;
            times[i].push(run(i).as_secs_f64());
        }
    }
    times
}

/// The median of `values` (sorted in place); 0 when empty.
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Physical limit (a): visits every CR and LF of `input` with
/// `memchr::memchr2_iter`, chunk by chunk, and returns how many there are.
pub fn memchr2_count(input: &[u8], chunk_len: usize) -> usize {
    input
        .chunks(chunk_len.max(1))
        .map(|chunk| memchr::memchr2_iter(b'\n', b'\r', chunk).count())
        .sum()
}

/// Physical limit (c), what a decoder of events that span chunks cannot
/// beat: one `memchr2` scan of every chunk for line ends, plus one copy of
/// every byte into a contiguous buffer that grows until a chunk holds a line
/// end, then starts over (keeping its memory, as a decoder reuses its own).
/// Returns the number of line ends.
pub fn scan_copy(input: &[u8], chunk_len: usize, buf: &mut Vec<u8>) -> usize {
    buf.clear();
    let mut lines = 0;
    for chunk in input.chunks(chunk_len.max(1)) {
        let found = memchr::memchr2_iter(b'\n', b'\r', chunk).count();
        buf.extend_from_slice(chunk);
        if found > 0 {
            lines += found;
            std::hint::black_box(&mut *buf);
            buf.clear();
        }
    }
    lines
}

/// Physical limit (b): copies `input` into the preallocated `dst` (at least
/// as long), chunk by chunk at matching offsets.
///
/// # Panics
///
/// If `dst` is shorter than `input` (a bug in the bench setup).
pub fn memcpy_chunks(input: &[u8], chunk_len: usize, dst: &mut [u8]) {
    assert!(dst.len() >= input.len(), "memcpy destination too short");
    let step = chunk_len.max(1);
    for (src, out) in input.chunks(step).zip(dst.chunks_mut(step)) {
        out[..src.len()].copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts events and data the slow, obvious way (LF or CRLF line ends,
    /// `data:` fields only; enough for the generated workloads).
    fn naive_counts(bytes: &[u8]) -> Counts {
        let text = std::str::from_utf8(bytes).expect("workloads are ASCII");
        let mut counts = Counts::default();
        let mut data: Option<String> = None;
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                if let Some(d) = data.take() {
                    counts.add(d.len());
                }
            } else if let Some(v) = line.strip_prefix("data:") {
                let v = v.strip_prefix(' ').unwrap_or(v);
                match &mut data {
                    Some(d) => {
                        d.push('\n');
                        d.push_str(v);
                    }
                    None => data = Some(v.to_owned()),
                }
            }
        }
        counts
    }

    #[test]
    fn generators_report_what_they_generate() {
        for w in Workload::all(Scale::TEST) {
            assert_eq!(naive_counts(&w.bytes), w.expected, "{}", w.name);
            assert!(w.expected.events > 0, "{}", w.name);
        }
    }

    #[test]
    fn generation_is_deterministic() {
        let a = Workload::multiline(Scale::TEST);
        let b = Workload::multiline(Scale::TEST);
        assert_eq!(a.bytes, b.bytes);
    }

    #[test]
    fn small_events_are_about_37_bytes() {
        let w = Workload::small(Scale::FULL);
        let per_event = w.bytes.len() as f64 / w.expected.events as f64;
        assert!((35.0..=39.0).contains(&per_event), "{per_event}");
        let crlf = Workload::crlf(Scale::TEST);
        assert!(
            crlf.bytes
                .starts_with(b"data: {\"seq\":0,\"v\":\"abcdefgh\"}\r\n\r\n")
        );
    }

    #[test]
    fn resse_matches_the_generator_at_every_chunking() {
        let mut buf = BytesMut::new();
        for w in Workload::all(Scale::TEST) {
            for chunk_len in [1, 7, CHUNK_LEN, w.bytes.len()] {
                let got = resse_decode(&w.bytes, chunk_len, &mut buf).expect("within limits");
                assert_eq!(got, w.expected, "{} at {chunk_len}", w.name);
                let got = resse_decode_slice(&w.bytes, chunk_len).expect("within limits");
                assert_eq!(got, w.expected, "{} borrowed at {chunk_len}", w.name);
            }
        }
    }

    #[test]
    fn large_events_slice_the_large_stream() {
        let w = Workload::large(Scale::TEST);
        let events = Workload::large_events(&w).expect("a large stream");
        assert_eq!(events.len(), w.expected.events);
        assert!(events.iter().all(|e| e.data().len() == LARGE_DATA_LEN));
        assert!(Workload::large_events(&Workload::small(Scale::TEST)).is_none());
    }

    #[test]
    fn scale_follows_criterion_mode_rules() {
        assert!(Scale::benchmarking_args(["x", "--bench"]));
        assert!(!Scale::benchmarking_args(["x", "--bench", "--test"]));
        assert!(!Scale::benchmarking_args(["x"]));
        assert!(Scale::FULL.is_full() && !Scale::TEST.is_full());
        assert_eq!(Scale::divided_by(0), Scale::FULL);
        assert_eq!(Scale::divided_by(10).count(100_000), 10_000);
        assert_eq!(Scale::TEST.count(1_000_000), 1000);
        assert_eq!(Scale::TEST.count(5), 1);
    }

    #[test]
    fn physical_limits_see_every_byte() {
        let w = Workload::crlf(Scale::TEST);
        let lines = w
            .bytes
            .iter()
            .filter(|&&b| b == b'\n' || b == b'\r')
            .count();
        assert_eq!(memchr2_count(&w.bytes, 100), lines);
        assert_eq!(memchr2_count(&w.bytes, w.bytes.len()), lines);
        let mut grow = Vec::new();
        assert_eq!(scan_copy(&w.bytes, 100, &mut grow), lines);
        let mut dst = vec![0; w.bytes.len()];
        memcpy_chunks(&w.bytes, 100, &mut dst);
        assert_eq!(dst, w.bytes);
    }
}
