//! Fuzz targets for smb1scan-protocol. The per-target logic lives in the `smb1scan-fuzz-harness`
//! crate (../fuzz-harness), which the main workspace's `cargo test` also runs over the corpus and the
//! regression files, so the fuzzer and CI run exactly the same code.
#![forbid(unsafe_code)]

pub use smb1scan_fuzz_harness as harness;
