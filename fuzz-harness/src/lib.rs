//! What each fuzz target does with one input. Shared by the libFuzzer binaries (fuzz/fuzz_targets)
//! and by this crate's `tests/corpus.rs`, which replays fuzz/corpus and fuzz/regressions through
//! [`run`] in plain `cargo test`.
//!
//! Every function must return normally for every input: a panic (index out of bounds, overflow with
//! debug assertions, a failed invariant `assert!` below) is a bug the fuzzer reports. Besides "does
//! not panic", the asserts check what callers rely on: lengths bounded by the module's constants,
//! borrowed slices lying inside the input, header fields that write back to the same bytes.
#![forbid(unsafe_code)]

use bytes::BytesMut;
use smb1scan_protocol::message::{parse_smb_message, SmbMessage};
use smb1scan_protocol::nbss::{
    parse_nbss_header, parse_nbss_session_response, NbssType, MAX_NBSS_LEN, NBSS_HEADER_LEN,
};
use smb1scan_protocol::ntlmssp::{parse_ntlmssp_av_pairs, parse_ntlmssp_challenge, MAX_NAME_CHARS};
use smb1scan_protocol::smb1::header::{
    parse_smb1_body, parse_smb1_header, MAX_SMB_STRING_CHARS, SMB1_HEADER_LEN,
};
use smb1scan_protocol::smb1::negotiate::{parse_smb1_negotiate_response, SMB1_DIALECTS};
use smb1scan_protocol::smb1::session_setup::parse_smb1_session_setup_response;
use smb1scan_protocol::smb1::trans::parse_smb1_trans_response;
use smb1scan_protocol::smb1::trans2::{interpret_doublepulsar_reply, DOUBLEPULSAR_PING_MID};
use smb1scan_protocol::smb1::tree_connect::parse_smb1_tree_connect_response;
use smb1scan_protocol::smb2::header::parse_smb2_header;
use smb1scan_protocol::smb2::negotiate::{
    parse_smb2_error_response, parse_smb2_negotiate_outcome, parse_smb2_negotiate_response,
    Smb2NegotiateContextType, Smb2NegotiateOutcome, MAX_NEGOTIATE_CONTEXTS,
};
use smb1scan_protocol::smb2::session_setup::{
    parse_smb2_session_setup_response, MAX_SMB2_SECURITY_BUFFER,
};
use smb1scan_protocol::spnego;

/// Every target name, as used for fuzz/fuzz_targets/<name>.rs and fuzz/corpus/<name>/.
pub const TARGETS: &[&str] = &[
    "nbss_header",
    "session_response",
    "smb1_header_body",
    "smb1_negotiate",
    "smb2_negotiate",
    "smb_message",
    "smb1_session_setup",
    "tree_connect",
    "trans",
    "doublepulsar",
    "ntlmssp_challenge",
    "spnego_find_ntlmssp",
    "smb2_session_setup",
    "probe_path",
    "client_requests",
    "clients_capture",
    "clients_tcp",
    "clients_audit",
];

/// Runs target `name` on `data`; false when no target has that name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "nbss_header" => nbss_header(data),
        "session_response" => session_response(data),
        "smb1_header_body" => smb1_header_body(data),
        "smb1_negotiate" => smb1_negotiate(data),
        "smb2_negotiate" => smb2_negotiate(data),
        "smb_message" => smb_message(data),
        "smb1_session_setup" => smb1_session_setup(data),
        "tree_connect" => tree_connect(data),
        "trans" => trans(data),
        "doublepulsar" => doublepulsar(data),
        "ntlmssp_challenge" => ntlmssp_challenge(data),
        "spnego_find_ntlmssp" => spnego_find_ntlmssp(data),
        "smb2_session_setup" => smb2_session_setup(data),
        "probe_path" => probe_path(data),
        "client_requests" => client_requests(data),
        "clients_capture" => clients_capture(data),
        "clients_tcp" => clients_tcp(data),
        "clients_audit" => clients_audit(data),
        _ => return false,
    }
    true
}

