//! Wireshark dissects every simulated host's answers without a malformed packet or an SMB expert
//! warning. Captures on `lo` with tshark while a scanner-like client talks to each persona, then
//! reads the capture back. Needs root and tshark; prints why and passes when either is missing.
#![forbid(unsafe_code)]

use smb1scan_responder as responder;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::Duration;

use smb1scan_protocol::nbss::build_nbss_session_message;
use smb1scan_protocol::ntlmssp::{
    build_ntlmssp_authenticate, build_ntlmssp_negotiate, parse_ntlmssp_challenge,
};
use smb1scan_protocol::smb1::header::{flags2, parse_smb1_header, Smb1Ids};
use smb1scan_protocol::smb1::negotiate::build_smb1_negotiate_request_with_flags2;
use smb1scan_protocol::smb1::session_setup::{
    build_smb1_session_setup_extended, parse_smb1_session_setup_response,
};
use smb1scan_protocol::smb1::trans::build_smb1_peek_named_pipe_fid0;
use smb1scan_protocol::smb1::trans2::build_smb1_doublepulsar_ping;
use smb1scan_protocol::smb1::tree_connect::build_smb1_tree_connect_andx;
use smb1scan_protocol::smb2::negotiate::{build_smb2_negotiate_request, Smb2Dialect};
use smb1scan_protocol::spnego::{
    build_spnego_neg_token_init, build_spnego_neg_token_resp, spnego_find_ntlmssp,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn tshark_usable() -> Result<(), String> {
    let out = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&out.stdout).trim() != "0" {
        return Err("not root (capturing on lo needs it)".into());
    }
    Command::new("tshark")
        .arg("-v")
        .output()
        .map_err(|e| format!("tshark not runnable: {e}"))?;
    Ok(())
}

/// Sends one message and returns the reply, or None on EOF/reset/timeout.
async fn send(s: &mut TcpStream, msg: &[u8]) -> Option<Vec<u8>> {
    s.write_all(&build_nbss_session_message(msg)).await.ok()?;
    let fut = async {
        let mut h = [0u8; 4];
        s.read_exact(&mut h).await?;
        let len = (usize::from(h[1]) << 16) | (usize::from(h[2]) << 8) | usize::from(h[3]);
        let mut b = vec![0u8; len];
        s.read_exact(&mut b).await?;
        Ok::<_, std::io::Error>(b)
    };
    tokio::time::timeout(Duration::from_millis(500), fut)
        .await
        .ok()?
        .ok()
}

fn ids(uid: u16, tid: u16, mid: u16) -> Smb1Ids {
    Smb1Ids {
        tid,
        pid: 0xfeff,
        uid,
        mid,
    }
}

/// What the scanner does: SMB1 negotiate, NTLMSSP anonymous logon, IPC$, peek, ping; then SMB2
/// negotiate (all dialects, and 3.1.1 alone) and SMB2 session setup.
async fn talk(addr: SocketAddr) {
    let f2 = flags2::UNICODE | flags2::NT_STATUS | flags2::EXTENDED_SECURITY | flags2::LONG_NAMES;
    if let Ok(mut s) = TcpStream::connect(addr).await {
        let neg = build_smb1_negotiate_request_with_flags2(&["NT LM 0.12"], ids(0, 0, 1), f2);
        if send(&mut s, &neg).await.is_some() {
            let blob = build_spnego_neg_token_init(&build_ntlmssp_negotiate());
            let m = send(
                &mut s,
                &build_smb1_session_setup_extended(ids(0, 0, 2), &blob),
            )
            .await;
            let parsed = m
                .as_deref()
                .and_then(|m| parse_smb1_session_setup_response(m).ok());
            if let Some((h, r)) = parsed {
                if let Some(chal) = spnego_find_ntlmssp(r.security_blob)
                    .and_then(|n| parse_ntlmssp_challenge(n).ok())
                {
                    let auth = build_spnego_neg_token_resp(&build_ntlmssp_authenticate(
                        &chal, None, [7; 8], 0,
                    ));
                    let uid = h.uid;
                    send(
                        &mut s,
                        &build_smb1_session_setup_extended(ids(uid, 0, 3), &auth),
                    )
                    .await;
                    let tc = build_smb1_tree_connect_andx(ids(uid, 0, 4), "\\\\127.0.0.1\\IPC$");
                    let tid = send(&mut s, &tc)
                        .await
                        .and_then(|m| parse_smb1_header(&m).ok().map(|(h, _)| h.tid))
                        .unwrap_or(0);
                    send(&mut s, &build_smb1_peek_named_pipe_fid0(ids(uid, tid, 5))).await;
                    send(&mut s, &build_smb1_doublepulsar_ping(ids(uid, tid, 65))).await;
                }
            }
        }
    }
    let all = [
        Smb2Dialect::SMB2_0_2,
        Smb2Dialect::SMB2_1,
        Smb2Dialect::SMB3_0,
        Smb2Dialect::SMB3_0_2,
        Smb2Dialect::SMB3_1_1,
    ];
    for dialects in [&all[..], &[Smb2Dialect::SMB3_1_1][..]] {
        if let Ok(mut s) = TcpStream::connect(addr).await {
            let n = build_smb2_negotiate_request(dialects, 0, [1; 16], [2; 32]);
            if send(&mut s, &n).await.is_some() {
                let blob = build_spnego_neg_token_init(&build_ntlmssp_negotiate());
                let mut m = vec![0xFE, b'S', b'M', b'B', 64, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0];
                m.extend_from_slice(&[0; 8]);
                m.extend_from_slice(&1u64.to_le_bytes());
                m.extend_from_slice(&[0; 32]);
                m.extend_from_slice(&[25, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 88, 0]);
                m.extend_from_slice(&(blob.len() as u16).to_le_bytes());
                m.extend_from_slice(&[0; 8]);
                m.extend_from_slice(&blob);
                send(&mut s, &m).await;
            }
        }
    }
}

