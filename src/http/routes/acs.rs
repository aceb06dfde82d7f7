//! `POST /saml/acs`: the assertion consumer service. Thin: it gathers what the pure verifier needs
//! (IdP trust, the pending login bound to this browser, `now`), runs it off the async threads,
//! then hands the outcome to [`crate::service::sign_in`] (audit row, session, redirect target).

use super::refused::Evidence;
use crate::audit::new_reference;
use crate::db;
use crate::domain::{FederatedIdentity, ReturnTo};
use crate::http::AppState;
use crate::http::errors::{AppError, Format, Kind};
use crate::http::request_meta::RequestMeta;
use crate::protocol::saml::guard::Limits;
use crate::protocol::saml::{self, SamlError, Solicitation, SpContext, extract_identity};
pub use crate::service::claims_of;
use crate::service::{nested_groups, sign_in};
use crate::upstream::directory::DirectoryError;
use crate::upstream::saml_idp::SamlIdp;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use chrono::Duration;
use std::borrow::Cow;
use std::sync::Arc;
use subtle::ConstantTimeEq;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/saml/acs", web::post().to(acs));
}

#[derive(Default)]
struct AcsForm {
    saml_response: Option<String>,
    relay_state: Option<String>,
}

/// Base64 is 4/3 of the XML, plus the other form field and percent-encoding slack.
fn body_limit(state: &AppState) -> usize {
    state.settings.saml.max_response_bytes / 3 * 4 * 3 / 2 + 8192
}

async fn read_form(state: &AppState, payload: web::Payload) -> Result<AcsForm, Failure> {
    let body = payload
        .to_bytes_limited(body_limit(state))
        .await
        .map_err(|_| Failure::from(SamlError::TooLarge))?
        .map_err(|e| Failure::Refused(Refusal::BadBody(e.to_string())))?;
    let mut form = AcsForm::default();
    for (key, value) in url::form_urlencoded::parse(&body) {
        let slot = match key.as_ref() {
            "SAMLResponse" => &mut form.saml_response,
            "RelayState" => &mut form.relay_state,
            _ => continue,
        };
        if slot.is_some() {
            return Err(Failure::Refused(Refusal::BadBody(format!(
                "{key} given twice"
            ))));
        }
        *slot = Some(value.into_owned());
    }
    Ok(form)
}

/// Why a sign-in was refused, before or after SAML verification.
#[derive(Debug)]
enum Refusal {
    Saml(SamlError),
    Missing,
    UnknownRequest,
    OtherBrowser,
    RelayStateMismatch,
    Replay,
    /// The response verified, but its pending login was used or expired meanwhile.
    LoginGone,
    BadBody(String),
    /// The assertion verified, but the identity in it was refused.
    Identity(SamlError),
    /// The assertion verified, but the person's nested groups could not be resolved.
    Directory(DirectoryError),
}

impl Refusal {
    fn code(&self) -> &'static str {
        match self {
            Self::Saml(e) | Self::Identity(e) => e.code(),
            Self::Missing => "missing_saml_response",
            Self::UnknownRequest => "in_response_to_unknown",
            Self::LoginGone => "pending_login_gone",
            Self::OtherBrowser => "in_response_to_other_browser",
            Self::RelayStateMismatch => "relay_state_mismatch",
            Self::Replay => "replay",
            Self::BadBody(_) => "bad_request_body",
            Self::Directory(e) => e.code(),
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::Saml(e) | Self::Identity(e) => e.to_string(),
            Self::Missing => "no SAMLResponse in the form".into(),
            Self::UnknownRequest => {
                "InResponseTo names no pending login (unknown, used or expired)".into()
            }
            Self::OtherBrowser => "the login was started by another browser".into(),
            Self::RelayStateMismatch => "RelayState does not match the pending login".into(),
            Self::Replay => "assertion id was already used".into(),
            Self::LoginGone => {
                "the pending login was used or expired while the response was checked".into()
            }
            Self::BadBody(why) => format!("unreadable form body: {why}"),
            Self::Directory(e) => e.to_string(),
        }
    }

    /// `OtherBrowser` is only ever reached with a response that verified.
    fn evidence(&self) -> Evidence {
        match self {
            Self::Replay
            | Self::LoginGone
            | Self::Identity(_)
            | Self::OtherBrowser
            | Self::Directory(_) => Evidence::Verified,
            Self::Saml(_)
            | Self::Missing
            | Self::UnknownRequest
            | Self::RelayStateMismatch
            | Self::BadBody(_) => Evidence::Unverified,
        }
    }
}

