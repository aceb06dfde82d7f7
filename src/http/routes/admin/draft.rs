//! An admin form sent when the page wanted a fresh sign-in first: what was sent is not lost.
//!
//! A rules document (dry run or import) is sealed to the browser (a cookie of its own, see
//! [`crate::sealing::admin_draft`]) and the person, kept for as long as a sign-in may take, and
//! put back in the form on `/admin/rules?kept=1` — shown, never run or imported on its own: the
//! person presses the button again, with the fresh sign-in. Other forms go back to their page
//! with a notice that nothing was done.

use crate::audit::new_reference;
use crate::db;
use crate::http::AppState;
use crate::http::cookies::random_token;
use crate::http::routes::session::SignedIn;
use crate::sealing::admin_draft::{self, DraftOwner};
use actix_web::HttpRequest;
use actix_web::cookie::Cookie;
use chrono::Duration;

/// Where a POST that needs a fresh sign-in sends its person back to, and what it keeps.
pub(crate) enum Resume<'a> {
    /// Back to this page (only a fixed word in its query says why: nothing that was sent).
    Page(&'static str),
    /// A rules document sent to `form` (`rules.dry_run`, `rules.import`): kept, then shown again.
    Document { form: &'static str, text: &'a str },
}

/// The rules page that puts a kept document back.
pub(crate) const RULES_KEPT: &str = "/admin/rules?kept=1";

/// Keeps `text` for `signed_in`'s person, sealed to a new cookie (returned, to be set on the
/// redirect). `None` when it could not be kept: logged; the person still comes back to the
/// form, which then says so.
pub(crate) async fn keep(
    state: &AppState,
    signed_in: &SignedIn,
    form: &str,
    text: &str,
) -> Option<Cookie<'static>> {
    let identity = &signed_in.session.identity;
    let now = state.clock.now();
    let ttl = state.settings.session.login_ttl_seconds;
    let expires_at = now + Duration::seconds(ttl);
    let reference = new_reference();
    let token = random_token()
        .map_err(|e| tracing::error!(reference, error = %e, "no random draft cookie"))
        .ok()?;
    let owner = DraftOwner {
        idp: &identity.idp,
        subject: &identity.subject,
        form,
    };
    let set = admin_draft::seal(&state.sealing, &token, &owner, expires_at, text.as_bytes())
        .map_err(|e| tracing::error!(reference, error = %e, "sealing an admin draft failed"))
        .ok()?;
    let holder = db::sha256(token.as_bytes());
    db::admin_drafts::put(
        &state.pool,
        &identity.idp,
        &identity.subject,
        &holder,
        form,
        &set,
        expires_at,
        now,
    )
    .await
    .map_err(|e| tracing::error!(reference, error = %e, "storing an admin draft failed"))
    .ok()?;
    tracing::info!(subject = %identity.subject, idp = %identity.idp, form, bytes = text.len(), "admin form kept while its person signs in again");
    Some(state.cookies.draft(token, ttl))
}

/// A kept draft, taken back (it is gone from the database afterwards).
pub(crate) struct Taken {
    pub form: String,
    pub text: String,
}

/// Takes back what this browser's person left. `None` when there is no draft cookie, no
/// unexpired draft of this person for it, or it does not open (another replica's throwaway key,
/// a rotated key).
pub(crate) async fn take(
    state: &AppState,
    req: &HttpRequest,
    signed_in: &SignedIn,
) -> Option<Taken> {
    let cookie = req.cookie(state.cookies.draft_name())?;
    let identity = &signed_in.session.identity;
    let holder = db::sha256(cookie.value().as_bytes());
    let stored = db::admin_drafts::take(
        &state.pool,
        &identity.idp,
        &identity.subject,
        &holder,
        state.clock.now(),
    )
    .await
    .map_err(|e| tracing::error!(error = %e, "reading an admin draft failed"))
    .ok()??;
    let owner = DraftOwner {
        idp: &identity.idp,
        subject: &identity.subject,
        form: &stored.form,
    };
    let plain = admin_draft::open(
        &state.sealing,
        cookie.value(),
        &owner,
        stored.expires_at,
        &stored.set,
    );
    let Some(plain) = plain else {
        tracing::warn!(subject = %identity.subject, idp = %identity.idp, "an admin draft did not open (key gone or not this browser's)");
        return None;
    };
    let text = String::from_utf8(plain).ok()?;
    Some(Taken {
        form: stored.form,
        text,
    })
}
