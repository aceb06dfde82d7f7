//! `/admin/audit`: search, one event, export (CSV, JSON Lines; streamed), the chain's state.

use super::{Admin, gated, html};
use crate::admin::capability::Area;
use crate::admin::csv;
use crate::admin::filter::{AuditFilter, AuditQuery};
use crate::audit::verify::{ChainStatus, VerifyOptions, verify};
use crate::audit::{EventKind, Outcome};
use crate::db;
use crate::db::admin_audit::AuditRow;
use crate::http::AppState;
use crate::http::admin_views::{
    AdminAuditPage, AdminChainPage, AdminEventPage, AuditFormView, AuditRowView, FieldView,
};
use crate::http::errors::{AppError, Format, Kind};
use crate::http::routes::session::MaybeSignedIn;
use crate::protocol::mapping::{self, Claims};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::PgPool;

const PAGE: i64 = 50;
/// Rows per database round trip while exporting.
const EXPORT_BATCH: i64 = 500;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/audit", web::get().to(search))
        .route("/admin/audit/events/{seq}", web::get().to(event))
        .route("/admin/audit/export.csv", web::get().to(export_csv))
        .route("/admin/audit/export.jsonl", web::get().to(export_jsonl))
        .route("/admin/audit/chain", web::get().to(chain));
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn unavailable(reference: String, e: &sqlx::Error) -> AppError {
    super::db_unavailable(reference, "admin audit query", e)
}

fn query_of(req: &HttpRequest) -> Result<AuditQuery, String> {
    web::Query::<AuditQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| format!("The search could not be read: {e}"))
}

fn form_of(q: &AuditQuery) -> AuditFormView {
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    AuditFormView {
        person: v(&q.person),
        idp: v(&q.idp),
        account: v(&q.account),
        role: v(&q.role),
        kind: v(&q.kind),
        outcome: v(&q.outcome),
        reason: v(&q.reason),
        from: v(&q.from),
        to: v(&q.to),
    }
}

/// The role an event names: the ARN of credential and console events.
fn role_of(row: &AuditRow) -> String {
    row.detail_str("role_arn").to_string()
}

fn row_view(row: &AuditRow) -> AuditRowView {
    AuditRowView {
        seq: row.seq,
        at: time(row.at),
        kind: match row.detail_str("action") {
            "" => row.field("kind").to_string(),
            action => format!("{} · {action}", row.field("kind")),
        },
        outcome: row.field("outcome").to_string(),
        person: row.field("subject").to_string(),
        idp: row.field("idp").to_string(),
        role: role_of(row),
        reason: row.field("reason").to_string(),
        reference: row.reference.clone(),
    }
}

const OUTCOMES: [(&str, &str); 4] = [
    ("", "Any"),
    ("accepted", "Accepted"),
    ("rejected", "Rejected"),
    ("no_roles", "No roles"),
];

fn page(admin: &Admin, form: AuditFormView) -> AdminAuditPage {
    AdminAuditPage {
        nav: admin.nav(),
        form,
        outcomes: OUTCOMES.to_vec(),
        problem: None,
        rows: Vec::new(),
        query: String::new(),
        next_href: None,
        first_page: true,
        chain: String::new(),
    }
}

/// One line on the chain's state without walking it (the chain page does that).
async fn chain_line(state: &AppState) -> String {
    let unsealed = db::audit::unsealed_count(&state.pool).await;
    let checkpoint = db::audit::newest_checkpoint(&state.pool).await;
    let now = state.clock.now();
    match (unsealed, checkpoint) {
        (Ok(unsealed), Ok(Some(cp))) => format!(
            "{unsealed} row(s) wait to be sealed; the newest checkpoint covers position {} ({} ago).",
            cp.pos,
            crate::admin::certs::human_span(now - cp.at)
        ),
        (Ok(unsealed), Ok(None)) => {
            format!("{unsealed} row(s) wait to be sealed; no checkpoint yet.")
        }
        _ => "The chain's state could not be read just now.".to_string(),
    }
}

