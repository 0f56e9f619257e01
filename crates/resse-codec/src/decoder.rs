//! The incremental event stream decoder.

use alloc::vec::Vec;
use core::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use memchr::memchr2;

use crate::borrowed::{self, CarryCursor, Cursor, FrameRef, RawFrame};
use crate::source::{Scratch, Source, Span};
use crate::text::{self, INLINE_CAP};
use crate::{DecodeError, Frame, Text};

/// Default for [`DecoderConfig::max_line_len`]: 16 MiB.
///
/// Real streams carry single events of several MiB (LLM and MCP servers send
/// whole tool results or base64 images as one `data:` line), and 64 KiB limits
/// in other libraries keep breaking them. 16 MiB is four times the largest
/// such events seen in the wild while still bounding what one hostile
/// connection can pin. Servers that hold many connections to untrusted peers
/// should lower it.
pub const DEFAULT_MAX_LINE_LEN: usize = 16 * 1024 * 1024;

/// Default for [`DecoderConfig::max_event_len`]: 16 MiB (see
/// [`DEFAULT_MAX_LINE_LEN`] for why).
pub const DEFAULT_MAX_EVENT_LEN: usize = 16 * 1024 * 1024;

/// What a decoder may hold beyond `max(max_line_len, max_event_len)` and the
/// chunk being decoded, on any input (see [`DecoderConfig`]'s "Memory"):
/// 128 KiB, which covers its small reusable buffers (joins of blocks up to
/// 64 KiB, long last event IDs, per-block scratch) and a read's worth of room
/// in the buffers it grows.
pub const MEMORY_SLACK: usize = 128 * 1024;

/// What the decoder does after a limit is exceeded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overflow {
    /// Discard the rest of the oversized block and carry on after the next
    /// blank line (the way `LinesCodec` discards an overlong line).
    #[default]
    Skip,
    /// Stop decoding: all further input is ignored until
    /// [`Decoder::reset`]; [`Decoder::is_stopped`] becomes true.
    Stop,
}

/// Settings of a [`Decoder`]. The defaults are safe for production.
///
/// # Limits and untrusted input
///
/// The decoder holds the bytes of one event block until its blank line (that
/// is what makes single-line events zero-copy), plus the unterminated line
/// being read. Two limits bound that memory:
///
/// * `max_line_len`: the longest line, in bytes, line terminator excluded.
///   Without it a peer that never sends a newline grows memory forever.
/// * `max_event_len`: the most bytes one block may hold before its blank
///   line, *raw*: field names, the space after the colon and the terminators
///   of all but its last line count. A `data:` payload of `N` bytes on one
///   line needs `N + 6` bytes (`"data: "`). When both limits are exceeded,
///   the one exceeded first in the byte stream is reported, so the outcome
///   does not depend on how the input was chunked.
///
/// Whatever the input, after [`Decoder::decode`] returns `Ok(None)` the
/// buffer holds at most `max(max_line_len, max_event_len) + 2` bytes (the 2
/// being the terminator of a block's last line), and during a call at most
/// that plus the chunk you appended.
///
/// # Memory
///
/// A decoder's memory, its buffer included (the carry of
/// [`Decoder::decode_bytes`], [`Decoder::decode_slice`] and
/// [`ChunkDecoder`](crate::ChunkDecoder), the buffer of [`BufferedDecoder`]),
/// is at most
/// `max(max_line_len, max_event_len)` + the chunk being decoded +
/// [`MEMORY_SLACK`], on every input shape:
///
/// * it keeps no record per line: the data lines of a block are found again
///   when it is dispatched, and joined in place in the buffer;
/// * an event whose data holds invalid UTF-8 counts, besides its raw bytes
///   (up to its blank line), its whole data after U+FFFD replacement against
///   `max_event_len` (likewise an event type with invalid UTF-8), as that
///   copy is memory too; over the limit it is dropped with
///   [`DecodeError::EventTooLong`](crate::DecodeError::EventTooLong) when
///   its blank line is read, and decoding goes on after that blank line;
/// * a reported comment (see [`comments`](Self::comments)) counts its
///   replaced text against `max_line_len`;
/// * the buffers it grows grow exactly, without doubling past that bound.
///
/// Not counted: the events you hold (they own their memory, or share the
/// chunk they came from), and the last event ID, which the decoder must keep
/// (at most `max_line_len` bytes, three times that if it was invalid UTF-8).
/// The test `tests/memory_bound.rs` measures this bound on hostile shapes.
///
/// ```
/// use resse_codec::{Decoder, DecoderConfig, Overflow};
///
/// let decoder = Decoder::with_config(
///     DecoderConfig::default()
///         .max_line_len(64 * 1024)
///         .max_event_len(1024 * 1024)
///         .on_overflow(Overflow::Stop)
///         .comments(true),
/// );
/// assert_eq!(decoder.config().get_max_line_len(), 64 * 1024);
/// ```
#[derive(Clone, Debug)]
pub struct DecoderConfig {
    max_line_len: usize,
    max_event_len: usize,
    on_overflow: Overflow,
    comments: bool,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        Self {
            max_line_len: DEFAULT_MAX_LINE_LEN,
            max_event_len: DEFAULT_MAX_EVENT_LEN,
            on_overflow: Overflow::Skip,
            comments: false,
        }
    }
}

