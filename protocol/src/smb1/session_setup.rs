//! SMB_COM_SESSION_SETUP_ANDX (0x73): the anonymous null session without extended security
//! ([MS-CIFS] 2.2.4.53), the extended-security form carrying SPNEGO/NTLMSSP ([MS-SMB] 2.2.4.6),
//! and the server's answer to either (Action, security blob, NativeOS, NativeLanMan,
//! PrimaryDomain).

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::le_u16;
use nom::{IResult, Parser};

use crate::error::{ParseError, Result};
use crate::smb1::header::{
    build_smb1_message, parse_smb1_andx, parse_smb1_body, parse_smb1_header, put_smb1_andx,
    put_smb1_string, read_smb1_string, smb1_bytes_offset, Smb1Command, Smb1Header, Smb1Ids,
    CLIENT_FLAGS, CLIENT_FLAGS2, CLIENT_FLAGS2_EXTENDED,
};
use crate::smb1::negotiate::capabilities;
use crate::util::run;

/// Client capabilities ([MS-CIFS] 2.2.4.53.1): CAP_UNICODE | CAP_NT_SMBS | CAP_STATUS32 |
/// CAP_LEVEL_II_OPLOCKS (0xD4, as Windows XP/7 send). CAP_STATUS32 matters: without it Windows
/// answers later steps with DOS-style errors instead of NT status codes.
pub const CLIENT_CAPABILITIES: u32 = capabilities::UNICODE
    | capabilities::NT_SMBS
    | capabilities::STATUS32
    | capabilities::LEVEL_II_OPLOCKS;

/// MaxBufferSize we announce: 4356, the value Windows uses.
const CLIENT_MAX_BUFFER: u16 = 4356;
/// MaxMpxCount we announce: 10 (the lowest a real server offers; we send one request at a time).
const CLIENT_MAX_MPX: u16 = 10;
/// VcNumber 1: a VcNumber of 0 asks the server to drop the client's other connections
/// ([MS-CIFS] 3.3.5.42), which a scanner must never cause.
const CLIENT_VC_NUMBER: u16 = 1;

/// Action bit 0, SMB_SETUP_GUEST ([MS-CIFS] 2.2.4.53.2).
pub const ACTION_GUEST: u16 = 0x0001;
/// Action bit 1, SMB_SETUP_USE_LANMAN_KEY.
/// Spec: [MS-CIFS] 2.2.4.53.2.
pub const ACTION_USE_LANMAN_KEY: u16 = 0x0002;

/// Builds an anonymous SESSION_SETUP_ANDX request without extended security, WordCount 13
/// ([MS-CIFS] 2.2.4.53.1): OEMPassword a single 0x00, UnicodePassword empty, Account and
/// PrimaryDomain empty, then `native_os` and `native_lanman`, all Unicode and aligned.
///
/// Returns the bare SMB message (frame it with [`crate::nbss::build_nbss_session_message`]).
/// Checked with tshark 4.x: the SMB dissector decodes every field and reports no malformed data.
pub fn build_smb1_session_setup_anonymous(
    ids: Smb1Ids,
    native_os: &str,
    native_lanman: &str,
) -> Bytes {
    build_smb1_session_setup_plain(
        ids,
        &PlainLogon {
            account: "",
            domain: "",
            oem_password: &[0],
            unicode_password: &[],
        },
        native_os,
        native_lanman,
    )
}

/// Who logs on in a SESSION_SETUP_ANDX without extended security ([MS-CIFS] 2.2.4.53.1).
#[derive(Debug, Clone, Copy)]
pub struct PlainLogon<'a> {
    /// AccountName (`guest`, a user name, or empty for anonymous).
    pub account: &'a str,
    /// PrimaryDomain.
    pub domain: &'a str,
    /// OEMPassword: the LMv2 response ([MS-NLMP] 3.3.2), or a single 0x00 for anonymous.
    pub oem_password: &'a [u8],
    /// UnicodePassword: the NTLMv2 response ([MS-NLMP] 3.3.2), or empty.
    pub unicode_password: &'a [u8],
}

