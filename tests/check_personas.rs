//! The responder's personas for the issue-18 checks, driven without sockets (`Conn::handle` is
//! sans-I/O) with the protocol crate's builders and parsers, and their answers judged by the
//! checks' pure rules: each persona yields the verdict its `expected` line promises, and a demo
//! persona gives the contrasting one.

use smb1scan::checks::{anonymous, eol_os, sambacry, signing, smbghost};
use smb1scan_protocol::ntlmssp::{
    build_ntlmssp_authenticate, build_ntlmssp_negotiate, parse_ntlmssp_challenge,
};
use smb1scan_protocol::smb1::header::{flags2, parse_smb1_header, Smb1Ids};
use smb1scan_protocol::smb1::negotiate::{
    build_smb1_negotiate_request_with_flags2, parse_smb1_negotiate_response, Smb1NegotiateResponse,
};
use smb1scan_protocol::smb1::nt_create::{
    build_smb1_close, build_smb1_nt_create_pipe, parse_smb1_close_response,
    parse_smb1_nt_create_response,
};
use smb1scan_protocol::smb1::session_setup::{
    build_smb1_session_setup_anonymous, build_smb1_session_setup_extended,
    parse_smb1_session_setup_response,
};
use smb1scan_protocol::smb1::trans::build_smb1_peek_named_pipe_fid0;
use smb1scan_protocol::smb1::tree_connect::build_smb1_tree_connect_andx;
use smb1scan_protocol::smb2::compression::{
    build_smb2_negotiate_with_compression, compression_algorithms, OFFERED,
};
use smb1scan_protocol::smb2::negotiate::{
    parse_smb2_negotiate_outcome, Smb2Dialect, Smb2NegotiateOutcome, ALL_DIALECTS,
};
use smb1scan_protocol::smb2::pipe::{
    build_smb2_close, build_smb2_create_close_compound, build_smb2_create_pipe,
    build_smb2_tree_connect, parse_smb2_close_response, parse_smb2_create_response,
    parse_smb2_tree_connect_response, split_smb2_compound,
};
use smb1scan_protocol::smb2::session_setup::{
    build_smb2_session_setup, parse_smb2_session_setup_response,
};
use smb1scan_protocol::spnego::{
    build_spnego_neg_token_init, build_spnego_neg_token_resp, spnego_find_ntlmssp,
};
use smb1scan_protocol::NtStatus;
use smb1scan_responder::persona;
use smb1scan_responder::{Action, Conn};

const NT1: &[&str] = &["NT LM 0.12"];
const EXT_FLAGS2: u16 =
    flags2::UNICODE | flags2::NT_STATUS | flags2::LONG_NAMES | flags2::EXTENDED_SECURITY;

fn conn(name: &str) -> Conn {
    Conn::new(persona(name).unwrap_or_else(|| panic!("persona {name}")))
}

fn reply(c: &mut Conn, m: &[u8]) -> Vec<u8> {
    match c.handle(m) {
        Action::Reply(r) => r,
        other => panic!("no reply: {other:?}"),
    }
}

fn ids(uid: u16, tid: u16, mid: u16) -> Smb1Ids {
    Smb1Ids {
        tid,
        pid: 0xfeff,
        uid,
        mid,
    }
}

/// SMB 3.1.1 negotiate with compression, then the NTLMSSP CHALLENGE of a session setup.
fn ghost_inputs(name: &str) -> smbghost::rules::GhostInputs {
    let mut c = conn(name);
    let m = reply(
        &mut c,
        &build_smb2_negotiate_with_compression(&ALL_DIALECTS, 0, [1; 16], [2; 32]),
    );
    let Ok(Smb2NegotiateOutcome::Negotiated(_, r)) = parse_smb2_negotiate_outcome(&m) else {
        panic!("{name}: negotiate");
    };
    let dialect_311 = r.dialect_revision == Smb2Dialect::SMB3_1_1;
    let compression = compression_algorithms(&r);
    let boot_time = r.server_start_time_unix();
    let blob = build_spnego_neg_token_init(&build_ntlmssp_negotiate());
    let m = reply(&mut c, &build_smb2_session_setup(1, 0, &blob));
    let (_, s) = parse_smb2_session_setup_response(&m).unwrap_or_else(|e| panic!("{e}"));
    let chal = spnego_find_ntlmssp(s.security_buffer).and_then(|n| parse_ntlmssp_challenge(n).ok());
    smbghost::rules::GhostInputs {
        dialect_311: Some(dialect_311),
        compression,
        ntlm_version: chal
            .and_then(|c| c.version)
            .map(|v| (v.major, v.minor, v.build)),
        samba: false,
        boot_time,
    }
}

