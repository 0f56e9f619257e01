//! Fuzz target `fanout_ops`: arbitrary sequences of `Fanout` (server fan-out
//! core) operations with fake time; invariants asserted, no panic.
//!
//! The byte mapping and the invariants live in
//! `crates/resse-session/tests/support/fanout_ops.rs`, shared with the
//! stable proptest `crates/resse-session/tests/fanout_props.rs`.
#![no_main]

#[path = "../../crates/resse-session/tests/support/fanout_ops.rs"]
mod fanout_ops;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fanout_ops::check_fanout_ops(data));
