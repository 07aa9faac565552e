//! Signing not required: NTLM relay exposure from the SMB1 and SMB2 SecurityMode fields, as
//! nmap's smb-security-mode and smb2-security-mode read them.

pub mod rules;
