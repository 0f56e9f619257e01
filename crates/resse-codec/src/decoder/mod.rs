//! The incremental event stream decoder: [`Decoder`] and its public entry
//! points, with its state. The field rules are written once, generic over
//! [`Source`] (owned or borrowed output), and split into rooms:
//!
//! * `config`: [`DecoderConfig`], [`Overflow`] and the default limits.
//! * `eol`: line-end scanning (the word-at-a-time and vector CR/LF search,
//!   where a line terminator ends).
//! * `fields`: the per-line rules as plain functions (field names, the
//!   field/value split, `id` and `retry` values, UTF-8 checks).
//! * `fast`: the fast paths (one `data:` line, a whole block, a run of
//!   lines, keep-alive comments), with a table of where every rule of the
//!   spec is enforced in every path.
//! * `general`: the general path, one line at a time.
//! * `dispatch`: what a blank line does: committing the id and building the
//!   event (shared, or joined in place or in the join buffer).
//! * `limits`: the line and event limits, overflow and discarding, and the
//!   memory accounting of the buffers the decoder grows.
//! * `carry`: the chunk entry points' carry (`decode_bytes`,
//!   `decode_slice`): a block that spans chunks.
//! * `index`: the line index of [`ChunkFrames`] (where a chunk's CR, LF and
//!   non-ASCII bytes are, found ahead with vector compares).
//! * `buffered`: [`BufferedDecoder`], a decoder that owns its buffer.

use bytes::{Bytes, BytesMut};

use crate::borrowed::{Cursor, FrameRef};
use crate::source::{Scratch, Source, Span};
use crate::{DecodeError, Frame, Text};

mod buffered;
mod carry;
mod config;
mod dispatch;
mod eol;
mod fast;
mod fields;
mod general;
mod index;
mod limits;

pub use buffered::BufferedDecoder;
pub use config::{
    DEFAULT_MAX_EVENT_LEN, DEFAULT_MAX_LINE_LEN, DecoderConfig, MEMORY_SLACK, Overflow,
};
pub(crate) use fields::valid_utf8;
pub(crate) use limits::grow_exact;

use carry::Chunk;
pub(crate) use eol::Eol;
use index::INDEXED;
pub(crate) use index::LineIndex;

/// Where the decoder is: reading, skipping after an overflow, or stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Normal,
    /// Skipping the rest of an oversized block until a blank line.
    /// `at_line_start` is false while the rest of an overlong line is skipped.
    Discard {
        at_line_start: bool,
    },
    Stopped,
}

