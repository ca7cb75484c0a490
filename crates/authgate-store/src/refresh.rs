//! Refresh-token families. A family is one signed-in session; each refresh
//! rotates its token. Tokens are stored as SHA-256 hashes only. Presenting a
//! token that was already rotated is reuse: the whole family is revoked —
//! unless it is a retry: the token rotated last, presented again within the
//! reuse interval while its replacement is still unused (a double submit,
//! two tabs, a lost answer). The caller derives the replacement from the
//! presented token, so a retry gets the very same child.

use crate::embedded::{EmbeddedUser, user_from_row};
use crate::{Store, StoreError, StoreResult};
use authgate_core::ContextStamp;
use sqlx::Row;
use sqlx::any::AnyRow;

/// The embedded user of the family row being read or updated, as scalar
/// subqueries (both engines accept them in `RETURNING`), so a rotation
/// answers its user without a second statement.
macro_rules! family_user {
    () => {
        "(SELECT e.email FROM embedded_users e WHERE e.sub = refresh_families.sub) AS email, \
         (SELECT e.name FROM embedded_users e WHERE e.sub = refresh_families.sub) AS name, \
         (SELECT e.phone FROM embedded_users e WHERE e.sub = refresh_families.sub) AS phone, \
         (SELECT e.password_hash FROM embedded_users e WHERE e.sub = refresh_families.sub) \
         AS password_hash, \
         (SELECT e.status FROM embedded_users e WHERE e.sub = refresh_families.sub) AS status, \
         (SELECT e.disabled_at FROM embedded_users e WHERE e.sub = refresh_families.sub) \
         AS disabled_at, \
         (SELECT e.created_at FROM embedded_users e WHERE e.sub = refresh_families.sub) \
         AS user_created_at"
    };
}

/// Move a family from generation `$2` to the next, answering its user.
const ADVANCE: &str = concat!(
    "UPDATE refresh_families SET generation = generation + 1, rotated_at = $3 \
     WHERE id = $1 AND generation = $2 AND revoked_at IS NULL AND expires_at > $3 \
     RETURNING sub, auth_time, ",
    family_user!()
);

/// A family's state, to tell a retry from reuse, with its user.
const FAMILY_STATE: &str = concat!(
    "SELECT sub, auth_time, generation, rotated_at, revoked_at, expires_at, ",
    family_user!(),
    " FROM refresh_families WHERE id = $1"
);

/// The family's subject, auth time and embedded user from a row that
/// selected [`family_user!`].
fn advanced_from_row(row: &AnyRow) -> StoreResult<Advanced> {
    let email: Option<String> = row.try_get("email")?;
    Ok(Advanced {
        sub: row.try_get("sub")?,
        auth_time: row.try_get("auth_time")?,
        user: match email {
            Some(_) => Some(user_from_row(row, "user_created_at")?),
            None => None,
        },
    })
}

/// A refresh family's state at a session check (see [`Store::family_session`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilySession {
    pub live: bool,
    pub context: Option<ContextStamp>,
}

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was live; it is now used and `new_hash` replaces it.
    Rotated {
        family_id: String,
        sub: String,
        auth_time: i64,
    },
    /// No such token, or it expired.
    Unknown,
    /// The token's family was revoked (sign-out, disable, reuse).
    Revoked,
    /// The token had already been rotated: the family is now revoked.
    Reused { family_id: String, sub: String },
    /// A retry of the token rotated last, within the interval: `new_hash`
    /// (the same child as the first time) is still the family's live token.
    Retried {
        family_id: String,
        sub: String,
        auth_time: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFamily<'a> {
    pub family_id: &'a str,
    pub sub: &'a str,
    pub auth_time: i64,
    /// The digest of the first token of a legacy chain (stored in
    /// `refresh_tokens`); `None` for a family whose tokens name their
    /// generation ([`Store::advance_refresh_family`]).
    pub token_hash: Option<&'a str>,
    pub expires_at: i64,
}

/// A family that moved (or had moved) to its next generation, with the
/// embedded user it belongs to, read in the same statement (`None` when the
/// family's subject has no embedded account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advanced {
    pub sub: String,
    pub auth_time: i64,
    pub user: Option<EmbeddedUser>,
}

