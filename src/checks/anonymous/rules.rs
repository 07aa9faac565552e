//! Anonymous / guest session and anonymous named pipe rules, without I/O.
//!
//! Inputs are the outcomes of the login chain the probe already runs (a null session, then
//! `guest` with an empty password) and, on the session it got, one open-and-close per pipe on
//! IPC$: SMB1 NT_CREATE_ANDX ([MS-CIFS] 2.2.4.64) or SMB2 CREATE ([MS-SMB2] 2.2.13), nothing else.
//! A pipe an anonymous caller opens is what turns an unpatched XP / 2003 / 2012 / 2016 host into
//! an exploitable one (the MS17-010 exploits for those need a named pipe; on Vista / 7 / 2008 they
//! do not), hence [`exploitable_rank`].

use serde::{Deserialize, Serialize};

/// The pipes tried, in order ([MS-SMB2] and [MS-CIFS] name them without `\PIPE\` on SMB2).
pub const PIPES: [&str; 5] = ["browser", "spoolss", "netlogon", "lsarpc", "samr"];

/// How one logon of the chain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogonOutcome {
    /// SESSION_SETUP succeeded; `as_guest` when the server flagged the session as a guest one
    /// (SMB1 Action bit 0x0001, [MS-CIFS] 2.2.4.53.2; SMB2 SessionFlags IS_GUEST, [MS-SMB2]
    /// 2.2.6), i.e. mapped the caller to the Guest account.
    Accepted {
        /// Flagged as guest.
        as_guest: bool,
    },
    /// The server answered with an error status (logon failure, access denied ...).
    Refused,
    /// Not tried (an earlier logon of the chain was accepted, or the exchange never got there).
    NotTried,
    /// The exchange failed below SMB (reset, timeout, garbage): proves nothing.
    Failed,
}

/// What happened to one pipe's open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipeOpen {
    /// The create succeeded (and the handle was closed again).
    Opened,
    /// STATUS_ACCESS_DENIED.
    AccessDenied,
    /// STATUS_OBJECT_NAME_NOT_FOUND (no such pipe on this server).
    NotFound,
    /// Another NT status (e.g. STATUS_PIPE_NOT_AVAILABLE): answered, not opened.
    OtherStatus(u32),
    /// Not tried, or the exchange failed below SMB.
    Unanswered,
}

/// Which logon the pipes were opened on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipeSession {
    /// A null session: an open proves anonymous reach.
    Anonymous,
    /// `guest` with an empty password.
    Guest,
    /// The account given with `--user`: an open proves nothing about anonymous callers.
    Credentials,
    /// No session (all refused or failed).
    None,
}

/// Session verdict. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionVerdict {
    /// Accepted.
    Accepted,
    /// Accepted and mapped to the Guest account.
    AcceptedAsGuest,
    /// The server refused it.
    Refused,
    /// Not learnt.
    Unknown,
}

impl SessionVerdict {
    /// The record/CSV word.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionVerdict::Accepted => "accepted",
            SessionVerdict::AcceptedAsGuest => "accepted-as-guest",
            SessionVerdict::Refused => "refused",
            SessionVerdict::Unknown => "unknown",
        }
    }
}

/// Per-pipe verdict. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PipeVerdict {
    /// Opened by the anonymous (or guest) session.
    Reachable,
    /// Answered with access denied.
    Denied,
    /// The server has no such pipe.
    Absent,
    /// Answered with another status.
    NotOpened,
    /// Not learnt.
    Unknown,
}

impl PipeVerdict {
    /// The record/CSV word.
    pub fn as_str(self) -> &'static str {
        match self {
            PipeVerdict::Reachable => "reachable",
            PipeVerdict::Denied => "denied",
            PipeVerdict::Absent => "absent",
            PipeVerdict::NotOpened => "not-opened",
            PipeVerdict::Unknown => "unknown",
        }
    }
}

/// The pipes verdict for the whole host. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PipesVerdict {
    /// At least one pipe opened on a null session.
    AnonymousReachable,
    /// At least one pipe opened on a guest session (no null session was accepted).
    GuestReachable,
    /// The server refused every anonymous and guest logon, or answered every pipe without
    /// opening it.
    NotReachable,
    /// Not decided; see the reason.
    Unknown,
}

impl PipesVerdict {
    /// The record/CSV word.
    pub fn as_str(self) -> &'static str {
        match self {
            PipesVerdict::AnonymousReachable => "anonymous-reachable",
            PipesVerdict::GuestReachable => "guest-reachable",
            PipesVerdict::NotReachable => "not-reachable",
            PipesVerdict::Unknown => "unknown",
        }
    }
}

