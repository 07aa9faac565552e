//! Client requests as a passive observer reads them from a capture (`smb1scan clients`): the SMB1
//! and SMB2 NEGOTIATE requests (which dialects a client offers), the SESSION_SETUP requests (the
//! client's native OS / LAN Manager strings and its NTLMSSP identity), and the NetBIOS session
//! request (the calling and called names).
//!
//! The scanner builds these requests elsewhere (`build_*`); here they are parsed, as hostile input:
//! every count is bounded by a named constant before anything is collected, and strings are cut to
//! [`MAX_REQUEST_STRING_CHARS`].

use nom::bytes::complete::take;
use nom::number::complete::{le_u16, le_u32, le_u64, le_u8};
use nom::{IResult, Parser};

use crate::error::{ParseError, Result};
use crate::ntlmssp::NTLMSSP_SIGNATURE;
use crate::smb1::header::{parse_smb1_body, parse_smb1_header, Smb1Command, Smb1Header};
use crate::smb2::header::{parse_smb2_header, Smb2Command, Smb2Header, SMB2_HEADER_LEN};
use crate::smb2::negotiate::Smb2Dialect;
use crate::util::{run, slice_at, take_oemz, take_utf16z, utf16le_to_string};

/// At most this many dialects are read from one NEGOTIATE request (Windows sends 8 at most,
/// smbclient 10); the rest are counted in `dialects_dropped`.
pub const MAX_REQUEST_DIALECTS: usize = 64;
/// Strings read from requests (dialect names, native OS, NTLMSSP names) are cut to this many
/// characters.
pub const MAX_REQUEST_STRING_CHARS: usize = 256;

fn cut(s: String) -> String {
    // No more bytes than the bound: no more characters either (no count needed).
    if s.len() > MAX_REQUEST_STRING_CHARS && s.chars().count() > MAX_REQUEST_STRING_CHARS {
        s.chars().take(MAX_REQUEST_STRING_CHARS).collect()
    } else {
        s
    }
}

/// An SMB_COM_NEGOTIATE request: the dialect strings the client offers, in its order.
/// Spec: [MS-CIFS] 2.2.4.52.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smb1NegotiateRequest {
    /// The SMB header.
    pub header: Smb1Header,
    /// DialectString of each entry (BufferFormat 0x02), e.g. "NT LM 0.12", "SMB 2.002".
    pub dialects: Vec<String>,
    /// Entries past [`MAX_REQUEST_DIALECTS`], not kept.
    pub dialects_dropped: usize,
}

/// Parses an SMB_COM_NEGOTIATE request (the NBSS payload, from `\xFFSMB`). A missing
/// BufferFormat 0x02 before an entry ends the list with an error: a client never sends one.
/// Spec: [MS-CIFS] 2.2.4.52.1 (WordCount 0; Bytes: { BufferFormat 0x02, DialectString OEM_STRING }*).
pub fn parse_smb1_negotiate_request(i: &[u8]) -> Result<Smb1NegotiateRequest> {
    const WHAT: &str = "SMB_COM_NEGOTIATE request";
    let (header, rest) = parse_smb1_header(i)?;
    if header.command != Smb1Command::NEGOTIATE || header.is_reply() {
        return Err(ParseError::invalid(WHAT, "not a NEGOTIATE request"));
    }
    let body = parse_smb1_body(rest)?;
    let mut dialects = Vec::new();
    let mut dialects_dropped = 0;
    let mut b = body.bytes;
    while let Some((&format, after)) = b.split_first() {
        if format != 0x02 {
            return Err(ParseError::invalid(
                WHAT,
                format!("BufferFormat 0x{format:02X} (expected 0x02)"),
            ));
        }
        let (name, next) = take_oemz(after);
        if dialects.len() < MAX_REQUEST_DIALECTS {
            dialects.push(cut(name));
        } else {
            dialects_dropped += 1;
        }
        b = next;
    }
    Ok(Smb1NegotiateRequest {
        header,
        dialects,
        dialects_dropped,
    })
}

/// True for an SMB1 NEGOTIATE dialect string that asks for SMB2 ("SMB 2.002", "SMB 2.???"):
/// a server that speaks SMB2 answers such a request in SMB2 ([MS-SMB2] 3.3.5.3.1).
pub fn is_smb2_dialect_string(s: &str) -> bool {
    s.starts_with("SMB 2.")
}

