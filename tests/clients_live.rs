//! `smb1scan clients --interface lo --duration D` inside a network namespace this test makes:
//! a Python listener on 127.0.0.1:445 of the namespace and a Python client that sends an SMB1
//! NEGOTIATE offering only "NT LM 0.12" (the bytes of [MS-CIFS] 2.2.4.52.1), captured live by the
//! AF_PACKET socket and its kernel filter. Also: `--exclude` leaves the traffic out, and without
//! CAP_NET_RAW the run says so in one line and exits 2.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{netns_prerequisites, run_ok};

/// Listens on 445, reads what comes, closes; the client connects after a pause and sends an
/// SMB1-only NEGOTIATE.
const TRAFFIC: &str = r#"
import socket, threading, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 445)); srv.listen(1)
def serve():
    c, _ = srv.accept(); c.recv(4096); time.sleep(0.2); c.close()
threading.Thread(target=serve, daemon=True).start()
time.sleep(1.0)
dialects = b"\x02NT LM 0.12\x00"
smb = b"\xffSMB\x72" + b"\x00" * 4 + b"\x18" + b"\x01\xc8" + b"\x00" * 12 + b"\x00\x00" + b"\xff\xfe" + b"\x00\x00" + b"\x01\x00"
smb += b"\x00" + len(dialects).to_bytes(2, "little") + dialects
cl = socket.create_connection(("127.0.0.1", 445)); cl.sendall(len(smb).to_bytes(4, "big") + smb)
time.sleep(0.5); cl.close(); time.sleep(0.3)
"#;

struct Ns(String);

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn make_ns(tag: &str) -> Ns {
    let name = format!("smb1cl-{tag}-{}", std::process::id());
    let _ = Command::new("ip").args(["netns", "del", &name]).status();
    run_ok("ip", &["netns", "add", &name]);
    let ns = Ns(name);
    run_ok("ip", &["-n", &ns.0, "link", "set", "lo", "up"]);
    ns
}

fn live(ns: &Ns, extra: &[&str]) -> (Vec<serde_json::Value>, serde_json::Value, i32) {
    let child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            common::bin(),
            "clients",
            "--interface",
            "lo",
            "--duration",
            "3s",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start smb1scan clients");
    std::thread::sleep(Duration::from_millis(300));
    let traffic = Command::new("ip")
        .args(["netns", "exec", &ns.0, "python3", "-c", TRAFFIC])
        .status()
        .expect("python3");
    assert!(traffic.success());
    let o = child.wait_with_output().unwrap();
    let mut lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = lines.pop().expect("summary line")["summary"].clone();
    (lines, summary, o.status.code().unwrap_or(-1))
}

#[test]
fn live_capture_in_a_namespace_sees_an_smb1_only_client() {
    if !netns_prerequisites(&[("python3", "--version")]) {
        return;
    }
    let ns = make_ns("live");
    let (pairs, summary, code) = live(&ns, &[]);
    assert_eq!(pairs.len(), 1, "{pairs:?} {summary}");
    assert_eq!(pairs[0]["verdict"], "breaks");
    assert_eq!(pairs[0]["dialects"], serde_json::json!(["NT LM 0.12"]));
    assert_eq!(summary["inputs"], serde_json::json!(["live:lo"]));
    // The loopback rule keeps one copy of each packet: no segment counted as a retransmission.
    assert_eq!(summary["tracker"]["retransmissions"], 0, "{summary}");
    assert_eq!(code, 3);
}

#[test]
fn live_capture_honours_exclusions() {
    if !netns_prerequisites(&[("python3", "--version")]) {
        return;
    }
    let ns = make_ns("excl");
    let (pairs, summary, _) = live(&ns, &["--exclude", "127.0.0.0/8"]);
    assert!(pairs.is_empty(), "{pairs:?}");
    assert!(
        summary["tracker"]["segments_excluded"].as_u64().unwrap() > 0,
        "{summary}"
    );
}

#[test]
fn live_capture_without_cap_net_raw_says_so() {
    if !netns_prerequisites(&[("setpriv", "--version")]) {
        return;
    }
    let o = Command::new("setpriv")
        .args(["--inh-caps=-all", "--bounding-set=-net_raw", "--"])
        .args([
            common::bin(),
            "clients",
            "--interface",
            "lo",
            "--duration",
            "1s",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("CAP_NET_RAW"), "{err}");
}
