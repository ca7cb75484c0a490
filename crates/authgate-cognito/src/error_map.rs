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
    /// `GetUser` with the caller's access token (who is signed in).
    CurrentUser,
    /// `AssociateSoftwareToken`, `VerifySoftwareToken` and
    /// `SetUserMFAPreference` with the caller's access token.
    TotpEnrolment,
    /// `ForgotPassword` (its "no such user" answers are swallowed first:
    /// [`forgot_answers_ok`]).
    ForgotPassword,
    ConfirmForgotPassword,
    ChangePassword,
    /// `InitiateAuth` `USER_PASSWORD_AUTH` as a proof of the password.
    VerifyPassword,
    /// `InitiateAuth` `USER_PASSWORD_AUTH` of a TOTP replacement (the proof
    /// of the password, and the sign-in again once the old token is gone).
    TotpReplacementSignIn,
    /// `AdminDeleteSoftwareToken`, or `AdminSetUserMFAPreference` where the
    /// endpoint lacks it (signed): the old authenticator of a TOTP replacement.
    TotpReplacementReset,
    /// `AssociateSoftwareToken`, `VerifySoftwareToken`, `RespondToAuthChallenge`
    /// `MFA_SETUP`, `SetUserMFAPreference` with the session or access token
    /// of a TOTP replacement (its state).
    TotpReplacement,
    /// `AdminCreateUser` (signed, like every `Admin…` operation and `ListUsers`).
    AdminCreateUser,
    /// `AdminGetUser`: by sub, or by the username `ListUsers` answered.
    AdminGetUser,
    /// `ListUsers`: find by email or phone, list.
    AdminListUsers,
    AdminDeleteUser,
    /// `AdminDisableUser`, `AdminEnableUser`.
    AdminSetEnabled,
    /// `AdminUserGlobalSignOut` (part of a disable and of a reset).
    AdminSignOut,
    /// `AdminResetUserPassword`.
    AdminResetPassword,
    /// Pool and client administration ([`crate::bootstrap()`]).
    Bootstrap,
    /// `StartWebAuthnRegistration`, `ListWebAuthnCredentials` with the
    /// caller's access token.
    Passkeys,
    /// `CompleteWebAuthnRegistration`.
    PasskeyRegistration,
    /// `DeleteWebAuthnCredential`.
    PasskeyDeletion,
    /// `InitiateAuth` `USER_AUTH` with `PREFERRED_CHALLENGE=WEB_AUTHN`.
    PasskeySignInStart,
    /// `RespondToAuthChallenge` `WEB_AUTHN`.
    PasskeySignInFinish,
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
            Operation::CurrentUser => "current_user",
            Operation::TotpEnrolment => "totp_enrolment",
            Operation::ForgotPassword => "forgot_password",
            Operation::ConfirmForgotPassword => "confirm_forgot_password",
            Operation::ChangePassword => "change_password",
            Operation::VerifyPassword => "verify_password",
            Operation::TotpReplacementSignIn => "totp_replacement_sign_in",
            Operation::TotpReplacementReset => "totp_replacement_reset",
            Operation::TotpReplacement => "totp_replacement",
            Operation::AdminCreateUser => "admin_create_user",
            Operation::AdminGetUser => "admin_get_user",
            Operation::AdminListUsers => "admin_list_users",
            Operation::AdminDeleteUser => "admin_delete_user",
            Operation::AdminSetEnabled => "admin_set_enabled",
            Operation::AdminSignOut => "admin_sign_out",
            Operation::AdminResetPassword => "admin_reset_password",
            Operation::Bootstrap => "bootstrap",
            Operation::Passkeys => "passkeys",
            Operation::PasskeyRegistration => "passkey_registration",
            Operation::PasskeyDeletion => "passkey_deletion",
            Operation::PasskeySignInStart => "passkey_sign_in_start",
            Operation::PasskeySignInFinish => "passkey_sign_in_finish",
        }
    }

    fn is_passkey(self) -> bool {
        matches!(
            self,
            Operation::Passkeys
                | Operation::PasskeyRegistration
                | Operation::PasskeyDeletion
                | Operation::PasskeySignInStart
                | Operation::PasskeySignInFinish
        )
    }

    /// The signed operations on the users of the pool (for an
    /// administrator, and the token deletion of a TOTP replacement).
    fn manages_users(self) -> bool {
        matches!(
            self,
            Operation::AdminCreateUser
                | Operation::AdminGetUser
                | Operation::AdminListUsers
                | Operation::AdminDeleteUser
                | Operation::AdminSetEnabled
                | Operation::AdminSignOut
                | Operation::AdminResetPassword
                | Operation::TotpReplacementReset
        )
    }
}

