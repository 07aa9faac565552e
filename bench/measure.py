#!/usr/bin/env python3
"""measure.py OUT -- CMD...: runs CMD, then writes "wall user sys maxrss_kb exit" to OUT.

Like GNU time, but with microsecond CPU figures (wait4's rusage, which covers CMD and every
descendant it waited for) instead of 10 ms ones. Exits with CMD's exit code."""

import os
import sys
import time


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.stderr.write("usage: measure.py OUT -- CMD...\n")
        return 2
    out, cmd = sys.argv[1], sys.argv[3:]
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        except OSError as e:
            sys.stderr.write(f"measure.py: {cmd[0]}: {e}\n")
        os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    with open(out, "w") as f:
        f.write(f"{wall:.3f} {ru.ru_utime:.4f} {ru.ru_stime:.4f} {ru.ru_maxrss} {code}\n")
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
