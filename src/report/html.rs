//! HTML audit report: one self-contained file (inline CSS, no script, no external fetch; a
//! Content-Security-Policy forbids any), for offline reading. Sections: summary counts, the
//! remediation plan (hosts grouped by action, so a change window can be planned from it), the
//! per-/24 exposure picture (IPv4; a 16x16 grid per subnet, one cell per address coloured by its
//! worst risk; IPv6 hosts grouped by /64 in a table), the findings table (each host's
//! remediation folded in a `<details>`), hosts without findings, and the scan metadata.
//!
//! Hosts are listed in the terminal summary's order ([`summary::order_key`]: DoublePulsar first,
//! then risk, then host text). The page fits a 1280 px window: the wide tables have a fixed
//! layout and every cell breaks long words (tests/report_html_chromium.rs measures it).
//!
//! Every string is HTML-escaped with [`esc`]: hosts name themselves `<script>`. The `format!` +
//! escaper is kept rather than `maud`: maud (0.26, 0.27) declares no `rust-version` and is built
//! upstream on nightly only, so nothing shows it builds with this crate's rust-version 1.80.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use super::remediation::Table;
use super::risk::{smb1_on_or_unknown, Risk};
use super::summary::{self, display_label};
use super::view::{dp_text, os_with_version as os_text};
use super::{enum_name, Enriched, ScanMeta};
use crate::model::{DpVerdict, HostResult, HostStatus, Ms17Verdict};

pub use super::view::esc;

// Widths: the findings and metadata tables use `table-layout:fixed` with column widths in
// percent, so their width is the page's whatever the cell text; `overflow-wrap:anywhere` breaks
// registry paths and hostile 300-character names inside their cell.
const CSS: &str = "*{box-sizing:border-box}\
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}h3{font-size:1em;margin:1.2em 0 .3em}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .4em;\
text-align:left;vertical-align:top;font-size:.9em;overflow-wrap:anywhere}th{background:#eee}\
.cards{display:flex;flex-wrap:wrap;gap:1em}.card{border:1px solid #ccc;padding:.5em 1em;\
min-width:8em}.card b{display:block;font-size:1.6em}\
.r-critical{background:#b00020;color:#fff}.r-high{background:#e65100;color:#fff}\
.r-medium{background:#f9a825}.r-low{background:#c5e1a5}.r-none{background:#e0e0e0}\
.grid{display:grid;grid-template-columns:repeat(16,10px);gap:1px;margin:.25em 0}\
.grid span{width:10px;height:10px;display:block}.grid .x{background:#fafafa;outline:1px solid #eee}\
.legend span{padding:0 .5em;margin-right:.5em}ul,ol{margin:0;padding-left:1.2em}\
code{font-size:.9em}.st,.err{font-size:.85em;color:#555}.err{color:#8a1c1c}\
#findings,#clean,#meta,.scope{width:100%;table-layout:fixed}#meta th,.scope th{width:11em}\
details summary{cursor:pointer}td details ol{margin-top:.3em}\
.plan{border-left:4px solid #ccc;padding:.1em 0 .4em .8em;margin:.8em 0}\
.plan.a-isolate{border-color:#b00020}.plan.a-patch{border-color:#e65100}\
.plan.a-investigate{border-color:#6a1b9a}.plan.a-smb1-off{border-color:#f9a825}\
.plan.a-signing{border-color:#7cb342}.plan p{margin:.2em 0;overflow-wrap:anywhere}\
.plan ul.hosts{display:grid;grid-template-columns:repeat(auto-fill,minmax(22em,1fr));\
gap:.2em 2em;list-style:none;padding:0;margin-top:.4em}.plan li{overflow-wrap:anywhere;min-width:0}\
.check li,#action-list li,.check p{overflow-wrap:anywhere}.check table.counts td{min-width:6em}";

/// One action of the remediation plan: a piece of work a change window schedules for a set of
/// hosts. Ordered most urgent first (the order of the plan's groups).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlanAction {
    /// DoublePulsar answered: isolate the host, incident response, rebuild.
    Isolate,
    /// MS17-010 `vulnerable`: install these updates (the OS row's `remediation.updates`; empty
    /// when the OS was not identified).
    Patch {
        /// The updates, as `data/checks/ms17_010.toml` lists them for the OS.
        updates: Vec<String>,
    },
    /// A verdict is `unknown` (or the name did not resolve): nothing says the host is safe.
    Investigate,
    /// SMB1 on (or undetermined on a host that answered): find its clients, then turn it off.
    Smb1Off {
        /// The OS family label (`remediation.family`), whose procedure applies.
        family: String,
    },
    /// SMB1 off but signing not required: require signing.
    Signing {
        /// The OS family label (`remediation.family`).
        family: String,
    },
}

