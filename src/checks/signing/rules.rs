//! Signing verdict rules, without I/O. The inputs are the SecurityMode of the SMB1 NEGOTIATE
//! response ([MS-CIFS] 2.2.4.52.2: 0x04 signatures enabled, 0x08 required) and of the SMB2
//! NEGOTIATE response ([MS-SMB2] 2.2.4: 0x01 signing enabled, 0x02 required), read the way nmap's
//! smb-security-mode (`message_signing: disabled / supported / required`) and smb2-security-mode
//! ("Message signing enabled but not required" ...) read them. A server that does not require
//! signing on a protocol it speaks accepts an NTLM authentication relayed to it over that protocol.

use serde::{Deserialize, Serialize};

/// SMB1 SecurityMode bits ([MS-CIFS] 2.2.4.52.2).
pub const SMB1_SIGNATURES_ENABLED: u8 = 0x04;
/// SMB1 NEGOTIATE_SECURITY_SIGNATURES_REQUIRED.
pub const SMB1_SIGNATURES_REQUIRED: u8 = 0x08;
/// SMB2 SecurityMode bits ([MS-SMB2] 2.2.4).
pub const SMB2_SIGNING_ENABLED: u16 = 0x0001;
/// SMB2_NEGOTIATE_SIGNING_REQUIRED.
pub const SMB2_SIGNING_REQUIRED: u16 = 0x0002;

/// What the host's replies say about one protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolMode<T> {
    /// The negotiate response carried this SecurityMode.
    Mode(T),
    /// The host's replies show it does not speak this protocol (SMB1: DialectIndex 0xFFFF, an
    /// SMB2 reply, or a reset on a host that answered SMB2; SMB2: an SMB1-only answer to the
    /// multi-protocol negotiate).
    NotSpoken,
    /// Not learnt (not tried, failed, timed out).
    Unknown,
}

/// Signing per protocol, in nmap's words. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Signing {
    /// The server does not sign at all.
    Disabled,
    /// Enabled but not required (nmap: `supported` / "enabled but not required").
    Supported,
    /// Required.
    Required,
    /// The host does not speak this protocol.
    NotSpoken,
    /// Not learnt.
    Unknown,
}

impl Signing {
    /// The record/CSV word.
    pub fn as_str(self) -> &'static str {
        match self {
            Signing::Disabled => "disabled",
            Signing::Supported => "supported",
            Signing::Required => "required",
            Signing::NotSpoken => "not-spoken",
            Signing::Unknown => "unknown",
        }
    }
}

/// SMB1 signing, as smb-security-mode reports `message_signing`.
pub fn smb1_signing(mode: ProtocolMode<u8>) -> Signing {
    match mode {
        ProtocolMode::Mode(m) if m & SMB1_SIGNATURES_REQUIRED != 0 => Signing::Required,
        ProtocolMode::Mode(m) if m & SMB1_SIGNATURES_ENABLED != 0 => Signing::Supported,
        ProtocolMode::Mode(_) => Signing::Disabled,
        ProtocolMode::NotSpoken => Signing::NotSpoken,
        ProtocolMode::Unknown => Signing::Unknown,
    }
}

/// SMB2 signing, as smb2-security-mode reports it.
pub fn smb2_signing(mode: ProtocolMode<u16>) -> Signing {
    match mode {
        ProtocolMode::Mode(m) if m & SMB2_SIGNING_REQUIRED != 0 => Signing::Required,
        ProtocolMode::Mode(m) if m & SMB2_SIGNING_ENABLED != 0 => Signing::Supported,
        ProtocolMode::Mode(_) => Signing::Disabled,
        ProtocolMode::NotSpoken => Signing::NotSpoken,
        ProtocolMode::Unknown => Signing::Unknown,
    }
}

/// NTLM relay exposure over SMB. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RelayVerdict {
    /// A protocol the host speaks does not require signing.
    SigningNotRequired,
    /// Every protocol the host speaks requires signing (and the replies show which it speaks).
    SigningRequired,
    /// Not decided; see the reason.
    Unknown,
}

impl RelayVerdict {
    /// The record/CSV word.
    pub fn as_str(self) -> &'static str {
        match self {
            RelayVerdict::SigningNotRequired => "signing-not-required",
            RelayVerdict::SigningRequired => "signing-required",
            RelayVerdict::Unknown => "unknown",
        }
    }
}

/// Why the relay verdict is unknown. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SigningReason {
    /// SMB2 requires signing but whether SMB1 is spoken (and how) was not learnt.
    Smb1ModeUnknown,
    /// SMB1 requires signing but the SMB2 negotiate gave no answer.
    Smb2ModeUnknown,
    /// No negotiate response at all.
    NoNegotiate,
}

