//! Line-end scanning: finding the first CR or LF of a line (a word at a
//! time for short lines, a vector search for long ones) and where a line
//! terminator (CR, LF or CRLF) ends.

use memchr::memchr2;

/// How many bytes of a line are scanned word-at-a-time before handing over
/// to `memchr2`'s vector search. Most event stream lines are short, and for
/// them a SWAR scan beats `memchr2`'s dispatch and set-up (measured about
/// 1.7x on 37-byte events; 32 bytes is the best compromise between 37-byte
/// and 86-byte lines by instruction count); long
/// lines get the vector search.
pub(super) const SHORT_SCAN: usize = 32;

pub(super) const LO: u64 = 0x0101_0101_0101_0101;

pub(super) const HI: u64 = 0x8080_8080_8080_8080;

/// A mask with the high bit set in every byte of `w` that is CR or LF, exact
/// up to and including the first such byte (the classic has-zero-byte trick:
/// borrows only run upwards, so the lowest flagged byte is a true match).
#[inline(always)]
pub(super) fn eol_mask(w: u64) -> u64 {
    let lf = w ^ (LO * u64::from(b'\n'));
    let cr = w ^ (LO * u64::from(b'\r'));
    ((lf.wrapping_sub(LO) & !lf) | (cr.wrapping_sub(LO) & !cr)) & HI
}

/// Nonzero when a byte of `w` is below 0x0E, the range that holds CR and
/// LF (the has-less-than trick: one subtraction instead of [`eol_mask`]'s
/// two comparisons; bytes with the high bit set never count).
#[inline(always)]
fn control_mask(w: u64) -> u64 {
    w.wrapping_sub(LO * 0x0E) & !w & HI
}

/// A CR/LF searcher set up once per decoder: on x86-64 with AVX2 a prebuilt
/// vector searcher, which skips `memchr2`'s per-call dispatch and needle
/// set-up (measured 7% faster on 80-byte lines); `memchr2` elsewhere.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Eol {
    #[cfg(target_arch = "x86_64")]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::Two>,
}

impl Eol {
    pub(crate) fn new() -> Self {
        Self {
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::Two::new(b'\n', b'\r'),
        }
    }

