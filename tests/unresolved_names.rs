//! Issue 12, "unresolvable names are records": a target name that does not resolve gets a
//! record with status `unresolved` (a CSV row like any other), a line on standard error even
//! under `-q`, a count in the summary, and meets `--fail-on unknown`.
//!
//! Name resolution must not send a query off this machine, so the scan runs in a network
//! namespace of the test's own whose resolv.conf (`ip netns exec` mounts
//! /etc/netns/<ns>/resolv.conf) points at 127.0.0.1 inside the namespace, where nothing answers:
//! the name fails to resolve with no packet leaving the namespace.

mod common;

use std::process::Command;

use common::{bin, is_root, scratch_dir, skip_or_fail};

#[test]
fn an_unresolvable_name_is_a_record_a_warning_and_a_failure_of_the_gate() {
    if !is_root() {
        skip_or_fail("needs root (a network namespace, so that no DNS query leaves the machine)");
        return;
    }
    let ns = common::DeadResolverNs::new("unres");
    let dir = scratch_dir("unresolved");
    let csv = dir.join("wards.csv");
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.name, bin()])
        .args(["scan", "--no-config", "-q", "--fail-on", "unknown", "-o"])
        .arg(&csv)
        .args(["mri-console-ward3.example", "127.0.0.1"])
        .env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
        .output()
        .expect("run smb1scan in the namespace");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot resolve `mri-console-ward3.example`"),
        "a line on standard error even under -q:\n{stderr}"
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "an unresolved target meets --fail-on unknown\n{stderr}"
    );
    let mut rd = csv::Reader::from_path(&csv).expect("csv");
    let headers = rd.headers().expect("header").clone();
    let col = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 2, "one row per target");
    let row = rows
        .iter()
        .find(|r| &r[col("hostname")] == "mri-console-ward3.example")
        .expect("a row for the name");
    assert_eq!(&row[col("status")], "unresolved");
    assert_ne!(
        &row[col("risk")],
        "none",
        "nothing is known about it: never risk none"
    );

    // Without -q the summary counts it.
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.name, bin()])
        .args(["scan", "--no-config", "mri-console-ward3.example"])
        .env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
        .output()
        .expect("run smb1scan in the namespace");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 unresolved"), "{stderr}");
    // Issue 16: an unresolved name is undecided: the default policy exits 4, never 0.
    assert!(
        stderr.contains("exit 4: 1 host undecided (1 unresolved)"),
        "the last line says why: {stderr}"
    );
    assert_eq!(out.status.code(), Some(4), "default policy: {stderr}");

    // Under -q: the warning and the one-line reason; an explicit policy accepts it.
    let run = |extra: &[&str]| {
        Command::new("ip")
            .args(["netns", "exec", &ns.name, bin()])
            .args(["scan", "--no-config", "-q", "-o", "-"])
            .args(extra)
            .arg("mri-console-ward3.example")
            .env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
            .output()
            .expect("run smb1scan in the namespace")
    };
    let out = run(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("smb1scan: exit 4: 1 host undecided (1 unresolved)")),
        "{stderr}"
    );
    let out = run(&["--fail-on", "vulnerable,doublepulsar"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    // A resumed sweep keeps one record per unresolved name: the file's record is tried again,
    // and the new one replaces it; the gate still sees it.
    let jsonl = dir.join("wards.jsonl");
    let resume = |first: bool| {
        Command::new("ip")
            .args(["netns", "exec", &ns.name, bin()])
            .args(["scan", "--no-config"])
            .arg(if first { "-o" } else { "--resume" })
            .arg(&jsonl)
            .args(["mri-console-ward3.example", "127.0.0.1"])
            .env("NO_COLOR", "1")
            .env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
            .output()
            .expect("run smb1scan in the namespace")
    };
    assert_eq!(resume(true).status.code(), Some(4));
    let out = resume(false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("2 targets, 0 answered, 1 unresolved"),
        "{stderr}"
    );
    assert!(
        stderr.contains("resumed: 1 of the 2 records came from"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&jsonl).expect("read");
    let records = common::host_records(&text).len();
    assert_eq!(records, 2, "one record per target:\n{text}");
    assert_eq!(
        text.matches("\"status\":\"unresolved\"").count(),
        1,
        "{text}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
