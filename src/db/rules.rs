//! Accounts, roles and mapping rules in Postgres. An import replaces everything in one
//! transaction and bumps the generation, which every replica polls to reload.

use crate::protocol::mapping::{
    Access, AccessMode, Account, CompiledRules, IdpScope, Role, Rule, RuleSet, SessionPolicy,
};
use sqlx::{PgPool, Row};

#[derive(Debug, thiserror::Error)]
pub enum RulesDbError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored rules are invalid: {0}")]
    Invalid(String),
}

fn invalid(e: impl std::fmt::Display) -> RulesDbError {
    RulesDbError::Invalid(e.to_string())
}

fn json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, RulesDbError> {
    serde_json::to_value(v).map_err(invalid)
}

/// The `access` columns of an account or role row; all NULL is no `access` block.
fn access_from_row(
    row: &sqlx::postgres::PgRow,
    with_policy: bool,
) -> Result<Option<Access>, RulesDbError> {
    let mode = row
        .try_get::<Option<String>, _>("access_mode")?
        .map(|m| m.parse::<AccessMode>())
        .transpose()
        .map_err(invalid)?;
    let session_policy = if with_policy {
        let inline: Option<String> = row.try_get("session_policy_inline")?;
        let arns: Option<serde_json::Value> = row.try_get("session_policy_arns")?;
        let managed_arns: Vec<String> = arns
            .clone()
            .map(serde_json::from_value)
            .transpose()
            .map_err(invalid)?
            .unwrap_or_default();
        (inline.is_some() || arns.is_some()).then_some(SessionPolicy {
            inline,
            managed_arns,
        })
    } else {
        None
    };
    let access = Access {
        mode,
        saml_provider: row.try_get("saml_provider")?,
        external_id: row.try_get("external_id")?,
        session_policy,
        oidc_audience: row.try_get("oidc_audience")?,
    };
    Ok((!access.is_empty()).then_some(access))
}

/// Replaces the whole rule set; returns the new generation. `set` must already be validated.
pub async fn replace_all(pool: &PgPool, set: &RuleSet) -> Result<i64, RulesDbError> {
    replace_all_as(pool, set, &Importer::command_line()).await
}

/// Who imports a rules document, kept with the generation it makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Importer {
    /// The person (`idp/subject`) for an import from the admin page; the OS user or empty for
    /// the command line.
    pub by: String,
    /// `cli` or `admin-page`.
    pub via: String,
}

impl Importer {
    pub fn command_line() -> Self {
        Self {
            by: std::env::var("USER").unwrap_or_default(),
            via: "cli".into(),
        }
    }

    pub fn admin_page(idp: &str, subject: &str) -> Self {
        Self {
            by: format!("{idp}/{subject}"),
            via: "admin-page".into(),
        }
    }
}

/// The current generation and where it came from.
#[derive(Debug, Clone)]
pub struct Provenance {
    pub generation: i64,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub importer: Importer,
}

pub async fn provenance(pool: &PgPool) -> Result<Provenance, sqlx::Error> {
    let row = sqlx::query(
        "SELECT generation, updated_at, imported_by, imported_via FROM rules_generation",
    )
    .fetch_one(pool)
    .await?;
    Ok(Provenance {
        generation: row.try_get("generation")?,
        updated_at: row.try_get("updated_at")?,
        importer: Importer {
            by: row.try_get("imported_by")?,
            via: row.try_get("imported_via")?,
        },
    })
}

