#!/usr/bin/env bash
# The history store's costs (issue 17, docs/store.md), side by side in one run:
#  1. recording vs --no-store on a /16 sweep: 127.1.0.0/16 port 1 on this machine's loopback
#     (every address answers with a RST: 65,536 records; nothing leaves the machine), with
#     `--discovery syn` (root: the sweep the issue names) else connect discovery; the two modes
#     alternate, RUNS runs each; medians and the ratio;
#  2. a year of weekly /16 sweeps: 52 files of 65,536 records (the sweep of part 1, re-dated a
#     week apart, 2 % of the hosts with SMB1 on at first and fixed week by week, a few coming
#     back) imported one by one into a fresh SQLite store: records/s of each import and overall;
#  3. on that store: `history`, `history HOST` (127.1.1.244: exposed, fixed in week 12, back in week 16) and the
#     campaign trend of the HTML report (examples/store_trend: the trend and per-/24 table
#     alone; a full report also renders every host) — wall time of each, several runs;
#  4. the store's size on disk.
#
#   sudo bench/store.sh           full run (~10 min)
#   sudo bench/store.sh --save    also write bench/results-store-<date>[-<n>].txt (the next free)
#   BENCH_WEEKS=8 bench/store.sh  fewer weeks (development)
#   SMB1SCAN_BENCH_BASELINE=PATH bench/store.sh   part 1 also times PATH (another smb1scan, e.g.
#                                    main's release binary) with --store, interleaved with this
#                                    tree's runs, so the two compare in the same run
#   BENCH_PARTS="1" bench/store.sh   only part 1 (parts 3 and 4 need part 2's store, 2 needs 1's
#                                    first JSON Lines file; BENCH_KEEP=1 keeps the state dir)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${SMB1SCAN_STORE_BENCH_DIR:-/tmp/smb1scan-store-bench}"
WEEKS="${BENCH_WEEKS:-52}"
RUNS="${BENCH_RUNS:-5}"
PARTS="${BENCH_PARTS:-1 2 3 4}"
part() { [[ " $PARTS " == *" $1 "* ]]; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
NET=127.1.0.0/16
SAVE=0
[[ "${1:-}" == "--save" ]] && SAVE=1

log() { printf 'bench-store: %s\n' "$*" >&2; }
die() {
    printf 'bench-store: error: %s\n' "$*" >&2
    exit 1
}

cd "$ROOT"
log "building (release)"
cargo build --release --quiet --bin smb1scan --example store_trend
BIN="$ROOT/target/release/smb1scan"
BASE="${SMB1SCAN_BENCH_BASELINE:-}"
[[ -z "$BASE" || -x "$BASE" ]] || die "SMB1SCAN_BENCH_BASELINE=$BASE: not an executable"
TREND="$ROOT/target/release/examples/store_trend"
[[ "${BENCH_KEEP:-0}" == 1 ]] || rm -rf "$STATE"
mkdir -p "$STATE"
rm -f "$STATE/report.txt"
unset SMB1SCAN_STORE
OUT="$STATE/report.txt"
say() { printf '%s\n' "$*" | tee -a "$OUT"; }

# 1. Recording cost.
MODE=connect
EXTRA=(--fast)
if [[ "$(id -u)" == 0 ]]; then
    MODE=syn
    EXTRA=(--discovery syn --rate 200000 --connect-timeout 1s --retries 0)
fi
sweep() { # label store-args...
    local label="$1" bin="$BIN"
    shift
    [[ "$label" == base-* ]] && bin="$BASE"
    rm -f "$STATE/$label.jsonl"
    python3 "$ROOT/bench/measure.py" "$STATE/time-$label" -- \
        "$bin" scan --quiet --no-config --fail-on none -p 1 "${EXTRA[@]}" "$@" \
        -o "$STATE/$label.jsonl" "$NET"
    # (Its metadata lines are no records.)
    [[ "$(grep -vc '^{"kind":"meta"' "$STATE/$label.jsonl")" == 65536 ]] || die "$label: not 65,536 records"
    cut -d' ' -f1 "$STATE/time-$label"
}
say "smb1scan $("$BIN" --version | cut -d' ' -f2) $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
say "load average before the run (other work on this machine): $(cut -d" " -f1-3 /proc/loadavg)"
[[ -n "$BASE" ]] && say "baseline: $BASE ($(sha256sum "$BASE" | cut -c1-12))"
say ""
if part 1; then
say "1. Recording cost: a /16 sweep ($NET port 1, every address RSTs; --discovery $MODE)"
nostore=()
store=()
base=()
for i in $(seq 1 "$RUNS"); do
    nostore+=("$(sweep "nostore-$i" --no-store)")
    # The baseline's run comes first every other round, so neither binary always follows the
    # --no-store run (a warm page cache, a quiet moment).
    if [[ -n "$BASE" && $((i % 2)) == 1 ]]; then base+=("$(sweep "base-$i" --store "$STATE/base-$i.sqlite")"); fi
    store+=("$(sweep "store-$i" --store "$STATE/rec-$i.sqlite")")
    if [[ -n "$BASE" && $((i % 2)) == 0 ]]; then base+=("$(sweep "base-$i" --store "$STATE/base-$i.sqlite")"); fi
done
mn="$(median "${nostore[@]}")"
ms="$(median "${store[@]}")"
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.1f %%", (b/a-1)*100}'; }
say "   --no-store wall (s):  ${nostore[*]}   median $mn"
say "   --store    wall (s):  ${store[*]}   median $ms"
say "   recording costs: $(pct "$mn" "$ms") of the sweep's wall time"
if [[ -n "$BASE" ]]; then
    mb="$(median "${base[@]}")"
    say "   baseline --store wall (s):  ${base[*]}   median $mb"
    say "   the baseline's recording costs: $(pct "$mn" "$mb") of the sweep's wall time"
fi
# CPU time (user + sys of the process) says what the machine's other work does not blur.
cpu() { awk '{printf "%.2f", $2 + $3}' "$STATE/time-$1"; }
cn=(); cs=(); cb=()
for i in $(seq 1 "$RUNS"); do
    cn+=("$(cpu "nostore-$i")")
    cs+=("$(cpu "store-$i")")
    [[ -z "$BASE" ]] || cb+=("$(cpu "base-$i")")
done
mcn="$(median "${cn[@]}")"
mcs="$(median "${cs[@]}")"
say "   --no-store CPU (s):   ${cn[*]}   median $mcn"
say "   --store    CPU (s):   ${cs[*]}   median $mcs   ($(pct "$mcn" "$mcs"))"
if [[ -n "$BASE" ]]; then
    mcb="$(median "${cb[@]}")"
    say "   baseline --store CPU (s):   ${cb[*]}   median $mcb   ($(pct "$mcn" "$mcb"))"
fi
say ""
for i in $(seq 1 "$RUNS"); do rm -f "$STATE/base-$i.sqlite"* "$STATE/base-$i.jsonl"; done
for i in $(seq 2 "$RUNS"); do rm -f "$STATE/rec-$i.sqlite"* "$STATE/nostore-$i.jsonl" "$STATE/store-$i.jsonl"; done
fi

# 2. A year of weekly sweeps.
YEAR="$STATE/year.sqlite"
if part 2; then
rm -f "$YEAR"*
say "2. Import: $WEEKS weekly /16 sweeps of 65,536 records into a fresh SQLite store"
total=0
totalcpu=0
for w in $(seq 0 $((WEEKS - 1))); do
    python3 - "$STATE/nostore-1.jsonl" "$STATE/week.jsonl" "$w" <<'PY'
import json, sys, datetime
src, dst, w = sys.argv[1], sys.argv[2], int(sys.argv[3])
day = datetime.date(2026, 1, 5) + datetime.timedelta(weeks=w)
with open(src) as f, open(dst, "w") as o:
    for i, line in enumerate(f):
        v = json.loads(line)
        if v.get("kind") == "meta":
            continue
        v["scanned_at"] = f"{day}T02:00:00.000Z"
        # Every 50th address (n = its last 16 bits) had SMB1 on in week 1; host k = n / 50 is
        # fixed in week k % 52 + 2; every 10th of them comes back 4 weeks later.
        a = v["ip"].split(".")
        n = int(a[2]) * 256 + int(a[3])
        if n % 50 == 0:
            k = n // 50
            fix = k % 52 + 1
            exposed = w < fix or (k % 10 == 0 and w >= fix + 4)
            v["status"] = "open"
            v["smb1"]["enabled"] = exposed
            v["ms17_010"]["verdict"] = "not-vulnerable" if exposed else "not-exposed"
        o.write(json.dumps(v, separators=(",", ":")) + "\n")
PY
    python3 "$ROOT/bench/measure.py" "$STATE/time-import" -- \
        "$BIN" -q import --store "$YEAR" --sweep "2026-w$((w + 1))" --scope "$NET" "$STATE/week.jsonl"
    t="$(cut -d' ' -f1 "$STATE/time-import")"
    c="$(awk '{print $2 + $3}' "$STATE/time-import")"
    total="$(awk -v a="$total" -v b="$t" 'BEGIN {print a + b}')"
    totalcpu="$(awk -v a="$totalcpu" -v b="$c" 'BEGIN {print a + b}')"
    printf '   week %2d: %6.2f s, %8.0f records/s (CPU %5.2f s)\n' "$((w + 1))" "$t" "$(awk -v t="$t" 'BEGIN {print 65536 / t}')" "$c" >>"$OUT"
done
rm -f "$STATE/week.jsonl"
say "   total: $((WEEKS * 65536)) records in $total s: $(awk -v t="$total" -v n="$((WEEKS * 65536))" 'BEGIN {printf "%.0f", n / t}') records/s (per week: see above)"
say "   CPU time of the imports (user + sys, both threads): $totalcpu s"
say ""
fi

# 3. Reading it back.
if part 3; then
say "3. On that store ($WEEKS sweeps, $((WEEKS * 65536)) records), wall time of each run:"
timeit() { # label cmd...
    local label="$1" ts=()
    shift
    for _ in 1 2 3 4 5; do
        python3 "$ROOT/bench/measure.py" "$STATE/time-q" -- "$@" >/dev/null
        ts+=("$(awk '{printf "%.0f", $1 * 1000}' "$STATE/time-q")")
    done
    say "   $label: ${ts[*]} ms (median $(median "${ts[@]}") ms)"
}
timeit "smb1scan history           " "$BIN" history --store "$YEAR" --format table
timeit "smb1scan history 127.1.1.244" "$BIN" history 127.1.1.244 --store "$YEAR" --format table
say "   campaign trend + per-/24 table (examples/store_trend, in-process, includes opening the store):"
"$TREND" "$YEAR" last 5 | sed 's/^/     /' | tee -a "$OUT" >/dev/null
"$TREND" "$YEAR" last 5 | sed 's/^/     /' >&2
say "   its host timeline:"
"$BIN" history 127.1.1.244 --store "$YEAR" --format table | tail -n 3 | sed 's/^/     /' | tee -a "$OUT" >/dev/null
say ""
fi

# 4. Size.
part 4 && say "4. Store size: $(du -b "$YEAR" | cut -f1) bytes for $((WEEKS * 65536)) records ($(awk -v s="$(du -b "$YEAR" | cut -f1)" -v n="$((WEEKS * 65536))" 'BEGIN {printf "%.0f", s / n}') bytes/record); one /16 sweep recorded in part 1: $(du -b "$STATE/rec-1.sqlite" | cut -f1) bytes; its JSON Lines: $(du -b "$STATE/nostore-1.jsonl" | cut -f1) bytes"

cat "$OUT"
if [[ $SAVE == 1 ]]; then
    dest="$ROOT/bench/results-store-$(date -u +%Y-%m-%d).txt"
    n=2
    while [[ -e "$dest" ]]; do
        dest="$ROOT/bench/results-store-$(date -u +%Y-%m-%d)-$n.txt"
        n=$((n + 1))
    done
    { printf 'command: %s\n' "${BASE:+SMB1SCAN_BENCH_BASELINE=$BASE }BENCH_PARTS=\"$PARTS\" BENCH_WEEKS=$WEEKS BENCH_RUNS=$RUNS bench/store.sh --save"; cat "$OUT"; } >"$dest"
    log "saved ${dest#"$ROOT"/}"
fi
