//! Per-host remediation: the first three checks' rows (`data/checks/ms17_010.toml`, the MS17-010
//! update per OS; `data/checks/smb1.toml`, turning SMB1 off per OS family; compiled in, parsed
//! once as one table), then each other check's own action from the registry
//! ([`crate::checks::Check::remediation`]).
//!
//! The tables name their sources (Microsoft Security Bulletin MS17-010, KB4023262, KB2696547,
//! smb.conf(5)); edit them there, not here. [`remediation`] picks the table row for the host's OS
//! (os.samba, then os.product / os.native_os with the build, then the build alone) and turns the
//! host's verdicts into an ordered list of concrete actions.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::risk::{risk, smb1_on_or_unknown, Risk};
use crate::error::Error;
use crate::model::{DpVerdict, HostResult, Ms17Verdict};

/// The table: the smb1 check's families and the ms17-010 check's OS rows, one TOML document.
pub fn table_toml() -> String {
    format!(
        "{}\n{}",
        crate::checks::smb1::rules::REMEDIATION_TOML,
        crate::checks::ms17_010::rules::REMEDIATION_TOML
    )
}

/// Where the table comes from.
#[derive(Debug, Clone, Deserialize)]
pub struct Source {
    /// Bulletin name (MS17-010).
    pub bulletin: String,
    /// Bulletin address.
    pub bulletin_url: String,
    /// Customer guidance KB (KB4023262).
    pub guidance: String,
    /// SMB1 how-to KB (KB2696547).
    pub smb1_howto: String,
}

/// How to handle SMB1 on one OS family.
#[derive(Debug, Clone, Deserialize)]
pub struct Family {
    /// Human name.
    pub label: String,
    /// How to turn SMB1 off.
    pub smb1_off: String,
    /// How to find SMB1 users first.
    pub audit: String,
}

/// One row of the OS table.
#[derive(Debug, Clone, Deserialize)]
pub struct OsEntry {
    /// Human name of the row.
    pub name: String,
    /// Substrings of os.product / os.native_os.
    #[serde(default)]
    pub products: Vec<String>,
    /// Build numbers.
    #[serde(default)]
    pub builds: Vec<u32>,
    /// The MS17-010 updates.
    pub updates: Vec<String>,
    /// Key into the families table.
    pub family: String,
}

/// The whole table.
#[derive(Debug, Clone, Deserialize)]
pub struct Table {
    /// Sources.
    pub source: Source,
    /// Families by key (`modern`, `registry`, `legacy`, `samba`, `generic`).
    pub families: BTreeMap<String, Family>,
    /// OS rows, most specific first.
    pub os: Vec<OsEntry>,
}

/// Families every table must define (the code refers to them by name).
const REQUIRED_FAMILIES: [&str; 2] = ["samba", "generic"];

/// Parse and check a table.
pub fn parse_table(text: &str) -> Result<Table, Error> {
    let t: Table = toml::from_str(text).map_err(|e| Error::Remediation(e.to_string()))?;
    for f in REQUIRED_FAMILIES {
        if !t.families.contains_key(f) {
            return Err(Error::Remediation(format!("family `{f}` missing")));
        }
    }
    for e in &t.os {
        if !t.families.contains_key(&e.family) {
            return Err(Error::Remediation(format!(
                "OS row `{}` names unknown family `{}`",
                e.name, e.family
            )));
        }
    }
    Ok(t)
}

static TABLE: OnceLock<Result<Table, String>> = OnceLock::new();

/// The compiled-in table, parsed on first use. Call it at startup so a broken table fails early.
pub fn table() -> Result<&'static Table, Error> {
    TABLE
        .get_or_init(|| parse_table(&table_toml()).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::Remediation(e.clone()))
}

/// What to do about one host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Remediation {
    /// The OS row that matched (`Windows 7 SP1 / Server 2008 R2 SP1`, `Samba`, or
    /// `unidentified OS`).
    pub os_row: String,
    /// The OS family whose SMB1 procedure applies (`Windows 8 / Server 2012 and later`, ...).
    pub family: String,
    /// The MS17-010 updates for that OS (empty for Samba).
    pub updates: Vec<String>,
    /// How to turn SMB1 off on that OS family.
    pub smb1_off: String,
    /// How to find who still uses SMB1 first.
    pub audit: String,
    /// The actions for this host, most urgent first (empty when risk is `none`).
    pub actions: Vec<String>,
}

/// Build number from os.build, or from os.ntlm_version `major.minor.build`.
fn build_of(h: &HostResult) -> Option<u32> {
    h.os.build.or_else(|| {
        h.os.ntlm_version
            .as_deref()
            .and_then(|v| v.rsplit('.').next())
            .and_then(|b| b.parse().ok())
    })
}

/// The OS row for a host, when one matches.
pub fn match_os<'t>(t: &'t Table, h: &HostResult) -> Option<&'t OsEntry> {
    let names: Vec<String> = [h.os.product.as_deref(), h.os.native_os.as_deref()]
        .into_iter()
        .flatten()
        .map(str::to_ascii_lowercase)
        .collect();
    let build = build_of(h);
    let name_hit = |e: &OsEntry| {
        e.products.iter().any(|p| {
            let p = p.to_ascii_lowercase();
            names.iter().any(|n| n.contains(&p))
        })
    };
    let build_ok = |e: &OsEntry| match build {
        Some(b) => e.builds.is_empty() || e.builds.contains(&b),
        None => true,
    };
    // Name and build agree; then the build alone; then the name alone.
    t.os.iter()
        .find(|e| name_hit(e) && build_ok(e))
        .or_else(|| build.and_then(|b| t.os.iter().find(|e| e.builds.contains(&b))))
        .or_else(|| t.os.iter().find(|e| name_hit(e)))
}

