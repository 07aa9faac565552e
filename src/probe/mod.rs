//! The per-host probe: async steps over a `TcpStream`, each under a timeout, the whole host under
//! a deadline. The order of the steps lives here; wire formats live in `smb1scan-protocol`; framing and
//! timeouts live in [`conn`]; the verdict rules live in [`verdict`], without I/O.
//!
//! Order of work for one target:
//! 1. SMB1 connection: NEGOTIATE offering SMB1 dialects only -> `smb1.enabled` and its evidence.
//! 2. On that connection, when SMB1 answered: SESSION_SETUP_ANDX (anonymous or the given
//!    credentials), TREE_CONNECT_ANDX to IPC$, TRANS PeekNamedPipe on FID 0 (the MS17-010 test),
//!    TRANS2 SESSION_SETUP (the DoublePulsar ping). When the peek got no answer, the ping runs on
//!    a fresh connection with its own session. All within [`SMB1_SHARE`] of the host deadline.
//! 3. SMB2 connections: one NEGOTIATE offering every dialect (highest dialect, signing, and an
//!    NTLMSSP CHALLENGE over SESSION_SETUP for the OS identity), then each lower dialect alone on
//!    its own connection, so the list is complete.

pub mod conn;
pub mod os;
mod smb1;
mod smb2;
pub mod verdict;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::model::{Exchange, HostResult, HostStatus, Reason, Step, StepName, StepOutcome, Target};
use conn::{Conn, NetError};

/// Credentials for networks where anonymous IPC$ is refused. The password never appears in
/// `Debug` output, logs or reports.
#[derive(Clone, Default)]
pub struct Credentials {
    /// User name.
    pub user: String,
    /// Domain (may be empty).
    pub domain: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What the probe needs to know, validated from flags and config.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Timeout for each request/response exchange.
    pub read_timeout: Duration,
    /// Deadline for the whole host (all connections and steps).
    pub host_timeout: Duration,
    /// Credentials; `None` = anonymous.
    pub credentials: Option<Credentials>,
    /// Enumerate each SMB2 dialect on its own connection (complete list) instead of one negotiate.
    pub smb2_enumerate: bool,
    /// Extra connect attempts after a connect that timed out (a refusal is never retried).
    pub retries: u32,
    /// The checks to run (`--checks`); the others are recorded `not-selected`.
    pub checks: crate::checks::Selection,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            connect_timeout: crate::defaults::CONNECT_TIMEOUT,
            read_timeout: crate::defaults::READ_TIMEOUT,
            host_timeout: crate::defaults::HOST_TIMEOUT,
            credentials: None,
            smb2_enumerate: true,
            retries: crate::defaults::RETRIES,
            checks: crate::checks::Selection::default(),
        }
    }
}

/// The port that needs a NetBIOS SESSION REQUEST before SMB.
pub const NETBIOS_SSN_PORT: u16 = 139;

/// The called name Windows accepts without knowing its own NetBIOS name.
const ANY_SMB_SERVER: &str = "*SMBSERVER";

/// Probes one target and returns its record. Never panics on network input, and returns within
/// `host_timeout` (plus scheduling slack): whatever finished by then is kept.
pub async fn probe(target: Target, opts: &ProbeOptions) -> HostResult {
    let started = Instant::now();
    let mut r = HostResult::new(target.ip, target.port, target.hostname.clone());
    // Provisional until something happens: a deadline that expires mid-connect leaves `filtered`,
    // after a connect `timeout`, and only an SMB answer makes the host `open`.
    r.status = HostStatus::Filtered;
    let deadline = tokio::time::Instant::from_std(started + opts.host_timeout);
    let mut p = Probe {
        addr: SocketAddr::new(target.ip, target.port),
        opts,
        r: &mut r,
        started,
        called: None,
        nbns_asked: false,
        fresh: false,
    };
    let finished = tokio::time::timeout_at(deadline, p.run()).await.is_ok();
    if finished {
        verdict::finalise(&mut r);
        r.duration_ms = elapsed_ms(started);
    } else {
        verdict::finish_cut(
            &mut r,
            Reason::HostTimeout,
            opts.host_timeout,
            elapsed_ms(started),
        );
    }
    opts.checks.apply(&mut r);
    trace_steps(&r);
    r
}

