//! A Windows-behaviour SMB responder for loopback: plays the hosts a hospital network really holds
//! (unpatched Windows 7, DoublePulsar-infected hosts, patched servers, SMB1-off Windows 10, ...),
//! so that the scanner can be run and tested end to end without any real Windows machine.
//!
//! Each simulated host is a [`Persona`] (see [`personas`]), built from the protocol documents and
//! the field values real Windows sends (read from public captures). The responder answers just
//! the SMB1 and SMB2 requests a scanner sends: NEGOTIATE, SESSION_SETUP (NTLMSSP, anonymous or
//! not), TREE_CONNECT to IPC$, the MS17-010 TRANS PeekNamedPipe on FID 0, and the DoublePulsar
//! TRANS2 ping. It never panics on input: a malformed request gets an error or a closed socket.
//!
//! A crate of its own (`smb1scan-responder`), built on the protocol crate's wire formats and
//! constants: `smb1scan demo`, the integration tests and `examples/responder.rs` all use it.
#![forbid(unsafe_code)]

pub mod checks;
pub mod ntlm;
pub mod personas;
pub mod smb1;
pub mod smb2;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use smb1scan_protocol::nbss::{parse_nbss_header, NbssType, MAX_NBSS_LEN, NBSS_HEADER_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

pub use personas::{personas, Persona};

/// The persona called `name`: one of the demo's ten ([`personas::personas`]) or one of the check
/// personas ([`checks::CHECK_PERSONAS`]). Here, above both files, so neither imports the other
/// for it.
pub fn persona(name: &str) -> Option<&'static Persona> {
    personas::personas()
        .iter()
        .chain(checks::CHECK_PERSONAS.iter())
        .find(|p| p.name == name)
}

/// Why the simulated network could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The base address is not in 127.0.0.0/8.
    #[error("the simulated hosts only listen on loopback addresses (127.0.0.0/8), not {0}")]
    NotLoopback(Ipv4Addr),
    /// The personas did not fit between the base and 127.255.255.255.
    #[error("ran out of loopback addresses after {0}")]
    OutOfAddresses(Ipv4Addr),
    /// A listener could not be bound (port 445 needs root or CAP_NET_BIND_SERVICE).
    #[error("binding simulated host {persona} to {addr}: {source}")]
    Bind {
        /// Persona name.
        persona: &'static str,
        /// Address.
        addr: SocketAddr,
        /// The bind error.
        #[source]
        source: std::io::Error,
    },
}

impl StartError {
    /// True when binding failed for lack of permission (a privileged port without root).
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, StartError::Bind { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied)
    }
}

/// A connection that has been idle this long is closed (also bounds the "silent" persona).
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// What the responder does after one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this SMB message (NBSS framing is added by the caller).
    Reply(Vec<u8>),
    /// Send nothing and keep reading (the host that never answers the peek).
    Silent,
    /// Abort the connection with a TCP RST (Windows with SMB1 off, on an SMB1-only negotiate).
    Reset,
    /// Close the connection gracefully (FIN), without a reply.
    Close,
}

/// Per-connection state.
#[derive(Debug)]
pub struct Conn {
    /// Who this host is.
    pub persona: &'static Persona,
    /// SMB1 UID handed out by SESSION_SETUP (0 = none yet).
    pub uid: u16,
    /// The SMB1 or SMB2 session completed (authenticated or anonymous).
    pub logged_on: bool,
    /// SMB1 TID of the IPC$ tree (0 = none).
    pub tid: u16,
    /// SMB2 SessionId handed out (0 = none yet).
    pub session_id: u64,
}

impl Conn {
    /// A fresh connection to `persona`.
    pub fn new(persona: &'static Persona) -> Self {
        Conn {
            persona,
            uid: 0,
            logged_on: false,
            tid: 0,
            session_id: 0,
        }
    }

    /// Dispatches one NBSS payload by protocol identifier.
    pub fn handle(&mut self, msg: &[u8]) -> Action {
        match msg.get(..4) {
            Some([0xFF, b'S', b'M', b'B']) => smb1::handle(self, msg),
            Some([0xFE, b'S', b'M', b'B']) => smb2::handle(self, msg),
            // [MS-CIFS] 3.3.5.2 / [MS-SMB2] 3.3.5.2: anything else is not a valid message.
            _ => Action::Close,
        }
    }
}

