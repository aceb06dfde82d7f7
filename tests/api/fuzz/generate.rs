//! Makes the committed seeds and the public fixtures they verify against. Run on purpose:
//! `cargo nextest run --run-ignored only -E 'test(regenerate_fuzz_corpus)'` (with the peers'
//! environment, for the real SimpleSAMLphp response and metadata). Signing keys are fresh each
//! time and dropped afterwards; only their public halves land in `fuzz/fixtures`.

use super::targets::fixtures::*;
use super::{fuzz_dir, targets};
use crate::forge::idp::{
    ContentCipher, Encryption, Forge, ForgeKey, RSA_SHA512, Sign, Signer, SpTarget,
};
use crate::helpers::*;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Duration;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Signer as OsslSigner};
use openssl::x509::{X509, X509NameBuilder};
use roleport::protocol::oidc::{JwsAlg, token_hash};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// A key with a certificate valid for a century from the seeds' issue date, so the committed
/// seeds keep verifying.
fn long_lived(common_name: &str) -> ForgeKey {
    let pkey = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", common_name).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&Asn1Integer::from_bn(&BigNum::from_u32(1).unwrap()).unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&pkey).unwrap();
    let start = issued().timestamp() - 400 * 86_400;
    b.set_not_before(&Asn1Time::from_unix(start).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(36_500).unwrap())
        .unwrap();
    b.sign(&pkey, MessageDigest::sha256()).unwrap();
    ForgeKey {
        pkey,
        cert: b.build(),
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn clear(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
}

fn sp() -> SpTarget {
    SpTarget {
        entity_id: SP_ENTITY_ID.into(),
        acs_url: ACS_URL.into(),
    }
}

/// A forge whose assertion ID fingerprints its identity (see `assertion_fingerprint`).
fn forge(n: usize, name_id: &str, attributes: Vec<(&str, Vec<&str>)>, solicited: bool) -> Forge {
    let mut f = Forge::new(IDP_ENTITY_ID, &sp(), issued());
    if solicited {
        f = f.in_response_to(REQUEST_ID);
    }
    f.response_id = format!("_fzresponse{n:02}");
    f.session_index = Some(format!("_fzsession{n:02}"));
    f.name_id = name_id.into();
    f.attributes = attributes
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into_iter().map(str::to_string).collect()))
        .collect();
    let map: BTreeMap<String, Vec<String>> = f.attributes.iter().cloned().collect();
    f.assertion_id = assertion_fingerprint(Some(&f.name_id), &map);
    f
}

