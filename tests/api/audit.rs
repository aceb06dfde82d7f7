//! The audit chain: every sign-in is a row, and tampering is detected.

use crate::helpers::*;
use roleport::db::audit::{ChainStatus, verify};

#[tokio::test]
async fn chain_is_intact_after_sign_ins_and_detects_tampering() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    app.sign_in("bob").await;
    app.post_acs("garbage", None).await;
    match verify(&app.pool).await.unwrap() {
        ChainStatus::Intact { rows } => assert_eq!(rows, 3),
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
        ChainStatus::Intact { rows: 20 }
    );
}
