//! [`ChunkDecoder`]: the one loop that feeds body chunks to a [`Decoder`]
//! and hands out frames, with the end-of-input and stopped rules.

use bytes::{Bytes, BytesMut};

use crate::decoder::grow_exact;
use crate::{DecodeError, Decoder, DecoderConfig, Frame};

/// Where a [`ChunkDecoder`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Input may come: decode what was pushed, then ask for more.
    Open,
    /// The input ended: drain what the decoder holds.
    Ended,
    /// Nothing more will come out (drained after the end, or stopped).
    Done,
}

/// A [`Decoder`] driven over a stream of [`Bytes`] chunks (an HTTP body, a
/// socket's reads): push each chunk, pull frames until it asks for more,
/// mark the end of the input, pull the rest.
///
/// It owns the rules every driver of a decoder needs, so that each adapter
/// does not write them again:
///
/// * **Zero-copy**: events that lie within a chunk are slices of it
///   ([`Decoder::decode_bytes`]).
/// * **Reading in place**: a driver that reads from a socket (or any
///   reader) itself can read straight into the decoder's own buffer with
///   [`read_buf`](Self::read_buf) and [`filled`](Self::filled) instead of
///   pushing chunks: then an event that spans reads is not copied again
///   into the decoder's carry, and the events are still slices of that
///   buffer.
/// * **End of input**: after [`end`](Self::end), the complete lines still
///   held are decoded and an unterminated event is discarded, as the spec
///   says; [`incomplete_at_eof`](Self::incomplete_at_eof) then tells whether
///   one was (a cut in the middle of an event).
/// * **Stopped**: after a limit error with
///   [`Overflow::Stop`](crate::Overflow::Stop), the error is returned once
///   and nothing more comes out; [`is_done`](Self::is_done) turns `true` at
///   once, so a driver stops reading (a live socket's end may never come).
/// * **Done**: [`next_frame`](Self::next_frame) returns `None` for good once
///   the input ended and was drained, or the decoder stopped.
///
/// ```
/// use bytes::Bytes;
/// use resse_codec::{ChunkDecoder, Frame};
///
/// let mut chunks = ChunkDecoder::default();
/// let mut data = Vec::new();
/// for chunk in [&b"data: hel"[..], b"lo\n\ndata: world\n\ndata: cu"] {
///     chunks.push(Bytes::from_static(chunk));
///     while let Some(frame) = chunks.next_frame() {
///         if let Frame::Event(e) = frame? {
///             data.push(e.data().to_owned());
///         }
///     }
/// }
/// chunks.end();
/// while let Some(frame) = chunks.next_frame() {
///     frame?;
/// }
/// assert_eq!(data, ["hello", "world"]);
/// assert!(chunks.is_done() && chunks.incomplete_at_eof()); // "data: cu" was cut
/// # Ok::<(), resse_codec::DecodeError>(())
/// ```
#[derive(Debug)]
pub struct ChunkDecoder {
    decoder: Decoder,
    /// A pushed chunk, decoded without copying (`decode_bytes`).
    chunk: Bytes,
    /// Input read in place ([`read_buf`](Self::read_buf)), decoded as
    /// `Decoder::decode` decodes a `BytesMut`. Empty whenever `chunk` is not:
    /// the input is one or the other, and at each switch the decoder's
    /// positions stay valid (both count from the start of the unfinished
    /// block, which the carry or this buffer holds).
    buf: BytesMut,
    /// Bytes at the end of `buf` handed out by `read_buf` and not filled
    /// yet: never decoded.
    unfilled: usize,
    state: State,
}

impl Default for ChunkDecoder {
    /// A decoder with the default configuration.
    fn default() -> Self {
        Self::new(Decoder::new())
    }
}

impl ChunkDecoder {
    /// Drives `decoder`.
    pub fn new(decoder: Decoder) -> Self {
        Self {
            decoder,
            chunk: Bytes::new(),
            buf: BytesMut::new(),
            unfilled: 0,
            state: State::Open,
        }
    }

