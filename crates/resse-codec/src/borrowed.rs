//! Borrowed frames ([`FrameRef`], [`EventRef`]): the output of
//! [`Decoder::decode_slice`](crate::Decoder::decode_slice), whose texts are
//! `&str` pointing into the caller's chunk (or, for an event that spans
//! chunks, into the decoder), with no reference count to update.

use core::fmt;
use core::ops::Deref;
use core::time::Duration;

use alloc::string::String;
use bytes::BytesMut;

use crate::decoder::{Eol, LineIndex};
use crate::source::{Scratch, Source, Span};
use crate::{DEFAULT_EVENT_TYPE, Event, Frame, Text};

/// One unit of [`Decoder::decode_slice`](crate::Decoder::decode_slice)
/// output, borrowing from the chunk and the decoder until the next call:
/// what [`Frame`] is to [`Decoder::decode`](crate::Decoder::decode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameRef<'a> {
    /// An event was dispatched (a blank line ended a block with data).
    Event(EventRef<'a>),
    /// A valid `retry:` field was read (see [`Frame::Retry`]).
    Retry(Duration),
    /// A comment line, with one leading space removed (only with
    /// [`DecoderConfig::comments`](crate::DecoderConfig::comments)).
    Comment(&'a str),
}

impl FrameRef<'_> {
    /// An owned copy, as [`Decoder::decode`](crate::Decoder::decode) would
    /// have returned it.
    pub fn to_frame(&self) -> Frame {
        match *self {
            Self::Event(e) => Frame::Event(e.to_event()),
            Self::Retry(d) => Frame::Retry(d),
            Self::Comment(c) => Frame::Comment(Text::from(c)),
        }
    }
}

/// A dispatched event whose texts borrow from the chunk it was read from
/// (or from the decoder): what [`Event`] is to the owned entry points.
///
/// ```
/// use resse_codec::{Decoder, FrameRef};
///
/// let mut decoder = Decoder::new();
/// let mut chunk: &[u8] = b"event: greet\nid: 7\ndata: hi\n\n";
/// let Some(FrameRef::Event(e)) = decoder.decode_slice(&mut chunk)? else { panic!() };
/// assert_eq!((e.event_type(), e.data(), e.last_event_id()), ("greet", "hi", "7"));
/// # Ok::<(), resse_codec::DecodeError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EventRef<'a> {
    event_type: Option<&'a str>,
    data: &'a str,
    last_event_id: &'a str,
}

impl fmt::Debug for EventRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventRef")
            .field("event_type", &self.event_type)
            .field("data", &self.data)
            .field("last_event_id", &self.last_event_id)
            .finish()
    }
}

impl<'a> EventRef<'a> {
    /// The event type: the `event:` value, or `"message"` when it was unset
    /// or empty.
    #[inline]
    pub fn event_type(&self) -> &'a str {
        match self.event_type {
            Some(t) if !t.is_empty() => t,
            _ => DEFAULT_EVENT_TYPE,
        }
    }

    /// The event type exactly as set; `None` when unset.
    #[inline]
    pub fn event_type_str(&self) -> Option<&'a str> {
        self.event_type
    }

    /// The data, lines joined with `\n`.
    #[inline]
    pub fn data(&self) -> &'a str {
        self.data
    }

    /// The last event ID in effect (possibly `""`): what
    /// [`Event::last_event_id`] reads.
    #[inline]
    pub fn last_event_id(&self) -> &'a str {
        self.last_event_id
    }

    /// An owned copy, as the owned entry points would have returned it.
    pub fn to_event(&self) -> Event {
        let mut event = Event::new(self.data).with_id(self.last_event_id);
        if let Some(t) = self.event_type {
            event = event.with_event_type(t);
        }
        event
    }
}

/// Where a borrowed text is, until the call's frame is resolved.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Val {
    Absent,
    /// Checked UTF-8 in the input, at these positions from where the call
    /// started.
    Input(usize, usize),
    /// Checked UTF-8 in the decoder's join buffer.
    Joined(usize, usize),
    /// In the scratch string (replaced invalid UTF-8).
    Lossy(usize, usize),
}

