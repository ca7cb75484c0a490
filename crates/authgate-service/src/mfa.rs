//! TOTP authenticators and recovery codes for a signed-in user: enrolment
//! (over an active authenticator only after a recent password verification
//! and with the current factor), a new set of recovery codes, how many are
//! left. The lost-authenticator reset is in [`crate::mfa_reset`].

use crate::account::AccountService;
use crate::events::{EventRecorder, RequestMeta};
use crate::login::LoginTransactions;
use crate::notices::Notices;
use crate::principal::Caller;
use crate::protection::{Factor, Protection};
use crate::recovery_codes::RecoveryCodes;
use crate::sessions::SessionService;
use crate::subjects::Subjects;
use authgate_core::EventKind;
use authgate_core::{
    AuthError, Notifier, Provider, Secret, SecurityEvent, TotpEnrolment, now_millis,
};
use authgate_store::Store;
use std::sync::Arc;

#[derive(Clone)]
pub struct MfaService {
    pub(crate) provider: Provider,
    pub(crate) store: Store,
    pub(crate) events: EventRecorder,
    pub(crate) notifier: Arc<dyn Notifier>,
    pub(crate) notices: Notices,
    pub(crate) recovery_codes: RecoveryCodes,
    pub(crate) sessions: SessionService,
    pub(crate) subjects: Subjects,
    pub(crate) account: AccountService,
    pub(crate) logins: LoginTransactions,
    pub(crate) protection: Protection,
}

impl MfaService {
    /// Is an authenticator active for the caller? The provider's record.
    async fn totp_active(&self, caller: &Caller) -> Result<bool, AuthError> {
        Ok(self
            .provider
            .admin
            .admin_get_user(&caller.claims.sub)
            .await?
            .mfa_enabled)
    }

    /// A new authenticator secret. Over an active authenticator, only after
    /// a recent password verification: a bearer token alone never replaces
    /// the factor that protects the account.
    pub async fn begin_totp_enrolment(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
    ) -> Result<TotpEnrolment, AuthError> {
        caller.require_own_account()?;
        let result = async {
            self.protection.throttle.account(&caller.claims.sub).await?;
            if self.totp_active(caller).await? {
                self.account.require_recent_verification(caller).await?;
            }
            self.provider
                .totp
                .begin_totp_enrolment(&caller.claims, &caller.token)
                .await
        }
        .await;
        self.events
            .record(
                EventKind::TotpEnrolmentStart,
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
        caller.require_own_account()?;
        let result = async {
            if code.expose().trim().is_empty() {
                return Err(AuthError::invalid_field("code", "code must not be empty"));
            }
            self.account
                .signed_in_check(caller, Factor::Otp, self.enrol(caller, code, current))
                .await
        }
        .await;
        self.events
            .record(
                EventKind::TotpEnrolmentFinish,
                meta,
                None,
                Some(&caller.claims.sub),
                &result,
            )
            .await;
        result
    }

    /// The checks and effects of [`Self::finish_totp_enrolment`].
    async fn enrol(
        &self,
        caller: &Caller,
        code: &Secret,
        current: Option<&Secret>,
    ) -> Result<Vec<Secret>, AuthError> {
        {
            let account = self
                .provider
                .admin
                .admin_get_user(&caller.claims.sub)
                .await?;
            let replacing = account.mfa_enabled;
            let mut spend = None;
            if replacing {
                self.account.require_recent_verification(caller).await?;
                let current = current.filter(|c| !c.expose().trim().is_empty()).ok_or_else(|| {
                    AuthError::invalid_field(
                        "currentCode",
                        "an authenticator is active: give a code of it, or a recovery code, as currentCode",
                    )
                })?;
                if self
                    .recovery_codes
                    .is_unused(&caller.claims.sub, current)
                    .await?
                {
                    spend = Some(current);
                } else if authgate_embedded::codes::normalize_recovery_code(current.expose())
                    .is_some()
                {
                    return Err(AuthError::CodeMismatch);
                } else {
                    self.provider
                        .totp
                        .verify_current_totp(&caller.claims, &caller.token, current)
                        .await?;
                }
            }
            self.provider
                .totp
                .finish_totp_enrolment(&caller.claims, &caller.token, code)
                .await?;
            if let Some(current) = spend {
                self.recovery_codes
                    .spend(&caller.claims.sub, &account.email, current)
                    .await?;
            }
            let user = self.subjects.subject(caller).await?;
            self.store
                .set_app_user_mfa(user.id, true, now_millis())
                .await?;
            let codes = self.recovery_codes.issue(&caller.claims.sub).await?;
            if replacing {
                self.sessions.end_other_sessions(caller).await?;
                self.notices
                    .notice(&account.email, SecurityEvent::AuthenticatorChanged)
                    .await;
            }
            Ok(codes)
        }
    }

    /// A new set of recovery codes for a signed-in user with an active
    /// authenticator who proves the password.
    pub async fn regenerate_recovery_codes(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        password: &Secret,
    ) -> Result<Vec<Secret>, AuthError> {
        caller.require_own_account()?;
        let result = async {
            self.account.check_caller_password(caller, password).await?;
            let account = self
                .provider
                .admin
                .admin_get_user(&caller.claims.sub)
                .await?;
            if !account.mfa_enabled {
                return Err(AuthError::NoAuthenticator);
            }
            let codes = self.recovery_codes.issue(&caller.claims.sub).await?;
            self.notices
                .notice(&account.email, SecurityEvent::RecoveryCodesRegenerated)
                .await;
            Ok(codes)
        }
        .await;
        self.events
            .record(
                EventKind::RecoveryCodesRegenerate,
                meta,
                None,
                Some(&caller.claims.sub),
                &result,
            )
            .await;
        result
    }

    pub async fn recovery_codes_left(&self, caller: &Caller) -> Result<i64, AuthError> {
        caller.require_own_account()?;
        Ok(self
            .store
            .recovery_codes_left(self.provider.name(), &caller.claims.sub)
            .await?)
    }
}
