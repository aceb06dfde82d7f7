//! The statement that records an accepted sign-in (`roleport::db::sign_in`): the pending login's
//! take, the assertion id's replay record, the audit row and the session commit together or not
//! at all. Failures are injected inside that statement with a constraint added to this test's own
//! database; the answer is then a 503 page with a reference, and nothing of the sign-in is left
//! behind, so the same Response signs in once the fault is gone.

use crate::forge::*;
use crate::helpers::*;
use crate::refusals::{assert_recorded, audit_row};

/// A constraint no new row can meet: existing rows are not checked (`NOT VALID`).
async fn inject_failure(app: &TestApp, table: &str) {
    sqlx::query(&format!(
        "ALTER TABLE {table} ADD CONSTRAINT injected_failure CHECK (false) NOT VALID"
    ))
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn lift_failure(app: &TestApp, table: &str) {
    sqlx::query(&format!(
        "ALTER TABLE {table} DROP CONSTRAINT injected_failure"
    ))
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn pending_logins(app: &TestApp, login: &Login) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pending_logins WHERE request_id = $1")
        .bind(&login.request_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn used_assertions(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM used_assertions")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn accepted_rows(app: &TestApp) -> usize {
    app.audit_events()
        .await
        .iter()
        .filter(|e| e["kind"] == "sign_in" && e["outcome"] == "accepted")
        .count()
}

/// Posts a valid answer to a fresh login while inserts into `table` fail; checks the 503 and
/// that nothing was committed, then lifts the fault and posts the very same Response again.
/// Returns the 503's reference.
async fn fails_then_signs_in(app: &TestApp, table: &str) -> String {
    let login = start_login(app, &app.client).await;
    let xml = forge_for(app)
        .in_response_to(&login.request_id)
        .build(Sign::Both, &signer());
    inject_failure(app, table).await;
    let resp = post_acs_as(app, &app.client, &xml, Some(&login.relay_state)).await;
    let status = resp.status();
    let html = resp.text().await.unwrap();
    assert_eq!(status, 503, "{table}: {html}");
    assert!(html.contains("Please try again"), "{html}");
    let reference = reference_in(&html);

    assert_eq!(app.session_count().await, 0, "{table}: no session");
    assert_eq!(
        accepted_rows(app).await,
        0,
        "{table}: no accepted audit row"
    );
    assert_eq!(used_assertions(app).await, 0, "{table}: no replay record");
    assert_eq!(
        pending_logins(app, &login).await,
        1,
        "{table}: the pending login is still there"
    );
    let roles = app
        .client
        .get(format!("{}/api/v1/roles", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(roles.status(), 401, "{table}: not signed in");

    lift_failure(app, table).await;
    let again = post_acs_as(app, &app.client, &xml, Some(&login.relay_state)).await;
    assert_eq!(
        again.status(),
        303,
        "{table}: the same Response, fault lifted"
    );
    assert_eq!(app.session_count().await, 1);
    assert_eq!(accepted_rows(app).await, 1);
    assert_eq!(pending_logins(app, &login).await, 0, "taken by the sign-in");
    assert_eq!(used_assertions(app).await, 1);
    reference
}

/// The session insert fails: the audit row written in the same statement is not committed
/// either. The database still answers, so the attempt leaves its own rejected row under the
/// reference the page shows.
#[tokio::test]
async fn a_failing_session_insert_commits_nothing_and_is_audited() {
    let app = spawn_forge_app().await;
    let reference = fails_then_signs_in(&app, "sessions").await;
    let row = audit_row(&app, &reference)
        .await
        .expect("a row for the sign-in that was not recorded");
    assert_eq!(row["kind"], "sign_in");
    assert_eq!(row["outcome"], "rejected", "{row}");
    assert!(
        row["reason"]
            .as_str()
            .unwrap()
            .starts_with("not_recorded: "),
        "{row}"
    );
    assert_eq!(row["subject"], "alice@example.org", "{row}");
}

/// The audit insert fails: no session exists without its row (and the row about the failure
/// cannot be written either: the log line with the reference is what remains).
#[tokio::test]
async fn a_failing_audit_insert_commits_no_session() {
    let app = spawn_forge_app().await;
    let reference = fails_then_signs_in(&app, "audit_events").await;
    assert_eq!(audit_row(&app, &reference).await, None);
}

/// The same Response posted twice at once from its browser: one session; the other post is
/// refused (it found the login gone, or lost the race to take it).
#[tokio::test]
async fn two_concurrent_posts_of_one_answer_start_one_session() {
    let app = spawn_forge_app().await;
    let login = start_login(&app, &app.client).await;
    let xml = forge_for(&app)
        .in_response_to(&login.request_id)
        .build(Sign::Both, &signer());
    let (a, b) = tokio::join!(
        post_acs_as(&app, &app.client, &xml, Some(&login.relay_state)),
        post_acs_as(&app, &app.client, &xml, Some(&login.relay_state)),
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [303, 403]);
    let refused = if a.status() == 403 { a } else { b };
    let reference = reference_in(&refused.text().await.unwrap());
    let code = match audit_row(&app, &reference).await {
        // Both found the login; the sign-in statement of the second took nothing.
        Some(_) => "pending_login_gone",
        None => "in_response_to_unknown",
    };
    assert_recorded(&app, &reference, code).await;
    assert_eq!(app.session_count().await, 1);
    assert_eq!(accepted_rows(&app).await, 1);
}

/// A response that fails verification does not use up the login: it is taken only by the
/// statement that records a sign-in, so its owner can still finish it.
#[tokio::test]
async fn a_refused_response_leaves_the_login_to_its_owner() {
    let app = spawn_forge_app().await;
    let login = start_login(&app, &app.client).await;
    let forge = forge_for(&app).in_response_to(&login.request_id);
    let good = forge.build(Sign::Both, &signer());
    let unsigned = forge.build(Sign::Nothing, &signer());
    let resp = post_acs_as(&app, &app.client, &unsigned, Some(&login.relay_state)).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(pending_logins(&app, &login).await, 1);
    let resp = post_acs_as(&app, &app.client, &good, Some(&login.relay_state)).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(app.session_count().await, 1);
}
