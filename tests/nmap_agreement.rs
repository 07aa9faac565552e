//! smb1scan's nmap XML against nmap's own (issue 16): the simulated Windows hosts (the demo's
//! personas, on port 445, so root) are scanned once by `nmap -p445 --script
//! smb-vuln-ms17-010,smb-double-pulsar-backdoor -oX` and once by `smb1scan scan -o x.xml`; both
//! files are read with python-libnmap, and for each of the two script ids the set of hosts that
//! carry it must be the same. A vulnerability manager counting findings per script id then
//! lists the same hosts whichever tool wrote the file.
//!
//! Where nmap's scripts cannot test a persona, nmap prints nothing for it (its scripts say NOT
//! VULNERABLE, which default verbosity omits), and so does smb1scan's file: the three personas
//! smb1scan leaves `unknown` (session setup refused, DOS errors, silence after the peek) carry no
//! vulnerability element in either file; their `unknown` and its reason are in the `smb1scan`
//! element only, which this test checks too.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use common::{bin, is_root, scratch_dir, skip_or_fail};

/// Simulated hosts for this test, away from the other tests' addresses.
const BASE: Ipv4Addr = Ipv4Addr::new(127, 0, 163, 1);

const SCRIPTS: [&str; 2] = ["smb-vuln-ms17-010", "smb-double-pulsar-backdoor"];

/// script id -> the addresses whose host carries it, and address -> the `smb1scan` element's
/// `ms17_010` value for port 445 (absent from nmap's file), as python-libnmap reads `file`.
type View = (BTreeMap<String, BTreeSet<String>>, BTreeMap<String, String>);

fn libnmap_view(py: &Path, file: &Path) -> View {
    const SCRIPT: &str = r#"
import json, sys
from libnmap.parser import NmapParser
r = NmapParser.parse_fromfile(sys.argv[1])
by_script = {}
ms17 = {}
for h in r.hosts:
    for s in h.scripts_results:
        by_script.setdefault(s["id"], []).append(h.address)
        if s["id"] == "smb1scan":
            ms17[h.address] = s.get("elements", {}).get("445/tcp", {}).get("ms17_010", "")
print(json.dumps({"by_script": by_script, "ms17": ms17}))
"#;
    let out = Command::new(py)
        .args([OsStr::new("-c"), OsStr::new(SCRIPT), file.as_os_str()])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "libnmap on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    #[derive(serde::Deserialize)]
    struct V {
        by_script: BTreeMap<String, BTreeSet<String>>,
        ms17: BTreeMap<String, String>,
    }
    let v: V = serde_json::from_slice(&out.stdout).expect("JSON from the libnmap script");
    (v.by_script, v.ms17)
}

