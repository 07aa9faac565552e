//! The connection tracker of `smb1scan clients`: TCP segments in (from a capture file or a live
//! socket), per-pair facts out. It reassembles each direction of each SMB connection (TCP 445,
//! NetBIOS 139) only as far as the NEGOTIATE and SESSION_SETUP exchanges, frames NBSS messages,
//! and hands the few messages that matter to the sans-I/O parsers in `smb1scan_protocol`.
//!
//! Memory is bounded: at most `max_flows` connections and `max_pairs` pairs are tracked; a
//! connection's buffer holds at most one NBSS message of [`MAX_MESSAGE`] bytes plus
//! [`MAX_OUT_OF_ORDER`] out-of-order segments; once a connection has told what it can, its
//! buffers are dropped and later packets only move its last-seen time. What does not fit is
//! counted, and the counts are in every output.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use smallvec::SmallVec;

use smb1scan_protocol::ntlmssp::ntlmssp_challenge_computer_name;
use smb1scan_protocol::requests::{
    is_smb2_dialect_string, parse_nbss_session_request, parse_ntlmssp_client_names,
    parse_smb1_negotiate_request, parse_smb1_session_setup_request, parse_smb2_negotiate_request,
    parse_smb2_session_setup_request,
};
use smb1scan_protocol::smb1::header::{parse_smb1_body, parse_smb1_header, Smb1Command};
use smb1scan_protocol::smb2::header::Smb2Command;
use smb1scan_protocol::smb2::negotiate::{parse_smb2_negotiate_response, Smb2Dialect};
use smb1scan_protocol::smb2::session_setup::parse_smb2_session_setup_response;
use smb1scan_protocol::spnego::spnego_find_ntlmssp;

use super::slots::SlotMap;
use super::verdict::{SessionCounts, UnknownReason};

/// The SMB server ports: direct-hosted SMB and NetBIOS session service.
pub const SMB_PORTS: [u16; 2] = [445, 139];
/// Largest NBSS message read whole; larger ones (READ/WRITE data) are skipped as they stream by.
/// NEGOTIATE and SESSION_SETUP messages are a few KiB at most.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Out-of-order segments held per direction before the direction is given up as having a gap.
pub const MAX_OUT_OF_ORDER: usize = 16;
/// Messages read per direction before a connection is considered told (the exchanges that
/// matter are the first four or five).
const MAX_MESSAGES: u32 = 24;
/// Default bound on connections tracked at once.
pub const DEFAULT_MAX_FLOWS: usize = 1 << 18;
/// Default bound on (server, client) pairs.
pub const DEFAULT_MAX_PAIRS: usize = 1 << 18;
/// Dialect strings kept per pair.
const MAX_PAIR_DIALECTS: usize = 32;
/// A connection idle this long (capture time) may be closed to make room for new ones.
const IDLE_SECS: i64 = 300;

/// The tables of the tracker: keyed by small fixed-size keys (addresses, ports) hashed by
/// foldhash's fast hasher with a per-process random seed (SipHash was a tenth of the CPU time of
/// a handshake-only capture; the random seed keeps a crafted capture from choosing collisions).
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
/// A set hashed as [`FastMap`] is.
pub type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;

/// Capture time: microseconds since the Unix epoch.
pub type Micros = i64;

/// One TCP segment as a capture shows it.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Capture time.
    pub ts: Micros,
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// Sequence number.
    pub seq: u32,
    /// SYN flag.
    pub syn: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
    /// The TCP payload bytes captured.
    pub payload: &'a [u8],
    /// The packet was cut by the snapshot length: the payload is shorter than what was sent.
    pub cut: bool,
}

/// Bounds of the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections tracked at once.
    pub max_flows: usize,
    /// (server, client) pairs.
    pub max_pairs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_flows: DEFAULT_MAX_FLOWS,
            max_pairs: DEFAULT_MAX_PAIRS,
        }
    }
}

/// Counters every output carries: what was read and what could not be followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct TrackerStats {
    /// TCP segments to or from an SMB port.
    pub smb_segments: u64,
    /// Connections followed.
    pub connections: u64,
    /// Connections that carried no client data (a port probe, a refused SYN): not a session.
    pub connections_without_data: u64,
    /// Segments of connections not tracked because the connection table was full.
    pub segments_not_tracked: u64,
    /// Connections not tracked because the connection table was full (counted at their first
    /// segment; a later segment of the same connection is counted again when the table is still
    /// full).
    pub connections_not_tracked: u64,
    /// Connections not counted in any pair because the pair table was full.
    pub connections_pairs_full: u64,
    /// Highest number of connections held at once.
    pub peak_flows: u64,
    /// Segments cut by the snapshot length.
    pub snaplen_cut_segments: u64,
    /// Directions given up because of a gap (lost or unordered segments beyond the bound).
    pub gaps: u64,
    /// NBSS headers that announced an impossible length or type.
    pub bad_nbss: u64,
    /// Retransmitted (already seen) segments ignored.
    pub retransmissions: u64,
    /// Segments to or from an excluded address (`--exclude`), dropped unread.
    pub segments_excluded: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FlowKey {
    /// The addresses, as the pair tables key them (no copy per lookup).
    pair: PairKey,
    client_port: u16,
    server_port: u16,
}

impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.pair.hash(h);
        h.write_u32(u32::from(self.client_port) << 16 | u32::from(self.server_port));
    }
}

/// A (server, client) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PairKey {
    /// The SMB server.
    pub server: IpAddr,
    /// The client.
    pub client: IpAddr,
}

/// Hashed as one word for two IPv4 addresses (the derived hash fed the hasher each address's
/// variant and bytes separately: a tenth of the per-packet time). Equal keys hash equally; an
/// IPv4 and an IPv6 key may collide, which equality sorts out.
impl std::hash::Hash for PairKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        match (self.server, self.client) {
            (IpAddr::V4(s), IpAddr::V4(c)) => {
                h.write_u64(u64::from(s.to_bits()) << 32 | u64::from(c.to_bits()))
            }
            (s, c) => {
                h.write_u128(crate::targets::intervals::ip_to_u128(s));
                h.write_u128(crate::targets::intervals::ip_to_u128(c));
            }
        }
    }
}

/// What the inputs say about one (server, client) pair.
#[derive(Debug, Clone, Default)]
pub struct PairFacts {
    /// Server ports used (445, 139), in first-seen order (inline: no allocation per pair).
    pub ports: SmallVec<[u16; 2]>,
    /// First and last capture time of the pair's traffic.
    pub first_seen: Option<Micros>,
    /// Last capture time.
    pub last_seen: Option<Micros>,
    /// Sessions (connections that carried client data; audit log entries).
    pub sessions: u64,
    /// How they went.
    pub counts: SessionCounts,
    /// The first reason an undecided session met.
    pub unknown_reason: Option<UnknownReason>,
    /// Dialects the client offered, in first-seen order.
    pub dialects: Dialects,
    /// NetBIOS calling name of the client's session request.
    /// Names are shared strings (interned by the tracker): a network's clients repeat the same
    /// few OS, LAN manager and domain strings, and a string per name per pair was most of a
    /// pair's memory.
    pub client_netbios_name: Option<Arc<str>>,
    /// NTLMSSP workstation name.
    pub client_workstation: Option<Arc<str>>,
    /// NTLMSSP (or SESSION_SETUP PrimaryDomain) domain.
    pub client_domain: Option<Arc<str>>,
    /// NativeOS of the client's SMB1 SESSION_SETUP request.
    pub client_native_os: Option<Arc<str>>,
    /// NativeLanMan of the client's SMB1 SESSION_SETUP request.
    pub client_native_lanman: Option<Arc<str>>,
    /// Client name from an audit log (event 3000 ClientName).
    pub client_log_name: Option<Arc<str>>,
    /// Inputs the pair was seen in (at most 8; one inline, the usual case).
    pub sources: SmallVec<[Arc<str>; 1]>,
}

