//! `smb1scan clients`: who breaks when SMB1 is turned off on a server.
//!
//! Reads packet captures (pcap, pcapng, plain or gzip: [`capture`]), follows each SMB connection
//! far enough to see the dialects the client offers and the names it shows ([`flow`]), and
//! decides per (server, client) pair with the pure [`verdict::decide`]: `breaks` (the client
//! offered SMB1 only), `falls-back` (it offered SMB2 too and the server is seen speaking SMB2),
//! `unknown` with its reason, or `smb2-only` (counted, listed only with `--all`).
//!
//! The JSON Lines record ([`ClientRecord`], one per pair, then one [`SummaryLine`]) is the schema
//! of docs/clients.md; CSV is its flat projection.

pub mod audit;
pub mod capture;
pub mod flow;
pub mod live;
pub mod output;
pub mod slots;
pub mod verdict;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use flow::{Limits, Micros, PairFacts, PairKey, ServerFacts, Tracker, TrackerStats};
use slots::SlotMap;
use verdict::{decide, UnknownReason, Verdict, VerdictInput};

/// One thing wrong with an input: printed as one line on standard error and kept in the outputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The input (file name, interface).
    pub input: String,
    /// What was wrong and what it means for the result.
    pub problem: String,
}

impl Problem {
    /// A problem with `input`.
    pub fn new(input: &str, problem: impl Into<String>) -> Self {
        Problem {
            input: input.to_string(),
            problem: problem.into(),
        }
    }
}

/// The best name a record has for its client (here, not in `output`, because the scan report
/// names clients too and `output` itself writes through the report machinery).
pub fn client_name(r: &ClientRecord) -> Option<&str> {
    r.client_workstation
        .as_deref()
        .or(r.client_netbios_name.as_deref())
        .or(r.client_log_name.as_deref())
}

/// One (server, client) pair: the JSON Lines record of `smb1scan clients`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// The SMB server's address (from an audit log: the Computer name that logged the event).
    pub server: String,
    /// The server's NetBIOS name, when the traffic shows it (NTLMSSP challenge, the called name).
    pub server_name: Option<String>,
    /// The client's address (from an audit log: its ClientName).
    pub client: String,
    /// `breaks`, `falls-back`, `unknown`, `smb2-only`.
    pub verdict: Verdict,
    /// Why `unknown`.
    pub reason: Option<UnknownReason>,
    /// The verdict in one sentence, with its evidence.
    pub detail: String,
    /// How the server is known to speak SMB2, when it is.
    pub server_smb2: Option<String>,
    /// Server ports used.
    pub ports: Vec<u16>,
    /// Sessions seen (connections carrying client data; audit log entries).
    pub sessions: u64,
    /// Sessions that offered SMB1 only.
    pub sessions_smb1_only: u64,
    /// Sessions that offered SMB1 and SMB2.
    pub sessions_smb1_and_smb2: u64,
    /// Sessions that offered, or used, SMB2 only.
    pub sessions_smb2_only: u64,
    /// Sessions not decided.
    pub sessions_unknown: u64,
    /// Dialects the client offered (SMB1 strings, SMB2 revisions).
    pub dialects: Vec<String>,
    /// NetBIOS calling name (port 139 session request).
    pub client_netbios_name: Option<String>,
    /// NTLMSSP workstation.
    pub client_workstation: Option<String>,
    /// NTLMSSP or SESSION_SETUP domain.
    pub client_domain: Option<String>,
    /// NativeOS of the client's SMB1 SESSION_SETUP.
    pub client_native_os: Option<String>,
    /// NativeLanMan of the client's SMB1 SESSION_SETUP.
    pub client_native_lanman: Option<String>,
    /// ClientName of an SMB1 audit event.
    pub client_log_name: Option<String>,
    /// First seen (RFC 3339, UTC).
    pub first_seen: Option<String>,
    /// Last seen.
    pub last_seen: Option<String>,
    /// Inputs the pair was seen in.
    pub sources: Vec<String>,
}

