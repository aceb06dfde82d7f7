//! The role picker: `/roles` (HTML) and `/api/v1/roles` (JSON), evaluated afresh per request from
//! the compiled rules so a rule change applies without signing in again.

use super::acs::claims_of;
use super::api_caller::ApiReader;
use super::session::MaybeSignedIn;
use crate::http::AppState;
use crate::http::errors::AppError;
use crate::http::views::{AccountView, NoRolesPage, RoleView, RolesPage, human_duration};
use crate::protocol::mapping::Grant;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use serde::Serialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/roles", web::get().to(roles_page))
        .route("/api/v1/roles", web::get().to(roles_api));
}

async fn roles_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    let Some(signed_in) = signed_in else {
        return Ok(HttpResponse::SeeOther()
            .insert_header(("Location", "/login?return_to=%2Froles"))
            .finish());
    };
    let identity = &signed_in.session.identity;
    let decision = state.rules().evaluate(&claims_of(identity));
    let person = identity
        .display_name
        .clone()
        .or_else(|| identity.email.clone())
        .unwrap_or_else(|| identity.subject.clone());
    let csrf_token = signed_in.session.csrf_token.clone();
    if decision.grants.is_empty() {
        let reference = signed_in.session.sign_in_reference.clone();
        tracing::info!(reference, idp = %identity.idp, subject = %identity.subject, groups = ?identity.groups, "no role granted");
        return Ok(NoRolesPage {
            person,
            idp: identity.idp.clone(),
            csrf_token,
            reference,
        }
        .respond_to(&req)
        .map_into_boxed_body());
    }
    let example_grant = decision
        .grants
        .first()
        .map(|g| g.id.clone())
        .unwrap_or_default();
    let mut accounts: Vec<AccountView> = Vec::new();
    for grant in &decision.grants {
        let view = RoleView {
            grant_id: grant.id.clone(),
            role_name: grant.role_name.clone(),
            display_name: grant.display_name.clone(),
            description: grant.description.clone(),
            max_session: human_duration(grant.max_session_seconds),
            saml_post: grant.access.mode == crate::protocol::mapping::AccessMode::SamlBroker,
        };
        match accounts.iter_mut().find(|a| a.id == grant.account_id) {
            Some(a) => a.roles.push(view),
            None => accounts.push(AccountView {
                alias: grant.account_alias.clone(),
                id: grant.account_id.clone(),
                roles: vec![view],
            }),
        }
    }
    Ok(RolesPage {
        person,
        idp: identity.idp.clone(),
        csrf_token,
        accounts,
        can_decode: decision
            .capabilities
            .contains(super::support::DECODE_CAPABILITY),
        public_url: state.public_url.clone(),
        example_grant,
    }
    .respond_to(&req)
    .map_into_boxed_body())
}

#[derive(Serialize)]
struct GrantJson<'a> {
    id: &'a str,
    account_id: &'a str,
    account_alias: &'a str,
    role_arn: &'a str,
    role_name: &'a str,
    description: &'a str,
    max_session_seconds: u32,
}

impl<'a> From<&'a Grant> for GrantJson<'a> {
    fn from(g: &'a Grant) -> Self {
        Self {
            id: &g.id,
            account_id: &g.account_id,
            account_alias: &g.account_alias,
            role_arn: &g.role_arn,
            role_name: &g.role_name,
            description: &g.description,
            max_session_seconds: g.max_session_seconds,
        }
    }
}

/// For the browser (cookie) and the CLI (`Authorization: Bearer`).
async fn roles_api(
    state: web::Data<AppState>,
    ApiReader(caller): ApiReader,
) -> Result<HttpResponse, AppError> {
    let decision = state.rules().evaluate(&claims_of(&caller.session.identity));
    let grants: Vec<GrantJson<'_>> = decision.grants.iter().map(GrantJson::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "grants": grants })))
}
