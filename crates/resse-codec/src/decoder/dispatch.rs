//! What a blank line does: commit the block's id and build its event, from
//! slices of the input where it can (one data line, a short or long event
//! type), else by joining the data lines, in place in a `BytesMut` or in the
//! join buffer the decoder reuses. Also the texts of the data the
//! whole-block fast path joined.

use bytes::BytesMut;

#[cfg(doc)]
use super::Overflow;
use super::eol::Eol;
use super::fields::{data_value, replaced_len, valid_utf8};
use super::limits::reserve_in_steps;
use super::{Decoder, Mode};
use crate::source::{Source, Span};
use crate::text::INLINE_CAP;
use crate::{DecodeError, Text};

/// Reservation step of the join buffer (see [`reserve_in_steps`]). A held
/// event keeps at most one such step alive besides its own bytes.
pub(super) const JOIN_STEP: usize = 8 * 1024;

/// Reservation step of the buffer that holds last event IDs.
pub(super) const ID_STEP: usize = 256;

/// The largest join whose memory the decoder keeps for reuse.
pub(super) const FAST_JOIN_MAX: usize = 64 * 1024;

impl Decoder {
    /// A blank line at `buf[pos]` ends the block: commit the id, dispatch the
    /// event if there is data.
    ///
    /// An event whose data or type holds invalid UTF-8 is first counted
    /// against `max_event_len` as its raw bytes plus those values after
    /// U+FFFD replacement (the replaced copy is memory too): over the limit,
    /// it is dropped with [`DecodeError::EventTooLong`] and decoding goes on
    /// after this blank line (or stops, with [`Overflow::Stop`]).
    #[inline]
    pub(super) fn dispatch<B: Source>(
        &mut self,
        buf: &mut B,
        next: usize,
    ) -> Result<Option<B::Frame>, DecodeError> {
        if !self.has_state() {
            buf.advance(next);
            self.pos = 0;
            self.scan = 0;
            return Ok(None);
        }
        let was_valid = self.input_valid;
        if !was_valid {
            match self.check_replacement(buf) {
                Ok(valid) => self.input_valid = valid,
                Err(error) => {
                    let error = self.overflow(buf, next, true, error);
                    if let Mode::Discard { .. } = self.mode {
                        // The blank line that ends the block was consumed.
                        self.mode = Mode::Normal;
                    }
                    return Err(error);
                }
            }
        }
        let frame = if let (1, None, None) = (self.data_lines, self.event_type, self.id) {
            // The commonest event: one data line, nothing else. What
            // `shared_event` would do, without its checks (measured: 8% of
            // the time on `heartbeat`, whose events come this way).
            let data = self.cut_data(buf, self.first_data, next);
            Some(B::event(B::absent(), data, &self.last_event_id))
        } else if self.data_lines > 1 {
            let [event_type, data] = self.join_block(buf, next);
            Some(B::event(event_type, data, &self.last_event_id))
        } else {
            // No data (an id-only block), or one data line shared without
            // copying.
            let data = (self.data_lines == 1).then_some(self.first_data);
            self.shared_event(buf, next, data, self.event_type, self.id)
        };
        self.input_valid = was_valid;
        self.clear_block();
        self.pos = 0;
        self.scan = 0;
        Ok(frame)
    }

    /// For the block `buf[..self.pos]` about to be dispatched: whether its
    /// data, event type and id are valid UTF-8 (`Ok(true)`), or, when not,
    /// the error if the block exceeds `max_event_len` once the replaced
    /// copies are counted: the whole data's (joined) when any of it is
    /// invalid, the event type's when it is.
    pub(super) fn check_replacement(&self, buf: &[u8]) -> Result<bool, DecodeError> {
        let value = |s: Span| &buf[s.start..s.end];
        let id_valid = self.id.is_none_or(|s| valid_utf8(value(s)));
        let mut replaced = 0usize;
        let type_valid = self.event_type.is_none_or(|s| valid_utf8(value(s)));
        if !type_valid {
            replaced = self.event_type.map_or(0, |s| replaced_len(value(s)));
        }
        let data_valid = match self.data_lines {
            0 => true,
            1 => valid_utf8(value(self.first_data)),
            _ => {
                let mut valid = true;
                for_each_data_value(&self.eol, &buf[..self.pos], |s| {
                    valid &= valid_utf8(value(s))
                });
                valid
            }
        };
        if !data_valid {
            let mut len = self.data_lines - 1;
            if self.data_lines == 1 {
                len += replaced_len(value(self.first_data));
            } else {
                for_each_data_value(&self.eol, &buf[..self.pos], |s| {
                    len += replaced_len(value(s))
                });
            }
            replaced = replaced.saturating_add(len);
        }
        if !(type_valid && data_valid)
            && self.pos.saturating_add(replaced) > self.config.max_event_len
        {
            return Err(DecodeError::EventTooLong {
                limit: self.config.max_event_len,
            });
        }
        Ok(id_valid && type_valid && data_valid)
    }

