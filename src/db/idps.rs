//! Mirrors the configured identity providers into Postgres for rules and audit queries.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

pub async fn upsert(
    pool: &PgPool,
    id: &str,
    kind: &str,
    entity_id: &str,
    display_name: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO identity_providers (id, kind, entity_id, display_name, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET kind = $2, entity_id = $3, display_name = $4, updated_at = $5",
    )
    .bind(id)
    .bind(kind)
    .bind(entity_id)
    .bind(display_name)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}