impl PlanAction {
    /// Short name, for the findings table and the `data-action` attribute.
    pub fn short(&self) -> &'static str {
        match self {
            PlanAction::Isolate => "isolate",
            PlanAction::Patch { .. } => "patch",
            PlanAction::Investigate => "investigate",
            PlanAction::Smb1Off { .. } => "smb1-off",
            PlanAction::Signing { .. } => "signing",
        }
    }

    /// A few words, for the folded remediation of a findings row.
    pub fn label(&self) -> &'static str {
        match self {
            PlanAction::Isolate => "Isolate",
            PlanAction::Patch { .. } => "Install update",
            PlanAction::Investigate => "Investigate",
            PlanAction::Smb1Off { .. } => "Turn SMB1 off",
            PlanAction::Signing { .. } => "Require signing",
        }
    }

    /// The group's heading (without the host count).
    pub fn title(&self) -> String {
        match self {
            PlanAction::Isolate => {
                "Isolate and treat as compromised: DoublePulsar implant answered".to_string()
            }
            PlanAction::Patch { updates } if updates.is_empty() => {
                "Install the MS17-010 update for the host's OS (OS not identified)".to_string()
            }
            PlanAction::Patch { updates } => format!("Install {}", updates.join(" or ")),
            PlanAction::Investigate => "Investigate: could not be tested".to_string(),
            PlanAction::Smb1Off { family } => format!("Turn SMB1 off ({family})"),
            PlanAction::Signing { family } => format!("Require SMB signing ({family})"),
        }
    }
}

/// Whether a host's connection failed or its verdicts stayed `unknown` although something
/// answered (or the name never resolved). A port that never answered (closed, filtered,
/// unreachable) is not in this group: nothing is known to be there.
fn needs_investigation(h: &HostResult) -> bool {
    let reached = !matches!(
        h.status,
        HostStatus::Closed | HostStatus::Filtered | HostStatus::Unreachable
    );
    reached
        && (h.status != HostStatus::Open
            || h.ms17_010.verdict == Ms17Verdict::Unknown
            || h.doublepulsar.verdict == DpVerdict::Unknown)
}

/// The plan actions for one host, most urgent first (empty for a host with nothing to do).
pub fn plan_actions(e: &Enriched<'_>) -> Vec<PlanAction> {
    let h = e.host;
    let mut out = Vec::new();
    if h.doublepulsar.verdict == DpVerdict::Present {
        out.push(PlanAction::Isolate);
    }
    if h.ms17_010.verdict == Ms17Verdict::Vulnerable {
        out.push(PlanAction::Patch {
            updates: e.remediation.updates.clone(),
        });
    }
    if needs_investigation(h) {
        out.push(PlanAction::Investigate);
    }
    // The same rule as remediation.rs's "turn SMB1 off" action.
    if e.risk >= Risk::Medium && smb1_on_or_unknown(h) {
        out.push(PlanAction::Smb1Off {
            family: e.remediation.family.clone(),
        });
    }
    if e.risk == Risk::Low {
        out.push(PlanAction::Signing {
            family: e.remediation.family.clone(),
        });
    }
    out
}

/// One group of the remediation plan: an action and the hosts it applies to, in report order.
#[derive(Debug, Clone)]
pub struct PlanGroup<'r, 'h> {
    /// What to do.
    pub action: PlanAction,
    /// The hosts, in [`summary::order_key`] order.
    pub hosts: Vec<&'r Enriched<'h>>,
}

/// Sort records into the terminal summary's order ([`summary::order_key`]): DoublePulsar first,
/// then risk (critical to none), then host text.
pub fn sort_hosts(hosts: &mut [Enriched<'_>]) {
    hosts.sort_by_cached_key(|e| {
        let (dp, risk, label) = summary::order_key(e.host);
        (Reverse(dp), Reverse(risk), label)
    });
}

/// The remediation plan: one group per distinct [`PlanAction`], most urgent first; each host
/// appears in every group whose action applies to it. `hosts` should already be sorted
/// ([`sort_hosts`]); each group keeps that order.
pub fn remediation_plan<'r, 'h>(hosts: &'r [Enriched<'h>]) -> Vec<PlanGroup<'r, 'h>> {
    let mut groups: BTreeMap<PlanAction, Vec<&'r Enriched<'h>>> = BTreeMap::new();
    for e in hosts {
        for a in plan_actions(e) {
            groups.entry(a).or_default().push(e);
        }
    }
    groups
        .into_iter()
        .map(|(action, hosts)| PlanGroup { action, hosts })
        .collect()
}

