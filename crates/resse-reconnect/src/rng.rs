//! A tiny seeded PRNG, so that jitter is reproducible and the crate needs no
//! random-number dependency.

/// SplitMix64 (Steele, Lea and Flood, 2014; the generator Java's
/// `SplittableRandom` and the seeding step of xoshiro use). 64 bits of
/// state, every seed valid (0 included), period 2^64, passes BigCrush. Not
/// cryptographic, which jitter does not need: it only has to spread clients
/// apart, and each client should get its own seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in `0..bound` (`0` when `bound` is `0`), by
    /// multiply-shift on 53 random bits: exact integer arithmetic, no float,
    /// bias below 2^-53 × bound.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        let r = u128::from(self.next_u64() >> 11);
        ((u128::from(bound) * r) >> 53) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_vector() {
        // First outputs for seed 1234567 of the reference C implementation
        // (https://prng.di.unimi.it/splitmix64.c).
        let mut r = SplitMix64::new(1234567);
        let got: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(
            got,
            [
                6457827717110365317,
                3203168211198807973,
                9817491932198370423
            ]
        );
    }

    #[test]
    fn below_stays_below() {
        let mut r = SplitMix64::new(0);
        assert_eq!(r.below(0), 0);
        for bound in [1, 2, 3, 1000, u64::MAX] {
            for _ in 0..1000 {
                assert!(r.below(bound) < bound);
            }
        }
    }

    #[test]
    fn below_spreads() {
        // 10 buckets, 10_000 draws: every bucket within 20 % of 1000.
        let mut r = SplitMix64::new(42);
        let mut buckets = [0u32; 10];
        for _ in 0..10_000 {
            buckets[r.below(10) as usize] += 1;
        }
        for b in buckets {
            assert!((800..1200).contains(&b), "{buckets:?}");
        }
    }
}
