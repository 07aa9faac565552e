//! `smb1scan clients` on every real capture in `../shared/captures` (SOURCES.md there says who
//! recorded each and which client it holds: WannaCry, nmap, Metasploit, pysmb, a Python checker,
//! FuzzBunch, smbclient, macOS, Windows clients negotiating SMB1 and SMB2). Each file's pairs and
//! verdicts are listed below, from the dialects tshark shows in each NEGOTIATE request
//! (`tshark -Y 'smb.cmd==0x72 || smb2.cmd==0' -T fields -e smb.dialect.name -e smb2.dialect`).
//!
//! Nothing is copied from the captures. Outside CI a missing folder skips loudly; under CI=true
//! it fails.

use std::path::PathBuf;

use smb1scan::clients::output::render;
use smb1scan::clients::verdict::{UnknownReason, Verdict};
use smb1scan::clients::{analyse, ClientsOptions};
use smb1scan::report::Format;

fn captures_dir() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/captures");
    if d.is_dir() {
        return Some(d);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true but {} is missing: the capture evidence cannot be checked",
            d.display()
        );
    }
    eprintln!(
        "SKIPPED: {} not present (the real-capture evidence was not checked)",
        d.display()
    );
    None
}

struct Expect {
    file: &'static str,
    /// (server, client, verdict, reason, sessions)
    pairs: &'static [(
        &'static str,
        &'static str,
        Verdict,
        Option<UnknownReason>,
        u64,
    )],
    /// SMB2-only pairs counted (not listed).
    smb2_only: u64,
    /// A client name or OS string that must appear in the first pair, when the traffic shows one.
    shows: Option<&'static str>,
}

use UnknownReason as R;
use Verdict as V;

