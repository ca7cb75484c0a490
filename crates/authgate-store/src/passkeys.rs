//! The embedded provider's passkeys: one row per WebAuthn credential under
//! its (globally unique) credential id, with the owner, a name, webauthn-rs's
//! record of the credential (public key, signature counter, backup flags —
//! public material, stored as the provider serialises it), and when it was
//! made and last used. Deleting the user deletes their passkeys.

use crate::{Store, StoreResult};
use sqlx::Row;

/// A stored passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    /// base64url.
    pub credential_id: String,
    pub sub: String,
    pub name: Option<String>,
    /// The provider's serialised credential record.
    pub passkey: String,
    pub backed_up: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// The columns, in the order every query here reads and writes them.
macro_rules! columns {
    () => {
        "credential_id, sub, name, passkey, backed_up, created_at, last_used_at"
    };
}

fn row_to_passkey(row: &sqlx::any::AnyRow) -> StoreResult<StoredPasskey> {
    Ok(StoredPasskey {
        credential_id: row.try_get("credential_id")?,
        sub: row.try_get("sub")?,
        name: row.try_get("name")?,
        passkey: row.try_get("passkey")?,
        backed_up: row.try_get::<i64, _>("backed_up")? != 0,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

impl Store {
    /// Store a new passkey. A credential id that is registered already (to
    /// anyone) is [`crate::StoreError::Conflict`].
    pub async fn insert_passkey(&self, passkey: &StoredPasskey) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query(concat!(
            "INSERT INTO embedded_passkeys (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&passkey.credential_id)
        .bind(&passkey.sub)
        .bind(passkey.name.as_deref())
        .bind(&passkey.passkey)
        .bind(i64::from(passkey.backed_up))
        .bind(passkey.created_at)
        .bind(passkey.last_used_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A user's passkeys, oldest first.
    pub async fn passkeys_of(&self, sub: &str) -> StoreResult<Vec<StoredPasskey>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM embedded_passkeys WHERE sub = $1 ORDER BY created_at, credential_id"
        ))
        .bind(sub)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(row_to_passkey).collect()
    }

    /// One passkey by credential id, whoever owns it.
    pub async fn passkey(&self, credential_id: &str) -> StoreResult<Option<StoredPasskey>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM embedded_passkeys WHERE credential_id = $1"
        ))
        .bind(credential_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(row_to_passkey).transpose()
    }

    /// After a sign-in: the updated record (counter, backup flags) and when.
    /// `false` when the passkey was deleted meanwhile.
    pub async fn passkey_used(
        &self,
        credential_id: &str,
        passkey: &str,
        backed_up: bool,
        at: i64,
    ) -> StoreResult<bool> {
        let _writing = self.write_guard().await;
        let done = sqlx::query(
            "UPDATE embedded_passkeys SET passkey = $2, backed_up = $3, last_used_at = $4 \
             WHERE credential_id = $1",
        )
        .bind(credential_id)
        .bind(passkey)
        .bind(i64::from(backed_up))
        .bind(at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Delete `sub`'s passkey `credential_id`; `false` when `sub` has no such passkey.
    pub async fn delete_passkey(&self, sub: &str, credential_id: &str) -> StoreResult<bool> {
        let _writing = self.write_guard().await;
        let done =
            sqlx::query("DELETE FROM embedded_passkeys WHERE sub = $1 AND credential_id = $2")
                .bind(sub)
                .bind(credential_id)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }
}
