//! smb1scan: finds SMBv1 exposure, unpatched MS17-010 and DoublePulsar across whole networks.
#![forbid(unsafe_code)]

mod cli;
mod config;
mod demo;
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
