//! Wireshark must find nothing malformed in smb1scan's traffic: capture a real scan of the lab's
//! SMB1-on Samba (127.0.0.2) on loopback with tshark, then ask tshark's dissectors for
//! `_ws.malformed || _ws.expert.severity >= error`, which must match no packet, and check that
//! the requests smb1scan sent are really in the capture (SMB1 NEGOTIATE and the SMB2 ones).
//!
//! Skipped (printed) without tshark or the lab, unless `CI` is set: then it fails.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// tshark as a capture in progress; stopped with SIGINT (so the pcapng is flushed) on drop.
struct Capture {
    child: Child,
}

impl Capture {
    fn start(filter: &str, file: &Path, log: &Path) -> Capture {
        let log_file = std::fs::File::create(log).expect("create tshark log");
        let child = Command::new("tshark")
            .args(["-i", "lo", "-f", filter, "-w"])
            .arg(file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start tshark");
        let cap = Capture { child };
        // tshark says "Capturing on 'Loopback: lo'" once the capture runs; give it up to 10 s.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if text.contains("Capturing on") {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // The message comes just before the socket is really reading: a margin.
        std::thread::sleep(Duration::from_secs(1));
        cap
    }

    fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// `tshark -r FILE -Y FILTER` with the given fields (one line per matching packet).
fn tshark_read(file: &Path, filter: &str, fields: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(file).args(["-Y", filter]);
    if !fields.is_empty() {
        cmd.args(["-T", "fields"]);
        for f in fields {
            cmd.args(["-e", f]);
        }
    }
    let out = cmd.output().expect("run tshark -r");
    assert!(
        out.status.success(),
        "tshark -r {} -Y {filter:?} failed: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn wireshark_finds_nothing_malformed_in_a_scan() {
    if !require_tool("tshark") || !require_lab() {
        return;
    }
    let dir = scratch_dir("wire-dissect");
    let pcap = dir.join("scan.pcapng");
    let log = dir.join("tshark.log");
    let mut cap = Capture::start(
        &format!("host {SAMBA_SMB1_ON} and tcp port 445"),
        &pcap,
        &log,
    );
    let (records, out) = run_smb1scan(&["scan", SAMBA_SMB1_ON]);
    std::thread::sleep(Duration::from_secs(1));
    cap.stop();
    let map = by_ip(&records, &[SAMBA_SMB1_ON]);
    assert_eq!(
        s(&map[SAMBA_SMB1_ON], "/status"),
        Some("open"),
        "scan did not reach the server: {}\nstderr: {}",
        map[SAMBA_SMB1_ON],
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        pcap.exists(),
        "tshark wrote no capture; its log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    let bad = tshark_read(
        &pcap,
        "_ws.malformed || _ws.expert.severity >= error",
        &[
            "frame.number",
            "ip.src",
            "ip.dst",
            "_ws.col.Info",
            "_ws.expert.message",
        ],
    );
    assert!(
        bad.is_empty(),
        "Wireshark flags packets as malformed or expert errors (capture kept at {}):\n{}",
        pcap.display(),
        bad.join("\n")
    );

    // What smb1scan sent is really there, and Wireshark dissected it as SMB.
    let to_server = format!("ip.dst == {SAMBA_SMB1_ON}");
    let smb1_neg = tshark_read(
        &pcap,
        &format!("{to_server} && smb.cmd == 0x72 && smb.flags.response == 0"),
        &["frame.number", "smb.dialect.name"],
    );
    assert!(
        !smb1_neg.is_empty(),
        "no SMB1 NEGOTIATE request from smb1scan in the capture ({})",
        pcap.display()
    );
    assert!(
        smb1_neg.iter().any(|l| l.contains("NT LM 0.12")),
        "SMB1 NEGOTIATE does not offer NT LM 0.12: {smb1_neg:?}"
    );
    // Every SMB1 request of the probe, dissected as what it is: NEGOTIATE (0x72),
    // SESSION_SETUP_ANDX (0x73), TREE_CONNECT_ANDX (0x75) to IPC$, TRANS (0x25) on \PIPE\
    // (PeekNamedPipe), TRANS2 (0x32) SESSION_SETUP 0x000e (the DoublePulsar ping).
    let smb1_cmds = tshark_read(
        &pcap,
        &format!("{to_server} && smb && smb.flags.response == 0"),
        &["smb.cmd", "smb.trans2.cmd", "smb.trans_name", "smb.path"],
    );
    let joined = smb1_cmds.join("\n");
    for (what, needle) in [
        ("SESSION_SETUP_ANDX", "0x73"),
        ("TREE_CONNECT_ANDX", "0x75"),
        ("TRANS on \\PIPE\\ (PeekNamedPipe)", "\\PIPE\\"),
        ("TRANS2 SESSION_SETUP (DoublePulsar ping)", "0x000e"),
        ("IPC$ tree connect path", "IPC$"),
    ] {
        assert!(
            joined.contains(needle),
            "no {what} request in the capture; SMB1 requests seen:\n{joined}"
        );
    }
    // SMB2 NEGOTIATEs: together they offer every dialect (the probe enumerates them).
    let smb2_neg = tshark_read(
        &pcap,
        &format!("{to_server} && smb2.cmd == 0 && smb2.flags.response == 0"),
        &["smb2.dialect"],
    );
    let offered = smb2_neg.join(",");
    for d in ["0x0202", "0x0210", "0x0300", "0x0302", "0x0311"] {
        assert!(
            offered.contains(d),
            "no SMB2 NEGOTIATE offers {d}; offered: {smb2_neg:?}"
        );
    }
    println!(
        "captured {} SMB1 NEGOTIATE, {} SMB1 requests in all ({smb1_cmds:?}), {} SMB2 NEGOTIATE",
        smb1_neg.len(),
        smb1_cmds.len(),
        smb2_neg.len(),
    );
    let _ = std::fs::remove_dir_all(&dir);
}
