//! [`Lockout`]: failed attempts counted per submitted identifier (the
//! normalised email), whether or not an account exists, so a lockout
//! reveals nothing. Each [`Factor`] has its own record; the policy
//! ([`FailurePolicy`]) is Cognito's published one: after `threshold`
//! consecutive failures each further attempt waits 2^(n − threshold) s (at
//! most `max_wait`), and during the wait the secret is not checked at all.
//! After `hard_limit` failures the record stops decaying (NIST SP 800-63B
//! §3.2.2): the factor is refused until a password reset or an
//! administrator clears it. A success clears the record.

use super::counters::{Counters, FailurePolicy, Failures};
use super::identifier_key;
use authgate_core::AuthError;
use std::sync::Arc;

/// What was guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Factor {
    /// The password (also an email-bound passkey sign-in).
    Password,
    /// A TOTP or recovery code, across challenge sessions.
    Otp,
    /// A mailed code: sign-up confirmation, password reset, MFA reset.
    MailedCode,
}

impl Factor {
    pub const ALL: [Factor; 3] = [Factor::Password, Factor::Otp, Factor::MailedCode];

    pub fn name(self) -> &'static str {
        match self {
            Factor::Password => "password",
            Factor::Otp => "otp",
            Factor::MailedCode => "mailed_code",
        }
    }

    /// Is `err` a wrong guess of this factor?
    fn is_wrong_guess(self, err: &AuthError) -> bool {
        match self {
            Factor::Password => matches!(
                err,
                AuthError::InvalidCredentials | AuthError::PasskeyRejected(_)
            ),
            Factor::Otp | Factor::MailedCode => matches!(err, AuthError::CodeMismatch),
        }
    }
}

/// One factor's record as an administrator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactorLockout {
    pub factor: Factor,
    pub failures: u32,
    /// Seconds until the next attempt is checked (0: now).
    pub retry_after_secs: u64,
    /// At the hard limit: refused until a reset or an administrator.
    pub blocked: bool,
}

/// Counts failures and refuses attempts while they are locked out.
#[derive(Clone)]
pub struct Lockout {
    counters: Arc<dyn Counters>,
    policy: FailurePolicy,
}

impl Lockout {
    pub fn new(counters: Arc<dyn Counters>, policy: FailurePolicy) -> Self {
        Self { counters, policy }
    }

    fn key(factor: Factor, identifier: &str) -> String {
        format!("fail:{}:{}", factor.name(), identifier_key(identifier))
    }

    /// May `identifier` try `factor` now? Refused during a wait and at the
    /// hard limit, before anything is checked.
    pub async fn check(&self, factor: Factor, identifier: &str) -> Result<(), AuthError> {
        let record = self
            .counters
            .failures(&Self::key(factor, identifier), &self.policy)
            .await;
        self.refusal(factor, record).map_or(Ok(()), Err)
    }

    fn refusal(&self, factor: Factor, record: Failures) -> Option<AuthError> {
        let refusal = if record.count >= self.policy.hard_limit {
            AuthError::TooManyFailedAttempts {
                retry_after_secs: None,
            }
        } else if !record.wait.is_zero() {
            AuthError::TooManyFailedAttempts {
                retry_after_secs: Some(record.wait.as_secs_f64().ceil().max(1.0) as u64),
            }
        } else {
            return None;
        };
        metrics::counter!("authgate_lockout_refusals_total", "factor" => factor.name())
            .increment(1);
        Some(refusal)
    }

    /// Count the outcome of a check of `factor`: a wrong guess adds a
    /// failure, a success clears the record, anything else leaves it.
    pub async fn record<T>(&self, factor: Factor, identifier: &str, result: &Result<T, AuthError>) {
        match result {
            Ok(_) => self.clear(factor, identifier).await,
            Err(err) if factor.is_wrong_guess(err) => {
                let record = self
                    .counters
                    .add_failure(&Self::key(factor, identifier), &self.policy)
                    .await;
                metrics::counter!("authgate_failed_attempts_total", "factor" => factor.name())
                    .increment(1);
                if record.count == self.policy.hard_limit {
                    tracing::warn!(
                        factor = factor.name(),
                        "failure limit reached: refused until a reset or an administrator clears it"
                    );
                }
            }
            Err(_) => {}
        }
    }

