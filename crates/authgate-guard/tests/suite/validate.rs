//! The validation rules of [`Guard::validate`], one test per rule: each test
//! builds a token that only that rule refuses (or, for the acceptance cases,
//! that the rule must not refuse).

use crate::common;

use std::time::Duration;

use crate::common::{
    CLIENT, ISSUER, KEY, OTHER_KEY, access_claims, b64, config, guard, id_claims, now,
};
use authgate_core::AuthError;
use authgate_core::token::Audience;
use authgate_guard::{Guard, GuardError};
use serde_json::json;

#[tokio::test]
async fn valid_access_token_is_accepted_with_its_claims() {
    let (guard, _) = guard();
    let claims = access_claims();
    let accepted = guard
        .validate(&KEY.token(&claims))
        .await
        .expect("valid token");
    assert_eq!(accepted.sub, "user-42");
    assert_eq!(accepted.iss, ISSUER);
    assert_eq!(accepted.client_id.as_deref(), Some(CLIENT));
    assert_eq!(accepted.token_use, "access");
    assert_eq!(accepted.scope.as_deref(), Some("openid profile"));
    assert_eq!(accepted.exp, claims["exp"].as_i64().expect("exp"));
    assert_eq!(accepted.origin_jti.as_deref(), Some("session-1"));
    assert_eq!(accepted.username.as_deref(), Some("alice"));
    assert_eq!(accepted.groups, ["admins"]);
}

#[tokio::test]
async fn expired_beyond_leeway_is_rejected() {
    let (guard, _) = guard();
    let mut claims = access_claims();
    claims["exp"] = json!(now() - 31);
    assert_eq!(
        guard.validate(&KEY.token(&claims)).await,
        Err(GuardError::Expired)
    );
}

#[tokio::test]
async fn expired_within_leeway_is_accepted() {
    let (guard, _) = guard();
    let mut claims = access_claims();
    claims["exp"] = json!(now() - 10);
    assert!(guard.validate(&KEY.token(&claims)).await.is_ok());
}

#[tokio::test]
async fn leeway_is_configurable() {
    let source = common::CountingSource::new(vec![KEY.jwk()]);
    let mut config = config(&source);
    config.leeway = Duration::ZERO;
    let guard = Guard::new(config);
    let mut claims = access_claims();
    claims["exp"] = json!(now() - 2);
    assert_eq!(
        guard.validate(&KEY.token(&claims)).await,
        Err(GuardError::Expired)
    );
}

#[tokio::test]
async fn nbf_in_the_future_is_rejected() {
    let (guard, _) = guard();
    let mut claims = access_claims();
    claims["nbf"] = json!(now() + 120);
    assert_eq!(
        guard.validate(&KEY.token(&claims)).await,
        Err(GuardError::NotYetValid)
    );
}

#[tokio::test]
async fn nbf_within_leeway_is_accepted() {
    let (guard, _) = guard();
    let mut claims = access_claims();
    claims["nbf"] = json!(now() + 10);
    assert!(guard.validate(&KEY.token(&claims)).await.is_ok());
}

#[tokio::test]
async fn wrong_issuer_is_rejected() {
    let (guard, _) = guard();
    for iss in [
        json!("https://evil.example.test"),
        json!(format!("{ISSUER}/")),
    ] {
        let mut claims = access_claims();
        claims["iss"] = iss;
        assert_eq!(
            guard.validate(&KEY.token(&claims)).await,
            Err(GuardError::WrongIssuer)
        );
    }
    let mut claims = access_claims();
    claims.as_object_mut().expect("object").remove("iss");
    assert_eq!(
        guard.validate(&KEY.token(&claims)).await,
        Err(GuardError::WrongIssuer)
    );
}

#[tokio::test]
async fn wrong_client_is_rejected() {
    let (guard, _) = guard();
    let mut claims = access_claims();
    claims["client_id"] = json!("another-client");
    assert_eq!(
        guard.validate(&KEY.token(&claims)).await,
        Err(GuardError::WrongClient)
    );
    claims.as_object_mut().expect("object").remove("client_id");
    assert_eq!(
        guard.validate(&KEY.token(&claims)).await,
        Err(GuardError::WrongClient)
    );
}

#[tokio::test]
async fn access_token_with_aud_containing_the_client_is_accepted() {
    let (guard, _) = guard();
    let mut claims = access_claims();
    claims.as_object_mut().expect("object").remove("client_id");
    claims["aud"] = json!(["other-api", CLIENT]);
    let accepted = guard
        .validate(&KEY.token(&claims))
        .await
        .expect("aud contains the client");
    assert_eq!(
        accepted.aud,
        Some(Audience::Many(vec!["other-api".into(), CLIENT.into()]))
    );
}

#[tokio::test]
async fn id_token_is_rejected_by_default() {
    let (guard, _) = guard();
    assert_eq!(
        guard.validate(&KEY.token(&id_claims())).await,
        Err(GuardError::WrongTokenUse)
    );
}

