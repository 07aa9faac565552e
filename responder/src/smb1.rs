//! SMB1 answers ([MS-CIFS], [MS-SMB]): NEGOTIATE, SESSION_SETUP_ANDX, TREE_CONNECT_ANDX, the
//! MS17-010 TRANS PeekNamedPipe and the DoublePulsar TRANS2 ping, per persona.

use smb1scan_protocol::message::filetime_now;
use smb1scan_protocol::smb1::header::{
    build_smb1_message, flags2, parse_smb1_body, parse_smb1_header, put_smb1_andx, put_smb1_string,
    smb1_bytes_offset, Smb1Body, Smb1Command, Smb1Header,
};
use smb1scan_protocol::smb1::negotiate::{capabilities, NT_LM_0_12};
use smb1scan_protocol::smb1::nt_create;
use smb1scan_protocol::smb1::trans::TransSubcommand;
use smb1scan_protocol::smb1::trans2::{Trans2Subcommand, DOUBLEPULSAR_MID_DELTA};
use smb1scan_protocol::smb1::tree_connect::{optional_support, request_flags};
use smb1scan_protocol::smb2::negotiate::Smb2Dialect;
use smb1scan_protocol::util::{u16_le_at, utf16le};
use smb1scan_protocol::NtStatus;

use super::ntlm::{self, NtlmMessage};
use super::personas::{PeekBehaviour, Smb1Persona};
use super::{checks, smb2, Action, Conn};

/// The UID and TID Windows hands out first (0x0800, seen in every capture).
const FIRST_ID: u16 = 0x0800;

/// The status of a response: NT status, or DOS class/code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Nt(NtStatus),
    Dos(u8, u16),
}

impl Status {
    fn raw(self) -> u32 {
        match self {
            Status::Nt(s) => s.0,
            // [MS-CIFS] 2.2.3.1: byte 0 ErrorClass, byte 1 reserved, bytes 2-3 ErrorCode.
            Status::Dos(class, code) => u32::from(class) | (u32::from(code) << 16),
        }
    }
    fn is_error(self) -> bool {
        self.raw() != 0
    }
}

/// Builder for one response: header fields echoed from the request per [MS-CIFS] 3.3.4.1.
struct Reply<'a> {
    req: &'a Smb1Header,
    p: &'a Smb1Persona,
    uid: u16,
    tid: u16,
    mid: u16,
    signature: [u8; 8],
}

impl<'a> Reply<'a> {
    fn new(req: &'a Smb1Header, p: &'a Smb1Persona) -> Self {
        Reply {
            req,
            p,
            uid: req.uid,
            tid: req.tid,
            mid: req.mid,
            signature: [0; 8],
        }
    }

    fn build(&self, status: Status, words: &[u8], bytes: &[u8]) -> Vec<u8> {
        // Windows echoes the client's Flags2 and sets NT_STATUS on errors; the DOS persona never
        // sets it (its status field is then class/code).
        let mut f2 = self.req.flags2;
        match status {
            Status::Dos(..) => f2 &= !flags2::NT_STATUS,
            Status::Nt(_) if self.p.dos_errors => f2 &= !flags2::NT_STATUS,
            Status::Nt(_) if status.is_error() => f2 |= flags2::NT_STATUS,
            Status::Nt(_) => {}
        }
        let h = Smb1Header {
            command: self.req.command,
            status_raw: status.raw(),
            flags: self.p.flags,
            flags2: f2,
            pid_high: self.req.pid_high,
            security_signature: self.signature,
            tid: self.tid,
            pid_low: self.req.pid_low,
            uid: self.uid,
            mid: self.mid,
        };
        build_smb1_message(&h, words, bytes).to_vec()
    }

    /// An error response: WordCount 0, ByteCount 0 (35 bytes).
    fn error(&self, status: Status) -> Action {
        Action::Reply(self.build(status, &[], &[]))
    }
}

