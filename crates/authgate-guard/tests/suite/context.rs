//! The user context: `ContextClient` against a stand-in for authgate's
//! `GET /v1/auth/subject` (a real HTTP server on 127.0.0.1), the
//! `CallerContext` extractor on an axum router, and the `require` /
//! `require_in` decisions with their `403` answers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{KEY, OTHER_KEY, access_claims, guard, now};
use authgate_core::Secret;
use authgate_guard::{
    CallerContext, ContextClient, ContextError, Decision, Forbidden, Guard, UserContext,
};
use axum::body::{Body, to_bytes};
use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tower::ServiceExt as _;

// ---------------------------------------------------------------------------
// A stand-in for authgate's /v1/auth/subject.

/// What the stand-in answers for one token.
#[derive(Clone)]
enum Answer {
    Context(Value),
    Status(StatusCode, String),
}

#[derive(Default)]
struct FakeAuthgate {
    answers: Mutex<HashMap<String, Answer>>,
    calls: AtomicUsize,
    /// The `Authorization` header of each call.
    seen: Mutex<Vec<String>>,
}

impl FakeAuthgate {
    fn answer(&self, token: &str, answer: Answer) {
        self.answers
            .lock()
            .expect("answers lock")
            .insert(token.to_string(), answer);
    }

    fn knows(&self, token: &str) {
        self.answer(token, Answer::Context(context_json()));
    }

    fn revokes(&self, token: &str) {
        self.answer(
            token,
            Answer::Status(
                StatusCode::UNAUTHORIZED,
                json!({
                    "type": "https://authgate.dev/errors/token-revoked",
                    "title": "Token revoked",
                    "status": 401,
                    "code": "token_revoked",
                    "detail": "the session of this token has been signed out or revoked",
                })
                .to_string(),
            ),
        );
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

async fn subject(State(fake): State<Arc<FakeAuthgate>>, headers: HeaderMap) -> Response {
    fake.calls.fetch_add(1, Ordering::SeqCst);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    fake.seen
        .lock()
        .expect("seen lock")
        .push(authorization.clone());
    let token = authorization.strip_prefix("Bearer ").unwrap_or_default();
    let answer = fake
        .answers
        .lock()
        .expect("answers lock")
        .get(token)
        .cloned();
    match answer {
        Some(Answer::Context(body)) => Json(body).into_response(),
        Some(Answer::Status(status, body)) => (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/problem+json")],
            json!({"status": 401, "code": "invalid_token", "title": "Invalid token"}).to_string(),
        )
            .into_response(),
    }
}

/// Start the stand-in on 127.0.0.1:0; returns it and its base URL.
async fn start_authgate() -> (Arc<FakeAuthgate>, String) {
    let fake = Arc::new(FakeAuthgate::default());
    let app = Router::new()
        .route("/v1/auth/subject", get(subject))
        .with_state(Arc::clone(&fake));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the stand-in");
    let base = format!("http://{}", listener.local_addr().expect("local addr"));
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("stand-in serves");
    });
    (fake, base)
}

/// A base URL nobody listens on.
async fn dead_base_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    format!("http://{addr}")
}

/// The caller: platform role `support` (grants `tenants:list`), operator of
/// Acme (`devices:*`, `members:read`), viewer of Beta (`devices:read`).
fn context_json() -> Value {
    json!({
        "user": {
            "id": "u-1",
            "sub": "user-42",
            "email": "alice@example.test",
            "name": "Alice",
            "createdAt": "2025-01-01T00:00:00Z",
        },
        "provider": "embedded",
        "platformRole": "support",
        "platformGrants": ["tenants:list"],
        "mfa": {"totp": true},
        "tenants": [
            {"id": "t-acme", "name": "Acme", "role": "operator", "grants": ["devices:*", "members:read"]},
            {"id": "t-beta", "name": "Beta", "role": "viewer", "grants": ["devices:read"]},
        ],
    })
}

fn expected_context() -> UserContext {
    serde_json::from_value(context_json()).expect("fixture is a UserContext")
}

/// A valid token, distinct per `jti`.
fn token(jti: &str) -> String {
    let mut claims = access_claims();
    claims["jti"] = json!(jti);
    KEY.token(&claims)
}

// ---------------------------------------------------------------------------
// The protected service.

#[derive(Clone, FromRef)]
struct AppState {
    guard: Arc<Guard>,
    contexts: Arc<ContextClient>,
}

async fn me(ctx: CallerContext) -> Json<Value> {
    Json(json!({"sub": ctx.auth.claims.sub, "context": ctx.context}))
}

