//! SMB2/3 steps: which dialects the host accepts, whether it requires signing, and (over an
//! NTLMSSP SESSION_SETUP) who it is — which still works when SMB1 is off.

use std::time::Instant;

use smb1scan_protocol::message::{parse_smb_message, SmbMessage};
use smb1scan_protocol::ntlmssp::{build_ntlmssp_negotiate, parse_ntlmssp_challenge};
use smb1scan_protocol::smb2::negotiate::{
    parse_smb2_negotiate_outcome, Smb2Dialect, Smb2NegotiateOutcome, ALL_DIALECTS,
};
use smb1scan_protocol::smb2::session_setup::{
    build_smb2_session_setup, parse_smb2_session_setup_response,
};
use smb1scan_protocol::spnego::{build_spnego_neg_token_init, spnego_find_ntlmssp};

use super::conn::{Conn, NetError};
use super::smb1::{nonce8, signing, time_string};
use super::Probe;
use crate::checks::anonymous;
use crate::checks::smbghost::exchange as smbghost;
use crate::model::{Exchange, HostStatus, Smb1Evidence, Smb2DialectName, StepName, StepOutcome};

/// What one negotiate on its own connection showed.
enum Negotiated {
    /// The server chose this dialect; the connection stays open for a SESSION_SETUP.
    Yes(Smb2Dialect, Conn),
    /// The server refused the offer (SMB1 reply, reset or close).
    No,
    /// The server answered the NEGOTIATE with an error status.
    Refused,
    /// No answer within the read timeout.
    Stalled,
    /// Nothing usable came back (timeout, connect failure, protocol error).
    Unknown,
}