/// Handles one SMB1 message.
pub fn handle(conn: &mut Conn, msg: &[u8]) -> Action {
    let Ok((req, rest)) = parse_smb1_header(msg) else {
        return Action::Close;
    };
    // A reply sent to us, or a message with the reply bit: not a request; drop the connection.
    if req.is_reply() {
        return Action::Close;
    }
    let Some(p) = conn.persona.smb1.as_ref() else {
        // SMB1 disabled: only a multi-protocol NEGOTIATE gets an (SMB2) answer; anything else,
        // including an SMB1-only NEGOTIATE, is reset, as Windows 8.1+ with SMB1 off does.
        if req.command == Smb1Command::NEGOTIATE {
            if let Ok(body) = parse_smb1_body(rest) {
                if let Some(d) = smb2_from_multiprotocol(conn, body.bytes) {
                    return Action::Reply(smb2::multiprotocol_response(conn, d));
                }
            }
        }
        return Action::Reset;
    };
    let r = Reply::new(&req, p);
    let Ok(body) = parse_smb1_body(rest) else {
        return r.error(dos_or(
            p,
            Status::Nt(NtStatus::INVALID_SMB),
            Status::Dos(2, 1),
        ));
    };
    match req.command {
        Smb1Command::NEGOTIATE => negotiate(conn, p, &req, &body),
        Smb1Command::SESSION_SETUP_ANDX => session_setup(conn, p, &req, &body),
        Smb1Command::TREE_CONNECT_ANDX => tree_connect(conn, p, &req, &body),
        Smb1Command::TRANSACTION => trans(conn, p, &req, &body),
        Smb1Command::TRANSACTION2 => trans2(conn, p, &req, &body),
        nt_create::NT_CREATE_ANDX => nt_create_pipe(conn, p, &req, &body),
        nt_create::CLOSE => close(conn, p, &req, &body),
        Smb1Command::TREE_DISCONNECT => {
            if req.tid == conn.tid && conn.tid != 0 {
                conn.tid = 0;
                Action::Reply(r.build(Status::Nt(NtStatus::SUCCESS), &[], &[]))
            } else {
                r.error(dos_or(
                    p,
                    Status::Nt(NtStatus::SMB_BAD_TID),
                    Status::Dos(2, 5),
                ))
            }
        }
        Smb1Command::LOGOFF_ANDX => {
            conn.uid = 0;
            conn.logged_on = false;
            conn.tid = 0;
            let mut words = Vec::new();
            put_smb1_andx(
                &mut words,
                Smb1Command::NO_ANDX,
                smb1_bytes_offset(4) as u16,
            );
            Action::Reply(r.build(Status::Nt(NtStatus::SUCCESS), &words, &[]))
        }
        _ => r.error(dos_or(
            p,
            Status::Nt(NtStatus::SMB_BAD_COMMAND),
            Status::Dos(2, 0x16),
        )),
    }
}

/// Picks the DOS form of an error for the DOS-errors persona.
fn dos_or(p: &Smb1Persona, nt: Status, dos: Status) -> Status {
    if p.dos_errors {
        dos
    } else {
        nt
    }
}

/// The dialect strings of a NEGOTIATE request ([MS-CIFS] 2.2.4.52.1): `0x02` + ASCIIZ, repeated.
fn dialects(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some((&0x02, after)) = rest.split_first() {
        let end = after.iter().position(|&b| b == 0).unwrap_or(after.len());
        out.push(after.get(..end).unwrap_or_default());
        rest = after.get(end + 1..).unwrap_or_default();
        if out.len() >= 64 {
            break;
        }
    }
    out
}

/// [MS-SMB2] 3.3.5.3.1: a multi-protocol SMB1 NEGOTIATE naming "SMB 2.???" gets an SMB2 answer
/// with dialect 0x02FF (when the server implements more than 2.0.2), "SMB 2.002" gets 0x0202.
fn smb2_from_multiprotocol(conn: &Conn, bytes: &[u8]) -> Option<Smb2Dialect> {
    let s2 = conn.persona.smb2.as_ref()?;
    let names = dialects(bytes);
    let wildcard = names.iter().any(|d| *d == b"SMB 2.???");
    let d202 = names.iter().any(|d| *d == b"SMB 2.002");
    let beyond_202 = s2.dialects.iter().any(|d| d.0 > Smb2Dialect::SMB2_0_2.0);
    if wildcard && beyond_202 {
        Some(Smb2Dialect::WILDCARD)
    } else if d202 || wildcard {
        Some(Smb2Dialect::SMB2_0_2)
    } else {
        None
    }
}

