//! The issue-18 checks wired into the probe, on real bytes: the real binary scans the real-server
//! lab (`scripts/lab.sh up`: Samba SMB1 on / SMB1 off / signing mandatory, impacket) and each
//! check's section must be what its pure rules say for what those servers sent; nmap's
//! smb-os-discovery reads the same strings independently (cross-check).

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::OnceLock;

use common::*;
use serde_json::Value;

/// One scan of the four lab servers, shared by the tests of this file.
fn lab_scan() -> &'static BTreeMap<String, Value> {
    static SCAN: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    SCAN.get_or_init(|| {
        let mut args = vec!["scan"];
        args.extend(LAB_ADDRS);
        let (records, _) = run_smb1scan(&args);
        by_ip(&host_records_of(&records), &LAB_ADDRS)
    })
}

fn host_records_of(records: &[Value]) -> Vec<Value> {
    records
        .iter()
        .filter(|v| v.get("kind").is_none())
        .cloned()
        .collect()
}

fn section<'a>(r: &'a Value, check: &str) -> &'a Value {
    r.get(check)
        .unwrap_or_else(|| panic!("no `{check}` section: {r}"))
}

/// Every lab server is Samba (or impacket): no OS end-of-life verdict, each unknown with its
/// reason, never `supported`.
#[test]
fn eol_os_on_the_lab_is_unknown_with_its_reason() {
    if !require_lab() {
        return;
    }
    for ip in [SAMBA_SMB1_ON, SAMBA_SMB1_OFF, SAMBA_SIGNING] {
        let e = section(&lab_scan()[ip], "eol-os");
        assert_eq!(e["verdict"], "unknown", "{ip}: {e}");
        // SMB1 on: CAP_UNIX and "Samba 4.x" LAN manager; SMB1 off: NTLMSSP build 0.
        assert_eq!(e["reason"], "samba-host-os", "{ip}: {e}");
        assert!(e["judged_at"].is_string(), "{ip}: {e}");
    }
    // impacket's smbserver: a made-up NativeOS and NTLMSSP version 255.255.65535.
    let e = section(&lab_scan()[IMPACKET], "eol-os");
    assert_eq!(e["verdict"], "unknown", "{e}");
    assert!(e["reason"].is_string(), "{e}");
}

