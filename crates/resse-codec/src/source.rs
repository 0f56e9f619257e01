//! What the decoder reads from and what it makes of it: the one seam between
//! the field rules (in `decoder/`, written once) and the two kinds of
//! output, owned [`Frame`]s whose texts share the input (`BytesMut`,
//! `Bytes`) and borrowed frames whose texts point into it
//! (`crate::borrowed`).

use alloc::string::String;
use core::time::Duration;

use bytes::{Buf, Bytes, BytesMut};

use crate::decoder::Eol;
use crate::{Event, Frame, Text};

/// A byte range `start..end` of the block being read, relative to the front
/// of the buffer (which is where the block starts).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Span {
    #[inline]
    pub(crate) fn len(self) -> usize {
        self.end - self.start
    }
}

/// Memory the borrowed frames of one call point into, besides the input:
/// U+FFFD replacements. Cleared at the next call.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub(crate) lossy: String,
}

/// A buffer the decoder reads from, and how it turns the pieces it cuts
/// from it into frames.
pub(crate) trait Source: core::ops::Deref<Target = [u8]> {
    /// The first bytes of the buffer, split off: shared `Bytes`, or where
    /// they were.
    type Piece;
    /// A field of a frame: a [`Text`], or where its text is.
    type Value;
    /// A frame.
    type Frame;
    /// Whether values share memory with the buffers they come from (owned),
    /// rather than pointing into them until the next call (borrowed).
    const OWNED: bool;

    /// Drops the first `n` bytes.
    fn advance(&mut self, n: usize);
    /// Splits off the first `n` bytes.
    fn take(&mut self, n: usize) -> Self::Piece;
    /// Splits off the first `next` bytes and keeps `start..end` of them
    /// (one reference count update for the owned kind).
    fn cut(&mut self, start: usize, end: usize, next: usize) -> Self::Piece;
    /// Drops everything.
    fn clear(&mut self);
    /// Makes room for `total` bytes in all, when the buffer can grow.
    fn make_room(&mut self, total: usize);
    /// The buffer's bytes, writable, when the decoder may rewrite the block
    /// it has read in place; `None` for shared chunks.
    fn writable(&mut self) -> Option<&mut [u8]>;
    /// Where the line whose bytes start at `from` ends (its first CR or LF,
    /// from the front), and whether those bytes are known to be ASCII
    /// (`false`: not ASCII, or not known): `eol`'s word-at-a-time scan, or
    /// the chunk's line index where the buffer has one.
    #[inline(always)]
    fn line_end_ascii(&mut self, eol: &Eol, from: usize) -> Option<(usize, bool)> {
        eol.line_end_ascii(self, from)
    }

    /// `piece[start..end]`.
    fn sub(piece: &Self::Piece, start: usize, end: usize) -> Self::Piece;
    /// The text of `piece`, with invalid UTF-8 replaced unless `valid` says
    /// it was checked.
    fn text(&self, piece: Self::Piece, valid: bool, scratch: &mut Scratch) -> Self::Value;
    /// The text of `piece`'s first `at` bytes and of the rest.
    fn text2(&self, piece: Self::Piece, at: usize, scratch: &mut Scratch) -> [Self::Value; 2];
    /// The text of a short field still in the buffer at `span`, which is
    /// about to be dropped (the owned kind copies it inline).
    fn short(&self, span: Span, scratch: &mut Scratch) -> Self::Value;
    /// The text of a field still in the buffer at `span` that stays there
    /// until the frame is handed out (the owned kind copies it).
    fn copied(&self, span: Span, scratch: &mut Scratch) -> Self::Value;
    /// No text (an event without a type).
    fn absent() -> Self::Value;
    /// The text of `joined[..len]`, then of the `type_len` bytes after it,
    /// which the decoder just joined there (owned: they are split off).
    fn joined(
        joined: &mut BytesMut,
        len: usize,
        type_len: usize,
        valid: bool,
        scratch: &mut Scratch,
    ) -> [Self::Value; 2];

    /// The text of `joined[joined.len() - len..]`, which the decoder just
    /// joined there and checked to be valid UTF-8 (owned: split off).
    #[inline(always)]
    fn joined_data(joined: &mut BytesMut, len: usize, scratch: &mut Scratch) -> Self::Value {
        let [data, _] = Self::joined(joined, len, 0, true, scratch);
        data
    }

