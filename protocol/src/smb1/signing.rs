//! SMB1 message signing ([MS-CIFS] 3.1.4.1, [MS-SMB] 3.1.4.1): servers that require signing
//! (SecurityMode bit 0x08) drop an authenticated session whose requests are unsigned. Anonymous
//! and guest sessions are never signed.

use md5::{Digest, Md5};

use super::header::{flags2, SMB1_HEADER_LEN};

/// Offset of Flags2 in the SMB1 header.
const FLAGS2_OFFSET: usize = 10;
/// Offset of the 8-byte SecuritySignature in the SMB1 header.
const SIGNATURE_OFFSET: usize = 14;

/// Signs an SMB1 message in place ([MS-CIFS] 3.1.4.1): sets SMB_FLAGS2_SMB_SECURITY_SIGNATURE,
/// writes `sequence` (LE u32, then four zero bytes) into SecuritySignature, and replaces it with
/// the first 8 bytes of MD5(mac_key ‖ message). For an NTLMSSP (extended security) session the
/// MAC key is the 16-byte session key ([MS-SMB] 3.2.5.3). Messages shorter than a header are left
/// untouched.
pub fn sign_smb1_message(msg: &mut [u8], mac_key: &[u8], sequence: u32) {
    if msg.len() < SMB1_HEADER_LEN {
        return;
    }
    if let Some(f2) = msg.get_mut(FLAGS2_OFFSET..FLAGS2_OFFSET + 2) {
        let v = u16::from_le_bytes([
            f2.first().copied().unwrap_or(0),
            f2.get(1).copied().unwrap_or(0),
        ]) | flags2::SECURITY_SIGNATURE;
        f2.copy_from_slice(&v.to_le_bytes());
    }
    let mut seq = [0u8; 8];
    seq[..4].copy_from_slice(&sequence.to_le_bytes());
    if let Some(sig) = msg.get_mut(SIGNATURE_OFFSET..SIGNATURE_OFFSET + 8) {
        sig.copy_from_slice(&seq);
    }
    let mut h = Md5::new();
    h.update(mac_key);
    h.update(&*msg);
    let digest = h.finalize();
    if let (Some(sig), Some(d)) = (
        msg.get_mut(SIGNATURE_OFFSET..SIGNATURE_OFFSET + 8),
        digest.get(..8),
    ) {
        sig.copy_from_slice(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb1::header::{parse_smb1_header, Smb1Command, Smb1Header};
    use bytes::BytesMut;

    #[test]
    fn signature_is_md5_of_key_and_message_with_sequence() {
        let mut b = BytesMut::new();
        Smb1Header::request(Smb1Command::TREE_CONNECT_ANDX, 0x18, 0xC001).write(&mut b);
        b.extend_from_slice(&[0, 0, 0]);
        let mut msg = b.to_vec();
        let key = [0x11u8; 16];
        sign_smb1_message(&mut msg, &key, 2);
        let (h, _) = parse_smb1_header(&msg).expect("header");
        assert_eq!(h.flags2, 0xC005, "signature flag set");
        // Recompute independently: the message with the sequence number in place of the signature.
        let mut check = msg.clone();
        check[14..22].copy_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0]);
        let mut m = Md5::new();
        m.update(key);
        m.update(&check);
        assert_eq!(&h.security_signature[..], &m.finalize()[..8]);
        // A different sequence number gives a different signature.
        let mut other = b.to_vec();
        sign_smb1_message(&mut other, &key, 4);
        assert_ne!(other[14..22], msg[14..22]);
        // Too short: untouched, no panic.
        let mut short = vec![0xFFu8; 10];
        sign_smb1_message(&mut short, &key, 0);
        assert_eq!(short, vec![0xFFu8; 10]);
    }
}
