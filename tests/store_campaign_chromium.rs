//! The campaign view of `report --sweep … -o x.html` in headless Chromium at 1280 px: eight
//! weekly sweeps of a made-up clinic (fixtures/reports/current.jsonl, hosts fixed week by week,
//! one coming back) imported into a real SQLite store; the page renders with no console message
//! (no script, no fetch, no CSP violation), the trend chart is drawn (its four colours are on the
//! screenshot), the per-/24 table is right, and nothing is drawn right of the 1280 px window.
//! Skips without chromium, fails under CI. The screenshot is left in the test's scratch dir.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{bin, repo_root, scratch_dir};

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

/// Week `w` of the campaign: the clinic's records, dated, with the fixes made so far.
fn week(w: usize) -> String {
    let text = std::fs::read_to_string(repo_root().join("fixtures/reports/current.jsonl"))
        .expect("current.jsonl");
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let mut v: serde_json::Value = serde_json::from_str(line).expect("record");
        let day = chrono::NaiveDate::from_ymd_opt(2026, 10, 1).expect("date")
            + chrono::Duration::days(7 * w as i64);
        v["scanned_at"] = format!("{day}T09:00:00.000Z").into();
        let exposed = v["smb1"]["enabled"] == true || v["ms17_010"]["verdict"] == "vulnerable";
        // Host i is fixed from week i + 1 on; host 0 comes back in week 6.
        let fixed = exposed && w > i && !(i == 0 && w >= 6);
        if fixed {
            v["smb1"]["enabled"] = false.into();
            v["ms17_010"]["verdict"] = "not-exposed".into();
            v["doublepulsar"]["verdict"] = "not-tested".into();
        }
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

fn smb1scan(dir: &Path, args: &[&str]) -> std::process::Output {
    let o = Command::new(bin())
        .current_dir(dir)
        .env("SMB1SCAN_STORE", dir.join("c.sqlite"))
        .env("NO_COLOR", "1")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("smb1scan runs");
    assert!(
        matches!(o.status.code(), Some(0 | 3)),
        "smb1scan {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

#[test]
fn campaign_view_renders_in_chromium_at_1280_px() {
    let dir = scratch_dir("campaign-chromium");
    for w in 0..8 {
        let f = dir.join(format!("w{w}.jsonl"));
        std::fs::write(&f, week(w)).expect("write week");
        smb1scan(
            &dir,
            &[
                "import",
                &f.display().to_string(),
                "--sweep",
                &format!("2026-w{}", 40 + w),
                "--scope",
                "clinic",
            ],
        );
    }
    smb1scan(
        &dir,
        &[
            "report",
            "--sweep",
            "last",
            "-o",
            "campaign.html",
            "--fail-on",
            "none",
        ],
    );
    let html = std::fs::read_to_string(dir.join("campaign.html")).expect("report");
    assert!(
        html.contains("Campaign: 8 sweeps of this scope since 2026-10-01"),
        "no campaign heading"
    );
    assert_eq!(html.matches("<polyline").count(), 4);
    assert!(!html.contains("<script"));
    // The per-/24 table: 10.20.1.0/24 holds hosts 0 and 1 (fixed after 7 and 14 days), host 0
    // back since week 6: exposed now 1 of 2 at first, nothing changed since the last sweep.
    let row = html
        .split("<tr>")
        .find(|r| r.contains("<td>10.20.1.0/24</td>"))
        .expect("a 10.20.1.0/24 row");
    assert!(
        row.contains("<td>10.20.1.0/24</td><td>1</td><td>2</td><td>0</td><td>0</td><td>10.5</td>"),
        "{row}"
    );
    // The timeline of host 0 says so.
    let o = smb1scan(&dir, &["history", "10.20.1.17", "--format", "table"]);
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(
        t.contains("first seen exposed: 2026-10-01")
            && t.contains("fixed: 2026-10-08")
            && t.contains("came back: 2026-11-12"),
        "{t}"
    );

    let Some(b) = chromium() else { return };
    // The page's width is pinned to the layout width of a 1280 px window with a scroll bar; a
    // wider window shows whether anything is drawn right of it.
    const LAYOUT: u32 = 1264;
    let test_css = format!("<style>html{{width:{LAYOUT}px;background:#fff}}</style></head>");
    let page = dir.join("shot.html");
    std::fs::write(&page, html.replacen("</head>", &test_css, 1)).expect("write page");
    let png = dir.join("campaign.png");
    let out = Command::new(b)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args([
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1600,2400",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        !log.lines()
            .any(|l| l.contains("CONSOLE") || l.contains("Content Security Policy")),
        "console output: {log}"
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png).expect("png"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let (w, h) = (info.width, info.height);
    let bpp = info.line_size / w as usize;
    let px = |x: u32, y: u32| {
        let i = y as usize * info.line_size + x as usize * bpp;
        (buf[i], buf[i + 1], buf[i + 2])
    };
    let mut colours = [0usize; 4];
    let wanted = [
        (0xf9, 0xa8, 0x25),
        (0xb0, 0x00, 0x20),
        (0x6a, 0x1b, 0x9a),
        (0x60, 0x7d, 0x8b),
    ];
    let mut right = 0;
    for y in 0..h {
        for x in 0..w {
            let p = px(x, y);
            for (k, c) in wanted.iter().enumerate() {
                if p == *c {
                    colours[k] += 1;
                }
            }
            if x > LAYOUT && p != (255, 255, 255) {
                right += 1;
            }
        }
    }
    for (k, n) in colours.iter().enumerate() {
        // Drawn, as lines and dots: a few thousand pixels each, not areas.
        assert!(
            (50..30_000).contains(n),
            "series {k}: {n} pixels of its colour: {}",
            png.display()
        );
    }
    assert_eq!(right, 0, "drawn right of {LAYOUT} px: {}", png.display());
}
