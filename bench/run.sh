#!/usr/bin/env bash
# smb1scan benchmark: a simulated /16 inside network namespaces, scanned by smb1scan and by nmap
# in the same run. Prints wall time, hosts/s, CPU seconds, peak RSS, the floor and the ratios.
# See bench/README.md for the network, the floor formula and how to read the table.
#
#   bench/run.sh            full run (the figures to report; ~2.5 min)
#   bench/run.sh --quick    /20 instead of /16, one nmap variant, no rate-bound run (~1.5 min)
#   bench/run.sh --save     the full run, its table also saved as bench/results-<date>.txt
#   bench/run.sh --checks-cost  per-host CPU with --checks limited to the first three checks and
#                               with all (side by side, alternating, BENCH_ROUNDS=7 rounds), and
#                               whether every host finished inside the host deadline;
#                               BENCH_BASELINE=/path/to/smb1scan also times that binary (e.g. main's
#                               build) in the same rounds, interleaved, for a before/after
#   bench/run.sh --cleanup  remove a namespace left behind by a killed run, and exit
#   bench/run.sh --exec 'CMD'  set the network up, run CMD (bash) in the scanner namespace, tear down
#
# Needs root, iproute2, nftables, samba (smbd), nmap, python3, GNU time (/usr/bin/time).
# Everything runs inside two namespaces this script creates ($NS, the scanner side, and $NET_NS,
# the simulated network), joined by one veth pair and connected to nothing else: the script checks
# that before the first packet and aborts otherwise. Nothing leaves them.
set -euo pipefail

NS="${SMB1SCAN_BENCH_NS:-smb1scan-bench}" # scanner side (smb1scan, nmap)
NET_NS="$NS-net"                          # the simulated network (Samba, nftables)
STATE="${SMB1SCAN_BENCH_DIR:-/tmp/smb1scan-bench}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Scan settings for every smb1scan run (the floor is computed from them).
CONNECT_TIMEOUT_S="${BENCH_CONNECT_TIMEOUT:-2}" # seconds
READ_TIMEOUT_S="${BENCH_READ_TIMEOUT:-2}"
HOST_TIMEOUT_S="${BENCH_HOST_TIMEOUT:-10}"
WINDOW="${BENCH_WINDOW:-4096}"   # --concurrency of the window-bound runs
RATE_BOUND_RATE="${BENCH_RATE:-2000}" # --rate of the rate-bound run
RATE_BOUND_WINDOW="${BENCH_RATE_WINDOW:-8192}"

# The simulated network, 198.18.0.0/16 (RFC 2544 benchmarking space), all local to $NET_NS:
#  - Samba "smb1-on"  (server min protocol NT1)                     on SAMBA_A addresses
#  - Samba "smb1-off" (server min protocol SMB2_02)                 on SAMBA_B addresses
#  - Samba "signing"  (NT1, server signing mandatory)               on SAMBA_C addresses
#  - RST: last octet 1..10 of every /24 (nftables `reject with tcp reset`)
#  - everything else: SYN dropped silently (nftables `drop`)
SAMBA_A=(198.18.0.20 198.18.1.20 198.18.2.20 198.18.3.20 198.18.10.20 198.18.50.20 198.18.90.20
    198.18.130.20 198.18.170.20 198.18.210.20 198.18.250.20 198.18.255.20)
SAMBA_B=(198.18.0.30 198.18.2.30 198.18.60.30 198.18.120.30 198.18.180.30 198.18.240.30)
SAMBA_C=(198.18.1.40 198.18.100.40 198.18.200.40)
RST_LO=1
RST_HI=10

SLICE=198.18.0.0/22 # the slice both tools scan
QUICK=0
SAVE=0
N_PERSONAS=0
N_CHECK_PERSONAS=0
# The issue-18 check personas (responder/src/checks.rs), one responder each on 127.0.11.N:445 for
# --checks-cost: the hosts where the new checks' exchange (smbghost's compression context) is
# answered.
CHECK_PERSONAS=(win10-1909-compression win10-1909-patched-rebooted samba-4.5.9-nas win2012r2-anonymous-pipes)

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
    printf 'bench: error: %s\n' "$*" >&2
    exit 1
}

nsx() { ip netns exec "$NS" "$@"; }      # the scanner's namespace
netx() { ip netns exec "$NET_NS" "$@"; } # the simulated network's namespace