/// An SMB2 NEGOTIATE request: the dialect revisions the client offers.
/// Spec: [MS-SMB2] 2.2.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smb2NegotiateRequest {
    /// The SMB2 header.
    pub header: Smb2Header,
    /// SecurityMode.
    pub security_mode: u16,
    /// Capabilities.
    pub capabilities: u32,
    /// ClientGuid as on the wire.
    pub client_guid: [u8; 16],
    /// Dialects, at most [`MAX_REQUEST_DIALECTS`].
    pub dialects: Vec<Smb2Dialect>,
    /// DialectCount as sent.
    pub dialect_count: u16,
}

type NegFixed = (u16, u16, u16, u32, [u8; 16]);

fn smb2_negotiate_fixed(i: &[u8]) -> IResult<&[u8], NegFixed> {
    let (i, structure_size) = le_u16.parse(i)?;
    let (i, dialect_count) = le_u16.parse(i)?;
    let (i, security_mode) = le_u16.parse(i)?;
    let (i, _reserved) = le_u16.parse(i)?;
    let (i, capabilities) = le_u32.parse(i)?;
    let (i, guid) = take(16usize).parse(i)?;
    let (i, _negotiate_context_or_client_start_time) = le_u64.parse(i)?;
    let mut client_guid = [0u8; 16];
    client_guid.copy_from_slice(guid);
    Ok((
        i,
        (
            structure_size,
            dialect_count,
            security_mode,
            capabilities,
            client_guid,
        ),
    ))
}

/// Parses an SMB2 NEGOTIATE request (the NBSS payload, from `\xFESMB`). Dialects cut short by
/// the end of the message are an error; more than [`MAX_REQUEST_DIALECTS`] are not kept.
/// Spec: [MS-SMB2] 2.2.3 (StructureSize 36, DialectCount, SecurityMode, Reserved, Capabilities,
/// ClientGuid, NegotiateContextOffset/Count or ClientStartTime, Dialects).
pub fn parse_smb2_negotiate_request(i: &[u8]) -> Result<Smb2NegotiateRequest> {
    const WHAT: &str = "SMB2 NEGOTIATE request";
    let (header, rest) = parse_smb2_header(i)?;
    if header.command != Smb2Command::NEGOTIATE || header.is_response() {
        return Err(ParseError::invalid(WHAT, "not a NEGOTIATE request"));
    }
    let (after, (structure_size, dialect_count, security_mode, capabilities, client_guid)) =
        run(WHAT, rest, smb2_negotiate_fixed)?;
    if structure_size != 36 {
        return Err(ParseError::invalid(
            WHAT,
            format!("StructureSize {structure_size} (expected 36)"),
        ));
    }
    let n = usize::from(dialect_count);
    let raw = slice_at(WHAT, after, 0, n * 2)?;
    let dialects = raw
        .chunks_exact(2)
        .take(MAX_REQUEST_DIALECTS)
        .filter_map(|c| <[u8; 2]>::try_from(c).ok())
        .map(|c| Smb2Dialect(u16::from_le_bytes(c)))
        .collect();
    Ok(Smb2NegotiateRequest {
        header,
        security_mode,
        capabilities,
        client_guid,
        dialects,
        dialect_count,
    })
}

/// What a client's SMB_COM_SESSION_SETUP_ANDX request says about the client.
/// Spec: [MS-CIFS] 2.2.4.53.1 (WordCount 10 pre-NT, 13 NT LM), [MS-SMB] 2.2.4.6.1 (WordCount 12,
/// extended security).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Smb1SessionSetupRequest<'a> {
    /// WordCount: 10, 12 or 13.
    pub word_count: u8,
    /// SecurityBlob (WordCount 12 only): SPNEGO or raw NTLMSSP.
    pub security_blob: &'a [u8],
    /// AccountName (WordCount 10/13).
    pub account_name: Option<String>,
    /// PrimaryDomain (WordCount 10/13).
    pub primary_domain: Option<String>,
    /// NativeOS, e.g. "Windows 5.1", "Unix".
    pub native_os: Option<String>,
    /// NativeLanMan, e.g. "Windows 2000 LAN Manager", "Samba".
    pub native_lanman: Option<String>,
}

