//! `--checks`, end to end through the library's probe: a check left out sends nothing (its step
//! is absent) and is `not-tested` / `not-selected`, never a verdict; the record lists what ran.
//! The host is the responder's unpatched Windows 7 on an unprivileged loopback port (no lab).

use smb1scan::checks::Selection;
use smb1scan::model::{DpVerdict, Ms17Verdict, Reason, Target};
use smb1scan::probe::{probe, ProbeOptions};

fn scan(checks: &str) -> smb1scan::model::HostResult {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let persona = smb1scan_responder::persona("win7-sp1-x64-unpatched").expect("persona");
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

fn steps(r: &smb1scan::model::HostResult) -> Vec<String> {
    r.steps.iter().map(|s| s.name.to_string()).collect()
}

#[test]
fn every_check_by_default() {
    let r = scan("all");
    assert_eq!(r.ms17_010.verdict, Ms17Verdict::Vulnerable);
    assert_eq!(r.doublepulsar.verdict, DpVerdict::Absent);
    assert!(r.checks.iter().any(|c| c == "ms17-010"), "{:?}", r.checks);
    let s = steps(&r);
    assert!(s.contains(&"peek-named-pipe".to_string()), "{s:?}");
    assert!(s.contains(&"doublepulsar-ping".to_string()), "{s:?}");
}

#[test]
fn a_check_left_out_sends_nothing_and_is_not_selected() {
    let r = scan("smb1,doublepulsar");
    assert_eq!(r.checks, ["smb1", "doublepulsar"]);
    assert_eq!(r.ms17_010.verdict, Ms17Verdict::NotTested);
    assert_eq!(r.ms17_010.reason, Some(Reason::NotSelected));
    let s = steps(&r);
    assert!(!s.contains(&"peek-named-pipe".to_string()), "{s:?}");
    // The ping still runs, on the session whose IPC$ tree connect succeeded.
    assert!(s.contains(&"doublepulsar-ping".to_string()), "{s:?}");
    assert_eq!(r.doublepulsar.verdict, DpVerdict::Absent);

    let r = scan("smb1");
    assert_eq!(r.doublepulsar.verdict, DpVerdict::NotTested);
    assert_eq!(r.doublepulsar.reason, Some(Reason::NotSelected));
    let s = steps(&r);
    assert!(!s.contains(&"doublepulsar-ping".to_string()), "{s:?}");
    assert!(!s.contains(&"peek-named-pipe".to_string()), "{s:?}");
    // The shared steps still ran: SMB1 is shown on.
    assert_eq!(r.smb1.enabled, Some(true));
}
