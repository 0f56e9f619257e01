//! The line index of [`Decoder::frames`](super::Decoder::frames): where the
//! CR and LF bytes of a chunk are, and which bytes have their high bit set
//! (are not ASCII), one bit per byte, built for a window of the chunk at a
//! time with vector compares.
//!
//! Why: reading event after event, each line-end search starts where the
//! last one ended, so every event waits for the previous one's search (load,
//! compare, count trailing zeros, next position). Built ahead for the whole
//! window, the bitmap has no such chain (its compares do not depend on
//! where a line ends), and finding the next line end is one load and one
//! `tzcnt` from a word that is already in the L1 cache.
//!
//! The index only describes the chunk it was built on; the decoder holds one
//! only inside a [`ChunkFrames`](super::ChunkFrames), which borrows that
//! chunk for as long as the index lives. It is an accelerator: every answer
//! is exactly what a byte-by-byte reading of the chunk gives (tested below).
//! A question outside its window rebuilds it where the question starts; a
//! line that goes on past the window is left to the vector search, so a
//! chunk of long lines is not indexed beyond the first window of each.
//!
//! Only on x86-64 (see [`INDEXED`]). This module uses `unsafe` for one
//! thing: calling the vector compare functions, whose target features are
//! known to be there (SSE2: the x86-64 baseline, enabled for the whole
//! build; AVX2: found on this CPU by `memchr`). Safe alternatives measured:
//! a word-at-a-time build made `small` through `ChunkFrames` 0.92-0.95x the
//! fastest peer instead of 2.6-2.7x (thin LTO, same machine, paired runs),
//! slower than no index at all.
#![allow(unsafe_code)]

use super::Eol;

/// Whether `ChunkFrames` reads with a line index on this target: where
/// vector compares build it. Elsewhere it reads as `decode_slice` does (a
/// byte- or word-at-a-time build costs more than it saves).
pub(crate) const INDEXED: bool = cfg!(all(target_arch = "x86_64", target_feature = "sse2"));

/// Words of 64 bits per window: 4 KiB of input, 1 KiB of index.
const WINDOW_WORDS: usize = 64;

/// The bytes a window covers.
const WINDOW: usize = WINDOW_WORDS * 64;

/// Line ends and non-ASCII bytes of a window of one chunk.
#[derive(Clone)]
pub(crate) struct LineIndex {
    /// Chunk offset of the window's first byte (a multiple of 64).
    base: usize,
    /// How many words of the window are built (0: none).
    words: usize,
    /// Bit `i` of word `w`: byte `base + 64 w + i` is CR or LF.
    eol: [u64; WINDOW_WORDS],
    /// Bit `i` of word `w`: byte `base + 64 w + i` has its high bit set.
    high: [u64; WINDOW_WORDS],
    /// The CPU has AVX2 (as found by `memchr`): 32 bytes a compare.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    avx2: bool,
}

impl core::fmt::Debug for LineIndex {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LineIndex")
            .field("base", &self.base)
            .field("words", &self.words)
            .finish_non_exhaustive()
    }
}

impl LineIndex {
    /// An index with nothing built. `avx2`: the CPU has AVX2, as
    /// [`Eol::avx2`](super::Eol::avx2) found.
    pub(crate) const fn new(avx2: bool) -> Self {
        Self {
            base: 0,
            words: 0,
            eol: [0; WINDOW_WORDS],
            high: [0; WINDOW_WORDS],
            avx2,
        }
    }

    /// The first CR or LF of `chunk` at or after `from`, and whether the
    /// bytes `from..` up to it are known to be ASCII (`false`: not ASCII,
    /// or not known). `chunk` must be the chunk the index was built on (or
    /// nothing built yet). A line that goes on past the window is searched
    /// for with `eol`'s vector search instead (a long line needs no index,
    /// and the window stays where the next short lines are).
    #[inline(always)]
    pub(crate) fn find(&mut self, eol: &Eol, chunk: &[u8], from: usize) -> Option<(usize, bool)> {
        let mut w = (from >> 6).wrapping_sub(self.base >> 6);
        if w >= self.words {
            if !self.build(chunk, from) {
                return None;
            }
            w = 0;
        }
        // `w < self.words <= WINDOW_WORDS`: the masks below change nothing
        // and spare the bounds checks.
        let mut valid = u64::MAX << (from & 63);
        let mut m = self.eol[w & (WINDOW_WORDS - 1)] & valid;
        // High bits seen before the line end (any bit set: not ASCII).
        let mut seen = 0;
        while m == 0 {
            seen |= self.high[w & (WINDOW_WORDS - 1)] & valid;
            valid = u64::MAX;
            w += 1;
            if w == self.words {
                return self.find_past(eol, chunk);
            }
            m = self.eol[w & (WINDOW_WORDS - 1)];
        }
        // The bits below the line end.
        let below = (m & m.wrapping_neg()).wrapping_sub(1);
        seen |= self.high[w & (WINDOW_WORDS - 1)] & valid & below;
        let end = self.base + (w << 6) + m.trailing_zeros() as usize;
        Some((end, seen == 0))
    }

