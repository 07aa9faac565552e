//! The SYN probe and the reply parser: IPv4 + TCP headers built and read with `etherparse`, and
//! the per-run cookie that lets the receiver recognise its own replies without per-target state.
//!
//! The cookie is the masscan/ZMap scheme: the SYN's sequence number is a keyed SipHash-2-4 of the
//! 4-tuple (RFC 9293 3.4 lets an initial sequence number be any value). A SYN-ACK or a RST in
//! answer to a SYN acknowledges `seq + 1` (RFC 9293 3.10.7.2 and 3.10.7.3), so a reply is ours
//! exactly when `ack - 1` equals the cookie of its (reversed) 4-tuple. The key is random per run,
//! so a third party cannot forge replies that pass.

use std::net::SocketAddrV4;

use etherparse::{IpNumber, Ipv4Header, Ipv4Slice, TcpHeader, TcpOptionElement, TcpSlice};
use siphasher::sip::SipHasher24;

/// Length of one SYN on the wire at the IP layer: 20 (IPv4) + 20 (TCP) + 4 (MSS option).
pub const SYN_LEN: usize = 44;

/// MSS advertised in the SYN (RFC 9293 3.7.1), the Ethernet value nmap and masscan also send:
/// some stacks answer a SYN without one less readily.
const SYN_MSS: u16 = 1460;
/// Receive window advertised in the SYN; any non-zero value does.
const SYN_WINDOW: u16 = 64240;
/// IPv4 TTL of the SYN (RFC 1700's default 64).
const SYN_TTL: u8 = 64;

/// The per-run SYN cookie key (SipHash-2-4, 128 bits).
#[derive(Clone)]
pub struct Cookie {
    hasher: SipHasher24,
}

impl std::fmt::Debug for Cookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret of the run: never print it.
        f.write_str("Cookie(..)")
    }
}

impl Cookie {
    /// A cookie with the given key (tests use a fixed one; a sweep uses [`Cookie::random`]).
    pub fn with_key(key: [u8; 16]) -> Cookie {
        Cookie {
            hasher: SipHasher24::new_with_key(&key),
        }
    }

    /// A cookie with a fresh random key from the kernel (`/dev/urandom`, Linux only like the
    /// raw sockets themselves).
    pub fn random() -> std::io::Result<Cookie> {
        use std::io::Read as _;
        let mut key = [0u8; 16];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
        Ok(Cookie::with_key(key))
    }

    /// The sequence number of the SYN from `src` to `dst`.
    pub fn seq(&self, src: SocketAddrV4, dst: SocketAddrV4) -> u32 {
        let mut b = [0u8; 12];
        b[0..4].copy_from_slice(&src.ip().octets());
        b[4..8].copy_from_slice(&dst.ip().octets());
        b[8..10].copy_from_slice(&src.port().to_be_bytes());
        b[10..12].copy_from_slice(&dst.port().to_be_bytes());
        // Truncation is the point: the sequence number has 32 bits.
        self.hasher.hash(&b) as u32
    }
}

/// Builds the SYN from `src` to `dst` with sequence number `seq`, checksums filled in.
pub fn build_syn(src: SocketAddrV4, dst: SocketAddrV4, seq: u32) -> [u8; SYN_LEN] {
    let mut tcp = TcpHeader::new(src.port(), dst.port(), seq, SYN_WINDOW);
    tcp.syn = true;
    let mut out = [0u8; SYN_LEN];
    // One 4-byte option always fits the 40 bytes of TCP options: the error branch is dead, and
    // leaving the option out would still give a valid SYN.
    let _ = tcp.set_options(&[TcpOptionElement::MaximumSegmentSize(SYN_MSS)]);
    let tcp_len = tcp.header_len_u16();
    let Ok(mut ip) = Ipv4Header::new(
        tcp_len,
        SYN_TTL,
        IpNumber::TCP,
        src.ip().octets(),
        dst.ip().octets(),
    ) else {
        return out;
    };
    // The ID only matters for fragments and the SYN is never fragmented (DF set); taking it from
    // the cookie keeps it varied without another random source.
    ip.identification = (seq >> 16) as u16;
    ip.header_checksum = ip.calc_header_checksum();
    tcp.checksum = tcp
        .calc_checksum_ipv4_raw(ip.source, ip.destination, &[])
        .unwrap_or(0);
    let iph = ip.to_bytes();
    let tcph = tcp.to_bytes();
    let (a, b) = out.split_at_mut(iph.len().min(SYN_LEN));
    a.copy_from_slice(&iph[..a.len()]);
    let n = tcph.len().min(b.len());
    b[..n].copy_from_slice(&tcph[..n]);
    out
}

/// What a validated reply says about the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    /// SYN-ACK: something listens.
    SynAck,
    /// RST (with ACK): the host is there and the port is closed.
    Rst,
}

/// A TCP reply to one of our SYNs, as read off the wire (not yet checked against the cookie).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// The target that answered (the reply's source).
    pub target: SocketAddrV4,
    /// Where the reply went (our source address and port, if it is ours).
    pub to: SocketAddrV4,
    /// SYN-ACK or RST.
    pub kind: ReplyKind,
    /// The acknowledgment number.
    pub ack: u32,
}