async fn acs(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let reference = new_reference();
    let meta = RequestMeta::of(&req);
    let mut idp_label: Option<String> = None;
    // The body is read here rather than by an extractor, so an oversized or malformed post is
    // refused like any other bad response: page, log line, audit row.
    let outcome = match read_form(&state, payload).await {
        Ok(form) => match consume(&state, &req, form, &mut idp_label).await {
            Ok(accepted) => finish(&state, &reference, &meta, accepted).await,
            Err(failure) => Err(failure),
        },
        Err(failure) => Err(failure),
    };
    match outcome {
        Ok(started) => Ok(session_started(&state, started)),
        Err(Failure::Refused(refusal)) => Err(sign_in::refused(
            &state,
            &reference,
            meta,
            idp_label.as_deref(),
            refusal.code(),
            &refusal.detail(),
            refusal.evidence(),
        )
        .await
        .into()),
        Err(Failure::Unavailable(what)) => Err(sign_in::unavailable(&reference, &what).into()),
        Err(Failure::NotRecorded(e)) => Err(e.into()),
        Err(Failure::Busy { retry_after }) => {
            state
                .metrics
                .shed
                .with_label_values(&["/saml/acs", "verify_pool_full"])
                .inc();
            tracing::warn!(
                reference,
                idp = idp_label.as_deref().unwrap_or("unknown"),
                "verification pool full: sign-in answered 503"
            );
            Err(AppError::new(
                Kind::Unavailable,
                Format::Html,
                reference,
                "Roleport is very busy right now. Please try again in a moment.",
            )
            .retry_after(retry_after))
        }
    }
}

/// The redirect of a started session, with its cookie.
pub(super) fn session_started(state: &AppState, started: sign_in::Started) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", started.return_to.as_str()))
        .cookie(state.cookies.session(started.token, started.ttl_seconds))
        .finish()
}

/// A verified response, and what recording it consumes: the pending login it answers (if
/// SP-initiated) and its assertion id.
struct Accepted {
    identity: FederatedIdentity,
    origins: Option<sign_in::GroupOrigins>,
    return_to: ReturnTo,
    grants: usize,
    /// The request id and the browser that started it.
    pending: Option<(String, Vec<u8>)>,
    assertion_id: String,
    replay_until: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
}

/// Records the accepted sign-in: pending login taken, assertion id recorded against replay,
/// audit row and session, all in one statement (see `db::sign_in`).
async fn finish(
    state: &AppState,
    reference: &str,
    meta: &RequestMeta,
    a: Accepted,
) -> Result<sign_in::Started, Failure> {
    let idp = a.identity.idp.clone();
    let consumes = sign_in::Consumes {
        take: a
            .pending
            .as_ref()
            .map(|(request_id, browser_hash)| db::sign_in::Take {
                request_id,
                browser_hash,
                now: a.now,
            }),
        first_use: Some(db::sign_in::FirstUse {
            idp: &idp,
            id: &a.assertion_id,
            expires_at: a.replay_until,
        }),
    };
    sign_in::accepted(
        state,
        reference,
        meta,
        a.identity,
        a.origins,
        a.grants,
        db::sessions::Upstream::default(),
        a.return_to,
        consumes,
    )
    .await
    .map_err(|declined| match declined {
        sign_in::Declined::Replay => Failure::Refused(Refusal::Replay),
        sign_in::Declined::LoginGone => Failure::Refused(Refusal::LoginGone),
        sign_in::Declined::Failed(e) => Failure::NotRecorded(e),
    })
}

