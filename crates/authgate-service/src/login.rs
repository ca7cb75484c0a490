//! The login transaction: the one service-owned record of any flow that
//! crosses requests — a sign-in answered by a challenge, a lost-authenticator
//! reset. A provider answers single steps; the service keeps the state of
//! the next step here (hashed handle, bound to the address, expiring, a few
//! tries) and gives the client only the opaque handle. The record says what
//! was proved so far (`password`, `new_password`, `mailed_code`, …) and which
//! [`Step`] comes next. Every answer spends a try; a handle presented for
//! another address or another step ends the transaction; a step answered
//! opens the next one under a new handle. Passkey ceremonies are steps of
//! the same record (one try, five minutes), and so are upstream OpenID round
//! trips and identities waiting to be linked (one use, ten minutes).

use authgate_core::{AuthError, ChallengeKind, ChallengeStep, ProviderId, Secret, now_millis};
use authgate_embedded::tokens::{new_refresh_token, token_digest};
use authgate_store::Store;
use authgate_store::login::NewLoginTransaction;
use std::time::Duration;

/// The longest a sign-in challenge may wait for its answer.
const MAX_CHALLENGE_TTL: Duration = Duration::from_secs(300);

/// The step a transaction waits for, with its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A challenge of a sign-in.
    Challenge(ChallengeKind),
    /// A lost-authenticator reset: the mailed code and the password.
    MfaResetCode,
    /// A lost-authenticator reset: a code of the new authenticator.
    MfaResetAuthenticator,
    /// A passkey registration: the browser's new credential.
    PasskeyRegistration,
    /// A passkey sign-in: the browser's assertion.
    PasskeySignIn,
    /// A sign-in at an external OpenID provider: its callback (the handle
    /// is the upstream `state`).
    UpstreamCallback,
    /// An identity from an external provider waiting to be linked to the
    /// account the person signs in to next, in the same browser.
    IdentityLink,
}

impl Step {
    /// The stored name of the step.
    pub fn name(self) -> &'static str {
        match self {
            Step::Challenge(kind) => Proof::of_answer(kind).as_str(),
            Step::MfaResetCode => "mfa_reset_code",
            Step::MfaResetAuthenticator => "mfa_reset_authenticator",
            Step::PasskeyRegistration => "passkey_registration",
            Step::PasskeySignIn => "passkey_sign_in",
            Step::UpstreamCallback => "upstream_callback",
            Step::IdentityLink => "identity_link",
        }
    }

    /// Tries on the step before the transaction ends.
    pub fn max_attempts(self) -> i64 {
        match self {
            Step::Challenge(_) => 3,
            Step::MfaResetCode | Step::MfaResetAuthenticator => 5,
            // A ceremony's challenge is answered once.
            Step::PasskeyRegistration | Step::PasskeySignIn => 1,
            // A callback and a link are used once, whatever comes of them.
            Step::UpstreamCallback | Step::IdentityLink => 1,
        }
    }

    /// How long the step waits for its answer (`challenge_ttl`:
    /// `AUTHGATE_CHALLENGE_TTL`).
    fn ttl(self, challenge_ttl: Duration) -> Duration {
        match self {
            Step::Challenge(_) => challenge_ttl.min(MAX_CHALLENGE_TTL),
            Step::MfaResetCode => Duration::from_secs(15 * 60),
            Step::MfaResetAuthenticator => Duration::from_secs(10 * 60),
            Step::PasskeyRegistration | Step::PasskeySignIn => MAX_CHALLENGE_TTL,
            // Time to sign in at the provider (or to the account to link).
            Step::UpstreamCallback | Step::IdentityLink => Duration::from_secs(10 * 60),
        }
    }
}

/// What a step proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    Password,
    NewPassword,
    Totp,
    AuthenticatorEnrolled,
    MailedCode,
}

impl Proof {
    pub fn as_str(self) -> &'static str {
        match self {
            Proof::Password => "password",
            Proof::NewPassword => "new_password",
            Proof::Totp => "totp",
            Proof::AuthenticatorEnrolled => "mfa_setup",
            Proof::MailedCode => "mailed_code",
        }
    }

    /// What answering a challenge of `kind` proves.
    pub fn of_answer(kind: ChallengeKind) -> Self {
        match kind {
            ChallengeKind::NewPasswordRequired => Proof::NewPassword,
            ChallengeKind::TotpRequired => Proof::Totp,
            ChallengeKind::MfaSetupRequired => Proof::AuthenticatorEnrolled,
        }
    }
}

