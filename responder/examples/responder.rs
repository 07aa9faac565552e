//! Runs the simulated Windows hosts of `smb1scan demo` standalone, for poking at them with
//! smbclient, nmap, impacket or tshark.
//!
//! ```text
//! cargo run --example responder -- list
//! cargo run --example responder -- one win7-sp1-x64-unpatched 127.0.0.10:445
//! cargo run --example responder -- all 127.0.10.1 445
//! ```
#![forbid(unsafe_code)]

use smb1scan_responder as responder;

use std::net::{Ipv4Addr, SocketAddr};

use anyhow::{bail, Context as _};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["list"] | [] => {
            for p in responder::personas() {
                println!(
                    "{:<26} {}\n{:<26} expected: {}",
                    p.name, p.description, "", p.expected
                );
            }
        }
        ["one", name, addr] => {
            let p = responder::persona(name).with_context(|| format!("no persona {name}"))?;
            let addr: SocketAddr = addr.parse().context("listen address")?;
            anyhow::ensure!(addr.ip().is_loopback(), "loopback addresses only");
            let l = tokio::net::TcpListener::bind(addr).await.context("bind")?;
            eprintln!("SIMULATED {} on {}", p.name, l.local_addr()?);
            responder::serve(l, p).await;
        }
        ["all", base, port] => {
            let base: Ipv4Addr = base.parse().context("base address")?;
            let port: u16 = port.parse().context("port")?;
            let net = responder::start_network(base, port).await?;
            for h in &net.hosts {
                eprintln!("SIMULATED {:<26} on {}", h.persona.name, h.addr);
            }
            tokio::signal::ctrl_c()
                .await
                .context("waiting for ctrl-c")?;
            net.shutdown().await;
        }
        _ => bail!("usage: responder list | one <persona> <ip:port> | all <base-ip> <port>"),
    }
    Ok(())
}
