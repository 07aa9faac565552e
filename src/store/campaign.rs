//! The campaign as a picture, for the HTML report of a recorded sweep (`report --sweep`): an
//! inline SVG trend of SMB1 on, vulnerable, DoublePulsar and undecided per sweep (every sweep of
//! the same scope up to this one, or those since `--since`), and a table per subnet (the site
//! config's names, else /24; IPv6: /64) of exposed hosts now vs the first sweep, fixed and new since the last sweep, and the median days
//! from first seen exposed to fixed. Self-contained: no script, no fetch.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use super::db::Val;
use super::subnets::{SubnetKey, Subnets};
use super::sweep::{SweepRow, SweepStatus};
use super::timeline::{self, Exposure};
use super::{Store, StoreError};
use crate::report::html::esc;

/// One subnet's line of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct SubnetRow {
    /// `10.20.1.0/24`.
    pub subnet: String,
    /// Exposed in the newest sweep.
    pub now: usize,
    /// Exposed in the first sweep.
    pub first: usize,
    /// Exposed in the sweep before the newest, decided safe in the newest.
    pub fixed_since_last: usize,
    /// Exposed in the newest, not exposed in the one before.
    pub new_since_last: usize,
    /// Median days from first seen exposed to fixed, over the hosts fixed so far.
    pub median_days_to_fix: Option<f64>,
}

/// The trend and the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    /// The sweeps, oldest first.
    pub points: Vec<SweepRow>,
    /// Per subnet, in address order.
    pub subnets: Vec<SubnetRow>,
}

/// The table from each host's exposure per sweep (`None`: not in that sweep) and the sweeps'
/// times. Hosts never exposed change no column, so callers may leave them out.
pub fn subnet_rows(
    times: &[chrono::DateTime<chrono::Utc>],
    hosts: &[(IpAddr, Vec<Option<Exposure>>)],
    subnets: &Subnets,
) -> Vec<SubnetRow> {
    // The subnet's sort key and name -> the row and its hosts' days to a fix.
    let mut by: BTreeMap<SubnetKey, (SubnetRow, Vec<f64>)> = BTreeMap::new();
    let n = times.len();
    for (ip, seq) in hosts {
        let Some(key) = subnets.of(ip) else { continue };
        let net = key.1.clone();
        let e = by.entry(key).or_insert_with(|| {
            (
                SubnetRow {
                    subnet: net,
                    now: 0,
                    first: 0,
                    fixed_since_last: 0,
                    new_since_last: 0,
                    median_days_to_fix: None,
                },
                Vec::new(),
            )
        });
        let at = |i: usize| seq.get(i).copied().flatten();
        let exposed = |i: usize| at(i) == Some(Exposure::Exposed);
        if n == 0 {
            continue;
        }
        let last = n - 1;
        e.0.now += usize::from(exposed(last));
        e.0.first += usize::from(exposed(0));
        if n >= 2 {
            e.0.fixed_since_last +=
                usize::from(exposed(last - 1) && at(last) == Some(Exposure::Safe));
            e.0.new_since_last += usize::from(exposed(last) && !exposed(last - 1));
        }
        let timed: Vec<(Exposure, chrono::DateTime<chrono::Utc>)> = (0..n)
            .filter_map(|i| Some((at(i).unwrap_or(Exposure::Undecided), *times.get(i)?)))
            .collect();
        if let Some(d) = timeline::days_to_fix(&timed) {
            e.1.push(d);
        }
    }
    by.into_values()
        .map(|(mut r, days)| {
            r.median_days_to_fix = timeline::median(days);
            r
        })
        .collect()
}

fn parse_time(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_default()
}