    /// An event.
    fn event(event_type: Self::Value, data: Self::Value, last_event_id: &Text) -> Self::Frame;
    /// A `retry` frame.
    fn retry(after: Duration) -> Self::Frame;
    /// A reported comment.
    fn comment(text: Self::Value) -> Self::Frame;
}

/// The owned kind's parts, the same for both buffers.
macro_rules! owned_output {
    () => {
        type Piece = Bytes;
        type Value = Text;
        type Frame = Frame;
        const OWNED: bool = true;

        #[inline(always)]
        fn sub(piece: &Bytes, start: usize, end: usize) -> Bytes {
            piece.slice(start..end)
        }
        #[inline(always)]
        fn text(&self, piece: Bytes, valid: bool, _: &mut Scratch) -> Text {
            Text::from_utf8_lossy_or_valid(piece, valid)
        }
        #[inline]
        fn text2(&self, piece: Bytes, at: usize, _: &mut Scratch) -> [Text; 2] {
            Text::split2_lossy(piece, at)
        }
        #[inline(always)]
        fn short(&self, span: Span, _: &mut Scratch) -> Text {
            // Inline (see `Text::copy_lossy`, which reads the bytes after it
            // in whole words).
            Text::copy_lossy(&self[span.start..], span.len())
        }
        #[inline]
        fn copied(&self, span: Span, _: &mut Scratch) -> Text {
            Text::from_utf8_lossy(Bytes::copy_from_slice(&self[span.start..span.end]))
        }
        #[inline(always)]
        fn absent() -> Text {
            Text::ABSENT
        }
        #[inline(always)]
        fn joined(
            joined: &mut BytesMut,
            len: usize,
            type_len: usize,
            valid: bool,
            _: &mut Scratch,
        ) -> [Text; 2] {
            debug_assert_eq!(joined.len(), len + type_len);
            let out = joined.split().freeze();
            if type_len > 0 {
                return Text::split2_lossy(out, len);
            }
            [Text::from_utf8_lossy_or_valid(out, valid), Text::ABSENT]
        }
        #[inline(always)]
        fn joined_data(joined: &mut BytesMut, len: usize, _: &mut Scratch) -> Text {
            debug_assert_eq!(joined.len(), len);
            Text::from_utf8_lossy_or_valid(joined.split().freeze(), true)
        }
        #[inline(always)]
        fn event(event_type: Text, data: Text, last_event_id: &Text) -> Frame {
            Frame::Event(Event::decoded(event_type, data, last_event_id.clone()))
        }
        #[inline]
        fn retry(after: Duration) -> Frame {
            Frame::Retry(after)
        }
        #[inline]
        fn comment(text: Text) -> Frame {
            Frame::Comment(text)
        }
    };
}

impl Source for BytesMut {
    owned_output!();

    #[inline]
    fn advance(&mut self, n: usize) {
        Buf::advance(self, n);
    }
    #[inline]
    fn take(&mut self, n: usize) -> Bytes {
        self.split_to(n).freeze()
    }
    #[inline(always)]
    fn cut(&mut self, start: usize, end: usize, next: usize) -> Bytes {
        let mut piece = self.split_to(next).freeze();
        Buf::advance(&mut piece, start);
        piece.truncate(end - start);
        piece
    }
    #[inline]
    fn clear(&mut self) {
        Self::clear(self);
    }
    #[inline]
    fn make_room(&mut self, total: usize) {
        crate::decoder::grow_exact(self, total - self.len().min(total), total);
    }
    #[inline]
    fn writable(&mut self) -> Option<&mut [u8]> {
        Some(&mut self[..])
    }
}

// The shared parts name `Bytes`, which is `Self` here.
#[allow(clippy::use_self)]
impl Source for Bytes {
    owned_output!();

    #[inline]
    fn advance(&mut self, n: usize) {
        Buf::advance(self, n);
    }
    #[inline]
    fn take(&mut self, n: usize) -> Self {
        self.split_to(n)
    }
    #[inline(always)]
    fn cut(&mut self, start: usize, end: usize, next: usize) -> Self {
        let mut piece = self.split_to(next);
        Buf::advance(&mut piece, start);
        piece.truncate(end - start);
        piece
    }
    #[inline]
    fn clear(&mut self) {
        Self::clear(self);
    }
    #[inline]
    fn make_room(&mut self, _total: usize) {}
    #[inline]
    fn writable(&mut self) -> Option<&mut [u8]> {
        None
    }
}
