//! SMB_COM_NEGOTIATE ([MS-CIFS] 2.2.4.52, [MS-SMB] 2.2.4.5): the request offering a list of SMB1
//! dialects, and every response form a server may send back.
//!
//! The response's layout depends on the dialect the server chose, signalled by WordCount:
//! 0 (error), 1 (core dialect, or DialectIndex 0xFFFF = none of ours), 13 (LAN Manager 1.0-2.1),
//! 17 (NT LM 0.12, with either the classic challenge body or the extended-security GUID + SPNEGO
//! body). See [`Smb1NegotiateResponse`].

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{le_i16, le_u16, le_u32, le_u64, le_u8};
use nom::{IResult, Parser};

use crate::error::{ParseError, Result};
use crate::message::{filetime_to_unix, guid_to_string, Signing};
use crate::smb1::header::{
    build_smb1_message, flags2, parse_smb1_body, parse_smb1_header, Smb1Command, Smb1Header,
    Smb1Ids, CLIENT_FLAGS, CLIENT_FLAGS2,
};
use crate::status::SmbError;
use crate::util::{run, take_oemz, take_utf16z};

/// The SMB1-only dialect list smb1scan offers ([MS-CIFS] 1.7 lists the dialect strings): the
/// classic six-dialect list many scanners send, oldest first, so LAN Manager-era hosts still
/// answer. No "SMB 2.xxx" string: offering one would let an SMB2 host answer in SMB2 and hide
/// whether SMB1 is enabled.
pub const SMB1_DIALECTS: &[&str] = &[
    "PC NETWORK PROGRAM 1.0",
    "LANMAN1.0",
    "Windows for Workgroups 3.1a",
    "LM1.2X002",
    "LANMAN2.1",
    "NT LM 0.12",
];

/// The dialect string of NT LAN Manager, the dialect every SMB1 server since NT 4 picks.
/// Spec: [MS-CIFS] 1.7, 2.2.4.52.1.
pub const NT_LM_0_12: &str = "NT LM 0.12";

/// DialectIndex meaning "none of the offered dialects" ([MS-CIFS] 2.2.4.52.2).
pub const DIALECT_INDEX_NONE: u16 = 0xFFFF;

/// Server Capabilities bits ([MS-CIFS] 2.2.4.52.2, [MS-SMB] 2.2.4.5.2).
pub mod capabilities {
    /// CAP_RAW_MODE.
    pub const RAW_MODE: u32 = 0x0000_0001;
    /// CAP_MPX_MODE.
    pub const MPX_MODE: u32 = 0x0000_0002;
    /// CAP_UNICODE.
    pub const UNICODE: u32 = 0x0000_0004;
    /// CAP_LARGE_FILES.
    pub const LARGE_FILES: u32 = 0x0000_0008;
    /// CAP_NT_SMBS.
    pub const NT_SMBS: u32 = 0x0000_0010;
    /// CAP_RPC_REMOTE_APIS.
    pub const RPC_REMOTE_APIS: u32 = 0x0000_0020;
    /// CAP_STATUS32: the server can return NT status codes.
    pub const STATUS32: u32 = 0x0000_0040;
    /// CAP_LEVEL_II_OPLOCKS.
    pub const LEVEL_II_OPLOCKS: u32 = 0x0000_0080;
    /// CAP_LOCK_AND_READ.
    pub const LOCK_AND_READ: u32 = 0x0000_0100;
    /// CAP_NT_FIND.
    pub const NT_FIND: u32 = 0x0000_0200;
    /// CAP_DFS.
    pub const DFS: u32 = 0x0000_1000;
    /// CAP_INFOLEVEL_PASSTHRU ([MS-SMB]).
    pub const INFOLEVEL_PASSTHRU: u32 = 0x0000_2000;
    /// CAP_LARGE_READX.
    pub const LARGE_READX: u32 = 0x0000_4000;
    /// CAP_LARGE_WRITEX.
    pub const LARGE_WRITEX: u32 = 0x0000_8000;
    /// CAP_LWIO ([MS-SMB]).
    pub const LWIO: u32 = 0x0001_0000;
    /// CAP_UNIX: Samba's UNIX extensions; a strong hint the server is Samba.
    pub const UNIX: u32 = 0x0080_0000;
    /// CAP_COMPRESSED_DATA ([MS-SMB]).
    pub const COMPRESSED_DATA: u32 = 0x0200_0000;
    /// CAP_DYNAMIC_REAUTH ([MS-SMB]).
    pub const DYNAMIC_REAUTH: u32 = 0x2000_0000;
    /// CAP_PERSISTENT_HANDLES ([MS-SMB]).
    pub const PERSISTENT_HANDLES: u32 = 0x4000_0000;
    /// CAP_EXTENDED_SECURITY: the server uses GUID + SPNEGO instead of a challenge.
    pub const EXTENDED_SECURITY: u32 = 0x8000_0000;
}

