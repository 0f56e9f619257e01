//! Drivers for the peer crates, shared by the `decode` and `alloc_count`
//! benches. Each peer is driven through its fastest public API, read from its
//! source:
//!
//! | crate | API used | input per chunk |
//! | --- | --- | --- |
//! | `sse-stream` 0.3.0 | `SseByteStream` (its parser is private; this is the byte-stream entry point that skips the HTTP-body adapter, as its docs advise) polled with a no-op waker | `&[u8]` (a `Buf`), no copy |
//! | `sse-core` 0.2.3 | sync sans-IO `SseDecoder::next(&mut impl Buf)` | `&[u8]`, no copy |
//! | `sse-codec` 0.3.3 | `futures_codec::Decoder::decode` on `SSECodec` (what its `FramedRead` calls) | appended to a reused `BytesMut` (bytes 0.5), like resse |
//! | `async-sse` 5.1.0 | `decode(AsyncBufRead)` stream (only public API) polled with a no-op waker | `poll_fill_buf` hands out the chunk, no copy |
//! | `eventsource-stream` 0.2.3 | `Eventsource::eventsource()` over a `Stream` of chunks (only public API), no-op waker | `&[u8]` |
//!
//! All inputs are in memory and every future is always ready, so polling
//! with [`Waker::noop`] is a complete executor. Every driver records each
//! event's data length through [`Counts::add`] and drops the event.
//!
//! Known limitation, recorded rather than hidden: `eventsource-stream`
//! re-copies its whole pending buffer after every line
//! (`String::split_off` in `parse_event`), so its cost grows with the square
//! of the bytes it holds. Fed a whole workload at once (tens to hundreds of
//! MB) that is terabytes of copying, hours per iteration, so
//! [`Peer::supports`] excludes it from the one-chunk runs; at 16 KiB chunks
//! the buffer stays small and it runs, slowly.

// Each bench binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use futures_io::{AsyncBufRead, AsyncRead};
use resse_benches::{Chunking, Counts};

/// A peer parser under comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    SseStream,
    SseCore,
    SseCodec,
    AsyncSse,
    EventsourceStream,
}

impl Peer {
    pub(crate) const ALL: [Self; 5] = [
        Self::SseStream,
        Self::SseCore,
        Self::SseCodec,
        Self::AsyncSse,
        Self::EventsourceStream,
    ];

    /// Crate name, used as the benchmark id.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::SseStream => "sse-stream",
            Self::SseCore => "sse-core",
            Self::SseCodec => "sse-codec",
            Self::AsyncSse => "async-sse",
            Self::EventsourceStream => "eventsource-stream",
        }
    }

    /// `Err(reason)` when this peer is not run with this chunking.
    pub(crate) fn supports(self, chunking: Chunking) -> Result<(), &'static str> {
        match (self, chunking) {
            (Self::EventsourceStream, Chunking::Whole) => Err(
                "eventsource-stream copies its remaining buffer after every line (quadratic); \
                 a whole workload at once would take hours",
            ),
            _ => Ok(()),
        }
    }

    /// Decodes `input` fed in `chunk_len`-byte chunks; `state` holds buffers
    /// reused across runs (only `sse-codec` needs one).
    pub(crate) fn decode(self, input: &[u8], chunk_len: usize, state: &mut PeerState) -> Counts {
        let chunk_len = chunk_len.max(1);
        match self {
            Self::SseStream => sse_stream(input, chunk_len),
            Self::SseCore => sse_core(input, chunk_len),
            Self::SseCodec => sse_codec(input, chunk_len, &mut state.codec_buf),
            Self::AsyncSse => async_sse(input, chunk_len),
            Self::EventsourceStream => eventsource_stream(input, chunk_len),
        }
    }
}

/// Buffers a peer keeps between runs, like a long-lived connection would.
#[derive(Default)]
pub(crate) struct PeerState {
    codec_buf: futures_codec::BytesMut,
}

