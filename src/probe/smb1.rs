//! SMB1 steps: the SMB1-only NEGOTIATE, then SESSION_SETUP_ANDX, TREE_CONNECT_ANDX to IPC$, the
//! MS17-010 PeekNamedPipe test and the DoublePulsar ping, all on one connection.

use std::time::Instant;

use smb1scan_protocol::message::{parse_smb_message, SmbMessage};
use smb1scan_protocol::ntlmssp::{
    build_ntlmssp_authenticate_keyed, build_ntlmssp_negotiate, parse_ntlmssp_challenge,
    NtlmsspChallenge,
};
use smb1scan_protocol::ntlmssp::{ntlmv2_responses, ntowfv2};
use smb1scan_protocol::smb1::header::{flags2, CLIENT_FLAGS2};
use smb1scan_protocol::smb1::negotiate::{
    build_smb1_negotiate_request, build_smb1_negotiate_request_with_flags2, capabilities,
    parse_smb1_negotiate_response, Smb1NegotiateResponse, Smb1NegotiateSecurity, SMB1_DIALECTS,
};
use smb1scan_protocol::smb1::session_setup::{
    build_smb1_session_setup_extended, build_smb1_session_setup_plain,
    parse_smb1_session_setup_response, PlainLogon,
};
use smb1scan_protocol::smb1::signing::sign_smb1_message;
use smb1scan_protocol::smb1::trans2::DOUBLEPULSAR_PING_MID;
use smb1scan_protocol::smb1::tree_connect::{
    build_smb1_tree_connect_andx, parse_smb1_tree_connect_response,
};
use smb1scan_protocol::smb1::{Smb1Command, Smb1Ids};
use smb1scan_protocol::spnego::{
    build_spnego_neg_token_init, build_spnego_neg_token_resp, spnego_find_ntlmssp,
};
use smb1scan_protocol::{NtStatus, SmbError};

use super::conn::{Conn, NetError};
use super::verdict::{self, Login, PingSession, Smb1NegotiateReply};
use super::Probe;
use crate::checks::{doublepulsar, ms17_010};
use crate::model::{DpVerdict, Exchange, HostStatus, Ms17Verdict, Reason, StepName, StepOutcome};

/// Session setups refused as "server busy" are retried this many times ...
const SERVER_BUSY_RETRIES: u32 = 3;
/// ... after this pause, doubled each time (0.25 + 0.5 + 1 s at most, within the host deadline).
const SERVER_BUSY_BACKOFF: std::time::Duration = std::time::Duration::from_millis(250);

/// PID smb1scan puts in its SMB1 requests (any value works; this one is easy to spot in captures).
const PID: u16 = 0xFEFF;

/// What the negotiate decided that the session steps need.
pub(super) struct Smb1Session {
    conn: Conn,
    extended_security: bool,
    cap_unix: bool,
    ids: Smb1Ids,
    /// The server requires signing (SecurityMode 0x08).
    signing_required: bool,
    /// The classic negotiate's challenge, for credentials without extended security.
    challenge: Option<[u8; 8]>,
    /// Once a credentialed session is up on such a server: the MAC key and the next request's
    /// sequence number ([MS-CIFS] 3.1.4.1; each request/response pair takes two numbers).
    signing: Option<([u8; 16], u32)>,
    /// The negotiate's MaxMpxCount: how many requests may be outstanding at once.
    max_mpx: u16,
}

/// Outcome of one SMB1 request/response step.
enum Sent {
    Reply(Vec<u8>),
    Failed(NetError),
}

impl Smb1Session {
    /// The session state a NEGOTIATE response sets up.
    fn new(conn: Conn, resp: &Smb1NegotiateResponse<'_>) -> Self {
        let (extended_security, cap_unix) = match resp {
            Smb1NegotiateResponse::NtLm(n) => (
                n.is_extended_security(),
                n.has_capability(capabilities::UNIX),
            ),
            _ => (false, false),
        };
        let challenge = match resp {
            Smb1NegotiateResponse::NtLm(n) => match &n.security {
                Smb1NegotiateSecurity::Challenge { challenge, .. } => {
                    <[u8; 8]>::try_from(*challenge).ok()
                }
                _ => None,
            },
            _ => None,
        };
        Smb1Session {
            conn,
            extended_security,
            cap_unix,
            ids: Smb1Ids {
                pid: PID,
                mid: 1,
                ..Smb1Ids::default()
            },
            signing_required: resp.signing() == Some(smb1scan_protocol::message::Signing::Required),
            signing: None,
            challenge,
            max_mpx: match resp {
                Smb1NegotiateResponse::NtLm(n) => n.max_mpx_count,
                Smb1NegotiateResponse::Lanman(l) => l.max_mpx_count,
                _ => 1,
            },
        }
    }

