//! `smb1scan demo`: starts a network of SIMULATED hosts on loopback addresses (one per
//! [`Persona`](smb1scan_responder::Persona): unpatched Windows 7, DoublePulsar-infected hosts,
//! patched servers, SMB1-off Windows 10/2019, ...) and scans it with the real scan path
//! ([`crate::scan::run`] with a [`ScanPlan`] built here: same engine, probe, outputs and exit
//! codes), so a fresh machine shows exactly what a real scan reports. The banner on standard error says the hosts are simulated.
//!
//! Exit code: as `scan` (3 when findings meet `--fail-on`, which the simulated network's
//! vulnerable and infected hosts do by default).

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};

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
    let net = started.map_err(Error::Demo)?;
    print_banner(&net);
    let result = crate::scan::run(&plan(&net, port, opts));
    rt.block_on(net.shutdown());
    result
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
