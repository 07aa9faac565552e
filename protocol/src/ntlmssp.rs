//! NTLMSSP messages ([MS-NLMP] 2.2): the client NEGOTIATE, the server CHALLENGE — whose target
//! info and VERSION identify the host (NetBIOS/DNS names, OS build), over SMB1 or SMB2 — and the
//! client AUTHENTICATE, anonymous or NTLMv2 ([MS-NLMP] 3.3.2).
//!
//! Secrets: the password and every key derived from it live only inside
//! [`build_ntlmssp_authenticate`]; no struct here stores them, so no Debug output can show them.

use std::fmt;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use md4::{Digest, Md4};
use md5::Md5;

use nom::bytes::complete::{tag, take};
use nom::number::complete::{le_u16, le_u32, le_u64, le_u8};
use nom::{IResult, Parser};

use crate::error::{ParseError, Result};
use crate::util::{run, slice_at, take_oemz, utf16le, utf16le_to_string};

/// `NTLMSSP\0`.
/// Spec: [MS-NLMP] 2.2.1 (Signature).
pub const NTLMSSP_SIGNATURE: [u8; 8] = *b"NTLMSSP\0";

/// MessageType of the three NTLMSSP messages ([MS-NLMP] 2.2.1.1-2.2.1.3).
pub mod message_type {
    /// NtLmNegotiate.
    pub const NEGOTIATE: u32 = 0x0000_0001;
    /// NtLmChallenge.
    pub const CHALLENGE: u32 = 0x0000_0002;
    /// NtLmAuthenticate.
    pub const AUTHENTICATE: u32 = 0x0000_0003;
}

/// AvId of an AV_PAIR ([MS-NLMP] 2.2.2.1).
pub mod av_id {
    /// MsvAvEOL: ends the list.
    pub const EOL: u16 = 0x0000;
    /// MsvAvNbComputerName.
    pub const NB_COMPUTER_NAME: u16 = 0x0001;
    /// MsvAvNbDomainName.
    pub const NB_DOMAIN_NAME: u16 = 0x0002;
    /// MsvAvDnsComputerName.
    pub const DNS_COMPUTER_NAME: u16 = 0x0003;
    /// MsvAvDnsDomainName.
    pub const DNS_DOMAIN_NAME: u16 = 0x0004;
    /// MsvAvDnsTreeName.
    pub const DNS_TREE_NAME: u16 = 0x0005;
    /// MsvAvFlags.
    pub const FLAGS: u16 = 0x0006;
    /// MsvAvTimestamp.
    pub const TIMESTAMP: u16 = 0x0007;
}

/// Appends one AV_PAIR ([MS-NLMP] 2.2.2.1): AvId, AvLen, Value. A value over 65535 bytes cannot be
/// encoded and is cut.
pub fn put_ntlmssp_av_pair(out: &mut Vec<u8>, id: u16, value: &[u8]) {
    let value = value.get(..usize::from(u16::MAX)).unwrap_or(value);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
}

/// Most AV_PAIRs read from a CHALLENGE's target info ([MS-NLMP] 2.2.2.1); Windows sends about ten.
pub const MAX_AV_PAIRS: usize = 64;

/// Longest name kept from an AV_PAIR or TargetName, in characters.
/// Bounds the names of [MS-NLMP] 2.2.1.2 (TargetName) and 2.2.2.1 (AV_PAIR values).
pub const MAX_NAME_CHARS: usize = 256;

/// NegotiateFlags ([MS-NLMP] 2.2.2.5).
pub mod flags {
    /// NTLMSSP_NEGOTIATE_UNICODE.
    pub const UNICODE: u32 = 0x0000_0001;
    /// NTLM_NEGOTIATE_OEM.
    pub const OEM: u32 = 0x0000_0002;
    /// NTLMSSP_REQUEST_TARGET.
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    /// NTLMSSP_NEGOTIATE_SIGN.
    pub const SIGN: u32 = 0x0000_0010;
    /// NTLMSSP_NEGOTIATE_SEAL.
    pub const SEAL: u32 = 0x0000_0020;
    /// NTLMSSP_NEGOTIATE_LM_KEY.
    pub const LM_KEY: u32 = 0x0000_0080;
    /// NTLMSSP_NEGOTIATE_NTLM.
    pub const NTLM: u32 = 0x0000_0200;
    /// NTLMSSP_ANONYMOUS ("J").
    pub const ANONYMOUS: u32 = 0x0000_0800;
    /// NTLMSSP_NEGOTIATE_ALWAYS_SIGN.
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    /// NTLMSSP_TARGET_TYPE_DOMAIN.
    pub const TARGET_TYPE_DOMAIN: u32 = 0x0001_0000;
    /// NTLMSSP_TARGET_TYPE_SERVER.
    pub const TARGET_TYPE_SERVER: u32 = 0x0002_0000;
    /// NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY.
    pub const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    /// NTLMSSP_NEGOTIATE_TARGET_INFO.
    pub const TARGET_INFO: u32 = 0x0080_0000;
    /// NTLMSSP_NEGOTIATE_VERSION.
    pub const VERSION: u32 = 0x0200_0000;
    /// NTLMSSP_NEGOTIATE_128.
    pub const N128: u32 = 0x2000_0000;
    /// NTLMSSP_NEGOTIATE_KEY_EXCH.
    pub const KEY_EXCH: u32 = 0x4000_0000;
    /// NTLMSSP_NEGOTIATE_56.
    pub const N56: u32 = 0x8000_0000;
}

