//! Support tools: decoding an AWS "encoded authorization failure message" with
//! DecodeAuthorizationMessage (only for people whose rules grant the
//! `decode-authorization-message` capability), and the credentials check: fresh credentials
//! issued the normal way, then GetCallerIdentity with them.
//!
//! Every use and every refusal is audited. Decoding runs with Roleport's own AWS credentials;
//! the check's credentials are used once and never handed out.

use super::acs::claims_of;
use super::session::{CsrfForm, MaybeSignedIn, SignedIn, SignedInWithCsrf};
use crate::audit::{AuditEvent, EventKind, Outcome, new_reference};
use crate::aws::sts_support::{
    DecodedAuthorizationMessage, EnvCredentials, SupportError, normalize_encoded_message,
};
use crate::db;
use crate::http::AppState;
use crate::http::errors::{AppError, Format, Kind};
use crate::http::request_meta::RequestMeta;
use crate::http::views::{
    ConditionView, CredentialsCheckPage, DecodedView, ErrorPage, PartitionOption, SupportDecodePage,
};
use crate::protocol::mapping::Partition;
use crate::service::issue::{self, Delivered};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use askama::Template;
use serde::Deserialize;

/// The capability an allow rule grants (`capabilities: [decode-authorization-message]`).
pub(crate) const DECODE_CAPABILITY: &str = "decode-authorization-message";

/// The check's credentials are thrown away after one call: ask for the shortest AWS allows.
const CHECK_SECONDS: u32 = 900;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/support/decode", web::get().to(decode_form))
        .route("/support/decode", web::post().to(decode))
        .route("/roles/{grant}/check", web::post().to(check_page))
        .route("/api/v1/credentials/check", web::post().to(check_api));
}

fn event_for(kind: EventKind, signed_in: &SignedIn, req: &HttpRequest) -> AuditEvent {
    let identity = &signed_in.session.identity;
    let meta = RequestMeta::of(req);
    let mut event = AuditEvent::new(kind, Outcome::Rejected);
    event.idp = Some(identity.idp.clone());
    event.subject = Some(identity.subject.clone());
    event.groups = identity.groups.clone();
    event.source_ip = meta.source_ip;
    event.user_agent = meta.user_agent;
    event
}

async fn audit_or_log(state: &AppState, reference: &str, event: AuditEvent) {
    if let Err(e) = db::audit::append(&state.pool, reference, state.clock.now(), event).await {
        tracing::error!(reference, error = %e, "audit write failed");
    }
}

fn html_page(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "page rendering failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("Something went wrong.")
        }
    }
}

/// Whether the rules, as they stand now, grant this person the decode capability.
fn may_decode(state: &AppState, signed_in: &SignedIn) -> bool {
    state
        .rules()
        .evaluate(&claims_of(&signed_in.session.identity))
        .capabilities
        .contains(DECODE_CAPABILITY)
}

/// A 403 page with a reference, and an audit row saying who was refused.
async fn refuse_decode(state: &AppState, req: &HttpRequest, signed_in: &SignedIn) -> HttpResponse {
    let reference = new_reference();
    let mut event = event_for(EventKind::AuthorizationMessageDecoded, signed_in, req);
    event.reason = Some(format!(
        "no_capability: no applying rule grants {DECODE_CAPABILITY}"
    ));
    event.details = serde_json::json!({ "capability": DECODE_CAPABILITY, "path": req.path() });
    audit_or_log(state, &reference, event).await;
    tracing::warn!(security = true, reference, subject = %signed_in.session.identity.subject, "support tool refused: no decode capability");
    let nav = signed_in.nav();
    html_page(
        StatusCode::FORBIDDEN,
        &ErrorPage {
            title: "Not allowed",
            message: "Decoding AWS authorization messages is only for people whose access rules grant it. If you need it, ask your platform team and quote the reference below.",
            asked_for: Some("You asked to decode an AWS authorization message."),
            reference: &reference,
            show_login: false,
            nav: Some(&nav),
            back_href: "/roles",
            back_label: "Back to your roles",
        },
    )
}

fn partition_options(selected: Partition) -> Vec<PartitionOption> {
    Partition::ALL
        .iter()
        .map(|p| PartitionOption {
            value: p.as_str().to_string(),
            selected: *p == selected,
        })
        .collect()
}

fn decode_page(signed_in: &SignedIn, partition: Partition, encoded: String) -> SupportDecodePage {
    SupportDecodePage {
        person: signed_in.person(),
        idp: signed_in.session.identity.idp.clone(),
        csrf_token: signed_in.session.csrf_token.clone(),
        partitions: partition_options(partition),
        encoded,
        problem: None,
        decoded: None,
        reference: None,
    }
}

async fn decode_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    let Some(signed_in) = signed_in else {
        return Ok(HttpResponse::SeeOther()
            .insert_header(("Location", "/login?return_to=%2Fsupport%2Fdecode"))
            .finish());
    };
    if !may_decode(&state, &signed_in) {
        return Ok(refuse_decode(&state, &req, &signed_in).await);
    }
    Ok(decode_page(&signed_in, Partition::Aws, String::new())
        .respond_to(&req)
        .map_into_boxed_body())
}

