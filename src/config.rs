//! Site configuration: an optional TOML file for the settings a team sets once (the life-critical
//! exclusion list, rate, concurrency, timeouts, ports, credentials source, output defaults,
//! fail-on policy). Command-line flags override it; exclusions add up.
//!
//! # Where it is read from
//! `--config FILE` reads exactly that file (it must exist). Without it, these are read when they
//! exist, in this order, the later overriding the earlier (exclusion lists are combined, so a
//! user file can never drop a site exclusion):
//! 1. `/etc/smb1scan/config.toml` (the site file),
//! 2. `$XDG_CONFIG_HOME/smb1scan/config.toml` (default `~/.config/smb1scan/config.toml`).
//!
//! `--no-config` reads none.
//!
//! # Format
//! ```toml
//! [targets]
//! exclude = ["10.20.30.0/24", "10.20.31.7"]      # never sent a packet
//! exclude_files = ["/etc/smb1scan/life-critical.txt"]
//! first_address = false
//!
//! [scan]
//! rate = 50                 # new hosts per second
//! concurrency = 256         # hosts in flight
//! connect_timeout = "3s"    # a number is seconds; "500ms", "3s", "2m" also accepted
//! read_timeout = "5s"
//! host_timeout = "30s"
//! grace = "3s"
//! ports = [445]
//! retries = 1
//! discovery = "connect"     # or "syn" (raw SYN sweep, needs CAP_NET_RAW)
//!
//! [credentials]
//! user = "svc-scan"
//! domain = "HOSPITAL"
//! password_env = "SMB1SCAN_PASSWORD"   # or password_file = "/etc/smb1scan/password"
//!
//! [output]
//! files = ["/var/lib/smb1scan/last.jsonl"]
//! fail_on = ["vulnerable", "doublepulsar"]
//! ```
//! Unknown keys are errors (a typo in `exclude` must not silently scan a ventilator); the error
//! names the key and the line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A config file that cannot be used. Every message names the file (and the key, when one is
/// at fault), so a team can find the line to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, or holds an unknown key or a value of the wrong type
    /// (toml's message names the key and line).
    #[error("config file {}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// toml's message, with the line and key.
        message: String,
    },
    /// A key holds a value of the right type that is not acceptable.
    #[error("config file {}: [{section}] {key}: {message}", path.display())]
    Value {
        /// The file.
        path: PathBuf,
        /// The TOML table (`scan`).
        section: &'static str,
        /// The key (`rate`).
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// The site file.
pub const SITE_CONFIG: &str = "/etc/smb1scan/config.toml";

/// A duration written as seconds (`3`, `0.5`) or with a unit (`500ms`, `3s`, `2m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

/// Parses `500ms`, `3s`, `2m`, `1.5` (seconds). Used by the flags and the file alike.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let t = s.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 500ms, 3s, 2m, or seconds: 1.5)"))?;
    if !v.is_finite() || v < 0.0 || v * mult > 86_400.0 {
        return Err(format!("`{s}` is out of range (0 to 24 h)"));
    }
    Ok(Duration::from_secs_f64(v * mult))
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a duration: seconds as a number, or a string like \"500ms\", \"3s\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Dur, E> {
                parse_duration(&v.to_string()).map(Dur).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Dur, E> {
                parse_duration(&v.to_string()).map(Dur).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Dur, E> {
                parse_duration(&v.to_string()).map(Dur).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Dur, E> {
                parse_duration(v).map(Dur).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// `[targets]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetsSection {
    /// Specs never to scan.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Files of specs never to scan.
    #[serde(default)]
    pub exclude_files: Vec<PathBuf>,
    /// Scan only the first address of each host name.
    pub first_address: Option<bool>,
}

/// `[scan]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScanSection {
    /// New hosts per second.
    pub rate: Option<f64>,
    /// Hosts in flight.
    pub concurrency: Option<usize>,
    /// TCP connect timeout.
    pub connect_timeout: Option<Dur>,
    /// Per-exchange timeout.
    pub read_timeout: Option<Dur>,
    /// Whole-host deadline.
    pub host_timeout: Option<Dur>,
    /// Grace for in-flight hosts after Ctrl-C.
    pub grace: Option<Dur>,
    /// Ports.
    pub ports: Option<Vec<u16>>,
    /// Connect retries.
    pub retries: Option<u32>,
    /// How targets are discovered: `connect` or `syn` (`--discovery`).
    pub discovery: Option<String>,
}

/// `[credentials]`: where the password comes from, never the password itself.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CredentialsSection {
    /// User name.
    pub user: Option<String>,
    /// Domain.
    pub domain: Option<String>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// File holding the password (first line).
    pub password_file: Option<PathBuf>,
}

/// `[output]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// Output files used when no `-o` is given (format from the extension).
    #[serde(default)]
    pub files: Vec<PathBuf>,
    /// Default `--fail-on` list.
    pub fail_on: Option<Vec<String>>,
}