/// An incremental decoder for `text/event-stream`, exact to the WHATWG HTML
/// standard's [event stream interpretation][spec].
///
/// It is sans-IO: you append bytes to a [`BytesMut`] as they arrive and call
/// [`decode`](Self::decode) until it returns `Ok(None)` ("need more bytes"),
/// then [`decode_eof`](Self::decode_eof) at the end of the stream. The call
/// shape is `tokio_util::codec::Decoder`'s, so an adapter can delegate to it
/// directly. How the input is split into chunks never changes the output.
///
/// Zero-copy and allocation-free in steady state: an event whose data is one
/// `data:` line hands out a slice of your buffer; several lines (and small
/// events' type and id) are joined into a buffer the decoder reuses once the
/// events you were given are dropped; invalid UTF-8 is replaced with U+FFFD
/// (allocating only then). Events share memory with the buffers they came
/// from: copy what you keep for long (`event.data().to_owned()`) if that
/// matters to you.
///
/// ```
/// use bytes::BytesMut;
/// use resse_codec::{Decoder, Frame};
///
/// let mut decoder = Decoder::new();
/// let mut buf = BytesMut::new();
/// let mut events = Vec::new();
/// for chunk in [&b"id: 1\ndata: hel"[..], b"lo\r", b"\n\ndata: partial"] {
///     buf.extend_from_slice(chunk);
///     while let Some(frame) = decoder.decode(&mut buf)? {
///         if let Frame::Event(event) = frame {
///             events.push((event.last_event_id().to_owned(), event.data().to_owned()));
///         }
///     }
/// }
/// while let Some(_frame) = decoder.decode_eof(&mut buf)? {}
/// assert_eq!(events, [("1".to_owned(), "hello".to_owned())]);
/// assert!(decoder.incomplete_at_eof()); // "data: partial" never ended
/// assert_eq!(decoder.last_event_id(), "1");
/// # Ok::<(), resse_codec::DecodeError>(())
/// ```
///
/// # Buffer contract
///
/// Between calls, only *append* to the buffer (as `FramedRead` does). The
/// decoder removes what it has consumed from the front and remembers how far
/// it has scanned, so no byte is scanned twice.
///
/// [spec]: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
#[derive(Debug)]
pub struct Decoder {
    config: DecoderConfig,
    /// The committed last event ID string.
    last_event_id: Text,
    /// Start of the current line in the buffer. Zero unless the current block
    /// holds state (then `buf[..pos]` is the block so far).
    pos: usize,
    /// How far the current line has been scanned for a terminator.
    scan: usize,
    /// How many `data` lines the current block has.
    data_lines: usize,
    /// The first `data` value of the current block (when `data_lines > 0`).
    /// Later ones are found again when the block is dispatched, so that
    /// what the decoder keeps per block does not grow with its lines.
    first_data: Span,
    /// Sum of the lengths of the `data` values.
    data_len: usize,
    /// The last `event` value of the current block.
    event_type: Option<Span>,
    /// The last valid `id` value of the current block (the "last event ID
    /// buffer" when it differs from the committed string).
    id: Option<Span>,
    /// A leading BOM may still be (partly) ahead.
    bom_pending: bool,
    /// The last line ended in CR at the end of the buffer: a following LF
    /// belongs to that line end.
    skip_lf: bool,
    mode: Mode,
    incomplete: bool,
    eol: Eol,
    /// Length of the last data line of at least `LONG_LINE` bytes.
    long_line: usize,
    /// Where multi-line data is joined. Events take their data out of it with
    /// `split`, and its memory is reused once they are dropped, so joining
    /// allocates nothing in steady state.
    joined: BytesMut,
    /// Where committed last event IDs too long to keep inline live (see
    /// `commit_id`).
    ids: BytesMut,
    /// What `decode_bytes` keeps of a block that spans chunks.
    carry: BytesMut,
    /// Where the texts of `decode_slice`'s last frame point when not into the
    /// input: replaced invalid UTF-8.
    scratch: Scratch,
    /// Bytes of the carry that `decode_slice` consumed but kept until its
    /// frame was let go.
    carry_used: usize,
    /// `decode_slice`'s last frame used the join buffer without splitting.
    joined_used: bool,
    /// `decode_slice`'s last frame came from the carry.
    from_carry: bool,
    /// Every byte in `carry` is ASCII: checked as each piece is appended,
    /// while the piece is still in the L1 cache from the line-end search,
    /// instead of once more over the whole event (from L2 or memory) when it
    /// is dispatched.
    carry_ascii: bool,
    /// Texts cut from the buffer being decoded are valid UTF-8 and need no
    /// check: set for the duration of `with_carry` when `carry_ascii` holds,
    /// and while an event whose fields were just checked is built.
    input_valid: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder with the default [`DecoderConfig`].
    pub fn new() -> Self {
        Self::with_config(DecoderConfig::default())
    }

    /// A decoder with the given settings.
    pub fn with_config(config: DecoderConfig) -> Self {
        Self {
            config,
            last_event_id: Text::new(),
            pos: 0,
            scan: 0,
            data_lines: 0,
            first_data: Span { start: 0, end: 0 },
            data_len: 0,
            event_type: None,
            id: None,
            bom_pending: true,
            skip_lf: false,
            mode: Mode::Normal,
            incomplete: false,
            eol: Eol::new(),
            long_line: 0,
            joined: BytesMut::new(),
            ids: BytesMut::new(),
            carry: BytesMut::new(),
            scratch: Scratch::default(),
            carry_used: 0,
            joined_used: false,
            from_carry: false,
            carry_ascii: false,
            input_valid: false,
        }
    }

    /// The settings.
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// The last event ID string: the value a reconnecting client sends as
    /// `Last-Event-ID`. It changes only when a block ends with a blank line,
    /// and it survives [`reset`](Self::reset).
    pub fn last_event_id(&self) -> &Text {
        &self.last_event_id
    }

    /// Sets the last event ID (for example the one a client starts with).
    pub fn set_last_event_id(&mut self, id: Text) {
        self.last_event_id = id;
    }

