//! `--checks`, end to end through the library's probe: a check left out sends nothing (its step
//! is absent) and is `not-tested` / `not-selected`, never a verdict; the record lists what ran.
//! The host is the responder's unpatched Windows 7 on an unprivileged loopback port (no lab).

use smb1scan::checks::Selection;
use smb1scan::model::{DpVerdict, Ms17Verdict, Reason, Target};
use smb1scan::probe::{probe, ProbeOptions};

fn scan(checks: &str) -> smb1scan::model::HostResult {
    scan_persona("win7-sp1-x64-unpatched", checks)
}

fn scan_persona(name: &str, checks: &str) -> smb1scan::model::HostResult {
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

/// The anonymous check through the probe: the pipes are opened after the peek and the ping (so
/// their verdicts are the same as without it), one `pipe-open` step each, and the persona's
/// unpatched 2012 R2 with netlogon, lsarpc and samr open to a null session ranks first.
#[test]
fn anonymous_pipes_after_the_peek_and_the_ping() {
    use smb1scan::checks::anonymous;
    let r = scan_persona("win2012r2-anonymous-pipes", "all");
    let s = steps(&r);
    let ping = s.iter().position(|x| x == "doublepulsar-ping");
    let first_pipe = s.iter().position(|x| x == "pipe-open");
    assert!(ping.is_some() && first_pipe > ping, "{s:?}");
    assert_eq!(s.iter().filter(|x| *x == "pipe-open").count(), 5, "{s:?}");
    assert_eq!(r.ms17_010.verdict, Ms17Verdict::Vulnerable);
    assert_eq!(r.doublepulsar.verdict, DpVerdict::Absent);
    let a = anonymous::section(&r).expect("anonymous section");
    assert_eq!(a.verdict, "anonymous-reachable");
    assert_eq!(a.reachable_pipes(), ["netlogon", "lsarpc", "samr"]);
    assert_eq!(a.pipes.get("spoolss").map(String::as_str), Some("denied"));
    assert_eq!(a.pipes.get("browser").map(String::as_str), Some("absent"));
    assert_eq!(a.exploit_rank, "exploitable-anonymously");

    // Left out: no pipe is opened, the section says not-selected, MS17-010 is unchanged.
    let r = scan_persona("win2012r2-anonymous-pipes", "smb1,ms17-010,doublepulsar");
    let s = steps(&r);
    assert!(!s.contains(&"pipe-open".to_string()), "{s:?}");
    assert_eq!(r.ms17_010.verdict, Ms17Verdict::Vulnerable);
    let a = anonymous::section(&r).expect("anonymous section");
    assert_eq!(
        (a.verdict.as_str(), a.reason.as_deref()),
        ("not-tested", Some("not-selected"))
    );
}

/// A host that does not speak SMB1 (the demo's Windows 10 with SMB1 removed): the anonymous
/// logon and the pipe opens go over SMB2, on the connection of the identity exchange, and the
/// verdict comes from the answers (every pipe denied: not-reachable), never `unknown` for want
/// of SMB1. Left out, no SMB2 logon happens at all.
#[test]
fn anonymous_pipes_over_smb2_when_smb1_is_off() {
    use smb1scan::checks::anonymous;
    let r = scan_persona("win10-smb1-off", "all");
    assert_eq!(r.smb1.enabled, Some(false));
    let s = steps(&r);
    let identity = s.iter().position(|x| x == "smb2-session-setup");
    let logon = s.iter().position(|x| x == "session-setup");
    assert!(identity.is_some() && logon > identity, "{s:?}");
    let detail = logon.and_then(|i| r.steps[i].detail.clone());
    assert_eq!(detail.as_deref(), Some("anonymous over SMB2"), "{s:?}");
    assert_eq!(s.iter().filter(|x| *x == "pipe-open").count(), 5, "{s:?}");
    let a = anonymous::section(&r).expect("anonymous section");
    assert_eq!(
        (a.verdict.as_str(), a.anonymous_session.as_str()),
        ("not-reachable", "accepted"),
        "{a:?}"
    );

    let r = scan_persona("win10-smb1-off", "smb1,ms17-010,doublepulsar,signing");
    let s = steps(&r);
    assert!(
        !s.iter().any(|x| x == "session-setup" || x == "pipe-open"),
        "{s:?}"
    );
}