/// The dialects a pair's clients offered: deduplicated, in first-seen order, at most
/// [`MAX_PAIR_DIALECTS`]. A list is shared between the pairs that offered the same one (the list
/// of a NEGOTIATE request is made once per distinct request): a list per pair was a fifth of a
/// large capture's memory.
#[derive(Debug, Clone, Default)]
pub struct Dialects(Option<Arc<[Arc<str>]>>);

impl Dialects {
    /// A list as a pair would hold it after offering `offered` in this order.
    pub fn from_offer(offered: impl IntoIterator<Item = Arc<str>>) -> Self {
        let mut v: Vec<Arc<str>> = Vec::new();
        for d in offered {
            if v.len() < MAX_PAIR_DIALECTS && !v.contains(&d) {
                v.push(d);
            }
        }
        Dialects((!v.is_empty()).then(|| v.into()))
    }

    /// The dialects, in first-seen order.
    pub fn as_slice(&self) -> &[Arc<str>] {
        self.0.as_deref().unwrap_or_default()
    }

    /// Adds the dialects of `other` not yet listed (as offering them one by one would).
    pub fn merge(&mut self, other: &Dialects) {
        let Some(new) = &other.0 else {
            return;
        };
        let Some(old) = &self.0 else {
            self.0 = Some(Arc::clone(new));
            return;
        };
        if Arc::ptr_eq(old, new) || old.len() >= MAX_PAIR_DIALECTS {
            return;
        }
        if new.iter().all(|d| old.contains(d)) {
            return;
        }
        *self = Dialects::from_offer(old.iter().chain(new.iter()).cloned());
    }
}

impl PairFacts {
    fn seen(&mut self, ts: Micros) {
        self.first_seen = Some(self.first_seen.map_or(ts, |f| f.min(ts)));
        self.last_seen = Some(self.last_seen.map_or(ts, |l| l.max(ts)));
    }

    /// Every name an SMB1 SESSION_SETUP request can give is known.
    fn has_all_client_names(&self) -> bool {
        self.has_ntlmssp_names()
            && self.client_native_os.is_some()
            && self.client_native_lanman.is_some()
    }

    /// Both names an NTLMSSP message can give are known.
    fn has_ntlmssp_names(&self) -> bool {
        self.client_workstation.is_some() && self.client_domain.is_some()
    }

    pub(crate) fn add_source(&mut self, s: &Arc<str>) {
        if self.sources.len() < 8 && !self.sources.iter().any(|x| x == s) {
            self.sources.push(Arc::clone(s));
        }
    }

    /// Adds one finished session.
    pub(crate) fn add_session(&mut self, class: SessionClass) {
        match class {
            SessionClass::Smb1Only => self.counts.smb1_only += 1,
            SessionClass::Both => self.counts.smb1_and_smb2 += 1,
            SessionClass::Smb2Only => self.counts.smb2_only += 1,
            SessionClass::Unknown(r) => {
                self.counts.unknown += 1;
                self.unknown_reason.get_or_insert(r);
            }
        }
    }
}

/// What the inputs say about one server.
#[derive(Debug, Clone, Default)]
pub struct ServerFacts {
    /// The first SMB2 NEGOTIATE response seen from it: dialect, to which client, when.
    pub smb2_negotiate: Option<(Smb2Dialect, IpAddr, Micros)>,
    /// It answered an SMB1 NEGOTIATE in SMB1 at least once.
    pub answered_smb1: bool,
    /// Its NetBIOS name (NTLMSSP challenge or the called name of a session request).
    pub name: Option<String>,
}

/// How one session went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionClass {
    /// Offered SMB1 dialects only.
    Smb1Only,
    /// Offered SMB1 and SMB2.
    Both,
    /// Offered SMB2 only, or carried SMB2 messages.
    Smb2Only,
    /// Not decided.
    Unknown(UnknownReason),
}

/// A direction's held bytes: a message cut across segments, segments that came early. Most
/// directions never hold any (whole messages in one segment are read from the packet), so this
/// lives out of line and the connection table's entries stay small (the table is the largest
/// thing a busy capture's run touches: a third of an entry's size was two empty vectors).
#[derive(Debug, Default)]
struct Held {
    buf: Vec<u8>,
    ooo: Vec<(u32, Vec<u8>)>,
}

#[derive(Debug, Default)]
struct Stream {
    next_seq: Option<u32>,
    /// `None` when nothing is held.
    held: Option<Box<Held>>,
    /// Bytes of an oversized message still to skip.
    skip: usize,
    /// No longer followed (gap, garbage, or told all it can).
    stopped: bool,
    messages: u32,
    fin: bool,
}

impl Stream {
    fn buf_is_empty(&self) -> bool {
        self.held.as_ref().map_or(true, |h| h.buf.is_empty())
    }

    fn ooo_len(&self) -> usize {
        self.held.as_ref().map_or(0, |h| h.ooo.len())
    }

    fn held(&mut self) -> &mut Held {
        self.held.get_or_insert_with(Box::default)
    }
}

#[derive(Debug)]
struct Conn {
    saw_syn: bool,
    had_data: bool,
    mid_stream: bool,
    negotiated: bool,
    offered_smb1: bool,
    offered_smb2: bool,
    seen_smb1: bool,
    seen_smb2: bool,
    gap: bool,
    pair_full: bool,
    /// The pair's slot in the tracker's facts, once the client sent data ([`NO_PAIR`] before,
    /// and when the pair table was full): the pair is found without a lookup per message.
    pair: u32,
    /// The server's slot in the tracker's servers, once a message needed it ([`NO_PAIR`]
    /// before).
    server: u32,
}

/// [`Conn::pair`] of a connection that has no pair ([`Conn::server`] without a server).
const NO_PAIR: u32 = u32::MAX;

impl Default for Conn {
    fn default() -> Self {
        Conn {
            saw_syn: false,
            had_data: false,
            mid_stream: false,
            negotiated: false,
            offered_smb1: false,
            offered_smb2: false,
            seen_smb1: false,
            seen_smb2: false,
            gap: false,
            pair_full: false,
            pair: NO_PAIR,
            server: NO_PAIR,
        }
    }
}

impl Conn {
    fn class(&self) -> SessionClass {
        if self.negotiated {
            return match (self.offered_smb1, self.offered_smb2) {
                (true, true) => SessionClass::Both,
                (true, false) => SessionClass::Smb1Only,
                (false, true) => SessionClass::Smb2Only,
                (false, false) => SessionClass::Unknown(UnknownReason::NegotiateNotCaptured),
            };
        }
        if self.seen_smb2 && !self.seen_smb1 {
            return SessionClass::Smb2Only;
        }
        if self.mid_stream {
            SessionClass::Unknown(UnknownReason::MidStream)
        } else {
            SessionClass::Unknown(UnknownReason::NegotiateNotCaptured)
        }
    }
}

#[derive(Debug)]
struct Flow {
    first_ts: Micros,
    last_ts: Micros,
    c2s: Stream,
    s2c: Stream,
    conn: Conn,
}

/// The connection table.
type FlowTable = SlotMap<FlowKey, Flow, foldhash::fast::RandomState>;