/// Why the pipes verdict is unknown. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PipesReason {
    /// The pipes were opened with the given credentials, which says nothing of anonymous callers.
    SessionNotAnonymous,
    /// Neither anonymous nor guest logon got an answer.
    NoLogonAnswer,
    /// Some pipes were not answered and none opened.
    PipesNotAnswered,
}

impl PipesReason {
    /// The record/CSV word.
    pub fn as_str(self) -> &'static str {
        match self {
            PipesReason::SessionNotAnonymous => "session-not-anonymous",
            PipesReason::NoLogonAnswer => "no-logon-answer",
            PipesReason::PipesNotAnswered => "pipes-not-answered",
        }
    }
}

/// Everything the check learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnonymousInputs {
    /// The null session.
    pub anonymous: LogonOutcome,
    /// `guest` / empty password.
    pub guest: LogonOutcome,
    /// The session the pipes were opened on.
    pub pipe_session: PipeSession,
    /// Per pipe of [`PIPES`], same order.
    pub pipes: [PipeOpen; 5],
}

/// The result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnonymousFinding {
    /// Null session.
    pub anonymous: SessionVerdict,
    /// Guest logon.
    pub guest: SessionVerdict,
    /// Per pipe of [`PIPES`].
    pub pipes: [PipeVerdict; 5],
    /// Overall.
    pub reachable: PipesVerdict,
    /// Why, when unknown.
    pub reason: Option<PipesReason>,
}

impl AnonymousFinding {
    /// The names of the reachable pipes.
    pub fn reachable_pipes(&self) -> Vec<&'static str> {
        PIPES
            .iter()
            .zip(self.pipes)
            .filter(|(_, v)| *v == PipeVerdict::Reachable)
            .map(|(n, _)| *n)
            .collect()
    }
}

/// One logon's verdict. Windows accepts a null session on nearly every version (it is how
/// IPC$ works), so `accepted` alone is not a finding; `accepted-as-guest` (the Guest account
/// is enabled) and reachable pipes are.
pub fn session_verdict(o: LogonOutcome) -> SessionVerdict {
    match o {
        LogonOutcome::Accepted { as_guest: true } => SessionVerdict::AcceptedAsGuest,
        LogonOutcome::Accepted { as_guest: false } => SessionVerdict::Accepted,
        LogonOutcome::Refused => SessionVerdict::Refused,
        LogonOutcome::NotTried | LogonOutcome::Failed => SessionVerdict::Unknown,
    }
}

/// The verdicts from the login chain and the pipe opens.
pub fn judge(i: &AnonymousInputs) -> AnonymousFinding {
    let anonymous = session_verdict(i.anonymous);
    let guest = session_verdict(i.guest);
    let opened_by = match i.pipe_session {
        PipeSession::Anonymous | PipeSession::Guest => true,
        PipeSession::Credentials | PipeSession::None => false,
    };
    let pipes = i.pipes.map(|p| match p {
        PipeOpen::Opened if opened_by => PipeVerdict::Reachable,
        PipeOpen::Opened => PipeVerdict::Unknown,
        PipeOpen::AccessDenied if opened_by => PipeVerdict::Denied,
        PipeOpen::NotFound => PipeVerdict::Absent,
        PipeOpen::OtherStatus(_) if opened_by => PipeVerdict::NotOpened,
        PipeOpen::AccessDenied | PipeOpen::OtherStatus(_) | PipeOpen::Unanswered => {
            PipeVerdict::Unknown
        }
    });
    let any_open = pipes.contains(&PipeVerdict::Reachable);
    let refused = |v| v == SessionVerdict::Refused;
    let (reachable, reason) = if any_open {
        match i.pipe_session {
            PipeSession::Anonymous => (PipesVerdict::AnonymousReachable, None),
            _ => (PipesVerdict::GuestReachable, None),
        }
    } else if refused(anonymous) && refused(guest) {
        (PipesVerdict::NotReachable, None)
    } else {
        match i.pipe_session {
            PipeSession::Credentials => (
                PipesVerdict::Unknown,
                Some(PipesReason::SessionNotAnonymous),
            ),
            PipeSession::None => (PipesVerdict::Unknown, Some(PipesReason::NoLogonAnswer)),
            PipeSession::Anonymous | PipeSession::Guest => {
                if pipes.contains(&PipeVerdict::Unknown) {
                    (PipesVerdict::Unknown, Some(PipesReason::PipesNotAnswered))
                } else {
                    (PipesVerdict::NotReachable, None)
                }
            }
        }
    };
    AnonymousFinding {
        anonymous,
        guest,
        pipes,
        reachable,
        reason,
    }
}

/// MS17-010's state, as the ranking needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ms17State {
    /// Verdict `vulnerable`.
    Vulnerable,
    /// Verdict unknown, inferred `missing` (booted before the bulletin).
    InferredMissing,
    /// Anything else (not-vulnerable, not-exposed, unknown without inference).
    Other,
}

