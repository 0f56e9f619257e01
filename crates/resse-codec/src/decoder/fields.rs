//! The per-line rules of the spec as plain functions, which every path
//! calls: the fields the fast paths know, the field/value split (one
//! optional space), which `id` values count (no NUL), which `retry` values
//! count (ASCII digits only), and the UTF-8 checks.

use super::eol::{HI, LO};
#[cfg(doc)]
use crate::Text;
use crate::text;

pub(super) const BOM: &[u8; 3] = b"\xEF\xBB\xBF";

/// The fields `Decoder::run_lines` handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Field {
    Data,
    Event,
    Id,
    Comment,
}

/// The field a line the fast paths handle starts with, and the length of
/// its name and colon: `data:`, `event:`, `id:`, or a comment when comments
/// are not reported. `None` for anything else.
#[inline]
pub(super) fn field_name(line: &[u8], comments: bool) -> Option<(Field, usize)> {
    match line.first()? {
        b'd' if line.starts_with(b"data:") => Some((Field::Data, 5)),
        b'e' if line.starts_with(b"event:") => Some((Field::Event, 6)),
        b'i' if line.starts_with(b"id:") => Some((Field::Id, 3)),
        b':' if !comments => Some((Field::Comment, 1)),
        _ => None,
    }
}

/// Where the name of the field on `line` (not blank, not a comment) ends and
/// its value starts: up to the first colon, then one space skipped; the
/// whole line with an empty value when there is no colon.
#[inline]
pub(super) fn split_field(line: &[u8]) -> (usize, usize) {
    // Field names are a few bytes long: a plain loop finds the colon sooner
    // than a `memchr` call is set up.
    match line.iter().position(|&b| b == b':') {
        Some(c) => (c, c + 1 + usize::from(line.get(c + 1) == Some(&b' '))),
        None => (line.len(), line.len()),
    }
}

/// For a line that is not blank and not a comment: whether its field is
/// `data`, and where its value starts (as [`split_field`] splits it, with
/// the common `data:` prefix tested first).
#[inline]
pub(super) fn data_value(line: &[u8]) -> (bool, usize) {
    if line.starts_with(b"data:") {
        return (true, 5 + usize::from(line.get(5) == Some(&b' ')));
    }
    let (name_end, value) = split_field(line);
    (&line[..name_end] == b"data", value)
}

/// Whether an `id` value counts: one containing NUL is ignored (spec).
#[inline]
pub(super) fn valid_id(value: &[u8]) -> bool {
    if value.len() <= 32 {
        // Ids are short: a branch-free pass beats `memchr`, whose short-input
        // loop mispredicts on every id length change (measured: 0.8 per
        // `multiline` event).
        return !value.iter().fold(false, |nul, &b| nul | (b == 0));
    }
    !value.contains(&0)
}

/// [`valid_id`] for the value `buf[start..end]`: an id of at most 8 bytes
/// with 8 bytes of `buf` from its start (its line end follows it) is tested
/// in one word, without a loop whose trip count changes with the id's
/// length. Not inlined: inlined into `block_event`, it cost the loop around
/// it registers (measured: 366.7M instead of 352.7M instructions on
/// `multiline` with thin LTO, and in the default profile 4 more per `small`
/// event in `decode_slice`, whose fast path inlines `block_event` too).
#[inline(never)]
pub(super) fn valid_id_at(buf: &[u8], start: usize, end: usize) -> bool {
    let len = end - start;
    if let (true, Some(word)) = (len <= 8, buf.get(start..start + 8)) {
        let w = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        // The bytes past the value set to 0xFF, so that only its own count.
        let w = w | u64::MAX.checked_shl(8 * len as u32).unwrap_or(0);
        // The has-zero-byte trick: nonzero exactly when a byte is 0.
        return w.wrapping_sub(LO) & !w & HI == 0;
    }
    valid_id(&buf[start..end])
}

/// The `retry` value in milliseconds, if it is one or more ASCII digits.
/// Values beyond `u64::MAX` saturate (the spec sets no bound; a reconnect
/// policy caps such values anyway).
pub(super) fn parse_retry(value: &[u8]) -> Option<u64> {
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

/// Whether `bytes` are valid UTF-8 (ASCII checked first, much faster).
#[inline]
pub(crate) fn valid_utf8(bytes: &[u8]) -> bool {
    text::is_ascii(bytes) || core::str::from_utf8(bytes).is_ok()
}

/// The length of `bytes` once each invalid UTF-8 sequence is replaced with
/// U+FFFD (3 bytes), as [`Text::from_utf8_lossy`] does.
pub(super) fn replaced_len(bytes: &[u8]) -> usize {
    bytes
        .utf8_chunks()
        .map(|c| c.valid().len() + if c.invalid().is_empty() { 0 } else { 3 })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::{valid_id, valid_id_at};
    use alloc::vec;

    /// `valid_id_at` agrees with `valid_id` for ids of every length around
    /// the word, with a NUL at every position or none, and with 0 to 9
    /// bytes (NULs too) after the id in the buffer.
    #[test]
    fn valid_id_at_agrees_with_valid_id() {
        for len in 0..12 {
            for nul in (0..len).map(Some).chain([None]) {
                for after in 0..10 {
                    for fill in [b'\n', 0] {
                        let mut buf = vec![b'7'; len];
                        if let Some(i) = nul {
                            buf[i] = 0;
                        }
                        buf.extend(core::iter::repeat_n(fill, after));
                        let want = valid_id(&buf[..len]);
                        assert_eq!(valid_id_at(&buf, 0, len), want, "{len} {nul:?} {after}");
                        let mut shifted = vec![b'x'; 3];
                        shifted.extend_from_slice(&buf);
                        assert_eq!(valid_id_at(&shifted, 3, 3 + len), want);
                    }
                }
            }
        }
    }
}
