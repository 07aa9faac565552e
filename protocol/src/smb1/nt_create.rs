//! SMB_COM_NT_CREATE_ANDX (0xA2) opening a named pipe on IPC$ ([MS-CIFS] 2.2.4.64) and
//! SMB_COM_CLOSE (0x04) closing it again ([MS-CIFS] 2.2.4.5): the open-and-close that shows
//! whether a caller can reach a pipe, nothing more (no RPC bind, no read, no write).

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{le_u16, le_u32, le_u64, le_u8};
use nom::{IResult, Parser};

use crate::error::{ParseError, Result};
use crate::smb1::header::{
    build_smb1_message, parse_smb1_andx, parse_smb1_header, put_smb1_andx, put_smb1_string,
    smb1_bytes_offset, Smb1Command, Smb1Header, Smb1Ids, CLIENT_FLAGS, CLIENT_FLAGS2,
    SMB1_HEADER_LEN,
};
use crate::util::run;

/// SMB_COM_NT_CREATE_ANDX ([MS-CIFS] 2.2.2.1).
pub const NT_CREATE_ANDX: Smb1Command = Smb1Command(0xA2);
/// SMB_COM_CLOSE ([MS-CIFS] 2.2.2.1).
pub const CLOSE: Smb1Command = Smb1Command(0x04);

/// DesiredAccess of the pipe open: FILE_READ_DATA | FILE_WRITE_DATA | FILE_APPEND_DATA |
/// FILE_READ_EA | FILE_WRITE_EA | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES | READ_CONTROL
/// ([MS-CIFS] 2.2.4.64.1), what the Windows RPC client asks for on a pipe: the open answers the
/// question an exploit's open would (a read-only open can succeed where RPC cannot).
pub const PIPE_DESIRED_ACCESS: u32 = 0x0002_019F;
/// ShareAccess FILE_SHARE_READ | FILE_SHARE_WRITE.
pub const PIPE_SHARE_ACCESS: u32 = 0x0000_0003;
/// CreateDisposition FILE_OPEN: never creates anything.
pub const FILE_OPEN: u32 = 0x0000_0001;
/// ImpersonationLevel SEC_IMPERSONATE.
pub const SEC_IMPERSONATE: u32 = 0x0000_0002;
/// FileType of a message-mode named pipe in the response ([MS-CIFS] 2.2.4.64.2).
pub const FILE_TYPE_MESSAGE_MODE_PIPE: u16 = 0x0002;
/// FileType of a byte-mode named pipe.
pub const FILE_TYPE_BYTE_MODE_PIPE: u16 = 0x0001;
/// WordCount of the request.
const REQUEST_WORD_COUNT_BYTES: usize = 48;
/// WordCount of the basic response ([MS-CIFS] 2.2.4.64.2); the extended one ([MS-SMB]
/// 2.2.4.9.2) is 42 (and Windows sends 50 words under WordCount 42, so nothing past the basic
/// fields is read from it).
pub const RESPONSE_WORD_COUNT: u8 = 34;

/// Builds an NT_CREATE_ANDX request opening the named pipe `pipe` (e.g. `lsarpc`; sent as
/// `\lsarpc`) on the tree in `ids` (IPC$): WordCount 24 ([MS-CIFS] 2.2.4.64.1), Flags 0,
/// RootDirectoryFID 0, [`PIPE_DESIRED_ACCESS`], AllocationSize 0, ExtFileAttributes 0,
/// [`PIPE_SHARE_ACCESS`], [`FILE_OPEN`], CreateOptions 0, [`SEC_IMPERSONATE`], SecurityFlags 0,
/// the name in Unicode. NameLength counts the name's bytes without the terminator.
/// Returns the bare SMB message. Checked with tshark 4.0 (protocol/tests/pipe_dissect.rs).
pub fn build_smb1_nt_create_pipe(ids: Smb1Ids, pipe: &str) -> Bytes {
    let name = format!("\\{pipe}");
    let name_len = name.encode_utf16().count() * 2;
    let mut words = BytesMut::with_capacity(REQUEST_WORD_COUNT_BYTES);
    put_smb1_andx(&mut words, Smb1Command::NO_ANDX, 0);
    words.put_u8(0); // Reserved
    words.put_u16_le(name_len.min(usize::from(u16::MAX)) as u16); // NameLength
    words.put_u32_le(0); // Flags
    words.put_u32_le(0); // RootDirectoryFID
    words.put_u32_le(PIPE_DESIRED_ACCESS);
    words.put_u64_le(0); // AllocationSize
    words.put_u32_le(0); // ExtFileAttributes
    words.put_u32_le(PIPE_SHARE_ACCESS);
    words.put_u32_le(FILE_OPEN); // CreateDisposition
    words.put_u32_le(0); // CreateOptions
    words.put_u32_le(SEC_IMPERSONATE);
    words.put_u8(0); // SecurityFlags
    let mut bytes = Vec::with_capacity(name_len + 3);
    put_smb1_string(&mut bytes, smb1_bytes_offset(words.len()), &name, true);
    let header = Smb1Header::with_ids(NT_CREATE_ANDX, CLIENT_FLAGS, CLIENT_FLAGS2, ids);
    build_smb1_message(&header, &words, &bytes)
}

