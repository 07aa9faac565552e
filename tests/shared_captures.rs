//! Optional replay of the real Windows/Samba captures in `../shared/captures` (see SOURCES.md
//! there), from the repository root. One pcap reader serves two kinds of checks:
//! - the parsers: session setup, tree connect, TRANS, TRANS2, NTLMSSP and SMB2 SESSION_SETUP
//!   replies read as SOURCES.md lists them;
//! - the verdict rules (`verdict_*` tests): each captured host's replies go through
//!   `smb1scan::probe::verdict` in the probe's order, into a `HostResult` that `finalise`
//!   completes, and the record must say what those replies prove, no more (docs/verdicts.md,
//!   "Checked against real captures").
//!
//! The captures are not part of the project and nothing is copied from them: when the folder is
//! absent (a user's clone) each test prints `SKIPPED` and passes; CI has a copy beside the clone,
//! so with `CI` set a missing folder fails every test that needs it.

mod common;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use smb1scan::model::{DpVerdict, HostResult, HostStatus, Ms17Verdict, Reason, Smb1Evidence};
use smb1scan::probe::verdict::{
    doublepulsar_from_ping, finalise, mark_unfinished, ms17_from_peek, refusal_reason,
    smb1_enabled, smb1_evidence, try_next_login, Failure, PingSession, Smb1NegotiateReply,
};
use smb1scan::report::risk::{risk, Risk};
use smb1scan_protocol::message::{parse_smb_message, SmbMessage};
use smb1scan_protocol::smb1::negotiate::{parse_smb1_negotiate_response, Smb1NegotiateResponse};
use smb1scan_protocol::smb1::trans::TransSubcommand;
use smb1scan_protocol::smb1::trans2::{Trans2Subcommand, DOUBLEPULSAR_MID_DELTA};
use smb1scan_protocol::smb1::{parse_smb1_body, Smb1Header};
use smb1scan_protocol::smb2::negotiate::{
    parse_smb2_negotiate_outcome, Smb2Dialect, Smb2NegotiateOutcome,
};

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
    captures_at(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/captures"),
        common::in_ci(),
    )
}

/// `dir` when it exists; otherwise a loud skip, or under CI a failure: CI has the captures
/// beside the clone, so their absence there is a broken set-up, never a pass.
fn captures_at(dir: PathBuf, ci: bool) -> Option<PathBuf> {
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        !ci,
        "{} is missing, and CI is set: the capture replays cannot pass without their captures",
        dir.display()
    );
    println!(
        "SKIPPED: {} not present (the capture replays need it)",
        dir.display()
    );
    eprintln!(
        "SKIPPED: {} not present (the capture replays need it)",
        dir.display()
    );
    None
}

#[test]
#[should_panic(expected = "CI is set")]
fn missing_captures_fail_under_ci() {
    let _ = captures_at(PathBuf::from("/nonexistent-smb1scan-captures"), true);
}

#[test]
fn missing_captures_skip_outside_ci() {
    assert_eq!(
        captures_at(PathBuf::from("/nonexistent-smb1scan-captures"), false),
        None
    );
}

/// What happened on one TCP connection of a capture, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    /// An SMB message (NBSS session-message payload) the client sent.
    Request(Vec<u8>),
    /// An SMB message the server sent.
    Reply(Vec<u8>),
    /// The server reset the connection (RST).
    ServerReset,
    /// The server closed its side (FIN).
    ServerClosed,
}

/// One TCP connection to port 445 or 139.
struct Connection {
    /// The server's IPv4 address.
    server: [u8; 4],
    /// What happened on it, in file order.
    events: Vec<Ev>,
}

/// One direction of a connection being reassembled: the next expected sequence number and the
/// bytes not yet framed.
#[derive(Default)]
struct Flow {
    next_seq: Option<u32>,
    buf: Vec<u8>,
}

impl Flow {
    /// Appends a segment's payload and returns the complete NBSS session messages it finishes.
    /// A retransmitted segment is dropped; a gap (a segment missing from the cut) restarts
    /// framing at the new segment.
    fn push(&mut self, seq: u32, payload: &[u8]) -> Vec<Vec<u8>> {
        if payload.is_empty() {
            return Vec::new();
        }
        if let Some(n) = self.next_seq {
            if seq != n {
                if (seq.wrapping_sub(n) as i32) < 0 {
                    return Vec::new();
                }
                self.buf.clear();
            }
        }
        self.next_seq = Some(seq.wrapping_add(payload.len() as u32));
        self.buf.extend_from_slice(payload);
        let mut out = Vec::new();
        while let [kind, l0, l1, l2, ..] = self.buf[..] {
            let len = (usize::from(l0) << 16) | (usize::from(l1) << 8) | usize::from(l2);
            if self.buf.len() < 4 + len {
                break;
            }
            let frame: Vec<u8> = self.buf.drain(..4 + len).skip(4).collect();
            // 0x00 is a session message; session requests/responses and keep-alives (port
            // 139) carry no SMB.
            if kind == 0 {
                out.push(frame);
            }
        }
        out
    }
}

/// The TCP connections to port 445/139 in a capture, each with its SMB messages (both ways,
/// reassembled across segments) and the server's resets and closes. Minimal classic-pcap
/// reader: Ethernet (with 802.1Q) or Linux SLL, IPv4, TCP.
fn connections(file: &str) -> Option<Vec<Connection>> {
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
    let mut conns: Vec<Connection> = Vec::new();
    // (server addr, server port, client addr, client port) -> (connection, client flow, server flow)
    type Key = ([u8; 4], u16, [u8; 4], u16);
    let mut flows: BTreeMap<Key, (usize, Flow, Flow)> = BTreeMap::new();
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
        let addr = |k: usize| -> [u8; 4] { frame[k..k + 4].try_into().expect("4 bytes") };
        let (src, dst) = (addr(off + 12), addr(off + 16));
        let sport = u16::from_be_bytes([frame[tcp], frame[tcp + 1]]);
        let dport = u16::from_be_bytes([frame[tcp + 2], frame[tcp + 3]]);
        let seq = u32::from_be_bytes(addr(tcp + 4));
        let flags = frame[tcp + 13];
        let doff = usize::from(frame[tcp + 12] >> 4) * 4;
        let payload = frame.get(tcp + doff..ip_end).unwrap_or_default();
        let from_server = sport == 445 || sport == 139;
        if !from_server && dport != 445 && dport != 139 {
            continue;
        }
        let key = if from_server {
            (src, sport, dst, dport)
        } else {
            (dst, dport, src, sport)
        };
        let (k, client, server) = flows.entry(key).or_insert_with(|| {
            conns.push(Connection {
                server: key.0,
                events: Vec::new(),
            });
            (conns.len() - 1, Flow::default(), Flow::default())
        });
        let events = &mut conns[*k].events;
        if from_server {
            events.extend(server.push(seq, payload).into_iter().map(Ev::Reply));
            if flags & 0x04 != 0 {
                events.push(Ev::ServerReset);
            } else if flags & 0x01 != 0 {
                events.push(Ev::ServerClosed);
            }
        } else {
            events.extend(client.push(seq, payload).into_iter().map(Ev::Request));
        }
    }
    Some(conns)
}

