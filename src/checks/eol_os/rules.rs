//! End-of-life OS verdict rules, without I/O. The product is identified from the SMB1
//! SESSION_SETUP NativeOS string (edition and build) or, when SMB1 is off, from the NTLMSSP
//! VERSION ([MS-NLMP] 2.2.2.10), and judged against the dated table in `data/eol.toml` at the
//! scan's date (passed in, never read from the clock, so a re-rendered report keeps its verdict).

use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The table file, compiled in.
pub const TABLE_TOML: &str = include_str!("../../../data/eol.toml");

/// The same table as JSON, compiled by build.rs: what [`table`] reads (serde_json takes a
/// fraction of the TOML parser's time, paid on the first answering host of every scan).
pub const TABLE_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/eol.json"));

/// One row of `data/eol.toml`.
#[derive(Debug, Clone, Deserialize)]
pub struct EolRow {
    /// Product name shown in the finding.
    pub product: String,
    /// Substrings of the NativeOS string (case-insensitive), one of which must be present.
    #[serde(default)]
    pub native_os: Vec<String>,
    /// When not empty, the NativeOS must also contain one of these.
    #[serde(default)]
    pub editions: Vec<String>,
    /// "major.minor" of the NTLMSSP version.
    pub ntlm: String,
    /// Builds; empty means any.
    #[serde(default)]
    pub builds: Vec<u32>,
    /// Last day of public security updates.
    pub end_of_support: NaiveDate,
    /// Last day of the paid Extended Security Updates programme, if any.
    #[serde(default)]
    pub esu_until: Option<NaiveDate>,
    /// What replaces it.
    pub replacement: String,
    /// The lifecycle page the dates come from.
    pub source: String,
}

/// The whole table.
#[derive(Debug, Clone, Deserialize)]
pub struct EolTable {
    /// Rows, specific first.
    pub os: Vec<EolRow>,
}

static TABLE: OnceLock<Result<EolTable, String>> = OnceLock::new();

/// The compiled-in table, parsed on first use (call it at startup so a broken table fails early).
pub fn table() -> Result<&'static EolTable, String> {
    TABLE
        .get_or_init(|| serde_json::from_str(TABLE_JSON).map_err(|e| format!("data/eol.toml: {e}")))
        .as_ref()
        .map_err(Clone::clone)
}

/// What the host said about itself. All optional: a host may answer only SMB2 (no NativeOS) or
/// refuse every session setup (no NTLMSSP challenge).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OsIdentity<'a> {
    /// SMB1 SESSION_SETUP_ANDX response NativeOS ([MS-CIFS] 2.2.4.53.2).
    pub native_os: Option<&'a str>,
    /// SMB1 SESSION_SETUP_ANDX response NativeLanMan.
    pub native_lanman: Option<&'a str>,
    /// NTLMSSP CHALLENGE VERSION (major, minor, build).
    pub ntlm_version: Option<(u8, u8, u16)>,
    /// CAP_UNIX in the SMB1 NEGOTIATE response (Samba).
    pub cap_unix: bool,
}

/// End-of-life verdict. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EolVerdict {
    /// Public security updates still ship for this product at the scan date.
    Supported,
    /// Public support ended; a paid Extended Security Updates programme still runs, so the host
    /// gets fixes only if enrolled (which a scan cannot see).
    EsuOnly,
    /// No security updates of any kind at the scan date.
    EndOfLife,
    /// The replies do not identify the product (or its candidates disagree); see the reason.
    Unknown,
}

impl EolVerdict {
    /// The record/CSV word.
    pub fn as_str(self) -> &'static str {
        match self {
            EolVerdict::Supported => "supported",
            EolVerdict::EsuOnly => "esu-only",
            EolVerdict::EndOfLife => "end-of-life",
            EolVerdict::Unknown => "unknown",
        }
    }
}

/// Why an end-of-life verdict is unknown. Closed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EolReason {
    /// Neither a NativeOS string nor an NTLMSSP version was learnt.
    NoOsIdentity,
    /// The strings do not name a product in the table.
    ProductNotInTable,
    /// Samba: its version says nothing of the OS underneath (and NTLMSSP build 0 is Samba's).
    SambaHostOs,
    /// The NTLMSSP version alone fits products with different support dates (e.g. 10.0.14393 is
    /// Windows 10 1607, Windows 10 LTSB 2016 and Windows Server 2016).
    EditionAmbiguous,
    /// The table failed to load.
    TableUnavailable,
}

