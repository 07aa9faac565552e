//! End-to-end tests: the real `smb1scan` binary against real SMB servers on loopback
//! (`scripts/lab.sh up`: Samba SMB1 on / SMB1 off / signing mandatory, impacket smbserver), a
//! closed port and a silent peer; plus the nmap cross-check (`scripts/nmap-crosscheck.py`).
//!
//! Without the lab every test prints `SKIPPED: lab not running (scripts/lab.sh up)` and passes;
//! with `CI` set a missing lab fails them (see tests/common/mod.rs).
//!
//! The expected values below were read off the lab with nmap 7.93 (smb-protocols,
//! smb2-security-mode, smb-security-mode, smb-vuln-ms17-010) and raw negotiates, Samba 4.17.12,
//! impacket 0.13.1:
//! - Samba offers SMB2 dialects 2.0.2, 2.1, 3.0, 3.0.2, 3.1.1 whatever its SMB1 setting.
//! - Samba with SMB1 off answers an SMB1-only NEGOTIATE with WordCount 1, DialectIndex 0xFFFF.
//! - SMB1 SecurityMode: Samba auto 0x07 (signing enabled), mandatory 0x0f (required),
//!   impacket 0x03 (disabled). SMB2: Samba enabled (required when mandatory), impacket enabled.
//! - impacket answers every single-dialect SMB2 NEGOTIATE with 2.0.2, whatever was offered: its
//!   list is just `["2.0.2"]`, and a scanner that trusts the offer instead of the reply is wrong.
//! - PeekNamedPipe on FID 0: Samba STATUS_INVALID_HANDLE, impacket STATUS_NOT_IMPLEMENTED.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const ALL_SMB2: [&str; 5] = ["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"];

/// One scan of the four lab servers, shared by the tests of this file (it is the same scan a user
/// runs: `smb1scan scan 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5`).
fn lab_scan() -> &'static std::collections::BTreeMap<String, Value> {
    static SCAN: OnceLock<std::collections::BTreeMap<String, Value>> = OnceLock::new();
    SCAN.get_or_init(|| {
        let mut args = vec!["scan"];
        args.extend(LAB_ADDRS);
        let (records, out) = run_smb1scan(&args);
        eprintln!(
            "smb1scan scan {LAB_ADDRS:?}: {}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        for r in &records {
            eprintln!("{r}");
        }
        by_ip(&records, &LAB_ADDRS)
    })
}

fn rec(ip: &str) -> &'static Value {
    &lab_scan()[ip]
}

#[test]
fn every_lab_server_is_open() {
    if !require_lab() {
        return;
    }
    for ip in LAB_ADDRS {
        let r = rec(ip);
        assert_eq!(s(r, "/status"), Some("open"), "{ip}: {r}");
        assert_eq!(r["port"], 445, "{ip}");
        assert!(r["error"].is_null(), "{ip}: error {}", r["error"]);
    }
}

#[test]
fn smb1_enabled_true_false_true_true() {
    if !require_lab() {
        return;
    }
    let want = [
        (SAMBA_SMB1_ON, true, "dialect-selected"),
        (SAMBA_SMB1_OFF, false, "dialect-index-none"),
        (SAMBA_SIGNING, true, "dialect-selected"),
        (IMPACKET, true, "dialect-selected"),
    ];
    for (ip, enabled, evidence) in want {
        let r = rec(ip);
        assert_eq!(r["smb1"]["enabled"], Value::Bool(enabled), "{ip}: {r}");
        assert_eq!(s(r, "/smb1/evidence"), Some(evidence), "{ip}: {r}");
        if enabled {
            assert_eq!(s(r, "/smb1/dialect"), Some("NT LM 0.12"), "{ip}: {r}");
        } else {
            assert!(r["smb1"]["dialect"].is_null(), "{ip}: {r}");
        }
    }
}

#[test]
fn smb2_dialect_lists() {
    if !require_lab() {
        return;
    }
    for ip in [SAMBA_SMB1_ON, SAMBA_SMB1_OFF, SAMBA_SIGNING] {
        let r = rec(ip);
        assert_eq!(strs(r, "/smb2/dialects"), ALL_SMB2, "{ip}: {r}");
        assert_eq!(s(r, "/smb2/max_dialect"), Some("3.1.1"), "{ip}: {r}");
        assert_eq!(r["smb2"]["enabled"], Value::Bool(true), "{ip}: {r}");
    }
    let r = rec(IMPACKET);
    assert_eq!(strs(r, "/smb2/dialects"), ["2.0.2"], "impacket: {r}");
    assert_eq!(s(r, "/smb2/max_dialect"), Some("2.0.2"), "impacket: {r}");
}

