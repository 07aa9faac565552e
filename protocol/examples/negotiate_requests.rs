//! Prints the NEGOTIATE requests smb1scan's builders produce, one per line as `NAME HEX` (bare SMB
//! messages, no NBSS header). `scripts/record-fixtures.py` sends these to real servers to record
//! the responses kept in `fixtures/`, so the fixtures answer exactly what the builders send.
//!
//! Run: `cargo run -p smb1scan-protocol --example negotiate_requests`

use smb1scan_protocol::smb1::header::{flags2, Smb1Ids, CLIENT_FLAGS2};
use smb1scan_protocol::smb1::negotiate::{
    build_smb1_negotiate_request, build_smb1_negotiate_request_with_flags2, SMB1_DIALECTS,
};
use smb1scan_protocol::smb2::negotiate::{build_smb2_negotiate_request, Smb2Dialect, ALL_DIALECTS};

fn main() {
    let ids = Smb1Ids {
        pid: 0xFEFF,
        mid: 1,
        ..Smb1Ids::default()
    };
    // Fixed GUID and salt so recordings are reproducible (a real scan uses random ones).
    let guid = *b"smb1scan-fixture";
    let salt = [0x5A; 32];
    let mut out: Vec<(String, Vec<u8>)> = vec![
        (
            "smb1".into(),
            build_smb1_negotiate_request(SMB1_DIALECTS, ids).to_vec(),
        ),
        (
            "smb1-extsec".into(),
            build_smb1_negotiate_request_with_flags2(
                SMB1_DIALECTS,
                ids,
                CLIENT_FLAGS2 | flags2::EXTENDED_SECURITY,
            )
            .to_vec(),
        ),
        (
            // A multi-protocol negotiate as Windows clients send it: SMB2 hosts answer in SMB2.
            "smb1-multiprotocol".into(),
            build_smb1_negotiate_request(&["NT LM 0.12", "SMB 2.002", "SMB 2.???"], ids).to_vec(),
        ),
        (
            "smb2-all".into(),
            build_smb2_negotiate_request(&ALL_DIALECTS, 0, guid, salt).to_vec(),
        ),
        (
            // A dialect nobody implements: the server must refuse (STATUS_NOT_SUPPORTED).
            "smb2-bogus".into(),
            build_smb2_negotiate_request(&[Smb2Dialect(0x0222)], 0, guid, salt).to_vec(),
        ),
    ];
    for d in ALL_DIALECTS {
        out.push((
            format!("smb2-{:04x}", d.0),
            build_smb2_negotiate_request(&[d], 0, guid, salt).to_vec(),
        ));
    }
    for (name, bytes) in out {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        println!("{name} {hex}");
    }
}
