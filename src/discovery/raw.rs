//! The raw sockets of SYN discovery: one `IPPROTO_RAW` socket that sends whole IPv4 packets in
//! batches with `sendmmsg(2)` (or, with a named interface and next-hop MAC, an `AF_PACKET`
//! socket that hands the same packets straight to the interface, skipping the IP layer's
//! per-packet route lookup and netfilter, as masscan does with libpcap), one `IPPROTO_TCP` raw socket that receives a copy of every TCP
//! packet addressed to this host, and the route lookup that picks the source address.
//!
//! This is the only module of the crate with `unsafe`: `sendmmsg(2)` has no safe wrapper in
//! `socket2` or `std`, and it is what lets one system call carry a whole batch of SYNs (as masscan
//! and ZMap batch), so the sender is not the bottleneck. The unsafe code is confined to
//! [`RawSender::send`], which points the kernel at buffers that outlive the call, and to one
//! `setsockopt` call for the two options `socket2` 0.6 does not wrap: `SO_RCVBUFFORCE` here, and
//! `SO_RCVLOWAT` for the probe's pipelined replies ([`set_recv_lowat`]).
#![allow(unsafe_code)]

use std::io::{self, Read as _};
use std::mem::size_of;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::packet::SYN_LEN;

/// Most packets handed to the kernel in one `sendmmsg` call (a `UIO_MAXIOV`-sized call would also
/// work; past ~64 the per-call cost no longer shows).
pub const MAX_BATCH: usize = 128;

/// Receive buffer asked for on the reply socket: a burst of replies must wait there while the
/// receiver thread catches up, because a dropped reply would read as `filtered`.
const RECV_BUFFER: usize = 32 << 20;

/// How long one blocking read of the reply socket waits before the receiver looks at its stop
/// flag again.
const RECV_POLL: Duration = Duration::from_millis(20);

fn bind_to(sock: &Socket, interface: Option<&str>) -> io::Result<()> {
    match interface {
        Some(i) => sock.bind_device(Some(i.as_bytes())),
        None => Ok(()),
    }
}

/// Sends prebuilt IPv4 packets (IP header included) in `sendmmsg` batches.
pub struct RawSender {
    sock: Socket,
    /// `AF_PACKET` mode: the one link-layer destination of every packet.
    link: Option<libc::sockaddr_ll>,
    addrs: Vec<libc::sockaddr_in>,
    iov: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

// SAFETY of `Send`: the raw pointers in `iov` and `hdrs` point into this struct's own heap
// buffers (or are refreshed from the caller's slice on every `send`), so moving the struct to
// another thread moves nothing they point to.
unsafe impl Send for RawSender {}

impl RawSender {
    /// An `IPPROTO_RAW` socket (which implies `IP_HDRINCL`: we write the IPv4 header), bound to
    /// `interface` when given. Needs CAP_NET_RAW.
    pub fn open(interface: Option<&str>) -> io::Result<RawSender> {
        let sock = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(Protocol::from(libc::IPPROTO_RAW)),
        )?;
        bind_to(&sock, interface)?;
        // Best effort: a larger send buffer absorbs bursts to a real NIC; the default still works.
        let _ = sock.set_send_buffer_size(4 << 20);
        let zero_addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr { s_addr: 0 },
            sin_zero: [0; 8],
        };
        let zero_iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        // SAFETY: `mmsghdr` is a plain C struct of integers and pointers; all-zero is its valid
        // empty value (null pointers, zero lengths), and `send` fills it before use.
        let zero_hdr: libc::mmsghdr = unsafe { std::mem::zeroed() };
        Ok(RawSender {
            sock,
            link: None,
            addrs: vec![zero_addr; MAX_BATCH],
            iov: vec![zero_iov; MAX_BATCH],
            hdrs: vec![zero_hdr; MAX_BATCH],
        })
    }

    /// An `AF_PACKET` datagram socket on `interface`: the kernel adds the link header for
    /// `next_hop` (the router's MAC, or the target's on a local segment) and hands the IPv4
    /// packets to the interface's queue, with no route lookup or netfilter pass per packet.
    /// Protocol 0, so the socket never receives. Needs CAP_NET_RAW.
    pub fn open_link(interface: &str, next_hop: [u8; 6]) -> io::Result<RawSender> {
        let mut s = RawSender::open(None)?;
        s.sock = Socket::new(Domain::PACKET, Type::DGRAM, None)?;
        let _ = s.sock.set_send_buffer_size(4 << 20);
        let name = std::ffi::CString::new(interface)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in interface name"))?;
        // SAFETY: `if_nametoindex` reads the NUL-terminated string, which lives across the call.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if index == 0 {
            return Err(io::Error::last_os_error());
        }
        let mut addr = [0u8; 8];
        addr[..6].copy_from_slice(&next_hop);
        s.link = Some(libc::sockaddr_ll {
            sll_family: libc::AF_PACKET as libc::c_ushort,
            sll_protocol: (libc::ETH_P_IP as u16).to_be(),
            sll_ifindex: libc::c_int::try_from(index)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index"))?,
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: 6,
            sll_addr: addr,
        });
        Ok(s)
    }

    /// Sends `packets[i]` to `dsts[i]` (at most [`MAX_BATCH`]) in one `sendmmsg` call. Returns how
    /// many the kernel took, from the first one on; an error means the first one failed (the
    /// caller decides whether to retry it or give it up).
    pub fn send(&mut self, packets: &[[u8; SYN_LEN]], dsts: &[Ipv4Addr]) -> io::Result<usize> {
        let n = packets.len().min(dsts.len()).min(MAX_BATCH);
        if n == 0 {
            return Ok(0);
        }
        for i in 0..n {
            let (Some(addr), Some(iov), Some(hdr), Some(pkt), Some(dst)) = (
                self.addrs.get_mut(i),
                self.iov.get_mut(i),
                self.hdrs.get_mut(i),
                packets.get(i),
                dsts.get(i),
            ) else {
                break;
            };
            iov.iov_base = pkt.as_ptr() as *mut libc::c_void;
            iov.iov_len = SYN_LEN;
            match self.link.as_mut() {
                Some(ll) => {
                    hdr.msg_hdr.msg_name = (ll as *mut libc::sockaddr_ll).cast();
                    hdr.msg_hdr.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
                }
                None => {
                    addr.sin_addr.s_addr = u32::from(*dst).to_be();
                    hdr.msg_hdr.msg_name = (addr as *mut libc::sockaddr_in).cast();
                    hdr.msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
                }
            }
            hdr.msg_hdr.msg_iov = iov as *mut libc::iovec;
            hdr.msg_hdr.msg_iovlen = 1;
            hdr.msg_hdr.msg_control = std::ptr::null_mut();
            hdr.msg_hdr.msg_controllen = 0;
            hdr.msg_hdr.msg_flags = 0;
            hdr.msg_len = 0;
        }
        use std::os::fd::AsRawFd as _;
        // SAFETY: `hdrs[..n]` are initialised above; each points to an `addrs` entry (or `link`)
        // and an `iov` entry of this struct (heap buffers that neither move nor shrink while `self` is
        // borrowed), and each `iov` points to a `SYN_LEN`-byte packet of `packets`, borrowed for
        // the whole call. The kernel only reads them (and writes `msg_len`) during the call.
        let r = unsafe {
            libc::sendmmsg(
                self.sock.as_raw_fd(),
                self.hdrs.as_mut_ptr(),
                n as libc::c_uint,
                0,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        }
    }
}

