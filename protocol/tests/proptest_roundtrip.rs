//! Property tests: what the builders write, the parsers read back unchanged ([MS-CIFS] 2.2.3.1
//! header, 2.2.4.52.1 NEGOTIATE; RFC 1002 4.3.1 NBSS; [MS-SMB2] 2.2.1; [MS-NLMP] 2.2.1.2 and
//! 2.2.2.1), and no parser panics on arbitrary bytes or on mutated real responses.

use bytes::BytesMut;
use proptest::prelude::*;
use smb1scan_protocol::message::{parse_smb_message, SmbMessage};
use smb1scan_protocol::nbss::{
    build_nbss_session_message, parse_nbss_header, parse_nbss_session_response,
    NbssSessionResponse, NbssType, MAX_NBSS_LEN,
};
use smb1scan_protocol::ntlmssp::{
    flags as ntlm_flags, parse_ntlmssp_av_pairs, parse_ntlmssp_challenge, MAX_NAME_CHARS,
};
use smb1scan_protocol::smb1::header::{
    parse_smb1_body, parse_smb1_header, write_smb1_body, Smb1Command, Smb1Header, Smb1Ids,
};
use smb1scan_protocol::smb1::negotiate::{
    build_smb1_negotiate_request_with_flags2, parse_smb1_negotiate_response,
};
use smb1scan_protocol::smb1::session_setup::parse_smb1_session_setup_response;
use smb1scan_protocol::smb1::trans::parse_smb1_trans_response;
use smb1scan_protocol::smb1::trans2::{
    build_smb1_doublepulsar_ping, interpret_doublepulsar_reply, DoublePulsarReply,
};
use smb1scan_protocol::smb1::tree_connect::parse_smb1_tree_connect_response;
use smb1scan_protocol::smb2::header::{parse_smb2_header, Smb2Command, Smb2Header};
use smb1scan_protocol::smb2::negotiate::{
    parse_smb2_error_response, parse_smb2_negotiate_outcome, parse_smb2_negotiate_response,
};
use smb1scan_protocol::smb2::session_setup::{
    build_smb2_session_setup, parse_smb2_session_setup_response,
};
use smb1scan_protocol::spnego::{
    build_spnego_neg_token_init, build_spnego_neg_token_resp, spnego_find_ntlmssp,
};
use smb1scan_protocol::util::utf16le;
use smb1scan_protocol::NtStatus;

/// Recorded real responses (see fixtures/README.md), mutated by the no-panic properties.
const FIXTURES: &[&[u8]] = &[
    include_bytes!("../../fixtures/samba-nt1-smb1-negotiate-response.bin"),
    include_bytes!("../../fixtures/samba-nt1-smb1-extsec-negotiate-response.bin"),
    include_bytes!("../../fixtures/impacket-smb1-negotiate-response.bin"),
    include_bytes!("../../fixtures/samba-smb2only-smb1-negotiate-response.bin"),
    include_bytes!("../../fixtures/samba-nt1-smb1-session-setup-anonymous-response.bin"),
    include_bytes!("../../fixtures/samba-nt1-smb1-session-setup-extsec-challenge-response.bin"),
    include_bytes!("../../fixtures/samba-nt1-smb1-tree-connect-ipc-response.bin"),
    include_bytes!("../../fixtures/samba-nt1-smb1-trans-peek-fid0-response.bin"),
    include_bytes!("../../fixtures/samba-nt1-smb1-trans2-doublepulsar-ping-response.bin"),
    include_bytes!("../../fixtures/samba-nt1-smb2-all-negotiate-response.bin"),
    include_bytes!("../../fixtures/samba-nt1-smb2-bogus-negotiate-response.bin"),
    include_bytes!("../../fixtures/samba-nt1-smb2-session-setup-challenge-response.bin"),
    include_bytes!("../../fixtures/samba-smb2only-smb1-multiprotocol-negotiate-response.bin"),
];

/// Runs every parser on `b`; each must return (Ok or Err), never panic.
fn all_parsers(b: &[u8]) {
    let _ = parse_nbss_header(b);
    let _ = parse_nbss_session_response(b);
    let _ = parse_smb_message(b);
    if let Ok((h, rest)) = parse_smb1_header(b) {
        let _ = parse_smb1_body(rest);
        let _ = interpret_doublepulsar_reply(65, &h);
        let _ = interpret_doublepulsar_reply(h.mid.wrapping_sub(16), &h);
    }
    let _ = parse_smb1_negotiate_response(b);
    let _ = parse_smb1_session_setup_response(b);
    let _ = parse_smb1_tree_connect_response(b);
    let _ = parse_smb1_trans_response(b);
    let _ = parse_smb2_header(b);
    let _ = parse_smb2_negotiate_outcome(b);
    let _ = parse_smb2_negotiate_response(b);
    let _ = parse_smb2_error_response(b);
    let _ = parse_smb2_session_setup_response(b);
    let _ = parse_ntlmssp_challenge(b);
    let _ = parse_ntlmssp_av_pairs(b);
    if let Some(m) = spnego_find_ntlmssp(b) {
        let _ = parse_ntlmssp_challenge(m);
    }
}