#[tokio::test]
async fn id_token_is_accepted_when_accept_id_tokens_is_on() {
    let source = common::CountingSource::new(vec![KEY.jwk()]);
    let mut config = config(&source);
    config.accept_id_tokens = true;
    let guard = Guard::new(config);

    let accepted = guard
        .validate(&KEY.token(&id_claims()))
        .await
        .expect("id token accepted during migration");
    assert_eq!(accepted.token_use, "id");
    assert_eq!(accepted.email.as_deref(), Some("alice@example.test"));

    // The id token must still be for this client, through `aud`.
    let mut claims = id_claims();
    claims["aud"] = json!("another-client");
    assert_eq!(
        guard.validate(&KEY.token(&claims)).await,
        Err(GuardError::WrongClient)
    );
    claims.as_object_mut().expect("object").remove("aud");
    claims["client_id"] = json!(CLIENT);
    assert_eq!(
        guard.validate(&KEY.token(&claims)).await,
        Err(GuardError::WrongClient)
    );
}

#[tokio::test]
async fn other_token_use_is_rejected() {
    let (guard, _) = guard();
    for token_use in ["refresh", "Access", ""] {
        let mut claims = access_claims();
        claims["token_use"] = json!(token_use);
        assert_eq!(
            guard.validate(&KEY.token(&claims)).await,
            Err(GuardError::WrongTokenUse),
            "{token_use:?}"
        );
    }
}

#[tokio::test]
async fn alg_none_is_rejected() {
    let (guard, source) = guard();
    for header in [
        json!({"alg": "none"}),
        json!({"alg": "none", "kid": KEY.kid}),
    ] {
        let token = format!(
            "{}.{}.",
            b64(header.to_string()),
            b64(access_claims().to_string())
        );
        assert_eq!(
            guard.validate(&token).await,
            Err(GuardError::UnsupportedAlgorithm)
        );
    }
    assert_eq!(source.fetches(), 0, "refused before any key lookup");
}

/// The classic confusion attack: an HS256 token whose HMAC secret is the
/// RSA public key, hoping the verifier uses the public key as a shared secret.
#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_rejected() {
    let (guard, _) = guard();
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": KEY.kid});
    let message = format!(
        "{}.{}",
        b64(header.to_string()),
        b64(access_claims().to_string())
    );
    for secret in [
        KEY.modulus(),
        KEY.jwk()["n"].as_str().expect("n").as_bytes().to_vec(),
    ] {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret);
        let tag = aws_lc_rs::hmac::sign(&key, message.as_bytes());
        let token = format!("{message}.{}", b64(tag.as_ref()));
        assert_eq!(
            guard.validate(&token).await,
            Err(GuardError::UnsupportedAlgorithm)
        );
    }
}

#[tokio::test]
async fn hmac_keys_in_the_jwks_are_never_used() {
    let secret = b"a-shared-secret-published-by-mistake";
    let source = common::CountingSource::new(vec![
        json!({"kty": "oct", "kid": "hmac", "k": b64(secret)}),
        json!({"kty": "oct", "kid": "hmac-rs", "alg": "RS256", "k": b64(secret)}),
    ]);
    let guard = Guard::new(config(&source));
    for (alg, kid) in [("HS256", "hmac"), ("RS256", "hmac-rs")] {
        let header = json!({"alg": alg, "kid": kid});
        let message = format!(
            "{}.{}",
            b64(header.to_string()),
            b64(access_claims().to_string())
        );
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        let tag = aws_lc_rs::hmac::sign(&key, message.as_bytes());
        let token = format!("{message}.{}", b64(tag.as_ref()));
        assert!(guard.validate(&token).await.is_err(), "{alg} / {kid}");
    }
}

#[tokio::test]
async fn key_with_its_own_alg_refuses_another_alg() {
    let (guard, _) = guard();
    // The JWK declares RS256; a token claiming RS512 under that kid is refused
    // before any signature check, even though the key type would allow it.
    let header = json!({"alg": "RS512", "kid": KEY.kid});
    assert_eq!(
        guard.validate(&KEY.sign(&header, &access_claims())).await,
        Err(GuardError::UnsupportedAlgorithm)
    );
}

#[tokio::test]
async fn key_type_must_fit_the_alg() {
    let source = common::CountingSource::new(vec![KEY.jwk_without_alg()]);
    let guard = Guard::new(config(&source));
    assert!(guard.validate(&KEY.token(&access_claims())).await.is_ok());
    for alg in ["ES256", "ES384", "EdDSA"] {
        let header = json!({"alg": alg, "kid": KEY.kid});
        assert_eq!(
            guard.validate(&KEY.sign(&header, &access_claims())).await,
            Err(GuardError::UnsupportedAlgorithm),
            "{alg} with an RSA key"
        );
    }
}