/// Builds a CLOSE request for `fid` ([MS-CIFS] 2.2.4.5.1): WordCount 3, FID,
/// LastTimeModified 0xFFFFFFFF (leave the time alone), ByteCount 0.
pub fn build_smb1_close(ids: Smb1Ids, fid: u16) -> Bytes {
    let mut words = BytesMut::with_capacity(6);
    words.put_u16_le(fid);
    words.put_u32_le(0xFFFF_FFFF);
    let header = Smb1Header::with_ids(CLOSE, CLIENT_FLAGS, CLIENT_FLAGS2, ids);
    build_smb1_message(&header, &words, &[])
}

/// The fields of an NT_CREATE_ANDX response that matter for a pipe ([MS-CIFS] 2.2.4.64.2). An
/// error reply (WordCount 0) gives `None` from [`parse_smb1_nt_create_response`]'s second
/// element; the status is the header's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb1NtCreateResponse {
    /// WordCount as received (34, or 42 for the extended form).
    pub word_count: u8,
    /// OpLockLevel.
    pub oplock_level: u8,
    /// FID of the open pipe, for CLOSE.
    pub fid: u16,
    /// CreateDisposition the server took.
    pub create_disposition: u32,
    /// ResourceType / FileType (2 message-mode pipe, 1 byte-mode pipe, 0 disk).
    pub file_type: u16,
    /// NMPipeStatus / IPCState.
    pub nm_pipe_status: u16,
}

/// The basic response words ([MS-CIFS] 2.2.4.64.2 table order).
fn response_words(i: &[u8]) -> IResult<&[u8], Smb1NtCreateResponse> {
    let (i, _andx) = parse_smb1_andx(i)?;
    let (i, oplock_level) = le_u8.parse(i)?;
    let (i, fid) = le_u16.parse(i)?;
    let (i, create_disposition) = le_u32.parse(i)?;
    let (i, _creation_time) = le_u64.parse(i)?;
    let (i, _last_access_time) = le_u64.parse(i)?;
    let (i, _last_write_time) = le_u64.parse(i)?;
    let (i, _last_change_time) = le_u64.parse(i)?;
    let (i, _ext_file_attributes) = le_u32.parse(i)?;
    let (i, _allocation_size) = le_u64.parse(i)?;
    let (i, _end_of_file) = le_u64.parse(i)?;
    let (i, file_type) = le_u16.parse(i)?;
    let (i, nm_pipe_status) = le_u16.parse(i)?;
    let (i, _directory) = le_u8.parse(i)?;
    Ok((
        i,
        Smb1NtCreateResponse {
            word_count: 0,
            oplock_level,
            fid,
            create_disposition,
            file_type,
            nm_pipe_status,
        },
    ))
}

/// Parses an NT_CREATE_ANDX response (the NBSS payload, from `\xFFSMB`). WordCount 0 is an error
/// reply (`None`); 34 or more words are read for their basic fields only, without trusting
/// ByteCount (Windows' extended form announces fewer words than it sends).
/// Spec: [MS-CIFS] 2.2.4.64.2, [MS-SMB] 2.2.4.9.2.
pub fn parse_smb1_nt_create_response(
    i: &[u8],
) -> Result<(Smb1Header, Option<Smb1NtCreateResponse>)> {
    const WHAT: &str = "NT_CREATE_ANDX response";
    let (h, rest) = parse_smb1_header(i)?;
    if h.command != NT_CREATE_ANDX {
        return Err(ParseError::invalid(
            WHAT,
            format!("command 0x{:02X}", h.command.0),
        ));
    }
    let word_count = rest.first().copied().unwrap_or(0);
    if word_count == 0 {
        return Ok((h, None));
    }
    if word_count < RESPONSE_WORD_COUNT {
        return Err(ParseError::invalid(WHAT, format!("WordCount {word_count}")));
    }
    let words = rest.get(1..).unwrap_or_default();
    let (_, mut r) = run(WHAT, words, response_words)?;
    r.word_count = word_count;
    Ok((h, Some(r)))
}

/// Parses a CLOSE response ([MS-CIFS] 2.2.4.5.2: WordCount 0, ByteCount 0; the outcome is the
/// header's status).
pub fn parse_smb1_close_response(i: &[u8]) -> Result<Smb1Header> {
    let (h, _) = parse_smb1_header(i)?;
    if h.command != CLOSE {
        return Err(ParseError::invalid(
            "CLOSE response",
            format!("command 0x{:02X}", h.command.0),
        ));
    }
    Ok(h)
}

