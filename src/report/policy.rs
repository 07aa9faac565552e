//! Exit codes and the `--fail-on` policy that gates pipelines.
//!
//! # Exit codes
//! | code | meaning                                                                   |
//! |------|---------------------------------------------------------------------------|
//! | 0    | the run finished, nothing met the failure policy, and every host whose port answered was decided (or an explicit `--fail-on` accepted the undecided ones) |
//! | 1    | fatal runtime error (cannot write an output, cannot read a diff input...) |
//! | 2    | usage error (bad flags: clap's code; also refused output files)           |
//! | 3    | finished, and at least one finding met `--fail-on` (or, for `diff`, a NEW one did) |
//! | 4    | finished, nothing met the default `--fail-on`, but undecided hosts remain: a port that answered without a decided MS17-010 or DoublePulsar verdict or SMB1 state, or a name that did not resolve (not for `diff`) |
//! | 130  | interrupted (Ctrl-C); the outputs written so far are valid files         |
//!
//! Precedence: 130 > 3 > 4 > 0 ([`gate`]). Silent addresses (closed, filtered, unreachable) are
//! counted, never undecided: the host did not answer on that port.
//!
//! # `--fail-on` values (comma-separated)
//! - `vulnerable`: MS17-010 verdict `vulnerable`;
//! - `doublepulsar`: DoublePulsar verdict `present`;
//! - `smb1`: SMB1 enabled (`smb1.enabled == true`);
//! - `unknown`: an undecided host ([`undecided_under`]): its port answered but its MS17-010 or
//!   DoublePulsar verdict is `unknown` or its SMB1 state was not shown, or a check whose
//!   finding the policy names decided nothing on it; a target name that did not resolve
//!   (status `unresolved`), or a target the scanner could not test (status `error`);
//! - `none`: never fail on findings.
//!
//! Default: `vulnerable,doublepulsar`, with exit 4 for undecided hosts. A policy given explicitly
//! (`--fail-on`, or the site config's `[output] fail_on`) is exactly what was given: undecided
//! hosts fail the run (3) only when it names `unknown`, and never make it exit 4, so
//! `--fail-on vulnerable,doublepulsar` is the explicit way to accept them and `--fail-on none`
//! never fails (0).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{DpVerdict, HostResult, HostStatus, Ms17Verdict};

pub use crate::error::{
    EXIT_ERROR, EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNDECIDED, EXIT_USAGE,
};

/// How a run ended, as far as the gate is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Every target was scanned (or every record rendered).
    Completed,
    /// A stop signal ended the run before every target was scanned.
    Interrupted,
    /// Standard output, the only output, was closed by its reader: the run stopped early.
    OutputClosed,
}

/// What the gate counts over a run: hosts meeting the policy, by finding, and undecided hosts,
/// by reason ([`undecided_reason`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Hosts that meet the policy.
    pub met: u64,
    /// Of those, how many show each finding of the policy.
    pub met_by: BTreeMap<Finding, u64>,
    /// Undecided hosts (whether or not the policy names `unknown`).
    pub undecided: u64,
    /// Undecided hosts per reason (`reset`, `unresolved`, `session-setup-refused`, ...).
    pub undecided_by: BTreeMap<String, u64>,
}

impl Tally {
    /// Counts one record under `fail_on`.
    pub fn add(&mut self, h: &HostResult, fail_on: &FailOn) {
        let mut met = false;
        for f in findings_under(h, fail_on) {
            if fail_on.includes(f) {
                met = true;
                *self.met_by.entry(f).or_insert(0) += 1;
            }
        }
        self.met += u64::from(met);
        if let Some(why) = undecided_under(h, fail_on) {
            self.undecided += 1;
            *self.undecided_by.entry(why).or_insert(0) += 1;
        }
    }
}