    /// Commits the block's id, then returns the event type and data of the
    /// block `buf[..self.pos]`, which has several `data` lines, and consumes
    /// `buf[..next]`.
    ///
    /// The data lines are found again here (the decoder keeps no record per
    /// line, so its bookkeeping does not grow with the block). In a
    /// `BytesMut` they are joined in place, at the front of the block, and
    /// cut out: joining needs no memory beyond the block's own. From a
    /// shared chunk they are copied into the join buffer (at most the
    /// chunk's size); a large join is then left to the event alone.
    pub(super) fn join_block<B: Source>(&mut self, buf: &mut B, next: usize) -> [B::Value; 2] {
        let end = self.pos;
        if let Some(id) = self.id {
            self.commit_id(buf, id);
        }
        let len = self.data_len + self.data_lines - 1;
        let event_type = self.event_type.filter(|s| s.start < s.end);
        // Joining in place overwrites the block: a borrowed event type must
        // move with the data.
        let long_type = event_type.filter(|s| !B::OWNED || s.len() > INLINE_CAP);
        let short_type = match event_type {
            Some(s) if long_type.is_none() => buf.short(s, &mut self.scratch),
            _ => B::absent(),
        };
        let valid = self.input_valid;
        if let Some(bytes) = buf.writable() {
            let written = join_in_place(&self.eol, &mut bytes[..end], long_type);
            debug_assert_eq!(written, len + long_type.map_or(0, Span::len));
            let joined = buf.take(written);
            buf.advance(next - written);
            if long_type.is_some() {
                let [data, event_type] = buf.text2(joined, len, &mut self.scratch);
                return [event_type, data];
            }
            return [short_type, buf.text(joined, valid, &mut self.scratch)];
        }
        let type_len = long_type.map_or(0, Span::len);
        let joined = &mut self.joined;
        reserve_in_steps(joined, len + type_len, JOIN_STEP);
        let mut first = true;
        for_each_data_value(&self.eol, &buf[..end], |v| {
            if !first {
                joined.extend_from_slice(b"\n");
            }
            first = false;
            joined.extend_from_slice(&buf[v.start..v.end]);
        });
        if let Some(t) = long_type {
            joined.extend_from_slice(&buf[t.start..t.end]);
        }
        let [data, long] = B::joined(joined, len, type_len, valid, &mut self.scratch);
        if !B::OWNED {
            self.joined_used = true;
        } else if len + type_len > FAST_JOIN_MAX {
            // Keep no handle on a large allocation: it is freed with the
            // event.
            self.joined = BytesMut::new();
        }
        buf.advance(next);
        [
            if long_type.is_some() {
                long
            } else {
                short_type
            },
            data,
        ]
    }

    /// The event type and data of a block in `buf` whose data lines
    /// (several, `len` bytes joined with LF) `block_event` just joined at the
    /// end of `self.joined`: the data is cut out of it (no allocation in
    /// steady state: the buffer's memory is reused once the events are
    /// dropped). A short event type is copied inline; a long one is joined
    /// after the data and cut out of the same buffer (one shared handle for
    /// the two).
    #[inline(always)]
    pub(super) fn joined_parts<B: Source>(
        &mut self,
        buf: &B,
        event_type: Option<Span>,
        len: usize,
    ) -> [B::Value; 2] {
        let event_type = event_type.filter(|s| s.start < s.end);
        self.joined_used |= !B::OWNED;
        match event_type {
            Some(s) if s.len() > INLINE_CAP => {
                reserve_in_steps(&mut self.joined, s.len(), JOIN_STEP);
                self.joined.extend_from_slice(&buf[s.start..s.end]);
                let [data, long] =
                    B::joined(&mut self.joined, len, s.len(), true, &mut self.scratch);
                [long, data]
            }
            short => {
                let event_type = short.map_or(B::absent(), |s| buf.short(s, &mut self.scratch));
                [
                    event_type,
                    B::joined_data(&mut self.joined, len, &mut self.scratch),
                ]
            }
        }
    }

