//! SMB 3.1.1 compression negotiation ([MS-SMB2] 2.2.3.1.3 request context, 2.2.4.1.3 response):
//! the NEGOTIATE that asks for compression, and the algorithms a server's answer offers. This is
//! what the SMBGhost / SMBleed check (CVE-2020-0796, CVE-2020-1206) needs; no compressed message
//! is ever sent.

use bytes::{BufMut, Bytes, BytesMut};

use crate::smb2::negotiate::{
    build_smb2_negotiate_request, Smb2Dialect, Smb2NegotiateContextType, Smb2NegotiateResponse,
    PREAUTH_SALT_LEN,
};

/// CompressionAlgorithms values ([MS-SMB2] 2.2.3.1.3).
pub mod algorithm {
    /// NONE.
    pub const NONE: u16 = 0x0000;
    /// LZNT1.
    pub const LZNT1: u16 = 0x0001;
    /// LZ77.
    pub const LZ77: u16 = 0x0002;
    /// LZ77+Huffman.
    pub const LZ77_HUFFMAN: u16 = 0x0003;
    /// Pattern_V1.
    pub const PATTERN_V1: u16 = 0x0004;
    /// LZ4.
    pub const LZ4: u16 = 0x0005;
}

/// The algorithms smb1scan offers: the three Windows 10 1903/1909 implement, so an affected
/// server always finds one in common.
pub const OFFERED: [u16; 3] = [algorithm::LZ77, algorithm::LZ77_HUFFMAN, algorithm::LZNT1];

/// Most algorithms read from a response context (five are defined; the bound keeps a hostile
/// count cheap).
pub const MAX_COMPRESSION_ALGORITHMS: usize = 16;

/// Offset of NegotiateContextCount in a 3.1.1 NEGOTIATE request: header (64), StructureSize,
/// DialectCount, SecurityMode, Reserved (2 each), Capabilities (4), ClientGuid (16),
/// NegotiateContextOffset (4) ([MS-SMB2] 2.2.3).
const CONTEXT_COUNT_AT: usize = 64 + 2 + 2 + 2 + 2 + 4 + 16 + 4;

/// Builds an SMB2 NEGOTIATE request offering `dialects` (3.1.1 must be among them, else the
/// request is [`build_smb2_negotiate_request`]'s, without contexts) with the usual
/// PREAUTH_INTEGRITY and ENCRYPTION contexts plus a COMPRESSION_CAPABILITIES context
/// ([MS-SMB2] 2.2.3.1.3): CompressionAlgorithmCount 3, Flags NONE (no chained compression),
/// [`OFFERED`]. Returns the bare SMB2 message. Checked with tshark 4.0
/// (protocol/tests/pipe_dissect.rs).
pub fn build_smb2_negotiate_with_compression(
    dialects: &[Smb2Dialect],
    message_id: u64,
    client_guid: [u8; 16],
    salt: [u8; PREAUTH_SALT_LEN],
) -> Bytes {
    let base = build_smb2_negotiate_request(dialects, message_id, client_guid, salt);
    if !dialects.contains(&Smb2Dialect::SMB3_1_1) {
        return base;
    }
    let mut b = BytesMut::from(&base[..]);
    if let Some([c0, c1]) = b.get_mut(CONTEXT_COUNT_AT..CONTEXT_COUNT_AT + 2) {
        let n = u16::from_le_bytes([*c0, *c1]).saturating_add(1);
        [*c0, *c1] = n.to_le_bytes();
    }
    while b.len() % 8 != 0 {
        b.put_u8(0);
    }
    let mut data = BytesMut::with_capacity(8 + 2 * OFFERED.len());
    data.put_u16_le(OFFERED.len() as u16); // CompressionAlgorithmCount
    data.put_u16_le(0); // Padding
    data.put_u32_le(0); // Flags: SMB2_COMPRESSION_CAPABILITIES_FLAG_NONE
    for a in OFFERED {
        data.put_u16_le(a);
    }
    b.put_u16_le(Smb2NegotiateContextType::COMPRESSION_CAPABILITIES.0);
    b.put_u16_le(data.len() as u16);
    b.put_u32_le(0); // Reserved
    b.put_slice(&data);
    b.freeze()
}