/// Serves `persona` on `listener` until the task is dropped or aborted; each connection runs in
/// its own task and is aborted with it.
pub async fn serve(listener: TcpListener, persona: &'static Persona) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                match accepted {
                    Ok((stream, _peer)) => {
                        conns.spawn(async move {
                            if let Err(e) = serve_conn(stream, persona).await {
                                tracing::debug!(persona = persona.name, "connection ended: {e:#}");
                            }
                        });
                    }
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(persona = persona.name, "accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// Reads NBSS-framed requests and answers them per the persona.
async fn serve_conn(mut stream: TcpStream, persona: &'static Persona) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut conn = Conn::new(persona);
    loop {
        let mut hdr = [0u8; NBSS_HEADER_LEN];
        match tokio::time::timeout(IDLE_TIMEOUT, stream.read_exact(&mut hdr)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => return Ok(()),
        }
        let Ok(nbss) = parse_nbss_header(&hdr) else {
            return Ok(());
        };
        if nbss.length > MAX_NBSS_LEN {
            return Ok(());
        }
        let mut body = vec![0u8; nbss.length];
        match tokio::time::timeout(IDLE_TIMEOUT, stream.read_exact(&mut body)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => return Ok(()),
        }
        match nbss.kind {
            // Port 139: accept any called name ([RFC 1002] 4.3.3 POSITIVE SESSION RESPONSE).
            NbssType::SESSION_REQUEST => {
                stream.write_all(&[0x82, 0, 0, 0]).await?;
                continue;
            }
            NbssType::SESSION_MESSAGE => {}
            _ => continue,
        }
        match conn.handle(&body) {
            Action::Reply(msg) => {
                let framed = smb1scan_protocol::nbss::build_nbss_session_message(&msg);
                stream.write_all(&framed).await?;
            }
            Action::Silent => {}
            Action::Reset => {
                // SO_LINGER 0 makes the close send RST instead of FIN.
                stream.set_zero_linger()?;
                drop(stream);
                return Ok(());
            }
            Action::Close => {
                let _ = stream.shutdown().await;
                return Ok(());
            }
        }
    }
}

/// One simulated host of a [`DemoNetwork`].
#[derive(Debug, Clone)]
pub struct DemoHost {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it plays.
    pub persona: &'static Persona,
}

/// A running set of simulated hosts. Dropping it (or calling [`DemoNetwork::shutdown`]) stops
/// every listener and connection.
#[derive(Debug)]
pub struct DemoNetwork {
    /// The hosts, in [`personas()`] order.
    pub hosts: Vec<DemoHost>,
    tasks: JoinSet<()>,
}

impl DemoNetwork {
    /// Stops all hosts and waits for their tasks to end.
    pub async fn shutdown(mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Binds every persona to its own loopback address: `base`, `base+1`, ... (all of 127.0.0.0/8
/// is local on Linux), each on `port` (0 = an ephemeral port per host), and serves them.
pub async fn start_network(base: Ipv4Addr, port: u16) -> Result<DemoNetwork, StartError> {
    if !base.is_loopback() {
        return Err(StartError::NotLoopback(base));
    }
    let mut hosts = Vec::new();
    let mut tasks = JoinSet::new();
    let mut ip = u32::from(base);
    for p in personas() {
        let addr = SocketAddr::from((Ipv4Addr::from(ip), port));
        if !Ipv4Addr::from(ip).is_loopback() {
            return Err(StartError::OutOfAddresses(Ipv4Addr::from(
                ip.wrapping_sub(1),
            )));
        }
        let bind_err = |source| StartError::Bind {
            persona: p.name,
            addr,
            source,
        };
        let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        tasks.spawn(serve(listener, p));
        hosts.push(DemoHost { addr, persona: p });
        ip = ip.wrapping_add(1);
    }
    Ok(DemoNetwork { hosts, tasks })
}
