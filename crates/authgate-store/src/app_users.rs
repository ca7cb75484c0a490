//! Application users: authgate's own record of a person, keyed by
//! `(provider, provider_sub)`. Email and name are claims copied from the
//! provider, not keys.

use crate::{Store, StoreResult};
use authgate_core::ContextStamp;
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
    /// An authenticator app is enrolled (as of the last sign-in or
    /// enrolment through authgate).
    pub mfa_totp: bool,
    pub created_at: i64,
}

/// An app user with its authorization facts (see [`Store::context_snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextSnapshot {
    pub user: AppUser,
    /// The version this snapshot was read at.
    pub stamp: ContextStamp,
    pub platform_grants: Vec<String>,
    pub tenants: Vec<crate::tenants::UserTenant>,
}

/// The [`ContextStamp`] of a row holding the app user's `user_id` and
/// `context_version` (both null when the user has none yet).
pub(crate) fn context_stamp(row: &AnyRow) -> StoreResult<Option<ContextStamp>> {
    let Some(id) = row.try_get::<Option<String>, _>("user_id")? else {
        return Ok(None);
    };
    Ok(Some(ContextStamp {
        user_id: Uuid::parse_str(&id).map_err(|e| crate::StoreError::Other(e.to_string()))?,
        version: row.try_get("context_version")?,
    }))
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
        mfa_totp: row.try_get::<i64, _>("mfa_totp")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    pub async fn find_app_user(&self, provider: &str, sub: &str) -> StoreResult<Option<AppUser>> {
        let row = sqlx::query(
            "SELECT id, provider, provider_sub, email, name, platform_role, mfa_totp, created_at FROM app_users \
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
        Ok(self
            .upsert_app_user(provider, sub, email, name, now)
            .await?
            .0)
    }

    /// [`Self::find_or_create_app_user`], also telling whether the user is new
    /// or has a new email address (then invitations may bind).
    pub async fn upsert_app_user(
        &self,
        provider: &str,
        sub: &str,
        email: Option<&str>,
        name: Option<&str>,
        now: i64,
    ) -> StoreResult<(AppUser, bool)> {
        if let Some(user) = self.find_app_user(provider, sub).await? {
            let new_email = email.is_some() && user.email.as_deref() != email;
            let changed = new_email || (name.is_some() && user.name.as_deref() != name);
            if !changed {
                return Ok((user, false));
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
            return Ok((
                AppUser {
                    email: email.map(str::to_string).or(user.email),
                    name: name.map(str::to_string).or(user.name),
                    ..user
                },
                new_email,
            ));
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
        let user = self
            .find_app_user(provider, sub)
            .await?
            .ok_or_else(|| crate::StoreError::Other("app user vanished after insert".into()))?;
        Ok((user, true))
    }

    /// Record whether the user has an authenticator app.
    pub async fn set_app_user_mfa(&self, id: Uuid, totp: bool, now: i64) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query("UPDATE app_users SET mfa_totp = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(totp))
            .bind(now)
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Everything the user context needs, in one query: the app user, the
    /// grants of its platform role, and its tenants with role and grants.
    pub async fn context_snapshot(
        &self,
        provider: &str,
        sub: &str,
    ) -> StoreResult<Option<ContextSnapshot>> {
        let rows = sqlx::query(
            "SELECT u.id, u.provider, u.provider_sub, u.email, u.name, u.platform_role, \
             u.mfa_totp, u.created_at, u.id AS user_id, u.context_version, pr.grants AS platform_grants, t.id AS tenant_id, \
             t.name AS tenant_name, t.created_at AS tenant_created_at, m.role_key, \
             r.grants AS tenant_grants \
             FROM app_users u \
             LEFT JOIN roles pr ON pr.scope = 'platform' AND pr.role_key = u.platform_role \
             LEFT JOIN memberships m ON m.user_id = u.id \
             LEFT JOIN tenants t ON t.id = m.tenant_id \
             LEFT JOIN roles r ON r.scope = m.role_scope AND r.role_key = m.role_key \
             WHERE u.provider = $1 AND u.provider_sub = $2 ORDER BY t.name, t.id",
        )
        .bind(provider)
        .bind(sub)
        .fetch_all(self.pool())
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let user = from_row(first)?;
        let stamp = context_stamp(first)?
            .ok_or_else(|| crate::StoreError::Other("app user without an id".into()))?;
        let platform_grants = match first.try_get::<Option<String>, _>("platform_grants")? {
            Some(text) => crate::catalog::parse_grants(&text)?,
            None => Vec::new(),
        };
        let mut tenants = Vec::new();
        for row in &rows {
            let Some(id) = row.try_get::<Option<String>, _>("tenant_id")? else {
                continue;
            };
            let grants: Option<String> = row.try_get("tenant_grants")?;
            tenants.push(crate::tenants::UserTenant {
                tenant: crate::tenants::Tenant {
                    id: Uuid::parse_str(&id)
                        .map_err(|e| crate::StoreError::Other(e.to_string()))?,
                    name: row.try_get("tenant_name")?,
                    created_at: row.try_get("tenant_created_at")?,
                },
                role: row.try_get("role_key")?,
                grants: grants
                    .as_deref()
                    .map(crate::catalog::parse_grants)
                    .transpose()?
                    .unwrap_or_default(),
            });
        }
        Ok(Some(ContextSnapshot {
            user,
            stamp,
            platform_grants,
            tenants,
        }))
    }

    /// The app users of a provider with this email (a claim, not a key: there
    /// may be several, e.g. after an account was deleted and recreated).
    pub async fn app_users_by_email(
        &self,
        provider: &str,
        email: &str,
    ) -> StoreResult<Vec<AppUser>> {
        let rows = sqlx::query(
            "SELECT id, provider, provider_sub, email, name, platform_role, mfa_totp, created_at FROM app_users \
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
            "SELECT id, provider, provider_sub, email, name, platform_role, mfa_totp, created_at \
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