    fn next_mid(&mut self) -> Smb1Ids {
        self.ids.mid = self.ids.mid.wrapping_add(1);
        // MID 65 is the DoublePulsar ping's; keep ordinary steps off it so replies are unambiguous.
        if self.ids.mid == DOUBLEPULSAR_PING_MID {
            self.ids.mid = self.ids.mid.wrapping_add(1);
        }
        self.ids
    }

    async fn exchange(&mut self, msg: &[u8]) -> Sent {
        let signed;
        let msg = match &mut self.signing {
            Some((key, seq)) => {
                let mut m = msg.to_vec();
                sign_smb1_message(&mut m, key, *seq);
                *seq = seq.wrapping_add(2);
                signed = m;
                &signed[..]
            }
            None => msg,
        };
        match self.conn.exchange(msg).await {
            Ok(m) => match check_mid(msg, &m) {
                Ok(()) => Sent::Reply(m),
                Err(e) => Sent::Failed(e),
            },
            Err(e) => Sent::Failed(e),
        }
    }
}

pub(super) fn signing(s: smb1scan_protocol::message::Signing) -> crate::model::Signing {
    use smb1scan_protocol::message::Signing as P;
    match s {
        P::Disabled => crate::model::Signing::Disabled,
        P::Enabled => crate::model::Signing::Enabled,
        P::Required => crate::model::Signing::Required,
    }
}

