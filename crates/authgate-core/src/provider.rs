//! The provider ports: what authgate needs from an identity provider, one
//! trait per capability ([`ProviderInfo`], [`PasswordSignIn`],
//! [`ProviderSessions`], [`SelfService`], [`TotpAuthenticator`],
//! [`Administration`]), held together as a [`Provider`] under its
//! [`ProviderId`].
//!
//! The model is Cognito's `InitiateAuth` / `RespondToAuthChallenge`: a sign-in
//! answers either tokens ([`AuthStep::Authenticated`]) or a challenge
//! ([`AuthStep::Challenge`]) whose provider state the service keeps in its
//! login transaction and hands back with the answer
//! ([`PasswordSignIn::respond_to_challenge`]). Providers answer single steps;
//! they keep no cross-request state of their own. The ports speak domain
//! language only; each adapter maps its own vocabulary at its edge.

use crate::{AccessClaims, AuthError, Secret};
use async_trait::async_trait;
use std::borrow::Cow;
use std::sync::Arc;

/// The tokens of a successful authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSet {
    pub access_token: Secret,
    pub id_token: Secret,
    /// `None` when the provider does not rotate refresh tokens on refresh.
    pub refresh_token: Option<Secret>,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
}

/// The user as the provider knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderUser {
    pub sub: String,
    pub email: String,
    /// Has the provider verified the address? An unverified one never
    /// enters the user context (nor binds invitations).
    pub email_verified: bool,
    pub name: Option<String>,
}

/// A successful authentication: tokens and who they belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub tokens: TokenSet,
    pub user: ProviderUser,
    /// The second factor this step proved, if any.
    pub second_factor: Option<SecondFactor>,
}

/// How a second factor was proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    /// A code of the authenticator app.
    Totp,
    /// One of the account's one-time recovery codes (now spent).
    RecoveryCode,
}

/// The kinds of challenge a sign-in can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeKind {
    NewPasswordRequired,
    TotpRequired,
    MfaSetupRequired,
}

impl ChallengeKind {
    /// The wire name of the native contract.
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeKind::NewPasswordRequired => "NEW_PASSWORD_REQUIRED",
            ChallengeKind::TotpRequired => "TOTP_REQUIRED",
            ChallengeKind::MfaSetupRequired => "MFA_SETUP_REQUIRED",
        }
    }
}

/// What a challenge gives the client to answer it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ChallengeParameters {
    #[default]
    None,
    /// `MFA_SETUP_REQUIRED`: the authenticator to enrol.
    TotpSetup(TotpEnrolment),
}

/// Another step is needed before tokens are issued, as a provider answers
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeStep {
    pub kind: ChallengeKind,
    /// What the provider needs to go on (Cognito's session; the embedded
    /// provider's pending step). The service keeps it in the login
    /// transaction and hands it back; it never reaches the client.
    pub state: Secret,
    pub parameters: ChallengeParameters,
}

/// What one authentication step produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthStep {
    Authenticated(Authenticated),
    Challenge(ChallengeStep),
}

/// The answer to a challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeResponse {
    pub kind: ChallengeKind,
    pub email: String,
    /// The [`ChallengeStep::state`] of the step answered.
    pub state: Secret,
    /// The new password (NEW_PASSWORD_REQUIRED) or the TOTP code.
    pub answer: Secret,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignUpRequest {
    pub email: String,
    pub password: Secret,
    pub name: Option<String>,
    pub phone: Option<String>,
}

/// Where a code was sent; `destination` is masked (`a***@e***.com`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeDelivery {
    pub medium: &'static str,
    pub destination: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignUpOutcome {
    pub user_sub: String,
    pub requires_confirmation: bool,
    pub delivery: Option<CodeDelivery>,
}

/// A TOTP secret to enrol in an authenticator app (RFC 6238: SHA-1, six
/// digits, 30 s steps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpEnrolment {
    /// Base32, as authenticator apps take it.
    pub secret: Secret,
    /// `otpauth://totp/…` for a QR code.
    pub otpauth_uri: Secret,
}

/// A new authenticator being set up to replace a lost one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpReplacement {
    pub enrolment: TotpEnrolment,
    /// What the provider needs to finish (a Cognito session); kept by
    /// authgate for the few minutes the recovery lives.
    pub state: Option<Secret>,
}

