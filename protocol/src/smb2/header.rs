//! The SMB2 packet header ([MS-SMB2] 2.2.1): the 64-byte header in front of every SMB2/3 message,
//! in its SYNC (2.2.1.2) and ASYNC (2.2.1.1) forms, and the command codes it carries.

use bytes::{BufMut, BytesMut};

use nom::bytes::complete::take;
use nom::number::complete::{le_u16, le_u32, le_u64};
use nom::{IResult, Parser};

use crate::error::{ParseError, Result};
use crate::status::NtStatus;
use crate::util::run;

/// `\xFESMB`, the ProtocolId of every SMB2/3 message ([MS-SMB2] 2.2.1).
pub const SMB2_MAGIC: [u8; 4] = [0xFE, b'S', b'M', b'B'];
/// Size of the SMB2 header; also the value of its StructureSize field ([MS-SMB2] 2.2.1).
pub const SMB2_HEADER_LEN: usize = 64;

/// SMB2 command code ([MS-SMB2] 2.2.1.2, "Command"). A newtype: unknown commands are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Smb2Command(pub u16);

impl Smb2Command {
    /// SMB2 NEGOTIATE.
    pub const NEGOTIATE: Smb2Command = Smb2Command(0x0000);
    /// SMB2 SESSION_SETUP.
    pub const SESSION_SETUP: Smb2Command = Smb2Command(0x0001);
    /// SMB2 LOGOFF.
    pub const LOGOFF: Smb2Command = Smb2Command(0x0002);
    /// SMB2 TREE_CONNECT.
    pub const TREE_CONNECT: Smb2Command = Smb2Command(0x0003);
    /// SMB2 TREE_DISCONNECT.
    pub const TREE_DISCONNECT: Smb2Command = Smb2Command(0x0004);
    /// SMB2 CREATE.
    pub const CREATE: Smb2Command = Smb2Command(0x0005);
    /// SMB2 CLOSE.
    pub const CLOSE: Smb2Command = Smb2Command(0x0006);
    /// SMB2 FLUSH.
    pub const FLUSH: Smb2Command = Smb2Command(0x0007);
    /// SMB2 READ.
    pub const READ: Smb2Command = Smb2Command(0x0008);
    /// SMB2 WRITE.
    pub const WRITE: Smb2Command = Smb2Command(0x0009);
    /// SMB2 LOCK.
    pub const LOCK: Smb2Command = Smb2Command(0x000A);
    /// SMB2 IOCTL.
    pub const IOCTL: Smb2Command = Smb2Command(0x000B);
    /// SMB2 CANCEL.
    pub const CANCEL: Smb2Command = Smb2Command(0x000C);
    /// SMB2 ECHO.
    pub const ECHO: Smb2Command = Smb2Command(0x000D);
    /// SMB2 QUERY_DIRECTORY.
    pub const QUERY_DIRECTORY: Smb2Command = Smb2Command(0x000E);
    /// SMB2 CHANGE_NOTIFY.
    pub const CHANGE_NOTIFY: Smb2Command = Smb2Command(0x000F);
    /// SMB2 QUERY_INFO.
    pub const QUERY_INFO: Smb2Command = Smb2Command(0x0010);
    /// SMB2 SET_INFO.
    pub const SET_INFO: Smb2Command = Smb2Command(0x0011);
    /// SMB2 OPLOCK_BREAK.
    pub const OPLOCK_BREAK: Smb2Command = Smb2Command(0x0012);

    /// Readable name (`SMB2_NEGOTIATE`, ...) for known commands, `None` otherwise.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x00 => "SMB2_NEGOTIATE",
            0x01 => "SMB2_SESSION_SETUP",
            0x02 => "SMB2_LOGOFF",
            0x03 => "SMB2_TREE_CONNECT",
            0x04 => "SMB2_TREE_DISCONNECT",
            0x05 => "SMB2_CREATE",
            0x06 => "SMB2_CLOSE",
            0x07 => "SMB2_FLUSH",
            0x08 => "SMB2_READ",
            0x09 => "SMB2_WRITE",
            0x0A => "SMB2_LOCK",
            0x0B => "SMB2_IOCTL",
            0x0C => "SMB2_CANCEL",
            0x0D => "SMB2_ECHO",
            0x0E => "SMB2_QUERY_DIRECTORY",
            0x0F => "SMB2_CHANGE_NOTIFY",
            0x10 => "SMB2_QUERY_INFO",
            0x11 => "SMB2_SET_INFO",
            0x12 => "SMB2_OPLOCK_BREAK",
            _ => return None,
        })
    }
}

