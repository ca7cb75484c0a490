//! # authgate-embedded
//!
//! The built-in identity provider, the default of authgate: its own users in
//! authgate's database, argon2id password hashes ([`password`]), mailed
//! one-time codes ([`codes`]), RS256 JWTs whose claims mirror Cognito's signed
//! with rotating keys ([`keys`], [`tokens`]), and refresh-token families with
//! rotation and reuse detection (in `authgate-store`), and WebAuthn passkeys
//! ([`passkeys`]).

pub mod codes;
pub mod keys;
pub mod passkeys;
pub mod password;
pub mod tokens;
pub mod totp;

use async_trait::async_trait;
use authgate_core::policy::mask_email;
use authgate_core::provider::ChallengeResponse;
use authgate_core::{
    AccessClaims, AccountFilter, AccountStatus, Administration, AuthError, AuthStep, Authenticated,
    ChallengeKind, ChallengeParameters, ChallengeStep, CodeDelivery, ContextStamp, NewAccount,
    Notification, Notifier, PasswordSignIn, ProviderAccount, ProviderId, ProviderInfo,
    ProviderSessions, ProviderUser, SecondFactor, Secret, SelfService, SignUpOutcome,
    SignUpRequest, TokenSet, TotpAuthenticator, TotpEnrolment, TotpReplacement, now_millis,
};
use authgate_store::embedded::{EmbeddedUser, NewEmbeddedUser, UserStatus};
use authgate_store::refresh::{AdvanceOutcome, NewFamily, RotateOutcome};
use authgate_store::{Store, StoreError};
use codes::{MAX_CODE_ATTEMPTS, code_matches, generate_code, hash_code, hash_recovery_code};
use keys::KeyRing;
use password::PasswordHasher;
use std::sync::Arc;
use std::time::Duration;
use tokens::{AccessTokenClaims, FamilyToken, IdTokenClaims, token_digest};

const SIGN_UP_CODE: &str = "sign_up";
const PASSWORD_RESET_CODE: &str = "password_reset";
/// Wrong answers after which a challenge session is invalidated.
const TOTP_CHALLENGE: &str = "totp";
const MFA_SETUP_CHALLENGE: &str = "mfa_setup";
const NEW_PASSWORD_CHALLENGE: &str = "new_password";

/// The embedded provider's state of a pending challenge: whose it is, which
/// step, and the TOTP secret being set up. The service keeps it in its login
/// transaction (never shown to the client) and hands it back with the
/// answer, so the provider holds nothing between the steps.
#[derive(serde::Serialize, serde::Deserialize)]
struct PendingStep {
    sub: String,
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending_secret: Option<String>,
}

/// When the embedded provider asks for a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaPolicy {
    /// Never; TOTP enrolment is refused.
    Off,
    /// Users who enrolled an authenticator answer `TOTP_REQUIRED`.
    Optional,
    /// Every user: enrolled ones answer `TOTP_REQUIRED`, the others enrol
    /// inside the sign-in (`MFA_SETUP_REQUIRED`).
    Required,
}

/// Settings of the embedded provider.
#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    /// `iss` of the tokens: the public URL of authgate.
    pub issuer: String,
    /// `client_id` / `aud` of the tokens.
    pub client_id: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// `AUTHGATE_REFRESH_REUSE_INTERVAL`: how long after a rotation the
    /// rotated token may be presented again (a retry) and get the same
    /// child; zero is strict rotation.
    pub refresh_reuse_interval: Duration,
    pub sign_up_code_ttl: Duration,
    pub password_reset_code_ttl: Duration,
    /// Lifetime of a sign-in challenge session (at most 5 minutes).
    pub mfa: MfaPolicy,
    /// How many argon2 hashes run at once (defaults to the CPU count).
    pub hash_concurrency: usize,
    /// Where passkeys are bound; `None`: passkeys are off.
    pub relying_party: Option<passkeys::RelyingParty>,
    /// The algorithm of a newly generated signing key.
    pub signing_alg: keys::SigningAlg,
}

/// The embedded provider.
pub struct EmbeddedProvider {
    config: EmbeddedConfig,
    store: Store,
    keys: Arc<KeyRing>,
    hasher: PasswordHasher,
    notifier: Arc<dyn Notifier>,
    webauthn: Option<webauthn_rs::Webauthn>,
    /// Derives a refresh token's child from the token itself, so that a
    /// retry gets the same child without the child being stored.
    refresh_key: aws_lc_rs::hmac::Key,
}

