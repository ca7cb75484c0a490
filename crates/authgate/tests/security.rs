//! The attacks of the security review (issue 10), replayed through HTTP on
//! SQLite and PostgreSQL. Each test is one attack and what authgate answers
//! now; each fails on the code before its fix.

mod common;

use common::{Engine, TestApp, assert_problem};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

const ADMIN_RULE: &str = "* /api/admin/** platform:admin";

async fn json_of(response: Response, status: u16) -> Value {
    let code = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(code, status, "body: {body}");
    body
}

/// A gateway's question to `/v1/authz/forward`, as nginx sends it.
struct Gate<'a> {
    app: &'a TestApp,
    headers: Vec<(&'static str, String)>,
}

impl<'a> Gate<'a> {
    fn nginx(app: &'a TestApp, method: &str, uri: &str) -> Self {
        Gate {
            app,
            headers: vec![
                ("x-original-method", method.to_string()),
                ("x-original-uri", uri.to_string()),
            ],
        }
    }

    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    fn tenant(self, tenant: &str) -> Self {
        self.header("x-tenant-id", tenant)
    }

    async fn ask(self, token: &str) -> Response {
        let mut request = self
            .app
            .client
            .get(self.app.url("/v1/authz/forward"))
            .bearer_auth(token);
        for (name, value) in self.headers {
            request = request.header(name, value);
        }
        request.send().await.unwrap()
    }
}

async fn check(app: &TestApp, token: &str, body: Value) -> Value {
    json_of(
        app.call(Method::POST, "/v1/authz/check", Some(token), Some(body))
            .await,
        200,
    )
    .await
}

/// Mallory owns a tenant: the owner's `*` there is no platform grant.
async fn a_tenant_owner_is_no_platform_admin(engine: Engine) {
    let app = TestApp::start_with(engine, |s| {
        s.forward_rules = format!("{ADMIN_RULE}; GET /api/reports/** data:read tenant=header");
    })
    .await;
    let (mallory, _) = app.user("mallory@example.com").await;
    let tenant = app.create_tenant(&mallory, "Mallory's").await;

    let refused = Gate::nginx(&app, "DELETE", "/api/admin/users")
        .tenant(&tenant)
        .ask(&mallory)
        .await;
    let body = assert_problem(refused, 403, "no_grant").await;
    assert!(
        body["detail"].as_str().unwrap().contains("platform action"),
        "{body}"
    );
    let decision = check(
        &app,
        &mallory,
        json!({"action": "platform:admin", "tenantId": tenant}),
    )
    .await;
    assert_eq!(decision["allowed"], false, "{decision}");
    // In her tenant the owner's `*` still covers every tenant action.
    let decision = check(
        &app,
        &mallory,
        json!({"action": "data:delete", "tenantId": tenant}),
    )
    .await;
    assert_eq!(decision["allowed"], true, "{decision}");
    // The admin API stays closed to her.
    assert_problem(
        app.call(Method::GET, "/v1/admin/users", Some(&mallory), None)
            .await,
        403,
        "forbidden",
    )
    .await;

    // A rule that takes the tenant from the header decides in it.
    let report = Gate::nginx(&app, "GET", "/api/reports/q3")
        .tenant(&tenant)
        .ask(&mallory)
        .await;
    assert_eq!(report.status(), StatusCode::OK);
    assert_eq!(report.headers()["x-auth-tenant-id"], tenant.as_str());
    assert_eq!(report.headers()["x-auth-roles"], "tenant:owner");
    app.finish().await;
}

/// No tenant role, not even one an admin writes, carries a platform grant.
async fn the_catalog_refuses_platform_grants_in_tenant_roles(engine: Engine) {
    let app = TestApp::start(engine).await;
    let root = app.admin_token("root@example.com").await;
    for (method, path, body) in [
        (
            Method::POST,
            "/v1/admin/roles",
            json!({"key": "sneaky", "scope": "tenant", "grants": ["data:read", "platform:admin"]}),
        ),
        (
            Method::POST,
            "/v1/admin/roles",
            json!({"key": "sneakier", "scope": "tenant", "grants": ["platform:*"]}),
        ),
        (
            Method::PUT,
            "/v1/admin/roles/viewer?scope=tenant",
            json!({"grants": ["data:read", "platform:users:delete"]}),
        ),
    ] {
        let body = assert_problem(
            app.call(method, path, Some(&root), Some(body)).await,
            422,
            "invalid_request",
        )
        .await;
        assert_eq!(body["field"], "grants", "{body}");
    }
    // Platform roles may carry them.
    json_of(
        app.call(
            Method::POST,
            "/v1/admin/roles",
            Some(&root),
            Some(json!({"key": "ops", "scope": "platform", "grants": ["platform:admin"]})),
        )
        .await,
        201,
    )
    .await;
    app.finish().await;
}

