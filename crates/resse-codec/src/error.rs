//! Error types of the codec.

use core::fmt;

/// A limit of [`DecoderConfig`](crate::DecoderConfig) was exceeded.
///
/// The error is returned once, at the point where the decoder notices it. The
/// bytes of the offending block are dropped, so memory stays bounded. What
/// happens next depends on [`Overflow`](crate::Overflow): with `Skip` (the
/// default) the rest of the block is discarded and decoding resumes after the
/// next blank line; with `Stop` the decoder ignores all further input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// A line (terminator excluded) was longer than `limit` bytes.
    LineTooLong {
        /// The configured [`max_line_len`](crate::DecoderConfig::max_line_len).
        limit: usize,
    },
    /// An event block held more than `limit` bytes before its blank line.
    EventTooLong {
        /// The configured [`max_event_len`](crate::DecoderConfig::max_event_len).
        limit: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LineTooLong { limit } => write!(
                f,
                "event stream line longer than {limit} bytes; the rest of its event was skipped \
                 (raise DecoderConfig::max_line_len if the source is trusted)"
            ),
            Self::EventTooLong { limit } => write!(
                f,
                "event stream event larger than {limit} bytes; it was skipped \
                 (raise DecoderConfig::max_event_len if the source is trusted)"
            ),
        }
    }
}

impl core::error::Error for DecodeError {}

/// An event could not be encoded without breaking the stream's framing.
///
/// Nothing is written when this is returned. The encoder never alters a value
/// to make it fit: a field that would let its content start a new line (and so
/// inject fields or events) is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The event type contains CR or LF.
    EventTypeHasNewline,
    /// The id contains CR or LF.
    IdHasNewline,
    /// The id contains NUL, which clients must ignore (the id would be lost).
    IdHasNul,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EventTypeHasNewline => {
                "event type contains a line break (CR or LF), which would end the field early"
            }
            Self::IdHasNewline => {
                "event id contains a line break (CR or LF), which would end the field early"
            }
            Self::IdHasNul => "event id contains NUL, so clients would ignore it",
        })
    }
}

impl core::error::Error for EncodeError {}
