//! [`Text`]: a cheaply clonable, `Bytes`-backed string that is always valid UTF-8.
//!
//! This is the only module of the crate that uses `unsafe`: it stores the fact
//! "these bytes were checked to be UTF-8" so that `as_str()` costs nothing.
//! Every constructor either validates, converts lossily, or starts from a
//! `str`, so the invariant holds for every `Text` that exists.
#![allow(unsafe_code)]

use alloc::string::String;
use bytes::Bytes;
use core::{borrow::Borrow, fmt, hash, ops::Deref, str::Utf8Error};

/// Longest text kept inline, inside the `Text` value itself.
pub(crate) const INLINE_CAP: usize = 23;

/// An inline text: `INLINE_CAP` bytes of room, then the length.
type InlineBuf = [u8; INLINE_CAP + 1];

/// A cheaply clonable string backed by [`Bytes`], always valid UTF-8.
///
/// Decoded events hand out their fields as `Text`: a field that was one
/// contiguous slice of the input shares the input's memory (clone is a
/// reference-count increment), and it dereferences to [`str`] at no cost.
/// Short strings the decoder has to copy anyway (event types and ids of up
/// to 23 bytes, like `update` or `1234`) are stored inline instead: no
/// allocation, and clone and drop touch no shared counter.
///
/// ```
/// use resse_codec::Text;
///
/// let t = Text::from("héllo");
/// assert_eq!(t.as_str(), "héllo");
/// assert_eq!(t.len(), 6); // bytes, like `str::len`
/// assert_eq!(t, "héllo");
/// ```
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Shared(Bytes),
    Inline(InlineBuf),
}

impl Default for Text {
    fn default() -> Self {
        Self::new()
    }
}

impl Text {
    /// The empty string. Allocates nothing.
    pub const fn new() -> Self {
        Self(Repr::Inline([0; INLINE_CAP + 1]))
    }

    /// Wraps a static string without copying it.
    pub const fn from_static(s: &'static str) -> Self {
        Self(Repr::Shared(Bytes::from_static(s.as_bytes())))
    }