fn tshark_lines(args: &[&str]) -> Vec<String> {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .expect("tshark runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_persona_dissects_cleanly_in_wireshark() {
    if let Err(why) = tshark_usable() {
        println!("SKIPPED every_persona_dissects_cleanly_in_wireshark: {why}");
        return;
    }
    // A free port, then every persona on 127.0.88.x with it.
    let probe = std::net::TcpListener::bind("127.0.88.1:0").expect("bind");
    let port = probe.local_addr().expect("addr").port();
    drop(probe);
    let net = responder::start_network(Ipv4Addr::new(127, 0, 88, 1), port)
        .await
        .expect("start");
    let pcap = std::env::temp_dir().join(format!("smb1scan-responder-{port}.pcapng"));
    let pcap_s = pcap.to_string_lossy().into_owned();
    let filter = format!("net 127.0.88.0/24 and tcp port {port}");
    let mut cap = Command::new("tshark")
        .args(["-i", "lo", "-f", &filter, "-w", &pcap_s])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tshark starts");
    // tshark says "Capturing on ..." once the capture is live.
    let stderr = cap.stderr.take().expect("stderr");
    let ready = tokio::task::spawn_blocking(move || {
        let mut r = BufReader::new(stderr);
        let mut line = String::new();
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            if line.contains("Capturing on") {
                return Some(r);
            }
            line.clear();
        }
        None
    });
    let reader = tokio::time::timeout(Duration::from_secs(20), ready)
        .await
        .expect("tshark ready in time")
        .expect("join")
        .expect("tshark capturing");
    // "Capturing on" comes a moment before dumpcap's filter is live.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for h in &net.hosts {
        talk(h.addr).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = cap.id().to_string();
    Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    let _ = cap.wait();
    drop(reader);
    net.shutdown().await;

    let decode = format!("tcp.port=={port},nbss");
    let base = ["-r", &pcap_s, "-d", &decode];
    let count = |filter: &str| {
        let mut a = base.to_vec();
        a.extend(["-Y", filter, "-T", "fields", "-e", "frame.number"]);
        tshark_lines(&a).len()
    };
    let bad = {
        let mut a = base.to_vec();
        a.extend([
            "-Y",
            "_ws.malformed || (_ws.expert.severity >= 0x00600000 && !(tcp.flags.reset == 1))",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.col.Info",
        ]);
        tshark_lines(&a)
    };
    assert!(bad.is_empty(), "malformed or expert warnings: {bad:#?}");
    // The capture really holds the interesting answers, dissected as such.
    assert!(
        count("smb.nt_status == 0xc0000205 && smb.cmd == 0x25") >= 3,
        "vulnerable peeks"
    );
    assert!(
        count("smb.cmd == 0x32 && smb.mid == 81") >= 2,
        "DoublePulsar replies"
    );
    assert!(
        count("smb2.negotiate_context.type == 1") >= 2,
        "3.1.1 contexts"
    );
    assert!(
        count("ntlmssp.messagetype == 2") >= 10,
        "NTLMSSP challenges"
    );
    assert!(count("smb.error_class == 0x02") >= 2, "DOS errors");
    // Kept on failure for a look with Wireshark.
    let _ = std::fs::remove_file(&pcap);
}
