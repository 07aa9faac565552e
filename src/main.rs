//! smb1scan: finds SMBv1 exposure, unpatched MS17-010 and DoublePulsar across whole networks.
//! The thin edge: parse flags, build the plan, run it, map the outcome to an exit code.
#![forbid(unsafe_code)]

mod cli;
mod cli_clients;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
