//! SMBGhost / SMBleed verdict rules, without I/O.
//!
//! Both flaws are in the SMB 3.1.1 compression transform of srv2.sys ([MS-SMB2] 2.2.42), reachable
//! only when the server chose dialect 3.1.1 and answered the client's COMPRESSION_CAPABILITIES
//! context with one of its own ([MS-SMB2] 2.2.4.1.3). Affected builds: CVE-2020-0796 (SMBGhost,
//! fixed 2020-03-12 by KB4551762) Windows 10 / Server 1903 and 1909 (18362, 18363); CVE-2020-1206
//! (SMBleed, fixed 2020-06-09 by KB4560960 / KB4557957) also 2004 (19041). A read-only scan learns
//! the build from the NTLMSSP version but never the update revision (UBR), so an affected build
//! offering compression is `likely-vulnerable`, never `vulnerable`. As for MS17-010, a server
//! start (SMB2 ServerStartTime) before the fix's release proves the update is not in effect
//! (it needs a restart): `inferred: missing`. A start after it means the update may be in effect:
//! `unknown` (`booted-after-fix`). Compression offered with no build learnt is `unknown`, never
//! `vulnerable` (the popular scanners' mistake: 2004 and later offer compression and are fixed).

use serde::{Deserialize, Serialize};

/// CVE-2020-0796's fix (KB4551762, 2020-03-12 00:00 UTC), Unix seconds.
pub const SMBGHOST_FIX_RELEASED: i64 = 1_583_971_200;
/// CVE-2020-1206's fix (2020-06-09 00:00 UTC), Unix seconds.
pub const SMBLEED_FIX_RELEASED: i64 = 1_591_660_800;
/// Builds CVE-2020-0796 affects (1903, 1909).
pub const SMBGHOST_BUILDS: &[u32] = &[18362, 18363];
/// Builds CVE-2020-1206 affects (1903, 1909, 2004).
pub const SMBLEED_BUILDS: &[u32] = &[18362, 18363, 19041];

/// What the SMB 3.1.1 negotiate (with a COMPRESSION_CAPABILITIES context) and the session
/// setup's NTLMSSP challenge taught.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GhostInputs {
    /// The dialect the server chose in answer to a negotiate offering 3.1.1: `Some(true)` 3.1.1,
    /// `Some(false)` a lower one (or an SMB1-only answer), `None` no answer.
    pub dialect_311: Option<bool>,
    /// The compression algorithms of the response's COMPRESSION_CAPABILITIES context; empty when
    /// the 3.1.1 response carried no such context. Meaningful only when `dialect_311 == Some(true)`
    /// and the request carried a COMPRESSION_CAPABILITIES context (a server answers one only when
    /// asked: the win10-19041 capture's client sent none, so its reply has none either).
    pub compression: Vec<u16>,
    /// NTLMSSP VERSION (major, minor, build).
    pub ntlm_version: Option<(u8, u8, u16)>,
    /// Other replies show Samba (CAP_UNIX, a Samba NativeLanMan): srv2.sys is not there.
    pub samba: bool,
    /// SMB2 ServerStartTime as Unix seconds; `None` when 0 or absent (Windows 10 sends 0).
    pub boot_time: Option<i64>,
}

/// Verdict, per CVE. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GhostVerdict {
    /// An affected build offers compression; the update state is unknown to a read-only scan.
    LikelyVulnerable,
    /// The replies exclude the flaw: no 3.1.1, no compression, a build outside the affected
    /// ones, or Samba.
    NotVulnerable,
    /// Not decided; see the reason.
    Unknown,
}

impl GhostVerdict {
    /// The record/CSV word.
    pub fn as_str(self) -> &'static str {
        match self {
            GhostVerdict::LikelyVulnerable => "likely-vulnerable",
            GhostVerdict::NotVulnerable => "not-vulnerable",
            GhostVerdict::Unknown => "unknown",
        }
    }
}

/// Why a verdict is what it is (unknown's reason, or which evidence excluded the flaw).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GhostReason {
    /// The 3.1.1 negotiate was not answered.
    NoSmb2Answer,
    /// The server chose a dialect below 3.1.1.
    NoSmb311,
    /// 3.1.1 without a COMPRESSION_CAPABILITIES context (or with no algorithm).
    CompressionNotOffered,
    /// Compression offered, but no NTLMSSP version was learnt.
    BuildUnknown,
    /// The build is not an affected one.
    BuildNotAffected,
    /// Samba.
    NotWindows,
    /// Affected build, but the server started after the fix was released: it may be in effect.
    BootedAfterFix,
}

impl GhostReason {
    /// The record/CSV word.
    pub fn as_str(self) -> &'static str {
        match self {
            GhostReason::NoSmb2Answer => "no-smb2-answer",
            GhostReason::NoSmb311 => "no-smb311",
            GhostReason::CompressionNotOffered => "compression-not-offered",
            GhostReason::BuildUnknown => "build-unknown",
            GhostReason::BuildNotAffected => "build-not-affected",
            GhostReason::NotWindows => "not-windows",
            GhostReason::BootedAfterFix => "booted-after-fix",
        }
    }
}

