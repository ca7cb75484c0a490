//! Sign-up and sign-in: input rules that hold for every provider (email
//! shape, password policy), the provider call, the session or the next
//! challenge (new password, TOTP, MFA set-up), and an audit event for every
//! outcome. A taken address at sign-up answers like a new one unless
//! `AUTHGATE_SIGN_UP_REVEALS_EXISTING` asks otherwise.

use crate::events::{EventRecorder, RequestMeta};
use crate::login::{LoginTransactions, Proof, Step, and_then};
use crate::notices::Notices;
use crate::protection::{Factor, Protection};
use crate::recovery_codes::RecoveryCodes;
use crate::sessions::{SessionService, SessionView};
use authgate_core::EventKind;
use authgate_core::policy::{PasswordPolicy, normalize_email};
use authgate_core::provider::ChallengeResponse;
use authgate_core::{
    AuthError, AuthStep, ChallengeKind, ChallengeParameters, Provider, Secret, SignUpOutcome,
    SignUpRequest,
};

/// Another step is needed before tokens are issued, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub kind: ChallengeKind,
    /// The login transaction's handle: opaque, short-lived, a few tries,
    /// bound to the address.
    pub session: Secret,
    pub parameters: ChallengeParameters,
}

/// What a sign-in produced.
#[derive(Debug, Clone)]
// A return value, moved once to its renderer: boxing the session buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum SignInResult {
    Session(SessionView),
    Challenge(Challenge),
}

#[derive(Clone)]
pub struct SignInService {
    pub(crate) provider: Provider,
    pub(crate) events: EventRecorder,
    pub(crate) policy: PasswordPolicy,
    /// `AUTHGATE_SIGN_UP_REVEALS_EXISTING`: a sign-up for a taken address
    /// answers 409 (Cognito's behaviour) instead of the generic answer.
    pub(crate) sign_up_reveals_existing: bool,
    pub(crate) notices: Notices,
    pub(crate) sessions: SessionService,
    pub(crate) recovery_codes: RecoveryCodes,
    pub(crate) logins: LoginTransactions,
    pub(crate) protection: Protection,
}

