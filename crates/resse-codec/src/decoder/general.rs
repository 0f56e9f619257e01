//! The general path: everything the fast paths leave, one line at a time
//! (the BOM, a CR ending the buffer, `retry:`, unknown fields, reported
//! comments, partial lines), and the block state its lines record.

use core::time::Duration;

use super::eol::after_eol;
use super::fields::{BOM, Field, parse_retry, replaced_len, split_field, valid_id, valid_utf8};
use super::limits::LONG_LINE;
use super::{Decoder, Mode};
use crate::DecodeError;
use crate::source::{Source, Span};

impl Decoder {
    /// Everything but the fast path: one line at a time.
    #[inline(never)]
    pub(super) fn decode_general<B: Source>(
        &mut self,
        buf: &mut B,
    ) -> Result<Option<B::Frame>, DecodeError> {
        if self.scan > buf.len() {
            // The buffer contract was broken (bytes were removed behind our
            // back): start afresh rather than index out of bounds.
            self.pos = 0;
            self.scan = 0;
            self.clear_block();
        }
        loop {
            match self.mode {
                Mode::Normal => {}
                Mode::Stopped => {
                    buf.clear();
                    return Ok(None);
                }
                Mode::Discard { .. } => {
                    if !self.discard(buf) {
                        return Ok(None);
                    }
                    continue;
                }
            }
            if self.bom_pending && !self.strip_bom(buf) {
                return Ok(None);
            }
            if self.skip_lf {
                let Some(&b) = buf.get(self.pos) else {
                    return Ok(None);
                };
                self.skip_lf = false;
                if b == b'\n' {
                    let next = self.pos + 1;
                    self.finish_line(buf, next);
                }
            }
            if self.at_plain_block_start() {
                if let Some(frame) = self.single_line_event(buf) {
                    return Ok(Some(frame));
                }
            }
            if let Some(next) = self.run_lines(buf) {
                if let Some(frame) = self.dispatch(buf, next)? {
                    return Ok(Some(frame));
                }
                continue;
            }
            // A blank line (the end of almost every event) needs no scan.
            let end = match buf.get(self.scan) {
                Some(b'\n' | b'\r') => self.scan,
                _ => match self.eol.find_short(&buf[self.scan..]) {
                    Some(i) => self.scan + i,
                    None => {
                        self.scan = buf.len();
                        return self.check_partial(buf).map(|()| None);
                    }
                },
            };
            let next = after_eol(buf, end).unwrap_or_else(|| {
                self.skip_lf = true;
                end + 1
            });
            if let Some(frame) = self.line(buf, end, next)? {
                return Ok(Some(frame));
            }
        }
    }

    /// Strips a leading UTF-8 BOM. Returns false when more bytes are needed
    /// to tell. (At the end of input a partial BOM is just an unterminated
    /// line, which `decode_eof` discards.)
    pub(super) fn strip_bom<B: Source>(&mut self, buf: &mut B) -> bool {
        let n = buf.len().min(BOM.len());
        if buf[..n] == BOM[..n] {
            if n < BOM.len() {
                return false;
            }
            buf.advance(n);
        }
        self.bom_pending = false;
        true
    }

    /// Ends the current line at `next`: keeps it when the block holds state,
    /// drops it from the buffer otherwise.
    #[inline]
    pub(super) fn finish_line<B: Source>(&mut self, buf: &mut B, next: usize) {
        if self.has_state() {
            self.pos = next;
            self.scan = next;
        } else {
            buf.advance(next);
            self.pos = 0;
            self.scan = 0;
        }
    }

    /// Interprets the line `buf[pos..end]`, whose terminator ends at `next`.
    #[inline]
    pub(super) fn line<B: Source>(
        &mut self,
        buf: &mut B,
        end: usize,
        next: usize,
    ) -> Result<Option<B::Frame>, DecodeError> {
        let start = self.pos;
        if start == end {
            return self.dispatch(buf, next);
        }
        let state_before = self.has_state();
        if let Some(error) = self.crossed(start, end, state_before) {
            return Err(self.overflow(buf, next, true, error));
        }
        let line = &buf[start..end];
        let mut frame = None;
        if line.starts_with(b"data:") {
            let value = start + 5 + usize::from(line.get(5) == Some(&b' '));
            self.push_data(value, end);
        } else if line[0] == b':' {
            if self.config.comments {
                let value = start + 1 + usize::from(line.get(1) == Some(&b' '));
                let text = &buf[value..end];
                if !valid_utf8(text) && replaced_len(text) > self.config.max_line_len {
                    // Its replaced copy would exceed the line limit.
                    let limit = self.config.max_line_len;
                    return Err(self.overflow(buf, next, true, DecodeError::LineTooLong { limit }));
                }
                if !self.has_state() {
                    // The line is all there is in the buffer's front: hand it
                    // out without copying.
                    let line = buf.take(next);
                    let text = buf.text(B::sub(&line, value, end), false, &mut self.scratch);
                    self.pos = 0;
                    self.scan = 0;
                    return Ok(Some(B::comment(text)));
                }
                let text = buf.copied(Span { start: value, end }, &mut self.scratch);
                frame = Some(B::comment(text));
            }
        } else {
            let (name_end, value) = split_field(line);
            let (name_end, value) = (start + name_end, start + value);
            let span = Span { start: value, end };
            match &buf[start..name_end] {
                b"data" => self.record(Field::Data, span),
                b"event" => self.record(Field::Event, span),
                b"id" if valid_id(&buf[value..end]) => self.record(Field::Id, span),
                b"retry" => {
                    if let Some(ms) = parse_retry(&buf[value..end]) {
                        frame = Some(B::retry(Duration::from_millis(ms)));
                    }
                }
                _ => {}
            }
        }
        if !state_before && self.has_state() && end > self.config.max_event_len {
            // This line started the block and is already too big for it.
            let limit = self.config.max_event_len;
            return Err(self.overflow(buf, next, true, DecodeError::EventTooLong { limit }));
        }
        self.finish_line(buf, next);
        Ok(frame)
    }

    /// Records the value of a `data`, `event` or `id` line.
    #[inline]
    pub(super) fn record(&mut self, field: Field, span: Span) {
        match field {
            Field::Data => self.push_data(span.start, span.end),
            Field::Event => self.event_type = Some(span),
            Field::Id => self.id = Some(span),
            Field::Comment => {}
        }
    }

    #[inline]
    pub(super) fn push_data(&mut self, start: usize, end: usize) {
        if end - start >= LONG_LINE {
            self.long_line = end - start;
        }
        if self.data_lines == 0 {
            self.first_data = Span { start, end };
        }
        self.data_lines += 1;
        self.data_len += end - start;
    }
}
