//! LDAP distinguished names (RFC 4514), reduced to a form where equal DNs compare equal.
//!
//! Normalisation: attribute types are lower-cased (a few well-known long names and OIDs are
//! mapped to their short names), values are unescaped (`\,` and `\2C` alike) and lower-cased,
//! unescaped whitespace around `=`, `,` and `+` is dropped, and the AVAs of a multi-valued RDN
//! are sorted. Inner whitespace is kept as is (RFC 4518's space folding is not applied).
//! Hex-string values (`#04...`) are compared as lower-cased hex, not BER-decoded.
//!
//! The normal form is kept as one string (`type=value` AVAs joined by `+`, RDNs by `,`, with `\`,
//! `,` and `+` escaped inside values, so distinct DNs never share a form): a group claim of an
//! AD FS user carries dozens of DNs, each parsed on every sign-in, and one string per DN is what
//! lets that stay within the rules' time budget (`benches/rules.rs`).

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dn {
    normal: String,
    /// Where in `normal` the first RDN's value sits, when that RDN is a lone `cn`.
    first_cn: Option<Range<usize>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an LDAP DN: {reason} at character {at}")]
pub struct DnError {
    pub reason: &'static str,
    /// 0-based char offset.
    pub at: usize,
}

impl Dn {
    pub fn parse(text: &str) -> Result<Dn, DnError> {
        match parse_plain(text) {
            Some(dn) => Ok(dn),
            None => Dn::parse_general(text),
        }
    }

    /// The RFC 4514 parser, for every shape; [`Dn::parse`] takes a shortcut for the common one
    /// (a property test holds the two to the same results).
    pub(crate) fn parse_general(text: &str) -> Result<Dn, DnError> {
        Parser {
            text,
            pos: 0,
            out: String::with_capacity(text.len()),
        }
        .dn()
    }

    /// The normal form, as hash maps of DN patterns are keyed.
    pub fn normal(&self) -> &str {
        &self.normal
    }

    /// The leftmost RDN's value, in normal form (see [`normal_value`]), when it is a lone `cn`.
    pub fn first_cn(&self) -> Option<&str> {
        self.first_cn.clone().and_then(|r| self.normal.get(r))
    }
}

/// The shape directories send group DNs in, `CN=x,OU=y,DC=z`: ASCII, no escapes, no hex values,
/// no multi-valued RDNs. Normalised in one pass, with what the general parser would produce;
/// `None` for anything else (including every malformed name, whose error the general parser
/// reports).
fn parse_plain(text: &str) -> Option<Dn> {
    if !text
        .bytes()
        .all(|b| b.is_ascii() && !matches!(b, b'\\' | b'+' | b'#'))
    {
        return None;
    }
    let mut normal = String::with_capacity(text.len());
    let mut first_cn = None;
    for (i, rdn) in text.split(',').enumerate() {
        let (kind, value) = rdn.split_once('=')?;
        let kind = kind.trim();
        if kind.is_empty()
            || !kind
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return None;
        }
        if i > 0 {
            normal.push(',');
        }
        let type_start = normal.len();
        normal.extend(kind.chars().map(|c| c.to_ascii_lowercase()));
        if let Some(short) = canonical_type(normal.get(type_start..).unwrap_or_default()) {
            normal.truncate(type_start);
            normal.push_str(short);
        }
        normal.push('=');
        let value_start = normal.len();
        normal.extend(value.trim().chars().map(|c| c.to_ascii_lowercase()));
        if i == 0 && normal.get(type_start..value_start) == Some("cn=") {
            first_cn = Some(value_start..normal.len());
        }
    }
    Some(Dn { normal, first_cn })
}

/// An attribute value as it appears in a DN's normal form: lower-cased, with `\`, `,` and `+`
/// escaped. A CN pattern is compared with [`Dn::first_cn`] in this form.
pub fn normal_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    push_normal_value(&mut out, value);
    out
}

fn push_normal_value(out: &mut String, value: &str) {
    // `str::to_lowercase` rather than per character: it knows the final sigma.
    let lower;
    let value = if value.is_ascii() {
        value
    } else {
        lower = value.to_lowercase();
        lower.as_str()
    };
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '+') {
            out.push('\\');
        }
        out.push(c.to_ascii_lowercase());
    }
}

