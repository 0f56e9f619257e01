//! [`ChunkDecoder`]: the one loop that feeds body chunks to a [`Decoder`]
//! and hands out frames, with the end-of-input and stopped rules.

use bytes::{Bytes, BytesMut};

use crate::{DecodeError, Decoder, DecoderConfig, Frame};

/// A read goes straight into the decoder's carry when the carry holds at
/// least this much (the start of a long line, which the read most likely
/// goes on with); else it becomes the next chunk.
const IN_PLACE_MIN: usize = 4096;

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
///   reader) itself can read into the decoder's own memory with
///   [`read_buf`](Self::read_buf) and [`filled`](Self::filled) instead of
///   pushing chunks: then a large event that spans reads is not copied
///   again into the decoder's carry, and events are still slices of what
///   was read.
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
    /// Where [`read_buf`](Self::read_buf) reads go that do not go into the
    /// decoder's carry: split off as the next chunk. Empty but while a
    /// read is handed out.
    buf: BytesMut,
    /// Bytes the last `read_buf` handed out and `filled` did not fill yet,
    /// at the end of the carry (`in_carry`) or of `buf`: never decoded.
    unfilled: usize,
    /// The last `read_buf` was at the end of the decoder's carry.
    in_carry: bool,
    /// The carry holds bytes read into it that were not decoded yet.
    carry_fresh: bool,
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
            in_carry: false,
            carry_fresh: false,
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
        if self.chunk.is_empty() {
            self.chunk = chunk;
        } else {
            // A misuse, but no byte may be lost: keep both, in order.
            let mut joined = alloc::vec::Vec::with_capacity(self.chunk.len() + chunk.len());
            joined.extend_from_slice(&self.chunk);
            joined.extend_from_slice(&chunk);
            self.chunk = Bytes::from(joined);
        }
    }

    /// A buffer of `len` bytes (zeroed) to read the next input into, in
    /// the decoder's own memory. Read into it, then say how many bytes were
    /// read with [`filled`](Self::filled) and pull frames with
    /// [`next_frame`](Self::next_frame) until it returns `None`, as after
    /// [`push`](Self::push).
    ///
    /// Unlike pushing a chunk read elsewhere, the start of a long line
    /// (4 KiB or more) that the decoder holds from earlier reads is not
    /// copied again: the read goes on at its end, in the decoder's carry,
    /// so each byte of a large event is copied once, by the read. Other
    /// reads become the next chunk, whose events are slices of it, as
    /// those of a pushed chunk. Memory stays within the decoder's bound
    /// (see [`DecoderConfig`]) plus `len`, and is reused once the events of
    /// earlier reads are dropped.
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
        self.unfilled = len;
        // The decoder holds the start of a long line: the read most likely
        // goes on with it, so read it where the line is. Else the read
        // becomes the next chunk, whose events are slices of it (decoded
        // from the carry, short events cost more than from a chunk).
        self.in_carry = self.chunk.is_empty() && self.decoder.carry_len() >= IN_PLACE_MIN;
        if self.in_carry {
            return self.decoder.carry_read_buf(len);
        }
        // Its memory is reclaimed once the events of the last chunk read
        // into it are let go.
        if self.buf.capacity() < len && !self.buf.try_reclaim(len) {
            self.buf = BytesMut::with_capacity(len);
        }
        self.buf.resize(len, 0);
        &mut self.buf[..]
    }

    /// The read into [`read_buf`](Self::read_buf) gave `n` bytes (at most
    /// the length asked for; more counts as that length). `0` adds
    /// nothing: at the end of the input call [`end`](Self::end).
    pub fn filled(&mut self, n: usize) {
        let given = core::mem::take(&mut self.unfilled);
        let n = if self.state == State::Open {
            n.min(given)
        } else {
            0
        };
        if self.in_carry {
            self.decoder.carry_filled(given, n);
            self.carry_fresh |= n > 0;
        } else {
            self.buf.truncate(n);
            let chunk = self.buf.split().freeze();
            self.push(chunk);
        }
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
            // Bytes read into the carry come before any chunk pushed since.
            State::Open if self.carry_fresh => match self.decoder.decode_carry() {
                Ok(None) => {
                    self.carry_fresh = false;
                    self.decoder.decode_bytes(&mut self.chunk)
                }
                other => other,
            },
            State::Open => self.decoder.decode_bytes(&mut self.chunk),
            // What was pushed before the end is decoded first (after what
            // the carry holds, which `decode_bytes` appends it to).
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
                } else {
                    // Used up: let go of its memory (a chunk read into
                    // `buf` is reclaimed once its events are dropped too).
                    self.chunk = Bytes::new();
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
        self.carry_fresh = false;
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
        self.carry_fresh = false;
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
