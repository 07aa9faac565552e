//! The checks, each a module of its own, and the one registry that lists them.
//!
//! A check owns, in `src/checks/<name>/`: its pure verdict rules (`rules.rs`, unit-tested by
//! `cargo test --lib <name>`), its `--checks` name, its `--fail-on` findings, its CSV columns and
//! terminal-table cell, and what a record says when it was not selected. The probe runs the
//! shared steps (connect, negotiates, login chain, IPC$) once for every check; a check that needs
//! only what those steps learnt decides in [`Check::evaluate`]. Outputs, `--checks` and
//! `--fail-on` iterate [`REGISTRY`] instead of naming checks. See docs/adding-a-check.md.

pub mod anonymous;
pub mod doublepulsar;
pub mod eol_os;
pub mod ms17_010;
pub mod sambacry;
pub mod signing;
pub mod smb1;
pub mod smbghost;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{HostResult, HostStatus};

/// Every check, in the order records and outputs list them. Adding a check is one line here.
#[rustfmt::skip]
pub static REGISTRY: &[&dyn Check] = &[
    &smb1::Smb1,
    &ms17_010::Ms17010,
    &doublepulsar::DoublePulsar,
    &signing::SigningCheck,
    &anonymous::Anonymous,
    &eol_os::EolOs,
    &sambacry::SambaCry,
    &smbghost::SmbGhost,
];

/// A finding a check can report, by the name `--fail-on` and `diff` use.
pub struct FindingDef {
    /// `--fail-on` name (`vulnerable`, `doublepulsar`, `smb1`, ...).
    pub name: &'static str,
    /// One line for `--help`.
    pub help: &'static str,
    /// Where the name sorts in `--fail-on` lists and help (lower first; `unknown` is 90).
    pub order: u8,
    /// Severity rank in reports (lower = more severe; `unknown` is 30).
    pub severity: u8,
    /// Whether the host shows it.
    pub shows: fn(&HostResult) -> bool,
    /// Whether the host shows it gone on evidence (diff's `fixed`), not merely not shown.
    pub fixed: fn(&HostResult) -> bool,
    /// The JUnit failure message for it.
    pub text: fn(&HostResult) -> String,
}

/// One CSV column a check contributes.
pub struct Column {
    /// Header name.
    pub name: &'static str,
    /// The cell (raw text; the CSV writer sanitises and defuses it).
    pub cell: fn(&HostResult) -> String,
}

/// A check's verdict in the shape every output shows, as the generic record section says it:
/// `verdict`, `reason` (why, when undecided) and `summary` (a sentence for people).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Verdict {
    /// The verdict word (`signing-not-required`, `unknown`, `not-tested`, ...).
    pub verdict: String,
    /// Why, when `unknown` or `not-tested`.
    #[serde(default)]
    pub reason: Option<String>,
    /// One sentence for people, when the check writes one.
    #[serde(default)]
    pub summary: Option<String>,
}

impl Verdict {
    /// Undecided: `unknown` (the host answered, the check could not decide).
    pub fn is_unknown(&self) -> bool {
        self.verdict == "unknown"
    }

    /// Not run here: `not-tested` (not selected, or the port never answered).
    pub fn is_not_tested(&self) -> bool {
        self.verdict == "not-tested"
    }

    /// `verdict`, with `: reason` when there is one: an `unknown` never shows without it.
    pub fn text(&self) -> String {
        match &self.reason {
            Some(r) => format!("{}: {r}", self.verdict),
            None => self.verdict.clone(),
        }
    }
}

/// A node of an nmap script's structured output: nmap's `<elem key=..>` or `<table key=..>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NmapNode {
    /// `<elem key="k">value</elem>` (no key: a list item).
    Elem(Option<String>, String),
    /// `<table key="k">...</table>`.
    Table(Option<String>, Vec<NmapNode>),
}