impl EmbeddedProvider {
    /// Load (or create) the signing keys and get ready to serve.
    pub async fn new(
        config: EmbeddedConfig,
        store: Store,
        notifier: Arc<dyn Notifier>,
    ) -> Result<Self, AuthError> {
        let publish_retired = config.access_token_ttl.as_millis() as i64 + 5 * 60 * 1000;
        let keys =
            Arc::new(KeyRing::load(store.clone(), publish_retired, config.signing_alg).await?);
        let hasher = PasswordHasher::new(config.hash_concurrency)?;
        let webauthn = config
            .relying_party
            .as_ref()
            .map(passkeys::RelyingParty::webauthn)
            .transpose()?;
        let refresh_key = tokens::refresh_child_key(&store).await?;
        Ok(Self {
            config,
            store,
            keys,
            hasher,
            notifier,
            webauthn,
            refresh_key,
        })
    }

    pub fn key_ring(&self) -> Arc<KeyRing> {
        self.keys.clone()
    }

    /// Hand a notification to the notifier (which, in the server, delivers
    /// in the background). A failed hand-over is logged, not fatal: the user
    /// can ask for a new code.
    async fn notify(&self, notification: Notification) {
        let kind = notification.kind();
        if let Err(err) = self.notifier.send(notification).await {
            tracing::error!(kind, error = %err, "mail not sent");
        }
    }

    /// A new one-time code for `(user, purpose)`, replacing any earlier one;
    /// only its digest is stored.
    async fn issue_code(
        &self,
        user: &EmbeddedUser,
        purpose: &str,
        ttl: Duration,
    ) -> Result<Secret, AuthError> {
        let code = generate_code();
        let now = now_millis();
        self.store
            .put_code(
                &user.sub,
                purpose,
                &hash_code(&user.sub, purpose, &code),
                now + ttl.as_millis() as i64,
                now,
            )
            .await?;
        Ok(Secret::new(code))
    }

    async fn send_sign_up_code(&self, user: &EmbeddedUser) -> Result<(), AuthError> {
        let code = self
            .issue_code(user, SIGN_UP_CODE, self.config.sign_up_code_ttl)
            .await?;
        self.notify(Notification::SignUpCode {
            to: user.email.clone(),
            name: user.name.clone(),
            code,
        })
        .await;
        Ok(())
    }

    /// Check a mailed code for `(sub, purpose)`. Every check spends one of
    /// the code's tries. A match consumes nothing: the caller completes the
    /// operation and deletes the code. A code that expired or whose tries
    /// are spent answers [`AuthError::CodeExpired`] only when it is the code
    /// presented; any other wrong code is [`AuthError::CodeMismatch`], as
    /// for an address without an account, so the answer tells a stranger
    /// nothing about the account.
    async fn check_code(&self, sub: &str, purpose: &str, code: &Secret) -> Result<(), AuthError> {
        let now = now_millis();
        match self
            .store
            .take_code_attempt(sub, purpose, MAX_CODE_ATTEMPTS, now)
            .await?
        {
            Some(stored) if code_matches(sub, purpose, code.expose(), &stored.code_hash) => Ok(()),
            Some(_) => Err(AuthError::CodeMismatch),
            None => match self.store.get_code(sub, purpose).await? {
                Some(dead) if code_matches(sub, purpose, code.expose(), &dead.code_hash) => {
                    Err(AuthError::CodeExpired)
                }
                _ => Err(AuthError::CodeMismatch),
            },
        }
    }

    /// After the password: tokens, or the second factor the policy asks for.
    async fn second_factor(&self, user: &EmbeddedUser) -> Result<AuthStep, AuthError> {
        if self.config.mfa == MfaPolicy::Off {
            return Ok(AuthStep::Authenticated(self.start_session(user).await?));
        }
        let state = self.store.totp_state(&user.sub).await?;
        if state.active_secret.is_some() {
            return challenge(
                user,
                ChallengeKind::TotpRequired,
                TOTP_CHALLENGE,
                None,
                ChallengeParameters::None,
            );
        }
        if self.config.mfa == MfaPolicy::Required {
            let enrolment = totp::new_enrolment(&user.email)?;
            return challenge(
                user,
                ChallengeKind::MfaSetupRequired,
                MFA_SETUP_CHALLENGE,
                Some(enrolment.secret.expose().to_string()),
                ChallengeParameters::TotpSetup(enrolment),
            );
        }
        Ok(AuthStep::Authenticated(self.start_session(user).await?))
    }

