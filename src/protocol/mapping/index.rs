//! Which rules a person's claim values match, found from the values rather than by trying every
//! rule: exact, DN and CN patterns sit in hash maps; globs, regexes and AD group names (then
//! checked in full) in one `RegexSet` per claim, so each value is scanned once. The cost
//! grows with the number of claim values, not with values × rules, which is what an AD FS user
//! with a hundred groups against hundreds of rules needs.
//!
//! The index decides exactly what each rule's own [`Matcher`] decides (a property test holds the
//! two together); `rules explain` still walks every rule, as it reports on each.

use std::collections::HashMap;

use regex::bytes::{RegexSet, RegexSetBuilder};

use super::engine::CompiledRule;
use super::ldap_dn::Dn;
use super::matcher::{
    DnCache, Matcher, REGEX_DFA_SIZE_LIMIT, REGEX_NEST_LIMIT, REGEX_SIZE_LIMIT, Selected,
    anchored_regex, folds_case, glob, select,
};
use super::model::{ClaimSelector, Claims};

#[derive(Debug, Clone, Default)]
pub(crate) struct RuleIndex {
    /// One per claim selector that some rule reads.
    selectors: Vec<SelectorIndex>,
}

/// Rules by a pattern's text. Looked up for every claim value of every sign-in: foldhash rather
/// than SipHash, still seeded per process.
type ByText = HashMap<String, Vec<usize>, foldhash::fast::RandomState>;

#[derive(Debug, Clone)]
struct SelectorIndex {
    selector: ClaimSelector,
    exact: ByText,
    /// By the DN's normal form.
    dn: ByText,
    cn: ByText,
    /// Globs, regexes and AD group names in one set, so each value is scanned once.
    patterns: Option<(RegexSet, Vec<Member>)>,
    /// Rules whose patterns could not join the set (over its size limit): tried one by one.
    linear: Vec<usize>,
}

/// A pattern of the set: its rule, and whether a match is only a candidate that the rule's own
/// matcher decides (AD group names: the set finds the name, the matcher checks the domain).
#[derive(Debug, Clone, Copy)]
struct Member {
    rule: usize,
    confirm: bool,
}

impl SelectorIndex {
    fn new(selector: ClaimSelector) -> Self {
        SelectorIndex {
            selector,
            exact: ByText::default(),
            dn: ByText::default(),
            cn: ByText::default(),
            patterns: None,
            linear: Vec::new(),
        }
    }

    fn reads_dns(&self) -> bool {
        !self.dn.is_empty() || !self.cn.is_empty()
    }
}

impl RuleIndex {
    /// `rules` in evaluation order; the index refers to them by position.
    pub(crate) fn build(rules: &[CompiledRule]) -> RuleIndex {
        let mut selectors: Vec<SelectorIndex> = Vec::new();
        // Per selector: the set's sources and members.
        let mut sets: HashMap<usize, (Vec<String>, Vec<Member>)> = HashMap::new();
        for (i, compiled) in rules.iter().enumerate() {
            // A rule stored without `idp` applies to no IdP: nothing to find.
            if compiled.rule.idp.is_none() {
                continue;
            }
            let s = match selectors
                .iter()
                .position(|s| s.selector == compiled.rule.claim)
            {
                Some(s) => s,
                None => {
                    selectors.push(SelectorIndex::new(compiled.rule.claim.clone()));
                    selectors.len() - 1
                }
            };
            let index = &mut selectors[s];
            let fold = folds_case(&index.selector);
            let pattern = &compiled.rule.pattern;
            let source = match &compiled.matcher {
                Matcher::Exact { pattern } => {
                    index.exact.entry(pattern.clone()).or_default().push(i);
                    None
                }
                Matcher::Dn(dn) => {
                    index.dn.entry(dn.normal().to_owned()).or_default().push(i);
                    None
                }
                Matcher::Cn(cn) => {
                    index.cn.entry(cn.clone()).or_default().push(i);
                    None
                }
                // globset's own matcher runs this regex with `.` matching newlines.
                Matcher::Glob(_) => glob(pattern, fold)
                    .ok()
                    .map(|g| (format!("(?s){}", g.regex()), false)),
                Matcher::Regex(_) => {
                    let flags = if fold { "(?i)" } else { "" };
                    Some((format!("{flags}{}", anchored_regex(pattern)), false))
                }
                // The name after the last `\`, in any case: a superset of what the rule's
                // matcher accepts, which then decides.
                Matcher::AdGroup(_) => Some((
                    format!(r"(?is)^(?:.*\\)?(?:{})$", regex::escape(pattern)),
                    true,
                )),
            };
            match (source, &compiled.matcher) {
                (Some((source, confirm)), _) => {
                    let (sources, members) = sets.entry(s).or_default();
                    sources.push(source);
                    members.push(Member { rule: i, confirm });
                }
                (None, Matcher::Glob(_)) => index.linear.push(i),
                (None, _) => {}
            }
        }
        for (s, (sources, members)) in sets {
            let index = &mut selectors[s];
            match regex_set(sources, members.len()) {
                Some(set) => index.patterns = Some((set, members)),
                None => index.linear.extend(members.iter().map(|m| m.rule)),
            }
        }
        RuleIndex { selectors }
    }

    /// Whether each rule (by position) has a claim value its pattern matches. The IdP scope is
    /// not looked at here.
    pub(crate) fn matching(&self, rules: &[CompiledRule], claims: &Claims) -> Vec<bool> {
        let mut hit = vec![false; rules.len()];
        let mut mark = |ids: &[usize]| ids.iter().for_each(|&i| hit[i] = true);
        let mut dns = DnCache::default();
        for index in &self.selectors {
            let Selected::Values(values) = select(&index.selector, claims) else {
                continue;
            };
            for value in &values {
                let value = value.as_ref();
                if let Some(ids) = index.exact.get(value) {
                    mark(ids);
                }
                // A value without `=` is no DN; parsing it would only fail.
                if index.reads_dns()
                    && value.as_bytes().contains(&b'=')
                    && let Ok(dn) = Dn::parse(value)
                {
                    if let Some(ids) = index.dn.get(dn.normal()) {
                        mark(ids);
                    }
                    if let Some(ids) = dn.first_cn().and_then(|cn| index.cn.get(cn)) {
                        mark(ids);
                    }
                }
                if let Some((set, members)) = &index.patterns {
                    let found = set.matches(value.as_bytes());
                    if found.matched_any() {
                        for m in found.iter() {
                            let Some(&Member { rule, confirm }) = members.get(m) else {
                                continue;
                            };
                            if !confirm || rules[rule].matcher.matches(value, &mut dns) {
                                mark(&[rule]);
                            }
                        }
                    }
                }
                for &i in &index.linear {
                    if rules[i].matcher.matches(value, &mut dns) {
                        mark(&[i]);
                    }
                }
            }
        }
        hit
    }
}

/// One set for many patterns; its limits grow with the number of patterns, as each one alone
/// was held to the per-pattern limits when it was compiled.
fn regex_set(sources: Vec<String>, count: usize) -> Option<RegexSet> {
    let scale = count.max(1);
    RegexSetBuilder::new(sources)
        .size_limit(REGEX_SIZE_LIMIT.saturating_mul(scale))
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT.saturating_mul(scale))
        .nest_limit(REGEX_NEST_LIMIT)
        .build()
        .ok()
}
