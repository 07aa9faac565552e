//! Packet captures for `smb1scan clients`: pcap and pcapng (rusticata `pcap-parser`; the records
//! of a legacy pcap file are walked here, after pcap-parser has read its header), plain or gzip
//! (`flate2`), link types Ethernet, Linux cooked (SLL, SLL2), raw IP and BSD loopback;
//! IPv4/IPv6 and TCP through `etherparse` (lax slicing, so a packet cut by the snapshot length
//! still yields its headers). Every TCP segment to or from an SMB port goes to the
//! [`Tracker`]; anything wrong with the file becomes a [`Problem`] line, never a panic.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};

use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};
use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError};

use super::flow::{Micros, Segment, Tracker};
use super::Problem;

/// Start size of the read buffer.
const BUFFER: usize = 1 << 20;
/// A record larger than this ends the file with a problem (pcapng blocks of real captures are
/// far smaller; a huge length is corruption).
const MAX_RECORD: usize = 64 << 20;

/// Link types read (LINKTYPE_* numbers, tcpdump.org/linktypes.html).
const LINKTYPE_NULL: i32 = 0;
const LINKTYPE_ETHERNET: i32 = 1;
const LINKTYPE_RAW: i32 = 101;
const LINKTYPE_LOOP: i32 = 108;
const LINKTYPE_LINUX_SLL: i32 = 113;
const LINKTYPE_IPV4: i32 = 228;
const LINKTYPE_IPV6: i32 = 229;
const LINKTYPE_LINUX_SLL2: i32 = 276;
/// DLT_RAW as OpenBSD and some writers put it in files.
const DLT_RAW_12: i32 = 12;
const DLT_RAW_14: i32 = 14;

/// What reading one capture gave.
#[derive(Debug, Default, Clone, Copy)]
pub struct CaptureStats {
    /// Packet records read.
    pub packets: u64,
    /// Bytes of the (decompressed) file consumed.
    pub bytes: u64,
}

/// Opens `path` (gzip when it starts with the gzip magic) and feeds it to the tracker.
pub fn read_capture_file(
    path: &Path,
    tracker: &mut Tracker,
    problems: &mut Vec<Problem>,
) -> std::io::Result<CaptureStats> {
    let mut f = std::fs::File::open(path)?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic)?;
    let f = std::fs::File::open(path)?;
    let name = path.display().to_string();
    let error = Arc::new(Mutex::new(None));
    let gzip = n == 2 && magic == [0x1f, 0x8b];
    let stats = if gzip {
        let inner = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(f));
        read_capture(
            KeepGood::new(inner, &error, 16 * 1024),
            &name,
            tracker,
            problems,
        )
    } else {
        // A file is read straight into the reader's buffer, a whole buffer per call.
        read_capture(
            KeepGood::new(f, &error, usize::MAX),
            &name,
            tracker,
            problems,
        )
    };
    let taken = error.lock().ok().and_then(|mut e| e.take());
    if let Some(e) = taken {
        // The cut itself is the problem; the record it left unfinished is its consequence.
        problems.retain(|p| !(p.input == name && p.problem.starts_with("file ends inside")));
        problems.push(Problem::new(
            &name,
            format!(
                "{} after {} packets: {e}; everything before it was read, the rest was not",
                if gzip {
                    "the gzip stream is cut or corrupt"
                } else {
                    "read error"
                },
                stats.packets
            ),
        ));
    }
    Ok(stats)
}

/// Hands on every byte a stream gives before its error (a cut gzip stream decodes fine up to the
/// cut), then ends the stream and keeps the error for the caller to report: pcap-parser would
/// otherwise drop a buffer it had already filled.
struct KeepGood<R> {
    inner: R,
    error: Arc<Mutex<Option<std::io::Error>>>,
    failed: bool,
    /// Largest read asked of `inner` at once (a gzip decoder is asked for small pieces, so a
    /// cut stream hands on what it decoded before the cut).
    chunk: usize,
}

impl<R> KeepGood<R> {
    fn new(inner: R, error: &Arc<Mutex<Option<std::io::Error>>>, chunk: usize) -> Self {
        KeepGood {
            inner,
            error: Arc::clone(error),
            failed: false,
            chunk,
        }
    }
}

impl<R: Read> Read for KeepGood<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.failed {
            return Ok(0);
        }
        let mut filled = 0;
        while filled < buf.len() {
            let end = buf.len().min(filled.saturating_add(self.chunk));
            let Some(chunk) = buf.get_mut(filled..end) else {
                break;
            };
            match self.inner.read(chunk) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.failed = true;
                    if let Ok(mut slot) = self.error.lock() {
                        slot.get_or_insert(e);
                    }
                    break;
                }
            }
        }
        Ok(filled)
    }
}

/// Per-interface facts of a pcapng section (or the one "interface" of a pcap file).
#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: i32,
    /// Units per second of the timestamps.
    resolution: u64,
    offset_secs: i64,
}

/// Reads a pcap or pcapng stream to its end (or to the first corruption) into `tracker`.
pub fn read_capture<R: Read + Send>(
    input: R,
    name: &str,
    tracker: &mut Tracker,
    problems: &mut Vec<Problem>,
) -> CaptureStats {
    let mut unsupported_link: Option<i32> = None;
    let stats = read_records(
        input,
        BUFFER,
        name,
        problems,
        &mut |linktype, ts, data, cut| {
            packet(linktype, ts, data, cut, tracker, &mut unsupported_link);
        },
    );
    if let Some(l) = unsupported_link {
        problems.push(Problem::new(
            name,
            format!(
                "link type {l} is not read (Ethernet, Linux cooked SLL/SLL2, raw IP and loopback are): its packets were skipped"
            ),
        ));
    }
    stats
}

