//! From a picked grant to AWS: `POST /api/v1/credentials`, the credentials page, console links
//! and their bookmarkable shortcuts, and Roleport's IdP metadata for IAM.
//!
//! Order of events for every issue: the grant is re-derived from the rules (deny by default),
//! STS is called, the audit row is committed, and only then does anything leave Roleport.

use super::acs::claims_of;
use super::session::{CsrfForm, MaybeSignedIn, SignedIn, SignedInWithCsrf};
use crate::audit::{AuditEvent, EventKind, Outcome, new_reference};
use crate::aws::broker::{IssueErrorClass, IssueOutcome, IssueRequest};
use crate::aws::federation;
use crate::db;
use crate::http::AppState;
use crate::http::errors::{AppError, Format, Kind};
use crate::http::request_meta::RequestMeta;
use crate::http::views::{ConsoleConfirmPage, CredentialsPage, SamlPostPage};
use crate::protocol::aws::{
    console_destination, credential_process_json, credentials_file_profile, login_url, powershell,
    shell_exports, signin_token_url,
};
use crate::protocol::mapping::Grant;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/aws/saml-metadata.xml", web::get().to(idp_metadata))
        .route("/api/v1/credentials", web::post().to(api_credentials))
        .route(
            "/roles/{grant}/credentials",
            web::post().to(credentials_page),
        )
        .route("/roles/{grant}/console", web::post().to(console))
        .route("/roles/{grant}/console", web::get().to(console_shortcut))
        .route("/roles/{grant}/saml-post", web::post().to(saml_post));
}

async fn idp_metadata(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .body(
            state
                .aws
                .idp_metadata(&format!("{}/login", state.public_url)),
        )
}

/// The grant as the rules decide it now, with the role maximum and the deciding rule's cap.
pub(crate) struct Picked {
    pub(crate) grant: Grant,
    role_maximum: u32,
    rule_cap: Option<u32>,
}

fn pick(state: &AppState, signed_in: &SignedIn, grant_id: &str) -> Option<Picked> {
    let rules = state.rules();
    let decision = rules.evaluate(&claims_of(&signed_in.session.identity));
    let grant = decision.grants.into_iter().find(|g| g.id == grant_id)?;
    let set = rules.rule_set();
    let role_maximum = set
        .roles
        .iter()
        .find(|r| r.arn == grant.role_arn)
        .map(|r| r.max_session_seconds)?;
    let rule_cap = set
        .rules
        .iter()
        .find(|r| r.id == grant.rule_id)
        .and_then(|r| r.max_session_seconds);
    Some(Picked {
        grant,
        role_maximum,
        rule_cap,
    })
}

/// What one issue produced, after its audit row is committed.
pub(crate) struct Delivered {
    pub(crate) outcome: IssueOutcome,
    pub(crate) picked: Picked,
    pub(crate) reference: String,
}

