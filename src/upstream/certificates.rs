//! What the identity providers page shows of a pinned signing certificate: its subject and
//! validity window, read with OpenSSL from the DER Roleport pins.

use chrono::{DateTime, Utc};
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::nid::Nid;
use openssl::x509::X509;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

fn to_chrono(t: &Asn1TimeRef) -> Option<DateTime<Utc>> {
    let epoch = Asn1Time::from_unix(0).ok()?;
    let d = epoch.diff(t).ok()?;
    let secs = i64::from(d.days) * 86_400 + i64::from(d.secs);
    DateTime::from_timestamp(secs, 0)
}

/// `None` for bytes that are not a certificate (a pinned key always is one).
pub fn facts(der: &[u8]) -> Option<CertFacts> {
    let cert = X509::from_der(der).ok()?;
    let name = cert.subject_name();
    let subject = name
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .map(|e| format!("CN={}", String::from_utf8_lossy(e.data().as_slice())))
        .unwrap_or_else(|| "(no common name)".into());
    Some(CertFacts {
        subject,
        not_before: to_chrono(cert.not_before())?,
        not_after: to_chrono(cert.not_after())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509Builder, X509NameBuilder};

    #[test]
    fn reads_subject_and_window() {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "idp.example.org").unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::from_unix(1_700_000_000).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(1_800_000_000).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        let der = b.build().to_der().unwrap();
        let f = facts(&der).unwrap();
        assert_eq!(f.subject, "CN=idp.example.org");
        assert_eq!(f.not_before.timestamp(), 1_700_000_000);
        assert_eq!(f.not_after.timestamp(), 1_800_000_000);
        assert!(facts(b"not a certificate").is_none());
    }
}
