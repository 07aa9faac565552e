//! Behaviour-preservation check of the redesign (issue 10): the JSON Lines of `smb1scan demo` and
//! of a scan of the real-server lab, recorded before the code moved, must come out of today's
//! binary unchanged once the fields that differ from run to run are masked (timestamps, durations,
//! server times, GUIDs and DNS names that belong to the machine rather than to the program).
//!
//! A deliberate behaviour change re-records the files with `SMB1SCAN_BLESS=1 cargo test --test
//! golden` and says why in its commit; `git diff fixtures/golden/` then shows exactly what changed.

mod common;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use common::{bin, repo_root, require_lab, scratch_dir, LAB_ADDRS};

/// JSON pointers whose values depend on the clock or on the machine, not on smb1scan. The
/// `eol-os` verdicts depend on the scan's date too, but none of the recorded hosts changes before
/// 2028-10-11 (Windows 10 22H2's ESU ends 2028-10-10; 10.0.17763 stays ambiguous until 2029):
/// only the date itself is masked.
const MASKED: [&str; 6] = [
    "/scanned_at",
    "/eol-os/judged_at",
    "/duration_ms",
    "/smb1/server_time",
    "/smb2/server_time",
    "/smb2/boot_time",
];

/// impacket's smbserver makes up its server and domain names at each start.
const MASKED_IMPACKET: [&str; 7] = [
    "/os/native_os",
    "/os/product",
    "/os/domain",
    "/os/netbios_name",
    "/os/netbios_domain",
    "/smb1/domain",
    "/smb1/server_name",
];

/// Masked only for the lab: Samba's and impacket's GUIDs and DNS names come from the machine, and
/// so does the Samba version (the `sambacry` verdict stays: tests/checks_lab.rs derives it).
const MASKED_LAB: [&str; 9] = [
    "/sambacry/version",
    "/sambacry/vendor_suffix",
    "/sambacry/summary",
    "/smb1/server_guid",
    "/smb2/server_guid",
    "/os/dns_name",
    "/os/dns_domain",
    "/os/dns_tree",
    "/os/native_lanman",
];

fn mask(v: &mut Value, pointers: &[&str]) {
    for p in pointers {
        if let Some(x) = v.pointer_mut(p) {
            if !x.is_null() {
                *x = Value::String("<masked>".into());
            }
        }
    }
    if let Some(steps) = v.pointer_mut("/steps").and_then(Value::as_array_mut) {
        for s in steps {
            if let Some(ms) = s.get_mut("ms") {
                *ms = Value::from(0);
            }
            if let Some(Value::String(d)) = s.get_mut("detail") {
                *d = mask_ids(d);
            }
        }
    }
}

/// Session, tree and file ids are the server's choice from run to run: `TID 0x1004` ->
/// `TID <id>`, `FID 0x4000,` -> `FID <id>,`.
fn mask_ids(detail: &str) -> String {
    let mut out = Vec::new();
    let mut after_id = false;
    for w in detail.split(' ') {
        if after_id && w.starts_with("0x") {
            let comma = if w.ends_with(',') { "," } else { "" };
            out.push(format!("<id>{comma}"));
        } else {
            out.push(w.to_string());
        }
        after_id = matches!(w, "TID" | "UID" | "FID");
    }
    out.join(" ")
}

/// Records (metadata lines left out) sorted by (ip, port), masked, one compact JSON object per
/// line.
fn normalise(jsonl: &str, extra: &[&str]) -> String {
    let mut recs: Vec<Value> = jsonl
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSONL ({e}): {l}")))
        // Metadata lines (the run's scope: host name, times) are not records; tests/
        // scope_outputs.rs checks them.
        .filter(|v: &Value| v.get("kind").is_none())
        .collect();
    for r in &mut recs {
        mask(r, &MASKED);
        mask(r, extra);
        if !extra.is_empty() && r["ip"] == common::IMPACKET {
            mask(r, &MASKED_IMPACKET);
        }
    }
    recs.sort_by_key(|r| (r["ip"].to_string(), r["port"].as_u64()));
    let mut out = String::new();
    for r in recs {
        out.push_str(&r.to_string());
        out.push('\n');
    }
    out
}

fn golden_path(name: &str) -> PathBuf {
    repo_root().join("fixtures/golden").join(name)
}

/// Compares `got` with the golden file `name`, or rewrites it under `SMB1SCAN_BLESS=1`.
fn check(name: &str, got: &str) {
    let path = golden_path(name);
    if std::env::var_os("SMB1SCAN_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("golden dir")).expect("mkdir golden");
        std::fs::write(&path, got).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (record with SMB1SCAN_BLESS=1)", path.display()));
    let want_lines: Vec<&str> = want.lines().collect();
    let got_lines: Vec<&str> = got.lines().collect();
    assert_eq!(
        want_lines.len(),
        got_lines.len(),
        "{name}: record count differs\n--- golden\n{want}\n--- now\n{got}"
    );
    for (w, g) in want_lines.iter().zip(&got_lines) {
        if w != g {
            let wv: Value = serde_json::from_str(w).expect("golden line");
            let gv: Value = serde_json::from_str(g).expect("output line");
            let mut diffs = Vec::new();
            differences(&wv, &gv, String::new(), &mut diffs);
            panic!(
                "{name}: {} {} differs from the golden file:\n{}",
                gv["ip"],
                gv["port"],
                diffs.join("\n")
            );
        }
    }
}

/// Every JSON pointer where `a` and `b` differ, with both values.
fn differences(a: &Value, b: &Value, at: String, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let null = Value::Null;
                differences(
                    x.get(k).unwrap_or(&null),
                    y.get(k).unwrap_or(&null),
                    format!("{at}/{k}"),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                differences(p, q, format!("{at}/{i}"), out);
            }
        }
        _ if a != b => out.push(format!("  {at}: golden {a} now {b}")),
        _ => {}
    }
}

#[test]
fn demo_output_matches_the_golden_file() {
    let dir = scratch_dir("golden-demo");
    let out_path = dir.join("demo.jsonl");
    let out = Command::new(bin())
        .args(["demo", "--base", "127.0.77.1", "--port", "4457", "-o"])
        .arg(&out_path)
        .env("NO_COLOR", "1")
        .output()
        .expect("run smb1scan demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "demo exit code\n{stderr}");
    let text = std::fs::read_to_string(&out_path).expect("demo output");
    // The golden file was recorded on base 127.0.77.1; nothing else in a record names the base.
    check("demo.jsonl", &normalise(&text, &[]));
}

#[test]
fn lab_scan_matches_the_golden_file() {
    if !require_lab() {
        return;
    }
    let dir = scratch_dir("golden-lab");
    let out_path = dir.join("lab.jsonl");
    let mut args = vec!["scan", "-o"];
    let p = out_path.to_string_lossy().to_string();
    args.push(&p);
    args.extend(LAB_ADDRS);
    let out = Command::new(bin())
        .args(&args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run smb1scan scan");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code().is_some(), "{stderr}");
    let text = std::fs::read_to_string(&out_path).expect("lab output");
    check("lab.jsonl", &normalise(&text, &MASKED_LAB));
}