fn saml_seeds(key: &ForgeKey, sp_cert: &X509) -> Vec<(&'static str, String)> {
    let signer = Signer::new(key);
    let alice = || {
        vec![
            (
                "memberOf",
                vec![
                    "cn=aws-admins,ou=groups,dc=example,dc=org",
                    "cn=aws-readonly,ou=groups,dc=example,dc=org",
                ],
            ),
            ("mail", vec!["alice@example.org"]),
            ("uid", vec!["alice"]),
        ]
    };
    let mut seeds = vec![
        (
            "both-signed-solicited.xml",
            forge(1, "alice@example.org", alice(), true).build(Sign::Both, &signer),
        ),
        (
            "assertion-signed-unsolicited.xml",
            forge(2, "bob@example.org", vec![("groups", vec!["aws-readonly"])], false)
                .build(Sign::Assertion, &signer),
        ),
        (
            "response-signed.xml",
            forge(3, "alice@example.org", alice(), true).build(Sign::Response, &signer),
        ),
        (
            "sha512.xml",
            forge(4, "carol@example.org", vec![("mail", vec!["carol@example.org"])], true)
                .build(Sign::Both, &signer.clone().alg(RSA_SHA512)),
        ),
        (
            "aws-role-attributes.xml",
            forge(
                5,
                "alice@example.org",
                vec![
                    (
                        "https://aws.amazon.com/SAML/Attributes/Role",
                        vec![
                            "arn:aws:iam::123456789012:role/Admin,arn:aws:iam::123456789012:saml-provider/corp",
                        ],
                    ),
                    (
                        "https://aws.amazon.com/SAML/Attributes/RoleSessionName",
                        vec!["alice"],
                    ),
                ],
                false,
            )
            .build(Sign::Assertion, &signer),
        ),
        (
            "unsigned.xml",
            forge(6, "mallory@example.org", alice(), true).build(Sign::Nothing, &signer),
        ),
        (
            "failure-status.xml",
            forge(7, "alice@example.org", alice(), true).failure(
                "urn:oasis:names:tc:SAML:2.0:status:Responder",
                Some("urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"),
                Some("bad password"),
            ),
        ),
    ];
    // A comment inside a signed NameID: outside the digest, so still valid; the identity is
    // the full text.
    let commented = forge(8, "alice@example.org.evil", alice(), true)
        .build(Sign::Assertion, &signer)
        .replacen(
            "alice@example.org.evil<",
            "alice@example.org<!---->.evil<",
            1,
        );
    seeds.push(("comment-in-name-id.xml", commented));
    // Two assertions, the second signed: the wrapping shape.
    let f = forge(9, "alice@example.org", alice(), true);
    let evil = forge(10, "admin@example.org", alice(), true);
    let wrapped = f.response_around(
        &format!(
            "{}{}",
            evil.unsigned_assertion(),
            f.signed_assertion(&signer)
        ),
        None,
    );
    seeds.push(("two-assertions.xml", wrapped));
    // Encrypted assertions: signed inside, GCM and (in a signed Response) CBC.
    let f = forge(
        11,
        "dave@example.org",
        vec![("groups", vec!["aws-admins"])],
        true,
    );
    let enc =
        Encryption::new(ContentCipher::Aes256Gcm, sp_cert).encrypt(&f.signed_assertion(&signer));
    seeds.push(("encrypted-gcm.xml", f.response_around(&enc, None)));
    let f = forge(
        12,
        "erin@example.org",
        vec![("groups", vec!["aws-readonly"])],
        true,
    );
    let enc = Encryption::new(ContentCipher::Aes128Cbc, sp_cert).encrypt(&f.unsigned_assertion());
    seeds.push((
        "encrypted-cbc-signed-response.xml",
        f.response_around(&enc, Some(&signer)),
    ));
    // Expired: issued an hour before the targets' clock.
    let mut f = forge(13, "alice@example.org", alice(), true);
    f.assertion_issue_instant -= Duration::hours(1);
    f.response_issue_instant -= Duration::hours(1);
    f.not_on_or_after = Some(issued() - Duration::minutes(30));
    f.confirmation_not_on_or_after = f.not_on_or_after;
    seeds.push(("expired.xml", f.build(Sign::Both, &signer)));
    seeds
}

