//! The upstream leg against a real OpenID provider: npm `oidc-provider`
//! (tests/federation/upstream, installed by ./scripts/test) on loopback,
//! its development interactions answered like a browser would (cookies
//! kept, the login and consent forms posted). A missing Node.js or
//! upstream install is a failure, never a skip.

use authgate_core::Secret;
use authgate_federation::{FederationError, IdentityProviderSettings, Upstream};
use std::process::{Child, Command};
use std::time::Duration;

const REDIRECT: &str = "http://127.0.0.1:9/oauth2/idpresponse";

/// The upstream OP, killed when dropped.
struct UpstreamOp {
    child: Child,
    issuer: String,
}

impl Drop for UpstreamOp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_upstream() -> UpstreamOp {
    let dir = std::env::var("AUTHGATE_TEST_UPSTREAM_DIR").unwrap_or_else(|_| {
        format!(
            "{}/../../tests/federation/upstream",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    assert!(
        std::path::Path::new(&dir)
            .join("node_modules/oidc-provider")
            .exists(),
        "the upstream OP is not installed in {dir}: run ./scripts/test (npm ci there)"
    );
    let port = free_port();
    let child = Command::new("node")
        .arg("server.mjs")
        .current_dir(&dir)
        .env("PORT", port.to_string())
        .env("REDIRECT_URI", REDIRECT)
        .spawn()
        .expect("node runs the upstream OP (Node.js is needed)");
    let issuer = format!("http://127.0.0.1:{port}");
    let op = UpstreamOp { child, issuer };
    for _ in 0..100 {
        let discovery = format!("{}/.well-known/openid-configuration", op.issuer);
        if reqwest::get(&discovery)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return op;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the upstream OP did not start");
}

fn settings(issuer: &str, client: &str) -> IdentityProviderSettings {
    serde_json::from_value(serde_json::json!({
        "id": "upstream",
        "label": "Upstream",
        "issuer": issuer,
        "client_id": client,
        "client_secret": format!("{client}-secret"),
    }))
    .unwrap()
}

/// A browser at the upstream: follows the authorization URL through the
/// login (as `login`) and consent forms to the redirect back to authgate,
/// and answers that redirect's query.
async fn sign_in_upstream(url: &str, login: &str) -> Vec<(String, String)> {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut next = url.to_string();
    let origin = url::Url::parse(url).unwrap().origin().ascii_serialization();
    for _ in 0..12 {
        if next.starts_with(REDIRECT) {
            return url::Url::parse(&next)
                .unwrap()
                .query_pairs()
                .into_owned()
                .collect();
        }
        let answer = browser.get(&next).send().await.unwrap();
        if let Some(location) = answer.headers().get("location") {
            next = absolute(&origin, location.to_str().unwrap());
            continue;
        }
        let html = answer.text().await.unwrap();
        let action = html
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no form on the upstream page: {html}"));
        let form: Vec<(&str, &str)> = if html.contains("name=\"login\"") {
            vec![("prompt", "login"), ("login", login), ("password", "any")]
        } else {
            vec![("prompt", "consent")]
        };
        let posted = browser
            .post(absolute(&origin, action))
            .form(&form)
            .send()
            .await
            .unwrap();
        next = absolute(
            &origin,
            posted
                .headers()
                .get("location")
                .unwrap_or_else(|| panic!("the upstream form answered {}", posted.status()))
                .to_str()
                .unwrap(),
        );
    }
    panic!("the upstream never redirected back");
}

fn absolute(origin: &str, location: &str) -> String {
    if location.starts_with("http") {
        location.to_string()
    } else {
        format!("{origin}{location}")
    }
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> &'a str {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {query:?}"))
}

#[tokio::test]
async fn a_person_signs_in_upstream_and_the_id_token_is_checked() {
    let op = start_upstream().await;
    let upstream = Upstream::new(settings(&op.issuer, "authgate")).unwrap();
    let begun = upstream.begin(REDIRECT).await.unwrap();
    for (name, value) in [
        ("code_challenge_method", "S256"),
        ("response_type", "code"),
        ("client_id", "authgate"),
    ] {
        assert!(
            begun.url.contains(&format!("{name}={value}")),
            "{name} missing from {}",
            begun.url
        );
    }
    let back = sign_in_upstream(&begun.url, "dana").await;
    assert_eq!(param(&back, "state"), begun.state.expose());
    let code = param(&back, "code").to_string();

    // A nonce of another request: the id token is refused.
    let wrong = upstream
        .finish(
            REDIRECT,
            &code,
            &Secret::new("another-nonce"),
            &begun.pkce_verifier,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(wrong, FederationError::InvalidIdToken { .. }),
        "{wrong}"
    );

    // The person's address moves upstream: the same sub, the new address.
    let moved = reqwest::Client::new()
        .post(format!(
            "{}/test/address?sub=dana&email=dana.new%40upstream.example",
            op.issuer
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 204);
    let begun = upstream.begin(REDIRECT).await.unwrap();
    let back = sign_in_upstream(&begun.url, "dana").await;
    let code = param(&back, "code").to_string();
    let identity = upstream
        .finish(REDIRECT, &code, &begun.nonce, &begun.pkce_verifier)
        .await
        .unwrap();
    assert_eq!(identity.issuer, op.issuer);
    assert_eq!(identity.subject, "dana", "the same sub with a new address");
    assert_eq!(identity.email.as_deref(), Some("dana.new@upstream.example"));
    assert!(identity.email_verified);
    assert_eq!(identity.name.as_deref(), Some("Upstream dana"));

    // The same code again: the upstream refuses it.
    let replay = upstream
        .finish(REDIRECT, &code, &begun.nonce, &begun.pkce_verifier)
        .await
        .unwrap_err();
    assert!(
        matches!(replay, FederationError::Refused { .. }),
        "{replay}"
    );
    assert_eq!(replay.reason(), "upstream_refused");
}

#[tokio::test]
async fn an_unverified_address_is_said_so() {
    let op = start_upstream().await;
    let upstream = Upstream::new(settings(&op.issuer, "authgate-trusted")).unwrap();
    let begun = upstream.begin(REDIRECT).await.unwrap();
    let back = sign_in_upstream(&begun.url, "unverified-eve").await;
    let identity = upstream
        .finish(
            REDIRECT,
            param(&back, "code"),
            &begun.nonce,
            &begun.pkce_verifier,
        )
        .await
        .unwrap();
    assert_eq!(identity.subject, "unverified-eve");
    assert_eq!(
        identity.email.as_deref(),
        Some("unverified-eve@upstream.example")
    );
    assert!(
        !identity.email_verified,
        "the upstream does not say it verified it"
    );
}

#[tokio::test]
async fn an_unreachable_or_wrong_issuer_is_an_error_not_a_crash() {
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let upstream = Upstream::new(settings(&nobody, "authgate")).unwrap();
    let err = upstream.begin(REDIRECT).await.unwrap_err();
    assert!(matches!(err, FederationError::Discovery { .. }), "{err}");
    assert!(err.to_string().contains("upstream"), "{err}");
    assert_eq!(err.reason(), "upstream_unavailable");

    // The document says another issuer than the one configured.
    let op = start_upstream().await;
    let elsewhere = op.issuer.replace("127.0.0.1", "localhost");
    let upstream = Upstream::new(settings(&elsewhere, "authgate")).unwrap();
    let err = upstream.begin(REDIRECT).await.unwrap_err();
    assert!(matches!(err, FederationError::Discovery { .. }), "{err}");
}

#[test]
fn settings_are_checked_naming_the_field() {
    let cases = [
        (serde_json::json!({"id": "Bad Id"}), "id"),
        (serde_json::json!({"label": " "}), "label"),
        (
            serde_json::json!({"issuer": "http://idp.example.com"}),
            "issuer",
        ),
        (serde_json::json!({"client_secret": ""}), "client_secret"),
        (serde_json::json!({"scopes": ["email"]}), "scopes"),
        (
            serde_json::json!({"token_endpoint_auth_method": "private_key_jwt"}),
            "token_endpoint_auth_method",
        ),
    ];
    for (change, field) in cases {
        let mut entry = serde_json::json!({
            "id": "google", "label": "Google", "issuer": "https://accounts.google.com",
            "client_id": "c", "client_secret": "s",
        });
        for (key, value) in change.as_object().unwrap() {
            entry[key] = value.clone();
        }
        let settings: IdentityProviderSettings = serde_json::from_value(entry).unwrap();
        let err = Upstream::new(settings).unwrap_err();
        assert!(err.contains(field), "{field}: {err}");
    }
    let secret: IdentityProviderSettings = serde_json::from_value(serde_json::json!({
        "id": "google", "label": "Google", "issuer": "https://accounts.google.com",
        "client_id": "c", "client_secret": "do-not-print",
    }))
    .unwrap();
    assert!(!format!("{secret:?}").contains("do-not-print"));
}
