//! Server-side NTLMSSP CHALLENGE ([MS-NLMP] 2.2.1.2) and the SPNEGO ([RFC 4178], [MS-SPNG])
//! wrappers Windows puts around it, built from a persona's identity.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use smb1scan_protocol::message::filetime_now;
use smb1scan_protocol::ntlmssp::{av_id, message_type, put_ntlmssp_av_pair, NTLMSSP_SIGNATURE};
use smb1scan_protocol::spnego::{der_tlv as der, NEGOEX_OID, NTLMSSP_OID, SPNEGO_OID};
use smb1scan_protocol::util::{u16_le_at, u32_le_at, utf16le as utf16};

use super::personas::NtlmIdentity;

/// Which NTLMSSP message a client blob carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NtlmMessage {
    /// NEGOTIATE (type 1).
    Negotiate,
    /// AUTHENTICATE (type 3); `anonymous` when the user name and NT response are empty
    /// ([MS-NLMP] 3.2.5.1.2, anonymous authentication).
    Authenticate {
        /// True for a null session.
        anonymous: bool,
        /// True when the user name is the built-in Guest account.
        guest: bool,
    },
    /// Anything else (Kerberos, garbage, a type we do not know).
    Other,
}

/// Finds the NTLMSSP message in a security blob (raw or wrapped in SPNEGO) and classifies it.
/// The search is a plain substring scan: the responder does not need to decode the ASN.1.
pub fn classify(blob: &[u8]) -> (NtlmMessage, bool) {
    let spnego = blob.first().is_some_and(|b| *b == 0x60 || *b == 0xa1);
    let Some(pos) = blob
        .windows(NTLMSSP_SIGNATURE.len())
        .position(|w| w == NTLMSSP_SIGNATURE)
    else {
        return (NtlmMessage::Other, spnego);
    };
    let msg = blob.get(pos..).unwrap_or_default();
    // A field cut off by the end of the blob reads as 0: the simulator answers what it can.
    let u16_at = |o: usize| u16_le_at(msg, o).unwrap_or(0);
    let kind = match u32_le_at(msg, 8) {
        Some(message_type::NEGOTIATE) => NtlmMessage::Negotiate,
        Some(message_type::AUTHENTICATE) => {
            // NtChallengeResponseFields @20, UserNameFields @36 (Len u16 first).
            let nt_len = u16_at(20);
            let user_len = usize::from(u16_at(36));
            let user_off = usize::from(u16_at(40)); // low half of the u32 offset
            let user: Vec<u16> = msg
                .get(user_off..user_off.saturating_add(user_len))
                .unwrap_or_default()
                .chunks_exact(2)
                .filter_map(|c| <[u8; 2]>::try_from(c).ok())
                .map(u16::from_le_bytes)
                .collect();
            NtlmMessage::Authenticate {
                anonymous: nt_len == 0 && user_len == 0,
                guest: String::from_utf16_lossy(&user).eq_ignore_ascii_case("guest"),
            }
        }
        _ => NtlmMessage::Other,
    };
    (kind, spnego)
}

/// Eight unpredictable bytes (server challenge, GUID halves, salts). Not cryptographic: this is
/// a simulator, and std's per-process random hasher keys avoid a new dependency.
pub fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(filetime_now());
    h.finish()
}

/// `n` pseudo-random bytes.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    while v.len() < n {
        v.extend_from_slice(&random_u64().to_le_bytes());
    }
    v.truncate(n);
    v
}

