//! Where Roleport sends a browser: the post-login `return_to` (also an IdP-initiated
//! RelayState) and console destinations.

use super::{Outcome, text};
use roleport::domain::ReturnTo;
use roleport::protocol::aws;
use url::Url;

const ORIGINS: [&str; 3] = [
    "https://roleport.example.com/",
    "https://roleport.example.com/roles/123456789012-Admin/console?x=1#y",
    "http://127.0.0.1:8080/saml/acs",
];

/// Invariants: an accepted target is used exactly as given, is a path starting with one `/`,
/// and, resolved the way a browser resolves a `Location`, stays on Roleport's origin.
pub fn return_to(data: &[u8]) -> Outcome {
    let Some(raw) = text(data) else {
        return Outcome::NotText;
    };
    let Ok(target) = ReturnTo::parse(raw) else {
        return Outcome::Refused;
    };
    assert_eq!(target.as_str(), raw);
    assert!(raw.starts_with('/') && !raw.starts_with("//"));
    for origin in ORIGINS {
        let base = Url::parse(origin).unwrap_or_else(|e| panic!("{origin}: {e}"));
        let joined = base
            .join(target.as_str())
            .unwrap_or_else(|e| panic!("accepted {raw:?} does not resolve: {e}"));
        assert_eq!(joined.origin(), base.origin(), "{raw:?} leaves the origin");
        assert!(joined.username().is_empty() && joined.password().is_none());
    }
    Outcome::Accepted
}

const CONSOLES: [&str; 4] = [
    "https://console.aws.amazon.com/",
    "https://console.amazonaws.cn/",
    "https://console.amazonaws-us-gov.com/",
    "http://127.0.0.1:38913/console/",
];

/// Input: a byte choosing the partition's console, then `service`, `region` and `path` on
/// lines of their own (an empty line is "not given"). Invariants: an accepted destination has
/// the console's origin, sits under its path exactly as built (nothing normalised away), has no
/// dot segments or credentials, and a region given as an argument is the query's only region.
pub fn console_destination(data: &[u8]) -> Outcome {
    let Some((&pick, rest)) = data.split_first() else {
        return Outcome::Refused;
    };
    let Some(rest) = text(rest) else {
        return Outcome::NotText;
    };
    let mut parts = rest.splitn(3, '\n').map(|p| (!p.is_empty()).then_some(p));
    let service = parts.next().flatten();
    let region = parts.next().flatten();
    let path = parts.next().flatten();
    let console = CONSOLES[usize::from(pick) % CONSOLES.len()];
    let base = Url::parse(console).unwrap_or_else(|e| panic!("{console}: {e}"));
    let Ok(url) = aws::console_destination(&base, service, region, path) else {
        return Outcome::Refused;
    };
    assert_eq!(url.origin(), base.origin());
    assert!(url.path().starts_with(base.path()));
    assert!(url.username().is_empty() && url.password().is_none());
    assert!(
        !url.path().split('/').any(|s| s == "." || s == ".."),
        "dot segment in {url}"
    );
    // The region argument, when given, is the query's one region and comes first.
    if let Some(r) = region {
        let regions: Vec<_> = url.query_pairs().filter(|(k, _)| k == "region").collect();
        assert_eq!(regions.len(), 1, "{url}");
        assert_eq!(
            url.query_pairs().next().map(|(_, v)| v.into_owned()),
            Some(r.to_owned())
        );
    }
    if let Some(p) = path {
        let relative = p.split(['?', '#']).next().unwrap_or_default();
        assert!(
            url.path().ends_with(relative),
            "{url} is not {p:?} as given"
        );
    }
    assert_eq!(Url::parse(url.as_str()).ok().as_ref(), Some(&url));
    Outcome::Accepted
}
