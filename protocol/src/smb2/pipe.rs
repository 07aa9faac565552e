//! Opening and closing a named pipe over SMB2: TREE_CONNECT to IPC$ ([MS-SMB2] 2.2.9 / 2.2.10),
//! CREATE ([MS-SMB2] 2.2.13 / 2.2.14) with FILE_OPEN, CLOSE ([MS-SMB2] 2.2.15 / 2.2.16). Only
//! what shows whether a caller can reach a pipe: no RPC bind, no read, no write.

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{le_u16, le_u32, le_u64, le_u8};
use nom::{IResult, Parser};

use crate::error::{ParseError, Result};
use crate::smb2::header::{parse_smb2_header, Smb2Command, Smb2Header, SMB2_HEADER_LEN};
use crate::util::run;

/// DesiredAccess of the pipe open (FILE_READ_DATA | FILE_WRITE_DATA | FILE_APPEND_DATA |
/// FILE_READ_EA | FILE_WRITE_EA | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES | READ_CONTROL),
/// as the Windows RPC client asks ([MS-SMB2] 2.2.13.1.1).
pub const PIPE_DESIRED_ACCESS: u32 = 0x0002_019F;
/// ShareAccess FILE_SHARE_READ | FILE_SHARE_WRITE.
pub const PIPE_SHARE_ACCESS: u32 = 0x0000_0003;
/// CreateDisposition FILE_OPEN: never creates anything.
pub const FILE_OPEN: u32 = 0x0000_0001;
/// ImpersonationLevel Impersonation.
pub const IMPERSONATION: u32 = 0x0000_0002;
/// ShareType of a named pipe share in a TREE_CONNECT response ([MS-SMB2] 2.2.10).
pub const SHARE_TYPE_PIPE: u8 = 0x02;

/// A request header with the session and tree set.
fn header(command: Smb2Command, message_id: u64, session_id: u64, tree_id: u32) -> Smb2Header {
    let mut h = Smb2Header::request(command, message_id);
    h.session_id = session_id;
    h.set_tree_id(tree_id);
    h
}

/// Builds a TREE_CONNECT request for `path` (`\\<server>\IPC$`), [MS-SMB2] 2.2.9:
/// StructureSize 9, Flags 0, PathOffset 72, the path in UTF-16LE.
pub fn build_smb2_tree_connect(message_id: u64, session_id: u64, path: &str) -> Bytes {
    let path: Vec<u8> = path.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let path = path.get(..0xFFFE).unwrap_or(&path);
    let mut b = BytesMut::with_capacity(SMB2_HEADER_LEN + 8 + path.len());
    header(Smb2Command::TREE_CONNECT, message_id, session_id, 0).write(&mut b);
    b.put_u16_le(9); // StructureSize
    b.put_u16_le(0); // Flags / Reserved
    b.put_u16_le((SMB2_HEADER_LEN + 8) as u16); // PathOffset
    b.put_u16_le(path.len() as u16); // PathLength
    b.put_slice(path);
    b.freeze()
}

/// A TREE_CONNECT response ([MS-SMB2] 2.2.10); the TreeId is in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb2TreeConnectResponse {
    /// ShareType (2 = pipe).
    pub share_type: u8,
    /// ShareFlags.
    pub share_flags: u32,
    /// Capabilities.
    pub capabilities: u32,
    /// MaximalAccess.
    pub maximal_access: u32,
}

fn tree_connect_fixed(i: &[u8]) -> IResult<&[u8], (u16, Smb2TreeConnectResponse)> {
    let (i, structure_size) = le_u16.parse(i)?;
    let (i, share_type) = le_u8.parse(i)?;
    let (i, _reserved) = le_u8.parse(i)?;
    let (i, share_flags) = le_u32.parse(i)?;
    let (i, capabilities) = le_u32.parse(i)?;
    let (i, maximal_access) = le_u32.parse(i)?;
    Ok((
        i,
        (
            structure_size,
            Smb2TreeConnectResponse {
                share_type,
                share_flags,
                capabilities,
                maximal_access,
            },
        ),
    ))
}