    /// [`find`](Self::find) for a line that goes on past the window.
    #[cold]
    #[inline(never)]
    fn find_past(&self, eol: &Eol, chunk: &[u8]) -> Option<(usize, bool)> {
        let end = self.base + self.words * 64;
        let rest = chunk.get(end..)?;
        eol.find(rest).map(|i| (end + i, false))
    }

    /// Builds the window of `chunk` that starts with the word holding
    /// `from`; `false` when `from` is past the chunk.
    #[cold]
    #[inline(never)]
    fn build(&mut self, chunk: &[u8], from: usize) -> bool {
        if from >= chunk.len() {
            return false;
        }
        self.base = from & !63;
        let bytes = &chunk[self.base..chunk.len().min(self.base + WINDOW)];
        self.words = bytes.len().div_ceil(64);
        let whole = bytes.len() / 64 * 64;
        self.fill(&bytes[..whole], 0);
        if whole < bytes.len() {
            // Padding bytes are neither line ends nor high.
            let mut block = [0u8; 64];
            block[..bytes.len() - whole].copy_from_slice(&bytes[whole..]);
            self.fill(&block, self.words - 1);
        }
        true
    }

    /// Builds the words from `at` on for `blocks` (whole 64-byte blocks).
    #[inline(always)]
    fn fill(&mut self, blocks: &[u8], at: usize) {
        let eol = &mut self.eol[at..];
        let high = &mut self.high[at..];
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is set only where `memchr` found AVX2 on this
            // CPU (`Eol::avx2`).
            unsafe { fill_avx2(blocks, eol, high) };
            return;
        }
        fill(blocks, eol, high);
    }
}

/// The words of `blocks` (whole 64-byte blocks) into `eol` and `high`.
#[inline(always)]
fn fill(blocks: &[u8], eol: &mut [u64], high: &mut [u64]) {
    for ((block, e), h) in blocks.chunks_exact(64).zip(eol).zip(high) {
        (*e, *h) = masks(block.try_into().expect("chunks_exact(64)"));
    }
}

/// [`fill`] with AVX2: 32 bytes a step.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn fill_avx2(blocks: &[u8], eol: &mut [u64], high: &mut [u64]) {
    use core::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_movemask_epi8, _mm256_or_si256, _mm256_set_epi64x,
        _mm256_set1_epi8,
    };
    let lf = _mm256_set1_epi8(b'\n' as i8);
    let cr = _mm256_set1_epi8(b'\r' as i8);
    // Four 8-byte reads that the compiler merges into one vector load.
    let load = |half: &[u8]| -> __m256i {
        let word =
            |k: usize| i64::from_le_bytes(half[8 * k..8 * k + 8].try_into().expect("32 bytes"));
        _mm256_set_epi64x(word(3), word(2), word(1), word(0))
    };
    for ((block, e), h) in blocks.chunks_exact(64).zip(eol).zip(high) {
        let (a, b) = (load(&block[..32]), load(&block[32..]));
        let ea = _mm256_or_si256(_mm256_cmpeq_epi8(a, lf), _mm256_cmpeq_epi8(a, cr));
        let eb = _mm256_or_si256(_mm256_cmpeq_epi8(b, lf), _mm256_cmpeq_epi8(b, cr));
        let mask = |v| u64::from(_mm256_movemask_epi8(v) as u32);
        *e = mask(ea) | mask(eb) << 32;
        *h = mask(a) | mask(b) << 32;
    }
}

/// `(line ends, high bits)` of a 64-byte block, bit `i` for byte `i`.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn masks(block: &[u8; 64]) -> (u64, u64) {
    // SAFETY: `masks_sse2` needs only SSE2, which this build enables for
    // every CPU it runs on (the `cfg` above).
    unsafe { masks_sse2(block) }
}

/// As [`masks`], a byte at a time: the reference of the tests, and the
/// build on targets without SSE2, where `ChunkFrames` does not use the
/// index (see [`INDEXED`]).
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
fn masks_bytes(block: &[u8; 64]) -> (u64, u64) {
    let mut eol = 0;
    let mut high = 0;
    for (i, &b) in block.iter().enumerate() {
        eol |= u64::from(b == b'\n' || b == b'\r') << i;
        high |= u64::from(b >= 0x80) << i;
    }
    (eol, high)
}