/// Flags of our NEGOTIATE: Windows 7's 0xE2088297 (56, KEY_EXCH, 128, VERSION, extended session
/// security, ALWAYS_SIGN, NTLM, LM_KEY, SIGN, REQUEST_TARGET, OEM, UNICODE) plus TARGET_INFO.
/// Spec: [MS-NLMP] 2.2.1.1, 2.2.2.5.
pub const NEGOTIATE_FLAGS: u32 = 0xE288_8297;

/// The Version we announce: 6.1 build 7601, NTLMSSP_REVISION_W2K3 (15), as Windows 7 SP1 does.
const CLIENT_VERSION: [u8; 8] = [6, 1, 0xB1, 0x1D, 0, 0, 0, 15];

/// Builds an NTLMSSP NEGOTIATE_MESSAGE ([MS-NLMP] 2.2.1.1): no domain or workstation supplied,
/// flags [`NEGOTIATE_FLAGS`], Version 6.1.7601. 40 bytes.
pub fn build_ntlmssp_negotiate() -> Bytes {
    let mut m = Vec::with_capacity(40);
    m.extend_from_slice(&NTLMSSP_SIGNATURE);
    m.extend_from_slice(&message_type::NEGOTIATE.to_le_bytes());
    m.extend_from_slice(&NEGOTIATE_FLAGS.to_le_bytes());
    // DomainNameFields and WorkstationFields: empty, offset = end of the message.
    for _ in 0..2 {
        m.extend_from_slice(&0u16.to_le_bytes());
        m.extend_from_slice(&0u16.to_le_bytes());
        m.extend_from_slice(&40u32.to_le_bytes());
    }
    m.extend_from_slice(&CLIENT_VERSION);
    m.into()
}

/// The VERSION structure ([MS-NLMP] 2.2.2.10): the server's OS version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NtlmsspVersion {
    /// ProductMajorVersion.
    pub major: u8,
    /// ProductMinorVersion.
    pub minor: u8,
    /// ProductBuild.
    pub build: u16,
    /// NTLMRevisionCurrent (15 = NTLMSSP_REVISION_W2K3).
    pub revision: u8,
}

impl fmt::Display for NtlmsspVersion {
    /// `major.minor.build`, e.g. "6.1.7601".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.build)
    }
}

/// The AV_PAIRs of a CHALLENGE's TargetInfo that identify the host ([MS-NLMP] 2.2.2.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NtlmsspTargetInfo {
    /// MsvAvNbComputerName (1).
    pub nb_computer_name: Option<String>,
    /// MsvAvNbDomainName (2).
    pub nb_domain_name: Option<String>,
    /// MsvAvDnsComputerName (3).
    pub dns_computer_name: Option<String>,
    /// MsvAvDnsDomainName (4).
    pub dns_domain_name: Option<String>,
    /// MsvAvDnsTreeName (5).
    pub dns_tree_name: Option<String>,
    /// MsvAvFlags (6).
    pub flags: Option<u32>,
    /// MsvAvTimestamp (7): FILETIME, 100 ns since 1601-01-01 UTC.
    pub timestamp: Option<u64>,
}

/// A parsed CHALLENGE_MESSAGE ([MS-NLMP] 2.2.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtlmsspChallenge {
    /// NegotiateFlags chosen by the server.
    pub flags: u32,
    /// ServerChallenge (a nonce, not a secret).
    pub server_challenge: [u8; 8],
    /// TargetName (the NetBIOS domain or server name).
    pub target_name: Option<String>,
    /// Identity fields decoded from TargetInfo.
    pub target_info: NtlmsspTargetInfo,
    /// TargetInfo exactly as sent (echoed inside the NTLMv2 response).
    pub target_info_raw: Vec<u8>,
    /// Version, when the server sent one.
    pub version: Option<NtlmsspVersion>,
}

fn name(b: &[u8]) -> String {
    let s = utf16le_to_string(b);
    // No more bytes than the bound: no more characters either, nothing to cut.
    if s.len() <= MAX_NAME_CHARS {
        return s;
    }
    s.chars().take(MAX_NAME_CHARS).collect()
}

/// A (Len, MaxLen, BufferOffset) field triple ([MS-NLMP] 2.2.1.2): where a payload field sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PayloadField {
    len: u16,
    offset: u32,
}