#[derive(Deserialize)]
struct DecodeForm {
    csrf_token: Option<String>,
    encoded_message: Option<String>,
    partition: Option<String>,
}

impl CsrfForm for DecodeForm {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
}

fn decoded_view(d: &DecodedAuthorizationMessage) -> DecodedView {
    let yes_no = |b: Option<bool>, yes: &str, no: &str| match b {
        Some(true) => yes.to_string(),
        Some(false) => no.to_string(),
        None => "Not stated".to_string(),
    };
    DecodedView {
        verdict: yes_no(d.facts.allowed, "Allowed", "Denied"),
        explicit_deny: yes_no(d.facts.explicit_deny, "Yes", "No"),
        action: d.facts.action.clone(),
        resource: d.facts.resource.clone(),
        principal: d.facts.principal.clone(),
        conditions: d
            .facts
            .conditions
            .iter()
            .map(|(key, values)| ConditionView {
                key: key.clone(),
                values: values.join(", "),
            })
            .collect(),
        pretty_json: d.pretty.clone(),
        sts_request_id: d.request_id.clone().unwrap_or_default(),
    }
}

async fn decode(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInWithCsrf {
        signed_in,
        body: form,
    }: SignedInWithCsrf<web::Form<DecodeForm>>,
) -> Result<HttpResponse, AppError> {
    if !may_decode(&state, &signed_in) {
        return Ok(refuse_decode(&state, &req, &signed_in).await);
    }
    let reference = new_reference();
    let subject = signed_in.session.identity.subject.clone();
    let mut event = event_for(EventKind::AuthorizationMessageDecoded, &signed_in, &req);
    let submitted = form.encoded_message.clone().unwrap_or_default();
    let requested_partition = form
        .partition
        .as_deref()
        .filter(|p| !p.is_empty())
        .unwrap_or("aws");
    let parsed_partition = requested_partition.parse::<Partition>().ok();
    let mut page = decode_page(
        &signed_in,
        parsed_partition.unwrap_or(Partition::Aws),
        submitted.clone(),
    );
    page.reference = Some(reference.clone());
    let mut details = serde_json::json!({
        "partition": parsed_partition.map_or("invalid", Partition::as_str),
        "message_chars": submitted.chars().count(),
    });
    let result = decode_with(&state, parsed_partition, &submitted, &mut details).await;
    let decoded = match result {
        Ok(d) => d,
        Err(e) => {
            event.reason = Some(format!("{}: {}", e.code(), e.detail()));
            event.details = details;
            audit_or_log(&state, &reference, event).await;
            tracing::warn!(reference, subject, reason = e.code(), error = %e.detail(), "authorization message not decoded");
            if e.is_bad_input() {
                page.problem = Some(e.to_string());
                return Ok(html_page(StatusCode::BAD_REQUEST, &page));
            }
            let message = crate::http::public_messages::support_error(&e);
            return Err(AppError::new(
                crate::http::public_messages::support_kind(&e),
                Format::Html,
                reference,
                message,
            ));
        }
    };
    if let Some(map) = details.as_object_mut() {
        map.insert("sts_request_id".into(), decoded.request_id.clone().into());
        map.insert("allowed".into(), decoded.facts.allowed.into());
        map.insert("explicit_deny".into(), decoded.facts.explicit_deny.into());
        map.insert("action".into(), decoded.facts.action.clone().into());
        map.insert("resource".into(), decoded.facts.resource.clone().into());
    }
    event.outcome = Outcome::Accepted;
    event.details = details;
    // Nothing is shown unless the audit row is committed.
    if let Err(e) = db::audit::append(&state.pool, &reference, state.clock.now(), event).await {
        tracing::error!(reference, error = %e, "audit write failed: decoded message withheld");
        return Err(AppError::new(
            Kind::Unavailable,
            Format::Html,
            reference,
            "Roleport could not record this request, so it shows nothing. Please try again in a moment.",
        ));
    }
    tracing::info!(reference, subject, action = ?decoded.facts.action, "authorization message decoded");
    page.decoded = Some(decoded_view(&decoded));
    page.encoded = String::new();
    Ok(html_page(StatusCode::OK, &page))
}

/// Checks the input, finds Roleport's own credentials and asks STS.
async fn decode_with(
    state: &AppState,
    partition: Option<Partition>,
    submitted: &str,
    details: &mut serde_json::Value,
) -> Result<DecodedAuthorizationMessage, SupportError> {
    let partition = partition.ok_or_else(|| {
        SupportError::BadMessage("Choose the partition: aws, aws-cn or aws-us-gov.".into())
    })?;
    let message = normalize_encoded_message(submitted)?;
    let own = EnvCredentials::from_env()?;
    if let Some(map) = details.as_object_mut() {
        map.insert("own_access_key_id".into(), own.access_key_id().into());
    }
    state
        .aws
        .sts
        .decode_authorization_message(partition, &own, &message)
        .await
}