impl ClientRecord {
    /// The record's fields, borrowed.
    pub fn as_ref(&self) -> RecordRef<'_> {
        RecordRef {
            server: &self.server,
            server_name: self.server_name.as_deref(),
            client: &self.client,
            verdict: self.verdict,
            reason: self.reason,
            detail: &self.detail,
            server_smb2: self.server_smb2.as_deref(),
            ports: &self.ports,
            sessions: self.sessions,
            sessions_smb1_only: self.sessions_smb1_only,
            sessions_smb1_and_smb2: self.sessions_smb1_and_smb2,
            sessions_smb2_only: self.sessions_smb2_only,
            sessions_unknown: self.sessions_unknown,
            dialects: Strs::Owned(&self.dialects),
            client_netbios_name: self.client_netbios_name.as_deref(),
            client_workstation: self.client_workstation.as_deref(),
            client_domain: self.client_domain.as_deref(),
            client_native_os: self.client_native_os.as_deref(),
            client_native_lanman: self.client_native_lanman.as_deref(),
            client_log_name: self.client_log_name.as_deref(),
            first_seen: self.first_seen.as_deref(),
            last_seen: self.last_seen.as_deref(),
            sources: Strs::Owned(&self.sources),
            generated: false,
        }
    }
}

/// A [`ClientRecord`]'s fields, borrowed: from a record, or from a pair still in the tracker's
/// tables ([`Findings::try_for_each`]), so that JSON Lines of a large capture are written without
/// a record (some twenty strings) made per pair.
#[derive(Debug, Clone, Copy)]
#[allow(missing_docs)]
pub struct RecordRef<'a> {
    pub server: &'a str,
    pub server_name: Option<&'a str>,
    pub client: &'a str,
    pub verdict: Verdict,
    pub reason: Option<UnknownReason>,
    pub detail: &'a str,
    pub server_smb2: Option<&'a str>,
    pub ports: &'a [u16],
    pub sessions: u64,
    pub sessions_smb1_only: u64,
    pub sessions_smb1_and_smb2: u64,
    pub sessions_smb2_only: u64,
    pub sessions_unknown: u64,
    pub dialects: Strs<'a>,
    pub client_netbios_name: Option<&'a str>,
    pub client_workstation: Option<&'a str>,
    pub client_domain: Option<&'a str>,
    pub client_native_os: Option<&'a str>,
    pub client_native_lanman: Option<&'a str>,
    pub client_log_name: Option<&'a str>,
    pub first_seen: Option<&'a str>,
    pub last_seen: Option<&'a str>,
    pub sources: Strs<'a>,
    /// `server`, `client`, `detail`, `server_smb2`, `first_seen` and `last_seen` are smb1scan's
    /// own text (addresses, times, its sentences), which never needs a JSON escape; false for a
    /// record's fields, which may come from a log.
    pub generated: bool,
}

/// A list of strings, owned by a record or shared by the tracker's pairs.
#[derive(Debug, Clone, Copy)]
pub enum Strs<'a> {
    /// A record's own.
    Owned(&'a [String]),
    /// Shared.
    Shared(&'a [Arc<str>]),
}

impl<'a> Strs<'a> {
    /// The strings, in order.
    pub fn iter(self) -> impl Iterator<Item = &'a str> {
        let (owned, shared) = match self {
            Strs::Owned(v) => (v, &[][..]),
            Strs::Shared(v) => (&[][..], v),
        };
        owned
            .iter()
            .map(String::as_str)
            .chain(shared.iter().map(|s| &**s))
    }
}

impl RecordRef<'_> {
    /// The record these fields are.
    pub fn to_record(&self) -> ClientRecord {
        let opt = |s: Option<&str>| s.map(str::to_string);
        ClientRecord {
            server: self.server.to_string(),
            server_name: opt(self.server_name),
            client: self.client.to_string(),
            verdict: self.verdict,
            reason: self.reason,
            detail: self.detail.to_string(),
            server_smb2: opt(self.server_smb2),
            ports: self.ports.to_vec(),
            sessions: self.sessions,
            sessions_smb1_only: self.sessions_smb1_only,
            sessions_smb1_and_smb2: self.sessions_smb1_and_smb2,
            sessions_smb2_only: self.sessions_smb2_only,
            sessions_unknown: self.sessions_unknown,
            dialects: self.dialects.iter().map(str::to_string).collect(),
            client_netbios_name: opt(self.client_netbios_name),
            client_workstation: opt(self.client_workstation),
            client_domain: opt(self.client_domain),
            client_native_os: opt(self.client_native_os),
            client_native_lanman: opt(self.client_native_lanman),
            client_log_name: opt(self.client_log_name),
            first_seen: opt(self.first_seen),
            last_seen: opt(self.last_seen),
            sources: self.sources.iter().map(str::to_string).collect(),
        }
    }
}

