//! Test harness shared by the store's integration tests: run one async test
//! body against a fresh, migrated [`Store`] on SQLite and on PostgreSQL.
//!
//! - SQLite: a new file `t.db` in a unique temporary directory, removed after.
//! - PostgreSQL: the server named by `AUTHGATE_TEST_POSTGRES_URL` (default
//!   [`DEFAULT_POSTGRES_URL`]); each test gets its own schema `agt_<hex>`,
//!   selected through the connection's `search_path` and dropped after. An
//!   unreachable server fails the test: it is never skipped.
//!
//! The body runs in its own task so that the cleanup also happens when it
//! panics; the panic is then re-raised.

use authgate_store::Store;
use sqlx::AssertSqlSafe;
use std::future::Future;
use std::path::PathBuf;
use uuid::Uuid;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Generate, for each named `async fn(Store)` of the calling module, one test
/// in `mod sqlite` and one in `mod postgres`.
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::common::on_sqlite(super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::common::on_postgres(super::$name).await;
                }
            )*
        }
    };
}

/// Run `body` on `store`, close the store, and re-raise a panic of the body
/// only after `cleanup` ran.
async fn run<F, Fut>(store: Store, body: F, cleanup: impl AsyncFnOnce())
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(body(store.clone())).await;
    store.close().await;
    cleanup().await;
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

pub async fn on_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir: PathBuf =
        std::env::temp_dir().join(format!("authgate-store-test-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("create the temporary directory");
    let url = format!("sqlite://{}/t.db", dir.display());
    let store = Store::connect(&url).await.expect("open the SQLite file");
    store.migrate().await.expect("migrate");
    run(store, body, async || {
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

pub async fn on_postgres<F, Fut>(body: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let base = std::env::var("AUTHGATE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string());
    let admin = Store::connect(&base).await.unwrap_or_else(|err| {
        panic!(
            "PostgreSQL is unreachable at {base}: {err}. These tests need it: start it, \
             or point AUTHGATE_TEST_POSTGRES_URL at one (trust auth)."
        )
    });
    let schema = format!("agt_{}", Uuid::new_v4().simple());
    // The name is ours: `agt_` and hex digits.
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(admin.pool())
        .await
        .expect("create the test schema");

    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let store = Store::connect(&url)
        .await
        .expect("connect to the test schema");
    store.migrate().await.expect("migrate");
    // The connection's schema is the test schema, and the tables landed there.
    let (current, tables): (String, i64) = sqlx::query_as(
        "SELECT current_schema()::text, (SELECT COUNT(*) FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name = 'app_users')",
    )
    .fetch_one(store.pool())
    .await
    .expect("read current_schema()");
    assert_eq!(
        current, schema,
        "search_path did not select the test schema"
    );
    assert_eq!(
        tables, 1,
        "the migrations did not create app_users in {schema}"
    );

    run(store, body, async || {
        sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(admin.pool())
            .await
            .expect("drop the test schema");
        admin.close().await;
    })
    .await;
}