#[rustfmt::skip]
const EXPECT: &[Expect] = &[
    // smbclient 3.6.3 on loopback: ten SMB1 dialects, no SMB2.
    Expect { file: "samba-3.6.3-smb1-negotiate-session-setup.pcap", pairs: &[("127.0.0.1", "127.0.0.1", V::Breaks, None, 1)], smb2_only: 0, shows: Some("Unix") },
    // macOS 10.10 against a QNAP NAS: ["NT LM 0.12"] only.
    Expect { file: "samba-4.4.16-qnap-qts-smb1-negotiate-session-setup.pcap", pairs: &[("192.168.1.2", "192.168.1.10", V::Breaks, None, 1)], smb2_only: 0, shows: Some("Mac OS X 10.10") },
    // The SambaCry exploit (Metasploit, native OS "Windows 2000 2195").
    Expect { file: "samba-4.5.2-debian-smb1-negotiate-session-setup.pcap", pairs: &[("192.168.206.144", "192.168.206.1", V::Breaks, None, 1)], smb2_only: 0, shows: Some("Windows 2000 2195") },
    Expect { file: "samba-4.7.4-smb1-negotiate-session-setup.pcap", pairs: &[("192.168.0.2", "192.168.0.1", V::Breaks, None, 1)], smb2_only: 0, shows: Some("Windows 4.0") },
    // Two SMB1-only NEGOTIATEs reset by the server (and one connection without data).
    Expect { file: "unknown-windows-ttl128-rst-on-smb1-only-negotiate.pcap", pairs: &[("10.1.75.1", "10.1.75.167", V::Breaks, None, 2)], smb2_only: 0, shows: None },
    // smbclient speaking SMB2 only to Windows 10.
    Expect { file: "win10-19041-smb2-negotiate-311.pcap", pairs: &[], smb2_only: 1, shows: None },
    // DoublePulsar tooling over 139: one connection with an SMB1-only list.
    Expect { file: "win10-enterprise-10586-smb1-and-smb2-negotiate-port139.pcap", pairs: &[("192.168.198.204", "192.168.198.203", V::Breaks, None, 3)], smb2_only: 0, shows: Some("IE11WIN7") },
    // smbclient -m NT1.
    Expect { file: "win10-home-15063-smb1-negotiate-session-setup.pcap", pairs: &[("192.168.1.51", "192.168.1.12", V::Breaks, None, 1)], smb2_only: 0, shows: Some("Unix") },
    // The client offered SMB2 too, but this server answered in SMB1: not shown speaking SMB2.
    Expect { file: "win10-pro-19045-smb1-negotiate-session-setup.pcap", pairs: &[("172.171.65.180", "172.171.65.181", V::Unknown, Some(R::ServerSmb2NotShown), 1)], smb2_only: 0, shows: None },
    // Windows XP SP2 client, Kerberos.
    Expect { file: "win2000-smb1-negotiate-session-setup-kerberos.pcap", pairs: &[("10.24.8.44", "10.24.64.228", V::Breaks, None, 1)], smb2_only: 0, shows: Some("Windows 2002 Service Pack 2 2600") },
    // FuzzBunch.
    Expect { file: "win2008r2-datacenter-sp1-x64-doublepulsar-ping-infected-fuzzbunch.pcap", pairs: &[("192.168.175.131", "192.168.175.136", V::Breaks, None, 1)], smb2_only: 0, shows: None },
    Expect { file: "win2008r2-std-sp1-smb1-negotiate-session-setup-extsec.pcap", pairs: &[("10.1.75.4", "10.1.75.167", V::Breaks, None, 1)], smb2_only: 0, shows: None },
    // pysmb (native OS "nt").
    Expect { file: "win2008r2-std-sp1-unpatched-ms17-010-check-pysmb-1.pcap", pairs: &[("10.4.30.5", "10.4.30.101", V::Breaks, None, 1)], smb2_only: 0, shows: Some("nt") },
    // WannaCry.
    Expect { file: "win2012r2-anonymous-session-setup-access-denied-wannacry.pcap", pairs: &[("192.168.116.150", "192.168.116.149", V::Breaks, None, 1)], smb2_only: 0, shows: Some("Windows 2000 2195") },
    Expect { file: "win2012r2-dc-unpatched-ms17-010-check-wannacry.pcap", pairs: &[("192.168.116.143", "192.168.116.149", V::Breaks, None, 1)], smb2_only: 0, shows: Some("Windows 2000 2195") },
    // Two Windows hosts, each client of the other, multi-protocol NEGOTIATE answered in SMB2.
    Expect { file: "win2016-14393-and-win10-10586-smb2-negotiate-multiprotocol-then-311.pcap", pairs: &[("172.16.66.36", "172.16.66.37", V::FallsBack, None, 1), ("172.16.66.37", "172.16.66.36", V::FallsBack, None, 1)], smb2_only: 0, shows: None },
    // SMB2 NEGOTIATE straight away, no handshake in the capture.
    Expect { file: "win2016-14393-smb2-negotiate-311.pcap", pairs: &[], smb2_only: 1, shows: None },
    Expect { file: "win2016-datacenter-14393-smb1-negotiate-session-setup.pcap", pairs: &[("172.16.66.36", "172.16.66.37", V::Breaks, None, 1)], smb2_only: 0, shows: None },
    // A SpinCifs client (an embedded device).
    Expect { file: "win2016-standard-14393-smb1-negotiate-session-setup.pcap", pairs: &[("10.202.7.8", "10.202.211.125", V::Breaks, None, 1)], smb2_only: 0, shows: Some("SpinCifsClient V1") },
    // Windows client, multi-protocol NEGOTIATE answered with 0x02FF then 3.1.1.
    Expect { file: "win2019-17763-smb2-negotiate-multiprotocol-then-311.pcap", pairs: &[("172.31.112.16", "172.31.112.17", V::FallsBack, None, 1)], smb2_only: 0, shows: None },
    Expect { file: "win2019-standard-17763-smb1-negotiate-session-setup.pcap", pairs: &[("192.168.1.3", "192.168.1.100", V::Breaks, None, 1)], smb2_only: 0, shows: Some("HOST") },
    Expect { file: "win2022-20348-smb2-negotiate-multiprotocol-then-300.pcap", pairs: &[("10.10.0.20", "10.10.0.100", V::FallsBack, None, 1)], smb2_only: 0, shows: None },
    Expect { file: "win7-enterprise-sp1-x64-doublepulsar-ping-infected-wannacry.pcap", pairs: &[("192.168.116.138", "192.168.116.149", V::Breaks, None, 1)], smb2_only: 0, shows: None },
    Expect { file: "win7-enterprise-sp1-x64-doublepulsar-ping-not-infected-wannacry.pcap", pairs: &[("192.168.116.138", "192.168.116.149", V::Breaks, None, 1)], smb2_only: 0, shows: None },
    Expect { file: "win7-enterprise-sp1-x64-unpatched-ms17-010-check-wannacry.pcap", pairs: &[("192.168.116.138", "192.168.116.149", V::Breaks, None, 1)], smb2_only: 0, shows: None },
    Expect { file: "win7-enterprise-sp1-x86-unpatched-ms17-010-check-wannacry.pcap", pairs: &[("192.168.116.172", "192.168.116.149", V::Breaks, None, 1)], smb2_only: 0, shows: None },
    // nmap: SMB1 ["NT LM 0.12", ""] on two connections, SMB2 on two others.
    Expect { file: "win7-homebasic-sp1-nmap-smb1-and-smb2-negotiate.pcap", pairs: &[("192.168.1.183", "192.168.1.204", V::Breaks, None, 4)], smb2_only: 0, shows: Some("Nmap") },
    // Metasploit smb_ms17_010.
    Expect { file: "win7-homebasic-sp1-unpatched-ms17-010-check-msf.pcap", pairs: &[("192.168.1.183", "192.168.1.204", V::Breaks, None, 1)], smb2_only: 0, shows: Some("Windows 2000 2195") },
    Expect { file: "win7-ultimate-rtm-x64-doublepulsar-ping-infected-nixawk.pcap", pairs: &[("192.168.206.147", "192.168.206.130", V::Breaks, None, 1)], smb2_only: 0, shows: None },
    Expect { file: "win7-ultimate-sp1-ms17-010-peek-unanswered-msf.pcap", pairs: &[("192.168.1.38", "192.168.0.10", V::Breaks, None, 1)], smb2_only: 0, shows: None },
    Expect { file: "win7-ultimate-sp1-smb1-negotiate-session-setup.pcap", pairs: &[("10.128.0.243", "172.16.156.130", V::Breaks, None, 1)], smb2_only: 0, shows: None },
    // A client over NetBIOS 139: the calling name of its session request.
    Expect { file: "win81-9600-smb1-negotiate-session-setup-port139.pcap", pairs: &[("192.168.199.1", "192.168.199.133", V::Breaks, None, 1)], smb2_only: 0, shows: Some("DESKTOP-V1FA0UQ") },
    // macOS offered SMB2 too; Windows XP answered in SMB1.
    Expect { file: "winxp-smb1-negotiate-session-setup-extsec.pcap", pairs: &[("192.168.56.101", "192.168.56.1", V::Unknown, Some(R::ServerSmb2NotShown), 1)], smb2_only: 0, shows: Some("BABYBOOK") },
    Expect { file: "winxp-sp3-dos-error-tree-connect-and-trans-python-checker.pcap", pairs: &[("10.102.1.81", "192.168.115.152", V::Breaks, None, 1)], smb2_only: 0, shows: None },
    Expect { file: "winxp-sp3-unpatched-ms17-010-check-and-doublepulsar-ping-msf.pcap", pairs: &[("10.102.1.81", "192.168.115.152", V::Breaks, None, 1)], smb2_only: 0, shows: None },
    Expect { file: "winxp-sp3-unpatched-ms17-010-check-msf.pcap", pairs: &[("10.97.100.208", "10.97.100.101", V::Breaks, None, 1)], smb2_only: 0, shows: None },
];

