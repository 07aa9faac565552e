#!/usr/bin/env bash
# SYN discovery sender benchmark (issue 13): smb1scan's SYN sender (examples/syn_sweep.rs, the
# sender side of src/discovery) and masscan 1.3.2 put one SYN to port 445 on the wire for every
# address of the same /10 of silence, side by side in one run, alternating, RUNS times each.
# smb1scan runs twice per round, with no interface or MAC flag: `auto` (the sender chosen as
# `smb1scan scan --discovery syn` chooses it from the kernel's route and neighbour tables: here
# the link-layer AF_PACKET one on syn0 to the gateway's MAC, checked before the first timed run)
# and `ip` (`--ip-layer`: IPPROTO_RAW, the kernel routes each SYN, the fallback). masscan is given
# its adapter and router MAC explicitly. Prints each run, the medians and the ratios; the target
# is smb1scan <= 1.5x masscan's time.
#
#   sudo bench/syn.sh             /10 (4,194,304 SYNs), 3 runs each
#   sudo bench/syn.sh --quick     /14 (262,144 SYNs), 3 runs each
#   sudo bench/syn.sh --save      also write the output to bench/results-syn-<date>-auto.txt
#   sudo bench/syn.sh --cleanup   remove a namespace left behind by a killed run, and exit
#   BENCH_SYN_RUNS=5 sudo bench/syn.sh
#
# Needs root, iproute2, python3, cargo and masscan (installed here with `apt-get install -y
# masscan` when missing). The floor of a whole SYN sweep is N x (1 + retries) / rate + timeout;
# this measures the N / rate part at "as fast as possible", where rate is the sender's own speed.
#
# The network: one namespace ($NS) with `lo` and a veth pair syn0/syn1, both ends inside it.
# 100.64.0.0/10 (RFC 6598 shared space) is routed through syn0 to a gateway 198.19.0.2 whose MAC
# (a static, permanent neighbour entry) no interface has, so syn1 drops every frame: a /10 of
# silence, no ARP, nothing answers. (The issue suggests a dummy device; this kernel has no dummy
# driver, and a veth with a far end that drops costs both tools the same.) The script checks that
# the namespace has no other interface and no route off syn0/lo before the first packet, and
# deletes it on exit. Nothing leaves it.
set -euo pipefail

NS="${SMB1SCAN_SYN_BENCH_NS:-smb1scan-syn-bench}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${BENCH_SYN_RUNS:-3}"
NET=100.64.0.0/10
N=4194304
SAVE=0
GW_MAC=02:00:00:00:00:02

log() { printf 'bench-syn: %s\n' "$*" >&2; }
die() {
    printf 'bench-syn: error: %s\n' "$*" >&2
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
    --quick) NET=100.64.0.0/14 N=262144 ;;
    --save) SAVE=1 ;;
    --cleanup)
        cleanup
        exit 0
        ;;
    *) die "unknown argument $a (see the header of $0)" ;;
    esac
done

[[ $(id -u) == 0 ]] || die "needs root (network namespace, raw sockets)"
command -v ip >/dev/null || die "needs iproute2 (ip)"
command -v python3 >/dev/null || die "needs python3"
if ! command -v masscan >/dev/null; then
    log "masscan not found: apt-get install -y masscan"
    apt-get install -y masscan >/dev/null
fi

if [[ $SAVE == 1 ]]; then
    out="$ROOT/bench/results-syn-$(date -u +%F)-auto.txt"
    log "saving to $out"
    exec > >(tee "$out")
fi

log "building examples/syn_sweep (release)"
(cd "$ROOT" && cargo build --release --quiet --example syn_sweep)
SWEEP="$ROOT/target/release/examples/syn_sweep"

cleanup
trap cleanup EXIT
# masscan writes paused.conf into its working directory when stopped: keep it out of the repo.
WORK=$(mktemp -d /tmp/smb1scan-syn-bench.XXXXXX)
cd "$WORK"
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add syn0 type veth peer name syn1
ip -n "$NS" link set syn0 up
ip -n "$NS" link set syn1 up
ip -n "$NS" addr add 198.19.0.1/32 dev syn0
ip -n "$NS" neigh add 198.19.0.2 lladdr "$GW_MAC" dev syn0 nud permanent
ip -n "$NS" route add "$NET" via 198.19.0.2 dev syn0 onlink

# Isolation, before the first packet.
links=$(ip -n "$NS" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort | tr '\n' ' ')
[[ $links == "lo syn0 syn1 " ]] || die "namespace has other interfaces: $links"
while read -r r; do
    [[ -z $r ]] && continue
    [[ $r != default* && ($r == *" dev syn0"* || $r == *" dev syn1"* || $r == *" dev lo"*) ]] ||
        die "namespace has a route off syn0/syn1/lo: $r"
