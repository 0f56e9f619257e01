//! Replays the committed seed corpus of the `session_ops` fuzz target
//! (`fuzz/corpus/session_ops`) through the same checks as the fuzz target,
//! on the stable toolchain, as an ordinary test.

#[path = "support/ops.rs"]
mod ops;

use std::{fs, path::PathBuf};

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