/// Issues credentials for `grant_id` and commits the audit row. Every refusal and failure is
/// audited too.
pub(crate) async fn issue(
    state: &AppState,
    req: &HttpRequest,
    signed_in: &SignedIn,
    grant_id: &str,
    requested_seconds: Option<u32>,
    purpose: EventKind,
    format: Format,
) -> Result<Delivered, AppError> {
    let reference = new_reference();
    let identity = &signed_in.session.identity;
    let meta = RequestMeta::of(req);
    let mut event = AuditEvent::new(purpose, Outcome::Rejected);
    event.idp = Some(identity.idp.clone());
    event.subject = Some(identity.subject.clone());
    event.groups = identity.groups.clone();
    event.source_ip = meta.source_ip;
    event.user_agent = meta.user_agent;

    let Some(picked) = pick(state, signed_in, grant_id) else {
        event.reason = Some(format!("no_grant: no rule grants {grant_id}"));
        audit_or_log(state, &reference, event).await;
        tracing::warn!(security = true, reference, subject = %identity.subject, grant_id, "credentials refused: no such grant");
        return Err(AppError::new(
            Kind::NotFound,
            format,
            reference,
            "You have no such role. It may have been removed; reload your roles.",
        ));
    };
    // The grant's access mode decides how AWS is reached.
    let outcome = state
        .aws
        .issue(
            &state.blocking,
            IssueRequest {
                identity,
                grant: &picked.grant,
                role_maximum: picked.role_maximum,
                rule_cap: picked.rule_cap,
                requested_seconds,
                now: state.clock.now(),
                upstream_id_token: signed_in.session.upstream_id_token.as_ref(),
            },
        )
        .await;
    let mut details = serde_json::json!({
        "grant": picked.grant.id,
        "role_arn": picked.grant.role_arn,
        "rule": picked.grant.rule_id,
        "requested_seconds": requested_seconds,
        "mode": picked.grant.access.mode.as_str(),
    });
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            // AWS's own words (code, message, request id) stay in the row and the log line.
            event.reason = Some(format!("{}: {}", e.code(), e.detail()));
            let words = e.aws_words();
            if let (Some(map), Some(words)) = (details.as_object_mut(), words) {
                map.insert("aws_error".into(), serde_json::json!(words));
            }
            event.details = details;
            audit_or_log(state, &reference, event).await;
            tracing::warn!(
                reference,
                subject = %identity.subject,
                role = %picked.grant.role_arn,
                reason = e.code(),
                aws_code = words.map(|w| w.code.as_str()),
                aws_message = words.map(|w| w.message.as_str()),
                aws_request_id = words.and_then(|w| w.request_id.as_deref()),
                error = %e,
                "credentials not issued"
            );
            let kind = match e.class() {
                IssueErrorClass::Refused => Kind::BadRequest,
                IssueErrorClass::SignInAgain => Kind::SignInTooOld,
                IssueErrorClass::WrongSignIn => Kind::WrongSignIn,
                IssueErrorClass::Retired => Kind::AccessModeRetired,
                IssueErrorClass::NotTrusted => Kind::AwsNotTrusted,
                IssueErrorClass::AwsRefused => Kind::AwsRefused,
                IssueErrorClass::Configuration => Kind::Internal,
                IssueErrorClass::AwsBusy => Kind::AwsBusy,
                IssueErrorClass::Unavailable => Kind::Unavailable,
            };
            return Err(AppError::new(
                kind,
                format,
                reference,
                crate::http::public_messages::issue_error(&e),
            ));
        }
    };
    if let Some(map) = details.as_object_mut() {
        map.insert("mode".into(), outcome.mode.into());
        map.insert("duration_seconds".into(), outcome.duration.seconds().into());
        map.insert(
            "duration_decided_by".into(),
            outcome.duration.decided_by().as_str().into(),
        );
        map.insert(
            "role_session_name".into(),
            outcome.role_session_name.clone().into(),
        );
        map.insert(
            "source_identity".into(),
            outcome.source_identity.clone().into(),
        );
        map.insert(
            "sts_request_id".into(),
            outcome.issued.request_id.clone().into(),
        );
        map.insert(
            "access_key_id".into(),
            outcome.issued.credentials.access_key_id.clone().into(),
        );
        map.insert(
            "assumed_role_arn".into(),
            outcome.issued.assumed_role_arn.clone().into(),
        );
    }
    event.outcome = Outcome::Accepted;
    event.details = details;
    // No credential leaves Roleport unless this row is committed.
    if let Err(e) = db::audit::append(&state.pool, &reference, state.clock.now(), event).await {
        tracing::error!(reference, error = %e, access_key_id = %outcome.issued.credentials.access_key_id, "audit write failed: credentials withheld");
        return Err(AppError::new(
            Kind::Unavailable,
            format,
            reference,
            "Roleport could not record this request, so it issued nothing. Please try again in a moment.",
        ));
    }
    tracing::info!(reference, subject = %identity.subject, role = %picked.grant.role_arn, access_key_id = %outcome.issued.credentials.access_key_id, duration = outcome.duration.seconds(), "credentials issued");
    Ok(Delivered {
        outcome,
        picked,
        reference,
    })
}

async fn audit_or_log(state: &AppState, reference: &str, event: AuditEvent) {
    if let Err(e) = db::audit::append(&state.pool, reference, state.clock.now(), event).await {
        tracing::error!(reference, error = %e, "audit write failed");
    }
}

