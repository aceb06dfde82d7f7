//! `/healthz` (the process answers), `/readyz` (database reachable, IdP metadata fresh), and
//! `/metrics`, which is served only on the separate `[metrics] listen` address.

use crate::http::AppState;
use actix_web::{HttpResponse, web};
use chrono::Duration;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

/// The metrics listener's only route.
pub fn configure_metrics(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Far above a healthy ping, below a load balancer's check timeout (HAProxy's is 2 s in
/// deploy/fleet): a database that does not answer makes the replica "not ready" at once, rather
/// than the check waiting out the pool's 5 s acquire timeout and timing out itself.
const DATABASE_PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ping = sqlx::query("SELECT 1").execute(&state.pool);
    let database = matches!(
        tokio::time::timeout(DATABASE_PING_TIMEOUT, ping).await,
        Ok(Ok(_))
    );
    let now = state.clock.now();
    let mut stale = Vec::new();
    for settings in &state.settings.idps {
        let Some(saml) = settings.saml().filter(|s| s.metadata_url.is_some()) else {
            continue;
        };
        let limit = Duration::seconds(
            i64::try_from(saml.metadata_refresh_seconds.saturating_mul(2)).unwrap_or(i64::MAX / 2),
        );
        let fresh = state
            .idp(&settings.id)
            .and_then(|i| i.refreshed_at)
            .is_some_and(|at| now - at <= limit);
        if !fresh {
            stale.push(settings.id.clone());
        }
    }
    let ready = database && stale.is_empty();
    // Reported, not failed on: such a rule grants nothing (it applies to no IdP), and taking
    // every replica out of the load balancer would turn an inert rule into an outage.
    let rules = state.rules();
    let without_idp = rules.rules_without_idp();
    let body = serde_json::json!({
        "ready": ready,
        "database": database,
        "stale_idp_metadata": stale,
        "rules_without_idp": without_idp,
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    match state.metrics.render() {
        Ok(text) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4")
            .body(text),
        Err(e) => {
            tracing::error!(error = %e, "metrics rendering failed");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}
