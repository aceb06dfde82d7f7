//! The signed-in person, looked up from the session cookie, and the CSRF check of every
//! state-changing request — as extractors, so no handler repeats either.
//!
//! - [`MaybeSignedIn`]: pages that send a stranger to `/login` instead of refusing them.
//! - [`SignedInWithCsrf`]: state-changing requests. It reads the body first (a form, or the raw
//!   bytes of a JSON call), then requires a live session ("Your session has ended; sign in
//!   again."), then compares the token the request carries — the form's `csrf_token`, or the
//!   `X-CSRF-Token` header of a JSON call — with the session's, in constant time.

use crate::audit::new_reference;
use crate::db;
use crate::db::sessions::Session;
use crate::http::AppState;
use crate::http::errors::{AppError, Format, Kind};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use subtle::ConstantTimeEq;

pub struct SignedIn {
    pub token_hash: Vec<u8>,
    pub session: Session,
}

impl SignedIn {
    /// The header every page shows for this person.
    pub fn nav(&self) -> crate::http::views::NavView {
        crate::http::views::NavView {
            person: self.person(),
            idp: self.session.identity.idp.clone(),
            csrf_token: self.session.csrf_token.clone(),
        }
    }

    /// The person as the headers name them: display name, else e-mail, else subject.
    pub fn person(&self) -> String {
        self.session.identity.name_to_show()
    }

    /// Whether `sent` is this session's CSRF token (constant time; an empty token never is).
    pub fn csrf_matches(&self, sent: Option<&str>) -> bool {
        let sent = sent.unwrap_or_default();
        !sent.is_empty() && bool::from(sent.as_bytes().ct_eq(self.session.csrf_token.as_bytes()))
    }
}

pub async fn current(
    state: &AppState,
    req: &HttpRequest,
    format: Format,
) -> Result<Option<SignedIn>, AppError> {
    let Some(cookie) = req.cookie(state.cookies.session_name()) else {
        return Ok(None);
    };
    let token_hash = db::sha256(cookie.value().as_bytes());
    match db::sessions::find(
        &state.pool,
        cookie.value(),
        &state.sealing,
        state.clock.now(),
    )
    .await
    {
        Ok(Some(session)) => Ok(Some(SignedIn {
            token_hash,
            session,
        })),
        Ok(None) => Ok(None),
        Err(e) => {
            let reference = new_reference();
            tracing::error!(reference, error = %e, "session lookup failed");
            Err(AppError::new(
                Kind::Unavailable,
                format,
                reference,
                "Roleport cannot reach its database right now. Please try again in a moment.",
            ))
        }
    }
}

fn app_state(req: &HttpRequest, format: Format) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| {
            let reference = new_reference();
            tracing::error!(reference, "application state missing");
            AppError::new(Kind::Internal, format, reference, "Something went wrong.")
        })
}

type Extracted<T> = Pin<Box<dyn Future<Output = Result<T, actix_web::Error>>>>;

/// How an answer is written when the lookup itself fails: an HTML page or a problem JSON.
pub trait Answer {
    const FORMAT: Format;
}

pub struct Html;

impl Answer for Html {
    const FORMAT: Format = Format::Html;
}

/// The person signed in, if anyone is. Only a failed lookup (the database) is an error.
pub struct MaybeSignedIn<A: Answer = Html> {
    pub signed_in: Option<SignedIn>,
    answer: PhantomData<A>,
}

impl<A: Answer + 'static> FromRequest for MaybeSignedIn<A> {
    type Error = actix_web::Error;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req, A::FORMAT)?;
            let signed_in = current(&state, &req, A::FORMAT).await?;
            crate::http::error_nav::remember(&req, signed_in.as_ref().map(SignedIn::nav));
            Ok(Self {
                signed_in,
                answer: PhantomData,
            })
        })
    }
}

/// A request body that carries the CSRF token of a state-changing request.
pub trait CsrfCarrier: FromRequest + 'static {
    const FORMAT: Format;
    fn sent_token<'a>(&'a self, req: &'a HttpRequest) -> Option<&'a str>;
    /// The answer when the token is missing or wrong.
    fn refused() -> AppError;
}

/// A form with a hidden `csrf_token` field.
pub trait CsrfForm {
    fn csrf_token(&self) -> Option<&str>;
    /// Where the person should go back to, in the "form has expired" page.
    const EXPIRED: &'static str = "This form has expired. Go back and try again.";
}

impl<T: CsrfForm + serde::de::DeserializeOwned + 'static> CsrfCarrier for web::Form<T> {
    const FORMAT: Format = Format::Html;

    fn sent_token<'a>(&'a self, _: &'a HttpRequest) -> Option<&'a str> {
        self.csrf_token()
    }

    fn refused() -> AppError {
        AppError::new(Kind::BadRequest, Format::Html, new_reference(), T::EXPIRED)
    }
}

/// A JSON API call: the body stays raw bytes (parsed by the handler once the caller is known),
/// the token is the `X-CSRF-Token` header.
impl CsrfCarrier for web::Bytes {
    const FORMAT: Format = Format::Json;

    fn sent_token<'a>(&'a self, req: &'a HttpRequest) -> Option<&'a str> {
        req.headers()
            .get("X-CSRF-Token")
            .and_then(|v| v.to_str().ok())
    }

    fn refused() -> AppError {
        AppError::new(
            Kind::BadRequest,
            Format::Json,
            new_reference(),
            "missing or wrong CSRF token",
        )
    }
}

/// A signed-in person whose request carried the session's CSRF token, with the request body.
pub struct SignedInWithCsrf<B> {
    pub signed_in: SignedIn,
    pub body: B,
}

impl<B: CsrfCarrier> FromRequest for SignedInWithCsrf<B> {
    type Error = actix_web::Error;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = B::from_request(&req, payload);
        Box::pin(async move {
            let body = body.await.map_err(Into::into)?;
            let state = app_state(&req, B::FORMAT)?;
            let signed_in = current(&state, &req, B::FORMAT).await?;
            crate::http::error_nav::remember(&req, signed_in.as_ref().map(SignedIn::nav));
            let signed_in = signed_in.ok_or_else(|| {
                AppError::new(
                    Kind::NotSignedIn,
                    B::FORMAT,
                    new_reference(),
                    "Your session has ended; sign in again.",
                )
            })?;
            if !signed_in.csrf_matches(body.sent_token(&req)) {
                return Err(B::refused().into());
            }
            Ok(Self { signed_in, body })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FederatedIdentity;

    fn signed_in(csrf: &str) -> SignedIn {
        SignedIn {
            token_hash: vec![1],
            session: Session {
                csrf_token: csrf.into(),
                sign_in_reference: "ref".into(),
                identity: FederatedIdentity {
                    idp: "demo-saml".into(),
                    subject: "alice".into(),
                    email: None,
                    display_name: None,
                    groups: vec![],
                    attributes: Default::default(),
                },
                expires_at: chrono::DateTime::UNIX_EPOCH,
                signed_in_at: chrono::DateTime::UNIX_EPOCH,
                upstream_id_token: crate::domain::KeptIdToken::None,
            },
        }
    }

    #[test]
    fn only_the_sessions_own_token_passes() {
        let s = signed_in("tok-123");
        assert!(s.csrf_matches(Some("tok-123")));
        for wrong in [
            None,
            Some(""),
            Some("tok-12"),
            Some("tok-1234"),
            Some("TOK-123"),
        ] {
            assert!(!s.csrf_matches(wrong), "{wrong:?}");
        }
        // A session whose token is somehow empty is never matched by an empty form field.
        assert!(!signed_in("").csrf_matches(Some("")));
    }
}
