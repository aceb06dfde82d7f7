//! A person's starred roles on the picker, keyed by the identity as signed (IdP + subject).

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// The grant ids `idp`/`subject` starred, oldest star first.
pub async fn list(pool: &PgPool, idp: &str, subject: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT grant_id FROM favourite_grants WHERE idp = $1 AND subject = $2
         ORDER BY created_at, grant_id",
    )
    .bind(idp)
    .bind(subject)
    .fetch_all(pool)
    .await
}

/// Stars (`on`) or unstars a grant; repeating either is harmless.
pub async fn set(
    pool: &PgPool,
    idp: &str,
    subject: &str,
    grant_id: &str,
    on: bool,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let query = if on {
        "INSERT INTO favourite_grants (idp, subject, grant_id, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM favourite_grants WHERE idp = $1 AND subject = $2 AND grant_id = $3
         AND $4::timestamptz IS NOT NULL"
    };
    sqlx::query(query)
        .bind(idp)
        .bind(subject)
        .bind(grant_id)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}
