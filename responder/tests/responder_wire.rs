//! The simulated Windows hosts answer at the byte and field level as the real hosts in
//! `../shared/captures` do. Requests are built with the protocol crate's builders (what the
//! scanner sends) and the answers parsed with its parsers, plus direct byte checks.
#![forbid(unsafe_code)]

use smb1scan_responder as responder;

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use smb1scan_protocol::nbss::build_nbss_session_message;
use smb1scan_protocol::ntlmssp::{
    build_ntlmssp_authenticate, build_ntlmssp_negotiate, parse_ntlmssp_challenge, NtlmsspChallenge,
};
use smb1scan_protocol::smb1::header::{flags2, parse_smb1_header, Smb1Ids};
use smb1scan_protocol::smb1::negotiate::{
    build_smb1_negotiate_request_with_flags2, parse_smb1_negotiate_response, Smb1NegotiateResponse,
    Smb1NegotiateSecurity,
};
use smb1scan_protocol::smb1::session_setup::{
    build_smb1_session_setup_anonymous, build_smb1_session_setup_extended,
    parse_smb1_session_setup_response,
};
use smb1scan_protocol::smb1::trans::{build_smb1_peek_named_pipe_fid0, parse_smb1_trans_response};
use smb1scan_protocol::smb1::trans2::{
    build_smb1_doublepulsar_ping, interpret_doublepulsar_reply, Arch, DoublePulsarReply,
};
use smb1scan_protocol::smb1::tree_connect::build_smb1_tree_connect_andx;
use smb1scan_protocol::smb2::negotiate::{
    build_smb2_negotiate_request, parse_smb2_negotiate_outcome, Smb2Dialect,
    Smb2NegotiateContextType, Smb2NegotiateOutcome,
};
use smb1scan_protocol::spnego::{
    build_spnego_neg_token_init, build_spnego_neg_token_resp, spnego_find_ntlmssp,
};
use smb1scan_protocol::{DosError, NtStatus, SmbError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What came back for one request.
#[derive(Debug)]
enum Rx {
    Msg(Vec<u8>),
    Eof,
    Reset,
    Timeout,
}

async fn start(name: &str) -> SocketAddr {
    let p = responder::persona(name).unwrap_or_else(|| panic!("no persona {name}"));
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(responder::serve(l, p));
    addr
}

async fn send(s: &mut TcpStream, msg: &[u8]) -> Rx {
    if let Err(e) = s.write_all(&build_nbss_session_message(msg)).await {
        return match e.kind() {
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => Rx::Reset,
            _ => panic!("write: {e}"),
        };
    }
    recv(s, Duration::from_secs(3)).await
}

async fn recv(s: &mut TcpStream, t: Duration) -> Rx {
    let fut = async {
        let mut h = [0u8; 4];
        s.read_exact(&mut h).await?;
        let len = (usize::from(h[1]) << 16) | (usize::from(h[2]) << 8) | usize::from(h[3]);
        let mut b = vec![0u8; len];
        s.read_exact(&mut b).await?;
        Ok::<_, std::io::Error>(b)
    };
    match tokio::time::timeout(t, fut).await {
        Err(_) => Rx::Timeout,
        Ok(Ok(b)) => Rx::Msg(b),
        Ok(Err(e)) if e.kind() == ErrorKind::UnexpectedEof => Rx::Eof,
        Ok(Err(e)) if e.kind() == ErrorKind::ConnectionReset => Rx::Reset,
        Ok(Err(e)) => panic!("read: {e}"),
    }
}

fn msg(rx: Rx) -> Vec<u8> {
    match rx {
        Rx::Msg(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

const NT1: &[&str] = &["NT LM 0.12"];
const EXT_FLAGS2: u16 = flags2::UNICODE
    | flags2::NT_STATUS
    | flags2::EXTENDED_SECURITY
    | flags2::LONG_NAMES
    | flags2::IS_LONG_NAME;

fn ids(uid: u16, tid: u16, mid: u16) -> Smb1Ids {
    Smb1Ids {
        tid,
        pid: 0xfeff,
        uid,
        mid,
    }
}

/// Runs NEGOTIATE, the NTLMSSP session setup (anonymous) and TREE_CONNECT IPC$ over SMB1.
/// Returns the stream, UID, TID and the CHALLENGE.
async fn smb1_to_ipc(addr: SocketAddr) -> (TcpStream, u16, u16, NtlmsspChallenge) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let neg = build_smb1_negotiate_request_with_flags2(NT1, ids(0, 0, 1), EXT_FLAGS2);
    let m = msg(send(&mut s, &neg).await);
    let (h, r) = parse_smb1_negotiate_response(&m).expect("negotiate parses");
    assert_eq!(h.status(), SmbError::Nt(NtStatus::SUCCESS));
    assert!(matches!(r, Smb1NegotiateResponse::NtLm(_)));

    let blob = build_spnego_neg_token_init(&build_ntlmssp_negotiate());
    let m = msg(send(
        &mut s,
        &build_smb1_session_setup_extended(ids(0, 0, 2), &blob),
    )
    .await);
    let (h, r) = parse_smb1_session_setup_response(&m).expect("session setup parses");
    assert_eq!(h.status(), SmbError::Nt(NtStatus::MORE_PROCESSING_REQUIRED));
    let uid = h.uid;
    let ntlm = spnego_find_ntlmssp(r.security_blob).expect("NTLMSSP in SPNEGO");
    let chal = parse_ntlmssp_challenge(ntlm).expect("challenge parses");

    let auth = build_spnego_neg_token_resp(&build_ntlmssp_authenticate(&chal, None, [7; 8], 0));
    let m = msg(send(
        &mut s,
        &build_smb1_session_setup_extended(ids(uid, 0, 3), &auth),
    )
    .await);
    let (h, _) = parse_smb1_session_setup_response(&m).expect("auth parses");
    assert_eq!(
        h.status(),
        SmbError::Nt(NtStatus::SUCCESS),
        "anonymous logon"
    );

    let m = msg(send(
        &mut s,
        &build_smb1_tree_connect_andx(ids(uid, 0, 4), "\\\\127.0.0.1\\IPC$"),
    )
    .await);
    let (h, _) = parse_smb1_header(&m).expect("tree connect parses");
    assert_eq!(h.status(), SmbError::Nt(NtStatus::SUCCESS), "IPC$");
    (s, uid, h.tid, chal)
}

#[tokio::test]
async fn win7_unpatched_negotiate_fields_are_windows_7s() {
    let addr = start("win7-sp1-x64-unpatched").await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let neg = build_smb1_negotiate_request_with_flags2(NT1, ids(0, 0, 1), EXT_FLAGS2);
    let m = msg(send(&mut s, &neg).await);
    let (h, r) = parse_smb1_negotiate_response(&m).expect("parses");
    assert_eq!(h.flags, 0x98);
    assert_eq!(h.mid, 1);
    let Smb1NegotiateResponse::NtLm(n) = r else {
        panic!("not NT LM: {r:?}")
    };
    assert_eq!(n.dialect_index, 0);
    assert_eq!(n.security_mode, 0x03);
    assert_eq!(n.max_mpx_count, 50);
    assert_eq!(n.max_number_vcs, 1);
    assert_eq!(n.max_buffer_size, 4356);
    assert_eq!(n.max_raw_size, 65536);
    assert_eq!(n.capabilities, 0x8001_e3fc);
    assert_eq!(n.challenge_length, 0);
    let Smb1NegotiateSecurity::Extended { security_blob, .. } = n.security else {
        panic!("not extended")
    };
    assert_eq!(security_blob.first(), Some(&0x60), "SPNEGO negTokenInit");
}

#[tokio::test]
async fn non_extended_negotiate_gives_challenge_and_names() {
    let addr = start("win7-sp1-x64-unpatched").await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let f2 = flags2::UNICODE | flags2::NT_STATUS | flags2::LONG_NAMES;
    let neg = build_smb1_negotiate_request_with_flags2(
        &["PC NETWORK PROGRAM 1.0", "LANMAN1.0", "NT LM 0.12"],
        ids(0, 0, 1),
        f2,
    );
    let m = msg(send(&mut s, &neg).await);
    let (_, r) = parse_smb1_negotiate_response(&m).expect("parses");
    let Smb1NegotiateResponse::NtLm(n) = r else {
        panic!("not NT LM")
    };
    assert_eq!(n.dialect_index, 2);
    assert_eq!(n.capabilities, 0x0001_e3fc, "no CAP_EXTENDED_SECURITY");
    assert_eq!(n.challenge_length, 8);
    let Smb1NegotiateSecurity::Challenge {
        challenge,
        domain_name,
        server_name,
    } = n.security
    else {
        panic!("not classic")
    };
    assert_eq!(challenge.len(), 8);
    assert_eq!(domain_name.as_deref(), Some("WIN7-SP1-X64"));
    assert_eq!(server_name.as_deref(), Some("WIN7-SP1-X64"));
}

#[tokio::test]
async fn win7_unpatched_peek_is_35_bytes_insuff_server_resources() {
    let addr = start("win7-sp1-x64-unpatched").await;
    let (mut s, uid, tid, chal) = smb1_to_ipc(addr).await;
    assert_eq!(
        chal.version.map(|v| v.to_string()).as_deref(),
        Some("6.1.7601")
    );
    assert_eq!(
        chal.target_info.nb_computer_name.as_deref(),
        Some("WIN7-SP1-X64")
    );
    assert_eq!(uid, 0x0800);
    assert_eq!(tid, 0x0800);

    let m = msg(send(&mut s, &build_smb1_peek_named_pipe_fid0(ids(uid, tid, 5))).await);
    assert_eq!(m.len(), 35, "32-byte header + WordCount + ByteCount");
    assert_eq!(m.get(4..9), Some(&[0x25, 0x05, 0x02, 0x00, 0xc0][..]));
    let (h, t) = parse_smb1_trans_response(&m).expect("trans parses");
    assert_eq!(h.status(), SmbError::Nt(NtStatus::INSUFF_SERVER_RESOURCES));
    assert_eq!(t.word_count, 0);
    assert_eq!((h.uid, h.tid, h.mid), (uid, tid, 5));
    assert_ne!(h.flags2 & flags2::NT_STATUS, 0);

    // DoublePulsar ping on a clean host: NOT_IMPLEMENTED, same MID, zero signature.
    let m = msg(send(&mut s, &build_smb1_doublepulsar_ping(ids(uid, tid, 65))).await);
    let (h, _) = parse_smb1_header(&m).expect("parses");
    assert_eq!(h.status(), SmbError::Nt(NtStatus::NOT_IMPLEMENTED));
    assert_eq!(h.mid, 65);
    assert_eq!(h.security_signature, [0; 8]);
    assert_eq!(
        interpret_doublepulsar_reply(65, &h),
        DoublePulsarReply::Absent
    );
}

#[tokio::test]
async fn doublepulsar_x64_reply_mid_81_with_key_and_arch() {
    let addr = start("win7-sp1-x64-doublepulsar").await;
    let (mut s, uid, tid, _) = smb1_to_ipc(addr).await;
    let m = msg(send(&mut s, &build_smb1_peek_named_pipe_fid0(ids(uid, tid, 5))).await);
    let (h, _) = parse_smb1_header(&m).expect("parses");
    assert_eq!(h.status(), SmbError::Nt(NtStatus::INSUFF_SERVER_RESOURCES));

    let m = msg(send(&mut s, &build_smb1_doublepulsar_ping(ids(uid, tid, 65))).await);
    assert_eq!(m.len(), 35);
    let (h, _) = parse_smb1_header(&m).expect("parses");
    assert_eq!(h.mid, 81);
    assert_eq!(h.status(), SmbError::Nt(NtStatus::NOT_IMPLEMENTED));
    assert_eq!(h.security_signature, [0x5a, 0x3c, 0x9e, 0x71, 1, 0, 0, 0]);
    let key = smb1scan_protocol::smb1::trans2::doublepulsar_xor_key(u32::from_le_bytes([
        0x5a, 0x3c, 0x9e, 0x71,
    ]));
    assert_eq!(
        interpret_doublepulsar_reply(65, &h),
        DoublePulsarReply::Present {
            arch: Arch::X64,
            xor_key: key
        }
    );
}

#[tokio::test]
async fn winxp_doublepulsar_x86_and_xp_negotiate() {
    let addr = start("winxp-sp3-doublepulsar").await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let neg = build_smb1_negotiate_request_with_flags2(NT1, ids(0, 0, 1), EXT_FLAGS2);
    let m = msg(send(&mut s, &neg).await);
    let (h, r) = parse_smb1_negotiate_response(&m).expect("parses");
    assert_eq!(h.flags, 0x88);
    let Smb1NegotiateResponse::NtLm(n) = r else {
        panic!("not NT LM")
    };
    assert_eq!((n.max_mpx_count, n.capabilities), (10, 0x8000_e3fd));
    let Smb1NegotiateSecurity::Extended { security_blob, .. } = n.security else {
        panic!("not extended")
    };
    assert!(security_blob.is_empty(), "XP sends the GUID alone");
    drop(s);

    let (mut s, uid, tid, chal) = smb1_to_ipc(addr).await;
    assert_eq!(
        chal.version.map(|v| v.to_string()).as_deref(),
        Some("5.1.2600")
    );
    assert_eq!(chal.target_info.timestamp, None);
    let m = msg(send(&mut s, &build_smb1_peek_named_pipe_fid0(ids(uid, tid, 5))).await);
    assert_eq!(
        parse_smb1_header(&m).expect("parses").0.status(),
        SmbError::Nt(NtStatus::INSUFF_SERVER_RESOURCES)
    );
    let m = msg(send(&mut s, &build_smb1_doublepulsar_ping(ids(uid, tid, 65))).await);
    let (h, _) = parse_smb1_header(&m).expect("parses");
    assert!(matches!(
        interpret_doublepulsar_reply(65, &h),
        DoublePulsarReply::Present {
            arch: Arch::X86,
            ..
        }
    ));

    // No SMB2: an SMB2-only NEGOTIATE gets no answer, the connection is closed.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let n2 = build_smb2_negotiate_request(&[Smb2Dialect::SMB2_0_2], 0, [1; 16], [2; 32]);
    assert!(matches!(send(&mut s, &n2).await, Rx::Eof | Rx::Reset));
}

#[tokio::test]
async fn patched_hosts_peek_statuses() {
    for (name, status) in [
        ("win10-patched-smb1-on", NtStatus::ACCESS_DENIED),
        ("win2008r2-patched", NtStatus::INVALID_HANDLE),
    ] {
        let addr = start(name).await;
        let (mut s, uid, tid, _) = smb1_to_ipc(addr).await;
        let m = msg(send(&mut s, &build_smb1_peek_named_pipe_fid0(ids(uid, tid, 5))).await);
        assert_eq!(m.len(), 35, "{name}");
        let (h, _) = parse_smb1_trans_response(&m).expect("parses");
        assert_eq!(h.status(), SmbError::Nt(status), "{name}");
    }
}

#[tokio::test]
async fn win2008r2_requires_signing() {
    let addr = start("win2008r2-patched").await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let neg = build_smb1_negotiate_request_with_flags2(NT1, ids(0, 0, 1), EXT_FLAGS2);
    let m = msg(send(&mut s, &neg).await);
    let Smb1NegotiateResponse::NtLm(n) = parse_smb1_negotiate_response(&m).expect("parses").1
    else {
        panic!("not NT LM")
    };
    assert_eq!(n.security_mode, 0x0f);
    assert_eq!(n.capabilities, 0x8001_f3fc);
    assert_eq!(n.max_buffer_size, 16644);
}

#[tokio::test]
async fn win2012r2_refuses_anonymous_setup_both_forms() {
    let addr = start("win2012r2-anon-refused").await;
    // Non-extended null session: refused at once, WordCount 0.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let f2 = flags2::UNICODE | flags2::NT_STATUS | flags2::LONG_NAMES;
    let neg = build_smb1_negotiate_request_with_flags2(NT1, ids(0, 0, 1), f2);
    msg(send(&mut s, &neg).await);
    let m = msg(send(
        &mut s,
        &build_smb1_session_setup_anonymous(ids(0, 0, 2), "Unix", "smb1scan"),
    )
    .await);
    let (h, r) = parse_smb1_session_setup_response(&m).expect("parses");
    assert_eq!(h.status(), SmbError::Nt(NtStatus::ACCESS_DENIED));
    assert_eq!(r.word_count, 0);

    // Extended: the CHALLENGE still comes (with 6.3.9600), the anonymous AUTHENTICATE is refused.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let neg = build_smb1_negotiate_request_with_flags2(NT1, ids(0, 0, 1), EXT_FLAGS2);
    msg(send(&mut s, &neg).await);
    let blob = build_spnego_neg_token_init(&build_ntlmssp_negotiate());
    let m = msg(send(
        &mut s,
        &build_smb1_session_setup_extended(ids(0, 0, 2), &blob),
    )
    .await);
    let (h, r) = parse_smb1_session_setup_response(&m).expect("parses");
    let chal =
        parse_ntlmssp_challenge(spnego_find_ntlmssp(r.security_blob).expect("ntlm")).expect("chal");
    assert_eq!(
        chal.version.map(|v| v.to_string()).as_deref(),
        Some("6.3.9600")
    );
    assert_eq!(
        chal.target_info.dns_tree_name.as_deref(),
        Some("hospital.local")
    );
    let auth = build_spnego_neg_token_resp(&build_ntlmssp_authenticate(&chal, None, [7; 8], 0));
    let m = msg(send(
        &mut s,
        &build_smb1_session_setup_extended(ids(h.uid, 0, 3), &auth),
    )
    .await);
    assert_eq!(m.len(), 35);
    let (h, _) = parse_smb1_header(&m).expect("parses");
    assert_eq!(h.status(), SmbError::Nt(NtStatus::ACCESS_DENIED));
}

#[tokio::test]
async fn dos_error_host_answers_class_and_code() {
    let addr = start("winxp-dos-errors").await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let f2 = flags2::LONG_NAMES;
    let neg = build_smb1_negotiate_request_with_flags2(NT1, ids(0, 0, 1), f2);
    msg(send(&mut s, &neg).await);
    let m = msg(send(
        &mut s,
        &build_smb1_session_setup_anonymous(ids(0, 0, 2), "Unix", "x"),
    )
    .await);
    let (h, _) = parse_smb1_session_setup_response(&m).expect("parses");
    assert_eq!(h.status(), SmbError::Dos(DosError { class: 0, code: 0 }));
    let uid = h.uid;
    let m = msg(send(
        &mut s,
        &build_smb1_tree_connect_andx(ids(uid, 0, 3), "\\\\127.0.0.1\\IPC$"),
    )
    .await);
    let (h, _) = parse_smb1_header(&m).expect("parses");
    assert_eq!(h.flags2 & flags2::NT_STATUS, 0);
    assert_eq!(h.status(), SmbError::Dos(DosError { class: 2, code: 1 }));
    let m = msg(send(&mut s, &build_smb1_peek_named_pipe_fid0(ids(uid, 0, 4))).await);
    let (h, _) = parse_smb1_header(&m).expect("parses");
    assert_eq!(
        h.status(),
        SmbError::Dos(DosError { class: 2, code: 5 }),
        "ERRinvtid"
    );
}

#[tokio::test]
async fn silent_host_never_answers_peek_but_keeps_connection() {
    let addr = start("win7-silent-after-peek").await;
    let (mut s, uid, tid, _) = smb1_to_ipc(addr).await;
    let peek = build_smb1_peek_named_pipe_fid0(ids(uid, tid, 5));
    s.write_all(&build_nbss_session_message(&peek))
        .await
        .expect("write");
    assert!(matches!(
        recv(&mut s, Duration::from_millis(700)).await,
        Rx::Timeout
    ));
    // Still open: the next request is answered.
    let m = msg(send(&mut s, &build_smb1_doublepulsar_ping(ids(uid, tid, 65))).await);
    assert_eq!(parse_smb1_header(&m).expect("parses").0.mid, 65);
}

#[tokio::test]
async fn smb1_off_hosts_reset_smb1_only_negotiate() {
    for name in ["win10-smb1-off", "win2019-smb1-off"] {
        let addr = start(name).await;
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let neg = build_smb1_negotiate_request_with_flags2(NT1, ids(0, 0, 1), EXT_FLAGS2);
        let rx = send(&mut s, &neg).await;
        assert!(matches!(rx, Rx::Reset), "{name}: {rx:?}");
    }
}

#[tokio::test]
async fn multiprotocol_negotiate_gets_smb2_wildcard() {
    let addr = start("win10-smb1-off").await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let neg = build_smb1_negotiate_request_with_flags2(
        &["NT LM 0.12", "SMB 2.002", "SMB 2.???"],
        ids(0, 0, 1),
        EXT_FLAGS2,
    );
    let m = msg(send(&mut s, &neg).await);
    let Smb2NegotiateOutcome::Negotiated(_, r) = parse_smb2_negotiate_outcome(&m).expect("parses")
    else {
        panic!("refused")
    };
    assert_eq!(r.dialect_revision, Smb2Dialect(0x02ff));
}

async fn smb2_negotiate(addr: SocketAddr, dialects: &[Smb2Dialect]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    msg(send(
        &mut s,
        &build_smb2_negotiate_request(dialects, 0, [1; 16], [2; 32]),
    )
    .await)
}

#[tokio::test]
async fn smb2_highest_common_dialect_and_not_supported() {
    let all = [
        Smb2Dialect::SMB2_0_2,
        Smb2Dialect::SMB2_1,
        Smb2Dialect::SMB3_0,
        Smb2Dialect::SMB3_0_2,
        Smb2Dialect::SMB3_1_1,
    ];
    let w7 = start("win7-sp1-x64-unpatched").await;
    let m = smb2_negotiate(w7, &all).await;
    let Smb2NegotiateOutcome::Negotiated(_, r) = parse_smb2_negotiate_outcome(&m).expect("parses")
    else {
        panic!("refused")
    };
    assert_eq!(r.dialect_revision, Smb2Dialect::SMB2_1);
    assert_eq!(
        (r.security_mode, r.capabilities, r.max_read_size),
        (1, 7, 1_048_576)
    );
    assert!(r.negotiate_contexts.is_empty());
    // Each dialect alone on its own connection, as the scanner enumerates.
    for (d, ok) in [
        (Smb2Dialect::SMB2_0_2, true),
        (Smb2Dialect::SMB3_0, false),
        (Smb2Dialect::SMB3_1_1, false),
    ] {
        let m = smb2_negotiate(w7, &[d]).await;
        match parse_smb2_negotiate_outcome(&m).expect("parses") {
            Smb2NegotiateOutcome::Negotiated(_, r) => {
                assert!(ok, "{d:?} accepted");
                assert_eq!(r.dialect_revision, d);
            }
            Smb2NegotiateOutcome::Failed(h, _) => {
                assert!(!ok, "{d:?} refused");
                assert_eq!(h.status, NtStatus::NOT_SUPPORTED);
            }
        }
    }

    let dc = start("win2019-smb1-off").await;
    let m = smb2_negotiate(dc, &all).await;
    let Smb2NegotiateOutcome::Negotiated(_, r) = parse_smb2_negotiate_outcome(&m).expect("parses")
    else {
        panic!("refused")
    };
    assert_eq!(r.dialect_revision, Smb2Dialect::SMB3_1_1);
    assert!(r.signing_required());
    assert_eq!(r.capabilities, 0x2f);
    assert_eq!(r.negotiate_contexts.len(), 2);
    assert!(r
        .context(Smb2NegotiateContextType::PREAUTH_INTEGRITY_CAPABILITIES)
        .is_some());
    assert!(r
        .context(Smb2NegotiateContextType::ENCRYPTION_CAPABILITIES)
        .is_some());
}

#[tokio::test]
async fn smb2_session_setup_challenge_identifies_os() {
    for (name, version, dns) in [
        ("win10-smb1-off", "10.0.19045", "icu-ws14.hospital.local"),
        ("win2019-smb1-off", "10.0.17763", "dc01.hospital.local"),
        ("win7-sp1-x64-unpatched", "6.1.7601", "win7-sp1-x64"),
    ] {
        let addr = start(name).await;
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let dialects = [
            Smb2Dialect::SMB2_0_2,
            Smb2Dialect::SMB2_1,
            Smb2Dialect::SMB3_1_1,
        ];
        msg(send(
            &mut s,
            &build_smb2_negotiate_request(&dialects, 0, [1; 16], [2; 32]),
        )
        .await);
        let m = msg(send(
            &mut s,
            &smb2_session_setup(1, &build_spnego_neg_token_init(&build_ntlmssp_negotiate())),
        )
        .await);
        assert_eq!(
            m.get(8..12),
            Some(&0xC000_0016u32.to_le_bytes()[..]),
            "{name}"
        );
        let body = m.get(64..).expect("body");
        let off = usize::from(u16::from_le_bytes([body[4], body[5]]));
        let len = usize::from(u16::from_le_bytes([body[6], body[7]]));
        let blob = m.get(off..off + len).expect("blob in bounds");
        assert_eq!(blob.first(), Some(&0xa1), "negTokenResp");
        let chal = parse_ntlmssp_challenge(spnego_find_ntlmssp(blob).expect("ntlm")).expect("chal");
        assert_eq!(
            chal.version.map(|v| v.to_string()).as_deref(),
            Some(version),
            "{name}"
        );
        assert_eq!(
            chal.target_info.dns_computer_name.as_deref(),
            Some(dns),
            "{name}"
        );
    }
}

/// An SMB2 SESSION_SETUP request ([MS-SMB2] 2.2.5), built here because the scanner's builder
/// may carry extra state.
fn smb2_session_setup(message_id: u64, blob: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&[0xFE, b'S', b'M', b'B', 64, 0, 1, 0]);
    m.extend_from_slice(&[0; 4]); // Status
    m.extend_from_slice(&1u16.to_le_bytes()); // SESSION_SETUP
    m.extend_from_slice(&1u16.to_le_bytes()); // Credits
    m.extend_from_slice(&[0; 8]); // Flags, NextCommand
    m.extend_from_slice(&message_id.to_le_bytes());
    m.extend_from_slice(&[0; 8 + 8 + 16]); // Reserved/TreeId, SessionId, Signature
    m.extend_from_slice(&25u16.to_le_bytes());
    m.extend_from_slice(&[0, 1]); // Flags, SecurityMode
    m.extend_from_slice(&[0; 8]); // Capabilities, Channel
    m.extend_from_slice(&88u16.to_le_bytes()); // SecurityBufferOffset
    m.extend_from_slice(&(blob.len() as u16).to_le_bytes());
    m.extend_from_slice(&[0; 8]); // PreviousSessionId
    m.extend_from_slice(blob);
    m
}

#[tokio::test]
async fn garbage_never_kills_the_server() {
    let addr = start("win7-sp1-x64-unpatched").await;
    let inputs: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xFF, b'S', b'M', b'B'],
        vec![0xFF, b'S', b'M', b'B', 0x72, 0, 0, 0, 0, 0x18],
        {
            let mut v = vec![0xFF, b'S', b'M', b'B', 0x73];
            v.resize(32, 0);
            v.extend_from_slice(&[12, 1, 2]);
            v
        },
        {
            let mut v = vec![0xFF, b'S', b'M', b'B', 0x25];
            v.resize(32, 0);
            v.extend_from_slice(&[200]);
            v
        },
        vec![0xFE, b'S', b'M', b'B', 64, 0],
        {
            let mut v = vec![0xFE, b'S', b'M', b'B', 64, 0];
            v.resize(64, 0);
            v.extend_from_slice(&[36, 0, 0xff, 0xff]);
            v
        },
        b"hello world".to_vec(),
    ];
    for i in &inputs {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let _ = send(&mut s, i).await;
    }
    // Still serving.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let neg = build_smb1_negotiate_request_with_flags2(NT1, ids(0, 0, 1), EXT_FLAGS2);
    assert!(matches!(send(&mut s, &neg).await, Rx::Msg(_)));
}