/// True when `inner` is a sub-slice of `outer` (same allocation, within bounds).
fn within(outer: &[u8], inner: &[u8]) -> bool {
    let o = outer.as_ptr() as usize;
    let i = inner.as_ptr() as usize;
    inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
}

fn short(s: &Option<String>, max_chars: usize) -> bool {
    s.iter().all(|s| s.chars().count() <= max_chars)
}

/// parse_nbss_header: Ok only for a known type and a length within MAX_NBSS_LEN.
pub fn nbss_header(data: &[u8]) {
    if let Ok(h) = parse_nbss_header(data) {
        assert!(h.length <= MAX_NBSS_LEN);
        assert!(data.len() >= NBSS_HEADER_LEN);
        assert_eq!(data.first().copied(), Some(h.kind.0));
    }
}

/// parse_nbss_session_response on a whole NBSS answer to a SESSION REQUEST.
pub fn session_response(data: &[u8]) {
    let _ = format!("{:?}", parse_nbss_session_response(data));
}

/// parse_smb1_header + parse_smb1_body; a parsed header writes back to the same 32 bytes
/// (Reserved excepted).
pub fn smb1_header_body(data: &[u8]) {
    let Ok((h, rest)) = parse_smb1_header(data) else {
        return;
    };
    assert_eq!(rest.len() + SMB1_HEADER_LEN, data.len());
    let mut b = BytesMut::new();
    h.write(&mut b);
    assert_eq!(b.len(), SMB1_HEADER_LEN);
    assert_eq!(b.get(..22), data.get(..22));
    assert_eq!(b.get(24..32), data.get(24..32));
    let _ = (
        h.status().hex(),
        h.status().is_success(),
        h.is_reply(),
        h.is_unicode(),
    );
    let _ = h.command.name();
    if let Ok(body) = parse_smb1_body(rest) {
        assert!(within(rest, body.words));
        assert!(within(rest, body.bytes));
        assert_eq!(body.words.len(), usize::from(body.word_count) * 2);
        assert_eq!(body.bytes.len(), usize::from(body.byte_count));
    }
}

/// parse_smb1_negotiate_response and every accessor the probe uses.
pub fn smb1_negotiate(data: &[u8]) {
    let Ok((h, r)) = parse_smb1_negotiate_response(data) else {
        return;
    };
    let _ = (
        h.status(),
        r.dialect_index(),
        r.dialect_selected(),
        r.signing(),
    );
    let _ = r.dialect_name(SMB1_DIALECTS);
    if let Some(n) = r.nt_lm() {
        let _ = (n.signing(), n.system_time_unix(), n.is_extended_security());
        let _ = (n.domain_name(), n.server_name(), n.server_guid());
        let _ = n.has_capability(0x8000_0000);
        if let Some(blob) = n.security_blob() {
            assert!(within(data, blob));
            spnego::spnego_find_ntlmssp(blob);
        }
    }
    let _ = format!("{r:?}");
}

/// parse_smb2_negotiate_outcome / parse_smb2_negotiate_response / parse_smb2_error_response.
pub fn smb2_negotiate(data: &[u8]) {
    let direct = parse_smb2_negotiate_response(data);
    match parse_smb2_negotiate_outcome(data) {
        Ok(Smb2NegotiateOutcome::Negotiated(h, r)) => {
            assert!(h.status.is_success());
            assert!(direct.is_ok());
            assert!(within(data, r.security_buffer));
            assert!(r.negotiate_contexts.len() <= MAX_NEGOTIATE_CONTEXTS);
            for c in &r.negotiate_contexts {
                assert!(within(data, c.data));
                let _ = (c.selected_cipher(), c.preauth_hash(), c.context_type.name());
            }
            let _ = (
                r.signing(),
                r.system_time_unix(),
                r.server_start_time_unix(),
            );
            let _ = (r.server_guid_string(), r.dialect_revision.name());
            let _ = r.context(Smb2NegotiateContextType::ENCRYPTION_CAPABILITIES);
            spnego::spnego_find_ntlmssp(r.security_buffer);
        }
        Ok(Smb2NegotiateOutcome::Failed(h, rest)) => {
            assert!(!h.status.is_success());
            assert!(direct.is_err());
            if let Ok(e) = parse_smb2_error_response(rest) {
                assert!(within(rest, e.error_data));
            }
        }
        Err(_) => assert!(direct.is_err()),
    }
    let _ = parse_smb2_error_response(data);
}