/// The outcome of presenting generation `g` of a family to
/// [`Store::advance_refresh_family`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdvanceOutcome {
    /// `g` was the family's current generation; `g + 1` now is.
    Rotated(Advanced),
    /// `g` was rotated last, within the reuse interval, and `g + 1` is still
    /// unused: the caller answers `g + 1` again.
    Retried(Advanced),
    /// `g` is older than the current generation: the family is now revoked.
    Reused { sub: String },
    /// The family was revoked (sign-out, disable, reuse).
    Revoked,
    /// No such family, it expired, or `g` is beyond its current generation.
    Unknown,
}

impl Store {
    /// Start a family with its first token.
    pub async fn create_refresh_family(&self, family: NewFamily<'_>, now: i64) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        let insert_family = sqlx::query(
            "INSERT INTO refresh_families (id, sub, auth_time, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(family.family_id)
        .bind(family.sub)
        .bind(family.auth_time)
        .bind(now)
        .bind(family.expires_at);
        let Some(token_hash) = family.token_hash else {
            insert_family.execute(self.pool()).await?;
            return Ok(());
        };
        let mut tx = self.pool().begin().await?;
        insert_family.execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(family.family_id)
        .bind(now)
        .bind(family.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Present generation `generation` of a family: one `UPDATE` moves the
    /// family to the next generation when `generation` is its current one
    /// (atomic on both engines: of concurrent presentations exactly one
    /// rotates). Otherwise the family is read to tell a retry (within
    /// `reuse_interval_ms`, 0: none) from reuse, which revokes it.
    pub async fn advance_refresh_family(
        &self,
        family_id: &str,
        generation: i64,
        now: i64,
        reuse_interval_ms: i64,
    ) -> StoreResult<AdvanceOutcome> {
        let advance = || {
            sqlx::query(ADVANCE)
                .bind(family_id)
                .bind(generation)
                .bind(now)
        };
        let advanced = match self.write_guard().await {
            Some(mut writer) => {
                let answer = advance()
                    .fetch_optional(writer.connection().await?)
                    .await
                    .map_err(StoreError::from);
                writer.done(answer)?
            }
            None => advance().fetch_optional(self.pool()).await?,
        };
        if let Some(row) = advanced {
            return Ok(AdvanceOutcome::Rotated(advanced_from_row(&row)?));
        }
        let row = sqlx::query(FAMILY_STATE)
            .bind(family_id)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else {
            return Ok(AdvanceOutcome::Unknown);
        };
        let current: i64 = row.try_get("generation")?;
        let rotated_at: Option<i64> = row.try_get("rotated_at")?;
        let revoked_at: Option<i64> = row.try_get("revoked_at")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let sub: String = row.try_get("sub")?;
        if revoked_at.is_some() {
            return Ok(AdvanceOutcome::Revoked);
        }
        if expires_at <= now || generation > current {
            return Ok(AdvanceOutcome::Unknown);
        }
        let retry = reuse_interval_ms > 0
            && current == generation + 1
            && rotated_at.is_some_and(|at| now - at <= reuse_interval_ms);
        if retry {
            return Ok(AdvanceOutcome::Retried(advanced_from_row(&row)?));
        }
        self.revoke_family(family_id, "refresh_token_reused", now)
            .await?;
        Ok(AdvanceOutcome::Reused { sub })
    }

    /// Use the token `old_hash` of a legacy chain once and put `new_hash` in
    /// its place, atomically.
    /// Concurrent uses of one token: exactly one rotates; the others are
    /// retries within `reuse_interval_ms` (0: none) and reuse after it.
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: i64,
        reuse_interval_ms: i64,
    ) -> StoreResult<RotateOutcome> {
        let writing = self.write_guard().await;
        let mut tx = self.pool().begin().await?;
        let claimed = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1, replaced_by = $3 \
             WHERE token_hash = $2 AND used_at IS NULL \
             AND expires_at > $1 AND family_id IN \
             (SELECT id FROM refresh_families WHERE revoked_at IS NULL) \
             RETURNING family_id, expires_at",
        )
        .bind(now)
        .bind(old_hash)
        .bind(new_hash)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = claimed {
            let family_id: String = row.try_get("family_id")?;
            let expires_at: i64 = row.try_get("expires_at")?;
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(new_hash)
            .bind(&family_id)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            drop(writing);
            let family = sqlx::query("SELECT sub, auth_time FROM refresh_families WHERE id = $1")
                .bind(&family_id)
                .fetch_one(self.pool())
                .await?;
            return Ok(RotateOutcome::Rotated {
                family_id,
                sub: family.try_get("sub")?,
                auth_time: family.try_get("auth_time")?,
            });
        }
        tx.rollback().await?;
        drop(writing);

        let row = sqlx::query(
            "SELECT t.family_id, t.used_at, t.expires_at, t.replaced_by, f.sub, f.auth_time, \
             f.revoked_at, c.used_at AS child_used_at, c.expires_at AS child_expires_at \
             FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id \
             LEFT JOIN refresh_tokens c ON c.token_hash = t.replaced_by \
             WHERE t.token_hash = $1",
        )
        .bind(old_hash)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(RotateOutcome::Unknown);
        };
        let revoked_at: Option<i64> = row.try_get("revoked_at")?;
        let used_at: Option<i64> = row.try_get("used_at")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let family_id: String = row.try_get("family_id")?;
        if revoked_at.is_some() {
            return Ok(RotateOutcome::Revoked);
        }
        if let Some(used_at) = used_at {
            let replaced_by: Option<String> = row.try_get("replaced_by")?;
            let child_used_at: Option<i64> = row.try_get("child_used_at")?;
            let child_expires_at: Option<i64> = row.try_get("child_expires_at")?;
            let retry = reuse_interval_ms > 0
                && now - used_at <= reuse_interval_ms
                && replaced_by.as_deref() == Some(new_hash)
                && child_used_at.is_none()
                && child_expires_at.is_some_and(|at| at > now);
            if retry {
                return Ok(RotateOutcome::Retried {
                    family_id,
                    sub: row.try_get("sub")?,
                    auth_time: row.try_get("auth_time")?,
                });
            }
            self.revoke_family(&family_id, "refresh_token_reused", now)
                .await?;
            return Ok(RotateOutcome::Reused {
                family_id,
                sub: row.try_get("sub")?,
            });
        }
        debug_assert!(expires_at <= now);
        Ok(RotateOutcome::Unknown)
    }

    pub async fn revoke_family(&self, family_id: &str, reason: &str, now: i64) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query(
            "UPDATE refresh_families SET revoked_at = $1, revoked_reason = $2 \
             WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(family_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Revoke every live family of a user; returns how many were revoked.
    pub async fn revoke_families_of(&self, sub: &str, reason: &str, now: i64) -> StoreResult<u64> {
        let _writing = self.write_guard().await;
        let done = sqlx::query(
            "UPDATE refresh_families SET revoked_at = $1, revoked_reason = $2 \
             WHERE sub = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(sub)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Revoke every live family of a user but `keep` (the caller's own session).
    pub async fn revoke_other_families(
        &self,
        sub: &str,
        keep: &str,
        reason: &str,
        now: i64,
    ) -> StoreResult<u64> {
        let _writing = self.write_guard().await;
        let done = sqlx::query(
            "UPDATE refresh_families SET revoked_at = $1, revoked_reason = $2 \
             WHERE sub = $3 AND id <> $4 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(sub)
        .bind(keep)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Is the family live (exists, not revoked, not expired)? Access tokens
    /// carry their family id in `origin_jti`. The same round trip reads the
    /// [`ContextStamp`] of the family's app user of `provider` (none before
    /// the user's first context).
    pub async fn family_session(
        &self,
        family_id: &str,
        sub: &str,
        provider: &str,
        now: i64,
    ) -> StoreResult<FamilySession> {
        let row = sqlx::query(
            "SELECT f.revoked_at, f.expires_at, u.id AS user_id, u.context_version \
             FROM refresh_families f \
             LEFT JOIN app_users u ON u.provider = $3 AND u.provider_sub = f.sub \
             WHERE f.id = $1 AND f.sub = $2",
        )
        .bind(family_id)
        .bind(sub)
        .bind(provider)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(FamilySession {
                live: false,
                context: None,
            });
        };
        let revoked_at: Option<i64> = row.try_get("revoked_at")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        Ok(FamilySession {
            live: revoked_at.is_none() && expires_at > now,
            context: crate::app_users::context_stamp(&row)?,
        })
    }
}
