//! End-of-life OS (`--checks eol-os`): whether the host's OS still receives security updates at
//! the scan's date, from its NativeOS string and NTLMSSP version against `data/eol.toml`. No
//! exchange of its own: the shared session setups already carry both, so [`Check::evaluate`]
//! reads them from the record and writes the `eol-os` section. The date is the record's
//! `scanned_at` (when the host's probe started), never the clock at evaluation, so a record says
//! what was true the day it was scanned.

pub mod rules;

use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Check, Column, FindingDef};
use crate::model::HostResult;
use rules::{EolFinding, EolVerdict, OsIdentity};

/// The check.
pub struct EolOs;

/// The check's name: `--checks`, `checks`, and the record key of its section.
const NAME: &str = "eol-os";

/// The record's `eol-os` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// `supported`, `esu-only`, `end-of-life`, `unknown`, or `not-tested` (the port never
    /// answered, or the check was not selected).
    pub verdict: String,
    /// Why, when `unknown` or `not-tested`.
    pub reason: Option<String>,
    /// The finding in one sentence: the end-of-support date and what replaces the product.
    pub summary: Option<String>,
    /// The product(s) the replies identify (several, joined with ` / `, when only the NTLMSSP
    /// version was learnt and it fits several).
    pub product: Option<String>,
    /// The build the verdict used.
    pub build: Option<u32>,
    /// `native-os` (the SMB1 NativeOS string) or `ntlm-version` (the NTLMSSP version alone).
    pub identified_by: Option<String>,
    /// The date judged at (`YYYY-MM-DD`, from `scanned_at`).
    pub judged_at: Option<String>,
    /// Last day of public security updates (`YYYY-MM-DD`).
    pub end_of_support: Option<String>,
    /// Last day of paid Extended Security Updates, where a programme exists.
    pub esu_until: Option<String>,
    /// What replaces the product.
    pub replacement: Option<String>,
    /// The lifecycle page the dates come from.
    pub source: Option<String>,
    /// What to do (data/checks/eol_os.toml), with `end-of-life` or `esu-only`.
    pub remediation: Option<String>,
}

impl Section {
    fn not_tested(reason: &str) -> Self {
        Section {
            verdict: "not-tested".into(),
            reason: Some(reason.into()),
            summary: None,
            product: None,
            build: None,
            identified_by: None,
            judged_at: None,
            end_of_support: None,
            esu_until: None,
            replacement: None,
            source: None,
            remediation: None,
        }
    }
}

/// The section of a record, if the check ran.
pub fn section(h: &HostResult) -> Option<Section> {
    super::section(h, NAME)
}

fn verdict_is(h: &HostResult, v: EolVerdict) -> bool {
    section(h).is_some_and(|s| s.verdict == v.as_str())
}

/// `major.minor.build` of `os.ntlm_version`.
pub(crate) fn ntlm_version(h: &HostResult) -> Option<(u8, u8, u16)> {
    let mut it = h.os.ntlm_version.as_deref()?.split('.');
    Some((
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    ))
}

/// The scan's date: the day of `scanned_at` (RFC 3339, UTC).
pub fn scan_date(h: &HostResult) -> Option<NaiveDate> {
    chrono::DateTime::parse_from_rfc3339(&h.scanned_at)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc).date_naive())
}

/// `findings.<verdict>.action` of data/checks/eol_os.toml.
fn remediation(v: EolVerdict) -> Option<String> {
    static TABLE: OnceLock<Option<toml::Table>> = OnceLock::new();
    TABLE
        .get_or_init(|| serde_json::from_str(rules::REMEDIATION_JSON).ok())
        .as_ref()?
        .get("findings")?
        .get(v.as_str())?
        .get("action")?
        .as_str()
        .map(str::to_owned)
}

fn date(d: Option<NaiveDate>) -> Option<String> {
    d.map(|d| d.format("%Y-%m-%d").to_string())
}

