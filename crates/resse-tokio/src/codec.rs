//! [`SseCodec`]: `tokio_util::codec` implementations that delegate to
//! `resse-codec`.

use std::{fmt, io};

use bytes::BytesMut;
use resse_codec::{DecodeError, Decoder, DecoderConfig, EncodeError, Encoder, Event, Frame};

/// An event-stream codec for [`FramedRead`](tokio_util::codec::FramedRead)
/// and [`FramedWrite`](tokio_util::codec::FramedWrite): decodes
/// [`Frame`]s, encodes [`Event`]s (and whole [`Frame`]s).
///
/// Every rule is `resse-codec`'s: this type only forwards. Reading from an
/// [`AsyncRead`](tokio::io::AsyncRead) that yields the body of a
/// `text/event-stream` response:
///
/// ```
/// use futures_util::StreamExt;
/// use resse_codec::Frame;
/// use resse_tokio::codec::SseCodec;
/// use tokio_util::codec::FramedRead;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), resse_tokio::codec::CodecError> {
/// let body: &[u8] = b"id: 1\ndata: hello\n\ndata: world\n\n";
/// let mut frames = FramedRead::new(body, SseCodec::new());
/// let mut data = Vec::new();
/// while let Some(frame) = frames.next().await {
///     if let Frame::Event(event) = frame? {
///         data.push((event.last_event_id().to_owned(), event.data().to_owned()));
///     }
/// }
/// assert_eq!(data, [("1".into(), "hello".into()), ("1".into(), "world".into())]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct SseCodec {
    decoder: Decoder,
    encoder: Encoder,
}

impl SseCodec {
    /// A codec with the decoder's default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// A codec whose decoder has `config`'s limits and options.
    pub fn with_config(config: DecoderConfig) -> Self {
        Self {
            decoder: Decoder::with_config(config),
            encoder: Encoder::new(),
        }
    }

    /// The decoder (last event id, whether the stream ended mid-event).
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// The decoder, mutably (to set the last event id).
    pub fn decoder_mut(&mut self) -> &mut Decoder {
        &mut self.decoder
    }
}

/// What went wrong reading or writing through an [`SseCodec`].
#[derive(Debug)]
#[non_exhaustive]
pub enum CodecError {
    /// A decoder limit was exceeded. With
    /// [`Overflow::Skip`](resse_codec::Overflow::Skip) the offending event
    /// is skipped and reading may go on; raise the limit in the
    /// [`DecoderConfig`] if the stream is legitimate.
    Decode(DecodeError),
    /// The event cannot be written without changing its meaning (a line
    /// break in its type or id, a NUL in its id). Nothing was written.
    Encode(EncodeError),
    /// The underlying reader or writer failed.
    Io(io::Error),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decode(e) => write!(f, "cannot decode the event stream: {e}"),
            Self::Encode(e) => write!(f, "cannot encode the event: {e}"),
            Self::Io(e) => write!(f, "event stream i/o failed: {e}"),
        }
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Decode(e) => Some(e),
            Self::Encode(e) => Some(e),
            Self::Io(e) => Some(e),
        }
    }
}

impl From<io::Error> for CodecError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<DecodeError> for CodecError {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}

impl From<EncodeError> for CodecError {
    fn from(e: EncodeError) -> Self {
        Self::Encode(e)
    }
}

impl tokio_util::codec::Decoder for SseCodec {
    type Item = Frame;
    type Error = CodecError;

    #[inline]
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        Ok(self.decoder.decode(src)?)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        Ok(self.decoder.decode_eof(src)?)
    }
}

impl tokio_util::codec::Encoder<Event> for SseCodec {
    type Error = CodecError;

    fn encode(&mut self, event: Event, dst: &mut BytesMut) -> Result<(), CodecError> {
        <Self as tokio_util::codec::Encoder<&Event>>::encode(self, &event, dst)
    }
}

impl tokio_util::codec::Encoder<&Event> for SseCodec {
    type Error = CodecError;

    fn encode(&mut self, event: &Event, dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(self.encoder.encode(event, dst)?)
    }
}

impl tokio_util::codec::Encoder<Frame> for SseCodec {
    type Error = CodecError;

    /// Events as events, a retry as a lone `retry:` line, a comment as
    /// comment lines.
    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        match frame {
            Frame::Event(event) => self.encoder.encode(&event, dst)?,
            Frame::Retry(delay) => self.encoder.retry(delay, dst),
            Frame::Comment(text) => self.encoder.comment(&text, dst),
            // `Frame` is non-exhaustive: a future kind has no wire form yet.
            _ => {}
        }
        Ok(())
    }
}
