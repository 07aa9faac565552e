//! Parsers against responses recorded from a real Samba 4.17.12-Debian (`server min protocol =
//! NT1`, standalone, `map to guest = bad user`, on 127.0.0.70), driven by this crate's own
//! builders; provenance of each file in fixtures/README.md. They pin what smb1scan must read from
//! a real server: Samba's identity strings, the INVALID_HANDLE answer to the MS17-010 probe, the
//! NTLMSSP CHALLENGE over SMB1 and SMB2, and an NTLMv2 login accepted (and a wrong password
//! refused).

use smb1scan_protocol::ntlmssp::parse_ntlmssp_challenge;
use smb1scan_protocol::smb1::session_setup::parse_smb1_session_setup_response;
use smb1scan_protocol::smb1::trans::parse_smb1_trans_response;
use smb1scan_protocol::smb1::trans2::{interpret_doublepulsar_reply, DoublePulsarReply};
use smb1scan_protocol::smb1::tree_connect::parse_smb1_tree_connect_response;
use smb1scan_protocol::smb1::{parse_smb1_header, Smb1Command};
use smb1scan_protocol::smb2::session_setup::parse_smb2_session_setup_response;
use smb1scan_protocol::spnego::spnego_find_ntlmssp;
use smb1scan_protocol::{NtStatus, SmbError};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/", $name))
    };
}

#[test]
fn anonymous_session_setup_names_samba() {
    let (h, r) = parse_smb1_session_setup_response(fixture!(
        "samba-nt1-smb1-session-setup-anonymous-response.bin"
    ))
    .expect("parse");
    assert_eq!(h.status(), SmbError::Nt(NtStatus::SUCCESS));
    assert_ne!(h.uid, 0);
    assert_eq!(r.word_count, 3);
    assert!(!r.is_guest());
    // Unicode strings start at offset 41 (odd): Samba puts the pad byte, the parser skips it.
    assert_eq!(r.native_os.as_deref(), Some("Windows 6.1"));
    assert_eq!(r.native_lanman.as_deref(), Some("Samba 4.17.12-Debian"));
    assert_eq!(r.primary_domain.as_deref(), Some("REC70"));
}

#[test]
fn tree_connect_ipc() {
    let (h, r) =
        parse_smb1_tree_connect_response(fixture!("samba-nt1-smb1-tree-connect-ipc-response.bin"))
            .expect("parse");
    assert!(h.status().is_success());
    assert_ne!(h.tid, 0);
    assert_eq!(r.word_count, 3);
    assert_eq!(r.service.as_deref(), Some("IPC"));
}

#[test]
fn peek_named_pipe_fid0_is_invalid_handle() {
    let msg = fixture!("samba-nt1-smb1-trans-peek-fid0-response.bin");
    assert_eq!(msg.len(), 35);
    let (h, r) = parse_smb1_trans_response(msg).expect("parse");
    assert_eq!(h.command, Smb1Command::TRANSACTION);
    assert_eq!(h.status(), SmbError::Nt(NtStatus::INVALID_HANDLE));
    assert_eq!(r.word_count, 0);
}

#[test]
fn doublepulsar_ping_reply_is_absent() {
    let (h, _) = parse_smb1_header(fixture!(
        "samba-nt1-smb1-trans2-doublepulsar-ping-response.bin"
    ))
    .expect("parse");
    // Samba refuses TRANS2 SESSION_SETUP with ACCESS_DENIED and echoes MID 65.
    assert_eq!(h.status(), SmbError::Nt(NtStatus::ACCESS_DENIED));
    assert_eq!(h.mid, 65);
    assert_eq!(
        interpret_doublepulsar_reply(65, &h),
        DoublePulsarReply::Absent
    );
}

#[test]
fn smb1_extended_challenge() {
    let (h, r) = parse_smb1_session_setup_response(fixture!(
        "samba-nt1-smb1-session-setup-extsec-challenge-response.bin"
    ))
    .expect("parse");
    assert_eq!(h.status(), SmbError::Nt(NtStatus::MORE_PROCESSING_REQUIRED));
    assert_eq!(r.word_count, 4);
    assert_eq!(r.native_lanman.as_deref(), Some("Samba 4.17.12-Debian"));
    let c = parse_ntlmssp_challenge(spnego_find_ntlmssp(r.security_blob).expect("NTLMSSP in blob"))
        .expect("challenge");
    assert_eq!(c.target_name.as_deref(), Some("REC70"));
    assert_eq!(c.target_info.nb_computer_name.as_deref(), Some("REC70"));
    assert_eq!(c.target_info.nb_domain_name.as_deref(), Some("REC70"));
    assert!(c.target_info.timestamp.is_some());
    // Samba's NTLMSSP Version is 6.1.0 (also in the captures' Samba section).
    assert_eq!(c.version.map(|v| v.to_string()).as_deref(), Some("6.1.0"));
}

