//! Lost-authenticator recoveries (any provider): a session whose mailed code
//! and password are proven once (bounded tries), then a recovery-only token
//! that finishes the replacement. Secrets are stored as digests; the
//! provider's own state for the replacement (a Cognito session) is kept for
//! the few minutes the recovery lives.

use crate::{Store, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, PartialEq, Eq)]
pub struct MfaReset {
    pub session_hash: String,
    pub provider: String,
    pub sub: String,
    pub email: String,
    pub code_hash: String,
    pub attempts: i64,
    pub provider_state: Option<String>,
    pub expires_at: i64,
}

impl std::fmt::Debug for MfaReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaReset")
            .field("provider", &self.provider)
            .field("sub", &self.sub)
            .field("attempts", &self.attempts)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

const PROVIDER_STATE: &str = "mfa_resets.provider_state";

fn from_row(store: &Store, row: &AnyRow) -> StoreResult<MfaReset> {
    let state: Option<String> = row.try_get("provider_state")?;
    Ok(MfaReset {
        session_hash: row.try_get("session_hash")?,
        provider: row.try_get("provider")?,
        sub: row.try_get("sub")?,
        email: row.try_get("email")?,
        code_hash: row.try_get("code_hash")?,
        attempts: row.try_get("attempts")?,
        provider_state: state
            .map(|s| store.cipher().open(PROVIDER_STATE, &s))
            .transpose()?,
        expires_at: row.try_get("expires_at")?,
    })
}

impl Store {
    #[allow(clippy::too_many_arguments)]
    pub async fn create_mfa_reset(
        &self,
        session_hash: &str,
        provider: &str,
        sub: &str,
        email: &str,
        code_hash: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "DELETE FROM mfa_resets WHERE expires_at <= $1 OR (provider = $2 AND sub = $3)",
        )
        .bind(now)
        .bind(provider)
        .bind(sub)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO mfa_resets (session_hash, provider, sub, email, code_hash, expires_at, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(session_hash)
        .bind(provider)
        .bind(sub)
        .bind(email)
        .bind(code_hash)
        .bind(expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Spend one try on a live recovery that has not been verified yet.
    pub async fn take_mfa_reset_attempt(
        &self,
        session_hash: &str,
        max_attempts: i64,
        now: i64,
    ) -> StoreResult<Option<MfaReset>> {
        let _writing = self.write_guard().await;
        let row = sqlx::query(
            "UPDATE mfa_resets SET attempts = attempts + 1 WHERE session_hash = $1 \
             AND attempts < $2 AND expires_at > $3 AND recovery_hash IS NULL \
             RETURNING session_hash, provider, sub, email, code_hash, attempts, provider_state, \
             expires_at",
        )
        .bind(session_hash)
        .bind(max_attempts)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(|row| from_row(self, row)).transpose()
    }

    /// The code and password were proven: the recovery token takes over.
    pub async fn mark_mfa_reset_verified(
        &self,
        session_hash: &str,
        recovery_hash: &str,
        provider_state: Option<&str>,
        expires_at: i64,
    ) -> StoreResult<()> {
        let provider_state = provider_state
            .map(|s| self.cipher().seal(PROVIDER_STATE, s))
            .transpose()?;
        let _writing = self.write_guard().await;
        sqlx::query(
            "UPDATE mfa_resets SET recovery_hash = $1, provider_state = $2, expires_at = $3, \
             attempts = 0 WHERE session_hash = $4",
        )
        .bind(recovery_hash)
        .bind(provider_state)
        .bind(expires_at)
        .bind(session_hash)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Spend one try on a verified recovery, by its recovery token.
    pub async fn take_mfa_recovery_attempt(
        &self,
        recovery_hash: &str,
        max_attempts: i64,
        now: i64,
    ) -> StoreResult<Option<MfaReset>> {
        let _writing = self.write_guard().await;
        let row = sqlx::query(
            "UPDATE mfa_resets SET attempts = attempts + 1 WHERE recovery_hash = $1 \
             AND attempts < $2 AND expires_at > $3 \
             RETURNING session_hash, provider, sub, email, code_hash, attempts, provider_state, \
             expires_at",
        )
        .bind(recovery_hash)
        .bind(max_attempts)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(|row| from_row(self, row)).transpose()
    }

    pub async fn delete_mfa_reset(&self, session_hash: &str) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query("DELETE FROM mfa_resets WHERE session_hash = $1")
            .bind(session_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