enum Failure {
    Refused(Refusal),
    Unavailable(String),
    /// Verified, but the sign-in could not be recorded (already logged, and audited where the
    /// database allowed).
    NotRecorded(crate::service::Error),
    /// No verification slot came free in time.
    Busy {
        retry_after: u64,
    },
}

impl From<SamlError> for Failure {
    fn from(e: SamlError) -> Self {
        Failure::Refused(Refusal::Saml(e))
    }
}

fn db_down(e: sqlx::Error) -> Failure {
    Failure::Unavailable(e.to_string())
}

async fn consume(
    state: &AppState,
    req: &HttpRequest,
    form: AcsForm,
    idp_label: &mut Option<String>,
) -> Result<Accepted, Failure> {
    let encoded = form
        .saml_response
        .filter(|s| !s.is_empty())
        .ok_or(Failure::Refused(Refusal::Missing))?;
    let limits = Limits {
        max_bytes: state.settings.saml.max_response_bytes,
        max_depth: state.settings.saml.max_xml_depth,
        ..Limits::default()
    };
    // Base64 is 4/3 of the XML: refuse before decoding anything oversized.
    if encoded.len() > limits.max_bytes / 3 * 4 + 4096 {
        return Err(SamlError::TooLarge.into());
    }
    // IdPs wrap the base64 in lines; most send none, and then nothing is copied.
    let compact: Cow<'_, [u8]> = if encoded.bytes().any(|b| b.is_ascii_whitespace()) {
        Cow::Owned(
            encoded
                .bytes()
                .filter(|b| !b.is_ascii_whitespace())
                .collect(),
        )
    } else {
        Cow::Borrowed(encoded.as_bytes())
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map_err(|_| SamlError::BadEncoding)?;
    let xml = String::from_utf8(bytes).map_err(|_| SamlError::BadEncoding)?;
    // Scanned once: the untrusted header picks the IdP and pending login, and the same scan is
    // what gets verified.
    let scanned = saml::scan(xml, &limits)?;
    let header = scanned.header();

    let now = state.clock.now();
    let (idp, solicitation, return_to, pending) = match &header.in_response_to {
        Some(request_id) => {
            let browser = req
                .cookie(state.cookies.browser_name())
                .map(|c| db::sha256(c.value().as_bytes()))
                .unwrap_or_default();
            // Only read here: the login is taken by the statement that records the sign-in.
            let pending = match db::logins::find(&state.pool, request_id, &browser, now)
                .await
                .map_err(db_down)?
            {
                db::logins::Found::Login(p) => p,
                db::logins::Found::OtherBrowser { idp } => {
                    *idp_label = Some(idp.clone());
                    // Only a response that verifies shows someone's identity arriving in the
                    // wrong browser (login CSRF, a stolen response): that is audited in full.
                    // Junk naming a live request id is refused for what is wrong with it.
                    let idp = state
                        .idp(&idp)
                        .ok_or(SamlError::UnknownIssuer(header.issuer.clone()))?;
                    let solicitation = Solicitation::Solicited {
                        request_id: request_id.clone(),
                    };
                    verify_blocking(state, idp, scanned, solicitation, limits, now).await?;
                    return Err(Failure::Refused(Refusal::OtherBrowser));
                }
                db::logins::Found::Unknown => {
                    return Err(Failure::Refused(Refusal::UnknownRequest));
                }
            };
            *idp_label = Some(pending.idp.clone());
            let relay_ok = form
                .relay_state
                .as_deref()
                .is_some_and(|r| bool::from(r.as_bytes().ct_eq(pending.relay_handle.as_bytes())));
            if !relay_ok {
                return Err(Failure::Refused(Refusal::RelayStateMismatch));
            }
            let idp = state
                .idp(&pending.idp)
                .ok_or(SamlError::UnknownIssuer(header.issuer.clone()))?;
            let return_to =
                ReturnTo::parse(&pending.return_to).unwrap_or_else(|_| ReturnTo::roles_page());
            (
                idp,
                Solicitation::Solicited {
                    request_id: pending.request_id.clone(),
                },
                return_to,
                Some((pending.request_id, browser)),
            )
        }
        None => {
            let issuer = header
                .issuer
                .clone()
                .ok_or(SamlError::UnknownIssuer(None))?;
            let idp = state
                .idp_by_entity_id(&issuer)
                .ok_or(SamlError::UnknownIssuer(Some(issuer)))?;
            *idp_label = Some(idp.id.clone());
            // An IdP-initiated RelayState is only ever a same-origin path; anything else is ignored.
            let return_to = form
                .relay_state
                .as_deref()
                .and_then(|r| ReturnTo::parse(r).ok())
                .unwrap_or_else(ReturnTo::roles_page);
            let allowed = idp.allow_idp_initiated;
            (idp, Solicitation::Unsolicited { allowed }, return_to, None)
        }
    };

    let verified = verify_blocking(state, idp.clone(), scanned, solicitation, limits, now).await?;
    // The assertion id is recorded (refusing a replay on any replica) by the statement that
    // records the sign-in. Only where a directory lookup would follow is a replay looked for
    // first, so a replayed assertion costs no LDAP round trip.
    let mut identity = extract_identity(&idp.id, &verified, &idp.attributes)
        .map_err(|e| Failure::Refused(Refusal::Identity(e)))?;
    identity.forget_unverified_email(idp.email_verified, &idp.attributes.email);
    let origins = match state.directory(&idp.id) {
        Some(directory) => {
            if db::replay::used(&state.pool, &idp.id, &verified.assertion_id)
                .await
                .map_err(db_down)?
            {
                return Err(Failure::Refused(Refusal::Replay));
            }
            Some(
                nested_groups::add_from_directory(&directory, &mut identity, now)
                    .await
                    .map_err(|e| Failure::Refused(Refusal::Directory(e)))?,
            )
        }
        None => None,
    };
    let claims = claims_of(&identity);
    let grants = state.rules().evaluate(&claims).grants.len();
    // Nothing bearer-like from the upstream Response is kept: AWS cannot redeem an assertion
    // addressed to Roleport's ACS, so SAML pass-through is retired.
    Ok(Accepted {
        identity,
        origins,
        return_to,
        grants,
        pending,
        assertion_id: verified.assertion_id,
        replay_until: verified.replay_until,
        now,
    })
}