impl EolReason {
    /// The record/CSV word.
    pub fn as_str(self) -> &'static str {
        match self {
            EolReason::NoOsIdentity => "no-os-identity",
            EolReason::ProductNotInTable => "product-not-in-table",
            EolReason::SambaHostOs => "samba-host-os",
            EolReason::EditionAmbiguous => "edition-ambiguous",
            EolReason::TableUnavailable => "table-unavailable",
        }
    }
}

/// The verdict and what the finding says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EolFinding {
    /// Verdict.
    pub verdict: EolVerdict,
    /// Why, when unknown.
    pub reason: Option<EolReason>,
    /// The product(s) the replies identify ("Windows 10 1607 / Windows Server 2016" when only
    /// the NTLMSSP version was learnt and several fit).
    pub product: Option<String>,
    /// The build used.
    pub build: Option<u32>,
    /// End of public support; with several candidates, the latest of them (never overstated).
    pub end_of_support: Option<NaiveDate>,
    /// End of paid ESU, when the row has one.
    pub esu_until: Option<NaiveDate>,
    /// What replaces it.
    pub replacement: Option<String>,
    /// Lifecycle page.
    pub source: Option<String>,
    /// True when only the NTLMSSP version identified the product (no NativeOS).
    pub from_ntlm_only: bool,
}

impl EolFinding {
    fn unknown(reason: EolReason) -> Self {
        EolFinding {
            verdict: EolVerdict::Unknown,
            reason: Some(reason),
            product: None,
            build: None,
            end_of_support: None,
            esu_until: None,
            replacement: None,
            source: None,
            from_ntlm_only: false,
        }
    }

    /// One sentence for the finding: the date support ended and what replaces the product.
    pub fn summary(&self) -> String {
        let product = self.product.as_deref().unwrap_or("the OS");
        let repl = self.replacement.as_deref().unwrap_or("a supported release");
        match (self.verdict, self.end_of_support, self.esu_until) {
            (EolVerdict::EndOfLife, Some(end), Some(esu)) => format!(
                "{product}: support ended {end} (paid Extended Security Updates ended {esu}); replace with {repl}"
            ),
            (EolVerdict::EndOfLife, Some(end), None) => {
                format!("{product}: support ended {end}; replace with {repl}")
            }
            (EolVerdict::EsuOnly, Some(end), Some(esu)) => format!(
                "{product}: public support ended {end}; fixes only through paid Extended Security Updates until {esu}; replace with {repl}"
            ),
            (EolVerdict::Supported, Some(end), _) => {
                format!("{product}: supported until {end}")
            }
            _ => match self.reason {
                Some(r) => format!("OS support unknown: {}", r.as_str()),
                None => "OS support unknown".to_owned(),
            },
        }
    }
}

/// The verdict of one row at `date`.
pub fn row_verdict(row: &EolRow, date: NaiveDate) -> EolVerdict {
    if date <= row.end_of_support {
        EolVerdict::Supported
    } else if row.esu_until.is_some_and(|esu| date <= esu) {
        EolVerdict::EsuOnly
    } else {
        EolVerdict::EndOfLife
    }
}

/// `hay` contains `needle`, ASCII case ignored. Compared in place: a host is matched against
/// every row's strings, and lowercased copies of both sides cost two allocations per compare.
fn contains_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// The build in a NativeOS string: its last 4-5 digit word ("Windows Server 2016 Standard 14393";
/// the year in a product name is 4 digits too, hence the last one). Windows 10 22H2 reports 19045
/// here while its NTLMSSP version still says 19041, so this one wins.
pub fn build_in_native_os(s: &str) -> Option<u32> {
    s.split_whitespace()
        .rev()
        .filter(|w| (4..=5).contains(&w.len()) && w.chars().all(|c| c.is_ascii_digit()))
        .filter_map(|w| w.parse().ok())
        // A year in a product name ("Windows Server 2016") is not a build: no Windows build
        // falls in 1990..=2030 (2195, 2600, 3790, 6000-9600, then 10240 and up).
        .find(|b| !(1990..=2030).contains(b))
}

