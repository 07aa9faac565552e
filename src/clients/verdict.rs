//! The one decision of `smb1scan clients`: for one (server, client) pair, what turning SMB1 off on
//! the server does to the client. A pure function of counts the readers collected, so every rule
//! is a row of the table test below.

use serde::{Deserialize, Serialize};

/// What turning SMB1 off on the server does to this client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The client offered only SMB1 dialects on at least one session: it stops working.
    Breaks,
    /// Not decided; `reason` says why.
    Unknown,
    /// The client offered SMB2 too, and the server is seen speaking SMB2: it negotiates SMB2.
    FallsBack,
    /// The client never offered SMB1 to this server (counted, listed only with `--all`).
    Smb2Only,
}

impl Verdict {
    /// The name used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Breaks => "breaks",
            Verdict::Unknown => "unknown",
            Verdict::FallsBack => "falls-back",
            Verdict::Smb2Only => "smb2-only",
        }
    }
}

/// Why a session, or a pair, is not decided. A closed vocabulary, shown in every output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownReason {
    /// The connection was already open when the capture began: its negotiate is not in it.
    MidStream,
    /// The connection is in the capture from its start, but no NEGOTIATE request was read (capture
    /// ended, packets lost, a gap or a snaplen cut in the request).
    NegotiateNotCaptured,
    /// An audit log entry (event 3000) says the client used SMB1, but a log does not hold the
    /// dialects it offered.
    LogWithoutDialects,
    /// The client offered SMB2 too, but nothing in the inputs shows this server speaking SMB2 (it
    /// answered in SMB1, or its answer is not in the capture).
    ServerSmb2NotShown,
}

impl UnknownReason {
    /// The name used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            UnknownReason::MidStream => "mid-stream",
            UnknownReason::NegotiateNotCaptured => "negotiate-not-captured",
            UnknownReason::LogWithoutDialects => "log-without-dialects",
            UnknownReason::ServerSmb2NotShown => "server-smb2-not-shown",
        }
    }

    /// One sentence for people.
    pub fn explain(self) -> &'static str {
        match self {
            UnknownReason::MidStream => {
                "a session began before the capture: the dialects its client offered are not in it"
            }
            UnknownReason::NegotiateNotCaptured => {
                "no NEGOTIATE request of the session was captured whole"
            }
            UnknownReason::LogWithoutDialects => {
                "the SMB1 audit log says the client used SMB1 but does not record the dialects it offered"
            }
            UnknownReason::ServerSmb2NotShown => {
                "the client offered SMB2 too, but the inputs do not show this server speaking SMB2"
            }
        }
    }
}

/// How the sessions of one pair went, as counted by the readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SessionCounts {
    /// Sessions whose NEGOTIATE offered SMB1 dialects only.
    pub smb1_only: u64,
    /// Sessions that offered SMB1 and SMB2 dialects.
    pub smb1_and_smb2: u64,
    /// Sessions that offered SMB2 only, or were seen carrying SMB2 messages.
    pub smb2_only: u64,
    /// Sessions not decided, and the first reason met.
    pub unknown: u64,
}

/// The inputs of [`decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerdictInput {
    /// The pair's sessions.
    pub sessions: SessionCounts,
    /// Why the undecided sessions are undecided (the first reason met), when there are any.
    pub unknown_reason: Option<UnknownReason>,
    /// The server was seen answering a NEGOTIATE in SMB2 (to any client).
    pub server_speaks_smb2: bool,
}

