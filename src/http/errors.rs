//! The one translation from failures to HTTP: an HTML page or an RFC 9457 problem JSON, always
//! with a reference id that also stands in the log line and the audit row.

use super::views::{ErrorPage, NavView};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A sign-in was refused; the reason is only in the log and the audit row.
    SignInFailed,
    /// The request itself was wrong; the message is safe to show.
    BadRequest,
    NotSignedIn,
    NotFound,
    /// A dependency (the database) is down: try again.
    Unavailable,
    /// A rate limit or a per-client cap refused the request: try again later.
    TooManyRequests,
    Internal,
    /// AWS does not trust Roleport for the role: only the platform team can fix it.
    AwsNotTrusted,
    /// AWS refused the call for a reason that retrying will not fix.
    AwsRefused,
    /// AWS is busy (throttling, failing or not answering): try again.
    AwsBusy,
    /// The role is reached with an OpenID provider's ID token, and the sign-in was SAML.
    WrongSignIn,
    /// The role's access mode is retired.
    AccessModeRetired,
    /// AWS would refuse what the sign-in gave (an expired token or assertion): sign in again.
    SignInTooOld,
}

#[derive(Debug)]
pub struct AppError {
    pub kind: Kind,
    pub format: Format,
    pub reference: String,
    pub message: String,
    /// Seconds for `Retry-After`, when waiting is what helps.
    pub retry_after: Option<u64>,
    /// What the page adds beyond the message, when the handler knows it (boxed: most errors
    /// carry none, and an error travels in every `Result`).
    pub hints: Option<Box<PageHints>>,
}

#[derive(Debug, Clone, Default)]
pub struct PageHints {
    /// Where the person can continue (href, words), when the handler knows better than the
    /// default (the roles page when signed in, the sign-in page otherwise).
    pub back: Option<(String, String)>,
    /// What was asked for, in words.
    pub asked_for: Option<String>,
}

impl AppError {
    pub fn new(
        kind: Kind,
        format: Format,
        reference: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            format,
            reference: reference.into(),
            message: message.into(),
            retry_after: None,
            hints: None,
        }
    }

    fn hints_mut(&mut self) -> &mut PageHints {
        self.hints.get_or_insert_with(Default::default)
    }

    /// The page's "continue" link, where the handler knows a better one than the default.
    pub fn back_to(mut self, href: impl Into<String>, label: impl Into<String>) -> Self {
        self.hints_mut().back = Some((href.into(), label.into()));
        self
    }

    /// What was asked for, in words, shown above the message.
    pub fn asked_for(mut self, words: impl Into<String>) -> Self {
        self.hints_mut().asked_for = Some(words.into());
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn json(mut self) -> Self {
        self.format = Format::Json;
        self
    }

    pub(crate) fn title(&self) -> &'static str {
        match self.kind {
            Kind::SignInFailed => "Sign-in failed",
            Kind::BadRequest => "That request could not be handled",
            Kind::NotSignedIn => "Not signed in",
            Kind::NotFound => "Not found",
            Kind::Unavailable => "Please try again",
            Kind::TooManyRequests => "Too many requests",
            Kind::Internal => "Something went wrong",
            Kind::AwsNotTrusted => "AWS does not trust Roleport for this role",
            Kind::AwsRefused => "AWS refused this request",
            Kind::AwsBusy => "AWS is busy; please try again",
            Kind::WrongSignIn => "This role needs a sign-in through an OpenID provider",
            Kind::AccessModeRetired => "This role's way into AWS is retired",
            Kind::SignInTooOld => "Your sign-in is too old for AWS",
        }
    }
}

/// Reads a JSON API body, answering a problem JSON that shows the expected shape when it does
/// not parse.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, AppError> {
    serde_json::from_slice(body).map_err(|e| {
        AppError::new(
            Kind::BadRequest,
            Format::Json,
            crate::audit::new_reference(),
            format!("expected {shape}: {e}"),
        )
    })
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} [{}]: {}", self.kind, self.reference, self.message)
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self.kind {
            Kind::SignInFailed => StatusCode::FORBIDDEN,
            Kind::BadRequest => StatusCode::BAD_REQUEST,
            Kind::NotSignedIn | Kind::SignInTooOld => StatusCode::UNAUTHORIZED,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::Unavailable | Kind::AwsBusy => StatusCode::SERVICE_UNAVAILABLE,
            Kind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Kind::AwsNotTrusted | Kind::WrongSignIn => StatusCode::FORBIDDEN,
            Kind::AwsRefused => StatusCode::UNPROCESSABLE_ENTITY,
            // The rules, not the person, name a mode that no longer exists.
            Kind::AccessModeRetired => StatusCode::CONFLICT,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = self.render();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(seconds),
            );
        }
        response
    }
}