fn metadata_seeds(cert: &X509) -> Vec<(&'static str, String)> {
    let b64 = STANDARD.encode(cert.to_der().unwrap());
    let wrapped: String = b64
        .as_bytes()
        .chunks(64)
        .map(|c| format!("\n        {}", std::str::from_utf8(c).unwrap()))
        .collect();
    let descriptor = |key_use: &str, cert_text: &str| {
        format!(
            r#"<md:KeyDescriptor{key_use}><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert_text}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
        )
    };
    let doc = |keys: String| {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{IDP_ENTITY_ID}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    {keys}
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.fuzz.test/sso/post"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.fuzz.test/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"#
        )
    };
    vec![
        (
            "signing-and-encryption.xml",
            doc(format!(
                "{}{}",
                descriptor(r#" use="signing""#, &wrapped),
                descriptor(r#" use="encryption""#, &b64)
            )),
        ),
        ("no-use.xml", doc(descriptor("", &b64))),
        (
            "duplicate-keys.xml",
            doc(format!(
                "{}{}",
                descriptor(r#" use="signing""#, &b64),
                descriptor("", &wrapped)
            )),
        ),
        ("not-base64.xml", doc(descriptor("", "not*base64"))),
        (
            "entities-descriptor.xml",
            format!(
                r#"<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">{}</md:EntitiesDescriptor>"#,
                doc(descriptor("", &b64)).replace(r#"<?xml version="1.0" encoding="UTF-8"?>"#, "")
            ),
        ),
    ]
}

fn rsa_jwk(key: &PKey<Private>, kid: &str) -> Value {
    let rsa = key.rsa().unwrap();
    json!({"kty": "RSA", "kid": kid, "use": "sig",
           "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
           "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec())})
}

fn ec_jwk(key: &PKey<Private>, kid: &str) -> Value {
    let ec = key.ec_key().unwrap();
    let mut ctx = BigNumContext::new().unwrap();
    let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
    ec.public_key()
        .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
        .unwrap();
    json!({"kty": "EC", "kid": kid, "use": "sig", "crv": "P-256", "alg": "ES256",
           "x": URL_SAFE_NO_PAD.encode(x.to_vec_padded(32).unwrap()),
           "y": URL_SAFE_NO_PAD.encode(y.to_vec_padded(32).unwrap())})
}

fn sign_jws(key: &PKey<Private>, alg: &str, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signer = OsslSigner::new(MessageDigest::sha256(), key).unwrap();
    if alg == "PS256" {
        signer.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
        signer
            .set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
            .unwrap();
        signer.set_rsa_mgf1_md(MessageDigest::sha256()).unwrap();
    }
    signer.update(input.as_bytes()).unwrap();
    let mut signature = signer.sign_to_vec().unwrap();
    if alg == "ES256" {
        let sig = EcdsaSig::from_der(&signature).unwrap();
        signature = [
            sig.r().to_vec_padded(32).unwrap(),
            sig.s().to_vec_padded(32).unwrap(),
        ]
        .concat();
    }
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Claims that meet every expectation, plus `extra`; `jti` fingerprints the rest.
fn claims(extra: Value) -> Value {
    let iat = issued().timestamp();
    let mut c = json!({
        "iss": OIDC_ISSUER, "aud": OIDC_CLIENT, "sub": "248289761001", "nonce": OIDC_NONCE,
        "iat": iat, "exp": iat + 600, "auth_time": iat - 5,
        "email": "alice@example.org", "email_verified": true, "name": "Alice Example",
        "groups": ["aws-admins", "aws-readonly"],
        "at_hash": token_hash(JwsAlg::RS256, OIDC_ACCESS_TOKEN).unwrap(),
    });
    let map = c.as_object_mut().unwrap();
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            map.remove(k);
        } else {
            map.insert(k.clone(), v.clone());
        }
    }
    let fp = claims_fingerprint(map);
    map.insert("jti".into(), fp.into());
    c
}

fn oidc_seeds(rsa: &PKey<Private>, ec: &PKey<Private>) -> Vec<(&'static str, String)> {
    let rs = |kid: &str| json!({"alg": "RS256", "kid": kid, "typ": "JWT"});
    let evil = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let raw = |header: Value, claims: Value| {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            URL_SAFE_NO_PAD.encode([7u8; 256])
        )
    };
    vec![
        (
            "rs256.jwt",
            sign_jws(rsa, "RS256", &rs("fz-rsa"), &claims(json!({}))),
        ),
        (
            "ps256-no-kid.jwt",
            sign_jws(rsa, "PS256", &json!({"alg": "PS256"}), &claims(json!({}))),
        ),
        (
            "es256.jwt",
            sign_jws(
                ec,
                "ES256",
                &json!({"alg": "ES256", "kid": "fz-ec"}),
                &claims(json!({"at_hash": null})),
            ),
        ),
        (
            "two-audiences-azp.jwt",
            sign_jws(
                rsa,
                "RS256",
                &rs("fz-rsa"),
                &claims(
                    json!({"aud": [OIDC_CLIENT, OIDC_TRUSTED_AUDIENCE], "azp": OIDC_CLIENT,
                               "nbf": issued().timestamp() - 1,
                               "groups": {"nested": ["x"]}, "email_verified": false}),
                ),
            ),
        ),
        (
            "wrong-nonce.jwt",
            sign_jws(
                rsa,
                "RS256",
                &rs("fz-rsa"),
                &claims(json!({"nonce": "other"})),
            ),
        ),
        (
            "evil-key.jwt",
            sign_jws(&evil, "RS256", &rs("fz-rsa"), &claims(json!({}))),
        ),
        (
            "alg-none.jwt",
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
                URL_SAFE_NO_PAD.encode(claims(json!({})).to_string())
            ),
        ),
        (
            "hs256.jwt",
            raw(json!({"alg": "HS256", "kid": "fz-rsa"}), claims(json!({}))),
        ),
        (
            "embedded-jwk.jwt",
            raw(
                json!({"alg": "RS256", "jwk": rsa_jwk(&evil, "evil")}),
                claims(json!({})),
            ),
        ),
        (
            "crit.jwt",
            raw(
                json!({"alg": "RS256", "crit": ["exp"], "exp": 1}),
                claims(json!({})),
            ),
        ),
        (
            "duplicate-sub.jwt",
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"fz-rsa"}"#),
                URL_SAFE_NO_PAD.encode(r#"{"sub":"alice","sub":"admin"}"#),
                URL_SAFE_NO_PAD.encode([1u8; 256])
            ),
        ),
    ]
}

fn jwks_seeds(rsa: &PKey<Private>, ec: &PKey<Private>) -> Vec<(&'static str, String)> {
    let p384 = EcGroup::from_curve_name(Nid::SECP384R1).unwrap();
    let p384 = PKey::from_ec_key(EcKey::generate(&p384).unwrap()).unwrap();
    let ec384 = p384.ec_key().unwrap();
    let mut ctx = BigNumContext::new().unwrap();
    let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
    ec384
        .public_key()
        .affine_coordinates(ec384.group(), &mut x, &mut y, &mut ctx)
        .unwrap();
    let p384_jwk = json!({"kty": "EC", "kid": "fz-p384", "crv": "P-384", "key_ops": ["verify"],
        "x": URL_SAFE_NO_PAD.encode(x.to_vec_padded(48).unwrap()),
        "y": URL_SAFE_NO_PAD.encode(y.to_vec_padded(48).unwrap())});
    let small = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
    let mut rs = rsa_jwk(rsa, "fz-rsa");
    rs["alg"] = json!("PS256");
    let doc = |keys: Vec<Value>| serde_json::to_string(&json!({ "keys": keys })).unwrap();
    vec![
        (
            "mixed.json",
            doc(vec![
                rs,
                ec_jwk(ec, "fz-ec"),
                p384_jwk,
                rsa_jwk(&small, "too-small"),
            ]),
        ),
        (
            "same-kid-two-families.json",
            doc(vec![rsa_jwk(rsa, "shared"), ec_jwk(ec, "shared")]),
        ),
        (
            "duplicate-kid.json",
            doc(vec![rsa_jwk(rsa, "dup"), rsa_jwk(rsa, "dup")]),
        ),
        (
            "symmetric-and-encryption.json",
            doc(vec![
                json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}),
                json!({"kty": "RSA", "use": "enc", "kid": "enc", "n": "AQAB", "e": "AQAB"}),
                rsa_jwk(rsa, "fz-rsa"),
            ]),
        ),
    ]
}