/// The tracker: feed it segments, then take its pairs and servers.
#[derive(Debug)]
pub struct Tracker {
    limits: Limits,
    /// `None` only while a segment is handled: the table is taken out (a pointer, no copy) so
    /// that a flow can be borrowed from it while the rest of the tracker is updated.
    flows: Option<Box<FlowTable>>,
    /// Each pair, in the slot of its facts in `facts` (pairs are never removed).
    pairs: SlotMap<PairKey, (), foldhash::fast::RandomState>,
    /// The pairs' facts, in the order they were first seen (a connection keeps its pair's slot).
    facts: Vec<PairFacts>,
    servers: SlotMap<IpAddr, ServerFacts, foldhash::fast::RandomState>,
    /// Counters.
    pub stats: TrackerStats,
    source: Arc<str>,
    /// Every name kept in a pair, once (see [`PairFacts::client_netbios_name`]); bounded by the
    /// names the pairs hold.
    names: FastSet<Arc<str>>,
    /// The dialect list of each distinct SMB2 NEGOTIATE offer (by its dialect revisions).
    smb2_offers: FastMap<Box<[u16]>, Dialects>,
    last_sweep: Micros,
    exclude: Vec<(u128, u128)>,
    /// SMB1 NEGOTIATE requests already parsed, by their bytes: a network's clients send a few
    /// distinct ones over and over, and parsing them (a String per dialect) was the largest
    /// single cost of a client's messages. Bounded by [`MEMO_ENTRIES`] and [`MEMO_BODY`].
    negotiate_memo: FastMap<Box<[u8]>, Option<NegotiateMemo>>,
    /// The label of each SMB2 dialect revision offered so far.
    smb2_labels: FastMap<u16, Arc<str>>,
}

/// What an SMB1 NEGOTIATE request offers: SMB1 dialects, SMB2 dialect strings, the dialects.
#[derive(Debug)]
struct NegotiateMemo {
    smb1: bool,
    smb2: bool,
    dialects: Dialects,
}

impl NegotiateMemo {
    /// The connection negotiated this offer; its pair's dialects take it in.
    fn offer(&self, conn: &mut Conn, facts: &mut [PairFacts]) {
        conn.negotiated = true;
        conn.offered_smb1 |= self.smb1;
        conn.offered_smb2 |= self.smb2;
        if let Some(p) = facts.get_mut(conn.pair as usize) {
            p.dialects.merge(&self.dialects);
        }
    }
}

/// Distinct NEGOTIATE requests remembered; later ones are parsed every time.
const MEMO_ENTRIES: usize = 4096;
/// Longest NEGOTIATE request remembered.
const MEMO_BODY: usize = 1024;

fn is_smb_port(p: u16) -> bool {
    SMB_PORTS.contains(&p)
}

impl Tracker {
    /// An empty tracker with these bounds.
    pub fn new(limits: Limits) -> Self {
        Tracker {
            limits,
            // Sized up front (to the default bound at most) so a busy capture's table does not
            // rehash its way up; untouched slots cost address space, not memory.
            flows: Some(Box::new(SlotMap::with_capacity_and_hasher(
                limits.max_flows.min(DEFAULT_MAX_FLOWS),
                Default::default(),
            ))),
            pairs: SlotMap::default(),
            facts: Vec::new(),
            servers: SlotMap::default(),
            stats: TrackerStats::default(),
            source: Arc::from(""),
            names: FastSet::default(),
            smb2_offers: FastMap::default(),
            last_sweep: i64::MIN,
            exclude: Vec::new(),
            negotiate_memo: FastMap::default(),
            smb2_labels: FastMap::default(),
        }
    }

    /// Addresses (inclusive intervals of `targets::intervals::ip_to_u128`) whose traffic is
    /// dropped unread, as `scan --exclude` never touches them.
    pub fn set_exclusions(&mut self, exclude: Vec<(u128, u128)>) {
        self.exclude = exclude;
    }

    fn excluded(&self, ip: IpAddr) -> bool {
        if self.exclude.is_empty() {
            return false;
        }
        let x = crate::targets::intervals::ip_to_u128(ip);
        self.exclude.iter().any(|&(lo, hi)| lo <= x && x <= hi)
    }

    /// Names the input the next segments come from (recorded per pair).
    pub fn set_source(&mut self, name: &str) {
        self.source = Arc::from(name);
    }

    /// Connections held now.
    pub fn flows_held(&self) -> usize {
        self.flows.as_ref().map_or(0, |f| f.len())
    }

    /// The slot of `key`'s facts, made when new; the input now read is added to its sources.
    /// `None` when the pair table is full.
    fn pair_slot(&mut self, key: PairKey) -> Option<u32> {
        let slot = match self.pairs.slot_mut(&key) {
            Some(slot) => slot,
            None if self.pairs.len() >= self.limits.max_pairs => return None,
            None => {
                // Pairs are never removed: slots are made in order, as facts are pushed.
                let slot = self.pairs.insert_new(key, ())?;
                self.facts.push(PairFacts::default());
                slot
            }
        };
        if let Some(p) = self.facts.get_mut(slot as usize) {
            p.add_source(&self.source);
        }
        Some(slot)
    }

    /// The facts of a connection's server, made when new (a server without facts and one with
    /// empty facts read the same); looked up once per connection.
    fn server_of(&mut self, conn: &mut Conn, server: IpAddr) -> Option<&mut ServerFacts> {
        if conn.server == NO_PAIR {
            conn.server = match self.servers.slot_mut(&server) {
                Some(s) => s,
                None => self.servers.insert_new(server, ServerFacts::default())?,
            };
        }
        self.servers.get_slot_mut(conn.server)
    }

    /// The facts of a connection's pair.
    fn facts_of(&mut self, conn: &Conn) -> Option<&mut PairFacts> {
        self.facts.get_mut(conn.pair as usize)
    }

    /// `s` as the shared copy every pair holding the same name points at.
    fn intern(&mut self, s: String) -> Arc<str> {
        if let Some(a) = self.names.get(s.as_str()) {
            return Arc::clone(a);
        }
        let a: Arc<str> = Arc::from(s);
        self.names.insert(Arc::clone(&a));
        a
    }

    /// Feeds one TCP segment. Segments with no SMB port on either side are ignored.
    pub fn segment(&mut self, s: &Segment<'_>) {
        let (key, from_client) = if is_smb_port(s.dst.port()) {
            (
                FlowKey {
                    pair: PairKey {
                        server: s.dst.ip(),
                        client: s.src.ip(),
                    },
                    client_port: s.src.port(),
                    server_port: s.dst.port(),
                },
                true,
            )
        } else if is_smb_port(s.src.port()) {
            (
                FlowKey {
                    pair: PairKey {
                        server: s.src.ip(),
                        client: s.dst.ip(),
                    },
                    client_port: s.dst.port(),
                    server_port: s.src.port(),
                },
                false,
            )
        } else {
            return;
        };
        if self.excluded(s.src.ip()) || self.excluded(s.dst.ip()) {
            self.stats.segments_excluded += 1;
            return;
        }
        self.stats.smb_segments += 1;
        if s.cut {
            self.stats.snaplen_cut_segments += 1;
        }
        // The table is taken out (moving the table itself, some 150 bytes, twice per segment
        // was a twentieth of the instructions) so the flow can be borrowed from it while the
        // rest of the tracker is updated: one lookup per segment of a known connection.
        let Some(mut flows) = self.flows.take() else {
            return;
        };
        let mut closed = flows
            .get_mut(&key)
            .map(|flow| self.update(&key, flow, s, from_client));
        if closed.is_none() {
            self.flows = Some(flows);
            if !self.open(key, s) {
                return;
            }
            let Some(taken) = self.flows.take() else {
                return;
            };
            flows = taken;
            closed = flows
                .get_mut(&key)
                .map(|flow| self.update(&key, flow, s, from_client));
        }
        if closed == Some(true) {
            if let Some(flow) = flows.remove(&key) {
                self.close(key, flow);
            }
        }
        self.flows = Some(flows);
    }

    /// Starts tracking a connection first seen in `s`; false when the table is full.
    fn open(&mut self, key: FlowKey, s: &Segment<'_>) -> bool {
        if self.flows_held() >= self.limits.max_flows {
            self.sweep_idle(s.ts);
        }
        let Some(flows) = self.flows.as_mut() else {
            return false;
        };
        if flows.len() >= self.limits.max_flows {
            self.stats.segments_not_tracked += 1;
            if s.syn || !s.payload.is_empty() {
                self.stats.connections_not_tracked += 1;
            }
            return false;
        }
        self.stats.connections += 1;
        flows.insert_new(
            key,
            Flow {
                first_ts: s.ts,
                last_ts: s.ts,
                c2s: Stream::default(),
                s2c: Stream::default(),
                conn: Conn::default(),
            },
        );
        self.stats.peak_flows = self.stats.peak_flows.max(flows.len() as u64);
        true
    }

