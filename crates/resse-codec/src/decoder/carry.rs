//! The carry of the chunk entry points ([`Decoder::decode_bytes`],
//! [`Decoder::decode_slice`]): decoding straight from the chunk while no
//! block spans chunks, else appending the chunk to the carry a line at a
//! time and decoding from the carry; and letting go of what a borrowed
//! frame pointed into.

use bytes::{Buf, Bytes, BytesMut};

use super::dispatch::{FAST_JOIN_MAX, JOIN_STEP};
use super::limits::grow_exact;
use super::{Decoder, Mode};
use crate::borrowed::{self, CarryCursor, Cursor, FrameRef, RawFrame};
use crate::source::Source;
use crate::{DecodeError, Frame, text};

impl Decoder {
    /// Everything but `decode_bytes`'s fast path, which it tried on `input`
    /// when the carry was empty.
    #[inline(never)]
    pub(super) fn decode_bytes_general(
        &mut self,
        input: &mut Bytes,
    ) -> Result<Option<Frame>, DecodeError> {
        self.decode_chunk_after(input, true)
    }

    /// The chunk entry points past their fast path: decodes from the chunk
    /// while no block spans chunks, else appends the chunk to the carry a
    /// line at a time and decodes from the carry. `fast_tried`: the caller tried
    /// the fast path on `input` (if the carry is empty), so decoding straight
    /// from the chunk starts with the general path. Trying the fast path
    /// again would only read the block again to give up again: at each chunk
    /// end, where the last block is cut off, that was a whole wasted pass
    /// over it.
    #[inline(always)]
    pub(super) fn decode_chunk_after<I: Chunk>(
        &mut self,
        input: &mut I,
        fast_tried: bool,
    ) -> Result<Option<I::Frame>, DecodeError> {
        let mut fast_tried = fast_tried && self.carry.is_empty();
        loop {
            if self.carry.is_empty() {
                if input.is_empty() {
                    return Ok(None);
                }
                // Straight from the chunk, without copying.
                self.from_carry = false;
                let frame = if fast_tried {
                    self.decode_general(input)
                } else {
                    self.decode_from(input)
                };
                if matches!(frame, Ok(None)) && !input.is_empty() {
                    // An unfinished block: keep it (the decoder's positions
                    // stay valid, as the carry starts where `input` does).
                    // While the carry is empty, make room for a line as long
                    // as the last long one: reclaiming room now moves
                    // nothing, later it would move the part already held.
                    let cap = self.carry_cap();
                    grow_exact(&mut self.carry, input.len().max(self.long_line + 2), cap);
                    self.carry_ascii = text::is_ascii(input);
                    self.carry.extend_from_slice(input);
                    input.clear();
                }
                return frame;
            }
            fast_tried = false;
            if input.is_empty() {
                return Ok(None);
            }
            // A block spans chunks: append input to the carry one line at a
            // time, so that once the block is dispatched the rest of the
            // chunk is read without copying again.
            let eol = self.eol.find(input);
            let n = match eol {
                Some(i) if input[i] == b'\r' && input.get(i + 1) == Some(&b'\n') => i + 2,
                Some(i) => i + 1,
                None => input.len(),
            };
            let old = self.carry.len();
            // Where the decoder was only waiting for more of a line, tell it
            // what was just scanned here, so that it does not scan it again.
            let waiting =
                self.mode == Mode::Normal && !self.skip_lf && !self.bom_pending && self.scan == old;
            self.carry_ascii &= text::is_ascii(&input[..n]);
            let cap = self.carry_cap();
            grow_exact(&mut self.carry, n, cap);
            self.carry.extend_from_slice(&input[..n]);
            input.advance(n);
            if waiting {
                self.scan = eol.map_or(self.carry.len(), |i| old + i);
            }
            let frame = I::on_carry(self, false);
            if !matches!(frame, Ok(None)) {
                return frame;
            }
            self.settle_carry();
        }
    }

    /// Drops from the carry what `decode_slice` consumed from it, once the
    /// frame that may point into it is let go.
    #[inline]
    pub(super) fn settle_carry(&mut self) {
        if self.carry_used > 0 {
            Buf::advance(&mut self.carry, core::mem::take(&mut self.carry_used));
        }
    }

    /// How many bytes the carry holds (of a block that spans chunks).
    pub(crate) fn carry_len(&self) -> usize {
        self.carry.len()
    }

