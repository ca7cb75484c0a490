//! Tenants (workspaces), memberships with a tenant role, and invitations
//! for addresses that have no app user yet (bound on their first sign-in).
//!
//! The rule that a tenant keeps at least one owner is enforced here, inside
//! the transaction that changes a membership: on PostgreSQL the tenant row is
//! locked first, on SQLite writes are serialised anyway, so two concurrent
//! demotions cannot both remove "the other" owner.

use crate::{Engine, Store, StoreError, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: Uuid,
    pub name: String,
    pub created_at: i64,
}

/// A tenant of a user, with the role there and the role's grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTenant {
    pub tenant: Tenant,
    pub role: String,
    pub grants: Vec<String>,
}

/// A member of a tenant as its members see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: Uuid,
    pub sub: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: String,
    pub since: i64,
}

/// An open invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub tenant_id: Uuid,
    pub email: String,
    pub role: String,
    pub invited_by: Option<String>,
    pub created_at: i64,
}

/// What a membership change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    Done,
    NotFound,
    /// The change would leave the tenant without an owner; nothing changed.
    LastOwner,
}

fn uuid_of(row: &AnyRow, column: &str) -> StoreResult<Uuid> {
    let text: String = row.try_get(column)?;
    Uuid::parse_str(&text).map_err(|e| StoreError::Other(e.to_string()))
}