/// Hands every packet record of a capture to `sink` as (link type, time, frame, cut by the
/// snapshot length). A legacy pcap file (the common case) is walked record by record here
/// ([`walk_legacy`]): pcap-parser's reader costs more per record than the record's own decoding
/// (a boxed iterator, a block enum, a nom parse). pcap-parser still reads the file header, and
/// reads everything else (pcapng, the "modified" pcap format, anything it rejects).
fn read_records<R: Read + Send>(
    mut input: R,
    buffer: usize,
    name: &str,
    problems: &mut Vec<Problem>,
    sink: &mut impl FnMut(i32, Micros, &[u8], bool),
) -> CaptureStats {
    // The one read pcap-parser's create_reader makes to recognise the format: the bytes it would
    // see, so that every other input goes on to it unchanged.
    let mut buf = vec![0u8; buffer];
    let n = match input.read(&mut buf) {
        Ok(n) => n,
        Err(_) => {
            problems.push(Problem::new(name, START_READ_ERROR));
            return CaptureStats::default();
        }
    };
    match legacy_header(buf.get(..n).unwrap_or_default()) {
        Some(header) => walk_legacy(buf, n, &header, input, name, problems, sink),
        None => {
            buf.truncate(n);
            let input = std::io::Cursor::new(buf).chain(input);
            parse_blocks(input, buffer, name, problems, sink)
        }
    }
}

const START_READ_ERROR: &str = "read error at the start of the file (a cut gzip stream?)";

/// The header of a legacy pcap file that [`walk_legacy`] reads: what pcap-parser's
/// create_reader would open as one (it tries pcapng first), except the rare "modified" format
/// with its longer record headers.
fn legacy_header(start: &[u8]) -> Option<pcap_parser::PcapHeader> {
    if pcap_parser::pcapng::parse_sectionheaderblock(start).is_ok() {
        return None;
    }
    let (_, header) = pcap_parser::parse_pcap_header(start).ok()?;
    (!header.is_modified_format()).then_some(header)
}

/// Walks the records of a legacy pcap file whose header pcap-parser has read: 16 bytes of record
/// header (seconds, fraction, captured length, original length, in the file's byte order) and
/// the captured bytes, over the buffer `buf` whose first `end` bytes the first read
/// filled. It reads as pcap-parser's reader does (the same sizes, at the same moments: one more
/// read on opening, then one per record not whole in the buffer, which doubles when a record
/// does not fit), so the end of any input gives exactly what that reader gives (`parse_blocks`;
/// unit tests compare the two on every cut): a record the file cuts is "file ends inside a
/// record", a record the buffer cannot double to hold within [`MAX_RECORD`] "a record larger
/// than" (before any attempt to read it), a read error ends the file.
fn walk_legacy<R: Read>(
    mut buf: Vec<u8>,
    mut end: usize,
    header: &pcap_parser::PcapHeader,
    mut input: R,
    name: &str,
    problems: &mut Vec<Problem>,
    sink: &mut impl FnMut(i32, Micros, &[u8], bool),
) -> CaptureStats {
    let linktype = header.network.0;
    let nano = header.is_nanosecond_precision();
    let swap = header.is_bigendian();
    let mut stats = CaptureStats {
        packets: 0,
        bytes: header.size() as u64,
    };
    let mut pos = header.size();
    // pcap-parser's reader reads once more on opening (LegacyPcapReader::from_buffer): an error
    // there is an error at the start of the file, and nothing read there is the end of it.
    match input.read(buf.get_mut(end..).unwrap_or_default()) {
        Ok(n) => end += n,
        Err(_) => {
            problems.push(Problem::new(name, START_READ_ERROR));
            return CaptureStats::default();
        }
    }
    let mut exhausted = false;
    loop {
        let avail = buf.get(pos..end).unwrap_or_default();
        // Bytes the record at `pos` needs in the buffer: its header, then all of it.
        let need = match avail.first_chunk::<16>() {
            Some(h) => {
                let [secs, frac, caplen, origlen] = record_fields(h, swap);
                let total = usize::try_from(caplen)
                    .unwrap_or(usize::MAX)
                    .saturating_add(16);
                if let Some(data) = avail.get(16..total) {
                    let frac = i64::from(frac);
                    let frac = if nano { frac / 1000 } else { frac };
                    let ts = i64::from(secs) * 1_000_000 + frac;
                    sink(linktype, ts, data, origlen > caplen);
                    stats.packets += 1;
                    stats.bytes += total as u64;
                    pos += total;
                    continue;
                }
                total
            }
            None => 16,
        };
        if exhausted {
            if end > pos {
                problems.push(Problem::new(name, cut_inside(stats.packets)));
            }
            break;
        }
        // A record that does not fit doubles the buffer, up to MAX_RECORD, as `grow` does.
        let Some(capacity) = grown(buf.len(), need) else {
            problems.push(Problem::new(name, too_large(stats.packets)));
            break;
        };
        // The unfinished record to the front, room for all of it, and read.
        buf.copy_within(pos..end, 0);
        end -= pos;
        pos = 0;
        buf.resize(capacity, 0);
        match input.read(buf.get_mut(end..).unwrap_or_default()) {
            Ok(0) => exhausted = true,
            Ok(n) => end += n,
            Err(_) => {
                problems.push(Problem::new(
                    name,
                    read_error(stats.packets, &PcapError::ReadError),
                ));
                break;
            }
        }
    }
    stats
}