async fn search(
    state: web::Data<AppState>,
    req: HttpRequest,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    let admin = gated!(state, req, signed_in, Some(Area::Audit));
    let q = match query_of(&req) {
        Ok(q) => q,
        Err(problem) => {
            admin
                .record(
                    &state,
                    &req,
                    EventKind::AdminAction,
                    Outcome::Rejected,
                    "audit.search",
                    serde_json::json!({ "problem": problem }),
                )
                .await?;
            let mut p = page(&admin, AuditFormView::default());
            p.problem = Some(problem);
            return Ok(html(StatusCode::BAD_REQUEST, &p));
        }
    };
    let mut p = page(&admin, form_of(&q));
    let filter = match AuditFilter::parse(&q) {
        Ok(f) => f,
        Err(e) => {
            admin
                .record(
                    &state,
                    &req,
                    EventKind::AdminAction,
                    Outcome::Rejected,
                    "audit.search",
                    serde_json::json!({ "problem": e.to_string() }),
                )
                .await?;
            p.problem = Some(format!("Nothing was searched: {e}."));
            return Ok(html(StatusCode::BAD_REQUEST, &p));
        }
    };
    let reference = admin
        .admin_action(
            &state,
            &req,
            "audit.search",
            serde_json::json!({ "filter": filter.query_string(), "before": filter.before }),
        )
        .await?;
    let mut rows = db::admin_audit::search(&state.pool, &filter, PAGE + 1)
        .await
        .map_err(|e| unavailable(reference, &e))?;
    let more = rows.len() > usize::try_from(PAGE).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(PAGE).unwrap_or(usize::MAX));
    p.query = filter.query_string();
    p.first_page = filter.before.is_none();
    if more && let Some(last) = rows.last() {
        let sep = if p.query.is_empty() { "" } else { "&" };
        p.next_href = Some(format!("/admin/audit?{}{sep}before={}", p.query, last.seq));
    }
    p.rows = rows.iter().map(row_view).collect();
    p.chain = chain_line(&state).await;
    Ok(html(StatusCode::OK, &p))
}

