//! The per-host result: the one record every output format is a projection of.
//!
//! # JSON Lines schema (version [`SCHEMA_VERSION`])
//! One [`HostResult`] object per scanned (address, port). Enumerations serialise in kebab-case and
//! form closed vocabularies, documented on each type. Optional facts are `null` when not learnt.
//! Readers must ignore unknown keys (new keys may be added without a version bump); a changed
//! meaning or a removed key bumps `schema`.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Version of the JSON record layout. 2: MS17-010 `not-tested` for a port that never answered
/// (schema 1 said `unknown`), and `ip` null for a target without an address (schema 1:
/// `0.0.0.0`). 3: `checks` lists the checks that ran (`--checks`); a check not selected is
/// `not-tested` with reason `not-selected`; checks added later keep their section under their
/// name. 4: a record whose port never answered carries no section of the selected checks that
/// keep one (`crate::checks::silent_section` reads it back as the check's `not-tested`, reason
/// the status). Schema 1 to 3 records are read and brought to 4 by [`HostResult::upgrade`].
pub const SCHEMA_VERSION: u32 = 4;

/// The checks every record before schema 3 ran: all there were.
pub const SCHEMA_2_CHECKS: [&str; 3] = ["smb1", "ms17-010", "doublepulsar"];

fn schema_2_checks() -> Vec<String> {
    SCHEMA_2_CHECKS.iter().map(|c| c.to_string()).collect()
}

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
    /// Address scanned; `0.0.0.0` in memory for a target that has none (status `unresolved`),
    /// written `null`.
    #[serde(with = "ip_or_null")]
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
    /// The checks that ran on this target (`--checks`), by name, in registry order. Schema 1
    /// and 2 records ran `smb1`, `ms17-010` and `doublepulsar`: a record without the key reads
    /// as that.
    #[serde(default = "schema_2_checks")]
    pub checks: Vec<String>,
    /// The sections of checks added after the first three, each under its check's name (read
    /// and written by the check, `crate::checks::section`).
    #[serde(flatten)]
    pub sections: std::collections::BTreeMap<String, serde_json::Value>,
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
            checks: schema_2_checks(),
            sections: Default::default(),
            steps: Vec::new(),
            scanned_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            duration_ms: 0,
            error: None,
        }
    }
}

