//! A protected Rust API that uses authgate-guard's `CallerContext` against a
//! real authgate: who calls, in which tenant, with which role and grants —
//! 401 when unauthenticated, 403 when a grant is missing.

use crate::common::{Engine, TestApp};
use authgate_guard::{CallerContext, ContextClient, Forbidden, Guard, GuardConfig, JwksSource};
use axum::Router;
use axum::extract::{FromRef, Path};
use axum::routing::{get, post};
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;

#[derive(Clone)]
struct ApiState {
    guard: Arc<Guard>,
    context: Arc<ContextClient>,
}

impl FromRef<ApiState> for Arc<Guard> {
    fn from_ref(state: &ApiState) -> Self {
        state.guard.clone()
    }
}

impl FromRef<ApiState> for Arc<ContextClient> {
    fn from_ref(state: &ApiState) -> Self {
        state.context.clone()
    }
}

async fn whoami(ctx: CallerContext) -> String {
    format!("{} {}", ctx.context.user.id, ctx.context.tenants.len())
}

async fn read_document(
    ctx: CallerContext,
    Path(tenant): Path<String>,
) -> Result<String, Forbidden> {
    let decision = ctx.require_in(&tenant, "data:read")?;
    Ok(format!(
        "read by {} ({})",
        ctx.context.user.id, decision.reason
    ))
}

async fn write_document(
    ctx: CallerContext,
    Path(tenant): Path<String>,
) -> Result<String, Forbidden> {
    ctx.require_in(&tenant, "data:write")?;
    Ok("written".into())
}

/// A protected API on a free port, trusting `app`'s tokens.
async fn protected_api(app: &TestApp) -> String {
    let guard = Arc::new(Guard::new(GuardConfig::new(
        app.base.clone(),
        "authgate",
        JwksSource::Url(format!("{}/.well-known/jwks.json", app.base)),
    )));
    let state = ApiState {
        guard,
        context: Arc::new(ContextClient::new(&app.base).with_cache_ttl(std::time::Duration::ZERO)),
    };
    let router = Router::new()
        .route("/whoami", get(whoami))
        .route("/t/{tenant}/documents", get(read_document))
        .route("/t/{tenant}/documents", post(write_document))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

async fn a_protected_api_learns_who_calls_and_what_they_may_do(engine: Engine) {
    let app = TestApp::start(engine).await;
    let api = protected_api(&app).await;
    let (owner, owner_id) = app.user("api-owner@example.com").await;
    let (viewer, viewer_id) = app.user("api-viewer@example.com").await;
    let tenant = app.create_tenant(&owner, "API").await;
    let added = app
        .add_member(&owner, &tenant, "api-viewer@example.com", "viewer")
        .await;
    assert_eq!(added.status().as_u16(), 201);
    let client = reqwest::Client::new();

    let me = client
        .get(format!("{api}/whoami"))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(me.text().await.unwrap(), format!("{owner_id} 1"));

    let read = client
        .get(format!("{api}/t/{tenant}/documents"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 200);
    assert_eq!(
        read.text().await.unwrap(),
        format!("read by {viewer_id} (tenant_role)")
    );

    let write = client
        .post(format!("{api}/t/{tenant}/documents"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(write.status().as_u16(), 403);
    let problem: Value = write.json().await.unwrap();
    assert_eq!(problem["reason"], "no_grant");
    let owner_write = client
        .post(format!("{api}/t/{tenant}/documents"))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(owner_write.status().as_u16(), 200);

    let elsewhere = client
        .get(format!("{api}/t/{}/documents", uuid::Uuid::new_v4()))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status().as_u16(), 403);
    assert_eq!(
        elsewhere.json::<Value>().await.unwrap()["reason"],
        "not_a_member"
    );

    let anonymous = client.get(format!("{api}/whoami")).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    // Signed out at authgate: the API refuses the token with authgate's code.
    let out = app
        .call(Method::POST, "/v1/auth/sign-out", Some(&viewer), None)
        .await;
    assert_eq!(out.status().as_u16(), 204);
    let revoked = client
        .get(format!("{api}/whoami"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status().as_u16(), 401);
    assert_eq!(
        revoked.json::<Value>().await.unwrap()["code"],
        "token_revoked"
    );
    app.finish().await;
}

on_both_engines!(a_protected_api_learns_who_calls_and_what_they_may_do);
