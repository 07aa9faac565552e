//! The HTML report in headless Chromium: renders with no console message (no blocked fetch, no
//! script, no CSP violation), the parsed DOM has one row per host and the hostile names as text,
//! and the page fits a 1280 px window without sideways scrolling. Skips, printing why, when
//! `chromium` is not installed (CI installs Debian's `chromium`, and there a missing browser
//! fails). The screenshot is left at $TMPDIR/smb1scan-report-screenshot.png.
//!
//! Also: fixtures/reports/sample-report.html must equal today's rendering of sample.json
//! (`SMB1SCAN_BLESS=1 cargo test --test report_html_chromium` re-records it, and then also
//! re-takes docs/images/demo-report.png from a real `smb1scan demo` run).

mod common;
mod xml_reports;

use smb1scan::model;
use smb1scan::report;

use std::path::{Path, PathBuf};
use std::process::Command;

use model::{HostResult, HostStatus};
use report::{ReportSet, ScanMeta};
use smb1scan::plan::{output_plan, OutputFlags};

fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        });
    if found.is_none() {
        common::skip_or_fail("chromium not found (apt-get install chromium)");
    }
    found
}

fn run(bin: &str, profile: &Path, extra: &[&str], page: &Path) -> std::process::Output {
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs")
}

fn tmpdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smb1scan-chromium-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// fixtures/reports/current.jsonl plus hostile hosts: markup in names, a 300-character name
/// with no break opportunity, an unresolved name, and a host whose every cell is long.
fn stress_hosts() -> Vec<HostResult> {
    let mut hosts: Vec<HostResult> = include_str!("../fixtures/reports/current.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("record"))
        .collect();
    let mut evil = hosts[0].clone();
    evil.ip = "10.20.9.66".parse().expect("ip");
    evil.os.netbios_name = Some("<script>console.error('pwned')</script>".into());
    evil.os.native_os = Some("<img src=x onerror=\"console.error('pwned')\">".into());
    evil.os.product = None;
    evil.hostname = Some("\"><style>@import url(http://127.0.0.1:9/x.css)</style>".into());
    hosts.push(evil);
    let mut long = hosts[0].clone();
    long.ip = "10.20.9.67".parse().expect("ip");
    long.os.netbios_name = Some("W".repeat(300));
    long.os.native_os = Some("Windows7Professional7601ServicePack1".repeat(6));
    long.error = Some("x".repeat(400));
    long.smb2.dialects = vec!["2.0.2".into(), "2.1".into(), "3.0".into(), "3.0.2".into()];
    hosts.push(long);
    hosts.push(HostResult::unresolved(
        &format!("ward-{}.clinic.example", "7".repeat(120)),
        445,
        "failed to lookup address information: Name or service not known",
    ));
    hosts
}

/// Writes `hosts` as an HTML report through the real output path (ReportSet).
fn write_report(page: &Path, hosts: &[HostResult]) {
    let args = OutputFlags {
        output: vec![page.to_path_buf()],
        no_summary: true,
        ..OutputFlags::default()
    };
    let meta = ScanMeta::new(vec!["10.20.0.0/22".into()], serde_json::Value::Null);
    let plan = output_plan(&args, None, false, None).expect("output plan");
    let mut set = ReportSet::open(&plan).expect("open");
    for h in hosts {
        set.write(h).expect("write");
    }
    set.finish(&meta, 0).expect("finish");
}

#[test]
fn html_report_renders_in_chromium() {
    let Some(bin) = chromium() else { return };
    let dir = tmpdir("render");
    let page = dir.join("report.html");
    let hosts = stress_hosts();
    write_report(&page, &hosts);

    let shot = std::env::temp_dir().join("smb1scan-report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    let out = run(
        bin,
        &dir.join("p1"),
        &[
            "--window-size=1280,2400",
            &format!("--screenshot={}", shot.display()),
        ],
        &page,
    );
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "screenshot is a real PNG"
    );

    let out = run(bin, &dir.join("p2"), &["--dump-dom"], &page);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        dom.matches("<tr class=\"host\"").count(),
        hosts.len(),
        "one row per host"
    );
    assert!(
        !dom.contains("<script") && !dom.contains("<img"),
        "markup from a host became elements"
    );
    assert!(dom.contains("&lt;script&gt;console.error('pwned')&lt;/script&gt;"));
    assert!(dom.contains("id=\"findings\"") && dom.contains("id=\"meta\""));
    assert!(dom.contains("id=\"plan\"") && dom.contains("<details>"));
    // The unresolved name is a finding, with its resolver error.
    let unresolved = hosts
        .iter()
        .find(|h| h.status == HostStatus::Unresolved)
        .and_then(|h| h.hostname.clone())
        .expect("unresolved host");
    assert!(dom.contains(&format!("<b>{unresolved}</b>:445")));
    assert!(dom.contains("Name or service not known"));
    println!("screenshot: {}", shot.display());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A decoded screenshot: RGB(A) rows.
