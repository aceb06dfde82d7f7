//! `GET /saml/metadata`: Roleport's SP metadata.

use crate::http::AppState;
use crate::protocol::saml::metadata::SpMetadata;
use actix_web::{HttpResponse, web};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/saml/metadata", web::get().to(sp_metadata));
}

async fn sp_metadata(state: web::Data<AppState>) -> HttpResponse {
    let xml = SpMetadata {
        entity_id: &state.sp.entity_id,
        acs_url: &state.sp.acs_url,
        certificate: state.sp.cert_der.as_deref(),
        sign_requests: state.all_idps().iter().any(|i| i.sign_requests),
    }
    .to_xml();
    HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .body(xml)
}
