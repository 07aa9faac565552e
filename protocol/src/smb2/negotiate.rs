//! SMB2 NEGOTIATE ([MS-SMB2] 2.2.3 request, 2.2.4 response) with the SMB 3.1.1 negotiate contexts
//! ([MS-SMB2] 2.2.3.1), and the SMB2 ERROR response ([MS-SMB2] 2.2.2) a server sends when it
//! shares no dialect with the client.
//!
//! A server answers with the highest dialect both sides know, so to list every dialect a host
//! supports the caller offers each one alone, on its own connection.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use nom::bytes::complete::take;
use nom::number::complete::{le_u16, le_u32, le_u64, le_u8};
use nom::{IResult, Parser};

use crate::error::{ParseError, Result};
use crate::message::{filetime_to_unix, guid_to_string, Signing};
use crate::smb2::header::{parse_smb2_header, Smb2Command, Smb2Header, SMB2_HEADER_LEN};
use crate::status::NtStatus;
use crate::util::{run, slice_at};

/// An SMB2/3 dialect revision ([MS-SMB2] 2.2.3 "Dialects", 2.2.4 "DialectRevision"). A newtype:
/// unknown revisions are kept and shown in hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Smb2Dialect(pub u16);

impl Smb2Dialect {
    /// SMB 2.0.2.
    pub const SMB2_0_2: Smb2Dialect = Smb2Dialect(0x0202);
    /// SMB 2.1.
    pub const SMB2_1: Smb2Dialect = Smb2Dialect(0x0210);
    /// SMB 3.0.
    pub const SMB3_0: Smb2Dialect = Smb2Dialect(0x0300);
    /// SMB 3.0.2.
    pub const SMB3_0_2: Smb2Dialect = Smb2Dialect(0x0302);
    /// SMB 3.1.1.
    pub const SMB3_1_1: Smb2Dialect = Smb2Dialect(0x0311);
    /// "SMB 2.???": the answer to an SMB1 multi-protocol NEGOTIATE offering "SMB 2.???", telling
    /// the client to send an SMB2 NEGOTIATE next ([MS-SMB2] 3.3.5.3.1).
    pub const WILDCARD: Smb2Dialect = Smb2Dialect(0x02FF);

    /// The usual name: `2.0.2`, `2.1`, `3.0`, `3.0.2`, `3.1.1`, `2.???`; `unknown` for anything
    /// else (use `Display` to see the hex value).
    pub fn name(self) -> &'static str {
        match self.0 {
            0x0202 => "2.0.2",
            0x0210 => "2.1",
            0x0300 => "3.0",
            0x0302 => "3.0.2",
            0x0311 => "3.1.1",
            0x02FF => "2.???",
            _ => "unknown",
        }
    }

    /// True for the five real dialects (not the wildcard, not unknown values).
    pub fn is_known(self) -> bool {
        ALL_DIALECTS.contains(&self)
    }
}

impl fmt::Display for Smb2Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_known() || *self == Smb2Dialect::WILDCARD {
            f.write_str(self.name())
        } else {
            write!(f, "0x{:04x}", self.0)
        }
    }
}

/// Every dialect smb1scan knows, ascending.
/// Spec: [MS-SMB2] 2.2.3 (Dialects).
pub const ALL_DIALECTS: [Smb2Dialect; 5] = [
    Smb2Dialect::SMB2_0_2,
    Smb2Dialect::SMB2_1,
    Smb2Dialect::SMB3_0,
    Smb2Dialect::SMB3_0_2,
    Smb2Dialect::SMB3_1_1,
];

/// SecurityMode bits ([MS-SMB2] 2.2.3, 2.2.4).
pub mod security_mode {
    /// SMB2_NEGOTIATE_SIGNING_ENABLED.
    pub const SIGNING_ENABLED: u16 = 0x0001;
    /// SMB2_NEGOTIATE_SIGNING_REQUIRED.
    pub const SIGNING_REQUIRED: u16 = 0x0002;
}

