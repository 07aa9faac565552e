//! Live capture for `smb1scan clients --interface IF --duration D`: an `AF_PACKET` socket on one
//! interface with a classic BPF program attached in the kernel (TCP port 445 or 139, IPv4 and
//! IPv6, and on a loopback interface only the incoming copy of each packet), read until the
//! duration ends, each frame through the same decoder and tracker as a capture file. Nothing is
//! sent. No `unsafe`: socket2 attaches the filter (`SO_ATTACH_FILTER`) and binds the device.
//!
//! Needs CAP_NET_RAW: without it, [`LiveError::MissingCapability`] says so in one line.

use std::io::Read;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use socket2::{Domain, Protocol, SockFilter, Socket, Type};

use super::capture::packet;
use super::flow::Tracker;

/// ETH_P_ALL: every protocol.
const ETH_P_ALL: u16 = 0x0003;
/// The largest frame read (jumbo frames and GRO'd loopback segments included).
const FRAME: usize = 256 * 1024;
/// How often the read loop looks at the clock.
const POLL: Duration = Duration::from_millis(100);

/// Why a live capture could not run.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The process may not open packet sockets.
    #[error(
        "live capture needs CAP_NET_RAW (run as root, or `setcap cap_net_raw+ep {exe}`); nothing was captured"
    )]
    MissingCapability {
        /// This program's path.
        exe: String,
    },
    /// The interface does not exist.
    #[error("interface {0}: no such interface")]
    NoInterface(String),
    /// The socket could not be set up.
    #[error("{what}: {source}")]
    Socket {
        /// What was being done.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
const LD_H_ABS: u16 = 0x28;
const LD_B_ABS: u16 = 0x30;
const LD_W_ABS: u16 = 0x20;
const LDX_B_MSH: u16 = 0xb1;
const LD_H_IND: u16 = 0x48;
const JEQ_K: u16 = 0x15;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;
/// SKF_AD_OFF + SKF_AD_PKTTYPE: the packet type (4 = PACKET_OUTGOING).
const AD_PKTTYPE: u32 = 0xffff_f000 + 4;

fn op(code: u16, jt: u8, jf: u8, k: u32) -> SockFilter {
    SockFilter::new(code, jt, jf, k)
}

/// The kernel filter: Ethernet-framed TCP to or from port 445 or 139 (IPv4 without fragments,
/// IPv6 with TCP as the next header); with `drop_outgoing` (loopback, where each packet is seen
/// leaving and arriving) the outgoing copy is dropped. What `tcpdump -dd 'tcp port 445 or tcp
/// port 139'` would give, with the loopback rule in front.
pub fn bpf_program(drop_outgoing: bool) -> Vec<SockFilter> {
    let accept = 0x0004_0000;
    let mut p = Vec::new();
    if drop_outgoing {
        p.push(op(LD_W_ABS, 0, 0, AD_PKTTYPE));
        p.push(op(JEQ_K, 0, 1, 4));
        p.push(op(RET_K, 0, 0, 0));
    }
    // Offsets below are relative to the first instruction of this block (index base).
    let body = [
        /* 0 */ op(LD_H_ABS, 0, 0, 12),
        /* 1 */ op(JEQ_K, 0, 10, 0x0800), // IPv4, else 12
        /* 2 */ op(LD_B_ABS, 0, 0, 23),
        /* 3 */ op(JEQ_K, 0, 18, 6), // TCP, else drop (22)
        /* 4 */ op(LD_H_ABS, 0, 0, 20),
        /* 5 */ op(JSET_K, 16, 0, 0x1fff), // a fragment: drop
        /* 6 */ op(LDX_B_MSH, 0, 0, 14),
        /* 7 */ op(LD_H_IND, 0, 0, 14), // source port
        /* 8 */ op(JEQ_K, 12, 0, 445),
        /* 9 */ op(JEQ_K, 11, 0, 139),
        /* 10 */ op(LD_H_IND, 0, 0, 16), // destination port
        /* 11 */ op(JEQ_K, 9, 8, 445), // accept (21) / 12
        /* 12 */ op(JEQ_K, 0, 9, 0x86dd), // IPv6, else drop
        /* 13 */ op(LD_B_ABS, 0, 0, 20),
        /* 14 */ op(JEQ_K, 0, 7, 6),
        /* 15 */ op(LD_H_ABS, 0, 0, 54),
        /* 16 */ op(JEQ_K, 4, 0, 445),
        /* 17 */ op(JEQ_K, 3, 0, 139),
        /* 18 */ op(LD_H_ABS, 0, 0, 56),
        /* 19 */ op(JEQ_K, 1, 0, 445),
        /* 20 */ op(JEQ_K, 0, 1, 139),
        /* 21 */ op(RET_K, 0, 0, accept),
        /* 22 */ op(RET_K, 0, 0, 0),
    ];
    p.extend(body);
    p
}

fn sys_net(interface: &str, file: &str) -> Option<String> {
    if interface.contains('/') || interface.is_empty() {
        return None;
    }
    std::fs::read_to_string(format!("/sys/class/net/{interface}/{file}"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Captures on `interface` for `duration` into `tracker`; returns the frames read.
pub fn capture(
    interface: &str,
    duration: Duration,
    tracker: &mut Tracker,
) -> Result<u64, LiveError> {
    // ARPHRD_LOOPBACK (772) frames carry a zeroed Ethernet header, like Ethernet (1).
    let Some(kind) = sys_net(interface, "type") else {
        return Err(LiveError::NoInterface(interface.to_string()));
    };
    let sock = Socket::new(
        Domain::PACKET,
        Type::RAW,
        Some(Protocol::from(i32::from(ETH_P_ALL.to_be()))),
    )
    .map_err(|e| {
        if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) {
            LiveError::MissingCapability {
                exe: std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| "/path/to/smb1scan".into()),
            }
        } else {
            LiveError::Socket {
                what: "opening the packet socket",
                source: e,
            }
        }
    })?;
    let err = |what| move |source| LiveError::Socket { what, source };
    sock.attach_filter(&bpf_program(kind == "772"))
        .map_err(err("attaching the capture filter"))?;
    sock.bind_device(Some(interface.as_bytes()))
        .map_err(err("binding the packet socket to the interface"))?;
    sock.set_read_timeout(Some(POLL))
        .map_err(err("setting the read timeout"))?;
    let deadline = Instant::now() + duration;
    let mut buf = vec![0u8; FRAME];
    let mut frames = 0u64;
    let mut unsupported = None;
    while Instant::now() < deadline {
        match (&sock).read(&mut buf) {
            Ok(n) => {
                frames += 1;
                let ts = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_micros() as i64)
                    .unwrap_or(0);
                let data = buf.get(..n).unwrap_or_default();
                packet(1, ts, data, n == FRAME, tracker, &mut unsupported);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                return Err(LiveError::Socket {
                    what: "reading packets",
                    source: e,
                })
            }
        }
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bpf_jumps_stay_inside_the_program() {
        for drop in [false, true] {
            let p = bpf_program(drop);
            // socket2's SockFilter hides its fields; the kernel checks the jumps when the
            // program is attached (tests/clients_live.rs). Here: the length the offsets assume.
            assert_eq!(p.len(), 23 + if drop { 3 } else { 0 });
        }
    }
}