    /// Check a code against the active secret; a step is accepted once.
    async fn accept_totp(&self, sub: &str, secret: &str, code: &Secret) -> Result<bool, AuthError> {
        match totp::matching_step(secret, code, now_secs())? {
            Some(step) => Ok(self.store.claim_totp_step(sub, step, now_millis()).await?),
            None => Ok(false),
        }
    }

    /// An embedded user in the provider-neutral shape of the admin API.
    async fn account(&self, user: EmbeddedUser) -> Result<ProviderAccount, AuthError> {
        let mfa_enabled = self
            .store
            .totp_state(&user.sub)
            .await?
            .active_secret
            .is_some();
        Ok(ProviderAccount {
            status: match user.status {
                UserStatus::Unconfirmed => AccountStatus::PendingConfirmation,
                UserStatus::Confirmed => AccountStatus::Active,
                UserStatus::TemporaryPassword => AccountStatus::TemporaryPassword,
                UserStatus::ResetRequired => AccountStatus::PasswordResetRequired,
            },
            enabled: user.disabled_at.is_none(),
            mfa_enabled,
            created_at: user.created_at,
            email_verified: user.status != UserStatus::Unconfirmed,
            sub: user.sub,
            email: user.email,
            name: user.name,
            phone: user.phone,
        })
    }

    async fn user_of(&self, claims: &AccessClaims) -> Result<EmbeddedUser, AuthError> {
        self.store
            .embedded_user_by_sub(&claims.sub)
            .await?
            .filter(|u| u.disabled_at.is_none())
            .ok_or(AuthError::TokenRevoked)
    }

    /// Mint access and id tokens for `user` in session `family_id`.
    fn mint(
        &self,
        user: &EmbeddedUser,
        family_id: &str,
        auth_time: i64,
        refresh_token: Option<String>,
    ) -> Result<Authenticated, AuthError> {
        let iat = now_millis() / 1000;
        let ttl = self.config.access_token_ttl.as_secs();
        let exp = iat + ttl as i64;
        let access = self.keys.sign(&AccessTokenClaims {
            sub: &user.sub,
            iss: &self.config.issuer,
            client_id: &self.config.client_id,
            token_use: "access",
            scope: "openid email profile",
            auth_time,
            exp,
            iat,
            jti: uuid::Uuid::new_v4().to_string(),
            origin_jti: family_id,
            username: &user.sub,
        })?;
        let id = self.keys.sign(&IdTokenClaims {
            sub: &user.sub,
            iss: &self.config.issuer,
            aud: &self.config.client_id,
            token_use: "id",
            auth_time,
            exp,
            iat,
            jti: uuid::Uuid::new_v4().to_string(),
            origin_jti: family_id,
            email: &user.email,
            email_verified: user.status == UserStatus::Confirmed,
            name: user.name.as_deref(),
            username: &user.sub,
        })?;
        Ok(Authenticated {
            tokens: TokenSet {
                access_token: Secret::new(access),
                id_token: Secret::new(id),
                refresh_token: refresh_token.map(Secret::new),
                expires_in: ttl,
            },
            user: provider_user(user),
            second_factor: None,
        })
    }

    /// The tokens of a rotated family, for its user if still enabled; a
    /// disabled or deleted user's family is revoked instead.
    async fn mint_refreshed(
        &self,
        user: Option<EmbeddedUser>,
        family_id: &str,
        auth_time: i64,
        refresh_token: String,
        now: i64,
    ) -> Result<Authenticated, AuthError> {
        match user {
            Some(user) if user.disabled_at.is_none() => {
                self.mint(&user, family_id, auth_time, Some(refresh_token))
            }
            _ => {
                self.store
                    .revoke_family(family_id, "user_disabled", now)
                    .await?;
                Err(AuthError::InvalidRefreshToken)
            }
        }
    }

    /// A refresh token of a family started before tokens named their
    /// generation: its chain lives in `refresh_tokens`, each child derived
    /// from its parent ([`tokens::refresh_child`]), until the family expires.
    async fn refresh_legacy(&self, refresh_token: &Secret) -> Result<Authenticated, AuthError> {
        let now = now_millis();
        let new_token = tokens::refresh_child(&self.refresh_key, refresh_token.expose());
        let outcome = self
            .store
            .rotate_refresh_token(
                &token_digest(refresh_token.expose()),
                &token_digest(&new_token),
                now,
                self.config.refresh_reuse_interval.as_millis() as i64,
            )
            .await?;
        match outcome {
            RotateOutcome::Rotated {
                family_id,
                sub,
                auth_time,
            }
            | RotateOutcome::Retried {
                family_id,
                sub,
                auth_time,
            } => {
                let user = self.store.embedded_user_by_sub(&sub).await?;
                self.mint_refreshed(user, &family_id, auth_time, new_token, now)
                    .await
            }
            RotateOutcome::Reused { family_id, sub } => {
                tracing::warn!(%family_id, %sub, "refresh token reuse: session revoked");
                Err(AuthError::RefreshTokenReused)
            }
            RotateOutcome::Unknown | RotateOutcome::Revoked => Err(AuthError::InvalidRefreshToken),
        }
    }