/// The four fields of a legacy record header: seconds, fraction, captured and original length,
/// byte-swapped when the file's order is not little-endian (one branch for the four; a pointer
/// to from_be_bytes / from_le_bytes, called per field, cost more than the rest of the walk).
fn record_fields(h: &[u8; 16], swap: bool) -> [u32; 4] {
    let [a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3, d0, d1, d2, d3] = *h;
    let w = [
        u32::from_le_bytes([a0, a1, a2, a3]),
        u32::from_le_bytes([b0, b1, b2, b3]),
        u32::from_le_bytes([c0, c1, c2, c3]),
        u32::from_le_bytes([d0, d1, d2, d3]),
    ];
    if swap {
        w.map(u32::swap_bytes)
    } else {
        w
    }
}

/// The capacity a buffer of `capacity` bytes doubles to to hold `need` bytes (pcap-parser's
/// reader wants one byte more than the record), or `None` past [`MAX_RECORD`].
fn grown(mut capacity: usize, need: usize) -> Option<usize> {
    while capacity <= need {
        capacity = capacity.saturating_mul(2);
        if capacity > MAX_RECORD {
            return None;
        }
    }
    Some(capacity)
}

fn cut_inside(packets: u64) -> String {
    format!(
        "file ends inside a record after {packets} packets: the capture was cut; everything before it was read"
    )
}

fn too_large(packets: u64) -> String {
    format!(
        "a record larger than {} MiB after {packets} packets: corrupt file, the rest was not read",
        MAX_RECORD >> 20
    )
}

fn read_error(packets: u64, e: &PcapError<&[u8]>) -> String {
    format!(
        "read error after {packets} packets ({e:?}; a cut gzip stream?): the rest of the file was not read"
    )
}

/// Reads any capture through pcap-parser's reader (pcapng, the "modified" pcap format, a header
/// it rejects, and in tests legacy pcap too), handing each packet to `sink`.
fn parse_blocks<R: Read + Send>(
    input: R,
    buffer: usize,
    name: &str,
    problems: &mut Vec<Problem>,
    sink: &mut impl FnMut(i32, Micros, &[u8], bool),
) -> CaptureStats {
    let mut stats = CaptureStats::default();
    let mut problem = |what: String| problems.push(Problem::new(name, what));
    let mut reader = match pcap_parser::create_reader(buffer, input) {
        Ok(r) => r,
        Err(PcapError::Eof) => {
            problem("empty file: not a capture".into());
            return stats;
        }
        Err(PcapError::HeaderNotRecognized) => {
            problem("not a pcap or pcapng capture (unknown header)".into());
            return stats;
        }
        Err(PcapError::ReadError) => {
            problem(START_READ_ERROR.into());
            return stats;
        }
        Err(e) => {
            problem(format!("cannot read the capture header: {e:?}"));
            return stats;
        }
    };
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut legacy: Option<(Iface, bool)> = None;
    let mut capacity = buffer;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                stats.bytes += offset as u64;
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy = Some((
                            Iface {
                                linktype: h.network.0,
                                resolution: if h.is_nanosecond_precision() {
                                    1_000_000_000
                                } else {
                                    1_000_000
                                },
                                offset_secs: 0,
                            },
                            h.is_nanosecond_precision(),
                        ));
                    }
                    PcapBlockOwned::Legacy(b) => {
                        stats.packets += 1;
                        if let Some((iface, nano)) = legacy {
                            let frac = if nano {
                                i64::from(b.ts_usec) / 1000
                            } else {
                                i64::from(b.ts_usec)
                            };
                            let ts = i64::from(b.ts_sec) * 1_000_000 + frac;
                            let cut = b.origlen > b.caplen;
                            sink(iface.linktype, ts, b.data, cut);
                        }
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => ifaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        ifaces.push(Iface {
                            linktype: idb.linktype.0,
                            resolution: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                            offset_secs: idb.ts_offset(),
                        });
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        stats.packets += 1;
                        match usize::try_from(epb.if_id).ok().and_then(|i| ifaces.get(i)) {
                            Some(iface) => {
                                let ts = ng_time(epb.ts_high, epb.ts_low, iface);
                                let data = epb
                                    .data
                                    .get(..epb.caplen as usize)
                                    .unwrap_or(epb.data);
                                let cut = epb.origlen > epb.caplen;
                                sink(iface.linktype, ts, data, cut);
                            }
                            None => problem(format!(
                                "packet names interface {} which no interface block described; skipped",
                                epb.if_id
                            )),
                        }
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        stats.packets += 1;
                        if let Some(iface) = ifaces.first() {
                            // Simple packets carry no time.
                            let cut = spb.origlen as usize > spb.data.len();
                            sink(iface.linktype, 0, spb.data, cut);
                        }
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                // No shift per record: the reader moves the few bytes left over to the front
                // only when it refills (consume() moved half the buffer every half buffer).
                reader.consume_noshift(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::UnexpectedEof) => {
                problem(cut_inside(stats.packets));
                break;
            }
            Err(PcapError::Incomplete(_)) => {
                if reader.reader_exhausted() {
                    let left = reader.data().len();
                    if left > 0 {
                        problem(format!(
                            "file ends inside a record ({left} bytes left over after {} packets): the capture was cut; everything before it was read",
                            stats.packets
                        ));
                    }
                    break;
                }
                let before = reader.data().len();
                if let Err(e) = reader.refill() {
                    problem(read_error(stats.packets, &e));
                    break;
                }
                if reader.data().len() == before && !reader.reader_exhausted() {
                    // The buffer is full and still holds no whole record: make it bigger.
                    if !grow(&mut *reader, &mut capacity) {
                        problem(too_large(stats.packets));
                        break;
                    }
                }
            }
            Err(PcapError::BufferTooSmall) => {
                if !grow(&mut *reader, &mut capacity) {
                    problem(too_large(stats.packets));
                    break;
                }
            }
            Err(e) => {
                problem(format!(
                    "corrupt record after {} packets (byte {} of the file): {}; the rest of the file was not read",
                    stats.packets,
                    stats.bytes,
                    error_kind(&e)
                ));
                break;
            }
        }
    }
    stats
}