    /// One segment of a tracked connection; true when the connection is now closed.
    fn update(
        &mut self,
        key: &FlowKey,
        flow: &mut Flow,
        s: &Segment<'_>,
        from_client: bool,
    ) -> bool {
        flow.last_ts = s.ts;
        if s.syn && from_client {
            flow.conn.saw_syn = true;
        }
        if from_client && !s.payload.is_empty() && !flow.conn.had_data {
            flow.conn.had_data = true;
            match self.pair_slot(key.pair) {
                Some(slot) => {
                    flow.conn.pair = slot;
                    if let Some(p) = self.facts.get_mut(slot as usize) {
                        p.sessions += 1;
                        p.seen(flow.first_ts);
                        if !p.ports.contains(&key.server_port) {
                            p.ports.push(key.server_port);
                        }
                    }
                }
                None => {
                    flow.conn.pair_full = true;
                    self.stats.connections_pairs_full += 1;
                }
            }
        }
        self.feed(key, flow, s, from_client);
        s.rst || (flow.c2s.fin && flow.s2c.fin)
    }

    fn feed(&mut self, key: &FlowKey, flow: &mut Flow, s: &Segment<'_>, from_client: bool) {
        let stream = if from_client {
            &mut flow.c2s
        } else {
            &mut flow.s2c
        };
        if s.fin {
            stream.fin = true;
        }
        if stream.stopped {
            // Still learn which SMB a connection joined mid-stream speaks: a segment that
            // starts a message shows the magic after the 4-byte NBSS header.
            if from_client && flow.conn.mid_stream && !flow.conn.negotiated {
                note_magic(&mut flow.conn, s.payload);
            }
            return;
        }
        let payload_start = s.seq.wrapping_add(u32::from(s.syn));
        let next = match stream.next_seq {
            Some(n) => n,
            None => {
                stream.next_seq = Some(payload_start);
                payload_start
            }
        };
        if s.payload.is_empty() {
            if s.syn && stream.buf_is_empty() {
                stream.next_seq = Some(payload_start);
            }
            return;
        }
        // The capture joined this connection after its start: the first bytes from the client
        // must begin a message for anything to be read.
        if from_client && !flow.conn.saw_syn && stream.messages == 0 && stream.buf_is_empty() {
            let starts = matches!(s.payload.first(), Some(0x00 | 0x81 | 0x85))
                && matches!(s.payload.get(4..8), Some(b"\xffSMB" | b"\xfeSMB") | None);
            if !starts {
                flow.conn.mid_stream = true;
                stream.stopped = true;
                note_magic(&mut flow.conn, s.payload);
                return;
            }
        }
        let rel = s.seq.wrapping_sub(next) as i32;
        let mut appended = false;
        if rel <= 0 {
            let overlap = rel.unsigned_abs() as usize;
            if overlap >= s.payload.len() {
                self.stats.retransmissions += 1;
                return;
            }
            let fresh = s.payload.get(overlap..).unwrap_or_default();
            stream.next_seq = Some(next.wrapping_add(fresh.len() as u32));
            if stream.buf_is_empty() && stream.ooo_len() == 0 && !s.cut {
                // The common case: whole messages in one segment, read from the packet itself.
                let used = self.frame(key, flow, fresh, s.ts, from_client);
                let stream = if from_client {
                    &mut flow.c2s
                } else {
                    &mut flow.s2c
                };
                if !stream.stopped {
                    push_bytes(stream, fresh.get(used..).unwrap_or_default());
                }
                return;
            }
            push_bytes(stream, fresh);
            appended = true;
        } else if stream.ooo_len() < MAX_OUT_OF_ORDER {
            stream.held().ooo.push((s.seq, s.payload.to_vec()));
        } else {
            self.stats.gaps += 1;
            flow.conn.gap = true;
            stream.stopped = true;
            stream.held = None;
            return;
        }
        if s.cut {
            // The rest of this segment was never captured: what follows cannot be framed.
            flow.conn.gap = true;
            stream.stopped = true;
        }
        if appended {
            // Segments that now fit, in order.
            let Stream {
                next_seq,
                held,
                skip,
                ..
            } = stream;
            while let (Some(n), Some(h)) = (*next_seq, held.as_deref_mut()) {
                let Some(k) = h
                    .ooo
                    .iter()
                    .position(|(q, d)| {
                        let r = q.wrapping_sub(n) as i32;
                        r <= 0 && (r.unsigned_abs() as usize) < d.len()
                    })
                    .or_else(|| {
                        h.ooo.iter().position(|(q, d)| {
                            let r = q.wrapping_sub(n) as i32;
                            r <= 0 && (r.unsigned_abs() as usize) >= d.len()
                        })
                    })
                else {
                    break;
                };
                let (q, d) = h.ooo.swap_remove(k);
                let overlap = (q.wrapping_sub(n) as i32).unsigned_abs() as usize;
                if let Some(fresh) = d.get(overlap..).filter(|f| !f.is_empty()) {
                    push_held(skip, &mut h.buf, fresh);
                    *next_seq = Some(n.wrapping_add(fresh.len() as u32));
                }
            }
        }
        self.drain(key, flow, s.ts, from_client);
    }

    /// Frames and handles the complete NBSS messages at the front of a direction's buffer.
    /// The buffer is taken out of the stream while its messages are handled in place (no copy
    /// per message).
    fn drain(&mut self, key: &FlowKey, flow: &mut Flow, ts: Micros, from_client: bool) {
        let held = if from_client {
            &mut flow.c2s.held
        } else {
            &mut flow.s2c.held
        };
        let buf = held
            .as_deref_mut()
            .map(|h| std::mem::take(&mut h.buf))
            .unwrap_or_default();
        let used = self.frame(key, flow, &buf, ts, from_client);
        let stream = if from_client {
            &mut flow.c2s
        } else {
            &mut flow.s2c
        };
        if stream.stopped {
            stream.held = None;
            return;
        }
        let mut buf = buf;
        buf.drain(..used.min(buf.len()));
        if buf.len() > MAX_MESSAGE + 4 {
            stream.stopped = true;
            return;
        }
        if buf.is_empty() && stream.ooo_len() == 0 {
            // Nothing left over: the memory goes back rather than waiting, per connection, for
            // a next message that may never need it (a capture holds 100,000s of connections).
            stream.held = None;
        } else if buf.is_empty() {
            stream.held().buf = Vec::new();
        } else {
            stream.held().buf = buf;
        }
    }

    /// Handles the complete NBSS messages at the front of `data` (bytes that follow what the
    /// direction has consumed so far); returns how many bytes were consumed.
    fn frame(
        &mut self,
        key: &FlowKey,
        flow: &mut Flow,
        data: &[u8],
        ts: Micros,
        from_client: bool,
    ) -> usize {
        let mut start = 0usize;
        loop {
            let stream = if from_client {
                &mut flow.c2s
            } else {
                &mut flow.s2c
            };
            if stream.stopped {
                break;
            }
            let avail = data.len().saturating_sub(start);
            if stream.skip > 0 {
                let n = stream.skip.min(avail);
                stream.skip -= n;
                start += n;
                if stream.skip > 0 {
                    break;
                }
                continue;
            }
            let Some(hdr) = data.get(start..start + 4) else {
                break;
            };
            let kind = hdr.first().copied().unwrap_or(0xff);
            let len = (usize::from(hdr.get(1).copied().unwrap_or(0)) << 16)
                | (usize::from(hdr.get(2).copied().unwrap_or(0)) << 8)
                | usize::from(hdr.get(3).copied().unwrap_or(0));
            if !matches!(kind, 0x00 | 0x81..=0x85) {
                // Not NBSS framing (an NBSS length that lied, or not SMB at all): stop here.
                self.stats.bad_nbss += 1;
                stream.stopped = true;
                break;
            }
            if len > MAX_MESSAGE {
                stream.skip = len;
                start += 4;
                stream.messages += 1;
                continue;
            }
            if avail < 4 + len {
                break;
            }
            let body = data.get(start + 4..start + 4 + len).unwrap_or_default();
            start += 4 + len;
            stream.messages += 1;
            if stream.messages > MAX_MESSAGES {
                stream.stopped = true;
            }
            if from_client {
                self.client_message(key, &mut flow.conn, kind, body, ts);
                if flow.conn.mid_stream {
                    flow.c2s.stopped = true;
                }
            } else {
                self.server_message(key, &mut flow.conn, kind, body, ts);
            }
        }
        start
    }