/// `[store]`: where sweeps are recorded (src/store).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// A SQLite file or a `postgres://` URL (as `--store`).
    pub url: Option<String>,
    /// `[store.subnets]`: name → addresses, CIDRs or ranges; the campaign's per-subnet table
    /// counts their hosts under the name (others by /24).
    #[serde(default)]
    pub subnets: std::collections::BTreeMap<String, Vec<String>>,
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// `[targets]`.
    #[serde(default)]
    pub targets: TargetsSection,
    /// `[scan]`.
    #[serde(default)]
    pub scan: ScanSection,
    /// `[credentials]`.
    #[serde(default)]
    pub credentials: CredentialsSection,
    /// `[output]`.
    #[serde(default)]
    pub output: OutputSection,
    /// `[store]`.
    #[serde(default)]
    pub store: StoreSection,
    /// Files this was read from.
    #[serde(skip)]
    pub sources: Vec<PathBuf>,
    /// For each `section.key` that a file set, the last file that set it (so a bad value can be
    /// reported with its file).
    #[serde(skip)]
    pub origins: std::collections::BTreeMap<String, PathBuf>,
    /// Every `[targets]` exclusion with the file that set it, for the run's scope.
    #[serde(skip)]
    pub exclusions: Vec<crate::scope::Exclusion>,
}

fn over<T>(base: &mut Option<T>, top: Option<T>) {
    if top.is_some() {
        *base = top;
    }
}

