//! [`AuthError`]: the one error type of authgate, and the one table that maps
//! each variant to an HTTP status and a stable machine `code`.
//!
//! Providers map their own failures (argon2, SQL, Cognito exceptions) into these
//! variants at their edge; the server renders them as `application/problem+json`.
//! No variant carries a password, code or token: messages are written for the
//! caller and are safe to log.

use crate::passkey::PasskeyFailure;
use thiserror::Error;

/// Everything that can go wrong in an authgate operation.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The body is not valid JSON (or not JSON at all).
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// A field is missing or has an invalid value.
    #[error("{message}")]
    InvalidRequest {
        field: Option<String>,
        message: String,
    },
    /// The request body is larger than the server accepts.
    #[error("the request body is larger than the server accepts")]
    PayloadTooLarge,
    /// The new password (sent as `field`) breaks the password policy;
    /// `rule` says which rule.
    #[error("the password does not meet the policy: {rule}")]
    InvalidPassword {
        rule: crate::policy::PasswordRule,
        field: &'static str,
    },
    /// Sign-up for an email that already has an account.
    #[error("an account with this email already exists")]
    UsernameExists,
    /// Wrong password, unknown user or disabled user: one answer for all three.
    #[error("the email or password is incorrect")]
    InvalidCredentials,
    /// The password was right but the account has not confirmed its email.
    #[error("the account has not been confirmed yet")]
    UserNotConfirmed,
    /// The password was right, but an administrator required a reset first.
    #[error("a password reset is required: use the code that was mailed, or request a new one")]
    PasswordResetRequired,
    /// The confirmation or reset code does not match.
    #[error("the code is incorrect")]
    CodeMismatch,
    /// The code has expired, was used up, or too many wrong tries invalidated it.
    #[error("the code has expired or is no longer valid; request a new one")]
    CodeExpired,
    /// The account is already confirmed.
    #[error("the account is already confirmed")]
    AlreadyConfirmed,
    /// No bearer token on a request that needs one.
    #[error("this endpoint needs an access token in the Authorization header")]
    MissingToken,
    /// The bearer token failed validation; `reason` says why (never the token).
    #[error("the access token is not valid: {reason}")]
    InvalidToken { reason: String },
    /// The token was valid but its session has been signed out or revoked.
    #[error("the session of this token has been signed out or revoked")]
    TokenRevoked,
    /// A passkey sign-in was refused: one answer for the caller
    /// (`invalid_credentials`), the [`PasskeyFailure`] for the audit row.
    #[error("the passkey could not be verified")]
    PasskeyRejected(PasskeyFailure),
    /// The challenge session is unknown, expired, used or bound to another user.
    #[error("the challenge session is not valid; sign in again")]
    InvalidSession,
    /// The refresh token is unknown, expired or revoked.
    #[error("the refresh token is not valid")]
    InvalidRefreshToken,
    /// A rotated refresh token was used again: the whole family is revoked.
    #[error("the refresh token was already used; the session has been revoked")]
    RefreshTokenReused,
    /// Authenticated, but not allowed to do this (a provider's refusal, a
    /// profile flow in the wrong state); the specific refusals below have
    /// codes of their own.
    #[error("{0}")]
    Forbidden(String),
    /// An administrative route, for a caller without `platform:admin` (nor
    /// a machine client with the `admin` scope).
    #[error(
        "this needs a platform role that grants platform:admin, or a machine client with the admin scope"
    )]
    AdminRequired,
    /// The caller's roles do not grant what this needs (in a tenant).
    #[error("{0}")]
    NoGrant(String),
    /// No escalation: the change would hand out grants the actor does not
    /// hold (a role, a platform role, an account with a broader role, a
    /// policy, which needs `*`).
    #[error("{0}")]
    InsufficientGrants(String),
    /// Multi-factor authentication is turned off (`AUTHGATE_MFA=off`).
    #[error("multi-factor authentication is turned off")]
    MfaDisabled,
    /// A decision said no (the gateway authorizer): `reason` is the
    /// decision's reason, which becomes the stable code ([`denial_code`]).
    #[error("{detail} ({reason})")]
    Denied { reason: String, detail: String },
    /// A sensitive operation needs a recent password re-verification
    /// (`POST /v1/auth/password-verifications`).
    #[error(
        "this needs a recent password verification: POST /v1/auth/password-verifications first"
    )]
    ReverificationRequired,
    /// A recovery step too soon after another one (a lost-authenticator
    /// reset after a mailed password reset, or the reverse), without a
    /// recovery code; `until` (RFC 3339) says when it becomes possible.
    #[error("{message}; without a recovery code this is possible from {until}")]
    RecoveryCooldown { message: String, until: String },
    /// The provider in use cannot do this (a provider limit, not a bug).
    #[error("{0}")]
    NotSupportedByProvider(String),
    /// The change conflicts with the current state (for which no specific
    /// code below applies).
    #[error("{0}")]
    Conflict(String),
    /// A role, policy, member or invitation with this key exists already.
    #[error("{0}")]
    AlreadyExists(String),
    /// The built-in owner role cannot be deleted.
    #[error("the owner role is built in: every tenant's creator holds it")]
    BuiltInRole,
    /// A role that is still assigned cannot be deleted; `assignments` says how often.
    #[error("the role is still assigned ({assignments} assignment(s)): reassign them first")]
    RoleInUse { assignments: i64 },
    /// A tenant keeps at least one owner.
    #[error("a tenant keeps at least one owner: make another member owner first")]
    LastOwner,
    /// Recovery codes come with an active authenticator.
    #[error("no authenticator is active: recovery codes come with one (POST /v1/auth/mfa/totp)")]
    NoAuthenticator,
    /// A machine client's id or secret is wrong (OAuth's `invalid_client`).
    #[error("the client id or secret is incorrect")]
    InvalidClient,
    /// The client is authenticated but not registered for what it asks
    /// (OAuth's `unauthorized_client`: a grant type it may not use).
    #[error("{0}")]
    UnauthorizedClient(String),
    /// An authorization code that is unknown, expired, used, or presented
    /// with the wrong client, redirect URI or PKCE verifier (OAuth's
    /// `invalid_grant`); the text says which, never the code.
    #[error("{0}")]
    InvalidGrant(String),
    /// The resource does not exist (or is not visible to the caller).
    #[error("{0} not found")]
    NotFound(String),
    /// The route exists but not with this method.
    #[error("this method is not allowed on this route")]
    MethodNotAllowed,
    /// Too many requests; try again after `retry_after_secs`.
    #[error("too many requests; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Too many consecutive wrong guesses of one identifier's password or
    /// code: the next attempt is not checked before `retry_after_secs`, or
    /// (`None`, at the hard limit) not until a password reset or an
    /// administrator clears it.
    #[error("{}", too_many_failed_attempts(*retry_after_secs))]
    TooManyFailedAttempts { retry_after_secs: Option<u64> },
    /// The identity provider cannot be reached or failed.
    #[error("the identity provider is unavailable")]
    ProviderUnavailable,
    /// An external OpenID provider did not sign the person in: unreachable,
    /// refused, or its id token did not verify. `reason` is the finer audit
    /// reason (`upstream_unavailable`, `upstream_refused`,
    /// `upstream_id_token_invalid`); `detail` goes to the logs only.
    #[error("the external identity provider did not sign you in")]
    UpstreamFailed {
        reason: &'static str,
        detail: String,
    },
    /// Removing this would leave the account no way to sign in.
    #[error("this is the account's last way to sign in; add another one first")]
    LastSignInMethod,
    /// The database cannot be reached.
    #[error("the database is unavailable")]
    StoreUnavailable,
    /// The capability exists in the contract but is not available in this build or provider.
    #[error("{0} is not available")]
    NotImplemented(String),
    /// A bug or an unexpected failure; the detail is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

