//! The ways to reach AWS (issue 3), behind one entry point: [`AwsRuntime::issue`] looks at the
//! grant's access mode and
//! - `saml_broker`: signs a fresh SAML Response for exactly the picked role
//!   (`broker.rs`), then AssumeRoleWithSAML;
//! - `saml_passthrough` (retired): refused with the reason, nothing sent (AWS redeems only a
//!   Response addressed to its own sign-in URL; an IdP addresses Roleport's ACS);
//! - `assume_role`: Roleport's own credentials (the standard chain) call AssumeRole with the
//!   session name, SourceIdentity, session tags and the external id; role chaining (own
//!   credentials that are themselves temporary) caps the session at one hour;
//! - `federation_token`: the IAM user's keys call GetFederationToken with the grant's session
//!   policy, which is required.
//!
//! Every value is checked by the pure rules in `protocol::aws` before anything is sent. A mode
//! whose prerequisites are missing (no own credentials, no IAM user keys) is refused here, at
//! issue time: the rules naming the mode live in Postgres and change while Roleport runs.

use super::broker::{AwsRuntime, IssueError, IssueOutcome, IssueRequest};
use super::sts::{AssumeRoleCall, FederationTokenCall};
use crate::domain::{FederatedIdentity, KeptIdToken};
use crate::protocol::aws::{
    CredentialKind, DurationRequest, FederationDurationRequest, FederationTokenName,
    MAX_MINTED_TOKEN_SECONDS, MintError, RoleSessionName, SessionTags, SourceIdentity,
    WebIdentityClaims, check_federation_policies, federation_token_duration,
    mint_web_identity_token, scoped_identity, session_duration,
};
use crate::protocol::mapping::AccessMode;
use std::sync::Arc;
use tokio::sync::Semaphore;

impl AwsRuntime {
    /// Issues credentials for the grant in `req`, by the grant's access mode.
    pub async fn issue(
        &self,
        blocking: &Arc<Semaphore>,
        req: IssueRequest<'_>,
    ) -> Result<IssueOutcome, IssueError> {
        match req.grant.access.mode {
            AccessMode::SamlBroker => self.issue_saml_broker(blocking, req).await,
            // A stored rule may still name it: refused with the reason, never re-routed.
            AccessMode::SamlPassthrough => {
                Err(IssueError::RetiredMode(AccessMode::SamlPassthrough))
            }
            AccessMode::AssumeRole => self.issue_assume_role(req).await,
            AccessMode::FederationToken => self.issue_federation_token(req).await,
            AccessMode::OidcBroker => self.issue_oidc_broker(req).await,
            AccessMode::OidcPassthrough => self.issue_oidc_passthrough(req).await,
        }
    }

    /// The upstream provider's own ID token to AssumeRoleWithWebIdentity, as it was issued. The
    /// rules still decide the role; AWS decides whether it trusts that provider for it.
    async fn issue_oidc_passthrough(
        &self,
        req: IssueRequest<'_>,
    ) -> Result<IssueOutcome, IssueError> {
        let grant = req.grant;
        let upstream = match req.upstream_id_token {
            KeptIdToken::Open(token) => token,
            KeptIdToken::None => return Err(IssueError::NoUpstreamIdToken),
            KeptIdToken::Unreadable(why) => {
                return Err(IssueError::UpstreamIdTokenUnreadable(why.clone()));
            }
        };
        // A token that expires within a minute would fail at AWS or soon after: ask now.
        if upstream.expires_at <= req.now + chrono::Duration::seconds(60) {
            return Err(IssueError::UpstreamIdTokenExpired {
                expires: upstream.expires_at,
            });
        }
        crate::protocol::aws::check_web_identity_token(upstream.token())?;
        let duration = session_duration(&DurationRequest {
            requested: req.requested_seconds,
            rule_cap: req.rule_cap,
            role_maximum: req.role_maximum,
            saml_session_duration: None,
            chained: false,
        })?;
        let role_session_name = session_name(req.identity);
        let issued = self
            .sts
            .assume_role_with_web_identity(
                grant.partition,
                &grant.role_arn,
                role_session_name.as_str(),
                upstream.token(),
                duration.seconds(),
            )
            .await?;
        Ok(IssueOutcome {
            issued,
            duration,
            role_session_name: role_session_name.as_str().to_string(),
            source_identity: None,
            kind: CredentialKind::AssumeRoleWithWebIdentity,
            mode: AccessMode::OidcPassthrough.as_str(),
        })
    }