/// Reads an IPv4 packet (as a raw `IPPROTO_TCP` socket delivers it, IP header first) and returns
/// the TCP reply it carries when it is a SYN-ACK or an ACK-bearing RST; anything else (another
/// protocol, a fragment, a truncated or malformed packet, other flags) is `None`.
pub fn parse_reply(packet: &[u8]) -> Option<Reply> {
    let ip = Ipv4Slice::from_slice(packet).ok()?;
    if ip.payload_ip_number() != IpNumber::TCP || ip.is_payload_fragmented() {
        return None;
    }
    let tcp = TcpSlice::from_slice(ip.payload().payload).ok()?;
    let kind = if tcp.syn() && tcp.ack() && !tcp.rst() {
        ReplyKind::SynAck
    } else if tcp.rst() && tcp.ack() {
        // A RST without ACK cannot be checked against the cookie: a host answering our SYN
        // always sets ACK (RFC 9293 3.10.7.1).
        ReplyKind::Rst
    } else {
        return None;
    };
    let h = ip.header();
    Some(Reply {
        target: SocketAddrV4::new(h.source_addr(), tcp.source_port()),
        to: SocketAddrV4::new(h.destination_addr(), tcp.destination_port()),
        kind,
        ack: tcp.acknowledgment_number(),
    })
}