fn json_seeds(jwks: &str, tokens: &[(&str, String)]) -> Vec<(String, String)> {
    let mut seeds = vec![
        ("jwks.json".to_string(), jwks.to_string()),
        (
            "duplicate-nested.json".into(),
            r#"{"a":{"b":1,"b":2}}"#.into(),
        ),
        (
            "numbers.json".into(),
            r#"[0,-0,1.5e3,123456789012345678901234567890,-1e-7,true,null]"#.into(),
        ),
        (
            "unicode.json".into(),
            r#"{"s":"\ud83d\ude00\u0000\u202e"}"#.into(),
        ),
    ];
    for (name, token) in tokens.iter().take(4) {
        for (i, part) in token.split('.').take(2).enumerate() {
            if let Ok(bytes) = URL_SAFE_NO_PAD.decode(part) {
                let stem = name.trim_end_matches(".jwt");
                let which = if i == 0 { "header" } else { "claims" };
                seeds.push((
                    format!("{stem}-{which}.json"),
                    String::from_utf8(bytes).unwrap(),
                ));
            }
        }
    }
    seeds
}

const RULES_FULL: &str = r#"version: 1
accounts:
  - id: "123456789012"
    alias: prod
    partition: aws
    access: {mode: saml_broker, saml_provider: roleport}
  - id: "210987654321"
    alias: cn-prod
    partition: aws-cn
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
    display_name: Administrator
    description: Full access
    max_session_seconds: 7200
  - arn: arn:aws:iam::123456789012:role/Deploy
    access: {mode: assume_role, external_id: "roleport-prod"}
  - arn: arn:aws:iam::123456789012:role/Auditor
    access:
      mode: federation_token
      session_policy: {managed_arns: [arn:aws:iam::aws:policy/SecurityAudit]}
  - arn: arn:aws-cn:iam::210987654321:role/ReadOnly
