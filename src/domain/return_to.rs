//! A post-login target: only ever a same-origin relative path (design.md §5.4).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnTo(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReturnToError {
    #[error("the post-login target must be a relative path starting with a single '/'")]
    NotRelativePath,
    #[error("the post-login target contains a character that is not allowed")]
    ForbiddenCharacter,
    #[error("the post-login target is too long")]
    TooLong,
}

const MAX_LEN: usize = 1024;

impl ReturnTo {
    /// Accepts `/path?query#fragment` only. Refuses `//host`, `/\host`, schemes, control characters
    /// and backslashes, which browsers variously treat as other origins.
    pub fn parse(raw: &str) -> Result<Self, ReturnToError> {
        if raw.len() > MAX_LEN {
            return Err(ReturnToError::TooLong);
        }
        let mut chars = raw.chars();
        if chars.next() != Some('/') {
            return Err(ReturnToError::NotRelativePath);
        }
        if matches!(chars.next(), Some('/') | Some('\\')) {
            return Err(ReturnToError::NotRelativePath);
        }
        if raw
            .chars()
            .any(|c| c.is_control() || c == '\\' || c.is_whitespace())
        {
            return Err(ReturnToError::ForbiddenCharacter);
        }
        // Percent-encoded slashes or backslashes right after the first '/' are decoded by some
        // servers and proxies into `//host`.
        let lower = raw.to_ascii_lowercase();
        if lower.starts_with("/%2f") || lower.starts_with("/%5c") {
            return Err(ReturnToError::NotRelativePath);
        }
        Ok(Self(raw.to_string()))
    }

    pub fn roles_page() -> Self {
        Self("/roles".to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReturnTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table() {
        let ok = [
            "/roles",
            "/roles/123-Admin/console?destination=%2Fs3",
            "/",
            "/a#b",
        ];
        for raw in ok {
            assert!(ReturnTo::parse(raw).is_ok(), "{raw}");
        }
        let bad = [
            "",
            "roles",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "/%2F%2Fevil.example",
            "/%5cevil.example",
            "/a\\b",
            "/a\nb",
            "/a b",
            " /roles",
        ];
        for raw in bad {
            assert!(ReturnTo::parse(raw).is_err(), "{raw}");
        }
    }

    proptest! {
        /// Whatever is accepted, resolved against our origin, stays on our origin.
        #[test]
        fn accepted_targets_stay_same_origin(raw in "\\PC{0,40}") {
            if let Ok(target) = ReturnTo::parse(&raw) {
                let base = url::Url::parse("https://roleport.example.com/x").unwrap();
                let joined = base.join(target.as_str()).unwrap();
                prop_assert_eq!(joined.origin(), base.origin());
            }
        }

        #[test]
        fn scheme_relative_is_never_accepted(host in "[a-z]{1,10}", sep in prop::sample::select(vec!["//", "/\\", "\\\\"])) {
            let raw = format!("{sep}{host}.example");
            prop_assert!(ReturnTo::parse(&raw).is_err());
        }
    }
}