/// A transaction taken for one answer (one try spent).
pub struct PendingStep {
    handle_hash: String,
    /// The address the transaction is bound to (empty when none is).
    pub email: String,
    /// The account the transaction is bound to, when it is.
    pub sub: Option<String>,
    /// The state of the step (the provider's, or the service's own).
    pub state: Secret,
    /// What was proved before this step, comma-separated.
    pub proved: String,
    attempts: i64,
    max_attempts: i64,
}

/// A transaction to open.
#[derive(Debug, Clone, Copy)]
pub struct Opening<'a> {
    pub email: &'a str,
    /// The account, when known.
    pub sub: Option<&'a str>,
    /// One pending transaction per account: this one replaces the others.
    pub exclusive: bool,
    pub proved: &'a str,
    pub step: Step,
}

#[derive(Clone)]
pub struct LoginTransactions {
    pub(crate) store: Store,
    pub(crate) provider: ProviderId,
    /// `AUTHGATE_CHALLENGE_TTL` (at most five minutes).
    pub(crate) ttl: Duration,
}

impl LoginTransactions {
    /// Open a transaction for a provider's challenge: the client gets the
    /// opaque handle, authgate keeps its digest and the provider's state.
    pub async fn begin_challenge(
        &self,
        email: &str,
        proved: &str,
        step: &ChallengeStep,
    ) -> Result<Secret, AuthError> {
        self.begin(
            Opening {
                email,
                sub: None,
                exclusive: false,
                proved,
                step: Step::Challenge(step.kind),
            },
            step.state.expose(),
        )
        .await
    }

    /// Open a transaction waiting for `opening.step`, holding `state`.
    pub async fn begin(&self, opening: Opening<'_>, state: &str) -> Result<Secret, AuthError> {
        let handle = Secret::new(new_refresh_token());
        self.begin_under(&handle, opening, state).await?;
        Ok(handle)
    }

    /// [`Self::begin`] under a handle the caller made (random, at least 128
    /// bits: an upstream round trip's `state`).
    pub async fn begin_under(
        &self,
        handle: &Secret,
        opening: Opening<'_>,
        state: &str,
    ) -> Result<(), AuthError> {
        let handle = handle.expose();
        let now = now_millis();
        self.store
            .create_login_transaction(&NewLoginTransaction {
                handle_hash: &token_digest(handle),
                provider: self.provider.as_str(),
                email: opening.email,
                sub: opening.sub,
                exclusive: opening.exclusive,
                proved: opening.proved,
                next_step: opening.step.name(),
                provider_state: state,
                expires_at: now + opening.step.ttl(self.ttl).as_millis() as i64,
                created_at: now,
            })
            .await?;
        Ok(())
    }

    /// Spend a try on the transaction behind `handle` to answer `step` for
    /// `email` (`None`: the handle alone names the address). Unknown, expired
    /// or out of tries is `invalid_session`; presented for another address or
    /// another step, the transaction ends.
    pub async fn take(
        &self,
        handle: &Secret,
        email: Option<&str>,
        step: Step,
    ) -> Result<PendingStep, AuthError> {
        let handle_hash = token_digest(handle.expose());
        let taken = self
            .store
            .take_login_attempt(&handle_hash, step.max_attempts(), now_millis())
            .await?
            .ok_or(AuthError::InvalidSession)?;
        if email.is_some_and(|email| taken.email != email)
            || taken.next_step != step.name()
            || taken.provider != self.provider.as_str()
        {
            self.store.delete_login_transaction(&handle_hash).await?;
            return Err(AuthError::InvalidSession);
        }
        Ok(PendingStep {
            handle_hash,
            email: taken.email,
            sub: taken.sub,
            state: Secret::new(taken.provider_state),
            proved: taken.proved,
            attempts: taken.attempts,
            max_attempts: step.max_attempts(),
        })
    }

    /// [`Self::take`] for a client without the handle: the newest live
    /// transaction of `email` waiting for `step`.
    pub async fn take_latest(&self, email: &str, step: Step) -> Result<PendingStep, AuthError> {
        let taken = self
            .store
            .take_latest_login_attempt(
                self.provider.as_str(),
                email,
                step.name(),
                step.max_attempts(),
                now_millis(),
            )
            .await?
            .ok_or(AuthError::InvalidSession)?;
        Ok(PendingStep {
            handle_hash: taken.handle_hash,
            email: taken.email,
            sub: taken.sub,
            state: Secret::new(taken.provider_state),
            proved: taken.proved,
            attempts: taken.attempts,
            max_attempts: step.max_attempts(),
        })
    }

    /// The step is done (answered, or refused for good): its handle ends.
    pub async fn end(&self, pending: &PendingStep) -> Result<(), AuthError> {
        Ok(self
            .store
            .delete_login_transaction(&pending.handle_hash)
            .await?)
    }

