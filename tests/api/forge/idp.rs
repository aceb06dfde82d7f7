//! The pure half of the forge: a SAML 2.0 identity provider in a few hundred lines. It builds
//! Responses and Assertions field by field, signs them with libxmlsec1 (through samael) from an
//! enveloped XML-DSig template, and encrypts assertions with XML Encryption, so tests can produce
//! every honest and dishonest message an IdP or an attacker could send.
//!
//! No dependency on the test app: the ACS benchmark includes this file too.
#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::{Padding, Rsa};
use openssl::symm::{Cipher, Crypter, Mode};
use openssl::x509::{X509, X509NameBuilder};
use roleport::protocol::xml::escape as xml_escape;
use samael::crypto::{Crypto, CryptoProvider};
use std::path::PathBuf;

pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const NS_XENC: &str = "http://www.w3.org/2001/04/xmlenc#";

pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const STATUS_RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
pub const STATUS_AUTHN_FAILED: &str = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed";
pub const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
pub const ATTRNAME_BASIC: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";

pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/// An RSA-2048 key with a self-signed SHA-256 certificate, made at run time.
pub struct ForgeKey {
    pub pkey: PKey<Private>,
    pub cert: X509,
}

impl ForgeKey {
    pub fn generate(common_name: &str) -> Self {
        let pkey = PKey::from_rsa(Rsa::generate(2048).expect("RSA key")).expect("pkey");
        let mut name = X509NameBuilder::new().expect("name");
        name.append_entry_by_text("CN", common_name).expect("CN");
        let name = name.build();
        let mut builder = X509::builder().expect("x509 builder");
        builder.set_version(2).expect("version");
        let mut serial = BigNum::new().expect("bn");
        serial
            .rand(64, openssl::bn::MsbOption::MAYBE_ZERO, false)
            .expect("serial");
        builder
            .set_serial_number(&Asn1Integer::from_bn(&serial).expect("serial"))
            .expect("serial");
        builder.set_subject_name(&name).expect("subject");
        builder.set_issuer_name(&name).expect("issuer");
        builder.set_pubkey(&pkey).expect("pubkey");
        builder
            .set_not_before(&Asn1Time::days_from_now(0).expect("time"))
            .expect("not before");
        builder
            .set_not_after(&Asn1Time::days_from_now(365).expect("time"))
            .expect("not after");
        builder
            .sign(&pkey, MessageDigest::sha256())
            .expect("self-sign");
        Self {
            pkey,
            cert: builder.build(),
        }
    }

    /// The private key as PKCS#8 DER: what `Crypto::sign_xml` (xmlsec's `Der` key format) loads.
    pub fn private_der(&self) -> Vec<u8> {
        self.pkey.private_key_to_pkcs8().expect("PKCS#8 DER")
    }

    pub fn cert_pem(&self) -> Vec<u8> {
        self.cert.to_pem().expect("cert PEM")
    }

    pub fn cert_b64(&self) -> String {
        STANDARD.encode(self.cert.to_der().expect("cert DER"))
    }

    /// The key named `name`, shared by every test process and benchmark run: generated once,
    /// kept (key and certificate in one PEM file) under Cargo's target tmp directory. The first
    /// process to publish the file wins; every process then uses what the file holds.
    pub fn cached(name: &str) -> Self {
        let path = forge_dir().join(format!("{name}.pem"));
        if let Some(key) = Self::read_pem(&path) {
            return key;
        }
        let fresh = Self::generate(name);
        let mut pem = fresh.pkey.private_key_to_pem_pkcs8().expect("key PEM");
        pem.extend_from_slice(&fresh.cert_pem());
        publish(&path, &pem);
        Self::read_pem(&path).unwrap_or(fresh)
    }

    /// A key and certificate PEM file, if it exists and the certificate is good for a day more.
    fn read_pem(path: &std::path::Path) -> Option<Self> {
        let pem = std::fs::read(path).ok()?;
        let pkey = PKey::private_key_from_pem(&pem).ok()?;
        let cert = X509::from_pem(&pem).ok()?;
        let fresh = cert.not_after() > Asn1Time::days_from_now(1).ok()?;
        let ours = cert.public_key().ok()?.public_eq(&pkey);
        (fresh && ours).then_some(Self { pkey, cert })
    }

