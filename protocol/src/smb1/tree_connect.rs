//! SMB_COM_TREE_CONNECT_ANDX (0x75) to `\\<ip>\IPC$` ([MS-CIFS] 2.2.4.55, [MS-SMB] 2.2.4.7) and
//! its response. The TID the server assigns is in the response header.

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{le_u16, le_u32};
use nom::{IResult, Parser};

use crate::error::{ParseError, Result};
use crate::smb1::header::{
    build_smb1_message, parse_smb1_andx, parse_smb1_body, parse_smb1_header, put_smb1_andx,
    put_smb1_string, read_smb1_string, smb1_bytes_offset, Smb1Command, Smb1Header, Smb1Ids,
    CLIENT_FLAGS, CLIENT_FLAGS2,
};
use crate::util::run;

/// Service "?????": any device type ([MS-CIFS] 2.2.4.55.1), what nmap, Metasploit and WannaCry send.
pub const SERVICE_ANY: &str = "?????";

/// Flags of a TREE_CONNECT_ANDX request ([MS-CIFS] 2.2.4.55.1, [MS-SMB] 2.2.4.7.1).
pub mod request_flags {
    /// TREE_CONNECT_ANDX_DISCONNECT_TID.
    pub const DISCONNECT_TID: u16 = 0x0001;
    /// TREE_CONNECT_ANDX_EXTENDED_SIGNATURES ([MS-SMB]).
    pub const EXTENDED_SIGNATURES: u16 = 0x0004;
    /// TREE_CONNECT_ANDX_EXTENDED_RESPONSE ([MS-SMB]): asks for the WordCount 7 response.
    pub const EXTENDED_RESPONSE: u16 = 0x0008;
}

/// OptionalSupport bits of a TREE_CONNECT_ANDX response ([MS-CIFS] 2.2.4.55.2).
pub mod optional_support {
    /// SMB_SUPPORT_SEARCH_BITS.
    pub const SUPPORT_SEARCH_BITS: u16 = 0x0001;
    /// SMB_SHARE_IS_IN_DFS.
    pub const SHARE_IS_IN_DFS: u16 = 0x0002;
}

/// Builds a TREE_CONNECT_ANDX request for `path` (e.g. `\\127.0.0.1\IPC$`), WordCount 4
/// ([MS-CIFS] 2.2.4.55.1): Flags 0, PasswordLength 1 with a single 0x00 password byte (share-level
/// password unused under user-level security; real clients send this one byte), the path in
/// Unicode, the service `?????` in OEM.
///
/// Returns the bare SMB message. Checked with tshark 4.x: path and service decode, nothing malformed.
pub fn build_smb1_tree_connect_andx(ids: Smb1Ids, path: &str) -> Bytes {
    let mut words = BytesMut::with_capacity(8);
    put_smb1_andx(&mut words, Smb1Command::NO_ANDX, 0);
    words.put_u16_le(0); // Flags
    words.put_u16_le(1); // PasswordLength

    let bytes_offset = smb1_bytes_offset(words.len());
    let mut bytes = vec![0u8]; // Password
    put_smb1_string(&mut bytes, bytes_offset, path, true);
    put_smb1_string(&mut bytes, bytes_offset, SERVICE_ANY, false); // Service is always OEM
    let header = Smb1Header::with_ids(
        Smb1Command::TREE_CONNECT_ANDX,
        CLIENT_FLAGS,
        CLIENT_FLAGS2,
        ids,
    );
    build_smb1_message(&header, &words, &bytes)
}

/// A TREE_CONNECT_ANDX response: WordCount 3 ([MS-CIFS] 2.2.4.55.2), 7 ([MS-SMB] 2.2.4.7.2,
/// extended response), or 0 (error; see [`Smb1Header::status`], which separates NT from DOS
/// errors). The TID is `Smb1Header::tid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smb1TreeConnectResponse {
    /// WordCount as received.
    pub word_count: u8,
    /// OptionalSupport (SMB_SUPPORT_SEARCH_BITS 0x0001, SMB_SHARE_IS_IN_DFS 0x0002, ...).
    pub optional_support: Option<u16>,
    /// MaximalShareAccessRights (extended form only).
    pub maximal_share_access_rights: Option<u32>,
    /// GuestMaximalShareAccessRights (extended form only).
    pub guest_maximal_share_access_rights: Option<u32>,
    /// Service, OEM: "IPC" for IPC$.
    pub service: Option<String>,
    /// NativeFileSystem (empty for IPC$).
    pub native_file_system: Option<String>,
}