/// The campaign up to `current`: the sweeps of its scope (complete ones, and `current`), those
/// started on or after `since` when given.
pub fn campaign(
    store: &mut Store,
    current: &SweepRow,
    since: Option<&str>,
    subnets: &Subnets,
) -> Result<Campaign, StoreError> {
    let points: Vec<SweepRow> = super::sweep::list(store.db())?
        .into_iter()
        .filter(|s| s.scope == current.scope && s.started_at <= current.started_at)
        .filter(|s| s.id == current.id || s.state() == SweepStatus::Complete)
        .filter(|s| match since {
            Some(d) => s.started_at.as_str() >= d,
            None => true,
        })
        .collect();
    let ids: Vec<i64> = points.iter().map(|p| p.id).collect();
    let index: BTreeMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let marks = vec!["?"; ids.len()].join(",");
    let params: Vec<Val> = ids.iter().map(|i| Val::i(*i)).collect();
    // The records with a verdict, from the partial index alone (schema version 2): a host
    // without one in a sweep counts as undecided there, as a missing one does.
    let rows = if ids.is_empty() {
        Vec::new()
    } else {
        store.db().query(
            &format!(
                "SELECT sweep_id, ip, port, smb1, ms17, doublepulsar FROM records
                 WHERE sweep_id IN ({marks}) AND name = '' AND {}",
                super::schema::VERDICT_ROWS
            ),
            &params,
        )?
    };
    let mut hosts: BTreeMap<(String, i64), Vec<Option<Exposure>>> = BTreeMap::new();
    for r in rows {
        let g = |i: usize| r.get(i).cloned().unwrap_or(Val::I(None));
        let Some(&at) = g(0).int().and_then(|id| index.get(&id)) else {
            continue;
        };
        let e = timeline::exposure_of(g(3).int().map(|v| v == 1), &g(4).str(), &g(5).str());
        let seq = hosts
            .entry((g(1).str(), g(2).int().unwrap_or(0)))
            .or_insert_with(|| vec![None; ids.len()]);
        if let Some(slot) = seq.get_mut(at) {
            *slot = Some(e);
        }
    }
    // Only hosts exposed in some sweep change the table.
    hosts.retain(|_, seq| seq.contains(&Some(Exposure::Exposed)));
    let hosts: Vec<(IpAddr, Vec<Option<Exposure>>)> = hosts
        .into_iter()
        .filter_map(|((ip, _), seq)| Some((ip.parse().ok()?, seq)))
        .collect();
    let times: Vec<_> = points.iter().map(|p| parse_time(&p.started_at)).collect();
    Ok(Campaign {
        subnets: subnet_rows(&times, &hosts, subnets),
        points,
    })
}

/// The series of the chart: name, colour, value per sweep.
fn series(points: &[SweepRow]) -> [(&'static str, &'static str, Vec<i64>); 4] {
    [
        (
            "SMB1 on",
            "#f9a825",
            points.iter().map(|p| p.smb1_on).collect(),
        ),
        (
            "Vulnerable",
            "#b00020",
            points.iter().map(|p| p.vulnerable).collect(),
        ),
        (
            "DoublePulsar",
            "#6a1b9a",
            points.iter().map(|p| p.doublepulsar).collect(),
        ),
        (
            "Undecided",
            "#607d8b",
            points.iter().map(|p| p.undecided).collect(),
        ),
    ]
}

