//! Sans-I/O SMB wire formats for smb1scan.
//!
//! Request builders return [`bytes::Bytes`] ready to write to a socket (NBSS framing included where
//! the function says so); parsers take `&[u8]` and return typed structs. Nothing here does I/O,
//! allocates with a size read from the wire, or panics on any input: every byte a server sends is
//! hostile input, bounded by the constants in each module.
//!
//! Naming: `build_smb1_*` / `parse_smb1_*` / `Smb1*` for SMB1 ([MS-CIFS], [MS-SMB]),
//! `build_smb2_*` / `parse_smb2_*` / `Smb2*` for SMB2 ([MS-SMB2]), `build_nbss_*` / `parse_nbss_*` /
//! `Nbss*` for NetBIOS framing, `build_ntlmssp_*` / `parse_ntlmssp_*` / `Ntlmssp*` for NTLMSSP,
//! `build_spnego_*` / `spnego_*` for SPNEGO. Parsers are nom functions in the order of the spec's
//! field table (`let (i, field) = le_u16.parse(i)?;`, skipped fields bound to `_reserved` or
//! `_<field>`); a field cut short is an error, never a default. SMB1 request builders share
//! [`smb1::header::build_smb1_message`] and [`smb1::trans::build_smb1_trans_request`].
//!
//! Spec references: [MS-CIFS] (SMB1), [MS-SMB] (SMB1 extensions), [MS-SMB2], [MS-NLMP] (NTLMSSP),
//! RFC 1001/1002 (NetBIOS session service).
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

pub mod error;
pub mod message;
pub mod nbns;
pub mod nbss;
pub mod ntlmssp;
pub mod requests;
pub mod smb1;
pub mod smb2;
pub mod spnego;
pub mod status;
pub mod util;

pub use error::{ParseError, Result};
pub use status::{DosError, NtStatus, SmbError};

#[cfg(test)]
mod test_util {
    /// Lower-case hex of `b`, for golden-byte assertions.
    pub fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