/// Where an account stands, in service terms (never a provider's status string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    /// Signed up, email not confirmed yet.
    PendingConfirmation,
    /// Can sign in.
    Active,
    /// Created by an administrator; the first sign-in sets a password.
    TemporaryPassword,
    /// An administrator required a reset; the user resets with a mailed code.
    PasswordResetRequired,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::PendingConfirmation => "pending_confirmation",
            AccountStatus::Active => "active",
            AccountStatus::TemporaryPassword => "temporary_password",
            AccountStatus::PasswordResetRequired => "password_reset_required",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            AccountStatus::PendingConfirmation,
            AccountStatus::Active,
            AccountStatus::TemporaryPassword,
            AccountStatus::PasswordResetRequired,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
}

/// An account as an administrator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderAccount {
    pub sub: String,
    pub email: String,
    /// See [`ProviderUser::email_verified`].
    pub email_verified: bool,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub status: AccountStatus,
    pub enabled: bool,
    pub mfa_enabled: bool,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// An account an administrator creates; the temporary password is mailed
/// by authgate (never by the provider), so every provider sends one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub email: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub temporary_password: Secret,
}

/// Filters of an account listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountFilter {
    pub email_prefix: Option<String>,
    pub status: Option<AccountStatus>,
    /// At most this many (the provider may cap it lower).
    pub limit: usize,
}

/// Which provider an account lives at: `embedded`, `cognito`, or
/// `oidc:<id>` for an external OpenID provider. The first half of an app
/// user's `(provider, sub)` key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderId(Cow<'static, str>);

impl ProviderId {
    pub const EMBEDDED: ProviderId = ProviderId(Cow::Borrowed("embedded"));
    pub const COGNITO: ProviderId = ProviderId(Cow::Borrowed("cognito"));

