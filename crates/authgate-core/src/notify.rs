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
}

impl Notification {
    pub fn recipient(&self) -> &str {
        match self {
            Notification::SignUpCode { to, .. }
            | Notification::PasswordResetCode { to, .. }
            | Notification::TemporaryPassword { to, .. }
            | Notification::SignInIdentifier { to, .. }
            | Notification::MfaResetCode { to, .. } => to,
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
        }
    }
}

/// Delivers notifications (SMTP, an outbox directory, ...).
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn send(&self, notification: Notification) -> Result<(), AuthError>;
}
