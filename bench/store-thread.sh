#!/usr/bin/env bash
# The history store's own CPU time on a /16 SYN sweep (issue 17's recording cost), which the
# machine's other work blurs far less than wall times: perf samples the process (cpu-clock,
# 1,000 Hz) and counts the samples of each thread by name, so `smb1scan-store` is the store's
# thread alone. With SMB1SCAN_BENCH_BASELINE=PATH, that binary's runs alternate with this tree's.
#
#   sudo SMB1SCAN_BENCH_BASELINE=/path/to/main/smb1scan bench/store-thread.sh [--save]
#   BENCH_RUNS=5 (default)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${SMB1SCAN_STORE_BENCH_DIR:-/tmp/smb1scan-store-thread-bench}"
RUNS="${BENCH_RUNS:-5}"
BASE="${SMB1SCAN_BENCH_BASELINE:-}"
SAVE=0
[[ "${1:-}" == "--save" ]] && SAVE=1
die() {
    printf 'bench-store-thread: error: %s\n' "$*" >&2
    exit 1
}
[[ "$(id -u)" == 0 ]] || die "needs root (--discovery syn)"
command -v perf >/dev/null || die "needs perf"
[[ -z "$BASE" || -x "$BASE" ]] || die "SMB1SCAN_BENCH_BASELINE=$BASE: not an executable"
cd "$ROOT"
cargo build --release --quiet --bin smb1scan
BIN="$ROOT/target/release/smb1scan"
rm -rf "$STATE"
mkdir -p "$STATE"
OUT="$STATE/report.txt"
say() { printf '%s\n' "$*" | tee -a "$OUT"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# Prints "store-thread-ms process-ms wall-s wait" of one --store sweep (wait: how long the run
# waited for its store at the end, from the store's debug line; "-" for a binary without it).
run() { # binary
    rm -f "$STATE/rec.sqlite"* "$STATE/out.jsonl"
    SMB1SCAN_LOG=smb1scan::store=debug python3 "$ROOT/bench/measure.py" "$STATE/time" -- \
        perf record -q -F 1000 -e cpu-clock -o "$STATE/perf.data" -- \
        "$1" scan --quiet --no-config --fail-on none -p 1 --discovery syn --rate 200000 \
        --connect-timeout 1s --retries 0 --store "$STATE/rec.sqlite" -o "$STATE/out.jsonl" \
        127.1.0.0/16 >/dev/null 2>"$STATE/log"
    local wait
    wait="$(grep -o 'wait_ms=[0-9]*' "$STATE/log" | cut -d= -f2 || true)"
    perf report -i "$STATE/perf.data" --stdio --sort comm -F sample,comm 2>/dev/null |
        awk -v wall="$(cut -d' ' -f1 "$STATE/time")" -v wait="${wait:--}" '
            /^#/ || NF < 2 {next}
            {total += $1}
            $2 == "smb1scan-store" {store = $1}
            END {printf "%d %d %s %s\n", store, total, wall, wait}'
}

say "smb1scan $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
say "load average before the run (other work on this machine): $(cut -d" " -f1-3 /proc/loadavg)"
[[ -n "$BASE" ]] && say "baseline: $BASE ($(sha256sum "$BASE" | cut -c1-12))"
say "a /16 SYN sweep of 127.1.0.0/16 port 1 with --store (65,536 records), under perf; CPU ms = samples at 1 kHz"
ours=(); base=(); ourt=(); baset=()
for i in $(seq 1 "$RUNS"); do
    read -r s t w x < <(run "$BIN")
    ours+=("$s"); ourt+=("$t")
    say "   run $i: this tree: store thread $s ms, process $t ms, wall $w s, waited for the store at the end $x ms"
    if [[ -n "$BASE" ]]; then
        read -r s t w x < <(run "$BASE")
        base+=("$s"); baset+=("$t")
        say "   run $i: baseline:  store thread $s ms, process $t ms, wall $w s"
    fi
done
say "   this tree: store thread median $(median "${ours[@]}") ms of CPU (process $(median "${ourt[@]}") ms)"
[[ -n "$BASE" ]] && say "   baseline:  store thread median $(median "${base[@]}") ms of CPU (process $(median "${baset[@]}") ms)"
rm -rf "$STATE/perf.data" "$STATE/rec.sqlite"* "$STATE/out.jsonl"
if [[ $SAVE == 1 ]]; then
    dest="$ROOT/bench/results-store-thread-$(date -u +%Y-%m-%d).txt"
    n=2
    while [[ -e "$dest" ]]; do
        dest="$ROOT/bench/results-store-thread-$(date -u +%Y-%m-%d)-$n.txt"
        n=$((n + 1))
    done
    { printf 'command: %s\n' "${BASE:+SMB1SCAN_BENCH_BASELINE=$BASE }BENCH_RUNS=$RUNS bench/store-thread.sh --save"; cat "$OUT"; } >"$dest"
    printf 'bench-store-thread: saved %s\n' "${dest#"$ROOT"/}" >&2
fi
