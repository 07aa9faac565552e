//! SMB2 answers ([MS-SMB2]): NEGOTIATE (highest common dialect, 3.1.1 negotiate contexts, the
//! 0x02FF answer to a multi-protocol SMB1 negotiate) and SESSION_SETUP with NTLMSSP, per persona.

use bytes::BytesMut;
use smb1scan_protocol::message::filetime_now;
use smb1scan_protocol::smb2::header::{
    flags, parse_smb2_header, Smb2Command, Smb2Header, SMB2_HEADER_LEN,
};
use smb1scan_protocol::smb2::negotiate::{
    capabilities, Smb2Dialect, Smb2NegotiateContextType, CIPHER_AES128_CCM, CIPHER_AES128_GCM,
    CIPHER_AES256_CCM, CIPHER_AES256_GCM, HASH_SHA512,
};
use smb1scan_protocol::smb2::session_setup::session_flags;
use smb1scan_protocol::util::{u16_le_at, u32_le_at};
use smb1scan_protocol::NtStatus;

use super::ntlm::{self, NtlmMessage};
use super::personas::server_guid;
use super::personas::Smb2Persona;
use super::{checks, Action, Conn};

/// Ciphers Windows 10 / 2019 implement, in its order of preference ([MS-SMB2] 2.2.3.1.2).
const SERVER_CIPHERS: [u16; 4] = [
    CIPHER_AES128_GCM,
    CIPHER_AES128_CCM,
    CIPHER_AES256_GCM,
    CIPHER_AES256_CCM,
];
/// Bounds on what we read from a client.
const MAX_DIALECTS: usize = 64;
const MAX_CONTEXTS: usize = 32;
/// SessionId handed out (Windows' are opaque 64-bit values like this).
const SESSION_ID: u64 = 0x0000_4400_0000_0009;

/// A response header followed by `body` ([MS-SMB2] 2.2.1.2, sync form).
fn response(req: &Smb2Header, status: NtStatus, session_id: u64, body: &[u8]) -> Vec<u8> {
    let h = Smb2Header {
        credit_charge: req.credit_charge,
        status,
        command: req.command,
        credits: req.credits.clamp(1, 64), // CreditResponse
        flags: flags::SERVER_TO_REDIR,
        next_command: 0,
        message_id: req.message_id,
        // Reserved (the client's ProcessId) and TreeId, echoed as sent.
        async_id_or_tree: req.async_id_or_tree,
        session_id,
        signature: [0; 16],
    };
    let mut m = BytesMut::with_capacity(SMB2_HEADER_LEN + body.len());
    h.write(&mut m);
    m.extend_from_slice(body);
    m.to_vec()
}

/// SMB2 ERROR response ([MS-SMB2] 2.2.2): StructureSize 9, no error data (one zero byte).
fn error(req: &Smb2Header, status: NtStatus, session_id: u64) -> Action {
    let body = [9, 0, 0, 0, 0, 0, 0, 0, 0];
    Action::Reply(response(req, status, session_id, &body))
}

/// Handles one SMB2 message.
pub fn handle(conn: &mut Conn, msg: &[u8]) -> Action {
    let Some(s2) = conn.persona.smb2.as_ref() else {
        // No SMB2 (XP): srv.sys does not know the 0xFE protocol id and drops the connection
        // ([MS-CIFS] 3.3.5.2: a message that fails validation ends the connection).
        return Action::Close;
    };
    let Ok((req, body)) = parse_smb2_header(msg) else {
        // [MS-SMB2] 3.3.5.2.6: shorter than a header: disconnect without a response.
        return Action::Close;
    };
    if req.next_command != 0 {
        return compound(conn, msg);
    }
    match req.command {
        Smb2Command::NEGOTIATE => negotiate(conn, s2, &req, msg, body),
        Smb2Command::SESSION_SETUP => session_setup(conn, &req, msg, body),
        Smb2Command::LOGOFF | Smb2Command::ECHO => {
            if req.command == Smb2Command::LOGOFF {
                conn.session_id = 0;
            }
            Action::Reply(response(
                &req,
                NtStatus::SUCCESS,
                req.session_id,
                &[4, 0, 0, 0],
            ))
        }
        Smb2Command::TREE_CONNECT => tree_connect(conn, &req, msg, body),
        Smb2Command::CREATE => create_pipe(conn, &req, msg, body),
        Smb2Command::CLOSE => close(conn, &req, body),
        // [MS-SMB2] 3.3.5.2.6: an unknown command code: disconnect without a response.
        c if c.0 > Smb2Command::OPLOCK_BREAK.0 => Action::Close,
        _ => error(&req, NtStatus::ACCESS_DENIED, req.session_id),
    }
}

