//! The SMB1 access audit as `smb1scan clients` reads it: event 3000 of the
//! Microsoft-Windows-SMBServer/Audit log ("SMB1 access", data field `ClientName`), written once
//! `Set-SmbServerConfiguration -AuditSmb1Access $true` is set, from
//! - `.evtx` files (omerbenamram's `evtx` crate renders each record as event XML), and
//! - the XML of `wevtutil qe Microsoft-Windows-SMBServer/Audit /f:xml` or
//!   `Get-WinEvent ... | ForEach-Object { $_.ToXml() }` (one or more `<Event>` elements, with or
//!   without an enclosing element).
//!
//! Both end in [`parse_events`] over the event XML (schema
//! `http://schemas.microsoft.com/win/2004/08/events/event`). An event says the client used SMB1
//! with that server, not which dialects it offered: each is a session of reason
//! `log-without-dialects`.

use std::collections::HashMap;
use std::path::Path;

use quick_xml::events::Event as XmlEvent;
use quick_xml::Reader;

use super::flow::{Micros, PairFacts, SessionClass};
use super::verdict::UnknownReason;
use super::Problem;

/// Event ID of "SMB1 access" in Microsoft-Windows-SMBServer/Audit.
pub const EVENT_SMB1_ACCESS: u32 = 3000;
/// The provider that writes it.
pub const PROVIDER: &str = "Microsoft-Windows-SMBServer";
/// Problems listed per input before the rest are only counted.
#[cfg_attr(not(feature = "evtx"), allow(dead_code))]
const MAX_PROBLEM_LINES: usize = 5;

/// One event as read from its XML.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditEvent {
    /// System/Provider@Name.
    pub provider: String,
    /// System/EventID.
    pub event_id: Option<u32>,
    /// System/TimeCreated@SystemTime, as microseconds since the epoch.
    pub time: Option<Micros>,
    /// System/Computer: the server that logged it.
    pub computer: String,
    /// EventData/Data[@Name='ClientName'].
    pub client_name: Option<String>,
}

impl AuditEvent {
    /// True for an SMB1 access event.
    pub fn is_smb1_access(&self) -> bool {
        self.event_id == Some(EVENT_SMB1_ACCESS) && self.provider.eq_ignore_ascii_case(PROVIDER)
    }
}

/// Every `<Event>` in `xml`, in order. Malformed XML ends the read with an error after the
/// events before it.
pub fn parse_events(xml: &str) -> (Vec<AuditEvent>, Option<String>) {
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    let mut cur: Option<AuditEvent> = None;
    let mut field: Option<&'static str> = None;
    loop {
        let ev = match reader.read_event() {
            Ok(e) => e,
            Err(e) => {
                return (
                    out,
                    Some(format!(
                        "malformed XML at byte {}: {e}",
                        reader.buffer_position()
                    )),
                )
            }
        };
        match ev {
            XmlEvent::Start(e) | XmlEvent::Empty(e) => {
                let name = e.local_name();
                match name.as_ref() {
                    b"Event" => cur = Some(AuditEvent::default()),
                    b"Provider" => {
                        if let (Some(c), Some(v)) = (cur.as_mut(), attr(&e, b"Name")) {
                            c.provider = v;
                        }
                    }
                    b"TimeCreated" => {
                        if let (Some(c), Some(v)) = (cur.as_mut(), attr(&e, b"SystemTime")) {
                            c.time = parse_time(&v);
                        }
                    }
                    b"EventID" => field = Some("EventID"),
                    b"Computer" => field = Some("Computer"),
                    b"Data" => {
                        field = (attr(&e, b"Name").as_deref() == Some("ClientName"))
                            .then_some("ClientName")
                    }
                    _ => field = None,
                }
            }
            XmlEvent::Text(t) => {
                let (Some(c), Some(f)) = (cur.as_mut(), field) else {
                    continue;
                };
                let text = match t.decode() {
                    Ok(s) => quick_xml::escape::unescape(&s)
                        .map(|u| u.into_owned())
                        .unwrap_or_else(|_| s.into_owned()),
                    Err(_) => continue,
                };
                let text = text.trim().to_string();
                match f {
                    "EventID" => c.event_id = text.parse().ok(),
                    "Computer" => c.computer = text,
                    "ClientName" => c.client_name = Some(text).filter(|s| !s.is_empty()),
                    _ => {}
                }
            }
            XmlEvent::End(e) => {
                field = None;
                if e.local_name().as_ref() == b"Event" {
                    if let Some(c) = cur.take() {
                        out.push(c);
                    }
                }
            }
            XmlEvent::Eof => break,
            _ => {}
        }
    }
    (out, None)
}

