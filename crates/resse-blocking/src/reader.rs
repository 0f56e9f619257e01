//! [`EventReader`]: frames out of any [`Read`].

use std::io::{self, Read};

use resse_codec::{ChunkDecoder, Decoder, DecoderConfig, Frame};

use crate::Error;

/// How many bytes one `read` call asks for.
pub(crate) const READ_LEN: usize = 8 * 1024;

/// An [`Iterator`] of decoded [`Frame`]s over any reader (a file, a socket,
/// an HTTP response body), within the limits of a [`DecoderConfig`].
///
/// Bytes are decoded as they arrive. Each read goes into the decoder's own
/// memory ([`ChunkDecoder::read_buf`]): events within a read are slices
/// of it, and a large event that spans reads is not copied again after its
/// read. At the end of input an unterminated event is discarded,
/// as the spec says, and the iterator ends. A decoder limit yields
/// [`Error::Decode`] once and decoding goes on; with
/// [`Overflow::Stop`](resse_codec::Overflow::Stop) the iterator ends after
/// that error without reading any more (on a live socket the end of input
/// may never come). An I/O error yields
/// [`Error::Io`] (`Interrupted` is retried). A reader with a read timeout
/// makes the iterator yield `Error::Io` of kind `WouldBlock`/`TimedOut`;
/// calling `next` again resumes reading. No reconnection here: see
/// [`Client`](crate::Client).
///
/// ```
/// use resse_blocking::EventReader;
/// use resse_codec::Frame;
///
/// let input = &b"data: hello\n\nid: 2\ndata: world\n\ndata: cut"[..];
/// let data: Vec<String> = EventReader::new(input)
///     .filter_map(|frame| match frame {
///         Ok(Frame::Event(e)) => Some(e.data().to_owned()),
///         _ => None,
///     })
///     .collect();
/// assert_eq!(data, ["hello", "world"]);
/// ```
#[derive(Debug)]
pub struct EventReader<R> {
    reader: R,
    chunks: ChunkDecoder,
}

impl<R: Read> EventReader<R> {
    /// A reader with the default limits.
    pub fn new(reader: R) -> Self {
        Self::with_config(reader, DecoderConfig::default())
    }

    /// A reader with the given limits and options.
    pub fn with_config(reader: R, config: DecoderConfig) -> Self {
        Self {
            reader,
            chunks: ChunkDecoder::with_config(config),
        }
    }

    /// The underlying reader.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// The underlying reader, mutably (reading from it directly loses the
    /// decoder's place in the stream).
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.reader
    }

    /// The decoder (e.g. for [`last_event_id`](Decoder::last_event_id)).
    pub fn decoder(&self) -> &Decoder {
        self.chunks.decoder()
    }

    /// The decoder, mutably.
    pub fn decoder_mut(&mut self) -> &mut Decoder {
        self.chunks.decoder_mut()
    }

    /// The underlying reader; bytes read but not yet decoded are lost.
    pub fn into_inner(self) -> R {
        self.reader
    }
}

impl<R: Read> Iterator for EventReader<R> {
    type Item = Result<Frame, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(result) = self.chunks.next_frame() {
                return Some(result.map_err(Error::from));
            }
            if self.chunks.is_done() {
                // The input ended and was drained, or `Overflow::Stop`:
                // nothing more is read.
                return None;
            }
            match self.reader.read(self.chunks.read_buf(READ_LEN)) {
                Ok(0) => self.chunks.end(),
                Ok(n) => self.chunks.filled(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Some(Err(e.into())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resse_codec::{DecodeError, Overflow};

    /// Hands out its input a few bytes per `read`.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn ids(frames: impl Iterator<Item = Result<Frame, Error>>) -> Vec<String> {
        frames
            .filter_map(|f| match f {
                Ok(Frame::Event(e)) => Some(format!("{}={}", e.last_event_id(), e.data())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn same_events_whatever_the_read_size() {
        let input =
            b"id: 1\ndata: a\r\n\r\n: note\nretry: 5\nid: 2\ndata: b\ndata: c\n\nid: 3\ndata: cut";
        let whole = ids(EventReader::new(&input[..]));
        assert_eq!(whole, ["1=a", "2=b\nc"]);
        for size in 1..input.len() {
            assert_eq!(
                ids(EventReader::new(Trickle(input, size))),
                whole,
                "size {size}"
            );
        }
    }

    #[test]
    fn limit_error_is_reported_and_the_stream_goes_on() {
        let input = b"data: 0123456789abcdef\n\ndata: ok\n\n";
        let config = DecoderConfig::default().max_line_len(8);
        let frames: Vec<_> = EventReader::with_config(Trickle(input, 3), config).collect();
        assert!(matches!(
            frames[0],
            Err(Error::Decode(DecodeError::LineTooLong { limit: 8 }))
        ));
        assert_eq!(ids(frames.into_iter()), ["=ok"]);
    }

    #[test]
    fn stop_on_overflow_ends_decoding() {
        let input = b"data: 0123456789abcdef\n\ndata: ok\n\n";
        let config = DecoderConfig::default()
            .max_line_len(8)
            .on_overflow(Overflow::Stop);
        let frames: Vec<_> = EventReader::with_config(&input[..], config).collect();
        assert_eq!(frames.len(), 1);
        assert!(matches!(frames[0], Err(Error::Decode(_))));
    }

    /// The input, then a read that would block forever (a live socket).
    struct ThenLive<'a>(&'a [u8]);

    impl Read for ThenLive<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            assert!(!self.0.is_empty(), "read again after the decoder stopped");
            let n = self.0.len().min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn stop_on_overflow_stops_reading_at_once() {
        let input = b"data: ok

data: 0123456789abcdef

data: more

";
        let config = DecoderConfig::default()
            .max_line_len(8)
            .on_overflow(Overflow::Stop);
        let mut reader = EventReader::with_config(ThenLive(input), config);
        assert!(matches!(reader.next(), Some(Ok(Frame::Event(_)))));
        assert!(matches!(reader.next(), Some(Err(Error::Decode(_)))));
        // Not a single read more: the next read would block forever.
        assert!(reader.next().is_none());
        assert!(reader.next().is_none());
    }
}
