//! Stateless SYN discovery (issue 13): which (IPv4 address, port) targets answer a TCP SYN, at a
//! cost set by the packet rate rather than by timeouts.
//!
//! A raw socket sends one SYN per target, in the order of the target iterator (already permuted
//! and with the exclusions removed: an address the iterator does not yield is never sent a
//! packet), in `sendmmsg` batches paced to `rate`. A receiver thread reads every TCP packet
//! addressed to this host and keeps the SYN-ACKs (`Open`) and RSTs (`Closed`) whose
//! acknowledgment number carries this run's cookie, a keyed SipHash of the 4-tuple
//! ([`packet`]): nothing is remembered per target that was sent to, only the (few) targets
//! that answered. `retries` re-sends go to the targets that have not answered yet, each pass at
//! least one `timeout` after the previous one started; one `timeout` after the last SYN every
//! target still silent is `Filtered`. Each target comes out of the channel exactly once.
//!
//! Cost: about `N x (1 + retries) / rate + timeout` (the floor), plus, with retries, a wait of
//! `timeout - N / rate` between passes when one pass is shorter than the timeout.
//!
//! # The local kernel answers with RSTs
//! The SYN-ACK of an open port reaches this host's TCP stack too, which has no connection for it
//! and answers with a RST. That is harmless (the target drops its half-open connection, as it would
//! after a scanner's own RST) and is what masscan documents too. To silence it, drop outgoing
//! RSTs from the sweep's source port (see docs/syn-discovery.md):
//! `iptables -A OUTPUT -p tcp --sport PORT --tcp-flags RST RST -j DROP`.
//!
//! # Which sender
//! With [`SynOptions::auto_link`] (as the scan runs it) the SYNs go straight onto the interface
//! (`AF_PACKET`) when the kernel's tables show every target behind one gateway of known MAC
//! ([`route`]), else through the IP layer (`IPPROTO_RAW`); see docs/syn-discovery.md.
//!
//! Linux only; needs CAP_NET_RAW ([`check_capability`]). IPv4 only: IPv6 targets stay with connect
//! discovery.

pub mod packet;
mod raw;
pub(crate) use raw::set_recv_lowat;
pub mod route;
mod syn;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

pub use syn::{send_only, sweep};

/// Settings of one SYN sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SynOptions {
    /// SYNs per second; `None` sends as fast as the kernel takes them.
    pub rate: Option<f64>,
    /// How long after the last SYN (and between re-send passes) a reply may still come.
    pub timeout: Duration,
    /// Re-send passes to the targets that have not answered (0 = one SYN per target).
    pub retries: u32,
    /// Source port of every SYN; `None` picks a random one in 61001..=65535, above Linux's
    /// default ephemeral range, so no local connection shares it.
    pub source_port: Option<u16>,
    /// Send only through this interface (`SO_BINDTODEVICE`, or the `AF_PACKET` socket with
    /// `router_mac`). Replies are read from every interface.
    pub interface: Option<String>,
    /// Source address of every SYN; `None` asks the routing table for the first target's.
    pub source_ip: Option<Ipv4Addr>,
    /// With `interface`: the MAC of the next hop (the router, like masscan's `--router-mac`).
    /// SYNs then leave through an `AF_PACKET` socket straight onto that interface, without the
    /// IP layer's per-packet route lookup and local firewall (faster; every target must be
    /// reached through that next hop). Without it (and without `auto_link` finding one), an
    /// `IPPROTO_RAW` socket lets the kernel route each SYN.
    pub router_mac: Option<[u8; 6]>,
    /// Choose the sender from the kernel's tables ([`route::detect`]) when `interface` and
    /// `router_mac` are not both given: the link-layer one when every target leaves through one
    /// Ethernet interface to one gateway with a complete neighbour entry (`interface` and
    /// `router_mac`, when given, pin that interface or MAC), else the IP-layer one. Never fails
    /// the sweep; [`SweepStats::sender`] says which and why.
    pub auto_link: bool,
}

/// The sender a sweep used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderPath {
    /// `AF_PACKET` on `interface`, every frame to `next_hop`.
    LinkLayer {
        /// The outgoing interface.
        interface: String,
        /// The next hop's MAC (the gateway's).
        next_hop: [u8; 6],
        /// The gateway whose neighbour entry gave `next_hop` (`None` when both were given).
        gateway: Option<Ipv4Addr>,
    },
    /// `IPPROTO_RAW`: the kernel routes each SYN.
    IpLayer {
        /// Why not the link layer.
        reason: String,
    },
}

impl std::fmt::Display for SenderPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SenderPath::LinkLayer {
                interface,
                next_hop: m,
                gateway,
            } => {
                write!(
                    f,
                    "link layer (AF_PACKET) on {interface} to {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                    m[0], m[1], m[2], m[3], m[4], m[5]
                )?;
                match gateway {
                    Some(g) => write!(f, " (gateway {g})"),
                    None => Ok(()),
                }
            }
            SenderPath::IpLayer { reason } => write!(f, "IP layer (IPPROTO_RAW): {reason}"),
        }
    }
}

