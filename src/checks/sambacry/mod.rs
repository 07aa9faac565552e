//! SambaCry (`--checks sambacry`, CVE-2017-7494): the Samba version from the SMB1 NativeLanMan
//! string against the affected range. No exchange of its own: the shared SMB1 session setup
//! already carries the string, so [`Check::evaluate`] reads it from the record and writes the
//! `sambacry` section. SMB1 off means no NativeLanMan: `unknown` with its reason, never a
//! verdict. An in-range version is `likely-vulnerable`, never `vulnerable`: exploitation also
//! needs a writable share, which a read-only scan does not test, and a vendor may have
//! backported the fix.

pub mod rules;

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::{Check, Column, FindingDef};
use crate::model::HostResult;
use rules::SambaCryVerdict;

/// The check.
pub struct SambaCry;

/// The check's name: `--checks`, `checks`, and the record key of its section.
const NAME: &str = "sambacry";

/// The record's `sambacry` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// `likely-vulnerable`, `not-vulnerable`, `not-applicable` (not Samba), `unknown`, or
    /// `not-tested` (the port never answered, or the check was not selected).
    pub verdict: String,
    /// Why, when `unknown` or `not-tested`.
    pub reason: Option<String>,
    /// The finding in one sentence (with `likely-vulnerable`: exploitation also needs a writable
    /// share, which the scan does not test).
    pub summary: Option<String>,
    /// The Samba version the NativeLanMan string announces.
    pub version: Option<String>,
    /// Its vendor suffix (`Debian`, `Ubuntu`), which may carry a backported fix.
    pub vendor_suffix: Option<String>,
    /// With `likely-vulnerable`: the update, the workaround and the exposure to remove
    /// (data/checks/sambacry.toml).
    pub remediation: Option<String>,
}

impl Section {
    fn not_tested(reason: &str) -> Self {
        Section {
            verdict: "not-tested".into(),
            reason: Some(reason.into()),
            summary: None,
            version: None,
            vendor_suffix: None,
            remediation: None,
        }
    }
}

/// The section of a record, if the check ran.
pub fn section(h: &HostResult) -> Option<Section> {
    super::section(h, NAME)
}

fn verdict_is(h: &HostResult, v: SambaCryVerdict) -> bool {
    section(h).is_some_and(|s| s.verdict == v.as_str())
}

/// The `findings.sambacry` row of data/checks/sambacry.toml, as one text.
fn remediation() -> Option<String> {
    static TEXT: OnceLock<Option<String>> = OnceLock::new();
    TEXT.get_or_init(|| {
        let t: toml::Table = serde_json::from_str(rules::REMEDIATION_JSON).ok()?;
        let row = t.get("findings")?.get("sambacry")?;
        let get = |k: &str| row.get(k).and_then(|v| v.as_str());
        Some(format!(
            "update: {}; workaround: {}; {}",
            get("update")?,
            get("workaround")?,
            get("exposure")?
        ))
    })
    .clone()
}

/// The section from what the shared SMB1 session setup and NTLMSSP challenge learnt.
pub fn evaluate(h: &HostResult) -> Section {
    if !h.port_answered() {
        return Section::not_tested(&crate::model::enum_name(&h.status));
    }
    let ntlm_build = super::eol_os::ntlm_version(h).map(|v| v.2);
    // Samba: CAP_UNIX or a Samba LAN manager (the probe's `os.samba`), or NTLMSSP build 0,
    // which only Samba sends. Windows: a real build in the NTLMSSP version, or a LAN manager
    // string that names Windows.
    let samba = h.os.samba || ntlm_build == Some(0);
    let windows = !samba
        && (ntlm_build.is_some_and(|b| b != 0)
            || h.os
                .native_lanman
                .as_deref()
                .is_some_and(|s| s.trim_start().starts_with("Windows")));
    let f = rules::judge(h.os.native_lanman.as_deref(), windows, samba);
    Section {
        verdict: f.verdict.as_str().into(),
        reason: f.reason.map(|r| r.as_str().into()),
        summary: Some(f.summary()),
        version: f.version.map(|v| v.to_string()),
        vendor_suffix: f.vendor_suffix.clone(),
        remediation: (f.verdict == SambaCryVerdict::LikelyVulnerable)
            .then(remediation)
            .flatten(),
    }
}

fn text(h: &HostResult) -> String {
    section(h)
        .and_then(|s| s.summary)
        .unwrap_or_else(|| "SambaCry not-tested".into())
}

