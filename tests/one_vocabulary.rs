//! One vocabulary across outputs (issue 16). A scan of the simulated Windows hosts plus closed,
//! silent and unreachable addresses plus a name that does not resolve, inside a network
//! namespace of the test's own (so the resolver query and the silent SYNs stay in it):
//!
//! - the summary's counts (JSON metadata and terminal summary) are rebuilt by a pivot of the CSV
//!   on its columns;
//! - a port that never answered reads MS17-010 `not-tested` with a reason that says why
//!   (`connection-refused`, `connect-timeout`, `unreachable`, `unresolved`), never the
//!   `unknown` of a host that answered and could not be decided;
//! - the unresolved name shows its name and an empty address in the CSV, the terminal tables
//!   and JUnit (`ip` null in JSON);
//! - the CSV rows follow target order (addresses ascending, then port; the name last);
//! - a schema 1 file (closed port `unknown`, unresolved `0.0.0.0`) is read by `report` into the
//!   same vocabulary.
//!
//! The namespace: lo (the simulated hosts on 127.0.10.1-10:445, nothing on 127.0.11.x), a
//! veth pair that swallows 198.18.78.0/24 (silent), an `unreachable` route for
//! 198.18.79.0/24, and a resolv.conf naming 127.0.0.1, where nothing answers.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Output};

use serde_json::Value;

use common::{bin, is_root, run_ok, scratch_dir, skip_or_fail};

const NAME: &str = "pacs-ward9.invalid";
const RESPONDER_BASE: [u8; 4] = [127, 0, 10, 1];

struct Ns {
    name: String,
}

impl Ns {
    fn new() -> Ns {
        let name = format!("smb1scan-vocab-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).status();
        run_ok("ip", &["netns", "add", &name]);
        let ns = Ns { name };
        let etc = format!("/etc/netns/{}", ns.name);
        std::fs::create_dir_all(&etc).expect("mkdir /etc/netns/<ns>");
        std::fs::write(
            format!("{etc}/resolv.conf"),
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
        )
        .expect("resolv.conf");
        for cmd in [
            "link set lo up",
            // A veth pair whose far end is nobody: frames to a made-up MAC go unanswered.
            "link add vocab0 type veth peer name vocab1",
            "link set vocab0 up",
            "link set vocab1 up",
            "addr add 198.19.0.1/32 dev vocab0",
            "neigh add 198.19.0.2 lladdr 02:00:00:00:00:02 dev vocab0 nud permanent",
            "route add 198.18.78.0/24 via 198.19.0.2 dev vocab0 onlink",
            "route add unreachable 198.18.79.0/24",
        ] {
            let mut args = vec!["-n", ns.name.as_str()];
            args.extend(cmd.split(' '));
            run_ok("ip", &args);
        }
        ns
    }

    /// The simulated hosts, served from a thread that joined the namespace until the sender
    /// is dropped.
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
                let _ = ready_tx.send(
                    net.as_ref()
                        .map(|n| n.hosts.len())
                        .map_err(|e| e.to_string()),
                );
                let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
                if let Ok(n) = net {
                    n.shutdown().await;
                }
            });
        });
        let n = ready_rx
            .recv()
            .expect("responder thread")
            .unwrap_or_else(|e| panic!("responder: {e}"));
        assert_eq!(n, 10, "the demo's ten personas");
        stop_tx
    }

    fn smb1scan(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, bin()])
            .args(args)
            .env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
            .env("NO_COLOR", "1")
            .output()
            .expect("run smb1scan in the namespace")
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = std::fs::remove_dir_all(format!("/etc/netns/{}", self.name));
    }
}