fn tenant_from_row(row: &AnyRow) -> StoreResult<Tenant> {
    Ok(Tenant {
        id: uuid_of(row, "id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Create a tenant with `owner` as its first member in role `owner_role`.
    pub async fn create_tenant(
        &self,
        name: &str,
        owner: Uuid,
        owner_role: &str,
        now: i64,
    ) -> StoreResult<Tenant> {
        let tenant = Tenant {
            id: Uuid::now_v7(),
            name: name.to_string(),
            created_at: now,
        };
        let _writing = self.write_guard().await;
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO tenants (id, name, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(tenant.id.to_string())
        .bind(name)
        .bind(owner.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO memberships (tenant_id, user_id, role_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(tenant.id.to_string())
        .bind(owner.to_string())
        .bind(owner_role)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(tenant)
    }

    pub async fn tenant(&self, id: Uuid) -> StoreResult<Option<Tenant>> {
        let row = sqlx::query("SELECT id, name, created_at FROM tenants WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(tenant_from_row).transpose()
    }

    pub async fn rename_tenant(&self, id: Uuid, name: &str, now: i64) -> StoreResult<bool> {
        let _writing = self.write_guard().await;
        let done = sqlx::query("UPDATE tenants SET name = $1, updated_at = $2 WHERE id = $3")
            .bind(name)
            .bind(now)
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Delete a tenant with its memberships and invitations.
    pub async fn delete_tenant(&self, id: Uuid) -> StoreResult<bool> {
        let _writing = self.write_guard().await;
        let done = sqlx::query("DELETE FROM tenants WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The tenants of an app user with the role and its grants, by name.
    pub async fn user_tenants(&self, user_id: Uuid) -> StoreResult<Vec<UserTenant>> {
        let rows = sqlx::query(
            "SELECT t.id, t.name, t.created_at, m.role_key, r.grants FROM memberships m \
             JOIN tenants t ON t.id = m.tenant_id \
             JOIN roles r ON r.scope = m.role_scope AND r.role_key = m.role_key \
             WHERE m.user_id = $1 ORDER BY t.name, t.id",
        )
        .bind(user_id.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let grants: String = row.try_get("grants")?;
                Ok(UserTenant {
                    tenant: tenant_from_row(row)?,
                    role: row.try_get("role_key")?,
                    grants: crate::catalog::parse_grants(&grants)?,
                })
            })
            .collect()
    }

    /// The role of `user_id` in `tenant_id`, if a member.
    pub async fn membership_role(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
    ) -> StoreResult<Option<String>> {
        let row =
            sqlx::query("SELECT role_key FROM memberships WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant_id.to_string())
                .bind(user_id.to_string())
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|r| r.try_get("role_key")).transpose()?)
    }

    /// The members of a tenant, by email.
    pub async fn members(&self, tenant_id: Uuid) -> StoreResult<Vec<Member>> {
        let rows = sqlx::query(
            "SELECT u.id, u.provider_sub, u.email, u.name, m.role_key, m.created_at \
             FROM memberships m JOIN app_users u ON u.id = m.user_id \
             WHERE m.tenant_id = $1 ORDER BY u.email, u.id",
        )
        .bind(tenant_id.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Member {
                    user_id: uuid_of(row, "id")?,
                    sub: row.try_get("provider_sub")?,
                    email: row.try_get("email")?,
                    name: row.try_get("name")?,
                    role: row.try_get("role_key")?,
                    since: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Add a member; `Conflict` when the user is a member already.
    pub async fn add_member(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
        role: &str,
        now: i64,
    ) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query(
            "INSERT INTO memberships (tenant_id, user_id, role_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(tenant_id.to_string())
        .bind(user_id.to_string())
        .bind(role)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Change a member's role (`Some`) or remove the member (`None`), unless
    /// that leaves the tenant without a member in `owner_role`.
    pub async fn change_membership(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
        new_role: Option<&str>,
        owner_role: &str,
        now: i64,
    ) -> StoreResult<MembershipChange> {
        let _writing = self.write_guard().await;
        let mut tx = self.pool().begin().await?;
        if self.engine() == Engine::Postgres {
            sqlx::query("SELECT id FROM tenants WHERE id = $1 FOR UPDATE")
                .bind(tenant_id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        let current: Option<String> =
            sqlx::query("SELECT role_key FROM memberships WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant_id.to_string())
                .bind(user_id.to_string())
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("role_key"))
                .transpose()?;
        let Some(current) = current else {
            return Ok(MembershipChange::NotFound);
        };
        if current == owner_role && new_role != Some(owner_role) {
            let owners: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM memberships WHERE tenant_id = $1 AND role_key = $2",
            )
            .bind(tenant_id.to_string())
            .bind(owner_role)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
            if owners <= 1 {
                return Ok(MembershipChange::LastOwner);
            }
        }
        match new_role {
            Some(role) => {
                sqlx::query(
                    "UPDATE memberships SET role_key = $1, updated_at = $2 \
                     WHERE tenant_id = $3 AND user_id = $4",
                )
                .bind(role)
                .bind(now)
                .bind(tenant_id.to_string())
                .bind(user_id.to_string())
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2")
                    .bind(tenant_id.to_string())
                    .bind(user_id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(MembershipChange::Done)
    }

    /// Invite an address; `Conflict` when it is invited to this tenant already.
    pub async fn invite(&self, invitation: &Invitation) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query(
            "INSERT INTO invitations (tenant_id, email, role_key, invited_by, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(invitation.tenant_id.to_string())
        .bind(&invitation.email)
        .bind(&invitation.role)
        .bind(invitation.invited_by.as_deref())
        .bind(invitation.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The open invitations of a tenant.
    pub async fn invitations(&self, tenant_id: Uuid) -> StoreResult<Vec<Invitation>> {
        let rows = sqlx::query(
            "SELECT tenant_id, email, role_key, invited_by, created_at FROM invitations \
             WHERE tenant_id = $1 ORDER BY email",
        )
        .bind(tenant_id.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Invitation {
                    tenant_id: uuid_of(row, "tenant_id")?,
                    email: row.try_get("email")?,
                    role: row.try_get("role_key")?,
                    invited_by: row.try_get("invited_by")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Withdraw an invitation; false when there was none.
    pub async fn delete_invitation(&self, tenant_id: Uuid, email: &str) -> StoreResult<bool> {
        let _writing = self.write_guard().await;
        let done = sqlx::query("DELETE FROM invitations WHERE tenant_id = $1 AND email = $2")
            .bind(tenant_id.to_string())
            .bind(email)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Turn the invitations of `email` into memberships of `user_id`, in one
    /// transaction; returns what was bound. An existing membership wins over
    /// an invitation to the same tenant. Cheap when there is nothing to bind.
    pub async fn bind_invitations(
        &self,
        user_id: Uuid,
        email: &str,
        now: i64,
    ) -> StoreResult<Vec<Invitation>> {
        let pending = sqlx::query("SELECT 1 AS one FROM invitations WHERE email = $1 LIMIT 1")
            .bind(email)
            .fetch_optional(self.pool())
            .await?;
        if pending.is_none() {
            return Ok(Vec::new());
        }
        let _writing = self.write_guard().await;
        let mut tx = self.pool().begin().await?;
        let rows = sqlx::query(
            "DELETE FROM invitations WHERE email = $1 \
             RETURNING tenant_id, email, role_key, invited_by, created_at",
        )
        .bind(email)
        .fetch_all(&mut *tx)
        .await?;
        let mut bound = Vec::new();
        for row in &rows {
            let invitation = Invitation {
                tenant_id: uuid_of(row, "tenant_id")?,
                email: row.try_get("email")?,
                role: row.try_get("role_key")?,
                invited_by: row.try_get("invited_by")?,
                created_at: row.try_get("created_at")?,
            };
            let inserted = sqlx::query(
                "INSERT INTO memberships (tenant_id, user_id, role_key, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) ON CONFLICT (tenant_id, user_id) DO NOTHING",
            )
            .bind(invitation.tenant_id.to_string())
            .bind(user_id.to_string())
            .bind(&invitation.role)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 1 {
                bound.push(invitation);
            }
        }
        tx.commit().await?;
        Ok(bound)
    }
}
