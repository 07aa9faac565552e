//! NetBIOS Session Service framing (RFC 1002 4.3): the 4-byte header every SMB message carries on
//! TCP 445 ("direct hosting", [MS-SMB2] 2.1) and TCP 139, and the SESSION REQUEST needed on 139.

use bytes::{BufMut, Bytes, BytesMut};

use nom::number::complete::{be_u24, be_u8};
use nom::{IResult, Parser};

use crate::error::{ParseError, Result};
use crate::util::run;

/// Largest NBSS payload smb1scan accepts. Real negotiate and session-setup replies are a few hundred
/// bytes; 128 KiB leaves room for large security blobs while capping what a hostile peer can make
/// us buffer (the 24-bit length field allows 16 MiB).
/// Spec: RFC 1002 4.3.1 (LENGTH), [MS-SMB2] 2.1 (24-bit length on port 445).
pub const MAX_NBSS_LEN: usize = 128 * 1024;

/// Length of the NBSS header.
/// Spec: RFC 1002 4.3.1.
pub const NBSS_HEADER_LEN: usize = 4;

/// NBSS packet type (RFC 1002 4.3.1). A newtype so unknown values are kept and reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NbssType(pub u8);

impl NbssType {
    /// SESSION MESSAGE: carries an SMB message.
    pub const SESSION_MESSAGE: NbssType = NbssType(0x00);
    /// SESSION REQUEST (port 139 only).
    pub const SESSION_REQUEST: NbssType = NbssType(0x81);
    /// POSITIVE SESSION RESPONSE.
    pub const POSITIVE_RESPONSE: NbssType = NbssType(0x82);
    /// NEGATIVE SESSION RESPONSE.
    pub const NEGATIVE_RESPONSE: NbssType = NbssType(0x83);
    /// RETARGET SESSION RESPONSE.
    pub const RETARGET_RESPONSE: NbssType = NbssType(0x84);
    /// SESSION KEEP ALIVE.
    pub const KEEP_ALIVE: NbssType = NbssType(0x85);
}

/// A parsed NBSS header (RFC 1002 4.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NbssHeader {
    /// Packet type.
    pub kind: NbssType,
    /// Payload length that follows the header (17 bits on 139 per RFC 1002, 24 bits on 445).
    pub length: usize,
}

/// The 4 header bytes (RFC 1002 4.3.1): TYPE, then FLAGS + LENGTH as one 24-bit big-endian field.
fn header_fields(i: &[u8]) -> IResult<&[u8], (u8, u32)> {
    let (i, kind) = be_u8.parse(i)?;
    let (i, length) = be_u24.parse(i)?;
    Ok((i, (kind, length)))
}

/// Parses the 4-byte NBSS header. The length is checked against [`MAX_NBSS_LEN`] here, before any
/// caller reads or buffers the body.
/// Spec: RFC 1002 4.3.1, [MS-SMB2] 2.1.
pub fn parse_nbss_header(i: &[u8]) -> Result<NbssHeader> {
    if i.len() < NBSS_HEADER_LEN {
        return Err(ParseError::Truncated {
            what: "NBSS header",
            need: NBSS_HEADER_LEN,
            have: i.len(),
        });
    }
    let (_, (kind, length)) = run("NBSS header", i, header_fields)?;
    let kind = NbssType(kind);
    // Flags (7 bits) + the length extension bit, then 16 bits (RFC 1002 4.3.1); direct-hosted SMB
    // uses all 24 bits for the length ([MS-SMB2] 2.1).
    let length = length as usize;
    match kind {
        NbssType::SESSION_MESSAGE
        | NbssType::POSITIVE_RESPONSE
        | NbssType::NEGATIVE_RESPONSE
        | NbssType::RETARGET_RESPONSE
        | NbssType::KEEP_ALIVE
        | NbssType::SESSION_REQUEST => {}
        NbssType(t) => {
            return Err(ParseError::invalid(
                "NBSS header",
                format!("unknown packet type 0x{t:02X}"),
            ))
        }
    }
    if length > MAX_NBSS_LEN {
        return Err(ParseError::TooLarge {
            what: "NBSS message",
            len: length,
            max: MAX_NBSS_LEN,
        });
    }
    Ok(NbssHeader { kind, length })
}

/// Frames `payload` as an NBSS SESSION MESSAGE. Payloads over 16 MiB cannot be framed; smb1scan
/// never builds one, so the length is truncated to 24 bits rather than panicking.
/// Spec: RFC 1002 4.3.6 (SESSION MESSAGE), [MS-SMB2] 2.1.
pub fn build_nbss_session_message(payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(NBSS_HEADER_LEN + payload.len());
    b.put_u32((payload.len() as u32) & 0x00FF_FFFF);
    b.put_slice(payload);
    b.freeze()
}

