//! The HTTP edge: the `Authenticated` extractor and the `GuardLayer` on an
//! axum router, driven in-process with `tower::ServiceExt::oneshot`.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::{CountingSource, KEY, access_claims, config, guard};
use authgate_guard::{Authenticated, Guard, GuardLayer};
use axum::body::{Body, to_bytes};
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::{Value, json};
use tower::ServiceExt as _;

async fn whoami(auth: Authenticated) -> String {
    format!("{} {}", auth.claims.sub, auth.token.expose().len())
}

fn extractor_app(guard: Guard) -> Router {
    Router::new()
        .route("/me", get(whoami))
        .with_state(Arc::new(guard))
}

fn request(authorization: Option<&str>) -> Request<Body> {
    let mut builder = Request::get("/me");
    if let Some(value) = authorization {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    builder.body(Body::empty()).expect("request")
}

async fn body_json(response: Response) -> Value {
    let bytes = to_bytes(response.into_body(), 64 * 1024)
        .await
        .expect("body");
    serde_json::from_slice(&bytes).expect("JSON body")
}

async fn body_text(response: Response) -> String {
    let bytes = to_bytes(response.into_body(), 64 * 1024)
        .await
        .expect("body");
    String::from_utf8(bytes.to_vec()).expect("UTF-8 body")
}

fn assert_problem(response: &Response, status: StatusCode, challenge: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], challenge);
}

#[tokio::test]
async fn extractor_without_token_is_401_missing_token() {
    let (guard, _) = guard();
    let response = extractor_app(guard)
        .oneshot(request(None))
        .await
        .expect("response");
    assert_problem(&response, StatusCode::UNAUTHORIZED, "Bearer");
    assert_eq!(
        body_json(response).await,
        json!({
            "type": "https://authgate.dev/errors/missing-token",
            "title": "Missing token",
            "status": 401,
            "code": "missing_token",
            "detail": "this endpoint needs an access token in the Authorization header",
        })
    );
}

#[tokio::test]
async fn extractor_with_bad_token_is_401_invalid_token() {
    let (guard, _) = guard();
    let mut claims = access_claims();
    claims["exp"] = json!(common::now() - 3600);
    let token = KEY.token(&claims);
    let response = extractor_app(guard)
        .oneshot(request(Some(&format!("Bearer {token}"))))
        .await
        .expect("response");
    assert_problem(
        &response,
        StatusCode::UNAUTHORIZED,
        r#"Bearer error="invalid_token", error_description="expired""#,
    );
    let body = body_json(response).await;
    assert_eq!(body["type"], "https://authgate.dev/errors/invalid-token");
    assert_eq!(body["title"], "Invalid token");
    assert_eq!(body["status"], 401);
    assert_eq!(body["code"], "invalid_token");
    assert_eq!(body["detail"], "the access token is not valid: expired");
    assert!(!body.to_string().contains(&token));
}

#[tokio::test]
async fn extractor_with_garbage_token_is_401_invalid_token() {
    let (guard, _) = guard();
    let response = extractor_app(guard)
        .oneshot(request(Some("Bearer not-a-jwt")))
        .await
        .expect("response");
    assert_problem(
        &response,
        StatusCode::UNAUTHORIZED,
        r#"Bearer error="invalid_token", error_description="malformed""#,
    );
    assert_eq!(body_json(response).await["code"], "invalid_token");
}

#[tokio::test]
async fn extractor_with_good_token_is_200() {
    let (guard, _) = guard();
    let token = KEY.token(&access_claims());
    let app = extractor_app(guard);
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let response = app
            .clone()
            .oneshot(request(Some(&format!("{scheme} {token}"))))
            .await
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
        assert_eq!(
            body_text(response).await,
            format!("user-42 {}", token.len())
        );
    }
}

#[tokio::test]
async fn unreachable_keys_are_503_without_details() {
    let source = CountingSource::new(vec![KEY.jwk()]);
    source.set_failing(true);
    let app = extractor_app(Guard::new(config(&source)));
    let token = KEY.token(&access_claims());
    let response = app
        .oneshot(request(Some(&format!("Bearer {token}"))))
        .await
        .expect("response");
    assert_problem(&response, StatusCode::SERVICE_UNAVAILABLE, "Bearer");
    let body = body_json(response).await;
    assert_eq!(body["code"], "provider_unavailable");
    assert_eq!(body["status"], 503);
    assert!(!body.to_string().contains("test source is down"));
}

/// A router behind the layer whose handler counts its calls and echoes the
/// `Authenticated` the layer stored.
fn layered_app(guard: Guard, calls: Arc<AtomicUsize>) -> Router {
    Router::new()
        .route(
            "/me",
            get(move |Extension(auth): Extension<Authenticated>| {
                let calls = Arc::clone(&calls);
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    format!("{} {}", auth.claims.sub, auth.token.expose().len())
                }
            }),
        )
        .layer(GuardLayer::new(Arc::new(guard)))
}

#[tokio::test]
async fn layer_without_token_is_401_and_skips_the_handler() {
    let (guard, _) = guard();
    let calls = Arc::new(AtomicUsize::new(0));
    let response = layered_app(guard, Arc::clone(&calls))
        .oneshot(request(None))
        .await
        .expect("response");
    assert_problem(&response, StatusCode::UNAUTHORIZED, "Bearer");
    assert_eq!(body_json(response).await["code"], "missing_token");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn layer_with_bad_token_is_401_and_skips_the_handler() {
    let (guard, _) = guard();
    let calls = Arc::new(AtomicUsize::new(0));
    let token = KEY.token(&access_claims());
    let tampered = format!("{}x", &token[..token.len() - 1]);
    let response = layered_app(guard, Arc::clone(&calls))
        .oneshot(request(Some(&format!("Bearer {tampered}"))))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()[header::WWW_AUTHENTICATE].clone();
    assert!(
        challenge
            .to_str()
            .is_ok_and(|c| c.starts_with(r#"Bearer error="invalid_token""#)),
        "{challenge:?}"
    );
    assert_eq!(body_json(response).await["code"], "invalid_token");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn layer_with_good_token_inserts_authenticated_for_the_handler() {
    let (guard, _) = guard();
    let calls = Arc::new(AtomicUsize::new(0));
    let token = KEY.token(&access_claims());
    let response = layered_app(guard, Arc::clone(&calls))
        .oneshot(request(Some(&format!("Bearer {token}"))))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body_text(response).await,
        format!("user-42 {}", token.len())
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn extractor_reuses_the_layers_result() {
    // The layer's guard accepts the token; the state's guard would refuse it
    // (another issuer). A 200 proves the extractor did not validate again.
    let (layer_guard, _) = guard();
    let source = CountingSource::new(vec![KEY.jwk()]);
    let mut strict = config(&source);
    strict.issuer = "https://another-issuer.example.test".into();
    let app = Router::new()
        .route("/me", get(whoami))
        .layer(GuardLayer::new(Arc::new(layer_guard)))
        .with_state(Arc::new(Guard::new(strict)));

    let token = KEY.token(&access_claims());
    let response = app
        .oneshot(request(Some(&format!("Bearer {token}"))))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(source.fetches(), 0, "the state's guard was never used");
}

#[tokio::test]
async fn non_ascii_authorization_header_is_refused() {
    let (guard, _) = guard();
    let mut req = request(None);
    req.headers_mut().insert(
        header::AUTHORIZATION,
        HeaderValue::from_bytes(b"Bearer \xff\xfe").expect("opaque header"),
    );
    let response = extractor_app(guard).oneshot(req).await.expect("response");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(response).await["code"], "invalid_token");
}
