//! SMB2 answers ([MS-SMB2]): NEGOTIATE (highest common dialect, 3.1.1 negotiate contexts, the
//! 0x02FF answer to a multi-protocol SMB1 negotiate) and SESSION_SETUP with NTLMSSP, per persona.

use super::ntlm::{self, NtlmMessage};
use super::personas::{dialect, nt, Smb2Persona};
use super::smb1::server_guid;
use super::{Action, Conn};

/// SMB2 header length ([MS-SMB2] 2.2.1).
const HEADER_LEN: usize = 64;
/// Command codes ([MS-SMB2] 2.2.1.2).
const NEGOTIATE: u16 = 0x0000;
const SESSION_SETUP: u16 = 0x0001;
const LOGOFF: u16 = 0x0002;
const TREE_CONNECT: u16 = 0x0003;
const ECHO: u16 = 0x000D;
/// SMB2_FLAGS_SERVER_TO_REDIR.
const FLAGS_RESPONSE: u32 = 0x0000_0001;
/// Negotiate context types ([MS-SMB2] 2.2.3.1).
const PREAUTH_INTEGRITY: u16 = 0x0001;
const ENCRYPTION: u16 = 0x0002;
/// SHA-512, the only preauth hash ([MS-SMB2] 2.2.3.1.1).
const SHA512: u16 = 0x0001;
/// Ciphers Windows 10 / 2019 implement, in its order of preference ([MS-SMB2] 2.2.3.1.2).
const SERVER_CIPHERS: [u16; 4] = [0x0002, 0x0001, 0x0004, 0x0003];
/// Bounds on what we read from a client.
const MAX_DIALECTS: usize = 64;
const MAX_CONTEXTS: usize = 32;
/// SessionId handed out (Windows' are opaque 64-bit values like this).
const SESSION_ID: u64 = 0x0000_4400_0000_0009;

/// The fields of a request header we echo.
#[derive(Debug, Clone, Copy)]
struct ReqHeader {
    credit_charge: u16,
    command: u16,
    credits: u16,
    message_id: u64,
    process_id: u32,
    tree_id: u32,
    session_id: u64,
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    b.get(o..o + 2)
        .and_then(|s| <[u8; 2]>::try_from(s).ok())
        .map(u16::from_le_bytes)
}

fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    b.get(o..o + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(u32::from_le_bytes)
}

fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    b.get(o..o + 8)
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map(u64::from_le_bytes)
}

fn parse_header(msg: &[u8]) -> Option<ReqHeader> {
    if msg.len() < HEADER_LEN || u16_at(msg, 4)? != 64 {
        return None;
    }
    Some(ReqHeader {
        credit_charge: u16_at(msg, 6)?,
        command: u16_at(msg, 12)?,
        credits: u16_at(msg, 14)?,
        message_id: u64_at(msg, 24)?,
        process_id: u32_at(msg, 32)?,
        tree_id: u32_at(msg, 36)?,
        session_id: u64_at(msg, 40)?,
    })
}

/// A response header followed by `body` ([MS-SMB2] 2.2.1.2, sync form).
fn response(req: &ReqHeader, status: u32, session_id: u64, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&[0xFE, b'S', b'M', b'B']);
    m.extend_from_slice(&64u16.to_le_bytes());
    m.extend_from_slice(&req.credit_charge.to_le_bytes());
    m.extend_from_slice(&status.to_le_bytes());
    m.extend_from_slice(&req.command.to_le_bytes());
    m.extend_from_slice(&req.credits.clamp(1, 64).to_le_bytes()); // CreditResponse
    m.extend_from_slice(&FLAGS_RESPONSE.to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes()); // NextCommand
    m.extend_from_slice(&req.message_id.to_le_bytes());
    m.extend_from_slice(&req.process_id.to_le_bytes());
    m.extend_from_slice(&req.tree_id.to_le_bytes());
    m.extend_from_slice(&session_id.to_le_bytes());
    m.extend_from_slice(&[0; 16]); // Signature
    m.extend_from_slice(body);
    m
}