fn ntlm_key(v: (u8, u8, u16)) -> String {
    format!("{}.{}", v.0, v.1)
}

fn row_fits_build(row: &EolRow, build: Option<u32>) -> bool {
    row.builds.is_empty() || build.is_some_and(|b| row.builds.contains(&b))
}

/// The end-of-life verdict for a host at `date` (the scan's date).
pub fn judge(id: &OsIdentity<'_>, date: NaiveDate, table: &EolTable) -> EolFinding {
    let samba = id.cap_unix
        || id.native_lanman.is_some_and(|s| contains_ci(s, "samba"))
        || id.native_os.is_some_and(|s| contains_ci(s, "samba"));
    if samba {
        return EolFinding::unknown(EolReason::SambaHostOs);
    }
    let native_os = id.native_os.map(str::trim).filter(|s| !s.is_empty());
    let ntlm_build = id.ntlm_version.map(|v| u32::from(v.2)).filter(|b| *b != 0);
    if let Some(os) = native_os {
        let build = build_in_native_os(os).or(ntlm_build);
        let row = table.os.iter().find(|r| {
            r.native_os.iter().any(|n| contains_ci(os, n))
                && (r.editions.is_empty() || r.editions.iter().any(|e| contains_ci(os, e)))
                && row_fits_build(r, build)
        });
        if let Some(row) = row {
            return EolFinding {
                verdict: row_verdict(row, date),
                reason: None,
                product: Some(row.product.clone()),
                build,
                end_of_support: Some(row.end_of_support),
                esu_until: row.esu_until,
                replacement: Some(row.replacement.clone()),
                source: Some(row.source.clone()),
                from_ntlm_only: false,
            };
        }
    }
    let Some(v) = id.ntlm_version else {
        return EolFinding::unknown(if native_os.is_some() {
            EolReason::ProductNotInTable
        } else {
            EolReason::NoOsIdentity
        });
    };
    if v.2 == 0 {
        // Real Windows always reports its build; Samba sends 6.1.0.
        return EolFinding::unknown(EolReason::SambaHostOs);
    }
    let key = ntlm_key(v);
    let candidates: Vec<&EolRow> = table
        .os
        .iter()
        .filter(|r| r.ntlm == key && row_fits_build(r, ntlm_build))
        .collect();
    let Some(first) = candidates.first() else {
        return EolFinding::unknown(EolReason::ProductNotInTable);
    };
    let verdict = row_verdict(first, date);
    let mut product: Vec<&str> = Vec::new();
    for r in &candidates {
        if !product.contains(&r.product.as_str()) {
            product.push(&r.product);
        }
    }
    let product = product.join(" / ");
    if candidates.iter().any(|r| row_verdict(r, date) != verdict) {
        let mut f = EolFinding::unknown(EolReason::EditionAmbiguous);
        f.product = Some(product);
        f.build = ntlm_build;
        f.from_ntlm_only = true;
        return f;
    }
    // Unanimous: report the latest dates of the candidates, so the finding never overstates.
    let latest = candidates.iter().copied().max_by_key(|r| r.end_of_support);
    let row = latest.unwrap_or(first);
    EolFinding {
        verdict,
        reason: None,
        product: Some(product),
        build: ntlm_build,
        end_of_support: Some(row.end_of_support),
        esu_until: candidates.iter().filter_map(|r| r.esu_until).max(),
        replacement: Some(row.replacement.clone()),
        source: Some(row.source.clone()),
        from_ntlm_only: true,
    }
}

/// [`judge`] with the compiled-in table; unknown (`table-unavailable`) if it does not load.
pub fn judge_builtin(id: &OsIdentity<'_>, date: NaiveDate) -> EolFinding {
    match table() {
        Ok(t) => judge(id, date, t),
        Err(_) => EolFinding::unknown(EolReason::TableUnavailable),
    }
}

/// This check's remediation rows (`data/checks/eol_os.toml`), compiled in for the registry.
pub const REMEDIATION_TOML: &str = include_str!("../../../data/checks/eol_os.toml");
/// The same table as JSON, compiled by build.rs: read at run time (faster than the TOML).
pub const REMEDIATION_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/checks/eol_os.json"));