    /// Start a session: a new refresh family and its first tokens.
    async fn start_session(&self, user: &EmbeddedUser) -> Result<Authenticated, AuthError> {
        let now = now_millis();
        let family_id = uuid::Uuid::new_v4().to_string();
        let auth_time = now / 1000;
        self.store
            .create_refresh_family(
                NewFamily {
                    family_id: &family_id,
                    sub: &user.sub,
                    auth_time,
                    token_hash: None,
                    expires_at: now + self.config.refresh_token_ttl.as_millis() as i64,
                },
                now,
            )
            .await?;
        let refresh = FamilyToken {
            family_id: family_id.clone(),
            generation: 0,
        }
        .encode(&self.refresh_key);
        self.mint(user, &family_id, auth_time, Some(refresh))
    }
}

fn now_secs() -> u64 {
    (now_millis() / 1000) as u64
}

fn provider_user(user: &EmbeddedUser) -> ProviderUser {
    ProviderUser {
        sub: user.sub.clone(),
        email: user.email.clone(),
        email_verified: user.status != UserStatus::Unconfirmed,
        name: user.name.clone(),
    }
}

/// A challenge for `user`, carrying its [`PendingStep`] as the state.
fn challenge(
    user: &EmbeddedUser,
    kind: ChallengeKind,
    stored_kind: &str,
    pending_secret: Option<String>,
    parameters: ChallengeParameters,
) -> Result<AuthStep, AuthError> {
    let state = serde_json::to_string(&PendingStep {
        sub: user.sub.clone(),
        kind: stored_kind.to_string(),
        pending_secret,
    })
    .map_err(|e| AuthError::Internal(format!("challenge state: {e}")))?;
    Ok(AuthStep::Challenge(ChallengeStep {
        kind,
        state: Secret::new(state),
        parameters,
    }))
}

#[async_trait]
impl ProviderInfo for EmbeddedProvider {
    fn id(&self) -> ProviderId {
        ProviderId::EMBEDDED
    }

    fn issuer(&self) -> String {
        self.config.issuer.clone()
    }

    fn client_id(&self) -> String {
        self.config.client_id.clone()
    }

    fn jwks_url(&self) -> Option<String> {
        None
    }

    async fn jwks(&self) -> Result<serde_json::Value, AuthError> {
        Ok(self.keys.jwks())
    }
}

#[async_trait]
impl PasswordSignIn for EmbeddedProvider {
    /// A new account, or a new start for an unconfirmed one: its pending
    /// password, name and phone are replaced and earlier codes voided, so
    /// the password that works after confirmation is the latest sign-up's
    /// (a confirmation proves the mailbox, nothing more). An address with a
    /// confirmed account is [`AuthError::UsernameExists`], after the same
    /// hashing work as any other sign-up.
    async fn sign_up(&self, request: SignUpRequest) -> Result<SignUpOutcome, AuthError> {
        let password_hash = self.hasher.hash(&request.password).await?;
        if let Some(existing) = self.store.embedded_user_by_email(&request.email).await? {
            if existing.status != UserStatus::Unconfirmed {
                return Err(AuthError::UsernameExists);
            }
            let restarted = self
                .store
                .restart_pending_sign_up(
                    &existing.sub,
                    &password_hash,
                    request.name.as_deref(),
                    request.phone.as_deref(),
                    now_millis(),
                )
                .await?;
            if !restarted {
                // Confirmed meanwhile.
                return Err(AuthError::UsernameExists);
            }
            let user = self
                .store
                .embedded_user_by_sub(&existing.sub)
                .await?
                .ok_or_else(|| AuthError::Internal("user vanished after sign-up".into()))?;
            self.send_sign_up_code(&user).await?;
            return Ok(SignUpOutcome {
                user_sub: user.sub,
                requires_confirmation: true,
                delivery: Some(CodeDelivery {
                    medium: "EMAIL",
                    destination: mask_email(&user.email),
                }),
            });
        }
        let sub = uuid::Uuid::new_v4().to_string();
        let inserted = self
            .store
            .insert_embedded_user(
                NewEmbeddedUser {
                    sub: &sub,
                    email: &request.email,
                    name: request.name.as_deref(),
                    phone: request.phone.as_deref(),
                    password_hash: &password_hash,
                    status: UserStatus::Unconfirmed,
                },
                now_millis(),
            )
            .await;
        match inserted {
            Err(StoreError::Conflict) => return Err(AuthError::UsernameExists),
            other => other?,
        }
        let user = self
            .store
            .embedded_user_by_sub(&sub)
            .await?
            .ok_or_else(|| AuthError::Internal("user vanished after sign-up".into()))?;
        self.send_sign_up_code(&user).await?;
        Ok(SignUpOutcome {
            user_sub: sub,
            requires_confirmation: true,
            delivery: Some(CodeDelivery {
                medium: "EMAIL",
                destination: mask_email(&user.email),
            }),
        })
    }