fn ids() -> impl Strategy<Value = Smb1Ids> {
    (any::<u16>(), any::<u16>(), any::<u16>(), any::<u16>())
        .prop_map(|(tid, pid, uid, mid)| Smb1Ids { tid, pid, uid, mid })
}

fn smb1_header() -> impl Strategy<Value = Smb1Header> {
    (
        any::<u8>(),
        any::<u32>(),
        any::<u8>(),
        any::<u16>(),
        any::<u16>(),
        any::<[u8; 8]>(),
        ids(),
    )
        .prop_map(|(cmd, status, fl, f2, ph, sig, ids)| {
            let mut h = Smb1Header::with_ids(Smb1Command(cmd), fl, f2, ids);
            h.status_raw = status;
            h.pid_high = ph;
            h.security_signature = sig;
            h
        })
}

/// Builds an NTLMSSP CHALLENGE_MESSAGE ([MS-NLMP] 2.2.1.2) with the payload at offset 56.
fn challenge(flags: u32, nonce: [u8; 8], target: &[u8], ti: &[u8], ver: [u8; 8]) -> Vec<u8> {
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&2u32.to_le_bytes());
    let tn_off = 56u32;
    let ti_off = tn_off + target.len() as u32;
    m.extend_from_slice(&(target.len() as u16).to_le_bytes());
    m.extend_from_slice(&(target.len() as u16).to_le_bytes());
    m.extend_from_slice(&tn_off.to_le_bytes());
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(&nonce);
    m.extend_from_slice(&[0; 8]); // Reserved
    m.extend_from_slice(&(ti.len() as u16).to_le_bytes());
    m.extend_from_slice(&(ti.len() as u16).to_le_bytes());
    m.extend_from_slice(&ti_off.to_le_bytes());
    m.extend_from_slice(&ver);
    m.extend_from_slice(target);
    m.extend_from_slice(ti);
    m
}

fn av(id: u16, v: &[u8]) -> Vec<u8> {
    let mut b = id.to_le_bytes().to_vec();
    b.extend_from_slice(&(v.len() as u16).to_le_bytes());
    b.extend_from_slice(v);
    b
}

