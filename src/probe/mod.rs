//! The per-host probe: async steps over a `TcpStream`, each under a timeout, the whole host under
//! a deadline. Protocol decisions live here; wire formats live in `smb1scan-protocol`; framing and
//! timeouts live in [`conn`].
//!
//! Order of work for one target:
//! 1. SMB1 connection: NEGOTIATE offering SMB1 dialects only -> `smb1.enabled` and its evidence.
//! 2. SMB2 connections: one NEGOTIATE offering every dialect (highest dialect, signing, and an
//!    NTLMSSP CHALLENGE over SESSION_SETUP for the OS identity), then each lower dialect alone on
//!    its own connection, so the list is complete.
//! 3. Back on the SMB1 connection, when SMB1 answered: SESSION_SETUP_ANDX (anonymous or the given
//!    credentials), TREE_CONNECT_ANDX to IPC$, TRANS PeekNamedPipe on FID 0 (the MS17-010 test),
//!    TRANS2 SESSION_SETUP (the DoublePulsar ping).

pub mod conn;
pub mod os;
mod smb1;
mod smb2;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::model::{
    DpVerdict, HostResult, HostStatus, Ms17Verdict, Reason, Smb1Evidence, Step, Target,
};
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
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            connect_timeout: Duration::from_secs(3),
            read_timeout: Duration::from_secs(5),
            host_timeout: Duration::from_secs(30),
            credentials: None,
            smb2_enumerate: true,
            retries: 0,
        }
    }
}

/// The port that needs a NetBIOS SESSION REQUEST before SMB.
pub const NETBIOS_SSN_PORT: u16 = 139;

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
    };
    let finished = tokio::time::timeout_at(deadline, p.run()).await.is_ok();
    if !finished {
        r.steps.push(Step {
            name: "host-deadline".into(),
            outcome: "timeout".into(),
            status: None,
            status_name: None,
            detail: Some(format!("host timeout of {:?} expired", opts.host_timeout)),
            ms: elapsed_ms(started),
        });
        mark_unfinished(&mut r, Reason::HostTimeout);
        if r.error.is_none() {
            r.error = Some(format!("host timeout ({:?}) expired", opts.host_timeout));
        }
    }
    finalise(&mut r);
    r.duration_ms = elapsed_ms(started);
    r
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
        && r.smb1.enabled == Some(true)
    {
        r.doublepulsar.verdict = DpVerdict::Unknown;
        r.doublepulsar.reason = Some(reason);
    }
}

