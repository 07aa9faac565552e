//! Signing not required (`--checks signing`): NTLM relay exposure from the SMB1 and SMB2
//! SecurityMode fields, as nmap's smb-security-mode and smb2-security-mode read them. No exchange
//! of its own: the shared negotiates already carry both SecurityModes, so [`Check::evaluate`]
//! reads them from the record and writes the `signing` section.

pub mod rules;

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::{Check, Column, FindingDef, NmapNode, NmapScript};
use crate::model::{HostResult, Signing as Mode};
use rules::{judge, ProtocolMode, RelayVerdict, Signing, SigningFamily};

/// The signing check.
pub struct SigningCheck;

/// The check's name: `--checks`, `checks`, and the record key of its section.
const NAME: &str = "signing";

/// The record's `signing` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// `signing-not-required`, `signing-required`, `unknown`, or `not-tested` (the port never
    /// answered, or the check was not selected).
    pub verdict: String,
    /// Why, when `unknown` or `not-tested`.
    pub reason: Option<String>,
    /// SMB1 signing in nmap smb-security-mode's words (`disabled`, `supported`, `required`,
    /// `not-spoken`, `unknown`).
    pub smb1: Option<Signing>,
    /// SMB2 signing in nmap smb2-security-mode's words.
    pub smb2: Option<Signing>,
    /// How to require signing on this host's OS family (data/checks/signing.toml), when the
    /// verdict is `signing-not-required`.
    pub remediation: Option<String>,
}

impl Section {
    fn not_tested(reason: &str) -> Self {
        Section {
            verdict: "not-tested".into(),
            reason: Some(reason.into()),
            smb1: None,
            smb2: None,
            remediation: None,
        }
    }
}

/// The section of a record, if the check ran.
pub fn section(h: &HostResult) -> Option<Section> {
    super::section(h, NAME)
}

fn verdict_is(h: &HostResult, v: RelayVerdict) -> bool {
    section(h).is_some_and(|s| s.verdict == v.as_str())
}

/// The family's command from data/checks/signing.toml (`families.<family>.command`).
fn remediation(f: SigningFamily) -> Option<String> {
    static TABLE: OnceLock<Option<toml::Table>> = OnceLock::new();
    TABLE
        .get_or_init(|| serde_json::from_str(rules::REMEDIATION_JSON).ok())
        .as_ref()?
        .get("families")?
        .get(f.as_str())?
        .get("command")?
        .as_str()
        .map(str::to_owned)
}

/// The section from what the shared negotiates learnt.
pub fn evaluate(h: &HostResult) -> Section {
    if !h.port_answered() {
        return Section::not_tested(&crate::model::enum_name(&h.status));
    }
    let smb1 = match (h.smb1.enabled, h.smb1.security_mode) {
        (Some(false), _) => ProtocolMode::NotSpoken,
        (_, Some(m)) => ProtocolMode::Mode(m),
        _ => ProtocolMode::Unknown,
    };
    let smb2 = match (h.smb2.enabled, h.smb2.signing) {
        (Some(false), _) => ProtocolMode::NotSpoken,
        (_, Some(Mode::Required)) => ProtocolMode::Mode(rules::SMB2_SIGNING_REQUIRED),
        (_, Some(Mode::Enabled)) => ProtocolMode::Mode(rules::SMB2_SIGNING_ENABLED),
        (_, Some(Mode::Disabled)) => ProtocolMode::Mode(0),
        _ => ProtocolMode::Unknown,
    };
    let f = judge(smb1, smb2);
    Section {
        verdict: f.relay.as_str().into(),
        reason: f.reason.map(|r| r.as_str().into()),
        smb1: Some(f.smb1),
        smb2: Some(f.smb2),
        remediation: (f.relay == RelayVerdict::SigningNotRequired)
            .then(|| remediation(rules::family(h.os.samba, super::ntlm_version(h))))
            .flatten(),
    }
}