    /// Whether [`decode_eof`](Self::decode_eof) discarded an unterminated
    /// block (fields not followed by a blank line) or an unterminated line.
    /// Cleared by [`reset`](Self::reset).
    pub fn incomplete_at_eof(&self) -> bool {
        self.incomplete
    }

    /// Whether a limit was exceeded with [`Overflow::Stop`]: the decoder
    /// ignores input until [`reset`](Self::reset).
    pub fn is_stopped(&self) -> bool {
        self.mode == Mode::Stopped
    }

    /// Prepares for a new stream (a new connection): forgets any partial
    /// block, expects a possible BOM again, clears [`is_stopped`] and
    /// [`incomplete_at_eof`]. The last event ID is kept, as the spec keeps it
    /// for the `EventSource` across reconnections. Use a fresh buffer too.
    ///
    /// [`is_stopped`]: Self::is_stopped
    /// [`incomplete_at_eof`]: Self::incomplete_at_eof
    pub fn reset(&mut self) {
        self.carry.clear();
        self.carry_used = 0;
        self.start_stream();
        self.mode = Mode::Normal;
        self.incomplete = false;
    }

    fn start_stream(&mut self) {
        self.pos = 0;
        self.scan = 0;
        self.clear_block();
        self.bom_pending = true;
        self.skip_lf = false;
        if self.mode != Mode::Stopped {
            self.mode = Mode::Normal;
        }
    }

    fn clear_block(&mut self) {
        self.data_lines = 0;
        self.data_len = 0;
        self.event_type = None;
        self.id = None;
    }

    #[inline]
    fn has_state(&self) -> bool {
        self.data_lines > 0 || self.event_type.is_some() || self.id.is_some()
    }

