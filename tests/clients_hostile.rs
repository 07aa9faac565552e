//! `smb1scan clients` on inputs that go wrong, and on every link type it reads: captures this
//! test writes itself (a pcap writer below, packets from etherparse's builder, SMB from the
//! protocol crate's builders). Truncated and corrupt files, a cut gzip stream, and a capture of 10
//! million connections streamed through the reader: one clear line per problem, never a panic,
//! memory bounded and the cap said.

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use etherparse::PacketBuilder;
use smb1scan::clients::capture::read_capture;
use smb1scan::clients::flow::{Limits, Tracker};
use smb1scan::clients::{analyse, ClientsOptions, Summary};
use smb1scan_protocol::nbss::build_nbss_session_message;
use smb1scan_protocol::smb1::header::Smb1Ids;
use smb1scan_protocol::smb1::negotiate::build_smb1_negotiate_request;

const ETHERNET: u32 = 1;
const RAW: u32 = 101;
const SLL: u32 = 113;
const SLL2: u32 = 276;

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("clients-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn pcap_header(linktype: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&65535u32.to_le_bytes());
    v.extend_from_slice(&linktype.to_le_bytes());
    v
}

fn record(out: &mut Vec<u8>, ts: u32, frame: &[u8], origlen: usize) {
    out.extend_from_slice(&ts.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    out.extend_from_slice(&(origlen as u32).to_le_bytes());
    out.extend_from_slice(frame);
}

/// One TCP segment framed for `linktype`.
fn frame(
    linktype: u32,
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    seq: u32,
    syn: bool,
    payload: &[u8],
) -> Vec<u8> {
    let ip = PacketBuilder::ipv4(src.0, dst.0, 64);
    let mut ipbuf = Vec::new();
    let tcp = ip.tcp(src.1, dst.1, seq, 65535);
    let tcp = if syn { tcp.syn() } else { tcp.ack(1).psh() };
    tcp.write(&mut ipbuf, payload).unwrap();
    match linktype {
        ETHERNET => {
            let mut v = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00];
            v.extend_from_slice(&ipbuf);
            v
        }
        RAW => ipbuf,
        SLL => {
            let mut v = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
            v.extend_from_slice(&ipbuf);
            v
        }
        SLL2 => {
            let mut v = vec![
                0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
            ];
            v.extend_from_slice(&ipbuf);
            v
        }
        _ => unreachable!(),
    }
}

const CLIENT: ([u8; 4], u16) = ([10, 1, 2, 3], 50123);
const SERVER: ([u8; 4], u16) = ([10, 1, 2, 200], 445);

/// A capture of one client offering SMB1 only.
fn smb1_only_capture(linktype: u32) -> Vec<u8> {
    let neg = build_nbss_session_message(&build_smb1_negotiate_request(
        &["NT LM 0.12"],
        Smb1Ids::default(),
    ));
    let mut v = pcap_header(linktype);
    let syn = frame(linktype, CLIENT, SERVER, 99, true, &[]);
    record(&mut v, 1_700_000_000, &syn, syn.len());
    let f = frame(linktype, CLIENT, SERVER, 100, false, &neg);
    record(&mut v, 1_700_000_001, &f, f.len());
    v
}

