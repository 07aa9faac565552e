//! SMB2/3 messages ([MS-SMB2]).

pub mod compression;
pub mod header;
pub mod negotiate;
pub mod pipe;
pub mod session_setup;
