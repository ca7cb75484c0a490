//! authgate behind a real nginx (`auth_request`): the harness in
//! `common/nginx.rs` checked against a stand-in auth endpoint, then
//! authgate's own forward-auth endpoint.

use crate::common;

use crate::common::nginx::{EchoUpstream, Nginx};
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use reqwest::Client;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// What the stand-in auth endpoint received on one call.
#[derive(Debug, Clone)]
struct AuthCall {
    path: String,
    authorization: Option<String>,
    original_method: Option<String>,
    original_uri: Option<String>,
    content_length: Option<String>,
}

type AuthCalls = Arc<Mutex<Vec<AuthCall>>>;

/// A stand-in for authgate's `/v1/authz/forward`: 401 without an
/// Authorization header, 403 for `Bearer deny`, else 200 with the identity
/// headers. It records every call.
async fn start_stand_in_auth() -> (String, AuthCalls, tokio::task::JoinHandle<()>) {
    let calls: AuthCalls = Arc::default();
    let record = calls.clone();
    let app = Router::new().route(
        "/v1/authz/forward",
        any(move |request: Request| {
            let record = record.clone();
            async move {
                let headers = request.headers();
                let call = AuthCall {
                    path: request.uri().to_string(),
                    authorization: header(headers, "authorization"),
                    original_method: header(headers, "x-original-method"),
                    original_uri: header(headers, "x-original-uri"),
                    content_length: header(headers, "content-length"),
                };
                let authorization = call.authorization.clone();
                record.lock().unwrap().push(call);
                match authorization.as_deref() {
                    None => StatusCode::UNAUTHORIZED.into_response(),
                    Some("Bearer deny") => StatusCode::FORBIDDEN.into_response(),
                    Some(_) => answer(
                        StatusCode::OK,
                        &[
                            ("x-auth-user-id", "u-1"),
                            ("x-auth-subject", "s-1"),
                            ("x-auth-tenant-id", "t-1"),
                            ("x-auth-roles", "tenant:owner"),
                        ],
                    ),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (base, calls, handle)
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn answer(status: StatusCode, headers: &[(&'static str, &'static str)]) -> Response {
    let mut response = status.into_response();
    for (name, value) in headers {
        response.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

fn client() -> Client {
    Client::builder().no_proxy().build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_harness_forwards_identity_and_refusals() {
    let (auth_base, calls, auth_server) = start_stand_in_auth().await;
    let upstream = EchoUpstream::start().await;
    let nginx = Nginx::start(&auth_base, &upstream.base).await;
    let client = client();
    let last_call = || calls.lock().unwrap().last().cloned().expect("auth called");

    // No token: 401 from the auth endpoint reaches the client; no upstream call.
    let response = client
        .get(nginx.url("/api/things?page=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "{}",
        nginx.access_log()
    );
    let call = last_call();
    assert_eq!(call.path, "/v1/authz/forward");
    assert_eq!(call.authorization, None);
    assert_eq!(call.original_method.as_deref(), Some("GET"));
    assert_eq!(call.original_uri.as_deref(), Some("/api/things?page=2"));
    assert!(upstream.seen().is_empty(), "{:?}", upstream.seen());

    // `deny`: 403, the auth subrequest saw the client's method and URI but
    // not its body; still no upstream call.
    let response = client
        .post(nginx.url("/api/things/7?dry=1"))
        .bearer_auth("deny")
        .body("{\"a\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "{}",
        nginx.access_log()
    );
    let call = last_call();
    assert_eq!(call.authorization.as_deref(), Some("Bearer deny"));
    assert_eq!(call.original_method.as_deref(), Some("POST"));
    assert_eq!(call.original_uri.as_deref(), Some("/api/things/7?dry=1"));
    assert_eq!(call.content_length, None, "the body is not passed to auth");
    assert!(upstream.seen().is_empty(), "{:?}", upstream.seen());

    // A good token: 200 from the upstream, which sees the identity headers
    // (the client's own X-Auth-User-Id replaced) and the original URI.
    let response = client
        .patch(nginx.url("/api/widgets/42?expand=owner&q=a%20b"))
        .bearer_auth("good-token")
        .header("x-auth-user-id", "spoofed")
        .header("x-auth-roles", "platform:admin")
        .body("{\"name\":\"w\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", nginx.access_log());
    let echoed: Value = response.json().await.unwrap();
    assert_eq!(echoed["method"], "PATCH");
    assert_eq!(echoed["path"], "/api/widgets/42");
    assert_eq!(echoed["uri"], "/api/widgets/42?expand=owner&q=a%20b");
    let headers = &echoed["headers"];
    assert_eq!(headers["x-auth-user-id"], "u-1", "{echoed}");
    assert_eq!(headers["x-auth-subject"], "s-1", "{echoed}");
    assert_eq!(headers["x-auth-tenant-id"], "t-1", "{echoed}");
    assert_eq!(headers["x-auth-roles"], "tenant:owner", "{echoed}");
    assert_eq!(
        headers["content-length"], "12",
        "the body reaches the upstream"
    );
    let call = last_call();
    assert_eq!(call.authorization.as_deref(), Some("Bearer good-token"));
    assert_eq!(call.original_method.as_deref(), Some("PATCH"));
    assert_eq!(
        call.original_uri.as_deref(),
        Some("/api/widgets/42?expand=owner&q=a%20b")
    );
    assert_eq!(upstream.seen().len(), 1);
    assert_eq!(calls.lock().unwrap().len(), 3, "one auth call per request");

    drop(nginx);
    auth_server.abort();
}

// authgate's real /v1/authz/forward: see the tests below

/// nginx gates an API with authgate alone: route rules map the original
/// method and path to a grant in the tenant named by the path.
async fn authgate_gates_routes_behind_nginx(engine: common::Engine) {
    let app = common::TestApp::start_with(engine, |s| {
        s.forward_rules =
            "GET /api/t/{tenant}/** data:read; POST,PUT,DELETE /api/t/{tenant}/** data:write"
                .into();
    })
    .await;
    let upstream = EchoUpstream::start().await;
    let nginx = Nginx::start(&app.base, &upstream.base).await;
    let (owner, owner_id) = app.user("nginx-owner@example.com").await;
    let (viewer, _) = app.user("nginx-viewer@example.com").await;
    let tenant = app.create_tenant(&owner, "Edge").await;
    let added = app
        .add_member(&owner, &tenant, "nginx-viewer@example.com", "viewer")
        .await;
    assert_eq!(added.status().as_u16(), 201);
    let client = Client::new();
    let path = format!("/api/t/{tenant}/documents/9?rev=2");

    // 401: no token, or a forged one; the upstream never sees them.
    let anonymous = client.get(nginx.url(&path)).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let forged = client
        .get(nginx.url(&path))
        .bearer_auth("eyJhbGciOiJub25lIn0.e30.")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);
    assert!(upstream.seen().is_empty(), "{:?}", upstream.seen());

    // 403: a viewer may read but not write.
    let write = client
        .post(nginx.url(&path))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(write.status().as_u16(), 403);
    assert!(upstream.seen().is_empty());

    // 200: the upstream gets the request with authgate's identity headers,
    // whatever the client claimed.
    let read = client
        .get(nginx.url(&path))
        .bearer_auth(&viewer)
        .header("x-auth-roles", "tenant:owner")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 200);
    let written = client
        .delete(nginx.url(&path))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(written.status().as_u16(), 200);
    let seen = upstream.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0]["uri"], path.as_str());
    assert_eq!(seen[0]["headers"]["x-auth-tenant-id"], tenant.as_str());
    assert_eq!(seen[0]["headers"]["x-auth-roles"], "tenant:viewer");
    assert_eq!(seen[1]["method"], "DELETE");
    assert_eq!(seen[1]["headers"]["x-auth-user-id"], owner_id.as_str());
    assert_eq!(seen[1]["headers"]["x-auth-roles"], "tenant:owner");
    assert!(
        seen[1]["headers"]["x-auth-subject"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    drop(nginx);
    app.finish().await;
}

on_both_engines!(authgate_gates_routes_behind_nginx);
