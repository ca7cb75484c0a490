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
