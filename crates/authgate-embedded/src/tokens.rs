//! Token minting: access and id tokens whose claims mirror Cognito's, and
//! refresh tokens. A refresh token names its session (the refresh family)
//! and its generation, under the installation's MAC ([`FamilyToken`]): the
//! store keeps only the family's current generation, so a rotation is one
//! statement and nothing about the token is stored. Tokens issued before
//! (32 random bytes stored as digests, [`new_refresh_token`]) still rotate
//! in their own chain until their family expires.

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

/// The refresh token of generation `generation` of a family:
/// `ag2.<family id>.<generation>.<tag>`, the tag being HMAC-SHA256 of the
/// installation's key over the family and generation. Unforgeable without
/// the key (sealed in the store like the signing keys), checked in
/// constant time before any query, and the same every time it is derived,
/// so a retry gets the very same child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyToken {
    pub family_id: String,
    pub generation: i64,
}

const FAMILY_TOKEN_PREFIX: &str = "ag2.";

impl FamilyToken {
    fn mac_input(family_id: &str, generation: i64) -> String {
        // ':' never occurs in a legacy token, so the two MAC inputs of the
        // one key cannot collide.
        format!("ag2:{family_id}:{generation}")
    }

    /// The token string.
    pub fn encode(&self, key: &aws_lc_rs::hmac::Key) -> String {
        let tag = aws_lc_rs::hmac::sign(
            key,
            Self::mac_input(&self.family_id, self.generation).as_bytes(),
        );
        format!(
            "{FAMILY_TOKEN_PREFIX}{}.{}.{}",
            self.family_id,
            self.generation,
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    /// Is `token` in this format at all (else it is a legacy token)?
    pub fn is_family_token(token: &str) -> bool {
        token.starts_with(FAMILY_TOKEN_PREFIX)
    }

    /// The family and generation of a token whose tag is right; `None` for
    /// anything malformed or forged.
    pub fn decode(key: &aws_lc_rs::hmac::Key, token: &str) -> Option<Self> {
        let rest = token.strip_prefix(FAMILY_TOKEN_PREFIX)?;
        let mut parts = rest.split('.');
        let (family_id, generation, tag) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || family_id.is_empty() || family_id.len() > 64 {
            return None;
        }
        let generation: i64 = generation.parse().ok().filter(|g| *g >= 0)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        aws_lc_rs::hmac::verify(key, Self::mac_input(family_id, generation).as_bytes(), &tag)
            .ok()?;
        Some(Self {
            family_id: family_id.to_string(),
            generation,
        })
    }

    /// The token that replaces this one at its rotation.
    pub fn child(&self) -> Self {
        Self {
            family_id: self.family_id.clone(),
            generation: self.generation + 1,
        }
    }
}

/// The digest under which an opaque token (refresh token, challenge session) is stored.
pub fn token_digest(token: &str) -> String {
    hex(digest::digest(&digest::SHA256, token.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> aws_lc_rs::hmac::Key {
        aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &[byte; 32])
    }

    fn token(generation: i64) -> FamilyToken {
        FamilyToken {
            family_id: "0b1c6a7e-6f43-4a5e-9b7e-2f1d3c4b5a69".into(),
            generation,
        }
    }

    #[test]
    fn a_family_token_names_its_family_and_generation_and_is_derived_the_same_every_time() {
        let encoded = token(7).encode(&key(1));
        assert!(FamilyToken::is_family_token(&encoded));
        assert_eq!(FamilyToken::decode(&key(1), &encoded), Some(token(7)));
        assert_eq!(token(7).child().encode(&key(1)), token(8).encode(&key(1)));
        assert!(!FamilyToken::is_family_token(&new_refresh_token()));
    }

    #[test]
    fn altered_forged_or_foreign_tokens_are_refused() {
        let encoded = token(7).encode(&key(1));
        let (head, tag) = encoded.rsplit_once('.').unwrap();
        let (family_part, _) = head.rsplit_once('.').unwrap();
        let other_family = encoded.replacen("0b1c6a7e", "0b1c6a7f", 1);
        let cases = [
            (
                "another generation under the same tag",
                format!("{family_part}.8.{tag}"),
            ),
            ("another family under the same tag", other_family),
            (
                "a tag of other bytes",
                format!("{head}.{}", URL_SAFE_NO_PAD.encode([0u8; 32])),
            ),
            ("no tag", head.to_string()),
            ("a tag that is not base64", format!("{head}.!!!")),
            ("a negative generation", format!("{family_part}.-1.{tag}")),
            ("an extra part", format!("{encoded}.x")),
            ("a legacy token", new_refresh_token()),
            ("the prefix alone", "ag2.".to_string()),
        ];
        for (case, forged) in cases {
            assert_eq!(FamilyToken::decode(&key(1), &forged), None, "{case}");
        }
        assert_eq!(
            FamilyToken::decode(&key(2), &encoded),
            None,
            "another installation's key"
        );
    }
}
