//! Fuzz target `decode`: Arbitrary bytes through the decoder with small and default limits, both overflow modes.
//!
//! The check itself lives in `crates/resse-codec/tests/support/checks.rs`,
//! shared with the stable corpus replay (`tests/fuzz_corpus.rs`).
#![no_main]

#[path = "../../crates/resse-codec/tests/support/oracle.rs"]
mod oracle;

#[path = "../../crates/resse-codec/tests/support/checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_decode(data));
