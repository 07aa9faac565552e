//! One host's story over the sweeps, as pure functions: when it was first seen exposed, when it
//! was fixed (first decided safe after being exposed), when it came back. Silence is never
//! safety: a sweep in which the host proved nothing (no answer, a timeout, an undecided verdict)
//! neither fixes it nor breaks a fix.

use crate::model::{DpVerdict, HostResult, Ms17Verdict};

/// What one record says about exposure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exposure {
    /// SMB1 on, MS17-010 vulnerable, or DoublePulsar present.
    Exposed,
    /// Decided safe on the host's own evidence: a decided MS17-010 verdict with SMB1 not on. A
    /// refused connection is not: a firewall's RST, or the service moved, proves no fix (the
    /// record says MS17-010 `not-tested`, and `diff` reads it the same way).
    Safe,
    /// Nothing proved either way.
    Undecided,
}

/// The exposure a record shows.
pub fn exposure(h: &HostResult) -> Exposure {
    if h.smb1.enabled == Some(true)
        || h.ms17_010.verdict == Ms17Verdict::Vulnerable
        || h.doublepulsar.verdict == DpVerdict::Present
    {
        Exposure::Exposed
    } else if matches!(
        h.ms17_010.verdict,
        Ms17Verdict::NotVulnerable | Ms17Verdict::NotExposed
    ) {
        Exposure::Safe
    } else {
        Exposure::Undecided
    }
}

/// [`exposure`] from the store's key columns (`smb1`, `ms17`, `doublepulsar`, as
/// their kebab-case names), so the campaign reads no whole record. The status does not
/// enter: a refused connection proves no fix.
pub fn exposure_of(smb1: Option<bool>, ms17: &str, dp: &str) -> Exposure {
    if smb1 == Some(true) || ms17 == "vulnerable" || dp == "present" {
        Exposure::Exposed
    } else if ms17 == "not-vulnerable" || ms17 == "not-exposed" {
        Exposure::Safe
    } else {
        Exposure::Undecided
    }
}

/// A turn in a host's story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// Exposed for the first time.
    FirstExposed,
    /// Decided safe after being exposed.
    Fixed,
    /// Exposed again after a fix.
    CameBack,
}

/// A turn, at the sweep where it was seen (index into the input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// Index of the sweep.
    pub at: usize,
}

/// The turns of a host's story from its exposure in each sweep, oldest first.
pub fn events(seq: &[Exposure]) -> Vec<Event> {
    let mut out = Vec::new();
    // None: never exposed yet; Some(true): exposed now; Some(false): fixed.
    let mut exposed: Option<bool> = None;
    for (at, e) in seq.iter().enumerate() {
        match (exposed, e) {
            (None, Exposure::Exposed) => {
                out.push(Event {
                    kind: EventKind::FirstExposed,
                    at,
                });
                exposed = Some(true);
            }
            (Some(true), Exposure::Safe) => {
                out.push(Event {
                    kind: EventKind::Fixed,
                    at,
                });
                exposed = Some(false);
            }
            (Some(false), Exposure::Exposed) => {
                out.push(Event {
                    kind: EventKind::CameBack,
                    at,
                });
                exposed = Some(true);
            }
            _ => {}
        }
    }
    out
}

/// Days from the first exposure to the first fix, if the host was fixed.
pub fn days_to_fix(seq: &[(Exposure, chrono::DateTime<chrono::Utc>)]) -> Option<f64> {
    let ex: Vec<Exposure> = seq.iter().map(|(e, _)| *e).collect();
    let ev = events(&ex);
    let first = ev.iter().find(|e| e.kind == EventKind::FirstExposed)?;
    let fixed = ev.iter().find(|e| e.kind == EventKind::Fixed)?;
    let (a, b) = (seq.get(first.at)?.1, seq.get(fixed.at)?.1);
    Some((b - a).num_seconds() as f64 / 86_400.0)
}

