//! One TCP connection to a target, with the three safety rails every exchange needs: a connect
//! timeout, a per-exchange read timeout (covering the whole frame, so a peer dribbling one byte a
//! second cannot stretch it), and the NBSS length bound checked before any body is read.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use smb1scan_protocol::nbns::{
    build_node_status_request, parse_node_status_response, NodeName, NBNS_PORT,
};
use smb1scan_protocol::nbss::{
    build_nbss_session_message, build_nbss_session_request, parse_nbss_header,
    parse_nbss_session_response, NbssSessionResponse, NbssType, NBSS_HEADER_LEN,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

use super::verdict::Failure;

/// Read buffer per connection: a few replies' worth (most replies are under 300 bytes; longer
/// ones are read through it in pieces), small enough for thousands of connections.
const READ_BUFFER: usize = 2048;

/// Keep-alives a peer may send before a real message; more than this is a protocol error.
const MAX_KEEPALIVES: usize = 8;

/// Why an exchange failed, classified for the closed status vocabulary.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The SYN was answered with RST.
    #[error("connection refused")]
    Refused,
    /// No answer to the SYN in time.
    #[error("connect timed out")]
    ConnectTimeout,
    /// ICMP unreachable / no route.
    #[error("network unreachable: {0}")]
    Unreachable(io::Error),
    /// The peer reset an established connection.
    #[error("connection reset by peer")]
    Reset,
    /// The peer closed the connection (EOF).
    #[error("connection closed by peer")]
    Closed,
    /// No complete answer within the read timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The peer sent something that is not a valid frame.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The NetBIOS session request on port 139 was refused.
    #[error("NetBIOS session refused (code 0x{0:02X})")]
    NetbiosRefused(u8),
    /// Any other local I/O error.
    #[error("{0}")]
    Io(io::Error),
}

impl NetError {
    fn from_io(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => NetError::Refused,
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => NetError::Reset,
            io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe => NetError::Closed,
            io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
                NetError::Unreachable(e)
            }
            _ => match e.raw_os_error() {
                // EHOSTUNREACH / ENETUNREACH on platforms where the kind is not mapped.
                Some(113) | Some(101) => NetError::Unreachable(e),
                _ => NetError::Io(e),
            },
        }
    }

    /// The failure as the verdict rules classify it.
    pub fn failure(&self) -> Failure {
        match self {
            NetError::Refused => Failure::Refused,
            NetError::ConnectTimeout => Failure::ConnectTimeout,
            NetError::Unreachable(_) => Failure::Unreachable,
            NetError::Reset => Failure::Reset,
            NetError::Closed => Failure::Closed,
            NetError::Timeout(_) => Failure::Timeout,
            NetError::Protocol(_) => Failure::Protocol,
            NetError::NetbiosRefused(_) => Failure::NetbiosRefused,
            NetError::Io(_) => Failure::Local,
        }
    }
}

/// A connected SMB transport.
pub struct Conn {
    /// Buffered reads: a reply's NBSS header and body, and the replies to pipelined requests
    /// that arrive together, come in one read instead of one per part.
    stream: BufReader<TcpStream>,
    read_timeout: Duration,
    /// The target, for the `-vvv` wire trace.
    peer: SocketAddr,
    /// The socket's `SO_RCVLOWAT` (1, the kernel's default, except while pipelined replies are
    /// awaited: [`Conn::expect_at_least`]).
    lowat: usize,
}

/// Largest `SO_RCVLOWAT` asked for (the kernel caps it at half the receive buffer anyway).
const MAX_LOWAT: usize = 16 * 1024;

/// How long [`Conn::recv_buffered`] waits for a message already on its way.
const BUFFERED_WAIT: Duration = Duration::from_millis(50);

impl Conn {
    /// Connects to `addr`, retrying a timed-out connect `retries` more times. Also returns the
    /// number of attempts made, for the audit trail.
    pub async fn connect(
        addr: SocketAddr,
        connect_timeout: Duration,
        read_timeout: Duration,
        retries: u32,
    ) -> (Result<Conn, NetError>, u32) {
        let mut attempt = 0;
        loop {
            let r = match timeout(connect_timeout, TcpStream::connect(addr)).await {
                Err(_) => Err(NetError::ConnectTimeout),
                Ok(Err(e)) => Err(NetError::from_io(e)),
                Ok(Ok(stream)) => {
                    // Small request/response exchanges: do not let Nagle delay them.
                    // Best effort: a socket without it still works, only slower.
                    let _ = stream.set_nodelay(true);
                    return (
                        Ok(Conn {
                            stream: BufReader::with_capacity(READ_BUFFER, stream),
                            read_timeout,
                            peer: addr,
                            lowat: 1,
                        }),
                        attempt + 1,
                    );
                }
            };
            // Only a connect that went unanswered is retried: a refusal is an answer.
            if attempt >= retries || !matches!(r, Err(NetError::ConnectTimeout)) {
                return (r, attempt + 1);
            }
            attempt += 1;
        }
    }