/// The exit code of a run: 130 (stopped) > 3 (a host meets the policy) > 4 (undecided hosts
/// under the default policy) > 0. A run stopped by a closed standard output exits 3 when what it
/// saw meets the policy, else 130: never 0, never 4 (it did not see everything).
pub fn gate(end: RunEnd, tally: &Tally, fail_on: &FailOn) -> u8 {
    match end {
        RunEnd::Interrupted => EXIT_INTERRUPTED,
        RunEnd::OutputClosed if tally.met > 0 => EXIT_FINDINGS,
        RunEnd::OutputClosed => EXIT_INTERRUPTED,
        RunEnd::Completed if tally.met > 0 => EXIT_FINDINGS,
        RunEnd::Completed if tally.undecided > 0 && !fail_on.is_explicit() => EXIT_UNDECIDED,
        RunEnd::Completed => EXIT_OK,
    }
}

/// Why a host stays undecided whatever the policy, or `None` when it was decided or never
/// answered on the port. Undecided: a target name that did not resolve (`unresolved`); a port
/// that answered (status `open`, `reset`, `timeout`, `protocol-error`) whose MS17-010 verdict
/// is `unknown`, whose SMB1 state was not shown (`smb1.enabled` null) or whose DoublePulsar
/// ping went unanswered (`doublepulsar: <reason>`); a target the scanner could not test (status
/// `error`: a local error, never the host's answer). The reason is the status when the port
/// answered without SMB (`reset`, `timeout`, `protocol-error`), else the MS17-010 reason
/// (`session-setup-refused`, ...). Closed, filtered and unreachable ports are silent addresses:
/// counted, not undecided. The gate adds the checks its policy asks about: [`undecided_under`].
pub fn undecided_reason(h: &HostResult) -> Option<String> {
    match h.status {
        HostStatus::Unresolved => return Some("unresolved".to_string()),
        // The scanner itself failed on the target (a local error, a probe that panicked): nothing
        // shows the port was silent.
        HostStatus::Error => return Some("error".to_string()),
        _ => {}
    }
    if !h.port_answered() {
        return None;
    }
    if h.status != HostStatus::Open {
        return Some(super::enum_name(&h.status));
    }
    if h.ms17_010.verdict == Ms17Verdict::Unknown || h.smb1.enabled.is_none() {
        return Some(
            h.ms17_010
                .reason
                .as_ref()
                .map_or_else(|| "unknown".to_string(), super::enum_name),
        );
    }
    // The default gate's second check: an unanswered ping is no proof of absence.
    if h.doublepulsar.verdict == DpVerdict::Unknown {
        return Some(format!(
            "doublepulsar: {}",
            h.doublepulsar
                .reason
                .as_ref()
                .map_or_else(|| "unknown".to_string(), super::enum_name)
        ));
    }
    None
}

/// Whether the policy asks about check `c`: one of its findings is in it. The default policy
/// asks about MS17-010 and DoublePulsar.
pub fn asks_about(fail_on: &FailOn, c: &dyn crate::checks::Check) -> bool {
    c.findings()
        .iter()
        .any(|d| fail_on.includes(Finding::from_def(d)))
}

/// Why a host stays undecided under `fail_on`: [`undecided_reason`], or else a check the policy
/// asks about ([`asks_about`]) that decided nothing on a port that answered: its verdict is
/// `unknown` or `not-tested` (it ran and could not test, or the scan did not select it), or the
/// record has no section for it (a file from before the check). The reason is
/// `<check>: <reason>` (`smbghost: compression-without-build`). A run cannot pass on a finding
/// it never looked for.
pub fn undecided_under(h: &HostResult, fail_on: &FailOn) -> Option<String> {
    if let Some(why) = undecided_reason(h) {
        return Some(why);
    }
    if h.status != HostStatus::Open {
        return None;
    }
    crate::checks::REGISTRY
        .iter()
        .filter(|c| asks_about(fail_on, **c))
        .find_map(|c| c.undecided(h).map(|why| format!("{}: {why}", c.name())))
}

