//! The adapter's edge for failures: every SDK error becomes a [`Failure`]
//! ([`classify`]) and every [`Failure`] becomes an [`AuthError`]
//! ([`map_failure`]), per [`Operation`]. The table is in the crate docs.
//!
//! Cognito's messages are never copied into an [`AuthError`] or a log line,
//! with one exception (`InvalidPasswordException`, whose message names the
//! broken rule): they can contain the username, and moto puts the session,
//! access token or `SECRET_HASH` it rejected into the message. Logs carry
//! the operation, the exception name and the HTTP status only.

use authgate_core::AuthError;
use aws_sdk_cognitoidentityprovider::config::http::HttpResponse;
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};

/// How long a caller throttled by Cognito is asked to wait.
pub(crate) const RATE_LIMIT_RETRY_AFTER_SECS: u64 = 30;

/// The adapter operation a failure happened in: the same exception means
/// different things in different places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    SignUp,
    ConfirmSignUp,
    ResendConfirmation,
    SignIn,
    /// `RespondToAuthChallenge`, `AssociateSoftwareToken`, `VerifySoftwareToken`.
    Challenge,
    Refresh,
    SignOut,
    /// Pool and client administration (bootstrap).
    Admin,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::SignUp => "sign_up",
            Operation::ConfirmSignUp => "confirm_sign_up",
            Operation::ResendConfirmation => "resend_confirmation",
            Operation::SignIn => "sign_in",
            Operation::Challenge => "challenge",
            Operation::Refresh => "refresh",
            Operation::SignOut => "sign_out",
            Operation::Admin => "admin",
        }
    }
}

/// What went wrong, stripped of SDK types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Cognito (or the emulator) answered with an error.
    Service {
        /// The exception name (`NotAuthorizedException`), when the body had one.
        code: Option<String>,
        /// Cognito's message. Read for a few known phrases, never logged.
        message: Option<String>,
        status: u16,
        /// Did the body look like JSON (every real Cognito error does)?
        json_body: bool,
    },
    /// No usable answer: connect error, timeout, unreadable response,
    /// request that could not be built (e.g. no credentials).
    Transport(&'static str),
}

impl Failure {
    pub(crate) fn code(&self) -> Option<&str> {
        match self {
            Failure::Service { code, .. } => code.as_deref(),
            Failure::Transport(_) => None,
        }
    }

    fn message_contains(&self, needle: &str) -> bool {
        match self {
            Failure::Service {
                message: Some(message),
                ..
            } => message.to_lowercase().contains(&needle.to_lowercase()),
            _ => false,
        }
    }

    /// An operation the endpoint does not implement: moto answers HTTP 500
    /// with an HTML page and no exception name; real Cognito always names one.
    fn is_not_implemented(&self) -> bool {
        matches!(
            self,
            Failure::Service {
                code: None,
                status: 500 | 501,
                json_body: false,
                ..
            }
        )
    }
}

/// Does a body look like JSON (every real Cognito error body does)?
fn looks_like_json(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
}

/// Strip an SDK error down to a [`Failure`].
pub(crate) fn classify<E>(err: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(context) => {
            let raw = context.raw();
            Failure::Service {
                code: err.code().map(str::to_owned),
                message: err.message().map(str::to_owned),
                status: raw.status().as_u16(),
                json_body: looks_like_json(raw.body().bytes().unwrap_or_default()),
            }
        }
        // An error status whose body the SDK could not parse: moto's HTML
        // page for an operation it does not implement lands here.
        SdkError::ResponseError(context) if !context.raw().status().is_success() => {
            let raw = context.raw();
            Failure::Service {
                code: None,
                message: None,
                status: raw.status().as_u16(),
                json_body: looks_like_json(raw.body().bytes().unwrap_or_default()),
            }
        }
        SdkError::ResponseError(_) => Failure::Transport("unreadable response"),
        SdkError::TimeoutError(_) => Failure::Transport("timeout"),
        SdkError::DispatchFailure(_) => Failure::Transport("dispatch"),
        SdkError::ConstructionFailure(_) => Failure::Transport("request construction"),
        _ => Failure::Transport("unknown"),
    }
}

/// Did Cognito reject the `SECRET_HASH` (client secret misconfigured)?
fn secret_hash_rejected(failure: &Failure) -> bool {
    failure.message_contains("secret hash") || failure.message_contains("SECRET_HASH")
}

