//! The sender side of SYN discovery alone, for bench/syn.sh: one SYN to port `--port` of every
//! address of a CIDR (in a permuted order, as a scan sends them), as fast as possible or at
//! `--rate`, no receiver and no wait. Prints one line of figures, with the sender used.
//!
//! ```text
//! ip netns exec NS cargo run --release --example syn_sweep -- 100.64.0.0/10 [--port 445]
//!     [--rate PPS] [--retries N] [--interface IF] [--router-mac MAC] [--ip-layer]
//! ```
//!
//! The sender is chosen as `smb1scan scan --discovery syn` chooses it (`auto_link`: the
//! link-layer one when the kernel's route and neighbour tables allow, src/discovery/route.rs);
//! `--interface`/`--router-mac` pin it, `--ip-layer` forces the `IPPROTO_RAW` one.
//!
//! It refuses to run outside a namespace made with `ip netns add` (unless the CIDR is in
//! 127.0.0.0/8):
//! raw SYNs at full speed belong in a namespace made for them (bench/syn.sh makes one).
#![deny(unsafe_code)]

use smb1scan::discovery;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::unix::fs::MetadataExt as _;

use anyhow::{bail, Context as _};

/// Every address of a CIDR, in the order `i -> (i * A + B) mod 2^k` (a bijection for odd `A`):
/// spread over the block like a scan's permutation, at the cost of a multiply.
#[derive(Clone)]
struct Cidr {
    base: u32,
    mask: u64,
    i: u64,
    n: u64,
    port: u16,
}

impl Iterator for Cidr {
    type Item = SocketAddrV4;
    fn next(&mut self) -> Option<SocketAddrV4> {
        if self.i >= self.n {
            return None;
        }
        let k = (self
            .i
            .wrapping_mul(0x9E37_79B9_7F4A_7C15 | 1)
            .wrapping_add(0x5bd1_e995))
            & self.mask;
        self.i += 1;
        let off = u32::try_from(k).ok()?;
        Some(SocketAddrV4::new(
            Ipv4Addr::from(self.base.wrapping_add(off)),
            self.port,
        ))
    }
}

/// Whether this process runs in a network namespace made with `ip netns add` (its inode is one
/// of /run/netns/*'s).
fn in_named_netns() -> anyhow::Result<bool> {
    let me = std::fs::metadata("/proc/self/ns/net").context("/proc/self/ns/net")?;
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return Ok(false);
    };
    Ok(dir.filter_map(Result::ok).any(|e| {
        std::fs::metadata(e.path()).is_ok_and(|m| m.ino() == me.ino() && m.dev() == me.dev())
    }))
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut cidr: Option<(Ipv4Addr, u8)> = None;
    let mut opts = discovery::SynOptions {
        timeout: std::time::Duration::ZERO,
        auto_link: true,
        ..Default::default()
    };
    let mut port = 445u16;
    while let Some(a) = args.next() {
        let mut val = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "--port" => port = val("--port")?.parse().context("--port")?,
            "--rate" => opts.rate = Some(val("--rate")?.parse().context("--rate")?),
            "--retries" => opts.retries = val("--retries")?.parse().context("--retries")?,
            "--interface" => opts.interface = Some(val("--interface")?),
            "--router-mac" => {
                let v = val("--router-mac")?;
                let mut mac = [0u8; 6];
                let parts: Vec<&str> = v.split([':', '-']).collect();
                anyhow::ensure!(parts.len() == 6, "--router-mac: six hex bytes, a:b:c:d:e:f");
                for (m, p) in mac.iter_mut().zip(parts) {
                    *m = u8::from_str_radix(p, 16).context("--router-mac")?;
                }
                opts.router_mac = Some(mac);
            }
            "--ip-layer" => opts.auto_link = false,
            "--source-port" => {
                opts.source_port = Some(val("--source-port")?.parse().context("--source-port")?)
            }
            s if cidr.is_none() && !s.starts_with('-') => {
                cidr = Some(parse_cidr(s).with_context(|| format!("bad CIDR {s}"))?)
            }
            s => bail!("unknown argument {s}"),
        }
    }
    let Some(net) = cidr else {
        bail!("usage: syn_sweep CIDR [--port P] [--rate PPS] [--retries N] [--interface IF] [--router-mac MAC] [--ip-layer]");
    };
    if !net.0.is_loopback() && !in_named_netns()? {
        bail!("refusing to send raw SYNs outside a network namespace made for them: run it under `ip netns exec` (bench/syn.sh)");
    }
    discovery::check_capability()?;
    let bits = 32 - u32::from(net.1);
    let n = 1u64 << bits;
    let targets = Cidr {
        base: u32::from(net.0) & !((n - 1) as u32),
        mask: n - 1,
        i: 0,
        n,
        port,
    };
    let s = discovery::send_only(targets, &opts)?;
    let secs = s.elapsed.as_secs_f64();
    println!(
        "syn_sweep: {} SYNs to {} targets in {:.3} s ({:.0} packets/s), source {}, unsent {}, queue-full retries {}, sender {}",
        s.packets_sent,
        s.targets,
        secs,
        s.packets_sent as f64 / secs.max(1e-9),
        s.source.map(|a| a.to_string()).unwrap_or_default(),
        s.unsent,
        s.send_retries,
        s.sender.map(|p| p.to_string()).unwrap_or_default()
    );
    Ok(())
}

/// `a.b.c.d/len` (IPv4 only).
fn parse_cidr(s: &str) -> anyhow::Result<(Ipv4Addr, u8)> {
    let (ip, len) = s.split_once('/').context("expected ADDRESS/PREFIX")?;
    let len: u8 = len.parse().context("prefix")?;
    if len > 32 {
        bail!("prefix {len} is longer than 32");
    }
    Ok((ip.parse().context("address")?, len))
}
