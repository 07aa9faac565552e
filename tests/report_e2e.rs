//! Issue 5's "done when": every output format produced by ONE run of the real scanner against the
//! simulated Windows network and the real Samba/impacket lab, each read back — JSON Lines and the
//! JSON document with serde, the CSV with the csv crate and through LibreOffice, the HTML report
//! checked for every host. Needs root (the simulated hosts listen on port 445, as the lab does) and
//! the lab; skips with a message otherwise, and fails instead under CI.

mod common;

use smb1scan_responder as responder;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::process::Command;

use serde_json::Value;

use common::{
    bin, libreoffice_round_trip, require_lab, s, scratch_dir, skip_or_fail, soffice, LAB_ADDRS,
};

/// Simulated hosts for this test (the demo's personas), away from the demo's default addresses.
const BASE: Ipv4Addr = Ipv4Addr::new(127, 0, 45, 1);

#[test]
fn one_scan_writes_every_format_and_each_reads_back() {
    if !require_lab() {
        return;
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let net = match rt.block_on(responder::start_network(BASE, 445)) {
        Ok(n) => n,
        Err(e) => {
            skip_or_fail(&format!(
                "cannot start the simulated hosts on port 445 ({e:#}); run as root"
            ));
            return;
        }
    };
    let sim: Vec<String> = net.hosts.iter().map(|h| h.addr.ip().to_string()).collect();
    let mut targets = sim.clone();
    targets.extend(LAB_ADDRS.iter().map(|a| a.to_string()));

    let dir = scratch_dir("report-e2e");
    let (csv_p, jsonl_p, json_p, html_p) = (
        dir.join("scan.csv"),
        dir.join("scan.jsonl"),
        dir.join("scan.json"),
        dir.join("report.html"),
    );
    let out = Command::new(bin())
        .arg("scan")
        .args(&targets)
        .args(["--read-timeout", "2s", "--no-summary", "-o"])
        .arg(&csv_p)
        .arg("-o")
        .arg(&jsonl_p)
        .arg("-o")
        .arg(&json_p)
        .arg("-o")
        .arg(&html_p)
        .env("NO_COLOR", "1")
        .output()
        .expect("run smb1scan");
    rt.block_on(net.shutdown());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The simulated network holds vulnerable and infected hosts: the default --fail-on is met.
    assert_eq!(out.status.code(), Some(3), "exit code; stderr:\n{stderr}");

    // JSON Lines: one record per target.
    let jsonl: BTreeMap<String, Value> = std::fs::read_to_string(&jsonl_p)
        .expect("jsonl")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSONL record"))
        .filter(|r| r.get("kind").is_none())
        .map(|r| (s(&r, "/ip").unwrap_or_default().to_string(), r))
        .collect();
    let mut want: Vec<String> = targets.clone();
    want.sort();
    assert_eq!(jsonl.keys().cloned().collect::<Vec<_>>(), want);
    let verdict = |ip: &str| {
        s(&jsonl[ip], "/ms17_010/verdict")
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(verdict(&sim[0]), "vulnerable");
    assert_eq!(verdict("127.0.0.2"), "not-vulnerable");
    assert_eq!(verdict("127.0.0.3"), "not-exposed");

    // JSON: the metadata and the same hosts with the same verdicts.
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json_p).expect("json"))
        .expect("JSON document");
    let hosts = doc["hosts"].as_array().expect("hosts array");
    assert_eq!(hosts.len(), targets.len());
    for h in hosts {
        let ip = s(h, "/ip").unwrap_or_default();
        assert_eq!(h["ms17_010"], jsonl[ip]["ms17_010"], "{ip}");
        assert_eq!(h["risk"], jsonl[ip]["risk"], "{ip}");
    }
    let counts = &doc["meta"]["counts"];
    assert_eq!(
        counts["hosts"].as_u64(),
        Some(targets.len() as u64),
        "{counts}"
    );
    let vulnerable = jsonl
        .values()
        .filter(|r| s(r, "/ms17_010/verdict") == Some("vulnerable"))
        .count();
    assert_eq!(
        counts["vulnerable"].as_u64(),
        Some(vulnerable as u64),
        "{counts}"
    );
    assert!(doc["meta"]["finished_at"].is_string());

    // CSV: header + one row per target, verdicts as in the JSON Lines.
    let mut rd = csv::Reader::from_path(&csv_p).expect("csv");
    let header: Vec<String> = rd
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let col = |n: &str| {
        header
            .iter()
            .position(|h| h == n)
            .unwrap_or_else(|| panic!("no column {n}"))
    };
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), targets.len());
    for row in &rows {
        let ip = &row[col("ip")];
        assert_eq!(row[col("ms17_010")], verdict(ip), "{ip}");
        assert_eq!(Some(&row[col("risk")]), jsonl[ip]["risk"].as_str(), "{ip}");
    }

    // HTML: self-contained, and every host is in it.
    let html = std::fs::read_to_string(&html_p).expect("html");
    assert!(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"));
    for ip in &targets {
        assert!(
            html.contains(ip.as_str()),
            "{ip} missing from the HTML report"
        );
    }
    // Nothing is fetched: no stylesheet links, remote sources or imports (a cited URL in text is
    // fine).
    for fetch in ["<link", "src=\"http", "src='http", "@import", "url(http"] {
        assert!(
            !html.contains(fetch),
            "the report fetches something: {fetch}"
        );
    }

    // LibreOffice reads the same rows and columns.
    match soffice() {
        None => {
            skip_or_fail("soffice not found (apt-get install libreoffice-calc-nogui)");
        }
        Some(bin) => {
            let (ours, theirs) = libreoffice_round_trip(bin, &csv_p, &dir);
            assert_eq!(ours.len(), theirs.len());
            for (a, b) in ours.iter().zip(&theirs) {
                assert_eq!(a.len(), b.len());
                for (x, y) in a.iter().zip(b) {
                    let same = x == y
                        || (matches!(x.as_str(), "true" | "false") && x.eq_ignore_ascii_case(y))
                        // Calc drops trailing zeros of plain numbers it recognises.
                        || x.parse::<f64>().ok().zip(y.parse::<f64>().ok()).is_some_and(|(p, q)| p == q);
                    assert!(same, "wrote {x:?}, LibreOffice read {y:?}");
                }
            }
        }
    }
}