    async fn confirm_sign_up(&self, email: &str, code: &Secret) -> Result<(), AuthError> {
        let Some(user) = self.store.embedded_user_by_email(email).await? else {
            return Err(AuthError::CodeMismatch);
        };
        if user.status != UserStatus::Unconfirmed {
            // Only the code that confirmed it says so (a double submit);
            // any other code answers like a wrong code for a stranger.
            return match self.store.get_code(&user.sub, SIGN_UP_CODE).await? {
                Some(used)
                    if code_matches(&user.sub, SIGN_UP_CODE, code.expose(), &used.code_hash) =>
                {
                    Err(AuthError::AlreadyConfirmed)
                }
                _ => Err(AuthError::CodeMismatch),
            };
        }
        self.check_code(&user.sub, SIGN_UP_CODE, code).await?;
        if !self
            .store
            .confirm_embedded_user(&user.sub, now_millis())
            .await?
        {
            return Err(AuthError::AlreadyConfirmed);
        }
        Ok(())
    }

    async fn resend_confirmation(&self, email: &str) -> Result<(), AuthError> {
        if let Some(user) = self.store.embedded_user_by_email(email).await?
            && user.status == UserStatus::Unconfirmed
        {
            self.send_sign_up_code(&user).await?;
        }
        Ok(())
    }

    async fn sign_in(&self, email: &str, password: &Secret) -> Result<AuthStep, AuthError> {
        let user = self.store.embedded_user_by_email(email).await?;
        let matched = self
            .hasher
            .verify(password, user.as_ref().map(|u| u.password_hash.as_str()))
            .await?;
        let user = match user {
            Some(user) if matched && user.disabled_at.is_none() => user,
            _ => return Err(AuthError::InvalidCredentials),
        };
        match user.status {
            UserStatus::Unconfirmed => Err(AuthError::UserNotConfirmed),
            UserStatus::ResetRequired => Err(AuthError::PasswordResetRequired),
            UserStatus::TemporaryPassword => challenge(
                &user,
                ChallengeKind::NewPasswordRequired,
                NEW_PASSWORD_CHALLENGE,
                None,
                ChallengeParameters::None,
            ),
            UserStatus::Confirmed => self.second_factor(&user).await,
        }
    }

    async fn respond_to_challenge(
        &self,
        response: ChallengeResponse,
    ) -> Result<AuthStep, AuthError> {
        let now = now_millis();
        let challenge: PendingStep =
            serde_json::from_str(response.state.expose()).map_err(|_| AuthError::InvalidSession)?;
        let expected_kind = match response.kind {
            ChallengeKind::TotpRequired => TOTP_CHALLENGE,
            ChallengeKind::MfaSetupRequired => MFA_SETUP_CHALLENGE,
            ChallengeKind::NewPasswordRequired => NEW_PASSWORD_CHALLENGE,
        };
        // The step is bound to its user and to its kind of challenge (the
        // service's login transaction checks the same and ends it).
        let user = self
            .store
            .embedded_user_by_sub(&challenge.sub)
            .await?
            .filter(|u| u.email == response.email && u.disabled_at.is_none());
        let Some(user) = user.filter(|_| challenge.kind == expected_kind) else {
            return Err(AuthError::InvalidSession);
        };
        if response.kind == ChallengeKind::NewPasswordRequired {
            // The policy was checked by the service; the new password ends the
            // temporary one, then the second factor the policy asks for follows.
            let hash = self.hasher.hash(&response.answer).await?;
            self.store
                .update_embedded_password(&user.sub, &hash, now)
                .await?;
            let user = self
                .store
                .embedded_user_by_sub(&user.sub)
                .await?
                .ok_or(AuthError::InvalidSession)?;
            return self.second_factor(&user).await;
        }
        let mut second_factor = SecondFactor::Totp;
        let accepted = if response.kind == ChallengeKind::TotpRequired {
            match self.store.totp_state(&user.sub).await?.active_secret {
                Some(_)
                    if let Some(hash) = hash_recovery_code(&user.sub, response.answer.expose()) =>
                {
                    second_factor = SecondFactor::RecoveryCode;
                    self.store
                        .spend_recovery_code(ProviderId::EMBEDDED.as_str(), &user.sub, &hash, now)
                        .await?
                }
                Some(secret) => {
                    self.accept_totp(&user.sub, &secret, &response.answer)
                        .await?
                }
                None => return Err(AuthError::InvalidSession),
            }
        } else {
            let secret = challenge
                .pending_secret
                .clone()
                .ok_or(AuthError::InvalidSession)?;
            match totp::matching_step(&secret, &response.answer, now_secs())? {
                Some(step) => {
                    self.store
                        .activate_totp(&user.sub, &secret, step, now)
                        .await?;
                    true
                }
                None => false,
            }
        };
        if !accepted {
            return Err(AuthError::CodeMismatch);
        }
        let mut done = self.start_session(&user).await?;
        done.second_factor = Some(second_factor);
        Ok(AuthStep::Authenticated(done))
    }
}