fn negotiate(conn: &mut Conn, p: &Smb1Persona, req: &Smb1Header, body: &Smb1Body<'_>) -> Action {
    if let Some(d) = smb2_from_multiprotocol(conn, body.bytes) {
        return Action::Reply(smb2::multiprotocol_response(conn, d));
    }
    let r = Reply::new(req, p);
    let names = dialects(body.bytes);
    let Some(index) = names.iter().position(|d| *d == NT_LM_0_12.as_bytes()) else {
        // [MS-CIFS] 2.2.4.52.2: no dialect accepted: WordCount 1, DialectIndex 0xFFFF.
        return Action::Reply(r.build(Status::Nt(NtStatus::SUCCESS), &[0xFF, 0xFF], &[]));
    };
    let extended = req.flags2 & flags2::EXTENDED_SECURITY != 0
        && p.capabilities & capabilities::EXTENDED_SECURITY != 0;
    let caps = if extended {
        p.capabilities
    } else {
        p.capabilities & !capabilities::EXTENDED_SECURITY
    };
    let mut w = Vec::new();
    w.extend_from_slice(&(index as u16).to_le_bytes());
    w.push(p.security_mode);
    w.extend_from_slice(&p.max_mpx_count.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes()); // MaxNumberVcs
    w.extend_from_slice(&p.max_buffer_size.to_le_bytes());
    w.extend_from_slice(&65536u32.to_le_bytes()); // MaxRawSize
    w.extend_from_slice(&0u32.to_le_bytes()); // SessionKey
    w.extend_from_slice(&caps.to_le_bytes());
    w.extend_from_slice(&filetime_now().to_le_bytes());
    w.extend_from_slice(&p.time_zone.to_le_bytes());
    w.push(if extended { 0 } else { 8 }); // ChallengeLength
    let mut b = Vec::new();
    if extended {
        b.extend_from_slice(&super::personas::server_guid(conn.persona.name));
        if p.negotiate_spnego {
            b.extend(ntlm::spnego_init_hint());
        }
    } else {
        // Non-extended ([MS-CIFS] 2.2.4.52.2): Challenge, DomainName, ServerName. Windows sends
        // the names in Unicode (and says so in Flags2) whatever the request's Flags2, right after
        // the challenge, unpadded; clients such as nmap rely on it.
        b.extend(ntlm::random_bytes(8));
        for name in [
            conn.persona.ntlm.netbios_domain,
            conn.persona.ntlm.netbios_computer,
        ] {
            b.extend(utf16le(name));
            b.extend_from_slice(&[0, 0]);
        }
    }
    let mut hreq = *req;
    if !extended {
        hreq.flags2 &= !flags2::EXTENDED_SECURITY;
        hreq.flags2 |= flags2::UNICODE;
    }
    let r = Reply::new(&hreq, p);
    Action::Reply(r.build(Status::Nt(NtStatus::SUCCESS), &w, &b))
}

/// A request word at byte `o` of the words; a word cut short reads as 0 (the simulator answers
/// what it can; the scanner's own parsers never default a field).
fn u16_at(b: &[u8], o: usize) -> u16 {
    u16_le_at(b, o).unwrap_or(0)
}

/// The NativeOS / NativeLanMan (and optionally PrimaryDomain) tail of a SESSION_SETUP response,
/// padded to an even offset when Unicode ([MS-SMB] 2.2.4.6.2).
fn os_strings(out: &mut Vec<u8>, start: usize, p: &Smb1Persona, domain: Option<&str>, uni: bool) {
    for s in [p.native_os, p.native_lanman].into_iter().chain(domain) {
        put_smb1_string(out, start, s, uni);
    }
}

