//! NetBIOS Name Service NODE STATUS (RFC 1002 4.2.17, 4.2.18): asks a host, over UDP port 137,
//! for the NetBIOS names it has registered. Port 139 needs the host's name when it refuses the
//! `*SMBSERVER` called name.

use crate::error::{ParseError, Result};

/// The UDP port of the NetBIOS name service (RFC 1002 4.2).
pub const NBNS_PORT: u16 = 137;

/// RR type NBSTAT (RFC 1002 4.2.1.3).
const NBSTAT: u16 = 0x0021;
/// RR class IN.
const CLASS_IN: u16 = 0x0001;
/// Length of a first-level encoded name with its length byte and terminating zero label.
const ENCODED_NAME_LEN: usize = 34;
/// One NODE_NAME entry: 15-byte name, suffix, NAME_FLAGS (RFC 1002 4.2.18).
const NODE_NAME_LEN: usize = 18;
/// NAME_FLAGS bit G: a group name.
const GROUP_FLAG: u16 = 0x8000;

/// Builds a NODE STATUS REQUEST (RFC 1002 4.2.17) for the wildcard name `*` (padded with zeros,
/// as `nmblookup -A` and nmap send it), with transaction id `id`.
pub fn build_node_status_request(id: u16) -> Vec<u8> {
    let mut b = Vec::with_capacity(12 + ENCODED_NAME_LEN + 4);
    b.extend_from_slice(&id.to_be_bytes());
    // Flags 0 (query, not broadcast), QDCOUNT 1, ANCOUNT, NSCOUNT, ARCOUNT 0.
    b.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    b.push(32);
    let mut raw = [0u8; 16];
    raw[0] = b'*';
    for c in raw {
        b.extend_from_slice(&[b'A' + (c >> 4), b'A' + (c & 0x0F)]);
    }
    b.push(0);
    b.extend_from_slice(&NBSTAT.to_be_bytes());
    b.extend_from_slice(&CLASS_IN.to_be_bytes());
    b
}

/// One name from a NODE STATUS RESPONSE (RFC 1002 4.2.18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeName {
    /// The name, trailing spaces removed.
    pub name: String,
    /// The 16th byte: 0x20 file server service, 0x00 workstation, ...
    pub suffix: u8,
    /// A group (domain/workgroup) name rather than a unique one.
    pub group: bool,
}

/// Parses a NODE STATUS RESPONSE (RFC 1002 4.2.18) answering transaction `id`: the host's names.
pub fn parse_node_status_response(i: &[u8], id: u16) -> Result<Vec<NodeName>> {
    let short = |need: usize| ParseError::Truncated {
        what: "NBNS node status response",
        need,
        have: i.len(),
    };
    let u16_at = |k: usize| -> Result<u16> {
        let b: [u8; 2] = i
            .get(k..k + 2)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| short(k + 2))?;
        Ok(u16::from_be_bytes(b))
    };
    if u16_at(0)? != id {
        return Err(ParseError::invalid(
            "NBNS node status response",
            "transaction id does not match the request",
        ));
    }
    // Flags: a response (R bit), no error (RCODE 0).
    let flags = u16_at(2)?;
    if flags & 0x8000 == 0 || flags & 0x000F != 0 {
        return Err(ParseError::invalid(
            "NBNS node status response",
            format!("flags 0x{flags:04X} are not a positive response"),
        ));
    }
    // Header 12, then RR_NAME: a full encoded name, or a 2-byte compression pointer.
    let rr_name_len = match i.get(12) {
        Some(&b) if b & 0xC0 == 0xC0 => 2,
        Some(_) => ENCODED_NAME_LEN,
        None => return Err(short(13)),
    };
    let rr = 12 + rr_name_len;
    if u16_at(rr)? != NBSTAT {
        return Err(ParseError::invalid(
            "NBNS node status response",
            "RR_TYPE is not NBSTAT",
        ));
    }
    // RR_TYPE, RR_CLASS, TTL (4), RDLENGTH, then NUM_NAMES.
    let count = usize::from(*i.get(rr + 10).ok_or_else(|| short(rr + 11))?);
    let names = rr + 11;
    let body = i
        .get(names..names + count * NODE_NAME_LEN)
        .ok_or_else(|| short(names + count * NODE_NAME_LEN))?;
    Ok(body
        .chunks_exact(NODE_NAME_LEN)
        .map(|e| {
            let (name, rest) = e.split_at(15);
            let suffix = rest.first().copied().unwrap_or(0);
            let flags = rest
                .get(1..3)
                .and_then(|f| <[u8; 2]>::try_from(f).ok())
                .map(u16::from_be_bytes)
                .unwrap_or(0);
            NodeName {
                name: String::from_utf8_lossy(name).trim_end().to_string(),
                suffix,
                group: flags & GROUP_FLAG != 0,
            }
        })
        .collect())
}

