//! Linked identities (federation): an identity at an external OpenID
//! provider — `(provider, subject)`, e.g. `("oidc:google", "1043…")` — and
//! the app user it signs in as. The pair is the key, never the address: an
//! address that changes upstream keeps the identity and its app user.

use crate::app_users::AppUser;
use crate::{Store, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

/// An identity at an external provider, linked to an app user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedIdentity {
    pub id: Uuid,
    pub user_id: Uuid,
    /// `oidc:<id>` of the configured provider.
    pub provider: String,
    /// The upstream issuer that vouched for it.
    pub issuer: String,
    /// The upstream `sub`.
    pub subject: String,
    /// The address the provider last said it verified.
    pub email: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    pub last_used_at: i64,
}

/// An identity to link.
#[derive(Debug, Clone, Copy)]
pub struct NewIdentity<'a> {
    pub user_id: Uuid,
    pub provider: &'a str,
    pub issuer: &'a str,
    pub subject: &'a str,
    pub email: Option<&'a str>,
}

/// The columns [`from_row`] reads.
macro_rules! columns {
    () => {
        "id, user_id, provider, issuer, subject, email, created_at, last_used_at"
    };
}

fn from_row(row: &AnyRow) -> StoreResult<LinkedIdentity> {
    let uuid = |name: &str| -> StoreResult<Uuid> {
        let text: String = row.try_get(name)?;
        Uuid::parse_str(&text).map_err(|e| crate::StoreError::Other(e.to_string()))
    };
    Ok(LinkedIdentity {
        id: uuid("id")?,
        user_id: uuid("user_id")?,
        provider: row.try_get("provider")?,
        issuer: row.try_get("issuer")?,
        subject: row.try_get("subject")?,
        email: row.try_get("email")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

impl Store {
    /// The identity `(provider, subject)` and the app user it signs in as.
    pub async fn linked_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> StoreResult<Option<(LinkedIdentity, AppUser)>> {
        let Some(row) = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM linked_identities WHERE provider = $1 AND subject = $2"
        ))
        .bind(provider)
        .bind(subject)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let identity = from_row(&row)?;
        Ok(self
            .app_user(identity.user_id)
            .await?
            .map(|user| (identity, user)))
    }

    /// Link an identity to an app user. An identity linked already (to
    /// anyone) is [`crate::StoreError::Conflict`]: a link never moves.
    pub async fn link_identity(
        &self,
        identity: &NewIdentity<'_>,
        now: i64,
    ) -> StoreResult<LinkedIdentity> {
        let id = Uuid::now_v7();
        let writing = self.write_guard().await;
        sqlx::query(
            "INSERT INTO linked_identities (id, user_id, provider, issuer, subject, email, \
             created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(id.to_string())
        .bind(identity.user_id.to_string())
        .bind(identity.provider)
        .bind(identity.issuer)
        .bind(identity.subject)
        .bind(identity.email)
        .bind(now)
        .execute(self.pool())
        .await?;
        drop(writing);
        Ok(LinkedIdentity {
            id,
            user_id: identity.user_id,
            provider: identity.provider.to_string(),
            issuer: identity.issuer.to_string(),
            subject: identity.subject.to_string(),
            email: identity.email.map(str::to_string),
            created_at: now,
            last_used_at: now,
        })
    }

    /// A sign-in with the identity: when, and the address it came with.
    pub async fn touch_identity(&self, id: Uuid, email: Option<&str>, now: i64) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query("UPDATE linked_identities SET email = $1, last_used_at = $2 WHERE id = $3")
            .bind(email)
            .bind(now)
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The identities linked to an app user, oldest first.
    pub async fn identities_of(&self, user_id: Uuid) -> StoreResult<Vec<LinkedIdentity>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM linked_identities WHERE user_id = $1 ORDER BY created_at, id"
        ))
        .bind(user_id.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Unlink an identity of this app user: false when it has none by `id`.
    pub async fn unlink_identity(&self, user_id: Uuid, id: Uuid) -> StoreResult<bool> {
        let _writing = self.write_guard().await;
        let done = sqlx::query("DELETE FROM linked_identities WHERE id = $1 AND user_id = $2")
            .bind(id.to_string())
            .bind(user_id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
