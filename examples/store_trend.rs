//! The campaign view's cost alone, for bench/store.sh: opens a store, finds a sweep (`last` or
//! a label), computes the trend and the per-subnet table of `report --sweep … -o x.html`
//! (src/store/campaign.rs) and renders its HTML section; prints the milliseconds of each of N
//! runs, and the section's size. The full report also renders every host of the sweep, which
//! is the report's cost, not the trend's.
//!
//! ```text
//! cargo run --release --example store_trend -- STORE [SWEEP] [RUNS]
//! ```

use std::time::Instant;

use smb1scan::store::{campaign, sweep, Location, Store};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let store = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: store_trend STORE [SWEEP] [RUNS]"))?;
    let name = args.next().unwrap_or_else(|| "last".into());
    let runs: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(5);
    let loc = Location::parse(&store);
    for i in 0..runs {
        let t0 = Instant::now();
        let mut s = Store::open(&loc)?;
        let row = sweep::find(s.db(), &name)?;
        let c = campaign::campaign(&mut s, &row, None, &Default::default())?;
        let html = campaign::html_section(&c);
        println!(
            "run {i}: {:.1} ms ({} sweeps, {} subnets, {} bytes of HTML)",
            t0.elapsed().as_secs_f64() * 1000.0,
            c.points.len(),
            c.subnets.len(),
            html.len()
        );
    }
    Ok(())
}
