//! The check from the record, and through the real probe against the responder's personas
//! (Windows 10 1909 with compression, the patched 1909 restarted after the fixes, the demo's
//! Windows 10 22H2 without compression, the Samba 4.5.9 NAS): each gets the verdict its
//! `expected` line promises, and leaving the check out sends no compression context and
//! changes no other verdict.

use super::*;
use crate::checks::Selection;
use crate::model::{HostStatus, Target};
use crate::probe::{probe, ProbeOptions};

fn host(observed: Option<(bool, &[u16])>, ntlm: Option<&str>, boot: Option<&str>) -> HostResult {
    let mut h = HostResult::new([10, 0, 0, 1].into(), 445, None);
    h.smb2.enabled = Some(true);
    h.os.ntlm_version = ntlm.map(str::to_owned);
    h.smb2.boot_time = boot.map(str::to_owned);
    if let Some((d311, comp)) = observed {
        crate::checks::set_section(&mut h, NAME, &Section::observed(d311, comp));
    }
    h
}

const LZ: &[u16] = &[algorithm::LZ77];

#[test]
fn smbghost_from_the_record() {
    let s = evaluate(&host(Some((true, LZ)), Some("10.0.18363"), None));
    assert_eq!(s.verdict, "likely-vulnerable");
    assert_eq!(s.smbleed.as_deref(), Some("likely-vulnerable"));
    assert_eq!(s.compression, Some(vec!["LZ77".to_string()]));
    assert!(s.summary.as_deref().is_some_and(|t| t.contains("likely")));
    assert!(s
        .remediation
        .as_deref()
        .is_some_and(|t| t.contains("DisableCompression")));
    // Started before the fix: the update is not in effect.
    let s = evaluate(&host(
        Some((true, LZ)),
        Some("10.0.18362"),
        Some("2020-01-01T00:00:00Z"),
    ));
    assert_eq!(
        (s.verdict.as_str(), s.inferred.as_deref()),
        ("likely-vulnerable", Some("missing"))
    );
    // Compression without a build: unknown, never vulnerable.
    let s = evaluate(&host(Some((true, LZ)), None, None));
    assert_eq!(
        (s.verdict.as_str(), s.reason.as_deref()),
        ("unknown", Some("build-unknown"))
    );
    // Windows 10 2004: SMBleed only.
    let s = evaluate(&host(Some((true, LZ)), Some("10.0.19041"), None));
    assert_eq!(
        (s.verdict.as_str(), s.smbleed.as_deref()),
        ("not-vulnerable", Some("likely-vulnerable"))
    );
    assert!(s
        .remediation
        .as_deref()
        .is_some_and(|t| t.contains("CVE-2020-1206")));
    // The negotiate never answered: unknown. SMB2 refused: no 3.1.1 on evidence.
    let s = evaluate(&host(None, Some("10.0.18363"), None));
    assert_eq!(s.reason.as_deref(), Some("no-smb2-answer"));
    let mut off = host(None, None, None);
    off.smb2.enabled = Some(false);
    assert_eq!(evaluate(&off).reason.as_deref(), Some("no-smb311"));
    let mut closed = host(None, None, None);
    closed.status = HostStatus::Closed;
    assert_eq!(evaluate(&closed).verdict, "not-tested");
}

/// Probes the responder's persona `name` with `checks` through the library's probe.
fn scan(name: &str, checks: &str) -> HostResult {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let persona = smb1scan_responder::persona(name).expect("persona");
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        let server = tokio::spawn(smb1scan_responder::serve(l, persona));
        let opts = ProbeOptions {
            checks: Selection::parse(&[checks.to_string()]).expect("checks"),
            ..ProbeOptions::default()
        };
        let target = Target {
            ip: addr.ip(),
            port: addr.port(),
            hostname: None,
        };
        let r = probe(target, &opts).await;
        server.abort();
        r
    })
}

#[test]
fn smbghost_personas_through_the_probe() {
    let rows: [(&str, &str, Option<&str>, &str); 4] = [
        (
            "win10-1909-compression",
            "likely-vulnerable",
            None,
            "likely-vulnerable",
        ),
        (
            "win10-1909-patched-rebooted",
            "unknown",
            Some("booted-after-fix"),
            "unknown",
        ),
        (
            "win10-smb1-off",
            "not-vulnerable",
            Some("compression-not-offered"),
            "not-vulnerable",
        ),
        (
            "samba-4.5.9-nas",
            "not-vulnerable",
            Some("compression-not-offered"),
            "not-vulnerable",
        ),
    ];
    for (name, verdict, reason, smbleed) in rows {
        let s = section(&scan(name, "all")).expect(name);
        assert_eq!(s.verdict, verdict, "{name}: {s:?}");
        assert_eq!(s.reason.as_deref(), reason, "{name}: {s:?}");
        assert_eq!(s.smbleed.as_deref(), Some(smbleed), "{name}: {s:?}");
        assert_eq!(s.dialect_311, Some(true), "{name}: {s:?}");
    }
    let s = section(&scan("win10-1909-compression", "all")).expect("1909");
    assert_eq!(
        s.compression,
        Some(vec!["LZ77".into(), "LZ77+Huffman".into(), "LZNT1".into()])
    );
}

/// Left out, the check sends no compression context (the persona's answer has none) and is
/// not-tested; every other verdict is what the run with it says.
#[test]
fn smbghost_left_out_changes_nothing_else() {
    let old = "smb1,ms17-010,doublepulsar,signing,anonymous,eol-os,sambacry";
    for name in ["win10-1909-compression", "win7-sp1-x64-unpatched"] {
        let without = scan(name, old);
        let with = scan(name, "all");
        let s = section(&without).expect(name);
        assert_eq!(
            (s.verdict.as_str(), s.reason.as_deref(), s.compression),
            ("not-tested", Some("not-selected"), None),
            "{name}"
        );
        assert_eq!(without.ms17_010, with.ms17_010, "{name}");
        assert_eq!(without.doublepulsar, with.doublepulsar, "{name}");
        assert_eq!(without.smb1.enabled, with.smb1.enabled, "{name}");
        assert_eq!(without.smb2.dialects, with.smb2.dialects, "{name}");
        assert_eq!(without.smb2.signing, with.smb2.signing, "{name}");
        assert_eq!(without.os, with.os, "{name}");
        for other in ["signing", "anonymous", "eol-os", "sambacry"] {
            let a = without.sections.get(other).map(|v| v["verdict"].clone());
            let b = with.sections.get(other).map(|v| v["verdict"].clone());
            assert_eq!(a, b, "{name}: {other}");
        }
        let steps = |r: &HostResult| {
            r.steps
                .iter()
                .map(|s| s.name.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(steps(&without), steps(&with), "{name}: no step added");
    }
}

#[test]
fn smbghost_findings_through_the_registry() {
    use crate::report::policy::{has_finding, Finding};
    let ghost: Finding = "smbghost".parse().unwrap();
    let bleed: Finding = "smbleed".parse().unwrap();
    let mut h = host(Some((true, LZ)), Some("10.0.18363"), None);
    Selection::default().apply(&mut h);
    assert!(has_finding(&h, ghost) && has_finding(&h, bleed));
    let mut h = host(Some((true, LZ)), Some("10.0.19041"), None);
    Selection::default().apply(&mut h);
    assert!(!has_finding(&h, ghost) && has_finding(&h, bleed));
}
