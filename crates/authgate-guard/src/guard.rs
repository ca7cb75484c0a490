//! [`Guard`]: validates one bearer token and returns its [`AccessClaims`].
//!
//! The order of the checks, each with its own [`GuardError`]:
//!
//! 1. The token is three base64url parts with a JSON header that names an
//!    `alg` (else `Malformed`); the `alg` is an asymmetric one the guard accepts
//!    (else `UnsupportedAlgorithm`: `none`, `HS256`, ...); the header has a
//!    `kid` (else `UnknownKey`). Keys embedded in the header (`jwk`, `jku`,
//!    `x5u`, `x5c`) are ignored: only keys from the configured source count.
//! 2. The `kid` names a published key (else `UnknownKey`, after at most one
//!    refetch per interval), whose type and own `alg` fit the header's `alg`
//!    (else `UnsupportedAlgorithm`).
//! 3. The signature verifies (else `BadSignature`) and the claims are an
//!    [`AccessClaims`] (else `Malformed`).
//! 4. `exp` / `nbf` hold within the leeway (`Expired`, `NotYetValid`), `iss`
//!    is the configured issuer (`WrongIssuer`), `token_use` is `access` — or
//!    `id` when the migration switch is on — (`WrongTokenUse`), and the token was
//!    issued to the configured client (`WrongClient`).
//!
//! jsonwebtoken verifies the signature only; every claim is checked here so
//! that each failure has a precise reason.
//!
//! A token whose signature verified is remembered (bounded, keyed by the
//! SHA-256 of the whole token, so a changed signature or claim is a
//! different entry): presented again, it skips step 3 only. Steps 1, 2 and
//! 4 run every time, so an expired token, or one whose key was withdrawn
//! from the key set, is refused even when remembered. Revocation is the
//! caller's check after the guard and is never cached here.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use authgate_core::AccessClaims;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::GuardError;
use crate::config::GuardConfig;
use crate::keys::{KeyCache, MAX_KEY_AGE};

/// Tokens longer than this are refused before any decoding work.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Validates bearer tokens against one issuer, one client and one key source.
///
/// Cheap to share: wrap it in an [`Arc`](std::sync::Arc) and hand it to the
/// [`Authenticated`](crate::Authenticated) extractor (through axum state) or to
/// a [`GuardLayer`](crate::GuardLayer).
pub struct Guard {
    issuer: String,
    client_id: String,
    leeway_secs: i64,
    accept_id_tokens: bool,
    any_client: bool,
    keys: KeyCache,
    /// SHA-256 of a token whose signature verified → its claims.
    verified: Option<quick_cache::sync::Cache<[u8; 32], AccessClaims>>,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("leeway_secs", &self.leeway_secs)
            .field("accept_id_tokens", &self.accept_id_tokens)
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// A guard for `config`. Does no I/O: the keys are fetched on the first
    /// [`validate`](Self::validate).
    pub fn new(config: GuardConfig) -> Self {
        Self {
            issuer: config.issuer,
            client_id: config.client_id,
            leeway_secs: i64::try_from(config.leeway.as_secs()).unwrap_or(i64::MAX),
            accept_id_tokens: config.accept_id_tokens,
            any_client: config.any_client,
            keys: KeyCache::new(
                config.jwks.into_key_source(),
                config.min_refetch_interval,
                MAX_KEY_AGE,
            ),
            verified: (config.verified_tokens > 0)
                .then(|| quick_cache::sync::Cache::new(config.verified_tokens)),
        }
    }

    /// How many verified tokens are remembered now.
    pub fn remembered_tokens(&self) -> usize {
        self.verified.as_ref().map_or(0, |cache| cache.len())
    }

    /// Validate `token` (the bare JWT, without `Bearer `) and return its claims.
    pub async fn validate(&self, token: &str) -> Result<AccessClaims, GuardError> {
        let result = self.check(token).await;
        if let Err(error) = &result {
            tracing::debug!(reason = error.reason(), "refused a bearer token");
        }
        result
    }

    /// Fetch the key set now, ignoring the cache and the refetch interval.
    /// On failure the keys fetched before stay in use.
    pub async fn refresh_keys(&self) -> Result<(), GuardError> {
        self.keys.refresh().await
    }

    async fn check(&self, token: &str) -> Result<AccessClaims, GuardError> {
        let (alg, kid) = read_header(token)?;
        let key = self.keys.get(&kid).await?;
        if !key.fits(alg) {
            return Err(GuardError::UnsupportedAlgorithm);
        }
        let Some(verified) = &self.verified else {
            let claims = verify_signature(token, &key.key, alg)?;
            return self.check_claims(claims, unix_now());
        };
        let digest: [u8; 32] =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
                .as_ref()
                .try_into()
                .expect("a SHA-256 digest is 32 bytes");
        if let Some(claims) = verified.get(&digest) {
            return self.check_claims(claims, unix_now());
        }
        let claims = self.check_claims(verify_signature(token, &key.key, alg)?, unix_now())?;
        verified.insert(digest, claims.clone());
        Ok(claims)
    }

