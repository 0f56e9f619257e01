//! The fast paths: the shapes real streams are made of, each read in one
//! tight pass, each giving up (having consumed nothing it should not have)
//! on anything else, which the next path then reads with exactly the same
//! result. They are:
//!
//! * **single line** (`single_line_event`): one `data:` line and its blank
//!   line, at the start of a block;
//! * **whole block** (`block_event`): a block of `data:`, `event:`, `id:`
//!   and unreported comment lines, complete in the buffer, at the start of
//!   a block;
//! * **run of lines** (`run_lines`, inside the general path's loop): the
//!   lines that need only bookkeeping, up to the blank line the caller
//!   hands to `dispatch::dispatch`;
//! * **keep-alives** (`skip_comment_run`): runs of identical short comment
//!   lines between blocks, skipped a word at a time.
//!
//! The order: `fast_event` (keep-alives, single line, whole block), then
//! `general::decode_general`, whose loop tries the single line again at a
//! block start, then the run of lines, then the **general line path**
//! (`general::line`, one line at a time, which hands a blank line to
//! `dispatch::dispatch` too). The reference decoder of the tests
//! (`tests/support/oracle.rs`), the proptests and the fuzzer keep all of
//! them equal.
//!
//! # Where each rule is enforced
//!
//! The [event stream interpretation] rule by rule, in every path. "Gives
//! up" means: this path consumes nothing and leaves the bytes to the next
//! one; "stops" (run of lines) means: it keeps what it read so far and
//! leaves the line to the general line path. Functions without a module
//! are in this one.
//!
//! | rule | single line | whole block | run of lines | general line path | keep-alives |
//! |---|---|---|---|---|---|
//! | one leading BOM stripped | never sees it: `at_plain_block_start` requires `!bom_pending` | as single line | runs after `general::strip_bom` | `general::strip_bom` | as single line, or inside `run_lines` |
//! | lines end at CR, LF or CRLF | `Eol::find_short` and `eol::after_eol`, for the line and its blank line; a CR last in the buffer: gives up | `field_end` and `after_eol`; a CR last: gives up | `field_end` and `after_eol`; a CR last: stops | `Eol::find_short` and `after_eol`; a CR last in the buffer sets `skip_lf`, and the next call drops a LF that follows (`decode_general`, `limits::discard`) | `eol::eol_mask`: only a line ending in LF within 8 bytes |
//! | comment lines (`:`) ignored, or reported with `comments(true)` | not `data:`: gives up | `fields::field_name` gives `Field::Comment` (ignored) when not reported, `None` (gives up) when reported | as whole block; a run of keep-alives outside a block goes to `skip_comment_run` | `line`: `Frame::Comment` when reported (its replaced length counted against `max_line_len`), else ignored | skips unreported comment lines only |
//! | name and value split at the first colon, one leading space dropped | `data:` prefix; one space after it | `fields::field_name` (exactly `data:`, `event:`, `id:`; anything else: gives up), then one space | as whole block (anything else: stops) | `data:` prefix inline, else `fields::split_field` (no colon: the whole line is the name, the value empty); comments likewise; `dispatch` finds data values again with `fields::data_value` | not a field |
//! | `data` appended, lines joined with LF | the one line, cut from the input | one line shared by `dispatch::shared_event`; from a second one on, each copied into the join buffer as it is found (`dispatch::joined_parts` cuts them out) | `general::record` (count, length, first span); the other lines are found again at `dispatch` (`for_each_data_value`, `join_in_place`) | as run of lines | not a field |
//! | `event` sets the type (last wins; empty means `message`) | not `data:`: gives up | last one kept; an empty one dropped in `joined_parts` / `shared_event` | `record`; an empty one dropped in `join_block` / `shared_event` | as run of lines | not a field |
//! | `id` with NUL ignored | not `data:`: gives up | `fields::valid_id_at` | `fields::valid_id` | `fields::valid_id` | not a field |
//! | `retry` only when ASCII digits | not `data:`: gives up | `field_name` gives `None`: gives up | stops | `fields::parse_retry`, `Frame::Retry` at once | not a field |
//! | unknown fields ignored | gives up | gives up | stops | `line` ignores them | not a field |
//! | a blank line dispatches the block | the blank line must follow the data line | the loop ends at a blank line once there is data | returns where the blank line ends; the caller calls `dispatch` | an empty line goes to `dispatch` | a blank line right after the comment only outside a block (nothing to dispatch) |
//! | a block without data dispatches nothing (its id still counts) | has data | no data at the blank line: gives up | `dispatch` → `shared_event` returns `None` after `commit_id` | as run of lines | nothing to dispatch |
//! | the last event ID changes only at a blank line; an unterminated block at the end is dropped | the event carries the current one | `block_event` or `shared_event` commit the id (`commit_id`) once the checks passed | `dispatch` → `join_block` or `shared_event` → `commit_id` | as run of lines; `Decoder::decode_eof` drops an unterminated block uncommitted | nothing to commit |
//! | invalid UTF-8 becomes U+FFFD, replaced length counted against `max_event_len` | invalid data: gives up | a block all ASCII needs no check; else invalid type, single data line or joined data: gives up | `dispatch::check_replacement` | as run of lines | skipped unread |
//! | limits (`max_line_len`, `max_event_len`) | over either: gives up | over either, or past `FAST_BLOCK_MAX`: gives up | `limits::crossed`: stops | `crossed`, then `limits::overflow`; partial lines by `limits::check_partial` | `crossed` |
//!
//! [event stream interpretation]: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation

use super::dispatch::JOIN_STEP;
use super::eol::{after_eol, eol_mask};
use super::fields::{Field, field_name, valid_id, valid_id_at, valid_utf8};
use super::limits::{LONG_LINE, reserve_in_steps};
use super::{Decoder, Mode};
use crate::source::{Source, Span};
use crate::text::is_ascii;

/// The largest block the whole-block fast path takes: larger ones go line by
/// line and are joined in place where the buffer allows, so that joining
/// does not double their memory. Checked with the event limit, at no extra
/// cost.
pub(super) const FAST_BLOCK_MAX: usize = 16 * 1024;

impl Decoder {
    /// The fast paths of `decode` and `decode_bytes`, tried at the start of
    /// a plain block: one `data:` line, then a whole block of simple lines.
    /// `None` (having consumed nothing) leaves the bytes to the general path.
    #[inline(always)]
    pub(super) fn fast_event<B: Source>(&mut self, buf: &mut B) -> Option<B::Frame> {
        if !self.at_plain_block_start() {
            return None;
        }
        self.skip_keep_alives(buf);
        if let Some(frame) = self.single_line_event(buf) {
            return Some(frame);
        }
        // `single_line_event` records in `scan` a line it found incomplete.
        if self.scan == 0 {
            return self.block_event(buf);
        }
        None
    }

    /// Keep-alive comment lines before a block, at a word a line (here
    /// rather than in `block_event`, whose loop stays tight): consumed,
    /// unless comments are reported.
    #[inline(always)]
    pub(super) fn skip_keep_alives<B: Source>(&self, buf: &mut B) {
        if buf.first() == Some(&b':') && !self.config.comments {
            if let Some(after) = self.skip_comment_run(buf, 0, true) {
                buf.advance(after);
            }
        }
    }

    /// Nothing unusual is pending and no line of a block has been read: the
    /// fast path may try the next bytes.
    #[inline]
    pub(super) fn at_plain_block_start(&self) -> bool {
        self.scan == 0
            && self.mode == Mode::Normal
            && !self.bom_pending
            && !self.skip_lf
            && !self.has_state()
    }

    /// The fast path for the commonest block: one `data:` line then a blank
    /// line, both complete in `buf`, at the start of a block. Returns `None`
    /// (having consumed nothing) for anything else, which the general path
    /// then handles with exactly the same result; it records in `scan` how
    /// far it looked, so nothing is scanned twice.
    #[inline(always)]
    pub(super) fn single_line_event<B: Source>(&mut self, buf: &mut B) -> Option<B::Frame> {
        if !buf.starts_with(b"data:") {
            return None;
        }
        let Some((end, ascii)) = buf.line_end_ascii(&self.eol, 5) else {
            // Incomplete line: the general path resumes from here.
            self.scan = buf.len();
            return None;
        };
        if end >= LONG_LINE {
            self.long_line = end.min(self.config.max_line_len);
        }
        self.scan = end;
        let next = after_eol(buf, end)?;
        if !matches!(buf.get(next), Some(b'\n' | b'\r')) {
            return None;
        }
        let block_end = after_eol(buf, next)?;
        if end > self.config.max_line_len || end > self.config.max_event_len {
            return None;
        }
        let value = 5 + usize::from(buf.get(5) == Some(&b' '));
        if !ascii && !self.input_valid && !valid_utf8(&buf[value..end]) {
            // Replacement is counted against the limit: the general path.
            return None;
        }
        let data = buf.cut(value, end, block_end);
        self.scan = 0;
        let data = buf.text(data, true, &mut self.scratch);
        Some(B::event(B::absent(), data, &self.last_event_id))
    }

