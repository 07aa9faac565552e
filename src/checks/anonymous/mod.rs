//! Anonymous and guest sessions, and the named pipes an anonymous caller can open on IPC$
//! (`--checks anonymous`); with MS17-010, the exploitable-first ranking.
//!
//! The sessions come from the login chain the probe already runs (its `session-setup` steps:
//! which logon was accepted, flagged guest or not). The pipes are opened and closed on the SMB1
//! session and IPC$ tree the MS17-010 peek used, after the peek and the DoublePulsar ping
//! ([`smb1::open_pipes`], one `pipe-open` step each). [`evaluate`] reads all of it back from the
//! record's steps, so a stored record is judged as the live one was. A host that does not speak
//! SMB1 gets the same over SMB2 ([`smb2::open_pipes`]), on the connection of the SMB2 identity
//! exchange.

pub mod batch;
pub mod rules;
pub mod smb1;
pub mod smb2;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::{Check, Column, FindingDef};
use crate::model::{Exchange, HostResult, Ms17Inferred, Ms17Verdict, StepName, StepOutcome};
use rules::{
    AnonymousFinding, AnonymousInputs, LogonOutcome, Ms17State, PipeOpen, PipeSession,
    PipesVerdict, SessionVerdict, PIPES,
};

/// The anonymous check.
pub struct Anonymous;

/// The check's name: `--checks`, `checks`, and the record key of its section.
pub const NAME: &str = "anonymous";

/// The record's `anonymous` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// The pipes verdict: `anonymous-reachable` (a pipe opened on a null session),
    /// `guest-reachable` (on a guest session), `not-reachable`, `unknown`, or `not-tested` (the
    /// port never answered, or the check was not selected).
    pub verdict: String,
    /// Why, when `unknown` or `not-tested`.
    pub reason: Option<String>,
    /// One sentence for people.
    pub summary: Option<String>,
    /// The null session: `accepted`, `accepted-as-guest`, `refused`, `unknown` (not tried, or no
    /// answer).
    pub anonymous_session: String,
    /// `guest` with an empty password, same words; `unknown` when the chain stopped before it
    /// (an earlier logon was accepted).
    pub guest_session: String,
    /// Per pipe tried: `reachable`, `denied`, `absent`, `not-opened`, `unknown`.
    pub pipes: BTreeMap<String, String>,
    /// With MS17-010: `exploitable-anonymously`, `vulnerable`, `inferred-missing`, `none`
    /// (the HTML report's action list ranks on it).
    pub exploit_rank: String,
    /// How to close the pipes / turn the Guest account off (data/checks/anonymous.toml), when a
    /// finding shows.
    pub remediation: Option<String>,
}

impl Section {
    fn not_tested(reason: &str) -> Self {
        Section {
            verdict: "not-tested".into(),
            reason: Some(reason.into()),
            summary: None,
            anonymous_session: SessionVerdict::Unknown.as_str().into(),
            guest_session: SessionVerdict::Unknown.as_str().into(),
            pipes: BTreeMap::new(),
            exploit_rank: "none".into(),
            remediation: None,
        }
    }

    /// The pipes found reachable, in [`PIPES`] order.
    pub fn reachable_pipes(&self) -> Vec<&'static str> {
        PIPES
            .iter()
            .copied()
            .filter(|p| {
                self.pipes
                    .get(*p)
                    .is_some_and(|v| v == rules::PipeVerdict::Reachable.as_str())
            })
            .collect()
    }
}

/// The section of a record, if the check ran.
pub fn section(h: &HostResult) -> Option<Section> {
    super::section(h, NAME)
}

fn is_pipe_step(name: StepName) -> bool {
    name == StepName::Exchange(Exchange::PipeOpen)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Guest,
    Given,
}

/// Which logon a session-setup step's detail names (the probe writes the login first).
fn who(detail: Option<&str>) -> Option<Who> {
    let d = detail?;
    if d.starts_with("anonymous") {
        Some(Who::Anonymous)
    } else if d.starts_with("guest") {
        Some(Who::Guest)
    } else if d.contains("given credentials") {
        Some(Who::Given)
    } else {
        None
    }
}

/// Keeps the strongest evidence: accepted, then refused, then failed (a busy server's refusal
/// retried and accepted is accepted; the fresh connection of the ping repeats the chain).
fn merge(old: LogonOutcome, new: LogonOutcome) -> LogonOutcome {
    let rank = |o: LogonOutcome| match o {
        LogonOutcome::Accepted { .. } => 3,
        LogonOutcome::Refused => 2,
        LogonOutcome::Failed => 1,
        LogonOutcome::NotTried => 0,
    };
    if rank(new) > rank(old) {
        new
    } else {
        old
    }
}

