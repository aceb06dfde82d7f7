//! The admin pages' reads of the audit log: a filtered search, newest first, paged by insert
//! number (keyset: `seq < before`), one event by number, per-IdP activity, and the people who
//! signed in lately (for the rules dry run). Filters are bound parameters, never SQL text.

use crate::admin::filter::AuditFilter;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

/// An audit row as the admin pages show it. The event stays JSON, so kinds this build does not
/// know still show.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub seq: i64,
    pub reference: String,
    pub at: DateTime<Utc>,
    pub event: serde_json::Value,
    /// Its place in the keyed chain, once sealed.
    pub pos: Option<i64>,
    pub sealed_at: Option<DateTime<Utc>>,
}

impl AuditRow {
    pub fn field(&self, name: &str) -> &str {
        self.event.get(name).and_then(|v| v.as_str()).unwrap_or("")
    }

    pub fn detail(&self, name: &str) -> Option<&serde_json::Value> {
        self.event.get("details").and_then(|d| d.get(name))
    }

    pub fn detail_str(&self, name: &str) -> &str {
        self.detail(name).and_then(|v| v.as_str()).unwrap_or("")
    }
}

fn audit_row(r: &sqlx::postgres::PgRow) -> Result<AuditRow, sqlx::Error> {
    Ok(AuditRow {
        seq: r.try_get("seq")?,
        reference: r.try_get("ref_id")?,
        at: r.try_get("at")?,
        event: r.try_get("event")?,
        pos: r.try_get("pos")?,
        sealed_at: r.try_get("sealed_at")?,
    })
}

fn push_filter(q: &mut QueryBuilder<'_, Postgres>, f: &AuditFilter) {
    q.push(" WHERE TRUE");
    if let Some(v) = &f.person {
        q.push(" AND event->>'subject' = ").push_bind(v.clone());
    }
    if let Some(v) = &f.idp {
        q.push(" AND event->>'idp' = ").push_bind(v.clone());
    }
    if let Some(v) = &f.account {
        q.push(" AND split_part(event->'details'->>'role_arn', ':', 5) = ")
            .push_bind(v.clone());
    }
    if let Some(v) = &f.role {
        q.push(" AND (event->'details'->>'role_arn' = ")
            .push_bind(v.clone())
            .push(" OR split_part(event->'details'->>'role_arn', ':role/', 2) = ")
            .push_bind(v.clone())
            .push(")");
    }
    if let Some(v) = &f.kind {
        q.push(" AND event->>'kind' = ").push_bind(v.clone());
    }
    if let Some(v) = f.outcome {
        q.push(" AND event->>'outcome' = ").push_bind(v.as_str());
    }
    if let Some(v) = &f.reason {
        q.push(" AND starts_with(event->>'reason', ")
            .push_bind(v.clone())
            .push(")");
    }
    if let Some(v) = f.from {
        q.push(" AND at >= ").push_bind(v);
    }
    if let Some(v) = f.to {
        q.push(" AND at < ").push_bind(v);
    }
    if let Some(v) = f.before {
        q.push(" AND seq < ").push_bind(v);
    }
}

/// At most `limit` events matching `filter`, newest first.
pub async fn search(
    pool: &PgPool,
    filter: &AuditFilter,
    limit: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    let mut q =
        QueryBuilder::new("SELECT seq, ref_id, at, event, pos, sealed_at FROM audit_events");
    push_filter(&mut q, filter);
    q.push(" ORDER BY seq DESC LIMIT ").push_bind(limit);
    let rows = q.build().fetch_all(pool).await?;
    rows.iter().map(audit_row).collect()
}

pub async fn by_seq(pool: &PgPool, seq: i64) -> Result<Option<AuditRow>, sqlx::Error> {
    sqlx::query("SELECT seq, ref_id, at, event, pos, sealed_at FROM audit_events WHERE seq = $1")
        .bind(seq)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(audit_row)
        .transpose()
}

/// When an IdP last signed someone in, and when it was last refused (a refused verified
/// identity in the audit log, or a refusal counter).
#[derive(Debug, Clone, Default)]
pub struct IdpActivity {
    pub last_accepted: Option<DateTime<Utc>>,
    pub last_refused: Option<DateTime<Utc>>,
    /// Refusals counted since the given time (audit rows and counters).
    pub refused_recently: i64,
}

pub async fn idp_activity(
    pool: &PgPool,
    idp: &str,
    recent_since: DateTime<Utc>,
) -> Result<IdpActivity, sqlx::Error> {
    let last = |outcomes: &'static str| {
        format!(
            "SELECT at FROM audit_events WHERE event->>'idp' = $1 AND event->>'kind' = 'sign_in'
             AND event->>'outcome' IN ({outcomes}) ORDER BY seq DESC LIMIT 1"
        )
    };
    let last_accepted: Option<DateTime<Utc>> = sqlx::query_scalar(&last("'accepted', 'no_roles'"))
        .bind(idp)
        .fetch_optional(pool)
        .await?;
    let audit_refused: Option<DateTime<Utc>> = sqlx::query_scalar(&last("'rejected'"))
        .bind(idp)
        .fetch_optional(pool)
        .await?;
    let counted = sqlx::query(
        "SELECT max(last_at) AS last_at,
                COALESCE(sum(count) FILTER (WHERE minute >= $2), 0)::BIGINT AS recent
         FROM refused_sign_ins WHERE idp = $1",
    )
    .bind(idp)
    .bind(recent_since)
    .fetch_one(pool)
    .await?;
    let counter_last: Option<DateTime<Utc>> = counted.try_get("last_at")?;
    let counter_recent: i64 = counted.try_get("recent")?;
    let audit_recent: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE event->>'idp' = $1 AND event->>'kind' = 'sign_in'
         AND event->>'outcome' = 'rejected' AND at >= $2",
    )
    .bind(idp)
    .bind(recent_since)
    .fetch_one(pool)
    .await?;
    Ok(IdpActivity {
        last_accepted,
        last_refused: audit_refused.max(counter_last),
        refused_recently: counter_recent + audit_recent,
    })
}

/// A person as their latest sign-in recorded them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenPerson {
    pub idp: String,
    pub subject: String,
    pub groups: Vec<String>,
    pub email: Option<String>,
    pub at: DateTime<Utc>,
}

/// Everyone who signed in (accepted, or with no roles) since `since`, each with the claims of
/// their latest sign-in; at most `limit` people.
pub async fn people_since(
    pool: &PgPool,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<SeenPerson>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT DISTINCT ON (event->>'idp', event->>'subject') event, at FROM audit_events
         WHERE event->>'kind' = 'sign_in' AND event->>'outcome' IN ('accepted', 'no_roles')
           AND at >= $1
         ORDER BY event->>'idp', event->>'subject', seq DESC
         LIMIT $2",
    )
    .bind(since)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let event: serde_json::Value = r.try_get("event")?;
            let text =
                |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_string);
            Ok(SeenPerson {
                idp: text(event.get("idp")).unwrap_or_default(),
                subject: text(event.get("subject")).unwrap_or_default(),
                groups: event
                    .get("groups")
                    .and_then(|g| g.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                email: text(event.get("details").and_then(|d| d.get("email"))),
                at: r.try_get("at")?,
            })
        })
        .collect()
}
