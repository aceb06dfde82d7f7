//! Transitive groups where the directory cannot compute them (OpenLDAP): a breadth-first walk
//! over `member` links, one search per level for every DN reached at the level before.
//!
//! Cycle-safe: a group already reached (compared as RFC 4514 DNs, so `CN=A` and `cn=a` are one
//! group) is not followed again. Depth-limited, and honest about it: when the level past
//! `max_depth` still finds new groups, the walk fails ([`WalkError::TooDeep`]) rather than hand
//! back a shorter list as if it were complete.

use crate::protocol::mapping::Dn;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalkError {
    #[error("group nesting deeper than {0} levels")]
    TooDeep(u32),
    #[error("the directory returned `{0}`, which is not a DN")]
    NotADn(String),
}

/// A walk in progress: ask [`Walk::next_level`] which DNs to search members for, answer with
/// [`Walk::found`], until `next_level` is `None`.
#[derive(Debug)]
pub struct Walk {
    max_depth: u32,
    depth: u32,
    /// Every DN reached so far (the person included), parsed for comparison.
    seen: Vec<Dn>,
    /// The groups reached, as the directory spelled their DNs, in the order found.
    groups: Vec<String>,
    frontier: Vec<String>,
}

impl Walk {
    pub fn new(person_dn: &str, max_depth: u32) -> Result<Walk, WalkError> {
        let dn = Dn::parse(person_dn).map_err(|_| WalkError::NotADn(person_dn.to_string()))?;
        Ok(Walk {
            max_depth,
            depth: 0,
            seen: vec![dn],
            groups: Vec::new(),
            frontier: vec![person_dn.to_string()],
        })
    }

    /// The DNs whose direct groups the next search must find, or `None` when the walk is done.
    pub fn next_level(&self) -> Option<&[String]> {
        (!self.frontier.is_empty()).then_some(self.frontier.as_slice())
    }

    /// The groups that have any DN of the current level as a direct member.
    pub fn found(&mut self, group_dns: Vec<String>) -> Result<(), WalkError> {
        let mut next = Vec::new();
        for text in group_dns {
            let dn = Dn::parse(&text).map_err(|_| WalkError::NotADn(text.clone()))?;
            if self.seen.contains(&dn) {
                continue;
            }
            self.seen.push(dn);
            next.push(text);
        }
        self.depth += 1;
        if !next.is_empty() && self.depth > self.max_depth {
            return Err(WalkError::TooDeep(self.max_depth));
        }
        self.groups.extend(next.iter().cloned());
        self.frontier = next;
        Ok(())
    }

    /// Every group reached (meaningful once `next_level` is `None`).
    pub fn groups(&self) -> &[String] {
        &self.groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// Runs a walk over `edges` (member -> groups it is directly in).
    fn run(
        edges: &BTreeMap<String, Vec<String>>,
        start: &str,
        max: u32,
    ) -> Result<Vec<String>, WalkError> {
        let mut walk = Walk::new(start, max)?;
        let mut searches = 0;
        while let Some(level) = walk.next_level() {
            searches += 1;
            assert!(
                searches <= max + 2,
                "a walk searches at most max_depth + 1 levels"
            );
            let mut out = Vec::new();
            for dn in level {
                out.extend(edges.get(dn).cloned().unwrap_or_default());
            }
            walk.found(out)?;
        }
        Ok(walk.groups().to_vec())
    }

    fn edges(list: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (member, group) in list {
            m.entry(member.to_string())
                .or_default()
                .push(group.to_string());
        }
        m
    }

    #[test]
    fn nested_groups_are_found() {
        let e = edges(&[
            ("uid=bob,dc=x", "cn=oncall,dc=x"),
            ("cn=oncall,dc=x", "cn=platform,dc=x"),
            ("cn=platform,dc=x", "cn=aws-admins,dc=x"),
        ]);
        assert_eq!(
            run(&e, "uid=bob,dc=x", 8).unwrap(),
            vec!["cn=oncall,dc=x", "cn=platform,dc=x", "cn=aws-admins,dc=x"]
        );
    }

    #[test]
    fn cycles_end_and_dns_compare_as_dns() {
        let e = edges(&[
            ("uid=dave,dc=x", "cn=a,dc=x"),
            ("cn=a,dc=x", "CN=B,DC=X"),
            ("cn=b,dc=x", "CN=A,DC=X"),
            ("CN=B,DC=X", "cn=A, dc=x"),
        ]);
        assert_eq!(
            run(&e, "uid=dave,dc=x", 8).unwrap(),
            vec!["cn=a,dc=x", "CN=B,DC=X"]
        );
    }

    #[test]
    fn too_deep_is_an_error_not_a_shorter_list() {
        let e = edges(&[
            ("uid=bob,dc=x", "cn=1,dc=x"),
            ("cn=1,dc=x", "cn=2,dc=x"),
            ("cn=2,dc=x", "cn=3,dc=x"),
        ]);
        assert_eq!(run(&e, "uid=bob,dc=x", 2), Err(WalkError::TooDeep(2)));
        assert_eq!(run(&e, "uid=bob,dc=x", 3).unwrap().len(), 3);
    }

    #[test]
    fn junk_from_the_directory_is_refused() {
        let e = edges(&[("uid=bob,dc=x", "not a dn")]);
        assert!(matches!(
            run(&e, "uid=bob,dc=x", 3),
            Err(WalkError::NotADn(_))
        ));
    }

    proptest! {
        /// On any graph: the walk ends, finds exactly the groups reachable within the limit (or
        /// says the nesting is too deep), and never lists a group twice.
        #[test]
        fn walk_matches_reachability(raw in proptest::collection::vec((0u8..8, 0u8..8), 0..24), max in 1u32..6) {
            let name = |n: u8| if n == 0 { "uid=p,dc=x".to_string() } else { format!("cn=g{n},dc=x") };
            let mut e: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (a, b) in &raw {
                if *b != 0 {
                    e.entry(name(*a)).or_default().push(name(*b));
                }
            }
            // Reference: breadth-first levels.
            let mut level_of: BTreeMap<String, u32> = BTreeMap::new();
            let mut frontier = vec![name(0)];
            let mut seen: BTreeSet<String> = [name(0)].into();
            let mut depth = 0;
            while !frontier.is_empty() {
                depth += 1;
                let mut next = Vec::new();
                for f in &frontier {
                    for g in e.get(f).cloned().unwrap_or_default() {
                        if seen.insert(g.clone()) { level_of.insert(g.clone(), depth); next.push(g); }
                    }
                }
                frontier = next;
            }
            let deepest = level_of.values().copied().max().unwrap_or(0);
            match run(&e, &name(0), max) {
                Ok(groups) => {
                    prop_assert!(deepest <= max);
                    let set: BTreeSet<String> = groups.iter().cloned().collect();
                    prop_assert_eq!(set.len(), groups.len());
                    prop_assert_eq!(set, level_of.keys().cloned().collect::<BTreeSet<_>>());
                }
                Err(WalkError::TooDeep(m)) => { prop_assert_eq!(m, max); prop_assert!(deepest > max); }
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}