# ---------------------------------------------------------------------------------------------
# Tear-down: processes by pid (the ones whose pid files we wrote, then whatever still runs in OUR
# namespaces, which only this script populates), then the namespaces themselves.
# ---------------------------------------------------------------------------------------------
kill_pids() { # signal pid...
    local sig="$1" p
    shift
    for p in "$@"; do
        kill "-$sig" "$p" 2>/dev/null || true
    done
}

teardown() {
    local pids i f n
    for f in "$STATE"/samba-*/run/*.pid; do
        [ -f "$f" ] && kill_pids TERM "$(cat "$f" 2>/dev/null)"
    done
    for n in "$NS" "$NET_NS"; do
        ns_exists "$n" || continue
        for i in 1 2 3 4 5 6 7 8 9 10; do
            pids="$(ip netns pids "$n" 2>/dev/null || true)"
            [ -z "$pids" ] && break
            # shellcheck disable=SC2086
            if [ "$i" -lt 8 ]; then kill_pids TERM $pids; else kill_pids KILL $pids; fi
            sleep 0.3
        done
        ip netns del "$n" 2>/dev/null || true
        log "namespace $n removed"
    done
}

on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    teardown
    exit "$rc"
}

# ---------------------------------------------------------------------------------------------
# Set-up
# ---------------------------------------------------------------------------------------------
preflight() {
    [ "$(id -u)" = 0 ] || die "needs root (network namespace, nftables, smbd on port 445)"
    local t
    for t in ip nft smbd nmap python3 /usr/bin/time; do
        command -v "$t" >/dev/null 2>&1 || die "$t not found (apt-get install -y iproute2 nftables samba nmap python3 time)"
    done
}

build() {
    log "building smb1scan (release)"
    (cd "$ROOT" && cargo build --release -q --bin smb1scan) || die "cargo build --release failed"
    # A private copy: other builds in the shared target dir cannot swap it mid-run.
    cp "$ROOT/target/release/smb1scan" "$STATE/smb1scan"
    BIN="$STATE/smb1scan"
    # Optional: the project's simulated Windows hosts (examples/responder.rs), for the verdicts
    # Samba cannot give (vulnerable, DoublePulsar) and their CPU cost.
    rm -f "$STATE/responder"
    if (cd "$ROOT" && cargo build --release -q -p smb1scan-responder --example responder) 2>"$STATE/responder-build.log"; then
        cp "$ROOT/target/release/examples/responder" "$STATE/responder"
    else
        log "warning: examples/responder did not build ($STATE/responder-build.log); no personas"
    fi
}

# The responder's personas on the scanner namespace's own loopback (127.0.10.1, .2, ...): it only
# binds loopback addresses, and this loopback is the namespace's, not the machine's.
start_personas() {
    [ -x "$STATE/responder" ] || return 0
    nsx "$STATE/responder" all 127.0.10.1 445 >"$STATE/responder.log" 2>&1 &
    local i
    for i in $(seq 1 80); do
        port_open_ns 127.0.10.1 && break
        [ "$i" = 80 ] && die "the responder did not listen on 127.0.10.1:445 (see $STATE/responder.log)"
        sleep 0.25
    done
    sleep 0.5
    N_PERSONAS="$(grep -c '^SIMULATED' "$STATE/responder.log" || true)"
    log "responder: $N_PERSONAS simulated hosts on 127.0.10.1-127.0.10.$N_PERSONAS (scanner namespace lo)"
}

# The check personas on 127.0.11.1, .2, ... (scanner namespace loopback), for --checks-cost.
start_check_personas() {
    [ -x "$STATE/responder" ] || return 0
    local i=0 name
    for name in "${CHECK_PERSONAS[@]}"; do
        i=$((i + 1))
        nsx "$STATE/responder" one "$name" "127.0.11.$i:445" >>"$STATE/responder-checks.log" 2>&1 &
    done
    for i in $(seq 1 80); do
        port_open_ns "127.0.11.${#CHECK_PERSONAS[@]}" && break
        [ "$i" = 80 ] && die "the check personas did not listen (see $STATE/responder-checks.log)"
        sleep 0.25
    done
    N_CHECK_PERSONAS=${#CHECK_PERSONAS[@]}
    log "responder: check personas ${CHECK_PERSONAS[*]} on 127.0.11.1-127.0.11.$N_CHECK_PERSONAS"
}

# nft set elements for the RST addresses: last octet RST_LO..RST_HI of every /24 of the /16.
rst_elements() {
    local x out=""
    for x in $(seq 0 255); do
        out+="198.18.$x.$RST_LO-198.18.$x.$RST_HI, "
    done
    echo "${out%, }"
}

join_comma() {
    local IFS=,
    echo "$*"
}

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }

# Two namespaces joined by a veth pair, nothing else: the scanner's ($NS) and the simulated
# network's ($NET_NS). The veth ends are created directly inside them and never exist in the
# root namespace. The scanner reaches 198.18.0.0/16 through one router hop (198.19.0.2), as on a
# real network; no tool ever runs in the root namespace.
setup_netns() {
    local n
    for n in "$NS" "$NET_NS"; do
        ns_exists "$n" && die "namespace $n already exists (a killed run?): bench/run.sh --cleanup"
    done
    trap on_exit EXIT
    trap 'exit 130' INT TERM
    ip netns add "$NS"
    ip netns add "$NET_NS"
    ip link add s1s-scan netns "$NS" type veth peer name s1s-net netns "$NET_NS"
    nsx ip link set lo up
    nsx ip addr add 198.19.0.1/30 dev s1s-scan
    nsx ip link set s1s-scan up
    nsx ip route add 198.18.0.0/16 via 198.19.0.2 dev s1s-scan
    netx ip link set lo up
    netx ip addr add 198.19.0.2/30 dev s1s-net
    netx ip link set s1s-net up
    # The whole /16 is local to the network namespace (AnyIP): every address of it exists there,
    # and nftables decides whether a SYN is answered by Samba, refused with a RST, or dropped.
    netx ip route add local 198.18.0.0/16 dev lo table main
    local a
    for a in "${SAMBA_A[@]}" "${SAMBA_B[@]}" "${SAMBA_C[@]}"; do
        netx ip addr add "$a/32" dev lo
    done
    local samba
    samba="$(join_comma "${SAMBA_A[@]}" "${SAMBA_B[@]}" "${SAMBA_C[@]}")"
    netx nft -f - <<EOF
table inet smb1scan_bench {
    set samba { type ipv4_addr; elements = { $samba } }
    set rst { type ipv4_addr; flags interval; elements = { $(rst_elements) } }
    chain input {
        type filter hook input priority 0; policy accept;
        ip daddr @samba accept
        ip daddr @rst tcp flags & (syn | ack) == syn reject with tcp reset
        ip daddr 198.18.0.0/16 tcp flags & (syn | ack) == syn drop
    }
}
EOF
}

# Aborts unless nothing can leave the two namespaces: each has only lo and its end of the veth
# pair (whose peer is in the other bench namespace), and every route (IPv4 and IPv6, all tables)
# is on lo, or on the veth towards 198.18.0.0/15 (or IPv6 link-local/multicast) only; no default
# route.
check_isolation() { # ns veth peer-ns
    local ns="$1" veth="$2" peer="$3" links routes bad
    links="$(ip netns exec "$ns" ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')"
    [ "$links" = "lo $veth " ] || die "namespace $ns has interfaces other than lo and $veth: $links"
    ip netns exec "$ns" ip -d -o link show "$veth" | grep -q " veth " ||
        die "$veth in $ns is not a veth"
    ip netns exec "$ns" ip -o link show "$veth" | grep -q "link-netns $peer" ||
        die "the peer of $veth in $ns is not in namespace $peer"
    routes="$(ip netns exec "$ns" ip -4 route show table all; ip netns exec "$ns" ip -6 route show table all)"
    if echo "$routes" | grep -qE '^(default|unreachable default|[a-z]+ default)'; then
        die "namespace $ns has a default route"
    fi
    bad="$(echo "$routes" | grep -v '^$' | grep -v ' dev lo ' |
        grep -vE "^(local |broadcast )?198\.1[89]\.[0-9./]+ .*dev $veth " |
        grep -vE "^(local |multicast |anycast )?(fe80:|ff00::/8)[^ ]* .*dev $veth " || true)"
    [ -z "$bad" ] || die "namespace $ns has a route that may leave it: $bad"
    log "isolation OK in $ns: interfaces $links; $(echo "$routes" | grep -vc '^$') routes, all on lo or on $veth to 198.18.0.0/15 / IPv6 link-local"
}

write_samba_conf() { # name minproto signing addr...
    local name="$1" minproto="$2" signing="$3"
    shift 3
    local d="$STATE/samba-$name" ifs="" a
    for a in "$@"; do ifs+="$a/32 "; done
    mkdir -p "$d"/{lock,state,cache,private,run,log,share,bind-dns}
    chmod 755 "$d/share"
    echo "smb1scan bench file" >"$d/share/README.txt"
    cat >"$d/smb.conf" <<EOF
# smb1scan bench: $name (written by bench/run.sh)
[global]
    netbios name = BENCH$(echo "$name" | tr -dc 'A-Za-z0-9' | tr a-z A-Z | cut -c1-10)
    workgroup = SMB1SCANBENCH
    server role = standalone server
    interfaces = $ifs
    bind interfaces only = yes
    smb ports = 445
    disable netbios = yes
    server min protocol = $minproto
    server signing = $signing
    map to guest = bad user
    guest account = nobody
    restrict anonymous = 0
    max connections = 0
    lock directory = $d/lock
    state directory = $d/state
    cache directory = $d/cache
    private dir = $d/private
    pid directory = $d/run
    ncalrpc dir = $d/run/ncalrpc
    binddns dir = $d/bind-dns
    passdb backend = tdbsam:$d/private/passdb.tdb
    log file = $d/log/smbd.log
    max log size = 2000
    log level = 0
    load printers = no
    printing = bsd
    printcap name = /dev/null
    disable spoolss = yes
    usershare path =

[public]
    path = $d/share
    guest ok = yes
    read only = yes
EOF
    echo "$d/smb.conf"
}

port_open_ns() { # addr
    nsx timeout 2 bash -c "exec 3<>/dev/tcp/$1/445" 2>/dev/null
}

start_samba() {
    local smbd conf a i
    smbd="$(command -v smbd)"
    rm -rf "$STATE"/samba-*
    conf="$(write_samba_conf smb1-on NT1 auto "${SAMBA_A[@]}")"
    netx "$smbd" -D -s "$conf" </dev/null >>"$STATE/smbd-start.log" 2>&1 || die "smbd smb1-on failed ($STATE/samba-smb1-on/log)"
    conf="$(write_samba_conf smb1-off SMB2_02 auto "${SAMBA_B[@]}")"
    netx "$smbd" -D -s "$conf" </dev/null >>"$STATE/smbd-start.log" 2>&1 || die "smbd smb1-off failed"
    conf="$(write_samba_conf signing NT1 mandatory "${SAMBA_C[@]}")"
    netx "$smbd" -D -s "$conf" </dev/null >>"$STATE/smbd-start.log" 2>&1 || die "smbd signing failed"
    for a in "${SAMBA_A[@]}" "${SAMBA_B[@]}" "${SAMBA_C[@]}"; do
        for i in $(seq 1 120); do
            port_open_ns "$a" && break
            [ "$i" = 120 ] && die "Samba did not accept on $a:445 within 30 s (logs under $STATE)"
            sleep 0.25
        done
    done
    log "Samba up on $((${#SAMBA_A[@]} + ${#SAMBA_B[@]} + ${#SAMBA_C[@]})) addresses ($(smbd --version))"
}

# ---------------------------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------------------------
# Runs a command inside the scanner namespace under bench/measure.py (wait4 rusage) and GNU time;
# appends "label wall user sys maxrss_kb" to $STATE/times.
timed() { # label cmd...
    local label="$1"
    shift
    local tf="$STATE/time-$label"
    # In the background and waited for, so a signal to this script runs the trap at once.
    local rc=0
    nsx python3 "$ROOT/bench/measure.py" "$tf" -- /usr/bin/time -o "$tf.gnu" -f '%M' "$@" &
    wait $! || rc=$?
    [ "$rc" = 0 ] || {
        # smb1scan exits 3 when findings meet --fail-on; anything else is a failure.
        [ "$rc" = 3 ] || die "$label: exited $rc"
    }
    # Wall and CPU from measure.py (microseconds); peak RSS from GNU time, whose own pre-exec
    # image (~2 MB) is the smallest a measured child can show (python's would be ~10 MB).
    echo "$label $(cut -d' ' -f1-3 "$tf") $(tail -n 1 "$tf.gnu")" >>"$STATE/times"
}

smb1scan_scan() { # label out.jsonl extra-flags... -- targets...
    local label="$1" out="$2"
    shift 2
    rm -f "$out"
    timed "$label" "${SCAN_BIN:-$BIN}" scan --quiet --no-config --fail-on none \
        --connect-timeout "${CT:-${CONNECT_TIMEOUT_S}s}" --read-timeout "${READ_TIMEOUT_S}s" \
        --host-timeout "${HOST_TIMEOUT_S}s" --retries 0 -o "$out" "$@"
}

nmap_scan() { # label extra-flags...
    local label="$1"
    shift
    log "nmap ($label) on $SLICE"
    timed "$label" nmap -v -n -Pn -p445 --script smb-protocols,smb-vuln-ms17-010 \
        -oX "$STATE/$label.xml" "$@" "$SLICE" >"$STATE/$label.txt" 2>&1
}

# The namespaces (checked isolated), Samba, the personas, and the live list for the per-live-host
# CPU runs.
start_network() {
    setup_netns
    check_isolation "$NS" s1s-scan "$NET_NS"
    check_isolation "$NET_NS" s1s-net "$NS"
    start_samba
    start_personas
    printf '%s\n' "${SAMBA_A[@]}" "${SAMBA_B[@]}" "${SAMBA_C[@]}" >"$STATE/live.txt"
}

# Per-host CPU of the probe with --checks limited to the first three checks and with all of them,
# on the same hosts in one invocation, alternating so drift hits both alike. Prints one line per
# round and the medians; saved as $STATE/checks-cost.txt and bench/results-checks-cost-DATE.txt.
# Every run takes --no-store: this measures the probe; recording to the history store has its
# own benchmark (bench/store.sh), and the default store grows with every bench run.
checks_cost() {
    local rounds="${BENCH_ROUNDS:-7}" r set
    local old=smb1,ms17-010,doublepulsar
    local sets="old all" base=""
    # BENCH_BASELINE: another build (a private copy, as $BIN) measured in the same rounds as
    # bold/ball, interleaved with this tree's old/all.
    if [ -n "${BENCH_BASELINE:-}" ]; then
        cp "$BENCH_BASELINE" "$STATE/smb1scan-baseline"
        base="$STATE/smb1scan-baseline"
        sets="old all bold ball"
        log "baseline binary: $BENCH_BASELINE ($("$base" --version))"
    fi
    for r in $(seq 1 "$rounds"); do
        for set in $sets; do
            local list=$old
            # BENCH_CHECKS_ALL: the second list (default all), e.g. the first three plus one check
            # to see that check's own cost.
            case "$set" in all | ball) list="${BENCH_CHECKS_ALL:-all}" ;; esac
            SCAN_BIN="$BIN"
            case "$set" in bold | ball) SCAN_BIN="$base" ;; esac
            smb1scan_scan "live-$set-$r" "$STATE/live-$set.jsonl" --no-store --checks "$list" \
                --concurrency 64 --rate 0 -i "$STATE/live.txt"
            if [ "${N_PERSONAS:-0}" -gt 0 ]; then
                smb1scan_scan "personas-$set-$r" "$STATE/personas-$set.jsonl" --no-store --checks "$list" \
                    --concurrency 64 --rate 0 "127.0.10.1-127.0.10.$N_PERSONAS"
            fi
            if [ "${N_CHECK_PERSONAS:-0}" -gt 0 ]; then
                smb1scan_scan "checkpersonas-$set-$r" "$STATE/checkpersonas-$set.jsonl" \
                    --no-store --checks "$list" --concurrency 64 --rate 0 "127.0.11.1-127.0.11.$N_CHECK_PERSONAS"
            fi
        done
        SCAN_BIN="$BIN"
        smb1scan_scan "baseline-$r" "$STATE/baseline.jsonl" --no-store --concurrency 64 --rate 0 198.18.7.1
    done
    python3 - "$STATE/times" "$rounds" "$(wc -l <"$STATE/live.txt")" "${N_PERSONAS:-0}" \
        "$old" "${N_CHECK_PERSONAS:-0}" "$STATE" <<'PY' 2>&1 | tee "$STATE/checks-cost.txt"
import json, os, statistics, sys
times, rounds, n_live, n_pers, old = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
n_check, state = int(sys.argv[6]), sys.argv[7]
cpu = {}
for line in open(times):
    f = line.split()
    cpu[f[0]] = float(f[2]) + float(f[3])
print(f"per-host CPU (user+sys, minus the 1-address RST baseline of the same round), {rounds} rounds")
print(f"  --checks {old}  vs  --checks {os.environ.get('BENCH_CHECKS_ALL', 'all')}")
for kind, n in (("live", n_live), ("personas", n_pers), ("checkpersonas", n_check)):
    if n == 0:
        continue
    sets = ("old", "all", "bold", "ball") if f"{kind}-bold-1" in cpu else ("old", "all")
    per = {s: [] for s in sets}
    for r in range(1, rounds + 1):
        base = cpu[f"baseline-{r}"]
        for s in per:
            per[s].append(1000 * (cpu[f"{kind}-{s}-{r}"] - base) / n)
        line = f"  round {r} {kind:<13} ({n} hosts): old {per['old'][-1]:6.2f} ms  all {per['all'][-1]:6.2f} ms"
        if "bold" in per:
            line += f"   baseline binary: old {per['bold'][-1]:6.2f} ms  all {per['ball'][-1]:6.2f} ms"
        print(line)
    mo, ma = statistics.median(per["old"]), statistics.median(per["all"])
    print(f"  median  {kind:<13}: old {mo:6.2f} ms/host  all {ma:6.2f} ms/host  ({100 * (ma - mo) / mo:+.1f} %)")
    if "bold" in per:
        bo, ba = statistics.median(per["bold"]), statistics.median(per["ball"])
        print(f"  median  {kind:<13}  baseline binary: old {bo:6.2f} ms/host  all {ba:6.2f} ms/host  ({100 * (ba - bo) / bo:+.1f} %)")
# Within the deadline: every host of the last "all" runs has every check decided or says why,
# and its duration_ms is under the host timeout.
for kind in ("live", "personas", "checkpersonas"):
    try:
        recs = [json.loads(l) for l in open(f"{state}/{kind}-all.jsonl") if l.strip()]
    except FileNotFoundError:
        continue
    recs = [x for x in recs if "kind" not in x]
    slowest = max((x.get("duration_ms", 0) for x in recs), default=0)
    cut = sum(1 for x in recs if any(s.get("name") == "host-deadline" for s in x.get("steps", [])))
    ghost = {}
    for x in recs:
        g = (x.get("smbghost") or {}).get("verdict", "-")
        ghost[g] = ghost.get(g, 0) + 1
    print(f"  {kind:<13} --checks all: {len(recs)} hosts, slowest {slowest} ms, {cut} cut by the deadline, smbghost {ghost}")
PY
}

main() {
    case "${1:-}" in
    --quick) QUICK=1 ;;
    --save) SAVE=1 ;;
    --checks-cost)
        preflight
        mkdir -p "$STATE"
        rm -f "$STATE/times"
        build
        start_network
        start_check_personas
        log "$("$BIN" --version), --checks values: $("$BIN" scan --help | sed -n '/--checks <LIST>/,/- all:/p' | sed -n 's/^ *- \([a-z0-9-]*\):.*/\1/p' | tr '\n' ' ')"
        checks_cost
        exit 0
        ;;
    --exec)
        # Set up the network, run one command in the scanner namespace, tear down.
        [ $# -ge 2 ] || die "usage: $0 --exec 'COMMAND'"
        preflight
        mkdir -p "$STATE"
        BIN="$ROOT/target/release/smb1scan"
        setup_netns
        check_isolation "$NS" s1s-scan "$NET_NS"
        check_isolation "$NET_NS" s1s-net "$NS"
        start_samba
        nsx bash -c "$2" &
        wait $! || true
        exit 0
        ;;
    --cleanup)
        [ "$(id -u)" = 0 ] || die "needs root"
        teardown
        exit 0
        ;;
    "") ;;
    *) die "usage: $0 [--quick|--save|--checks-cost|--cleanup|--exec 'COMMAND']" ;;
    esac
    preflight
    mkdir -p "$STATE"
    rm -f "$STATE/times"
    build
    local big=198.18.0.0/16
    [ "$QUICK" = 1 ] && big=198.18.0.0/20
    start_network

    log "smb1scan on $SLICE (window $WINDOW, no rate limit)"
    smb1scan_scan slice-smb1scan "$STATE/slice.jsonl" --concurrency "$WINDOW" --rate 0 "$SLICE"
    nmap_scan slice-nmap-tuned -T4 --min-hostgroup 1024 --min-parallelism 256 --max-retries 1
    if [ "$QUICK" = 0 ]; then
        nmap_scan slice-nmap-T4 -T4
        # Again after nmap, so the smb1scan figure is not a lucky first run.
        smb1scan_scan slice-smb1scan-2 "$STATE/slice2.jsonl" --concurrency "$WINDOW" --rate 0 "$SLICE"
    fi
    # With a connect timeout closer to nmap's (which adapts to the link's RTT, down to -T4's
    # 100 ms floor).
    CT=500ms smb1scan_scan slice-smb1scan-500ms "$STATE/slice500.jsonl" --concurrency "$WINDOW" \
        --rate 0 "$SLICE"
    # And at 250 ms: between -T4's 100 ms minimum and 500 ms initial RTT timeouts.
    CT=250ms smb1scan_scan slice-smb1scan-250ms "$STATE/slice250.jsonl" --concurrency "$WINDOW" \
        --rate 0 "$SLICE"

    log "smb1scan on $big, window-bound (window $WINDOW, no rate limit)"
    smb1scan_scan big-window "$STATE/big-window.jsonl" --concurrency "$WINDOW" --rate 0 "$big"
    if [ "$QUICK" = 0 ]; then
        log "smb1scan on $big, rate-bound (window $RATE_BOUND_WINDOW, rate $RATE_BOUND_RATE/s)"
        smb1scan_scan big-rate "$STATE/big-rate.jsonl" --concurrency "$RATE_BOUND_WINDOW" \
            --rate "$RATE_BOUND_RATE" "$big"
    fi

    log "smb1scan on 198.18.0.0/24 (peak RSS of a small scan)"
    smb1scan_scan c24 "$STATE/c24.jsonl" --concurrency "$WINDOW" --rate 0 198.18.0.0/24

    log "CPU per live host: the ${#SAMBA_A[@]}+${#SAMBA_B[@]}+${#SAMBA_C[@]} Samba addresses, and a 1-address RST baseline"
    smb1scan_scan live "$STATE/live.jsonl" --concurrency 64 --rate 0 -i "$STATE/live.txt"
    smb1scan_scan baseline "$STATE/baseline.jsonl" --concurrency 64 --rate 0 198.18.7.1
    if [ "${N_PERSONAS:-0}" -gt 0 ]; then
        log "CPU per live host, simulated Windows hosts (responder personas)"
        smb1scan_scan personas "$STATE/personas.jsonl" --concurrency 64 --rate 0 \
            "127.0.10.1-127.0.10.$N_PERSONAS"
    fi

    log "dry runs (nothing sent): /24 and /8"
    timed dry-24 sh -c "'$BIN' scan --quiet --no-config --dry-run 198.18.0.0/24 >/dev/null"
    timed dry-8 sh -c "'$BIN' scan --quiet --no-config --dry-run 10.0.0.0/8 >/dev/null"
    # sh -c adds a shell to the wall/CPU figures only (ru_maxrss is the largest process's, which
    # is smb1scan's).

    python3 "$ROOT/bench/report.py" --state "$STATE" --quick "$QUICK" --big "$big" --slice "$SLICE" \
        --connect-timeout "$CONNECT_TIMEOUT_S" --window "$WINDOW" \
        --rate-window "$RATE_BOUND_WINDOW" --rate "$RATE_BOUND_RATE" \
        --rst "$RST_LO-$RST_HI" --samba-a "$(join_comma "${SAMBA_A[@]}")" \
        --samba-b "$(join_comma "${SAMBA_B[@]}")" --samba-c "$(join_comma "${SAMBA_C[@]}")" |
        tee "$STATE/report.txt"
    log "report saved to $STATE/report.txt; raw outputs in $STATE"
    if [ "${SAVE:-0}" = 1 ]; then
        # The saved figures (wall, CPU and peak RSS per run) with the machine and commit they
        # came from.
        local saved
        saved="$ROOT/bench/results-$(date -u +%F).txt"
        {
            echo "# Full run of 'sudo bench/run.sh --save' on $(date -u '+%F %T') UTC ($(nproc) cores," \
                "load $(cut -d' ' -f1-3 /proc/loadavg); smb1scan $(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- src || echo '+changes'))"
            echo
            cat "$STATE/report.txt"
        } >"$saved"
        log "saved to $saved"
    fi
}

main "$@"