#[derive(Deserialize)]
struct CredentialsRequest {
    grant: String,
    duration_seconds: Option<u32>,
}

async fn api_credentials(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInWithCsrf { signed_in, body }: SignedInWithCsrf<web::Bytes>,
) -> Result<HttpResponse, AppError> {
    let request: CredentialsRequest =
        crate::http::errors::json_body(&body, r#"{"grant": "<id>", "duration_seconds": N}"#)?;
    let d = issue(
        &state,
        &req,
        &signed_in,
        &request.grant,
        request.duration_seconds,
        EventKind::CredentialsIssued,
        Format::Json,
    )
    .await?;
    let c = &d.outcome.issued.credentials;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "Version": 1,
        "AccessKeyId": c.access_key_id,
        "SecretAccessKey": c.secret_access_key,
        "SessionToken": c.session_token,
        "Expiration": c.expiration.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "AssumedRoleArn": d.outcome.issued.assumed_role_arn,
        "DurationSeconds": d.outcome.duration.seconds(),
        "Reference": d.reference,
    })))
}

#[derive(Deserialize)]
struct CredentialsForm {
    csrf_token: Option<String>,
    duration_seconds: Option<String>,
}

const BACK_TO_ROLES: &str = "This form has expired. Go back to your roles and try again.";

impl CsrfForm for CredentialsForm {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
    const EXPIRED: &'static str = BACK_TO_ROLES;
}

async fn credentials_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    SignedInWithCsrf {
        signed_in,
        body: form,
    }: SignedInWithCsrf<web::Form<CredentialsForm>>,
) -> Result<HttpResponse, AppError> {
    let requested = form
        .duration_seconds
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>())
        .transpose()
        .map_err(|_| {
            AppError::new(
                Kind::BadRequest,
                Format::Html,
                new_reference(),
                "The session length must be a number of seconds.",
            )
        })?;
    let d = issue(
        &state,
        &req,
        &signed_in,
        &path,
        requested,
        EventKind::CredentialsIssued,
        Format::Html,
    )
    .await?;
    let c = &d.outcome.issued.credentials;
    let profile = d.picked.grant.id.clone();
    let page = CredentialsPage {
        role_name: d.picked.grant.role_name.clone(),
        account_alias: d.picked.grant.account_alias.clone(),
        account_id: d.picked.grant.account_id.clone(),
        assumed_role_arn: d.outcome.issued.assumed_role_arn.clone(),
        expiration: c
            .expiration
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        shell: shell_exports(c),
        credentials_file: credentials_file_profile(&profile, c).unwrap_or_default(),
        powershell: powershell(c),
        credential_process: credential_process_json(c),
        reference: d.reference.clone(),
        csrf_token: signed_in.session.csrf_token.clone(),
    };
    Ok(page.respond_to(&req).map_into_boxed_body())
}

#[derive(Deserialize)]
struct ConsoleForm {
    csrf_token: Option<String>,
    #[serde(flatten)]
    destination: Destination,
}

impl CsrfForm for ConsoleForm {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
    const EXPIRED: &'static str = BACK_TO_ROLES;
}

/// Where in the console to land: a service, a region and a path on the partition's console.
/// `destination` may carry them as one relative URL (`s3/home?region=eu-west-1`), the form a
/// bookmark keeps; only `region` is accepted in its query.
#[derive(Deserialize, Default)]
struct Destination {
    destination: Option<String>,
    service: Option<String>,
    region: Option<String>,
}