/// The OS family, as far as it decides whether the MS17-010 exploit needs a named pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExploitFamily {
    /// XP / 2003 / 8 / 2012 / 10 / 2016: the exploit chain needs a named pipe.
    NeedsPipe,
    /// Vista / 7 / 2008 / 2008 R2: EternalBlue needs no pipe.
    NoPipeNeeded,
    /// Not identified.
    Unknown,
}

/// The family from the NTLMSSP major.minor (or the product's kernel version).
pub fn exploit_family(ntlm_version: Option<(u8, u8, u16)>) -> ExploitFamily {
    match ntlm_version {
        Some((_, _, 0)) | None => ExploitFamily::Unknown,
        Some((5, 1 | 2, _)) | Some((6, 2 | 3, _)) | Some((10, 0, _)) => ExploitFamily::NeedsPipe,
        Some((6, 0 | 1, _)) => ExploitFamily::NoPipeNeeded,
        Some(_) => ExploitFamily::Unknown,
    }
}

/// Rank in the HTML report's action list, 1 first. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExploitRank {
    /// MS17-010 vulnerable, and what the exploit needs is there: a pipe an anonymous caller
    /// opens on a family that needs one, or a family that needs none.
    ExploitableAnonymously,
    /// MS17-010 vulnerable; the pipe the exploit needs on this family is not shown reachable.
    Vulnerable,
    /// MS17-010 missing by the boot-time inference only.
    InferredMissing,
    /// Nothing from MS17-010.
    None,
}

impl ExploitRank {
    /// 1-based rank.
    pub fn rank(self) -> u8 {
        match self {
            ExploitRank::ExploitableAnonymously => 1,
            ExploitRank::Vulnerable => 2,
            ExploitRank::InferredMissing => 3,
            ExploitRank::None => 4,
        }
    }
}

/// Combines MS17-010 with anonymous pipe reach. Only a null-session pipe counts: a guest pipe
/// needs the Guest account, which an exploit can use too, but the exploitable case is
/// the anonymous one; a guest-reachable pipe ranks as `vulnerable` (second).
pub fn exploitable_rank(
    ms17: Ms17State,
    pipes: PipesVerdict,
    family: ExploitFamily,
) -> ExploitRank {
    match ms17 {
        Ms17State::Vulnerable => match (family, pipes) {
            (ExploitFamily::NoPipeNeeded, _) => ExploitRank::ExploitableAnonymously,
            (_, PipesVerdict::AnonymousReachable) => ExploitRank::ExploitableAnonymously,
            _ => ExploitRank::Vulnerable,
        },
        Ms17State::InferredMissing => ExploitRank::InferredMissing,
        Ms17State::Other => ExploitRank::None,
    }
}

/// This check's remediation rows (`data/checks/anonymous.toml`), compiled in for the registry.
pub const REMEDIATION_TOML: &str = include_str!("../../../data/checks/anonymous.toml");
/// The same table as JSON, compiled by build.rs: read at run time (faster than the TOML).
pub const REMEDIATION_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/checks/anonymous.json"));

#[cfg(test)]
mod tests {
    use super::*;
    use LogonOutcome::*;
    use PipeOpen::*;

    const DENIED: u32 = 0xC000_0022;

    fn inputs(
        anon: LogonOutcome,
        guest: LogonOutcome,
        s: PipeSession,
        p: [PipeOpen; 5],
    ) -> AnonymousInputs {
        AnonymousInputs {
            anonymous: anon,
            guest,
            pipe_session: s,
            pipes: p,
        }
    }

