#!/usr/bin/env python3
"""Cross-check smb1scan against nmap on the real-server lab (scripts/lab.sh up).

Runs nmap -n -Pn -p445 --script smb-protocols,smb2-security-mode,smb-security-mode,
smb-vuln-ms17-010,smb-os-discovery against the lab addresses, runs smb1scan on the same targets,
compares SMB1 on/off, the SMB2 dialect list, signing (SMB1 and SMB2), MS17-010 and "is it Samba",
prints a table and exits 1 on any disagreement (2 when it could not run).

Deliberate differences (shown as `deliberate`, not failures):
- MS17-010: nmap prints NOT VULNERABLE for every host it could not test (SMB1 off, IPC$ refused,
  an unexpected status such as impacket's STATUS_NOT_IMPLEMENTED). smb1scan says `not-exposed`
  (SMB1 off) or `unknown` with a reason there. Only nmap VULNERABLE vs smb1scan not saying
  `vulnerable` (or the reverse), or nmap NOT VULNERABLE vs smb1scan `vulnerable`, fails.
- SMB1 signing on a host with SMB1 off: nmap prints nothing, smb1scan null.

Usage: scripts/nmap-crosscheck.py [ADDR...]   (default 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5)
Environment: SMB1SCAN = the binary (default target/debug/smb1scan, built if missing).
Only loopback addresses are accepted: this tool never sends a packet anywhere else.
"""

import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

LAB = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
SCRIPTS = "smb-protocols,smb2-security-mode,smb-security-mode,smb-vuln-ms17-010,smb-os-discovery"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMB2_NAMES = {"202": "2.0.2", "210": "2.1", "300": "3.0", "302": "3.0.2", "311": "3.1.1"}


def die(msg):
    print(f"nmap-crosscheck: error: {msg}", file=sys.stderr)
    sys.exit(2)


def smb2_name(raw):
    """nmap 7.93 prints `202`, newer ones `2:0:2` or `2.0.2`: normalise to smb1scan's names."""
    digits = re.sub(r"[^0-9]", "", raw)
    return SMB2_NAMES.get(digits, raw)


def elems(script):
    """Every <elem> under a script element, as (key, text) pairs, depth first."""
    return [(e.get("key"), (e.text or "").strip()) for e in script.iter("elem")]


def parse_nmap(path):
    facts = {}
    for host in ET.parse(path).getroot().findall("host"):
        addr = host.find("address").get("addr")
        f = {
            "smb1": None,
            "smb2_dialects": None,
            "smb2_signing_required": None,
            "smb1_signing": None,
            "ms17_010": None,
            "samba": None,
            "os": None,
        }
        port = host.find("ports/port")
        state = port.find("state").get("state") if port is not None else "?"
        f["port_state"] = state
        scripts = list(host.iter("script"))
        for s in scripts:
            sid = s.get("id")
            if sid == "smb-protocols":
                dialects = [t for _, t in elems(s)]
                f["smb1"] = any("NT LM 0.12" in d for d in dialects)
                f["smb2_dialects"] = [smb2_name(d) for d in dialects if "NT LM" not in d]
            elif sid == "smb2-security-mode":
                texts = [t for _, t in elems(s)]
                f["smb2_signing_required"] = any(
                    "required" in t and "not required" not in t for t in texts
                )
            elif sid == "smb-security-mode":
                for k, t in elems(s):
                    if k == "message_signing":
                        # nmap: disabled / supported / required
                        f["smb1_signing"] = {"supported": "enabled"}.get(t, t)
            elif sid == "smb-vuln-ms17-010":
                for k, t in elems(s):
                    if k == "state":
                        f["ms17_010"] = t
            elif sid == "smb-os-discovery":
                d = dict(elems(s))
                f["os"] = (d.get("os") or "") + " / " + (d.get("lanmanager") or "")
                f["samba"] = "Samba" in (d.get("lanmanager") or "")
        facts[addr] = f
    return facts


def smb1scan_bin():
    b = os.environ.get("SMB1SCAN")
    if b:
        return b
    b = os.path.join(ROOT, "target", "debug", "smb1scan")
    if not os.path.exists(b):
        subprocess.run(["cargo", "build", "--quiet", "--bin", "smb1scan"], cwd=ROOT, check=True)
    return b