#[async_trait]
impl ProviderSessions for EmbeddedProvider {
    fn tracks_sessions(&self) -> bool {
        true
    }

    async fn refresh(&self, refresh_token: &Secret) -> Result<Authenticated, AuthError> {
        if !FamilyToken::is_family_token(refresh_token.expose()) {
            return self.refresh_legacy(refresh_token).await;
        }
        let presented = FamilyToken::decode(&self.refresh_key, refresh_token.expose())
            .ok_or(AuthError::InvalidRefreshToken)?;
        let now = now_millis();
        let outcome = self
            .store
            .advance_refresh_family(
                &presented.family_id,
                presented.generation,
                now,
                self.config.refresh_reuse_interval.as_millis() as i64,
            )
            .await?;
        match outcome {
            // The rotation read the user in the same statement.
            AdvanceOutcome::Rotated(advanced) | AdvanceOutcome::Retried(advanced) => {
                let child = presented.child();
                let token = child.encode(&self.refresh_key);
                self.mint_refreshed(
                    advanced.user,
                    &child.family_id,
                    advanced.auth_time,
                    token,
                    now,
                )
                .await
            }
            AdvanceOutcome::Reused { sub } => {
                let family_id = &presented.family_id;
                tracing::warn!(%family_id, %sub, "refresh token reuse: session revoked");
                Err(AuthError::RefreshTokenReused)
            }
            AdvanceOutcome::Unknown | AdvanceOutcome::Revoked => {
                Err(AuthError::InvalidRefreshToken)
            }
        }
    }

    async fn sign_out(
        &self,
        claims: &AccessClaims,
        _access_token: &Secret,
    ) -> Result<(), AuthError> {
        self.store
            .revoke_families_of(&claims.sub, "sign_out", now_millis())
            .await?;
        Ok(())
    }

    async fn check_session(
        &self,
        claims: &AccessClaims,
    ) -> Result<Option<ContextStamp>, AuthError> {
        let Some(family_id) = claims.origin_jti.as_deref() else {
            return Err(AuthError::TokenRevoked);
        };
        let family = self
            .store
            .family_session(
                family_id,
                &claims.sub,
                ProviderId::EMBEDDED.as_str(),
                now_millis(),
            )
            .await?;
        if family.live {
            Ok(family.context)
        } else {
            Err(AuthError::TokenRevoked)
        }
    }

    async fn revoke_other_sessions(&self, claims: &AccessClaims) -> Result<(), AuthError> {
        let keep = claims.origin_jti.as_deref().unwrap_or_default();
        self.store
            .revoke_other_families(&claims.sub, keep, "authenticator_changed", now_millis())
            .await?;
        Ok(())
    }
}

#[async_trait]
impl SelfService for EmbeddedProvider {
    async fn forgot_password(&self, email: &str) -> Result<(), AuthError> {
        if let Some(user) = self.store.embedded_user_by_email(email).await?
            && user.disabled_at.is_none()
        {
            let code = self
                .issue_code(
                    &user,
                    PASSWORD_RESET_CODE,
                    self.config.password_reset_code_ttl,
                )
                .await?;
            self.notify(Notification::PasswordResetCode {
                to: user.email.clone(),
                name: user.name.clone(),
                code,
            })
            .await;
        }
        Ok(())
    }