    /// Decodes the next frame from `buf`, consuming the bytes it used.
    ///
    /// Returns `Ok(None)` when more bytes are needed (never an error). Call it
    /// in a loop after each append until it returns `Ok(None)`.
    ///
    /// # Errors
    /// [`DecodeError`] when a limit is exceeded; see [`Overflow`] for what
    /// happens next. Input is never a reason to panic.
    #[inline]
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        self.decode_from(buf)
    }

    /// `decode` on either kind of buffer. Inlined into the caller: the
    /// commonest event is built right where it is consumed (measured: 38 ->
    /// 27 ns per 37-byte event).
    #[inline]
    fn decode_from<B: Source>(&mut self, buf: &mut B) -> Result<Option<B::Frame>, DecodeError> {
        if let Some(frame) = self.fast_event(buf) {
            return Ok(Some(frame));
        }
        self.decode_general(buf)
    }

    /// Decodes what is left at the end of the stream.
    ///
    /// Call it until it returns `Ok(None)`. It first returns the frames that
    /// complete lines still yield; then it discards any block not ended by a
    /// blank line, as the spec requires (its `id` is not committed), records
    /// whether it did in [`incomplete_at_eof`](Self::incomplete_at_eof),
    /// clears `buf` and gets ready for a new stream, keeping the last event
    /// ID.
    ///
    /// # Errors
    /// As [`decode`](Self::decode).
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        self.decode_eof_from(buf)
    }

    /// `decode_eof` on any buffer.
    fn decode_eof_from<B: Source>(&mut self, buf: &mut B) -> Result<Option<B::Frame>, DecodeError> {
        if let Some(frame) = self.decode_from(buf)? {
            return Ok(Some(frame));
        }
        let discarded = match self.mode {
            Mode::Normal => self.has_state() || buf.len() > self.pos,
            Mode::Discard { .. } => true,
            Mode::Stopped => false,
        };
        self.incomplete |= discarded;
        buf.clear();
        self.start_stream();
        Ok(None)
    }

    /// Decodes the next frame from a chunk of input held as [`Bytes`] (as
    /// hyper, reqwest and most HTTP clients hand out body chunks), consuming
    /// from its front.
    ///
    /// Unlike [`decode`](Self::decode) nothing is copied for events that lie
    /// wholly inside a chunk: their fields are slices of it. Only a block
    /// that spans chunks is assembled in a buffer the decoder keeps (bounded
    /// by the same limits). Returns `Ok(None)` once `input` is used up: pass
    /// the next chunk then, and call [`decode_bytes_eof`] at the end of the
    /// stream. Frames, errors and [`last_event_id`](Self::last_event_id) are
    /// exactly those of [`decode`](Self::decode) for the same bytes, however
    /// they are chunked. Do not mix the two methods on one stream.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use resse_codec::{Decoder, Frame};
    ///
    /// let mut decoder = Decoder::new();
    /// let mut data = Vec::new();
    /// for chunk in [&b"data: hel"[..], b"lo\n\ndata: world\n\n"] {
    ///     let mut chunk = Bytes::from_static(chunk);
    ///     while let Some(frame) = decoder.decode_bytes(&mut chunk)? {
    ///         if let Frame::Event(e) = frame {
    ///             data.push(e.data().to_owned());
    ///         }
    ///     }
    /// }
    /// while let Some(_frame) = decoder.decode_bytes_eof()? {}
    /// assert_eq!(data, ["hello", "world"]);
    /// # Ok::<(), resse_codec::DecodeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`decode`](Self::decode).
    ///
    /// [`decode_bytes_eof`]: Self::decode_bytes_eof
    #[inline]
    pub fn decode_bytes(&mut self, input: &mut Bytes) -> Result<Option<Frame>, DecodeError> {
        // Inlined into the caller, like `decode`'s fast path.
        if self.carry.is_empty() {
            if let Some(frame) = self.fast_event(input) {
                return Ok(Some(frame));
            }
        }
        self.decode_bytes_general(input)
    }

    /// Decodes the next frame from a chunk of input, borrowing from it: the
    /// frame's texts are `&str` pointing into the chunk (or, for an event
    /// that spans chunks or whose lines had to be joined, into the
    /// decoder), so no reference count is touched and nothing is allocated
    /// in steady state. Consumes from the front of `input`; returns
    /// `Ok(None)` once it is used up: pass the next chunk then, and call
    /// [`decode_slice_eof`](Self::decode_slice_eof) at the end of the stream.
    ///
    /// The frame borrows the decoder until the next call: use each event
    /// before asking for the next (copy what you keep, or call
    /// [`FrameRef::to_frame`]). Frames, errors and the last event ID are
    /// exactly those of [`decode`](Self::decode) and
    /// [`decode_bytes`](Self::decode_bytes) for the same bytes, however they
    /// are chunked: the three share one implementation of the field rules.
    /// Do not mix entry points on one stream.
    ///
    /// ```
    /// use resse_codec::{Decoder, FrameRef};
    ///
    /// let mut decoder = Decoder::new();
    /// let mut data = Vec::new();
    /// for chunk in [&b"data: hel"[..], b"lo\n\ndata: world\n\n"] {
    ///     let mut rest = chunk;
    ///     while let Some(frame) = decoder.decode_slice(&mut rest)? {
    ///         if let FrameRef::Event(e) = frame {
    ///             data.push(e.data().to_owned());
    ///         }
    ///     }
    /// }
    /// while let Some(_frame) = decoder.decode_slice_eof()? {}
    /// assert_eq!(data, ["hello", "world"]);
    /// # Ok::<(), resse_codec::DecodeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`decode`](Self::decode).
    #[inline]
    pub fn decode_slice<'s, 'c: 's>(
        &'s mut self,
        input: &mut &'c [u8],
    ) -> Result<Option<FrameRef<'s>>, DecodeError> {
        // Not `slice_step` (which `ChunkFrames` uses), though it reads the
        // same: shared, this entry point's commonest event took 14
        // instructions more (thin LTO), and sharing only the part before
        // `resolve` took 44 more.
        self.settle();
        let chunk: &'c [u8] = input;
        let mut at = 0;
        let plain = self.carry.is_empty() && self.at_plain_block_start();
        if plain {
            // `fast_event`, with the commonest event resolved right here,
            // where its kind is known (no match on the frame's and texts'
            // variants), on a cursor that does not leave this function, so
            // that it stays in registers and its empty line index is no
            // test. Through `fast_event` on one cursor with the rest, as
            // `slice_step` does, a small event took 227 instructions, here
            // 189 (thin LTO).
            let mut cursor = Cursor {
                bytes: chunk,
                at: 0,
                lines: None,
            };
            self.skip_keep_alives(&mut cursor);
            if let Some(frame) = self.single_line_event(&mut cursor) {
                *input = &chunk[cursor.at..];
                return Ok(Some(self.resolve(frame, chunk)));
            }
            at = cursor.at;
        }
        self.decode_slice_rest(input, at, plain)
    }

    /// `decode_slice` past its single-line fast path, from `input[at..]`:
    /// the rest of `fast_event` when `plain` (its first part was tried),
    /// then the chunk's general path.
    #[inline]
    fn decode_slice_rest<'s, 'c: 's>(
        &'s mut self,
        input: &mut &'c [u8],
        at: usize,
        plain: bool,
    ) -> Result<Option<FrameRef<'s>>, DecodeError> {
        let chunk: &'c [u8] = input;
        let mut cursor = Cursor {
            bytes: chunk,
            at,
            lines: None,
        };
        // `single_line_event` records in `scan` a line it found incomplete.
        let fast = if plain && self.scan == 0 {
            self.block_event(&mut cursor)
        } else {
            None
        };
        let frame = match fast {
            Some(frame) => Ok(Some(frame)),
            None => self.decode_chunk_after(&mut cursor, true),
        };
        *input = &chunk[cursor.at..];
        let Some(frame) = frame? else {
            return Ok(None);
        };
        let from = if fast.is_none() && self.from_carry {
            &self.carry[..]
        } else {
            chunk
        };
        Ok(Some(self.resolve(frame, from)))
    }

    /// The frames of one chunk, borrowing from it, read with a line index
    /// of the chunk: the fastest way to decode events that are used before
    /// the next chunk (see [`ChunkFrames`]). What
    /// [`decode_slice`](Self::decode_slice) does, called in a loop on the
    /// same chunk.
    ///
    /// ```
    /// use resse_codec::{Decoder, FrameRef};
    ///
    /// let mut decoder = Decoder::new();
    /// let mut data = Vec::new();
    /// for chunk in [&b"data: hel"[..], b"lo\n\ndata: world\n\n"] {
    ///     let mut frames = decoder.frames(chunk);
    ///     while let Some(frame) = frames.next()? {
    ///         if let FrameRef::Event(e) = frame {
    ///             data.push(e.data().to_owned());
    ///         }
    ///     }
    /// }
    /// while let Some(_frame) = decoder.decode_slice_eof()? {}
    /// assert_eq!(data, ["hello", "world"]);
    /// # Ok::<(), resse_codec::DecodeError>(())
    /// ```
    #[inline]
    pub fn frames<'d, 'c>(&'d mut self, chunk: &'c [u8]) -> ChunkFrames<'d, 'c> {
        let index = LineIndex::new(self.eol.avx2());
        ChunkFrames {
            decoder: self,
            chunk,
            at: 0,
            index,
            plain: false,
        }
    }

    /// One step of `ChunkFrames::next` on `chunk` from `at` (moved past what
    /// was consumed), with the chunk's line index when there is one: what
    /// `decode_slice` does (which keeps its own copy, see there); sets
    /// `plain` to whether the next step may go straight to the single-line
    /// fast path (see `plain_after`).
    #[inline(always)]
    fn slice_step<'s>(
        &'s mut self,
        chunk: &'s [u8],
        at: &mut usize,
        lines: Option<&mut LineIndex>,
        plain: &mut bool,
    ) -> Result<Option<FrameRef<'s>>, DecodeError> {
        *plain = false;
        self.settle();
        let mut cursor = Cursor {
            bytes: chunk,
            at: *at,
            lines,
        };
        let fast = if self.carry.is_empty() {
            self.fast_event(&mut cursor)
        } else {
            None
        };
        let frame = match fast {
            Some(frame) => Ok(Some(frame)),
            None => self.decode_chunk_after(&mut cursor, true),
        };
        *at = cursor.at;
        let Some(frame) = frame? else {
            return Ok(None);
        };
        let from = if fast.is_none() && self.from_carry {
            &self.carry[..]
        } else {
            chunk
        };
        *plain = self.plain_after();
        Ok(Some(self.resolve(frame, from)))
    }

    /// After a frame: nothing to let go of at the next step (`settle`), no
    /// carry, and a plain block start, so the next step may try the
    /// single-line fast path at once, as `slice_step` would after its
    /// checks. A single-line event read there keeps all of this true.
    #[inline(always)]
    fn plain_after(&self) -> bool {
        self.carry.is_empty()
            && !self.joined_used
            && self.scratch.lossy.is_empty()
            && self.at_plain_block_start()
    }

    /// Decodes what [`decode_slice`](Self::decode_slice) kept at the end of
    /// the stream: as [`decode_eof`](Self::decode_eof) does.
    ///
    /// # Errors
    /// As [`decode`](Self::decode).
    pub fn decode_slice_eof(&mut self) -> Result<Option<FrameRef<'_>>, DecodeError> {
        self.settle();
        match Cursor::on_carry(self, true)? {
            Some(frame) => Ok(Some(self.resolve(frame, &self.carry[..]))),
            None => Ok(None),
        }
    }

    /// Decodes what [`decode_bytes`](Self::decode_bytes) kept at the end of
    /// the stream: as [`decode_eof`](Self::decode_eof) does.
    ///
    /// # Errors
    /// As [`decode`](Self::decode).
    pub fn decode_bytes_eof(&mut self) -> Result<Option<Frame>, DecodeError> {
        self.with_carry(Self::decode_eof)
    }
}

