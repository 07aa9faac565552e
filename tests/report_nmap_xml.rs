//! nmap XML report (issue 12): `report::nmap_xml::render` over the fixture records and over a
//! real `smb1scan demo` run, checked by what reads nmap XML in the field: `xmllint` against
//! nmap's DTD, `ndiff` (one host changed between two renderings), `xsltproc` with nmap's own
//! `nmap.xsl`, and python-libnmap. Plus the mapping rules: up/down/total, an unknown verdict
//! never shown as NOT VULNERABLE, vulnerability elements only where nmap prints them (default
//! verbosity), two ports of one address in one host, control characters.
//!
//! The report layer is compiled into this test from its sources (the crate is a binary).
//! fixtures/reports/sample.xml and baseline.xml must equal today's rendering of sample.json and
//! baseline.jsonl (`SMB1SCAN_BLESS=1 cargo test --test report_nmap_xml` re-records them).

mod common;
use smb1scan::model;
use smb1scan::report;
mod xml_reports;

use std::ffi::OsStr;
use std::path::Path;

use model::{DpVerdict, HostResult, HostStatus, Ms17Verdict, Reason, Smb1Evidence};
use report::nmap_xml::{make_cpe, render};
use report::ScanMeta;
use serde_json::Value;
use xml_reports::{
    baseline, check_fixture, demo_run, enriched, python_with, require_cmd, run, sample, text,
};

const NMAP_DTD: &str = "/usr/share/nmap/nmap.dtd";
const NMAP_XSL: &str = "/usr/share/nmap/nmap.xsl";

fn render_all(meta: &ScanMeta, hosts: &[HostResult]) -> String {
    String::from_utf8(render(meta, &enriched(hosts)).expect("render")).expect("UTF-8")
}

/// The text of `<host>...</host>` for `ip`.
fn host_block<'a>(xml: &'a str, ip: &str) -> &'a str {
    let at = xml
        .find(&format!("addr=\"{ip}\""))
        .unwrap_or_else(|| panic!("no host {ip}"));
    let start = xml[..at].rfind("<host").expect("host start");
    let end = at + xml[at..].find("</host>").expect("host end");
    &xml[start..end]
}

fn open_host(hosts: &[HostResult]) -> HostResult {
    hosts
        .iter()
        .find(|h| h.status == HostStatus::Open)
        .expect("an open host")
        .clone()
}

fn write(dir: &Path, name: &str, xml: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, xml).expect("write XML");
    p
}

/// `xmllint --dtdvalid nmap.dtd`: passes, or panics with xmllint's complaints.
fn assert_dtd_valid(p: &Path) {
    let out = run(
        "xmllint",
        &[
            OsStr::new("--noout"),
            OsStr::new("--dtdvalid"),
            OsStr::new(NMAP_DTD),
            p.as_os_str(),
        ],
    );
    assert!(
        out.status.success(),
        "{} is not valid against nmap.dtd:\n{}",
        p.display(),
        text(&out.stderr)
    );
}

/// A host with one of everything the mapping has to handle.
fn awkward_hosts() -> Vec<HostResult> {
    let (_, hosts) = sample();
    let open = open_host(&hosts);
    let mut on139 = open.clone();
    on139.port = 139;
    on139.status = HostStatus::Closed;
    let mut timed_out = open.clone();
    timed_out.ip = "10.9.9.9".parse().expect("ip");
    timed_out.status = HostStatus::Timeout;
    timed_out.smb1.enabled = None;
    timed_out.smb1.evidence = Smb1Evidence::Timeout;
    timed_out.ms17_010.verdict = Ms17Verdict::Unknown;
    timed_out.ms17_010.reason = Some(Reason::TimeoutAfterNegotiate);
    timed_out.doublepulsar.verdict = DpVerdict::NotTested;
    let mut cut = open.clone();
    cut.ip = "10.9.9.10".parse().expect("ip");
    cut.status = HostStatus::Interrupted;
    let mut v6 = open.clone();
    v6.ip = "fd00::10".parse().expect("ip");
    v6.hostname = Some("pacs.clinic.example".into());
    vec![open, on139, timed_out, cut, v6]
}

#[test]
fn fixtures_are_todays_rendering() {
    let (meta, hosts) = sample();
    check_fixture("sample.xml", render_all(&meta, &hosts).as_bytes());
    let (meta, hosts) = baseline();
    check_fixture("baseline.xml", render_all(&meta, &hosts).as_bytes());
}