/// Counts over a run: the scope an auditor needs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Inputs given.
    pub inputs: Vec<String>,
    /// Packet records read.
    pub packets: u64,
    /// Pairs per verdict.
    pub breaks: u64,
    /// Pairs that fall back to SMB2.
    pub falls_back: u64,
    /// Pairs not decided.
    pub unknown: u64,
    /// Pairs whose clients never offered SMB1 (listed only with --all).
    pub smb2_only: u64,
    /// Tracker counters (connections, caps, gaps).
    pub tracker: TrackerStats,
    /// The bounds in force.
    pub max_flows: usize,
    /// Pair bound.
    pub max_pairs: usize,
    /// Every problem met.
    pub problems: Vec<Problem>,
    /// Inputs of which nothing could be read (missing, not a capture).
    pub unreadable_inputs: u64,
    /// Audit log events read (any kind), and SMB1 access events (3000) among them.
    pub audit_events: u64,
    /// SMB1 access events counted.
    pub smb1_audit_events: u64,
    /// SMB1 access events not counted because the pair table was full.
    pub audit_events_not_counted: u64,
}

impl Summary {
    /// Lines saying what the run could not see: the caps that were hit and the problems.
    pub fn scope_lines(&self) -> Vec<String> {
        let mut v = Vec::new();
        let t = &self.tracker;
        if t.connections_not_tracked > 0 || t.segments_not_tracked > 0 {
            v.push(format!(
                "connection table full ({} connections at once, --max-flows): {} connections ({} segments) were not followed; their clients are not in the result",
                self.max_flows, t.connections_not_tracked, t.segments_not_tracked
            ));
        }
        if t.connections_pairs_full > 0 {
            v.push(format!(
                "pair table full ({} pairs, --max-pairs): {} connections of further pairs were not counted",
                self.max_pairs, t.connections_pairs_full
            ));
        }
        if self.audit_events_not_counted > 0 {
            v.push(format!(
                "pair table full ({} pairs, --max-pairs): {} SMB1 audit events of further pairs were not counted",
                self.max_pairs, self.audit_events_not_counted
            ));
        }
        if t.snaplen_cut_segments > 0 {
            v.push(format!(
                "{} SMB segments were cut by the capture's snapshot length (capture with -s 0)",
                t.snaplen_cut_segments
            ));
        }
        if t.gaps > 0 {
            v.push(format!(
                "{} connection directions had gaps (lost or reordered packets beyond {}) and were not read further",
                t.gaps,
                flow::MAX_OUT_OF_ORDER
            ));
        }
        v
    }

    /// True when every input was read whole and nothing was capped.
    pub fn complete(&self) -> bool {
        self.problems.is_empty()
            && self.tracker.connections_not_tracked == 0
            && self.tracker.segments_not_tracked == 0
            && self.tracker.connections_pairs_full == 0
            && self.audit_events_not_counted == 0
    }
}

/// The last JSON Lines record of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SummaryLine {
    /// The run's counts and scope.
    pub summary: Summary,
}

/// Options of a `clients` run, validated.
#[derive(Debug, Clone, Default)]
pub struct ClientsOptions {
    /// Capture files (and, later, audit logs).
    pub inputs: Vec<PathBuf>,
    /// List smb2-only pairs too.
    pub all: bool,
    /// Bounds.
    pub limits: Limits,
    /// Excluded addresses (inclusive intervals), from `--exclude` / `--exclude-file`.
    pub exclude: Vec<(u128, u128)>,
    /// Live capture: interface and duration.
    pub live: Option<(String, std::time::Duration)>,
}

/// `--exclude` specs and `--exclude-file` files as address intervals, parsed as `scan` parses
/// them; a host name is refused (a capture is never resolved).
pub fn parse_exclusions(
    specs: &[String],
    files: &[std::path::PathBuf],
) -> crate::Result<Vec<(u128, u128)>> {
    use crate::targets::spec::{parse_spec, split_specs, Spec};
    let mut tokens: Vec<(String, String)> = Vec::new();
    for s in specs {
        tokens.extend(split_specs(s).map(|t| (t.to_string(), "--exclude".to_string())));
    }
    for f in files {
        let text =
            std::fs::read_to_string(f).map_err(|e| crate::Error::io_path("reading", f, e))?;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default();
            tokens.extend(split_specs(line).map(|t| (t.to_string(), f.display().to_string())));
        }
    }
    let mut out = Vec::new();
    for (t, origin) in tokens {
        match parse_spec(&t) {
            Ok(Spec::Range(lo, hi)) => out.push((lo, hi)),
            Ok(Spec::Ranges(v)) => out.extend(v),
            Ok(Spec::Name(n)) => {
                return Err(crate::Error::usage(format!(
                    "{origin}: {n}: smb1scan clients excludes addresses, not host names"
                )))
            }
            Err(e) => return Err(crate::Error::usage(format!("{origin}: {e}"))),
        }
    }
    Ok(out)
}

