//! The embedded provider's own tables: its users (with argon2id hashes) and
//! one-time codes (stored hashed, with an expiry and an attempt counter).

use crate::{Store, StoreError, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;

/// The account status of an embedded user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Unconfirmed,
    Confirmed,
    /// Created by an administrator with a temporary password.
    TemporaryPassword,
    /// An administrator required a password reset.
    ResetRequired,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Unconfirmed => "unconfirmed",
            UserStatus::Confirmed => "confirmed",
            UserStatus::TemporaryPassword => "temporary_password",
            UserStatus::ResetRequired => "reset_required",
        }
    }

    pub fn parse(value: &str) -> StoreResult<Self> {
        match value {
            "unconfirmed" => Ok(UserStatus::Unconfirmed),
            "confirmed" => Ok(UserStatus::Confirmed),
            "temporary_password" => Ok(UserStatus::TemporaryPassword),
            "reset_required" => Ok(UserStatus::ResetRequired),
            other => Err(StoreError::Other(format!("unknown user status {other}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedUser {
    pub sub: String,
    pub email: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub password_hash: String,
    pub status: UserStatus,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
}

pub struct NewEmbeddedUser<'a> {
    pub sub: &'a str,
    pub email: &'a str,
    pub name: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub password_hash: &'a str,
    pub status: UserStatus,
}

/// A stored one-time code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCode {
    pub code_hash: String,
    pub attempts: i64,
    pub expires_at: i64,
}

fn code_from_row(row: &AnyRow) -> StoreResult<StoredCode> {
    Ok(StoredCode {
        code_hash: row.try_get("code_hash")?,
        attempts: row.try_get("attempts")?,
        expires_at: row.try_get("expires_at")?,
    })
}

/// An embedded user from a row with its columns; `created_at` names the
/// column of its creation time (another table's row may have its own).
pub(crate) fn user_from_row(row: &AnyRow, created_at: &str) -> StoreResult<EmbeddedUser> {
    let status: String = row.try_get("status")?;
    Ok(EmbeddedUser {
        sub: row.try_get("sub")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        phone: row.try_get("phone")?,
        password_hash: row.try_get("password_hash")?,
        status: UserStatus::parse(&status)?,
        disabled_at: row.try_get("disabled_at")?,
        created_at: row.try_get(created_at)?,
    })
}

impl Store {
    /// Insert a user; [`StoreError::Conflict`] when the email is taken.
    pub async fn insert_embedded_user(
        &self,
        user: NewEmbeddedUser<'_>,
        now: i64,
    ) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query(
            "INSERT INTO embedded_users (sub, email, name, phone, password_hash, status, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(user.sub)
        .bind(user.email)
        .bind(user.name)
        .bind(user.phone)
        .bind(user.password_hash)
        .bind(user.status.as_str())
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn embedded_user_by_email(&self, email: &str) -> StoreResult<Option<EmbeddedUser>> {
        let row = sqlx::query(concat!(
            "SELECT sub, email, name, phone, password_hash, status, disabled_at, created_at ",
            "FROM embedded_users WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref()
            .map(|row| user_from_row(row, "created_at"))
            .transpose()
    }

    pub async fn embedded_user_by_sub(&self, sub: &str) -> StoreResult<Option<EmbeddedUser>> {
        let row = sqlx::query(concat!(
            "SELECT sub, email, name, phone, password_hash, status, disabled_at, created_at ",
            "FROM embedded_users WHERE sub = $1"
        ))
        .bind(sub)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref()
            .map(|row| user_from_row(row, "created_at"))
            .transpose()
    }

    /// A user's status (and whether the change happened).
    pub async fn set_embedded_status(
        &self,
        sub: &str,
        status: UserStatus,
        now: i64,
    ) -> StoreResult<bool> {
        let _writing = self.write_guard().await;
        let done =
            sqlx::query("UPDATE embedded_users SET status = $1, updated_at = $2 WHERE sub = $3")
                .bind(status.as_str())
                .bind(now)
                .bind(sub)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Disable (`Some(time)`) or enable (`None`) a user.
    pub async fn set_embedded_disabled(
        &self,
        sub: &str,
        disabled_at: Option<i64>,
        now: i64,
    ) -> StoreResult<bool> {
        let _writing = self.write_guard().await;
        let done = sqlx::query(
            "UPDATE embedded_users SET disabled_at = $1, updated_at = $2 WHERE sub = $3",
        )
        .bind(disabled_at)
        .bind(now)
        .bind(sub)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Delete a user with their codes, authenticator, challenges and sessions.
    pub async fn delete_embedded_user(&self, sub: &str) -> StoreResult<bool> {
        let _writing = self.write_guard().await;
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM refresh_families WHERE sub = $1")
            .bind(sub)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM embedded_users WHERE sub = $1")
            .bind(sub)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Users whose email starts with `email_prefix` and with `status`, oldest first.
    pub async fn list_embedded_users(
        &self,
        email_prefix: Option<&str>,
        status: Option<UserStatus>,
        limit: i64,
    ) -> StoreResult<Vec<EmbeddedUser>> {
        let pattern = email_prefix.map(|p| {
            let escaped = p
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("{escaped}%")
        });
        let rows = sqlx::query(concat!(
            "SELECT sub, email, name, phone, password_hash, status, disabled_at, created_at ",
            "FROM embedded_users WHERE ($1 IS NULL OR email LIKE $1 ESCAPE '\\') ",
            "AND ($2 IS NULL OR status = $2) ORDER BY created_at, sub LIMIT $3"
        ))
        .bind(pattern)
        .bind(status.map(|s| s.as_str()))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| user_from_row(row, "created_at"))
            .collect()
    }

    pub async fn embedded_users_by_phone(&self, phone: &str) -> StoreResult<Vec<EmbeddedUser>> {
        let rows = sqlx::query(concat!(
            "SELECT sub, email, name, phone, password_hash, status, disabled_at, created_at ",
            "FROM embedded_users WHERE phone = $1 ORDER BY created_at"
        ))
        .bind(phone)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| user_from_row(row, "created_at"))
            .collect()
    }

    /// Move an unconfirmed user to confirmed. The sign-up code stays (it
    /// expires as it would have): presented again, it answers "already
    /// confirmed" where any other code answers "wrong code". Returns false
    /// when the user was not unconfirmed.
    pub async fn confirm_embedded_user(&self, sub: &str, now: i64) -> StoreResult<bool> {
        let _writing = self.write_guard().await;
        let updated = sqlx::query(
            "UPDATE embedded_users SET status = 'confirmed', updated_at = $1 \
             WHERE sub = $2 AND status = 'unconfirmed'",
        )
        .bind(now)
        .bind(sub)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// A new sign-up for an address whose account is still unconfirmed:
    /// the pending password, name and phone are replaced and every code of
    /// the account voided. False when the account is no longer unconfirmed.
    pub async fn restart_pending_sign_up(
        &self,
        sub: &str,
        password_hash: &str,
        name: Option<&str>,
        phone: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        let _writing = self.write_guard().await;
        let mut tx = self.pool().begin().await?;
        let updated = sqlx::query(
            "UPDATE embedded_users SET password_hash = $1, name = $2, phone = $3, updated_at = $4 \
             WHERE sub = $5 AND status = 'unconfirmed'",
        )
        .bind(password_hash)
        .bind(name)
        .bind(phone)
        .bind(now)
        .bind(sub)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 1 {
            sqlx::query("DELETE FROM embedded_codes WHERE sub = $1")
                .bind(sub)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(updated == 1)
    }

    /// Store a code for `(sub, purpose)`, replacing any earlier one.
    pub async fn put_code(
        &self,
        sub: &str,
        purpose: &str,
        code_hash: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query(
            "INSERT INTO embedded_codes (sub, purpose, code_hash, attempts, expires_at, created_at) \
             VALUES ($1, $2, $3, 0, $4, $5) ON CONFLICT (sub, purpose) DO UPDATE SET \
             code_hash = excluded.code_hash, attempts = 0, expires_at = excluded.expires_at, \
             created_at = excluded.created_at",
        )
        .bind(sub)
        .bind(purpose)
        .bind(code_hash)
        .bind(expires_at)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn get_code(&self, sub: &str, purpose: &str) -> StoreResult<Option<StoredCode>> {
        let row = sqlx::query(
            "SELECT code_hash, attempts, expires_at FROM embedded_codes \
             WHERE sub = $1 AND purpose = $2",
        )
        .bind(sub)
        .bind(purpose)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(code_from_row).transpose()
    }

    /// Spend one try on the code of `(sub, purpose)`: atomically counts the
    /// try and returns the code, or `None` when there is no usable code
    /// (missing, expired, or its `max_attempts` tries are spent). Counting
    /// before comparing bounds the guesses even under concurrent requests.
    pub async fn take_code_attempt(
        &self,
        sub: &str,
        purpose: &str,
        max_attempts: i64,
        now: i64,
    ) -> StoreResult<Option<StoredCode>> {
        let _writing = self.write_guard().await;
        let row = sqlx::query(
            "UPDATE embedded_codes SET attempts = attempts + 1 WHERE sub = $1 AND purpose = $2 \
             AND attempts < $3 AND expires_at > $4 RETURNING code_hash, attempts, expires_at",
        )
        .bind(sub)
        .bind(purpose)
        .bind(max_attempts)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(code_from_row).transpose()
    }

    /// Spend a code that did its job: it stays, unusable, until it expires,
    /// so presenting it again answers "expired" rather than "wrong".
    pub async fn retire_code(&self, sub: &str, purpose: &str) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query("UPDATE embedded_codes SET attempts = $1 WHERE sub = $2 AND purpose = $3")
            .bind(i64::from(i32::MAX))
            .bind(sub)
            .bind(purpose)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn delete_code(&self, sub: &str, purpose: &str) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query("DELETE FROM embedded_codes WHERE sub = $1 AND purpose = $2")
            .bind(sub)
            .bind(purpose)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