pub(super) fn time_string(secs: Option<i64>) -> Option<String> {
    secs.and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

impl Probe<'_> {
    /// Step 1: connect and send an NEGOTIATE offering SMB1 dialects only.
    /// On the fresh DoublePulsar connection (`self.fresh`) it records only its steps, and the
    /// DoublePulsar reason when SMB1 does not answer there.
    pub(super) async fn smb1_negotiate(&mut self) -> Option<Smb1Session> {
        let purpose = self.fresh.then_some(Exchange::DoublepulsarPing);
        let mut conn = match self.connect(purpose).await {
            Ok(c) => c,
            Err(e) => {
                if self.fresh {
                    self.stopped(e.failure().reason(Reason::TimeoutAfterNegotiate), None);
                    return None;
                }
                self.r.status = e.failure().host_status();
                self.r.error = Some(e.to_string());
                return None;
            }
        };
        let ids = Smb1Ids {
            pid: PID,
            mid: 1,
            ..Smb1Ids::default()
        };
        // Credentials need NTLMSSP, which only the extended-security form carries; anonymous
        // uses the plain form, which also makes servers name their domain and host.
        let req = if self.opts.credentials.is_some() {
            build_smb1_negotiate_request_with_flags2(
                SMB1_DIALECTS,
                ids,
                CLIENT_FLAGS2 | flags2::EXTENDED_SECURITY,
            )
        } else {
            build_smb1_negotiate_request(SMB1_DIALECTS, ids)
        };
        let t = Instant::now();
        let msg;
        let (reply, detail, resp) = match conn
            .exchange(&req)
            .await
            .and_then(|m| check_mid(&req, &m).map(|()| m))
        {
            Err(e) => {
                // Provisional: an SMB2 answer later makes the host `open`.
                if !self.fresh {
                    self.r.status = e.failure().host_status();
                }
                (
                    Smb1NegotiateReply::Failed(e.failure()),
                    Some(e.to_string()),
                    None,
                )
            }
            Ok(m) => {
                msg = m;
                let (reply, detail, resp) = read_negotiate(&msg);
                if !self.fresh {
                    self.r.status = if reply == Smb1NegotiateReply::Unparsable {
                        HostStatus::ProtocolError
                    } else {
                        HostStatus::Open
                    };
                }
                (reply, detail, resp)
            }
        };
        let (evidence, outcome) = verdict::smb1_evidence(reply);
        if self.fresh {
            match reply {
                Smb1NegotiateReply::Error(st) => {
                    self.step_status(Exchange::Smb1Negotiate, t, outcome, st, detail)
                }
                _ => self.step(Exchange::Smb1Negotiate, t, outcome, detail),
            }
            let Some(resp) = resp else {
                let reason = match reply {
                    Smb1NegotiateReply::Failed(f) => f.reason(Reason::TimeoutAfterNegotiate),
                    _ => Reason::Smb1Unknown,
                };
                self.stopped(reason, None);
                return None;
            };
            return Some(Smb1Session::new(conn, &resp));
        }
        self.r.smb1.evidence = evidence;
        // Provisional until the SMB2 outcome is known (a reset means "off" only on a host that
        // speaks SMB2); "on" needs nothing more.
        self.r.smb1.enabled = verdict::smb1_enabled(evidence, false);
        match reply {
            Smb1NegotiateReply::Error(st) => {
                self.step_status(Exchange::Smb1Negotiate, t, outcome, st, detail)
            }
            _ => self.step(Exchange::Smb1Negotiate, t, outcome, detail),
        }
        let resp = resp?;
        self.r.smb1.dialect = resp.dialect_name(SMB1_DIALECTS).map(str::to_owned);
        self.r.smb1.signing = resp.signing().map(signing);
        match &resp {
            Smb1NegotiateResponse::NtLm(n) => {
                let s = &mut self.r.smb1;
                s.security_mode = Some(n.security_mode);
                s.capabilities = Some(format!("0x{:08x}", n.capabilities));
                s.extended_security = Some(n.is_extended_security());
                s.max_mpx = Some(n.max_mpx_count);
                s.max_buffer = Some(n.max_buffer_size);
                s.server_time = time_string(n.system_time_unix());
                s.server_timezone_min = Some(n.server_time_zone);
                s.domain = n.domain_name().map(str::to_owned);
                s.server_name = n.server_name().map(str::to_owned);
                s.server_guid = n.server_guid();
            }
            Smb1NegotiateResponse::Lanman(l) => {
                self.r.smb1.security_mode = u8::try_from(l.security_mode).ok();
                self.r.smb1.max_mpx = Some(l.max_mpx_count);
                self.r.smb1.max_buffer = Some(u32::from(l.max_buffer_size));
                self.r.smb1.domain = l.primary_domain.clone();
            }
            _ => {}
        }
        if let Some(name) = &self.r.smb1.server_name {
            self.r.os.netbios_name.get_or_insert_with(|| name.clone());
        }
        Some(Smb1Session::new(conn, &resp))
    }

    /// Steps 3-6 on the SMB1 connection: log on, IPC$, the MS17-010 peek, the DoublePulsar ping.
    pub(super) async fn smb1_session(&mut self, mut s: Smb1Session) {
        if !self.logon_ipc(&mut s).await {
            return;
        }
        let checks = &self.opts.checks;
        let (ms17, dp) = (checks.contains("ms17-010"), checks.contains("doublepulsar"));
        let pipes = checks.contains(crate::checks::anonymous::NAME);
        // The MS17-010 test. Not selected: this session's own tree connect is what shows it
        // accepted, for the ping.
        let peeked = if ms17 {
            self.peek(&mut s).await
        } else {
            Some(PingSession::TreeConnected)
        };
        // The DoublePulsar ping: harmless, and worth running wherever IPC$ was reached.
        match peeked {
            Some(session) if dp => self.ping(&mut s, session).await,
            Some(_) => {}
            None if dp => {
                // The implant answers whatever became of the peek: ask it on a fresh
                // connection with its own session, so an infected host is found even when its
                // peek reply is lost.
                drop(s);
                self.r.doublepulsar.verdict = DpVerdict::Unknown;
                self.r.doublepulsar.reason = self.r.ms17_010.reason;
                self.fresh_ping().await;
                return;
            }
            None => return,
        }
        // The anonymous check's pipe opens, last: the verdicts above are decided already.
        if pipes {
            crate::checks::anonymous::smb1::open_pipes(&mut s, self.r).await;
        }
    }

    /// The DoublePulsar ping on its own connection: negotiate, session setup, IPC$, ping. Failures
    /// on the way make the DoublePulsar verdict `unknown` with their reason, and leave the
    /// MS17-010 verdict as the first connection left it.
    async fn fresh_ping(&mut self) {
        self.fresh = true;
        if let Some(mut s) = self.smb1_negotiate().await {
            if self.logon_ipc(&mut s).await {
                self.ping(&mut s, PingSession::TreeConnected).await;
            }
        }
        self.fresh = false;
    }

    /// SESSION_SETUP_ANDX then TREE_CONNECT_ANDX to IPC$. Returns true when IPC$ is connected.
    async fn logon_ipc(&mut self, s: &mut Smb1Session) -> bool {
        self.r.os.samba |= s.cap_unix;
        // Session setup: each login of the chain in turn until one is accepted; a server too
        // busy for another session is asked again after a pause.
        let mut accepted = false;
        let chain = verdict::login_chain(self.opts.credentials.is_some());
        let mut first_refusal = None;
        'chain: for (k, &login) in chain.iter().enumerate() {
            let mut backoff = SERVER_BUSY_BACKOFF;
            for retry in 0..=SERVER_BUSY_RETRIES {
                let ok = if s.extended_security {
                    Some(self.session_setup_extended(s, login).await)
                } else {
                    self.session_setup_plain(s, login).await
                };
                self.refresh_os(s.cap_unix);
                let Some(ok) = ok else {
                    continue 'chain;
                };
                if ok {
                    if self.stop_reason().is_some() {
                        // An earlier login was refused; this one is the session in use.
                        self.clear_stop();
                    }
                    accepted = true;
                    break 'chain;
                }
                let reason = self.stop_reason();
                if reason == Some(Reason::ServerBusy) && retry < SERVER_BUSY_RETRIES {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                } else if reason.is_some_and(verdict::try_next_login) && k + 1 < chain.len() {
                    // Refused: the next login of the chain. The first refusal stays recorded
                    // (the given account's, or the anonymous one's) in case none is accepted.
                    s.ids.uid = 0;
                    first_refusal.get_or_insert_with(|| {
                        (self.r.ms17_010.clone(), self.r.doublepulsar.clone())
                    });
                    continue 'chain;
                } else {
                    if reason.is_some_and(verdict::try_next_login) {
                        if let Some((m, d)) = first_refusal {
                            (self.r.ms17_010, self.r.doublepulsar) = (m, d);
                        }
                    }
                    return false;
                }
                self.clear_stop();
                s.ids.uid = 0;
            }
            return false;
        }
        if !accepted {
            return false;
        }
        // Tree connect to IPC$.
        let ids = s.next_mid();
        let path = format!("\\\\{}\\IPC$", self.addr.ip());
        let t = Instant::now();
        let req = build_smb1_tree_connect_andx(ids, &path);
        let msg = match s.exchange(&req).await {
            Sent::Reply(m) => m,
            Sent::Failed(e) => {
                self.ms17_failed(&e, Reason::TimeoutAfterTreeConnect);
                self.step_err(StepName::Exchange(Exchange::TreeConnect), t, &e);
                return false;
            }
        };
        match parse_smb1_tree_connect_response(&msg) {
            Ok((h, _))
                if h.status().is_success() && h.command == Smb1Command::TREE_CONNECT_ANDX =>
            {
                s.ids.tid = h.tid;
                self.step(
                    Exchange::TreeConnect,
                    t,
                    StepOutcome::Ok,
                    Some(format!("IPC$ TID 0x{:04x}", h.tid)),
                );
                true
            }
            Ok((h, _)) => {
                let st = h.status();
                self.ms17_status(st, Reason::TreeConnectRefused);
                self.step_status(
                    Exchange::TreeConnect,
                    t,
                    verdict::status_outcome(st),
                    st,
                    Some(path),
                );
                false
            }
            Err(e) => {
                self.ms17_protocol(t, Exchange::TreeConnect, e.to_string());
                false
            }
        }
    }

    /// SESSION_SETUP_ANDX without extended security ([MS-CIFS] 2.2.4.53) for `login`; given
    /// credentials answer the negotiate's challenge with LMv2 and NTLMv2 ([MS-CIFS] 3.2.4.2.4,
    /// [MS-NLMP] 3.3.2). Returns `None` when the login cannot be tried here (no challenge).
    async fn session_setup_plain(&mut self, s: &mut Smb1Session, login: Login) -> Option<bool> {
        let responses;
        let (logon, detail) = match login {
            Login::Anonymous => (
                PlainLogon {
                    account: "",
                    domain: "",
                    oem_password: &[0],
                    unicode_password: &[],
                },
                "anonymous",
            ),
            Login::Guest => (
                PlainLogon {
                    account: "guest",
                    domain: "",
                    oem_password: &[],
                    unicode_password: &[],
                },
                "guest",
            ),
            Login::Given => {
                let c = self.opts.credentials.as_ref()?;
                let challenge = s.challenge?;
                let key = ntowfv2(&c.user, &c.domain, &c.password);
                responses = ntlmv2_responses(
                    &key,
                    &challenge,
                    &nonce8(),
                    smb1scan_protocol::message::filetime_now(),
                    &[],
                );
                let (nt, lm) = (&responses.0, &responses.1);
                (
                    PlainLogon {
                        account: &c.user,
                        domain: &c.domain,
                        oem_password: lm,
                        unicode_password: nt,
                    },
                    "NTLMv2 with the given credentials (no extended security)",
                )
            }
        };
        let ids = s.next_mid();
        let t = Instant::now();
        let req = build_smb1_session_setup_plain(ids, &logon, "Unix", "smb1scan");
        let msg = match s.exchange(&req).await {
            Sent::Reply(m) => m,
            Sent::Failed(e) => {
                self.ms17_failed(&e, Reason::TimeoutAfterSessionSetup);
                self.step_err(StepName::Exchange(Exchange::SessionSetup), t, &e);
                return Some(false);
            }
        };
        Some(self.finish_session_setup(s, &msg, t, Some(detail.to_owned())))
    }

    /// Extended-security SESSION_SETUP_ANDX: SPNEGO/NTLMSSP NEGOTIATE, CHALLENGE, AUTHENTICATE.
    async fn session_setup_extended(&mut self, s: &mut Smb1Session, login: Login) -> bool {
        let ids = s.next_mid();
        let t = Instant::now();
        let blob = build_spnego_neg_token_init(&build_ntlmssp_negotiate());
        let req = build_smb1_session_setup_extended(ids, &blob);
        let msg = match s.exchange(&req).await {
            Sent::Reply(m) => m,
            Sent::Failed(e) => {
                self.ms17_failed(&e, Reason::TimeoutAfterSessionSetup);
                self.step_err(StepName::Exchange(Exchange::SessionSetupNegotiate), t, &e);
                return false;
            }
        };
        let (h, resp) = match parse_smb1_session_setup_response(&msg) {
            Ok(x) => x,
            Err(e) => {
                self.ms17_protocol(t, Exchange::SessionSetupNegotiate, e.to_string());
                return false;
            }
        };
        let st = h.status();
        if st != SmbError::Nt(NtStatus::MORE_PROCESSING_REQUIRED) {
            if st.is_success() {
                // Some servers log a guest straight in; accept the session.
                return self.finish_session_setup(s, &msg, t, None);
            }
            self.ms17_status(st, Reason::SessionSetupRefused);
            // The login it was for, first: the anonymous check reads the chain from the steps.
            self.step_status(
                Exchange::SessionSetupNegotiate,
                t,
                verdict::status_outcome(st),
                st,
                Some(login.word().to_owned()),
            );
            return false;
        }
        s.ids.uid = h.uid;
        let challenge =
            spnego_find_ntlmssp(resp.security_blob).and_then(|m| parse_ntlmssp_challenge(m).ok());
        let Some(challenge) = challenge else {
            self.ms17_protocol(
                t,
                Exchange::SessionSetupNegotiate,
                "no NTLMSSP CHALLENGE in the security blob".into(),
            );
            return false;
        };
        self.apply_challenge(&challenge);
        self.step_status(
            Exchange::SessionSetupNegotiate,
            t,
            StepOutcome::Ok,
            st,
            Some("NTLMSSP CHALLENGE".into()),
        );
        let creds = match login {
            Login::Given => self
                .opts
                .credentials
                .as_ref()
                .map(|c| (c.user.as_str(), c.domain.as_str(), c.password.as_str())),
            Login::Guest => Some(("guest", "", "")),
            Login::Anonymous => None,
        };
        let (auth, session_key) = build_ntlmssp_authenticate_keyed(
            &challenge,
            creds,
            nonce8(),
            smb1scan_protocol::message::filetime_now(),
        );
        let ids = s.next_mid();
        let t = Instant::now();
        let req = build_smb1_session_setup_extended(ids, &build_spnego_neg_token_resp(&auth));
        let msg = match s.exchange(&req).await {
            Sent::Reply(m) => m,
            Sent::Failed(e) => {
                self.ms17_failed(&e, Reason::TimeoutAfterSessionSetup);
                self.step_err(StepName::Exchange(Exchange::SessionSetup), t, &e);
                return false;
            }
        };
        let detail = Some(login.word().to_owned());
        let ok = self.finish_session_setup(s, &msg, t, detail);
        // Only the given account's session is signed: guest and anonymous sessions never are.
        if ok && s.signing_required && login == Login::Given {
            if let Some(key) = session_key {
                // The setup request/response took sequence numbers 0 and 1.
                s.signing = Some((key, 2));
                if let Some(step) = self.r.steps.last_mut() {
                    step.detail = step.detail.take().map(|d| format!("{d}; requests signed"));
                }
            }
        }
        ok
    }

    fn finish_session_setup(
        &mut self,
        s: &mut Smb1Session,
        msg: &[u8],
        t: Instant,
        detail: Option<String>,
    ) -> bool {
        let (h, resp) = match parse_smb1_session_setup_response(msg) {
            Ok(x) => x,
            Err(e) => {
                self.ms17_protocol(t, Exchange::SessionSetup, e.to_string());
                return false;
            }
        };
        let st = h.status();
        // The identity strings come even with some refusals; keep whatever arrived.
        let os = &mut self.r.os;
        if resp.native_os.as_deref().is_some_and(|x| !x.is_empty()) {
            os.native_os = resp.native_os.clone();
        }
        if resp.native_lanman.as_deref().is_some_and(|x| !x.is_empty()) {
            os.native_lanman = resp.native_lanman.clone();
        }
        if resp
            .primary_domain
            .as_deref()
            .is_some_and(|x| !x.is_empty())
        {
            os.domain = resp.primary_domain.clone();
        }
        if !st.is_success() || h.command != Smb1Command::SESSION_SETUP_ANDX {
            self.ms17_status(st, Reason::SessionSetupRefused);
            self.step_status(
                Exchange::SessionSetup,
                t,
                verdict::status_outcome(st),
                st,
                detail,
            );
            return false;
        }
        s.ids.uid = h.uid;
        let guest = if resp.is_guest() { " (guest)" } else { "" };
        let d = format!("{}{guest}", detail.unwrap_or_else(|| "anonymous".into()));
        self.step_status(Exchange::SessionSetup, t, StepOutcome::Ok, st, Some(d));
        true
    }

    /// The MS17-010 test ([`crate::checks::ms17_010::exchange`]): returns the state of the
    /// session for the DoublePulsar ping, or `None` when the peek got no usable answer.
    async fn peek(&mut self, s: &mut Smb1Session) -> Option<PingSession> {
        let t = Instant::now();
        let req = ms17_010::exchange::request(s.next_mid());
        let msg = match s.exchange(&req).await {
            Sent::Reply(m) => m,
            Sent::Failed(e) => {
                self.ms17_failed(&e, Reason::TimeoutAfterPeek);
                self.step_err(StepName::Exchange(Exchange::PeekNamedPipe), t, &e);
                return None;
            }
        };
        match ms17_010::exchange::read_reply(&msg, self.r, super::elapsed_ms(t)) {
            Ok(session) => Some(session),
            Err(e) => {
                self.ms17_protocol(t, Exchange::PeekNamedPipe, e);
                None
            }
        }
    }

    /// The DoublePulsar ping ([`crate::checks::doublepulsar::exchange`]) on a session that
    /// `session` shows accepted (or not).
    async fn ping(&mut self, s: &mut Smb1Session, session: PingSession) {
        let t = Instant::now();
        let req = doublepulsar::exchange::request(s.ids);
        let msg = match s.exchange(&req).await {
            Sent::Reply(m) => m,
            Sent::Failed(e) => {
                let dp = &mut self.r.doublepulsar;
                dp.verdict = DpVerdict::Unknown;
                dp.reason = Some(e.failure().reason(Reason::TimeoutAfterPing));
                self.step_err(StepName::Exchange(Exchange::DoublepulsarPing), t, &e);
                return;
            }
        };
        doublepulsar::exchange::read_reply(&msg, session, self.r, super::elapsed_ms(t));
    }

    /// The test of this connection stopped before its deciding step, for `reason`: on the first
    /// connection that is the MS17-010 test (and the ping is not tried); on the fresh
    /// connection, the DoublePulsar ping.
    fn stopped(&mut self, reason: Reason, st: Option<SmbError>) {
        if self.fresh {
            self.r.doublepulsar.verdict = DpVerdict::Unknown;
            self.r.doublepulsar.reason = Some(reason);
            return;
        }
        let m = &mut self.r.ms17_010;
        m.verdict = Ms17Verdict::Unknown;
        m.reason = Some(reason);
        if let Some(st) = st {
            m.status = Some(st.hex());
            m.status_name = super::status_name(st);
        }
        self.r.doublepulsar.verdict = DpVerdict::NotTested;
    }

    /// The reason the last [`Self::stopped`] recorded for this connection's test.
    fn stop_reason(&self) -> Option<Reason> {
        if self.fresh {
            self.r.doublepulsar.reason
        } else {
            self.r.ms17_010.reason
        }
    }

    /// Forgets a stop before the step is tried again.
    fn clear_stop(&mut self) {
        if self.fresh {
            self.r.doublepulsar.reason = None;
            return;
        }
        self.r.ms17_010 = Default::default();
        self.r.doublepulsar.verdict = DpVerdict::NotTested;
    }

    /// A step failed at the connection level.
    fn ms17_failed(&mut self, e: &NetError, timeout_reason: Reason) {
        self.stopped(e.failure().reason(timeout_reason), None);
    }

    /// A step was refused with `st`.
    fn ms17_status(&mut self, st: SmbError, refused: Reason) {
        self.stopped(verdict::refusal_reason(st, refused), Some(st));
    }

    /// A step's reply did not parse.
    fn ms17_protocol(&mut self, t: Instant, step: Exchange, detail: String) {
        self.stopped(Reason::ProtocolError, None);
        self.step(step, t, StepOutcome::ProtocolError, Some(detail));
    }

    /// Copies the NTLMSSP CHALLENGE's identity fields into the record.
    pub(super) fn apply_challenge(&mut self, c: &NtlmsspChallenge) {
        let os = &mut self.r.os;
        let ti = &c.target_info;
        if os.netbios_name.is_none() {
            os.netbios_name = ti.nb_computer_name.clone();
        }
        os.netbios_domain = os
            .netbios_domain
            .take()
            .or_else(|| ti.nb_domain_name.clone());
        os.dns_name = os.dns_name.take().or_else(|| ti.dns_computer_name.clone());
        os.dns_domain = os.dns_domain.take().or_else(|| ti.dns_domain_name.clone());
        os.dns_tree = os.dns_tree.take().or_else(|| ti.dns_tree_name.clone());
        if let Some(v) = &c.version {
            if os.ntlm_version.is_none() {
                os.ntlm_version = Some(format!("{}.{}.{}", v.major, v.minor, v.build));
            }
        }
        if os.domain.is_none() {
            os.domain = ti.nb_domain_name.clone();
        }
    }

    /// Recomputes the normalised product from everything known so far.
    pub(super) fn refresh_os(&mut self, cap_unix: bool) {
        let os = &mut self.r.os;
        let ver = os.ntlm_version.as_deref().and_then(parse_version);
        let (product, build, samba) = super::os::normalise(
            os.native_os.as_deref(),
            os.native_lanman.as_deref(),
            ver,
            cap_unix || os.samba,
        );
        os.product = product;
        os.build = build;
        os.samba = samba;
    }
}