/// One `<script id=.. output=..>` element of a host's `hostscript`, in nmap's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NmapScript {
    /// nmap's own script id where nmap has the script, else `smb1scan-<check>`.
    pub id: String,
    /// The lines of the text nmap prints (`output`), each after a line break; the writer
    /// replaces control characters in each, so a hostile string cannot forge a line.
    pub lines: Vec<String>,
    /// `output` ends with a line break too (nmap's vulns layout does).
    pub trailing_newline: bool,
    /// The structured output.
    pub nodes: Vec<NmapNode>,
}

impl NmapScript {
    /// The generic script of a check's [`Verdict`]: id `smb1scan-<name>`, `verdict`, `reason`
    /// and `summary` as elems and `key: value` output lines.
    pub fn generic(name: &str, v: &Verdict) -> Self {
        let mut pairs = vec![("verdict", v.verdict.clone())];
        pairs.extend(v.reason.clone().map(|r| ("reason", r)));
        pairs.extend(v.summary.clone().map(|s| ("summary", s)));
        NmapScript {
            id: format!("smb1scan-{name}"),
            lines: pairs.iter().map(|(k, v)| format!("  {k}: {v}")).collect(),
            trailing_newline: false,
            nodes: pairs
                .into_iter()
                .map(|(k, v)| NmapNode::Elem(Some(k.to_string()), v))
                .collect(),
        }
    }

    /// The `output` attribute's text.
    pub fn output(&self) -> String {
        let mut o: String = self.lines.iter().map(|l| format!("\n{l}")).collect();
        if self.trailing_newline {
            o.push('\n');
        }
        o
    }
}

/// A vulnerability as nmap's vulns library (vulns.lua) formats it, for the checks whose finding
/// nmap reports with a vulns script (smb-vuln-ms17-010, smb-double-pulsar-backdoor).
pub struct NmapVuln {
    /// The table key (`CVE-2017-0143`, `NMAP-1`).
    pub key: &'static str,
    /// Title line.
    pub title: &'static str,
    /// `IDs:` entries.
    pub ids: &'static [&'static str],
    /// `Risk factor:`.
    pub risk_factor: &'static str,
    /// `scores` (`CVSSv2`), printed after the risk factor and kept as a table.
    pub scores: Option<(&'static str, &'static str)>,
    /// Description lines.
    pub description: &'static [&'static str],
    /// Disclosure date (year, month, day).
    pub disclosure: (&'static str, &'static str, &'static str),
    /// The script sets an (empty) `exploit_results` table: nmap writes it as an empty table.
    pub exploit_results: bool,
    /// References.
    pub refs: &'static [&'static str],
}

impl NmapVuln {
    /// The script element in the `VULNERABLE` state, as nmap 7.93 writes it at default
    /// verbosity (nmap writes nothing for any other state unless `--script-args
    /// vulns.showall` is given).
    pub fn vulnerable_script(&self, id: &str) -> NmapScript {
        const STATE: &str = "VULNERABLE";
        let (y, m, d) = self.disclosure;
        let mut lines: Vec<String> = vec![
            "VULNERABLE:".to_string(),
            self.title.to_string(),
            format!("  State: {STATE}"),
        ];
        if !self.ids.is_empty() {
            lines.push(format!("  IDs:  {}", self.ids.join("  ")));
        }
        let scores = self
            .scores
            .map(|(k, s)| format!("  {k}: {s}"))
            .unwrap_or_default();
        lines.push(format!("  Risk factor: {}{scores}", self.risk_factor));
        lines.extend(self.description.iter().map(|l| format!("    {l}")));
        lines.push(format!("  Disclosure date: {y}-{m}-{d}"));
        lines.push("  References:".to_string());
        lines.extend(self.refs.iter().map(|r| format!("    {r}")));
        let e = |k: &str, v: &str| NmapNode::Elem(Some(k.to_string()), v.to_string());
        let list = |v: &[&str]| {
            v.iter()
                .map(|x| NmapNode::Elem(None, x.to_string()))
                .collect()
        };
        let mut t = vec![e("title", self.title), e("state", STATE)];
        if !self.ids.is_empty() {
            t.push(NmapNode::Table(Some("ids".into()), list(self.ids)));
        }
        if let Some((k, s)) = self.scores {
            t.push(NmapNode::Table(Some("scores".into()), vec![e(k, s)]));
        }
        t.push(NmapNode::Table(
            Some("description".into()),
            vec![NmapNode::Elem(None, self.description.join("\n"))],
        ));
        t.push(NmapNode::Table(
            Some("dates".into()),
            vec![NmapNode::Table(
                Some("disclosure".into()),
                vec![e("day", d), e("year", y), e("month", m)],
            )],
        ));
        t.push(e("disclosure", &format!("{y}-{m}-{d}")));
        if self.exploit_results {
            t.push(NmapNode::Table(Some("exploit_results".into()), Vec::new()));
        }
        t.push(NmapNode::Table(Some("refs".into()), list(self.refs)));
        NmapScript {
            id: id.to_string(),
            lines: lines.into_iter().map(|l| format!("  {l}")).collect(),
            trailing_newline: true,
            nodes: vec![NmapNode::Table(Some(self.key.to_string()), t)],
        }
    }
}

