//! Tenants, the authorization catalog, decisions, machine clients and the
//! gateway authorizer, through HTTP on SQLite and PostgreSQL.

use crate::common;

use crate::common::{Engine, TestApp, assert_problem, json_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn check(app: &TestApp, token: &str, body: Value) -> Value {
    json_of(
        app.call(Method::POST, "/v1/authz/check", Some(token), Some(body))
            .await,
        200,
    )
    .await
}

async fn subject_reports_the_user_context(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (token, user_id) = app.user("ctx@example.com").await;
    let subject = json_of(
        app.call(Method::GET, "/v1/auth/subject", Some(&token), None)
            .await,
        200,
    )
    .await;
    assert_eq!(subject["user"]["id"], user_id.as_str());
    assert_eq!(subject["user"]["email"], "ctx@example.com");
    assert_eq!(subject["platformRole"], Value::Null);
    assert_eq!(subject["mfa"]["totp"], false);
    assert_eq!(subject["tenants"], json!([]));
    assert_eq!(subject["provider"], "embedded");

    let tenant = app.create_tenant(&token, "Acme").await;
    let subject = json_of(
        app.call(Method::GET, "/v1/auth/subject", Some(&token), None)
            .await,
        200,
    )
    .await;
    assert_eq!(subject["tenants"][0]["id"], tenant.as_str());
    assert_eq!(subject["tenants"][0]["name"], "Acme");
    assert_eq!(subject["tenants"][0]["role"], "owner");
    assert_eq!(subject["tenants"][0]["grants"], json!(["*"]));
    // No raw provider attribute map reaches the client.
    assert!(subject.get("attributes").is_none() && subject.get("claims").is_none());

    assert_problem(
        app.call(Method::GET, "/v1/auth/subject", None, None).await,
        401,
        "missing_token",
    )
    .await;
    app.finish().await;
}

/// The app user id of `token`'s user, as `/v1/auth/subject` reports it.
async fn subject_id(app: &TestApp, token: &str) -> String {
    json_of(
        app.call(Method::GET, "/v1/auth/subject", Some(token), None)
            .await,
        200,
    )
    .await["user"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Each of `kinds` has a success audit row on `target` (rows are written
/// in order: the wait is for the last of them).
async fn audited_on(app: &TestApp, target: &str, kinds: &[&str]) {
    let on_target = |r: &common::AuditSeen, kind: &str| {
        r.kind == kind && r.outcome == "success" && r.target.as_deref() == Some(target)
    };
    let last = kinds.last().unwrap();
    let rows = app.audit_rows_once(|r| on_target(r, last)).await;
    for kind in kinds {
        assert!(
            rows.iter().any(|r| on_target(r, kind)),
            "no {kind} row for {target}: {rows:?}"
        );
    }
}

/// The tenant "  Acme Inc " of `owner@example.com`, who added
/// `viewer@example.com` as a viewer by email, spelt `Viewer@Example.com`.
struct Acme {
    owner: String,
    viewer: String,
    viewer_id: String,
    tenant: String,
    path: String,
}

async fn acme(app: &TestApp) -> Acme {
    let (owner, _) = app.user("owner@example.com").await;
    let (viewer, viewer_id) = app.user("viewer@example.com").await;
    let tenant = app.create_tenant(&owner, "  Acme Inc ").await;
    let added = json_of(
        app.add_member(&owner, &tenant, "Viewer@Example.com", "viewer")
            .await,
        201,
    )
    .await;
    assert_eq!(added["status"], "member");
    assert_eq!(added["userId"], viewer_id.as_str());
    let path = format!("/v1/tenants/{tenant}");
    Acme {
        owner,
        viewer,
        viewer_id,
        tenant,
        path,
    }
}

async fn a_tenant_is_named_trimmed_and_listed_for_its_members(engine: Engine) {
    let app = TestApp::start(engine).await;
    let acme = acme(&app).await;
    let list = json_of(
        app.call(Method::GET, "/v1/tenants", Some(&acme.viewer), None)
            .await,
        200,
    )
    .await;
    assert_eq!(list["tenants"][0]["name"], "Acme Inc");
    assert_eq!(list["tenants"][0]["role"], "viewer");
    let members_path = format!("{}/members", acme.path);
    let members = json_of(
        app.call(Method::GET, &members_path, Some(&acme.viewer), None)
            .await,
        200,
    )
    .await;
    assert_eq!(members["members"].as_array().unwrap().len(), 2);
    let target = format!("tenant:{}", acme.tenant);
    audited_on(&app, &target, &["tenant_create", "member_add"]).await;
    app.finish().await;
}

async fn no_token_is_401_a_stranger_404_and_a_member_without_the_grant_403(engine: Engine) {
    let app = TestApp::start(engine).await;
    let acme = acme(&app).await;
    let (stranger, _) = app.user("stranger@example.com").await;
    let rename = Some(json!({"name": "Renamed"}));
    let refusals = [
        (None, Method::GET, None, 401, "missing_token"),
        (Some(&stranger), Method::GET, None, 404, "not_found"),
        (Some(&acme.viewer), Method::PATCH, rename, 403, "no_grant"),
        (Some(&acme.viewer), Method::DELETE, None, 403, "no_grant"),
    ];
    for (token, method, body, status, code) in refusals {
        let token = token.map(String::as_str);
        assert_problem(
            app.call(method, &acme.path, token, body).await,
            status,
            code,
        )
        .await;
    }
    json_of(
        app.call(Method::GET, &acme.path, Some(&acme.viewer), None)
            .await,
        200,
    )
    .await;

    // The refusal is audited with its reason and actor.
    let rows = app
        .audit_rows_once(|r| r.kind == "tenant_rename" && r.outcome == "failure")
        .await;
    let refused = rows
        .iter()
        .find(|r| r.kind == "tenant_rename" && r.outcome == "failure")
        .unwrap();
    assert_eq!(refused.reason.as_deref(), Some("no_grant"));
    assert!(refused.actor.is_some());
    app.finish().await;
}

async fn the_owner_renames_a_tenant_and_a_name_must_be_given(engine: Engine) {
    let app = TestApp::start(engine).await;
    let acme = acme(&app).await;
    let rename = Some(json!({"name": "Renamed"}));
    let renamed = json_of(
        app.call(Method::PATCH, &acme.path, Some(&acme.owner), rename)
            .await,
        200,
    )
    .await;
    assert_eq!(renamed["name"], "Renamed");
    let invalid = [
        (Method::PATCH, acme.path.as_str(), json!({"name": "  "})),
        (Method::POST, "/v1/tenants", json!({"title": "x"})),
    ];
    for (method, path, body) in invalid {
        assert_problem(
            app.call(method, path, Some(&acme.owner), Some(body)).await,
            422,
            "invalid_request",
        )
        .await;
    }
    let target = format!("tenant:{}", acme.tenant);
    audited_on(&app, &target, &["tenant_rename"]).await;
    app.finish().await;
}

async fn a_member_leaves_but_a_viewer_removes_nobody_else(engine: Engine) {
    let app = TestApp::start(engine).await;
    let acme = acme(&app).await;
    let owner_id = subject_id(&app, &acme.owner).await;
    let member = |id: &str| format!("{}/members/{id}", acme.path);
    assert_problem(
        app.call(Method::DELETE, &member(&owner_id), Some(&acme.viewer), None)
            .await,
        403,
        "no_grant",
    )
    .await;
    let leave = app
        .call(
            Method::DELETE,
            &member(&acme.viewer_id),
            Some(&acme.viewer),
            None,
        )
        .await;
    assert_eq!(leave.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.call(Method::GET, &acme.path, Some(&acme.viewer), None)
            .await,
        404,
        "not_found",
    )
    .await;
    let target = format!("tenant:{}", acme.tenant);
    audited_on(&app, &target, &["member_remove"]).await;
    app.finish().await;
}

async fn a_deleted_tenant_is_not_found_even_by_its_owner(engine: Engine) {
    let app = TestApp::start(engine).await;
    let acme = acme(&app).await;
    let deleted = app
        .call(Method::DELETE, &acme.path, Some(&acme.owner), None)
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.call(Method::GET, &acme.path, Some(&acme.owner), None)
            .await,
        404,
        "not_found",
    )
    .await;
    let target = format!("tenant:{}", acme.tenant);
    audited_on(&app, &target, &["tenant_delete"]).await;
    app.finish().await;
}

async fn invitation_binds_on_first_sign_in(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (owner, _) = app.user("inviter@example.com").await;
    let tenant = app.create_tenant(&owner, "Team").await;
    let invited = json_of(
        app.add_member(&owner, &tenant, "Newcomer@Example.com", "member")
            .await,
        201,
    )
    .await;
    assert_eq!(invited["status"], "invited");
    assert_eq!(invited["email"], "newcomer@example.com");
    assert_problem(
        app.add_member(&owner, &tenant, "newcomer@example.com", "member")
            .await,
        409,
        "already_exists",
    )
    .await;
    let members = json_of(
        app.call(
            Method::GET,
            &format!("/v1/tenants/{tenant}/members"),
            Some(&owner),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(members["invitations"][0]["email"], "newcomer@example.com");
    // A withdrawn invitation binds nothing.
    json_of(
        app.add_member(&owner, &tenant, "withdrawn@example.com", "viewer")
            .await,
        201,
    )
    .await;
    let (viewer, _) = app.user("invite-viewer@example.com").await;
    json_of(
        app.add_member(&owner, &tenant, "invite-viewer@example.com", "viewer")
            .await,
        201,
    )
    .await;
    let invitation = format!("/v1/tenants/{tenant}/invitations/withdrawn@example.com");
    assert_problem(
        app.call(Method::DELETE, &invitation, Some(&viewer), None)
            .await,
        403,
        "no_grant",
    )
    .await;
    assert_eq!(
        app.call(Method::DELETE, &invitation, Some(&owner), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        app.call(Method::DELETE, &invitation, Some(&owner), None)
            .await,
        404,
        "not_found",
    )
    .await;
    let (withdrawn, _) = app.user("withdrawn@example.com").await;
    let subject = json_of(
        app.call(Method::GET, "/v1/auth/subject", Some(&withdrawn), None)
            .await,
        200,
    )
    .await;
    assert_eq!(subject["tenants"], json!([]));

    let (newcomer, _) = app.user("newcomer@example.com").await;
    let subject = json_of(
        app.call(Method::GET, "/v1/auth/subject", Some(&newcomer), None)
            .await,
        200,
    )
    .await;
    assert_eq!(subject["tenants"][0]["id"], tenant.as_str());
    assert_eq!(subject["tenants"][0]["role"], "member");
    let members = json_of(
        app.call(
            Method::GET,
            &format!("/v1/tenants/{tenant}/members"),
            Some(&owner),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(members["invitations"], json!([]));
    assert_eq!(members["members"].as_array().unwrap().len(), 3);
    let rows = app.audit_rows_once(|r| r.kind == "invitation_bound").await;
    assert!(
        rows.iter()
            .any(|r| r.kind == "member_invite" && r.outcome == "success")
    );
    app.finish().await;
}

/// `boss@example.com` owns the tenant "Escalation", where
/// `deputy@example.com` is an admin; `other@example.com` is no member yet.
struct Escalation {
    owner: String,
    owner_id: String,
    admin: String,
    admin_id: String,
    other_id: String,
    tenant: String,
}

impl Escalation {
    fn member(&self, id: &str) -> String {
        format!("/v1/tenants/{}/members/{id}", self.tenant)
    }
}

async fn escalation(app: &TestApp) -> Escalation {
    let (owner, owner_id) = app.user("boss@example.com").await;
    let (admin, admin_id) = app.user("deputy@example.com").await;
    let (_, other_id) = app.user("other@example.com").await;
    let tenant = app.create_tenant(&owner, "Escalation").await;
    json_of(
        app.add_member(&owner, &tenant, "deputy@example.com", "admin")
            .await,
        201,
    )
    .await;
    Escalation {
        owner,
        owner_id,
        admin,
        admin_id,
        other_id,
        tenant,
    }
}

async fn a_tenant_admin_adds_members_and_viewers_but_no_owner(engine: Engine) {
    let app = TestApp::start(engine).await;
    let e = escalation(&app).await;
    assert_problem(
        app.add_member(&e.admin, &e.tenant, "other@example.com", "owner")
            .await,
        403,
        "insufficient_grants",
    )
    .await;
    json_of(
        app.add_member(&e.admin, &e.tenant, "other@example.com", "viewer")
            .await,
        201,
    )
    .await;
    let promoted = app
        .call(
            Method::PATCH,
            &e.member(&e.other_id),
            Some(&e.admin),
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(promoted.status(), StatusCode::NO_CONTENT);
    app.finish().await;
}

async fn a_tenant_admin_neither_crowns_themselves_nor_touches_the_owner(engine: Engine) {
    let app = TestApp::start(engine).await;
    let e = escalation(&app).await;
    json_of(
        app.add_member(&e.owner, &e.tenant, "other@example.com", "viewer")
            .await,
        201,
    )
    .await;
    let refused = [
        (Method::PATCH, &e.admin_id, Some(json!({"role": "owner"}))),
        (Method::PATCH, &e.owner_id, Some(json!({"role": "viewer"}))),
        (Method::DELETE, &e.owner_id, None),
    ];
    for (method, id, body) in refused {
        assert_problem(
            app.call(method, &e.member(id), Some(&e.admin), body).await,
            403,
            "insufficient_grants",
        )
        .await;
    }
    // No role outside the catalog, whoever asks.
    assert_problem(
        app.call(
            Method::PATCH,
            &e.member(&e.other_id),
            Some(&e.owner),
            Some(json!({"role": "emperor"})),
        )
        .await,
        422,
        "invalid_request",
    )
    .await;
    app.finish().await;
}

/// `root@example.com` is a platform admin and created the platform role
/// "support" (`platform:admin` and `users:read`, not `*`), which
/// `deputy@example.com` holds; `other@example.com` has no platform role.
struct SupportDesk {
    root: String,
    support: String,
    other_id: String,
}

async fn support_desk(app: &TestApp) -> SupportDesk {
    let (support, _) = app.user("deputy@example.com").await;
    let (_, other_id) = app.user("other@example.com").await;
    let root = app.admin_token("root@example.com").await;
    let support_role =
        json!({"key": "support", "scope": "platform", "grants": ["platform:admin", "users:read"]});
    json_of(
        app.call(
            Method::POST,
            "/v1/admin/roles",
            Some(&root),
            Some(support_role),
        )
        .await,
        201,
    )
    .await;
    let pool = app.db.pool().await;
    sqlx::query(
        "UPDATE app_users SET platform_role = 'support' WHERE email = 'deputy@example.com'",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    SupportDesk {
        root,
        support,
        other_id,
    }
}

/// The support desk creates the tenant role "reader" (`users:read`).
async fn support_creates_reader(app: &TestApp, desk: &SupportDesk) {
    let narrower = json!({"key": "reader", "scope": "tenant", "grants": ["users:read"]});
    json_of(
        app.call(
            Method::POST,
            "/v1/admin/roles",
            Some(&desk.support),
            Some(narrower),
        )
        .await,
        201,
    )
    .await;
}

async fn a_platform_role_without_star_creates_roles_within_its_grants(engine: Engine) {
    let app = TestApp::start(engine).await;
    let desk = support_desk(&app).await;
    let wider = json!({"key": "superuser", "scope": "platform", "grants": ["*"]});
    assert_problem(
        app.call(
            Method::POST,
            "/v1/admin/roles",
            Some(&desk.support),
            Some(wider),
        )
        .await,
        403,
        "insufficient_grants",
    )
    .await;
    support_creates_reader(&app, &desk).await;
    app.finish().await;
}

/// `PUT /v1/admin/users/{id}/platform-role` as `token`'s user.
async fn put_platform_role(app: &TestApp, id: &str, token: &str, role: Value) -> reqwest::Response {
    app.call(
        Method::PUT,
        &format!("/v1/admin/users/{id}/platform-role"),
        Some(token),
        Some(json!({"role": role})),
    )
    .await
}

async fn support_hands_out_support_but_neither_gives_nor_takes_admin(engine: Engine) {
    let app = TestApp::start(engine).await;
    let desk = support_desk(&app).await;
    let given = json_of(
        put_platform_role(&app, &desk.other_id, &desk.support, json!("support")).await,
        200,
    )
    .await;
    assert_eq!(given["platformRole"], "support");
    assert_problem(
        put_platform_role(&app, &desk.other_id, &desk.support, json!("admin")).await,
        403,
        "insufficient_grants",
    )
    .await;
    let root_id = subject_id(&app, &desk.root).await;
    assert_problem(
        put_platform_role(&app, &root_id, &desk.support, Value::Null).await,
        403,
        "insufficient_grants",
    )
    .await;
    assert_problem(
        put_platform_role(&app, &desk.other_id, &desk.root, json!("emperor")).await,
        422,
        "invalid_request",
    )
    .await;
    let taken = json_of(
        put_platform_role(&app, &desk.other_id, &desk.root, Value::Null).await,
        200,
    )
    .await;
    assert_eq!(taken["platformRole"], Value::Null);
    app.finish().await;
}

async fn widening_a_role_beyond_ones_own_grants_is_escalation_too(engine: Engine) {
    let app = TestApp::start(engine).await;
    let desk = support_desk(&app).await;
    support_creates_reader(&app, &desk).await;
    assert_problem(
        app.call(
            Method::PUT,
            "/v1/admin/roles/reader",
            Some(&desk.support),
            Some(json!({"grants": ["data:*"]})),
        )
        .await,
        403,
        "insufficient_grants",
    )
    .await;
    app.finish().await;
}

async fn a_tenant_always_keeps_an_owner(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (first, first_id) = app.user("first@example.com").await;
    let (second, second_id) = app.user("second@example.com").await;
    let tenant = app.create_tenant(&first, "Owned").await;
    let member = |id: &str| format!("/v1/tenants/{tenant}/members/{id}");
    assert_problem(
        app.call(Method::DELETE, &member(&first_id), Some(&first), None)
            .await,
        409,
        "last_owner",
    )
    .await;
    assert_problem(
        app.call(
            Method::PATCH,
            &member(&first_id),
            Some(&first),
            Some(json!({"role": "admin"})),
        )
        .await,
        409,
        "last_owner",
    )
    .await;
    json_of(
        app.add_member(&first, &tenant, "second@example.com", "owner")
            .await,
        201,
    )
    .await;

    // Both owners demote each other at once: exactly one demotion may win.
    for _ in 0..3 {
        let demote = |token: String, target: String| {
            let app = &app;
            let path = member(&target);
            async move {
                app.call(
                    Method::PATCH,
                    &path,
                    Some(&token),
                    Some(json!({"role": "member"})),
                )
                .await
                .status()
            }
        };
        let (a, b) = tokio::join!(
            demote(first.clone(), second_id.clone()),
            demote(second.clone(), first_id.clone())
        );
        let statuses = [a.as_u16(), b.as_u16()];
        let owners = json_of(
            app.call(
                Method::GET,
                &format!("/v1/tenants/{tenant}/members"),
                Some(&first),
                None,
            )
            .await,
            200,
        )
        .await["members"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "owner")
            .count();
        assert_eq!(owners, 1, "statuses {statuses:?}");
        assert!(statuses.contains(&204), "{statuses:?}");
        // Make both owners again for the next round.
        let (demoted, remaining_owner) = if a.as_u16() == 204 {
            (&second_id, &first)
        } else {
            (&first_id, &second)
        };
        let restore = app
            .call(
                Method::PATCH,
                &member(demoted),
                Some(remaining_owner),
                Some(json!({"role": "owner"})),
            )
            .await;
        assert_eq!(restore.status(), StatusCode::NO_CONTENT);
    }
    app.finish().await;
}

async fn concurrent_first_calls_create_one_app_user(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (token, _) = app.user("racer@example.com").await;
    // Forget the app user, as if the account had never called authgate.
    let pool = app.db.pool().await;
    sqlx::query("DELETE FROM app_users WHERE email = 'racer@example.com'")
        .execute(&pool)
        .await
        .unwrap();
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let request = app
                .client
                .get(app.url("/v1/auth/subject"))
                .bearer_auth(&token);
            tokio::spawn(async move { request.send().await.unwrap() })
        })
        .collect();
    let mut ids = Vec::new();
    let mut sub = String::new();
    for call in calls {
        let body = json_of(call.await.unwrap(), 200).await;
        assert_eq!(
            body["user"]["email"], "racer@example.com",
            "filled in from the provider"
        );
        sub = body["user"]["sub"].as_str().unwrap().to_string();
        ids.push(body["user"]["id"].as_str().unwrap().to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM app_users WHERE provider_sub = $1")
        .bind(&sub)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
    pool.close().await;
    app.finish().await;
}

/// A platform admin (`catalog-admin@example.com`) and a user who may own
/// tenants (`catalog-owner@example.com`): their access tokens.
async fn catalog_admins(app: &TestApp) -> (String, String) {
    let root = app.admin_token("catalog-admin@example.com").await;
    let (owner, _) = app.user("catalog-owner@example.com").await;
    (root, owner)
}

/// The tenant role "auditor" (`data:read`, `audit:*`).
fn auditor() -> Value {
    json!({"key": "auditor", "scope": "tenant", "description": "Reads the books", "grants": ["data:read", "audit:*"]})
}

/// `POST /v1/admin/roles` as `token`'s user.
async fn post_role(app: &TestApp, token: &str, role: Value) -> reqwest::Response {
    app.call(Method::POST, "/v1/admin/roles", Some(token), Some(role))
        .await
}

/// `POST /v1/admin/roles` as `root`, expecting 201.
async fn create_role(app: &TestApp, root: &str, role: Value) {
    json_of(post_role(app, root, role).await, 201).await;
}

/// The owner creates the tenant "Books" and makes `catalog-member@example.com`
/// an auditor there.
async fn assign_auditor(app: &TestApp, owner: &str) {
    app.user("catalog-member@example.com").await;
    let tenant = app.create_tenant(owner, "Books").await;
    json_of(
        app.add_member(owner, &tenant, "catalog-member@example.com", "auditor")
            .await,
        201,
    )
    .await;
}

/// `GET /v1/auth/authorization-catalog`, conditional on `etag` if given.
async fn get_catalog(app: &TestApp, token: &str, etag: Option<&str>) -> reqwest::Response {
    let mut request = app
        .client
        .get(app.url("/v1/auth/authorization-catalog"))
        .bearer_auth(token);
    if let Some(etag) = etag {
        request = request.header("if-none-match", etag);
    }
    request.send().await.unwrap()
}

async fn the_catalog_lists_the_built_in_roles_and_answers_its_etag_with_304(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (_, owner) = catalog_admins(&app).await;
    let response = get_catalog(&app, &owner, None).await;
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    let catalog = json_of(response, 200).await;
    let keys: Vec<&str> = catalog["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    for key in ["admin", "owner", "member", "viewer"] {
        assert!(keys.contains(&key), "{keys:?}");
    }
    assert_eq!(catalog["hints"]["roleKeysAreData"], true);
    let cached = get_catalog(&app, &owner, Some(&etag)).await;
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    assert_problem(
        app.call(Method::GET, "/v1/auth/authorization-catalog", None, None)
            .await,
        401,
        "missing_token",
    )
    .await;
    app.finish().await;
}

async fn only_platform_admins_add_roles_and_each_field_is_checked(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (root, owner) = catalog_admins(&app).await;
    assert_problem(
        post_role(&app, &owner, auditor()).await,
        403,
        "admin_required",
    )
    .await;
    let invalid = [
        (
            json!({"key": "x", "scope": "tenant", "grants": ["Not A Grant"]}),
            "grants",
        ),
        (
            json!({"key": "x", "scope": "galaxy", "grants": []}),
            "scope",
        ),
    ];
    for (bad, field) in invalid {
        let problem =
            assert_problem(post_role(&app, &root, bad).await, 422, "invalid_request").await;
        assert_eq!(problem["field"], field);
    }
    json_of(post_role(&app, &root, auditor()).await, 201).await;
    assert_problem(
        post_role(&app, &root, auditor()).await,
        409,
        "already_exists",
    )
    .await;
    app.audit_rows_once(|r| {
        r.kind == "role_create" && r.target.as_deref() == Some("role:tenant/auditor")
    })
    .await;
    app.finish().await;
}

async fn a_new_role_changes_the_catalog_and_is_assignable_at_once(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (root, owner) = catalog_admins(&app).await;
    let response = get_catalog(&app, &owner, None).await;
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    json_of(response, 200).await;
    create_role(&app, &root, auditor()).await;

    let response = get_catalog(&app, &owner, Some(&etag)).await;
    assert_ne!(response.headers()["etag"].to_str().unwrap(), etag);
    let catalog = json_of(response, 200).await;
    assert!(
        catalog["grants"]
            .as_array()
            .unwrap()
            .contains(&json!("audit:*"))
    );
    assign_auditor(&app, &owner).await;
    app.finish().await;
}

async fn the_scope_tells_the_platform_admin_role_from_the_tenant_one(engine: Engine) {
    let app = TestApp::start(engine).await;
    let root = app.admin_token("catalog-admin@example.com").await;
    assert_problem(
        app.call(Method::GET, "/v1/admin/roles/admin", Some(&root), None)
            .await,
        422,
        "invalid_request",
    )
    .await;
    let platform_admin = json_of(
        app.call(
            Method::GET,
            "/v1/admin/roles/admin?scope=platform",
            Some(&root),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(platform_admin["grants"], json!(["*"]));
    app.finish().await;
}

async fn a_role_in_use_is_updated_but_not_deleted_nor_is_a_built_in_one(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (root, owner) = catalog_admins(&app).await;
    create_role(&app, &root, auditor()).await;
    assign_auditor(&app, &owner).await;
    let kept = [
        ("/v1/admin/roles/auditor", "role_in_use"),
        ("/v1/admin/roles/owner", "built_in_role"),
        ("/v1/admin/roles/admin?scope=platform", "role_in_use"),
    ];
    for (path, code) in kept {
        assert_problem(
            app.call(Method::DELETE, path, Some(&root), None).await,
            409,
            code,
        )
        .await;
    }
    let updated = json_of(
        app.call(
            Method::PUT,
            "/v1/admin/roles/auditor",
            Some(&root),
            Some(json!({"grants": ["data:read"], "description": "Reads"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(updated["grants"], json!(["data:read"]));
    app.audit_rows_once(|r| r.kind == "role_delete" && r.reason.as_deref() == Some("role_in_use"))
        .await;
    app.finish().await;
}

async fn an_unused_role_is_deleted(engine: Engine) {
    let app = TestApp::start(engine).await;
    let root = app.admin_token("catalog-admin@example.com").await;
    create_role(
        &app,
        &root,
        json!({"key": "temp", "scope": "tenant", "grants": []}),
    )
    .await;
    assert_eq!(
        app.call(Method::DELETE, "/v1/admin/roles/temp", Some(&root), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        app.call(Method::GET, "/v1/admin/roles/temp", Some(&root), None)
            .await,
        404,
        "not_found",
    )
    .await;
    app.audit_rows_once(|r| r.kind == "role_delete" && r.outcome == "success")
        .await;
    app.finish().await;
}

async fn decisions_come_from_roles_and_tenants(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (owner, _) = app.user("decider@example.com").await;
    let (viewer, _) = app.user("looker@example.com").await;
    let tenant = app.create_tenant(&owner, "Decisions").await;
    let other = app.create_tenant(&owner, "Elsewhere").await;
    json_of(
        app.add_member(&owner, &tenant, "looker@example.com", "viewer")
            .await,
        201,
    )
    .await;

    let read = check(
        &app,
        &viewer,
        json!({"action": "data:read", "tenantId": tenant}),
    )
    .await;
    assert_eq!(
        (read["allowed"].as_bool(), read["reason"].as_str()),
        (Some(true), Some("tenant_role"))
    );
    let write = check(
        &app,
        &viewer,
        json!({"action": "data:write", "tenantId": tenant, "resource": "doc/1"}),
    )
    .await;
    assert_eq!(
        (write["allowed"].as_bool(), write["reason"].as_str()),
        (Some(false), Some("no_grant"))
    );
    let elsewhere = check(
        &app,
        &viewer,
        json!({"action": "data:read", "tenantId": other}),
    )
    .await;
    assert_eq!(elsewhere["reason"], "not_a_member");
    let untargeted = check(&app, &viewer, json!({"action": "data:read"})).await;
    assert_eq!(untargeted["reason"], "tenant_required");
    let owner_anything = check(
        &app,
        &owner,
        json!({"action": "invoices:approve", "tenantId": tenant}),
    )
    .await;
    assert_eq!(owner_anything["allowed"], true);

    let root = app.admin_token("decision-root@example.com").await;
    let platform = check(
        &app,
        &root,
        json!({"action": "data:write", "tenantId": tenant}),
    )
    .await;
    assert_eq!(platform["reason"], "platform_role");

    assert_problem(
        app.call(
            Method::POST,
            "/v1/authz/check",
            Some(&viewer),
            Some(json!({"action": "Data Read"})),
        )
        .await,
        422,
        "invalid_request",
    )
    .await;
    assert_problem(
        app.call(
            Method::POST,
            "/v1/authz/check",
            Some(&viewer),
            Some(json!({"action": "data:read", "tenantId": "nope"})),
        )
        .await,
        422,
        "invalid_request",
    )
    .await;
    assert_problem(
        app.call(
            Method::POST,
            "/v1/authz/check",
            None,
            Some(json!({"action": "data:read"})),
        )
        .await,
        401,
        "missing_token",
    )
    .await;
    app.finish().await;
}

/// Two machine clients registered with the binary, each with a
/// client-credentials token: "ops robot" (`admin`, `reports:read`) and
/// "reporter" (`reports:read` only).
struct Clients {
    admin_id: String,
    admin_secret: String,
    admin_token: String,
    plain_id: String,
    plain_secret: String,
    plain_token: String,
}

async fn machine_clients(app: &TestApp) -> Clients {
    let (admin_id, admin_secret) = app.create_client("ops robot", "admin,reports:read");
    let (plain_id, plain_secret) = app.create_client("reporter", "reports:read");
    let admin_token = app.client_token(&admin_id, &admin_secret).await;
    let plain_token = app.client_token(&plain_id, &plain_secret).await;
    Clients {
        admin_id,
        admin_secret,
        admin_token,
        plain_id,
        plain_secret,
        plain_token,
    }
}

/// A form for `POST /oauth2/token`.
type Form<'a> = &'a [(&'a str, &'a str)];

const CLIENT_CREDENTIALS: (&str, &str) = ("grant_type", "client_credentials");

/// `POST /oauth2/token` with `form`, and HTTP Basic client credentials if given.
async fn oauth(app: &TestApp, form: Form<'_>, basic: Option<(&str, &str)>) -> reqwest::Response {
    let mut request = app.client.post(app.url("/oauth2/token")).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.unwrap()
}

/// Once a refused client is audited, no audit row holds a client secret.
async fn no_secret_is_audited(app: &TestApp, clients: &Clients) {
    let rows = app
        .audit_rows_once(|r| {
            r.kind == "client_token" && r.reason.as_deref() == Some("invalid_client")
        })
        .await;
    for row in &rows {
        for secret in [&clients.admin_secret, &clients.plain_secret] {
            assert!(
                !format!("{row:?}").contains(secret.as_str()),
                "secret in audit row {row:?}"
            );
        }
    }
}

async fn a_client_token_is_a_jwt_with_its_scopes_signed_by_a_published_key(engine: Engine) {
    let app = TestApp::start(engine).await;
    let Clients {
        admin_id,
        admin_token,
        ..
    } = machine_clients(&app).await;
    let claims = common::claims_of(&admin_token);
    assert_eq!(claims["sub"], admin_id.as_str());
    assert_eq!(claims["client_id"], admin_id.as_str());
    assert_eq!(claims["scope"], "admin reports:read");
    assert_eq!(claims["token_use"], "access");
    assert_eq!(claims["iss"], app.base.as_str());
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            admin_token.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let keys = json_of(
        app.call(Method::GET, "/oauth2/jwks.json", None, None).await,
        200,
    )
    .await;
    assert!(
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == header["kid"]),
        "{keys}"
    );
    assert!(
        keys.to_string().find("\"d\"").is_none(),
        "private key material published"
    );
    app.finish().await;
}

async fn admin_routes_take_a_client_with_the_admin_scope_and_no_other(engine: Engine) {
    let app = TestApp::start(engine).await;
    let clients = machine_clients(&app).await;
    for path in ["/v1/admin/users", "/v1/admin/roles"] {
        json_of(
            app.call(Method::GET, path, Some(&clients.admin_token), None)
                .await,
            200,
        )
        .await;
    }
    assert_problem(
        app.call(
            Method::GET,
            "/v1/admin/users",
            Some(&clients.plain_token),
            None,
        )
        .await,
        403,
        "admin_required",
    )
    .await;
    app.finish().await;
}

async fn a_machine_token_is_no_user_but_is_allowed_its_scopes(engine: Engine) {
    let app = TestApp::start(engine).await;
    let Clients { plain_token, .. } = machine_clients(&app).await;
    assert_eq!(
        app.call(Method::GET, "/v1/auth/subject", Some(&plain_token), None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let decision = check(&app, &plain_token, json!({"action": "reports:read"})).await;
    assert_eq!(
        (decision["allowed"].as_bool(), decision["reason"].as_str()),
        (Some(true), Some("client_scope"))
    );
    assert_eq!(
        check(&app, &plain_token, json!({"action": "reports:write"})).await["allowed"],
        false
    );
    app.finish().await;
}

async fn a_client_may_ask_for_fewer_scopes_with_its_credentials_in_the_form(engine: Engine) {
    let app = TestApp::start(engine).await;
    let clients = machine_clients(&app).await;
    let form = [
        CLIENT_CREDENTIALS,
        ("scope", "reports:read"),
        ("client_id", &clients.admin_id),
        ("client_secret", &clients.admin_secret),
    ];
    let body = json_of(oauth(&app, &form, None).await, 200).await;
    assert_eq!(body["scope"], "reports:read");
    assert_eq!(body["token_type"], "Bearer");
    let narrowed_token = body["access_token"].as_str().unwrap();
    assert_problem(
        app.call(Method::GET, "/v1/admin/users", Some(narrowed_token), None)
            .await,
        403,
        "admin_required",
    )
    .await;
    app.finish().await;
}

async fn the_token_endpoint_refuses_in_oauths_error_format(engine: Engine) {
    let app = TestApp::start(engine).await;
    let clients = machine_clients(&app).await;
    let admin = |secret| Some((clients.admin_id.as_str(), secret));
    let plain = Some((clients.plain_id.as_str(), clients.plain_secret.as_str()));
    let refusals: [(Form, _, u16, &str); 4] = [
        (
            &[CLIENT_CREDENTIALS],
            admin("wrong-secret"),
            401,
            "invalid_client",
        ),
        (
            &[CLIENT_CREDENTIALS],
            Some(("agc_nobody", clients.admin_secret.as_str())),
            401,
            "invalid_client",
        ),
        (
            &[CLIENT_CREDENTIALS, ("scope", "admin")],
            plain,
            400,
            "invalid_scope",
        ),
        (
            &[("grant_type", "password")],
            plain,
            400,
            "unsupported_grant_type",
        ),
    ];
    for (form, basic, status, error) in refusals {
        let response = oauth(&app, form, basic).await;
        if status == 401 {
            // A refused client is challenged for Basic credentials.
            assert!(
                response.headers()["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .starts_with("Basic")
            );
        }
        assert_eq!(json_of(response, status).await["error"], error, "{form:?}");
    }
    let json_body = app
        .client
        .post(app.url("/oauth2/token"))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(json_body, 400).await["error"], "invalid_request");
    no_secret_is_audited(&app, &clients).await;
    app.finish().await;
}

async fn the_refresh_token_grant_serves_user_sessions(engine: Engine) {
    let app = TestApp::start(engine).await;
    app.confirmed_user("oauth-user@example.com").await;
    let session = app.sign_in("oauth-user@example.com").await;
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", session["refreshToken"].as_str().unwrap()),
    ];
    let refreshed = json_of(oauth(&app, &refresh, None).await, 200).await;
    assert!(
        refreshed["access_token"].as_str().is_some()
            && refreshed["refresh_token"].as_str().is_some()
    );
    let bogus = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "not-a-token"),
    ];
    assert_eq!(
        json_of(oauth(&app, &bogus, None).await, 400).await["error"],
        "invalid_grant"
    );
    app.finish().await;
}

async fn clients_are_listed_without_secrets_and_only_to_admins(engine: Engine) {
    let app = TestApp::start(engine).await;
    let clients = machine_clients(&app).await;
    let listed = json_of(
        app.call(
            Method::GET,
            "/v1/admin/clients",
            Some(&clients.admin_token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(listed["clients"].as_array().unwrap().len(), 2);
    assert!(
        !listed.to_string().contains(&clients.admin_secret)
            && !listed.to_string().contains(&clients.plain_secret)
    );
    assert_problem(
        app.call(
            Method::DELETE,
            &format!("/v1/admin/clients/{}", clients.admin_id),
            Some(&clients.plain_token),
            None,
        )
        .await,
        403,
        "admin_required",
    )
    .await;
    app.finish().await;
}

async fn a_revoked_client_is_refused_at_once(engine: Engine) {
    let app = TestApp::start(engine).await;
    let clients = machine_clients(&app).await;
    let revoked = app
        .call(
            Method::DELETE,
            &format!("/v1/admin/clients/{}", clients.plain_id),
            Some(&clients.admin_token),
            None,
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.call(
            Method::POST,
            "/v1/authz/check",
            Some(&clients.plain_token),
            Some(json!({"action": "reports:read"}))
        )
        .await
        .status(),
        StatusCode::UNAUTHORIZED
    );
    let plain = Some((clients.plain_id.as_str(), clients.plain_secret.as_str()));
    let again = oauth(&app, &[CLIENT_CREDENTIALS], plain).await;
    assert_eq!(json_of(again, 401).await["error"], "invalid_client");

    // Revoked in the store: its token stops too; the secret was stored hashed.
    let pool = app.db.pool().await;
    sqlx::query("UPDATE clients SET revoked_at = 1 WHERE id = $1")
        .bind(&clients.admin_id)
        .execute(&pool)
        .await
        .unwrap();
    let (stored,): (String,) = sqlx::query_as("SELECT secret_hash FROM clients WHERE id = $1")
        .bind(&clients.admin_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_ne!(stored, clients.admin_secret, "the secret is stored hashed");
    pool.close().await;
    assert_eq!(
        app.call(
            Method::GET,
            "/v1/admin/users",
            Some(&clients.admin_token),
            None
        )
        .await
        .status(),
        StatusCode::UNAUTHORIZED
    );
    // Revoked by another instance (in the store): this one may still answer
    // its token request for up to a second, but no use accepts that token;
    // after the second the request is refused too.
    let admin = Some((clients.admin_id.as_str(), clients.admin_secret.as_str()));
    let soon = oauth(&app, &[CLIENT_CREDENTIALS], admin).await;
    if soon.status() == StatusCode::OK {
        let token = json_of(soon, 200).await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let used = app
            .call(Method::GET, "/v1/admin/users", Some(&token), None)
            .await;
        assert_eq!(
            used.status(),
            StatusCode::UNAUTHORIZED,
            "a token of a revoked client works"
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let later = oauth(&app, &[CLIENT_CREDENTIALS], admin).await;
    assert_eq!(json_of(later, 401).await["error"], "invalid_client");
    no_secret_is_audited(&app, &clients).await;
    app.finish().await;
}

async fn the_forward_endpoint_maps_routes_to_grants(engine: Engine) {
    let app = TestApp::start_with(engine, |s| {
        s.forward_rules = "GET /api/t/{tenant}/data/** data:read; POST /api/t/{tenant}/data/** data:write; * /api/admin/** platform:admin".into();
    })
    .await;
    let (owner, owner_id) = app.user("gw-owner@example.com").await;
    let (viewer, _) = app.user("gw-viewer@example.com").await;
    let tenant = app.create_tenant(&owner, "Gateway").await;
    json_of(
        app.add_member(&owner, &tenant, "gw-viewer@example.com", "viewer")
            .await,
        201,
    )
    .await;
    let forward = |token: Option<&str>, method: &str, uri: String| {
        let mut request = app
            .client
            .get(app.url("/v1/authz/forward"))
            .header("x-original-method", method)
            .header("x-original-uri", uri);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let allowed = forward(Some(&owner), "POST", format!("/api/t/{tenant}/data/7"))
        .await
        .unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(allowed.headers()["x-auth-user-id"], owner_id.as_str());
    assert_eq!(allowed.headers()["x-auth-tenant-id"], tenant.as_str());
    assert_eq!(allowed.headers()["x-auth-roles"], "tenant:owner");
    assert!(!allowed.headers()["x-auth-subject"].is_empty());
    // A long query string is no reason to refuse.
    let long_query = format!("/api/t/{tenant}/data/7?filter={}", "x".repeat(2000));
    assert_eq!(
        forward(Some(&viewer), "GET", long_query)
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let read = forward(Some(&viewer), "GET", format!("/api/t/{tenant}/data/7?x=1"))
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.headers()["x-auth-roles"], "tenant:viewer");
    let body = assert_problem(
        forward(Some(&viewer), "POST", format!("/api/t/{tenant}/data/7"))
            .await
            .unwrap(),
        403,
        "no_grant",
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("no_grant"),
        "{body}"
    );
    assert_problem(
        forward(
            Some(&viewer),
            "GET",
            format!("/api/t/{tenant}/../../admin/x"),
        )
        .await
        .unwrap(),
        403,
        "ambiguous_uri",
    )
    .await;
    assert_problem(
        forward(Some(&viewer), "GET", "/api/t/not-a-tenant/data/1".into())
            .await
            .unwrap(),
        403,
        "not_a_member",
    )
    .await;
    // No rule: a valid token is enough (the default).
    assert_eq!(
        forward(Some(&viewer), "GET", "/public/thing".into())
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_problem(
        forward(None, "GET", "/public/thing".into()).await.unwrap(),
        401,
        "missing_token",
    )
    .await;
    assert_problem(
        forward(Some("not.a.token"), "GET", "/public/thing".into())
            .await
            .unwrap(),
        401,
        "invalid_token",
    )
    .await;
    // Traefik's headers work too.
    let traefik = app
        .client
        .get(app.url("/v1/authz/forward"))
        .bearer_auth(&viewer)
        .header("x-forwarded-method", "POST")
        .header("x-forwarded-uri", format!("/api/t/{tenant}/data/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(traefik.status(), StatusCode::FORBIDDEN);
    app.finish().await;
}

/// `policy-root@example.com` (a platform admin); `policy-owner@example.com`
/// owns the tenant "Policies", where `policy-viewer@example.com` is a viewer.
struct Policies {
    root: String,
    owner: String,
    viewer: String,
    tenant: String,
}

impl Policies {
    async fn start(app: &TestApp) -> Self {
        let root = app.admin_token("policy-root@example.com").await;
        let (owner, _) = app.user("policy-owner@example.com").await;
        let (viewer, _) = app.user("policy-viewer@example.com").await;
        let tenant = app.create_tenant(&owner, "Policies").await;
        json_of(
            app.add_member(&owner, &tenant, "policy-viewer@example.com", "viewer")
                .await,
            201,
        )
        .await;
        Policies {
            root,
            owner,
            viewer,
            tenant,
        }
    }

    /// The decision for `token`'s user on `action` over `doc/1` in the tenant.
    async fn decide(&self, app: &TestApp, token: &str, action: &str) -> Value {
        check(
            app,
            token,
            json!({"action": action, "tenantId": self.tenant, "resource": "doc/1"}),
        )
        .await
    }

    /// `POST /v1/admin/policies` as `token`'s user.
    async fn post(&self, app: &TestApp, token: &str, policy: Value) -> reqwest::Response {
        app.call(
            Method::POST,
            "/v1/admin/policies",
            Some(token),
            Some(policy),
        )
        .await
    }

    /// Add [`mfa_for_deletes`] and then [`viewers_may_export`] as root: the
    /// id of the permit.
    async fn add_both(&self, app: &TestApp) -> String {
        json_of(self.post(app, &self.root, mfa_for_deletes()).await, 201).await;
        json_of(self.post(app, &self.root, viewers_may_export()).await, 201).await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// A forbid: deleting data needs MFA, whatever the role.
fn mfa_for_deletes() -> Value {
    json!({"id": "mfa-for-deletes", "description": "Deleting data needs MFA",
        "policy": "forbid(principal, action == Action::\"data:delete\", resource) unless { principal is User && principal.mfa };"})
}

/// A permit: tenant viewers may export reports, which no role grants.
fn viewers_may_export() -> Value {
    json!({"policy": "permit(principal is User, action == Action::\"reports:export\", resource) when { principal.tenantRole == \"viewer\" };"})
}

async fn policies_are_validated_on_write_and_written_by_platform_admins_only(engine: Engine) {
    let app = TestApp::start(engine).await;
    let p = Policies::start(&app).await;
    // Syntax errors and unknown attributes are named.
    let broken = json!({"policy": "permit(principal, action, resource) when { principal.platfromRole == \"x\" };"});
    let problem = assert_problem(p.post(&app, &p.root, broken).await, 422, "invalid_request").await;
    assert_eq!(problem["field"], "policy");
    assert!(
        problem["detail"].as_str().unwrap().contains("platfromRole"),
        "{problem}"
    );
    let garbage = json!({"policy": "permit(principal, action"});
    assert_problem(p.post(&app, &p.root, garbage).await, 422, "invalid_request").await;
    assert_problem(
        p.post(&app, &p.owner, mfa_for_deletes()).await,
        403,
        "admin_required",
    )
    .await;
    app.finish().await;
}

async fn a_forbid_overrides_a_role_and_a_permit_adds_what_no_role_grants(engine: Engine) {
    let app = TestApp::start(engine).await;
    let p = Policies::start(&app).await;
    // Before: the owner may delete (the role grants `*`), the viewer may not export.
    assert_eq!(
        p.decide(&app, &p.owner, "data:delete").await["allowed"],
        true
    );
    assert_eq!(
        p.decide(&app, &p.viewer, "reports:export").await["allowed"],
        false
    );

    p.add_both(&app).await;
    assert_problem(
        p.post(&app, &p.root, mfa_for_deletes()).await,
        409,
        "already_exists",
    )
    .await;

    let forbidden = p.decide(&app, &p.owner, "data:delete").await;
    assert_eq!(
        (forbidden["allowed"].as_bool(), forbidden["reason"].as_str()),
        (Some(false), Some("policy_forbid"))
    );
    assert!(
        forbidden["detail"]
            .as_str()
            .unwrap()
            .contains("mfa-for-deletes")
    );
    let permitted = p.decide(&app, &p.viewer, "reports:export").await;
    assert_eq!(
        (permitted["allowed"].as_bool(), permitted["reason"].as_str()),
        (Some(true), Some("policy_permit"))
    );
    assert_eq!(
        p.decide(&app, &p.viewer, "data:read").await["reason"],
        "tenant_role"
    );
    app.finish().await;
}

async fn admins_list_policies_and_clients_get_hints_not_policy_text(engine: Engine) {
    let app = TestApp::start(engine).await;
    let p = Policies::start(&app).await;
    p.add_both(&app).await;
    let listed = json_of(
        app.call(Method::GET, "/v1/admin/policies", Some(&p.root), None)
            .await,
        200,
    )
    .await;
    assert_eq!(listed["policies"].as_array().unwrap().len(), 2);
    let catalog = json_of(
        app.call(
            Method::GET,
            "/v1/auth/authorization-catalog",
            Some(&p.viewer),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        catalog["policies"][0]["description"],
        "Deleting data needs MFA"
    );
    assert!(
        catalog["policies"][0].get("policy").is_none(),
        "clients get hints, not policy text"
    );
    app.finish().await;
}

async fn replacing_or_deleting_a_policy_takes_effect_at_once(engine: Engine) {
    let app = TestApp::start(engine).await;
    let p = Policies::start(&app).await;
    let permit_id = p.add_both(&app).await;
    let export = p.decide(&app, &p.viewer, "reports:export").await;
    assert_eq!(export["allowed"], true, "{export}");
    let narrowed = json!({"policy": "permit(principal is User, action == Action::\"reports:export\", resource) when { principal.tenantRole == \"owner\" };"});
    json_of(
        app.call(
            Method::PUT,
            &format!("/v1/admin/policies/{permit_id}"),
            Some(&p.root),
            Some(narrowed),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        p.decide(&app, &p.viewer, "reports:export").await["allowed"],
        false
    );
    let delete = p.decide(&app, &p.owner, "data:delete").await;
    assert_eq!(delete["reason"], "policy_forbid", "{delete}");
    let forbid = "/v1/admin/policies/mfa-for-deletes";
    let deleted = app.call(Method::DELETE, forbid, Some(&p.root), None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        p.decide(&app, &p.owner, "data:delete").await["reason"],
        "tenant_role"
    );
    assert_problem(
        app.call(Method::GET, forbid, Some(&p.root), None).await,
        404,
        "not_found",
    )
    .await;
    app.finish().await;
}

/// Every documented route, with malformed bodies and with valid and forged
/// tokens: never a 5xx (501 is the documented "not in this build").
async fn no_route_answers_bad_input_with_a_server_error(engine: Engine) {
    let app = TestApp::start(engine).await;
    let root = app.admin_token("fuzz-root@example.com").await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let bodies = [
        None,
        Some("{".to_string()),
        Some("null".to_string()),
        Some("[]".to_string()),
        Some(json!({"email": "x".repeat(5000), "name": "\u{0}", "role": "owner", "action": "*", "grants": ["*"], "policy": 7}).to_string()),
    ];
    let mut requests = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{id}", &uuid::Uuid::new_v4().to_string())
            .replace("{userId}", "not-a-uuid")
            .replace("{key}", "admin");
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            for token in [Some(root.as_str()), Some("forged.token.value"), None] {
                for body in &bodies {
                    let mut request = app.client.request(method.clone(), app.url(&concrete));
                    if let Some(token) = token {
                        request = request.bearer_auth(token);
                    }
                    if let Some(body) = body {
                        request = request
                            .header("content-type", "application/json")
                            .body(body.clone());
                    }
                    let status = request.send().await.unwrap().status();
                    requests += 1;
                    assert!(
                        !status.is_server_error() || status == StatusCode::NOT_IMPLEMENTED,
                        "{method} {concrete} with {body:?} answered {status}"
                    );
                }
            }
        }
    }
    assert!(requests > 500, "only {requests} requests");
    app.finish().await;
}

on_both_engines!(
    policies_are_validated_on_write_and_written_by_platform_admins_only,
    a_forbid_overrides_a_role_and_a_permit_adds_what_no_role_grants,
    admins_list_policies_and_clients_get_hints_not_policy_text,
    replacing_or_deleting_a_policy_takes_effect_at_once,
    no_route_answers_bad_input_with_a_server_error,
    subject_reports_the_user_context,
    a_tenant_is_named_trimmed_and_listed_for_its_members,
    no_token_is_401_a_stranger_404_and_a_member_without_the_grant_403,
    the_owner_renames_a_tenant_and_a_name_must_be_given,
    a_member_leaves_but_a_viewer_removes_nobody_else,
    a_deleted_tenant_is_not_found_even_by_its_owner,
    invitation_binds_on_first_sign_in,
    a_tenant_admin_adds_members_and_viewers_but_no_owner,
    a_tenant_admin_neither_crowns_themselves_nor_touches_the_owner,
    a_platform_role_without_star_creates_roles_within_its_grants,
    support_hands_out_support_but_neither_gives_nor_takes_admin,
    widening_a_role_beyond_ones_own_grants_is_escalation_too,
    a_tenant_always_keeps_an_owner,
    concurrent_first_calls_create_one_app_user,
    the_catalog_lists_the_built_in_roles_and_answers_its_etag_with_304,
    only_platform_admins_add_roles_and_each_field_is_checked,
    a_new_role_changes_the_catalog_and_is_assignable_at_once,
    the_scope_tells_the_platform_admin_role_from_the_tenant_one,
    a_role_in_use_is_updated_but_not_deleted_nor_is_a_built_in_one,
    an_unused_role_is_deleted,
    decisions_come_from_roles_and_tenants,
    a_client_token_is_a_jwt_with_its_scopes_signed_by_a_published_key,
    admin_routes_take_a_client_with_the_admin_scope_and_no_other,
    a_machine_token_is_no_user_but_is_allowed_its_scopes,
    a_client_may_ask_for_fewer_scopes_with_its_credentials_in_the_form,
    the_token_endpoint_refuses_in_oauths_error_format,
    the_refresh_token_grant_serves_user_sessions,
    clients_are_listed_without_secrets_and_only_to_admins,
    a_revoked_client_is_refused_at_once,
    the_forward_endpoint_maps_routes_to_grants,
);