/// Length of an NT_CREATE_ANDX request's fixed part (header + WordCount + words + ByteCount),
/// where the name starts (before its pad byte).
pub const NT_CREATE_NAME_OFFSET: usize = SMB1_HEADER_LEN + 1 + REQUEST_WORD_COUNT_BYTES + 2;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb1::header::parse_smb1_body;

    const IDS: Smb1Ids = Smb1Ids {
        tid: 0x0800,
        pid: 0xFEFF,
        uid: 0x0801,
        mid: 0x0040,
    };

    #[test]
    fn nt_create_request_layout() {
        let m = build_smb1_nt_create_pipe(IDS, "lsarpc");
        let (h, rest) = parse_smb1_header(&m).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (h.command, h.tid, h.uid, h.mid),
            (NT_CREATE_ANDX, 0x0800, 0x0801, 0x0040)
        );
        let body = parse_smb1_body(rest).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body.word_count, 24);
        // NameLength: "\lsarpc" = 7 UTF-16 units.
        assert_eq!(body.words.get(5..7), Some(&[14u8, 0][..]));
        assert_eq!(
            body.words.get(15..19),
            Some(&PIPE_DESIRED_ACCESS.to_le_bytes()[..])
        );
        assert_eq!(body.words.get(35..39), Some(&FILE_OPEN.to_le_bytes()[..]));
        // The name, Unicode, after a pad byte (the bytes start at an odd offset: 32+1+48+2 = 83).
        assert_eq!(NT_CREATE_NAME_OFFSET % 2, 1);
        let mut want = vec![0u8];
        want.extend("\\lsarpc".encode_utf16().flat_map(u16::to_le_bytes));
        want.extend([0, 0]);
        assert_eq!(body.bytes, &want[..]);
    }

    #[test]
    fn close_request_layout() {
        let m = build_smb1_close(IDS, 0x4000);
        let (h, rest) = parse_smb1_header(&m).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.command, CLOSE);
        let body = parse_smb1_body(rest).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body.word_count, 3);
        assert_eq!(body.words, &[0x00, 0x40, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(body.byte_count, 0);
    }

    fn response(word_count: u8, words: &[u8], status: u32) -> Vec<u8> {
        let mut h = Smb1Header::with_ids(NT_CREATE_ANDX, 0x98, CLIENT_FLAGS2, IDS);
        h.status_raw = status;
        let mut b = BytesMut::new();
        h.write(&mut b);
        b.put_u8(word_count);
        b.put_slice(words);
        b.put_u16_le(0);
        b.to_vec()
    }

    fn basic_words(fid: u16, file_type: u16) -> Vec<u8> {
        let mut w = BytesMut::new();
        put_smb1_andx(&mut w, Smb1Command::NO_ANDX, 0);
        w.put_u8(0); // OpLockLevel
        w.put_u16_le(fid);
        w.put_u32_le(FILE_OPEN);
        w.put_bytes(0, 32); // four times
        w.put_u32_le(0x80); // FILE_ATTRIBUTE_NORMAL
        w.put_u64_le(4096);
        w.put_u64_le(0);
        w.put_u16_le(file_type);
        w.put_u16_le(0x05FF); // NMPipeStatus as Windows answers for lsarpc
        w.put_u8(0);
        w.to_vec()
    }

    #[test]
    fn parses_basic_extended_and_error_responses() {
        let words = basic_words(0x4000, FILE_TYPE_MESSAGE_MODE_PIPE);
        assert_eq!(words.len(), 68);
        let (_, r) = parse_smb1_nt_create_response(&response(34, &words, 0))
            .unwrap_or_else(|e| panic!("{e}"));
        let r = r.unwrap_or_else(|| panic!("a success response"));
        assert_eq!((r.fid, r.file_type, r.nm_pipe_status), (0x4000, 2, 0x05FF));
        // Windows' extended form: WordCount 42 with 100 bytes of words and a ByteCount that
        // does not line up; only the basic fields are read.
        let mut ext = words.clone();
        ext.extend([0xAB; 32]);
        let (_, r) =
            parse_smb1_nt_create_response(&response(42, &ext, 0)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.map(|r| (r.word_count, r.fid)), Some((42, 0x4000)));
        // STATUS_ACCESS_DENIED, WordCount 0.
        let (h, r) = parse_smb1_nt_create_response(&response(0, &[], 0xC000_0022))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((h.status_raw, r), (0xC000_0022, None));
        // Truncated words and a wrong command are errors, not a zeroed record.
        assert!(parse_smb1_nt_create_response(&response(34, &words[..40], 0)).is_err());
        assert!(parse_smb1_nt_create_response(&response(3, &words[..6], 0)).is_err());
        let close = build_smb1_close(IDS, 1);
        assert!(parse_smb1_nt_create_response(&close).is_err());
        assert!(parse_smb1_close_response(&close).is_ok());
    }
}
