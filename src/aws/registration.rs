//! `roleport aws status` / `register`: for each account of the rules, assume its registration
//! role with Roleport's own credentials, read its IAM SAML/OIDC providers and compare them with
//! what Roleport publishes; with `apply`, create or update what is missing or stale and read it
//! back. The comparison is `crate::protocol::aws::registration`.

use super::broker::AwsRuntime;
use super::iam::{Iam, IamError};
use super::sts::AssumeRoleCall;
use crate::configuration::RegistrationSettings;
use crate::protocol::aws::SessionTags;
use crate::protocol::aws::registration::{
    AccountNeeds, ExpectedOidc, ExpectedSaml, LineState, ProviderCheck, ReportLine, check_oidc,
    check_saml, oidc_provider_arn, registration_role_arn, saml_provider_arn,
};
use crate::protocol::mapping::Partition;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The session name and SourceIdentity of the registration role's sessions in CloudTrail.
pub const REGISTRATION_SESSION: &str = "roleport-registration";

/// What Roleport publishes, for the comparison and for the pushed document.
pub struct Published {
    pub saml: ExpectedSaml,
    /// The document CreateSAMLProvider / UpdateSAMLProvider send.
    pub metadata: String,
    pub oidc_issuer: String,
}

impl Published {
    pub fn of(aws: &AwsRuntime, public_url: &str) -> Self {
        let keys = aws.published_keys();
        Self {
            saml: ExpectedSaml {
                entity_id: aws.idp_entity_id.clone(),
                certificates: keys.certificates(),
            },
            metadata: aws.idp_metadata(&format!("{}/login", public_url.trim_end_matches('/'))),
            oidc_issuer: aws.oidc_issuer.clone(),
        }
    }
}

/// How the survey reaches each account.
pub struct Reach<'a> {
    pub aws: &'a AwsRuntime,
    pub settings: &'a RegistrationSettings,
    pub now: DateTime<Utc>,
    pub timeout: Duration,
}

/// One account's IAM through its registration role, or why it could not be reached.
pub async fn open_account(
    reach: &Reach<'_>,
    partition: Partition,
    account_id: &str,
) -> Result<Iam, String> {
    let endpoints = reach
        .aws
        .endpoints(partition)
        .ok_or_else(|| format!("no endpoints for partition {partition}"))?;
    let own = reach
        .aws
        .own_credentials
        .get(reach.now)
        .await
        .map_err(|e| format!("Roleport has no AWS credentials of its own: {e}"))?;
    let role_arn = registration_role_arn(&reach.settings.role_arn_pattern, partition, account_id);
    let issued = reach
        .aws
        .sts
        .assume_role(
            partition,
            own,
            AssumeRoleCall {
                role_arn: &role_arn,
                role_session_name: REGISTRATION_SESSION,
                source_identity: REGISTRATION_SESSION,
                tags: &SessionTags::empty(),
                external_id: reach.settings.external_id.as_deref(),
                duration_seconds: 900,
            },
        )
        .await
        .map_err(|e| format!("AssumeRole {role_arn}: {}", e.detail()))?;
    Ok(Iam::new(endpoints, &issued.credentials, reach.timeout))
}

fn line(needs: &AccountNeeds, provider: String, state: LineState) -> ReportLine {
    ReportLine {
        account_id: needs.account_id.clone(),
        partition: needs.partition,
        provider,
        state,
        action: None,
    }
}

/// Checks (and with `apply`, fixes) every provider `needs` names. An account that cannot be
/// reached is one `cannot-assume` line.
pub async fn survey_account(
    reach: &Reach<'_>,
    published: &Published,
    needs: &AccountNeeds,
    apply: bool,
) -> Vec<ReportLine> {
    if needs.saml_providers.is_empty() && needs.oidc_audiences.is_empty() {
        return Vec::new();
    }
    let iam = match open_account(reach, needs.partition, &needs.account_id).await {
        Ok(iam) => iam,
        Err(why) => return vec![line(needs, "-".into(), LineState::CannotAssume(why))],
    };
    let mut lines = Vec::new();
    for name in &needs.saml_providers {
        let arn = saml_provider_arn(needs.partition, &needs.account_id, name);
        let mut l = line(
            needs,
            format!("saml-provider/{name}"),
            LineState::Checked(ProviderCheck::Ok),
        );
        match saml_step(&iam, published, name, &arn, apply).await {
            Ok((state, action)) => {
                l.state = LineState::Checked(state);
                l.action = action;
            }
            Err(e) => l.state = LineState::Failed(e.to_string()),
        }
        lines.push(l);
    }
    if !needs.oidc_audiences.is_empty() {
        let expected = ExpectedOidc {
            issuer: published.oidc_issuer.clone(),
            audiences: needs.oidc_audiences.clone(),
            thumbprints: reach.settings.oidc_thumbprints.iter().cloned().collect(),
        };
        let arn = oidc_provider_arn(needs.partition, &needs.account_id, &expected.issuer);
        let mut l = line(
            needs,
            arn.rsplit_once(":oidc-provider/")
                .map(|(_, p)| format!("oidc-provider/{p}"))
                .unwrap_or_else(|| arn.clone()),
            LineState::Checked(ProviderCheck::Ok),
        );
        match oidc_step(&iam, &expected, &arn, apply).await {
            Ok((state, action)) => {
                l.state = LineState::Checked(state);
                l.action = action;
            }
            Err(e) => l.state = LineState::Failed(e.to_string()),
        }
        lines.push(l);
    }
    lines
}