/// parse_smb_message: dispatch on the magic.
pub fn smb_message(data: &[u8]) {
    match parse_smb_message(data) {
        Ok(SmbMessage::Smb1(h, rest)) => {
            assert!(within(data, rest));
            assert_eq!(parse_smb1_header(data).ok(), Some((h, rest)));
        }
        Ok(SmbMessage::Smb2(h, rest)) => {
            assert!(within(data, rest));
            let _ = (h.is_response(), h.is_async(), h.tree_id(), h.async_id());
            assert_eq!(parse_smb2_header(data).ok(), Some((h, rest)));
        }
        Err(_) => {}
    }
}

/// parse_smb1_session_setup_response; strings are capped at MAX_SMB_STRING_CHARS.
pub fn smb1_session_setup(data: &[u8]) {
    let Ok((_h, r)) = parse_smb1_session_setup_response(data) else {
        return;
    };
    assert!(within(data, r.security_blob));
    assert!(short(&r.native_os, MAX_SMB_STRING_CHARS));
    assert!(short(&r.native_lanman, MAX_SMB_STRING_CHARS));
    assert!(short(&r.primary_domain, MAX_SMB_STRING_CHARS));
    let _ = r.is_guest();
    spnego::spnego_find_ntlmssp(r.security_blob);
}

/// parse_smb1_tree_connect_response.
pub fn tree_connect(data: &[u8]) {
    if let Ok((h, r)) = parse_smb1_tree_connect_response(data) {
        let _ = (h.tid, h.status(), format!("{r:?}"));
    }
}

/// parse_smb1_trans_response; parameter/data slices lie inside the message.
pub fn trans(data: &[u8]) {
    if let Ok((_h, r)) = parse_smb1_trans_response(data) {
        assert!(within(data, r.setup));
        assert!(within(data, r.parameters));
        assert!(within(data, r.data));
    }
}

/// interpret_doublepulsar_reply on a parsed header, for the probe's MID and for a MID taken from
/// the input's last two bytes (so wrap-around at 0xFFFF is reached).
pub fn doublepulsar(data: &[u8]) {
    let Ok((h, _)) = parse_smb1_header(data) else {
        return;
    };
    let _ = interpret_doublepulsar_reply(DOUBLEPULSAR_PING_MID, &h);
    if let [.., lo, hi] = data {
        let _ = format!(
            "{:?}",
            interpret_doublepulsar_reply(u16::from_le_bytes([*lo, *hi]), &h)
        );
    }
}

/// parse_ntlmssp_challenge and parse_ntlmssp_av_pairs; names capped at MAX_NAME_CHARS.
pub fn ntlmssp_challenge(data: &[u8]) {
    if let Ok(c) = parse_ntlmssp_challenge(data) {
        assert!(short(&c.target_name, MAX_NAME_CHARS));
        let ti = &c.target_info;
        for n in [
            &ti.nb_computer_name,
            &ti.nb_domain_name,
            &ti.dns_computer_name,
            &ti.dns_domain_name,
            &ti.dns_tree_name,
        ] {
            assert!(short(n, MAX_NAME_CHARS));
        }
        assert!(c.target_info_raw.len() <= data.len());
        let _ = c.version.map(|v| v.to_string());
    }
    let _ = parse_ntlmssp_av_pairs(data);
}

