//! `smb1scan clients` on the SMB1 access audit: a broken `.evtx` file (no real one is checked in:
//! the only public sample found was AGPL-licensed), and event 3000 as the XML that
//! `wevtutil qe Microsoft-Windows-SMBServer/Audit /f:xml` and `Get-WinEvent ... ToXml()` write,
//! built to Microsoft's event schema (http://schemas.microsoft.com/win/2004/08/events/event; the
//! one EventData field of event 3000 is ClientName).

use std::path::{Path, PathBuf};
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("clients-audit-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn run(files: &[&Path]) -> (Vec<serde_json::Value>, serde_json::Value, String, i32) {
    let o = Command::new(env!("CARGO_BIN_EXE_smb1scan"))
        .arg("clients")
        .args(files)
        .output()
        .unwrap();
    let mut lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = lines.pop().unwrap()["summary"].clone();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (lines, summary, stderr, o.status.code().unwrap_or(-1))
}

fn event(computer: &str, client: &str, time: &str, id: u32) -> String {
    format!(
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-SMBServer' Guid='{{D48CE617-33A2-4BC3-A5C7-11AA4F29619E}}'/><EventID>{id}</EventID><Version>0</Version><Level>4</Level><Task>0</Task><Opcode>0</Opcode><Keywords>0x80000000000000</Keywords><TimeCreated SystemTime='{time}'/><EventRecordID>7</EventRecordID><Correlation/><Execution ProcessID='4' ThreadID='5120'/><Channel>Microsoft-Windows-SMBServer/Audit</Channel><Computer>{computer}</Computer><Security UserID='S-1-5-18'/></System><EventData><Data Name='ClientName'>{client}</Data></EventData></Event>"
    )
}

/// A file that starts like an event log and is not one: one problem line naming `.evtx`, exit
/// 1 (nothing of it could be read), never a panic.
#[cfg(feature = "evtx")]
#[test]
fn a_broken_evtx_file_is_a_problem_line_not_a_panic() {
    let p = tmp("header-only.evtx");
    std::fs::write(&p, b"ElfFile\0 and then nothing").unwrap();
    let (_, summary, stderr, code) = run(&[&p]);
    assert!(
        summary["problems"][0]["problem"]
            .as_str()
            .unwrap()
            .contains(".evtx"),
        "{summary}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(code, 1);
}

/// Without the `evtx` feature an .evtx input is one problem line naming the way out, never a
/// silent pass.
#[cfg(not(feature = "evtx"))]
#[test]
fn evtx_without_the_feature_says_how() {
    let p = tmp("any.evtx");
    std::fs::write(&p, b"ElfFile\0 and then nothing").unwrap();
    let (pairs, summary, stderr, code) = run(&[&p]);
    assert!(pairs.is_empty());
    assert!(stderr.contains("--features evtx"), "{stderr}");
    assert_eq!(code, 1);
    let _ = summary;
}

#[test]
fn event_3000_xml_from_wevtutil_and_get_winevent() {
    // wevtutil qe ... /f:xml: events one after another, no enclosing element.
    let xml = [
        event(
            "FS01.ward.example",
            "10.20.30.40",
            "2024-03-05T08:15:30.1234567Z",
            3000,
        ),
        event(
            "FS01.ward.example",
            "10.20.30.40",
            "2024-03-06T09:00:00.0000000Z",
            3000,
        ),
        event(
            "FS01.ward.example",
            "10.20.30.41",
            "2024-03-05T10:00:00.0000000Z",
            3000,
        ),
        // Another event of the log: read, not counted.
        event(
            "FS01.ward.example",
            "10.20.30.42",
            "2024-03-05T10:00:00.0000000Z",
            3001,
        ),
    ]
    .join("\r\n");
    let p = tmp("audit-wevtutil.xml");
    std::fs::write(&p, &xml).unwrap();
    // Get-WinEvent ... | ForEach-Object { $_.ToXml() } | Out-File: UTF-16LE with a BOM.
    let mut utf16 = vec![0xFF, 0xFE];
    for u in event("FS02", "[fe80::1]", "2024-03-07T12:00:00.0000000Z", 3000).encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    let q = tmp("audit-get-winevent.xml");
    std::fs::write(&q, &utf16).unwrap();
    let (pairs, summary, _, code) = run(&[&p, &q]);
    assert_eq!(summary["audit_events"], 5);
    assert_eq!(summary["smb1_audit_events"], 4);
    assert_eq!(pairs.len(), 3);
    for r in &pairs {
        assert_eq!(r["verdict"], "unknown");
        assert_eq!(r["reason"], "log-without-dialects");
    }
    let a = pairs
        .iter()
        .find(|r| r["server"] == "FS01.ward.example" && r["client"] == "10.20.30.40")
        .unwrap();
    assert_eq!(a["sessions"], 2);
    assert_eq!(a["client_log_name"], "10.20.30.40");
    assert_eq!(a["first_seen"], "2024-03-05T08:15:30.123456Z");
    assert_eq!(a["last_seen"], "2024-03-06T09:00:00.000000Z");
    assert!(pairs
        .iter()
        .any(|r| r["server"] == "FS02" && r["client"] == "[fe80::1]"));
    assert_eq!(code, 3, "unknown pairs: exit 3");
    // Malformed XML: the events before the fault are kept, and the fault is a problem.
    let bad = tmp("audit-bad.xml");
    std::fs::write(
        &bad,
        format!(
            "{}<Event><System></Event>",
            event("FS01", "10.0.0.1", "2024-03-05T08:15:30Z", 3000)
        ),
    )
    .unwrap();
    let (pairs, summary, _, _) = run(&[&bad]);
    assert_eq!(pairs.len(), 1);
    assert_eq!(
        summary["problems"].as_array().unwrap().len(),
        1,
        "{summary}"
    );
}