fn too_many_failed_attempts(retry_after_secs: Option<u64>) -> String {
    match retry_after_secs {
        Some(secs) => format!("too many failed attempts; try again in {secs} s"),
        None => "too many failed attempts: this stays refused until the password is reset \
                 (forgotten password) or an administrator clears the lockout"
            .to_string(),
    }
}

/// The stable code of a [`AuthError::Denied`]: the decision's reason when
/// it is one of the documented ones, else `forbidden`.
pub fn denial_code(reason: &str) -> &'static str {
    const REASONS: [&str; 6] = [
        "not_a_member",
        "no_grant",
        "no_route",
        "tenant_required",
        "policy_forbid",
        "ambiguous_uri",
    ];
    REASONS
        .into_iter()
        .find(|known| *known == reason)
        .unwrap_or("forbidden")
}

/// The rendering facts of one error: status, stable code, title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorKind {
    pub status: u16,
    pub code: &'static str,
    pub title: &'static str,
}

impl AuthError {
    /// The one table from error to status, code and title.
    pub fn kind(&self) -> ErrorKind {
        use AuthError::*;
        let (status, code, title) = match self {
            MalformedJson(_) => (400, "malformed_json", "Malformed JSON"),
            InvalidRequest { .. } => (422, "invalid_request", "Invalid request"),
            PayloadTooLarge => (413, "payload_too_large", "Payload too large"),
            InvalidPassword { .. } => (422, "invalid_password", "Invalid password"),
            UsernameExists => (409, "username_exists", "Username exists"),
            InvalidCredentials | PasskeyRejected(_) => {
                (401, "invalid_credentials", "Invalid credentials")
            }
            UserNotConfirmed => (403, "user_not_confirmed", "User not confirmed"),
            PasswordResetRequired => (403, "password_reset_required", "Password reset required"),
            CodeMismatch => (400, "code_mismatch", "Code mismatch"),
            CodeExpired => (400, "code_expired", "Code expired"),
            AlreadyConfirmed => (409, "already_confirmed", "Already confirmed"),
            MissingToken => (401, "missing_token", "Missing token"),
            InvalidToken { .. } => (401, "invalid_token", "Invalid token"),
            TokenRevoked => (401, "token_revoked", "Token revoked"),
            InvalidSession => (401, "invalid_session", "Invalid session"),
            InvalidRefreshToken => (401, "invalid_refresh_token", "Invalid refresh token"),
            RefreshTokenReused => (401, "refresh_token_reused", "Refresh token reused"),
            Forbidden(_) => (403, "forbidden", "Forbidden"),
            AdminRequired => (403, "admin_required", "Administrator required"),
            NoGrant(_) => (403, "no_grant", "Not granted"),
            InsufficientGrants(_) => (403, "insufficient_grants", "Insufficient grants"),
            MfaDisabled => (403, "mfa_disabled", "MFA turned off"),
            Denied { reason, .. } => (403, denial_code(reason), "Forbidden"),
            ReverificationRequired => (
                403,
                "reverification_required",
                "Password verification required",
            ),
            RecoveryCooldown { .. } => (403, "recovery_cooldown", "Recovery cooling-off period"),
            NotSupportedByProvider(_) => (
                501,
                "not_supported_by_provider",
                "Not supported by the provider",
            ),
            Conflict(_) => (409, "conflict", "Conflict"),
            AlreadyExists(_) => (409, "already_exists", "Already exists"),
            BuiltInRole => (409, "built_in_role", "Built-in role"),
            RoleInUse { .. } => (409, "role_in_use", "Role in use"),
            LastOwner => (409, "last_owner", "Last owner"),
            NoAuthenticator => (409, "no_authenticator", "No authenticator"),
            InvalidClient => (401, "invalid_client", "Invalid client"),
            UnauthorizedClient(_) => (400, "unauthorized_client", "Unauthorized client"),
            InvalidGrant(_) => (400, "invalid_grant", "Invalid grant"),
            NotFound(_) => (404, "not_found", "Not found"),
            MethodNotAllowed => (405, "method_not_allowed", "Method not allowed"),
            RateLimited { .. } => (429, "rate_limited", "Too many requests"),
            TooManyFailedAttempts { .. } => {
                (429, "too_many_failed_attempts", "Too many failed attempts")
            }
            ProviderUnavailable => (503, "provider_unavailable", "Provider unavailable"),
            UpstreamFailed { .. } => (502, "upstream_failed", "External provider failed"),
            LastSignInMethod => (409, "last_sign_in_method", "Last way to sign in"),
            StoreUnavailable => (503, "store_unavailable", "Database unavailable"),
            NotImplemented(_) => (501, "not_implemented", "Not implemented"),
            Internal(_) => (500, "internal", "Internal error"),
        };
        ErrorKind {
            status,
            code,
            title,
        }
    }