/// SecurityMode bits of the NT LM 0.12 response ([MS-CIFS] 2.2.4.52.2, [MS-SMB] 2.2.4.5.2).
pub mod security_mode {
    /// NEGOTIATE_USER_SECURITY: user-level (not share-level) access control.
    pub const USER_SECURITY: u8 = 0x01;
    /// NEGOTIATE_ENCRYPT_PASSWORDS: challenge/response authentication.
    pub const ENCRYPT_PASSWORDS: u8 = 0x02;
    /// NEGOTIATE_SECURITY_SIGNATURES_ENABLED.
    pub const SIGNATURES_ENABLED: u8 = 0x04;
    /// NEGOTIATE_SECURITY_SIGNATURES_REQUIRED.
    pub const SIGNATURES_REQUIRED: u8 = 0x08;
}

/// Longest challenge accepted in a classic NT LM 0.12 body. ChallengeLength is a u8, real servers
/// send 8; the bound only documents that nothing larger than the message is ever taken.
/// Spec: [MS-CIFS] 2.2.4.52.2 (ChallengeLength).
pub const MAX_CHALLENGE_LEN: usize = 255;

/// Builds an SMB_COM_NEGOTIATE request ([MS-CIFS] 2.2.4.52.1) offering `dialects` in order, with
/// [`CLIENT_FLAGS2`]. Returns the bare SMB message (frame it with
/// [`crate::nbss::build_nbss_session_message`]). A dialect string is written up to its first NUL.
pub fn build_smb1_negotiate_request(dialects: &[&str], ids: Smb1Ids) -> Bytes {
    build_smb1_negotiate_request_with_flags2(dialects, ids, CLIENT_FLAGS2)
}

/// As [`build_smb1_negotiate_request`], with the caller's Flags2 (e.g. adding
/// `flags2::EXTENDED_SECURITY` to get the GUID + SPNEGO response form).
/// Spec: [MS-CIFS] 2.2.4.52.1, [MS-SMB] 2.2.3.1 (SMB_FLAGS2_EXTENDED_SECURITY).
pub fn build_smb1_negotiate_request_with_flags2(
    dialects: &[&str],
    ids: Smb1Ids,
    flags2: u16,
) -> Bytes {
    let mut data = BytesMut::new();
    for d in dialects {
        data.put_u8(0x02); // BufferFormat: dialect string
        data.extend(d.bytes().take_while(|&c| c != 0));
        data.put_u8(0);
    }
    let header = Smb1Header::with_ids(Smb1Command::NEGOTIATE, CLIENT_FLAGS, flags2, ids);
    build_smb1_message(&header, &[], &data)
}

/// The dialect at `index` in the list the client offered, or `None` for [`DIALECT_INDEX_NONE`]
/// or an index outside the list (a server bug or a hostile answer).
/// Spec: [MS-CIFS] 2.2.4.52.2 (DialectIndex).
pub fn dialect_name<'d>(offered: &[&'d str], index: u16) -> Option<&'d str> {
    offered.get(usize::from(index)).copied()
}