impl Default for SynOptions {
    fn default() -> Self {
        SynOptions {
            rate: None,
            timeout: Duration::from_secs(1),
            retries: 0,
            source_port: None,
            interface: None,
            source_ip: None,
            router_mac: None,
            auto_link: false,
        }
    }
}

/// What a target's port did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortState {
    /// It answered with a SYN-ACK: something listens (the full probe follows).
    Open,
    /// It answered with a RST: the host is up, the port closed.
    Closed,
    /// No answer one timeout after the last SYN (after every re-send).
    Filtered,
    /// The kernel refused to send its SYN (`errno`, e.g. ENETUNREACH or EPERM from a local
    /// firewall): nothing is known about it, so it must be reported `unknown` with this reason,
    /// never `filtered`.
    Unsent {
        /// The `errno` of `sendmmsg` (`std::io::Error::from_raw_os_error` names it).
        errno: i32,
    },
}

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepStats {
    /// Targets in the iterator (first pass).
    pub targets: u64,
    /// SYNs the kernel took, re-sends included.
    pub packets_sent: u64,
    /// Targets reported `Open`.
    pub open: u64,
    /// Targets reported `Closed`.
    pub closed: u64,
    /// Targets reported `Filtered`.
    pub filtered: u64,
    /// Targets reported `Unsent`.
    pub unsent: u64,
    /// SYN-ACKs and RSTs to our source port whose acknowledgment did not carry our cookie
    /// (another run, a stale reply or a forgery), dropped.
    pub replies_ignored: u64,
    /// Times the kernel's queue was full (ENOBUFS/EAGAIN) and a batch was re-tried.
    pub send_retries: u64,
    /// Source address and port of the SYNs.
    pub source: Option<SocketAddrV4>,
    /// From the first SYN to the last result.
    pub elapsed: Duration,
    /// The sender used (`None` when nothing was sent).
    pub sender: Option<SenderPath>,
}

/// Why a sweep could not run.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// No CAP_NET_RAW: nothing was sent.
    #[error(
        "SYN discovery needs raw sockets, which need the CAP_NET_RAW capability (or root); \
         grant it with `setcap cap_net_raw+ep {exe}` or run as root"
    )]
    MissingCapability {
        /// This program's path, for the `setcap` command.
        exe: String,
    },
    /// A socket could not be opened or set up.
    #[error("{what}: {source}")]
    Socket {
        /// Which socket or step.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// No route (hence no source address) to the first target.
    #[error("no route to {target} to choose a source address: {source}")]
    NoRoute {
        /// The target.
        target: Ipv4Addr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The options make no sense (e.g. `router_mac` without `interface`).
    #[error("invalid SYN discovery option: {0}")]
    InvalidOptions(String),
    /// The receiver of the results went away before the sweep ended.
    #[error("the result channel was closed before the sweep ended")]
    ChannelClosed,
    /// A sender or receiver thread died.
    #[error("SYN discovery {0} thread failed")]
    Thread(&'static str),
}

impl DiscoveryError {
    /// `MissingCapability` for a permission error, `Socket` otherwise.
    fn from_socket(what: &'static str, e: std::io::Error) -> DiscoveryError {
        if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) {
            let exe = std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "/path/to/smb1scan".to_string());
            DiscoveryError::MissingCapability { exe }
        } else {
            DiscoveryError::Socket { what, source: e }
        }
    }
}

/// Whether this process may open the raw sockets of a SYN sweep (CAP_NET_RAW, or root). Opens and
/// closes them; sends nothing. The error names the capability and the `setcap` command.
pub fn check_capability() -> Result<(), DiscoveryError> {
    raw::RawSender::open(None).map_err(|e| DiscoveryError::from_socket("raw send socket", e))?;
    raw::RawReceiver::open().map_err(|e| DiscoveryError::from_socket("raw receive socket", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_capability_names_cap_net_raw_and_setcap() {
        let e = DiscoveryError::from_socket(
            "raw send socket",
            std::io::Error::from_raw_os_error(libc::EPERM),
        );
        let msg = e.to_string();
        assert!(matches!(e, DiscoveryError::MissingCapability { .. }));
        assert!(msg.contains("CAP_NET_RAW"), "{msg}");
        assert!(msg.contains("setcap cap_net_raw+ep /"), "{msg}");
        // Another OS error is not a capability problem.
        let e = DiscoveryError::from_socket("x", std::io::Error::from_raw_os_error(libc::EMFILE));
        assert!(matches!(e, DiscoveryError::Socket { .. }), "{e}");
    }
}
