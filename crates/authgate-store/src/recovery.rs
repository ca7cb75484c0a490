//! Account recovery state (any provider): one-time recovery codes (digests,
//! each spent once), the times of the last mailed password reset and
//! authenticator replacement (for the cooling-off period between the two),
//! and the installation's own secrets.

use crate::{Store, StoreResult};
use sqlx::Row;

use crate::cipher::INSTANCE_SECRET;

/// The last recoveries of an account (Unix ms).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recoveries {
    pub password_reset_at: Option<i64>,
    pub mfa_reset_at: Option<i64>,
}

/// Which recovery happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    PasswordReset,
    MfaReset,
}

impl Store {
    /// Replace the account's recovery codes with `hashes` (one transaction).
    pub async fn replace_recovery_codes(
        &self,
        provider: &str,
        sub: &str,
        hashes: &[String],
        now: i64,
    ) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE provider = $1 AND sub = $2")
            .bind(provider)
            .bind(sub)
            .execute(&mut *tx)
            .await?;
        for hash in hashes {
            sqlx::query(
                "INSERT INTO recovery_codes (provider, sub, code_hash, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(provider)
            .bind(sub)
            .bind(hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Is `hash` an unused recovery code of the account? Spends nothing.
    pub async fn recovery_code_unused(
        &self,
        provider: &str,
        sub: &str,
        hash: &str,
    ) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT 1 AS found FROM recovery_codes WHERE provider = $1 AND sub = $2 \
             AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(provider)
        .bind(sub)
        .bind(hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Spend the recovery code `hash`: true when it was unused (atomically,
    /// so two requests never both spend one code).
    pub async fn spend_recovery_code(
        &self,
        provider: &str,
        sub: &str,
        hash: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let _writing = self.write_guard().await;
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE provider = $2 AND sub = $3 \
             AND code_hash = $4 AND used_at IS NULL",
        )
        .bind(now)
        .bind(provider)
        .bind(sub)
        .bind(hash)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// How many unused recovery codes the account has.
    pub async fn recovery_codes_left(&self, provider: &str, sub: &str) -> StoreResult<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS left_over FROM recovery_codes WHERE provider = $1 AND sub = $2 \
             AND used_at IS NULL",
        )
        .bind(provider)
        .bind(sub)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("left_over")?)
    }

    pub async fn record_recovery(
        &self,
        provider: &str,
        sub: &str,
        recovery: Recovery,
        now: i64,
    ) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        let sql = match recovery {
            Recovery::PasswordReset => {
                "INSERT INTO account_recoveries (provider, sub, password_reset_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (provider, sub) DO UPDATE SET \
                 password_reset_at = excluded.password_reset_at"
            }
            Recovery::MfaReset => {
                "INSERT INTO account_recoveries (provider, sub, mfa_reset_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (provider, sub) DO UPDATE SET \
                 mfa_reset_at = excluded.mfa_reset_at"
            }
        };
        sqlx::query(sql)
            .bind(provider)
            .bind(sub)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn recoveries(&self, provider: &str, sub: &str) -> StoreResult<Recoveries> {
        let row = sqlx::query(
            "SELECT password_reset_at, mfa_reset_at FROM account_recoveries \
             WHERE provider = $1 AND sub = $2",
        )
        .bind(provider)
        .bind(sub)
        .fetch_optional(self.pool())
        .await?;
        Ok(match row {
            None => Recoveries::default(),
            Some(row) => Recoveries {
                password_reset_at: row.try_get("password_reset_at")?,
                mfa_reset_at: row.try_get("mfa_reset_at")?,
            },
        })
    }

    /// The installation secret `name`, made from `fresh` on first use (the
    /// first writer wins when instances start together).
    pub async fn instance_secret(&self, name: &str, fresh: &str, now: i64) -> StoreResult<String> {
        let fresh = self.cipher().seal(&INSTANCE_SECRET, name, fresh)?;
        {
            let _writing = self.write_guard().await;
            sqlx::query(
                "INSERT INTO instance_secrets (name, value, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(fresh)
            .bind(now)
            .execute(self.pool())
            .await?;
        }
        let row = sqlx::query("SELECT value FROM instance_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(self.pool())
            .await?;
        self.cipher()
            .open(&INSTANCE_SECRET, name, &row.try_get::<String, _>("value")?)
    }
}