    /// Roleport mints an RS256 ID token for exactly this grant (it is the OpenID provider AWS
    /// trusts), then AssumeRoleWithWebIdentity.
    async fn issue_oidc_broker(&self, req: IssueRequest<'_>) -> Result<IssueOutcome, IssueError> {
        let grant = req.grant;
        let duration = session_duration(&DurationRequest {
            requested: req.requested_seconds,
            rule_cap: req.rule_cap,
            role_maximum: req.role_maximum,
            saml_session_duration: None,
            chained: false,
        })?;
        let keys = self.keys.current();
        let key = keys.oidc_signer().ok_or(IssueError::NoOidcKey)?;
        let role_session_name = session_name(req.identity);
        let source_identity = source_identity(req.identity);
        let tags = SessionTags::from_map(&grant.session_tags, &grant.transitive_tag_keys)?;
        let mut jti = [0u8; 16];
        openssl::rand::rand_bytes(&mut jti).map_err(|e| IssueError::Signing(e.to_string()))?;
        let jti = hex::encode(jti);
        let token = mint_web_identity_token(
            key,
            &WebIdentityClaims {
                issuer: &self.oidc_issuer,
                audience: grant.access.oidc_audience(),
                subject: &scoped_identity(&req.identity.subject, &req.identity.idp),
                source_identity: &source_identity,
                tags: &tags,
                jti: &jti,
                now: req.now,
                valid_for_seconds: MAX_MINTED_TOKEN_SECONDS,
            },
        )
        .map_err(|e| match e {
            MintError::Rule(rule) => IssueError::Rule(rule),
            other => IssueError::Signing(other.to_string()),
        })?;
        let issued = self
            .sts
            .assume_role_with_web_identity(
                grant.partition,
                &grant.role_arn,
                role_session_name.as_str(),
                &token,
                duration.seconds(),
            )
            .await?;
        Ok(IssueOutcome {
            issued,
            duration,
            role_session_name: role_session_name.as_str().to_string(),
            source_identity: Some(source_identity.as_str().to_string()),
            kind: CredentialKind::AssumeRoleWithWebIdentity,
            mode: AccessMode::OidcBroker.as_str(),
        })
    }

    /// AssumeRole with Roleport's own credentials.
    async fn issue_assume_role(&self, req: IssueRequest<'_>) -> Result<IssueOutcome, IssueError> {
        let grant = req.grant;
        let credentials = self
            .own_credentials
            .get(req.now)
            .await
            .map_err(IssueError::NoOwnCredentials)?;
        // Temporary credentials calling AssumeRole is role chaining: one hour at most, and no
        // SessionDuration for the console.
        let chained = credentials.session_token().is_some();
        let duration = session_duration(&DurationRequest {
            requested: req.requested_seconds,
            rule_cap: req.rule_cap,
            role_maximum: req.role_maximum,
            saml_session_duration: None,
            chained,
        })?;
        let role_session_name = session_name(req.identity);
        let source_identity = source_identity(req.identity);
        let tags = SessionTags::from_map(&grant.session_tags, &grant.transitive_tag_keys)?;
        let issued = self
            .sts
            .assume_role(
                grant.partition,
                credentials,
                AssumeRoleCall {
                    role_arn: &grant.role_arn,
                    role_session_name: role_session_name.as_str(),
                    source_identity: source_identity.as_str(),
                    tags: &tags,
                    external_id: grant.access.external_id.as_deref(),
                    duration_seconds: duration.seconds(),
                },
            )
            .await?;
        Ok(IssueOutcome {
            issued,
            duration,
            role_session_name: role_session_name.as_str().to_string(),
            source_identity: Some(source_identity.as_str().to_string()),
            kind: CredentialKind::AssumeRole { chained },
            mode: AccessMode::AssumeRole.as_str(),
        })
    }

