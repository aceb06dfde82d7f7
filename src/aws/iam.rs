//! IAM in one account, through the registration role's temporary credentials: read, create and
//! update Roleport's SAML and OIDC providers. Thin: what to do is decided by
//! `crate::protocol::aws::registration`.

use super::sts::https_client;
use crate::protocol::aws::registration::ObservedOidc;
use crate::protocol::aws::{PartitionEndpoints, TemporaryCredentials, iam_signing_region};
use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::config::timeout::TimeoutConfig;
use aws_sdk_iam::config::{BehaviorVersion, Region};
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::time::Duration;

/// What IAM answered, in words fit for a report line and an audit row (no secret in them).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation}: {detail}")]
pub struct IamError {
    pub operation: &'static str,
    pub code: Option<String>,
    pub detail: String,
}

fn iam_error<E, R>(operation: &'static str, e: SdkError<E, R>) -> IamError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    IamError {
        operation,
        code: e
            .as_service_error()
            .and_then(|s| s.code())
            .map(str::to_string),
        detail: DisplayErrorContext(&e).to_string(),
    }
}

fn is_no_such_entity<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| c == "NoSuchEntity")
}

pub struct Iam {
    client: aws_sdk_iam::Client,
}

impl Iam {
    /// A client for the account whose registration role handed out `credentials`.
    pub fn new(
        endpoints: &PartitionEndpoints,
        credentials: &TemporaryCredentials,
        timeout: Duration,
    ) -> Self {
        let creds = aws_credential_types::Credentials::new(
            credentials.access_key_id.clone(),
            credentials.secret_access_key.clone(),
            Some(credentials.session_token.clone()),
            Some(std::time::SystemTime::from(credentials.expiration)),
            "roleport-registration-role",
        );
        let config = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(iam_signing_region(endpoints.partition)))
            .endpoint_url(endpoints.iam.as_str().trim_end_matches('/'))
            .http_client(https_client())
            .credentials_provider(creds)
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_attempt_timeout(timeout)
                    .build(),
            )
            .build();
        Self {
            client: aws_sdk_iam::Client::from_conf(config),
        }
    }

    /// The metadata document the provider holds; `None` when there is no such provider.
    pub async fn saml_metadata(&self, arn: &str) -> Result<Option<String>, IamError> {
        match self
            .client
            .get_saml_provider()
            .saml_provider_arn(arn)
            .send()
            .await
        {
            Ok(out) => Ok(Some(
                out.saml_metadata_document().unwrap_or_default().to_string(),
            )),
            Err(e) if is_no_such_entity(&e) => Ok(None),
            Err(e) => Err(iam_error("GetSAMLProvider", e)),
        }
    }

    pub async fn create_saml(&self, name: &str, metadata: &str) -> Result<(), IamError> {
        self.client
            .create_saml_provider()
            .name(name)
            .saml_metadata_document(metadata)
            .send()
            .await
            .map_err(|e| iam_error("CreateSAMLProvider", e))?;
        Ok(())
    }

    pub async fn update_saml(&self, arn: &str, metadata: &str) -> Result<(), IamError> {
        self.client
            .update_saml_provider()
            .saml_provider_arn(arn)
            .saml_metadata_document(metadata)
            .send()
            .await
            .map_err(|e| iam_error("UpdateSAMLProvider", e))?;
        Ok(())
    }

    /// The provider as IAM holds it; `None` when there is no such provider.
    pub async fn oidc(&self, arn: &str) -> Result<Option<ObservedOidc>, IamError> {
        match self
            .client
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
        {
            Ok(out) => Ok(Some(ObservedOidc {
                url: out.url().unwrap_or_default().to_string(),
                client_ids: out.client_id_list().to_vec(),
                thumbprints: out.thumbprint_list().to_vec(),
            })),
            Err(e) if is_no_such_entity(&e) => Ok(None),
            Err(e) => Err(iam_error("GetOpenIDConnectProvider", e)),
        }
    }

    pub async fn create_oidc(
        &self,
        url: &str,
        client_ids: Vec<String>,
        thumbprints: Vec<String>,
    ) -> Result<(), IamError> {
        self.client
            .create_open_id_connect_provider()
            .url(url)
            .set_client_id_list(Some(client_ids))
            .set_thumbprint_list((!thumbprints.is_empty()).then_some(thumbprints))
            .send()
            .await
            .map_err(|e| iam_error("CreateOpenIDConnectProvider", e))?;
        Ok(())
    }

    pub async fn add_oidc_client_id(&self, arn: &str, client_id: &str) -> Result<(), IamError> {
        self.client
            .add_client_id_to_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .client_id(client_id)
            .send()
            .await
            .map_err(|e| iam_error("AddClientIDToOpenIDConnectProvider", e))?;
        Ok(())
    }

    pub async fn set_oidc_thumbprints(
        &self,
        arn: &str,
        thumbprints: Vec<String>,
    ) -> Result<(), IamError> {
        self.client
            .update_open_id_connect_provider_thumbprint()
            .open_id_connect_provider_arn(arn)
            .set_thumbprint_list(Some(thumbprints))
            .send()
            .await
            .map_err(|e| iam_error("UpdateOpenIDConnectProviderThumbprint", e))?;
        Ok(())
    }
}