impl PayloadField {
    /// The field's bytes in `msg` (offsets count from the signature), a typed error when they run
    /// past the message; `None` when the field is empty.
    fn get<'a>(self, what: &'static str, msg: &'a [u8]) -> Result<Option<&'a [u8]>> {
        if self.len == 0 {
            return Ok(None);
        }
        let offset = usize::try_from(self.offset)
            .map_err(|_| ParseError::invalid(what, "offset overflow"))?;
        slice_at(what, msg, offset, usize::from(self.len)).map(Some)
    }
}

fn payload_field(i: &[u8]) -> IResult<&[u8], PayloadField> {
    let (i, len) = le_u16.parse(i)?;
    let (i, _max_len) = le_u16.parse(i)?;
    let (i, offset) = le_u32.parse(i)?;
    Ok((i, PayloadField { len, offset }))
}

/// One AV_PAIR ([MS-NLMP] 2.2.2.1): AvId, AvLen, Value.
fn av_pair(i: &[u8]) -> IResult<&[u8], (u16, &[u8])> {
    let (i, av_id) = le_u16.parse(i)?;
    let (i, av_len) = le_u16.parse(i)?;
    let (i, value) = take(av_len).parse(i)?;
    Ok((i, (av_id, value)))
}

/// Parses the AV_PAIR list ([MS-NLMP] 2.2.2.1), at most [`MAX_AV_PAIRS`] entries, stopping at
/// MsvAvEOL. A pair running past the end, or an MsvAvFlags / MsvAvTimestamp value shorter than
/// its type, is an error.
pub fn parse_ntlmssp_av_pairs(ti: &[u8]) -> Result<NtlmsspTargetInfo> {
    let mut out = NtlmsspTargetInfo::default();
    walk_av_pairs(ti, |av_id, value| {
        let le = |n: usize| {
            value
                .get(..n)
                .map(|b| b.iter().rev().fold(0u64, |a, &x| a << 8 | u64::from(x)))
        };
        match av_id {
            av_id::NB_COMPUTER_NAME => out.nb_computer_name = Some(name(value)),
            av_id::NB_DOMAIN_NAME => out.nb_domain_name = Some(name(value)),
            av_id::DNS_COMPUTER_NAME => out.dns_computer_name = Some(name(value)),
            av_id::DNS_DOMAIN_NAME => out.dns_domain_name = Some(name(value)),
            av_id::DNS_TREE_NAME => out.dns_tree_name = Some(name(value)),
            // The walk checked their lengths.
            av_id::FLAGS => out.flags = le(4).and_then(|v| u32::try_from(v).ok()),
            av_id::TIMESTAMP => out.timestamp = le(8),
            _ => {}
        }
    })?;
    Ok(out)
}

/// Walks the AV_PAIR list ([MS-NLMP] 2.2.2.1) as [`parse_ntlmssp_av_pairs`] reads it (the same
/// bound, the same errors: a pair running past the end, an MsvAvFlags or MsvAvTimestamp value
/// shorter than its type), handing each pair before MsvAvEOL to `f`.
fn walk_av_pairs<'a>(ti: &'a [u8], mut f: impl FnMut(u16, &'a [u8])) -> Result<()> {
    const WHAT: &str = "NTLMSSP AV_PAIR";
    let mut i = ti;
    for _ in 0..MAX_AV_PAIRS {
        if i.is_empty() {
            return Ok(()); // some servers omit MsvAvEOL
        }
        let (rest, (av_id, value)) = run(WHAT, i, av_pair)?;
        match av_id {
            av_id::EOL => return Ok(()),
            av_id::FLAGS => {
                run("NTLMSSP MsvAvFlags", value, le_u32)?;
            }
            av_id::TIMESTAMP => {
                run("NTLMSSP MsvAvTimestamp", value, le_u64)?;
            }
            _ => {}
        }
        f(av_id, value);
        i = rest;
    }
    Err(ParseError::TooLarge {
        what: "NTLMSSP AV_PAIR list",
        len: MAX_AV_PAIRS + 1,
        max: MAX_AV_PAIRS,
    })
}

/// Length of a CHALLENGE_MESSAGE without its Version and payload.
const CHALLENGE_FIXED_LEN: usize = 48;

/// The fixed fields of a CHALLENGE_MESSAGE ([MS-NLMP] 2.2.1.2 table order).
struct ChallengeFixed {
    message_type: u32,
    target_name: PayloadField,
    negotiate_flags: u32,
    server_challenge: [u8; 8],
    target_info: PayloadField,
}