struct Parser<'t> {
    text: &'t str,
    /// Byte offset into `text`.
    pos: usize,
    out: String,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text.get(self.pos..)?.chars().next()
    }

    fn bump(&mut self, c: char) {
        self.pos += c.len_utf8();
    }

    fn fail<T>(&self, reason: &'static str) -> Result<T, DnError> {
        let at = self.text.get(..self.pos).map_or(0, |t| t.chars().count());
        Err(DnError { reason, at })
    }

    fn skip_spaces(&mut self) {
        while let Some(c) = self.peek().filter(|c| c.is_whitespace()) {
            self.bump(c);
        }
    }

    fn dn(mut self) -> Result<Dn, DnError> {
        self.skip_spaces();
        if self.peek().is_none() {
            return Ok(Dn {
                normal: self.out,
                first_cn: None,
            });
        }
        let mut first_cn = None;
        let mut first_rdn = true;
        // Byte ranges in `out` of the current RDN's AVAs, when it has more than one.
        let mut rdn_start = 0;
        let mut multi = false;
        loop {
            let value = self.ava()?;
            let end_of_rdn = match self.peek() {
                Some('+') => {
                    self.pos += 1;
                    multi = true;
                    self.out.push('+');
                    false
                }
                Some(',') | None => true,
                Some(_) => return self.fail("expected `,` or `+`"),
            };
            if !end_of_rdn {
                continue;
            }
            if multi {
                sort_avas(&mut self.out, rdn_start);
            } else if first_rdn && self.out.get(rdn_start..value.start) == Some("cn=") {
                first_cn = Some(value);
            }
            first_rdn = false;
            multi = false;
            if self.peek().is_none() {
                return Ok(Dn {
                    normal: self.out,
                    first_cn,
                });
            }
            self.pos += 1;
            self.out.push(',');
            rdn_start = self.out.len();
        }
    }

    /// Writes `type=value` to `out`; returns where the value sits in it.
    fn ava(&mut self) -> Result<Range<usize>, DnError> {
        self.skip_spaces();
        let start = self.pos;
        while let Some(c) = self
            .peek()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        {
            self.bump(c);
        }
        let kind = self.text.get(start..self.pos).unwrap_or_default();
        if kind.is_empty() {
            return self.fail("expected an attribute type");
        }
        let type_start = self.out.len();
        self.out
            .extend(kind.chars().map(|c| c.to_ascii_lowercase()));
        if let Some(short) = canonical_type(self.out.get(type_start..).unwrap_or_default()) {
            self.out.truncate(type_start);
            self.out.push_str(short);
        }
        self.skip_spaces();
        if self.peek() != Some('=') {
            return self.fail("expected `=`");
        }
        self.pos += 1;
        self.out.push('=');
        self.skip_spaces();
        let value_start = self.out.len();
        if self.peek() == Some('#') {
            self.hex_value()?;
        } else {
            self.string_value()?;
        }
        Ok(value_start..self.out.len())
    }

    fn hex_value(&mut self) -> Result<(), DnError> {
        self.pos += 1;
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
            self.pos += 1;
        }
        let digits = self.text.get(start..self.pos).unwrap_or_default();
        if digits.is_empty() || !digits.len().is_multiple_of(2) {
            return self.fail("a `#` value needs an even, non-zero number of hex digits");
        }
        self.out.push('#');
        self.out.push_str(&digits.to_ascii_lowercase());
        self.skip_spaces();
        Ok(())
    }

    fn string_value(&mut self) -> Result<(), DnError> {
        let start = self.pos;
        let rest = self.text.get(start..).unwrap_or_default();
        let end = rest
            .find([',', '+', '\\'])
            .map_or(self.text.len(), |i| start + i);
        if self.text.get(end..).is_some_and(|t| t.starts_with('\\')) {
            return self.escaped_value(start);
        }
        // Trailing unescaped whitespace is insignificant.
        let value = self
            .text
            .get(start..end)
            .unwrap_or_default()
            .trim_end_matches(char::is_whitespace);
        self.pos = end;
        push_normal_value(&mut self.out, value);
        Ok(())
    }

    /// A value with `\` escapes: unescaped to bytes first, as `\C3\A9` is one character.
    fn escaped_value(&mut self, start: usize) -> Result<(), DnError> {
        self.pos = start;
        let mut bytes = Vec::new();
        // Trailing unescaped whitespace is insignificant; an escaped space is not.
        let mut significant = 0;
        while let Some(c) = self.peek() {
            match c {
                ',' | '+' => break,
                '\\' => {
                    self.pos += 1;
                    self.escape(&mut bytes)?;
                    significant = bytes.len();
                }
                _ => {
                    self.bump(c);
                    let mut buf = [0; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    if !c.is_whitespace() {
                        significant = bytes.len();
                    }
                }
            }
        }
        bytes.truncate(significant);
        match String::from_utf8(bytes) {
            Ok(value) => {
                push_normal_value(&mut self.out, &value);
                Ok(())
            }
            Err(_) => self.fail("escaped bytes are not UTF-8"),
        }
    }

    fn escape(&mut self, bytes: &mut Vec<u8>) -> Result<(), DnError> {
        let Some(first) = self.peek() else {
            return self.fail("`\\` at the end");
        };
        let second = self
            .text
            .get(self.pos + first.len_utf8()..)
            .and_then(|t| t.chars().next());
        if let (Some(hi), Some(lo)) = (first.to_digit(16), second.and_then(|c| c.to_digit(16))) {
            // Both digits are < 16, so this fits a byte.
            bytes.push(u8::try_from(hi * 16 + lo).unwrap_or_default());
            self.pos += 2;
            return Ok(());
        }
        if " \"#+,;<=>\\".contains(first) {
            bytes.push(u8::try_from(u32::from(first)).unwrap_or_default());
            self.pos += 1;
            return Ok(());
        }
        self.fail("`\\` must be followed by a special character or two hex digits")
    }
}

/// Sorts the `+`-separated AVAs written to `out` from `start` on, so a multi-valued RDN has one
/// form whatever order it was written in. `+` inside values is escaped, so the split is exact.
fn sort_avas(out: &mut String, start: usize) {
    let Some(rdn) = out.get(start..) else {
        return;
    };
    let mut avas = split_unescaped(rdn, '+');
    avas.sort_unstable();
    let sorted = avas.join("+");
    out.truncate(start);
    out.push_str(&sorted);
}

fn split_unescaped(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut from = 0;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == separator {
            parts.push(text.get(from..i).unwrap_or_default());
            from = i + c.len_utf8();
        }
    }
    parts.push(text.get(from..).unwrap_or_default());
    parts
}

/// Long names and OIDs that directories emit for the types groups are named with.
fn canonical_type(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "commonname" | "2.5.4.3" => "cn",
        "organizationalunitname" | "2.5.4.11" => "ou",
        "organizationname" | "2.5.4.10" => "o",
        "domaincomponent" | "0.9.2342.19200300.100.1.25" => "dc",
        "userid" | "0.9.2342.19200300.100.1.1" => "uid",
        "countryname" | "2.5.4.6" => "c",
        "localityname" | "2.5.4.7" => "l",
        "stateorprovincename" | "2.5.4.8" => "st",
        _ => return None,
    })
}