/// What the check found, after its audit row.
struct Checked {
    delivered: Delivered,
    identity: crate::aws::sts_support::CallerIdentity,
    matches: bool,
}

/// Issues credentials for the grant the normal way (audited as a check), runs GetCallerIdentity
/// with them, and audits the answer under the same reference.
async fn run_check(
    state: &AppState,
    req: &HttpRequest,
    signed_in: &SignedIn,
    grant_id: &str,
    format: Format,
) -> Result<Checked, AppError> {
    let delivered = issue::issue(
        state,
        &RequestMeta::of(req),
        &signed_in.session,
        grant_id,
        Some(CHECK_SECONDS),
        EventKind::CredentialsCheck,
    )
    .await
    .map_err(|e| AppError::from_service(e, format))?;
    let reference = delivered.reference.clone();
    let grant = &delivered.picked.grant;
    let issued = &delivered.outcome.issued;
    let mut event = event_for(EventKind::CallerIdentityChecked, signed_in, req);
    let mut details = serde_json::json!({
        "grant": grant.id,
        "role_arn": grant.role_arn,
        "partition": grant.partition.as_str(),
        "access_key_id": issued.credentials.access_key_id,
        "assumed_role_arn": issued.assumed_role_arn,
    });
    match state
        .aws
        .sts
        .caller_identity(grant.partition, &issued.credentials)
        .await
    {
        Ok(identity) => {
            let matches = identity.arn == issued.assumed_role_arn;
            if let Some(map) = details.as_object_mut() {
                map.insert("caller_arn".into(), identity.arn.clone().into());
                map.insert("caller_account".into(), identity.account.clone().into());
                map.insert("caller_user_id".into(), identity.user_id.clone().into());
                map.insert("matches".into(), matches.into());
                map.insert("sts_request_id".into(), identity.request_id.clone().into());
            }
            event.outcome = Outcome::Accepted;
            if !matches {
                event.reason = Some(format!(
                    "check_mismatch: GetCallerIdentity names {} for credentials issued as {}",
                    identity.arn, issued.assumed_role_arn
                ));
            }
            event.details = details;
            audit_or_log(state, &reference, event).await;
            tracing::info!(reference, arn = %identity.arn, matches, "credentials checked");
            Ok(Checked {
                delivered,
                identity,
                matches,
            })
        }
        Err(e) => {
            event.reason = Some(format!("{}: {}", e.code(), e.detail()));
            event.details = details;
            audit_or_log(state, &reference, event).await;
            tracing::warn!(reference, reason = e.code(), error = %e.detail(), "credentials check failed");
            Err(AppError::new(
                crate::http::public_messages::sts_kind(&e),
                format,
                reference,
                format!(
                    "Credentials were issued, but AWS could not confirm them: {}",
                    crate::http::public_messages::sts_error(&e)
                ),
            ))
        }
    }
}

#[derive(Deserialize)]
struct CheckForm {
    csrf_token: Option<String>,
}

impl CsrfForm for CheckForm {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
}

async fn check_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    SignedInWithCsrf { signed_in, .. }: SignedInWithCsrf<web::Form<CheckForm>>,
) -> Result<HttpResponse, AppError> {
    let c = run_check(&state, &req, &signed_in, &path, Format::Html).await?;
    let grant = &c.delivered.picked.grant;
    let page = CredentialsCheckPage {
        person: signed_in.person(),
        idp: signed_in.session.identity.idp.clone(),
        role_name: crate::http::views::role_label(&grant.display_name, &grant.role_name),
        account_alias: grant.account_alias.clone(),
        account_id: grant.account_id.clone(),
        arn: c.identity.arn.clone(),
        account: c.identity.account.clone(),
        user_id: c.identity.user_id.clone(),
        assumed_role_arn: c.delivered.outcome.issued.assumed_role_arn.clone(),
        matches: c.matches,
        access_key_id: c.delivered.outcome.issued.credentials.access_key_id.clone(),
        reference: c.delivered.reference.clone(),
        csrf_token: signed_in.session.csrf_token.clone(),
    };
    Ok(page.respond_to(&req).map_into_boxed_body())
}

#[derive(Deserialize)]
struct CheckRequest {
    grant: String,
}

async fn check_api(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInWithCsrf { signed_in, body }: SignedInWithCsrf<web::Bytes>,
) -> Result<HttpResponse, AppError> {
    let request: CheckRequest = crate::http::errors::json_body(&body, r#"{"grant": "<id>"}"#)?;
    let c = run_check(&state, &req, &signed_in, &request.grant, Format::Json).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "Arn": c.identity.arn,
        "Account": c.identity.account,
        "UserId": c.identity.user_id,
        "AssumedRoleArn": c.delivered.outcome.issued.assumed_role_arn,
        "AccessKeyId": c.delivered.outcome.issued.credentials.access_key_id,
        "Matches": c.matches,
        "Reference": c.delivered.reference,
    })))
}
