//! The login transaction: the one service-owned record of a sign-in that
//! crosses requests. A provider answers single steps; when a step is a
//! challenge, the service keeps the provider's state for it here (hashed
//! handle, bound to the address, expiring, a few tries) and gives the client
//! only the opaque handle. The record says what was proved so far
//! (`password`, `new_password`, …) and which step comes next. Every answer
//! spends a try; a handle presented for another address or another kind of
//! challenge ends the transaction; a step answered opens the next one under
//! a new handle. Passkey ceremonies, authorization requests waiting for a
//! sign-in and upstream OpenID round trips are further steps of the same
//! record.

use authgate_core::{AuthError, ChallengeKind, ChallengeStep, ProviderId, Secret, now_millis};
use authgate_embedded::tokens::{new_refresh_token, token_digest};
use authgate_store::Store;
use authgate_store::login::NewLoginTransaction;
use std::time::Duration;

/// Tries on one step before the transaction ends.
pub const MAX_ATTEMPTS: i64 = 3;
/// The longest a step may wait for its answer.
const MAX_TTL: Duration = Duration::from_secs(300);

/// What a step of a sign-in proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    Password,
    NewPassword,
    Totp,
    AuthenticatorEnrolled,
}

impl Proof {
    pub fn as_str(self) -> &'static str {
        match self {
            Proof::Password => "password",
            Proof::NewPassword => "new_password",
            Proof::Totp => "totp",
            Proof::AuthenticatorEnrolled => "mfa_setup",
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

/// The stored name of the step that answers a challenge of `kind`.
fn step_name(kind: ChallengeKind) -> &'static str {
    Proof::of_answer(kind).as_str()
}

/// A transaction taken for one answer (one try spent).
pub struct PendingStep {
    handle_hash: String,
    /// The provider's state for the step, to hand back with the answer.
    pub state: Secret,
    /// What was proved before this step, comma-separated.
    pub proved: String,
    attempts: i64,
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
    pub async fn begin(
        &self,
        email: &str,
        proved: &str,
        step: &ChallengeStep,
    ) -> Result<Secret, AuthError> {
        let handle = new_refresh_token();
        let now = now_millis();
        self.store
            .create_login_transaction(&NewLoginTransaction {
                handle_hash: &token_digest(&handle),
                provider: self.provider.as_str(),
                email,
                proved,
                next_step: step_name(step.kind),
                provider_state: step.state.expose(),
                expires_at: now + self.ttl.min(MAX_TTL).as_millis() as i64,
                created_at: now,
            })
            .await?;
        Ok(Secret::new(handle))
    }

    /// Spend a try on the transaction behind `handle` to answer a challenge
    /// of `kind` for `email`. Unknown, expired or out of tries is
    /// `invalid_session`; presented for another address or another kind of
    /// challenge, the transaction ends.
    pub async fn take(
        &self,
        handle: &Secret,
        email: &str,
        kind: ChallengeKind,
    ) -> Result<PendingStep, AuthError> {
        let handle_hash = token_digest(handle.expose());
        let taken = self
            .store
            .take_login_attempt(&handle_hash, MAX_ATTEMPTS, now_millis())
            .await?
            .ok_or(AuthError::InvalidSession)?;
        if taken.email != email
            || taken.next_step != step_name(kind)
            || taken.provider != self.provider.as_str()
        {
            self.store.delete_login_transaction(&handle_hash).await?;
            return Err(AuthError::InvalidSession);
        }
        Ok(PendingStep {
            handle_hash,
            state: Secret::new(taken.provider_state),
            proved: taken.proved,
            attempts: taken.attempts,
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
        if pending.attempts >= MAX_ATTEMPTS {
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

    #[tokio::test]
    async fn a_step_is_answered_once_with_the_providers_state_and_what_was_proved() {
        let (logins, dir) = transactions(Duration::from_secs(60)).await;
        let handle = logins
            .begin(EMAIL, "password", &step(ChallengeKind::TotpRequired))
            .await
            .unwrap();
        assert_ne!(
            handle.expose(),
            "provider-state",
            "the client never sees the state"
        );
        let pending = logins
            .take(&handle, EMAIL, ChallengeKind::TotpRequired)
            .await
            .unwrap();
        assert_eq!(pending.state.expose(), "provider-state");
        assert_eq!(pending.proved, "password");
        logins.end(&pending).await.unwrap();
        assert_eq!(
            logins
                .take(&handle, EMAIL, ChallengeKind::TotpRequired)
                .await
                .err(),
            Some(AuthError::InvalidSession)
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn another_address_or_another_kind_of_challenge_ends_the_transaction() {
        let (logins, dir) = transactions(Duration::from_secs(60)).await;
        let cases = [
            ("someone@example.com", ChallengeKind::TotpRequired),
            (EMAIL, ChallengeKind::MfaSetupRequired),
        ];
        for (email, kind) in cases {
            let handle = logins
                .begin(EMAIL, "password", &step(ChallengeKind::TotpRequired))
                .await
                .unwrap();
            assert_eq!(
                logins.take(&handle, email, kind).await.err(),
                Some(AuthError::InvalidSession),
                "{email} {kind:?}"
            );
            // Presented wrongly once, it is gone for the right answer too.
            assert_eq!(
                logins
                    .take(&handle, EMAIL, ChallengeKind::TotpRequired)
                    .await
                    .err(),
                Some(AuthError::InvalidSession)
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn wrong_answers_spend_the_tries_and_an_expired_step_is_refused() {
        let (logins, dir) = transactions(Duration::from_secs(60)).await;
        let handle = logins
            .begin(EMAIL, "password", &step(ChallengeKind::TotpRequired))
            .await
            .unwrap();
        for _ in 0..MAX_ATTEMPTS {
            let pending = logins
                .take(&handle, EMAIL, ChallengeKind::TotpRequired)
                .await
                .unwrap();
            logins.failed(&pending).await.unwrap();
        }
        assert_eq!(
            logins
                .take(&handle, EMAIL, ChallengeKind::TotpRequired)
                .await
                .err(),
            Some(AuthError::InvalidSession)
        );

        let (expiring, dir2) = transactions(Duration::ZERO).await;
        let handle = expiring
            .begin(EMAIL, "password", &step(ChallengeKind::NewPasswordRequired))
            .await
            .unwrap();
        assert_eq!(
            expiring
                .take(&handle, EMAIL, ChallengeKind::NewPasswordRequired)
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