/// Global capabilities ([MS-SMB2] 2.2.4 "Capabilities").
pub mod capabilities {
    /// SMB2_GLOBAL_CAP_DFS.
    pub const DFS: u32 = 0x0000_0001;
    /// SMB2_GLOBAL_CAP_LEASING.
    pub const LEASING: u32 = 0x0000_0002;
    /// SMB2_GLOBAL_CAP_LARGE_MTU.
    pub const LARGE_MTU: u32 = 0x0000_0004;
    /// SMB2_GLOBAL_CAP_MULTI_CHANNEL.
    pub const MULTI_CHANNEL: u32 = 0x0000_0008;
    /// SMB2_GLOBAL_CAP_PERSISTENT_HANDLES.
    pub const PERSISTENT_HANDLES: u32 = 0x0000_0010;
    /// SMB2_GLOBAL_CAP_DIRECTORY_LEASING.
    pub const DIRECTORY_LEASING: u32 = 0x0000_0020;
    /// SMB2_GLOBAL_CAP_ENCRYPTION.
    pub const ENCRYPTION: u32 = 0x0000_0040;
    /// SMB2_GLOBAL_CAP_NOTIFICATIONS.
    pub const NOTIFICATIONS: u32 = 0x0000_0080;
}

/// Negotiate context type ([MS-SMB2] 2.2.3.1 "ContextType"). Unknown types are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Smb2NegotiateContextType(pub u16);

impl Smb2NegotiateContextType {
    /// SMB2_PREAUTH_INTEGRITY_CAPABILITIES.
    pub const PREAUTH_INTEGRITY_CAPABILITIES: Smb2NegotiateContextType =
        Smb2NegotiateContextType(0x0001);
    /// SMB2_ENCRYPTION_CAPABILITIES.
    pub const ENCRYPTION_CAPABILITIES: Smb2NegotiateContextType = Smb2NegotiateContextType(0x0002);
    /// SMB2_COMPRESSION_CAPABILITIES.
    pub const COMPRESSION_CAPABILITIES: Smb2NegotiateContextType = Smb2NegotiateContextType(0x0003);
    /// SMB2_NETNAME_NEGOTIATE_CONTEXT_ID.
    pub const NETNAME_NEGOTIATE_CONTEXT_ID: Smb2NegotiateContextType =
        Smb2NegotiateContextType(0x0005);
    /// SMB2_TRANSPORT_CAPABILITIES.
    pub const TRANSPORT_CAPABILITIES: Smb2NegotiateContextType = Smb2NegotiateContextType(0x0006);
    /// SMB2_RDMA_TRANSFORM_CAPABILITIES.
    pub const RDMA_TRANSFORM_CAPABILITIES: Smb2NegotiateContextType =
        Smb2NegotiateContextType(0x0007);
    /// SMB2_SIGNING_CAPABILITIES.
    pub const SIGNING_CAPABILITIES: Smb2NegotiateContextType = Smb2NegotiateContextType(0x0008);

    /// Readable name for known types.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0001 => "SMB2_PREAUTH_INTEGRITY_CAPABILITIES",
            0x0002 => "SMB2_ENCRYPTION_CAPABILITIES",
            0x0003 => "SMB2_COMPRESSION_CAPABILITIES",
            0x0005 => "SMB2_NETNAME_NEGOTIATE_CONTEXT_ID",
            0x0006 => "SMB2_TRANSPORT_CAPABILITIES",
            0x0007 => "SMB2_RDMA_TRANSFORM_CAPABILITIES",
            0x0008 => "SMB2_SIGNING_CAPABILITIES",
            _ => return None,
        })
    }
}

/// Preauth integrity hash id SHA-512 ([MS-SMB2] 2.2.3.1.1).
pub const HASH_SHA512: u16 = 0x0001;
/// Cipher id AES-128-CCM ([MS-SMB2] 2.2.3.1.2).
pub const CIPHER_AES128_CCM: u16 = 0x0001;
/// Cipher id AES-128-GCM ([MS-SMB2] 2.2.3.1.2).
pub const CIPHER_AES128_GCM: u16 = 0x0002;
/// Cipher id AES-256-CCM ([MS-SMB2] 2.2.3.1.2).
pub const CIPHER_AES256_CCM: u16 = 0x0003;
/// Cipher id AES-256-GCM ([MS-SMB2] 2.2.3.1.2).
pub const CIPHER_AES256_GCM: u16 = 0x0004;

