//! SMB_COM_TRANSACTION2 (0x32) subcommand TRANS2_SESSION_SETUP (0x000E) ([MS-CIFS] 2.2.4.46,
//! 2.2.6.16): the DoublePulsar ping, and the reading of its reply.
//!
//! The implant hooks this reserved subcommand. A clean server answers STATUS_NOT_IMPLEMENTED with
//! the request's MID; an infected one answers with MID + 16 and puts its key material (bytes 0-3)
//! and architecture (byte 4: 0 x86, 1 x64) in the header's SecuritySignature.

use bytes::Bytes;

use crate::smb1::header::{flags2, Smb1Command, Smb1Header, Smb1Ids};
use crate::smb1::trans::{build_smb1_trans_request, Smb1TransRequest};

/// The MID of the ping (0x41), the value Metasploit, nmap and the Shadow Brokers tools use.
/// Spec: [MS-CIFS] 2.2.3.1 (MID); the value is the tools' convention, not the spec's.
pub const DOUBLEPULSAR_PING_MID: u16 = 65;

/// The MID offset an infected host adds to the request's MID in its reply.
/// Not in any spec: [MS-CIFS] 3.3.4.1 requires the reply to echo the request's MID, which the implant breaks.
pub const DOUBLEPULSAR_MID_DELTA: u16 = 16;

/// A SMB_COM_TRANSACTION2 subcommand, the single Setup word of a TRANS2 request
/// ([MS-CIFS] 2.2.6). A newtype so unknown subcommands are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Trans2Subcommand(pub u16);

impl Trans2Subcommand {
    /// TRANS2_OPEN2 ([MS-CIFS] 2.2.6.1).
    pub const OPEN2: Trans2Subcommand = Trans2Subcommand(0x0000);
    /// TRANS2_FIND_FIRST2 ([MS-CIFS] 2.2.6.2).
    pub const FIND_FIRST2: Trans2Subcommand = Trans2Subcommand(0x0001);
    /// TRANS2_QUERY_FS_INFORMATION ([MS-CIFS] 2.2.6.4).
    pub const QUERY_FS_INFORMATION: Trans2Subcommand = Trans2Subcommand(0x0003);
    /// TRANS2_SESSION_SETUP ([MS-CIFS] 2.2.6.16): reserved, unimplemented by srv.sys; the
    /// DoublePulsar implant hooks it.
    pub const SESSION_SETUP: Trans2Subcommand = Trans2Subcommand(0x000E);
}

/// Timeout field of the ping (Metasploit's). DoublePulsar reads its opcode from it: the low byte
/// of the sum of its four bytes is 0x23, "ping" (a6+d9+a4+00 = 0x223).
/// Spec: [MS-CIFS] 2.2.4.46.1 (Timeout), which the implant reuses as its opcode.
pub const DOUBLEPULSAR_PING_TIMEOUT: u32 = 0x00A4_D9A6;

/// Flags2 of the ping: 0xC007 (UNICODE | NT_STATUS | SECURITY_SIGNATURE | EAS | LONG_NAMES), the
/// exact value in every public ping capture (WannaCry, FuzzBunch, Metasploit).
/// Spec: [MS-CIFS] 2.2.3.1 (Flags2).
pub const PING_FLAGS2: u16 = flags2::UNICODE
    | flags2::NT_STATUS
    | flags2::SECURITY_SIGNATURE
    | flags2::EAS
    | flags2::LONG_NAMES;

/// Builds the DoublePulsar ping ([MS-CIFS] 2.2.4.46.1 layout): WordCount 15, TotalParameterCount
/// 12, TotalDataCount 0, MaxParameterCount 1, MaxDataCount 0, MaxSetupCount 0, Flags 0, Timeout
/// [`DOUBLEPULSAR_PING_TIMEOUT`], ParameterCount 12, ParameterOffset 66, DataCount 0,
/// DataOffset 78, SetupCount 1, Setup `[0x000E]`, ByteCount 13 (the one-byte Name + 12 zero parameter
/// bytes). Set `ids.mid` to [`DOUBLEPULSAR_PING_MID`] as the real tools do.
///
/// Returns the bare SMB message (78 bytes; 82 with the NBSS header). The same shape as WannaCry's ping in
/// win7-enterprise-sp1-x64-doublepulsar-ping-infected-wannacry.pcap frame 7 (except the Timeout,
/// which there is 0x00ee3401 — also an opcode-0x23 value); checked with tshark 4.x: decoded as
/// "Trans2 Request, SESSION_SETUP", nothing malformed.
pub fn build_smb1_doublepulsar_ping(ids: Smb1Ids) -> Bytes {
    let request = Smb1TransRequest {
        max_parameter_count: 1,
        max_data_count: 0,
        max_setup_count: 0,
        flags: 0,
        timeout: DOUBLEPULSAR_PING_TIMEOUT,
        setup: &[Trans2Subcommand::SESSION_SETUP.0],
        name: &[0], // Name: unused in TRANS2, one NUL byte
        parameters: &[0; 12],
        data: &[],
    };
    build_smb1_trans_request(Smb1Command::TRANSACTION2, PING_FLAGS2, ids, &request)
}