    fn client_message(
        &mut self,
        key: &FlowKey,
        conn: &mut Conn,
        kind: u8,
        body: &[u8],
        ts: Micros,
    ) {
        let pk = key.pair;
        if kind == 0x81 {
            if let Ok(r) = parse_nbss_session_request(body) {
                if self
                    .facts_of(conn)
                    .is_some_and(|p| p.client_netbios_name.is_none())
                {
                    let name = self.intern(r.calling);
                    if let Some(p) = self.facts_of(conn) {
                        p.client_netbios_name = Some(name);
                    }
                }
                if !r.called.is_empty() && r.called != "*SMBSERVER" {
                    if let Some(srv) = self.server_of(conn, pk.server) {
                        srv.name.get_or_insert(r.called);
                    }
                }
            }
            return;
        }
        if kind != 0x00 {
            return;
        }
        let first_message = !conn.negotiated && !conn.seen_smb1 && !conn.seen_smb2;
        match body.get(..4) {
            Some(b"\xffSMB") => conn.seen_smb1 = true,
            Some(b"\xfeSMB") => conn.seen_smb2 = true,
            _ => {}
        }
        let may_start_mid_stream = first_message && !conn.saw_syn;
        if !may_start_mid_stream && !tells_something(body) {
            // Past the first message only NEGOTIATE and SESSION_SETUP tell anything, and the
            // magic above already said which SMB it is: no header parse for the rest.
            return;
        }
        if body.get(..5) == Some(b"\xffSMB\x72") {
            // A NEGOTIATE request seen before: remembered only once it parsed as one, so its
            // header parses again the same (a client's requests are all alike).
            if let Some(m) = self.negotiate_memo.get(body) {
                if let Some(m) = m {
                    m.offer(conn, &mut self.facts);
                }
                return;
            }
        }
        let Some(msg) = head(body) else {
            if first_message && !conn.saw_syn {
                conn.mid_stream = true;
            }
            return;
        };
        // The pair is looked up only for the messages that can tell it something.
        match msg {
            Head::Smb1(h) => {
                conn.seen_smb1 = true;
                if h.command == Smb1Command::NEGOTIATE {
                    let parsed;
                    let memo = match self.negotiate_memo.get(body) {
                        Some(m) => m.as_ref(),
                        None => {
                            parsed = negotiate_memo(body);
                            if self.negotiate_memo.len() < MEMO_ENTRIES && body.len() <= MEMO_BODY {
                                self.negotiate_memo.insert(body.into(), parsed);
                                self.negotiate_memo.get(body).and_then(|m| m.as_ref())
                            } else {
                                parsed.as_ref()
                            }
                        }
                    };
                    if let Some(m) = memo {
                        m.offer(conn, &mut self.facts);
                    }
                } else if h.command == Smb1Command::SESSION_SETUP_ANDX {
                    // Parsed only while a name it can give is still missing (they are kept
                    // first-seen), so a pair's thousandth session costs no parse.
                    let wanted = self
                        .facts_of(conn)
                        .is_some_and(|p| !p.has_all_client_names());
                    if let (true, Ok(r)) = (wanted, parse_smb1_session_setup_request(body)) {
                        let blob = r.security_blob;
                        self.set_name(conn, |p| &mut p.client_native_os, r.native_os);
                        self.set_name(conn, |p| &mut p.client_native_lanman, r.native_lanman);
                        self.set_name(conn, |p| &mut p.client_domain, r.primary_domain);
                        self.ntlmssp_names(conn, blob);
                    }
                } else if first_message && !conn.saw_syn {
                    conn.mid_stream = true;
                }
            }
            Head::Smb2(h) => {
                conn.seen_smb2 = true;
                if h.command == Smb2Command::NEGOTIATE {
                    if let Ok(r) = parse_smb2_negotiate_request(body) {
                        conn.negotiated = true;
                        conn.offered_smb2 = true;
                        if conn.pair != NO_PAIR {
                            let offer = self.smb2_offer(&r.dialects);
                            if let Some(p) = self.facts_of(conn) {
                                p.dialects.merge(&offer);
                            }
                        }
                    }
                } else if h.command == Smb2Command::SESSION_SETUP {
                    let wanted = self.facts_of(conn).is_some_and(|p| !p.has_ntlmssp_names());
                    if let (true, Ok(blob)) = (wanted, parse_smb2_session_setup_request(body)) {
                        self.ntlmssp_names(conn, blob);
                    }
                } else if first_message && !conn.saw_syn {
                    conn.mid_stream = true;
                }
            }
        }
        let _ = ts;
    }

    fn server_message(
        &mut self,
        key: &FlowKey,
        conn: &mut Conn,
        kind: u8,
        body: &[u8],
        ts: Micros,
    ) {
        if kind != 0x00 {
            return;
        }
        if !tells_something(body) {
            // Nothing but NEGOTIATE and SESSION_SETUP responses is read below: the others are
            // passed over before the header parse.
            return;
        }
        let Some(msg) = head(body) else {
            return;
        };
        // The server's facts are looked up (and made) only for the messages that tell them.
        let server = key.pair.server;
        let unnamed = |t: &mut Self, conn: &mut Conn| {
            t.server_of(conn, server).map_or(true, |s| s.name.is_none())
        };
        match msg {
            Head::Smb1(h) => {
                if h.command == Smb1Command::NEGOTIATE && h.is_reply() {
                    if let Some(s) = self.server_of(conn, server) {
                        s.answered_smb1 = true;
                    }
                } else if h.command == Smb1Command::SESSION_SETUP_ANDX && unnamed(self, conn) {
                    // Parsed only while the server's name is still unknown: it is all that is taken.
                    if let Some(blob) = smb1_session_setup_response_blob(body) {
                        self.name_server(conn, server, blob);
                    }
                }
            }
            Head::Smb2(h) => {
                if h.command == Smb2Command::NEGOTIATE && h.is_response() {
                    if let Ok((_, r)) = parse_smb2_negotiate_response(body) {
                        if let Some(s) = self.server_of(conn, server) {
                            s.smb2_negotiate.get_or_insert((
                                r.dialect_revision,
                                key.pair.client,
                                ts,
                            ));
                        }
                    }
                } else if h.command == Smb2Command::SESSION_SETUP
                    && h.is_response()
                    && unnamed(self, conn)
                {
                    if let Ok((_, r)) = parse_smb2_session_setup_response(body) {
                        self.name_server(conn, server, r.security_buffer);
                    }
                }
            }
        }
    }

    /// The server's NetBIOS name from the NTLMSSP challenge in `blob`, when it has none yet.
    fn name_server(&mut self, conn: &mut Conn, server: IpAddr, blob: &[u8]) {
        if let Some(name) = server_name_from_blob(blob) {
            if let Some(s) = self.server_of(conn, server) {
                s.name.get_or_insert(name);
            }
        }
    }