/// `ip` as written: null for the unspecified address (a target without one), and read back from
/// null or from schema 1's `0.0.0.0`.
mod ip_or_null {
    use std::net::{IpAddr, Ipv4Addr};

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ip: &IpAddr, s: S) -> Result<S::Ok, S::Error> {
        if ip.is_unspecified() {
            s.serialize_none()
        } else {
            s.collect_str(ip)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<IpAddr, D::Error> {
        Ok(Option::<IpAddr>::deserialize(d)?.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
    }
}

impl HostResult {
    /// The record of a target name that did not resolve on `port`: MS17-010 `not-tested`
    /// (reason `unresolved`: nothing was sent), the resolver's answer in `error`.
    pub fn unresolved(name: &str, port: u16, why: &str) -> Self {
        let mut r = HostResult::new(
            IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            port,
            Some(name.to_string()),
        );
        r.status = HostStatus::Unresolved;
        r.ms17_010.reason = Some(Reason::Unresolved);
        r.error = Some(format!("cannot resolve `{name}`: {why}"));
        r.settle_not_tested();
        r
    }

    /// The address, or `None` for a target that has none (a name that did not resolve).
    pub fn address(&self) -> Option<IpAddr> {
        (!self.ip.is_unspecified()).then_some(self.ip)
    }

    /// An MS17-010 test that never ran because the port never answered (closed, filtered,
    /// unreachable, unresolved, interrupted before an answer, local error) is `not-tested`, never
    /// the `unknown` of a host that answered and could not be decided. The reason stays.
    pub fn settle_not_tested(&mut self) {
        if !self.port_answered() && self.ms17_010.verdict == Ms17Verdict::Unknown {
            self.ms17_010.verdict = Ms17Verdict::NotTested;
        }
    }

    /// Forgets the derived members ([`HostResult::drop_derived`]) and brings a record of an
    /// older schema to [`SCHEMA_VERSION`] (schema 1: `unknown` on a port
    /// that never answered becomes `not-tested`; a record without `checks` ran every check there
    /// was, see [`HostResult::checks`]).
    pub fn upgrade(&mut self) {
        self.drop_derived();
        if self.schema < SCHEMA_VERSION {
            self.settle_not_tested();
            self.schema = SCHEMA_VERSION;
        }
    }

    /// Forgets the members the outputs derive from the record (`risk`, `remediation`:
    /// [`DERIVED_MEMBERS`]) when it was read from a run's file: read, they land among the check
    /// sections, and an output would write them twice, beside the ones it derives again.
    pub fn drop_derived(&mut self) {
        for k in DERIVED_MEMBERS {
            self.sections.remove(*k);
        }
    }

    /// The port accepted a TCP connection (whatever came after): a host that then gives no
    /// verdict is undecided, never safe.
    pub fn port_answered(&self) -> bool {
        self.status.answered()
    }
}

/// The members of a written record that the outputs derive from the rest (`risk`,
/// `remediation`), never read back as part of the record.
pub const DERIVED_MEMBERS: &[&str] = &["risk", "remediation"];

impl HostStatus {
    /// The port accepted a TCP connection ([`HostResult::port_answered`]).
    pub fn answered(self) -> bool {
        matches!(
            self,
            HostStatus::Open | HostStatus::Reset | HostStatus::Timeout | HostStatus::ProtocolError
        )
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
    /// null (there is no address; schema 1 wrote `0.0.0.0`), `hostname` holds the name, `error`
    /// the resolver's answer.
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
    /// When the server last started (RFC 3339), from the NEGOTIATE response's ServerStartTime
    /// ([MS-SMB2] 2.2.4); null when the server sends 0 (Windows 10 2004, Server 2019 and 2022
    /// do, as does Samba; Windows 7, 2008 R2, 10 1511 and 2016 send their start time).
    #[serde(default)]
    pub boot_time: Option<String>,
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
    /// The port answered but the test did not reach a verdict; `reason` says why.
    #[default]
    Unknown,
    /// The port never answered (closed, filtered, unreachable), the name did not resolve, or the
    /// run stopped first: nothing was tested; `reason` says why. Never a clean bill of health.
    NotTested,
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
    /// When the verdict is `unknown`: what other evidence implies (`missing`: the update cannot
    /// be installed), else null. Never set when the peek reached a verdict.
    #[serde(default)]
    pub inferred: Option<Ms17Inferred>,
    /// Why `inferred` says so (`booted-before-ms17-010`).
    #[serde(default)]
    pub inferred_reason: Option<Reason>,
}

/// What other evidence implies about MS17-010 when the test gave no verdict. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ms17Inferred {
    /// The update is missing: the host has not restarted since before its release, and it
    /// needs a restart to take effect.
    Missing,
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
    /// TCP connected, but no request got an SMB answer (resets, closes or silence on every
    /// connection): nothing shows whether SMB1 is on.
    NoSmbAnswer,
    /// The SMB1-only NEGOTIATE was answered with an SMB1 error status: an SMB1 parser answered,
    /// so SMB1 is not shown off, and not shown on.
    Smb1ErrorAtNegotiate,
    /// The host last started before 2017-03-14, MS17-010's release (SMB2 ServerStartTime).
    #[serde(rename = "booted-before-ms17-010")]
    BootedBeforeMs17010,
    /// The session setup was still refused as "server busy" (STATUS_REQUEST_NOT_ACCEPTED or
    /// STATUS_INSUFF_SERVER_RESOURCES) after retries with back-off.
    ServerBusy,
    /// The check was left out by `--checks`: nothing was sent for it.
    NotSelected,
}

/// One step of the probe, for the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// What ran, see [`StepName`].
    pub name: StepName,
    /// How it ended, see [`StepOutcome`].
    pub outcome: StepOutcome,
    /// TCP connect attempts made (connect steps only; more than 1 when `--retries` retried a
    /// connect that went unanswered), else null.
    #[serde(default)]
    pub attempts: Option<u32>,
    /// The status the server returned, hex, when it returned one.
    pub status: Option<String>,
    /// Its name, when known.
    pub status_name: Option<String>,
    /// Free detail (dialect chosen, bytes received, parse error, ...).
    pub detail: Option<String>,
    /// Duration, milliseconds.
    pub ms: u64,
}

impl Step {
    /// A step with only a name, an outcome and a duration.
    pub fn new(name: StepName, outcome: StepOutcome, ms: u64) -> Self {
        Step {
            name,
            outcome,
            attempts: None,
            status: None,
            status_name: None,
            detail: None,
            ms,
        }
    }
}

/// An SMB2/3 dialect as named in steps and in `smb2.dialects`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Smb2DialectName {
    /// 2.0.2
    V202,
    /// 2.1
    V210,
    /// 3.0
    V300,
    /// 3.0.2
    V302,
    /// 3.1.1
    V311,
}