/// A `pipe-open` step's outcome.
fn pipe_open(outcome: StepOutcome, status: Option<&str>) -> PipeOpen {
    match (outcome, status) {
        (StepOutcome::Ok, _) => PipeOpen::Opened,
        (_, Some("0xC0000022" | "DOS:0x01/0x0005")) => PipeOpen::AccessDenied,
        // STATUS_OBJECT_NAME_NOT_FOUND, STATUS_NO_SUCH_FILE (impacket), ERRDOS/ERRbadfile.
        (_, Some("0xC0000034" | "0xC000000F" | "DOS:0x01/0x0002")) => PipeOpen::NotFound,
        (_, Some(s)) => PipeOpen::OtherStatus(
            s.strip_prefix("0x")
                .and_then(|x| u32::from_str_radix(x, 16).ok())
                .unwrap_or(0),
        ),
        (_, None) => PipeOpen::Unanswered,
    }
}

/// The rules' inputs from the record's steps.
pub fn inputs(h: &HostResult) -> AnonymousInputs {
    let (mut anon, mut guest) = (LogonOutcome::NotTried, LogonOutcome::NotTried);
    let mut session = PipeSession::None;
    let mut pipes = [PipeOpen::Unanswered; 5];
    let mut pipes_seen = false;
    for s in &h.steps {
        if is_pipe_step(s.name) {
            pipes_seen = true;
            let pipe = s.detail.as_deref().and_then(|d| d.split(':').next());
            if let Some(i) = PIPES.iter().position(|p| Some(*p) == pipe) {
                if let Some(slot) = pipes.get_mut(i) {
                    *slot = pipe_open(s.outcome, s.status.as_deref());
                }
            }
            continue;
        }
        let setup = matches!(
            s.name,
            StepName::Exchange(Exchange::SessionSetup | Exchange::SessionSetupNegotiate)
        );
        if !setup {
            continue;
        }
        let final_leg = s.name == StepName::Exchange(Exchange::SessionSetup);
        let w = who(s.detail.as_deref());
        let outcome = match s.outcome {
            StepOutcome::Ok if final_leg => LogonOutcome::Accepted {
                as_guest: s.detail.as_deref().is_some_and(|d| d.contains("(guest)")),
            },
            // The NTLMSSP CHALLENGE leg: nothing decided yet.
            StepOutcome::Ok => continue,
            _ if s.status.is_some() => LogonOutcome::Refused,
            _ => LogonOutcome::Failed,
        };
        if let LogonOutcome::Accepted { .. } = outcome {
            if !pipes_seen {
                session = match w {
                    Some(Who::Anonymous) | None => PipeSession::Anonymous,
                    Some(Who::Guest) => PipeSession::Guest,
                    Some(Who::Given) => PipeSession::Credentials,
                };
            }
        }
        // A failure names no logon: it is the first one not yet decided.
        let w = w.or(match (anon, guest) {
            (LogonOutcome::NotTried, _) => Some(Who::Anonymous),
            (_, LogonOutcome::NotTried) => Some(Who::Guest),
            _ => None,
        });
        match w {
            Some(Who::Anonymous) => anon = merge(anon, outcome),
            Some(Who::Guest) => guest = merge(guest, outcome),
            _ => {}
        }
    }
    AnonymousInputs {
        anonymous: anon,
        guest,
        pipe_session: session,
        pipes,
    }
}

/// MS17-010 as the ranking needs it.
fn ms17_state(h: &HostResult) -> Ms17State {
    match h.ms17_010.verdict {
        Ms17Verdict::Vulnerable => Ms17State::Vulnerable,
        Ms17Verdict::Unknown if h.ms17_010.inferred == Some(Ms17Inferred::Missing) => {
            Ms17State::InferredMissing
        }
        _ => Ms17State::Other,
    }
}

/// A remediation row of data/checks/anonymous.toml (`findings.<finding>.<key>`).
fn row(finding: &str, key: &str) -> Option<String> {
    static TABLE: OnceLock<Option<toml::Table>> = OnceLock::new();
    TABLE
        .get_or_init(|| serde_json::from_str(rules::REMEDIATION_JSON).ok())
        .as_ref()?
        .get("findings")?
        .get(finding)?
        .get(key)?
        .as_str()
        .map(str::to_owned)
}