fn text(h: &HostResult) -> String {
    let word = |s: Option<Signing>| s.map_or("-", Signing::as_str);
    match section(h) {
        Some(s) => format!(
            "SMB signing {} (SMB1 {}, SMB2 {})",
            s.verdict,
            word(s.smb1),
            word(s.smb2)
        ),
        None => "SMB signing not-tested".into(),
    }
}

/// nmap's `smb-security-mode` (SMB1 SecurityMode, nmap 7.93's words and warnings; no
/// `account_used`: smb1scan logs on its own way) and `smb2-security-mode` (the highest dialect's
/// signing, keyed by nmap's dialect name `311`), from what the shared negotiates learnt.
pub fn nmap_scripts(h: &HostResult) -> Vec<NmapScript> {
    let mut out = Vec::new();
    if let (Some(true), Some(m)) = (h.smb1.enabled, h.smb1.security_mode) {
        let (auth, auth_warn) = if m & 0x01 != 0 {
            ("user", None)
        } else {
            ("share", Some("dangerous"))
        };
        let (cr, cr_warn) = if m & 0x02 != 0 {
            ("supported", None)
        } else {
            ("plaintext-only", Some("dangerous"))
        };
        let (sign, sign_warn) = if m & 0x08 != 0 {
            ("required", None)
        } else if m & 0x04 != 0 {
            ("supported", None)
        } else {
            ("disabled", Some("dangerous, but default"))
        };
        let rows = [
            ("authentication_level", auth, auth_warn),
            ("challenge_response", cr, cr_warn),
            ("message_signing", sign, sign_warn),
        ];
        out.push(NmapScript {
            id: "smb-security-mode".into(),
            lines: rows
                .iter()
                .map(|(k, v, w)| match w {
                    Some(w) => format!("  {k}: {v} ({w})"),
                    None => format!("  {k}: {v}"),
                })
                .collect(),
            trailing_newline: false,
            nodes: rows
                .iter()
                .map(|(k, v, _)| NmapNode::Elem(Some((*k).into()), (*v).into()))
                .collect(),
        });
    }
    if let (Some(true), Some(sig), Some(d)) = (
        h.smb2.enabled,
        h.smb2.signing,
        h.smb2.max_dialect.as_deref(),
    ) {
        let text = match sig {
            Mode::Required => "Message signing enabled and required",
            Mode::Enabled => "Message signing enabled but not required",
            Mode::Disabled => "Message signing is disabled and not required!",
        };
        let key: String = d.chars().filter(char::is_ascii_digit).collect();
        out.push(NmapScript {
            id: "smb2-security-mode".into(),
            lines: vec![format!("  {key}: "), format!("    {text}")],
            trailing_newline: false,
            nodes: vec![NmapNode::Table(
                Some(key),
                vec![NmapNode::Elem(None, text.into())],
            )],
        });
    }
    out
}

static FINDINGS: [FindingDef; 1] = [FindingDef {
    name: "signing-not-required",
    help: "SMB signing not required on a protocol the host speaks (NTLM relay)",
    order: 30,
    severity: 45,
    shows: |h| verdict_is(h, RelayVerdict::SigningNotRequired),
    fixed: |h| verdict_is(h, RelayVerdict::SigningRequired),
    text,
}];

static COLUMNS: [Column; 4] = [
    Column {
        name: "signing",
        cell: |h| section(h).map(|s| s.verdict).unwrap_or_default(),
    },
    Column {
        name: "signing_reason",
        cell: |h| section(h).and_then(|s| s.reason).unwrap_or_default(),
    },
    Column {
        name: "signing_smb1",
        cell: |h| {
            section(h)
                .and_then(|s| s.smb1)
                .map(|s| s.as_str().to_string())
                .unwrap_or_default()
        },
    },
    Column {
        name: "signing_smb2",
        cell: |h| {
            section(h)
                .and_then(|s| s.smb2)
                .map(|s| s.as_str().to_string())
                .unwrap_or_default()
        },
    },
];