/// Polls `stream` to the end with a no-op waker, calling `f` per item.
///
/// # Panics
///
/// If the stream is ever pending: every stream here reads from memory.
fn drain<S: Stream + Unpin>(mut stream: S, mut f: impl FnMut(S::Item)) {
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        match Pin::new(&mut stream).poll_next(&mut cx) {
            Poll::Ready(Some(item)) => f(item),
            Poll::Ready(None) => return,
            Poll::Pending => panic!("in-memory stream returned Pending"),
        }
    }
}

/// A stream of `&[u8]` chunks of one slice, always ready.
struct Chunks<'a>(std::slice::Chunks<'a, u8>);

impl<'a> Stream for Chunks<'a> {
    type Item = Result<&'a [u8], Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.next().map(Ok))
    }
}

/// An `AsyncBufRead` over one slice whose `poll_fill_buf` never crosses a
/// `chunk_len` boundary, so it behaves like a reader fed `chunk_len`-byte
/// reads; always ready.
struct ChunkedReader<'a> {
    input: &'a [u8],
    pos: usize,
    chunk_len: usize,
}

impl ChunkedReader<'_> {
    fn available(&self) -> &[u8] {
        let chunk_end = (self.pos / self.chunk_len + 1) * self.chunk_len;
        &self.input[self.pos..chunk_end.min(self.input.len())]
    }
}

impl AsyncRead for ChunkedReader<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let avail = self.available();
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.pos += n;
        Poll::Ready(Ok(n))
    }
}

impl AsyncBufRead for ChunkedReader<'_> {
    fn poll_fill_buf(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        Poll::Ready(Ok(this.available()))
    }

    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        self.pos = (self.pos + amt).min(self.input.len());
    }
}

fn sse_stream(input: &[u8], chunk_len: usize) -> Counts {
    let mut counts = Counts::default();
    let stream = sse_stream::SseByteStream::new(Chunks(input.chunks(chunk_len)));
    drain(stream, |item| {
        let sse = item.expect("sse-stream: workloads are valid");
        // sse-stream also returns metadata-only blocks; the workloads have
        // none, so every block is an event with data.
        counts.add(sse.data.map_or(0, |d| d.len()));
    });
    counts
}

fn sse_core(input: &[u8], chunk_len: usize) -> Counts {
    let mut counts = Counts::default();
    let mut decoder = sse_core::SseDecoder::new();
    for mut chunk in input.chunks(chunk_len) {
        // `next` consumes the whole chunk before returning None.
        while let Some(item) = decoder.next(&mut chunk) {
            match item.expect("sse-core: events stay under its 512 KiB limit") {
                sse_core::SseEvent::Message(m) => counts.add(m.data.len()),
                sse_core::SseEvent::Retry(_) => {}
            }
        }
    }
    counts
}

fn sse_codec(input: &[u8], chunk_len: usize, buf: &mut futures_codec::BytesMut) -> Counts {
    use futures_codec::Decoder as _;
    let mut counts = Counts::default();
    let mut codec = sse_codec::SSECodec::default();
    buf.clear();
    let mut record = |event| match event {
        sse_codec::Event::Message { data, .. } => counts.add(data.len()),
        sse_codec::Event::Retry { .. } => {}
    };
    for chunk in input.chunks(chunk_len) {
        buf.extend_from_slice(chunk);
        while let Some(event) = codec.decode(buf).expect("sse-codec: workloads are UTF-8") {
            record(event);
        }
    }
    while let Some(event) = codec.decode_eof(buf).expect("sse-codec: eof") {
        record(event);
    }
    counts
}

fn async_sse(input: &[u8], chunk_len: usize) -> Counts {
    let mut counts = Counts::default();
    let reader = ChunkedReader {
        input,
        pos: 0,
        chunk_len,
    };
    drain(async_sse::decode(reader), |item| {
        match item.expect("async-sse: workloads are valid") {
            async_sse::Event::Message(m) => counts.add(m.data().len()),
            async_sse::Event::Retry(_) => {}
        }
    });
    counts
}

fn eventsource_stream(input: &[u8], chunk_len: usize) -> Counts {
    use eventsource_stream::Eventsource as _;
    let mut counts = Counts::default();
    drain(Chunks(input.chunks(chunk_len)).eventsource(), |item| {
        let event = item.expect("eventsource-stream: workloads are valid");
        counts.add(event.data.len());
    });
    counts
}