/// Where a check's CSV columns go. The first three checks keep the places their columns have
/// had since schema 1; new checks append at the end (CSV readers index by header name, and
/// spreadsheets built on the old layout keep working).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvSlot {
    /// After `status`.
    AfterStatus,
    /// After the identity columns (`dns_name`).
    AfterIdentity,
    /// After `error`, the last fixed column.
    End,
}

/// One check. Implemented by a unit struct in the check's folder and listed in [`REGISTRY`].
pub trait Check: Sync {
    /// The `--checks` name and the name in a record's `checks` list (`ms17-010`).
    fn name(&self) -> &'static str;
    /// Its title in outputs (`MS17-010`).
    fn title(&self) -> &'static str;
    /// Sends only read-only queries: selected by default.
    fn read_only(&self) -> bool {
        true
    }
    /// The findings `--fail-on` can name for it.
    fn findings(&self) -> &'static [FindingDef] {
        &[]
    }
    /// Where its CSV columns go.
    fn csv_slot(&self) -> CsvSlot {
        CsvSlot::End
    }
    /// Its CSV columns, in order.
    fn csv_columns(&self) -> &'static [Column] {
        &[]
    }
    /// After the shared steps: derive its section from what they learnt (a check with
    /// exchanges of its own records them as it runs, so this is then a no-op).
    fn evaluate(&self, _h: &mut HostResult) {}
    /// The record of a host on which it was not selected: `not-tested`, reason `not-selected`,
    /// never a verdict.
    fn deselect(&self, h: &mut HostResult);

    // ---- Outputs. The defaults read the generic section ([`Verdict`]) and the findings, so a
    // check that overrides nothing still shows in the terminal table, HTML, nmap XML and JUnit.

    /// This host's verdict; `None` when the record has no section for it (a file from before
    /// the check existed). Default: the section's `verdict`, `reason`, `summary`.
    fn verdict(&self, h: &HostResult) -> Option<Verdict> {
        section(h, self.name())
    }
    /// A terminal-table column of its own (title, width), for the checks a person scans the
    /// table for. Default `None`: the check shows in the shared FINDINGS column.
    fn table_column(&self) -> Option<(&'static str, usize)> {
        None
    }
    /// Its terminal-table text. Default: the names of the findings it shows, or `<name>?` when
    /// it is `unknown` (the reason is in every other output); `None` when there is nothing to
    /// say (no finding, decided).
    fn table_cell(&self, h: &HostResult) -> Option<String> {
        if !ran(h, self.name()) {
            return None;
        }
        let shown: Vec<&str> = self
            .findings()
            .iter()
            .filter(|d| (d.shows)(h))
            .map(|d| d.name)
            .collect();
        if !shown.is_empty() {
            return Some(shown.join(","));
        }
        self.verdict(h)
            .filter(Verdict::is_unknown)
            .map(|_| format!("{}?", self.name()))
    }
    /// Its `hostscript` elements in nmap XML. Default: one [`NmapScript::generic`] element when
    /// the check ran.
    fn nmap_scripts(&self, h: &HostResult) -> Vec<NmapScript> {
        if !ran(h, self.name()) {
            return Vec::new();
        }
        self.verdict(h)
            .map(|v| vec![NmapScript::generic(self.name(), &v)])
            .unwrap_or_default()
    }
    /// Its action in the record's `remediation.actions` (after the first three checks', which
    /// come from the OS table). Default: `<title>: <the section's remediation>` when the check
    /// ran and its section carries one.
    fn remediation(&self, h: &HostResult) -> Option<String> {
        if !ran(h, self.name()) {
            return None;
        }
        let r = h.sections.get(self.name())?.get("remediation")?.as_str()?;
        Some(format!("{}: {r}", self.title()))
    }
    /// Why this check left a host whose port answered (status `open`) undecided, for a gate
    /// whose policy asks about it ([`crate::report::policy::undecided_under`]). Default: it
    /// ran and said `unknown` or `not-tested` (the reason, else the verdict), the record has no
    /// section for it (`no-record`), or the scan did not select it (`not-selected`): a run
    /// cannot pass on a finding it never looked for.
    fn undecided(&self, h: &HostResult) -> Option<String> {
        if !ran(h, self.name()) {
            return Some("not-selected".into());
        }
        match self.verdict(h) {
            None => Some("no-record".into()),
            Some(v) if v.is_unknown() || v.is_not_tested() => Some(v.reason.unwrap_or(v.verdict)),
            Some(_) => None,
        }
    }
    /// The JUnit skip message part when this check left the host undecided; `gated` says
    /// whether the run's `--fail-on` names one of its findings. Default: `<title> unknown
    /// (reason)` when gated and `unknown` (an undecided check the gate does not ask about does
    /// not make the test case undecided).
    fn junit_undecided(&self, h: &HostResult, gated: bool) -> Option<String> {
        let v = self.verdict(h).filter(|v| gated && v.is_unknown())?;
        Some(match v.reason {
            Some(r) => format!("{} unknown ({r})", self.title()),
            None => format!("{} unknown", self.title()),
        })
    }
}