#[test]
fn smb1_extended_logins() {
    let logins: [(&str, &[u8]); 2] = [
        (
            "anonymous",
            fixture!("samba-nt1-smb1-session-setup-extsec-anonymous-auth-response.bin"),
        ),
        (
            "ntlmv2",
            fixture!("samba-nt1-smb1-session-setup-extsec-ntlmv2-success-response.bin"),
        ),
    ];
    for (name, msg) in logins {
        let (h, r) = parse_smb1_session_setup_response(msg).expect("parse");
        assert_eq!(h.status(), SmbError::Nt(NtStatus::SUCCESS), "{name}");
        // NegTokenResp negState accept-completed: a1 07 30 05 a0 03 0a 01 00.
        assert_eq!(
            r.security_blob,
            &[0xa1, 0x07, 0x30, 0x05, 0xa0, 0x03, 0x0a, 0x01, 0x00],
            "{name}"
        );
        assert_eq!(r.native_os.as_deref(), Some("Windows 6.1"));
    }
    let (h, r) = parse_smb1_session_setup_response(fixture!(
        "samba-nt1-smb1-session-setup-extsec-ntlmv2-bad-password-response.bin"
    ))
    .expect("parse");
    assert_eq!(h.status(), SmbError::Nt(NtStatus::LOGON_FAILURE));
    assert_eq!(r.word_count, 0);
}

#[test]
fn smb2_challenge_identifies_host() {
    let (h, r) = parse_smb2_session_setup_response(fixture!(
        "samba-nt1-smb2-session-setup-challenge-response.bin"
    ))
    .expect("parse");
    assert_eq!(h.status, NtStatus::MORE_PROCESSING_REQUIRED);
    assert_ne!(h.session_id, 0);
    let c =
        parse_ntlmssp_challenge(spnego_find_ntlmssp(r.security_buffer).expect("NTLMSSP in blob"))
            .expect("challenge");
    assert_eq!(c.target_info.nb_computer_name.as_deref(), Some("REC70"));
    assert_eq!(c.version.map(|v| v.to_string()).as_deref(), Some("6.1.0"));
}

/// Every prefix of every recorded response parses or fails cleanly (no panic).
#[test]
fn truncations_never_panic() {
    let all: [&[u8]; 8] = [
        fixture!("samba-nt1-smb1-session-setup-anonymous-response.bin"),
        fixture!("samba-nt1-smb1-tree-connect-ipc-response.bin"),
        fixture!("samba-nt1-smb1-trans-peek-fid0-response.bin"),
        fixture!("samba-nt1-smb1-trans2-doublepulsar-ping-response.bin"),
        fixture!("samba-nt1-smb1-session-setup-extsec-challenge-response.bin"),
        fixture!("samba-nt1-smb1-session-setup-extsec-anonymous-auth-response.bin"),
        fixture!("samba-nt1-smb1-session-setup-extsec-ntlmv2-bad-password-response.bin"),
        fixture!("samba-nt1-smb2-session-setup-challenge-response.bin"),
    ];
    for msg in all {
        for n in 0..=msg.len() {
            let p = &msg[..n];
            let _ = parse_smb1_session_setup_response(p);
            let _ = parse_smb1_tree_connect_response(p);
            let _ = parse_smb1_trans_response(p);
            let _ = parse_smb2_session_setup_response(p);
            if let Some(t) = spnego_find_ntlmssp(p) {
                let _ = parse_ntlmssp_challenge(t);
            }
        }
        // Also with every byte flipped once, for the session setup and challenge paths.
        for k in 0..msg.len() {
            let mut m = msg.to_vec();
            m[k] ^= 0xFF;
            if let Ok((_, r)) = parse_smb1_session_setup_response(&m) {
                if let Some(t) = spnego_find_ntlmssp(r.security_blob) {
                    let _ = parse_ntlmssp_challenge(t);
                }
            }
            let _ = parse_smb2_session_setup_response(&m);
            let _ = parse_smb1_trans_response(&m);
        }
    }
}