impl Smb2DialectName {
    /// Every dialect, ascending.
    pub const ALL: [Smb2DialectName; 5] = [
        Smb2DialectName::V202,
        Smb2DialectName::V210,
        Smb2DialectName::V300,
        Smb2DialectName::V302,
        Smb2DialectName::V311,
    ];

    /// `2.0.2`, `2.1`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Smb2DialectName::V202 => "2.0.2",
            Smb2DialectName::V210 => "2.1",
            Smb2DialectName::V300 => "3.0",
            Smb2DialectName::V302 => "3.0.2",
            Smb2DialectName::V311 => "3.1.1",
        }
    }
}

/// A request/response exchange of the probe. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exchange {
    /// `smb1-negotiate`: the SMB1-only NEGOTIATE.
    Smb1Negotiate,
    /// `smb2-negotiate` (every dialect offered) or `smb2-negotiate-2.1` (one dialect alone).
    Smb2Negotiate(Option<Smb2DialectName>),
    /// `smb2-session-setup`: NTLMSSP NEGOTIATE over SMB2, for the host's identity.
    Smb2SessionSetup,
    /// `session-setup-negotiate`: first leg of an extended-security SMB1 session setup.
    SessionSetupNegotiate,
    /// `session-setup`: the SMB1 SESSION_SETUP_ANDX that logs on.
    SessionSetup,
    /// `tree-connect`: TREE_CONNECT_ANDX to IPC$.
    TreeConnect,
    /// `peek-named-pipe`: the MS17-010 test.
    PeekNamedPipe,
    /// `doublepulsar-ping`: the DoublePulsar test.
    DoublepulsarPing,
    /// `nbns-node-status`: the host's NetBIOS names over UDP 137 (port 139 only).
    NbnsNodeStatus,
    /// `pipe-open`: the anonymous check's open-and-close of one named pipe on IPC$ (the pipe
    /// is the detail's first word).
    PipeOpen,
}

impl Exchange {
    fn write(self, out: &mut String) {
        out.push_str(match self {
            Exchange::Smb1Negotiate => "smb1-negotiate",
            Exchange::Smb2Negotiate(_) => "smb2-negotiate",
            Exchange::Smb2SessionSetup => "smb2-session-setup",
            Exchange::SessionSetupNegotiate => "session-setup-negotiate",
            Exchange::SessionSetup => "session-setup",
            Exchange::TreeConnect => "tree-connect",
            Exchange::PeekNamedPipe => "peek-named-pipe",
            Exchange::DoublepulsarPing => "doublepulsar-ping",
            Exchange::NbnsNodeStatus => "nbns-node-status",
            Exchange::PipeOpen => "pipe-open",
        });
        if let Exchange::Smb2Negotiate(Some(d)) = self {
            out.push('-');
            out.push_str(d.as_str());
        }
    }

