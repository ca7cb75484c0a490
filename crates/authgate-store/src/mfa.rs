//! The embedded provider's TOTP authenticators (an active secret, a pending
//! one during enrolment, and the last accepted time step so a code is never
//! accepted twice) and its password updates. Sign-in challenges live in the
//! service's login transactions ([`crate::login`]).

use crate::{Store, StoreResult};
use sqlx::Row;

use crate::cipher::{TOTP_ACTIVE, TOTP_PENDING};

/// A user's TOTP state.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct TotpState {
    pub active_secret: Option<String>,
    pub pending_secret: Option<String>,
    pub last_step: i64,
}

impl std::fmt::Debug for TotpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpState")
            .field("active", &self.active_secret.is_some())
            .field("pending", &self.pending_secret.is_some())
            .field("last_step", &self.last_step)
            .finish()
    }
}

impl Store {
    pub async fn totp_state(&self, sub: &str) -> StoreResult<TotpState> {
        let row = sqlx::query(
            "SELECT active_secret, pending_secret, last_step FROM embedded_totp WHERE sub = $1",
        )
        .bind(sub)
        .fetch_optional(self.pool())
        .await?;
        Ok(match row {
            None => TotpState::default(),
            Some(row) => {
                let active: Option<String> = row.try_get("active_secret")?;
                let pending: Option<String> = row.try_get("pending_secret")?;
                TotpState {
                    active_secret: active
                        .map(|s| self.cipher().open(&TOTP_ACTIVE, sub, &s))
                        .transpose()?,
                    pending_secret: pending
                        .map(|s| self.cipher().open(&TOTP_PENDING, sub, &s))
                        .transpose()?,
                    last_step: row.try_get("last_step")?,
                }
            }
        })
    }

    /// Keep a secret being enrolled; the active one (if any) stays active.
    pub async fn set_pending_totp(&self, sub: &str, secret: &str, now: i64) -> StoreResult<()> {
        let secret = self.cipher().seal(&TOTP_PENDING, sub, secret)?;
        let _writing = self.write_guard().await;
        sqlx::query(
            "INSERT INTO embedded_totp (sub, pending_secret, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (sub) DO UPDATE SET pending_secret = excluded.pending_secret, \
             updated_at = excluded.updated_at",
        )
        .bind(sub)
        .bind(secret)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Make `secret` the active authenticator, with `step` already used.
    pub async fn activate_totp(
        &self,
        sub: &str,
        secret: &str,
        step: i64,
        now: i64,
    ) -> StoreResult<()> {
        let secret = self.cipher().seal(&TOTP_ACTIVE, sub, secret)?;
        let _writing = self.write_guard().await;
        sqlx::query(
            "INSERT INTO embedded_totp (sub, active_secret, last_step, enabled_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (sub) DO UPDATE SET \
             active_secret = excluded.active_secret, pending_secret = NULL, \
             last_step = excluded.last_step, enabled_at = excluded.enabled_at, \
             updated_at = excluded.updated_at",
        )
        .bind(sub)
        .bind(secret)
        .bind(step)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Accept the code of time step `step` once: false when that step (or a
    /// later one) was already used.
    pub async fn claim_totp_step(&self, sub: &str, step: i64, now: i64) -> StoreResult<bool> {
        let _writing = self.write_guard().await;
        let done = sqlx::query(
            "UPDATE embedded_totp SET last_step = $1, updated_at = $2 \
             WHERE sub = $3 AND last_step < $1",
        )
        .bind(step)
        .bind(now)
        .bind(sub)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn update_embedded_password(
        &self,
        sub: &str,
        password_hash: &str,
        now: i64,
    ) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        // A new password ends a temporary password or a required reset.
        sqlx::query(
            "UPDATE embedded_users SET password_hash = $1, updated_at = $2, \
             status = CASE WHEN status = 'unconfirmed' THEN status ELSE 'confirmed' END \
             WHERE sub = $3",
        )
        .bind(password_hash)
        .bind(now)
        .bind(sub)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Note that the user re-entered their password; valid until `until`.
    pub async fn record_password_verification(
        &self,
        provider: &str,
        sub: &str,
        until: i64,
    ) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query(
            "INSERT INTO password_verifications (provider, sub, verified_until) VALUES ($1, $2, $3) \
             ON CONFLICT (provider, sub) DO UPDATE SET verified_until = excluded.verified_until",
        )
        .bind(provider)
        .bind(sub)
        .bind(until)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Until when the user's last password re-verification holds, if any.
    pub async fn password_verified_until(
        &self,
        provider: &str,
        sub: &str,
    ) -> StoreResult<Option<i64>> {
        let row = sqlx::query(
            "SELECT verified_until FROM password_verifications WHERE provider = $1 AND sub = $2",
        )
        .bind(provider)
        .bind(sub)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("verified_until")).transpose()?)
    }
}
