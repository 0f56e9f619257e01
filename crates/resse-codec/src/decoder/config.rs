//! A decoder's settings: [`DecoderConfig`], what happens after a limit is
//! exceeded ([`Overflow`]), and the default limits.

#[cfg(doc)]
use super::{BufferedDecoder, Decoder};
#[cfg(doc)]
use crate::Frame;

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
    pub(super) max_line_len: usize,
    pub(super) max_event_len: usize,
    pub(super) on_overflow: Overflow,
    pub(super) comments: bool,
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
    resse_builder::field_methods! {
        /// Sets the longest accepted line in bytes, terminator excluded
        /// (default [`DEFAULT_MAX_LINE_LEN`]).
        #[must_use]
        pub fn max_line_len(mut self, n: usize) -> Self;

        /// Sets the most raw bytes one event block may hold before its blank line,
        /// counted up to the end of its last line's content (default
        /// [`DEFAULT_MAX_EVENT_LEN`]).
        #[must_use]
        pub fn max_event_len(mut self, n: usize) -> Self;

        /// Sets what happens after a limit is exceeded (default
        /// [`Overflow::Skip`]).
        #[must_use]
        pub fn on_overflow(mut self, overflow: Overflow) -> Self;

        /// Reports comment lines as [`Frame::Comment`] (default: off, comments
        /// are skipped as the spec says).
        #[must_use]
        pub fn comments(mut self, yes: bool) -> Self;

        /// The longest accepted line.
        pub fn get_max_line_len(&self) -> usize = self.max_line_len;

        /// The most raw bytes one event block may hold.
        pub fn get_max_event_len(&self) -> usize = self.max_event_len;

        /// What happens after a limit is exceeded.
        pub fn get_on_overflow(&self) -> Overflow = self.on_overflow;

        /// Whether comments are reported.
        pub fn get_comments(&self) -> bool = self.comments;
    }
}