/// The remediation for one host.
pub fn remediation(t: &Table, h: &HostResult) -> Remediation {
    let (row_name, updates, family_key) = if h.os.samba {
        ("Samba".to_string(), Vec::new(), "samba")
    } else if let Some(e) = match_os(t, h) {
        (e.name.clone(), e.updates.clone(), e.family.as_str())
    } else {
        ("unidentified OS".to_string(), Vec::new(), "generic")
    };
    let fallback = Family {
        label: String::new(),
        smb1_off: String::new(),
        audit: String::new(),
    };
    let fam = t
        .families
        .get(family_key)
        .or_else(|| t.families.get("generic"))
        .unwrap_or(&fallback);
    let update_text = if updates.is_empty() {
        format!(
            "install the MS17-010 update for this OS ({} / {}), or any monthly rollup since March 2017",
            t.source.bulletin, t.source.guidance
        )
    } else {
        format!("install {} ({})", updates.join(" or "), t.source.bulletin)
    };

    let mut actions = Vec::new();
    let r = risk(h);
    if h.doublepulsar.verdict == DpVerdict::Present {
        actions.push(
            "DoublePulsar implant answered: isolate the host now and treat it as compromised \
             (incident response, rebuild from clean media)"
                .to_string(),
        );
    }
    match r {
        Risk::Critical | Risk::High => {
            if h.ms17_010.verdict == Ms17Verdict::Vulnerable {
                actions.push(format!("MS17-010 missing: {update_text}"));
            } else if matches!(
                h.ms17_010.verdict,
                Ms17Verdict::Unknown | Ms17Verdict::NotTested
            ) && !h.os.samba
            {
                let why = h
                    .ms17_010
                    .reason
                    .and_then(|r| serde_json::to_value(r).ok())
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "not tested".to_string());
                actions.push(format!(
                    "MS17-010 state unknown ({why}): verify the patch level; {update_text}"
                ));
            }
            if smb1_on_or_unknown(h) {
                actions.push(format!("find SMB1 clients first: {}", fam.audit));
                actions.push(format!("turn SMB1 off: {}", fam.smb1_off));
            }
        }
        Risk::Medium => {
            actions.push(format!("find SMB1 clients first: {}", fam.audit));
            actions.push(format!("turn SMB1 off: {}", fam.smb1_off));
        }
        Risk::Low | Risk::None => {}
    }
    // Every other check's action, in registry order (signing, anonymous, ...).
    actions.extend(
        crate::checks::REGISTRY
            .iter()
            .filter_map(|c| c.remediation(h)),
    );
    Remediation {
        os_row: row_name,
        family: fam.label.clone(),
        updates,
        smb1_off: fam.smb1_off.clone(),
        audit: fam.audit.clone(),
        actions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Exchange, HostStatus, Signing, Step, StepName, StepOutcome};

    /// The plan iterates the registry: after the first three checks' actions (unchanged, from
    /// data/checks/ms17_010.toml and smb1.toml), each other check's own row. The signing text
    /// comes from data/checks/signing.toml only (the `signing` lines data/remediation.toml kept
    /// per family are gone), and a record from before the signing check is judged the same.
    #[test]
    fn actions_come_from_each_checks_rows() {
        let t = table().expect("table");
        assert!(
            !table_toml().contains("signing ="),
            "no signing row outside signing.toml"
        );
        // A Samba host, SMB1 on, null session opens lsarpc: SMB1 off first, then the pipes.
        let mut h = HostResult::new([10, 0, 0, 9].into(), 445, None);
        h.status = HostStatus::Open;
        h.os.samba = true;
        h.smb1.enabled = Some(true);
        h.smb1.security_mode = Some(0x07);
        h.ms17_010.verdict = Ms17Verdict::NotVulnerable;
        let mut s = Step::new(
            StepName::Exchange(Exchange::SessionSetup),
            StepOutcome::Ok,
            1,
        );
        s.status = Some("0x00000000".into());
        s.detail = Some("anonymous".into());
        let mut p = Step::new(StepName::Exchange(Exchange::PipeOpen), StepOutcome::Ok, 1);
        p.status = Some("0x00000000".into());
        p.detail = Some("lsarpc: opened FID 0x4000, closed".into());
        h.steps = vec![s, p];
        crate::checks::Selection::default().apply(&mut h);
        let a = remediation(t, &h).actions;
        assert_eq!(a.len(), 3, "{a:?}");
        assert!(
            a[0].starts_with("find SMB1 clients first: smbstatus"),
            "{a:?}"
        );
        assert!(
            a[1].starts_with("turn SMB1 off: server min protocol"),
            "{a:?}"
        );
        assert_eq!(
            a[2],
            "Anonymous pipes: restrict anonymous = 2 in the [global] section of smb.conf"
        );
        // SMB1 off, signing not required (risk low): the signing check's row, also for a
        // schema-2 record that has no signing section.
        let mut off = HostResult::new([10, 0, 0, 10].into(), 445, None);
        off.status = HostStatus::Open;
        off.os.samba = true;
        off.smb1.enabled = Some(false);
        off.smb2.enabled = Some(true);
        off.smb2.signing = Some(Signing::Enabled);
        assert_eq!(risk(&off), Risk::Low);
        let want = "require SMB signing: server signing = mandatory in the [global] section of \
                    smb.conf, then restart smbd";
        assert_eq!(remediation(t, &off).actions, [want]);
        crate::checks::Selection::default().apply(&mut off);
        assert_eq!(remediation(t, &off).actions, [want]);
        // Signing not selected: no signing action (nothing was judged).
        crate::checks::Selection::parse(&["smb1".into()])
            .expect("selection")
            .apply(&mut off);
        assert!(remediation(t, &off).actions.is_empty());
    }
}