impl crate::checks::anonymous::smb1::Smb1Wire for Smb1Session {
    fn next_ids(&mut self) -> Smb1Ids {
        Smb1Session::next_mid(self)
    }
    async fn send(
        &mut self,
        msg: &[u8],
    ) -> Result<Vec<u8>, crate::checks::anonymous::smb1::Unanswered> {
        match self.exchange(msg).await {
            Sent::Reply(m) => Ok(m),
            Sent::Failed(e) => Err(crate::checks::anonymous::smb1::Unanswered {
                outcome: e.failure().outcome(),
                detail: e.to_string(),
            }),
        }
    }
    fn max_outstanding(&self) -> usize {
        // A signed session signs each request with the next sequence number and expects the
        // replies in that order: no pipelining there (anonymous sessions are never signed).
        if self.signing.is_some() {
            1
        } else {
            usize::from(self.max_mpx)
        }
    }
}

impl crate::checks::anonymous::batch::Batch for Smb1Session {
    async fn send_all(
        &mut self,
        msgs: &[&[u8]],
    ) -> Result<(), crate::checks::anonymous::smb1::Unanswered> {
        crate::checks::anonymous::batch::Batch::send_all(&mut self.conn, msgs).await
    }
    async fn recv(&mut self) -> Result<Vec<u8>, crate::checks::anonymous::smb1::Unanswered> {
        crate::checks::anonymous::batch::Batch::recv(&mut self.conn).await
    }
    fn expect_at_least(&mut self, bytes: usize) {
        self.conn.expect_at_least(bytes);
    }
    async fn recv_buffered(&mut self) -> Option<Vec<u8>> {
        self.conn.recv_buffered().await
    }
}

