//! TOTP (RFC 6238) for the embedded provider through totp-rs: 160-bit
//! secrets, SHA-1, six digits, 30-second steps, one step of clock skew either
//! way. Checking a code answers the time step it matched, so the caller can
//! refuse a step that was already used (a code is accepted at most once).

use authgate_core::{AuthError, Secret, TotpEnrolment};
use rand::RngCore;
use totp_rs::{Algorithm, Builder, Totp};

const ISSUER: &str = "authgate";

fn totp(secret_b32: &str, account: &str) -> Result<Totp, AuthError> {
    let secret = totp_rs::Secret::try_from_base32(secret_b32)
        .map_err(|_| AuthError::Internal("stored TOTP secret is not base32".into()))?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_account_name(account)
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| AuthError::Internal(format!("TOTP setup: {e}")))
}

/// A fresh 160-bit secret for `account` (the user's email).
pub fn new_enrolment(account: &str) -> Result<TotpEnrolment, AuthError> {
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    let secret = totp_rs::Secret::from(bytes).to_base32();
    let uri = totp(&secret, account)?
        .to_url()
        .map_err(|e| AuthError::Internal(format!("otpauth URI: {e}")))?;
    Ok(TotpEnrolment {
        secret: Secret::new(secret),
        otpauth_uri: Secret::new(uri),
    })
}

/// The time step `code` matches at `now_secs` (±1 step), if any.
pub fn matching_step(
    secret_b32: &str,
    code: &Secret,
    now_secs: u64,
) -> Result<Option<i64>, AuthError> {
    let code = code.expose().trim();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return Ok(None);
    }
    Ok(totp(secret_b32, "user")?
        .check(code, now_secs)
        .map(|step| step as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_at(secret: &str, time: u64) -> Secret {
        Secret::new(
            totp(secret, "a@example.com")
                .unwrap()
                .generate(time)
                .to_string(),
        )
    }

    #[test]
    fn secrets_are_160_bits_and_the_uri_names_the_account() {
        let enrolment = new_enrolment("ada@example.com").unwrap();
        let bytes = totp_rs::Secret::try_from_base32(enrolment.secret.expose()).unwrap();
        assert_eq!(bytes.as_bytes().len(), 20);
        let uri = enrolment.otpauth_uri.expose();
        assert!(
            uri.starts_with("otpauth://totp/authgate:ada%40example.com?"),
            "{uri}"
        );
        assert!(uri.contains(&format!("secret={}", enrolment.secret.expose())));
    }

    #[test]
    fn one_step_of_skew_either_way_and_no_more() {
        let secret = new_enrolment("a@example.com").unwrap().secret;
        let now = 1_800_000_000u64;
        let step = (now / 30) as i64;
        assert_eq!(
            matching_step(secret.expose(), &code_at(secret.expose(), now), now).unwrap(),
            Some(step)
        );
        assert_eq!(
            matching_step(secret.expose(), &code_at(secret.expose(), now - 30), now).unwrap(),
            Some(step - 1)
        );
        assert_eq!(
            matching_step(secret.expose(), &code_at(secret.expose(), now + 30), now).unwrap(),
            Some(step + 1)
        );
        assert_eq!(
            matching_step(secret.expose(), &code_at(secret.expose(), now - 90), now).unwrap(),
            None
        );
        for junk in ["", "12345", "1234567", "abcdef", " 12 34 "] {
            assert_eq!(
                matching_step(secret.expose(), &Secret::new(junk), now).unwrap(),
                None
            );
        }
    }
}
