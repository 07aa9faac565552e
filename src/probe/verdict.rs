//! The verdict rules, without I/O: plain functions from what the host answered (or how an
//! exchange failed) to the record's verdicts and reasons. The async steps in `smb1.rs` and
//! `smb2.rs` only connect, send, receive and time out, then call these. Each rule is one row of
//! docs/verdicts.md, and the table-driven tests below have at least one case per row.

use std::time::Duration;

use smb1scan_protocol::{NtStatus, SmbError};

// Each check's pure rules live in its own folder (src/checks/<name>/rules.rs); the probe's steps
// reach them through here.
pub use crate::checks::doublepulsar::rules::{doublepulsar_from_ping, PingSession, PingVerdict};
pub use crate::checks::ms17_010::rules::{booted_before_ms17_010, ms17_from_peek};
pub use crate::checks::smb1::rules::{smb1_enabled, smb1_evidence, Smb1NegotiateReply};

use crate::model::{
    DpVerdict, HostResult, HostStatus, Ms17Inferred, Ms17Verdict, Reason, Smb1Evidence, Step,
    StepName, StepOutcome,
};

/// How an exchange failed below SMB: the connection-level part of a step's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The SYN was answered with RST.
    Refused,
    /// No answer to the SYN in time.
    ConnectTimeout,
    /// ICMP unreachable / no route.
    Unreachable,
    /// The peer reset an established connection before any byte of a reply.
    Reset,
    /// The peer closed the connection before any byte of a reply.
    Closed,
    /// No complete reply within the read timeout.
    Timeout,
    /// Something that is not a valid frame or reply (including a partial reply cut off).
    Protocol,
    /// The NetBIOS session request (port 139) was refused.
    NetbiosRefused,
    /// A local I/O error.
    Local,
}

impl Failure {
    /// The step outcome word.
    pub fn outcome(self) -> StepOutcome {
        match self {
            Failure::Refused => StepOutcome::Refused,
            Failure::ConnectTimeout => StepOutcome::ConnectTimeout,
            Failure::Unreachable => StepOutcome::Unreachable,
            Failure::Reset => StepOutcome::Reset,
            Failure::Closed => StepOutcome::Closed,
            Failure::Timeout => StepOutcome::Timeout,
            Failure::Protocol => StepOutcome::ProtocolError,
            Failure::NetbiosRefused => StepOutcome::NetbiosRefused,
            Failure::Local => StepOutcome::Error,
        }
    }

    /// The host status this failure leaves while nothing better is known.
    pub fn host_status(self) -> HostStatus {
        match self {
            Failure::Refused => HostStatus::Closed,
            Failure::ConnectTimeout => HostStatus::Filtered,
            Failure::Unreachable => HostStatus::Unreachable,
            Failure::Reset | Failure::Closed => HostStatus::Reset,
            Failure::Timeout => HostStatus::Timeout,
            Failure::Protocol | Failure::NetbiosRefused => HostStatus::ProtocolError,
            Failure::Local => HostStatus::Error,
        }
    }

    /// The reason a test stopped at a step that failed this way; `timeout` is the step's own
    /// timeout reason (`timeout-after-peek`, ...).
    pub fn reason(self, timeout: Reason) -> Reason {
        match self {
            Failure::Refused => Reason::ConnectionRefused,
            Failure::ConnectTimeout => Reason::ConnectTimeout,
            Failure::Unreachable => Reason::Unreachable,
            Failure::Reset => Reason::ConnectionReset,
            Failure::Closed => Reason::ConnectionClosed,
            Failure::Timeout => timeout,
            Failure::Protocol | Failure::NetbiosRefused => Reason::ProtocolError,
            Failure::Local => Reason::LocalError,
        }
    }
}

/// The step outcome for an SMB1 error status.
pub fn status_outcome(st: SmbError) -> StepOutcome {
    match st {
        SmbError::Dos(_) => StepOutcome::DosError,
        SmbError::Nt(_) => StepOutcome::Status,
    }
}

