//! The limits (`max_line_len`, `max_event_len`) and memory: the check that
//! a line or block crossed a limit (the same rule for complete and partial
//! lines, so chunking never changes the outcome), what an overflow does
//! (skip to the next blank line, or stop), and how the buffers the decoder
//! grows are grown within its memory bound (see [`DecoderConfig`]'s
//! "Memory").

use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};

use super::eol::after_eol;
#[cfg(doc)]
use super::{BufferedDecoder, DecoderConfig};
use super::{Decoder, Mode, Overflow};
use crate::DecodeError;
use crate::source::Source;

/// Room for one read that the carry may have beyond the limits when it grows.
const CARRY_ROOM: usize = 16 * 1024;

/// Lines at least this long make the decoder manage buffer room
/// ([`Decoder::make_room`]).
pub(super) const LONG_LINE: usize = 4096;

impl Decoder {
    /// No line end in the buffer: enforce the limits on the partial line.
    pub(super) fn check_partial<B: Source>(&mut self, buf: &mut B) -> Result<(), DecodeError> {
        let held = buf.len();
        if held > self.pos {
            if let Some(error) = self.crossed(self.pos, held, self.has_state()) {
                return Err(self.overflow(buf, held, false, error));
            }
            self.make_room(buf);
        }
        Ok(())
    }

    /// The limit the line starting at `start` exceeds once it extends to
    /// `upto`, if any.
    ///
    /// The same rule serves complete and partial lines, so the outcome never
    /// depends on chunking: the line limit is exceeded when the line reaches
    /// `max_line_len + 1` bytes; the event limit (when the block already
    /// holds state) when the block reaches `max_event_len + 1` bytes, counted
    /// up to the end of the line's content. When both are exceeded, the one
    /// crossed first in the byte stream is reported.
    #[inline]
    pub(super) fn crossed(
        &self,
        start: usize,
        upto: usize,
        state_before: bool,
    ) -> Option<DecodeError> {
        if upto - start <= self.config.max_line_len
            && (!state_before || upto <= self.config.max_event_len)
        {
            return None;
        }
        self.crossed_slow(start, upto, state_before)
    }

    #[cold]
    pub(super) fn crossed_slow(
        &self,
        start: usize,
        upto: usize,
        state_before: bool,
    ) -> Option<DecodeError> {
        let line_at = start.saturating_add(self.config.max_line_len);
        let event_at = if state_before {
            self.config.max_event_len
        } else {
            usize::MAX
        };
        let line = DecodeError::LineTooLong {
            limit: self.config.max_line_len,
        };
        let event = DecodeError::EventTooLong {
            limit: self.config.max_event_len,
        };
        match (upto > line_at, upto > event_at) {
            (true, true) if line_at <= event_at => Some(line),
            (_, true) => Some(event),
            (true, false) => Some(line),
            (false, false) => None,
        }
    }

    /// Drops the block and the bytes up to `consumed`, then skips or stops.
    pub(super) fn overflow<B: Source>(
        &mut self,
        buf: &mut B,
        consumed: usize,
        at_line_start: bool,
        error: DecodeError,
    ) -> DecodeError {
        buf.advance(consumed);
        self.clear_block();
        self.pos = 0;
        self.scan = 0;
        self.mode = match self.config.on_overflow {
            Overflow::Skip => Mode::Discard { at_line_start },
            Overflow::Stop => {
                buf.clear();
                self.skip_lf = false;
                Mode::Stopped
            }
        };
        error
    }

    /// Skips input until a blank line. Returns true once it has been found.
    pub(super) fn discard<B: Source>(&mut self, buf: &mut B) -> bool {
        let Mode::Discard { mut at_line_start } = self.mode else {
            return true;
        };
        loop {
            if self.skip_lf {
                let Some(&b) = buf.first() else {
                    break;
                };
                self.skip_lf = false;
                if b == b'\n' {
                    buf.advance(1);
                }
            }
            let Some(i) = self.eol.find_short(buf) else {
                at_line_start &= buf.is_empty();
                buf.clear();
                break;
            };
            let blank = i == 0 && at_line_start;
            let next = after_eol(buf, i).unwrap_or_else(|| {
                self.skip_lf = true;
                i + 1
            });
            buf.advance(next);
            at_line_start = true;
            if blank {
                self.mode = Mode::Normal;
                return true;
            }
        }
        self.mode = Mode::Discard { at_line_start };
        false
    }

    /// A long line has begun and is not complete: make room now for one as
    /// long as the last long line, while the buffer holds little of it.
    ///
    /// Without this, `BytesMut` runs out of room in the middle of the line
    /// and moves the part already received to the front, nearly doubling the
    /// bytes copied for large events (measured 57 KiB moved per 64 KiB
    /// event). Reserving here moves at most the one chunk received so far,
    /// and allocates only when the buffer is too small for such a line, or
    /// when earlier events still share it (as the caller's next append would
    /// anyway).
    #[inline]
    pub(super) fn make_room<B: Source>(&self, buf: &mut B) {
        let held = buf.len();
        let want = self.pos + self.long_line + 2;
        if held - self.pos >= LONG_LINE && want > held {
            buf.make_room(want);
        }
    }

    /// The most the carry (or a [`BufferedDecoder`]'s buffer) grows to by
    /// doubling: what it may hold after `Ok(None)` (the larger limit and a
    /// line terminator) plus a read.
    pub(crate) fn carry_cap(&self) -> usize {
        let limit = self.config.max_line_len.max(self.config.max_event_len);
        limit.saturating_add(2 + CARRY_ROOM)
    }
}

/// Makes room for `n` more bytes in a buffer the decoder hands out pieces of,
/// in steps of at least `step` bytes, so that reclaiming its memory (once
/// the pieces are dropped) happens once per many events rather than on each.
#[inline]
pub(super) fn reserve_in_steps(buf: &mut BytesMut, n: usize, step: usize) {
    if buf.capacity() - buf.len() < n {
        buf.reserve(n.max(step));
    }
}

/// Makes room for `n` more bytes in `buf` without `BytesMut::reserve`'s
/// doubling past `cap`: reclaims the buffer's own memory when nothing else
/// shares it, else grows it (in place when the allocator can) to exactly
/// `len + n` bytes for a buffer that was empty, or up to twice its capacity
/// (at most `cap`) for one that is growing. This keeps the buffers the
/// decoder grows within its documented bound.
#[inline]
pub(crate) fn grow_exact(buf: &mut BytesMut, n: usize, cap: usize) {
    if buf.capacity() - buf.len() >= n || buf.try_reclaim(n) {
        return;
    }
    grow_exact_slow(buf, n, cap);
}

#[cold]
pub(super) fn grow_exact_slow(buf: &mut BytesMut, n: usize, cap: usize) {
    let want = buf.len().saturating_add(n);
    let new_cap = if buf.is_empty() {
        want
    } else {
        want.max(buf.capacity().saturating_mul(2).min(cap))
    };
    // Unshared, the conversions move no memory; `reserve_exact` reallocates
    // to exactly the capacity asked for (in place when the allocator can,
    // so the old and the new allocation need not both be live).
    let mut vec = Vec::from(core::mem::take(buf));
    vec.reserve_exact(new_cap - vec.len());
    *buf = BytesMut::from(Bytes::from(vec));
}