rules:
  - id: admins
    idp: corp
    claim: group
    match: ldap_dn
    pattern: cn=aws-admins,ou=groups,dc=example,dc=org
    roles: [arn:aws:iam::123456789012:role/Admin]
    priority: 10
    max_session_seconds: 3600
    session_tags: {team: platform, cost-center: "4711"}
    transitive_tag_keys: [team]
    capabilities: [decode-authorization-message]
  - id: deployers
    idp: google
    claim: email_domain
    match: exact
    pattern: example.com
    roles: [arn:aws:iam::123456789012:role/Deploy, arn:aws:iam::123456789012:role/Auditor]
  - id: cn-readers
    idp: corp
    claim: "attribute:department"
    match: regex
    pattern: "(ops|sre)"
    roles: [arn:aws-cn:iam::210987654321:role/ReadOnly]
  - id: glob
    idp: corp
    claim: subject
    match: glob
    pattern: "svc-*"
    roles: [arn:aws:iam::123456789012:role/Deploy]
  - id: no-contractors
    idp: corp
    claim: group
    match: exact
    pattern: contractors
    effect: deny
    roles: ["*"]
"#;

const RULES_BROKEN: &str = r#"version: 1
accounts:
  - id: 123456789012
    alias: prod
    partition: aws-moon
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
    max_session_seconds: 60
rules:
  - id: Bad Id
    idp: corp
    claim: groups
    match: regex
    pattern: "("
    roles: [arn:aws:iam::123456789012:role/Nope]
"#;

fn rules_seeds() -> Vec<(&'static str, String)> {
    let demo = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/demo/rules.yaml"),
    )
    .unwrap();
    vec![
        ("demo.yaml", demo),
        ("full.yaml", RULES_FULL.into()),
        ("broken.yaml", RULES_BROKEN.into()),
        ("not-yaml.yaml", "version: 1\naccounts: [\n".into()),
        (
            "aliases.yaml",
            "version: 1\nx: &a [*a]\naccounts: []\nroles: []\nrules: []\n".into(),
        ),
    ]
}

const RETURN_TO: &[(&str, &str)] = &[
    ("roles", "/roles"),
    (
        "bookmark",
        "/roles/123456789012-Admin/console?destination=s3%2Fhome%3Fregion%3Deu-west-1",
    ),
    ("fragment", "/support/decode?x=1#top"),
    ("root", "/"),
    ("scheme-relative", "//evil.example/"),
    ("backslash", "/\\evil.example"),
    ("encoded-slash", "/%2F%2Fevil.example"),
    ("absolute", "https://evil.example/"),
    ("javascript", "javascript:alert(1)"),
    ("tab", "/\t/evil.example"),
];

const CONSOLE: &[(&str, &[u8])] = &[
    ("home", b"\x00\n\n"),
    ("service-region", b"\x00ec2\neu-west-1\n"),
    ("path", b"\x03\n\ns3/buckets/my-bucket?x#fragment"),
    (
        "path-fragment",
        b"\x00cloudwatch\nus-gov-west-1\nhome#alarmsV2:",
    ),
    ("dot-dot", b"\x01\n\n../../evil"),
    ("scheme", b"\x02\n\nhttps://evil.example/"),
    ("percent", b"\x00\n\n%2e%2e/x"),
];

