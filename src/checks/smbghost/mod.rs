//! SMBGhost / SMBleed (`--checks smbghost`; CVE-2020-0796, CVE-2020-1206): SMB 3.1.1
//! compression offered by an affected Windows build. Its exchange ([`exchange`]) is a
//! COMPRESSION_CAPABILITIES context in the probe's shared SMB2 NEGOTIATE, recorded into the
//! `smbghost` section as it is answered; [`Check::evaluate`] then judges that with the build
//! (NTLMSSP version), the Samba flag and the server start time the shared steps learnt.
//! Compression offered with no build learnt is `unknown`, never vulnerable; an affected build
//! is `likely-vulnerable` (a read-only scan cannot see the update revision), or `unknown`
//! (`booted-after-fix`) when the server started after the fix was released.

pub mod exchange;
pub mod rules;

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use smb1scan_protocol::smb2::compression::algorithm;

use super::{Check, Column, FindingDef};
use crate::model::HostResult;
use rules::{GhostFinding, GhostInputs, GhostVerdict};

/// The check.
pub struct SmbGhost;

/// The check's name: `--checks`, `checks`, and the record key of its section.
const NAME: &str = "smbghost";

/// The record's `smbghost` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// CVE-2020-0796 (SMBGhost): `likely-vulnerable`, `not-vulnerable`, `unknown`, or
    /// `not-tested` (the port never answered, or the check was not selected).
    pub verdict: String,
    /// Why (always set unless `likely-vulnerable`): `no-smb2-answer`, `no-smb311`,
    /// `compression-not-offered`, `build-unknown`, `build-not-affected`, `not-windows`,
    /// `booted-after-fix`; `not-tested`: `not-selected` or the port's status.
    pub reason: Option<String>,
    /// `missing` when the server started before the fix's release (the update is not in
    /// effect), else null.
    pub inferred: Option<String>,
    /// The finding in one sentence.
    pub summary: Option<String>,
    /// CVE-2020-1206 (SMBleed), same words (2004 / 19041 is affected too).
    pub smbleed: Option<String>,
    /// SMBleed's reason.
    pub smbleed_reason: Option<String>,
    /// SMBleed's `inferred`.
    pub smbleed_inferred: Option<String>,
    /// Whether the server chose 3.1.1 in answer to the negotiate that offered it with the
    /// compression context; null when it did not answer.
    pub dialect_311: Option<bool>,
    /// The compression algorithms its answer offered (`LZ77`, `LZ77+Huffman`, `LZNT1`,
    /// `Pattern_V1`, `LZ4`); empty when none; null when not asked or not answered.
    pub compression: Option<Vec<String>>,
    /// The build judged (NTLMSSP version).
    pub build: Option<u32>,
    /// With `likely-vulnerable` (either CVE): the update and the DisableCompression workaround
    /// (data/checks/smbghost.toml).
    pub remediation: Option<String>,
}

impl Section {
    fn not_tested(reason: &str) -> Self {
        Section {
            verdict: "not-tested".into(),
            reason: Some(reason.into()),
            smbleed: Some("not-tested".into()),
            smbleed_reason: Some(reason.into()),
            ..Section::default()
        }
    }

    /// What the negotiate showed, before [`evaluate`] judges it.
    fn observed(dialect_311: bool, compression: &[u16]) -> Self {
        Section {
            verdict: GhostVerdict::Unknown.as_str().into(),
            dialect_311: Some(dialect_311),
            compression: Some(compression.iter().map(|a| algorithm_name(*a)).collect()),
            ..Section::default()
        }
    }
}

/// An algorithm's name in [MS-SMB2] 2.2.3.1.3, or its hex value.
fn algorithm_name(a: u16) -> String {
    match a {
        algorithm::LZNT1 => "LZNT1".into(),
        algorithm::LZ77 => "LZ77".into(),
        algorithm::LZ77_HUFFMAN => "LZ77+Huffman".into(),
        algorithm::PATTERN_V1 => "Pattern_V1".into(),
        algorithm::LZ4 => "LZ4".into(),
        other => format!("0x{other:04x}"),
    }
}

/// The section of a record, if the check ran.
pub fn section(h: &HostResult) -> Option<Section> {
    super::section(h, NAME)
}

fn verdict_is(h: &HostResult, v: GhostVerdict) -> bool {
    section(h).is_some_and(|s| s.verdict == v.as_str())
}

fn smbleed_is(h: &HostResult, v: GhostVerdict) -> bool {
    section(h).is_some_and(|s| s.smbleed.as_deref() == Some(v.as_str()))
}

/// `findings.<name>` of data/checks/smbghost.toml as one text: the update, the workaround.
fn remediation(finding: &str) -> Option<String> {
    static TABLE: OnceLock<Option<toml::Table>> = OnceLock::new();
    let row = TABLE
        .get_or_init(|| serde_json::from_str(rules::REMEDIATION_JSON).ok())
        .as_ref()?
        .get("findings")?
        .get(finding)?;
    let get = |k: &str| row.get(k).and_then(|v| v.as_str());
    Some(format!(
        "{}: install {}; or {}",
        get("cve")?,
        get("update")?,
        get("workaround")?
    ))
}

