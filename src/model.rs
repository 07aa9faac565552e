//! The per-host result: the one record every output format is a projection of.
//!
//! # JSON Lines schema (version [`SCHEMA_VERSION`])
//! One [`HostResult`] object per scanned (address, port). Enumerations serialise in kebab-case and
//! form closed vocabularies, documented on each type. Optional facts are `null` when not learnt.
//! Readers must ignore unknown keys (new keys may be added without a version bump); a changed
//! meaning or a removed key bumps `schema`.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Version of the JSON record layout.
pub const SCHEMA_VERSION: u32 = 1;

/// One thing to probe: an address, a port, and the name it came from. Built by
/// `crate::targets`, consumed by the engine and the probe; it lives here so neither of them
/// imports the other for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// Address.
    pub ip: IpAddr,
    /// Port: 445 direct, 139 through a NetBIOS session.
    pub port: u16,
    /// Host name the address was resolved from, if any.
    pub hostname: Option<String>,
}

/// Everything learnt about one target (address and port).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostResult {
    /// Layout version ([`SCHEMA_VERSION`]).
    pub schema: u32,
    /// Address scanned.
    pub ip: IpAddr,
    /// Host name the address came from, when the target was given as a name.
    pub hostname: Option<String>,
    /// TCP port (445 direct SMB, 139 NetBIOS session).
    pub port: u16,
    /// Reachability of the port, see [`HostStatus`].
    pub status: HostStatus,
    /// What the SMB1-only negotiate showed.
    pub smb1: Smb1Info,
    /// What the SMB2/3 negotiates showed.
    pub smb2: Smb2Info,
    /// Who the host says it is.
    pub os: OsInfo,
    /// The MS17-010 verdict.
    pub ms17_010: Ms17010,
    /// The DoublePulsar implant verdict.
    pub doublepulsar: DoublePulsar,
    /// Every step that ran, in order: the audit trail behind the verdicts.
    pub steps: Vec<Step>,
    /// When the host's probe started (RFC 3339, UTC).
    pub scanned_at: String,
    /// Wall time spent on this host, milliseconds.
    pub duration_ms: u64,
    /// A human-readable summary of what went wrong, or null.
    pub error: Option<String>,
}

impl HostResult {
    /// A record with nothing learnt yet: status `open` pending, every verdict not tested.
    pub fn new(ip: IpAddr, port: u16, hostname: Option<String>) -> Self {
        HostResult {
            schema: SCHEMA_VERSION,
            ip,
            hostname,
            port,
            status: HostStatus::Open,
            smb1: Smb1Info::default(),
            smb2: Smb2Info::default(),
            os: OsInfo::default(),
            ms17_010: Ms17010::default(),
            doublepulsar: DoublePulsar::default(),
            steps: Vec::new(),
            scanned_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            duration_ms: 0,
            error: None,
        }
    }
}

impl HostResult {
    /// The record of a target name that did not resolve on `port`: every verdict `unknown`
    /// (nothing was tested), the resolver's answer in `error`.
    pub fn unresolved(name: &str, port: u16, why: &str) -> Self {
        let mut r = HostResult::new(
            IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            port,
            Some(name.to_string()),
        );
        r.status = HostStatus::Unresolved;
        r.ms17_010.reason = Some(Reason::Unresolved);
        r.error = Some(format!("cannot resolve `{name}`: {why}"));
        r
    }
}

/// Reachability of the target port. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostStatus {
    /// TCP connected and SMB answered (on at least one probe).
    Open,
    /// TCP connect refused (RST to the SYN).
    Closed,
    /// TCP connect timed out: nothing answered (dropped by a firewall, or no host).
    Filtered,
    /// ICMP unreachable / no route.
    Unreachable,
    /// Connected, then the peer reset the connection before any SMB answer.
    Reset,
    /// Connected, then nothing usable arrived in time.
    Timeout,
    /// Connected, and the peer sent something that is not SMB (or malformed SMB).
    ProtocolError,
    /// The scan was interrupted before this host finished.
    Interrupted,
    /// Any other local error (out of file descriptors, ...), see `error`.
    Error,
    /// The target was given as a host name that did not resolve: nothing was sent. `ip` is
    /// `0.0.0.0` (there is no address), `hostname` holds the name, `error` the resolver's answer.
    Unresolved,
}

/// SMB signing state, from the SecurityMode of a negotiate response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Signing {
    /// The server does not sign.
    Disabled,
    /// The server signs when the client asks.
    Enabled,
    /// The server requires signing.
    Required,
}

