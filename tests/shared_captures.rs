//! Optional replay of the real Windows/Samba captures in `../shared/captures` (see SOURCES.md
//! there) through the session-setup, tree-connect, TRANS, TRANS2, NTLMSSP and SMB2 SESSION_SETUP
//! parsers. The captures are not part of the project: when the folder is absent (outside CI) each
//! test prints that it skipped and passes. Expected values are the facts SOURCES.md lists.

use std::collections::BTreeMap;
use std::path::PathBuf;

use smb1scan_protocol::ntlmssp::parse_ntlmssp_challenge;
use smb1scan_protocol::smb1::session_setup::parse_smb1_session_setup_response;
use smb1scan_protocol::smb1::trans::parse_smb1_trans_response;
use smb1scan_protocol::smb1::trans2::{interpret_doublepulsar_reply, Arch, DoublePulsarReply};
use smb1scan_protocol::smb1::tree_connect::parse_smb1_tree_connect_response;
use smb1scan_protocol::smb1::{parse_smb1_header, Smb1Command};
use smb1scan_protocol::smb2::session_setup::parse_smb2_session_setup_response;
use smb1scan_protocol::spnego::spnego_find_ntlmssp;
use smb1scan_protocol::{DosError, NtStatus, SmbError};

fn captures_dir() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/captures");
    if d.is_dir() {
        Some(d)
    } else {
        println!("skipped: {} not present", d.display());
        None
    }
}