impl SigningReason {
    /// The record/CSV word.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningReason::Smb1ModeUnknown => "smb1-mode-unknown",
            SigningReason::Smb2ModeUnknown => "smb2-mode-unknown",
            SigningReason::NoNegotiate => "no-negotiate",
        }
    }
}

/// The signing check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningFinding {
    /// SMB1, nmap smb-security-mode's `message_signing`.
    pub smb1: Signing,
    /// SMB2, nmap smb2-security-mode.
    pub smb2: Signing,
    /// Overall.
    pub relay: RelayVerdict,
    /// Why, when unknown.
    pub reason: Option<SigningReason>,
}

/// The verdict from both negotiate responses. One protocol without required signing is enough
/// for `signing-not-required` (a relay picks that protocol); `signing-required` needs every
/// protocol shown either to require it or not to be spoken.
pub fn judge(smb1: ProtocolMode<u8>, smb2: ProtocolMode<u16>) -> SigningFinding {
    let (s1, s2) = (smb1_signing(smb1), smb2_signing(smb2));
    let open = |s| matches!(s, Signing::Disabled | Signing::Supported);
    let shut = |s| matches!(s, Signing::Required | Signing::NotSpoken);
    let (relay, reason) = if open(s1) || open(s2) {
        (RelayVerdict::SigningNotRequired, None)
    } else if shut(s1) && shut(s2) && (s1 == Signing::Required || s2 == Signing::Required) {
        (RelayVerdict::SigningRequired, None)
    } else if s1 == Signing::Unknown && s2 == Signing::Required {
        (RelayVerdict::Unknown, Some(SigningReason::Smb1ModeUnknown))
    } else if s2 == Signing::Unknown && s1 == Signing::Required {
        (RelayVerdict::Unknown, Some(SigningReason::Smb2ModeUnknown))
    } else {
        (RelayVerdict::Unknown, Some(SigningReason::NoNegotiate))
    };
    SigningFinding {
        smb1: s1,
        smb2: s2,
        relay,
        reason,
    }
}

/// OS family for the remediation row of `data/checks/signing.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SigningFamily {
    /// Windows 8 / Server 2012 and later (Set-SmbServerConfiguration).
    WindowsModern,
    /// Windows XP to 7 / Server 2003 to 2008 R2 (Group Policy or the registry).
    WindowsLegacy,
    /// Samba (`server signing = mandatory`).
    Samba,
    /// Not identified.
    Generic,
}

impl SigningFamily {
    /// The key of the remediation row.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningFamily::WindowsModern => "windows-modern",
            SigningFamily::WindowsLegacy => "windows-legacy",
            SigningFamily::Samba => "samba",
            SigningFamily::Generic => "generic",
        }
    }
}

/// The family from what identified the OS: Samba first, then the NTLMSSP major.minor (6.2 and
/// later have the SMB PowerShell cmdlets).
pub fn family(samba: bool, ntlm_version: Option<(u8, u8, u16)>) -> SigningFamily {
    match ntlm_version {
        _ if samba => SigningFamily::Samba,
        Some((_, _, 0)) => SigningFamily::Samba,
        Some((maj, min, _)) if (maj, min) >= (6, 2) => SigningFamily::WindowsModern,
        Some(_) => SigningFamily::WindowsLegacy,
        None => SigningFamily::Generic,
    }
}

/// This check's remediation rows (`data/checks/signing.toml`), compiled in for the registry.
pub const REMEDIATION_TOML: &str = include_str!("../../../data/checks/signing.toml");
/// The same table as JSON, compiled by build.rs: read at run time (faster than the TOML).
pub const REMEDIATION_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/checks/signing.json"));

#[cfg(test)]
mod tests {
    use super::*;
    use ProtocolMode::{Mode, NotSpoken, Unknown as U};
    use RelayVerdict::*;

