#!/usr/bin/env bash
# Default-speed benchmark (issue 16): `smb1scan scan` with every speed setting at its default
# (no --rate, --concurrency or timeout flag, no site config) on a range where nothing answers,
# against the floor a run at those settings cannot beat:
#
#   floor = N / rate + connect_timeout x tries        (tries = 1 + retries)
#
# (the token bucket starts N hosts no faster than the rate; the last one started waits out every
# connect attempt). Records wall time, x floor, hosts/s, CPU and peak RSS, the ETA the progress
# bar shows at 1 s, 5 s and 30 s (the scan runs on a pseudo-terminal so it draws the bar), and
# checks that every target was recorded `filtered`.
#
#   sudo bench/default_speed.sh            a /20 (4,096 silent addresses, floor 47 s)
#   sudo bench/default_speed.sh --16       a /16 (65,536, floor 661 s = 11 min)
#   sudo bench/default_speed.sh --compare  also the same range with --concurrency 256 (the
#                                          fixed window before issue 16, for comparison)
#   sudo bench/default_speed.sh --save     also write the output to bench/results-default-speed-<date>[-16].txt
#   sudo bench/default_speed.sh --cleanup  remove a namespace left behind by a killed run
#
# Needs root, iproute2, python3, cargo. The network: one namespace ($NS) with `lo` and a veth
# pair s1d0/s1d1, both ends inside it. 198.18.0.0/16 (RFC 2544 benchmarking space) is routed
# through s1d0 to a gateway 198.19.0.2 whose MAC (a static, permanent neighbour entry) no
# interface has, so s1d1 drops every frame: silence, no ARP, no reset, no ICMP (as bench/syn.sh;
# this kernel has no dummy driver). The script checks before the first packet that the namespace
# has no other interface and no route off s1d0/lo, and deletes it on exit. Nothing leaves it.
set -euo pipefail

NS="${SMB1SCAN_SPEED_BENCH_NS:-smb1scan-speed-bench}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NET=198.18.0.0/20
N=4096
COMPARE=0
SAVE=0
SUFFIX=""
GW_MAC=02:00:00:00:00:02

log() { printf 'bench-speed: %s\n' "$*" >&2; }
die() {
    printf 'bench-speed: error: %s\n' "$*" >&2
    exit 1
}
nsx() { ip netns exec "$NS" "$@"; }

cleanup() {
    if ip netns list | grep -qw "$NS"; then
        # Only processes this script started run in OUR namespace.
        for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
        ip netns del "$NS" 2>/dev/null || true
    fi
    [[ -n ${WORK:-} ]] && rm -rf "$WORK"
    return 0
}

for a in "$@"; do
    case "$a" in
    --16) NET=198.18.0.0/16 N=65536 SUFFIX=-16 ;;
    --compare) COMPARE=1 ;;
    --save) SAVE=1 ;;
    --cleanup)
        cleanup
        exit 0
        ;;
    *) die "unknown argument $a (see the header of $0)" ;;
    esac
done

[[ $(id -u) == 0 ]] || die "needs root (network namespace)"
command -v ip >/dev/null || die "needs iproute2 (ip)"
command -v python3 >/dev/null || die "needs python3"

if [[ $SAVE == 1 ]]; then
    out="$ROOT/bench/results-default-speed-$(date -u +%F)$SUFFIX.txt"
    log "saving to $out"
    exec > >(tee "$out")
fi

log "building smb1scan (release)"
(cd "$ROOT" && cargo build --release --quiet --bin smb1scan)
cleanup
trap cleanup EXIT
WORK=$(mktemp -d /tmp/smb1scan-speed-bench.XXXXXX)
# A private copy: other builds in the shared target dir cannot swap it mid-run.
BIN="$WORK/smb1scan"
cp "$ROOT/target/release/smb1scan" "$BIN"
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add s1d0 type veth peer name s1d1
ip -n "$NS" link set s1d0 up
ip -n "$NS" link set s1d1 up
ip -n "$NS" addr add 198.19.0.1/32 dev s1d0
ip -n "$NS" neigh add 198.19.0.2 lladdr "$GW_MAC" dev s1d0 nud permanent
ip -n "$NS" route add 198.18.0.0/16 via 198.19.0.2 dev s1d0 onlink

