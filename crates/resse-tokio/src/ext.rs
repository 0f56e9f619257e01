//! [`SseStreamExt`]: decode any stream of body chunks into events.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_core::{FusedStream, Stream};
use resse_codec::{ChunkDecoder, DecodeError, Decoder, DecoderConfig, Event, Frame};

/// Decodes a stream of body chunks (`Stream<Item = Result<B, E>>` with `B:
/// Into<Bytes>`: a reqwest `bytes_stream()`, a hyper body turned into a
/// stream, an LLM API response) into Server-Sent Events.
///
/// Chunks are decoded without copying ([`Decoder::decode_bytes`]): an event
/// inside one chunk is a slice of it. The stream ends when the body ends
/// (an unterminated final event is discarded, as the standard says) or
/// after the body's first error. It does not reconnect: for that, use the
/// reconnecting client (`resse_tokio::client`, feature `client`).
///
/// ```
/// use bytes::Bytes;
/// use futures_util::{StreamExt, stream};
/// use resse_tokio::SseStreamExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let chunks = ["data: {\"tok", "en\":\"Hel\"}\n\n", "data: {\"token\":\"lo\"}\n\n"];
/// let body = stream::iter(chunks.map(|c| Ok::<_, std::io::Error>(Bytes::from(c))));
/// let mut events = body.sse_events();
/// let mut tokens = Vec::new();
/// while let Some(event) = events.next().await {
///     tokens.push(event?.data().to_owned());
/// }
/// assert_eq!(tokens, [r#"{"token":"Hel"}"#, r#"{"token":"lo"}"#]);
/// # Ok(())
/// # }
/// ```
pub trait SseStreamExt: Sized {
    /// The events of the stream, with the decoder's default limits.
    fn sse_events(self) -> SseEvents<Self> {
        self.sse_events_with(DecoderConfig::default())
    }

    /// The events of the stream, with `config`'s limits.
    fn sse_events_with(self, config: DecoderConfig) -> SseEvents<Self> {
        SseEvents {
            frames: self.sse_frames_with(config),
        }
    }

    /// Every frame of the stream (events, `retry:` values, and comments when
    /// `config` asks for them).
    fn sse_frames_with(self, config: DecoderConfig) -> SseFrames<Self>;
}

impl<S, B, E> SseStreamExt for S
where
    S: Stream<Item = Result<B, E>>,
    B: Into<Bytes>,
{
    fn sse_frames_with(self, config: DecoderConfig) -> SseFrames<Self> {
        SseFrames {
            body: Some(self),
            chunks: ChunkDecoder::with_config(config),
            done: false,
        }
    }
}

/// Why an [`SseFrames`] or [`SseEvents`] stream yielded an error.
#[derive(Debug)]
#[non_exhaustive]
pub enum StreamError<E> {
    /// A decoder limit was exceeded. With the default
    /// [`Overflow::Skip`](resse_codec::Overflow::Skip) the offending event is
    /// skipped and the stream goes on; raise the limit if the events are
    /// legitimate.
    Decode(DecodeError),
    /// The body failed; the stream ends after this.
    Body(E),
}

impl<E: fmt::Display> fmt::Display for StreamError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decode(e) => write!(f, "cannot decode the event stream: {e}"),
            Self::Body(e) => write!(f, "the response body failed: {e}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for StreamError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Decode(e) => Some(e),
            Self::Body(e) => Some(e),
        }
    }
}

pin_project_lite::pin_project! {
    /// The frames of a body stream: [`SseStreamExt::sse_frames_with`].
    pub struct SseFrames<S> {
        #[pin]
        body: Option<S>,
        chunks: ChunkDecoder,
        done: bool,
    }
}

impl<S> SseFrames<S> {
    /// The decoder: its [`last_event_id`](Decoder::last_event_id) is the id
    /// to resume from, and after the end
    /// [`incomplete_at_eof`](Decoder::incomplete_at_eof) says whether the
    /// body was cut inside an event.
    pub fn decoder(&self) -> &Decoder {
        self.chunks.decoder()
    }
}

impl<S> fmt::Debug for SseFrames<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseFrames")
            .field("decoder", self.chunks.decoder())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<S, B, E> Stream for SseFrames<S>
where
    S: Stream<Item = Result<B, E>>,
    B: Into<Bytes>,
{
    type Item = Result<Frame, StreamError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            if *this.done {
                return Poll::Ready(None);
            }
            if let Some(result) = this.chunks.next_frame() {
                return Poll::Ready(Some(result.map_err(StreamError::Decode)));
            }
            if this.chunks.is_done() {
                // The body ended and was drained, or `Overflow::Stop`:
                // nothing more will be decoded, so nothing more is read.
                *this.done = true;
                this.body.set(None);
                continue;
            }
            let Some(body) = this.body.as_mut().as_pin_mut() else {
                this.chunks.end();
                continue;
            };
            match ready!(body.poll_next(cx)) {
                Some(Ok(chunk)) => this.chunks.push(chunk.into()),
                Some(Err(e)) => {
                    // A failed body is not an end of stream: an unfinished
                    // event is not dispatched, and nothing more is read.
                    this.body.set(None);
                    *this.done = true;
                    return Poll::Ready(Some(Err(StreamError::Body(e))));
                }
                None => this.body.set(None),
            }
        }
    }
}

impl<S, B, E> FusedStream for SseFrames<S>
where
    S: Stream<Item = Result<B, E>>,
    B: Into<Bytes>,
{
    fn is_terminated(&self) -> bool {
        self.done
    }
}

pin_project_lite::pin_project! {
    /// The events of a body stream: [`SseStreamExt::sse_events`]. `retry:`
    /// values and comments are left out.
    pub struct SseEvents<S> {
        #[pin]
        frames: SseFrames<S>,
    }
}

impl<S> SseEvents<S> {
    /// The decoder (see [`SseFrames::decoder`]).
    pub fn decoder(&self) -> &Decoder {
        self.frames.decoder()
    }
}

impl<S> fmt::Debug for SseEvents<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseEvents")
            .field("frames", &self.frames)
            .finish()
    }
}

impl<S, B, E> Stream for SseEvents<S>
where
    S: Stream<Item = Result<B, E>>,
    B: Into<Bytes>,
{
    type Item = Result<Event, StreamError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut frames = self.project().frames;
        loop {
            return Poll::Ready(match ready!(frames.as_mut().poll_next(cx)) {
                Some(Ok(Frame::Event(event))) => Some(Ok(event)),
                Some(Ok(_)) => continue,
                Some(Err(e)) => Some(Err(e)),
                None => None,
            });
        }
    }
}