fn session_setup(
    conn: &mut Conn,
    p: &Smb1Persona,
    req: &Smb1Header,
    body: &Smb1Body<'_>,
) -> Action {
    let persona = conn.persona;
    let mut r = Reply::new(req, p);
    let uni = req.flags2 & flags2::UNICODE != 0;
    match body.word_count {
        // Extended security ([MS-SMB] 2.2.4.6.1): SecurityBlobLength at word 7.
        12 => {
            let blob_len = usize::from(u16_at(body.words, 14));
            let blob = body.bytes.get(..blob_len).unwrap_or(body.bytes);
            let (kind, spnego) = ntlm::classify(blob);
            match kind {
                NtlmMessage::Negotiate => {
                    conn.uid = FIRST_ID;
                    r.uid = FIRST_ID;
                    let chal = ntlm::build_challenge(&persona.ntlm);
                    let token = if spnego {
                        ntlm::spnego_resp(1, Some(&chal))
                    } else {
                        chal
                    };
                    Action::Reply(extended_reply(
                        &r,
                        p,
                        NtStatus::MORE_PROCESSING_REQUIRED,
                        &token,
                        uni,
                    ))
                }
                NtlmMessage::Authenticate { anonymous, guest } => {
                    if req.uid != conn.uid || conn.uid == 0 {
                        return r.error(Status::Nt(NtStatus::SMB_BAD_UID));
                    }
                    if guest {
                        conn.uid = 0;
                        return r.error(Status::Nt(NtStatus::ACCOUNT_DISABLED));
                    }
                    if let (true, Some(refused)) = (anonymous, persona.anonymous_refused) {
                        conn.uid = 0;
                        return r.error(Status::Nt(refused));
                    }
                    conn.logged_on = true;
                    let token = if spnego {
                        ntlm::spnego_resp(0, None)
                    } else {
                        Vec::new()
                    };
                    Action::Reply(extended_reply(&r, p, NtStatus::SUCCESS, &token, uni))
                }
                NtlmMessage::Other => r.error(Status::Nt(NtStatus::LOGON_FAILURE)),
            }
        }
        // Non-extended ([MS-CIFS] 2.2.4.53.1): OEMPasswordLen word 7, UnicodePasswordLen word 8.
        13 => {
            let oem_len = u16_at(body.words, 14);
            let uni_len = u16_at(body.words, 16);
            let account = read_string(req, body, usize::from(oem_len) + usize::from(uni_len));
            // The built-in Guest account is disabled on every Windows since XP SP2 (nmap's guest
            // attempt in win7-homebasic-sp1-nmap-smb1-and-smb2-negotiate.pcap gets this status).
            if account.eq_ignore_ascii_case("guest") {
                return r.error(Status::Nt(NtStatus::ACCOUNT_DISABLED));
            }
            let anonymous = oem_len <= 1 && uni_len == 0 && account.is_empty();
            if let (true, Some(refused)) = (anonymous, persona.anonymous_refused) {
                return r.error(Status::Nt(refused));
            }
            conn.uid = FIRST_ID;
            conn.logged_on = true;
            r.uid = FIRST_ID;
            let mut b = Vec::new();
            let start = smb1_bytes_offset(2 * 3);
            os_strings(&mut b, start, p, Some(persona.ntlm.netbios_domain), uni);
            let mut w = Vec::new();
            put_smb1_andx(&mut w, Smb1Command::NO_ANDX, (start + b.len()) as u16);
            // Action: bit 0 = logged on as guest; a null session is not a guest logon.
            w.extend_from_slice(&0u16.to_le_bytes());
            Action::Reply(r.build(Status::Nt(NtStatus::SUCCESS), &w, &b))
        }
        _ => r.error(dos_or(
            p,
            Status::Nt(NtStatus::INVALID_SMB),
            Status::Dos(2, 1),
        )),
    }
}

/// SESSION_SETUP_ANDX extended response ([MS-SMB] 2.2.4.6.2): WordCount 4.
fn extended_reply(
    r: &Reply<'_>,
    p: &Smb1Persona,
    status: NtStatus,
    blob: &[u8],
    uni: bool,
) -> Vec<u8> {
    let mut b = blob.to_vec();
    let start = smb1_bytes_offset(2 * 4);
    os_strings(&mut b, start, p, None, uni);
    let mut w = Vec::new();
    put_smb1_andx(&mut w, Smb1Command::NO_ANDX, (start + b.len()) as u16);
    w.extend_from_slice(&0u16.to_le_bytes()); // Action
    w.extend_from_slice(&(blob.len() as u16).to_le_bytes());
    r.build(Status::Nt(status), &w, &b)
}

/// Reads a NUL-terminated string of the request's data bytes at `off` (Unicode strings are first
/// aligned to an even offset from the header start), at most 1024 characters.
fn read_string(req: &Smb1Header, body: &Smb1Body<'_>, mut off: usize) -> String {
    if req.flags2 & flags2::UNICODE != 0 {
        if (body.bytes_offset + off) % 2 == 1 {
            off += 1;
        }
        let raw = body.bytes.get(off..).unwrap_or_default();
        let units: Vec<u16> = raw
            .chunks_exact(2)
            .filter_map(|c| <[u8; 2]>::try_from(c).ok())
            .map(u16::from_le_bytes)
            .take_while(|&u| u != 0)
            .take(1024)
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        let raw = body.bytes.get(off..).unwrap_or_default();
        let end = raw
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(raw.len())
            .min(1024);
        String::from_utf8_lossy(raw.get(..end).unwrap_or_default()).into_owned()
    }
}

/// The Path of a TREE_CONNECT_ANDX request ([MS-CIFS] 2.2.4.55.1): after PasswordLength bytes.
fn tree_path(req: &Smb1Header, body: &Smb1Body<'_>) -> String {
    read_string(req, body, usize::from(u16_at(body.words, 6)))
}

