//! A rotated AWS signing key's private key, sealed at rest in `aws_signing_keys`.
//!
//! Key: HMAC-SHA256(newest configured key, purpose ‖ 0 ‖ rotation key id). Associated data:
//! purpose, sealing key id, rotation key id and the SHA-256 of the key's certificate, so sealed
//! material copied onto another row (another id, another certificate) does not open.

use super::aead;
use super::id_token::SealError;
use super::keys::SealingKeys;

const PURPOSE: &str = "roleport aws signing key v1";

fn associated(sealing_key_id: &str, key_id: &str, certificate_der: &[u8]) -> Vec<u8> {
    let mut out = PURPOSE.as_bytes().to_vec();
    out.push(0);
    out.extend_from_slice(sealing_key_id.as_bytes());
    out.push(0);
    out.extend_from_slice(key_id.as_bytes());
    out.push(0);
    out.extend_from_slice(&openssl::sha::sha256(certificate_der));
    out
}

/// `(sealing key id, sealed bytes)` under the newest sealing key.
pub fn seal(
    keys: &SealingKeys,
    key_id: &str,
    certificate_der: &[u8],
    private_key_pem: &[u8],
) -> Result<(String, Vec<u8>), SealError> {
    let key = keys.sealing();
    let derived = key.derive(PURPOSE, key_id.as_bytes())?;
    let sealed = aead::seal(
        &derived,
        &associated(key.id(), key_id, certificate_der),
        private_key_pem,
    )?;
    Ok((key.id().to_string(), sealed))
}

/// The private key PEM; `None` if the sealing key is gone or the row was altered or moved.
pub fn open(
    keys: &SealingKeys,
    sealing_key_id: &str,
    key_id: &str,
    certificate_der: &[u8],
    sealed: &[u8],
) -> Option<Vec<u8>> {
    let key = keys.get(sealing_key_id)?;
    let derived = key.derive(PURPOSE, key_id.as_bytes()).ok()?;
    aead::open(
        &derived,
        &associated(sealing_key_id, key_id, certificate_der),
        sealed,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S1: &str = "s1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const PEM: &[u8] = b"-----BEGIN PRIVATE KEY-----\nMIIEvQ...\n-----END PRIVATE KEY-----\n";

    #[test]
    fn opens_only_for_its_key_id_and_certificate() {
        let keys = SealingKeys::parse(S1).unwrap();
        let (sid, sealed) = seal(&keys, "k1", b"cert-1", PEM).unwrap();
        assert_eq!(sid, "s1");
        assert!(!sealed.windows(10).any(|w| w == &PEM[..10]));
        assert_eq!(
            open(&keys, &sid, "k1", b"cert-1", &sealed).as_deref(),
            Some(PEM)
        );
        assert!(open(&keys, &sid, "k2", b"cert-1", &sealed).is_none());
        assert!(open(&keys, &sid, "k1", b"cert-2", &sealed).is_none());
        assert!(open(&keys, "s9", "k1", b"cert-1", &sealed).is_none());
        let other = SealingKeys::parse("s1 BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=").unwrap();
        assert!(open(&other, &sid, "k1", b"cert-1", &sealed).is_none());
    }
}
