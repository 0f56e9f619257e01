//! The event stream encoder.

use bytes::BufMut;
use core::time::Duration;
use memchr::{memchr, memchr2};

use crate::{EncodeError, Event};

/// Encodes events and comments as `text/event-stream` bytes.
///
/// It writes into any [`BufMut`] (`BytesMut`, `Vec<u8>`, …). A value that
/// would break the framing is refused with an [`EncodeError`] and nothing is
/// written, so no event can inject fields or events into the stream. A
/// growable buffer never runs out of room; a fixed-size `BufMut` panics when
/// full, as every `BufMut` write does.
///
/// # Round-trip law
///
/// Decoding `encode(e)` with a fresh [`Decoder`](crate::Decoder) yields
/// `Frame::Retry(r)` if `e` has a retry `r` (whole milliseconds), then
/// `Frame::Event(n)` where `n` is `e` with: an empty event type removed, CRLF
/// and lone CR in the data turned into LF, the id `Some("")` if it had none
/// (the decoder reports the last event ID in effect), and no retry.
///
/// ```
/// use bytes::BytesMut;
/// use resse_codec::{Encoder, Event};
///
/// let mut out = BytesMut::new();
/// let mut enc = Encoder::new();
/// enc.encode(&Event::new("line 1\nline 2").with_event_type("update").with_id("7"), &mut out)?;
/// enc.comment("keep-alive", &mut out);
/// assert_eq!(&out[..], b"event: update\nid: 7\ndata: line 1\ndata: line 2\n\n: keep-alive\n");
///
/// // Framing-breaking values are refused:
/// assert!(enc.encode(&Event::new("x").with_id("1\ndata: injected"), &mut out).is_err());
/// # Ok::<(), resse_codec::EncodeError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Encoder {
    _private: (),
}

impl Encoder {
    /// An encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `event`: optional `event:`, `id:` and `retry:` lines, one
    /// `data:` line per LF-, CR- or CRLF-separated segment of the data (so
    /// empty data and trailing line breaks survive), and the blank line that
    /// dispatches it.
    ///
    /// # Errors
    /// [`EncodeError`] if the event type contains CR or LF, or the id contains
    /// CR, LF or NUL. Nothing is written then.
    pub fn encode<B: BufMut>(&mut self, event: &Event, dst: &mut B) -> Result<(), EncodeError> {
        let event_type = event.event_type_text().map(|t| t.as_bytes());
        let id = event.id_text().map(|t| t.as_bytes());
        if event_type.is_some_and(|t| memchr2(b'\r', b'\n', t).is_some()) {
            return Err(EncodeError::EventTypeHasNewline);
        }
        if let Some(id) = id {
            if memchr2(b'\r', b'\n', id).is_some() {
                return Err(EncodeError::IdHasNewline);
            }
            if memchr(0, id).is_some() {
                return Err(EncodeError::IdHasNul);
            }
        }
        if let Some(t) = event_type {
            field(dst, b"event: ", t);
        }
        if let Some(id) = id {
            field(dst, b"id: ", id);
        }
        if let Some(retry) = event.retry() {
            self.retry(retry, dst);
        }
        lines(dst, b"data: ", event.data().as_bytes());
        dst.put_u8(b'\n');
        Ok(())
    }

    /// Writes a comment: one `: ` line per LF-, CR- or CRLF-separated line
    /// of `text`. Clients ignore comments; servers send them as keep-alives.
    pub fn comment<B: BufMut>(&mut self, text: &str, dst: &mut B) {
        lines(dst, b": ", text.as_bytes());
    }

    /// Writes a `retry:` line announcing the reconnection time, in whole
    /// milliseconds (saturating at `u64::MAX`). It takes effect when read,
    /// whether or not an event follows.
    pub fn retry<B: BufMut>(&mut self, retry: Duration, dst: &mut B) {
        let ms = u64::try_from(retry.as_millis()).unwrap_or(u64::MAX);
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut n = ms;
        loop {
            i -= 1;
            // `n % 10` is below 10, so the cast cannot truncate.
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        field(dst, b"retry: ", &digits[i..]);
    }
}

fn field<B: BufMut>(dst: &mut B, name: &[u8], value: &[u8]) {
    dst.put_slice(name);
    dst.put_slice(value);
    dst.put_u8(b'\n');
}

/// Writes one `prefix` line per segment of `text` split at LF, CR and CRLF.
fn lines<B: BufMut>(dst: &mut B, prefix: &[u8], mut text: &[u8]) {
    while let Some(i) = memchr2(b'\r', b'\n', text) {
        field(dst, prefix, &text[..i]);
        let skip = if text[i] == b'\r' && text.get(i + 1) == Some(&b'\n') {
            2
        } else {
            1
        };
        text = &text[i + skip..];
    }
    field(dst, prefix, text);
}