fn tree_connect(conn: &mut Conn, p: &Smb1Persona, req: &Smb1Header, body: &Smb1Body<'_>) -> Action {
    let mut r = Reply::new(req, p);
    if p.dos_errors {
        // The XP host of winxp-sp3-dos-error-*.pcap: ERRSRV/ERRerror, WordCount 0.
        return r.error(Status::Dos(2, 0x0001));
    }
    if !conn.logged_on || req.uid != conn.uid {
        return r.error(Status::Nt(NtStatus::SMB_BAD_UID));
    }
    if body.word_count != 4 {
        return r.error(Status::Nt(NtStatus::INVALID_SMB));
    }
    let path = tree_path(req, body).to_ascii_uppercase();
    // The share is the last path component; srv.sys also takes a bare "IPC$" (nmap sends one).
    if path.rsplit('\\').next() != Some("IPC$") {
        return r.error(Status::Nt(NtStatus::BAD_NETWORK_NAME));
    }
    conn.tid = FIRST_ID;
    r.tid = FIRST_ID;
    // TREE_CONNECT_ANDX_EXTENDED_RESPONSE (0x0008) asks for WordCount 7 ([MS-SMB] 2.2.4.7.2).
    let extended = u16_at(body.words, 4) & request_flags::EXTENDED_RESPONSE != 0;
    let wc = if extended { 7 } else { 3 };
    let uni = req.flags2 & flags2::UNICODE != 0;
    let start = smb1_bytes_offset(2 * wc);
    let mut b = Vec::new();
    put_smb1_string(&mut b, start, "IPC", false); // Service, always OEM
    put_smb1_string(&mut b, start, "", uni); // NativeFileSystem: empty for IPC$
    let mut w = Vec::new();
    put_smb1_andx(&mut w, Smb1Command::NO_ANDX, (start + b.len()) as u16);
    w.extend_from_slice(&optional_support::SUPPORT_SEARCH_BITS.to_le_bytes()); // OptionalSupport
    if extended {
        w.extend_from_slice(&0x001f_01ffu32.to_le_bytes()); // MaximalShareAccessRights
        w.extend_from_slice(&0u32.to_le_bytes()); // GuestMaximalShareAccessRights
    }
    Action::Reply(r.build(Status::Nt(NtStatus::SUCCESS), &w, &b))
}

/// Setup word `i` of a TRANS/TRANS2 request (Setup starts at byte 28 of the words, SetupCount at
/// byte 26; [MS-CIFS] 2.2.4.33.1, 2.2.4.46.1).
fn setup_word(body: &Smb1Body<'_>, i: usize) -> Option<u16> {
    let count = usize::from(*body.words.get(26)?);
    if i >= count {
        return None;
    }
    let o = 28 + 2 * i;
    u16_le_at(body.words, o)
}

fn trans(conn: &mut Conn, p: &Smb1Persona, req: &Smb1Header, body: &Smb1Body<'_>) -> Action {
    let r = Reply::new(req, p);
    if !conn.logged_on || req.uid != conn.uid {
        return r.error(dos_or(
            p,
            Status::Nt(NtStatus::SMB_BAD_UID),
            Status::Dos(2, 0x5b),
        ));
    }
    if conn.tid == 0 || req.tid != conn.tid {
        return r.error(dos_or(
            p,
            Status::Nt(NtStatus::SMB_BAD_TID),
            Status::Dos(2, 5),
        ));
    }
    let subcommand = setup_word(body, 0).map(TransSubcommand);
    match (subcommand, setup_word(body, 1)) {
        (Some(TransSubcommand::PEEK_NMPIPE), Some(0)) => match conn.persona.peek {
            PeekBehaviour::Status(s) => r.error(Status::Nt(s)),
            PeekBehaviour::Dos(class, code) => r.error(Status::Dos(class, code)),
            PeekBehaviour::Silent => Action::Silent,
        },
        // No pipe is ever open here, so any other FID is invalid.
        (Some(TransSubcommand::PEEK_NMPIPE), Some(_)) => {
            r.error(Status::Nt(NtStatus::INVALID_HANDLE))
        }
        _ => r.error(Status::Nt(NtStatus::NOT_SUPPORTED)),
    }
}

