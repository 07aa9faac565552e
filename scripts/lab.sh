#!/usr/bin/env bash
# The real-server test lab: Samba smbd instances and an impacket smbserver, each on its own loopback
# address, port 445. Used by `cargo test` (tests/lab.rs, tests/wire_dissect.rs), by
# scripts/nmap-crosscheck.sh and by .ci/run.
#
#   scripts/lab.sh install [PKG...]  install what is missing (root; apt-get + pip) plus any extra
#                            Debian packages named; start nothing
#   scripts/lab.sh up        install if needed, start every server, wait until each accepts, print the table
#   scripts/lab.sh down      stop exactly what `up` started (by the pid files it wrote)
#   scripts/lab.sh status    show each server, its pid and whether its port accepts
#
# Address        Server
# 127.0.0.2:445  Samba, SMB1 on  (server min protocol = NT1)
# 127.0.0.3:445  Samba, SMB1 off (server min protocol = SMB2_02)
# 127.0.0.4:445  Samba, SMB1 on, server signing = mandatory
# 127.0.0.5:445  impacket smbserver.py -smb2support
#
# Everything (configs, state, locks, pids, logs) lives under $SMB1SCAN_LAB_DIR (default
# /tmp/smb1scan-lab). Nothing listens on anything but these loopback addresses. Processes are
# only ever stopped by the pids this script recorded, never by name: other smbd instances may be
# running on this machine.
set -euo pipefail

LAB_DIR="${SMB1SCAN_LAB_DIR:-/tmp/smb1scan-lab}"
PORT=445
WAIT_SECS="${SMB1SCAN_LAB_WAIT:-30}"

# name|address|description|min protocol|signing
SAMBA_SERVERS=(
    "samba-smb1-on|127.0.0.2|Samba, SMB1 on (min protocol NT1)|NT1|auto"
    "samba-smb1-off|127.0.0.3|Samba, SMB1 off (min protocol SMB2_02)|SMB2_02|auto"
    "samba-signing|127.0.0.4|Samba, SMB1 on, signing mandatory|NT1|mandatory"
)
IMPACKET_NAME=impacket
IMPACKET_ADDR=127.0.0.5

log() { printf 'lab: %s\n' "$*" >&2; }
die() {
    printf 'lab: error: %s\n' "$*" >&2
    exit 1
}

smbd_bin() {
    if command -v smbd >/dev/null 2>&1; then
        command -v smbd
    elif [ -x /usr/sbin/smbd ]; then
        echo /usr/sbin/smbd
    else
        return 1
    fi
}

# The python interpreter that has impacket, and the directory its console scripts go to.
python_bin() {
    if [ -x "$LAB_DIR/venv/bin/python3" ]; then
        echo "$LAB_DIR/venv/bin/python3"
    else
        command -v python3
    fi
}

have_impacket() {
    local py
    py="$(python_bin 2>/dev/null)" || return 1
    "$py" -c 'import impacket.smbserver' >/dev/null 2>&1 || return 1
    [ -n "$(smbserver_script)" ]
}

# From PyPI: impacket (the lab's server), python-libnmap and junitparser (tests/report_nmap_xml.rs
# and tests/report_junit.rs read smb1scan's nmap XML and JUnit reports back with them), and
# python-evtx (tests/clients_audit.rs counts the records of the real .evtx fixture with it).
PIP_PACKAGES=(impacket python-libnmap junitparser python-evtx)

have_pip_packages() {
    have_impacket && "$(python_bin)" -c 'import libnmap, junitparser, Evtx.Evtx' >/dev/null 2>&1
}

# Where pip put impacket's smbserver.py (pyenv, a venv and Debian's pip all differ).
smbserver_script() {
    local py dir
    py="$(python_bin)" || return 0
    dir="$("$py" -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true)"
    for cand in "$dir/smbserver.py" "$(dirname "$py")/smbserver.py" /usr/local/bin/smbserver.py; do
        if [ -f "$cand" ]; then
            echo "$cand"
            return 0
        fi
    done
    # A pyenv shim or other launcher on PATH.
    command -v smbserver.py 2>/dev/null || true
}

