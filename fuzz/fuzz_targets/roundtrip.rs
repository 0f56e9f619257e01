//! Fuzz target `roundtrip`: Encoder operations (byte mapping in checks.rs) must encode, or be refused, and decode back.
//!
//! The check itself lives in `crates/resse-codec/tests/support/checks.rs`,
//! shared with the stable corpus replay (`tests/fuzz_corpus.rs`).
#![no_main]

#[path = "../../crates/resse-codec/tests/support/oracle.rs"]
mod oracle;

#[path = "../../crates/resse-codec/tests/support/checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_roundtrip(data));