/// Signing state from an NT LM 0.12 SecurityMode byte: 0x08 required, 0x04 enabled, else
/// disabled ([MS-SMB] 2.2.4.5.2). "Required" wins even if 0x04 is (wrongly) clear.
pub fn signing_from_security_mode(mode: u8) -> Signing {
    if mode & security_mode::SIGNATURES_REQUIRED != 0 {
        Signing::Required
    } else if mode & security_mode::SIGNATURES_ENABLED != 0 {
        Signing::Enabled
    } else {
        Signing::Disabled
    }
}

/// A parsed SMB_COM_NEGOTIATE response ([MS-CIFS] 2.2.4.52.2), one variant per wire form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Smb1NegotiateResponse<'a> {
    /// WordCount 0: the server refused the request; the header's status says why.
    Error {
        /// The header status (NT or DOS style, per Flags2).
        status: SmbError,
    },
    /// WordCount 1 with DialectIndex 0xFFFF: none of the offered dialects is acceptable (Samba
    /// with `server min protocol` above NT1 answers this way).
    NoDialect,
    /// WordCount 1 with a real index: the core protocol ("PC NETWORK PROGRAM 1.0").
    Core {
        /// Index into the offered list.
        dialect_index: u16,
    },
    /// WordCount 13: a LAN Manager 1.0-2.1 dialect.
    Lanman(Smb1LanmanNegotiate<'a>),
    /// WordCount 17: NT LM 0.12.
    NtLm(Smb1NtLmNegotiate<'a>),
    /// Any other WordCount >= 1. The first word is still the DialectIndex (all dialects agree on
    /// that, [MS-CIFS] 2.2.4.52.2); the rest is not interpreted.
    Other {
        /// WordCount as received.
        word_count: u8,
        /// The first parameter word.
        dialect_index: u16,
    },
}

impl Smb1NegotiateResponse<'_> {
    /// The chosen dialect's index in the offered list; `None` for an error or "no dialect".
    pub fn dialect_index(&self) -> Option<u16> {
        match self {
            Smb1NegotiateResponse::Error { .. } | Smb1NegotiateResponse::NoDialect => None,
            Smb1NegotiateResponse::Core { dialect_index }
            | Smb1NegotiateResponse::Other { dialect_index, .. } => Some(*dialect_index),
            Smb1NegotiateResponse::Lanman(l) => Some(l.dialect_index),
            Smb1NegotiateResponse::NtLm(n) => Some(n.dialect_index),
        }
    }

    /// The chosen dialect's name, looked up in `offered` (the list that was sent).
    pub fn dialect_name<'d>(&self, offered: &[&'d str]) -> Option<&'d str> {
        self.dialect_index().and_then(|i| dialect_name(offered, i))
    }

    /// True when the server picked an SMB1 dialect (any form but `Error` and `NoDialect`).
    pub fn dialect_selected(&self) -> bool {
        self.dialect_index().is_some()
    }

    /// Signing state. NT LM 0.12 from SecurityMode; older dialects predate signing (disabled);
    /// `None` when no dialect was chosen.
    pub fn signing(&self) -> Option<Signing> {
        match self {
            Smb1NegotiateResponse::NtLm(n) => Some(n.signing()),
            Smb1NegotiateResponse::Lanman(_)
            | Smb1NegotiateResponse::Core { .. }
            | Smb1NegotiateResponse::Other { .. } => Some(Signing::Disabled),
            Smb1NegotiateResponse::Error { .. } | Smb1NegotiateResponse::NoDialect => None,
        }
    }

    /// The NT LM 0.12 body, if that is the form received.
    pub fn nt_lm(&self) -> Option<&Smb1NtLmNegotiate<'_>> {
        match self {
            Smb1NegotiateResponse::NtLm(n) => Some(n),
            _ => None,
        }
    }
}