    /// This key's certificate PEM, in a file named after its fingerprint (written once).
    pub fn cert_file(&self) -> PathBuf {
        let fingerprint = self.cert.digest(MessageDigest::sha256()).expect("digest");
        let path = forge_dir().join(format!("cert-{}.pem", hex::encode(&fingerprint[..12])));
        if !path.exists() {
            publish(&path, &self.cert_pem());
        }
        path
    }

    /// Writes the certificate PEM to a fresh file (the caller may delete it once read).
    pub fn write_cert_pem(&self) -> PathBuf {
        write_unique("cert.pem", &self.cert_pem())
    }

    /// Writes the private key PEM (PKCS#8) to a fresh file (the caller may delete it once read).
    pub fn write_key_pem(&self) -> PathBuf {
        write_unique(
            "key.pem",
            &self.pkey.private_key_to_pem_pkcs8().expect("key PEM"),
        )
    }
}

/// Cargo's scratch directory for integration tests and benchmarks (inside `target/`).
fn forge_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("forge");
    std::fs::create_dir_all(&dir).expect("create the forge directory");
    dir
}

fn write_unique(suffix: &str, bytes: &[u8]) -> PathBuf {
    let path = forge_dir().join(format!("{}-{suffix}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, bytes).expect("write forge file");
    path
}

/// Creates `path` with `bytes` unless it exists, atomically: a hard link never replaces a file,
/// so concurrent test processes cannot swap a key under one another.
fn publish(path: &std::path::Path, bytes: &[u8]) {
    let tmp = write_unique("tmp", bytes);
    match std::fs::hard_link(&tmp, path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => panic!("publish {}: {e}", path.display()),
    }
    let _ = std::fs::remove_file(&tmp);
}

pub fn new_id() -> String {
    format!("_{}", uuid::Uuid::new_v4().simple())
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

// ---------------------------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------------------------

/// A SignatureMethod with its matching DigestMethod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alg {
    pub signature: &'static str,
    pub digest: &'static str,
}

pub const RSA_SHA256: Alg = Alg {
    signature: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    digest: "http://www.w3.org/2001/04/xmlenc#sha256",
};
pub const RSA_SHA512: Alg = Alg {
    signature: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    digest: "http://www.w3.org/2001/04/xmlenc#sha512",
};
pub const RSA_SHA1: Alg = Alg {
    signature: "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    digest: "http://www.w3.org/2000/09/xmldsig#sha1",
};
pub const RSA_MD5: Alg = Alg {
    signature: "http://www.w3.org/2001/04/xmldsig-more#rsa-md5",
    digest: "http://www.w3.org/2001/04/xmldsig-more#md5",
};

/// How to sign: key, algorithms, canonicalization, and whether to show a certificate in KeyInfo.
#[derive(Clone)]
pub struct Signer<'k> {
    pub key: &'k ForgeKey,
    pub alg: Alg,
    pub c14n: &'static str,
    /// DER of a certificate to put into `ds:KeyInfo/ds:X509Data`; none by default.
    pub key_info_cert: Option<Vec<u8>>,
    /// The Reference URI; `#<ID of the signed element>` when `None`.
    pub reference_uri: Option<String>,
}

impl<'k> Signer<'k> {
    pub fn new(key: &'k ForgeKey) -> Self {
        Self {
            key,
            alg: RSA_SHA256,
            c14n: EXC_C14N,
            key_info_cert: None,
            reference_uri: None,
        }
    }

    pub fn alg(mut self, alg: Alg) -> Self {
        self.alg = alg;
        self
    }

    pub fn with_key_info(mut self, cert: &X509) -> Self {
        self.key_info_cert = Some(cert.to_der().expect("cert DER"));
        self
    }

    /// The enveloped-signature template for the element with this ID.
    pub fn template(&self, id: &str) -> String {
        let uri = self
            .reference_uri
            .clone()
            .unwrap_or_else(|| format!("#{id}"));
        let key_info = self
            .key_info_cert
            .as_ref()
            .map(|der| {
                format!(
                    "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>",
                    STANDARD.encode(der)
                )
            })
            .unwrap_or_default();
        format!(
            concat!(
                r#"<ds:Signature xmlns:ds="{ns}"><ds:SignedInfo>"#,
                r#"<ds:CanonicalizationMethod Algorithm="{c14n}"/>"#,
                r#"<ds:SignatureMethod Algorithm="{sig}"/>"#,
                r#"<ds:Reference URI="{uri}"><ds:Transforms>"#,
                r#"<ds:Transform Algorithm="{env}"/><ds:Transform Algorithm="{c14n}"/>"#,
                r#"</ds:Transforms><ds:DigestMethod Algorithm="{digest}"/>"#,
                r#"<ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo>"#,
                r#"<ds:SignatureValue></ds:SignatureValue>{key_info}</ds:Signature>"#
            ),
            ns = NS_DSIG,
            c14n = self.c14n,
            sig = self.alg.signature,
            uri = xml_escape(&uri),
            env = ENVELOPED,
            digest = self.alg.digest,
            key_info = key_info,
        )
    }

    /// Fills the FIRST `ds:Signature` template of the document (in document order).
    pub fn sign(&self, xml: &str) -> String {
        let signed = Crypto::sign_xml(xml, &self.key.private_der())
            .unwrap_or_else(|e| panic!("xmlsec could not sign ({:?}): {e}", self.alg));
        strip_declaration(&signed)
    }
}

/// Drops a leading `<?xml …?>` declaration (libxml2 adds one on output) so the element can be
/// embedded in another document.
pub fn strip_declaration(xml: &str) -> String {
    let trimmed = xml.trim();
    match trimmed.strip_prefix("<?xml") {
        Some(rest) => match rest.find("?>") {
            Some(end) => rest[end + 2..].trim_start().to_string(),
            None => trimmed.to_string(),
        },
        None => trimmed.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/// Which parts of a Response carry a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    Nothing,
    Assertion,
    Response,
    Both,
}

/// Where the service provider expects the message: from the app under test.
#[derive(Debug, Clone)]
pub struct SpTarget {
    pub entity_id: String,
    pub acs_url: String,
}

/// Every field of a Response and its Assertion; defaults are a valid, realistic answer issued at
/// `now`. Times are absolute, so a test decides them (or moves the app's clock instead).
#[derive(Debug, Clone)]
pub struct Forge {
    // Response
    pub response_id: String,
    pub response_version: String,
    pub response_issue_instant: DateTime<Utc>,
    pub destination: Option<String>,
    pub in_response_to: Option<String>,
    pub response_issuer: Option<String>,
    pub status_code: String,
    pub status_sub_code: Option<String>,
    pub status_message: Option<String>,
    /// Raw XML placed before `samlp:Status` (e.g. a `samlp:Extensions`).
    pub extensions: Option<String>,
    // Assertion
    pub assertion_id: String,
    pub assertion_version: String,
    pub assertion_issue_instant: DateTime<Utc>,
    pub assertion_issuer: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub confirmation_method: String,
    pub recipient: Option<String>,
    pub confirmation_not_on_or_after: Option<DateTime<Utc>>,
    /// Forbidden on a bearer confirmation (SAML profiles §4.1.4.2); `None` by default.
    pub confirmation_not_before: Option<DateTime<Utc>>,
    pub confirmation_in_response_to: Option<String>,
    /// Further bearer SubjectConfirmations, identical but for their Recipient (one SP reachable
    /// at several ACS URLs).
    pub extra_recipients: Vec<String>,
    pub not_before: Option<DateTime<Utc>>,
    pub not_on_or_after: Option<DateTime<Utc>>,
    pub audiences: Vec<String>,
    pub authn_instant: DateTime<Utc>,
    pub session_index: Option<String>,
    pub session_not_on_or_after: Option<DateTime<Utc>>,
    /// `(Name, values)`, in order.
    pub attributes: Vec<(String, Vec<String>)>,
    /// Raw XML placed at the end of the Assertion (e.g. a `saml:Advice`; schema order aside).
    pub assertion_extra: Option<String>,
}

impl Forge {
    pub fn new(idp_entity_id: &str, sp: &SpTarget, now: DateTime<Utc>) -> Self {
        Self {
            response_id: new_id(),
            response_version: "2.0".into(),
            response_issue_instant: now,
            destination: Some(sp.acs_url.clone()),
            in_response_to: None,
            response_issuer: Some(idp_entity_id.to_string()),
            status_code: STATUS_SUCCESS.into(),
            status_sub_code: None,
            status_message: None,
            extensions: None,
            assertion_id: new_id(),
            assertion_version: "2.0".into(),
            assertion_issue_instant: now,
            assertion_issuer: idp_entity_id.to_string(),
            name_id: "alice@example.org".into(),
            name_id_format: Some(NAMEID_EMAIL.into()),
            confirmation_method: BEARER.into(),
            recipient: Some(sp.acs_url.clone()),
            confirmation_not_on_or_after: Some(now + Duration::minutes(5)),
            confirmation_not_before: None,
            confirmation_in_response_to: None,
            extra_recipients: Vec::new(),
            not_before: Some(now - Duration::seconds(30)),
            not_on_or_after: Some(now + Duration::minutes(5)),
            audiences: vec![sp.entity_id.clone()],
            authn_instant: now - Duration::seconds(5),
            session_index: Some(new_id()),
            session_not_on_or_after: Some(now + Duration::hours(8)),
            attributes: vec![
                ("groups".into(), vec!["aws-admins".into()]),
                ("mail".into(), vec!["alice@example.org".into()]),
            ],
            assertion_extra: None,
        }
    }

    /// An answer to the AuthnRequest with this id (Response and SubjectConfirmationData).
    pub fn in_response_to(mut self, request_id: &str) -> Self {
        self.in_response_to = Some(request_id.to_string());
        self.confirmation_in_response_to = Some(request_id.to_string());
        self
    }

    pub fn name_id(mut self, name_id: &str) -> Self {
        self.name_id = name_id.to_string();
        self
    }

    pub fn groups(mut self, groups: &[&str]) -> Self {
        let values: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        match self.attributes.iter_mut().find(|(n, _)| n == "groups") {
            Some((_, v)) => *v = values,
            None => self.attributes.insert(0, ("groups".into(), values)),
        }
        self
    }

    /// Both Issuers.
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.response_issuer = Some(issuer.to_string());
        self.assertion_issuer = issuer.to_string();
        self
    }

    /// A fresh assertion id (e.g. for a second, distinct assertion).
    pub fn fresh_assertion_id(mut self) -> Self {
        self.assertion_id = new_id();
        self
    }

    /// The Assertion with `signature` (a template or nothing) right after its Issuer.
    pub fn assertion_xml(&self, signature: &str) -> String {
        let mut x = String::with_capacity(4096);
        x.push_str(&format!(
            r#"<saml:Assertion xmlns:saml="{NS_ASSERTION}" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="{}" Version="{}" IssueInstant="{}">"#,
            xml_escape(&self.assertion_id),
            xml_escape(&self.assertion_version),
            instant(self.assertion_issue_instant),
        ));
        x.push_str(&format!(
            "<saml:Issuer>{}</saml:Issuer>",
            xml_escape(&self.assertion_issuer)
        ));
        x.push_str(signature);
        x.push_str("<saml:Subject>");
        x.push_str(&format!(
            "<saml:NameID{}>{}</saml:NameID>",
            opt_attr("Format", self.name_id_format.as_deref()),
            xml_escape(&self.name_id)
        ));
        let recipients = std::iter::once(self.recipient.as_deref())
            .chain(self.extra_recipients.iter().map(|r| Some(r.as_str())));
        for recipient in recipients {
            x.push_str(&format!(
                r#"<saml:SubjectConfirmation Method="{}"><saml:SubjectConfirmationData{}{}{}{}/></saml:SubjectConfirmation>"#,
                xml_escape(&self.confirmation_method),
                opt_attr(
                    "NotBefore",
                    self.confirmation_not_before.map(instant).as_deref()
                ),
                opt_attr(
                    "NotOnOrAfter",
                    self.confirmation_not_on_or_after.map(instant).as_deref()
                ),
                opt_attr("Recipient", recipient),
                opt_attr(
                    "InResponseTo",
                    self.confirmation_in_response_to.as_deref()
                ),
            ));
        }
        x.push_str("</saml:Subject>");
        x.push_str(&format!(
            "<saml:Conditions{}{}>",
            opt_attr("NotBefore", self.not_before.map(instant).as_deref()),
            opt_attr("NotOnOrAfter", self.not_on_or_after.map(instant).as_deref()),
        ));
        // No audiences: no AudienceRestriction at all.
        if !self.audiences.is_empty() {
            x.push_str("<saml:AudienceRestriction>");
            for audience in &self.audiences {
                x.push_str(&format!(
                    "<saml:Audience>{}</saml:Audience>",
                    xml_escape(audience)
                ));
            }
            x.push_str("</saml:AudienceRestriction>");
        }
        x.push_str("</saml:Conditions>");
        x.push_str(&format!(
            r#"<saml:AuthnStatement AuthnInstant="{}"{}{}><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"#,
            instant(self.authn_instant),
            opt_attr("SessionIndex", self.session_index.as_deref()),
            opt_attr(
                "SessionNotOnOrAfter",
                self.session_not_on_or_after.map(instant).as_deref()
            ),
        ));
        if !self.attributes.is_empty() {
            x.push_str("<saml:AttributeStatement>");
            for (name, values) in &self.attributes {
                x.push_str(&format!(
                    r#"<saml:Attribute Name="{}" NameFormat="{ATTRNAME_BASIC}">"#,
                    xml_escape(name)
                ));
                for v in values {
                    x.push_str(&format!(
                        r#"<saml:AttributeValue xsi:type="xs:string">{}</saml:AttributeValue>"#,
                        xml_escape(v)
                    ));
                }
                x.push_str("</saml:Attribute>");
            }
            x.push_str("</saml:AttributeStatement>");
        }
        if let Some(extra) = &self.assertion_extra {
            x.push_str(extra);
        }
        x.push_str("</saml:Assertion>");
        x
    }

    /// The Response around `inner` (assertions, encrypted assertions or nothing), with
    /// `signature` (a template or nothing) right after its Issuer.
    pub fn response_xml(&self, signature: &str, inner: &str) -> String {
        let mut x = String::with_capacity(inner.len() + 2048);
        x.push_str(&format!(
            r#"<samlp:Response xmlns:samlp="{NS_PROTOCOL}" xmlns:saml="{NS_ASSERTION}" ID="{}" Version="{}" IssueInstant="{}"{}{}>"#,
            xml_escape(&self.response_id),
            xml_escape(&self.response_version),
            instant(self.response_issue_instant),
            opt_attr("Destination", self.destination.as_deref()),
            opt_attr("InResponseTo", self.in_response_to.as_deref()),
        ));
        if let Some(issuer) = &self.response_issuer {
            x.push_str(&format!(
                "<saml:Issuer>{}</saml:Issuer>",
                xml_escape(issuer)
            ));
        }
        x.push_str(signature);
        if let Some(ext) = &self.extensions {
            x.push_str(ext);
        }
        x.push_str(&format!(
            r#"<samlp:Status><samlp:StatusCode Value="{}">"#,
            xml_escape(&self.status_code)
        ));
        if let Some(sub) = &self.status_sub_code {
            x.push_str(&format!(
                r#"<samlp:StatusCode Value="{}"/>"#,
                xml_escape(sub)
            ));
        }
        x.push_str("</samlp:StatusCode>");
        if let Some(message) = &self.status_message {
            x.push_str(&format!(
                "<samlp:StatusMessage>{}</samlp:StatusMessage>",
                xml_escape(message)
            ));
        }
        x.push_str("</samlp:Status>");
        x.push_str(inner);
        x.push_str("</samlp:Response>");
        x
    }

    /// The Assertion, unsigned.
    pub fn unsigned_assertion(&self) -> String {
        self.assertion_xml("")
    }

    /// The Assertion signed on its own (as its own document), ready to embed.
    pub fn signed_assertion(&self, signer: &Signer<'_>) -> String {
        signer.sign(&self.assertion_xml(&signer.template(&self.assertion_id)))
    }

    /// A Response around `inner`, signed if `signer` is given.
    pub fn response_around(&self, inner: &str, signer: Option<&Signer<'_>>) -> String {
        match signer {
            Some(s) => s.sign(&self.response_xml(&s.template(&self.response_id), inner)),
            None => self.response_xml("", inner),
        }
    }

    /// The whole Response with the Assertion inside, signed as asked. With `Sign::Both` the
    /// Assertion is signed first, then the Response over it.
    pub fn build(&self, sign: Sign, signer: &Signer<'_>) -> String {
        let assertion = match sign {
            Sign::Assertion | Sign::Both => self.signed_assertion(signer),
            Sign::Nothing | Sign::Response => self.unsigned_assertion(),
        };
        let response_signer = matches!(sign, Sign::Response | Sign::Both).then_some(signer);
        self.response_around(&assertion, response_signer)
    }

    /// A failure answer with no assertion, unsigned, as IdPs send when the user could not
    /// authenticate.
    pub fn failure(&self, top: &str, sub: Option<&str>, message: Option<&str>) -> String {
        let mut f = self.clone();
        f.status_code = top.to_string();
        f.status_sub_code = sub.map(str::to_string);
        f.status_message = message.map(str::to_string);
        f.response_xml("", "")
    }
}

fn opt_attr(name: &str, value: Option<&str>) -> String {
    value
        .map(|v| format!(r#" {name}="{}""#, xml_escape(v)))
        .unwrap_or_default()
}

/// The `SAMLResponse` form value for the HTTP-POST binding.
pub fn encode(xml: &str) -> String {
    STANDARD.encode(xml.as_bytes())
}

// ---------------------------------------------------------------------------------------------
// XML Encryption
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentCipher {
    Aes256Gcm,
    Aes128Gcm,
    Aes128Cbc,
    Aes256Cbc,
}

impl ContentCipher {
    pub fn uri(self) -> &'static str {
        match self {
            Self::Aes256Gcm => "http://www.w3.org/2009/xmlenc11#aes256-gcm",
            Self::Aes128Gcm => "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            Self::Aes128Cbc => "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            Self::Aes256Cbc => "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
        }
    }

    fn cipher(self) -> Cipher {
        match self {
            Self::Aes256Gcm => Cipher::aes_256_gcm(),
            Self::Aes128Gcm => Cipher::aes_128_gcm(),
            Self::Aes128Cbc => Cipher::aes_128_cbc(),
            Self::Aes256Cbc => Cipher::aes_256_cbc(),
        }
    }

    fn is_cbc(self) -> bool {
        matches!(self, Self::Aes128Cbc | Self::Aes256Cbc)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTransport {
    /// `rsa-oaep-mgf1p` (OAEP, SHA-1 MGF1): what IdPs use.
    RsaOaepMgf1p,
    /// `rsa-1_5`: PKCS#1 v1.5, the Bleichenbacher-prone one.
    RsaPkcs1v15,
}

/// What to break in an encrypted assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    Nothing,
    /// Flip one bit in the middle of the ciphertext.
    FlipCiphertextBit,
    /// CBC: the last plaintext byte (the pad length) is 0, which no valid padding has.
    BadPadding,
    /// CipherValue shorter than an IV.
    Truncate,
}

pub struct Encryption<'a> {
    pub cipher: ContentCipher,
    /// The certificate the content key is encrypted to: the SP's (or anyone else's).
    pub recipient: &'a X509,
    pub key_transport: KeyTransport,
    pub tamper: Tamper,
}

impl<'a> Encryption<'a> {
    pub fn new(cipher: ContentCipher, recipient: &'a X509) -> Self {
        Self {
            cipher,
            recipient,
            key_transport: KeyTransport::RsaOaepMgf1p,
            tamper: Tamper::Nothing,
        }
    }

    pub fn tamper(mut self, tamper: Tamper) -> Self {
        self.tamper = tamper;
        self
    }

    /// `<saml:EncryptedAssertion>` holding `assertion_xml` (an Assertion element, signed or not).
    pub fn encrypt(&self, assertion_xml: &str) -> String {
        let cipher = self.cipher.cipher();
        let mut key = vec![0u8; cipher.key_len()];
        openssl::rand::rand_bytes(&mut key).expect("random key");
        let plain = assertion_xml.as_bytes();

        let mut value = if self.cipher.is_cbc() {
            let block = cipher.block_size();
            // XML Encryption §5.2: arbitrary padding bytes, the last one is the pad length
            // (1..=block). Santuario, .NET and xmlsec all pad this way with random bytes.
            let pad = block - plain.len() % block;
            let mut padded = plain.to_vec();
            let mut filler = vec![0u8; pad - 1];
            openssl::rand::rand_bytes(&mut filler).expect("random padding");
            padded.extend_from_slice(&filler);
            let last = if self.tamper == Tamper::BadPadding {
                0
            } else {
                u8::try_from(pad).expect("pad fits a byte")
            };
            padded.push(last);
            let mut iv = vec![0u8; cipher.iv_len().expect("CBC has an IV")];
            openssl::rand::rand_bytes(&mut iv).expect("random iv");
            let mut c = Crypter::new(cipher, Mode::Encrypt, &key, Some(&iv)).expect("crypter");
            c.pad(false);
            let mut out = vec![0u8; padded.len() + block];
            let mut n = c.update(&padded, &mut out).expect("encrypt");
            n += c.finalize(&mut out[n..]).expect("finalize");
            out.truncate(n);
            let mut v = iv;
            v.extend_from_slice(&out);
            v
        } else {
            let mut iv = vec![0u8; 12];
            openssl::rand::rand_bytes(&mut iv).expect("random iv");
            let mut tag = vec![0u8; 16];
            let ct = openssl::symm::encrypt_aead(cipher, &key, Some(&iv), &[], plain, &mut tag)
                .expect("GCM encrypt");
            let mut v = iv;
            v.extend_from_slice(&ct);
            v.extend_from_slice(&tag);
            v
        };
        match self.tamper {
            Tamper::FlipCiphertextBit => {
                let mid = value.len() / 2;
                value[mid] ^= 0x01;
            }
            Tamper::Truncate => value.truncate(8),
            Tamper::Nothing | Tamper::BadPadding => {}
        }

        let rsa = self
            .recipient
            .public_key()
            .expect("recipient key")
            .rsa()
            .expect("RSA recipient");
        let mut wrapped = vec![0u8; usize::try_from(rsa.size()).expect("size")];
        let (padding, method) = match self.key_transport {
            KeyTransport::RsaOaepMgf1p => (
                Padding::PKCS1_OAEP,
                "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
            ),
            KeyTransport::RsaPkcs1v15 => {
                (Padding::PKCS1, "http://www.w3.org/2001/04/xmlenc#rsa-1_5")
            }
        };
        let n = rsa
            .public_encrypt(&key, &mut wrapped, padding)
            .expect("wrap content key");
        wrapped.truncate(n);

        let digest = if self.key_transport == KeyTransport::RsaOaepMgf1p {
            r#"<ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/>"#
        } else {
            ""
        };
        format!(
            concat!(
                r#"<saml:EncryptedAssertion>"#,
                r#"<xenc:EncryptedData xmlns:xenc="{xenc}" Id="{id}" Type="http://www.w3.org/2001/04/xmlenc#Element">"#,
                r#"<xenc:EncryptionMethod Algorithm="{content}"/>"#,
                r#"<ds:KeyInfo xmlns:ds="{ds}"><xenc:EncryptedKey>"#,
                r#"<xenc:EncryptionMethod Algorithm="{method}">{digest}</xenc:EncryptionMethod>"#,
                r#"<xenc:CipherData><xenc:CipherValue>{key}</xenc:CipherValue></xenc:CipherData>"#,
                r#"</xenc:EncryptedKey></ds:KeyInfo>"#,
                r#"<xenc:CipherData><xenc:CipherValue>{value}</xenc:CipherValue></xenc:CipherData>"#,
                r#"</xenc:EncryptedData></saml:EncryptedAssertion>"#
            ),
            xenc = NS_XENC,
            id = new_id(),
            content = self.cipher.uri(),
            ds = NS_DSIG,
            method = method,
            digest = digest,
            key = STANDARD.encode(wrapped),
            value = STANDARD.encode(value),
        )
    }
}