/// SMB messages (NBSS payloads) sent by the server (TCP source port 445 or 139), connection by
/// connection in order of first appearance.
fn server_messages(file: &str) -> Option<Vec<Vec<u8>>> {
    Some(
        connections(file)?
            .into_iter()
            .flat_map(|c| c.events)
            .filter_map(|e| match e {
                Ev::Reply(m) => Some(m),
                _ => None,
            })
            .collect(),
    )
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

// ---------------------------------------------------------------------------------------------
// Verdict replay: each capture's server replies through smb1scan's own decision functions
// (`smb1scan::probe::verdict`), in the order smb1scan's probe takes its steps, into a
// `HostResult` that `finalise` completes. The expected verdicts are what the captured host's own
// replies prove (SOURCES.md), not what the functions happen to say.
// ---------------------------------------------------------------------------------------------

/// How the replay ends a record whose capture stops before the step smb1scan would take next
/// (the cut files keep only the exchanges SOURCES.md names): as the host deadline expiring
/// there, which is the probe's own way of saying "no answer came" (`mark_unfinished`).
const CAPTURE_ENDS: Reason = Reason::HostTimeout;

/// The server's answer to one request of a connection.
enum Answer<'a> {
    Reply(&'a [u8]),
    Failed(Failure),
}

/// The answer to `events[i]`: the first later reply that `matches`, or the server's reset or
/// close before it, or silence (nothing more in the capture) as a timeout.
fn answer<'a>(events: &'a [Ev], i: usize, matches: impl Fn(&[u8]) -> bool) -> Answer<'a> {
    for e in events.iter().skip(i + 1) {
        match e {
            Ev::Reply(m) if matches(m) => return Answer::Reply(m),
            Ev::ServerReset => return Answer::Failed(Failure::Reset),
            Ev::ServerClosed => return Answer::Failed(Failure::Closed),
            _ => {}
        }
    }
    Answer::Failed(Failure::Timeout)
}

/// The reply to an SMB1 request: same command and MID ([MS-CIFS] 3.2.5.1), or MID + 16 for the
/// DoublePulsar ping (the implant's answer).
fn smb1_answer<'a>(events: &'a [Ev], i: usize, req: &Smb1Header) -> Answer<'a> {
    let (cmd, mid) = (req.command, req.mid);
    answer(events, i, |m| {
        parse_smb1_header(m).is_ok_and(|(h, _)| {
            h.is_reply()
                && h.command == cmd
                && (h.mid == mid
                    || (cmd == Smb1Command::TRANSACTION2
                        && h.mid == mid.wrapping_add(DOUBLEPULSAR_MID_DELTA)))
        })
    })
}

/// The dialect strings of a client's SMB1 NEGOTIATE request ([MS-CIFS] 2.2.4.52.1: each one
/// 0x02, then a NUL-terminated OEM string).
fn offered_dialects(req: &[u8]) -> Option<Vec<String>> {
    let (h, rest) = parse_smb1_header(req).ok()?;
    if h.command != Smb1Command::NEGOTIATE || h.is_reply() {
        return None;
    }
    let body = parse_smb1_body(rest).ok()?;
    body.bytes
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| match s.split_first() {
            Some((0x02, name)) => Some(String::from_utf8_lossy(name).into_owned()),
            _ => None,
        })
        .collect()
}

/// Setup word `k` of a TRANS / TRANS2 request ([MS-CIFS] 2.2.4.33.1, 2.2.4.46.1: SetupCount at
/// parameter byte 26, the setup words from byte 28).
fn setup_word(req: &[u8], k: usize) -> Option<u16> {
    let (_, rest) = parse_smb1_header(req).ok()?;
    let words = parse_smb1_body(rest).ok()?.words;
    if usize::from(*words.get(26)?) <= k {
        return None;
    }
    let at = 28 + 2 * k;
    Some(u16::from_le_bytes([*words.get(at)?, *words.get(at + 1)?]))
}

/// What the replay learnt about one host besides its record.
struct Replay {
    /// The record, after `finalise`.
    r: HostResult,
    /// Each final SESSION_SETUP_ANDX status, in order (not the NTLMSSP challenge round).
    logins: Vec<SmbError>,
    /// The status of each refused step before the peek: (refused-step reason, status).
    refusals: Vec<(Reason, SmbError)>,
    /// The SMB1 negotiate answer read as smb1scan reads its own.
    negotiate: Option<Smb1NegotiateReply>,
}

