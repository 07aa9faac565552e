//! The scope of a run: what an auditor needs to know was (and was not) scanned, and how. Built
//! once from the validated plan ([`crate::plan::ScanPlan::scope`]), serialised in the scan
//! metadata (`meta.scope` in JSON, the `meta` lines of JSON Lines) and rendered by every output
//! from one list of [`Scope::properties`], so no output can leave a part out. `smb1scan report`
//! carries the scopes of every run it merged (`meta.merged`). Layout: docs/output-schema.md
//! ("Scope").

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Where an exclusion came from. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExclusionSource {
    /// `--exclude SPEC` on the command line.
    Flag,
    /// `--exclude-file FILE` (`--excludefile`) on the command line.
    File,
    /// `exclude = [...]` in a site config file.
    Config,
    /// `exclude_files = [...]` in a site config file.
    ConfigFile,
}

/// `path` made absolute (against the working directory), as text: an auditor reading the
/// record elsewhere must know which file it was.
pub fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// One exclusion, with its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusion {
    /// Where it came from.
    pub source: ExclusionSource,
    /// The spec as given (`flag`, `config`), else null.
    pub spec: Option<String>,
    /// The exclusion file, absolute (`file`, `config-file`), else null.
    pub file: Option<String>,
    /// The site config file that holds it, absolute (`config`, `config-file`), else null.
    pub config: Option<String>,
}

impl Exclusion {
    /// `--exclude SPEC`.
    pub fn flag(spec: &str) -> Self {
        Exclusion {
            source: ExclusionSource::Flag,
            spec: Some(spec.to_string()),
            file: None,
            config: None,
        }
    }

    /// `--exclude-file FILE`.
    pub fn file(path: &Path) -> Self {
        Exclusion {
            source: ExclusionSource::File,
            spec: None,
            file: Some(absolute(path)),
            config: None,
        }
    }

    /// `exclude = [SPEC]` in the site config `config`.
    pub fn config(spec: &str, config: &Path) -> Self {
        Exclusion {
            source: ExclusionSource::Config,
            spec: Some(spec.to_string()),
            file: None,
            config: Some(absolute(config)),
        }
    }

    /// `exclude_files = [FILE]` in the site config `config`.
    pub fn config_file(path: &Path, config: &Path) -> Self {
        Exclusion {
            source: ExclusionSource::ConfigFile,
            spec: None,
            file: Some(absolute(path)),
            config: Some(absolute(config)),
        }
    }

    /// One line a person reads: `10.0.0.5 (--exclude)`, `file /etc/x.txt (--exclude-file)`,
    /// `10.20.30.0/24 (site config /etc/smb1scan/config.toml)`.
    pub fn text(&self) -> String {
        let what = match (&self.spec, &self.file) {
            (Some(s), _) => s.clone(),
            (None, Some(f)) => format!("file {f}"),
            (None, None) => String::new(),
        };
        let from = match (self.source, &self.config) {
            (ExclusionSource::Flag, _) => "--exclude".to_string(),
            (ExclusionSource::File, _) => "--exclude-file".to_string(),
            (ExclusionSource::Config, c) => {
                format!("site config {}", c.as_deref().unwrap_or("?"))
            }
            (ExclusionSource::ConfigFile, c) => format!(
                "exclude_files of site config {}",
                c.as_deref().unwrap_or("?")
            ),
        };
        format!("{what} ({from})")
    }
}

/// The scope of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    /// Host name of the machine that ran the scan.
    pub scanner_host: String,
    /// smb1scan version that ran it.
    pub scanner_version: String,
    /// Targets as given (`10.0.0.0/24`, `file:wards.txt`, `-` for standard input).
    pub targets: Vec<String>,
    /// Ports scanned on each address.
    pub ports: Vec<u16>,
    /// Every exclusion, with its source: these targets were sent no packet.
    pub exclusions: Vec<Exclusion>,
    /// Site config files read, in reading order (absolute paths).
    pub config_files: Vec<String>,
    /// New hosts per second; null = unlimited.
    pub rate: Option<f64>,
    /// Hosts in flight at most.
    pub concurrency: usize,
    /// TCP connect timeout, ms.
    pub connect_timeout_ms: u64,
    /// Per-exchange read timeout, ms.
    pub read_timeout_ms: u64,
    /// Whole-host deadline, ms.
    pub host_timeout_ms: u64,
    /// Connect retries.
    pub retries: u32,
    /// `connect` or `syn`.
    pub discovery: String,
    /// `I/N`: this run scanned shard I of N.
    pub shard: String,
    /// Start (RFC 3339, UTC).
    pub started_at: String,
    /// End (RFC 3339, UTC); null while running (or when the run was killed).
    pub finished_at: Option<String>,
}

impl Scope {
    /// The scope's facts as (key, text) pairs, in the order every output shows them; a key
    /// repeats for each exclusion, config file and target, and a list that is empty reads
    /// `none`.
    pub fn properties(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![
            ("scanner_host", self.scanner_host.clone()),
            ("scanner_version", self.scanner_version.clone()),
            ("started_at", self.started_at.clone()),
            (
                "finished_at",
                self.finished_at
                    .clone()
                    .unwrap_or_else(|| "not finished".to_string()),
            ),
        ];
        for t in &self.targets {
            p.push(("target", t.clone()));
        }
        p.push((
            "ports",
            self.ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ));
        if self.exclusions.is_empty() {
            p.push(("exclusion", "none".to_string()));
        }
        for e in &self.exclusions {
            p.push(("exclusion", e.text()));
        }
        if self.config_files.is_empty() {
            p.push(("config_file", "none".to_string()));
        }
        for c in &self.config_files {
            p.push(("config_file", c.clone()));
        }
        p.extend([
            (
                "rate",
                match self.rate {
                    Some(r) => format!("{r} hosts/s"),
                    None => "unlimited".to_string(),
                },
            ),
            ("concurrency", self.concurrency.to_string()),
            ("connect_timeout", format!("{} ms", self.connect_timeout_ms)),
            ("read_timeout", format!("{} ms", self.read_timeout_ms)),
            ("host_timeout", format!("{} ms", self.host_timeout_ms)),
            ("retries", self.retries.to_string()),
            ("discovery", self.discovery.clone()),
            ("shard", self.shard.clone()),
        ]);
        p
    }
}

/// This machine's host name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`), or `unknown`.
pub fn scanner_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exclusion_says_its_source() {
        let c = Path::new("/etc/smb1scan/config.toml");
        let texts: Vec<String> = [
            Exclusion::flag("10.0.0.5"),
            Exclusion::file(Path::new("/srv/life-critical.txt")),
            Exclusion::config("10.20.30.0/24", c),
            Exclusion::config_file(Path::new("/etc/smb1scan/pumps.txt"), c),
        ]
        .iter()
        .map(Exclusion::text)
        .collect();
        assert_eq!(
            texts,
            [
                "10.0.0.5 (--exclude)",
                "file /srv/life-critical.txt (--exclude-file)",
                "10.20.30.0/24 (site config /etc/smb1scan/config.toml)",
                "file /etc/smb1scan/pumps.txt (exclude_files of site config \
                 /etc/smb1scan/config.toml)",
            ]
        );
    }
}