#[test]
fn counts_and_states_follow_the_records() {
    let (meta, hosts) = sample();
    let xml = render_all(&meta, &hosts);
    let silent = hosts
        .iter()
        .filter(|h| h.status == HostStatus::Filtered)
        .count();
    assert!(silent > 0, "the sample has a target that did not answer");
    let answered = hosts.len() - silent;
    assert!(xml.contains(&format!(
        "<hosts up=\"{answered}\" down=\"{silent}\" total=\"{}\"/>",
        hosts.len()
    )));
    assert_eq!(xml.matches("<host ").count(), hosts.len());
    assert!(xml.contains("exit=\"success\""));
    assert!(
        xml.contains("elapsed=\"41.00\""),
        "sample.json: 09:00:00 to 09:00:41"
    );
    assert!(xml.contains("<finished time=\"1795683641\""));
    for h in &hosts {
        let block = host_block(&xml, &h.ip.to_string());
        match h.status {
            HostStatus::Open => {
                assert!(block.contains("<status state=\"up\""), "{block}");
                assert!(block.contains("<state state=\"open\""), "{block}");
                assert!(block.contains("<service name=\"microsoft-ds\""), "{block}");
            }
            HostStatus::Filtered => {
                assert!(block.contains("<status state=\"down\""), "{block}");
                assert!(block.contains("<state state=\"filtered\""), "{block}");
                assert!(!block.contains("smb-vuln-ms17-010"), "{block}");
                assert!(
                    block.contains("<elem key=\"ms17_010_reason\">connect-timeout</elem>"),
                    "{block}"
                );
            }
            _ => {}
        }
        // As nmap at default verbosity: the vulnerability elements for findings only.
        assert_eq!(
            block.contains("id=\"smb-vuln-ms17-010\""),
            h.ms17_010.verdict == Ms17Verdict::Vulnerable,
            "{}\n{block}",
            h.ip
        );
        assert_eq!(
            block.contains("id=\"smb-double-pulsar-backdoor\""),
            h.doublepulsar.verdict == DpVerdict::Present,
            "{}\n{block}",
            h.ip
        );
        assert!(!block.contains("NOT VULNERABLE") && !block.contains("UNKNOWN ("));
        if h.ms17_010.verdict == Ms17Verdict::Vulnerable {
            assert!(block.contains("<elem key=\"state\">VULNERABLE</elem>"));
        }
        // Every record carries smb1scan's own verdict, reason and risk.
        let ms17 = report::enum_name(&h.ms17_010.verdict);
        assert!(block.contains(&format!("<elem key=\"ms17_010\">{ms17}</elem>")));
        assert!(block.contains(&format!(
            "<elem key=\"risk\">{}</elem>",
            report::risk::risk(h)
        )));
    }
}

#[test]
fn unknown_is_never_not_vulnerable() {
    // A host whose session setup was refused: nmap's script would say NOT VULNERABLE.
    let (meta, hosts) = sample();
    let mut h = open_host(&hosts);
    h.ms17_010.verdict = Ms17Verdict::Unknown;
    h.ms17_010.reason = Some(Reason::SessionSetupRefused);
    h.ms17_010.status_name = Some("STATUS_ACCESS_DENIED".to_string());
    h.doublepulsar.verdict = DpVerdict::NotTested;
    let xml = render_all(&meta, &[h]);
    // No vulnerability element (nmap prints none for a host it could not test), and never
    // NOT VULNERABLE: the unknown and its reason are in the smb1scan element.
    assert!(!xml.contains("smb-vuln-ms17-010"), "{xml}");
    assert!(!xml.contains("NOT VULNERABLE"), "{xml}");
    assert!(
        !xml.contains("smb-double-pulsar-backdoor"),
        "never pinged: no claim either way"
    );
    assert!(xml.contains("<elem key=\"ms17_010\">unknown</elem>"));
    assert!(xml.contains("<elem key=\"ms17_010_reason\">session-setup-refused</elem>"));
    assert!(xml.contains("<elem key=\"ms17_010_status\">STATUS_ACCESS_DENIED</elem>"));
}

