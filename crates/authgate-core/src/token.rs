//! Claims of a validated access token, as the guard hands them to services.
//!
//! The shape mirrors Cognito's access token so that both providers' tokens are
//! read by one type: `sub`, `iss`, `client_id`, `token_use`, `scope`,
//! `auth_time`, `exp`, `iat`, `jti`, `origin_jti`, `username`, `cognito:groups`.

use serde::{Deserialize, Serialize};

/// The claims authgate reads from a JWT issued by either provider.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: String,
    #[serde(default)]
    pub iss: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `aud` appears in id tokens (and in some providers' access tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    pub token_use: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default)]
    pub auth_time: i64,
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The session (refresh-token family) the token was issued in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The person's provider when it is not the configured one: a federated
    /// person's `oidc:<id>`. Only authgate's own code-flow tokens carry it
    /// (and only those are believed: see the service's authenticator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
    #[serde(
        default,
        rename = "cognito:groups",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub groups: Vec<String>,
    /// Id tokens only: identity attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, value: &str) -> bool {
        match self {
            Audience::One(a) => a == value,
            Audience::Many(list) => list.iter().any(|a| a == value),
        }
    }
}

impl AccessClaims {
    /// The client the token was issued to: `client_id` for access tokens,
    /// `aud` for id tokens.
    pub fn client_matches(&self, client_id: &str) -> bool {
        self.client_id.as_deref() == Some(client_id)
            || self.aud.as_ref().is_some_and(|aud| aud.contains(client_id))
    }
}

/// The claims of a JWT read WITHOUT checking its signature. Only for tokens
/// that authgate just received from its provider over a trusted channel (to
/// learn their `sub`, `origin_jti`, `auth_time`), never for a bearer token a
/// client presents: those go through the guard.
pub fn unverified_claims(token: &str) -> Option<AccessClaims> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_payload_of_a_compact_jws() {
        use base64::Engine as _;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"sub":"s1","token_use":"access","exp":5,"origin_jti":"o1"}"#);
        let claims = unverified_claims(&format!("h.{payload}.sig")).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.origin_jti.as_deref()),
            ("s1", Some("o1"))
        );
        assert!(unverified_claims("garbage").is_none());
        assert!(unverified_claims("a.!!!.c").is_none());
    }
}