type Row = (String, String, Verdict, Option<UnknownReason>, u64);

#[test]
fn every_shared_capture_has_its_clients_verdicts() {
    let Some(dir) = captures_dir() else { return };
    let mut listed: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    listed.sort();
    let mut expected: Vec<&str> = EXPECT.iter().map(|e| e.file).collect();
    expected.sort();
    assert_eq!(
        listed, expected,
        "every capture has an expectation, and only those"
    );
    for e in EXPECT {
        let f = analyse(&ClientsOptions {
            inputs: vec![dir.join(e.file)],
            all: false,
            limits: Default::default(),
            ..Default::default()
        });
        assert!(
            f.summary.problems.is_empty(),
            "{}: {:?}",
            e.file,
            f.summary.problems
        );
        let got: Vec<Row> = f
            .records()
            .iter()
            .map(|r| {
                (
                    r.server.clone(),
                    r.client.clone(),
                    r.verdict,
                    r.reason,
                    r.sessions,
                )
            })
            .collect();
        let want: Vec<Row> = e
            .pairs
            .iter()
            .map(|(s, c, v, r, n)| (s.to_string(), c.to_string(), *v, *r, *n))
            .collect();
        assert_eq!(got, want, "{}", e.file);
        assert_eq!(f.summary.smb2_only, e.smb2_only, "{}", e.file);
        if let Some(text) = e.shows {
            let r = &f.records()[0];
            let shown = [
                &r.client_native_os,
                &r.client_native_lanman,
                &r.client_workstation,
                &r.client_netbios_name,
            ];
            assert!(
                shown.iter().any(|s| s.as_deref() == Some(text)),
                "{}: {text:?} not among {shown:?}",
                e.file
            );
        }
        // Every falls-back says how the server is known to speak SMB2.
        for r in f.records() {
            if r.verdict == Verdict::FallsBack {
                let how = r.server_smb2.as_deref().unwrap_or_default();
                assert!(
                    how.contains("answered an SMB2 NEGOTIATE"),
                    "{}: {how}",
                    e.file
                );
            }
        }
    }
}