static FINDINGS: [FindingDef; 1] = [FindingDef {
    name: "sambacry",
    help: "Samba version in the CVE-2017-7494 (SambaCry) range (a writable share is not tested)",
    order: 50,
    severity: 25,
    shows: |h| verdict_is(h, SambaCryVerdict::LikelyVulnerable),
    fixed: |h| {
        verdict_is(h, SambaCryVerdict::NotVulnerable)
            || verdict_is(h, SambaCryVerdict::NotApplicable)
    },
    text,
}];

static COLUMNS: [Column; 3] = [
    Column {
        name: "sambacry",
        cell: |h| section(h).map(|s| s.verdict).unwrap_or_default(),
    },
    Column {
        name: "sambacry_reason",
        cell: |h| section(h).and_then(|s| s.reason).unwrap_or_default(),
    },
    Column {
        name: "sambacry_version",
        cell: |h| section(h).and_then(|s| s.version).unwrap_or_default(),
    },
];

impl Check for SambaCry {
    fn name(&self) -> &'static str {
        NAME
    }
    fn title(&self) -> &'static str {
        "SambaCry"
    }
    fn findings(&self) -> &'static [FindingDef] {
        &FINDINGS
    }
    fn csv_columns(&self) -> &'static [Column] {
        &COLUMNS
    }
    fn evaluate(&self, h: &mut HostResult) {
        let s = evaluate(h);
        super::set_section(h, NAME, &s);
    }
    fn deselect(&self, h: &mut HostResult) {
        super::set_section(h, NAME, &Section::not_tested("not-selected"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HostStatus;

    fn host(lanman: Option<&str>, ntlm: Option<&str>, samba: bool) -> HostResult {
        let mut h = HostResult::new([10, 0, 0, 1].into(), 445, None);
        h.os.native_lanman = lanman.map(str::to_owned);
        h.os.ntlm_version = ntlm.map(str::to_owned);
        h.os.samba = samba;
        h
    }

    /// The record's fields in, the section out: the responder's Samba 4.5.9 NAS, the lab's
    /// Samba (127.0.0.2: "Samba 4.17.12-Debian"; 127.0.0.3: SMB1 off, NTLMSSP 6.1.0), a
    /// Windows 7 (demo), a host that said nothing, a closed port.
    #[test]
    fn sambacry_from_the_record() {
        let s = evaluate(&host(Some("Samba 4.5.9"), Some("6.1.0"), true));
        assert_eq!(s.verdict, "likely-vulnerable");
        assert_eq!(s.version.as_deref(), Some("4.5.9"));
        assert!(s.summary.as_deref().is_some_and(|t| t.contains("write to")));
        assert!(s
            .remediation
            .as_deref()
            .is_some_and(|t| t.contains("4.5.10")));

        let s = evaluate(&host(Some("Samba 4.17.12-Debian"), Some("6.1.0"), true));
        assert_eq!(
            (s.verdict.as_str(), s.version.as_deref()),
            ("not-vulnerable", Some("4.17.12"))
        );
        assert!(s.remediation.is_none());

        // SMB1 off: no LAN manager string; NTLMSSP build 0 says Samba, not which version.
        let s = evaluate(&host(None, Some("6.1.0"), false));
        assert_eq!(
            (s.verdict.as_str(), s.reason.as_deref()),
            ("unknown", Some("version-not-disclosed"))
        );

        let s = evaluate(&host(
            Some("Windows 7 Professional 6.1"),
            Some("6.1.7601"),
            false,
        ));
        assert_eq!(s.verdict, "not-applicable");
        // XP sends no NTLMSSP version without extended security: its LAN manager names Windows.
        let s = evaluate(&host(Some("Windows 2000 LAN Manager"), None, false));
        assert_eq!(s.verdict, "not-applicable");

        let s = evaluate(&host(None, None, false));
        assert_eq!(
            (s.verdict.as_str(), s.reason.as_deref()),
            ("unknown", Some("no-lanman"))
        );

        let mut closed = host(None, None, false);
        closed.status = HostStatus::Closed;
        assert_eq!(evaluate(&closed).verdict, "not-tested");
    }

    #[test]
    fn sambacry_finding_through_the_registry() {
        use crate::report::policy::{has_finding, Finding};
        let f: Finding = "sambacry".parse().unwrap();
        let mut h = host(Some("Samba 4.5.9"), Some("6.1.0"), true);
        crate::checks::Selection::default().apply(&mut h);
        assert!(has_finding(&h, f));
        let mut h = host(Some("Samba 4.5.9"), Some("6.1.0"), true);
        crate::checks::Selection::parse(&["smb1".into()])
            .unwrap()
            .apply(&mut h);
        assert_eq!(section(&h).unwrap().reason.as_deref(), Some("not-selected"));
        assert!(!has_finding(&h, f));
    }
}