impl Probe<'_> {
    /// Step 2: the SMB2 negotiates.
    pub(super) async fn smb2_probe(&mut self) {
        let step = Exchange::Smb2Negotiate(None);
        let ghost = smbghost::selected(&self.opts.checks);
        // Whether the SMB1 steps got an answer (SMB, or the reset/close that shows SMB1 off): a
        // host silent there is not asked twice.
        let answered = !matches!(
            self.r.smb1.evidence,
            Smb1Evidence::NotTested | Smb1Evidence::Timeout | Smb1Evidence::ProtocolError
        );
        let mut first = self.smb2_negotiate(&ALL_DIALECTS, step, true, ghost).await;
        if ghost && answered && matches!(first, Negotiated::Stalled | Negotiated::Refused) {
            // A server that stalls on, or refuses, the compression context keeps the SMB2 facts
            // it gives without it (smbghost is then unknown): the plain negotiate, once.
            first = self.smb2_negotiate(&ALL_DIALECTS, step, true, false).await;
        }
        let max = match first {
            Negotiated::Yes(d, conn) => {
                self.smb2_identity(conn).await;
                d
            }
            Negotiated::No | Negotiated::Refused => {
                self.r.smb2.enabled = Some(false);
                return;
            }
            Negotiated::Unknown | Negotiated::Stalled => return,
        };
        self.r.smb2.enabled = Some(true);
        self.r.smb2.max_dialect = Some(max.name().to_owned());
        let mut accepted = vec![max];
        if self.opts.smb2_enumerate {
            // A server answers with its highest common dialect only: offer each lower one alone.
            for d in ALL_DIALECTS.iter().copied().filter(|d| d.0 < max.0) {
                let name = Smb2DialectName::ALL
                    .into_iter()
                    .find(|n| n.as_str() == d.name());
                let step = Exchange::Smb2Negotiate(name);
                if let Negotiated::Yes(got, _) = self.smb2_negotiate(&[d], step, false, false).await
                {
                    if got == d {
                        accepted.push(d);
                    }
                }
            }
        }
        accepted.sort_by_key(|d| d.0);
        self.r.smb2.dialects = accepted.iter().map(|d| d.name().to_owned()).collect();
    }

    /// One NEGOTIATE offering `dialects` on a fresh connection. `record` copies the response's
    /// server facts (signing, GUID, capabilities, time) into the record; `compress` adds the
    /// smbghost check's compression context and records its answer.
    async fn smb2_negotiate(
        &mut self,
        dialects: &[Smb2Dialect],
        step: Exchange,
        record: bool,
        compress: bool,
    ) -> Negotiated {
        let conn = self.connect(Some(step)).await;
        let mut conn = match conn {
            Ok(c) => c,
            Err(_) => return Negotiated::Unknown,
        };
        let mut guid = [0u8; 16];
        for (dst, src) in guid.iter_mut().zip(nonce8().into_iter().chain(nonce8())) {
            *dst = src;
        }
        let mut salt = [0u8; 32];
        for (dst, src) in salt.iter_mut().zip((0..4).flat_map(|_| nonce8())) {
            *dst = src;
        }
        let req = smbghost::negotiate_request(compress, dialects, guid, salt);
        let t = Instant::now();
        let msg = match conn.exchange(&req).await {
            Ok(m) => m,
            Err(e) => {
                self.step_err(StepName::Exchange(step), t, &e);
                return match e {
                    NetError::Reset | NetError::Closed => Negotiated::No,
                    NetError::Timeout(_) => Negotiated::Stalled,
                    _ => Negotiated::Unknown,
                };
            }
        };
        if let Ok(SmbMessage::Smb1(h, _)) = parse_smb_message(&msg) {
            self.r.status = HostStatus::Open;
            let st = h.status();
            self.step_status(
                step,
                t,
                StepOutcome::Smb1Reply,
                st,
                Some("answered in SMB1".into()),
            );
            return Negotiated::No;
        }
        match parse_smb2_negotiate_outcome(&msg) {
            Ok(Smb2NegotiateOutcome::Negotiated(h, resp)) => {
                self.r.status = HostStatus::Open;
                let d = resp.dialect_revision;
                if record {
                    let s = &mut self.r.smb2;
                    s.signing = Some(signing(resp.signing()));
                    s.server_guid = Some(resp.server_guid_string());
                    s.capabilities = Some(format!("0x{:08x}", resp.capabilities));
                    s.server_time = time_string(resp.system_time_unix());
                    s.boot_time = time_string(resp.server_start_time_unix());
                    smbghost::observe(compress, self.r, &resp);
                }
                self.step_status(
                    step,
                    t,
                    StepOutcome::Ok,
                    smb1scan_protocol::SmbError::Nt(h.status),
                    Some(format!("dialect {}", d.name())),
                );
                if d == Smb2Dialect::WILDCARD || !d.is_known() {
                    return Negotiated::Unknown;
                }
                Negotiated::Yes(d, conn)
            }
            Ok(Smb2NegotiateOutcome::Failed(h, _)) => {
                self.r.status = HostStatus::Open;
                self.step_status(
                    step,
                    t,
                    StepOutcome::Status,
                    smb1scan_protocol::SmbError::Nt(h.status),
                    None,
                );
                Negotiated::Refused
            }
            Err(e) => {
                self.step(step, t, StepOutcome::ProtocolError, Some(e.to_string()));
                Negotiated::Unknown
            }
        }
    }

    /// SMB2 SESSION_SETUP with an NTLMSSP NEGOTIATE: the CHALLENGE names the host and its build.
    async fn smb2_identity(&mut self, mut conn: Conn) {
        let blob = build_spnego_neg_token_init(&build_ntlmssp_negotiate());
        let req = build_smb2_session_setup(1, 0, &blob);
        let t = Instant::now();
        let msg = match conn.exchange(&req).await {
            Ok(m) => m,
            Err(e) => {
                self.step_err(StepName::Exchange(Exchange::Smb2SessionSetup), t, &e);
                return;
            }
        };
        match parse_smb2_session_setup_response(&msg) {
            Ok((h, resp)) => {
                let challenge = spnego_find_ntlmssp(resp.security_buffer)
                    .and_then(|m| parse_ntlmssp_challenge(m).ok());
                let st = smb1scan_protocol::SmbError::Nt(h.status);
                match challenge {
                    Some(c) => {
                        self.apply_challenge(&c);
                        self.step_status(
                            Exchange::Smb2SessionSetup,
                            t,
                            StepOutcome::Ok,
                            st,
                            Some("NTLMSSP CHALLENGE".into()),
                        );
                        // SMB1 not shown on (refused, reset, silent): the anonymous check's
                        // logon and pipe opens go over SMB2, on this connection.
                        if self.r.smb1.enabled != Some(true)
                            && self.opts.checks.contains(anonymous::NAME)
                        {
                            let server = self.addr.ip().to_string();
                            let (sid, nonce) = (h.session_id, nonce8());
                            anonymous::smb2::open_pipes(&mut conn, &c, sid, &server, nonce, self.r)
                                .await;
                        }
                    }
                    None => self.step_status(
                        Exchange::Smb2SessionSetup,
                        t,
                        StepOutcome::Status,
                        st,
                        None,
                    ),
                }
            }
            Err(e) => self.step(
                Exchange::Smb2SessionSetup,
                t,
                StepOutcome::ProtocolError,
                Some(e.to_string()),
            ),
        }
        self.refresh_os(false);
    }
}

impl anonymous::smb2::Smb2Wire for Conn {
    async fn send(&mut self, msg: &[u8]) -> Result<Vec<u8>, anonymous::smb1::Unanswered> {
        self.exchange(msg).await.map_err(unanswered)
    }
}

impl anonymous::batch::Batch for Conn {
    async fn send_all(&mut self, msgs: &[&[u8]]) -> Result<(), anonymous::smb1::Unanswered> {
        self.send_many(msgs).await.map_err(unanswered)
    }
    async fn recv(&mut self) -> Result<Vec<u8>, anonymous::smb1::Unanswered> {
        Conn::recv(self).await.map_err(unanswered)
    }
    fn expect_at_least(&mut self, bytes: usize) {
        Conn::expect_at_least(self, bytes);
    }
    async fn recv_buffered(&mut self) -> Option<Vec<u8>> {
        Conn::recv_buffered(self).await
    }
}

fn unanswered(e: NetError) -> anonymous::smb1::Unanswered {
    anonymous::smb1::Unanswered {
        outcome: e.failure().outcome(),
        detail: e.to_string(),
    }
}
