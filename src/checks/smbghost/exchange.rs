//! SMBGhost's exchange, folded into the probe's shared SMB2 NEGOTIATE (the one that offers every
//! dialect and records the server's facts): when the check is selected, that request also
//! carries a COMPRESSION_CAPABILITIES context ([MS-SMB2] 2.2.3.1.3), and the algorithms the
//! response's context offers ([MS-SMB2] 2.2.4.1.3) are written into the `smbghost` section. No
//! packet and no connection is added, so the per-host deadline and the other checks' exchanges
//! are untouched; a server that ignores the context answers exactly as before ([MS-SMB2]
//! 3.3.5.4: unknown or unsupported contexts are ignored). One that stalls on it or answers it
//! with an error status, after answering the SMB1 steps, gets the plain negotiate once more
//! (src/probe/smb2.rs), so its SMB2 facts and the other checks' verdicts stay what they were;
//! smbghost is then unknown.

use bytes::Bytes;
use smb1scan_protocol::smb2::compression::{
    build_smb2_negotiate_with_compression, compression_algorithms,
};
use smb1scan_protocol::smb2::negotiate::{
    build_smb2_negotiate_request, Smb2Dialect, Smb2NegotiateResponse, PREAUTH_SALT_LEN,
};

use super::{Section, NAME};
use crate::checks::Selection;
use crate::model::HostResult;

/// Whether the check runs: the probe then asks for compression in its shared negotiate.
pub fn selected(checks: &Selection) -> bool {
    checks.contains(NAME)
}

/// A negotiate request: with the compression context when `compress` (the shared negotiate,
/// when [`selected`]), else the plain request.
pub fn negotiate_request(
    compress: bool,
    dialects: &[Smb2Dialect],
    client_guid: [u8; 16],
    salt: [u8; PREAUTH_SALT_LEN],
) -> Bytes {
    if compress {
        build_smb2_negotiate_with_compression(dialects, 0, client_guid, salt)
    } else {
        build_smb2_negotiate_request(dialects, 0, client_guid, salt)
    }
}

/// Records what the answer to [`negotiate_request`] shows, when it carried the context
/// (`compress`): the dialect chosen and the compression algorithms offered.
pub fn observe(compress: bool, h: &mut HostResult, resp: &Smb2NegotiateResponse<'_>) {
    if !compress {
        return;
    }
    let seen = Section::observed(
        resp.dialect_revision == Smb2Dialect::SMB3_1_1,
        &compression_algorithms(resp),
    );
    crate::checks::set_section(h, NAME, &seen);
}