/// StructureSize of the NEGOTIATE request.
const REQUEST_STRUCTURE_SIZE: u16 = 36;
/// StructureSize of the NEGOTIATE response (64 fixed bytes + 1 for the variable buffer).
const RESPONSE_STRUCTURE_SIZE: u16 = 65;
/// Fixed part of the NEGOTIATE response body.
const RESPONSE_FIXED_LEN: usize = 64;
/// StructureSize of the ERROR response ([MS-SMB2] 2.2.2).
const ERROR_STRUCTURE_SIZE: u16 = 9;
/// Most negotiate contexts accepted in one response. Windows and Samba send 2-5; the bound keeps
/// a hostile count from costing more than a few iterations.
/// Bounds NegotiateContextCount ([MS-SMB2] 2.2.4).
pub const MAX_NEGOTIATE_CONTEXTS: usize = 32;
/// Salt length smb1scan sends in its preauth integrity context.
/// Spec: [MS-SMB2] 2.2.3.1.1 (SaltLength).
pub const PREAUTH_SALT_LEN: usize = 32;

/// Builds an SMB2 NEGOTIATE request ([MS-SMB2] 2.2.3) offering `dialects` in order, with
/// SecurityMode = signing enabled and no capabilities. When 3.1.1 is among them it carries, at
/// 8-byte aligned offsets ([MS-SMB2] 2.2.3.1), a PREAUTH_INTEGRITY_CAPABILITIES context (SHA-512
/// with `salt`) and an ENCRYPTION_CAPABILITIES context (AES-128-GCM, AES-128-CCM); otherwise the
/// ClientStartTime field is zero. Returns the bare SMB2 message (frame it with
/// [`crate::nbss::build_nbss_session_message`]).
pub fn build_smb2_negotiate_request(
    dialects: &[Smb2Dialect],
    message_id: u64,
    client_guid: [u8; 16],
    salt: [u8; PREAUTH_SALT_LEN],
) -> Bytes {
    let with_contexts = dialects.contains(&Smb2Dialect::SMB3_1_1);
    let mut b = BytesMut::new();
    Smb2Header::request(Smb2Command::NEGOTIATE, message_id).write(&mut b);
    b.put_u16_le(REQUEST_STRUCTURE_SIZE);
    // The count is caller-controlled; u16 truncation only matters for >65535 dialects.
    b.put_u16_le(dialects.len() as u16);
    b.put_u16_le(security_mode::SIGNING_ENABLED);
    b.put_u16_le(0); // Reserved
    b.put_u32_le(0); // Capabilities
    b.put_slice(&client_guid);
    if with_contexts {
        // The contexts follow the dialect array, 8-byte aligned from the header start.
        let dialects_end =
            SMB2_HEADER_LEN + usize::from(REQUEST_STRUCTURE_SIZE) + 2 * dialects.len();
        let ctx_offset = dialects_end.next_multiple_of(8);
        b.put_u32_le(ctx_offset as u32); // NegotiateContextOffset
        b.put_u16_le(2); // NegotiateContextCount
        b.put_u16_le(0); // Reserved2
    } else {
        b.put_u64_le(0); // ClientStartTime
    }
    for d in dialects {
        b.put_u16_le(d.0);
    }
    if with_contexts {
        pad_to_8(&mut b);
        // SMB2_PREAUTH_INTEGRITY_CAPABILITIES: HashAlgorithmCount, SaltLength, HashAlgorithms, Salt.
        let mut preauth = BytesMut::new();
        preauth.put_u16_le(1);
        preauth.put_u16_le(PREAUTH_SALT_LEN as u16);
        preauth.put_u16_le(HASH_SHA512);
        preauth.put_slice(&salt);
        put_context(
            &mut b,
            Smb2NegotiateContextType::PREAUTH_INTEGRITY_CAPABILITIES,
            &preauth,
        );
        pad_to_8(&mut b);
        // SMB2_ENCRYPTION_CAPABILITIES: CipherCount, Ciphers (preferred first).
        let mut enc = BytesMut::new();
        enc.put_u16_le(2);
        enc.put_u16_le(CIPHER_AES128_GCM);
        enc.put_u16_le(CIPHER_AES128_CCM);
        put_context(
            &mut b,
            Smb2NegotiateContextType::ENCRYPTION_CAPABILITIES,
            &enc,
        );
    }
    b.freeze()
}

