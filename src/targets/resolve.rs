//! Host names → addresses, and the final [`TargetSpace`].
//!
//! An include name that does not resolve is returned in [`LoadedTargets::unresolved`] with the
//! reason, never silently dropped: the caller reports it. An exclusion name that does not resolve
//! is an error: what it should protect is unknown, so nothing is scanned.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use super::intervals::ip_to_u128;
use super::sources::Specs;
use super::space::TargetSpace;
use super::{TargetError, LARGE_LIMIT};

/// How long one name may take to resolve.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Names resolved at once: a long names file must not open hundreds of resolver sockets.
const PARALLEL: usize = 16;

/// Targets ready to scan.
#[derive(Debug, Clone)]
pub struct LoadedTargets {
    /// The addresses to scan (exclusions already removed), with the names they came from.
    pub space: TargetSpace,
    /// The sources as the scan metadata shows them.
    pub described: Vec<String>,
    /// Include names that did not resolve, with the reason, sorted by name.
    pub unresolved: Vec<(String, String)>,
}

/// Resolves the names of `specs` with the system resolver and builds the target space.
pub async fn resolve(specs: Specs) -> Result<LoadedTargets, TargetError> {
    resolve_with(specs, system_lookup, RESOLVE_TIMEOUT).await
}

/// The system resolver (`getaddrinfo` through tokio).
async fn system_lookup(name: String) -> std::io::Result<Vec<IpAddr>> {
    // An owned "name:0" keeps the lookup future free of borrows.
    let it = tokio::net::lookup_host(format!("{name}:0")).await?;
    Ok(it.map(|a| a.ip()).collect())
}

/// [`resolve`] with a given lookup function (tests use a fake one: no test may query a DNS
/// server off this machine).
pub async fn resolve_with<F, Fut>(
    specs: Specs,
    lookup: F,
    timeout: Duration,
) -> Result<LoadedTargets, TargetError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'static,
{
    let Specs {
        mut include,
        mut exclude,
        described,
        first_address,
        allow_large,
    } = specs;
    let mut names = HashMap::new();
    let (ok, unresolved) = resolve_names(&include.names, first_address, timeout, &lookup).await;
    for (name, addrs) in ok {
        for a in addrs {
            let x = ip_to_u128(a);
            include.ranges.push((x, x));
            names.entry(x).or_insert_with(|| name.clone());
        }
    }
    // An exclusion by name covers every address the name has.
    let (ok, failed) = resolve_names(&exclude.names, false, timeout, &lookup).await;
    if let Some((name, why)) = failed.into_iter().next() {
        // Cannot know what to protect: refuse rather than risk scanning it.
        return Err(TargetError::UnresolvedExclusion { name, why });
    }
    for (_, addrs) in ok {
        for a in addrs {
            let x = ip_to_u128(a);
            exclude.ranges.push((x, x));
        }
    }
    let space = TargetSpace::new(include.ranges, exclude.ranges, names)?;
    // Counted after exclusions and resolution: what would really be sent packets.
    if !allow_large && space.len() > LARGE_LIMIT {
        return Err(TargetError::TotalTooLarge { count: space.len() });
    }
    Ok(LoadedTargets {
        space,
        described,
        unresolved,
    })
}

/// Resolves names (a few at a time), each to every address or to the first one. Returns the
/// resolved names and the failed ones with the reason, both sorted by name.
#[allow(clippy::type_complexity)]
async fn resolve_names<F, Fut>(
    names: &[String],
    first_only: bool,
    timeout: Duration,
    lookup: &F,
) -> (Vec<(String, Vec<IpAddr>)>, Vec<(String, String)>)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    let mut pending = HashMap::new();
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    let mut it = names.iter().cloned();
    loop {
        while set.len() < PARALLEL {
            let Some(name) = it.next() else { break };
            let fut = lookup(name.clone());
            let handle = set.spawn(async move { tokio::time::timeout(timeout, fut).await });
            pending.insert(handle.id(), name);
        }
        let Some(joined) = set.join_next_with_id().await else {
            break;
        };
        let (id, r) = match joined {
            Ok((id, r)) => (id, Ok(r)),
            Err(e) => (e.id(), Err(e)),
        };
        // Every spawned task has its name: a lookup that panicked is still reported.
        let Some(name) = pending.remove(&id) else {
            continue;
        };
        match r {
            Err(e) => failed.push((name, format!("resolver task failed: {e}"))),
            Ok(Err(_)) => failed.push((name, "resolution timed out".to_string())),
            Ok(Ok(Err(e))) => failed.push((name, e.to_string())),
            Ok(Ok(Ok(addrs))) => {
                let mut v: Vec<IpAddr> = Vec::new();
                for a in addrs {
                    if !v.contains(&a) {
                        v.push(a);
                    }
                }
                if first_only {
                    v.truncate(1);
                }
                if v.is_empty() {
                    failed.push((name, "no address".to_string()));
                } else {
                    ok.push((name, v));
                }
            }
        }
    }
    ok.sort();
    failed.sort();
    (ok, failed)
}

