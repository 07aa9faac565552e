#!/usr/bin/env python3
"""Times how long a command takes to put N packets on the wire of one interface.

    syn_wire_time.py IFACE N -- CMD...

Run inside the namespace that holds IFACE (bench/syn.sh does). Starts CMD, polls the interface's
tx_packets counter every 2 ms, and prints `seconds packets cpu_user cpu_sys` once the counter has
grown by N (then stops CMD with SIGINT if it is still running: masscan keeps waiting for replies
after its last packet, which is not sending time), or once CMD exits. The same clock for both
tools: from the start of the process to its last packet leaving the interface.
"""
import resource
import signal
import subprocess
import sys
import time


def tx(iface):
    with open(f"/sys/class/net/{iface}/statistics/tx_packets") as f:
        return int(f.read())


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit(__doc__)
    iface, n, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[4:]
    base = tx(iface)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done_at = None
    while True:
        sent = tx(iface) - base
        if sent >= n:
            done_at = time.monotonic()
            break
        if p.poll() is not None:
            time.sleep(0.05)  # let the last packets through the qdisc
            sent = tx(iface) - base
            done_at = time.monotonic()
            break
        time.sleep(0.002)
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"{done_at - t0:.3f} {sent} {r.ru_utime:.2f} {r.ru_stime:.2f}")


if __name__ == "__main__":
    main()
