//! Sign-out records for providers that do not track sessions themselves
//! (Cognito revokes tokens inside AWS only): the sessions authgate started,
//! keyed by the tokens' `origin_jti`, and each subject's last sign-out.

use crate::{Store, StoreResult};
use authgate_core::ContextStamp;
use sqlx::Row;

/// What authgate knows about the session of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Started through authgate and not signed out.
    Live,
    /// Started through authgate and signed out.
    Revoked,
    /// Not started through authgate; `signed_out_at` is the subject's last
    /// sign-out, if any.
    Unknown { signed_out_at: Option<i64> },
}

impl Store {
    /// Remember a session started through authgate (idempotent).
    pub async fn record_provider_session(
        &self,
        provider: &str,
        session_id: &str,
        sub: &str,
        now: i64,
    ) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query(
            "INSERT INTO provider_sessions (provider, session_id, sub, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (provider, session_id) DO NOTHING",
        )
        .bind(provider)
        .bind(session_id)
        .bind(sub)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Sign a subject out: revoke every recorded session and note the time.
    pub async fn revoke_provider_sessions(
        &self,
        provider: &str,
        sub: &str,
        now: i64,
    ) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE provider_sessions SET revoked_at = $1 \
             WHERE provider = $2 AND sub = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(provider)
        .bind(sub)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO subject_revocations (provider, sub, revoked_at) VALUES ($1, $2, $3) \
             ON CONFLICT (provider, sub) DO UPDATE SET revoked_at = excluded.revoked_at",
        )
        .bind(provider)
        .bind(sub)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revoke every recorded session of a subject but `keep` (the caller's).
    pub async fn revoke_other_provider_sessions(
        &self,
        provider: &str,
        sub: &str,
        keep: &str,
        now: i64,
    ) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query(
            "UPDATE provider_sessions SET revoked_at = $1 WHERE provider = $2 AND sub = $3 \
             AND session_id <> $4 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(provider)
        .bind(sub)
        .bind(keep)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// What authgate knows about the session of a token, and the
    /// [`ContextStamp`] of the subject's app user, in one round trip.
    pub async fn provider_session_state(
        &self,
        provider: &str,
        session_id: Option<&str>,
        sub: &str,
    ) -> StoreResult<(SessionState, Option<ContextStamp>)> {
        let row = sqlx::query(
            "SELECT s.sub AS session_sub, s.revoked_at AS session_revoked_at, \
             r.revoked_at AS signed_out_at, u.id AS user_id, u.context_version \
             FROM (SELECT 1 AS one) AS anchor \
             LEFT JOIN provider_sessions s \
               ON s.provider = $1 AND s.session_id = $2 AND s.sub = $3 \
             LEFT JOIN subject_revocations r ON r.provider = $1 AND r.sub = $3 \
             LEFT JOIN app_users u ON u.provider = $1 AND u.provider_sub = $3",
        )
        .bind(provider)
        .bind(session_id)
        .bind(sub)
        .fetch_one(self.pool())
        .await?;
        let state = if row.try_get::<Option<String>, _>("session_sub")?.is_some() {
            match row.try_get::<Option<i64>, _>("session_revoked_at")? {
                Some(_) => SessionState::Revoked,
                None => SessionState::Live,
            }
        } else {
            SessionState::Unknown {
                signed_out_at: row.try_get("signed_out_at")?,
            }
        };
        Ok((state, crate::app_users::context_stamp(&row)?))
    }
}