/// A Python that imports libnmap: the lab's venv, else python3.
fn python_with_libnmap() -> Option<std::path::PathBuf> {
    let lab = std::env::var_os("SMB1SCAN_LAB_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("/tmp/smb1scan-lab"));
    [lab.join("venv/bin/python3"), "python3".into()]
        .into_iter()
        .find(|py| {
            Command::new(py)
                .args(["-c", "import libnmap"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

#[test]
fn hosts_per_vulnerability_script_match_nmaps_own_xml() {
    if !is_root() {
        skip_or_fail("needs root: the simulated hosts listen on port 445, where nmap's scripts go");
        return;
    }
    if !common::tool_runs("nmap", "--version") {
        skip_or_fail("nmap not installed (scripts/lab.sh install)");
        return;
    }
    let Some(py) = python_with_libnmap() else {
        skip_or_fail("no python3 with python-libnmap (scripts/lab.sh install)");
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let net = match rt.block_on(smb1scan_responder::start_network(BASE, 445)) {
        Ok(n) => n,
        Err(e) => {
            skip_or_fail(&format!(
                "cannot start the simulated hosts on port 445: {e:#}"
            ));
            return;
        }
    };
    let addrs: Vec<String> = net.hosts.iter().map(|h| h.addr.ip().to_string()).collect();
    let dir = scratch_dir("nmap-agreement");
    let nmap_xml = dir.join("nmap.xml");
    let ours_xml = dir.join("smb1scan.xml");

    let nmap = Command::new("nmap")
        .args(["-n", "-Pn", "-sT", "-p445", "--script"])
        .arg(SCRIPTS.join(","))
        .arg("-oX")
        .arg(&nmap_xml)
        .args(&addrs)
        .output()
        .expect("run nmap");
    assert!(
        nmap.status.success(),
        "nmap: {}",
        String::from_utf8_lossy(&nmap.stderr)
    );
    let ours = Command::new(bin())
        .arg("scan")
        .args(&addrs)
        .args(["-q", "--no-config", "--read-timeout", "2s", "-o"])
        .arg(&ours_xml)
        .output()
        .expect("run smb1scan");
    rt.block_on(net.shutdown());
    // 3: vulnerable and infected hosts meet the default --fail-on.
    assert_eq!(
        ours.status.code(),
        Some(3),
        "smb1scan: {}",
        String::from_utf8_lossy(&ours.stderr)
    );

    let (theirs, _) = libnmap_view(&py, &nmap_xml);
    let (mine, ms17) = libnmap_view(&py, &ours_xml);
    for id in SCRIPTS {
        let a = theirs.get(id).cloned().unwrap_or_default();
        let b = mine.get(id).cloned().unwrap_or_default();
        assert_eq!(
            a,
            b,
            "{id}: nmap lists {a:?}, smb1scan {b:?}\nnmap: {}\nsmb1scan: {}",
            nmap_xml.display(),
            ours_xml.display()
        );
    }
    // The comparison has teeth: the simulated network holds both findings.
    let ip = |i: u8| Ipv4Addr::from(u32::from(BASE) + u32::from(i) - 1).to_string();
    let want_ms17: BTreeSet<String> = [1, 2, 3].map(ip).into();
    let want_dp: BTreeSet<String> = [2, 3].map(ip).into();
    assert_eq!(theirs.get(SCRIPTS[0]), Some(&want_ms17));
    assert_eq!(theirs.get(SCRIPTS[1]), Some(&want_dp));
    // Every host keeps its full state in the smb1scan element, the undecided ones included.
    let all: BTreeSet<String> = addrs.iter().cloned().collect();
    assert_eq!(mine.get("smb1scan"), Some(&all));
    for (i, verdict) in [
        (6, "unknown"),
        (7, "unknown"),
        (10, "unknown"),
        (8, "not-exposed"),
    ] {
        assert_eq!(
            ms17.get(&ip(i)).map(String::as_str),
            Some(verdict),
            "{ms17:?}"
        );
    }
}

/// The signing check's nmap scripts against nmap's own on the lab's real Samba servers
/// (127.0.0.2 signing supported, 127.0.0.4 `server signing = mandatory`): for
/// `smb-security-mode` the same `message_signing`, `authentication_level` and
/// `challenge_response`, for `smb2-security-mode` the same dialect key and text, as
/// python-libnmap reads both files.
#[test]
fn signing_scripts_match_nmaps_on_the_lab() {
    if !common::require_lab() {
        return;
    }
    if !common::tool_runs("nmap", "--version") {
        skip_or_fail("nmap not installed (scripts/lab.sh install)");
        return;
    }
    let Some(py) = python_with_libnmap() else {
        skip_or_fail("no python3 with python-libnmap (scripts/lab.sh install)");
        return;
    };
    const LAB: [&str; 2] = ["127.0.0.2", "127.0.0.4"];
    let dir = scratch_dir("nmap-signing");
    let (theirs, ours) = (dir.join("nmap.xml"), dir.join("smb1scan.xml"));
    let nmap = Command::new("nmap")
        .args(["-n", "-Pn", "-sT", "-p445", "--script"])
        .arg("smb-security-mode,smb2-security-mode")
        .arg("-oX")
        .arg(&theirs)
        .args(LAB)
        .output()
        .expect("run nmap");
    assert!(
        nmap.status.success(),
        "{}",
        String::from_utf8_lossy(&nmap.stderr)
    );
    let scan = Command::new(bin())
        .arg("scan")
        .args(LAB)
        .args(["-q", "--no-config", "--fail-on", "none", "-o"])
        .arg(&ours)
        .output()
        .expect("run smb1scan");
    assert_eq!(
        scan.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    const SCRIPT: &str = r#"
import json, sys
from libnmap.parser import NmapParser
out = {}
for h in NmapParser.parse_fromfile(sys.argv[1]).hosts:
    for s in h.scripts_results:
        if s["id"] in ("smb-security-mode", "smb2-security-mode"):
            e = dict(s.get("elements", {}))
            e.pop("account_used", None)
            out[h.address + " " + s["id"]] = e
print(json.dumps(out, sort_keys=True))
"#;
    let view = |f: &Path| {
        let o = Command::new(&py)
            .args([OsStr::new("-c"), OsStr::new(SCRIPT), f.as_os_str()])
            .output()
            .expect("python");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<BTreeMap<String, serde_json::Value>>(&o.stdout).expect("json")
    };
    let (a, b) = (view(&theirs), view(&ours));
    assert_eq!(a.len(), 4, "nmap's file: {a:?}");
    assert_eq!(
        a,
        b,
        "nmap {} vs smb1scan {}",
        theirs.display(),
        ours.display()
    );
    // Teeth: the two servers differ.
    let signing = |k: &str| a.get(k).and_then(|e| e.get("message_signing")).cloned();
    assert_ne!(
        signing("127.0.0.2 smb-security-mode"),
        signing("127.0.0.4 smb-security-mode")
    );
}