/// Replays every connection of `file` to `server` (all servers when `None`).
fn replay(file: &str, server: Option<[u8; 4]>) -> Option<Replay> {
    let conns: Vec<Connection> = connections(file)?
        .into_iter()
        .filter(|c| server.map_or(true, |s| s == c.server))
        .collect();
    let addr = conns.first().map_or([0; 4], |c| c.server);
    let mut r = HostResult::new(IpAddr::V4(Ipv4Addr::from(addr)), 445, None);
    // As the probe: provisional until something answers.
    r.status = HostStatus::Filtered;
    let mut out = Replay {
        r,
        logins: Vec::new(),
        refusals: Vec::new(),
        negotiate: None,
    };
    let r = &mut out.r;

    // SMB2: every NEGOTIATE response that chose a dialect (the 0x02FF wildcard answer to a
    // multi-protocol SMB1 NEGOTIATE only says "ask again in SMB2").
    for m in conns
        .iter()
        .flat_map(|c| &c.events)
        .filter_map(|e| match e {
            Ev::Reply(m) => Some(m),
            _ => None,
        })
    {
        if let Ok(Smb2NegotiateOutcome::Negotiated(_, resp)) = parse_smb2_negotiate_outcome(m) {
            r.status = HostStatus::Open;
            r.smb2.enabled = Some(true);
            let d = resp.dialect_revision;
            if d != Smb2Dialect(0x02FF) && !r.smb2.dialects.iter().any(|x| x == d.name()) {
                r.smb2.dialects.push(d.name().to_owned());
            }
            r.smb2.boot_time = resp
                .server_start_time_unix()
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
    }

    // SMB1: the first NEGOTIATE that asks smb1scan's question. An answer in SMB2 (or a reset)
    // says "SMB1 refused" only to an offer of SMB1 dialects alone; a client that also offered
    // "SMB 2.002" / "SMB 2.???" asked something else, and only an SMB1 dialect chosen from its
    // list is evidence (that SMB1 is on).
    for c in &conns {
        let Some((i, offered)) = c.events.iter().enumerate().find_map(|(i, e)| match e {
            Ev::Request(m) => offered_dialects(m).map(|d| (i, d)),
            _ => None,
        }) else {
            continue;
        };
        let smb1_only = !offered.iter().any(|d| d.starts_with("SMB 2."));
        let reply = match answer(&c.events, i, |_| true) {
            Answer::Failed(f) => Smb1NegotiateReply::Failed(f),
            Answer::Reply(m) => match parse_smb_message(m) {
                Ok(SmbMessage::Smb2(..)) => Smb1NegotiateReply::Smb2,
                Err(_) => Smb1NegotiateReply::Unparsable,
                Ok(SmbMessage::Smb1(..)) => match parse_smb1_negotiate_response(m) {
                    Err(_) => Smb1NegotiateReply::Unparsable,
                    Ok((h, _)) if h.command != Smb1Command::NEGOTIATE => {
                        Smb1NegotiateReply::Unparsable
                    }
                    Ok((_, Smb1NegotiateResponse::Error { status })) => {
                        Smb1NegotiateReply::Error(status)
                    }
                    Ok((_, Smb1NegotiateResponse::NoDialect)) => Smb1NegotiateReply::NoDialect,
                    Ok((h, _)) if !h.status().is_success() => Smb1NegotiateReply::Error(h.status()),
                    Ok((_, resp)) => {
                        let names: Vec<&str> = offered.iter().map(String::as_str).collect();
                        r.smb1.dialect = resp.dialect_name(&names).map(str::to_owned);
                        Smb1NegotiateReply::Dialect
                    }
                },
            },
        };
        if !smb1_only && reply != Smb1NegotiateReply::Dialect {
            continue;
        }
        let (evidence, _) = smb1_evidence(reply);
        r.smb1.evidence = evidence;
        r.status = match reply {
            Smb1NegotiateReply::Failed(f) if r.status != HostStatus::Open => f.host_status(),
            Smb1NegotiateReply::Unparsable => HostStatus::ProtocolError,
            _ => HostStatus::Open,
        };
        out.negotiate = Some(reply);
        break;
    }

    // The session steps, in the probe's order, on every connection: logon (the first accepted
    // one runs the tests), IPC$, the peek, the ping. A connection that pings without a peek is
    // what smb1scan's fresh DoublePulsar connection does: its own tree connect is the proof of
    // an accepted session.
    let mut done = false;
    if r.smb1.evidence == Smb1Evidence::DialectSelected {
        for c in &conns {
            let (mut accepted, mut tree, mut peeked) = (false, false, None);
            for (i, e) in c.events.iter().enumerate() {
                let Ev::Request(m) = e else { continue };
                let Ok((req, _)) = parse_smb1_header(m) else {
                    continue;
                };
                let stop = |r: &mut HostResult, reason, st: Option<SmbError>| {
                    r.ms17_010.verdict = Ms17Verdict::Unknown;
                    r.ms17_010.reason = Some(reason);
                    r.ms17_010.status = st.map(SmbError::hex);
                    r.doublepulsar.verdict = DpVerdict::NotTested;
                };
                match req.command {
                    Smb1Command::SESSION_SETUP_ANDX => match smb1_answer(&c.events, i, &req) {
                        Answer::Reply(m) => {
                            let Ok((h, _)) = parse_smb1_header(m) else {
                                continue;
                            };
                            let st = h.status();
                            if st == SmbError::Nt(NtStatus::MORE_PROCESSING_REQUIRED) {
                                continue;
                            }
                            out.logins.push(st);
                            if st.is_success() {
                                accepted = true;
                                done = false;
                                r.ms17_010 = Default::default();
                                r.doublepulsar.verdict = DpVerdict::NotTested;
                            } else {
                                let reason = refusal_reason(st, Reason::SessionSetupRefused);
                                out.refusals.push((reason, st));
                                // When every logon is refused, the first refusal is recorded.
                                if !done || !r.ms17_010.reason.is_some_and(try_next_login) {
                                    stop(r, reason, Some(st));
                                }
                                done = true;
                            }
                        }
                        Answer::Failed(f) => {
                            stop(r, f.reason(Reason::TimeoutAfterSessionSetup), None);
                            done = true;
                        }
                    },
                    Smb1Command::TREE_CONNECT_ANDX if accepted => {
                        match smb1_answer(&c.events, i, &req) {
                            Answer::Reply(m) => {
                                let Ok((h, _)) = parse_smb1_header(m) else {
                                    continue;
                                };
                                let st = h.status();
                                if st.is_success() {
                                    tree = true;
                                } else {
                                    let reason = refusal_reason(st, Reason::TreeConnectRefused);
                                    out.refusals.push((reason, st));
                                    stop(r, reason, Some(st));
                                    done = true;
                                }
                            }
                            Answer::Failed(f) => {
                                stop(r, f.reason(Reason::TimeoutAfterTreeConnect), None);
                                done = true;
                            }
                        }
                    }
                    Smb1Command::TRANSACTION
                        if tree
                            && setup_word(m, 0) == Some(TransSubcommand::PEEK_NMPIPE.0)
                            && setup_word(m, 1) == Some(0) =>
                    {
                        match smb1_answer(&c.events, i, &req) {
                            Answer::Reply(m) => {
                                let Ok((h, _)) = parse_smb1_header(m) else {
                                    continue;
                                };
                                let st = h.status();
                                let is_trans = h.command == Smb1Command::TRANSACTION;
                                let (v, reason, _) = ms17_from_peek(is_trans, st);
                                r.ms17_010.verdict = v;
                                r.ms17_010.reason = reason;
                                r.ms17_010.status = Some(st.hex());
                                peeked = Some(match st {
                                    SmbError::Nt(_) => PingSession::PeekAnswered,
                                    SmbError::Dos(_) => PingSession::Unproven(Reason::DosError),
                                });
                            }
                            Answer::Failed(f) => {
                                // The probe asks the implant on a fresh connection, not
                                // recorded here: the DoublePulsar verdict keeps this reason.
                                stop(r, f.reason(Reason::TimeoutAfterPeek), None);
                                r.doublepulsar.verdict = DpVerdict::Unknown;
                                r.doublepulsar.reason = r.ms17_010.reason;
                                done = true;
                            }
                        }
                    }
                    Smb1Command::TRANSACTION2
                        if tree && setup_word(m, 0) == Some(Trans2Subcommand::SESSION_SETUP.0) =>
                    {
                        let dp = &mut r.doublepulsar;
                        match smb1_answer(&c.events, i, &req) {
                            Answer::Reply(m) => {
                                let Ok((h, _)) = parse_smb1_header(m) else {
                                    continue;
                                };
                                let session = peeked.unwrap_or(PingSession::TreeConnected);
                                let v = doublepulsar_from_ping(req.mid, &h, session);
                                dp.verdict = v.verdict;
                                dp.reason = v.reason;
                                dp.arch = v.arch.map(str::to_owned);
                                dp.xor_key = v.xor_key.map(|k| format!("0x{k:08x}"));
                                dp.reply_mid = Some(h.mid);
                            }
                            Answer::Failed(f) => {
                                dp.verdict = DpVerdict::Unknown;
                                dp.reason = Some(f.reason(Reason::TimeoutAfterPing));
                            }
                        }
                        done = true;
                    }
                    _ => {}
                }
            }
        }
        // The capture stopped before smb1scan's sequence did (no stop, no ping answer), or it
        // never recorded a peek (a ping-only connection): what is still open ends there.
        let no_peek = r.ms17_010.reason.is_none() && r.ms17_010.verdict == Ms17Verdict::Unknown;
        if !done || no_peek {
            mark_unfinished(r, CAPTURE_ENDS);
        }
    }
    finalise(r);
    Some(out)
}

/// A record's verdicts, for comparison with what a capture proves.
#[derive(Debug, PartialEq, Eq)]
struct Verdicts {
    smb1: Option<bool>,
    evidence: Smb1Evidence,
    ms17: Ms17Verdict,
    ms17_reason: Option<Reason>,
    dp: DpVerdict,
    dp_reason: Option<Reason>,
}

fn verdicts(r: &HostResult) -> Verdicts {
    Verdicts {
        smb1: r.smb1.enabled,
        evidence: r.smb1.evidence,
        ms17: r.ms17_010.verdict,
        ms17_reason: r.ms17_010.reason,
        dp: r.doublepulsar.verdict,
        dp_reason: r.doublepulsar.reason,
    }
}

/// SMB1 on (a dialect chosen), and the verdicts the capture's further replies prove.
fn smb1_on(
    ms17: Ms17Verdict,
    ms17_reason: Option<Reason>,
    dp: DpVerdict,
    dp_reason: Option<Reason>,
) -> Verdicts {
    Verdicts {
        smb1: Some(true),
        evidence: Smb1Evidence::DialectSelected,
        ms17,
        ms17_reason,
        dp,
        dp_reason,
    }
}

/// SOURCES.md (a): the PeekNamedPipe on FID 0 answered 0xC0000205 -> `vulnerable`
/// (`ms17_from_peek`), critical. Where the capture goes on to the DoublePulsar ping (Metasploit),
/// its MID-65 reply on the session whose peek was answered with an NT status is `absent`; where
/// it stops after the peek (WannaCry, pysmb), DoublePulsar stays `unknown`.
#[test]
fn verdict_ms17_010_check_captures() {
    use DpVerdict as D;
    let vulnerable = |dp, dp_reason| smb1_on(Ms17Verdict::Vulnerable, None, dp, dp_reason);
    let cases = [
        (
            "win7-enterprise-sp1-x64-unpatched-ms17-010-check-wannacry.pcap",
            "NT LM 0.12",
            vulnerable(D::Unknown, Some(CAPTURE_ENDS)),
        ),
        (
            "win7-enterprise-sp1-x86-unpatched-ms17-010-check-wannacry.pcap",
            "NT LM 0.12",
            vulnerable(D::Unknown, Some(CAPTURE_ENDS)),
        ),
        (
            "win2012r2-dc-unpatched-ms17-010-check-wannacry.pcap",
            "NT LM 0.12",
            vulnerable(D::Unknown, Some(CAPTURE_ENDS)),
        ),
        (
            "win7-homebasic-sp1-unpatched-ms17-010-check-msf.pcap",
            "NT LM 0.12",
            vulnerable(D::Absent, None),
        ),
        (
            "winxp-sp3-unpatched-ms17-010-check-msf.pcap",
            "NT LM 0.12",
            vulnerable(D::Unknown, Some(CAPTURE_ENDS)),
        ),
        (
            "winxp-sp3-unpatched-ms17-010-check-and-doublepulsar-ping-msf.pcap",
            "NT LM 0.12",
            vulnerable(D::Absent, None),
        ),
        (
            "win2008r2-std-sp1-unpatched-ms17-010-check-pysmb-1.pcap",
            "NT LM 0.12",
            vulnerable(D::Unknown, Some(CAPTURE_ENDS)),
        ),
    ];
    for (file, dialect, want) in cases {
        let Some(x) = replay(file, None) else {
            return;
        };
        let r = &x.r;
        assert_eq!(verdicts(r), want, "{file}");
        assert_eq!(r.smb1.dialect.as_deref(), Some(dialect), "{file}");
        assert_eq!(r.ms17_010.status.as_deref(), Some("0xC0000205"), "{file}");
        assert_eq!(
            r.ms17_010.inferred, None,
            "{file}: the peek reached a verdict"
        );
        assert_eq!(risk(r), Risk::Critical, "{file}");
        if want.dp == D::Absent {
            assert_eq!(r.doublepulsar.reply_mid, Some(65), "{file}");
        }
    }
}

/// SOURCES.md (c): the ping's reply. MID 81 (request MID 65 + 16) is the implant, with the
/// architecture from signature byte 4 and the key from bytes 0-3 (Metasploit's formula); the
/// clean host's MID-65 NOT_IMPLEMENTED is `absent` only because the session it travelled on was
/// accepted: these files hold no peek, so the proof is the connection's own IPC$ tree connect
/// (`PingSession::TreeConnected`, what smb1scan's fresh DoublePulsar connection has). The
/// infected files record only the ping: they read `present` although no peek was recorded, and
/// the MS17-010 verdict stays `unknown` (never `not-vulnerable`).
#[test]
fn verdict_doublepulsar_captures() {
    use DpVerdict as D;
    let cases = [
        (
            "win7-enterprise-sp1-x64-doublepulsar-ping-infected-wannacry.pcap",
            D::Present,
            Some("x64"),
            Some("0x57d0c042"),
            Some(81),
        ),
        (
            "win7-ultimate-rtm-x64-doublepulsar-ping-infected-nixawk.pcap",
            D::Present,
            Some("x64"),
            Some("0xc57f38ff"),
            Some(81),
        ),
        (
            "win2008r2-datacenter-sp1-x64-doublepulsar-ping-infected-fuzzbunch.pcap",
            D::Present,
            Some("x64"),
            Some("0xdebd96cd"),
            Some(81),
        ),
        (
            "win7-enterprise-sp1-x64-doublepulsar-ping-not-infected-wannacry.pcap",
            D::Absent,
            None,
            None,
            Some(65),
        ),
    ];
    for (file, dp, arch, key, mid) in cases {
        let Some(x) = replay(file, None) else {
            return;
        };
        let r = &x.r;
        assert_eq!(
            verdicts(r),
            smb1_on(Ms17Verdict::Unknown, Some(CAPTURE_ENDS), dp, None),
            "{file}"
        );
        let d = &r.doublepulsar;
        assert_eq!(
            (d.arch.as_deref(), d.xor_key.as_deref(), d.reply_mid),
            (arch, key, mid),
            "{file}"
        );
        let want_risk = if dp == D::Present {
            Risk::Critical
        } else {
            Risk::High
        };
        assert_eq!(risk(r), want_risk, "{file}");
    }

    // The same clean reply without the tree connect's proof is not `absent`.
    let file = "win7-enterprise-sp1-x64-doublepulsar-ping-not-infected-wannacry.pcap";
    let Some(msgs) = server_messages(file) else {
        return;
    };
    let ping = smb1_replies(&msgs, Smb1Command::TRANSACTION2);
    let (h, _) = parse_smb1_header(ping.first().expect(file)).expect(file);
    let v = doublepulsar_from_ping(65, &h, PingSession::Unproven(Reason::TimeoutAfterPeek));
    assert_eq!(
        (v.verdict, v.reason),
        (D::Unknown, Some(Reason::TimeoutAfterPeek)),
        "{file}"
    );

    // A ping the capture shows unanswered, and a peek the capture shows unanswered (the probe
    // then pings on a fresh connection, not recorded): `unknown` with the step's reason.
    let cases = [
        (
            "win7-ultimate-sp1-smb1-negotiate-session-setup.pcap",
            smb1_on(
                Ms17Verdict::Unknown,
                Some(CAPTURE_ENDS),
                D::Unknown,
                Some(Reason::TimeoutAfterPing),
            ),
        ),
        (
            "win7-ultimate-sp1-ms17-010-peek-unanswered-msf.pcap",
            smb1_on(
                Ms17Verdict::Unknown,
                Some(Reason::TimeoutAfterPeek),
                D::Unknown,
                Some(Reason::TimeoutAfterPeek),
            ),
        ),
    ];
    for (file, want) in cases {
        let Some(x) = replay(file, None) else {
            return;
        };
        assert_eq!(verdicts(&x.r), want, "{file}");
        assert_eq!(risk(&x.r), Risk::High, "{file}");
    }
}

/// SOURCES.md (d), (e): an SMB1 dialect chosen is SMB1 on, with the dialect named in the
/// client's own list (`smb1_evidence`, `smb1_enabled`). These files stop at the session setup,
/// so MS17-010 and DoublePulsar stay `unknown`. Two of them answered a client that also offered
/// SMB 2.x in SMB1 (Windows 10 Pro 19045, XP): a dialect chosen is evidence whatever the offer.
#[test]
fn verdict_smb1_negotiate_captures() {
    let cases = [
        (
            "win7-homebasic-sp1-nmap-smb1-and-smb2-negotiate.pcap",
            "NT LM 0.12",
        ),
        (
            "win2008r2-std-sp1-smb1-negotiate-session-setup-extsec.pcap",
            "NT LM 0.12",
        ),
        (
            "win81-9600-smb1-negotiate-session-setup-port139.pcap",
            "NT LM 0.12",
        ),
        (
            "win10-enterprise-10586-smb1-and-smb2-negotiate-port139.pcap",
            "NT LM 0.12",
        ),
        (
            "win10-home-15063-smb1-negotiate-session-setup.pcap",
            "NT LM 0.12",
        ),
        (
            "win10-pro-19045-smb1-negotiate-session-setup.pcap",
            "NT LM 0.12",
        ),
        (
            "win2016-standard-14393-smb1-negotiate-session-setup.pcap",
            "NT LM 0.12",
        ),
        (
            "win2016-datacenter-14393-smb1-negotiate-session-setup.pcap",
            "NT LM 0.12",
        ),
        (
            "win2019-standard-17763-smb1-negotiate-session-setup.pcap",
            "NT LM 0.12",
        ),
        (
            "winxp-smb1-negotiate-session-setup-extsec.pcap",
            "NT LM 0.12",
        ),
        (
            "win2000-smb1-negotiate-session-setup-kerberos.pcap",
            "NT LM 0.12",
        ),
        (
            "samba-4.5.2-debian-smb1-negotiate-session-setup.pcap",
            "NT LANMAN 1.0",
        ),
        (
            "samba-4.7.4-smb1-negotiate-session-setup.pcap",
            "NT LM 0.12",
        ),
        (
            "samba-4.4.16-qnap-qts-smb1-negotiate-session-setup.pcap",
            "NT LM 0.12",
        ),
        (
            "samba-3.6.3-smb1-negotiate-session-setup.pcap",
            "NT LANMAN 1.0",
        ),
    ];
    for (file, dialect) in cases {
        let Some(x) = replay(file, None) else {
            return;
        };
        let r = &x.r;
        assert_eq!(x.negotiate, Some(Smb1NegotiateReply::Dialect), "{file}");
        assert_eq!(
            verdicts(r),
            smb1_on(
                Ms17Verdict::Unknown,
                Some(CAPTURE_ENDS),
                DpVerdict::Unknown,
                Some(CAPTURE_ENDS)
            ),
            "{file}"
        );
        assert_eq!(r.smb1.dialect.as_deref(), Some(dialect), "{file}");
        assert_eq!(risk(r), Risk::High, "{file}");
    }
}

/// SOURCES.md (d), SMB2 tables: the dialect each SMB2 NEGOTIATE chose (the 0x02FF wildcard
/// answer to a multi-protocol SMB1 NEGOTIATE is not a dialect), and ServerStartTime. These
/// clients' SMB1 NEGOTIATE offered SMB 2.x too, so its SMB2 answer is not smb1scan's "SMB2 reply
/// to an SMB1-only negotiate": SMB1 stays undecided (`smb1-unknown`), never off. Windows 10 1511
/// and Server 2016 report a start time (after 2017-03-14: nothing inferred); 2019 and 2022 send 0.
#[test]
fn verdict_smb2_negotiate_captures() {
    // (file, server when the file holds two, dialects, boot time)
    type Case<'a> = (&'a str, Option<[u8; 4]>, &'a [&'a str], Option<&'a str>);
    let cases: [Case; 6] = [
        (
            "win10-19041-smb2-negotiate-311.pcap",
            None,
            &["3.1.1"],
            None,
        ),
        (
            "win2016-14393-smb2-negotiate-311.pcap",
            None,
            &["3.1.1"],
            Some("2018-10-26T20:38:28Z"),
        ),
        (
            "win2019-17763-smb2-negotiate-multiprotocol-then-311.pcap",
            None,
            &["3.1.1"],
            None,
        ),
        (
            "win2022-20348-smb2-negotiate-multiprotocol-then-300.pcap",
            None,
            &["3.0"],
            None,
        ),
        (
            "win2016-14393-and-win10-10586-smb2-negotiate-multiprotocol-then-311.pcap",
            Some([172, 16, 66, 36]),
            &["3.1.1"],
            Some("2020-09-23T11:37:52Z"),
        ),
        (
            "win2016-14393-and-win10-10586-smb2-negotiate-multiprotocol-then-311.pcap",
            Some([172, 16, 66, 37]),
            &["3.1.1"],
            Some("2020-09-21T13:56:01Z"),
        ),
    ];
    for (file, server, dialects, boot) in cases {
        let Some(x) = replay(file, server) else {
            return;
        };
        let r = &x.r;
        assert_eq!(r.smb2.enabled, Some(true), "{file} {server:?}");
        assert_eq!(r.smb2.dialects, dialects, "{file} {server:?}");
        assert_eq!(r.smb2.boot_time.as_deref(), boot, "{file} {server:?}");
        assert_eq!(
            verdicts(r),
            Verdicts {
                smb1: None,
                evidence: Smb1Evidence::NotTested,
                ms17: Ms17Verdict::Unknown,
                ms17_reason: Some(Reason::Smb1Unknown),
                dp: DpVerdict::NotTested,
                dp_reason: None,
            },
            "{file} {server:?}"
        );
        assert_eq!(r.ms17_010.inferred, None, "{file} {server:?}");
        assert_eq!(risk(r), Risk::High, "{file} {server:?}");
    }
    // SMB2 facts of the captures above that also hold an SMB1 negotiate.
    for (file, dialects, boot) in [
        (
            "win10-enterprise-10586-smb1-and-smb2-negotiate-port139.pcap",
            ["2.1"],
            "2017-04-16T14:34:36Z",
        ),
        (
            "win7-homebasic-sp1-nmap-smb1-and-smb2-negotiate.pcap",
            ["2.1"],
            "2025-09-24T12:11:58Z",
        ),
    ] {
        let Some(x) = replay(file, None) else {
            return;
        };
        assert_eq!(x.r.smb2.dialects, dialects, "{file}");
        assert_eq!(x.r.smb2.boot_time.as_deref(), Some(boot), "{file}");
        assert_eq!(
            x.r.ms17_010.inferred, None,
            "{file}: booted after 2017-03-14"
        );
    }
}

