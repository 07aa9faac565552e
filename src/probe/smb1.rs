//! SMB1 steps: the SMB1-only NEGOTIATE, then SESSION_SETUP_ANDX, TREE_CONNECT_ANDX to IPC$, the
//! MS17-010 PeekNamedPipe test and the DoublePulsar ping, all on one connection.

use std::time::Instant;

use smb1scan_protocol::message::{parse_smb_message, SmbMessage};
use smb1scan_protocol::ntlmssp::{
    build_ntlmssp_authenticate_keyed, build_ntlmssp_negotiate, parse_ntlmssp_challenge,
    NtlmsspChallenge,
};
use smb1scan_protocol::smb1::header::{flags2, CLIENT_FLAGS2};
use smb1scan_protocol::smb1::negotiate::{
    build_smb1_negotiate_request, build_smb1_negotiate_request_with_flags2, capabilities,
    parse_smb1_negotiate_response, Smb1NegotiateResponse, SMB1_DIALECTS,
};
use smb1scan_protocol::smb1::session_setup::{
    build_smb1_session_setup_anonymous, build_smb1_session_setup_extended,
    parse_smb1_session_setup_response,
};
use smb1scan_protocol::smb1::signing::sign_smb1_message;
use smb1scan_protocol::smb1::trans::{build_smb1_peek_named_pipe_fid0, parse_smb1_trans_response};
use smb1scan_protocol::smb1::trans2::{
    build_smb1_doublepulsar_ping, interpret_doublepulsar_reply, DoublePulsarReply,
    DOUBLEPULSAR_PING_MID,
};
use smb1scan_protocol::smb1::tree_connect::{
    build_smb1_tree_connect_andx, parse_smb1_tree_connect_response,
};
use smb1scan_protocol::smb1::{parse_smb1_header, Smb1Command, Smb1Ids};
use smb1scan_protocol::spnego::{
    build_spnego_neg_token_init, build_spnego_neg_token_resp, spnego_find_ntlmssp,
};
use smb1scan_protocol::{NtStatus, SmbError};

use super::conn::{Conn, NetError};
use super::{reason_for, status_for, Probe};
use crate::model::{DpVerdict, HostStatus, Ms17Verdict, Reason, Smb1Evidence};

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
    /// Once a credentialed session is up on such a server: the MAC key and the next request's
    /// sequence number ([MS-CIFS] 3.1.4.1; each request/response pair takes two numbers).
    signing: Option<([u8; 16], u32)>,
}

/// Outcome of one SMB1 request/response step.
enum Exchange {
    Reply(Vec<u8>),
    Failed(NetError),
}

impl Smb1Session {
    fn next_mid(&mut self) -> Smb1Ids {
        self.ids.mid = self.ids.mid.wrapping_add(1);
        // MID 65 is the DoublePulsar ping's; keep ordinary steps off it so replies are unambiguous.
        if self.ids.mid == DOUBLEPULSAR_PING_MID {
            self.ids.mid = self.ids.mid.wrapping_add(1);
        }
        self.ids
    }

    async fn exchange(&mut self, msg: &[u8]) -> Exchange {
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
                Ok(()) => Exchange::Reply(m),
                Err(e) => Exchange::Failed(e),
            },
            Err(e) => Exchange::Failed(e),
        }
    }
}

fn signing(s: smb1scan_protocol::message::Signing) -> crate::model::Signing {
    use smb1scan_protocol::message::Signing as P;
    match s {
        P::Disabled => crate::model::Signing::Disabled,
        P::Enabled => crate::model::Signing::Enabled,
        P::Required => crate::model::Signing::Required,
    }
}

pub(super) fn model_signing(s: smb1scan_protocol::message::Signing) -> crate::model::Signing {
    signing(s)
}