fn challenge_fixed(i: &[u8]) -> IResult<&[u8], ChallengeFixed> {
    let (i, _signature) = tag(&NTLMSSP_SIGNATURE[..]).parse(i)?;
    let (i, message_type) = le_u32.parse(i)?;
    let (i, target_name) = payload_field(i)?;
    let (i, negotiate_flags) = le_u32.parse(i)?;
    let (i, server_challenge) = take(8usize).parse(i)?;
    let (i, _reserved) = take(8usize).parse(i)?;
    let (i, target_info) = payload_field(i)?;
    let mut challenge = [0u8; 8];
    challenge.copy_from_slice(server_challenge);
    Ok((
        i,
        ChallengeFixed {
            message_type,
            target_name,
            negotiate_flags,
            server_challenge: challenge,
            target_info,
        },
    ))
}

/// The VERSION structure ([MS-NLMP] 2.2.2.10).
fn version(i: &[u8]) -> IResult<&[u8], NtlmsspVersion> {
    let (i, major) = le_u8.parse(i)?;
    let (i, minor) = le_u8.parse(i)?;
    let (i, build) = le_u16.parse(i)?;
    let (i, _reserved) = take(3usize).parse(i)?;
    let (i, revision) = le_u8.parse(i)?;
    Ok((
        i,
        NtlmsspVersion {
            major,
            minor,
            build,
            revision,
        },
    ))
}

/// Parses an NTLMSSP CHALLENGE_MESSAGE ([MS-NLMP] 2.2.1.2) starting at its signature (use
/// [`crate::spnego::spnego_find_ntlmssp`] to locate it in a SPNEGO blob). A message shorter than
/// the 48 fixed bytes is [`ParseError::Truncated`], never zeroed fields. Offsets are bounded by the
/// message; the Version is read when NTLMSSP_NEGOTIATE_VERSION is set and the payload starts at or
/// after byte 56.
pub fn parse_ntlmssp_challenge(i: &[u8]) -> Result<NtlmsspChallenge> {
    let (after_fixed, fixed) = challenge_head(i)?;
    let flags = fixed.negotiate_flags;
    let target_name = fixed
        .target_name
        .get("NTLMSSP TargetName", i)?
        .map(|raw| target_name_text(flags, raw));
    let (target_info_raw, target_info) = match fixed.target_info.get("NTLMSSP TargetInfo", i)? {
        Some(raw) => (raw.to_vec(), parse_ntlmssp_av_pairs(raw)?),
        None => (Vec::new(), NtlmsspTargetInfo::default()),
    };
    // The Version sits between the fixed fields and the payload: only read it when the payload
    // leaves room for it (older servers put TargetName right at byte 48).
    let payload_start = [fixed.target_name, fixed.target_info]
        .iter()
        .filter(|f| f.len > 0)
        .filter_map(|f| usize::try_from(f.offset).ok())
        .min()
        .unwrap_or(usize::MAX);
    let version = if flags & flags::VERSION != 0 && payload_start >= CHALLENGE_FIXED_LEN + 8 {
        version(after_fixed).ok().map(|(_, v)| v)
    } else {
        None
    };
    Ok(NtlmsspChallenge {
        flags,
        server_challenge: fixed.server_challenge,
        target_name,
        target_info,
        target_info_raw,
        version,
    })
}

/// The fixed part of a CHALLENGE_MESSAGE, checked (length, signature, MessageType), and what
/// follows it.
fn challenge_head(i: &[u8]) -> Result<(&[u8], ChallengeFixed)> {
    const WHAT: &str = "NTLMSSP CHALLENGE";
    if i.len() < CHALLENGE_FIXED_LEN {
        return Err(ParseError::Truncated {
            what: WHAT,
            need: CHALLENGE_FIXED_LEN,
            have: i.len(),
        });
    }
    if i.get(..NTLMSSP_SIGNATURE.len()) != Some(&NTLMSSP_SIGNATURE[..]) {
        return Err(ParseError::invalid(WHAT, "no NTLMSSP signature"));
    }
    let (after_fixed, fixed) = run(WHAT, i, challenge_fixed)?;
    if fixed.message_type != message_type::CHALLENGE {
        return Err(ParseError::invalid(
            WHAT,
            format!("MessageType {} (expected 2)", fixed.message_type),
        ));
    }
    Ok((after_fixed, fixed))
}

/// TargetName as text: UTF-16LE when NTLMSSP_NEGOTIATE_UNICODE is set, else OEM.
fn target_name_text(flags: u32, raw: &[u8]) -> String {
    if flags & flags::UNICODE != 0 {
        name(raw)
    } else {
        take_oemz(raw).0.chars().take(MAX_NAME_CHARS).collect()
    }
}

