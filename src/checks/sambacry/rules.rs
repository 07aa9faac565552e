//! SambaCry verdict rules, without I/O. CVE-2017-7494 (Samba security advisory, 2017-05-24):
//! a client able to write to a share can make smbd load a shared library it uploaded, through a
//! named pipe name holding a path. Affected: every release from 3.5.0 up to the fixed 4.4.14,
//! 4.5.10 and 4.6.4. The version comes from the SMB1 SESSION_SETUP NativeLanMan string ("Samba
//! 4.5.9", "Samba 4.5.2-Debian"). Two things a read-only scan cannot see keep an in-range version
//! at `likely-vulnerable`: a distribution may have backported the fix without changing the
//! upstream version, and exploitation also needs a writable share (and `nt pipe support`, on by
//! default), which the scan does not test.

use serde::{Deserialize, Serialize};

/// A Samba version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SambaVersion {
    /// Major.
    pub major: u16,
    /// Minor.
    pub minor: u16,
    /// Release.
    pub release: u16,
}

impl std::fmt::Display for SambaVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.release)
    }
}

const fn v(major: u16, minor: u16, release: u16) -> SambaVersion {
    SambaVersion {
        major,
        minor,
        release,
    }
}

/// The affected ranges, [from, fixed) (CVE-2017-7494 advisory).
pub const AFFECTED: &[(SambaVersion, SambaVersion)] = &[
    (v(3, 5, 0), v(4, 4, 14)),
    (v(4, 5, 0), v(4, 5, 10)),
    (v(4, 6, 0), v(4, 6, 4)),
];

/// What the string says after the version: "Samba 4.5.8-Debian" carries a vendor build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedLanMan {
    /// The version, when the string carries one.
    pub version: Option<SambaVersion>,
    /// A vendor suffix ("Debian", "Ubuntu", "SerNet-RedHat-..."), which may carry backports.
    pub vendor_suffix: Option<String>,
}

/// Parses a NativeLanMan (or NativeOS) string that names Samba; `None` when it is not Samba.
/// "Samba" alone (version hidden, e.g. QNAP/Synology builds and the `Unix`/`Samba` pairs that
/// clients send) gives a `ParsedLanMan` without version.
pub fn parse_lanman(s: &str) -> Option<ParsedLanMan> {
    let mut words = s.split_whitespace();
    words.find(|w| w.eq_ignore_ascii_case("samba"))?;
    let Some(word) = words.next() else {
        return Some(ParsedLanMan {
            version: None,
            vendor_suffix: None,
        });
    };
    let (num, suffix) = match word.split_once(['-', '+', '~']) {
        Some((n, s)) => (n, Some(s)),
        None => (word, None),
    };
    let mut parts = num.split('.');
    let mut next = || parts.next().and_then(|p| p.parse::<u16>().ok());
    let version = match (next(), next()) {
        (Some(major), Some(minor)) => Some(v(major, minor, next().unwrap_or(0))),
        _ => None,
    };
    Some(ParsedLanMan {
        version,
        vendor_suffix: version
            .and(suffix)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
    })
}

/// SambaCry verdict. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SambaCryVerdict {
    /// The announced version is in the affected range. Not `vulnerable`: a vendor may have
    /// backported the fix, and exploitation needs a writable share the scan does not test.
    LikelyVulnerable,
    /// The announced version is outside the affected range (older than 3.5.0 or at/after the fix
    /// of its series).
    NotVulnerable,
    /// Not Samba (the replies show Windows): the flaw is Samba's.
    NotApplicable,
    /// Not decided; see the reason.
    Unknown,
}

impl SambaCryVerdict {
    /// The record/CSV word.
    pub fn as_str(self) -> &'static str {
        match self {
            SambaCryVerdict::LikelyVulnerable => "likely-vulnerable",
            SambaCryVerdict::NotVulnerable => "not-vulnerable",
            SambaCryVerdict::NotApplicable => "not-applicable",
            SambaCryVerdict::Unknown => "unknown",
        }
    }
}

/// Why unknown. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SambaCryReason {
    /// Samba, but its string hides the version (or SMB1 is off, so no NativeLanMan was sent).
    VersionNotDisclosed,
    /// No SMB1 session setup answer: nothing names the server software.
    NoLanMan,
}

impl SambaCryReason {
    /// The record/CSV word.
    pub fn as_str(self) -> &'static str {
        match self {
            SambaCryReason::VersionNotDisclosed => "version-not-disclosed",
            SambaCryReason::NoLanMan => "no-lanman",
        }
    }
}