/// What a run found.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// The capture's listed pairs, decided and in order, still in the tracker's tables: made
    /// records only when an output needs them ([`Findings::records`]).
    listed: Listed,
    /// Listed pairs as records, breaks first, then unknown, falls-back, smb2-only; by server,
    /// client. Made from `listed` at the first call of [`Findings::records`].
    records: OnceLock<Vec<ClientRecord>>,
    /// Counts and scope.
    pub summary: Summary,
}

/// Decided pairs in record order, with the tables their facts are in.
#[derive(Debug, Clone, Default)]
struct Listed {
    /// Verdict, pair, the slot of its facts.
    rows: Vec<(Verdict, PairKey, u32)>,
    facts: Vec<PairFacts>,
    servers: SlotMap<IpAddr, ServerFacts, foldhash::fast::RandomState>,
}

impl Findings {
    /// Findings of these records (in record order) and this summary.
    pub fn from_records(records: Vec<ClientRecord>, summary: Summary) -> Self {
        Findings {
            listed: Listed::default(),
            records: OnceLock::from(records),
            summary,
        }
    }

    /// The listed pairs as records, in order.
    pub fn records(&self) -> &[ClientRecord] {
        self.records.get_or_init(|| {
            let mut v = Vec::with_capacity(self.listed.rows.len());
            self.listed.for_each(|r| v.push(r.to_record()));
            v
        })
    }

    /// How many pairs are listed.
    pub fn len(&self) -> usize {
        self.records
            .get()
            .map_or(self.listed.rows.len(), |r| r.len())
    }

    /// A pair with this verdict is listed.
    pub fn lists(&self, verdict: Verdict) -> bool {
        match self.records.get() {
            Some(r) => r.iter().any(|r| r.verdict == verdict),
            None => self.listed.rows.iter().any(|r| r.0 == verdict),
        }
    }

    /// No pair is listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with each listed record's fields, in order, until it fails: from the records
    /// when they were made, else straight from the tracker's tables (no record made).
    pub fn try_for_each<E>(
        &self,
        mut f: impl FnMut(&RecordRef<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if let Some(records) = self.records.get() {
            return records.iter().try_for_each(|r| f(&r.as_ref()));
        }
        let mut result = Ok(());
        self.listed.for_each(|r| {
            if result.is_ok() {
                result = f(r);
            }
        });
        result
    }
}

impl Listed {
    /// Calls `f` with each row's record fields, in order.
    fn for_each(&self, mut f: impl FnMut(&RecordRef<'_>)) {
        let mut scratch = Scratch::default();
        // Rows come sorted by server within a verdict: its facts are looked up once per run of
        // rows.
        let mut last: Option<(IpAddr, Option<&ServerFacts>)> = None;
        for &(verdict, key, slot) in &self.rows {
            let Some(facts) = self.facts.get(slot as usize) else {
                continue;
            };
            let server = match last {
                Some((ip, s)) if ip == key.server => s,
                _ => {
                    let s = self.servers.get(&key.server);
                    last = Some((key.server, s));
                    s
                }
            };
            f(&pair_view(verdict, key, facts, server, &mut scratch));
        }
    }
}

/// What an input is, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// pcap, pcapng, or gzip (of either).
    Capture,
    /// A Windows event log file (`ElfFile\0`).
    Evtx,
    /// Event XML (wevtutil /f:xml, Get-WinEvent ToXml()).
    EventXml,
}

/// The kind of `head` (the first bytes of a file): EVTX by its signature, XML by a `<` first
/// (after a byte-order mark and white space), anything else is read as a capture.
pub fn input_kind(head: &[u8]) -> InputKind {
    if head.starts_with(b"ElfFile\0") {
        return InputKind::Evtx;
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return InputKind::EventXml;
    }
    let h = head.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(head);
    match h.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'<') => InputKind::EventXml,
        _ => InputKind::Capture,
    }
}

fn head_of(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut b = vec![0u8; 16];
    let n = f.read(&mut b)?;
    b.truncate(n);
    Ok(b)
}

/// Reads every input and decides every pair (no live capture: see [`analyse_with_live`]).
pub fn analyse(opts: &ClientsOptions) -> Findings {
    let files_only = ClientsOptions {
        live: None,
        ..opts.clone()
    };
    analyse_with_live(&files_only).unwrap_or_default()
}

