//! The texts every human-facing output shows for a record (CSV, HTML, the terminal summary, diff),
//! written once so they cannot drift apart.

use std::io::IsTerminal;

use crate::model::HostResult;

/// The OS name a person reads: the normalised product (`Windows 7 SP1`), else the host's own
/// NativeOS string.
pub fn os_name(h: &HostResult) -> Option<&str> {
    h.os.product.as_deref().or(h.os.native_os.as_deref())
}

/// [`os_name`] with the NTLM version when the host gave one: `Windows 7 SP1 (6.1.7601)`.
pub fn os_with_version(h: &HostResult) -> String {
    let name = os_name(h).unwrap_or_default();
    match (&h.os.ntlm_version, name.is_empty()) {
        (Some(v), true) => v.clone(),
        (Some(v), false) => format!("{name} ({v})"),
        (None, _) => name.to_string(),
    }
}

/// The MS17-010 verdict, with the reason when it is `unknown`: `unknown: timeout-after-peek`.
pub fn ms17_text(h: &HostResult) -> String {
    crate::checks::ms17_010::cell(h)
}

/// The DoublePulsar verdict, with the architecture when present: `present (x64)`.
pub fn dp_text(h: &HostResult) -> String {
    crate::checks::doublepulsar::cell(h)
}

/// Whether standard error may be coloured: a terminal, and no non-empty `NO_COLOR`
/// (<https://no-color.org>).
pub fn color_on_stderr() -> bool {
    color_allowed() && std::io::stderr().is_terminal()
}

/// False when `NO_COLOR` is set to anything but the empty string.
pub fn color_allowed() -> bool {
    !std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Escape text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}
