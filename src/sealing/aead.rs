//! AES-256-GCM with a random 96-bit nonce, stored as `nonce ‖ tag ‖ ciphertext`. The associated
//! data binds a sealed value to where it belongs: it is not stored, so a value moved elsewhere
//! does not open.

use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};

const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum AeadError {
    #[error("sealing failed: {0}")]
    Crypto(String),
    #[error("the sealed value is shorter than its nonce and tag")]
    Short,
    #[error("the sealed value does not open (another key, another binding, or altered)")]
    DoesNotOpen,
}

pub fn seal(key: &[u8; 32], associated: &[u8], plain: &[u8]) -> Result<Vec<u8>, AeadError> {
    let mut nonce = [0u8; NONCE_BYTES];
    openssl::rand::rand_bytes(&mut nonce).map_err(|e| AeadError::Crypto(e.to_string()))?;
    let mut tag = [0u8; TAG_BYTES];
    let ct = encrypt_aead(
        Cipher::aes_256_gcm(),
        key,
        Some(&nonce),
        associated,
        plain,
        &mut tag,
    )
    .map_err(|e| AeadError::Crypto(e.to_string()))?;
    Ok([nonce.as_slice(), tag.as_slice(), ct.as_slice()].concat())
}

pub fn open(key: &[u8; 32], associated: &[u8], sealed: &[u8]) -> Result<Vec<u8>, AeadError> {
    let (nonce, rest) = sealed
        .split_at_checked(NONCE_BYTES)
        .ok_or(AeadError::Short)?;
    let (tag, ct) = rest.split_at_checked(TAG_BYTES).ok_or(AeadError::Short)?;
    // OpenSSL reports a failed tag check like any other error; both mean "does not open".
    decrypt_aead(Cipher::aes_256_gcm(), key, Some(nonce), associated, ct, tag)
        .map_err(|_| AeadError::DoesNotOpen)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn what_is_sealed_opens_with_the_same_key_and_binding() {
        let sealed = seal(&KEY, b"session-1", b"eyJ.token.sig").unwrap();
        assert_eq!(open(&KEY, b"session-1", &sealed).unwrap(), b"eyJ.token.sig");
        assert!(!sealed.windows(5).any(|w| w == b"token"));
    }

    #[test]
    fn each_seal_has_its_own_nonce() {
        let a = seal(&KEY, b"", b"same").unwrap();
        let b = seal(&KEY, b"", b"same").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), NONCE_BYTES + TAG_BYTES + 4);
    }

    #[test]
    fn another_key_another_binding_or_any_changed_byte_does_not_open() {
        let sealed = seal(&KEY, b"session-1", b"eyJ.token.sig").unwrap();
        assert!(matches!(
            open(&[8; 32], b"session-1", &sealed),
            Err(AeadError::DoesNotOpen)
        ));
        assert!(matches!(
            open(&KEY, b"session-2", &sealed),
            Err(AeadError::DoesNotOpen)
        ));
        for i in 0..sealed.len() {
            let mut altered = sealed.clone();
            altered[i] ^= 1;
            assert!(
                matches!(
                    open(&KEY, b"session-1", &altered),
                    Err(AeadError::DoesNotOpen)
                ),
                "byte {i}"
            );
        }
    }

    #[test]
    fn a_cut_value_is_refused_without_a_panic() {
        let sealed = seal(&KEY, b"", b"x").unwrap();
        for len in 0..NONCE_BYTES + TAG_BYTES {
            assert!(matches!(
                open(&KEY, b"", &sealed[..len]),
                Err(AeadError::Short)
            ));
        }
        assert!(matches!(
            open(&KEY, b"", &sealed[..NONCE_BYTES + TAG_BYTES]),
            Err(AeadError::DoesNotOpen)
        ));
    }
}