fn summary(g: &GhostFinding, b: &GhostFinding) -> String {
    let build = g.build.map(|b| format!(" build {b}")).unwrap_or_default();
    match (g.verdict, b.verdict) {
        (GhostVerdict::LikelyVulnerable, _) => format!(
            "Windows 10{build} offers SMB 3.1.1 compression: likely exposed to SMBGhost (CVE-2020-0796){} unless KB4551762 or DisableCompression is in place; the update revision cannot be seen from the network",
            if b.verdict == GhostVerdict::LikelyVulnerable { " and SMBleed (CVE-2020-1206)" } else { "" }
        ),
        (_, GhostVerdict::LikelyVulnerable) => format!(
            "Windows 10{build} offers SMB 3.1.1 compression: likely exposed to SMBleed (CVE-2020-1206) unless KB4557957 / KB4560960 or DisableCompression is in place"
        ),
        _ => {
            let why = g.reason.map_or("", |r| r.as_str());
            format!("SMBGhost {}: {why}", g.verdict.as_str())
        }
    }
}

/// The section from the negotiate's observation and what the shared steps learnt.
pub fn evaluate(h: &HostResult) -> Section {
    if !h.port_answered() {
        return Section::not_tested(&crate::model::enum_name(&h.status));
    }
    let seen = section(h).filter(|s| s.dialect_311.is_some());
    // No observation: the shared negotiate was refused (SMB2 off: no 3.1.1 on evidence) or
    // never answered.
    let dialect_311 = match &seen {
        Some(s) => s.dialect_311,
        None if h.smb2.enabled == Some(false) => Some(false),
        None => None,
    };
    let compression: Vec<String> = seen
        .as_ref()
        .and_then(|s| s.compression.clone())
        .unwrap_or_default();
    let boot_time = h
        .smb2
        .boot_time
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp())
        .filter(|t| *t > 0);
    let inputs = GhostInputs {
        dialect_311,
        // The rules need only whether any algorithm was offered.
        compression: vec![algorithm::LZNT1; compression.len()],
        ntlm_version: super::eol_os::ntlm_version(h),
        samba: h.os.samba,
        boot_time,
    };
    let r = rules::judge(&inputs);
    let word = |v: GhostVerdict| Some(v.as_str().to_string());
    let reason = |f: &GhostFinding| f.reason.map(|r| r.as_str().to_string());
    let inferred = |f: &GhostFinding| f.inferred.map(|_| "missing".to_string());
    let likely = |f: &GhostFinding| f.verdict == GhostVerdict::LikelyVulnerable;
    Section {
        verdict: r.smbghost.verdict.as_str().into(),
        reason: reason(&r.smbghost),
        inferred: inferred(&r.smbghost),
        summary: Some(summary(&r.smbghost, &r.smbleed)),
        smbleed: word(r.smbleed.verdict),
        smbleed_reason: reason(&r.smbleed),
        smbleed_inferred: inferred(&r.smbleed),
        dialect_311,
        compression: seen.and_then(|s| s.compression),
        build: r.smbghost.build.or(r.smbleed.build),
        remediation: if likely(&r.smbghost) {
            remediation("smbghost")
        } else if likely(&r.smbleed) {
            remediation("smbleed")
        } else {
            None
        },
    }
}

fn text(h: &HostResult) -> String {
    section(h)
        .and_then(|s| s.summary)
        .unwrap_or_else(|| "SMBGhost not-tested".into())
}

static FINDINGS: [FindingDef; 2] = [
    FindingDef {
        name: "smbghost",
        help: "SMB 3.1.1 compression on a Windows 10 1903/1909 build (CVE-2020-0796, likely)",
        order: 60,
        severity: 22,
        shows: |h| verdict_is(h, GhostVerdict::LikelyVulnerable),
        fixed: |h| verdict_is(h, GhostVerdict::NotVulnerable),
        text,
    },
    FindingDef {
        name: "smbleed",
        help: "SMB 3.1.1 compression on a Windows 10 1903/1909/2004 build (CVE-2020-1206, likely)",
        order: 61,
        severity: 23,
        shows: |h| smbleed_is(h, GhostVerdict::LikelyVulnerable),
        fixed: |h| smbleed_is(h, GhostVerdict::NotVulnerable),
        text,
    },
];

static COLUMNS: [Column; 4] = [
    Column {
        name: "smbghost",
        cell: |h| section(h).map(|s| s.verdict).unwrap_or_default(),
    },
    Column {
        name: "smbghost_reason",
        cell: |h| section(h).and_then(|s| s.reason).unwrap_or_default(),
    },
    Column {
        name: "smbleed",
        cell: |h| section(h).and_then(|s| s.smbleed).unwrap_or_default(),
    },
    Column {
        name: "smb2_compression",
        cell: |h| {
            section(h)
                .and_then(|s| s.compression)
                .map(|c| c.join("; "))
                .unwrap_or_default()
        },
    },
];

impl Check for SmbGhost {
    fn name(&self) -> &'static str {
        NAME
    }
    fn title(&self) -> &'static str {
        "SMBGhost / SMBleed"
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
    fn deselect(&self, h: &mut HostResult) {
        super::set_section(h, NAME, &Section::not_tested("not-selected"));
    }
}

#[cfg(test)]
mod tests;
