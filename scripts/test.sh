#!/usr/bin/env bash
# Runs the whole test suite: starts the real-server lab (scripts/lab.sh up: Samba x3 + impacket on
# 127.0.0.2-5, installing them first when run as root), then `cargo test --workspace`, then stops
# the lab again if this script started it. This is the README's "run the tests" command, and
# exactly what .ci/run runs.
#
#   scripts/test.sh [extra cargo test args...]     e.g. scripts/test.sh -- --nocapture
#
# Without root (and no lab already up) the lab tests print SKIPPED and pass; with CI set they fail.
set -euo pipefail
cd "$(dirname "$0")/.."

started_lab=0
if scripts/lab.sh status >/dev/null 2>&1; then
    echo "test.sh: lab already up, using it"
elif [ "$(id -u)" = 0 ]; then
    scripts/lab.sh up
    started_lab=1
else
    echo "test.sh: not root and the lab is not up: lab tests will be SKIPPED (run 'sudo scripts/lab.sh up' first)" >&2
fi
stop_lab() {
    if [ "$started_lab" = 1 ] && [ -z "${SMB1SCAN_KEEP_LAB:-}" ]; then
        scripts/lab.sh down || true
    fi
}
trap stop_lab EXIT

cargo test --workspace "$@"