/// Reads `n` SMB_STRINGs from `bytes`, whose first byte sits `offset` bytes after the SMB header
/// start; Unicode strings are aligned to an even offset ([MS-CIFS] 2.2.1.1, 2.2.3.3 Pad). A string
/// missing at the end of the message is `None`.
fn smb_strings(bytes: &[u8], offset: usize, unicode: bool, n: usize) -> Vec<Option<String>> {
    let mut b = bytes;
    if unicode && offset % 2 == 1 {
        b = b.get(1..).unwrap_or_default();
    }
    let mut out = Vec::new();
    for _ in 0..n {
        if b.is_empty() {
            out.push(None);
            continue;
        }
        let (s, rest) = if unicode {
            take_utf16z(b)
        } else {
            take_oemz(b)
        };
        out.push(Some(cut(s)));
        b = rest;
    }
    out
}

/// Parses an SMB_COM_SESSION_SETUP_ANDX request (the NBSS payload, from `\xFFSMB`). Passwords are
/// skipped, never kept. Strings are Unicode when Flags2 says so.
/// Spec: [MS-CIFS] 2.2.4.53.1, [MS-SMB] 2.2.4.6.1.
pub fn parse_smb1_session_setup_request(i: &[u8]) -> Result<Smb1SessionSetupRequest<'_>> {
    const WHAT: &str = "SESSION_SETUP_ANDX request";
    let (h, rest) = parse_smb1_header(i)?;
    if h.command != Smb1Command::SESSION_SETUP_ANDX || h.is_reply() {
        return Err(ParseError::invalid(
            WHAT,
            "not a SESSION_SETUP_ANDX request",
        ));
    }
    let body = parse_smb1_body(rest)?;
    let unicode = h.is_unicode();
    // Word offsets: AndX (4), MaxBufferSize, MaxMpxCount, VcNumber (2 each), SessionKey (4) = 14;
    // then the lengths that say where the strings start.
    let word = |off: usize| crate::util::u16_le_at(body.words, off).map(usize::from);
    let mut r = Smb1SessionSetupRequest {
        word_count: body.word_count,
        ..Default::default()
    };
    let skip = match body.word_count {
        // [MS-SMB] 2.2.4.6.1: SecurityBlobLength at word offset 14.
        12 => {
            let len = word(14).ok_or_else(|| ParseError::invalid(WHAT, "short words"))?;
            r.security_blob = slice_at(WHAT, body.bytes, 0, len)?;
            len
        }
        // [MS-CIFS] 2.2.4.53.1: OEMPasswordLen, UnicodePasswordLen at 14, 16.
        13 => {
            let oem = word(14).ok_or_else(|| ParseError::invalid(WHAT, "short words"))?;
            let uni = word(16).ok_or_else(|| ParseError::invalid(WHAT, "short words"))?;
            oem + uni
        }
        // [MS-CIFS] 2.2.4.53.1 (LANMAN dialects): PasswordLength at 14.
        10 => word(14).ok_or_else(|| ParseError::invalid(WHAT, "short words"))?,
        n => {
            return Err(ParseError::invalid(
                WHAT,
                format!("WordCount {n} (expected 10, 12 or 13)"),
            ))
        }
    };
    let strings = body.bytes.get(skip..).ok_or(ParseError::Truncated {
        what: WHAT,
        need: skip,
        have: body.bytes.len(),
    })?;
    let offset = body.bytes_offset + skip;
    if body.word_count == 12 {
        let mut s = smb_strings(strings, offset, unicode, 2).into_iter();
        r.native_os = s.next().flatten();
        r.native_lanman = s.next().flatten();
    } else {
        let mut s = smb_strings(strings, offset, unicode, 4).into_iter();
        r.account_name = s.next().flatten();
        r.primary_domain = s.next().flatten();
        r.native_os = s.next().flatten();
        r.native_lanman = s.next().flatten();
    }
    Ok(r)
}

