#!/usr/bin/env python3
"""Turns the raw outputs of bench/run.sh (GNU time lines, smb1scan JSON Lines, nmap XML) into the
benchmark table: wall time, hosts/s, CPU seconds, peak RSS, the floor and the ratios, plus a check
that every host got the verdict the simulated network implies. Standard library only."""

import argparse
import collections
import ipaddress
import json
import os
import sys
import xml.etree.ElementTree as ET


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--state", required=True)
    p.add_argument("--quick", type=int, default=0)
    p.add_argument("--big", required=True)
    p.add_argument("--slice", required=True)
    p.add_argument("--connect-timeout", type=float, required=True)
    p.add_argument("--window", type=int, required=True)
    p.add_argument("--rate-window", type=int, required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--rst", required=True)
    p.add_argument("--samba-a", required=True)
    p.add_argument("--samba-b", required=True)
    p.add_argument("--samba-c", required=True)
    return p.parse_args()


class Net:
    """The simulated network: which address answers how."""

    def __init__(self, a):
        lo, hi = a.rst.split("-")
        self.rst_lo, self.rst_hi = int(lo), int(hi)
        self.group = {}
        for name, lst in (("smb1-on", a.samba_a), ("smb1-off", a.samba_b), ("signing", a.samba_c)):
            for ip in lst.split(","):
                self.group[ipaddress.ip_address(ip)] = name

    def kind(self, ip):
        if ip in self.group:
            return "live"
        if self.rst_lo <= int(ip) & 0xFF <= self.rst_hi:
            return "rst"
        return "silent"

    def counts(self, cidr):
        net = ipaddress.ip_network(cidr)
        c = collections.Counter()
        # Closed form for the RST/silent split; the live list is short.
        per24 = self.rst_hi - self.rst_lo + 1
        n = net.num_addresses
        n24 = max(n // 256, 1)
        live = [ip for ip in self.group if ip in net]
        live_rst = sum(1 for ip in live if self.rst_lo <= int(ip) & 0xFF <= self.rst_hi)
        c["live"] = len(live)
        c["rst"] = per24 * n24 - live_rst if n >= 256 else sum(
            1 for ip in net if self.kind(ip) == "rst")
        c["silent"] = n - c["live"] - c["rst"]
        c["all"] = n
        return c


def read_times(state):
    t = {}
    with open(os.path.join(state, "times")) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 5:
                label, wall, user, sys_, rss = parts
                t[label] = {
                    "wall": float(wall),
                    "cpu": float(user) + float(sys_),
                    "rss_mb": int(rss) / 1024.0,
                }
    return t


def read_jsonl(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                rec = json.loads(line)
                # A JSON Lines file's metadata lines (the run's scope) are not host records.
                if "kind" not in rec:
                    out.append(rec)
    return out


def check_verdicts(net, cidr, rows):
    """Compares smb1scan's per-host status with the network's design. Returns (ok, text)."""
    exp = net.counts(cidr)
    status = collections.Counter(r.get("status") for r in rows)
    seen = len(rows)
    uniq = len({r.get("ip") for r in rows})
    problems = []
    if seen != exp["all"] or uniq != exp["all"]:
        problems.append(f"{seen} records ({uniq} distinct) for {exp['all']} addresses")
    if status.get("filtered", 0) != exp["silent"]:
        problems.append(f"filtered {status.get('filtered', 0)} != silent {exp['silent']}")
    if status.get("closed", 0) != exp["rst"]:
        problems.append(f"closed {status.get('closed', 0)} != RST {exp['rst']}")
    if status.get("open", 0) != exp["live"]:
        problems.append(f"open {status.get('open', 0)} != Samba {exp['live']}")
    for r in rows:
        ip = ipaddress.ip_address(r["ip"])
        g = net.group.get(ip)
        if g is None:
            continue
        want = g != "smb1-off"
        got = (r.get("smb1") or {}).get("enabled")
        if got is not want:
            problems.append(f"{ip} ({g}): smb1.enabled {got}, expected {want}")
        ms = (r.get("ms17_010") or {}).get("verdict")
        if ms in (None, "unknown"):
            problems.append(f"{ip} ({g}): ms17_010 verdict {ms} "
                            f"({(r.get('ms17_010') or {}).get('reason')})")
    ms17 = collections.Counter((r.get("ms17_010") or {}).get("verdict") for r in rows
                               if ipaddress.ip_address(r["ip"]) in net.group)
    dp = collections.Counter((r.get("doublepulsar") or {}).get("verdict") for r in rows
                             if ipaddress.ip_address(r["ip"]) in net.group)
    text = (f"status {dict(sorted(status.items()))}; Samba hosts: ms17_010 {dict(ms17)}, "
            f"doublepulsar {dict(dp)}")
    return (not problems, text + ("" if not problems else "\n    PROBLEMS: " + "; ".join(problems[:8])))


def read_nmap(path):
    """Port states and SMB1 detections from nmap's XML."""
    states = collections.Counter()
    smb1 = 0
    ms17_vuln = 0
    tasks = collections.OrderedDict()
    if not os.path.exists(path):
        return states, smb1, ms17_vuln, tasks
    root = ET.parse(path).getroot()
    # -v puts each phase's begin and end (whole seconds) in the XML.
    begin = {}
    for el in root.iter():
        if el.tag == "taskbegin":
            begin[el.get("task")] = int(el.get("time", "0"))
        elif el.tag == "taskend" and el.get("task") in begin:
            name = el.get("task")
            tasks[name] = tasks.get(name, 0) + int(el.get("time", "0")) - begin.pop(name)
    for host in root.iter("host"):
        for port in host.iter("port"):
            st = port.find("state")
            if st is not None:
                states[st.get("state")] += 1
        for script in host.iter("script"):
            out = script.get("output") or ""
            if script.get("id") == "smb-protocols" and "SMBv1" in out:
                smb1 += 1
            if script.get("id") == "smb-vuln-ms17-010" and "VULNERABLE" in out:
                ms17_vuln += 1
    return states, smb1, ms17_vuln, tasks


def floor(counts, tc, window, rate):
    """max(silent x Tc / window, addresses / rate, Tc): every silent address holds a window slot
    for one connect timeout; the rate admits at most `rate` new hosts per second; and no sweep
    with a silent address ends before one connect timeout."""
    f = counts["silent"] * tc / window
    if rate > 0:
        f = max(f, counts["all"] / rate)
    if counts["silent"] > 0:
        f = max(f, tc)
    return f


def main():
    a = parse_args()
    net = Net(a)
    times = read_times(a.state)
    tc = a.connect_timeout
    rows = []
    ok_all = True

    def add(label, tool, cidr, window, rate, jsonl=None, run_tc=None):
        nonlocal ok_all
        t = times.get(label)
        if t is None:
            return
        c = net.counts(cidr)
        fl = floor(c, run_tc or tc, window, rate) if window else None
        rows.append((label, tool, cidr, c["all"], t, fl))
        if jsonl:
            ok, text = check_verdicts(net, cidr, read_jsonl(os.path.join(a.state, jsonl)))
            ok_all &= ok
            checks.append(f"  {label}: {'OK' if ok else 'MISMATCH'}: {text}")

    checks = []
    add("slice-smb1scan", "smb1scan", a.slice, a.window, 0, "slice.jsonl")
    add("slice-smb1scan-2", "smb1scan", a.slice, a.window, 0, "slice2.jsonl")
    add("slice-smb1scan-500ms", "smb1scan", a.slice, a.window, 0, "slice500.jsonl", 0.5)
    add("slice-smb1scan-250ms", "smb1scan", a.slice, a.window, 0, "slice250.jsonl", 0.25)
    add("slice-nmap-tuned", "nmap tuned", a.slice, None, 0)
    add("slice-nmap-T4", "nmap -T4", a.slice, None, 0)
    add("big-window", "smb1scan", a.big, a.window, 0, "big-window.jsonl")
    add("big-rate", "smb1scan", a.big, a.rate_window, a.rate, "big-rate.jsonl")
    add("c24", "smb1scan", "198.18.0.0/24", a.window, 0, "c24.jsonl")

    out = []
    p = out.append
    p("smb1scan benchmark" + (" (QUICK: not the reported figures)" if a.quick else ""))
    c = net.counts(a.big)
    p(f"network: {a.big}: {c['all']} addresses = {c['live']} Samba + {c['rst']} RST + "
      f"{c['silent']} silent; slice {a.slice}: {net.counts(a.slice)['live']} Samba, "
      f"{net.counts(a.slice)['rst']} RST, {net.counts(a.slice)['silent']} silent")
    p(f"smb1scan flags: --connect-timeout {tc:g}s --read-timeout/--host-timeout see run.sh, "
      f"--retries 0; window {a.window} (rate-bound run: window {a.rate_window}, rate {a.rate:g}/s)")
    p("floor = max(silent x connect_timeout / window, addresses / rate, connect_timeout)")
    p("")
    hdr = f"{'run':<20} {'tool':<11} {'targets':<15} {'addrs':>6} {'wall s':>8} {'hosts/s':>9} " \
          f"{'CPU s':>7} {'RSS MB':>7} {'floor s':>8} {'x floor':>8}"
    p(hdr)
    p("-" * len(hdr))
    for label, tool, cidr, n, t, fl in rows:
        fl_s = f"{fl:8.2f}" if fl else f"{'-':>8}"
        xf = f"{t['wall'] / fl:8.2f}" if fl else f"{'-':>8}"
        p(f"{label:<20} {tool:<11} {cidr:<15} {n:>6} {t['wall']:8.2f} {n / t['wall']:9.0f} "
          f"{t['cpu']:7.3f} {t['rss_mb']:7.1f} {fl_s} {xf}")
    p("")
    s1 = [times[k] for k in ("slice-smb1scan", "slice-smb1scan-2") if k in times]
    if s1:
        best = min(x["wall"] for x in s1)
        for k in ("slice-nmap-tuned", "slice-nmap-T4"):
            if k in times:
                p(f"nmap/smb1scan on {a.slice} ({k}): wall {times[k]['wall'] / best:.1f}x "
                  f"(vs fastest smb1scan run, {best:.2f} s; vs slowest "
                  f"{times[k]['wall'] / max(x['wall'] for x in s1):.1f}x), "
                  f"CPU {times[k]['cpu']:.2f} s vs {max(x['cpu'] for x in s1):.2f} s")
    for ct in ("500ms", "250ms"):
        if f"slice-smb1scan-{ct}" not in times:
            continue
        f = times[f"slice-smb1scan-{ct}"]
        for k in ("slice-nmap-tuned", "slice-nmap-T4"):
            if k in times:
                p(f"nmap/smb1scan on {a.slice} ({k}) vs smb1scan with --connect-timeout {ct}: "
                  f"wall {times[k]['wall'] / f['wall']:.1f}x")
    for k in ("slice-nmap-tuned", "slice-nmap-T4"):
        if k in times:
            st, smb1, vuln, tasks = read_nmap(os.path.join(a.state, k + ".xml"))
            phases = ", ".join(f"{n} {d} s" for n, d in tasks.items())
            p(f"  {k}: port 445 {dict(st)}; SMBv1 seen on {smb1} hosts; ms17-010 VULNERABLE "
              f"{vuln}; phases (1 s resolution): {phases or '-'}")
    if "live" in times and "baseline" in times:
        n_live = len(net.group)
        d = times["live"]["cpu"] - times["baseline"]["cpu"]
        p(f"CPU per live SMB host: ({times['live']['cpu']:.3f} - {times['baseline']['cpu']:.3f} s "
          f"baseline) / {n_live} = {1000 * d / n_live:.1f} ms "
          f"(full probe: SMB1 + SMB2 per dialect + session/IPC$/PeekNamedPipe/DP ping); "
          f"wall {times['live']['wall']:.2f} s for {n_live} hosts")
        ok, text = check_verdicts_live(net, read_jsonl(os.path.join(a.state, "live.jsonl")))
        ok_all &= ok
        checks.append(f"  live: {'OK' if ok else 'MISMATCH'}: {text}")
    personas = read_personas(a.state)
    if personas and "personas" in times and "baseline" in times:
        d = times["personas"]["cpu"] - times["baseline"]["cpu"]
        p(f"CPU per simulated Windows host (responder personas): "
          f"({times['personas']['cpu']:.3f} - {times['baseline']['cpu']:.3f} s) / {len(personas)} "
          f"= {1000 * d / len(personas):.1f} ms; wall {times['personas']['wall']:.2f} s")
        for r in read_jsonl(os.path.join(a.state, "personas.jsonl")):
            ms = r.get("ms17_010") or {}
            dp = r.get("doublepulsar") or {}
            p(f"  {personas.get(r.get('ip'), '?'):<26} {r.get('ip'):<12} smb1 "
              f"{str((r.get('smb1') or {}).get('enabled')):<5} ms17_010 {ms.get('verdict')}"
              f"{' (' + ms['reason'] + ')' if ms.get('reason') else ''}; doublepulsar "
              f"{dp.get('verdict')}; {r.get('duration_ms')} ms")
    for k, what in (("c24", "real scan of a /24"), ("dry-24", "--dry-run of a /24"),
                    ("dry-8", "--dry-run of a /8 (16.7 M targets listed)")):
        if k in times:
            p(f"peak RSS, {what}: {times[k]['rss_mb']:.1f} MB "
              f"(wall {times[k]['wall']:.2f} s){'' if times[k]['rss_mb'] < 64 else '  OVER 64 MB'}")
    p("")
    p("verdict checks (every address classified as the simulated network implies):")
    out.extend(checks)
    p("ALL VERDICT CHECKS PASSED" if ok_all else "SOME VERDICT CHECKS FAILED")
    print("\n".join(out))
    return 0 if ok_all else 1


def read_personas(state):
    """ip -> persona name, from the responder's "SIMULATED name on ip:port" lines."""
    out = {}
    path = os.path.join(state, "responder.log")
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 4 and parts[0] == "SIMULATED" and parts[2] == "on":
                out[parts[3].rsplit(":", 1)[0]] = parts[1]
    return out


def check_verdicts_live(net, rows):
    problems = []
    got = {ipaddress.ip_address(r["ip"]): r for r in rows}
    for ip, g in net.group.items():
        r = got.get(ip)
        if r is None:
            problems.append(f"{ip} missing")
            continue
        if r.get("status") != "open":
            problems.append(f"{ip} status {r.get('status')}")
        want = g != "smb1-off"
        if (r.get("smb1") or {}).get("enabled") is not want:
            problems.append(f"{ip} ({g}) smb1.enabled {(r.get('smb1') or {}).get('enabled')}")
    return not problems, f"{len(rows)} records" + ("" if not problems else
                                                   "; PROBLEMS: " + "; ".join(problems[:8]))


if __name__ == "__main__":
    sys.exit(main())