/// SMB2 ERROR response ([MS-SMB2] 2.2.2): StructureSize 9, no error data (one zero byte).
fn error(req: &ReqHeader, status: u32, session_id: u64) -> Action {
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
    let Some(req) = parse_header(msg) else {
        // [MS-SMB2] 3.3.5.2.6: shorter than a header: disconnect without a response.
        return Action::Close;
    };
    let body = msg.get(HEADER_LEN..).unwrap_or_default();
    match req.command {
        NEGOTIATE => negotiate(conn, s2, &req, msg, body),
        SESSION_SETUP => session_setup(conn, &req, msg, body),
        LOGOFF | ECHO => {
            if req.command == LOGOFF {
                conn.session_id = 0;
            }
            Action::Reply(response(&req, nt::SUCCESS, req.session_id, &[4, 0, 0, 0]))
        }
        TREE_CONNECT => tree_connect(conn, &req, msg, body),
        // [MS-SMB2] 3.3.5.2.6: an unknown command code: disconnect without a response.
        c if c > 0x0012 => Action::Close,
        _ => error(&req, nt::ACCESS_DENIED, req.session_id),
    }
}

/// The NEGOTIATE response body ([MS-SMB2] 2.2.4), with `contexts` (already encoded) appended at
/// an 8-byte aligned offset.
fn negotiate_body(conn: &Conn, s2: &Smb2Persona, d: u16, contexts: &[Vec<u8>]) -> Vec<u8> {
    let blob = ntlm::spnego_init_hint();
    let caps = if d >= dialect::SMB300 && d != dialect::WILDCARD {
        s2.capabilities_3x
    } else if d == dialect::SMB202 {
        s2.capabilities & 0x01 // only DFS exists in 2.0.2
    } else {
        s2.capabilities
    };
    let sec_off = HEADER_LEN + 64; // header + fixed part
    let mut b = Vec::new();
    b.extend_from_slice(&65u16.to_le_bytes());
    b.extend_from_slice(&s2.security_mode.to_le_bytes());
    b.extend_from_slice(&d.to_le_bytes());
    b.extend_from_slice(&(contexts.len() as u16).to_le_bytes());
    b.extend_from_slice(&server_guid(conn.persona.name));
    b.extend_from_slice(&caps.to_le_bytes());
    b.extend_from_slice(&s2.max_size.to_le_bytes());
    b.extend_from_slice(&s2.max_size.to_le_bytes());
    b.extend_from_slice(&s2.max_size.to_le_bytes());
    b.extend_from_slice(&ntlm::filetime_now().to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes()); // ServerStartTime (0 on Windows 10+)
    b.extend_from_slice(&(sec_off as u16).to_le_bytes());
    b.extend_from_slice(&(blob.len() as u16).to_le_bytes());
    let ctx_off_pos = b.len();
    b.extend_from_slice(&0u32.to_le_bytes()); // NegotiateContextOffset, patched below
    b.extend_from_slice(&blob);
    if !contexts.is_empty() {
        while (HEADER_LEN + b.len()) % 8 != 0 {
            b.push(0);
        }
        let off = (HEADER_LEN + b.len()) as u32;
        if let Some(slot) = b.get_mut(ctx_off_pos..ctx_off_pos + 4) {
            slot.copy_from_slice(&off.to_le_bytes());
        }
        for (i, c) in contexts.iter().enumerate() {
            if i > 0 {
                while (HEADER_LEN + b.len()) % 8 != 0 {
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
pub fn multiprotocol_response(conn: &Conn, d: u16) -> Vec<u8> {
    let req = ReqHeader {
        credit_charge: 0,
        command: NEGOTIATE,
        credits: 1,
        message_id: 0,
        process_id: 0,
        tree_id: 0,
        session_id: 0,
    };
    let Some(s2) = conn.persona.smb2.as_ref() else {
        return Vec::new();
    };
    response(&req, nt::SUCCESS, 0, &negotiate_body(conn, s2, d, &[]))
}

fn context(kind: u16, data: &[u8]) -> Vec<u8> {
    let mut c = Vec::new();
    c.extend_from_slice(&kind.to_le_bytes());
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
}

/// Walks the request's negotiate context list ([MS-SMB2] 2.2.3.1), bounded and defensive.
fn offered_contexts(msg: &[u8], body: &[u8]) -> Offered {
    let mut o = Offered::default();
    let (Some(mut off), Some(count)) = (u32_at(body, 28), u16_at(body, 32)) else {
        return o;
    };
    for _ in 0..usize::from(count).min(MAX_CONTEXTS) {
        let off_us = off as usize;
        let (Some(kind), Some(len)) = (u16_at(msg, off_us), u16_at(msg, off_us + 2)) else {
            break;
        };
        let Some(data) = msg.get(off_us + 8..off_us + 8 + usize::from(len)) else {
            break;
        };
        match kind {
            PREAUTH_INTEGRITY => {
                o.preauth_present = true;
                let n = usize::from(u16_at(data, 0).unwrap_or(0)).min(16);
                o.preauth_sha512 = (0..n).any(|i| u16_at(data, 4 + 2 * i) == Some(SHA512));
            }
            ENCRYPTION => {
                o.encryption_present = true;
                let n = usize::from(u16_at(data, 0).unwrap_or(0)).min(16);
                o.ciphers = (0..n).filter_map(|i| u16_at(data, 2 + 2 * i)).collect();
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
    req: &ReqHeader,
    msg: &[u8],
    body: &[u8],
) -> Action {
    // [MS-SMB2] 2.2.3: StructureSize 36, DialectCount @2, Dialects @36.
    if u16_at(body, 0) != Some(36) {
        return error(req, nt::INVALID_PARAMETER, 0);
    }
    let count = usize::from(u16_at(body, 2).unwrap_or(0)).min(MAX_DIALECTS);
    let offered: Vec<u16> = (0..count)
        .filter_map(|i| u16_at(body, 36 + 2 * i))
        .collect();
    if offered.is_empty() {
        return error(req, nt::INVALID_PARAMETER, 0);
    }
    // [MS-SMB2] 3.3.5.4: the greatest common dialect; none in common -> STATUS_NOT_SUPPORTED.
    let Some(d) = s2
        .dialects
        .iter()
        .copied()
        .filter(|d| offered.contains(d))
        .max()
    else {
        return error(req, nt::NOT_SUPPORTED, 0);
    };
    let mut contexts = Vec::new();
    if d == dialect::SMB311 {
        let o = offered_contexts(msg, body);
        // [MS-SMB2] 3.3.5.4: 3.1.1 without a usable PREAUTH_INTEGRITY context is invalid.
        if !o.preauth_present || !o.preauth_sha512 {
            return error(req, nt::INVALID_PARAMETER, 0);
        }
        let mut pre = Vec::new();
        pre.extend_from_slice(&1u16.to_le_bytes()); // HashAlgorithmCount
        pre.extend_from_slice(&32u16.to_le_bytes()); // SaltLength
        pre.extend_from_slice(&SHA512.to_le_bytes());
        pre.extend(ntlm::random_bytes(32));
        contexts.push(context(PREAUTH_INTEGRITY, &pre));
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
            contexts.push(context(ENCRYPTION, &enc));
        }
    }
    Action::Reply(response(
        req,
        nt::SUCCESS,
        0,
        &negotiate_body(conn, s2, d, &contexts),
    ))
}

fn session_setup(conn: &mut Conn, req: &ReqHeader, msg: &[u8], body: &[u8]) -> Action {
    // [MS-SMB2] 2.2.5: StructureSize 25, SecurityBufferOffset @12, Length @14.
    if u16_at(body, 0) != Some(25) {
        return error(req, nt::INVALID_PARAMETER, req.session_id);
    }
    let off = usize::from(u16_at(body, 12).unwrap_or(0));
    let len = usize::from(u16_at(body, 14).unwrap_or(0));
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
                nt::MORE_PROCESSING_REQUIRED,
                SESSION_ID,
                0,
                &token,
            ))
        }
        NtlmMessage::Authenticate { anonymous, guest } => {
            if conn.session_id == 0 || req.session_id != conn.session_id {
                return error(req, 0xC000_0203, req.session_id); // USER_SESSION_DELETED
            }
            if guest {
                conn.session_id = 0;
                return error(req, 0xC000_0072, req.session_id); // ACCOUNT_DISABLED
            }
            if let (true, Some(refused)) = (anonymous, persona.anonymous_refused) {
                conn.session_id = 0;
                return error(req, refused, req.session_id);
            }
            conn.logged_on = true;
            // SMB2_SESSION_FLAG_IS_NULL for an anonymous session.
            let flags = if anonymous { 0x0002 } else { 0 };
            let token = if spnego {
                ntlm::spnego_resp(0, None)
            } else {
                Vec::new()
            };
            Action::Reply(session_reply(req, nt::SUCCESS, SESSION_ID, flags, &token))
        }
        NtlmMessage::Other => error(req, 0xC000_006D, req.session_id), // LOGON_FAILURE
    }
}

/// SESSION_SETUP response body ([MS-SMB2] 2.2.6).
fn session_reply(req: &ReqHeader, status: u32, sid: u64, flags: u16, token: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&9u16.to_le_bytes());
    b.extend_from_slice(&flags.to_le_bytes());
    b.extend_from_slice(&((HEADER_LEN + 8) as u16).to_le_bytes());
    b.extend_from_slice(&(token.len() as u16).to_le_bytes());
    b.extend_from_slice(token);
    response(req, status, sid, &b)
}

/// TREE_CONNECT ([MS-SMB2] 2.2.9, 2.2.10): IPC$ is open to any session, anonymous included; any
/// other share is STATUS_BAD_NETWORK_NAME (the responder has no disk shares).
fn tree_connect(conn: &mut Conn, req: &ReqHeader, msg: &[u8], body: &[u8]) -> Action {
    if !conn.logged_on || req.session_id != conn.session_id {
        return error(req, 0xC000_0203, req.session_id); // USER_SESSION_DELETED
    }
    if u16_at(body, 0) != Some(9) {
        return error(req, nt::INVALID_PARAMETER, req.session_id);
    }
    let off = usize::from(u16_at(body, 4).unwrap_or(0));
    let len = usize::from(u16_at(body, 6).unwrap_or(0)).min(2048);
    let raw = msg.get(off..off.saturating_add(len)).unwrap_or_default();
    let units: Vec<u16> = raw
        .chunks_exact(2)
        .filter_map(|c| <[u8; 2]>::try_from(c).ok())
        .map(u16::from_le_bytes)
        .collect();
    let path = String::from_utf16_lossy(&units).to_ascii_uppercase();
    // The share is the last path component; srv.sys also takes a bare "IPC$" (nmap sends one).
    if path.rsplit('\\').next() != Some("IPC$") {
        return error(req, nt::BAD_NETWORK_NAME, req.session_id);
    }
    let mut b = Vec::new();
    b.extend_from_slice(&16u16.to_le_bytes());
    b.push(0x02); // ShareType: SMB2_SHARE_TYPE_PIPE
    b.push(0); // Reserved
    b.extend_from_slice(&0x0000_0030u32.to_le_bytes()); // ShareFlags: no caching
    b.extend_from_slice(&0u32.to_le_bytes()); // Capabilities
    b.extend_from_slice(&0x001f_01ffu32.to_le_bytes()); // MaximalAccess
    let mut reply = response(req, nt::SUCCESS, req.session_id, &b);
    // TreeId @36 of the header.
    if let Some(slot) = reply.get_mut(36..40) {
        slot.copy_from_slice(&1u32.to_le_bytes());
    }
    Action::Reply(reply)
}
