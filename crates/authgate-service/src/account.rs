//! Account operations around a sign-in: TOTP enrolment for a signed-in user,
//! password reset by mailed code, password change, and password
//! re-verification for sensitive operations. Every one is an audit event.

use crate::auth::{AuthService, Caller};
use crate::events::RequestMeta;
use authgate_core::policy::normalize_email;
use authgate_core::{AuthError, Secret, SecurityEvent, TotpEnrolment, now_millis};
use authgate_store::recovery::Recovery;

impl AuthService {
    /// Is an authenticator active for the caller? The provider's record.
    async fn totp_active(&self, caller: &Caller) -> Result<bool, AuthError> {
        Ok(self
            .provider
            .admin_get_user(&caller.claims.sub)
            .await?
            .mfa_enabled)
    }

    /// A sensitive change needs the password re-verified within
    /// `AUTHGATE_PASSWORD_VERIFICATION_TTL`.
    async fn require_recent_verification(&self, caller: &Caller) -> Result<(), AuthError> {
        let until = self
            .store
            .password_verified_until(self.provider.name(), &caller.claims.sub)
            .await?;
        match until {
            Some(until) if until > now_millis() => Ok(()),
            _ => Err(AuthError::ReverificationRequired),
        }
    }

    /// End the caller's other sessions, in the provider and at authgate's
    /// boundary.
    pub(crate) async fn end_other_sessions(&self, caller: &Caller) -> Result<(), AuthError> {
        self.provider.revoke_other_sessions(&caller.claims).await?;
        self.end_other_sessions_at_boundary(caller).await
    }

    /// For a provider that does not track sessions: end the caller's other
    /// sessions at authgate's boundary (their tokens and refreshes).
    async fn end_other_sessions_at_boundary(&self, caller: &Caller) -> Result<(), AuthError> {
        if !self.provider.tracks_sessions() {
            let keep = caller.claims.origin_jti.as_deref().unwrap_or_default();
            self.store
                .revoke_other_provider_sessions(
                    self.provider.name(),
                    &caller.claims.sub,
                    keep,
                    now_millis(),
                )
                .await?;
        }
        Ok(())
    }

    /// A new authenticator secret. Over an active authenticator, only after
    /// a recent password verification: a bearer token alone never replaces
    /// the factor that protects the account.
    pub async fn begin_totp_enrolment(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
    ) -> Result<TotpEnrolment, AuthError> {
        let result = async {
            if self.totp_active(caller).await? {
                self.require_recent_verification(caller).await?;
            }
            self.provider
                .begin_totp_enrolment(&caller.claims, &caller.token)
                .await
        }
        .await;
        self.events
            .record(
                "totp_enrolment_start",
                meta,
                None,
                Some(&caller.claims.sub),
                &result,
            )
            .await;
        result
    }

    /// Activate the new authenticator with a code of it; answers a fresh set
    /// of recovery codes. Replacing an active one also needs the recent
    /// password verification and `current` (a code of the current
    /// authenticator, or a recovery code); then the user's other sessions
    /// end and the owner is mailed a notice.
    pub async fn finish_totp_enrolment(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        code: &Secret,
        current: Option<&Secret>,
    ) -> Result<Vec<Secret>, AuthError> {
        let result = async {
            if code.expose().trim().is_empty() {
                return Err(AuthError::invalid_field("code", "code must not be empty"));
            }
            let account = self.provider.admin_get_user(&caller.claims.sub).await?;
            let replacing = account.mfa_enabled;
            let mut spend = None;
            if replacing {
                self.require_recent_verification(caller).await?;
                let current = current.filter(|c| !c.expose().trim().is_empty()).ok_or_else(|| {
                    AuthError::invalid_field(
                        "currentCode",
                        "an authenticator is active: give a code of it, or a recovery code, as currentCode",
                    )
                })?;
                if self.recovery_code_unused(&caller.claims.sub, current).await? {
                    spend = Some(current);
                } else if authgate_embedded::codes::normalize_recovery_code(current.expose())
                    .is_some()
                {
                    return Err(AuthError::CodeMismatch);
                } else {
                    self.provider
                        .verify_current_totp(&caller.claims, &caller.token, current)
                        .await?;
                }
            }
            self.provider
                .finish_totp_enrolment(&caller.claims, &caller.token, code)
                .await?;
            if let Some(current) = spend {
                self.spend_recovery_code(&caller.claims.sub, &account.email, current)
                    .await?;
            }
            let user = self.subject(caller).await?;
            self.store
                .set_app_user_mfa(user.id, true, now_millis())
                .await?;
            let codes = self.issue_recovery_codes(&caller.claims.sub).await?;
            if replacing {
                self.end_other_sessions(caller).await?;
                self.notice(&account.email, SecurityEvent::AuthenticatorChanged)
                    .await;
            }
            Ok(codes)
        }
        .await;
        self.events
            .record(
                "totp_enrolment_finish",
                meta,
                None,
                Some(&caller.claims.sub),
                &result,
            )
            .await;
        result
    }

