//! The per-host table a person sees on a terminal: one line per host as it finishes, in columns
//! that fit the terminal (shortened with `…`, never wrapped). Chosen when standard output is a
//! terminal and no `-o` was given (`--format table` asks for it anywhere); a pipe gets JSON Lines.

use std::io::Write;

use super::summary::{colour_risk, fitted_line, table_cells, HEADER};
use super::Enriched;
use crate::error::{Error, Result};
use crate::model::HostStatus;

/// A streaming table writer.
pub struct TableSink {
    w: Box<dyn Write + Send>,
    widths: [usize; 5],
    color: bool,
    header_done: bool,
}

/// Column widths for a terminal `width` columns wide: RISK, HOST, OS, MS17-010, DOUBLEPULSAR.
/// The verdict columns keep the room of their longest text (an `unknown` always shows its
/// reason); HOST and OS share the rest, OS vanishing on a very narrow terminal.
pub fn widths_for(width: usize) -> [usize; 5] {
    let gaps = 2 * (HEADER.len() - 1);
    let (risk, ms17, dp) = (8, 32, 13);
    let rest = width.saturating_sub(gaps + risk + ms17 + dp);
    let host = (rest * 3 / 5).clamp(15, 40);
    let os = rest.saturating_sub(host + 2).min(30);
    if os < 8 {
        // Too narrow to read: no OS column, its room goes to HOST.
        return [risk, rest.max(15), 0, ms17, dp];
    }
    [risk, host, os, ms17, dp]
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
            text.push_str(fitted_line(&HEADER, &self.widths).trim_end());
            text.push('\n');
            self.header_done = true;
        }
        let cells = table_cells(e.host);
        let r = [&cells[0], &cells[1], &cells[2], &cells[3], &cells[4]].map(String::as_str);
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
        for width in [80usize, 90, 100, 132, 200] {
            let w = widths_for(width);
            let gaps = 2 * (w.iter().filter(|x| **x > 0).count() - 1);
            assert!(
                w.iter().sum::<usize>() + gaps <= width,
                "{width}: {w:?} is wider than the terminal"
            );
            // The longest MS17-010 text, `unknown: smb1-error-at-negotiate`, is never cut.
            assert!(w[3] >= 32, "{width}: {w:?}");
            assert!(w[1] >= 15, "{width}: an IPv4 address fits: {w:?}");
        }
    }
}