/// `AdminResetUserPassword` refused for the user's state (disabled, or a
/// status Cognito resets no password from).
pub(crate) const RESET_REFUSED: &str =
    "the password of this account cannot be reset in its current state";
/// `AdminResetUserPassword` refused: nowhere to send the code.
pub(crate) const RESET_UNDELIVERABLE: &str =
    "the account has no verified email or phone number to send a reset code to";

/// An endpoint without Cognito's WebAuthn operations (the moto emulator).
pub(crate) const PASSKEYS_NOT_IMPLEMENTED: &str = "the Cognito endpoint does not implement passkeys \
     (StartWebAuthnRegistration, CompleteWebAuthnRegistration, ListWebAuthnCredentials, \
     DeleteWebAuthnCredential, InitiateAuth USER_AUTH): this is a limit of the provider, as with \
     the moto emulator; against AWS, configure the pool with `authgate cognito bootstrap`";
/// A pool (or app client) without WebAuthn.
pub(crate) const PASSKEYS_NOT_ENABLED: &str = "passkeys are not enabled on the Cognito user pool \
     or its app client: run `authgate cognito bootstrap` (Essentials tier, the WEB_AUTHN sign-in \
     policy, the USER_AUTH flow and the relying party of AUTHGATE_WEBAUTHN_RP_ID)";

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
    pub(crate) fn is_not_implemented(&self) -> bool {
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
    if op.is_passkey()
        && let Some(err) = passkey_failure(op, code, failure)
    {
        tracing::debug!(
            operation = op.as_str(),
            code,
            status,
            "Cognito refused a passkey step"
        );
        return err;
    }
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
            // Calls made with the caller's access token: Cognito refused the
            // token (revoked, expired, invalid) or the user (disabled).
            SignOut | CurrentUser | TotpEnrolment => AuthError::TokenRevoked,
            // Cognito: "Access Token has been revoked" / "…has expired" /
            // "Invalid Access Token", "User is disabled."; a wrong current
            // password is "Incorrect username or password.".
            ChangePassword
                if failure.message_contains("access token")
                    || failure.message_contains("disabled") =>
            {
                AuthError::TokenRevoked
            }
            ConfirmSignUp if failure.message_contains("current status is confirmed") => {
                AuthError::AlreadyConfirmed
            }
            ConfirmSignUp | ConfirmForgotPassword => AuthError::CodeMismatch,
            // The recovery's session expired ("Invalid session for the user,
            // session is expired.") or its access token was revoked.
            Challenge | TotpReplacement => AuthError::InvalidSession,
            SignIn | VerifyPassword | ChangePassword | TotpReplacementSignIn
                if failure.message_contains("attempts exceeded") =>
            {
                AuthError::RateLimited {
                    retry_after_secs: RATE_LIMIT_RETRY_AFTER_SECS,
                }
            }
            // Cognito: "User is disabled." / "User password cannot be reset
            // in the current state."
            AdminResetPassword
                if failure.message_contains("disabled")
                    || failure.message_contains("current state") =>
            {
                AuthError::Forbidden(RESET_REFUSED.to_string())
            }
            _ if op == Bootstrap || op.manages_users() => {
                unavailable("the AWS credentials are not allowed to do this")
            }
            _ => AuthError::InvalidCredentials,
        },
        "UserNotFoundException" => match op {
            ConfirmSignUp | ConfirmForgotPassword => AuthError::CodeMismatch,
            Challenge | TotpReplacement => AuthError::InvalidSession,
            // Deleted between the proof of the password and the deletion of
            // the token: answered like an unknown user at sign-in.
            TotpReplacementReset => AuthError::InvalidCredentials,
            Refresh => AuthError::InvalidRefreshToken,
            SignOut | CurrentUser | TotpEnrolment | ChangePassword => AuthError::TokenRevoked,
            _ if op.manages_users() => AuthError::NotFound("user".to_string()),
            _ => AuthError::InvalidCredentials,
        },
        // A reset code for an account that exists but is unconfirmed: answer
        // like a wrong code, which reveals nothing.
        "UserNotConfirmedException" if op == ConfirmForgotPassword => AuthError::CodeMismatch,
        "UserNotConfirmedException" => AuthError::UserNotConfirmed,
        "UsernameExistsException" | "AliasExistsException" => AuthError::UsernameExists,
        "InvalidPasswordException" => AuthError::InvalidPassword {
            rule: authgate_core::policy::PasswordRule::Provider(password_rule(failure)),
            // Sign-up names the first password; every other operation a new one.
            field: if matches!(op, SignUp | AdminCreateUser) {
                "password"
            } else {
                "newPassword"
            },
        },
        "CodeMismatchException" | "EnableSoftwareTokenMFAException" => AuthError::CodeMismatch,
        "ExpiredCodeException" => AuthError::CodeExpired,
        "LimitExceededException" | "TooManyRequestsException" => AuthError::RateLimited {
            retry_after_secs: RATE_LIMIT_RETRY_AFTER_SECS,
        },
        // Cognito's own lockout of the account: the same answer as authgate's.
        "TooManyFailedAttemptsException" => AuthError::TooManyFailedAttempts {
            retry_after_secs: Some(RATE_LIMIT_RETRY_AFTER_SECS),
        },
        "PasswordResetRequiredException" => AuthError::PasswordResetRequired,
        "SoftwareTokenMFANotFoundException" => {
            tracing::error!(
                operation = op.as_str(),
                code,
                status,
                "software-token MFA is not enabled on the Cognito user pool"
            );
            AuthError::NotImplemented("TOTP enrolment with this user pool".to_string())
        }
        // "Cannot reset password for the user as there is no registered/verified email or phone_number"
        "InvalidParameterException"
            if op == AdminResetPassword
                && (failure.message_contains("verified")
                    || failure.message_contains("registered")) =>
        {
            AuthError::Forbidden(RESET_UNDELIVERABLE.to_string())
        }
        // A session or access token Cognito cannot read (the recovery's
        // state is opaque to authgate, so only a garbled one lands here).
        "InvalidParameterException" if op == TotpReplacement => AuthError::InvalidSession,
        // Cognito: "Invalid phone number format." / "Invalid email address format."
        "InvalidParameterException"
            if op == AdminCreateUser && failure.message_contains("phone number") =>
        {
            AuthError::invalid_field("phone", "the provider rejected the phone number")
        }
        "InvalidParameterException"
            if op == AdminCreateUser && failure.message_contains("email") =>
        {
            AuthError::invalid_field("email", "the provider rejected the email address")
        }
        "InvalidParameterException" => {
            if op == Bootstrap {
                tracing::error!(
                    operation = op.as_str(),
                    code,
                    status,
                    "Cognito rejected a parameter"
                );
            } else if op.manages_users() {
                tracing::warn!(
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
        "ResourceNotFoundException" if matches!(op, Challenge | TotpReplacement) => {
            AuthError::InvalidSession
        }
        // moto answers ConfirmForgotPassword for an unknown user with
        // ResourceNotFoundException; answer like a wrong code. A missing app
        // client would land here too, and fails every other call loudly.
        "ResourceNotFoundException" if op == ConfirmForgotPassword => {
            tracing::warn!(
                operation = op.as_str(),
                code,
                status,
                "Cognito found no user or no app client; answered as a wrong code"
            );
            AuthError::CodeMismatch
        }
        // Also for the admin operations: a missing *user* is
        // UserNotFoundException there, so this is a missing pool.
        "ResourceNotFoundException" => unavailable("the user pool or app client does not exist"),
        // The AWS credentials of the signed (admin) calls.
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "ExpiredTokenException" => {
            unavailable("the AWS credentials are missing, invalid or not allowed to do this")
        }
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

/// The failures of the passkey operations that mean something of their own;
/// the rest falls through to the general table.
fn passkey_failure(op: Operation, code: &str, failure: &Failure) -> Option<AuthError> {
    use Operation::*;
    use authgate_core::PasskeyFailure;
    let rejected = AuthError::PasskeyRejected;
    Some(match code {
        "" if failure.is_not_implemented() => {
            AuthError::NotSupportedByProvider(PASSKEYS_NOT_IMPLEMENTED.into())
        }
        // moto (and a pool without the flow) refuse USER_AUTH itself.
        "InvalidParameterException" | "NotAuthorizedException"
            if op == PasskeySignInStart
                && (failure.message_contains("flow") || failure.message_contains("USER_AUTH")) =>
        {
            AuthError::NotSupportedByProvider(PASSKEYS_NOT_ENABLED.into())
        }
        "WebAuthnNotEnabledException" | "WebAuthnConfigurationMissingException" => {
            AuthError::NotSupportedByProvider(PASSKEYS_NOT_ENABLED.into())
        }
        "WebAuthnRelyingPartyMismatchException"
        | "WebAuthnOriginNotAllowedException"
        | "WebAuthnClientMismatchException"
            if op == PasskeySignInFinish =>
        {
            rejected(PasskeyFailure::Signature)
        }
        "WebAuthnRelyingPartyMismatchException"
        | "WebAuthnOriginNotAllowedException"
        | "WebAuthnClientMismatchException" => AuthError::invalid_field(
            "credential",
            "the credential was made for another relying party or origin than the pool's",
        ),
        "WebAuthnCredentialNotSupportedException" => AuthError::invalid_field(
            "credential",
            "the pool does not accept this kind of credential (it needs user verification)",
        ),
        "WebAuthnChallengeNotFoundException" => AuthError::InvalidSession,
        "NotAuthorizedException" if op == PasskeySignInFinish => {
            if failure.message_contains("session") {
                rejected(PasskeyFailure::SessionInvalid)
            } else {
                rejected(PasskeyFailure::Signature)
            }
        }
        "ExpiredCodeException" if op == PasskeySignInFinish => {
            rejected(PasskeyFailure::SessionInvalid)
        }
        "UserNotFoundException" if op == PasskeySignInFinish => rejected(PasskeyFailure::Unknown),
        // Unknown or disabled: the service answers a decoy.
        "UserNotFoundException" | "NotAuthorizedException" if op == PasskeySignInStart => {
            AuthError::NotFound("passkey".into())
        }
        "NotAuthorizedException" | "UserNotFoundException" => AuthError::TokenRevoked,
        "ResourceNotFoundException" if op == PasskeyDeletion => {
            AuthError::NotFound("passkey".into())
        }
        _ => return None,
    })
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

/// `ForgotPassword` answers `Ok` whether or not the account exists: the
/// answers that tell about the account are swallowed (unknown, disabled,
/// unconfirmed, no verified email or phone, the code could not be delivered
/// to it). A rejected `SECRET_HASH`, throttling and outages still fail.
pub(crate) fn forgot_answers_ok(failure: &Failure) -> bool {
    match failure.code() {
        Some("UserNotFoundException" | "UserNotConfirmedException") => true,
        Some("NotAuthorizedException") => !secret_hash_rejected(failure),
        // "Cannot reset password for the user as there is no registered/verified email or phone_number"
        Some("InvalidParameterException") => {
            failure.message_contains("verified") || failure.message_contains("registered")
        }
        Some("CodeDeliveryFailureException") => {
            tracing::error!(
                operation = Operation::ForgotPassword.as_str(),
                "Cognito could not deliver a password-reset code"
            );
            true
        }
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

    const ALL: [Operation; 29] = [
        SignUp,
        ConfirmSignUp,
        ResendConfirmation,
        SignIn,
        Challenge,
        Refresh,
        SignOut,
        CurrentUser,
        TotpEnrolment,
        ForgotPassword,
        ConfirmForgotPassword,
        ChangePassword,
        VerifyPassword,
        TotpReplacementSignIn,
        TotpReplacementReset,
        TotpReplacement,
        AdminCreateUser,
        AdminGetUser,
        AdminListUsers,
        AdminDeleteUser,
        AdminSetEnabled,
        AdminSignOut,
        AdminResetPassword,
        Bootstrap,
        Passkeys,
        PasskeyRegistration,
        PasskeyDeletion,
        PasskeySignInStart,
        PasskeySignInFinish,
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
            map(Bootstrap, "NotAuthorizedException", ""),
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
            if op != ConfirmForgotPassword {
                assert_eq!(
                    map(op, "UserNotConfirmedException", ""),
                    AuthError::UserNotConfirmed
                );
            }
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
            if op != PasskeySignInFinish {
                // There an expired challenge is the ceremony's (below).
                assert_eq!(map(op, "ExpiredCodeException", ""), AuthError::CodeExpired);
            }
            for throttled in ["LimitExceededException", "TooManyRequestsException"] {
                assert_eq!(
                    map(op, throttled, ""),
                    AuthError::RateLimited {
                        retry_after_secs: 30
                    }
                );
            }
            assert_eq!(
                map(op, "TooManyFailedAttemptsException", ""),
                AuthError::TooManyFailedAttempts {
                    retry_after_secs: Some(30)
                }
            );
            assert_eq!(
                map(op, "PasswordResetRequiredException", ""),
                AuthError::PasswordResetRequired
            );
            // The recovery's state is all a TOTP replacement sends that
            // Cognito could call invalid (the code is checked first).
            let invalid_parameter = if op == TotpReplacement {
                AuthError::InvalidSession
            } else {
                AuthError::InvalidRequest {
                    field: None,
                    message: "the provider rejected the request".into(),
                }
            };
            assert_eq!(
                map(
                    op,
                    "InvalidParameterException",
                    "1 validation error detected: secret stuff"
                ),
                invalid_parameter,
                "{op:?}"
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
    fn resource_not_found_is_a_configuration_error_except_for_a_challenge_session_or_a_reset() {
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
        assert_eq!(
            map(ConfirmForgotPassword, "ResourceNotFoundException", "cid"),
            AuthError::CodeMismatch
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
                rule: authgate_core::policy::PasswordRule::Provider(
                    "password not long enough".into()
                ),
                field: "password",
            }
        );
        assert_eq!(
            map(
                SignUp,
                "InvalidPasswordException",
                "The provided password does not confirm to the configured password policy"
            ),
            AuthError::InvalidPassword {
                rule: authgate_core::policy::PasswordRule::Provider(
                    "it does not meet the password policy of the provider".into()
                ),
                field: "password",
            }
        );
        assert_eq!(
            map(SignUp, "InvalidPasswordException", ""),
            AuthError::InvalidPassword {
                rule: authgate_core::policy::PasswordRule::Provider(
                    "it does not meet the password policy of the provider".into()
                ),
                field: "password",
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

    #[test]
    fn calls_with_the_access_token_answer_token_revoked_when_cognito_refuses_it() {
        for op in [SignOut, CurrentUser, TotpEnrolment] {
            for message in ["Access Token has been revoked", "Invalid Access Token", ""] {
                assert_eq!(
                    map(op, "NotAuthorizedException", message),
                    AuthError::TokenRevoked,
                    "{op:?} {message}"
                );
            }
            assert_eq!(
                map(op, "UserNotFoundException", "x"),
                AuthError::TokenRevoked
            );
        }
    }

    #[test]
    fn change_password_tells_a_wrong_current_password_from_a_refused_token() {
        assert_eq!(
            map(
                ChangePassword,
                "NotAuthorizedException",
                "Incorrect username or password."
            ),
            AuthError::InvalidCredentials
        );
        for message in [
            "Access Token has been revoked",
            "Access Token has expired",
            "Invalid Access Token",
            "User is disabled.",
        ] {
            assert_eq!(
                map(ChangePassword, "NotAuthorizedException", message),
                AuthError::TokenRevoked,
                "{message}"
            );
        }
        assert_eq!(
            map(
                ChangePassword,
                "NotAuthorizedException",
                "Password attempts exceeded"
            ),
            AuthError::RateLimited {
                retry_after_secs: 30
            }
        );
        assert_eq!(
            map(
                ChangePassword,
                "LimitExceededException",
                "Attempt limit exceeded"
            ),
            AuthError::RateLimited {
                retry_after_secs: 30
            }
        );
        assert_eq!(
            map(ChangePassword, "UserNotFoundException", "x"),
            AuthError::TokenRevoked
        );
        assert!(matches!(
            map(ChangePassword, "InvalidPasswordException", ""),
            AuthError::InvalidPassword { .. }
        ));
    }

    #[test]
    fn verify_password_answers_like_sign_in() {
        assert_eq!(
            map(
                VerifyPassword,
                "NotAuthorizedException",
                "Incorrect username or password."
            ),
            AuthError::InvalidCredentials
        );
        assert_eq!(
            map(
                VerifyPassword,
                "NotAuthorizedException",
                "Password attempts exceeded"
            ),
            AuthError::RateLimited {
                retry_after_secs: 30
            }
        );
        assert_eq!(
            map(VerifyPassword, "UserNotFoundException", "x"),
            AuthError::InvalidCredentials
        );
    }

    #[test]
    fn confirm_forgot_password_never_reveals_whether_the_user_exists() {
        assert_eq!(
            map(
                ConfirmForgotPassword,
                "CodeMismatchException",
                "Invalid verification code provided"
            ),
            AuthError::CodeMismatch
        );
        assert_eq!(
            map(
                ConfirmForgotPassword,
                "ExpiredCodeException",
                "Invalid code provided, please request a code again."
            ),
            AuthError::CodeExpired
        );
        assert!(matches!(
            map(ConfirmForgotPassword, "InvalidPasswordException", ""),
            AuthError::InvalidPassword { .. }
        ));
        for code in [
            "UserNotFoundException",
            "UserNotConfirmedException",
            "ResourceNotFoundException",
            "NotAuthorizedException",
        ] {
            assert_eq!(
                map(ConfirmForgotPassword, code, "User is disabled."),
                AuthError::CodeMismatch,
                "{code}"
            );
        }
        // A rejected secret hash is still a misconfiguration.
        assert_eq!(
            map(
                ConfirmForgotPassword,
                "NotAuthorizedException",
                "Unable to verify secret hash for client x"
            ),
            AuthError::ProviderUnavailable
        );
    }

    #[test]
    fn forgot_password_swallows_every_answer_about_the_account() {
        for (code, message) in [
            (
                "UserNotFoundException",
                "Username/client id combination not found.",
            ),
            ("UserNotConfirmedException", "x"),
            ("NotAuthorizedException", "User is disabled."),
            (
                "InvalidParameterException",
                "Cannot reset password for the user as there is no registered/verified email or phone_number",
            ),
            ("CodeDeliveryFailureException", "x"),
        ] {
            assert!(forgot_answers_ok(&service(code, message)), "{code}");
        }
        for (code, message) in [
            (
                "NotAuthorizedException",
                "Unable to verify secret hash for client x",
            ),
            ("LimitExceededException", "x"),
            ("InvalidParameterException", "1 validation error detected"),
            ("ResourceNotFoundException", "x"),
            ("InternalErrorException", "x"),
        ] {
            assert!(!forgot_answers_ok(&service(code, message)), "{code}");
        }
        assert!(!forgot_answers_ok(&Failure::Transport("timeout")));
    }

    const ADMIN: [Operation; 7] = [
        AdminCreateUser,
        AdminGetUser,
        AdminListUsers,
        AdminDeleteUser,
        AdminSetEnabled,
        AdminSignOut,
        AdminResetPassword,
    ];

    #[test]
    fn a_missing_user_is_not_found_for_the_admin_operations() {
        for op in ADMIN {
            assert_eq!(
                map(op, "UserNotFoundException", "User does not exist."),
                AuthError::NotFound("user".into()),
                "{op:?}"
            );
        }
        // The user-facing operations still never reveal it.
        assert_eq!(
            map(SignIn, "UserNotFoundException", "User does not exist."),
            AuthError::InvalidCredentials
        );
    }

    #[test]
    fn a_missing_pool_is_a_configuration_error_for_the_admin_operations_too() {
        for op in ADMIN.into_iter().chain([Bootstrap]) {
            assert_eq!(
                map(
                    op,
                    "ResourceNotFoundException",
                    "User pool us-east-1_x does not exist."
                ),
                AuthError::ProviderUnavailable,
                "{op:?}"
            );
        }
    }

    #[test]
    fn refused_aws_credentials_are_provider_unavailable() {
        for op in ADMIN.into_iter().chain([Bootstrap]) {
            for code in [
                "NotAuthorizedException",
                "AccessDeniedException",
                "UnrecognizedClientException",
                "InvalidSignatureException",
                "ExpiredTokenException",
            ] {
                assert_eq!(
                    map(op, code, "not allowed"),
                    AuthError::ProviderUnavailable,
                    "{op:?} {code}"
                );
            }
        }
    }

    #[test]
    fn admin_create_user_answers_username_exists_invalid_password_and_the_field() {
        assert_eq!(
            map(
                AdminCreateUser,
                "UsernameExistsException",
                "An account with the given email already exists."
            ),
            AuthError::UsernameExists
        );
        assert_eq!(
            map(
                AdminCreateUser,
                "InvalidPasswordException",
                "Password did not conform with policy: Password must have symbol characters"
            ),
            AuthError::InvalidPassword {
                rule: authgate_core::policy::PasswordRule::Provider(
                    "password must have symbol characters".into()
                ),
                field: "password",
            }
        );
        assert_eq!(
            map(
                AdminCreateUser,
                "InvalidParameterException",
                "Invalid phone number format."
            ),
            AuthError::invalid_field("phone", "the provider rejected the phone number")
        );
        assert_eq!(
            map(
                AdminCreateUser,
                "InvalidParameterException",
                "Invalid email address format."
            ),
            AuthError::invalid_field("email", "the provider rejected the email address")
        );
        assert_eq!(
            map(AdminCreateUser, "InvalidParameterException", "x"),
            AuthError::InvalidRequest {
                field: None,
                message: "the provider rejected the request".into()
            }
        );
    }

    #[test]
    fn admin_reset_password_tells_why_cognito_refused_it() {
        for message in [
            "User password cannot be reset in the current state.",
            "User is disabled.",
        ] {
            assert_eq!(
                map(AdminResetPassword, "NotAuthorizedException", message),
                AuthError::Forbidden(RESET_REFUSED.into()),
                "{message}"
            );
        }
        assert_eq!(
            map(
                AdminResetPassword,
                "InvalidParameterException",
                "Cannot reset password for the user as there is no registered/verified email or phone_number"
            ),
            AuthError::Forbidden(RESET_UNDELIVERABLE.into())
        );
        // Other refusals are the credentials.
        assert_eq!(
            map(AdminResetPassword, "NotAuthorizedException", "x"),
            AuthError::ProviderUnavailable
        );
    }

    #[test]
    fn sign_in_of_a_user_whose_password_an_administrator_reset_is_password_reset_required() {
        let err = map(
            SignIn,
            "PasswordResetRequiredException",
            "Password reset required for the user",
        );
        assert_eq!(err, AuthError::PasswordResetRequired);
        assert_eq!((err.status(), err.code()), (403, "password_reset_required"));
    }

    #[test]
    fn totp_not_enabled_on_the_pool_is_not_implemented() {
        let err = map(TotpEnrolment, "SoftwareTokenMFANotFoundException", "x");
        assert_eq!(
            err,
            AuthError::NotImplemented("TOTP enrolment with this user pool".into())
        );
        assert_eq!(err.status(), 501);
    }

    #[test]
    fn totp_replacement_proves_the_password_like_sign_in() {
        for message in ["Incorrect username or password.", "User is disabled."] {
            assert_eq!(
                map(TotpReplacementSignIn, "NotAuthorizedException", message),
                AuthError::InvalidCredentials,
                "{message}"
            );
        }
        assert_eq!(
            map(TotpReplacementSignIn, "UserNotFoundException", "x"),
            AuthError::InvalidCredentials
        );
        assert_eq!(
            map(
                TotpReplacementSignIn,
                "NotAuthorizedException",
                "Password attempts exceeded"
            ),
            AuthError::RateLimited {
                retry_after_secs: 30
            }
        );
        assert_eq!(
            map(TotpReplacementSignIn, "UserNotConfirmedException", "x"),
            AuthError::UserNotConfirmed
        );
        assert_eq!(
            map(
                TotpReplacementSignIn,
                "NotAuthorizedException",
                "Unable to verify secret hash for client x"
            ),
            AuthError::ProviderUnavailable
        );
    }

    #[test]
    fn the_token_deletion_of_a_totp_replacement_is_a_signed_call() {
        // The user vanished in between: still never revealed.
        assert_eq!(
            map(TotpReplacementReset, "UserNotFoundException", "x"),
            AuthError::InvalidCredentials
        );
        for code in [
            "NotAuthorizedException",
            "AccessDeniedException",
            "UnrecognizedClientException",
            "ResourceNotFoundException",
        ] {
            assert_eq!(
                map(TotpReplacementReset, code, "x"),
                AuthError::ProviderUnavailable,
                "{code}"
            );
        }
    }

    #[test]
    fn a_refused_totp_replacement_state_is_an_invalid_session() {
        for (code, message) in [
            (
                "NotAuthorizedException",
                "Invalid session for the user, session is expired.",
            ),
            ("NotAuthorizedException", "Access Token has been revoked"),
            ("UserNotFoundException", "x"),
            ("ResourceNotFoundException", "moto's unknown session"),
            ("InvalidParameterException", "1 validation error detected"),
        ] {
            assert_eq!(
                map(TotpReplacement, code, message),
                AuthError::InvalidSession,
                "{code} {message}"
            );
        }
        for code in ["CodeMismatchException", "EnableSoftwareTokenMFAException"] {
            assert_eq!(
                map(TotpReplacement, code, "x"),
                AuthError::CodeMismatch,
                "{code}"
            );
        }
        assert_eq!(
            map(TotpReplacement, "SoftwareTokenMFANotFoundException", "x").status(),
            501
        );
    }

    #[test]
    fn passkey_failures_are_named_and_moto_is_a_provider_limit() {
        use authgate_core::PasskeyFailure::*;
        let moto = Failure::Service {
            code: None,
            message: None,
            status: 500,
            json_body: false,
        };
        for op in [
            Passkeys,
            PasskeyRegistration,
            PasskeyDeletion,
            PasskeySignInStart,
            PasskeySignInFinish,
        ] {
            let err = map_failure(op, &moto);
            assert_eq!(err.code(), "not_supported_by_provider", "{op:?}");
            assert!(err.to_string().contains("moto"), "{err}");
        }
        let cases = [
            (
                PasskeySignInStart,
                "InvalidParameterException",
                "Unsupported auth flow USER_AUTH",
                "not_supported_by_provider",
                "not_supported_by_provider",
            ),
            (
                Passkeys,
                "WebAuthnNotEnabledException",
                "",
                "not_supported_by_provider",
                "not_supported_by_provider",
            ),
            (
                PasskeySignInStart,
                "UserNotFoundException",
                "",
                "not_found",
                "not_found",
            ),
            (
                PasskeySignInStart,
                "NotAuthorizedException",
                "User is disabled.",
                "not_found",
                "not_found",
            ),
            (
                PasskeySignInFinish,
                "NotAuthorizedException",
                "Incorrect credential",
                "invalid_credentials",
                Signature.as_str(),
            ),
            (
                PasskeySignInFinish,
                "NotAuthorizedException",
                "Invalid session for the user",
                "invalid_credentials",
                SessionInvalid.as_str(),
            ),
            (
                PasskeySignInFinish,
                "ExpiredCodeException",
                "",
                "invalid_credentials",
                SessionInvalid.as_str(),
            ),
            (
                PasskeySignInFinish,
                "UserNotFoundException",
                "",
                "invalid_credentials",
                Unknown.as_str(),
            ),
            (
                PasskeySignInFinish,
                "WebAuthnOriginNotAllowedException",
                "",
                "invalid_credentials",
                Signature.as_str(),
            ),
            (
                PasskeyRegistration,
                "WebAuthnOriginNotAllowedException",
                "",
                "invalid_request",
                "invalid_request",
            ),
            (
                PasskeyRegistration,
                "WebAuthnCredentialNotSupportedException",
                "",
                "invalid_request",
                "invalid_request",
            ),
            (
                PasskeyRegistration,
                "WebAuthnChallengeNotFoundException",
                "",
                "invalid_session",
                "invalid_session",
            ),
            (
                Passkeys,
                "NotAuthorizedException",
                "Access Token has been revoked",
                "token_revoked",
                "token_revoked",
            ),
            (
                PasskeyDeletion,
                "ResourceNotFoundException",
                "",
                "not_found",
                "not_found",
            ),
            (
                PasskeyRegistration,
                "LimitExceededException",
                "",
                "rate_limited",
                "rate_limited",
            ),
        ];
        for (op, code, message, expected, reason) in cases {
            let err = map(op, code, message);
            assert_eq!(
                (err.code(), err.reason()),
                (expected, reason),
                "{op:?} {code} {message}"
            );
        }
    }
}
