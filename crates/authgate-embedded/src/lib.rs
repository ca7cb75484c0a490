//! # authgate-embedded
//!
//! The built-in identity provider, the default of authgate: its own users in
//! authgate's database, argon2id password hashes ([`password`]), mailed
//! one-time codes ([`codes`]), RS256 JWTs whose claims mirror Cognito's signed
//! with rotating keys ([`keys`], [`tokens`]), and refresh-token families with
//! rotation and reuse detection (in `authgate-store`).

pub mod codes;
pub mod keys;
pub mod password;
pub mod tokens;

use async_trait::async_trait;
use authgate_core::policy::mask_email;
use authgate_core::provider::ChallengeResponse;
use authgate_core::{
    AccessClaims, AuthError, AuthStep, Authenticated, CodeDelivery, IdentityProvider, Notification,
    Notifier, ProviderUser, Secret, SignUpOutcome, SignUpRequest, TokenSet, now_millis,
};
use authgate_store::embedded::{EmbeddedUser, NewEmbeddedUser, UserStatus};
use authgate_store::refresh::{NewFamily, RotateOutcome};
use authgate_store::{Store, StoreError};
use codes::{MAX_CODE_ATTEMPTS, code_matches, generate_code, hash_code};
use keys::KeyRing;
use password::PasswordHasher;
use std::sync::Arc;
use std::time::Duration;
use tokens::{AccessTokenClaims, IdTokenClaims, new_refresh_token, refresh_token_digest};

const SIGN_UP_CODE: &str = "sign_up";

/// Settings of the embedded provider.
#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    /// `iss` of the tokens: the public URL of authgate.
    pub issuer: String,
    /// `client_id` / `aud` of the tokens.
    pub client_id: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub sign_up_code_ttl: Duration,
    /// How many argon2 hashes run at once (defaults to the CPU count).
    pub hash_concurrency: usize,
}

/// The embedded provider.
pub struct EmbeddedProvider {
    config: EmbeddedConfig,
    store: Store,
    keys: Arc<KeyRing>,
    hasher: PasswordHasher,
    notifier: Arc<dyn Notifier>,
}

impl EmbeddedProvider {
    /// Load (or create) the signing keys and get ready to serve.
    pub async fn new(
        config: EmbeddedConfig,
        store: Store,
        notifier: Arc<dyn Notifier>,
    ) -> Result<Self, AuthError> {
        let publish_retired = config.access_token_ttl.as_millis() as i64 + 5 * 60 * 1000;
        let keys = Arc::new(KeyRing::load(store.clone(), publish_retired).await?);
        let hasher = PasswordHasher::new(config.hash_concurrency)?;
        Ok(Self {
            config,
            store,
            keys,
            hasher,
            notifier,
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

    async fn send_sign_up_code(&self, user: &EmbeddedUser) -> Result<(), AuthError> {
        let code = generate_code();
        let now = now_millis();
        let ttl = self.config.sign_up_code_ttl.as_millis() as i64;
        self.store
            .put_code(
                &user.sub,
                SIGN_UP_CODE,
                &hash_code(&user.sub, SIGN_UP_CODE, &code),
                now + ttl,
                now,
            )
            .await?;
        self.notify(Notification::SignUpCode {
            to: user.email.clone(),
            name: user.name.clone(),
            code: Secret::new(code),
        })
        .await;
        Ok(())
    }

    /// Check a mailed code for `(sub, purpose)`. Every check spends one of
    /// the code's tries; the last wrong one deletes it. A match consumes
    /// nothing: the caller completes the operation and deletes the code.
    async fn check_code(&self, sub: &str, purpose: &str, code: &Secret) -> Result<(), AuthError> {
        let now = now_millis();
        let Some(stored) = self
            .store
            .take_code_attempt(sub, purpose, MAX_CODE_ATTEMPTS, now)
            .await?
        else {
            self.store.delete_code(sub, purpose).await?;
            return Err(AuthError::CodeExpired);
        };
        if code_matches(sub, purpose, code.expose(), &stored.code_hash) {
            return Ok(());
        }
        if stored.attempts >= MAX_CODE_ATTEMPTS {
            self.store.delete_code(sub, purpose).await?;
        }
        Err(AuthError::CodeMismatch)
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
        })
    }

    /// Start a session: a new refresh family and its first tokens.
    async fn start_session(&self, user: &EmbeddedUser) -> Result<Authenticated, AuthError> {
        let now = now_millis();
        let family_id = uuid::Uuid::new_v4().to_string();
        let refresh = new_refresh_token();
        let auth_time = now / 1000;
        self.store
            .create_refresh_family(
                NewFamily {
                    family_id: &family_id,
                    sub: &user.sub,
                    auth_time,
                    token_hash: &refresh_token_digest(&refresh),
                    expires_at: now + self.config.refresh_token_ttl.as_millis() as i64,
                },
                now,
            )
            .await?;
        self.mint(user, &family_id, auth_time, Some(refresh))
    }
}

fn provider_user(user: &EmbeddedUser) -> ProviderUser {
    ProviderUser {
        sub: user.sub.clone(),
        email: user.email.clone(),
        name: user.name.clone(),
    }
}

#[async_trait]
impl IdentityProvider for EmbeddedProvider {
    fn name(&self) -> &'static str {
        "embedded"
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