/// Header Flags ([MS-SMB2] 2.2.1.2, "Flags").
pub mod flags {
    /// SMB2_FLAGS_SERVER_TO_REDIR: set on every response.
    pub const SERVER_TO_REDIR: u32 = 0x0000_0001;
    /// SMB2_FLAGS_ASYNC_COMMAND: the header is the ASYNC form (AsyncId instead of TreeId).
    pub const ASYNC_COMMAND: u32 = 0x0000_0002;
    /// SMB2_FLAGS_RELATED_OPERATIONS: part of a related compound chain.
    pub const RELATED_OPERATIONS: u32 = 0x0000_0004;
    /// SMB2_FLAGS_SIGNED: the message is signed.
    pub const SIGNED: u32 = 0x0000_0008;
    /// SMB2_FLAGS_PRIORITY_MASK (3.1.1 only).
    pub const PRIORITY_MASK: u32 = 0x0000_0070;
    /// SMB2_FLAGS_DFS_OPERATIONS.
    pub const DFS_OPERATIONS: u32 = 0x1000_0000;
    /// SMB2_FLAGS_REPLAY_OPERATION (3.x only).
    pub const REPLAY_OPERATION: u32 = 0x2000_0000;
}

/// A parsed or to-be-written SMB2 header ([MS-SMB2] 2.2.1.1 ASYNC / 2.2.1.2 SYNC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb2Header {
    /// CreditCharge: credits this request consumes (0 before multi-credit, 2.1+).
    pub credit_charge: u16,
    /// Status in responses; in requests this field is ChannelSequence/Reserved and zero here.
    pub status: NtStatus,
    /// Command code.
    pub command: Smb2Command,
    /// CreditRequest (requests) / CreditResponse (responses).
    pub credits: u16,
    /// Flags (see [`flags`]).
    pub flags: u32,
    /// NextCommand: offset of the next compounded message, 0 if none.
    pub next_command: u32,
    /// MessageId.
    pub message_id: u64,
    /// Bytes 32..40 as a little-endian u64. With `SMB2_FLAGS_ASYNC_COMMAND` this is the AsyncId;
    /// otherwise the low 32 bits are Reserved (the ProcessId) and the high 32 bits the TreeId.
    /// Use [`Smb2Header::tree_id`] / [`Smb2Header::async_id`] to read it.
    pub async_id_or_tree: u64,
    /// SessionId.
    pub session_id: u64,
    /// Signature (zero unless `SMB2_FLAGS_SIGNED`).
    pub signature: [u8; 16],
}

impl Smb2Header {
    /// A SYNC request header for `command` with `message_id`: no status, no session, no tree,
    /// CreditCharge 0 and a request for one credit (enough for smb1scan's one-at-a-time requests;
    /// servers grant at least one credit per response).
    pub fn request(command: Smb2Command, message_id: u64) -> Self {
        Smb2Header {
            credit_charge: 0,
            status: NtStatus::SUCCESS,
            command,
            credits: 1,
            flags: 0,
            next_command: 0,
            message_id,
            async_id_or_tree: 0,
            session_id: 0,
            signature: [0; 16],
        }
    }

    /// True when the server set `SMB2_FLAGS_SERVER_TO_REDIR` (a response).
    pub fn is_response(&self) -> bool {
        self.flags & flags::SERVER_TO_REDIR != 0
    }

    /// True for the ASYNC header form ([MS-SMB2] 2.2.1.1).
    pub fn is_async(&self) -> bool {
        self.flags & flags::ASYNC_COMMAND != 0
    }

    /// TreeId of a SYNC header; `None` for an ASYNC one.
    pub fn tree_id(&self) -> Option<u32> {
        (!self.is_async()).then_some((self.async_id_or_tree >> 32) as u32)
    }

    /// AsyncId of an ASYNC header; `None` for a SYNC one.
    pub fn async_id(&self) -> Option<u64> {
        self.is_async().then_some(self.async_id_or_tree)
    }

    /// Sets the TreeId of a SYNC header (keeps the Reserved low half at zero).
    pub fn set_tree_id(&mut self, tree_id: u32) {
        self.async_id_or_tree = u64::from(tree_id) << 32;
    }

    /// Serialises the 64-byte header into `b`.
    pub fn write(&self, b: &mut BytesMut) {
        b.put_slice(&SMB2_MAGIC);
        b.put_u16_le(SMB2_HEADER_LEN as u16); // StructureSize
        b.put_u16_le(self.credit_charge);
        b.put_u32_le(self.status.0);
        b.put_u16_le(self.command.0);
        b.put_u16_le(self.credits);
        b.put_u32_le(self.flags);
        b.put_u32_le(self.next_command);
        b.put_u64_le(self.message_id);
        b.put_u64_le(self.async_id_or_tree);
        b.put_u64_le(self.session_id);
        b.put_slice(&self.signature);
    }
}

