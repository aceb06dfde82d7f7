//! Who calls the JSON API: the CLI with `Authorization: Bearer <access token>`, or a browser with
//! its session cookie (and, for state-changing calls, the `X-CSRF-Token` header). A request
//! carrying both is refused: a bearer call must not be helped by a cookie the browser attached,
//! and a cookie call must not smuggle in a token.

use super::session::{self, SignedIn};
use crate::audit::new_reference;
use crate::db::sessions::Session;
use crate::http::AppState;
use crate::http::errors::{AppError, Format, Kind};
use crate::service::cli_oauth;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use std::future::Future;
use std::pin::Pin;

/// The caller of an API route, and the body (raw bytes) for routes that have one.
pub struct ApiCaller {
    pub session: Session,
    pub body: web::Bytes,
}

fn refused(kind: Kind, message: &str) -> AppError {
    AppError::new(kind, Format::Json, new_reference(), message)
}

/// `Some(token)` when the request carries an `Authorization` header; an error when that header
/// is not a well-formed bearer token.
fn bearer(req: &HttpRequest) -> Result<Option<String>, AppError> {
    let Some(value) = req.headers().get(actix_web::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| {
        refused(
            Kind::NotSignedIn,
            "the Authorization header is not a bearer token",
        )
    })?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("Bearer") && !token.is_empty() => {
            Ok(Some(token.to_string()))
        }
        _ => Err(refused(
            Kind::NotSignedIn,
            "the Authorization header is not a bearer token",
        )),
    }
}

async fn caller(
    req: &HttpRequest,
    body: web::Bytes,
    needs_csrf: bool,
) -> Result<ApiCaller, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| refused(Kind::Internal, "Something went wrong."))?;
    if let Some(token) = bearer(req)? {
        if req.cookie(state.cookies.session_name()).is_some() {
            return Err(refused(
                Kind::BadRequest,
                "send either a bearer token or a session cookie, not both",
            ));
        }
        return match cli_oauth::bearer_session(&state, &token).await {
            Ok(Some((_, session))) => Ok(ApiCaller { session, body }),
            Ok(None) => Err(refused(
                Kind::NotSignedIn,
                "the access token is invalid or expired",
            )),
            Err(e) => {
                let reference = new_reference();
                tracing::error!(reference, error = %e, "bearer token lookup failed");
                Err(AppError::new(
                    Kind::Unavailable,
                    Format::Json,
                    reference,
                    "Roleport cannot reach its database right now. Please try again in a moment.",
                ))
            }
        };
    }
    let signed_in: Option<SignedIn> = session::current(&state, req, Format::Json).await?;
    let Some(signed_in) = signed_in else {
        return Err(refused(Kind::NotSignedIn, "sign in at /login first"));
    };
    if needs_csrf {
        let sent = req
            .headers()
            .get("X-CSRF-Token")
            .and_then(|v| v.to_str().ok());
        if !signed_in.csrf_matches(sent) {
            return Err(refused(Kind::BadRequest, "missing or wrong CSRF token"));
        }
    }
    Ok(ApiCaller {
        session: signed_in.session,
        body,
    })
}

type Extracted<T> = Pin<Box<dyn Future<Output = Result<T, actix_web::Error>>>>;

/// A read: bearer token or cookie.
pub struct ApiReader(pub ApiCaller);

impl FromRequest for ApiReader {
    type Error = actix_web::Error;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(Self(caller(&req, web::Bytes::new(), false).await?)) })
    }
}

/// A state-changing call: bearer token, or cookie plus `X-CSRF-Token`.
pub struct ApiWriter(pub ApiCaller);

impl FromRequest for ApiWriter {
    type Error = actix_web::Error;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let body = body.await?;
            Ok(Self(caller(&req, body, true).await?))
        })
    }
}
