//! Static files, embedded so the binary is self-contained.

use actix_web::{HttpResponse, web};

const CSS: &str = include_str!("../../../static/roleport.css");
const JS: &str = include_str!("../../../static/roleport.js");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/roleport.css", web::get().to(css))
        .route("/static/roleport.js", web::get().to(js))
        .route("/favicon.ico", web::get().to(favicon))
        .route("/", web::get().to(home));
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(CSS)
}

async fn home() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", "/roles"))
        .finish()
}

/// Browsers ask for it unprompted; an empty answer keeps their consoles and our 404 logs clean.
async fn favicon() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .finish()
}

async fn js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(JS)
}
