//! `smb1scan scan --discovery syn` picks the link-layer (`AF_PACKET`) sender by itself when the
//! targets sit behind a gateway whose MAC the neighbour table holds, as masscan does without
//! `--router-mac` (issue 13), and still gives the records of connect discovery.
//!
//! Two network namespaces this test creates, joined by a veth pair, nothing else:
//! - `scan` (where smb1scan runs): syn0 198.19.0.1, the route `198.18.91.0/24 via 198.19.0.2`
//!   and a permanent neighbour entry for 198.19.0.2 with syn1's MAC;
//! - `hosts`: syn1 198.19.0.2, 198.18.91.0/27 local (on its lo), simulated SMB hosts of the
//!   responder crate on 198.18.91.10-13:445 (open), nothing on the rest of the /27 (its kernel's
//!   RSTs: closed), and no forwarding, so 198.18.91.32-63 are dropped in silence (filtered).
//!
//! Proof that the SYNs left through the link layer: an nftables rule in `scan`'s OUTPUT hook drops
//! every SYN from the sweep's source ports (61001-65535). `AF_PACKET` frames never pass that
//! hook; an `IPPROTO_RAW` SYN would be refused there (its record `error`, the rule's counter
//! moved). With the rule in place the records must still match connect discovery and the counter
//! stay at 0. Then, with the neighbour entry STALE, and then gone (and the rule too), the scan
//! falls back to the IP-layer sender, says why, and gives the same records; and `--router-mac`
//! brings the link-layer sender back.
//!
//! Needs root, `ip` and `nft`. Without them it prints `SKIPPED: ...` and passes, unless `CI` is
//! set.

mod common;

use common::{field, run_ok};

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;

use serde_json::Value;

fn prerequisites() -> bool {
    common::netns_prerequisites(&[("nft", "--version")])
}

/// Every target: open .10-13, closed the rest of .0-30, filtered .31 (broadcast) and .32-63.
const TARGETS: &str = "198.18.91.0/26";
const OPEN: u8 = 4;

/// The two namespaces (see the module doc), deleted with all they hold on drop.
struct Pair {
    scan: String,
    hosts: String,
}

impl Pair {
    fn create() -> Pair {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tag = format!("{}-{nanos}", std::process::id());
        let p = Pair {
            scan: format!("smb1scan-synlink-s-{tag}"),
            hosts: format!("smb1scan-synlink-h-{tag}"),
        };
        for ns in [&p.scan, &p.hosts] {
            run_ok("ip", &["netns", "add", ns]);
            // No IPv6: nothing but the test's own IPv4 traffic on the veth pair.
            for key in [
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
                "net.ipv4.ip_forward=0",
            ] {
                run_ok("ip", &["netns", "exec", ns, "sysctl", "-qw", key]);
            }
        }
        p.ip(&p.scan, "link set lo up");
        p.ip(&p.scan, "link add syn0 type veth peer name syn1");
        p.ip(&p.scan, &format!("link set syn1 netns {}", p.hosts));
        p.ip(&p.scan, "link set syn0 up");
        p.ip(&p.scan, "addr add 198.19.0.1/32 dev syn0");
        p.ip(&p.hosts, "link set lo up");
        p.ip(&p.hosts, "link set syn1 up");
        p.ip(&p.hosts, "addr add 198.19.0.2/32 dev syn1");
        p.ip(&p.hosts, "addr add 198.18.91.0/27 dev lo");
        p.ip(&p.hosts, "route add 198.19.0.1/32 dev syn1");
        let mac = p.syn1_mac();
        p.ip(
            &p.scan,
            &format!("neigh add 198.19.0.2 lladdr {mac} dev syn0 nud permanent"),
        );
        p.ip(
            &p.scan,
            "route add 198.18.91.0/24 via 198.19.0.2 dev syn0 onlink",
        );
        // Isolation: no route may lead anywhere but lo and the veth pair.
        for ns in [&p.scan, &p.hosts] {
            let routes = run_ok("ip", &["-n", ns, "-4", "route", "show", "table", "all"]);
            for r in String::from_utf8_lossy(&routes.stdout).lines() {
                assert!(
                    (r.contains(" dev lo") || r.contains(" dev syn0") || r.contains(" dev syn1"))
                        && !r.starts_with("default"),
                    "namespace {ns} has a route off lo/syn0/syn1: {r}"
                );
            }
        }
        p
    }

