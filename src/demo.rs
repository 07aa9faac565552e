//! `smb1scan demo`: starts a network of SIMULATED hosts on loopback addresses (one per
//! [`Persona`](smb1scan_responder::Persona): unpatched Windows 7, DoublePulsar-infected hosts,
//! patched servers, SMB1-off Windows 10/2019, ...) and scans it with the real scan path
//! ([`crate::scan::run`] with a [`ScanPlan`] built here: same engine, probe, outputs and exit
//! codes), so a fresh machine shows exactly what a real scan reports. The banner on standard error says the hosts are simulated.
//!
//! Exit code: as `scan` (3 when findings meet `--fail-on`, which the simulated network's
//! vulnerable and infected hosts do by default).

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use smb1scan_responder::{start_network, DemoNetwork, StartError};

use crate::error::{Error, Result};
use crate::plan::{ScanPlan, TargetSources};
use crate::report::OutputPlan;
use crate::scan::Outcome;

/// What `smb1scan demo` needs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// First loopback address of the simulated network (127.0.0.0/8); each host takes the next.
    pub base: Ipv4Addr,
    /// TCP port every simulated host listens on and the scan targets.
    pub port: u16,
    /// Outputs and failure policy, as for a scan.
    pub output: OutputPlan,
    /// No progress bar.
    pub quiet: bool,
    /// `--store`: record the run, marked simulated (nothing is recorded without it).
    pub store: Option<crate::store::Location>,
}

/// First address of the simulated network when none is given.
pub const DEFAULT_BASE: Ipv4Addr = Ipv4Addr::new(127, 0, 10, 1);
/// Port of the simulated hosts when none is given.
pub const DEFAULT_PORT: u16 = 445;
/// Port the demo falls back to when it may not listen on 445.
pub const FALLBACK_PORT: u16 = 4450;

/// The scan plan for a running simulated network: every built-in default, no site config (its
/// exclusions or credentials do not apply here), the simulated hosts as targets.
pub fn plan(net: &DemoNetwork, port: u16, opts: &DemoOptions) -> ScanPlan {
    let mut plan = ScanPlan::with_defaults(TargetSources {
        targets: net.hosts.iter().map(|h| h.addr.ip().to_string()).collect(),
        ..TargetSources::default()
    });
    plan.ports = vec![port];
    plan.output = opts.output.clone();
    plan.quiet = opts.quiet;
    plan.store = opts.store.clone().map(|location| crate::store::StorePlan {
        location,
        label: None,
        simulated: true,
        subnets: Default::default(),
    });
    plan
}

/// Runs the demo: start the simulated hosts, scan them with the `scan` code path, stop them.
pub fn run(opts: &DemoOptions) -> Result<Outcome> {
    // The simulated hosts run on their own runtime, whose worker threads keep serving while the
    // scan (which builds its own runtime) runs on this thread.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the simulated hosts' runtime", e))?;
    let mut port = opts.port;
    let mut started = rt.block_on(start_network(opts.base, port));
    if port == DEFAULT_PORT
        && started
            .as_ref()
            .err()
            .is_some_and(StartError::is_permission_denied)
    {
        // Port 445 needs root or CAP_NET_BIND_SERVICE; the demo should still run for anyone.
        port = FALLBACK_PORT;
        eprintln!(
            "smb1scan demo: no permission to listen on port 445 (not root): using port {port}"
        );
        started = rt.block_on(start_network(opts.base, port));
    }
    let net = started.map_err(|e| Error::Demo(start_failure(&e, port, listener_of)))?;
    print_banner(&net);
    let result = crate::scan::run(&plan(&net, port, opts));
    rt.block_on(net.shutdown());
    result
}

/// What went wrong starting the simulated hosts, once, and what to type instead. `holder` names
/// the program listening on an address, when it can be found.
pub fn start_failure(
    e: &StartError,
    port: u16,
    holder: impl Fn(SocketAddr) -> Option<String>,
) -> String {
    match e {
        StartError::Bind { addr, source, .. } if source.kind() == std::io::ErrorKind::AddrInUse => {
            let who = holder(*addr)
                .map(|h| format!(" by {h}"))
                .unwrap_or_default();
            format!(
                "{addr} is already in use{who}: stop that program, or put the simulated network \
                 elsewhere: smb1scan demo --base 127.0.20.1 (or --port {})",
                if port == FALLBACK_PORT {
                    FALLBACK_PORT + 1
                } else {
                    FALLBACK_PORT
                }
            )
        }
        StartError::Bind { addr, source, .. }
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            format!(
                "no permission to listen on {addr} ({source}): ports below 1024 need root or \
                 CAP_NET_BIND_SERVICE; try --port {FALLBACK_PORT}"
            )
        }
        other => other.to_string(),
    }
}