/// A frame whose texts are still positions.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RawFrame {
    Event(Val, Val),
    Retry(Duration),
    Comment(Val),
}

/// Where an input piece was: positions from where the call started.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Range(usize, usize);

/// `bytes` (at `at` in the input) as a checked text, or its replacement in
/// the scratch string.
#[inline(always)]
fn checked(bytes: &[u8], at: usize, valid: bool, scratch: &mut Scratch) -> Val {
    if valid || crate::decoder::valid_utf8(bytes) {
        return Val::Input(at, at + bytes.len());
    }
    lossy(bytes, scratch)
}

/// [`checked`] for bytes of the join buffer.
#[inline]
fn joined_text(bytes: &[u8], at: usize, valid: bool, scratch: &mut Scratch) -> Val {
    if valid || crate::decoder::valid_utf8(bytes) {
        return Val::Joined(at, at + bytes.len());
    }
    lossy(bytes, scratch)
}

/// `bytes` with invalid UTF-8 replaced, appended to the scratch string.
#[cold]
fn lossy(bytes: &[u8], scratch: &mut Scratch) -> Val {
    let start = scratch.lossy.len();
    scratch.lossy.push_str(&String::from_utf8_lossy(bytes));
    Val::Lossy(start, scratch.lossy.len())
}

/// What a [`SliceCursor`] reads: the caller's chunk (`&[u8]`), or the
/// decoder's carry (`&mut [u8]`), which may be written to.
pub(crate) trait CursorBytes: Deref<Target = [u8]> {
    /// The bytes, when they may be written to (so that multi-line data is
    /// joined in place).
    fn writable(&mut self) -> Option<&mut [u8]>;
}

impl CursorBytes for &[u8] {
    #[inline]
    fn writable(&mut self) -> Option<&mut [u8]> {
        None
    }
}

impl CursorBytes for &mut [u8] {
    #[inline]
    fn writable(&mut self) -> Option<&mut [u8]> {
        Some(&mut **self)
    }
}

/// Bytes read by [`Decoder::decode_slice`](crate::Decoder::decode_slice)
/// and [`ChunkFrames`](crate::ChunkFrames): the decoder consumes them from
/// the front, and pieces are where they were.
pub(crate) struct SliceCursor<'i, B> {
    pub(crate) bytes: B,
    /// How much was consumed.
    pub(crate) at: usize,
    /// The line index of `bytes` (a whole chunk that it was built on), when
    /// the caller keeps one: see `LineIndex`.
    pub(crate) lines: Option<&'i mut LineIndex>,
}

/// A chunk read by `decode_slice` or `ChunkFrames`.
pub(crate) type Cursor<'c, 'i> = SliceCursor<'i, &'c [u8]>;

/// The decoder's carry read by `decode_slice`: as [`Cursor`], writable (so
/// that multi-line data is joined in place); what is consumed is dropped
/// from the carry at the next call.
pub(crate) type CarryCursor<'m> = SliceCursor<'m, &'m mut [u8]>;

impl<B: CursorBytes> Deref for SliceCursor<'_, B> {
    type Target = [u8];
    #[inline(always)]
    fn deref(&self) -> &[u8] {
        &self.bytes[self.at..]
    }
}