impl Check for SigningCheck {
    fn name(&self) -> &'static str {
        NAME
    }
    fn title(&self) -> &'static str {
        "SMB signing"
    }
    fn findings(&self) -> &'static [FindingDef] {
        &FINDINGS
    }
    fn csv_columns(&self) -> &'static [Column] {
        &COLUMNS
    }
    fn evaluate(&self, h: &mut HostResult) {
        let s = evaluate(h);
        super::set_section(h, NAME, &s);
    }
    /// `require SMB signing: <the OS family's command>` (data/checks/signing.toml) when
    /// signing is not required and SMB1 is off: while SMB1 is on, turning it off comes first
    /// (the SMB1 check's actions), as the risk levels rank it (`low` = SMB1 off, signing not
    /// required). A record from before the check had its section is judged from its
    /// SecurityModes, as the check would have.
    fn remediation(&self, h: &HostResult) -> Option<String> {
        if h.smb1.enabled != Some(false) {
            return None;
        }
        // Not selected: the section says so, and carries no remediation.
        let s = section(h).unwrap_or_else(|| evaluate(h));
        s.remediation.map(|r| format!("require SMB signing: {r}"))
    }
    fn nmap_scripts(&self, h: &HostResult) -> Vec<NmapScript> {
        if !super::ran(h, NAME) {
            return Vec::new();
        }
        nmap_scripts(h)
    }
    fn deselect(&self, h: &mut HostResult) {
        super::set_section(h, NAME, &Section::not_tested("not-selected"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HostStatus;

    fn host(smb1: Option<u8>, smb1_on: Option<bool>, smb2: Option<Mode>) -> HostResult {
        let mut h = HostResult::new([10, 0, 0, 1].into(), 445, None);
        h.smb1.security_mode = smb1;
        h.smb1.enabled = smb1_on;
        h.smb2.enabled = Some(smb2.is_some());
        h.smb2.signing = smb2;
        h
    }

    /// The record's fields in, the section out: the lab's Samba servers (127.0.0.2 signing
    /// supported on both, 127.0.0.4 `server signing = mandatory`), SMB1 off, a closed port.
    #[test]
    fn signing_from_the_record() {
        let rows = [
            (
                host(Some(0x07), Some(true), Some(Mode::Enabled)),
                "signing-not-required",
            ),
            (
                host(Some(0x0f), Some(true), Some(Mode::Required)),
                "signing-required",
            ),
            (
                host(None, Some(false), Some(Mode::Required)),
                "signing-required",
            ),
            (host(None, None, Some(Mode::Required)), "unknown"),
        ];
        for (h, want) in rows {
            assert_eq!(evaluate(&h).verdict, want, "{:?}", h.smb1);
        }
        let mut closed = host(None, None, None);
        closed.status = HostStatus::Closed;
        let s = evaluate(&closed);
        assert_eq!(
            (s.verdict.as_str(), s.reason.as_deref()),
            ("not-tested", Some("closed"))
        );
    }

    #[test]
    fn signing_finding_and_remediation_through_the_registry() {
        let mut h = host(Some(0x07), Some(true), Some(Mode::Enabled));
        h.os.samba = true;
        crate::checks::Selection::default().apply(&mut h);
        let f: crate::report::policy::Finding = "signing-not-required".parse().unwrap();
        assert!(crate::report::policy::has_finding(&h, f));
        let s = section(&h).unwrap();
        assert!(s
            .remediation
            .unwrap()
            .contains("server signing = mandatory"));
        // Not selected: not-tested, never a verdict, never a finding.
        let mut h = host(Some(0x07), Some(true), Some(Mode::Enabled));
        crate::checks::Selection::parse(&["ms17-010".into()])
            .unwrap()
            .apply(&mut h);
        assert_eq!(section(&h).unwrap().verdict, "not-tested");
        assert!(!crate::report::policy::has_finding(&h, f));
    }
}