#[test]
fn signing_required_only_on_mandatory_server() {
    if !require_lab() {
        return;
    }
    let want = [
        (SAMBA_SMB1_ON, Some("enabled"), "enabled"),
        (SAMBA_SMB1_OFF, None, "enabled"),
        (SAMBA_SIGNING, Some("required"), "required"),
        (IMPACKET, Some("disabled"), "enabled"),
    ];
    for (ip, smb1, smb2) in want {
        let r = rec(ip);
        assert_eq!(s(r, "/smb1/signing"), smb1, "{ip} smb1.signing: {r}");
        assert_eq!(s(r, "/smb2/signing"), Some(smb2), "{ip} smb2.signing: {r}");
    }
}

#[test]
fn ms17_010_verdicts_on_real_servers() {
    if !require_lab() {
        return;
    }
    // Samba: reaches IPC$ anonymously and answers the PeekNamedPipe STATUS_INVALID_HANDLE.
    for ip in [SAMBA_SMB1_ON, SAMBA_SIGNING] {
        let r = rec(ip);
        assert_eq!(
            s(r, "/ms17_010/verdict"),
            Some("not-vulnerable"),
            "{ip}: {r}"
        );
        assert_eq!(
            s(r, "/ms17_010/status").map(str::to_ascii_uppercase),
            Some("0XC0000008".to_string()),
            "{ip}: {r}"
        );
        assert_eq!(r["os"]["samba"], Value::Bool(true), "{ip}: {r}");
        assert!(
            s(r, "/os/native_lanman").is_some_and(|l| l.contains("Samba")),
            "{ip}: {r}"
        );
    }
    // SMB1 off: the flaw cannot be reached.
    let r = rec(SAMBA_SMB1_OFF);
    assert_eq!(s(r, "/ms17_010/verdict"), Some("not-exposed"), "{r}");
    assert_eq!(s(r, "/ms17_010/reason"), Some("smb1-disabled"), "{r}");
    // impacket answers STATUS_NOT_IMPLEMENTED: no verdict, and says why (nmap says NOT VULNERABLE).
    let r = rec(IMPACKET);
    assert_eq!(s(r, "/ms17_010/verdict"), Some("unknown"), "{r}");
    assert_eq!(s(r, "/ms17_010/reason"), Some("unexpected-status"), "{r}");
    assert_eq!(
        s(r, "/ms17_010/status").map(str::to_ascii_uppercase),
        Some("0XC0000002".to_string()),
        "{r}"
    );
    // None of them carries an implant; SMB1-off has no session to ping over.
    for ip in LAB_ADDRS {
        assert_ne!(s(rec(ip), "/doublepulsar/verdict"), Some("present"), "{ip}");
    }
    assert_eq!(
        s(rec(SAMBA_SMB1_OFF), "/doublepulsar/verdict"),
        Some("not-tested")
    );
}

#[test]
fn closed_port_is_closed() {
    // Needs no lab: runs everywhere.
    // 127.0.0.9: nothing of the lab's there; a refused connect must say `closed`.
    const ADDR: &str = "127.0.0.9";
    if port_accepts(ADDR, 445) {
        panic!("{ADDR}:445 unexpectedly accepts connections; cannot test a closed port");
    }
    let (records, _) = run_smb1scan(&["scan", ADDR]);
    let map = by_ip(&records, &[ADDR]);
    let r = &map[ADDR];
    assert_eq!(s(r, "/status"), Some("closed"), "{r}");
    assert!(r["smb1"]["enabled"].is_null(), "{r}");
    assert!(strs(r, "/smb2/dialects").is_empty(), "{r}");
}