    /// Mail a reset code. The same answer whether or not the account exists.
    /// Within the cooling-off period after the authenticator was replaced,
    /// no code goes out (the owner is mailed why) unless `recovery_code` is
    /// one of the account's recovery codes (then spent).
    pub async fn request_password_reset(
        &self,
        meta: &RequestMeta,
        email: &str,
        recovery_code: Option<&Secret>,
    ) -> Result<(), AuthError> {
        let email = normalize_email("email", email)?;
        let result = async {
            if let Some(account) = self.provider.admin_find_by_email(&email).await?
                && let Some(until) = self.cooling_off(&account.sub, Recovery::MfaReset).await?
            {
                let unlocked = match recovery_code {
                    Some(code) => self.spend_recovery_code(&account.sub, &email, code).await?,
                    None => false,
                };
                if !unlocked {
                    self.notice(
                        &email,
                        SecurityEvent::PasswordResetHeld {
                            until: until.clone(),
                        },
                    )
                    .await;
                    return Err(AuthError::RecoveryCooldown {
                        message: "a password reset soon after the authenticator was replaced"
                            .into(),
                        until,
                    });
                }
            }
            self.provider.forgot_password(&email).await
        }
        .await;
        self.events
            .record("password_reset_request", meta, Some(&email), None, &result)
            .await;
        match result {
            // Held back: the owner was told why; the caller learns nothing.
            Err(AuthError::RecoveryCooldown { .. }) => Ok(()),
            other => other,
        }
    }

    /// When the cooling-off period after the account's last `after` ends
    /// (RFC 3339), if it has not ended yet.
    pub(crate) async fn cooling_off(
        &self,
        sub: &str,
        after: Recovery,
    ) -> Result<Option<String>, AuthError> {
        let recoveries = self.store.recoveries(self.provider.name(), sub).await?;
        let at = match after {
            Recovery::PasswordReset => recoveries.password_reset_at,
            Recovery::MfaReset => recoveries.mfa_reset_at,
        };
        let ends = at.map(|at| at + self.security.mfa_reset_cooldown.as_millis() as i64);
        Ok(ends
            .filter(|ends| *ends > now_millis())
            .map(|ends| authgate_core::rfc3339(ends / 1000)))
    }

    pub async fn confirm_password_reset(
        &self,
        meta: &RequestMeta,
        email: &str,
        code: &Secret,
        new_password: &Secret,
    ) -> Result<(), AuthError> {
        let email = normalize_email("email", email)?;
        let result = async {
            if code.expose().trim().is_empty() {
                return Err(AuthError::invalid_field("code", "code must not be empty"));
            }
            self.check_new_password(new_password)?;
            self.provider
                .confirm_forgot_password(&email, code, new_password)
                .await?;
            // The password is set: what follows must not turn the answer
            // into an error (the cooling-off record is logged when it fails).
            match self.provider.admin_find_by_email(&email).await {
                Ok(Some(account)) => {
                    if let Err(err) = self
                        .store
                        .record_recovery(
                            self.provider.name(),
                            &account.sub,
                            Recovery::PasswordReset,
                            now_millis(),
                        )
                        .await
                    {
                        tracing::error!(error = %err, "password reset not recorded: no cooling-off period");
                    }
                    self.notice(&email, SecurityEvent::PasswordReset).await;
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::error!(error = %err, "password reset not recorded: no cooling-off period");
                }
            }
            if !self.provider.tracks_sessions() {
                // The provider keeps the old sessions; authgate ends them at its boundary.
                for user in self
                    .store
                    .app_users_by_email(self.provider.name(), &email)
                    .await?
                {
                    self.store
                        .revoke_provider_sessions(
                            self.provider.name(),
                            &user.provider_sub,
                            now_millis(),
                        )
                        .await?;
                }
            }
            Ok(())
        }
        .await;
        self.events
            .record("password_reset_confirm", meta, Some(&email), None, &result)
            .await;
        result
    }

    pub async fn change_password(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        current: &Secret,
        new_password: &Secret,
    ) -> Result<(), AuthError> {
        let result = async {
            self.check_new_password(new_password)?;
            self.provider
                .change_password(&caller.claims, &caller.token, current, new_password)
                .await?;
            // The provider cannot sign out "all but this session": authgate
            // ends the others at its boundary.
            self.end_other_sessions_at_boundary(caller).await
        }
        .await;
        self.events
            .record(
                "password_change",
                meta,
                None,
                Some(&caller.claims.sub),
                &result,
            )
            .await;
        result
    }

    /// Prove the password again; answers until when the proof holds (Unix ms).
    pub async fn verify_password(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        password: &Secret,
    ) -> Result<i64, AuthError> {
        let result = async {
            self.provider
                .verify_password(&caller.claims, &caller.token, password)
                .await?;
            let until = now_millis() + self.verification_ttl.as_millis() as i64;
            self.store
                .record_password_verification(self.provider.name(), &caller.claims.sub, until)
                .await?;
            Ok(until)
        }
        .await;
        self.events
            .record(
                "password_verification",
                meta,
                None,
                Some(&caller.claims.sub),
                &result,
            )
            .await;
        result
    }
}