apt_install() {
    [ "$(id -u)" = 0 ] || die "need root to install: $*"
    export DEBIAN_FRONTEND=noninteractive
    # Block the packages' own service start (smbd/nmbd on 0.0.0.0) while installing.
    local made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    # tshark: do not ask about non-root capture.
    echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections || true
    local rc=0
    { apt-get update -q && apt-get install -y -q --no-install-recommends "$@"; } || rc=$?
    if [ "$made_policy" = 1 ]; then
        rm -f /usr/sbin/policy-rc.d
    fi
    [ "$rc" = 0 ] || die "apt-get install $* failed"
}

pkg_installed() { # package
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Installs what the lab needs that is missing, plus any extra Debian packages named (.ci/run
# passes the ones other test suites need), then the PyPI packages (PIP_PACKAGES).
cmd_install() {
    local pkgs=() p
    smbd_bin >/dev/null || pkgs+=(samba)
    command -v nmap >/dev/null 2>&1 || pkgs+=(nmap)
    command -v tshark >/dev/null 2>&1 || pkgs+=(tshark)
    command -v python3 >/dev/null 2>&1 || pkgs+=(python3 python3-pip python3-venv)
    for p in "$@"; do
        pkg_installed "$p" || pkgs+=("$p")
    done
    if [ "${#pkgs[@]}" -gt 0 ]; then
        log "installing ${pkgs[*]}"
        apt_install "${pkgs[@]}"
    fi
    if ! have_pip_packages; then
        log "installing ${PIP_PACKAGES[*]} (pip)"
        mkdir -p "$LAB_DIR"
        # pyenv / a pip that may install: straight in. An externally managed Debian python
        # (PEP 668) refuses: then a venv under the lab dir (reused once made).
        if [ -x "$LAB_DIR/venv/bin/python3" ]; then
            "$LAB_DIR/venv/bin/python3" -m pip install -q "${PIP_PACKAGES[@]}"
        elif ! python3 -m pip install -q "${PIP_PACKAGES[@]}" 2>"$LAB_DIR/pip.log"; then
            log "pip install refused ($(tail -n 1 "$LAB_DIR/pip.log" 2>/dev/null)); using a venv"
            python3 -m venv "$LAB_DIR/venv" 2>/dev/null || {
                apt_install python3-venv python3-pip
                python3 -m venv "$LAB_DIR/venv"
            }
            "$LAB_DIR/venv/bin/python3" -m pip install -q "${PIP_PACKAGES[@]}"
        fi
        have_impacket || die "impacket installed but smbserver.py not found"
        have_pip_packages || die "python-libnmap / junitparser / python-evtx installed but not importable"
    fi
}

port_open() { # addr port
    timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

pid_alive() { # pidfile
    local pid
    [ -f "$1" ] || return 1
    pid="$(cat "$1" 2>/dev/null)"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# Samba writes smbd.pid, or smbd-<conf name>.pid for a non-default config file.
samba_pidfile() { # dir
    local f
    for f in "$1"/run/smbd*.pid; do
        if [ -f "$f" ]; then
            echo "$f"
            return 0
        fi
    done
    echo "$1/run/smbd.pid"
}

write_samba_conf() { # dir addr minproto signing name
    local d="$1" addr="$2" minproto="$3" signing="$4" name="$5"
    mkdir -p "$d"/{lock,state,cache,private,run,log,share,bind-dns}
    chmod 755 "$d/share"
    echo "smb1scan lab file" >"$d/share/README.txt"
    # NetBIOS names are at most 15 characters.
    local nb
    nb="LAB$(echo "$addr" | tr -d .)"
    cat >"$d/smb.conf" <<EOF
# smb1scan lab: $name on $addr:$PORT (written by scripts/lab.sh)
[global]
    netbios name = $nb
    workgroup = SMB1SCANLAB
    server string = smb1scan lab $name
    server role = standalone server
    interfaces = $addr/8
    bind interfaces only = yes
    smb ports = $PORT
    disable netbios = yes
    server min protocol = $minproto
    server signing = $signing
    # Anonymous / guest access so a null session reaches IPC\$ (the MS17-010 check needs it).
    map to guest = bad user
    guest account = nobody
    restrict anonymous = 0
    # Every path under the lab dir: several instances side by side, nothing in /var.
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
    log level = 1
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
}

# A lab-only account for the credentialed-scan tests (tests/lab.rs): NTLMv2 login instead of
# anonymous. Its password is public on purpose; nothing but the loopback lab knows this user.
LAB_USER=smb1scanlab
LAB_PASSWORD='Lab-Only-Passw0rd'
add_lab_user() { # dir
    local d="$1"
    id "$LAB_USER" >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin "$LAB_USER" 2>/dev/null ||
        { log "cannot create unix user $LAB_USER (not root?): credential tests will fail"; return 0; }
    printf '%s\n%s\n' "$LAB_PASSWORD" "$LAB_PASSWORD" |
        smbpasswd -c "$d/smb.conf" -s -a "$LAB_USER" >/dev/null 2>&1 ||
        log "smbpasswd failed for $LAB_USER in $d"
}

start_samba() { # name addr desc minproto signing
    local name="$1" addr="$2" minproto="$4" signing="$5"
    local d="$LAB_DIR/$name" pidf smbd
    smbd="$(smbd_bin)" || die "smbd not installed (run as root: scripts/lab.sh install)"
    pidf="$(samba_pidfile "$d")"
    if pid_alive "$pidf"; then
        log "$name already running (pid $(cat "$pidf"))"
        return 0
    fi
    if port_open "$addr" "$PORT"; then
        die "$addr:$PORT is already taken by a process this lab did not start"
    fi
    rm -f "$d"/run/smbd*.pid
    write_samba_conf "$d" "$addr" "$minproto" "$signing" "$name"
    add_lab_user "$d"
    log "starting $name on $addr:$PORT"
    "$smbd" -D -s "$d/smb.conf" </dev/null >>"$d/log/start.log" 2>&1 ||
        die "smbd for $name failed to start, see $d/log/"
}

start_impacket() {
    local d="$LAB_DIR/$IMPACKET_NAME" py script
    mkdir -p "$d/share" "$d/log"
    if pid_alive "$d/pid"; then
        log "$IMPACKET_NAME already running (pid $(cat "$d/pid"))"
        return 0
    fi
    if port_open "$IMPACKET_ADDR" "$PORT"; then
        die "$IMPACKET_ADDR:$PORT is already taken by a process this lab did not start"
    fi
    have_impacket || die "impacket not installed (run as root: scripts/lab.sh install)"
    py="$(python_bin)"
    script="$(smbserver_script)"
    echo "smb1scan lab file" >"$d/share/README.txt"
    log "starting $IMPACKET_NAME on $IMPACKET_ADDR:$PORT ($script)"
    # A real python script runs under the interpreter that has impacket; a launcher (pyenv shim)
    # runs as is (it execs, so $! stays the server's pid).
    local launcher=("$script")
    if head -n 1 "$script" | grep -q python && ! grep -q 'pyenv.*exec' "$script"; then
        launcher=("$py" "$script")
    fi
    "${launcher[@]}" -ip "$IMPACKET_ADDR" -port "$PORT" -smb2support LAB "$d/share" \
        </dev/null >>"$d/log/smbserver.log" 2>&1 &
    echo $! >"$d/pid"
}

wait_port() { # name addr pidfile-fn
    local name="$1" addr="$2" i=0
    while [ "$i" -lt $((WAIT_SECS * 4)) ]; do
        if port_open "$addr" "$PORT"; then
            return 0
        fi
        sleep 0.25
        i=$((i + 1))
    done
    die "$name did not accept connections on $addr:$PORT within ${WAIT_SECS}s (logs: $LAB_DIR/$name/log/)"
}

table() {
    printf 'lab dir %s; %s\n' "$LAB_DIR" "$("$(smbd_bin)" --version 2>/dev/null || echo 'smbd not installed')"
    printf '%-16s %-16s %-8s %-6s %s\n' ADDRESS NAME PID STATE SERVER
    local entry name addr desc pidf pid state
    for entry in "${SAMBA_SERVERS[@]}"; do
        IFS='|' read -r name addr desc _ _ <<<"$entry"
        pidf="$(samba_pidfile "$LAB_DIR/$name")"
        pid="-"
        pid_alive "$pidf" && pid="$(cat "$pidf")"
        state=down
        port_open "$addr" "$PORT" && state=up
        printf '%-16s %-16s %-8s %-6s %s\n' "$addr:$PORT" "$name" "$pid" "$state" "$desc"
    done
    pid="-"
    pid_alive "$LAB_DIR/$IMPACKET_NAME/pid" && pid="$(cat "$LAB_DIR/$IMPACKET_NAME/pid")"
    state=down
    port_open "$IMPACKET_ADDR" "$PORT" && state=up
    printf '%-16s %-16s %-8s %-6s %s\n' "$IMPACKET_ADDR:$PORT" "$IMPACKET_NAME" "$pid" "$state" \
        "impacket $(impacket_version) smbserver.py -smb2support"
}

impacket_version() {
    "$(python_bin)" -c 'import importlib.metadata as m; print(m.version("impacket"))' 2>/dev/null || echo '?'
}

cmd_up() {
    mkdir -p "$LAB_DIR"
    cmd_install
    local entry name addr desc minproto signing
    for entry in "${SAMBA_SERVERS[@]}"; do
        IFS='|' read -r name addr desc minproto signing <<<"$entry"
        start_samba "$name" "$addr" "$desc" "$minproto" "$signing"
    done
    start_impacket
    for entry in "${SAMBA_SERVERS[@]}"; do
        IFS='|' read -r name addr _ _ _ <<<"$entry"
        wait_port "$name" "$addr"
    done
    wait_port "$IMPACKET_NAME" "$IMPACKET_ADDR"
    table
}

# Every descendant of a pid (smbd forks a child per connection and may spawn samba-dcerpcd).
descendants() { # pid
    local kids k
    kids="$(ps -o pid= --ppid "$1" 2>/dev/null || true)"
    for k in $kids; do
        echo "$k"
        descendants "$k"
    done
}

stop_pid() { # name pidfile
    local name="$1" pidf="$2" pid kids i
    if ! pid_alive "$pidf"; then
        rm -f "$pidf"
        return 0
    fi
    pid="$(cat "$pidf")"
    kids="$(descendants "$pid")"
    log "stopping $name (pid $pid${kids:+, children $(echo $kids)})"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    # Children the parent did not take down with it (recorded before the parent went).
    for k in $kids; do
        kill -0 "$k" 2>/dev/null && kill -TERM "$k" 2>/dev/null || true
    done
    sleep 0.2
    for k in $kids; do
        kill -0 "$k" 2>/dev/null && kill -KILL "$k" 2>/dev/null || true
    done
    rm -f "$pidf"
}

cmd_down() {
    local entry name
    for entry in "${SAMBA_SERVERS[@]}"; do
        IFS='|' read -r name _ _ _ _ <<<"$entry"
        stop_pid "$name" "$(samba_pidfile "$LAB_DIR/$name")"
        # smbd starts samba-dcerpcd on demand (first RPC over IPC$); it detaches from smbd but
        # writes its pid file into this instance's pid directory.
        local f
        for f in "$LAB_DIR/$name"/run/*.pid; do
            [ -f "$f" ] && stop_pid "$name/$(basename "$f" .pid)" "$f"
        done
    done
    stop_pid "$IMPACKET_NAME" "$LAB_DIR/$IMPACKET_NAME/pid"
}

cmd_status() {
    table
    local entry addr bad=0
    for entry in "${SAMBA_SERVERS[@]}"; do
        IFS='|' read -r _ addr _ _ _ <<<"$entry"
        port_open "$addr" "$PORT" || bad=1
    done
    port_open "$IMPACKET_ADDR" "$PORT" || bad=1
    return "$bad"
}

case "${1:-}" in
install)
    shift
    cmd_install "$@"
    ;;
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
*)
    echo "usage: $0 install [PKG...]|up|down|status   (state in \$SMB1SCAN_LAB_DIR, default /tmp/smb1scan-lab)" >&2
    exit 2
    ;;
esac
