//! The authorization catalog: roles (a key, a scope, a description and the
//! grants it carries — all data, editable at run time) and the Cedar policies
//! stored beside them. A role cannot be deleted while a membership, an
//! invitation or a platform role assignment holds it.

use crate::{Engine, Store, StoreError, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Where a role applies: to the whole platform, or inside one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoleScope {
    Platform,
    Tenant,
}

impl RoleScope {
    pub fn as_str(self) -> &'static str {
        match self {
            RoleScope::Platform => "platform",
            RoleScope::Tenant => "tenant",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "platform" => Some(RoleScope::Platform),
            "tenant" => Some(RoleScope::Tenant),
            _ => None,
        }
    }
}

/// One role of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub scope: RoleScope,
    pub key: String,
    pub description: String,
    pub grants: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A stored Cedar policy text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRow {
    pub id: String,
    pub description: String,
    pub body: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What deleting a role did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleDeletion {
    Deleted,
    NotFound,
    /// Still held by this many assignments (memberships, invitations,
    /// platform users); nothing was deleted.
    InUse(i64),
}

fn role_from_row(row: &AnyRow) -> StoreResult<Role> {
    let scope: String = row.try_get("scope")?;
    let grants: String = row.try_get("grants")?;
    Ok(Role {
        scope: RoleScope::parse(&scope)
            .ok_or_else(|| StoreError::Other(format!("unknown role scope {scope}")))?,
        key: row.try_get("role_key")?,
        description: row.try_get("description")?,
        grants: parse_grants(&grants)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Grants are stored as a JSON array of strings.
pub(crate) fn parse_grants(text: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(text).map_err(|e| StoreError::Other(format!("stored grants: {e}")))
}

fn grants_json(grants: &[String]) -> String {
    serde_json::Value::from(grants.to_vec()).to_string()
}

fn policy_from_row(row: &AnyRow) -> StoreResult<PolicyRow> {
    Ok(PolicyRow {
        id: row.try_get("id")?,
        description: row.try_get("description")?,
        body: row.try_get("body")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Every role, platform roles first, then by key.
    pub async fn roles(&self) -> StoreResult<Vec<Role>> {
        let rows = sqlx::query(
            "SELECT scope, role_key, description, grants, created_at, updated_at FROM roles \
             ORDER BY scope, role_key",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(role_from_row).collect()
    }

    pub async fn role(&self, scope: RoleScope, key: &str) -> StoreResult<Option<Role>> {
        let row = sqlx::query(
            "SELECT scope, role_key, description, grants, created_at, updated_at FROM roles \
             WHERE scope = $1 AND role_key = $2",
        )
        .bind(scope.as_str())
        .bind(key)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(role_from_row).transpose()
    }

    /// Add a role; `Conflict` when the key exists in that scope.
    pub async fn insert_role(&self, role: &Role) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query(
            "INSERT INTO roles (scope, role_key, description, grants, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(role.scope.as_str())
        .bind(&role.key)
        .bind(&role.description)
        .bind(grants_json(&role.grants))
        .bind(role.created_at)
        .bind(role.updated_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Replace a role's description and grants; false when it does not exist.
    pub async fn update_role(
        &self,
        scope: RoleScope,
        key: &str,
        description: &str,
        grants: &[String],
        now: i64,
    ) -> StoreResult<bool> {
        let _writing = self.write_guard().await;
        let done = sqlx::query(
            "UPDATE roles SET description = $1, grants = $2, updated_at = $3 \
             WHERE scope = $4 AND role_key = $5",
        )
        .bind(description)
        .bind(grants_json(grants))
        .bind(now)
        .bind(scope.as_str())
        .bind(key)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Delete a role unless something holds it. The check and the delete
    /// are one transaction; on PostgreSQL the catalog row is locked first, and
    /// the foreign keys of memberships and invitations refuse a delete that
    /// would orphan them anyway.
    pub async fn delete_role(&self, scope: RoleScope, key: &str) -> StoreResult<RoleDeletion> {
        let _writing = self.write_guard().await;
        let mut tx = self.pool().begin().await?;
        let lock = match self.engine() {
            Engine::Postgres => {
                "SELECT role_key FROM roles WHERE scope = $1 AND role_key = $2 FOR UPDATE"
            }
            Engine::Sqlite => "SELECT role_key FROM roles WHERE scope = $1 AND role_key = $2",
        };
        let exists = sqlx::query(lock)
            .bind(scope.as_str())
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Ok(RoleDeletion::NotFound);
        }
        let holders: i64 = match scope {
            RoleScope::Tenant => sqlx::query(
                "SELECT (SELECT COUNT(*) FROM memberships WHERE role_key = $1) \
                     + (SELECT COUNT(*) FROM invitations WHERE role_key = $1) AS n",
            )
            .bind(key)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?,
            RoleScope::Platform => {
                sqlx::query("SELECT COUNT(*) AS n FROM app_users WHERE platform_role = $1")
                    .bind(key)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("n")?
            }
        };
        if holders > 0 {
            return Ok(RoleDeletion::InUse(holders));
        }
        let deleted = sqlx::query("DELETE FROM roles WHERE scope = $1 AND role_key = $2")
            .bind(scope.as_str())
            .bind(key)
            .execute(&mut *tx)
            .await;
        match deleted {
            Ok(_) => {
                tx.commit().await?;
                Ok(RoleDeletion::Deleted)
            }
            // A membership written between the count and the delete.
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                Ok(RoleDeletion::InUse(1))
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Every stored policy, oldest first.
    pub async fn policies(&self) -> StoreResult<Vec<PolicyRow>> {
        let rows = sqlx::query(
            "SELECT id, description, body, created_at, updated_at FROM policies \
             ORDER BY created_at, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(policy_from_row).collect()
    }

    pub async fn policy(&self, id: &str) -> StoreResult<Option<PolicyRow>> {
        let row = sqlx::query(
            "SELECT id, description, body, created_at, updated_at FROM policies WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(policy_from_row).transpose()
    }

    /// Insert or replace a policy (the caller validated the body).
    pub async fn upsert_policy(&self, policy: &PolicyRow) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query(
            "INSERT INTO policies (id, description, body, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET \
             description = excluded.description, body = excluded.body, \
             updated_at = excluded.updated_at",
        )
        .bind(&policy.id)
        .bind(&policy.description)
        .bind(&policy.body)
        .bind(policy.created_at)
        .bind(policy.updated_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn delete_policy(&self, id: &str) -> StoreResult<bool> {
        let _writing = self.write_guard().await;
        let done = sqlx::query("DELETE FROM policies WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