/// Whether `reply` answers a SYN this run sent from `source` (its address and port, and the
/// cookie of the 4-tuple in the acknowledgment number). `source`'s address may be unspecified
/// (`0.0.0.0`) when replies to any local address count.
pub fn is_ours(cookie: &Cookie, source: SocketAddrV4, reply: &Reply) -> bool {
    if reply.to.port() != source.port() {
        return false;
    }
    if !source.ip().is_unspecified() && reply.to.ip() != source.ip() {
        return false;
    }
    let src = SocketAddrV4::new(*reply.to.ip(), source.port());
    reply.ack.wrapping_sub(1) == cookie.seq(src, reply.target)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 16] = *b"0123456789abcdef";

    fn a(s: &str) -> SocketAddrV4 {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn syn_bytes_are_a_valid_ipv4_tcp_syn() {
        let src = a("192.0.2.1:61234");
        let dst = a("198.51.100.7:445");
        let p = build_syn(src, dst, 0x0102_0304);
        // Golden bytes (IPv4 then TCP), checksums included; the checksums are also verified
        // independently of etherparse below.
        assert_eq!(hex::encode(p), GOLDEN_SYN);
        assert_eq!(
            ones_complement_sum(&p[..20]),
            0xffff,
            "IPv4 header checksum"
        );
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&p[12..20]); // source, destination
        pseudo.extend_from_slice(&[0, 6, 0, 24]); // zero, protocol TCP, TCP length
        pseudo.extend_from_slice(&p[20..]);
        assert_eq!(ones_complement_sum(&pseudo), 0xffff, "TCP checksum");
        let ip = Ipv4Slice::from_slice(&p).expect("ipv4");
        let h = ip.header();
        assert_eq!(h.total_len() as usize, SYN_LEN);
        assert_eq!(h.protocol(), IpNumber::TCP);
        assert!(h.dont_fragment());
        assert_eq!(h.source_addr(), *src.ip());
        assert_eq!(h.destination_addr(), *dst.ip());
        assert_eq!(h.header_checksum(), h.to_header().calc_header_checksum());
        let t = TcpSlice::from_slice(ip.payload().payload).expect("tcp");
        assert!(t.syn() && !t.ack() && !t.rst() && !t.fin());
        assert_eq!(t.source_port(), 61234);
        assert_eq!(t.destination_port(), 445);
        assert_eq!(t.sequence_number(), 0x0102_0304);
        assert_eq!(t.acknowledgment_number(), 0);
        assert_eq!(
            t.options_iterator().collect::<Vec<_>>(),
            vec![Ok(TcpOptionElement::MaximumSegmentSize(1460))]
        );
        assert_eq!(
            t.checksum(),
            t.calc_checksum_ipv4(src.ip().octets(), dst.ip().octets())
                .expect("len")
        );
    }

    // IPv4: 45 00 002c (44 bytes) 0102 4000 (DF) 40 06 4d8e c0000201 c6336407; TCP: ef32 01bd
    // 01020304 00000000 60 02 (6 words, SYN) faf0 bc03 0000, MSS option 02 04 05b4.
    const GOLDEN_SYN: &str =
        "4500002c0102400040064d8ec0000201c6336407ef3201bd01020304000000006002faf0bc030000020405b4";

    /// RFC 1071 one's complement sum of 16-bit words (0xffff over a block that includes its own
    /// correct checksum), by hand, independent of etherparse.
    fn ones_complement_sum(b: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for c in b.chunks(2) {
            let hi = c.first().copied().unwrap_or(0);
            let lo = c.get(1).copied().unwrap_or(0);
            sum += u32::from(u16::from_be_bytes([hi, lo]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    /// A reply from `target` to `to` with the given flags and ack, as the peer would send it.
    fn reply_bytes(
        target: SocketAddrV4,
        to: SocketAddrV4,
        syn: bool,
        rst: bool,
        ack: u32,
    ) -> Vec<u8> {
        let mut tcp = TcpHeader::new(target.port(), to.port(), 777, 1000);
        tcp.syn = syn;
        tcp.rst = rst;
        tcp.ack = true;
        tcp.acknowledgment_number = ack;
        let ip = Ipv4Header::new(
            tcp.header_len_u16(),
            64,
            IpNumber::TCP,
            target.ip().octets(),
            to.ip().octets(),
        )
        .expect("header");
        let mut v = Vec::new();
        ip.write(&mut v).expect("write ip");
        tcp.write(&mut v).expect("write tcp");
        v
    }

    #[test]
    fn syn_ack_and_rst_with_the_right_ack_are_ours() {
        let c = Cookie::with_key(KEY);
        let me = a("192.0.2.1:61234");
        let t = a("198.51.100.7:445");
        let seq = c.seq(me, t);
        let sa = parse_reply(&reply_bytes(t, me, true, false, seq.wrapping_add(1))).expect("parse");
        assert_eq!(sa.kind, ReplyKind::SynAck);
        assert_eq!(sa.target, t);
        assert!(is_ours(&c, me, &sa));
        let rst =
            parse_reply(&reply_bytes(t, me, false, true, seq.wrapping_add(1))).expect("parse");
        assert_eq!(rst.kind, ReplyKind::Rst);
        assert!(is_ours(&c, me, &rst));
    }

    #[test]
    fn a_reply_with_a_wrong_ack_is_dropped() {
        let c = Cookie::with_key(KEY);
        let me = a("192.0.2.1:61234");
        let t = a("198.51.100.7:445");
        let seq = c.seq(me, t);
        for ack in [seq, seq.wrapping_add(2), 0, !seq] {
            let r = parse_reply(&reply_bytes(t, me, true, false, ack)).expect("parse");
            assert!(!is_ours(&c, me, &r), "ack {ack:#x} accepted");
        }
        // The right ack, but from another port or host than the one the SYN went to.
        for other in [a("198.51.100.7:139"), a("198.51.100.8:445")] {
            let r = parse_reply(&reply_bytes(other, me, true, false, seq.wrapping_add(1)))
                .expect("parse");
            assert!(!is_ours(&c, me, &r), "reply from {other} accepted");
        }
        // The right ack, but to another local port or address.
        for to in [a("192.0.2.1:61235"), a("192.0.2.2:61234")] {
            let r =
                parse_reply(&reply_bytes(t, to, true, false, seq.wrapping_add(1))).expect("parse");
            assert!(!is_ours(&c, me, &r), "reply to {to} accepted");
        }
        // Another run's key.
        let other_run = Cookie::with_key(*b"fedcba9876543210");
        let r = parse_reply(&reply_bytes(t, me, true, false, seq.wrapping_add(1))).expect("parse");
        assert!(!is_ours(&other_run, me, &r));
    }

    #[test]
    fn non_replies_are_not_parsed() {
        let me = a("192.0.2.1:61234");
        let t = a("198.51.100.7:445");
        // Our own SYN (seen on loopback) is not a reply.
        assert_eq!(parse_reply(&build_syn(me, t, 5)), None);
        // A RST without ACK, a plain ACK.
        let mut v = reply_bytes(t, me, false, true, 6);
        v[33] &= !0x10; // clear ACK in the TCP flags byte (IP 20 + TCP offset 13)
        assert_eq!(parse_reply(&v), None);
        assert_eq!(parse_reply(&reply_bytes(t, me, false, false, 6)), None);
        // Truncated and garbage input never panics.
        let full = reply_bytes(t, me, true, false, 6);
        for n in 0..full.len() {
            assert_eq!(parse_reply(&full[..n]), None, "truncated to {n}");
        }
        assert_eq!(parse_reply(&[0x45; 64]), None);
        assert_eq!(parse_reply(&[]), None);
    }

    #[test]
    fn cookies_differ_by_tuple_and_key() {
        let c = Cookie::with_key(KEY);
        let me = a("192.0.2.1:61234");
        let s1 = c.seq(me, a("198.51.100.7:445"));
        assert_ne!(s1, c.seq(me, a("198.51.100.7:139")));
        assert_ne!(s1, c.seq(me, a("198.51.100.8:445")));
        assert_ne!(s1, c.seq(a("192.0.2.1:61235"), a("198.51.100.7:445")));
        assert_ne!(
            s1,
            Cookie::with_key(*b"fedcba9876543210").seq(me, a("198.51.100.7:445"))
        );
        assert_eq!(s1, Cookie::with_key(KEY).seq(me, a("198.51.100.7:445")));
        let r1 = Cookie::random().expect("urandom");
        let r2 = Cookie::random().expect("urandom");
        assert_ne!(
            r1.seq(me, a("198.51.100.7:445")),
            r2.seq(me, a("198.51.100.7:445"))
        );
    }
}