fn capped(s: &str) -> String {
    s.chars().take(MAX_NAME_CHARS).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn smb1_negotiate_request_roundtrip(
        dialects in prop::collection::vec("[ -~]{0,24}", 0..12),
        ids in ids(),
        flags2 in any::<u16>(),
    ) {
        let refs: Vec<&str> = dialects.iter().map(String::as_str).collect();
        let req = build_smb1_negotiate_request_with_flags2(&refs, ids, flags2);
        let (h, rest) = parse_smb1_header(&req).unwrap();
        prop_assert_eq!(h.command, Smb1Command::NEGOTIATE);
        prop_assert_eq!((h.tid, h.pid_low, h.uid, h.mid), (ids.tid, ids.pid, ids.uid, ids.mid));
        prop_assert_eq!(h.flags2, flags2);
        prop_assert!(!h.is_reply());
        let body = parse_smb1_body(rest).unwrap();
        prop_assert_eq!(body.word_count, 0);
        // [MS-CIFS] 2.2.4.52.1: each dialect is 0x02, the string, NUL.
        let mut want = Vec::new();
        for d in &dialects {
            want.push(2u8);
            want.extend_from_slice(d.as_bytes());
            want.push(0);
        }
        prop_assert_eq!(body.bytes, &want[..]);
        prop_assert_eq!(rest.len(), 3 + want.len());
        // The same bytes dispatch as SMB1 and frame as one NBSS message.
        prop_assert!(matches!(parse_smb_message(&req), Ok(SmbMessage::Smb1(..))));
        let framed = build_nbss_session_message(&req);
        let nh = parse_nbss_header(&framed).unwrap();
        prop_assert_eq!(nh.length, req.len());
        prop_assert_eq!(&framed[4..], &req[..]);
    }

    #[test]
    fn nbss_frame_roundtrip(payload in prop::collection::vec(any::<u8>(), 0..4096)) {
        let f = build_nbss_session_message(&payload);
        let h = parse_nbss_header(&f).unwrap();
        prop_assert_eq!(h.kind, NbssType::SESSION_MESSAGE);
        prop_assert_eq!(h.length, payload.len());
        prop_assert_eq!(&f[4..], &payload[..]);
    }

    #[test]
    fn nbss_header_accepts_exactly_known_types_within_bound(t in any::<u8>(), len in 0u32..0x0100_0000) {
        let hdr = ((u32::from(t) << 24) | len).to_be_bytes();
        let known = matches!(t, 0x00 | 0x81..=0x85);
        match parse_nbss_header(&hdr) {
            Ok(h) => {
                prop_assert!(known);
                prop_assert!(h.length <= MAX_NBSS_LEN);
                prop_assert_eq!(h.length, len as usize);
                prop_assert_eq!(h.kind.0, t);
            }
            Err(_) => prop_assert!(!known || len as usize > MAX_NBSS_LEN),
        }
        if t == 0x82 && len as usize <= MAX_NBSS_LEN {
            prop_assert_eq!(parse_nbss_session_response(&hdr).ok(), Some(NbssSessionResponse::Positive));
        }
    }

    #[test]
    fn smb1_header_and_body_roundtrip(
        h in smb1_header(),
        words in prop::collection::vec(any::<u8>(), 0..=127).prop_map(|mut w| { w.truncate(w.len() & !1); w }),
        data in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut b = BytesMut::new();
        h.write(&mut b);
        write_smb1_body(&mut b, &words, &data);
        let (p, rest) = parse_smb1_header(&b).unwrap();
        prop_assert_eq!(p, h);
        let body = parse_smb1_body(rest).unwrap();
        prop_assert_eq!(usize::from(body.word_count), words.len() / 2);
        prop_assert_eq!(body.words, &words[..]);
        prop_assert_eq!(body.bytes, &data[..]);
        prop_assert_eq!(body.bytes_offset, 32 + 1 + words.len() + 2);
        match parse_smb_message(&b).unwrap() {
            SmbMessage::Smb1(m, r) => { prop_assert_eq!(m, h); prop_assert_eq!(r, rest); }
            SmbMessage::Smb2(..) => prop_assert!(false, "SMB1 bytes dispatched as SMB2"),
        }
        // Cut anywhere inside the header: an error, never a panic.
        for cut in 0..32 {
            prop_assert!(parse_smb1_header(&b[..cut]).is_err());
        }
    }

    #[test]
    fn doublepulsar_reply_by_mid(mut h in smb1_header(), mid in any::<u16>(), arch in 0u8..2) {
        h.command = Smb1Command::TRANSACTION2;
        h.mid = mid.wrapping_add(16);
        h.security_signature[4] = arch;
        prop_assert!(
            matches!(interpret_doublepulsar_reply(mid, &h), DoublePulsarReply::Present { .. }),
            "MID + 16 means the implant answered"
        );
        h.mid = mid;
        prop_assert_eq!(interpret_doublepulsar_reply(mid, &h), DoublePulsarReply::Absent);
        // The builder's own request parses back with the ping's MID.
        let ping = build_smb1_doublepulsar_ping(Smb1Ids { mid, ..Smb1Ids::default() });
        let (ph, _) = parse_smb1_header(&ping).unwrap();
        prop_assert_eq!(ph.command, Smb1Command::TRANSACTION2);
        prop_assert_eq!(ph.mid, mid);
    }

    #[test]
    fn smb2_header_roundtrip(
        cmd in any::<u16>(), mid in any::<u64>(), status in any::<u32>(), credits in any::<u16>(),
        flags in any::<u32>(), next in any::<u32>(), tree in any::<u64>(), sid in any::<u64>(),
        sig in any::<[u8; 16]>(), charge in any::<u16>(),
    ) {
        let h = Smb2Header {
            credit_charge: charge,
            status: NtStatus(status),
            command: Smb2Command(cmd),
            credits,
            flags,
            next_command: next,
            message_id: mid,
            async_id_or_tree: tree,
            session_id: sid,
            signature: sig,
        };
        let mut b = BytesMut::new();
        h.write(&mut b);
        b.extend_from_slice(b"tail");
        let (p, rest) = parse_smb2_header(&b).unwrap();
        prop_assert_eq!(p, h);
        prop_assert_eq!(rest, b"tail");
    }

    #[test]
    fn smb2_session_setup_request_parses(mid in any::<u64>(), sid in any::<u64>(),
        blob in prop::collection::vec(any::<u8>(), 0..512)) {
        let req = build_smb2_session_setup(mid, sid, &blob);
        let (h, body) = parse_smb2_header(&req).unwrap();
        prop_assert_eq!(h.command, Smb2Command::SESSION_SETUP);
        prop_assert_eq!((h.message_id, h.session_id), (mid, sid));
        // [MS-SMB2] 2.2.5: SecurityBufferOffset 88, SecurityBufferLength = blob length.
        prop_assert_eq!(&body[12..14], &88u16.to_le_bytes());
        prop_assert_eq!(&body[14..16], &(blob.len() as u16).to_le_bytes());
        prop_assert_eq!(&req[88..], &blob[..]);
    }

    #[test]
    fn av_pairs_roundtrip(
        nb in "\\PC{0,300}", dom in "\\PC{0,40}", dns in "[a-z0-9.-]{0,80}",
        fl in any::<u32>(), ts in any::<u64>(), unknown in prop::collection::vec(any::<u8>(), 0..32),
        eol in any::<bool>(),
    ) {
        let mut ti = av(1, &utf16le(&nb));
        ti.extend(av(2, &utf16le(&dom)));
        ti.extend(av(0x7F, &unknown)); // unknown ids are skipped
        ti.extend(av(3, &utf16le(&dns)));
        ti.extend(av(6, &fl.to_le_bytes()));
        ti.extend(av(7, &ts.to_le_bytes()));
        if eol {
            ti.extend(av(0, &[]));
        }
        let t = parse_ntlmssp_av_pairs(&ti).unwrap();
        prop_assert_eq!(t.nb_computer_name, Some(capped(&nb)));
        prop_assert_eq!(t.nb_domain_name, Some(capped(&dom)));
        prop_assert_eq!(t.dns_computer_name, Some(dns.clone()));
        prop_assert_eq!(t.dns_domain_name, None);
        prop_assert_eq!(t.flags, Some(fl));
        prop_assert_eq!(t.timestamp, Some(ts));
        // A pair cut short is an error, not a panic or a silent success.
        let cut = ti.len() - if eol { 5 } else { 1 };
        prop_assert!(parse_ntlmssp_av_pairs(&ti[..cut]).is_err());
    }

    #[test]
    fn ntlmssp_challenge_roundtrip(
        flags in any::<u32>(), nonce in any::<[u8; 8]>(), name in "[A-Z0-9-]{0,15}",
        dns in "[a-z0-9.]{0,60}", ver in any::<[u8; 8]>(), wrap in 0u8..3,
    ) {
        let unicode = flags & ntlm_flags::UNICODE != 0;
        let target = if unicode { utf16le(&name) } else { name.as_bytes().to_vec() };
        let mut ti = av(3, &utf16le(&dns));
        ti.extend(av(0, &[]));
        let msg = challenge(flags, nonce, &target, &ti, ver);
        let blob = match wrap {
            0 => msg.clone(),
            1 => build_spnego_neg_token_init(&msg).to_vec(),
            _ => build_spnego_neg_token_resp(&msg).to_vec(),
        };
        // spnego_find_ntlmssp locates exactly the message inside any wrapping.
        let found = spnego_find_ntlmssp(&blob).unwrap();
        prop_assert_eq!(found, &msg[..]);
        let c = parse_ntlmssp_challenge(found).unwrap();
        prop_assert_eq!(c.flags, flags);
        prop_assert_eq!(c.server_challenge, nonce);
        prop_assert_eq!(c.target_name, (!name.is_empty()).then(|| name.clone()));
        prop_assert_eq!(c.target_info.dns_computer_name, Some(dns.clone()));
        prop_assert_eq!(&c.target_info_raw, &ti);
        let want_ver = flags & ntlm_flags::VERSION != 0;
        prop_assert_eq!(c.version.is_some(), want_ver);
        if let Some(v) = c.version {
            prop_assert_eq!((v.major, v.minor, v.build, v.revision),
                (ver[0], ver[1], u16::from_le_bytes([ver[2], ver[3]]), ver[7]));
        }
        // Every truncation is an error or a shorter parse, never a panic.
        for cut in 0..msg.len() {
            let _ = parse_ntlmssp_challenge(&msg[..cut]);
        }
    }

    #[test]
    fn no_parser_panics_on_arbitrary_bytes(b in prop::collection::vec(any::<u8>(), 0..1024)) {
        all_parsers(&b);
    }

    #[test]
    fn no_parser_panics_on_arbitrary_bytes_after_a_magic(
        magic in prop::sample::select(vec![*b"\xffSMB", *b"\xfeSMB", *b"\xfdSMB", *b"NTLM"]),
        b in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut m = magic.to_vec();
        m.extend(b);
        all_parsers(&m);
    }

    #[test]
    fn no_parser_panics_on_mutated_real_responses(
        which in 0..FIXTURES.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut m = FIXTURES[which].to_vec();
        for (at, v) in edits {
            let k = at.index(m.len());
            m[k] = v;
        }
        all_parsers(&m);
        let n = cut.index(m.len() + 1);
        all_parsers(&m[..n]);
    }
}