    /// Check, run `attempt`, count its outcome: the whole guard around one
    /// check of a secret.
    pub async fn guard<T>(
        &self,
        factor: Factor,
        identifier: &str,
        attempt: impl Future<Output = Result<T, AuthError>>,
    ) -> Result<T, AuthError> {
        self.check(factor, identifier).await?;
        let result = attempt.await;
        self.record(factor, identifier, &result).await;
        result
    }

    /// Every factor's record of `identifier`.
    pub async fn status(&self, identifier: &str) -> Vec<FactorLockout> {
        let mut out = Vec::with_capacity(Factor::ALL.len());
        for factor in Factor::ALL {
            let record = self
                .counters
                .failures(&Self::key(factor, identifier), &self.policy)
                .await;
            out.push(FactorLockout {
                factor,
                failures: record.count,
                retry_after_secs: record.wait.as_secs_f64().ceil() as u64,
                blocked: record.count >= self.policy.hard_limit,
            });
        }
        out
    }

    /// Forget `identifier`'s failures of `factor`.
    pub async fn clear(&self, factor: Factor, identifier: &str) {
        self.counters
            .clear_failures(&Self::key(factor, identifier))
            .await;
    }

    /// Forget every factor's failures of `identifier` (an administrator).
    pub async fn clear_all(&self, identifier: &str) {
        for factor in Factor::ALL {
            self.clear(factor, identifier).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protection::counters::LocalCounters;
    use std::time::Duration;

    fn lockout(threshold: u32, hard_limit: u32) -> Lockout {
        Lockout::new(
            Arc::new(LocalCounters::new()),
            FailurePolicy {
                threshold,
                hard_limit,
                max_wait: Duration::from_secs(60),
                ..FailurePolicy::default()
            },
        )
    }

    async fn wrong(lockout: &Lockout, factor: Factor, who: &str) -> Result<(), AuthError> {
        let guess = match factor {
            Factor::Password => AuthError::InvalidCredentials,
            _ => AuthError::CodeMismatch,
        };
        lockout
            .guard(factor, who, async { Err::<(), _>(guess) })
            .await
    }

    #[tokio::test]
    async fn past_the_threshold_the_secret_is_not_checked() {
        let lockout = lockout(3, 100);
        for _ in 0..3 {
            assert_eq!(
                wrong(&lockout, Factor::Password, "a@example.com").await,
                Err(AuthError::InvalidCredentials)
            );
        }
        let checked = std::sync::atomic::AtomicBool::new(false);
        let refused = lockout
            .guard(Factor::Password, "a@example.com", async {
                checked.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            })
            .await;
        assert_eq!(
            refused,
            Err(AuthError::TooManyFailedAttempts {
                retry_after_secs: Some(1)
            })
        );
        assert!(
            !checked.into_inner(),
            "the right password was not even tried"
        );
        assert_eq!(
            lockout.check(Factor::Otp, "a@example.com").await,
            Ok(()),
            "factors are counted apart"
        );
        assert_eq!(
            lockout.check(Factor::Password, "b@example.com").await,
            Ok(()),
            "identifiers are counted apart"
        );
    }

    #[tokio::test]
    async fn a_success_clears_and_other_errors_do_not_count() {
        let lockout = lockout(2, 100);
        wrong(&lockout, Factor::MailedCode, "a@example.com")
            .await
            .ok();
        lockout
            .guard(Factor::MailedCode, "a@example.com", async {
                Err::<(), _>(AuthError::CodeExpired)
            })
            .await
            .ok();
        assert_eq!(lockout.status("a@example.com").await[2].failures, 1);
        lockout
            .guard(Factor::MailedCode, "a@example.com", async { Ok(()) })
            .await
            .unwrap();
        assert_eq!(lockout.status("a@example.com").await[2].failures, 0);
    }

    #[tokio::test]
    async fn at_the_hard_limit_it_stays_refused_until_cleared() {
        let lockout = Lockout::new(
            Arc::new(LocalCounters::new()),
            FailurePolicy {
                threshold: 100,
                hard_limit: 4,
                ..FailurePolicy::default()
            },
        );
        for _ in 0..4 {
            wrong(&lockout, Factor::Password, "a@example.com")
                .await
                .ok();
        }
        assert_eq!(
            lockout.check(Factor::Password, "a@example.com").await,
            Err(AuthError::TooManyFailedAttempts {
                retry_after_secs: None
            })
        );
        let status = lockout.status("a@example.com").await;
        assert!(status[0].blocked && status[0].failures == 4);
        lockout.clear_all("a@example.com").await;
        assert_eq!(
            lockout.check(Factor::Password, "a@example.com").await,
            Ok(())
        );
    }
}