fn unix_to_rfc3339(secs: Option<i64>) -> Option<String> {
    secs.and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

pub(super) fn time_string(secs: Option<i64>) -> Option<String> {
    unix_to_rfc3339(secs)
}

impl Probe<'_> {
    /// Step 1: connect and send an NEGOTIATE offering SMB1 dialects only.
    pub(super) async fn smb1_negotiate(&mut self) -> Option<Smb1Session> {
        let t = Instant::now();
        let mut conn = match self.connect("").await {
            Ok(c) => c,
            Err(e) => {
                self.r.status = status_for(&e);
                self.r.error = Some(e.to_string());
                return None;
            }
        };
        self.step("connect", t, "ok", None);
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
        let msg = match conn
            .exchange(&req)
            .await
            .and_then(|m| check_mid(&req, &m).map(|()| m))
        {
            Ok(m) => m,
            Err(e) => {
                let (enabled, evidence) = match e {
                    NetError::Reset => (Some(false), Smb1Evidence::ResetAfterNegotiate),
                    NetError::Closed => (Some(false), Smb1Evidence::ClosedAfterNegotiate),
                    NetError::Timeout(_) => (None, Smb1Evidence::Timeout),
                    _ => (None, Smb1Evidence::ProtocolError),
                };
                self.r.smb1.enabled = enabled;
                self.r.smb1.evidence = evidence;
                // Provisional: an SMB2 answer later makes the host `open`.
                self.r.status = status_for(&e);
                self.step_err("smb1-negotiate", t, &e);
                return None;
            }
        };
        self.r.status = HostStatus::Open;
        match parse_smb_message(&msg) {
            Ok(SmbMessage::Smb2(h, _)) => {
                self.r.smb1.enabled = Some(false);
                self.r.smb1.evidence = Smb1Evidence::Smb2Reply;
                self.step(
                    "smb1-negotiate",
                    t,
                    "smb2-reply",
                    Some(format!("answered in SMB2 (status {})", h.status)),
                );
                return None;
            }
            Ok(SmbMessage::Smb1(..)) => {}
            Err(e) => {
                self.smb1_protocol_error(t, e.to_string());
                return None;
            }
        }
        let (h, resp) = match parse_smb1_negotiate_response(&msg) {
            Ok(x) => x,
            Err(e) => {
                self.smb1_protocol_error(t, e.to_string());
                return None;
            }
        };
        if h.command != Smb1Command::NEGOTIATE {
            self.smb1_protocol_error(t, format!("reply command 0x{:02X}", h.command.0));
            return None;
        }
        let status = h.status();
        let dialect = resp.dialect_name(SMB1_DIALECTS).map(str::to_owned);
        match &resp {
            Smb1NegotiateResponse::Error { status } => {
                self.r.smb1.enabled = Some(false);
                self.r.smb1.evidence = Smb1Evidence::ErrorStatus;
                self.step_status("smb1-negotiate", t, "status", *status, None);
                return None;
            }
            Smb1NegotiateResponse::NoDialect => {
                self.r.smb1.enabled = Some(false);
                self.r.smb1.evidence = Smb1Evidence::DialectIndexNone;
                self.step(
                    "smb1-negotiate",
                    t,
                    "no-dialect",
                    Some("DialectIndex 0xFFFF".into()),
                );
                return None;
            }
            _ if !status.is_success() => {
                self.r.smb1.enabled = Some(false);
                self.r.smb1.evidence = Smb1Evidence::ErrorStatus;
                self.step_status("smb1-negotiate", t, "status", status, None);
                return None;
            }
            _ => {}
        }
        self.r.smb1.enabled = Some(true);
        self.r.smb1.evidence = Smb1Evidence::DialectSelected;
        self.r.smb1.dialect = dialect.clone();
        self.r.smb1.signing = resp.signing().map(signing);
        let mut extended_security = false;
        let mut cap_unix = false;
        match &resp {
            Smb1NegotiateResponse::NtLm(n) => {
                extended_security = n.is_extended_security();
                cap_unix = n.has_capability(capabilities::UNIX);
                let s = &mut self.r.smb1;
                s.security_mode = Some(n.security_mode);
                s.capabilities = Some(format!("0x{:08x}", n.capabilities));
                s.extended_security = Some(extended_security);
                s.max_mpx = Some(n.max_mpx_count);
                s.max_buffer = Some(n.max_buffer_size);
                s.server_time = unix_to_rfc3339(n.system_time_unix());
                s.server_timezone_min = Some(n.server_time_zone);
                s.domain = n.domain_name().map(str::to_owned);
                s.server_name = n.server_name().map(str::to_owned);
                s.server_guid = n.server_guid();
                if let Some(blob) = n.security_blob() {
                    // Some servers put an NTLMSSP-free SPNEGO hint here; nothing to learn yet.
                    let _ = blob;
                }
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
        self.step(
            "smb1-negotiate",
            t,
            "ok",
            dialect.map(|d| format!("dialect {d}")),
        );
        Some(Smb1Session {
            conn,
            extended_security,
            cap_unix,
            ids: Smb1Ids {
                pid: PID,
                mid: 1,
                ..Smb1Ids::default()
            },
            signing_required: self.r.smb1.signing == Some(crate::model::Signing::Required),
            signing: None,
        })
    }

    fn smb1_protocol_error(&mut self, t: Instant, detail: String) {
        self.r.smb1.enabled = None;
        self.r.smb1.evidence = Smb1Evidence::ProtocolError;
        self.r.status = HostStatus::ProtocolError;
        self.step("smb1-negotiate", t, "protocol-error", Some(detail));
    }

    /// Steps 3-6 on the SMB1 connection.
    pub(super) async fn smb1_session(&mut self, mut s: Smb1Session) {
        self.r.os.samba |= s.cap_unix;
        // Session setup.
        let ok = if s.extended_security {
            self.session_setup_extended(&mut s).await
        } else {
            self.session_setup_plain(&mut s).await
        };
        self.refresh_os(s.cap_unix);
        if !ok {
            return;
        }
        // Tree connect to IPC$.
        let ids = s.next_mid();
        let path = format!("\\\\{}\\IPC$", self.addr.ip());
        let t = Instant::now();
        let req = build_smb1_tree_connect_andx(ids, &path);
        let msg = match s.exchange(&req).await {
            Exchange::Reply(m) => m,
            Exchange::Failed(e) => {
                self.ms17_failed(&e, Reason::TimeoutAfterTreeConnect);
                self.step_err("tree-connect", t, &e);
                return;
            }
        };
        match parse_smb1_tree_connect_response(&msg) {
            Ok((h, _))
                if h.status().is_success() && h.command == Smb1Command::TREE_CONNECT_ANDX =>
            {
                s.ids.tid = h.tid;
                self.step(
                    "tree-connect",
                    t,
                    "ok",
                    Some(format!("IPC$ TID 0x{:04x}", h.tid)),
                );
            }
            Ok((h, _)) => {
                let st = h.status();
                self.ms17_status(st, Reason::TreeConnectRefused);
                self.step_status("tree-connect", t, outcome_for(st), st, Some(path));
                return;
            }
            Err(e) => {
                self.ms17_protocol(t, "tree-connect", e.to_string());
                return;
            }
        }
        // The MS17-010 test.
        let peek_answered = self.peek(&mut s).await;
        // The DoublePulsar ping: harmless, and worth running wherever IPC$ was reached.
        if peek_answered {
            self.ping(&mut s).await;
        } else {
            self.r.doublepulsar.verdict = DpVerdict::Unknown;
            self.r.doublepulsar.reason = self.r.ms17_010.reason;
        }
    }

    /// Non-extended anonymous SESSION_SETUP_ANDX ([MS-CIFS] 2.2.4.53).
    async fn session_setup_plain(&mut self, s: &mut Smb1Session) -> bool {
        let ids = s.next_mid();
        let t = Instant::now();
        let req = build_smb1_session_setup_anonymous(ids, "Unix", "smb1scan");
        let detail = self.opts.credentials.as_ref().map(|_| {
            "server lacks extended security: credentials not used, anonymous tried".to_owned()
        });
        let msg = match s.exchange(&req).await {
            Exchange::Reply(m) => m,
            Exchange::Failed(e) => {
                self.ms17_failed(&e, Reason::TimeoutAfterSessionSetup);
                self.step_err("session-setup", t, &e);
                return false;
            }
        };
        self.finish_session_setup(s, &msg, t, detail)
    }

    /// Extended-security SESSION_SETUP_ANDX: SPNEGO/NTLMSSP NEGOTIATE, CHALLENGE, AUTHENTICATE.
    async fn session_setup_extended(&mut self, s: &mut Smb1Session) -> bool {
        let ids = s.next_mid();
        let t = Instant::now();
        let blob = build_spnego_neg_token_init(&build_ntlmssp_negotiate());
        let req = build_smb1_session_setup_extended(ids, &blob);
        let msg = match s.exchange(&req).await {
            Exchange::Reply(m) => m,
            Exchange::Failed(e) => {
                self.ms17_failed(&e, Reason::TimeoutAfterSessionSetup);
                self.step_err("session-setup-negotiate", t, &e);
                return false;
            }
        };
        let (h, resp) = match parse_smb1_session_setup_response(&msg) {
            Ok(x) => x,
            Err(e) => {
                self.ms17_protocol(t, "session-setup-negotiate", e.to_string());
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
            self.step_status("session-setup-negotiate", t, outcome_for(st), st, None);
            return false;
        }
        s.ids.uid = h.uid;
        let challenge =
            spnego_find_ntlmssp(resp.security_blob).and_then(|m| parse_ntlmssp_challenge(m).ok());
        let Some(challenge) = challenge else {
            self.ms17_protocol(
                t,
                "session-setup-negotiate",
                "no NTLMSSP CHALLENGE in the security blob".into(),
            );
            return false;
        };
        self.apply_challenge(&challenge);
        self.step_status(
            "session-setup-negotiate",
            t,
            "ok",
            st,
            Some("NTLMSSP CHALLENGE".into()),
        );
        let creds = self
            .opts
            .credentials
            .as_ref()
            .map(|c| (c.user.as_str(), c.domain.as_str(), c.password.as_str()));
        let (auth, session_key) =
            build_ntlmssp_authenticate_keyed(&challenge, creds, nonce8(), filetime_now());
        let ids = s.next_mid();
        let t = Instant::now();
        let req = build_smb1_session_setup_extended(ids, &build_spnego_neg_token_resp(&auth));
        let msg = match s.exchange(&req).await {
            Exchange::Reply(m) => m,
            Exchange::Failed(e) => {
                self.ms17_failed(&e, Reason::TimeoutAfterSessionSetup);
                self.step_err("session-setup", t, &e);
                return false;
            }
        };
        let detail = Some(
            if creds.is_some() {
                "NTLMv2 with the given credentials"
            } else {
                "anonymous"
            }
            .to_owned(),
        );
        let ok = self.finish_session_setup(s, &msg, t, detail);
        if ok && s.signing_required {
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
                self.ms17_protocol(t, "session-setup", e.to_string());
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
            self.step_status("session-setup", t, outcome_for(st), st, detail);
            return false;
        }
        s.ids.uid = h.uid;
        let guest = if resp.is_guest() { " (guest)" } else { "" };
        let d = format!("{}{guest}", detail.unwrap_or_else(|| "anonymous".into()));
        self.step_status("session-setup", t, "ok", st, Some(d));
        true
    }

    /// The MS17-010 test: TRANS PeekNamedPipe on FID 0. Returns true when it was answered.
    async fn peek(&mut self, s: &mut Smb1Session) -> bool {
        let ids = s.next_mid();
        let t = Instant::now();
        let req = build_smb1_peek_named_pipe_fid0(ids);
        let msg = match s.exchange(&req).await {
            Exchange::Reply(m) => m,
            Exchange::Failed(e) => {
                self.ms17_failed(&e, Reason::TimeoutAfterPeek);
                self.step_err("peek-named-pipe", t, &e);
                return false;
            }
        };
        let h = match parse_smb1_trans_response(&msg) {
            Ok((h, _)) => h,
            // A bare header with an odd body still carries the deciding status.
            Err(e) => match parse_smb1_header(&msg) {
                Ok((h, _)) => h,
                Err(_) => {
                    self.ms17_protocol(t, "peek-named-pipe", e.to_string());
                    return false;
                }
            },
        };
        if h.command != Smb1Command::TRANSACTION {
            self.ms17_protocol(
                t,
                "peek-named-pipe",
                format!("reply command 0x{:02X}", h.command.0),
            );
            return true;
        }
        let st = h.status();
        let m = &mut self.r.ms17_010;
        m.status = Some(st.hex());
        m.status_name = super::status_name(st);
        match st {
            SmbError::Nt(NtStatus::INSUFF_SERVER_RESOURCES) => {
                m.verdict = Ms17Verdict::Vulnerable;
                m.reason = None;
            }
            SmbError::Nt(NtStatus::ACCESS_DENIED) | SmbError::Nt(NtStatus::INVALID_HANDLE) => {
                m.verdict = Ms17Verdict::NotVulnerable;
                m.reason = None;
            }
            SmbError::Dos(_) => {
                m.verdict = Ms17Verdict::Unknown;
                m.reason = Some(Reason::DosError);
            }
            SmbError::Nt(_) => {
                m.verdict = Ms17Verdict::Unknown;
                m.reason = Some(Reason::UnexpectedStatus);
            }
        }
        let outcome = match m.verdict {
            Ms17Verdict::Vulnerable => "vulnerable",
            Ms17Verdict::NotVulnerable => "not-vulnerable",
            _ => outcome_for(st),
        };
        self.step_status(
            "peek-named-pipe",
            t,
            outcome,
            st,
            Some("TRANS PeekNamedPipe FID 0".into()),
        );
        true
    }

    /// The DoublePulsar ping: TRANS2 SESSION_SETUP with MID 65.
    async fn ping(&mut self, s: &mut Smb1Session) {
        let ids = Smb1Ids {
            mid: DOUBLEPULSAR_PING_MID,
            ..s.ids
        };
        let t = Instant::now();
        let req = build_smb1_doublepulsar_ping(ids);
        let dp = &mut self.r.doublepulsar;
        let msg = match s.exchange(&req).await {
            Exchange::Reply(m) => m,
            Exchange::Failed(e) => {
                dp.verdict = DpVerdict::Unknown;
                dp.reason = Some(reason_for(&e, Reason::TimeoutAfterPing));
                self.step_err("doublepulsar-ping", t, &e);
                return;
            }
        };
        let h = match parse_smb1_header(&msg) {
            Ok((h, _)) => h,
            Err(e) => {
                dp.verdict = DpVerdict::Unknown;
                dp.reason = Some(Reason::ProtocolError);
                self.step(
                    "doublepulsar-ping",
                    t,
                    "protocol-error",
                    Some(e.to_string()),
                );
                return;
            }
        };
        dp.reply_mid = Some(h.mid);
        let st = h.status();
        let outcome = match interpret_doublepulsar_reply(DOUBLEPULSAR_PING_MID, &h) {
            DoublePulsarReply::Present { arch, xor_key } => {
                dp.verdict = DpVerdict::Present;
                dp.reason = None;
                dp.arch = Some(arch.as_str().to_owned());
                dp.xor_key = Some(format!("0x{xor_key:08x}"));
                "present"
            }
            DoublePulsarReply::Absent => {
                dp.verdict = DpVerdict::Absent;
                dp.reason = None;
                "absent"
            }
            DoublePulsarReply::Unexpected(u) => {
                dp.verdict = DpVerdict::Unknown;
                dp.reason = Some(Reason::ProtocolError);
                self.step_status(
                    "doublepulsar-ping",
                    t,
                    "unexpected",
                    st,
                    Some(format!("{u:?}")),
                );
                return;
            }
        };
        self.step_status(
            "doublepulsar-ping",
            t,
            outcome,
            st,
            Some(format!("reply MID {}", h.mid)),
        );
    }

    /// The MS17-010 test stopped at a step because of a connection-level failure.
    fn ms17_failed(&mut self, e: &NetError, timeout_reason: Reason) {
        let m = &mut self.r.ms17_010;
        m.verdict = Ms17Verdict::Unknown;
        m.reason = Some(reason_for(e, timeout_reason));
        self.r.doublepulsar.verdict = DpVerdict::NotTested;
    }

    /// The MS17-010 test stopped at a step because the server refused it with `st`.
    fn ms17_status(&mut self, st: SmbError, refused: Reason) {
        let m = &mut self.r.ms17_010;
        m.verdict = Ms17Verdict::Unknown;
        m.reason = Some(match st {
            SmbError::Dos(_) => Reason::DosError,
            SmbError::Nt(_) => refused,
        });
        m.status = Some(st.hex());
        m.status_name = super::status_name(st);
        self.r.doublepulsar.verdict = DpVerdict::NotTested;
    }

    fn ms17_protocol(&mut self, t: Instant, step: &str, detail: String) {
        self.r.ms17_010.verdict = Ms17Verdict::Unknown;
        self.r.ms17_010.reason = Some(Reason::ProtocolError);
        self.step(step, t, "protocol-error", Some(detail));
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

fn parse_version(s: &str) -> Option<(u8, u8, u16)> {
    let mut it = s.split('.');
    Some((
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    ))
}

fn outcome_for(st: SmbError) -> &'static str {
    match st {
        SmbError::Dos(_) => "dos-error",
        SmbError::Nt(_) => "status",
    }
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

/// Current time as a FILETIME (NTLMv2 blob timestamp when the server sends none).
fn filetime_now() -> u64 {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() / 100)
        .unwrap_or(0);
    u64::try_from(unix)
        .unwrap_or(0)
        .saturating_add(116_444_736_000_000_000)
}
