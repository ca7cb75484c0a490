//! The test harness: a real authgate server on a random loopback port, on
//! SQLite (a fresh file) or PostgreSQL (a fresh schema in the `test`
//! database), mailing through a real SMTP server on loopback; plus helpers to
//! call it and to forge tokens with its own signing key.

pub mod api;
pub mod browser;
pub mod nginx;
pub mod passkey;
pub mod smtp;

use authgate_http::App;
use authgate_service::Settings;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use smtp::SmtpSink;
use sqlx::AnyPool;
use std::path::PathBuf;
use tokio::sync::oneshot;

pub const PASSWORD: &str = "Correct-Horse-42!";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Generate one `#[tokio::test]` per engine for each named async fn taking an [`Engine`].
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::common::Engine::Sqlite).await }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::common::Engine::Postgres).await }
            )*
        }
    };
}

pub fn postgres_base_url() -> String {
    std::env::var("AUTHGATE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh `AUTHGATE_ENCRYPTION_KEY` value.
pub fn random_encryption_key() -> String {
    let mut key = [0u8; 32];
    aws_lc_rs::rand::fill(&mut key).unwrap();
    STANDARD.encode(key)
}

pub fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "authgate-{label}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh database for one test; dropped with [`Database::cleanup`].
pub struct Database {
    pub url: String,
    schema: Option<String>,
    dir: Option<PathBuf>,
}

impl Database {
    pub async fn create(engine: Engine) -> Self {
        sqlx::any::install_default_drivers();
        match engine {
            Engine::Sqlite => {
                let dir = temp_dir("db");
                Database {
                    url: format!("sqlite://{}", dir.join("authgate.db").display()),
                    schema: None,
                    dir: Some(dir),
                }
            }
            Engine::Postgres => {
                let base = postgres_base_url();
                let schema = format!("agt_{}", uuid::Uuid::new_v4().simple());
                let admin = AnyPool::connect(&base).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL at {base} is required for these tests: {e}")
                });
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&admin)
                    .await
                    .unwrap();
                admin.close().await;
                let sep = if base.contains('?') { '&' } else { '?' };
                Database {
                    url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
                    schema: Some(schema),
                    dir: None,
                }
            }
        }
    }

    pub async fn pool(&self) -> AnyPool {
        AnyPool::connect(&self.url).await.unwrap()
    }

    pub async fn cleanup(self) {
        if let Some(schema) = self.schema {
            let admin = AnyPool::connect(&postgres_base_url()).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
        }
        if let Some(dir) = self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A running authgate with its database and SMTP sink.
pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub smtp: SmtpSink,
    pub db: Database,
    pub settings: Settings,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub async fn start(engine: Engine) -> Self {
        Self::start_with(engine, |_| {}).await
    }

    /// Start with settings adjusted by `configure`.
    pub async fn start_with(engine: Engine, configure: impl FnOnce(&mut Settings)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(engine, listener, configure).await
    }

    /// Start on `listener` (whose address a test needed to know first).
    pub async fn start_on(
        engine: Engine,
        listener: tokio::net::TcpListener,
        configure: impl FnOnce(&mut Settings),
    ) -> Self {
        let smtp = SmtpSink::start().await;
        let db = Database::create(engine).await;
        let data_dir = temp_dir("data");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut settings = Settings {
            listen: listener.local_addr().unwrap().to_string(),
            public_url: base.clone(),
            data_dir,
            database_url: Some(db.url.clone()),
            // SQLite generates its key into the data dir; PostgreSQL needs one.
            encryption_key: (engine == Engine::Postgres).then(random_encryption_key),
            smtp_url: Some(smtp.url()),
            rate_limits: "off".into(),
            shutdown_grace: 5,
            ..Settings::default()
        };
        configure(&mut settings);
        let app = App::build(settings.clone()).await.expect("app builds");
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.serve(listener, async move {
            let _ = stopped.await;
        }));
        TestApp {
            base,
            client: Client::new(),
            smtp,
            db,
            settings,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// Stop the server and drop the test database.
    pub async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        let _ = std::fs::remove_dir_all(&self.settings.data_dir);
        let db = std::mem::replace(
            &mut self.db,
            Database {
                url: String::new(),
                schema: None,
                dir: None,
            },
        );
        db.cleanup().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_bearer(&self, path: &str, token: &str) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_bearer(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// GET `path`, answered 200 with a JSON body: the body.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.json().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn sign_up(&self, email: &str) -> Response {
        self.post(
            "/v1/auth/sign-up",
            json!({"email": email, "password": PASSWORD, "name": "Test User"}),
        )
        .await
    }

    /// Sign up and confirm with the mailed code.
    pub async fn confirmed_user(&self, email: &str) {
        let api = self.api();
        let signed_up = api.sign_up(email, PASSWORD).await.expect("sign-up");
        assert!(signed_up.requires_confirmation && !signed_up.can_sign_in);
        let code = self.smtp.code(email, 0).await;
        let confirmed = api
            .confirm_sign_up(email, &code)
            .await
            .expect("confirmation");
        assert!(confirmed.confirmed && confirmed.can_sign_in);
    }

    /// Sign in with [`PASSWORD`]: the typed session.
    pub async fn session(&self, email: &str) -> authgate_api_types::native::SessionResponse {
        use api::SignInOutcome;
        self.api().sign_in(email, PASSWORD).await.session()
    }

    /// Enrol a TOTP authenticator for the signed-in `access` token: its
    /// secret (checked to come with an `otpauth://` URI and ten recovery
    /// codes).
    pub async fn enrol_totp(&self, access: &str) -> Enrolled {
        let api = self.api();
        let enrolment = api.begin_totp(access).await.expect("enrolment starts");
        assert!(
            enrolment
                .otpauth_uri
                .starts_with("otpauth://totp/authgate:"),
            "{}",
            enrolment.otpauth_uri
        );
        let enabled = api
            .verify_totp(access, &totp_at(&enrolment.secret, now()), None)
            .await
            .expect("a code of the new authenticator activates it");
        assert!(enabled.mfa_enabled);
        assert_eq!(
            enabled.recovery_codes.len(),
            10,
            "recovery codes come with it"
        );
        Enrolled {
            secret: enrolment.secret,
        }
    }

    /// Sign in and return the Session body.
    pub async fn sign_in(&self, email: &str) -> Value {
        let response = self
            .post(
                "/v1/auth/sign-in",
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Make the account with this email a platform admin and answer its
    /// access token (it signs in once so that its app user exists).
    pub async fn admin_token(&self, email: &str) -> String {
        self.confirmed_user(email).await;
        let session = self.sign_in(email).await;
        let pool = self.db.pool().await;
        sqlx::query("UPDATE app_users SET platform_role = 'admin' WHERE email = $1")
            .bind(email)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        session["accessToken"].as_str().unwrap().to_string()
    }

    /// Every audit row, oldest first, once one matches `written` (rows are
    /// written in the background); panics after 5 s without one.
    pub async fn audit_rows_once(&self, written: impl Fn(&AuditSeen) -> bool) -> Vec<AuditSeen> {
        let pool = self.db.pool().await;
        for _ in 0..100 {
            let rows: Vec<AuditSeen> = sqlx::query_as(
                "SELECT kind, outcome, reason, actor, target, email, request_id, method \
                 FROM audit_events ORDER BY id",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            if rows.iter().any(&written) {
                pool.close().await;
                return rows;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the awaited audit event was not written within 5 s");
    }

    /// Any request, with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// Create a tenant as `token`'s user (its owner): the tenant id.
    pub async fn create_tenant(&self, token: &str, name: &str) -> String {
        let response = self
            .call(
                reqwest::Method::POST,
                "/v1/tenants",
                Some(token),
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["role"], "owner");
        body["id"].as_str().unwrap().to_string()
    }

    /// `POST /v1/tenants/{tenant}/members` as `token`'s user.
    pub async fn add_member(&self, token: &str, tenant: &str, email: &str, role: &str) -> Response {
        self.call(
            reqwest::Method::POST,
            &format!("/v1/tenants/{tenant}/members"),
            Some(token),
            Some(json!({"email": email, "role": role})),
        )
        .await
    }

    /// A signed-in, confirmed user: the access token and the app user id.
    pub async fn user(&self, email: &str) -> (String, String) {
        self.confirmed_user(email).await;
        let session = self.sign_in(email).await;
        (
            session["accessToken"].as_str().unwrap().to_string(),
            session["user"]["id"].as_str().unwrap().to_string(),
        )
    }

    /// Register a machine client with the real binary (`authgate admin
    /// create-client`) against this server's database: (id, secret).
    pub fn create_client(&self, name: &str, scopes: &str) -> (String, String) {
        let output = self.create_client_with(&["--name", name, "--scopes", scopes]);
        assert!(output.success, "create-client failed: {output:?}");
        (output.field("client_id"), output.field("client_secret"))
    }

    /// `authgate admin create-client` with `args`, against this server's
    /// database.
    pub fn create_client_with(&self, args: &[&str]) -> CommandOutput {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_authgate"));
        if self.settings.provider == authgate_service::settings::ProviderKind::Cognito {
            let s = &self.settings;
            command
                .env("AUTHGATE_PROVIDER", "cognito")
                .env("AUTHGATE_COGNITO_REGION", s.cognito_region.clone().unwrap())
                .env(
                    "AUTHGATE_COGNITO_USER_POOL_ID",
                    s.cognito_user_pool_id.clone().unwrap(),
                )
                .env(
                    "AUTHGATE_COGNITO_CLIENT_ID",
                    s.cognito_client_id.clone().unwrap(),
                )
                .env(
                    "AUTHGATE_COGNITO_CLIENT_SECRET",
                    s.cognito_client_secret.clone().unwrap_or_default(),
                )
                .env(
                    "AUTHGATE_COGNITO_ENDPOINT_URL",
                    s.cognito_endpoint_url.clone().unwrap_or_default(),
                );
        }
        if let Some(key) = &self.settings.encryption_key {
            command.env("AUTHGATE_ENCRYPTION_KEY", key);
        }
        let output = command
            .args(["admin", "create-client"])
            .args(args)
            .env("AUTHGATE_DATABASE_URL", &self.db.url)
            .env("AUTHGATE_DATA_DIR", &self.settings.data_dir)
            .env("AUTHGATE_PUBLIC_URL", &self.base)
            .env("AUTHGATE_LOG", "warn")
            .output()
            .unwrap();
        CommandOutput {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).to_string(),
        }
    }

    /// A client-credentials access token.
    pub async fn client_token(&self, id: &str, secret: &str) -> String {
        let response = self
            .client
            .post(self.url("/oauth2/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    /// The server's database as the server opens it (under its encryption key).
    pub async fn store(&self) -> authgate_store::Store {
        authgate_service::open_store(&self.settings)
            .await
            .expect("the store opens")
    }

    /// Sign a token with the server's current signing key (for forged-claims tests).
    pub async fn sign_with_server_key(&self, claims: &Value) -> String {
        let store = self.store().await;
        let key = store
            .signing_keys()
            .await
            .unwrap()
            .into_iter()
            .find(|k| k.retired_at.is_none())
            .expect("a signing key");
        store.close().await;
        let der = STANDARD.decode(&key.private_der_b64).unwrap();
        let encoding = match key.alg.as_str() {
            "RS256" => {
                let pair = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
                return sign_rs256(&pair, &key.kid, claims);
            }
            "ES256" => jsonwebtoken::EncodingKey::from_ec_der(&der),
            "EdDSA" => jsonwebtoken::EncodingKey::from_ed_der(&der),
            other => panic!("unknown key algorithm {other}"),
        };
        let mut header = jsonwebtoken::Header::new(key.alg.parse().unwrap());
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &encoding).unwrap()
    }
}

/// An enrolled authenticator.
pub struct Enrolled {
    pub secret: String,
}

/// A six-digit code that is not `code`.
pub fn other_code(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

/// What a run of the `authgate` command printed.
#[derive(Debug)]
pub struct CommandOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl CommandOutput {
    /// The value of a `name=value` line, if printed.
    pub fn get(&self, name: &str) -> Option<String> {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    }

    /// The value of a `name=value` line; panics without one.
    pub fn field(&self, name: &str) -> String {
        self.get(name)
            .unwrap_or_else(|| panic!("no {name} in {}", self.stdout))
    }
}

/// An audit row as the tests look at it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditSeen {
    pub kind: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub actor: Option<String>,
    pub target: Option<String>,
    pub email: Option<String>,
    pub request_id: Option<String>,
    /// How a sign-in was made.
    pub method: Option<String>,
}

/// A compact RS256 JWS.
pub fn sign_rs256(pair: &aws_lc_rs::signature::RsaKeyPair, kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0u8; pair.public_modulus_len()];
    pair.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        message.as_bytes(),
        &mut signature,
    )
    .unwrap();
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The claims of a JWT, without verifying it.
pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Assert the status of an answer; returns its JSON body (null if none).
pub async fn json_of(response: Response, status: u16) -> Value {
    let code = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(code, status, "body: {body}");
    body
}

/// Assert a problem+json answer with `status` and `code`; returns the body.
pub async fn assert_problem(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "body: {body}");
    assert_eq!(body["status"], status);
    assert!(
        body["requestId"].as_str().is_some_and(|id| !id.is_empty()),
        "no requestId: {body}"
    );
    body
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The TOTP code of `secret` at `unix_seconds` (SHA-1, six digits, 30 s steps).
pub fn totp_at(secret: &str, unix_seconds: i64) -> String {
    let bytes = totp_rs::Secret::try_from_base32(secret).expect("base32 secret");
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(bytes)
        .build()
        .expect("a 160-bit secret")
        .generate(unix_seconds as u64)
        .to_string()
}

/// The moto emulator's URL (`./scripts/test` starts moto and sets it).
#[cfg(feature = "cognito")]
pub fn moto_url() -> String {
    std::env::var("AUTHGATE_TEST_MOTO_URL").unwrap_or_else(|_| {
        panic!("AUTHGATE_TEST_MOTO_URL is not set: run ./scripts/test, which starts moto")
    })
}

/// An account made in the app's moto pool as an administrator would
/// (AdminCreateUser, no message), with `temporary` as its password.
#[cfg(feature = "cognito")]
pub async fn moto_admin_create_user(app: &TestApp, email: &str, temporary: &str) {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(moto_url())
        .credentials_provider(aws_sdk_cognitoidentityprovider::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType};
    aws_sdk_cognitoidentityprovider::Client::new(&config)
        .admin_create_user()
        .user_pool_id(app.settings.cognito_user_pool_id.clone().unwrap())
        .username(email)
        .temporary_password(temporary)
        .message_action(MessageActionType::Suppress)
        .user_attributes(
            AttributeType::builder()
                .name("email")
                .value(email)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("AdminCreateUser");
}

/// A server on the Cognito provider with a fresh pool in moto, settings
/// adjusted by `configure`.
#[cfg(feature = "cognito")]
pub async fn moto_app(mfa_required: bool, configure: impl FnOnce(&mut Settings)) -> TestApp {
    use authgate_cognito::{BootstrapOptions, bootstrap};
    use authgate_service::settings::ProviderKind;
    let endpoint = moto_url();
    let pool = bootstrap(
        "us-east-1",
        Some(&endpoint),
        &BootstrapOptions {
            pool_name: format!("authgate-test-{}", uuid::Uuid::new_v4().simple()),
            client_name: "authgate-test".into(),
            // moto checks a refresh SECRET_HASH against the sign-in email,
            // real Cognito against the username: the secret-client path
            // is covered by the adapter's own tests.
            generate_secret: false,
            mfa_required,
            webauthn_relying_party: Some("localhost".into()),
        },
    )
    .await
    .expect("bootstrap a pool in moto");
    TestApp::start_with(Engine::Sqlite, |s| {
        s.provider = ProviderKind::Cognito;
        s.cognito_region = Some(pool.region.clone());
        s.cognito_user_pool_id = Some(pool.user_pool_id.clone());
        s.cognito_client_id = Some(pool.client_id.clone());
        s.cognito_client_secret = pool.client_secret.clone();
        s.cognito_endpoint_url = Some(endpoint.clone());
        configure(s);
    })
    .await
}

/// The TOTP code of a base32 secret now. moto's secret is 56 bits (below
/// RFC 4226's minimum, hence the non-compliant builder) and moto accepts only
/// the current 30 s step: near a step's end, wait for the next.
pub async fn current_totp(secret: &str) -> String {
    let bytes = totp_rs::Secret::try_from_base32(secret.to_uppercase()).expect("base32");
    let totp = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(bytes)
        .build_noncompliant();
    if totp.ttl() < 4 {
        tokio::time::sleep(std::time::Duration::from_secs(totp.ttl() + 1)).await;
    }
    totp.generate_current().to_string()
}
