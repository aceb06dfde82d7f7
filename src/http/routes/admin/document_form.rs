//! The body of the rules page's dry run and import: a urlencoded form (pasted text, or the
//! import button's hidden copy) or `multipart/form-data` (the dry run form, whose file field
//! works without scripts). Either way at most [`DOCUMENT_LIMIT`] bytes are read.

use crate::admin::rules_upload::{self, UploadProblem};
use crate::audit::new_reference;
use crate::http::errors::{AppError, Format, Kind};
use crate::http::routes::session::CsrfCarrier;
use actix_multipart::Multipart;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::Deserialize;
use std::future::Future;
use std::pin::Pin;

/// A rules document may be this large (the default form limit is 16 KiB).
pub(super) const DOCUMENT_LIMIT: usize = 2 * 1024 * 1024;
/// A multipart form has at most this many parts (token, text, file, and a little slack).
const PARTS_LIMIT: usize = 8;
/// Room for the parts' own headers and the CSRF token around the document.
const MULTIPART_SLACK: usize = 16 * 1024;

#[derive(Deserialize)]
struct Urlencoded {
    csrf_token: Option<String>,
    document: Option<String>,
}

pub(super) struct DocumentForm {
    csrf_token: Option<String>,
    pasted: String,
    /// The file field's bytes, when the form came as multipart (empty: no file chosen).
    file: Option<Vec<u8>>,
}

impl DocumentForm {
    /// The document the person meant ([`rules_upload::choose`]).
    pub fn document(&self) -> Result<String, UploadProblem> {
        rules_upload::choose(&self.pasted, self.file.as_deref())
    }

    /// Where the document came from, for the audit row: `file` or `pasted`.
    pub fn source(&self) -> &'static str {
        if self.file.as_ref().is_some_and(|f| !f.is_empty()) {
            "file"
        } else {
            "pasted"
        }
    }

    /// What to show in the text area again when the form comes back with a problem.
    pub fn shown_again(&self) -> String {
        match self.document() {
            Ok(text) => text,
            Err(_) => self.pasted.clone(),
        }
    }
}

fn refused(message: &str) -> actix_web::Error {
    let reference = new_reference();
    tracing::info!(reference, problem = message, "rules form refused");
    AppError::new(
        Kind::BadRequest,
        Format::Html,
        reference,
        message.to_string(),
    )
    .back_to("/admin/rules", "Back to the rules")
    .into()
}

const TOO_LARGE: &str = "The document is larger than 2 MiB, which Roleport does not accept.";

async fn read_multipart(
    req: &HttpRequest,
    payload: Payload,
) -> Result<DocumentForm, actix_web::Error> {
    let mut parts = Multipart::new(req.headers(), payload);
    let mut form = DocumentForm {
        csrf_token: None,
        pasted: String::new(),
        file: None,
    };
    let mut total = 0usize;
    let mut count = 0usize;
    while let Some(field) = parts.next().await {
        let mut field = field.map_err(|_| refused("The form could not be read."))?;
        count += 1;
        if count > PARTS_LIMIT {
            return Err(refused(
                "The form has more fields than the rules page sends.",
            ));
        }
        let name = field.name().unwrap_or_default().to_string();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| refused("The form could not be read."))?;
            total += chunk.len();
            if total > DOCUMENT_LIMIT + MULTIPART_SLACK
                || bytes.len() + chunk.len() > DOCUMENT_LIMIT
            {
                return Err(refused(TOO_LARGE));
            }
            bytes.extend_from_slice(&chunk);
        }
        match name.as_str() {
            "csrf_token" => form.csrf_token = String::from_utf8(bytes).ok(),
            "document" => {
                form.pasted = String::from_utf8(bytes)
                    .map_err(|_| refused("The pasted document is not UTF-8 text."))?;
            }
            "document_file" => form.file = Some(bytes),
            _ => {}
        }
    }
    Ok(form)
}

impl FromRequest for DocumentForm {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let multipart = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
        let req = req.clone();
        if multipart {
            let payload = payload.take();
            return Box::pin(async move { read_multipart(&req, payload).await });
        }
        let form = web::Form::<Urlencoded>::from_request(&req, payload);
        Box::pin(async move {
            let form = form.await.map_err(|e| {
                match e.as_error::<actix_web::error::UrlencodedError>() {
                    Some(actix_web::error::UrlencodedError::Overflow { .. }) => refused(TOO_LARGE),
                    _ => refused("The form could not be read."),
                }
            })?;
            let form = form.into_inner();
            Ok(DocumentForm {
                csrf_token: form.csrf_token,
                pasted: form.document.unwrap_or_default(),
                file: None,
            })
        })
    }
}

impl CsrfCarrier for DocumentForm {
    const FORMAT: Format = Format::Html;

    fn sent_token<'a>(&'a self, _: &'a HttpRequest) -> Option<&'a str> {
        self.csrf_token.as_deref()
    }

    fn refused() -> AppError {
        AppError::new(
            Kind::BadRequest,
            Format::Html,
            new_reference(),
            "This form has expired. Go back to the rules and try again.",
        )
    }
}
