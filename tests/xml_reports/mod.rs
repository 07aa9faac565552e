//! Helpers of the nmap XML and JUnit report tests (tests/report_nmap_xml.rs,
//! tests/report_junit.rs): the fixture records, today's renderings, a real `smb1scan demo` run,
//! and the outside programs that read the documents (each skipped, or failed under CI, when
//! missing; see tests/common).

#![allow(dead_code)] // Each test binary uses a different subset.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common;
use smb1scan::model::HostResult;
use smb1scan::report::{remediation, Enriched, ScanMeta};

/// fixtures/reports/`name`.
pub fn fixture(name: &str) -> PathBuf {
    common::repo_root().join("fixtures/reports").join(name)
}

/// fixtures/reports/sample.json: its metadata and host records.
pub fn sample() -> (ScanMeta, Vec<HostResult>) {
    #[derive(serde::Deserialize)]
    struct Doc {
        meta: ScanMeta,
        hosts: Vec<HostResult>,
    }
    let text = std::fs::read_to_string(fixture("sample.json")).expect("sample.json");
    let doc: Doc = serde_json::from_str(&text).expect("sample.json parses");
    (doc.meta, doc.hosts)
}

/// JSON Lines records (metadata lines, `{"kind":"meta",...}`, left out).
pub fn records(text: &str) -> Vec<HostResult> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("{\"kind\""))
        .map(|l| serde_json::from_str(l).expect("JSON Lines record"))
        .collect()
}

/// fixtures/reports/baseline.jsonl (the sample network six days earlier), with metadata like
/// sample.json's.
pub fn baseline() -> (ScanMeta, Vec<HostResult>) {
    let text = std::fs::read_to_string(fixture("baseline.jsonl")).expect("baseline.jsonl");
    let (mut meta, _) = sample();
    meta.started_at = "2026-11-20T09:00:00.000Z".to_string();
    meta.finished_at = Some("2026-11-20T09:00:41.000Z".to_string());
    meta.command_line = ["smb1scan", "scan", "10.20.0.0/22", "-o", "baseline.jsonl"]
        .map(String::from)
        .to_vec();
    (meta, records(&text))
}

/// The records with their risk and remediation, as the report layer passes them.
pub fn enriched(hosts: &[HostResult]) -> Vec<Enriched<'_>> {
    let table = remediation::table().expect("remediation table");
    hosts.iter().map(|h| Enriched::new(table, h)).collect()
}

/// Compare `bytes` with the committed fixture `name`; `SMB1SCAN_BLESS=1` rewrites it.
pub fn check_fixture(name: &str, bytes: &[u8]) {
    let p = fixture(name);
    if std::env::var_os("SMB1SCAN_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&p, bytes).expect("write fixture");
        return;
    }
    let want = std::fs::read(&p).unwrap_or_default();
    assert!(
        want == bytes,
        "{} differs from today's rendering (re-record with SMB1SCAN_BLESS=1 if intended):\n{}",
        p.display(),
        String::from_utf8_lossy(bytes)
    );
}

/// A real `smb1scan demo` run (simulated hosts on loopback from `base`): its metadata and
/// records.
pub fn demo_run(base: &str, dir: &Path) -> (ScanMeta, Vec<HostResult>) {
    let out = dir.join("demo.jsonl");
    let run = Command::new(common::bin())
        .args(["demo", "--base", base, "--no-summary", "-q", "-o"])
        .arg(&out)
        .env("NO_COLOR", "1")
        .output()
        .expect("smb1scan demo runs");
    // 3: the demo network has vulnerable hosts, which meet the default --fail-on.
    assert_eq!(
        run.status.code(),
        Some(3),
        "smb1scan demo: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let hosts = records(&std::fs::read_to_string(&out).expect("demo output"));
    assert!(hosts.len() >= 5, "demo wrote {} records", hosts.len());
    let mut meta = ScanMeta::new(vec![base.to_string()], serde_json::json!({}));
    meta.command_line = vec![
        "smb1scan".into(),
        "demo".into(),
        "--base".into(),
        base.into(),
    ];
    meta.finished_at = Some(crate::report::now_rfc3339());
    // The run's scope, from the file's closing metadata line.
    let text = std::fs::read_to_string(&out).expect("demo output");
    meta.scope = text
        .lines()
        .rev()
        .filter(|l| l.starts_with("{\"kind\""))
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|v| serde_json::from_value(v["meta"]["scope"].clone()).ok());
    assert!(
        meta.scope.is_some(),
        "the demo's JSON Lines carry its scope"
    );
    (meta, hosts)
}

/// True when `tool args` runs and exits 0; otherwise skip (or fail under CI).
pub fn require_cmd(tool: &str, args: &[&str]) -> bool {
    let ok = Command::new(tool)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    ok || common::skip_or_fail(&format!("{tool} not installed"))
}

/// A Python interpreter that can import `module`: the lab's venv (scripts/lab.sh installs the
/// PyPI packages there when the system pip refuses), else `python3`. Skips (fails under CI)
/// when none can.
pub fn python_with(module: &str) -> Option<PathBuf> {
    let lab = std::env::var_os("SMB1SCAN_LAB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/smb1scan-lab"));
    let candidates = [lab.join("venv/bin/python3"), PathBuf::from("python3")];
    let found = candidates.into_iter().find(|py| {
        Command::new(py)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        common::skip_or_fail(&format!(
            "no python3 with the {module} module (scripts/lab.sh install)"
        ));
    }
    found
}

/// Run `tool args`, returning its output (whatever the exit code).
pub fn run(tool: impl AsRef<std::ffi::OsStr>, args: &[&std::ffi::OsStr]) -> Output {
    let tool = tool.as_ref();
    Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool:?}: {e}"))
}

/// Text of an output stream.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