/// First-level encodes a NetBIOS name (RFC 1001 14.1): padded to 16 bytes with spaces (the 16th
/// byte is the suffix), each nibble + 'A', prefixed with the length 32 and ended by a zero label.
pub fn nbss_encode_netbios_name(name: &str, suffix: u8) -> [u8; 34] {
    let mut raw = [b' '; 16];
    for (dst, src) in raw.iter_mut().zip(name.bytes().take(15)) {
        *dst = src.to_ascii_uppercase();
    }
    if let Some(last) = raw.last_mut() {
        *last = suffix;
    }
    let mut out = [0u8; 34];
    let (len, rest) = out.split_at_mut(1);
    len.fill(32);
    for (pair, c) in rest.chunks_exact_mut(2).zip(raw) {
        pair.copy_from_slice(&[b'A' + (c >> 4), b'A' + (c & 0x0F)]);
    }
    out
}

/// Builds a NetBIOS SESSION REQUEST (RFC 1002 4.3.2) for port 139. Windows accepts the called name
/// `*SMBSERVER` (suffix 0x20, file server service) without knowing the host's NetBIOS name.
pub fn build_nbss_session_request(called: &str, calling: &str) -> Bytes {
    let mut b = BytesMut::with_capacity(4 + 68);
    b.put_u8(NbssType::SESSION_REQUEST.0);
    b.put_u8(0);
    b.put_u16(68);
    b.put_slice(&nbss_encode_netbios_name(called, 0x20));
    b.put_slice(&nbss_encode_netbios_name(calling, 0x00));
    b.freeze()
}

/// Answer to a SESSION REQUEST (RFC 1002 4.3.3-4.3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NbssSessionResponse {
    /// The session is established.
    Positive,
    /// Refused, with the RFC 1002 error code (0x80 not listening on called name, 0x81 not
    /// listening for calling name, 0x82 called name not present, 0x83 insufficient resources,
    /// 0x8F unspecified error).
    Negative(u8),
    /// Redirected elsewhere (we do not follow it).
    Retarget,
}

/// Parses the complete answer to a SESSION REQUEST (header plus body).
/// Spec: RFC 1002 4.3.3-4.3.5.
pub fn parse_nbss_session_response(i: &[u8]) -> Result<NbssSessionResponse> {
    let h = parse_nbss_header(i)?;
    match h.kind {
        NbssType::POSITIVE_RESPONSE => Ok(NbssSessionResponse::Positive),
        NbssType::NEGATIVE_RESPONSE => {
            let code = i
                .get(NBSS_HEADER_LEN)
                .copied()
                .ok_or(ParseError::Truncated {
                    what: "NBSS negative session response",
                    need: NBSS_HEADER_LEN + 1,
                    have: i.len(),
                })?;
            Ok(NbssSessionResponse::Negative(code))
        }
        NbssType::RETARGET_RESPONSE => Ok(NbssSessionResponse::Retarget),
        NbssType(t) => Err(ParseError::invalid(
            "NBSS session response",
            format!("packet type 0x{t:02X} is not a session response"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip_and_bounds() {
        let f = build_nbss_session_message(&[1, 2, 3]);
        assert_eq!(&f[..], &[0, 0, 0, 3, 1, 2, 3]);
        assert_eq!(
            parse_nbss_header(&f).ok(),
            Some(NbssHeader {
                kind: NbssType::SESSION_MESSAGE,
                length: 3
            })
        );
        // A 16 MiB length is refused before anything is read.
        assert!(matches!(
            parse_nbss_header(&[0, 0xFF, 0xFF, 0xFF]),
            Err(ParseError::TooLarge { .. })
        ));
        assert!(matches!(
            parse_nbss_header(&[0, 0]),
            Err(ParseError::Truncated { .. })
        ));
        assert!(matches!(
            parse_nbss_header(&[0x42, 0, 0, 0]),
            Err(ParseError::Invalid { .. })
        ));
    }

    #[test]
    fn session_request_golden() {
        // "*SMBSERVER" encodes as in RFC 1001 14.1: '*' = 0x2A -> "CK", 'S' = 0x53 -> "FD", ...
        let r = build_nbss_session_request("*SMBSERVER", "SMB1SCAN");
        assert_eq!(r.len(), 72);
        assert_eq!(&r[..4], &[0x81, 0, 0, 68]);
        assert_eq!(&r[4..37], b"\x20CKFDENECFDEFFCFGEFFCCACACACACACA");
        assert_eq!(r[37], 0);
        assert_eq!(
            parse_nbss_session_response(&[0x82, 0, 0, 0]).ok(),
            Some(NbssSessionResponse::Positive)
        );
        assert_eq!(
            parse_nbss_session_response(&[0x83, 0, 0, 1, 0x82]).ok(),
            Some(NbssSessionResponse::Negative(0x82))
        );
    }
}
