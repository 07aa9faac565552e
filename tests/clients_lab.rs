//! `smb1scan clients` on captures this test makes itself: dumpcap (Wireshark's capture engine,
//! what tshark runs) on loopback while real clients (smbclient, impacket) talk to the lab's Samba
//! servers (127.0.0.2 SMB1 on, 127.0.0.3 SMB1 off). Written as pcap and pcapng, plain and gzip.
//!
//! Other tests scan the same servers from 127.0.0.1 at the same time, so each scenario logs in
//! with a user name of its own and tshark keeps only the TCP streams that carry it
//! (`ntlmssp.auth.username`); the binary then reads that file.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{require_lab, require_tool, scratch_dir, skip_or_fail, SAMBA_SMB1_OFF, SAMBA_SMB1_ON};
use serde_json::Value;

/// The impacket client: SMB1 only (`smb1`) or impacket's default multi-protocol NEGOTIATE.
const IMPACKET_CLIENT: &str = r#"
import sys
from impacket.smbconnection import SMBConnection
from impacket.smb import SMB_DIALECT
host, user, smb1 = sys.argv[1], sys.argv[2], sys.argv[3] == "smb1"
c = SMBConnection("*SMBSERVER", host, preferredDialect=SMB_DIALECT if smb1 else None, timeout=10)
try:
    c.login(user, "wrong-password")
except Exception as e:
    print("login refused as expected:", e)
"#;

struct Capture {
    child: Child,
    path: PathBuf,
}

/// Starts dumpcap on `lo` for port 445 of `server`, and waits until it captures.
fn start_capture(dir: &Path, name: &str, server: &str) -> Capture {
    let path = dir.join(format!("{name}-raw.pcapng"));
    let err = dir.join(format!("{name}-dumpcap.err"));
    let mut child = Command::new("dumpcap")
        .args([
            "-i",
            "lo",
            "-f",
            &format!("tcp port 445 and host {server}"),
            "-w",
        ])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("start dumpcap");
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        let e = std::fs::read_to_string(&err).unwrap_or_default();
        if e.contains("File:") {
            // The capture filter is compiled and the file open; give the socket a moment.
            std::thread::sleep(Duration::from_millis(300));
            return Capture { child, path };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "dumpcap did not start: {}",
        std::fs::read_to_string(&err).unwrap_or_default()
    );
}

fn stop_capture(mut c: Capture) -> PathBuf {
    std::thread::sleep(Duration::from_millis(300));
    // SIGINT: dumpcap flushes and closes the file.
    let pid = c.child.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let _ = c.child.wait();
    c.path
}

/// Keeps the streams whose NTLMSSP AUTHENTICATE names `user`, written as `format` (pcap or
/// pcapng), gzip-compressed when `gzip`.
fn cut(raw: &Path, user: &str, format: &str, gzip: bool) -> PathBuf {
    let o = Command::new("tshark")
        .args(["-r"])
        .arg(raw)
        .args([
            "-Y",
            &format!("ntlmssp.auth.username == \"{user}\""),
            "-T",
            "fields",
            "-e",
            "tcp.stream",
        ])
        .output()
        .expect("tshark");
    let streams: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect();
    assert!(
        !streams.is_empty(),
        "no stream of {user} in {}",
        raw.display()
    );
    let out = raw.with_file_name(format!("{user}.{format}"));
    let st = Command::new("tshark")
        .arg("-r")
        .arg(raw)
        .args([
            "-Y",
            &format!("tcp.stream in {{{}}}", streams.join(" ")),
            "-F",
            format,
            "-w",
        ])
        .arg(&out)
        .stderr(Stdio::null())
        .status()
        .expect("tshark -w");
    assert!(st.success());
    if !gzip {
        return out;
    }
    assert!(Command::new("gzip")
        .arg("-f")
        .arg(&out)
        .status()
        .unwrap()
        .success());
    PathBuf::from(format!("{}.gz", out.display()))
}

fn clients(file: &Path) -> (Vec<Value>, Value, i32) {
    let o = Command::new(common::bin())
        .args(["clients", "--all"])
        .arg(file)
        .output()
        .expect("run smb1scan clients");
    let lines: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON Lines"))
        .collect();
    let (summary, pairs): (Vec<Value>, Vec<Value>) =
        lines.into_iter().partition(|v| v.get("summary").is_some());
    assert_eq!(summary.len(), 1, "one summary line");
    (
        pairs,
        summary[0]["summary"].clone(),
        o.status.code().unwrap_or(-1),
    )
}

fn prerequisites() -> bool {
    if !require_lab() || !require_tool("tshark") || !require_tool("smbclient") {
        return false;
    }
    let dumpcap = Command::new("dumpcap")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !dumpcap {
        return skip_or_fail("dumpcap not installed");
    }
    let impacket = Command::new("python3")
        .args(["-c", "import impacket"])
        .status()
        .is_ok_and(|s| s.success());
    impacket || skip_or_fail("impacket not installed")
}