fn from_finding(f: &EolFinding, at: NaiveDate) -> Section {
    let known = f.verdict != EolVerdict::Unknown;
    Section {
        verdict: f.verdict.as_str().into(),
        reason: f.reason.map(|r| r.as_str().into()),
        summary: Some(f.summary()),
        product: f.product.clone(),
        build: f.build,
        identified_by: (known || f.product.is_some()).then(|| {
            if f.from_ntlm_only {
                "ntlm-version".into()
            } else {
                "native-os".into()
            }
        }),
        judged_at: date(Some(at)),
        end_of_support: date(f.end_of_support),
        esu_until: date(f.esu_until),
        replacement: f.replacement.clone(),
        source: f.source.clone(),
        remediation: matches!(f.verdict, EolVerdict::EndOfLife | EolVerdict::EsuOnly)
            .then(|| remediation(f.verdict))
            .flatten(),
    }
}

/// The section from what the shared session setups learnt, judged at the record's scan date.
pub fn evaluate(h: &HostResult) -> Section {
    if !h.port_answered() {
        return Section::not_tested(&crate::model::enum_name(&h.status));
    }
    let Some(at) = scan_date(h) else {
        let mut s = Section::not_tested("no-scan-date");
        s.verdict = EolVerdict::Unknown.as_str().into();
        return s;
    };
    let id = OsIdentity {
        native_os: h.os.native_os.as_deref(),
        native_lanman: h.os.native_lanman.as_deref(),
        ntlm_version: ntlm_version(h),
        cap_unix: h.os.samba,
    };
    from_finding(&rules::judge_builtin(&id, at), at)
}

fn text(h: &HostResult) -> String {
    section(h)
        .and_then(|s| s.summary)
        .unwrap_or_else(|| "OS support not-tested".into())
}

static FINDINGS: [FindingDef; 2] = [
    FindingDef {
        name: "eol-os",
        help: "OS out of support at the scan date (no security updates of any kind)",
        order: 40,
        severity: 35,
        shows: |h| verdict_is(h, EolVerdict::EndOfLife),
        fixed: |h| verdict_is(h, EolVerdict::Supported),
        text,
    },
    FindingDef {
        name: "eol-os-esu",
        help: "OS past public support, fixed only under paid Extended Security Updates",
        order: 41,
        severity: 43,
        shows: |h| verdict_is(h, EolVerdict::EsuOnly),
        fixed: |h| verdict_is(h, EolVerdict::Supported),
        text,
    },
];

static COLUMNS: [Column; 4] = [
    Column {
        name: "eol_os",
        cell: |h| section(h).map(|s| s.verdict).unwrap_or_default(),
    },
    Column {
        name: "eol_os_reason",
        cell: |h| section(h).and_then(|s| s.reason).unwrap_or_default(),
    },
    Column {
        name: "eol_os_product",
        cell: |h| section(h).and_then(|s| s.product).unwrap_or_default(),
    },
    Column {
        name: "eol_os_end_of_support",
        cell: |h| {
            section(h)
                .and_then(|s| s.end_of_support)
                .unwrap_or_default()
        },
    },
];