/// SOURCES.md (d), last table: the SMB1-only NEGOTIATE answered by a reset, and no SMB2 answer
/// recorded. The host proved neither SMB nor SMB1 off: `smb1_enabled` gives unknown, the record
/// `no-smb-answer`, never `not-exposed`, and the risk is not `none`.
#[test]
fn verdict_reset_on_smb1_only_negotiate() {
    let file = "unknown-windows-ttl128-rst-on-smb1-only-negotiate.pcap";
    let Some(x) = replay(file, None) else {
        return;
    };
    assert_eq!(
        x.negotiate,
        Some(Smb1NegotiateReply::Failed(Failure::Reset)),
        "{file}"
    );
    let (evidence, _) = smb1_evidence(Smb1NegotiateReply::Failed(Failure::Reset));
    assert_eq!(smb1_enabled(evidence, false), None, "{file}");
    let r = &x.r;
    assert_eq!(r.status, HostStatus::Reset, "{file}");
    assert_eq!(
        verdicts(r),
        Verdicts {
            smb1: None,
            evidence: Smb1Evidence::ResetAfterNegotiate,
            ms17: Ms17Verdict::Unknown,
            ms17_reason: Some(Reason::NoSmbAnswer),
            dp: DpVerdict::NotTested,
            dp_reason: None,
        },
        "{file}"
    );
    assert_eq!(risk(r), Risk::High, "{file}");
}