/// The name to call on port 139 (RFC 1002 4.3.2 CALLED NAME): the unique name registered for the
/// file server service (suffix 0x20), else the unique workstation name (0x00), from the
/// NODE_NAME entries of RFC 1002 4.2.18.
pub fn file_server_name(names: &[NodeName]) -> Option<&str> {
    let unique = |suffix| {
        names
            .iter()
            .find(|n| !n.group && n.suffix == suffix && !n.name.is_empty())
    };
    unique(0x20)
        .or_else(|| unique(0x00))
        .map(|n| n.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node status response as Windows sends it: the wildcard RR_NAME in full, then names.
    pub(crate) fn response(id: u16, names: &[(&str, u8, bool)]) -> Vec<u8> {
        let req = build_node_status_request(id);
        let mut b = id.to_be_bytes().to_vec();
        b.extend_from_slice(&[0x84, 0x00, 0, 0, 0, 1, 0, 0, 0, 0]);
        b.extend_from_slice(&req[12..12 + ENCODED_NAME_LEN]);
        b.extend_from_slice(&[0, 0x21, 0, 1, 0, 0, 0, 0]);
        let rdlen = 1 + names.len() * NODE_NAME_LEN + 46;
        b.extend_from_slice(&(rdlen as u16).to_be_bytes());
        b.push(names.len() as u8);
        for (n, suffix, group) in names {
            let mut raw = [b' '; 15];
            for (d, s) in raw.iter_mut().zip(n.bytes()) {
                *d = s;
            }
            b.extend_from_slice(&raw);
            b.push(*suffix);
            b.extend_from_slice(&if *group { [0x84, 0] } else { [0x04, 0] });
        }
        b.extend_from_slice(&[0u8; 46]); // Statistics.
        b
    }

    #[test]
    fn request_golden() {
        let r = build_node_status_request(0x1234);
        assert_eq!(r.len(), 50);
        assert_eq!(&r[..4], &[0x12, 0x34, 0, 0]);
        assert_eq!(&r[13..15], b"CK");
        assert_eq!(&r[15..45], [b'A'; 30].as_slice());
        assert_eq!(&r[46..], &[0, 0x21, 0, 1]);
    }

    #[test]
    fn picks_the_unique_file_server_name() {
        let r = response(
            7,
            &[
                ("HOSPITAL", 0x00, true),
                ("MRI-CONSOLE", 0x00, false),
                ("MRI-CONSOLE", 0x20, false),
            ],
        );
        let names = parse_node_status_response(&r, 7).unwrap();
        assert_eq!(names.len(), 3);
        assert_eq!(file_server_name(&names), Some("MRI-CONSOLE"));
        assert!(parse_node_status_response(&r, 8).is_err());
        assert!(parse_node_status_response(&r[..60], 7).is_err());
        let only_group = response(7, &[("HOSPITAL", 0x20, true)]);
        let names = parse_node_status_response(&only_group, 7).unwrap();
        assert_eq!(file_server_name(&names), None);
    }
}