fn pad_to_8(b: &mut BytesMut) {
    while b.len() % 8 != 0 {
        b.put_u8(0);
    }
}

fn put_context(b: &mut BytesMut, t: Smb2NegotiateContextType, data: &[u8]) {
    b.put_u16_le(t.0);
    b.put_u16_le(data.len() as u16);
    b.put_u32_le(0); // Reserved
    b.put_slice(data);
}

/// One negotiate context from a response ([MS-SMB2] 2.2.3.1): type and borrowed data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb2NegotiateContext<'a> {
    /// ContextType.
    pub context_type: Smb2NegotiateContextType,
    /// Data, DataLength bytes.
    pub data: &'a [u8],
}

impl Smb2NegotiateContext<'_> {
    /// The single cipher a server chose in an ENCRYPTION_CAPABILITIES context ([MS-SMB2]
    /// 3.3.5.4: the response carries CipherCount 1; cipher 0 means none in common).
    pub fn selected_cipher(&self) -> Option<u16> {
        if self.context_type != Smb2NegotiateContextType::ENCRYPTION_CAPABILITIES {
            return None;
        }
        // ENCRYPTION_CAPABILITIES ([MS-SMB2] 2.2.3.1.2): CipherCount, Ciphers.
        let (i, cipher_count) = le_u16::<_, nom::error::Error<&[u8]>>
            .parse(self.data)
            .ok()?;
        if cipher_count != 1 {
            return None;
        }
        let (_, cipher) = le_u16::<_, nom::error::Error<&[u8]>>.parse(i).ok()?;
        Some(cipher)
    }

    /// The first hash algorithm of a PREAUTH_INTEGRITY_CAPABILITIES context.
    pub fn preauth_hash(&self) -> Option<u16> {
        if self.context_type != Smb2NegotiateContextType::PREAUTH_INTEGRITY_CAPABILITIES {
            return None;
        }
        // PREAUTH_INTEGRITY_CAPABILITIES ([MS-SMB2] 2.2.3.1.1): HashAlgorithmCount, SaltLength,
        // HashAlgorithms, Salt.
        let (i, hash_algorithm_count) = le_u16::<_, nom::error::Error<&[u8]>>
            .parse(self.data)
            .ok()?;
        let (i, _salt_length) = le_u16::<_, nom::error::Error<&[u8]>>.parse(i).ok()?;
        if hash_algorithm_count < 1 {
            return None;
        }
        let (_, first) = le_u16::<_, nom::error::Error<&[u8]>>.parse(i).ok()?;
        Some(first)
    }
}

/// A parsed SMB2 NEGOTIATE response ([MS-SMB2] 2.2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smb2NegotiateResponse<'a> {
    /// SecurityMode (see [`security_mode`]).
    pub security_mode: u16,
    /// DialectRevision: the dialect chosen, or [`Smb2Dialect::WILDCARD`].
    pub dialect_revision: Smb2Dialect,
    /// NegotiateContextCount as received (meaningful for 3.1.1 only).
    pub negotiate_context_count: u16,
    /// ServerGuid, as on the wire.
    pub server_guid: [u8; 16],
    /// Capabilities (see [`capabilities`]).
    pub capabilities: u32,
    /// MaxTransactSize.
    pub max_transact_size: u32,
    /// MaxReadSize.
    pub max_read_size: u32,
    /// MaxWriteSize.
    pub max_write_size: u32,
    /// SystemTime, a FILETIME.
    pub system_time: u64,
    /// ServerStartTime, a FILETIME (0 from servers that do not say, e.g. Samba).
    pub server_start_time: u64,
    /// The security buffer (a SPNEGO NegTokenInit, possibly empty).
    pub security_buffer: &'a [u8],
    /// Negotiate contexts (3.1.1 only; empty otherwise).
    pub negotiate_contexts: Vec<Smb2NegotiateContext<'a>>,
}

