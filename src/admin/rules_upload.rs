//! Which rules document a dry run or import form sent: the pasted text, or the chosen file (a
//! form works without scripts, so a file arrives as a multipart part of its own). Both at once
//! must agree: no guessing which one the person meant.

/// Why the form's document cannot be used, in words for the page.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UploadProblem {
    #[error("No document was sent: paste one or choose a file.")]
    Nothing,
    #[error(
        "Both a file and pasted text were sent, and they differ. Clear the text box or the file, and send the one you mean."
    )]
    Both,
    #[error("The chosen file is not UTF-8 text; a rules document is YAML text.")]
    NotText,
}

/// The document: the file's text when one was chosen (a file field with nothing chosen sends no
/// bytes), else the pasted text. The bytes are taken exactly as sent.
pub fn choose(pasted: &str, file: Option<&[u8]>) -> Result<String, UploadProblem> {
    let file = file.filter(|f| !f.is_empty());
    match file {
        None if pasted.is_empty() => Err(UploadProblem::Nothing),
        None => Ok(pasted.to_owned()),
        Some(bytes) => {
            let text = std::str::from_utf8(bytes).map_err(|_| UploadProblem::NotText)?;
            if pasted.is_empty() || same_text(pasted, text) {
                Ok(text.to_owned())
            } else {
                Err(UploadProblem::Both)
            }
        }
    }
}

/// A browser sends a text area's line breaks as CRLF: the pasted copy of a file with LF line
/// breaks is the same document.
fn same_text(pasted: &str, file: &str) -> bool {
    pasted == file || pasted.replace("\r\n", "\n") == file.replace("\r\n", "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_or_pasted_text_and_never_a_guess_between_them() {
        assert_eq!(choose("", None), Err(UploadProblem::Nothing));
        assert_eq!(choose("", Some(b"")), Err(UploadProblem::Nothing));
        assert_eq!(choose("a: 1\r\n", None).as_deref(), Ok("a: 1\r\n"));
        assert_eq!(choose("a: 1\n", Some(b"")).as_deref(), Ok("a: 1\n"));
        assert_eq!(choose("", Some(b"b: 2\n")).as_deref(), Ok("b: 2\n"));
        // The same document in both (a script copied the file into the text area).
        assert_eq!(
            choose("b: 2\r\nc: 3\r\n", Some(b"b: 2\nc: 3\n")).as_deref(),
            Ok("b: 2\nc: 3\n")
        );
        assert_eq!(choose("a: 1\n", Some(b"b: 2\n")), Err(UploadProblem::Both));
        assert_eq!(
            choose("", Some(&[0x66, 0x6f, 0xff, 0x0a])),
            Err(UploadProblem::NotText)
        );
        // Exactly as sent: no trimming of either.
        assert_eq!(choose(" a: 1\n", None).as_deref(), Ok(" a: 1\n"));
        assert_eq!(
            choose("", Some(b"\xef\xbb\xbfb: 2\n")).as_deref(),
            Ok("\u{feff}b: 2\n")
        );
    }
}