/// The NT LM 0.12 response, WordCount 17 ([MS-CIFS] 2.2.4.52.2, [MS-SMB] 2.2.4.5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smb1NtLmNegotiate<'a> {
    /// DialectIndex.
    pub dialect_index: u16,
    /// SecurityMode (see [`security_mode`]).
    pub security_mode: u8,
    /// MaxMpxCount.
    pub max_mpx_count: u16,
    /// MaxNumberVcs.
    pub max_number_vcs: u16,
    /// MaxBufferSize.
    pub max_buffer_size: u32,
    /// MaxRawSize.
    pub max_raw_size: u32,
    /// SessionKey.
    pub session_key: u32,
    /// Capabilities (see [`capabilities`]).
    pub capabilities: u32,
    /// SystemTime, a FILETIME (see [`Smb1NtLmNegotiate::system_time_unix`]).
    pub system_time: u64,
    /// ServerTimeZone: minutes to add to local time to get UTC (UTC+8 is -480).
    pub server_time_zone: i16,
    /// ChallengeLength as announced.
    pub challenge_length: u8,
    /// The variable part: classic challenge or extended security.
    pub security: Smb1NegotiateSecurity<'a>,
}

/// The data block of an NT LM 0.12 response.
/// Spec: [MS-CIFS] 2.2.4.52.2, [MS-SMB] 2.2.4.5.2.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Smb1NegotiateSecurity<'a> {
    /// Classic (non-extended) body ([MS-CIFS] 2.2.4.52.2): challenge, then the names.
    Challenge {
        /// The authentication challenge (8 bytes on every real server; may be empty).
        challenge: &'a [u8],
        /// DomainName, if present and non-empty.
        domain_name: Option<String>,
        /// ServerName, if present and non-empty (Samba and older servers omit it).
        server_name: Option<String>,
    },
    /// Extended-security body ([MS-SMB] 2.2.4.5.2.1): ServerGUID then a SPNEGO blob (may be
    /// empty: the client then uses raw NTLMSSP).
    Extended {
        /// ServerGUID, as on the wire.
        server_guid: [u8; 16],
        /// SecurityBlob (GSS-API/SPNEGO NegTokenInit).
        security_blob: &'a [u8],
    },
}

impl Smb1NtLmNegotiate<'_> {
    /// Signing state from SecurityMode.
    pub fn signing(&self) -> Signing {
        signing_from_security_mode(self.security_mode)
    }

    /// SystemTime in Unix seconds (UTC); `None` when the server sent zero.
    pub fn system_time_unix(&self) -> Option<i64> {
        filetime_to_unix(self.system_time)
    }

    /// True when the body is the extended-security form.
    pub fn is_extended_security(&self) -> bool {
        matches!(self.security, Smb1NegotiateSecurity::Extended { .. })
    }

    /// True when every bit of `cap` is in Capabilities.
    pub fn has_capability(&self, cap: u32) -> bool {
        self.capabilities & cap == cap
    }

    /// DomainName of a classic body.
    pub fn domain_name(&self) -> Option<&str> {
        match &self.security {
            Smb1NegotiateSecurity::Challenge { domain_name, .. } => domain_name.as_deref(),
            Smb1NegotiateSecurity::Extended { .. } => None,
        }
    }

    /// ServerName of a classic body.
    pub fn server_name(&self) -> Option<&str> {
        match &self.security {
            Smb1NegotiateSecurity::Challenge { server_name, .. } => server_name.as_deref(),
            Smb1NegotiateSecurity::Extended { .. } => None,
        }
    }

    /// ServerGUID of an extended body, formatted (`xxxxxxxx-xxxx-...`).
    pub fn server_guid(&self) -> Option<String> {
        match &self.security {
            Smb1NegotiateSecurity::Extended { server_guid, .. } => {
                Some(guid_to_string(server_guid))
            }
            Smb1NegotiateSecurity::Challenge { .. } => None,
        }
    }

    /// SecurityBlob of an extended body.
    pub fn security_blob(&self) -> Option<&[u8]> {
        match &self.security {
            Smb1NegotiateSecurity::Extended { security_blob, .. } => Some(security_blob),
            Smb1NegotiateSecurity::Challenge { .. } => None,
        }
    }
}