#[test]
fn silent_peer_times_out() {
    // Needs no lab: runs everywhere.
    // A peer that accepts and never answers (holds each connection open, reads and discards).
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener");
    let port = listener.local_addr().expect("local addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    let port_s = port.to_string();
    let started = Instant::now();
    let (records, _) = run_smb1scan(&[
        "scan",
        "127.0.0.1",
        FLAG_PORTS,
        &port_s,
        FLAG_READ_TIMEOUT,
        SHORT_TIMEOUT,
    ]);
    let took = started.elapsed();
    let map = by_ip(&records, &["127.0.0.1"]);
    let r = &map["127.0.0.1"];
    assert_eq!(s(r, "/status"), Some("timeout"), "{r}");
    assert_eq!(r["port"], port, "{r}");
    assert!(r["smb1"]["enabled"].is_null(), "{r}");
    assert_eq!(s(r, "/smb1/evidence"), Some("timeout"), "{r}");
    // The read timeout bounds the host: a few exchanges of 1 s each, not the 30 s host default.
    assert!(
        took < Duration::from_secs(20),
        "silent peer held the scan {took:?}"
    );
}

/// `--read-timeout` value used against the silent peer.
const SHORT_TIMEOUT: &str = "1s";

#[test]
fn nmap_agrees_with_smb1scan() {
    if !require_lab() || !require_tool("nmap") {
        return;
    }
    let script = repo_root().join("scripts/nmap-crosscheck.py");
    let out = Command::new("python3")
        .arg(&script)
        .env("SMB1SCAN", bin())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "nmap-crosscheck.sh found disagreements ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // It compared all four servers.
    for ip in LAB_ADDRS {
        assert!(
            stdout.contains(ip),
            "{ip} missing from the cross-check table"
        );
    }
}

/// The lab-only account scripts/lab.sh creates on every Samba instance.
const LAB_USER: &str = "smb1scanlab";
const LAB_PASSWORD: &str = "Lab-Only-Passw0rd";

/// Scans `ip` with the lab account and `password` (through --password-env, as users are told to).
fn credentialed_scan(ip: &str, password: &str) -> (Value, String) {
    let out = Command::new(bin())
        .args([
            "scan",
            ip,
            "--user",
            LAB_USER,
            "--password-env",
            "SMB1SCAN_TEST_PW",
            "--no-summary",
            "-v",
        ])
        .env("SMB1SCAN_TEST_PW", password)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run smb1scan: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !stdout.contains(password) && !stderr.contains(password),
        "the password leaked"
    );
    let rec = serde_json::from_str(stdout.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("no JSON record ({e}):\n{stdout}\n{stderr}"));
    (rec, stderr)
}

fn step_detail<'a>(rec: &'a Value, name: &str) -> Option<&'a str> {
    rec["steps"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)?["detail"]
        .as_str()
}

#[test]
fn credentialed_scan_logs_in_with_ntlmv2() {
    if !require_lab() {
        return;
    }
    let (r, _) = credentialed_scan(SAMBA_SMB1_ON, LAB_PASSWORD);
    let detail = step_detail(&r, "session-setup").unwrap_or_default();
    assert!(
        detail.starts_with("NTLMv2 with the given credentials"),
        "{detail}"
    );
    assert!(
        !detail.contains("guest"),
        "a real login, not a guest mapping: {detail}"
    );
    assert_eq!(s(&r, "/ms17_010/verdict"), Some("not-vulnerable"));
    assert_eq!(s(&r, "/ms17_010/status"), Some("0xC0000008"));
}

#[test]
fn credentialed_scan_signs_when_the_server_requires_it() {
    if !require_lab() {
        return;
    }
    // Samba with `server signing = mandatory` drops an authenticated session that does not sign.
    let (r, _) = credentialed_scan(SAMBA_SIGNING, LAB_PASSWORD);
    let detail = step_detail(&r, "session-setup").unwrap_or_default();
    assert!(detail.ends_with("requests signed"), "{detail}");
    assert_eq!(s(&r, "/ms17_010/verdict"), Some("not-vulnerable"), "{r}");
    assert_eq!(s(&r, "/doublepulsar/verdict"), Some("absent"), "{r}");
}

/// Issue 11, login chain: a refused account is not the end (nmap's order: given account, then
/// `guest`, then anonymous). Samba refuses the wrong password and accepts the anonymous session,
/// which then runs the tests; every attempt is a step with its status.
#[test]
fn wrong_password_falls_back_along_the_login_chain() {
    if !require_lab() {
        return;
    }
    let (r, _) = credentialed_scan(SAMBA_SMB1_ON, "not-the-password");
    let setups: Vec<(String, String)> = r["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|st| st["name"] == "session-setup")
        .map(|st| {
            (
                st["detail"].as_str().unwrap_or_default().to_owned(),
                st["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        setups.first().is_some_and(|(d, st)| {
            d.starts_with("NTLMv2 with the given credentials") && st == "0xC000006D"
        }),
        "{setups:?}"
    );
    assert!(setups.len() >= 2, "{setups:?}");
    assert_eq!(s(&r, "/ms17_010/verdict"), Some("not-vulnerable"));
    assert_eq!(s(&r, "/doublepulsar/verdict"), Some("absent"));
}
