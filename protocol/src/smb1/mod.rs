//! SMB1 / CIFS messages ([MS-CIFS], [MS-SMB]).

pub mod header;
pub mod negotiate;
pub mod nt_create;
pub mod session_setup;
pub mod signing;
pub mod trans;
pub mod trans2;
pub mod tree_connect;

pub use header::{parse_smb1_body, parse_smb1_header, Smb1Body, Smb1Command, Smb1Header, Smb1Ids};