/// spnego::spnego_find_ntlmssp, then the CHALLENGE parser on what it found.
pub fn spnego_find_ntlmssp(data: &[u8]) {
    if let Some(m) = spnego::spnego_find_ntlmssp(data) {
        assert!(within(data, m));
        assert!(m.starts_with(b"NTLMSSP\0"));
        ntlmssp_challenge(m);
    }
}

/// parse_smb2_session_setup_response; the buffer is bounded.
pub fn smb2_session_setup(data: &[u8]) {
    if let Ok((_h, r)) = parse_smb2_session_setup_response(data) {
        assert!(within(data, r.security_buffer));
        assert!(r.security_buffer.len() <= MAX_SMB2_SECURITY_BUFFER);
        spnego::spnego_find_ntlmssp(r.security_buffer);
    }
}

/// Reads the next NBSS frame from `stream` as `Conn::recv` does (header first, length checked
/// before the body, up to 8 keep-alives skipped) and returns the payload; None ends the stream.
fn next_message<'a>(stream: &mut &'a [u8]) -> Option<&'a [u8]> {
    for _ in 0..8 {
        let h = parse_nbss_header(stream).ok()?;
        let end = NBSS_HEADER_LEN.checked_add(h.length)?;
        let payload = stream.get(NBSS_HEADER_LEN..end)?;
        *stream = stream.get(end..)?;
        if h.kind == NbssType::KEEP_ALIVE {
            continue;
        }
        return (h.kind == NbssType::SESSION_MESSAGE).then_some(payload);
    }
    None
}

/// The whole response path of a probe on one connection: the input is the byte stream a peer
/// sends. The first byte picks port 139 (odd: a NetBIOS session response comes first) or 445;
/// then each frame goes through the parsers of the next probe step, in probe order: SMB1
/// NEGOTIATE (dispatch on magic first, as an SMB2 answer is possible), SESSION_SETUP (challenge,
/// then authenticate), TREE_CONNECT, TRANS PeekNamedPipe (falling back to the bare header),
/// TRANS2 ping, then SMB2 NEGOTIATE and SMB2 SESSION_SETUP on a second connection.
pub fn probe_path(data: &[u8]) {
    let Some((&mode, mut stream)) = data.split_first() else {
        return;
    };
    if mode & 1 == 1 {
        let Some(end) = parse_nbss_header(stream)
            .ok()
            .and_then(|h| NBSS_HEADER_LEN.checked_add(h.length))
        else {
            return;
        };
        let Some(frame) = stream.get(..end) else {
            return;
        };
        let _ = parse_nbss_session_response(frame);
        stream = stream.get(end..).unwrap_or_default();
    }
    type Step = fn(&[u8]);
    let steps: [Step; 9] = [
        |m| {
            smb_message(m);
            smb1_negotiate(m);
        },
        smb1_session_setup,
        smb1_session_setup,
        tree_connect,
        |m| {
            trans(m);
            smb1_header_body(m);
        },
        doublepulsar,
        |m| {
            smb_message(m);
            smb2_negotiate(m);
        },
        smb2_session_setup,
        smb2_session_setup,
    ];
    for step in steps {
        let Some(m) = next_message(&mut stream) else {
            return;
        };
        step(m);
    }
}

