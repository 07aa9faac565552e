#!/usr/bin/env python3
"""Pools the recording-cost samples (part 1) of several saved `bench/store.sh` outputs.

usage: bench/store_summary.py bench/results-store-DATE-N.txt ...

Part 1 alternates --no-store and --store sweeps (and, with SMB1SCAN_BENCH_BASELINE, the baseline
binary's --store sweeps) in each file's own run; this prints each file's medians again and the
medians of all the files' samples together, so several runs of the same tree count as one larger
sample. Only files of the same tree and baseline should be pooled.
"""
import re
import statistics
import sys

PATTERNS = {
    "no-store": r"--no-store wall \(s\):(.*?)median",
    "store": r"--store    wall \(s\):(.*?)median",
    "baseline": r"baseline --store wall \(s\):(.*?)median",
}


def cost(samples):
    no = statistics.median(samples["no-store"])
    parts = [f"--store {100 * (statistics.median(samples['store']) / no - 1):+.1f} %"]
    if samples["baseline"]:
        parts.append(f"baseline --store {100 * (statistics.median(samples['baseline']) / no - 1):+.1f} %")
    return f"{len(samples['no-store'])} sweeps each: " + ", ".join(parts)


def main(paths):
    pool = {k: [] for k in PATTERNS}
    for path in paths:
        text = open(path, encoding="utf-8").read()
        one = {}
        for key, pat in PATTERNS.items():
            m = re.search(pat, text)
            one[key] = [float(x) for x in m.group(1).split()] if m else []
            pool[key] += one[key]
        print(f"{path}: {cost(one)}")
    print(f"pooled: {cost(pool)}   (recording cost: medians of wall time vs --no-store)")


if __name__ == "__main__":
    main(sys.argv[1:])
