//! The `authgate` binary as an operator runs it: `serve` on the embedded
//! defaults (SQLite and outbox under ./authgate-data), JSON logs that never
//! contain a password, code or token, SIGTERM draining an in-flight request
//! and exiting 0, `migrate`, `keys rotate`, and configuration precedence.

use crate::common::{PASSWORD, claims_of, temp_dir};
use regex::Regex;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_authgate");

/// The binary with a clean environment: no AUTHGATE_* from the caller.
pub(crate) fn authgate(cwd: &Path) -> Command {
    let mut command = Command::new(BIN);
    command.current_dir(cwd);
    for (key, _) in std::env::vars() {
        if key.starts_with("AUTHGATE_") {
            command.env_remove(key);
        }
    }
    command
}

/// A running `authgate serve`: its process, base URL and stdout lines.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
    pub(crate) stdout: Arc<Mutex<Vec<String>>>,
}

/// `authgate serve` in `cwd` with a clean environment plus `extra_env`
/// (rate limits off unless `extra_env` sets them), once it listens.
pub(crate) fn start_server(cwd: &Path, extra_env: &[(&str, &str)]) -> Server {
    let mut command = authgate(cwd);
    command
        .arg("serve")
        .env("AUTHGATE_LISTEN", "127.0.0.1:0")
        .env("AUTHGATE_RATE_LIMITS", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in extra_env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("authgate starts");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let lines = lines.clone();
        std::thread::spawn(move || {
            let listening = Regex::new(r"listening on http://([0-9.:]+)").unwrap();
            for line in stdout.lines().map_while(Result::ok) {
                if let Some(c) = listening.captures(&line) {
                    let _ = tx.send(c[1].to_string());
                }
                lines.lock().unwrap().push(line);
            }
        });
    }
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| {
            panic!(
                "no 'listening on' line; output: {:?}",
                lines.lock().unwrap()
            )
        });
    Server {
        child,
        base: format!("http://{addr}"),
        stdout: lines,
    }
}

pub(crate) fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

pub(crate) fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("authgate did not exit within 15 s of SIGTERM");
}