    fn parse(s: &str) -> Option<Exchange> {
        Some(match s {
            "smb1-negotiate" => Exchange::Smb1Negotiate,
            "smb2-negotiate" => Exchange::Smb2Negotiate(None),
            "smb2-session-setup" => Exchange::Smb2SessionSetup,
            "session-setup-negotiate" => Exchange::SessionSetupNegotiate,
            "session-setup" => Exchange::SessionSetup,
            "tree-connect" => Exchange::TreeConnect,
            "peek-named-pipe" => Exchange::PeekNamedPipe,
            "doublepulsar-ping" => Exchange::DoublepulsarPing,
            "nbns-node-status" => Exchange::NbnsNodeStatus,
            "pipe-open" => Exchange::PipeOpen,
            _ => {
                let d = s.strip_prefix("smb2-negotiate-")?;
                let d = Smb2DialectName::ALL.into_iter().find(|x| x.as_str() == d)?;
                Exchange::Smb2Negotiate(Some(d))
            }
        })
    }
}

/// The name of a [`Step`]. Closed vocabulary, serialised as today's strings: `connect`,
/// `netbios-session`, an [`Exchange`] name, `host-deadline`; a connection opened for a later
/// exchange names it in parentheses: `connect (smb2-negotiate-2.1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum StepName {
    /// TCP connect, for the exchange named (none: the SMB1 connection).
    Connect(Option<Exchange>),
    /// NetBIOS SESSION REQUEST on port 139, for the exchange named.
    NetbiosSession(Option<Exchange>),
    /// A request/response exchange.
    Exchange(Exchange),
    /// The whole-host deadline expired.
    HostDeadline,
    /// SYN discovery (`--discovery syn`): the SYN and its answer, or the lack of one.
    Syn,
}

impl std::fmt::Display for StepName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = String::new();
        let (word, for_) = match self {
            StepName::Connect(x) => ("connect", x),
            StepName::NetbiosSession(x) => ("netbios-session", x),
            StepName::Exchange(e) => {
                e.write(&mut out);
                return f.write_str(&out);
            }
            StepName::HostDeadline => return f.write_str("host-deadline"),
            StepName::Syn => return f.write_str("syn"),
        };
        out.push_str(word);
        if let Some(e) = for_ {
            out.push_str(" (");
            e.write(&mut out);
            out.push(')');
        }
        f.write_str(&out)
    }
}

impl From<StepName> for String {
    fn from(n: StepName) -> String {
        n.to_string()
    }
}

impl TryFrom<String> for StepName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let bad = || format!("unknown step name {s:?}");
        let (word, for_) = match s.split_once(" (") {
            Some((w, rest)) => {
                let inner = rest.strip_suffix(')').ok_or_else(bad)?;
                (w, Some(Exchange::parse(inner).ok_or_else(bad)?))
            }
            None => (s.as_str(), None),
        };
        match (word, for_) {
            ("connect", x) => Ok(StepName::Connect(x)),
            ("netbios-session", x) => Ok(StepName::NetbiosSession(x)),
            ("host-deadline", None) => Ok(StepName::HostDeadline),
            ("syn", None) => Ok(StepName::Syn),
            (w, None) => Exchange::parse(w).map(StepName::Exchange).ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

/// How a [`Step`] ended. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepOutcome {
    /// Done as expected.
    Ok,
    /// TCP connect refused.
    Refused,
    /// TCP connect unanswered.
    ConnectTimeout,
    /// ICMP unreachable / no route.
    Unreachable,
    /// The peer reset the connection.
    Reset,
    /// The peer closed the connection.
    Closed,
    /// No answer in time.
    Timeout,
    /// The answer did not parse, or carried another MID.
    ProtocolError,
    /// The NetBIOS session request was refused.
    NetbiosRefused,
    /// A local error.
    Error,
    /// The server answered with an NT error status.
    Status,
    /// The server answered with a DOS-style error.
    DosError,
    /// DialectIndex 0xFFFF.
    NoDialect,
    /// An SMB2 reply to an SMB1 request.
    Smb2Reply,
    /// An SMB1 reply to an SMB2 request.
    Smb1Reply,
    /// PeekNamedPipe: STATUS_INSUFF_SERVER_RESOURCES.
    Vulnerable,
    /// PeekNamedPipe: access denied / invalid handle.
    NotVulnerable,
    /// The ping reply carried MID + 16.
    Present,
    /// The ping reply carried the request's MID, on an accepted session.
    Absent,
    /// The ping reply fits neither shape.
    Unexpected,
}

