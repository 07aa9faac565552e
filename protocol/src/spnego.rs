//! Minimal SPNEGO ([RFC 4178], [MS-SPNG]) DER for carrying NTLMSSP in SESSION_SETUP: the client's
//! NegTokenInit offering only NTLMSSP, the NegTokenResp that carries the AUTHENTICATE, and a
//! bounded search for the NTLMSSP message inside whatever a server sends back.

use bytes::Bytes;

use crate::ntlmssp::NTLMSSP_SIGNATURE;

/// DER of OID 1.3.6.1.5.5.2 (SPNEGO, [RFC 4178] 3), with tag and length.
pub const SPNEGO_OID: [u8; 8] = [0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
/// DER of OID 1.3.6.1.4.1.311.2.2.10 (NTLMSSP, [MS-NLMP] 1.9), with tag and length.
pub const NTLMSSP_OID: [u8; 12] = [
    0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a,
];

/// DER of OID 1.3.6.1.4.1.311.2.2.30 (NEGOEX, [MS-NEGOEX] 1.9), with tag and length: Windows 7
/// and later list it first in the mechTypes they advertise.
pub const NEGOEX_OID: [u8; 12] = [
    0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e,
];

/// Largest blob [`spnego_find_ntlmssp`] searches (bytes); SESSION_SETUP blobs are well under this.
/// Bounds the SecurityBlob of [MS-SMB] 2.2.4.6.2 / SecurityBuffer of [MS-SMB2] 2.2.6.
pub const MAX_SPNEGO_SEARCH: usize = 64 * 1024;

/// DER length octets: short form below 128, long form (0x81 / 0x82 / 0x83 + big-endian) above.
fn der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xFF {
        out.extend_from_slice(&[0x81, len as u8]);
    } else if len <= 0xFFFF {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    } else {
        out.extend_from_slice(&[0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8]);
    }
}

/// One DER TLV ([X.690] 8.1): `tag`, the definite length, `content`.
pub fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 5);
    out.push(tag);
    der_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// Wraps an NTLMSSP NEGOTIATE in a GSS-API InitialContextToken holding a NegTokenInit
/// ([RFC 4178] 4.2.1): `60 { OID spnego, a0 { 30 { a0 { 30 { OID ntlmssp } }, a2 { 04 token } } } }`.
pub fn build_spnego_neg_token_init(ntlm_negotiate: &[u8]) -> Bytes {
    let mech_types = der_tlv(0xa0, &der_tlv(0x30, &NTLMSSP_OID));
    let mech_token = der_tlv(0xa2, &der_tlv(0x04, ntlm_negotiate));
    let mut seq = mech_types;
    seq.extend_from_slice(&mech_token);
    let neg_token_init = der_tlv(0xa0, &der_tlv(0x30, &seq));
    let mut inner = SPNEGO_OID.to_vec();
    inner.extend_from_slice(&neg_token_init);
    der_tlv(0x60, &inner).into()
}

/// Wraps an NTLMSSP AUTHENTICATE in a NegTokenResp ([RFC 4178] 4.2.2) with only responseToken:
/// `a1 { 30 { a2 { 04 token } } }`.
pub fn build_spnego_neg_token_resp(ntlm_auth: &[u8]) -> Bytes {
    der_tlv(
        0xa1,
        &der_tlv(0x30, &der_tlv(0xa2, &der_tlv(0x04, ntlm_auth))),
    )
    .into()
}

/// Reads a DER length at `b[pos..]`: (length, octets used). Definite forms up to 3 length bytes.
fn read_der_len(b: &[u8], pos: usize) -> Option<(usize, usize)> {
    let first = *b.get(pos)?;
    if first < 0x80 {
        return Some((usize::from(first), 1));
    }
    let n = usize::from(first & 0x7F);
    if n == 0 || n > 3 {
        return None;
    }
    let mut len = 0usize;
    for k in 1..=n {
        len = (len << 8) | usize::from(*b.get(pos + k)?);
    }
    Some((len, 1 + n))
}

