#!/usr/bin/env python3
"""Print the README tables from criterion's saved results.

Usage: python3 benches/summarize.py [DIR]

DIR is a cargo target directory or criterion's output directory itself
(default: $CRITERION_HOME, else ./target). Reads
criterion/**/new/{benchmark,estimates}.json as written by
`cargo bench -p resse-benches` and prints Markdown tables of median
throughputs (GB/s, 1 GB = 1e9 bytes) and the ratios the README reports.
Standard library only.
"""

import json
import os
import pathlib
import sys

PEERS = ["sse-stream", "sse-core", "sse-codec", "async-sse", "eventsource-stream"]
WORKLOADS = ["small", "large", "multiline", "crlf", "heartbeat", "heartbeat-lines"]
CHUNKINGS = ["16KiB", "1chunk"]


def load(root):
    results = {}
    for bench in root.glob("**/new/benchmark.json"):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())
        throughput = meta.get("throughput") or {}
        nbytes = throughput.get("Bytes") or throughput.get("BytesDecimal")
        if not nbytes:
            continue
        median_ns = est["median"]["point_estimate"]
        key = (meta["group_id"], meta["function_id"], meta.get("value_str"))
        results[key] = nbytes / median_ns  # bytes per ns == GB/s
    return results


def fmt(x):
    return "n/a" if x is None else f"{x:.2f}"


def ratio(a, b):
    return "n/a" if a is None or not b else f"{a / b:.2f}x"


def main():
    if len(sys.argv) > 1:
        root = pathlib.Path(sys.argv[1])
    else:
        root = pathlib.Path(os.environ.get("CRITERION_HOME", "target"))
    if (root / "criterion").is_dir():
        root = root / "criterion"
    r = load(root)
    if not r:
        sys.exit(f"no criterion results under {root}")

    cols = ["resse", "resse-borrowed", *PEERS, "memchr2_scan", "scan+copy", "memcpy"]
    print("| workload | chunks | " + " | ".join(cols)
          + " | resse / best peer | resse / memchr2 | borrowed / best peer |")
    print("|" + "---|" * (len(cols) + 5))
    for w in WORKLOADS:
        for c in CHUNKINGS:
            vals = {p: r.get((f"decode/{w}", p, c)) for p in cols}
            peers = [(vals[p], p) for p in PEERS if vals[p] is not None]
            best, best_name = max(peers) if peers else (None, "")
            row = [fmt(vals[p]) for p in cols]
            print(f"| {w} | {c} | " + " | ".join(row)
                  + f" | {ratio(vals['resse'], best)} ({best_name}) "
                  + f"| {ratio(vals['resse'], vals['memchr2_scan'])} "
                  + f"| {ratio(vals['resse-borrowed'], best)} |")

    print()
    print("| event set | resse encode | memcpy | encode / memcpy |")
    print("|---|---|---|---|")
    for s in ["small", "large"]:
        enc = r.get((f"encode/{s}", "resse", None))
        cpy = r.get((f"encode/{s}", "memcpy", None))
        print(f"| {s} | {fmt(enc)} | {fmt(cpy)} | {ratio(enc, cpy)} |")


if __name__ == "__main__":
    main()
