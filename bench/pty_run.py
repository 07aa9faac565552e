#!/usr/bin/env python3
"""pty_run.py OUT.json -- CMD...: runs CMD on a pseudo-terminal (so smb1scan draws its progress
bar, which it shows only on a terminal), timestamps every bar it draws, and writes to OUT.json:
wall time, user and sys CPU and peak RSS (wait4's rusage of CMD, which `ip netns exec` execs in
place), the exit code, and the bars seen as [seconds since start, "elapsed", "pos/len", "ETA"].
Exits with CMD's exit code. Standard output of CMD goes to the terminal too: give it -o FILE."""

import fcntl
import json
import os
import pty
import re
import select
import struct
import sys
import termios
import time

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# {elapsed_precise} [{bar}] {pos}/{len} hosts  ETA {left}  (src/progress.rs)
BAR = re.compile(r"(\d\d:\d\d:\d\d) \[[^\]]*\] (\d+/\d+) hosts  ETA ((?:\d+[dhms] ?)+)")


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.stderr.write("usage: pty_run.py OUT.json -- CMD...\n")
        return 2
    out, cmd = sys.argv[1], sys.argv[3:]
    t0 = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        except OSError as e:
            sys.stderr.write(f"pty_run.py: {cmd[0]}: {e}\n")
        os._exit(127)
    # Wide enough that the bar is never shortened.
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    bars, text, buf = [], [], ""
    while True:
        r, _, _ = select.select([fd], [], [], 1.0)
        if not r:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        now = time.monotonic() - t0
        buf += chunk.decode("utf-8", "replace")
        parts = re.split(r"[\r\n]", buf)
        buf = parts.pop()
        for p in parts:
            p = ANSI.sub("", p).strip()
            if not p:
                continue
            m = BAR.search(p)
            if m:
                bars.append([round(now, 3), m.group(1), m.group(2), m.group(3).strip()])
            else:
                text.append(p)
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    with open(out, "w") as f:
        json.dump(
            {
                "cmd": cmd,
                "wall": round(wall, 3),
                "user": ru.ru_utime,
                "sys": ru.ru_stime,
                "maxrss_kb": ru.ru_maxrss,
                "exit": code,
                "bars": bars,
                "text": text,
            },
            f,
        )
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
