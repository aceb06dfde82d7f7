use super::*;
use crate::protocol::aws::idp_metadata;
use crate::protocol::mapping::parse_document;

fn certificate(cn: &str) -> Vec<u8> {
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509, X509NameBuilder};
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    b.build().to_der().unwrap()
}

const ENTITY: &str = "https://roleport.example.com/aws/saml-metadata.xml";
const SSO: &str = "https://roleport.example.com/login";

fn expected(certs: &[Vec<u8>]) -> ExpectedSaml {
    ExpectedSaml {
        entity_id: ENTITY.into(),
        certificates: certs.to_vec(),
    }
}

#[test]
fn saml_provider_missing_ok_and_stale() {
    let (a, b) = (certificate("a"), certificate("b"));
    assert_eq!(
        check_saml(&expected(std::slice::from_ref(&a)), None),
        ProviderCheck::Missing
    );
    let same = idp_metadata(ENTITY, std::slice::from_ref(&a), SSO);
    assert_eq!(
        check_saml(&expected(std::slice::from_ref(&a)), Some(&same)),
        ProviderCheck::Ok
    );
    // During a rotation Roleport publishes two keys: IAM holding only the old one is stale.
    let ProviderCheck::Stale(why) = check_saml(&expected(&[a.clone(), b.clone()]), Some(&same))
    else {
        panic!("not stale")
    };
    assert_eq!(
        why,
        [format!("lacks Roleport's key {}", certificate_label(&b))]
    );
    // After it, IAM still trusting the retired key is stale too.
    let both = idp_metadata(ENTITY, &[a.clone(), b.clone()], SSO);
    let ProviderCheck::Stale(why) = check_saml(&expected(std::slice::from_ref(&b)), Some(&both))
    else {
        panic!("not stale")
    };
    assert!(why[0].contains(&certificate_label(&a)), "{why:?}");
    assert!(why[0].contains("no longer publishes"), "{why:?}");
    // Order does not matter, the set does.
    let reversed = idp_metadata(ENTITY, &[b.clone(), a.clone()], SSO);
    assert_eq!(
        check_saml(&expected(&[a.clone(), b.clone()]), Some(&reversed)),
        ProviderCheck::Ok
    );
}

#[test]
fn another_entity_id_or_unreadable_metadata_is_stale_never_ok() {
    let a = certificate("a");
    let other = idp_metadata(
        "https://other.example.com/md",
        std::slice::from_ref(&a),
        SSO,
    );
    let ProviderCheck::Stale(why) = check_saml(&expected(std::slice::from_ref(&a)), Some(&other))
    else {
        panic!("not stale")
    };
    assert!(why[0].starts_with("entityID is"), "{why:?}");
    // An entity id differing only by a trailing slash is another issuer to AWS.
    let slash = idp_metadata(&format!("{ENTITY}/"), std::slice::from_ref(&a), SSO);
    assert!(matches!(
        check_saml(&expected(std::slice::from_ref(&a)), Some(&slash)),
        ProviderCheck::Stale(_)
    ));
    for junk in [
        "",
        "<x/>",
        "not xml",
        "<!DOCTYPE x [<!ENTITY e 'x'>]><md:EntityDescriptor/>",
    ] {
        let ProviderCheck::Stale(why) = check_saml(&expected(std::slice::from_ref(&a)), Some(junk))
        else {
            panic!("{junk:?} not stale")
        };
        assert!(why[0].starts_with("its metadata does not read"), "{why:?}");
    }
}

