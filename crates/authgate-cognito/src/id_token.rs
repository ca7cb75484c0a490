//! Reading the claims of an id token that Cognito just returned.
//!
//! The payload is decoded *without* verifying the signature: the token came
//! straight from Cognito over TLS in the answer to our own call, so there is
//! nothing to verify it against that we trust more. Tokens presented by
//! clients are verified elsewhere (the guard, against the pool's JWKS).

use authgate_core::ProviderUser;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// The id-token claims the adapter reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct IdClaims {
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
    /// `true`/`false` (a string in some emulators); absent counts as verified.
    #[serde(default)]
    pub email_verified: Option<serde_json::Value>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "cognito:username")]
    pub username: Option<String>,
}

impl IdClaims {
    /// The username Cognito knows the user by (`cognito:username`, else `sub`).
    pub fn username(&self) -> &str {
        self.username.as_deref().unwrap_or(&self.sub)
    }

    /// The user, with `fallback_email` when the token has no `email` claim
    /// (the app client's read attributes do not list it).
    pub fn user(&self, fallback_email: &str) -> ProviderUser {
        let unverified = matches!(&self.email_verified, Some(serde_json::Value::Bool(false)))
            || matches!(&self.email_verified, Some(serde_json::Value::String(s)) if s == "false");
        ProviderUser {
            sub: self.sub.clone(),
            email: self
                .email
                .clone()
                .unwrap_or_else(|| fallback_email.to_owned()),
            email_verified: !unverified,
            name: self.name.clone(),
        }
    }
}

/// Decode the payload of a compact JWS. `None` when it is not one.
pub(crate) fn decode(token: &str) -> Option<IdClaims> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(payload: &str) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"dummy"}"#),
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn reads_sub_email_name_and_username() {
        let claims = decode(&token(
            r#"{"sub":"abc","email":"a@example.com","name":"Ann","cognito:username":"abc","token_use":"id"}"#,
        ))
        .unwrap();
        assert_eq!(claims.username(), "abc");
        assert_eq!(
            claims.user("other@example.com"),
            ProviderUser {
                sub: "abc".into(),
                email: "a@example.com".into(),
                email_verified: true,
                name: Some("Ann".into())
            }
        );
    }

    #[test]
    fn an_unverified_email_is_marked_so() {
        for payload in [
            r#"{"sub":"abc","email":"new@example.com","email_verified":false}"#,
            r#"{"sub":"abc","email":"new@example.com","email_verified":"false"}"#,
        ] {
            assert!(
                !decode(&token(payload))
                    .unwrap()
                    .user("x@example.com")
                    .email_verified
            );
        }
        let verified = r#"{"sub":"abc","email":"a@example.com","email_verified":true}"#;
        assert!(
            decode(&token(verified))
                .unwrap()
                .user("x@example.com")
                .email_verified
        );
    }

    #[test]
    fn falls_back_to_the_given_email_and_to_sub() {
        let claims = decode(&token(r#"{"sub":"abc"}"#)).unwrap();
        assert_eq!(claims.username(), "abc");
        assert_eq!(claims.user("b@example.com").email, "b@example.com");
    }

    #[test]
    fn rejects_what_is_not_a_jws() {
        assert!(decode("").is_none());
        assert!(decode("a.b").is_none());
        assert!(decode("a.!!.c").is_none());
        assert!(decode(&format!("x.{}.y", URL_SAFE_NO_PAD.encode("{}"))).is_none());
        assert!(decode("a.b.c.d.e").is_none());
    }
}
