//! Exclusions proven by capture: the real binary scans a /24 inside a network namespace this test
//! creates, with `--exclude` (a single address, a short range, a /28) and `--exclude-file`, while
//! tshark captures every IPv4 packet in the namespace. The test fails if a single packet went to
//! an excluded address, and also if any address that was not excluded went unprobed (so it fails
//! in both directions).
//!
//! The /24 is 198.18.77.0/24 (RFC 2544 benchmarking space) made local to the namespace's own
//! loopback (`ip route add local ... dev lo`): every address answers port 445 with a RST from the
//! kernel, and nothing can leave the namespace, which has no interface but `lo`.
//!
//! A second test does the same for SYN discovery (issue 13): `smb1scan scan --discovery syn`
//! with the same exclusions must put no packet on the wire to an excluded address and a SYN to
//! every other one (and its records must come from the SYN sweep).
//!
//! Needs root, `ip` and `tshark`. Without them it prints `SKIPPED: ...` and passes, unless the
//! `CI` environment variable is set, in which case it fails.

mod common;

use common::{is_root, run_ok, tool_runs};

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const NET: [u8; 3] = [198, 18, 77];
/// A canary outside the scanned /24 (namespace-local too): connected to before and after the scan,
/// so the capture provably covers the whole scan.
const CANARY: &str = "198.18.78.1";

/// Skips (prints and returns) or, under CI, fails.
macro_rules! skip_or_fail {
    ($($arg:tt)*) => {{
        let msg = format!($($arg)*);
        if std::env::var_os("CI").is_some() {
            panic!("CI is set, so this may not be skipped: {msg}");
        }
        eprintln!("SKIPPED: {msg}");
        return;
    }};
}

/// The namespace, and the processes started in it; dropping it stops them and deletes the
/// namespace, whether the test passed or panicked.
struct Netns {
    name: String,
    children: Vec<Child>,
}

impl Netns {
    fn create() -> Netns {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("smb1scan-excl-{}-{nanos}", std::process::id());
        run_ok("ip", &["netns", "add", &name]);
        let ns = Netns {
            name,
            children: Vec::new(),
        };
        ns.exec_ok(&["ip", "link", "set", "lo", "up"]);
        // Every address of the /24 (and the canary's /24) is local to the namespace.
        ns.exec_ok(&["ip", "route", "add", "local", "198.18.77.0/24", "dev", "lo"]);
        ns.exec_ok(&["ip", "route", "add", "local", "198.18.78.0/24", "dev", "lo"]);
        ns
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }

    fn exec_ok(&self, args: &[&str]) -> Output {
        let mut full = vec!["netns", "exec", self.name.as_str()];
        full.extend_from_slice(args);
        run_ok("ip", &full)
    }

    /// Refuses to go on unless the namespace's only interface is `lo` and every route is on it.
    fn assert_isolated(&self) {
        let links = String::from_utf8_lossy(&self.exec_ok(&["ip", "-o", "link", "show"]).stdout)
            .into_owned();
        let names: Vec<&str> = links.lines().filter_map(|l| l.split(": ").nth(1)).collect();
        assert_eq!(names, ["lo"], "namespace has other interfaces: {links}");
        for fam in ["-4", "-6"] {
            let routes = String::from_utf8_lossy(
                &self
                    .exec_ok(&["ip", fam, "route", "show", "table", "all"])
                    .stdout,
            )
            .into_owned();
            for r in routes.lines().filter(|l| !l.trim().is_empty()) {
                assert!(
                    r.contains(" dev lo") && !r.starts_with("default"),
                    "namespace has a route off lo: {r}"
                );
            }
        }
    }