/// Processor architecture of the implant, from SecuritySignature byte 4.
/// Read from SecuritySignature ([MS-CIFS] 2.2.3.1), where the implant puts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// Byte 4 = 0.
    X86,
    /// Byte 4 = 1.
    X64,
}

impl Arch {
    /// "x86" / "x64".
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86 => "x86",
            Arch::X64 => "x64",
        }
    }
}

/// What a reply to the ping says.
/// Read from the TRANS2 response header ([MS-CIFS] 2.2.4.46.2, 2.2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoublePulsarReply {
    /// MID = request MID + 16: the implant answered.
    Present {
        /// From SecuritySignature byte 4.
        arch: Arch,
        /// The XOR key the implant expects for uploads, derived as Metasploit does.
        xor_key: u32,
    },
    /// The reply carries the request's MID: srv.sys answered, no implant.
    Absent,
    /// The reply does not fit either shape.
    Unexpected(UnexpectedReply),
}

/// Why a ping reply was neither present nor absent.
/// Spec: [MS-CIFS] 2.2.3.1 (Command, MID, SecuritySignature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnexpectedReply {
    /// The reply is not a TRANS2 response (command shown).
    WrongCommand(u8),
    /// The MID is neither the request's nor request + 16.
    WrongMid(u16),
    /// MID + 16, but SecuritySignature byte 4 is neither 0 nor 1.
    UnknownArch(u8),
}

/// DoublePulsar's XOR key from the first SecuritySignature u32 (little-endian) `s`, exactly as
/// Metasploit's `calculate_doublepulsar_xor_key` computes it, in wrapping 32-bit arithmetic:
/// `2*s ^ ((((s & 0xff00) | (s << 16)) << 8) | (((s >> 16) | (s & 0xff0000)) >> 8))`.
/// Not in any spec: the implant's own scheme, as Metasploit documents it.
pub fn doublepulsar_xor_key(s: u32) -> u32 {
    let left = ((s & 0xff00) | (s << 16)) << 8;
    let right = ((s >> 16) | (s & 0x00ff_0000)) >> 8;
    s.wrapping_mul(2) ^ (left | right)
}