impl Smb2NegotiateResponse<'_> {
    /// True when SMB2_NEGOTIATE_SIGNING_REQUIRED is set.
    pub fn signing_required(&self) -> bool {
        self.security_mode & security_mode::SIGNING_REQUIRED != 0
    }

    /// Signing state: required (0x02), enabled (0x01), else disabled.
    pub fn signing(&self) -> Signing {
        if self.signing_required() {
            Signing::Required
        } else if self.security_mode & security_mode::SIGNING_ENABLED != 0 {
            Signing::Enabled
        } else {
            Signing::Disabled
        }
    }

    /// SystemTime in Unix seconds.
    pub fn system_time_unix(&self) -> Option<i64> {
        filetime_to_unix(self.system_time)
    }

    /// ServerStartTime in Unix seconds; `None` when the server sent zero.
    pub fn server_start_time_unix(&self) -> Option<i64> {
        filetime_to_unix(self.server_start_time)
    }

    /// ServerGuid formatted `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    pub fn server_guid_string(&self) -> String {
        guid_to_string(&self.server_guid)
    }

    /// The first context of type `t`.
    pub fn context(&self, t: Smb2NegotiateContextType) -> Option<&Smb2NegotiateContext<'_>> {
        self.negotiate_contexts.iter().find(|c| c.context_type == t)
    }
}

/// The SMB2 ERROR response body ([MS-SMB2] 2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb2ErrorResponse<'a> {
    /// ErrorContextCount (3.1.1).
    pub error_context_count: u8,
    /// ByteCount as announced.
    pub byte_count: u32,
    /// ErrorData, clamped to what arrived.
    pub error_data: &'a [u8],
}

/// The fixed part of an ERROR response ([MS-SMB2] 2.2.2 table order).
fn error_response_fixed(i: &[u8]) -> IResult<&[u8], (u16, u8, u32)> {
    let (i, structure_size) = le_u16.parse(i)?;
    let (i, error_context_count) = le_u8.parse(i)?;
    let (i, _reserved) = le_u8.parse(i)?;
    let (i, byte_count) = le_u32.parse(i)?;
    Ok((i, (structure_size, error_context_count, byte_count)))
}

/// Parses an SMB2 ERROR body (the bytes after the header). StructureSize must be 9; ErrorData is
/// clamped to the bytes received (servers send one pad byte with ByteCount 0).
/// Spec: [MS-SMB2] 2.2.2.
pub fn parse_smb2_error_response(body: &[u8]) -> Result<Smb2ErrorResponse<'_>> {
    let (rest, (size, error_context_count, byte_count)) =
        run("SMB2 ERROR response", body, error_response_fixed)?;
    if size != ERROR_STRUCTURE_SIZE {
        return Err(ParseError::invalid(
            "SMB2 ERROR response",
            format!("StructureSize {size} is not 9"),
        ));
    }
    let n = usize::try_from(byte_count)
        .unwrap_or(usize::MAX)
        .min(rest.len());
    Ok(Smb2ErrorResponse {
        error_context_count,
        byte_count,
        error_data: rest.get(..n).unwrap_or_default(),
    })
}

/// What came back for an SMB2 NEGOTIATE: a negotiated dialect, or an error status.
/// Spec: [MS-SMB2] 2.2.4 (success), 2.2.2 (error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Smb2NegotiateOutcome<'a> {
    /// Status success and a NEGOTIATE response body.
    Negotiated(Smb2Header, Smb2NegotiateResponse<'a>),
    /// A failure status (e.g. STATUS_NOT_SUPPORTED: no common dialect) with the bytes after the
    /// header (normally an ERROR body, see [`parse_smb2_error_response`]).
    Failed(Smb2Header, &'a [u8]),
}

/// Parses the answer to an SMB2 NEGOTIATE, telling a refusal (non-success status) apart from a
/// negotiated dialect. Malformed bytes are still an `Err`.
/// Spec: [MS-SMB2] 2.2.4, 2.2.2.
pub fn parse_smb2_negotiate_outcome(i: &[u8]) -> Result<Smb2NegotiateOutcome<'_>> {
    let (h, rest) = parse_smb2_header(i)?;
    check_command(&h)?;
    if !h.status.is_success() {
        return Ok(Smb2NegotiateOutcome::Failed(h, rest));
    }
    let r = parse_body(i, rest)?;
    Ok(Smb2NegotiateOutcome::Negotiated(h, r))
}

