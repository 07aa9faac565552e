//! Turns what a host says about itself (NativeOS, NativeLanMan, the NTLMSSP version, capabilities::UNIX)
//! into a normalised product name and build, which the remediation table keys on.

/// Normalised product and build from the raw identity strings.
///
/// The SESSION_SETUP NativeOS is the most specific source (edition and service pack); the NTLMSSP
/// version (major.minor.build) still identifies the OS when SMB1 is off; Samba is recognised from
/// its LAN manager string or capabilities::UNIX and reported as such, since it answers like patched Windows.
pub fn normalise(
    native_os: Option<&str>,
    native_lanman: Option<&str>,
    ntlm_version: Option<(u8, u8, u16)>,
    cap_unix: bool,
) -> (Option<String>, Option<u32>, bool) {
    if let Some(lm) = native_lanman.filter(|s| s.to_ascii_lowercase().contains("samba")) {
        return (Some(samba_product(lm)), None, true);
    }
    if let Some(os) = native_os.filter(|s| s.to_ascii_lowercase().contains("samba")) {
        return (Some(samba_product(os)), None, true);
    }
    if cap_unix {
        return (Some("Samba".into()), None, true);
    }
    if let Some(os) = native_os.filter(|s| !s.trim().is_empty()) {
        if let Some(p) = from_native_os(os) {
            let build = build_in(os).or(ntlm_version.map(|v| u32::from(v.2)));
            return (Some(p), build, false);
        }
    }
    if let Some((maj, min, build)) = ntlm_version {
        if let Some(p) = from_ntlm_version(maj, min, build) {
            return (
                Some(p.into()),
                (build != 0).then_some(u32::from(build)),
                false,
            );
        }
    }
    (
        native_os
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned),
        None,
        false,
    )
}

/// "Samba 4.17.12-Debian" -> "Samba 4.17.12".
fn samba_product(s: &str) -> String {
    let ver = s
        .split_whitespace()
        .skip_while(|w| !w.eq_ignore_ascii_case("samba"))
        .nth(1)
        .map(|v| v.split('-').next().unwrap_or(v).to_owned());
    match ver {
        Some(v) if v.chars().next().is_some_and(|c| c.is_ascii_digit()) => format!("Samba {v}"),
        _ => "Samba".into(),
    }
}

/// The build in a NativeOS string: its last 4-5 digit number, e.g. 7601 in
/// "Windows Server 2008 R2 Standard 7601 Service Pack 1" (the product name may hold a year).
fn build_in(s: &str) -> Option<u32> {
    s.split_whitespace()
        .rev()
        .filter(|w| (4..=5).contains(&w.len()) && w.chars().all(|c| c.is_ascii_digit()))
        .find_map(|w| w.parse().ok())
}

fn service_pack(s: &str) -> Option<u32> {
    let words: Vec<&str> = s.split_whitespace().collect();
    words
        .windows(3)
        .find(|w| w.first() == Some(&"Service") && w.get(1) == Some(&"Pack"))
        .and_then(|w| w.get(2))
        .and_then(|n| n.parse().ok())
}

/// Product from a Windows NativeOS string.
fn from_native_os(os: &str) -> Option<String> {
    let sp = service_pack(os)
        .map(|n| format!(" SP{n}"))
        .unwrap_or_default();
    // Older Windows report only the kernel version here.
    match os.trim() {
        "Windows 5.0" => return Some("Windows 2000".into()),
        "Windows 5.1" => return Some("Windows XP".into()),
        "Windows 5.2" => return Some("Windows XP x64 / Server 2003".into()),
        _ => {}
    }
    const FAMILIES: &[&str] = &[
        "Windows Server 2003 R2",
        "Windows Server 2003",
        "Windows Server 2008 R2",
        "Windows Server 2008",
        "Windows Server 2012 R2",
        "Windows Server 2012",
        "Windows Server 2016",
        "Windows Server 2019",
        "Windows Server 2022",
        "Windows Server 2025",
        "Windows (R) Storage Server 2008",
        "Windows Storage Server 2016",
        "Windows Vista",
        "Windows XP",
        "Windows 7",
        "Windows 8.1",
        "Windows 8",
        "Windows 10",
        "Windows 11",
        "Windows Embedded Standard",
    ];
    let family = FAMILIES.iter().find(|f| os.starts_with(*f))?;
    let base = match (*family, build_in(os)) {
        // Windows 11 still calls itself "Windows 10" in NativeOS on some builds.
        ("Windows 10", Some(b)) if b >= 22000 => "Windows 11".to_owned(),
        ("Windows Server 2016", Some(b)) if b >= 17763 => "Windows Server 2019".to_owned(),
        (f, _) => f.to_string(),
    };
    Some(format!("{base}{sp}"))
}