/// The words of the basic response, WordCount 3 ([MS-CIFS] 2.2.4.55.2): OptionalSupport.
fn basic_words(i: &[u8]) -> IResult<&[u8], u16> {
    let (i, _andx) = parse_smb1_andx(i)?;
    let (i, optional_support) = le_u16.parse(i)?;
    Ok((i, optional_support))
}

/// The words of the extended response, WordCount 7 ([MS-SMB] 2.2.4.7.2): OptionalSupport,
/// MaximalShareAccessRights, GuestMaximalShareAccessRights.
fn extended_words(i: &[u8]) -> IResult<&[u8], (u16, u32, u32)> {
    let (i, _andx) = parse_smb1_andx(i)?;
    let (i, optional_support) = le_u16.parse(i)?;
    let (i, maximal_share_access_rights) = le_u32.parse(i)?;
    let (i, guest_maximal_share_access_rights) = le_u32.parse(i)?;
    Ok((
        i,
        (
            optional_support,
            maximal_share_access_rights,
            guest_maximal_share_access_rights,
        ),
    ))
}

/// Parses a TREE_CONNECT_ANDX response (the NBSS payload, from `\xFFSMB`).
/// Spec: [MS-CIFS] 2.2.4.55.2, [MS-SMB] 2.2.4.7.2.
pub fn parse_smb1_tree_connect_response(i: &[u8]) -> Result<(Smb1Header, Smb1TreeConnectResponse)> {
    const WHAT: &str = "TREE_CONNECT_ANDX response";
    let (h, rest) = parse_smb1_header(i)?;
    if h.command != Smb1Command::TREE_CONNECT_ANDX {
        return Err(ParseError::invalid(
            WHAT,
            format!("command 0x{:02X}", h.command.0),
        ));
    }
    let body = parse_smb1_body(rest)?;
    let mut r = Smb1TreeConnectResponse {
        word_count: body.word_count,
        optional_support: None,
        maximal_share_access_rights: None,
        guest_maximal_share_access_rights: None,
        service: None,
        native_file_system: None,
    };
    match body.word_count {
        0 => return Ok((h, r)),
        3 => {
            let (_, optional_support) = run(WHAT, body.words, basic_words)?;
            r.optional_support = Some(optional_support);
        }
        7 => {
            let (_, (optional_support, maximal, guest_maximal)) =
                run(WHAT, body.words, extended_words)?;
            r.optional_support = Some(optional_support);
            r.maximal_share_access_rights = Some(maximal);
            r.guest_maximal_share_access_rights = Some(guest_maximal);
        }
        n => {
            return Err(ParseError::invalid(
                WHAT,
                format!("WordCount {n} (expected 0, 3 or 7)"),
            ))
        }
    }
    // Service is always OEM; NativeFileSystem follows Flags2.
    if let Some((s, pos)) = read_smb1_string(body.bytes, body.bytes_offset, 0, false) {
        r.service = Some(s);
        r.native_file_system =
            read_smb1_string(body.bytes, body.bytes_offset, pos, h.is_unicode()).map(|(s, _)| s);
    }
    Ok((h, r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb1::header::write_smb1_body;
    use crate::status::{DosError, SmbError};
    use crate::test_util::hex;

    #[test]
    fn request_golden() {
        let ids = Smb1Ids {
            tid: 0,
            pid: 0xFEFF,
            uid: 0x0800,
            mid: 3,
        };
        let m = build_smb1_tree_connect_andx(ids, r"\\127.0.0.1\IPC$");
        let mut want =
            String::from("ff534d4275000000001801c00000000000000000000000000000fffe00080300");
        want += "04ff00000000000100"; // WordCount 4, AndX none, Flags 0, PasswordLength 1
        want += "2900"; // ByteCount 41 = 1 + 2*(16+1) + 6
        want += "00"; // Password; the path then starts at offset 44 (even): no pad
        want += "5c005c003100320037002e0030002e0030002e0031005c004900500043002400 0000";
        want += "3f3f3f3f3f00";
        assert_eq!(hex(&m), want.replace(' ', ""));
    }

    /// Windows 7's reply in win7-enterprise-sp1-x64-unpatched-ms17-010-check-wannacry.pcap
    /// frame 6: WordCount 3, AndXOffset 46, ByteCount 5, Service "IPC", an empty OEM
    /// NativeFileSystem, TID 0x0800 (Flags2 0x2001).
    #[test]
    fn response_wordcount3_oem() {
        let mut b = BytesMut::new();
        let mut h = Smb1Header::request(Smb1Command::TREE_CONNECT_ANDX, 0x98, 0x2001);
        h.tid = 0x0800;
        h.write(&mut b);
        write_smb1_body(&mut b, &[0xFF, 0, 46, 0, 0x01, 0], b"IPC\0\0");
        let (h, r) = parse_smb1_tree_connect_response(&b).expect("parse");
        assert_eq!(h.tid, 0x0800);
        assert_eq!(
            r,
            Smb1TreeConnectResponse {
                word_count: 3,
                optional_support: Some(1),
                maximal_share_access_rights: None,
                guest_maximal_share_access_rights: None,
                service: Some("IPC".into()),
                native_file_system: Some(String::new()),
            }
        );
    }

    #[test]
    fn response_wordcount7_unicode() {
        let mut b = BytesMut::new();
        Smb1Header::request(Smb1Command::TREE_CONNECT_ANDX, 0x98, 0xC801).write(&mut b);
        let words = [
            0xFF, 0, 0, 0, 0x01, 0, 0xFF, 0x01, 0x1F, 0x00, 0x00, 0, 0, 0,
        ];
        // Bytes at 32+1+14+2 = 49; "IPC\0" ends at 53 (odd) -> pad, then an empty Unicode string.
        write_smb1_body(&mut b, &words, b"IPC\0\0\0\0");
        let (_, r) = parse_smb1_tree_connect_response(&b).expect("parse");
        assert_eq!(r.maximal_share_access_rights, Some(0x001F_01FF));
        assert_eq!(r.guest_maximal_share_access_rights, Some(0));
        assert_eq!(r.service.as_deref(), Some("IPC"));
        assert_eq!(r.native_file_system.as_deref(), Some(""));
    }

    /// A buggy checker against XP SP3
    /// (winxp-sp3-dos-error-tree-connect-and-trans-python-checker.pcap frame 9): DOS error class
    /// 0x02 code 0x0001 (ERRSRV/ERRerror), Flags2 0x2001, WordCount 0.
    #[test]
    fn dos_error_response() {
        let mut b = BytesMut::new();
        let mut h = Smb1Header::request(Smb1Command::TREE_CONNECT_ANDX, 0x98, 0x2001);
        h.status_raw = u32::from_le_bytes([0x02, 0x00, 0x01, 0x00]);
        h.write(&mut b);
        write_smb1_body(&mut b, &[], &[]);
        let (h, r) = parse_smb1_tree_connect_response(&b).expect("parse");
        assert_eq!(r.word_count, 0);
        assert_eq!(
            h.status(),
            SmbError::Dos(DosError {
                class: 0x02,
                code: 0x0001
            })
        );
    }

    #[test]
    fn hostile_inputs() {
        let mut b = BytesMut::new();
        Smb1Header::request(Smb1Command::TREE_CONNECT_ANDX, 0x98, 0xC801).write(&mut b);
        write_smb1_body(&mut b, &[0; 10], &[]);
        assert!(parse_smb1_tree_connect_response(&b).is_err());
        let mut b = BytesMut::new();
        Smb1Header::request(Smb1Command::TREE_CONNECT_ANDX, 0x98, 0xC801).write(&mut b);
        b.extend_from_slice(&[3, 0xFF, 0, 0, 0, 0, 0, 0xFF, 0xFF]);
        assert!(parse_smb1_tree_connect_response(&b).is_err());
        assert!(parse_smb1_tree_connect_response(&[0xFF, b'S', b'M', b'B', 0x75]).is_err());
    }
}
