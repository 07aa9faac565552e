//! The SMB1 message header ([MS-CIFS] 2.2.3.1) and the generic message body layout
//! (WordCount, Words, ByteCount, Bytes; [MS-CIFS] 2.2.3.2-2.2.3.3).

use bytes::{BufMut, Bytes, BytesMut};
use nom::bytes::complete::take;
use nom::number::complete::{le_u16, le_u32, le_u8};
use nom::{IResult, Parser};

use crate::error::{ParseError, Result};
use crate::status::{DosError, NtStatus, SmbError};
use crate::util::{run, take_oemz, take_utf16z};

/// `\xFFSMB`.
/// Spec: [MS-CIFS] 2.2.3.1 (Protocol).
pub const SMB1_MAGIC: [u8; 4] = [0xFF, b'S', b'M', b'B'];
/// Size of the fixed header.
/// Spec: [MS-CIFS] 2.2.3.1.
pub const SMB1_HEADER_LEN: usize = 32;

/// SMB1 command code ([MS-CIFS] 2.2.2.1). A newtype: unknown commands are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Smb1Command(pub u8);

impl Smb1Command {
    /// SMB_COM_TRANSACTION.
    pub const TRANSACTION: Smb1Command = Smb1Command(0x25);
    /// SMB_COM_TRANSACTION2.
    pub const TRANSACTION2: Smb1Command = Smb1Command(0x32);
    /// SMB_COM_TREE_DISCONNECT.
    pub const TREE_DISCONNECT: Smb1Command = Smb1Command(0x71);
    /// SMB_COM_NEGOTIATE.
    pub const NEGOTIATE: Smb1Command = Smb1Command(0x72);
    /// SMB_COM_SESSION_SETUP_ANDX.
    pub const SESSION_SETUP_ANDX: Smb1Command = Smb1Command(0x73);
    /// SMB_COM_LOGOFF_ANDX.
    pub const LOGOFF_ANDX: Smb1Command = Smb1Command(0x74);
    /// SMB_COM_TREE_CONNECT_ANDX.
    pub const TREE_CONNECT_ANDX: Smb1Command = Smb1Command(0x75);
    /// "No further command" in an AndX chain.
    pub const NO_ANDX: Smb1Command = Smb1Command(0xFF);

    /// Readable name for known commands.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x25 => "SMB_COM_TRANSACTION",
            0x32 => "SMB_COM_TRANSACTION2",
            0x71 => "SMB_COM_TREE_DISCONNECT",
            0x72 => "SMB_COM_NEGOTIATE",
            0x73 => "SMB_COM_SESSION_SETUP_ANDX",
            0x74 => "SMB_COM_LOGOFF_ANDX",
            0x75 => "SMB_COM_TREE_CONNECT_ANDX",
            _ => return None,
        })
    }
}

/// Flags ([MS-CIFS] 2.2.3.1).
pub mod flags {
    /// SMB_FLAGS_CASE_INSENSITIVE.
    pub const CASE_INSENSITIVE: u8 = 0x08;
    /// SMB_FLAGS_CANONICALIZED_PATHS.
    pub const CANONICALIZED_PATHS: u8 = 0x10;
    /// SMB_FLAGS_REPLY: set on every server response.
    pub const REPLY: u8 = 0x80;
}

/// Flags2 ([MS-CIFS] 2.2.3.1, [MS-SMB] 2.2.3.1).
pub mod flags2 {
    /// SMB_FLAGS2_LONG_NAMES.
    pub const LONG_NAMES: u16 = 0x0001;
    /// SMB_FLAGS2_EAS.
    pub const EAS: u16 = 0x0002;
    /// SMB_FLAGS2_SMB_SECURITY_SIGNATURE.
    pub const SECURITY_SIGNATURE: u16 = 0x0004;
    /// SMB_FLAGS2_IS_LONG_NAME.
    pub const IS_LONG_NAME: u16 = 0x0040;
    /// SMB_FLAGS2_EXTENDED_SECURITY ([MS-SMB]).
    pub const EXTENDED_SECURITY: u16 = 0x0800;
    /// SMB_FLAGS2_DFS.
    pub const DFS: u16 = 0x1000;
    /// SMB_FLAGS2_PAGING_IO.
    pub const PAGING_IO: u16 = 0x2000;
    /// SMB_FLAGS2_NT_STATUS: the status field is an NT status, not class/code.
    pub const NT_STATUS: u16 = 0x4000;
    /// SMB_FLAGS2_UNICODE: strings are UTF-16LE.
    pub const UNICODE: u16 = 0x8000;
}

