#!/usr/bin/env bash
# SYN vs connect discovery on whole scans (issue 13), side by side in one run:
#  1. the simulated /16 of bench/run.sh (21 Samba, 2,560 RST, 62,955 silent; built by
#     `bench/run.sh --exec` in namespaces of its own), full verdicts, `--discovery syn --rate
#     RATE16` then `--discovery connect --concurrency WINDOW --rate 0`, then syn again; same
#     connect timeout; the verdicts and the closed set of both modes are compared;
#  2. a /12 of silence (100.64.0.0/12 routed into a veth pair whose far end drops everything, as
#     in bench/syn.sh) plus one listener and one closed port inside it, with `--open`:
#     `--discovery syn --rate RATE12`, then connect discovery (window WINDOW); peak RSS of each;
#     the output must hold the listener only, the summary every target.
# Prints wall time, CPU, peak RSS, the floor of each mode and the ratios.
#
#   sudo bench/syn_scan.sh           the full run (~6 min: the connect sweep of the /12 alone
#                                    has a floor of 1,048,576 x 1 s / 4,096 = 256 s)
#   sudo bench/syn_scan.sh --quick   /20 of the simulated network and a /16 of silence (~1 min)
#   sudo bench/syn_scan.sh --save    also write bench/results-syn-scan-<date>.txt
#   BENCH_CONNECT12=0 sudo bench/syn_scan.sh   skip the connect sweep of the /12
#
# Floors (retries 0):  syn = N / rate + connect_timeout
#                      connect = max(silent x connect_timeout / window, connect_timeout)
# Needs what bench/run.sh needs (root, iproute2, nftables, samba, nmap, python3, GNU time).
# Nothing leaves the namespaces: run.sh checks its own; part 2 checks its namespace before the
# first packet and deletes it on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${SMB1SCAN_SYN_SCAN_DIR:-/tmp/smb1scan-syn-scan}"
NS12="${SMB1SCAN_SYN_SCAN_NS:-smb1scan-syn-scan}"
CT="${BENCH_CONNECT_TIMEOUT:-1}"    # seconds, both modes
WINDOW="${BENCH_WINDOW:-4096}"      # connect discovery's window
RATE16="${BENCH_SYN_RATE16:-50000}" # SYN packets/s on the simulated network
RATE12="${BENCH_SYN_RATE12:-100000}"
CONNECT12="${BENCH_CONNECT12:-1}"
BIG=198.18.0.0/16
SILENT=100.64.0.0/12
QUICK=0
SAVE=0

log() { printf 'bench-syn-scan: %s\n' "$*" >&2; }
die() {
    printf 'bench-syn-scan: error: %s\n' "$*" >&2
    exit 1
}

# One measured scan: wall and CPU (bench/measure.py), peak RSS (GNU time); appends
# "label wall user sys rss_kb" to $STATE/times.
timed() { # label cmd...
    local label="$1" rc=0
    shift
    python3 "$ROOT/bench/measure.py" "$STATE/time-$label" -- \
        /usr/bin/time -o "$STATE/time-$label.gnu" -f '%M' "$@" || rc=$?
    [[ $rc == 0 || $rc == 3 ]] || die "$label exited $rc"
    echo "$label $(cut -d' ' -f1-3 "$STATE/time-$label") $(tail -n 1 "$STATE/time-$label.gnu")" >>"$STATE/times"
}

scan() { # label out extra...
    local label="$1" out="$2"
    shift 2
    rm -f "$out" "${out%.jsonl}.json"
    timed "$label" "$BIN" scan --quiet --no-config --fail-on none --connect-timeout "${CT}s" \
        --read-timeout 2s --host-timeout 10s --retries 0 -o "$out" "$@"
}

# Part 1, inside bench/run.sh's scanner namespace (called through `run.sh --exec`).
inner16() {
    log "simulated $BIG: syn at $RATE16/s, connect with window $WINDOW, syn again"
    scan syn16 "$STATE/syn16.jsonl" --discovery syn --rate "$RATE16" --concurrency "$WINDOW" "$BIG"
    scan connect16 "$STATE/connect16.jsonl" --discovery connect --rate 0 --concurrency "$WINDOW" "$BIG"
    scan syn16-2 "$STATE/syn16-2.jsonl" --discovery syn --rate "$RATE16" --concurrency "$WINDOW" "$BIG"
}

