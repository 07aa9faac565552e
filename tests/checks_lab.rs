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

/// SMBGhost through the real binary: the responder's Windows 10 1909 with compression (likely
/// exposed to both), the patched 1909 that discloses a start after both fixes (unknown,
/// booted-after-fix); `--fail-on smbghost` fails the run on the first only.
#[test]
fn smbghost_personas_through_the_binary() {
    let (r, out) = scan_persona("win10-1909-compression", &["--fail-on", "smbghost"]);
    let g = section(&r, "smbghost");
    assert_eq!(g["verdict"], "likely-vulnerable", "{g}");
    assert_eq!(g["smbleed"], "likely-vulnerable", "{g}");
    assert_eq!(g["build"], 18363, "{g}");
    assert!(!strs(&r, "/smbghost/compression").is_empty(), "{g}");
    assert_eq!(out.status.code(), Some(3), "{r}");
    let (r, out) = scan_persona("win10-1909-patched-rebooted", &["--fail-on", "smbghost"]);
    let g = section(&r, "smbghost");
    assert_eq!(
        (&g["verdict"], &g["reason"]),
        (&Value::from("unknown"), &Value::from("booted-after-fix")),
        "{g}"
    );
    // Unknown is not the finding; the default undecided gate is not asked for here.
    assert_eq!(out.status.code(), Some(0), "{r}");
}

/// The lab: Samba (SMB 3.1.1, no compression context in its answer) is not vulnerable on that
/// evidence; impacket chooses 2.0.2, below 3.1.1.
#[test]
fn smbghost_on_the_lab() {
    if !require_lab() {
        return;
    }
    for ip in [SAMBA_SMB1_ON, SAMBA_SMB1_OFF, SAMBA_SIGNING] {
        let g = section(&lab_scan()[ip], "smbghost");
        assert_eq!(g["verdict"], "not-vulnerable", "{ip}: {g}");
        assert_eq!(g["reason"], "compression-not-offered", "{ip}: {g}");
        assert_eq!(g["dialect_311"], true, "{ip}: {g}");
    }
    let g = section(&lab_scan()[IMPACKET], "smbghost");
    assert_eq!(
        (&g["verdict"], &g["reason"]),
        (&Value::from("not-vulnerable"), &Value::from("no-smb311")),
        "{g}"
    );
}

/// The COMPRESSION_CAPABILITIES context smb1scan sends ([MS-SMB2] 2.2.3.1.3: type 3, length
/// 14, count 3, flags 0, LZ77, LZ77+Huffman, LZNT1).
const COMPRESSION_CONTEXT: [u8; 22] = [
    3, 0, 14, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 2, 0, 3, 0, 1, 0,
];

/// A proxy in front of `upstream` that never answers a message carrying the compression
/// context (it reads and drops it, keeping the connection open: a slow host that answers
/// everything else), or with `all` never answers anything; its port.
fn stalling_proxy(
    rt: &tokio::runtime::Runtime,
    upstream: std::net::SocketAddr,
    all: bool,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = l.local_addr().expect("addr").port().to_string();
    rt.spawn(async move {
        while let Ok((mut client, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut first = vec![0u8; 4096];
                let n = client.read(&mut first).await.unwrap_or(0);
                first.truncate(n);
                if all
                    || first
                        .windows(COMPRESSION_CONTEXT.len())
                        .any(|w| w == COMPRESSION_CONTEXT)
                {
                    let mut sink = [0u8; 4096];
                    while client.read(&mut sink).await.unwrap_or(0) > 0 {}
                    return;
                }
                let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                if up.write_all(&first).await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut up).await;
                }
            });
        }
    });
    port
}

/// A host that stalls on the new exchange (the compression context) but answers everything
/// else keeps every verdict and SMB2 fact it has without the check, within the per-host
/// deadline; smbghost alone is unknown, with its reason.
#[test]
fn a_host_stalling_on_the_compression_context_keeps_its_other_verdicts() {
    for name in ["win7-sp1-x64-unpatched", "win10-1909-compression"] {
        let (rt, direct) = serve_persona(name);
        let upstream: std::net::SocketAddr = format!("127.0.0.1:{direct}").parse().expect("addr");
        let proxied = stalling_proxy(&rt, upstream, false);
        let flags = ["--read-timeout", "1s", "--host-timeout", "10s"];
        let scan = |port: &str| {
            let mut args = vec!["scan", "127.0.0.1", FLAG_PORTS, port];
            args.extend(flags);
            let (records, _) = run_smb1scan(&args);
            host_records_of(&records)
                .into_iter()
                .next()
                .expect("a record")
        };
        let plain = scan(&direct);
        let slow = scan(&proxied);
        // (The proxy turns the persona's RST into a close, so SMB1's evidence may differ.)
        for p in [
            "/smb1/enabled",
            "/ms17_010",
            "/doublepulsar",
            "/os",
            "/smb2/dialects",
            "/smb2/signing",
            "/smb2/max_dialect",
            "/signing/verdict",
            "/eol-os/verdict",
            "/sambacry/verdict",
        ] {
            let (mut a, mut b) = (plain.pointer(p).cloned(), slow.pointer(p).cloned());
            for v in [&mut a, &mut b].into_iter().flatten() {
                if let Some(o) = v.as_object_mut() {
                    o.remove("server_time");
                }
            }
            assert_eq!(a, b, "{name} {p}: direct {plain}\nstalling {slow}");
        }
        let g = section(&slow, "smbghost");
        assert_eq!(
            (&g["verdict"], &g["reason"]),
            (&Value::from("unknown"), &Value::from("no-smb2-answer")),
            "{name}: {g}"
        );
        let ms = slow["duration_ms"].as_u64().expect("duration_ms");
        assert!(ms < 10_000, "{name}: {ms} ms, past the host deadline");
        assert!(
            slow["steps"].as_array().is_some_and(|s| s
                .iter()
                .any(|s| s["name"] == "smb2-negotiate" && s["outcome"] == "timeout")),
            "{name}: the stalled negotiate is a step: {slow}"
        );
        drop(rt);
    }
}

/// A host silent from the first exchange on is not asked the plain negotiate a second time
/// (the retry is for hosts that answered the SMB1 steps): one SMB2 negotiate step, smbghost
/// unknown.
#[test]
fn a_silent_host_gets_no_second_negotiate() {
    let (rt, direct) = serve_persona("win10-1909-compression");
    let upstream: std::net::SocketAddr = format!("127.0.0.1:{direct}").parse().expect("addr");
    let proxied = stalling_proxy(&rt, upstream, true);
    let args = [
        "scan",
        "127.0.0.1",
        FLAG_PORTS,
        &proxied,
        "--read-timeout",
        "1s",
        "--host-timeout",
        "10s",
    ];
    let (records, _) = run_smb1scan(&args);
    let r = host_records_of(&records)
        .into_iter()
        .next()
        .expect("a record");
    let negotiates = r["steps"].as_array().map_or(0, |s| {
        s.iter().filter(|s| s["name"] == "smb2-negotiate").count()
    });
    assert_eq!(negotiates, 1, "{r}");
    assert_eq!(section(&r, "smbghost")["verdict"], "unknown", "{r}");
    drop(rt);
}