    /// A TCP connect to `addr:445` from inside the namespace (answered by a RST).
    fn poke(&self, addr: &str) {
        let _ = self
            .cmd(&[
                "timeout",
                "2",
                "bash",
                "-c",
                &format!("exec 3<>/dev/tcp/{addr}/445"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Anything else still running in OUR namespace was started by this test.
        if let Ok(o) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// The addresses of 198.18.77.0/24 the test excludes, computed here independently of smb1scan.
fn excluded() -> BTreeSet<Ipv4Addr> {
    let mut s = BTreeSet::new();
    let a = |last: u8| Ipv4Addr::new(NET[0], NET[1], NET[2], last);
    s.insert(a(5)); // --exclude 198.18.77.5
    s.extend((20..=29).map(a)); // --exclude 198.18.77.20-29
    s.extend((64..=79).map(a)); // --exclude 198.18.77.64/28
    s.insert(a(200)); // exclude file: 198.18.77.200
    s.extend((240..=243).map(a)); // exclude file: 198.18.77.240/30
    s.extend((250..=252).map(a)); // exclude file: 198.18.77.250-198.18.77.252
    s
}

fn exclude_flags(file: &Path) -> Vec<String> {
    vec![
        "--exclude".into(),
        "198.18.77.5,198.18.77.20-29".into(),
        "--exclude".into(),
        "198.18.77.64/28".into(),
        "--exclude-file".into(),
        file.display().to_string(),
    ]
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("smb1scan-exclusion-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Destination addresses of the packets in the capture, and the addresses a SYN to port 445 went
/// to.
fn captured(pcap: &Path) -> (BTreeSet<Ipv4Addr>, BTreeSet<Ipv4Addr>) {
    let o = run_ok(
        "tshark",
        &[
            "-r",
            &pcap.display().to_string(),
            "-T",
            "fields",
            "-e",
            "ip.dst",
            "-e",
            "tcp.dstport",
            "-e",
            "tcp.flags.syn",
            "-e",
            "tcp.flags.ack",
        ],
    );
    let mut dst = BTreeSet::new();
    let mut syn445 = BTreeSet::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        // A packet that carries another IP header (an ICMP error) lists every ip.dst, comma
        // separated: each one counts.
        let ips: Vec<Ipv4Addr> = f
            .first()
            .map(|s| s.split(',').filter_map(|a| a.parse().ok()).collect())
            .unwrap_or_default();
        let Some(&ip) = ips.first() else {
            continue;
        };
        dst.extend(ips.iter().copied());
        let field = |i: usize| f.get(i).copied().unwrap_or("");
        // Flags print as 1/0 (tshark 4.0) or True/False (later versions).
        let set = |i: usize| matches!(field(i), "1" | "True");
        if field(1) == "445" && set(2) && !set(3) {
            syn445.insert(ip);
        }
    }
    (dst, syn445)
}

/// The exclude file (`--exclude-file`) of both tests.
fn write_exclude_file(dir: &Path) -> PathBuf {
    let excl_file = dir.join("exclude.txt");
    std::fs::write(
        &excl_file,
        "# life-critical devices\n198.18.77.200\n198.18.77.240/30  # infusion pumps\n\n\
         198.18.77.250-198.18.77.252\n",
    )
    .expect("write exclude file");
    excl_file
}

/// The targets `smb1scan scan --dry-run` lists with the test's exclusions, in scan order.
fn dry_run(ns: &Netns, excl_file: &Path) -> Vec<Ipv4Addr> {
    let mut dry = ns.cmd(&[
        env!("CARGO_BIN_EXE_smb1scan"),
        "scan",
        "--no-config",
        "--dry-run",
    ]);
    dry.args(exclude_flags(excl_file)).arg("198.18.77.0/24");
    let dry = dry.output().expect("dry run");
    assert!(dry.status.success(), "dry run failed: {dry:?}");
    String::from_utf8_lossy(&dry.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(":445"))
        .filter_map(|a| a.parse().ok())
        .collect()
}

/// Starts tshark on every IPv4 packet in the namespace, waits until it captures, and pokes the
/// canary once (the start mark). Returns tshark's pid.
fn start_capture(ns: &mut Netns, pcap: &Path) -> u32 {
    let mut tshark = ns
        .cmd(&[
            "tshark",
            "-n",
            "-i",
            "any",
            // Every IPv4 packet, not only TCP: no packet of any kind may reach an excluded host.
            "-f",
            "ip",
            "-w",
            &pcap.display().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tshark");
    let tshark_pid = tshark.id();
    // tshark says "Capturing on 'any'" once the capture is live.
    let (tx, rx) = mpsc::channel();
    if let Some(err) = tshark.stderr.take() {
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if !sent && line.contains("Capturing on") {
                    let _ = tx.send(());
                    sent = true;
                }
            }
        });
    }
    ns.children.push(tshark);
    rx.recv_timeout(Duration::from_secs(30))
        .expect("tshark did not start capturing within 30 s");
    std::thread::sleep(Duration::from_millis(500));
    ns.poke(CANARY);
    tshark_pid
}

/// Lets the last packets reach the capture, marks the end with the canary, and stops tshark with
/// SIGINT so it writes out what it has.
fn stop_capture(ns: &mut Netns, tshark_pid: u32) {
    ns.poke(CANARY);
    std::thread::sleep(Duration::from_secs(1));
    let _ = Command::new("kill")
        .args(["-INT", &tshark_pid.to_string()])
        .status();
    if let Some(c) = ns.children.first_mut() {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn excluded_addresses_get_no_packet() {
    if !is_root() {
        skip_or_fail!("needs root (network namespace and packet capture)");
    }
    if !tool_runs("ip", "-V") {
        skip_or_fail!("`ip` (iproute2) not found");
    }
    if !tool_runs("tshark", "--version") {
        skip_or_fail!("`tshark` not found");
    }

    scan_under_capture("connect");
}

/// SYN discovery keeps the exclusion guarantee: `smb1scan scan --discovery syn`, with the same
/// exclusions, sends no packet of any kind to an excluded address and a SYN to every other one,
/// each of which the namespace's kernel answers with a RST (`closed`).
#[test]
fn syn_sweep_sends_no_packet_to_excluded_addresses() {
    if !is_root() {
        skip_or_fail!("needs root (network namespace, raw sockets and packet capture)");
    }
    if !tool_runs("ip", "-V") {
        skip_or_fail!("`ip` (iproute2) not found");
    }
    if !tool_runs("tshark", "--version") {
        skip_or_fail!("`tshark` not found");
    }
    scan_under_capture("syn");
}

/// Scans the /24 with the test's exclusions in discovery `mode` (`connect` or `syn`) under a
/// capture, and checks the capture and the report in both directions.
fn scan_under_capture(mode: &str) {
    let dir = tmpdir(mode);
    let pcap = dir.join("scan.pcapng");
    let excl_file = write_exclude_file(&dir);
    let jsonl = dir.join("scan.jsonl");

    let mut ns = Netns::create();
    ns.assert_isolated();

    let excl = excluded();
    let all: BTreeSet<Ipv4Addr> = (0..=255u8)
        .map(|l| Ipv4Addr::new(NET[0], NET[1], NET[2], l))
        .collect();
    let expected: BTreeSet<Ipv4Addr> = all.difference(&excl).copied().collect();
    assert_eq!(excl.len(), 1 + 10 + 16 + 1 + 4 + 3);

    // The dry run lists exactly the expected targets (and sends nothing).
    let listed: BTreeSet<Ipv4Addr> = dry_run(&ns, &excl_file).into_iter().collect();
    assert_eq!(listed, expected, "dry run lists the wrong targets");

    let tshark_pid = start_capture(&mut ns, &pcap);

    let t0 = Instant::now();
    let mut scan = ns.cmd(&[
        env!("CARGO_BIN_EXE_smb1scan"),
        "scan",
        "--quiet",
        "--no-config",
        "--fail-on",
        "none",
        "--connect-timeout",
        "300ms",
        "--read-timeout",
        "1s",
        "--host-timeout",
        "3s",
        "--retries",
        "0",
        "--concurrency",
        "64",
        "--rate",
        "0",
        "--discovery",
        mode,
        "-o",
        &jsonl.display().to_string(),
    ]);
    scan.args(exclude_flags(&excl_file)).arg("198.18.77.0/24");
    let out = scan.output().expect("run smb1scan");
    assert!(
        out.status.success(),
        "scan failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let scan_time = t0.elapsed();

    stop_capture(&mut ns, tshark_pid);

    let (dst, syn445) = captured(&pcap);
    let canary: Ipv4Addr = CANARY.parse().expect("canary address");
    assert!(
        dst.contains(&canary),
        "the capture missed the canary connects: it does not cover the scan"
    );

    // 1. Not one packet to an excluded address.
    let leaked: Vec<&Ipv4Addr> = dst.intersection(&excl).collect();
    assert!(
        leaked.is_empty(),
        "packets went to EXCLUDED addresses: {leaked:?}"
    );
    // 2. Every other address of the /24 was probed (a SYN to port 445 in the capture).
    let missed: Vec<&Ipv4Addr> = expected.difference(&syn445).collect();
    assert!(
        missed.is_empty(),
        "{} non-excluded addresses were never probed: {missed:?}",
        missed.len()
    );
    // 3. Nothing else in the scanned /24 was touched (only the canary outside it).
    let stray: Vec<&Ipv4Addr> = dst
        .iter()
        .filter(|a| **a != canary && !expected.contains(a))
        .collect();
    assert!(
        stray.is_empty(),
        "packets to unexpected addresses: {stray:?}"
    );

    // 4. The report has one record per expected address, none for an excluded one.
    let text = std::fs::read_to_string(&jsonl).expect("read scan output");
    let mut reported = BTreeSet::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("valid JSON line");
        if v.get("kind").is_some() {
            // The run's metadata (its scope), not a record.
            continue;
        }
        let ip: Ipv4Addr = v["ip"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("ip field");
        assert_eq!(v["status"], "closed", "{line}");
        // The mode that was asked decided the port (the SYN sweep, or the probe's connect).
        let step = if mode == "syn" { "syn" } else { "connect" };
        assert_eq!(v["steps"][0]["name"], step, "{line}");
        assert!(reported.insert(ip), "{ip} reported twice");
    }
    assert_eq!(reported, expected, "report does not match the targets");
    eprintln!(
        "exclusion capture ({mode}): {} addresses probed, {} excluded and untouched, scan {:.1} s",
        syn445.len(),
        excl.len(),
        scan_time.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