/// Longest string (in characters) kept from a server's NativeOS / NativeLanMan / PrimaryDomain /
/// Service fields; longer ones are cut. Real values are under 64 characters.
/// Bounds the SMB_STRING fields of [MS-CIFS] 2.2.4.53.2 and 2.2.4.55.2.
pub const MAX_SMB_STRING_CHARS: usize = 256;

/// Flags of every smb1scan request ([MS-CIFS] 2.2.3.1): canonicalized paths, case-insensitive
/// (0x18, what Windows, nmap and Metasploit send).
pub const CLIENT_FLAGS: u8 = flags::CANONICALIZED_PATHS | flags::CASE_INSENSITIVE;

/// Flags2 of the NEGOTIATE, the non-extended SESSION_SETUP and TREE_CONNECT ([MS-CIFS] 2.2.3.1):
/// UNICODE | NT_STATUS | LONG_NAMES (0xC001), and *no* extended security, so servers answer the
/// NEGOTIATE with the classic body that names their domain and server.
pub const CLIENT_FLAGS2: u16 = flags2::UNICODE | flags2::NT_STATUS | flags2::LONG_NAMES;

/// Flags2 of the extended-security SESSION_SETUP ([MS-SMB] 2.2.3.1): [`CLIENT_FLAGS2`] plus
/// EXTENDED_SECURITY (0xC801).
pub const CLIENT_FLAGS2_EXTENDED: u16 = CLIENT_FLAGS2 | flags2::EXTENDED_SECURITY;

/// The identifiers a request carries ([MS-CIFS] 2.2.3.1): tree, process, user (session) and
/// multiplex ids. The caller keeps them across a connection's steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Smb1Ids {
    /// TID.
    pub tid: u16,
    /// PIDLow (PIDHigh is always 0 in smb1scan's requests).
    pub pid: u16,
    /// UID.
    pub uid: u16,
    /// MID.
    pub mid: u16,
}

/// A parsed SMB1 header ([MS-CIFS] 2.2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb1Header {
    /// Command code.
    pub command: Smb1Command,
    /// Raw 32-bit status field, as on the wire (little-endian).
    pub status_raw: u32,
    /// Flags.
    pub flags: u8,
    /// Flags2.
    pub flags2: u16,
    /// High 16 bits of the PID.
    pub pid_high: u16,
    /// SecuritySignature (8 bytes). DoublePulsar hides its key and architecture here.
    pub security_signature: [u8; 8],
    /// Tree identifier.
    pub tid: u16,
    /// Low 16 bits of the PID.
    pub pid_low: u16,
    /// User (session) identifier.
    pub uid: u16,
    /// Multiplex identifier.
    pub mid: u16,
}

impl Smb1Header {
    /// A request header with the given command and ids; status zero, no signature.
    pub fn request(command: Smb1Command, flags: u8, flags2: u16) -> Self {
        Smb1Header {
            command,
            status_raw: 0,
            flags,
            flags2,
            pid_high: 0,
            security_signature: [0; 8],
            tid: 0,
            pid_low: 0,
            uid: 0,
            mid: 0,
        }
    }

    /// A request header carrying `ids`.
    pub fn with_ids(command: Smb1Command, flags: u8, flags2: u16, ids: Smb1Ids) -> Self {
        Smb1Header {
            tid: ids.tid,
            pid_low: ids.pid,
            uid: ids.uid,
            mid: ids.mid,
            ..Smb1Header::request(command, flags, flags2)
        }
    }

    /// The status, interpreted per Flags2: NT status when `SMB_FLAGS2_NT_STATUS` is set, otherwise
    /// a DOS error (class = byte 0, code = bytes 2-3).
    pub fn status(&self) -> SmbError {
        if self.flags2 & flags2::NT_STATUS != 0 {
            SmbError::Nt(NtStatus(self.status_raw))
        } else {
            let b = self.status_raw.to_le_bytes();
            SmbError::Dos(DosError {
                class: b[0],
                code: u16::from_le_bytes([b[2], b[3]]),
            })
        }
    }

