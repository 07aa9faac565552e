//! Issue 12, "check every output before the first packet": a run whose outputs cannot all be
//! written stops before it scans and leaves no file behind; contradictory or idle output flags
//! are refused or warned about; `--dry-run` validates exactly as the real run does; config value
//! errors name the file and the key. Nothing here sends a packet anywhere but 127.0.0.0/8.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smb1scan"));
    c.env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
        .env("NO_COLOR", "1");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run smb1scan")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("smb1scan-outchk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmpdir");
    d
}

/// A loopback listener that counts accepted connections: any packet that reaches it is a scan.
fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.set_nonblocking(true).expect("nonblocking");
    let port = l.local_addr().expect("addr").port().to_string();
    (l, port)
}

#[test]
fn an_unwritable_html_stops_the_run_before_it_scans_and_leaves_no_file() {
    let d = tmpdir("unwritable");
    let csv = d.join("wards.csv");
    let jsonl = d.join("wards.jsonl");
    let (l, port) = listener();
    let o = bin()
        .args(["scan", "--no-config", "-q", "-p", &port, "-o"])
        .arg(&csv)
        .arg("-o")
        .arg(&jsonl)
        .args(["-o", "/nonexistent-dir-smb1scan/report.html", "127.0.0.1"])
        .output()
        .expect("run");
    // An output that cannot be written is a runtime error (exit 1, as the man page says), the
    // same whichever format: see tests/first_hour.rs.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("report.html"), "{}", stderr(&o));
    assert!(!csv.exists(), "a header-only CSV was left behind");
    assert!(!jsonl.exists(), "an empty JSON Lines file was left behind");
    assert!(
        l.accept().is_err(),
        "the host was scanned although an output was bad"
    );
    // The next run with a good output is not blocked by leftovers.
    let o = bin()
        .args([
            "scan",
            "--no-config",
            "-q",
            "-p",
            &port,
            "--host-timeout",
            "1s",
            "-o",
        ])
        .arg(&csv)
        .arg("127.0.0.1")
        .output()
        .expect("run");
    // The listener's backlog completes the connection and nothing answers: an undecided host,
    // exit 4 under the default policy (issue 16).
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(csv.exists());
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn standard_output_twice_is_refused() {
    let o = run(&["scan", "--no-config", "-o", "-", "-o", "-", "127.0.0.1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("-o - is given twice"), "{}", stderr(&o));
}

#[test]
fn excel_without_a_csv_output_is_warned_about() {
    let d = tmpdir("excel");
    // A port nothing listens on: the scan ends at once.
    let port = listener().1;
    let out = d.join("x.jsonl");
    let o = bin()
        .args(["scan", "--no-config", "--excel", "-p", &port, "-o"])
        .arg(&out)
        .arg("127.0.0.1")
        .output()
        .expect("run");
    assert!(stderr(&o).contains("--excel"), "{}", stderr(&o));
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn dry_run_refuses_o_and_validates_like_the_real_run() {
    let o = run(&[
        "scan",
        "--no-config",
        "--dry-run",
        "-o",
        "x.csv",
        "127.0.0.1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--dry-run"), "{}", stderr(&o));
    // A config typo that the real run rejects, the dry run rejects too, naming file and key.
    let d = tmpdir("dry-config");
    let cfg = d.join("site.toml");
    std::fs::write(&cfg, "[output]\nfail_on = [\"vulnerabel\"]\n").expect("write");
    for extra in [&["--dry-run"][..], &[][..]] {
        let o = bin()
            .args(["scan", "--config"])
            .arg(&cfg)
            .args(extra)
            .args(["-p", "1", "127.0.0.1"])
            .output()
            .expect("run");
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {e}");
        assert!(e.contains("site.toml"), "{extra:?}: names the file: {e}");
        assert!(
            e.contains("[output] fail_on"),
            "{extra:?}: names the key: {e}"
        );
        assert!(e.contains("vulnerabel"), "{extra:?}: names the value: {e}");
    }
    // A bad scan value names its file and key too.
    std::fs::write(&cfg, "[scan]\nconcurrency = 0\n").expect("write");
    let o = bin()
        .args(["scan", "--dry-run", "--config"])
        .arg(&cfg)
        .arg("127.0.0.1")
        .output()
        .expect("run");
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("site.toml") && e.contains("[scan] concurrency"),
        "{e}"
    );
    std::fs::remove_dir_all(&d).ok();
}

/// A port on which nothing listens (bound, then released): records come back at once.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Runs a scan with standard output piped, reads one line (as `| head -1` does), closes the
/// pipe, and returns the exit code and standard error.
fn scan_read_one_line(args: &[&str]) -> (Option<i32>, String) {
    use std::io::{BufRead, BufReader, Read};
    let mut child = bin()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("one line");
    assert!(line.starts_with('{') || line.starts_with("ip,"), "{line}");
    // The reader is dropped here: the pipe is closed, as when `head -1` exits.
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let status = child.wait().expect("wait");
    (status.code(), err)
}

#[test]
fn a_closed_pipe_never_passes_the_gate() {
    // 1,024 refused targets write far more than a pipe buffer holds, so the closed pipe is met.
    let port = closed_port().to_string();
    let (code, err) = scan_read_one_line(&[
        "scan",
        "--no-config",
        "--rate",
        "0",
        "-c",
        "256",
        "-p",
        &port,
        "127.0.79.0/22",
    ]);
    assert_eq!(
        code,
        Some(130),
        "standard output closed early and nothing met --fail-on: the interruption code, never 0\n{err}"
    );
    assert!(err.contains("standard output was closed"), "{err}");
}

#[test]
fn a_closed_pipe_does_not_stop_the_file_outputs() {
    let d = tmpdir("pipe-files");
    let csv = d.join("all.csv");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let net = rt
        .block_on(smb1scan_responder::start_network(
            "127.0.80.1".parse().expect("ip"),
            0,
        ))
        .expect("simulated hosts");
    // The unpatched Windows 7 persona, alone on its port, plus 1,024 refused targets on the same
    // port: whatever the scan order, the CSV must end up with every one of them.
    let vulnerable = net
        .hosts
        .iter()
        .find(|h| h.persona.name == "win7-sp1-x64-unpatched")
        .expect("persona");
    let port = vulnerable.addr.port().to_string();
    let ip = vulnerable.addr.ip().to_string();
    let csv_arg = csv.to_string_lossy().to_string();
    let (code, err) = scan_read_one_line(&[
        "scan",
        "--no-config",
        "--rate",
        "0",
        "-c",
        "256",
        "-p",
        &port,
        "-o",
        "-",
        "-o",
        &csv_arg,
        &ip,
        "127.0.84.0/22",
    ]);
    rt.block_on(net.shutdown());
    assert_eq!(code, Some(3), "the vulnerable host meets --fail-on\n{err}");
    let rows = csv::Reader::from_path(&csv).expect("csv").records().count();
    assert_eq!(
        rows, 1025,
        "the CSV was completed although stdout closed\n{err}"
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn nmap_xml_and_junit_are_written_by_a_real_run() {
    let d = tmpdir("xml-formats");
    let xml = d.join("sweep.xml");
    let junit = d.join("gate.junit.xml");
    let o = bin()
        .args(["demo", "--base", "127.0.86.1", "--port", "4458", "-q", "-o"])
        .arg(&xml)
        .arg("-o")
        .arg(&junit)
        .output()
        .expect("run demo");
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let x = std::fs::read_to_string(&xml).expect("nmap XML written");
    assert!(x.contains("<nmaprun"), "{x}");
    assert!(x.contains("id=\"smb-vuln-ms17-010\""), "{x}");
    assert!(x.contains("127.0.86.1"), "{x}");
    let j = std::fs::read_to_string(&junit).expect("JUnit written");
    assert!(j.contains("<testsuite"), "{j}");
    // The demo's three vulnerable hosts meet the default --fail-on.
    assert!(j.contains("failures=\"3\""), "{j}");
    // A .junit.xml name is JUnit, not nmap XML.
    assert!(!j.contains("<nmaprun"));
    std::fs::remove_dir_all(&d).ok();
}

/// Issue 12: man pages with NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS, EXAMPLES (verbatim,
/// not reflowed), FILES and SEE ALSO; `diff --help` names the real CSV columns.
#[test]
fn man_pages_have_every_section_and_verbatim_examples() {
    let d = tmpdir("man-sections");
    let o = bin()
        .args(["man", "--out-dir"])
        .arg(&d)
        .output()
        .expect("man");
    assert!(o.status.success(), "{}", stderr(&o));
    for page in ["smb1scan.1", "smb1scan-scan.1"] {
        let text = std::fs::read_to_string(d.join(page)).expect(page);
        for section in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH DESCRIPTION",
            ".SH OPTIONS",
            ".SH \"EXIT STATUS\"",
            ".SH EXAMPLES",
            ".SH FILES",
            ".SH \"SEE ALSO\"",
        ] {
            assert!(text.contains(section), "{page} lacks {section}");
        }
        assert!(text.contains("/etc/smb1scan/config.toml"), "{page}: FILES");
    }
    let scan = std::fs::read_to_string(d.join("smb1scan-scan.1")).expect("scan page");
    // Verbatim: a no-fill block, the continuation backslash kept at the end of its own line.
    let ex = &scan[scan.find(".SH EXAMPLES").expect("examples")..];
    assert!(ex.contains(".nf\n"), "{ex}");
    assert!(
        ex.lines()
            .any(|l| l.trim_start().starts_with("smb1scan scan -i wards.txt") && l.ends_with("\\e")),
        "the first line of a continued example stays one line:\n{ex}"
    );
    assert!(
        ex.lines().any(|l| l.trim() == "-o wards.csv -o wards.html"),
        "{ex}"
    );
    for code in ["0", "1", "2", "3", "130"] {
        assert!(
            scan.contains(&format!(".TP\n{code}\n")),
            "exit {code} explained"
        );
    }
    std::fs::remove_dir_all(&d).ok();

    let o = run(&["diff", "--help"]);
    let help = String::from_utf8_lossy(&o.stdout).replace('\n', " ");
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    let cols = smb1scan::report::diff::CSV_COLUMNS.join(", ");
    assert!(
        help.contains(&cols),
        "diff --help must list {cols}:\n{help}"
    );
}

/// `--append` cannot add to a one-document format; the refusal says how to get one. (A resumed
/// run writes documents: they cover the whole sweep, tests/resume_sweep.rs.)
#[test]
fn append_with_a_document_output_points_to_report() {
    let d = tmpdir("append-html");
    let o = bin()
        .args(["scan", "--no-config", "-p", "1", "--append", "-o"])
        .arg(d.join("r.jsonl"))
        .arg("-o")
        .arg(d.join("r.html"))
        .arg("127.0.0.1")
        .output()
        .expect("run");
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("smb1scan report"), "{e}");
    assert!(!d.join("r.html").exists());
    std::fs::remove_dir_all(&d).ok();
}

/// Standard output already closed when the run starts (the CSV header cannot even be written):
/// the gate still never passes.
#[test]
fn standard_output_closed_from_the_start_never_passes_the_gate() {
    let port = closed_port().to_string();
    let mut child = bin()
        .args([
            "scan",
            "--no-config",
            "-q",
            "--rate",
            "0",
            "--format",
            "csv",
            "-p",
            &port,
        ])
        .arg("127.0.93.0/22")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Close the reading end before the scanner writes anything.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
