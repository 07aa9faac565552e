//! The checks beyond SMB1 exposure, MS17-010 and DoublePulsar (issue 18). Each folder holds one
//! check's pure verdict rules (`rules.rs`, with its unit-test table) over plain inputs learnt from
//! the host's replies. The check registry (each check's exchanges, record section, output texts,
//! `--checks` / `--fail-on` names) lives here too once it is merged; these modules know nothing of
//! it, so wiring one in is a few lines there.

pub mod anonymous;
pub mod eol_os;
pub mod sambacry;
pub mod signing;
pub mod smbghost;