fn error_kind(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::NomError(_, k) | PcapError::OwnedNomError(_, k) => format!("{k:?}"),
        other => format!("{other:?}"),
    }
}

fn grow(reader: &mut dyn PcapReaderIterator, capacity: &mut usize) -> bool {
    let next = capacity.saturating_mul(2);
    if next > MAX_RECORD {
        return false;
    }
    *capacity = next;
    reader.grow(next)
}

/// A pcapng timestamp in microseconds, without overflow on hostile values.
fn ng_time(high: u32, low: u32, iface: &Iface) -> Micros {
    let raw = (u64::from(high) << 32) | u64::from(low);
    let secs = raw / iface.resolution;
    let frac = raw % iface.resolution;
    let micros = u128::from(frac) * 1_000_000 / u128::from(iface.resolution);
    i64::try_from(secs)
        .unwrap_or(i64::MAX / 2_000_000)
        .min(i64::MAX / 2_000_000)
        .saturating_add(iface.offset_secs)
        .saturating_mul(1_000_000)
        .saturating_add(micros as i64)
}

/// Decodes one link-layer frame down to TCP and feeds it.
#[inline]
pub fn packet(
    linktype: i32,
    ts: Micros,
    data: &[u8],
    cut: bool,
    tracker: &mut Tracker,
    unsupported: &mut Option<i32>,
) {
    if linktype == LINKTYPE_ETHERNET {
        if let Some(f) = ethernet_ipv4_tcp(data) {
            feed_fast(&f, ts, cut, tracker);
            return;
        }
    }
    packet_sliced(linktype, ts, data, cut, tracker, unsupported);
}

/// Every frame the fast path leaves: etherparse's lax slicing, out of line so that the common
/// frame's path stays small.
#[inline(never)]
fn packet_sliced(
    linktype: i32,
    ts: Micros,
    data: &[u8],
    cut: bool,
    tracker: &mut Tracker,
    unsupported: &mut Option<i32>,
) {
    let sliced = match linktype {
        LINKTYPE_ETHERNET => LaxSlicedPacket::from_ethernet(data).ok(),
        LINKTYPE_RAW | LINKTYPE_IPV4 | LINKTYPE_IPV6 | DLT_RAW_12 | DLT_RAW_14 => {
            LaxSlicedPacket::from_ip(data).ok()
        }
        LINKTYPE_LINUX_SLL => ip_after(data, 16, data.get(14..16)),
        LINKTYPE_LINUX_SLL2 => ip_after(data, 20, data.get(0..2)),
        LINKTYPE_NULL | LINKTYPE_LOOP => {
            data.get(4..).and_then(|d| LaxSlicedPacket::from_ip(d).ok())
        }
        other => {
            unsupported.get_or_insert(other);
            None
        }
    };
    let Some(p) = sliced else {
        return;
    };
    let (src, dst) = match &p.net {
        Some(LaxNetSlice::Ipv4(v4)) => (
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
        ),
        Some(LaxNetSlice::Ipv6(v6)) => (
            IpAddr::V6(v6.header().source_addr()),
            IpAddr::V6(v6.header().destination_addr()),
        ),
        _ => return,
    };
    let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
        return;
    };
    let ip_incomplete = match &p.net {
        Some(LaxNetSlice::Ipv4(v4)) => v4.payload().incomplete,
        Some(LaxNetSlice::Ipv6(v6)) => v6.payload().incomplete,
        _ => false,
    };
    tracker.segment(&Segment {
        ts,
        src: SocketAddr::new(src, tcp.source_port()),
        dst: SocketAddr::new(dst, tcp.destination_port()),
        seq: tcp.sequence_number(),
        syn: tcp.syn(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        payload: tcp.payload(),
        cut: cut || ip_incomplete,
    });
}

/// The IP packet after a Linux cooked header of `len` bytes whose protocol field is `proto`.
fn ip_after<'a>(data: &'a [u8], len: usize, proto: Option<&[u8]>) -> Option<LaxSlicedPacket<'a>> {
    match proto? {
        [0x08, 0x00] | [0x86, 0xdd] => LaxSlicedPacket::from_ip(data.get(len..)?).ok(),
        _ => None,
    }
}

