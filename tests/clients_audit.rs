//! `smb1scan clients` on the SMB1 access audit: a real `.evtx` file (fixtures/evtx/, a Windows
//! Security log from the evtx authors' samples, MIT/Apache-2.0: no event 3000 in it) read whole,
//! cross-checked with an independent reader (python-evtx), and a corrupted copy of it; a broken
//! `.evtx` header; and event 3000 as the XML that
//! `wevtutil qe Microsoft-Windows-SMBServer/Audit /f:xml` and `Get-WinEvent ... ToXml()` write,
//! built to Microsoft's event schema (http://schemas.microsoft.com/win/2004/08/events/event; the
//! one EventData field of event 3000 is ClientName).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The real Security log (origin and licence in fixtures/README.md): 7 records in one chunk,
/// events 4611, 4625, 4673, 4776, 5152 (twice), 5157 of Microsoft-Windows-Security-Auditing.
const SECURITY_EVTX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/evtx/Security_short_selected.evtx"
);
const SECURITY_EVTX_RECORDS: u64 = 7;

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

/// A real Windows Security log: every record is read (as many as python-evtx, an independent
/// reader, finds), none is event 3000, and the run says the log is not the SMB1 access audit:
/// 0 pairs and exit 3, never a clean "no SMB1 clients".
#[cfg(feature = "evtx")]
#[test]
fn a_real_security_evtx_is_read_whole_and_is_not_taken_for_an_empty_audit() {
    let (pairs, summary, stderr, code) = run(&[Path::new(SECURITY_EVTX)]);
    assert_eq!(summary["audit_events"], SECURITY_EVTX_RECORDS, "{summary}");
    assert_eq!(summary["smb1_audit_events"], 0);
    assert!(pairs.is_empty());
    let problems = summary["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{summary}");
    let p = problems[0]["problem"].as_str().unwrap();
    assert!(
        p.contains("7 events read, none from Microsoft-Windows-SMBServer")
            && p.contains("shows no SMB1 client either way"),
        "{p}"
    );
    assert!(
        stderr.contains("7 audit log events read, 0 of them SMB1 access"),
        "{stderr}"
    );
    assert_eq!(
        code, 3,
        "a log that cannot show SMB1 clients is no clean result"
    );
}

/// The record count of the real sample by python-evtx (williballenthin, Apache-2.0; pure Python,
/// nothing shared with the evtx crate), the cross-check of the constant above.
#[test]
fn python_evtx_counts_the_same_records() {
    let py = ["/tmp/smb1scan-lab/venv/bin/python3", "python3"]
        .into_iter()
        .find(|py| {
            Command::new(py)
                .args(["-c", "import Evtx.Evtx"])
                .output()
                .is_ok_and(|o| o.status.success())
        });
    let Some(py) = py else {
        common::skip_or_fail("no python3 with python-evtx (scripts/lab.sh install)");
        return;
    };
    let o = Command::new(py)
        .args([
            "-c",
            "import sys, Evtx.Evtx as e\nwith e.Evtx(sys.argv[1]) as log:\n    print(sum(1 for r in log.records() if r.xml()))",
            SECURITY_EVTX,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let n: u64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
    assert_eq!(n, SECURITY_EVTX_RECORDS);
}

/// The real file with bytes of its one chunk overwritten (inside the first record): a problem
/// line naming the damaged chunk or record, the run not clean, never a panic.
#[cfg(feature = "evtx")]
#[test]
fn a_corrupted_chunk_of_a_real_evtx_is_a_problem_line() {
    let mut b = std::fs::read(SECURITY_EVTX).unwrap();
    // File header 4096 bytes, chunk header 512: the first record starts at 4608.
    for x in &mut b[4608 + 24..4608 + 24 + 200] {
        *x = 0xA5;
    }
    let p = tmp("Security-corrupt.evtx");
    std::fs::write(&p, &b).unwrap();
    let (pairs, summary, stderr, code) = run(&[&p]);
    assert!(pairs.is_empty());
    let problems: Vec<&str> = summary["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["problem"].as_str().unwrap())
        .collect();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("could not be read") && p.contains("chunk")),
        "{problems:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(code, 0, "{stderr}");
    // Its header too: the same, whatever the decoder makes of it.
    let mut h = std::fs::read(SECURITY_EVTX).unwrap();
    for x in &mut h[4096 + 8..4096 + 128] {
        *x = 0xFF;
    }
    std::fs::write(&p, &h).unwrap();
    let (_, summary, stderr, code) = run(&[&p]);
    assert!(
        !summary["problems"].as_array().unwrap().is_empty(),
        "{summary}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(code, 0);
}

/// Event XML of another log (a Security event): read, and said not to be the SMB1 access audit.
#[test]
fn event_xml_of_another_log_is_not_an_empty_audit() {
    let xml = event("DC01", "10.0.0.9", "2024-03-05T08:15:30Z", 4625).replace(
        "Microsoft-Windows-SMBServer",
        "Microsoft-Windows-Security-Auditing",
    );
    let p = tmp("security.xml");
    std::fs::write(&p, &xml).unwrap();
    let (pairs, summary, stderr, code) = run(&[&p]);
    assert!(pairs.is_empty());
    assert_eq!(summary["audit_events"], 1);
    assert!(
        stderr.contains("1 events read, none from Microsoft-Windows-SMBServer"),
        "{stderr}"
    );
    assert_eq!(code, 3);
}
