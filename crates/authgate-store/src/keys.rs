//! Signing keys of the embedded provider. The private key is kept as PKCS#8
//! DER (base64) so every instance sharing the database signs with the same
//! keys; the newest unretired key signs, older ones stay published until the
//! tokens they signed have expired.

use crate::{Store, StoreResult};
use sqlx::Row;

use crate::cipher::SIGNING_KEY;

#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    pub private_der_b64: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// All keys, newest first.
    pub async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
        let rows = sqlx::query(
            "SELECT kid, alg, private_der, created_at, retired_at FROM signing_keys \
             ORDER BY created_at DESC, kid DESC",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredKey {
                    private_der_b64: self.cipher().open(
                        &SIGNING_KEY,
                        &row.try_get::<String, _>("kid")?,
                        &row.try_get::<String, _>("private_der")?,
                    )?,
                    kid: row.try_get("kid")?,
                    alg: row.try_get("alg")?,
                    created_at: row.try_get("created_at")?,
                    retired_at: row.try_get("retired_at")?,
                })
            })
            .collect()
    }

    /// Add a key; it becomes the signing key. Earlier keys are marked retired
    /// (still published, no longer signing). Concurrent additions are
    /// serialised (SQLite has one writer; PostgreSQL takes a table lock), so
    /// exactly one key is ever unretired.
    pub async fn add_signing_key(&self, key: &StoredKey) -> StoreResult<()> {
        let private_der = self
            .cipher()
            .seal(&SIGNING_KEY, &key.kid, &key.private_der_b64)?;
        let _writing = self.write_guard().await;
        let mut tx = self.pool().begin().await?;
        if self.engine() == crate::Engine::Postgres {
            sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(key.created_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_der, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(private_der)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Drop keys retired before `before`: no token they signed is still valid.
    pub async fn prune_signing_keys(&self, before: i64) -> StoreResult<u64> {
        let _writing = self.write_guard().await;
        let done = sqlx::query(
            "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < $1",
        )
        .bind(before)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}
