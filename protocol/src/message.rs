//! Dispatch on the protocol magic of an NBSS payload (SMB1 `\xFFSMB` or SMB2 `\xFESMB`), and small
//! helpers both negotiate parsers share: signing state, FILETIME conversion, GUID formatting.
//!
//! A server may answer an SMB1 NEGOTIATE in SMB2 (dialect 0x02FF, [MS-SMB2] 3.3.5.3.1) when the
//! request offered an "SMB 2.???" dialect; [`parse_smb_message`] lets the caller see which it got
//! before choosing a body parser.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{ParseError, Result};
use crate::smb1::header::{parse_smb1_header, Smb1Header, SMB1_MAGIC};
use crate::smb2::header::{parse_smb2_header, Smb2Header, SMB2_MAGIC};

/// One SMB message: its parsed header and the bytes after the header.
/// Spec: [MS-CIFS] 2.2.3.1, [MS-SMB2] 2.2.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmbMessage<'a> {
    /// An SMB1 message ([MS-CIFS] 2.2.3.1); the slice starts at WordCount.
    Smb1(Smb1Header, &'a [u8]),
    /// An SMB2/3 message ([MS-SMB2] 2.2.1); the slice starts at the command's StructureSize.
    Smb2(Smb2Header, &'a [u8]),
}

/// `\xFDSMB`: the SMB 3.x TRANSFORM header ([MS-SMB2] 2.2.41), reported distinctly because it is
/// SMB, only encrypted.
pub const SMB2_TRANSFORM_MAGIC: [u8; 4] = [0xFD, b'S', b'M', b'B'];
/// `\xFCSMB`: the SMB 3.1.1 compression transform header ([MS-SMB2] 2.2.42).
pub const SMB2_COMPRESSION_MAGIC: [u8; 4] = [0xFC, b'S', b'M', b'B'];

/// Parses the header of an NBSS payload, choosing SMB1 or SMB2 by the 4-byte magic. Anything else
/// (including the SMB3 transform/compression headers, which smb1scan never asks for) is
/// [`ParseError::Invalid`].
/// Spec: [MS-CIFS] 2.2.3.1 (Protocol `\xFFSMB`), [MS-SMB2] 2.2.1 (ProtocolId `\xFESMB`).
pub fn parse_smb_message(payload: &[u8]) -> Result<SmbMessage<'_>> {
    let magic = payload.get(..4).ok_or(ParseError::Truncated {
        what: "SMB message",
        need: 4,
        have: payload.len(),
    })?;
    if magic == SMB1_MAGIC {
        let (h, rest) = parse_smb1_header(payload)?;
        Ok(SmbMessage::Smb1(h, rest))
    } else if magic == SMB2_MAGIC {
        let (h, rest) = parse_smb2_header(payload)?;
        Ok(SmbMessage::Smb2(h, rest))
    } else if magic == SMB2_TRANSFORM_MAGIC || magic == SMB2_COMPRESSION_MAGIC {
        Err(ParseError::invalid(
            "SMB message",
            "SMB3 transform/compression header (encrypted or compressed message)",
        ))
    } else {
        Err(ParseError::invalid(
            "SMB message",
            format!("not SMB: first bytes {}", hex(magic)),
        ))
    }
}

/// Message signing as a server announces it in a negotiate response's SecurityMode
/// ([MS-CIFS] 2.2.4.52.2 / [MS-SMB] 2.2.4.5.2 for SMB1, [MS-SMB2] 2.2.4 for SMB2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signing {
    /// The server does not sign.
    Disabled,
    /// The server signs when the client asks.
    Enabled,
    /// The server requires signing.
    Required,
}

impl Signing {
    /// Lower-case name as used in smb1scan's output: `disabled`, `enabled`, `required`.
    pub fn as_str(self) -> &'static str {
        match self {
            Signing::Disabled => "disabled",
            Signing::Enabled => "enabled",
            Signing::Required => "required",
        }
    }
}

/// Seconds between 1601-01-01 (the FILETIME epoch) and 1970-01-01.
const FILETIME_UNIX_EPOCH_SECS: i64 = 11_644_473_600;

/// Converts a FILETIME ([MS-DTYP] 2.3.3: 100-ns intervals since 1601-01-01 UTC) to Unix seconds.
/// Zero means "not given" (Samba's SMB2 ServerStartTime) and yields `None`; any other value
/// converts, so dates before 1970 are negative.
pub fn filetime_to_unix(ft: u64) -> Option<i64> {
    if ft == 0 {
        return None;
    }
    // u64::MAX / 10^7 fits in i64, so this conversion cannot fail; map defensively anyway.
    let secs = i64::try_from(ft / 10_000_000).ok()?;
    secs.checked_sub(FILETIME_UNIX_EPOCH_SECS)
}

