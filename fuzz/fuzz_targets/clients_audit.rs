#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| smb1scan_fuzz::harness::clients_audit(data));