#[test]
fn smbghost_personas() {
    use smbghost::rules::{judge, GhostReason, GhostVerdict};
    let i = ghost_inputs("win10-1909-compression");
    assert_eq!(
        i.compression,
        OFFERED.to_vec(),
        "the common algorithms, client order"
    );
    assert_eq!(i.ntlm_version, Some((10, 0, 18363)));
    assert_eq!(i.boot_time, None, "Windows 10 sends ServerStartTime 0");
    let r = judge(&i);
    assert_eq!(r.smbghost.verdict, GhostVerdict::LikelyVulnerable);
    assert_eq!(r.smbleed.verdict, GhostVerdict::LikelyVulnerable);

    let i = ghost_inputs("win10-1909-patched-rebooted");
    assert!(!i.compression.is_empty());
    assert_eq!(i.boot_time, Some(1_599_523_200));
    let r = judge(&i);
    assert_eq!(
        (r.smbghost.verdict, r.smbghost.reason),
        (GhostVerdict::Unknown, Some(GhostReason::BootedAfterFix))
    );
    assert_eq!(r.smbleed.verdict, GhostVerdict::Unknown);

    // A demo host (Windows 10 22H2) answers 3.1.1 without a compression context.
    let i = ghost_inputs("win10-smb1-off");
    assert!(i.compression.is_empty());
    let r = judge(&i);
    assert_eq!(
        (r.smbghost.verdict, r.smbghost.reason),
        (
            GhostVerdict::NotVulnerable,
            Some(GhostReason::CompressionNotOffered)
        )
    );
}

#[test]
fn samba_nas_persona() {
    let mut c = conn("samba-4.5.9-nas");
    let m = reply(
        &mut c,
        &build_smb1_negotiate_request_with_flags2(
            NT1,
            ids(0, 0, 1),
            EXT_FLAGS2 & !flags2::EXTENDED_SECURITY,
        ),
    );
    let (_, n) = parse_smb1_negotiate_response(&m).unwrap_or_else(|e| panic!("{e}"));
    let Smb1NegotiateResponse::NtLm(n) = n else {
        panic!("NT LM negotiate");
    };
    let smb1_mode = n.security_mode;
    let m = reply(
        &mut c,
        &build_smb1_session_setup_anonymous(ids(0, 0, 2), "Unix", "smb1scan"),
    );
    let (_, s) = parse_smb1_session_setup_response(&m).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.native_lanman.as_deref(), Some("Samba 4.5.9"));
    let f = sambacry::rules::judge(s.native_lanman.as_deref(), false, true);
    assert_eq!(
        f.verdict,
        sambacry::rules::SambaCryVerdict::LikelyVulnerable
    );
    assert!(f.summary().contains("write to"));
    // Signing: SMB1 0x03 and SMB2 0x01 (not learnt here) -> relayable over SMB1 already.
    let sf = signing::rules::judge(
        signing::rules::ProtocolMode::Mode(smb1_mode),
        signing::rules::ProtocolMode::Unknown,
    );
    assert_eq!(sf.relay, signing::rules::RelayVerdict::SigningNotRequired);
    // End of life: Samba's "Windows 6.1" is not Windows 7.
    let id = eol_os::rules::OsIdentity {
        native_os: s.native_os.as_deref(),
        native_lanman: s.native_lanman.as_deref(),
        ntlm_version: None,
        cap_unix: false,
    };
    let date = chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap_or_default();
    assert_eq!(
        eol_os::rules::judge_builtin(&id, date).reason,
        Some(eol_os::rules::EolReason::SambaHostOs)
    );
}

