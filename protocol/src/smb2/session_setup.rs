//! SMB2 SESSION_SETUP ([MS-SMB2] 2.2.5 request, 2.2.6 response). smb1scan sends it with an
//! NTLMSSP NEGOTIATE (in SPNEGO) only to read the server's CHALLENGE: its target info and Version
//! identify the host even when SMB1 is disabled.

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::le_u16;
use nom::{IResult, Parser};

use crate::error::{ParseError, Result};
use crate::smb2::header::{parse_smb2_header, Smb2Command, Smb2Header, SMB2_HEADER_LEN};
use crate::smb2::negotiate::{capabilities, security_mode};
use crate::util::{run, slice_at};

/// Largest security buffer accepted in a response (bytes). CHALLENGE blobs are ~300 bytes;
/// Kerberos tickets can reach a few KiB.
/// Bounds SecurityBufferLength ([MS-SMB2] 2.2.6).
pub const MAX_SMB2_SECURITY_BUFFER: usize = 16 * 1024;

/// SessionFlags ([MS-SMB2] 2.2.6).
pub mod session_flags {
    /// SMB2_SESSION_FLAG_IS_GUEST.
    pub const IS_GUEST: u16 = 0x0001;
    /// SMB2_SESSION_FLAG_IS_NULL (anonymous).
    pub const IS_NULL: u16 = 0x0002;
    /// SMB2_SESSION_FLAG_ENCRYPT_DATA.
    pub const ENCRYPT_DATA: u16 = 0x0004;
}

/// Builds an SMB2 SESSION_SETUP request ([MS-SMB2] 2.2.5): StructureSize 25, Flags 0,
/// SecurityMode signing-enabled, Capabilities DFS, Channel 0, SecurityBufferOffset 88,
/// PreviousSessionId 0, then `security_blob`. Returns the bare SMB2 message (from `\xFESMB`).
/// A blob over 65535 bytes is cut (smb1scan's are under 100). Checked with tshark 4.x.
pub fn build_smb2_session_setup(message_id: u64, session_id: u64, security_blob: &[u8]) -> Bytes {
    let blob = security_blob.get(..0xFFFF).unwrap_or(security_blob);
    let mut h = Smb2Header::request(Smb2Command::SESSION_SETUP, message_id);
    h.session_id = session_id;
    let mut b = BytesMut::with_capacity(SMB2_HEADER_LEN + 24 + blob.len());
    h.write(&mut b);
    b.put_u16_le(25); // StructureSize (24 fixed bytes + 1-byte buffer rule)
    b.put_u8(0); // Flags
                 // SecurityMode is one byte in SESSION_SETUP ([MS-SMB2] 2.2.5): signing enabled.
    b.put_u8(security_mode::SIGNING_ENABLED as u8);
    b.put_u32_le(capabilities::DFS); // what Windows clients send here
    b.put_u32_le(0); // Channel
    b.put_u16_le((SMB2_HEADER_LEN + 24) as u16); // SecurityBufferOffset = 88
    b.put_u16_le(blob.len() as u16);
    b.put_u64_le(0); // PreviousSessionId
    b.put_slice(blob);
    b.freeze()
}

/// An SMB2 SESSION_SETUP response ([MS-SMB2] 2.2.6), or an error response ([MS-SMB2] 2.2.2,
/// StructureSize 9 as well) whose buffer is empty. STATUS_MORE_PROCESSING_REQUIRED carries the
/// NTLMSSP CHALLENGE in `security_buffer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smb2SessionSetupResponse<'a> {
    /// SessionFlags (see [`session_flags`]); 0 in an error response.
    pub session_flags: u16,
    /// The security buffer (SPNEGO), bounded by [`MAX_SMB2_SECURITY_BUFFER`].
    pub security_buffer: &'a [u8],
}

/// The fixed part of a SESSION_SETUP response ([MS-SMB2] 2.2.6 table order). An error response
/// ([MS-SMB2] 2.2.2) has the same StructureSize 9 and 8 fixed bytes.
struct SessionSetupResponseFixed {
    structure_size: u16,
    session_flags: u16,
    security_buffer_offset: u16,
    security_buffer_length: u16,
}

fn session_setup_response_fixed(i: &[u8]) -> IResult<&[u8], SessionSetupResponseFixed> {
    let (i, structure_size) = le_u16.parse(i)?;
    let (i, session_flags) = le_u16.parse(i)?;
    let (i, security_buffer_offset) = le_u16.parse(i)?;
    let (i, security_buffer_length) = le_u16.parse(i)?;
    Ok((
        i,
        SessionSetupResponseFixed {
            structure_size,
            session_flags,
            security_buffer_offset,
            security_buffer_length,
        },
    ))
}

