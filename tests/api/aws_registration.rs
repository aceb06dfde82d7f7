//! Registering Roleport in an AWS account as code: deploy/aws/roleport-account.yaml lints clean,
//! builds exactly the metadata Roleport serves, and, deployed to the emulator's CloudFormation,
//! makes roles whose trust names what Roleport sends and through which a real sign-in gets in.
//!
//! moto's CloudFormation does not implement `AWS::IAM::SAMLProvider` (it skips the resource with
//! a warning); the provider's document is checked here by evaluating the template's `!Sub` against
//! `/aws/saml-metadata.xml`, and the roles, which moto does create, are checked through IAM (their
//! trust and MaxSessionDuration; moto does not attach AWS managed policies it has not loaded).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde_yaml_ng::Value;

use crate::aws_harness::*;
use crate::helpers::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn template_path() -> PathBuf {
    repo().join("deploy/aws/roleport-account.yaml")
}

#[test]
fn the_account_template_lints_clean() {
    let output = Command::new("bash")
        .arg(repo().join("deploy/checks/cloudformation.sh"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "cfn-lint: {text}");
    assert!(
        text.contains("roleport-account.yaml: cfn-lint clean"),
        "{text}"
    );
}

/// The template's `SamlMetadataDocument`: `!Sub [text, {CurrentKey: !Sub …, NextKey: !If […]}]`,
/// evaluated for `parameters` as CloudFormation would (folded scalar, `${Name}` references).
fn metadata_document(parameters: &BTreeMap<&str, String>) -> String {
    let template: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(template_path()).unwrap()).unwrap();
    let property =
        &template["Resources"]["RoleportSamlProvider"]["Properties"]["SamlMetadataDocument"];
    let Value::Tagged(sub) = property else {
        panic!("not a !Sub: {property:?}")
    };
    assert_eq!(sub.tag, "!Sub");
    let parts = sub.value.as_sequence().unwrap();
    let text = parts[0].as_str().unwrap();
    let mut variables: BTreeMap<String, String> = parameters
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let has_next = !parameters
        .get("NextSigningCertificate")
        .map(String::is_empty)
        .unwrap_or(true);
    for (name, value) in parts[1].as_mapping().unwrap() {
        let Value::Tagged(f) = value else {
            panic!("{value:?}")
        };
        let resolved = match f.tag.to_string().as_str() {
            "!Sub" => substitute(f.value.as_str().unwrap(), &variables),
            "!If" => {
                let branches = f.value.as_sequence().unwrap();
                assert_eq!(branches[0].as_str(), Some("HasNextKey"));
                let chosen = if has_next { &branches[1] } else { &branches[2] };
                match chosen {
                    Value::Tagged(s) if s.tag == "!Sub" => {
                        substitute(s.value.as_str().unwrap(), &variables)
                    }
                    Value::String(s) => s.clone(),
                    other => panic!("{other:?}"),
                }
            }
            other => panic!("unexpected {other}"),
        };
        variables.insert(name.as_str().unwrap().to_string(), resolved);
    }
    substitute(text, &variables)
}

fn substitute(text: &str, variables: &BTreeMap<String, String>) -> String {
    let re = regex::Regex::new(r"\$\{([A-Za-z0-9:]+)\}").unwrap();
    re.replace_all(text, |c: &regex::Captures| {
        variables
            .get(&c[1])
            .unwrap_or_else(|| panic!("no value for ${{{}}}", &c[1]))
            .clone()
    })
    .into_owned()
}

fn certificates_of(metadata: &str) -> Vec<String> {
    regex::Regex::new(r"<ds:X509Certificate>([^<]+)</ds:X509Certificate>")
        .unwrap()
        .captures_iter(metadata)
        .map(|c| c[1].to_string())
        .collect()
}

#[tokio::test]
async fn the_template_builds_the_metadata_roleport_serves_with_one_key_and_during_a_rotation() {
    let sts = recording_sts().await;
    let mut aws = aws_settings(&sts.url, None);
    let (key_file, cert_file, _) = keypair_files("roleport-aws-idp-next");
    aws.signing_keys
        .push(roleport::configuration::KeyPairFiles {
            key_file,
            cert_file,
        });
    let app = spawn_app_with(Options {
        aws: Some(aws),
        ..Options::default()
    })
    .await;
    let served = app
        .get("/aws/saml-metadata.xml")
        .await
        .text()
        .await
        .unwrap();
    let certs = certificates_of(&served);
    assert_eq!(certs.len(), 2, "{served}");

    let mut parameters = BTreeMap::from([
        ("RoleportUrl", app.address.clone()),
        ("SigningCertificate", certs[0].clone()),
        ("NextSigningCertificate", certs[1].clone()),
    ]);
    assert_eq!(
        metadata_document(&parameters),
        served,
        "during a rotation: both keys, in order"
    );

    // One key: the document Roleport serves with only its first key.
    let single = spawn_app_with(Options {
        aws: Some(aws_settings(&sts.url, None)),
        ..Options::default()
    })
    .await;
    let served_single = single
        .get("/aws/saml-metadata.xml")
        .await
        .text()
        .await
        .unwrap();
    parameters.insert("RoleportUrl", single.address.clone());
    parameters.insert(
        "SigningCertificate",
        certificates_of(&served_single)[0].clone(),
    );
    parameters.insert("NextSigningCertificate", String::new());
    assert_eq!(metadata_document(&parameters), served_single);
}