/// Derives the verdicts that follow from others, so every record is self-consistent.
fn finalise(r: &mut HostResult) {
    if r.smb1.enabled == Some(false) && r.ms17_010.verdict == Ms17Verdict::Unknown {
        r.ms17_010.verdict = Ms17Verdict::NotExposed;
        r.ms17_010.reason = Some(Reason::Smb1Disabled);
    }
    if r.ms17_010.verdict == Ms17Verdict::Unknown && r.ms17_010.reason.is_none() {
        r.ms17_010.reason = Some(match r.status {
            HostStatus::Closed => Reason::ConnectionRefused,
            HostStatus::Filtered => Reason::ConnectTimeout,
            HostStatus::Unreachable => Reason::Unreachable,
            HostStatus::Reset => Reason::ConnectionReset,
            // On port 139 the first exchange is the NetBIOS session request, not a negotiate.
            HostStatus::Timeout
                if r.steps
                    .last()
                    .is_some_and(|s| s.name.starts_with("netbios-session")) =>
            {
                Reason::TimeoutAfterNetbiosSession
            }
            HostStatus::Timeout => Reason::TimeoutAfterNegotiate,
            HostStatus::ProtocolError => Reason::ProtocolError,
            HostStatus::Interrupted => Reason::Interrupted,
            HostStatus::Error => Reason::LocalError,
            HostStatus::Unresolved => Reason::Unresolved,
            HostStatus::Open => Reason::Smb1Unknown,
        });
    }
    if r.doublepulsar.verdict == DpVerdict::Unknown && r.doublepulsar.reason.is_none() {
        r.doublepulsar.reason = r.ms17_010.reason;
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
}

impl Probe<'_> {
    async fn run(&mut self) {
        // 1. SMB1-only negotiate, on its own connection that later carries the MS17-010 test.
        let smb1_conn = self.smb1_negotiate().await;
        if self.r.status != HostStatus::Open && smb1_conn.is_none() && !self.port_answered() {
            // Refused, filtered, unreachable: nothing more to learn on this port.
            return;
        }
        // 2. SMB2 negotiates.
        self.smb2_probe().await;
        // 3. The SMB1 session steps.
        if let Some(conn) = smb1_conn {
            self.smb1_session(conn).await;
        }
    }

    /// True when the TCP connect succeeded at least once (status beyond connect failures).
    fn port_answered(&self) -> bool {
        !matches!(
            self.r.status,
            HostStatus::Closed | HostStatus::Filtered | HostStatus::Unreachable | HostStatus::Error
        )
    }

    /// Opens a connection (NetBIOS session first on port 139), recording the connect step.
    async fn connect(&mut self, label: &str) -> Result<Conn, NetError> {
        let t = Instant::now();
        let res = Conn::connect(
            self.addr,
            self.opts.connect_timeout,
            self.opts.read_timeout,
            self.opts.retries,
        )
        .await;
        let mut conn = match res {
            Ok(c) => c,
            Err(e) => {
                self.step_err(&format!("connect{label}"), t, &e);
                return Err(e);
            }
        };
        if self.r.status == HostStatus::Filtered {
            self.r.status = HostStatus::Timeout;
        }
        if self.addr.port() == NETBIOS_SSN_PORT {
            let t = Instant::now();
            if let Err(e) = conn.netbios_session().await {
                self.step_err(&format!("netbios-session{label}"), t, &e);
                return Err(e);
            }
        }
        Ok(conn)
    }

    fn step(&mut self, name: &str, t: Instant, outcome: &str, detail: Option<String>) {
        self.r.steps.push(Step {
            name: name.into(),
            outcome: outcome.into(),
            status: None,
            status_name: None,
            detail,
            ms: elapsed_ms(t),
        });
    }

    fn step_status(
        &mut self,
        name: &str,
        t: Instant,
        outcome: &str,
        status: smb1scan_protocol::SmbError,
        detail: Option<String>,
    ) {
        self.r.steps.push(Step {
            name: name.into(),
            outcome: outcome.into(),
            status: Some(status.hex()),
            status_name: status_name(status),
            detail,
            ms: elapsed_ms(t),
        });
    }

    fn step_err(&mut self, name: &str, t: Instant, e: &NetError) {
        let detail = Some(e.to_string());
        self.step(name, t, e.outcome(), detail);
    }
}

/// The symbolic name of a status, when known.
pub fn status_name(s: smb1scan_protocol::SmbError) -> Option<String> {
    match s {
        smb1scan_protocol::SmbError::Nt(n) => n.name().map(str::to_owned),
        smb1scan_protocol::SmbError::Dos(d) => d.name().map(str::to_owned),
    }
}

/// Host status for a connection-level failure.
fn status_for(e: &NetError) -> HostStatus {
    match e {
        NetError::Refused => HostStatus::Closed,
        NetError::ConnectTimeout => HostStatus::Filtered,
        NetError::Unreachable(_) => HostStatus::Unreachable,
        NetError::Reset => HostStatus::Reset,
        NetError::Closed => HostStatus::Reset,
        NetError::Timeout(_) => HostStatus::Timeout,
        NetError::Protocol(_) | NetError::NetbiosRefused(_) => HostStatus::ProtocolError,
        NetError::Io(_) => HostStatus::Error,
    }
}

/// Reason for a connection-level failure at a step; `timeout` names the step's own timeout reason.
fn reason_for(e: &NetError, timeout: Reason) -> Reason {
    match e {
        NetError::Refused => Reason::ConnectionRefused,
        NetError::ConnectTimeout => Reason::ConnectTimeout,
        NetError::Unreachable(_) => Reason::Unreachable,
        NetError::Reset => Reason::ConnectionReset,
        NetError::Closed => Reason::ConnectionClosed,
        NetError::Timeout(_) => timeout,
        NetError::Protocol(_) | NetError::NetbiosRefused(_) => Reason::ProtocolError,
        NetError::Io(_) => Reason::LocalError,
    }
}