    /// GetFederationToken with the IAM user's keys and the grant's session policy.
    async fn issue_federation_token(
        &self,
        req: IssueRequest<'_>,
    ) -> Result<IssueOutcome, IssueError> {
        let grant = req.grant;
        let policy = grant.access.session_policy.as_ref();
        // Refused without a policy: the credentials would have no permissions at all.
        let packed = check_federation_policies(
            grant.partition,
            policy.and_then(|p| p.inline.as_deref()),
            policy
                .map(|p| p.managed_arns.as_slice())
                .unwrap_or_default(),
        )?;
        let duration = federation_token_duration(&FederationDurationRequest {
            requested: req.requested_seconds,
            rule_cap: req.rule_cap,
            role_maximum: req.role_maximum,
        })?;
        let user = self
            .federation_user
            .clone()
            .ok_or(IssueError::NoFederationUser)?;
        let name = FederationTokenName::of_person(person(req.identity), &req.identity.idp);
        // GetFederationToken takes session tags but has no transitive keys (a federated user
        // cannot chain roles).
        let tags = SessionTags::from_map(&grant.session_tags, &[])?;
        let issued = self
            .sts
            .get_federation_token(
                grant.partition,
                user,
                FederationTokenCall {
                    name: name.as_str(),
                    duration_seconds: duration.seconds(),
                    policy: packed.as_deref(),
                    policy_arns: policy
                        .map(|p| p.managed_arns.as_slice())
                        .unwrap_or_default(),
                    tags: &tags,
                },
            )
            .await?;
        Ok(IssueOutcome {
            issued,
            duration,
            role_session_name: name.as_str().to_string(),
            source_identity: None,
            kind: CredentialKind::FederationToken,
            mode: AccessMode::FederationToken.as_str(),
        })
    }
}

/// Whom AWS names in the session: the e-mail address when there is one (an identity only
/// carries one its IdP vouches for), else the subject.
fn person(identity: &FederatedIdentity) -> &str {
    identity.email.as_deref().unwrap_or(&identity.subject)
}

/// The RoleSessionName: `<person>@<idp>`, fitted, so two IdPs' users never share one.
pub(crate) fn session_name(identity: &FederatedIdentity) -> RoleSessionName {
    RoleSessionName::of_person(person(identity), &identity.idp)
}

/// The SourceIdentity: `<subject>@<idp>`, fitted. Customers write IAM conditions on it.
pub(crate) fn source_identity(identity: &FederatedIdentity) -> SourceIdentity {
    SourceIdentity::of_person(&identity.subject, &identity.idp)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::protocol::aws::AwsRuleError;
    use std::collections::BTreeMap;

    #[test]
    fn person_prefers_the_email() {
        let mut id = FederatedIdentity {
            idp: "corp".into(),
            subject: "uid-1".into(),
            email: Some("alice@example.org".into()),
            display_name: None,
            groups: vec![],
            attributes: BTreeMap::new(),
        };
        assert_eq!(person(&id), "alice@example.org");
        id.email = None;
        assert_eq!(person(&id), "uid-1");
    }

    #[test]
    fn error_classes_tell_who_can_act() {
        use super::super::broker::IssueErrorClass as C;
        let table = [
            (
                IssueError::RetiredMode(AccessMode::SamlPassthrough),
                C::Retired,
            ),
            (IssueError::NoUpstreamIdToken, C::WrongSignIn),
            (
                IssueError::UpstreamIdTokenExpired {
                    expires: chrono::DateTime::UNIX_EPOCH,
                },
                C::SignInAgain,
            ),
            (
                IssueError::UpstreamIdTokenUnreadable(
                    crate::domain::UnreadableIdToken::KeyRemoved {
                        key_id: "k1".into(),
                    },
                ),
                C::SignInAgain,
            ),
            (
                IssueError::Rule(AwsRuleError::FederationPolicyMissing),
                C::Refused,
            ),
            (IssueError::NoFederationUser, C::Configuration),
            (
                IssueError::NoOwnCredentials("none".into()),
                C::Configuration,
            ),
        ];
        for (e, class) in table {
            assert_eq!(e.class(), class, "{e}");
            assert!(!e.code().is_empty());
        }
        let missing = IssueError::Rule(AwsRuleError::FederationPolicyMissing).to_string();
        assert!(missing.contains("needs a session policy"), "{missing}");
        let retired = IssueError::RetiredMode(AccessMode::SamlPassthrough).to_string();
        assert!(
            retired.contains("saml_passthrough is retired") && retired.contains("saml_broker"),
            "{retired}"
        );
    }
}
