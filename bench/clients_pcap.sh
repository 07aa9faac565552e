#!/usr/bin/env bash
# The read path of `smb1scan clients` on a legacy pcap (a benchmark, not a test): two binaries
# on the same capture, interleaved round by round on core 0 (`taskset -c 0`, GNU time), the
# medians of wall / user / system time and the throughput; then callgrind's instruction counts
# (robust to the noise of other work on the machine) on the first SMALL bytes of the capture
# (a cut pcap: both binaries report the same cut). Checks that both write the same JSON Lines.
#
# usage: bench/clients_pcap.sh BASELINE_BIN NEW_BIN [ROUNDS] [SMALL]
#   defaults: ROUNDS 5, SMALL 100000000; the capture is /tmp/smb1scan-clients-bench.pcap
#   (SMB1SCAN_BENCH_CAPTURE), built by bench/clients_build_capture.py (bench/clients.sh).
# needs: GNU time, taskset, valgrind.
set -euo pipefail
BASE="$1"
NEW="$2"
ROUNDS="${3:-5}"
SMALL="${4:-100000000}"
CAP="${SMB1SCAN_BENCH_CAPTURE:-/tmp/smb1scan-clients-bench.pcap}"
OUT="$(mktemp -d /tmp/smb1scan-clients-pcap.XXXXXX)"
trap 'rm -rf "$OUT"' EXIT
BYTES=$(stat -c %s "$CAP")
echo "capture $CAP ($BYTES bytes); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$CAP" > /dev/null

run() { # name bin file round
    set +e
    taskset -c 0 /usr/bin/time -f "%e %U %S %M" -o "$OUT/$1.$4.time" \
        "$2" clients --no-store --max-pairs 4000000 "$3" > "$OUT/$1.jsonl" 2> "$OUT/$1.err"
    local rc=$?
    set -e
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
        echo "$2 failed ($rc):" >&2
        cat "$OUT/$1.err" >&2
        exit 1
    fi
}
for r in $(seq 1 "$ROUNDS"); do
    run base "$BASE" "$CAP" "$r"
    run new "$NEW" "$CAP" "$r"
    cmp -s "$OUT/base.jsonl" "$OUT/new.jsonl" || { echo "JSON Lines differ (round $r)" >&2; exit 1; }
done
echo "JSON Lines identical ($(wc -l < "$OUT/new.jsonl") lines); load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$OUT" "$ROUNDS" "$BYTES" <<'PY'
import statistics, sys
out, rounds, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for name in ("base", "new"):
    rows = [list(map(float, open(f"{out}/{name}.{r}.time").read().split()[-4:])) for r in range(1, rounds + 1)]
    e, u, s, m = (statistics.median(c) for c in zip(*rows))
    print(f"{name:5} median of {rounds}: wall {e:.2f} s  user {u:.2f} s  sys {s:.2f} s  "
          f"max RSS {m/1024:.0f} MiB  -> {size/(u+s)/1e6:.0f} MB/s of CPU time, {size/e/1e6:.0f} MB/s wall")
    print(f"      rounds (wall user sys): " + "; ".join(f"{r[0]:.2f} {r[1]:.2f} {r[2]:.2f}" for r in rows))
PY

head -c "$SMALL" "$CAP" > "$OUT/small.pcap"
for name in base new; do
    bin="$BASE"; [ "$name" = new ] && bin="$NEW"
    set +e
    valgrind --tool=callgrind --callgrind-out-file="$OUT/$name.cg" \
        "$bin" clients --no-store --max-pairs 4000000 "$OUT/small.pcap" > "$OUT/$name.small.jsonl" 2> "$OUT/$name.cg.err"
    set -e
    ir=$(grep -m1 '^summary:' "$OUT/$name.cg" | cut -d' ' -f2)
    echo "callgrind $name on the first $SMALL bytes: $ir instructions"
done
cmp -s "$OUT/base.small.jsonl" "$OUT/new.small.jsonl" || { echo "JSON Lines differ on the cut capture" >&2; exit 1; }
echo "JSON Lines identical on the cut capture too"
