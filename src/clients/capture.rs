//! Packet captures for `smb1scan clients`: pcap and pcapng (rusticata `pcap-parser`), plain or
//! gzip (`flate2`), link types Ethernet, Linux cooked (SLL, SLL2), raw IP and BSD loopback;
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
    let mut stats = CaptureStats::default();
    let mut problem = |what: String| problems.push(Problem::new(name, what));
    let mut reader = match pcap_parser::create_reader(BUFFER, input) {
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
            problem("read error at the start of the file (a cut gzip stream?)".into());
            return stats;
        }
        Err(e) => {
            problem(format!("cannot read the capture header: {e:?}"));
            return stats;
        }
    };
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut legacy: Option<(Iface, bool)> = None;
    let mut unsupported_link: Option<i32> = None;
    let mut capacity = BUFFER;
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
                            packet(
                                iface.linktype,
                                ts,
                                b.data,
                                cut,
                                tracker,
                                &mut unsupported_link,
                            );
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
                                packet(iface.linktype, ts, data, cut, tracker, &mut unsupported_link);
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
                            packet(
                                iface.linktype,
                                0,
                                spb.data,
                                cut,
                                tracker,
                                &mut unsupported_link,
                            );
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
                problem(format!(
                    "file ends inside a record after {} packets: the capture was cut; everything before it was read",
                    stats.packets
                ));
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
                    problem(format!(
                        "read error after {} packets ({e:?}; a cut gzip stream?): the rest of the file was not read",
                        stats.packets
                    ));
                    break;
                }
                if reader.data().len() == before && !reader.reader_exhausted() {
                    // The buffer is full and still holds no whole record: make it bigger.
                    if !grow(&mut *reader, &mut capacity) {
                        problem(format!(
                            "a record larger than {} MiB after {} packets: corrupt file, the rest was not read",
                            MAX_RECORD >> 20,
                            stats.packets
                        ));
                        break;
                    }
                }
            }
            Err(PcapError::BufferTooSmall) => {
                if !grow(&mut *reader, &mut capacity) {
                    problem(format!(
                        "a record larger than {} MiB after {} packets: corrupt file, the rest was not read",
                        MAX_RECORD >> 20,
                        stats.packets
                    ));
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
    if let Some(l) = unsupported_link {
        problem(format!(
            "link type {l} is not read (Ethernet, Linux cooked SLL/SLL2, raw IP and loopback are): its packets were skipped"
        ));
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
    if data.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ip = data.get(14..)?;
    let v = *ip.first()?;
    let ihl = usize::from(v & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
    let frag = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]);
    if v >> 4 != 4 || ihl < 20 || *ip.get(9)? != 6 || frag & 0x3fff != 0 {
        return None;
    }
    if total < ihl + 20 || total > ip.len() {
        return None;
    }
    let tcp = ip.get(ihl..total)?;
    let header_len = usize::from(tcp.get(12)? >> 4) * 4;
    if header_len < 20 || header_len > tcp.len() {
        return None;
    }
    let src = std::net::Ipv4Addr::new(*ip.get(12)?, *ip.get(13)?, *ip.get(14)?, *ip.get(15)?);
    let dst = std::net::Ipv4Addr::new(*ip.get(16)?, *ip.get(17)?, *ip.get(18)?, *ip.get(19)?);
    Some(FastTcp {
        src,
        dst,
        tcp,
        header_len,
    })
}

fn feed_fast(f: &FastTcp<'_>, ts: Micros, cut: bool, tracker: &mut Tracker) {
    let t = f.tcp;
    let be16 = |i: usize| {
        u16::from_be_bytes([
            t.get(i).copied().unwrap_or(0),
            t.get(i + 1).copied().unwrap_or(0),
        ])
    };
    let seq = t
        .get(4..8)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_be_bytes);
    let flags = t.get(13).copied().unwrap_or(0);
    tracker.segment(&Segment {
        ts,
        src: SocketAddr::new(IpAddr::V4(f.src), be16(0)),
        dst: SocketAddr::new(IpAddr::V4(f.dst), be16(2)),
        seq,
        syn: flags & 0x02 != 0,
        fin: flags & 0x01 != 0,
        rst: flags & 0x04 != 0,
        payload: t.get(f.header_len..).unwrap_or_default(),
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