fn remediation(h: &HostResult, f: &AnonymousFinding) -> Option<String> {
    let os = if h.os.samba { "samba" } else { "windows" };
    let mut parts = Vec::new();
    if matches!(
        f.reachable,
        PipesVerdict::AnonymousReachable | PipesVerdict::GuestReachable
    ) {
        parts.extend(row("anonymous-pipes", os));
        if h.ms17_010.verdict == Ms17Verdict::Vulnerable {
            parts.extend(row("anonymous-pipes", "ms17_010"));
        }
    }
    if [f.anonymous, f.guest].contains(&SessionVerdict::AcceptedAsGuest) {
        parts.extend(row("guest-session", os));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn summary(f: &AnonymousFinding) -> String {
    let open = f.reachable_pipes().join(", ");
    match f.reachable {
        PipesVerdict::AnonymousReachable => format!("{open} open to a null session"),
        PipesVerdict::GuestReachable => format!("{open} open to a guest session"),
        PipesVerdict::NotReachable
            if f.anonymous == SessionVerdict::Refused && f.guest == SessionVerdict::Refused =>
        {
            "null session and guest refused".into()
        }
        PipesVerdict::NotReachable => "no pipe opened without a password".into(),
        PipesVerdict::Unknown => "undecided: no pipe opened, not every open answered".into(),
    }
}

/// The section from the record (the steps of the login chain and the pipe opens, MS17-010's
/// verdict, the OS).
pub fn evaluate(h: &HostResult) -> Section {
    if !h.port_answered() {
        return Section::not_tested(&crate::model::enum_name(&h.status));
    }
    let i = inputs(h);
    let f = rules::judge(&i);
    let reason = f.reason.map(|r| r.as_str().to_owned());
    let family = rules::exploit_family(super::ntlm_version(h));
    let rank = rules::exploitable_rank(ms17_state(h), f.reachable, family);
    let tried = h.steps.iter().any(|s| is_pipe_step(s.name));
    Section {
        verdict: f.reachable.as_str().into(),
        summary: Some(match &reason {
            Some(r) if f.reachable == PipesVerdict::Unknown => format!("undecided: {r}"),
            _ => summary(&f),
        }),
        reason,
        anonymous_session: f.anonymous.as_str().into(),
        guest_session: f.guest.as_str().into(),
        pipes: if tried {
            PIPES
                .iter()
                .zip(f.pipes)
                .map(|(p, v)| ((*p).to_owned(), v.as_str().to_owned()))
                .collect()
        } else {
            BTreeMap::new()
        },
        exploit_rank: crate::model::enum_name(&rank),
        remediation: remediation(h, &f),
    }
}

fn verdict_in(h: &HostResult, words: &[PipesVerdict]) -> bool {
    section(h).is_some_and(|s| words.iter().any(|w| s.verdict == w.as_str()))
}

fn guest_accepted(s: &Section) -> bool {
    let g = SessionVerdict::AcceptedAsGuest.as_str();
    s.anonymous_session == g || s.guest_session == g
}

fn exploitable(h: &HostResult) -> bool {
    section(h).is_some_and(|s| s.exploit_rank == "exploitable-anonymously")
}

static FINDINGS: [FindingDef; 3] = [
    FindingDef {
        name: "exploitable",
        help: "MS17-010 vulnerable and exploitable without a password: a pipe open to a null session (XP, 2003, 2012, 2016), or Vista / 7 / 2008, whose exploit needs none",
        order: 42,
        // Before DoublePulsar (10): the host anyone on the network can take over now ranks
        // first in the HTML report's action list.
        severity: 5,
        shows: exploitable,
        fixed: |h| {
            h.ms17_010.verdict == Ms17Verdict::NotVulnerable
                || h.ms17_010.verdict == crate::model::Ms17Verdict::NotExposed
                || verdict_in(h, &[PipesVerdict::NotReachable])
                    && rules::exploit_family(super::ntlm_version(h))
                        == rules::ExploitFamily::NeedsPipe
        },
        text: |h| {
            let pipes = section(h).map(|s| s.reachable_pipes().join(", ")).unwrap_or_default();
            if pipes.is_empty() {
                "MS17-010 vulnerable, exploitable without a password (this OS's exploit needs no named pipe)".into()
            } else {
                format!("MS17-010 vulnerable, exploitable without a password ({pipes} open to a null session)")
            }
        },
    },
    FindingDef {
        name: "anonymous-pipe",
        help: "A named pipe on IPC$ opened without a password (null or guest session)",
        order: 40,
        severity: 42,
        shows: |h| {
            verdict_in(
                h,
                &[
                    PipesVerdict::AnonymousReachable,
                    PipesVerdict::GuestReachable,
                ],
            )
        },
        fixed: |h| verdict_in(h, &[PipesVerdict::NotReachable]),
        text: |h| match section(h) {
            Some(s) => format!(
                "Anonymous pipes {} ({})",
                s.verdict,
                s.summary.unwrap_or_default()
            ),
            None => "Anonymous pipes not-tested".into(),
        },
    },
    FindingDef {
        name: "guest-session",
        help:
            "A session accepted as Guest (the Guest account is enabled or unknown users map to it)",
        order: 41,
        severity: 48,
        shows: |h| section(h).is_some_and(|s| guest_accepted(&s)),
        fixed: |h| {
            section(h).is_some_and(|s| {
                s.guest_session == SessionVerdict::Refused.as_str() && !guest_accepted(&s)
            })
        },
        text: |h| match section(h) {
            Some(s) => format!(
                "Guest session (null session {}, guest {})",
                s.anonymous_session, s.guest_session
            ),
            None => "Guest session not-tested".into(),
        },
    },
];

static COLUMNS: [Column; 6] = [
    Column {
        name: "anonymous",
        cell: |h| section(h).map(|s| s.verdict).unwrap_or_default(),
    },
    Column {
        name: "anonymous_reason",
        cell: |h| section(h).and_then(|s| s.reason).unwrap_or_default(),
    },
    Column {
        name: "anonymous_session",
        cell: |h| section(h).map(|s| s.anonymous_session).unwrap_or_default(),
    },
    Column {
        name: "guest_session",
        cell: |h| section(h).map(|s| s.guest_session).unwrap_or_default(),
    },
    Column {
        name: "anonymous_pipes",
        cell: |h| {
            section(h)
                .map(|s| s.reachable_pipes().join(" "))
                .unwrap_or_default()
        },
    },
    Column {
        name: "exploit_rank",
        cell: |h| section(h).map(|s| s.exploit_rank).unwrap_or_default(),
    },
];

impl Check for Anonymous {
    fn name(&self) -> &'static str {
        NAME
    }
    fn title(&self) -> &'static str {
        "Anonymous pipes"
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
    use crate::model::{HostStatus, Step};

    fn step(x: Exchange, outcome: StepOutcome, status: Option<&str>, detail: &str) -> Step {
        let mut s = Step::new(StepName::Exchange(x), outcome, 1);
        s.status = status.map(str::to_owned);
        s.detail = Some(detail.to_owned());
        s
    }

    fn host(steps: Vec<Step>) -> HostResult {
        let mut h = HostResult::new([10, 0, 0, 1].into(), 445, None);
        h.status = HostStatus::Open;
        h.smb1.enabled = Some(true);
        h.steps = steps;
        h
    }

    const OK: StepOutcome = StepOutcome::Ok;
    const ST: StepOutcome = StepOutcome::Status;
    const SS: Exchange = Exchange::SessionSetup;
    const PO: Exchange = Exchange::PipeOpen;

    fn pipes(statuses: [Option<&str>; 5]) -> Vec<Step> {
        PIPES
            .iter()
            .zip(statuses)
            .map(|(p, st)| match st {
                Some("0x00000000") => step(PO, OK, st, &format!("{p}: opened FID 0x4000, closed")),
                Some(_) => step(PO, ST, st, p),
                None => step(
                    PO,
                    StepOutcome::Reset,
                    None,
                    &format!("{p}: connection reset"),
                ),
            })
            .collect()
    }

    /// Records in, section out. The rows are the steps real servers gave through the binary:
    /// the lab's Samba 4.17 (127.0.0.2 and .4: spoolss, lsarpc, samr open to a null session),
    /// impacket 0.13 on 127.0.0.5 (every pipe STATUS_NO_SUCH_FILE), the responder's
    /// anonymous-pipe 2012 R2 persona; then what no lab server shows (refusals, a reset).
    #[test]
    fn verdicts_from_the_record() {
        const S: Option<&str> = Some("0x00000000");
        const NF: Option<&str> = Some("0xC0000034");
        const AD: Option<&str> = Some("0xC0000022");
        const NSF: Option<&str> = Some("0xC000000F");
        let anon_ok = step(SS, OK, S, "anonymous");
        let with = |mut v: Vec<Step>, p: Vec<Step>| {
            v.extend(p);
            v
        };
        #[rustfmt::skip]
        type Row = (&'static str, Vec<Step>, &'static str, Option<&'static str>, &'static str);
        let rows: Vec<Row> = vec![
            (
                "lab Samba 4.17",
                with(vec![anon_ok.clone()], pipes([NF, S, NF, S, S])),
                "anonymous-reachable",
                None,
                "spoolss lsarpc samr",
            ),
            (
                "lab impacket",
                with(vec![anon_ok.clone()], pipes([NSF; 5])),
                "not-reachable",
                None,
                "",
            ),
            (
                "persona 2012 R2",
                with(vec![anon_ok.clone()], pipes([NF, AD, S, S, S])),
                "anonymous-reachable",
                None,
                "netlogon lsarpc samr",
            ),
            (
                "reset after the first open",
                with(
                    vec![anon_ok.clone()],
                    vec![
                        step(PO, ST, AD, "browser"),
                        step(
                            PO,
                            StepOutcome::Reset,
                            None,
                            "spoolss: connection reset by peer",
                        ),
                    ],
                ),
                "unknown",
                Some("pipes-not-answered"),
                "",
            ),
            (
                "null refused at the challenge leg, guest accepted as guest",
                with(
                    vec![
                        step(
                            Exchange::SessionSetupNegotiate,
                            ST,
                            Some("0xC000006D"),
                            "anonymous",
                        ),
                        step(SS, OK, S, "guest (guest)"),
                    ],
                    pipes([NF, NF, NF, S, S]),
                ),
                "guest-reachable",
                None,
                "lsarpc samr",
            ),
            (
                "both refused",
                vec![
                    step(SS, ST, Some("0xC000006D"), "anonymous"),
                    step(SS, ST, Some("0xC000006D"), "guest"),
                ],
                "not-reachable",
                None,
                "",
            ),
            (
                "the session setup timed out",
                vec![step(SS, StepOutcome::Timeout, None, "no answer within 5s")],
                "unknown",
                Some("no-logon-answer"),
                "",
            ),
            (
                "credentials",
                with(
                    vec![step(SS, OK, S, "NTLMv2 with the given credentials")],
                    pipes([S; 5]),
                ),
                "unknown",
                Some("session-not-anonymous"),
                "",
            ),
        ];
        for (what, steps, verdict, reason, open) in rows {
            let s = evaluate(&host(steps));
            assert_eq!(
                (
                    s.verdict.as_str(),
                    s.reason.as_deref(),
                    s.reachable_pipes().join(" ").as_str()
                ),
                (verdict, reason, open),
                "{what}"
            );
        }
        // SMB1 off and the SMB2 logon never answered: unknown with its reason, never
        // not-reachable.
        let mut h = host(vec![]);
        h.smb1.enabled = Some(false);
        let s = evaluate(&h);
        assert_eq!(
            (s.verdict.as_str(), s.reason.as_deref()),
            ("unknown", Some("no-logon-answer"))
        );
        // A closed port: not-tested.
        h.status = HostStatus::Closed;
        assert_eq!(evaluate(&h).verdict, "not-tested");
    }

    #[test]
    fn findings_rank_and_remediation() {
        let mut h = host(vec![step(SS, OK, Some("0x00000000"), "anonymous (guest)")]);
        h.steps.extend(pipes([
            Some("0xC0000034"),
            Some("0xC0000022"),
            Some("0x00000000"),
            Some("0x00000000"),
            Some("0x00000000"),
        ]));
        h.ms17_010.verdict = Ms17Verdict::Vulnerable;
        h.os.ntlm_version = Some("6.3.9600".into());
        crate::checks::Selection::default().apply(&mut h);
        let s = section(&h).expect("section");
        assert_eq!(s.exploit_rank, "exploitable-anonymously");
        assert_eq!(s.anonymous_session, "accepted-as-guest");
        let r = s.remediation.expect("remediation");
        assert!(
            r.contains("RestrictNullSessAccess") && r.contains("MS17-010"),
            "{r}"
        );
        assert!(r.contains("Guest account status"), "{r}");
        for name in ["anonymous-pipe", "guest-session"] {
            let f: crate::report::policy::Finding = name.parse().expect(name);
            assert!(crate::report::policy::has_finding(&h, f), "{name}");
        }
        // Not selected: no pipe finding even with the same steps.
        crate::checks::Selection::parse(&["ms17-010".into()])
            .expect("sel")
            .apply(&mut h);
        let f: crate::report::policy::Finding = "anonymous-pipe".parse().expect("finding");
        assert!(!crate::report::policy::has_finding(&h, f));
    }
}
