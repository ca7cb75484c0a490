//! The audit trail: one row per authentication event. Rows hold codes and
//! identifiers, never a password, code or token.

use crate::{Store, StoreResult};
use authgate_core::AuditEvent;
use sqlx::Row;

/// An audit row as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub provider: String,
    pub subject: Option<String>,
    pub email: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub actor: Option<String>,
    pub target: Option<String>,
    /// How a sign-in was made (`password`, `passkey`).
    pub method: Option<String>,
}

/// Filters for reading the trail; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub subject: Option<String>,
    pub email: Option<String>,
    pub kind: Option<String>,
    pub reason: Option<String>,
    pub target: Option<String>,
    pub since: Option<i64>,
    pub limit: i64,
}

impl Store {
    /// Write a batch of events in one transaction.
    pub async fn insert_audit_events(&self, events: &[AuditEvent]) -> StoreResult<()> {
        match self.write_guard().await {
            Some(mut writer) => {
                let written = insert_events(writer.connection().await?, events).await;
                writer.done(written)
            }
            None => insert_events(&mut *self.pool().acquire().await?, events).await,
        }
    }

    /// Newest first.
    pub async fn audit_events(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRow>> {
        let rows = sqlx::query(
            "SELECT id, at, kind, outcome, reason, provider, subject, email, ip, request_id, actor, \
             target, method FROM audit_events WHERE ($1 IS NULL OR subject = $1) \
             AND ($2 IS NULL OR email = $2) AND ($3 IS NULL OR kind = $3) \
             AND ($4 IS NULL OR reason = $4) AND ($5 IS NULL OR at >= $5) \
             AND ($7 IS NULL OR target = $7) ORDER BY id DESC LIMIT $6",
        )
        .bind(query.subject.as_deref())
        .bind(query.email.as_deref())
        .bind(query.kind.as_deref())
        .bind(query.reason.as_deref())
        .bind(query.since)
        .bind(if query.limit > 0 { query.limit } else { 100 })
        .bind(query.target.as_deref())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditRow {
                    id: row.try_get("id")?,
                    at: row.try_get("at")?,
                    kind: row.try_get("kind")?,
                    outcome: row.try_get("outcome")?,
                    reason: row.try_get("reason")?,
                    provider: row.try_get("provider")?,
                    subject: row.try_get("subject")?,
                    email: row.try_get("email")?,
                    ip: row.try_get("ip")?,
                    request_id: row.try_get("request_id")?,
                    actor: row.try_get("actor")?,
                    target: row.try_get("target")?,
                    method: row.try_get("method")?,
                })
            })
            .collect()
    }
}

/// The columns of an audit row as written, in the order of the binds.
const COLUMNS: usize = 12;

/// The sizes of the multi-row `INSERT`s a batch is cut into, largest
/// first: a handful of statements per batch, each prepared once and then
/// reused from the connection's statement cache (a statement per batch
/// size would be prepared anew almost every time, which costs more than
/// the round trips it saves).
const CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// The `INSERT` of `rows` rows: placeholders only, every value is bound.
fn insert_statement(rows: usize) -> &'static str {
    static STATEMENTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let statements = STATEMENTS.get_or_init(|| {
        CHUNKS
            .iter()
            .map(|&rows| {
                let values: Vec<String> = (0..rows)
                    .map(|row| {
                        let placeholders: Vec<String> = (1..=COLUMNS)
                            .map(|column| format!("${}", row * COLUMNS + column))
                            .collect();
                        format!("({})", placeholders.join(", "))
                    })
                    .collect();
                format!(
                    "INSERT INTO audit_events (at, kind, outcome, reason, provider, subject, \
                     email, ip, request_id, actor, target, method) VALUES {}",
                    values.join(", ")
                )
            })
            .collect()
    });
    let index = CHUNKS
        .iter()
        .position(|&size| size == rows)
        .expect("a chunk size");
    &statements[index]
}

/// Write a batch of events in one transaction on `connection`, as a few
/// multi-row `INSERT`s ([`CHUNKS`]): a round trip per chunk, not per event.
async fn insert_events(
    connection: &mut sqlx::AnyConnection,
    events: &[AuditEvent],
) -> StoreResult<()> {
    use sqlx::Connection as _;
    let mut tx = connection.begin().await?;
    let mut rest = events;
    while !rest.is_empty() {
        let size = CHUNKS
            .into_iter()
            .find(|&size| size <= rest.len())
            .unwrap_or(1);
        let (chunk, after) = rest.split_at(size);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(insert_statement(size)));
        for event in chunk {
            query = query
                .bind(event.at_millis)
                .bind(event.kind.as_str())
                .bind(event.outcome.as_str())
                .bind(event.reason)
                .bind(event.provider.as_str())
                .bind(event.subject.as_deref())
                .bind(event.email.as_deref())
                .bind(event.ip.as_deref())
                .bind(event.request_id.as_deref())
                .bind(event.actor.as_deref())
                .bind(event.target.as_deref())
                .bind(event.method);
        }
        query.execute(&mut *tx).await?;
        rest = after;
    }
    tx.commit().await?;
    Ok(())
}
