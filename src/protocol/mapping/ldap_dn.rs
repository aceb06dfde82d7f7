//! LDAP distinguished names (RFC 4514), reduced to a form where equal DNs compare equal.
//!
//! Normalisation: attribute types are lower-cased (a few well-known long names and OIDs are
//! mapped to their short names), values are unescaped (`\,` and `\2C` alike) and lower-cased,
//! unescaped whitespace around `=`, `,` and `+` is dropped, and the AVAs of a multi-valued RDN
//! are sorted. Inner whitespace is kept as is (RFC 4518's space folding is not applied).
//! Hex-string values (`#04...`) are compared as lower-cased hex, not BER-decoded.

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dn {
    rdns: Vec<Rdn>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Rdn {
    /// `(type, value)`, normalised and sorted.
    avas: Vec<(String, String)>,
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
        Parser {
            chars: text.chars().collect(),
            pos: 0,
        }
        .dn()
    }

    /// The lower-cased value of the leftmost RDN when it is a lone `cn`.
    pub fn first_cn(&self) -> Option<&str> {
        match self.rdns.first()?.avas.as_slice() {
            [(kind, value)] if kind == "cn" => Some(value),
            _ => None,
        }
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn fail<T>(&self, reason: &'static str) -> Result<T, DnError> {
        Err(DnError {
            reason,
            at: self.pos,
        })
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn dn(mut self) -> Result<Dn, DnError> {
        let mut rdns = Vec::new();
        self.skip_spaces();
        if self.peek().is_none() {
            return Ok(Dn { rdns });
        }
        let mut avas = Vec::new();
        loop {
            avas.push(self.ava()?);
            match self.peek() {
                Some('+') => self.pos += 1,
                Some(',') => {
                    self.pos += 1;
                    avas.sort();
                    rdns.push(Rdn {
                        avas: std::mem::take(&mut avas),
                    });
                }
                None => {
                    avas.sort();
                    rdns.push(Rdn { avas });
                    return Ok(Dn { rdns });
                }
                Some(_) => return self.fail("expected `,` or `+`"),
            }
        }
    }

    fn ava(&mut self) -> Result<(String, String), DnError> {
        self.skip_spaces();
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            self.pos += 1;
        }
        let kind: String = self
            .chars
            .get(start..self.pos)
            .unwrap_or_default()
            .iter()
            .collect::<String>()
            .to_ascii_lowercase();
        if kind.is_empty() {
            return self.fail("expected an attribute type");
        }
        self.skip_spaces();
        if self.peek() != Some('=') {
            return self.fail("expected `=`");
        }
        self.pos += 1;
        self.skip_spaces();
        let value = if self.peek() == Some('#') {
            self.hex_value()?
        } else {
            self.string_value()?
        };
        Ok((canonical_type(&kind).to_owned(), value))
    }

    fn hex_value(&mut self) -> Result<String, DnError> {
        let mut out = String::from("#");
        self.pos += 1;
        while let Some(c) = self.peek().filter(char::is_ascii_hexdigit) {
            out.push(c.to_ascii_lowercase());
            self.pos += 1;
        }
        if out.len() == 1 || out.len() % 2 == 0 {
            return self.fail("a `#` value needs an even, non-zero number of hex digits");
        }
        self.skip_spaces();
        Ok(out)
    }

    fn string_value(&mut self) -> Result<String, DnError> {
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
                    self.pos += 1;
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
            Ok(value) => Ok(value.to_lowercase()),
            Err(_) => self.fail("escaped bytes are not UTF-8"),
        }
    }

    fn escape(&mut self, bytes: &mut Vec<u8>) -> Result<(), DnError> {
        let Some(first) = self.peek() else {
            return self.fail("`\\` at the end");
        };
        let second = self.chars.get(self.pos + 1).copied();
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

/// Long names and OIDs that directories emit for the types groups are named with.
fn canonical_type(kind: &str) -> &str {
    match kind {
        "commonname" | "2.5.4.3" => "cn",
        "organizationalunitname" | "2.5.4.11" => "ou",
        "organizationname" | "2.5.4.10" => "o",
        "domaincomponent" | "0.9.2342.19200300.100.1.25" => "dc",
        "userid" | "0.9.2342.19200300.100.1.1" => "uid",
        "countryname" | "2.5.4.6" => "c",
        "localityname" | "2.5.4.7" => "l",
        "stateorprovincename" | "2.5.4.8" => "st",
        other => other,
    }
}