/// The median of some values (the mean of the middle two for an even count).
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    Some(if v.len() % 2 == 0 {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HostStatus;
    use EventKind::*;
    use Exposure::*;

    fn kinds(seq: &[Exposure]) -> Vec<(EventKind, usize)> {
        events(seq).iter().map(|e| (e.kind, e.at)).collect()
    }

    #[test]
    fn turns_of_a_hosts_story() {
        type Case<'a> = (&'a [Exposure], &'a [(EventKind, usize)]);
        let cases: &[Case] = &[
            (&[], &[]),
            (&[Safe, Safe], &[]),
            (&[Undecided, Undecided], &[]),
            (&[Exposed], &[(FirstExposed, 0)]),
            (&[Safe, Exposed, Exposed], &[(FirstExposed, 1)]),
            (&[Exposed, Safe], &[(FirstExposed, 0), (Fixed, 1)]),
            // Silence neither fixes nor breaks a fix.
            (&[Exposed, Undecided, Undecided], &[(FirstExposed, 0)]),
            (
                &[Exposed, Undecided, Safe],
                &[(FirstExposed, 0), (Fixed, 2)],
            ),
            (
                &[Exposed, Safe, Undecided, Safe],
                &[(FirstExposed, 0), (Fixed, 1)],
            ),
            (
                &[Exposed, Safe, Exposed, Safe],
                &[(FirstExposed, 0), (Fixed, 1), (CameBack, 2), (Fixed, 3)],
            ),
            (
                &[Undecided, Exposed, Safe, Undecided, Exposed],
                &[(FirstExposed, 1), (Fixed, 2), (CameBack, 4)],
            ),
        ];
        for (seq, want) in cases {
            assert_eq!(kinds(seq), want.to_vec(), "{seq:?}");
        }
    }

    #[test]
    fn exposure_of_records() {
        use std::net::IpAddr;
        let base = || HostResult::new(IpAddr::from([192, 0, 2, 1]), 445, None);
        let mut h = base();
        assert_eq!(exposure(&h), Undecided, "nothing learnt is undecided");
        h.smb1.enabled = Some(true);
        h.ms17_010.verdict = Ms17Verdict::NotVulnerable;
        assert_eq!(
            exposure(&h),
            Exposed,
            "SMB1 on is exposure even when patched"
        );
        let mut h = base();
        h.ms17_010.verdict = Ms17Verdict::NotExposed;
        h.smb1.enabled = Some(false);
        assert_eq!(exposure(&h), Safe);
        let mut h = base();
        h.status = HostStatus::Filtered;
        assert_eq!(exposure(&h), Undecided, "silence is never safety");
        h.status = HostStatus::Closed;
        assert_eq!(
            exposure(&h),
            Undecided,
            "a refused connection proves no fix (a firewall's RST, a moved service)"
        );
        let mut h = base();
        h.doublepulsar.verdict = DpVerdict::Present;
        assert_eq!(exposure(&h), Exposed);
        // The column form agrees with the record form.
        use crate::report::enum_name;
        let mut cases = Vec::new();
        for smb1 in [None, Some(true), Some(false)] {
            for v in [
                Ms17Verdict::Vulnerable,
                Ms17Verdict::NotVulnerable,
                Ms17Verdict::NotExposed,
                Ms17Verdict::Unknown,
            ] {
                for st in [HostStatus::Open, HostStatus::Closed, HostStatus::Filtered] {
                    for dp in [DpVerdict::Present, DpVerdict::Absent] {
                        let mut h = base();
                        h.smb1.enabled = smb1;
                        h.ms17_010.verdict = v;
                        h.status = st;
                        h.doublepulsar.verdict = dp;
                        cases.push(h);
                    }
                }
            }
        }
        for h in &cases {
            assert_eq!(
                exposure_of(
                    h.smb1.enabled,
                    &enum_name(&h.ms17_010.verdict),
                    &enum_name(&h.doublepulsar.verdict),
                ),
                exposure(h),
                "{h:?}"
            );
        }
    }

    #[test]
    fn days_and_medians() {
        let t = |d: i64| {
            chrono::DateTime::<chrono::Utc>::from_timestamp(d * 86_400, 0).unwrap_or_default()
        };
        assert_eq!(
            days_to_fix(&[(Exposed, t(0)), (Undecided, t(7)), (Safe, t(14))]),
            Some(14.0)
        );
        assert_eq!(days_to_fix(&[(Exposed, t(0)), (Exposed, t(7))]), None);
        assert_eq!(days_to_fix(&[(Safe, t(0))]), None);
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