/// The parsers of what clients send (`smb1scan clients`): NEGOTIATE and SESSION_SETUP requests,
/// NTLMSSP client names, the NetBIOS session request. Lists and strings stay within their bounds.
pub fn client_requests(data: &[u8]) {
    use smb1scan_protocol::requests::*;
    if let Ok(r) = parse_smb1_negotiate_request(data) {
        assert!(r.dialects.len() <= MAX_REQUEST_DIALECTS);
        assert!(r
            .dialects
            .iter()
            .all(|d| d.chars().count() <= MAX_REQUEST_STRING_CHARS));
    }
    if let Ok(r) = parse_smb2_negotiate_request(data) {
        assert!(r.dialects.len() <= MAX_REQUEST_DIALECTS);
        assert!(r.dialects.len() <= usize::from(r.dialect_count));
    }
    if let Ok(r) = parse_smb1_session_setup_request(data) {
        assert!(within(data, r.security_blob));
        for s in [
            &r.native_os,
            &r.native_lanman,
            &r.account_name,
            &r.primary_domain,
        ] {
            assert!(short(s, MAX_REQUEST_STRING_CHARS));
        }
    }
    if let Ok(blob) = parse_smb2_session_setup_request(data) {
        assert!(within(data, blob));
    }
    if let Ok(n) = parse_ntlmssp_client_names(data) {
        for s in [&n.domain, &n.user, &n.workstation] {
            assert!(short(s, MAX_REQUEST_STRING_CHARS));
        }
    }
    let _ = parse_nbss_session_request(data);
}

/// A whole capture file through `smb1scan clients`' reader (pcap-parser, etherparse, the
/// connection tracker), with small bounds that must hold.
pub fn clients_capture(data: &[u8]) {
    use smb1scan::clients::capture::read_capture;
    use smb1scan::clients::flow::{Limits, Tracker};
    let limits = Limits {
        max_flows: 8,
        max_pairs: 4,
    };
    let mut t = Tracker::new(limits);
    let mut problems = Vec::new();
    read_capture(data, "fuzz", &mut t, &mut problems);
    assert!(t.flows_held() <= limits.max_flows);
    let tracked = t.finish();
    assert!(tracked.pairs.len() <= limits.max_pairs);
    assert!(tracked.stats.peak_flows <= limits.max_flows as u64);
}

/// TCP segments straight into the connection tracker: each chunk is [flags][len][payload]; flags
/// bit 0 = from the server, 1 = SYN, 2 = FIN, 3 = RST, bits 4-7 move the sequence number back
/// or forward (retransmissions, gaps, reordering).
pub fn clients_tcp(data: &[u8]) {
    use smb1scan::clients::flow::{Limits, Segment, Tracker};
    use std::net::SocketAddr;
    let client: SocketAddr = "10.0.0.1:50000".parse().unwrap_or_else(|_| unreachable!());
    let server: SocketAddr = "10.0.0.2:445".parse().unwrap_or_else(|_| unreachable!());
    let mut t = Tracker::new(Limits {
        max_flows: 4,
        max_pairs: 4,
    });
    let (mut cseq, mut sseq) = (1000u32, 9000u32);
    let mut rest = data;
    let mut ts = 0i64;
    while let [flags, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (payload, next) = tail.split_at(n);
        rest = next;
        let from_server = flags & 1 != 0;
        let jitter = i32::from(flags >> 4) - 8;
        let seq = if from_server { &mut sseq } else { &mut cseq };
        let at = seq.wrapping_add_signed(jitter * 7);
        ts += 1;
        t.segment(&Segment {
            ts,
            src: if from_server { server } else { client },
            dst: if from_server { client } else { server },
            seq: at,
            syn: flags & 2 != 0,
            fin: flags & 4 != 0,
            rst: flags & 8 != 0,
            payload,
            cut: false,
        });
        *seq = at.wrapping_add(n as u32);
    }
    assert!(t.flows_held() <= 4);
    let _ = t.finish();
}

/// The SMB1 audit readers: the input as an `.evtx` image (evtx crate, chunk checksums, the panic
/// guard) and as event XML (quick-xml).
pub fn clients_audit(data: &[u8]) {
    use smb1scan::clients::audit::{parse_events, read_evtx_bytes};
    let mut problems = Vec::new();
    let _ = read_evtx_bytes(data, "fuzz", &mut problems);
    let text = String::from_utf8_lossy(data);
    let (events, _) = parse_events(&text);
    assert!(events.len() <= text.matches("Event").count());
}