/// The reason a step before the peek was refused with `st`: a DOS-style error says so; at the
/// session setup, STATUS_REQUEST_NOT_ACCEPTED and STATUS_INSUFF_SERVER_RESOURCES are a busy
/// server (too many sessions, common on client editions), worth retrying; any other NT status
/// gives the step's own refusal reason (`session-setup-refused`, ...).
pub fn refusal_reason(st: SmbError, refused: Reason) -> Reason {
    match st {
        SmbError::Dos(_) => Reason::DosError,
        SmbError::Nt(NtStatus::REQUEST_NOT_ACCEPTED | NtStatus::INSUFF_SERVER_RESOURCES)
            if refused == Reason::SessionSetupRefused =>
        {
            Reason::ServerBusy
        }
        SmbError::Nt(_) => refused,
    }
}

/// One logon of the login chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// The account given with `--user`.
    Given,
    /// `guest` with an empty password.
    Guest,
    /// A null session.
    Anonymous,
}

impl Login {
    /// How its session-setup steps name it (their detail starts with it; the anonymous check
    /// reads the login chain back from them).
    pub fn word(self) -> &'static str {
        match self {
            Login::Given => "NTLMv2 with the given credentials",
            Login::Guest => "guest",
            Login::Anonymous => "anonymous",
        }
    }
}

/// The logons to try in turn, the first accepted session running the tests. With credentials,
/// nmap's order: the given account, then `guest`, then anonymous. Without, anonymous first (it
/// is what almost every server that allows a session accepts, and keeps the scan to one logon),
/// then `guest`.
pub fn login_chain(has_credentials: bool) -> &'static [Login] {
    if has_credentials {
        &[Login::Given, Login::Guest, Login::Anonymous]
    } else {
        &[Login::Anonymous, Login::Guest]
    }
}

/// Whether a session setup that stopped for `reason` moves on to the next login of the chain:
/// a refusal does (wrong password, account disabled, anonymous refused, a DOS-style refusal); a
/// failed connection, a busy server or garbage does not.
pub fn try_next_login(reason: Reason) -> bool {
    matches!(reason, Reason::SessionSetupRefused | Reason::DosError)
}

/// Marks verdicts still undecided when the probe stopped early (deadline, interruption).
pub fn mark_unfinished(r: &mut HostResult, reason: Reason) {
    if r.smb1.evidence == Smb1Evidence::NotTested && r.status == HostStatus::Timeout {
        // Connected, and the SMB1 negotiate was still waiting for its answer.
        r.smb1.evidence = Smb1Evidence::Timeout;
    }
    if r.ms17_010.verdict == Ms17Verdict::Unknown && r.ms17_010.reason.is_none() {
        r.ms17_010.reason = Some(reason);
    }
    if matches!(
        r.doublepulsar.verdict,
        DpVerdict::Unknown | DpVerdict::NotTested
    ) && r.doublepulsar.reason.is_none()
        && r.smb1.evidence == Smb1Evidence::DialectSelected
    {
        r.doublepulsar.verdict = DpVerdict::Unknown;
        r.doublepulsar.reason = Some(reason);
    }
}

/// The reason of an `unknown` MS17-010 verdict that no step set: from the SMB1 evidence first,
/// then from how the port answered.
fn fallback_reason(r: &HostResult) -> Reason {
    match r.smb1.evidence {
        Smb1Evidence::ErrorStatus => return Reason::Smb1ErrorAtNegotiate,
        Smb1Evidence::ResetAfterNegotiate | Smb1Evidence::ClosedAfterNegotiate
            if r.status != HostStatus::Open =>
        {
            return Reason::NoSmbAnswer
        }
        _ => {}
    }
    match r.status {
        HostStatus::Closed => Reason::ConnectionRefused,
        HostStatus::Filtered => Reason::ConnectTimeout,
        HostStatus::Unreachable => Reason::Unreachable,
        HostStatus::Reset => Reason::ConnectionReset,
        HostStatus::Timeout => Reason::TimeoutAfterNegotiate,
        HostStatus::ProtocolError => Reason::ProtocolError,
        HostStatus::Interrupted => Reason::Interrupted,
        HostStatus::Error => Reason::LocalError,
        HostStatus::Unresolved => Reason::Unresolved,
        HostStatus::Open => Reason::Smb1Unknown,
    }
}