/// The SambaCry result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SambaCryFinding {
    /// Verdict.
    pub verdict: SambaCryVerdict,
    /// Why, when unknown.
    pub reason: Option<SambaCryReason>,
    /// The announced version.
    pub version: Option<SambaVersion>,
    /// The vendor suffix, when one may carry a backported fix.
    pub vendor_suffix: Option<String>,
}

impl SambaCryFinding {
    /// The finding's sentence.
    pub fn summary(&self) -> String {
        match (self.verdict, self.version) {
            (SambaCryVerdict::LikelyVulnerable, Some(ver)) => {
                let backport = match &self.vendor_suffix {
                    Some(s) => format!(" The \"-{s}\" build may carry a backported fix: check the vendor's package changelog for CVE-2017-7494."),
                    None => String::new(),
                };
                format!(
                    "Samba {ver} is in the CVE-2017-7494 (SambaCry) range (3.5.0 up to 4.4.14 / 4.5.10 / 4.6.4). Exploitation also needs a share the attacker can write to, which this read-only scan does not test.{backport}"
                )
            }
            (SambaCryVerdict::NotVulnerable, Some(ver)) => {
                format!("Samba {ver} is outside the CVE-2017-7494 range")
            }
            (SambaCryVerdict::NotApplicable, _) => "not Samba".to_owned(),
            _ => match self.reason {
                Some(r) => format!("SambaCry unknown: {}", r.as_str()),
                None => "SambaCry unknown".to_owned(),
            },
        }
    }
}

/// Whether `ver` is in an affected range.
pub fn affected(ver: SambaVersion) -> bool {
    AFFECTED
        .iter()
        .any(|(from, fixed)| *from <= ver && ver < *fixed)
}

/// The verdict from the NativeLanMan string (`None` when no SMB1 session setup was answered),
/// and whether other replies show a Windows host (NTLMSSP build not 0, a Windows NativeOS) or a
/// Samba host (CAP_UNIX, NTLMSSP build 0).
pub fn judge(native_lanman: Option<&str>, windows: bool, samba_hint: bool) -> SambaCryFinding {
    let finding = |verdict, reason, version, vendor_suffix| SambaCryFinding {
        verdict,
        reason,
        version,
        vendor_suffix,
    };
    match native_lanman.and_then(parse_lanman) {
        Some(ParsedLanMan {
            version: Some(ver),
            vendor_suffix,
        }) => {
            if affected(ver) {
                finding(
                    SambaCryVerdict::LikelyVulnerable,
                    None,
                    Some(ver),
                    vendor_suffix,
                )
            } else {
                finding(SambaCryVerdict::NotVulnerable, None, Some(ver), None)
            }
        }
        Some(ParsedLanMan { version: None, .. }) => finding(
            SambaCryVerdict::Unknown,
            Some(SambaCryReason::VersionNotDisclosed),
            None,
            None,
        ),
        None if samba_hint => finding(
            SambaCryVerdict::Unknown,
            Some(SambaCryReason::VersionNotDisclosed),
            None,
            None,
        ),
        None if windows => finding(SambaCryVerdict::NotApplicable, None, None, None),
        None => finding(
            SambaCryVerdict::Unknown,
            Some(SambaCryReason::NoLanMan),
            None,
            None,
        ),
    }
}

/// This check's remediation rows (`data/checks/sambacry.toml`), compiled in for the registry.
pub const REMEDIATION_TOML: &str = include_str!("../../../data/checks/sambacry.toml");
/// The same table as JSON, compiled by build.rs: read at run time (faster than the TOML).
pub const REMEDIATION_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/checks/sambacry.json"));

#[cfg(test)]
mod tests {
    use super::*;
    use SambaCryVerdict::*;

