//! Lost-authenticator recovery, as CognitoApi designed it, for every provider:
//!
//! 1. `start {email}` mails a code and answers a session (the same answer,
//!    and a session, for unknown accounts);
//! 2. `verify {email, session, code, password}` proves the code *and* the
//!    password, then answers a new TOTP secret and a recovery-only token
//!    (opaque, never a bearer token for APIs);
//! 3. `confirm {accessToken, code}` proves the new authenticator: it replaces
//!    the old one, the recovery token is spent, and every session ends.
//!
//! MFA stays mandatory throughout: no step issues a session. Every step is
//! an audit event. The steps are one login transaction (`crate::login`): the
//! session and the recovery token are its handles, one per step, and a new
//! start replaces the account's earlier reset. A mailbox alone does not replace an authenticator: within
//! `AUTHGATE_MFA_RESET_COOLDOWN` after a mailed password reset, `verify`
//! also needs one of the account's recovery codes. An address without an
//! account gets a decoy session that answers every step like a real one.

use crate::events::RequestMeta;
use crate::login::{Opening, Proof, Step, and_then};
use crate::mfa::MfaService;
use crate::protection::Factor;
use authgate_core::EventKind;
use authgate_core::policy::normalize_email;
use authgate_core::{AuthError, Notification, Secret, SecurityEvent, TotpEnrolment, now_millis};
use authgate_embedded::codes::{code_matches, generate_code, hash_code};
use authgate_embedded::tokens::new_refresh_token;
use authgate_store::recovery::Recovery;
use serde::{Deserialize, Serialize};

const PURPOSE: &str = "mfa_reset";

/// What `verify` answers: the new secret and the recovery-only token.
#[derive(Debug)]
pub struct MfaRecovery {
    pub enrolment: TotpEnrolment,
    pub recovery_token: Secret,
}

/// What a reset keeps in its login transaction between the steps: the
/// account (or a decoy), the digest of the mailed code, and what the
/// provider needs to finish the new authenticator.
#[derive(Serialize, Deserialize)]
struct ResetState {
    sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    provider_state: Option<String>,
}

impl ResetState {
    fn encode(&self) -> Result<String, AuthError> {
        serde_json::to_string(self).map_err(|e| AuthError::Internal(format!("reset state: {e}")))
    }

    fn decode(state: &Secret) -> Result<Self, AuthError> {
        serde_json::from_str(state.expose()).map_err(|_| AuthError::InvalidSession)
    }
}

impl MfaService {
    pub async fn mfa_reset_start(
        &self,
        meta: &RequestMeta,
        email: &str,
    ) -> Result<Secret, AuthError> {
        let email = normalize_email("email", email)?;
        let result = async {
            self.protection.throttle.mail(&email).await?;
            let account = self
                .provider
                .admin
                .admin_find_by_email(&email)
                .await?
                .filter(|a| a.enabled);
            // Unknown or disabled: a decoy whose code was never sent, so
            // `verify` answers code_mismatch as it would for a real account.
            let (sub, code) = match &account {
                Some(account) => (account.sub.clone(), generate_code()),
                None => (
                    format!("decoy:{}", self.notices.decoy_sub(&email)),
                    new_refresh_token(),
                ),
            };
            let state = ResetState {
                code_hash: Some(hash_code(&sub, PURPOSE, &code)),
                sub: sub.clone(),
                provider_state: None,
            };
            let session = self
                .logins
                .begin(
                    Opening {
                        email: &email,
                        sub: Some(&sub),
                        exclusive: true,
                        proved: "",
                        step: Step::MfaResetCode,
                    },
                    &state.encode()?,
                )
                .await?;
            if let Some(account) = &account {
                self.notifier
                    .send(Notification::MfaResetCode {
                        to: email.clone(),
                        name: account.name.clone(),
                        code: Secret::new(code),
                    })
                    .await?;
            }
            Ok((session, account.map(|a| a.sub)))
        }
        .await;
        let sub = result.as_ref().ok().and_then(|(_, sub)| sub.as_deref());
        self.events
            .record(EventKind::MfaResetStart, meta, Some(&email), sub, &result)
            .await;
        // Unknown, disabled or known: the same answer.
        result.map(|(session, _)| session)
    }

