//! The passkey port: WebAuthn credentials of a user, registered while
//! signed in and used to sign in without a password.
//!
//! Options and credentials cross this port as the WebAuthn Level 3 JSON the
//! browser's `PublicKeyCredential.parseCreationOptionsFromJSON()` /
//! `toJSON()` speak (base64url fields), so no front end translates them.
//! Each call is one step of a ceremony: the state between `begin_*` and
//! `finish_*` ([`PasskeyCeremony::state`]) is kept by the service's login
//! transaction, single use, and handed back.

use crate::{AccessClaims, AuthError, Authenticated, Secret};
use async_trait::async_trait;

/// The first half of a ceremony: what the browser gets, what authgate keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct PasskeyCeremony {
    /// The `publicKey` member of the creation or request options.
    pub options: serde_json::Value,
    /// What the provider needs to check the answer (challenge, allowed
    /// credentials, a Cognito session); never shown to the client.
    pub state: Secret,
}

/// A registered passkey, as its owner sees it (no key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyCredential {
    /// The credential id, base64url.
    pub id: String,
    pub name: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds of the last sign-in with it.
    pub last_used_at: Option<i64>,
    /// Synced to other devices of the owner (the backup-state flag).
    pub backed_up: bool,
}

/// Why a passkey sign-in was refused. The caller always gets one answer
/// (`invalid_credentials`); the reason goes to the audit row and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyFailure {
    /// The credential belongs to nobody (or to another account than the
    /// ceremony's).
    Unknown,
    /// The assertion does not verify: signature, challenge, origin, RP id,
    /// user verification.
    Signature,
    /// The signature counter went backwards: a cloned authenticator.
    Counter,
    /// The ceremony session is unknown, expired or used.
    SessionInvalid,
}

impl PasskeyFailure {
    /// The audit reason.
    pub fn as_str(self) -> &'static str {
        match self {
            PasskeyFailure::Unknown => "passkey_unknown",
            PasskeyFailure::Signature => "passkey_signature",
            PasskeyFailure::Counter => "passkey_counter",
            PasskeyFailure::SessionInvalid => "session_invalid",
        }
    }
}

/// Passkeys at a provider: the embedded provider verifies them itself
/// (webauthn-rs); Cognito runs its own WebAuthn operations.
#[async_trait]
pub trait Passkeys: Send + Sync {
    /// Creation options for a new passkey of the signed-in user: a
    /// discoverable credential with user verification, the user's existing
    /// passkeys excluded.
    async fn begin_passkey_registration(
        &self,
        claims: &AccessClaims,
        access_token: &Secret,
    ) -> Result<PasskeyCeremony, AuthError>;

    /// Check the browser's answer and store the passkey. Without user
    /// verification, or with a credential id that is registered already:
    /// [`AuthError::InvalidRequest`] naming the problem.
    async fn finish_passkey_registration(
        &self,
        claims: &AccessClaims,
        access_token: &Secret,
        state: &Secret,
        credential: &serde_json::Value,
        name: Option<&str>,
    ) -> Result<PasskeyCredential, AuthError>;

    /// The signed-in user's passkeys, oldest first.
    async fn list_passkeys(
        &self,
        claims: &AccessClaims,
        access_token: &Secret,
    ) -> Result<Vec<PasskeyCredential>, AuthError>;

    /// Delete one of the signed-in user's passkeys; another user's or an
    /// unknown id is [`AuthError::NotFound`]. Nothing else ends.
    async fn delete_passkey(
        &self,
        claims: &AccessClaims,
        access_token: &Secret,
        id: &str,
    ) -> Result<(), AuthError>;

    /// Request options for a sign-in: with `email`, that user's passkeys
    /// ([`AuthError::NotFound`] when the address has no account or no
    /// passkey: the service answers a decoy of the same shape); without,
    /// a discoverable (usernameless) ceremony.
    async fn begin_passkey_sign_in(
        &self,
        email: Option<&str>,
    ) -> Result<PasskeyCeremony, AuthError>;

    /// Check the assertion and start a session. A user-verified passkey is
    /// the whole sign-in: no second factor follows. Refusals are
    /// [`AuthError::PasskeyRejected`]; a disabled account answers like an
    /// unknown credential.
    async fn finish_passkey_sign_in(
        &self,
        state: &Secret,
        credential: &serde_json::Value,
    ) -> Result<Authenticated, AuthError>;
}