/// [`replace_all`], naming who imports.
pub async fn replace_all_as(
    pool: &PgPool,
    set: &RuleSet,
    importer: &Importer,
) -> Result<i64, RulesDbError> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM mapping_rules")
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM aws_roles")
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM aws_accounts")
        .execute(&mut *tx)
        .await?;
    for a in &set.accounts {
        let access = a.access.clone().unwrap_or_default();
        sqlx::query(
            "INSERT INTO aws_accounts (id, alias, partition, access_mode, saml_provider, external_id,
                 oidc_audience, environment, owner, description)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&a.id)
        .bind(&a.alias)
        .bind(String::from(a.partition))
        .bind(access.mode.map(String::from))
        .bind(&access.saml_provider)
        .bind(&access.external_id)
        .bind(&access.oidc_audience)
        .bind(&a.environment)
        .bind(&a.owner)
        .bind(&a.description)
        .execute(&mut *tx)
        .await?;
    }
    for r in &set.roles {
        let account = crate::protocol::mapping::RoleArn::parse(&r.arn)
            .map(|a| a.account_id.to_string())
            .ok_or_else(|| invalid(format!("role ARN {} is malformed", r.arn)))?;
        let access = r.access.clone().unwrap_or_default();
        let policy = access.session_policy.as_ref();
        sqlx::query(
            "INSERT INTO aws_roles (arn, account_id, display_name, description, max_session_seconds,
                 access_mode, saml_provider, external_id, session_policy_inline, session_policy_arns,
                 oidc_audience)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&r.arn)
        .bind(account)
        .bind(&r.display_name)
        .bind(&r.description)
        .bind(i32::try_from(r.max_session_seconds).map_err(invalid)?)
        .bind(access.mode.map(String::from))
        .bind(&access.saml_provider)
        .bind(&access.external_id)
        .bind(policy.and_then(|p| p.inline.clone()))
        .bind(policy.map(|p| json(&p.managed_arns)).transpose()?)
        .bind(&access.oidc_audience)
        .execute(&mut *tx)
        .await?;
    }
    for rule in &set.rules {
        // Documents refuse such a rule; this keeps any other caller from storing one.
        let idps = rule.idp.as_ref().map(IdpScope::ids).ok_or_else(|| {
            invalid(format!(
                "rule {} names no idp: every rule must name its IdP",
                rule.id
            ))
        })?;
        sqlx::query(
            "INSERT INTO mapping_rules (id, description, idps, claim, match_kind, pattern, roles, effect, priority,
                 max_session_seconds, session_tags, transitive_tag_keys, capabilities, ad_domains,
                 ad_allow_unqualified)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(&rule.id)
        .bind(&rule.description)
        .bind(json(&idps)?)
        .bind(String::from(rule.claim.clone()))
        .bind(String::from(rule.match_kind))
        .bind(&rule.pattern)
        .bind(json(&rule.roles)?)
        .bind(String::from(rule.effect))
        .bind(rule.priority)
        .bind(rule.max_session_seconds.map(i32::try_from).transpose().map_err(invalid)?)
        .bind(json(&rule.session_tags)?)
        .bind(json(&rule.transitive_tag_keys)?)
        .bind(json(&rule.capabilities)?)
        .bind(json(&rule.domains)?)
        .bind(rule.allow_unqualified)
        .execute(&mut *tx)
        .await?;
    }
    let generation: i64 = sqlx::query(
        "UPDATE rules_generation SET generation = generation + 1, updated_at = now(),
             imported_by = $1, imported_via = $2
         RETURNING generation",
    )
    .bind(&importer.by)
    .bind(&importer.via)
    .fetch_one(&mut *tx)
    .await?
    .try_get("generation")?;
    tx.commit().await?;
    Ok(generation)
}

pub async fn generation(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT generation FROM rules_generation")
        .fetch_one(pool)
        .await?
        .try_get("generation")
}

pub async fn load(pool: &PgPool) -> Result<RuleSet, RulesDbError> {
    Ok(load_with_generation(pool).await?.1)
}

