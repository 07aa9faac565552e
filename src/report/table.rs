//! The per-host table a person sees on a terminal: one line per host as it finishes, in columns
//! that fit the terminal (shortened with `…`, never wrapped). Chosen when standard output is a
//! terminal and no `-o` was given (`--format table` asks for it anywhere); a pipe gets JSON Lines.

use std::io::Write;

use super::summary::{colour_risk, fitted_line, header, table_cells};
use super::Enriched;
use crate::checks::REGISTRY;
use crate::error::{Error, Result};
use crate::model::HostStatus;

/// A streaming table writer.
pub struct TableSink {
    w: Box<dyn Write + Send>,
    widths: Vec<usize>,
    color: bool,
    header_done: bool,
}

/// Column widths for a terminal `width` columns wide: RISK, HOST, OS, the checks' own columns
/// (MS17-010, DOUBLEPULSAR), FINDINGS. The checks' columns keep the room of their longest text
/// (an `unknown` always shows its reason); FINDINGS takes up to a third of the rest (it vanishes
/// below 10), HOST and OS share what remains, OS vanishing on a very narrow terminal.
pub fn widths_for(width: usize) -> Vec<usize> {
    let own: Vec<usize> = REGISTRY
        .iter()
        .filter_map(|c| c.table_column())
        .map(|(_, w)| w)
        .collect();
    let risk = 8;
    let gaps = 2 * (own.len() + 3);
    let mut rest = width.saturating_sub(gaps + risk + own.iter().sum::<usize>());
    let mut findings = (rest / 3).min(28);
    if findings < 10 {
        // No room: no FINDINGS column, its gap goes back.
        findings = 0;
        rest += 2;
    }
    let rest = rest.saturating_sub(findings);
    let host = (rest * 3 / 5).clamp(15, 40);
    let os = rest.saturating_sub(host + 2).min(30);
    let (host, os) = if os < 8 {
        // Too narrow to read: no OS column, its room goes to HOST.
        (rest.max(15), 0)
    } else {
        (host, os)
    };
    let mut w = vec![risk, host, os];
    w.extend(own);
    w.push(findings);
    w
}

/// The width of the terminal on standard output, else 80.
pub fn terminal_width() -> usize {
    terminal_size::terminal_size()
        .map(|(w, _)| usize::from(w.0))
        .filter(|w| *w >= 40)
        .unwrap_or(80)
}

impl TableSink {
    /// A table on `w`, `width` columns wide, the risk word coloured when `color`.
    pub fn new(w: Box<dyn Write + Send>, width: usize, color: bool) -> Self {
        TableSink {
            w,
            widths: widths_for(width),
            color,
            header_done: false,
        }
    }

    /// Write and flush one host's line (the header before the first). Targets that never
    /// answered (refused, filtered, unreachable) are left to the summary's counts: a /16 sweep
    /// would otherwise print tens of thousands of lines of silence.
    pub fn write(&mut self, e: &Enriched<'_>) -> Result<()> {
        if matches!(
            e.host.status,
            HostStatus::Closed | HostStatus::Filtered | HostStatus::Unreachable
        ) {
            return Ok(());
        }
        let mut text = String::new();
        if !self.header_done {
            text.push_str(fitted_line(&header(), &self.widths).trim_end());
            text.push('\n');
            self.header_done = true;
        }
        let cells = table_cells(e.host);
        let r: Vec<&str> = cells.iter().map(String::as_str).collect();
        text.push_str(&colour_risk(
            fitted_line(&r, &self.widths).trim_end(),
            self.color,
        ));
        text.push('\n');
        self.w
            .write_all(text.as_bytes())
            .and_then(|_| self.w.flush())
            .map_err(|err| Error::io("writing the table", err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_fit_the_terminal() {
        for width in [80usize, 90, 100, 120, 132, 200] {
            let w = widths_for(width);
            let gaps = 2 * (w.iter().filter(|x| **x > 0).count() - 1);
            assert!(
                w.iter().sum::<usize>() + gaps <= width,
                "{width}: {w:?} is wider than the terminal"
            );
            // The longest MS17-010 text, `unknown: smb1-error-at-negotiate`, is never cut.
            assert!(w[3] >= 32, "{width}: {w:?}");
            assert!(w[1] >= 15, "{width}: an IPv4 address fits: {w:?}");
            // FINDINGS is there from 120 columns on.
            assert!(width < 120 || w[5] >= 10, "{width}: {w:?}");
        }
    }

    /// At 120 columns a host's line carries the FINDINGS of the checks without a column of
    /// their own (here signing and anonymous, from the registry), and an undecided one as
    /// `<check>?`; nothing in the report names them.
    #[test]
    fn findings_column_from_the_registry() {
        use crate::model::{Exchange, HostResult, Signing, Step, StepName, StepOutcome};
        let mut h = HostResult::new([10, 0, 0, 7].into(), 445, None);
        h.status = HostStatus::Open;
        h.smb1.enabled = Some(true);
        h.smb1.security_mode = Some(0x03);
        h.smb2.enabled = Some(true);
        h.smb2.signing = Some(Signing::Enabled);
        let mut st = Step::new(
            StepName::Exchange(Exchange::SessionSetup),
            StepOutcome::Ok,
            1,
        );
        st.status = Some("0x00000000".into());
        st.detail = Some("anonymous".into());
        h.steps.push(st);
        let mut open = Step::new(StepName::Exchange(Exchange::PipeOpen), StepOutcome::Ok, 1);
        open.status = Some("0x00000000".into());
        open.detail = Some("browser: opened FID 0x4000, closed".into());
        h.steps.push(open);
        // The checks this host's record can decide (the others would be `<check>?`).
        let sel = crate::checks::Selection::parse(&[
            "smb1,ms17-010,doublepulsar,signing,anonymous".into(),
        ])
        .expect("checks");
        sel.apply(&mut h);
        let t = crate::report::remediation::table().expect("table");
        let e = crate::report::Enriched::new(t, &h);
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        struct W(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for W {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .map_err(|_| std::io::ErrorKind::Other)?
                    .extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut sink = TableSink::new(Box::new(W(buf.clone())), 120, false);
        sink.write(&e).expect("write");
        let text = String::from_utf8(buf.lock().expect("lock").clone()).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].ends_with("FINDINGS"), "{text}");
        assert!(lines[1].contains("signing-not-req"), "{text}");
        assert!(lines.iter().all(|l| l.chars().count() <= 120), "{text}");
        // The cells in full: the findings of both checks, in registry order.
        let cells = crate::report::summary::table_cells(&h);
        assert_eq!(
            cells.last().map(String::as_str),
            Some("signing-not-required anonymous-pipe")
        );
        // Undecided: the check's name with `?`, never an empty (clean-looking) cell.
        h.steps.truncate(1);
        h.steps[0].outcome = StepOutcome::Timeout;
        h.steps[0].status = None;
        h.smb1.security_mode = Some(0x0f);
        h.smb2.signing = Some(Signing::Required);
        sel.apply(&mut h);
        let cells = crate::report::summary::table_cells(&h);
        assert_eq!(cells.last().map(String::as_str), Some("anonymous?"));
    }
}
