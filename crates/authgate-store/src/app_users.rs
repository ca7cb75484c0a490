//! Application users: authgate's own record of a person, keyed by
//! `(provider, provider_sub)`. Email and name are claims copied from the
//! provider, not keys.

use crate::{Store, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppUser {
    pub id: Uuid,
    pub provider: String,
    pub provider_sub: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// A platform role key (`admin`, …), if any.
    pub platform_role: Option<String>,
    pub created_at: i64,
}

fn from_row(row: &AnyRow) -> StoreResult<AppUser> {
    let id: String = row.try_get("id")?;
    Ok(AppUser {
        id: Uuid::parse_str(&id).map_err(|e| crate::StoreError::Other(e.to_string()))?,
        provider: row.try_get("provider")?,
        provider_sub: row.try_get("provider_sub")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        platform_role: row.try_get("platform_role")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    pub async fn find_app_user(&self, provider: &str, sub: &str) -> StoreResult<Option<AppUser>> {
        let row = sqlx::query(
            "SELECT id, provider, provider_sub, email, name, platform_role, created_at FROM app_users \
             WHERE provider = $1 AND provider_sub = $2",
        )
        .bind(provider)
        .bind(sub)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The app user for `(provider, sub)`, created on first sight. Safe under
    /// concurrent first calls: the unique key decides, every caller gets the
    /// same row. Email and name are refreshed when the provider's claims change.
    pub async fn find_or_create_app_user(
        &self,
        provider: &str,
        sub: &str,
        email: Option<&str>,
        name: Option<&str>,
        now: i64,
    ) -> StoreResult<AppUser> {
        if let Some(user) = self.find_app_user(provider, sub).await? {
            let changed = (email.is_some() && user.email.as_deref() != email)
                || (name.is_some() && user.name.as_deref() != name);
            if !changed {
                return Ok(user);
            }
            let _writing = self.write_guard().await;
            sqlx::query(
                "UPDATE app_users SET email = COALESCE($1, email), name = COALESCE($2, name), \
                 updated_at = $3 WHERE id = $4",
            )
            .bind(email)
            .bind(name)
            .bind(now)
            .bind(user.id.to_string())
            .execute(self.pool())
            .await?;
            return Ok(AppUser {
                email: email.map(str::to_string).or(user.email),
                name: name.map(str::to_string).or(user.name),
                ..user
            });
        }
        let writing = self.write_guard().await;
        sqlx::query(
            "INSERT INTO app_users (id, provider, provider_sub, email, name, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (provider, provider_sub) DO NOTHING",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(provider)
        .bind(sub)
        .bind(email)
        .bind(name)
        .bind(now)
        .execute(self.pool())
        .await?;
        drop(writing);
        self.find_app_user(provider, sub)
            .await?
            .ok_or_else(|| crate::StoreError::Other("app user vanished after insert".into()))
    }

    /// The app users of a provider with this email (a claim, not a key: there
    /// may be several, e.g. after an account was deleted and recreated).
    pub async fn app_users_by_email(
        &self,
        provider: &str,
        email: &str,
    ) -> StoreResult<Vec<AppUser>> {
        let rows = sqlx::query(
            "SELECT id, provider, provider_sub, email, name, platform_role, created_at FROM app_users \
             WHERE provider = $1 AND email = $2",
        )
        .bind(provider)
        .bind(email)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn app_user(&self, id: Uuid) -> StoreResult<Option<AppUser>> {
        let row = sqlx::query(
            "SELECT id, provider, provider_sub, email, name, platform_role, created_at \
             FROM app_users WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Give an app user a platform role key, or take it away (`None`).
    pub async fn set_platform_role(
        &self,
        id: Uuid,
        role: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        let _writing = self.write_guard().await;
        let done =
            sqlx::query("UPDATE app_users SET platform_role = $1, updated_at = $2 WHERE id = $3")
                .bind(role)
                .bind(now)
                .bind(id.to_string())
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn delete_app_user(&self, id: Uuid) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query("DELETE FROM app_users WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn count_app_users(&self, provider: &str, sub: &str) -> StoreResult<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM app_users WHERE provider = $1 AND provider_sub = $2",
        )
        .bind(provider)
        .bind(sub)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("n")?)
    }
}
