//! User administration through HTTP on the embedded provider, on SQLite and
//! PostgreSQL: only platform admins (403 for others, 401 without a token);
//! create with a mailed temporary password and NEW_PASSWORD_REQUIRED (and
//! the chain into MFA setup), list and filter, get, disable/enable, forced
//! password reset, delete; each action audited with its actor.

use crate::common;

use crate::common::{Engine, PASSWORD, TestApp, assert_problem, now, totp_at};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_engines!(
    only_platform_admins_administer,
    an_admin_creates_an_account_with_a_temporary_password,
    the_first_sign_in_replaces_the_mailed_temporary_password,
    the_user_list_filters_by_email_prefix_and_status,
    disabling_ends_sessions_and_sign_in_answers_like_a_wrong_password,
    a_forced_reset_ends_sessions_and_needs_the_mailed_code,
    a_deleted_account_is_not_found_and_signs_in_no_more,
    temporary_password_then_mfa_setup_in_one_sign_in,
    the_audit_trail_answers_why_a_sign_in_failed,
);

async fn the_audit_trail_answers_why_a_sign_in_failed(engine: Engine) {
    let app = TestApp::start(engine).await;
    let admin = app.admin_token("root@example.com").await;
    app.confirmed_user("sue@example.com").await;
    let user = app.sign_in("sue@example.com").await;
    let response = app
        .get_bearer(
            "/v1/admin/audit-events",
            user["accessToken"].as_str().unwrap(),
        )
        .await;
    assert_problem(response, 403, "admin_required").await;

    sign_in_raw(&app, "Sue@Example.com", "Wrong-Password-123").await;
    let events = |query: &str| {
        let url = format!("/v1/admin/audit-events{query}");
        let admin = admin.clone();
        let app = &app;
        async move {
            let response = app.get_bearer(&url, &admin).await;
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()["events"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    let failed = events("?email=sue@example.com&kind=sign_in&reason=invalid_credentials").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    let event = &failed[0];
    assert_eq!(event["outcome"], "failure");
    assert_eq!(event["provider"], "embedded");
    assert_eq!(event["ip"], "127.0.0.1");
    assert!(event["requestId"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(event["at"].as_str().unwrap().ends_with('Z'));
    let sub = user["user"]["sub"].as_str().unwrap();
    let mine = events(&format!("?subject={sub}&kind=sign_in")).await;
    assert!(
        mine.iter()
            .all(|e| e["outcome"] == "success" && e["subject"] == sub),
        "{mine:?}"
    );
    assert!(!mine.is_empty());
    assert!(events("?since=2999-01-01T00:00:00Z").await.is_empty());
    assert_eq!(events("?limit=1").await.len(), 1);
    let response = app
        .get_bearer("/v1/admin/audit-events?since=yesterday", &admin)
        .await;
    assert_eq!(
        assert_problem(response, 422, "invalid_request").await["field"],
        "since"
    );
    app.finish().await;
}

async fn admin_post(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn sign_in_raw(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.post(
        "/v1/auth/sign-in",
        json!({"email": email, "password": password}),
    )
    .await
}

async fn only_platform_admins_administer(engine: Engine) {
    let app = TestApp::start(engine).await;
    app.confirmed_user("user@example.com").await;
    let user = app.sign_in("user@example.com").await;
    let token = user["accessToken"].as_str().unwrap();
    let response = app.get_bearer("/v1/admin/users", token).await;
    assert_problem(response, 403, "admin_required").await;
    let response = admin_post(
        &app,
        token,
        "/v1/admin/users",
        json!({"email": "x@example.com"}),
    )
    .await;
    assert_problem(response, 403, "admin_required").await;
    let response = app.get("/v1/admin/users").await;
    assert_problem(response, 401, "missing_token").await;
    // Nothing was created by the refused call.
    let admin = app.admin_token("root@example.com").await;
    let list: Value = app
        .get_bearer("/v1/admin/users?emailPrefix=x", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["users"].as_array().unwrap().len(), 0);
    app.finish().await;
}

const BOB: &str = "bob@example.com";

/// Root (a platform admin) creates Bob: root's access token and the
/// created user.
async fn bob_created(app: &TestApp) -> (String, Value) {
    let admin = app.admin_token("root@example.com").await;
    let response = admin_post(
        app,
        &admin,
        "/v1/admin/users",
        json!({"email": "Bob@Example.com", "name": "Bob"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    (admin, response.json().await.unwrap())
}

/// Bob's mailed temporary password, and the NEW_PASSWORD_REQUIRED challenge
/// that signing in with it answers.
async fn temporary_sign_in(app: &TestApp) -> (String, Value) {
    let temporary = app.smtp.temporary_password(BOB, 0).await;
    let response = sign_in_raw(app, BOB, &temporary).await;
    let challenge: Value = response.json().await.unwrap();
    assert_eq!(
        challenge["challenge"], "NEW_PASSWORD_REQUIRED",
        "{challenge} (password {temporary})"
    );
    (temporary, challenge)
}

/// Answer the NEW_PASSWORD_REQUIRED `challenge` with `password`.
async fn new_password(app: &TestApp, challenge: &Value, password: &str) -> reqwest::Response {
    app.post(
        "/v1/auth/challenges/new-password",
        json!({"email": BOB, "session": challenge["session"], "newPassword": password}),
    )
    .await
}

/// Bob created, his temporary password replaced by [`PASSWORD`]: root's
/// access token, Bob's id and the session of that first sign-in.
async fn bob_active(app: &TestApp) -> (String, String, Value) {
    let (admin, created) = bob_created(app).await;
    let (_, challenge) = temporary_sign_in(app).await;
    let response = new_password(app, &challenge, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = created["id"].as_str().unwrap().to_string();
    (admin, id, response.json().await.unwrap())
}

/// Each of `kinds` is audited as a success with `admin`'s user as actor
/// (rows are written in order: the wait is for the last of them).
async fn audited_by(app: &TestApp, admin: &str, kinds: &[&str]) {
    let admin_sub = common::claims_of(admin)["sub"]
        .as_str()
        .unwrap()
        .to_string();
    let by_admin = |r: &common::AuditSeen, kind: &str| {
        r.kind == kind && r.outcome == "success" && r.actor.as_deref() == Some(admin_sub.as_str())
    };
    let last = kinds.last().unwrap();
    let rows = app.audit_rows_once(|r| by_admin(r, last)).await;
    for kind in kinds {
        assert!(
            rows.iter().any(|r| by_admin(r, kind)),
            "{kind} not audited with its actor: {rows:?}"
        );
    }
}

async fn an_admin_creates_an_account_with_a_temporary_password(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (admin, created) = bob_created(&app).await;
    assert_eq!(created["email"], BOB);
    assert_eq!(created["status"], "temporary_password");
    assert_eq!(created["enabled"], true);
    let response = admin_post(&app, &admin, "/v1/admin/users", json!({"email": BOB})).await;
    assert_problem(response, 409, "username_exists").await;
    audited_by(&app, &admin, &["admin_create_user"]).await;
    app.finish().await;
}

async fn the_first_sign_in_replaces_the_mailed_temporary_password(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (admin, created) = bob_created(&app).await;
    let id = created["id"].as_str().unwrap();
    let (temporary, challenge) = temporary_sign_in(&app).await;
    let weak = new_password(&app, &challenge, "weak").await;
    let problem = assert_problem(weak, 422, "invalid_password").await;
    assert_eq!(problem["field"], "newPassword");
    assert_eq!(problem["rule"], "min_length");
    let response = new_password(&app, &challenge, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["user"]["id"], id);
    assert_problem(
        sign_in_raw(&app, BOB, &temporary).await,
        401,
        "invalid_credentials",
    )
    .await;

    let got: Value = app
        .get_bearer(&format!("/v1/admin/users/{id}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["status"], "active");
    assert_eq!(got["sub"], created["sub"]);
    app.finish().await;
}

async fn the_user_list_filters_by_email_prefix_and_status(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (admin, _) = bob_created(&app).await;
    app.sign_up("bobby@example.com").await;
    let both = vec!["bob@example.com", "bobby@example.com"];
    let listings = [
        ("?emailPrefix=bob", both, "by prefix"),
        (
            "?emailPrefix=bob&status=pending_confirmation",
            vec!["bobby@example.com"],
            "by status",
        ),
        (
            "?emailPrefix=bob&limit=1",
            vec!["bob@example.com"],
            "limited",
        ),
        ("?emailPrefix=b%25", vec![], "% is not a wildcard"),
    ];
    for (query, expected, why) in listings {
        let response = app
            .get_bearer(&format!("/v1/admin/users{query}"), &admin)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        let emails: Vec<&str> = body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap())
            .collect();
        assert_eq!(emails, expected, "{why}");
    }
    let response = app.get_bearer("/v1/admin/users?status=bogus", &admin).await;
    assert_eq!(
        assert_problem(response, 422, "invalid_request").await["field"],
        "status"
    );
    app.finish().await;
}

async fn disabling_ends_sessions_and_sign_in_answers_like_a_wrong_password(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (admin, id, session) = bob_active(&app).await;
    let response = admin_post(
        &app,
        &admin,
        &format!("/v1/admin/users/{id}/disable"),
        json!({}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app
        .get_bearer("/v1/auth/subject", session["accessToken"].as_str().unwrap())
        .await;
    assert_problem(response, 401, "token_revoked").await;
    let response = app
        .post(
            "/v1/auth/token/refresh",
            json!({"refreshToken": session["refreshToken"]}),
        )
        .await;
    assert_problem(response, 401, "invalid_refresh_token").await;
    let disabled = assert_problem(
        sign_in_raw(&app, BOB, PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    let wrong = assert_problem(
        sign_in_raw(&app, BOB, "Wrong-Password-123").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(disabled["detail"], wrong["detail"]);

    // Enabled again, the account signs in.
    let response = admin_post(
        &app,
        &admin,
        &format!("/v1/admin/users/{id}/enable"),
        json!({}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        sign_in_raw(&app, BOB, PASSWORD).await.status(),
        StatusCode::OK
    );
    audited_by(&app, &admin, &["admin_disable_user", "admin_enable_user"]).await;
    app.finish().await;
}

async fn a_forced_reset_ends_sessions_and_needs_the_mailed_code(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (admin, id, _) = bob_active(&app).await;
    let before = app.sign_in(BOB).await;
    let response = admin_post(
        &app,
        &admin,
        &format!("/v1/admin/users/{id}/reset-password"),
        json!({}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        sign_in_raw(&app, BOB, PASSWORD).await,
        403,
        "password_reset_required",
    )
    .await;
    let response = app
        .get_bearer("/v1/auth/subject", before["accessToken"].as_str().unwrap())
        .await;
    assert_problem(response, 401, "token_revoked").await;
    // Message #0 was the temporary password.
    let code = app.smtp.code(BOB, 1).await;
    let response = app
        .post(
            "/v1/auth/password-resets/confirm",
            json!({"email": BOB, "code": code, "newPassword": "Another-Horse-77?"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        sign_in_raw(&app, BOB, "Another-Horse-77?").await.status(),
        StatusCode::OK
    );
    audited_by(&app, &admin, &["admin_reset_password"]).await;
    app.finish().await;
}

async fn a_deleted_account_is_not_found_and_signs_in_no_more(engine: Engine) {
    let app = TestApp::start(engine).await;
    let (admin, id, _) = bob_active(&app).await;
    let response = app
        .client
        .delete(app.url(&format!("/v1/admin/users/{id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get_bearer(&format!("/v1/admin/users/{id}"), &admin)
            .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        sign_in_raw(&app, BOB, PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_problem(
        app.get_bearer("/v1/admin/users/not-a-uuid", &admin).await,
        404,
        "not_found",
    )
    .await;
    audited_by(&app, &admin, &["admin_delete_user"]).await;
    app.finish().await;
}

async fn temporary_password_then_mfa_setup_in_one_sign_in(engine: Engine) {
    let app = TestApp::start_with(engine, |s| {
        s.mfa = authgate_service::settings::MfaMode::Required
    })
    .await;
    // The admin must pass MFA setup too under MFA=required.
    let admin_email = "root@example.com";
    app.confirmed_user(admin_email).await;
    let setup: Value = sign_in_raw(&app, admin_email, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let secret = setup["parameters"]["secret"].as_str().unwrap().to_string();
    let session: Value = app
        .post(
            "/v1/auth/challenges/mfa-setup",
            json!({"email": admin_email, "session": setup["session"], "code": totp_at(&secret, now())}),
        )
        .await
        .json()
        .await
        .unwrap();
    let pool = app.db.pool().await;
    sqlx::query("UPDATE app_users SET platform_role = 'admin' WHERE email = $1")
        .bind(admin_email)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let admin = session["accessToken"].as_str().unwrap().to_string();

    let email = "cy@example.com";
    let response = admin_post(&app, &admin, "/v1/admin/users", json!({"email": email})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let temporary = app.smtp.temporary_password(email, 0).await;
    let first: Value = sign_in_raw(&app, email, &temporary)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["challenge"], "NEW_PASSWORD_REQUIRED");
    let second: Value = app
        .post(
            "/v1/auth/challenges/new-password",
            json!({"email": email, "session": first["session"], "newPassword": PASSWORD}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["challenge"], "MFA_SETUP_REQUIRED");
    let secret = second["parameters"]["secret"].as_str().unwrap().to_string();
    let response = app
        .post(
            "/v1/auth/challenges/mfa-setup",
            json!({"email": email, "session": second["session"], "code": totp_at(&secret, now())}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.json::<Value>().await.unwrap()["accessToken"].is_string());
    app.finish().await;
}
