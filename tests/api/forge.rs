//! A test identity provider, `forge`, that Roleport trusts through a pinned certificate made at run
//! time. The message builder, signer and encrypter live in `forge/idp.rs` (shared with the ACS
//! benchmark); this half wires them to a running [`TestApp`]: the IdP settings, the rules, the
//! SP-initiated start, and posting to the ACS from any browser.
//!
//! The tests at the bottom show the forge is honest: a response it signs like a real IdP would
//! is accepted, whichever parts are signed.

pub mod idp;

pub use idp::*;

use crate::helpers::*;
use base64::Engine;
use flate2::read::DeflateDecoder;
use roleport::configuration::{AttributeSettings, IdpKind, IdpSettings, SamlIdpSettings};
use std::io::Read;
use std::sync::LazyLock;

pub const FORGE_ID: &str = "forge";
pub const FORGE_ENTITY_ID: &str = "https://idp.forge.test/metadata";
pub const FORGE_SSO_URL: &str = "https://idp.forge.test/sso";

/// The forge IdP's signing key, made once and shared by every test process.
pub static FORGE_KEY: LazyLock<ForgeKey> = LazyLock::new(|| ForgeKey::cached("idp.forge.test"));

/// Its certificate, as Roleport pins it.
static FORGE_CERT_FILE: LazyLock<std::path::PathBuf> = LazyLock::new(|| FORGE_KEY.cert_file());

/// Admin for members of `aws-admins`, by the group claim and by the raw `groups` attribute.
pub const FORGE_RULES: &str = r#"
version: 1
accounts:
  - id: "123456789012"
    alias: demo-prod
    partition: aws
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
    display_name: Administrator
    max_session_seconds: 3600
  - arn: arn:aws:iam::123456789012:role/ReadOnly
    display_name: Read-only
    max_session_seconds: 3600
rules:
  - id: admins-by-group
    idp: forge
    claim: group
    match: exact
    pattern: aws-admins
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: admins-by-attribute
    idp: forge
    claim: "attribute:groups"
    match: exact
    pattern: aws-admins
    roles: [arn:aws:iam::123456789012:role/Admin]
"#;

/// [`FORGE_RULES`] plus Admin for the subject `alice@example.org` itself.
pub fn forge_rules_with_subject_rule() -> String {
    format!(
        "{FORGE_RULES}  - id: admin-by-subject\n    idp: forge\n    claim: subject\n    match: exact\n    pattern: alice@example.org\n    roles: [arn:aws:iam::123456789012:role/Admin]\n"
    )
}

/// The forge IdP as Roleport is configured for it: explicit trust, the NameID is the subject.
pub fn forge_idp(allow_idp_initiated: bool) -> IdpSettings {
    IdpSettings {
        id: FORGE_ID.into(),
        display_name: "Forge (test IdP)".into(),
        kind: IdpKind::Saml(Box::new(SamlIdpSettings {
            entity_id: Some(FORGE_ENTITY_ID.into()),
            sso_url: Some(FORGE_SSO_URL.into()),
            signing_cert_files: vec![FORGE_CERT_FILE.clone()],
            allow_idp_initiated,
            attributes: AttributeSettings {
                subject: None,
                ..AttributeSettings::default()
            },
            ..SamlIdpSettings::default()
        })),
    }
}

/// Options for an app that trusts only the forge.
pub fn forge_options(allow_idp_initiated: bool) -> Options {
    Options {
        extra_idps: vec![forge_idp(allow_idp_initiated)],
        include_demo_saml: false,
        rules_yaml: FORGE_RULES.to_string(),
        ..Options::default()
    }
}

pub async fn spawn_forge_app() -> TestApp {
    spawn_app_with(forge_options(false)).await
}

pub fn sp_target(app: &TestApp) -> SpTarget {
    SpTarget {
        entity_id: app.sp_entity_id.clone(),
        acs_url: format!("{}/saml/acs", app.address),
    }
}

/// A valid response from the forge to this app, issued at the app's `now`.
pub fn forge_for(app: &TestApp) -> Forge {
    Forge::new(FORGE_ENTITY_ID, &sp_target(app), app.clock.now())
}

pub fn signer() -> Signer<'static> {
    Signer::new(&FORGE_KEY)
}

/// An SP-initiated login as the IdP sees it.
#[derive(Debug, Clone)]
pub struct Login {
    pub request_id: String,
    pub relay_state: String,
}

/// `GET /login/forge` with `client` (its cookie jar is the browser); decodes the AuthnRequest
/// from the redirect.
pub async fn start_login(app: &TestApp, client: &reqwest::Client) -> Login {
    let resp = client
        .get(format!("{}/login/{FORGE_ID}", app.address))
        .send()
        .await
        .expect("GET /login/forge");
    login_from_redirect(&resp)
}