fn check_command(what: &'static str, h: &Smb2Header, want: Smb2Command) -> Result<()> {
    if h.command != want {
        return Err(ParseError::invalid(
            what,
            format!("command 0x{:04X}", h.command.0),
        ));
    }
    Ok(())
}

/// Parses a TREE_CONNECT response; `None` for an error response ([MS-SMB2] 2.2.2), whose status
/// is the header's. Spec: [MS-SMB2] 2.2.10.
pub fn parse_smb2_tree_connect_response(
    i: &[u8],
) -> Result<(Smb2Header, Option<Smb2TreeConnectResponse>)> {
    const WHAT: &str = "SMB2 TREE_CONNECT response";
    let (h, body) = parse_smb2_header(i)?;
    check_command(WHAT, &h, Smb2Command::TREE_CONNECT)?;
    if !h.status.is_success() {
        return Ok((h, None));
    }
    let (_, (size, r)) = run(WHAT, body, tree_connect_fixed)?;
    if size != 16 {
        return Err(ParseError::invalid(WHAT, format!("StructureSize {size}")));
    }
    Ok((h, Some(r)))
}

/// Builds a CREATE request opening the named pipe `pipe` (e.g. `lsarpc`, no leading backslash
/// over SMB2) on the IPC$ tree `tree_id`, [MS-SMB2] 2.2.13: StructureSize 57, no oplock,
/// [`IMPERSONATION`], [`PIPE_DESIRED_ACCESS`], FileAttributes 0, [`PIPE_SHARE_ACCESS`],
/// [`FILE_OPEN`], CreateOptions 0, the name at offset 120, no create contexts.
pub fn build_smb2_create_pipe(message_id: u64, session_id: u64, tree_id: u32, pipe: &str) -> Bytes {
    let name: Vec<u8> = pipe.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let name = name.get(..0xFFFE).unwrap_or(&name);
    let mut b = BytesMut::with_capacity(SMB2_HEADER_LEN + 56 + name.len().max(1));
    header(Smb2Command::CREATE, message_id, session_id, tree_id).write(&mut b);
    b.put_u16_le(57); // StructureSize
    b.put_u8(0); // SecurityFlags
    b.put_u8(0); // RequestedOplockLevel: none
    b.put_u32_le(IMPERSONATION);
    b.put_u64_le(0); // SmbCreateFlags
    b.put_u64_le(0); // Reserved
    b.put_u32_le(PIPE_DESIRED_ACCESS);
    b.put_u32_le(0); // FileAttributes
    b.put_u32_le(PIPE_SHARE_ACCESS);
    b.put_u32_le(FILE_OPEN); // CreateDisposition
    b.put_u32_le(0); // CreateOptions
    b.put_u16_le((SMB2_HEADER_LEN + 56) as u16); // NameOffset
    b.put_u16_le(name.len() as u16); // NameLength
    b.put_u32_le(0); // CreateContextsOffset
    b.put_u32_le(0); // CreateContextsLength
    if name.is_empty() {
        b.put_u8(0); // the Buffer is at least one byte ([MS-SMB2] 2.2.13)
    } else {
        b.put_slice(name);
    }
    b.freeze()
}

/// The fields of a CREATE response that matter for a pipe ([MS-SMB2] 2.2.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb2CreateResponse {
    /// CreateAction (1 = FILE_OPENED).
    pub create_action: u32,
    /// FileAttributes.
    pub file_attributes: u32,
    /// FileId (Persistent, Volatile), for CLOSE.
    pub file_id: (u64, u64),
}