    async fn confirm_forgot_password(
        &self,
        email: &str,
        code: &Secret,
        new_password: &Secret,
    ) -> Result<(), AuthError> {
        let Some(user) = self.store.embedded_user_by_email(email).await? else {
            return Err(AuthError::CodeMismatch);
        };
        self.check_code(&user.sub, PASSWORD_RESET_CODE, code)
            .await?;
        let hash = self.hasher.hash(new_password).await?;
        let now = now_millis();
        self.store
            .update_embedded_password(&user.sub, &hash, now)
            .await?;
        self.store
            .retire_code(&user.sub, PASSWORD_RESET_CODE)
            .await?;
        self.store
            .revoke_families_of(&user.sub, "password_reset", now)
            .await?;
        Ok(())
    }

    async fn change_password(
        &self,
        claims: &AccessClaims,
        _access_token: &Secret,
        current: &Secret,
        new_password: &Secret,
    ) -> Result<(), AuthError> {
        let user = self.user_of(claims).await?;
        if !self
            .hasher
            .verify(current, Some(&user.password_hash))
            .await?
        {
            return Err(AuthError::InvalidCredentials);
        }
        let hash = self.hasher.hash(new_password).await?;
        let now = now_millis();
        self.store
            .update_embedded_password(&user.sub, &hash, now)
            .await?;
        let keep = claims.origin_jti.as_deref().unwrap_or_default();
        self.store
            .revoke_other_families(&user.sub, keep, "password_changed", now)
            .await?;
        Ok(())
    }

    async fn verify_password(
        &self,
        claims: &AccessClaims,
        _access_token: &Secret,
        password: &Secret,
    ) -> Result<(), AuthError> {
        let user = self.user_of(claims).await?;
        if self
            .hasher
            .verify(password, Some(&user.password_hash))
            .await?
        {
            Ok(())
        } else {
            Err(AuthError::InvalidCredentials)
        }
    }
}

#[async_trait]
impl TotpAuthenticator for EmbeddedProvider {
    async fn begin_totp_enrolment(
        &self,
        claims: &AccessClaims,
        _access_token: &Secret,
    ) -> Result<TotpEnrolment, AuthError> {
        if self.config.mfa == MfaPolicy::Off {
            return Err(AuthError::MfaDisabled);
        }
        let user = self.user_of(claims).await?;
        let enrolment = totp::new_enrolment(&user.email)?;
        self.store
            .set_pending_totp(&user.sub, enrolment.secret.expose(), now_millis())
            .await?;
        Ok(enrolment)
    }

    async fn finish_totp_enrolment(
        &self,
        claims: &AccessClaims,
        _access_token: &Secret,
        code: &Secret,
    ) -> Result<(), AuthError> {
        let user = self.user_of(claims).await?;
        let state = self.store.totp_state(&user.sub).await?;
        let Some(secret) = state.pending_secret else {
            return Err(AuthError::InvalidRequest {
                field: None,
                message: "no enrolment in progress: start one with POST /v1/auth/mfa/totp".into(),
            });
        };
        match totp::matching_step(&secret, code, now_secs())? {
            Some(step) => {
                self.store
                    .activate_totp(&user.sub, &secret, step, now_millis())
                    .await?;
                Ok(())
            }
            None => Err(AuthError::CodeMismatch),
        }
    }

    async fn verify_current_totp(
        &self,
        claims: &AccessClaims,
        _access_token: &Secret,
        code: &Secret,
    ) -> Result<(), AuthError> {
        let user = self.user_of(claims).await?;
        let Some(secret) = self.store.totp_state(&user.sub).await?.active_secret else {
            return Err(AuthError::CodeMismatch);
        };
        if self.accept_totp(&user.sub, &secret, code).await? {
            Ok(())
        } else {
            Err(AuthError::CodeMismatch)
        }
    }

    async fn begin_totp_replacement(
        &self,
        email: &str,
        password: &Secret,
    ) -> Result<TotpReplacement, AuthError> {
        let user = self.store.embedded_user_by_email(email).await?;
        let matched = self
            .hasher
            .verify(password, user.as_ref().map(|u| u.password_hash.as_str()))
            .await?;
        let user = match user {
            Some(user) if matched && user.disabled_at.is_none() => user,
            _ => return Err(AuthError::InvalidCredentials),
        };
        let enrolment = totp::new_enrolment(&user.email)?;
        // Pending until proven: the old authenticator works until then.
        self.store
            .set_pending_totp(&user.sub, enrolment.secret.expose(), now_millis())
            .await?;
        Ok(TotpReplacement {
            enrolment,
            state: None,
        })
    }