/// A compounded request ([MS-SMB2] 3.3.5.2.7), as Windows answers one: each message handled in
/// turn; a related one (SMB2_FLAGS_RELATED_OPERATIONS, 3.3.5.2.7.2) fails with the previous
/// one's status when that failed, and a related CLOSE of FileId all 0xFF closes what the previous
/// CREATE opened; the responses compounded the same way (each but the last padded to 8 bytes,
/// NextCommand its length, the related flag kept). A chain that does not split, or a message in
/// it the server would drop the connection for, drops the connection.
fn compound(conn: &mut Conn, msg: &[u8]) -> Action {
    use smb1scan_protocol::smb2::pipe::{split_smb2_compound, RELATED_FILE_ID};
    let Ok(parts) = split_smb2_compound(msg) else {
        return Action::Close;
    };
    let mut out = Vec::new();
    let mut prev = NtStatus::SUCCESS;
    let n = parts.len();
    for (i, part) in parts.into_iter().enumerate() {
        let Ok((req, body)) = parse_smb2_header(part) else {
            return Action::Close;
        };
        let related = req.flags & flags::RELATED_OPERATIONS != 0;
        let mut m = part.to_vec();
        // Handled alone: no NextCommand; a related CLOSE names the previous CREATE's FileId.
        if let Some(next) = m.get_mut(20..24) {
            next.fill(0);
        }
        let same = |at: usize, v: u64| body.get(at..at + 8) == Some(&v.to_le_bytes()[..]);
        if related
            && req.command == Smb2Command::CLOSE
            && same(8, RELATED_FILE_ID.0)
            && same(16, RELATED_FILE_ID.1)
        {
            let mut id = PIPE_FILE_ID.0.to_le_bytes().to_vec();
            id.extend_from_slice(&PIPE_FILE_ID.1.to_le_bytes());
            if let Some(slot) = m.get_mut(SMB2_HEADER_LEN + 8..SMB2_HEADER_LEN + 24) {
                slot.copy_from_slice(&id);
            }
        }
        let action = if related && !prev.is_success() {
            error(&req, prev, req.session_id)
        } else {
            handle(conn, &m)
        };
        let Action::Reply(mut reply) = action else {
            return action;
        };
        prev = parse_smb2_header(&reply).map_or(prev, |(h, _)| h.status);
        if related {
            let v = u32_le_at(&reply, 16).unwrap_or(0) | flags::RELATED_OPERATIONS;
            if let Some(f) = reply.get_mut(16..20) {
                f.copy_from_slice(&v.to_le_bytes());
            }
        }
        if i + 1 < n {
            reply.resize(reply.len().next_multiple_of(8), 0);
            let len = reply.len() as u32;
            if let Some(next) = reply.get_mut(20..24) {
                next.copy_from_slice(&len.to_le_bytes());
            }
        }
        out.extend_from_slice(&reply);
    }
    Action::Reply(out)
}