impl SiteConfig {
    /// Parses a file's text; the error names the key and line (toml's spans).
    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        let mut c: SiteConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: origin.to_path_buf(),
            message: e.to_string(),
        })?;
        // Relative exclusion and password files are relative to the config file.
        let dir = origin.parent().unwrap_or(Path::new("."));
        for p in c
            .targets
            .exclude_files
            .iter_mut()
            .chain(c.credentials.password_file.iter_mut())
        {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
        c.sources.push(origin.to_path_buf());
        let specs = c.targets.exclude.iter();
        let excl = specs.map(|s| crate::scope::Exclusion::config(s, origin));
        let files = c.targets.exclude_files.iter();
        let excl = excl.chain(files.map(|f| crate::scope::Exclusion::config_file(f, origin)));
        c.exclusions = excl.collect();
        if let Ok(t) = toml::from_str::<toml::Table>(text) {
            for (section, v) in &t {
                if let toml::Value::Table(keys) = v {
                    for k in keys.keys() {
                        c.origins
                            .insert(format!("{section}.{k}"), origin.to_path_buf());
                    }
                }
            }
        }
        Ok(c)
    }

    /// The error for a bad value of `[section] key`, naming the file that set it.
    pub fn value_error(
        &self,
        section: &'static str,
        key: &'static str,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Value {
            path: self
                .origins
                .get(&format!("{section}.{key}"))
                .cloned()
                .unwrap_or_else(|| PathBuf::from("(config)")),
            section,
            key,
            message: message.into(),
        }
    }

    /// Reads one file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// `self` overridden by `top`; exclusions add up.
    pub fn merge(mut self, top: SiteConfig) -> SiteConfig {
        self.targets.exclude.extend(top.targets.exclude);
        self.targets.exclude_files.extend(top.targets.exclude_files);
        over(&mut self.targets.first_address, top.targets.first_address);
        let (s, t) = (&mut self.scan, top.scan);
        over(&mut s.rate, t.rate);
        over(&mut s.concurrency, t.concurrency);
        over(&mut s.connect_timeout, t.connect_timeout);
        over(&mut s.read_timeout, t.read_timeout);
        over(&mut s.host_timeout, t.host_timeout);
        over(&mut s.grace, t.grace);
        over(&mut s.ports, t.ports);
        over(&mut s.retries, t.retries);
        over(&mut s.discovery, t.discovery);
        let (c, t) = (&mut self.credentials, top.credentials);
        over(&mut c.user, t.user);
        over(&mut c.domain, t.domain);
        if t.password_env.is_some() || t.password_file.is_some() {
            c.password_env = t.password_env;
            c.password_file = t.password_file;
        }
        if !top.output.files.is_empty() {
            self.output.files = top.output.files;
        }
        over(&mut self.output.fail_on, top.output.fail_on);
        over(&mut self.store.url, top.store.url);
        // A later file names more subnets, or gives a name other addresses.
        self.store.subnets.extend(top.store.subnets);
        self.sources.extend(top.sources);
        self.origins.extend(top.origins);
        self.exclusions.extend(top.exclusions);
        self
    }

    /// The default locations, in reading order.
    pub fn default_paths() -> Vec<PathBuf> {
        let mut v = vec![PathBuf::from(SITE_CONFIG)];
        let xdg = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
        if let Some(x) = xdg {
            v.push(x.join("smb1scan").join("config.toml"));
        }
        v
    }

    /// Loads `explicit` (which must exist), or the default files that exist, or nothing.
    pub fn load(explicit: Option<&Path>, no_config: bool) -> Result<Self> {
        if let Some(p) = explicit {
            return Self::read(p);
        }
        let mut c = SiteConfig::default();
        if no_config {
            return Ok(c);
        }
        for p in Self::default_paths() {
            if p.is_file() {
                c = c.merge(Self::read(&p)?);
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
[targets]
exclude = ["10.20.30.0/24", "10.20.31.7"]
exclude_files = ["life-critical.txt"]
first_address = true

[scan]
rate = 20
concurrency = 64
connect_timeout = "1500ms"
read_timeout = 4
host_timeout = "1m"
grace = 2.5
ports = [445, 139]
retries = 2

[credentials]
user = "svc"
domain = "HOSP"
password_env = "PW"

[output]
files = ["out.jsonl", "out.csv"]
fail_on = ["smb1"]
"#;

    #[test]
    fn parses_every_key() {
        let c = SiteConfig::parse(FULL, Path::new("/etc/smb1scan/config.toml")).unwrap();
        assert_eq!(c.targets.exclude, vec!["10.20.30.0/24", "10.20.31.7"]);
        assert_eq!(
            c.targets.exclude_files,
            vec![PathBuf::from("/etc/smb1scan/life-critical.txt")]
        );
        assert_eq!(c.targets.first_address, Some(true));
        assert_eq!(c.scan.rate, Some(20.0));
        assert_eq!(c.scan.concurrency, Some(64));
        assert_eq!(
            c.scan.connect_timeout,
            Some(Dur(Duration::from_millis(1500)))
        );
        assert_eq!(c.scan.read_timeout, Some(Dur(Duration::from_secs(4))));
        assert_eq!(c.scan.host_timeout, Some(Dur(Duration::from_secs(60))));
        assert_eq!(c.scan.grace, Some(Dur(Duration::from_millis(2500))));
        assert_eq!(c.scan.ports, Some(vec![445, 139]));
        assert_eq!(c.scan.retries, Some(2));
        assert_eq!(c.credentials.user.as_deref(), Some("svc"));
        assert_eq!(c.credentials.password_env.as_deref(), Some("PW"));
        assert_eq!(c.output.files.len(), 2);
        assert_eq!(c.output.fail_on, Some(vec!["smb1".to_string()]));
        assert!(SiteConfig::parse("", Path::new("x.toml"))
            .unwrap()
            .scan
            .rate
            .is_none());
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let text = "[targets]\nexclude = [\"10.0.0.1\"]\n\n[scan]\nrate = 5\nconcurency = 3\n";
        let e = SiteConfig::parse(text, Path::new("site.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("site.toml"), "{e}");
        assert!(e.contains("line 6"), "{e}");
        assert!(e.contains("concurency"), "{e}");
    }

    #[test]
    fn bad_value_is_named_with_its_line() {
        let text = "[scan]\nrate = 5\nconnect_timeout = \"3 parsecs\"\n";
        let e = SiteConfig::parse(text, Path::new("site.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("3 parsecs"), "{e}");
        let e = SiteConfig::parse("[scan]\nports = [445, 99999]\n", Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
        let e = SiteConfig::parse("[scan\n", Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn merge_overrides_scalars_and_adds_exclusions() {
        let site = SiteConfig::parse(
            "[targets]\nexclude=[\"10.0.0.0/24\"]\n[scan]\nrate=10\nconcurrency=5\n",
            Path::new("/etc/a.toml"),
        )
        .unwrap();
        let user = SiteConfig::parse(
            "[targets]\nexclude=[\"10.0.1.1\"]\n[scan]\nrate=50\n",
            Path::new("/home/u/b.toml"),
        )
        .unwrap();
        let m = site.merge(user);
        assert_eq!(m.targets.exclude, vec!["10.0.0.0/24", "10.0.1.1"]);
        assert_eq!(m.scan.rate, Some(50.0));
        assert_eq!(m.scan.concurrency, Some(5));
        assert_eq!(m.sources.len(), 2);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("3s").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("fast").unwrap_err().contains("`fast`"));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("100000m").is_err());
    }

    #[test]
    fn explicit_missing_file_is_an_error() {
        let e = SiteConfig::load(Some(Path::new("/nonexistent/smb1scan.toml")), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/smb1scan.toml"), "{e}");
        assert_eq!(SiteConfig::load(None, true).unwrap(), SiteConfig::default());
    }
}