impl DecoderConfig {
    /// Sets the longest accepted line in bytes, terminator excluded
    /// (default [`DEFAULT_MAX_LINE_LEN`]).
    #[must_use]
    pub fn max_line_len(mut self, n: usize) -> Self {
        self.max_line_len = n;
        self
    }

    /// Sets the most raw bytes one event block may hold before its blank line,
    /// counted up to the end of its last line's content (default
    /// [`DEFAULT_MAX_EVENT_LEN`]).
    #[must_use]
    pub fn max_event_len(mut self, n: usize) -> Self {
        self.max_event_len = n;
        self
    }

    /// Sets what happens after a limit is exceeded (default
    /// [`Overflow::Skip`]).
    #[must_use]
    pub fn on_overflow(mut self, overflow: Overflow) -> Self {
        self.on_overflow = overflow;
        self
    }

    /// Reports comment lines as [`Frame::Comment`] (default: off, comments
    /// are skipped as the spec says).
    #[must_use]
    pub fn comments(mut self, yes: bool) -> Self {
        self.comments = yes;
        self
    }

    /// The longest accepted line.
    pub fn get_max_line_len(&self) -> usize {
        self.max_line_len
    }

    /// The most raw bytes one event block may hold.
    pub fn get_max_event_len(&self) -> usize {
        self.max_event_len
    }

    /// What happens after a limit is exceeded.
    pub fn get_on_overflow(&self) -> Overflow {
        self.on_overflow
    }

    /// Whether comments are reported.
    pub fn get_comments(&self) -> bool {
        self.comments
    }
}

/// The fields `Decoder::run_lines` handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Data,
    Event,
    Id,
    Comment,
}

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

const BOM: &[u8; 3] = b"\xEF\xBB\xBF";

/// How many bytes of a line are scanned word-at-a-time before handing over
/// to `memchr2`'s vector search. Most event stream lines are short, and for
/// them a SWAR scan beats `memchr2`'s dispatch and set-up (measured about
/// 1.7x on 37-byte events; 32 bytes is the best compromise between 37-byte
/// and 86-byte lines by instruction count); long
/// lines get the vector search.
const SHORT_SCAN: usize = 32;

/// Reservation step of the join buffer (see [`reserve_in_steps`]). A held
/// event keeps at most one such step alive besides its own bytes.
const JOIN_STEP: usize = 8 * 1024;

/// Reservation step of the buffer that holds last event IDs.
const ID_STEP: usize = 256;

/// The largest block the whole-block fast path takes: larger ones go line by
/// line and are joined in place where the buffer allows, so that joining
/// does not double their memory, and the fast path's scratch (16 bytes per
/// data line) stays small. Checked with the event limit, at no extra cost.
const FAST_BLOCK_MAX: usize = 16 * 1024;

/// The largest join whose memory the decoder keeps for reuse.
const FAST_JOIN_MAX: usize = 64 * 1024;

/// Room for one read that the carry may have beyond the limits when it grows.
const CARRY_ROOM: usize = 16 * 1024;