/// The NEGOTIATE response body ([MS-SMB2] 2.2.4), with `contexts` (already encoded) appended at
/// an 8-byte aligned offset.
fn negotiate_body(conn: &Conn, s2: &Smb2Persona, d: Smb2Dialect, contexts: &[Vec<u8>]) -> Vec<u8> {
    let blob = ntlm::spnego_init_hint();
    let caps = if d.0 >= Smb2Dialect::SMB3_0.0 && d != Smb2Dialect::WILDCARD {
        s2.capabilities_3x
    } else if d == Smb2Dialect::SMB2_0_2 {
        s2.capabilities & capabilities::DFS // only DFS exists in 2.0.2
    } else {
        s2.capabilities
    };
    let sec_off = SMB2_HEADER_LEN + 64; // header + fixed part
    let mut b = Vec::new();
    b.extend_from_slice(&65u16.to_le_bytes());
    b.extend_from_slice(&s2.security_mode.to_le_bytes());
    b.extend_from_slice(&d.0.to_le_bytes());
    b.extend_from_slice(&(contexts.len() as u16).to_le_bytes());
    b.extend_from_slice(&server_guid(conn.persona.name));
    b.extend_from_slice(&caps.to_le_bytes());
    b.extend_from_slice(&s2.max_size.to_le_bytes());
    b.extend_from_slice(&s2.max_size.to_le_bytes());
    b.extend_from_slice(&s2.max_size.to_le_bytes());
    b.extend_from_slice(&filetime_now().to_le_bytes());
    // ServerStartTime: 0 on Windows 10+, unless a check persona discloses one.
    b.extend_from_slice(&checks::boot_filetime(conn.persona.name).to_le_bytes());
    b.extend_from_slice(&(sec_off as u16).to_le_bytes());
    b.extend_from_slice(&(blob.len() as u16).to_le_bytes());
    let ctx_off_pos = b.len();
    b.extend_from_slice(&0u32.to_le_bytes()); // NegotiateContextOffset, patched below
    b.extend_from_slice(&blob);
    if !contexts.is_empty() {
        while (SMB2_HEADER_LEN + b.len()) % 8 != 0 {
            b.push(0);
        }
        let off = (SMB2_HEADER_LEN + b.len()) as u32;
        if let Some(slot) = b.get_mut(ctx_off_pos..ctx_off_pos + 4) {
            slot.copy_from_slice(&off.to_le_bytes());
        }
        for (i, c) in contexts.iter().enumerate() {
            if i > 0 {
                while (SMB2_HEADER_LEN + b.len()) % 8 != 0 {
                    b.push(0);
                }
            }
            b.extend_from_slice(c);
        }
    }
    b
}

/// The answer to a multi-protocol SMB1 NEGOTIATE that named SMB 2.x: an SMB2 NEGOTIATE response,
/// MessageId 0 ([MS-SMB2] 3.3.5.3.1).
pub fn multiprotocol_response(conn: &Conn, d: Smb2Dialect) -> Vec<u8> {
    let req = Smb2Header::request(Smb2Command::NEGOTIATE, 0);
    let Some(s2) = conn.persona.smb2.as_ref() else {
        return Vec::new();
    };
    response(
        &req,
        NtStatus::SUCCESS,
        0,
        &negotiate_body(conn, s2, d, &[]),
    )
}

/// One negotiate context ([MS-SMB2] 2.2.3.1): ContextType, DataLength, Reserved, Data.
fn context(kind: Smb2NegotiateContextType, data: &[u8]) -> Vec<u8> {
    let mut c = Vec::new();
    c.extend_from_slice(&kind.0.to_le_bytes());
    c.extend_from_slice(&(data.len() as u16).to_le_bytes());
    c.extend_from_slice(&0u32.to_le_bytes());
    c.extend_from_slice(data);
    c
}

/// What the client offered in its negotiate contexts.
#[derive(Debug, Default)]
struct Offered {
    preauth_sha512: bool,
    preauth_present: bool,
    ciphers: Vec<u16>,
    encryption_present: bool,
    compression: Vec<u16>,
    compression_present: bool,
}

/// Walks the request's negotiate context list ([MS-SMB2] 2.2.3.1), bounded and defensive.
fn offered_contexts(msg: &[u8], body: &[u8]) -> Offered {
    let mut o = Offered::default();
    let (Some(mut off), Some(count)) = (u32_le_at(body, 28), u16_le_at(body, 32)) else {
        return o;
    };
    for _ in 0..usize::from(count).min(MAX_CONTEXTS) {
        let off_us = off as usize;
        let (Some(kind), Some(len)) = (u16_le_at(msg, off_us), u16_le_at(msg, off_us + 2)) else {
            break;
        };
        let Some(data) = msg.get(off_us + 8..off_us + 8 + usize::from(len)) else {
            break;
        };
        match Smb2NegotiateContextType(kind) {
            Smb2NegotiateContextType::PREAUTH_INTEGRITY_CAPABILITIES => {
                o.preauth_present = true;
                let n = usize::from(u16_le_at(data, 0).unwrap_or(0)).min(16);
                o.preauth_sha512 = (0..n).any(|i| u16_le_at(data, 4 + 2 * i) == Some(HASH_SHA512));
            }
            Smb2NegotiateContextType::ENCRYPTION_CAPABILITIES => {
                o.encryption_present = true;
                let n = usize::from(u16_le_at(data, 0).unwrap_or(0)).min(16);
                o.ciphers = (0..n).filter_map(|i| u16_le_at(data, 2 + 2 * i)).collect();
            }
            Smb2NegotiateContextType::COMPRESSION_CAPABILITIES => {
                // [MS-SMB2] 2.2.3.1.3: Count, Padding, Flags, then the algorithms.
                o.compression_present = true;
                let n = usize::from(u16_le_at(data, 0).unwrap_or(0)).min(16);
                o.compression = (0..n).filter_map(|i| u16_le_at(data, 8 + 2 * i)).collect();
            }
            _ => {}
        }
        let next = (off_us + 8 + usize::from(len) + 7) & !7;
        off = next as u32;
    }
    o
}

