//! Sealing what is stored: the pass that brings every secret column
//! ([`crate::cipher::SEALED_COLUMNS`]) under the store's cipher. At start-up
//! it seals the values an earlier version wrote in plain text (the data
//! migration that SQL cannot do); `authgate keys rewrap` runs it with the
//! previous key so every value is re-sealed under the new one. One
//! transaction: a failure leaves every row as it was.

use crate::cipher::{FieldCipher, SEALED_COLUMNS, is_sealed};
use crate::{Store, StoreResult};
use sqlx::Row;

/// What a sealing pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SealReport {
    /// Values written in plain text, now sealed.
    pub sealed_plain: u64,
    /// Values sealed under the previous key, now under the current one.
    pub rewrapped: u64,
    /// Values already sealed under the current key.
    pub current: u64,
}

impl Store {
    /// Seal every secret value that is not yet sealed under this store's
    /// cipher: plain values as they are, sealed ones after opening them with
    /// `previous`. A value sealed under a key that is neither fails the whole
    /// pass with a message naming both keys.
    pub async fn seal_secrets(
        &self,
        previous: Option<&dyn FieldCipher>,
    ) -> StoreResult<SealReport> {
        let mut report = SealReport::default();
        let _writing = self.write_guard().await;
        let mut tx = self.pool().begin().await?;
        for column in SEALED_COLUMNS {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {id}, {col} FROM {table} WHERE {col} IS NOT NULL",
                id = column.row_id,
                col = column.column,
                table = column.table
            )))
            .fetch_all(&mut *tx)
            .await?;
            for row in rows {
                let id: String = row.try_get(0)?;
                let stored: String = row.try_get(1)?;
                if self.cipher().is_current(&stored) {
                    report.current += 1;
                    continue;
                }
                let plain = match (is_sealed(&stored), previous) {
                    (false, _) => {
                        report.sealed_plain += 1;
                        stored.clone()
                    }
                    (true, Some(previous)) => {
                        report.rewrapped += 1;
                        previous.open(&column, &id, &stored)?
                    }
                    // Neither plain nor ours: the current cipher names the key.
                    (true, None) => self.cipher().open(&column, &id, &stored)?,
                };
                let sealed = self.cipher().seal(&column, &id, &plain)?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE {table} SET {col} = $1 WHERE {id} = $2 AND {col} = $3",
                    id = column.row_id,
                    col = column.column,
                    table = column.table
                )))
                .bind(sealed)
                .bind(&id)
                .bind(&stored)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(report)
    }
}
