//! Token minting: access and id tokens whose claims mirror Cognito's, and
//! opaque refresh tokens (32 random bytes) that are stored only as digests.

use crate::codes::hex;
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct AccessTokenClaims<'a> {
    pub sub: &'a str,
    pub iss: &'a str,
    pub client_id: &'a str,
    pub token_use: &'static str,
    pub scope: &'static str,
    pub auth_time: i64,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub origin_jti: &'a str,
    pub username: &'a str,
}

#[derive(Debug, Serialize)]
pub struct IdTokenClaims<'a> {
    pub sub: &'a str,
    pub iss: &'a str,
    pub aud: &'a str,
    pub token_use: &'static str,
    pub auth_time: i64,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub origin_jti: &'a str,
    pub email: &'a str,
    pub email_verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(rename = "cognito:username")]
    pub username: &'a str,
}

/// A new opaque refresh token.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The installation's key for [`refresh_child`]: made once, kept in the
/// database (sealed like every instance secret) so that every instance
/// derives the same child.
pub async fn refresh_child_key(
    store: &authgate_store::Store,
) -> Result<aws_lc_rs::hmac::Key, authgate_core::AuthError> {
    let stored = store
        .instance_secret(
            "refresh_child_key",
            &new_refresh_token(),
            authgate_core::now_millis(),
        )
        .await?;
    Ok(aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA256,
        stored.as_bytes(),
    ))
}

/// The refresh token that replaces `parent` at its rotation:
/// HMAC-SHA256(installation key, parent), as unguessable as a random token
/// to anyone without the parent, and the same at every retry.
pub fn refresh_child(key: &aws_lc_rs::hmac::Key, parent: &str) -> String {
    let tag = aws_lc_rs::hmac::sign(key, parent.as_bytes());
    URL_SAFE_NO_PAD.encode(tag.as_ref())
}

/// The digest under which an opaque token (refresh token, challenge session) is stored.
pub fn token_digest(token: &str) -> String {
    hex(digest::digest(&digest::SHA256, token.as_bytes()).as_ref())
}