fn negotiate(
    conn: &mut Conn,
    s2: &Smb2Persona,
    req: &Smb2Header,
    msg: &[u8],
    body: &[u8],
) -> Action {
    // [MS-SMB2] 2.2.3: StructureSize 36, DialectCount @2, Dialects @36.
    if u16_le_at(body, 0) != Some(36) {
        return error(req, NtStatus::INVALID_PARAMETER, 0);
    }
    let count = usize::from(u16_le_at(body, 2).unwrap_or(0)).min(MAX_DIALECTS);
    let offered: Vec<Smb2Dialect> = (0..count)
        .filter_map(|i| u16_le_at(body, 36 + 2 * i))
        .map(Smb2Dialect)
        .collect();
    if offered.is_empty() {
        return error(req, NtStatus::INVALID_PARAMETER, 0);
    }
    // [MS-SMB2] 3.3.5.4: the greatest common dialect; none in common -> STATUS_NOT_SUPPORTED.
    let Some(d) = s2
        .dialects
        .iter()
        .copied()
        .filter(|d| offered.contains(d))
        .max_by_key(|d| d.0)
    else {
        return error(req, NtStatus::NOT_SUPPORTED, 0);
    };
    let mut contexts = Vec::new();
    if d == Smb2Dialect::SMB3_1_1 {
        let o = offered_contexts(msg, body);
        // [MS-SMB2] 3.3.5.4: 3.1.1 without a usable PREAUTH_INTEGRITY context is invalid.
        if !o.preauth_present || !o.preauth_sha512 {
            return error(req, NtStatus::INVALID_PARAMETER, 0);
        }
        let mut pre = Vec::new();
        pre.extend_from_slice(&1u16.to_le_bytes()); // HashAlgorithmCount
        pre.extend_from_slice(&32u16.to_le_bytes()); // SaltLength
        pre.extend_from_slice(&HASH_SHA512.to_le_bytes());
        pre.extend(ntlm::random_bytes(32));
        contexts.push(context(
            Smb2NegotiateContextType::PREAUTH_INTEGRITY_CAPABILITIES,
            &pre,
        ));
        if o.encryption_present {
            // The server's most preferred cipher the client offered; 0 = none in common.
            let cipher = SERVER_CIPHERS
                .iter()
                .copied()
                .find(|c| o.ciphers.contains(c))
                .unwrap_or(0);
            let mut enc = Vec::new();
            enc.extend_from_slice(&1u16.to_le_bytes());
            enc.extend_from_slice(&cipher.to_le_bytes());
            contexts.push(context(
                Smb2NegotiateContextType::ENCRYPTION_CAPABILITIES,
                &enc,
            ));
        }
        // [MS-SMB2] 3.3.5.4: a compression context only in answer to one.
        if o.compression_present {
            if let Some(data) = checks::compression_context(conn.persona.name, &o.compression) {
                contexts.push(context(
                    Smb2NegotiateContextType::COMPRESSION_CAPABILITIES,
                    &data,
                ));
            }
        }
    }
    Action::Reply(response(
        req,
        NtStatus::SUCCESS,
        0,
        &negotiate_body(conn, s2, d, &contexts),
    ))
}