    fn close(&mut self, key: FlowKey, flow: Flow) {
        if !flow.conn.had_data {
            self.stats.connections_without_data += 1;
            return;
        }
        if flow.conn.pair_full {
            return;
        }
        let class = flow.conn.class();
        let _ = key;
        if let Some(p) = self.facts_of(&flow.conn) {
            // Last seen is taken when the connection closes, not on every packet.
            p.seen(flow.last_ts);
            p.add_session(class);
        }
    }

    /// Closes connections idle for [`IDLE_SECS`] of capture time, at most once per second of it.
    fn sweep_idle(&mut self, now: Micros) {
        if now.saturating_sub(self.last_sweep) < 1_000_000 {
            return;
        }
        self.last_sweep = now;
        let cutoff = now.saturating_sub(IDLE_SECS * 1_000_000);
        let idle: Vec<FlowKey> = self
            .flows
            .iter()
            .flat_map(|t| t.iter())
            .filter(|(_, f)| f.last_ts < cutoff)
            .map(|(k, _)| *k)
            .collect();
        for k in idle {
            if let Some(f) = self.flows.as_mut().and_then(|t| t.remove(&k)) {
                self.close(k, f);
            }
        }
    }

    /// Closes every connection still open (end of input) and returns the pairs and servers.
    pub fn finish(mut self) -> Tracked {
        // Consumed in place: collecting them first wrote a copy of the whole table to fresh
        // memory (60 MB when the table is full).
        for (_, k, f) in self.flows.take().into_iter().flat_map(|t| t.into_slots()) {
            self.close(k, f);
        }
        Tracked {
            pairs: self.pairs.into_slots().map(|(s, k, ())| (k, s)).collect(),
            facts: self.facts,
            servers: self.servers,
            stats: self.stats,
        }
    }

    /// Sets a name of the connection's pair that is still unset (names are kept first-seen).
    fn set_name(
        &mut self,
        conn: &Conn,
        slot: fn(&mut PairFacts) -> &mut Option<Arc<str>>,
        v: Option<String>,
    ) {
        let Some(v) = v.filter(|v| !v.is_empty()) else {
            return;
        };
        if self.facts_of(conn).is_some_and(|p| slot(p).is_none()) {
            let v = self.intern(v);
            if let Some(p) = self.facts_of(conn) {
                *slot(p) = Some(v);
            }
        }
    }

    /// The workstation and domain of the NTLMSSP message in `blob`, for the connection's pair.
    fn ntlmssp_names(&mut self, conn: &Conn, blob: &[u8]) {
        let Some(msg) = spnego_find_ntlmssp(blob) else {
            return;
        };
        if let Ok(n) = parse_ntlmssp_client_names(msg) {
            self.set_name(conn, |p| &mut p.client_workstation, n.workstation);
            self.set_name(conn, |p| &mut p.client_domain, n.domain);
        }
    }

    /// The dialect list of an SMB2 NEGOTIATE offer, made once per distinct offer (at most
    /// [`MEMO_ENTRIES`] remembered).
    fn smb2_offer(&mut self, offered: &[Smb2Dialect]) -> Dialects {
        let ids: SmallVec<[u16; 8]> = offered.iter().map(|d| d.0).collect();
        if let Some(d) = self.smb2_offers.get(ids.as_slice()) {
            return d.clone();
        }
        let labels: Vec<Arc<str>> = offered
            .iter()
            .map(|&d| {
                Arc::clone(
                    self.smb2_labels
                        .entry(d.0)
                        .or_insert_with(|| smb2_dialect_label(d).into()),
                )
            })
            .collect();
        let d = Dialects::from_offer(labels);
        if self.smb2_offers.len() < MEMO_ENTRIES {
            self.smb2_offers.insert(ids.as_slice().into(), d.clone());
        }
        d
    }
}

/// What a tracker collected: each pair with its facts' slot, the facts, the servers, the counts.
#[derive(Debug, Default)]
pub struct Tracked {
    /// Each pair and its slot in `facts`.
    pub pairs: Vec<(PairKey, u32)>,
    /// The pairs' facts.
    pub facts: Vec<PairFacts>,
    /// What the traffic says about each server.
    pub servers: SlotMap<IpAddr, ServerFacts, foldhash::fast::RandomState>,
    /// Counters.
    pub stats: TrackerStats,
}

fn push_bytes(stream: &mut Stream, b: &[u8]) {
    // A message being skipped needs no buffering.
    let b = if stream.skip > 0 && stream.buf_is_empty() {
        let n = stream.skip.min(b.len());
        stream.skip -= n;
        b.get(n..).unwrap_or_default()
    } else {
        b
    };
    if !b.is_empty() {
        stream.held().buf.extend_from_slice(b);
    }
}

/// [`push_bytes`] on a stream's parts (its held bytes borrowed apart from the skip count).
fn push_held(skip: &mut usize, buf: &mut Vec<u8>, b: &[u8]) {
    let b = if *skip > 0 && buf.is_empty() {
        let n = (*skip).min(b.len());
        *skip -= n;
        b.get(n..).unwrap_or_default()
    } else {
        b
    };
    buf.extend_from_slice(b);
}

/// What the tracker reads of an SMB header: the command and the reply flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Head {
    Smb1(Head1),
    Smb2(Head2),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head1 {
    command: Smb1Command,
    flags: u8,
}

