//! MS17-010 (`--checks ms17-010`): TRANS PeekNamedPipe on FID 0 over the shared IPC$ session
//! (the request and the reading of its reply in [`exchange`], which `probe/smb1.rs` sends on the
//! session the login chain opened; the verdict rules in [`rules`]). Its section is the record's
//! `ms17_010` object.

pub mod exchange;
pub mod rules;

use super::{Check, Column, CsvSlot, FindingDef, NmapScript, NmapVuln, Verdict};
use crate::model::{enum_name, HostResult, Ms17Verdict, Reason};

/// The MS17-010 check.
pub struct Ms17010;

/// `MS17-010 <verdict> (<reason or status>)`: the JUnit message, and the text of `unknown`.
pub fn text(h: &HostResult) -> String {
    let m = &h.ms17_010;
    let why = m
        .reason
        .map(|r| enum_name(&r))
        .or_else(|| m.status_name.clone());
    match why {
        Some(w) => format!("MS17-010 {} ({w})", enum_name(&m.verdict)),
        None => format!("MS17-010 {}", enum_name(&m.verdict)),
    }
}

/// The verdict, with the reason when it is `unknown` or `not-tested`:
/// `unknown: timeout-after-peek` (the terminal table's cell, and every human-facing output's).
pub fn cell(h: &HostResult) -> String {
    let verdict = enum_name(&h.ms17_010.verdict);
    match h.ms17_010.reason {
        Some(r)
            if matches!(
                h.ms17_010.verdict,
                Ms17Verdict::Unknown | Ms17Verdict::NotTested
            ) =>
        {
            format!("{verdict}: {}", enum_name(&r))
        }
        _ => verdict,
    }
}

/// smb-vuln-ms17-010.nse's vulnerability table.
const NMAP_VULN: NmapVuln = NmapVuln {
    key: "CVE-2017-0143",
    title: "Remote Code Execution vulnerability in Microsoft SMBv1 servers (ms17-010)",
    ids: &["CVE:CVE-2017-0143"],
    risk_factor: "HIGH",
    scores: None,
    description: &[
        "A critical remote code execution vulnerability exists in Microsoft SMBv1",
        " servers (ms17-010).",
        // The script's long string ends with the indentation before its `]]`.
        "    ",
    ],
    disclosure: ("2017", "03", "14"),
    exploit_results: false,
    refs: &[
        "https://technet.microsoft.com/en-us/library/security/ms17-010.aspx",
        "https://cve.mitre.org/cgi-bin/cvename.cgi?name=CVE-2017-0143",
        "https://blogs.technet.microsoft.com/msrc/2017/05/12/customer-guidance-for-wannacrypt-attacks/",
    ],
};

static FINDINGS: [FindingDef; 1] = [FindingDef {
    name: "vulnerable",
    help: "MS17-010 `vulnerable`",
    order: 0,
    severity: 20,
    shows: |h| h.ms17_010.verdict == Ms17Verdict::Vulnerable,
    fixed: |h| {
        matches!(
            h.ms17_010.verdict,
            Ms17Verdict::NotVulnerable | Ms17Verdict::NotExposed
        )
    },
    text,
}];

static COLUMNS: [Column; 3] = [
    Column {
        name: "ms17_010",
        cell: |h| enum_name(&h.ms17_010.verdict),
    },
    Column {
        name: "ms17_010_reason",
        cell: |h| h.ms17_010.reason.map(|r| enum_name(&r)).unwrap_or_default(),
    },
    Column {
        name: "ms17_010_status",
        cell: |h| h.ms17_010.status.clone().unwrap_or_default(),
    },
];

impl Check for Ms17010 {
    fn name(&self) -> &'static str {
        "ms17-010"
    }
    fn title(&self) -> &'static str {
        "MS17-010"
    }
    fn findings(&self) -> &'static [FindingDef] {
        &FINDINGS
    }
    fn csv_slot(&self) -> CsvSlot {
        CsvSlot::AfterIdentity
    }
    fn csv_columns(&self) -> &'static [Column] {
        &COLUMNS
    }
    fn verdict(&self, h: &HostResult) -> Option<Verdict> {
        let m = &h.ms17_010;
        Some(Verdict {
            verdict: enum_name(&m.verdict),
            reason: m.reason.map(|r| enum_name(&r)),
            summary: Some(text(h)),
        })
    }
    fn table_column(&self) -> Option<(&'static str, usize)> {
        // The longest text, `unknown: smb1-error-at-negotiate`, is never cut.
        Some(("MS17-010", 32))
    }
    fn table_cell(&self, h: &HostResult) -> Option<String> {
        Some(cell(h))
    }
    /// `smb-vuln-ms17-010` for a `vulnerable` record only: nmap's script reports NOT VULNERABLE
    /// for everything else (which its default output omits), so the other verdicts keep their
    /// reason in the `smb1scan` element.
    fn nmap_scripts(&self, h: &HostResult) -> Vec<NmapScript> {
        if h.ms17_010.verdict != Ms17Verdict::Vulnerable {
            return Vec::new();
        }
        vec![NMAP_VULN.vulnerable_script("smb-vuln-ms17-010")]
    }
    /// What it said on an answering port is judged whatever the policy
    /// ([`crate::report::policy::undecided_reason`]); a gate asking about it adds only a scan
    /// that did not select it.
    fn undecided(&self, h: &HostResult) -> Option<String> {
        (!super::ran(h, self.name())).then(|| "not-selected".into())
    }
    /// Undecided whatever the gate: the default gate's check.
    fn junit_undecided(&self, h: &HostResult, _gated: bool) -> Option<String> {
        matches!(
            h.ms17_010.verdict,
            Ms17Verdict::Unknown | Ms17Verdict::NotTested
        )
        .then(|| text(h))
    }
    fn deselect(&self, h: &mut HostResult) {
        h.ms17_010 = Default::default();
        h.ms17_010.verdict = Ms17Verdict::NotTested;
        h.ms17_010.reason = Some(Reason::NotSelected);
    }
}