/// A whole, unfragmented TCP segment in IPv4 in an Ethernet II frame, read at fixed offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FastTcp<'a> {
    src: std::net::Ipv4Addr,
    dst: std::net::Ipv4Addr,
    tcp: &'a [u8],
    header_len: usize,
}

/// The common frame of a capture (Ethernet, IPv4 without fragmentation, TCP, lengths that agree)
/// decoded without building a packet slice: `None` for anything else (VLAN tags, IPv6,
/// fragments, lengths that disagree, options cut short), which etherparse then reads. Where this
/// answers, etherparse's lax slicing gives the same addresses, ports and payload (a unit test
/// compares them).
fn ethernet_ipv4_tcp(data: &[u8]) -> Option<FastTcp<'_>> {
    // The Ethernet II header and the fixed part of the IPv4 header, in one bounds check.
    let [.., t0, t1, v, _, l0, l1, _, _, f0, f1, _, proto, _, _, s0, s1, s2, s3, d0, d1, d2, d3] =
        *data.first_chunk::<34>()?;
    let frag = u16::from_be_bytes([f0, f1]);
    if [t0, t1] != [0x08, 0x00] || v >> 4 != 4 || proto != 6 || frag & 0x3fff != 0 {
        return None;
    }
    let ip = data.get(14..)?;
    let ihl = usize::from(v & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([l0, l1]));
    if ihl < 20 || total < ihl + 20 || total > ip.len() {
        return None;
    }
    let tcp = ip.get(ihl..total)?;
    let header_len = usize::from(tcp.get(12)? >> 4) * 4;
    if header_len < 20 || header_len > tcp.len() {
        return None;
    }
    Some(FastTcp {
        src: std::net::Ipv4Addr::new(s0, s1, s2, s3),
        dst: std::net::Ipv4Addr::new(d0, d1, d2, d3),
        tcp,
        header_len,
    })
}

