//! Optional cross-check of the NEGOTIATE parsers against tshark on the real Windows and Samba
//! captures in `../shared/captures` (SOURCES.md there says where each came from). Every SMB1 and
//! SMB2 NEGOTIATE response in every capture is parsed by smb1scan's parsers and compared, field by
//! field, with what tshark's dissector reads from the same bytes.
//!
//! The captures are not part of the project and tshark may be missing: then the test prints that
//! it skipped and passes. Nothing is copied from the captures into the repository.

use std::path::PathBuf;
use std::process::Command;

use smb1scan_protocol::message::{parse_smb_message, SmbMessage};
use smb1scan_protocol::smb1::negotiate::{parse_smb1_negotiate_response, Smb1NegotiateResponse};
use smb1scan_protocol::smb2::negotiate::parse_smb2_negotiate_response;

const FIELDS: &[&str] = &[
    "frame.number",
    "tcp.payload",
    "smb.dialect.index",
    "smb.sm",
    "smb.max_mpx_count",
    "smb.server_cap",
    "smb.challenge_length",
    "smb.primary_domain",
    "smb.server",
    "smb.server_timezone",
    "smb2.dialect",
    "smb2.sec_mode",
    "smb2.capabilities",
    "smb2.negotiate_context.count",
];

/// The captures beside the clone, or `None` (a loud skip). Under CI, which has them, a missing
/// folder fails the test instead of passing it.
fn captures_dir() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/captures");
    if d.is_dir() {
        return Some(d);
    }
    let ci = std::env::var("CI")
        .is_ok_and(|v| !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false")));
    assert!(!ci, "{} is missing, and CI is set", d.display());
    eprintln!("SKIPPED: {} not present", d.display());
    None
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn num(s: &str) -> Option<u64> {
    let s = s.split(',').next()?.trim();
    if s.is_empty() {
        return None;
    }
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

#[test]
fn negotiate_responses_agree_with_tshark() {
    let Some(dir) = captures_dir() else {
        println!("SKIPPED: ../shared/captures not present");
        return;
    };
    if Command::new("tshark").arg("-v").output().is_err() {
        println!("skipped: tshark not installed");
        return;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read captures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    files.sort();
    let (mut smb1_checked, mut smb2_checked) = (0, 0);
    for f in &files {
        let mut args: Vec<String> = vec![
            "-r".into(),
            f.display().to_string(),
            "-Y".into(),
            "(smb.cmd == 0x72 && smb.flags.response == 1) || \
             (smb2.cmd == 0 && smb2.flags.response == 1)"
                .into(),
            "-T".into(),
            "fields".into(),
            "-E".into(),
            "separator=/t".into(),
        ];
        for fl in FIELDS {
            args.push("-e".into());
            args.push((*fl).into());
        }
        let out = Command::new("tshark").args(&args).output().expect("tshark");
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines() {
            let v: Vec<&str> = line.split('\t').collect();
            let get = |k: &str| {
                FIELDS
                    .iter()
                    .position(|x| *x == k)
                    .and_then(|i| v.get(i).copied())
                    .unwrap_or("")
            };
            let at = format!("{} frame {}", f.display(), get("frame.number"));
            // The first NBSS message in the segment; skip replies split over several segments.
            let Some(seg) = unhex(get("tcp.payload").split(',').next().unwrap_or("")) else {
                continue;
            };
            let Some(len) = seg
                .get(1..4)
                .map(|b| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
            else {
                continue;
            };
            let Some(msg) = seg.get(4..4 + len) else {
                println!("{at}: reply spans segments, not checked");
                continue;
            };
            match parse_smb_message(msg).unwrap_or_else(|e| panic!("{at}: {e}")) {
                SmbMessage::Smb1(..) => {
                    let (_, r) =
                        parse_smb1_negotiate_response(msg).unwrap_or_else(|e| panic!("{at}: {e}"));
                    assert_eq!(
                        r.dialect_index().map(u64::from),
                        num(get("smb.dialect.index")),
                        "{at}: dialect index"
                    );
                    if let Smb1NegotiateResponse::NtLm(n) = &r {
                        assert_eq!(Some(u64::from(n.security_mode)), num(get("smb.sm")), "{at}");
                        assert_eq!(
                            Some(u64::from(n.max_mpx_count)),
                            num(get("smb.max_mpx_count")),
                            "{at}"
                        );
                        assert_eq!(
                            Some(u64::from(n.capabilities)),
                            num(get("smb.server_cap")),
                            "{at}"
                        );
                        assert_eq!(
                            Some(i64::from(n.server_time_zone)),
                            get("smb.server_timezone").trim().parse().ok(),
                            "{at}"
                        );
                        let dom = get("smb.primary_domain");
                        assert_eq!(n.domain_name().unwrap_or(""), dom, "{at}: domain");
                        let srv = get("smb.server");
                        assert_eq!(n.server_name().unwrap_or(""), srv, "{at}: server");
                        println!(
                            "{at}: NT LM idx {:?} sm 0x{:02x} caps 0x{:08x} ext {} domain {:?} \
                             server {:?}",
                            n.dialect_index,
                            n.security_mode,
                            n.capabilities,
                            n.is_extended_security(),
                            n.domain_name(),
                            n.server_name()
                        );
                    }
                    smb1_checked += 1;
                }
                SmbMessage::Smb2(..) => {
                    let (_, r) =
                        parse_smb2_negotiate_response(msg).unwrap_or_else(|e| panic!("{at}: {e}"));
                    assert_eq!(
                        Some(u64::from(r.dialect_revision.0)),
                        num(get("smb2.dialect")),
                        "{at}: dialect"
                    );
                    assert_eq!(
                        Some(u64::from(r.security_mode)),
                        num(get("smb2.sec_mode")),
                        "{at}"
                    );
                    assert_eq!(
                        Some(u64::from(r.capabilities)),
                        num(get("smb2.capabilities")),
                        "{at}"
                    );
                    let ctx = num(get("smb2.negotiate_context.count")).unwrap_or(0);
                    assert_eq!(r.negotiate_contexts.len() as u64, ctx, "{at}: contexts");
                    println!(
                        "{at}: SMB2 dialect {} sm 0x{:02x} contexts {}",
                        r.dialect_revision,
                        r.security_mode,
                        r.negotiate_contexts.len()
                    );
                    smb2_checked += 1;
                }
            }
        }
    }
    println!("checked {smb1_checked} SMB1 and {smb2_checked} SMB2 negotiate responses");
    assert!(smb1_checked >= 20, "expected the captures' SMB1 negotiates");
    assert!(smb2_checked >= 5, "expected the captures' SMB2 negotiates");
}