    /// Port 139: NetBIOS SESSION REQUEST to `called` (`*SMBSERVER`, or the host's own name)
    /// before any SMB.
    pub async fn netbios_session(&mut self, called: &str) -> Result<(), NetError> {
        let req = build_nbss_session_request(called, "SMB1SCAN");
        wire_trace(self.peer, "sent", &req);
        self.write(&req).await?;
        let msg = self.read_frame_raw().await?;
        wire_trace(self.peer, "received", &msg);
        match parse_nbss_session_response(&msg) {
            Ok(NbssSessionResponse::Positive) => Ok(()),
            Ok(NbssSessionResponse::Negative(code)) => Err(NetError::NetbiosRefused(code)),
            Ok(NbssSessionResponse::Retarget) => Err(NetError::NetbiosRefused(0x84)),
            Err(e) => Err(NetError::Protocol(e.to_string())),
        }
    }

    async fn write(&mut self, b: &[u8]) -> Result<(), NetError> {
        match timeout(self.read_timeout, self.stream.write_all(b)).await {
            Err(_) => Err(NetError::Timeout(self.read_timeout)),
            Ok(Err(e)) => Err(NetError::from_io(e)),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Frames `smb` as an NBSS session message and sends it.
    pub async fn send(&mut self, smb: &[u8]) -> Result<(), NetError> {
        let framed = build_nbss_session_message(smb);
        wire_trace(self.peer, "sent", &framed);
        self.write(&framed).await
    }

    /// Frames each of `smbs` as an NBSS session message and sends them in one write (pipelined
    /// requests: one syscall and one segment instead of one per request).
    pub async fn send_many(&mut self, smbs: &[&[u8]]) -> Result<(), NetError> {
        let mut all = Vec::with_capacity(smbs.iter().map(|m| m.len() + NBSS_HEADER_LEN).sum());
        for smb in smbs {
            let framed = build_nbss_session_message(smb);
            wire_trace(self.peer, "sent", &framed);
            all.extend_from_slice(&framed);
        }
        self.write(&all).await
    }

    /// Reads one NBSS frame (header + body) under one read timeout; returns the header and body
    /// bytes together. Used for the session response on 139.
    async fn read_frame_raw(&mut self) -> Result<Vec<u8>, NetError> {
        let read_timeout = self.read_timeout;
        match timeout(read_timeout, read_frame(&mut self.stream)).await {
            Err(_) => Err(NetError::Timeout(read_timeout)),
            Ok(r) => r,
        }
    }

    /// Receives the next SMB message (the NBSS payload), skipping keep-alives, under one read
    /// timeout for the whole message.
    pub async fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        let read_timeout = self.read_timeout;
        let fut = async {
            for _ in 0..MAX_KEEPALIVES {
                let mut frame = read_frame(&mut self.stream).await?;
                let kind = frame.first().copied().unwrap_or(0);
                if kind == NbssType::KEEP_ALIVE.0 {
                    continue;
                }
                if kind != NbssType::SESSION_MESSAGE.0 {
                    return Err(NetError::Protocol(format!(
                        "unexpected NBSS packet type 0x{kind:02X}"
                    )));
                }
                wire_trace(self.peer, "received", &frame);
                frame.drain(..NBSS_HEADER_LEN.min(frame.len()));
                return Ok(frame);
            }
            Err(NetError::Protocol("too many NBSS keep-alives".into()))
        };
        match timeout(read_timeout, fut).await {
            Err(_) => Err(NetError::Timeout(read_timeout)),
            Ok(r) => r,
        }
    }

    /// Pipelined requests: wake this connection's reader only once at least `bytes` more than its
    /// read buffer holds are queued (`SO_RCVLOWAT`), so replies that arrive close together cost
    /// one wake-up and one read instead of one each. `bytes` must be a lower bound of what the
    /// peer still sends before the last awaited reply is complete (an overestimate would hold
    /// the reader until the read timeout); 0 or 1 restores the default. Best effort: where the
    /// option cannot be set the reader wakes per segment as before.
    pub fn expect_at_least(&mut self, bytes: usize) {
        let want = bytes
            .saturating_sub(self.stream.buffer().len())
            .clamp(1, MAX_LOWAT);
        if want != self.lowat
            && crate::discovery::set_recv_lowat(self.stream.get_ref(), want).is_ok()
        {
            self.lowat = want;
        }
    }

    /// The next message when it is already arriving (after a read timeout under
    /// [`Conn::expect_at_least`], the replies that came before it): the low-water mark back to
    /// the default, then at most [`BUFFERED_WAIT`] for a whole message; `None` when none comes.
    pub async fn recv_buffered(&mut self) -> Option<Vec<u8>> {
        self.expect_at_least(1);
        let saved = std::mem::replace(&mut self.read_timeout, BUFFERED_WAIT);
        let m = self.recv().await.ok();
        self.read_timeout = saved;
        m
    }

    /// Sends `smb` and returns the next message.
    pub async fn exchange(&mut self, smb: &[u8]) -> Result<Vec<u8>, NetError> {
        self.send(smb).await?;
        self.recv().await
    }
}

/// Asks `ip` for its NetBIOS names with an NBNS NODE STATUS request (UDP 137, RFC 1002 4.2.17),
/// waiting at most `wait` for the answer.
pub async fn nbns_node_status(ip: IpAddr, wait: Duration) -> Result<Vec<NodeName>, NetError> {
    let local: SocketAddr = match ip {
        IpAddr::V4(_) => (IpAddr::from([0u8; 4]), 0).into(),
        IpAddr::V6(_) => (IpAddr::from([0u16; 8]), 0).into(),
    };
    let sock = UdpSocket::bind(local).await.map_err(NetError::from_io)?;
    sock.connect((ip, NBNS_PORT))
        .await
        .map_err(NetError::from_io)?;
    // Any fixed id works: the socket is connected to this one host and used once.
    let id = 0x5342;
    let fut = async {
        sock.send(&build_node_status_request(id))
            .await
            .map_err(NetError::from_io)?;
        let mut buf = vec![0u8; 1500];
        let n = sock.recv(&mut buf).await.map_err(NetError::from_io)?;
        let reply = buf.get(..n).unwrap_or_default();
        parse_node_status_response(reply, id).map_err(|e| NetError::Protocol(e.to_string()))
    };
    match timeout(wait, fut).await {
        Err(_) => Err(NetError::Timeout(wait)),
        Ok(r) => r,
    }
}

/// Bytes of a message shown by the `-vvv` wire trace; the rest is counted, not printed.
const TRACE_BYTES: usize = 512;

/// `-vvv`: the bytes of an NBSS frame (header included) sent to or received from `peer`, in hex.
fn wire_trace(peer: SocketAddr, dir: &str, frame: &[u8]) {
    if !tracing::enabled!(tracing::Level::TRACE) {
        return;
    }
    tracing::trace!(
        "{peer} {dir} {} bytes: {}",
        frame.len(),
        hex_prefix(frame, TRACE_BYTES)
    );
}

/// The first `max` bytes in hex, and `...` when there were more.
fn hex_prefix(b: &[u8], max: usize) -> String {
    let mut s: String = b.iter().take(max).map(|x| format!("{x:02x}")).collect();
    if b.len() > max {
        s.push_str("...");
    }
    s
}

/// Reads a 4-byte NBSS header, checks its length bound, then reads exactly that many bytes.
///
/// A reset or close before the first byte is the peer's answer (Windows with SMB1 off resets an
/// SMB1 negotiate); one after part of a reply arrived is a broken reply, not a refusal, so it
/// becomes a protocol error and never reads as "SMB1 disabled".
async fn read_frame<R: AsyncRead + Unpin>(stream: &mut R) -> Result<Vec<u8>, NetError> {
    let mut hdr = [0u8; NBSS_HEADER_LEN];
    let mut got = 0;
    while let Some(rest) = hdr.get_mut(got..).filter(|r| !r.is_empty()) {
        match stream.read(rest).await {
            Ok(0) if got == 0 => return Err(NetError::Closed),
            Ok(0) => return Err(partial(got, "closed")),
            Ok(n) => got += n,
            Err(e) if got == 0 => return Err(NetError::from_io(e)),
            Err(e) => return Err(partial(got, &e.to_string())),
        }
    }
    let h = parse_nbss_header(&hdr).map_err(|e| NetError::Protocol(e.to_string()))?;
    // The bound was checked by parse_nbss_header, so this allocation is at most MAX_NBSS_LEN.
    let mut frame = vec![0u8; NBSS_HEADER_LEN + h.length];
    if let Some(head) = frame.get_mut(..NBSS_HEADER_LEN) {
        head.copy_from_slice(&hdr);
    }
    if let Some(body) = frame.get_mut(NBSS_HEADER_LEN..) {
        stream
            .read_exact(body)
            .await
            .map_err(|e| partial(NBSS_HEADER_LEN, &e.to_string()))?;
    }
    Ok(frame)
}

fn partial(got: usize, what: &str) -> NetError {
    NetError::Protocol(format!("connection {what} after {got} byte(s) of a reply"))
}

#[cfg(test)]
mod tests {
    use super::hex_prefix;

    #[test]
    fn the_wire_trace_shows_a_bounded_prefix_in_hex() {
        assert_eq!(hex_prefix(&[0x00, 0xff, 0x53], 8), "00ff53");
        assert_eq!(hex_prefix(&[0xfe, 0x53, 0x4d, 0x42], 2), "fe53...");
        assert_eq!(hex_prefix(&[], 2), "");
    }
}
