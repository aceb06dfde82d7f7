//! Escaping for the XML Roleport writes itself (AuthnRequests, metadata, broker Responses).

/// Whether every character of `s` may appear in an XML 1.0 document.
pub fn is_xml_text(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(c, '\u{9}' | '\u{A}' | '\u{D}')
            || ('\u{20}'..='\u{D7FF}').contains(&c)
            || ('\u{E000}'..='\u{FFFD}').contains(&c)
            || c >= '\u{10000}'
    })
}

/// Escapes `s` for element content or a double-quoted attribute value. Tab, newline and
/// carriage return become character references so attribute normalisation cannot alter them.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_table() {
        for (v, want) in [
            ("plain", "plain"),
            ("a&b", "a&amp;b"),
            ("<x y=\"1\">", "&lt;x y=&quot;1&quot;&gt;"),
            ("it's", "it&apos;s"),
            ("a\tb\nc\r", "a&#9;b&#10;c&#13;"),
            ("]]>", "]]&gt;"),
        ] {
            assert_eq!(escape(v), want);
        }
    }

    #[test]
    fn xml_text_table() {
        assert!(is_xml_text("héllo\t\n 値 \u{1F600}"));
        assert!(!is_xml_text("a\u{0}b"));
        assert!(!is_xml_text("a\u{1B}b"));
        assert!(!is_xml_text("\u{FFFE}"));
    }
}
