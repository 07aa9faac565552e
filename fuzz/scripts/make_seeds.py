#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/ from the recorded fixtures (fixtures/*.bin) and
the crate's own builder outputs (protocol example negotiate_requests). Run from the repository
root: python3 fuzz/scripts/make_seeds.py. Seeds are named seed-*; `cargo fuzz cmin` keeps the
corpus small afterwards."""
import hashlib, os, struct, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "fixtures")
OUT = os.path.join(ROOT, "fuzz", "corpus")

fx = {f[:-4]: open(os.path.join(FIX, f), "rb").read() for f in sorted(os.listdir(FIX)) if f.endswith(".bin")}
req = {}
try:
    p = subprocess.run(["cargo", "run", "-q", "-p", "smb1scan-protocol", "--example", "negotiate_requests"],
                       cwd=ROOT, capture_output=True, text=True, check=True)
    for line in p.stdout.splitlines():
        name, hexs = line.split()
        req["req-" + name] = bytes.fromhex(hexs)
except Exception as e:  # builders are optional seeds
    print("no builder output:", e, file=sys.stderr)

smb1 = {k: v for k, v in {**fx, **req}.items() if v[:4] == b"\xffSMB"}
smb2 = {k: v for k, v in {**fx, **req}.items() if v[:4] == b"\xfeSMB"}

def nbss(b, t=0):
    return struct.pack(">I", (t << 24) | len(b)) + b

def ntlmssp(b):
    i = b.find(b"NTLMSSP\0")
    return None if i < 0 else b[i:]

# DoublePulsar "present" reply: the ping fixture with MID 65+16 and arch byte 1 (x64).
ping = bytearray(fx["samba-nt1-smb1-trans2-doublepulsar-ping-response"])
ping[14:22] = bytes([0x3a, 0x10, 0xe0, 0x36, 1, 0, 0, 0])
ping[30:32] = struct.pack("<H", 81)

# A successful TRANS response ([MS-CIFS] 2.2.4.33.2): WordCount 10, 6 parameter bytes at offset
# 56 (after one pad byte), 4 data bytes at 62; the recorded peek reply is only the error form.
peek = fx["samba-nt1-smb1-trans-peek-fid0-response"]
trans_ok = bytearray(peek[:32])
trans_ok[5:9] = b"\0\0\0\0"
words = struct.pack("<HHHHHHHHHBB", 6, 4, 0, 6, 56, 0, 4, 62, 0, 0, 0)
trans_ok += bytes([10]) + words + struct.pack("<H", 11) + b"\0" + b"\x01\0\x02\0\x03\0" + b"data"

def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)

for t in ["smb1_header_body", "smb1_negotiate", "smb1_session_setup", "tree_connect", "trans", "doublepulsar"]:
    for k, v in smb1.items():
        write(t, k, v)
write("doublepulsar", "present-x64", bytes(ping))
write("trans", "success", bytes(trans_ok))
write("probe_path", "trans-success", b"\0" + b"".join(nbss(fx[k]) for k in [
    "samba-nt1-smb1-negotiate-response",
    "samba-nt1-smb1-session-setup-anonymous-response",
    "samba-nt1-smb1-tree-connect-ipc-response",
]) + nbss(bytes(trans_ok)) + nbss(bytes(ping)))
write("smb1_header_body", "present-x64", bytes(ping))
for t in ["smb2_negotiate", "smb2_session_setup"]:
    for k, v in smb2.items():
        write(t, k, v)
for k, v in {**smb1, **smb2}.items():
    write("smb_message", k, v)
for k, v in fx.items():
    write("nbss_header", k, nbss(v)[:4])
    n = ntlmssp(v)
    if n:
        write("ntlmssp_challenge", k, n)
        write("spnego_find_ntlmssp", k, v[v.find(b"\x60") if b"\x60" in v else 0:])
        write("spnego_find_ntlmssp", k + "-raw", n)
for name, v in [("positive", b"\x82\0\0\0"), ("negative", b"\x83\0\0\x01\x82"),
                ("retarget", b"\x84\0\0\x06\x7f\0\0\x01\x01\xbd"), ("keepalive", b"\x85\0\0\0"),
                ("request", b"\x81\0\0\x44")]:
    write("nbss_header", name, v[:4])
    write("session_response", name, v)

flow = b"".join(nbss(fx[k]) for k in [
    "samba-nt1-smb1-extsec-negotiate-response",
    "samba-nt1-smb1-session-setup-extsec-challenge-response",
    "samba-nt1-smb1-session-setup-extsec-anonymous-auth-response",
    "samba-nt1-smb1-tree-connect-ipc-response",
    "samba-nt1-smb1-trans-peek-fid0-response",
    "samba-nt1-smb1-trans2-doublepulsar-ping-response",
    "samba-nt1-smb2-all-negotiate-response",
    "samba-nt1-smb2-session-setup-challenge-response",
])
write("probe_path", "samba-445", b"\0" + flow)
write("probe_path", "samba-139", b"\1" + b"\x82\0\0\0" + flow)
write("probe_path", "keepalives", b"\0" + b"\x85\0\0\0" * 3 + flow)
write("probe_path", "smb2-answer", b"\0" + nbss(fx["samba-smb2only-smb1-multiprotocol-negotiate-response"]))
classic = b"".join(nbss(fx[k]) for k in [
    "samba-nt1-smb1-negotiate-response",
    "samba-nt1-smb1-session-setup-anonymous-response",
    "samba-nt1-smb1-tree-connect-ipc-response",
    "samba-nt1-smb1-trans-peek-fid0-response",
]) + nbss(bytes(ping))
write("probe_path", "classic-present", b"\0" + classic)
print("seeds written to", OUT)