/// A request no rule covers used to come back with the client's
/// `X-Tenant-Id` as `X-Auth-Tenant-Id`, unchecked.
async fn forward_auth_vouches_only_for_tenants_of_the_caller(engine: Engine) {
    let app = TestApp::start_with(engine, |s| s.forward_rules = ADMIN_RULE.into()).await;
    let (alice, _) = app.user("alice@example.com").await;
    let (mallory, _) = app.user("mallory@example.com").await;
    let root = app.admin_token("root@example.com").await;
    let alices = app.create_tenant(&alice, "Alice's").await;
    let mallorys = app.create_tenant(&mallory, "Mallory's").await;

    for tenant in [
        alices.as_str(),
        "not-a-tenant",
        &uuid::Uuid::new_v4().to_string(),
    ] {
        let refused = Gate::nginx(&app, "GET", "/api/documents/1")
            .tenant(tenant)
            .ask(&mallory)
            .await;
        assert_problem(refused, 403, "not_a_member").await;
    }
    let own = Gate::nginx(&app, "GET", "/api/documents/1")
        .tenant(&mallorys)
        .ask(&mallory)
        .await;
    assert_eq!(own.status(), StatusCode::OK);
    assert_eq!(own.headers()["x-auth-tenant-id"], mallorys.as_str());
    assert_eq!(own.headers()["x-auth-roles"], "tenant:owner");
    // Without the header, nothing is vouched for.
    let none = Gate::nginx(&app, "GET", "/api/documents/1")
        .ask(&mallory)
        .await;
    assert_eq!(none.status(), StatusCode::OK);
    assert!(none.headers().get("x-auth-tenant-id").is_none());
    // A platform admin acts in any tenant that exists.
    let admin = Gate::nginx(&app, "GET", "/api/documents/1")
        .tenant(&alices)
        .ask(&root)
        .await;
    assert_eq!(admin.status(), StatusCode::OK);
    assert_eq!(admin.headers()["x-auth-tenant-id"], alices.as_str());
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_problem(
        Gate::nginx(&app, "GET", "/api/documents/1")
            .tenant(&unknown)
            .ask(&root)
            .await,
        403,
        "not_a_member",
    )
    .await;
    app.finish().await;
}

/// URIs a gateway and an upstream read differently are refused, never
/// normalised into another route.
async fn forward_auth_refuses_ambiguous_paths(engine: Engine) {
    let app = TestApp::start_with(engine, |s| {
        s.forward_rules = format!("GET /api/t/{{tenant}}/** data:read; {ADMIN_RULE}");
    })
    .await;
    let (alice, _) = app.user("alice@example.com").await;
    let (mallory, _) = app.user("mallory@example.com").await;
    let alices = app.create_tenant(&alice, "Alice's").await;
    let mallorys = app.create_tenant(&mallory, "Mallory's").await;
    for uri in [
        "/api/admin/..%2F..%2Fpublic".to_string(),
        "/api/admin/%2e%2e/%2e%2e/public".to_string(),
        "/api/admin/../../public".to_string(),
        "/api/admin;x/users".to_string(),
        "/api//admin/users".to_string(),
        "/api\\admin/users".to_string(),
        format!("/api/t/{alices}/..%2F{mallorys}/data"),
        format!("/api/t/{mallorys}/..%2F..%2F{alices}/data"),
    ] {
        let refused = Gate::nginx(&app, "GET", &uri).ask(&mallory).await;
        let body = assert_problem(refused, 403, "ambiguous_uri").await;
        assert!(
            body["detail"].as_str().unwrap().contains("refused"),
            "{uri}: {body}"
        );
    }
    // The plain paths are judged as before.
    let own = Gate::nginx(&app, "GET", &format!("/api/t/{mallorys}/data/1"))
        .ask(&mallory)
        .await;
    assert_eq!(own.status(), StatusCode::OK);
    assert_problem(
        Gate::nginx(&app, "GET", &format!("/api/t/{alices}/data/1"))
            .ask(&mallory)
            .await,
        403,
        "not_a_member",
    )
    .await;
    app.finish().await;
}

/// A client that adds the other header set (Traefik's to nginx, nginx's to
/// Traefik) used to decide which URI authgate judged.
async fn forward_auth_refuses_conflicting_or_missing_headers(engine: Engine) {
    let app = TestApp::start_with(engine, |s| s.forward_rules = ADMIN_RULE.into()).await;
    let (mallory, _) = app.user("mallory@example.com").await;
    let conflicting = Gate::nginx(&app, "GET", "/api/admin/users")
        .header("x-forwarded-uri", "/public")
        .ask(&mallory)
        .await;
    assert_problem(conflicting, 403, "ambiguous_uri").await;
    let traefik_plus_nginx = Gate {
        app: &app,
        headers: vec![
            ("x-forwarded-method", "DELETE".into()),
            ("x-forwarded-uri", "/api/admin/users".into()),
            ("x-original-uri", "/public".into()),
        ],
    }
    .ask(&mallory)
    .await;
    assert_problem(traefik_plus_nginx, 403, "ambiguous_uri").await;
    let methods = Gate::nginx(&app, "GET", "/public")
        .header("x-forwarded-method", "DELETE")
        .ask(&mallory)
        .await;
    assert_problem(methods, 403, "ambiguous_uri").await;
    // Both sets saying the same thing is fine.
    let agreeing = Gate::nginx(&app, "GET", "/public")
        .header("x-forwarded-uri", "/public")
        .ask(&mallory)
        .await;
    assert_eq!(agreeing.status(), StatusCode::OK);
    // The method and the URI are required: no default.
    for (headers, field) in [
        (vec![("x-original-uri", "/public")], "X-Original-Method"),
        (vec![("x-original-method", "GET")], "X-Original-URI"),
    ] {
        let gate = Gate {
            app: &app,
            headers: headers
                .into_iter()
                .map(|(n, v)| (n, v.to_string()))
                .collect(),
        };
        let body = assert_problem(gate.ask(&mallory).await, 422, "invalid_request").await;
        assert_eq!(body["field"], field, "{body}");
    }
    app.finish().await;
}