/// SOURCES.md (b) and the login sequences of (a), (d): refusals before the peek give their own
/// reason (`refusal_reason`), and a refused logon followed by an accepted one is a chain that
/// goes on (`try_next_login`).
#[test]
fn verdict_refusals_and_login_chain() {
    // Anonymous logon refused with 0xC0000022: the check never ran. smb1scan's chain would try
    // guest next; the capture holds no further logon, so the refusal is the record's reason.
    let file = "win2012r2-anonymous-session-setup-access-denied-wannacry.pcap";
    let Some(x) = replay(file, None) else {
        return;
    };
    let denied = SmbError::Nt(NtStatus::ACCESS_DENIED);
    assert_eq!(
        x.refusals,
        [(Reason::SessionSetupRefused, denied)],
        "{file}"
    );
    assert!(try_next_login(Reason::SessionSetupRefused), "{file}");
    assert_eq!(
        verdicts(&x.r),
        smb1_on(
            Ms17Verdict::Unknown,
            Some(Reason::SessionSetupRefused),
            DpVerdict::NotTested,
            None
        ),
        "{file}"
    );
    assert_eq!(x.r.ms17_010.status.as_deref(), Some("0xC0000022"), "{file}");
    assert_eq!(risk(&x.r), Risk::High, "{file}");

    // A refused account, then another logon accepted on the same host: Windows XP refuses
    // Metasploit's account (0xC000006D) and accepts anonymous; Windows 7 refuses nmap's guest
    // (0xC0000072, account disabled) and accepts anonymous.
    for (file, refused) in [
        (
            "winxp-sp3-unpatched-ms17-010-check-msf.pcap",
            NtStatus::LOGON_FAILURE,
        ),
        (
            "winxp-sp3-unpatched-ms17-010-check-and-doublepulsar-ping-msf.pcap",
            NtStatus::LOGON_FAILURE,
        ),
        (
            "win7-homebasic-sp1-nmap-smb1-and-smb2-negotiate.pcap",
            NtStatus::ACCOUNT_DISABLED,
        ),
    ] {
        let Some(x) = replay(file, None) else {
            return;
        };
        let st = SmbError::Nt(refused);
        assert_eq!(x.logins.len(), 2, "{file}: {:?}", x.logins);
        assert_eq!(x.logins.first(), Some(&st), "{file}");
        assert!(x.logins.last().is_some_and(|s| s.is_success()), "{file}");
        let reason = refusal_reason(st, Reason::SessionSetupRefused);
        assert_eq!(reason, Reason::SessionSetupRefused, "{file}");
        assert!(try_next_login(reason), "{file}: the chain must go on");
        // The accepted logon is the session in use: the refusal is not the record's reason.
        assert_ne!(
            x.r.ms17_010.reason,
            Some(Reason::SessionSetupRefused),
            "{file}"
        );
    }

    // XP answering a buggy checker with DOS errors: the IPC$ tree connect (ERRSRV/ERRerror)
    // stops the test with `dos-error`; the peek's ERRinvtid would have given the same.
    let file = "winxp-sp3-dos-error-tree-connect-and-trans-python-checker.pcap";
    let Some(x) = replay(file, None) else {
        return;
    };
    let tc = SmbError::Dos(DosError { class: 2, code: 1 });
    assert_eq!(x.refusals, [(Reason::DosError, tc)], "{file}");
    assert_eq!(
        verdicts(&x.r),
        smb1_on(
            Ms17Verdict::Unknown,
            Some(Reason::DosError),
            DpVerdict::NotTested,
            None
        ),
        "{file}"
    );
    let Some(msgs) = server_messages(file) else {
        return;
    };
    let tr = smb1_replies(&msgs, Smb1Command::TRANSACTION);
    let (h, _) = parse_smb1_header(tr.first().expect(file)).expect(file);
    let (v, reason, _) = ms17_from_peek(true, h.status());
    assert_eq!(
        (v, reason),
        (Ms17Verdict::Unknown, Some(Reason::DosError)),
        "{file}"
    );
}