    #[test]
    fn table() {
        let acc = Accepted { as_guest: false };
        type Case = (
            &'static str,
            AnonymousInputs,
            PipesVerdict,
            Option<PipesReason>,
            &'static [&'static str],
        );
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("responder anonymous-pipe 2012 R2 persona: lsarpc/samr/netlogon open",
             inputs(acc, NotTried, PipeSession::Anonymous, [NotFound, NotFound, Opened, Opened, Opened]),
             PipesVerdict::AnonymousReachable, None, &["netlogon", "lsarpc", "samr"]),
            ("default Windows 2012 R2+: null session accepted, every pipe denied",
             inputs(acc, NotTried, PipeSession::Anonymous, [AccessDenied, AccessDenied, AccessDenied, AccessDenied, AccessDenied]),
             PipesVerdict::NotReachable, None, &[]),
            ("null session refused as in win2012r2-anonymous-session-setup-access-denied-wannacry, guest refused too",
             inputs(Refused, Refused, PipeSession::None, [Unanswered; 5]),
             PipesVerdict::NotReachable, None, &[]),
            ("a guest-mapping server (Samba map to guest = bad user): guest session opens two pipes",
             inputs(Refused, Accepted { as_guest: true }, PipeSession::Guest, [NotFound, NotFound, NotFound, Opened, Opened]),
             PipesVerdict::GuestReachable, None, &["lsarpc", "samr"]),
            ("credentials: an open proves nothing about anonymous callers",
             inputs(NotTried, NotTried, PipeSession::Credentials, [Opened; 5]),
             PipesVerdict::Unknown, Some(PipesReason::SessionNotAnonymous), &[]),
            ("reset during the pipe opens",
             inputs(acc, NotTried, PipeSession::Anonymous, [AccessDenied, Unanswered, Unanswered, Unanswered, Unanswered]),
             PipesVerdict::Unknown, Some(PipesReason::PipesNotAnswered), &[]),
            ("no logon answered",
             inputs(Failed, NotTried, PipeSession::None, [Unanswered; 5]),
             PipesVerdict::Unknown, Some(PipesReason::NoLogonAnswer), &[]),
            ("other statuses count as answered",
             inputs(acc, NotTried, PipeSession::Anonymous, [OtherStatus(0xC000_00AC), NotFound, AccessDenied, OtherStatus(DENIED), NotFound]),
             PipesVerdict::NotReachable, None, &[]),
        ];
        for (what, i, verdict, reason, open) in cases {
            let f = judge(i);
            assert_eq!((f.reachable, f.reason), (*verdict, *reason), "{what}");
            assert_eq!(f.reachable_pipes(), *open, "{what}");
        }
    }

    #[test]
    fn sessions() {
        assert_eq!(
            session_verdict(Accepted { as_guest: true }),
            SessionVerdict::AcceptedAsGuest
        );
        assert_eq!(
            session_verdict(Accepted { as_guest: false }),
            SessionVerdict::Accepted
        );
        assert_eq!(session_verdict(Refused), SessionVerdict::Refused);
        assert_eq!(session_verdict(NotTried), SessionVerdict::Unknown);
        assert_eq!(session_verdict(Failed), SessionVerdict::Unknown);
        // One refused, the other unknown: not enough to say no pipe is reachable.
        let f = judge(&inputs(Refused, Failed, PipeSession::None, [Unanswered; 5]));
        assert_eq!(f.reachable, PipesVerdict::Unknown);
    }

    #[test]
    fn ranking() {
        use ExploitRank::*;
        use Ms17State as M;
        use PipesVerdict as P;
        // NTLMSSP versions from the captures: winxp-sp3 5.1.2600, win2012r2 6.3.9600,
        // win2016 10.0.14393, win7 6.1.7601.
        let xp = exploit_family(Some((5, 1, 2600)));
        let r2 = exploit_family(Some((6, 3, 9600)));
        let s16 = exploit_family(Some((10, 0, 14393)));
        let w7 = exploit_family(Some((6, 1, 7601)));
        assert_eq!(
            exploit_family(Some((6, 1, 0))),
            ExploitFamily::Unknown,
            "Samba"
        );
        #[rustfmt::skip]
        let cases = [
            (M::Vulnerable, P::AnonymousReachable, xp, ExploitableAnonymously),
            (M::Vulnerable, P::AnonymousReachable, r2, ExploitableAnonymously),
            (M::Vulnerable, P::AnonymousReachable, s16, ExploitableAnonymously),
            (M::Vulnerable, P::NotReachable, r2, Vulnerable),
            (M::Vulnerable, P::GuestReachable, s16, Vulnerable),
            (M::Vulnerable, P::Unknown, xp, Vulnerable),
            (M::Vulnerable, P::NotReachable, w7, ExploitableAnonymously),
            (M::Vulnerable, P::AnonymousReachable, ExploitFamily::Unknown, ExploitableAnonymously),
            (M::Vulnerable, P::Unknown, ExploitFamily::Unknown, Vulnerable),
            (M::InferredMissing, P::AnonymousReachable, xp, InferredMissing),
            (M::Other, P::AnonymousReachable, xp, None),
        ];
        for (m, p, fam, want) in cases {
            assert_eq!(exploitable_rank(m, p, fam), want, "{m:?} {p:?} {fam:?}");
        }
        assert!(ExploitableAnonymously.rank() < Vulnerable.rank());
    }

    #[test]
    fn remediation_rows_parse() {
        let t: toml::Table = toml::from_str(REMEDIATION_TOML).unwrap_or_else(|e| panic!("{e}"));
        let row = t
            .get("findings")
            .and_then(|v| v.get("anonymous-pipes"))
            .and_then(|v| v.get("windows"))
            .and_then(|v| v.as_str());
        assert!(row.is_some_and(|s| !s.is_empty()));
    }
}
