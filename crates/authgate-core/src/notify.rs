//! Outgoing notifications (mail): what the providers ask to be sent.
//! The mail crate renders them with templates and delivers them.

use crate::{AuthError, Secret};
use async_trait::async_trait;

/// A message for a user. Rendering and transport belong to the [`Notifier`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// The sign-up confirmation code.
    SignUpCode {
        to: String,
        name: Option<String>,
        code: Secret,
    },
    /// A password-reset code.
    PasswordResetCode {
        to: String,
        name: Option<String>,
        code: Secret,
    },
    /// A temporary password for an account created by an administrator.
    TemporaryPassword {
        to: String,
        name: Option<String>,
        password: Secret,
    },
    /// The identifier to sign in with (account identification assistance).
    SignInIdentifier {
        to: String,
        name: Option<String>,
        identifier: String,
    },
    /// The code that starts replacing a lost authenticator.
    MfaResetCode {
        to: String,
        name: Option<String>,
        code: Secret,
    },
    /// Something happened to the account that its owner should know of
    /// (no secret in it).
    SecurityNotice {
        to: String,
        name: Option<String>,
        event: SecurityEvent,
    },
}

/// What a [`Notification::SecurityNotice`] tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityEvent {
    /// The password was reset with a mailed code.
    PasswordReset,
    /// A lost authenticator was replaced (lost-authenticator recovery).
    AuthenticatorReplaced,
    /// The signed-in user enrolled a new authenticator over the old one.
    AuthenticatorChanged,
    /// A new set of recovery codes replaced the old one.
    RecoveryCodesRegenerated,
    /// A recovery code was spent; `remaining` are left.
    RecoveryCodeUsed { remaining: u32 },
    /// Someone signed up with the address of this (existing) account.
    SignUpAttempt,
    /// A password reset was asked for too soon after the authenticator was
    /// replaced; no code was sent. Possible again from `until` (RFC 3339).
    PasswordResetHeld { until: String },
    /// A passkey was registered on the account.
    PasskeyAdded,
    /// A passkey was removed from the account.
    PasskeyRemoved,
}

impl SecurityEvent {
    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            SecurityEvent::PasswordReset => "password_reset",
            SecurityEvent::AuthenticatorReplaced => "authenticator_replaced",
            SecurityEvent::AuthenticatorChanged => "authenticator_changed",
            SecurityEvent::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            SecurityEvent::RecoveryCodeUsed { .. } => "recovery_code_used",
            SecurityEvent::SignUpAttempt => "sign_up_attempt",
            SecurityEvent::PasswordResetHeld { .. } => "password_reset_held",
            SecurityEvent::PasskeyAdded => "passkey_added",
            SecurityEvent::PasskeyRemoved => "passkey_removed",
        }
    }

    /// What the owner reads in the notice.
    pub fn sentence(&self) -> String {
        match self {
            SecurityEvent::PasswordReset => {
                "The password of your account was reset with a code mailed to this address.".into()
            }
            SecurityEvent::AuthenticatorReplaced => {
                "The authenticator app of your account was replaced (lost-authenticator recovery)."
                    .into()
            }
            SecurityEvent::AuthenticatorChanged => {
                "A new authenticator app was enrolled on your account; the old one no longer works."
                    .into()
            }
            SecurityEvent::RecoveryCodesRegenerated => {
                "New recovery codes were made for your account; the old ones no longer work.".into()
            }
            SecurityEvent::RecoveryCodeUsed { remaining } => format!(
                "A recovery code of your account was used; {remaining} unused recovery codes are left."
            ),
            SecurityEvent::SignUpAttempt => {
                "Someone tried to sign up with this address, which already has an account. \
                 If it was you, sign in, or reset your password if you forgot it."
                    .into()
            }
            SecurityEvent::PasswordResetHeld { until } => format!(
                "A password reset was asked for, but the authenticator of your account was replaced \
                 recently, so no code was sent. A reset by mail is possible from {until}, or now with \
                 a recovery code."
            ),
            SecurityEvent::PasskeyAdded => {
                "A passkey was added to your account: it signs in without a password. If it was \
                 not you, remove it under your passkeys and change your password."
                    .into()
            }
            SecurityEvent::PasskeyRemoved => {
                "A passkey was removed from your account; it no longer signs in.".into()
            }
        }
    }
}

impl Notification {
    pub fn recipient(&self) -> &str {
        match self {
            Notification::SignUpCode { to, .. }
            | Notification::PasswordResetCode { to, .. }
            | Notification::TemporaryPassword { to, .. }
            | Notification::SignInIdentifier { to, .. }
            | Notification::MfaResetCode { to, .. }
            | Notification::SecurityNotice { to, .. } => to,
        }
    }

    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Notification::SignUpCode { .. } => "sign_up_code",
            Notification::PasswordResetCode { .. } => "password_reset_code",
            Notification::TemporaryPassword { .. } => "temporary_password",
            Notification::SignInIdentifier { .. } => "sign_in_identifier",
            Notification::MfaResetCode { .. } => "mfa_reset_code",
            Notification::SecurityNotice { .. } => "security_notice",
        }
    }
}

/// Delivers notifications (SMTP, an outbox directory, ...).
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn send(&self, notification: Notification) -> Result<(), AuthError>;
}