/// Reads every input, then captures live when asked, and decides every pair.
pub fn analyse_with_live(opts: &ClientsOptions) -> Result<Findings, live::LiveError> {
    let mut tracker = Tracker::new(opts.limits);
    tracker.set_exclusions(opts.exclude.clone());
    let mut audit = audit::AuditPairs::default();
    let mut problems = Vec::new();
    let mut packets = 0;
    let mut unreadable = 0;
    for path in &opts.inputs {
        let name = path.display().to_string();
        tracker.set_source(&name);
        let before = problems.len();
        let kind = match head_of(path) {
            Ok(h) => input_kind(&h),
            Err(e) => {
                unreadable += 1;
                problems.push(Problem::new(&name, format!("cannot read: {e}")));
                continue;
            }
        };
        let events_before = audit.events;
        let read = match kind {
            InputKind::Capture => capture::read_capture_file(path, &mut tracker, &mut problems)
                .map(|s| {
                    packets += s.packets;
                    s.packets
                }),
            InputKind::Evtx => {
                audit::read_evtx_file(path, &mut audit, opts.limits.max_pairs, &mut problems)
                    .map(|_| audit.events - events_before)
            }
            InputKind::EventXml => {
                audit::read_xml_file(path, &mut audit, opts.limits.max_pairs, &mut problems)
                    .map(|_| audit.events - events_before)
            }
        };
        match read {
            Ok(0) if problems.len() > before => unreadable += 1,
            Ok(_) => {}
            Err(e) => {
                unreadable += 1;
                problems.push(Problem::new(&name, format!("cannot read: {e}")));
            }
        }
    }
    let mut inputs: Vec<String> = opts
        .inputs
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    if let Some((iface, duration)) = &opts.live {
        let name = format!("live:{iface}");
        tracker.set_source(&name);
        packets += live::capture(iface, *duration, &mut tracker)?;
        inputs.push(name);
    }
    let mut f = findings(tracker, problems, inputs, packets, opts);
    f.summary.unreadable_inputs = unreadable;
    f.summary.audit_events = audit.events;
    f.summary.smb1_audit_events = audit.smb1_events;
    f.summary.audit_events_not_counted = audit.not_counted;
    if !audit.pairs.is_empty() {
        // The capture's records are in order already (findings); the log's join them.
        let mut records = f.records().to_vec();
        for ((server, client), facts) in &audit.pairs {
            records.push(audit_record(server, client, facts));
            f.summary.unknown += 1;
        }
        sort_records(&mut records);
        f = Findings::from_records(records, f.summary);
    }
    Ok(f)
}

/// The record of a pair seen only in an SMB1 audit log.
pub fn audit_record(server: &str, client: &str, f: &PairFacts) -> ClientRecord {
    let (verdict, reason) = decide(&VerdictInput {
        sessions: f.counts,
        unknown_reason: f.unknown_reason,
        server_speaks_smb2: false,
    });
    ClientRecord {
        server: server.to_string(),
        server_name: Some(server.to_string()),
        client: client.to_string(),
        verdict,
        reason,
        detail: format!(
            "{} SMB1 access events (3000): the client used SMB1 with this server; {}",
            f.sessions,
            reason.map(|r| r.explain()).unwrap_or_default()
        ),
        server_smb2: None,
        ports: Vec::new(),
        sessions: f.sessions,
        sessions_smb1_only: f.counts.smb1_only,
        sessions_smb1_and_smb2: f.counts.smb1_and_smb2,
        sessions_smb2_only: f.counts.smb2_only,
        sessions_unknown: f.counts.unknown,
        dialects: Vec::new(),
        client_netbios_name: None,
        client_workstation: None,
        client_domain: None,
        client_native_os: None,
        client_native_lanman: None,
        client_log_name: f.client_log_name.as_deref().map(str::to_string),
        first_seen: f.first_seen.and_then(rfc3339),
        last_seen: f.last_seen.and_then(rfc3339),
        sources: f.sources.iter().map(|s| s.to_string()).collect(),
    }
}