/// Parses the 64-byte SMB2 header at the start of `i` (the NBSS payload, starting at `\xFESMB`).
/// Returns the header and everything after it (the command body, plus any compounded messages).
/// Spec: [MS-SMB2] 2.2.1.1, 2.2.1.2.
pub fn parse_smb2_header(i: &[u8]) -> Result<(Smb2Header, &[u8])> {
    if i.len() < SMB2_HEADER_LEN {
        return Err(ParseError::Truncated {
            what: "SMB2 header",
            need: SMB2_HEADER_LEN,
            have: i.len(),
        });
    }
    run("SMB2 header", i, header_fields).and_then(|(rest, (magic, structure_size, h))| {
        if magic != SMB2_MAGIC {
            return Err(ParseError::invalid(
                "SMB2 header",
                format!("magic {} is not fe534d42", hex4(magic)),
            ));
        }
        if usize::from(structure_size) != SMB2_HEADER_LEN {
            return Err(ParseError::invalid(
                "SMB2 header",
                format!("StructureSize {structure_size} is not 64"),
            ));
        }
        Ok((h, rest))
    })
}

/// The wire fields in [MS-SMB2] 2.2.1 order; magic and StructureSize are checked by the caller.
fn header_fields(i: &[u8]) -> IResult<&[u8], ([u8; 4], u16, Smb2Header)> {
    let (i, magic) = take(4usize).parse(i)?;
    let (i, structure_size) = le_u16.parse(i)?;
    let (i, credit_charge) = le_u16.parse(i)?;
    let (i, status) = le_u32.parse(i)?;
    let (i, command) = le_u16.parse(i)?;
    let (i, credits) = le_u16.parse(i)?;
    let (i, flags) = le_u32.parse(i)?;
    let (i, next_command) = le_u32.parse(i)?;
    let (i, message_id) = le_u64.parse(i)?;
    let (i, async_id_or_tree) = le_u64.parse(i)?;
    let (i, session_id) = le_u64.parse(i)?;
    let (i, sig) = take(16usize).parse(i)?;
    let mut magic_arr = [0u8; 4];
    magic_arr.copy_from_slice(magic);
    let mut signature = [0u8; 16];
    signature.copy_from_slice(sig);
    Ok((
        i,
        (
            magic_arr,
            structure_size,
            Smb2Header {
                credit_charge,
                status: NtStatus(status),
                command: Smb2Command(command),
                credits,
                flags,
                next_command,
                message_id,
                async_id_or_tree,
                session_id,
                signature,
            },
        ),
    ))
}

fn hex4(m: [u8; 4]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
// Tests may panic: that is how they fail. The crate-wide denials guard library code only.
mod tests {
    use super::*;
    use crate::test_util::hex;

    #[test]
    fn request_golden_and_roundtrip() {
        let h = Smb2Header::request(Smb2Command::SESSION_SETUP, 2);
        let mut b = BytesMut::new();
        h.write(&mut b);
        // Hand-assembled from [MS-SMB2] 2.2.1.2: magic, StructureSize 64, CreditCharge 0,
        // Status 0, Command 1, CreditRequest 1, Flags 0, NextCommand 0, MessageId 2, rest zero.
        let want =
            "fe534d42400000000000000001000100000000000000000002000000000000000000000000000000\
                    000000000000000000000000000000000000000000000000";
        assert_eq!(hex(&b), want);
        let (p, rest) = parse_smb2_header(&b).expect("parse");
        assert_eq!(p, h);
        assert!(rest.is_empty());
        assert_eq!(p.tree_id(), Some(0));
        assert_eq!(p.async_id(), None);
    }

    #[test]
    fn tree_and_async_ids() {
        let mut h = Smb2Header::request(Smb2Command::TREE_CONNECT, 3);
        h.set_tree_id(0xAABB_CCDD);
        let mut b = BytesMut::new();
        h.write(&mut b);
        // TreeId sits at bytes 36..40 ([MS-SMB2] 2.2.1.2).
        assert_eq!(&b[32..40], &[0, 0, 0, 0, 0xDD, 0xCC, 0xBB, 0xAA]);
        let (p, _) = parse_smb2_header(&b).expect("parse");
        assert_eq!(p.tree_id(), Some(0xAABB_CCDD));
        h.flags |= flags::ASYNC_COMMAND | flags::SERVER_TO_REDIR;
        h.async_id_or_tree = 7;
        assert_eq!(h.async_id(), Some(7));
        assert_eq!(h.tree_id(), None);
        assert!(h.is_response());
    }

    #[test]
    fn hostile_headers() {
        assert!(matches!(
            parse_smb2_header(&SMB2_MAGIC),
            Err(ParseError::Truncated { .. })
        ));
        let mut b = BytesMut::new();
        Smb2Header::request(Smb2Command::NEGOTIATE, 0).write(&mut b);
        let mut bad = b.to_vec();
        bad[0] = 0xFF;
        assert!(matches!(
            parse_smb2_header(&bad),
            Err(ParseError::Invalid { .. })
        ));
        let mut bad = b.to_vec();
        bad[4] = 65;
        assert!(matches!(
            parse_smb2_header(&bad),
            Err(ParseError::Invalid { .. })
        ));
        assert_eq!(Smb2Command(0x99).name(), None);
        assert_eq!(Smb2Command::NEGOTIATE.name(), Some("SMB2_NEGOTIATE"));
    }
}