/// The compression algorithms a NEGOTIATE response's COMPRESSION_CAPABILITIES context offers
/// ([MS-SMB2] 2.2.4.1.3, 3.3.5.4), without NONE: empty when the response has no such context,
/// names only NONE (no algorithm in common), or the context is cut short.
pub fn compression_algorithms(resp: &Smb2NegotiateResponse<'_>) -> Vec<u16> {
    let Some(ctx) = resp.context(Smb2NegotiateContextType::COMPRESSION_CAPABILITIES) else {
        return Vec::new();
    };
    parse_compression_context(ctx.data)
}

/// The algorithms of a COMPRESSION_CAPABILITIES context's data (CompressionAlgorithmCount,
/// Padding, Flags, CompressionAlgorithms), NONE left out, at most
/// [`MAX_COMPRESSION_ALGORITHMS`]. Spec: [MS-SMB2] 2.2.3.1.3.
pub fn parse_compression_context(data: &[u8]) -> Vec<u16> {
    let count = match data {
        [c0, c1, ..] => usize::from(u16::from_le_bytes([*c0, *c1])).min(MAX_COMPRESSION_ALGORITHMS),
        _ => return Vec::new(),
    };
    data.get(8..)
        .unwrap_or_default()
        .chunks_exact(2)
        .take(count)
        .filter_map(|c| <[u8; 2]>::try_from(c).ok())
        .map(u16::from_le_bytes)
        .filter(|a| *a != algorithm::NONE)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIALECTS: [Smb2Dialect; 5] = crate::smb2::negotiate::ALL_DIALECTS;

    #[test]
    fn request_carries_three_contexts_with_compression_last() {
        let m = build_smb2_negotiate_with_compression(&DIALECTS, 1, [7; 16], [9; 32]);
        assert_eq!(
            m.get(CONTEXT_COUNT_AT..CONTEXT_COUNT_AT + 2),
            Some(&[3u8, 0][..])
        );
        // Walk the contexts from NegotiateContextOffset, 8-byte aligned.
        let off = u32::from_le_bytes(
            m.get(92..96)
                .and_then(|s| s.try_into().ok())
                .unwrap_or([0; 4]),
        );
        let mut at = off as usize;
        let mut types = Vec::new();
        for _ in 0..3 {
            at = at.next_multiple_of(8);
            let t = m.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]));
            let len = m
                .get(at + 2..at + 4)
                .map(|s| usize::from(u16::from_le_bytes([s[0], s[1]])));
            types.push(t);
            if t == Some(Smb2NegotiateContextType::COMPRESSION_CAPABILITIES.0) {
                let data = m.get(at + 8..at + 8 + len.unwrap_or(0)).unwrap_or_default();
                assert_eq!(parse_compression_context(data), OFFERED.to_vec());
            }
            at += 8 + len.unwrap_or(0);
        }
        assert_eq!(types, [Some(1), Some(2), Some(3)]);
        assert_eq!(
            at,
            m.len(),
            "the compression context is the last thing in the message"
        );
        // Without 3.1.1, the plain request.
        let plain = [Smb2Dialect::SMB2_0_2, Smb2Dialect::SMB2_1];
        assert_eq!(
            build_smb2_negotiate_with_compression(&plain, 1, [7; 16], [9; 32]),
            build_smb2_negotiate_request(&plain, 1, [7; 16], [9; 32])
        );
    }

    #[test]
    fn response_context_data() {
        // One algorithm chosen (what Windows 10 1909 answers: LZ77).
        assert_eq!(
            parse_compression_context(&[1, 0, 0, 0, 0, 0, 0, 0, 2, 0]),
            vec![2]
        );
        // NONE only: nothing in common.
        assert!(parse_compression_context(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_empty());
        // Count larger than the data: what is there.
        assert_eq!(
            parse_compression_context(&[9, 0, 0, 0, 1, 0, 0, 0, 1, 0, 3]),
            vec![1]
        );
        // Cut short.
        assert!(parse_compression_context(&[1]).is_empty());
        assert!(parse_compression_context(&[]).is_empty());
        // A hostile count is bounded.
        let mut big = vec![0xFF, 0xFF, 0, 0, 0, 0, 0, 0];
        big.extend([1, 0].repeat(100));
        assert_eq!(
            parse_compression_context(&big).len(),
            MAX_COMPRESSION_ALGORITHMS
        );
    }
}
