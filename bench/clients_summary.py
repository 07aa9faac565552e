#!/usr/bin/env python3
"""Pools the rounds of several bench/clients.sh results (their "CPU s per round" lines): the
median MB/s of smb1scan and of the baseline over every round, each run's median, and how many
rounds reached a given MB/s. The machine's speed drifts between minutes, so one run is not a
figure; all runs are kept and pooled.

usage: bench/clients_summary.py [--aim MBPS] RESULTS.txt...
"""
import re
import statistics
import sys

SIZE = 1100019844  # bytes of the default bench capture (bench/clients.sh)


def main():
    args = sys.argv[1:]
    aim = 500.0
    if args[:1] == ["--aim"]:
        aim, args = float(args[1]), args[2:]
    pooled = {"smb1scan": [], "baseline": []}
    for path in args:
        text = open(path).read()
        size = int(m.group(1)) if (m := re.search(r"capture: (\d+) bytes", text)) else SIZE
        for name in pooled:
            m = re.search(rf"^{name} CPU s per round: ([\d. ]+)", text, re.M)
            if not m:
                continue
            rounds = [float(x) for x in m.group(1).split()]
            pooled[name].extend(size / s / 1e6 for s in rounds)
            print(f"{path}: {name} median {statistics.median(size / s / 1e6 for s in rounds):.1f} MB/s over {len(rounds)} rounds")
    for name, mbps in pooled.items():
        if mbps:
            print(f"pooled {name}: median {statistics.median(mbps):.1f} MB/s over {len(mbps)} rounds "
                  f"(min {min(mbps):.1f}, max {max(mbps):.1f}); rounds at or above {aim:.0f} MB/s: "
                  f"{sum(m >= aim for m in mbps)} of {len(mbps)}")


if __name__ == "__main__":
    main()
