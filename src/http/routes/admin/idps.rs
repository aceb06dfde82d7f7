//! `/admin/idps`: each identity provider's trust (metadata source and age, signing
//! certificates with expiry, JWKS age) and activity (last sign-in, last refusal).

use super::{gated, html};
use crate::admin::capability::Area;
use crate::admin::certs::{WARN_DAYS, expiry, human_span};
use crate::configuration::IdpKind;
use crate::db;
use crate::http::AppState;
use crate::http::admin_views::{AdminIdpsPage, CertView, IdpView};
use crate::http::errors::AppError;
use crate::http::routes::session::MaybeSignedIn;
use crate::upstream::certificates;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/idps", web::get().to(list));
}

fn when(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    t.map_or_else(
        || "never".to_string(),
        |t| {
            format!(
                "{} ({} ago)",
                t.format("%Y-%m-%d %H:%M UTC"),
                human_span(now - t)
            )
        },
    )
}

async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    let admin = gated!(state, req, signed_in, Some(Area::Idps));
    let reference = admin
        .admin_action(&state, &req, "idps.list", serde_json::json!({}))
        .await?;
    let now = state.clock.now();
    let mut views = Vec::new();
    for settings in &state.settings.idps {
        let activity = db::admin_audit::idp_activity(
            &state.pool,
            &settings.id,
            now - chrono::Duration::hours(24),
        )
        .await
        .map_err(|e| super::db_unavailable(reference.clone(), "reading IdP activity", &e))?;
        let mut view = IdpView {
            id: settings.id.clone(),
            display_name: settings.display_name.clone(),
            kind: "SAML",
            source: String::new(),
            age: String::new(),
            certs: Vec::new(),
            last_accepted: when(activity.last_accepted, now),
            last_refused: when(activity.last_refused, now),
            refused_recently: activity.refused_recently,
            warn: false,
        };
        match &settings.kind {
            IdpKind::Saml(saml) => {
                view.source = match (&saml.metadata_url, &saml.metadata_file) {
                    (Some(url), _) => format!(
                        "metadata URL {url} (refreshed every {} s)",
                        saml.metadata_refresh_seconds
                    ),
                    (None, Some(file)) => format!("metadata file {}", file.display()),
                    (None, None) => "entity id and certificates in the settings".to_string(),
                };
                if !saml.signing_cert_files.is_empty() {
                    view.source.push_str(&format!(
                        ", plus {} pinned certificate file(s)",
                        saml.signing_cert_files.len()
                    ));
                }
                let idp = state.idp(&settings.id);
                view.age = match idp.as_ref().and_then(|i| i.refreshed_at) {
                    Some(t) => format!("metadata fetched {} ago", human_span(now - t)),
                    None if saml.metadata_url.is_some() => {
                        "metadata not fetched since start-up".to_string()
                    }
                    None => "read at start-up".to_string(),
                };
                for der in idp.iter().flat_map(|i| i.trust.certificates.iter()) {
                    let Some(f) = certificates::facts(der.der_data()) else {
                        continue;
                    };
                    let status = expiry(f.not_before, f.not_after, now);
                    view.warn |= status.is_problem();
                    view.certs.push(CertView {
                        subject: f.subject,
                        not_after: f.not_after.format("%Y-%m-%d").to_string(),
                        status: status.label().to_string(),
                        warn: status.is_problem(),
                        remaining: if f.not_after > now {
                            format!("{} left", human_span(f.not_after - now))
                        } else {
                            format!("{} ago", human_span(now - f.not_after))
                        },
                    });
                }
            }
            IdpKind::Oidc(oidc) => {
                view.kind = "OpenID Connect";
                let provider = state.oidc_provider(&settings.id);
                view.source = match &provider {
                    Some(p) => format!("issuer {} · JWKS {}", oidc.issuer, p.jwks_uri),
                    None => format!("issuer {} (not discovered)", oidc.issuer),
                };
                view.age = match provider.as_ref().and_then(|p| p.jwks_fetched_at()) {
                    Some(t) => format!("JWKS fetched {} ago", human_span(now - t)),
                    None => "JWKS not fetched".to_string(),
                };
            }
        }
        views.push(view);
    }
    Ok(html(
        StatusCode::OK,
        &AdminIdpsPage {
            nav: admin.nav(),
            idps: views,
            warn_days: WARN_DAYS,
        },
    ))
}
