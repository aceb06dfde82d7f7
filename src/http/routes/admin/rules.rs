//! `/admin/rules`: the current rules document (generation, who imported it), "explain" for a
//! person, a dry run of a new document against everyone who signed in lately, and importing it
//! (audited as `rules_imported`, like the command line's import).

use super::document_form::{DOCUMENT_LIMIT, DocumentForm};
use super::draft::{self, Resume};
use super::{Admin, gated, html, see_other};
use crate::admin::capability::Area;
use crate::audit::{EventKind, Outcome};
use crate::db;
use crate::db::rules::Importer;
use crate::http::AppState;
use crate::http::admin_views::{
    AdminRulesPage, DryRunView, ExplainFormView, ExplainView, GrantChangeView, PersonChangeView,
    TraceView,
};
use crate::http::errors::{AppError, Format, Kind};
use crate::http::routes::session::{MaybeSignedIn, SignedInWithCsrf};
use crate::protocol::mapping::{self, Claims, CompiledRules, Explanation, GrantName, RuleSet};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

/// The dry run compares everyone who signed in this many days back.
const DRY_RUN_DAYS: i64 = 30;
const DRY_RUN_PEOPLE: i64 = 20_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let form = || web::FormConfig::default().limit(DOCUMENT_LIMIT);
    cfg.route("/admin/rules", web::get().to(show))
        .route("/admin/rules/explain", web::get().to(explain))
        .service(
            web::resource("/admin/rules/dry-run")
                .app_data(form())
                .route(web::post().to(dry_run)),
        )
        .service(
            web::resource("/admin/rules/import")
                .app_data(form())
                .route(web::post().to(import)),
        );
}

pub(super) fn explanation_view(e: &Explanation) -> ExplainView {
    ExplainView {
        traces: e
            .rules
            .iter()
            .map(|t| {
                let text = t.to_string();
                let why = text
                    .split_once("): ")
                    .map_or(text.clone(), |(_, why)| why.to_string());
                TraceView {
                    rule_id: t.rule_id.clone(),
                    effect: t.effect.to_string(),
                    applied: t.applied,
                    why,
                    roles: t.roles.join(", "),
                }
            })
            .collect(),
        grants: e
            .decision
            .grants
            .iter()
            .map(|g| {
                format!(
                    "{} in {} ({}), rule {}",
                    g.role_name, g.account_alias, g.account_id, g.rule_id
                )
            })
            .collect(),
        denied: e
            .decision
            .denied
            .iter()
            .map(|(arn, rule)| format!("{arn} by {rule}"))
            .collect(),
        capabilities: e.decision.capabilities.iter().cloned().collect(),
    }
}

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn counts(set: &RuleSet) -> String {
    format!(
        "{} accounts, {} roles, {} rules",
        set.accounts.len(),
        set.roles.len(),
        set.rules.len()
    )
}

fn idp_ids(state: &AppState) -> Vec<String> {
    let mut ids: Vec<String> = state
        .all_idps()
        .iter()
        .map(|i| i.id.clone())
        .chain(state.oidc.keys().cloned())
        .collect();
    ids.sort();
    ids
}

async fn page(state: &AppState, admin: &Admin) -> Result<AdminRulesPage, AppError> {
    let provenance = db::rules::provenance(&state.pool).await.map_err(|e| {
        super::db_unavailable(
            crate::audit::new_reference(),
            "reading the rules generation",
            &e,
        )
    })?;
    let rules = state.rules();
    Ok(AdminRulesPage {
        nav: admin.nav(),
        generation: provenance.generation,
        updated_at: time(provenance.updated_at),
        imported_by: provenance.importer.by,
        imported_via: provenance.importer.via,
        document: mapping::render_document(rules.rule_set()),
        counts: counts(rules.rule_set()),
        idps: idp_ids(state),
        explain_form: ExplainFormView {
            idp: admin.signed_in.session.identity.idp.clone(),
            ..ExplainFormView::default()
        },
        explanation: None,
        proposed: String::new(),
        problems: Vec::new(),
        dry_run: None,
        notice: None,
        reference: None,
    })
}

#[derive(Deserialize)]
struct ShowQuery {
    imported: Option<i64>,
    /// Back from a fresh sign-in that a dry run or import asked for: put its document back.
    kept: Option<String>,
}