/// Silence is never safety: no captured host proved SMB1 off or MS17-010 patched (SOURCES.md
/// found no such capture), so no replayed record may say so, or rate the host `none`; and
/// `absent` only where the MID-65 reply came on an accepted session. Every capture in the folder
/// is replayed here and checked by one of the tests above: a new file fails this test until it
/// is given its expected verdicts (no capture is left out today: each holds at least one
/// negotiate answer or reset).
#[test]
fn verdict_every_capture_replayed() {
    let Some(dir) = captures_dir() else {
        return;
    };
    let checked = [
        "samba-3.6.3-smb1-negotiate-session-setup.pcap",
        "samba-4.4.16-qnap-qts-smb1-negotiate-session-setup.pcap",
        "samba-4.5.2-debian-smb1-negotiate-session-setup.pcap",
        "samba-4.7.4-smb1-negotiate-session-setup.pcap",
        "unknown-windows-ttl128-rst-on-smb1-only-negotiate.pcap",
        "win10-19041-smb2-negotiate-311.pcap",
        "win10-enterprise-10586-smb1-and-smb2-negotiate-port139.pcap",
        "win10-home-15063-smb1-negotiate-session-setup.pcap",
        "win10-pro-19045-smb1-negotiate-session-setup.pcap",
        "win2000-smb1-negotiate-session-setup-kerberos.pcap",
        "win2008r2-datacenter-sp1-x64-doublepulsar-ping-infected-fuzzbunch.pcap",
        "win2008r2-std-sp1-smb1-negotiate-session-setup-extsec.pcap",
        "win2008r2-std-sp1-unpatched-ms17-010-check-pysmb-1.pcap",
        "win2012r2-anonymous-session-setup-access-denied-wannacry.pcap",
        "win2012r2-dc-unpatched-ms17-010-check-wannacry.pcap",
        "win2016-14393-and-win10-10586-smb2-negotiate-multiprotocol-then-311.pcap",
        "win2016-14393-smb2-negotiate-311.pcap",
        "win2016-datacenter-14393-smb1-negotiate-session-setup.pcap",
        "win2016-standard-14393-smb1-negotiate-session-setup.pcap",
        "win2019-17763-smb2-negotiate-multiprotocol-then-311.pcap",
        "win2019-standard-17763-smb1-negotiate-session-setup.pcap",
        "win2022-20348-smb2-negotiate-multiprotocol-then-300.pcap",
        "win7-enterprise-sp1-x64-doublepulsar-ping-infected-wannacry.pcap",
        "win7-enterprise-sp1-x64-doublepulsar-ping-not-infected-wannacry.pcap",
        "win7-enterprise-sp1-x64-unpatched-ms17-010-check-wannacry.pcap",
        "win7-enterprise-sp1-x86-unpatched-ms17-010-check-wannacry.pcap",
        "win7-homebasic-sp1-nmap-smb1-and-smb2-negotiate.pcap",
        "win7-homebasic-sp1-unpatched-ms17-010-check-msf.pcap",
        "win7-ultimate-rtm-x64-doublepulsar-ping-infected-nixawk.pcap",
        "win7-ultimate-sp1-ms17-010-peek-unanswered-msf.pcap",
        "win7-ultimate-sp1-smb1-negotiate-session-setup.pcap",
        "win81-9600-smb1-negotiate-session-setup-port139.pcap",
        "winxp-smb1-negotiate-session-setup-extsec.pcap",
        "winxp-sp3-dos-error-tree-connect-and-trans-python-checker.pcap",
        "winxp-sp3-unpatched-ms17-010-check-and-doublepulsar-ping-msf.pcap",
        "winxp-sp3-unpatched-ms17-010-check-msf.pcap",
    ];
    let absent = [
        "win7-enterprise-sp1-x64-doublepulsar-ping-not-infected-wannacry.pcap",
        "win7-homebasic-sp1-unpatched-ms17-010-check-msf.pcap",
        "winxp-sp3-unpatched-ms17-010-check-and-doublepulsar-ping-msf.pcap",
    ];
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap"))
        .collect();
    files.sort();
    assert_eq!(files, checked, "captures without expected verdicts");
    for file in &files {
        let mut servers: Vec<[u8; 4]> = connections(file)
            .unwrap_or_default()
            .iter()
            .map(|c| c.server)
            .collect();
        servers.sort();
        servers.dedup();
        for s in servers {
            let Some(x) = replay(file, Some(s)) else {
                return;
            };
            let r = &x.r;
            assert_ne!(r.smb1.enabled, Some(false), "{file} {s:?}");
            assert!(
                !matches!(
                    r.ms17_010.verdict,
                    Ms17Verdict::NotVulnerable | Ms17Verdict::NotExposed
                ),
                "{file} {s:?}: {:?}",
                r.ms17_010
            );
            assert_eq!(
                r.doublepulsar.verdict == DpVerdict::Absent,
                absent.contains(&file.as_str()),
                "{file} {s:?}"
            );
            assert_ne!(risk(r), Risk::None, "{file} {s:?}");
            if r.ms17_010.verdict == Ms17Verdict::Unknown {
                assert!(r.ms17_010.reason.is_some(), "{file} {s:?}");
            }
        }
    }
}