/// SMB messages (NBSS payloads) sent by the server (TCP source port 445 or 139), in file order.
/// Minimal classic-pcap reader: Ethernet (with 802.1Q) or Linux SLL, IPv4, TCP; NBSS frames
/// wholly inside one segment (true for every server reply in these files).
fn server_messages(file: &str) -> Option<Vec<Vec<u8>>> {
    let data = std::fs::read(captures_dir()?.join(file)).expect("read capture");
    let le = match data.get(..4)? {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => panic!("{file}: not a classic pcap"),
    };
    let u32_at = |b: &[u8], k: usize| {
        let a: [u8; 4] = b[k..k + 4].try_into().expect("4 bytes");
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let linktype = u32_at(&data, 20);
    let mut out = Vec::new();
    let mut pos = 24;
    while pos + 16 <= data.len() {
        let incl = u32_at(&data, pos + 8) as usize;
        let frame = &data[pos + 16..(pos + 16 + incl).min(data.len())];
        pos += 16 + incl;
        let (mut off, mut ethertype) = match linktype {
            1 => (14, u16::from_be_bytes([frame[12], frame[13]])),
            113 => (16, u16::from_be_bytes([frame[14], frame[15]])),
            other => panic!("{file}: linktype {other}"),
        };
        while ethertype == 0x8100 {
            ethertype = u16::from_be_bytes([frame[off + 2], frame[off + 3]]);
            off += 4;
        }
        if ethertype != 0x0800 || frame.len() < off + 20 || frame[off + 9] != 6 {
            continue;
        }
        let ihl = usize::from(frame[off] & 0x0F) * 4;
        let total = usize::from(u16::from_be_bytes([frame[off + 2], frame[off + 3]]));
        let tcp = off + ihl;
        let ip_end = (off + total).min(frame.len());
        if tcp + 20 > ip_end {
            continue;
        }
        let sport = u16::from_be_bytes([frame[tcp], frame[tcp + 1]]);
        let doff = usize::from(frame[tcp + 12] >> 4) * 4;
        let mut p = &frame[tcp + doff..ip_end];
        if sport != 445 && sport != 139 {
            continue;
        }
        while p.len() >= 4 {
            let len = (usize::from(p[1]) << 16) | (usize::from(p[2]) << 8) | usize::from(p[3]);
            if p[0] != 0 || p.len() < 4 + len {
                break;
            }
            out.push(p[4..4 + len].to_vec());
            p = &p[4 + len..];
        }
    }
    Some(out)
}

fn smb1_replies(msgs: &[Vec<u8>], cmd: Smb1Command) -> Vec<&Vec<u8>> {
    msgs.iter()
        .filter(|m| {
            parse_smb1_header(m)
                .map(|(h, _)| h.command == cmd && h.is_reply())
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn ms17_010_vulnerable_replies() {
    for file in [
        "win7-enterprise-sp1-x64-unpatched-ms17-010-check-wannacry.pcap",
        "win7-enterprise-sp1-x86-unpatched-ms17-010-check-wannacry.pcap",
        "win2012r2-dc-unpatched-ms17-010-check-wannacry.pcap",
        "win7-homebasic-sp1-unpatched-ms17-010-check-msf.pcap",
        "winxp-sp3-unpatched-ms17-010-check-msf.pcap",
        "winxp-sp3-unpatched-ms17-010-check-and-doublepulsar-ping-msf.pcap",
        "win2008r2-std-sp1-unpatched-ms17-010-check-pysmb-1.pcap",
    ] {
        let Some(msgs) = server_messages(file) else {
            return;
        };
        let trans = smb1_replies(&msgs, Smb1Command::TRANSACTION);
        let (h, r) = parse_smb1_trans_response(trans.first().expect(file)).expect(file);
        assert_eq!(
            h.status(),
            SmbError::Nt(NtStatus::INSUFF_SERVER_RESOURCES),
            "{file}"
        );
        assert_eq!(r.word_count, 0, "{file}");
    }
}

#[test]
fn doublepulsar_replies() {
    // (file, expected) — keys: Metasploit's formula on the signatures in SOURCES.md (c).
    let cases: [(&str, DoublePulsarReply); 6] = [
        (
            "win7-enterprise-sp1-x64-doublepulsar-ping-infected-wannacry.pcap",
            DoublePulsarReply::Present {
                arch: Arch::X64,
                xor_key: 0x57d0_c042,
            },
        ),
        (
            "win7-ultimate-rtm-x64-doublepulsar-ping-infected-nixawk.pcap",
            DoublePulsarReply::Present {
                arch: Arch::X64,
                xor_key: 0xc57f_38ff,
            },
        ),
        (
            "win2008r2-datacenter-sp1-x64-doublepulsar-ping-infected-fuzzbunch.pcap",
            DoublePulsarReply::Present {
                arch: Arch::X64,
                xor_key: 0xdebd_96cd,
            },
        ),
        (
            "win7-enterprise-sp1-x64-doublepulsar-ping-not-infected-wannacry.pcap",
            DoublePulsarReply::Absent,
        ),
        (
            "win7-homebasic-sp1-unpatched-ms17-010-check-msf.pcap",
            DoublePulsarReply::Absent,
        ),
        (
            "winxp-sp3-unpatched-ms17-010-check-and-doublepulsar-ping-msf.pcap",
            DoublePulsarReply::Absent,
        ),
    ];
    for (file, want) in cases {
        let Some(msgs) = server_messages(file) else {
            return;
        };
        let replies = smb1_replies(&msgs, Smb1Command::TRANSACTION2);
        let (h, _) = parse_smb1_header(replies.first().expect(file)).expect(file);
        assert_eq!(
            h.status(),
            SmbError::Nt(NtStatus::NOT_IMPLEMENTED),
            "{file}"
        );
        assert_eq!(interpret_doublepulsar_reply(65, &h), want, "{file}");
    }
}

#[test]
fn session_setup_native_os_and_refusal() {
    let cases = [
        (
            "win7-enterprise-sp1-x64-unpatched-ms17-010-check-wannacry.pcap",
            "Windows 7 Enterprise 7601 Service Pack 1",
            "Windows 7 Enterprise 6.1",
        ),
        (
            "win7-homebasic-sp1-unpatched-ms17-010-check-msf.pcap",
            "Windows 7 Home Basic 7601 Service Pack 1",
            "Windows 7 Home Basic 6.1",
        ),
        (
            "win2012r2-dc-unpatched-ms17-010-check-wannacry.pcap",
            "Windows Server 2012 R2 Datacenter Evaluation 9600",
            "Windows Server 2012 R2 Datacenter Evaluation 6.3",
        ),
        (
            "winxp-sp3-unpatched-ms17-010-check-msf.pcap",
            "Windows 5.1",
            "Windows 2000 LAN Manager",
        ),
        (
            "samba-4.5.2-debian-smb1-negotiate-session-setup.pcap",
            "Windows 6.1",
            "Samba 4.5.2-Debian",
        ),
    ];
    for (file, os, lm) in cases {
        let Some(msgs) = server_messages(file) else {
            return;
        };
        let found = smb1_replies(&msgs, Smb1Command::SESSION_SETUP_ANDX)
            .into_iter()
            .filter_map(|m| parse_smb1_session_setup_response(m).ok())
            .any(|(_, r)| {
                r.native_os.as_deref() == Some(os) && r.native_lanman.as_deref() == Some(lm)
            });
        assert!(found, "{file}: no SESSION_SETUP reply with {os:?} / {lm:?}");
    }
    let file = "win2012r2-anonymous-session-setup-access-denied-wannacry.pcap";
    let Some(msgs) = server_messages(file) else {
        return;
    };
    let ss = smb1_replies(&msgs, Smb1Command::SESSION_SETUP_ANDX);
    let (h, r) = parse_smb1_session_setup_response(ss.first().expect(file)).expect(file);
    assert_eq!(h.status(), SmbError::Nt(NtStatus::ACCESS_DENIED));
    assert_eq!(r.word_count, 0);
}

#[test]
fn dos_errors_from_xp() {
    let file = "winxp-sp3-dos-error-tree-connect-and-trans-python-checker.pcap";
    let Some(msgs) = server_messages(file) else {
        return;
    };
    let tc = smb1_replies(&msgs, Smb1Command::TREE_CONNECT_ANDX);
    let (h, _) = parse_smb1_tree_connect_response(tc.first().expect(file)).expect(file);
    assert_eq!(h.status(), SmbError::Dos(DosError { class: 2, code: 1 }));
    let tr = smb1_replies(&msgs, Smb1Command::TRANSACTION);
    let (h, _) = parse_smb1_trans_response(tr.first().expect(file)).expect(file);
    assert_eq!(h.status(), SmbError::Dos(DosError { class: 2, code: 5 }));
}

/// The NTLMSSP Version in the CHALLENGE, over SMB1 or SMB2, as SOURCES.md (d)/(e) lists it.
#[test]
fn ntlmssp_versions() {
    let cases = [
        (
            "win2008r2-std-sp1-smb1-negotiate-session-setup-extsec.pcap",
            "6.1.7601",
        ),
        (
            "win81-9600-smb1-negotiate-session-setup-port139.pcap",
            "6.3.9600",
        ),
        (
            "win10-home-15063-smb1-negotiate-session-setup.pcap",
            "10.0.15063",
        ),
        (
            "win2016-datacenter-14393-smb1-negotiate-session-setup.pcap",
            "10.0.14393",
        ),
        (
            "win2019-standard-17763-smb1-negotiate-session-setup.pcap",
            "10.0.17763",
        ),
        ("winxp-smb1-negotiate-session-setup-extsec.pcap", "5.1.2600"),
        (
            "samba-4.5.2-debian-smb1-negotiate-session-setup.pcap",
            "6.1.0",
        ),
        (
            "win2019-17763-smb2-negotiate-multiprotocol-then-311.pcap",
            "10.0.17763",
        ),
        (
            "win2022-20348-smb2-negotiate-multiprotocol-then-300.pcap",
            "10.0.20348",
        ),
        ("win10-19041-smb2-negotiate-311.pcap", "10.0.19041"),
    ];
    for (file, want) in cases {
        let Some(msgs) = server_messages(file) else {
            return;
        };
        let mut versions = BTreeMap::new();
        for m in &msgs {
            let blob = if let Ok((_, r)) = parse_smb1_session_setup_response(m) {
                r.security_blob.to_vec()
            } else if let Ok((_, r)) = parse_smb2_session_setup_response(m) {
                r.security_buffer.to_vec()
            } else {
                continue;
            };
            if let Some(c) =
                spnego_find_ntlmssp(&blob).and_then(|t| parse_ntlmssp_challenge(t).ok())
            {
                if let Some(v) = c.version {
                    versions.insert(v.to_string(), c.target_info.nb_computer_name.clone());
                }
            }
        }
        assert!(
            versions.contains_key(want),
            "{file}: CHALLENGE versions {versions:?}, expected {want}"
        );
    }
}

/// Every SMB1 session-setup / tree-connect / TRANS reply and SMB2 session-setup reply in every
/// capture parses without error.
#[test]
fn every_reply_parses() {
    let Some(dir) = captures_dir() else {
        return;
    };
    let mut n = 0;
    for e in std::fs::read_dir(dir).expect("list") {
        let name = e.expect("entry").file_name().to_string_lossy().into_owned();
        if !name.ends_with(".pcap") {
            continue;
        }
        for m in server_messages(&name).unwrap_or_default() {
            if let Ok((h, _)) = parse_smb1_header(&m) {
                let r = match h.command {
                    Smb1Command::SESSION_SETUP_ANDX => {
                        parse_smb1_session_setup_response(&m).map(|_| ())
                    }
                    Smb1Command::TREE_CONNECT_ANDX => {
                        parse_smb1_tree_connect_response(&m).map(|_| ())
                    }
                    Smb1Command::TRANSACTION => parse_smb1_trans_response(&m).map(|_| ()),
                    _ => continue,
                };
                assert!(r.is_ok(), "{name}: {:?} {r:?}", h.command);
                n += 1;
            } else if m.get(..4) == Some(&[0xFE, b'S', b'M', b'B'][..]) && m.get(12) == Some(&1) {
                let r = parse_smb2_session_setup_response(&m);
                assert!(r.is_ok(), "{name}: SMB2 SESSION_SETUP {r:?}");
                n += 1;
            }
        }
    }
    assert!(n > 40, "only {n} replies found");
}
