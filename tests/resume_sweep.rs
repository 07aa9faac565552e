//! Issue 16, "a resumed sweep is one sweep": `scan --resume FILE` judges and reports the records
//! already in FILE plus the new ones, one per target. The cut-off files are built from a full
//! scan's records by what they hold (the vulnerable and infected records first, last, or absent),
//! never by taking the first lines, whose content depends on completion order. The network is
//! the responder's simulated Windows hosts on loopback.

mod common;

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Output};

use common::{bin, scratch_dir};
use serde_json::Value;

const BASE: &str = "127.0.91.1";
const RANGE: &str = "127.0.91.1-10";
const PORT: u16 = 4466;

fn scan(args: &[&str]) -> Output {
    Command::new(bin())
        .args([
            "scan",
            "--no-config",
            "--rate",
            "1000",
            "--read-timeout",
            "1s",
        ])
        .args(["-p", &PORT.to_string()])
        .args(args)
        .arg(RANGE)
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
        .output()
        .expect("run scan")
}

fn records(p: &Path) -> Vec<Value> {
    common::host_records(&std::fs::read_to_string(p).expect("read"))
}

fn ip(r: &Value) -> Ipv4Addr {
    r["ip"].as_str().expect("ip").parse().expect("IPv4")
}

/// A record the default policy fails on.
fn finding(r: &Value) -> bool {
    r["ms17_010"]["verdict"] == "vulnerable" || r["doublepulsar"]["verdict"] == "present"
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_resumed_sweep_counts_the_records_already_in_its_file() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let net = rt
        .block_on(smb1scan_responder::start_network(
            BASE.parse().expect("ip"),
            PORT,
        ))
        .expect("simulated hosts");
    let d = scratch_dir("resume-sweep");
    let full = d.join("full.jsonl");
    let o = scan(&["-q", "-o", full.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let mut all = records(&full);
    all.sort_by_key(ip);
    let (found, clean): (Vec<Value>, Vec<Value>) = all.into_iter().partition(finding);
    assert_eq!(
        found.len(),
        3,
        "the simulated network has 3 vulnerable hosts"
    );
    assert_eq!(clean.len(), 7);

    // An `interrupted` record of a vulnerable host: scanned again, and the new record wins.
    let mut interrupted = found[0].clone();
    interrupted["status"] = "interrupted".into();
    interrupted["ms17_010"]["verdict"] = "unknown".into();
    interrupted["doublepulsar"]["verdict"] = "not-tested".into();
    // (case, records in the file, of which whole and kept)
    let cases: [(&str, Vec<&Value>, usize); 3] = [
        (
            "findings first",
            found.iter().chain(&clean[..2]).collect(),
            5,
        ),
        (
            "findings last",
            clean[..4].iter().chain(&found).collect(),
            7,
        ),
        (
            "findings absent",
            clean[..5]
                .iter()
                .chain(std::iter::once(&interrupted))
                .collect(),
            5,
        ),
    ];
    for (case, recs, kept) in cases {
        let r = d.join("r.jsonl");
        let mut cut: String = recs.iter().map(|v| format!("{v}\n")).collect();
        // The last line cut by a kill.
        cut.push_str("{\"ip\":\"127.0.");
        std::fs::write(&r, cut).expect("write the cut file");
        let outs = ["extra.csv", "r.json", "r.html", "r.junit.xml"].map(|n| d.join(n));
        for p in &outs {
            let _ = std::fs::remove_file(p);
        }
        let mut args = vec!["--resume", r.to_str().expect("utf-8")];
        for p in &outs {
            args.extend(["-o", p.to_str().expect("utf-8")]);
        }
        let o = scan(&args);
        let e = text(&o);
        assert_eq!(o.status.code(), Some(3), "{case}: {e}");
        assert!(e.contains("smb1scan: 10 targets"), "{case}: {e}");
        assert!(e.contains("MS17-010 vulnerable 3,"), "{case}: {e}");
        assert!(e.contains("DoublePulsar 2;"), "{case}: {e}");
        assert!(
            e.contains(&format!(
                "resumed: {kept} of the 10 records came from {}, {} were scanned now",
                r.display(),
                10 - kept
            )),
            "{case}: {e}"
        );
        assert!(
            e.lines().last().is_some_and(|l| l.starts_with(
                "exit 3: 3 hosts meet --fail-on vulnerable,doublepulsar (3 vulnerable to \
                 MS17-010, 2 DoublePulsar)"
            )),
            "{case}: {e}"
        );
        // The file: one record per target; the vulnerable host scanned again is vulnerable.
        let file = records(&r);
        assert_eq!(file.len(), 10, "{case}");
        let mut ips: Vec<Ipv4Addr> = file.iter().map(ip).collect();
        ips.sort();
        ips.dedup();
        assert_eq!(ips.len(), 10, "{case}: a target twice");
        assert_eq!(file.iter().filter(|v| finding(v)).count(), 3, "{case}");
        // Every other output covers the sweep.
        let rows = csv::Reader::from_path(&outs[0])
            .expect("csv")
            .records()
            .count();
        assert_eq!(rows, 10, "{case}: CSV rows");
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(&outs[1]).expect("json")).expect("json");
        assert_eq!(doc["hosts"].as_array().map(Vec::len), Some(10), "{case}");
        assert_eq!(doc["meta"]["counts"]["vulnerable"], 3, "{case}");
        let html = std::fs::read_to_string(&outs[2]).expect("html");
        for v in &found {
            assert!(
                html.contains(v["ip"].as_str().expect("ip")),
                "{case}: the HTML lists {}",
                v["ip"]
            );
        }
        let junit = std::fs::read_to_string(&outs[3]).expect("junit");
        assert!(junit.contains("tests=\"10\""), "{case}: {junit}");
        assert!(junit.contains("failures=\"3\""), "{case}: {junit}");

        // Resuming the finished file scans nothing and still fails the gate, also under -q.
        let o = scan(&["-q", "--resume", r.to_str().expect("utf-8")]);
        let e = text(&o);
        assert_eq!(o.status.code(), Some(3), "{case}: {e}");
        assert!(
            e.starts_with("smb1scan: exit 3: 3 hosts meet --fail-on vulnerable,doublepulsar"),
            "{case}: {e}"
        );
        assert_eq!(records(&r).len(), 10, "{case}");
    }
    rt.block_on(net.shutdown());
    std::fs::remove_dir_all(&d).ok();
}
