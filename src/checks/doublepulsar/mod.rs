//! DoublePulsar (`--checks doublepulsar`): the implant's TRANS2 SESSION_SETUP ping (MID 65) on
//! the shared IPC$ session, or on a fresh one when the MS17-010 peek got no answer (the request
//! and the reading of its reply in [`exchange`], which `probe/smb1.rs` sends; the verdict rules
//! in [`rules`]). Its section is the record's `doublepulsar` object.

pub mod exchange;
pub mod rules;

use super::{Check, Column, CsvSlot, FindingDef, NmapScript, NmapVuln, Verdict};
use crate::model::{enum_name, DpVerdict, HostResult, Reason};

/// The DoublePulsar check.
pub struct DoublePulsar;

/// `DoublePulsar <verdict> (<arch or reason>)`.
pub fn text(h: &HostResult) -> String {
    let d = &h.doublepulsar;
    let why = d.arch.clone().or_else(|| d.reason.map(|r| enum_name(&r)));
    match why {
        Some(w) => format!("DoublePulsar {} ({w})", enum_name(&d.verdict)),
        None => format!("DoublePulsar {}", enum_name(&d.verdict)),
    }
}

/// The verdict, with the architecture when present: `present (x64)` (the terminal table's cell).
pub fn cell(h: &HostResult) -> String {
    match (&h.doublepulsar.verdict, &h.doublepulsar.arch) {
        (DpVerdict::Present, Some(a)) => format!("present ({a})"),
        (v, _) => enum_name(v),
    }
}

/// smb-double-pulsar-backdoor.nse's vulnerability table (no CVE: nmap keys it `NMAP-<n>`, n
/// counting the vulnerabilities of the run; smb1scan writes `NMAP-1`).
const NMAP_VULN: NmapVuln = NmapVuln {
    key: "NMAP-1",
    title: "Double Pulsar SMB Backdoor",
    ids: &[],
    risk_factor: "HIGH",
    scores: Some(("CVSSv2", "10.0 (HIGH) (AV:N/AC:L/Au:N/C:C/I:C/A:C)")),
    description: &[
        "The Double Pulsar SMB backdoor was detected running on the remote machine.",
        "",
    ],
    disclosure: ("2017", "04", "14"),
    exploit_results: true,
    refs: &[
        "https://github.com/countercept/doublepulsar-detection-script",
        "https://isc.sans.edu/forums/diary/Detecting+SMB+Covert+Channel+Double+Pulsar/22312/",
        "https://steemit.com/shadowbrokers/@theshadowbrokers/lost-in-translation",
    ],
};

static FINDINGS: [FindingDef; 1] = [FindingDef {
    name: "doublepulsar",
    help: "DoublePulsar `present`",
    order: 10,
    severity: 10,
    shows: |h| h.doublepulsar.verdict == DpVerdict::Present,
    fixed: |h| h.doublepulsar.verdict == DpVerdict::Absent || h.smb1.enabled == Some(false),
    text,
}];

static COLUMNS: [Column; 2] = [
    Column {
        name: "doublepulsar",
        cell: |h| enum_name(&h.doublepulsar.verdict),
    },
    Column {
        name: "doublepulsar_arch",
        cell: |h| h.doublepulsar.arch.clone().unwrap_or_default(),
    },
];

impl Check for DoublePulsar {
    fn name(&self) -> &'static str {
        "doublepulsar"
    }
    fn title(&self) -> &'static str {
        "DoublePulsar"
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
        let d = &h.doublepulsar;
        Some(Verdict {
            verdict: enum_name(&d.verdict),
            reason: d.reason.map(|r| enum_name(&r)),
            summary: Some(text(h)),
        })
    }
    fn table_column(&self) -> Option<(&'static str, usize)> {
        Some(("DOUBLEPULSAR", 13))
    }
    fn table_cell(&self, h: &HostResult) -> Option<String> {
        Some(cell(h))
    }
    /// `smb-double-pulsar-backdoor` for a `present` record only (see MS17-010's).
    fn nmap_scripts(&self, h: &HostResult) -> Vec<NmapScript> {
        if h.doublepulsar.verdict != DpVerdict::Present {
            return Vec::new();
        }
        vec![NMAP_VULN.vulnerable_script("smb-double-pulsar-backdoor")]
    }
    /// What it said on an answering port is judged whatever the policy
    /// ([`crate::report::policy::undecided_reason`]); a gate asking about it adds only a scan
    /// that did not select it.
    fn undecided(&self, h: &HostResult) -> Option<String> {
        (!super::ran(h, self.name())).then(|| "not-selected".into())
    }
    /// Undecided whatever the gate: the default gate's check.
    fn junit_undecided(&self, h: &HostResult, _gated: bool) -> Option<String> {
        (h.doublepulsar.verdict == DpVerdict::Unknown).then(|| text(h))
    }
    fn deselect(&self, h: &mut HostResult) {
        h.doublepulsar = Default::default();
        h.doublepulsar.verdict = DpVerdict::NotTested;
        h.doublepulsar.reason = Some(Reason::NotSelected);
    }
}