    #[test]
    fn parses_real_lanman_strings() {
        // ../shared/captures (server SESSION_SETUP_ANDX response, read with tshark) and the lab.
        #[rustfmt::skip]
        let cases: &[(&str, &str, Option<SambaVersion>, Option<&str>)] = &[
            ("samba-3.6.3-smb1-negotiate-session-setup", "Samba 3.6.3", Some(v(3, 6, 3)), None),
            ("samba-4.4.16-qnap-qts-smb1-negotiate-session-setup", "Samba 4.4.16", Some(v(4, 4, 16)), None),
            ("samba-4.5.2-debian-smb1-negotiate-session-setup", "Samba 4.5.2-Debian", Some(v(4, 5, 2)), Some("Debian")),
            ("samba-4.7.4-smb1-negotiate-session-setup", "Samba 4.7.4", Some(v(4, 7, 4)), None),
            ("lab 127.0.0.2 / 127.0.0.4", "Samba 4.17.12-Debian", Some(v(4, 17, 12)), Some("Debian")),
            ("client side of win10-home-15063 capture", "Samba", None, None),
            ("Ubuntu form", "Samba 4.3.11-Ubuntu", Some(v(4, 3, 11)), Some("Ubuntu")),
        ];
        for (what, s, ver, suffix) in cases {
            let p = parse_lanman(s);
            assert_eq!(p.as_ref().and_then(|p| p.version), *ver, "{what}");
            assert_eq!(
                p.and_then(|p| p.vendor_suffix).as_deref(),
                *suffix,
                "{what}"
            );
        }
        assert_eq!(parse_lanman("Windows 2000 LAN Manager"), None);
        assert_eq!(parse_lanman("Windows Server 2016 Standard 6.3"), None);
    }

    #[test]
    fn verdicts_on_real_strings() {
        #[rustfmt::skip]
        let cases: &[(&str, Option<&str>, bool, bool, SambaCryVerdict)] = &[
            ("samba-3.6.3 capture: 3.6 is in 3.5.0..4.4.14", Some("Samba 3.6.3"), false, true, LikelyVulnerable),
            ("samba-4.4.16-qnap capture: 4.4 fixed at 4.4.14", Some("Samba 4.4.16"), false, true, NotVulnerable),
            ("samba-4.5.2-debian capture", Some("Samba 4.5.2-Debian"), false, true, LikelyVulnerable),
            ("samba-4.7.4 capture", Some("Samba 4.7.4"), false, true, NotVulnerable),
            ("lab 127.0.0.2", Some("Samba 4.17.12-Debian"), false, true, NotVulnerable),
            ("responder persona samba-4.5.9", Some("Samba 4.5.9"), false, true, LikelyVulnerable),
            ("winxp-sp3 capture: Windows", Some("Windows 2000 LAN Manager"), true, false, NotApplicable),
            ("win2016 capture: Windows", Some("Windows Server 2016 Standard 6.3"), true, false, NotApplicable),
            ("lab 127.0.0.3: SMB1 off, NTLMSSP 6.1.0", None, false, true, Unknown),
            ("nothing learnt", None, false, false, Unknown),
        ];
        for (what, lm, windows, samba, verdict) in cases {
            let f = judge(*lm, *windows, *samba);
            assert_eq!(f.verdict, *verdict, "{what}: {f:?}");
            assert_eq!(f.reason.is_some(), *verdict == Unknown, "{what}");
        }
    }

    #[test]
    fn range_boundaries() {
        #[rustfmt::skip]
        let cases = [
            (v(3, 4, 17), false), (v(3, 5, 0), true), (v(4, 3, 13), true), (v(4, 4, 13), true),
            (v(4, 4, 14), false), (v(4, 5, 0), true), (v(4, 5, 9), true), (v(4, 5, 10), false),
            (v(4, 6, 0), true), (v(4, 6, 3), true), (v(4, 6, 4), false), (v(4, 7, 0), false),
        ];
        for (ver, hit) in cases {
            assert_eq!(affected(ver), hit, "{ver}");
        }
    }

    #[test]
    fn wording_stays_honest() {
        let f = judge(Some("Samba 4.5.8-Debian"), false, true);
        let s = f.summary();
        assert!(s.contains("writable") || s.contains("write to"), "{s}");
        assert!(s.contains("backported"), "{s}");
        assert!(!s.contains(" is vulnerable"), "{s}");
        let f = judge(Some("Samba"), false, true);
        assert_eq!(f.reason, Some(SambaCryReason::VersionNotDisclosed));
    }

    #[test]
    fn remediation_rows_parse() {
        let t: toml::Table = toml::from_str(REMEDIATION_TOML).unwrap_or_else(|e| panic!("{e}"));
        let row = t
            .get("findings")
            .and_then(|v| v.get("sambacry"))
            .and_then(|v| v.get("exposure"))
            .and_then(|v| v.as_str());
        assert!(row.is_some_and(|s| !s.is_empty()));
    }
}