    /// Wraps `bytes` if they are valid UTF-8, without copying.
    ///
    /// # Errors
    /// Returns the [`Utf8Error`] describing the first invalid sequence.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, Utf8Error> {
        core::str::from_utf8(&bytes)?;
        Ok(Self(Repr::Shared(bytes)))
    }

    /// Wraps `bytes`, replacing every invalid UTF-8 sequence with U+FFFD
    /// (one per maximal subpart, as the WHATWG encoding standard and browsers
    /// do). Zero-copy when the bytes are already valid; allocates otherwise.
    #[inline]
    pub fn from_utf8_lossy(bytes: Bytes) -> Self {
        // ASCII is by far the common case, and checking for it is several
        // times faster than full validation.
        if is_ascii(&bytes) {
            return Self(Repr::Shared(bytes));
        }
        match core::str::from_utf8(&bytes) {
            Ok(_) => Self(Repr::Shared(bytes)),
            Err(_) => Self::from(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }

    /// A copy of `hay[..len]`, converted as [`from_utf8_lossy`] does:
    /// inline when short and ASCII, else in a new buffer. Bytes of `hay`
    /// past `len` are ignored; passing them lets a short text be copied in
    /// one fixed-size move instead of byte by byte.
    ///
    /// # Panics
    /// If `len > hay.len()` (a bug in the caller).
    ///
    /// [`from_utf8_lossy`]: Self::from_utf8_lossy
    #[inline]
    pub(crate) fn copy_lossy(hay: &[u8], len: usize) -> Self {
        let bytes = &hay[..len];
        if len <= INLINE_CAP {
            if let Some(head) = hay.get(..INLINE_CAP + 1) {
                // Word moves and a word-wise ASCII check: writing the bytes
                // one at a time and then moving the value as a whole stalls
                // store forwarding.
                const HI: u64 = 0x8080_8080_8080_8080;
                let word = |i: usize| {
                    let w: [u8; 8] = head[8 * i..8 * i + 8].try_into().expect("8 bytes");
                    u64::from_le_bytes(w)
                };
                // The bits of word `i` that lie within `len`.
                let within = |i: usize| match len.saturating_sub(8 * i) {
                    0 => 0,
                    n if n >= 8 => u64::MAX,
                    n => (1u64 << (8 * n)) - 1,
                };
                let [w0, w1, w2] = [word(0), word(1), word(2)];
                if ((w0 & within(0)) | (w1 & within(1)) | (w2 & within(2))) & HI == 0 {
                    // `len <= INLINE_CAP`: it fits the top byte.
                    let last = (w2 & (u64::MAX >> 8)) | ((len as u64) << 56);
                    let mut buf = [0; INLINE_CAP + 1];
                    buf[..8].copy_from_slice(&w0.to_le_bytes());
                    buf[8..16].copy_from_slice(&w1.to_le_bytes());
                    buf[16..].copy_from_slice(&last.to_le_bytes());
                    return Self(Repr::Inline(buf));
                }
            }
        }
        Self::copy_lossy_slow(bytes)
    }

    #[cold]
    fn copy_lossy_slow(bytes: &[u8]) -> Self {
        match core::str::from_utf8(bytes) {
            Ok(s) => Self::from(s),
            Err(_) => Self::from(String::from_utf8_lossy(bytes).into_owned()),
        }
    }

    /// `s` stored inline. The caller checks `s.len() <= INLINE_CAP`.
    fn inline_str(s: &str) -> Self {
        let mut buf = [0; INLINE_CAP + 1];
        buf[..s.len()].copy_from_slice(s.as_bytes());
        // `s.len() <= INLINE_CAP`, which fits a `u8`.
        buf[INLINE_CAP] = s.len() as u8;
        Self(Repr::Inline(buf))
    }

    /// The string.
    #[inline]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor of `Text` checks or guarantees that the
        // bytes are valid UTF-8 (`from_utf8` validates; `from_utf8_lossy`
        // accepts only ASCII or validated bytes, else converts; `copy_lossy`
        // inlines only ASCII (and `as_bytes` never reads past `len`), else
        // validates or converts; `inline_str` copies a `str`;
        // `From<&str>`/`From<String>`/`from_static` start from a `str`), and
        // the bytes are never mutated afterwards.
        unsafe { core::str::from_utf8_unchecked(self.as_bytes()) }
    }

    /// The UTF-8 bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Shared(bytes) => bytes,
            Repr::Inline(buf) => &buf[..usize::from(buf[INLINE_CAP])],
        }
    }

    /// The bytes as [`Bytes`]: without copying when the text shares a
    /// buffer, a copy of the few bytes of a short inline text.
    pub fn into_bytes(self) -> Bytes {
        match self.0 {
            Repr::Shared(bytes) => bytes,
            Repr::Inline(_) => Bytes::copy_from_slice(self.as_bytes()),
        }
    }
}

/// Whether `bytes` is all ASCII: `<[u8]>::is_ascii`, but 2-3x faster on
/// the 80 to 500 bytes of typical event data (measured: 404 bytes in 6 ns
/// against 16 ns), because OR-ing whole words vectorises. Blocks of 1 KiB
/// keep the early exit on non-ASCII text.
#[inline]
pub(crate) fn is_ascii(bytes: &[u8]) -> bool {
    if bytes.len() < 32 {
        return bytes.is_ascii();
    }
    let mut blocks = bytes.chunks_exact(1024);
    for block in &mut blocks {
        if !words_ascii(block) {
            return false;
        }
    }
    words_ascii(blocks.remainder())
}

