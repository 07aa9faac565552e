//! End-of-life OS: whether the host's OS still receives security updates at the scan date,
//! from its NativeOS string and NTLMSSP version against `data/eol.toml`.

pub mod rules;
