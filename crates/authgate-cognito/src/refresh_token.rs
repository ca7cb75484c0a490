//! The refresh token authgate hands out for Cognito:
//! `"cg1." + base64url_nopad(username) + "." + <Cognito refresh token>`.
//!
//! Cognito's `REFRESH_TOKEN_AUTH` needs a `SECRET_HASH` when the app client has
//! a secret, and that hash is computed over the *username* (the
//! `cognito:username` claim, a UUID when email is the username attribute),
//! which the bare refresh token does not tell. Wrapping carries it along, so
//! authgate stays stateless. The username is not a secret (it is the `sub`);
//! the Cognito token inside stays opaque.

use authgate_core::AuthError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const PREFIX: &str = "cg1.";

/// Wrap a Cognito refresh token with the username its `SECRET_HASH` needs.
pub(crate) fn wrap(username: &str, cognito_refresh_token: &str) -> String {
    format!(
        "{PREFIX}{}.{cognito_refresh_token}",
        URL_SAFE_NO_PAD.encode(username.as_bytes())
    )
}

/// Split a wrapped refresh token into `(username, Cognito refresh token)`.
/// Anything else answers [`AuthError::InvalidRefreshToken`].
pub(crate) fn unwrap(token: &str) -> Result<(String, &str), AuthError> {
    let rest = token
        .strip_prefix(PREFIX)
        .ok_or(AuthError::InvalidRefreshToken)?;
    let (encoded, inner) = rest.split_once('.').ok_or(AuthError::InvalidRefreshToken)?;
    if encoded.is_empty() || inner.is_empty() || inner.chars().any(char::is_whitespace) {
        return Err(AuthError::InvalidRefreshToken);
    }
    let username = URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|name| !name.is_empty() && !name.chars().any(char::is_control))
        .ok_or(AuthError::InvalidRefreshToken)?;
    Ok((username, inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_dots_of_the_inner_token() {
        // Real Cognito refresh tokens are JWEs: five dot-separated parts.
        let inner = "eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIn0.a.b.c.d";
        let wrapped = wrap("5f3c2a10-7b1e-4c2d-9e8f-0a1b2c3d4e5f", inner);
        assert!(wrapped.starts_with("cg1."));
        let (username, token) = unwrap(&wrapped).unwrap();
        assert_eq!(username, "5f3c2a10-7b1e-4c2d-9e8f-0a1b2c3d4e5f");
        assert_eq!(token, inner);
    }

    #[test]
    fn usernames_with_any_characters_survive() {
        let wrapped = wrap("alice+tag@example.com", "opaque-token");
        assert_eq!(
            unwrap(&wrapped).unwrap(),
            ("alice+tag@example.com".to_string(), "opaque-token")
        );
    }

    #[test]
    fn malformed_tokens_are_invalid_refresh_tokens() {
        let not_base64 = "cg1.!!!.token".to_string();
        let not_utf8 = format!("cg1.{}.token", URL_SAFE_NO_PAD.encode([0xff, 0xfe]));
        let empty_name = "cg1..token".to_string();
        let padded = "cg1.YWxpY2U=.token".to_string();
        for bad in [
            "",
            "cg1.",
            "cg1.YWxpY2U",
            "cg1.YWxpY2U.",
            "cg2.YWxpY2U.token",
            "YWxpY2U.token",
            "a-bare-cognito-refresh-token",
            "cg1.YWxpY2U.tok en",
            not_base64.as_str(),
            not_utf8.as_str(),
            empty_name.as_str(),
            padded.as_str(),
        ] {
            assert_eq!(
                unwrap(bad).unwrap_err(),
                AuthError::InvalidRefreshToken,
                "{bad:?} accepted"
            );
        }
    }
}
