//! Console-only sign-in through AWS's own SAML endpoint: Roleport signs a Response for exactly
//! this role and the browser posts it to AWS, which then runs the console session itself. No
//! STS call, no credentials in Roleport's hands; the audit row is committed before the page.

use super::issue::{Picked, pick};
use super::{Error, audit_or_log};
use crate::audit::{AuditEvent, EventKind, Outcome, new_reference};
use crate::aws::broker::{BrokerSigned, IssueRequest};
use crate::db;
use crate::db::sessions::Session;
use crate::http::AppState;
use crate::http::request_meta::RequestMeta;
use crate::protocol::mapping::AccessMode;

/// A signed Response for the role, its audit row committed.
pub struct Posted {
    pub picked: Picked,
    pub signed: BrokerSigned,
    pub reference: String,
}

pub async fn saml_post(
    state: &AppState,
    meta: &RequestMeta,
    session: &Session,
    grant_id: &str,
) -> Result<Posted, Error> {
    let reference = new_reference();
    let identity = &session.identity;
    let mut event = AuditEvent::new(EventKind::ConsoleSamlPost, Outcome::Rejected);
    event.idp = Some(identity.idp.clone());
    event.subject = Some(identity.subject.clone());
    event.groups = identity.groups.clone();
    event.source_ip = meta.source_ip.clone();
    event.user_agent = meta.user_agent.clone();
    let Some(picked) = pick(state, identity, grant_id) else {
        event.reason = Some(format!("no_grant: no rule grants {grant_id}"));
        audit_or_log(state, &reference, event).await;
        return Err(Error::NoSuchRole { reference });
    };
    if picked.grant.access.mode != AccessMode::SamlBroker {
        event.reason = Some("mode: console SAML POST needs saml_broker".into());
        audit_or_log(state, &reference, event).await;
        return Err(Error::NotSamlBroker { reference });
    }
    let request = IssueRequest {
        identity,
        grant: &picked.grant,
        role_maximum: picked.role_maximum,
        rule_cap: picked.rule_cap,
        requested_seconds: None,
        now: state.clock.now(),
        upstream_id_token: &crate::domain::KeptIdToken::None,
    };
    let signed = match state
        .aws
        .sign_broker_response(&state.blocking, &request)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            event.reason = Some(format!("{}: {e}", e.code()));
            audit_or_log(state, &reference, event).await;
            tracing::warn!(reference, reason = e.code(), error = %e, "SAML POST not signed");
            return Err(Error::NotSigned {
                reference,
                error: e,
            });
        }
    };
    event.outcome = Outcome::Accepted;
    event.details = serde_json::json!({
        "grant": picked.grant.id,
        "role_arn": picked.grant.role_arn,
        "rule": picked.grant.rule_id,
        "mode": "saml_broker",
        "delivery": "console_saml_post",
        "response_id": signed.signed.response_id,
        "duration_seconds": signed.duration.seconds(),
        "role_session_name": signed.role_session_name,
        "recipient": signed.recipient,
    });
    if let Err(e) = db::audit::append(&state.pool, &reference, state.clock.now(), event).await {
        tracing::error!(reference, error = %e, "audit write failed: SAML POST withheld");
        return Err(Error::NotRecorded { reference });
    }
    Ok(Posted {
        picked,
        signed,
        reference,
    })
}