/// The frames of one chunk, from [`Decoder::frames`]: each call to
/// [`next`](Self::next) is a call to
/// [`Decoder::decode_slice`](Decoder::decode_slice) on what is left of the
/// chunk, with the same frames, errors and state, and faster on runs of
/// small events.
///
/// Why faster: holding the chunk for as long as it lives, it finds the line
/// ends of the chunk ahead, a window of 4 KiB at a time with vector
/// compares (one bit per byte, kept in this value: 1 KiB), instead of
/// searching from where the last event ended. Each event then no longer
/// waits on the previous event's search. And after a frame that left the
/// decoder with nothing pending, it goes straight to the fast path for a
/// one-line event. (The line index is built on x86-64, with SSE2, or AVX2
/// where the CPU has it; elsewhere `ChunkFrames` reads without one.)
///
/// Use each frame before asking for the next, as with `decode_slice`; the
/// frame borrows this value. Read it to the end (until `Ok(None)`): what is
/// left unread when it is dropped is given back by [`rest`](Self::rest),
/// for the caller to pass again. At the end of the stream call
/// [`Decoder::decode_slice_eof`]. Do not mix with the owned entry points on
/// one stream (`decode_slice` and `frames` mix freely).
pub struct ChunkFrames<'d, 'c> {
    decoder: &'d mut Decoder,
    chunk: &'c [u8],
    /// How much of `chunk` was consumed.
    at: usize,
    index: LineIndex,
    /// The decoder is ready for the single-line fast path (`plain_after`).
    plain: bool,
}