    fn check_claims(&self, claims: AccessClaims, now: i64) -> Result<AccessClaims, GuardError> {
        if now > claims.exp.saturating_add(self.leeway_secs) {
            return Err(GuardError::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| now.saturating_add(self.leeway_secs) < nbf)
        {
            return Err(GuardError::NotYetValid);
        }
        if claims.iss != self.issuer {
            return Err(GuardError::WrongIssuer);
        }
        match claims.token_use.as_str() {
            "access" => {
                if !self.any_client && !claims.client_matches(&self.client_id) {
                    return Err(GuardError::WrongClient);
                }
            }
            "id" if self.accept_id_tokens => {
                let aud_matches = claims
                    .aud
                    .as_ref()
                    .is_some_and(|aud| aud.contains(&self.client_id));
                if !aud_matches {
                    return Err(GuardError::WrongClient);
                }
                tracing::warn!(
                    sub = %claims.sub,
                    client_id = %self.client_id,
                    "accepted an id token as a bearer token (accept_id_tokens is on); \
                     clients should send access tokens"
                );
            }
            _ => return Err(GuardError::WrongTokenUse),
        }
        Ok(claims)
    }
}

/// The part of the JOSE header read before jsonwebtoken parses it, so that an
/// unknown or forbidden `alg` is told apart from a broken header.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
}

/// The accepted signing algorithms: asymmetric only.
fn accepted_algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// Step 1: the header's algorithm and key id.
fn read_header(token: &str) -> Result<(Algorithm, String), GuardError> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(GuardError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(encoded_header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(GuardError::Malformed);
    };
    let header_json = URL_SAFE_NO_PAD
        .decode(encoded_header)
        .map_err(|_| GuardError::Malformed)?;
    let raw: RawHeader = serde_json::from_slice(&header_json).map_err(|_| GuardError::Malformed)?;
    let alg = accepted_algorithm(&raw.alg).ok_or(GuardError::UnsupportedAlgorithm)?;

    let header = jsonwebtoken::decode_header(token).map_err(|_| GuardError::Malformed)?;
    // No header extension is understood, so a token that lists critical ones
    // must be refused (RFC 7515 §4.1.11).
    if header.alg != alg || header.crit.is_some() {
        return Err(GuardError::Malformed);
    }
    let kid = header
        .kid
        .filter(|kid| !kid.is_empty())
        .ok_or(GuardError::UnknownKey)?;
    Ok((alg, kid))
}

/// Step 3: the signature, and the claims' shape. No claim is validated here.
fn verify_signature(
    token: &str,
    key: &DecodingKey,
    alg: Algorithm,
) -> Result<AccessClaims, GuardError> {
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<AccessClaims>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|error| match error.kind() {
            ErrorKind::InvalidSignature
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidEddsaKey
            | ErrorKind::InvalidKeyFormat => GuardError::BadSignature,
            ErrorKind::InvalidAlgorithm
            | ErrorKind::UnsupportedAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::MissingAlgorithm => GuardError::UnsupportedAlgorithm,
            _ => GuardError::Malformed,
        })
}

/// Seconds since the Unix epoch (0 if the clock is before it).
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_is_send_and_sync() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<Guard>();
    }

    fn b64(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn header_alg_none_and_hmac_are_unsupported() {
        for alg in ["none", "None", "HS256", "HS384", "HS512", "ES512", "RS1"] {
            let token = format!(
                "{}.{}.",
                b64(&format!(r#"{{"alg":"{alg}","kid":"k"}}"#)),
                b64("{}")
            );
            assert_eq!(
                read_header(&token),
                Err(GuardError::UnsupportedAlgorithm),
                "{alg}"
            );
        }
    }

    #[test]
    fn header_without_kid_is_unknown_key() {
        let token = format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64("{}"));
        assert_eq!(read_header(&token), Err(GuardError::UnknownKey));
        let token = format!("{}.{}.sig", b64(r#"{"alg":"RS256","kid":""}"#), b64("{}"));
        assert_eq!(read_header(&token), Err(GuardError::UnknownKey));
    }

    #[test]
    fn header_with_crit_is_malformed() {
        let token = format!(
            "{}.{}.sig",
            b64(r#"{"alg":"RS256","kid":"k","crit":["exp"]}"#),
            b64("{}")
        );
        assert_eq!(read_header(&token), Err(GuardError::Malformed));
    }

    #[test]
    fn header_without_alg_or_with_duplicate_alg_is_malformed() {
        for header in [
            r#"{"kid":"k"}"#,
            r#"{"alg":256,"kid":"k"}"#,
            r#"{"alg":"none","alg":"RS256","kid":"k"}"#,
            r#"{"alg":"RS256","kid":"k"} trailing"#,
        ] {
            let token = format!("{}.{}.sig", b64(header), b64("{}"));
            assert_eq!(read_header(&token), Err(GuardError::Malformed), "{header}");
        }
    }

    #[test]
    fn good_header_gives_alg_and_kid() {
        let token = format!(
            "{}.{}.sig",
            b64(r#"{"alg":"PS384","kid":"k7","typ":"JWT"}"#),
            b64("{}")
        );
        assert_eq!(
            read_header(&token),
            Ok((Algorithm::PS384, "k7".to_string()))
        );
    }

    #[test]
    fn oversized_token_is_malformed_before_decoding() {
        let token = format!(
            "{}.{}.sig",
            b64(r#"{"alg":"RS256","kid":"k"}"#),
            "A".repeat(MAX_TOKEN_LEN)
        );
        assert_eq!(read_header(&token), Err(GuardError::Malformed));
    }
}