#[cfg(test)]
mod tests {
    use super::super::spec::SpecList;
    use super::*;

    /// A resolver that knows three names and never touches the network.
    async fn fake(name: String) -> std::io::Result<Vec<IpAddr>> {
        let v = |a: &[&str]| Ok(a.iter().map(|s| s.parse().unwrap()).collect());
        match name.as_str() {
            "two.test" => v(&["127.0.0.7", "127.0.0.8", "127.0.0.7"]),
            "one.test" => v(&["127.0.0.9"]),
            "empty.test" => v(&[]),
            "panic.test" => panic!("a resolver bug"),
            "slow.test" => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                v(&["127.0.0.10"])
            }
            _ => Err(std::io::Error::other("no such host")),
        }
    }

    fn specs(inc: &[&str], exc: &[&str], first: bool) -> Specs {
        let mut include = SpecList::default();
        inc.iter().for_each(|t| include.push_token(t).unwrap());
        let mut exclude = SpecList::default();
        exc.iter().for_each(|t| exclude.push_token(t).unwrap());
        Specs {
            include,
            exclude,
            described: vec!["x".into()],
            first_address: first,
            allow_large: false,
        }
    }

    #[tokio::test]
    async fn unresolved_include_names_are_returned_not_dropped() {
        let l = resolve_with(
            specs(
                &[
                    "127.0.0.1",
                    "two.test",
                    "nope.test",
                    "empty.test",
                    "slow.test",
                    "panic.test",
                ],
                &[],
                false,
            ),
            fake,
            Duration::from_millis(200),
        )
        .await
        .unwrap();
        let names: Vec<&str> = l.unresolved.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["empty.test", "nope.test", "panic.test", "slow.test"]
        );
        let why: Vec<&str> = l.unresolved.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(why[0], "no address");
        assert_eq!(why[1], "no such host");
        // A lookup that panicked is still reported under its name, not lost.
        assert!(why[2].starts_with("resolver task failed"), "{}", why[2]);
        assert_eq!(why[3], "resolution timed out");
        assert_eq!(l.space.len(), 3);
        let t: Vec<_> = l
            .space
            .targets(0, Default::default(), &[445])
            .filter(|t| t.hostname.as_deref() == Some("two.test"))
            .collect();
        assert_eq!(t.len(), 2);
    }

    #[tokio::test]
    async fn first_address_and_name_exclusions() {
        let l = resolve_with(
            specs(&["two.test", "one.test"], &["one.test"], true),
            fake,
            RESOLVE_TIMEOUT,
        )
        .await
        .unwrap();
        assert!(l.unresolved.is_empty());
        let got: Vec<IpAddr> = l.space.addresses(0, Default::default()).collect();
        assert_eq!(got, vec!["127.0.0.7".parse::<IpAddr>().unwrap()]);
        // An exclusion that does not resolve stops the run: it names the name.
        let e = resolve_with(
            specs(&["127.0.0.1"], &["gone.test"], false),
            fake,
            RESOLVE_TIMEOUT,
        )
        .await
        .unwrap_err();
        assert!(e.is_usage() && e.to_string().contains("`gone.test`"), "{e}");
    }

    #[tokio::test]
    async fn the_total_after_exclusions_is_limited_unless_allowed() {
        let load = |inc: &'static [&'static str], exc: &'static [&'static str], allow: bool| {
            let mut s = specs(inc, exc, false);
            s.allow_large = allow;
            resolve_with(s, fake, RESOLVE_TIMEOUT)
        };
        // Two /9s make a /8: exactly the limit, allowed.
        assert!(load(&["10.0.0.0/9", "10.128.0.0/9"], &[], false)
            .await
            .is_ok());
        let e = load(&["10.0.0.0/8", "11.0.0.0/32"], &[], false)
            .await
            .unwrap_err();
        assert!(e.is_usage(), "{e}");
        assert!(
            e.to_string().contains("16777217") && e.to_string().contains("--allow-large"),
            "{e}"
        );
        // What exclusions remove does not count.
        assert!(load(&["10.0.0.0/7"], &["11.0.0.0/8"], false).await.is_ok());
        assert_eq!(
            load(&["10.0.0.0/7"], &[], true).await.unwrap().space.len(),
            1 << 25
        );
    }

    #[tokio::test]
    async fn resolves_localhost() {
        // /etc/hosts only: no DNS query leaves the machine.
        let l = resolve(specs(&["localhost"], &[], false)).await.unwrap();
        assert!(l.unresolved.is_empty(), "{:?}", l.unresolved);
        assert!(l
            .space
            .addresses(0, Default::default())
            .all(|a| a.is_loopback()));
    }
}