/// What a capture's server said about itself, read as the probe reads it: NativeOS and
/// NativeLanMan from the first SESSION_SETUP_ANDX reply carrying them, the NTLMSSP version of
/// the first CHALLENGE (SMB1 or SMB2), CAP_UNIX of the SMB1 NEGOTIATE; `os.samba`, `product`
/// and `build` by the probe's own `normalise`. `scanned_at` pinned: the checks judge at it.
fn identity_record(file: &str, scanned_at: &str) -> Option<HostResult> {
    let msgs = server_messages(file)?;
    let mut r = HostResult::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 445, None);
    r.scanned_at = scanned_at.to_owned();
    let mut cap_unix = false;
    for m in &msgs {
        if let Ok((_, Smb1NegotiateResponse::NtLm(n))) = parse_smb1_negotiate_response(m) {
            cap_unix |= n.capabilities & 0x0080_0000 != 0; // CAP_UNIX
            r.smb1.enabled = Some(true);
        }
        let blob = if let Ok((_, s)) = parse_smb1_session_setup_response(m) {
            if r.os.native_os.is_none() && s.native_os.as_deref().is_some_and(|o| !o.is_empty()) {
                r.os.native_os = s.native_os.clone();
                r.os.native_lanman = s.native_lanman.clone();
            }
            s.security_blob.to_vec()
        } else if let Ok((_, s)) = parse_smb2_session_setup_response(m) {
            s.security_buffer.to_vec()
        } else {
            continue;
        };
        if let Some(v) = spnego_find_ntlmssp(&blob)
            .and_then(|t| parse_ntlmssp_challenge(t).ok())
            .and_then(|c| c.version)
        {
            r.os.ntlm_version
                .get_or_insert_with(|| format!("{}.{}.{}", v.major, v.minor, v.build));
        }
    }
    let ver = r.os.ntlm_version.as_deref().and_then(|v| {
        let mut it = v.split('.').map(|p| p.parse::<u16>().ok());
        Some((
            u8::try_from(it.next()??).ok()?,
            u8::try_from(it.next()??).ok()?,
            it.next()??,
        ))
    });
    let (product, build, samba) = smb1scan::probe::os::normalise(
        r.os.native_os.as_deref(),
        r.os.native_lanman.as_deref(),
        ver,
        cap_unix,
    );
    (r.os.product, r.os.build, r.os.samba) = (product, build, samba);
    Some(r)
}

