#!/usr/bin/env bash
# Fuzz smoke test: build every cargo-fuzz target in fuzz/ and run each one
# for a short time (FUZZ_SECONDS, default 30) from its committed seed corpus.
#
# libFuzzer writes new inputs to the FIRST corpus dir only, so each run gets a
# temporary dir first and the committed fuzz/corpus/<target> second: nothing
# generated ever lands in the repository. Crash inputs go to
# fuzz/artifacts/<target>/ (git-ignored). Any crash fails the script.
#
# Needs nightly (cargo-fuzz uses -Zsanitizer). Without nightly it skips, and
# says so: the committed corpus is still replayed on stable by
# `cargo test -p resse-codec` (crates/resse-codec/tests/fuzz_corpus.rs).
#
# Usage (from anywhere): bash .ci/fuzz-smoke.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${FUZZ_SECONDS:-30}"

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "nightly toolchain not available: fuzz smoke skipped; corpus replay ran on stable via cargo test"
    exit 0
fi

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz smoke: installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

targets=$(cargo +nightly fuzz list --fuzz-dir fuzz)
if [ -z "$targets" ]; then
    echo "fuzz smoke: no targets found in fuzz/" >&2
    exit 1
fi

echo "fuzz smoke: building targets: $(echo $targets)"
cargo +nightly fuzz build --fuzz-dir fuzz

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

failed=()
for t in $targets; do
    seeds="fuzz/corpus/$t"
    if [ ! -d "$seeds" ]; then
        echo "fuzz smoke: $t has no seed corpus at $seeds" >&2
        failed+=("$t (no seed corpus)")
        continue
    fi
    mkdir -p "$scratch/$t"
    echo "fuzz smoke: running $t for ${seconds}s"
    if ! cargo +nightly fuzz run --fuzz-dir fuzz "$t" "$scratch/$t" "$seeds" -- \
        -max_total_time="$seconds" -print_final_stats=1; then
        failed+=("$t")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz smoke: FAILED: ${failed[*]} (inputs in fuzz/artifacts/; see fuzz/README.md)" >&2
    exit 1
fi
echo "fuzz smoke: all targets ran ${seconds}s without a crash"