/// Derives the verdicts that follow from others, so every record is self-consistent: SMB1 on/off
/// from the negotiate evidence and the SMB2 outcome, `not-exposed` only when SMB1 is shown off,
/// and a reason for every `unknown`.
pub fn finalise(r: &mut HostResult) {
    r.smb1.enabled = smb1_enabled(r.smb1.evidence, r.smb2.enabled == Some(true));
    if r.smb1.enabled == Some(false) && r.ms17_010.verdict == Ms17Verdict::Unknown {
        r.ms17_010.verdict = Ms17Verdict::NotExposed;
        r.ms17_010.reason = Some(Reason::Smb1Disabled);
    }
    if r.ms17_010.verdict == Ms17Verdict::Unknown && r.ms17_010.reason.is_none() {
        r.ms17_010.reason = Some(fallback_reason(r));
    }
    if r.doublepulsar.verdict == DpVerdict::Unknown && r.doublepulsar.reason.is_none() {
        r.doublepulsar.reason = r.ms17_010.reason;
    }
    if r.ms17_010.verdict == Ms17Verdict::Unknown
        && booted_before_ms17_010(r.smb2.boot_time.as_deref())
    {
        r.ms17_010.inferred = Some(Ms17Inferred::Missing);
        r.ms17_010.inferred_reason = Some(Reason::BootedBeforeMs17010);
    }
    r.settle_not_tested();
}

