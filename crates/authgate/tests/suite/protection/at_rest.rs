//! Secrets at rest (contracts/protection.md), as someone holding a copy of
//! the database sees them, and as an operator manages the key: a copy of the
//! database shows no TOTP secret (active, or pending in a set-up challenge)
//! and no signing key in the clear; SQLite generates its key into the data
//! dir (owner-only), PostgreSQL refuses to start without one and says how
//! to make it; a wrong key stops the start-up by name, and `authgate keys
//! rewrap --old-key-file` moves every secret to the new key.
//!
//! Values copied to another row, plain rows sealed at start and the
//! rewrap's single transaction are specified on both engines in the store's
//! own tests (`crates/authgate-store/tests/repository.rs`).

use crate::cli::{authgate, sigterm, start_server, wait_exit};
use crate::common::api::SignInOutcome;
use crate::common::{Engine, PASSWORD, TestApp, now, postgres_base_url, temp_dir, totp_at};
use authgate_service::settings::MfaMode;
use regex::Regex;
use serde_json::Value;
use sqlx::Row;

on_both_engines!(a_copy_of_the_database_holds_no_secret_in_the_clear);

/// The first column of every row `sql` selects, as text.
async fn texts(pool: &sqlx::AnyPool, sql: String) -> Vec<String> {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get(0).unwrap())
        .collect()
}

impl TestApp {
    /// Everything the database holds, as a thief with a copy reads it: the
    /// SQLite file and its write-ahead log byte for byte, or every row of
    /// every table of the PostgreSQL schema as JSON.
    async fn database_dump(&self) -> String {
        if let Some(path) = self.db.url.strip_prefix("sqlite://") {
            let mut bytes = std::fs::read(path).unwrap();
            if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
                bytes.extend(wal);
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        let pool = self.db.pool().await;
        let tables = texts(
            &pool,
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
             WHERE table_schema = current_schema()"
                .into(),
        )
        .await;
        assert!(tables.len() > 10, "{tables:?}");
        let mut dump = String::new();
        for table in tables {
            for row in texts(
                &pool,
                format!("SELECT CAST(row_to_json(t) AS TEXT) FROM {table} t"),
            )
            .await
            {
                dump.push_str(&row);
                dump.push('\n');
            }
        }
        pool.close().await;
        dump
    }
}

async fn a_copy_of_the_database_holds_no_secret_in_the_clear(engine: Engine) {
    let app = TestApp::start_with(engine, |s| s.mfa = MfaMode::Required).await;
    let api = app.api();
    // Ann enrols inside her first sign-in: an active TOTP secret.
    app.confirmed_user("ann@example.com").await;
    let setup = api
        .sign_in("ann@example.com", PASSWORD)
        .await
        .challenge("MFA_SETUP_REQUIRED");
    let active = setup.parameters["secret"].clone();
    api.answer_mfa_setup("ann@example.com", &setup.session, &totp_at(&active, now()))
        .await
        .session();
    // Ben stops at the set-up challenge: its secret waits in the login
    // transaction. Ann's next sign-in waits for a code.
    app.confirmed_user("ben@example.com").await;
    let pending = api
        .sign_in("ben@example.com", PASSWORD)
        .await
        .challenge("MFA_SETUP_REQUIRED")
        .parameters["secret"]
        .clone();
    api.sign_in("ann@example.com", PASSWORD)
        .await
        .challenge("TOTP_REQUIRED");

    let dump = app.database_dump().await;
    assert!(dump.contains("ann@example.com"), "the dump reads the data");
    for (what, secret) in [("active", &active), ("pending", &pending)] {
        assert!(
            !dump.contains(secret.as_str()) && !dump.contains(&secret.to_lowercase()),
            "the {what} TOTP secret is in the database in the clear"
        );
    }
    let pool = app.db.pool().await;
    for column in authgate_store::cipher::SEALED_COLUMNS {
        let values = texts(
            &pool,
            format!(
                "SELECT {} FROM {} WHERE {} IS NOT NULL",
                column.column, column.table, column.column
            ),
        )
        .await;
        if ["signing_keys", "embedded_totp", "login_transactions"].contains(&column.table)
            && column.column != "pending_secret"
        {
            assert!(!values.is_empty(), "{} has rows", column.name());
        }
        for value in values {
            assert!(
                value.starts_with("sealed:v1:"),
                "{}: {value}",
                column.name()
            );
        }
    }
    pool.close().await;
    app.finish().await;
}

fn run(command: &mut std::process::Command) -> (bool, String, String) {
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_key_is_generated_checked_at_start_and_rewrapped() {
    let cwd = temp_dir("cli-at-rest");
    let data = cwd.join("authgate-data");
    // First start on SQLite: a key is generated, owner-only.
    let (ok, _, stderr) = run(authgate(&cwd).arg("migrate"));
    assert!(ok, "{stderr}");
    let key_file = data.join("encryption.key");
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the generated key is owner-only");
    }
    let (ok, stdout, stderr) = run(authgate(&cwd).args(["keys", "rotate"]));
    assert!(ok, "{stderr}");
    let kid = Regex::new(r"new signing key (\S+);")
        .unwrap()
        .captures(&stdout)
        .unwrap()[1]
        .to_string();

    // The key is lost (or another one is configured): the start-up stops
    // and says what to do; nothing is read with the wrong key.
    let old_key = cwd.join("old.key");
    std::fs::rename(&key_file, &old_key).unwrap();
    let (ok, _, stderr) = run(authgate(&cwd).arg("migrate"));
    assert!(!ok);
    assert!(
        stderr.contains("sealed under key") && stderr.contains("keys rewrap"),
        "{stderr}"
    );

    // Rewrap under the new key, with the old one.
    let (ok, stdout, stderr) = run(authgate(&cwd)
        .args(["keys", "rewrap", "--old-key-file"])
        .arg(&old_key));
    assert!(ok, "{stderr}");
    assert!(stdout.contains(": 1 secrets sealed under key"), "{stdout}");
    let (ok, stdout, _) = run(authgate(&cwd)
        .args(["keys", "rewrap", "--old-key-file"])
        .arg(&old_key));
    assert!(
        ok && stdout.contains("1 were already under key"),
        "{stdout}"
    );

    // The server starts under the new key and signs with the rotated key.
    let mut server = start_server(&cwd, &[]);
    let jwks: Value = reqwest::blocking::get(format!("{}/.well-known/jwks.json", server.base))
        .unwrap()
        .json()
        .unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid.as_str()),
        "{jwks}"
    );
    sigterm(&server.child);
    assert_eq!(wait_exit(&mut server.child).code(), Some(0));

    // A key that is not 32 bytes of base64 is named, never echoed.
    let (ok, _, stderr) = run(authgate(&cwd)
        .arg("migrate")
        .env("AUTHGATE_ENCRYPTION_KEY", "too-short"));
    assert!(!ok);
    assert!(
        stderr.contains("AUTHGATE_ENCRYPTION_KEY") && !stderr.contains("too-short"),
        "{stderr}"
    );

    // PostgreSQL without a key: refused, with how to make one.
    let (ok, _, stderr) = run(authgate(&cwd)
        .arg("migrate")
        .env("AUTHGATE_DATABASE_URL", postgres_base_url()));
    assert!(!ok);
    assert!(
        stderr.contains("openssl rand -base64 32")
            && stderr.contains("AUTHGATE_ENCRYPTION_KEY_FILE"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(cwd);
}