/// Parses an SMB2 SESSION_SETUP response (the NBSS payload, from `\xFESMB`). The buffer offset
/// counts from the header start and must fall inside the message.
/// Spec: [MS-SMB2] 2.2.6.
pub fn parse_smb2_session_setup_response(
    i: &[u8],
) -> Result<(Smb2Header, Smb2SessionSetupResponse<'_>)> {
    const WHAT: &str = "SMB2 SESSION_SETUP response";
    let (h, body) = parse_smb2_header(i)?;
    if h.command != Smb2Command::SESSION_SETUP {
        return Err(ParseError::invalid(
            WHAT,
            format!("command 0x{:04X}", h.command.0),
        ));
    }
    let (_, fixed) = run(WHAT, body, session_setup_response_fixed)?;
    if fixed.structure_size != 9 {
        return Err(ParseError::invalid(
            WHAT,
            format!("StructureSize {} (expected 9)", fixed.structure_size),
        ));
    }
    let ok = h.status.is_success() || h.status == crate::status::NtStatus::MORE_PROCESSING_REQUIRED;
    if !ok {
        // Error response ([MS-SMB2] 2.2.2): ErrorContextCount/Reserved/ByteCount, no blob.
        return Ok((
            h,
            Smb2SessionSetupResponse {
                session_flags: 0,
                security_buffer: &[],
            },
        ));
    }
    let session_flags = fixed.session_flags;
    let offset = usize::from(fixed.security_buffer_offset);
    let len = usize::from(fixed.security_buffer_length);
    if len > MAX_SMB2_SECURITY_BUFFER {
        return Err(ParseError::TooLarge {
            what: "SMB2 SESSION_SETUP security buffer",
            len,
            max: MAX_SMB2_SECURITY_BUFFER,
        });
    }
    let security_buffer = if len == 0 {
        &[][..]
    } else {
        slice_at("SMB2 SESSION_SETUP security buffer", i, offset, len)?
    };
    Ok((
        h,
        Smb2SessionSetupResponse {
            session_flags,
            security_buffer,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::NtStatus;
    use crate::test_util::hex;

    #[test]
    fn request_golden() {
        let m = build_smb2_session_setup(2, 0, &[0x60, 0x01, 0x00]);
        let want = concat!(
            // Header: StructureSize 64, command 1, CreditRequest 1, MessageId 2, no session.
            "fe534d42400000000000000001000100000000000000000002000000000000000000000000000000",
            "000000000000000000000000000000000000000000000000",
            // Body: 25, Flags 0, SecurityMode 1, Capabilities 1, Channel 0, offset 88, len 3,
            // PreviousSessionId 0, blob.
            "1900",
            "00",
            "01",
            "01000000",
            "00000000",
            "5800",
            "0300",
            "0000000000000000",
            "600100"
        );
        assert_eq!(hex(&m), want);
    }

    fn response(status: NtStatus, body: &[u8]) -> Vec<u8> {
        let mut h = Smb2Header::request(Smb2Command::SESSION_SETUP, 1);
        h.status = status;
        h.flags = 1;
        h.session_id = 0x0000_4000_0000_0005;
        let mut b = BytesMut::new();
        h.write(&mut b);
        b.extend_from_slice(body);
        b.to_vec()
    }

    /// Shape of Windows' MORE_PROCESSING_REQUIRED answer (e.g.
    /// win2019-17763-smb2-negotiate-multiprotocol-then-311.pcap frame 10): StructureSize 9,
    /// SessionFlags 0, SecurityBufferOffset 72, the SPNEGO blob right after the 8 fixed bytes.
    #[test]
    fn more_processing_with_blob() {
        let mut body = vec![9, 0, 0, 0, 72, 0, 4, 0];
        body.extend_from_slice(b"abcd");
        let m = response(NtStatus::MORE_PROCESSING_REQUIRED, &body);
        let (h, r) = parse_smb2_session_setup_response(&m).expect("parse");
        assert_eq!(h.session_id, 0x0000_4000_0000_0005);
        assert_eq!(r.security_buffer, b"abcd");
        assert_eq!(r.session_flags, 0);
    }

    #[test]
    fn error_and_hostile() {
        // ACCESS_DENIED error response: StructureSize 9, no buffer.
        let m = response(NtStatus::ACCESS_DENIED, &[9, 0, 0, 0, 0, 0, 0, 0, 0]);
        let (h, r) = parse_smb2_session_setup_response(&m).expect("parse");
        assert_eq!(h.status, NtStatus::ACCESS_DENIED);
        assert!(r.security_buffer.is_empty());
        // Offset past the end, huge length, wrong StructureSize, truncated body.
        let bad = [
            response(NtStatus::SUCCESS, &[9, 0, 1, 0, 0xF0, 0xFF, 4, 0]),
            response(NtStatus::SUCCESS, &[9, 0, 0, 0, 72, 0, 0xFF, 0xFF]),
            response(NtStatus::SUCCESS, &[17, 0, 0, 0, 72, 0, 0, 0]),
            response(NtStatus::SUCCESS, &[9, 0, 0]),
        ];
        for m in bad {
            assert!(parse_smb2_session_setup_response(&m).is_err());
        }
        // Guest success with no buffer.
        let m = response(NtStatus::SUCCESS, &[9, 0, 1, 0, 0, 0, 0, 0]);
        let (_, r) = parse_smb2_session_setup_response(&m).expect("parse");
        assert_eq!(r.session_flags & session_flags::IS_GUEST, 1);
    }
}