/// Finishes a record whose probe was cut off (`reason`: `host-timeout`, `interrupted`), whichever
/// deadline fired: the probe's own host deadline, or the engine's backstop for a probe that
/// overran it (which knows nothing of the probe's progress and starts from an empty record).
/// Both write the same `host-deadline` step, error text and verdict reasons.
pub fn finish_cut(r: &mut HostResult, reason: Reason, limit: Duration, ms: u64) {
    let mut step = Step::new(StepName::HostDeadline, StepOutcome::Timeout, ms);
    step.detail = Some(format!("host timeout of {limit:?} expired"));
    r.steps.push(step);
    mark_unfinished(r, reason);
    if r.error.is_none() {
        r.error = Some(format!("host timeout ({limit:?}) expired"));
    }
    finalise(r);
    r.duration_ms = ms;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Smb1Evidence as E;
    use std::net::{IpAddr, Ipv4Addr};

    const NT: fn(u32) -> SmbError = |v| SmbError::Nt(NtStatus(v));

    fn dos() -> SmbError {
        SmbError::Dos(smb1scan_protocol::DosError {
            class: 0x02,
            code: 0x0005,
        })
    }

    fn record(status: HostStatus, evidence: Smb1Evidence, smb2: Option<bool>) -> HostResult {
        let mut r = HostResult::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 445, None);
        r.status = status;
        r.smb1.evidence = evidence;
        r.smb2.enabled = smb2;
        r
    }

    /// docs/verdicts.md, "MS17-010": the reasons of a test that could not reach the peek.
    #[test]
    fn verdict_ms17_stopped_reasons() {
        let t = Reason::TimeoutAfterSessionSetup;
        let rows = [
            (
                refusal_reason(NT(0xC000_0022), Reason::SessionSetupRefused),
                Reason::SessionSetupRefused,
            ),
            (
                refusal_reason(NT(0xC000_00CC), Reason::TreeConnectRefused),
                Reason::TreeConnectRefused,
            ),
            (
                refusal_reason(dos(), Reason::TreeConnectRefused),
                Reason::DosError,
            ),
            // A busy server at the session setup (retried, then `server-busy`); elsewhere the
            // same statuses are ordinary refusals.
            (
                refusal_reason(NT(0xC000_00D0), Reason::SessionSetupRefused),
                Reason::ServerBusy,
            ),
            (
                refusal_reason(NT(0xC000_0205), Reason::SessionSetupRefused),
                Reason::ServerBusy,
            ),
            (
                refusal_reason(NT(0xC000_00D0), Reason::TreeConnectRefused),
                Reason::TreeConnectRefused,
            ),
            (Failure::Timeout.reason(t), t),
            (
                Failure::Timeout.reason(Reason::TimeoutAfterTreeConnect),
                Reason::TimeoutAfterTreeConnect,
            ),
            (Failure::Reset.reason(t), Reason::ConnectionReset),
            (Failure::Closed.reason(t), Reason::ConnectionClosed),
            (Failure::Protocol.reason(t), Reason::ProtocolError),
            (Failure::Local.reason(t), Reason::LocalError),
        ];
        for (got, want) in rows {
            assert_eq!(got, want);
        }
    }

    /// docs/verdicts.md: `not-exposed` only when SMB1 is shown off, and the fallback reasons of a
    /// record that no step decided (port never answered, SMB1 undecided, no SMB answer at all).
    #[test]
    fn verdict_finalise_table() {
        use HostStatus as S;
        let rows: [(S, E, Option<bool>, Ms17Verdict, Reason); 14] = [
            (
                S::Open,
                E::DialectIndexNone,
                None,
                Ms17Verdict::NotExposed,
                Reason::Smb1Disabled,
            ),
            (
                S::Open,
                E::Smb2Reply,
                None,
                Ms17Verdict::NotExposed,
                Reason::Smb1Disabled,
            ),
            (
                S::Open,
                E::ResetAfterNegotiate,
                Some(true),
                Ms17Verdict::NotExposed,
                Reason::Smb1Disabled,
            ),
            (
                S::Open,
                E::ClosedAfterNegotiate,
                Some(true),
                Ms17Verdict::NotExposed,
                Reason::Smb1Disabled,
            ),
            // A port that resets / closes every request: no SMB answer, never "not exposed".
            (
                S::Reset,
                E::ResetAfterNegotiate,
                None,
                Ms17Verdict::Unknown,
                Reason::NoSmbAnswer,
            ),
            (
                S::Reset,
                E::ClosedAfterNegotiate,
                None,
                Ms17Verdict::Unknown,
                Reason::NoSmbAnswer,
            ),
            // SMB2 answered with an error: SMB spoken, SMB1 state undecided.
            (
                S::Open,
                E::ResetAfterNegotiate,
                Some(false),
                Ms17Verdict::Unknown,
                Reason::Smb1Unknown,
            ),
            (
                S::Open,
                E::ErrorStatus,
                Some(true),
                Ms17Verdict::Unknown,
                Reason::Smb1ErrorAtNegotiate,
            ),
            (
                S::Timeout,
                E::Timeout,
                None,
                Ms17Verdict::Unknown,
                Reason::TimeoutAfterNegotiate,
            ),
            (
                S::ProtocolError,
                E::ProtocolError,
                None,
                Ms17Verdict::Unknown,
                Reason::ProtocolError,
            ),
            (
                S::Closed,
                E::NotTested,
                None,
                Ms17Verdict::NotTested,
                Reason::ConnectionRefused,
            ),
            (
                S::Filtered,
                E::NotTested,
                None,
                Ms17Verdict::NotTested,
                Reason::ConnectTimeout,
            ),
            (
                S::Unreachable,
                E::NotTested,
                None,
                Ms17Verdict::NotTested,
                Reason::Unreachable,
            ),
            (
                S::Open,
                E::Timeout,
                Some(true),
                Ms17Verdict::Unknown,
                Reason::Smb1Unknown,
            ),
        ];
        for (status, evidence, smb2, verdict, reason) in rows {
            let mut r = record(status, evidence, smb2);
            finalise(&mut r);
            assert_eq!(
                (r.ms17_010.verdict, r.ms17_010.reason),
                (verdict, Some(reason)),
                "{status:?} {evidence:?} smb2={smb2:?}"
            );
            if verdict == Ms17Verdict::Unknown {
                assert_ne!(r.smb1.enabled, Some(false), "{status:?} {evidence:?}");
            }
        }
    }

    /// docs/verdicts.md, "Boot-time evidence": an `unknown` verdict on a host booted before
    /// 2017-03-14 is inferred `missing`; a verdict the peek reached is never overridden.
    #[test]
    fn verdict_boot_time_table() {
        let rows = [
            (
                Ms17Verdict::Unknown,
                Some("2017-01-05T08:00:00Z"),
                Some(Ms17Inferred::Missing),
            ),
            (
                Ms17Verdict::Unknown,
                Some("2017-03-13T23:59:59Z"),
                Some(Ms17Inferred::Missing),
            ),
            (Ms17Verdict::Unknown, Some("2017-03-14T00:00:00Z"), None),
            (Ms17Verdict::Unknown, None, None),
            (
                Ms17Verdict::NotVulnerable,
                Some("2016-01-01T00:00:00Z"),
                None,
            ),
            (Ms17Verdict::Vulnerable, Some("2016-01-01T00:00:00Z"), None),
        ];
        for (verdict, boot, inferred) in rows {
            let mut r = record(HostStatus::Open, E::DialectSelected, Some(true));
            r.ms17_010.verdict = verdict;
            r.ms17_010.reason =
                (verdict == Ms17Verdict::Unknown).then_some(Reason::TimeoutAfterPeek);
            r.smb2.boot_time = boot.map(str::to_owned);
            finalise(&mut r);
            assert_eq!(r.ms17_010.verdict, verdict, "{boot:?}");
            assert_eq!(r.ms17_010.inferred, inferred, "{verdict:?} {boot:?}");
            assert_eq!(
                r.ms17_010.inferred_reason,
                inferred.map(|_| Reason::BootedBeforeMs17010)
            );
        }
    }

    /// docs/verdicts.md, "Login chain": the order, and which stops move on to the next login.
    #[test]
    fn verdict_login_chain() {
        assert_eq!(
            login_chain(true),
            &[Login::Given, Login::Guest, Login::Anonymous]
        );
        assert_eq!(login_chain(false), &[Login::Anonymous, Login::Guest]);
        for (reason, next) in [
            (Reason::SessionSetupRefused, true),
            (Reason::DosError, true),
            (Reason::ServerBusy, false),
            (Reason::TimeoutAfterSessionSetup, false),
            (Reason::ConnectionReset, false),
            (Reason::ProtocolError, false),
        ] {
            assert_eq!(try_next_login(reason), next, "{reason:?}");
        }
    }

    /// One function finishes a cut-off record: the probe's partial record and the engine's empty
    /// one get the same step, error and reasons.
    #[test]
    fn verdict_finish_cut_same_shape() {
        let limit = Duration::from_millis(300);
        let mut probe_side = record(HostStatus::Timeout, E::NotTested, None);
        probe_side
            .steps
            .push(Step::new(StepName::Connect(None), StepOutcome::Ok, 1));
        let mut engine_side = record(HostStatus::Timeout, E::NotTested, None);
        finish_cut(&mut probe_side, Reason::HostTimeout, limit, 300);
        finish_cut(&mut engine_side, Reason::HostTimeout, limit, 300);
        assert_eq!(probe_side.steps.last(), engine_side.steps.last());
        assert_eq!(probe_side.smb1, engine_side.smb1);
        assert_eq!(probe_side.ms17_010, engine_side.ms17_010);
        assert_eq!(probe_side.doublepulsar, engine_side.doublepulsar);
        assert_eq!(probe_side.error, engine_side.error);
        assert_eq!(engine_side.ms17_010.reason, Some(Reason::HostTimeout));
        assert_eq!(engine_side.smb1.evidence, E::Timeout);
        // SMB1 on when cut: DoublePulsar undecided with the same reason.
        let mut on = record(HostStatus::Open, E::DialectSelected, Some(true));
        finish_cut(&mut on, Reason::HostTimeout, limit, 300);
        assert_eq!(on.doublepulsar.verdict, DpVerdict::Unknown);
        assert_eq!(on.doublepulsar.reason, Some(Reason::HostTimeout));
    }

    /// Step names keep today's JSON strings, including the connect-for-another-step form.
    #[test]
    fn verdict_step_names_round_trip() {
        use crate::model::{Exchange as X, Smb2DialectName as D};
        let rows = [
            (StepName::Connect(None), "connect"),
            (
                StepName::Connect(Some(X::Smb2Negotiate(Some(D::V210)))),
                "connect (smb2-negotiate-2.1)",
            ),
            (
                StepName::NetbiosSession(Some(X::Smb2Negotiate(None))),
                "netbios-session (smb2-negotiate)",
            ),
            (StepName::Exchange(X::PeekNamedPipe), "peek-named-pipe"),
            (
                StepName::Exchange(X::Smb2Negotiate(Some(D::V311))),
                "smb2-negotiate-3.1.1",
            ),
            (StepName::HostDeadline, "host-deadline"),
        ];
        for (name, s) in rows {
            assert_eq!(name.to_string(), s);
            assert_eq!(StepName::try_from(s.to_owned()), Ok(name));
        }
        assert!(StepName::try_from("connect (bogus)".to_owned()).is_err());
    }
}