/// The login a `GET /login/forge` answer starts: the AuthnRequest decoded from its redirect.
pub fn login_from_redirect(resp: &reqwest::Response) -> Login {
    assert_eq!(resp.status(), 302, "login start");
    let url = reqwest::Url::parse(&location(resp)).expect("redirect URL");
    assert!(
        url.as_str().starts_with(FORGE_SSO_URL),
        "redirect goes to the forge: {url}"
    );
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(&query["SAMLRequest"])
        .expect("SAMLRequest is base64");
    let mut xml = String::new();
    DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut xml)
        .expect("SAMLRequest is raw DEFLATE");
    let request_id = regex::Regex::new(r#"<samlp:AuthnRequest [^>]*\bID="([^"]+)""#)
        .unwrap()
        .captures(&xml)
        .unwrap_or_else(|| panic!("no AuthnRequest ID in {xml}"))[1]
        .to_string();
    Login {
        request_id,
        relay_state: query["RelayState"].clone(),
    }
}

/// Posts `xml` to the ACS as `client` would (HTTP-POST binding).
pub async fn post_acs_as(
    app: &TestApp,
    client: &reqwest::Client,
    xml: &str,
    relay_state: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("SAMLResponse", encode(xml))];
    if let Some(r) = relay_state {
        form.push(("RelayState", r.to_string()));
    }
    client
        .post(format!("{}/saml/acs", app.address))
        .form(&form)
        .send()
        .await
        .expect("POST ACS")
}

/// The role names `/api/v1/roles` lists for the app's own browser.
pub async fn role_names(app: &TestApp) -> Vec<String> {
    let json = app.roles_json().await;
    let mut names: Vec<String> = json["grants"]
        .as_array()
        .expect("grants")
        .iter()
        .map(|g| g["role_name"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

/// The newest sign-in audit row.
pub async fn last_sign_in(app: &TestApp) -> serde_json::Value {
    app.audit_events()
        .await
        .into_iter()
        .rev()
        .find(|e| e["kind"] == "sign_in")
        .expect("a sign-in audit row")
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sp_initiated_sign_in_is_accepted(sign: Sign) {
        let app = spawn_forge_app().await;
        let login = start_login(&app, &app.client).await;
        let xml = forge_for(&app)
            .in_response_to(&login.request_id)
            .build(sign, &signer());
        let resp = post_acs_as(&app, &app.client, &xml, Some(&login.relay_state)).await;
        assert_eq!(
            resp.status(),
            303,
            "{sign:?}: {}",
            resp.text().await.unwrap_or_default()
        );
        assert_eq!(location(&resp), "/roles");
        assert_eq!(role_names(&app).await, vec!["Admin"], "{sign:?}");
        let row = last_sign_in(&app).await;
        assert_eq!(row["outcome"], "accepted");
        assert_eq!(row["idp"], FORGE_ID);
        assert_eq!(row["subject"], "alice@example.org");
        assert_eq!(row["groups"], serde_json::json!(["aws-admins"]));
        assert_eq!(app.session_count().await, 1);
    }

    #[tokio::test]
    async fn assertion_signed_only_is_accepted() {
        sp_initiated_sign_in_is_accepted(Sign::Assertion).await;
    }

    #[tokio::test]
    async fn response_signed_only_is_accepted() {
        sp_initiated_sign_in_is_accepted(Sign::Response).await;
    }

    #[tokio::test]
    async fn response_and_assertion_signed_is_accepted() {
        sp_initiated_sign_in_is_accepted(Sign::Both).await;
    }

    #[tokio::test]
    async fn idp_initiated_is_accepted_when_enabled() {
        let app = spawn_app_with(forge_options(true)).await;
        let xml = forge_for(&app).build(Sign::Both, &signer());
        let resp = app.post_acs(&encode(&xml), None).await;
        assert_eq!(resp.status(), 303);
        assert_eq!(role_names(&app).await, vec!["Admin"]);
    }

    #[test]
    fn both_signatures_are_real_and_in_place() {
        let sp = SpTarget {
            entity_id: "https://rp.example/saml/metadata".into(),
            acs_url: "https://rp.example/saml/acs".into(),
        };
        let forge = Forge::new(FORGE_ENTITY_ID, &sp, roleport::clock::Clock::system().now());
        let xml = forge.build(Sign::Both, &signer());
        assert_eq!(xml.matches("<ds:Signature ").count(), 2, "{xml}");
        assert!(!xml.contains("<ds:SignatureValue></ds:SignatureValue>"));
        assert!(!xml.contains("<?xml"));
        // The Response's signature comes first, right after its Issuer.
        let response_sig = xml.find("<ds:Signature ").unwrap();
        assert!(response_sig < xml.find("<saml:Assertion ").unwrap());
        assert!(!xml.contains("KeyInfo"), "no KeyInfo unless asked");
    }
}