fn run_file(path: &Path) -> (Vec<serde_json::Value>, Summary, i32) {
    let o = Command::new(env!("CARGO_BIN_EXE_smb1scan"))
        .args(["clients"])
        .arg(path)
        .output()
        .unwrap();
    let mut lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last = lines.pop().expect("a summary line");
    let summary: Summary = serde_json::from_value(last["summary"].clone()).unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    for p in &summary.problems {
        assert!(
            stderr.contains(&p.problem),
            "each problem is a line on stderr: {stderr}"
        );
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    (lines, summary, o.status.code().unwrap_or(-1))
}

#[test]
fn every_link_type_reads_the_same_pair() {
    for lt in [ETHERNET, RAW, SLL, SLL2] {
        let p = tmp(&format!("lt{lt}.pcap"));
        std::fs::write(&p, smb1_only_capture(lt)).unwrap();
        let (pairs, summary, code) = run_file(&p);
        assert!(
            summary.problems.is_empty(),
            "link type {lt}: {:?}",
            summary.problems
        );
        assert_eq!(pairs.len(), 1, "link type {lt}");
        assert_eq!(pairs[0]["client"], "10.1.2.3");
        assert_eq!(pairs[0]["server"], "10.1.2.200");
        assert_eq!(pairs[0]["verdict"], "breaks");
        assert_eq!(pairs[0]["first_seen"], "2023-11-14T22:13:20.000000Z");
        assert_eq!(code, 3);
    }
}

#[test]
fn truncated_file_keeps_what_came_before_and_says_so() {
    let full = smb1_only_capture(ETHERNET);
    let mut cut = full.clone();
    // A third record whose body is cut off.
    let f = frame(ETHERNET, CLIENT, SERVER, 200, false, &[0; 40]);
    record(&mut cut, 1_700_000_002, &f, f.len());
    cut.truncate(cut.len() - 20);
    let p = tmp("truncated.pcap");
    std::fs::write(&p, &cut).unwrap();
    let (pairs, summary, code) = run_file(&p);
    assert_eq!(pairs.len(), 1, "the pair before the cut is kept");
    assert_eq!(summary.problems.len(), 1);
    assert!(
        summary.problems[0]
            .problem
            .contains("file ends inside a record"),
        "{:?}",
        summary.problems
    );
    assert_eq!(code, 3);
}

#[test]
fn corrupt_record_length_is_a_problem_not_a_panic() {
    let mut v = smb1_only_capture(ETHERNET);
    // A record header claiming 3 GiB.
    v.extend_from_slice(&1_700_000_003u32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&0xC000_0000u32.to_le_bytes());
    v.extend_from_slice(&0xC000_0000u32.to_le_bytes());
    v.extend_from_slice(&[0xAB; 64]);
    let p = tmp("corrupt.pcap");
    std::fs::write(&p, &v).unwrap();
    let (pairs, summary, code) = run_file(&p);
    assert_eq!(pairs.len(), 1);
    assert_eq!(summary.problems.len(), 1, "{:?}", summary.problems);
    assert_eq!(code, 3);
    // Not a capture at all.
    let p = tmp("not-a-capture.pcap");
    std::fs::write(&p, b"hello, this is text").unwrap();
    let (_, summary, code) = run_file(&p);
    assert!(summary.problems[0].problem.contains("not a pcap or pcapng"));
    assert_eq!(code, 1, "no input could be read");
}

#[test]
fn cut_gzip_stream_is_a_problem() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut body = smb1_only_capture(ETHERNET);
    for k in 0..200u32 {
        let f = frame(
            ETHERNET,
            CLIENT,
            SERVER,
            1000 + k * 100,
            false,
            &[k as u8; 100],
        );
        record(&mut body, 1_700_000_010 + k, &f, f.len());
    }
    gz.write_all(&body).unwrap();
    let mut bytes = gz.finish().unwrap();
    let whole = tmp("whole.pcap.gz");
    std::fs::write(&whole, &bytes).unwrap();
    let (pairs, summary, _) = run_file(&whole);
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(pairs.len(), 1);
    bytes.truncate(bytes.len() * 2 / 3);
    let cut = tmp("cut.pcap.gz");
    std::fs::write(&cut, &bytes).unwrap();
    let (_, summary, code) = run_file(&cut);
    assert_eq!(summary.problems.len(), 1, "{:?}", summary.problems);
    assert_eq!(code, 3);
}

/// A pcap stream of `n` SYNs, each from its own client port and address: 10 million
/// connections without writing 700 MB to disk.
struct ManyFlows {
    n: u64,
    next: u64,
    header: Option<Vec<u8>>,
    template: Vec<u8>,
    pending: Vec<u8>,
    pos: usize,
}

impl ManyFlows {
    fn new(n: u64) -> Self {
        let f = frame(RAW, CLIENT, SERVER, 1, true, &[]);
        let mut template = Vec::new();
        record(&mut template, 1_700_000_000, &f, f.len());
        ManyFlows {
            n,
            next: 0,
            header: Some(pcap_header(RAW)),
            template,
            pending: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ManyFlows {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.pending.len() {
            self.pending.clear();
            self.pos = 0;
            if let Some(h) = self.header.take() {
                self.pending = h;
            } else {
                // Fill about 64 KiB of records.
                while self.next < self.n && self.pending.len() < 65536 {
                    let k = self.next;
                    self.next += 1;
                    let mut r = self.template.clone();
                    // Record header 16 bytes, IPv4 source at 12..16 of the IP header, TCP source
                    // port at 20..22 of it.
                    let ip = 16;
                    let addr = Ipv4Addr::from(0x0A00_0000 | (k >> 10) as u32).octets();
                    r[ip + 12..ip + 16].copy_from_slice(&addr);
                    r[ip + 20..ip + 22].copy_from_slice(&(1024 + (k & 1023) as u16).to_be_bytes());
                    self.pending.extend_from_slice(&r);
                }
            }
        }
        let n = (self.pending.len() - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn ten_million_flows_stay_bounded_and_say_so() {
    let limits = Limits {
        max_flows: 100_000,
        max_pairs: 100_000,
    };
    let mut t = Tracker::new(limits);
    let mut problems = Vec::new();
    let n = 10_000_000u64;
    let stats = read_capture(
        ManyFlows::new(n),
        "ten-million-flows",
        &mut t,
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(stats.packets, n);
    assert_eq!(
        t.flows_held(),
        limits.max_flows,
        "never more than the bound"
    );
    assert_eq!(t.stats.peak_flows, limits.max_flows as u64);
    assert_eq!(t.stats.connections_not_tracked, n - limits.max_flows as u64);
    let f = smb1scan::clients::findings(
        t,
        problems,
        vec!["ten-million-flows".into()],
        n,
        &ClientsOptions {
            inputs: vec![],
            all: false,
            limits,
            ..Default::default()
        },
    );
    assert!(!f.summary.complete());
    let scope = f.summary.scope_lines().join("\n");
    assert!(
        scope.contains("connection table full (100000 connections at once"),
        "{scope}"
    );
    assert!(scope.contains("9900000 connections"), "{scope}");
    let _ = analyse; // the file-based entry point is exercised by the tests above
}
