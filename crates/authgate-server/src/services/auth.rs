//! The authentication service: input rules that hold for every provider
//! (email shape, password policy), the provider call, the app user behind the
//! provider subject, and an audit event for every outcome.

use crate::services::events::{EventRecorder, RequestMeta};
use authgate_core::policy::{PasswordPolicy, normalize_email};
use authgate_core::{
    AccessClaims, AuthError, AuthStep, Authenticated, ChallengeStep, IdentityProvider, Secret,
    SignUpOutcome, SignUpRequest, TokenSet, now_millis,
};
use authgate_store::{AppUser, Store};
use std::sync::Arc;

/// A signed-in session as the contract returns it.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub tokens: TokenSet,
    pub user: AppUser,
    /// Unix seconds at which the access token expires.
    pub expires_at: i64,
}

/// What a sign-in produced.
#[derive(Debug, Clone)]
pub enum SignInResult {
    Session(SessionView),
    Challenge(ChallengeStep),
}

/// An authenticated caller: the validated claims and the bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub claims: AccessClaims,
    pub token: Secret,
}

#[derive(Clone)]
pub struct AuthService {
    provider: Arc<dyn IdentityProvider>,
    store: Store,
    policy: PasswordPolicy,
    events: EventRecorder,
}

impl AuthService {
    pub fn new(provider: Arc<dyn IdentityProvider>, store: Store, policy: PasswordPolicy) -> Self {
        let events = EventRecorder::spawn(store.clone(), provider.name());
        Self {
            provider,
            store,
            policy,
            events,
        }
    }

    pub fn provider(&self) -> &Arc<dyn IdentityProvider> {
        &self.provider
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn events(&self) -> &EventRecorder {
        &self.events
    }

    pub async fn sign_up(
        &self,
        meta: &RequestMeta,
        email: &str,
        password: Secret,
        name: Option<String>,
        phone: Option<String>,
    ) -> Result<SignUpOutcome, AuthError> {
        let email = normalize_email("email", email)?;
        let result = async {
            self.policy.check(password.expose())?;
            self.provider
                .sign_up(SignUpRequest {
                    email: email.clone(),
                    password,
                    name: clean(name),
                    phone: clean(phone),
                })
                .await
        }
        .await;
        let sub = result.as_ref().ok().map(|o| o.user_sub.as_str());
        self.events
            .record("sign_up", meta, Some(&email), sub, &result)
            .await;
        result
    }

    pub async fn confirm_sign_up(
        &self,
        meta: &RequestMeta,
        email: &str,
        code: &Secret,
    ) -> Result<(), AuthError> {
        let email = normalize_email("email", email)?;
        let result = if code.expose().trim().is_empty() {
            Err(AuthError::invalid_field("code", "code must not be empty"))
        } else {
            self.provider.confirm_sign_up(&email, code).await
        };
        self.events
            .record("sign_up_confirm", meta, Some(&email), None, &result)
            .await;
        result
    }

    pub async fn resend_confirmation(
        &self,
        meta: &RequestMeta,
        email: &str,
    ) -> Result<(), AuthError> {
        let email = normalize_email("email", email)?;
        let result = self.provider.resend_confirmation(&email).await;
        self.events
            .record("sign_up_resend", meta, Some(&email), None, &result)
            .await;
        result
    }

    pub async fn sign_in(
        &self,
        meta: &RequestMeta,
        email: &str,
        password: &Secret,
    ) -> Result<SignInResult, AuthError> {
        let email = normalize_email("email", email)?;
        let result = match self.provider.sign_in(&email, password).await {
            Ok(AuthStep::Authenticated(done)) => {
                self.session(done).await.map(SignInResult::Session)
            }
            Ok(AuthStep::Challenge(challenge)) => Ok(SignInResult::Challenge(challenge)),
            Err(err) => Err(err),
        };
        let sub = match &result {
            Ok(SignInResult::Session(s)) => Some(s.user.provider_sub.as_str()),
            _ => None,
        };
        self.events
            .record("sign_in", meta, Some(&email), sub, &result)
            .await;
        result
    }

    pub async fn refresh(
        &self,
        meta: &RequestMeta,
        refresh_token: &Secret,
    ) -> Result<SessionView, AuthError> {
        let result = if refresh_token.is_empty() {
            Err(AuthError::invalid_field(
                "refreshToken",
                "refreshToken must not be empty",
            ))
        } else {
            match self.provider.refresh(refresh_token).await {
                Ok(done) => self.session(done).await,
                Err(err) => Err(err),
            }
        };
        let sub = result.as_ref().ok().map(|s| s.user.provider_sub.as_str());
        self.events
            .record("refresh", meta, None, sub, &result)
            .await;
        result
    }

    pub async fn sign_out(&self, meta: &RequestMeta, caller: &Caller) -> Result<(), AuthError> {
        let result = self.provider.sign_out(&caller.claims, &caller.token).await;
        self.events
            .record("sign_out", meta, None, Some(&caller.claims.sub), &result)
            .await;
        result
    }

    /// The app user of a validated caller, created on first sight.
    pub async fn subject(&self, caller: &Caller) -> Result<AppUser, AuthError> {
        Ok(self
            .store
            .find_or_create_app_user(
                self.provider.name(),
                &caller.claims.sub,
                caller.claims.email.as_deref(),
                caller.claims.name.as_deref(),
                now_millis(),
            )
            .await?)
    }

    /// Is the session behind validated claims still live?
    pub async fn check_session(&self, claims: &AccessClaims) -> Result<(), AuthError> {
        self.provider.check_session(claims).await
    }

    async fn session(&self, done: Authenticated) -> Result<SessionView, AuthError> {
        let user = self
            .store
            .find_or_create_app_user(
                self.provider.name(),
                &done.user.sub,
                Some(&done.user.email),
                done.user.name.as_deref(),
                now_millis(),
            )
            .await?;
        Ok(SessionView {
            expires_at: now_millis() / 1000 + done.tokens.expires_in as i64,
            tokens: done.tokens,
            user,
        })
    }
}

/// Trim optional text; blank becomes `None`.
fn clean(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}