async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ShowQuery>,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    let admin = gated!(state, req, signed_in, Some(Area::Rules));
    let reference = admin
        .admin_action(&state, &req, "rules.show", serde_json::json!({}))
        .await?;
    let mut p = page(&state, &admin).await?;
    if let Some(generation) = query.imported {
        p.notice = Some(format!(
            "Imported: the rules are now generation {generation}."
        ));
    }
    let mut answer_cookie = None;
    if query.kept.is_some() {
        p.notice = Some(match draft::take(&state, &req, &admin.signed_in).await {
            Some(kept) => {
                p.proposed = kept.text;
                if kept.form == IMPORT {
                    "You signed in again. Nothing was imported: your document is back in the form below. Show what it would change, then import it.".to_string()
                } else {
                    "You signed in again. Your document is back in the form below: press Show what would change.".to_string()
                }
            }
            None => "You signed in again, but the document you sent was not kept (it is kept for a few minutes, for this browser only). Nothing was run or imported: paste or choose it again.".to_string(),
        });
        answer_cookie = Some(state.cookies.removal(state.cookies.draft_name()));
    }
    p.reference = Some(reference);
    let mut answer = html(StatusCode::OK, &p);
    if let Some(cookie) = answer_cookie
        && let Err(e) = answer.add_cookie(&cookie)
    {
        tracing::error!(error = %e, "the draft cookie could not be removed");
    }
    Ok(answer)
}

const DRY_RUN: &str = "rules.dry_run";
const IMPORT: &str = "rules.import";

#[derive(Deserialize)]
struct ExplainQuery {
    idp: Option<String>,
    subject: Option<String>,
    groups: Option<String>,
    email: Option<String>,
}

async fn explain(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ExplainQuery>,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    let admin = gated!(state, req, signed_in, Some(Area::Rules));
    let q = query.into_inner();
    let form = ExplainFormView {
        idp: q.idp.unwrap_or_default(),
        subject: q.subject.unwrap_or_default(),
        groups: q.groups.unwrap_or_default(),
        email: q.email.unwrap_or_default(),
    };
    // One group per line, each exactly as typed (only the line break itself is removed).
    let groups: Vec<String> = form
        .groups
        .split('\n')
        .map(|g| g.strip_suffix('\r').unwrap_or(g))
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect();
    let email = Some(form.email.clone()).filter(|e| !e.is_empty());
    let claims = Claims {
        idp: form.idp.clone(),
        subject: if form.subject.is_empty() {
            "explain".into()
        } else {
            form.subject.clone()
        },
        email_verified: email.is_some(),
        email,
        groups,
        attributes: Default::default(),
    };
    let explanation = mapping::explain(&state.rules(), &claims);
    let reference = admin
        .admin_action(
            &state,
            &req,
            "rules.explain",
            serde_json::json!({
                "explained_idp": claims.idp,
                "explained_subject": claims.subject,
                "explained_groups": claims.groups,
                "grants": explanation.decision.grants.len(),
            }),
        )
        .await?;
    let mut p = page(&state, &admin).await?;
    p.explain_form = form;
    p.explanation = Some(explanation_view(&explanation));
    p.reference = Some(reference);
    Ok(html(StatusCode::OK, &p))
}

/// The document checked as `roleport rules import` checks it: parsed, validated, compiled.
fn checked(text: &str) -> Result<(RuleSet, CompiledRules, Vec<String>), Vec<String>> {
    let (set, warnings) = mapping::parse_document_with_warnings(text)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let compiled = CompiledRules::compile(set.clone())
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    Ok((
        set,
        compiled,
        warnings.iter().map(ToString::to_string).collect(),
    ))
}

/// The form's document ([`DocumentForm::document`]), [`checked`]; every problem in words.
fn checked_form(body: &DocumentForm) -> Result<(RuleSet, CompiledRules, Vec<String>), Vec<String>> {
    body.document()
        .map_err(|problem| vec![problem.to_string()])
        .and_then(|chosen| checked(&chosen))
}

fn grant_view(g: &GrantName) -> GrantChangeView {
    GrantChangeView {
        role_arn: g.role_arn.clone(),
        account: format!("{} ({})", g.account_alias, g.account_id),
        rule_id: g.rule_id.clone(),
    }
}

