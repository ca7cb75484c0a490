//! The authentication service: input rules that hold for every provider
//! (email shape, password policy), the provider call, the app user behind the
//! provider subject, and an audit event for every outcome.

use crate::events::{EventRecorder, RequestMeta};
use authgate_core::policy::{PasswordPolicy, normalize_email};
use authgate_core::provider::ChallengeResponse;
use authgate_core::token::unverified_claims;
use authgate_core::{
    AccessClaims, AuthError, AuthStep, Authenticated, ChallengeKind, ChallengeStep,
    IdentityProvider, Notifier, Secret, SignUpOutcome, SignUpRequest, TokenSet, now_millis,
};
use authgate_store::sessions::SessionState;
use authgate_store::{AppUser, Store};
use std::sync::Arc;

/// A signed-in session as the contract returns it.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub tokens: TokenSet,
    pub user: AppUser,
    /// Unix seconds at which the access token expires.
    pub expires_at: i64,
    /// Recovery codes, when this step enrolled an authenticator (shown once).
    pub recovery_codes: Vec<Secret>,
}

/// What a sign-in produced.
#[derive(Debug, Clone)]
// A return value, moved once to its renderer: boxing the session buys nothing.
#[allow(clippy::large_enum_variant)]
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
    pub(crate) provider: Arc<dyn IdentityProvider>,
    pub(crate) store: Store,
    pub(crate) policy: PasswordPolicy,
    pub(crate) events: EventRecorder,
    /// How long a password re-verification counts.
    pub(crate) verification_ttl: std::time::Duration,
    /// Mail that authgate sends itself whatever the provider (temporary passwords).
    pub(crate) notifier: Arc<dyn Notifier>,
    /// Signs machine-client tokens.
    pub(crate) machine: Arc<crate::clients::MachineTokens>,
    pub(crate) policies: Arc<crate::authz::PolicyCache>,
    pub(crate) forward_rules: Arc<crate::forward::RouteRules>,
    pub(crate) security: Arc<SecurityOptions>,
}

/// The account-protection settings of the services.
#[derive(Clone)]
pub struct SecurityOptions {
    /// `AUTHGATE_SIGN_UP_REVEALS_EXISTING`: a sign-up for a taken address
    /// answers 409 (Cognito's behaviour) instead of the generic answer.
    pub sign_up_reveals_existing: bool,
    /// `AUTHGATE_MFA_RESET_COOLDOWN`: a lost-authenticator reset after a
    /// mailed password reset (and the reverse) needs a recovery code within
    /// this period.
    pub mfa_reset_cooldown: std::time::Duration,
    /// The installation's key for decoy answers (see `decoy_sub`).
    pub decoy_key: [u8; 32],
}

/// The authorization half of an [`AuthService`].
pub struct AuthzParts {
    pub machine: crate::clients::MachineTokens,
    pub forward_rules: crate::forward::RouteRules,
}

impl AuthService {
    pub fn new(
        provider: Arc<dyn IdentityProvider>,
        store: Store,
        policy: PasswordPolicy,
        verification_ttl: std::time::Duration,
        notifier: Arc<dyn Notifier>,
        authz: AuthzParts,
        security: SecurityOptions,
    ) -> Self {
        let events = EventRecorder::spawn(store.clone(), provider.name());
        Self {
            provider,
            store,
            policy,
            events,
            verification_ttl,
            notifier,
            machine: Arc::new(authz.machine),
            policies: Default::default(),
            forward_rules: Arc::new(authz.forward_rules),
            security: Arc::new(security),
        }
    }