/// The verdict for a pair, and the reason when it is `unknown`.
///
/// 1. One session that offered SMB1 only: `breaks` (that use of the client stops).
/// 2. Otherwise an undecided session: `unknown` with its reason (silence is never safety).
/// 3. Otherwise a session that offered both: `falls-back` when the server is seen speaking SMB2,
///    else `unknown` (server-smb2-not-shown).
/// 4. Otherwise SMB2-only sessions: `smb2-only`.
/// 5. No session at all: `unknown` (negotiate-not-captured).
pub fn decide(input: &VerdictInput) -> (Verdict, Option<UnknownReason>) {
    let s = input.sessions;
    if s.smb1_only > 0 {
        return (Verdict::Breaks, None);
    }
    if s.unknown > 0 {
        return (
            Verdict::Unknown,
            Some(
                input
                    .unknown_reason
                    .unwrap_or(UnknownReason::NegotiateNotCaptured),
            ),
        );
    }
    if s.smb1_and_smb2 > 0 {
        return if input.server_speaks_smb2 {
            (Verdict::FallsBack, None)
        } else {
            (Verdict::Unknown, Some(UnknownReason::ServerSmb2NotShown))
        };
    }
    if s.smb2_only > 0 {
        return (Verdict::Smb2Only, None);
    }
    (Verdict::Unknown, Some(UnknownReason::NegotiateNotCaptured))
}

#[cfg(test)]
mod tests {
    use super::*;
    use UnknownReason as R;
    use Verdict as V;

    fn c(smb1_only: u64, both: u64, smb2_only: u64, unknown: u64) -> SessionCounts {
        SessionCounts {
            smb1_only,
            smb1_and_smb2: both,
            smb2_only,
            unknown,
        }
    }

    type Row = (SessionCounts, Option<R>, bool, V, Option<R>);

    #[test]
    fn verdict_table() {
        #[rustfmt::skip]
        let rows: &[Row] = &[
            // sessions        unknown reason       smb2 srv  verdict         reason
            (c(1, 0, 0, 0), None,                    false, V::Breaks,    None),
            (c(1, 0, 0, 0), None,                    true,  V::Breaks,    None),
            // one SMB1-only session among SMB2 ones still breaks (nmap, a scanner-to-folder job)
            (c(1, 5, 5, 0), None,                    true,  V::Breaks,    None),
            (c(1, 0, 0, 2), Some(R::MidStream),      true,  V::Breaks,    None),
            (c(0, 1, 0, 0), None,                    true,  V::FallsBack, None),
            (c(0, 1, 0, 0), None,                    false, V::Unknown,   Some(R::ServerSmb2NotShown)),
            (c(0, 1, 3, 0), None,                    true,  V::FallsBack, None),
            (c(0, 0, 3, 0), None,                    false, V::Smb2Only,  None),
            (c(0, 0, 3, 0), None,                    true,  V::Smb2Only,  None),
            // an undecided session outweighs decided ones that would pass
            (c(0, 4, 0, 1), Some(R::MidStream),      true,  V::Unknown,   Some(R::MidStream)),
            (c(0, 0, 4, 1), Some(R::NegotiateNotCaptured), true, V::Unknown, Some(R::NegotiateNotCaptured)),
            (c(0, 0, 0, 1), Some(R::LogWithoutDialects), false, V::Unknown, Some(R::LogWithoutDialects)),
            (c(0, 0, 0, 1), None,                    false, V::Unknown,   Some(R::NegotiateNotCaptured)),
            (c(0, 0, 0, 0), None,                    true,  V::Unknown,   Some(R::NegotiateNotCaptured)),
        ];
        for (sessions, unknown_reason, smb2, verdict, reason) in rows {
            let got = decide(&VerdictInput {
                sessions: *sessions,
                unknown_reason: *unknown_reason,
                server_speaks_smb2: *smb2,
            });
            assert_eq!(
                got,
                (*verdict, *reason),
                "{sessions:?} {unknown_reason:?} smb2={smb2}"
            );
        }
    }

    #[test]
    fn names() {
        assert_eq!(V::FallsBack.as_str(), "falls-back");
        assert_eq!(
            serde_json::to_string(&R::ServerSmb2NotShown).unwrap(),
            "\"server-smb2-not-shown\""
        );
    }
}