/// A platform role with `platform:admin` but not `*` used to write itself
/// a Cedar permit for everything, and to disable the `*` admin.
async fn a_limited_admin_cannot_escalate(engine: Engine) {
    let app = TestApp::start(engine).await;
    let root = app.admin_token("root@example.com").await;
    let root_id = json_of(
        app.call(Method::GET, "/v1/auth/subject", Some(&root), None)
            .await,
        200,
    )
    .await["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (ops, ops_id) = app.user("ops@example.com").await;
    let (_, plain_id) = app.user("plain@example.com").await;
    json_of(
        app.call(
            Method::POST,
            "/v1/admin/roles",
            Some(&root),
            Some(json!({"key": "ops", "scope": "platform", "grants": ["platform:admin"]})),
        )
        .await,
        201,
    )
    .await;
    json_of(
        app.call(
            Method::PUT,
            &format!("/v1/admin/users/{ops_id}/platform-role"),
            Some(&root),
            Some(json!({"role": "ops"})),
        )
        .await,
        200,
    )
    .await;

    let grab_everything = json!({
        "id": "ops-everything",
        "policy": format!("permit(principal == User::\"{ops_id}\", action, resource);"),
    });
    for (method, path) in [
        (Method::POST, "/v1/admin/policies".to_string()),
        (Method::PUT, "/v1/admin/policies/ops-everything".to_string()),
    ] {
        let body = assert_problem(
            app.call(method, &path, Some(&ops), Some(grab_everything.clone()))
                .await,
            403,
            "forbidden",
        )
        .await;
        assert!(
            body["detail"].as_str().unwrap().contains("policy"),
            "{body}"
        );
    }
    let decision = check(&app, &ops, json!({"action": "billing:refund"})).await;
    assert_eq!(decision["allowed"], false, "{decision}");
    // The `*` admin writes policies; the limited one cannot delete them.
    json_of(
        app.call(
            Method::POST,
            "/v1/admin/policies",
            Some(&root),
            Some(json!({"id": "quiet-hours", "policy": "forbid(principal, action == Action::\"data:delete\", resource) when { context.hourUtc < 0 };"})),
        )
        .await,
        201,
    )
    .await;
    assert_problem(
        app.call(
            Method::DELETE,
            "/v1/admin/policies/quiet-hours",
            Some(&ops),
            None,
        )
        .await,
        403,
        "forbidden",
    )
    .await;

    // Actions on an account need the actor to hold its platform grants.
    for action in ["disable", "reset-password"] {
        assert_problem(
            app.call(
                Method::POST,
                &format!("/v1/admin/users/{root_id}/{action}"),
                Some(&ops),
                None,
            )
            .await,
            403,
            "forbidden",
        )
        .await;
    }
    assert_problem(
        app.call(
            Method::DELETE,
            &format!("/v1/admin/users/{root_id}"),
            Some(&ops),
            None,
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        app.call(Method::GET, "/v1/auth/subject", Some(&root), None)
            .await
            .status(),
        StatusCode::OK,
        "the * admin still signs in"
    );
    let disabled = app
        .call(
            Method::POST,
            &format!("/v1/admin/users/{plain_id}/disable"),
            Some(&ops),
            None,
        )
        .await;
    assert_eq!(disabled.status(), StatusCode::NO_CONTENT);

    // Nor does it revoke a client that holds every grant.
    let (client_id, _) = app.create_client("root-robot", "admin");
    assert_problem(
        app.call(
            Method::DELETE,
            &format!("/v1/admin/clients/{client_id}"),
            Some(&ops),
            None,
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let revoked = app
        .call(
            Method::DELETE,
            &format!("/v1/admin/clients/{client_id}"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    app.finish().await;
}

on_both_engines!(
    a_tenant_owner_is_no_platform_admin,
    the_catalog_refuses_platform_grants_in_tenant_roles,
    forward_auth_vouches_only_for_tenants_of_the_caller,
    forward_auth_refuses_ambiguous_paths,
    forward_auth_refuses_conflicting_or_missing_headers,
    a_limited_admin_cannot_escalate,
);
