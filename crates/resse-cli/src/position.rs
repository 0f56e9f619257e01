//! Where a decoder limit was exceeded: the byte offset of the offending line
//! or event in the input, for `decode`'s limit messages.
//!
//! The decoder reports *that* a limit was exceeded, not where, and when it
//! notices depends on how the input was chunked. [`Positions`] follows the
//! input's lines alongside it (the same bytes, fed before the decoder sees
//! them) and keeps, in order, the lines longer than `max_line_len` and the
//! blocks longer than `max_event_len`. When the decoder reports a limit, the
//! first such line or block after the point where the decoder last resumed
//! is the one: the decoder reads in order and reports the first offence,
//! then skips up to the next blank line (which is where it resumes).
//!
//! Lines are counted as the decoder counts them (CR, LF or CRLF ends one; a
//! leading BOM is not part of the first). A block counts from its first line
//! to the end of its current line's content, terminators in between
//! included; the decoder counts an event from its first field, so a block
//! that starts with comment lines may be flagged here first. Offsets are of
//! the raw input, 0-based.

use std::collections::VecDeque;

/// The UTF-8 byte order mark, stripped by the decoder at the start of a stream.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// Which limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    /// `max_line_len`.
    Line,
    /// `max_event_len`.
    Event,
}

/// An over-limit line or block.
#[derive(Clone, Copy, Debug)]
struct Offence {
    /// Offset of its first byte.
    start: u64,
    /// Offset just after the first blank line that follows it, once seen:
    /// where the decoder resumes after skipping it.
    resume: Option<u64>,
}

/// Follows the lines and blocks of the input (see the module docs).
#[derive(Debug)]
pub(crate) struct Positions {
    max_line_len: u64,
    max_event_len: u64,
    /// Bytes seen.
    offset: u64,
    /// How many bytes of a leading BOM matched (3: there is one); `None`
    /// once the start of the input is past.
    bom: Option<usize>,
    /// Offset of the current line's first byte.
    line_start: u64,
    /// Offset of the current block's first byte, once it has one.
    block_start: Option<u64>,
    /// The previous byte was a CR (an LF now completes its line ending).
    after_cr: bool,
    line_flagged: bool,
    block_flagged: bool,
    long_lines: VecDeque<Offence>,
    big_blocks: VecDeque<Offence>,
    /// Where the decoder resumed after its last skip.
    resumed: u64,
    /// The last skip's blank line has not been seen yet.
    resume_pending: bool,
}

impl Positions {
    /// Follows an input decoded with these limits.
    pub(crate) fn new(max_line_len: usize, max_event_len: usize) -> Self {
        Self {
            max_line_len: u64::try_from(max_line_len).unwrap_or(u64::MAX),
            max_event_len: u64::try_from(max_event_len).unwrap_or(u64::MAX),
            offset: 0,
            bom: Some(0),
            line_start: 0,
            block_start: None,
            after_cr: false,
            line_flagged: false,
            block_flagged: false,
            long_lines: VecDeque::new(),
            big_blocks: VecDeque::new(),
            resumed: 0,
            resume_pending: false,
        }
    }

