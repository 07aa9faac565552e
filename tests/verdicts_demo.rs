//! Issue 3's verdict table, end to end: `smb1scan demo` starts the Windows-behaviour responder's
//! personas on loopback and scans them with the real engine and probe; every verdict, reason,
//! status, arch and OS field must be what the captured host it plays would really give.
//! Runs anywhere (no root: an unprivileged port), no lab needed.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use common::{bin, s, scratch_dir, strs};

/// Runs the demo on `base`:`port`, returns persona name -> record.
fn run_demo(base: &str, port: &str) -> (BTreeMap<String, Value>, i32) {
    let dir = scratch_dir("verdicts-demo");
    let out_path = dir.join("demo.jsonl");
    let out = Command::new(bin())
        .args(["demo", "--base", base, "--port", port, "-o"])
        .arg(&out_path)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run smb1scan demo: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "panic in demo:\n{stderr}");
    assert!(
        stderr.contains("SIMULATED"),
        "the demo must say its hosts are simulated:\n{stderr}"
    );
    // The banner names the persona on each address: "  127.0.41.1    win7-sp1-x64-unpatched ...".
    let mut persona_of = BTreeMap::new();
    for line in stderr.lines() {
        let mut words = line.split_whitespace();
        if let (Some(ip), Some(name)) = (words.next(), words.next()) {
            if ip.parse::<std::net::Ipv4Addr>().is_ok() && line.starts_with("  ") {
                persona_of.insert(ip.to_string(), name.to_string());
            }
        }
    }
    let text = std::fs::read_to_string(&out_path)
        .unwrap_or_else(|e| panic!("demo wrote no {}: {e}\n{stderr}", out_path.display()));
    let mut by_persona = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let rec: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSONL ({e}): {line}"));
        if rec.get("kind").is_some() {
            // The run's metadata line (its scope), not a record.
            continue;
        }
        let ip = s(&rec, "/ip").unwrap_or_default().to_string();
        let name = persona_of
            .get(&ip)
            .unwrap_or_else(|| panic!("{ip} is not in the demo banner:\n{stderr}"))
            .clone();
        assert!(
            by_persona.insert(name, rec).is_none(),
            "two records for {ip}"
        );
    }
    (by_persona, out.status.code().unwrap_or(-1))
}

/// The step named `name`, if it ran.
fn step<'a>(rec: &'a Value, name: &str) -> Option<&'a Value> {
    rec["steps"]
        .as_array()?
        .iter()
        .find(|st| st["name"] == name)
}