#[test]
fn ports_of_one_address_timeouts_and_interruptions() {
    let (meta, _) = sample();
    let hosts = awkward_hosts();
    let xml = render_all(&meta, &hosts);
    // One host for both ports of an address.
    assert_eq!(xml.matches("<host ").count(), 4, "{xml}");
    let both = host_block(&xml, &hosts[0].ip.to_string());
    assert!(both.contains("portid=\"445\""));
    assert!(both.contains("portid=\"139\""));
    assert!(both.contains("<service name=\"netbios-ssn\""));
    assert!(both.contains("<state state=\"closed\" reason=\"conn-refused\""));
    assert_eq!(both.matches("<hostscript>").count(), 1);
    // A port that accepted and then went silent: the host answered, its verdict is unknown.
    let t = host_block(&xml, "10.9.9.9");
    assert!(t.contains("<status state=\"up\""), "{t}");
    assert!(t.contains("<elem key=\"ms17_010\">unknown</elem>"), "{t}");
    assert!(t.contains("timeout-after-negotiate"), "{t}");
    let c = host_block(&xml, "10.9.9.10");
    assert!(
        c.contains("<status state=\"unknown\" reason=\"interrupted\""),
        "{c}"
    );
    let v6 = host_block(&xml, "fd00::10");
    assert!(v6.contains("addrtype=\"ipv6\""));
    assert!(v6.contains("<hostname name=\"pacs.clinic.example\" type=\"user\"/>"));
    assert!(
        xml.contains("<hosts up=\"3\" down=\"0\" total=\"4\"/>"),
        "{xml}"
    );
}

#[test]
fn control_characters_from_the_network_are_replaced() {
    let (mut meta, hosts) = sample();
    meta.interrupted = true;
    let mut h = open_host(&hosts);
    h.os.netbios_name = Some("EVIL\u{1b}]0;pwned\u{7}\nNetBIOS computer name: FAKE".into());
    h.os.native_os = Some("Windows\u{0} 7 <b>&\"".into());
    h.hostname = Some("x\u{ffff}y".into());
    let xml = render_all(&meta, &[h]);
    for bad in ['\u{1b}', '\u{7}', '\u{0}', '\u{ffff}'] {
        assert!(!xml.contains(bad), "{bad:?} in output");
    }
    assert!(
        xml.contains("NetBIOS computer name: EVIL\u{FFFD}]0;pwned\u{FFFD}\u{FFFD}NetBIOS"),
        "a forged line stays on the name's line"
    );
    assert!(xml.contains("Windows\u{FFFD} 7 &lt;b&gt;&amp;&quot;"));
    assert!(xml.contains("exit=\"error\""), "interrupted run");
}

#[test]
fn cpe_as_smb_os_discovery_makes_it() {
    assert_eq!(
        make_cpe("Windows 7 Professional 7601 Service Pack 1").as_deref(),
        Some("cpe:/o:microsoft:windows_7::sp1:professional")
    );
    assert_eq!(
        make_cpe("Windows Server 2008 R2 Standard 7601 Service Pack 1").as_deref(),
        Some("cpe:/o:microsoft:windows_server_2008::sp1")
    );
    assert_eq!(
        make_cpe("Windows 10 Pro 19045").as_deref(),
        Some("cpe:/o:microsoft:windows_10::-")
    );
    assert_eq!(
        make_cpe("Windows 8.1 Pro 9600").as_deref(),
        Some("cpe:/o:microsoft:windows_8.1::-")
    );
    assert_eq!(
        make_cpe("Windows 5.1").as_deref(),
        Some("cpe:/o:microsoft:windows_xp::-")
    );
    assert_eq!(make_cpe("Samba 4.17.12-Debian"), None);
}

#[test]
fn xmllint_valid_against_nmap_dtd() {
    if !require_cmd("xmllint", &["--version"])
        || !Path::new(NMAP_DTD).exists() && !common::skip_or_fail("nmap.dtd not installed (nmap)")
    {
        return;
    }
    let dir = common::scratch_dir("nmap-xml-dtd");
    let (meta, hosts) = sample();
    assert_dtd_valid(&write(&dir, "sample.xml", &render_all(&meta, &hosts)));
    assert_dtd_valid(&write(
        &dir,
        "awkward.xml",
        &render_all(&meta, &awkward_hosts()),
    ));
    assert_dtd_valid(&write(&dir, "empty.xml", &render_all(&meta, &[])));
    let (meta, hosts) = demo_run("127.0.121.1", &dir);
    assert_dtd_valid(&write(&dir, "demo.xml", &render_all(&meta, &hosts)));
    // The check has teeth: a document missing a required part is refused.
    let broken = render_all(&meta, &hosts).replace("<verbose level=\"0\"/>", "");
    let out = run(
        "xmllint",
        &[
            OsStr::new("--noout"),
            OsStr::new("--dtdvalid"),
            OsStr::new(NMAP_DTD),
            write(&dir, "broken.xml", &broken).as_os_str(),
        ],
    );
    assert!(
        !out.status.success(),
        "xmllint accepted a document without <verbose>"
    );
}