/// The CSV as (header, rows of column -> cell).
fn csv_rows(p: &std::path::Path) -> Vec<BTreeMap<String, String>> {
    let mut rd = csv::Reader::from_path(p).expect("csv");
    let h = rd.headers().expect("header").clone();
    rd.records()
        .map(|r| {
            let r = r.expect("row");
            h.iter()
                .zip(r.iter())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The summary counts, rebuilt from the CSV by a pivot on its columns.
fn pivot(rows: &[BTreeMap<String, String>]) -> Value {
    let n = |col: &str, v: &str| rows.iter().filter(|r| r[col] == v).count();
    let mut risk = BTreeMap::new();
    for r in rows {
        *risk.entry(r["risk"].clone()).or_insert(0u64) += 1;
    }
    serde_json::json!({
        "hosts": rows.len(),
        "open": n("status", "open"),
        "smb1_on": n("smb1", "true"),
        "smb1_off": n("smb1", "false"),
        "vulnerable": n("ms17_010", "vulnerable"),
        "not_vulnerable": n("ms17_010", "not-vulnerable"),
        "unknown": n("ms17_010", "unknown"),
        "doublepulsar": n("doublepulsar", "present"),
        "unresolved": n("status", "unresolved"),
        "risk": risk,
    })
}

/// The target order of a row: address (none last), then port.
fn order(r: &BTreeMap<String, String>) -> (bool, Option<std::net::IpAddr>, u16) {
    let ip = r["ip"].parse().ok();
    (ip.is_none(), ip, r["port"].parse().unwrap_or(0))
}

#[test]
fn summary_counts_are_a_pivot_of_the_csv_and_silence_is_not_tested() {
    if !is_root() {
        skip_or_fail("needs root (a network namespace of the test's own)");
        return;
    }
    let ns = Ns::new();
    let stop = ns.start_responder();
    let dir = scratch_dir("one-vocabulary");
    let (csv_p, json_p, junit_p) = (
        dir.join("v.csv"),
        dir.join("v.json"),
        dir.join("v.junit.xml"),
    );
    let targets = [
        "127.0.10.1-10",
        "127.0.11.1-3",
        "198.18.78.1-2",
        "198.18.79.1",
        NAME,
    ];
    let mut args = vec!["scan", "--no-config", "--connect-timeout", "1s"];
    args.extend(["--retries", "0", "--read-timeout", "2s", "--rate", "0"]);
    args.extend(targets);
    let paths = [&csv_p, &json_p, &junit_p].map(|p| p.to_str().expect("utf-8").to_string());
    for p in &paths {
        args.extend(["-o", p.as_str()]);
    }
    let out = ns.smb1scan(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    // The simulated network's findings meet the default --fail-on.
    assert_eq!(out.status.code(), Some(3), "{stderr}");

    let rows = csv_rows(&csv_p);
    assert_eq!(rows.len(), 17, "one row per target");
    // The pivot equals the summary's counts in the JSON metadata...
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_p).expect("json")).expect("JSON");
    let mut counts = doc["meta"]["counts"].clone();
    // Keys the pivot does not rebuild (none today) would show up here.
    let rebuilt = pivot(&rows);
    if let (Some(c), Some(r)) = (counts.as_object_mut(), rebuilt.as_object()) {
        c.retain(|k, _| r.contains_key(k));
    }
    assert_eq!(rebuilt, counts, "CSV pivot vs meta.counts");
    // ... and on the terminal.
    let p = |k: &str| rebuilt[k].as_u64().unwrap_or(u64::MAX);
    for want in [
        format!(
            "{} targets, {} answered, {} unresolved",
            p("hosts"),
            p("open"),
            p("unresolved")
        ),
        format!(
            "SMB1 on {}; MS17-010 vulnerable {}, unknown {}, not vulnerable {}",
            p("smb1_on"),
            p("vulnerable"),
            p("unknown"),
            p("not_vulnerable")
        ),
        format!("DoublePulsar {};", p("doublepulsar")),
    ] {
        assert!(
            stderr.contains(&want),
            "terminal summary lacks {want:?}:\n{stderr}"
        );
    }
    // The demo's three undecided personas are the only `unknown`: 3, not 3 + every silence.
    assert_eq!(p("unknown"), 3, "{rows:#?}");

    // Silence and refusal say so plainly.
    for r in &rows {
        let (status, ms17, reason) = (&r["status"], &r["ms17_010"], &r["ms17_010_reason"]);
        let want = match status.as_str() {
            "closed" => Some("connection-refused"),
            "filtered" => Some("connect-timeout"),
            "unreachable" => Some("unreachable"),
            "unresolved" => Some("unresolved"),
            _ => None,
        };
        match want {
            Some(why) => assert_eq!(
                (ms17.as_str(), reason.as_str()),
                ("not-tested", why),
                "{r:?}"
            ),
            None => assert_ne!(ms17, "not-tested", "{r:?}"),
        }
    }
    for (status, n) in [
        ("closed", 3),
        ("filtered", 2),
        ("unreachable", 1),
        ("unresolved", 1),
    ] {
        assert_eq!(
            rows.iter().filter(|r| r["status"] == status).count(),
            n,
            "{status}: {rows:#?}"
        );
    }

    // The name: its name, no address, last.
    let last = rows.last().expect("rows");
    assert_eq!((last["ip"].as_str(), last["hostname"].as_str()), ("", NAME));
    let keys: Vec<_> = rows.iter().map(order).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "CSV rows in target order");
    let rec = doc["hosts"]
        .as_array()
        .and_then(|a| a.iter().find(|h| h["hostname"] == NAME))
        .expect("the name's JSON record");
    assert!(rec["ip"].is_null(), "{rec}");
    let junit = std::fs::read_to_string(&junit_p).expect("junit");
    assert!(!junit.contains("0.0.0.0"), "{junit}");
    assert!(
        junit.contains(&format!(
            "classname=\"smb1scan.{NAME}\" name=\"{NAME}:445\""
        )),
        "{junit}"
    );
    // The terminal summary's table (risk high) names it without an address.
    let line = stderr
        .lines()
        .find(|l| l.contains(NAME) && l.starts_with("high"))
        .unwrap_or_else(|| panic!("no summary row for the name:\n{stderr}"));
    assert!(!line.contains("0.0.0.0"), "{line}");
    // So does the per-host table.
    let out = ns.smb1scan(&[
        "scan",
        "--no-config",
        "-q",
        "--format",
        "table",
        "-o",
        "-",
        NAME,
    ]);
    let table = String::from_utf8_lossy(&out.stdout);
    let line = table
        .lines()
        .find(|l| l.contains(NAME))
        .unwrap_or_else(|| panic!("no table row for the name:\n{table}"));
    assert!(
        line.starts_with("high")
            && !line.contains("0.0.0.0")
            && line.contains("not-tested: unresolved"),
        "{line}"
    );
    drop(stop);

    // A schema 1 file (closed `unknown`, unresolved `0.0.0.0`) reads into the same vocabulary.
    let old = dir.join("old.jsonl");
    let mut lines = String::new();
    for h in doc["hosts"].as_array().expect("hosts") {
        let mut h = h.clone();
        h["schema"] = Value::from(1);
        if h["ms17_010"]["verdict"] == "not-tested" {
            h["ms17_010"]["verdict"] = Value::from("unknown");
        }
        if h["ip"].is_null() {
            h["ip"] = Value::from("0.0.0.0");
        }
        lines.push_str(&format!("{h}\n"));
    }
    std::fs::write(&old, lines).expect("write");
    let again = dir.join("again.csv");
    let o = Command::new(bin())
        .args(["report", "-q", "-o"])
        .arg(&again)
        .arg(&old)
        .output()
        .expect("report");
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let re = csv_rows(&again);
    let strip = |rows: &[BTreeMap<String, String>]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| {
                [
                    "ip",
                    "hostname",
                    "port",
                    "status",
                    "ms17_010",
                    "ms17_010_reason",
                    "risk",
                ]
                .map(|c| r[c].clone())
                .to_vec()
            })
            .collect()
    };
    assert_eq!(
        strip(&re),
        strip(&rows),
        "schema 1 read into today's vocabulary"
    );
    let o = Command::new(bin())
        .args(["diff"])
        .arg(&old)
        .arg(&json_p)
        .output()
        .expect("diff");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}