/// The MS17-010 text of [`super::view::ms17_text`], with the status the host answered.
fn ms17_text(h: &HostResult) -> String {
    let s = super::view::ms17_text(h);
    match &h.ms17_010.status {
        Some(st) => format!("{s} [{st}]"),
        None => s,
    }
}

/// Why a host is in the "Investigate" group: its status when the connection failed, the
/// unknown verdicts with their reasons, and the error text.
fn investigate_text(h: &HostResult) -> String {
    let mut parts = Vec::new();
    if h.status != HostStatus::Open {
        parts.push(format!("status {}", enum_name(&h.status)));
    }
    if matches!(
        h.ms17_010.verdict,
        Ms17Verdict::Unknown | Ms17Verdict::NotTested
    ) {
        parts.push(format!("MS17-010 {}", ms17_text(h)));
    }
    if h.doublepulsar.verdict == DpVerdict::Unknown {
        let why = h
            .doublepulsar
            .reason
            .map(|r| format!(": {}", enum_name(&r)))
            .unwrap_or_default();
        parts.push(format!("DoublePulsar unknown{why}"));
    }
    if let Some(err) = &h.error {
        parts.push(err.clone());
    }
    parts.join("; ")
}

/// The steps under a group's heading.
fn plan_how(action: &PlanAction, hosts: &[&Enriched<'_>], table: &Table) -> Vec<String> {
    let first = hosts.first().map(|e| &e.remediation);
    match action {
        PlanAction::Isolate => vec![
            "Disconnect the host from the network now; the implant is in kernel memory and \
             answers anyone who pings it."
                .to_string(),
            "Incident response: the host is compromised. Rebuild it from clean media, then \
             install the MS17-010 update before reconnecting it (patching alone does not remove \
             the implant)."
                .to_string(),
        ],
        PlanAction::Patch { updates } => {
            let mut rows: Vec<&str> = hosts
                .iter()
                .map(|e| e.remediation.os_row.as_str())
                .collect();
            rows.sort_unstable();
            rows.dedup();
            let what = if updates.is_empty() {
                format!(
                    "Identify the OS, then install its update from {} ({}) or any monthly \
                     rollup since March 2017.",
                    table.source.bulletin, table.source.guidance
                )
            } else {
                format!(
                    "{} lists these updates for {}; any monthly rollup since March 2017 also \
                     contains the fix.",
                    table.source.bulletin,
                    rows.join(", ")
                )
            };
            vec![what, format!("Source: {}", table.source.bulletin_url)]
        }
        PlanAction::Investigate => vec![
            "The MS17-010 or DoublePulsar verdict of these hosts is unknown: nothing here says \
             they are safe. Fix what stopped the test (per host below: a refused anonymous logon \
             needs a rescan with --user; timeouts and resets a rescan with longer timeouts or \
             from nearer; an unresolved name its DNS entry), then scan them again."
                .to_string(),
        ],
        PlanAction::Smb1Off { .. } => match first {
            Some(r) => vec![
                format!("First find who still uses SMB1: {}", r.audit),
                format!("Then turn it off: {}", r.smb1_off),
            ],
            None => Vec::new(),
        },
        // The signing check's action for these hosts (one per OS family in the group).
        PlanAction::Signing { .. } => {
            let mut v: Vec<String> = hosts
                .iter()
                .filter_map(|e| crate::checks::by_name("signing")?.remediation(e.host))
                .collect();
            v.sort();
            v.dedup();
            v
        }
    }
}

/// The host line of a plan group: `10.20.3.5 (NAME) · Windows 7 SP1 (6.1.7601) · critical`,
/// with the reason for the Investigate group.
fn plan_host_line(action: &PlanAction, e: &Enriched<'_>) -> String {
    let h = e.host;
    let mut s = esc(&display_label(h));
    let os = os_text(h);
    if !os.is_empty() {
        let _ = write!(s, " &middot; {}", esc(&os));
    }
    let _ = write!(s, " &middot; <span class=\"r-{r}\">{r}</span>", r = e.risk);
    if *action == PlanAction::Investigate {
        let _ = write!(s, " &middot; {}", esc(&investigate_text(h)));
    }
    s
}

/// Per server address, the clients that break when SMB1 is turned off (`smb1scan clients`).
pub type BreakingClients = std::collections::HashMap<String, Vec<crate::clients::ClientRecord>>;

/// "Turning SMB1 off on SERVER breaks these N clients: ..." for each host of an SMB1-off group
/// that has any, from `smb1scan clients` (`--clients FILE`).
fn breaking_lines(hosts: &[&Enriched<'_>], clients: &BreakingClients) -> Vec<String> {
    let mut v = Vec::new();
    for e in hosts {
        let Some(list) = clients.get(&e.host.ip.to_string()) else {
            continue;
        };
        let names: Vec<String> = list
            .iter()
            .map(|r| {
                let mut about: Vec<&str> = Vec::new();
                if let Some(n) = crate::clients::client_name(r) {
                    about.push(n);
                }
                if let Some(os) = r.client_native_os.as_deref() {
                    about.push(os);
                }
                if about.is_empty() {
                    r.client.clone()
                } else {
                    format!("{} ({})", r.client, about.join(", "))
                }
            })
            .collect();
        v.push(format!(
            "Turning SMB1 off on {} breaks these {} client{} (they offered only SMB1; smb1scan clients): {}",
            e.host.ip,
            list.len(),
            if list.len() == 1 { "" } else { "s" },
            names.join("; ")
        ));
    }
    v
}

fn write_plan(o: &mut String, hosts: &[Enriched<'_>], table: &Table, clients: &BreakingClients) {
    let plan = remediation_plan(hosts);
    o.push_str("<h2 id=\"plan\">Remediation plan</h2>\n");
    if plan.is_empty() {
        o.push_str("<p>Nothing to do on the hosts that answered.</p>\n");
    } else {
        o.push_str(
            "<p>One group per action, most urgent first; a host is listed under every action \
             that applies to it.</p>\n",
        );
    }
    for g in &plan {
        let n = g.hosts.len();
        let _ = writeln!(
            o,
            "<section class=\"plan a-{a}\" data-action=\"{a}\" data-hosts=\"{n}\">\
             <h3>{title}: {n} host{s}</h3>",
            a = g.action.short(),
            title = esc(&g.action.title()),
            s = if n == 1 { "" } else { "s" },
        );
        let mut how = plan_how(&g.action, &g.hosts, table);
        if matches!(g.action, PlanAction::Smb1Off { .. }) {
            // Before the command that turns SMB1 off: who stops working when it runs.
            let at = how.len().saturating_sub(1);
            for (k, line) in breaking_lines(&g.hosts, clients).into_iter().enumerate() {
                how.insert(at + k, line);
            }
        }
        for p in how {
            let class = if p.starts_with("Turning SMB1 off on ") {
                " class=\"breaks\""
            } else {
                ""
            };
            let _ = writeln!(o, "<p{class}>{}</p>", esc(&p));
        }
        o.push_str("<ul class=\"hosts\">");
        for e in &g.hosts {
            let _ = write!(
                o,
                "<li class=\"plan-host\">{}</li>",
                plan_host_line(&g.action, e)
            );
        }
        o.push_str("</ul></section>\n");
    }
    let silent = hosts
        .iter()
        .filter(|e| {
            matches!(
                e.host.status,
                HostStatus::Closed | HostStatus::Filtered | HostStatus::Unreachable
            )
        })
        .count();
    if silent > 0 {
        let _ = writeln!(
            o,
            "<p id=\"silent\">{silent} target{s} did not answer on {their} port (closed, \
             filtered or unreachable): nothing was tested there. They are listed under \
             \"Hosts without findings, and targets that did not answer\".</p>",
            s = if silent == 1 { "" } else { "s" },
            their = if silent == 1 { "its" } else { "their" },
        );
    }
}

fn write_subnets(o: &mut String, hosts: &[Enriched<'_>]) {
    o.push_str("<h2>Exposure by subnet</h2>\n");
    let mut v4: BTreeMap<[u8; 3], BTreeMap<u8, Risk>> = BTreeMap::new();
    let mut v6: BTreeMap<String, (u64, Risk)> = BTreeMap::new();
    // An unresolved name has the placeholder address 0.0.0.0: it belongs to no subnet.
    for e in hosts
        .iter()
        .filter(|e| e.host.status != HostStatus::Unresolved)
    {
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
            "<table id=\"subnets\"><tr><th>Subnet</th><th>Hosts</th><th>Critical</th><th>High</th>\
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
}

/// The Host cell: address and port (or the unresolved name), the host's name, and the status
/// and error when the connection did not simply work.
fn host_cell(h: &HostResult) -> String {
    let mut s = match h.status {
        HostStatus::Unresolved => format!(
            "<b>{}</b>:{}",
            esc(h.hostname.as_deref().unwrap_or("")),
            h.port
        ),
        _ => format!("<b>{}</b>:{}", esc(&h.ip.to_string()), h.port),
    };
    let name =
        h.os.netbios_name
            .as_deref()
            .or(h.hostname.as_deref())
            .or(h.os.dns_name.as_deref());
    if let (Some(n), false) = (name, h.status == HostStatus::Unresolved) {
        let _ = write!(s, "<br>{}", esc(n));
    }
    if h.status != HostStatus::Open {
        let _ = write!(
            s,
            "<div class=\"st\">status: {}</div>",
            esc(&enum_name(&h.status))
        );
    }
    if let Some(err) = &h.error {
        let _ = write!(s, "<div class=\"err\">{}</div>", esc(err));
    }
    s
}

fn write_findings(o: &mut String, findings: &[&Enriched<'_>]) {
    let _ = writeln!(o, "<h2>Findings ({})</h2>", findings.len());
    if findings.is_empty() {
        o.push_str("<p>No host with SMB1 exposure or missing signing.</p>\n");
        return;
    }
    o.push_str(
        "<table id=\"findings\"><colgroup><col style=\"width:6%\"><col style=\"width:14%\">\
         <col style=\"width:13%\"><col style=\"width:9%\"><col style=\"width:13%\">\
         <col style=\"width:10%\"><col style=\"width:13%\"><col style=\"width:22%\"></colgroup>\n\
         <tr><th>Risk</th><th>Host</th><th>OS</th><th>SMB1</th><th>MS17-010</th>\
         <th>DoublePulsar</th><th>Signing SMB1 / SMB2; SMB2 dialects</th>\
         <th>Remediation (open for the steps)</th></tr>\n",
    );
    for e in findings {
        let h = e.host;
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
        let dialects = if h.smb2.dialects.is_empty() {
            String::new()
        } else {
            format!("<br>{}", esc(&h.smb2.dialects.join(", ")))
        };
        let groups: Vec<&str> = plan_actions(e).iter().map(PlanAction::label).collect();
        let _ = write!(
            o,
            "<tr class=\"host\" data-ip=\"{ip}\" data-port=\"{port}\" data-risk=\"{r}\">\
             <td class=\"r-{r}\">{r}</td><td>{host}</td><td>{os}</td>\
             <td>{smb1} ({ev})</td><td>{ms}</td><td>{dp}</td><td>{sig}{dialects}</td>\
             <td class=\"rem\"><details><summary>{groups}</summary><ol>",
            // Empty for a target without an address (a name that did not resolve).
            ip = esc(&h.address().map(|a| a.to_string()).unwrap_or_default()),
            port = h.port,
            r = e.risk,
            host = host_cell(h),
            os = esc(&os_text(h)),
            ev = esc(&enum_name(&h.smb1.evidence)),
            ms = esc(&ms17_text(h)),
            dp = esc(&dp_text(h)),
            sig = esc(&sig),
            groups = esc(&groups.join(" · ")),
        );
        for a in &e.remediation.actions {
            let _ = write!(o, "<li>{}</li>", esc(a));
        }
        o.push_str("</ol></details></td></tr>\n");
    }
    o.push_str("</table>\n");
}

fn write_clean(o: &mut String, clean: &[&Enriched<'_>]) {
    // Silent targets sit here too: the heading must not read as "all of these are clean".
    let _ = writeln!(
        o,
        "<h2>Hosts without findings, and targets that did not answer ({})</h2>",
        clean.len()
    );
    if clean.is_empty() {
        return;
    }
    o.push_str(
        "<details><summary>Show</summary><table id=\"clean\"><tr><th>Host</th>\
         <th>Status</th><th>Name</th><th>OS</th><th>MS17-010</th><th>Error</th></tr>\n",
    );
    for e in clean {
        let h = e.host;
        let _ = writeln!(
            o,
            "<tr class=\"host\" data-ip=\"{ip}\" data-port=\"{port}\" data-risk=\"none\"><td>{ip}:{port}</td>\
             <td>{st}</td><td>{name}</td><td>{os}</td><td>{ms}</td><td>{err}</td></tr>",
            ip = esc(&h.address().map(|a| a.to_string()).unwrap_or_default()),
            port = h.port,
            st = esc(&enum_name(&h.status)),
            name = esc(
                h.os.netbios_name
                    .as_deref()
                    .or(h.hostname.as_deref())
                    .unwrap_or("")
            ),
            os = esc(&os_text(h)),
            ms = esc(&ms17_text(h)),
            err = esc(h.error.as_deref().unwrap_or("")),
        );
    }
    o.push_str("</table></details>\n");
}

/// The scope of the run (of each merged run, for `smb1scan report`), at the head of the page:
/// one `table class="scope"` per run, one row per [`crate::scope::Scope::properties`] key
/// (`data-key` names it), each value in a `code` element.
fn write_scope(o: &mut String, meta: &ScanMeta) {
    o.push_str("<section id=\"scope\"><h2>Scope</h2>\n");
    let scopes: Vec<_> = meta.scopes().collect();
    if scopes.is_empty() {
        o.push_str(
            "<p>Not recorded: the results were written before smb1scan recorded the scope.</p>\n",
        );
    }
    for (i, sc) in scopes.iter().enumerate() {
        if scopes.len() > 1 || !meta.merged.is_empty() {
            let _ = writeln!(o, "<h3>Run {} of {}</h3>", i + 1, scopes.len());
        }
        let _ = writeln!(o, "<table class=\"scope\" data-run=\"{}\">", i + 1);
        // One row per key; a repeated key (targets, exclusions) lists its values in its cell.
        let props = sc.properties();
        let mut keys: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
        keys.dedup();
        for k in keys {
            let values: Vec<String> = props
                .iter()
                .filter(|(k2, _)| *k2 == k)
                .map(|(_, v)| format!("<code>{}</code>", esc(v)))
                .collect();
            let _ = writeln!(
                o,
                "<tr data-key=\"{k}\"><th>{}</th><td>{}</td></tr>",
                k.replace('_', " "),
                values.join("<br>")
            );
        }
        o.push_str("</table>\n");
    }
    o.push_str("</section>\n");
}

fn write_meta(o: &mut String, meta: &ScanMeta, table: &Table) {
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
         on and MS17-010 unknown, or a name that did not resolve; medium = SMB1 on, patched; \
         low = SMB1 off, signing not required; none = nothing to do.</p>\n",
    );
}

/// Render the whole report.
pub fn render(meta: &ScanMeta, hosts: Vec<Enriched<'_>>, table: &Table) -> String {
    render_with_clients(meta, hosts, table, &BreakingClients::new())
}

/// [`render`], the plan naming per SMB1 server the clients that break (`--clients FILE`).
pub fn render_with_clients(
    meta: &ScanMeta,
    mut hosts: Vec<Enriched<'_>>,
    table: &Table,
    clients: &BreakingClients,
) -> String {
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

    write_scope(&mut o, meta);

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
        ("Unresolved names", "unresolved", c.unresolved),
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

    sort_hosts(&mut hosts);
    super::html_checks::write_actions(&mut o, &hosts);
    write_plan(&mut o, &hosts, table, clients);
    write_subnets(&mut o, &hosts);
    let (findings, clean): (Vec<_>, Vec<_>) = hosts.iter().partition(|e| e.risk > Risk::None);
    write_findings(&mut o, &findings);
    super::html_checks::write_checks(&mut o, &hosts);
    write_clean(&mut o, &clean);
    write_meta(&mut o, meta, table);
    o.push_str("</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Reason, Smb1Evidence};
    use crate::report::remediation;

    fn table() -> &'static Table {
        remediation::table().expect("compiled-in table")
    }

    /// A host that answered, SMB1 on, with the given OS and MS17-010 verdict.
    fn host(ip: &str, product: &str, build: u32, ms: Ms17Verdict) -> HostResult {
        let mut h = HostResult::new(ip.parse().expect("ip"), 445, None);
        h.smb1.enabled = Some(true);
        h.smb1.evidence = Smb1Evidence::DialectSelected;
        h.os.product = Some(product.to_string());
        h.os.build = Some(build);
        h.ms17_010.verdict = ms;
        h.doublepulsar.verdict = DpVerdict::Absent;
        h
    }

    /// A clinic: four unpatched Windows 7, two unpatched XP (one implanted), one unpatched
    /// 2012 R2, a patched Windows 10 with SMB1 on, a 2012 R2 that refused the anonymous logon,
    /// a name that did not resolve, a filtered address and a Windows 10 with SMB1 off and
    /// signing not required.
    fn clinic() -> Vec<HostResult> {
        let mut v = Vec::new();
        for ip in ["10.0.1.10", "10.0.1.11", "10.0.1.9", "10.0.2.7"] {
            v.push(host(ip, "Windows 7 SP1", 7601, Ms17Verdict::Vulnerable));
        }
        v.push(host(
            "10.0.3.1",
            "Windows XP",
            2600,
            Ms17Verdict::Vulnerable,
        ));
        let mut dp = host("10.0.9.200", "Windows XP", 2600, Ms17Verdict::Vulnerable);
        dp.doublepulsar.verdict = DpVerdict::Present;
        dp.doublepulsar.arch = Some("x86".into());
        v.push(dp);
        v.push(host(
            "10.0.3.2",
            "Windows Server 2012 R2",
            9600,
            Ms17Verdict::Vulnerable,
        ));
        v.push(host(
            "10.0.4.1",
            "Windows 10 22H2",
            19045,
            Ms17Verdict::NotVulnerable,
        ));
        let mut refused = host(
            "10.0.4.2",
            "Windows Server 2012 R2",
            9600,
            Ms17Verdict::Unknown,
        );
        refused.ms17_010.reason = Some(Reason::SessionSetupRefused);
        refused.doublepulsar.verdict = DpVerdict::NotTested;
        v.push(refused);
        v.push(HostResult::unresolved(
            "<script>alert(1)</script>.example",
            445,
            "no such host",
        ));
        let mut filtered = HostResult::new("10.0.5.5".parse().expect("ip"), 445, None);
        filtered.status = HostStatus::Filtered;
        filtered.ms17_010.reason = Some(Reason::ConnectTimeout);
        v.push(filtered);
        let mut off = host(
            "10.0.4.3",
            "Windows 10 22H2",
            19045,
            Ms17Verdict::NotExposed,
        );
        off.smb1.enabled = Some(false);
        off.smb1.evidence = Smb1Evidence::ResetAfterNegotiate;
        off.smb2.signing = Some(crate::model::Signing::Enabled);
        v.push(off);
        v
    }

    fn enriched(hosts: &[HostResult]) -> Vec<Enriched<'_>> {
        let mut e: Vec<Enriched<'_>> = hosts.iter().map(|h| Enriched::new(table(), h)).collect();
        sort_hosts(&mut e);
        e
    }

    fn labels(g: &PlanGroup<'_, '_>) -> Vec<String> {
        g.hosts
            .iter()
            .map(|e| summary::host_label(e.host))
            .collect()
    }

    #[test]
    fn plan_groups_hosts_by_action_with_counts() {
        let hosts = clinic();
        let e = enriched(&hosts);
        let plan = remediation_plan(&e);
        let actions: Vec<&PlanAction> = plan.iter().map(|g| &g.action).collect();
        let win7 = PlanAction::Patch {
            updates: vec![
                "KB4012212 (security-only)".into(),
                "KB4012215 (monthly rollup)".into(),
            ],
        };
        let xp = PlanAction::Patch {
            updates: vec![
                "KB4012598 (May 2017 emergency update for out-of-support systems)".into(),
            ],
        };
        let r2 = PlanAction::Patch {
            updates: vec![
                "KB4012213 (security-only)".into(),
                "KB4012216 (monthly rollup)".into(),
            ],
        };
        let group = |a: &PlanAction| {
            plan.iter()
                .find(|g| &g.action == a)
                .unwrap_or_else(|| panic!("no group {a:?} in {actions:?}"))
        };
        assert_eq!(plan[0].action, PlanAction::Isolate, "most urgent first");
        assert_eq!(labels(&plan[0]), ["10.0.9.200"]);
        // Four Windows 7 in one group, in order_key order (host text).
        assert_eq!(
            labels(group(&win7)),
            ["10.0.1.10", "10.0.1.11", "10.0.1.9", "10.0.2.7"]
        );
        assert_eq!(labels(group(&xp)), ["10.0.9.200", "10.0.3.1"], "DP first");
        assert_eq!(labels(group(&r2)), ["10.0.3.2"]);
        let fam = |f: &str| PlanAction::Smb1Off { family: f.into() };
        // SMB1 off per family: the Windows 7 family, XP, and 2012 R2 x2 + patched Windows 10.
        assert_eq!(
            group(&fam("Windows Vista / 7 / Server 2008 / 2008 R2"))
                .hosts
                .len(),
            4
        );
        assert_eq!(
            group(&fam("Windows XP / Server 2003 (out of support, SMB1 only)"))
                .hosts
                .len(),
            2
        );
        assert_eq!(
            labels(group(&fam("Windows 8 / Server 2012 and later"))),
            ["10.0.3.2", "10.0.4.2", "10.0.4.1"]
        );
        assert_eq!(
            labels(group(&PlanAction::Signing {
                family: "Windows 8 / Server 2012 and later".into()
            })),
            ["10.0.4.3"]
        );
        // Every group's count in the page is its host list's length.
        let page = render(
            &ScanMeta::new(vec![], serde_json::Value::Null),
            e.clone(),
            table(),
        );
        for g in &plan {
            let title = format!("{}: {} host", esc(&g.action.title()), g.hosts.len());
            assert!(page.contains(&title), "missing {title:?}");
        }
        assert!(page
            .contains("Install KB4012212 (security-only) or KB4012215 (monthly rollup): 4 hosts"));
        assert_eq!(page.matches("class=\"plan a-").count(), plan.len());
    }

    #[test]
    fn unknown_and_unresolved_hosts_form_their_own_group() {
        let hosts = clinic();
        let e = enriched(&hosts);
        let plan = remediation_plan(&e);
        let inv: Vec<_> = plan
            .iter()
            .filter(|g| g.action == PlanAction::Investigate)
            .collect();
        assert_eq!(inv.len(), 1);
        let names: Vec<String> = inv[0].hosts.iter().map(|e| display_label(e.host)).collect();
        // Both high; then by host text (the unresolved name has no address, its text is the
        // name).
        assert_eq!(
            names,
            ["10.0.4.2", "<script>alert(1)</script>.example (unresolved)"]
        );
        // The filtered address is in no group, but it is counted under the plan.
        assert!(plan.iter().all(|g| g
            .hosts
            .iter()
            .all(|e| e.host.status != HostStatus::Filtered)));
        let page = render(
            &ScanMeta::new(vec![], serde_json::Value::Null),
            e.clone(),
            table(),
        );
        assert!(page.contains("Investigate: could not be tested: 2 hosts"));
        assert!(page.contains("MS17-010 unknown: session-setup-refused"));
        assert!(page.contains(
            "cannot resolve `&lt;script&gt;alert(1)&lt;/script&gt;.example`: no such host"
        ));
        assert!(page.contains("<p id=\"silent\">1 target did not answer"));
        // The unresolved name is no subnet.
        assert!(!page.contains("0.0.0.0/24"));
    }

    #[test]
    fn unresolved_host_is_a_high_finding_with_its_error() {
        let hosts = vec![HostResult::unresolved("ward-7-pc", 445, "NXDOMAIN")];
        let page = render(
            &ScanMeta::new(vec![], serde_json::Value::Null),
            enriched(&hosts),
            table(),
        );
        let findings = page
            .split("id=\"findings\"")
            .nth(1)
            .expect("findings table");
        let row = findings
            .split("<tr class=\"host\"")
            .nth(1)
            .expect("a row for the unresolved name");
        assert!(row.contains("data-risk=\"high\""), "{row}");
        assert!(row.contains("<b>ward-7-pc</b>:445"), "{row}");
        assert!(row.contains("status: unresolved"), "{row}");
        assert!(
            row.contains("cannot resolve `ward-7-pc`: NXDOMAIN"),
            "{row}"
        );
    }

    #[test]
    fn host_order_is_order_key() {
        let hosts = clinic();
        let e = enriched(&hosts);
        let want: Vec<String> = {
            let mut v: Vec<&HostResult> = hosts.iter().collect();
            v.sort_by(|a, b| {
                let (ad, ar, ah) = summary::order_key(a);
                let (bd, br, bh) = summary::order_key(b);
                bd.cmp(&ad).then(br.cmp(&ar)).then(ah.cmp(&bh))
            });
            // `data-ip` is empty for a name that did not resolve.
            v.iter()
                .map(|h| {
                    let ip = h.address().map(|a| a.to_string()).unwrap_or_default();
                    format!("{ip}:{}", h.port)
                })
                .collect()
        };
        let page = render(&ScanMeta::new(vec![], serde_json::Value::Null), e, table());
        let got: Vec<String> = page
            .split("<tr class=\"host\" data-ip=\"")
            .skip(1)
            .filter_map(|s| {
                let ip = s.split('"').next()?;
                let port = s.split("data-port=\"").nth(1)?.split('"').next()?;
                Some(format!("{ip}:{port}"))
            })
            .collect();
        assert_eq!(got, want);
        // DoublePulsar first although its address sorts last among the critical hosts.
        assert_eq!(got[0], "10.0.9.200:445");
    }

    #[test]
    fn remediation_folds_in_details_without_script() {
        let hosts = clinic();
        let page = render(
            &ScanMeta::new(vec![], serde_json::Value::Null),
            enriched(&hosts),
            table(),
        );
        let findings = page
            .split("id=\"findings\"")
            .nth(1)
            .and_then(|t| t.split("</table>").next())
            .expect("findings");
        let rows: Vec<&str> = findings.split("<tr class=\"host\"").skip(1).collect();
        assert!(!rows.is_empty());
        for row in &rows {
            let row = row.split("</tr>").next().unwrap_or_default();
            assert_eq!(row.matches("<details>").count(), 1, "{row}");
            assert!(row.contains("<summary>"), "{row}");
        }
        assert!(rows[0].contains("<summary>Isolate · Install update · Turn SMB1 off</summary>"));
        assert!(!page.contains("<script"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains("src=") && !page.contains("href="));
    }

    #[test]
    fn esc_escapes_markup_and_controls() {
        assert_eq!(
            esc("<script>\"x\" & 'y'\x1b</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;\u{FFFD}&lt;/script&gt;"
        );
    }
}