/// The LAN Manager 1.0-2.1 response, WordCount 13 ([MS-CIFS] 2.2.4.52.2; [SMB-LM21]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smb1LanmanNegotiate<'a> {
    /// DialectIndex.
    pub dialect_index: u16,
    /// SecurityMode (u16 here: bit 0 user-level, bit 1 encrypt passwords).
    pub security_mode: u16,
    /// MaxBufferSize.
    pub max_buffer_size: u16,
    /// MaxMpxCount.
    pub max_mpx_count: u16,
    /// MaxNumberVcs.
    pub max_number_vcs: u16,
    /// RawMode.
    pub raw_mode: u16,
    /// SessionKey.
    pub session_key: u32,
    /// ServerTime, SMB_TIME ([MS-CIFS] 2.2.1.4.2): hours<<11 | minutes<<5 | seconds/2.
    pub server_time: u16,
    /// ServerDate, SMB_DATE ([MS-CIFS] 2.2.1.4.1): (year-1980)<<9 | month<<5 | day.
    pub server_date: u16,
    /// ServerTimeZone: minutes to add to local time to get UTC.
    pub server_time_zone: i16,
    /// EncryptionKeyLength as announced.
    pub challenge_length: u16,
    /// EncryptionKey (the challenge).
    pub challenge: &'a [u8],
    /// PrimaryDomain (OEM string, LAN Manager 2.1), if present and non-empty.
    pub primary_domain: Option<String>,
}