/// The trend chart: inline SVG, 960 × 320 user units, scaled to the page width.
pub fn trend_svg(points: &[SweepRow]) -> String {
    const W: f64 = 960.0;
    const H: f64 = 320.0;
    const L: f64 = 56.0;
    const R: f64 = 48.0;
    const T: f64 = 16.0;
    const B: f64 = 64.0;
    let series = series(points);
    let max = series
        .iter()
        .flat_map(|s| s.2.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    // A round top for the axis: 1, 2 or 5 times a power of ten.
    let mut top = 1i64;
    'outer: for p in 0..18 {
        for m in [1, 2, 5] {
            let v = m * 10i64.pow(p);
            if v >= max {
                top = v;
                break 'outer;
            }
        }
    }
    let n = points.len();
    let x = |i: usize| {
        if n <= 1 {
            L + (W - L - R) / 2.0
        } else {
            L + (W - L - R) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: i64| T + (H - T - B) * (1.0 - v as f64 / top as f64);
    let mut o = String::new();
    let _ = write!(
        o,
        "<svg id=\"trend\" viewBox=\"0 0 {W} {H}\" width=\"100%\" style=\"max-width:{W}px\" \
         role=\"img\" aria-label=\"Exposed hosts per sweep\" xmlns=\"http://www.w3.org/2000/svg\" \
         font-family=\"sans-serif\" font-size=\"12\">"
    );
    // Grid lines at whole numbers: 5, 4, 2 or 1 divisions of the round top.
    let div = [5, 4, 2].into_iter().find(|d| top % d == 0).unwrap_or(1);
    for k in 0..=div {
        let v = top * k / div;
        let yy = y(v);
        let _ = write!(
            o,
            "<line x1=\"{L}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{v}</text>",
            W - R,
            L - 6.0,
            yy + 4.0
        );
    }
    // At most ~12 x labels.
    let step = n.div_ceil(12).max(1);
    for (i, p) in points.iter().enumerate() {
        if i % step != 0 && i + 1 != n {
            continue;
        }
        let day = p.started_at.get(..10).unwrap_or(&p.started_at);
        let _ = write!(
            o,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            x(i),
            H - B + 18.0,
            esc(day)
        );
    }
    for (name, colour, vals) in &series {
        let pts: Vec<String> = vals
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            o,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"{}\" points=\"{}\"><title>{name}</title></polyline>",
            if *name == "Vulnerable" { 7 } else { 3 },
            pts.join(" ")
        );
        for (i, v) in vals.iter().enumerate() {
            let label = points.get(i).map(|p| p.label.as_str()).unwrap_or_default();
            let _ = write!(
                o,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{}\" fill=\"{colour}\"><title>{}: {name} {v}</title></circle>",
                x(i),
                y(*v),
                if *name == "Vulnerable" { 6 } else { 4 },
                esc(label)
            );
        }
    }
    for (k, (name, colour, _)) in series.iter().enumerate() {
        let lx = L + 150.0 * k as f64;
        let _ = write!(
            o,
            "<rect x=\"{lx}\" y=\"{}\" width=\"14\" height=\"14\" fill=\"{colour}\"/>\
             <text x=\"{}\" y=\"{}\">{name}</text>",
            H - 24.0,
            lx + 20.0,
            H - 12.0
        );
    }
    o.push_str("</svg>");
    o
}

/// The report section: heading, chart and table.
pub fn html_section(c: &Campaign) -> String {
    let mut o = String::new();
    let first = c
        .points
        .first()
        .map(|p| p.started_at.as_str())
        .unwrap_or("-");
    let _ = writeln!(
        o,
        "<h2 id=\"campaign\">Campaign: {} sweep{} of this scope since {}</h2>",
        c.points.len(),
        if c.points.len() == 1 { "" } else { "s" },
        esc(first.get(..10).unwrap_or(first))
    );
    o.push_str(&trend_svg(&c.points));
    o.push_str(
        "\n<p class=\"legend\">Hosts per sweep. Undecided: the port answered and MS17-010 has no \
         verdict: silence is never safety.</p>\n",
    );
    o.push_str(
        "<table id=\"campaign-subnets\"><tr><th>Subnet</th><th>Exposed now</th><th>In the first \
         sweep</th><th>Fixed since the last sweep</th><th>New since the last sweep</th>\
         <th>Median days exposed → fixed</th></tr>\n",
    );
    for r in &c.subnets {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.subnet),
            r.now,
            r.first,
            r.fixed_since_last,
            r.new_since_last,
            r.median_days_to_fix
                .map(|d| format!("{d:.1}"))
                .unwrap_or_else(|| "-".into())
        );
    }
    if c.subnets.is_empty() {
        o.push_str("<tr><td colspan=\"6\">No host was exposed in these sweeps.</td></tr>\n");
    }
    o.push_str(
        "</table>\n<p>Exposed: SMB1 on, MS17-010 vulnerable or DoublePulsar present. Fixed: \
         decided safe on the host's own evidence after being exposed.</p>\n",
    );
    o
}

/// Puts the section into a rendered report, before the remediation plan (after the summary).
pub fn splice(page: &str, section: &str) -> String {
    match page.find("<h2 id=\"plan\">") {
        Some(i) => format!("{}{section}{}", &page[..i], &page[i..]),
        None => page.replacen("</body>", &format!("{section}</body>"), 1),
    }
}

/// The HTML files among the outputs.
pub fn html_files(output: &crate::report::OutputPlan) -> Vec<&std::path::Path> {
    output
        .outputs
        .iter()
        .filter_map(|o| match (&o.dest, o.format) {
            (crate::report::Destination::File(p), crate::report::Format::Html) => Some(p.as_path()),
            _ => None,
        })
        .collect()
}

/// The campaign section (trend and per-subnet table) of a sweep.
pub fn campaign_section(
    location: &super::Location,
    row: &super::SweepRow,
    since: Option<&str>,
    subnets: &super::subnets::Subnets,
) -> crate::error::Result<String> {
    let se = |e| crate::error::Error::store(location, e);
    let mut store = super::Store::open(location).map_err(se)?;
    let c = campaign(&mut store, row, since, subnets).map_err(se)?;
    Ok(html_section(&c))
}

