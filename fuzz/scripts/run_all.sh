#!/usr/bin/env bash
# Runs every fuzz target one after another (one core each: the machine has two), RUNS executions
# or SECS seconds each, whichever comes first; logs to $LOGDIR/<target>.log and prints a summary
# line per target. Needs cargo-fuzz; on a stable toolchain RUSTC_BOOTSTRAP=1 and --sanitizer none.
# Usage: fuzz/scripts/run_all.sh [RUNS] [SECS] [targets...]   (from the repository root)
set -u
RUNS=${1:-10000000}; SECS=${2:-1800}; shift 2 2>/dev/null || true
LOGDIR=${LOGDIR:-/tmp/smb1scan-fuzz-logs}; mkdir -p "$LOGDIR"
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=($(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v smb1scan-fuzz))
export RUSTC_BOOTSTRAP=1
for t in "${TARGETS[@]}"; do
  maxlen=4096; [ "$t" = probe_path ] && maxlen=16384
  start=$(date +%s)
  cargo fuzz run --sanitizer none -O -a "$t" -- -runs="$RUNS" -max_total_time="$SECS" \
    -max_len=$maxlen -rss_limit_mb=2048 -print_final_stats=1 >"$LOGDIR/$t.log" 2>&1
  rc=$?
  end=$(date +%s)
  runs=$(grep -o 'Done [0-9]* runs' "$LOGDIR/$t.log" | grep -o '[0-9]*' | tail -1)
  execs=$(grep 'stat::number_of_executed_units' "$LOGDIR/$t.log" | awk '{print $2}' | tail -1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$LOGDIR/$t.log" | tail -1)
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$LOGDIR/$t.log" | tail -1)
  crash=$(grep -c 'SUMMARY\|panicked\|deadly signal' "$LOGDIR/$t.log")
  echo "$t rc=$rc execs=${execs:-$runs} secs=$((end-start)) $cov $corp crash_lines=$crash" | tee -a "$LOGDIR/summary.txt"
done
