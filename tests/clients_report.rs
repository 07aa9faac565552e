//! `report --clients FILE` (and `scan`, which takes the same output flags): the HTML remediation
//! plan says, per SMB1 server, "turning SMB1 off breaks these N clients" before the command that
//! turns it off. The run is fixtures/reports/current.jsonl (10.20.1.17 and 10.20.1.25 have SMB1
//! on); the clients file is what `smb1scan clients` writes (records plus the summary line).

use std::path::{Path, PathBuf};
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("clients-report-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn record(server: &str, client: &str, verdict: &str, ws: &str) -> String {
    serde_json::json!({
        "server": server, "server_name": null, "client": client, "verdict": verdict,
        "reason": null, "detail": "1 of 1 sessions offered only SMB1 dialects", "server_smb2": null,
        "ports": [445], "sessions": 1, "sessions_smb1_only": 1, "sessions_smb1_and_smb2": 0,
        "sessions_smb2_only": 0, "sessions_unknown": 0, "dialects": ["NT LM 0.12"],
        "client_netbios_name": null, "client_workstation": ws, "client_domain": null,
        "client_native_os": "Windows 5.1", "client_native_lanman": null, "client_log_name": null,
        "first_seen": "2026-11-20T08:00:00.000000Z", "last_seen": "2026-11-20T09:00:00.000000Z",
        "sources": ["ward3.pcap"]
    })
    .to_string()
}

#[test]
fn report_plan_names_the_clients_that_break_before_the_command() {
    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reports/current.jsonl");
    let clients = tmp("clients.jsonl");
    std::fs::write(
        &clients,
        [
            record("10.20.1.17", "10.20.9.4", "breaks", "MRI-CONSOLE"),
            record("10.20.1.17", "10.20.9.5", "breaks", "LAB-ANALYSER"),
            record("10.20.1.25", "10.20.9.6", "falls-back", "PC-42"),
            "{\"summary\":{}}".to_string(),
        ]
        .join("\n"),
    )
    .unwrap();
    let html = tmp("with.html");
    let o = Command::new(env!("CARGO_BIN_EXE_smb1scan"))
        .args(["report", "--clients"])
        .arg(&clients)
        .arg(&run)
        .arg("-o")
        .arg(&html)
        .args(["--no-summary"])
        .output()
        .unwrap();
    assert!(
        o.status.code().is_some(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    let line = "Turning SMB1 off on 10.20.1.17 breaks these 2 clients";
    let at = page
        .find(line)
        .unwrap_or_else(|| panic!("no breaking-clients line in the plan"));
    assert!(page[at..].contains("10.20.9.4 (MRI-CONSOLE, Windows 5.1)"));
    let section = &page[page[..at].rfind("<section").unwrap()..];
    let then = section
        .find("Then turn it off")
        .expect("the command follows");
    assert!(
        section.find(line).unwrap() < then,
        "before the command that turns SMB1 off"
    );
    assert!(
        !page.contains("Turning SMB1 off on 10.20.1.25"),
        "a client that falls back does not break"
    );

    // Without --clients the plan has no such line.
    let plain = tmp("without.html");
    Command::new(env!("CARGO_BIN_EXE_smb1scan"))
        .args(["report"])
        .arg(&run)
        .arg("-o")
        .arg(&plain)
        .args(["--no-summary"])
        .output()
        .unwrap();
    assert!(!std::fs::read_to_string(&plain)
        .unwrap()
        .contains("Turning SMB1 off on"));

    // An unreadable clients file is a usage error naming it, before anything is written.
    let o = Command::new(env!("CARGO_BIN_EXE_smb1scan"))
        .args(["report", "--clients", "/nonexistent/clients.jsonl"])
        .arg(&run)
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/clients.jsonl"));
}
