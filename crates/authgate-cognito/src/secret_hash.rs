//! `SECRET_HASH`: what Cognito asks for on every user-facing call when the
//! app client has a secret.
//!
//! `SECRET_HASH = base64(HMAC-SHA256(key = client secret, message = username ++ client id))`,
//! standard base64 with padding.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The `SECRET_HASH` of `username` for the app client `client_id`.
pub(crate) fn secret_hash(client_secret: &str, username: &str, client_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, client_secret.as_bytes());
    let mut message = Vec::with_capacity(username.len() + client_id.len());
    message.extend_from_slice(username.as_bytes());
    message.extend_from_slice(client_id.as_bytes());
    STANDARD.encode(hmac::sign(&key, &message).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HMAC-SHA256 written out from FIPS 198-1 on top of the SHA-256 of
    /// aws-lc-rs, so that the vector below is computed independently of
    /// `aws_lc_rs::hmac`.
    fn reference_hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
        use aws_lc_rs::digest::{SHA256, digest};
        const BLOCK: usize = 64;
        let mut k = if key.len() > BLOCK {
            digest(&SHA256, key).as_ref().to_vec()
        } else {
            key.to_vec()
        };
        k.resize(BLOCK, 0);
        let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        let inner = digest(&SHA256, &[ipad.as_slice(), message].concat());
        digest(&SHA256, &[opad.as_slice(), inner.as_ref()].concat())
            .as_ref()
            .to_vec()
    }

    #[test]
    fn rfc4231_case_2_through_the_documented_formula() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
        // split as username + client id.
        let expected_hex = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let expected: Vec<u8> = (0..expected_hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&expected_hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(
            secret_hash("Jefe", "what do ya want ", "for nothing?"),
            STANDARD.encode(expected)
        );
    }

    #[test]
    fn matches_an_independent_hmac() {
        let secret = "1example23456789abcdefghijklmnopqrstuvwxyz0123456";
        let username = "alice@example.com";
        let client_id = "7example2uv9q7ld0n9qkvhbhi";
        let expected = STANDARD.encode(reference_hmac_sha256(
            secret.as_bytes(),
            format!("{username}{client_id}").as_bytes(),
        ));
        assert_eq!(secret_hash(secret, username, client_id), expected);
        // Standard base64 of 32 bytes: 44 characters ending in one `=`.
        assert_eq!(expected.len(), 44);
        assert!(expected.ends_with('='));
    }
}