/// What other evidence implies, beside the verdict (MS17-010's `inferred` vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GhostInferred {
    /// The update is missing: the server has not restarted since before its release.
    Missing,
}

/// One CVE's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GhostFinding {
    /// Verdict.
    pub verdict: GhostVerdict,
    /// Reason (always set for unknown and not-vulnerable).
    pub reason: Option<GhostReason>,
    /// `missing` when the boot time predates the fix.
    pub inferred: Option<GhostInferred>,
    /// The build the verdict used.
    pub build: Option<u32>,
}

/// Both CVEs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GhostResult {
    /// CVE-2020-0796.
    pub smbghost: GhostFinding,
    /// CVE-2020-1206.
    pub smbleed: GhostFinding,
}

fn one(i: &GhostInputs, builds: &[u32], fix_released: i64) -> GhostFinding {
    let f = |verdict, reason, inferred, build| GhostFinding {
        verdict,
        reason,
        inferred,
        build,
    };
    let build = i.ntlm_version.map(|v| u32::from(v.2)).filter(|b| *b != 0);
    match i.dialect_311 {
        None => {
            return f(
                GhostVerdict::Unknown,
                Some(GhostReason::NoSmb2Answer),
                None,
                build,
            )
        }
        Some(false) => {
            return f(
                GhostVerdict::NotVulnerable,
                Some(GhostReason::NoSmb311),
                None,
                build,
            )
        }
        Some(true) => {}
    }
    if i.compression.is_empty() {
        return f(
            GhostVerdict::NotVulnerable,
            Some(GhostReason::CompressionNotOffered),
            None,
            build,
        );
    }
    let samba = i.samba || i.ntlm_version.is_some_and(|v| v.2 == 0);
    if samba {
        return f(
            GhostVerdict::NotVulnerable,
            Some(GhostReason::NotWindows),
            None,
            None,
        );
    }
    let Some(b) = build else {
        return f(
            GhostVerdict::Unknown,
            Some(GhostReason::BuildUnknown),
            None,
            None,
        );
    };
    let windows10 = i.ntlm_version.is_some_and(|v| (v.0, v.1) == (10, 0));
    if !windows10 || !builds.contains(&b) {
        return f(
            GhostVerdict::NotVulnerable,
            Some(GhostReason::BuildNotAffected),
            None,
            build,
        );
    }
    match i.boot_time {
        Some(t) if t >= fix_released => f(
            GhostVerdict::Unknown,
            Some(GhostReason::BootedAfterFix),
            None,
            build,
        ),
        Some(_) => f(
            GhostVerdict::LikelyVulnerable,
            None,
            Some(GhostInferred::Missing),
            build,
        ),
        None => f(GhostVerdict::LikelyVulnerable, None, None, build),
    }
}

/// The verdicts of both CVEs.
pub fn judge(i: &GhostInputs) -> GhostResult {
    GhostResult {
        smbghost: one(i, SMBGHOST_BUILDS, SMBGHOST_FIX_RELEASED),
        smbleed: one(i, SMBLEED_BUILDS, SMBLEED_FIX_RELEASED),
    }
}

/// This check's remediation rows (`data/checks/smbghost.toml`), compiled in for the registry.
pub const REMEDIATION_TOML: &str = include_str!("../../../data/checks/smbghost.toml");
/// The same table as JSON, compiled by build.rs: read at run time (faster than the TOML).
pub const REMEDIATION_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/checks/smbghost.json"));

#[cfg(test)]
mod tests {
    use super::*;
    use GhostVerdict::*;

    const LZNT1: u16 = 0x0001;
    const BOOT_2020_01_01: i64 = 1_577_836_800;
    const BOOT_2021_01_01: i64 = 1_609_459_200;

    fn inputs(d311: Option<bool>, comp: &[u16], ntlm: Option<(u8, u8, u16)>) -> GhostInputs {
        GhostInputs {
            dialect_311: d311,
            compression: comp.to_vec(),
            ntlm_version: ntlm,
            samba: false,
            boot_time: None,
        }
    }

    #[test]
    fn fix_dates() {
        let at = |t: i64| chrono::DateTime::from_timestamp(t, 0).map(|d| d.to_rfc3339());
        assert_eq!(
            at(SMBGHOST_FIX_RELEASED).as_deref(),
            Some("2020-03-12T00:00:00+00:00")
        );
        assert_eq!(
            at(SMBLEED_FIX_RELEASED).as_deref(),
            Some("2020-06-09T00:00:00+00:00")
        );
    }