enum Planned {
    /// Nothing to do (ok), or a dry run: the action column as it stands.
    Report(Option<String>),
    /// `create` or `update`, to be carried out.
    Do(&'static str),
}

fn planned(check: &ProviderCheck, apply: bool) -> Planned {
    let action = match check {
        ProviderCheck::Ok => return Planned::Report(None),
        ProviderCheck::Missing => "create",
        ProviderCheck::Stale(_) => "update",
    };
    if apply {
        Planned::Do(action)
    } else {
        Planned::Report(Some(format!("would {action} (run with --apply)")))
    }
}

async fn saml_step(
    iam: &Iam,
    published: &Published,
    name: &str,
    arn: &str,
    apply: bool,
) -> Result<(ProviderCheck, Option<String>), IamError> {
    let check = check_saml(&published.saml, iam.saml_metadata(arn).await?.as_deref());
    let action = match planned(&check, apply) {
        Planned::Report(text) => return Ok((check, text)),
        Planned::Do(action) => action,
    };
    match check {
        ProviderCheck::Missing => iam.create_saml(name, &published.metadata).await?,
        _ => iam.update_saml(arn, &published.metadata).await?,
    }
    // Read back: only what IAM now holds counts.
    let after = check_saml(&published.saml, iam.saml_metadata(arn).await?.as_deref());
    Ok((after, Some(format!("{action}d"))))
}

async fn oidc_step(
    iam: &Iam,
    expected: &ExpectedOidc,
    arn: &str,
    apply: bool,
) -> Result<(ProviderCheck, Option<String>), IamError> {
    let (check, fix) = check_oidc(expected, iam.oidc(arn).await?.as_ref());
    let action = match planned(&check, apply) {
        Planned::Report(text) => return Ok((check, text)),
        Planned::Do(action) => action,
    };
    if check == ProviderCheck::Missing {
        iam.create_oidc(
            &expected.issuer,
            expected.audiences.iter().cloned().collect(),
            expected.thumbprints.iter().cloned().collect(),
        )
        .await?;
    } else {
        for client_id in &fix.add_client_ids {
            iam.add_oidc_client_id(arn, client_id).await?;
        }
        if let Some(thumbprints) = fix.set_thumbprints {
            iam.set_oidc_thumbprints(arn, thumbprints).await?;
        }
    }
    let (after, _) = check_oidc(expected, iam.oidc(arn).await?.as_ref());
    Ok((after, Some(format!("{action}d"))))
}

/// Every account of the rules in `pool`: checked, and with `apply` fixed; each change is audited.
pub async fn survey(
    pool: &sqlx::PgPool,
    aws: &AwsRuntime,
    settings: &crate::configuration::AwsSettings,
    public_url: &str,
    now: DateTime<Utc>,
    apply: bool,
) -> Result<Vec<ReportLine>, String> {
    let set = crate::db::rules::load(pool)
        .await
        .map_err(|e| format!("the rules: {e}"))?;
    let published = Published::of(aws, public_url);
    let reach = Reach {
        aws,
        settings: &settings.registration,
        now,
        timeout: Duration::from_secs(settings.sts_timeout_seconds),
    };
    let mut lines = Vec::new();
    for needs in crate::protocol::aws::registration::account_needs(&set, &aws.provider_name) {
        lines.extend(survey_account(&reach, &published, &needs, apply).await);
    }
    if apply {
        for l in lines
            .iter()
            .filter(|l| l.action.is_some() || matches!(l.state, LineState::Failed(_)))
        {
            audit_change(pool, now, l).await;
        }
    }
    Ok(lines)
}

async fn audit_change(pool: &sqlx::PgPool, now: DateTime<Utc>, l: &ReportLine) {
    use crate::audit::{AuditEvent, EventKind, Outcome};
    let mut event = AuditEvent::new(
        EventKind::AwsRegistration,
        if l.is_ok() {
            Outcome::Accepted
        } else {
            Outcome::Rejected
        },
    );
    if !l.is_ok() {
        event.reason = Some(format!("aws_registration_{}: {}", l.label(), l.detail()));
    }
    event.details = serde_json::json!({
        "account": l.account_id,
        "partition": l.partition.as_str(),
        "provider": l.provider,
        "action": l.action,
        "state": l.label(),
        "via": "command_line",
    });
    let reference = crate::audit::new_reference();
    if let Err(e) = crate::db::audit::append(pool, &reference, now, event).await {
        eprintln!(
            "warning: the audit row for {} {} was not written: {e}",
            l.account_id, l.provider
        );
    }
}

/// The report as `roleport aws status` prints it: a header, one tab-separated line each.
pub fn render(lines: &[ReportLine]) -> String {
    let mut out = String::from("account\tpartition\tprovider\tstate\taction\tdetail\n");
    for l in lines {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            l.account_id,
            l.partition,
            l.provider,
            l.label(),
            l.action.as_deref().unwrap_or("-"),
            l.detail()
        ));
    }
    let summary = crate::protocol::aws::registration::summary(lines);
    let parts: Vec<String> = summary.iter().map(|(k, v)| format!("{v} {k}")).collect();
    out.push_str(&format!(
        "{} provider line(s): {}\n",
        lines.len(),
        if parts.is_empty() {
            "nothing to check".to_string()
        } else {
            parts.join(", ")
        }
    ));
    out
}
