//! Roleport as the OpenID provider AWS trusts (`oidc_broker`): the discovery document and the
//! JWKS that the IAM OIDC provider (and STS, on AssumeRoleWithWebIdentity) fetch. Every signing
//! key is published, so a rotation overlaps: add the new key second, wait, then make it first.

use crate::http::state::AppState;
use crate::protocol::aws::jwks_document;
use actix_web::{HttpResponse, web};
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/openid-configuration",
        web::get().to(openid_configuration),
    )
    .route("/oidc/jwks.json", web::get().to(jwks));
}

async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    let issuer = &state.aws.oidc_issuer;
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/oidc/jwks.json"),
            "authorization_endpoint": format!("{issuer}/login"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "aud", "iss", "iat", "exp", "nbf", "jti"],
        }))
}

async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    match jwks_document(&state.aws.keys.current().oidc_keys()) {
        Ok(doc) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "public, max-age=300"))
            .content_type("application/jwk-set+json")
            .body(doc.to_string()),
        Err(e) => {
            tracing::error!(error = %e, "publishing the OIDC JWKS failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