/// The marker of nmap bug #2930 (https://github.com/nmap/nmap/issues/2930): the Python 3 port of
/// ndiff (Debian 12's 7.93 among others) cannot sort two script results of one host, because
/// `ScriptResult` kept only Python 2's `__cmp__`. nmap's own XML of any host with two scripts
/// makes it crash the same way.
const NDIFF_BUG_2930: &str = "'<' not supported between instances of 'ScriptResult'";

/// `ndiff a b`. Where the installed ndiff has bug #2930, the same ndiff module is run with the
/// ordering its `__cmp__` meant (`(id, output)`, the upstream fix), so the comparison itself is
/// still ndiff's.
fn ndiff(a: &Path, b: &Path) -> std::process::Output {
    let out = run("ndiff", &[a.as_os_str(), b.as_os_str()]);
    if !text(&out.stderr).contains(NDIFF_BUG_2930) {
        return out;
    }
    // The interpreter ndiff's own script names (its module lives in that Python's packages).
    let script = std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("ndiff"))
                .find(|p| p.is_file())
        })
        .expect("ndiff on PATH");
    let shebang = std::fs::read_to_string(&script).expect("read the ndiff script");
    let python = shebang
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("#!"))
        .map(|l| l.split_whitespace().last().unwrap_or("python3").to_string())
        .expect("ndiff starts with #!");
    const FIXED: &str = "import sys, ndiff\n\
ndiff.ScriptResult.__lt__ = lambda x, y: (x.id, x.output) < (y.id, y.output)\n\
sys.argv = ['ndiff'] + sys.argv[1:]\n\
sys.exit(ndiff.main())\n";
    run(
        python,
        &[
            OsStr::new("-c"),
            OsStr::new(FIXED),
            a.as_os_str(),
            b.as_os_str(),
        ],
    )
}