/// Decides the pairs a tracker collected.
pub fn findings(
    tracker: Tracker,
    problems: Vec<Problem>,
    inputs: Vec<String>,
    packets: u64,
    opts: &ClientsOptions,
) -> Findings {
    let tracked = tracker.finish();
    let mut summary = Summary {
        inputs,
        packets,
        tracker: tracked.stats,
        max_flows: opts.limits.max_flows,
        max_pairs: opts.limits.max_pairs,
        problems,
        ..Default::default()
    };
    // Decided and sorted on the addresses themselves: the order of sort_records (verdict,
    // server, client; every address parses back to itself) without parsing hundreds of
    // thousands of address strings back. Records are made later, and only when an output needs
    // them (Findings::records).
    let mut rows = Vec::with_capacity(tracked.pairs.len());
    for (key, slot) in tracked.pairs {
        let Some(facts) = tracked.facts.get(slot as usize) else {
            continue;
        };
        let verdict = pair_verdict(facts, tracked.servers.get(&key.server)).0;
        match verdict {
            Verdict::Breaks => summary.breaks += 1,
            Verdict::FallsBack => summary.falls_back += 1,
            Verdict::Unknown => summary.unknown += 1,
            Verdict::Smb2Only => summary.smb2_only += 1,
        }
        if verdict != Verdict::Smb2Only || opts.all {
            rows.push((verdict, key, slot));
        }
    }
    // The key's order in integers (IPv4 before IPv6, each by value: IpAddr's own order);
    // comparing the addresses as enums was a tenth of a large capture's instructions.
    let order = |ip: IpAddr| match ip {
        IpAddr::V4(a) => (0u8, u128::from(a.to_bits())),
        IpAddr::V6(a) => (1u8, a.to_bits()),
    };
    rows.sort_unstable_by_key(|&(v, k, _)| {
        let (st, s) = order(k.server);
        let (ct, c) = order(k.client);
        (v as u8, st, s, ct, c)
    });
    Findings {
        listed: Listed {
            rows,
            facts: tracked.facts,
            servers: tracked.servers,
        },
        records: OnceLock::new(),
        summary,
    }
}

/// Breaks first, then unknown, falls-back, smb2-only; by server and client, addresses in numeric
/// order before names.
pub fn sort_records(records: &mut [ClientRecord]) {
    fn key(s: &str) -> (Option<IpAddr>, String) {
        (s.parse().ok(), s.to_string())
    }
    records.sort_by_cached_key(|r| (r.verdict, key(&r.server), key(&r.client)));
}

fn rfc3339(t: Micros) -> Option<String> {
    let mut s = String::new();
    rfc3339_cached(t, &mut s, &mut None).then_some(s)
}

/// [`rfc3339`] written into `out` (cleared first; false when the time has no text), with the
/// date text of the last day written kept in `day` (a capture's
/// times fall on a few days: the civil date was a third of this function's work).
fn rfc3339_cached(t: Micros, out: &mut String, day: &mut Option<(i64, [u8; 10])>) -> bool {
    out.clear();
    // Years 1970 to 9999 (every capture) are written here, the rest by chrono: its formatting
    // machinery was a tenth of the cost of turning a large capture's pairs into records.
    const END: Micros = 253_402_300_800_000_000; // 10000-01-01T00:00:00Z
    if !(0..END).contains(&t) {
        return match chrono::DateTime::from_timestamp_micros(t) {
            Some(d) => {
                out.push_str(&d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
                true
            }
            None => false,
        };
    }
    let days = t / 86_400_000_000;
    let micros_of_day = t % 86_400_000_000;
    let date = match day {
        Some((d, text)) if *d == days => *text,
        _ => {
            let text = civil_date(days);
            *day = Some((days, text));
            text
        }
    };
    let secs = micros_of_day / 1_000_000;
    // Digits written into the text's fixed layout (pushing chars through a power of ten each was
    // most of this function's time).
    let mut b = *b"0000-00-00T00:00:00.000000Z";
    if let Some(d) = b.get_mut(..10) {
        d.copy_from_slice(&date);
    }
    for (n, at, width) in [
        (secs / 3600, 11, 2),
        (secs / 60 % 60, 14, 2),
        (secs % 60, 17, 2),
        (micros_of_day % 1_000_000, 20, 6),
    ] {
        put_digits(&mut b, n, at, width);
    }
    match std::str::from_utf8(&b) {
        Ok(text) => {
            out.push_str(text);
            true
        }
        Err(_) => false,
    }
}

/// `n`'s last `width` decimal digits at `at` of `b`.
fn put_digits(b: &mut [u8], n: i64, at: usize, width: usize) {
    let mut n = n;
    for k in (at..at + width).rev() {
        if let Some(d) = b.get_mut(k) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
    }
}

/// "YYYY-MM-DD" of a day since 1970-01-01 (non-negative, before year 10000).
fn civil_date(days: i64) -> [u8; 10] {
    // Civil date from days since 1970-01-01 (H. Hinnant, "chrono-Compatible Low-Level Date
    // Algorithms", days_from_civil's inverse), for non-negative days.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut b = *b"0000-00-00";
    for (n, at, width) in [(year, 0, 4), (month, 5, 2), (day, 8, 2)] {
        put_digits(&mut b, n, at, width);
    }
    b
}

/// The verdict of one pair from its facts and its server's.
fn pair_verdict(f: &PairFacts, server: Option<&ServerFacts>) -> (Verdict, Option<UnknownReason>) {
    decide(&VerdictInput {
        sessions: f.counts,
        unknown_reason: f.unknown_reason,
        server_speaks_smb2: server.and_then(|s| s.smb2_negotiate).is_some(),
    })
}

/// The record of one pair: facts plus the verdict.
pub fn record(key: PairKey, f: &PairFacts, server: Option<&ServerFacts>) -> ClientRecord {
    let verdict = pair_verdict(f, server).0;
    pair_view(verdict, key, f, server, &mut Scratch::default()).to_record()
}

/// An address as `Display` writes it, into `out` (cleared first); IPv4 without the formatting
/// machinery.
fn ip_text_into(ip: IpAddr, out: &mut String) {
    out.clear();
    match ip {
        IpAddr::V4(v4) => {
            for (i, o) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_u64(out, u64::from(o));
            }
        }
        IpAddr::V6(_) => {
            use std::fmt::Write;
            let _ = write!(out, "{ip}");
        }
    }
}

