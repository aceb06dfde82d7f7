//! A new AWS signing key for the rotation: RSA 3072 (it signs SAML Responses and RS256 ID
//! tokens) with a self-signed certificate, the form IAM SAML providers take it in.

use chrono::{DateTime, Utc};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};

/// How long the certificate is valid. AWS does not check it; the signer is rotated long before.
const CERTIFICATE_DAYS: i64 = 5 * 365;

pub struct GeneratedKey {
    pub id: String,
    pub private_key_pem: Vec<u8>,
    pub certificate_pem: Vec<u8>,
    pub certificate_der: Vec<u8>,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A key whose id carries its creation time and 6 random hex digits.
pub fn generate(now: DateTime<Utc>) -> Result<GeneratedKey, openssl::error::ErrorStack> {
    let mut random = [0u8; 3];
    openssl::rand::rand_bytes(&mut random)?;
    let id = format!("k{}-{}", now.format("%Y%m%d%H%M%S"), hex::encode(random));
    let key = PKey::from_rsa(Rsa::generate(3072)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", &format!("Roleport AWS signing key {id}"))?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let mut builder = X509::builder()?;
    builder.set_version(2)?;
    let serial = serial.to_asn1_integer()?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(&name)?;
    builder.set_pubkey(&key)?;
    let start = now.timestamp() - 300;
    let not_before = Asn1Time::from_unix(start)?;
    let not_after = Asn1Time::from_unix(start + CERTIFICATE_DAYS * 86_400)?;
    builder.set_not_before(&not_before)?;
    builder.set_not_after(&not_after)?;
    builder.sign(&key, MessageDigest::sha256())?;
    let cert = builder.build();
    Ok(GeneratedKey {
        id,
        private_key_pem: key.private_key_to_pem_pkcs8()?,
        certificate_pem: cert.to_pem()?,
        certificate_der: cert.to_der()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_signs_saml_and_id_tokens() {
        let now = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let k = generate(now).unwrap();
        assert!(k.id.starts_with("k20300317"), "{}", k.id);
        let saml = crate::protocol::aws::BrokerSigningKey::from_pem(
            &k.private_key_pem,
            &k.certificate_pem,
        )
        .unwrap();
        assert_eq!(saml.certificate_der(), k.certificate_der.as_slice());
        let pkey = PKey::private_key_from_pem(&k.private_key_pem).unwrap();
        assert!(crate::protocol::aws::rsa_jwk(&pkey).is_ok());
        assert_ne!(generate(now).unwrap().id, k.id);
    }
}