    /// Drives a new decoder with `config`.
    pub fn with_config(config: DecoderConfig) -> Self {
        Self::new(Decoder::with_config(config))
    }

    /// Adds the next chunk of input. Pull frames with
    /// [`next_frame`](Self::next_frame) until it returns `None` before
    /// pushing another: a chunk pushed earlier and not decoded yet is decoded
    /// first (its bytes are kept, copied together with the new ones). Ignored
    /// after [`end`](Self::end) or once done.
    pub fn push(&mut self, chunk: Bytes) {
        if self.state != State::Open || chunk.is_empty() {
            return;
        }
        self.drop_unfilled();
        if !self.buf.is_empty() {
            // Input read in place is pending: the chunk goes after it.
            grow_exact(&mut self.buf, chunk.len(), self.decoder.carry_cap());
            self.buf.extend_from_slice(&chunk);
        } else if self.chunk.is_empty() {
            self.chunk = chunk;
        } else {
            // A misuse, but no byte may be lost: keep both, in order.
            let mut joined = alloc::vec::Vec::with_capacity(self.chunk.len() + chunk.len());
            joined.extend_from_slice(&self.chunk);
            joined.extend_from_slice(&chunk);
            self.chunk = Bytes::from(joined);
        }
    }

    /// A buffer of `len` bytes (zeroed) to read the next input into: the
    /// end of the decoder's own buffer. Read into it, then say how many
    /// bytes were read with [`filled`](Self::filled) and pull frames with
    /// [`next_frame`](Self::next_frame) until it returns `None`, as after
    /// [`push`](Self::push).
    ///
    /// Unlike pushing a chunk read elsewhere, an event that spans reads is
    /// not copied a second time (into the decoder's carry): each byte is
    /// copied once, by the read. Events are slices of this buffer, as they
    /// are of a pushed chunk. The buffer grows within the decoder's memory
    /// bound (see [`DecoderConfig`]) plus `len`.
    ///
    /// Bytes handed out and not [`filled`](Self::filled) (a read that
    /// failed) are dropped before anything is decoded. Reading and pushing
    /// may be mixed on one stream: each input is decoded after the ones
    /// before it. A read after [`end`](Self::end), or once done, is
    /// ignored.
    ///
    /// ```
    /// use std::io::Read;
    /// use resse_codec::{ChunkDecoder, Frame};
    ///
    /// let mut socket = &b"data: hello\n\ndata: world\n\n"[..]; // any `Read`
    /// let mut chunks = ChunkDecoder::default();
    /// let mut data = Vec::new();
    /// while !chunks.is_done() {
    ///     let n = socket.read(chunks.read_buf(8))?;
    ///     if n == 0 {
    ///         chunks.end();
    ///     }
    ///     chunks.filled(n);
    ///     while let Some(frame) = chunks.next_frame() {
    ///         if let Frame::Event(e) = frame? {
    ///             data.push(e.data().to_owned());
    ///         }
    ///     }
    /// }
    /// assert_eq!(data, ["hello", "world"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_buf(&mut self, len: usize) -> &mut [u8] {
        self.drop_unfilled();
        if self.buf.is_empty() {
            // What the decoder holds of a block that spans chunks, then a
            // chunk pushed and not decoded yet, come before this read.
            self.buf = self.decoder.take_carry();
            if !self.chunk.is_empty() {
                grow_exact(&mut self.buf, self.chunk.len(), self.decoder.carry_cap());
                self.buf.extend_from_slice(&self.chunk);
                self.chunk = Bytes::new();
            }
        }
        if self.buf.capacity() - self.buf.len() < len && !self.buf.try_reclaim(len) {
            // Room for this read and as much again (within the decoder's
            // bound): the partial line this read leaves then fits beside
            // the next read, which reclaims this memory instead of
            // allocating again.
            let cap = self.decoder.carry_cap();
            let room = (len.saturating_mul(2))
                .min(cap.saturating_sub(self.buf.len()))
                .max(len);
            grow_exact(&mut self.buf, room, cap);
        }
        let at = self.buf.len();
        self.buf.resize(at + len, 0);
        self.unfilled = len;
        &mut self.buf[at..]
    }

    /// The read into [`read_buf`](Self::read_buf) gave `n` bytes (at most
    /// the length asked for; more counts as that length). `0` adds
    /// nothing: at the end of the input call [`end`](Self::end).
    pub fn filled(&mut self, n: usize) {
        let n = if self.state == State::Open {
            n.min(self.unfilled)
        } else {
            0
        };
        let unfilled = core::mem::take(&mut self.unfilled);
        self.buf.truncate(self.buf.len() - unfilled + n);
    }

    /// Drops what `read_buf` handed out and `filled` did not fill.
    #[inline]
    fn drop_unfilled(&mut self) {
        if self.unfilled > 0 {
            self.filled(0);
        }
    }

    /// The input ended: [`next_frame`](Self::next_frame) now drains what the
    /// decoder holds, then returns `None` for good.
    pub fn end(&mut self) {
        if self.state == State::Open {
            self.state = State::Ended;
        }
    }

    /// The next frame, a limit error, or `None`: more input is needed (while
    /// open), or nothing more will come ([`is_done`](Self::is_done)).
    ///
    /// A limit error is returned once per offending event; decoding goes on
    /// after it, unless the decoder is configured to stop
    /// ([`Overflow::Stop`](crate::Overflow::Stop)), and then nothing more
    /// comes out.
    #[inline]
    pub fn next_frame(&mut self) -> Option<Result<Frame, DecodeError>> {
        self.drop_unfilled();
        let result = match self.state {
            State::Open if self.buf.is_empty() => self.decoder.decode_bytes(&mut self.chunk),
            State::Open => self.decoder.decode(&mut self.buf),
            // The end of input read in place (`decode_eof` first returns
            // what complete lines still yield).
            State::Ended if !self.buf.is_empty() => self.decoder.decode_eof(&mut self.buf),
            // What was pushed before the end is decoded first.
            State::Ended if !self.chunk.is_empty() => {
                match self.decoder.decode_bytes(&mut self.chunk) {
                    Ok(None) if !self.decoder.is_stopped() => self.decoder.decode_bytes_eof(),
                    other => other,
                }
            }
            State::Ended => self.decoder.decode_bytes_eof(),
            State::Done => return None,
        };
        match result {
            Ok(Some(frame)) => Some(Ok(frame)),
            Ok(None) => {
                if self.state == State::Ended || self.decoder.is_stopped() {
                    self.finish();
                }
                None
            }
            Err(e) => {
                if self.decoder.is_stopped() {
                    self.finish();
                }
                Some(Err(e))
            }
        }
    }

    /// Whether nothing more will come out: the input ended and was drained,
    /// or the decoder stopped at a limit. A driver stops reading then.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Whether the end of the input discarded an unterminated event or line
    /// (the stream was cut in the middle of an event). Meaningful once
    /// [`is_done`](Self::is_done) after [`end`](Self::end).
    pub fn incomplete_at_eof(&self) -> bool {
        self.decoder.incomplete_at_eof()
    }

    /// Starts over for a new stream (a new connection): drops any pending
    /// input and partial event, and [resets](Decoder::reset) the decoder,
    /// which keeps its last event ID.
    pub fn reset(&mut self) {
        self.decoder.reset();
        self.chunk = Bytes::new();
        self.buf.clear();
        self.unfilled = 0;
        self.state = State::Open;
    }

    /// The decoder (its [`last_event_id`](Decoder::last_event_id), its
    /// configuration).
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// The decoder, mutably (to set the last event ID before a stream).
    pub fn decoder_mut(&mut self) -> &mut Decoder {
        &mut self.decoder
    }

    fn finish(&mut self) {
        self.state = State::Done;
        self.chunk = Bytes::new();
        self.buf = BytesMut::new();
        self.unfilled = 0;
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;

    use super::*;
    use crate::Overflow;

    fn run(chunks: &mut ChunkDecoder, input: &[&'static [u8]]) -> Vec<String> {
        let mut out = Vec::new();
        let pull = |chunks: &mut ChunkDecoder, out: &mut Vec<String>| {
            while let Some(frame) = chunks.next_frame() {
                out.push(match frame {
                    Ok(Frame::Event(e)) => e.data().to_string(),
                    Ok(_) => "frame".to_string(),
                    Err(e) => e.to_string(),
                });
            }
        };
        for piece in input {
            chunks.push(Bytes::from_static(piece));
            pull(chunks, &mut out);
        }
        chunks.end();
        pull(chunks, &mut out);
        out
    }

    #[test]
    fn events_across_chunks_and_the_end() {
        let mut c = ChunkDecoder::default();
        let out = run(&mut c, &[b"data: a\n\nda", b"ta: b\n", b"\ndata: cut"]);
        assert_eq!(out, ["a", "b"]);
        assert!(c.is_done() && c.incomplete_at_eof());
        assert_eq!(c.next_frame().map(|r| r.is_ok()), None);

        // An event ended by the end of input without a blank line: discarded.
        let mut c = ChunkDecoder::default();
        assert_eq!(run(&mut c, &[b"data: a\n\ndata: b\n"]), ["a"]);
        assert!(c.incomplete_at_eof());
        // A clean end.
        let mut c = ChunkDecoder::default();
        assert_eq!(run(&mut c, &[b"data: a\n\n"]), ["a"]);
        assert!(c.is_done() && !c.incomplete_at_eof());
    }

    #[test]
    fn skip_reports_and_goes_on_stop_ends_at_once() {
        let input: &[&'static [u8]] = &[b"data: ok\n\ndata: 0123456789\n\ndata: ab\n\n"];
        let mut skip = ChunkDecoder::with_config(DecoderConfig::default().max_line_len(8));
        let out = run(&mut skip, input);
        assert_eq!(out.len(), 3, "{out:?}");
        assert_eq!((out[0].as_str(), out[2].as_str()), ("ok", "ab"));

        let config = DecoderConfig::default()
            .max_line_len(8)
            .on_overflow(Overflow::Stop);
        let mut stop = ChunkDecoder::with_config(config);
        stop.push(Bytes::from_static(input[0]));
        assert!(matches!(stop.next_frame(), Some(Ok(Frame::Event(_)))));
        assert!(!stop.is_done());
        assert!(matches!(stop.next_frame(), Some(Err(_))));
        // Stopped: done at once, before any end of input, and for good.
        assert!(stop.is_done());
        assert!(stop.next_frame().is_none());
        stop.push(Bytes::from_static(b"data: x\n\n"));
        stop.end();
        assert!(stop.next_frame().is_none());
        // A new stream starts over, keeping the last event id.
        stop.reset();
        assert!(!stop.is_done());
        assert_eq!(run(&mut stop, &[b"data: go\n\n"]), ["go"]);
    }

    #[test]
    fn a_chunk_pushed_before_the_last_was_drained_is_not_lost() {
        let mut c = ChunkDecoder::default();
        c.push(Bytes::from_static(b"data: a\n\ndata: "));
        c.push(Bytes::from_static(b"b\n\n"));
        c.end();
        let mut out = Vec::new();
        while let Some(frame) = c.next_frame() {
            if let Ok(Frame::Event(e)) = frame {
                out.push(e.data().to_string());
            }
        }
        assert_eq!(out, ["a", "b"]);
    }
}
