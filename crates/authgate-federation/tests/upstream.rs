//! The upstream leg against a real OpenID provider: npm `oidc-provider`
//! on loopback ([`authgate_federation::testing`]), its development
//! interactions answered like a browser would.

use authgate_core::Secret;
use authgate_federation::testing::{self, UpstreamOp, free_port};
use authgate_federation::{FederationError, IdentityProviderSettings, Upstream};

const REDIRECT: &str = "http://127.0.0.1:9/oauth2/idpresponse";

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

/// A person at the upstream signs in as `login`: the query of the
/// redirect back to authgate.
async fn sign_in_upstream(url: &str, login: &str) -> Vec<(String, String)> {
    let back = testing::sign_in_upstream(url, login, REDIRECT).await;
    url::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

async fn start_upstream() -> UpstreamOp {
    testing::start_upstream(REDIRECT).await
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
    op.move_address("dana", "dana.new@upstream.example").await;
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