    /// True when the server set SMB_FLAGS_REPLY.
    pub fn is_reply(&self) -> bool {
        self.flags & flags::REPLY != 0
    }

    /// True when strings in this message are UTF-16LE.
    pub fn is_unicode(&self) -> bool {
        self.flags2 & flags2::UNICODE != 0
    }

    /// Serialises the 32-byte header into `b`.
    pub fn write(&self, b: &mut BytesMut) {
        b.put_slice(&SMB1_MAGIC);
        b.put_u8(self.command.0);
        b.put_u32_le(self.status_raw);
        b.put_u8(self.flags);
        b.put_u16_le(self.flags2);
        b.put_u16_le(self.pid_high);
        b.put_slice(&self.security_signature);
        b.put_u16_le(0); // Reserved
        b.put_u16_le(self.tid);
        b.put_u16_le(self.pid_low);
        b.put_u16_le(self.uid);
        b.put_u16_le(self.mid);
    }
}

/// Parses the fixed SMB1 header at the start of `i` (the NBSS payload). Returns the header and the
/// rest of the message (starting at WordCount).
/// Spec: [MS-CIFS] 2.2.3.1.
pub fn parse_smb1_header(i: &[u8]) -> Result<(Smb1Header, &[u8])> {
    if i.len() < SMB1_HEADER_LEN {
        return Err(ParseError::Truncated {
            what: "SMB1 header",
            need: SMB1_HEADER_LEN,
            have: i.len(),
        });
    }
    let (rest, (protocol, header)) = run("SMB1 header", i, header_fields)?;
    if protocol != SMB1_MAGIC {
        let [m0, m1, m2, m3] = protocol;
        return Err(ParseError::invalid(
            "SMB1 header",
            format!("magic {m0:02x}{m1:02x}{m2:02x}{m3:02x} is not ff534d42"),
        ));
    }
    Ok((header, rest))
}

/// The 32 header bytes in [MS-CIFS] 2.2.3.1 order: Protocol, then the header fields.
fn header_fields(i: &[u8]) -> IResult<&[u8], ([u8; 4], Smb1Header)> {
    let (i, protocol) = take(4usize).parse(i)?;
    let (i, command) = le_u8.parse(i)?;
    let (i, status_raw) = le_u32.parse(i)?;
    let (i, flags) = le_u8.parse(i)?;
    let (i, flags2) = le_u16.parse(i)?;
    let (i, pid_high) = le_u16.parse(i)?;
    let (i, security_features) = take(8usize).parse(i)?;
    let (i, _reserved) = le_u16.parse(i)?;
    let (i, tid) = le_u16.parse(i)?;
    let (i, pid_low) = le_u16.parse(i)?;
    let (i, uid) = le_u16.parse(i)?;
    let (i, mid) = le_u16.parse(i)?;
    let mut magic = [0u8; 4];
    magic.copy_from_slice(protocol);
    let mut security_signature = [0u8; 8];
    security_signature.copy_from_slice(security_features);
    Ok((
        i,
        (
            magic,
            Smb1Header {
                command: Smb1Command(command),
                status_raw,
                flags,
                flags2,
                pid_high,
                security_signature,
                tid,
                pid_low,
                uid,
                mid,
            },
        ),
    ))
}

/// The parameter and data blocks of an SMB1 message ([MS-CIFS] 2.2.3.2, 2.2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb1Body<'a> {
    /// WordCount.
    pub word_count: u8,
    /// The parameter words, 2 × WordCount bytes.
    pub words: &'a [u8],
    /// The data bytes, ByteCount long (clamped to what was received, see `byte_count`).
    pub bytes: &'a [u8],
    /// ByteCount as announced.
    pub byte_count: u16,
    /// Offset of `bytes` from the start of the SMB header (for offset fields and Unicode padding).
    pub bytes_offset: usize,
}