/// Product from the NTLMSSP VERSION ([MS-NLMP] 2.2.2.10) when nothing better is known. Client
/// and server editions share builds, so both are named.
pub fn from_ntlm_version(major: u8, minor: u8, build: u16) -> Option<&'static str> {
    if build == 0 {
        // Real Windows always reports its build; Samba sends 6.1.0.
        return Some("non-Windows (NTLM build 0, e.g. Samba)");
    }
    Some(match (major, minor, build) {
        (5, 0, _) => "Windows 2000",
        (5, 1, _) => "Windows XP",
        (5, 2, _) => "Windows XP x64 / Server 2003",
        (6, 0, _) => "Windows Vista / Server 2008",
        (6, 1, 7600) => "Windows 7 / Server 2008 R2",
        (6, 1, 7601) => "Windows 7 SP1 / Server 2008 R2 SP1",
        (6, 1, _) => "Windows 7 / Server 2008 R2",
        (6, 2, _) => "Windows 8 / Server 2012",
        (6, 3, _) => "Windows 8.1 / Server 2012 R2",
        (10, 0, 14393) => "Windows 10 1607 / Server 2016",
        (10, 0, 17763) => "Windows 10 1809 / Server 2019",
        (10, 0, 20348) => "Windows Server 2022",
        (10, 0, 26100) => "Windows 11 24H2 / Server 2025",
        (10, 0, b) if b >= 22000 => "Windows 11",
        (10, 0, 10240) => "Windows 10 1507",
        (10, 0, 10586) => "Windows 10 1511",
        (10, 0, _) => "Windows 10",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_from_real_strings() {
        // NativeOS / NativeLanMan strings as in the captures listed in shared/captures/SOURCES.md.
        let n = |os: &str, lm: &str| normalise(Some(os), Some(lm), None, false);
        assert_eq!(
            n(
                "Windows 7 Enterprise 7601 Service Pack 1",
                "Windows 7 Enterprise 6.1"
            ),
            (Some("Windows 7 SP1".into()), Some(7601), false)
        );
        assert_eq!(
            n(
                "Windows Server 2008 R2 Standard 7601 Service Pack 1",
                "Windows Server 2008 R2 Standard 6.1"
            ),
            (Some("Windows Server 2008 R2 SP1".into()), Some(7601), false)
        );
        assert_eq!(
            n("Windows Server 2016 Standard 14393", "x").1,
            Some(14393),
            "the year in the name is not the build"
        );
        assert_eq!(
            n("Windows Server 2012 R2 Datacenter Evaluation 9600", "x").0,
            Some("Windows Server 2012 R2".into())
        );
        assert_eq!(
            n("Windows 5.1", "Windows 2000 LAN Manager").0,
            Some("Windows XP".into())
        );
        assert_eq!(
            n("Windows 10 Pro 19045", "Windows 10 Pro 6.3").1,
            Some(19045)
        );
        assert_eq!(
            n("Windows 6.1", "Samba 4.5.2-Debian"),
            (Some("Samba 4.5.2".into()), None, true)
        );
        assert_eq!(
            normalise(None, None, Some((10, 0, 17763)), false)
                .0
                .as_deref(),
            Some("Windows 10 1809 / Server 2019")
        );
        assert!(normalise(None, None, None, true).2);
        assert_eq!(
            normalise(Some("Unix"), None, None, false).0.as_deref(),
            Some("Unix")
        );
    }
}