    /// The fast path for a whole block of `data:`, `event:` and `id:` lines
    /// (and comments that are not reported) ended by a blank line, complete
    /// in `buf`, at the start of a block: one pass that copies data lines as
    /// it finds them (from the second on, into the join buffer) and builds
    /// the event. Returns `None` (having consumed nothing) for anything else,
    /// which the general path then handles with exactly the same result:
    /// other fields, a limit reached, an incomplete block, a block with no
    /// data.
    #[inline]
    pub(super) fn block_event<B: Source>(&mut self, buf: &mut B) -> Option<B::Frame> {
        let comments = self.config.comments;
        let max_line = self.config.max_line_len;
        // Past either, the general path takes the block.
        let max_end = self.config.max_event_len.min(FAST_BLOCK_MAX);
        let mut pos = 0;
        let mut event_type = None;
        let mut id = None;
        // The first data line, copied only once a second one comes (a single
        // line is shared, not copied); how many; their total length.
        let mut first = Span { start: 0, end: 0 };
        let mut lines = 0;
        let mut data_len = 0;
        // Where this block's data is joined in `self.joined`, which holds no
        // unfinished join here; a block given up leaves it as it was.
        let mark = self.joined.len();
        let bail = |this: &mut Self| {
            this.joined.truncate(mark);
            None
        };
        let block_end = loop {
            let Some(&b) = buf.get(pos) else {
                return bail(self);
            };
            if b == b'\n' || b == b'\r' {
                match after_eol(buf, pos) {
                    Some(next) if lines > 0 => break next,
                    _ => return bail(self),
                }
            }
            let Some((field, name_len)) = field_name(&buf[pos..], comments) else {
                return bail(self);
            };
            let from = pos + name_len;
            let Some(end) = self.field_end(buf, field, from) else {
                return bail(self);
            };
            let Some(next) = after_eol(buf, end) else {
                return bail(self);
            };
            if end - pos > max_line || end > max_end {
                return bail(self);
            }
            let span = Span {
                start: from + usize::from(buf[from] == b' '),
                end,
            };
            match field {
                Field::Data => {
                    lines += 1;
                    data_len += span.len();
                    if lines == 1 {
                        first = span;
                    } else {
                        let joined = &mut self.joined;
                        // Room for the rest is reserved: each append is a
                        // copy, no reallocation.
                        if lines == 2 {
                            reserve_in_steps(joined, first.len() + 1 + span.len(), JOIN_STEP);
                            joined.extend_from_slice(&buf[first.start..first.end]);
                        } else {
                            reserve_in_steps(joined, 1 + span.len(), JOIN_STEP);
                        }
                        joined.extend_from_slice(b"\n");
                        joined.extend_from_slice(&buf[span.start..span.end]);
                    }
                }
                Field::Event => event_type = Some(span),
                Field::Id if valid_id_at(buf, span.start, span.end) => id = Some(span),
                Field::Id | Field::Comment => {}
            }
            pos = next;
        };
        // Invalid UTF-8 in the data or type is counted against the limit
        // once replaced: the general path does that. A block that is all
        // ASCII (one pass over it in the input, which the line-end search
        // just read) needs no check of its fields.
        let was_valid = self.input_valid;
        let checked = was_valid || is_ascii(&buf[..block_end]);
        let valid = |s: Span| checked || valid_utf8(&buf[s.start..s.end]);
        if !event_type.is_none_or(valid) {
            return bail(self);
        }
        if lines == 1 {
            // One data line: shared, not copied.
            if !valid(first) {
                return bail(self);
            }
            self.input_valid = true;
            let frame = self.shared_event(buf, block_end, Some(first), event_type, id);
            self.input_valid = was_valid;
            return frame;
        }
        if !checked && !valid_utf8(&self.joined[mark..]) {
            return bail(self);
        }
        if let Some(id) = id {
            self.commit_id(buf, id);
        }
        let len = data_len + lines - 1;
        let [event_type, data] = self.joined_parts(buf, event_type, len);
        buf.advance(block_end);
        // Built last, right where it is returned: built earlier, it would be
        // moved as a whole right after its fields were stored, which stalls
        // store forwarding (measured: 4% of the time on `multiline`).
        Some(B::event(event_type, data, &self.last_event_id))
    }

    /// Where the line whose value starts at `from` ends (its first CR or
    /// LF), if it is complete. Data lines tend to be long: they go straight
    /// to the vector search.
    #[inline(always)]
    pub(super) fn field_end(&self, buf: &[u8], field: Field, from: usize) -> Option<usize> {
        let found = match field {
            Field::Data => self.eol.find(&buf[from..]),
            _ => self.eol.find_short(&buf[from..]),
        };
        found.map(|i| from + i)
    }