/// Lines at least this long make the decoder manage buffer room
/// ([`Decoder::make_room`]).
const LONG_LINE: usize = 4096;

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// A mask with the high bit set in every byte of `w` that is CR or LF, exact
/// up to and including the first such byte (the classic has-zero-byte trick:
/// borrows only run upwards, so the lowest flagged byte is a true match).
#[inline(always)]
fn eol_mask(w: u64) -> u64 {
    let lf = w ^ (LO * u64::from(b'\n'));
    let cr = w ^ (LO * u64::from(b'\r'));
    ((lf.wrapping_sub(LO) & !lf) | (cr.wrapping_sub(LO) & !cr)) & HI
}

/// A CR/LF searcher set up once per decoder: on x86-64 with AVX2 a prebuilt
/// vector searcher, which skips `memchr2`'s per-call dispatch and needle
/// set-up (measured 7% faster on 80-byte lines); `memchr2` elsewhere.
#[derive(Clone, Copy, Debug)]
struct Eol {
    #[cfg(target_arch = "x86_64")]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::Two>,
}

impl Eol {
    fn new() -> Self {
        Self {
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::Two::new(b'\n', b'\r'),
        }
    }

    /// The index of the first CR or LF in `hay`, with a vector search.
    #[inline]
    fn find(&self, hay: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(two) = &self.avx2 {
            return two.find(hay);
        }
        memchr2(b'\n', b'\r', hay)
    }

    /// The index of the first CR or LF in `hay`: a word-at-a-time scan of
    /// the first [`SHORT_SCAN`] bytes, then a vector search.
    #[inline(always)]
    fn find_short(&self, hay: &[u8]) -> Option<usize> {
        let head = &hay[..hay.len().min(SHORT_SCAN)];
        let mut words = head.chunks_exact(8);
        let mut at = 0;
        for word in &mut words {
            let word: [u8; 8] = word.try_into().expect("chunks_exact(8) yields 8 bytes");
            let mask = eol_mask(u64::from_le_bytes(word));
            if mask != 0 {
                // Little-endian: byte 0 is the lowest; each byte is 8 bits.
                return Some(at + (mask.trailing_zeros() / 8) as usize);
            }
            at += 8;
        }
        if let Some(i) = words
            .remainder()
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
        {
            return Some(at + i);
        }
        if hay.len() <= SHORT_SCAN {
            return None;
        }
        self.find(&hay[SHORT_SCAN..]).map(|i| i + SHORT_SCAN)
    }
}

