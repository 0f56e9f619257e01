//! [`Text`]: a cheaply clonable, `Bytes`-backed string that is always valid UTF-8.
//!
//! One of the two modules of the crate that use `unsafe` (the other is the
//! decoder's line index, for its vector compares): it stores the fact
//! "these bytes were checked to be UTF-8" so that `as_str()` costs nothing
//! (and `checked_str` does the same for the borrowed frames).
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

/// The length byte of [`Text::ABSENT`]: no real inline text has it.
const ABSENT_LEN: u8 = u8::MAX;

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

    /// A marker for "no text" where an `Option<Text>` would not keep
    /// [`Event`](crate::Event) small: it reads as empty, and the crate never
    /// hands it out (the `Event` accessors turn it into `None`).
    pub(crate) const ABSENT: Self = {
        let mut buf = [0; INLINE_CAP + 1];
        buf[INLINE_CAP] = ABSENT_LEN;
        Self(Repr::Inline(buf))
    };

    /// Whether this is [`Text::ABSENT`].
    #[inline]
    pub(crate) fn is_absent(&self) -> bool {
        matches!(&self.0, Repr::Inline(buf) if buf[INLINE_CAP] == ABSENT_LEN)
    }

    /// `Some(self)` unless this is [`Text::ABSENT`].
    #[inline]
    pub(crate) fn present(&self) -> Option<&Self> {
        (!self.is_absent()).then_some(self)
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
        Self::from_utf8_lossy_slow(bytes)
    }

    /// [`from_utf8_lossy`](Self::from_utf8_lossy), skipping the check when
    /// the caller has already seen the bytes to be valid UTF-8 (`valid`):
    /// the decoder passes `true` only for slices of a buffer it checked piece
    /// by piece as it filled it, or for fields it has just checked; debug
    /// builds (all tests, the fuzzers) check again.
    #[inline]
    pub(crate) fn from_utf8_lossy_or_valid(bytes: Bytes, valid: bool) -> Self {
        if valid {
            debug_assert!(
                core::str::from_utf8(&bytes).is_ok(),
                "a text said to be valid UTF-8 is not"
            );
            return Self(Repr::Shared(bytes));
        }
        Self::from_utf8_lossy(bytes)
    }

    /// `bytes`, which the decoder checked to be valid UTF-8 (as it checks
    /// what [`from_utf8_lossy_or_valid`](Self::from_utf8_lossy_or_valid)
    /// is told is valid), as a `str`. Checked again in debug builds (all
    /// tests, the fuzzers). Not checking again in release builds is what
    /// makes borrowed events cheap: measured 98 of 477 instructions per
    /// `small` event.
    #[inline(always)]
    pub(crate) fn checked_str(bytes: &[u8]) -> &str {
        debug_assert!(
            core::str::from_utf8(bytes).is_ok(),
            "a text said to be valid UTF-8 is not"
        );
        // SAFETY: the decoder passes only bytes it has checked to be valid
        // UTF-8 (ASCII checks of the pieces it keeps, `valid_utf8` of
        // fields before they are handed out), as for `Text::Shared`.
        unsafe { core::str::from_utf8_unchecked(bytes) }
    }

    #[cold]
    fn from_utf8_lossy_slow(bytes: Bytes) -> Self {
        match core::str::from_utf8(&bytes) {
            Ok(_) => Self(Repr::Shared(bytes)),
            Err(_) => Self::from(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }

    /// A copy of `hay[..len]`, converted as [`from_utf8_lossy`] does:
    /// inline when the result fits (short ASCII takes the word-wise fast
    /// path), else in a new buffer. Bytes of `hay`
    /// past `len` are ignored; passing them lets a short text be copied in
    /// three word moves instead of byte by byte.
    ///
    /// # Panics
    /// If `len > hay.len()` (a bug in the caller).
    ///
    /// [`from_utf8_lossy`]: Self::from_utf8_lossy
    #[inline(always)]
    pub(crate) fn copy_lossy(hay: &[u8], len: usize) -> Self {
        if let Some(words) = inline_words(hay, len) {
            let mut buf = [0; INLINE_CAP + 1];
            write_words(&mut buf, words);
            return Self(Repr::Inline(buf));
        }
        Self::copy_lossy_slow(&hay[..len])
    }

    /// `*self = Text::copy_lossy(hay, len)`, but written in place when both
    /// the old and the new text are inline: no temporary to move (which
    /// would stall store forwarding), nothing to drop.
    #[inline(always)]
    pub(crate) fn set_copy_lossy(&mut self, hay: &[u8], len: usize) {
        if let Repr::Inline(buf) = &mut self.0 {
            if let Some(words) = inline_words(hay, len) {
                write_words(buf, words);
                return;
            }
        }
        *self = Self::copy_lossy(hay, len);
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

    /// Cuts `bytes` into two texts at `at`. When the bytes are valid UTF-8
    /// and `at` falls on a character boundary, the two share `bytes`;
    /// otherwise each piece is converted on its own, exactly as
    /// [`from_utf8_lossy`](Self::from_utf8_lossy) would.
    pub(crate) fn split2_lossy(bytes: Bytes, at: usize) -> [Self; 2] {
        let valid =
            is_ascii(&bytes) || core::str::from_utf8(&bytes).is_ok_and(|s| s.is_char_boundary(at));
        if valid {
            let mut rest = bytes;
            let first = rest.split_to(at);
            // Substrings of a valid string cut at a character boundary are
            // valid strings.
            return [Self(Repr::Shared(first)), Self(Repr::Shared(rest))];
        }
        [
            Self::from_utf8_lossy(bytes.slice(..at)),
            Self::from_utf8_lossy(bytes.slice(at..)),
        ]
    }

    /// The string.
    #[inline]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor of `Text` checks or guarantees that the
        // bytes are valid UTF-8 (`from_utf8` validates; `from_utf8_lossy`
        // accepts only ASCII or validated bytes, else converts;
        // `from_utf8_lossy_or_ascii` skips the check only for bytes its
        // caller checked to be ASCII; `split2_lossy`
        // cuts validated bytes at a character boundary, else converts;
        // `copy_lossy` inlines only ASCII (and `as_bytes` never reads past
        // the length), else validates or converts; `inline_str` copies a
        // `str`; `From<&str>`/`From<String>`/`from_static` start from a
        // `str`; `ABSENT` is empty), and the bytes are never mutated
        // afterwards.
        unsafe { core::str::from_utf8_unchecked(self.as_bytes()) }
    }

    /// The UTF-8 bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Shared(bytes) => bytes,
            // `ABSENT`'s length is out of range: it reads as empty.
            Repr::Inline(buf) => buf.get(..usize::from(buf[INLINE_CAP])).unwrap_or_default(),
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

/// The inline form of `hay[..len]` as three little-endian words (the
/// length in the top byte), when it is short and ASCII and `hay` has the
/// room to read it in whole words. Bytes of `hay` past `len` are ignored.
///
/// Word loads and a word-wise ASCII check: reading and writing the bytes
/// one at a time and then moving the value as a whole stalls store
/// forwarding.
#[inline(always)]
fn inline_words(hay: &[u8], len: usize) -> Option<[u64; 3]> {
    const HI: u64 = 0x8080_8080_8080_8080;
    if len > INLINE_CAP {
        return None;
    }
    let head = hay.get(..INLINE_CAP + 1)?;
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
    let [w0, w1, w2] = [
        word(0) & within(0),
        word(1) & within(1),
        word(2) & within(2),
    ];
    if (w0 | w1 | w2) & HI != 0 {
        return None;
    }
    // `len <= INLINE_CAP`: it fits the top byte, which `within(2)` cleared.
    Some([w0, w1, w2 | ((len as u64) << 56)])
}

/// Stores the words of [`inline_words`] into an inline buffer.
#[inline(always)]
fn write_words(buf: &mut InlineBuf, [w0, w1, w2]: [u64; 3]) {
    buf[..8].copy_from_slice(&w0.to_le_bytes());
    buf[8..16].copy_from_slice(&w1.to_le_bytes());
    buf[16..].copy_from_slice(&w2.to_le_bytes());
}

/// Whether `bytes` is all ASCII: `<[u8]>::is_ascii`, but 2-3x faster on
/// the 80 to 500 bytes of typical event data (measured: 404 bytes in 6 ns
/// against 16 ns), because OR-ing whole words vectorises. Blocks of 1 KiB
/// keep the early exit on non-ASCII text.
#[inline]
pub(crate) fn is_ascii(bytes: &[u8]) -> bool {
    if bytes.len() < 32 {
        return short_ascii(bytes);
    }
    blocks_ascii(bytes)
}

/// [`is_ascii`] for fewer than 32 bytes: up to three words and a tail, with
/// no loop over single bytes (measured: 45 of 300 instructions per `small`
/// event with `<[u8]>::is_ascii`).
#[inline(always)]
fn short_ascii(bytes: &[u8]) -> bool {
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    let mut acc = 0u64;
    for word in &mut words {
        acc |= u64::from_le_bytes(word.try_into().expect("8 bytes"));
    }
    let tail = words.remainder().iter().fold(0, |t, &b| t | b);
    acc & HI == 0 && tail < 0x80
}

/// [`is_ascii`] for 32 bytes or more. The bytes after the last whole
/// 32-byte chunk are covered by the last 32 bytes, read again as one more
/// chunk (instead of a loop over a tail of up to 31 bytes).
#[inline(never)]
fn blocks_ascii(bytes: &[u8]) -> bool {
    let mut blocks = bytes.chunks_exact(1024);
    for block in &mut blocks {
        if !words_ascii(block, [0; 4]) {
            return false;
        }
    }
    let last = &bytes[bytes.len() - 32..];
    words_ascii(blocks.remainder(), chunk_words(last))
}

/// The four little-endian words of a 32-byte chunk.
#[inline(always)]
fn chunk_words(chunk: &[u8]) -> [u64; 4] {
    let word = |i: usize| u64::from_le_bytes(chunk[8 * i..8 * i + 8].try_into().expect("8 bytes"));
    [word(0), word(1), word(2), word(3)]
}

/// The word-OR check of [`is_ascii`] on the whole 32-byte chunks of one
/// block (its last bytes, if any, are the caller's), starting from `acc`.
#[inline]
fn words_ascii(block: &[u8], mut acc: [u64; 4]) -> bool {
    const HI: u64 = 0x8080_8080_8080_8080;
    for chunk in block.chunks_exact(32) {
        for (a, w) in acc.iter_mut().zip(chunk_words(chunk)) {
            *a |= w;
        }
    }
    (acc[0] | acc[1] | acc[2] | acc[3]) & HI == 0
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
    use alloc::{string::String, vec};

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
    fn is_ascii_agrees_with_core() {
        let lens = (0..100).chain([404, 1023, 1024, 1025, 1055, 1056, 1057, 2048, 3000]);
        for len in lens {
            let clean = vec![b'q'; len];
            assert!(is_ascii(&clean));
            for at in 0..len {
                let mut dirty = clean.clone();
                dirty[at] = 0x80;
                assert!(!is_ascii(&dirty), "len {len}, non-ASCII at {at}");
            }
        }
    }

    #[test]
    fn copy_lossy_at_every_length_and_room() {
        let src = b"abcdefghijklmnopqrstuvwxyz0123456789";
        for len in 0..=30 {
            // Exactly `len` bytes (no room to read whole words), and more.
            for hay in [&src[..len], &src[..]] {
                let t = Text::copy_lossy(hay, len);
                assert_eq!(t.as_bytes(), &src[..len], "len {len}");
                assert!(!t.is_absent());
                assert_eq!(matches!(t.0, Repr::Inline(_)), len <= INLINE_CAP);
            }
        }
    }

    #[test]
    fn copy_lossy_replaces_invalid_and_keeps_non_ascii() {
        for len in 1..=INLINE_CAP {
            for at in [0, len / 2, len - 1] {
                let mut hay = vec![b'q'; 40];
                hay[at] = 0xFF;
                let want = String::from_utf8_lossy(&hay[..len]).into_owned();
                assert_eq!(Text::copy_lossy(&hay, len), want.as_str());
            }
        }
        let s = "é😀z".as_bytes();
        let mut hay = s.to_vec();
        hay.extend_from_slice(&[b'x'; 30]);
        assert_eq!(Text::copy_lossy(&hay, s.len()), "é😀z");
    }

    #[test]
    fn set_copy_lossy_replaces_any_text() {
        let hay = b"short value, then some more bytes to read";
        for start in [
            Text::new(),
            Text::ABSENT,
            Text::from("a long shared text of over 23 bytes"),
            Text::from_static("static"),
        ] {
            for len in [0, 5, INLINE_CAP, INLINE_CAP + 1] {
                let mut t = start.clone();
                t.set_copy_lossy(hay, len);
                assert_eq!(t.as_bytes(), &hay[..len]);
                assert!(!t.is_absent());
            }
        }
    }

    #[test]
    fn absent_reads_as_empty_and_only_it_is_absent() {
        assert_eq!(Text::ABSENT.as_str(), "");
        assert!(Text::ABSENT.is_absent());
        assert_eq!(Text::ABSENT.present(), None);
        for t in [Text::new(), Text::from(""), Text::from(String::new())] {
            assert!(!t.is_absent());
            assert_eq!(t.present(), Some(&t));
        }
    }

    #[test]
    fn inline_and_shared_texts_compare_and_hash_by_content() {
        use core::hash::{BuildHasher, BuildHasherDefault, Hasher};
        /// FNV-1a: `core` has no hasher of its own, and this crate builds
        /// without `std`.
        #[derive(Default)]
        struct Fnv(u64);
        impl Hasher for Fnv {
            fn finish(&self) -> u64 {
                self.0
            }
            fn write(&mut self, bytes: &[u8]) {
                for &b in bytes {
                    self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
                }
            }
        }
        let inline = Text::from("update");
        let shared = Text::from_utf8(Bytes::from_static(b"update")).expect("ASCII");
        assert!(matches!(inline.0, Repr::Inline(_)));
        assert!(matches!(shared.0, Repr::Shared(_)));
        assert_eq!(inline, shared);
        assert_eq!(inline.cmp(&shared), core::cmp::Ordering::Equal);
        let state = BuildHasherDefault::<Fnv>::default();
        assert_eq!(state.hash_one(&inline), state.hash_one(&shared));
        assert_eq!(state.hash_one(&inline), state.hash_one("update"));
        assert_eq!(inline.clone().into_bytes(), shared.into_bytes());
    }

    #[test]
    fn strict_rejects_invalid() {
        assert!(Text::from_utf8(Bytes::from_static(b"\xFF")).is_err());
    }
}