    fn ip(&self, ns: &str, cmd: &str) {
        let mut args = vec!["-n", ns];
        args.extend(cmd.split(' '));
        run_ok("ip", &args);
    }

    fn syn1_mac(&self) -> String {
        let o = run_ok(
            "ip",
            &[
                "netns",
                "exec",
                &self.hosts,
                "cat",
                "/sys/class/net/syn1/address",
            ],
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    fn nft(&self, script: &str) -> String {
        let o = run_ok("ip", &["netns", "exec", &self.scan, "nft", script]);
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The simulated SMB hosts in `hosts`, served until the returned sender is dropped.
    fn start_hosts(&self) -> std::sync::mpsc::Sender<()> {
        let path = format!("/run/netns/{}", self.hosts);
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let fd = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNET)
                .unwrap_or_else(|e| panic!("setns {path}: {e}"));
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let mut tasks = tokio::task::JoinSet::new();
                let mut bound = Ok(0usize);
                for (i, p) in smb1scan_responder::personas()
                    .iter()
                    .take(usize::from(OPEN))
                    .enumerate()
                {
                    let last = 10u8.saturating_add(u8::try_from(i).unwrap_or(u8::MAX));
                    let addr = SocketAddr::from((Ipv4Addr::new(198, 18, 91, last), 445));
                    match tokio::net::TcpListener::bind(addr).await {
                        Ok(l) => {
                            tasks.spawn(smb1scan_responder::serve(l, p));
                            bound = bound.map(|n| n + 1);
                        }
                        Err(e) => bound = Err(format!("{addr}: {e}")),
                    }
                }
                let _ = ready_tx.send(bound);
                let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
                tasks.shutdown().await;
            });
        });
        let n = ready_rx
            .recv()
            .expect("hosts thread")
            .unwrap_or_else(|e| panic!("binding the simulated hosts: {e}"));
        assert_eq!(n, usize::from(OPEN));
        stop_tx
    }

    /// `smb1scan -v scan` in `scan`: the records and standard error.
    fn scan(&self, mode: &str, out: &std::path::Path, extra: &[&str]) -> (Vec<Value>, String) {
        let o = Command::new("ip")
            .args(["netns", "exec", &self.scan, common::bin()])
            .args([
                "-v",
                "scan",
                "--no-config",
                "--no-summary",
                "--discovery",
                mode,
            ])
            .args([
                "--rate",
                "0",
                "--connect-timeout",
                "700ms",
                "--retries",
                "0",
            ])
            .args(["--host-timeout", "20s"])
            .args(extra)
            .arg("-o")
            .arg(out)
            .arg(TARGETS)
            .env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .output()
            .expect("run smb1scan");
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(
            matches!(o.status.code(), Some(0) | Some(3)),
            "{mode}: exit {:?}: {stderr}",
            o.status
        );
        let text = std::fs::read_to_string(out).unwrap_or_else(|e| panic!("{out:?}: {e}"));
        let recs = text
            .lines()
            // The run's metadata lines (its scope) are not records.
            .filter(|l| !l.starts_with("{\"kind\""))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l}: {e}")))
            .collect();
        (recs, stderr)
    }

    fn syn1_rx_packets(&self) -> u64 {
        let o = run_ok(
            "ip",
            &[
                "netns",
                "exec",
                &self.hosts,
                "cat",
                "/sys/class/net/syn1/statistics/rx_packets",
            ],
        );
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse()
            .expect("rx_packets")
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for ns in [&self.scan, &self.hosts] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// ip -> the fields every mode must agree on.
fn verdicts(records: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut m = BTreeMap::new();
    for r in records {
        let v = [
            "/status",
            "/ms17_010/verdict",
            "/ms17_010/reason",
            "/smb1/enabled",
            "/risk",
        ]
        .iter()
        .map(|p| field(r, p))
        .collect();
        assert!(m.insert(field(r, "/ip"), v).is_none(), "{r} written twice");
    }
    m
}

fn count(m: &BTreeMap<String, Vec<String>>, status: &str) -> usize {
    m.values()
        .filter(|v| v.first().is_some_and(|s| s == status))
        .count()
}

#[test]
fn a_gateway_with_a_neighbour_entry_gets_the_link_layer_sender_and_the_same_records() {
    if !prerequisites() {
        return;
    }
    let pair = Pair::create();
    let _hosts = pair.start_hosts();
    let dir = common::scratch_dir("synlink");

    let (conn, _) = pair.scan("connect", &dir.join("connect.jsonl"), &[]);
    let conn = verdicts(&conn);
    assert_eq!(conn.len(), 64, "{conn:#?}");
    assert_eq!(count(&conn, "open"), usize::from(OPEN), "{conn:#?}");
    // .31, the /27's broadcast address, takes no TCP: filtered, like .32-63.
    assert_eq!(count(&conn, "closed"), 31 - usize::from(OPEN), "{conn:#?}");
    assert_eq!(count(&conn, "filtered"), 33, "{conn:#?}");

    // Any SYN from the sweep's ports that goes through the IP layer is refused here.
    pair.nft("add table inet synlink");
    pair.nft("add chain inet synlink out { type filter hook output priority 0 ; }");
    pair.nft(
        "add rule inet synlink out tcp sport 61001-65535 tcp flags & (syn|ack) == syn counter drop",
    );
    let rx_before = pair.syn1_rx_packets();
    let (recs, stderr) = pair.scan("syn", &dir.join("syn-link.jsonl"), &[]);
    assert!(
        stderr.contains("SYN sender: link layer (AF_PACKET) on syn0")
            && stderr.contains("(gateway 198.19.0.2)"),
        "the link-layer sender was not chosen: {stderr}"
    );
    let ruleset = pair.nft("list table inet synlink");
    assert!(
        ruleset.contains("counter packets 0 bytes 0"),
        "a sweep SYN went through the IP layer's OUTPUT hook: {ruleset}"
    );
    // Every target got its SYN on the wire (plus the full probes of the open ones).
    assert!(
        pair.syn1_rx_packets() >= rx_before + 64,
        "fewer than 64 frames reached the hosts"
    );
    let syn = verdicts(&recs);
    assert_eq!(syn, conn, "link-layer SYN records differ from connect's");
    for r in recs.iter().filter(|r| field(r, "/status") != "open") {
        assert_eq!(field(r, "/steps/0/name"), "syn", "{r}");
    }

    // A STALE entry (its MAC unconfirmed, maybe an old gateway's): the IP-layer sender.
    pair.nft("delete table inet synlink");
    let mac = pair.syn1_mac();
    pair.ip(
        &pair.scan,
        &format!("neigh replace 198.19.0.2 lladdr {mac} dev syn0 nud stale"),
    );
    let (recs, stderr) = pair.scan("syn", &dir.join("syn-stale.jsonl"), &[]);
    assert!(
        stderr.contains(
            "SYN sender: IP layer (IPPROTO_RAW): the neighbour entry of gateway 198.19.0.2 on syn0 \
             is STALE (not confirmed)"
        ),
        "no fallback on a stale entry: {stderr}"
    );
    assert_eq!(
        verdicts(&recs),
        conn,
        "stale-entry SYN records differ from connect's"
    );

    // Without the gateway's neighbour entry: the IP-layer sender, with its reason.
    pair.ip(&pair.scan, "neigh del 198.19.0.2 dev syn0");
    let (recs, stderr) = pair.scan("syn", &dir.join("syn-ip.jsonl"), &[]);
    assert!(
        stderr.contains(
            "SYN sender: IP layer (IPPROTO_RAW): gateway 198.19.0.2 has no neighbour entry on syn0"
        ),
        "no fallback to the IP layer: {stderr}"
    );
    assert_eq!(
        verdicts(&recs),
        conn,
        "IP-layer SYN records differ from connect's"
    );

    // --router-mac stands in for the missing entry (the interface still comes from the route).
    let (recs, stderr) = pair.scan("syn", &dir.join("syn-mac.jsonl"), &["--router-mac", &mac]);
    assert!(
        stderr.contains(&format!(
            "SYN sender: link layer (AF_PACKET) on syn0 to {mac} (gateway 198.19.0.2)"
        )),
        "--router-mac was not used: {stderr}"
    );
    assert_eq!(
        verdicts(&recs),
        conn,
        "--router-mac SYN records differ from connect's"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