    async fn finish_totp_replacement(
        &self,
        email: &str,
        _state: Option<&Secret>,
        code: &Secret,
    ) -> Result<(), AuthError> {
        let user = self
            .store
            .embedded_user_by_email(email)
            .await?
            .ok_or(AuthError::InvalidSession)?;
        let secret = self
            .store
            .totp_state(&user.sub)
            .await?
            .pending_secret
            .ok_or(AuthError::InvalidSession)?;
        let Some(step) = totp::matching_step(&secret, code, now_secs())? else {
            return Err(AuthError::CodeMismatch);
        };
        let now = now_millis();
        self.store
            .activate_totp(&user.sub, &secret, step, now)
            .await?;
        self.store
            .revoke_families_of(&user.sub, "mfa_reset", now)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Administration for EmbeddedProvider {
    async fn admin_create_user(&self, account: NewAccount) -> Result<ProviderAccount, AuthError> {
        let password_hash = self.hasher.hash(&account.temporary_password).await?;
        let sub = uuid::Uuid::new_v4().to_string();
        let inserted = self
            .store
            .insert_embedded_user(
                NewEmbeddedUser {
                    sub: &sub,
                    email: &account.email,
                    name: account.name.as_deref(),
                    phone: account.phone.as_deref(),
                    password_hash: &password_hash,
                    status: UserStatus::TemporaryPassword,
                },
                now_millis(),
            )
            .await;
        match inserted {
            Err(StoreError::Conflict) => return Err(AuthError::UsernameExists),
            other => other?,
        }
        self.admin_get_user(&sub).await
    }

    async fn admin_get_user(&self, sub: &str) -> Result<ProviderAccount, AuthError> {
        let user = self
            .store
            .embedded_user_by_sub(sub)
            .await?
            .ok_or_else(|| AuthError::NotFound("user".into()))?;
        self.account(user).await
    }

    async fn admin_find_by_email(&self, email: &str) -> Result<Option<ProviderAccount>, AuthError> {
        match self.store.embedded_user_by_email(email).await? {
            Some(user) => Ok(Some(self.account(user).await?)),
            None => Ok(None),
        }
    }

    async fn admin_find_by_phone(&self, phone: &str) -> Result<Vec<ProviderAccount>, AuthError> {
        let mut accounts = Vec::new();
        for user in self.store.embedded_users_by_phone(phone).await? {
            accounts.push(self.account(user).await?);
        }
        Ok(accounts)
    }

    async fn admin_list_users(
        &self,
        filter: &AccountFilter,
    ) -> Result<Vec<ProviderAccount>, AuthError> {
        let status = filter.status.map(|status| match status {
            AccountStatus::PendingConfirmation => UserStatus::Unconfirmed,
            AccountStatus::Active => UserStatus::Confirmed,
            AccountStatus::TemporaryPassword => UserStatus::TemporaryPassword,
            AccountStatus::PasswordResetRequired => UserStatus::ResetRequired,
        });
        let users = self
            .store
            .list_embedded_users(
                filter.email_prefix.as_deref(),
                status,
                filter.limit.clamp(1, 1000) as i64,
            )
            .await?;
        let mut accounts = Vec::with_capacity(users.len());
        for user in users {
            accounts.push(self.account(user).await?);
        }
        Ok(accounts)
    }

    async fn admin_delete_user(&self, sub: &str) -> Result<(), AuthError> {
        if self.store.delete_embedded_user(sub).await? {
            Ok(())
        } else {
            Err(AuthError::NotFound("user".into()))
        }
    }

    async fn admin_set_enabled(&self, sub: &str, enabled: bool) -> Result<(), AuthError> {
        let now = now_millis();
        let disabled_at = (!enabled).then_some(now);
        if !self
            .store
            .set_embedded_disabled(sub, disabled_at, now)
            .await?
        {
            return Err(AuthError::NotFound("user".into()));
        }
        if !enabled {
            self.store
                .revoke_families_of(sub, "user_disabled", now)
                .await?;
        }
        Ok(())
    }

    async fn admin_reset_password(&self, sub: &str) -> Result<(), AuthError> {
        let now = now_millis();
        let user = self
            .store
            .embedded_user_by_sub(sub)
            .await?
            .ok_or_else(|| AuthError::NotFound("user".into()))?;
        self.store
            .set_embedded_status(sub, UserStatus::ResetRequired, now)
            .await?;
        self.store
            .revoke_families_of(sub, "password_reset_required", now)
            .await?;
        self.forgot_password(&user.email).await
    }
}
