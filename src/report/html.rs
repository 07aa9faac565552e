//! HTML audit report: one self-contained file (inline CSS, no script, no external fetch; a
//! Content-Security-Policy forbids any), for offline reading. Sections: summary counts, the
//! per-/24 exposure picture (IPv4; a 16x16 grid per subnet, one cell per address coloured by its
//! worst risk; IPv6 hosts grouped by /64 in a table), the findings table sorted by risk with each
//! host's remediation, hosts without findings, and the scan metadata. Every string is
//! HTML-escaped with [`esc`]: hosts name themselves `<script>`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use super::remediation::Table;
use super::risk::Risk;
use super::{enum_name, Enriched, ScanMeta};
use crate::model::HostResult;

/// Escape text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;\
text-align:left;vertical-align:top;font-size:.9em}th{background:#eee}\
.cards{display:flex;flex-wrap:wrap;gap:1em}.card{border:1px solid #ccc;padding:.5em 1em;\
min-width:8em}.card b{display:block;font-size:1.6em}\
.r-critical{background:#b00020;color:#fff}.r-high{background:#e65100;color:#fff}\
.r-medium{background:#f9a825}.r-low{background:#c5e1a5}.r-none{background:#e0e0e0}\
.grid{display:grid;grid-template-columns:repeat(16,14px);gap:1px;margin:.25em 0 1em}\
.grid span{width:14px;height:14px;display:block}.grid .x{background:#fafafa;outline:1px solid #eee}\
.legend span{padding:0 .5em;margin-right:.5em}ul{margin:0;padding-left:1.2em}\
code{font-size:.9em}#findings{width:100%}#findings .k{white-space:nowrap}\
#findings .nm,#findings .rem{overflow-wrap:anywhere}#findings .nm{min-width:9em}td.rem{min-width:22em}";

fn cell(v: Option<&str>) -> String {
    esc(v.unwrap_or(""))
}

use super::view::{dp_text, os_with_version as os_text};

/// The MS17-010 text of [`super::view::ms17_text`], with the status the host answered.
fn ms17_text(h: &HostResult) -> String {
    let s = super::view::ms17_text(h);
    match &h.ms17_010.status {
        Some(st) => format!("{s} [{st}]"),
        None => s,
    }
}

/// Render the whole report.
pub fn render(meta: &ScanMeta, mut hosts: Vec<Enriched<'_>>, table: &Table) -> String {
    let c = &meta.counts;
    let mut o = String::new();
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    o.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'\">\n",
    );
    o.push_str("<meta name=\"viewport\" content=\"width=device-width\">\n");
    let _ = writeln!(
        o,
        "<title>smb1scan report {}</title>",
        esc(&meta.started_at)
    );
    let _ = writeln!(o, "<style>{CSS}</style></head><body>");
    o.push_str("<h1>SMB1 / MS17-010 / DoublePulsar audit report</h1>\n");
    let _ = writeln!(
        o,
        "<p>{} {} &middot; started {} &middot; finished {}{}</p>",
        esc(&meta.tool),
        esc(&meta.version),
        esc(&meta.started_at),
        esc(meta.finished_at.as_deref().unwrap_or("-")),
        if meta.interrupted {
            " &middot; <b>interrupted: partial results</b>"
        } else {
            ""
        }
    );

    // Summary.
    o.push_str("<h2>Summary</h2>\n<div class=\"cards\" id=\"summary\">\n");
    let risk_n = |r: Risk| c.risk.get(r.as_str()).copied().unwrap_or(0);
    for (label, key, n) in [
        ("Hosts scanned", "hosts", c.hosts),
        ("Answered", "open", c.open),
        ("SMB1 on", "smb1_on", c.smb1_on),
        ("Vulnerable (MS17-010)", "vulnerable", c.vulnerable),
        ("DoublePulsar", "doublepulsar", c.doublepulsar),
        ("Unknown", "unknown", c.unknown),
        ("Not vulnerable", "not_vulnerable", c.not_vulnerable),
    ] {
        let _ = writeln!(
            o,
            "<div class=\"card\" data-count=\"{key}\"><b>{n}</b>{label}</div>"
        );
    }
    o.push_str("</div>\n<p class=\"legend\">Risk: ");
    for r in Risk::ALL {
        let _ = write!(o, "<span class=\"r-{r}\">{r} {}</span>", risk_n(r));
    }
    o.push_str("</p>\n");

    // Per-subnet picture.
    o.push_str("<h2>Exposure by subnet</h2>\n");
    let mut v4: BTreeMap<[u8; 3], BTreeMap<u8, Risk>> = BTreeMap::new();
    let mut v6: BTreeMap<String, (u64, Risk)> = BTreeMap::new();
    for e in &hosts {
        match e.host.ip {
            IpAddr::V4(a) => {
                let [x, y, z, w] = a.octets();
                let slot = v4
                    .entry([x, y, z])
                    .or_default()
                    .entry(w)
                    .or_insert(Risk::None);
                *slot = (*slot).max(e.risk);
            }
            IpAddr::V6(a) => {
                let s = a.segments();
                let key = format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]);
                let slot = v6.entry(key).or_insert((0, Risk::None));
                slot.0 += 1;
                slot.1 = slot.1.max(e.risk);
            }
        }
    }
    if !v4.is_empty() {
        o.push_str(
            "<table><tr><th>Subnet</th><th>Hosts</th><th>Critical</th><th>High</th>\
                    <th>Medium</th><th>Map (.0 to .255, worst risk per address)</th></tr>\n",
        );
        for ([x, y, z], addrs) in &v4 {
            let n = |r: Risk| addrs.values().filter(|v| **v == r).count();
            let _ = write!(
                o,
                "<tr class=\"subnet\"><td>{x}.{y}.{z}.0/24</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td><div class=\"grid\">",
                addrs.len(),
                n(Risk::Critical),
                n(Risk::High),
                n(Risk::Medium)
            );
            for w in 0..=255u8 {
                match addrs.get(&w) {
                    Some(r) => {
                        let _ = write!(
                            o,
                            "<span class=\"r-{r}\" title=\"{x}.{y}.{z}.{w} {r}\"></span>"
                        );
                    }
                    None => o.push_str("<span class=\"x\"></span>"),
                }
            }
            o.push_str("</div></td></tr>\n");
        }
        o.push_str("</table>\n");
    }
    if !v6.is_empty() {
        o.push_str("<table><tr><th>IPv6 /64</th><th>Hosts</th><th>Worst risk</th></tr>\n");
        for (k, (n, r)) in &v6 {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{n}</td><td class=\"r-{r}\">{r}</td></tr>",
                esc(k)
            );
        }
        o.push_str("</table>\n");
    }

    // Findings.
    hosts.sort_by(|a, b| {
        b.risk
            .cmp(&a.risk)
            .then(a.host.ip.cmp(&b.host.ip))
            .then(a.host.port.cmp(&b.host.port))
    });
    let (findings, clean): (Vec<_>, Vec<_>) = hosts.iter().partition(|e| e.risk > Risk::None);
    let _ = writeln!(o, "<h2>Findings ({})</h2>", findings.len());
    if findings.is_empty() {
        o.push_str("<p>No host with SMB1 exposure or missing signing.</p>\n");
    } else {
        o.push_str(
            "<table id=\"findings\"><tr><th>Risk</th><th>Host</th><th>Name</th><th>OS</th>\
             <th>SMB1</th><th>MS17-010</th><th>DoublePulsar</th><th>Signing (SMB1/SMB2)</th>\
             <th>SMB2 dialects</th><th>Remediation</th></tr>\n",
        );
        for e in &findings {
            let h = e.host;
            let name =
                h.os.netbios_name
                    .as_deref()
                    .or(h.hostname.as_deref())
                    .or(h.os.dns_name.as_deref());
            let smb1 = match h.smb1.enabled {
                Some(true) => "on",
                Some(false) => "off",
                None => "unknown",
            };
            let sig = format!(
                "{} / {}",
                h.smb1
                    .signing
                    .map(|s| enum_name(&s))
                    .unwrap_or_else(|| "-".into()),
                h.smb2
                    .signing
                    .map(|s| enum_name(&s))
                    .unwrap_or_else(|| "-".into())
            );
            let _ = write!(
                o,
                "<tr class=\"host\" data-ip=\"{ip}\" data-port=\"{port}\" data-risk=\"{r}\">\
                 <td class=\"r-{r} k\">{r}</td><td class=\"k\">{ip}:{port}</td><td class=\"nm\">{name}</td>\
                 <td class=\"nm\">{os}</td>\
                 <td>{smb1} ({ev})</td><td>{ms}</td><td>{dp}</td><td>{sig}</td><td>{dia}</td><td class=\"rem\"><ul>",
                ip = esc(&h.ip.to_string()),
                port = h.port,
                r = e.risk,
                name = cell(name),
                os = esc(&os_text(h)),
                ev = esc(&enum_name(&h.smb1.evidence)),
                ms = esc(&ms17_text(h)),
                dp = esc(&dp_text(h)),
                sig = esc(&sig),
                dia = esc(&h.smb2.dialects.join(", ")),
            );
            for a in &e.remediation.actions {
                let _ = write!(o, "<li>{}</li>", esc(a));
            }
            o.push_str("</ul></td></tr>\n");
        }
        o.push_str("</table>\n");
    }
    let _ = writeln!(o, "<h2>Hosts without findings ({})</h2>", clean.len());
    if !clean.is_empty() {
        o.push_str(
            "<details><summary>Show</summary><table id=\"clean\"><tr><th>Host</th>\
                    <th>Status</th><th>Name</th><th>OS</th><th>MS17-010</th></tr>\n",
        );
        for e in &clean {
            let h = e.host;
            let _ = writeln!(
                o,
                "<tr class=\"host\" data-ip=\"{ip}\" data-port=\"{port}\" data-risk=\"none\"><td>{ip}:{port}</td>\
                 <td>{st}</td><td>{name}</td><td>{os}</td><td>{ms}</td></tr>",
                ip = esc(&h.ip.to_string()),
                port = h.port,
                st = esc(&enum_name(&h.status)),
                name = cell(h.os.netbios_name.as_deref().or(h.hostname.as_deref())),
                os = esc(&os_text(h)),
                ms = esc(&ms17_text(h)),
            );
        }
        o.push_str("</table></details>\n");
    }

    // Metadata.
    o.push_str("<h2>Scan metadata</h2>\n<table id=\"meta\">\n");
    let opts = serde_json::to_string(&meta.options).unwrap_or_default();
    for (k, v) in [
        ("Tool", format!("{} {}", meta.tool, meta.version)),
        ("Schema", meta.schema.to_string()),
        ("Started", meta.started_at.clone()),
        ("Finished", meta.finished_at.clone().unwrap_or_default()),
        ("Interrupted", meta.interrupted.to_string()),
        ("Command line", meta.command_line.join(" ")),
        ("Targets", meta.targets.join(", ")),
        ("Options", opts),
        (
            "Remediation sources",
            format!(
                "{} ({}), {}, {}",
                table.source.bulletin,
                table.source.bulletin_url,
                table.source.guidance,
                table.source.smb1_howto
            ),
        ),
    ] {
        let _ = writeln!(o, "<tr><th>{k}</th><td><code>{}</code></td></tr>", esc(&v));
    }
    o.push_str(
        "</table>\n<p>Risk: critical = DoublePulsar present or MS17-010 vulnerable; high = SMB1 \
                on and MS17-010 unknown; medium = SMB1 on, patched; low = SMB1 off, signing not \
                required; none = nothing to do.</p>\n</body></html>\n",
    );
    o
}