/// `1 reset, 1 unresolved`: counts per reason, most frequent first.
fn reasons(by: &BTreeMap<String, u64>) -> String {
    let mut v: Vec<(&String, &u64)> = by.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.iter()
        .map(|(why, n)| format!("{n} {why}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn hosts(n: u64) -> String {
    if n == 1 {
        "1 host".to_string()
    } else {
        format!("{n} hosts")
    }
}

/// What each finding of the policy counted: `3 vulnerable to MS17-010, 2 DoublePulsar`.
fn met_details(by: &BTreeMap<Finding, u64>) -> String {
    [
        (Finding::Vulnerable, "vulnerable to MS17-010"),
        (Finding::Doublepulsar, "DoublePulsar"),
        (Finding::Smb1, "SMB1 on"),
        (Finding::Unknown, "undecided"),
    ]
    .iter()
    .filter_map(|(f, text)| by.get(f).map(|n| format!("{n} {text}")))
    .collect::<Vec<_>>()
    .join(", ")
}

/// The line that says what the exit code means for this run (the summary's last line; alone on
/// standard error under `-q` when the code is not 0), e.g.
/// `exit 3: 3 hosts meet --fail-on vulnerable,doublepulsar (3 vulnerable to MS17-010, 2 DoublePulsar)`
/// or `exit 4: 2 hosts undecided (1 reset, 1 unresolved); --fail-on vulnerable,doublepulsar accepts them`.
pub fn exit_line(code: u8, tally: &Tally, fail_on: &FailOn) -> String {
    let undecided = || {
        format!(
            "{} undecided ({})",
            hosts(tally.undecided),
            reasons(&tally.undecided_by)
        )
    };
    let meet = |n: u64| {
        if n == 1 {
            "1 host meets".to_string()
        } else {
            format!("{n} hosts meet")
        }
    };
    match code {
        EXIT_OK if tally.undecided > 0 => format!(
            "exit 0: no host meets --fail-on {fail_on}, which accepts {}",
            undecided()
        ),
        EXIT_OK => format!("exit 0: no host meets --fail-on {fail_on}"),
        EXIT_FINDINGS => format!(
            "exit 3: {} --fail-on {fail_on} ({})",
            meet(tally.met),
            met_details(&tally.met_by)
        ),
        EXIT_UNDECIDED => format!("exit 4: {}; --fail-on {fail_on} accepts them", undecided()),
        EXIT_INTERRUPTED => format!(
            "exit 130: stopped before every target was scanned; so far {} --fail-on {fail_on}",
            meet(tally.met)
        ),
        other => format!("exit {other}"),
    }
}

/// One kind of finding `--fail-on` can name: a finding of a check in the registry
/// ([`crate::checks::FindingDef`], by its name), or one of the two that belong to no check,
/// `unknown` and `none`. Ordered as `--fail-on` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Finding(&'static str);

/// The findings of the first three checks and the two built-in ones, by name (the registry's
/// `FindingDef`s are the source of truth; these are for code and tests that name one).
#[allow(non_upper_case_globals)]
impl Finding {
    /// MS17-010 `vulnerable` (check `ms17-010`).
    pub const Vulnerable: Finding = Finding("vulnerable");
    /// DoublePulsar `present` (check `doublepulsar`).
    pub const Doublepulsar: Finding = Finding("doublepulsar");
    /// SMB1 enabled (check `smb1`).
    pub const Smb1: Finding = Finding("smb1");
    /// An undecided host ([`undecided_reason`]): MS17-010 `unknown` or SMB1 not shown on a port
    /// that answered, or a name that did not resolve.
    pub const Unknown: Finding = Finding("unknown");
    /// Never fail (only meaningful alone).
    pub const None: Finding = Finding("none");
}

/// `unknown` sorts after the checks' findings and before `none`; in severity it sits between
/// the checks' (DoublePulsar 10, MS17-010 20, `unknown` 30, SMB1 40).
const UNKNOWN_ORDER: (u8, u8) = (90, 30);
const NONE_ORDER: (u8, u8) = (100, u8::MAX);

impl Finding {
    /// The name used on the command line and in diff outputs.
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// The registry entry of a check's finding (`None` for `unknown` and `none`).
    pub fn def(self) -> Option<&'static crate::checks::FindingDef> {
        crate::checks::REGISTRY
            .iter()
            .flat_map(|c| c.findings())
            .find(|d| d.name == self.0)
    }

    /// The finding a check defines.
    pub fn from_def(d: &'static crate::checks::FindingDef) -> Finding {
        Finding(d.name)
    }

    /// The check that reports it (`None` for `unknown` and `none`).
    pub fn check(self) -> Option<&'static dyn crate::checks::Check> {
        crate::checks::REGISTRY
            .iter()
            .copied()
            .find(|c| c.findings().iter().any(|d| d.name == self.0))
    }

    /// (list order, severity rank).
    fn rank(self) -> (u8, u8) {
        match self.def() {
            Some(d) => (d.order, d.severity),
            None if self == Finding::Unknown => UNKNOWN_ORDER,
            None => NONE_ORDER,
        }
    }

    /// Every value `--fail-on` accepts, in the order the help lists them: each check's
    /// findings, then `unknown` and `none`.
    pub fn all() -> &'static [Finding] {
        static ALL: std::sync::OnceLock<Vec<Finding>> = std::sync::OnceLock::new();
        ALL.get_or_init(|| {
            let mut v: Vec<Finding> = crate::checks::REGISTRY
                .iter()
                .flat_map(|c| c.findings())
                .map(|d| Finding(d.name))
                .chain([Finding::Unknown, Finding::None])
                .collect();
            v.sort();
            v
        })
    }

    /// The real findings, in severity order (without `none`).
    pub fn real() -> &'static [Finding] {
        static REAL: std::sync::OnceLock<Vec<Finding>> = std::sync::OnceLock::new();
        REAL.get_or_init(|| {
            let mut v: Vec<Finding> = Finding::all()
                .iter()
                .copied()
                .filter(|f| *f != Finding::None)
                .collect();
            v.sort_by_key(|f| f.rank().1);
            v
        })
    }

    /// One line of help.
    pub fn help(self) -> &'static str {
        match self.def() {
            Some(d) => d.help,
            None if self == Finding::Unknown => {
                "Undecided: MS17-010 or DoublePulsar `unknown` or SMB1 not shown on a port that \
                 answered, a check this list names that decided nothing, a name that did not \
                 resolve, or a target the scanner could not test"
            }
            None => "Never fail (only meaningful alone)",
        }
    }
}

