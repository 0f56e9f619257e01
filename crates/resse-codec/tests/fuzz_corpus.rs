//! Replays the committed fuzz seed corpus (`fuzz/corpus/<target>/`) on stable,
//! through exactly the checks the cargo-fuzz targets run (`support/checks.rs`),
//! so `cargo test` catches a regression on any committed input without
//! nightly or libFuzzer. A crash found by fuzzing is fixed by adding its
//! minimized input to the corpus (see `fuzz/README.md`); this test then keeps
//! it fixed.

#[path = "support/oracle.rs"]
mod oracle;

#[path = "support/checks.rs"]
mod checks;

use std::fs;
use std::path::{Path, PathBuf};

/// The check a fuzz target runs on one input.
type Check = fn(&[u8]);

/// Every fuzz target and its check.
const TARGETS: [(&str, Check); 4] = [
    ("decode", checks::check_decode),
    ("decode_chunked", checks::check_decode_chunked),
    ("roundtrip", checks::check_roundtrip),
    ("differential", checks::check_differential),
];

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read corpus dir {}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Corpora replayed by another crate's tests (`session_ops`, `fanout_ops`:
/// `crates/resse-session/tests/fuzz_corpus.rs`).
const OTHER_CRATES: &[&str] = &["session_ops", "fanout_ops"];

#[test]
fn every_corpus_dir_belongs_to_a_target() {
    let root = corpus_root();
    for entry in
        fs::read_dir(&root).unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()))
    {
        let name = entry.expect("corpus root entry").file_name();
        let name = name.to_string_lossy();
        assert!(
            TARGETS.iter().any(|(t, _)| *t == name) || OTHER_CRATES.contains(&&*name),
            "fuzz/corpus/{name} has no check here: add the target to TARGETS"
        );
    }
}

fn replay(target: &str) {
    let check = TARGETS
        .iter()
        .find(|(t, _)| *t == target)
        .map(|(_, f)| *f)
        .expect("target listed in TARGETS");
    let files = files_in(&corpus_root().join(target));
    assert!(!files.is_empty(), "fuzz/corpus/{target} is empty");
    for file in &files {
        let data = fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        // Printed output is shown when the test fails: it names the input.
        println!("replaying {} ({} bytes)", file.display(), data.len());
        check(&data);
    }
}

#[test]
fn decode_corpus() {
    replay("decode");
}

#[test]
fn decode_chunked_corpus() {
    replay("decode_chunked");
}

#[test]
fn roundtrip_corpus() {
    replay("roundtrip");
}

#[test]
fn differential_corpus() {
    replay("differential");
}