/// Appends `n` in decimal.
fn push_u64(s: &mut String, n: u64) {
    s.push_str(itoa::Buffer::new().format(n));
}

/// How the server is known to speak SMB2 (the record's `server_smb2`), when it is.
fn server_smb2_text(server: Option<&ServerFacts>) -> Option<String> {
    server
        .and_then(|s| s.smb2_negotiate)
        .map(|(d, client, ts)| {
            format!(
                "answered an SMB2 NEGOTIATE with dialect {} (0x{:04x}) to {client}{}",
                d.name(),
                d.0,
                rfc3339(ts).map(|t| format!(" at {t}")).unwrap_or_default()
            )
        })
}

/// The texts a pair's record is made of, kept from one pair to the next (no allocation per
/// pair).
#[derive(Debug, Default)]
struct Scratch {
    server: String,
    client: String,
    detail: String,
    first_seen: String,
    last_seen: String,
    /// The date text of the last day a time fell on.
    day: Option<(i64, [u8; 10])>,
    /// The SMB2 sentence of the last server seen: records come sorted by server within a
    /// verdict, so it is made once per server.
    smb2: Option<(IpAddr, Option<String>)>,
}

/// The one place a capture pair's record is put together: its fields, borrowed from its facts
/// and from `scratch`. [`record`] and the JSON Lines of [`Findings::try_for_each`] both come
/// from here.
fn pair_view<'a>(
    verdict: Verdict,
    key: PairKey,
    f: &'a PairFacts,
    server: Option<&'a ServerFacts>,
    scratch: &'a mut Scratch,
) -> RecordRef<'a> {
    let reason = pair_verdict(f, server).1;
    let c = f.counts;
    if scratch.smb2.as_ref().map(|(ip, _)| *ip) != Some(key.server) {
        scratch.smb2 = Some((key.server, server_smb2_text(server)));
    }
    let server_smb2 = scratch.smb2.as_ref().and_then(|(_, t)| t.as_deref());
    let d = &mut scratch.detail;
    d.clear();
    match (verdict, reason) {
        (Verdict::Breaks, _) => {
            // The sentence of most records, put together without the formatting machinery.
            push_u64(d, c.smb1_only);
            d.push_str(" of ");
            push_u64(d, f.sessions);
            d.push_str(" sessions offered only SMB1 dialects: this client stops working with this server when SMB1 is off");
        }
        (Verdict::FallsBack, _) => {
            d.push_str("the client offered SMB2 as well and the server ");
            d.push_str(server_smb2.unwrap_or("speaks SMB2"));
        }
        (Verdict::Smb2Only, _) => d.push_str("the client never offered SMB1 to this server"),
        (Verdict::Unknown, Some(r)) => {
            d.push_str(r.explain());
            if r == UnknownReason::ServerSmb2NotShown && server.is_some_and(|s| s.answered_smb1) {
                d.push_str(" (it answered in SMB1)");
            }
        }
        (Verdict::Unknown, None) => d.push_str("not decided"),
    }
    ip_text_into(key.server, &mut scratch.server);
    ip_text_into(key.client, &mut scratch.client);
    let first_seen = f
        .first_seen
        .filter(|&t| rfc3339_cached(t, &mut scratch.first_seen, &mut scratch.day))
        .map(|_| scratch.first_seen.as_str());
    let last_seen = f
        .last_seen
        .filter(|&t| rfc3339_cached(t, &mut scratch.last_seen, &mut scratch.day))
        .map(|_| scratch.last_seen.as_str());
    RecordRef {
        server: &scratch.server,
        server_name: server.and_then(|s| s.name.as_deref()),
        client: &scratch.client,
        verdict,
        reason,
        detail: &scratch.detail,
        server_smb2,
        ports: &f.ports,
        sessions: f.sessions,
        sessions_smb1_only: c.smb1_only,
        sessions_smb1_and_smb2: c.smb1_and_smb2,
        sessions_smb2_only: c.smb2_only,
        sessions_unknown: c.unknown,
        dialects: Strs::Shared(f.dialects.as_slice()),
        client_netbios_name: f.client_netbios_name.as_deref(),
        client_workstation: f.client_workstation.as_deref(),
        client_domain: f.client_domain.as_deref(),
        client_native_os: f.client_native_os.as_deref(),
        client_native_lanman: f.client_native_lanman.as_deref(),
        client_log_name: f.client_log_name.as_deref(),
        first_seen,
        last_seen,
        sources: Strs::Shared(&f.sources),
        generated: true,
    }
}