impl Ord for Finding {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().0.cmp(&other.rank().0).then(self.0.cmp(other.0))
    }
}

impl PartialOrd for Finding {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::str::FromStr for Finding {
    type Err = String;

    /// Parses one `--fail-on` value (case-insensitive); the error lists the accepted values.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Finding::all()
            .iter()
            .copied()
            .find(|f| f.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                let names: Vec<&str> = Finding::all().iter().map(|f| f.as_str()).collect();
                format!("`{s}` is not one of {}", names.join(", "))
            })
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Finding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Finding {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// clap parses `--fail-on` straight into the library's type: the values and their help come
/// from the registry.
impl clap::ValueEnum for Finding {
    fn value_variants<'a>() -> &'a [Self] {
        Finding::all()
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.0).help(self.help()))
    }
}

/// The findings a host shows, in [`Finding::real`] order.
pub fn findings(h: &HostResult) -> Vec<Finding> {
    Finding::real()
        .iter()
        .copied()
        .filter(|f| has_finding(h, *f))
        .collect()
}

/// The findings a host shows under `fail_on`: [`findings`], with `unknown` meaning
/// [`undecided_under`] the policy (what the gate, `matches` and JUnit count).
pub fn findings_under(h: &HostResult, fail_on: &FailOn) -> Vec<Finding> {
    let undecided = undecided_under(h, fail_on).is_some();
    Finding::real()
        .iter()
        .copied()
        .filter(|f| {
            if *f == Finding::Unknown {
                undecided
            } else {
                has_finding(h, *f)
            }
        })
        .collect()
}

/// Whether a host shows one kind of finding. A check that did not run on the host shows none
/// of its findings. `unknown` here is [`undecided_reason`], whatever the policy.
pub fn has_finding(h: &HostResult, f: Finding) -> bool {
    if f == Finding::Unknown {
        return undecided_reason(h).is_some();
    }
    match (f.def(), f.check()) {
        (Some(d), Some(c)) => crate::checks::ran(h, c.name()) && (d.shows)(h),
        _ => false,
    }
}

/// The `--fail-on` policy: the set of findings that fail the run, and whether it was given
/// (a flag or the site config) or is the default, which also turns undecided hosts into exit 4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailOn {
    kinds: Vec<Finding>,
    explicit: bool,
}

impl Default for FailOn {
    fn default() -> Self {
        FailOn {
            kinds: vec![Finding::Vulnerable, Finding::Doublepulsar],
            explicit: false,
        }
    }
}