fn attr(e: &quick_xml::events::BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

fn parse_time(s: &str) -> Option<Micros> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_micros())
}

/// SMB1 access events, grouped by (server, client).
#[derive(Debug, Default)]
pub struct AuditPairs {
    /// (Computer, ClientName) -> facts.
    pub pairs: HashMap<(String, String), PairFacts>,
    /// Events read, of any kind.
    pub events: u64,
    /// SMB1 access events counted.
    pub smb1_events: u64,
    /// Events not counted because the pair table was full.
    pub not_counted: u64,
}

impl AuditPairs {
    /// Adds the SMB1 access events of `events`, seen in `source`.
    pub fn add(&mut self, events: &[AuditEvent], source: &str, max_pairs: usize) {
        let source: std::sync::Arc<str> = source.into();
        for e in events {
            self.events += 1;
            if !e.is_smb1_access() {
                continue;
            }
            self.smb1_events += 1;
            let client = e
                .client_name
                .clone()
                .unwrap_or_else(|| "(not logged)".into());
            let key = (e.computer.clone(), client.clone());
            if !self.pairs.contains_key(&key) && self.pairs.len() >= max_pairs {
                self.not_counted += 1;
                continue;
            }
            let p = self.pairs.entry(key).or_default();
            p.sessions += 1;
            p.add_session(SessionClass::Unknown(UnknownReason::LogWithoutDialects));
            p.client_log_name.get_or_insert_with(|| client.into());
            if let Some(t) = e.time {
                p.first_seen = Some(p.first_seen.map_or(t, |f| f.min(t)));
                p.last_seen = Some(p.last_seen.map_or(t, |l| l.max(t)));
            }
            p.add_source(&source);
        }
    }
}

/// Reads an event-XML file (wevtutil /f:xml, Get-WinEvent ToXml()).
pub fn read_xml_file(
    path: &Path,
    into: &mut AuditPairs,
    max_pairs: usize,
    problems: &mut Vec<Problem>,
) -> std::io::Result<()> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path)?;
    let text = decode_text(&bytes);
    let (events, err) = parse_events(&text);
    if let Some(e) = err {
        problems.push(Problem::new(
            &name,
            format!("{e}; the {} events before it were read", events.len()),
        ));
    }
    if events.is_empty() && problems.iter().all(|p| p.input != name) {
        problems.push(Problem::new(
            &name,
            "no <Event> element: not the XML of an event log",
        ));
    }
    problems.extend(not_an_smb1_audit(&name, &events, problems));
    into.add(&events, &name, max_pairs);
    Ok(())
}

/// The problem line of an audit input none of whose events comes from the SMBServer provider
/// (a Security log, an empty export): it shows no SMB1 client, and that is not evidence that
/// there is none, so the run must not read as clean. `None` when an SMBServer event is there,
/// or when the input already has a problem explaining why nothing was read.
pub fn not_an_smb1_audit(
    name: &str,
    events: &[AuditEvent],
    problems: &[Problem],
) -> Option<Problem> {
    if events
        .iter()
        .any(|e| e.provider.eq_ignore_ascii_case(PROVIDER))
    {
        return None;
    }
    if events.is_empty() {
        if problems.iter().any(|p| p.input == name) {
            return None;
        }
        return Some(Problem::new(
            name,
            "the log holds no event: an SMB1 access audit that recorded nothing cannot be told from one that was never turned on (Get-SmbServerConfiguration shows AuditSmb1Access); no SMB1 client is shown either way",
        ));
    }
    Some(Problem::new(
        name,
        format!(
            "{} events read, none from {PROVIDER}: not the SMB1 access audit (Microsoft-Windows-SMBServer/Audit), so this log shows no SMB1 client either way",
            events.len()
        ),
    ))
}

