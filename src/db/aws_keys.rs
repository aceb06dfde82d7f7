//! `aws_signing_keys`: the rotation's records and the sealed key material. One rotation step at a
//! time, cluster-wide: a step runs inside a transaction holding [`lock`].

use crate::protocol::aws::rotation::{KeyRecord, KeyState};
use sqlx::{PgConnection, PgExecutor, Row};

/// The advisory lock of the key rotation (distinct from the audit sealer's).
const ROTATION_LOCK: i64 = 0x526f_6c65_4b65_7973; // "RoleKeys"

/// A stored key: its record, its certificate and its sealed private key (none for file keys and
/// retired keys).
#[derive(Clone)]
pub struct StoredKey {
    pub record: KeyRecord,
    pub certificate_der: Vec<u8>,
    pub sealed: Option<(String, Vec<u8>)>,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("record", &self.record)
            .field("sealed", &self.sealed.as_ref().map(|(id, _)| id))
            .finish_non_exhaustive()
    }
}

/// Takes the rotation lock for this transaction; `false`: another process runs a step now.
pub async fn try_lock(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(ROTATION_LOCK)
        .fetch_one(conn)
        .await
}

pub async fn load<'c>(db: impl PgExecutor<'c>) -> Result<Vec<StoredKey>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, state, from_file, sealing_key_id, sealed_private_key, certificate_der,
                created_at, trusted_at, signing_from, retiring_since, retired_at
         FROM aws_signing_keys ORDER BY created_at, id",
    )
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            let state: String = r.try_get("state")?;
            let sealing_key_id: Option<String> = r.try_get("sealing_key_id")?;
            let sealed: Option<Vec<u8>> = r.try_get("sealed_private_key")?;
            Ok(StoredKey {
                record: KeyRecord {
                    id: r.try_get("id")?,
                    state: KeyState::parse(&state).ok_or_else(|| {
                        sqlx::Error::Protocol(format!("aws_signing_keys: unknown state {state:?}"))
                    })?,
                    from_file: r.try_get("from_file")?,
                    created_at: r.try_get("created_at")?,
                    trusted_at: r.try_get("trusted_at")?,
                    signing_from: r.try_get("signing_from")?,
                    retiring_since: r.try_get("retiring_since")?,
                    retired_at: r.try_get("retired_at")?,
                },
                certificate_der: r.try_get("certificate_der")?,
                sealed: sealing_key_id.zip(sealed),
            })
        })
        .collect()
}

/// Writes every record of `keys` (inserted or updated by id); a retired key's sealed material is
/// dropped with it.
pub async fn save(conn: &mut PgConnection, keys: &[StoredKey]) -> Result<(), sqlx::Error> {
    // Keys leaving `current` first, so the one-per-state index holds after every statement.
    let mut ordered: Vec<&StoredKey> = keys.iter().collect();
    ordered.sort_by_key(|k| match k.record.state {
        KeyState::Retired => 0,
        KeyState::Retiring => 1,
        KeyState::Current => 2,
        KeyState::Next => 3,
    });
    for k in ordered {
        let r = &k.record;
        let retired = r.state == KeyState::Retired;
        sqlx::query(
            "INSERT INTO aws_signing_keys (id, state, from_file, sealing_key_id, sealed_private_key,
                 certificate_der, created_at, trusted_at, signing_from, retiring_since, retired_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (id) DO UPDATE SET state = $2, sealing_key_id = $4,
                 sealed_private_key = $5, trusted_at = $8, signing_from = $9,
                 retiring_since = $10, retired_at = $11",
        )
        .bind(&r.id)
        .bind(r.state.as_str())
        .bind(r.from_file)
        .bind(k.sealed.as_ref().filter(|_| !retired).map(|(id, _)| id))
        .bind(k.sealed.as_ref().filter(|_| !retired).map(|(_, s)| s))
        .bind(&k.certificate_der)
        .bind(r.created_at)
        .bind(r.trusted_at)
        .bind(r.signing_from)
        .bind(r.retiring_since)
        .bind(r.retired_at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