fn trans2(conn: &mut Conn, p: &Smb1Persona, req: &Smb1Header, body: &Smb1Body<'_>) -> Action {
    let mut r = Reply::new(req, p);
    if !conn.logged_on || req.uid != conn.uid {
        return r.error(dos_or(
            p,
            Status::Nt(NtStatus::SMB_BAD_UID),
            Status::Dos(2, 0x5b),
        ));
    }
    if conn.tid == 0 || req.tid != conn.tid {
        return r.error(dos_or(
            p,
            Status::Nt(NtStatus::SMB_BAD_TID),
            Status::Dos(2, 5),
        ));
    }
    if setup_word(body, 0).map(Trans2Subcommand) == Some(Trans2Subcommand::SESSION_SETUP) {
        if let Some(imp) = conn.persona.implant {
            // The implant answers its ping with MID + 16 and key material + arch in the
            // SecuritySignature.
            r.mid = req.mid.wrapping_add(DOUBLEPULSAR_MID_DELTA);
            let k = imp.signature_key;
            r.signature = [k[0], k[1], k[2], k[3], imp.arch, 0, 0, 0];
        }
    }
    // Clean srv.sys does not implement TRANS2_SESSION_SETUP (nor anything else here).
    r.error(dos_or(
        p,
        Status::Nt(NtStatus::NOT_IMPLEMENTED),
        Status::Dos(1, 1),
    ))
}

/// The FID handed out for an open pipe (Windows' first FID is 0x4000).
const PIPE_FID: u16 = 0x4000;

/// NT_CREATE_ANDX of a named pipe on IPC$ ([MS-CIFS] 2.2.4.64): opened or refused per the
/// persona's [`checks::pipe_status`]; the basic WordCount 34 response.
fn nt_create_pipe(
    conn: &mut Conn,
    p: &Smb1Persona,
    req: &Smb1Header,
    body: &Smb1Body<'_>,
) -> Action {
    let r = Reply::new(req, p);
    if !conn.logged_on || req.uid != conn.uid {
        return r.error(dos_or(
            p,
            Status::Nt(NtStatus::SMB_BAD_UID),
            Status::Dos(2, 0x5b),
        ));
    }
    if conn.tid == 0 || req.tid != conn.tid {
        return r.error(dos_or(
            p,
            Status::Nt(NtStatus::SMB_BAD_TID),
            Status::Dos(2, 5),
        ));
    }
    if body.word_count != 24 {
        return r.error(Status::Nt(NtStatus::INVALID_SMB));
    }
    let name = read_string(req, body, 0);
    if let Some(st) = checks::pipe_status(conn.persona.name, &name) {
        return r.error(Status::Nt(st));
    }
    let mut w = Vec::with_capacity(68);
    put_smb1_andx(&mut w, Smb1Command::NO_ANDX, smb1_bytes_offset(68) as u16);
    w.push(0); // OpLockLevel
    w.extend_from_slice(&PIPE_FID.to_le_bytes());
    w.extend_from_slice(&nt_create::FILE_OPEN.to_le_bytes()); // CreateDisposition
    w.extend_from_slice(&[0; 32]); // the four times: 0 for a pipe
    w.extend_from_slice(&0x80u32.to_le_bytes()); // ExtFileAttributes: NORMAL
    w.extend_from_slice(&4096u64.to_le_bytes()); // AllocationSize
    w.extend_from_slice(&0u64.to_le_bytes()); // EndOfFile
    w.extend_from_slice(&nt_create::FILE_TYPE_MESSAGE_MODE_PIPE.to_le_bytes());
    w.extend_from_slice(&0x05FFu16.to_le_bytes()); // NMPipeStatus: message mode, 255 instances
    w.push(0); // Directory
    Action::Reply(r.build(Status::Nt(NtStatus::SUCCESS), &w, &[]))
}

/// CLOSE ([MS-CIFS] 2.2.4.5) of the pipe's FID; any other FID is STATUS_INVALID_HANDLE.
fn close(conn: &mut Conn, p: &Smb1Persona, req: &Smb1Header, body: &Smb1Body<'_>) -> Action {
    let r = Reply::new(req, p);
    if !conn.logged_on || req.uid != conn.uid {
        return r.error(dos_or(
            p,
            Status::Nt(NtStatus::SMB_BAD_UID),
            Status::Dos(2, 0x5b),
        ));
    }
    if body.word_count != 3 || u16_le_at(body.words, 0) != Some(PIPE_FID) {
        return r.error(dos_or(
            p,
            Status::Nt(NtStatus::INVALID_HANDLE),
            Status::Dos(1, 6),
        ));
    }
    Action::Reply(r.build(Status::Nt(NtStatus::SUCCESS), &[], &[]))
}