/// The policy rule from an `InvalidPasswordException` message:
/// `"Password did not conform with policy: Password not long enough"` →
/// `"password not long enough"`.
fn password_rule(failure: &Failure) -> String {
    let message = match failure {
        Failure::Service {
            message: Some(message),
            ..
        } => message.as_str(),
        _ => "",
    };
    // Cognito: "Password did not conform with policy: <rule>". Without that
    // shape (moto: "The provided password does not confirm to the configured
    // password policy") there is no rule to name.
    let rule = message
        .split_once("policy:")
        .map_or("", |(_, rule)| rule)
        .trim()
        .trim_end_matches('.');
    if rule.is_empty() || rule.len() > 200 {
        return "it does not meet the password policy of the provider".to_string();
    }
    let mut chars = rule.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The one table from Cognito failure to [`AuthError`]; see the crate docs.
pub(crate) fn map_failure(op: Operation, failure: &Failure) -> AuthError {
    use Operation::*;
    let (code, status) = match failure {
        Failure::Transport(kind) => {
            tracing::warn!(operation = op.as_str(), kind, "Cognito unreachable");
            return AuthError::ProviderUnavailable;
        }
        Failure::Service { code, status, .. } => (code.as_deref().unwrap_or(""), *status),
    };
    let unavailable = |why: &str| {
        tracing::error!(
            operation = op.as_str(),
            code,
            status,
            "Cognito failed: {why}"
        );
        AuthError::ProviderUnavailable
    };
    match code {
        "NotAuthorizedException" if op != Refresh && secret_hash_rejected(failure) => {
            unavailable("the client secret does not match the app client")
        }
        "NotAuthorizedException" => match op {
            Refresh => AuthError::InvalidRefreshToken,
            SignOut => AuthError::TokenRevoked,
            ConfirmSignUp if failure.message_contains("current status is confirmed") => {
                AuthError::AlreadyConfirmed
            }
            ConfirmSignUp => AuthError::CodeMismatch,
            Challenge => AuthError::InvalidSession,
            SignIn if failure.message_contains("attempts exceeded") => AuthError::RateLimited {
                retry_after_secs: RATE_LIMIT_RETRY_AFTER_SECS,
            },
            Admin => unavailable("the AWS credentials are not allowed to do this"),
            _ => AuthError::InvalidCredentials,
        },
        "UserNotFoundException" => match op {
            ConfirmSignUp => AuthError::CodeMismatch,
            Challenge => AuthError::InvalidSession,
            Refresh => AuthError::InvalidRefreshToken,
            SignOut => AuthError::TokenRevoked,
            _ => AuthError::InvalidCredentials,
        },
        "UserNotConfirmedException" => AuthError::UserNotConfirmed,
        "UsernameExistsException" | "AliasExistsException" => AuthError::UsernameExists,
        "InvalidPasswordException" => AuthError::InvalidPassword {
            rule: password_rule(failure),
        },
        "CodeMismatchException" | "EnableSoftwareTokenMFAException" => AuthError::CodeMismatch,
        "ExpiredCodeException" => AuthError::CodeExpired,
        "LimitExceededException"
        | "TooManyRequestsException"
        | "TooManyFailedAttemptsException" => AuthError::RateLimited {
            retry_after_secs: RATE_LIMIT_RETRY_AFTER_SECS,
        },
        "PasswordResetRequiredException" => {
            AuthError::Forbidden("a password reset is required".to_string())
        }
        "InvalidParameterException" => {
            if op == Admin {
                tracing::error!(
                    operation = op.as_str(),
                    code,
                    status,
                    "Cognito rejected a parameter"
                );
            }
            AuthError::InvalidRequest {
                field: None,
                message: "the provider rejected the request".to_string(),
            }
        }
        // moto answers an unknown challenge session with ResourceNotFoundException;
        // the pool and client were found a step earlier.
        "ResourceNotFoundException" if op == Challenge => AuthError::InvalidSession,
        "ResourceNotFoundException" => unavailable("the user pool or app client does not exist"),
        "" if failure.is_not_implemented() && op == ResendConfirmation => {
            tracing::warn!(
                operation = op.as_str(),
                status,
                "the provider does not implement ResendConfirmationCode"
            );
            AuthError::NotImplemented("resending confirmation codes with this provider".to_string())
        }
        "" if failure.is_not_implemented() => unavailable("the operation is not implemented"),
        _ => unavailable("unexpected answer"),
    }
}

/// `ResendConfirmationCode` answers `Ok` whether or not the account exists
/// (or is already confirmed, or disabled): these failures are swallowed.
pub(crate) fn resend_answers_ok(failure: &Failure) -> bool {
    match failure.code() {
        Some("UserNotFoundException") => true,
        Some("NotAuthorizedException") => !secret_hash_rejected(failure),
        Some("InvalidParameterException") => failure.message_contains("already confirmed"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Operation::*;

    fn service(code: &str, message: &str) -> Failure {
        Failure::Service {
            code: Some(code.to_string()),
            message: Some(message.to_string()),
            status: 400,
            json_body: true,
        }
    }

    fn map(op: Operation, code: &str, message: &str) -> AuthError {
        map_failure(op, &service(code, message))
    }

    const ALL: [Operation; 8] = [
        SignUp,
        ConfirmSignUp,
        ResendConfirmation,
        SignIn,
        Challenge,
        Refresh,
        SignOut,
        Admin,
    ];

    #[test]
    fn not_authorized_depends_on_the_operation() {
        let m = "Incorrect username or password.";
        assert_eq!(
            map(SignIn, "NotAuthorizedException", m),
            AuthError::InvalidCredentials
        );
        assert_eq!(
            map(SignIn, "NotAuthorizedException", "User is disabled."),
            AuthError::InvalidCredentials
        );
        assert_eq!(
            map(
                SignIn,
                "NotAuthorizedException",
                "Password attempts exceeded"
            ),
            AuthError::RateLimited {
                retry_after_secs: 30
            }
        );
        assert_eq!(
            map(
                Challenge,
                "NotAuthorizedException",
                "Invalid session for the user, session is expired."
            ),
            AuthError::InvalidSession
        );
        assert_eq!(
            map(
                Refresh,
                "NotAuthorizedException",
                "Refresh Token has been revoked"
            ),
            AuthError::InvalidRefreshToken
        );
        assert_eq!(
            map(
                SignOut,
                "NotAuthorizedException",
                "Access Token has been revoked"
            ),
            AuthError::TokenRevoked
        );
        assert_eq!(
            map(
                ConfirmSignUp,
                "NotAuthorizedException",
                "User cannot be confirmed. Current status is CONFIRMED"
            ),
            AuthError::AlreadyConfirmed
        );
        assert_eq!(
            map(ConfirmSignUp, "NotAuthorizedException", "User is disabled."),
            AuthError::CodeMismatch
        );
        assert_eq!(
            map(Admin, "NotAuthorizedException", ""),
            AuthError::ProviderUnavailable
        );
    }

    #[test]
    fn a_rejected_secret_hash_is_a_misconfiguration_except_on_refresh() {
        for message in [
            "Unable to verify secret hash for client 7example",
            "Client 7example is configured with secret but SECRET_HASH was not received",
        ] {
            for op in [SignUp, ConfirmSignUp, SignIn, Challenge, SignOut] {
                assert_eq!(
                    map(op, "NotAuthorizedException", message),
                    AuthError::ProviderUnavailable,
                    "{op:?}"
                );
            }
            assert_eq!(
                map(Refresh, "NotAuthorizedException", message),
                AuthError::InvalidRefreshToken
            );
            assert!(!resend_answers_ok(&service(
                "NotAuthorizedException",
                message
            )));
        }
    }

    #[test]
    fn unknown_users_are_never_revealed() {
        assert_eq!(
            map(SignIn, "UserNotFoundException", "x"),
            AuthError::InvalidCredentials
        );
        assert_eq!(
            map(ConfirmSignUp, "UserNotFoundException", "x"),
            AuthError::CodeMismatch
        );
        assert_eq!(
            map(Challenge, "UserNotFoundException", "x"),
            AuthError::InvalidSession
        );
        assert_eq!(
            map(Refresh, "UserNotFoundException", "x"),
            AuthError::InvalidRefreshToken
        );
        assert_eq!(
            map(SignOut, "UserNotFoundException", "x"),
            AuthError::TokenRevoked
        );
        assert!(resend_answers_ok(&service("UserNotFoundException", "x")));
        assert!(resend_answers_ok(&service(
            "InvalidParameterException",
            "User is already confirmed."
        )));
        assert!(resend_answers_ok(&service(
            "NotAuthorizedException",
            "User is disabled."
        )));
        assert!(!resend_answers_ok(&service("LimitExceededException", "x")));
        assert!(!resend_answers_ok(&service(
            "InvalidParameterException",
            "bad"
        )));
    }

    #[test]
    fn the_same_exceptions_mean_the_same_everywhere() {
        for op in ALL {
            assert_eq!(
                map(op, "UserNotConfirmedException", ""),
                AuthError::UserNotConfirmed
            );
            assert_eq!(
                map(op, "UsernameExistsException", ""),
                AuthError::UsernameExists
            );
            assert_eq!(
                map(op, "CodeMismatchException", ""),
                AuthError::CodeMismatch
            );
            assert_eq!(
                map(op, "EnableSoftwareTokenMFAException", ""),
                AuthError::CodeMismatch
            );
            assert_eq!(map(op, "ExpiredCodeException", ""), AuthError::CodeExpired);
            for throttled in [
                "LimitExceededException",
                "TooManyRequestsException",
                "TooManyFailedAttemptsException",
            ] {
                assert_eq!(
                    map(op, throttled, ""),
                    AuthError::RateLimited {
                        retry_after_secs: 30
                    }
                );
            }
            assert_eq!(
                map(op, "PasswordResetRequiredException", ""),
                AuthError::Forbidden("a password reset is required".into())
            );
            assert_eq!(
                map(
                    op,
                    "InvalidParameterException",
                    "1 validation error detected: secret stuff"
                ),
                AuthError::InvalidRequest {
                    field: None,
                    message: "the provider rejected the request".into()
                }
            );
            assert_eq!(
                map(op, "InternalErrorException", ""),
                AuthError::ProviderUnavailable
            );
            assert_eq!(
                map(op, "SomethingNewException", ""),
                AuthError::ProviderUnavailable
            );
            assert_eq!(
                map_failure(op, &Failure::Transport("dispatch")),
                AuthError::ProviderUnavailable
            );
            assert_eq!(
                map_failure(op, &Failure::Transport("timeout")),
                AuthError::ProviderUnavailable
            );
        }
    }

    #[test]
    fn resource_not_found_is_a_configuration_error_except_for_a_challenge_session() {
        assert_eq!(
            map(SignIn, "ResourceNotFoundException", "cid"),
            AuthError::ProviderUnavailable
        );
        assert_eq!(
            map(SignUp, "ResourceNotFoundException", "cid"),
            AuthError::ProviderUnavailable
        );
        assert_eq!(
            map(Challenge, "ResourceNotFoundException", "sess"),
            AuthError::InvalidSession
        );
    }

    #[test]
    fn password_rules_come_from_the_message_without_the_prefix() {
        assert_eq!(
            map(
                SignUp,
                "InvalidPasswordException",
                "Password did not conform with policy: Password not long enough"
            ),
            AuthError::InvalidPassword {
                rule: "password not long enough".into()
            }
        );
        assert_eq!(
            map(
                SignUp,
                "InvalidPasswordException",
                "The provided password does not confirm to the configured password policy"
            ),
            AuthError::InvalidPassword {
                rule: "it does not meet the password policy of the provider".into()
            }
        );
        assert_eq!(
            map(SignUp, "InvalidPasswordException", ""),
            AuthError::InvalidPassword {
                rule: "it does not meet the password policy of the provider".into()
            }
        );
    }

    #[test]
    fn an_html_500_is_not_implemented_only_for_resend() {
        let html = Failure::Service {
            code: None,
            message: None,
            status: 500,
            json_body: false,
        };
        let not_implemented = map_failure(ResendConfirmation, &html);
        assert_eq!(
            not_implemented,
            AuthError::NotImplemented("resending confirmation codes with this provider".into())
        );
        assert_eq!(not_implemented.status(), 501);
        assert_eq!(map_failure(SignIn, &html), AuthError::ProviderUnavailable);
        // A JSON 500 is a Cognito failure, not a missing operation.
        let json = Failure::Service {
            code: None,
            message: None,
            status: 500,
            json_body: true,
        };
        assert_eq!(
            map_failure(ResendConfirmation, &json),
            AuthError::ProviderUnavailable
        );
    }

    #[test]
    fn no_error_text_carries_the_cognito_message() {
        let secretish = "eyJhbGciOi-session-or-token-value";
        for op in ALL {
            for code in [
                "NotAuthorizedException",
                "UserNotFoundException",
                "ResourceNotFoundException",
                "InvalidParameterException",
                "CodeMismatchException",
                "WhateverException",
            ] {
                let err = map(op, code, secretish);
                assert!(
                    !format!("{err} {err:?}").contains(secretish),
                    "{op:?} {code}"
                );
            }
        }
    }
}