    /// Real SecurityMode values: the lab's Samba servers (smb1scan scan 127.0.0.2 / 127.0.0.4,
    /// cross-checked with `nmap --script smb-security-mode,smb2-security-mode`: 127.0.0.2
    /// "message_signing: supported" / "enabled but not required", 127.0.0.4 "required" /
    /// "enabled and required") and the captures in ../shared/captures (smb.sm / smb2.sec_mode
    /// read with tshark).
    #[test]
    fn real_security_modes() {
        type Case = (
            &'static str,
            ProtocolMode<u8>,
            ProtocolMode<u16>,
            Signing,
            Signing,
            RelayVerdict,
        );
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("lab 127.0.0.2 Samba 4.17.12-Debian", Mode(0x07), Mode(0x01), Signing::Supported, Signing::Supported, SigningNotRequired),
            ("lab 127.0.0.4 Samba 4.17.12-Debian, server signing = mandatory", Mode(0x0f), Mode(0x03), Signing::Required, Signing::Required, SigningRequired),
            ("lab 127.0.0.3 Samba, SMB1 off (no SMB1 dialect)", NotSpoken, Mode(0x01), Signing::NotSpoken, Signing::Supported, SigningNotRequired),
            ("win7-ultimate-sp1-smb1-negotiate-session-setup", Mode(0x03), U, Signing::Disabled, Signing::Unknown, SigningNotRequired),
            ("win2000-smb1-negotiate-session-setup-kerberos", Mode(0x07), U, Signing::Supported, Signing::Unknown, SigningNotRequired),
            ("win2012r2-dc-unpatched-ms17-010-check-wannacry (a DC)", Mode(0x0f), U, Signing::Required, Signing::Unknown, Unknown),
            ("win2016-14393-smb2-negotiate-311 (a DC)", U, Mode(0x03), Signing::Unknown, Signing::Required, Unknown),
            ("win2019-17763-smb2-negotiate-multiprotocol-then-311", U, Mode(0x01), Signing::Unknown, Signing::Supported, SigningNotRequired),
            ("both required, as a Windows DC answers (smb.sm 0x0f + smb2.sec_mode 0x03)", Mode(0x0f), Mode(0x03), Signing::Required, Signing::Required, SigningRequired),
        ];
        for (what, m1, m2, s1, s2, relay) in cases {
            let f = judge(*m1, *m2);
            assert_eq!((f.smb1, f.smb2, f.relay), (*s1, *s2, *relay), "{what}");
            assert_eq!(f.reason.is_some(), f.relay == Unknown, "{what}");
        }
    }

    #[test]
    fn unknown_reasons() {
        assert_eq!(
            judge(U, Mode(0x03)).reason,
            Some(SigningReason::Smb1ModeUnknown)
        );
        assert_eq!(
            judge(Mode(0x0f), U).reason,
            Some(SigningReason::Smb2ModeUnknown)
        );
        assert_eq!(judge(U, U).reason, Some(SigningReason::NoNegotiate));
        // Neither spoken proves nothing about signing.
        assert_eq!(judge(NotSpoken, NotSpoken).relay, Unknown);
        // SMB1 off and SMB2 required: nothing to relay to over SMB.
        assert_eq!(judge(NotSpoken, Mode(0x03)).relay, SigningRequired);
        // SMB1 required does not cover an SMB2 that only enables it.
        assert_eq!(judge(Mode(0x0f), Mode(0x01)).relay, SigningNotRequired);
    }

    #[test]
    fn families() {
        assert_eq!(family(true, Some((6, 1, 0))), SigningFamily::Samba);
        assert_eq!(family(false, Some((6, 1, 0))), SigningFamily::Samba);
        assert_eq!(
            family(false, Some((6, 1, 7601))),
            SigningFamily::WindowsLegacy
        );
        assert_eq!(
            family(false, Some((5, 1, 2600))),
            SigningFamily::WindowsLegacy
        );
        assert_eq!(
            family(false, Some((6, 3, 9600))),
            SigningFamily::WindowsModern
        );
        assert_eq!(
            family(false, Some((10, 0, 17763))),
            SigningFamily::WindowsModern
        );
        assert_eq!(family(false, None), SigningFamily::Generic);
    }

    #[test]
    fn remediation_rows_parse() {
        let t: toml::Table = toml::from_str(REMEDIATION_TOML).unwrap_or_else(|e| panic!("{e}"));
        let row = t
            .get("families")
            .and_then(|v| v.get("samba"))
            .and_then(|v| v.get("command"))
            .and_then(|v| v.as_str());
        assert!(row.is_some_and(|s| !s.is_empty()));
        // Every family `family()` returns has its row.
        for f in [
            SigningFamily::WindowsModern,
            SigningFamily::WindowsLegacy,
            SigningFamily::Samba,
            SigningFamily::Generic,
        ] {
            let cmd = t
                .get("families")
                .and_then(|v| v.get(f.as_str()))
                .and_then(|v| v.get("command"))
                .and_then(|v| v.as_str());
            assert!(cmd.is_some_and(|s| !s.is_empty()), "{}", f.as_str());
        }
    }
}