/// The check named `name` (`--checks` spelling, case-insensitive).
pub fn by_name(name: &str) -> Option<&'static dyn Check> {
    REGISTRY
        .iter()
        .copied()
        .find(|c| c.name().eq_ignore_ascii_case(name.trim()))
}

/// The names of every check, in registry order.
pub fn all_names() -> Vec<&'static str> {
    REGISTRY.iter().map(|c| c.name()).collect()
}

/// The checks a scan runs (`--checks`), as a set over [`REGISTRY`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    on: Vec<bool>,
}

impl Default for Selection {
    /// Every read-only check.
    fn default() -> Self {
        Selection {
            on: REGISTRY.iter().map(|c| c.read_only()).collect(),
        }
    }
}

impl Selection {
    /// Parses a `--checks` list (comma-separated names, `all` for every read-only check). The
    /// error names the accepted values.
    pub fn parse(list: &[String]) -> Result<Self, String> {
        let mut on = vec![false; REGISTRY.len()];
        for name in list.iter().flat_map(|s| s.split(',')) {
            let name = name.trim();
            if name.eq_ignore_ascii_case("all") {
                for (o, c) in on.iter_mut().zip(REGISTRY) {
                    *o |= c.read_only();
                }
                continue;
            }
            let i = REGISTRY
                .iter()
                .position(|c| c.name().eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    format!(
                        "`{name}` is not a check; the checks are: {}, all",
                        all_names().join(", ")
                    )
                })?;
            on[i] = true;
        }
        if !on.contains(&true) {
            return Err("--checks selects no check".into());
        }
        Ok(Selection { on })
    }

    /// Whether the check named `name` is selected.
    pub fn contains(&self, name: &str) -> bool {
        REGISTRY
            .iter()
            .zip(&self.on)
            .any(|(c, on)| *on && c.name() == name)
    }

    /// The selected checks, in registry order.
    pub fn checks(&self) -> impl Iterator<Item = &'static dyn Check> + '_ {
        REGISTRY
            .iter()
            .zip(&self.on)
            .filter(|(_, on)| **on)
            .map(|(c, _)| *c)
    }

    /// Their names, in registry order (a record's `checks`).
    pub fn names(&self) -> Vec<String> {
        self.checks().map(|c| c.name().to_string()).collect()
    }

    /// Whether every check is selected (the `checks` list of a record from before schema 3).
    pub fn is_all(&self) -> bool {
        self.on.iter().all(|o| *o)
    }

    /// Finishes a record for this selection: each selected check evaluates what the shared
    /// steps learnt, each other one is marked `not-selected`, and `checks` lists the selected.
    /// A record whose port never answered carries no section of the selected checks that keep
    /// one ([`silent_section`] reads it back): each would only repeat `status`, and they were
    /// most of such a record's size and of a silent sweep's CPU. (A check not selected keeps its
    /// `not-selected` section: without it the record would read as a file from before the check.)
    pub fn apply(&self, h: &mut HostResult) {
        let silent = !h.port_answered();
        for (c, on) in REGISTRY.iter().zip(&self.on) {
            if silent && *on && keeps_section(c.name()) {
                h.sections.remove(c.name());
            } else if *on {
                c.evaluate(h);
            } else {
                c.deselect(h);
            }
        }
        h.checks = self.names();
    }
}

