//! The account of a person: password reset by mailed code (held back in the
//! cooling-off period after an authenticator was replaced), password change,
//! password re-verification for sensitive operations, the account record,
//! and identifier recovery by phone (the answer never says whether anything
//! matched). Every operation is an audit event.

use crate::events::{EventRecorder, RequestMeta};
use crate::notices::Notices;
use crate::principal::Caller;
use crate::protection::{Factor, Protection};
use crate::recovery_codes::RecoveryCodes;
use crate::sessions::SessionService;
use authgate_core::EventKind;
use authgate_core::policy::{PasswordPolicy, normalize_email, normalize_phone};
use authgate_core::{
    AuthError, Notification, Notifier, Provider, ProviderAccount, Secret, SecurityEvent, now_millis,
};
use authgate_store::Store;
use authgate_store::recovery::Recovery;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct AccountService {
    pub(crate) provider: Provider,
    pub(crate) store: Store,
    pub(crate) events: EventRecorder,
    pub(crate) notifier: Arc<dyn Notifier>,
    pub(crate) policy: PasswordPolicy,
    /// How long a password re-verification counts.
    pub(crate) verification_ttl: Duration,
    pub(crate) notices: Notices,
    pub(crate) recovery_codes: RecoveryCodes,
    pub(crate) sessions: SessionService,
    pub(crate) protection: Protection,
}

/// The identifier the caller's own password and code checks count under.
pub(crate) fn signed_in_identifier(caller: &Caller) -> String {
    crate::protection::signed_in_identifier(&caller.claims.sub)
}

impl AccountService {
    /// The account of an authenticated caller (name, email, phone).
    pub async fn caller_account(&self, caller: &Caller) -> Result<ProviderAccount, AuthError> {
        caller.require_own_account()?;
        self.provider.admin.admin_get_user(&caller.claims.sub).await
    }

    /// A sensitive change needs the password re-verified within
    /// `AUTHGATE_PASSWORD_VERIFICATION_TTL`.
    pub(crate) async fn require_recent_verification(
        &self,
        caller: &Caller,
    ) -> Result<(), AuthError> {
        let until = self
            .store
            .password_verified_until(self.provider.name(), &caller.claims.sub)
            .await?;
        match until {
            Some(until) if until > now_millis() => Ok(()),
            _ => Err(AuthError::ReverificationRequired),
        }
    }

    /// A check of the caller's own password or code: charged to the
    /// caller's `account` budget and counted by the lockout under the
    /// caller (a token holder guessing is locked out like anyone).
    pub(crate) async fn signed_in_check<T>(
        &self,
        caller: &Caller,
        factor: Factor,
        check: impl Future<Output = Result<T, AuthError>>,
    ) -> Result<T, AuthError> {
        self.protection.throttle.account(&caller.claims.sub).await?;
        self.protection
            .lockout
            .guard(factor, &signed_in_identifier(caller), check)
            .await
    }

    /// The caller proves their password again (limited and counted).
    pub(crate) async fn check_caller_password(
        &self,
        caller: &Caller,
        password: &Secret,
    ) -> Result<(), AuthError> {
        self.signed_in_check(
            caller,
            Factor::Password,
            self.provider
                .account
                .verify_password(&caller.claims, &caller.token, password),
        )
        .await
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
            self.protection.throttle.mail(&email).await?;
            if let Some(account) = self.provider.admin.admin_find_by_email(&email).await?
                && let Some(until) = self
                    .recovery_codes
                    .cooling_off(&account.sub, Recovery::MfaReset)
                    .await?
            {
                let unlocked = match recovery_code {
                    Some(code) => {
                        self.recovery_codes
                            .spend(&account.sub, &email, code)
                            .await?
                    }
                    None => false,
                };
                if !unlocked {
                    self.notices
                        .notice(
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
            self.provider.account.forgot_password(&email).await
        }
        .await;
        self.events
            .record(
                EventKind::PasswordResetRequest,
                meta,
                Some(&email),
                None,
                &result,
            )
            .await;
        match result {
            // Held back: the owner was told why; the caller learns nothing.
            Err(AuthError::RecoveryCooldown { .. }) => Ok(()),
            other => other,
        }
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
            self.policy.check_new_password(new_password.expose())?;
            self.protection
                .lockout
                .guard(
                    Factor::MailedCode,
                    &email,
                    self.provider
                        .account
                        .confirm_forgot_password(&email, code, new_password),
                )
                .await?;
            // A new password ends the lockout of the old one.
            self.protection.lockout.clear(Factor::Password, &email).await;
            // The password is set: what follows must not turn the answer
            // into an error (the cooling-off record is logged when it fails).
            match self.provider.admin.admin_find_by_email(&email).await {
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
                    self.notices.notice(&email, SecurityEvent::PasswordReset).await;
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::error!(error = %err, "password reset not recorded: no cooling-off period");
                }
            }
            if !self.provider.sessions.tracks_sessions() {
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
            .record(
                EventKind::PasswordResetConfirm,
                meta,
                Some(&email),
                None,
                &result,
            )
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
        caller.require_own_account()?;
        let result = async {
            self.policy.check_new_password(new_password.expose())?;
            self.signed_in_check(
                caller,
                Factor::Password,
                self.provider.account.change_password(
                    &caller.claims,
                    &caller.token,
                    current,
                    new_password,
                ),
            )
            .await?;
            // The provider cannot sign out "all but this session": authgate
            // ends the others at its boundary.
            self.sessions.end_other_sessions_at_boundary(caller).await
        }
        .await;
        self.events
            .record(
                EventKind::PasswordChange,
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
        caller.require_own_account()?;
        let result = async {
            self.check_caller_password(caller, password).await?;
            let until = now_millis() + self.verification_ttl.as_millis() as i64;
            self.store
                .record_password_verification(self.provider.name(), &caller.claims.sub, until)
                .await?;
            Ok(until)
        }
        .await;
        self.events
            .record(
                EventKind::PasswordVerification,
                meta,
                None,
                Some(&caller.claims.sub),
                &result,
            )
            .await;
        result
    }

    pub async fn recover_identifier(
        &self,
        meta: &RequestMeta,
        phone: &str,
    ) -> Result<(), AuthError> {
        let phone = normalize_phone(phone)?;
        let result = async {
            // Charged to the number asked about, whatever matches it.
            self.protection.throttle.mail(&phone).await?;
            for account in self.provider.admin.admin_find_by_phone(&phone).await? {
                if account.enabled {
                    self.notifier
                        .send(Notification::SignInIdentifier {
                            to: account.email.clone(),
                            name: account.name.clone(),
                            identifier: account.email.clone(),
                        })
                        .await?;
                }
            }
            Ok(())
        }
        .await;
        self.events
            .record(EventKind::IdentifierRecovery, meta, None, None, &result)
            .await;
        // Nothing that happened (or not) for this number reaches the caller,
        // except an outage.
        match result {
            Err(
                AuthError::ProviderUnavailable
                | AuthError::StoreUnavailable
                | AuthError::RateLimited { .. },
            ) => result,
            _ => Ok(()),
        }
    }
}