    #[test]
    fn table() {
        let some = Some(true);
        type Case = (
            &'static str,
            GhostInputs,
            (GhostVerdict, Option<GhostReason>),
            (GhostVerdict, Option<GhostReason>),
        );
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("1909 offering LZNT1, no boot time (Windows 10 sends 0)",
             inputs(some, &[LZNT1], Some((10, 0, 18363))), (LikelyVulnerable, None), (LikelyVulnerable, None)),
            ("1903 booted before both fixes",
             GhostInputs { boot_time: Some(BOOT_2020_01_01), ..inputs(some, &[LZNT1], Some((10, 0, 18362))) },
             (LikelyVulnerable, None), (LikelyVulnerable, None)),
            ("1909 booted after both fixes: the update may be in effect",
             GhostInputs { boot_time: Some(BOOT_2021_01_01), ..inputs(some, &[LZNT1], Some((10, 0, 18363))) },
             (Unknown, Some(GhostReason::BootedAfterFix)), (Unknown, Some(GhostReason::BootedAfterFix))),
            ("1909 booted between the two fixes",
             GhostInputs { boot_time: Some(1_585_699_200), ..inputs(some, &[LZNT1], Some((10, 0, 18363))) },
             (Unknown, Some(GhostReason::BootedAfterFix)), (LikelyVulnerable, None)),
            ("build and boot time as in win10-19041-smb2-negotiate-311 (NTLMSSP 10.0.19041, ServerStartTime 0), compression offered: SMBleed only",
             inputs(some, &[LZNT1], Some((10, 0, 19041))), (NotVulnerable, Some(GhostReason::BuildNotAffected)), (LikelyVulnerable, None)),
            ("compression offered, build not learnt: never vulnerable",
             inputs(some, &[LZNT1], None), (Unknown, Some(GhostReason::BuildUnknown)), (Unknown, Some(GhostReason::BuildUnknown))),
            ("3.1.1 answer without a compression context (as win2019-17763-...-then-311, whose client did not ask)",
             inputs(some, &[], Some((10, 0, 17763))), (NotVulnerable, Some(GhostReason::CompressionNotOffered)), (NotVulnerable, Some(GhostReason::CompressionNotOffered))),
            ("win2022-20348-...-then-300 capture: the server chose 3.0",
             inputs(Some(false), &[], Some((10, 0, 20348))), (NotVulnerable, Some(GhostReason::NoSmb311)), (NotVulnerable, Some(GhostReason::NoSmb311))),
            ("1909 with DisableCompression = 1: no context",
             inputs(some, &[], Some((10, 0, 18363))), (NotVulnerable, Some(GhostReason::CompressionNotOffered)), (NotVulnerable, Some(GhostReason::CompressionNotOffered))),
            ("Samba offering compression (NTLMSSP 6.1.0)",
             inputs(some, &[LZNT1], Some((6, 1, 0))), (NotVulnerable, Some(GhostReason::NotWindows)), (NotVulnerable, Some(GhostReason::NotWindows))),
            ("no answer to the 3.1.1 negotiate",
             inputs(None, &[], Some((10, 0, 18363))), (Unknown, Some(GhostReason::NoSmb2Answer)), (Unknown, Some(GhostReason::NoSmb2Answer))),
            ("2004 build number under another major",
             inputs(some, &[LZNT1], Some((6, 3, 18363))), (NotVulnerable, Some(GhostReason::BuildNotAffected)), (NotVulnerable, Some(GhostReason::BuildNotAffected))),
        ];
        for (what, i, ghost, bleed) in cases {
            let r = judge(i);
            assert_eq!(
                (r.smbghost.verdict, r.smbghost.reason),
                *ghost,
                "{what}: SMBGhost"
            );
            assert_eq!(
                (r.smbleed.verdict, r.smbleed.reason),
                *bleed,
                "{what}: SMBleed"
            );
            assert_ne!(r.smbghost.verdict.as_str(), "vulnerable");
        }
    }

    #[test]
    fn boot_before_fix_is_inferred_missing() {
        let mut i = inputs(Some(true), &[LZNT1], Some((10, 0, 18363)));
        assert_eq!(
            judge(&i).smbghost.inferred,
            None,
            "no boot time, nothing inferred"
        );
        i.boot_time = Some(BOOT_2020_01_01);
        assert_eq!(judge(&i).smbghost.inferred, Some(GhostInferred::Missing));
        i.boot_time = Some(SMBGHOST_FIX_RELEASED);
        assert_eq!(judge(&i).smbghost.inferred, None);
    }

    #[test]
    fn remediation_rows_parse() {
        let t: toml::Table = toml::from_str(REMEDIATION_TOML).unwrap_or_else(|e| panic!("{e}"));
        let row = t
            .get("findings")
            .and_then(|v| v.get("smbghost"))
            .and_then(|v| v.get("workaround"))
            .and_then(|v| v.as_str());
        assert!(row.is_some_and(|s| !s.is_empty()));
    }
}