/// The word-OR check of [`is_ascii`] on one block.
#[inline]
fn words_ascii(block: &[u8]) -> bool {
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut chunks = block.chunks_exact(32);
    let mut acc = [0u64; 4];
    for chunk in &mut chunks {
        for (a, word) in acc.iter_mut().zip(chunk.chunks_exact(8)) {
            *a |= u64::from_le_bytes(word.try_into().expect("8 bytes"));
        }
    }
    (acc[0] | acc[1] | acc[2] | acc[3]) & HI == 0 && chunks.remainder().is_ascii()
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Text {}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Text {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl hash::Hash for Text {
    fn hash<H: hash::Hasher>(&self, state: &mut H) {
        // Must agree with `str`'s hash because of `Borrow<str>`.
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl From<&str> for Text {
    /// Copies `s`: inline when it is at most 23 bytes long, else into a new
    /// buffer.
    fn from(s: &str) -> Self {
        if s.len() <= INLINE_CAP {
            return Self::inline_str(s);
        }
        Self(Repr::Shared(Bytes::copy_from_slice(s.as_bytes())))
    }
}

impl From<String> for Text {
    /// Takes over the string's buffer without copying.
    fn from(s: String) -> Self {
        Self(Repr::Shared(Bytes::from(s)))
    }
}

impl From<Text> for Bytes {
    fn from(t: Text) -> Self {
        t.into_bytes()
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::{format, vec};

    #[test]
    fn lossy_is_zero_copy_when_valid() {
        let b = Bytes::from_static(b"abc");
        let t = Text::from_utf8_lossy(b.clone());
        assert_eq!(t.as_bytes().as_ptr(), b.as_ptr());
    }

    #[test]
    fn lossy_replaces_maximal_subparts() {
        let t = Text::from_utf8_lossy(Bytes::from_static(b"a\xF0\x9F\x98b\xC0\x80"));
        assert_eq!(t, "a\u{FFFD}b\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn short_texts_are_inline_and_equal_to_shared_ones() {
        for s in [
            "",
            "a",
            "update",
            "12345678",
            "é",
            "日本語",
            &"x".repeat(23),
            &"é".repeat(11),
        ] {
            let inline = Text::from(s);
            assert!(matches!(inline.0, Repr::Inline(_)), "{s:?} inline");
            let shared = Text::from_utf8(Bytes::copy_from_slice(s.as_bytes())).unwrap();
            assert_eq!(inline, shared);
            assert_eq!(inline.as_str(), s);
            assert_eq!(inline.clone().into_bytes(), s.as_bytes());
            assert_eq!(inline.cmp(&shared), core::cmp::Ordering::Equal);
        }
        let long = "y".repeat(24);
        assert!(matches!(Text::from(long.as_str()).0, Repr::Shared(_)));
        assert_eq!(Text::from(long.as_str()), long.as_str());
    }

    #[test]
    fn copy_lossy_reads_only_len_bytes() {
        // Every length up to past the inline capacity, with a following
        // non-ASCII byte that must be ignored, with and without room for the
        // word-wise copy.
        let text = "abcdefghijklmnopqrstuvwxyz0123";
        for len in 0..=text.len() {
            let mut hay = text.as_bytes()[..len].to_vec();
            hay.push(0xFF);
            hay.extend_from_slice(&[0x80; 32]);
            assert_eq!(Text::copy_lossy(&hay, len), &text[..len], "len {len}, tail");
            assert_eq!(
                Text::copy_lossy(&hay[..len], len),
                &text[..len],
                "len {len}"
            );
        }
    }

    #[test]
    fn copy_lossy_converts_invalid_and_non_ascii() {
        for len in [1, 7, 8, 9, 16, 17, 23, 24, 40] {
            // A non-ASCII byte in the last position of the text.
            let mut hay = vec![b'a'; len + 30];
            hay[len - 1] = 0xFF;
            let want = format!("{}\u{FFFD}", "a".repeat(len - 1));
            assert_eq!(
                Text::copy_lossy(&hay, len),
                want.as_str(),
                "invalid at {len}"
            );
            let valid = "é".repeat(len);
            let got = Text::copy_lossy(valid.as_bytes(), valid.len());
            assert_eq!(got, valid.as_str(), "UTF-8 of {} bytes", valid.len());
        }
    }

    #[test]
    fn is_ascii_agrees_with_core() {
        for len in [0usize, 1, 31, 32, 33, 404, 1023, 1024, 1025, 3000] {
            let clean = vec![b'q'; len];
            assert!(is_ascii(&clean));
            for at in [0, len / 2, len.saturating_sub(1)] {
                if len == 0 {
                    continue;
                }
                let mut dirty = clean.clone();
                dirty[at] = 0x80;
                assert!(!is_ascii(&dirty), "len {len}, non-ASCII at {at}");
            }
        }
    }

    #[test]
    fn strict_rejects_invalid() {
        assert!(Text::from_utf8(Bytes::from_static(b"\xFF")).is_err());
    }
}