/// Per server, the clients that break: what `scan` / `report --clients FILE` show before the
/// command that turns SMB1 off.
pub fn breaking_clients_by_server(records: &[ClientRecord]) -> HashMap<String, Vec<ClientRecord>> {
    let mut m: HashMap<String, Vec<ClientRecord>> = HashMap::new();
    for r in records.iter().filter(|r| r.verdict == Verdict::Breaks) {
        m.entry(r.server.clone()).or_default().push(r.clone());
    }
    m
}

#[cfg(test)]
mod rfc3339_tests {
    use super::{ip_text_into, push_u64, rfc3339, rfc3339_cached};

    fn ip_text(ip: std::net::IpAddr) -> String {
        let mut s = String::from("stale");
        ip_text_into(ip, &mut s);
        s
    }

    #[test]
    fn ip_text_and_numbers_are_displays() {
        for ip in [
            "0.0.0.0",
            "10.0.0.1",
            "255.255.255.255",
            "192.168.100.9",
            "1.22.133.4",
            "::1",
            "fe80::1:2",
            "::ffff:10.0.0.1",
        ] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            assert_eq!(ip_text(ip), ip.to_string());
        }
        for n in [0, 1, 9, 10, 99, 100, 12345, u64::MAX] {
            let mut s = String::from("x");
            push_u64(&mut s, n);
            assert_eq!(s, format!("x{n}"));
        }
    }

    #[test]
    fn rfc3339_is_chronos_text() {
        let chrono_text = |t: i64| {
            chrono::DateTime::from_timestamp_micros(t)
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        };
        let mut t: i64 = 0;
        let mut cases = vec![
            0,
            1,
            86_399_999_999,
            86_400_000_000,
            951_782_400_000_000,   // 2000-02-29
            4_107_542_400_000_000, // 2100-03-01
            1_700_000_000_141_593,
            253_402_300_799_999_999, // 9999-12-31T23:59:59.999999Z
            253_402_300_800_000_000, // year 10000: chrono's text
            -1,
            -62_135_596_800_000_001,
            i64::MAX,
            i64::MIN,
        ];
        // A day every fortnight from 1970 to 9999, at a time of day that moves.
        while t < 253_402_300_800_000_000 {
            cases.push(t);
            t += 86_400_000_000 * 14 + 3_599_999_999;
        }
        for c in &cases {
            assert_eq!(rfc3339(*c), chrono_text(*c), "{c}");
        }
        // With the day remembered from one time to the next: times of one day, and days apart,
        // in both orders.
        let mut day = None;
        let mut text = String::new();
        let same_day = [
            1_700_000_000_141_593,
            1_700_000_000_000_000,
            1_700_003_599_999_999,
        ];
        for c in cases
            .iter()
            .chain(same_day.iter())
            .chain(cases.iter().rev())
        {
            let ok = rfc3339_cached(*c, &mut text, &mut day);
            assert_eq!(ok.then(|| text.clone()), chrono_text(*c), "{c}");
        }
    }
}