/// The claims a sign-in row recorded, to explain them with the current rules.
fn recorded_claims(row: &AuditRow) -> Option<Claims> {
    let idp = row.field("idp");
    let subject = row.field("subject");
    if row.field("kind") != "sign_in" || idp.is_empty() || subject.is_empty() {
        return None;
    }
    let groups = row
        .event
        .get("groups")
        .and_then(|g| g.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let email = row
        .detail("email")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    Some(Claims {
        idp: idp.to_string(),
        subject: subject.to_string(),
        email_verified: email.is_some(),
        email,
        groups,
        attributes: Default::default(),
    })
}

async fn event(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    let admin = gated!(state, req, signed_in, Some(Area::Audit));
    let raw = path.into_inner();
    let seq = raw.parse::<i64>().ok().filter(|n| *n > 0);
    let reference = admin
        .record(
            &state,
            &req,
            EventKind::AdminAction,
            if seq.is_some() {
                Outcome::Accepted
            } else {
                Outcome::Rejected
            },
            "audit.event",
            serde_json::json!({ "seq": seq }),
        )
        .await?;
    let not_found = |reference: String| {
        AppError::new(
            Kind::NotFound,
            Format::Html,
            reference,
            "There is no audit event with that number.",
        )
        .back_to("/admin/audit", "Back to the audit log")
    };
    let Some(seq) = seq else {
        return Err(not_found(reference));
    };
    let row = db::admin_audit::by_seq(&state.pool, seq)
        .await
        .map_err(|e| unavailable(reference.clone(), &e))?
        .ok_or_else(|| not_found(reference))?;
    let mut fields = vec![
        FieldView {
            label: "Time (UTC)",
            value: row.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        },
        FieldView {
            label: "Reference",
            value: row.reference.clone(),
        },
        FieldView {
            label: "Event",
            value: row.field("kind").to_string(),
        },
        FieldView {
            label: "Outcome",
            value: row.field("outcome").to_string(),
        },
        FieldView {
            label: "Person",
            value: row.field("subject").to_string(),
        },
        FieldView {
            label: "Identity provider",
            value: row.field("idp").to_string(),
        },
        FieldView {
            label: "Reason",
            value: row.field("reason").to_string(),
        },
        FieldView {
            label: "Source address",
            value: row.field("source_ip").to_string(),
        },
        FieldView {
            label: "User agent",
            value: row.field("user_agent").to_string(),
        },
    ];
    let groups = row
        .event
        .get("groups")
        .and_then(|g| g.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    fields.push(FieldView {
        label: "Groups",
        value: groups,
    });
    fields.retain(|f| !f.value.is_empty());
    let rules = state.rules();
    let deciding_rule = row
        .detail("rule")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let deciding_rule_now = deciding_rule.as_deref().and_then(|id| {
        rules.rule_set().rules.iter().find(|r| r.id == id).map(|r| {
            let mut one = rules.rule_set().clone();
            one.rules = vec![r.clone()];
            let text = mapping::render_document(&one);
            // Only the rule's own lines: what follows `rules:`.
            text.split_once("\nrules:\n")
                .map_or(text.clone(), |(_, rule)| rule.to_string())
        })
    });
    let explanation = recorded_claims(&row)
        .map(|claims| super::rules::explanation_view(&mapping::explain(&rules, &claims)));
    let chain = match (row.pos, row.sealed_at) {
        (Some(pos), Some(at)) => format!("sealed at position {pos}, {}", time(at)),
        _ => "not sealed yet (the sealer links new rows within seconds)".to_string(),
    };
    let page = AdminEventPage {
        nav: admin.nav(),
        seq: row.seq,
        fields,
        details_json: serde_json::to_string_pretty(
            row.event.get("details").unwrap_or(&serde_json::Value::Null),
        )
        .unwrap_or_default(),
        deciding_rule,
        deciding_rule_now,
        explanation,
        chain,
        back_href: "/admin/audit".into(),
    };
    Ok(html(StatusCode::OK, &page))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ExportFormat {
    Csv,
    JsonLines,
}

const CSV_HEADER: [&str; 13] = [
    "seq",
    "at",
    "reference",
    "kind",
    "outcome",
    "idp",
    "subject",
    "role_arn",
    "rule",
    "access_key_id",
    "reason",
    "source_ip",
    "details",
];

fn csv_line(row: &AuditRow) -> String {
    let details = row
        .event
        .get("details")
        .map(|d| d.to_string())
        .unwrap_or_default();
    csv::record(&[
        row.seq.to_string(),
        row.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        row.reference.clone(),
        row.field("kind").to_string(),
        row.field("outcome").to_string(),
        row.field("idp").to_string(),
        row.field("subject").to_string(),
        row.detail_str("role_arn").to_string(),
        row.detail_str("rule").to_string(),
        row.detail_str("access_key_id").to_string(),
        row.field("reason").to_string(),
        row.field("source_ip").to_string(),
        details,
    ])
}

fn json_line(row: &AuditRow) -> String {
    let mut line = serde_json::json!({
        "seq": row.seq,
        "at": row.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "reference": row.reference,
        "event": row.event,
    })
    .to_string();
    line.push('\n');
    line
}

/// The filtered set, oldest cursor last, fetched a batch at a time while the client reads.
fn export_stream(
    pool: PgPool,
    filter: AuditFilter,
    format: ExportFormat,
) -> impl futures_util::Stream<Item = Result<web::Bytes, actix_web::Error>> {
    let header = match format {
        ExportFormat::Csv => Some(csv::record(&CSV_HEADER)),
        ExportFormat::JsonLines => None,
    };
    let start = (Some(filter), header);
    futures_util::stream::unfold(start, move |(filter, header)| {
        let pool = pool.clone();
        async move {
            let mut filter = filter?;
            let rows = match db::admin_audit::search(&pool, &filter, EXPORT_BATCH).await {
                Ok(rows) => rows,
                Err(e) => {
                    // The response has started: end it short, and say so in the log.
                    tracing::error!(error = %e, "audit export failed part way");
                    return Some((
                        Err(actix_web::error::ErrorServiceUnavailable("export failed")),
                        (None, None),
                    ));
                }
            };
            let mut chunk = header.unwrap_or_default();
            for row in &rows {
                chunk.push_str(&match format {
                    ExportFormat::Csv => csv_line(row),
                    ExportFormat::JsonLines => json_line(row),
                });
            }
            let next = match rows.last() {
                Some(last) if i64::try_from(rows.len()).unwrap_or(0) == EXPORT_BATCH => {
                    filter.before = Some(last.seq);
                    Some(filter)
                }
                _ => None,
            };
            if chunk.is_empty() {
                return None;
            }
            Some((Ok(web::Bytes::from(chunk)), (next, None)))
        }
    })
}

async fn export(
    state: web::Data<AppState>,
    req: HttpRequest,
    signed_in: Option<crate::http::routes::SignedIn>,
    format: ExportFormat,
) -> Result<HttpResponse, AppError> {
    let admin = gated!(state, req, signed_in, Some(Area::Audit));
    let label = match format {
        ExportFormat::Csv => "csv",
        ExportFormat::JsonLines => "jsonl",
    };
    let parsed = query_of(&req).and_then(|q| AuditFilter::parse(&q).map_err(|e| e.to_string()));
    let filter = match parsed {
        Ok(f) => f.without_cursor(),
        Err(problem) => {
            let reference = admin
                .record(
                    &state,
                    &req,
                    EventKind::AdminAction,
                    Outcome::Rejected,
                    "audit.export",
                    serde_json::json!({ "format": label, "problem": problem }),
                )
                .await?;
            return Err(AppError::new(
                Kind::BadRequest,
                Format::Html,
                reference,
                format!("Nothing was exported: {problem}."),
            )
            .back_to("/admin/audit", "Back to the audit log"));
        }
    };
    let reference = admin
        .admin_action(
            &state,
            &req,
            "audit.export",
            serde_json::json!({ "format": label, "filter": filter.query_string() }),
        )
        .await?;
    let stamp = state.clock.now().format("%Y%m%dT%H%M%SZ");
    let (content_type, file) = match format {
        ExportFormat::Csv => (
            "text/csv; charset=utf-8",
            format!("roleport-audit-{stamp}.csv"),
        ),
        ExportFormat::JsonLines => (
            "application/x-ndjson; charset=utf-8",
            format!("roleport-audit-{stamp}.jsonl"),
        ),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{file}\""),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Roleport-Reference", reference))
        .streaming(export_stream(state.pool.clone(), filter, format)))
}

async fn export_csv(
    state: web::Data<AppState>,
    req: HttpRequest,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    export(state, req, signed_in, ExportFormat::Csv).await
}

async fn export_jsonl(
    state: web::Data<AppState>,
    req: HttpRequest,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    export(state, req, signed_in, ExportFormat::JsonLines).await
}

async fn chain(
    state: web::Data<AppState>,
    req: HttpRequest,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    let admin = gated!(state, req, signed_in, Some(Area::Audit));
    let options = VerifyOptions {
        now: state.clock.now(),
        max_checkpoint_age: {
            let max_age = state.settings.audit.checkpoint_max_age_seconds;
            (max_age > 0)
                .then(|| chrono::Duration::try_seconds(i64::try_from(max_age).unwrap_or(i64::MAX)))
                .flatten()
        },
        expect: Vec::new(),
    };
    let status = verify(&state.pool, state.audit.keys(), &options).await;
    let (intact, summary, details) = match &status {
        Ok(ChainStatus::Intact {
            rows,
            checkpoints,
            unsealed,
        }) => (
            true,
            format!(
                "{rows} rows and {checkpoints} checkpoints check out; {unsealed} rows wait to be sealed."
            ),
            serde_json::json!({ "intact": true, "rows": rows, "checkpoints": checkpoints, "unsealed": unsealed }),
        ),
        Ok(ChainStatus::Broken { pos, why }) => (
            false,
            format!("the first broken row is at position {pos}: {why}"),
            serde_json::json!({ "intact": false, "pos": pos, "why": why }),
        ),
        Err(e) => {
            let reference = crate::audit::new_reference();
            return Err(unavailable(reference, e));
        }
    };
    let reference = admin
        .admin_action(&state, &req, "audit.verify", details)
        .await?;
    if !intact {
        tracing::error!(
            security = true,
            reference,
            summary,
            "audit chain broken (seen from the admin page)"
        );
    }
    Ok(html(
        StatusCode::OK,
        &AdminChainPage {
            nav: admin.nav(),
            intact,
            summary,
            reference,
        },
    ))
}