/// SMB1: extended-security anonymous logon, IPC$, each pipe opened (and closed) or refused.
fn smb1_pipes(name: &str) -> ((u8, u8, u16), [anonymous::rules::PipeOpen; 5], u32) {
    use anonymous::rules::{PipeOpen, PIPES};
    let mut c = conn(name);
    reply(
        &mut c,
        &build_smb1_negotiate_request_with_flags2(NT1, ids(0, 0, 1), EXT_FLAGS2),
    );
    let blob = build_spnego_neg_token_init(&build_ntlmssp_negotiate());
    let m = reply(
        &mut c,
        &build_smb1_session_setup_extended(ids(0, 0, 2), &blob),
    );
    let (h, r) = parse_smb1_session_setup_response(&m).unwrap_or_else(|e| panic!("{e}"));
    let uid = h.uid;
    let chal = spnego_find_ntlmssp(r.security_blob)
        .and_then(|n| parse_ntlmssp_challenge(n).ok())
        .unwrap_or_else(|| panic!("{name}: challenge"));
    let v = chal
        .version
        .map(|v| (v.major, v.minor, v.build))
        .unwrap_or_default();
    let auth = build_spnego_neg_token_resp(&build_ntlmssp_authenticate(&chal, None, [7; 8], 0));
    let m = reply(
        &mut c,
        &build_smb1_session_setup_extended(ids(uid, 0, 3), &auth),
    );
    let (h, _) = parse_smb1_session_setup_response(&m).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(h.status_raw, 0, "{name}: anonymous logon");
    let m = reply(
        &mut c,
        &build_smb1_tree_connect_andx(ids(uid, 0, 4), "\\\\127.0.0.1\\IPC$"),
    );
    let (h, _) = parse_smb1_header(&m).unwrap_or_else(|e| panic!("{e}"));
    let tid = h.tid;
    let mut out = [PipeOpen::Unanswered; 5];
    for (slot, pipe) in out.iter_mut().zip(PIPES) {
        let m = reply(&mut c, &build_smb1_nt_create_pipe(ids(uid, tid, 5), pipe));
        let (h, r) = parse_smb1_nt_create_response(&m).unwrap_or_else(|e| panic!("{e}"));
        *slot = match (h.status_raw, r) {
            (0, Some(r)) => {
                let m = reply(&mut c, &build_smb1_close(ids(uid, tid, 6), r.fid));
                let h = parse_smb1_close_response(&m).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(h.status_raw, 0, "{name}: close {pipe}");
                PipeOpen::Opened
            }
            (0xC000_0022, _) => PipeOpen::AccessDenied,
            (0xC000_0034, _) => PipeOpen::NotFound,
            (st, _) => PipeOpen::OtherStatus(st),
        };
    }
    let m = reply(&mut c, &build_smb1_peek_named_pipe_fid0(ids(uid, tid, 7)));
    let (h, _) = parse_smb1_header(&m).unwrap_or_else(|e| panic!("{e}"));
    (v, out, h.status_raw)
}

#[test]
fn anonymous_pipe_personas_over_smb1() {
    use anonymous::rules::*;
    let (v, pipes, peek) = smb1_pipes("win2012r2-anonymous-pipes");
    assert_eq!(v, (6, 3, 9600));
    let f = judge(&AnonymousInputs {
        anonymous: LogonOutcome::Accepted { as_guest: false },
        guest: LogonOutcome::NotTried,
        pipe_session: PipeSession::Anonymous,
        pipes,
    });
    assert_eq!(f.reachable, PipesVerdict::AnonymousReachable);
    assert_eq!(f.reachable_pipes(), ["netlogon", "lsarpc", "samr"]);
    assert_eq!(f.pipes[0], PipeVerdict::Absent, "browser");
    assert_eq!(f.pipes[1], PipeVerdict::Denied, "spoolss");
    assert_eq!(
        peek,
        NtStatus::INSUFF_SERVER_RESOURCES.0,
        "MS17-010 vulnerable"
    );
    let rank = exploitable_rank(Ms17State::Vulnerable, f.reachable, exploit_family(Some(v)));
    assert_eq!(rank, ExploitRank::ExploitableAnonymously);

    // A demo host: every pipe denied to a null session, MS17-010 patched.
    let (v, pipes, peek) = smb1_pipes("win2008r2-patched");
    let f = judge(&AnonymousInputs {
        anonymous: LogonOutcome::Accepted { as_guest: false },
        guest: LogonOutcome::NotTried,
        pipe_session: PipeSession::Anonymous,
        pipes,
    });
    assert_eq!(f.reachable, PipesVerdict::NotReachable);
    assert_eq!(peek, NtStatus::INVALID_HANDLE.0);
    assert_eq!(
        exploitable_rank(Ms17State::Other, f.reachable, exploit_family(Some(v))),
        ExploitRank::None
    );
}

