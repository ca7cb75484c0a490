//! # authgate-store
//!
//! authgate's database: one schema on SQLite (the default, in WAL mode) and on
//! PostgreSQL, reached through sqlx's `Any` driver with runtime queries so that
//! every repository method is written once for both engines. Migrations live in
//! `migrations/sqlite` and `migrations/postgres` and are embedded in the binary.
//!
//! Modules own one table group each: [`app_users`] (users keyed by
//! `(provider, sub)`), [`embedded`] (the embedded provider's users and codes),
//! [`refresh`] (refresh-token families), [`keys`] (signing keys), [`audit`],
//! [`tenants`] (tenants, memberships, invitations), [`catalog`] (roles and
//! policies), [`clients`] (machine clients) and [`login`] (login
//! transactions). Secrets kept in a reversible form pass through one
//! [`cipher::FieldCipher`].

pub mod app_users;
pub mod audit;
pub mod authorization;
pub mod catalog;
pub mod cipher;
pub mod clients;
pub mod embedded;
pub mod identities;
pub mod keys;
pub mod login;
pub mod mfa;
pub mod passkeys;
pub mod recovery;
pub mod refresh;
pub mod sealing;
pub mod sessions;
pub mod tenants;

use authgate_core::AuthError;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

pub use app_users::AppUser;

/// Create `dir` (and its parents) readable by its owner only (0700). An
/// existing directory is left as it is.
pub fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Create the SQLite file of `url` owner-only (0600) when it does not exist
/// yet; SQLite gives its `-wal` and `-shm` files the same mode.
fn create_private_sqlite_file(url: &str) -> std::io::Result<()> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" || std::path::Path::new(path).exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

/// The database engine behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Failures of the store, mapped to [`AuthError`] at the boundary.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("unique constraint violated")]
    Conflict,
    #[error("database error: {0}")]
    Other(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => StoreError::Unavailable(err.to_string()),
            _ => StoreError::Other(err.to_string()),
        }
    }
}

impl From<StoreError> for AuthError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(detail) => {
                tracing::error!(%detail, "database unavailable");
                AuthError::StoreUnavailable
            }
            StoreError::Conflict => AuthError::Internal("unexpected unique violation".into()),
            StoreError::Other(detail) => AuthError::Internal(detail),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A connection pool to the authgate database.
///
/// On SQLite, writes are serialised in process by [`Store::write_guard`]:
/// SQLite allows one writer, and connections that collide wait in its busy
/// handler, which sleeps in growing steps; queueing on an async mutex instead
/// keeps write latency flat under load. The lock also holds the writer's own
/// connection ([`SqliteWriter`]), which the hottest writes (a refresh's
/// rotation, the audit batches) use: taken out of the pool, it is not pinged
/// each time a statement is done (sqlx pings every connection that returns
/// to its pool: on SQLite one more round trip to the connection's thread).
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
    sqlite_writer: Option<std::sync::Arc<tokio::sync::Mutex<Option<sqlx::AnyConnection>>>>,
    cipher: std::sync::Arc<dyn cipher::FieldCipher>,
}

static DRIVERS: Once = Once::new();

/// The SQLite write lock, held, with the writer's own connection.
pub(crate) struct SqliteWriter<'a> {
    connection: tokio::sync::MutexGuard<'a, Option<sqlx::AnyConnection>>,
    pool: &'a AnyPool,
    /// A statement was sent on the connection and not seen through
    /// ([`SqliteWriter::done`]): dropped now (a cancelled request), the
    /// connection may be mid-statement, so it goes with the lock.
    busy: bool,
}

impl SqliteWriter<'_> {
    /// The writer's connection, for one piece of work that ends with
    /// [`SqliteWriter::done`]: taken out of the pool at first use (so no
    /// ping follows each statement), opened again after a failure.
    pub(crate) async fn connection(&mut self) -> StoreResult<&mut sqlx::AnyConnection> {
        if self.connection.is_none() {
            *self.connection = Some(self.pool.acquire().await?.detach());
        }
        self.busy = true;
        Ok(self
            .connection
            .as_mut()
            .expect("the writer's connection was opened above"))
    }

    /// The work on the connection is over: kept when it succeeded, dropped
    /// when it failed (the connection may be broken; the next write opens
    /// another).
    pub(crate) fn done<T>(mut self, result: StoreResult<T>) -> StoreResult<T> {
        if result.is_ok() {
            self.busy = false;
        }
        result
    }
}

impl Drop for SqliteWriter<'_> {
    fn drop(&mut self) {
        if self.busy {
            *self.connection = None;
        }
    }
}

impl Store {
    /// Connect to `sqlite://…` or `postgres://…`. A SQLite file is created if
    /// missing and switched to WAL.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Engine::Postgres
        } else {
            return Err(StoreError::Other(
                "the database URL must start with sqlite: or postgres:".into(),
            ));
        };
        if engine == Engine::Sqlite {
            create_private_sqlite_file(url)
                .map_err(|e| StoreError::Other(format!("cannot create the SQLite file: {e}")))?;
        }
        let url = match engine {
            Engine::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let options =
            AnyConnectOptions::from_str(&url).map_err(|e| StoreError::Other(e.to_string()))?;
        let pool = AnyPoolOptions::new()
            .max_connections(match engine {
                Engine::Sqlite => 8,
                Engine::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(5))
            // A SQLite connection is a file handle in this process: pinging it
            // before every query would double the round trips to its worker
            // thread for nothing. A PostgreSQL connection may have been closed
            // by the server, so it is checked.
            .test_before_acquire(engine == Engine::Postgres)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            engine,
            sqlite_writer: (engine == Engine::Sqlite).then(Default::default),
            cipher: std::sync::Arc::new(cipher::PlainText),
        })
    }

    /// Apply the migrations of this engine.
    pub async fn migrate(&self) -> StoreResult<()> {
        let result = match self.engine {
            Engine::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&self.pool).await,
            Engine::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.pool)
                    .await
            }
        };
        result.map_err(|e| StoreError::Other(format!("migration failed: {e}")))
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Hold this while writing (SQLite: one writer at a time; PostgreSQL: no-op).
    pub(crate) async fn write_guard(&self) -> Option<SqliteWriter<'_>> {
        match &self.sqlite_writer {
            Some(lock) => Some(SqliteWriter {
                connection: lock.lock().await,
                pool: &self.pool,
                busy: false,
            }),
            None => None,
        }
    }

    /// This store with secret fields sealed by `cipher`.
    pub fn with_cipher(mut self, cipher: std::sync::Arc<dyn cipher::FieldCipher>) -> Self {
        self.cipher = cipher;
        self
    }

    pub(crate) fn cipher(&self) -> &dyn cipher::FieldCipher {
        self.cipher.as_ref()
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