    /// Takes the block `buf[..next]` and builds its event from slices of it,
    /// without copying: the data (if any) and the event type; it commits the
    /// id (a copy). Returns `None` for a block without data.
    #[inline]
    pub(super) fn shared_event<B: Source>(
        &mut self,
        buf: &mut B,
        next: usize,
        data: Option<Span>,
        event_type: Option<Span>,
        id: Option<Span>,
    ) -> Option<B::Frame> {
        let event_type = event_type.filter(|s| s.start < s.end);
        if let Some(id) = id {
            self.commit_id(buf, id);
        }
        if event_type.is_none_or(|s| s.len() <= INLINE_CAP) {
            // The common case: a short type is copied inline (cheaper than
            // a shared handle), and the data is cut out.
            let event_type = event_type.map_or(B::absent(), |s| buf.short(s, &mut self.scratch));
            let Some(span) = data else {
                buf.advance(next);
                return None;
            };
            let data = self.cut_data(buf, span, next);
            return Some(B::event(event_type, data, &self.last_event_id));
        }
        let block = buf.take(next);
        let span = data?;
        let valid = self.input_valid;
        let scratch = &mut self.scratch;
        let event_type = event_type.map_or(B::absent(), |s| {
            buf.text(B::sub(&block, s.start, s.end), valid, scratch)
        });
        let data = buf.text(B::sub(&block, span.start, span.end), valid, scratch);
        Some(B::event(event_type, data, &self.last_event_id))
    }

    /// Takes the block `buf[..next]` and returns the `span` of it as a
    /// text: `advance` + `take` cut it out with a single reference count
    /// update (none for borrowed frames).
    #[inline(always)]
    pub(super) fn cut_data<B: Source>(&mut self, buf: &mut B, span: Span, next: usize) -> B::Value {
        let data = buf.cut(span.start, span.end, next);
        buf.text(data, self.input_valid, &mut self.scratch)
    }

    /// Makes `buf[id]` the last event ID. A short ID is written inline, in
    /// place. A long one lives as long as the decoder keeps it, so it gets a
    /// buffer of its own: sharing the join buffer would pin it and make
    /// every later join allocate.
    #[inline(always)]
    pub(super) fn commit_id(&mut self, buf: &[u8], id: Span) {
        if id.len() <= INLINE_CAP {
            self.last_event_id
                .set_copy_lossy(&buf[id.start..], id.len());
            return;
        }
        self.commit_long_id(&buf[id.start..id.end]);
    }

    /// `commit_id` for an ID too long to keep inline. The old ID is let go
    /// first, so that its memory can be reused.
    #[inline(never)]
    pub(super) fn commit_long_id(&mut self, id: &[u8]) {
        self.last_event_id = Text::new();
        reserve_in_steps(&mut self.ids, id.len(), ID_STEP);
        self.ids.extend_from_slice(id);
        self.last_event_id = Text::from_utf8_lossy(self.ids.split().freeze());
    }
}

/// Calls `f` with the value of every `data` line of `block` (whole lines,
/// none blank), in order.
pub(super) fn for_each_data_value(eol: &Eol, block: &[u8], mut f: impl FnMut(Span)) {
    let mut at = 0;
    while at < block.len() {
        let (end, next) = eol.line_at(block, at);
        let line = &block[at..end];
        if line.first() != Some(&b':') {
            if let (true, value) = data_value(line) {
                f(Span {
                    start: at + value,
                    end,
                });
            }
        }
        at = next;
    }
}

/// Joins the values of the `data` lines of `block` (whole lines, none
/// blank) with LF at its front, followed by the value of `long_type` (the
/// block's event type), and returns how many bytes that took. Every value
/// moves towards the front: each line gives up at least its field name, so
/// nothing is overwritten before it is moved (the event type, moved in line
/// order too, is rotated to the end).
pub(super) fn join_in_place(eol: &Eol, block: &mut [u8], long_type: Option<Span>) -> usize {
    let (mut w, mut at, mut first, mut type_at) = (0, 0, true, None);
    while at < block.len() {
        let (end, next) = eol.line_at(block, at);
        let line = &block[at..end];
        if line.first() != Some(&b':') {
            let (is_data, value) = data_value(line);
            let value = Span {
                start: at + value,
                end,
            };
            if is_data && !first {
                block[w] = b'\n';
                w += 1;
            }
            if is_data || long_type.is_some_and(|t| t.start == value.start) {
                if !is_data {
                    type_at = Some(w);
                }
                first &= !is_data;
                block.copy_within(value.start..value.end, w);
                w += value.len();
            }
        }
        at = next;
    }
    if let (Some(t), Some(from)) = (long_type, type_at) {
        block[from..w].rotate_left(t.len());
    }
    w
}