/// The program (`name (pid N)`) holding a TCP listener on `addr` (or on the wildcard address of
/// its port), from /proc; `None` when it cannot be told.
fn listener_of(addr: SocketAddr) -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let inode = listening_inode(&table, addr)?;
    let want = format!("socket:[{inode}]");
    for proc_dir in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = proc_dir
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(proc_dir.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == want.as_str()) {
                let comm = std::fs::read_to_string(proc_dir.path().join("comm")).ok()?;
                return Some(format!("{} (pid {pid})", comm.trim()));
            }
        }
    }
    None
}

/// The inode of the listening socket on `addr` (or 0.0.0.0 and its port) in the text of
/// /proc/net/tcp, whose addresses are `HEXIP:HEXPORT` with the IPv4 address in host byte order.
fn listening_inode(table: &str, addr: SocketAddr) -> Option<u64> {
    let IpAddr::V4(ip) = addr.ip() else {
        return None;
    };
    let exact = format!("{:08X}:{:04X}", u32::from(ip).swap_bytes(), addr.port());
    let any = format!("{:08X}:{:04X}", 0, addr.port());
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (local, state, inode) = (f.get(1)?, f.get(3)?, f.get(9)?);
        // State 0A is TCP_LISTEN.
        (*state == "0A" && (*local == exact || *local == any))
            .then(|| inode.parse().ok())
            .flatten()
    })
}

/// Says, before anything else, that the hosts are simulated and who sits where.
fn print_banner(net: &DemoNetwork) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(
        e,
        "smb1scan demo: the hosts below are SIMULATED by smb1scan's built-in responder, on this\n\
         machine's loopback interface. No real machine is contacted. Each one answers as the real\n\
         Windows host it plays did in public packet captures:\n"
    );
    for h in &net.hosts {
        let ip = match h.addr.ip() {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => v6.to_string(),
        };
        let _ = writeln!(
            e,
            "  {ip:<13} {:<26} {}",
            h.persona.name, h.persona.description
        );
        let _ = writeln!(
            e,
            "  {:<13} {:<26} a real scan of such a host shows: {}",
            "", "", h.persona.expected
        );
    }
    let _ = writeln!(e);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_use(addr: &str) -> StartError {
        StartError::Bind {
            persona: "win7-sp1-x64-unpatched",
            addr: addr.parse().unwrap(),
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        }
    }

    #[test]
    fn an_address_in_use_is_said_once_with_its_holder_and_what_to_type() {
        let m = start_failure(&in_use("127.0.10.1:445"), 445, |_| {
            Some("smbd (pid 42)".into())
        });
        assert!(
            m.starts_with("127.0.10.1:445 is already in use by smbd (pid 42): "),
            "{m}"
        );
        assert!(m.contains("smb1scan demo --base 127.0.20.1"), "{m}");
        assert!(!m.contains("needs root"), "not a permission problem: {m}");
        assert_eq!(m.matches("in use").count(), 1, "{m}");
        let m = start_failure(&in_use("127.0.10.1:4450"), 4450, |_| None);
        assert!(m.starts_with("127.0.10.1:4450 is already in use: "), "{m}");
        assert!(m.contains("--port 4451"), "{m}");
    }

    #[test]
    fn the_listener_is_found_in_proc_net_tcp() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 010A007F:01BD 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n\
   1: 00000000:115C 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0\n\
   2: 010A007F:01BD 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 999 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(
            listening_inode(table, "127.0.10.1:445".parse().unwrap()),
            Some(4242)
        );
        // A wildcard listener on the port holds every address.
        assert_eq!(
            listening_inode(table, "127.0.10.1:4444".parse().unwrap()),
            Some(777)
        );
        assert_eq!(
            listening_inode(table, "127.0.10.2:445".parse().unwrap()),
            None
        );
    }
}