/// The security buffer of an SMB2 SESSION_SETUP request.
/// Spec: [MS-SMB2] 2.2.5 (StructureSize 25, Flags, SecurityMode, Capabilities, Channel,
/// SecurityBufferOffset from the header start, SecurityBufferLength, PreviousSessionId, Buffer).
pub fn parse_smb2_session_setup_request(i: &[u8]) -> Result<&[u8]> {
    const WHAT: &str = "SMB2 SESSION_SETUP request";
    let (h, rest) = parse_smb2_header(i)?;
    if h.command != Smb2Command::SESSION_SETUP || h.is_response() {
        return Err(ParseError::invalid(WHAT, "not a SESSION_SETUP request"));
    }
    let (_, (structure_size, offset, len)) = run(WHAT, rest, |i| {
        let (i, structure_size) = le_u16.parse(i)?;
        let (i, _flags) = le_u8.parse(i)?;
        let (i, _security_mode) = le_u8.parse(i)?;
        let (i, _capabilities) = le_u32.parse(i)?;
        let (i, _channel) = le_u32.parse(i)?;
        let (i, offset) = le_u16.parse(i)?;
        let (i, len) = le_u16.parse(i)?;
        let (i, _previous_session_id) = le_u64.parse(i)?;
        Ok((i, (structure_size, offset, len)))
    })?;
    if structure_size != 25 {
        return Err(ParseError::invalid(
            WHAT,
            format!("StructureSize {structure_size} (expected 25)"),
        ));
    }
    let from_body = usize::from(offset)
        .checked_sub(SMB2_HEADER_LEN)
        .ok_or_else(|| ParseError::invalid(WHAT, "SecurityBufferOffset inside the header"))?;
    slice_at(WHAT, rest, from_body, usize::from(len))
}

/// NTLMSSP_NEGOTIATE_UNICODE ([MS-NLMP] 2.2.2.5 flag A).
const NTLMSSP_NEGOTIATE_UNICODE: u32 = 0x0000_0001;
/// NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED ([MS-NLMP] 2.2.2.5 flag K).
const NTLMSSP_OEM_DOMAIN_SUPPLIED: u32 = 0x0000_1000;
/// NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED ([MS-NLMP] 2.2.2.5 flag L).
const NTLMSSP_OEM_WORKSTATION_SUPPLIED: u32 = 0x0000_2000;

/// The client identity an NTLMSSP NEGOTIATE or AUTHENTICATE message carries. No secret is kept:
/// the challenge responses are skipped.
/// Spec: [MS-NLMP] 2.2.1.1, 2.2.1.3.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NtlmsspClientNames {
    /// MessageType: 1 (NEGOTIATE) or 3 (AUTHENTICATE).
    pub message_type: u32,
    /// DomainName.
    pub domain: Option<String>,
    /// UserName (AUTHENTICATE only).
    pub user: Option<String>,
    /// Workstation: the client's NetBIOS name.
    pub workstation: Option<String>,
}

fn field(msg: &[u8], fields_at: usize, unicode: bool) -> Option<String> {
    let len = usize::from(crate::util::u16_le_at(msg, fields_at)?);
    let off = usize::try_from(crate::util::u32_le_at(msg, fields_at + 4)?).ok()?;
    if len == 0 {
        return None;
    }
    let b = msg.get(off..off.checked_add(len)?)?;
    let s = if unicode {
        utf16le_to_string(b)
    } else {
        b.iter().map(|&c| c as char).collect()
    };
    Some(cut(s)).filter(|s| !s.is_empty())
}

