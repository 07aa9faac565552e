//! smb1scan as a library: finds SMBv1 exposure, unpatched MS17-010 and DoublePulsar across whole
//! networks. The command line (`main.rs` and its clap definitions) turns flags into a
//! [`plan::ScanPlan`], runs it with [`scan::run`] and maps the outcome to an exit code; everything
//! else lives here and knows nothing of clap.
// `deny`, not `forbid`: discovery::raw alone allows unsafe (sendmmsg, if_nametoindex), with
// its reasons.
#![deny(unsafe_code)]

pub mod checks;
pub mod clients;
pub mod config;
pub mod defaults;
pub mod demo;
pub mod discovery;
pub mod engine;
pub mod error;
pub mod model;
pub mod plan;
pub mod probe;
pub mod progress;
pub mod ratelimit;
pub mod render;
pub mod report;
pub mod scan;
pub mod scope;
pub mod signals;
pub mod store;
pub mod targets;

pub use error::{Error, Result};
