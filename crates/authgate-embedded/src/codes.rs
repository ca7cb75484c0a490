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