impl<'c> ChunkFrames<'_, 'c> {
    /// The next frame of the chunk; `Ok(None)` once the chunk is used up
    /// (an unfinished block is kept by the decoder for the next chunk).
    ///
    /// # Errors
    /// As [`Decoder::decode`].
    #[inline]
    #[allow(clippy::should_implement_trait)] // a lending iterator: frames borrow `self`
    pub fn next(&mut self) -> Result<Option<FrameRef<'_>>, DecodeError> {
        if self.plain {
            // Straight to the commonest block, skipping the checks that the
            // last frame already settled; anything else takes the full step.
            let mut cursor = Cursor {
                bytes: self.chunk,
                at: self.at,
                lines: INDEXED.then_some(&mut self.index),
            };
            if let Some(frame) = self.decoder.single_line_event(&mut cursor) {
                self.at = cursor.at;
                return Ok(Some(self.decoder.resolve(frame, self.chunk)));
            }
        }
        self.decoder.slice_step(
            self.chunk,
            &mut self.at,
            INDEXED.then_some(&mut self.index),
            &mut self.plain,
        )
    }

    /// What is left of the chunk: empty once [`next`](Self::next) has
    /// returned `Ok(None)`.
    #[inline]
    pub fn rest(&self) -> &'c [u8] {
        &self.chunk[self.at..]
    }
}

impl core::fmt::Debug for ChunkFrames<'_, '_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChunkFrames")
            .field("chunk_len", &self.chunk.len())
            .field("consumed", &self.at)
            .finish_non_exhaustive()
    }
}