/// The symbolic name of a status (`STATUS_ACCESS_DENIED`), when known: the `status_name` of
/// records and steps, for the probe and the checks' own exchanges alike.
pub fn status_name(s: smb1scan_protocol::SmbError) -> Option<String> {
    match s {
        smb1scan_protocol::SmbError::Nt(n) => n.name().map(str::to_owned),
        smb1scan_protocol::SmbError::Dos(d) => d.name().map(str::to_owned),
    }
}

/// Whether the check named `name` ran on this host (a record before schema 3 ran every one).
pub fn ran(h: &HostResult, name: &str) -> bool {
    h.checks.iter().any(|c| c == name)
}

/// A check's record section stored under its name in [`HostResult::sections`], for checks added
/// after the first three (which keep their schema-1 fields); for a record whose port never
/// answered, which carries none (schema 4), the section its check writes for such a record
/// ([`silent_section`]). `None` when absent otherwise (a file from before the check) or
/// unreadable.
pub fn section<T: DeserializeOwned>(h: &HostResult, name: &str) -> Option<T> {
    let v = match h.sections.get(name) {
        Some(v) => std::borrow::Cow::Borrowed(v),
        None => silent_section(h, name)?,
    };
    T::deserialize(v.as_ref()).ok()
}

/// Whether the check named `name` keeps a section under its name (every check after the first
/// three, whose verdicts are the record's own schema-1 fields).
pub fn keeps_section(name: &str) -> bool {
    !crate::model::SCHEMA_2_CHECKS.contains(&name)
}

/// The statuses of a port that never answered ([`HostResult::port_answered`] false).
const SILENT: [HostStatus; 6] = [
    HostStatus::Closed,
    HostStatus::Filtered,
    HostStatus::Unreachable,
    HostStatus::Interrupted,
    HostStatus::Error,
    HostStatus::Unresolved,
];

/// The section a check that ran (`checks` lists it) keeps for a record whose port never
/// answered, which records leave out (schema 4, [`Selection::apply`]): what the check writes
/// for such a record, `not-tested` with the status as its reason, never a verdict (silence is
/// never safety). It depends on nothing but the status (a test holds every check to that), so
/// it is made once per (check, status). `None` for a record whose port answered, a check that
/// did not run, or one without a section of its own.
pub fn silent_section(h: &HostResult, name: &str) -> Option<std::borrow::Cow<'static, Value>> {
    use std::borrow::Cow;
    use std::sync::OnceLock;
    type Made = Vec<(&'static str, HostStatus, Value)>;
    if h.port_answered() || !keeps_section(name) || !ran(h, name) {
        return None;
    }
    let make = |c: &dyn Check, status: HostStatus| -> Option<Value> {
        let mut t = HostResult::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0, None);
        t.status = status;
        c.evaluate(&mut t);
        t.sections.remove(c.name())
    };
    static MADE: OnceLock<Made> = OnceLock::new();
    let made = MADE.get_or_init(|| {
        let mut m = Vec::new();
        for c in REGISTRY.iter().filter(|c| keeps_section(c.name())) {
            for status in SILENT {
                m.extend(make(*c, status).map(|v| (c.name(), status, v)));
            }
        }
        m
    });
    if let Some((.., v)) = made.iter().find(|(n, s, _)| *n == name && *s == h.status) {
        return Some(Cow::Borrowed(v));
    }
    // A status added later and not listed in SILENT.
    make(by_name(name)?, h.status).map(Cow::Owned)
}