impl AppError {
    fn render(&self) -> HttpResponse {
        let status = self.status_code();
        match self.format {
            Format::Json => HttpResponse::build(status)
                .content_type("application/problem+json")
                .json(serde_json::json!({
                    "type": "about:blank",
                    "title": self.title(),
                    "status": status.as_u16(),
                    "detail": self.message,
                    "reference": self.reference,
                })),
            Format::Html => {
                let parts = PageParts::of(self);
                let mut response = parts.render(status, None);
                // The error handler adds the header's person once it has looked the session up.
                response.extensions_mut().insert(parts);
                response
            }
        }
    }

    /// Whether the person should be offered a fresh sign-in.
    pub(crate) fn offers_sign_in(&self) -> bool {
        matches!(
            self.kind,
            Kind::SignInFailed | Kind::NotSignedIn | Kind::WrongSignIn | Kind::SignInTooOld
        )
    }
}

/// What an HTML error page says, kept on the response so that the error handler can render it
/// again with the header of the signed-in person.
#[derive(Debug, Clone)]
pub struct PageParts {
    pub kind: Kind,
    pub title: &'static str,
    pub message: String,
    pub reference: String,
    pub back: Option<(String, String)>,
    pub asked_for: Option<String>,
    pub show_login: bool,
}

impl PageParts {
    fn of(e: &AppError) -> Self {
        Self {
            kind: e.kind,
            title: e.title(),
            message: e.message.clone(),
            reference: e.reference.clone(),
            back: e.hints.as_ref().and_then(|h| h.back.clone()),
            asked_for: e.hints.as_ref().and_then(|h| h.asked_for.clone()),
            show_login: e.offers_sign_in(),
        }
    }

    pub fn render(&self, status: StatusCode, nav: Option<&NavView>) -> HttpResponse {
        match self.body(nav) {
            Some(body) => HttpResponse::build(status)
                .content_type("text/html; charset=utf-8")
                .body(body),
            None => HttpResponse::build(status)
                .content_type("text/plain; charset=utf-8")
                .body(format!("{} (reference {})", self.title, self.reference)),
        }
    }

    pub fn body(&self, nav: Option<&NavView>) -> Option<String> {
        let (back_href, back_label) = match (&self.back, nav) {
            (Some((href, label)), _) => (href.as_str(), label.as_str()),
            (None, Some(_)) => ("/roles", "Back to your roles"),
            (None, None) if self.show_login => ("/login", "Sign in again"),
            (None, None) => ("/login", "Sign in"),
        };
        let page = ErrorPage {
            title: self.title,
            message: &self.message,
            asked_for: self.asked_for.as_deref(),
            reference: &self.reference,
            show_login: self.show_login,
            nav,
            back_href,
            back_label,
        };
        page.render().ok()
    }
}

/// Error answers that did not come from an [`AppError`] (actix's own: a method the route does
/// not take, a body over the size limit, an unreadable payload) carry actix's error text as
/// plain text and no reference. They become the usual page or problem JSON, with a reference
/// that the log line names too. Roleport's own pages and problem JSON pass unchanged.
pub fn plain_errors<B: actix_web::body::MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let ours = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.starts_with("text/html")
                || ct.starts_with("application/problem+json")
                || ct.starts_with("application/json")
        });
    if ours {
        if res.response().extensions().get::<PageParts>().is_some() {
            return Ok(super::error_nav::with_nav(res));
        }
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let reference = crate::audit::new_reference();
    let (req, _) = res.into_parts();
    tracing::warn!(reference, path = %req.path(), method = %req.method(), status = status.as_u16(), "request refused before reaching a handler");
    let format = if req.path().starts_with("/api/") {
        Format::Json
    } else {
        Format::Html
    };
    let (kind, message) = match status {
        StatusCode::NOT_FOUND => (Kind::NotFound, "There is no page at this address."),
        StatusCode::METHOD_NOT_ALLOWED => (
            Kind::BadRequest,
            "This address does not take that kind of request.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (Kind::BadRequest, "The request was too large."),
        s if s.is_server_error() => (Kind::Internal, "Roleport could not handle this request."),
        _ => (
            Kind::BadRequest,
            "The request was incomplete or malformed. Go back and try again.",
        ),
    };
    let mut page = AppError::new(kind, format, reference, message).error_response();
    // The status stays what it was (405, 413, …); only the words and the reference change.
    *page.status_mut() = status;
    let res = ServiceResponse::new(req, page);
    if format == Format::Html {
        return Ok(super::error_nav::fresh_with_nav(res));
    }
    Ok(ErrorHandlerResponse::Response(res.map_into_right_body()))
}
