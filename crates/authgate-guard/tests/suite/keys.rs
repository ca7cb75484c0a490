//! Key fetching: lazy first fetch, the refetch-on-unknown-`kid` rate limit,
//! key rotation, forced refresh, fetch failures, and the JWKS URL source
//! against a real local HTTP server.

use std::sync::Arc;
use std::time::Duration;

use crate::common::{CLIENT, CountingSource, ISSUER, KEY, OTHER_KEY, access_claims, config, guard};
use authgate_guard::{Guard, GuardConfig, GuardError, JwksSource};
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::json;

#[tokio::test]
async fn keys_are_fetched_lazily_and_cached() {
    let (guard, source) = guard();
    assert_eq!(source.fetches(), 0, "Guard::new does no I/O");
    let token = KEY.token(&access_claims());
    for _ in 0..5 {
        guard.validate(&token).await.expect("valid");
    }
    assert_eq!(source.fetches(), 1);
}

#[tokio::test]
async fn unknown_kid_triggers_exactly_one_refetch_within_the_interval() {
    let (guard, source) = guard();
    guard
        .validate(&KEY.token(&access_claims()))
        .await
        .expect("valid");
    assert_eq!(source.fetches(), 1);

    // OTHER_KEY is not published: its kid is unknown.
    let unknown = OTHER_KEY.token(&access_claims());
    for _ in 0..5 {
        assert_eq!(guard.validate(&unknown).await, Err(GuardError::UnknownKey));
    }
    assert_eq!(source.fetches(), 2, "one refetch per interval");

    // Known keys keep working without fetching.
    guard
        .validate(&KEY.token(&access_claims()))
        .await
        .expect("valid");
    assert_eq!(source.fetches(), 2);
}

#[tokio::test]
async fn concurrent_validations_with_an_unknown_kid_share_one_fetch() {
    let source = CountingSource::with_delay(vec![KEY.jwk()], Duration::from_millis(100));
    let guard = Arc::new(Guard::new(config(&source)));
    let unknown = OTHER_KEY.token(&access_claims());

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let guard = Arc::clone(&guard);
        let token = unknown.clone();
        tasks.spawn(async move { guard.validate(&token).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.expect("task"), Err(GuardError::UnknownKey));
    }
    assert_eq!(source.fetches(), 1, "all 16 lookups shared the first fetch");

    // A second wave within the interval fetches nothing.
    for _ in 0..4 {
        let guard = Arc::clone(&guard);
        let token = unknown.clone();
        tasks.spawn(async move { guard.validate(&token).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.expect("task"), Err(GuardError::UnknownKey));
    }
    assert_eq!(source.fetches(), 1);
}

#[tokio::test]
async fn key_published_later_is_picked_up_once_the_interval_has_passed() {
    let source = CountingSource::new(vec![KEY.jwk()]);
    let mut config = config(&source);
    config.min_refetch_interval = Duration::from_millis(50);
    let guard = Guard::new(config);

    let rotated = OTHER_KEY.token(&access_claims());
    assert_eq!(guard.validate(&rotated).await, Err(GuardError::UnknownKey));
    assert_eq!(source.fetches(), 1);

    // The issuer rotates in a new key; within the interval it is not seen yet.
    source.publish(OTHER_KEY.jwk());
    assert_eq!(guard.validate(&rotated).await, Err(GuardError::UnknownKey));
    assert_eq!(source.fetches(), 1);

    tokio::time::sleep(Duration::from_millis(70)).await;
    let claims = guard.validate(&rotated).await.expect("new key picked up");
    assert_eq!(claims.sub, "user-42");
    assert_eq!(source.fetches(), 2);

    // Both keys now verify without further fetches.
    guard
        .validate(&KEY.token(&access_claims()))
        .await
        .expect("old key");
    guard.validate(&rotated).await.expect("new key");
    assert_eq!(source.fetches(), 2);
}

#[tokio::test]
async fn refresh_keys_forces_a_fetch() {
    let (guard, source) = guard();
    guard.refresh_keys().await.expect("refresh");
    assert_eq!(source.fetches(), 1);
    source.publish(OTHER_KEY.jwk());
    guard.refresh_keys().await.expect("refresh");
    assert_eq!(source.fetches(), 2);
    guard
        .validate(&OTHER_KEY.token(&access_claims()))
        .await
        .expect("key from the forced refresh");
    assert_eq!(source.fetches(), 2);
}

#[tokio::test]
async fn first_fetch_failure_is_jwks_unavailable() {
    let (guard, source) = guard();
    source.set_failing(true);
    let token = KEY.token(&access_claims());
    assert!(matches!(
        guard.validate(&token).await,
        Err(GuardError::JwksUnavailable(_))
    ));
    assert!(matches!(
        guard.refresh_keys().await,
        Err(GuardError::JwksUnavailable(_))
    ));

    source.set_failing(false);
    guard.refresh_keys().await.expect("source is back");
    guard.validate(&token).await.expect("valid once keys load");
}

#[tokio::test]
async fn failed_refresh_keeps_the_cached_keys() {
    let (guard, source) = guard();
    let token = KEY.token(&access_claims());
    guard.validate(&token).await.expect("valid");
    source.set_failing(true);
    assert!(guard.refresh_keys().await.is_err());
    guard.validate(&token).await.expect("old keys still in use");
}

/// Serve `body` with `status` at `/jwks.json` on an ephemeral local port.
async fn serve_jwks(status: StatusCode, body: String) -> String {
    let app = Router::new().route("/jwks.json", get(move || async move { (status, body) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    format!("http://{addr}/jwks.json")
}

fn url_guard(url: String) -> Guard {
    Guard::new(GuardConfig::new(ISSUER, CLIENT, JwksSource::Url(url)))
}

#[tokio::test]
async fn url_source_fetches_the_jwks_over_http() {
    let jwks = json!({"keys": [KEY.jwk()]}).to_string();
    let guard = url_guard(serve_jwks(StatusCode::OK, jwks).await);
    let claims = guard
        .validate(&KEY.token(&access_claims()))
        .await
        .expect("valid with keys from the URL");
    assert_eq!(claims.sub, "user-42");
    assert_eq!(
        guard.validate(&OTHER_KEY.token(&access_claims())).await,
        Err(GuardError::UnknownKey)
    );
}

#[tokio::test]
async fn url_source_errors_are_jwks_unavailable() {
    let token = KEY.token(&access_claims());
    let not_found = url_guard(serve_jwks(StatusCode::NOT_FOUND, "{}".into()).await);
    match not_found.validate(&token).await {
        Err(GuardError::JwksUnavailable(detail)) => assert!(detail.contains("404"), "{detail}"),
        other => panic!("expected JwksUnavailable, got {other:?}"),
    }

    let not_json = url_guard(serve_jwks(StatusCode::OK, "<html>".into()).await);
    assert!(matches!(
        not_json.validate(&token).await,
        Err(GuardError::JwksUnavailable(_))
    ));

    // Nothing listens on a port that was just released.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    let url = format!("http://{addr}/jwks.json?secret=s3cr3t");
    let unreachable = url_guard(url);
    match unreachable.validate(&token).await {
        Err(GuardError::JwksUnavailable(detail)) => {
            assert!(!detail.contains("s3cr3t"), "the URL stays out: {detail}")
        }
        other => panic!("expected JwksUnavailable, got {other:?}"),
    }
}
