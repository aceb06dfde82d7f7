//! CSV for the audit export (RFC 4180, CRLF), safe to open in a spreadsheet: a cell that a
//! spreadsheet would read as a formula (`=`, `+`, `-`, `@`, or a tab or carriage return, also
//! after leading spaces) is prefixed with `'`, which makes it text. Every cell is quoted, so
//! commas, quotes and line breaks inside values never shift columns.

/// One cell, quoted.
pub fn cell(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 3);
    out.push('"');
    let first = value.trim_start_matches(' ').chars().next();
    if matches!(first, Some('=' | '+' | '-' | '@' | '\t' | '\r')) {
        out.push('\'');
    }
    for c in value.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// One record: the cells joined by commas, ended with CRLF.
pub fn record<S: AsRef<str>>(cells: &[S]) -> String {
    let mut line = cells
        .iter()
        .map(|c| cell(c.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A strict reader of what [`record`] writes: every cell quoted.
    fn parse(line: &str) -> Vec<String> {
        let body = line.strip_suffix("\r\n").expect("CRLF");
        let mut cells = Vec::new();
        let mut chars = body.chars().peekable();
        loop {
            assert_eq!(
                chars.next(),
                Some('"'),
                "cell starts with a quote: {line:?}"
            );
            let mut cell = String::new();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        cell.push('"');
                    }
                    Some('"') => break,
                    Some(c) => cell.push(c),
                    None => panic!("unterminated cell in {line:?}"),
                }
            }
            cells.push(cell);
            match chars.next() {
                Some(',') => continue,
                None => return cells,
                Some(c) => panic!("{c:?} after a cell in {line:?}"),
            }
        }
    }

    #[test]
    fn formulas_become_text() {
        assert_eq!(
            cell("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(cell("+1"), "\"'+1\"");
        assert_eq!(cell("-2+3"), "\"'-2+3\"");
        assert_eq!(cell("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(cell("  =1"), "\"'  =1\"");
        assert_eq!(cell("\t=1"), "\"'\t=1\"");
        assert_eq!(cell("alice"), "\"alice\"");
        assert_eq!(cell(""), "\"\"");
        assert_eq!(cell("a,b\r\nc"), "\"a,b\r\nc\"");
    }

    proptest! {
        #[test]
        fn cells_read_back_and_never_start_a_formula(values in prop::collection::vec(".{0,12}", 1..6)) {
            let line = record(&values);
            let back = parse(&line);
            prop_assert_eq!(back.len(), values.len());
            for (read, written) in back.iter().zip(&values) {
                let dangerous = matches!(
                    written.trim_start_matches(' ').chars().next(),
                    Some('=' | '+' | '-' | '@' | '\t' | '\r')
                );
                if dangerous {
                    prop_assert_eq!(read, &format!("'{written}"));
                } else {
                    prop_assert_eq!(read, written);
                }
                let first = read.trim_start_matches(' ').chars().next();
                prop_assert!(!matches!(first, Some('=' | '+' | '-' | '@' | '\t' | '\r')));
            }
        }
    }
}