#[test]
fn anonymous_pipes_over_smb2() {
    let mut c = conn("win2012r2-anonymous-pipes");
    let dialects = [
        Smb2Dialect::SMB2_0_2,
        Smb2Dialect::SMB2_1,
        Smb2Dialect::SMB3_0_2,
    ];
    reply(
        &mut c,
        &build_smb2_negotiate_with_compression(&dialects, 0, [1; 16], [2; 32]),
    );
    let blob = build_spnego_neg_token_init(&build_ntlmssp_negotiate());
    let m = reply(&mut c, &build_smb2_session_setup(1, 0, &blob));
    let (h, s) = parse_smb2_session_setup_response(&m).unwrap_or_else(|e| panic!("{e}"));
    let sid = h.session_id;
    let chal = spnego_find_ntlmssp(s.security_buffer)
        .and_then(|n| parse_ntlmssp_challenge(n).ok())
        .unwrap_or_else(|| panic!("challenge"));
    let auth = build_spnego_neg_token_resp(&build_ntlmssp_authenticate(&chal, None, [7; 8], 0));
    let m = reply(&mut c, &build_smb2_session_setup(2, sid, &auth));
    let (h, _) = parse_smb2_session_setup_response(&m).unwrap_or_else(|e| panic!("{e}"));
    assert!(h.status.is_success(), "anonymous SMB2 session");
    let m = reply(
        &mut c,
        &build_smb2_tree_connect(3, sid, "\\\\127.0.0.1\\IPC$"),
    );
    let (h, t) = parse_smb2_tree_connect_response(&m).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.map(|t| t.share_type), Some(2));
    let tree = h.tree_id().unwrap_or(0);
    let mut opened = Vec::new();
    for (n, pipe) in anonymous::rules::PIPES.iter().enumerate() {
        let m = reply(
            &mut c,
            &build_smb2_create_pipe(4 + n as u64, sid, tree, pipe),
        );
        let (h, r) = parse_smb2_create_response(&m).unwrap_or_else(|e| panic!("{e}"));
        if let Some(r) = r {
            let m = reply(
                &mut c,
                &build_smb2_close(10 + n as u64, sid, tree, r.file_id),
            );
            let h = parse_smb2_close_response(&m).unwrap_or_else(|e| panic!("{e}"));
            assert!(h.status.is_success(), "close {pipe}");
            opened.push(*pipe);
        } else {
            assert!(
                [NtStatus::ACCESS_DENIED, NtStatus::OBJECT_NAME_NOT_FOUND].contains(&h.status),
                "{pipe}: {:?}",
                h.status
            );
        }
    }
    assert_eq!(opened, ["netlogon", "lsarpc", "samr"]);

    // The same opens as the anonymous check sends them: per pipe a CREATE and a related CLOSE
    // in one compound ([MS-SMB2] 3.2.4.1.4), answered in one compounded response; a CREATE that
    // fails fails its CLOSE with the same status (3.3.5.2.7.2).
    let mut opened = Vec::new();
    for (n, pipe) in anonymous::rules::PIPES.iter().enumerate() {
        let m = reply(
            &mut c,
            &build_smb2_create_close_compound(20 + 2 * n as u64, sid, tree, pipe),
        );
        let parts = split_smb2_compound(&m).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parts.len(), 2, "{pipe}");
        let (h, r) = parse_smb2_create_response(parts[0]).unwrap_or_else(|e| panic!("{e}"));
        let k = parse_smb2_close_response(parts[1]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (h.message_id, k.message_id),
            (20 + 2 * n as u64, 21 + 2 * n as u64)
        );
        assert_eq!(
            k.status, h.status,
            "{pipe}: the CLOSE shares the CREATE's fate"
        );
        if r.is_some() {
            opened.push(*pipe);
        }
    }
    assert_eq!(opened, ["netlogon", "lsarpc", "samr"]);
}
