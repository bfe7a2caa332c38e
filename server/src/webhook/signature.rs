//! `SC-Signature`: lowercase hex HMAC-SHA256 of the raw body, keyed with the
//! Application Management Token. The same primitive answers VERIFY challenges.
//!
//! The verifier works on the bytes as received (never a re-serialisation), compares in
//! constant time through `Mac::verify_slice`, and never shows its key in `Debug`.

use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub struct Verifier {
    key: SecretString,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier { key: [redacted] }")
    }
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no SC-Signature header")]
    Missing,
    #[error("SC-Signature is not 64 hex characters")]
    Malformed { received: String },
    #[error("SC-Signature does not match the body")]
    Mismatch { received: String },
}

impl Verifier {
    pub fn new(key: SecretString) -> Self {
        Self { key }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length, so this cannot fail.
        match HmacSha256::new_from_slice(self.key.expose_secret().as_bytes()) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        }
    }

    /// The first 12 hex characters of the key's SHA-256: enough to tell which key the
    /// server holds (compare `printf %s "$SMARTCAR_MANAGEMENT_TOKEN" | sha256sum`),
    /// nothing that helps forge a signature. Logged instead of any MAC, because a MAC
    /// over bytes a stranger sent would sign them for him.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let digest = Sha256::digest(self.key.expose_secret().as_bytes());
        hex::encode(&digest[..6])
    }

    /// Lowercase hex HMAC-SHA256 of `message`.
    pub fn sign(&self, message: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }

    /// Checks an `SC-Signature` header value against the raw body.
    pub fn verify(&self, body: &[u8], header: Option<&[u8]>) -> Result<(), SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        let text = String::from_utf8_lossy(header);
        let shown = || text.chars().take(80).collect::<String>();
        let mut mac = self.mac();
        mac.update(body);
        let received = match hex::decode(text.trim()) {
            Ok(bytes) if bytes.len() == 32 => bytes,
            _ => return Err(SignatureError::Malformed { received: shown() }),
        };
        mac.verify_slice(&received)
            .map_err(|_| SignatureError::Mismatch { received: shown() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier(key: &str) -> Verifier {
        Verifier::new(SecretString::from(key.to_owned()))
    }

    #[test]
    fn smartcar_sdk_challenge_vector() {
        assert_eq!(
            verifier("amt").sign(b"challenge"),
            "9baf5a7464bd86740ad5a06e439dcf535a075022ed2c92d74efacf646d79328e"
        );
    }

    #[test]
    fn smartcar_sdk_payload_vector() {
        let v = verifier("amt");
        let sig = "4c05a8da471f05156ad717baa4017acd13a3a809850b9ca7d3301dcaaa854f70";
        assert_eq!(v.sign(br#"{"pizza":"pasta"}"#), sig);
        assert_eq!(
            v.verify(br#"{"pizza":"pasta"}"#, Some(sig.as_bytes())),
            Ok(())
        );
    }

    #[test]
    fn fixture_verify_challenge_vector() {
        assert_eq!(
            verifier("a5f1c2d3-4b5e-4f60-8a7b-9c0d1e2f3a4b")
                .sign(b"6f1d2c3b-8a9e-4f70-b1c2-d3e4f5a6b7c8"),
            "f4412cc75c8f51e0f394c002b45d7a706248f4ec12eacf86f7c9cc75ede35d0b"
        );
    }

    #[test]
    fn upper_case_hex_is_accepted_as_the_same_bytes() {
        let sig = "4C05A8DA471F05156AD717BAA4017ACD13A3A809850B9CA7D3301DCAAA854F70";
        assert_eq!(
            verifier("amt").verify(br#"{"pizza":"pasta"}"#, Some(sig.as_bytes())),
            Ok(())
        );
    }

    #[test]
    fn missing_malformed_and_wrong_signatures_are_refused() {
        let v = verifier("amt");
        let body = br#"{"pizza":"pasta"}"#;
        assert_eq!(v.verify(body, None), Err(SignatureError::Missing));
        assert!(matches!(
            v.verify(body, Some(b"sha256=abc")),
            Err(SignatureError::Malformed { .. })
        ));
        assert!(matches!(
            v.verify(body, Some(&[b'a'; 62])),
            Err(SignatureError::Malformed { .. })
        ));
        let wrong = v.sign(br#"{"pizza":"pizza"}"#);
        assert!(matches!(
            v.verify(body, Some(wrong.as_bytes())),
            Err(SignatureError::Mismatch { .. })
        ));
    }

    #[test]
    fn one_changed_byte_breaks_the_signature() {
        let v = verifier("amt");
        let sig = v.sign(br#"{"pizza":"pasta"}"#);
        assert!(v
            .verify(br#"{"pizza": "pasta"}"#, Some(sig.as_bytes()))
            .is_err());
    }

    #[test]
    fn the_fingerprint_is_the_start_of_the_keys_sha256() {
        // printf %s amt | sha256sum
        assert_eq!(verifier("amt").fingerprint(), "9ff675fc4e1c");
        assert_ne!(verifier("amt").fingerprint(), verifier("amu").fingerprint());
    }

    #[test]
    fn debug_hides_the_key() {
        assert!(!format!("{:?}", verifier("top-secret")).contains("top-secret"));
    }
}