/// Reads the names from an NTLMSSP NEGOTIATE (type 1: OEM domain and workstation when the flags
/// say they are supplied) or AUTHENTICATE (type 3: domain, user, workstation) message; `msg`
/// starts at the signature (see [`crate::spnego::spnego_find_ntlmssp`]). A name whose fields point
/// outside the message is `None`. A CHALLENGE or anything else is an error.
/// Spec: [MS-NLMP] 2.2.1.1, 2.2.1.3.
pub fn parse_ntlmssp_client_names(msg: &[u8]) -> Result<NtlmsspClientNames> {
    const WHAT: &str = "NTLMSSP client message";
    if msg.get(..8) != Some(&NTLMSSP_SIGNATURE[..]) {
        return Err(ParseError::invalid(WHAT, "no NTLMSSP signature"));
    }
    let message_type = crate::util::u32_le_at(msg, 8).ok_or(ParseError::Truncated {
        what: WHAT,
        need: 12,
        have: msg.len(),
    })?;
    match message_type {
        1 => {
            let flags = crate::util::u32_le_at(msg, 12).unwrap_or(0);
            Ok(NtlmsspClientNames {
                message_type,
                domain: (flags & NTLMSSP_OEM_DOMAIN_SUPPLIED != 0)
                    .then(|| field(msg, 16, false))
                    .flatten(),
                user: None,
                workstation: (flags & NTLMSSP_OEM_WORKSTATION_SUPPLIED != 0)
                    .then(|| field(msg, 24, false))
                    .flatten(),
            })
        }
        3 => {
            // Lm(12) Nt(20) Domain(28) User(36) Workstation(44) SessionKey(52) Flags(60).
            let flags = crate::util::u32_le_at(msg, 60).ok_or(ParseError::Truncated {
                what: WHAT,
                need: 64,
                have: msg.len(),
            })?;
            let unicode = flags & NTLMSSP_NEGOTIATE_UNICODE != 0;
            Ok(NtlmsspClientNames {
                message_type,
                domain: field(msg, 28, unicode),
                user: field(msg, 36, unicode),
                workstation: field(msg, 44, unicode),
            })
        }
        t => Err(ParseError::invalid(WHAT, format!("MessageType {t}"))),
    }
}

/// The names of a NetBIOS SESSION REQUEST: who is called (the server) and who calls (the client).
/// Spec: RFC 1002 4.3.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NbssSessionRequest {
    /// CALLED NAME, trailing spaces removed.
    pub called: String,
    /// Suffix byte of the called name (0x20 = file server).
    pub called_suffix: u8,
    /// CALLING NAME, trailing spaces removed.
    pub calling: String,
    /// Suffix byte of the calling name.
    pub calling_suffix: u8,
}