cleanup12() {
    if ip netns list | awk '{print $1}' | grep -qx "$NS12"; then
        # Only processes this script started run in OUR namespace.
        for pid in $(ip netns pids "$NS12" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
        ip netns del "$NS12" 2>/dev/null || true
    fi
}

# Part 2: the /12 of silence, in a namespace of its own.
part12() {
    cleanup12
    trap cleanup12 EXIT
    ip netns add "$NS12"
    ip -n "$NS12" link set lo up
    ip -n "$NS12" link add syn0 type veth peer name syn1
    ip -n "$NS12" link set syn0 up
    ip -n "$NS12" link set syn1 up
    ip -n "$NS12" addr add 198.19.0.1/32 dev syn0
    ip -n "$NS12" neigh add 198.19.0.2 lladdr 02:00:00:00:00:02 dev syn0 nud permanent
    ip -n "$NS12" route add "$SILENT" via 198.19.0.2 dev syn0 onlink
    # Two addresses of the /12 answer, from the namespace's own stack: a listener (the one host
    # --open must write) and a closed port (a RST: counted, not written).
    ip -n "$NS12" addr add 100.64.3.3/32 dev lo
    ip -n "$NS12" addr add 100.64.9.9/32 dev lo
    local links r
    links=$(ip -n "$NS12" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort | tr '\n' ' ')
    [[ $links == "lo syn0 syn1 " ]] || die "namespace has other interfaces: $links"
    while read -r r; do
        [[ -z $r ]] && continue
        [[ $r != default* && ($r == *" dev syn0"* || $r == *" dev syn1"* || $r == *" dev lo"*) ]] ||
            die "namespace has a route off syn0/syn1/lo: $r"
    done < <(ip -n "$NS12" -4 route show table all)
    ip netns exec "$NS12" python3 -c '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("100.64.3.3", 445))
s.listen(128)
while True:
    c, _ = s.accept()
    c.close()
' &
    disown # killed with the namespace; no job notice
    sleep 0.5
    local n
    n=$(python3 -c "import ipaddress; print(ipaddress.ip_network('$SILENT').num_addresses)")
    log "$SILENT ($n addresses) of silence with --open: syn at $RATE12/s"
    ip netns exec "$NS12" bash -c "$(declare -f timed scan die); ROOT='$ROOT' STATE='$STATE' \
        BIN='$BIN' CT='$CT'; scan syn12 '$STATE/syn12.jsonl' -o '$STATE/syn12.json' --discovery syn \
        --rate $RATE12 --open '$SILENT'"
    if [[ $CONNECT12 == 1 ]]; then
        log "$SILENT with --open: connect discovery, window $WINDOW"
        ip netns exec "$NS12" bash -c "$(declare -f timed scan die); ROOT='$ROOT' STATE='$STATE' \
            BIN='$BIN' CT='$CT'; scan connect12 '$STATE/connect12.jsonl' -o '$STATE/connect12.json' \
            --discovery connect --rate 0 --concurrency $WINDOW --open '$SILENT'"
    fi
    cleanup12
    trap - EXIT
}

report() {
    python3 - "$STATE" "$BIG" "$SILENT" "$CT" "$WINDOW" "$RATE16" "$RATE12" <<'EOF'
import ipaddress, json, os, sys
state, big, silent, ct, window, rate16, rate12 = sys.argv[1:]
ct, window, rate16, rate12 = float(ct), int(window), float(rate16), float(rate12)
times = {}
for line in open(os.path.join(state, "times")):
    label, wall, user, sys_, rss = line.split()
    times[label] = (float(wall), float(user) + float(sys_), int(rss) / 1024)
n16 = ipaddress.ip_network(big).num_addresses
n12 = ipaddress.ip_network(silent).num_addresses

def records(name):
    p = os.path.join(state, name)
    # Metadata lines ({"kind": "meta"}: the run's scope) are not host records.
    recs = [json.loads(l) for l in open(p)] if os.path.exists(p) else None
    return None if recs is None else [r for r in recs if "kind" not in r]

def key(r):
    return (r["ip"], r["port"])

def verdict(r):
    return (r["status"], r["ms17_010"]["verdict"], r["ms17_010"]["reason"],
            r["doublepulsar"]["verdict"], r["doublepulsar"]["reason"], r["smb1"]["enabled"], r.get("risk"))

def status_counts(recs):
    c = {}
    for r in recs:
        c[r["status"]] = c.get(r["status"], 0) + 1
    return dict(sorted(c.items()))

silent16 = None
c16 = records("connect16.jsonl")
if c16:
    silent16 = sum(1 for r in c16 if r["status"] == "filtered")
floors = {
    "syn16": n16 / rate16 + ct, "syn16-2": n16 / rate16 + ct,
    "connect16": max((silent16 or n16) * ct / window, ct),
    "syn12": n12 / rate12 + ct, "connect12": max(n12 * ct / window, ct),
}
targets = {"syn16": big, "syn16-2": big, "connect16": big, "syn12": silent, "connect12": silent}
print(f"SYN vs connect discovery, full scans; connect timeout {ct:g} s, retries 0; connect window {window}")
print(f"floor: syn = N / rate + timeout; connect = max(silent x timeout / window, timeout)")
print()
print(f"{'run':<10} {'targets':<16} {'N':>8} {'rate/s':>8} {'wall s':>8} {'CPU s':>7} {'RSS MB':>7} {'floor s':>8} {'x floor':>8}")
for label in ["syn16", "connect16", "syn16-2", "syn12", "connect12"]:
    if label not in times:
        continue
    wall, cpu, rss = times[label]
    n = n16 if label.endswith("16") or label == "syn16-2" else n12
    rate = {"syn16": rate16, "syn16-2": rate16, "syn12": rate12}.get(label)
    print(f"{label:<10} {targets[label]:<16} {n:>8} {('%g' % rate) if rate else '-':>8} {wall:>8.2f} {cpu:>7.2f} {rss:>7.1f} {floors[label]:>8.2f} {wall / floors[label]:>8.2f}")
print()
ok = True
if "connect16" in times and "syn16" in times:
    best = min(times["syn16"][0], times.get("syn16-2", times["syn16"])[0])
    worst = max(times["syn16"][0], times.get("syn16-2", times["syn16"])[0])
    print(f"{big}: connect / syn wall = {times['connect16'][0] / worst:.1f}x (slower syn run), "
          f"{times['connect16'][0] / best:.1f}x (faster); target >= 5x")
    print(f"{big}: syn wall / floor = {worst / floors['syn16']:.2f}x (slower run); target <= 1.25x")
    s16 = records("syn16.jsonl")
    for name, recs in [("syn16", s16), ("syn16-2", records("syn16-2.jsonl"))]:
        if recs is None:
            continue
        a = {key(r): verdict(r) for r in c16}
        b = {key(r): verdict(r) for r in recs}
        diff = [k for k in set(a) | set(b) if a.get(k) != b.get(k)]
        closed_a = {k for k, v in a.items() if v[0] == "closed"}
        closed_b = {k for k, v in b.items() if v[0] == "closed"}
        same = not diff and closed_a == closed_b and len(recs) == len(c16) == n16
        ok &= same
        print(f"  {name} vs connect16: {len(recs)} vs {len(c16)} records, {len(diff)} verdicts differ, "
              f"closed sets {'identical' if closed_a == closed_b else 'DIFFER'} ({len(closed_b)}): "
              f"{'OK' if same else 'MISMATCH ' + str(sorted(diff)[:5])}")
    print(f"  status (connect16): {status_counts(c16)}")
for label in ["syn12", "connect12"]:
    recs = records(f"{label}.jsonl")
    if recs is None or label not in times:
        continue
    doc = json.load(open(os.path.join(state, f"{label}.json")))
    counts = doc["meta"]["counts"]
    written = sorted(r["ip"] for r in recs)
    good = written == ["100.64.3.3"] and counts["hosts"] == n12
    ok &= good
    print(f"{silent} --open ({label}): written {written} (status {status_counts(recs)}), summary hosts "
          f"{counts['hosts']} of {n12}: {'OK' if good else 'MISMATCH'}; peak RSS {times[label][2]:.1f} MB "
          f"(target <= 64 MB); wall / floor {times[label][0] / floors[label]:.2f}x (target <= 1.25x)")
if "syn12" in times and "connect12" in times:
    print(f"{silent}: connect / syn wall = {times['connect12'][0] / times['syn12'][0]:.1f}x")
print("ALL CHECKS PASSED" if ok else "CHECKS FAILED")
sys.exit(0 if ok else 1)
EOF
}

main() {
    local inner=0 a
    for a in "$@"; do
        case "$a" in
        --quick) QUICK=1 ;;
        --save) SAVE=1 ;;
        --inner16) inner=1 ;;
        *) die "unknown argument $a (see the header of $0)" ;;
        esac
    done
    if [[ $QUICK == 1 ]]; then
        BIG=198.18.0.0/20
        SILENT=100.64.0.0/16
    fi
    if [[ $inner == 1 ]]; then
        BIN="$STATE/smb1scan"
        inner16
        return
    fi
    [[ $(id -u) == 0 ]] || die "needs root (network namespaces, raw sockets)"
    mkdir -p "$STATE"
    rm -f "$STATE/times"
    if [[ $SAVE == 1 ]]; then
        local out="$ROOT/bench/results-syn-scan-$(date -u +%F).txt"
        log "saving to $out"
        exec > >(tee "$out")
    fi
    log "building smb1scan (release)"
    (cd "$ROOT" && cargo build --release -q --bin smb1scan)
    # A private copy: other builds in the shared target dir cannot swap it mid-run.
    cp "$ROOT/target/release/smb1scan" "$STATE/smb1scan"
    BIN="$STATE/smb1scan"
    echo "bench/syn_scan.sh$([[ $QUICK == 1 ]] && echo ' --quick'), $(date -u '+%F %T') UTC, $(nproc) cores, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
    # Part 1 in run.sh's simulated network (namespaces of their own names, so a concurrent
    # bench/run.sh is not disturbed).
    local q=()
    [[ $QUICK == 1 ]] && q=(--quick)
    SMB1SCAN_BENCH_NS="${SMB1SCAN_BENCH_NS:-smb1scan-bench-syn}" \
        SMB1SCAN_BENCH_DIR="$STATE/net" \
        BENCH_CONNECT_TIMEOUT="$CT" BENCH_WINDOW="$WINDOW" BENCH_SYN_RATE16="$RATE16" \
        SMB1SCAN_SYN_SCAN_DIR="$STATE" \
        bash "$ROOT/bench/run.sh" --exec "bash '$ROOT/bench/syn_scan.sh' --inner16 ${q[*]}" >&2
    part12
    report
}

main "$@"
