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

/// A CR/LF searcher set up once per decoder: on x86-64 with AVX2 a prebuilt
/// vector searcher, which skips `memchr2`'s per-call dispatch and needle
/// set-up (measured 7% faster on 80-byte lines); `memchr2` elsewhere.
#[derive(Clone, Copy, Debug)]
pub(super) struct Eol {
    #[cfg(target_arch = "x86_64")]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::Two>,
}

impl Eol {
    pub(super) fn new() -> Self {
        Self {
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::Two::new(b'\n', b'\r'),
        }
    }

    /// The index of the first CR or LF in `hay`, with a vector search.
    #[inline]
    pub(super) fn find(&self, hay: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(two) = &self.avx2 {
            return two.find(hay);
        }
        memchr2(b'\n', b'\r', hay)
    }

    /// The index of the first CR or LF in `hay`: a word-at-a-time scan of
    /// the first [`SHORT_SCAN`] bytes, then a vector search.
    #[inline(always)]
    pub(super) fn find_short(&self, hay: &[u8]) -> Option<usize> {
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

/// The line of `block` (which ends with a line terminator, or is empty)
/// starting at `at`: where its content ends and where the next line starts.
#[inline]
pub(super) fn line_at(block: &[u8], at: usize) -> (usize, usize) {
    let end = memchr2(b'\n', b'\r', &block[at..]).map_or(block.len(), |i| at + i);
    let next = match block.get(end) {
        Some(b'\r') if block.get(end + 1) == Some(&b'\n') => end + 2,
        Some(_) => end + 1,
        None => end,
    };
    (end, next)
}
