//! Fuzz target `decode_chunked`: The same stream whole and in the chunks its leading bytes pick must decode the same.
//!
//! The check itself lives in `crates/resse-codec/tests/support/checks.rs`,
//! shared with the stable corpus replay (`tests/fuzz_corpus.rs`).
#![no_main]

#[path = "../../crates/resse-codec/tests/support/oracle.rs"]
mod oracle;

#[path = "../../crates/resse-codec/tests/support/checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_decode_chunked(data));