/// The borrowed kind: pieces are positions, texts are checked in place.
impl<B: CursorBytes> Source for SliceCursor<'_, B> {
    type Piece = Range;
    type Value = Val;
    type Frame = RawFrame;
    const OWNED: bool = false;

    #[inline(always)]
    fn sub(piece: &Range, start: usize, end: usize) -> Range {
        Range(piece.0 + start, piece.0 + end)
    }
    #[inline(always)]
    fn text(&self, piece: Range, valid: bool, scratch: &mut Scratch) -> Val {
        checked(&self.bytes[piece.0..piece.1], piece.0, valid, scratch)
    }
    #[inline]
    fn text2(&self, piece: Range, at: usize, scratch: &mut Scratch) -> [Val; 2] {
        let mid = piece.0 + at;
        [
            self.text(Range(piece.0, mid), false, scratch),
            self.text(Range(mid, piece.1), false, scratch),
        ]
    }
    #[inline(always)]
    fn short(&self, span: Span, scratch: &mut Scratch) -> Val {
        self.copied(span, scratch)
    }
    #[inline]
    fn copied(&self, span: Span, scratch: &mut Scratch) -> Val {
        let start = self.at + span.start;
        checked(
            &self.bytes[start..self.at + span.end],
            start,
            false,
            scratch,
        )
    }
    #[inline(always)]
    fn absent() -> Val {
        Val::Absent
    }
    #[inline]
    fn joined(
        joined: &mut BytesMut,
        len: usize,
        type_len: usize,
        valid: bool,
        scratch: &mut Scratch,
    ) -> [Val; 2] {
        let start = joined.len() - len - type_len;
        let data = joined_text(&joined[start..start + len], start, valid, scratch);
        let event_type = if type_len == 0 {
            Val::Absent
        } else {
            joined_text(&joined[start + len..], start + len, false, scratch)
        };
        [data, event_type]
    }
    #[inline(always)]
    fn event(event_type: Val, data: Val, _: &Text) -> RawFrame {
        RawFrame::Event(event_type, data)
    }
    #[inline]
    fn retry(after: Duration) -> RawFrame {
        RawFrame::Retry(after)
    }
    #[inline]
    fn comment(text: Val) -> RawFrame {
        RawFrame::Comment(text)
    }

    #[inline(always)]
    fn advance(&mut self, n: usize) {
        self.at += n;
    }
    #[inline(always)]
    fn take(&mut self, n: usize) -> Range {
        let piece = Range(self.at, self.at + n);
        self.at += n;
        piece
    }
    #[inline(always)]
    fn cut(&mut self, start: usize, end: usize, next: usize) -> Range {
        let piece = Range(self.at + start, self.at + end);
        self.at += next;
        piece
    }
    #[inline]
    fn clear(&mut self) {
        self.at = self.bytes.len();
    }
    #[inline]
    fn make_room(&mut self, _total: usize) {}
    #[inline]
    fn writable(&mut self) -> Option<&mut [u8]> {
        let at = self.at;
        self.bytes.writable().map(|bytes| &mut bytes[at..])
    }
    #[inline(always)]
    fn line_end_ascii(&mut self, eol: &Eol, from: usize) -> Option<(usize, bool)> {
        let at = self.at;
        match &mut self.lines {
            Some(index) => index
                .find(eol, &self.bytes, at + from)
                .map(|(end, ascii)| (end - at, ascii)),
            None => eol.line_end_ascii(self, from),
        }
    }
}

/// Turns the positions of `frame` into texts: `input` is what the call read
/// (the chunk, or the carry), `joined` the join buffer.
#[inline(always)]
pub(crate) fn resolve<'a>(
    frame: RawFrame,
    input: &'a [u8],
    joined: &'a [u8],
    scratch: &'a Scratch,
    last_event_id: &'a Text,
) -> FrameRef<'a> {
    match frame {
        RawFrame::Event(event_type, data) => FrameRef::Event(EventRef {
            event_type: text(event_type, input, joined, scratch),
            data: text(data, input, joined, scratch).unwrap_or(""),
            last_event_id: last_event_id.as_str(),
        }),
        RawFrame::Retry(d) => FrameRef::Retry(d),
        RawFrame::Comment(c) => FrameRef::Comment(text(c, input, joined, scratch).unwrap_or("")),
    }
}

/// The text at `v`.
#[inline(always)]
fn text<'a>(v: Val, input: &'a [u8], joined: &'a [u8], scratch: &'a Scratch) -> Option<&'a str> {
    match v {
        Val::Absent => None,
        Val::Input(a, b) => Some(Text::checked_str(&input[a..b])),
        Val::Joined(a, b) => Some(Text::checked_str(&joined[a..b])),
        Val::Lossy(a, b) => Some(&scratch.lossy[a..b]),
    }
}
