//! `smb1scan scan --discovery syn` end to end (issue 13), inside a network namespace this test
//! creates: the binary runs under `ip netns exec`, so its raw sockets and connects can reach
//! nothing but the namespace. In it: the simulated hosts of the responder crate on the
//! namespace's own 127.0.0.10-21:445 (open), the rest of 127.0.0.8-31 (the namespace kernel's
//! RSTs: closed), a route into a veth pair whose far end drops everything (198.18.91.0/29:
//! filtered) and a prefix with no route (198.18.92.0/30: the kernel refuses the SYN or the
//! connect: unreachable).
//!
//! Checked: SYN and connect discovery give the same status and verdicts for every target (hence
//! the same closed set); `--open` writes only the answering targets while the summary counts all;
//! without CAP_NET_RAW the run stops with one line and exit 2, and sends nothing.
//!
//! Needs root and `ip`. Without them it prints `SKIPPED: ...` and passes, unless `CI` is set.

mod common;

use common::{field, is_root, run_ok, tool_runs};

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn prerequisites() -> bool {
    common::netns_prerequisites(&[])
}

/// Targets of every scan here.
const TARGETS: [&str; 3] = ["127.0.0.8-31", "198.18.91.0/29", "198.18.92.0/30"];
/// The responder's hosts: its personas, one address each from this one on.
const RESPONDER_BASE: [u8; 4] = [127, 0, 0, 10];
/// How many personas the responder plays (127.0.0.10-19).
const PERSONAS: usize = 10;

/// The namespace (see the module doc). Deleted, with everything still running in it, on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn create(tag: &str) -> Netns {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("smb1scan-synscan-{tag}-{}-{nanos}", std::process::id());
        run_ok("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        // No IPv6 on the veth pair: its router and neighbour solicitations would move the packet
        // counter that proves nothing was sent.
        for key in [
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ] {
            run_ok("ip", &["netns", "exec", &ns.name, "sysctl", "-qw", key]);
        }
        for cmd in [
            "link set lo up",
            "link add syn0 type veth peer name syn1",
            "link set syn0 up",
            "link set syn1 up",
            "addr add 198.19.0.1/32 dev syn0",
            "neigh add 198.19.0.2 lladdr 02:00:00:00:00:02 dev syn0 nud permanent",
            "route add 198.18.91.0/24 via 198.19.0.2 dev syn0 onlink",
        ] {
            let mut args = vec!["-n", ns.name.as_str()];
            args.extend(cmd.split(' '));
            run_ok("ip", &args);
        }
        // Isolation: no route may lead anywhere but lo and the veth pair (both ends are here).
        let routes = run_ok(
            "ip",
            &["-n", &ns.name, "-4", "route", "show", "table", "all"],
        );
        for r in String::from_utf8_lossy(&routes.stdout).lines() {
            assert!(
                (r.contains(" dev lo") || r.contains(" dev syn0") || r.contains(" dev syn1"))
                    && !r.starts_with("default"),
                "namespace has a route off lo/syn0/syn1: {r}"
            );
        }
        ns
    }

    /// Starts the responder's simulated hosts in a thread that joined the namespace; they serve
    /// until the returned sender is dropped.
    fn start_responder(&self) -> std::sync::mpsc::Sender<()> {
        let path = format!("/run/netns/{}", self.name);
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
                let net = smb1scan_responder::start_network(RESPONDER_BASE.into(), 445).await;
                let hosts = net
                    .as_ref()
                    .map(|n| n.hosts.len())
                    .map_err(|e| e.to_string());
                let _ = ready_tx.send(hosts);
                // Serve until the test drops the sender.
                let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
                if let Ok(n) = net {
                    n.shutdown().await;
                }
            });
        });
        let hosts = ready_rx
            .recv()
            .expect("responder thread")
            .unwrap_or_else(|e| panic!("responder: {e}"));
        assert_eq!(hosts, PERSONAS, "responder personas");
        stop_tx
    }

    /// `smb1scan scan` inside the namespace.
    fn scan(&self, args: &[&str]) -> Output {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, common::bin()])
            .args(["scan", "--no-config", "--no-summary"])
            .args(args)
            .env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
            .env("NO_COLOR", "1");
        c.output().expect("run smb1scan")
    }

    /// Packets the veth end has sent (every SYN or connect to the silent prefix leaves there).
    fn veth_tx_packets(&self) -> u64 {
        let o = run_ok(
            "ip",
            &[
                "netns",
                "exec",
                &self.name,
                "cat",
                "/sys/class/net/syn0/statistics/tx_packets",
            ],
        );
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse()
            .expect("tx_packets")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// The host records of a JSON Lines file (its metadata lines, `{"kind":"meta",...}`, left out).
fn jsonl(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .filter(|l| !l.starts_with("{\"kind\""))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l}: {e}")))
        .collect()
}

