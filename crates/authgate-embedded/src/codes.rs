//! One-time codes (sign-up confirmation, password reset): six random digits,
//! stored as a SHA-256 digest bound to the user and purpose, compared in
//! constant time.

use aws_lc_rs::digest;
use rand::Rng;
use subtle::ConstantTimeEq;

/// Wrong tries after which a code is invalidated.
pub const MAX_CODE_ATTEMPTS: i64 = 5;

pub fn generate_code() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

pub fn hash_code(sub: &str, purpose: &str, code: &str) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in [sub, "\u{0}", purpose, "\u{0}", code.trim()] {
        ctx.update(part.as_bytes());
    }
    hex(ctx.finish().as_ref())
}

pub fn code_matches(sub: &str, purpose: &str, code: &str, stored_hash: &str) -> bool {
    let candidate = hash_code(sub, purpose, code);
    candidate.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// Recovery codes: 16 characters of a 32-letter alphabet without look-alikes
/// (80 bits), shown as `XXXX-XXXX-XXXX-XXXX`; case, spaces and dashes do not
/// matter when typed back.
const RECOVERY_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const RECOVERY_LEN: usize = 16;
/// The purpose recovery codes are hashed under.
pub const RECOVERY_PURPOSE: &str = "recovery_code";

pub fn generate_recovery_code() -> String {
    let mut rng = rand::rng();
    let chars: Vec<u8> = (0..RECOVERY_LEN)
        .map(|_| RECOVERY_ALPHABET[rng.random_range(0..RECOVERY_ALPHABET.len())])
        .collect();
    chars
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// The canonical form of a typed recovery code, or `None` when the text is
/// not one (a six-digit TOTP code is not).
pub fn normalize_recovery_code(text: &str) -> Option<String> {
    let canonical: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (canonical.len() == RECOVERY_LEN && canonical.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)))
        .then_some(canonical)
}

/// The stored digest of a recovery code of `sub` (any typed form).
pub fn hash_recovery_code(sub: &str, text: &str) -> Option<String> {
    normalize_recovery_code(text).map(|code| hash_code(sub, RECOVERY_PURPOSE, &code))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_80_bits_and_typed_back_loosely() {
        let code = generate_recovery_code();
        assert_eq!(code.len(), 19);
        assert_ne!(code, generate_recovery_code());
        let typed = code.to_lowercase().replace('-', " ");
        assert_eq!(
            hash_recovery_code("s", &typed),
            hash_recovery_code("s", &code)
        );
        assert_ne!(
            hash_recovery_code("t", &code),
            hash_recovery_code("s", &code)
        );
        for not_one in ["123456", "", "ABCD-EFGH-JKMN-PQR1", "ABCD-EFGH-JKMN"] {
            assert_eq!(normalize_recovery_code(not_one), None, "{not_one}");
        }
    }

    #[test]
    fn codes_are_six_digits_and_bound_to_user_and_purpose() {
        let code = generate_code();
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
        let stored = hash_code("sub-1", "sign_up", &code);
        assert!(code_matches("sub-1", "sign_up", &code, &stored));
        assert!(!code_matches("sub-2", "sign_up", &code, &stored));
        assert!(!code_matches("sub-1", "password_reset", &code, &stored));
    }
}