/// The server's NetBIOS name a CHALLENGE_MESSAGE ([MS-NLMP] 2.2.1.2) gives: MsvAvNbComputerName
/// of its TargetInfo, else its TargetName. The same answer and the same errors as
/// `parse_ntlmssp_challenge(i)` then `target_info.nb_computer_name.or(target_name)`, without
/// decoding the fields it does not return (a capture reader asks this of every server).
pub fn ntlmssp_challenge_computer_name(i: &[u8]) -> Result<Option<String>> {
    let (_, fixed) = challenge_head(i)?;
    let target_name = fixed.target_name.get("NTLMSSP TargetName", i)?;
    let mut computer = None;
    if let Some(raw) = fixed.target_info.get("NTLMSSP TargetInfo", i)? {
        walk_av_pairs(raw, |av_id, value| {
            if av_id == av_id::NB_COMPUTER_NAME {
                computer = Some(value);
            }
        })?;
    }
    Ok(match computer {
        Some(v) => Some(name(v)),
        None => target_name.map(|raw| target_name_text(fixed.negotiate_flags, raw)),
    })
}

type HmacMd5 = Hmac<Md5>;

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // HMAC accepts keys of any length; new_from_slice cannot fail for HMAC.
    let mut out = [0u8; 16];
    if let Ok(mut mac) = HmacMd5::new_from_slice(key) {
        for p in parts {
            mac.update(p);
        }
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

/// NTOWFv2 ([MS-NLMP] 3.3.2): HMAC_MD5(MD4(UNICODE(password)), UNICODE(UPPER(user) + domain)).
/// The result is a password equivalent: callers must not log or keep it.
pub fn ntowfv2(user: &str, domain: &str, password: &str) -> [u8; 16] {
    let nt_hash = Md4::digest(utf16le(password));
    let mut ud = utf16le(&user.to_uppercase());
    ud.extend_from_slice(&utf16le(domain));
    hmac_md5(&nt_hash, &[&ud])
}

/// The NTLMv2 responses ([MS-NLMP] 3.3.2) for `response_key` (NTOWFv2): returns
/// (NtChallengeResponse = NTProofStr ‖ temp, LmChallengeResponse = LMv2). `temp` is
/// 0x01 0x01 Z(6) ‖ time ‖ client_challenge ‖ Z(4) ‖ target_info ‖ Z(4).
pub fn ntlmv2_responses(
    response_key: &[u8; 16],
    server_challenge: &[u8; 8],
    client_challenge: &[u8; 8],
    time: u64,
    target_info: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let mut temp = vec![1u8, 1, 0, 0, 0, 0, 0, 0];
    temp.extend_from_slice(&time.to_le_bytes());
    temp.extend_from_slice(client_challenge);
    temp.extend_from_slice(&[0; 4]);
    temp.extend_from_slice(target_info);
    temp.extend_from_slice(&[0; 4]);
    let proof = hmac_md5(response_key, &[server_challenge, &temp]);
    let mut nt = proof.to_vec();
    nt.extend_from_slice(&temp);
    let mut lm = hmac_md5(response_key, &[server_challenge, client_challenge]).to_vec();
    lm.extend_from_slice(client_challenge);
    (nt, lm)
}

/// Builds an AUTHENTICATE_MESSAGE ([MS-NLMP] 2.2.1.3) answering `challenge`.
///
/// - `creds = None`: anonymous ([MS-NLMP] 3.2.5.1.2 / 3.3.2): empty user, domain and
///   NtChallengeResponse, LmChallengeResponse Z(1), flag NTLMSSP_ANONYMOUS.
/// - `creds = Some((user, domain, password))`: NTLMv2 with `client_challenge`; the time is the
///   server's MsvAvTimestamp when present (then LmChallengeResponse is Z(24), as [MS-NLMP]
///   3.1.5.1.2 says), else `timestamp_fallback` (FILETIME) with an LMv2 response.
///
/// Flags are the server's, restricted to what we negotiated, without KEY_EXCH/SIGN/SEAL: smb1scan
/// sends no EncryptedRandomSessionKey and never signs or seals (Samba rejects a KEY_EXCH
/// AUTHENTICATE without a 16-byte key). No MIC. Version 6.1.7601 is included.
pub fn build_ntlmssp_authenticate(
    challenge: &NtlmsspChallenge,
    creds: Option<(&str, &str, &str)>,
    client_challenge: [u8; 8],
    timestamp_fallback: u64,
) -> Bytes {
    build_ntlmssp_authenticate_keyed(challenge, creds, client_challenge, timestamp_fallback).0
}

/// As [`build_ntlmssp_authenticate`], also returning the session key when credentials were used:
/// for NTLMv2 without KEY_EXCH, ExportedSessionKey = KeyExchangeKey = SessionBaseKey =
/// HMAC_MD5(NTOWFv2, NTProofStr) ([MS-NLMP] 3.3.2, 3.4.5.1). SMB1 signing keys on it
/// ([MS-SMB] 3.2.5.3). Anonymous logons have no session key.
pub fn build_ntlmssp_authenticate_keyed(
    challenge: &NtlmsspChallenge,
    creds: Option<(&str, &str, &str)>,
    client_challenge: [u8; 8],
    timestamp_fallback: u64,
) -> (Bytes, Option<[u8; 16]>) {
    let mut session_base_key = None;
    let mut fl = (challenge.flags & NEGOTIATE_FLAGS)
        & !(flags::KEY_EXCH | flags::SIGN | flags::SEAL | flags::LM_KEY | flags::TARGET_INFO);
    fl |= flags::UNICODE | flags::NTLM | flags::VERSION;
    let (user, domain, lm, nt) = match creds {
        None => {
            fl |= flags::ANONYMOUS;
            (String::new(), String::new(), vec![0u8], Vec::new())
        }
        Some((user, domain, password)) => {
            let key = ntowfv2(user, domain, password);
            let time = challenge
                .target_info
                .timestamp
                .unwrap_or(timestamp_fallback);
            let (nt, lmv2) = ntlmv2_responses(
                &key,
                &challenge.server_challenge,
                &client_challenge,
                time,
                &challenge.target_info_raw,
            );
            if let Some(proof) = nt.get(..16) {
                session_base_key = Some(hmac_md5(&key, &[proof]));
            }
            let lm = if challenge.target_info.timestamp.is_some() {
                vec![0u8; 24]
            } else {
                lmv2
            };
            (user.to_string(), domain.to_string(), lm, nt)
        }
    };
    let domain = utf16le(&domain);
    let user = utf16le(&user);
    let workstation: Vec<u8> = Vec::new();
    let session_key: Vec<u8> = Vec::new();

    const HEADER: usize = 72; // 64 + Version; no MIC
                              // Payload order as Windows writes it: domain, user, workstation, LM, NT, session key.
    let mut payload = Vec::new();
    let mut field = |data: &[u8]| -> (u16, u32) {
        let off = HEADER + payload.len();
        payload.extend_from_slice(data);
        (data.len() as u16, off as u32)
    };
    let f_dom = field(&domain);
    let f_user = field(&user);
    let f_ws = field(&workstation);
    let f_lm = field(&lm);
    let f_nt = field(&nt);
    let f_key = field(&session_key);

    let mut m = Vec::with_capacity(HEADER + payload.len());
    m.extend_from_slice(&NTLMSSP_SIGNATURE);
    m.extend_from_slice(&message_type::AUTHENTICATE.to_le_bytes());
    for (len, off) in [f_lm, f_nt, f_dom, f_user, f_ws, f_key] {
        m.extend_from_slice(&len.to_le_bytes());
        m.extend_from_slice(&len.to_le_bytes());
        m.extend_from_slice(&off.to_le_bytes());
    }
    m.extend_from_slice(&fl.to_le_bytes());
    m.extend_from_slice(&CLIENT_VERSION);
    m.extend_from_slice(&payload);
    (m.into(), session_base_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::hex;

    /// (offset, len) of the (Len, MaxLen, BufferOffset) triple at `k` of a built message.
    fn fields_at(m: &[u8], k: usize) -> Option<(usize, usize)> {
        let (_, f) = payload_field(m.get(k..)?).ok()?;
        Some((usize::try_from(f.offset).ok()?, usize::from(f.len)))
    }

    fn u32_at(b: &[u8], k: usize) -> Option<u32> {
        le_u32::<_, nom::error::Error<&[u8]>>
            .parse(b.get(k..)?)
            .ok()
            .map(|(_, v)| v)
    }

    fn u64_at(b: &[u8], k: usize) -> Option<u64> {
        le_u64::<_, nom::error::Error<&[u8]>>
            .parse(b.get(k..)?)
            .ok()
            .map(|(_, v)| v)
    }

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len() / 2)
            .filter_map(|k| u8::from_str_radix(s.get(2 * k..2 * k + 2)?, 16).ok())
            .collect()
    }

    /// The CHALLENGE_MESSAGE of [MS-NLMP] 4.2.4.3 (NTLMv2 example): flags 0xE28A8233,
    /// ServerChallenge 0123456789abcdef, TargetName "Server", TargetInfo
    /// {NbDomainName "Domain", NbComputerName "Server"}, Version 6.0.6000 rev 15.
    fn spec_challenge() -> Vec<u8> {
        unhex(
            "4e544c4d53535000 02000000 0c000c00 38000000 33828ae2
             0123456789abcdef 0000000000000000 24002400 44000000
             060070170000000f
             530065007200760065007200
             02000c0044006f006d00610069006e00 01000c00530065007200760065007200 00000000",
        )
    }

    #[test]
    fn negotiate_golden() {
        let m = build_ntlmssp_negotiate();
        assert_eq!(
            hex(&m),
            "4e544c4d5353500001000000978288e2000000002800000000000000280000000601b11d0000000f"
        );
    }

    /// The lean name reader gives what the full parse gives, on the spec's message and on every
    /// cut and every one-byte change of it (errors included).
    #[test]
    fn computer_name_is_the_full_parse_answer() {
        let base = spec_challenge();
        let full = |m: &[u8]| {
            parse_ntlmssp_challenge(m).map(|c| c.target_info.nb_computer_name.or(c.target_name))
        };
        let mut cases = vec![base.clone()];
        for n in 0..base.len() {
            cases.push(base[..n].to_vec());
            for v in [0x00u8, 0x01, 0x02, 0x06, 0x07, 0x20, 0x7f, 0xff] {
                let mut m = base.clone();
                m[n] = v;
                cases.push(m);
            }
        }
        let (mut names, mut errors) = (0, 0);
        for m in &cases {
            let (a, b) = (ntlmssp_challenge_computer_name(m), full(m));
            assert_eq!(a, b, "{}", hex(m));
            match a {
                Ok(Some(_)) => names += 1,
                Err(_) => errors += 1,
                Ok(None) => {}
            }
        }
        assert!(names > 100 && errors > 50, "{names} names, {errors} errors");
    }

    #[test]
    fn parse_spec_challenge() {
        let c = parse_ntlmssp_challenge(&spec_challenge()).expect("parse");
        assert_eq!(c.flags, 0xE28A_8233);
        assert_eq!(
            c.server_challenge,
            [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]
        );
        assert_eq!(c.target_name.as_deref(), Some("Server"));
        assert_eq!(
            c.target_info,
            NtlmsspTargetInfo {
                nb_computer_name: Some("Server".into()),
                nb_domain_name: Some("Domain".into()),
                ..NtlmsspTargetInfo::default()
            }
        );
        let v = c.version.expect("version");
        assert_eq!(v.to_string(), "6.0.6000");
        assert_eq!(v.revision, 15);
        assert_eq!(c.target_info_raw.len(), 36);
    }

    /// [MS-NLMP] 4.2.4: user "User", domain "Domain", password "Password", ServerChallenge
    /// 0123456789abcdef, ClientChallenge aa*8, time 0. NTOWFv2 = 0c868a403bfd7a93a3001ef22ef02e3f
    /// (4.2.4.1.1); NTProofStr = 68cd0ab851e51c96aabc927bebef6a1c and LMv2 =
    /// 86c35097ac9cec102554764a57cccc19 ‖ aa*8 (4.2.4.2.1-2).
    #[test]
    fn ntlmv2_matches_ms_nlmp_4_2_4() {
        assert_eq!(
            hex(&ntowfv2("User", "Domain", "Password")),
            "0c868a403bfd7a93a3001ef22ef02e3f"
        );
        let c = parse_ntlmssp_challenge(&spec_challenge()).expect("parse");
        let m = build_ntlmssp_authenticate(&c, Some(("User", "Domain", "Password")), [0xAA; 8], 0);
        assert_eq!(m.get(..8), Some(&b"NTLMSSP\0"[..]));
        assert_eq!(u32_at(&m, 8), Some(3));
        let field = |k: usize| {
            let (off, len) = fields_at(&m, k).expect("fields");
            m.get(off..off + len).expect("in bounds").to_vec()
        };
        assert_eq!(
            hex(&field(12)),
            "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa"
        );
        let nt = field(20);
        assert_eq!(
            hex(nt.get(..16).expect("proof")),
            "68cd0ab851e51c96aabc927bebef6a1c"
        );
        // temp = 0101 Z(6) time(0) aa*8 Z(4) TargetInfo Z(4)
        assert_eq!(
            hex(nt.get(16..44).expect("temp")),
            format!(
                "0101000000000000{}{}00000000",
                "00".repeat(8),
                "aa".repeat(8)
            )
        );
        assert_eq!(nt.len(), 16 + 28 + 36 + 4);
        assert_eq!(field(28), utf16le("Domain"));
        assert_eq!(field(36), utf16le("User"));
        let fl = u32_at(&m, 60).expect("flags");
        assert_eq!(fl & flags::ANONYMOUS, 0);
        assert_eq!(fl & flags::KEY_EXCH, 0);
        // Debug of the challenge holds no secret (nothing derived from the password).
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("Password"));
    }

    #[test]
    fn anonymous_authenticate_golden() {
        let c = parse_ntlmssp_challenge(&spec_challenge()).expect("parse");
        let m = build_ntlmssp_authenticate(&c, None, [0xAA; 8], 0);
        // LM Z(1) at 72; NT, domain, user, workstation, session key empty (offsets in order).
        // Flags: (0xE28A8233 & 0xE2888297) minus KEY_EXCH/SIGN/SEAL/LM_KEY/TARGET_INFO,
        // plus UNICODE|NTLM|VERSION|ANONYMOUS = 0xA2088A03.
        assert_eq!(
            hex(&m),
            concat!(
                "4e544c4d53535000",
                "03000000",
                "0100010048000000",
                "0000000049000000",
                "0000000048000000",
                "0000000048000000",
                "0000000048000000",
                "0000000049000000",
                "038a08a2",
                "0601b11d0000000f",
                "00"
            )
        );
    }

    #[test]
    fn timestamp_in_target_info_gives_z24_lm() {
        // TargetInfo: NbComputerName "S", Timestamp 0x01D2..., EOL.
        let mut ti = unhex("0100 0200 5300 0700 0800 0080d3e7a1b1d201 0000 0000");
        let mut msg = unhex("4e544c4d53535000 02000000 00000000 38000000 15828ae2 1111111111111111 0000000000000000");
        msg.extend_from_slice(&(ti.len() as u16).to_le_bytes());
        msg.extend_from_slice(&(ti.len() as u16).to_le_bytes());
        msg.extend_from_slice(&56u32.to_le_bytes());
        msg.extend_from_slice(&unhex("0a00614a0000000f")); // 10.0.19041
        msg.append(&mut ti);
        let c = parse_ntlmssp_challenge(&msg).expect("parse");
        assert_eq!(
            c.version.map(|v| v.to_string()).as_deref(),
            Some("10.0.19041")
        );
        assert_eq!(c.target_info.timestamp, Some(0x01D2_B1A1_E7D3_8000));
        assert_eq!(c.target_name, None);
        let m = build_ntlmssp_authenticate(&c, Some(("u", "d", "p")), [1; 8], 5);
        let (off, len) = fields_at(&m, 12).expect("lm");
        assert_eq!(m.get(off..off + len), Some(&[0u8; 24][..]));
        let (off, _) = fields_at(&m, 20).expect("nt");
        // The server's timestamp, not the fallback, is in temp.
        assert_eq!(u64_at(&m, off + 24), Some(0x01D2_B1A1_E7D3_8000));
    }

    #[test]
    fn hostile_challenges() {
        let good = spec_challenge();
        assert!(parse_ntlmssp_challenge(&good[..47]).is_err());
        let mut bad = good.clone();
        bad[8] = 3; // MessageType
        assert!(parse_ntlmssp_challenge(&bad).is_err());
        let mut bad = good.clone();
        bad[44..48].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes()); // TargetInfo offset
        assert!(parse_ntlmssp_challenge(&bad).is_err());
        let mut bad = good.clone();
        bad[12..14].copy_from_slice(&0xFFFFu16.to_le_bytes()); // TargetName length
        assert!(parse_ntlmssp_challenge(&bad).is_err());
        // An AV pair whose length runs past the list.
        assert!(parse_ntlmssp_av_pairs(&unhex("0100 ff00 5300")).is_err());
        // More than MAX_AV_PAIRS pairs.
        let many: Vec<u8> = std::iter::repeat([9u8, 0, 0, 0])
            .take(MAX_AV_PAIRS + 5)
            .flatten()
            .collect();
        assert!(matches!(
            parse_ntlmssp_av_pairs(&many),
            Err(ParseError::TooLarge { .. })
        ));
        // Truncated pair header.
        assert!(parse_ntlmssp_av_pairs(&[1, 0, 2]).is_err());
    }

    /// A message cut anywhere inside its 48 fixed bytes is a Truncated error, never a CHALLENGE
    /// with zeroed flags or challenge (the fields used to be read with `unwrap_or(0)`).
    #[test]
    fn truncated_challenge_is_an_error_not_zeroed_fields() {
        let good = spec_challenge();
        for cut in 0..CHALLENGE_FIXED_LEN {
            let r = parse_ntlmssp_challenge(&good[..cut]);
            assert!(
                matches!(r, Err(ParseError::Truncated { need: 48, have, .. }) if have == cut),
                "cut at {cut}: {r:?}"
            );
        }
        // Cut inside the payload: TargetName/TargetInfo run past the end.
        for cut in [CHALLENGE_FIXED_LEN, 56, 60, good.len() - 1] {
            assert!(
                matches!(
                    parse_ntlmssp_challenge(&good[..cut]),
                    Err(ParseError::Truncated { .. })
                ),
                "cut at {cut}"
            );
        }
    }

    /// A short MsvAvFlags (4 bytes) or MsvAvTimestamp (8 bytes) value is an error, not an absent
    /// field: before, `u32_at(v, 0)` on a 2-byte value silently gave `flags: None`.
    #[test]
    fn short_av_pair_values_are_errors() {
        assert!(parse_ntlmssp_av_pairs(&unhex("0600 0200 0100 0000 0000")).is_err());
        assert!(parse_ntlmssp_av_pairs(&unhex("0700 0400 01020304 0000 0000")).is_err());
        let ok = parse_ntlmssp_av_pairs(&unhex("0600 0400 02000000 0000 0000")).expect("parse");
        assert_eq!(ok.flags, Some(2));
        // A pair header cut after AvId.
        assert!(matches!(
            parse_ntlmssp_av_pairs(&unhex("0100")),
            Err(ParseError::Nom { .. })
        ));
    }
}
