//! One-time recovery codes (any provider, stored by authgate): a fresh set
//! of ten whenever an authenticator becomes active, shown once, stored as
//! digests, each spendable once as the second factor at sign-in (embedded
//! provider), as `currentCode` when replacing an authenticator, and to skip
//! the cooling-off period between a mailed password reset and a
//! lost-authenticator reset (`AUTHGATE_MFA_RESET_COOLDOWN`).

use crate::notices::Notices;
use authgate_core::{AuthError, Provider, Secret, SecurityEvent, now_millis};
use authgate_embedded::codes::{generate_recovery_code, hash_recovery_code};
use authgate_store::Store;
use authgate_store::recovery::Recovery;
use std::time::Duration;

/// How many codes a set has.
pub const RECOVERY_CODES: usize = 10;

#[derive(Clone)]
pub struct RecoveryCodes {
    pub(crate) provider: Provider,
    pub(crate) store: Store,
    pub(crate) notices: Notices,
    /// `AUTHGATE_MFA_RESET_COOLDOWN`.
    pub(crate) cooldown: Duration,
}

impl RecoveryCodes {
    /// A fresh set of recovery codes for `sub`, replacing the old ones.
    pub(crate) async fn issue(&self, sub: &str) -> Result<Vec<Secret>, AuthError> {
        let codes: Vec<String> = (0..RECOVERY_CODES)
            .map(|_| generate_recovery_code())
            .collect();
        let hashes: Vec<String> = codes
            .iter()
            .filter_map(|code| hash_recovery_code(sub, code))
            .collect();
        self.store
            .replace_recovery_codes(self.provider.name(), sub, &hashes, now_millis())
            .await?;
        Ok(codes.into_iter().map(Secret::new).collect())
    }

    /// Is `code` an unused recovery code of `sub`? Spends nothing.
    pub(crate) async fn is_unused(&self, sub: &str, code: &Secret) -> Result<bool, AuthError> {
        match hash_recovery_code(sub, code.expose()) {
            Some(hash) => Ok(self
                .store
                .recovery_code_unused(self.provider.name(), sub, &hash)
                .await?),
            None => Ok(false),
        }
    }

    /// Spend `code` (true when it was an unused recovery code of `sub`) and
    /// tell the owner how many are left.
    pub(crate) async fn spend(
        &self,
        sub: &str,
        email: &str,
        code: &Secret,
    ) -> Result<bool, AuthError> {
        let Some(hash) = hash_recovery_code(sub, code.expose()) else {
            return Ok(false);
        };
        let spent = self
            .store
            .spend_recovery_code(self.provider.name(), sub, &hash, now_millis())
            .await?;
        if spent {
            self.used_notice(sub, email).await?;
        }
        Ok(spent)
    }

    /// Mail the owner that a recovery code was spent.
    pub(crate) async fn used_notice(&self, sub: &str, email: &str) -> Result<(), AuthError> {
        let remaining = self
            .store
            .recovery_codes_left(self.provider.name(), sub)
            .await?;
        self.notices
            .notice(
                email,
                SecurityEvent::RecoveryCodeUsed {
                    remaining: u32::try_from(remaining).unwrap_or(0),
                },
            )
            .await;
        Ok(())
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
        let ends = at.map(|at| at + self.cooldown.as_millis() as i64);
        Ok(ends
            .filter(|ends| *ends > now_millis())
            .map(|ends| authgate_core::rfc3339(ends / 1000)))
    }
}
