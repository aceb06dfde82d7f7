//! The audit chain: every sign-in is a row, and tampering is detected.

use crate::helpers::*;
use roleport::db::audit::{ChainStatus, verify};

#[tokio::test]
async fn chain_is_intact_after_sign_ins_and_detects_tampering() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    app.sign_in("bob").await;
    // Junk is counted, not chained.
    app.post_acs("garbage", None).await;
    assert_eq!(crate::refusals::counted(&app, "bad_encoding").await, 1);
    match verify(&app.pool).await.unwrap() {
        ChainStatus::Intact { rows } => assert_eq!(rows, 2),
        other => panic!("{other:?}"),
    }
    // The table refuses changes outright…
    let update = sqlx::query(
        "UPDATE audit_events SET event = event || '{\"subject\":\"mallory\"}' WHERE seq = 1",
    )
    .execute(&app.pool)
    .await;
    assert!(update.is_err());
    // …and if a superuser forces one, the chain shows where.
    sqlx::query("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_events SET event = jsonb_set(event, '{subject}', '\"mallory\"') WHERE seq = 2")
        .execute(&app.pool)
        .await
        .unwrap();
    match verify(&app.pool).await.unwrap() {
        ChainStatus::Broken { seq, .. } => assert_eq!(seq, 2),
        other => panic!("tampering not detected: {other:?}"),
    }
}

#[tokio::test]
async fn concurrent_appends_from_two_replicas_keep_one_chain() {
    let a = spawn_app().await;
    let b = spawn_app_with(Options {
        database: Some(a.db_name.clone()),
        ..Options::default()
    })
    .await;
    // Junk from both replicas: refused and counted in one shared counter, no chained rows.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let app = if i % 2 == 0 { &a } else { &b };
        let client = browser();
        let url = format!("{}/saml/acs", app.address);
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .form(&[("SAMLResponse", "bm9wZQ==")])
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 403);
    }
    assert_eq!(
        verify(&a.pool).await.unwrap(),
        ChainStatus::Intact { rows: 0 }
    );
    let counted: i64 = sqlx::query_scalar("SELECT sum(count)::bigint FROM refused_sign_ins")
        .fetch_one(&a.pool)
        .await
        .unwrap();
    assert_eq!(counted, 20);

    // Audit rows written at once through both replicas' pools extend one chain.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let pool = if i % 2 == 0 {
            a.pool.clone()
        } else {
            b.pool.clone()
        };
        let at = a.clock.now();
        tasks.push(tokio::spawn(async move {
            let event = roleport::audit::AuditEvent::new(
                roleport::audit::EventKind::SignOut,
                roleport::audit::Outcome::Accepted,
            );
            roleport::db::audit::append(&pool, &format!("R{i}"), at, event)
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        verify(&a.pool).await.unwrap(),
        ChainStatus::Intact { rows: 20 }
    );
}