impl Smb1LanmanNegotiate<'_> {
    /// Server local date and time converted to Unix seconds (UTC, using ServerTimeZone); `None`
    /// for an impossible date/time.
    pub fn server_time_unix(&self) -> Option<i64> {
        let d = self.server_date;
        let t = self.server_time;
        let year = 1980 + i64::from(d >> 9);
        let month = i64::from((d >> 5) & 0x0F);
        let day = i64::from(d & 0x1F);
        let hour = i64::from(t >> 11);
        let minute = i64::from((t >> 5) & 0x3F);
        let second = i64::from(t & 0x1F) * 2;
        if !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
        Some(local + i64::from(self.server_time_zone) * 60)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses a complete SMB_COM_NEGOTIATE response (the NBSS payload, starting at `\xFFSMB`).
///
/// Errors: not SMB1, not a NEGOTIATE, a body shorter than its WordCount/ByteCount claim, or an NT
/// LM body whose challenge runs past the data. A WordCount-0 answer is not an error here: it is
/// [`Smb1NegotiateResponse::Error`] carrying the header status, for the caller to classify.
/// Spec: [MS-CIFS] 2.2.4.52.2, [MS-SMB] 2.2.4.5.2.
pub fn parse_smb1_negotiate_response(i: &[u8]) -> Result<(Smb1Header, Smb1NegotiateResponse<'_>)> {
    let (h, rest) = parse_smb1_header(i)?;
    if h.command != Smb1Command::NEGOTIATE {
        return Err(ParseError::invalid(
            "SMB1 NEGOTIATE response",
            format!("command 0x{:02X} is not NEGOTIATE (0x72)", h.command.0),
        ));
    }
    let body = parse_smb1_body(rest)?;
    let resp = match body.word_count {
        0 => Smb1NegotiateResponse::Error { status: h.status() },
        1 => {
            let (_, idx) = run("SMB1 NEGOTIATE DialectIndex", body.words, le_u16)?;
            if idx == DIALECT_INDEX_NONE {
                Smb1NegotiateResponse::NoDialect
            } else {
                Smb1NegotiateResponse::Core { dialect_index: idx }
            }
        }
        13 => Smb1NegotiateResponse::Lanman(parse_lanman(body.words, body.bytes)?),
        17 => Smb1NegotiateResponse::NtLm(parse_nt_lm(&h, body.words, body.bytes)?),
        wc => {
            let (_, idx) = run("SMB1 NEGOTIATE DialectIndex", body.words, le_u16)?;
            Smb1NegotiateResponse::Other {
                word_count: wc,
                dialect_index: idx,
            }
        }
    };
    Ok((h, resp))
}

/// The 17 parameter words of NT LM 0.12 ([MS-CIFS] 2.2.4.52.2 table order).
struct NtLmWords {
    dialect_index: u16,
    security_mode: u8,
    max_mpx_count: u16,
    max_number_vcs: u16,
    max_buffer_size: u32,
    max_raw_size: u32,
    session_key: u32,
    capabilities: u32,
    system_time: u64,
    server_time_zone: i16,
    challenge_length: u8,
}

fn nt_lm_words(i: &[u8]) -> IResult<&[u8], NtLmWords> {
    let (i, dialect_index) = le_u16.parse(i)?;
    let (i, security_mode) = le_u8.parse(i)?;
    let (i, max_mpx_count) = le_u16.parse(i)?;
    let (i, max_number_vcs) = le_u16.parse(i)?;
    let (i, max_buffer_size) = le_u32.parse(i)?;
    let (i, max_raw_size) = le_u32.parse(i)?;
    let (i, session_key) = le_u32.parse(i)?;
    let (i, capabilities) = le_u32.parse(i)?;
    let (i, system_time) = le_u64.parse(i)?;
    let (i, server_time_zone) = le_i16.parse(i)?;
    let (i, challenge_length) = le_u8.parse(i)?;
    Ok((
        i,
        NtLmWords {
            dialect_index,
            security_mode,
            max_mpx_count,
            max_number_vcs,
            max_buffer_size,
            max_raw_size,
            session_key,
            capabilities,
            system_time,
            server_time_zone,
            challenge_length,
        },
    ))
}

/// Length of ServerGUID in the extended body.
const SERVER_GUID_LEN: usize = 16;

/// Decides which NT LM 0.12 body follows. The extended body has no challenge (ChallengeLength
/// MUST be 0, [MS-SMB] 2.2.4.5.2.1) and at least the 16-byte GUID. Flags2 is only a tie-breaker:
/// Windows 2000 has been seen sending the extended body with CAP_EXTENDED_SECURITY set but
/// SMB_FLAGS2_EXTENDED_SECURITY clear, so Capabilities and the lengths decide first.
fn is_extended_body(flags2_value: u16, w: &NtLmWords, bytes_len: usize) -> bool {
    if w.challenge_length != 0 || bytes_len < SERVER_GUID_LEN {
        return false;
    }
    w.capabilities & capabilities::EXTENDED_SECURITY != 0
        || flags2_value & flags2::EXTENDED_SECURITY != 0
}

fn parse_nt_lm<'a>(h: &Smb1Header, words: &[u8], bytes: &'a [u8]) -> Result<Smb1NtLmNegotiate<'a>> {
    let (_, w) = run("SMB1 NT LM 0.12 NEGOTIATE parameters", words, nt_lm_words)?;
    let security = if is_extended_body(h.flags2, &w, bytes.len()) {
        let (guid, blob) =
            bytes
                .split_at_checked(SERVER_GUID_LEN)
                .ok_or(ParseError::Truncated {
                    what: "SMB1 NEGOTIATE ServerGUID",
                    need: SERVER_GUID_LEN,
                    have: bytes.len(),
                })?;
        let mut server_guid = [0u8; SERVER_GUID_LEN];
        server_guid.copy_from_slice(guid);
        Smb1NegotiateSecurity::Extended {
            server_guid,
            security_blob: blob,
        }
    } else {
        let clen = usize::from(w.challenge_length).min(MAX_CHALLENGE_LEN);
        let (challenge, names) = bytes.split_at_checked(clen).ok_or(ParseError::Truncated {
            what: "SMB1 NEGOTIATE challenge",
            need: clen,
            have: bytes.len(),
        })?;
        let (domain_name, server_name) = parse_names(h.flags2, names);
        Smb1NegotiateSecurity::Challenge {
            challenge,
            domain_name,
            server_name,
        }
    };
    Ok(Smb1NtLmNegotiate {
        dialect_index: w.dialect_index,
        security_mode: w.security_mode,
        max_mpx_count: w.max_mpx_count,
        max_number_vcs: w.max_number_vcs,
        max_buffer_size: w.max_buffer_size,
        max_raw_size: w.max_raw_size,
        session_key: w.session_key,
        capabilities: w.capabilities,
        system_time: w.system_time,
        server_time_zone: w.server_time_zone,
        challenge_length: w.challenge_length,
        security,
    })
}

