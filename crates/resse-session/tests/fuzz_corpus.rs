//! Replays the committed seed corpora of the `session_ops` and `fanout_ops`
//! fuzz targets (`fuzz/corpus/…`) through the same checks as the fuzz
//! targets, on the stable toolchain, as ordinary tests.

#[path = "support/fanout_ops.rs"]
mod fanout_ops;
#[path = "support/ops.rs"]
mod ops;

use std::{fs, path::PathBuf};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
}

#[test]
fn fanout_ops_corpus() {
    for file in &corpus("fanout_ops") {
        let data = fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        println!("replaying {} ({} bytes)", file.display(), data.len());
        fanout_ops::check_fanout_ops(&data);
    }
}

#[test]
fn session_ops_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/session_ops");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    for file in &files {
        let data = fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        println!("replaying {} ({} bytes)", file.display(), data.len());
        ops::check_session_ops(&data);
    }
}