#[tokio::test]
#[ignore = "regenerates fuzz/corpus and fuzz/fixtures; run on purpose"]
async fn regenerate_fuzz_corpus() {
    let fuzz = fuzz_dir();
    let fixtures = fuzz.join("fixtures");
    let corpus = fuzz.join("corpus");

    // SAML: a fresh IdP key (only the certificate is kept) and the SP's decryption key.
    let idp = long_lived("idp.fuzz.test");
    let sp_key = long_lived("roleport.fuzz.test");
    write(
        &fixtures,
        "idp-signing-cert.pem",
        &idp.cert.to_pem().unwrap(),
    );
    let mut sp_pem = sp_key.pkey.private_key_to_pem_pkcs8().unwrap();
    sp_pem.extend_from_slice(&sp_key.cert.to_pem().unwrap());
    write(&fixtures, "sp-encryption.pem", &sp_pem);

    let dir = corpus.join("saml_response");
    clear(&dir);
    for (name, xml) in saml_seeds(&idp, &sp_key.cert) {
        write(&dir, name, xml.as_bytes());
    }
    let dir = corpus.join("saml_metadata");
    clear(&dir);
    for (name, xml) in metadata_seeds(&idp.cert) {
        write(&dir, name, xml.as_bytes());
    }

    // The real peer: a Response SimpleSAMLphp signed (its key is not pinned here, so it
    // exercises everything up to the signature) and its metadata.
    if std::env::var("ROLEPORT_TEST_PEERS_ENV").is_ok() {
        let app = spawn_app().await;
        let start = app.get("/login/demo-saml").await;
        let post = idp_sign_in(&app.client, &location(&start), "alice", "alicepw").await;
        let xml = STANDARD.decode(&post.saml_response).unwrap();
        write(
            &corpus.join("saml_response"),
            "simplesamlphp-real.xml",
            &xml,
        );
        let metadata = reqwest::get(PEERS.get("IDP_METADATA_URL"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        write(
            &corpus.join("saml_metadata"),
            "simplesamlphp-real.xml",
            &metadata,
        );
    }

    // OIDC: fresh RSA and EC keys; only the public JWKS is kept.
    let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let ec = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let jwks = serde_json::to_string_pretty(
        &json!({"keys": [rsa_jwk(&rsa, "fz-rsa"), ec_jwk(&ec, "fz-ec")]}),
    )
    .unwrap();
    write(&fixtures, "oidc-jwks.json", jwks.as_bytes());
    let tokens = oidc_seeds(&rsa, &ec);
    for target in ["id_token", "jws_header"] {
        let dir = corpus.join(target);
        clear(&dir);
        for (name, token) in &tokens {
            write(&dir, name, token.as_bytes());
        }
    }
    let dir = corpus.join("jwks");
    clear(&dir);
    for (name, doc) in jwks_seeds(&rsa, &ec) {
        write(&dir, name, doc.as_bytes());
    }
    if std::env::var("ROLEPORT_TEST_OIDC_ENV").is_ok() {
        let real = reqwest::get(OIDC_PEER.get("OIDC_JWKS_URL"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        write(&dir, "oidc-provider-real.json", &real);
    }
    let dir = corpus.join("strict_json");
    clear(&dir);
    for (name, text) in json_seeds(&jwks, &tokens) {
        write(&dir, &name, text.as_bytes());
    }

    let dir = corpus.join("rules_document");
    clear(&dir);
    for (name, yaml) in rules_seeds() {
        write(&dir, name, yaml.as_bytes());
    }
    let dir = corpus.join("return_to");
    clear(&dir);
    for (name, raw) in RETURN_TO {
        write(&dir, name, raw.as_bytes());
    }
    let dir = corpus.join("console_destination");
    clear(&dir);
    for (name, raw) in CONSOLE {
        write(&dir, name, raw);
    }

    // What the targets load at compile time changed: check the seeds against the new files.
    let cert =
        X509::from_pem(&std::fs::read(fixtures.join("idp-signing-cert.pem")).unwrap()).unwrap();
    assert_eq!(cert.to_der().unwrap(), idp.cert.to_der().unwrap());
    let _ = targets::TARGETS.len();
    eprintln!("regenerated; rebuild and run the fuzz tests to check the seeds verify");
}