fn create_fixed(i: &[u8]) -> IResult<&[u8], (u16, Smb2CreateResponse)> {
    let (i, structure_size) = le_u16.parse(i)?;
    let (i, _oplock_level) = le_u8.parse(i)?;
    let (i, _flags) = le_u8.parse(i)?;
    let (i, create_action) = le_u32.parse(i)?;
    let (i, _creation_time) = le_u64.parse(i)?;
    let (i, _last_access_time) = le_u64.parse(i)?;
    let (i, _last_write_time) = le_u64.parse(i)?;
    let (i, _change_time) = le_u64.parse(i)?;
    let (i, _allocation_size) = le_u64.parse(i)?;
    let (i, _end_of_file) = le_u64.parse(i)?;
    let (i, file_attributes) = le_u32.parse(i)?;
    let (i, _reserved2) = le_u32.parse(i)?;
    let (i, persistent) = le_u64.parse(i)?;
    let (i, volatile) = le_u64.parse(i)?;
    Ok((
        i,
        (
            structure_size,
            Smb2CreateResponse {
                create_action,
                file_attributes,
                file_id: (persistent, volatile),
            },
        ),
    ))
}

/// Parses a CREATE response; `None` for an error response (STATUS_ACCESS_DENIED,
/// STATUS_OBJECT_NAME_NOT_FOUND ... in the header). Spec: [MS-SMB2] 2.2.14.
pub fn parse_smb2_create_response(i: &[u8]) -> Result<(Smb2Header, Option<Smb2CreateResponse>)> {
    const WHAT: &str = "SMB2 CREATE response";
    let (h, body) = parse_smb2_header(i)?;
    check_command(WHAT, &h, Smb2Command::CREATE)?;
    if !h.status.is_success() {
        return Ok((h, None));
    }
    let (_, (size, r)) = run(WHAT, body, create_fixed)?;
    if size != 89 {
        return Err(ParseError::invalid(WHAT, format!("StructureSize {size}")));
    }
    Ok((h, Some(r)))
}

/// Builds a CLOSE request for `file_id` ([MS-SMB2] 2.2.15): StructureSize 24, Flags 0.
pub fn build_smb2_close(
    message_id: u64,
    session_id: u64,
    tree_id: u32,
    file_id: (u64, u64),
) -> Bytes {
    let mut b = BytesMut::with_capacity(SMB2_HEADER_LEN + 24);
    header(Smb2Command::CLOSE, message_id, session_id, tree_id).write(&mut b);
    b.put_u16_le(24); // StructureSize
    b.put_u16_le(0); // Flags
    b.put_u32_le(0); // Reserved
    b.put_u64_le(file_id.0);
    b.put_u64_le(file_id.1);
    b.freeze()
}

/// FileId of the related operations of a compound ([MS-SMB2] 3.2.4.1.4): all 0xFF, "the file
/// the previous operation opened".
pub const RELATED_FILE_ID: (u64, u64) = (u64::MAX, u64::MAX);

/// Builds a related compound ([MS-SMB2] 3.2.4.1.4): a CREATE of the pipe `pipe` (MessageId
/// `message_id`) and a CLOSE of the FileId it opens ([`RELATED_FILE_ID`], MessageId
/// `message_id + 1`, SMB2_FLAGS_RELATED_OPERATIONS), in one message: the CREATE padded to 8
/// bytes, its NextCommand the CLOSE's offset. The server answers both in one compounded
/// response; a CREATE that fails makes it fail the CLOSE ([MS-SMB2] 3.3.5.2.7.2). Each request
/// takes a credit.
pub fn build_smb2_create_close_compound(
    message_id: u64,
    session_id: u64,
    tree_id: u32,
    pipe: &str,
) -> Bytes {
    let create = build_smb2_create_pipe(message_id, session_id, tree_id, pipe);
    let next = create.len().next_multiple_of(8);
    let close = build_smb2_close(
        message_id.wrapping_add(1),
        session_id,
        tree_id,
        RELATED_FILE_ID,
    );
    let mut b = BytesMut::with_capacity(next + close.len());
    b.put_slice(&create);
    b.resize(next, 0);
    // NextCommand, header bytes 20-23.
    if let Some(n) = b.get_mut(20..24) {
        n.copy_from_slice(&(next as u32).to_le_bytes());
    }
    let at = b.len();
    b.put_slice(&close);
    // Flags, header bytes 16-19: SMB2_FLAGS_RELATED_OPERATIONS.
    if let Some(f) = b.get_mut(at + 16..at + 20) {
        f.copy_from_slice(&crate::smb2::header::flags::RELATED_OPERATIONS.to_le_bytes());
    }
    b.freeze()
}