async fn load_with_generation(pool: &PgPool) -> Result<(i64, RuleSet), RulesDbError> {
    // One snapshot, so an import in between cannot mix two generations.
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let generation: i64 = sqlx::query("SELECT generation FROM rules_generation")
        .fetch_one(&mut *tx)
        .await?
        .try_get("generation")?;
    let mut accounts = Vec::new();
    for row in sqlx::query(
        "SELECT id, alias, partition, access_mode, saml_provider, external_id, oidc_audience,
                environment, owner, description
         FROM aws_accounts ORDER BY id",
    )
    .fetch_all(&mut *tx)
    .await?
    {
        accounts.push(Account {
            id: row.try_get("id")?,
            alias: row.try_get("alias")?,
            partition: row
                .try_get::<String, _>("partition")?
                .try_into()
                .map_err(invalid)?,
            access: access_from_row(&row, false)?,
            environment: row.try_get("environment")?,
            owner: row.try_get("owner")?,
            description: row.try_get("description")?,
        });
    }
    let mut roles = Vec::new();
    for row in sqlx::query(
        "SELECT arn, display_name, description, max_session_seconds, access_mode, saml_provider,
                external_id, session_policy_inline, session_policy_arns, oidc_audience
         FROM aws_roles ORDER BY arn",
    )
    .fetch_all(&mut *tx)
    .await?
    {
        roles.push(Role {
            arn: row.try_get("arn")?,
            display_name: row.try_get("display_name")?,
            description: row.try_get("description")?,
            max_session_seconds: u32::try_from(row.try_get::<i32, _>("max_session_seconds")?)
                .map_err(invalid)?,
            access: access_from_row(&row, true)?,
        });
    }
    let mut rules = Vec::new();
    for row in sqlx::query(
        "SELECT id, description, idps, claim, match_kind, pattern, roles, effect, priority, max_session_seconds,
                session_tags, transitive_tag_keys, capabilities, ad_domains, ad_allow_unqualified
         FROM mapping_rules ORDER BY id",
    )
    .fetch_all(&mut *tx)
    .await?
    {
        rules.push(Rule {
            id: row.try_get("id")?,
            description: row.try_get("description")?,
            idp: row
                .try_get::<Option<serde_json::Value>, _>("idps")?
                .map(serde_json::from_value::<Vec<String>>)
                .transpose()
                .map_err(invalid)?
                .map(IdpScope::from_ids),
            claim: row.try_get::<String, _>("claim")?.try_into().map_err(invalid)?,
            match_kind: row.try_get::<String, _>("match_kind")?.try_into().map_err(invalid)?,
            pattern: row.try_get("pattern")?,
            domains: serde_json::from_value(row.try_get("ad_domains")?).map_err(invalid)?,
            allow_unqualified: row.try_get("ad_allow_unqualified")?,
            roles: serde_json::from_value(row.try_get("roles")?).map_err(invalid)?,
            effect: row.try_get::<String, _>("effect")?.try_into().map_err(invalid)?,
            priority: row.try_get("priority")?,
            max_session_seconds: row
                .try_get::<Option<i32>, _>("max_session_seconds")?
                .map(u32::try_from)
                .transpose()
                .map_err(invalid)?,
            session_tags: serde_json::from_value(row.try_get("session_tags")?).map_err(invalid)?,
            transitive_tag_keys: serde_json::from_value(row.try_get("transitive_tag_keys")?)
                .map_err(invalid)?,
            capabilities: serde_json::from_value(row.try_get("capabilities")?).map_err(invalid)?,
        });
    }
    tx.commit().await?;
    Ok((
        generation,
        RuleSet {
            accounts,
            roles,
            rules,
        },
    ))
}

/// Loads and compiles (patterns built once, here, not per sign-in).
pub async fn load_compiled(pool: &PgPool) -> Result<(i64, CompiledRules), RulesDbError> {
    let (generation, set) = load_with_generation(pool).await?;
    let compiled = CompiledRules::compile(set).map_err(|errors| {
        invalid(
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    let unscoped = compiled.rules_without_idp();
    if !unscoped.is_empty() {
        tracing::error!(
            security = true,
            rules = ?unscoped,
            "mapping rules stored without idp apply to no IdP: import the rules again with idp set on every rule"
        );
    }
    warn_retired_modes(compiled.rule_set());
    Ok((generation, compiled))
}

/// Stored rules may still name a retired mode: they load (their grants are refused when used,
/// with the reason), and the operator hears about it at every load.
fn warn_retired_modes(set: &RuleSet) {
    let retired = |access: &Option<Access>| {
        access
            .as_ref()
            .and_then(|a| a.mode)
            .filter(|m| m.is_retired())
    };
    for account in &set.accounts {
        if let Some(mode) = retired(&account.access) {
            tracing::warn!(account = %account.id, %mode, "stored rules name a retired access mode; its grants are refused: re-import the rules with saml_broker or oidc_passthrough");
        }
    }
    for role in &set.roles {
        if let Some(mode) = retired(&role.access) {
            tracing::warn!(role = %role.arn, %mode, "stored rules name a retired access mode; its grants are refused: re-import the rules with saml_broker or oidc_passthrough");
        }
    }
}