/// As [`masks`] (targets without SSE2).
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn masks(block: &[u8; 64]) -> (u64, u64) {
    masks_bytes(block)
}

/// [`masks`] with SSE2: 16 bytes a step, two compares and two `movemask`s.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[target_feature(enable = "sse2")]
#[inline]
fn masks_sse2(block: &[u8; 64]) -> (u64, u64) {
    use core::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x, _mm_set1_epi8,
    };
    let lf = _mm_set1_epi8(b'\n' as i8);
    let cr = _mm_set1_epi8(b'\r' as i8);
    let mut eol = 0u64;
    let mut high = 0u64;
    for (k, part) in block.chunks_exact(16).enumerate() {
        let lo = u64::from_le_bytes(part[..8].try_into().expect("16 bytes"));
        let hi = u64::from_le_bytes(part[8..].try_into().expect("16 bytes"));
        // Two 8-byte reads that the compiler merges into one vector load.
        let v = _mm_set_epi64x(hi as i64, lo as i64);
        let e = _mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr));
        eol |= u64::from(_mm_movemask_epi8(e) as u16) << (16 * k);
        high |= u64::from(_mm_movemask_epi8(v) as u16) << (16 * k);
    }
    (eol, high)
}

#[cfg(test)]
mod tests {
    use super::{Eol, LineIndex, WINDOW, masks, masks_bytes};
    use alloc::vec::Vec;

    /// The vector builds (SSE2, and AVX2 where this CPU has it) agree with a
    /// byte-by-byte reading on every byte value at every position.
    #[test]
    fn masks_agree_with_a_byte_by_byte_reading() {
        for value in 0..=255u8 {
            for at in 0..64 {
                for fill in [b'x', 0x00, 0xFF, b'\n', 0x0B, 0x8D] {
                    let mut block = [fill; 64];
                    block[at] = value;
                    let want = masks_bytes(&block);
                    assert_eq!(masks(&block), want, "{value:#x} at {at} in {fill:#x}");
                    for avx2 in [false, Eol::new().avx2()] {
                        let mut index = LineIndex::new(avx2);
                        index.fill(&block, 0);
                        assert_eq!((index.eol[0], index.high[0]), want, "avx2 {avx2}");
                    }
                }
            }
        }
    }

    /// `find` answers exactly what a byte-by-byte reading of the chunk says,
    /// from every position, on a chunk of three and a half windows with
    /// lines of every length up to past a window, non-ASCII bytes and both
    /// terminators; the ASCII verdict is never wrong, and exact for lines
    /// inside one window.
    #[test]
    fn find_agrees_with_a_byte_by_byte_reading() {
        let mut chunk = Vec::new();
        let mut len = 0;
        while chunk.len() < 3 * WINDOW + WINDOW / 2 {
            for i in 0..len {
                chunk.push(if i % 37 == 36 && len % 3 == 0 {
                    0xC3
                } else {
                    b'a'
                });
            }
            chunk.push(if len % 2 == 0 { b'\n' } else { b'\r' });
            len = (len * 7 + 13) % (WINDOW + 300);
        }
        chunk.extend_from_slice(b"tail without a line end");
        // Questions in order (as the decoder asks them), then from anywhere.
        for avx2 in [false, Eol::new().avx2()] {
            find_agrees_on(&chunk, LineIndex::new(avx2));
        }
    }

    fn find_agrees_on(chunk: &[u8], mut index: LineIndex) {
        let mut order: Vec<usize> = (0..=chunk.len()).collect();
        order.extend((0..=chunk.len()).rev().step_by(61));
        for from in order {
            let want = chunk[from.min(chunk.len())..]
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
                .map(|i| from + i);
            let got = index.find(&Eol::new(), chunk, from);
            assert_eq!(got.map(|(end, _)| end), want, "from {from}");
            if let Some((end, ascii)) = got {
                let is_ascii = chunk[from..end].is_ascii();
                assert!(!ascii || is_ascii, "from {from} to {end}");
                if index.base <= from && end < index.base + index.words * 64 {
                    // Found in the window: exact.
                    assert_eq!(ascii, is_ascii, "from {from} to {end}");
                }
            }
        }
    }

    /// An empty chunk, and questions at and past the end.
    #[test]
    fn find_past_the_end_is_none() {
        let eol = Eol::new();
        let mut index = LineIndex::new(eol.avx2());
        assert_eq!(index.find(&eol, b"", 0), None);
        assert_eq!(index.find(&eol, b"ab\n", 3), None);
        assert_eq!(index.find(&eol, b"ab\n", 2), Some((2, true)));
        assert_eq!(index.find(&eol, b"ab\n", 9), None);
    }
}