    fn tracks_sessions(&self) -> bool {
        true
    }

    async fn jwks(&self) -> Result<serde_json::Value, AuthError> {
        Ok(self.keys.jwks())
    }

    async fn sign_up(&self, request: SignUpRequest) -> Result<SignUpOutcome, AuthError> {
        if self
            .store
            .embedded_user_by_email(&request.email)
            .await?
            .is_some()
        {
            return Err(AuthError::UsernameExists);
        }
        let password_hash = self.hasher.hash(&request.password).await?;
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
        if user.status == UserStatus::Confirmed {
            return Err(AuthError::AlreadyConfirmed);
        }
        self.check_code(&user.sub, SIGN_UP_CODE, code).await?;
        if !self
            .store
            .confirm_embedded_user(&user.sub, SIGN_UP_CODE, now_millis())
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
        if user.status == UserStatus::Unconfirmed {
            return Err(AuthError::UserNotConfirmed);
        }
        Ok(AuthStep::Authenticated(self.start_session(&user).await?))
    }

    async fn respond_to_challenge(
        &self,
        _response: ChallengeResponse,
    ) -> Result<AuthStep, AuthError> {
        // The embedded provider has not issued any challenge session yet, so
        // no session can be valid.
        Err(AuthError::InvalidSession)
    }

    async fn refresh(&self, refresh_token: &Secret) -> Result<Authenticated, AuthError> {
        let now = now_millis();
        let new_token = new_refresh_token();
        let outcome = self
            .store
            .rotate_refresh_token(
                &refresh_token_digest(refresh_token.expose()),
                &refresh_token_digest(&new_token),
                now,
            )
            .await?;
        match outcome {
            RotateOutcome::Rotated {
                family_id,
                sub,
                auth_time,
            } => {
                let user = self.store.embedded_user_by_sub(&sub).await?;
                match user {
                    Some(user) if user.disabled_at.is_none() => {
                        self.mint(&user, &family_id, auth_time, Some(new_token))
                    }
                    _ => {
                        self.store
                            .revoke_family(&family_id, "user_disabled", now)
                            .await?;
                        Err(AuthError::InvalidRefreshToken)
                    }
                }
            }
            RotateOutcome::Reused { family_id, sub } => {
                tracing::warn!(%family_id, %sub, "refresh token reuse: session revoked");
                Err(AuthError::RefreshTokenReused)
            }
            RotateOutcome::Unknown | RotateOutcome::Revoked => Err(AuthError::InvalidRefreshToken),
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

    async fn check_session(&self, claims: &AccessClaims) -> Result<(), AuthError> {
        let Some(family_id) = claims.origin_jti.as_deref() else {
            return Err(AuthError::TokenRevoked);
        };
        if self
            .store
            .family_is_live(family_id, &claims.sub, now_millis())
            .await?
        {
            Ok(())
        } else {
            Err(AuthError::TokenRevoked)
        }
    }
}