def run_smb1scan(targets):
    p = subprocess.run(
        [smb1scan_bin(), "scan", *targets], capture_output=True, text=True, timeout=300
    )
    out = {}
    for line in p.stdout.splitlines():
        if line.strip():
            r = json.loads(line)
            out[r["ip"]] = r
    if not out:
        die(f"smb1scan printed no records (exit {p.returncode}): {p.stderr.strip()[-500:]}")
    return out


def main():
    targets = sys.argv[1:] or LAB
    for t in targets:
        try:
            if not ipaddress.ip_address(t).is_loopback:
                die(f"{t} is not a loopback address; this tool scans the local lab only")
        except ValueError:
            die(f"{t} is not an IP address")
    with tempfile.TemporaryDirectory() as tmp:
        xml_path = os.path.join(tmp, "nmap.xml")
        cmd = ["nmap", "-n", "-Pn", "-p445", "--script", SCRIPTS,
               "--script-args", "vulns.showall", "-oX", xml_path, *targets]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if p.returncode != 0 or not os.path.exists(xml_path):
            die(f"nmap failed ({p.returncode}): {p.stderr.strip()}")
        nm = parse_nmap(xml_path)
    ours = run_smb1scan(targets)

    rows = []  # (addr, check, nmap, smb1scan, verdict)

    def row(addr, check, n, o, ok, deliberate=False):
        verdict = "ok" if ok else ("deliberate" if deliberate else "DIFF")
        rows.append((addr, check, str(n), str(o), verdict))

    for addr in targets:
        n = nm.get(addr)
        r = ours.get(addr)
        if n is None or r is None:
            row(addr, "record", "present" if n else "missing", "present" if r else "missing", False)
            continue
        smb1 = r.get("smb1") or {}
        smb2 = r.get("smb2") or {}
        ms = r.get("ms17_010") or {}
        os_ = r.get("os") or {}
        row(addr, "port", n["port_state"], r.get("status"),
            (n["port_state"] == "open") == (r.get("status") == "open"))
        row(addr, "smb1 enabled", n["smb1"], smb1.get("enabled"), n["smb1"] == smb1.get("enabled"))
        row(addr, "smb2 dialects", ",".join(n["smb2_dialects"] or []),
            ",".join(smb2.get("dialects") or []),
            (n["smb2_dialects"] or []) == (smb2.get("dialects") or []))
        our_req = smb2.get("signing") == "required"
        row(addr, "smb2 signing required", n["smb2_signing_required"], smb2.get("signing"),
            bool(n["smb2_signing_required"]) == our_req)
        if n["smb1"]:
            row(addr, "smb1 signing", n["smb1_signing"], smb1.get("signing"),
                n["smb1_signing"] == smb1.get("signing"))
        else:
            row(addr, "smb1 signing", n["smb1_signing"], smb1.get("signing"),
                smb1.get("signing") is None, deliberate=True)
        v = ms.get("verdict")
        nv = n["ms17_010"]
        detail = f"{v} ({ms.get('reason')}, {ms.get('status')})" if ms.get("reason") else v
        if nv == "VULNERABLE":
            row(addr, "ms17-010", nv, detail, v == "vulnerable")
        elif v == "not-vulnerable":
            row(addr, "ms17-010", nv, detail, nv == "NOT VULNERABLE")
        else:
            # nmap's NOT VULNERABLE on a host it could not test: we say why instead.
            row(addr, "ms17-010", nv, detail, False,
                deliberate=(v in ("unknown", "not-exposed") and nv == "NOT VULNERABLE"))
        if n["samba"] is not None:
            row(addr, "samba", f"{n['samba']} [{n['os']}]", os_.get("samba"),
                n["samba"] == os_.get("samba"))

    widths = [max(len(x[i]) for x in rows + [("ADDRESS", "CHECK", "NMAP", "SMB1SCAN", "RESULT")])
              for i in range(5)]
    fmt = "  ".join("{:<%d}" % w for w in widths)
    print(fmt.format("ADDRESS", "CHECK", "NMAP", "SMB1SCAN", "RESULT"))
    for x in rows:
        print(fmt.format(*x))
    bad = [x for x in rows if x[4] == "DIFF"]
    print(f"\n{len(rows) - len(bad)} agree (incl. {sum(x[4] == 'deliberate' for x in rows)} "
          f"deliberate differences), {len(bad)} disagree")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