#[test]
fn ndiff_reports_the_changed_host() {
    if !require_cmd("ndiff", &["-h"]) {
        return;
    }
    let dir = common::scratch_dir("nmap-xml-ndiff");
    let (meta, hosts) = sample();
    let before = write(&dir, "before.xml", &render_all(&meta, &hosts));
    // The same run with one patched host found vulnerable.
    let mut changed = hosts.clone();
    let target = changed
        .iter_mut()
        .find(|h| h.ms17_010.verdict == Ms17Verdict::NotVulnerable)
        .expect("a patched host");
    let ip = target.ip.to_string();
    target.ms17_010.verdict = Ms17Verdict::Vulnerable;
    target.ms17_010.status = Some("0xC0000205".into());
    target.ms17_010.status_name = Some("STATUS_INSUFF_SERVER_RESOURCES".into());
    let after = write(&dir, "after.xml", &render_all(&meta, &changed));

    let same = ndiff(&before, &before);
    assert_eq!(
        same.status.code(),
        Some(0),
        "ndiff of a file with itself: {}",
        text(&same.stderr)
    );

    let out = ndiff(&before, &after);
    let diff = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "ndiff finds a difference:\n{diff}{}",
        text(&out.stderr)
    );
    assert!(diff.contains(&ip), "{diff}");
    // The finding appears as nmap's own script would (added), and smb1scan's verdict changes.
    assert!(diff.contains("+|      State: VULNERABLE"), "{diff}");
    assert!(diff.contains("-|      ms17_010: not-vulnerable"), "{diff}");
    assert!(diff.contains("+|      ms17_010: vulnerable"), "{diff}");
    // Only that host changed.
    let other_hosts: Vec<String> = hosts
        .iter()
        .map(|h| h.ip.to_string())
        .filter(|a| *a != ip)
        .collect();
    for a in &other_hosts {
        assert!(
            !diff.contains(&format!(" {a}:")),
            "{a} reported changed:\n{diff}"
        );
    }

    // And the committed fixtures: the network six days apart.
    let out = ndiff(
        &xml_reports::fixture("baseline.xml"),
        &xml_reports::fixture("sample.xml"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[test]
fn nmap_xsl_renders_hosts_and_verdicts() {
    if !require_cmd("xsltproc", &["--version"])
        || !Path::new(NMAP_XSL).exists() && !common::skip_or_fail("nmap.xsl not installed (nmap)")
    {
        return;
    }
    let dir = common::scratch_dir("nmap-xml-xsl");
    let (meta, hosts) = sample();
    let xml = write(&dir, "sample.xml", &render_all(&meta, &hosts));
    let html = dir.join("sample.html");
    let out = run(
        "xsltproc",
        &[
            OsStr::new("-o"),
            html.as_os_str(),
            OsStr::new(NMAP_XSL),
            xml.as_os_str(),
        ],
    );
    assert!(out.status.success(), "xsltproc: {}", text(&out.stderr));
    let page = std::fs::read_to_string(&html).expect("HTML written");
    assert!(page.contains("<html"), "not HTML");
    for h in &hosts {
        assert!(
            page.contains(&h.ip.to_string()),
            "{} missing from the HTML",
            h.ip
        );
    }
    assert!(page.contains("smb-vuln-ms17-010"));
    assert!(page.contains("State: VULNERABLE"));
    assert!(!page.contains("State: NOT VULNERABLE"));
    assert!(page.contains("smb1scan"));
}

/// What python-libnmap reads from a file: hosts, their ports and scripts.
fn libnmap_view(py: &Path, file: &Path) -> Value {
    const SCRIPT: &str = r#"
import json, sys
from libnmap.parser import NmapParser
r = NmapParser.parse_fromfile(sys.argv[1])
hosts = []
for h in r.hosts:
    hosts.append({
        "address": h.address,
        "status": h.status,
        "hostnames": h.hostnames,
        "services": [{"port": s.port, "state": s.state, "service": s.service,
                      "scripts": {x["id"]: x["output"] for x in s.scripts_results}}
                     for s in h.services],
        "hostscripts": {x["id"]: {"output": x["output"], "elements": x.get("elements", {})}
                        for x in h.scripts_results},
    })
print(json.dumps({"up": r.hosts_up, "down": r.hosts_down, "total": r.hosts_total,
                  "elapsed": r.elapsed, "hosts": hosts}))
"#;
    let out = run(
        py,
        &[OsStr::new("-c"), OsStr::new(SCRIPT), file.as_os_str()],
    );
    assert!(out.status.success(), "libnmap: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON from the libnmap script")
}

#[test]
fn python_libnmap_reads_hosts_ports_and_scripts() {
    let Some(py) = python_with("libnmap") else {
        return;
    };
    let dir = common::scratch_dir("nmap-xml-libnmap");
    for (name, (meta, hosts)) in [
        ("sample", sample()),
        ("demo", demo_run("127.0.121.33", &dir)),
    ] {
        let file = write(&dir, &format!("{name}.xml"), &render_all(&meta, &hosts));
        let v = libnmap_view(&py, &file);
        let silent = hosts
            .iter()
            .filter(|h| h.status == HostStatus::Filtered)
            .count();
        assert_eq!(v["total"], hosts.len(), "{name}: {v}");
        assert_eq!(v["up"], hosts.len() - silent, "{name}: {v}");
        assert_eq!(v["down"], silent, "{name}: {v}");
        for h in &hosts {
            let ip = h.ip.to_string();
            let got = v["hosts"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["address"] == ip.as_str()))
                .unwrap_or_else(|| panic!("{name}: libnmap has no host {ip}: {v}"));
            let svc = &got["services"][0];
            assert_eq!(svc["port"], h.port, "{name} {ip}");
            let own = &got["hostscripts"]["smb1scan"]["elements"][format!("{}/tcp", h.port)];
            assert_eq!(
                own["ms17_010"],
                report::enum_name(&h.ms17_010.verdict),
                "{name} {ip}: {got}"
            );
            assert_eq!(
                own["risk"],
                report::risk::risk(h).as_str(),
                "{name} {ip}: {got}"
            );
            if h.status != HostStatus::Open {
                assert_eq!(got["status"], "down", "{name} {ip}");
                continue;
            }
            assert_eq!(got["status"], "up", "{name} {ip}");
            assert_eq!(svc["state"], "open", "{name} {ip}");
            assert_eq!(svc["service"], "microsoft-ds", "{name} {ip}");
            let state =
                &got["hostscripts"]["smb-vuln-ms17-010"]["elements"]["CVE-2017-0143"]["state"];
            match h.ms17_010.verdict {
                Ms17Verdict::Vulnerable => assert_eq!(state, "VULNERABLE", "{name} {ip}: {got}"),
                _ => assert!(
                    got["hostscripts"]["smb-vuln-ms17-010"].is_null(),
                    "{name} {ip}: {got}"
                ),
            }
            let dp = &got["hostscripts"]["smb-double-pulsar-backdoor"];
            match h.doublepulsar.verdict {
                DpVerdict::Present => assert!(
                    dp["output"]
                        .as_str()
                        .is_some_and(|o| o.contains("State: VULNERABLE")),
                    "{name} {ip}: {got}"
                ),
                _ => assert!(dp.is_null(), "{name} {ip}: {got}"),
            }
            if let Some(n) = &h.os.netbios_name {
                let os = got["hostscripts"]["smb-os-discovery"]["elements"]["server"].as_str();
                assert_eq!(os, Some(n.as_str()), "{name} {ip}: {got}");
            }
        }
    }
}