fn feed_fast(f: &FastTcp<'_>, ts: Micros, cut: bool, tracker: &mut Tracker) {
    // ethernet_ipv4_tcp saw a TCP header of at least 20 bytes.
    let Some(&[p0, p1, p2, p3, q0, q1, q2, q3, _, _, _, _, _, flags, ..]) =
        f.tcp.first_chunk::<20>()
    else {
        return;
    };
    tracker.segment(&Segment {
        ts,
        src: SocketAddr::new(IpAddr::V4(f.src), u16::from_be_bytes([p0, p1])),
        dst: SocketAddr::new(IpAddr::V4(f.dst), u16::from_be_bytes([p2, p3])),
        seq: u32::from_be_bytes([q0, q1, q2, q3]),
        syn: flags & 0x02 != 0,
        fin: flags & 0x01 != 0,
        rst: flags & 0x04 != 0,
        payload: f.tcp.get(f.header_len..).unwrap_or_default(),
        cut,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What etherparse's lax slicing reads from an Ethernet frame: addresses, ports, sequence,
    /// flags, payload, and whether the IP payload was incomplete.
    type Read4<'a> = (IpAddr, IpAddr, u16, u16, u32, [bool; 3], &'a [u8], bool);

    fn by_etherparse(data: &[u8]) -> Option<Read4<'_>> {
        let p = LaxSlicedPacket::from_ethernet(data).ok()?;
        let Some(LaxNetSlice::Ipv4(v4)) = &p.net else {
            return None;
        };
        let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
            return None;
        };
        Some((
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
            tcp.source_port(),
            tcp.destination_port(),
            tcp.sequence_number(),
            [tcp.syn(), tcp.fin(), tcp.rst()],
            tcp.payload(),
            v4.payload().incomplete,
        ))
    }

    fn by_fast_path(data: &[u8]) -> Option<Read4<'_>> {
        let f = ethernet_ipv4_tcp(data)?;
        let t = f.tcp;
        Some((
            IpAddr::V4(f.src),
            IpAddr::V4(f.dst),
            u16::from_be_bytes([t[0], t[1]]),
            u16::from_be_bytes([t[2], t[3]]),
            u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
            [t[13] & 2 != 0, t[13] & 1 != 0, t[13] & 4 != 0],
            &t[f.header_len..],
            false,
        ))
    }

    fn frame(
        ihl_words: u8,
        total: u16,
        frag: u16,
        proto: u8,
        doff_words: u8,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        // The header is at least 20 bytes whatever its length field says.
        let mut ip = vec![0u8; usize::from(ihl_words.max(5)) * 4];
        ip[0] = 0x40 | ihl_words;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip[6..8].copy_from_slice(&frag.to_be_bytes());
        ip[8] = 64;
        ip[9] = proto;
        ip[12..16].copy_from_slice(&[10, 1, 2, 3]);
        ip[16..20].copy_from_slice(&[10, 4, 5, 6]);
        f.extend_from_slice(&ip);
        let mut tcp = vec![0u8; usize::from(doff_words.max(5)) * 4];
        tcp[0..2].copy_from_slice(&50123u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&445u16.to_be_bytes());
        tcp[4..8].copy_from_slice(&0xdead_beefu32.to_be_bytes());
        tcp[12] = doff_words << 4;
        tcp[13] = 0x18 | 0x01;
        f.extend_from_slice(&tcp);
        f.extend_from_slice(payload);
        f
    }

    /// Hands over at most `first` bytes on the first read, then at most `piece` per read, then
    /// fails with an I/O error when `fail_at` bytes have been handed over (if it is given).
    struct Pieces<'a> {
        data: &'a [u8],
        first: usize,
        piece: usize,
        fail_at: Option<usize>,
        given: usize,
        reads: usize,
    }

    impl<'a> Pieces<'a> {
        fn new(data: &'a [u8], first: usize, piece: usize) -> Self {
            Pieces {
                data,
                first,
                piece,
                fail_at: None,
                given: 0,
                reads: 0,
            }
        }
    }

    impl Read for Pieces<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.fail_at.is_some_and(|f| self.given >= f) {
                return Err(std::io::Error::other("disk gone"));
            }
            let limit = if self.reads == 0 {
                self.first
            } else {
                self.piece
            };
            self.reads += 1;
            let mut n = buf.len().min(limit).min(self.data.len());
            if let Some(f) = self.fail_at {
                n = n.min(f - self.given);
            }
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            self.given += n;
            Ok(n)
        }
    }

    /// Packets (link type, time, frame, cut), problem texts, packets and bytes counted.
    type Got = (Vec<(i32, Micros, Vec<u8>, bool)>, Vec<String>, u64, u64);

    fn got(
        read: impl FnOnce(&mut Vec<Problem>, &mut dyn FnMut(i32, Micros, &[u8], bool)) -> CaptureStats,
    ) -> Got {
        let mut packets = Vec::new();
        let mut problems = Vec::new();
        let stats = read(&mut problems, &mut |l, ts, d: &[u8], cut| {
            packets.push((l, ts, d.to_vec(), cut));
        });
        let texts = problems.into_iter().map(|p| p.problem).collect();
        (packets, texts, stats.packets, stats.bytes)
    }

    /// Through `read_records` (the walker for a legacy pcap file) with a buffer of `buffer` bytes.
    fn by_records(input: Pieces<'_>, buffer: usize) -> Got {
        got(|problems, sink| {
            read_records(input, buffer, "t", problems, &mut |l, t, d, c| {
                sink(l, t, d, c)
            })
        })
    }

    /// Through pcap-parser's reader alone, as before the walker.
    fn by_pcap_parser(input: Pieces<'_>, buffer: usize) -> Got {
        got(|problems, sink| {
            parse_blocks(input, buffer, "t", problems, &mut |l, t, d, c| {
                sink(l, t, d, c)
            })
        })
    }

    /// What the walker reads from `file` (reads of `first`, then `piece` bytes, into a buffer of
    /// `buffer`), after checking that pcap-parser's reader reads the same.
    fn same(file: &[u8], first: usize, piece: usize, buffer: usize) -> Got {
        let walked = by_records(Pieces::new(file, first, piece), buffer);
        assert_eq!(
            walked,
            by_pcap_parser(Pieces::new(file, first, piece), buffer),
            "{} bytes, reads {first}/{piece}, buffer {buffer}",
            file.len()
        );
        walked
    }

    /// A legacy pcap file: byte order, time resolution, link type, and records of (seconds,
    /// fraction, frame, original length).
    fn pcap_file(
        be: bool,
        nano: bool,
        linktype: u32,
        records: &[(u32, u32, Vec<u8>, u32)],
    ) -> Vec<u8> {
        let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut f = Vec::new();
        f.extend_from_slice(&w32(if nano { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
        f.extend_from_slice(&w16(2));
        f.extend_from_slice(&w16(4));
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&w32(65535));
        f.extend_from_slice(&w32(linktype));
        for (secs, frac, data, orig) in records {
            f.extend_from_slice(&w32(*secs));
            f.extend_from_slice(&w32(*frac));
            f.extend_from_slice(&w32(data.len() as u32));
            f.extend_from_slice(&w32(*orig));
            f.extend_from_slice(data);
        }
        f
    }

    fn some_records() -> Vec<(u32, u32, Vec<u8>, u32)> {
        let ether = frame(5, 40 + 11, 0, 6, 5, b"hello world");
        vec![
            (1_700_000_000, 999_999, ether.clone(), ether.len() as u32),
            (1_700_000_001, 5, Vec::new(), 0),
            (1_700_000_002, 123_456_789, vec![0xab], 1),
            (
                0xffff_ffff,
                0xffff_ffff,
                ether[..30].to_vec(),
                ether.len() as u32,
            ),
            (7, 0, (0..=255u8).cycle().take(1500).collect(), 1500),
        ]
    }

    #[test]
    fn walker_reads_what_pcap_parser_reads_at_every_cut() {
        let records = some_records();
        for (be, nano) in [(false, false), (true, false), (false, true), (true, true)] {
            let file = pcap_file(be, nano, 1, &records);
            assert!(legacy_header(&file).is_some(), "the walker reads this file");
            let whole = same(&file, usize::MAX, usize::MAX, BUFFER);
            // What the file holds, not only what pcap-parser reads.
            assert!(whole.1.is_empty(), "{:?}", whole.1);
            assert_eq!((whole.2, whole.3), (5, file.len() as u64));
            let times: Vec<Micros> = whole.0.iter().map(|p| p.1).collect();
            let frac = |f: i64| if nano { f / 1000 } else { f };
            assert_eq!(
                times,
                [
                    1_700_000_000_000_000 + frac(999_999),
                    1_700_000_001_000_000 + frac(5),
                    1_700_000_002_000_000 + frac(123_456_789),
                    0xffff_ffff * 1_000_000 + frac(0xffff_ffff),
                    7_000_000,
                ]
            );
            let cut: Vec<bool> = whole.0.iter().map(|p| p.3).collect();
            assert_eq!(cut, [false, false, false, true, false]);
            for (p, r) in whole.0.iter().zip(&records) {
                assert_eq!((p.0, &p.2), (1, &r.2));
            }
            // Small buffers, so that records outgrow them and reads end inside every part.
            for end in 0..=file.len() {
                for (first, piece, buffer) in [
                    (usize::MAX, usize::MAX, 64),
                    (usize::MAX, usize::MAX, 1000),
                    (24, 1, 40),
                    (40, 7, 100),
                    (100, 333, 256),
                ] {
                    same(&file[..end], first, piece, buffer);
                }
            }
            // Cut inside the third record (its header, then its data).
            let third = 24 + 16 + records[0].2.len() + 16 + records[1].2.len();
            for end in [third + 3, third + 16] {
                let (packets, problems, n, _) = same(&file[..end], usize::MAX, usize::MAX, BUFFER);
                assert_eq!((packets.len(), n), (2, 2));
                assert_eq!(
                    problems,
                    ["file ends inside a record after 2 packets: the capture was cut; everything before it was read"]
                );
            }
        }
    }

    #[test]
    fn walker_and_pcap_parser_agree_on_damaged_files() {
        // Bytes overwritten at random places (lengths that lie, in either byte order), then cut
        // at a random place: a fixed generator, so a failure repeats.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let records = some_records();
        let mut headers = vec![24];
        for r in &records {
            headers.push(headers[headers.len() - 1] + 16 + r.2.len());
        }
        let (mut other, mut larger) = (0, 0);
        for round in 0..200 {
            let (be, nano) = (round % 2 == 0, round % 3 == 0);
            let intact = pcap_file(be, nano, 1, &records);
            let mut file = intact.clone();
            for _ in 0..1 + next() % 3 {
                // Mostly a record header's bytes, else anywhere after the file header.
                let at = if next() % 4 > 0 {
                    headers[(next() as usize) % records.len()] + (next() as usize) % 16
                } else {
                    24 + (next() as usize) % (file.len() - 24)
                };
                file[at] = match next() % 3 {
                    0 => 0xff,
                    1 => 0,
                    _ => next() as u8,
                };
            }
            let end = 24 + (next() as usize) % (file.len() - 23);
            let buffer = [24, 64, 1000, BUFFER][(next() % 4) as usize];
            let walked = same(&file[..end], usize::MAX, usize::MAX, buffer);
            same(&file[..end], 30, 1 + (next() as usize) % 64, buffer);
            if walked.1 != by_records(Pieces::new(&intact[..end], usize::MAX, usize::MAX), buffer).1
            {
                other += 1;
            }
            larger += usize::from(walked.1.iter().any(|p| p.contains("larger than")));
        }
        assert!(
            other > 20 && larger > 5,
            "damage that shows: {other}, records over the bound: {larger}"
        );
    }

    #[test]
    fn walker_stops_at_a_record_over_the_bound_as_pcap_parser_does() {
        let first = some_records().remove(0);
        let bound = MAX_RECORD as u32;
        for be in [false, true] {
            for caplen in [bound - 16, bound, 0xc000_0000, u32::MAX] {
                let mut file = pcap_file(be, false, 1, std::slice::from_ref(&first));
                let w = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
                for v in [1, 0, caplen, caplen] {
                    file.extend_from_slice(&w(v));
                }
                file.extend_from_slice(&[0xab; 64]);
                let walked = same(&file, usize::MAX, usize::MAX, BUFFER);
                assert_eq!(walked.2, 1);
                assert_eq!(
                    walked.1,
                    ["a record larger than 64 MiB after 1 packets: corrupt file, the rest was not read"]
                );
                same(&file, 100, 50, 1000);
            }
        }
        // Under the bound, and cut: the file ends inside it. A buffer that does not double to
        // exactly MAX_RECORD stops short of it, as pcap-parser's reader does (1000 doubles to
        // 65 536 000).
        for (caplen, buffer, larger) in [
            (bound - 17, BUFFER, false),
            (66_000_000, BUFFER, false),
            (66_000_000, 1000, true),
            (65_535_000, 1000, false),
        ] {
            let mut file = pcap_file(false, false, 1, std::slice::from_ref(&first));
            for v in [1, 0, caplen, caplen] {
                file.extend_from_slice(&v.to_le_bytes());
            }
            file.extend_from_slice(&[0xab; 64]);
            let walked = same(&file, usize::MAX, usize::MAX, buffer);
            let want = if larger { too_large(1) } else { cut_inside(1) };
            assert_eq!(walked.1, [want], "{caplen} {buffer}");
        }
        // Records larger than the buffers, whole: read.
        let big: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
        let file = pcap_file(
            true,
            false,
            1,
            &[first.clone(), (9, 9, big.clone(), 4 << 20), first],
        );
        let walked = same(&file, usize::MAX, usize::MAX, BUFFER);
        assert!(walked.1.is_empty(), "{:?}", walked.1);
        assert_eq!(walked.0.len(), 3);
        assert_eq!(walked.0[1].2, big);
        assert!(walked.0[1].3, "cut by the snapshot length");
        assert_eq!(walked, same(&file, 24, 100_000, 4096));
    }

    #[test]
    fn walker_reports_read_errors_as_pcap_parser_does() {
        let file = pcap_file(false, false, 1, &some_records());
        for fail_at in [0, 10, 24, 60, 200, 1000, file.len()] {
            for (first, piece) in [(usize::MAX, usize::MAX), (30, 17)] {
                let pieces = || Pieces {
                    fail_at: Some(fail_at),
                    ..Pieces::new(&file, first, piece)
                };
                let walked = by_records(pieces(), 64);
                assert_eq!(
                    walked,
                    by_pcap_parser(pieces(), 64),
                    "fail at {fail_at}, {first}/{piece}"
                );
                assert!(
                    !walked.1.is_empty() || fail_at == file.len(),
                    "{fail_at}: {walked:?}"
                );
            }
        }
        let walked = by_records(
            Pieces {
                fail_at: Some(0),
                ..Pieces::new(&file, 100, 100)
            },
            BUFFER,
        );
        assert_eq!(walked.1, [START_READ_ERROR]);
    }

    #[test]
    fn other_formats_reach_pcap_parser_unchanged() {
        // The "modified" pcap format (magic a1b2cd34, 24-byte record headers).
        let mut modified = 0xa1b2_cd34u32.to_le_bytes().to_vec();
        modified.extend_from_slice(&[
            2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
        ]);
        let ether = frame(5, 40 + 3, 0, 6, 5, b"abc");
        for v in [5u32, 6, ether.len() as u32, ether.len() as u32, 0, 0] {
            modified.extend_from_slice(&v.to_le_bytes());
        }
        modified.extend_from_slice(&ether);
        // pcapng: section header, interface description (Ethernet), enhanced packet.
        let mut ng = Vec::new();
        let block = |ng: &mut Vec<u8>, kind: u32, body: &[u8]| {
            let len = 12 + body.len() as u32;
            ng.extend_from_slice(&kind.to_le_bytes());
            ng.extend_from_slice(&len.to_le_bytes());
            ng.extend_from_slice(body);
            ng.extend_from_slice(&len.to_le_bytes());
        };
        let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
        shb.extend_from_slice(&[1, 0, 0, 0]);
        shb.extend_from_slice(&u64::MAX.to_le_bytes());
        block(&mut ng, 0x0a0d_0d0a, &shb);
        block(&mut ng, 1, &[1, 0, 0, 0, 0xff, 0xff, 0, 0]);
        let mut epb = Vec::new();
        for v in [0u32, 0, 1_000_000, ether.len() as u32, ether.len() as u32] {
            epb.extend_from_slice(&v.to_le_bytes());
        }
        epb.extend_from_slice(&ether);
        epb.resize(epb.len().div_ceil(4) * 4, 0);
        block(&mut ng, 6, &epb);
        for file in [&modified, &ng] {
            assert!(legacy_header(file).is_none());
            let whole = same(file, usize::MAX, usize::MAX, BUFFER);
            assert_eq!(whole.0.len(), 1, "{whole:?}");
            assert_eq!(whole.0[0].2, ether);
            for end in 0..=file.len() {
                // The first read decides the format: what pcap-parser then reads, after the
                // bytes it saw, is what it read alone.
                for (first, piece, buffer) in [(usize::MAX, usize::MAX, 256), (24, 5, 64)] {
                    assert_eq!(
                        by_records(Pieces::new(&file[..end], first, piece), buffer),
                        by_pcap_parser(Pieces::new(&file[..end], first, piece), buffer),
                        "cut at {end}, reads {first}/{piece}"
                    );
                }
            }
        }
    }

    #[test]
    fn fast_path_reads_what_etherparse_reads_or_leaves_it_to_etherparse() {
        let body: Vec<u8> = (0..64u8).collect();
        let mut frames = Vec::new();
        for ihl in [0u8, 4, 5, 6, 15] {
            for doff in [4u8, 5, 8, 15] {
                for extra in [0usize, 7, 64] {
                    let len = usize::from(ihl.max(5)) * 4 + usize::from(doff.max(5)) * 4 + extra;
                    for total in [0, 20, 39, len as u16 - 1, len as u16, len as u16 + 6, 60000] {
                        for (frag, proto) in
                            [(0u16, 6u8), (0x4000, 6), (0x2000, 6), (1, 6), (0, 17)]
                        {
                            let f = frame(ihl, total, frag, proto, doff, &body[..extra]);
                            frames.push(f.clone());
                            // Ethernet padding after the IP packet, and cuts at every length.
                            let mut padded = f.clone();
                            padded.extend_from_slice(&[0xee; 6]);
                            frames.push(padded);
                            for cut in [10, 14, 20, 33, 34, 40, 53, 54] {
                                frames.push(f[..cut.min(f.len())].to_vec());
                            }
                        }
                    }
                }
            }
        }
        let mut fast = 0;
        for f in &frames {
            if let Some(got) = by_fast_path(f) {
                fast += 1;
                assert_eq!(Some(got), by_etherparse(f), "{f:02x?}");
            }
        }
        assert!(fast > 100, "the fast path reads the common frames ({fast})");
    }
}