/// Builds the NTLMSSP CHALLENGE ([MS-NLMP] 2.2.1.2): TargetName = NetBIOS domain, TargetInfo
/// AV_PAIRs in the order Windows sends them (2, 1, 4, 3, [5], [7], 0), Version with revision 15.
pub fn build_challenge(id: &NtlmIdentity) -> Vec<u8> {
    const HEADER_LEN: usize = 56;
    let target_name = utf16(id.netbios_domain);
    let mut info = Vec::new();
    put_ntlmssp_av_pair(&mut info, av_id::NB_DOMAIN_NAME, &utf16(id.netbios_domain));
    put_ntlmssp_av_pair(
        &mut info,
        av_id::NB_COMPUTER_NAME,
        &utf16(id.netbios_computer),
    );
    put_ntlmssp_av_pair(&mut info, av_id::DNS_DOMAIN_NAME, &utf16(id.dns_domain));
    put_ntlmssp_av_pair(&mut info, av_id::DNS_COMPUTER_NAME, &utf16(id.dns_computer));
    if let Some(tree) = id.dns_tree {
        put_ntlmssp_av_pair(&mut info, av_id::DNS_TREE_NAME, &utf16(tree));
    }
    if id.timestamp {
        put_ntlmssp_av_pair(&mut info, av_id::TIMESTAMP, &filetime_now().to_le_bytes());
    }
    put_ntlmssp_av_pair(&mut info, av_id::EOL, &[]);

    let name_off = HEADER_LEN;
    let info_off = name_off + target_name.len();
    let mut m = Vec::new();
    m.extend_from_slice(&NTLMSSP_SIGNATURE);
    m.extend_from_slice(&message_type::CHALLENGE.to_le_bytes());
    m.extend_from_slice(&(target_name.len() as u16).to_le_bytes());
    m.extend_from_slice(&(target_name.len() as u16).to_le_bytes());
    m.extend_from_slice(&(name_off as u32).to_le_bytes());
    m.extend_from_slice(&id.flags.to_le_bytes());
    m.extend_from_slice(&random_u64().to_le_bytes()); // ServerChallenge
    m.extend_from_slice(&[0; 8]); // Reserved
    m.extend_from_slice(&(info.len() as u16).to_le_bytes());
    m.extend_from_slice(&(info.len() as u16).to_le_bytes());
    m.extend_from_slice(&(info_off as u32).to_le_bytes());
    let (major, minor, build) = id.version;
    m.push(major);
    m.push(minor);
    m.extend_from_slice(&build.to_le_bytes());
    m.extend_from_slice(&[0, 0, 0, 15]); // Reserved[3], NTLMRevisionCurrent = 15
    m.extend_from_slice(&target_name);
    m.extend_from_slice(&info);
    m
}

/// The negTokenInit a server advertises in its NEGOTIATE response ([MS-SPNG] 3.2.5.2):
/// mechTypes NEGOEX, NTLMSSP.
pub fn spnego_init_hint() -> Vec<u8> {
    let mut mechs = NEGOEX_OID.to_vec();
    mechs.extend(NTLMSSP_OID);
    let mech_types = der(0xa0, &der(0x30, &mechs));
    let neg_token_init = der(0xa0, &der(0x30, &mech_types));
    let mut inner = SPNEGO_OID.to_vec();
    inner.extend(neg_token_init);
    der(0x60, &inner)
}

/// negTokenResp ([RFC 4178] 4.2.2): `neg_state` 0 accept-completed, 1 accept-incomplete,
/// 2 reject; with supportedMech NTLMSSP and the token when one is given.
pub fn spnego_resp(neg_state: u8, token: Option<&[u8]>) -> Vec<u8> {
    let mut seq = der(0xa0, &der(0x0a, &[neg_state]));
    if let Some(t) = token {
        seq.extend(der(0xa1, &NTLMSSP_OID));
        seq.extend(der(0xa2, &der(0x04, t)));
    }
    der(0xa1, &der(0x30, &seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_raw_and_wrapped() {
        let mut neg = NTLMSSP_SIGNATURE.to_vec();
        neg.extend_from_slice(&[1, 0, 0, 0, 0x05, 0x02, 0x08, 0xa2]);
        assert_eq!(classify(&neg), (NtlmMessage::Negotiate, false));
        let wrapped = der(0x60, &neg);
        assert_eq!(classify(&wrapped), (NtlmMessage::Negotiate, true));
        let mut auth = NTLMSSP_SIGNATURE.to_vec();
        auth.extend_from_slice(&[3, 0, 0, 0]);
        auth.extend_from_slice(&[0; 60]);
        assert_eq!(
            classify(&auth),
            (
                NtlmMessage::Authenticate {
                    anonymous: true,
                    guest: false
                },
                false
            )
        );
        assert_eq!(classify(b"garbage"), (NtlmMessage::Other, false));
    }
}
