//! [`GuardError`]: why a bearer token was refused, and its mapping into
//! [`authgate_core::AuthError`].
//!
//! Every variant is a fixed, token-free fact (`expired`, `bad_signature`, ...),
//! so errors can be logged and sent to the caller as they are. The one variant
//! with a payload, [`GuardError::JwksUnavailable`], carries a description of the
//! key-fetch failure for the logs; it never reaches the caller's response body.

use authgate_core::AuthError;
use thiserror::Error;

/// Why the guard refused a request's bearer token.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum GuardError {
    /// The request carries no `Authorization: Bearer <token>` header.
    #[error("no bearer token in the Authorization header")]
    MissingToken,
    /// The token is not a well-formed JWT, or its claims are not an access token's.
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// The header's `alg` is not accepted (`none`, HMAC, unknown), or does not fit the key.
    #[error("the token's signing algorithm is not accepted")]
    UnsupportedAlgorithm,
    /// The header has no `kid`, or no published key has that `kid`.
    #[error("the token was signed with an unknown key")]
    UnknownKey,
    /// The signature does not verify with the key named by `kid`.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// `exp` is in the past, beyond the configured leeway.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future, beyond the configured leeway.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    /// The token was issued to another client (`client_id` / `aud`).
    #[error("the token was issued to another client")]
    WrongClient,
    /// `token_use` is not `access` (or `id` when id tokens are accepted).
    #[error("the token is not an access token")]
    WrongTokenUse,
    /// The signing keys could not be fetched; the text says why (for the logs).
    #[error("the signing keys could not be fetched: {0}")]
    JwksUnavailable(String),
}

impl GuardError {
    /// A stable snake_case name for the failure, safe to send and to log.
    pub fn reason(&self) -> &'static str {
        match self {
            GuardError::MissingToken => "missing_token",
            GuardError::Malformed => "malformed",
            GuardError::UnsupportedAlgorithm => "unsupported_algorithm",
            GuardError::UnknownKey => "unknown_key",
            GuardError::BadSignature => "bad_signature",
            GuardError::Expired => "expired",
            GuardError::NotYetValid => "not_yet_valid",
            GuardError::WrongIssuer => "wrong_issuer",
            GuardError::WrongClient => "wrong_client",
            GuardError::WrongTokenUse => "wrong_token_use",
            GuardError::JwksUnavailable(_) => "jwks_unavailable",
        }
    }
}

impl From<GuardError> for AuthError {
    fn from(error: GuardError) -> Self {
        match error {
            GuardError::MissingToken => AuthError::MissingToken,
            GuardError::JwksUnavailable(_) => AuthError::ProviderUnavailable,
            other => AuthError::InvalidToken {
                reason: other.reason().to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_token_maps_to_missing_token() {
        assert_eq!(
            AuthError::from(GuardError::MissingToken),
            AuthError::MissingToken
        );
    }

    #[test]
    fn jwks_unavailable_maps_to_provider_unavailable_without_detail() {
        let err = AuthError::from(GuardError::JwksUnavailable("connection refused".into()));
        assert_eq!(err, AuthError::ProviderUnavailable);
        assert_eq!(err.status(), 503);
    }

    #[test]
    fn validation_failures_map_to_invalid_token_with_reason() {
        let cases = [
            (GuardError::Malformed, "malformed"),
            (GuardError::UnsupportedAlgorithm, "unsupported_algorithm"),
            (GuardError::UnknownKey, "unknown_key"),
            (GuardError::BadSignature, "bad_signature"),
            (GuardError::Expired, "expired"),
            (GuardError::NotYetValid, "not_yet_valid"),
            (GuardError::WrongIssuer, "wrong_issuer"),
            (GuardError::WrongClient, "wrong_client"),
            (GuardError::WrongTokenUse, "wrong_token_use"),
        ];
        for (error, reason) in cases {
            assert_eq!(error.reason(), reason);
            let mapped = AuthError::from(error);
            assert_eq!(
                mapped,
                AuthError::InvalidToken {
                    reason: reason.to_string()
                }
            );
            assert_eq!((mapped.status(), mapped.code()), (401, "invalid_token"));
        }
    }
}
