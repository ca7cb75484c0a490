//! Machine clients of the OAuth `client_credentials` grant: an id, a name,
//! the scopes the client may ask for, and a hash of its secret (never the
//! secret itself).

use crate::{Store, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineClient {
    pub id: String,
    pub name: String,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

fn from_row(row: &AnyRow) -> StoreResult<MachineClient> {
    let scopes: String = row.try_get("scopes")?;
    Ok(MachineClient {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        secret_hash: row.try_get("secret_hash")?,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

impl Store {
    pub async fn insert_machine_client(&self, client: &MachineClient) -> StoreResult<()> {
        let _writing = self.write_guard().await;
        sqlx::query(
            "INSERT INTO machine_clients (id, name, secret_hash, scopes, created_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&client.id)
        .bind(&client.name)
        .bind(&client.secret_hash)
        .bind(client.scopes.join(" "))
        .bind(client.created_at)
        .bind(client.revoked_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn machine_client(&self, id: &str) -> StoreResult<Option<MachineClient>> {
        let row = sqlx::query(
            "SELECT id, name, secret_hash, scopes, created_at, revoked_at FROM machine_clients \
             WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn machine_clients(&self) -> StoreResult<Vec<MachineClient>> {
        let rows = sqlx::query(
            "SELECT id, name, secret_hash, scopes, created_at, revoked_at FROM machine_clients \
             ORDER BY created_at, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Revoke a client: its secret stops working and its tokens are refused.
    pub async fn revoke_machine_client(&self, id: &str, now: i64) -> StoreResult<bool> {
        let _writing = self.write_guard().await;
        let done = sqlx::query(
            "UPDATE machine_clients SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