/// Splits the body that follows the header (the `rest` from [`parse_smb1_header`]). WordCount and
/// ByteCount are bounded by the input; a ByteCount larger than what arrived is an error. Some
/// servers answer errors with WordCount 0 and no ByteCount at all; that yields an empty body.
/// Spec: [MS-CIFS] 2.2.3.2, 2.2.3.3.
pub fn parse_smb1_body(rest: &[u8]) -> Result<Smb1Body<'_>> {
    let Some((&word_count, after_wc)) = rest.split_first() else {
        return Ok(Smb1Body {
            word_count: 0,
            words: &[],
            bytes: &[],
            byte_count: 0,
            bytes_offset: SMB1_HEADER_LEN,
        });
    };
    let wlen = usize::from(word_count) * 2;
    let words = after_wc.get(..wlen).ok_or(ParseError::Truncated {
        what: "SMB1 parameter words",
        need: wlen,
        have: after_wc.len(),
    })?;
    let after_words = after_wc.get(wlen..).unwrap_or_default();
    let bytes_offset = SMB1_HEADER_LEN + 1 + wlen + 2;
    let (byte_count, data) = match after_words {
        [] | [_] => (0, &[][..]),
        [lo, hi, data @ ..] => (u16::from_le_bytes([*lo, *hi]), data),
    };
    let bytes = data
        .get(..usize::from(byte_count))
        .ok_or(ParseError::Truncated {
            what: "SMB1 data bytes",
            need: usize::from(byte_count),
            have: data.len(),
        })?;
    Ok(Smb1Body {
        word_count,
        words,
        bytes,
        byte_count,
        bytes_offset,
    })
}

/// Appends WordCount, the words, ByteCount and the bytes to `b` ([MS-CIFS] 2.2.3.2-2.2.3.3).
pub fn write_smb1_body(b: &mut BytesMut, words: &[u8], bytes: &[u8]) {
    b.put_u8((words.len() / 2) as u8);
    b.put_slice(words);
    b.put_u16_le(bytes.len() as u16);
    b.put_slice(bytes);
}

/// Offset from the header start of the data bytes that follow `words_len` bytes of parameter
/// words ([MS-CIFS] 2.2.3.2-2.2.3.3): header, WordCount, the words, ByteCount. Offset fields and
/// the Unicode alignment of strings count from the header start.
pub const fn smb1_bytes_offset(words_len: usize) -> usize {
    SMB1_HEADER_LEN + 1 + words_len + 2
}

/// Appends the AndX block that opens the parameter words of every AndX message ([MS-CIFS]
/// 2.2.3.4): AndXCommand `next`, AndXReserved 0, AndXOffset `offset` (0 in a request without a
/// follow-up command; servers put the response length there).
pub fn put_smb1_andx(words: &mut impl BufMut, next: Smb1Command, offset: u16) {
    words.put_u8(next.0);
    words.put_u8(0); // AndXReserved
    words.put_u16_le(offset);
}

/// The AndX block of a parsed AndX message ([MS-CIFS] 2.2.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb1AndX {
    /// AndXCommand: the next command in the chain, [`Smb1Command::NO_ANDX`] for none.
    pub command: Smb1Command,
    /// AndXOffset: offset of the next command's WordCount from the header start.
    pub offset: u16,
}

/// Parses the AndX block at the start of an AndX message's words ([MS-CIFS] 2.2.3.4).
pub fn parse_smb1_andx(i: &[u8]) -> IResult<&[u8], Smb1AndX> {
    let (i, command) = le_u8.parse(i)?;
    let (i, _andx_reserved) = le_u8.parse(i)?;
    let (i, offset) = le_u16.parse(i)?;
    Ok((
        i,
        Smb1AndX {
            command: Smb1Command(command),
            offset,
        },
    ))
}

/// Appends an SMB_STRING ([MS-CIFS] 2.2.1.1) NUL-terminated: UTF-16LE preceded by a pad byte when
/// it would start at an odd offset from the header start (`bytes_offset` is the offset of `out`'s
/// first byte, see [`smb1_bytes_offset`]), or OEM with non-ASCII characters as `?`.
pub fn put_smb1_string(out: &mut Vec<u8>, bytes_offset: usize, s: &str, unicode: bool) {
    if unicode {
        if (bytes_offset + out.len()) % 2 == 1 {
            out.push(0);
        }
        out.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
        out.extend_from_slice(&[0, 0]);
    } else {
        out.extend(s.bytes().map(|b| if b.is_ascii() { b } else { b'?' }));
        out.push(0);
    }
}