/// Puts the section into each rendered HTML file.
pub fn splice_into(html: &[&std::path::Path], section: &str) -> crate::error::Result<()> {
    for p in html {
        let page = std::fs::read_to_string(p)
            .map_err(|e| crate::error::Error::io_path("reading", p, e))?;
        crate::report::write_atomically(p, splice(&page, section).as_bytes())?;
    }
    Ok(())
}

/// `scan -o x.html` of a recorded sweep: its HTML outputs show the campaign as `report --sweep`
/// does, the sweep just recorded in its place.
pub fn add_campaign(
    store: &super::StorePlan,
    label: &str,
    output: &crate::report::OutputPlan,
) -> crate::error::Result<()> {
    let location = &store.location;
    let html = html_files(output);
    if html.is_empty() {
        return Ok(());
    }
    let row = {
        let mut store =
            super::Store::open(location).map_err(|e| crate::error::Error::store(location, e))?;
        super::sweep::find(store.db(), label)
            .map_err(|e| crate::error::Error::store(location, e))?
    };
    splice_into(
        &html,
        &campaign_section(location, &row, None, &store.subnets)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use Exposure::*;

    fn day(d: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::<chrono::Utc>::from_timestamp(d * 86_400, 0).unwrap_or_default()
    }

    #[test]
    fn subnet_table() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let times = [day(0), day(7), day(14)];
        let hosts = vec![
            // Fixed in the last sweep, after 14 days.
            (
                ip("10.2.0.5"),
                vec![Some(Exposed), Some(Exposed), Some(Safe)],
            ),
            // Fixed after 7 days, still safe.
            (ip("10.2.0.6"), vec![Some(Exposed), Some(Safe), Some(Safe)]),
            // New in the last sweep.
            (ip("10.2.0.7"), vec![Some(Safe), None, Some(Exposed)]),
            // Silent in the last sweep: neither fixed nor exposed now.
            (
                ip("10.10.0.1"),
                vec![Some(Exposed), Some(Exposed), Some(Undecided)],
            ),
            (ip("0.0.0.0"), vec![Some(Exposed), None, None]),
        ];
        let rows = subnet_rows(&times, &hosts, &Subnets::default());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].subnet, "10.2.0.0/24", "numeric order");
        assert_eq!(
            (
                rows[0].now,
                rows[0].first,
                rows[0].fixed_since_last,
                rows[0].new_since_last
            ),
            (1, 2, 1, 1)
        );
        assert_eq!(rows[0].median_days_to_fix, Some(10.5));
        assert_eq!(rows[1].subnet, "10.10.0.0/24");
        assert_eq!(
            (rows[1].now, rows[1].first, rows[1].fixed_since_last),
            (0, 1, 0)
        );
        assert_eq!(rows[1].median_days_to_fix, None);
        // One sweep: nothing is "since the last".
        let one = subnet_rows(
            &times[..1],
            &[(ip("10.2.0.5"), vec![Some(Exposed)])],
            &Subnets::default(),
        );
        assert_eq!(
            (one[0].now, one[0].fixed_since_last, one[0].new_since_last),
            (1, 0, 0)
        );
    }

    #[test]
    fn the_chart_is_self_contained_svg() {
        let p = |label: &str, v: i64| SweepRow {
            id: 1,
            label: label.into(),
            started_at: "2026-11-20T09:00:00Z".into(),
            finished_at: None,
            status: "complete".into(),
            scope: serde_json::Value::Null,
            source: "scan".into(),
            simulated: false,
            shards: 1,
            hosts: 10,
            smb1_on: v,
            vulnerable: v / 2,
            doublepulsar: 0,
            undecided: 1,
        };
        let svg = trend_svg(&[p("<w1>", 40), p("w2", 30), p("w3", 12)]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert_eq!(svg.matches("<circle").count(), 12);
        // Points are dots, not discs over the chart.
        for r in svg.split(" r=\"").skip(1) {
            let v: f64 = r
                .split('"')
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(99.0);
            assert!(v <= 6.0, "a point of radius {v}");
        }
        assert!(svg.contains("&lt;w1&gt;") && !svg.contains("<w1>"));
        assert!(svg.contains(">50</text>"), "the axis tops at 50: {svg}");
        assert!(!svg.contains("href") && !svg.contains("<script"));
        let page = "<html><body><h1>x</h1><h2 id=\"plan\">P</h2></body></html>";
        let s = splice(page, "<h2 id=\"campaign\">C</h2>");
        assert!(s.find("campaign") < s.find("plan"));
    }
}