/// Parses an SMB2 NEGOTIATE response (the NBSS payload, starting at `\xFESMB`).
///
/// A response whose status is not success (STATUS_NOT_SUPPORTED when no dialect is shared) is
/// returned as `ParseError::Invalid { what: "SMB2 NEGOTIATE status", .. }`; callers that need to
/// classify refusals should use [`parse_smb2_negotiate_outcome`], which returns the header.
/// Offsets and lengths (security buffer, contexts) are checked against the message before use.
/// Spec: [MS-SMB2] 2.2.4.
pub fn parse_smb2_negotiate_response(i: &[u8]) -> Result<(Smb2Header, Smb2NegotiateResponse<'_>)> {
    match parse_smb2_negotiate_outcome(i)? {
        Smb2NegotiateOutcome::Negotiated(h, r) => Ok((h, r)),
        Smb2NegotiateOutcome::Failed(h, _) => Err(ParseError::invalid(
            "SMB2 NEGOTIATE status",
            status_text(h.status),
        )),
    }
}

fn status_text(s: NtStatus) -> String {
    s.to_string()
}

fn check_command(h: &Smb2Header) -> Result<()> {
    if h.command != Smb2Command::NEGOTIATE {
        return Err(ParseError::invalid(
            "SMB2 NEGOTIATE response",
            format!("command 0x{:04X} is not NEGOTIATE (0)", h.command.0),
        ));
    }
    Ok(())
}

/// The fixed fields in [MS-SMB2] 2.2.4 order, up to and including NegotiateContextOffset.
struct Fixed<'a> {
    structure_size: u16,
    security_mode: u16,
    dialect_revision: u16,
    negotiate_context_count: u16,
    server_guid: &'a [u8],
    capabilities: u32,
    max_transact_size: u32,
    max_read_size: u32,
    max_write_size: u32,
    system_time: u64,
    server_start_time: u64,
    security_buffer_offset: u16,
    security_buffer_length: u16,
    negotiate_context_offset: u32,
}

fn fixed(i: &[u8]) -> IResult<&[u8], Fixed<'_>> {
    let (i, structure_size) = le_u16.parse(i)?;
    let (i, security_mode) = le_u16.parse(i)?;
    let (i, dialect_revision) = le_u16.parse(i)?;
    let (i, negotiate_context_count) = le_u16.parse(i)?;
    let (i, server_guid) = take(16usize).parse(i)?;
    let (i, capabilities) = le_u32.parse(i)?;
    let (i, max_transact_size) = le_u32.parse(i)?;
    let (i, max_read_size) = le_u32.parse(i)?;
    let (i, max_write_size) = le_u32.parse(i)?;
    let (i, system_time) = le_u64.parse(i)?;
    let (i, server_start_time) = le_u64.parse(i)?;
    let (i, security_buffer_offset) = le_u16.parse(i)?;
    let (i, security_buffer_length) = le_u16.parse(i)?;
    let (i, negotiate_context_offset) = le_u32.parse(i)?;
    Ok((
        i,
        Fixed {
            structure_size,
            security_mode,
            dialect_revision,
            negotiate_context_count,
            server_guid,
            capabilities,
            max_transact_size,
            max_read_size,
            max_write_size,
            system_time,
            server_start_time,
            security_buffer_offset,
            security_buffer_length,
            negotiate_context_offset,
        },
    ))
}