done < <(ip -n "$NS" -4 route show table all)
MAC=$(ip -n "$NS" -o link show syn0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)

# The auto-detected path must be the link layer to the gateway (4 SYNs into the same silence).
check=$(nsx "$SWEEP" "${NET%/*}/30" --port 445)
[[ $check == *"sender link layer (AF_PACKET) on syn0 to $GW_MAC (gateway 198.19.0.2)"* ]] ||
    die "syn_sweep did not pick the link-layer sender by itself: $check"

echo "SYN sender benchmark, $(date -u '+%F %T') UTC, $(nproc) cores, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$NET ($N addresses, port 445) into a veth whose far end drops everything; as fast as possible"
echo "masscan: $(masscan --version 2>/dev/null | grep -m1 -o 'version [0-9.]*')  --rate 100000000 --wait 0 (AF_PACKET via libpcap, one packet per call)"
echo "smb1scan-auto: examples/syn_sweep, no flags: the route to $NET via 198.19.0.2 dev syn0 and the"
echo "               neighbour entry of 198.19.0.2 give $(echo "$check" | grep -o 'sender .*')"
echo "               (AF_PACKET + sendmmsg batches of 128, as smb1scan scan --discovery syn picks it)"
echo "smb1scan-ip:   examples/syn_sweep --ip-layer (IPPROTO_RAW + sendmmsg batches of 128; the kernel routes each SYN)"
echo "time = process start to the last SYN counted on syn0's tx_packets (bench/syn_wire_time.py)"
echo
printf '%-4s %-14s %10s %12s %10s %9s %9s\n' run tool seconds packets pps user_s sys_s
m_times=()
s_times=()
i_times=()
m_cpu=()
s_cpu=()
row() { printf '%-4s %-14s %10s %12s %10.0f %9s %9s\n' "$1" "$2" "$3" "$4" "$(echo "$4 / $3" | bc -l)" "$5" "$6"; }
for i in $(seq 1 "$RUNS"); do
    read -r t p u s < <(nsx python3 "$ROOT/bench/syn_wire_time.py" syn0 "$N" -- \
        masscan "$NET" -p445 --rate 100000000 --wait 0 --adapter syn0 --adapter-ip 198.19.0.1 \
        --adapter-mac "$MAC" --router-mac "$GW_MAC")
    row "$i" masscan "$t" "$p" "$u" "$s"
    [[ $p -ge $N ]] || die "masscan sent $p of $N"
    m_times+=("$t")
    m_cpu+=("$(echo "$u + $s" | bc -l)")
    read -r t p u s < <(nsx python3 "$ROOT/bench/syn_wire_time.py" syn0 "$N" -- "$SWEEP" "$NET" \
        --port 445)
    row "$i" smb1scan-auto "$t" "$p" "$u" "$s"
    [[ $p -ge $N ]] || die "smb1scan-auto sent $p of $N"
    s_times+=("$t")
    s_cpu+=("$(echo "$u + $s" | bc -l)")
    read -r t p u s < <(nsx python3 "$ROOT/bench/syn_wire_time.py" syn0 "$N" -- "$SWEEP" "$NET" --port 445 --ip-layer)
    row "$i" smb1scan-ip "$t" "$p" "$u" "$s"
    [[ $p -ge $N ]] || die "smb1scan-ip sent $p of $N"
    i_times+=("$t")
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mm=$(median "${m_times[@]}")
sm=$(median "${s_times[@]}")
im=$(median "${i_times[@]}")
ratio=$(echo "$sm / $mm" | bc -l)
iratio=$(echo "$im / $mm" | bc -l)
echo
printf 'median: masscan %.3f s, smb1scan-auto %.3f s, smb1scan-ip %.3f s\n' "$mm" "$sm" "$im"
printf 'smb1scan-auto / masscan = %.2fx (target <= 1.50x): %s\n' \
    "$ratio" "$(echo "$ratio <= 1.5" | bc -l | sed 's/1/MET/;s/0/MISSED/')"
printf 'CPU (user + sys, less sensitive to other load on a shared machine): masscan %.2f s, smb1scan-auto %.2f s = %.2fx\n' \
    "$(median "${m_cpu[@]}")" "$(median "${s_cpu[@]}")" "$(echo "$(median "${s_cpu[@]}") / $(median "${m_cpu[@]}")" | bc -l)"
printf 'smb1scan-ip / masscan = %.2fx (the fallback when the tables give no gateway MAC: the kernel routes and filters each SYN)\n' "$iratio"
printf 'sender speed: %.0f SYNs/s; a full sweep floor is N x (1 + retries) / rate + timeout, e.g. this sweep at a 1 s timeout: %.2f s\n' \
    "$(echo "$N / $sm" | bc -l)" "$(echo "$sm + 1" | bc -l)"