impl SignInService {
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
            .map(|p| authgate_core::policy::normalize_phone(&p))
            .transpose()?;
        let result = async {
            self.policy.check(password.expose())?;
            self.protection.throttle.mail(&email).await?;
            self.provider
                .passwords
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
            .record(EventKind::SignUp, meta, Some(&email), sub, &result)
            .await;
        match result {
            // A taken address answers like a new sign-up (the audit row above
            // says what happened); its owner gets a notice instead of a code.
            Err(AuthError::UsernameExists) if !self.sign_up_reveals_existing => {
                self.notices
                    .notice(&email, authgate_core::SecurityEvent::SignUpAttempt)
                    .await;
                Ok(SignUpOutcome {
                    user_sub: self.notices.decoy_sub(&email),
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
            self.protection
                .lockout
                .guard(
                    Factor::MailedCode,
                    &email,
                    self.provider.passwords.confirm_sign_up(&email, code),
                )
                .await
        };
        self.events
            .record(EventKind::SignUpConfirm, meta, Some(&email), None, &result)
            .await;
        result
    }

    pub async fn resend_confirmation(
        &self,
        meta: &RequestMeta,
        email: &str,
    ) -> Result<(), AuthError> {
        let email = normalize_email("email", email)?;
        let result = match self.protection.throttle.mail(&email).await {
            Ok(()) => self.provider.passwords.resend_confirmation(&email).await,
            Err(limited) => Err(limited),
        };
        self.events
            .record(EventKind::SignUpResend, meta, Some(&email), None, &result)
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
        let step = self
            .protection
            .lockout
            .guard(
                Factor::Password,
                &email,
                self.provider.passwords.sign_in(&email, password),
            )
            .await;
        let result = self.next_step(&email, Proof::Password.as_str(), step).await;
        self.events
            .record_sign_in(
                "password",
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
        self.answer(meta, kind, email, Some(session), answer).await
    }

    /// Answer the newest pending challenge of `kind` for `email`, for a
    /// client that kept no session (the CognitoApi profile's older clients
    /// at confirm-mfa): the same checks, tries and audit rows.
    pub async fn respond_to_pending_challenge(
        &self,
        meta: &RequestMeta,
        kind: ChallengeKind,
        email: &str,
        answer: Secret,
    ) -> Result<SignInResult, AuthError> {
        self.answer(meta, kind, email, None, answer).await
    }

    /// Answer a challenge: through its session, or (`None`) the newest
    /// pending one of the address.
    async fn answer(
        &self,
        meta: &RequestMeta,
        kind: ChallengeKind,
        email: &str,
        session: Option<Secret>,
        answer: Secret,
    ) -> Result<SignInResult, AuthError> {
        let email = normalize_email("email", email)?;
        let result = async {
            if session.as_ref().is_some_and(Secret::is_empty) {
                return Err(AuthError::invalid_field(
                    "session",
                    "session must not be empty",
                ));
            }
            match kind {
                ChallengeKind::NewPasswordRequired => {
                    self.policy.check_new_password(answer.expose())?
                }
                ChallengeKind::TotpRequired | ChallengeKind::MfaSetupRequired => {
                    if answer.expose().trim().is_empty() {
                        return Err(AuthError::invalid_field("code", "code must not be empty"));
                    }
                }
            }
            // A code is guessed per account, across challenge sessions.
            let code_factor = (kind != ChallengeKind::NewPasswordRequired).then_some(Factor::Otp);
            if let Some(factor) = code_factor {
                self.protection.lockout.check(factor, &email).await?;
            }
            let pending = match &session {
                Some(session) => {
                    self.logins
                        .take(session, Some(&email), Step::Challenge(kind))
                        .await?
                }
                None => {
                    self.logins
                        .take_latest(&email, Step::Challenge(kind))
                        .await?
                }
            };
            let step = self
                .provider
                .passwords
                .respond_to_challenge(ChallengeResponse {
                    kind,
                    email: email.clone(),
                    state: pending.state.clone(),
                    answer,
                })
                .await;
            if let Some(factor) = code_factor {
                self.protection.lockout.record(factor, &email, &step).await;
            }
            match &step {
                Ok(_) | Err(AuthError::InvalidSession) => self.logins.end(&pending).await?,
                Err(_) => self.logins.failed(&pending).await?,
            }
            let recovery_code = matches!(
                &step,
                Ok(AuthStep::Authenticated(done))
                    if done.second_factor == Some(authgate_core::SecondFactor::RecoveryCode)
            );
            let proved = and_then(&pending.proved, Proof::of_answer(kind));
            let mut result = self.next_step(&email, &proved, step).await;
            if let Ok(SignInResult::Session(session)) = &mut result {
                if kind == ChallengeKind::MfaSetupRequired {
                    session.recovery_codes = self
                        .recovery_codes
                        .issue(&session.user.provider_sub)
                        .await?;
                }
                if recovery_code {
                    self.recovery_codes
                        .used_notice(&session.user.provider_sub, &email)
                        .await?;
                    self.events
                        .record(
                            EventKind::RecoveryCodeSignIn,
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
            ChallengeKind::NewPasswordRequired => EventKind::ChallengeNewPassword,
            ChallengeKind::TotpRequired => EventKind::ChallengeTotp,
            ChallengeKind::MfaSetupRequired => EventKind::ChallengeMfaSetup,
        };
        self.events
            .record(event, meta, Some(&email), signed_in_sub(&result), &result)
            .await;
        result
    }

    /// Tokens become a session; a challenge opens a login transaction.
    async fn next_step(
        &self,
        email: &str,
        proved: &str,
        step: Result<AuthStep, AuthError>,
    ) -> Result<SignInResult, AuthError> {
        match step? {
            AuthStep::Authenticated(done) => self
                .sessions
                .session(done, true)
                .await
                .map(SignInResult::Session),
            AuthStep::Challenge(step) => {
                let session = self.logins.begin_challenge(email, proved, &step).await?;
                Ok(SignInResult::Challenge(Challenge {
                    kind: step.kind,
                    session,
                    parameters: step.parameters,
                }))
            }
        }
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