#[test]
fn every_persona_gets_its_real_verdict() {
    let (r, code) = run_demo("127.0.41.1", "44561");
    let get = |name: &str| -> &Value {
        r.get(name)
            .unwrap_or_else(|| panic!("no record for persona {name}; have {:?}", r.keys()))
    };

    // Unpatched Windows 7 SP1: the TRANS PeekNamedPipe answered 0xC0000205.
    let w7 = get("win7-sp1-x64-unpatched");
    assert_eq!(w7["smb1"]["enabled"], true);
    assert_eq!(s(w7, "/ms17_010/verdict"), Some("vulnerable"));
    assert_eq!(s(w7, "/ms17_010/status"), Some("0xC0000205"));
    assert_eq!(
        s(w7, "/ms17_010/status_name"),
        Some("STATUS_INSUFF_SERVER_RESOURCES")
    );
    assert_eq!(s(w7, "/doublepulsar/verdict"), Some("absent"));
    assert_eq!(w7["doublepulsar"]["reply_mid"], 65);
    assert_eq!(s(w7, "/os/product"), Some("Windows 7 SP1"));
    assert_eq!(s(w7, "/os/ntlm_version"), Some("6.1.7601"));
    assert_eq!(strs(w7, "/smb2/dialects"), ["2.0.2", "2.1"]);

    // The same host with the implant: reply MID 81, x64, and a key derived from the signature.
    let dp = get("win7-sp1-x64-doublepulsar");
    assert_eq!(s(dp, "/ms17_010/verdict"), Some("vulnerable"));
    assert_eq!(s(dp, "/doublepulsar/verdict"), Some("present"));
    assert_eq!(s(dp, "/doublepulsar/arch"), Some("x64"));
    assert_eq!(dp["doublepulsar"]["reply_mid"], 81);
    let key = s(dp, "/doublepulsar/xor_key").unwrap_or_default();
    assert!(key.len() == 10 && key.starts_with("0x"), "xor key {key:?}");

    // XP SP3 with the x86 implant, and no SMB2 at all.
    let xp = get("winxp-sp3-doublepulsar");
    assert_eq!(s(xp, "/ms17_010/verdict"), Some("vulnerable"));
    assert_eq!(s(xp, "/doublepulsar/verdict"), Some("present"));
    assert_eq!(s(xp, "/doublepulsar/arch"), Some("x86"));
    assert_eq!(s(xp, "/os/product"), Some("Windows XP"));
    assert_eq!(xp["smb2"]["enabled"], false);
    assert!(strs(xp, "/smb2/dialects").is_empty());

    // Patched Windows 10 with SMB1 still on: ACCESS_DENIED on the peek.
    let w10 = get("win10-patched-smb1-on");
    assert_eq!(s(w10, "/ms17_010/verdict"), Some("not-vulnerable"));
    assert_eq!(s(w10, "/ms17_010/status"), Some("0xC0000022"));
    assert_eq!(
        strs(w10, "/smb2/dialects"),
        ["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"]
    );

    // Patched 2008 R2: INVALID_HANDLE; signing required on both protocols.
    let s08 = get("win2008r2-patched");
    assert_eq!(s(s08, "/ms17_010/verdict"), Some("not-vulnerable"));
    assert_eq!(s(s08, "/ms17_010/status"), Some("0xC0000008"));
    assert_eq!(s(s08, "/smb1/signing"), Some("required"));
    assert_eq!(s(s08, "/smb2/signing"), Some("required"));

    // 2012 R2 refusing anonymous setup: ACCESS_DENIED at SESSION_SETUP is *not* a verdict.
    let s12 = get("win2012r2-anon-refused");
    assert_eq!(s(s12, "/ms17_010/verdict"), Some("unknown"));
    assert_eq!(s(s12, "/ms17_010/reason"), Some("session-setup-refused"));
    assert_eq!(s(s12, "/ms17_010/status"), Some("0xC0000022"));
    assert_eq!(s(s12, "/doublepulsar/verdict"), Some("not-tested"));
    assert_eq!(s(s12, "/os/ntlm_version"), Some("6.3.9600"));
    assert!(
        step(s12, "peek-named-pipe").is_none(),
        "the peek must not have run"
    );

    // DOS-style errors are protocol errors, never a verdict.
    let dos = get("winxp-dos-errors");
    assert_eq!(s(dos, "/ms17_010/verdict"), Some("unknown"));
    assert_eq!(s(dos, "/ms17_010/reason"), Some("dos-error"));
    assert!(
        s(dos, "/ms17_010/status")
            .unwrap_or_default()
            .starts_with("DOS:"),
        "{dos}"
    );

    // SMB1 off: RST after an SMB1-only negotiate; identity still known over SMB2 NTLMSSP.
    for (name, build, signing) in [
        ("win10-smb1-off", "10.0.19045", "enabled"),
        ("win2019-smb1-off", "10.0.17763", "required"),
    ] {
        let h = get(name);
        assert_eq!(h["smb1"]["enabled"], false, "{name}");
        assert_eq!(
            s(h, "/smb1/evidence"),
            Some("reset-after-negotiate"),
            "{name}"
        );
        assert_eq!(s(h, "/ms17_010/verdict"), Some("not-exposed"), "{name}");
        assert_eq!(s(h, "/ms17_010/reason"), Some("smb1-disabled"), "{name}");
        assert_eq!(s(h, "/os/ntlm_version"), Some(build), "{name}");
        assert_eq!(s(h, "/smb2/max_dialect"), Some("3.1.1"), "{name}");
        assert_eq!(s(h, "/smb2/signing"), Some(signing), "{name}");
        assert_eq!(s(h, "/status"), Some("open"), "{name}");
    }

    // Silent after the peek: unknown, and why.
    let silent = get("win7-silent-after-peek");
    assert_eq!(s(silent, "/ms17_010/verdict"), Some("unknown"));
    assert_eq!(s(silent, "/ms17_010/reason"), Some("timeout-after-peek"));
    // The ping runs on a fresh connection with its own session, where this host answers it.
    assert_eq!(s(silent, "/doublepulsar/verdict"), Some("absent"));

    // Nothing that did not run the PeekNamedPipe test is called vulnerable or not-vulnerable,
    // and every decided verdict carries the deciding step's status.
    for (name, rec) in &r {
        let v = s(rec, "/ms17_010/verdict").unwrap_or_default();
        if v == "vulnerable" || v == "not-vulnerable" {
            let peek = step(rec, "peek-named-pipe")
                .unwrap_or_else(|| panic!("{name}: {v} without a peek"));
            assert_eq!(peek["status"], rec["ms17_010"]["status"], "{name}");
            assert_eq!(s(peek, "/outcome"), Some(v), "{name}");
        }
        if v == "unknown" {
            assert!(
                rec["ms17_010"]["reason"].is_string(),
                "{name}: unknown without a reason"
            );
        }
    }
    // Default --fail-on (vulnerable, doublepulsar) is met: exit code 3.
    assert_eq!(code, 3, "exit code");
}