/// Builds a SESSION_SETUP_ANDX request without extended security, WordCount 13 ([MS-CIFS]
/// 2.2.4.53.1; the responses per [MS-CIFS] 3.2.4.2.4 and [MS-NLMP] 3.3.2), for `logon`.
/// Passwords longer than 65535 bytes cannot be sent and are cut rather than panicking.
pub fn build_smb1_session_setup_plain(
    ids: Smb1Ids,
    logon: &PlainLogon<'_>,
    native_os: &str,
    native_lanman: &str,
) -> Bytes {
    let oem = logon
        .oem_password
        .get(..0xFFFF)
        .unwrap_or(logon.oem_password);
    let uni = logon
        .unicode_password
        .get(..0xFFFF)
        .unwrap_or(logon.unicode_password);
    let mut words = BytesMut::with_capacity(26);
    put_smb1_andx(&mut words, Smb1Command::NO_ANDX, 0);
    words.put_u16_le(CLIENT_MAX_BUFFER);
    words.put_u16_le(CLIENT_MAX_MPX);
    words.put_u16_le(CLIENT_VC_NUMBER);
    words.put_u32_le(0); // SessionKey
    words.put_u16_le(oem.len() as u16); // OEMPasswordLen
    words.put_u16_le(uni.len() as u16); // UnicodePasswordLen
    words.put_u32_le(0); // Reserved
    words.put_u32_le(CLIENT_CAPABILITIES);

    let bytes_offset = smb1_bytes_offset(words.len());
    let mut bytes = oem.to_vec(); // OEMPassword
    bytes.extend_from_slice(uni); // UnicodePassword
    for s in [logon.account, logon.domain, native_os, native_lanman] {
        // AccountName, PrimaryDomain, NativeOS, NativeLanMan
        put_smb1_string(&mut bytes, bytes_offset, s, true);
    }
    let header = Smb1Header::with_ids(
        Smb1Command::SESSION_SETUP_ANDX,
        CLIENT_FLAGS,
        CLIENT_FLAGS2,
        ids,
    );
    build_smb1_message(&header, &words, &bytes)
}

/// Builds an extended-security SESSION_SETUP_ANDX request, WordCount 12 ([MS-SMB] 2.2.4.6.1),
/// carrying `security_blob` (a SPNEGO token, see [`crate::spnego`]). NativeOS and NativeLanMan are
/// sent empty (Unicode, aligned). Flags2 has EXTENDED_SECURITY; Capabilities CAP_EXTENDED_SECURITY.
///
/// A blob longer than 65535 bytes cannot be sent; smb1scan's blobs are a few hundred bytes, and a
/// longer one is cut rather than panicking. Checked with tshark 4.x (no malformed fields).
pub fn build_smb1_session_setup_extended(ids: Smb1Ids, security_blob: &[u8]) -> Bytes {
    let blob = security_blob.get(..0xFF00).unwrap_or(security_blob);
    let mut words = BytesMut::with_capacity(24);
    put_smb1_andx(&mut words, Smb1Command::NO_ANDX, 0);
    words.put_u16_le(CLIENT_MAX_BUFFER);
    words.put_u16_le(CLIENT_MAX_MPX);
    words.put_u16_le(CLIENT_VC_NUMBER);
    words.put_u32_le(0); // SessionKey
    words.put_u16_le(blob.len() as u16); // SecurityBlobLength
    words.put_u32_le(0); // Reserved
    words.put_u32_le(CLIENT_CAPABILITIES | capabilities::EXTENDED_SECURITY);

    let bytes_offset = smb1_bytes_offset(words.len());
    let mut bytes = blob.to_vec();
    put_smb1_string(&mut bytes, bytes_offset, "", true); // NativeOS
    put_smb1_string(&mut bytes, bytes_offset, "", true); // NativeLanMan
    let header = Smb1Header::with_ids(
        Smb1Command::SESSION_SETUP_ANDX,
        CLIENT_FLAGS,
        CLIENT_FLAGS2_EXTENDED,
        ids,
    );
    build_smb1_message(&header, &words, &bytes)
}

/// A SESSION_SETUP_ANDX response ([MS-CIFS] 2.2.4.53.2 WordCount 3, [MS-SMB] 2.2.4.6.2
/// WordCount 4, or an error with WordCount 0). The UID is in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smb1SessionSetupResponse<'a> {
    /// WordCount as received: 3 (basic), 4 (extended security), 0 (error).
    pub word_count: u8,
    /// Action ([`ACTION_GUEST`] = logged on as guest). 0 when absent.
    pub action: u16,
    /// SecurityBlob (extended form only; empty otherwise).
    pub security_blob: &'a [u8],
    /// NativeOS, e.g. "Windows 7 Professional 7601 Service Pack 1".
    pub native_os: Option<String>,
    /// NativeLanMan, e.g. "Windows 7 Professional 6.1" or "Samba 4.17.12-Debian".
    pub native_lanman: Option<String>,
    /// PrimaryDomain (basic form; some servers also append it to the extended form).
    pub primary_domain: Option<String>,
}