/// (ip, port) -> the fields both modes must agree on.
fn verdicts(records: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut m = BTreeMap::new();
    for r in records {
        let key = format!("{}:{}", field(r, "/ip"), field(r, "/port"));
        let v = [
            "/status",
            "/ms17_010/verdict",
            "/ms17_010/reason",
            "/doublepulsar/verdict",
            "/doublepulsar/reason",
            "/smb1/enabled",
            "/smb2/enabled",
            "/risk",
        ]
        .iter()
        .map(|p| field(r, p))
        .collect();
        assert!(m.insert(key.clone(), v).is_none(), "{key} written twice");
    }
    m
}

fn with_status(m: &BTreeMap<String, Vec<String>>, status: &str) -> BTreeSet<String> {
    m.iter()
        .filter(|(_, v)| v.first().is_some_and(|s| s == status))
        .map(|(k, _)| k.clone())
        .collect()
}

const FAST: [&str; 8] = [
    "--rate",
    "0",
    "--connect-timeout",
    "700ms",
    "--retries",
    "0",
    "--host-timeout",
    "20s",
];

#[test]
fn syn_discovery_gives_the_verdicts_and_closed_set_of_connect_discovery() {
    if !prerequisites() {
        return;
    }
    let ns = Netns::create("same");
    let _responder = ns.start_responder();
    let dir = common::scratch_dir("synscan-same");
    let mut by_mode = BTreeMap::new();
    for mode in ["connect", "syn"] {
        let out = dir.join(format!("{mode}.jsonl"));
        let mut args = vec!["--discovery", mode, "-o", out.to_str().expect("utf-8 path")];
        args.extend(FAST);
        args.extend(TARGETS);
        let o = ns.scan(&args);
        assert!(
            o.status.code() == Some(3) || o.status.code() == Some(0),
            "{mode}: exit {:?}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        let recs = jsonl(&out);
        // 24 loopback + 8 silent + 4 unroutable addresses, port 445.
        assert_eq!(recs.len(), 36, "{mode}: one record per target");
        if mode == "syn" {
            // The SYN path decided the ports that did not open: no connect step on them.
            for r in recs.iter().filter(|r| field(r, "/status") != "open") {
                assert_eq!(field(r, "/steps/0/name"), "syn", "{r}");
            }
        }
        by_mode.insert(mode, verdicts(&recs));
    }
    let (conn, syn) = (&by_mode["connect"], &by_mode["syn"]);
    assert_eq!(with_status(conn, "open").len(), PERSONAS, "{conn:#?}");
    assert_eq!(
        with_status(conn, "closed").len(),
        24 - PERSONAS,
        "{conn:#?}"
    );
    assert_eq!(with_status(conn, "filtered").len(), 8, "{conn:#?}");
    assert_eq!(with_status(conn, "unreachable").len(), 4, "{conn:#?}");
    assert_eq!(
        with_status(syn, "closed"),
        with_status(conn, "closed"),
        "closed sets differ"
    );
    for (k, v) in conn {
        assert_eq!(
            syn.get(k),
            Some(v),
            "{k}: syn {:?} vs connect {v:?}",
            syn.get(k)
        );
    }
    assert_eq!(syn.len(), conn.len());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn open_writes_only_answering_targets_and_the_summary_counts_all() {
    if !prerequisites() {
        return;
    }
    let ns = Netns::create("open");
    let _responder = ns.start_responder();
    let dir = common::scratch_dir("synscan-open");
    for mode in ["syn", "connect"] {
        let (jl, js, csv) = (
            dir.join(format!("{mode}.jsonl")),
            dir.join(format!("{mode}.json")),
            dir.join(format!("{mode}.csv")),
        );
        let mut args = vec!["--discovery", mode, "--open"];
        for p in [&jl, &js, &csv] {
            args.extend(["-o", p.to_str().expect("utf-8 path")]);
        }
        args.extend(FAST);
        args.extend(TARGETS);
        let o = ns.scan(&args);
        assert!(
            matches!(o.status.code(), Some(0) | Some(3)),
            "{mode}: exit {:?}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        let recs = jsonl(&jl);
        let ips: BTreeSet<String> = recs.iter().map(|r| field(r, "/ip")).collect();
        let expected: BTreeSet<String> = (10..10 + PERSONAS)
            .map(|l| format!("127.0.0.{l}"))
            .collect();
        assert_eq!(ips, expected, "{mode}: --open JSON Lines");
        assert!(recs.iter().all(|r| field(r, "/status") == "open"));
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&js).expect("json"))
            .expect("json parses");
        let hosts = doc["hosts"].as_array().expect("hosts array");
        assert_eq!(hosts.len(), PERSONAS, "{mode}: --open JSON document");
        // The summary still counts every target, written or not.
        assert_eq!(
            doc["meta"]["counts"]["hosts"], 36,
            "{mode}: {}",
            doc["meta"]
        );
        assert_eq!(doc["meta"]["counts"]["open"], PERSONAS, "{mode}");
        let rows = common::csv_rows(&csv);
        assert_eq!(rows.len(), 1 + PERSONAS, "{mode}: CSV header + open hosts");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_cap_net_raw_syn_mode_stops_with_one_line_and_sends_nothing() {
    if !prerequisites() {
        return;
    }
    if !tool_runs("capsh", "--print") {
        common::skip_or_fail("`capsh` (libcap2-bin) not found");
        return;
    }
    let ns = Netns::create("cap");
    let dir = common::scratch_dir("synscan-cap");
    let out = dir.join("never.jsonl");
    let before = ns.veth_tx_packets();
    let scan = format!(
        "{} scan --no-config --discovery syn --rate 0 -o {} 198.18.91.0/29",
        common::bin(),
        out.display()
    );
    // Root without CAP_NET_RAW (dropped from the bounding set too, so nothing regains it).
    let o = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "capsh",
            "--drop=cap_net_raw",
            "--",
        ])
        .args(["-c", &scan])
        .env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
        .output()
        .expect("capsh");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "exit code; stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].contains("CAP_NET_RAW"), "{stderr}");
    assert!(lines[0].contains("setcap cap_net_raw+ep"), "{stderr}");
    assert!(!out.exists(), "an output file was created before the check");
    assert_eq!(
        ns.veth_tx_packets(),
        before,
        "a packet left for the targets"
    );
    // The same command with the capability does send (the counter above can see it).
    let o = ns.scan(&[
        "--discovery",
        "syn",
        "--rate",
        "0",
        "--connect-timeout",
        "200ms",
        "--retries",
        "0",
        "-o",
        out.to_str().expect("utf-8 path"),
        "198.18.91.0/29",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        ns.veth_tx_packets() >= before + 8,
        "the SYNs were not counted"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn ips_ports(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| format!("{}:{}", field(r, "/ip"), field(r, "/port")))
        .collect()
}

#[test]
fn syn_mode_keeps_shards_and_resume() {
    if !prerequisites() {
        return;
    }
    let ns = Netns::create("shard");
    let _responder = ns.start_responder();
    let dir = common::scratch_dir("synscan-shard");
    let path = |name: &str| dir.join(name).to_str().expect("utf-8 path").to_string();
    let scan = |out: &str, extra: &[&str]| {
        let mut args = vec!["--discovery", "syn", "--seed", "7", "-o", out];
        args.extend(extra);
        args.extend(FAST);
        args.extend(TARGETS);
        let o = ns.scan(&args);
        assert!(
            matches!(o.status.code(), Some(0) | Some(3)),
            "{extra:?}: exit {:?}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
    };
    // Shards: disjoint, and together every target once.
    let (s1, s2) = (path("s1.jsonl"), path("s2.jsonl"));
    scan(&s1, &["--shard", "1/2"]);
    scan(&s2, &["--shard", "2/2"]);
    let a = ips_ports(&jsonl(Path::new(&s1)));
    let b = ips_ports(&jsonl(Path::new(&s2)));
    assert_eq!(a.len(), 18, "{a:?}");
    assert_eq!(b.len(), 18, "{b:?}");
    let union: BTreeSet<String> = a.iter().chain(b.iter()).cloned().collect();
    assert_eq!(union.len(), 36, "shards overlap");

    // Resume: a file holding the first 10 records of a full run gets the other 26, once each.
    let full = path("full.jsonl");
    scan(&full, &[]);
    let lines: Vec<String> = std::fs::read_to_string(&full)
        .expect("full run")
        .lines()
        .filter(|l| !l.starts_with("{\"kind\""))
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 36);
    let part = path("part.jsonl");
    std::fs::write(&part, lines[..10].join("\n") + "\n").expect("write partial file");
    let mut args = vec![
        "--discovery",
        "syn",
        "--seed",
        "7",
        "--resume",
        part.as_str(),
    ];
    args.extend(FAST);
    args.extend(TARGETS);
    let o = ns.scan(&args);
    assert!(
        matches!(o.status.code(), Some(0) | Some(3)),
        "resume: exit {:?}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let resumed = ips_ports(&jsonl(Path::new(&part)));
    assert_eq!(resumed.len(), 36, "{resumed:?}");
    let uniq: BTreeSet<&String> = resumed.iter().collect();
    assert_eq!(uniq.len(), 36, "a target was scanned twice on resume");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn syn_mode_stops_on_ctrl_c_and_says_how_to_resume() {
    if !prerequisites() {
        return;
    }
    let ns = Netns::create("intr");
    let dir = common::scratch_dir("synscan-intr");
    let out = dir.join("big.jsonl");
    // A /17 of silence at 10,000 SYNs/s: about 3.3 s of sending; SIGINT after 1 s.
    run_ok(
        "ip",
        &[
            "-n",
            &ns.name,
            "route",
            "add",
            "198.18.128.0/17",
            "via",
            "198.19.0.2",
            "dev",
            "syn0",
            "onlink",
        ],
    );
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &ns.name, common::bin()])
        .args(["scan", "--no-config", "--no-summary", "--discovery", "syn"])
        .args([
            "--rate",
            "10000",
            "--connect-timeout",
            "1s",
            "--retries",
            "0",
            "-o",
        ])
        .arg(&out)
        .arg("198.18.128.0/17")
        .env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = c.spawn().expect("spawn smb1scan");
    std::thread::sleep(std::time::Duration::from_millis(1000));
    // `ip netns exec` execs the program: the child's pid is smb1scan's.
    let pid = child.id().to_string();
    run_ok("kill", &["-INT", &pid]);
    let t0 = std::time::Instant::now();
    let o = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{stderr}");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(5),
        "took {:?} to stop",
        t0.elapsed()
    );
    assert!(stderr.contains("--resume"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ipv6_targets_fall_back_to_connect_discovery_with_a_note() {
    if !is_root() {
        common::skip_or_fail("needs root (raw sockets)");
        return;
    }
    // ::1 only: loopback, nothing listens on port 9. No IPv4 target, so no SYN is sent at all.
    let o = Command::new(common::bin())
        .args(["scan", "--no-config", "--no-summary", "--discovery", "syn"])
        .args(["-p", "9", "--connect-timeout", "500ms", "::1"])
        .env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
        .output()
        .expect("run smb1scan");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let notes: Vec<&str> = stderr.lines().filter(|l| l.contains("IPv6")).collect();
    assert_eq!(notes.len(), 1, "one note: {stderr}");
    assert!(notes[0].contains("connect discovery"), "{stderr}");
    let recs: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(recs.len(), 1);
    assert_eq!(field(&recs[0], "/status"), "closed");
    assert_eq!(
        field(&recs[0], "/steps/0/name"),
        "connect",
        "probed by a connect"
    );
}

/// A target without a route that comes first in the scan order must not pick (or fail) the
/// sweep's source address: it is `unreachable` like in connect mode, and the others are scanned.
#[test]
fn an_unroutable_first_target_does_not_fail_the_sweep() {
    if !prerequisites() {
        return;
    }
    let ns = Netns::create("noroute");
    for targets in [
        &["198.18.92.0/30", "127.0.0.5"][..],
        &["198.18.92.0/30"][..],
    ] {
        // The precondition: the scan order starts with an unroutable address.
        let mut args = vec!["--dry-run"];
        args.extend(targets);
        let dry = ns.scan(&args);
        let order = String::from_utf8_lossy(&dry.stdout).into_owned();
        assert!(order.starts_with("198.18.92."), "order: {order}");

        let mut args = vec!["--discovery", "syn"];
        args.extend(FAST);
        args.extend(["--format", "jsonl"]);
        args.extend(targets);
        let o = ns.scan(&args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{targets:?}: {stderr}");
        let recs: Vec<Value> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect();
        let m = verdicts(&recs);
        assert_eq!(with_status(&m, "unreachable").len(), 4, "{m:#?}");
        let closed = with_status(&m, "closed");
        let want: BTreeSet<String> = if targets.len() == 2 {
            ["127.0.0.5:445".to_string()].into()
        } else {
            BTreeSet::new()
        };
        assert_eq!(closed, want, "{m:#?}");
        assert_eq!(m.len(), 4 + want.len());
    }
}