    /// Follows `bytes`, the next bytes of the input. Call it before the
    /// decoder gets them.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            let at = self.offset;
            self.offset += 1;
            if let Some(matched) = self.bom {
                if BOM.get(matched) == Some(&b) && at == matched as u64 {
                    self.bom = (matched + 1 < BOM.len()).then_some(matched + 1);
                    if matched + 1 == BOM.len() {
                        self.line_start = self.offset;
                    }
                    continue;
                }
                self.bom = None;
            }
            match b {
                b'\n' if self.after_cr => {
                    self.after_cr = false;
                    self.line_start = self.offset;
                }
                b'\r' | b'\n' => {
                    self.after_cr = b == b'\r';
                    self.end_line(at);
                }
                _ => {
                    self.after_cr = false;
                    self.content(at);
                }
            }
        }
    }

    /// A content byte at `at`.
    fn content(&mut self, at: u64) {
        let block_start = *self.block_start.get_or_insert(self.line_start);
        if !self.line_flagged && at + 1 - self.line_start > self.max_line_len {
            self.line_flagged = true;
            self.long_lines.push_back(Offence {
                start: self.line_start,
                resume: None,
            });
        }
        if !self.block_flagged && at + 1 - block_start > self.max_event_len {
            self.block_flagged = true;
            self.big_blocks.push_back(Offence {
                start: block_start,
                resume: None,
            });
        }
    }

    /// A line ending at `at`.
    fn end_line(&mut self, at: u64) {
        let blank = at == self.line_start;
        self.line_start = self.offset;
        self.line_flagged = false;
        if !blank {
            return;
        }
        self.block_start = None;
        self.block_flagged = false;
        let after = self.offset;
        for offence in self.long_lines.iter_mut().chain(self.big_blocks.iter_mut()) {
            offence.resume.get_or_insert(after);
        }
        if self.resume_pending {
            self.resume_pending = false;
            self.resumed = after;
        }
    }

    /// The decoder reported `limit`: the offset of the line (for
    /// [`Limit::Line`]) or block ([`Limit::Event`]) it is about, if found.
    pub(crate) fn claim(&mut self, limit: Limit) -> Option<u64> {
        let resumed = self.resumed;
        self.long_lines.retain(|o| o.start >= resumed);
        self.big_blocks.retain(|o| o.start >= resumed);
        let offence = match limit {
            Limit::Line => self.long_lines.pop_front(),
            Limit::Event => self.big_blocks.pop_front(),
        }?;
        match offence.resume {
            Some(at) => self.resumed = at,
            None => self.resume_pending = true,
        }
        Some(offence.start)
    }
}

#[cfg(test)]
mod tests {
    use super::{Limit, Positions};

    fn fed(max_line: usize, max_event: usize, input: &[u8], chunk: usize) -> Positions {
        let mut p = Positions::new(max_line, max_event);
        for piece in input.chunks(chunk) {
            p.feed(piece);
        }
        p
    }

    #[test]
    fn finds_long_lines_and_big_blocks_in_order() {
        let input = b"data: ok\n\ndata: 0123456789abcdef\ndata: more\n\ndata: x\r\ndata: 0123456789abc\r\n\r\n";
        for chunk in [1, 2, 5, 1000] {
            let mut p = fed(10, 1000, input, chunk);
            assert_eq!(p.claim(Limit::Line), Some(10));
            assert_eq!(p.claim(Limit::Line), Some(54));
            assert_eq!(p.claim(Limit::Line), None);
            let mut p = fed(1000, 20, input, chunk);
            assert_eq!(p.claim(Limit::Event), Some(10));
            assert_eq!(p.claim(Limit::Event), Some(45));
            assert_eq!(p.claim(Limit::Event), None);
        }
    }

    #[test]
    fn offences_inside_a_skipped_event_are_not_claimed() {
        // The first event has two long lines: one report, one skip.
        let input = b"data: 0123456789abc\ndata: 0123456789abc\n\ndata: 0123456789abc\n\n";
        let mut p = fed(10, 1000, input, 3);
        assert_eq!(p.claim(Limit::Line), Some(0));
        assert_eq!(p.claim(Limit::Line), Some(41));
        // A line limit report skips the block the event limit would flag too.
        let mut p = fed(10, 25, input, 7);
        assert_eq!(p.claim(Limit::Line), Some(0));
        assert_eq!(p.claim(Limit::Line), Some(41));
    }

    #[test]
    fn a_skip_may_end_after_the_report() {
        let mut p = Positions::new(10, 1000);
        p.feed(b"data: 0123456789abc");
        assert_eq!(p.claim(Limit::Line), Some(0));
        p.feed(b"\ndata: 0123456789abc\n\ndata: 0123456789abc\n");
        assert_eq!(p.claim(Limit::Line), Some(41));
    }

    #[test]
    fn a_leading_bom_is_not_part_of_the_first_line() {
        let mut p = fed(8, 1000, b"\xEF\xBB\xBFdata: ok\n\n", 1);
        assert_eq!(p.claim(Limit::Line), None);
        let mut p = fed(8, 1000, b"\xEF\xBB\xBFdata: ok!\n\n", 2);
        assert_eq!(p.claim(Limit::Line), Some(3));
        // Not a BOM: counted.
        let mut p = fed(8, 1000, b"\xEF\xBBdata: o\n\n", 1);
        assert_eq!(p.claim(Limit::Line), Some(0));
    }
}
