#!/usr/bin/env bash
# Do two smb1scan binaries read captures alike? Runs `clients --no-store --all` of BASELINE_BIN
# and NEW_BIN on every capture in ../shared/captures (each alone and all in one run), on each cut
# at several places (inside the file header, inside a record header, inside record data), gzip
# compressed, and gzip cut, and (with editcap) as nanosecond pcap and pcapng; compares standard output (JSON Lines) byte for byte, standard error
# (the problem lines) and the exit code. Prints one line per difference and a count.
#
# usage: bench/clients_pcap_same.sh BASELINE_BIN NEW_BIN [CAPTURE_DIR]
set -euo pipefail
BASE="$1"
NEW="$2"
DIR="${3:-$(dirname "$0")/../../shared/captures}"
OUT="$(mktemp -d /tmp/smb1scan-clients-same.XXXXXX)"
trap 'rm -rf "$OUT"' EXIT
n=0
bad=0
check() { # inputs...
    local rb=0 rn=0
    "$BASE" clients --no-store --all "$@" > "$OUT/b.out" 2> "$OUT/b.err" || rb=$?
    "$NEW" clients --no-store --all "$@" > "$OUT/n.out" 2> "$OUT/n.err" || rn=$?
    n=$((n + 1))
    if [ "$rb" != "$rn" ] || ! cmp -s "$OUT/b.out" "$OUT/n.out" || ! cmp -s "$OUT/b.err" "$OUT/n.err"; then
        bad=$((bad + 1))
        echo "DIFFERENT: $* (exit $rb / $rn)"
        diff "$OUT/b.err" "$OUT/n.err" | head -5 || true
    fi
}
caps=("$DIR"/*.pcap "$DIR"/*.pcapng)
all=("${caps[@]}")
if command -v editcap > /dev/null; then
    for c in "${caps[@]}"; do
        [ -e "$c" ] || continue
        b=$(basename "$c")
        editcap -F nsecpcap "$c" "$OUT/nsec-$b"
        editcap -F pcapng "$c" "$OUT/ng-$b.pcapng"
        all+=("$OUT/nsec-$b" "$OUT/ng-$b.pcapng")
    done
fi
for c in "${all[@]}"; do
    [ -e "$c" ] || continue
    b=$(basename "$c")
    check "$c"
    size=$(stat -c %s "$c")
    for cut in 10 24 30 40 100 $((size / 3)) $((size / 2)) $((size - 1)); do
        [ "$cut" -lt "$size" ] || continue
        head -c "$cut" "$c" > "$OUT/cut-$cut-$b"
        check "$OUT/cut-$cut-$b"
    done
    gzip -c "$c" > "$OUT/$b.gz"
    check "$OUT/$b.gz"
    gz=$(stat -c %s "$OUT/$b.gz")
    head -c $((gz * 2 / 3)) "$OUT/$b.gz" > "$OUT/cut-$b.gz"
    check "$OUT/cut-$b.gz"
done
check "${caps[@]}"
check "${all[@]}"
echo "$n runs, $bad different"
[ "$bad" = 0 ]