    /// `len` zeroed bytes at the end of the carry, to read the input that
    /// follows straight into it (`ChunkDecoder::read_buf`); then
    /// [`carry_filled`](Self::carry_filled). Grows it as appending does.
    pub(crate) fn carry_read_buf(&mut self, len: usize) -> &mut [u8] {
        self.settle_carry();
        let cap = self.carry_cap();
        grow_exact(&mut self.carry, len, cap);
        let at = self.carry.len();
        self.carry.resize(at + len, 0);
        &mut self.carry[at..]
    }

    /// Of the `given` bytes [`carry_read_buf`](Self::carry_read_buf) handed
    /// out, the first `n` were read: the rest are dropped, and what was
    /// read counts in the carry's ASCII verdict. Decode it with
    /// [`decode_carry`](Self::decode_carry).
    pub(crate) fn carry_filled(&mut self, given: usize, n: usize) {
        let at = self.carry.len() - given;
        self.carry.truncate(at + n);
        self.carry_ascii &= text::is_ascii(&self.carry[at..]);
    }

    /// The next frame of what the carry holds (bytes read into it in place
    /// included), `Ok(None)` once only part of a block is left in it.
    pub(crate) fn decode_carry(&mut self) -> Result<Option<Frame>, DecodeError> {
        Bytes::on_carry(self, false)
    }

    /// Lets go of what `decode_slice`'s last frame pointed into: inlined
    /// as three tests, since after most frames there is nothing to do.
    #[inline(always)]
    pub(super) fn settle(&mut self) {
        if self.carry_used > 0 || self.joined_used || !self.scratch.lossy.is_empty() {
            self.settle_all();
        }
    }

    /// `settle` when there is something to let go of (after every joined
    /// event of a multi-line stream: not cold).
    #[inline(never)]
    fn settle_all(&mut self) {
        self.settle_carry();
        if self.joined_used {
            self.joined_used = false;
            self.joined.clear();
            if self.joined.capacity() > FAST_JOIN_MAX + JOIN_STEP {
                self.joined = BytesMut::new();
            }
        }
        if !self.scratch.lossy.is_empty() {
            self.scratch.lossy.clear();
            if self.scratch.lossy.capacity() > FAST_JOIN_MAX {
                self.scratch.lossy = alloc::string::String::new();
            }
        }
    }

    #[inline(always)]
    pub(super) fn resolve<'a>(&'a self, frame: RawFrame, input: &'a [u8]) -> FrameRef<'a> {
        borrowed::resolve(
            frame,
            input,
            &self.joined,
            &self.scratch,
            &self.last_event_id,
        )
    }

    /// Runs a `BytesMut` entry point on the carry of `decode_bytes`.
    pub(super) fn with_carry<T>(&mut self, f: impl FnOnce(&mut Self, &mut BytesMut) -> T) -> T {
        let mut carry = core::mem::take(&mut self.carry);
        // `f` only removes bytes from the carry: what was ASCII stays so.
        self.input_valid = self.carry_ascii;
        let result = f(self, &mut carry);
        self.input_valid = false;
        self.carry = carry;
        result
    }
}

/// A chunk the decoder reads without copying, and how it decodes from its
/// carry when a block spans chunks.
pub(super) trait Chunk: Source {
    /// Decodes from the carry (at the end of the stream when `eof`).
    fn on_carry(dec: &mut Decoder, eof: bool) -> Result<Option<Self::Frame>, DecodeError>;
}

impl Chunk for Bytes {
    #[inline]
    fn on_carry(dec: &mut Decoder, eof: bool) -> Result<Option<Frame>, DecodeError> {
        if eof {
            dec.with_carry(Decoder::decode_eof)
        } else {
            dec.with_carry(Decoder::decode)
        }
    }
}

impl Chunk for Cursor<'_, '_> {
    /// As for `Bytes`, but what is consumed stays in the carry until the
    /// frame is let go, and the frame's positions are in the carry.
    #[inline]
    fn on_carry(dec: &mut Decoder, eof: bool) -> Result<Option<RawFrame>, DecodeError> {
        let mut carry = core::mem::take(&mut dec.carry);
        dec.input_valid = dec.carry_ascii;
        let mut cursor = CarryCursor {
            bytes: &mut carry[..],
            at: 0,
            lines: None,
        };
        let result = if eof {
            dec.decode_eof_from(&mut cursor)
        } else {
            dec.decode_from(&mut cursor)
        };
        dec.carry_used = cursor.at;
        dec.input_valid = false;
        dec.carry = carry;
        dec.from_carry = true;
        result
    }
}