/// Where the line terminator at `buf[i]` (CR or LF) ends, or `None` for a CR
/// that is the last byte so far (a LF may follow in the next chunk).
#[inline]
fn after_eol(buf: &[u8], i: usize) -> Option<usize> {
    if buf[i] == b'\n' {
        return Some(i + 1);
    }
    match buf.get(i + 1) {
        Some(b'\n') => Some(i + 2),
        Some(_) => Some(i + 1),
        None => None,
    }
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
    /// Scratch for the `data` values of `block_event`, which takes blocks of
    /// at most [`FAST_BLOCK_MAX`] bytes (empty between calls).
    data: Vec<Span>,
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
            data: Vec::new(),
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
        self.data.clear();
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

    /// The fast paths of `decode` and `decode_bytes`, tried at the start of
    /// a plain block: one `data:` line, then a whole block of simple lines.
    /// `None` (having consumed nothing) leaves the bytes to the general path.
    #[inline(always)]
    fn fast_event<B: Source>(&mut self, buf: &mut B) -> Option<B::Frame> {
        if !self.at_plain_block_start() {
            return None;
        }
        if buf.first() == Some(&b':') && !self.config.comments {
            // Keep-alive comment lines before a block, at a word a line
            // (here rather than in `block_event`, whose loop stays tight).
            if let Some(after) = self.skip_comment_run(buf, 0, true) {
                buf.advance(after);
            }
        }
        if let Some(frame) = self.single_line_event(buf) {
            return Some(frame);
        }
        // `single_line_event` records in `scan` a line it found incomplete.
        if self.scan == 0 {
            return self.block_event(buf);
        }
        None
    }

    /// Nothing unusual is pending and no line of a block has been read: the
    /// fast path may try the next bytes.
    #[inline]
    fn at_plain_block_start(&self) -> bool {
        self.scan == 0
            && self.mode == Mode::Normal
            && !self.bom_pending
            && !self.skip_lf
            && !self.has_state()
    }

    /// Everything but the fast path: one line at a time.
    #[inline(never)]
    fn decode_general<B: Source>(&mut self, buf: &mut B) -> Result<Option<B::Frame>, DecodeError> {
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

    /// Everything but `decode_bytes`'s fast path.
    #[inline(never)]
    fn decode_bytes_general(&mut self, input: &mut Bytes) -> Result<Option<Frame>, DecodeError> {
        self.decode_chunk(input)
    }

    /// `decode_bytes` and `decode_slice` past their fast path: decodes from
    /// the chunk while no block spans chunks, else appends the chunk to the
    /// carry a line at a time and decodes from the carry.
    #[inline(always)]
    fn decode_chunk<I: Chunk>(&mut self, input: &mut I) -> Result<Option<I::Frame>, DecodeError> {
        loop {
            if self.carry.is_empty() {
                if input.is_empty() {
                    return Ok(None);
                }
                // Straight from the chunk, without copying.
                self.from_carry = false;
                let frame = self.decode_from(input);
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
    fn settle_carry(&mut self) {
        if self.carry_used > 0 {
            Buf::advance(&mut self.carry, core::mem::take(&mut self.carry_used));
        }
    }

    /// Lets go of what `decode_slice`'s last frame pointed into.
    #[inline]
    fn settle(&mut self) {
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
        self.settle();
        let chunk: &'c [u8] = input;
        let mut cursor = Cursor {
            bytes: chunk,
            at: 0,
        };
        let fast = if self.carry.is_empty() {
            self.fast_event(&mut cursor)
        } else {
            None
        };
        let frame = match fast {
            Some(frame) => Ok(Some(frame)),
            None => self.decode_chunk(&mut cursor),
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

    #[inline(always)]
    fn resolve<'a>(&'a self, frame: RawFrame, input: &'a [u8]) -> FrameRef<'a> {
        borrowed::resolve(
            frame,
            input,
            &self.joined,
            &self.scratch,
            &self.last_event_id,
        )
    }

    /// The most the carry grows to by doubling: what it may hold after
    /// `Ok(None)` (the larger limit and a line terminator) plus a read.
    fn carry_cap(&self) -> usize {
        let limit = self.config.max_line_len.max(self.config.max_event_len);
        limit.saturating_add(2 + CARRY_ROOM)
    }

    /// Decodes what [`decode_bytes`](Self::decode_bytes) kept at the end of
    /// the stream: as [`decode_eof`](Self::decode_eof) does.
    ///
    /// # Errors
    /// As [`decode`](Self::decode).
    pub fn decode_bytes_eof(&mut self) -> Result<Option<Frame>, DecodeError> {
        self.with_carry(Self::decode_eof)
    }

    /// Runs a `BytesMut` entry point on the carry of `decode_bytes`.
    fn with_carry<T>(&mut self, f: impl FnOnce(&mut Self, &mut BytesMut) -> T) -> T {
        let mut carry = core::mem::take(&mut self.carry);
        // `f` only removes bytes from the carry: what was ASCII stays so.
        self.input_valid = self.carry_ascii;
        let result = f(self, &mut carry);
        self.input_valid = false;
        self.carry = carry;
        result
    }

    /// Strips a leading UTF-8 BOM. Returns false when more bytes are needed
    /// to tell. (At the end of input a partial BOM is just an unterminated
    /// line, which `decode_eof` discards.)
    fn strip_bom<B: Source>(&mut self, buf: &mut B) -> bool {
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

    /// The fast path for the commonest block: one `data:` line then a blank
    /// line, both complete in `buf`, at the start of a block. Returns `None`
    /// (having consumed nothing) for anything else, which the general path
    /// then handles with exactly the same result; it records in `scan` how
    /// far it looked, so nothing is scanned twice.
    #[inline(always)]
    fn single_line_event<B: Source>(&mut self, buf: &mut B) -> Option<B::Frame> {
        if !buf.starts_with(b"data:") {
            return None;
        }
        let Some(i) = self.eol.find_short(&buf[5..]) else {
            // Incomplete line: the general path resumes from here.
            self.scan = buf.len();
            return None;
        };
        let end = 5 + i;
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
        if !self.input_valid && !valid_utf8(&buf[value..end]) {
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
    /// it finds them and builds the event. Returns `None` (having consumed
    /// nothing) for anything else, which the general path then handles with
    /// exactly the same result: other fields, a limit reached, an
    /// incomplete block, a block with no data.
    #[inline]
    fn block_event<B: Source>(&mut self, buf: &mut B) -> Option<B::Frame> {
        let comments = self.config.comments;
        let max_line = self.config.max_line_len;
        // Past either, the general path takes the block.
        let max_end = self.config.max_event_len.min(FAST_BLOCK_MAX);
        let mut pos = 0;
        let mut event_type = None;
        let mut id = None;
        // `self.data` is empty here (no block state) and serves as scratch.
        let bail = |this: &mut Self| {
            this.clear_block();
            None
        };
        let block_end = loop {
            let Some(&b) = buf.get(pos) else {
                return bail(self);
            };
            if b == b'\n' || b == b'\r' {
                match after_eol(buf, pos) {
                    Some(next) if !self.data.is_empty() => break next,
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
                    self.data.push(span);
                    self.data_len += span.len();
                }
                Field::Event => event_type = Some(span),
                Field::Id if valid_id(&buf[span.start..span.end]) => id = Some(span),
                Field::Id | Field::Comment => {}
            }
            pos = next;
        };
        // Invalid UTF-8 in the data or type is counted against the limit
        // once replaced: the general path does that.
        let was_valid = self.input_valid;
        let valid = |s: Span| was_valid || valid_utf8(&buf[s.start..s.end]);
        if !event_type.is_none_or(valid) {
            return bail(self);
        }
        if let [first] = self.data[..] {
            // One data line: shared, not copied.
            if !valid(first) {
                return bail(self);
            }
            self.clear_block();
            self.input_valid = true;
            let frame = self.shared_event(buf, block_end, Some(first), event_type, id);
            self.input_valid = was_valid;
            return frame;
        }
        let Some([event_type, data]) = self.join(buf, event_type, id) else {
            return bail(self);
        };
        self.clear_block();
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
    fn field_end(&self, buf: &[u8], field: Field, from: usize) -> Option<usize> {
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
    fn run_lines<B: Source>(&mut self, buf: &mut B) -> Option<usize> {
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

    /// Records the value of a `data`, `event` or `id` line.
    #[inline]
    fn record(&mut self, field: Field, span: Span) {
        match field {
            Field::Data => self.push_data(span.start, span.end),
            Field::Event => self.event_type = Some(span),
            Field::Id => self.id = Some(span),
            Field::Comment => {}
        }
    }

    /// Skips the keep-alives idle servers send, between blocks: a comment line
    /// that is not reported, at most 8 bytes with its LF (`: ping\n`),
    /// optionally (when `blank` allows) followed by a blank line
    /// (`: ping\n\n`), and any identical ones right after it. Returns where
    /// the run ends, or `None` when the line at `pos` is not such a line.
    #[inline]
    fn skip_comment_run(&self, buf: &[u8], pos: usize, blank: bool) -> Option<usize> {
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
    fn make_room<B: Source>(&self, buf: &mut B) {
        let held = buf.len();
        let want = self.pos + self.long_line + 2;
        if held - self.pos >= LONG_LINE && want > held {
            buf.make_room(want);
        }
    }

    /// Ends the current line at `next`: keeps it when the block holds state,
    /// drops it from the buffer otherwise.
    #[inline]
    fn finish_line<B: Source>(&mut self, buf: &mut B, next: usize) {
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
    fn line<B: Source>(
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

    #[inline]
    fn push_data(&mut self, start: usize, end: usize) {
        if end - start >= LONG_LINE {
            self.long_line = end - start;
        }
        if self.data_lines == 0 {
            self.first_data = Span { start, end };
        }
        self.data_lines += 1;
        self.data_len += end - start;
    }

    /// A blank line at `buf[pos]` ends the block: commit the id, dispatch the
    /// event if there is data.
    ///
    /// An event whose data or type holds invalid UTF-8 is first counted
    /// against `max_event_len` as its raw bytes plus those values after
    /// U+FFFD replacement (the replaced copy is memory too): over the limit,
    /// it is dropped with [`DecodeError::EventTooLong`] and decoding goes on
    /// after this blank line (or stops, with [`Overflow::Stop`]).
    #[inline]
    fn dispatch<B: Source>(
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
    fn check_replacement(&self, buf: &[u8]) -> Result<bool, DecodeError> {
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
                for_each_data_value(&buf[..self.pos], |s| valid &= valid_utf8(value(s)));
                valid
            }
        };
        if !data_valid {
            let mut len = self.data_lines - 1;
            if self.data_lines == 1 {
                len += replaced_len(value(self.first_data));
            } else {
                for_each_data_value(&buf[..self.pos], |s| len += replaced_len(value(s)));
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
    fn join_block<B: Source>(&mut self, buf: &mut B, next: usize) -> [B::Value; 2] {
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
            let written = join_in_place(&mut bytes[..end], long_type);
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
        for_each_data_value(&buf[..end], |v| {
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

    /// Takes the block `buf[..next]` and builds its event from slices of it,
    /// without copying: the data (if any) and the event type; it commits the
    /// id (a copy). Returns `None` for a block without data.
    #[inline]
    fn shared_event<B: Source>(
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
    fn cut_data<B: Source>(&mut self, buf: &mut B, span: Span, next: usize) -> B::Value {
        let data = buf.cut(span.start, span.end, next);
        buf.text(data, self.input_valid, &mut self.scratch)
    }

    /// Makes `buf[id]` the last event ID. A short ID is written inline, in
    /// place. A long one lives as long as the decoder keeps it, so it gets a
    /// buffer of its own: sharing the join buffer would pin it and make
    /// every later join allocate.
    #[inline(always)]
    fn commit_id(&mut self, buf: &[u8], id: Span) {
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
    fn commit_long_id(&mut self, id: &[u8]) {
        self.last_event_id = Text::new();
        reserve_in_steps(&mut self.ids, id.len(), ID_STEP);
        self.ids.extend_from_slice(id);
        self.last_event_id = Text::from_utf8_lossy(self.ids.split().freeze());
    }

    /// Commits the block's `id`, then returns the event type and data of the
    /// block in `buf` whose data lines (several) are `self.data`: the lines
    /// are copied, joined with LF, into `self.joined`
    /// and cut out of it (no allocation in steady state: the buffer's
    /// memory is reused once the events are dropped). A short event type is
    /// copied inline; a long one is joined after the data and cut out of the
    /// same buffer (one shared handle for the two).
    ///
    /// `None` (with nothing committed) when the data is not valid UTF-8,
    /// which the general path handles.
    #[inline(always)]
    fn join<B: Source>(
        &mut self,
        buf: &B,
        event_type: Option<Span>,
        id: Option<Span>,
    ) -> Option<[B::Value; 2]> {
        let len = self.data_len + self.data.len() - 1;
        let event_type = event_type.filter(|s| s.start < s.end);
        let long_type = event_type.filter(|s| s.len() > INLINE_CAP);
        let joined = &mut self.joined;
        let type_len = long_type.map_or(0, Span::len);
        reserve_in_steps(joined, len + type_len, JOIN_STEP);
        // Room is reserved: each append is a copy, no reallocation.
        for (i, line) in self.data.iter().enumerate() {
            if i > 0 {
                joined.extend_from_slice(b"\n");
            }
            joined.extend_from_slice(&buf[line.start..line.end]);
        }
        if let Some(span) = long_type {
            joined.extend_from_slice(&buf[span.start..span.end]);
        }
        // Checked here, once over the joined data, while it is in L1.
        let from = joined.len() - len - type_len;
        if !self.input_valid && !valid_utf8(&joined[from..from + len]) {
            joined.truncate(from);
            return None;
        }
        if let Some(id) = id {
            self.commit_id(buf, id);
        }
        let [data, long] = B::joined(&mut self.joined, len, type_len, true, &mut self.scratch);
        self.joined_used |= !B::OWNED;
        let event_type = match (long_type, event_type) {
            (Some(_), _) => long,
            (None, short) => short.map_or(B::absent(), |s| buf.short(s, &mut self.scratch)),
        };
        Some([event_type, data])
    }

    /// No line end in the buffer: enforce the limits on the partial line.
    fn check_partial<B: Source>(&mut self, buf: &mut B) -> Result<(), DecodeError> {
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
    fn crossed(&self, start: usize, upto: usize, state_before: bool) -> Option<DecodeError> {
        if upto - start <= self.config.max_line_len
            && (!state_before || upto <= self.config.max_event_len)
        {
            return None;
        }
        self.crossed_slow(start, upto, state_before)
    }

    #[cold]
    fn crossed_slow(&self, start: usize, upto: usize, state_before: bool) -> Option<DecodeError> {
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
    fn overflow<B: Source>(
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
    fn discard<B: Source>(&mut self, buf: &mut B) -> bool {
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
}

/// A chunk the decoder reads without copying, and how it decodes from its
/// carry when a block spans chunks.
trait Chunk: Source {
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

impl Chunk for Cursor<'_> {
    /// As for `Bytes`, but what is consumed stays in the carry until the
    /// frame is let go, and the frame's positions are in the carry.
    #[inline]
    fn on_carry(dec: &mut Decoder, eof: bool) -> Result<Option<RawFrame>, DecodeError> {
        let mut carry = core::mem::take(&mut dec.carry);
        dec.input_valid = dec.carry_ascii;
        let mut cursor = CarryCursor {
            bytes: &mut carry[..],
            at: 0,
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

/// Makes room for `n` more bytes in a buffer the decoder hands out pieces of,
/// in steps of at least `step` bytes, so that reclaiming its memory (once
/// the pieces are dropped) happens once per many events rather than on each.
#[inline]
fn reserve_in_steps(buf: &mut BytesMut, n: usize, step: usize) {
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
fn grow_exact_slow(buf: &mut BytesMut, n: usize, cap: usize) {
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

/// Where the name of the field on `line` (not blank, not a comment) ends and
/// its value starts: up to the first colon, then one space skipped; the
/// whole line with an empty value when there is no colon.
#[inline]
fn split_field(line: &[u8]) -> (usize, usize) {
    // Field names are a few bytes long: a plain loop finds the colon sooner
    // than a `memchr` call is set up.
    match line.iter().position(|&b| b == b':') {
        Some(c) => (c, c + 1 + usize::from(line.get(c + 1) == Some(&b' '))),
        None => (line.len(), line.len()),
    }
}

/// The line of `block` (which ends with a line terminator, or is empty)
/// starting at `at`: where its content ends and where the next line starts.
#[inline]
fn line_at(block: &[u8], at: usize) -> (usize, usize) {
    let end = memchr2(b'\n', b'\r', &block[at..]).map_or(block.len(), |i| at + i);
    let next = match block.get(end) {
        Some(b'\r') if block.get(end + 1) == Some(&b'\n') => end + 2,
        Some(_) => end + 1,
        None => end,
    };
    (end, next)
}

/// Calls `f` with the value of every `data` line of `block` (whole lines,
/// none blank), in order.
fn for_each_data_value(block: &[u8], mut f: impl FnMut(Span)) {
    let mut at = 0;
    while at < block.len() {
        let (end, next) = line_at(block, at);
        let line = &block[at..end];
        if line.first() != Some(&b':') {
            let (name_end, value) = split_field(line);
            if &line[..name_end] == b"data" {
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
fn join_in_place(block: &mut [u8], long_type: Option<Span>) -> usize {
    let (mut w, mut at, mut first, mut type_at) = (0, 0, true, None);
    while at < block.len() {
        let (end, next) = line_at(block, at);
        let line = &block[at..end];
        if line.first() != Some(&b':') {
            let (name_end, value) = split_field(line);
            let value = Span {
                start: at + value,
                end,
            };
            let is_data = &line[..name_end] == b"data";
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

/// Whether `bytes` are valid UTF-8 (ASCII checked first, much faster).
#[inline]
pub(crate) fn valid_utf8(bytes: &[u8]) -> bool {
    text::is_ascii(bytes) || core::str::from_utf8(bytes).is_ok()
}

/// The length of `bytes` once each invalid UTF-8 sequence is replaced with
/// U+FFFD (3 bytes), as [`Text::from_utf8_lossy`] does.
fn replaced_len(bytes: &[u8]) -> usize {
    bytes
        .utf8_chunks()
        .map(|c| c.valid().len() + if c.invalid().is_empty() { 0 } else { 3 })
        .sum()
}

/// The field a line the fast paths handle starts with, and the length of
/// its name and colon: `data:`, `event:`, `id:`, or a comment when comments
/// are not reported. `None` for anything else.
#[inline]
fn field_name(line: &[u8], comments: bool) -> Option<(Field, usize)> {
    match line.first()? {
        b'd' if line.starts_with(b"data:") => Some((Field::Data, 5)),
        b'e' if line.starts_with(b"event:") => Some((Field::Event, 6)),
        b'i' if line.starts_with(b"id:") => Some((Field::Id, 3)),
        b':' if !comments => Some((Field::Comment, 1)),
        _ => None,
    }
}

/// Whether an `id` value counts: one containing NUL is ignored (spec).
#[inline]
fn valid_id(value: &[u8]) -> bool {
    if value.len() <= 32 {
        // Ids are short: a branch-free pass beats `memchr`, whose short-input
        // loop mispredicts on every id length change (measured: 0.8 per
        // `multiline` event).
        return !value.iter().fold(false, |nul, &b| nul | (b == 0));
    }
    !value.contains(&0)
}

/// The `retry` value in milliseconds, if it is one or more ASCII digits.
/// Values beyond `u64::MAX` saturate (the spec sets no bound; a reconnect
/// policy caps such values anyway).
fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    let mut ms: u64 = 0;
    for &b in value {
        if !b.is_ascii_digit() {
            return None;
        }
        ms = ms.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    Some(ms)
}

/// A [`Decoder`] that owns its buffer: feed it byte slices, pull frames.
///
/// ```
/// use resse_codec::{BufferedDecoder, Decoder, Frame};
///
/// let mut d = BufferedDecoder::new(Decoder::new());
/// d.feed(b"event: greet\ndata: hi\n\n");
/// let Some(Frame::Event(e)) = d.next_frame()? else { panic!("expected an event") };
/// assert_eq!((e.event_type(), e.data()), ("greet", "hi"));
/// assert_eq!(d.finish()?, None);
/// # Ok::<(), resse_codec::DecodeError>(())
/// ```
#[derive(Debug, Default)]
pub struct BufferedDecoder {
    decoder: Decoder,
    buf: BytesMut,
}

impl BufferedDecoder {
    /// Wraps `decoder` with an empty buffer.
    pub fn new(decoder: Decoder) -> Self {
        Self {
            decoder,
            buf: BytesMut::new(),
        }
    }

    /// Appends bytes received from the stream. The buffer grows within the
    /// decoder's memory bound (see [`DecoderConfig`]).
    pub fn feed(&mut self, bytes: &[u8]) {
        let config = self.decoder.config();
        let limit = config.max_line_len.max(config.max_event_len);
        grow_exact(
            &mut self.buf,
            bytes.len(),
            limit.saturating_add(2 + CARRY_ROOM),
        );
        self.buf.extend_from_slice(bytes);
    }

    /// The next frame, or `Ok(None)` when more bytes are needed.
    ///
    /// # Errors
    /// As [`Decoder::decode`].
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        self.decoder.decode(&mut self.buf)
    }

    /// At the end of the stream: the remaining frames, then `Ok(None)`.
    ///
    /// # Errors
    /// As [`Decoder::decode_eof`].
    pub fn finish(&mut self) -> Result<Option<Frame>, DecodeError> {
        self.decoder.decode_eof(&mut self.buf)
    }

    /// The decoder.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// The decoder, mutably.
    pub fn decoder_mut(&mut self) -> &mut Decoder {
        &mut self.decoder
    }

    /// Bytes received but not consumed yet.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }
}