/// How `smb1.enabled` was decided. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Smb1Evidence {
    /// Not probed (port closed, scan interrupted, ...).
    #[default]
    NotTested,
    /// The server chose one of our SMB1 dialects: enabled.
    DialectSelected,
    /// The server answered DialectIndex 0xFFFF (Samba with SMB1 off): disabled.
    DialectIndexNone,
    /// The server reset the connection right after the SMB1-only negotiate (Windows with SMB1 off).
    ResetAfterNegotiate,
    /// The server closed the connection (FIN) right after the SMB1-only negotiate.
    ClosedAfterNegotiate,
    /// The server answered our SMB1-only negotiate in SMB2: disabled.
    Smb2Reply,
    /// The server answered the negotiate with an error status.
    ErrorStatus,
    /// No answer before the read timeout: unknown.
    Timeout,
    /// The answer could not be parsed: unknown.
    ProtocolError,
}

/// Result of the SMB1-only NEGOTIATE.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Smb1Info {
    /// true / false / null (unknown).
    pub enabled: Option<bool>,
    /// How that was decided.
    pub evidence: Smb1Evidence,
    /// Dialect chosen, e.g. `NT LM 0.12`.
    pub dialect: Option<String>,
    /// Signing, from SecurityMode.
    pub signing: Option<Signing>,
    /// Raw SecurityMode byte.
    pub security_mode: Option<u8>,
    /// Capabilities (hex string `0x8001e3fc`).
    pub capabilities: Option<String>,
    /// Whether the server negotiated extended security (SPNEGO).
    pub extended_security: Option<bool>,
    /// MaxMpxCount.
    pub max_mpx: Option<u16>,
    /// MaxBufferSize.
    pub max_buffer: Option<u32>,
    /// Server time (RFC 3339) from the negotiate response.
    pub server_time: Option<String>,
    /// Server time zone offset from UTC in minutes (as the server reports it).
    pub server_timezone_min: Option<i16>,
    /// DomainName from a non-extended-security response.
    pub domain: Option<String>,
    /// ServerName from a non-extended-security response.
    pub server_name: Option<String>,
    /// Server GUID from an extended-security response.
    pub server_guid: Option<String>,
}

/// Result of the SMB2/3 NEGOTIATEs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Smb2Info {
    /// true when any SMB2/3 dialect was negotiated; false when the host refused them all; null
    /// when unknown.
    pub enabled: Option<bool>,
    /// Every dialect the host accepted when offered alone, ascending: `2.0.2`, `2.1`, `3.0`,
    /// `3.0.2`, `3.1.1`.
    pub dialects: Vec<String>,
    /// Highest dialect.
    pub max_dialect: Option<String>,
    /// Signing, from SecurityMode.
    pub signing: Option<Signing>,
    /// Server GUID.
    pub server_guid: Option<String>,
    /// Capabilities (hex string).
    pub capabilities: Option<String>,
    /// Server system time (RFC 3339).
    pub server_time: Option<String>,
}

/// Identity of the host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OsInfo {
    /// NativeOS from SESSION_SETUP_ANDX, e.g. `Windows 7 Professional 7601 Service Pack 1`.
    pub native_os: Option<String>,
    /// NativeLanMan, e.g. `Windows 7 Professional 6.1` or `Samba 4.17.12-Debian`.
    pub native_lanman: Option<String>,
    /// PrimaryDomain from SESSION_SETUP_ANDX, or the NetBIOS domain from NTLMSSP.
    pub domain: Option<String>,
    /// NetBIOS computer name (NTLMSSP target info, or the negotiate ServerName).
    pub netbios_name: Option<String>,
    /// NetBIOS domain name (NTLMSSP).
    pub netbios_domain: Option<String>,
    /// DNS computer name (NTLMSSP).
    pub dns_name: Option<String>,
    /// DNS domain name (NTLMSSP).
    pub dns_domain: Option<String>,
    /// DNS tree (forest) name (NTLMSSP).
    pub dns_tree: Option<String>,
    /// NTLMSSP version `major.minor.build`, e.g. `6.1.7601`.
    pub ntlm_version: Option<String>,
    /// Normalised product, e.g. `Windows 7 SP1`, `Windows Server 2008 R2`, `Samba 4.x`.
    pub product: Option<String>,
    /// Build number when known (7601, 14393, ...).
    pub build: Option<u32>,
    /// The host is Samba (CAP_UNIX or a Samba LAN manager string).
    pub samba: bool,
}