    /// A wrong answer: the transaction ends when its tries are spent.
    pub async fn failed(&self, pending: &PendingStep) -> Result<(), AuthError> {
        if pending.attempts >= pending.max_attempts {
            self.end(pending).await?;
        }
        Ok(())
    }
}

/// `proved` with `proof` added.
pub fn and_then(proved: &str, proof: Proof) -> String {
    if proved.is_empty() {
        proof.as_str().to_string()
    } else {
        format!("{proved},{}", proof.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authgate_core::ChallengeParameters;

    /// Login transactions on a fresh SQLite store.
    async fn transactions(ttl: Duration) -> (LoginTransactions, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("authgate-login-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.join("t.db").display()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let logins = LoginTransactions {
            store,
            provider: ProviderId::EMBEDDED,
            ttl,
        };
        (logins, dir)
    }

    fn step(kind: ChallengeKind) -> ChallengeStep {
        ChallengeStep {
            kind,
            state: Secret::new("provider-state"),
            parameters: ChallengeParameters::None,
        }
    }

    const EMAIL: &str = "lt@example.com";

    fn totp() -> Step {
        Step::Challenge(ChallengeKind::TotpRequired)
    }

    #[tokio::test]
    async fn a_step_is_answered_once_with_the_providers_state_and_what_was_proved() {
        let (logins, dir) = transactions(Duration::from_secs(60)).await;
        let handle = logins
            .begin_challenge(EMAIL, "password", &step(ChallengeKind::TotpRequired))
            .await
            .unwrap();
        assert_ne!(
            handle.expose(),
            "provider-state",
            "the client never sees the state"
        );
        let pending = logins.take(&handle, Some(EMAIL), totp()).await.unwrap();
        assert_eq!(pending.state.expose(), "provider-state");
        assert_eq!(pending.proved, "password");
        logins.end(&pending).await.unwrap();
        assert_eq!(
            logins.take(&handle, Some(EMAIL), totp()).await.err(),
            Some(AuthError::InvalidSession)
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn another_address_or_another_kind_of_challenge_ends_the_transaction() {
        let (logins, dir) = transactions(Duration::from_secs(60)).await;
        let cases = [
            ("someone@example.com", totp()),
            (EMAIL, Step::Challenge(ChallengeKind::MfaSetupRequired)),
            (EMAIL, Step::MfaResetCode),
        ];
        for (email, kind) in cases {
            let handle = logins
                .begin_challenge(EMAIL, "password", &step(ChallengeKind::TotpRequired))
                .await
                .unwrap();
            assert_eq!(
                logins.take(&handle, Some(email), kind).await.err(),
                Some(AuthError::InvalidSession),
                "{email} {kind:?}"
            );
            // Presented wrongly once, it is gone for the right answer too.
            assert_eq!(
                logins.take(&handle, Some(EMAIL), totp()).await.err(),
                Some(AuthError::InvalidSession)
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn wrong_answers_spend_the_tries_and_an_expired_step_is_refused() {
        let (logins, dir) = transactions(Duration::from_secs(60)).await;
        let handle = logins
            .begin_challenge(EMAIL, "password", &step(ChallengeKind::TotpRequired))
            .await
            .unwrap();
        for _ in 0..totp().max_attempts() {
            let pending = logins.take(&handle, Some(EMAIL), totp()).await.unwrap();
            logins.failed(&pending).await.unwrap();
        }
        assert_eq!(
            logins.take(&handle, Some(EMAIL), totp()).await.err(),
            Some(AuthError::InvalidSession)
        );

        let (expiring, dir2) = transactions(Duration::ZERO).await;
        let handle = expiring
            .begin_challenge(EMAIL, "password", &step(ChallengeKind::NewPasswordRequired))
            .await
            .unwrap();
        assert_eq!(
            expiring
                .take(
                    &handle,
                    Some(EMAIL),
                    Step::Challenge(ChallengeKind::NewPasswordRequired)
                )
                .await
                .err(),
            Some(AuthError::InvalidSession)
        );
        std::fs::remove_dir_all(dir).unwrap();
        std::fs::remove_dir_all(dir2).unwrap();
    }

    #[test]
    fn proofs_accumulate_in_order() {
        let after_password = Proof::Password.as_str();
        let after_new_password = and_then(
            after_password,
            Proof::of_answer(ChallengeKind::NewPasswordRequired),
        );
        assert_eq!(after_new_password, "password,new_password");
        assert_eq!(
            and_then(
                &after_new_password,
                Proof::of_answer(ChallengeKind::MfaSetupRequired)
            ),
            "password,new_password,mfa_setup"
        );
        assert_eq!(and_then("", Proof::Totp), "totp");
    }
}
