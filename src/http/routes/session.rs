//! The signed-in session, looked up from the cookie.

use crate::db;
use crate::db::sessions::Session;
use crate::http::AppState;
use crate::http::errors::{AppError, Format, Kind};
use actix_web::HttpRequest;
use subtle::ConstantTimeEq;

pub struct SignedIn {
    pub token_hash: Vec<u8>,
    pub session: Session,
}

impl SignedIn {
    /// Checks the `X-CSRF-Token` header of a state-changing API call against the session's token.
    pub fn check_csrf(&self, req: &HttpRequest, reference: &str) -> Result<(), AppError> {
        let sent = req
            .headers()
            .get("X-CSRF-Token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if bool::from(sent.as_bytes().ct_eq(self.session.csrf_token.as_bytes())) && !sent.is_empty()
        {
            Ok(())
        } else {
            Err(AppError::new(
                Kind::BadRequest,
                Format::Json,
                reference,
                "missing or wrong CSRF token",
            ))
        }
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
            let reference = crate::audit::new_reference();
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