fn outbox_code(data_dir: &Path) -> String {
    let pattern = Regex::new(r"(?m)^Code: (\d{6})\r?$").unwrap();
    for _ in 0..100 {
        if let Ok(entries) = std::fs::read_dir(data_dir.join("outbox")) {
            for entry in entries.flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap();
                if let Some(c) = pattern.captures(&text) {
                    return c[1].to_string();
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no code in the outbox");
}

#[tokio::test]
async fn serve_on_embedded_defaults_logs_no_secrets_and_drains_on_sigterm() {
    let cwd = temp_dir("cli-serve");
    let mut server = start_server(
        &cwd,
        &[("AUTHGATE_LOG_FORMAT", "json"), ("AUTHGATE_LOG", "debug")],
    );
    let data = cwd.join("authgate-data");
    assert!(
        data.join("authgate.db").is_file(),
        "SQLite database not in ./authgate-data"
    );

    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{}{path}", server.base))
            .json(&body)
            .send()
    };
    let email = "ops@example.com";
    let response = post(
        "/v1/auth/sign-up",
        json!({"email": email, "password": PASSWORD}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 201);
    let code = outbox_code(&data);
    let response = post(
        "/v1/auth/sign-up/confirm",
        json!({"email": email, "code": code}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let wrong = post(
        "/v1/auth/sign-in",
        json!({"email": email, "password": "Wrong-Password-99"}),
    )
    .await
    .unwrap();
    assert_eq!(wrong.status(), 401);
    let session: Value = post(
        "/v1/auth/sign-in",
        json!({"email": email, "password": PASSWORD}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let access = session["accessToken"].as_str().unwrap().to_string();
    assert_eq!(
        claims_of(&access)["iss"],
        "http://127.0.0.1:8080",
        "issuer defaults to the public URL"
    );
    let subject = client
        .get(format!("{}/v1/auth/subject", server.base))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(subject.status(), 200);
    let refreshed: Value = post(
        "/v1/auth/token/refresh",
        json!({"refreshToken": session["refreshToken"]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let signed_out = client
        .post(format!("{}/v1/auth/sign-out", server.base))
        .bearer_auth(refreshed["accessToken"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 204);

    // More secrets through the logs: a temporary password, a TOTP secret, a
    // recovery token, reset codes.
    let output = authgate(&cwd)
        .args([
            "admin",
            "grant-platform-role",
            "--email",
            email,
            "--role",
            "admin",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let admin: Value = post(
        "/v1/auth/sign-in",
        json!({"email": email, "password": PASSWORD}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let admin = admin["accessToken"].as_str().unwrap().to_string();
    let created = client
        .post(format!("{}/v1/admin/users", server.base))
        .bearer_auth(&admin)
        .json(&json!({"email": "temp@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let enrolment: Value = client
        .post(format!("{}/v1/auth/mfa/totp", server.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let totp_secret = enrolment["secret"].as_str().unwrap().to_string();
    let reset = post("/v1/auth/password-resets", json!({"email": email}))
        .await
        .unwrap();
    assert_eq!(reset.status(), 202);
    let mfa_reset: Value = post("/v1/auth/mfa-reset/start", json!({"email": email}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mfa_session = mfa_reset["session"].as_str().unwrap().to_string();

    // A machine client, created by the command while the server runs: its
    // secret and tokens stay out of the logs, right or wrong.
    let created = authgate(&cwd)
        .args([
            "admin",
            "create-client",
            "--name",
            "ops",
            "--scopes",
            "admin,reports:read",
        ])
        .env("AUTHGATE_LOG", "warn")
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let printed = String::from_utf8(created.stdout).unwrap();
    let field = |name: &str| {
        printed
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_string()
    };
    let (client_id, client_secret) = (field("client_id"), field("client_secret"));
    let issued: Value = client
        .post(format!("{}/oauth2/token", server.base))
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let machine_token = issued["access_token"].as_str().unwrap().to_string();
    let listed = client
        .get(format!("{}/v1/admin/users", server.base))
        .bearer_auth(&machine_token)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let refused = client
        .post(format!("{}/oauth2/token", server.base))
        .basic_auth(&client_id, Some("Wrong-Client-Secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let revoked = authgate(&cwd)
        .args(["admin", "revoke-client", "--id", &client_id])
        .env("AUTHGATE_LOG", "warn")
        .output()
        .unwrap();
    assert!(revoked.status.success(), "{revoked:?}");
    let after = client
        .get(format!("{}/v1/admin/users", server.base))
        .bearer_auth(&machine_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.status(),
        401,
        "a revoked client's token stops at once"
    );
    std::thread::sleep(Duration::from_millis(500));
    let mailed: Vec<String> = std::fs::read_dir(data.join("outbox"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    let mailed_secrets: Vec<String> = Regex::new(r"(?m)^(?:Code|Temporary password): (\S+)\r?$")
        .unwrap()
        .captures_iter(&mailed.join("\n"))
        .map(|c| c[1].to_string())
        .collect();
    assert!(
        mailed_secrets.len() >= 4,
        "codes and a temporary password: {mailed_secrets:?}"
    );

    // An in-flight request: headers and half a body sent, then SIGTERM, then
    // the rest. It must still be answered, and the process must exit 0.
    let body = json!({"email": email, "password": "Wrong-Password-99"}).to_string();
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "POST /v1/auth/sign-in HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    let (head, tail) = body.split_at(body.len() / 2);
    stream.write_all(head.as_bytes()).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    sigterm(&server.child);
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(tail.as_bytes()).unwrap();
    let mut answer = String::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 401"),
        "in-flight request not answered: {answer:?}"
    );

    let status = wait_exit(&mut server.child);
    assert_eq!(status.code(), Some(0), "SIGTERM must exit 0");

    let lines = server.stdout.lock().unwrap().clone();
    assert!(lines.len() > 10, "expected debug logs, got {lines:?}");
    for line in &lines {
        let parsed: Result<Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "not a JSON log line: {line}");
    }
    let all = lines.join("\n");
    assert!(all.contains("auth event"), "auth events are logged");
    for secret in [
        PASSWORD,
        "Wrong-Password-99",
        access.as_str(),
        session["idToken"].as_str().unwrap(),
        session["refreshToken"].as_str().unwrap(),
        refreshed["accessToken"].as_str().unwrap(),
        refreshed["refreshToken"].as_str().unwrap(),
        admin.as_str(),
        totp_secret.as_str(),
        mfa_session.as_str(),
        client_secret.as_str(),
        "Wrong-Client-Secret",
        machine_token.as_str(),
    ] {
        assert!(!all.contains(secret), "a secret appeared in the logs");
    }
    // Six digits could stand inside a timestamp by chance: look for them as a word.
    for secret in mailed_secrets.iter().chain([&code]) {
        let as_word = Regex::new(&format!(r"\b{}\b", regex::escape(secret))).unwrap();
        assert!(
            !as_word.is_match(&all),
            "a mailed secret appeared in the logs"
        );
    }
    let _ = std::fs::remove_dir_all(cwd);
}

/// The CognitoApi profile needs mandatory MFA: without it, a clear error
/// line at start-up (and none when MFA is required).
#[test]
fn compat_profile_logs_an_error_without_required_mfa_and_never_its_bodies() {
    let temporary_password = Regex::new(r"(?m)^Temporary password: (\S+)\r?$").unwrap();
    for (mfa, expect_error) in [("optional", true), ("required", false)] {
        let cwd = temp_dir("cli-compat");
        let mut server = start_server(
            &cwd,
            &[
                ("AUTHGATE_COMPAT_COGNITO_API", "true"),
                ("AUTHGATE_MFA", mfa),
                ("AUTHGATE_LOG", "debug"),
            ],
        );
        // Request bodies of the profile are never logged.
        let client = reqwest::blocking::Client::new();
        let email = "compat@example.com";
        let password = "Compat-Body-Secret-77!";
        for (path, body) in [
            ("/v1/users", json!({"full_name": "C", "email": email})),
            ("/v1/login", json!({"email": email, "password": password})),
        ] {
            let response = client
                .post(format!("{}{path}", server.base))
                .json(&body)
                .send()
                .unwrap();
            assert!(response.status().as_u16() < 500, "{path}");
        }
        sigterm(&server.child);
        assert!(wait_exit(&mut server.child).success());
        let lines = server.stdout.lock().unwrap().clone();
        let error = lines
            .iter()
            .any(|l| l.contains("ERROR") && l.contains("AUTHGATE_MFA=required"));
        assert_eq!(error, expect_error, "AUTHGATE_MFA={mfa}: {lines:?}");
        let mail = std::fs::read_dir(cwd.join("authgate-data/outbox"))
            .unwrap()
            .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
            .collect::<String>();
        let temporary = temporary_password
            .captures(&mail)
            .expect("the temporary password was mailed")[1]
            .to_string();
        for secret in [password, temporary.as_str()] {
            assert!(
                !lines.iter().any(|l| l.contains(secret)),
                "a secret reached the log"
            );
        }
        let _ = std::fs::remove_dir_all(&cwd);
    }
}

#[test]
fn migrate_and_keys_rotate() {
    let cwd = temp_dir("cli-keys");
    let output = authgate(&cwd).arg("migrate").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(cwd.join("authgate-data/authgate.db").is_file());

    let mut kids = Vec::new();
    let new_kid = Regex::new(r"new signing key (\S+);").unwrap();
    // The default algorithm, then a switch to EdDSA at the next rotation.
    for alg in ["ES256", "EdDSA"] {
        let output = authgate(&cwd)
            .args(["keys", "rotate"])
            .env("AUTHGATE_SIGNING_ALG", alg)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert!(stdout.contains(&format!("it signs with {alg}")), "{stdout}");
        let kid = new_kid.captures(&stdout).unwrap()[1].to_string();
        kids.push(kid);
    }
    assert_ne!(kids[0], kids[1]);

    // The server publishes both keys and signs with the newest.
    let mut server = start_server(&cwd, &[]);
    let jwks: Value = reqwest::blocking::get(format!("{}/.well-known/jwks.json", server.base))
        .unwrap()
        .json()
        .unwrap();
    let published: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        published.contains(&kids[0].as_str()) && published.contains(&kids[1].as_str()),
        "{published:?}"
    );
    let newest = &jwks["keys"][0];
    assert_eq!(
        (&newest["kid"], &newest["kty"], &newest["crv"]),
        (&json!(kids[1]), &json!("OKP"), &json!("Ed25519"))
    );
    sigterm(&server.child);
    assert_eq!(wait_exit(&mut server.child).code(), Some(0));
    let _ = std::fs::remove_dir_all(cwd);
}

#[test]
fn config_file_then_environment() {
    let cwd = temp_dir("cli-config");
    std::fs::write(
        cwd.join("authgate.toml"),
        "data_dir = \"from-file\"\naccess_token_ttl = 600\n",
    )
    .unwrap();
    let output = authgate(&cwd)
        .args(["--config", "authgate.toml", "migrate"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(cwd.join("from-file/authgate.db").is_file());

    let output = authgate(&cwd)
        .args(["--config", "authgate.toml", "migrate"])
        .env("AUTHGATE_DATA_DIR", "from-env")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(
        cwd.join("from-env/authgate.db").is_file(),
        "the environment overrides the file"
    );
    let _ = std::fs::remove_dir_all(cwd);
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let cwd = temp_dir("cli-bad");
    let output = authgate(&cwd)
        .arg("migrate")
        .env("AUTHGATE_PROVIDER", "bogus")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("provider") && stderr.contains("bogus"),
        "{stderr}"
    );

    let output = authgate(&cwd)
        .arg("migrate")
        .env("AUTHGATE_SIGNING_ALG", "HS256")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("HS256") && stderr.contains("ES256"),
        "{stderr}"
    );

    let output = authgate(&cwd)
        .args(["--config", "missing.toml", "migrate"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.toml"));

    // Passkeys bound to an IP address, or to origins outside the RP id:
    // refused at start-up, naming the setting.
    for (rp_id, origins, setting) in [
        ("127.0.0.1", "", "AUTHGATE_WEBAUTHN_RP_ID"),
        (
            "example.com",
            "https://example.org",
            "AUTHGATE_WEBAUTHN_ORIGINS",
        ),
    ] {
        let output = authgate(&cwd)
            .arg("serve")
            .env("AUTHGATE_LISTEN", "127.0.0.1:0")
            .env("AUTHGATE_WEBAUTHN_RP_ID", rp_id)
            .env("AUTHGATE_WEBAUTHN_ORIGINS", origins)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{rp_id} {origins}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(setting), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(cwd);
}

/// `[[identity_providers]]` (a configuration file) and
/// `AUTHGATE_IDENTITY_PROVIDERS` (JSON) are checked before the server
/// starts: a wrong entry, JSON that does not parse, or two entries with
/// one id stop it, naming what is wrong. An upstream that is down does not.
#[test]
fn identity_providers_are_checked_at_start_up() {
    let cwd = temp_dir("cli-idp");
    std::fs::write(
        cwd.join("authgate.toml"),
        "[[identity_providers]]\nid = \"Google Workspace\"\nlabel = \"Google\"\n\
         issuer = \"https://accounts.google.com\"\nclient_id = \"c\"\nclient_secret = \"s\"\n",
    )
    .unwrap();
    let entry = |id: &str| {
        format!(
            r#"{{"id":"{id}","label":"Up","issuer":"https://idp.example.com","client_id":"c","client_secret":"s"}}"#
        )
    };
    // (environment, with the file, what stderr names)
    type Case<'a> = (Vec<(&'a str, String)>, bool, &'a str);
    let cases: [Case; 4] = [
        (vec![], true, "identity provider \"Google Workspace\": id"),
        (
            vec![("AUTHGATE_IDENTITY_PROVIDERS", "[{not json".into())],
            false,
            "AUTHGATE_IDENTITY_PROVIDERS",
        ),
        (
            vec![(
                "AUTHGATE_IDENTITY_PROVIDERS",
                format!("[{},{}]", entry("up"), entry("up")),
            )],
            false,
            "two entries have the id \"up\"",
        ),
        (
            vec![(
                "AUTHGATE_IDENTITY_PROVIDERS",
                format!("[{}]", entry("up").replace("https://idp", "http://idp")),
            )],
            false,
            "issuer",
        ),
    ];
    for (env, with_file, expected) in cases {
        let mut command = authgate(&cwd);
        if with_file {
            command.args(["--config", "authgate.toml"]);
        }
        let output = command
            .arg("serve")
            .env("AUTHGATE_LISTEN", "127.0.0.1:0")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap();
        assert!(!output.status.success(), "{expected}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert!(!stderr.contains("client_secret = \"s\""), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(cwd);
}

/// An upstream that is down does not keep the server from starting.
#[tokio::test]
async fn an_unreachable_identity_provider_does_not_stop_the_server() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let entry: authgate_service::federation::IdentityProviderSettings =
        serde_json::from_value(serde_json::json!({
            "id": "down", "label": "Down", "issuer": format!("http://127.0.0.1:{port}"),
            "client_id": "c", "client_secret": "s",
        }))
        .unwrap();
    let app = crate::common::TestApp::start_with(crate::common::Engine::Sqlite, |s| {
        s.identity_providers = vec![entry];
    })
    .await;
    let ready = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    app.finish().await;
}

/// A passkey registration and sign-in (and a forged assertion) with debug
/// logs: no ceremony session, challenge, client data, authenticator data,
/// attestation or signature reaches a log line.
#[tokio::test]
async fn passkey_ceremonies_log_no_credential_material() {
    let cwd = temp_dir("cli-passkeys");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("http://localhost:{port}");
    let listen = format!("127.0.0.1:{port}");
    let server = start_server(
        &cwd,
        &[
            ("AUTHGATE_LISTEN", listen.as_str()),
            ("AUTHGATE_LOG_FORMAT", "json"),
            ("AUTHGATE_LOG", "debug"),
            ("AUTHGATE_WEBAUTHN_RP_ID", "localhost"),
            ("AUTHGATE_WEBAUTHN_ORIGINS", origin.as_str()),
        ],
    );
    let client = reqwest::Client::new();
    let call = |path: &str, body: Value, bearer: Option<&str>| {
        let mut request = client.post(format!("{}{path}", server.base)).json(&body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let email = "pk-logs@example.com";
    let (status, _) = call(
        "/v1/auth/sign-up",
        json!({"email": email, "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(status, 201);
    let code = outbox_code(&cwd.join("authgate-data"));
    call(
        "/v1/auth/sign-up/confirm",
        json!({"email": email, "code": code}),
        None,
    )
    .await;
    let (_, session) = call(
        "/v1/auth/sign-in",
        json!({"email": email, "password": PASSWORD}),
        None,
    )
    .await;
    let access = session["accessToken"].as_str().unwrap().to_string();

    let mut key = crate::common::passkey::SoftPasskey::new(&origin);
    let (_, registration) =
        call("/v1/auth/passkeys/register/start", json!({}), Some(&access)).await;
    let created = key.create(&registration["options"]).await;
    let (status, _) = call(
        "/v1/auth/passkeys/register/complete",
        json!({"session": registration["session"], "credential": created}),
        Some(&access),
    )
    .await;
    assert_eq!(status, 201);
    let (_, sign_in) = call(
        "/v1/auth/passkeys/sign-in/start",
        json!({"email": email}),
        None,
    )
    .await;
    let asserted = key.get(&sign_in["options"]).await;
    let (status, _) = call(
        "/v1/auth/passkeys/sign-in/complete",
        json!({"session": sign_in["session"], "credential": asserted}),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (_, forged_start) = call("/v1/auth/passkeys/sign-in/start", json!({}), None).await;
    let mut forged = key.get(&forged_start["options"]).await;
    forged["response"]["signature"] = json!("AAAA");
    let (status, _) = call(
        "/v1/auth/passkeys/sign-in/complete",
        json!({"session": forged_start["session"], "credential": forged}),
        None,
    )
    .await;
    assert_eq!(status, 401);

    std::thread::sleep(Duration::from_millis(300));
    let all = server.stdout.lock().unwrap().join("\n");
    assert!(all.contains("passkey"), "the passkey events are logged");
    let material = [
        registration["session"].as_str().unwrap(),
        registration["options"]["challenge"].as_str().unwrap(),
        created["response"]["clientDataJSON"].as_str().unwrap(),
        created["response"]["attestationObject"].as_str().unwrap(),
        sign_in["session"].as_str().unwrap(),
        sign_in["options"]["challenge"].as_str().unwrap(),
        asserted["response"]["signature"].as_str().unwrap(),
        asserted["response"]["authenticatorData"].as_str().unwrap(),
        asserted["response"]["clientDataJSON"].as_str().unwrap(),
        forged_start["session"].as_str().unwrap(),
        access.as_str(),
    ];
    for secret in material {
        assert!(
            !all.contains(secret),
            "credential material appeared in the logs"
        );
    }
    sigterm(&server.child);
    let mut child = server.child;
    assert!(wait_exit(&mut child).success());
    let _ = std::fs::remove_dir_all(cwd);
}

/// `authgate cognito bootstrap` creates a pool and client in moto and prints
/// the variables; a server started with those variables alone serves sign-up.
#[cfg(feature = "cognito")]
#[tokio::test]
async fn cognito_bootstrap_prints_the_variables_a_server_needs() {
    let moto = std::env::var("AUTHGATE_TEST_MOTO_URL")
        .expect("AUTHGATE_TEST_MOTO_URL is not set: run ./scripts/test, which starts moto");
    let cwd = temp_dir("cli-cognito");
    let output = authgate(&cwd)
        .args([
            "cognito",
            "bootstrap",
            "--pool-name",
            "cli-test",
            "--with-secret",
        ])
        .env("AUTHGATE_COGNITO_REGION", "us-east-1")
        .env("AUTHGATE_COGNITO_ENDPOINT_URL", &moto)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let vars: Vec<(String, String)> = stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for name in [
        "AUTHGATE_PROVIDER",
        "AUTHGATE_COGNITO_REGION",
        "AUTHGATE_COGNITO_USER_POOL_ID",
        "AUTHGATE_COGNITO_CLIENT_ID",
        "AUTHGATE_COGNITO_CLIENT_SECRET",
        "AUTHGATE_COGNITO_ENDPOINT_URL",
    ] {
        assert!(
            vars.iter().any(|(k, _)| k == name),
            "{name} missing in {stdout}"
        );
    }
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut server = start_server(&cwd, &env);
    let response = reqwest::Client::new()
        .post(format!("{}/v1/auth/sign-up", server.base))
        .json(&json!({"email": "boot@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    sigterm(&server.child);
    assert_eq!(wait_exit(&mut server.child).code(), Some(0));
    let _ = std::fs::remove_dir_all(cwd);
}

/// `authgate admin create-user` mails a temporary password; `authgate admin
/// grant-platform-role` makes that account a platform admin.
#[test]
fn admin_create_user_and_grant_platform_role() {
    let cwd = temp_dir("cli-admin");
    let output = authgate(&cwd)
        .args([
            "admin",
            "create-user",
            "--email",
            "Chief@Example.com",
            "--name",
            "Chief",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("created chief@example.com"));
    let outbox = cwd.join("authgate-data/outbox");
    let mail: String = std::fs::read_dir(&outbox)
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert!(
        Regex::new(r"(?m)^Temporary password: \S{20}\r?$")
            .unwrap()
            .is_match(&mail),
        "{mail}"
    );

    let output = authgate(&cwd)
        .args([
            "admin",
            "grant-platform-role",
            "--email",
            "chief@example.com",
            "--role",
            "admin",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("now has the platform role admin"));

    let output = authgate(&cwd)
        .args([
            "admin",
            "grant-platform-role",
            "--email",
            "nobody@example.com",
            "--role",
            "admin",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("nobody@example.com"));
    let _ = std::fs::remove_dir_all(cwd);
}