/// Receives every TCP packet addressed to this host, whichever interface it came through (a raw
/// `IPPROTO_TCP` socket gets a copy of each, IP header first). Needs CAP_NET_RAW.
pub struct RawReceiver {
    sock: Socket,
}

impl RawReceiver {
    /// Opens the socket with a large receive buffer and a short read timeout.
    pub fn open() -> io::Result<RawReceiver> {
        let sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::TCP))?;
        force_recv_buffer(&sock, RECV_BUFFER);
        sock.set_read_timeout(Some(RECV_POLL))?;
        Ok(RawReceiver { sock })
    }

    /// Reads one packet into `buf`: `Ok(None)` when the poll interval passed without one.
    pub fn recv<'b>(&self, buf: &'b mut [u8]) -> io::Result<Option<&'b [u8]>> {
        match (&self.sock).read(buf) {
            Ok(n) => Ok(buf.get(..n)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Switches to non-blocking reads, to drain what is already queued and stop.
    pub fn set_nonblocking(&self) -> io::Result<()> {
        self.sock.set_nonblocking(true)
    }
}

/// `SO_RCVLOWAT` ([socket(7)]): the socket reads as readable (epoll, so a tokio wake-up) only
/// once `bytes` are queued (or at end of stream or on an error). The probe sets it while it waits
/// for the replies to pipelined requests, so replies that arrive close together are read in one
/// wake-up (conn.rs, `Conn::expect_at_least`).
pub(crate) fn set_recv_lowat(sock: &impl std::os::fd::AsRawFd, bytes: usize) -> io::Result<()> {
    setsockopt_int(sock, libc::SO_RCVLOWAT, bytes.max(1))
}

/// A `SOL_SOCKET` option whose value is a C `int` (`bytes` capped at `c_int::MAX`): the one
/// `setsockopt` call of this module, for the options `socket2` does not wrap.
fn setsockopt_int(
    sock: &impl std::os::fd::AsRawFd,
    opt: libc::c_int,
    bytes: usize,
) -> io::Result<()> {
    let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: `setsockopt` reads `size_of::<c_int>()` bytes from a live local `c_int`.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&v as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `SO_RCVBUFFORCE` (root or CAP_NET_ADMIN: past `net.core.rmem_max`), else `SO_RCVBUF`; best
/// effort either way.
fn force_recv_buffer(sock: &Socket, bytes: usize) {
    if setsockopt_int(sock, libc::SO_RCVBUFFORCE, bytes).is_err() {
        let _ = sock.set_recv_buffer_size(bytes);
    }
}

/// The source address the kernel would use towards `dst` (through `interface` when given): a UDP
/// socket is connected (which sends nothing) and asked for its local address.
pub fn route_source(dst: SocketAddrV4, interface: Option<&str>) -> io::Result<Ipv4Addr> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    bind_to(&s, interface)?;
    // Port 9 (discard): any non-zero port makes the connect valid; nothing is sent.
    s.connect(&SockAddr::from(SocketAddrV4::new(*dst.ip(), 9)))?;
    match s.local_addr()?.as_socket() {
        Some(SocketAddr::V4(a)) if !a.ip().is_unspecified() => Ok(*a.ip()),
        _ => Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            "no IPv4 source address for this route",
        )),
    }
}