async fn verify_blocking(
    state: &AppState,
    idp: Arc<SamlIdp>,
    scanned: saml::ScannedResponse,
    solicitation: Solicitation,
    limits: Limits,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<saml::VerifiedAssertion, Failure> {
    // A full pool answers at once rather than queue without bound behind a flood.
    let wait = std::time::Duration::from_millis(state.settings.rate_limit.verify_wait_ms);
    let _slot = tokio::time::timeout(wait, state.blocking.clone().acquire_owned())
        .await
        .map_err(|_| Failure::Busy {
            retry_after: crate::http::rate_limit::retry_after_seconds(wait).max(1),
        })?
        .map_err(|e| Failure::Unavailable(e.to_string()))?;
    let entity_id = state.sp.entity_id.clone();
    let acs_url = state.sp.acs_url.clone();
    let key = state.sp.key.clone();
    let skew = Duration::seconds(state.settings.saml.clock_skew_seconds);
    let max_age = Duration::seconds(state.settings.saml.max_assertion_age_seconds);
    let max_lifetime = Duration::seconds(state.settings.saml.max_assertion_lifetime_seconds);
    let timer = state
        .metrics
        .acs_verify_duration
        .with_label_values(&[idp.id.as_str()])
        .start_timer();
    // xmlsec's C calls block: keep them off the async workers.
    let result = web::block(move || {
        let sp = SpContext {
            entity_id: &entity_id,
            acs_url: &acs_url,
            decryption_key: key.as_ref(),
            skew,
            max_assertion_age: max_age,
            max_assertion_lifetime: max_lifetime,
            limits,
        };
        saml::verify_scanned(&scanned, &idp.trust, &sp, &solicitation, now)
    })
    .await
    .map_err(|e| Failure::Unavailable(format!("verification worker: {e}")))?;
    timer.observe_duration();
    result.map_err(Failure::from)
}
