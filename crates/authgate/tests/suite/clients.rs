//! The client registry (contracts/oauth.md, "Clients"): machine and app
//! clients registered from the command line and over `POST /v1/admin/clients`,
//! the redirect-URI rules, and what each kind of client may do at the token
//! endpoint.

use crate::common::{Engine, TestApp, assert_problem, json_of};
use reqwest::Method;
use serde_json::{Value, json};

const SPA_CALLBACK: &str = "https://spa.example/callback";

/// `POST /v1/admin/clients` as a platform admin.
async fn register(app: &TestApp, admin: &str, body: Value) -> reqwest::Response {
    app.call(Method::POST, "/v1/admin/clients", Some(admin), Some(body))
        .await
}

/// The client with this id as `GET /v1/admin/clients` lists it.
async fn listed(app: &TestApp, admin: &str, id: &str) -> Value {
    let list = json_of(
        app.call(Method::GET, "/v1/admin/clients", Some(admin), None)
            .await,
        200,
    )
    .await;
    list["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} not listed in {list}"))
}

/// `client_credentials` with the secret in the form.
async fn client_credentials(app: &TestApp, id: &str, secret: &str) -> reqwest::Response {
    app.client
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap()
}

async fn oauth_error(response: reqwest::Response, status: u16, error: &str) {
    assert_eq!(response.status().as_u16(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
}

async fn the_command_registers_a_public_app_client_without_a_secret(engine: Engine) {
    let app = TestApp::start(engine).await;
    let admin = app.admin_token("root@example.com").await;
    let output = app.create_client_with(&[
        "--name",
        "web app",
        "--type",
        "public",
        "--redirect-uri",
        SPA_CALLBACK,
        "--redirect-uri",
        "http://127.0.0.1:5173/cb",
        "--post-logout-uri",
        "https://spa.example/",
        "--consent",
    ]);
    assert!(output.success, "{output:?}");
    assert_eq!(output.get("client_secret"), None, "{}", output.stdout);
    let client = listed(&app, &admin, &output.field("client_id")).await;
    assert_eq!(client["type"], "public");
    assert_eq!(
        client["redirectUris"],
        json!([SPA_CALLBACK, "http://127.0.0.1:5173/cb"])
    );
    assert_eq!(client["postLogoutUris"], json!(["https://spa.example/"]));
    assert_eq!(
        client["grantTypes"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(client["scopes"], json!(["openid", "email", "profile"]));
    assert_eq!(client["consent"], true);
    app.finish().await;
}

async fn the_command_refuses_a_bad_redirect_uri_and_stores_nothing(engine: Engine) {
    let app = TestApp::start(engine).await;
    let admin = app.admin_token("root@example.com").await;
    for (uri, why) in [
        ("http://spa.example/cb", "not loopback"),
        ("https://*.spa.example/cb", "wildcard"),
        ("com.example.app:/cb", "private-use scheme"),
    ] {
        let output = app.create_client_with(&["--name", "web", "--redirect-uri", uri]);
        assert!(!output.success, "{uri} was accepted: {output:?}");
        assert!(output.stderr.contains(why), "{uri}: {}", output.stderr);
    }
    let list = json_of(
        app.call(Method::GET, "/v1/admin/clients", Some(&admin), None)
            .await,
        200,
    )
    .await;
    assert_eq!(list["clients"], json!([]));
    app.finish().await;
}

async fn an_admin_registers_clients_over_http_and_sees_each_secret_once(engine: Engine) {
    let app = TestApp::start(engine).await;
    let admin = app.admin_token("root@example.com").await;
    let machine = json_of(
        register(
            &app,
            &admin,
            json!({"name": "reporter", "scopes": ["reports:read"]}),
        )
        .await,
        201,
    )
    .await;
    let id = machine["client"]["id"].as_str().unwrap();
    let secret = machine["clientSecret"].as_str().unwrap();
    assert_eq!(
        machine["client"]["grantTypes"],
        json!(["client_credentials"])
    );
    let token = json_of(client_credentials(&app, id, secret).await, 200).await;
    assert_eq!(token["scope"], "reports:read");
    let listed = listed(&app, &admin, id).await;
    assert!(
        !listed.to_string().contains(secret),
        "the list shows the secret: {listed}"
    );
    let rows = app
        .audit_rows_once(|r| r.kind == "client_create" && r.outcome == "success")
        .await;
    assert!(
        rows.iter().all(|r| !format!("{r:?}").contains(secret)),
        "a secret in the audit trail"
    );
    assert!(
        rows.iter()
            .any(|r| r.kind == "client_create"
                && r.target.as_deref() == Some(&format!("client:{id}")))
    );

    let spa = json_of(
        register(
            &app,
            &admin,
            json!({"name": "spa", "type": "public", "redirectUris": [SPA_CALLBACK]}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(spa["clientSecret"], Value::Null);
    assert_eq!(spa["client"]["type"], "public");
    app.finish().await;
}

async fn registrations_that_break_the_rules_are_refused_naming_the_field(engine: Engine) {
    let app = TestApp::start(engine).await;
    let admin = app.admin_token("root@example.com").await;
    let cases = [
        (
            json!({"name": "x", "redirectUris": ["http://spa.example/cb"]}),
            "redirectUris",
        ),
        (
            json!({"name": "x", "redirectUris": ["https://spa.example/cb#x"]}),
            "redirectUris",
        ),
        (
            json!({"name": "x", "type": "public", "grantTypes": ["client_credentials"], "scopes": ["a"]}),
            "grantTypes",
        ),
        (
            json!({"name": "x", "grantTypes": ["password"], "scopes": ["a"]}),
            "grantTypes",
        ),
        (
            json!({"name": "x", "type": "trusted", "scopes": ["a"]}),
            "type",
        ),
        (json!({"name": "x"}), "scopes"),
        (json!({"name": "", "scopes": ["a"]}), "name"),
        (
            json!({"name": "x", "scopes": ["a"], "consent": true}),
            "consent",
        ),
    ];
    for (body, field) in cases {
        let problem = assert_problem(
            register(&app, &admin, body.clone()).await,
            422,
            "invalid_request",
        )
        .await;
        assert_eq!(problem["field"], field, "{body}: {problem}");
    }
    assert_problem(
        register(
            &app,
            &admin,
            json!({"name": "x", "scopes": ["a"], "secret": "mine"}),
        )
        .await,
        422,
        "invalid_request",
    )
    .await;
    let list = json_of(
        app.call(Method::GET, "/v1/admin/clients", Some(&admin), None)
            .await,
        200,
    )
    .await;
    assert_eq!(
        list["clients"],
        json!([]),
        "a refused registration was stored"
    );
    app.finish().await;
}

async fn only_a_platform_admin_registers_clients(engine: Engine) {
    let app = TestApp::start(engine).await;
    app.confirmed_user("someone@example.com").await;
    let user = app.session("someone@example.com").await;
    assert_problem(
        register(
            &app,
            &user.access_token,
            json!({"name": "x", "scopes": ["admin"]}),
        )
        .await,
        403,
        "admin_required",
    )
    .await;
    let (plain_id, plain_secret) = app.create_client("reporter", "reports:read");
    let plain = app.client_token(&plain_id, &plain_secret).await;
    assert_problem(
        register(&app, &plain, json!({"name": "x", "scopes": ["admin"]})).await,
        403,
        "admin_required",
    )
    .await;
    app.finish().await;
}

async fn client_credentials_is_only_for_confidential_clients_registered_for_it(engine: Engine) {
    let app = TestApp::start(engine).await;
    let admin = app.admin_token("root@example.com").await;
    let spa = json_of(
        register(
            &app,
            &admin,
            json!({"name": "spa", "type": "public", "redirectUris": [SPA_CALLBACK]}),
        )
        .await,
        201,
    )
    .await;
    let spa_id = spa["client"]["id"].as_str().unwrap();
    // A public client has no secret: an empty or made-up one is no client.
    for secret in ["", "guess"] {
        oauth_error(
            client_credentials(&app, spa_id, secret).await,
            401,
            "invalid_client",
        )
        .await;
    }
    let web = json_of(
        register(
            &app,
            &admin,
            json!({"name": "web", "redirectUris": [SPA_CALLBACK], "scopes": ["openid", "admin"]}),
        )
        .await,
        201,
    )
    .await;
    let web_id = web["client"]["id"].as_str().unwrap();
    let web_secret = web["clientSecret"].as_str().unwrap();
    oauth_error(
        client_credentials(&app, web_id, web_secret).await,
        400,
        "unauthorized_client",
    )
    .await;
    app.finish().await;
}

on_both_engines!(
    the_command_registers_a_public_app_client_without_a_secret,
    the_command_refuses_a_bad_redirect_uri_and_stores_nothing,
    an_admin_registers_clients_over_http_and_sees_each_secret_once,
    registrations_that_break_the_rules_are_refused_naming_the_field,
    only_a_platform_admin_registers_clients,
    client_credentials_is_only_for_confidential_clients_registered_for_it,
);