impl Smb1SessionSetupResponse<'_> {
    /// True when the server logged us on as guest (Action bit 0).
    pub fn is_guest(&self) -> bool {
        self.action & ACTION_GUEST != 0
    }
}

/// The words of the basic response, WordCount 3 ([MS-CIFS] 2.2.4.53.2): the Action.
fn basic_words(i: &[u8]) -> IResult<&[u8], u16> {
    let (i, _andx) = parse_smb1_andx(i)?;
    let (i, action) = le_u16.parse(i)?;
    Ok((i, action))
}

/// The words of the extended-security response, WordCount 4 ([MS-SMB] 2.2.4.6.2): Action and
/// SecurityBlobLength.
fn extended_words(i: &[u8]) -> IResult<&[u8], (u16, u16)> {
    let (i, _andx) = parse_smb1_andx(i)?;
    let (i, action) = le_u16.parse(i)?;
    let (i, security_blob_length) = le_u16.parse(i)?;
    Ok((i, (action, security_blob_length)))
}

/// Parses a SESSION_SETUP_ANDX response (the NBSS payload, from `\xFFSMB`). Strings are Unicode
/// when the response's Flags2 says so (with the pad byte that aligns them relative to the header
/// start), OEM otherwise; a missing trailing string is `None`. WordCount 0 (an error such as
/// STATUS_ACCESS_DENIED) yields an empty response: check [`Smb1Header::status`].
/// Spec: [MS-CIFS] 2.2.4.53.2, [MS-SMB] 2.2.4.6.2.
pub fn parse_smb1_session_setup_response(
    i: &[u8],
) -> Result<(Smb1Header, Smb1SessionSetupResponse<'_>)> {
    const WHAT: &str = "SESSION_SETUP_ANDX response";
    let (h, rest) = parse_smb1_header(i)?;
    if h.command != Smb1Command::SESSION_SETUP_ANDX {
        return Err(ParseError::invalid(
            WHAT,
            format!("command 0x{:02X}", h.command.0),
        ));
    }
    let body = parse_smb1_body(rest)?;
    let mut r = Smb1SessionSetupResponse {
        word_count: body.word_count,
        action: 0,
        security_blob: &[],
        native_os: None,
        native_lanman: None,
        primary_domain: None,
    };
    let mut pos = 0usize;
    match body.word_count {
        0 => return Ok((h, r)),
        3 => {
            let (_, action) = run(WHAT, body.words, basic_words)?;
            r.action = action;
        }
        4 => {
            let (_, (action, security_blob_length)) = run(WHAT, body.words, extended_words)?;
            r.action = action;
            let blob_len = usize::from(security_blob_length);
            r.security_blob = body.bytes.get(..blob_len).ok_or(ParseError::Truncated {
                what: "SESSION_SETUP_ANDX security blob",
                need: blob_len,
                have: body.bytes.len(),
            })?;
            pos = blob_len;
        }
        n => {
            return Err(ParseError::invalid(
                WHAT,
                format!("WordCount {n} (expected 0, 3 or 4)"),
            ))
        }
    }
    let unicode = h.is_unicode();
    let mut strings = [None, None, None];
    for slot in strings.iter_mut() {
        match read_smb1_string(body.bytes, body.bytes_offset, pos, unicode) {
            Some((s, next)) => {
                *slot = Some(s);
                pos = next;
            }
            None => break,
        }
    }
    let [os, lm, dom] = strings;
    r.native_os = os;
    r.native_lanman = lm;
    r.primary_domain = dom;
    Ok((h, r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb1::header::{write_smb1_body, MAX_SMB_STRING_CHARS};
    use crate::status::{NtStatus, SmbError};
    use crate::test_util::hex;
    use crate::util::utf16le;

    fn ids() -> Smb1Ids {
        Smb1Ids {
            tid: 0,
            pid: 0xFEFF,
            uid: 0,
            mid: 2,
        }
    }

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len() / 2)
            .filter_map(|k| u8::from_str_radix(s.get(2 * k..2 * k + 2)?, 16).ok())
            .collect()
    }

    #[test]
    fn anonymous_golden() {
        let m = build_smb1_session_setup_anonymous(ids(), "Unix", "smb1scan");
        // Header: cmd 0x73, Flags 0x18, Flags2 0xC001, PID 0xFEFF, MID 2.
        // Words: AndX FF 00 0000, MaxBuffer 4356, Mpx 10, VC 1, SessionKey 0, OEM len 1,
        // Unicode len 0, Reserved 0, Capabilities 0xD4. Bytes (offset 61): OEM password 00, then
        // at the even offset 62 Account "" and Domain "" (00 00 each), "Unix", "smb1scan".
        let want = concat!(
            "ff534d4273000000001801c00000000000000000000000000000fffe00000200",
            "0d",
            "ff000000041 10a000100000000000100000000000000d4000000",
            "2100",
            "00",
            "0000",
            "0000",
            "55006e00690078000000",
            "73006d00620031007300630061006e000000"
        )
        .replace(' ', "");
        assert_eq!(hex(&m), want);
    }

    #[test]
    fn extended_golden_and_odd_blob_padding() {
        let m = build_smb1_session_setup_extended(ids(), &[0x60, 0x01, 0x02]);
        // Flags2 0xC801; Words: ..., SecurityBlobLength 3, Reserved, Capabilities 0x800000D4.
        // Bytes start at offset 59; the 3-byte blob ends at 62 (even): no pad, then two empty
        // Unicode strings.
        let want = concat!(
            "ff534d4273000000001801c80000000000000000000000000000fffe00000200",
            "0c",
            "ff00000004110a00010000000000030000000000d4000080",
            "0700",
            "600102",
            "0000",
            "0000"
        );
        assert_eq!(hex(&m), want);
        // An even blob leaves the strings at an odd offset: one pad byte.
        let m = build_smb1_session_setup_extended(ids(), &[0x60, 0x01]);
        assert_eq!(
            hex(&m[57..]),
            "0700" /* BCC 7 */
                .to_string()
                + "6001"
                + "00"
                + "0000"
                + "0000"
        );
    }

    /// Windows 7 Enterprise SP1's answer to WannaCry's OEM (non-Unicode) anonymous setup
    /// (win7-enterprise-sp1-x64-unpatched-ms17-010-check-wannacry.pcap frame 4): Flags 0x98,
    /// Flags2 0x2001 (no NT status, no Unicode), WordCount 3, Action 0, ByteCount 77, three OEM
    /// strings. Rebuilt here from those field values.
    #[test]
    fn oem_response_from_win7() {
        let os = "Windows 7 Enterprise 7601 Service Pack 1";
        let lm = "Windows 7 Enterprise 6.1";
        let dom = "TESTDOMAIN";
        let mut bytes = Vec::new();
        for s in [os, lm, dom] {
            bytes.extend_from_slice(s.as_bytes());
            bytes.push(0);
        }
        assert_eq!(bytes.len(), 77);
        let mut b = BytesMut::new();
        let mut h = Smb1Header::request(Smb1Command::SESSION_SETUP_ANDX, 0x98, 0x2001);
        h.uid = 0x0800;
        h.write(&mut b);
        write_smb1_body(&mut b, &unhex("ff002e000000"), &bytes);
        let (h, r) = parse_smb1_session_setup_response(&b).expect("parse");
        assert_eq!(h.uid, 0x0800);
        assert_eq!(
            r,
            Smb1SessionSetupResponse {
                word_count: 3,
                action: 0,
                security_blob: &[],
                native_os: Some(os.into()),
                native_lanman: Some(lm.into()),
                primary_domain: Some(dom.into()),
            }
        );
        assert!(!r.is_guest());
    }

    /// Extended-security success from Windows 7 Home Basic (win7-homebasic-sp1-unpatched-
    /// ms17-010-check-msf.pcap): WordCount 4, Unicode strings after the blob with their pad byte.
    /// Blob content replaced by a short marker; the layout rule is what is tested.
    #[test]
    fn unicode_extended_response_with_pad_and_missing_domain() {
        let mut bytes = vec![0xA1, 0x07, 0x30, 0x05, 0xA0, 0x03, 0x0A, 0x01, 0x00]; // 9 bytes
                                                                                    // Bytes start at 32+1+8+2 = 43; blob ends at 52 (even): no pad.
        bytes.extend_from_slice(&utf16le("Windows 7 Home Basic 7601 Service Pack 1"));
        bytes.extend_from_slice(&[0, 0]);
        bytes.extend_from_slice(&utf16le("Windows 7 Home Basic 6.1"));
        bytes.extend_from_slice(&[0, 0]);
        let mut b = BytesMut::new();
        Smb1Header::request(Smb1Command::SESSION_SETUP_ANDX, 0x98, 0xC807).write(&mut b);
        write_smb1_body(&mut b, &unhex("ff000000 0100 0900"), &bytes);
        let (_, r) = parse_smb1_session_setup_response(&b).expect("parse");
        assert_eq!(r.word_count, 4);
        assert!(r.is_guest());
        assert_eq!(r.security_blob.len(), 9);
        assert_eq!(
            r.native_os.as_deref(),
            Some("Windows 7 Home Basic 7601 Service Pack 1")
        );
        assert_eq!(r.native_lanman.as_deref(), Some("Windows 7 Home Basic 6.1"));
        assert_eq!(r.primary_domain, None);

        // An 8-byte blob ends at an odd offset (51): the server puts a pad byte before NativeOS.
        let mut bytes = vec![0xEE; 8];
        bytes.push(0); // pad
        bytes.extend_from_slice(&utf16le("Samba"));
        bytes.extend_from_slice(&[0, 0]);
        let mut b = BytesMut::new();
        Smb1Header::request(Smb1Command::SESSION_SETUP_ANDX, 0x98, 0xC801).write(&mut b);
        write_smb1_body(&mut b, &unhex("ff000000 0000 0800"), &bytes);
        let (_, r) = parse_smb1_session_setup_response(&b).expect("parse");
        assert_eq!(r.native_os.as_deref(), Some("Samba"));
        assert_eq!(r.native_lanman, None);
    }

    /// Windows Server 2012 R2 refusing WannaCry's anonymous setup
    /// (win2012r2-anonymous-session-setup-access-denied-wannacry.pcap frame 4): status
    /// 0xC0000022, WordCount 0.
    #[test]
    fn error_word_count_zero() {
        let mut b = BytesMut::new();
        let mut h = Smb1Header::request(Smb1Command::SESSION_SETUP_ANDX, 0x98, 0xC001);
        h.status_raw = 0xC000_0022;
        h.write(&mut b);
        write_smb1_body(&mut b, &[], &[]);
        let (h, r) = parse_smb1_session_setup_response(&b).expect("parse");
        assert_eq!(h.status(), SmbError::Nt(NtStatus::ACCESS_DENIED));
        assert_eq!(r.word_count, 0);
        assert_eq!(r.native_os, None);
        // Also without a ByteCount at all (35 → 33 bytes).
        assert!(parse_smb1_session_setup_response(&b[..33]).is_ok());
    }

    #[test]
    fn hostile_inputs() {
        // Blob length beyond ByteCount.
        let mut b = BytesMut::new();
        Smb1Header::request(Smb1Command::SESSION_SETUP_ANDX, 0x98, 0xC801).write(&mut b);
        write_smb1_body(&mut b, &unhex("ff000000 0000 ffff"), &[1, 2, 3]);
        assert!(matches!(
            parse_smb1_session_setup_response(&b),
            Err(ParseError::Truncated { .. })
        ));
        // Wrong command, odd WordCount, truncated header: errors, never panics.
        let mut b = BytesMut::new();
        Smb1Header::request(Smb1Command::NEGOTIATE, 0x98, 0xC801).write(&mut b);
        write_smb1_body(&mut b, &[], &[]);
        assert!(parse_smb1_session_setup_response(&b).is_err());
        let mut b = BytesMut::new();
        Smb1Header::request(Smb1Command::SESSION_SETUP_ANDX, 0x98, 0xC801).write(&mut b);
        write_smb1_body(&mut b, &[0; 14], &[]);
        assert!(parse_smb1_session_setup_response(&b).is_err());
        assert!(parse_smb1_session_setup_response(&b[..20]).is_err());
        // A 60000-character unterminated string is cut to the bound.
        let mut b = BytesMut::new();
        Smb1Header::request(Smb1Command::SESSION_SETUP_ANDX, 0x98, 0x0001).write(&mut b);
        write_smb1_body(&mut b, &unhex("ff0000000000"), &[b'A'; 60000]);
        let (_, r) = parse_smb1_session_setup_response(&b).expect("parse");
        assert_eq!(r.native_os.map(|s| s.len()), Some(MAX_SMB_STRING_CHARS));
    }
}