/// The `eol-os` check on every capture's own strings, judged at 2026-12-06: each Windows host
/// its NativeOS or NTLMSSP version names gets the verdict of data/eol.toml, Samba and the hosts
/// that said nothing are unknown with their reason, never a verdict.
#[test]
fn checks_eol_os_on_every_capture() {
    use smb1scan::checks::eol_os::evaluate;
    let Some(dir) = captures_dir() else {
        return;
    };
    const EOL: &str = "end-of-life";
    #[rustfmt::skip]
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("samba-3.6.3-smb1-negotiate-session-setup.pcap", "unknown", Some("samba-host-os")),
        ("samba-4.4.16-qnap-qts-smb1-negotiate-session-setup.pcap", "unknown", Some("samba-host-os")),
        ("samba-4.5.2-debian-smb1-negotiate-session-setup.pcap", "unknown", Some("samba-host-os")),
        ("samba-4.7.4-smb1-negotiate-session-setup.pcap", "unknown", Some("samba-host-os")),
        ("unknown-windows-ttl128-rst-on-smb1-only-negotiate.pcap", "unknown", Some("no-os-identity")),
        ("win10-19041-smb2-negotiate-311.pcap", EOL, Some("Windows 10 2004")),
        ("win10-enterprise-10586-smb1-and-smb2-negotiate-port139.pcap", EOL, Some("Windows 10 1511 Enterprise/Education")),
        ("win10-home-15063-smb1-negotiate-session-setup.pcap", EOL, Some("Windows 10 1703")),
        ("win10-pro-19045-smb1-negotiate-session-setup.pcap", "esu-only", Some("Windows 10 22H2")),
        ("win2000-smb1-negotiate-session-setup-kerberos.pcap", EOL, Some("Windows 2000")),
        ("win2008r2-datacenter-sp1-x64-doublepulsar-ping-infected-fuzzbunch.pcap", EOL, Some("Windows Server 2008 R2")),
        ("win2008r2-std-sp1-smb1-negotiate-session-setup-extsec.pcap", EOL, Some("Windows Server 2008 R2")),
        ("win2008r2-std-sp1-unpatched-ms17-010-check-pysmb-1.pcap", EOL, Some("Windows Server 2008 R2")),
        // ACCESS_DENIED at the anonymous session setup: no strings, no CHALLENGE.
        ("win2012r2-anonymous-session-setup-access-denied-wannacry.pcap", "unknown", Some("no-os-identity")),
        ("win2012r2-dc-unpatched-ms17-010-check-wannacry.pcap", EOL, Some("Windows Server 2012 R2")),
        ("win2016-14393-and-win10-10586-smb2-negotiate-multiprotocol-then-311.pcap", "unknown", Some("edition-ambiguous")),
        ("win2016-14393-smb2-negotiate-311.pcap", "unknown", Some("edition-ambiguous")),
        ("win2016-datacenter-14393-smb1-negotiate-session-setup.pcap", "supported", Some("Windows Server 2016")),
        // Its NativeOS follows a stray non-zero pad byte (0x34), which the parser skips.
        ("win2016-standard-14393-smb1-negotiate-session-setup.pcap", "supported", Some("Windows Server 2016")),
        ("win2019-17763-smb2-negotiate-multiprotocol-then-311.pcap", "unknown", Some("edition-ambiguous")),
        ("win2019-standard-17763-smb1-negotiate-session-setup.pcap", "supported", Some("Windows Server 2019")),
        ("win2022-20348-smb2-negotiate-multiprotocol-then-300.pcap", "supported", Some("Windows Server 2022")),
        ("win7-enterprise-sp1-x64-doublepulsar-ping-infected-wannacry.pcap", EOL, Some("Windows 7")),
        ("win7-enterprise-sp1-x64-doublepulsar-ping-not-infected-wannacry.pcap", EOL, Some("Windows 7")),
        ("win7-enterprise-sp1-x64-unpatched-ms17-010-check-wannacry.pcap", EOL, Some("Windows 7")),
        ("win7-enterprise-sp1-x86-unpatched-ms17-010-check-wannacry.pcap", EOL, Some("Windows 7")),
        ("win7-homebasic-sp1-nmap-smb1-and-smb2-negotiate.pcap", EOL, Some("Windows 7")),
        ("win7-homebasic-sp1-unpatched-ms17-010-check-msf.pcap", EOL, Some("Windows 7")),
        ("win7-ultimate-rtm-x64-doublepulsar-ping-infected-nixawk.pcap", EOL, Some("Windows 7")),
        ("win7-ultimate-sp1-ms17-010-peek-unanswered-msf.pcap", EOL, Some("Windows 7")),
        ("win7-ultimate-sp1-smb1-negotiate-session-setup.pcap", EOL, Some("Windows 7")),
        ("win81-9600-smb1-negotiate-session-setup-port139.pcap", EOL, Some("Windows 8.1")),
        ("winxp-smb1-negotiate-session-setup-extsec.pcap", EOL, Some("Windows XP")),
        ("winxp-sp3-dos-error-tree-connect-and-trans-python-checker.pcap", EOL, Some("Windows XP")),
        ("winxp-sp3-unpatched-ms17-010-check-and-doublepulsar-ping-msf.pcap", EOL, Some("Windows XP")),
        ("winxp-sp3-unpatched-ms17-010-check-msf.pcap", EOL, Some("Windows XP")),
    ];
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap"))
        .collect();
    files.sort();
    let listed: Vec<&str> = cases.iter().map(|c| c.0).collect();
    assert_eq!(files, listed, "captures without an expected eol-os verdict");
    for (file, verdict, what) in cases {
        let r = identity_record(file, "2026-12-06T09:00:00.000Z").expect(file);
        let e = evaluate(&r);
        assert_eq!(e.verdict, *verdict, "{file}: {e:?}");
        if *verdict == "unknown" {
            assert_eq!(e.reason.as_deref(), *what, "{file}: {e:?}");
        } else {
            assert_eq!(e.product.as_deref(), *what, "{file}: {e:?}");
            assert!(
                e.end_of_support.is_some() && e.reason.is_none(),
                "{file}: {e:?}"
            );
        }
    }
}

/// The `sambacry` check on every capture's own strings: the four Samba versions against the
/// CVE-2017-7494 range, Windows not applicable, the hosts that said nothing unknown.
#[test]
fn checks_sambacry_on_every_capture() {
    use smb1scan::checks::sambacry::evaluate;
    let Some(dir) = captures_dir() else {
        return;
    };
    #[rustfmt::skip]
    let samba: &[(&str, &str, &str)] = &[
        ("samba-3.6.3-smb1-negotiate-session-setup.pcap", "likely-vulnerable", "3.6.3"),
        ("samba-4.4.16-qnap-qts-smb1-negotiate-session-setup.pcap", "not-vulnerable", "4.4.16"),
        ("samba-4.5.2-debian-smb1-negotiate-session-setup.pcap", "likely-vulnerable", "4.5.2"),
        ("samba-4.7.4-smb1-negotiate-session-setup.pcap", "not-vulnerable", "4.7.4"),
    ];
    let silent = [
        "unknown-windows-ttl128-rst-on-smb1-only-negotiate.pcap",
        "win2012r2-anonymous-session-setup-access-denied-wannacry.pcap",
    ];
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap"))
        .collect();
    files.sort();
    for file in &files {
        let r = identity_record(file, "2026-12-06T09:00:00.000Z").expect(file);
        let c = evaluate(&r);
        if let Some((_, verdict, version)) = samba.iter().find(|s| s.0 == file) {
            assert_eq!(
                (c.verdict.as_str(), c.version.as_deref()),
                (*verdict, Some(*version)),
                "{file}: {c:?}"
            );
        } else if silent.contains(&file.as_str()) {
            assert_eq!(
                (c.verdict.as_str(), c.reason.as_deref()),
                ("unknown", Some("no-lanman")),
                "{file}: {c:?}"
            );
        } else {
            assert_eq!(c.verdict, "not-applicable", "{file}: {c:?}");
        }
    }
    let vendor = identity_record(samba[2].0, "2026-12-06T09:00:00.000Z").expect("4.5.2");
    assert_eq!(evaluate(&vendor).vendor_suffix.as_deref(), Some("Debian"));
}