fn destination_url(
    state: &AppState,
    grant: &Grant,
    d: &Destination,
    reference: &str,
) -> Result<String, AppError> {
    let bad = |msg: String| AppError::new(Kind::BadRequest, Format::Html, reference, msg);
    let endpoints = state.aws.endpoints(grant.partition).ok_or_else(|| {
        AppError::new(
            Kind::Internal,
            Format::Html,
            reference,
            "No console is configured for this partition.",
        )
    })?;
    let raw = d.destination.as_deref().filter(|s| !s.is_empty());
    let (path, mut region) = match raw.map(|r| r.split_once('?').unwrap_or((r, ""))) {
        None => (None, None),
        Some((path, query)) => {
            let mut region = None;
            for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
                if k != "region" || region.is_some() {
                    return Err(bad(format!(
                        "the console destination may only carry ?region=, not {k}"
                    )));
                }
                region = Some(v.into_owned());
            }
            let path = path.strip_prefix('/').unwrap_or(path);
            ((!path.is_empty()).then_some(path), region)
        }
    };
    if let Some(r) = d.region.as_deref().filter(|r| !r.is_empty()) {
        region = Some(r.to_string());
    }
    let service = d.service.as_deref().filter(|s| !s.is_empty());
    console_destination(&endpoints.console, service, region.as_deref(), path)
        .map(|u| u.to_string())
        .map_err(|e| bad(e.to_string()))
}

async fn console(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    SignedInWithCsrf {
        signed_in,
        body: form,
    }: SignedInWithCsrf<web::Form<ConsoleForm>>,
) -> Result<HttpResponse, AppError> {
    let Some(picked) = pick(&state, &signed_in, &path) else {
        return Err(AppError::new(
            Kind::NotFound,
            Format::Html,
            new_reference(),
            "You have no such role.",
        ));
    };
    // Validate the destination before anything is issued.
    let destination = destination_url(&state, &picked.grant, &form.destination, &new_reference())?;
    let d = issue(
        &state,
        &req,
        &signed_in,
        &path,
        None,
        EventKind::ConsoleLink,
        Format::Html,
    )
    .await?;
    let endpoints = state
        .aws
        .endpoints(d.picked.grant.partition)
        .ok_or_else(|| {
            AppError::new(
                Kind::Internal,
                Format::Html,
                d.reference.clone(),
                "No console is configured.",
            )
        })?;
    let unavailable = |e: String| {
        tracing::error!(reference = %d.reference, error = %e, "console sign-in link failed");
        AppError::new(
            Kind::Unavailable,
            Format::Html,
            d.reference.clone(),
            "The AWS sign-in service did not answer as expected. Please try again.",
        )
    };
    let session_duration = d
        .outcome
        .kind
        .allows_console_session_duration()
        .then(|| d.outcome.duration.seconds());
    let request = signin_token_url(
        &endpoints.federation,
        &d.outcome.issued.credentials,
        d.outcome.kind,
        session_duration,
    )
    .map_err(|e| unavailable(e.to_string()))?;
    let token = federation::signin_token(&state.aws.http, request)
        .await
        .map_err(|e| unavailable(format!("{}: {e}", e.code())))?;
    let url = login_url(
        &endpoints.federation,
        &state.public_url,
        &destination,
        &token,
    )
    .map_err(|e| unavailable(e.to_string()))?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", url.to_string()))
        .finish())
}

/// A bookmarkable link: signs in first if needed, then asks for one click (a CSRF-protected
/// form), because a GET must never issue credentials.
async fn console_shortcut(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<Destination>,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    let Some(signed_in) = signed_in else {
        let here = match req.uri().path_and_query() {
            Some(pq) => pq.as_str().to_string(),
            None => req.path().to_string(),
        };
        return Ok(HttpResponse::SeeOther()
            .insert_header((
                "Location",
                format!("/login?return_to={}", urlencoding::encode(&here)),
            ))
            .finish());
    };
    let Some(picked) = pick(&state, &signed_in, &path) else {
        return Err(AppError::new(
            Kind::NotFound,
            Format::Html,
            new_reference(),
            "You have no such role.",
        ));
    };
    let shown = destination_url(&state, &picked.grant, &query, &new_reference())?;
    let destination = query.destination.clone().unwrap_or_default();
    Ok(ConsoleConfirmPage {
        grant_id: picked.grant.id.clone(),
        role_name: picked.grant.role_name.clone(),
        display_name: picked.grant.display_name.clone(),
        account_alias: picked.grant.account_alias.clone(),
        account_id: picked.grant.account_id.clone(),
        destination,
        service: query.service.clone().unwrap_or_default(),
        region: query.region.clone().unwrap_or_default(),
        destination_url: shown,
        csrf_token: signed_in.session.csrf_token.clone(),
    }
    .respond_to(&req)
    .map_into_boxed_body())
}

