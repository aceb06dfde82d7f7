//! EncryptedAssertion decryption with Roleport's key. samael's own helper panics on short input
//! and reports distinguishable errors; here every failure is the one `DecryptionFailed`, so the
//! response cannot serve as a padding oracle.

use super::SamlError;
use super::tree_reader::EncryptedParts;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Padding;
use openssl::symm::{Cipher, Crypter, Mode};

const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentCipher {
    Aes128Gcm,
    Aes256Gcm,
    Aes128Cbc,
    Aes256Cbc,
}

impl ContentCipher {
    fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            "http://www.w3.org/2009/xmlenc11#aes128-gcm" => Some(Self::Aes128Gcm),
            "http://www.w3.org/2009/xmlenc11#aes256-gcm" => Some(Self::Aes256Gcm),
            "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => Some(Self::Aes128Cbc),
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => Some(Self::Aes256Cbc),
            _ => None,
        }
    }

    pub fn is_cbc(self) -> bool {
        matches!(self, Self::Aes128Cbc | Self::Aes256Cbc)
    }

    fn cipher(self) -> Cipher {
        match self {
            Self::Aes128Gcm => Cipher::aes_128_gcm(),
            Self::Aes256Gcm => Cipher::aes_256_gcm(),
            Self::Aes128Cbc => Cipher::aes_128_cbc(),
            Self::Aes256Cbc => Cipher::aes_256_cbc(),
        }
    }
}

/// The content cipher named by the EncryptedData, if it is one we accept.
pub fn content_cipher(encrypted: &EncryptedParts) -> Result<ContentCipher, SamlError> {
    encrypted
        .content
        .as_ref()
        .and_then(|(method, _)| ContentCipher::from_uri(method))
        .ok_or(SamlError::DecryptionFailed)
}

pub fn decrypt(encrypted: &EncryptedParts, key: &PKey<Private>) -> Result<String, SamlError> {
    inner(encrypted, key).ok_or(SamlError::DecryptionFailed)
}

fn inner(encrypted: &EncryptedParts, key: &PKey<Private>) -> Option<String> {
    let (key_method, wrapped_key) = encrypted.key.as_ref()?;
    if key_method != RSA_OAEP_MGF1P && key_method != RSA_OAEP {
        return None;
    }
    let wrapped = b64(wrapped_key)?;
    let rsa = key.rsa().ok()?;
    let mut content_key = vec![0u8; usize::try_from(rsa.size()).ok()?];
    let n = rsa
        .private_decrypt(&wrapped, &mut content_key, Padding::PKCS1_OAEP)
        .ok()?;
    content_key.truncate(n);

    let cipher = content_cipher(encrypted).ok()?;
    let (_, value) = encrypted.content.as_ref()?;
    let data = b64(value)?;
    if content_key.len() != cipher.cipher().key_len() {
        return None;
    }
    let plain = if cipher.is_cbc() {
        let iv_len = cipher.cipher().iv_len()?;
        let (iv, body) = split(&data, iv_len)?;
        let mut plain = crypt(cipher.cipher(), &content_key, iv, body, None)?;
        strip_xmlenc_padding(&mut plain, cipher.cipher().block_size())?;
        plain
    } else {
        const TAG: usize = 16;
        let (iv, rest) = split(&data, 12)?;
        let body_len = rest.len().checked_sub(TAG)?;
        let (body, tag) = split(rest, body_len)?;
        crypt(cipher.cipher(), &content_key, iv, body, Some(tag))?
    };
    String::from_utf8(plain).ok()
}

/// XML Encryption 1.1 §5.2: the padding bytes are arbitrary (Santuario, .NET and libxmlsec1
/// write random ones) and only the last byte, the pad length, counts; PKCS#7's check would
/// refuse most real CBC ciphertexts.
fn strip_xmlenc_padding(plain: &mut Vec<u8>, block: usize) -> Option<()> {
    let pad = usize::from(*plain.last()?);
    if pad == 0 || pad > block || pad > plain.len() {
        return None;
    }
    plain.truncate(plain.len() - pad);
    Some(())
}

fn split(data: &[u8], at: usize) -> Option<(&[u8], &[u8])> {
    (at <= data.len()).then(|| data.split_at(at))
}

fn b64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
}

fn crypt(
    cipher: Cipher,
    key: &[u8],
    iv: &[u8],
    body: &[u8],
    tag: Option<&[u8]>,
) -> Option<Vec<u8>> {
    let mut c = Crypter::new(cipher, Mode::Decrypt, key, Some(iv)).ok()?;
    if let Some(tag) = tag {
        c.set_tag(tag).ok()?;
    } else {
        // CBC: the caller strips XML Encryption padding itself.
        c.pad(false);
    }
    let mut out = vec![0u8; body.len() + cipher.block_size()];
    let mut n = c.update(body, &mut out).ok()?;
    n += c.finalize(out.get_mut(n..)?).ok()?;
    out.truncate(n);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::strip_xmlenc_padding;

    #[test]
    fn xmlenc_padding_counts_only_the_last_byte() {
        let mut random_filler = b"<a/>\x9f\x13\x03".to_vec();
        assert_eq!(strip_xmlenc_padding(&mut random_filler, 16), Some(()));
        assert_eq!(random_filler, b"<a/>");
        let mut full_block = vec![7u8; 16];
        full_block[15] = 16;
        assert_eq!(strip_xmlenc_padding(&mut full_block, 16), Some(()));
        assert!(full_block.is_empty());
        for bad in [vec![], vec![b'x', 0], vec![b'x', 17], vec![3u8, 3]] {
            let mut bad = bad;
            assert_eq!(strip_xmlenc_padding(&mut bad, 16), None);
        }
    }
}