impl FailOn {
    /// Build from a `--fail-on` list given explicitly. `none` anywhere in it empties the policy;
    /// an empty list means the default.
    pub fn from_list(list: &[Finding]) -> Self {
        if list.is_empty() {
            return FailOn::default();
        }
        if list.contains(&Finding::None) {
            return FailOn {
                kinds: Vec::new(),
                explicit: true,
            };
        }
        let mut kinds = list.to_vec();
        kinds.sort();
        kinds.dedup();
        FailOn {
            kinds,
            explicit: true,
        }
    }

    /// Whether the policy was given (flag or config) rather than defaulted: an explicit policy
    /// is exactly what was given and never exits 4.
    pub fn is_explicit(&self) -> bool {
        self.explicit
    }

    /// The findings in the policy, in `--fail-on` order.
    pub fn kinds(&self) -> &[Finding] {
        &self.kinds
    }

    /// Whether this finding is in the policy.
    pub fn includes(&self, f: Finding) -> bool {
        self.kinds.contains(&f)
    }

    /// Whether a host meets the policy.
    pub fn matches(&self, h: &HostResult) -> bool {
        findings_under(h, self).iter().any(|f| self.includes(*f))
    }
}

impl fmt::Display for FailOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kinds.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = self.kinds.iter().map(|k| k.as_str()).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Reason;

    fn host(status: HostStatus, smb1: Option<bool>, ms17: Ms17Verdict) -> HostResult {
        let mut h = HostResult::new(std::net::IpAddr::from([192, 0, 2, 1]), 445, None);
        h.status = status;
        h.smb1.enabled = smb1;
        h.ms17_010.verdict = ms17;
        h
    }

    fn tally(hosts: &[HostResult], fail_on: &FailOn) -> Tally {
        let mut t = Tally::default();
        for h in hosts {
            t.add(h, fail_on);
        }
        t
    }

    #[test]
    fn undecided_means_an_answering_port_without_a_verdict_or_an_unresolved_name() {
        use HostStatus as S;
        use Ms17Verdict as V;
        let mut refused = host(S::Open, Some(true), V::Unknown);
        refused.ms17_010.reason = Some(Reason::SessionSetupRefused);
        let cases: Vec<(HostResult, Option<&str>)> = vec![
            (host(S::Open, Some(true), V::Vulnerable), None),
            (host(S::Open, Some(true), V::NotVulnerable), None),
            (host(S::Open, Some(false), V::NotExposed), None),
            (refused, Some("session-setup-refused")),
            (host(S::Open, Some(true), V::Unknown), Some("unknown")),
            // SMB1 neither proven on nor off on a port that answered.
            (host(S::Open, None, V::NotVulnerable), Some("unknown")),
            (host(S::Reset, None, V::Unknown), Some("reset")),
            (host(S::Timeout, None, V::Unknown), Some("timeout")),
            (
                host(S::ProtocolError, None, V::Unknown),
                Some("protocol-error"),
            ),
            (
                HostResult::unresolved("pump-7.example", 445, "no such name"),
                Some("unresolved"),
            ),
            (host(S::Error, None, V::Unknown), Some("error")),
            // Silent addresses are counted, never undecided.
            (host(S::Closed, None, V::Unknown), None),
            (host(S::Filtered, None, V::Unknown), None),
            (host(S::Unreachable, None, V::Unknown), None),
        ];
        for (h, want) in cases {
            assert_eq!(
                undecided_reason(&h).as_deref(),
                want,
                "{:?} {:?}",
                h.status,
                h.ms17_010.verdict
            );
            assert_eq!(has_finding(&h, Finding::Unknown), want.is_some());
        }
    }

    #[test]
    fn the_gate_table() {
        use HostStatus as S;
        use Ms17Verdict as V;
        use RunEnd::*;
        let vulnerable = host(S::Open, Some(true), V::Vulnerable);
        let patched = host(S::Open, Some(true), V::NotVulnerable);
        let reset = host(S::Reset, None, V::Unknown);
        let closed = host(S::Closed, None, V::Unknown);
        let unresolved = HostResult::unresolved("x.example", 445, "no such name");
        let list = |l: &[Finding]| FailOn::from_list(l);
        let default = FailOn::default();
        let accept = list(&[Finding::Vulnerable, Finding::Doublepulsar]);
        let unknown = list(&[Finding::Unknown]);
        let none = list(&[Finding::None]);
        // (end, hosts, policy, exit code)
        let cases: Vec<(RunEnd, Vec<&HostResult>, &FailOn, u8)> = vec![
            (Completed, vec![&patched], &default, 0),
            // A silent range alone passes.
            (Completed, vec![&closed, &closed], &default, 0),
            (Completed, vec![&patched, &reset], &default, 4),
            (Completed, vec![&unresolved], &default, 4),
            (Completed, vec![&reset, &unresolved, &closed], &default, 4),
            // Findings outrank undecided hosts.
            (Completed, vec![&reset, &vulnerable], &default, 3),
            // An explicit policy is exactly what was given.
            (Completed, vec![&reset, &unresolved], &accept, 0),
            (Completed, vec![&reset], &unknown, 3),
            (Completed, vec![&unresolved], &unknown, 3),
            (Completed, vec![&vulnerable], &unknown, 0),
            (Completed, vec![&vulnerable, &reset], &none, 0),
            (Completed, vec![&vulnerable], &accept, 3),
            // Interrupted outranks everything; a closed output never passes.
            (Interrupted, vec![&vulnerable], &default, 130),
            (Interrupted, vec![&patched], &none, 130),
            (OutputClosed, vec![&vulnerable], &default, 3),
            (OutputClosed, vec![&reset], &default, 130),
            (OutputClosed, vec![&patched], &none, 130),
        ];
        for (end, hosts, policy, want) in cases {
            let owned: Vec<HostResult> = hosts.into_iter().cloned().collect();
            let t = tally(&owned, policy);
            assert_eq!(
                gate(end, &t, policy),
                want,
                "{end:?} {policy} {:?}",
                owned.iter().map(|h| h.status).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn the_exit_line_names_the_code_the_counts_and_the_reasons() {
        use HostStatus as S;
        use Ms17Verdict as V;
        let mut dp = host(S::Open, Some(true), V::Vulnerable);
        dp.doublepulsar.verdict = DpVerdict::Present;
        let vulnerable = host(S::Open, Some(true), V::Vulnerable);
        let reset = host(S::Reset, None, V::Unknown);
        let unresolved = HostResult::unresolved("x.example", 445, "no such name");
        let default = FailOn::default();
        let t = tally(&[reset.clone(), unresolved.clone()], &default);
        assert_eq!(
            exit_line(gate(RunEnd::Completed, &t, &default), &t, &default),
            "exit 4: 2 hosts undecided (1 reset, 1 unresolved); --fail-on \
             vulnerable,doublepulsar accepts them"
        );
        let t = tally(
            &[dp, vulnerable.clone(), vulnerable, reset.clone()],
            &default,
        );
        assert_eq!(
            exit_line(gate(RunEnd::Completed, &t, &default), &t, &default),
            "exit 3: 3 hosts meet --fail-on vulnerable,doublepulsar (3 vulnerable to \
             MS17-010, 1 DoublePulsar)"
        );
        let accept = FailOn::from_list(&[Finding::Vulnerable, Finding::Doublepulsar]);
        let t = tally(&[reset], &accept);
        assert_eq!(
            exit_line(gate(RunEnd::Completed, &t, &accept), &t, &accept),
            "exit 0: no host meets --fail-on vulnerable,doublepulsar, which accepts 1 host \
             undecided (1 reset)"
        );
        let t = Tally::default();
        assert_eq!(
            exit_line(gate(RunEnd::Completed, &t, &default), &t, &default),
            "exit 0: no host meets --fail-on vulnerable,doublepulsar"
        );
    }

    /// A host whose MS17-010 and SMB1 are decided, on which `name` ran and left `verdict`.
    fn decided_but(name: &str, verdict: &str, reason: &str) -> HostResult {
        let mut h = host(HostStatus::Open, Some(true), Ms17Verdict::NotVulnerable);
        h.doublepulsar.verdict = DpVerdict::Absent;
        h.checks = crate::checks::all_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        crate::checks::set_section(
            &mut h,
            name,
            &serde_json::json!({ "verdict": verdict, "reason": reason }),
        );
        h
    }

    #[test]
    fn a_check_the_policy_asks_about_that_stays_undecided_leaves_the_host_undecided() {
        let f = |s: &str| s.parse::<Finding>().unwrap();
        let ghost = decided_but("smbghost", "unknown", "compression-without-build");
        let gated = FailOn::from_list(&[f("smbghost"), Finding::Unknown]);
        let t = tally(std::slice::from_ref(&ghost), &gated);
        assert_eq!(gate(RunEnd::Completed, &t, &gated), EXIT_FINDINGS);
        assert_eq!(
            exit_line(EXIT_FINDINGS, &t, &gated),
            "exit 3: 1 host meets --fail-on smbghost,unknown (1 undecided)"
        );
        assert!(gated.matches(&ghost));
        // Explicit without `unknown`: accepted, and the exit line says so.
        let accept = FailOn::from_list(&[f("smbghost")]);
        let t = tally(std::slice::from_ref(&ghost), &accept);
        assert_eq!(gate(RunEnd::Completed, &t, &accept), EXIT_OK);
        assert_eq!(
            exit_line(EXIT_OK, &t, &accept),
            "exit 0: no host meets --fail-on smbghost, which accepts 1 host undecided \
             (1 smbghost: compression-without-build)"
        );
        // A policy that does not ask about smbghost: decided.
        let t = tally(std::slice::from_ref(&ghost), &FailOn::default());
        assert_eq!(t.undecided, 0);
        assert_eq!(gate(RunEnd::Completed, &t, &FailOn::default()), EXIT_OK);
        // A gated check that ran and did not test proves nothing either.
        let eol = decided_but("eol-os", "not-tested", "no-scan-date");
        let gated = FailOn::from_list(&[f("eol-os"), Finding::Unknown]);
        let t = tally(std::slice::from_ref(&eol), &gated);
        assert_eq!(gate(RunEnd::Completed, &t, &gated), EXIT_FINDINGS);
        // Nor does one the scan did not select.
        let mut off = decided_but("anonymous", "not-tested", "not-selected");
        off.checks.retain(|c| c != "anonymous");
        let gated = FailOn::from_list(&[f("anonymous-pipe"), Finding::Unknown]);
        let t = tally(std::slice::from_ref(&off), &gated);
        assert_eq!(
            t.undecided_by.keys().collect::<Vec<_>>(),
            ["anonymous: not-selected"]
        );
        // A decided gated check is decided.
        let decided = decided_but("smbghost", "not-vulnerable", "");
        let gated = FailOn::from_list(&[f("smbghost"), Finding::Unknown]);
        let t = tally(std::slice::from_ref(&decided), &gated);
        assert_eq!(gate(RunEnd::Completed, &t, &gated), EXIT_OK);
    }

    #[test]
    fn doublepulsar_unknown_is_undecided_under_the_default_gate() {
        // MS17-010 decided, the DoublePulsar ping never answered: the default gate asks about
        // DoublePulsar, so the run cannot pass.
        let mut h = host(HostStatus::Open, Some(true), Ms17Verdict::NotVulnerable);
        h.doublepulsar.verdict = DpVerdict::Unknown;
        h.doublepulsar.reason = Some(Reason::TimeoutAfterPeek);
        assert_eq!(
            undecided_reason(&h).as_deref(),
            Some("doublepulsar: timeout-after-peek")
        );
        let t = tally(std::slice::from_ref(&h), &FailOn::default());
        assert_eq!(
            gate(RunEnd::Completed, &t, &FailOn::default()),
            EXIT_UNDECIDED
        );
    }

    #[test]
    fn explicit_and_default_policies() {
        assert!(!FailOn::default().is_explicit());
        assert!(!FailOn::from_list(&[]).is_explicit());
        let given = FailOn::from_list(&[Finding::Doublepulsar, Finding::Vulnerable]);
        assert!(given.is_explicit());
        assert_eq!(given.to_string(), FailOn::default().to_string());
        let none = FailOn::from_list(&[Finding::None, Finding::Smb1]);
        assert!(none.is_explicit());
        assert_eq!(none.to_string(), "none");
    }
}