struct Shot {
    width: usize,
    height: usize,
    channels: usize,
    data: Vec<u8>,
}

impl Shot {
    fn read(path: &Path) -> Shot {
        let file = std::fs::File::open(path).expect("screenshot written");
        let decoder = png::Decoder::new(std::io::BufReader::new(file));
        let mut reader = decoder.read_info().expect("PNG header");
        let mut data = vec![0; reader.output_buffer_size().expect("PNG size")];
        let info = reader.next_frame(&mut data).expect("PNG frame");
        let channels = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("unexpected screenshot colour type {other:?}"),
        };
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        data.truncate(info.buffer_size());
        Shot {
            width: info.width as usize,
            height: info.height as usize,
            channels,
            data,
        }
    }

    /// Columns from `x0` on that hold a non-white pixel (anything painted there).
    fn painted_from(&self, x0: usize) -> Vec<(usize, usize)> {
        let mut hits = Vec::new();
        for y in 0..self.height {
            for x in x0..self.width {
                let i = (y * self.width + x) * self.channels;
                if self.data[i..i + 3] != [255, 255, 255] {
                    hits.push((x, y));
                    break;
                }
            }
        }
        hits
    }

    /// Whether the bottom `rows` rows are blank (the whole page was captured).
    fn blank_bottom(&self, rows: usize) -> bool {
        let start = self.height.saturating_sub(rows) * self.width * self.channels;
        self.data[start..]
            .chunks(self.channels)
            .all(|p| p[..3] == [255, 255, 255])
    }
}

