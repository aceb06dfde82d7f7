//! The rules document (`roleport rules import`): YAML read with spans, converted, validated.

use super::{Outcome, text};
use roleport::protocol::mapping::{CompiledRules, RuleSet, parse_document, render_document};

/// Invariants: an accepted document compiles, renders to a document that parses back to the
/// same set (order aside), and rendering that set again gives the same text; a refused one
/// gets at least one error, each on a line of the document.
pub fn rules_document(data: &[u8]) -> Outcome {
    let Some(yaml) = text(data) else {
        return Outcome::NotText;
    };
    match parse_document(yaml) {
        Ok(set) => {
            assert!(CompiledRules::compile(set.clone()).is_ok());
            let rendered = render_document(&set);
            let back = parse_document(&rendered).unwrap_or_else(|errors| {
                panic!("rendered rules do not parse back: {errors:?}\n{rendered}")
            });
            assert_eq!(
                sorted(back.clone()),
                sorted(set),
                "round trip changed the rules"
            );
            assert_eq!(render_document(&back), rendered);
            Outcome::Accepted
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            // YAML breaks lines at LF, CRLF and a lone CR, and the reader places an error at the
            // end of input on the line after the last, with or without a final line break.
            let breaks = yaml.replace("\r\n", "\n").matches(['\n', '\r']).count();
            let lines = breaks + 2;
            for e in &errors {
                assert!(
                    (1..=lines).contains(&e.line),
                    "error on line {}: {e}",
                    e.line
                );
            }
            Outcome::Refused
        }
    }
}

fn sorted(mut set: RuleSet) -> RuleSet {
    set.accounts.sort_by(|a, b| a.id.cmp(&b.id));
    set.roles.sort_by(|a, b| a.arn.cmp(&b.arn));
    set.rules.sort_by(|a, b| a.id.cmp(&b.id));
    set
}