/// MS17-010 verdict. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Ms17Verdict {
    /// PeekNamedPipe on FID 0 answered STATUS_INSUFF_SERVER_RESOURCES.
    Vulnerable,
    /// PeekNamedPipe on FID 0 answered STATUS_ACCESS_DENIED or STATUS_INVALID_HANDLE.
    NotVulnerable,
    /// SMB1 is off, so the SMBv1 flaw is not reachable.
    NotExposed,
    /// The test did not reach a verdict; `reason` says why.
    #[default]
    Unknown,
}

/// The MS17-010 check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ms17010 {
    /// Verdict.
    pub verdict: Ms17Verdict,
    /// Why, when the verdict is `unknown` (or how, otherwise): see [`Reason`].
    pub reason: Option<Reason>,
    /// The status that decided it (hex NT status `0xC0000205`, or `DOS:0x02/0x0005`).
    pub status: Option<String>,
    /// Status name, e.g. `STATUS_INSUFF_SERVER_RESOURCES`.
    pub status_name: Option<String>,
}

/// DoublePulsar verdict. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DpVerdict {
    /// The ping's reply had MID = request MID + 16.
    Present,
    /// The reply kept the request's MID.
    Absent,
    /// The ping ran but gave no clear answer; `reason` says why.
    Unknown,
    /// No SMB1 session to ping over.
    #[default]
    NotTested,
}

/// The DoublePulsar ping.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DoublePulsar {
    /// Verdict.
    pub verdict: DpVerdict,
    /// Why, when not present/absent.
    pub reason: Option<Reason>,
    /// `x86` or `x64` when present.
    pub arch: Option<String>,
    /// XOR key derived from the signature (hex `0x...`), when present.
    pub xor_key: Option<String>,
    /// MID of the reply.
    pub reply_mid: Option<u16>,
}

/// Why a check did not reach a verdict (or, for `not-exposed`, what showed SMB1 off).
/// Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// TCP connect refused.
    ConnectionRefused,
    /// TCP connect timed out.
    ConnectTimeout,
    /// Network or host unreachable.
    Unreachable,
    /// SMB1 is disabled on the host.
    Smb1Disabled,
    /// Whether SMB1 is on could not be decided.
    Smb1Unknown,
    /// The anonymous (or credentialed) SESSION_SETUP was refused.
    SessionSetupRefused,
    /// TREE_CONNECT to IPC$ was refused.
    TreeConnectRefused,
    /// No answer to the NetBIOS session request (port 139) in time.
    TimeoutAfterNetbiosSession,
    /// No answer to the negotiate in time.
    TimeoutAfterNegotiate,
    /// No answer to the session setup in time.
    TimeoutAfterSessionSetup,
    /// No answer to the tree connect in time.
    TimeoutAfterTreeConnect,
    /// No answer to the PeekNamedPipe in time.
    TimeoutAfterPeek,
    /// No answer to the DoublePulsar ping in time.
    TimeoutAfterPing,
    /// The peer reset the connection.
    ConnectionReset,
    /// The peer closed the connection.
    ConnectionClosed,
    /// A DOS-style error came back at the deciding step.
    DosError,
    /// An NT status that decides nothing came back at the deciding step.
    UnexpectedStatus,
    /// The answer could not be parsed.
    ProtocolError,
    /// The whole-host deadline expired.
    HostTimeout,
    /// The scan was interrupted.
    Interrupted,
    /// A local error (see `error`).
    LocalError,
    /// The host name did not resolve; nothing was sent.
    Unresolved,
}

/// One step of the probe, for the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Step name: `connect`, `netbios-session`, `smb1-negotiate`, `smb2-negotiate-3.1.1`,
    /// `session-setup`, `tree-connect`, `peek-named-pipe`, `doublepulsar-ping`, ...
    pub name: String,
    /// `ok`, or what went wrong (`refused`, `timeout`, `reset`, `closed`, `status`, `dos-error`,
    /// `protocol-error`, ...).
    pub outcome: String,
    /// The status the server returned, hex, when it returned one.
    pub status: Option<String>,
    /// Its name, when known.
    pub status_name: Option<String>,
    /// Free detail (dialect chosen, bytes received, parse error, ...).
    pub detail: Option<String>,
    /// Duration, milliseconds.
    pub ms: u64,
}
