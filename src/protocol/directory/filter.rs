//! LDAP search filters (RFC 4515). Every value that comes from an assertion or from the directory
//! is escaped, so a NameID like `*` or `x)(|(cn=*` stays one literal value and cannot widen a
//! search. Filter fragments and attribute names come from the operator's settings and are
//! checked once at start-up ([`is_filter`], [`is_attribute_name`]).

use super::IN_CHAIN_RULE;

/// RFC 4515 `valueencoding`: `*`, `(`, `)`, `\` and NUL must be escaped as `\XX`. Every other
/// byte outside printable ASCII is escaped too (allowed by the RFC), so a filter is plain ASCII
/// and nothing a directory could read as structure survives.
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'*' | b'(' | b')' | b'\\' => out.push_str(&format!("\\{byte:02x}")),
            0x21..=0x7e => out.push(char::from(byte)),
            _ => out.push_str(&format!("\\{byte:02x}")),
        }
    }
    out
}

/// An attribute description as RFC 4512 allows it: a descriptor (`sAMAccountName`) or an OID.
pub fn is_attribute_name(name: &str) -> bool {
    let descriptor = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let oid = !name.is_empty()
        && name.split('.').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| c.is_ascii_digit())
                && (part == "0" || !part.starts_with('0'))
        });
    name.len() <= 128 && (descriptor || oid)
}

/// A configured filter fragment: one parenthesised filter with balanced, unescaped parentheses.
pub fn is_filter(fragment: &str) -> bool {
    if !fragment.starts_with('(') || !fragment.ends_with(')') || fragment.len() > 1024 {
        return false;
    }
    let mut depth: i32 = 0;
    let mut escaped = false;
    for (i, c) in fragment.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                // The outer parenthesis closes only at the very end.
                if depth == 0 && i + 1 != fragment.len() {
                    return false;
                }
            }
            c if c.is_control() => return false,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    depth == 0 && !escaped
}

/// The person's entry: `(&<user_filter>(<attribute>=<value>))`, value escaped.
pub fn user_filter(base: &str, attribute: &str, value: &str) -> String {
    format!("(&{base}({attribute}={}))", escape_value(value))
}

/// AD: every group that has `dn` as a member, directly or through nesting.
pub fn in_chain_filter(base: &str, dn: &str) -> String {
    format!("(&{base}(member:{IN_CHAIN_RULE}:={}))", escape_value(dn))
}

/// OpenLDAP walk: the groups that have any of `dns` as a direct member.
pub fn member_of_any_filter(base: &str, dns: &[String]) -> String {
    let members: String = dns
        .iter()
        .map(|dn| format!("(member={})", escape_value(dn)))
        .collect();
    format!("(&{base}(|{members}))")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc4515_examples() {
        assert_eq!(
            escape_value("Parens R Us (for all your parenthetical needs)"),
            "Parens\\20R\\20Us\\20\\28for\\20all\\20your\\20parenthetical\\20needs\\29"
        );
        assert_eq!(escape_value("*"), "\\2a");
        assert_eq!(escape_value("C:\\MyFile"), "C:\\5cMyFile");
        assert_eq!(escape_value("\u{0}"), "\\00");
        assert_eq!(escape_value("Lučić"), "Lu\\c4\\8di\\c4\\87");
    }

    #[test]
    fn injection_stays_one_value() {
        let f = user_filter(
            "(objectClass=user)",
            "sAMAccountName",
            "x)(|(sAMAccountName=*",
        );
        assert_eq!(
            f,
            "(&(objectClass=user)(sAMAccountName=x\\29\\28|\\28sAMAccountName=\\2a))"
        );
        assert!(is_filter(&f));
        let f = in_chain_filter("(objectClass=group)", "CN=a\\,b,DC=x");
        assert_eq!(
            f,
            "(&(objectClass=group)(member:1.2.840.113556.1.4.1941:=CN=a\\5c,b,DC=x))"
        );
    }

    #[test]
    fn member_filter_lists_each_dn() {
        let f = member_of_any_filter(
            "(objectClass=groupOfNames)",
            &["cn=a,dc=x".into(), "cn=b*".into()],
        );
        assert_eq!(
            f,
            "(&(objectClass=groupOfNames)(|(member=cn=a,dc=x)(member=cn=b\\2a)))"
        );
    }

    #[test]
    fn configured_fragments() {
        assert!(is_filter("(objectClass=user)"));
        assert!(is_filter("(&(objectClass=user)(objectCategory=person))"));
        assert!(is_filter("(cn=a\\29b)"));
        assert!(!is_filter("objectClass=user"));
        assert!(!is_filter("(a=b)(c=d)"));
        assert!(!is_filter("(a=b))"));
        assert!(!is_filter("((a=b)"));
        assert!(!is_filter("(a=b\n)"));
        assert!(is_attribute_name("sAMAccountName"));
        assert!(is_attribute_name("1.2.840.113556.1.4.221"));
        assert!(!is_attribute_name("uid)(cn"));
        assert!(!is_attribute_name(""));
        assert!(!is_attribute_name("1..2"));
    }

    proptest! {
        /// Whatever the value, the filter has exactly the structure Roleport wrote: the value
        /// adds no parenthesis, wildcard or escape of its own, and stays ASCII.
        #[test]
        fn values_never_change_the_structure(value in any::<String>()) {
            let escaped = escape_value(&value);
            prop_assert!(escaped.is_ascii());
            prop_assert!(!escaped.contains(['(', ')', '*', ' ']));
            let f = user_filter("(objectClass=user)", "uid", &value);
            prop_assert!(is_filter(&f));
            prop_assert_eq!(f.matches('(').count(), 3);
        }

        /// Escaping is injective: two different values never give the same filter.
        #[test]
        fn escaping_is_injective(a in any::<String>(), b in any::<String>()) {
            prop_assume!(a != b);
            prop_assert_ne!(escape_value(&a), escape_value(&b));
        }
    }
}