    pub fn provider(&self) -> &Arc<dyn IdentityProvider> {
        &self.provider
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub fn events(&self) -> &EventRecorder {
        &self.events
    }

    /// Can this instance serve? The database answers.
    pub async fn ready(&self) -> Result<(), AuthError> {
        self.store
            .ping()
            .await
            .map_err(|_| AuthError::StoreUnavailable)
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
        let phone = clean(phone)
            .map(|p| crate::recovery::normalize_phone(&p))
            .transpose()?;
        let result = async {
            self.policy.check(password.expose())?;
            self.provider
                .sign_up(SignUpRequest {
                    email: email.clone(),
                    password,
                    name: clean(name),
                    phone,
                })
                .await
        }
        .await;
        let sub = result.as_ref().ok().map(|o| o.user_sub.as_str());
        self.events
            .record("sign_up", meta, Some(&email), sub, &result)
            .await;
        match result {
            // A taken address answers like a new sign-up (the audit row above
            // says what happened); its owner gets a notice instead of a code.
            Err(AuthError::UsernameExists) if !self.security.sign_up_reveals_existing => {
                self.notice(&email, authgate_core::SecurityEvent::SignUpAttempt)
                    .await;
                Ok(SignUpOutcome {
                    user_sub: self.decoy_sub(&email),
                    requires_confirmation: true,
                    delivery: Some(authgate_core::CodeDelivery {
                        medium: "EMAIL",
                        destination: authgate_core::policy::mask_email(&email),
                    }),
                })
            }
            other => other,
        }
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
        let step = self.provider.sign_in(&email, password).await;
        let result = self.next_step(step).await;
        self.events
            .record(
                "sign_in",
                meta,
                Some(&email),
                signed_in_sub(&result),
                &result,
            )
            .await;
        result
    }

    /// Answer a challenge of a sign-in: a Session or the next Challenge.
    pub async fn respond_to_challenge(
        &self,
        meta: &RequestMeta,
        kind: ChallengeKind,
        email: &str,
        session: Secret,
        answer: Secret,
    ) -> Result<SignInResult, AuthError> {
        let email = normalize_email("email", email)?;
        let result = async {
            if session.is_empty() {
                return Err(AuthError::invalid_field(
                    "session",
                    "session must not be empty",
                ));
            }
            match kind {
                ChallengeKind::NewPasswordRequired => self.check_new_password(&answer)?,
                ChallengeKind::TotpRequired | ChallengeKind::MfaSetupRequired => {
                    if answer.expose().trim().is_empty() {
                        return Err(AuthError::invalid_field("code", "code must not be empty"));
                    }
                }
            }
            let step = self
                .provider
                .respond_to_challenge(ChallengeResponse {
                    kind,
                    email: email.clone(),
                    session,
                    answer,
                })
                .await;
            let recovery_code = matches!(
                &step,
                Ok(AuthStep::Authenticated(done))
                    if done.second_factor == Some(authgate_core::SecondFactor::RecoveryCode)
            );
            let mut result = self.next_step(step).await;
            if let Ok(SignInResult::Session(session)) = &mut result {
                if kind == ChallengeKind::MfaSetupRequired {
                    session.recovery_codes = self
                        .issue_recovery_codes(&session.user.provider_sub)
                        .await?;
                }
                if recovery_code {
                    self.recovery_code_used_notice(&session.user.provider_sub, &email)
                        .await?;
                    self.events
                        .record(
                            "recovery_code_sign_in",
                            meta,
                            Some(&email),
                            Some(&session.user.provider_sub),
                            &Ok::<(), AuthError>(()),
                        )
                        .await;
                }
            }
            result
        }
        .await;
        let event = match kind {
            ChallengeKind::NewPasswordRequired => "challenge_new_password",
            ChallengeKind::TotpRequired => "challenge_totp",
            ChallengeKind::MfaSetupRequired => "challenge_mfa_setup",
        };
        self.events
            .record(event, meta, Some(&email), signed_in_sub(&result), &result)
            .await;
        result
    }

    async fn next_step(
        &self,
        step: Result<AuthStep, AuthError>,
    ) -> Result<SignInResult, AuthError> {
        match step? {
            AuthStep::Authenticated(done) => {
                self.session(done, true).await.map(SignInResult::Session)
            }
            AuthStep::Challenge(challenge) => Ok(SignInResult::Challenge(challenge)),
        }
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
                Ok(done) => match self.refreshed_session_is_live(&done).await {
                    Ok(()) => self.session(done, false).await,
                    Err(err) => Err(err),
                },
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
        let mut result = self.provider.sign_out(&caller.claims, &caller.token).await;
        if result.is_ok() && !self.provider.tracks_sessions() {
            result = self
                .store
                .revoke_provider_sessions(self.provider.name(), &caller.claims.sub, now_millis())
                .await
                .map_err(AuthError::from);
        }
        self.events
            .record("sign_out", meta, None, Some(&caller.claims.sub), &result)
            .await;
        result
    }

    /// The app user of a validated caller, created on first sight. A user
    /// without a platform role stored in authgate takes it from the token's
    /// groups (`cognito:groups`): the first group that names a platform role
    /// of the catalog. Groups are read per request, never stored, so a
    /// change in Cognito counts at the next token.
    pub async fn subject(&self, caller: &Caller) -> Result<AppUser, AuthError> {
        let user = self
            .store
            .find_or_create_app_user(
                self.provider.name(),
                &caller.claims.sub,
                caller.claims.email.as_deref(),
                caller.claims.name.as_deref(),
                now_millis(),
            )
            .await?;
        self.with_group_role(user, caller).await
    }

    /// The platform role from the token's groups, for a user without one.
    pub(crate) async fn with_group_role(
        &self,
        mut user: AppUser,
        caller: &Caller,
    ) -> Result<AppUser, AuthError> {
        if user.platform_role.is_none() {
            for group in &caller.claims.groups {
                if self
                    .store
                    .role(authgate_store::catalog::RoleScope::Platform, group)
                    .await?
                    .is_some()
                {
                    user.platform_role = Some(group.clone());
                    break;
                }
            }
        }
        Ok(user)
    }

    /// Is the session behind validated claims still live? The provider
    /// decides when it tracks sessions; otherwise authgate's own record of
    /// the sessions it started and of sign-outs does.
    pub async fn check_session(&self, claims: &AccessClaims) -> Result<(), AuthError> {
        self.provider.check_session(claims).await?;
        if self.signed_out_through_authgate(claims).await? {
            return Err(AuthError::TokenRevoked);
        }
        Ok(())
    }

    /// A provider that does not track sign-outs may still refresh a session
    /// that was signed out through authgate: refuse that here.
    async fn refreshed_session_is_live(&self, done: &Authenticated) -> Result<(), AuthError> {
        match unverified_claims(done.tokens.access_token.expose()) {
            Some(claims) if self.signed_out_through_authgate(&claims).await? => {
                Err(AuthError::InvalidRefreshToken)
            }
            _ => Ok(()),
        }
    }

    /// For providers that do not track sessions: was the session of these
    /// claims signed out through authgate? (Always false for the others.)
    async fn signed_out_through_authgate(&self, claims: &AccessClaims) -> Result<bool, AuthError> {
        if self.provider.tracks_sessions() {
            return Ok(false);
        }
        let state = self
            .store
            .provider_session_state(
                self.provider.name(),
                claims.origin_jti.as_deref(),
                &claims.sub,
            )
            .await?;
        Ok(signed_out(state, claims))
    }

    /// The session of an authentication. After a sign-in (not a refresh) the
    /// user's MFA state is read from the provider and recorded, and
    /// invitations to the address bind.
    async fn session(
        &self,
        done: Authenticated,
        signed_in: bool,
    ) -> Result<SessionView, AuthError> {
        if !self.provider.tracks_sessions()
            && let Some(claims) = unverified_claims(done.tokens.access_token.expose())
            && let Some(session_id) = claims.origin_jti.as_deref()
        {
            self.store
                .record_provider_session(
                    self.provider.name(),
                    session_id,
                    &claims.sub,
                    now_millis(),
                )
                .await?;
        }
        let (user, new_address) = self
            .store
            .upsert_app_user(
                self.provider.name(),
                &done.user.sub,
                // An unverified address never enters the context.
                done.user.email_verified.then_some(done.user.email.as_str()),
                done.user.name.as_deref(),
                now_millis(),
            )
            .await?;
        if signed_in || new_address {
            self.bind_invitations(&user).await?;
        }
        if signed_in {
            match self.provider.admin_get_user(&done.user.sub).await {
                Ok(account) if account.mfa_enabled != user.mfa_totp => {
                    self.store
                        .set_app_user_mfa(user.id, account.mfa_enabled, now_millis())
                        .await?;
                }
                Ok(_) => {}
                // The session stands; the recorded MFA state stays as it was.
                Err(err) => tracing::warn!(error = %err, "MFA state not refreshed at sign-in"),
            }
        }
        Ok(SessionView {
            expires_at: now_millis() / 1000 + done.tokens.expires_in as i64,
            tokens: done.tokens,
            user,
            recovery_codes: Vec::new(),
        })
    }
}

impl AuthService {
    /// The password policy, for a password sent as `newPassword`.
    pub(crate) fn check_new_password(&self, password: &Secret) -> Result<(), AuthError> {
        self.policy
            .check(password.expose())
            .map_err(|err| match err {
                AuthError::InvalidPassword { rule } => AuthError::InvalidRequest {
                    field: Some("newPassword".into()),
                    message: format!("the password does not meet the policy: {rule}"),
                },
                other => other,
            })
    }
}

/// Was the session of these claims signed out? A session authgate started
/// knows its own state; any other is judged by its authentication time
/// against the subject's last sign-out.
fn signed_out(state: SessionState, claims: &AccessClaims) -> bool {
    match state {
        SessionState::Live => false,
        SessionState::Revoked => true,
        SessionState::Unknown { signed_out_at } => signed_out_at.is_some_and(|at| {
            let authenticated = if claims.auth_time > 0 {
                claims.auth_time
            } else {
                claims.iat
            };
            authenticated * 1000 <= at
        }),
    }
}

fn signed_in_sub(result: &Result<SignInResult, AuthError>) -> Option<&str> {
    match result {
        Ok(SignInResult::Session(s)) => Some(s.user.provider_sub.as_str()),
        _ => None,
    }
}

/// Trim optional text; blank becomes `None`.
fn clean(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}
