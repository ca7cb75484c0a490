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
//! an audit event. A mailbox alone does not replace an authenticator: within
//! `AUTHGATE_MFA_RESET_COOLDOWN` after a mailed password reset, `verify`
//! also needs one of the account's recovery codes. An address without an
//! account gets a decoy session that answers every step like a real one.

use crate::events::RequestMeta;
use crate::mfa::MfaService;
use authgate_core::EventKind;
use authgate_core::policy::normalize_email;
use authgate_core::{AuthError, Notification, Secret, SecurityEvent, TotpEnrolment, now_millis};
use authgate_embedded::codes::{code_matches, generate_code, hash_code};
use authgate_embedded::tokens::{new_refresh_token, token_digest};
use authgate_store::recovery::Recovery;

const PURPOSE: &str = "mfa_reset";

/// Tries on a session or recovery token before it is spent.
const MAX_TRIES: i64 = 5;

const CODE_TTL_MILLIS: i64 = 15 * 60 * 1000;

const RECOVERY_TTL_MILLIS: i64 = 10 * 60 * 1000;

/// What `verify` answers: the new secret and the recovery-only token.
#[derive(Debug)]
pub struct MfaRecovery {
    pub enrolment: TotpEnrolment,
    pub recovery_token: Secret,
}

impl MfaService {
    pub async fn mfa_reset_start(
        &self,
        meta: &RequestMeta,
        email: &str,
    ) -> Result<Secret, AuthError> {
        let email = normalize_email("email", email)?;
        let session = new_refresh_token();
        let result = async {
            let now = now_millis();
            let account = self
                .provider
                .admin
                .admin_find_by_email(&email)
                .await?
                .filter(|a| a.enabled);
            let Some(account) = account else {
                // A decoy: its code was never sent, so `verify` answers
                // code_mismatch as it would for a real account.
                let decoy = format!("decoy:{}", self.notices.decoy_sub(&email));
                self.store
                    .create_mfa_reset(
                        &token_digest(&session),
                        self.provider.name(),
                        &decoy,
                        &email,
                        &hash_code(&decoy, PURPOSE, &new_refresh_token()),
                        now + CODE_TTL_MILLIS,
                        now,
                    )
                    .await?;
                return Ok(None);
            };
            let code = generate_code();
            self.store
                .create_mfa_reset(
                    &token_digest(&session),
                    self.provider.name(),
                    &account.sub,
                    &email,
                    &hash_code(&account.sub, PURPOSE, &code),
                    now + CODE_TTL_MILLIS,
                    now,
                )
                .await?;
            self.notifier
                .send(Notification::MfaResetCode {
                    to: email.clone(),
                    name: account.name.clone(),
                    code: Secret::new(code),
                })
                .await?;
            Ok(Some(account.sub))
        }
        .await;
        let sub = result.as_ref().ok().and_then(|s| s.as_deref());
        self.events
            .record(EventKind::MfaResetStart, meta, Some(&email), sub, &result)
            .await;
        match result {
            // Unknown, disabled or known: the same answer.
            Ok(_) => Ok(Secret::new(session)),
            Err(err) => Err(err),
        }
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
        let result = async {
            let session_hash = token_digest(session.expose());
            let reset = self
                .store
                .take_mfa_reset_attempt(&session_hash, MAX_TRIES, now_millis())
                .await?
                .ok_or(AuthError::InvalidSession)?;
            if reset.email != email || reset.provider != self.provider.name() {
                self.store.delete_mfa_reset(&session_hash).await?;
                return Err(AuthError::InvalidSession);
            }
            subject = Some(reset.sub.clone());
            let fail = async |err: AuthError| {
                if reset.attempts >= MAX_TRIES {
                    self.store.delete_mfa_reset(&session_hash).await?;
                }
                Err(err)
            };
            if !code_matches(&reset.sub, PURPOSE, code.expose(), &reset.code_hash) {
                return fail(AuthError::CodeMismatch).await;
            }
            // The mailbox is proven; right after a mailed password reset it
            // is not enough.
            let recovery_code = recovery_code.filter(|c| !c.expose().trim().is_empty());
            let with_recovery_code = match recovery_code {
                Some(given) if self.recovery_codes.is_unused(&reset.sub, given).await? => Some(given),
                Some(_) => return fail(AuthError::CodeMismatch).await,
                None => None,
            };
            if with_recovery_code.is_none()
                && let Some(until) = self.recovery_codes.cooling_off(&reset.sub, Recovery::PasswordReset).await?
            {
                return Err(AuthError::RecoveryCooldown {
                    message: "the authenticator cannot be replaced this soon after a mailed password reset"
                        .into(),
                    until,
                });
            }
            let replacement = match self.provider.totp.begin_totp_replacement(&email, password).await {
                Ok(replacement) => replacement,
                Err(err) => return fail(err).await,
            };
            if let Some(given) = with_recovery_code
                && !self.recovery_codes.spend(&reset.sub, &email, given).await?
            {
                return fail(AuthError::CodeMismatch).await;
            }
            let recovery_token = new_refresh_token();
            self.store
                .mark_mfa_reset_verified(
                    &session_hash,
                    &token_digest(&recovery_token),
                    replacement.state.as_ref().map(Secret::expose),
                    now_millis() + RECOVERY_TTL_MILLIS,
                )
                .await?;
            Ok(MfaRecovery {
                enrolment: replacement.enrolment,
                recovery_token: Secret::new(recovery_token),
            })
        }
        .await;
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
            let reset = self
                .store
                .take_mfa_recovery_attempt(
                    &token_digest(recovery_token.expose()),
                    MAX_TRIES,
                    now_millis(),
                )
                .await?
                .ok_or_else(|| AuthError::InvalidToken {
                    reason: "the recovery token is not valid".into(),
                })?;
            who = Some((reset.sub.clone(), reset.email.clone()));
            let state = reset.provider_state.clone().map(Secret::new);
            if let Err(err) = self
                .provider
                .totp
                .finish_totp_replacement(&reset.email, state.as_ref(), code)
                .await
            {
                if reset.attempts >= MAX_TRIES {
                    self.store.delete_mfa_reset(&reset.session_hash).await?;
                }
                return Err(err);
            }
            // The recovery token is spent, and every session of the account ends.
            self.store.delete_mfa_reset(&reset.session_hash).await?;
            let now = now_millis();
            self.store
                .revoke_provider_sessions(self.provider.name(), &reset.sub, now)
                .await?;
            self.store
                .record_recovery(self.provider.name(), &reset.sub, Recovery::MfaReset, now)
                .await?;
            let codes = self.recovery_codes.issue(&reset.sub).await?;
            self.notices
                .notice(&reset.email, SecurityEvent::AuthenticatorReplaced)
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
