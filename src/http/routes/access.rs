//! "My access": the signed-in person's own audit rows (sign-ins, credentials and console
//! sessions, checks), newest first, keyset-paginated by the row number (`?before=<seq>`), so a
//! page never shifts or repeats when new rows arrive. Rows are chosen by the session's IdP and
//! subject, exactly as signed: nobody else's appear.

use super::session::MaybeSignedIn;
use crate::audit::new_reference;
use crate::db;
use crate::db::own_activity::ActivityRow;
use crate::http::AppState;
use crate::http::errors::{AppError, Format, Kind};
use crate::http::views::{AccessPage, ActivityView, human_duration};
use crate::protocol::mapping::{Grant, RoleArn};
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Rows per page.
pub const PAGE_ROWS: i64 = 25;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/access", web::get().to(access_page));
}

#[derive(Deserialize)]
struct PageQuery {
    before: Option<i64>,
}

fn what(kind: &str) -> &'static str {
    match kind {
        "sign_in" => "Signed in",
        "sign_out" => "Signed out",
        "credentials_issued" => "Credentials issued",
        "console_link" => "Console session",
        "console_saml_post" => "Console via AWS sign-in page",
        "credentials_check" => "Check: credentials issued",
        "caller_identity_checked" => "Check: AWS answered",
        "authorization_message_decoded" => "Decoded an AWS message",
        "roles_listed" => "Listed roles",
        _ => "Other",
    }
}

fn outcome(o: &str) -> (bool, &'static str) {
    match o {
        "accepted" => (true, "Done"),
        "no_roles" => (false, "No roles"),
        _ => (false, "Refused"),
    }
}

fn view(row: ActivityRow, held: &BTreeMap<&str, &Grant>) -> ActivityView {
    let grant = row.grant.as_deref().and_then(|g| held.get(g));
    // A role still held is named as the picker names it; one no longer held by its ARN.
    let (role, account) = match (grant, row.role_arn.as_deref()) {
        (Some(g), _) => (
            Some(format!("{} ({})", g.display_name, g.role_name)),
            Some(format!("{} {}", g.account_alias, g.account_id)),
        ),
        (None, Some(arn)) => match RoleArn::parse(arn) {
            Some(a) => (Some(a.name.to_owned()), Some(a.account_id.to_owned())),
            None => (Some(arn.to_owned()), None),
        },
        (None, None) => (row.grant.clone(), None),
    };
    let (ok, outcome) = outcome(&row.outcome);
    ActivityView {
        at: row.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        what: what(&row.kind),
        role,
        account,
        ok,
        outcome,
        source_ip: row.source_ip.unwrap_or_default(),
        access_key_id: row.access_key_id,
        duration: row
            .duration_seconds
            .and_then(|s| u32::try_from(s).ok())
            .map(human_duration),
        reference: row.reference,
    }
}

async fn access_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: Option<web::Query<PageQuery>>,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    let Some(signed_in) = signed_in else {
        return Ok(HttpResponse::SeeOther()
            .insert_header(("Location", "/login?return_to=%2Faccess"))
            .finish());
    };
    let before = query.and_then(|q| q.before);
    let identity = &signed_in.session.identity;
    let (rows, more) = db::own_activity::page(
        &state.pool,
        &identity.idp,
        &identity.subject,
        before,
        PAGE_ROWS,
    )
    .await
    .map_err(|e| {
        let reference = new_reference();
        tracing::error!(reference, error = %e, "own activity could not be read");
        AppError::new(
            Kind::Unavailable,
            Format::Html,
            reference,
            "Your activity could not be read just now. Please try again.",
        )
    })?;
    let older = if more {
        rows.last().map(|r| r.seq)
    } else {
        None
    };
    let decision = state.rules().evaluate(&super::acs::claims_of(identity));
    let held: BTreeMap<&str, &Grant> = decision.grants.iter().map(|g| (g.id.as_str(), g)).collect();
    let person = identity
        .display_name
        .clone()
        .or_else(|| identity.email.clone())
        .unwrap_or_else(|| identity.subject.clone());
    Ok(AccessPage {
        session_ends: crate::http::views::SessionEnds::at(signed_in.session.expires_at),
        person,
        idp: identity.idp.clone(),
        csrf_token: signed_in.session.csrf_token.clone(),
        rows: rows.into_iter().map(|r| view(r, &held)).collect(),
        older,
        paged: before.is_some(),
    }
    .respond_to(&req)
    .map_into_boxed_body())
}