async fn twice(first: CallerContext, second: CallerContext) -> String {
    format!("{} {}", first.context.user.id, second.context.user.id)
}

async fn decide_in(
    ctx: CallerContext,
    Path((tenant, action)): Path<(String, String)>,
) -> Result<Json<Decision>, Forbidden> {
    let decision = ctx.require_in(&tenant, &action)?;
    Ok(Json(decision))
}

/// The `Result<_, Response>` style: `Forbidden` converts with `?`.
async fn decide(
    ctx: CallerContext,
    Path(action): Path<String>,
) -> Result<Json<Decision>, Response> {
    Ok(Json(ctx.require(&action)?))
}

async fn membership(ctx: CallerContext, Path(tenant): Path<String>) -> String {
    ctx.tenant(&tenant)
        .map(|t| format!("{} {}", t.name, t.role))
        .unwrap_or_else(|| "none".into())
}

fn app_with(contexts: ContextClient) -> Router {
    let (guard, _) = guard();
    Router::new()
        .route("/me", get(me))
        .route("/twice", get(twice))
        .route("/decide/{action}", get(decide))
        .route("/decide/{tenant}/{action}", get(decide_in))
        .route("/tenants/{tenant}", get(membership))
        .with_state(AppState {
            guard: Arc::new(guard),
            contexts: Arc::new(contexts),
        })
}

fn app(base: &str) -> Router {
    app_with(ContextClient::new(base))
}

fn get_with(path: &str, token: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(path);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::empty()).expect("request")
}