fn session_setup(conn: &mut Conn, req: &Smb2Header, msg: &[u8], body: &[u8]) -> Action {
    // [MS-SMB2] 2.2.5: StructureSize 25, SecurityBufferOffset @12, Length @14.
    if u16_le_at(body, 0) != Some(25) {
        return error(req, NtStatus::INVALID_PARAMETER, req.session_id);
    }
    let off = usize::from(u16_le_at(body, 12).unwrap_or(0));
    let len = usize::from(u16_le_at(body, 14).unwrap_or(0));
    let blob = msg.get(off..off.saturating_add(len)).unwrap_or_default();
    let persona = conn.persona;
    let (kind, spnego) = ntlm::classify(blob);
    match kind {
        NtlmMessage::Negotiate => {
            conn.session_id = SESSION_ID;
            let chal = ntlm::build_challenge(&persona.ntlm);
            let token = if spnego {
                ntlm::spnego_resp(1, Some(&chal))
            } else {
                chal
            };
            Action::Reply(session_reply(
                req,
                NtStatus::MORE_PROCESSING_REQUIRED,
                SESSION_ID,
                0,
                &token,
            ))
        }
        NtlmMessage::Authenticate { anonymous, guest } => {
            if conn.session_id == 0 || req.session_id != conn.session_id {
                return error(req, NtStatus::USER_SESSION_DELETED, req.session_id);
            }
            if guest {
                conn.session_id = 0;
                return error(req, NtStatus::ACCOUNT_DISABLED, req.session_id);
            }
            if let (true, Some(refused)) = (anonymous, persona.anonymous_refused) {
                conn.session_id = 0;
                return error(req, refused, req.session_id);
            }
            conn.logged_on = true;
            let flags = if anonymous { session_flags::IS_NULL } else { 0 };
            let token = if spnego {
                ntlm::spnego_resp(0, None)
            } else {
                Vec::new()
            };
            Action::Reply(session_reply(
                req,
                NtStatus::SUCCESS,
                SESSION_ID,
                flags,
                &token,
            ))
        }
        NtlmMessage::Other => error(req, NtStatus::LOGON_FAILURE, req.session_id),
    }
}

/// SESSION_SETUP response body ([MS-SMB2] 2.2.6).
fn session_reply(
    req: &Smb2Header,
    status: NtStatus,
    sid: u64,
    flags: u16,
    token: &[u8],
) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&9u16.to_le_bytes());
    b.extend_from_slice(&flags.to_le_bytes());
    b.extend_from_slice(&((SMB2_HEADER_LEN + 8) as u16).to_le_bytes());
    b.extend_from_slice(&(token.len() as u16).to_le_bytes());
    b.extend_from_slice(token);
    response(req, status, sid, &b)
}

/// TREE_CONNECT ([MS-SMB2] 2.2.9, 2.2.10): IPC$ is open to any session, anonymous included; any
/// other share is STATUS_BAD_NETWORK_NAME (the responder has no disk shares).
fn tree_connect(conn: &mut Conn, req: &Smb2Header, msg: &[u8], body: &[u8]) -> Action {
    if !conn.logged_on || req.session_id != conn.session_id {
        return error(req, NtStatus::USER_SESSION_DELETED, req.session_id);
    }
    if u16_le_at(body, 0) != Some(9) {
        return error(req, NtStatus::INVALID_PARAMETER, req.session_id);
    }
    let off = usize::from(u16_le_at(body, 4).unwrap_or(0));
    let len = usize::from(u16_le_at(body, 6).unwrap_or(0)).min(2048);
    let raw = msg.get(off..off.saturating_add(len)).unwrap_or_default();
    let units: Vec<u16> = raw
        .chunks_exact(2)
        .filter_map(|c| <[u8; 2]>::try_from(c).ok())
        .map(u16::from_le_bytes)
        .collect();
    let path = String::from_utf16_lossy(&units).to_ascii_uppercase();
    // The share is the last path component; srv.sys also takes a bare "IPC$" (nmap sends one).
    if path.rsplit('\\').next() != Some("IPC$") {
        return error(req, NtStatus::BAD_NETWORK_NAME, req.session_id);
    }
    let mut b = Vec::new();
    b.extend_from_slice(&16u16.to_le_bytes());
    b.push(0x02); // ShareType: SMB2_SHARE_TYPE_PIPE
    b.push(0); // Reserved
    b.extend_from_slice(&0x0000_0030u32.to_le_bytes()); // ShareFlags: no caching
    b.extend_from_slice(&0u32.to_le_bytes()); // Capabilities
    b.extend_from_slice(&0x001f_01ffu32.to_le_bytes()); // MaximalAccess
    let mut reply = response(req, NtStatus::SUCCESS, req.session_id, &b);
    // TreeId @36 of the header.
    if let Some(slot) = reply.get_mut(36..40) {
        slot.copy_from_slice(&1u32.to_le_bytes());
    }
    Action::Reply(reply)
}