/// Reads an answer to the SMB1-only NEGOTIATE: what it shows, the step detail, and the response
/// when a dialect was chosen.
fn read_negotiate(
    msg: &[u8],
) -> (
    Smb1NegotiateReply,
    Option<String>,
    Option<Smb1NegotiateResponse<'_>>,
) {
    match parse_smb_message(msg) {
        Ok(SmbMessage::Smb2(h, _)) => {
            let d = format!("answered in SMB2 (status {})", h.status);
            return (Smb1NegotiateReply::Smb2, Some(d), None);
        }
        Ok(SmbMessage::Smb1(..)) => {}
        Err(e) => return (Smb1NegotiateReply::Unparsable, Some(e.to_string()), None),
    }
    let (h, resp) = match parse_smb1_negotiate_response(msg) {
        Ok(x) => x,
        Err(e) => return (Smb1NegotiateReply::Unparsable, Some(e.to_string()), None),
    };
    if h.command != Smb1Command::NEGOTIATE {
        let d = format!("reply command 0x{:02X}", h.command.0);
        return (Smb1NegotiateReply::Unparsable, Some(d), None);
    }
    match &resp {
        Smb1NegotiateResponse::Error { status } => (Smb1NegotiateReply::Error(*status), None, None),
        Smb1NegotiateResponse::NoDialect => (
            Smb1NegotiateReply::NoDialect,
            Some("DialectIndex 0xFFFF".into()),
            None,
        ),
        _ if !h.status().is_success() => (Smb1NegotiateReply::Error(h.status()), None, None),
        _ => {
            let d = resp
                .dialect_name(SMB1_DIALECTS)
                .map(|d| format!("dialect {d}"));
            (Smb1NegotiateReply::Dialect, d, Some(resp))
        }
    }
}