/// Most messages [`split_smb2_compound`] returns from one NBSS message.
pub const MAX_COMPOUND: usize = 32;

/// The messages of a compounded SMB2 message ([MS-SMB2] 3.2.5.1.9 / 3.3.5.2.7): each header's
/// NextCommand is the offset of the next one (8-byte aligned, past the header), 0 on the last.
/// A single message is returned whole. A NextCommand that points outside the message, is not
/// past the current header or not 8-byte aligned, or more than [`MAX_COMPOUND`] messages, is an
/// error: the caller treats the whole NBSS message as malformed.
pub fn split_smb2_compound(i: &[u8]) -> Result<Vec<&[u8]>> {
    const WHAT: &str = "SMB2 compound";
    let mut out = Vec::new();
    let mut rest = i;
    loop {
        if out.len() >= MAX_COMPOUND {
            return Err(ParseError::invalid(WHAT, "too many compounded messages"));
        }
        let (h, _) = parse_smb2_header(rest)?;
        let next = h.next_command as usize;
        if next == 0 {
            out.push(rest);
            return Ok(out);
        }
        if next < SMB2_HEADER_LEN || next % 8 != 0 || next >= rest.len() {
            return Err(ParseError::invalid(WHAT, format!("NextCommand {next}")));
        }
        let (this, tail) = rest.split_at(next);
        out.push(this);
        rest = tail;
    }
}

