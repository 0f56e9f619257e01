//! [`BufferedDecoder`]: a [`Decoder`] that owns its buffer.

use bytes::BytesMut;

use super::Decoder;
#[cfg(doc)]
use super::DecoderConfig;
use super::limits::grow_exact;
use crate::{DecodeError, Frame};

/// A [`Decoder`] that owns its buffer: feed it byte slices, pull frames.
///
/// ```
/// use resse_codec::{BufferedDecoder, Decoder, Frame};
///
/// let mut d = BufferedDecoder::new(Decoder::new());
/// d.feed(b"event: greet\ndata: hi\n\n");
/// let Some(Frame::Event(e)) = d.next_frame()? else { panic!("expected an event") };
/// assert_eq!((e.event_type(), e.data()), ("greet", "hi"));
/// assert_eq!(d.finish()?, None);
/// # Ok::<(), resse_codec::DecodeError>(())
/// ```
#[derive(Debug, Default)]
pub struct BufferedDecoder {
    decoder: Decoder,
    buf: BytesMut,
}

impl BufferedDecoder {
    /// Wraps `decoder` with an empty buffer.
    pub fn new(decoder: Decoder) -> Self {
        Self {
            decoder,
            buf: BytesMut::new(),
        }
    }

    /// Appends bytes received from the stream. The buffer grows within the
    /// decoder's memory bound (see [`DecoderConfig`]).
    pub fn feed(&mut self, bytes: &[u8]) {
        grow_exact(&mut self.buf, bytes.len(), self.decoder.carry_cap());
        self.buf.extend_from_slice(bytes);
    }

    /// The next frame, or `Ok(None)` when more bytes are needed.
    ///
    /// # Errors
    /// As [`Decoder::decode`].
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        self.decoder.decode(&mut self.buf)
    }

    /// At the end of the stream: the remaining frames, then `Ok(None)`.
    ///
    /// # Errors
    /// As [`Decoder::decode_eof`].
    pub fn finish(&mut self) -> Result<Option<Frame>, DecodeError> {
        self.decoder.decode_eof(&mut self.buf)
    }

    /// The decoder.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// The decoder, mutably.
    pub fn decoder_mut(&mut self) -> &mut Decoder {
        &mut self.decoder
    }

    /// Bytes received but not consumed yet.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }
}