/// Interprets the reply header to a ping sent with `request_mid`. The status is not part of the
/// decision (both clean and infected hosts answer STATUS_NOT_IMPLEMENTED); the MID is.
/// Spec: [MS-CIFS] 2.2.4.46.2, 3.3.4.1 (the MID a clean server echoes).
pub fn interpret_doublepulsar_reply(request_mid: u16, reply: &Smb1Header) -> DoublePulsarReply {
    if reply.command != Smb1Command::TRANSACTION2 {
        return DoublePulsarReply::Unexpected(UnexpectedReply::WrongCommand(reply.command.0));
    }
    if reply.mid == request_mid.wrapping_add(DOUBLEPULSAR_MID_DELTA) {
        let [s0, s1, s2, s3, a, ..] = reply.security_signature;
        let arch = match a {
            0 => Arch::X86,
            1 => Arch::X64,
            other => return DoublePulsarReply::Unexpected(UnexpectedReply::UnknownArch(other)),
        };
        DoublePulsarReply::Present {
            arch,
            xor_key: doublepulsar_xor_key(u32::from_le_bytes([s0, s1, s2, s3])),
        }
    } else if reply.mid == request_mid {
        DoublePulsarReply::Absent
    } else {
        DoublePulsarReply::Unexpected(UnexpectedReply::WrongMid(reply.mid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb1::header::{parse_smb1_header, write_smb1_body};
    use crate::test_util::hex;
    use bytes::BytesMut;

    #[test]
    fn ping_golden() {
        // TID/PID/UID as WannaCry sends them (0x0800 / 0xFEFF / 0x0800), MID 65.
        let ids = Smb1Ids {
            tid: 0x0800,
            pid: 0xFEFF,
            uid: 0x0800,
            mid: DOUBLEPULSAR_PING_MID,
        };
        let m = build_smb1_doublepulsar_ping(ids);
        assert_eq!(m.len(), 78);
        let want = concat!(
            "ff534d4232000000001807c00000000000000000000000000008fffe00084100",
            "0f",
            "0c0000000100000000000000a6d9a40000000c0042000000",
            "4e0001000e00",
            "0d00",
            "00000000000000000000000000"
        );
        assert_eq!(hex(&m), want);
        // The Timeout's four bytes sum to the ping opcode 0x23 (low byte).
        let sum: u32 = DOUBLEPULSAR_PING_TIMEOUT
            .to_le_bytes()
            .iter()
            .map(|&b| u32::from(b))
            .sum();
        assert_eq!(sum & 0xFF, 0x23);
    }

    fn reply(mid: u16, sig: [u8; 8]) -> Smb1Header {
        let mut h = Smb1Header::request(Smb1Command::TRANSACTION2, 0x98, 0xC007);
        h.status_raw = 0xC000_0002;
        h.mid = mid;
        h.security_signature = sig;
        h
    }

    /// Signatures of the three infected replies listed in the captures' SOURCES.md (c), read with
    /// `tshark -T fields -e smb.mid -e smb.signature`. Metasploit's smb_ms17_010 passes
    /// `signature1` (bytes 0-3, little-endian) to `calculate_doublepulsar_xor_key`; the expected
    /// keys were computed independently with Python (unbounded ints, masked to 32 bits):
    /// - WannaCry, Win7 Enterprise SP1 x64 (frame 8): MID 81, `3a10e036 01000000`.
    /// - nixawk, Win7 Ultimate RTM x64 (frame 8): MID 81, `f2fcc11b 01000000`.
    /// - FuzzBunch, Server 2008 R2 SP1 x64 (frame 11): MID 81, `14d036e5 01000000`.
    #[test]
    fn infected_replies_from_captures() {
        for (sig, key) in [
            ([0x3a, 0x10, 0xe0, 0x36, 1, 0, 0, 0], 0x57d0_c042_u32),
            ([0xf2, 0xfc, 0xc1, 0x1b, 1, 0, 0, 0], 0xc57f_38ff),
            ([0x14, 0xd0, 0x36, 0xe5, 1, 0, 0, 0], 0xdebd_96cd),
        ] {
            let r = interpret_doublepulsar_reply(65, &reply(81, sig));
            assert_eq!(
                r,
                DoublePulsarReply::Present {
                    arch: Arch::X64,
                    xor_key: key
                },
                "signature {sig:02x?}"
            );
        }
    }

    #[test]
    fn absent_unexpected_and_x86() {
        // Clean host (same captures before infection; msf XP files): MID 65, zero signature.
        assert_eq!(
            interpret_doublepulsar_reply(65, &reply(65, [0; 8])),
            DoublePulsarReply::Absent
        );
        assert_eq!(
            interpret_doublepulsar_reply(65, &reply(66, [0; 8])),
            DoublePulsarReply::Unexpected(UnexpectedReply::WrongMid(66))
        );
        assert_eq!(
            interpret_doublepulsar_reply(65, &reply(81, [1, 2, 3, 4, 7, 0, 0, 0])),
            DoublePulsarReply::Unexpected(UnexpectedReply::UnknownArch(7))
        );
        assert!(matches!(
            interpret_doublepulsar_reply(65, &reply(81, [1, 2, 3, 4, 0, 0, 0, 0])),
            DoublePulsarReply::Present {
                arch: Arch::X86,
                ..
            }
        ));
        let mut h = reply(81, [0; 8]);
        h.command = Smb1Command::TRANSACTION;
        assert_eq!(
            interpret_doublepulsar_reply(65, &h),
            DoublePulsarReply::Unexpected(UnexpectedReply::WrongCommand(0x25))
        );
        // MID wrap-around does not panic.
        assert_eq!(
            interpret_doublepulsar_reply(0xFFF8, &reply(8, [0, 0, 0, 0, 1, 0, 0, 0])),
            DoublePulsarReply::Present {
                arch: Arch::X64,
                xor_key: 0
            }
        );
        // A parsed reply works the same (35-byte reply rebuilt from the WannaCry frame 8 values).
        let mut b = BytesMut::new();
        reply(81, [0x3a, 0x10, 0xe0, 0x36, 1, 0, 0, 0]).write(&mut b);
        write_smb1_body(&mut b, &[], &[]);
        let (h, _) = parse_smb1_header(&b).expect("parse");
        assert!(matches!(
            interpret_doublepulsar_reply(65, &h),
            DoublePulsarReply::Present {
                arch: Arch::X64,
                ..
            }
        ));
    }
}
