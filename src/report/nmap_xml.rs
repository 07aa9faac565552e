//! nmap XML: the `nmaprun` document of nmap's DTD (`nmap.dtd`, `xmloutputversion` 1.05), so that
//! whatever imports nmap XML (vulnerability managers, `ndiff`, `nmap.xsl`, python-libnmap) reads
//! smb1scan's results. The layout is documented in docs/output-schema.md ("nmap XML").
//!
//! - One `host` per scanned address (records of several ports of one address share it), as
//!   `nmap -sT` lists hosts: `up` when the host answered at the TCP level (open, refused, or
//!   connected then reset/timed out/spoke non-SMB), `down` (reason `no-response` /
//!   `host-unreach`) when nothing answered, `unknown` when the probe never ran to an answer
//!   (interrupted, local error). Down hosts keep their `port` element (`filtered`), so an
//!   unanswered target stays visible: silence is not a clean host.
//! - `hostscript`: on every host a `smb1scan` script with one table per port (verdicts,
//!   reasons, risk, remediation): the full state of every target lives there. Beside it,
//!   `smb-protocols` and `smb-os-discovery` in the `id`/`output`/`elem`/`table` shape nmap's
//!   scripts produce (nmap 7.93), from the address's most severe answering record; and
//!   `smb-vuln-ms17-010` / `smb-double-pulsar-backdoor` only where nmap at default verbosity
//!   prints them: MS17-010 `vulnerable`, DoublePulsar `present` (VULNERABLE, vulns.lua's state
//!   table). A tool that counts findings per script id then gets the same hosts from this file
//!   as from nmap's own (tests/nmap_agreement.rs runs both on the simulated hosts).
//! - `scanner="nmap"` is the only value the DTD allows; `version` and `args` are smb1scan's.
//! - Every string from the network has its control characters replaced (U+FFFD), as the terminal
//!   summary does: XML 1.0 cannot carry them at all, and a hostile name must not forge lines.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesPI, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::summary::sanitize_for_terminal;
use super::{enum_name, Enriched, ScanMeta};
use crate::checks::{CsvSlot, NmapNode, NmapScript, REGISTRY};
use crate::model::{HostResult, HostStatus};

/// Writing an XML report failed (the writer targets memory, so in practice never).
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    /// The underlying writer failed.
    #[error("writing XML: {0}")]
    Io(#[from] io::Error),
}

/// `xmloutputversion` of the nmap DTD this follows.
pub const XML_OUTPUT_VERSION: &str = "1.05";

/// Where nmap's own stylesheet lives on Debian (nmap writes the same processing instruction).
pub const NMAP_XSL: &str = "file:///usr/share/nmap/nmap.xsl";

/// Replace what XML 1.0 cannot carry or a reader could be fooled by: control characters
/// (as the terminal summary does) and the non-characters U+FFFE / U+FFFF.
pub fn clean(s: &str) -> String {
    sanitize_for_terminal(s)
        .chars()
        .map(|c| match c {
            '\u{FFFE}' | '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// A thin layer over quick-xml's writer: attribute values escaped by quick-xml, with line
/// breaks kept as character references (`&#xa;`, as nmap writes them; a raw newline in an
/// attribute would be normalised to a space by every parser).
pub(super) struct Xml {
    w: Writer<Vec<u8>>,
}

impl Xml {
    pub(super) fn new() -> Self {
        Xml {
            w: Writer::new_with_indent(Vec::new(), b' ', 1),
        }
    }

    pub(super) fn decl(&mut self) -> io::Result<()> {
        self.w
            .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
    }

    pub(super) fn event(&mut self, e: Event<'_>) -> io::Result<()> {
        self.w.write_event(e)
    }

    fn tag<'a>(name: &'a str, attrs: &[(&str, &str)]) -> BytesStart<'a> {
        let mut t = BytesStart::new(name);
        for (k, v) in attrs {
            let escaped = quick_xml::escape::escape(*v)
                .replace('\n', "&#xa;")
                .replace('\r', "&#xd;")
                .replace('\t', "&#x9;");
            t.push_attribute(Attribute::from((k.as_bytes(), escaped.as_bytes())));
        }
        t
    }

    pub(super) fn start(&mut self, name: &str, attrs: &[(&str, &str)]) -> io::Result<()> {
        self.w.write_event(Event::Start(Self::tag(name, attrs)))
    }

    pub(super) fn end(&mut self, name: &str) -> io::Result<()> {
        self.w.write_event(Event::End(BytesEnd::new(name)))
    }

    pub(super) fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) -> io::Result<()> {
        self.w.write_event(Event::Empty(Self::tag(name, attrs)))
    }

    pub(super) fn text_elem(
        &mut self,
        name: &str,
        attrs: &[(&str, &str)],
        text: &str,
    ) -> io::Result<()> {
        self.w.write_event(Event::Start(Self::tag(name, attrs)))?;
        self.w.write_event(Event::Text(BytesText::new(text)))?;
        self.w.write_event(Event::End(BytesEnd::new(name)))
    }

    pub(super) fn finish(self) -> Vec<u8> {
        let mut out = self.w.into_inner();
        out.push(b'\n');
        out
    }
}