    /// An external OpenID provider configured under `id`.
    pub fn oidc(id: &str) -> Self {
        ProviderId(Cow::Owned(format!("oidc:{id}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for ProviderId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl std::fmt::Display for ProviderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What every provider says about itself: its id, the issuer, client and keys of its tokens.
#[async_trait]
pub trait ProviderInfo: Send + Sync {
    /// The provider half of an app user's key.
    fn id(&self) -> ProviderId;

    /// The `iss` of the tokens this provider issues.
    fn issuer(&self) -> String;

    /// The `client_id` (access tokens) / `aud` (id tokens) of this provider's tokens.
    fn client_id(&self) -> String;

    /// Where the provider publishes its JWKS, when it is not authgate itself
    /// (Cognito: the pool's `/.well-known/jwks.json`). `None`: read
    /// [`Self::jwks`] in process.
    fn jwks_url(&self) -> Option<String>;

    /// The JSON Web Key Set that verifies this provider's tokens.
    async fn jwks(&self) -> Result<serde_json::Value, AuthError>;
}

/// Sign-up with a password and its confirmation, sign-in, and the challenges of a sign-in. Each call is one step: cross-request state (a challenge's [`ChallengeStep::state`]) is kept by the service's login transaction and handed back.
#[async_trait]
pub trait PasswordSignIn: Send + Sync {
    async fn sign_up(&self, request: SignUpRequest) -> Result<SignUpOutcome, AuthError>;

    /// Confirm a sign-up with the mailed code. Wrong, expired and
    /// already-confirmed are distinct errors; an unknown email answers like a
    /// wrong code.
    async fn confirm_sign_up(&self, email: &str, code: &Secret) -> Result<(), AuthError>;

    /// Send a new confirmation code. Answers `Ok` whether or not the account
    /// exists, so the answer reveals nothing.
    async fn resend_confirmation(&self, email: &str) -> Result<(), AuthError>;

    /// Authenticate with email and password: tokens or a challenge.
    /// Unknown user, wrong password and disabled user all answer
    /// [`AuthError::InvalidCredentials`].
    async fn sign_in(&self, email: &str, password: &Secret) -> Result<AuthStep, AuthError>;

    /// Answer a challenge returned by [`Self::sign_in`].
    async fn respond_to_challenge(
        &self,
        response: ChallengeResponse,
    ) -> Result<AuthStep, AuthError>;
}

/// The version of a user's context in authgate's store: the app user's id
/// and a number that every write changing what the user context answers
/// (the user, its platform role, its memberships, a role's grants, a
/// tenant's name) moves, in the database itself. A context remembered under
/// a stamp is current as long as the store still answers that stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContextStamp {
    pub user_id: uuid::Uuid,
    pub version: i64,
}

/// The sessions a sign-in starts: refresh, sign-out, liveness.
#[async_trait]
pub trait ProviderSessions: Send + Sync {
    /// Does the provider itself know whether a token's session was signed
    /// out ([`Self::check_session`] is authoritative)? When it does not
    /// (Cognito: revocation is checked only inside AWS), authgate keeps its
    /// own record of the sessions it started and of sign-outs.
    fn tracks_sessions(&self) -> bool;

    /// Exchange a refresh token for new tokens (rotating it where the provider does).
    async fn refresh(&self, refresh_token: &Secret) -> Result<Authenticated, AuthError>;

    /// Sign the user out everywhere: revoke their refresh tokens, and make
    /// access tokens issued before now unacceptable to authgate.
    async fn sign_out(&self, claims: &AccessClaims, access_token: &Secret)
    -> Result<(), AuthError>;

    /// Is the session behind a signature-valid access token still live?
    /// Called by authgate's own protected endpoints after the guard. A
    /// provider whose session record lives in authgate's store reads the
    /// user's [`ContextStamp`] in the same round trip and returns it, so
    /// that the caller's context can come from memory; the others return
    /// `None`.
    async fn check_session(&self, claims: &AccessClaims)
    -> Result<Option<ContextStamp>, AuthError>;

    /// End every session of the signed-in user but the one of `claims`,
    /// where the provider tracks sessions (authgate ends them at its own
    /// boundary for the others).
    async fn revoke_other_sessions(&self, claims: &AccessClaims) -> Result<(), AuthError>;
}

/// What a person does to their own password.
#[async_trait]
pub trait SelfService: Send + Sync {
    /// Mail a password-reset code. `Ok` whether or not the account exists.
    async fn forgot_password(&self, email: &str) -> Result<(), AuthError>;

    /// Set a new password with the mailed reset code.
    async fn confirm_forgot_password(
        &self,
        email: &str,
        code: &Secret,
        new_password: &Secret,
    ) -> Result<(), AuthError>;

    /// Change the password of a signed-in user who proves the current one.
    /// The user's other sessions are signed out; a wrong current password is
    /// [`AuthError::InvalidCredentials`].
    async fn change_password(
        &self,
        claims: &AccessClaims,
        access_token: &Secret,
        current: &Secret,
        new_password: &Secret,
    ) -> Result<(), AuthError>;

    /// Does `password` belong to the signed-in user? `Ok` or
    /// [`AuthError::InvalidCredentials`]; nothing else changes.
    async fn verify_password(
        &self,
        claims: &AccessClaims,
        access_token: &Secret,
        password: &Secret,
    ) -> Result<(), AuthError>;
}

/// TOTP authenticators: enrolment, the current factor, replacement of a lost one.
#[async_trait]
pub trait TotpAuthenticator: Send + Sync {
    /// Start enrolling a TOTP authenticator for a signed-in user: a new
    /// secret, not active until [`Self::finish_totp_enrolment`].
    async fn begin_totp_enrolment(
        &self,
        claims: &AccessClaims,
        access_token: &Secret,
    ) -> Result<TotpEnrolment, AuthError>;

    /// Finish the enrolment with a code from the authenticator: TOTP becomes
    /// the user's MFA. A wrong code is [`AuthError::CodeMismatch`].
    async fn finish_totp_enrolment(
        &self,
        claims: &AccessClaims,
        access_token: &Secret,
        code: &Secret,
    ) -> Result<(), AuthError>;

    /// Does `code` come from the signed-in user's active authenticator (each
    /// code accepted once)? [`AuthError::CodeMismatch`] when not. A provider
    /// that can check codes only inside a sign-in answers
    /// [`AuthError::NotSupportedByProvider`].
    async fn verify_current_totp(
        &self,
        claims: &AccessClaims,
        access_token: &Secret,
        code: &Secret,
    ) -> Result<(), AuthError>;

    /// Lost-authenticator recovery, after authgate checked the mailed code:
    /// prove `password` ([`AuthError::InvalidCredentials`] if wrong) and set
    /// up a new TOTP secret. MFA stays mandatory; nothing signs in.
    async fn begin_totp_replacement(
        &self,
        email: &str,
        password: &Secret,
    ) -> Result<TotpReplacement, AuthError>;

    /// Finish the recovery with a code from the new authenticator: it
    /// replaces the old one (which stops working) and every session of the
    /// account ends. A wrong code is [`AuthError::CodeMismatch`].
    async fn finish_totp_replacement(
        &self,
        email: &str,
        state: Option<&Secret>,
        code: &Secret,
    ) -> Result<(), AuthError>;
}

/// Accounts as an administrator manages them.
#[async_trait]
pub trait Administration: Send + Sync {
    /// Create an account with a temporary password: the first sign-in
    /// answers `NEW_PASSWORD_REQUIRED`. An existing email is
    /// [`AuthError::UsernameExists`].
    async fn admin_create_user(&self, account: NewAccount) -> Result<ProviderAccount, AuthError>;

    /// One account by subject; [`AuthError::NotFound`] when there is none.
    async fn admin_get_user(&self, sub: &str) -> Result<ProviderAccount, AuthError>;

    /// One account by email, if any.
    async fn admin_find_by_email(&self, email: &str) -> Result<Option<ProviderAccount>, AuthError>;

    /// Accounts with this phone number (normally one), for identifier recovery.
    async fn admin_find_by_phone(&self, phone: &str) -> Result<Vec<ProviderAccount>, AuthError>;

    /// Accounts matching the filter, oldest first.
    async fn admin_list_users(
        &self,
        filter: &AccountFilter,
    ) -> Result<Vec<ProviderAccount>, AuthError>;

    /// Delete an account for good.
    async fn admin_delete_user(&self, sub: &str) -> Result<(), AuthError>;

    /// Disable (sign-in refused like a wrong password, every session ended
    /// at once) or enable an account.
    async fn admin_set_enabled(&self, sub: &str, enabled: bool) -> Result<(), AuthError>;

    /// Require a password reset: the user's sessions end, a reset code is
    /// mailed, and sign-in answers [`AuthError::PasswordResetRequired`]
    /// until the user resets with the code.
    async fn admin_reset_password(&self, sub: &str) -> Result<(), AuthError>;
}

/// A provider that implements every port of a password provider (the
/// embedded one and Cognito). A provider with fewer capabilities (an
/// upstream OpenID provider) implements only its ports.
pub trait IdentityProvider:
    ProviderInfo + PasswordSignIn + ProviderSessions + SelfService + TotpAuthenticator + Administration
{
}

impl<T> IdentityProvider for T where
    T: ProviderInfo
        + PasswordSignIn
        + ProviderSessions
        + SelfService
        + TotpAuthenticator
        + Administration
{
}

/// One provider as the services hold it: its id and one handle per port.
/// A capability a provider may lack is an `Option` here (passkeys; later
/// upstream OpenID), so a service asks for it and answers
/// `not_supported_by_provider` when it is missing.
#[derive(Clone)]
pub struct Provider {
    pub id: ProviderId,
    pub info: Arc<dyn ProviderInfo>,
    pub passwords: Arc<dyn PasswordSignIn>,
    pub sessions: Arc<dyn ProviderSessions>,
    pub account: Arc<dyn SelfService>,
    pub totp: Arc<dyn TotpAuthenticator>,
    pub admin: Arc<dyn Administration>,
    pub passkeys: Option<Arc<dyn crate::Passkeys>>,
}

impl Provider {
    pub fn new<P: IdentityProvider + 'static>(provider: Arc<P>) -> Self {
        Self {
            id: provider.id(),
            info: provider.clone(),
            passwords: provider.clone(),
            sessions: provider.clone(),
            account: provider.clone(),
            totp: provider.clone(),
            admin: provider,
            passkeys: None,
        }
    }

    /// The same provider, with its passkeys.
    pub fn with_passkeys(mut self, passkeys: Arc<dyn crate::Passkeys>) -> Self {
        self.passkeys = Some(passkeys);
        self
    }

    /// The provider half of an app user's key, as the store takes it.
    pub fn name(&self) -> &str {
        self.id.as_str()
    }
}