/// Reads one SMB string from `bytes` at `pos` (relative to `bytes`), whose first byte sits at
/// `bytes_offset` from the SMB header start. Unicode strings skip the alignment pad byte. Returns
/// `None` when nothing is left (a missing trailing string), else the string (cut to
/// [`MAX_SMB_STRING_CHARS`]) and the position after its terminator.
pub(crate) fn read_smb1_string(
    bytes: &[u8],
    bytes_offset: usize,
    pos: usize,
    unicode: bool,
) -> Option<(String, usize)> {
    let mut pos = pos;
    // The pad byte should be zero, but Windows Server 2016 sends a stray non-zero one, while
    // impacket omits it. Only a string that plainly starts at the pad position (a non-zero low
    // byte and a zero high byte: ASCII in UTF-16LE) is taken to have no pad.
    if unicode && (bytes_offset + pos) % 2 == 1 {
        let no_pad = matches!(
            (bytes.get(pos), bytes.get(pos + 1)),
            (Some(&lo), Some(&0)) if lo != 0
        );
        if !no_pad {
            pos += 1;
        }
    }
    let rest = bytes.get(pos..).filter(|r| !r.is_empty())?;
    let (s, after) = if unicode {
        take_utf16z(rest)
    } else {
        take_oemz(rest)
    };
    let consumed = rest.len() - after.len();
    Some((
        s.chars().take(MAX_SMB_STRING_CHARS).collect(),
        pos + consumed,
    ))
}

/// Builds a complete SMB1 message ([MS-CIFS] 2.2.3): `header`, then WordCount, `words`,
/// ByteCount and `bytes`. Every SMB1 request builder of this crate ends here.
pub fn build_smb1_message(header: &Smb1Header, words: &[u8], bytes: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(smb1_bytes_offset(words.len()) + bytes.len());
    header.write(&mut b);
    write_smb1_body(&mut b, words, bytes);
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip() {
        let mut h = Smb1Header::request(Smb1Command::NEGOTIATE, 0x18, 0xC801);
        h.mid = 65;
        h.uid = 0x0800;
        h.security_signature = [0x3a, 0x10, 0xe0, 0x36, 1, 0, 0, 0];
        let mut b = BytesMut::new();
        h.write(&mut b);
        write_smb1_body(&mut b, &[1, 0], b"xy");
        let (p, rest) = parse_smb1_header(&b).expect("parse");
        assert_eq!(p, h);
        let body = parse_smb1_body(rest).expect("body");
        assert_eq!(body.word_count, 1);
        assert_eq!(body.bytes, b"xy");
        assert_eq!(body.bytes_offset, 32 + 1 + 2 + 2);
    }

    #[test]
    fn dos_and_nt_status() {
        // Real XP SP3: ERRSRV/ERRinvtid with Flags2 0x2801 (no NT_STATUS bit), status bytes 02 00 05 00.
        let mut h = Smb1Header::request(Smb1Command::TRANSACTION, 0x98, 0x2801);
        h.status_raw = u32::from_le_bytes([0x02, 0x00, 0x05, 0x00]);
        assert_eq!(h.status(), SmbError::Dos(DosError { class: 2, code: 5 }));
        h.flags2 |= flags2::NT_STATUS;
        h.status_raw = 0xC000_0205;
        assert_eq!(h.status(), SmbError::Nt(NtStatus::INSUFF_SERVER_RESOURCES));
    }

    #[test]
    fn hostile_bodies() {
        assert!(parse_smb1_header(&[0xFE, b'S', b'M', b'B']).is_err());
        assert!(parse_smb1_body(&[]).is_ok());
        assert!(parse_smb1_body(&[255]).is_err());
        assert!(parse_smb1_body(&[0, 0xFF, 0xFF, 1]).is_err());
        assert_eq!(parse_smb1_body(&[0]).map(|b| b.byte_count).ok(), Some(0));
    }
    #[test]
    fn unicode_pad_byte_zero_stray_or_omitted() {
        // Bytes at an odd offset from the header (37): a Unicode string needs one pad byte.
        let s = |b: &[u8]| read_smb1_string(b, 37, 0, true).map(|(s, _)| s);
        // The spec's zero pad.
        assert_eq!(s(b"\0W\0i\0\0\0").as_deref(), Some("Wi"));
        // Windows Server 2016 Standard 14393 (win2016-standard-14393 capture): a stray 0x34 pad.
        assert_eq!(s(b"4W\0i\0\0\0").as_deref(), Some("Wi"));
        // impacket: no pad at all, the string starts at the odd offset.
        assert_eq!(s(b"W\0i\0\0\0").as_deref(), Some("Wi"));
    }
}