/// Parses a CLOSE response's header ([MS-SMB2] 2.2.16; the outcome is the status).
pub fn parse_smb2_close_response(i: &[u8]) -> Result<Smb2Header> {
    let (h, _) = parse_smb2_header(i)?;
    check_command("SMB2 CLOSE response", &h, Smb2Command::CLOSE)?;
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::NtStatus;

    fn u16_at(m: &[u8], at: usize) -> Option<u16> {
        m.get(at..at + 2)
            .and_then(|s| s.try_into().ok())
            .map(u16::from_le_bytes)
    }

    #[test]
    fn requests_layout() {
        let m = build_smb2_tree_connect(3, 0x1122, "\\\\127.0.0.1\\IPC$");
        let (h, _) = parse_smb2_header(&m).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (h.command, h.session_id, h.message_id),
            (Smb2Command::TREE_CONNECT, 0x1122, 3)
        );
        assert_eq!(
            (u16_at(&m, 64), u16_at(&m, 68), u16_at(&m, 70)),
            (Some(9), Some(72), Some(32))
        );
        let m = build_smb2_create_pipe(4, 0x1122, 7, "lsarpc");
        let (h, _) = parse_smb2_header(&m).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((h.command, h.tree_id()), (Smb2Command::CREATE, Some(7)));
        assert_eq!(u16_at(&m, 64), Some(57));
        assert_eq!(
            (u16_at(&m, 64 + 44), u16_at(&m, 64 + 46)),
            (Some(120), Some(12))
        );
        assert_eq!(m.len(), 120 + 12);
        assert_eq!(m.get(64 + 36..64 + 40), Some(&FILE_OPEN.to_le_bytes()[..]));
        let m = build_smb2_close(5, 0x1122, 7, (1, 2));
        assert_eq!((u16_at(&m, 64), m.len()), (Some(24), 88));
    }

    fn response(cmd: Smb2Command, status: u32, body: &[u8]) -> Vec<u8> {
        let mut h = Smb2Header::request(cmd, 4);
        h.flags |= crate::smb2::header::flags::SERVER_TO_REDIR;
        h.status = NtStatus(status);
        let mut b = BytesMut::new();
        h.write(&mut b);
        b.put_slice(body);
        b.to_vec()
    }

    #[test]
    fn parses_responses() {
        let mut tc = BytesMut::new();
        tc.put_u16_le(16);
        tc.put_u8(SHARE_TYPE_PIPE);
        tc.put_u8(0);
        tc.put_u32_le(0x30);
        tc.put_u32_le(0);
        tc.put_u32_le(0x001F_01FF);
        let (_, r) = parse_smb2_tree_connect_response(&response(Smb2Command::TREE_CONNECT, 0, &tc))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.map(|r| r.share_type), Some(SHARE_TYPE_PIPE));
        let mut cr = BytesMut::new();
        cr.put_u16_le(89);
        cr.put_u8(0);
        cr.put_u8(0);
        cr.put_u32_le(1); // FILE_OPENED
        cr.put_bytes(0, 48);
        cr.put_u32_le(0x80);
        cr.put_u32_le(0);
        cr.put_u64_le(0xAA);
        cr.put_u64_le(0xBB);
        cr.put_u32_le(0);
        cr.put_u32_le(0);
        let (_, r) = parse_smb2_create_response(&response(Smb2Command::CREATE, 0, &cr))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.map(|r| (r.create_action, r.file_id)),
            Some((1, (0xAA, 0xBB)))
        );
        // Errors: the status, no record.
        let err = [9u8, 0, 0, 0, 0, 0, 0, 0, 0];
        for st in [0xC000_0022, 0xC000_0034] {
            let (h, r) = parse_smb2_create_response(&response(Smb2Command::CREATE, st, &err))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((h.status, r), (NtStatus(st), None));
        }
        // Cut short or the wrong command: errors.
        assert!(parse_smb2_create_response(&response(Smb2Command::CREATE, 0, &cr[..40])).is_err());
        assert!(parse_smb2_create_response(&response(Smb2Command::CLOSE, 0, &cr)).is_err());
        assert!(parse_smb2_close_response(&response(Smb2Command::CLOSE, 0, &[60, 0])).is_ok());
    }

    #[test]
    fn a_create_and_its_related_close_compound_and_split_back() {
        let m = build_smb2_create_close_compound(4, 0x1122, 7, "lsarpc");
        let parts = split_smb2_compound(&m).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parts.len(), 2);
        let (c, _) = parse_smb2_header(parts[0]).unwrap_or_else(|e| panic!("{e}"));
        let (k, _) = parse_smb2_header(parts[1]).unwrap_or_else(|e| panic!("{e}"));
        // The CREATE as built alone, padded to 8 and pointing at the CLOSE.
        let alone = build_smb2_create_pipe(4, 0x1122, 7, "lsarpc");
        assert_eq!((c.next_command, parts[0].len()), (136, 136));
        assert_eq!(parts[0].get(24..alone.len()), alone.get(24..));
        assert_eq!(
            (c.command, c.message_id, c.flags),
            (Smb2Command::CREATE, 4, 0)
        );
        // The CLOSE: the next MessageId, related, FileId all 0xFF, same session and tree.
        let rel = crate::smb2::header::flags::RELATED_OPERATIONS;
        assert_eq!(
            (k.command, k.message_id, k.flags, k.next_command),
            (Smb2Command::CLOSE, 5, rel, 0)
        );
        assert_eq!((k.session_id, k.tree_id()), (0x1122, Some(7)));
        assert_eq!(parts[1].get(64 + 8..64 + 24), Some(&[0xFF; 16][..]));
        // A lone message splits to itself; a NextCommand out of bounds, unaligned or inside the
        // header is refused, and so is a chain longer than MAX_COMPOUND.
        assert_eq!(split_smb2_compound(&alone).map(|v| v.len()).ok(), Some(1));
        for bad in [0x1000u32, 70, 8] {
            let mut b = m.to_vec();
            b[20..24].copy_from_slice(&bad.to_le_bytes());
            assert!(split_smb2_compound(&b).is_err(), "{bad}");
        }
        let mut long = Vec::new();
        for i in 0..=MAX_COMPOUND {
            let mut c = build_smb2_close(i as u64, 1, 1, (0, 0)).to_vec();
            if i < MAX_COMPOUND {
                let len = c.len() as u32;
                c[20..24].copy_from_slice(&len.to_le_bytes());
            }
            long.extend_from_slice(&c);
        }
        assert!(split_smb2_compound(&long).is_err());
        assert!(split_smb2_compound(&long[88..]).is_ok());
    }
}