/// Text of an XML file: UTF-8 (with or without BOM) or UTF-16LE with BOM (what PowerShell's
/// `Out-File` writes by default).
fn decode_text(b: &[u8]) -> String {
    if let Some(rest) = b.strip_prefix(&[0xFF, 0xFE]) {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| {
                u16::from_le_bytes([
                    c.first().copied().unwrap_or(0),
                    c.get(1).copied().unwrap_or(0),
                ])
            })
            .collect();
        return String::from_utf16_lossy(&units);
    }
    let b = b.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(b);
    String::from_utf8_lossy(b).into_owned()
}

/// Without the `evtx` feature: an `.evtx` input is a problem line saying how to read it.
#[cfg(not(feature = "evtx"))]
pub fn read_evtx_file(
    path: &Path,
    _into: &mut AuditPairs,
    _max_pairs: usize,
    problems: &mut Vec<Problem>,
) -> std::io::Result<()> {
    problems.push(Problem::new(
        &path.display().to_string(),
        "this smb1scan was built without .evtx support (cargo install --features evtx); \
         export the log as XML instead: wevtutil qe Microsoft-Windows-SMBServer/Audit /f:xml",
    ));
    Ok(())
}

/// Without the `evtx` feature: nothing is read.
#[cfg(not(feature = "evtx"))]
pub fn read_evtx_bytes(_data: &[u8], name: &str, problems: &mut Vec<Problem>) -> Vec<AuditEvent> {
    problems.push(Problem::new(name, "built without .evtx support"));
    Vec::new()
}

/// Reads an `.evtx` file record by record; a record or chunk that cannot be read is a problem
/// (the first few listed, the rest counted) and the read goes on with the next. Chunk checksums
/// are checked first, so a damaged chunk is refused before it is decoded; and because the
/// decoder has been seen to panic on damaged data that passes (arithmetic overflow in evtx 0.8's
/// string reader), a panic inside it ends that file's read as a problem, not the run.
#[cfg(feature = "evtx")]
pub fn read_evtx_file(
    path: &Path,
    into: &mut AuditPairs,
    max_pairs: usize,
    problems: &mut Vec<Problem>,
) -> std::io::Result<()> {
    let name = path.display().to_string();
    let mut local = Vec::new();
    // The default hook would print the decoder's panic as if smb1scan had crashed; the problem
    // line below says what happened instead.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read_evtx_records(evtx::EvtxParser::from_path(path), &name, &mut local)
    }));
    std::panic::set_hook(hook);
    problems.append(&mut local);
    match outcome {
        Ok(events) => {
            problems.extend(not_an_smb1_audit(&name, &events, problems));
            into.add(&events, &name, max_pairs)
        }
        Err(_) => problems.push(Problem::new(
            &name,
            "the evtx decoder broke down on damaged data (an internal failure of the evtx crate); no event of this file was counted",
        )),
    }
    Ok(())
}

/// The events of an `.evtx` image in memory, as [`read_evtx_file`] reads a file (the fuzz
/// target's entry): problems pushed, never a panic.
#[cfg(feature = "evtx")]
pub fn read_evtx_bytes(data: &[u8], name: &str, problems: &mut Vec<Problem>) -> Vec<AuditEvent> {
    let mut local = Vec::new();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read_evtx_records(
            evtx::EvtxParser::from_read_seek(std::io::Cursor::new(data.to_vec())),
            name,
            &mut local,
        )
    }));
    problems.append(&mut local);
    outcome.unwrap_or_else(|_| {
        problems.push(Problem::new(
            name,
            "the evtx decoder broke down on damaged data",
        ));
        Vec::new()
    })
}