/// nmap's smb-os-discovery `os` and `lanmanager` for each host that answered it, from `-oX`.
fn nmap_os_discovery(addrs: &[&str]) -> BTreeMap<String, (String, String)> {
    let dir = scratch_dir("checks-lab-nmap");
    let xml = dir.join("os.xml");
    let out = Command::new("nmap")
        .args(["-Pn", "-n", "-p445", "--script", "smb-os-discovery", "-oX"])
        .arg(&xml)
        .args(addrs)
        .output()
        .expect("run nmap");
    assert!(
        out.status.success(),
        "nmap: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&xml).expect("nmap XML");
    let elem = |block: &str, key: &str| {
        let open = format!("<elem key=\"{key}\">");
        let at = block.find(&open)? + open.len();
        let end = block.get(at..)?.find("</elem>")?;
        block.get(at..at + end).map(str::to_owned)
    };
    let mut map = BTreeMap::new();
    for block in text.split("<host ").skip(1) {
        let Some(ip) = block
            .split("<address addr=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
        else {
            continue;
        };
        if let (Some(os), Some(lm)) = (elem(block, "os"), elem(block, "lanmanager")) {
            map.insert(ip.to_string(), (os, lm));
        }
    }
    map
}

/// smb-os-discovery reads NativeOS / NativeLanMan from its own SMB1 session setup: where it got
/// them, smb1scan recorded the same strings, and its `eol-os` section is what the rules say for
/// nmap's strings at the same date; where nmap got nothing (SMB1 off, impacket), smb1scan has
/// no NativeOS either and no verdict.
#[test]
fn nmap_smb_os_discovery_reads_the_same_strings() {
    if !require_lab() || !require_tool("nmap") {
        return;
    }
    use smb1scan::checks::eol_os::rules::{judge_builtin, OsIdentity};
    let nmap = nmap_os_discovery(&LAB_ADDRS);
    assert!(
        nmap.contains_key(SAMBA_SMB1_ON) && nmap.contains_key(SAMBA_SIGNING),
        "smb-os-discovery answers on the SMB1 Samba servers: {nmap:?}"
    );
    for ip in LAB_ADDRS {
        let r = &lab_scan()[ip];
        let e = section(r, "eol-os");
        match nmap.get(ip) {
            Some((os, lm)) => {
                assert_eq!(s(r, "/os/native_os"), Some(os.as_str()), "{ip}");
                assert_eq!(s(r, "/os/native_lanman"), Some(lm.as_str()), "{ip}");
                let at = e["judged_at"]
                    .as_str()
                    .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                    .unwrap_or_else(|| panic!("{ip}: judged_at {e}"));
                let f = judge_builtin(
                    &OsIdentity {
                        native_os: Some(os),
                        native_lanman: Some(lm),
                        ntlm_version: None,
                        cap_unix: false,
                    },
                    at,
                );
                assert_eq!(e["verdict"], f.verdict.as_str(), "{ip}: {e}");
                let want = smb1scan::checks::sambacry::rules::judge(Some(lm), false, true);
                let c = section(r, "sambacry");
                assert_eq!(c["verdict"], want.verdict.as_str(), "{ip}: {c}");
            }
            None => {
                assert!(
                    r["os"]["native_os"].is_null() || ip == IMPACKET,
                    "{ip}: {r}"
                );
                assert_ne!(e["verdict"], "supported", "{ip}: {e}");
                assert_ne!(e["verdict"], "end-of-life", "{ip}: {e}");
            }
        }
    }
}

/// The responder's persona `name`, served on an unprivileged loopback port of this test
/// process until the returned runtime is dropped; and that port.
fn serve_persona(name: &str) -> (tokio::runtime::Runtime, String) {
    let persona = smb1scan_responder::persona(name).unwrap_or_else(|| panic!("persona {name}"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let l = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = l.local_addr().expect("addr").port().to_string();
    rt.spawn(smb1scan_responder::serve(l, persona));
    (rt, port)
}

/// Scans persona `name` with the real binary (`extra`: more scan flags); its record and the
/// binary's output.
fn scan_persona(name: &str, extra: &[&str]) -> (Value, std::process::Output) {
    let (_rt, port) = serve_persona(name);
    let mut args = vec!["scan", "127.0.0.1", FLAG_PORTS, &port];
    args.extend(extra);
    let (records, out) = run_smb1scan(&args);
    let r = host_records_of(&records)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{name}: no record"));
    (r, out)
}

/// The lab's Samba (Debian's, whatever version it is) gets what the rules say for the version
/// its LAN manager string announces; SMB1 off gives no string: unknown with its reason.
#[test]
fn sambacry_on_the_lab_follows_the_announced_version() {
    if !require_lab() {
        return;
    }
    use smb1scan::checks::sambacry::rules::judge;
    for ip in [SAMBA_SMB1_ON, SAMBA_SIGNING] {
        let r = &lab_scan()[ip];
        let lm = s(r, "/os/native_lanman").unwrap_or_else(|| panic!("{ip}: no LAN manager {r}"));
        assert!(lm.starts_with("Samba "), "{ip}: {lm}");
        let c = section(r, "sambacry");
        let want = judge(Some(lm), false, true);
        assert_eq!(c["verdict"], want.verdict.as_str(), "{ip}: {c}");
        let v = want.version.map(|v| v.to_string());
        assert_eq!(c["version"].as_str(), v.as_deref(), "{ip}: {c}");
    }
    let c = section(&lab_scan()[SAMBA_SMB1_OFF], "sambacry");
    assert_eq!(c["verdict"], "unknown", "{c}");
    assert_eq!(c["reason"], "version-not-disclosed", "{c}");
}

/// The responder's Samba 4.5.9 NAS, through the real binary: in the range, the finding (and
/// `--fail-on sambacry` fails the run); its end-of-life verdict is unknown (Samba).
#[test]
fn sambacry_persona_through_the_binary() {
    let (r, _) = scan_persona("samba-4.5.9-nas", &[]);
    let c = section(&r, "sambacry");
    assert_eq!(c["verdict"], "likely-vulnerable", "{c}");
    assert_eq!(c["version"], "4.5.9", "{c}");
    assert!(
        c["summary"]
            .as_str()
            .is_some_and(|t| t.contains("write to")),
        "{c}"
    );
    assert_eq!(section(&r, "eol-os")["reason"], "samba-host-os", "{r}");
    // The gate: --fail-on sambacry exits 3 on it.
    let (_, out) = scan_persona("samba-4.5.9-nas", &["--fail-on", "sambacry"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