impl Head1 {
    fn is_reply(self) -> bool {
        self.flags & smb1scan_protocol::smb1::header::flags::REPLY != 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head2 {
    command: Smb2Command,
    flags: u32,
}

impl Head2 {
    fn is_response(self) -> bool {
        self.flags & smb1scan_protocol::smb2::header::flags::SERVER_TO_REDIR != 0
    }
}

/// The header fields the tracker uses, read at their fixed offsets ([MS-CIFS] 2.2.3.1: the
/// command at 4, Flags at 9; [MS-SMB2] 2.2.1: StructureSize at 4, Command at 12, Flags at 16),
/// `None` exactly where `parse_smb_message` fails (a header shorter than 32 / 64 bytes, another
/// magic, an SMB2 StructureSize other than 64; a unit test compares the two). The full parse
/// (through nom, every field) was a twelfth of a large capture's instructions.
fn head(body: &[u8]) -> Option<Head> {
    match body.get(..4)? {
        b"\xffSMB" if body.len() >= 32 => Some(Head::Smb1(Head1 {
            command: Smb1Command(*body.get(4)?),
            flags: *body.get(9)?,
        })),
        b"\xfeSMB" if body.len() >= 64 => {
            let le16 = |at: usize| Some(u16::from_le_bytes([*body.get(at)?, *body.get(at + 1)?]));
            if le16(4)? != 64 {
                return None;
            }
            let flags = u32::from(le16(16)?) | u32::from(le16(18)?) << 16;
            Some(Head::Smb2(Head2 {
                command: Smb2Command(le16(12)?),
                flags,
            }))
        }
        _ => None,
    }
}

/// An SMB1 message whose command is NEGOTIATE or SESSION_SETUP_ANDX ([MS-CIFS] 2.2.3.1: the
/// command byte follows the 4-byte protocol), or an SMB2 one whose command is NEGOTIATE or
/// SESSION_SETUP ([MS-SMB2] 2.2.1: the 2-byte command at offset 12): the only messages whose
/// parse the tracker uses. False for anything `parse_smb_message` would not call SMB1 or SMB2.
fn tells_something(body: &[u8]) -> bool {
    match body.get(..4) {
        Some(b"\xffSMB") => matches!(
            body.get(4).copied().map(Smb1Command),
            Some(Smb1Command::NEGOTIATE | Smb1Command::SESSION_SETUP_ANDX)
        ),
        Some(b"\xfeSMB") => matches!(
            body.get(12..14),
            Some([c, 0]) if Smb2Command(u16::from(*c)) == Smb2Command::NEGOTIATE
                || Smb2Command(u16::from(*c)) == Smb2Command::SESSION_SETUP
        ),
        _ => false,
    }
}

/// An SMB1 NEGOTIATE request's offer (`None` when it does not parse): a pure function of the
/// message's bytes, so it can be remembered by them.
fn negotiate_memo(body: &[u8]) -> Option<NegotiateMemo> {
    let r = parse_smb1_negotiate_request(body).ok()?;
    let mut m = NegotiateMemo {
        smb1: false,
        smb2: false,
        dialects: Dialects::default(),
    };
    for d in &r.dialects {
        if is_smb2_dialect_string(d) {
            m.smb2 = true;
        } else {
            m.smb1 = true;
        }
    }
    m.dialects = Dialects::from_offer(r.dialects.into_iter().map(Arc::from));
    Some(m)
}

fn note_magic(conn: &mut Conn, payload: &[u8]) {
    if payload.first() == Some(&0x00) {
        match payload.get(4..8) {
            Some(b"\xffSMB") => conn.seen_smb1 = true,
            Some(b"\xfeSMB") => conn.seen_smb2 = true,
            _ => {}
        }
    }
}

/// The security blob of an SMB1 SESSION_SETUP_ANDX response ([MS-SMB] 2.2.4.6.2), taken as
/// `parse_smb1_session_setup_response` takes it (the same checks, the same answer) without
/// decoding the NativeOS / NativeLanMan strings after it, which the tracker does not keep.
fn smb1_session_setup_response_blob(body: &[u8]) -> Option<&[u8]> {
    let (h, rest) = parse_smb1_header(body).ok()?;
    if h.command != Smb1Command::SESSION_SETUP_ANDX {
        return None;
    }
    let b = parse_smb1_body(rest).ok()?;
    match b.word_count {
        0 | 3 => Some(&[]),
        4 => {
            // AndX (4 bytes), Action, SecurityBlobLength.
            let len = b.words.get(6..8)?;
            let len = usize::from(u16::from_le_bytes([*len.first()?, *len.get(1)?]));
            b.bytes.get(..len)
        }
        _ => None,
    }
}

fn server_name_from_blob(blob: &[u8]) -> Option<String> {
    ntlmssp_challenge_computer_name(spnego_find_ntlmssp(blob)?).ok()?
}

/// How an SMB2 dialect revision is shown among the offered dialects: "SMB 3.1.1 (0x0311)".
pub fn smb2_dialect_label(d: Smb2Dialect) -> String {
    format!("SMB {} (0x{:04x})", d.name(), d.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use smb1scan_protocol::message::{parse_smb_message, SmbMessage};
    use smb1scan_protocol::nbss::build_nbss_session_message;
    use smb1scan_protocol::smb1::header::Smb1Ids;
    use smb1scan_protocol::smb1::negotiate::build_smb1_negotiate_request;
    use smb1scan_protocol::smb1::session_setup::parse_smb1_session_setup_response;

    const C: &str = "10.0.0.5:50000";
    const S: &str = "10.0.0.1:445";

    fn seg<'a>(from_client: bool, seq: u32, syn: bool, payload: &'a [u8]) -> Segment<'a> {
        let (c, s) = (C.parse().unwrap(), S.parse().unwrap());
        Segment {
            ts: 1_000_000,
            src: if from_client { c } else { s },
            dst: if from_client { s } else { c },
            seq,
            syn,
            fin: false,
            rst: false,
            payload,
            cut: false,
        }
    }

    fn negotiate(dialects: &[&str]) -> Vec<u8> {
        build_nbss_session_message(&build_smb1_negotiate_request(dialects, Smb1Ids::default()))
            .to_vec()
    }

    fn only_pair(t: Tracker) -> (PairFacts, TrackerStats) {
        let tracked = t.finish();
        assert_eq!(tracked.pairs.len(), 1);
        let slot = tracked.pairs[0].1 as usize;
        (tracked.facts[slot].clone(), tracked.stats)
    }

    #[test]
    fn in_order_smb1_only_negotiate() {
        let mut t = Tracker::new(Limits::default());
        let m = negotiate(&["NT LM 0.12"]);
        t.segment(&seg(true, 99, true, &[]));
        t.segment(&seg(true, 100, false, &m));
        let (p, _) = only_pair(t);
        assert_eq!(p.counts.smb1_only, 1);
        assert_eq!(p.dialects.as_slice(), [Arc::from("NT LM 0.12")]);
    }

    #[test]
    fn out_of_order_and_retransmitted_segments() {
        let mut t = Tracker::new(Limits::default());
        let m = negotiate(&["NT LM 0.12", "SMB 2.002", "SMB 2.???"]);
        let (a, b) = m.split_at(20);
        t.segment(&seg(true, 99, true, &[]));
        t.segment(&seg(true, 120, false, b)); // second half first
        t.segment(&seg(true, 100, false, a));
        t.segment(&seg(true, 100, false, a)); // retransmission
        t.segment(&seg(true, 110, false, &m[10..30])); // overlapping retransmission
        let (p, stats) = only_pair(t);
        assert_eq!(p.counts.smb1_and_smb2, 1, "{p:?}");
        assert_eq!(stats.retransmissions, 2);
    }

    #[test]
    fn nbss_length_that_lies_is_skipped_not_buffered() {
        let mut t = Tracker::new(Limits::default());
        // A session message announcing 16 MiB, then 100 bytes of it: skipped as data, no panic,
        // nothing buffered, and no negotiate: undecided.
        let mut m = vec![0x00, 0xff, 0xff, 0xff];
        m.extend_from_slice(&[0x41; 100]);
        t.segment(&seg(true, 99, true, &[]));
        t.segment(&seg(true, 100, false, &m));
        assert!(t.flows.iter().flat_map(|t| t.values()).all(|f| f
            .c2s
            .held
            .as_ref()
            .map_or(0, |h| h.buf.len())
            <= MAX_MESSAGE + 4));
        let (p, _) = only_pair(t);
        assert_eq!(p.counts.unknown, 1);
        assert_eq!(p.unknown_reason, Some(UnknownReason::NegotiateNotCaptured));
        // An unknown NBSS type stops the direction and is counted.
        let mut t = Tracker::new(Limits::default());
        t.segment(&seg(true, 99, true, &[]));
        t.segment(&seg(true, 100, false, &[0x42, 0, 0, 4, 1, 2, 3, 4]));
        assert_eq!(t.finish().stats.bad_nbss, 1);
    }

    #[test]
    fn snaplen_cut_negotiate_is_unknown() {
        let mut t = Tracker::new(Limits::default());
        let m = negotiate(&["NT LM 0.12"]);
        t.segment(&seg(true, 99, true, &[]));
        let mut s = seg(true, 100, false, &m[..30]);
        s.cut = true;
        t.segment(&s);
        let (p, stats) = only_pair(t);
        assert_eq!(p.unknown_reason, Some(UnknownReason::NegotiateNotCaptured));
        assert_eq!(stats.snaplen_cut_segments, 1);
    }

    #[test]
    fn mid_stream_connection() {
        let mut t = Tracker::new(Limits::default());
        // No SYN, and the first client bytes are the middle of a WRITE.
        t.segment(&seg(true, 5000, false, &[0x33; 200]));
        let (p, _) = only_pair(t);
        assert_eq!(p.unknown_reason, Some(UnknownReason::MidStream));
        // No SYN, joined at a message boundary carrying SMB2: the session uses SMB2.
        let mut t = Tracker::new(Limits::default());
        let mut m = vec![0, 0, 0, 68];
        m.extend_from_slice(b"\xfeSMB");
        m.extend_from_slice(&[0; 64]);
        m[4 + 12] = 8; // command READ
        t.segment(&seg(true, 5000, false, &m));
        let (p, _) = only_pair(t);
        assert_eq!(p.counts.smb2_only, 1, "{p:?}");
    }

    #[test]
    fn gap_beyond_the_bound_gives_up_the_direction() {
        let mut t = Tracker::new(Limits::default());
        t.segment(&seg(true, 99, true, &[]));
        for k in 0..=MAX_OUT_OF_ORDER as u32 {
            t.segment(&seg(true, 1000 + k * 10, false, &[0; 5]));
        }
        let (p, stats) = only_pair(t);
        assert_eq!(stats.gaps, 1);
        assert_eq!(p.unknown_reason, Some(UnknownReason::NegotiateNotCaptured));
    }

    #[test]
    fn flow_table_cap_counts_what_it_drops() {
        let mut t = Tracker::new(Limits {
            max_flows: 10,
            max_pairs: 100,
        });
        for port in 0..100u16 {
            let mut s = seg(true, 1, true, &[]);
            s.src = SocketAddr::new("10.0.0.5".parse().unwrap(), 1000 + port);
            t.segment(&s);
        }
        assert_eq!(t.flows_held(), 10);
        assert_eq!(t.stats.connections_not_tracked, 90);
        assert_eq!(t.stats.peak_flows, 10);
    }

    #[test]
    fn pair_table_cap_counts_what_it_drops() {
        let mut t = Tracker::new(Limits {
            max_flows: 100,
            max_pairs: 1,
        });
        let m = negotiate(&["NT LM 0.12"]);
        for port in 0..3u16 {
            let mut s = seg(true, 100, false, &m);
            s.src = SocketAddr::new(format!("10.0.0.{}", 10 + port).parse().unwrap(), 40000);
            t.segment(&s);
        }
        let tracked = t.finish();
        assert_eq!(tracked.pairs.len(), 1);
        assert_eq!(tracked.stats.connections_pairs_full, 2);
    }

    #[test]
    fn session_setup_response_blob_is_the_parsers() {
        let ntlm = b"NTLMSSP\0\x02\0\0\0rest of a challenge";
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for words in [0u8, 3, 4, 5] {
            for blob_len in [0u16, 5, ntlm.len() as u16, 200] {
                for unicode in [false, true] {
                    let mut m = vec![0xff, b'S', b'M', b'B', 0x73, 0, 0, 0, 0, 0x98];
                    let flags2: u16 = if unicode { 0xc807 } else { 0x4801 };
                    m.extend_from_slice(&flags2.to_le_bytes());
                    m.resize(32, 0);
                    m.push(words);
                    let mut w = vec![0xffu8, 0, 0, 0, 1, 0];
                    w.extend_from_slice(&blob_len.to_le_bytes());
                    w.resize(usize::from(words) * 2, 0);
                    m.extend_from_slice(&w);
                    let mut bytes = ntlm.to_vec();
                    bytes.extend_from_slice(b"\0W\0i\0n\0\0\0L\0M\0\0\0");
                    m.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
                    m.extend_from_slice(&bytes);
                    for cut in [0, 10, 33, 40, 43, 45, m.len() - 3, m.len()] {
                        cases.push(m[..cut.min(m.len())].to_vec());
                    }
                }
            }
        }
        let mut some = 0;
        for c in &cases {
            let ours = smb1_session_setup_response_blob(c);
            let theirs = parse_smb1_session_setup_response(c)
                .ok()
                .map(|(_, r)| r.security_blob);
            assert_eq!(ours, theirs, "{c:02x?}");
            some += usize::from(ours.is_some_and(|b| !b.is_empty()));
        }
        assert!(some >= 4, "{some}");
    }

    #[test]
    fn messages_passed_over_are_those_whose_parse_is_not_used() {
        // tells_something is true exactly for a header that parses as SMB1 NEGOTIATE or
        // SESSION_SETUP_ANDX, or SMB2 NEGOTIATE or SESSION_SETUP (for whole headers); a message
        // it passes over would have been ignored after its parse.
        let mut seen = 0;
        for magic in [&b"\xffSMB"[..], b"\xfeSMB", b"\xfdSMB", b"\x00SMB"] {
            for cmd in 0..=255u8 {
                for hi in [0u8, 1] {
                    let mut m = magic.to_vec();
                    m.resize(80, 0);
                    m[4] = 64; // SMB2 StructureSize, or an SMB1 command (overwritten below)
                    if magic == b"\xffSMB" {
                        m[4] = cmd;
                    } else {
                        m[12] = cmd;
                        m[13] = hi;
                    }
                    let interesting = match parse_smb_message(&m) {
                        Ok(SmbMessage::Smb1(h, _)) => {
                            h.command == Smb1Command::NEGOTIATE
                                || h.command == Smb1Command::SESSION_SETUP_ANDX
                        }
                        Ok(SmbMessage::Smb2(h, _)) => {
                            h.command == Smb2Command::NEGOTIATE
                                || h.command == Smb2Command::SESSION_SETUP
                        }
                        Err(_) => false,
                    };
                    assert_eq!(tells_something(&m), interesting, "{:02x?}", &m[..16]);
                    seen += usize::from(interesting);
                }
            }
        }
        assert_eq!(seen, 2 * 2 + 2);
    }

    /// `head` answers where the full header parse does, with the same command and flags: on
    /// real messages of both SMBs, every cut of them, and every byte of their headers changed.
    #[test]
    fn head_reads_what_the_header_parse_reads() {
        use smb1scan_protocol::smb2::negotiate::build_smb2_negotiate_request;
        let smb1 = build_smb1_negotiate_request(&["NT LM 0.12"], Smb1Ids::default()).to_vec();
        let smb2 =
            build_smb2_negotiate_request(&[Smb2Dialect(0x0202)], 1, [7; 16], [9; 32]).to_vec();
        let mut cases = Vec::new();
        for m in [smb1, smb2] {
            for n in 0..=m.len() {
                cases.push(m[..n].to_vec());
            }
            for at in 0..72.min(m.len()) {
                for v in [0x00u8, 0x01, 0x40, 0x72, 0x80, 0xfe, 0xff] {
                    let mut c = m.clone();
                    c[at] = v;
                    cases.push(c);
                }
            }
        }
        let (mut some, mut smb2, mut none) = (0, 0, 0);
        for c in &cases {
            let full = match parse_smb_message(c) {
                Ok(SmbMessage::Smb1(h, _)) => Some(Head::Smb1(Head1 {
                    command: h.command,
                    flags: h.flags,
                })),
                Ok(SmbMessage::Smb2(h, _)) => Some(Head::Smb2(Head2 {
                    command: h.command,
                    flags: h.flags,
                })),
                Err(_) => None,
            };
            assert_eq!(head(c), full, "{c:02x?}");
            if let (Some(a), Some(b)) = (head(c), full) {
                let replies = |h: Head| match h {
                    Head::Smb1(h) => h.is_reply(),
                    Head::Smb2(h) => h.is_response(),
                };
                assert_eq!(replies(a), replies(b));
            }
            match full {
                Some(Head::Smb2(_)) => smb2 += 1,
                Some(_) => some += 1,
                None => none += 1,
            }
        }
        assert!(
            some > 100 && smb2 > 100 && none > 100,
            "{some} SMB1 and {smb2} SMB2 parsed, {none} refused"
        );
    }

    #[test]
    fn idle_connections_make_room() {
        let mut t = Tracker::new(Limits {
            max_flows: 1,
            max_pairs: 10,
        });
        let m = negotiate(&["NT LM 0.12"]);
        t.segment(&seg(true, 99, true, &[]));
        t.segment(&seg(true, 100, false, &m));
        let mut later = seg(true, 1, true, &[]);
        later.src = "10.0.0.6:40000".parse().unwrap();
        later.ts += (IDLE_SECS + 1) * 1_000_000;
        t.segment(&later);
        assert_eq!(t.stats.connections_not_tracked, 0);
        let tracked = t.finish();
        let key = PairKey {
            server: "10.0.0.1".parse().unwrap(),
            client: "10.0.0.5".parse().unwrap(),
        };
        let slot = tracked.pairs.iter().find(|(k, _)| *k == key).unwrap().1;
        let first = &tracked.facts[slot as usize];
        assert_eq!(first.counts.smb1_only, 1, "closed when idle, still counted");
    }
}
