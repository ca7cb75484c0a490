//! Account operations around a sign-in: TOTP enrolment for a signed-in user,
//! password reset by mailed code, password change, and password
//! re-verification for sensitive operations. Every one is an audit event.

use crate::services::auth::{AuthService, Caller};
use crate::services::events::RequestMeta;
use authgate_core::policy::normalize_email;
use authgate_core::{AuthError, Secret, TotpEnrolment, now_millis};

impl AuthService {
    pub async fn begin_totp_enrolment(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
    ) -> Result<TotpEnrolment, AuthError> {
        let result = self
            .provider
            .begin_totp_enrolment(&caller.claims, &caller.token)
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

    pub async fn finish_totp_enrolment(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        code: &Secret,
    ) -> Result<(), AuthError> {
        let result = if code.expose().trim().is_empty() {
            Err(AuthError::invalid_field("code", "code must not be empty"))
        } else {
            match self
                .provider
                .finish_totp_enrolment(&caller.claims, &caller.token, code)
                .await
            {
                Ok(()) => match self.subject(caller).await {
                    Ok(user) => self
                        .store
                        .set_app_user_mfa(user.id, true, now_millis())
                        .await
                        .map_err(AuthError::from),
                    Err(err) => Err(err),
                },
                Err(err) => Err(err),
            }
        };
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
    pub async fn request_password_reset(
        &self,
        meta: &RequestMeta,
        email: &str,
    ) -> Result<(), AuthError> {
        let email = normalize_email("email", email)?;
        let result = self.provider.forgot_password(&email).await;
        self.events
            .record("password_reset_request", meta, Some(&email), None, &result)
            .await;
        result
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
            if !self.provider.tracks_sessions() {
                // The provider cannot sign out "all but this session": authgate
                // ends the others at its boundary (their tokens and refreshes).
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