/// Decodes one first-level-encoded NetBIOS name (RFC 1001 14.1): length byte 0x20, 32 letters
/// 'A'..'P' (two per byte), then the label terminator 0 (a scope would follow; none is read).
fn netbios_name(i: &[u8]) -> IResult<&[u8], (String, u8)> {
    let (i, len) = le_u8.parse(i)?;
    if len != 32 {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    let (i, enc) = take(32usize).parse(i)?;
    // Skip scope labels up to the zero-length root label.
    let mut rest = i;
    loop {
        let (r, l) = le_u8.parse(rest)?;
        if l == 0 {
            rest = r;
            break;
        }
        let (r, _label) = take(l).parse(r)?;
        rest = r;
    }
    let mut raw = [0u8; 16];
    for (k, pair) in enc.chunks_exact(2).enumerate() {
        let (Some(&hi), Some(&lo)) = (pair.first(), pair.get(1)) else {
            break;
        };
        if !(b'A'..=b'P').contains(&hi) || !(b'A'..=b'P').contains(&lo) {
            return Err(nom::Err::Error(nom::error::Error::new(
                i,
                nom::error::ErrorKind::Verify,
            )));
        }
        if let Some(slot) = raw.get_mut(k) {
            *slot = ((hi - b'A') << 4) | (lo - b'A');
        }
    }
    let [name @ .., suffix] = raw;
    let s: String = name.iter().map(|&c| c as char).collect();
    Ok((rest, (s.trim_end_matches([' ', '\0']).to_string(), suffix)))
}

/// Parses the trailer of a NetBIOS SESSION REQUEST (the bytes after its 4-byte NBSS header).
/// Spec: RFC 1002 4.3.2.
pub fn parse_nbss_session_request(i: &[u8]) -> Result<NbssSessionRequest> {
    let (_, ((called, called_suffix), (calling, calling_suffix))) =
        run("NBSS SESSION REQUEST", i, |i| {
            let (i, a) = netbios_name(i)?;
            let (i, b) = netbios_name(i)?;
            Ok((i, (a, b)))
        })?;
    Ok(NbssSessionRequest {
        called,
        called_suffix,
        calling,
        calling_suffix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nbss::build_nbss_session_request;
    use crate::smb1::header::Smb1Ids;
    use crate::smb1::negotiate::build_smb1_negotiate_request;
    use crate::smb2::negotiate::ALL_DIALECTS;

    #[test]
    fn smb1_negotiate_request_round_trip() {
        let b = build_smb1_negotiate_request(
            &["NT LM 0.12", "SMB 2.002", "SMB 2.???"],
            Smb1Ids::default(),
        );
        let r = parse_smb1_negotiate_request(&b).unwrap();
        assert_eq!(r.dialects, ["NT LM 0.12", "SMB 2.002", "SMB 2.???"]);
        assert!(is_smb2_dialect_string(&r.dialects[1]));
        assert!(!is_smb2_dialect_string(&r.dialects[0]));
    }

    #[test]
    fn smb1_negotiate_request_rejects_bad_buffer_format() {
        let b = build_smb1_negotiate_request(&["NT LM 0.12"], Smb1Ids::default());
        let mut v = b.to_vec();
        let at = v.iter().position(|&c| c == 0x02).unwrap();
        v[at] = 0x04;
        assert!(parse_smb1_negotiate_request(&v).is_err());
    }

    #[test]
    fn smb2_negotiate_request_dialects() {
        let b = crate::smb2::negotiate::build_smb2_negotiate_request(
            &ALL_DIALECTS,
            0,
            [7; 16],
            [0; 32],
        );
        let r = parse_smb2_negotiate_request(&b).unwrap();
        assert_eq!(r.dialects, ALL_DIALECTS.to_vec());
        assert_eq!(r.client_guid, [7; 16]);
        // Cut inside the dialect array: an error, not a shorter list.
        let b = crate::smb2::negotiate::build_smb2_negotiate_request(
            &[Smb2Dialect::SMB2_0_2, Smb2Dialect::SMB2_1],
            0,
            [7; 16],
            [0; 32],
        );
        assert_eq!(parse_smb2_negotiate_request(&b).unwrap().dialects.len(), 2);
        let v = b.get(..b.len() - 1).unwrap();
        assert!(parse_smb2_negotiate_request(v).is_err());
    }

    #[test]
    fn nbss_session_request_names() {
        let b = build_nbss_session_request("FILESRV", "MRI-CONSOLE");
        let r = parse_nbss_session_request(b.get(4..).unwrap()).unwrap();
        assert_eq!(r.called, "FILESRV");
        assert_eq!(r.calling, "MRI-CONSOLE");
        assert!(parse_nbss_session_request(b.get(4..20).unwrap()).is_err());
    }

    #[test]
    fn ntlmssp_authenticate_names() {
        // A minimal AUTHENTICATE: header fields then Unicode payload "DOM" "bob" "WS1".
        let mut m = Vec::new();
        m.extend_from_slice(&NTLMSSP_SIGNATURE);
        m.extend_from_slice(&3u32.to_le_bytes());
        let payload_at = 72u32;
        let dom = crate::util::utf16le("DOM");
        let user = crate::util::utf16le("bob");
        let ws = crate::util::utf16le("WS1");
        let mut fields = |len: usize, off: u32| {
            m.extend_from_slice(&(len as u16).to_le_bytes());
            m.extend_from_slice(&(len as u16).to_le_bytes());
            m.extend_from_slice(&off.to_le_bytes());
        };
        fields(0, payload_at);
        fields(0, payload_at);
        fields(dom.len(), payload_at);
        fields(user.len(), payload_at + dom.len() as u32);
        fields(ws.len(), payload_at + (dom.len() + user.len()) as u32);
        fields(0, payload_at);
        m.extend_from_slice(&NTLMSSP_NEGOTIATE_UNICODE.to_le_bytes());
        m.resize(payload_at as usize, 0);
        m.extend_from_slice(&dom);
        m.extend_from_slice(&user);
        m.extend_from_slice(&ws);
        let n = parse_ntlmssp_client_names(&m).unwrap();
        assert_eq!(n.domain.as_deref(), Some("DOM"));
        assert_eq!(n.user.as_deref(), Some("bob"));
        assert_eq!(n.workstation.as_deref(), Some("WS1"));
        // A workstation field pointing past the end is None, not a panic.
        let short = &m[..m.len() - 2];
        assert_eq!(parse_ntlmssp_client_names(short).unwrap().workstation, None);
    }
}