#[tokio::test]
async fn start_network_binds_every_persona_on_its_own_address() {
    let net = responder::start_network("127.0.77.1".parse().expect("ip"), 0)
        .await
        .expect("start");
    assert_eq!(net.hosts.len(), responder::personas().len());
    for (i, h) in net.hosts.iter().enumerate() {
        assert_eq!(h.addr.ip().to_string(), format!("127.0.77.{}", i + 1));
        assert!(
            TcpStream::connect(h.addr).await.is_ok(),
            "{}",
            h.persona.name
        );
    }
    let first = net.hosts.first().expect("a host").addr;
    net.shutdown().await;
    assert!(TcpStream::connect(first).await.is_err(), "stopped");
    assert!(responder::start_network("10.0.0.1".parse().expect("ip"), 0)
        .await
        .is_err());
}

/// SMB1 extended session setup up to the AUTHENTICATE built from `creds`; returns its status.
async fn smb1_login(addr: SocketAddr, creds: Option<(&str, &str, &str)>) -> SmbError {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let neg = build_smb1_negotiate_request_with_flags2(NT1, ids(0, 0, 1), EXT_FLAGS2);
    msg(send(&mut s, &neg).await);
    let blob = build_spnego_neg_token_init(&build_ntlmssp_negotiate());
    let m = msg(send(
        &mut s,
        &build_smb1_session_setup_extended(ids(0, 0, 2), &blob),
    )
    .await);
    let (h, r) = parse_smb1_session_setup_response(&m).expect("parses");
    let chal =
        parse_ntlmssp_challenge(spnego_find_ntlmssp(r.security_blob).expect("ntlm")).expect("chal");
    let auth = build_spnego_neg_token_resp(&build_ntlmssp_authenticate(&chal, creds, [7; 8], 0));
    let m = msg(send(
        &mut s,
        &build_smb1_session_setup_extended(ids(h.uid, 0, 3), &auth),
    )
    .await);
    parse_smb1_header(&m).expect("parses").0.status()
}

#[tokio::test]
async fn guest_is_disabled_and_credentials_are_accepted() {
    let addr = start("win2012r2-anon-refused").await;
    assert_eq!(
        smb1_login(addr, Some(("Guest", "", ""))).await,
        SmbError::Nt(NtStatus::ACCOUNT_DISABLED)
    );
    assert_eq!(
        smb1_login(addr, None).await,
        SmbError::Nt(NtStatus::ACCESS_DENIED)
    );
    // A credentialed scan gets past the refusal (the responder checks no password).
    assert_eq!(
        smb1_login(addr, Some(("auditor", "HOSPITAL", "not-checked"))).await,
        SmbError::Nt(NtStatus::SUCCESS)
    );
}