#[tokio::test]
async fn missing_kid_is_unknown_key() {
    let (guard, _) = guard();
    let header = json!({"alg": "RS256", "typ": "JWT"});
    assert_eq!(
        guard.validate(&KEY.sign(&header, &access_claims())).await,
        Err(GuardError::UnknownKey)
    );
}

#[tokio::test]
async fn tampered_payload_is_bad_signature() {
    let (guard, _) = guard();
    let token = KEY.token(&access_claims());
    let mut parts: Vec<&str> = token.split('.').collect();
    let mut claims = access_claims();
    claims["sub"] = json!("admin");
    let forged = b64(claims.to_string());
    parts[1] = &forged;
    assert_eq!(
        guard.validate(&parts.join(".")).await,
        Err(GuardError::BadSignature)
    );
}

#[tokio::test]
async fn signature_by_another_key_under_a_known_kid_is_bad_signature() {
    let (guard, _) = guard();
    // OTHER_KEY signs, but the header names KEY's kid.
    let token = OTHER_KEY.sign(&KEY.header(), &access_claims());
    assert_eq!(guard.validate(&token).await, Err(GuardError::BadSignature));
}

#[tokio::test]
async fn claims_that_are_not_an_access_token_are_malformed() {
    let (guard, _) = guard();
    for field in ["sub", "exp", "token_use"] {
        let mut claims = access_claims();
        claims.as_object_mut().expect("object").remove(field);
        assert_eq!(
            guard.validate(&KEY.token(&claims)).await,
            Err(GuardError::Malformed),
            "without {field}"
        );
    }
    let mut claims = access_claims();
    claims["exp"] = json!("tomorrow");
    assert_eq!(
        guard.validate(&KEY.token(&claims)).await,
        Err(GuardError::Malformed)
    );
    assert_eq!(
        guard
            .validate(&KEY.token(&json!(["not", "an", "object"])))
            .await,
        Err(GuardError::Malformed)
    );
}

#[tokio::test]
async fn garbage_inputs_are_refused_without_panicking() {
    let (guard, _) = guard();
    let good = KEY.token(&access_claims());
    let header = b64(KEY.header().to_string());
    let payload = b64(access_claims().to_string());
    let huge = "A".repeat(1 << 20);
    let inputs: Vec<String> = vec![
        String::new(),
        ".".into(),
        "..".into(),
        "...".into(),
        "a".into(),
        "a.b".into(),
        "a.b.c".into(),
        "a.b.c.d".into(),
        "!!!.@@@.###".into(),
        "é.ü.ñ".into(),
        "\0\0.\0.\0".into(),
        format!("{huge}.{huge}.{huge}"),
        format!("{header}.{huge}.{huge}"),
        format!("{}.{payload}.sig", b64("not json")),
        format!("{}.{payload}.sig", b64("[]")),
        format!("{}.{payload}.sig", b64("null")),
        format!("{}.{payload}.sig", b64(r#"{"kid":"key-1"}"#)),
        format!("{}.{payload}.sig", b64(r#"{"alg":null,"kid":"key-1"}"#)),
        format!("{}.{payload}.sig", b64(r#"{"alg":"RS256","kid":7}"#)),
        format!("{}.{payload}.sig", b64(r#"{"alg":"RS256","kid":"key-1""#)),
        format!("{header}.{payload}"),
        format!("{header}.{payload}."),
        format!("{header}.{payload}.!!!notbase64"),
        format!("{header}.{payload}.{}", b64([0u8; 3])),
        format!("{header}..{}", good.rsplit('.').next().unwrap_or_default()),
        format!("{header}.{}.sig", b64("not json")),
        format!("{header}.!!!.sig"),
        format!("{good}.extra"),
        format!(" {good}"),
        format!("{header}={}", &good[header.len()..]),
    ];
    for input in &inputs {
        let shown: String = input.chars().take(60).collect();
        assert!(guard.validate(input).await.is_err(), "accepted {shown:?}");
    }
}

#[tokio::test]
async fn errors_map_to_auth_errors_without_the_token() {
    let (guard, _) = guard();
    let mut claims = access_claims();
    claims["exp"] = json!(now() - 3600);
    let token = KEY.token(&claims);
    let error = guard.validate(&token).await.expect_err("expired");
    let text = format!("{error} {error:?}");
    assert!(!text.contains(&token) && !text.contains(token.split('.').nth(2).unwrap_or("-")));

    let mapped = AuthError::from(error);
    assert_eq!(
        mapped,
        AuthError::InvalidToken {
            reason: "expired".into()
        }
    );
    assert_eq!(
        mapped.public_detail(),
        "the access token is not valid: expired"
    );
    assert_eq!(
        AuthError::from(GuardError::MissingToken),
        AuthError::MissingToken
    );
    assert_eq!(
        AuthError::from(GuardError::JwksUnavailable("timeout".into())),
        AuthError::ProviderUnavailable
    );
}