/// DomainName and ServerName of a classic body. They are not padded to an even offset (real
/// Windows and Samba put DomainName right after the 8-byte challenge, at an odd offset). Their
/// encoding should follow SMB_FLAGS2_UNICODE, but Samba sends UTF-16 even when that flag is clear
/// (seen from Samba 4.7.4 with Flags2 0x4003), so UTF-16 is also assumed when the text looks like
/// it: a non-zero byte followed by a zero byte.
fn parse_names(flags2_value: u16, names: &[u8]) -> (Option<String>, Option<String>) {
    let looks_utf16 = matches!(names, [a, 0, ..] if *a != 0);
    let unicode = flags2_value & flags2::UNICODE != 0 || looks_utf16;
    let take = |b| {
        if unicode {
            take_utf16z(b)
        } else {
            take_oemz(b)
        }
    };
    let (domain, rest) = take(names);
    let (server, _) = take(rest);
    (non_empty(domain), non_empty(server))
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// The 13 parameter words of the LAN Manager response ([MS-CIFS] 2.2.4.52.2 table order).
struct LanmanWords {
    dialect_index: u16,
    security_mode: u16,
    max_buffer_size: u16,
    max_mpx_count: u16,
    max_number_vcs: u16,
    raw_mode: u16,
    session_key: u32,
    server_time: u16,
    server_date: u16,
    server_time_zone: i16,
    challenge_length: u16,
}

fn lanman_words(i: &[u8]) -> IResult<&[u8], LanmanWords> {
    let (i, dialect_index) = le_u16.parse(i)?;
    let (i, security_mode) = le_u16.parse(i)?;
    let (i, max_buffer_size) = le_u16.parse(i)?;
    let (i, max_mpx_count) = le_u16.parse(i)?;
    let (i, max_number_vcs) = le_u16.parse(i)?;
    let (i, raw_mode) = le_u16.parse(i)?;
    let (i, session_key) = le_u32.parse(i)?;
    let (i, server_time) = le_u16.parse(i)?;
    let (i, server_date) = le_u16.parse(i)?;
    let (i, server_time_zone) = le_i16.parse(i)?;
    let (i, challenge_length) = le_u16.parse(i)?;
    let (i, _reserved) = le_u16.parse(i)?;
    Ok((
        i,
        LanmanWords {
            dialect_index,
            security_mode,
            max_buffer_size,
            max_mpx_count,
            max_number_vcs,
            raw_mode,
            session_key,
            server_time,
            server_date,
            server_time_zone,
            challenge_length,
        },
    ))
}

fn parse_lanman<'a>(words: &[u8], bytes: &'a [u8]) -> Result<Smb1LanmanNegotiate<'a>> {
    let (_, w) = run("SMB1 LANMAN NEGOTIATE parameters", words, lanman_words)?;
    let clen = usize::from(w.challenge_length);
    let (challenge, rest) = bytes.split_at_checked(clen).ok_or(ParseError::Truncated {
        what: "SMB1 LANMAN NEGOTIATE EncryptionKey",
        need: clen,
        have: bytes.len(),
    })?;
    let (domain, _) = take_oemz(rest);
    Ok(Smb1LanmanNegotiate {
        dialect_index: w.dialect_index,
        security_mode: w.security_mode,
        max_buffer_size: w.max_buffer_size,
        max_mpx_count: w.max_mpx_count,
        max_number_vcs: w.max_number_vcs,
        raw_mode: w.raw_mode,
        session_key: w.session_key,
        server_time: w.server_time,
        server_date: w.server_date,
        server_time_zone: w.server_time_zone,
        challenge_length: w.challenge_length,
        challenge,
        primary_domain: non_empty(domain),
    })
}
