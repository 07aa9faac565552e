//! SMBGhost / SMBleed (CVE-2020-0796, CVE-2020-1206): SMB 3.1.1 compression offered by an
//! affected Windows build.

pub mod rules;
