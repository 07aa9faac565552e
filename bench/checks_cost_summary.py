#!/usr/bin/env python3
"""Summarises a saved `bench/run.sh --checks-cost` output over all of the probe benchmark's hosts.

usage: bench/checks_cost_summary.py bench/results-checks-cost-DATE-N.txt ...

Each round's per-host CPU of every group (live Samba, simulated personas, check personas) is
weighted by its host count, so one round gives one per-host figure for the whole benchmark; the
median over the rounds is printed (and, given several files, over
all their rounds together) for `--checks` limited to the first three and for all, for this
tree's binary and, when the file has it, the baseline binary timed in the same rounds. The
per-group medians are the bench's own lines; this adds the benchmark-wide figure.
"""
import re
import statistics
import sys

ROUND = re.compile(
    r"round (\d+) (\S+)\s+\((\d+) hosts\): old\s+(-?[\d.]+) ms\s+all\s+(-?[\d.]+) ms"
    r"(?:\s+baseline binary: old\s+(-?[\d.]+) ms\s+all\s+(-?[\d.]+) ms)?"
)


def main(paths):
    pooled = {}
    for path in paths:
        # A file may hold several runs (each starts with the bench's "per-host CPU" line).
        runs = [{}]
        for line in open(path, encoding="utf-8"):
            if line.startswith("per-host CPU") and runs[-1]:
                runs.append({})
            m = ROUND.search(line)
            if not m:
                continue
            r, group, hosts = int(m.group(1)), m.group(2), int(m.group(3))
            vals = [float(v) if v is not None else None for v in m.group(4, 5, 6, 7)]
            runs[-1].setdefault(r, []).append((group, hosts, vals))
        runs = [r for r in runs if r]
        if not runs:
            print(f"{path}: no rounds found")
        for i, rounds in enumerate(runs, 1):
            summarise(f"{path} (run {i} of {len(runs)})", rounds)
            for r in rounds.values():
                pooled[len(pooled)] = r
    if len(paths) > 1 and pooled:
        summarise("all the runs above pooled", pooled)


def summarise(path, rounds):
    groups = sorted({g for rs in rounds.values() for g, _, _ in rs})
    n = sum(h for _, h, _ in next(iter(rounds.values())))
    print(f"{path}: {len(rounds)} rounds, groups {' '.join(groups)}, {n} hosts a round")
    for label, i_old, i_all in (("this tree", 0, 1), ("baseline binary", 2, 3)):
        # A label whose figures are missing from any round (no baseline binary) is left out.
        if any(v[i_old] is None for rs in rounds.values() for _, _, v in rs):
            continue
        olds = [sum(h * v[i_old] for _, h, v in rs) / n for rs in rounds.values()]
        alls = [sum(h * v[i_all] for _, h, v in rs) / n for rs in rounds.values()]
        o, a = statistics.median(olds), statistics.median(alls)
        print(
            f"  {label:<16} all {n} hosts: old {o:.3f} ms/host  all {a:.3f} ms/host  "
            f"({100 * (a / o - 1):+.1f} %)   medians of the per-round host-weighted figures"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