/// `-vv`: every step of the host, in order, once the host is finished (what `steps` in the
/// record will say, as it happens).
fn trace_steps(r: &HostResult) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    for s in &r.steps {
        let name = crate::report::enum_name(&s.name);
        let outcome = crate::report::enum_name(&s.outcome);
        let status = match (&s.status, &s.status_name) {
            (Some(st), Some(n)) => format!(" {st} {n}"),
            (Some(st), None) => format!(" {st}"),
            _ => String::new(),
        };
        let detail = s
            .detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        tracing::debug!(
            "{}:{} step {name} {outcome}{status} ({} ms){detail}",
            r.ip,
            r.port,
            s.ms
        );
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// State of one target's probe.
struct Probe<'a> {
    addr: SocketAddr,
    opts: &'a ProbeOptions,
    r: &'a mut HostResult,
    started: Instant,
    /// Port 139: the NetBIOS name learnt by NBNS after `*SMBSERVER` was refused.
    called: Option<String>,
    /// The NBNS query was made (once per host, whatever it gave).
    nbns_asked: bool,
    /// The SMB1 steps run on the fresh connection of the DoublePulsar ping (their failures
    /// decide only the DoublePulsar verdict).
    fresh: bool,
}

/// The SMB1 tests' share of the host deadline; SMB2 always keeps the rest, so a stalled step on
/// one side cannot starve the other.
const SMB1_SHARE: f64 = 2.0 / 3.0;