async fn send(app: &Router, path: &str, token: Option<&str>) -> Response {
    app.clone()
        .oneshot(get_with(path, token))
        .await
        .expect("response")
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

fn assert_problem(response: &Response, status: StatusCode) {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
}

// ---------------------------------------------------------------------------
// The extractor.

#[tokio::test]
async fn a_valid_token_gives_the_handler_its_context() {
    let (fake, base) = start_authgate().await;
    let token = token("a");
    fake.knows(&token);
    let response = send(&app(&base), "/me", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = body_json(response).await;
    assert_eq!(body["sub"], "user-42");
    assert_eq!(
        serde_json::from_value::<UserContext>(body["context"].clone()).expect("context"),
        expected_context()
    );
    assert_eq!(fake.calls(), 1);
    assert_eq!(
        *fake.seen.lock().expect("seen lock"),
        [format!("Bearer {token}")],
        "authgate is asked with the caller's own token"
    );
}

#[tokio::test]
async fn missing_or_refused_tokens_are_401_without_asking_authgate() {
    let (fake, base) = start_authgate().await;
    let app = app(&base);

    let response = send(&app, "/me", None).await;
    assert_problem(&response, StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(body_json(response).await["code"], "missing_token");

    // Signed by a key the issuer does not publish; authgate would accept it.
    let forged = OTHER_KEY.token(&access_claims());
    fake.knows(&forged);
    let response = send(&app, "/me", Some(&forged)).await;
    assert_problem(&response, StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="invalid_token", error_description="unknown_key""#
    );
    assert_eq!(body_json(response).await["code"], "invalid_token");

    let mut claims = access_claims();
    claims["exp"] = json!(now() - 3600);
    let expired = KEY.token(&claims);
    fake.knows(&expired);
    let response = send(&app, "/decide/t-acme/devices:read", Some(&expired)).await;
    assert_problem(&response, StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(response).await["code"], "invalid_token");

    assert_eq!(fake.calls(), 0, "authgate was never asked");
}

#[tokio::test]
async fn authgates_401_is_a_401_with_its_code_and_is_not_cached() {
    let (fake, base) = start_authgate().await;
    let token = token("revoked");
    fake.revokes(&token);
    let app = app(&base);
    for round in 1..=2 {
        let response = send(&app, "/me", Some(&token)).await;
        assert_problem(&response, StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer error="invalid_token", error_description="token_revoked""#
        );
        assert_eq!(
            body_json(response).await,
            json!({
                "type": "https://authgate.dev/errors/token-revoked",
                "title": "Token revoked",
                "status": 401,
                "code": "token_revoked",
                "detail": "the session of this token has been signed out or revoked",
            })
        );
        assert_eq!(fake.calls(), round, "a refusal is not cached");
    }

    // A token authgate does not know at all keeps its `invalid_token`.
    let unknown = crate::context::token("unknown");
    let response = send(&app, "/me", Some(&unknown)).await;
    assert_problem(&response, StatusCode::UNAUTHORIZED);
    let body = body_json(response).await;
    assert_eq!(body["code"], "invalid_token");
    assert_eq!(body["type"], "https://authgate.dev/errors/invalid-token");
    assert!(!body.to_string().contains(&unknown));
}

#[tokio::test]
async fn an_unreachable_authgate_is_503_without_details() {
    let app = app(&dead_base_url().await);
    let token = token("a");
    let response = send(&app, "/me", Some(&token)).await;
    assert_problem(&response, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    let body = body_json(response).await;
    assert_eq!(
        body,
        json!({
            "type": "https://authgate.dev/errors/provider-unavailable",
            "title": "Provider unavailable",
            "status": 503,
            "code": "provider_unavailable",
            "detail": "the identity provider is unavailable",
        })
    );
}

#[tokio::test]
async fn authgate_answering_503_or_nonsense_is_503() {
    let (fake, base) = start_authgate().await;
    let app = app(&base);
    let answers = [
        Answer::Status(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"code": "store_unavailable", "status": 503}).to_string(),
        ),
        Answer::Status(StatusCode::NOT_FOUND, String::new()),
        Answer::Context(json!({"user": "not a context"})),
    ];
    for (i, answer) in answers.into_iter().enumerate() {
        let token = token(&format!("t{i}"));
        fake.answer(&token, answer);
        let response = send(&app, "/me", Some(&token)).await;
        assert_problem(&response, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body_json(response).await["code"], "provider_unavailable");
    }
    assert_eq!(fake.calls(), 3);
}

#[tokio::test]
async fn extracting_twice_in_one_request_fetches_once() {
    let (fake, base) = start_authgate().await;
    let token = token("a");
    fake.knows(&token);
    // No cache: only the request extensions can explain a single fetch.
    let app = app_with(ContextClient::new(&base).with_cache_ttl(Duration::ZERO));
    let response = send(&app, "/twice", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "u-1 u-1");
    assert_eq!(fake.calls(), 1);
}

// ---------------------------------------------------------------------------
// The client and its cache.

#[tokio::test]
async fn the_same_token_is_fetched_once_within_the_ttl() {
    let (fake, base) = start_authgate().await;
    let (a, b) = (token("a"), token("b"));
    fake.knows(&a);
    fake.knows(&b);
    let app = app(&base);
    for _ in 0..2 {
        assert_eq!(send(&app, "/me", Some(&a)).await.status(), StatusCode::OK);
    }
    assert_eq!(
        fake.calls(),
        1,
        "the second request was served from the cache"
    );
    assert_eq!(send(&app, "/me", Some(&b)).await.status(), StatusCode::OK);
    assert_eq!(fake.calls(), 2, "another token is another entry");
}

#[tokio::test]
async fn a_zero_ttl_fetches_every_time() {
    let (fake, base) = start_authgate().await;
    let token = token("a");
    fake.knows(&token);
    let app = app_with(ContextClient::new(&base).with_cache_ttl(Duration::ZERO));
    for _ in 0..2 {
        assert_eq!(
            send(&app, "/me", Some(&token)).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(fake.calls(), 2);
}

#[tokio::test]
async fn an_expired_entry_is_fetched_again() {
    let (fake, base) = start_authgate().await;
    let token = Secret::new(token("a"));
    fake.knows(token.expose());
    let client = ContextClient::new(&base).with_cache_ttl(Duration::from_millis(100));
    let exp = now() + 300;
    client.context(&token, exp).await.expect("context");
    client.context(&token, exp).await.expect("context");
    assert_eq!(fake.calls(), 1);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        client.context(&token, exp).await.expect("context"),
        expected_context()
    );
    assert_eq!(fake.calls(), 2, "the TTL ran out");
}

#[tokio::test]
async fn the_tokens_exp_bounds_the_cache_entry() {
    let (fake, base) = start_authgate().await;
    let client = ContextClient::new(&base); // TTL 30 s

    // Already past `exp`: nothing is cached.
    let past = Secret::new(token("past"));
    fake.knows(past.expose());
    client.context(&past, now() - 1).await.expect("context");
    client.context(&past, now() - 1).await.expect("context");
    assert_eq!(fake.calls(), 2);

    // `exp` in 2 s: cached until then, not for the 30 s TTL.
    let soon = Secret::new(token("soon"));
    fake.knows(soon.expose());
    let exp = now() + 2;
    client.context(&soon, exp).await.expect("context");
    client.context(&soon, exp).await.expect("context");
    assert_eq!(fake.calls(), 3, "cached while the token is valid");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    client.context(&soon, exp).await.expect("context");
    assert_eq!(fake.calls(), 4, "the entry ended at exp");
}

#[tokio::test]
async fn the_client_reports_refusals_and_failures_without_the_token() {
    let (fake, base) = start_authgate().await;
    // A trailing slash on the base URL is tolerated.
    let client = ContextClient::new(format!("{base}/"));

    let revoked = Secret::new(token("revoked"));
    fake.revokes(revoked.expose());
    let error = client
        .context(&revoked, now() + 300)
        .await
        .expect_err("revoked");
    assert_eq!(
        error,
        ContextError::Unauthenticated {
            code: "token_revoked".into()
        }
    );
    assert!(!error.to_string().contains(revoked.expose()));

    let down = ContextClient::new(dead_base_url().await);
    let error = down.context(&revoked, now() + 300).await.expect_err("down");
    assert!(matches!(error, ContextError::Unavailable(_)), "{error:?}");
    assert!(!error.to_string().contains(revoked.expose()));
    assert_eq!(fake.calls(), 1);
}

// ---------------------------------------------------------------------------
// Decisions.

#[tokio::test]
async fn require_in_allows_held_grants_and_wildcards() {
    let (fake, base) = start_authgate().await;
    let token = token("a");
    fake.knows(&token);
    let app = app(&base);

    let response = send(&app, "/decide/t-beta/devices:read", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body_json(response).await,
        json!({"allowed": true, "reason": "tenant_role",
               "detail": "the tenant role viewer grants devices:read"})
    );

    // `devices:*` in Acme covers a nested action.
    let response = send(&app, "/decide/t-acme/devices:firmware:write", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body_json(response).await["detail"],
        "the tenant role operator grants devices:*"
    );

    // Platform grants hold in any tenant, member or not.
    let response = send(&app, "/decide/t-other/tenants:list", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_json(response).await["reason"], "platform_role");
}

#[tokio::test]
async fn require_in_another_tenant_is_403_not_a_member() {
    let (fake, base) = start_authgate().await;
    let token = token("a");
    fake.knows(&token);
    let response = send(&app(&base), "/decide/t-other/devices:read", Some(&token)).await;
    assert_problem(&response, StatusCode::FORBIDDEN);
    assert_eq!(
        body_json(response).await,
        json!({
            "type": "https://authgate.dev/errors/forbidden",
            "title": "Forbidden",
            "status": 403,
            "code": "forbidden",
            "detail": "the caller is not a member of this tenant",
            "reason": "not_a_member",
        })
    );
}

#[tokio::test]
async fn require_in_without_the_grant_is_403_no_grant() {
    let (fake, base) = start_authgate().await;
    let token = token("a");
    fake.knows(&token);
    let app = app(&base);
    // Beta's viewer may read devices, not write them; Acme's `devices:*`
    // does not leak into Beta.
    let response = send(&app, "/decide/t-beta/devices:write", Some(&token)).await;
    assert_problem(&response, StatusCode::FORBIDDEN);
    let body = body_json(response).await;
    assert_eq!(body["reason"], "no_grant");
    assert_eq!(body["code"], "forbidden");
    assert_eq!(
        body["detail"],
        "the tenant role viewer does not grant devices:write"
    );
    // `members:read` does not cover `members:write`.
    let response = send(&app, "/decide/t-acme/members:write", Some(&token)).await;
    assert_problem(&response, StatusCode::FORBIDDEN);
    assert_eq!(body_json(response).await["reason"], "no_grant");
}

#[tokio::test]
async fn require_uses_platform_grants_only() {
    let (fake, base) = start_authgate().await;
    let token = token("a");
    fake.knows(&token);
    let app = app(&base);

    let response = send(&app, "/decide/tenants:list", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body_json(response).await,
        json!({"allowed": true, "reason": "platform_role",
               "detail": "the platform role support grants tenants:list"})
    );

    // Held in tenants only: the caller must name one.
    let response = send(&app, "/decide/devices:read", Some(&token)).await;
    assert_problem(&response, StatusCode::FORBIDDEN);
    assert_eq!(body_json(response).await["reason"], "tenant_required");

    let response = send(&app, "/decide/billing:read", Some(&token)).await;
    assert_problem(&response, StatusCode::FORBIDDEN);
    assert_eq!(body_json(response).await["reason"], "no_grant");

    assert_eq!(fake.calls(), 1, "one context served all three decisions");
}

#[tokio::test]
async fn tenant_returns_the_callers_membership() {
    let (fake, base) = start_authgate().await;
    let token = token("a");
    fake.knows(&token);
    let app = app(&base);
    let response = send(&app, "/tenants/t-acme", Some(&token)).await;
    assert_eq!(body_text(response).await, "Acme operator");
    let response = send(&app, "/tenants/t-other", Some(&token)).await;
    assert_eq!(body_text(response).await, "none");
}
