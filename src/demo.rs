//! `smb1scan demo`: starts a network of SIMULATED hosts on loopback addresses (one per
//! [`Persona`](crate::responder::Persona): unpatched Windows 7, DoublePulsar-infected hosts,
//! patched servers, SMB1-off Windows 10/2019, ...) and scans it with the real scan path
//! ([`crate::scan::run`]: same engine, probe, outputs and exit codes), so a fresh machine shows
//! exactly what a real scan reports. The banner on standard error says the hosts are simulated.
//!
//! Exit code: as `scan` (3 when findings meet `--fail-on`, which the simulated network's
//! vulnerable and infected hosts do by default).

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use crate::cli::ScanArgs;
use crate::responder::{start_network, DemoNetwork};

/// Options of `smb1scan demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// First loopback address of the simulated network (127.0.0.0/8); each host takes the next.
    #[arg(long, default_value = "127.0.10.1", value_name = "IP")]
    pub base: Ipv4Addr,
    /// TCP port every simulated host listens on and the scan targets. 445 needs root (or
    /// CAP_NET_BIND_SERVICE); without it the demo falls back to port 4450 by itself.
    #[arg(long, default_value_t = 445, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// Output flags, as for `scan`.
    #[command(flatten)]
    pub output: crate::report::OutputArgs,
}

/// Port the demo falls back to when it may not listen on 445.
const FALLBACK_PORT: u16 = 4450;

/// True when `e` (or what caused it) is a permission error from binding a socket.
fn permission_denied(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied)
    })
}

/// Runs the demo: start the simulated hosts, scan them with the `scan` code path, stop them.
pub fn run(
    args: &DemoArgs,
    quiet: bool,
    verbose: u8,
    fail_on_given: bool,
) -> anyhow::Result<ExitCode> {
    // The simulated hosts run on their own runtime, whose worker threads keep serving while the
    // scan (which builds its own runtime) runs on this thread.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the simulated hosts' runtime")?;
    let mut port = args.port;
    let mut started = rt.block_on(start_network(args.base, port));
    if port == 445 && started.as_ref().err().is_some_and(permission_denied) {
        // Port 445 needs root or CAP_NET_BIND_SERVICE; the demo should still run for anyone.
        port = FALLBACK_PORT;
        eprintln!(
            "smb1scan demo: no permission to listen on port 445 (not root): using port {port}"
        );
        started = rt.block_on(start_network(args.base, port));
    }
    let net = started.with_context(|| {
        format!(
            "starting the simulated hosts at {} port {} (port 445 needs root: try --port 4450)",
            args.base, port
        )
    })?;
    print_banner(&net);
    let scan_args = ScanArgs {
        targets: net.hosts.iter().map(|h| h.addr.ip().to_string()).collect(),
        ports: vec![crate::targets::PortList(vec![port])],
        // The demo never reads a site config: its exclusions or credentials do not apply here.
        no_config: true,
        output: args.output.clone(),
        ..ScanArgs::default()
    };
    let result = crate::scan::run(scan_args, quiet, verbose, fail_on_given);
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