/// The report fits a 1280 px window: nothing of it is drawn right of 1264 px (1280 minus a
/// 16 px vertical scrollbar), with every `<details>` open (the widest the page can get).
///
/// Method (no script may run: the page's CSP forbids it): a test copy of the report gets one
/// extra inline style, `html{width:1264px}`, so the page is laid out exactly as in a 1280 px
/// window, and is screenshotted in a 1900 px wide, 16000 px tall window. Whatever does not fit
/// 1264 px (a table wider than its container, an unbreakable word) overflows to the right and is
/// painted there; the canvas right of 1264 px must be pure white. A control page with a 1400 px
/// wide bar proves the method sees an overflow, and a blank bottom strip proves the whole page
/// was captured.
#[test]
fn html_report_fits_1280_px_without_sideways_scroll() {
    const LAYOUT: usize = 1264;
    let Some(bin) = chromium() else { return };
    let dir = tmpdir("width");
    let page = dir.join("report.html");
    write_report(&page, &stress_hosts());
    let html = std::fs::read_to_string(&page).expect("report");
    assert!(html.contains("<details>"), "no details to open");
    let test_css = format!("<style>html{{width:{LAYOUT}px;background:#fff}}</style></head>");
    let opened = html
        .replace("<details>", "<details open>")
        .replacen("</head>", &test_css, 1);

    let shoot = |name: &str, text: &str| -> Shot {
        let p = dir.join(format!("{name}.html"));
        std::fs::write(&p, text).expect("write page");
        let png = dir.join(format!("{name}.png"));
        let out = run(
            bin,
            &dir.join(format!("profile-{name}")),
            &[
                "--window-size=1900,16000",
                &format!("--screenshot={}", png.display()),
            ],
            &p,
        );
        assert!(
            out.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Shot::read(&png)
    };

    // Control: the same page with a bar wider than the layout width must be caught.
    // At the top: the bar must be seen however tall the report grows.
    let wide = opened.replacen(
        "<body>",
        "<body><div style=\"width:1400px;height:6px;background:#000\"></div>",
        1,
    );
    let control = shoot("control", &wide);
    assert!(control.width >= 1900, "screenshot {}px wide", control.width);
    assert!(
        !control.painted_from(LAYOUT + 1).is_empty(),
        "the method did not see a 1400 px wide bar"
    );

    let shot = shoot("report", &opened);
    assert!(
        shot.blank_bottom(40),
        "the page is taller than the 16000 px window: part of it was not checked"
    );
    let over = shot.painted_from(LAYOUT + 1);
    assert!(
        over.is_empty(),
        "the report is drawn right of {LAYOUT} px at {} rows (first: x={}, y={}): it scrolls \
         sideways in a 1280 px window; see {}",
        over.len(),
        over.first().map_or(0, |p| p.0),
        over.first().map_or(0, |p| p.1),
        dir.join("report.png").display()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// fixtures/reports/sample-report.html is today's rendering of sample.json. Under
/// SMB1SCAN_BLESS=1 it is re-recorded, and docs/images/demo-report.png is re-taken: the top of
/// the report of a real `smb1scan demo` run in a 1280 px window.
#[test]
fn sample_report_is_todays_rendering() {
    let (meta, hosts) = xml_reports::sample();
    let table = report::remediation::table().expect("table");
    let page = report::html::render(&meta, xml_reports::enriched(&hosts), table);
    xml_reports::check_fixture("sample-report.html", page.as_bytes());

    if !std::env::var_os("SMB1SCAN_BLESS").is_some_and(|v| v == "1") {
        return;
    }
    let Some(bin) = chromium() else { return };
    let dir = tmpdir("demo");
    let (mut meta, hosts) = xml_reports::demo_run("127.0.123.1", &dir);
    // ReportSet::finish fills the counts from the records; here they are rendered directly.
    let mut summary = report::Summary::new();
    for h in &hosts {
        summary.add(h);
    }
    meta.counts = summary.counts().clone();
    let page = dir.join("demo.html");
    let html = report::html::render(&meta, xml_reports::enriched(&hosts), table);
    std::fs::write(&page, html).expect("write demo page");
    let png = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/images/demo-report.png");
    let out = run(
        bin,
        &dir.join("profile"),
        &[
            "--window-size=1280,1500",
            &format!("--screenshot={}", png.display()),
        ],
        &page,
    );
    assert!(out.status.success(), "chromium failed");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The ranked action list as Chromium parses it: the anonymous-pipe 2012 R2 that MS17-010
/// leaves exploitable without a password first, then DoublePulsar, vulnerable, the undecided
/// host with its reason, signing; and a section per check of the registry.
#[test]
fn action_list_in_chromium() {
    let Some(bin) = chromium() else { return };
    let dir = tmpdir("actions");
    let page = dir.join("report.html");
    write_report(&page, &report::html_checks::example_hosts());
    let out = run(bin, &dir.join("p"), &["--dump-dom"], &page);
    assert!(out.status.success(), "chromium failed");
    let dom = String::from_utf8_lossy(&out.stdout);
    let list = dom
        .split("id=\"action-list\"")
        .nth(1)
        .and_then(|s| s.split("</ol>").next())
        .expect("action list in the DOM");
    let findings: Vec<&str> = list
        .split("data-finding=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert_eq!(
        findings,
        [
            "exploitable",
            "doublepulsar",
            "vulnerable",
            "unknown",
            "signing-not-required"
        ]
    );
    assert!(list.contains("netlogon, lsarpc, samr open to a null session"));
    assert!(list.contains("undecided: session-setup-refused"));
    for c in smb1scan::checks::REGISTRY {
        assert!(
            dom.contains(&format!("id=\"check-{}\"", c.name())),
            "{}",
            c.name()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