/// The FileId handed out for an open pipe (persistent, volatile).
const PIPE_FILE_ID: (u64, u64) = (0x0000_0000_0000_0011, 0x0000_0000_0000_0001);

/// CREATE of a named pipe on IPC$ ([MS-SMB2] 2.2.13 / 2.2.14): opened or refused per the
/// persona's [`checks::pipe_status`].
fn create_pipe(conn: &mut Conn, req: &Smb2Header, msg: &[u8], body: &[u8]) -> Action {
    if !conn.logged_on || req.session_id != conn.session_id {
        return error(req, NtStatus::USER_SESSION_DELETED, req.session_id);
    }
    if req.tree_id() != Some(1) {
        return error(req, NtStatus(0xC000_00C9), req.session_id); // STATUS_NETWORK_NAME_DELETED
    }
    if u16_le_at(body, 0) != Some(57) {
        return error(req, NtStatus::INVALID_PARAMETER, req.session_id);
    }
    let off = usize::from(u16_le_at(body, 44).unwrap_or(0));
    let len = usize::from(u16_le_at(body, 46).unwrap_or(0)).min(512);
    let raw = msg.get(off..off.saturating_add(len)).unwrap_or_default();
    let units: Vec<u16> = raw
        .chunks_exact(2)
        .filter_map(|c| <[u8; 2]>::try_from(c).ok())
        .map(u16::from_le_bytes)
        .collect();
    let name = String::from_utf16_lossy(&units);
    if let Some(st) = checks::pipe_status(conn.persona.name, &name) {
        return error(req, st, req.session_id);
    }
    let mut b = Vec::with_capacity(89);
    b.extend_from_slice(&89u16.to_le_bytes()); // StructureSize
    b.push(0); // OplockLevel
    b.push(0); // Flags
    b.extend_from_slice(&1u32.to_le_bytes()); // CreateAction: FILE_OPENED
    b.extend_from_slice(&[0; 32]); // the four times: 0 for a pipe, as Windows answers
    b.extend_from_slice(&4096u64.to_le_bytes()); // AllocationSize
    b.extend_from_slice(&0u64.to_le_bytes()); // EndOfFile
    b.extend_from_slice(&0x80u32.to_le_bytes()); // FileAttributes: NORMAL
    b.extend_from_slice(&0u32.to_le_bytes()); // Reserved2
    b.extend_from_slice(&PIPE_FILE_ID.0.to_le_bytes());
    b.extend_from_slice(&PIPE_FILE_ID.1.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // CreateContextsOffset
    b.extend_from_slice(&0u32.to_le_bytes()); // CreateContextsLength
    b.push(0); // Buffer
    Action::Reply(response(req, NtStatus::SUCCESS, req.session_id, &b))
}

/// CLOSE ([MS-SMB2] 2.2.15 / 2.2.16) of the pipe's FileId; any other is STATUS_FILE_CLOSED.
fn close(conn: &mut Conn, req: &Smb2Header, body: &[u8]) -> Action {
    if !conn.logged_on || req.session_id != conn.session_id {
        return error(req, NtStatus::USER_SESSION_DELETED, req.session_id);
    }
    let id = (
        body.get(8..16)
            .and_then(|s| s.try_into().ok())
            .map(u64::from_le_bytes),
        body.get(16..24)
            .and_then(|s| s.try_into().ok())
            .map(u64::from_le_bytes),
    );
    if u16_le_at(body, 0) != Some(24) || id != (Some(PIPE_FILE_ID.0), Some(PIPE_FILE_ID.1)) {
        return error(req, NtStatus(0xC000_0128), req.session_id); // STATUS_FILE_CLOSED
    }
    // StructureSize 60; the rest (flags, times, sizes, attributes) zero.
    let mut b = 60u16.to_le_bytes().to_vec();
    b.resize(60, 0);
    Action::Reply(response(req, NtStatus::SUCCESS, req.session_id, &b))
}