/// All captures in one run: evidence from one file (a server seen speaking SMB2) serves pairs in
/// another, and sessions add up per pair across files.
#[test]
fn all_shared_captures_in_one_run() {
    let Some(dir) = captures_dir() else { return };
    let inputs: Vec<PathBuf> = EXPECT.iter().map(|e| dir.join(e.file)).collect();
    let f = analyse(&ClientsOptions {
        inputs,
        all: true,
        limits: Default::default(),
        ..Default::default()
    });
    assert!(f.summary.problems.is_empty());
    // 172.16.66.37 -> 172.16.66.36: a multi-protocol session in one file, an SMB1-only one in
    // another: it breaks, with two sessions.
    let r = f
        .records()
        .iter()
        .find(|r| r.server == "172.16.66.36" && r.client == "172.16.66.37")
        .unwrap();
    assert_eq!(
        (r.verdict, r.sessions, r.sources.len()),
        (Verdict::Breaks, 2, 2)
    );
    assert_eq!(f.summary.smb2_only, 2);
    assert!(
        f.records().iter().any(|r| r.verdict == Verdict::Smb2Only),
        "--all lists them"
    );
}

/// JSON Lines are written straight from the tracker's tables when no output needs records
/// (the path a large capture takes); they are the same bytes as the records' own JSON (serde's),
/// for every capture alone and for all of them in one run, smb2-only pairs listed.
#[test]
fn jsonl_from_the_tables_is_the_records_json() {
    let Some(dir) = captures_dir() else { return };
    let mut runs: Vec<Vec<PathBuf>> = EXPECT.iter().map(|e| vec![dir.join(e.file)]).collect();
    runs.push(EXPECT.iter().map(|e| dir.join(e.file)).collect());
    let mut records = 0;
    for inputs in runs {
        for all in [false, true] {
            let f = analyse(&ClientsOptions {
                inputs: inputs.clone(),
                all,
                ..Default::default()
            });
            // Before records() is called, render writes from the tables.
            let from_tables = render(Format::Jsonl, &f).unwrap();
            let mut from_records = Vec::new();
            for r in f.records() {
                from_records.extend(serde_json::to_vec(r).unwrap());
                from_records.push(b'\n');
                records += 1;
            }
            let lines = String::from_utf8(from_tables.clone()).unwrap();
            let pairs: Vec<&str> = lines
                .lines()
                .filter(|l| !l.starts_with("{\"summary\""))
                .collect();
            assert_eq!(
                pairs.join("\n") + if pairs.is_empty() { "" } else { "\n" },
                String::from_utf8(from_records).unwrap(),
                "{inputs:?} all={all}"
            );
            // And once records are made, render writes them: the same bytes again.
            assert_eq!(render(Format::Jsonl, &f).unwrap(), from_tables);
        }
    }
    assert!(records > 60, "the captures list pairs ({records})");
}