fn oidc(audiences: &[&str], thumbprints: &[&str]) -> ExpectedOidc {
    ExpectedOidc {
        issuer: "https://roleport.example.com".into(),
        audiences: audiences.iter().map(|s| s.to_string()).collect(),
        thumbprints: thumbprints.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn oidc_provider_checks_url_audiences_and_thumbprints() {
    let want = oidc(&["sts.amazonaws.com"], &["aa".repeat(20).as_str()]);
    assert_eq!(check_oidc(&want, None).0, ProviderCheck::Missing);
    let held = ObservedOidc {
        url: "roleport.example.com".into(),
        client_ids: vec!["sts.amazonaws.com".into(), "other-client".into()],
        thumbprints: vec!["AA".repeat(20)],
    };
    assert_eq!(
        check_oidc(&want, Some(&held)),
        (ProviderCheck::Ok, OidcFix::default())
    );

    let lacking = ObservedOidc {
        client_ids: vec!["other-client".into()],
        thumbprints: vec!["bb".repeat(20)],
        ..held.clone()
    };
    let (check, fix) = check_oidc(&want, Some(&lacking));
    assert!(
        matches!(check, ProviderCheck::Stale(ref w) if w.len() == 2),
        "{check:?}"
    );
    assert_eq!(fix.add_client_ids, ["sts.amazonaws.com"]);
    assert_eq!(fix.set_thumbprints, Some(vec!["aa".repeat(20)]));

    let elsewhere = ObservedOidc {
        url: "roleport.example.com/".into(),
        ..held.clone()
    };
    assert!(matches!(
        check_oidc(&want, Some(&elsewhere)).0,
        ProviderCheck::Stale(_)
    ));
    // No configured thumbprints: whatever IAM holds is left alone.
    assert_eq!(
        check_oidc(&oidc(&["sts.amazonaws.com"], &[]), Some(&lacking))
            .1
            .set_thumbprints,
        None
    );
}

#[test]
fn needs_follow_each_roles_access_mode() {
    let set = parse_document(
        r#"
version: 1
accounts:
  - id: "111111111111"
    alias: saml-only
    partition: aws
  - id: "222222222222"
    alias: mixed
    partition: aws
    access:
      mode: oidc_broker
  - id: "333333333333"
    alias: assume-only
    partition: aws
    access:
      mode: assume_role
roles:
  - arn: arn:aws:iam::111111111111:role/A
    display_name: A
    max_session_seconds: 3600
  - arn: arn:aws:iam::222222222222:role/B
    display_name: B
    max_session_seconds: 3600
  - arn: arn:aws:iam::222222222222:role/C
    display_name: C
    max_session_seconds: 3600
    access:
      mode: saml_broker
      saml_provider: corp-roleport
  - arn: arn:aws:iam::333333333333:role/D
    display_name: D
    max_session_seconds: 3600
rules: []
"#,
    )
    .unwrap();
    let needs = account_needs(&set, "roleport");
    assert_eq!(needs.len(), 3);
    assert_eq!(
        needs[0].saml_providers,
        BTreeSet::from(["roleport".to_string()])
    );
    assert!(needs[0].oidc_audiences.is_empty());
    assert_eq!(
        needs[1].saml_providers,
        BTreeSet::from(["corp-roleport".to_string()])
    );
    assert_eq!(
        needs[1].oidc_audiences,
        BTreeSet::from(["sts.amazonaws.com".to_string()])
    );
    assert!(needs[2].saml_providers.is_empty() && needs[2].oidc_audiences.is_empty());
}

#[test]
fn arns_and_the_role_pattern() {
    assert_eq!(
        saml_provider_arn(Partition::AwsCn, "123456789012", "roleport"),
        "arn:aws-cn:iam::123456789012:saml-provider/roleport"
    );
    assert_eq!(
        oidc_provider_arn(
            Partition::Aws,
            "123456789012",
            "https://sso.example.com/aws"
        ),
        "arn:aws:iam::123456789012:oidc-provider/sso.example.com/aws"
    );
    let pattern = "arn:{partition}:iam::{account}:role/RoleportRegistration";
    assert!(check_role_arn_pattern(pattern).is_ok());
    assert_eq!(
        registration_role_arn(pattern, Partition::AwsUsGov, "123456789012"),
        "arn:aws-us-gov:iam::123456789012:role/RoleportRegistration"
    );
    for bad in [
        "arn:aws:iam::123456789012:role/Fixed",
        "arn:aws:iam::{account}:user/Someone",
        "{account}",
    ] {
        assert!(check_role_arn_pattern(bad).is_err(), "{bad}");
    }
}