# Isolation, before the first packet.
links=$(ip -n "$NS" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort | tr '\n' ' ')
[[ $links == "lo s1d0 s1d1 " ]] || die "namespace has other interfaces: $links"
while read -r r; do
    [[ -z $r ]] && continue
    [[ $r != default* && ($r == *" dev s1d0"* || $r == *" dev s1d1"* || $r == *" dev lo"*) ]] ||
        die "namespace has a route off s1d0/s1d1/lo: $r"
done < <(ip -n "$NS" -4 route show table all)
# IPv6: nothing but link-local/multicast/loopback may be routed.
while read -r r; do
    [[ -z $r ]] && continue
    [[ $r == fe80:* || $r == ff00:* || $r == *" dev lo"* || $r == "local "* || $r == "multicast "* ]] ||
        die "namespace has an IPv6 route: $r"
done < <(ip -n "$NS" -6 route show table all)

# The defaults the run uses, as the binary records them in meta.options (a one-target scan of an
# address outside $NET, in the same silence).
nsx "$BIN" scan --no-config --quiet --fail-on none -o "$WORK/probe.json" 198.18.255.254 || true
read -r RATE WINDOW CT RETRIES < <(python3 - "$WORK/probe.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))["meta"]["options"]
print(m["rate"], m["concurrency"], m["connect_timeout_ms"] / 1000, m["retries"])
EOF
)

echo "default-speed benchmark, $(date -u '+%F %T') UTC, $(nproc) cores, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "smb1scan $("$BIN" --version | awk '{print $2}') ($(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- src || echo '+changes'))"
echo "network: $NET ($N addresses, port 445) routed into a veth whose far end drops everything: no address answers"
echo "defaults (meta.options): rate $RATE/s, window $WINDOW, connect timeout ${CT} s, retries $RETRIES"
echo "floor = N / rate + connect_timeout x (1 + retries)"
echo

run() { # label extra-flags...
    local label="$1"
    shift
    rm -f "$WORK/$label.jsonl"
    log "$label: smb1scan scan --no-config${*:+ $*} -o $label.jsonl $NET"
    nsx python3 "$ROOT/bench/pty_run.py" "$WORK/$label.json" -- \
        "$BIN" scan --no-config "$@" -o "$WORK/$label.jsonl" "$NET" || true
    python3 - "$WORK/$label.json" "$WORK/$label.jsonl" "$label" "$N" "$RATE" "$CT" "$RETRIES" "$*" <<'EOF'
import collections, json, sys
res, recs, label, n, rate, ct, retries, flags = sys.argv[1:9]
n, rate, ct, retries = int(n), float(rate), float(ct), int(retries)
r = json.load(open(res))
status = collections.Counter()
for line in open(recs):
    o = json.loads(line)
    if "status" in o and "ip" in o:
        status[o["status"]] += 1
floor = n / rate + ct * (1 + retries)
wall = r["wall"]
cmd = "smb1scan scan --no-config " + (flags + " " if flags else "") + "-o FILE.jsonl TARGETS"
print(f"{label}: {cmd}")
print(f"  wall {wall:.2f} s, floor {floor:.2f} s, x floor {wall / floor:.3f}; {n / wall:.1f} hosts/s; "
      f"CPU {r['user'] + r['sys']:.2f} s; peak RSS {r['maxrss_kb'] / 1024:.1f} MB; exit {r['exit']}")
def at(sec):
    seen = [b for b in r["bars"] if b[0] <= sec]
    if not seen:
        return "(no bar yet)"
    t, el, pos, eta = seen[-1]
    return f"{eta} (bar drawn at {t:.2f} s: elapsed {el}, {pos})"
for sec in (1, 5, 30):
    left = max(floor - sec, 0)
    print(f"  ETA at {sec:>2} s: {at(sec)}; floor - {sec} s = {left:.0f} s")
ok = sum(status.values()) == n and status.get("filtered", 0) == n
print(f"  records: {dict(status)} -> {'OK: every target filtered' if ok else 'MISMATCH'}")
if not ok or r["exit"] not in (0,):
    print("  " + " | ".join(r["text"][-5:]))
    sys.exit(1)
EOF
}

run defaults
if [[ $COMPARE == 1 ]]; then
    run window-256 --concurrency 256
fi
