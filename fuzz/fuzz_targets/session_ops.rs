//! Fuzz target `session_ops`: arbitrary sequences of `ClientSession` inputs with monotone fake time; invariants asserted, no panic.
//!
//! The byte mapping and the invariants live in
//! `crates/resse-session/tests/support/ops.rs`, shared with the stable
//! proptest `crates/resse-session/tests/session_invariants.rs`.
#![no_main]

#[path = "../../crates/resse-session/tests/support/ops.rs"]
mod ops;

libfuzzer_sys::fuzz_target!(|data: &[u8]| ops::check_session_ops(data));