    /// Whether this CPU has AVX2 (`memchr` checked it when it built the
    /// searcher: at run time with `std`, else from the build's target
    /// features).
    #[inline]
    pub(crate) fn avx2(&self) -> bool {
        #[cfg(target_arch = "x86_64")]
        return self.avx2.is_some();
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// The index of the first CR or LF in `hay`, with a vector search.
    #[inline]
    pub(crate) fn find(&self, hay: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(two) = &self.avx2 {
            return two.find(hay);
        }
        memchr2(b'\n', b'\r', hay)
    }

    /// The line of `block` (which ends with a line terminator, or is empty)
    /// starting at `at`: where its content ends and where the next line
    /// starts.
    #[inline]
    pub(super) fn line_at(&self, block: &[u8], at: usize) -> (usize, usize) {
        let end = self.find(&block[at..]).map_or(block.len(), |i| at + i);
        let next = match block.get(end) {
            Some(b'\r') if block.get(end + 1) == Some(&b'\n') => end + 2,
            Some(_) => end + 1,
            None => end,
        };
        (end, next)
    }

    /// The index of the first CR or LF in `hay`: a word-at-a-time scan of
    /// the first [`SHORT_SCAN`] bytes, then a vector search.
    #[inline(always)]
    pub(super) fn find_short(&self, hay: &[u8]) -> Option<usize> {
        self.scan_short::<false>(hay).map(|(i, _)| i)
    }

    /// [`find_short`](Self::find_short), and whether the bytes before the
    /// line end are known to be ASCII: `true` when a line that ends within
    /// the word-at-a-time scan has no byte with its high bit set (learnt
    /// from the words the scan loads anyway, instead of a second pass over
    /// the line); `false` means "not known" (not ASCII, or a longer line).
    #[inline(always)]
    pub(crate) fn find_short_ascii(&self, hay: &[u8]) -> Option<(usize, bool)> {
        self.scan_short::<true>(hay)
    }

    /// [`find_short_ascii`](Self::find_short_ascii) on `buf[from..]`, the
    /// line end counted from the front of `buf`: what a buffer without a
    /// line index answers to `Source::line_end_ascii`.
    #[inline(always)]
    pub(crate) fn line_end_ascii(&self, buf: &[u8], from: usize) -> Option<(usize, bool)> {
        self.find_short_ascii(&buf[from..])
            .map(|(i, ascii)| (from + i, ascii))
    }

    /// The scan of [`find_short`](Self::find_short) and
    /// [`find_short_ascii`](Self::find_short_ascii). `PRETEST`: test each
    /// word for a byte below 0x0E before the exact CR/LF mask, which pays
    /// on the long single `data:` lines of the single-line fast path and
    /// costs on the short `event:` and `id:` lines (whose line end is in
    /// the first word, where the pretest always hits).
    #[inline(always)]
    fn scan_short<const PRETEST: bool>(&self, hay: &[u8]) -> Option<(usize, bool)> {
        let head = &hay[..hay.len().min(SHORT_SCAN)];
        let mut words = head.chunks_exact(8);
        let mut at = 0;
        let mut seen = 0u64;
        for word in &mut words {
            let word = u64::from_le_bytes(word.try_into().expect("chunks_exact(8) yields 8 bytes"));
            // One test for "a byte below 0x0E" (CR and LF are 0x0D and 0x0A)
            // on the common path; the exact CR/LF mask only when it hits
            // (then mostly a line end; a tab or other control byte costs
            // the second test and nothing else).
            let mask = if !PRETEST || control_mask(word) != 0 {
                eol_mask(word)
            } else {
                0
            };
            if mask != 0 {
                // Little-endian: byte 0 is the lowest; each byte is 8 bits.
                // The mask is exact up to its lowest flag, at bit 8k + 7 for
                // byte k; the bytes below it are the line's.
                let below = (mask & mask.wrapping_neg()) >> 7;
                seen |= word & below.wrapping_sub(1);
                return Some((at + (mask.trailing_zeros() / 8) as usize, seen & HI == 0));
            }
            seen |= word;
            at += 8;
        }
        if let Some(i) = words
            .remainder()
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
        {
            return Some((at + i, false));
        }
        if hay.len() <= SHORT_SCAN {
            return None;
        }
        self.find(&hay[SHORT_SCAN..])
            .map(|i| (i + SHORT_SCAN, false))
    }
}

/// Where the line terminator at `buf[i]` (CR or LF) ends, or `None` for a CR
/// that is the last byte so far (a LF may follow in the next chunk).
#[inline]
pub(super) fn after_eol(buf: &[u8], i: usize) -> Option<usize> {
    if buf[i] == b'\n' {
        return Some(i + 1);
    }
    match buf.get(i + 1) {
        Some(b'\n') => Some(i + 2),
        Some(_) => Some(i + 1),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::Eol;
    use alloc::vec;

    /// The line end and the ASCII verdict against a byte-by-byte reading,
    /// at every position of the line end in and past the word scan, with a
    /// control byte (tab, VT, FF), a non-ASCII byte or a CR before it, and a
    /// non-ASCII byte right after it (which is not the line's).
    #[test]
    fn find_short_ascii_agrees_with_a_byte_by_byte_reading() {
        let eol = Eol::new();
        for len in 0..48 {
            for end in [b'\n', b'\r'] {
                for (at, other) in [
                    (None, 0),
                    (Some(0), b'\t'),
                    (Some(1), 0x0B),
                    (Some(2), 0x0C),
                ]
                .into_iter()
                .chain((0..len).map(|i| (Some(i), 0xC3)))
                .chain((0..len).map(|i| (Some(i), 0x80)))
                .chain((0..len).map(|i| (Some(i), b'\r')))
                {
                    let mut line = vec![b'x'; len];
                    if let Some(i) = at.filter(|&i| i < len) {
                        line[i] = other;
                    }
                    line.push(end);
                    line.extend_from_slice(&[0xFF; 9]);
                    let want = line.iter().position(|&b| b == b'\n' || b == b'\r');
                    let got = eol.find_short_ascii(&line);
                    assert_eq!(got.map(|(i, _)| i), want, "len {len} {at:?} {other:#x}");
                    let (i, ascii) = got.expect("a line end");
                    if ascii {
                        assert!(line[..i].is_ascii(), "len {len} {at:?} {other:#x}");
                    }
                    if i <= 24 && line[..i].is_ascii() {
                        // Within the word scan the verdict is exact.
                        assert!(ascii, "len {len} {at:?} {other:#x}");
                    }
                }
            }
        }
        assert_eq!(eol.find_short_ascii(b"no line end \t here"), None);
    }
}