/// The certificate (base64 DER) a Roleport with the test's signing key publishes: the stack's
/// `SigningCertificate`.
async fn published_certificate(sts: &str) -> String {
    let probe = spawn_app_with(Options {
        aws: Some(aws_settings(sts, None)),
        ..Options::default()
    })
    .await;
    let served = probe
        .get("/aws/saml-metadata.xml")
        .await
        .text()
        .await
        .unwrap();
    certificates_of(&served)[0].clone()
}

/// Runs tests/api/aws_registration/stack.py with moto's python: the stack's outputs and roles.
fn deploy_stack(parameters: &BTreeMap<&str, String>) -> serde_json::Value {
    let output = Command::new(MOTO.get("MOTO_PYTHON"))
        .arg(repo().join("tests/api/aws_registration/stack.py"))
        .arg(MOTO.get("MOTO_URL"))
        .arg(template_path())
        .arg(serde_json::to_string(parameters).unwrap())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The statements of a trust policy as IAM returns it. moto keeps `AWS::NoValue` in a list as
/// `null`, where CloudFormation drops the element; those are skipped.
fn statements(trust: &serde_json::Value) -> Vec<&serde_json::Value> {
    trust["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !s.is_null())
        .collect()
}

fn actions(statement: &serde_json::Value) -> Vec<&str> {
    let mut a: Vec<&str> = statement["Action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    a.sort_unstable();
    a
}

#[tokio::test]
async fn a_stack_on_the_emulator_makes_roles_that_trust_what_roleport_sends_and_alice_gets_in() {
    let sts = recording_sts().await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let admin_name = format!("CfnAdmin-{tag}");
    let readonly_name = format!("CfnReadOnly-{tag}");
    let broker_principal = format!("arn:aws:iam::123456789012:role/roleport-broker-{tag}");

    // Roleport first, for the certificate it publishes.
    let certificate = published_certificate(&sts.url).await;
    let stack = deploy_stack(&BTreeMap::from([
        ("RoleportUrl", "https://roleport.example.com".to_string()),
        ("SigningCertificate", certificate),
        ("AdminRoleName", admin_name.clone()),
        ("ReadOnlyRoleName", readonly_name.clone()),
        ("RoleportPrincipalArn", broker_principal.clone()),
        (
            "RegistrationRoleName",
            format!("RoleportRegistration-{tag}"),
        ),
        ("RegistrationExternalId", format!("ext-{tag}")),
        ("MaxSessionSeconds", "7200".to_string()),
    ]));
    assert_eq!(stack["status"], "CREATE_COMPLETE", "{stack}");
    let outputs = &stack["outputs"];
    let provider = outputs["SamlProviderArn"].as_str().unwrap();
    // What Roleport's Role attribute names for this account (saml_provider_name = roleport).
    assert_eq!(provider, "arn:aws:iam::123456789012:saml-provider/roleport");
    let admin_arn = outputs["AdminRoleArn"].as_str().unwrap().to_string();
    assert_eq!(
        admin_arn,
        format!("arn:aws:iam::123456789012:role/{admin_name}")
    );

    // The registration role is the one `aws.registration.role_arn_pattern` names, assumable by
    // Roleport's principal with the external id only, and allowed exactly the IAM calls
    // `roleport aws register` and the key rotation make, on provider ARNs only.
    let registration_arn = outputs["RegistrationRoleArn"].as_str().unwrap();
    assert_eq!(
        roleport::protocol::aws::registration::registration_role_arn(
            &format!("arn:{{partition}}:iam::{{account}}:role/RoleportRegistration-{tag}"),
            roleport::protocol::mapping::Partition::Aws,
            "123456789012"
        ),
        registration_arn
    );
    let registration = &stack["roles"][registration_arn];
    let trust = statements(&registration["trust"]);
    assert_eq!(trust.len(), 1, "{registration}");
    assert_eq!(trust[0]["Principal"]["AWS"], broker_principal.as_str());
    assert_eq!(trust[0]["Action"], "sts:AssumeRole");
    assert_eq!(
        trust[0]["Condition"]["StringEquals"]["sts:ExternalId"],
        format!("ext-{tag}").as_str()
    );
    let policy = &registration["policies"]["roleport-providers"];
    let granted: BTreeMap<String, Vec<&str>> = statements(policy)
        .iter()
        .map(|s| (s["Resource"].as_str().unwrap().to_string(), actions(s)))
        .collect();
    assert_eq!(
        granted,
        BTreeMap::from([
            (
                "arn:aws:iam::123456789012:oidc-provider/*".to_string(),
                vec![
                    "iam:AddClientIDToOpenIDConnectProvider",
                    "iam:CreateOpenIDConnectProvider",
                    "iam:GetOpenIDConnectProvider",
                    "iam:UpdateOpenIDConnectProviderThumbprint"
                ]
            ),
            (
                "arn:aws:iam::123456789012:saml-provider/*".to_string(),
                vec![
                    "iam:CreateSAMLProvider",
                    "iam:GetSAMLProvider",
                    "iam:UpdateSAMLProvider"
                ]
            ),
        ])
    );

    for (arn, role) in stack["roles"].as_object().unwrap() {
        if arn == registration_arn {
            continue;
        }
        assert_eq!(role["max_session_seconds"], 7200, "{arn}");
        let trust = statements(&role["trust"]);
        assert_eq!(trust.len(), 2, "{arn}: {role}");
        let saml = trust.iter().find(|s| s["Sid"] == "RoleportSaml").unwrap();
        assert_eq!(saml["Effect"], "Allow");
        assert_eq!(saml["Principal"]["Federated"], provider);
        assert_eq!(
            actions(saml),
            [
                "sts:AssumeRoleWithSAML",
                "sts:SetSourceIdentity",
                "sts:TagSession"
            ]
        );
        // SAML:aud is the Recipient of the Responses Roleport sends (checked below on a real one).
        assert_eq!(
            saml["Condition"]["StringEquals"]["SAML:aud"],
            "https://signin.aws.amazon.com/saml"
        );
        let broker = trust.iter().find(|s| s["Sid"] == "RoleportBroker").unwrap();
        assert_eq!(broker["Principal"]["AWS"], broker_principal.as_str());
        assert_eq!(
            actions(broker),
            ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]
        );
        assert_eq!(broker["Condition"]["Null"]["sts:SourceIdentity"], "false");
    }

    // A real sign-in through the role the stack made.
    let rules = format!(
        r#"
version: 1
accounts:
  - id: "123456789012"
    alias: demo-prod
    partition: aws
roles:
  - arn: {admin_arn}
    display_name: Administrator (from the stack)
    max_session_seconds: 7200
rules:
  - id: admins
    idp: demo-saml
    claim: group
    match: ldap_dn
    pattern: cn=aws-admins,ou=groups,dc=example,dc=org
    roles: [{admin_arn}]
"#
    );
    let app = spawn_app_with(Options {
        rules_yaml: rules,
        aws: Some(aws_settings(&sts.url, None)),
        ..Options::default()
    })
    .await;
    app.sign_in("alice").await;
    let resp = app
        .request_credentials(&format!("123456789012-{admin_name}"), Some(7200))
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let body: serde_json::Value = resp.json().await.unwrap();
    let session_arn =
        format!("arn:aws:sts::123456789012:assumed-role/{admin_name}/alice@example.org@demo-saml");
    assert_eq!(body["AssumedRoleArn"], session_arn.as_str());
    assert_eq!(
        caller_arn(
            body["AccessKeyId"].as_str().unwrap(),
            body["SecretAccessKey"].as_str().unwrap(),
            body["SessionToken"].as_str().unwrap()
        )
        .await,
        session_arn
    );
    // What went to STS matches the trust: the provider the stack registered, the role it made,
    // and the Recipient its SAML:aud condition names.
    let calls = sts.seen.lock().unwrap().clone();
    let call = calls.last().unwrap();
    SamlCheck {
        app: &app,
        role_arn: &admin_arn,
        session_name: "alice@example.org@demo-saml",
        duration: 7200,
        source_identity: "alice@demo-saml",
        recipient: "https://signin.aws.amazon.com/saml",
        audience: "urn:amazon:webservices",
    }
    .verify(call)
    .await;
    assert_eq!(
        call.params.get("PrincipalArn").map(String::as_str),
        Some(provider)
    );
}

#[tokio::test]
async fn with_an_issuer_the_stack_trusts_roleports_id_tokens_and_an_oidc_broker_sign_in_gets_in() {
    let sts = recording_sts().await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let admin_name = format!("CfnOidcAdmin-{tag}");
    let issuer = format!("https://roleport-{tag}.example.com/aws");
    let issuer_path = issuer.trim_start_matches("https://");

    // The provider: only on real CloudFormation (moto skips AWS::IAM::OIDCProvider), so read off
    // the template: for exactly the issuer and Roleport's audience, and what the roles trust.
    let template: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(template_path()).unwrap()).unwrap();
    let provider = &template["Resources"]["RoleportOidcProvider"];
    assert_eq!(provider["Type"], "AWS::IAM::OIDCProvider");
    assert_eq!(provider["Condition"], "HasOidc");
    let reference = |v: &Value| match v {
        Value::Tagged(t) if t.tag == "!Ref" => t.value.as_str().unwrap().to_string(),
        other => panic!("not a !Ref: {other:?}"),
    };
    assert_eq!(reference(&provider["Properties"]["Url"]), "OidcIssuer");
    assert_eq!(
        reference(&provider["Properties"]["ClientIdList"][0]),
        "OidcAudience"
    );
    for role in ["AdminRole", "ReadOnlyRole"] {
        let Value::Tagged(sub) =
            &template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]
        else {
            panic!("{role}: the trust is not a !Sub")
        };
        let Value::Tagged(oidc) = &sub.value[1]["Oidc"] else {
            panic!("{role}: no Oidc statement")
        };
        let Value::Tagged(statement) = &oidc.value[1] else {
            panic!("{role}: {oidc:?}")
        };
        // Ref of an OIDC provider is its ARN, arn:<partition>:iam::<account>:oidc-provider/<url
        // without https://>: the one Roleport's registration checks.
        assert_eq!(
            reference(&statement.value[1]["Provider"]),
            "RoleportOidcProvider",
            "{role}"
        );
    }
    assert_eq!(
        roleport::protocol::aws::registration::oidc_provider_arn(
            roleport::protocol::mapping::Partition::Aws,
            "123456789012",
            &issuer
        ),
        format!("arn:aws:iam::123456789012:oidc-provider/{issuer_path}")
    );

    let certificate = published_certificate(&sts.url).await;
    let stack = deploy_stack(&BTreeMap::from([
        ("RoleportUrl", "https://roleport.example.com".to_string()),
        ("SigningCertificate", certificate),
        ("AdminRoleName", admin_name.clone()),
        ("ReadOnlyRoleName", format!("CfnOidcReadOnly-{tag}")),
        ("OidcIssuer", issuer.clone()),
    ]));
    assert_eq!(stack["status"], "CREATE_COMPLETE", "{stack}");
    let admin_arn = stack["outputs"]["AdminRoleArn"]
        .as_str()
        .unwrap()
        .to_string();
    for (arn, role) in stack["roles"].as_object().unwrap() {
        let trust = statements(&role["trust"]);
        let sids: Vec<&str> = trust.iter().map(|s| s["Sid"].as_str().unwrap()).collect();
        assert_eq!(
            sids,
            ["RoleportSaml", "RoleportOidc"],
            "{arn}: no broker asked for"
        );
        let oidc = trust[1];
        assert_eq!(oidc["Effect"], "Allow");
        assert_eq!(
            actions(oidc),
            [
                "sts:AssumeRoleWithWebIdentity",
                "sts:SetSourceIdentity",
                "sts:TagSession"
            ]
        );
        let condition = oidc["Condition"]["StringEquals"].as_object().unwrap();
        assert_eq!(condition.len(), 1, "{arn}: {condition:?}");
        assert_eq!(
            condition[&format!("{issuer_path}:aud")],
            "sts.amazonaws.com",
            "{arn}"
        );
    }

    // A real oidc_broker sign-in through the role the stack made: the token's iss is the
    // provider's URL and its aud the condition's value.
    let rules = format!(
        r#"
version: 1
accounts:
  - id: "123456789012"
    alias: demo-prod
    partition: aws
    access: {{mode: oidc_broker}}
roles:
  - arn: {admin_arn}
    display_name: Administrator (from the stack)
    max_session_seconds: 3600
rules:
  - id: admins
    idp: demo-saml
    claim: group
    match: ldap_dn
    pattern: cn=aws-admins,ou=groups,dc=example,dc=org
    roles: [{admin_arn}]
"#
    );
    let mut aws = aws_settings(&sts.url, None);
    aws.oidc_issuer = Some(issuer.clone());
    let app = spawn_app_with(Options {
        rules_yaml: rules,
        aws: Some(aws),
        ..Options::default()
    })
    .await;
    app.sign_in("alice").await;
    let resp = app
        .request_credentials(&format!("123456789012-{admin_name}"), None)
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let calls = sts.seen.lock().unwrap().clone();
    let call = calls.last().unwrap();
    assert_eq!(call.params["Action"], "AssumeRoleWithWebIdentity");
    assert_eq!(call.params["RoleArn"], admin_arn);
    let payload = call.params["WebIdentityToken"].split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], issuer.as_str());
    assert_eq!(claims["aud"], "sts.amazonaws.com");
}
