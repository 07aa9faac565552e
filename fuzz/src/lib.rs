//! Fuzz targets for smb1scan-protocol. The per-target logic lives in [`harness`], a file that
//! `protocol/tests/fuzz_corpus.rs` also includes (by `#[path]`) to replay the corpus and the
//! regression files in plain `cargo test`, so the fuzzer and CI run exactly the same code.
#![forbid(unsafe_code)]

pub mod harness;
