//! smb1scan: finds SMBv1 exposure, unpatched MS17-010 and DoublePulsar across whole networks.
// `deny`, not `forbid`: discovery::raw alone allows unsafe (sendmmsg), with its reasons.
#![deny(unsafe_code)]

mod cli;
mod config;
mod demo;
// SYN discovery (issue 13): not wired into the scan yet.
#[allow(dead_code, unused_imports)]
mod discovery;
mod engine;
mod model;
mod probe;
mod progress;
mod ratelimit;
mod report;
mod responder;
mod scan;
mod signals;
mod targets;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