/// Milliseconds since the epoch of an RFC 3339 time.
pub(super) fn epoch_ms(rfc3339: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// nmap's `startstr`/`timestr` format (C `ctime`, here in UTC).
fn ctime(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .map(|t| t.format("%a %b %e %H:%M:%S %Y").to_string())
        .unwrap_or_default()
}

// ---- the checks' scripts ----------------------------------------------------------------------

/// Writes one check's script element: `output` line by line with control characters replaced
/// (a hostile string cannot forge a line), the structured nodes with each line of a value
/// cleaned the same way.
fn write_script(x: &mut Xml, s: &NmapScript) -> io::Result<()> {
    let clean_lines = |v: &str| v.split('\n').map(clean).collect::<Vec<_>>().join("\n");
    let script = NmapScript {
        lines: s.lines.iter().map(|l| clean(l)).collect(),
        ..s.clone()
    };
    x.start("script", &[("id", &s.id), ("output", &script.output())])?;
    fn nodes(x: &mut Xml, ns: &[NmapNode], clean_lines: &dyn Fn(&str) -> String) -> io::Result<()> {
        for n in ns {
            match n {
                NmapNode::Elem(k, v) => {
                    let attrs: Vec<(&str, &str)> =
                        k.as_deref().map(|k| ("key", k)).into_iter().collect();
                    x.text_elem("elem", &attrs, &clean_lines(v))?;
                }
                NmapNode::Table(k, inner) => {
                    let attrs: Vec<(&str, &str)> =
                        k.as_deref().map(|k| ("key", k)).into_iter().collect();
                    x.start("table", &attrs)?;
                    nodes(x, inner, clean_lines)?;
                    x.end("table")?;
                }
            }
        }
        Ok(())
    }
    nodes(x, &s.nodes, &clean_lines)?;
    x.end("script")
}

/// Every check's scripts for a record, in registry order (`smb-protocols`,
/// `smb-vuln-ms17-010`, `smb-double-pulsar-backdoor`, `smb-security-mode`, ...).
fn write_checks(x: &mut Xml, h: &HostResult) -> io::Result<()> {
    for c in REGISTRY {
        for s in c.nmap_scripts(h) {
            write_script(x, &s)?;
        }
    }
    Ok(())
}

// ---- smb-os-discovery -------------------------------------------------------------------------

/// The CPE smb-os-discovery.nse's `make_cpe` derives from a NativeOS string.
pub fn make_cpe(os: &str) -> Option<String> {
    let starts = |p: &str| os.starts_with(p);
    let server_with = |y: &str| os.starts_with("Windows Server") && os.contains(y);
    // `Windows 8` / `Windows 10` must not be followed by a digit or a dot (Lua's %f[^%d.]).
    let word = |p: &str| {
        os.strip_prefix(p)
            .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit() || c == '.'))
    };
    let name = if starts("Windows 5.0") {
        "windows_2000"
    } else if starts("Windows 5.1") {
        "windows_xp"
    } else if server_with("2003") {
        "windows_server_2003"
    } else if starts("Windows Vista") {
        "windows_vista"
    } else if server_with("2008") {
        "windows_server_2008"
    } else if starts("Windows 7") {
        "windows_7"
    } else if word("Windows 8") {
        "windows_8"
    } else if starts("Windows 8.1") {
        "windows_8.1"
    } else if word("Windows 10") {
        "windows_10"
    } else if server_with("2012") {
        "windows_server_2012"
    } else {
        return None;
    };
    let sp = os
        .split("Service Pack ")
        .nth(1)
        .map(|r| {
            r.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .filter(|n| !n.is_empty())
        .map(|n| format!("sp{n}"))
        .unwrap_or_else(|| "-".to_string());
    let mut cpe = format!("cpe:/o:microsoft:{name}::{sp}");
    if os.contains("Professional") {
        cpe.push_str(":professional");
    }
    Some(cpe)
}

/// smb.lua's `get_windows_version`.
fn windows_version(os: &str) -> &str {
    match os {
        "Windows 5.0" => "Windows 2000",
        "Windows 5.1" => "Windows XP",
        other => other,
    }
}

fn write_os_discovery(x: &mut Xml, h: &HostResult) -> io::Result<()> {
    let o = &h.os;
    let c = |v: &Option<String>| v.as_deref().map(clean);
    let os = c(&o.native_os);
    let lanmanager = c(&o.native_lanman);
    let domain = c(&o.netbios_domain).or_else(|| c(&o.domain));
    let server = c(&o.netbios_name).or_else(|| c(&h.smb1.server_name));
    let date = c(&h.smb1.server_time).or_else(|| c(&h.smb2.server_time));
    let fqdn = c(&o.dns_name);
    let domain_dns = c(&o.dns_domain);
    let forest_dns = c(&o.dns_tree);
    let workgroup = c(&h.smb1.domain);
    let cpe = os.as_deref().and_then(make_cpe);
    if [&os, &lanmanager, &domain, &server, &fqdn]
        .iter()
        .all(|v| v.is_none())
    {
        return Ok(());
    }

    // The text lines, as the script builds them.
    let mut lines = Vec::new();
    let mut add = |label: &str, v: Option<&str>| {
        if let Some(v) = v {
            lines.push(format!("{label}: {v}"));
        }
    };
    match (&os, &lanmanager) {
        (Some(os), Some(lm)) => add("OS", Some(&format!("{} ({lm})", windows_version(os)))),
        _ => add("OS", Some("Unknown")),
    }
    add("OS CPE", cpe.as_deref());
    if let Some(f) = &fqdn {
        add("Computer name", f.split('.').next());
    }
    add("NetBIOS computer name", server.as_deref());
    match (&fqdn, &domain_dns) {
        (Some(f), Some(dd)) if f != dd => {
            add("Domain name", Some(dd));
            add("Forest name", forest_dns.as_deref());
            add("FQDN", Some(f));
            add("NetBIOS domain name", domain.as_deref());
        }
        _ => add("Workgroup", workgroup.as_deref().or(domain.as_deref())),
    }
    add("System time", Some(date.as_deref().unwrap_or("Unknown")));
    let output: String = std::iter::once("\n".to_string())
        .chain(lines.iter().map(|l| format!("  {l}\n")))
        .collect();

    x.start("script", &[("id", "smb-os-discovery"), ("output", &output)])?;
    let elems = [
        ("os", &os),
        ("lanmanager", &lanmanager),
        ("domain", &domain),
        ("server", &server),
        ("date", &date),
        ("fqdn", &fqdn),
        ("domain_dns", &domain_dns),
        ("forest_dns", &forest_dns),
        ("workgroup", &workgroup),
        ("cpe", &cpe),
    ];
    for (k, v) in elems {
        if let Some(v) = v {
            x.text_elem("elem", &[("key", k)], v)?;
        }
    }
    x.end("script")
}

// ---- smb1scan's own element -------------------------------------------------------------------

/// One record's facts in `key: value` form, and its remediation actions.
type Facts = (Vec<(&'static str, String)>, Vec<String>);

/// The [`Facts`] of one record.
fn smb1scan_facts(e: &Enriched<'_>) -> Facts {
    let h = e.host;
    let smb1 = match h.smb1.enabled {
        Some(true) => "enabled",
        Some(false) => "disabled",
        None => "unknown",
    };
    let mut elems: Vec<(&str, String)> = vec![
        ("status", enum_name(&h.status)),
        ("smb1", smb1.to_string()),
        ("smb1_evidence", enum_name(&h.smb1.evidence)),
        ("ms17_010", enum_name(&h.ms17_010.verdict)),
    ];
    if let Some(r) = h.ms17_010.reason {
        elems.push(("ms17_010_reason", enum_name(&r)));
    }
    if let Some(s) = &h.ms17_010.status_name {
        elems.push(("ms17_010_status", clean(s)));
    }
    elems.push(("doublepulsar", enum_name(&h.doublepulsar.verdict)));
    if let Some(r) = h.doublepulsar.reason {
        elems.push(("doublepulsar_reason", enum_name(&r)));
    }
    if let Some(a) = &h.doublepulsar.arch {
        elems.push(("doublepulsar_arch", clean(a)));
    }
    // Checks added after the first three: their CSV columns, where set.
    for c in REGISTRY.iter().filter(|c| c.csv_slot() == CsvSlot::End) {
        for col in c.csv_columns() {
            let v = (col.cell)(h);
            if !v.is_empty() {
                elems.push((col.name, clean(&v)));
            }
        }
    }
    elems.push(("risk", e.risk.to_string()));
    if let Some(err) = &h.error {
        elems.push(("error", clean(err)));
    }
    let actions = e.remediation.actions.iter().map(|a| clean(a)).collect();
    (elems, actions)
}

/// The `smb1scan` host script: one table per scanned port (`445/tcp`) with that record's
/// verdicts, reasons, risk and remediation. A host script, not a port script, because ndiff's
/// Python 3 port crashes on any changed port script (`list > int` in `PortDiff`), and so that a
/// host that did not answer still carries its `unknown` verdict and reason.
fn write_smb1scan(x: &mut Xml, records: &[&Enriched<'_>]) -> io::Result<()> {
    let facts: Vec<(String, Facts)> = records
        .iter()
        .map(|e| (format!("{}/tcp", e.host.port), smb1scan_facts(e)))
        .collect();
    let mut output = String::new();
    for (port, (elems, actions)) in &facts {
        output.push_str(&format!("\n  {port}: "));
        for (k, v) in elems {
            output.push_str(&format!("\n    {k}: {v}"));
        }
        if !actions.is_empty() {
            output.push_str("\n    remediation: ");
            for a in actions {
                output.push_str(&format!("\n      {a}"));
            }
        }
    }
    x.start("script", &[("id", "smb1scan"), ("output", &output)])?;
    for (port, (elems, actions)) in &facts {
        x.start("table", &[("key", port)])?;
        for (k, v) in elems {
            x.text_elem("elem", &[("key", k)], v)?;
        }
        if !actions.is_empty() {
            x.start("table", &[("key", "remediation")])?;
            for a in actions {
                x.text_elem("elem", &[], a)?;
            }
            x.end("table")?;
        }
        x.end("table")?;
    }
    x.end("script")
}

// ---- scope ------------------------------------------------------------------------------------

/// The scope of the run (of each merged run) as a `prescript` holding one `smb1scan-scope`
/// script per run, in nmap's script shape: `output` lists `key: value` lines, and each
/// [`crate::scope::Scope::properties`] entry is an `elem` (repeated keys, such as `exclusion`,
/// in a `table` of that key). nmap's DTD allows nothing else to carry it.
fn write_scope(x: &mut Xml, meta: &ScanMeta) -> io::Result<()> {
    let scopes: Vec<_> = meta.scopes().collect();
    if scopes.is_empty() {
        return Ok(());
    }
    x.start("prescript", &[])?;
    for sc in scopes {
        let props: Vec<(&str, String)> = sc
            .properties()
            .into_iter()
            .map(|(k, v)| (k, clean(&v)))
            .collect();
        let output: String = props.iter().map(|(k, v)| format!("\n  {k}: {v}")).collect();
        x.start("script", &[("id", "smb1scan-scope"), ("output", &output)])?;
        let mut done: Vec<&str> = Vec::new();
        for (k, v) in &props {
            if done.contains(k) {
                continue;
            }
            let all: Vec<&String> = props
                .iter()
                .filter(|(k2, _)| k2 == k)
                .map(|p| &p.1)
                .collect();
            if matches!(*k, "target" | "exclusion" | "config_file") {
                x.start("table", &[("key", k)])?;
                for v in all {
                    x.text_elem("elem", &[], v)?;
                }
                x.end("table")?;
            } else {
                x.text_elem("elem", &[("key", k)], v)?;
            }
            done.push(k);
        }
        x.end("script")?;
    }
    x.end("prescript")
}

// ---- hosts and ports --------------------------------------------------------------------------

/// A port's `state` and `reason` for a record's status (nmap's connect-scan words).
fn port_state(s: HostStatus) -> (&'static str, &'static str) {
    match s {
        // The TCP handshake completed: the port is open whatever SMB did next.
        HostStatus::Open | HostStatus::Reset | HostStatus::Timeout | HostStatus::ProtocolError => {
            ("open", "syn-ack")
        }
        HostStatus::Closed => ("closed", "conn-refused"),
        HostStatus::Filtered => ("filtered", "no-response"),
        HostStatus::Unreachable => ("filtered", "host-unreach"),
        HostStatus::Interrupted => ("unknown", "interrupted"),
        HostStatus::Error => ("unknown", "local-error"),
        // Never scanned: the host element carries the name and address 0.0.0.0, so the target
        // stays visible to whatever imports the file.
        HostStatus::Unresolved => ("unknown", "unresolved"),
    }
}

/// The host's `status` from its records: `up` on any TCP-level answer (an accept or a refusal),
/// `down` when nothing answered, `unknown` when no probe ran to an answer.
fn host_state(records: &[&Enriched<'_>]) -> (&'static str, &'static str) {
    use HostStatus::*;
    let first = |f: fn(HostStatus) -> bool| records.iter().map(|e| e.host.status).find(|s| f(*s));
    if let Some(s) = first(|s| matches!(s, Open | Reset | Timeout | ProtocolError | Closed)) {
        return ("up", port_state(s).1);
    }
    if let Some(s) = first(|s| matches!(s, Filtered | Unreachable)) {
        return ("down", port_state(s).1);
    }
    (
        "unknown",
        first(|_| true).map_or("local-error", |s| port_state(s).1),
    )
}

fn service_name(port: u16) -> &'static str {
    if port == 139 {
        "netbios-ssn"
    } else {
        "microsoft-ds"
    }
}

fn write_port(x: &mut Xml, e: &Enriched<'_>) -> io::Result<()> {
    let h = e.host;
    let port = h.port.to_string();
    let (state, reason) = port_state(h.status);
    x.start("port", &[("protocol", "tcp"), ("portid", &port)])?;
    x.empty(
        "state",
        &[("state", state), ("reason", reason), ("reason_ttl", "0")],
    )?;
    let name = service_name(h.port);
    let mut attrs: Vec<(&str, String)> = vec![("name", name.to_string())];
    if h.status == HostStatus::Open {
        // What smb-os-discovery adds to the version detection.
        let lm = h.os.native_lanman.as_deref().map(clean);
        let os = h.os.native_os.as_deref().map(clean);
        if let Some(v) = lm.as_deref().and_then(|l| l.strip_prefix("Samba ")) {
            attrs.push(("product", "Samba smbd".to_string()));
            attrs.push(("version", v.to_string()));
        } else if let Some(os) = os.as_deref().filter(|o| o.starts_with("Windows")) {
            attrs.push(("product", format!("{} {name}", windows_version(os))));
            attrs.push(("ostype", "Windows".to_string()));
        }
        attrs.push(("method", "probed".to_string()));
        attrs.push(("conf", "10".to_string()));
    } else {
        attrs.push(("method", "table".to_string()));
        attrs.push(("conf", "3".to_string()));
    }
    let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    x.empty("service", &attrs)?;
    x.end("port")
}

/// The record whose verdicts the host scripts show: the most severe one whose port accepted the
/// connection, port 445 first among equals (the port nmap's smb library prefers).
fn decisive<'a, 'b>(records: &[&'b Enriched<'a>]) -> Option<&'b Enriched<'a>> {
    records
        .iter()
        .copied()
        .filter(|e| port_state(e.host.status).0 == "open")
        .max_by_key(|e| (e.risk, e.host.port == 445, std::cmp::Reverse(e.host.port)))
}

fn write_host(x: &mut Xml, ip: IpAddr, records: &[&Enriched<'_>]) -> io::Result<()> {
    let starts: Vec<i64> = records
        .iter()
        .filter_map(|e| epoch_ms(&e.host.scanned_at))
        .collect();
    let ends: Vec<i64> = records
        .iter()
        .filter_map(|e| {
            epoch_ms(&e.host.scanned_at).map(|s| s.saturating_add_unsigned(e.host.duration_ms))
        })
        .collect();
    let start = starts
        .iter()
        .min()
        .map(|ms| (ms.div_euclid(1000)).to_string());
    let end = ends
        .iter()
        .max()
        .map(|ms| (ms.div_euclid(1000)).to_string());
    let mut attrs = Vec::new();
    if let (Some(s), Some(e)) = (&start, &end) {
        attrs.push(("starttime", s.as_str()));
        attrs.push(("endtime", e.as_str()));
    }
    x.start("host", &attrs)?;
    let (state, reason) = host_state(records);
    x.empty(
        "status",
        &[("state", state), ("reason", reason), ("reason_ttl", "0")],
    )?;
    let ip_text = ip.to_string();
    let addrtype = if ip.is_ipv4() { "ipv4" } else { "ipv6" };
    x.empty("address", &[("addr", &ip_text), ("addrtype", addrtype)])?;
    x.start("hostnames", &[])?;
    let mut names: Vec<String> = Vec::new();
    for n in records.iter().filter_map(|e| e.host.hostname.as_deref()) {
        let n = clean(n);
        if !names.contains(&n) {
            names.push(n);
        }
    }
    for n in &names {
        x.empty("hostname", &[("name", n), ("type", "user")])?;
    }
    x.end("hostnames")?;
    x.start("ports", &[])?;
    for e in records {
        write_port(x, e)?;
    }
    x.end("ports")?;
    x.start("hostscript", &[])?;
    if let Some(d) = decisive(records) {
        write_checks(x, d.host)?;
        write_os_discovery(x, d.host)?;
    }
    write_smb1scan(x, records)?;
    x.end("hostscript")?;
    x.end("host")
}

/// Render the nmap XML document for a run: `meta` gives the command line and the start and end
/// times, `hosts` the records (several ports of one address become one `host`).
pub fn render(meta: &ScanMeta, hosts: &[Enriched<'_>]) -> Result<Vec<u8>, XmlError> {
    // Group by address, in the order addresses first appear.
    let mut order: Vec<IpAddr> = Vec::new();
    let mut groups: HashMap<IpAddr, Vec<&Enriched<'_>>> = HashMap::new();
    for e in hosts {
        groups
            .entry(e.host.ip)
            .or_insert_with(|| {
                order.push(e.host.ip);
                Vec::new()
            })
            .push(e);
    }
    let mut ports: Vec<u16> = hosts.iter().map(|e| e.host.port).collect();
    ports.sort_unstable();
    ports.dedup();
    let services = ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");

    let start_ms = epoch_ms(&meta.started_at);
    let end_ms = meta.finished_at.as_deref().and_then(epoch_ms).or(start_ms);
    let start = start_ms.map(|ms| ms.div_euclid(1000)).unwrap_or(0);
    let end = end_ms.map(|ms| ms.div_euclid(1000)).unwrap_or(start);
    let elapsed_ms = match (start_ms, end_ms) {
        (Some(s), Some(e)) => e.saturating_sub(s).max(0),
        _ => 0,
    };
    let elapsed = format!("{}.{:02}", elapsed_ms / 1000, (elapsed_ms % 1000) / 10);
    let args = clean(&meta.command_line.join(" "));

    let mut x = Xml::new();
    x.decl()?;
    x.event(Event::DocType(BytesText::new("nmaprun")))?;
    x.event(Event::PI(BytesPI::new(format!(
        "xml-stylesheet href=\"{NMAP_XSL}\" type=\"text/xsl\""
    ))))?;
    let start_s = start.to_string();
    let startstr = ctime(start);
    x.start(
        "nmaprun",
        &[
            ("scanner", "nmap"),
            ("args", &args),
            ("start", &start_s),
            ("startstr", &startstr),
            ("version", &clean(&meta.version)),
            ("xmloutputversion", XML_OUTPUT_VERSION),
        ],
    )?;
    // The ports and discovery of the runs when recorded, else those of the records.
    let mut scoped: Vec<u16> = meta.scopes().flat_map(|s| s.ports.clone()).collect();
    scoped.sort_unstable();
    scoped.dedup();
    let (ports, services) = if scoped.is_empty() {
        (ports, services)
    } else {
        let s = scoped.iter().map(u16::to_string).collect::<Vec<_>>();
        (scoped, s.join(","))
    };
    let scan_type = if meta.scopes().any(|s| s.discovery == "syn") {
        "syn"
    } else {
        "connect"
    };
    x.empty(
        "scaninfo",
        &[
            ("type", scan_type),
            ("protocol", "tcp"),
            ("numservices", &ports.len().to_string()),
            ("services", &services),
        ],
    )?;
    x.empty("verbose", &[("level", "0")])?;
    x.empty("debugging", &[("level", "0")])?;
    write_scope(&mut x, meta)?;
    let mut up = 0usize;
    let mut down = 0usize;
    for ip in &order {
        let recs = groups.get(ip).map(Vec::as_slice).unwrap_or(&[]);
        write_host(&mut x, *ip, recs)?;
        match host_state(recs).0 {
            "up" => up += 1,
            "down" => down += 1,
            _ => {}
        }
    }
    x.start("runstats", &[])?;
    let timestr = ctime(end);
    let mut summary = format!(
        "smb1scan done at {timestr}; {} IP address{} ({up} host{} up) scanned in {elapsed} seconds",
        order.len(),
        if order.len() == 1 { "" } else { "es" },
        if up == 1 { "" } else { "s" },
    );
    let excluded: Vec<String> = meta
        .scopes()
        .flat_map(|s| s.exclusions.iter().map(|e| clean(&e.text())))
        .collect();
    if meta.scopes().next().is_some() {
        summary.push_str(&match excluded.len() {
            0 => "; no exclusions".to_string(),
            n => format!("; {n} exclusions, sent no packet: {}", excluded.join("; ")),
        });
    }
    let end_s = end.to_string();
    let mut fin: Vec<(&str, &str)> = vec![
        ("time", &end_s),
        ("timestr", &timestr),
        ("summary", &summary),
        ("elapsed", &elapsed),
    ];
    if meta.interrupted {
        fin.push(("exit", "error"));
        fin.push(("errormsg", "interrupted before every target finished"));
    } else {
        fin.push(("exit", "success"));
    }
    x.empty("finished", &fin)?;
    x.empty(
        "hosts",
        &[
            ("up", &up.to_string()),
            ("down", &down.to_string()),
            ("total", &order.len().to_string()),
        ],
    )?;
    x.end("runstats")?;
    x.end("nmaprun")?;
    Ok(x.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A check added after the first three shows in the `smb1scan` script by its CSV columns;
    /// a schema-2 record (no section) adds nothing.
    #[test]
    fn later_checks_show_in_the_smb1scan_script() {
        let table = crate::report::remediation::table().expect("table");
        let mut h = HostResult::new([10, 0, 0, 1].into(), 445, None);
        let keys = |h: &HostResult| -> Vec<&'static str> {
            smb1scan_facts(&Enriched::new(table, h))
                .0
                .iter()
                .map(|(k, _)| *k)
                .collect()
        };
        assert!(!keys(&h).contains(&"signing"));
        h.smb1.security_mode = Some(0x07);
        h.smb1.enabled = Some(true);
        crate::checks::Selection::default().apply(&mut h);
        let k = keys(&h);
        assert!(
            k.contains(&"signing") && k.contains(&"signing_smb1"),
            "{k:?}"
        );
    }
}