/// Locates the NTLMSSP message inside a server's security blob, robustly: raw NTLMSSP (some servers
/// skip SPNEGO), or any SPNEGO/GSS wrapping. Finds the first `NTLMSSP\0` within the first
/// [`MAX_SPNEGO_SEARCH`] bytes; when a DER OCTET STRING header immediately precedes it, the result is
/// cut to that string's length, otherwise it runs to the end of the blob (NTLMSSP offsets are
/// relative to its own start, so trailing bytes do no harm).
/// Spec: [RFC 4178] 4.2, [MS-SPNG] 2.2, [MS-NLMP] 2.2.1.
pub fn spnego_find_ntlmssp(blob: &[u8]) -> Option<&[u8]> {
    let hay = blob.get(..MAX_SPNEGO_SEARCH).unwrap_or(blob);
    let pos = hay
        .windows(NTLMSSP_SIGNATURE.len())
        .position(|w| w == NTLMSSP_SIGNATURE)?;
    let rest = blob.get(pos..)?;
    // OCTET STRING headers are 2..=5 bytes: 04 + length octets.
    for hdr in 2..=5usize {
        let Some(start) = pos.checked_sub(hdr) else {
            break;
        };
        if blob.get(start) == Some(&0x04) {
            if let Some((len, used)) = read_der_len(blob, start + 1) {
                if 1 + used == hdr && len >= NTLMSSP_SIGNATURE.len() {
                    return Some(rest.get(..len).unwrap_or(rest));
                }
            }
        }
    }
    Some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths() {
        assert_eq!(der_tlv(0x04, &[0; 3]), vec![0x04, 3, 0, 0, 0]);
        assert_eq!(
            der_tlv(0x04, &[0; 200]).get(..3),
            Some(&[0x04, 0x81, 200][..])
        );
        assert_eq!(
            der_tlv(0x04, &[0; 300]).get(..4),
            Some(&[0x04, 0x82, 1, 44][..])
        );
        assert_eq!(
            der_tlv(0x04, &[0; 70_000]).get(..5),
            Some(&[0x04, 0x83, 1, 0x11, 0x70][..])
        );
        // The OID constants are complete TLVs.
        assert_eq!(der_tlv(0x06, &SPNEGO_OID[2..]), SPNEGO_OID);
        assert_eq!(der_tlv(0x06, &NEGOEX_OID[2..]), NEGOEX_OID);
    }
    use crate::ntlmssp::build_ntlmssp_negotiate;
    use crate::test_util::hex;

    #[test]
    fn neg_token_init_golden() {
        let ntlm = build_ntlmssp_negotiate();
        let t = build_spnego_neg_token_init(&ntlm);
        // 60 48 | 06 06 2b0601050502 | a0 3e | 30 3c | a0 0e | 30 0c | 06 0a 2b0601040182370202 0a
        // | a2 2a | 04 28 | <40-byte NEGOTIATE>
        let want = format!(
            "6048{}a03e303ca00e300c060a2b06010401823702020aa22a0428{}",
            "06062b0601050502",
            hex(&ntlm)
        );
        assert_eq!(hex(&t), want);
        assert_eq!(spnego_find_ntlmssp(&t), Some(&ntlm[..]));
    }

    #[test]
    fn long_form_lengths() {
        // A 300-byte token needs 0x82 lengths throughout.
        let mut tok = NTLMSSP_SIGNATURE.to_vec();
        tok.resize(300, 0x11);
        let r = build_spnego_neg_token_resp(&tok);
        // a1 82 0138 | 30 82 0134 | a2 82 0130 | 04 82 012c | token
        assert_eq!(
            hex(r.get(..15).unwrap_or_default()),
            "a182013830820134a2820130048201"
        );
        assert_eq!(r.len(), 316);
        assert_eq!(spnego_find_ntlmssp(&r), Some(&tok[..]));
        // 200 bytes: 0x81 form.
        let mut tok = NTLMSSP_SIGNATURE.to_vec();
        tok.resize(200, 0);
        let r = build_spnego_neg_token_resp(&tok);
        assert_eq!(
            hex(r.get(..12).unwrap_or_default()),
            "a181d13081cea281cb0481c8"
        );
    }

    #[test]
    fn find_in_server_blobs() {
        // A server NegTokenResp (accept-incomplete, supportedMech NTLMSSP, responseToken, then a
        // trailing mechListMIC) — the shape Windows and Samba send with the CHALLENGE.
        let chal = {
            let mut c = NTLMSSP_SIGNATURE.to_vec();
            c.extend_from_slice(&[2, 0, 0, 0, 0xAB, 0xCD]);
            c
        };
        let mut seq = der_tlv(0xa0, &[0x0a, 0x01, 0x01]);
        seq.extend_from_slice(&der_tlv(0xa1, &NTLMSSP_OID));
        seq.extend_from_slice(&der_tlv(0xa2, &der_tlv(0x04, &chal)));
        seq.extend_from_slice(&der_tlv(0xa3, &der_tlv(0x04, &[9; 16])));
        let blob = der_tlv(0xa1, &der_tlv(0x30, &seq));
        assert_eq!(spnego_find_ntlmssp(&blob), Some(&chal[..]));
        // Raw NTLMSSP, no SPNEGO.
        assert_eq!(spnego_find_ntlmssp(&chal), Some(&chal[..]));
        // Nothing there, empty, or a lying OCTET STRING length: no panic.
        assert_eq!(spnego_find_ntlmssp(&[0x60, 0x03, 0x01, 0x02, 0x03]), None);
        assert_eq!(spnego_find_ntlmssp(&[]), None);
        let mut lying = vec![0x04, 0x82, 0xFF, 0xFF];
        lying.extend_from_slice(&chal);
        assert_eq!(spnego_find_ntlmssp(&lying), Some(&chal[..]));
    }
}
