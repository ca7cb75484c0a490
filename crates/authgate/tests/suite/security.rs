//! The attacks of the security review (issue 10), replayed through HTTP on
//! SQLite and PostgreSQL. Each test is one attack and what authgate answers
//! now; each fails on the code before its fix.

use crate::common;

use crate::common::{Engine, TestApp, assert_problem, json_of};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

const ADMIN_RULE: &str = "* /api/admin/** platform:admin";

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
        "admin_required",
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
            "insufficient_grants",
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
        "insufficient_grants",
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
            "insufficient_grants",
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
        "insufficient_grants",
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
        "insufficient_grants",
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

/// Enrol an authenticator for a signed-in user: (secret, recovery codes).
async fn enrol_totp(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let started = json_of(app.post_bearer("/v1/auth/mfa/totp", token).await, 200).await;
    let secret = started["secret"].as_str().unwrap().to_string();
    let done = json_of(
        app.call(
            Method::POST,
            "/v1/auth/mfa/totp/verify",
            Some(token),
            Some(json!({"code": common::totp_at(&secret, common::now())})),
        )
        .await,
        200,
    )
    .await;
    let codes: Vec<String> = done["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (secret, codes)
}

async fn challenge_session(app: &TestApp, email: &str, password: &str) -> String {
    let challenge = json_of(
        app.post(
            "/v1/auth/sign-in",
            json!({"email": email, "password": password}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(challenge["challenge"], "TOTP_REQUIRED", "{challenge}");
    challenge["session"].as_str().unwrap().to_string()
}

/// Reset the password with the mailed code (the `nth` code-carrying mail).
async fn reset_password(app: &TestApp, email: &str, nth: usize, new_password: &str) {
    let asked = app
        .post("/v1/auth/password-resets", json!({"email": email}))
        .await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let code = app.smtp.code(email, nth).await;
    json_of(
        app.post(
            "/v1/auth/password-resets/confirm",
            json!({"email": email, "code": code, "newPassword": new_password}),
        )
        .await,
        200,
    )
    .await;
}

const NEW_PASSWORD: &str = "Another-Horse-77?";

/// With only the victim's mailbox: a password reset by mail, then a
/// lost-authenticator reset with the new password, used to replace the
/// authenticator. Now the second step needs a recovery code for 72 h.
async fn a_mailbox_alone_cannot_replace_an_authenticator(engine: Engine) {
    let app = TestApp::start(engine).await;
    let email = "victim@example.com";
    let (token, _) = app.user(email).await;
    let (_, codes) = enrol_totp(&app, &token).await;
    assert_eq!(codes.len(), 10);
    let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
    assert_eq!(distinct.len(), 10, "{codes:?}");

    // The attacker resets the password from the mailbox; the owner is told.
    reset_password(&app, email, 1, NEW_PASSWORD).await;
    app.smtp.notice(email, "was reset").await;

    let start = json_of(
        app.post("/v1/auth/mfa-reset/start", json!({"email": email}))
            .await,
        200,
    )
    .await;
    let code = app.smtp.code(email, 2).await;
    let verify = |recovery: Option<&str>| {
        let mut body = json!({"email": email, "session": start["session"], "code": code, "password": NEW_PASSWORD});
        if let Some(recovery) = recovery {
            body["recoveryCode"] = json!(recovery);
        }
        app.post("/v1/auth/mfa-reset/verify", body)
    };
    let body = assert_problem(verify(None).await, 403, "recovery_cooldown").await;
    assert!(
        body["detail"].as_str().unwrap().contains("possible from"),
        "{body}"
    );
    // A guessed recovery code does not open it either.
    assert_problem(
        verify(Some("AAAA-BBBB-CCCC-DDDD")).await,
        400,
        "code_mismatch",
    )
    .await;

    // The owner, who kept a recovery code, still can.
    let recovered = json_of(verify(Some(&codes[0])).await, 200).await;
    let new_secret = recovered["secret"].as_str().unwrap();
    let confirmed = json_of(
        app.post(
            "/v1/auth/mfa-reset/confirm",
            json!({"accessToken": recovered["accessToken"], "code": common::totp_at(new_secret, common::now())}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(confirmed["recoveryCodes"].as_array().unwrap().len(), 10);
    app.smtp.notice(email, "was replaced").await;

    // The reverse: right after the authenticator was replaced, a password
    // reset by mail sends no code, only a notice that says why.
    let before = app.smtp.messages_to(email).len();
    let asked = app
        .post("/v1/auth/password-resets", json!({"email": email}))
        .await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    app.smtp.notice(email, "no code was sent").await;
    assert_eq!(
        app.smtp.count_settled(email).await,
        before,
        "a reset code went out"
    );
    app.finish().await;
}

/// Recovery codes sign in once each, and a new set replaces the old.
async fn recovery_codes_are_a_second_factor_once_each(engine: Engine) {
    let app = TestApp::start(engine).await;
    let email = "keeper@example.com";
    let (token, _) = app.user(email).await;
    let (_, codes) = enrol_totp(&app, &token).await;

    let answer = |session: String, code: &str| {
        app.post(
            "/v1/auth/challenges/totp",
            json!({"email": email, "session": session, "code": code}),
        )
    };
    let session = challenge_session(&app, email, common::PASSWORD).await;
    let signed_in = json_of(answer(session, &codes[3].to_lowercase()).await, 200).await;
    assert!(signed_in["accessToken"].is_string());
    app.smtp.notice(email, "9 unused recovery codes").await;
    let session = challenge_session(&app, email, common::PASSWORD).await;
    assert_problem(answer(session, &codes[3]).await, 400, "code_mismatch").await;

    let left = json_of(
        app.get_bearer("/v1/auth/mfa/recovery-codes", &token).await,
        200,
    )
    .await;
    assert_eq!(left["remaining"], 9);
    // A new set needs the password, and ends the old one.
    assert_problem(
        app.call(
            Method::POST,
            "/v1/auth/mfa/recovery-codes",
            Some(&token),
            Some(json!({"password": "Wrong-Horse-42!"})),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    let fresh = json_of(
        app.call(
            Method::POST,
            "/v1/auth/mfa/recovery-codes",
            Some(&token),
            Some(json!({"password": common::PASSWORD})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(fresh["recoveryCodes"].as_array().unwrap().len(), 10);
    let session = challenge_session(&app, email, common::PASSWORD).await;
    assert_problem(answer(session, &codes[4]).await, 400, "code_mismatch").await;
    app.finish().await;
}

/// A stolen access token used to swap the authenticator and lock the
/// owner out. Now it needs the password again and the current factor.
async fn a_bearer_token_alone_cannot_swap_the_authenticator(engine: Engine) {
    let app = TestApp::start(engine).await;
    let email = "holder@example.com";
    let (token, _) = app.user(email).await;
    let other = app.sign_in(email).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let (old_secret, _) = enrol_totp(&app, &token).await;

    assert_problem(
        app.post_bearer("/v1/auth/mfa/totp", &token).await,
        403,
        "reverification_required",
    )
    .await;
    json_of(
        app.call(
            Method::POST,
            "/v1/auth/password-verifications",
            Some(&token),
            Some(json!({"password": common::PASSWORD})),
        )
        .await,
        200,
    )
    .await;
    let started = json_of(app.post_bearer("/v1/auth/mfa/totp", &token).await, 200).await;
    let new_secret = started["secret"].as_str().unwrap().to_string();
    let new_code = common::totp_at(&new_secret, common::now());
    let finish = |current: Option<String>| {
        let mut body = json!({"code": new_code});
        if let Some(current) = current {
            body["currentCode"] = json!(current);
        }
        app.call(
            Method::POST,
            "/v1/auth/mfa/totp/verify",
            Some(&token),
            Some(body),
        )
    };
    let body = assert_problem(finish(None).await, 422, "invalid_request").await;
    assert_eq!(body["field"], "currentCode");
    assert_problem(finish(Some("000000".into())).await, 400, "code_mismatch").await;
    // The code of the current authenticator (the step after the one its
    // enrolment used) proves the factor.
    let current = common::totp_at(&old_secret, common::now() + 30);
    let done = json_of(finish(Some(current)).await, 200).await;
    assert_eq!(done["recoveryCodes"].as_array().unwrap().len(), 10);
    app.smtp.notice(email, "new authenticator app").await;
    // The user's other sessions ended; this one goes on.
    assert_problem(
        app.get_bearer("/v1/auth/subject", &other).await,
        401,
        "token_revoked",
    )
    .await;
    json_of(app.get_bearer("/v1/auth/subject", &token).await, 200).await;
    app.finish().await;
}

/// An attacker signs up Carol's address first with a password of their own;
/// Carol's sign-up used to answer 409, and her confirmation then activated
/// the attacker's password.
async fn pre_registration_cannot_hijack_an_address(engine: Engine) {
    let app = TestApp::start(engine).await;
    let email = "carol@example.com";
    let attacker = "Attacker-Pass-99!";
    json_of(
        app.post(
            "/v1/auth/sign-up",
            json!({"email": email, "password": attacker}),
        )
        .await,
        201,
    )
    .await;
    let attackers_code = app.smtp.code(email, 0).await;
    json_of(app.sign_up(email).await, 201).await;
    let carols_code = app.smtp.code(email, 1).await;
    if attackers_code != carols_code {
        assert_problem(
            app.post(
                "/v1/auth/sign-up/confirm",
                json!({"email": email, "code": attackers_code}),
            )
            .await,
            400,
            "code_mismatch",
        )
        .await;
    }
    json_of(
        app.post(
            "/v1/auth/sign-up/confirm",
            json!({"email": email, "code": carols_code}),
        )
        .await,
        200,
    )
    .await;
    assert_problem(
        app.post(
            "/v1/auth/sign-in",
            json!({"email": email, "password": attacker}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    app.sign_in(email).await;
    app.finish().await;
}

/// Median milliseconds of `call`, over `n` runs.
async fn median_ms<F, Fut>(n: usize, mut call: F) -> f64
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let started = std::time::Instant::now();
        let response = call(i).await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(response.status().is_success(), "{}", response.status());
    }
    times.sort_by(f64::total_cmp);
    times[n / 2]
}

/// Known and unknown addresses used to get different answers (sign-up 409,
/// code_expired against code_mismatch, code_mismatch against
/// invalid_session) and different times.
async fn answers_do_not_tell_whether_an_account_exists(engine: Engine) {
    let app = TestApp::start(engine).await;
    let known = "known@example.com";
    app.confirmed_user(known).await;

    // Sign-up for a taken address: the answer of a new sign-up, a stable
    // subject, and a notice to the owner instead of a code.
    let first = json_of(app.sign_up(known).await, 201).await;
    let again = json_of(app.sign_up(known).await, 201).await;
    let fresh = json_of(app.sign_up("fresh@example.com").await, 201).await;
    assert_eq!(first["userSub"], again["userSub"]);
    for body in [&first, &fresh] {
        assert_eq!(body["requiresConfirmation"], true);
        assert_eq!(body["canSignIn"], false);
        assert_eq!(body["delivery"]["medium"], "EMAIL");
        assert!(uuid::Uuid::parse_str(body["userSub"].as_str().unwrap()).is_ok());
    }
    app.smtp.notice(known, "tried to sign up").await;
    assert_eq!(
        app.smtp.count_settled(known).await,
        1,
        "only the first sign-up code"
    );

    // Wrong codes get the same answer for both.
    for email in [known, "nobody@example.com"] {
        for (path, body) in [
            (
                "/v1/auth/sign-up/confirm",
                json!({"email": email, "code": "000000"}),
            ),
            (
                "/v1/auth/password-resets/confirm",
                json!({"email": email, "code": "000000", "newPassword": NEW_PASSWORD}),
            ),
        ] {
            assert_problem(app.post(path, body).await, 400, "code_mismatch").await;
        }
        let start = json_of(
            app.post("/v1/auth/mfa-reset/start", json!({"email": email}))
                .await,
            200,
        )
        .await;
        assert_problem(
            app.post(
                "/v1/auth/mfa-reset/verify",
                json!({"email": email, "session": start["session"], "code": "000000", "password": common::PASSWORD}),
            )
            .await,
            400,
            "code_mismatch",
        )
        .await;
    }

    // Both sign-ups hash a password: neither answers in a fraction of the other's time.
    let known_ms = median_ms(5, |_| app.sign_up(known)).await;
    let app_ref = &app;
    let new_ms = median_ms(5, |i| {
        let email = format!("new{i}@example.com");
        async move { app_ref.sign_up(&email).await }
    })
    .await;
    assert!(
        known_ms > new_ms * 0.5 && new_ms > known_ms * 0.5,
        "sign-up took {known_ms:.1} ms for a taken address, {new_ms:.1} ms for a new one"
    );
    app.finish().await;
}

/// Deployments that want Cognito's answer can have it back.
async fn sign_up_can_reveal_taken_addresses_when_asked(engine: Engine) {
    let app = TestApp::start_with(engine, |s| s.sign_up_reveals_existing = true).await;
    app.confirmed_user("taken@example.com").await;
    assert_problem(
        app.sign_up("taken@example.com").await,
        409,
        "username_exists",
    )
    .await;
    app.finish().await;
}

/// A client's own `X-Request-Id` used to be kept and written to audit rows.
async fn request_ids_come_from_trusted_proxies_only(engine: Engine) {
    let forged = "forged-request-id";
    let sign_in = |app: &TestApp| {
        app.client
            .post(app.url("/v1/auth/sign-in"))
            .header("x-request-id", forged)
            .json(&json!({"email": "nobody@example.com", "password": "Wrong-Horse-42!"}))
            .send()
    };
    let app = TestApp::start(engine).await;
    let answer = sign_in(&app).await.unwrap();
    let id = answer.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(id, forged);
    let rows = app
        .audit_rows_once(|row| row.kind == "sign_in" && row.request_id.is_some())
        .await;
    assert!(
        rows.iter()
            .all(|row| row.request_id.as_deref() != Some(forged)),
        "{rows:?}"
    );
    app.finish().await;

    let app = TestApp::start_with(engine, |s| s.trusted_proxies = "127.0.0.1/32, ::1".into()).await;
    let answer = sign_in(&app).await.unwrap();
    assert_eq!(answer.headers()["x-request-id"], forged);
    app.audit_rows_once(|row| row.request_id.as_deref() == Some(forged))
        .await;
    app.finish().await;
}

/// Token answers must not be cached, and no answer sniffed.
async fn answers_carry_no_store_and_nosniff(engine: Engine) {
    let app = TestApp::start(engine).await;
    app.confirmed_user("hygiene@example.com").await;
    let session = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": "hygiene@example.com", "password": common::PASSWORD}),
        )
        .await;
    assert_eq!(session.status(), StatusCode::OK);
    assert_eq!(session.headers()["cache-control"], "no-store");
    assert_eq!(session.headers()["x-content-type-options"], "nosniff");
    assert!(session.headers().get("strict-transport-security").is_none());
    let refused = app.get("/v1/auth/subject").await;
    assert_eq!(refused.headers()["cache-control"], "no-store");
    assert_eq!(refused.headers()["x-content-type-options"], "nosniff");
    let keys = app.get("/.well-known/jwks.json").await;
    assert_eq!(keys.headers()["cache-control"], "public, max-age=300");
    if engine == Engine::Sqlite {
        use std::os::unix::fs::PermissionsExt;
        let path = app.db.url.trim_start_matches("sqlite://").to_string();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{path}");
    }
    app.finish().await;
}

on_both_engines!(
    a_tenant_owner_is_no_platform_admin,
    the_catalog_refuses_platform_grants_in_tenant_roles,
    forward_auth_vouches_only_for_tenants_of_the_caller,
    forward_auth_refuses_ambiguous_paths,
    forward_auth_refuses_conflicting_or_missing_headers,
    a_limited_admin_cannot_escalate,
    a_mailbox_alone_cannot_replace_an_authenticator,
    recovery_codes_are_a_second_factor_once_each,
    a_bearer_token_alone_cannot_swap_the_authenticator,
    pre_registration_cannot_hijack_an_address,
    answers_do_not_tell_whether_an_account_exists,
    sign_up_can_reveal_taken_addresses_when_asked,
    request_ids_come_from_trusted_proxies_only,
    answers_carry_no_store_and_nosniff,
    the_client_address_comes_from_trusted_proxies_only,
);

/// A failed sign-in that names a client in `X-Forwarded-For`; the audited
/// address of the newest such row.
async fn audited_client(app: &TestApp, forwarded_for: &str, email: &str) -> (u16, String) {
    let status = app
        .client
        .post(app.url("/v1/auth/sign-in"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"email": email, "password": "Wrong-Horse-42!"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    if status == 429 {
        return (status, String::new());
    }
    app.audit_rows_once(|row| row.email.as_deref() == Some(email))
        .await;
    let pool = app.db.pool().await;
    let ip: Option<String> =
        sqlx::query_scalar("SELECT ip FROM audit_events WHERE email = $1 ORDER BY id DESC LIMIT 1")
            .bind(email)
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    (status, ip.unwrap_or_default())
}

/// Spoofing `X-Forwarded-For` from outside buys neither another address in
/// the audit trail nor a fresh rate-limit budget; behind a trusted proxy the
/// forwarded client is the one audited and limited, IPv6 per /64.
async fn the_client_address_comes_from_trusted_proxies_only(engine: Engine) {
    let app = TestApp::start_with(engine, |s| s.rate_limits = "sign-in=3/60s".into()).await;
    let (_, audited) = audited_client(&app, "203.0.113.7", "xff-1@example.com").await;
    assert_eq!(
        audited, "127.0.0.1",
        "a direct client cannot name its address"
    );
    audited_client(&app, "203.0.113.8", "xff-2@example.com").await;
    audited_client(&app, "203.0.113.9", "xff-3@example.com").await;
    let (status, _) = audited_client(&app, "203.0.113.10", "xff-4@example.com").await;
    assert_eq!(status, 429, "a new forged address is no new budget");
    app.finish().await;

    let app = TestApp::start_with(engine, |s| {
        s.rate_limits = "sign-in=3/60s".into();
        s.trusted_proxies = "127.0.0.1/32, ::1".into();
    })
    .await;
    let cases = [
        ("203.0.113.7", "203.0.113.7"),
        // The client's own claim left of the proxy's entry is not believed.
        ("6.6.6.6, 198.51.100.4", "198.51.100.4"),
        ("2001:db8:1:2::1", "2001:db8:1:2::1"),
    ];
    for (i, (sent, audited)) in cases.into_iter().enumerate() {
        let (status, ip) = audited_client(&app, sent, &format!("fwd-{i}@example.com")).await;
        assert_eq!((status, ip.as_str()), (401, audited), "{sent}");
    }
    // 2001:db8:1:2::/64 has spent one of its three; two more hosts of it
    // spend the rest, a fourth is refused, and another client is not.
    for host in ["2001:db8:1:2::2", "2001:db8:1:2:ffff::3"] {
        assert_eq!(audited_client(&app, host, "v6@example.com").await.0, 401);
    }
    assert_eq!(
        audited_client(&app, "2001:db8:1:2::99", "v6@example.com")
            .await
            .0,
        429
    );
    assert_eq!(
        audited_client(&app, "192.0.2.50", "other@example.com")
            .await
            .0,
        401
    );
    app.finish().await;
}