impl Check for EolOs {
    fn name(&self) -> &'static str {
        NAME
    }
    fn title(&self) -> &'static str {
        "End-of-life OS"
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

    fn host(native_os: Option<&str>, lanman: Option<&str>, ntlm: Option<&str>) -> HostResult {
        let mut h = HostResult::new([10, 0, 0, 1].into(), 445, None);
        h.os.native_os = native_os.map(str::to_owned);
        h.os.native_lanman = lanman.map(str::to_owned);
        h.os.ntlm_version = ntlm.map(str::to_owned);
        h.scanned_at = "2026-12-06T09:00:00.000Z".into();
        h
    }

    /// The record's fields in, the section out, at a pinned scan date: the demo's Windows 7 and
    /// XP, an SMB1-off Windows 10 22H2 (NTLMSSP only, ESU), the lab's Samba (127.0.0.2: NativeOS
    /// "Windows 6.1", CAP_UNIX), a host that said nothing, a closed port.
    #[test]
    fn eol_os_from_the_record() {
        let win7 = host(
            Some("Windows 7 Professional 7601 Service Pack 1"),
            Some("Windows 7 Professional 6.1"),
            Some("6.1.7601"),
        );
        let s = evaluate(&win7);
        assert_eq!(s.verdict, "end-of-life");
        assert_eq!(s.product.as_deref(), Some("Windows 7"));
        assert_eq!(s.end_of_support.as_deref(), Some("2020-01-14"));
        assert_eq!(s.identified_by.as_deref(), Some("native-os"));
        assert_eq!(s.judged_at.as_deref(), Some("2026-12-06"));
        assert!(s
            .summary
            .as_deref()
            .is_some_and(|t| t.contains("replace with")));
        assert!(s.remediation.is_some());

        let s = evaluate(&host(None, None, Some("10.0.19045")));
        assert_eq!(
            (s.verdict.as_str(), s.identified_by.as_deref()),
            ("esu-only", Some("ntlm-version"))
        );
        assert_eq!(s.esu_until.as_deref(), Some("2028-10-10"));

        let mut samba = host(
            Some("Windows 6.1"),
            Some("Samba 4.17.12-Debian"),
            Some("6.1.0"),
        );
        samba.os.samba = true;
        let s = evaluate(&samba);
        assert_eq!(
            (s.verdict.as_str(), s.reason.as_deref()),
            ("unknown", Some("samba-host-os"))
        );
        assert!(s.remediation.is_none());

        let s = evaluate(&host(None, None, None));
        assert_eq!(
            (s.verdict.as_str(), s.reason.as_deref()),
            ("unknown", Some("no-os-identity"))
        );

        let mut closed = host(None, None, None);
        closed.status = HostStatus::Closed;
        let s = evaluate(&closed);
        assert_eq!(
            (s.verdict.as_str(), s.reason.as_deref()),
            ("not-tested", Some("closed"))
        );
    }

    /// The scan's date decides, not the clock: the same Windows Server 2012 R2 record is
    /// supported scanned in 2023-09, esu-only in 2024, end-of-life after 2026-10-13.
    #[test]
    fn eol_os_is_judged_at_the_scan_date() {
        let mut h = host(
            Some("Windows Server 2012 R2 Standard 9600"),
            Some("Windows Server 2012 R2 Standard 6.3"),
            Some("6.3.9600"),
        );
        for (at, want) in [
            ("2023-09-01T10:00:00.000Z", "supported"),
            ("2024-06-01T10:00:00.000Z", "esu-only"),
            ("2026-12-06T10:00:00.000Z", "end-of-life"),
        ] {
            h.scanned_at = at.into();
            assert_eq!(evaluate(&h).verdict, want, "{at}");
        }
        h.scanned_at = "not a date".into();
        let s = evaluate(&h);
        assert_eq!(
            (s.verdict.as_str(), s.reason.as_deref()),
            ("unknown", Some("no-scan-date"))
        );
    }

    #[test]
    fn eol_os_findings_through_the_registry() {
        use crate::report::policy::{has_finding, Finding};
        let eol: Finding = "eol-os".parse().unwrap();
        let esu: Finding = "eol-os-esu".parse().unwrap();
        let mut h = host(Some("Windows 5.1"), Some("Windows 2000 LAN Manager"), None);
        crate::checks::Selection::default().apply(&mut h);
        assert!(has_finding(&h, eol) && !has_finding(&h, esu));
        let mut h = host(None, None, Some("10.0.19045"));
        crate::checks::Selection::default().apply(&mut h);
        assert!(!has_finding(&h, eol) && has_finding(&h, esu));
        // Not selected: not-tested, never a verdict, never a finding.
        let mut h = host(Some("Windows 5.1"), Some("Windows 2000 LAN Manager"), None);
        crate::checks::Selection::parse(&["ms17-010".into()])
            .unwrap()
            .apply(&mut h);
        let s = section(&h).unwrap();
        assert_eq!(
            (s.verdict.as_str(), s.reason.as_deref()),
            ("not-tested", Some("not-selected"))
        );
        assert!(!has_finding(&h, eol));
    }
}