/// Console-only sign-in through AWS's own SAML endpoint: Roleport signs a Response for exactly
/// this role and the browser posts it to AWS, which then runs the console session itself. No
/// STS call, no credentials in Roleport's hands; the audit row is committed before the page.
async fn saml_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    SignedInWithCsrf { signed_in, body: _ }: SignedInWithCsrf<web::Form<CredentialsForm>>,
) -> Result<HttpResponse, AppError> {
    let reference = new_reference();
    let identity = &signed_in.session.identity;
    let meta = RequestMeta::of(&req);
    let mut event = AuditEvent::new(EventKind::ConsoleSamlPost, Outcome::Rejected);
    event.idp = Some(identity.idp.clone());
    event.subject = Some(identity.subject.clone());
    event.groups = identity.groups.clone();
    event.source_ip = meta.source_ip;
    event.user_agent = meta.user_agent;
    let Some(picked) = pick(&state, &signed_in, &path) else {
        event.reason = Some(format!("no_grant: no rule grants {}", path.as_str()));
        audit_or_log(&state, &reference, event).await;
        return Err(AppError::new(
            Kind::NotFound,
            Format::Html,
            reference,
            "You have no such role.",
        ));
    };
    if picked.grant.access.mode != crate::protocol::mapping::AccessMode::SamlBroker {
        event.reason = Some("mode: console SAML POST needs saml_broker".into());
        audit_or_log(&state, &reference, event).await;
        return Err(AppError::new(
            Kind::BadRequest,
            Format::Html,
            reference,
            "This role is not reached through Roleport's own SAML identity, so AWS's sign-in page cannot be used for it.",
        ));
    }
    let request = IssueRequest {
        identity,
        grant: &picked.grant,
        role_maximum: picked.role_maximum,
        rule_cap: picked.rule_cap,
        requested_seconds: None,
        now: state.clock.now(),
        upstream_id_token: None,
    };
    let signed = match state
        .aws
        .sign_broker_response(&state.blocking, &request)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            event.reason = Some(format!("{}: {e}", e.code()));
            audit_or_log(&state, &reference, event).await;
            tracing::warn!(reference, reason = e.code(), error = %e, "SAML POST not signed");
            return Err(AppError::new(
                Kind::Unavailable,
                Format::Html,
                reference,
                crate::http::public_messages::issue_error(&e),
            ));
        }
    };
    event.outcome = Outcome::Accepted;
    event.details = serde_json::json!({
        "grant": picked.grant.id,
        "role_arn": picked.grant.role_arn,
        "rule": picked.grant.rule_id,
        "mode": "saml_broker",
        "delivery": "console_saml_post",
        "response_id": signed.signed.response_id,
        "duration_seconds": signed.duration.seconds(),
        "role_session_name": signed.role_session_name,
        "recipient": signed.recipient,
    });
    if let Err(e) = db::audit::append(&state.pool, &reference, state.clock.now(), event).await {
        tracing::error!(reference, error = %e, "audit write failed: SAML POST withheld");
        return Err(AppError::new(
            Kind::Unavailable,
            Format::Html,
            reference,
            "Roleport could not record this request, so it issued nothing. Please try again in a moment.",
        ));
    }
    let origin = url::Url::parse(&signed.recipient)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let page = SamlPostPage {
        role_name: picked.grant.display_name.clone(),
        account_alias: picked.grant.account_alias.clone(),
        recipient: signed.recipient.clone(),
        saml_response: signed.signed.saml_response.clone(),
        reference,
    };
    let body = askama::Template::render(&page).map_err(|e| {
        let reference = new_reference();
        tracing::error!(reference, error = %e, "SAML POST page not rendered");
        AppError::new(
            Kind::Internal,
            Format::Html,
            reference,
            "Roleport could not show this page. Please try again.",
        )
    })?;
    // This one page may post to AWS's sign-in endpoint; every other page only to Roleport.
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            format!(
                "default-src 'none'; style-src 'self'; script-src 'self'; form-action {origin}; frame-ancestors 'none'; base-uri 'none'"
            ),
        ))
        .body(body))
}