/// The kebab-case name serde gives a unit enum variant (`not-vulnerable`).
pub fn enum_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_tested_only_where_the_port_never_answered() {
        use HostStatus as S;
        for (status, want) in [
            (S::Open, Ms17Verdict::Unknown),
            (S::Reset, Ms17Verdict::Unknown),
            (S::Timeout, Ms17Verdict::Unknown),
            (S::ProtocolError, Ms17Verdict::Unknown),
            (S::Closed, Ms17Verdict::NotTested),
            (S::Filtered, Ms17Verdict::NotTested),
            (S::Unreachable, Ms17Verdict::NotTested),
            (S::Interrupted, Ms17Verdict::NotTested),
            (S::Error, Ms17Verdict::NotTested),
            (S::Unresolved, Ms17Verdict::NotTested),
        ] {
            let mut h = HostResult::new([10, 0, 0, 1].into(), 445, None);
            h.status = status;
            h.settle_not_tested();
            assert_eq!(h.ms17_010.verdict, want, "{status:?}");
        }
        // A decided verdict is never touched.
        let mut h = HostResult::new([10, 0, 0, 1].into(), 445, None);
        h.status = HostStatus::Closed;
        h.ms17_010.verdict = Ms17Verdict::Vulnerable;
        h.settle_not_tested();
        assert_eq!(h.ms17_010.verdict, Ms17Verdict::Vulnerable);
    }

    /// A schema-2 record (no `checks` key) ran the three checks there were, and upgrades to the
    /// current schema.
    #[test]
    fn a_schema_2_record_ran_the_first_three_checks() {
        let mut v = serde_json::to_value(HostResult::new([10, 0, 0, 1].into(), 445, None)).unwrap();
        v["schema"] = 2.into();
        v.as_object_mut().unwrap().remove("checks");
        let mut old: HostResult = serde_json::from_value(v).unwrap();
        assert_eq!(old.checks, SCHEMA_2_CHECKS);
        assert!(old.sections.is_empty());
        old.upgrade();
        assert_eq!(old.schema, SCHEMA_VERSION);
        // A later check's section round-trips under its own key.
        old.sections
            .insert("signing".into(), serde_json::json!({"verdict": "unknown"}));
        let v = serde_json::to_value(&old).unwrap();
        assert_eq!(v["signing"]["verdict"], "unknown");
        assert_eq!(serde_json::from_value::<HostResult>(v).unwrap(), old);
    }

    #[test]
    fn an_unresolved_name_has_no_address_and_schema_1_reads_back() {
        let h = HostResult::unresolved("pump-7.ward", 445, "no such host");
        assert_eq!(h.address(), None);
        assert_eq!(h.ms17_010.verdict, Ms17Verdict::NotTested);
        let v = serde_json::to_value(&h).unwrap();
        assert!(v["ip"].is_null(), "{v}");
        let back: HostResult = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, h);
        // Schema 1: `0.0.0.0` and `unknown`.
        let mut old = v;
        old["ip"] = "0.0.0.0".into();
        old["schema"] = 1.into();
        old["ms17_010"]["verdict"] = "unknown".into();
        let mut old: HostResult = serde_json::from_value(old).unwrap();
        assert_eq!(old.address(), None);
        old.upgrade();
        assert_eq!(old.schema, SCHEMA_VERSION);
        assert_eq!(old.ms17_010.verdict, Ms17Verdict::NotTested);
        assert_eq!(old.ms17_010.reason, Some(Reason::Unresolved));
    }
}
