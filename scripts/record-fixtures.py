#!/usr/bin/env python3
"""Record the negotiate responses kept in fixtures/ from real servers on loopback.

Starts its own temporary servers, each on its own loopback address, port 445:
  127.0.0.60  Samba smbd, server min protocol = NT1            ("samba-nt1")
  127.0.0.61  Samba smbd, server min protocol = SMB2_02        ("samba-smb2only")
  127.0.0.62  Samba smbd, NT1 + server signing = mandatory     ("samba-signing-mandatory")
  127.0.0.63  impacket smbserver.py -smb2support               ("impacket")
sends them the NEGOTIATE requests printed by
`cargo run -p smb1scan-protocol --example negotiate_requests` (i.e. exactly what smb1scan's
builders produce), one request per TCP connection, and writes each reply's NBSS payload (the SMB
message, starting at \\xFFSMB / \\xFESMB; no 4-byte NBSS header) to fixtures/<server>-<request>-
response.bin. Servers are stopped by the pids this script started, nothing else.

Usage (root, from the repository root): scripts/record-fixtures.py [--out fixtures]
Everything temporary lives under /tmp/rec-smbd-*/ and /tmp/rec-impacket/. Packets go only to
127.0.0.60-63.
"""

import argparse
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

SAMBA = [
    # name, address, min protocol, signing
    ("samba-nt1", "127.0.0.60", "NT1", "auto"),
    ("samba-smb2only", "127.0.0.61", "SMB2_02", "auto"),
    ("samba-signing-mandatory", "127.0.0.62", "NT1", "mandatory"),
]
IMPACKET = ("impacket", "127.0.0.63")

# Which requests go to which server (request names from the negotiate_requests example).
PLAN = {
    "samba-nt1": ["smb1", "smb1-extsec", "smb2-all", "smb2-0202", "smb2-bogus"],
    "samba-smb2only": ["smb1", "smb1-multiprotocol", "smb2-all"],
    "samba-signing-mandatory": ["smb1", "smb2-all"],
    "impacket": ["smb1", "smb1-extsec", "smb2-all", "smb2-0311"],
}

SMB_CONF = """[global]
    netbios name = {nb}
    workgroup = FIXTURES
    server role = standalone server
    interfaces = {addr}/8
    bind interfaces only = yes
    smb ports = 445
    disable netbios = yes
    server min protocol = {minproto}
    server signing = {signing}
    map to guest = bad user
    lock directory = {d}/lock
    state directory = {d}/state
    cache directory = {d}/cache
    private dir = {d}/private
    pid directory = {d}/run
    ncalrpc dir = {d}/run/ncalrpc
    binddns dir = {d}/bind-dns
    log file = {d}/log/smbd.log
    log level = 1
    load printers = no
    printcap name = /dev/null
    disable spoolss = yes
"""


def ensure_loopback(addr):
    if not addr.startswith("127."):
        sys.exit(f"refusing non-loopback address {addr}")


def port_open(addr, port=445):
    try:
        with socket.create_connection((addr, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(addr, secs=30):
    deadline = time.time() + secs
    while time.time() < deadline:
        if port_open(addr):
            return True
        time.sleep(0.3)
    return False


def start_samba(name, addr, minproto, signing):
    ensure_loopback(addr)
    d = f"/tmp/rec-smbd-{name}"
    shutil.rmtree(d, ignore_errors=True)
    for sub in ("lock", "state", "cache", "private", "run/ncalrpc", "bind-dns", "log"):
        os.makedirs(f"{d}/{sub}", exist_ok=True)
    nb = ("REC" + name.replace("-", "")[:12]).upper()
    with open(f"{d}/smb.conf", "w") as f:
        f.write(SMB_CONF.format(nb=nb, addr=addr, minproto=minproto, signing=signing, d=d))
    smbd = shutil.which("smbd") or "/usr/sbin/smbd"
    p = subprocess.Popen(
        [smbd, "--foreground", "--no-process-group", "-s", f"{d}/smb.conf"],
        stdin=subprocess.DEVNULL,
        stdout=open(f"{d}/log/stdout.log", "w"),
        stderr=subprocess.STDOUT,
    )
    return p


def start_impacket(name, addr):
    ensure_loopback(addr)
    d = "/tmp/rec-impacket"
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(f"{d}/share", exist_ok=True)
    script = shutil.which("smbserver.py")
    if not script:
        sys.exit("smbserver.py not on PATH (pip install impacket)")
    p = subprocess.Popen(
        [script, "-ip", addr, "-port", "445", "-smb2support", "SHARE", f"{d}/share"],
        stdin=subprocess.DEVNULL,
        stdout=open(f"{d}/stdout.log", "w"),
        stderr=subprocess.STDOUT,
    )
    return p


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def exchange(addr, smb):
    ensure_loopback(addr)
    with socket.create_connection((addr, 445), timeout=5) as s:
        s.settimeout(5)
        s.sendall(struct.pack(">I", len(smb)) + smb)
        hdr = recv_exact(s, 4)
        (word,) = struct.unpack(">I", hdr)
        if word >> 24 != 0:
            raise ValueError(f"NBSS type 0x{word >> 24:02x}")
        return recv_exact(s, word & 0xFFFFFF)


def requests():
    out = subprocess.run(
        ["cargo", "run", "-q", "-p", "smb1scan-protocol", "--example", "negotiate_requests"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    reqs = {}
    for line in out.splitlines():
        name, hx = line.split()
        reqs[name] = bytes.fromhex(hx)
    return reqs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="fixtures")
    args = ap.parse_args()
    reqs = requests()
    procs = []
    try:
        addrs = {}
        for name, addr, minproto, signing in SAMBA:
            if port_open(addr):
                sys.exit(f"{addr}:445 already in use by something this script did not start")
            procs.append((name, start_samba(name, addr, minproto, signing)))
            addrs[name] = addr
        name, addr = IMPACKET
        if port_open(addr):
            sys.exit(f"{addr}:445 already in use by something this script did not start")
        procs.append((name, start_impacket(name, addr)))
        addrs[name] = addr
        for name, addr in addrs.items():
            if not wait_port(addr):
                sys.exit(f"{name} on {addr}:445 did not start")
        os.makedirs(args.out, exist_ok=True)
        for server, names in PLAN.items():
            for req in names:
                try:
                    reply = exchange(addrs[server], reqs[req])
                except (OSError, EOFError, ValueError) as e:
                    print(f"{server} {req}: no reply ({e})")
                    continue
                path = os.path.join(args.out, f"{server}-{req}-negotiate-response.bin")
                with open(path, "wb") as f:
                    f.write(reply)
                print(f"{path}: {len(reply)} bytes")
    finally:
        for name, p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


if __name__ == "__main__":
    main()