#[cfg(test)]
mod tests {
    use super::*;
    use EolVerdict::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn smb1(os: &str, lm: &str, ntlm: Option<(u8, u8, u16)>) -> OsIdentity<'static> {
        OsIdentity {
            native_os: Some(Box::leak(os.to_owned().into_boxed_str())),
            native_lanman: Some(Box::leak(lm.to_owned().into_boxed_str())),
            ntlm_version: ntlm,
            cap_unix: false,
        }
    }

    #[test]
    fn contains_ci_matches_lowercased_copies() {
        // The in-place compare says what `to_ascii_lowercase().contains(..)` of both said,
        // including non-ASCII text (compared as is), an empty needle and a needle too long.
        let cases = [
            (
                "Windows Server 2012 R2 Standard 9600",
                "windows server 2012 r2",
            ),
            ("WINDOWS 5.1", "Windows 5.1"),
            ("Windows 5.1", "windows 5.2"),
            ("Samba 4.5.9", "SAMBA"),
            ("Wíndows 7", "wíndows"),
            ("Wíndows 7", "WÍNDOWS"),
            ("abc", ""),
            ("", "a"),
            ("ab", "abc"),
        ];
        for (hay, needle) in cases {
            let old = hay
                .to_ascii_lowercase()
                .contains(&needle.to_ascii_lowercase());
            assert_eq!(contains_ci(hay, needle), old, "{hay:?} {needle:?}");
        }
    }

    #[test]
    fn table_loads_and_every_row_is_consistent() {
        let t = table().unwrap_or_else(|e| panic!("{e}"));
        assert!(t.os.len() > 40);
        for r in &t.os {
            assert!(
                r.source.starts_with("https://learn.microsoft.com/"),
                "{}",
                r.product
            );
            assert!(
                r.esu_until.map_or(true, |e| e > r.end_of_support),
                "{}",
                r.product
            );
            assert!(r.ntlm.split('.').count() == 2, "{}", r.product);
        }
    }

    /// Values (not bytes) read with tshark from the server's SESSION_SETUP_ANDX response and
    /// NTLMSSP CHALLENGE in ../shared/captures, judged at 2026-12-06.
    #[test]
    fn real_strings_from_captures() {
        let t = table().unwrap_or_else(|e| panic!("{e}"));
        let at = d("2026-12-06");
        type Case = (
            &'static str,
            &'static str,
            &'static str,
            Option<(u8, u8, u16)>,
            EolVerdict,
            Option<&'static str>,
            Option<u32>,
        );
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("win2000-smb1-negotiate-session-setup-kerberos", "Windows 5.0", "Windows 2000 LAN Manager", None, EndOfLife, Some("Windows 2000"), None),
            ("winxp-sp3-unpatched-ms17-010-check-msf", "Windows 5.1", "Windows 2000 LAN Manager", Some((5, 1, 2600)), EndOfLife, Some("Windows XP"), Some(2600)),
            ("win7-enterprise-sp1-x64-unpatched-ms17-010-check-wannacry", "Windows 7 Enterprise 7601 Service Pack 1", "Windows 7 Enterprise 6.1", None, EndOfLife, Some("Windows 7"), Some(7601)),
            ("win7-ultimate-rtm-x64-doublepulsar-ping-infected-nixawk", "Windows 7 Ultimate 7600", "Windows 7 Ultimate 6.1", None, EndOfLife, Some("Windows 7"), Some(7600)),
            ("win2008r2-std-sp1-smb1-negotiate-session-setup-extsec", "Windows Server 2008 R2 Standard 7601 Service Pack 1", "Windows Server 2008 R2 Standard 6.1", Some((6, 1, 7601)), EndOfLife, Some("Windows Server 2008 R2"), Some(7601)),
            ("win81-9600-smb1-negotiate-session-setup-port139", "Windows 8.1 9600", "Windows 8.1 6.3", Some((6, 3, 9600)), EndOfLife, Some("Windows 8.1"), Some(9600)),
            ("win2012r2-dc-unpatched-ms17-010-check-wannacry", "Windows Server 2012 R2 Datacenter Evaluation 9600", "Windows Server 2012 R2 Datacenter Evaluation 6.3", None, EndOfLife, Some("Windows Server 2012 R2"), Some(9600)),
            ("win10-home-15063-smb1-negotiate-session-setup", "Windows 10 Home 15063", "Windows 10 Home 6.3", Some((10, 0, 15063)), EndOfLife, Some("Windows 10 1703"), Some(15063)),
            // NativeOS says 19045 (22H2) while the NTLMSSP version says 19041: NativeOS wins.
            ("win10-pro-19045-smb1-negotiate-session-setup", "Windows 10 Pro 19045", "Windows 10 Pro 6.3", Some((10, 0, 19041)), EsuOnly, Some("Windows 10 22H2"), Some(19045)),
            ("win2016-datacenter-14393-smb1-negotiate-session-setup", "Windows Server 2016 Datacenter 14393", "Windows Server 2016 Datacenter 6.3", Some((10, 0, 14393)), Supported, Some("Windows Server 2016"), Some(14393)),
            ("win2019-standard-17763-smb1-negotiate-session-setup", "Windows Server 2019 Standard 17763", "Windows Server 2019 Standard 6.3", Some((10, 0, 17763)), Supported, Some("Windows Server 2019"), Some(17763)),
        ];
        for (capture, os, lm, ntlm, verdict, product, build) in cases {
            let f = judge(&smb1(os, lm, *ntlm), at, t);
            assert_eq!(f.verdict, *verdict, "{capture}: {f:?}");
            assert_eq!(f.product.as_deref(), *product, "{capture}");
            assert_eq!(f.build, *build, "{capture}");
            assert!(!f.from_ntlm_only, "{capture}");
        }
    }

    /// SMB2-only captures: the NTLMSSP version alone.
    #[test]
    fn ntlm_version_only_from_captures() {
        let t = table().unwrap_or_else(|e| panic!("{e}"));
        let at = d("2026-12-06");
        let v = |ntlm| OsIdentity {
            ntlm_version: Some(ntlm),
            ..OsIdentity::default()
        };
        // win2022-20348-smb2-negotiate-multiprotocol-then-300: only one product has this build.
        let f = judge(&v((10, 0, 20348)), at, t);
        assert_eq!(
            (f.verdict, f.product.as_deref()),
            (Supported, Some("Windows Server 2022"))
        );
        assert!(f.from_ntlm_only);
        // win10-19041-smb2-negotiate-311: every 2004 edition ended in 2021.
        let f = judge(&v((10, 0, 19041)), at, t);
        assert_eq!(
            (f.verdict, f.end_of_support),
            (EndOfLife, Some(d("2021-12-14")))
        );
        // win2016-14393-smb2-negotiate-311: Windows 10 1607 ended, LTSB 2016 ended 2026-10-13,
        // Server 2016 runs to 2027: the version alone cannot say which.
        let f = judge(&v((10, 0, 14393)), at, t);
        assert_eq!(
            (f.verdict, f.reason),
            (Unknown, Some(EolReason::EditionAmbiguous))
        );
        assert!(f
            .product
            .as_deref()
            .is_some_and(|p| p.contains("Windows Server 2016")));
        // win2019-17763-smb2-negotiate-multiprotocol-then-311: 1809 ended, LTSC 2019 / Server 2019 run.
        assert_eq!(judge(&v((10, 0, 17763)), at, t).verdict, Unknown);
        // Windows 7 / 2008 R2 / Embedded 7: all ended whatever the edition.
        let f = judge(&v((6, 1, 7601)), at, t);
        assert_eq!(f.verdict, EndOfLife);
        assert_eq!(
            f.esu_until,
            Some(d("2024-10-08")),
            "the latest ESU of the candidates"
        );
    }

    #[test]
    fn dates_and_editions() {
        let t = table().unwrap_or_else(|e| panic!("{e}"));
        let os = |s: &str| smb1(s, "x", None);
        // The boundary day is still supported.
        assert_eq!(
            judge(
                &os("Windows Server 2012 R2 Standard 9600"),
                d("2023-10-10"),
                t
            )
            .verdict,
            Supported
        );
        assert_eq!(
            judge(
                &os("Windows Server 2012 R2 Standard 9600"),
                d("2023-10-11"),
                t
            )
            .verdict,
            EsuOnly
        );
        assert_eq!(
            judge(
                &os("Windows Server 2012 R2 Standard 9600"),
                d("2026-10-14"),
                t
            )
            .verdict,
            EndOfLife
        );
        assert_eq!(build_in_native_os("Windows Server 2016"), None);
        assert_eq!(build_in_native_os("Windows 2000 2195"), Some(2195));
        // 2012 (not R2) is its own row even though "2012 R2" contains "2012".
        assert_eq!(
            judge(&os("Windows Server 2012 Standard 9200"), d("2026-01-01"), t)
                .product
                .as_deref(),
            Some("Windows Server 2012")
        );
        // Enterprise 1909 was serviced a year longer than Pro.
        let at = d("2021-12-01");
        assert_eq!(
            judge(&os("Windows 10 Enterprise 18363"), at, t).verdict,
            Supported
        );
        assert_eq!(judge(&os("Windows 10 Pro 18363"), at, t).verdict, EndOfLife);
        // LTSB is named in the NativeOS string.
        let f = judge(
            &os("Windows 10 Enterprise 2016 LTSB 14393"),
            d("2026-06-01"),
            t,
        );
        assert_eq!(
            (f.verdict, f.product.as_deref()),
            (Supported, Some("Windows 10 Enterprise 2016 LTSB"))
        );
        // Embedded editions identifiable from the NativeOS string.
        let f = judge(
            &os("Windows Embedded Standard 7601 Service Pack 1"),
            d("2022-01-01"),
            t,
        );
        assert_eq!(
            (f.verdict, f.product.as_deref()),
            (EsuOnly, Some("Windows Embedded Standard 7"))
        );
        // The finding names the date and the replacement.
        let f = judge(&os("Windows 5.1"), d("2026-12-06"), t);
        assert_eq!(f.summary(), "Windows XP: support ended 2014-04-08; replace with Windows 11 (or Windows 10 IoT Enterprise LTSC for a device)");
    }

    #[test]
    fn unknown_unless_the_replies_identify_the_product() {
        let t = table().unwrap_or_else(|e| panic!("{e}"));
        let at = d("2026-12-06");
        let none = OsIdentity::default();
        assert_eq!(judge(&none, at, t).reason, Some(EolReason::NoOsIdentity));
        // Samba answers "Windows 6.1" as NativeOS (samba-4.5.2-debian / samba-4.7.4 captures):
        // that is not Windows 7.
        let f = judge(
            &smb1("Windows 6.1", "Samba 4.5.2-Debian", Some((6, 1, 0))),
            at,
            t,
        );
        assert_eq!(
            (f.verdict, f.reason),
            (Unknown, Some(EolReason::SambaHostOs))
        );
        // samba-3.6.3 capture.
        assert_eq!(
            judge(&smb1("Unix", "Samba 3.6.3", None), at, t).verdict,
            Unknown
        );
        // NTLMSSP build 0 without a LAN manager string (SMB2-only Samba).
        let f = judge(
            &OsIdentity {
                ntlm_version: Some((6, 1, 0)),
                ..none
            },
            at,
            t,
        );
        assert_eq!(f.reason, Some(EolReason::SambaHostOs));
        // An unknown string and nothing else.
        let f = judge(&smb1("SpinCifs", "SpinCifs LanMan", None), at, t);
        assert_eq!(f.reason, Some(EolReason::ProductNotInTable));
        // A Windows 10 build the table does not list, known only from NTLMSSP.
        let f = judge(
            &OsIdentity {
                ntlm_version: Some((10, 0, 12345)),
                ..none
            },
            at,
            t,
        );
        assert_eq!(f.reason, Some(EolReason::ProductNotInTable));
    }

    #[test]
    fn remediation_rows_parse() {
        let t: toml::Table = toml::from_str(REMEDIATION_TOML).unwrap_or_else(|e| panic!("{e}"));
        let row = t
            .get("findings")
            .and_then(|v| v.get("end-of-life"))
            .and_then(|v| v.get("action"))
            .and_then(|v| v.as_str());
        assert!(row.is_some_and(|s| !s.is_empty()));
    }
}
