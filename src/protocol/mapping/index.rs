//! Which rules a person's claim values match, found from the values rather than by trying every
//! rule: exact, DN and CN patterns sit in hash maps, globs in one `GlobSet`, regexes in one
//! `RegexSet`, AD group names in one case-insensitive `RegexSet` (then checked in full). The cost
//! grows with the number of claim values, not with values × rules, which is what an AD FS user
//! with a hundred groups against hundreds of rules needs.
//!
//! The index decides exactly what each rule's own [`Matcher`] decides (a property test holds the
//! two together); `rules explain` still walks every rule, as it reports on each.

use std::collections::HashMap;

use globset::{GlobSet, GlobSetBuilder};
use regex::{RegexSet, RegexSetBuilder};

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

#[derive(Debug, Clone)]
struct SelectorIndex {
    selector: ClaimSelector,
    exact: HashMap<String, Vec<usize>>,
    dn: HashMap<Dn, Vec<usize>>,
    cn: HashMap<String, Vec<usize>>,
    globs: Option<(GlobSet, Vec<usize>)>,
    regexes: Option<(RegexSet, Vec<usize>)>,
    /// Candidates by name only: the rule's own matcher then checks the domain.
    ad_names: Option<(RegexSet, Vec<usize>)>,
    /// Rules whose patterns could not join a set (a set over its size limit): tried one by one.
    linear: Vec<usize>,
}

impl SelectorIndex {
    fn new(selector: ClaimSelector) -> Self {
        SelectorIndex {
            selector,
            exact: HashMap::new(),
            dn: HashMap::new(),
            cn: HashMap::new(),
            globs: None,
            regexes: None,
            ad_names: None,
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
        let mut globs: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut regexes: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut ad_names: HashMap<usize, Vec<usize>> = HashMap::new();
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
            match &compiled.matcher {
                Matcher::Exact { pattern } => {
                    index.exact.entry(pattern.clone()).or_default().push(i)
                }
                Matcher::Dn(dn) => index.dn.entry(dn.clone()).or_default().push(i),
                Matcher::Cn(cn) => index.cn.entry(cn.clone()).or_default().push(i),
                Matcher::Glob(_) => globs.entry(s).or_default().push(i),
                Matcher::Regex(_) => regexes.entry(s).or_default().push(i),
                Matcher::AdGroup(_) => ad_names.entry(s).or_default().push(i),
            }
        }
        for (s, members) in globs {
            let index = &mut selectors[s];
            let fold = folds_case(&index.selector);
            let mut set = GlobSetBuilder::new();
            let mut ok = true;
            for &i in &members {
                match glob(&rules[i].rule.pattern, fold) {
                    Ok(g) => {
                        set.add(g);
                    }
                    Err(_) => ok = false,
                }
            }
            match set.build() {
                Ok(set) if ok => index.globs = Some((set, members)),
                _ => index.linear.extend(members),
            }
        }
        for (s, members) in regexes {
            let index = &mut selectors[s];
            let fold = folds_case(&index.selector);
            let sources = members
                .iter()
                .map(|&i| anchored_regex(&rules[i].rule.pattern));
            match regex_set(sources, fold, members.len()) {
                Some(set) => index.regexes = Some((set, members)),
                None => index.linear.extend(members),
            }
        }
        for (s, members) in ad_names {
            let index = &mut selectors[s];
            let sources = members
                .iter()
                .map(|&i| format!("^{}$", regex::escape(&rules[i].rule.pattern)));
            match regex_set(sources, true, members.len()) {
                Some(set) => index.ad_names = Some((set, members)),
                None => index.linear.extend(members),
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
                    && value.contains('=')
                    && let Ok(dn) = Dn::parse(value)
                {
                    if let Some(ids) = index.dn.get(&dn) {
                        mark(ids);
                    }
                    if let Some(ids) = dn.first_cn().and_then(|cn| index.cn.get(cn)) {
                        mark(ids);
                    }
                }
                if let Some((set, ids)) = &index.globs {
                    for m in set.matches(value) {
                        mark(&ids[m..=m]);
                    }
                }
                if let Some((set, ids)) = &index.regexes {
                    for m in set.matches(value).iter() {
                        mark(&ids[m..=m]);
                    }
                }
                if let Some((set, ids)) = &index.ad_names {
                    let name = value.rsplit_once('\\').map_or(value, |(_, name)| name);
                    for m in set.matches(name).iter() {
                        let i = ids[m];
                        if rules[i].matcher.matches(value, &mut dns) {
                            mark(&ids[m..=m]);
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
fn regex_set(
    sources: impl IntoIterator<Item = String>,
    fold_case: bool,
    count: usize,
) -> Option<RegexSet> {
    let scale = count.max(1);
    RegexSetBuilder::new(sources)
        .case_insensitive(fold_case)
        .size_limit(REGEX_SIZE_LIMIT.saturating_mul(scale))
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT.saturating_mul(scale))
        .nest_limit(REGEX_NEST_LIMIT)
        .build()
        .ok()
}