/// Converts a time to a FILETIME ([MS-DTYP] 2.3.3); times before 1601 or beyond the u64 range
/// saturate (0 / `u64::MAX`).
pub fn filetime_from_system_time(t: SystemTime) -> u64 {
    let since_1601 = match t.duration_since(UNIX_EPOCH) {
        Ok(after) => Duration::from_secs(FILETIME_UNIX_EPOCH_SECS as u64).checked_add(after),
        Err(before) => {
            Duration::from_secs(FILETIME_UNIX_EPOCH_SECS as u64).checked_sub(before.duration())
        }
    };
    match since_1601 {
        Some(d) => u64::try_from(d.as_nanos() / 100).unwrap_or(u64::MAX),
        None if t < UNIX_EPOCH => 0,
        None => u64::MAX,
    }
}

/// The current time as a FILETIME ([MS-DTYP] 2.3.3): SystemTime of NEGOTIATE responses,
/// MsvAvTimestamp, the NTLMv2 client time.
pub fn filetime_now() -> u64 {
    filetime_from_system_time(SystemTime::now())
}

/// Formats a GUID as stored on the wire ([MS-DTYP] 2.3.4.2: Data1 u32 LE, Data2 u16 LE, Data3 u16
/// LE, Data4 8 bytes) in the usual text form, e.g. `15000000-9384-7e2a-ae8c-a04d2d49ce42`.
pub fn guid_to_string(g: &[u8; 16]) -> String {
    let [a0, a1, a2, a3, b0, b1, c0, c1, d0, d1, e0, e1, e2, e3, e4, e5] = *g;
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        a3, a2, a1, a0, b1, b0, c1, c0, d0, d1, e0, e1, e2, e3, e4, e5
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
// Tests may panic: that is how they fail. The crate-wide denials guard library code only.
mod tests {
    use super::*;
    use crate::smb1::header::Smb1Command;
    use crate::smb2::header::Smb2Command;
    use bytes::BytesMut;

    #[test]
    fn dispatch_on_magic() {
        let mut b = BytesMut::new();
        Smb1Header::request(Smb1Command::NEGOTIATE, 0x18, 0xC001).write(&mut b);
        b.extend_from_slice(&[0, 0, 0]);
        match parse_smb_message(&b).unwrap() {
            SmbMessage::Smb1(h, rest) => {
                assert_eq!(h.command, Smb1Command::NEGOTIATE);
                assert_eq!(rest, &[0, 0, 0]);
            }
            other => panic!("expected SMB1, got {other:?}"),
        }
        let mut b = BytesMut::new();
        Smb2Header::request(Smb2Command::NEGOTIATE, 0).write(&mut b);
        assert!(matches!(
            parse_smb_message(&b).unwrap(),
            SmbMessage::Smb2(h, []) if h.command == Smb2Command::NEGOTIATE
        ));
    }

    #[test]
    fn not_smb() {
        assert!(matches!(
            parse_smb_message(b"HTTP/1.1 400"),
            Err(ParseError::Invalid { .. })
        ));
        assert!(matches!(
            parse_smb_message(b"\xfdSMB0000000000000000000000000000000000000000000000000000"),
            Err(ParseError::Invalid { .. })
        ));
        assert!(matches!(
            parse_smb_message(b"\xffSM"),
            Err(ParseError::Truncated { .. })
        ));
        // Right magic, header cut short.
        assert!(matches!(
            parse_smb_message(b"\xfeSMB\x40\x00"),
            Err(ParseError::Truncated { .. })
        ));
    }

    #[test]
    fn filetime_and_guid() {
        assert_eq!(filetime_to_unix(0), None);
        // 1970-01-01T00:00:00Z.
        assert_eq!(filetime_to_unix(116_444_736_000_000_000), Some(0));
        // Windows 2000 capture (win2000-smb1-negotiate-session-setup-kerberos.pcap, tshark shows
        // "Dec 12, 2006 08:20:17.083842000 UTC"): FILETIME 0x01c71dc65b008194.
        assert_eq!(filetime_to_unix(0x01c7_1dc6_5b00_8194), Some(1_165_911_617));
        assert!(filetime_to_unix(u64::MAX).is_some());
        assert!(filetime_to_unix(1).unwrap() < 0);
        // [MS-DTYP] 2.3.4.2: the first three groups are little-endian on the wire.
        let g = [
            0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ];
        assert_eq!(guid_to_string(&g), "00112233-4455-6677-8899-aabbccddeeff");
        // FILETIME from a time: the inverse of filetime_to_unix, 100-ns resolution.
        let t = UNIX_EPOCH + Duration::new(1_165_911_617, 83_842_000);
        assert_eq!(filetime_from_system_time(t), 0x01c7_1dc6_5b00_8194);
        assert_eq!(
            filetime_from_system_time(UNIX_EPOCH),
            116_444_736_000_000_000
        );
        assert_eq!(
            filetime_from_system_time(UNIX_EPOCH - Duration::from_secs(20_000_000_000)),
            0
        );
        assert!(filetime_to_unix(filetime_now()).is_some_and(|s| s > 1_700_000_000));
        assert_eq!(Signing::Required.as_str(), "required");
    }
}