/// `major.minor.build` of the record's `os.ntlm_version` (the NTLMSSP VERSION the host sent).
pub fn ntlm_version(h: &HostResult) -> Option<(u8, u8, u16)> {
    let mut it = h.os.ntlm_version.as_deref()?.split('.');
    Some((
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    ))
}

/// Stores a check's record section under its name.
pub fn set_section<T: Serialize>(h: &mut HostResult, name: &str, value: &T) {
    if let Ok(v) = serde_json::to_value(value) {
        h.sections.insert(name.to_string(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_and_parse() {
        let names = all_names();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "{names:?}");
        for n in &names {
            assert_eq!(by_name(n).map(|c| c.name()), Some(*n));
        }
    }

    #[test]
    fn selection_parses_lists_and_refuses_unknown_names() {
        let s = Selection::parse(&["ms17-010,doublepulsar".into()]).unwrap();
        assert!(s.contains("ms17-010") && s.contains("doublepulsar") && !s.contains("smb1"));
        assert_eq!(s.names(), ["ms17-010", "doublepulsar"]);
        let all = Selection::parse(&["all".into()]).unwrap();
        assert_eq!(all, Selection::default());
        assert!(all.is_all());
        let e = Selection::parse(&["ms17".into()]).unwrap_err();
        assert!(e.contains("ms17-010"), "{e}");
        assert!(Selection::parse(&[]).is_err());
    }

    /// The old way: every check's section written into the record, silent or not.
    fn with_every_section(sel: &Selection, h: &HostResult) -> HostResult {
        let mut full = h.clone();
        for c in REGISTRY {
            if sel.contains(c.name()) {
                c.evaluate(&mut full);
            } else {
                c.deselect(&mut full);
            }
        }
        full.checks = sel.names();
        full
    }

    /// Schema 4: a record whose port never answered carries no section of a selected check, and
    /// reads back exactly as the record that carried it (schema 3): `not-tested` with the
    /// status as reason, no finding shown, nothing fixed, in every check's own reading. The
    /// records differ in all but the status, so a check whose silent section depended on more
    /// would fail here.
    #[test]
    fn a_silent_record_reads_as_the_sections_it_no_longer_carries() {
        use crate::model::{Reason, Step, StepName, StepOutcome};
        let some = Selection::parse(&["ms17-010,signing,smbghost".into()]).unwrap();
        for sel in [Selection::default(), some] {
            for (i, status) in SILENT.into_iter().enumerate() {
                assert!(!status.answered(), "{status:?}");
                let mut h = HostResult::new([10, 0, 0, i as u8].into(), 445 + i as u16, None);
                if status == HostStatus::Unresolved {
                    h = HostResult::unresolved("pump-7.ward", 139, "no such host");
                }
                h.status = status;
                h.ms17_010.reason = Some(Reason::ConnectionRefused);
                h.error = Some(format!("error {i}"));
                h.duration_ms = 7 * i as u64;
                h.steps.push(Step::new(
                    StepName::Connect(None),
                    StepOutcome::Refused,
                    i as u64,
                ));
                h.settle_not_tested();
                let full = with_every_section(&sel, &h);
                sel.apply(&mut h);
                for c in REGISTRY {
                    let n = c.name();
                    assert_eq!(
                        h.sections.contains_key(n),
                        keeps_section(n) && !sel.contains(n),
                        "{n} {status:?}: only a not-selected section stays"
                    );
                    assert_eq!(
                        section::<Value>(&h, n),
                        full.sections.get(n).cloned(),
                        "{n} {status:?}"
                    );
                    assert_eq!(c.verdict(&h), c.verdict(&full), "{n} {status:?}");
                    if let Some(v) = c.verdict(&h).filter(|_| keeps_section(n)) {
                        assert!(v.is_not_tested(), "{n} {status:?}: {v:?}");
                        if sel.contains(n) {
                            assert_eq!(
                                v.reason.as_deref(),
                                Some(crate::model::enum_name(&status).as_str())
                            );
                        }
                    }
                    for f in c.findings() {
                        assert!(!(f.shows)(&h) && !(f.fixed)(&h), "{n} {}", f.name);
                        assert_eq!((f.text)(&h), (f.text)(&full), "{n} {}", f.name);
                    }
                    for col in c.csv_columns() {
                        assert_eq!((col.cell)(&h), (col.cell)(&full), "{n} {}", col.name);
                    }
                    assert_eq!(c.table_cell(&h), c.table_cell(&full), "{n}");
                    assert_eq!(c.nmap_scripts(&h), c.nmap_scripts(&full), "{n}");
                    assert_eq!(c.remediation(&h), c.remediation(&full), "{n}");
                    assert_eq!(
                        c.junit_undecided(&h, true),
                        c.junit_undecided(&full, true),
                        "{n}"
                    );
                }
            }
        }
        // A port that answered keeps every section; one without is a file from before the check.
        let mut open = HostResult::new([10, 0, 0, 9].into(), 445, None);
        Selection::default().apply(&mut open);
        assert!(open.sections.contains_key("signing"));
        open.sections.clear();
        assert_eq!(section::<Value>(&open, "signing"), None);
    }

    #[test]
    fn the_json_tables_build_rs_compiles_say_what_the_toml_says() {
        // Run time reads the JSON copies; they must hold exactly the TOML files' data.
        let pairs = [
            (
                signing::rules::REMEDIATION_TOML,
                signing::rules::REMEDIATION_JSON,
            ),
            (
                eol_os::rules::REMEDIATION_TOML,
                eol_os::rules::REMEDIATION_JSON,
            ),
            (
                anonymous::rules::REMEDIATION_TOML,
                anonymous::rules::REMEDIATION_JSON,
            ),
            (
                smbghost::rules::REMEDIATION_TOML,
                smbghost::rules::REMEDIATION_JSON,
            ),
            (
                sambacry::rules::REMEDIATION_TOML,
                sambacry::rules::REMEDIATION_JSON,
            ),
        ];
        for (toml_text, json) in pairs {
            let from_toml: toml::Table = toml::from_str(toml_text).unwrap();
            let from_json: toml::Table = serde_json::from_str(json).unwrap();
            assert_eq!(from_json, from_toml);
        }
        let from_toml: eol_os::rules::EolTable = toml::from_str(eol_os::rules::TABLE_TOML).unwrap();
        let from_json = eol_os::rules::table().unwrap();
        assert_eq!(format!("{from_json:?}"), format!("{from_toml:?}"));
        assert!(from_json.os.len() > 40, "{}", from_json.os.len());
    }

    #[test]
    fn a_check_not_selected_is_not_tested_never_a_verdict() {
        use crate::model::{DpVerdict, Ms17Verdict, Reason};
        let mut h = HostResult::new([10, 0, 0, 1].into(), 445, None);
        h.ms17_010.verdict = Ms17Verdict::Vulnerable;
        h.doublepulsar.verdict = DpVerdict::Absent;
        Selection::parse(&["smb1".into()]).unwrap().apply(&mut h);
        assert_eq!(h.ms17_010.verdict, Ms17Verdict::NotTested);
        assert_eq!(h.ms17_010.reason, Some(Reason::NotSelected));
        assert_eq!(h.doublepulsar.verdict, DpVerdict::NotTested);
        assert_eq!(h.doublepulsar.reason, Some(Reason::NotSelected));
        assert_eq!(h.checks, ["smb1"]);
        assert!(ran(&h, "smb1") && !ran(&h, "ms17-010"));
    }
}
