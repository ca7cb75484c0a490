//! Login transactions: the one service-owned record of a flow that crosses
//! requests (a password sign-in answered by a new password, a TOTP code or
//! an authenticator set-up; a lost-authenticator reset). Kept under the
//! digest of the opaque handle the client holds, with the provider, the
//! address it is bound to, the account when known, what was proved so far,
//! the step that comes next, the state of that step (through the field
//! cipher), a bounded number of tries and an expiry.

use crate::{Store, StoreResult};
use sqlx::Row;

use crate::cipher::LOGIN_STATE;

/// A login transaction as written.
#[derive(Clone, PartialEq, Eq)]
pub struct NewLoginTransaction<'a> {
    pub handle_hash: &'a str,
    pub provider: &'a str,
    pub email: &'a str,
    /// The account, when the service knows it.
    pub sub: Option<&'a str>,
    /// One pending transaction per account: this one replaces every other
    /// transaction of `(provider, sub)`.
    pub exclusive: bool,
    /// What was proved so far, e.g. `password`, `password,new_password`.
    pub proved: &'a str,
    /// The step that comes next (`new_password`, `totp`, `mfa_setup`).
    pub next_step: &'a str,
    pub provider_state: &'a str,
    pub expires_at: i64,
    pub created_at: i64,
}

/// A login transaction, as read back when a try is spent on it.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginTransaction {
    pub handle_hash: String,
    pub provider: String,
    pub email: String,
    pub sub: Option<String>,
    pub proved: String,
    pub next_step: String,
    pub provider_state: String,
    pub attempts: i64,
    pub expires_at: i64,
}

impl std::fmt::Debug for LoginTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginTransaction")
            .field("provider", &self.provider)
            .field("proved", &self.proved)
            .field("next_step", &self.next_step)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl Store {
    pub async fn create_login_transaction(&self, new: &NewLoginTransaction<'_>) -> StoreResult<()> {
        let state = self
            .cipher()
            .seal(&LOGIN_STATE, new.handle_hash, new.provider_state)?;
        let _writing = self.write_guard().await;
        let mut tx = self.pool().begin().await?;
        // Expired transactions are never answered; drop them as new ones come.
        sqlx::query("DELETE FROM login_transactions WHERE expires_at <= $1")
            .bind(new.created_at)
            .execute(&mut *tx)
            .await?;
        if let (true, Some(sub)) = (new.exclusive, new.sub) {
            sqlx::query("DELETE FROM login_transactions WHERE provider = $1 AND sub = $2")
                .bind(new.provider)
                .bind(sub)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO login_transactions (handle_hash, provider, email, sub, proved, \
             next_step, provider_state, attempts, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9)",
        )
        .bind(new.handle_hash)
        .bind(new.provider)
        .bind(new.email)
        .bind(new.sub)
        .bind(new.proved)
        .bind(new.next_step)
        .bind(state)
        .bind(new.expires_at)
        .bind(new.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Spend one try on a live transaction; `None` when it is unknown,
    /// expired or out of tries.
    pub async fn take_login_attempt(
        &self,
        handle_hash: &str,
        max_attempts: i64,
        now: i64,
    ) -> StoreResult<Option<LoginTransaction>> {
        let row = {
            let _writing = self.write_guard().await;
            sqlx::query(
                "UPDATE login_transactions SET attempts = attempts + 1 WHERE handle_hash = $1 \
                 AND attempts < $2 AND expires_at > $3 RETURNING handle_hash, provider, email, \
                 sub, proved, next_step, provider_state, attempts, expires_at",
            )
            .bind(handle_hash)
            .bind(max_attempts)
            .bind(now)
            .fetch_optional(self.pool())
            .await?
        };
        row.map(|row| {
            let stored: String = row.try_get("provider_state")?;
            let handle_hash: String = row.try_get("handle_hash")?;
            Ok(LoginTransaction {
                provider_state: self.cipher().open(&LOGIN_STATE, &handle_hash, &stored)?,
                handle_hash,
                provider: row.try_get("provider")?,
                email: row.try_get("email")?,
                sub: row.try_get("sub")?,
                proved: row.try_get("proved")?,
                next_step: row.try_get("next_step")?,
                attempts: row.try_get("attempts")?,
                expires_at: row.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Spend one try on the newest live transaction of `email` waiting for
    /// `next_step` (a client that lost its handle); `None` when there is none.
    pub async fn take_latest_login_attempt(
        &self,
        provider: &str,
        email: &str,
        next_step: &str,
        max_attempts: i64,
        now: i64,
    ) -> StoreResult<Option<LoginTransaction>> {
        let handle = {
            let row = sqlx::query(
                "SELECT handle_hash FROM login_transactions WHERE provider = $1 AND email = $2 \
                 AND next_step = $3 AND attempts < $4 AND expires_at > $5 \
                 ORDER BY created_at DESC LIMIT 1",
            )
            .bind(provider)
            .bind(email)
            .bind(next_step)
            .bind(max_attempts)
            .bind(now)
            .fetch_optional(self.pool())
            .await?;
            match row {
                Some(row) => row.try_get::<String, _>("handle_hash")?,
                None => return Ok(None),
            }
        };
        self.take_login_attempt(&handle, max_attempts, now).await
    }

    pub async fn delete_login_transaction(&self, handle_hash: &str) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query("DELETE FROM login_transactions WHERE handle_hash = $1")
            .bind(handle_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