fn parse_version(s: &str) -> Option<(u8, u8, u16)> {
    let mut it = s.split('.');
    Some((
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    ))
}

/// A reply must carry its request's MID ([MS-CIFS] 3.2.5.1); a peer answering another MID is
/// broken or hostile. The DoublePulsar ping is the exception: the implant answers MID + 16, and
/// that is what the ping looks for. SMB2 replies (no SMB1 MID) are left to the parsers.
fn check_mid(request: &[u8], reply: &[u8]) -> Result<(), NetError> {
    let mid = |m: &[u8]| match (m.get(..4), m.get(30..32)) {
        (Some(magic), Some(&[lo, hi])) if magic == b"\xffSMB" => Some(u16::from_le_bytes([lo, hi])),
        _ => None,
    };
    match (mid(request), mid(reply)) {
        (Some(DOUBLEPULSAR_PING_MID), _) => Ok(()),
        (Some(want), Some(got)) if want != got => Err(NetError::Protocol(format!(
            "reply MID {got} does not match request MID {want}"
        ))),
        _ => Ok(()),
    }
}

/// Eight unpredictable bytes (NTLMv2 client challenge) without a new dependency: std's
/// `RandomState` is seeded from the OS for each instance.
pub(super) fn nonce8() -> [u8; 8] {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish().to_le_bytes()
}