    pub fn code(&self) -> &'static str {
        self.kind().code
    }

    /// Why it failed, as the audit trail and the metrics record it: the
    /// code, or the finer reason behind a code shared on purpose (a
    /// refused passkey's [`PasskeyFailure`]).
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::PasskeyRejected(failure) => failure.as_str(),
            AuthError::UpstreamFailed { reason, .. } => reason,
            AuthError::TooManyFailedAttempts {
                retry_after_secs: None,
            } => "failure_limit_reached",
            other => other.code(),
        }
    }

    pub fn status(&self) -> u16 {
        self.kind().status
    }

    /// The text sent to the caller. Internal details stay in the logs.
    pub fn public_detail(&self) -> String {
        match self {
            AuthError::Internal(_) => "an unexpected error occurred".to_string(),
            other => other.to_string(),
        }
    }

    /// The field a validation error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            AuthError::InvalidRequest { field, .. } => field.as_deref(),
            AuthError::InvalidPassword { field, .. } => Some(field),
            _ => None,
        }
    }

    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        AuthError::InvalidRequest {
            field: Some(field.to_string()),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_user_and_wrong_password_share_one_answer() {
        let e = AuthError::InvalidCredentials;
        assert_eq!((e.status(), e.code()), (401, "invalid_credentials"));
    }

    #[test]
    fn a_refused_passkey_answers_like_a_wrong_password_and_audits_why() {
        let cases = [
            (PasskeyFailure::Unknown, "passkey_unknown"),
            (PasskeyFailure::Signature, "passkey_signature"),
            (PasskeyFailure::Counter, "passkey_counter"),
            (PasskeyFailure::SessionInvalid, "session_invalid"),
        ];
        for (failure, reason) in cases {
            let e = AuthError::PasskeyRejected(failure);
            assert_eq!((e.status(), e.code()), (401, "invalid_credentials"));
            assert_eq!(e.reason(), reason);
        }
        assert_eq!(AuthError::InvalidSession.reason(), "invalid_session");
    }

    #[test]
    fn internal_details_are_not_public() {
        let e = AuthError::Internal("db row 42 broke at /secret/path".into());
        assert_eq!(e.status(), 500);
        assert!(!e.public_detail().contains("secret"));
    }

    #[test]
    fn codes_are_distinct() {
        let all = [
            AuthError::CodeMismatch,
            AuthError::CodeExpired,
            AuthError::AlreadyConfirmed,
            AuthError::Forbidden(String::new()),
            AuthError::AdminRequired,
            AuthError::NoGrant(String::new()),
            AuthError::InsufficientGrants(String::new()),
            AuthError::MfaDisabled,
            AuthError::Conflict(String::new()),
            AuthError::AlreadyExists(String::new()),
            AuthError::BuiltInRole,
            AuthError::RoleInUse { assignments: 1 },
            AuthError::LastOwner,
            AuthError::NoAuthenticator,
            AuthError::UsernameExists,
        ];
        let mut codes: Vec<_> = all.iter().map(|e| e.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), all.len(), "{codes:?}");
        for refused in &all[3..8] {
            assert_eq!(refused.status(), 403, "{refused:?}");
        }
        for conflict in &all[8..] {
            assert_eq!(conflict.status(), 409, "{conflict:?}");
        }
    }
}
