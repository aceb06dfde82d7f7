//! Credentials for a picked grant: the grant is re-derived from the rules (deny by default),
//! AWS is reached the way the grant's access mode says, the audit row is committed, and only
//! then is anything handed over. Every refusal and failure is audited too.

use super::{Error, audit_or_log, claims_of};
use crate::audit::{AuditEvent, EventKind, Outcome, new_reference};
use crate::aws::broker::{IssueOutcome, IssueRequest};
use crate::db;
use crate::db::sessions::Session;
use crate::domain::FederatedIdentity;
use crate::http::AppState;
use crate::http::request_meta::RequestMeta;
use crate::protocol::mapping::Grant;

/// The grant as the rules decide it now, with the role maximum and the deciding rule's cap.
pub struct Picked {
    pub grant: Grant,
    pub role_maximum: u32,
    pub rule_cap: Option<u32>,
}

/// Re-derives the grant from the rules as they stand now (deny by default).
pub fn pick(state: &AppState, identity: &FederatedIdentity, grant_id: &str) -> Option<Picked> {
    let rules = state.rules();
    let decision = rules.evaluate(&claims_of(identity));
    let grant = decision.grants.into_iter().find(|g| g.id == grant_id)?;
    let set = rules.rule_set();
    let role_maximum = set
        .roles
        .iter()
        .find(|r| r.arn == grant.role_arn)
        .map(|r| r.max_session_seconds)?;
    let rule_cap = set
        .rules
        .iter()
        .find(|r| r.id == grant.rule_id)
        .and_then(|r| r.max_session_seconds);
    Some(Picked {
        grant,
        role_maximum,
        rule_cap,
    })
}

/// What one issue produced, after its audit row is committed.
pub struct Delivered {
    pub outcome: IssueOutcome,
    pub picked: Picked,
    pub reference: String,
}

/// Issues credentials for `grant_id` and commits the audit row. Every refusal and failure is
/// audited too.
pub async fn issue(
    state: &AppState,
    meta: &RequestMeta,
    session: &Session,
    grant_id: &str,
    requested_seconds: Option<u32>,
    purpose: EventKind,
) -> Result<Delivered, Error> {
    let reference = new_reference();
    let identity = &session.identity;
    let mut event = AuditEvent::new(purpose, Outcome::Rejected);
    event.idp = Some(identity.idp.clone());
    event.subject = Some(identity.subject.clone());
    event.groups = identity.groups.clone();
    event.source_ip = meta.source_ip.clone();
    event.user_agent = meta.user_agent.clone();

    let Some(picked) = pick(state, identity, grant_id) else {
        event.reason = Some(format!("no_grant: no rule grants {grant_id}"));
        audit_or_log(state, &reference, event).await;
        tracing::warn!(security = true, reference, subject = %identity.subject, grant_id, "credentials refused: no such grant");
        return Err(Error::NoSuchGrant { reference });
    };
    // The grant's access mode decides how AWS is reached.
    let outcome = state
        .aws
        .issue(
            &state.blocking,
            IssueRequest {
                identity,
                grant: &picked.grant,
                role_maximum: picked.role_maximum,
                rule_cap: picked.rule_cap,
                requested_seconds,
                now: state.clock.now(),
                upstream_id_token: &session.upstream_id_token,
            },
        )
        .await;
    let mut details = serde_json::json!({
        "grant": picked.grant.id,
        "role_arn": picked.grant.role_arn,
        "rule": picked.grant.rule_id,
        "requested_seconds": requested_seconds,
        "mode": picked.grant.access.mode.as_str(),
    });
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            // AWS's own words (code, message, request id) stay in the row and the log line.
            event.reason = Some(format!("{}: {}", e.code(), e.detail()));
            let words = e.aws_words();
            if let (Some(map), Some(words)) = (details.as_object_mut(), words) {
                map.insert("aws_error".into(), serde_json::json!(words));
            }
            event.details = details;
            audit_or_log(state, &reference, event).await;
            tracing::warn!(
                reference,
                subject = %identity.subject,
                role = %picked.grant.role_arn,
                reason = e.code(),
                aws_code = words.map(|w| w.code.as_str()),
                aws_message = words.map(|w| w.message.as_str()),
                aws_request_id = words.and_then(|w| w.request_id.as_deref()),
                error = %e,
                "credentials not issued"
            );
            return Err(Error::NotIssued {
                reference,
                error: e,
            });
        }
    };
    if let Some(map) = details.as_object_mut() {
        map.insert("mode".into(), outcome.mode.into());
        map.insert("duration_seconds".into(), outcome.duration.seconds().into());
        map.insert(
            "duration_decided_by".into(),
            outcome.duration.decided_by().as_str().into(),
        );
        map.insert(
            "role_session_name".into(),
            outcome.role_session_name.clone().into(),
        );
        map.insert(
            "source_identity".into(),
            outcome.source_identity.clone().into(),
        );
        map.insert(
            "sts_request_id".into(),
            outcome.issued.request_id.clone().into(),
        );
        map.insert(
            "access_key_id".into(),
            outcome.issued.credentials.access_key_id.clone().into(),
        );
        map.insert(
            "assumed_role_arn".into(),
            outcome.issued.assumed_role_arn.clone().into(),
        );
    }
    event.outcome = Outcome::Accepted;
    event.details = details;
    // No credential leaves Roleport unless this row is committed.
    if let Err(e) = db::audit::append(&state.pool, &reference, state.clock.now(), event).await {
        tracing::error!(reference, error = %e, access_key_id = %outcome.issued.credentials.access_key_id, "audit write failed: credentials withheld");
        return Err(Error::NotRecorded { reference });
    }
    tracing::info!(reference, subject = %identity.subject, role = %picked.grant.role_arn, access_key_id = %outcome.issued.credentials.access_key_id, duration = outcome.duration.seconds(), "credentials issued");
    Ok(Delivered {
        outcome,
        picked,
        reference,
    })
}
