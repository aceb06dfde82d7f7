//! `~/.aws/config` (or `$AWS_CONFIG_FILE`): Roleport's profiles are the sections carrying the
//! marker line; a rerun replaces exactly those and leaves every other byte of the file alone.

pub const MARKER: &str = "# managed by roleport-cli: rerun `roleport-cli configure` to update";

pub struct Profile {
    pub name: String,
    pub credential_process: String,
    pub region: Option<String>,
}

/// Splits the file into sections (a section starts at a `[...]` line; text before the first is
/// its own chunk) and drops those that carry the marker.
fn without_managed(text: &str) -> String {
    let mut chunks: Vec<Vec<&str>> = vec![Vec::new()];
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with('[') {
            chunks.push(Vec::new());
        }
        if let Some(last) = chunks.last_mut() {
            last.push(line);
        }
    }
    chunks
        .into_iter()
        .filter(|lines| !lines.iter().any(|l| l.trim_end() == MARKER))
        .flatten()
        .collect()
}

pub fn update(text: &str, profiles: &[Profile]) -> String {
    let mut out = without_managed(text);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    for p in profiles {
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(&format!("[profile {}]\n{MARKER}\n", p.name));
        out.push_str(&format!("credential_process = {}\n", p.credential_process));
        if let Some(r) = &p.region {
            out.push_str(&format!("region = {r}\n"));
        }
    }
    out
}

/// A profile name from a grant id: the characters profiles commonly hold, nothing else.
pub fn profile_name(prefix: &str, grant: &str) -> String {
    let safe: String = grant
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{prefix}{safe}")
}

/// A word of a `credential_process` line (split shell-style by the AWS CLI and SDKs).
pub fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.' | ':' | '='))
    {
        word.to_string()
    } else {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str) -> Profile {
        Profile {
            name: name.into(),
            credential_process: format!("/bin/roleport-cli credentials {name}"),
            region: Some("eu-west-1".into()),
        }
    }

    const MINE: &str =
        "[default]\nregion = us-east-1\n\n[profile other]\n# a comment\noutput = json\n";

    #[test]
    fn other_profiles_stay_byte_for_byte() {
        let once = update(MINE, &[p("roleport-a"), p("roleport-b")]);
        assert!(once.starts_with(MINE), "{once}");
        assert!(once.contains("[profile roleport-a]\n"));
        assert!(once.contains(
            "credential_process = /bin/roleport-cli credentials roleport-b\nregion = eu-west-1\n"
        ));
        // A rerun with fewer grants removes the gone one and keeps everything else.
        let twice = update(&once, &[p("roleport-b")]);
        assert!(twice.starts_with(MINE));
        assert!(!twice.contains("roleport-a"));
        assert_eq!(update(&twice, &[p("roleport-b")]), twice);
        // Nothing of Roleport's left.
        assert_eq!(update(&twice, &[]).trim_end(), MINE.trim_end());
    }

    #[test]
    fn a_profile_without_the_marker_is_not_ours() {
        let hand = "[profile roleport-a]\nregion = x\n";
        let out = update(hand, &[p("roleport-a")]);
        assert!(out.starts_with(hand));
        assert_eq!(out.matches("[profile roleport-a]").count(), 2);
    }

    #[test]
    fn names_and_words() {
        assert_eq!(
            profile_name("roleport-", "123456789012-Admin"),
            "roleport-123456789012-Admin"
        );
        assert_eq!(profile_name("roleport-", "a b]c"), "roleport-a_b_c");
        assert_eq!(quote("/usr/bin/roleport-cli"), "/usr/bin/roleport-cli");
        assert_eq!(
            quote("/My Tools/roleport-cli"),
            "\"/My Tools/roleport-cli\""
        );
    }
}