impl Probe<'_> {
    async fn run(&mut self) {
        // 1. SMB1-only negotiate, on its own connection that then carries the MS17-010 test.
        let smb1_conn = self.smb1_negotiate().await;
        if smb1_conn.is_none() && !self.r.port_answered() {
            // Refused, filtered, unreachable: nothing more to learn on this port.
            return;
        }
        // 2. The SMB1 session steps right away (the most important test first), within their
        //    share of the host deadline.
        if let Some(conn) = smb1_conn {
            let share = self.opts.host_timeout.mul_f64(SMB1_SHARE);
            let until = tokio::time::Instant::from_std(self.started + share);
            // Boxed, as the SMB2 steps below: a host only reaches them when its port answered,
            // so the silent hosts that fill a sweep's window do not carry their state (issue 16).
            if tokio::time::timeout_at(until, Box::pin(self.smb1_session(conn)))
                .await
                .is_err()
            {
                let mut step = Step::new(
                    StepName::HostDeadline,
                    StepOutcome::Timeout,
                    elapsed_ms(self.started),
                );
                step.detail = Some(format!(
                    "the SMB1 tests' share ({share:?}) of the host timeout expired"
                ));
                self.r.steps.push(step);
                self.fresh = false;
                verdict::mark_unfinished(self.r, Reason::HostTimeout);
            }
        }
        // 3. SMB2 negotiates, in the rest of the host deadline.
        Box::pin(self.smb2_probe()).await;
    }

    /// The TCP connect of a connection for `purpose`, with its step (already recorded when the
    /// connect failed; the caller records a successful one where it belongs).
    async fn tcp_connect(&mut self, purpose: Option<Exchange>) -> Result<(Conn, Step), NetError> {
        let t = Instant::now();
        let (res, attempts) = Conn::connect(
            self.addr,
            self.opts.connect_timeout,
            self.opts.read_timeout,
            self.opts.retries,
        )
        .await;
        let mut step = Step::new(StepName::Connect(purpose), StepOutcome::Ok, elapsed_ms(t));
        step.attempts = Some(attempts);
        match res {
            Ok(c) => Ok((c, step)),
            Err(e) => {
                step.outcome = e.failure().outcome();
                step.detail = Some(e.to_string());
                self.r.steps.push(step);
                Err(e)
            }
        }
    }

    /// Opens a connection for `purpose` (none: the SMB1 connection), NetBIOS session first on
    /// port 139, recording the connect step with its attempts.
    async fn connect(&mut self, purpose: Option<Exchange>) -> Result<Conn, NetError> {
        let (mut conn, step) = self.tcp_connect(purpose).await?;
        // A successful connect is listed for the SMB1 connections; the SMB2 ones show in their
        // negotiate step.
        if !matches!(purpose, Some(Exchange::Smb2Negotiate(_))) {
            self.r.steps.push(step);
        }
        if self.r.status == HostStatus::Filtered {
            self.r.status = HostStatus::Timeout;
        }
        if self.addr.port() == NETBIOS_SSN_PORT {
            let called = self.called.clone();
            let t = Instant::now();
            match conn
                .netbios_session(called.as_deref().unwrap_or(ANY_SMB_SERVER))
                .await
            {
                Ok(()) => {}
                Err(e @ NetError::NetbiosRefused(_)) if called.is_none() && !self.nbns_asked => {
                    self.step_err(StepName::NetbiosSession(purpose), t, &e);
                    // Ask the host its name once, and call that on this and later connections.
                    let Some(name) = self.nbns_name().await else {
                        return Err(e);
                    };
                    conn = self.connect_named(purpose, &name).await?;
                }
                Err(e) => {
                    self.step_err(StepName::NetbiosSession(purpose), t, &e);
                    if purpose.is_none() && e.failure() == verdict::Failure::Timeout {
                        // The first exchange on 139 is the session request, not the negotiate.
                        self.r.ms17_010.reason = Some(Reason::TimeoutAfterNetbiosSession);
                    }
                    return Err(e);
                }
            }
        }
        Ok(conn)
    }

    /// The host's file-server NetBIOS name from an NBNS node status query, recorded as a step.
    async fn nbns_name(&mut self) -> Option<String> {
        self.nbns_asked = true;
        let t = Instant::now();
        match conn::nbns_node_status(self.addr.ip(), self.opts.read_timeout).await {
            Ok(names) => {
                let name = smb1scan_protocol::nbns::file_server_name(&names).map(str::to_owned);
                let listed: Vec<String> = names
                    .iter()
                    .map(|n| format!("{}<{:02X}>", n.name, n.suffix))
                    .collect();
                let outcome = if name.is_some() {
                    StepOutcome::Ok
                } else {
                    StepOutcome::ProtocolError
                };
                let detail = format!("names: {}", listed.join(", "));
                self.step(Exchange::NbnsNodeStatus, t, outcome, Some(detail));
                if let Some(n) = &name {
                    self.r.os.netbios_name.get_or_insert_with(|| n.clone());
                }
                self.called = name.clone();
                name
            }
            Err(e) => {
                self.step_err(StepName::Exchange(Exchange::NbnsNodeStatus), t, &e);
                None
            }
        }
    }

    /// A new connection whose NetBIOS session calls `name` (after `*SMBSERVER` was refused).
    async fn connect_named(
        &mut self,
        purpose: Option<Exchange>,
        name: &str,
    ) -> Result<Conn, NetError> {
        let (mut conn, step) = self.tcp_connect(purpose).await?;
        self.r.steps.push(step);
        let t = Instant::now();
        if let Err(e) = conn.netbios_session(name).await {
            self.step_err(StepName::NetbiosSession(purpose), t, &e);
            return Err(e);
        }
        let mut step = Step::new(
            StepName::NetbiosSession(purpose),
            StepOutcome::Ok,
            elapsed_ms(t),
        );
        step.detail = Some(format!("called name {name}"));
        self.r.steps.push(step);
        Ok(conn)
    }

    fn step(&mut self, x: Exchange, t: Instant, outcome: StepOutcome, detail: Option<String>) {
        let mut s = Step::new(StepName::Exchange(x), outcome, elapsed_ms(t));
        s.detail = detail;
        self.r.steps.push(s);
    }

    fn step_status(
        &mut self,
        x: Exchange,
        t: Instant,
        outcome: StepOutcome,
        status: smb1scan_protocol::SmbError,
        detail: Option<String>,
    ) {
        let mut s = Step::new(StepName::Exchange(x), outcome, elapsed_ms(t));
        s.status = Some(status.hex());
        s.status_name = status_name(status);
        s.detail = detail;
        self.r.steps.push(s);
    }

    fn step_err(&mut self, name: StepName, t: Instant, e: &NetError) {
        let mut s = Step::new(name, e.failure().outcome(), elapsed_ms(t));
        s.detail = Some(e.to_string());
        self.r.steps.push(s);
    }
}

pub use crate::checks::status_name;