#[cfg(feature = "evtx")]
fn read_evtx_records<T: std::io::Read + std::io::Seek>(
    parser: evtx::err::Result<evtx::EvtxParser<T>>,
    name: &str,
    problems: &mut Vec<Problem>,
) -> Vec<AuditEvent> {
    let settings = evtx::ParserSettings::new()
        .num_threads(1)
        .validate_checksums(true);
    let mut parser = match parser {
        Ok(p) => p.with_configuration(settings),
        Err(e) => {
            problems.push(Problem::new(
                name,
                format!("not a readable .evtx file: {e}"),
            ));
            return Vec::new();
        }
    };
    let mut bad = 0usize;
    let mut events = Vec::new();
    for r in parser.records() {
        match r {
            Ok(rec) => {
                let (mut ev, err) = parse_events(&rec.data);
                if let Some(e) = err {
                    bad += 1;
                    if bad <= MAX_PROBLEM_LINES {
                        problems.push(Problem::new(
                            name,
                            format!("record {}: {e} (skipped)", rec.event_record_id),
                        ));
                    }
                }
                events.append(&mut ev);
            }
            Err(e) => {
                bad += 1;
                if bad <= MAX_PROBLEM_LINES {
                    problems.push(Problem::new(
                        name,
                        format!(
                            "a record or chunk could not be read (skipped): {}",
                            error_chain(&e)
                        ),
                    ));
                }
            }
        }
    }
    if bad > MAX_PROBLEM_LINES {
        problems.push(Problem::new(
            name,
            format!(
                "{} more records or chunks could not be read (skipped)",
                bad - MAX_PROBLEM_LINES
            ),
        ));
    }
    events
}

/// An error with its causes ("Failed to parse chunk number 0: ... checksum ..."): the outer
/// message of the evtx crate alone does not say what was wrong.
#[cfg(feature = "evtx")]
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Event 3000 as Get-WinEvent's ToXml() writes it (schema
    /// http://schemas.microsoft.com/win/2004/08/events/event; System fields of the
    /// Microsoft-Windows-SMBServer provider, EventData with the one field ClientName).
    pub const EVENT_3000: &str = r#"<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-SMBServer' Guid='{D48CE617-33A2-4BC3-A5C7-11AA4F29619E}'/><EventID>3000</EventID><Version>0</Version><Level>4</Level><Task>0</Task><Opcode>0</Opcode><Keywords>0x80000000000000</Keywords><TimeCreated SystemTime='2024-03-05T08:15:30.1234567Z'/><EventRecordID>42</EventRecordID><Correlation/><Execution ProcessID='4' ThreadID='1234'/><Channel>Microsoft-Windows-SMBServer/Audit</Channel><Computer>FS01.ward.example</Computer><Security UserID='S-1-5-18'/></System><EventData><Data Name='ClientName'>10.20.30.40</Data></EventData></Event>"#;

    #[test]
    fn event_3000_fields() {
        let (ev, err) = parse_events(EVENT_3000);
        assert_eq!(err, None);
        assert_eq!(ev.len(), 1);
        let e = &ev[0];
        assert!(e.is_smb1_access());
        assert_eq!(e.computer, "FS01.ward.example");
        assert_eq!(e.client_name.as_deref(), Some("10.20.30.40"));
        assert_eq!(e.time, Some(1_709_626_530_123_456));
    }

    #[test]
    fn other_events_and_bad_xml() {
        let other = EVENT_3000.replace("<EventID>3000</EventID>", "<EventID>3001</EventID>");
        let text = format!("{EVENT_3000}\n{other}\n<Event><System>");
        let (ev, err) = parse_events(&text);
        assert_eq!(ev.len(), 2);
        assert!(!ev[1].is_smb1_access());
        // An unterminated element at the end: quick-xml reports it at EOF or not at all; the
        // two whole events are kept either way.
        let _ = err;
        let (ev, err) = parse_events("<Event><System></Event>");
        assert!(err.is_some() || ev.len() <= 1);
    }

    #[test]
    fn pairs_from_events() {
        let mut a = AuditPairs::default();
        let (ev, _) = parse_events(&format!("<Events>{EVENT_3000}{EVENT_3000}</Events>"));
        a.add(&ev, "audit.xml", 10);
        assert_eq!(a.smb1_events, 2);
        let p = &a.pairs[&("FS01.ward.example".to_string(), "10.20.30.40".to_string())];
        assert_eq!(p.sessions, 2);
        assert_eq!(p.unknown_reason, Some(UnknownReason::LogWithoutDialects));
    }

    #[test]
    fn utf16_file_text() {
        let mut b = vec![0xFF, 0xFE];
        for u in "<Event/>".encode_utf16() {
            b.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(decode_text(&b), "<Event/>");
    }
}
