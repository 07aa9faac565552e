#!/usr/bin/env python3
"""Quick side-by-side CPU of smb1scan builds against the lab's real servers (Samba on 127.0.0.2-4,
impacket on 127.0.0.5; scripts/lab.sh), for iterating on the checks' cost between the full
`bench/run.sh --checks-cost` runs. Interleaved rounds, CPU = user+sys of each run from wait4.

  bench/checks_cost_lab.py ROUNDS LABEL=BINARY:CHECKS ...
  e.g. bench/checks_cost_lab.py 41 base-old=/tmp/base:smb1,ms17-010,doublepulsar base-all=/tmp/base:all \\
           new-old=/tmp/new:smb1,ms17-010,doublepulsar new-all=/tmp/new:all

Copy the binaries to one file system first (a binary run from target/ showed +0.4-0.9 ms a run
over the same file copied to /tmp). HOSTS overrides the targets (space-separated).
"""
import os
import statistics
import subprocess
import sys


def main() -> None:
    rounds = int(sys.argv[1])
    confs = [a.split("=", 1) for a in sys.argv[2:]]
    hosts = os.environ.get("HOSTS", "127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5").split()
    out = f"/tmp/checks-cost-lab-{os.getpid()}.jsonl"
    cpu = {label: [] for label, _ in confs}
    for _ in range(rounds):
        for label, spec in confs:
            binary, checks = spec.split(":", 1)
            cmd = [binary, "-q", "scan", "--no-store", "--overwrite", "--rate", "0",
                   "--checks", checks, *hosts, "-o", out]
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, _, ru = os.wait4(p.pid, 0)
            cpu[label].append((ru.ru_utime + ru.ru_stime) * 1000)
    if os.path.exists(out):
        os.unlink(out)
    first = None
    for label, _ in confs:
        med = statistics.median(cpu[label])
        first = med if first is None else first
        q = statistics.quantiles(cpu[label], n=4)
        print(f"{label:10s} CPU median {med:6.2f} ms a run ({med - first:+5.2f} vs the first)"
              f"  quartiles {q[0]:6.2f} {q[2]:6.2f}")


if __name__ == "__main__":
    main()
