//! A SAML IdP as Roleport uses it at run time: its pinned trust, parsed once when loaded (and on
//! each metadata refresh), never per request.

use crate::configuration::{IdpSettings, SamlIdpSettings};
use crate::protocol::saml::metadata::{IdpMetadata, parse_idp_metadata};
use crate::protocol::saml::{AttributeMapping, IdpTrust};
use chrono::{DateTime, Utc};
use samael::crypto::CertificateDer;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct SamlIdp {
    pub id: String,
    pub display_name: String,
    pub trust: IdpTrust,
    pub sso_url: String,
    pub sign_requests: bool,
    pub allow_idp_initiated: bool,
    pub attributes: AttributeMapping,
    /// Whether this IdP vouches for the e-mail addresses it sends (`attributes.email_verified`).
    pub email_verified: bool,
    /// When metadata from a URL was last fetched successfully.
    pub refreshed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum IdpLoadError {
    #[error("idp `{id}`: cannot read {what}: {message}")]
    Read {
        id: String,
        what: String,
        message: String,
    },
    #[error("idp `{id}`: metadata is not usable: {message}")]
    Metadata { id: String, message: String },
    #[error("idp `{id}`: {message}")]
    Invalid { id: String, message: String },
}

pub async fn fetch_metadata(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let response = client
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    if response.content_length().is_some_and(|l| l > 1024 * 1024) {
        return Err("metadata larger than 1 MiB".into());
    }
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    if bytes.len() > 1024 * 1024 {
        return Err("metadata larger than 1 MiB".into());
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| "metadata is not UTF-8".into())
}

/// Builds the run-time IdP from settings plus, when configured, metadata text (already read from
/// the file or fetched from the URL by the caller).
pub fn build(
    settings: &IdpSettings,
    metadata_xml: Option<&str>,
    refreshed_at: Option<DateTime<Utc>>,
) -> Result<SamlIdp, IdpLoadError> {
    let id = settings.id.clone();
    let saml = saml_settings(settings)?;
    let metadata: Option<IdpMetadata> = metadata_xml
        .map(|xml| {
            parse_idp_metadata(xml).map_err(|e| IdpLoadError::Metadata {
                id: id.clone(),
                message: e.to_string(),
            })
        })
        .transpose()?;

    let mut certificates: Vec<CertificateDer> = Vec::new();
    if let Some(m) = &metadata {
        certificates.extend(m.signing_certificates.iter().cloned());
    }
    for path in &saml.signing_cert_files {
        let pem = std::fs::read(path).map_err(|e| IdpLoadError::Read {
            id: id.clone(),
            what: path.display().to_string(),
            message: e.to_string(),
        })?;
        let certs = openssl::x509::X509::stack_from_pem(&pem).map_err(|e| IdpLoadError::Read {
            id: id.clone(),
            what: path.display().to_string(),
            message: format!("not a PEM certificate: {e}"),
        })?;
        for cert in certs {
            let der = cert.to_der().map_err(|e| IdpLoadError::Invalid {
                id: id.clone(),
                message: e.to_string(),
            })?;
            let der = CertificateDer::from(der);
            if !certificates.contains(&der) {
                certificates.push(der);
            }
        }
    }
    if certificates.is_empty() {
        return Err(IdpLoadError::Invalid {
            id,
            message: "no pinned signing certificate (metadata lists none and signing_cert_files is empty); \
                      Roleport never accepts unsigned responses"
                .into(),
        });
    }
    let entity_id = saml
        .entity_id
        .clone()
        .or_else(|| metadata.as_ref().map(|m| m.entity_id.clone()))
        .ok_or_else(|| IdpLoadError::Invalid {
            id: id.clone(),
            message: "no entity_id".into(),
        })?;
    if let Some(m) = &metadata
        && m.entity_id != entity_id
    {
        return Err(IdpLoadError::Invalid {
            id,
            message: format!(
                "configured entity_id {entity_id} differs from the metadata's {}",
                m.entity_id
            ),
        });
    }
    let sso_url = saml
        .sso_url
        .clone()
        .or_else(|| metadata.as_ref().and_then(|m| m.sso_redirect_url.clone()))
        .ok_or_else(|| IdpLoadError::Invalid {
            id: id.clone(),
            message: "no HTTP-Redirect SingleSignOnService in metadata and no sso_url".into(),
        })?;
    let wants_signed = metadata.as_ref().is_some_and(|m| m.wants_signed_requests);
    let trust =
        IdpTrust::new(entity_id, certificates).map_err(|message| IdpLoadError::Invalid {
            id: id.clone(),
            message: format!("a pinned signing certificate's key cannot be loaded: {message}"),
        })?;
    Ok(SamlIdp {
        id: settings.id.clone(),
        display_name: settings.display_name.clone(),
        trust,
        sso_url,
        sign_requests: saml.sign_authn_requests || wants_signed,
        allow_idp_initiated: saml.allow_idp_initiated,
        attributes: AttributeMapping {
            groups: saml.attributes.groups.clone(),
            subject: saml.attributes.subject.clone(),
            email: saml.attributes.email.clone(),
            display_name: saml.attributes.display_name.clone(),
        },
        email_verified: saml.attributes.email_verified,
        refreshed_at,
    })
}

/// Reads whatever metadata the settings name: the file, or the URL.
pub async fn load(
    settings: &IdpSettings,
    client: &reqwest::Client,
    now: DateTime<Utc>,
) -> Result<SamlIdp, IdpLoadError> {
    let saml = saml_settings(settings)?;
    let (xml, refreshed) = if let Some(path) = &saml.metadata_file {
        let xml = tokio::fs::read_to_string(path)
            .await
            .map_err(|e| IdpLoadError::Read {
                id: settings.id.clone(),
                what: path.display().to_string(),
                message: e.to_string(),
            })?;
        (Some(xml), None)
    } else if let Some(url) = &saml.metadata_url {
        let xml = fetch_metadata(client, url)
            .await
            .map_err(|message| IdpLoadError::Read {
                id: settings.id.clone(),
                what: url.clone(),
                message,
            })?;
        (Some(xml), Some(now))
    } else {
        (None, None)
    };
    build(settings, xml.as_deref(), refreshed)
}

fn saml_settings(settings: &IdpSettings) -> Result<&SamlIdpSettings, IdpLoadError> {
    settings.saml().ok_or_else(|| IdpLoadError::Invalid {
        id: settings.id.clone(),
        message: "not a SAML IdP".into(),
    })
}