async fn dry_run(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInWithCsrf { signed_in, body }: SignedInWithCsrf<DocumentForm>,
) -> Result<HttpResponse, AppError> {
    let text = body.shown_again();
    let admin = gated!(
        state,
        req,
        Some(signed_in),
        Some(Area::Rules),
        Resume::Document {
            form: DRY_RUN,
            text: &text
        }
    );
    let digest = hex::encode(db::sha256(text.as_bytes()));
    let mut p = page(&state, &admin).await?;
    p.proposed = text.clone();
    let (set, proposed, warnings) = match checked_form(&body) {
        Ok(ok) => ok,
        Err(problems) => {
            let reference = admin
                .record(
                    &state,
                    &req,
                    EventKind::AdminAction,
                    Outcome::Rejected,
                    DRY_RUN,
                    serde_json::json!({ "document_sha256": digest, "source": body.source(), "errors": problems.len() }),
                )
                .await?;
            p.problems = problems;
            p.reference = Some(reference);
            return Ok(html(StatusCode::BAD_REQUEST, &p));
        }
    };
    let since = state.clock.now() - chrono::Duration::days(DRY_RUN_DAYS);
    let people = db::admin_audit::people_since(&state.pool, since, DRY_RUN_PEOPLE)
        .await
        .map_err(|e| {
            super::db_unavailable(crate::audit::new_reference(), "reading recent sign-ins", &e)
        })?;
    let claims: Vec<Claims> = people
        .into_iter()
        .map(|p| Claims {
            idp: p.idp,
            subject: p.subject,
            email_verified: p.email.is_some(),
            email: p.email,
            groups: p.groups,
            attributes: Default::default(),
        })
        .collect();
    let run = mapping::dry_run(&state.rules(), &proposed, &claims);
    let reference = admin
        .admin_action(
            &state,
            &req,
            DRY_RUN,
            serde_json::json!({
                "document_sha256": digest,
                "source": body.source(),
                "people": run.people,
                "people_changed": run.changes.len(),
            }),
        )
        .await?;
    p.problems = warnings
        .into_iter()
        .map(|w| format!("warning: {w}"))
        .collect();
    p.dry_run = Some(DryRunView {
        people: run.people,
        days: DRY_RUN_DAYS,
        accounts: set.accounts.len(),
        roles: set.roles.len(),
        rules: set.rules.len(),
        changes: run
            .changes
            .iter()
            .map(|c| PersonChangeView {
                person: format!("{} ({})", c.subject, c.idp),
                added: c.added.iter().map(grant_view).collect(),
                removed: c.removed.iter().map(grant_view).collect(),
                redecided: c.redecided.iter().map(grant_view).collect(),
                capabilities_added: c.capabilities_added.clone(),
                capabilities_removed: c.capabilities_removed.clone(),
            })
            .collect(),
    });
    p.reference = Some(reference);
    Ok(html(StatusCode::OK, &p))
}

async fn import(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInWithCsrf { signed_in, body }: SignedInWithCsrf<DocumentForm>,
) -> Result<HttpResponse, AppError> {
    let text = body.shown_again();
    let admin = gated!(
        state,
        req,
        Some(signed_in),
        Some(Area::Rules),
        Resume::Document {
            form: IMPORT,
            text: &text
        }
    );
    let digest = hex::encode(db::sha256(text.as_bytes()));
    let (set, compiled, _) = match checked_form(&body) {
        Ok(ok) => ok,
        Err(problems) => {
            let reference = admin
                .record(
                    &state,
                    &req,
                    EventKind::RulesImported,
                    Outcome::Rejected,
                    IMPORT,
                    serde_json::json!({ "via": "admin-page", "document_sha256": digest, "errors": problems }),
                )
                .await?;
            let mut p = page(&state, &admin).await?;
            p.proposed = text;
            p.problems = problems;
            p.reference = Some(reference);
            return Ok(html(StatusCode::BAD_REQUEST, &p));
        }
    };
    let identity = &admin.signed_in.session.identity;
    let importer = Importer::admin_page(&identity.idp, &identity.subject);
    let summary = serde_json::json!({
        "via": "admin-page",
        "document_sha256": digest,
        "accounts": set.accounts.len(),
        "roles": set.roles.len(),
        "rules": set.rules.len(),
    });
    // The intent is recorded first: nothing is imported unless this row is written.
    let reference = admin
        .admin_action(&state, &req, IMPORT, summary.clone())
        .await?;
    let stored = db::rules::replace_all_as(&state.pool, &set, &importer).await;
    let generation = match stored {
        Ok(generation) => generation,
        Err(e) => {
            tracing::error!(reference, error = %e, "rules import from the admin page failed");
            let mut details = summary;
            if let Some(map) = details.as_object_mut() {
                map.insert("error".into(), e.to_string().into());
            }
            let _ = admin
                .record_as(
                    &state,
                    &req,
                    &reference,
                    EventKind::RulesImported,
                    Outcome::Rejected,
                    IMPORT,
                    details,
                )
                .await;
            return Err(AppError::new(
                Kind::Unavailable,
                Format::Html,
                reference,
                "The rules could not be stored; nothing was changed.",
            )
            .back_to("/admin/rules", "Back to the rules"));
        }
    };
    state.replace_rules(generation, compiled);
    let mut details = summary;
    if let Some(map) = details.as_object_mut() {
        map.insert("generation".into(), generation.into());
        map.insert("imported_by".into(), importer.by.clone().into());
    }
    if let Err(e) = admin
        .record_as(
            &state,
            &req,
            &reference,
            EventKind::RulesImported,
            Outcome::Accepted,
            IMPORT,
            details,
        )
        .await
    {
        tracing::error!(security = true, reference, generation, error = %e, "rules imported from the admin page; the second audit row was not written");
    }
    tracing::warn!(security = true, reference, generation, by = %importer.by, "rules imported from the admin page");
    Ok(see_other(&format!("/admin/rules?imported={generation}")))
}