    /// Consumes, in one tight loop, the lines that need nothing but
    /// bookkeeping: `data:`, `event:` and `id:` lines, comments that are not
    /// reported, and blank lines between blocks (keep-alives). Returns
    /// `Some(next)` when a blank line ending at `next` closes a block that
    /// holds state, for the caller to dispatch. It stops (returning `None`)
    /// at any other line, a line that exceeds a limit, an incomplete line or
    /// a CR ending the buffer, and leaves those to the general path, which
    /// gives exactly the same result line by line.
    #[inline]
    pub(super) fn run_lines<B: Source>(&mut self, buf: &mut B) -> Option<usize> {
        if self.scan != self.pos {
            return None;
        }
        let comments = self.config.comments;
        let mut state = self.has_state();
        let mut pos = self.pos;
        let mut scanned = pos;
        let result = loop {
            let Some(&first) = buf.get(pos) else {
                break None;
            };
            if first == b'\n' || first == b'\r' {
                let Some(next) = after_eol(buf, pos) else {
                    break None;
                };
                if state {
                    break Some(next);
                }
                // A blank line with nothing pending dispatches nothing.
                pos = next;
                scanned = pos;
                continue;
            }
            let Some((field, name_len)) = field_name(&buf[pos..], comments) else {
                break None;
            };
            if field == Field::Comment && !state {
                if let Some(after) = self.skip_comment_run(buf, pos, true) {
                    pos = after;
                    scanned = pos;
                    continue;
                }
            }
            let from = pos + name_len;
            let Some(end) = self.field_end(buf, field, from) else {
                scanned = buf.len();
                break None;
            };
            let Some(next) = after_eol(buf, end) else {
                break None;
            };
            if self.crossed(pos, end, state).is_some() {
                break None;
            }
            let value = from + usize::from(buf[from] == b' ');
            let span = Span { start: value, end };
            match field {
                Field::Comment => {}
                Field::Id if !valid_id(&buf[value..end]) => {}
                _ if !state => {
                    // This line starts a block: drop what went before, so
                    // that spans count from the block's first byte.
                    if end - pos > self.config.max_event_len {
                        break None;
                    }
                    buf.advance(pos);
                    let shift = |s: Span| Span {
                        start: s.start - pos,
                        end: s.end - pos,
                    };
                    self.record(field, shift(span));
                    state = true;
                    pos = next - pos;
                    scanned = pos;
                    continue;
                }
                _ => self.record(field, span),
            }
            pos = next;
            scanned = pos;
        };
        if state {
            self.pos = pos;
            self.scan = scanned;
        } else if pos > 0 {
            buf.advance(pos);
            self.pos = 0;
            self.scan = scanned - pos;
        }
        result
    }

    /// Skips the keep-alives idle servers send, between blocks: a comment line
    /// that is not reported, at most 8 bytes with its LF (`: ping\n`),
    /// optionally (when `blank` allows) followed by a blank line
    /// (`: ping\n\n`), and any identical ones right after it. Returns where
    /// the run ends, or `None` when the line at `pos` is not such a line.
    #[inline]
    pub(super) fn skip_comment_run(&self, buf: &[u8], pos: usize, blank: bool) -> Option<usize> {
        let word: [u8; 8] = buf
            .get(pos..pos + 8)?
            .try_into()
            .expect("a slice of 8 bytes");
        let w = u64::from_le_bytes(word);
        let mask = eol_mask(w);
        // The lowest flagged byte is exact (see `eol_mask`).
        let k = (mask.trailing_zeros() / 8) as usize;
        if mask == 0 || (w >> (8 * k)) as u8 != b'\n' || self.crossed(pos, pos + k, false).is_some()
        {
            return None;
        }
        let len = if blank && k < 7 && (w >> (8 * (k + 1))) as u8 == b'\n' {
            k + 2
        } else {
            k + 1
        };
        // An idle server repeats the same keep-alive: skip a run of
        // identical ones at a fixed stride, which lets the CPU run ahead
        // instead of waiting on each load.
        let keep = u64::MAX >> (64 - 8 * len);
        let same = w & keep;
        let mut pos = pos + len;
        while let Some(next) = buf.get(pos..pos + 8) {
            let next: [u8; 8] = next.try_into().expect("a slice of 8 bytes");
            if u64::from_le_bytes(next) & keep != same {
                break;
            }
            pos += len;
        }
        Some(pos)
    }
}