    pub async fn mfa_reset_verify(
        &self,
        meta: &RequestMeta,
        email: &str,
        session: &Secret,
        code: &Secret,
        password: &Secret,
        recovery_code: Option<&Secret>,
    ) -> Result<MfaRecovery, AuthError> {
        let email = normalize_email("email", email)?;
        let mut subject = None;
        let lockout = &self.protection.lockout;
        let result = async {
            // The mailed code and the password are both guessed here.
            lockout.check(Factor::MailedCode, &email).await?;
            lockout.check(Factor::Password, &email).await?;
            let pending = self
                .logins
                .take(session, Some(&email), Step::MfaResetCode)
                .await?;
            let reset = ResetState::decode(&pending.state)?;
            subject = Some(reset.sub.clone());
            let fail = async |err: AuthError| {
                self.logins.failed(&pending).await?;
                Err(err)
            };
            let matched = reset
                .code_hash
                .as_deref()
                .is_some_and(|hash| code_matches(&reset.sub, PURPOSE, code.expose(), hash));
            if !matched {
                return fail(AuthError::CodeMismatch).await;
            }
            // The mailbox is proven; right after a mailed password reset it
            // is not enough.
            let recovery_code = recovery_code.filter(|c| !c.expose().trim().is_empty());
            let with_recovery_code = match recovery_code {
                Some(given) if self.recovery_codes.is_unused(&reset.sub, given).await? => {
                    Some(given)
                }
                Some(_) => return fail(AuthError::CodeMismatch).await,
                None => None,
            };
            if with_recovery_code.is_none()
                && let Some(until) = self
                    .recovery_codes
                    .cooling_off(&reset.sub, Recovery::PasswordReset)
                    .await?
            {
                return Err(AuthError::RecoveryCooldown {
                    message: "the authenticator cannot be replaced this soon after a mailed password reset"
                        .into(),
                    until,
                });
            }
            let replacement = match self
                .provider
                .totp
                .begin_totp_replacement(&email, password)
                .await
            {
                Ok(replacement) => replacement,
                Err(err) => return fail(err).await,
            };
            if let Some(given) = with_recovery_code
                && !self.recovery_codes.spend(&reset.sub, &email, given).await?
            {
                return fail(AuthError::CodeMismatch).await;
            }
            // The next step under a new handle: the recovery-only token.
            let next = ResetState {
                sub: reset.sub.clone(),
                code_hash: None,
                provider_state: replacement.state.as_ref().map(|s| s.expose().to_string()),
            };
            let proved = and_then(&and_then("", Proof::MailedCode), Proof::Password);
            let recovery_token = self
                .logins
                .begin(
                    Opening {
                        email: &email,
                        sub: Some(&reset.sub),
                        exclusive: false,
                        proved: &proved,
                        step: Step::MfaResetAuthenticator,
                    },
                    &next.encode()?,
                )
                .await?;
            self.logins.end(&pending).await?;
            Ok(MfaRecovery {
                enrolment: replacement.enrolment,
                recovery_token,
            })
        }
        .await;
        if !matches!(result, Err(AuthError::TooManyFailedAttempts { .. })) {
            lockout.record(Factor::MailedCode, &email, &result).await;
            lockout.record(Factor::Password, &email, &result).await;
        }
        self.events
            .record(
                EventKind::MfaResetVerify,
                meta,
                Some(&email),
                subject.as_deref(),
                &result,
            )
            .await;
        result
    }

    pub async fn mfa_reset_confirm(
        &self,
        meta: &RequestMeta,
        recovery_token: &Secret,
        code: &Secret,
    ) -> Result<Vec<Secret>, AuthError> {
        let mut who = None;
        let result = async {
            let pending = self
                .logins
                .take(recovery_token, None, Step::MfaResetAuthenticator)
                .await
                .map_err(|err| match err {
                    AuthError::InvalidSession => AuthError::InvalidToken {
                        reason: "the recovery token is not valid".into(),
                    },
                    other => other,
                })?;
            let reset = ResetState::decode(&pending.state)?;
            who = Some((reset.sub.clone(), pending.email.clone()));
            let state = reset.provider_state.clone().map(Secret::new);
            if let Err(err) = self
                .provider
                .totp
                .finish_totp_replacement(&pending.email, state.as_ref(), code)
                .await
            {
                self.logins.failed(&pending).await?;
                return Err(err);
            }
            // The recovery token is spent, and every session of the account ends.
            self.logins.end(&pending).await?;
            let now = now_millis();
            self.store
                .revoke_provider_sessions(self.provider.name(), &reset.sub, now)
                .await?;
            self.store
                .record_recovery(self.provider.name(), &reset.sub, Recovery::MfaReset, now)
                .await?;
            let codes = self.recovery_codes.issue(&reset.sub).await?;
            self.notices
                .notice(&pending.email, SecurityEvent::AuthenticatorReplaced)
                .await;
            Ok(codes)
        }
        .await;
        let (sub, email) = who.unzip();
        self.events
            .record(
                EventKind::MfaResetConfirm,
                meta,
                email.as_deref(),
                sub.as_deref(),
                &result,
            )
            .await;
        result
    }
}