/// `msg` is the whole SMB2 message (offsets count from its start); `body` follows the header.
fn parse_body<'a>(msg: &'a [u8], body: &'a [u8]) -> Result<Smb2NegotiateResponse<'a>> {
    if body.len() < RESPONSE_FIXED_LEN {
        return Err(ParseError::Truncated {
            what: "SMB2 NEGOTIATE response",
            need: RESPONSE_FIXED_LEN,
            have: body.len(),
        });
    }
    let (_, f) = run("SMB2 NEGOTIATE response", body, fixed)?;
    if f.structure_size != RESPONSE_STRUCTURE_SIZE {
        return Err(ParseError::invalid(
            "SMB2 NEGOTIATE response",
            format!("StructureSize {} is not 65", f.structure_size),
        ));
    }
    let mut server_guid = [0u8; 16];
    server_guid.copy_from_slice(f.server_guid);
    let security_buffer = if f.security_buffer_length == 0 {
        &[][..]
    } else {
        let off = usize::from(f.security_buffer_offset);
        if off < SMB2_HEADER_LEN + RESPONSE_FIXED_LEN {
            return Err(ParseError::invalid(
                "SMB2 NEGOTIATE SecurityBufferOffset",
                format!("{off} points into the fixed part"),
            ));
        }
        slice_at(
            "SMB2 NEGOTIATE security buffer",
            msg,
            off,
            usize::from(f.security_buffer_length),
        )?
    };
    let dialect_revision = Smb2Dialect(f.dialect_revision);
    let negotiate_contexts = if dialect_revision == Smb2Dialect::SMB3_1_1 {
        parse_contexts(msg, f.negotiate_context_offset, f.negotiate_context_count)?
    } else {
        Vec::new()
    };
    Ok(Smb2NegotiateResponse {
        security_mode: f.security_mode,
        dialect_revision,
        negotiate_context_count: f.negotiate_context_count,
        server_guid,
        capabilities: f.capabilities,
        max_transact_size: f.max_transact_size,
        max_read_size: f.max_read_size,
        max_write_size: f.max_write_size,
        system_time: f.system_time,
        server_start_time: f.server_start_time,
        security_buffer,
        negotiate_contexts,
    })
}

/// Context header: ContextType, DataLength, Reserved ([MS-SMB2] 2.2.3.1).
const CONTEXT_HEADER_LEN: usize = 8;

/// The header of one negotiate context ([MS-SMB2] 2.2.3.1): ContextType, DataLength, Reserved.
fn context_header(i: &[u8]) -> IResult<&[u8], (u16, u16)> {
    let (i, context_type) = le_u16.parse(i)?;
    let (i, data_length) = le_u16.parse(i)?;
    let (i, _reserved) = le_u32.parse(i)?;
    Ok((i, (context_type, data_length)))
}

fn parse_contexts(msg: &[u8], offset: u32, count: u16) -> Result<Vec<Smb2NegotiateContext<'_>>> {
    let count = usize::from(count);
    if count > MAX_NEGOTIATE_CONTEXTS {
        return Err(ParseError::TooLarge {
            what: "SMB2 NegotiateContextCount",
            len: count,
            max: MAX_NEGOTIATE_CONTEXTS,
        });
    }
    let mut out = Vec::new();
    if count == 0 {
        return Ok(out);
    }
    let mut pos = usize::try_from(offset).unwrap_or(usize::MAX);
    if pos < SMB2_HEADER_LEN + RESPONSE_FIXED_LEN {
        return Err(ParseError::invalid(
            "SMB2 NegotiateContextOffset",
            format!("{pos} points into the fixed part"),
        ));
    }
    for n in 0..count {
        if n > 0 {
            // Each context after the first starts 8-byte aligned from the header start.
            pos = pos
                .checked_add(7)
                .map(|p| p & !7)
                .ok_or_else(|| ParseError::invalid("SMB2 negotiate context", "offset overflow"))?;
        }
        let hdr = slice_at("SMB2 negotiate context", msg, pos, CONTEXT_HEADER_LEN)?;
        let (_, (context_type, data_length)) = run("SMB2 negotiate context", hdr, context_header)?;
        let data = slice_at(
            "SMB2 negotiate context data",
            msg,
            pos + CONTEXT_HEADER_LEN,
            usize::from(data_length),
        )?;
        out.push(Smb2NegotiateContext {
            context_type: Smb2NegotiateContextType(context_type),
            data,
        });
        pos += CONTEXT_HEADER_LEN + usize::from(data_length);
    }
    Ok(out)
}