fn smbclient(server: &str, user: &str, extra: &[&str]) {
    let _ = Command::new("smbclient")
        .args([
            "-L",
            &format!("//{server}"),
            "-U",
            &format!("{user}%wrong-password"),
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn impacket(server: &str, user: &str, mode: &str) {
    let _ = Command::new("python3")
        .args(["-c", IMPACKET_CLIENT, server, user, mode])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn one_pair(pairs: &[Value], server: &str) -> Value {
    let mine: Vec<&Value> = pairs.iter().filter(|p| p["server"] == server).collect();
    assert_eq!(mine.len(), 1, "{pairs:?}");
    mine[0].clone()
}

#[test]
fn smbclient_nt1_only_breaks_pcap_and_gzip_pcapng() {
    if !prerequisites() {
        return;
    }
    let dir = scratch_dir("clients-lab-smbclient-nt1");
    let user = format!("cl{}nt1", std::process::id());
    let cap = start_capture(&dir, "nt1", SAMBA_SMB1_ON);
    smbclient(
        SAMBA_SMB1_ON,
        &user,
        &[
            "-m",
            "NT1",
            "--option=client min protocol=NT1",
            "--netbiosname=MRICONSOLE",
        ],
    );
    let raw = stop_capture(cap);
    for (format, gzip) in [("pcap", false), ("pcapng", true)] {
        let f = cut(&raw, &user, format, gzip);
        let (pairs, summary, code) = clients(&f);
        let p = one_pair(&pairs, SAMBA_SMB1_ON);
        assert_eq!(p["verdict"], "breaks", "{f:?}: {p}");
        assert_eq!(p["client_workstation"], "MRICONSOLE");
        assert_eq!(p["client_native_os"], "Unix");
        assert!(p["dialects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| !d.as_str().unwrap().starts_with("SMB 2")));
        assert_eq!(summary["problems"].as_array().unwrap().len(), 0);
        assert_eq!(code, 3, "a client that breaks: exit 3");
    }
}

#[test]
fn smbclient_multiprotocol_falls_back_on_smb1_off_server_gzip_pcap() {
    if !prerequisites() {
        return;
    }
    let dir = scratch_dir("clients-lab-smbclient-multi");
    let user = format!("cl{}multi", std::process::id());
    let cap = start_capture(&dir, "multi", SAMBA_SMB1_OFF);
    smbclient(SAMBA_SMB1_OFF, &user, &["--option=client min protocol=NT1"]);
    let raw = stop_capture(cap);
    for (format, gzip) in [("pcap", true), ("pcapng", false)] {
        let f = cut(&raw, &user, format, gzip);
        let (pairs, _, code) = clients(&f);
        let p = one_pair(&pairs, SAMBA_SMB1_OFF);
        assert_eq!(p["verdict"], "falls-back", "{f:?}: {p}");
        assert!(p["server_smb2"]
            .as_str()
            .unwrap()
            .contains("answered an SMB2 NEGOTIATE"));
        assert!(p["dialects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "SMB 2.???"));
        assert_eq!(code, 0, "every pair decided and none breaks: exit 0");
    }
}

#[test]
fn smbclient_smb2_only_is_counted_not_listed() {
    if !prerequisites() {
        return;
    }
    let dir = scratch_dir("clients-lab-smbclient-smb2");
    let user = format!("cl{}smb2", std::process::id());
    let cap = start_capture(&dir, "smb2", SAMBA_SMB1_ON);
    smbclient(SAMBA_SMB1_ON, &user, &[]);
    let raw = stop_capture(cap);
    let f = cut(&raw, &user, "pcapng", false);
    let o = Command::new(common::bin())
        .args(["clients"])
        .arg(&f)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(text.lines().count(), 1, "only the summary line: {text}");
    let s: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(s["summary"]["smb2_only"], 1);
    let (pairs, _, _) = clients(&f);
    assert_eq!(
        one_pair(&pairs, SAMBA_SMB1_ON)["verdict"],
        "smb2-only",
        "--all lists it"
    );
}

#[test]
fn impacket_smb1_breaks_and_multiprotocol_falls_back() {
    if !prerequisites() {
        return;
    }
    let dir = scratch_dir("clients-lab-impacket");
    let u1 = format!("im{}one", std::process::id());
    let u2 = format!("im{}multi", std::process::id());
    let cap = start_capture(&dir, "imp1", SAMBA_SMB1_ON);
    impacket(SAMBA_SMB1_ON, &u1, "smb1");
    let raw1 = stop_capture(cap);
    let cap = start_capture(&dir, "imp2", SAMBA_SMB1_OFF);
    impacket(SAMBA_SMB1_OFF, &u2, "multi");
    let raw2 = stop_capture(cap);
    let (pairs, _, _) = clients(&cut(&raw1, &u1, "pcap", true));
    assert_eq!(one_pair(&pairs, SAMBA_SMB1_ON)["verdict"], "breaks");
    let (pairs, _, _) = clients(&cut(&raw2, &u2, "pcapng", false));
    let p = one_pair(&pairs, SAMBA_SMB1_OFF);
    assert_eq!(p["verdict"], "falls-back", "{p}");
    assert_eq!(p["sessions_smb1_and_smb2"], 1);
}
