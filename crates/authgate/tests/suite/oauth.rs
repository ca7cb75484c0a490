//! authgate as an OpenID Provider (contracts/oauth.md): the authorization
//! endpoint's rules, the hosted sign-in pages, the browser session (SSO,
//! `prompt`), and the code's exchange with PKCE, on SQLite and PostgreSQL.
//! The browser is [`Browser`]: cookies kept, every redirect looked at.

use crate::common::browser::{
    AppClient, Browser, Form, location, public_client, redirect_params, register_client,
    token_answer,
};
use crate::common::{self, Engine, PASSWORD, TestApp, json_of};
use reqwest::Method;
use serde_json::{Value, json};

/// Changes to a request's parameters (an empty value drops one).
type Changes<'a> = &'a [(&'a str, &'a str)];

const CALLBACK: &str = "http://127.0.0.1:9/callback";
const EMAIL: &str = "ada@example.com";

/// A signed-up user and a public app client registered for it.
async fn app_with_client(engine: Engine) -> (TestApp, AppClient) {
    let app = TestApp::start(engine).await;
    let admin = app.admin_token("root@example.com").await;
    let client = public_client(&app, &admin, "Ada's notes", CALLBACK).await;
    app.confirmed_user(EMAIL).await;
    (app, client)
}

/// Sign in through the pages and answer the code of the redirect.
async fn code_after_sign_in(browser: &mut Browser<'_>, client: &AppClient) -> String {
    let back = browser
        .sign_in(&client.authorize_path(&[]), EMAIL, PASSWORD)
        .await;
    assert_eq!(back.status(), 302, "{:?}", back.headers());
    redirect_params(&back)["code"].clone()
}

async fn a_public_client_signs_a_user_in_with_pkce_and_gets_tokens_the_api_accepts(engine: Engine) {
    let (app, client) = app_with_client(engine).await;
    let mut browser = Browser::new(&app);
    let page = browser.get(&client.authorize_path(&[])).await;
    assert_eq!(page.status(), 200);
    for (name, expected) in [
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
        ("content-type", "text/html; charset=utf-8"),
    ] {
        assert_eq!(page.headers()[name], expected, "{name}");
    }
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    let html = page.text().await.unwrap();
    for label in [
        ">Email</label>",
        ">Password</label>",
        ">Sign in</button>",
        "Ada&#x27;s notes",
    ] {
        assert!(html.contains(label), "{label} not on the page: {html}");
    }

    let back = browser
        .sign_in(&client.authorize_path(&[]), EMAIL, PASSWORD)
        .await;
    assert_eq!(back.status(), 302);
    assert!(location(&back).starts_with(CALLBACK), "{}", location(&back));
    let params = redirect_params(&back);
    assert_eq!(params["state"], "state-123");
    assert_eq!(params["iss"], app.base);
    let session_cookie = browser
        .set_cookies
        .iter()
        .find(|c| c.starts_with("authgate_session="))
        .expect("a browser session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session_cookie.contains(attribute), "{session_cookie}");
    }

    let tokens = token_answer(client.exchange(&app, &params["code"], &[]).await, 200).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "openid email profile");
    let id = common::claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["iss"], app.base);
    assert_eq!(id["aud"], client.id);
    assert_eq!(id["nonce"], "nonce-456");
    assert_eq!(id["amr"], json!(["pwd"]));
    assert_eq!(id["email"], EMAIL);
    assert_eq!(id["email_verified"], true);
    assert!(id["sid"].as_str().is_some_and(|s| !s.is_empty()), "{id}");
    assert!(id["auth_time"].as_i64().unwrap() <= common::now());

    // The provider session the page's sign-in started is over: only the
    // code's family is live.
    let pool = app.db.pool().await;
    let live: Vec<(Option<String>,)> = sqlx::query_as(
        "SELECT client_id FROM refresh_families WHERE sub = $1 AND revoked_at IS NULL",
    )
    .bind(id["sub"].as_str().unwrap())
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(live, vec![(Some(client.id.clone()),)]);

    let access = tokens["access_token"].as_str().unwrap();
    let claims = common::claims_of(access);
    assert_eq!(claims["client_id"], client.id);
    assert_eq!(claims["sub"], id["sub"]);
    let subject = json_of(app.get_bearer("/v1/auth/subject", access).await, 200).await;
    assert_eq!(subject["user"]["email"], EMAIL, "{subject}");
    assert_eq!(subject["user"]["sub"], id["sub"]);
    app.finish().await;
}

async fn a_signed_in_browser_gets_its_next_code_without_a_page(engine: Engine) {
    let (app, client) = app_with_client(engine).await;
    let mut browser = Browser::new(&app);
    code_after_sign_in(&mut browser, &client).await;
    let again = browser
        .get(&client.authorize_path(&[("prompt", "none")]))
        .await;
    assert_eq!(again.status(), 302, "SSO");
    assert!(redirect_params(&again).contains_key("code"));
    let forced = browser
        .get(&client.authorize_path(&[("prompt", "login")]))
        .await;
    assert_eq!(forced.status(), 200, "prompt=login shows the page");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let stale = browser
        .get(&client.authorize_path(&[("max_age", "1")]))
        .await;
    assert_eq!(
        stale.status(),
        200,
        "a sign-in older than max_age shows the page"
    );
    let recent = browser
        .get(&client.authorize_path(&[("max_age", "600")]))
        .await;
    assert_eq!(recent.status(), 302);

    let mut stranger = Browser::new(&app);
    let silent = stranger
        .get(&client.authorize_path(&[("prompt", "none")]))
        .await;
    assert_eq!(silent.status(), 302);
    let params = redirect_params(&silent);
    assert_eq!(
        (
            params["error"].as_str(),
            params["state"].as_str(),
            params["iss"].as_str()
        ),
        ("login_required", "state-123", app.base.as_str())
    );
    app.finish().await;
}

async fn an_untrusted_client_or_redirect_uri_gets_a_page_and_never_a_redirect(engine: Engine) {
    let (app, client) = app_with_client(engine).await;
    let mut browser = Browser::new(&app);
    for changes in [
        &[("client_id", "agc_nobody")][..],
        &[("client_id", "")],
        &[("redirect_uri", "https://evil.example/callback")],
        &[("redirect_uri", "http://127.0.0.1:9/callback/")],
        &[("redirect_uri", "")],
    ] {
        let page = browser.get(&client.authorize_path(changes)).await;
        assert_eq!(page.status(), 400, "{changes:?}");
        assert!(page.headers().get("location").is_none(), "{changes:?}");
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
        let html = page.text().await.unwrap();
        assert!(html.contains("<p>"), "a page in words: {html}");
    }
    app.finish().await;
}

async fn other_authorization_errors_go_back_to_the_client_with_state_and_iss(engine: Engine) {
    let (app, client) = app_with_client(engine).await;
    let mut browser = Browser::new(&app);
    let cases: &[(Changes, &str)] = &[
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("code_challenge", "")], "invalid_request"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (&[("code_challenge_method", "")], "invalid_request"),
        (&[("scope", "openid admin")], "invalid_scope"),
        (&[("prompt", "none login")], "invalid_request"),
    ];
    for (changes, error) in cases {
        let answer = browser.get(&client.authorize_path(changes)).await;
        assert_eq!(answer.status(), 302, "{changes:?}");
        assert!(location(&answer).starts_with(CALLBACK));
        let params = redirect_params(&answer);
        assert_eq!(params["error"], *error, "{changes:?}");
        assert_eq!(params["state"], "state-123");
        assert_eq!(params["iss"], app.base);
        assert!(!params.contains_key("code"));
    }
    app.finish().await;
}

async fn a_code_works_once_and_its_replay_revokes_what_it_issued(engine: Engine) {
    let (app, client) = app_with_client(engine).await;
    let mut browser = Browser::new(&app);
    let code = code_after_sign_in(&mut browser, &client).await;
    let first = token_answer(client.exchange(&app, &code, &[]).await, 200).await;
    let access = first["access_token"].as_str().unwrap();
    json_of(app.get_bearer("/v1/auth/subject", access).await, 200).await;

    let replay = token_answer(client.exchange(&app, &code, &[]).await, 400).await;
    assert_eq!(replay["error"], "invalid_grant");
    let refused = app.get_bearer("/v1/auth/subject", access).await;
    assert_eq!(
        refused.status(),
        401,
        "the first use's access token still works"
    );
    app.finish().await;
}

async fn a_code_is_bound_to_its_client_redirect_uri_and_verifier(engine: Engine) {
    let (app, client) = app_with_client(engine).await;
    let admin = app.admin_token("ops@example.com").await;
    let other = register_client(
        &app,
        &admin,
        json!({"name": "other", "type": "public", "redirectUris": [CALLBACK]}),
    )
    .await;
    let other_id = other["client"]["id"].as_str().unwrap().to_string();
    let wrong_verifier = "x".repeat(43);
    let cases: &[(Changes, u16, &str)] = &[
        (&[("code_verifier", &wrong_verifier)], 400, "invalid_grant"),
        (&[("code_verifier", "")], 400, "invalid_grant"),
        (
            &[("redirect_uri", "http://127.0.0.1:9/other")],
            400,
            "invalid_grant",
        ),
        (&[("redirect_uri", "")], 400, "invalid_grant"),
        (&[("client_id", &other_id)], 400, "invalid_grant"),
        (&[("client_id", "agc_nobody")], 401, "invalid_client"),
        (&[("client_secret", "made-up")], 401, "invalid_client"),
        (&[("code", "not-a-code")], 400, "invalid_grant"),
    ];
    let mut browser = Browser::new(&app);
    code_after_sign_in(&mut browser, &client).await;
    for (changes, status, error) in cases {
        let again = browser.get(&client.authorize_path(&[])).await;
        let code = redirect_params(&again)["code"].clone();
        let answer = token_answer(client.exchange(&app, &code, changes).await, *status).await;
        assert_eq!(answer["error"], *error, "{changes:?}: {answer}");
        assert!(
            !answer.to_string().contains(&code),
            "the code is echoed: {answer}"
        );
    }
    app.finish().await;
}

async fn the_sign_in_page_says_what_went_wrong_and_checks_its_csrf_token(engine: Engine) {
    let (app, client) = app_with_client(engine).await;
    let mut browser = Browser::new(&app);
    let wrong = browser
        .sign_in(&client.authorize_path(&[]), EMAIL, "Wrong-Password-1!")
        .await;
    assert_eq!(wrong.status(), 401);
    let html = wrong.text().await.unwrap();
    assert!(html.contains("Incorrect email or password"), "{html}");
    assert!(
        !html.contains("Wrong-Password-1!"),
        "the password is echoed"
    );
    assert!(!browser.cookies.contains_key("authgate_session"));

    let page = browser.get(&client.authorize_path(&[])).await;
    let form = Form::of(&page.text().await.unwrap());
    for csrf in ["", "forged"] {
        let forged = browser
            .post(
                "/login/sign-in",
                &[
                    ("csrf", csrf),
                    ("authorize", form.hidden("authorize")),
                    ("email", EMAIL),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(forged.status(), 400, "csrf {csrf:?}");
        assert!(forged.headers().get("location").is_none());
        assert!(forged.text().await.unwrap().contains("expired"));
    }
    assert!(!browser.cookies.contains_key("authgate_session"));
    app.finish().await;
}

async fn a_user_with_an_authenticator_answers_a_totp_page(engine: Engine) {
    let (app, client) = app_with_client(engine).await;
    let session = app.session(EMAIL).await;
    let enrolled = app.enrol_totp(&session.access_token).await;
    let mut browser = Browser::new(&app);
    let step = browser
        .sign_in(&client.authorize_path(&[]), EMAIL, PASSWORD)
        .await;
    assert_eq!(step.status(), 200, "a TOTP page");
    let html = step.text().await.unwrap();
    assert!(
        html.contains(">Code</label>") && html.contains(">Verify</button>"),
        "{html}"
    );
    let form = Form::of(&html);
    // The next step's code (the current one went into the enrolment).
    let code = common::totp_at(&enrolled.secret, common::now() + 30);
    let answer = browser
        .post(
            "/login/totp",
            &[
                ("csrf", form.hidden("csrf")),
                ("authorize", form.hidden("authorize")),
                ("email", form.hidden("email")),
                ("session", form.hidden("session")),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(answer.status(), 303, "{}", answer.text().await.unwrap());
    let back = browser.get(&location(&answer)).await;
    let tokens = token_answer(
        client
            .exchange(&app, &redirect_params(&back)["code"], &[])
            .await,
        200,
    )
    .await;
    let id: Value = common::claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["amr"], json!(["pwd", "otp"]));
    app.finish().await;
}

/// What a stock OIDC client does: discovery, then the id token's signature
/// against the published keys, with `iss` and `aud` checked.
async fn the_id_token_verifies_against_the_discovery_document(engine: Engine) {
    let (app, client) = app_with_client(engine).await;
    let discovery: Value = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(discovery["issuer"], app.base);
    assert_eq!(
        discovery["authorization_endpoint"],
        format!("{}/oauth2/authorize", app.base)
    );
    for (field, path) in [
        ("userinfo_endpoint", "/oauth2/userInfo"),
        ("end_session_endpoint", "/oauth2/logout"),
        ("revocation_endpoint", "/oauth2/revoke"),
        ("token_endpoint", "/oauth2/token"),
    ] {
        assert_eq!(discovery[field], format!("{}{path}", app.base), "{field}");
    }
    assert_eq!(discovery["response_types_supported"], json!(["code"]));
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        discovery["authorization_response_iss_parameter_supported"],
        true
    );
    assert!(
        discovery["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("none"))
    );
    let mut browser = Browser::new(&app);
    let code = code_after_sign_in(&mut browser, &client).await;
    let tokens = token_answer(client.exchange(&app, &code, &[]).await, 200).await;
    let id_token = tokens["id_token"].as_str().unwrap();

    let jwks_uri = discovery["jwks_uri"].as_str().unwrap();
    let keys: jsonwebtoken::jwk::JwkSet = app
        .client
        .get(jwks_uri)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    let key = keys
        .find(header.kid.as_deref().unwrap())
        .expect("the id token's key is published");
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[app.base.as_str()]);
    validation.set_audience(&[client.id.as_str()]);
    let verified = jsonwebtoken::decode::<Value>(
        id_token,
        &jsonwebtoken::DecodingKey::from_jwk(key).unwrap(),
        &validation,
    )
    .expect("a stock client accepts the id token");
    assert_eq!(verified.claims["nonce"], "nonce-456");
    let mut other_audience = validation.clone();
    other_audience.set_audience(&["agc_someone_else"]);
    assert!(
        jsonwebtoken::decode::<Value>(
            id_token,
            &jsonwebtoken::DecodingKey::from_jwk(key).unwrap(),
            &other_audience
        )
        .is_err()
    );
    app.finish().await;
}

async fn user_info_answers_as_the_scopes_allow(engine: Engine) {
    let (app, client) = app_with_client(engine).await;
    let mut browser = Browser::new(&app);
    code_after_sign_in(&mut browser, &client).await;
    for (scope, expected_email) in [("openid email", Some(EMAIL)), ("openid", None)] {
        let again = browser
            .get(&client.authorize_path(&[("scope", scope)]))
            .await;
        let code = redirect_params(&again)["code"].clone();
        let tokens = token_answer(client.exchange(&app, &code, &[]).await, 200).await;
        let access = tokens["access_token"].as_str().unwrap();
        for alias in ["/oauth2/userInfo", "/oauth2/userinfo"] {
            let info = json_of(app.get_bearer(alias, access).await, 200).await;
            assert_eq!(info["sub"], common::claims_of(access)["sub"]);
            assert_eq!(info["email"].as_str(), expected_email, "{scope}: {info}");
            assert!(info.get("name").is_none(), "no profile scope: {info}");
        }
    }
    let refused = app.get_bearer("/oauth2/userInfo", "not-a-token").await;
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    app.finish().await;
}

/// Log out: the browser session and the tokens its codes issued end.
async fn logout_ends_the_browser_session_and_its_tokens(engine: Engine) {
    let app = TestApp::start(engine).await;
    let admin = app.admin_token("root@example.com").await;
    let created = register_client(
        &app,
        &admin,
        json!({"name": "spa", "type": "public", "redirectUris": [CALLBACK],
                "postLogoutUris": ["http://127.0.0.1:9/bye"]}),
    )
    .await;
    app.confirmed_user(EMAIL).await;
    let client = AppClient::new(created["client"]["id"].as_str().unwrap(), CALLBACK);
    let mut browser = Browser::new(&app);
    let code = code_after_sign_in(&mut browser, &client).await;
    let tokens = token_answer(client.exchange(&app, &code, &[]).await, 200).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let id_token = tokens["id_token"].as_str().unwrap().to_string();

    // Not registered: a page, never a redirect.
    let elsewhere = browser
        .get(&format!(
            "/oauth2/logout?client_id={}&post_logout_redirect_uri=https://evil.example/",
            client.id
        ))
        .await;
    assert_eq!(elsewhere.status(), 400);
    assert!(elsewhere.headers().get("location").is_none());
    // Without a hint, the person confirms (a link from elsewhere cannot sign them out).
    let ask = browser.get("/oauth2/logout").await;
    assert_eq!(ask.status(), 200);
    assert!(ask.text().await.unwrap().contains(">Sign out</button>"));
    json_of(app.get_bearer("/v1/auth/subject", &access).await, 200).await;

    let out = browser
        .get(&format!(
            "/oauth2/logout?id_token_hint={id_token}&post_logout_redirect_uri=http://127.0.0.1:9/bye&state=s-9"
        ))
        .await;
    assert_eq!(out.status(), 302);
    assert_eq!(location(&out), "http://127.0.0.1:9/bye?state=s-9");
    assert_eq!(
        app.get_bearer("/v1/auth/subject", &access).await.status(),
        401,
        "the code's tokens end with the session"
    );
    let silent = browser
        .get(&client.authorize_path(&[("prompt", "none")]))
        .await;
    assert_eq!(redirect_params(&silent)["error"], "login_required");
    app.finish().await;
}

/// `POST /oauth2/token` with `grant_type=refresh_token` as `client_id`.
async fn refresh_as(app: &TestApp, client_id: &str, token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", client_id),
        ])
        .send()
        .await
        .unwrap()
}

async fn a_code_flow_refresh_token_rotates_for_its_client_only(engine: Engine) {
    let (app, client) = app_with_client(engine).await;
    let admin = app.admin_token("ops@example.com").await;
    let other = register_client(
        &app,
        &admin,
        json!({"name": "other", "type": "public", "redirectUris": [CALLBACK]}),
    )
    .await;
    let other_id = other["client"]["id"].as_str().unwrap();
    let mut browser = Browser::new(&app);
    let code = code_after_sign_in(&mut browser, &client).await;
    let first = token_answer(client.exchange(&app, &code, &[]).await, 200).await;
    let r0 = first["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_string();

    let stolen = token_answer(refresh_as(&app, other_id, &r0).await, 400).await;
    assert_eq!(stolen["error"], "invalid_grant", "{stolen}");
    let native = app
        .post("/v1/auth/token/refresh", json!({"refreshToken": r0}))
        .await;
    assert_eq!(
        native.status(),
        401,
        "the native refresh takes no code-flow token"
    );

    let second = token_answer(refresh_as(&app, &client.id, &r0).await, 200).await;
    let r1 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r0);
    let id = common::claims_of(second["id_token"].as_str().unwrap());
    assert_eq!(
        (id["aud"].as_str(), id.get("nonce")),
        (Some(client.id.as_str()), None)
    );
    let access = second["access_token"].as_str().unwrap();
    json_of(app.get_bearer("/v1/auth/subject", access).await, 200).await;

    let third = token_answer(refresh_as(&app, &client.id, &r1).await, 200).await;
    let r2 = third["refresh_token"].as_str().unwrap().to_string();
    // r0 again, after its child was used: reuse, and the session ends.
    let reused = token_answer(refresh_as(&app, &client.id, &r0).await, 400).await;
    assert_eq!(reused["error"], "invalid_grant");
    let after = token_answer(refresh_as(&app, &client.id, &r2).await, 400).await;
    assert_eq!(after["error"], "invalid_grant", "the family is revoked");
    assert_eq!(
        app.get_bearer("/v1/auth/subject", access).await.status(),
        401
    );
    app.finish().await;
}

async fn a_client_without_the_refresh_grant_gets_no_refresh_token(engine: Engine) {
    let app = TestApp::start(engine).await;
    let admin = app.admin_token("root@example.com").await;
    let created = register_client(
        &app,
        &admin,
        json!({"name": "spa", "type": "public", "redirectUris": [CALLBACK],
                "grantTypes": ["authorization_code"]}),
    )
    .await;
    app.confirmed_user(EMAIL).await;
    let client = AppClient::new(created["client"]["id"].as_str().unwrap(), CALLBACK);
    let mut browser = Browser::new(&app);
    let code = code_after_sign_in(&mut browser, &client).await;
    let tokens = token_answer(client.exchange(&app, &code, &[]).await, 200).await;
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    app.finish().await;
}

/// `POST /oauth2/revoke` as `client_id`.
async fn revoke_as(app: &TestApp, client_id: &str, token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/oauth2/revoke"))
        .form(&[("token", token), ("client_id", client_id)])
        .send()
        .await
        .unwrap()
}

async fn a_client_revokes_its_tokens_and_only_its_own(engine: Engine) {
    let (app, client) = app_with_client(engine).await;
    let admin = app.admin_token("ops@example.com").await;
    let other = register_client(
        &app,
        &admin,
        json!({"name": "other", "type": "public", "redirectUris": [CALLBACK]}),
    )
    .await;
    let other_id = other["client"]["id"].as_str().unwrap();
    let mut browser = Browser::new(&app);
    let first = code_after_sign_in(&mut browser, &client).await;
    let tokens = token_answer(client.exchange(&app, &first, &[]).await, 200).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    for token in [access, refresh, "not-a-token"] {
        assert_eq!(revoke_as(&app, other_id, token).await.status(), 200);
    }
    json_of(app.get_bearer("/v1/auth/subject", access).await, 200).await;
    assert_eq!(revoke_as(&app, "agc_nobody", access).await.status(), 401);

    assert_eq!(revoke_as(&app, &client.id, access).await.status(), 200);
    assert_eq!(
        app.get_bearer("/v1/auth/subject", access).await.status(),
        401
    );
    let refused = token_answer(refresh_as(&app, &client.id, refresh).await, 400).await;
    assert_eq!(
        refused["error"], "invalid_grant",
        "the session's refresh token ends too"
    );

    // A refresh token revokes its session just as well.
    let again = browser.get(&client.authorize_path(&[])).await;
    let code = redirect_params(&again)["code"].clone();
    let tokens = token_answer(client.exchange(&app, &code, &[]).await, 200).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(revoke_as(&app, &client.id, refresh).await.status(), 200);
    let refused = token_answer(refresh_as(&app, &client.id, refresh).await, 400).await;
    assert_eq!(refused["error"], "invalid_grant");
    app.finish().await;
}

async fn a_confidential_client_proves_itself_at_the_exchange(engine: Engine) {
    let app = TestApp::start(engine).await;
    let admin = app.admin_token("root@example.com").await;
    let created = register_client(
        &app,
        &admin,
        json!({"name": "web", "redirectUris": [CALLBACK]}),
    )
    .await;
    app.confirmed_user(EMAIL).await;
    let secret = created["clientSecret"].as_str().unwrap();
    let client = AppClient::new(created["client"]["id"].as_str().unwrap(), CALLBACK);
    let mut browser = Browser::new(&app);
    code_after_sign_in(&mut browser, &client).await;
    let exchange = |code: String, basic: Option<String>, post_secret: Option<String>| {
        let app = &app;
        let client = &client;
        async move {
            let mut form = vec![
                ("grant_type", "authorization_code".to_string()),
                ("code", code),
                ("redirect_uri", CALLBACK.to_string()),
                ("code_verifier", client.pkce.verifier.clone()),
            ];
            let mut request = app.client.post(app.url("/oauth2/token"));
            match basic {
                Some(secret) => request = request.basic_auth(&client.id, Some(secret)),
                None => form.push(("client_id", client.id.clone())),
            }
            if let Some(secret) = post_secret {
                form.push(("client_secret", secret));
            }
            request.form(&form).send().await.unwrap()
        }
    };
    let cases: [(Option<String>, Option<String>, u16); 4] = [
        (None, None, 401),
        (Some("wrong".into()), None, 401),
        (Some(secret.into()), None, 200),
        (None, Some(secret.into()), 200),
    ];
    for (basic, post_secret, status) in cases {
        let again = browser.get(&client.authorize_path(&[])).await;
        let code = redirect_params(&again)["code"].clone();
        let answer = token_answer(exchange(code, basic, post_secret).await, status).await;
        if status == 401 {
            assert_eq!(answer["error"], "invalid_client", "{answer}");
        } else {
            assert!(answer["id_token"].is_string(), "{answer}");
        }
    }
    app.finish().await;
}

async fn a_client_with_consent_asks_once_per_scope_and_hears_a_denial(engine: Engine) {
    let app = TestApp::start(engine).await;
    let admin = app.admin_token("root@example.com").await;
    let created = register_client(
        &app,
        &admin,
        json!({"name": "Partner app", "type": "public", "redirectUris": [CALLBACK],
                "consent": true}),
    )
    .await;
    app.confirmed_user(EMAIL).await;
    let client = AppClient::new(created["client"]["id"].as_str().unwrap(), CALLBACK);
    let mut browser = Browser::new(&app);
    let narrow = client.authorize_path(&[("scope", "openid")]);
    let page = browser.sign_in(&narrow, EMAIL, PASSWORD).await;
    assert_eq!(page.status(), 200, "the consent page");
    let html = page.text().await.unwrap();
    for text in [
        ">Allow</button>",
        ">Deny</button>",
        "Partner app",
        "<li>openid</li>",
    ] {
        assert!(html.contains(text), "{text}: {html}");
    }
    let form = Form::of(&html);
    let decide = |decision: &'static str, form: &Form| {
        [
            ("csrf", form.hidden("csrf").to_string()),
            ("authorize", form.hidden("authorize").to_string()),
            ("decision", decision.to_string()),
        ]
    };
    let denied = browser
        .post("/login/consent", &pairs(&decide("deny", &form)))
        .await;
    assert_eq!(denied.status(), 303);
    let params = redirect_params(&denied);
    assert_eq!(
        (
            params["error"].as_str(),
            params["state"].as_str(),
            params["iss"].as_str()
        ),
        ("access_denied", "state-123", app.base.as_str())
    );
    let silent = browser
        .get(&client.authorize_path(&[("scope", "openid"), ("prompt", "none")]))
        .await;
    assert_eq!(redirect_params(&silent)["error"], "consent_required");

    let page = browser.get(&narrow).await;
    let form = Form::of(&page.text().await.unwrap());
    let allowed = browser
        .post("/login/consent", &pairs(&decide("allow", &form)))
        .await;
    assert_eq!(allowed.status(), 303);
    assert!(redirect_params(&allowed).contains_key("code"));
    let remembered = browser.get(&narrow).await;
    assert_eq!(remembered.status(), 302, "consent is remembered");
    for (changes, why) in [
        (&[("scope", "openid email")][..], "a wider scope"),
        (
            &[("scope", "openid"), ("prompt", "consent")],
            "prompt=consent",
        ),
    ] {
        let asked = browser.get(&client.authorize_path(changes)).await;
        assert_eq!(asked.status(), 200, "{why} asks again");
    }
    app.finish().await;
}

/// The `href` of the link with this text on a page.
fn link(html: &str, text: &str) -> String {
    let end = html
        .find(&format!(">{text}</a>"))
        .unwrap_or_else(|| panic!("no link {text}: {html}"));
    let start = html[..end].rfind("href=\"").unwrap() + 6;
    let href = &html[start..end];
    href[..href.find('"').unwrap()]
        .replace("&amp;", "&")
        .replace("&#x2f;", "/")
}

async fn a_person_signs_up_on_the_pages_and_signs_in_after_the_mailed_code(engine: Engine) {
    let (app, client) = app_with_client(engine).await;
    let mut browser = Browser::new(&app);
    let page = browser.get(&client.authorize_path(&[])).await;
    let html = page.text().await.unwrap();
    let sign_up = browser.get(&link(&html, "Create an account")).await;
    assert_eq!(sign_up.status(), 200);
    let html = sign_up.text().await.unwrap();
    for label in [
        ">Email</label>",
        ">Password</label>",
        ">Name</label>",
        ">Create account</button>",
    ] {
        assert!(html.contains(label), "{label}: {html}");
    }
    let form = Form::of(&html);
    let email = "grace@example.com";
    let weak = browser
        .post(
            "/login/sign-up",
            &[
                ("csrf", form.hidden("csrf")),
                ("authorize", form.hidden("authorize")),
                ("email", email),
                ("password", "short"),
                ("name", "Grace"),
            ],
        )
        .await;
    assert_eq!(weak.status(), 422);
    assert!(weak.text().await.unwrap().contains("class=\"error\""));
    let confirm = browser
        .post(
            "/login/sign-up",
            &[
                ("csrf", form.hidden("csrf")),
                ("authorize", form.hidden("authorize")),
                ("email", email),
                ("password", PASSWORD),
                ("name", "Grace"),
            ],
        )
        .await;
    assert_eq!(confirm.status(), 200);
    let html = confirm.text().await.unwrap();
    assert!(
        html.contains(">Code</label>") && html.contains(">Confirm</button>"),
        "{html}"
    );
    let form = Form::of(&html);
    let code = app.smtp.code(email, 0).await;
    let wrong = browser
        .post(
            "/login/confirm",
            &[
                ("csrf", form.hidden("csrf")),
                ("authorize", form.hidden("authorize")),
                ("email", form.hidden("email")),
                ("code", common::other_code(&code)),
            ],
        )
        .await;
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("That code is not right")
    );
    let signed_in_page = browser
        .post(
            "/login/confirm",
            &[
                ("csrf", form.hidden("csrf")),
                ("authorize", form.hidden("authorize")),
                ("email", form.hidden("email")),
                ("code", &code),
            ],
        )
        .await;
    let html = signed_in_page.text().await.unwrap();
    assert!(html.contains("Your email address is confirmed"), "{html}");
    let back = browser
        .sign_in(&client.authorize_path(&[]), email, PASSWORD)
        .await;
    let code = redirect_params(&back)["code"].clone();
    let tokens = token_answer(client.exchange(&app, &code, &[]).await, 200).await;
    let id = common::claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        (id["email"].as_str(), id["name"].as_str()),
        (Some(email), Some("Grace"))
    );
    app.finish().await;
}

async fn a_forgotten_password_is_reset_on_the_pages(engine: Engine) {
    let (app, client) = app_with_client(engine).await;
    let mut browser = Browser::new(&app);
    let page = browser.get(&client.authorize_path(&[])).await;
    let html = page.text().await.unwrap();
    let forgot = browser.get(&link(&html, "Forgot your password?")).await;
    let html = forgot.text().await.unwrap();
    assert!(html.contains(">Send code</button>"), "{html}");
    let form = Form::of(&html);
    // The same next page for an address nobody uses.
    for email in ["nobody@example.com", EMAIL] {
        let next = browser
            .post(
                "/login/forgot-password",
                &[
                    ("csrf", form.hidden("csrf")),
                    ("authorize", form.hidden("authorize")),
                    ("email", email),
                ],
            )
            .await;
        assert_eq!(next.status(), 200);
        let html = next.text().await.unwrap();
        assert!(
            html.contains(">New password</label>") && html.contains(">Reset password</button>")
        );
        if email == EMAIL {
            let form = Form::of(&html);
            // The sign-up confirmation was message 0.
            let code = app.smtp.code(EMAIL, 1).await;
            let done = browser
                .post(
                    "/login/reset-password",
                    &[
                        ("csrf", form.hidden("csrf")),
                        ("authorize", form.hidden("authorize")),
                        ("email", form.hidden("email")),
                        ("code", &code),
                        ("new_password", "Another-Horse-43!"),
                    ],
                )
                .await;
            assert!(
                done.text()
                    .await
                    .unwrap()
                    .contains("Your password is changed")
            );
        }
    }
    let back = browser
        .sign_in(&client.authorize_path(&[]), EMAIL, "Another-Horse-43!")
        .await;
    assert!(redirect_params(&back).contains_key("code"));
    app.finish().await;
}

async fn an_account_made_by_an_administrator_chooses_its_password_on_the_pages(engine: Engine) {
    let (app, client) = app_with_client(engine).await;
    let admin = app.admin_token("ops@example.com").await;
    let email = "new.hire@example.com";
    json_of(
        app.call(
            Method::POST,
            "/v1/admin/users",
            Some(&admin),
            Some(json!({"email": email})),
        )
        .await,
        201,
    )
    .await;
    let temporary = app.smtp.temporary_password(email, 0).await;
    let mut browser = Browser::new(&app);
    let step = browser
        .sign_in(&client.authorize_path(&[]), email, &temporary)
        .await;
    assert_eq!(step.status(), 200);
    let html = step.text().await.unwrap();
    assert!(
        html.contains(">New password</label>") && html.contains(">Set password</button>"),
        "{html}"
    );
    let form = Form::of(&html);
    let fields = |password: &'static str| {
        [
            ("csrf", form.hidden("csrf").to_string()),
            ("authorize", form.hidden("authorize").to_string()),
            ("email", form.hidden("email").to_string()),
            ("session", form.hidden("session").to_string()),
            ("code", password.to_string()),
        ]
    };
    let weak = browser
        .post("/login/new-password", &pairs(&fields("short")))
        .await;
    assert!(
        weak.text().await.unwrap().contains("class=\"error\""),
        "a weak password is refused in words"
    );
    let done = browser
        .post("/login/new-password", &pairs(&fields("Chosen-Horse-44!")))
        .await;
    assert_eq!(done.status(), 303);
    let back = browser.get(&location(&done)).await;
    assert!(redirect_params(&back).contains_key("code"));
    let mut later = Browser::new(&app);
    let again = later
        .sign_in(&client.authorize_path(&[]), email, "Chosen-Horse-44!")
        .await;
    assert_eq!(again.status(), 302, "the chosen password signs in");
    app.finish().await;
}

async fn with_mfa_required_the_pages_set_up_an_authenticator_and_show_the_recovery_codes(
    engine: Engine,
) {
    let app = TestApp::start_with(engine, |s| {
        s.mfa = authgate_service::settings::MfaMode::Required
    })
    .await;
    let (robot, robot_secret) = app.create_client("ops robot", "admin");
    let admin = app.client_token(&robot, &robot_secret).await;
    let client = public_client(&app, &admin, "spa", CALLBACK).await;
    app.confirmed_user(EMAIL).await;

    let mut browser = Browser::new(&app);
    let setup = browser
        .sign_in(&client.authorize_path(&[]), EMAIL, PASSWORD)
        .await;
    assert_eq!(setup.status(), 200);
    let html = setup.text().await.unwrap();
    assert!(
        html.contains("alt=\"QR code\"") && html.contains("src=\"data:image"),
        "{html}"
    );
    let form = Form::of(&html);
    let secret = form.hidden("secret").to_string();
    assert!(
        html.contains(&format!("<code>{secret}</code>")),
        "the secret in text"
    );
    let fields = |code: String| {
        [
            ("csrf", form.hidden("csrf").to_string()),
            ("authorize", form.hidden("authorize").to_string()),
            ("email", form.hidden("email").to_string()),
            ("session", form.hidden("session").to_string()),
            ("secret", secret.clone()),
            ("otpauth", form.hidden("otpauth").to_string()),
            ("code", code),
        ]
    };
    let now = common::totp_at(&secret, common::now());
    let wrong = browser
        .post(
            "/login/mfa-setup",
            &pairs(&fields(common::other_code(&now).to_string())),
        )
        .await;
    let html = wrong.text().await.unwrap();
    assert!(
        html.contains("That code is not right") && html.contains(&secret),
        "{html}"
    );
    let done = browser.post("/login/mfa-setup", &pairs(&fields(now))).await;
    assert_eq!(done.status(), 200, "the recovery codes");
    let html = done.text().await.unwrap();
    assert_eq!(html.matches("<li><code>").count(), 10, "{html}");
    let back = browser.get(&link(&html, "Continue")).await;
    let code = redirect_params(&back)["code"].clone();
    let tokens = token_answer(client.exchange(&app, &code, &[]).await, 200).await;
    let id = common::claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["amr"], json!(["pwd", "otp"]));
    app.finish().await;
}

async fn a_recovery_code_answers_the_totp_page_once(engine: Engine) {
    let (app, client) = app_with_client(engine).await;
    let session = app.session(EMAIL).await;
    let api = app.api();
    let enrolment = api.begin_totp(&session.access_token).await.unwrap();
    let enabled = api
        .verify_totp(
            &session.access_token,
            &common::totp_at(&enrolment.secret, common::now()),
            None,
        )
        .await
        .unwrap();
    let recovery = enabled.recovery_codes[0].clone();
    for (attempt, expected) in [(1, 303), (2, 200)] {
        let mut browser = Browser::new(&app);
        let step = browser
            .sign_in(&client.authorize_path(&[]), EMAIL, PASSWORD)
            .await;
        let form = Form::of(&step.text().await.unwrap());
        let answer = browser
            .post(
                "/login/totp",
                &[
                    ("csrf", form.hidden("csrf")),
                    ("authorize", form.hidden("authorize")),
                    ("email", form.hidden("email")),
                    ("session", form.hidden("session")),
                    ("code", &recovery),
                ],
            )
            .await;
        assert_eq!(
            answer.status(),
            expected,
            "use {attempt} of the recovery code"
        );
        if expected == 200 {
            assert!(
                answer
                    .text()
                    .await
                    .unwrap()
                    .contains("That code is not right")
            );
        }
    }
    app.finish().await;
}

/// A form's fields as `reqwest` takes them.
fn pairs<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn a_sign_in_rotates_the_browser_session_and_ends_the_old_one(engine: Engine) {
    let (app, client) = app_with_client(engine).await;
    let mut browser = Browser::new(&app);
    code_after_sign_in(&mut browser, &client).await;
    let first = browser.cookies["authgate_session"].clone();
    let again = browser
        .sign_in(
            &client.authorize_path(&[("prompt", "login")]),
            EMAIL,
            PASSWORD,
        )
        .await;
    assert_eq!(again.status(), 302);
    let second = browser.cookies["authgate_session"].clone();
    assert_ne!(first, second, "a sign-in sets a new session cookie");

    let mut stale = Browser::new(&app);
    stale.cookies.insert("authgate_session".into(), first);
    let silent = stale
        .get(&client.authorize_path(&[("prompt", "none")]))
        .await;
    assert_eq!(
        redirect_params(&silent)["error"],
        "login_required",
        "the old cookie signs nobody in"
    );
    let mut current = Browser::new(&app);
    current.cookies.insert("authgate_session".into(), second);
    let silent = current
        .get(&client.authorize_path(&[("prompt", "none")]))
        .await;
    assert!(redirect_params(&silent).contains_key("code"));
    app.finish().await;
}

async fn a_code_is_stored_hashed_and_expires_after_sixty_seconds(engine: Engine) {
    let (app, client) = app_with_client(engine).await;
    let mut browser = Browser::new(&app);
    let code = code_after_sign_in(&mut browser, &client).await;
    let pool = app.db.pool().await;
    let rows: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT code_hash, created_at, expires_at FROM authorization_codes")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 1);
    let (hash, created_at, expires_at) = &rows[0];
    assert!(
        !hash.contains(&code) && !code.contains(hash.as_str()),
        "the code is stored as is"
    );
    assert_eq!(expires_at - created_at, 60);
    sqlx::query(
        "UPDATE authorization_codes SET expires_at = expires_at - 61, created_at = created_at - 61",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let late = token_answer(client.exchange(&app, &code, &[]).await, 400).await;
    assert_eq!(late["error"], "invalid_grant");
    app.finish().await;
}

/// With an https public URL the pages' cookies are `__Host-` prefixed and
/// `Secure` (and never name a domain).
#[tokio::test]
async fn on_https_the_cookies_are_host_prefixed_and_secure() {
    let app = TestApp::start_with(Engine::Sqlite, |s| {
        s.public_url = "https://auth.example.com".into();
    })
    .await;
    let admin = app.admin_token("root@example.com").await;
    let client = public_client(&app, &admin, "Notes", CALLBACK).await;
    app.confirmed_user(EMAIL).await;

    let mut browser = Browser::new(&app);
    // Passkeys are on for auth.example.com: this browser declined the offer.
    browser
        .cookies
        .insert("__Host-authgate_passkey_declined".into(), "1".into());
    let back = browser
        .sign_in(&client.authorize_path(&[]), EMAIL, PASSWORD)
        .await;
    assert_eq!(back.status(), 302, "{:?}", back.headers());
    for name in ["__Host-authgate_csrf=", "__Host-authgate_session="] {
        let set = browser
            .set_cookies
            .iter()
            .find(|c| c.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {:?}", browser.set_cookies));
        for attribute in ["; Secure", "; HttpOnly", "; SameSite=Lax", "; Path=/"] {
            assert!(set.contains(attribute), "{set}");
        }
        assert!(!set.to_ascii_lowercase().contains("domain="), "{set}");
    }
    assert!(!browser.cookies.contains_key("authgate_session"));
    app.finish().await;
}

/// The pages sign in through the same service as the API: its lockout
/// (the right password refused after too many wrong ones, as a page in
/// words with `Retry-After`), its rate limit, and its audit rows (the
/// page's method, the address, never the password).
#[tokio::test]
async fn the_pages_keep_the_apis_lockout_rate_limits_and_audit_trail() {
    let app = TestApp::start_with(Engine::Sqlite, |s| {
        s.lockout_threshold = 2;
        s.lockout_max_seconds = 2;
    })
    .await;
    let admin = app.admin_token("root@example.com").await;
    let client = public_client(&app, &admin, "Notes", CALLBACK).await;
    app.confirmed_user(EMAIL).await;
    let mut browser = Browser::new(&app);
    for _ in 0..2 {
        let wrong = browser
            .sign_in(&client.authorize_path(&[]), EMAIL, "Wrong-Password-1!")
            .await;
        assert_eq!(wrong.status(), 401);
    }
    let locked = browser
        .sign_in(&client.authorize_path(&[]), EMAIL, PASSWORD)
        .await;
    assert_eq!(locked.status(), 429, "the right password waits too");
    assert!(locked.headers().contains_key("retry-after"));
    let html = locked.text().await.unwrap();
    assert!(html.contains("Too many attempts"), "{html}");
    assert!(!browser.cookies.contains_key("authgate_session"));

    let rows = app
        .audit_rows_once(|row| {
            row.kind == "sign_in" && row.reason.as_deref() == Some("too_many_failed_attempts")
        })
        .await;
    let page_rows: Vec<_> = rows
        .iter()
        .filter(|row| row.kind == "sign_in" && row.email.as_deref() == Some(EMAIL))
        .collect();
    assert!(page_rows.len() >= 3, "{rows:?}");
    let text = format!("{rows:?}");
    assert!(!text.contains("Wrong-Password-1!") && !text.contains(PASSWORD));
    app.finish().await;

    let app = TestApp::start_with(Engine::Sqlite, |s| {
        s.rate_limits = "sign-in=5/60s".into();
    })
    .await;
    let admin = app.admin_token("root@example.com").await;
    let client = public_client(&app, &admin, "Notes", CALLBACK).await;
    let mut browser = Browser::new(&app);
    let page = browser.get(&client.authorize_path(&[])).await;
    let form = Form::of(&page.text().await.unwrap());
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let answer = browser
            .post(
                "/login/sign-in",
                &[
                    ("csrf", form.hidden("csrf")),
                    ("authorize", form.hidden("authorize")),
                    ("email", "nobody@example.com"),
                    ("password", "Wrong-Password-1!"),
                ],
            )
            .await;
        statuses.push(answer.status().as_u16());
        if answer.status() == 429 {
            assert!(answer.headers().contains_key("retry-after"));
            assert_eq!(answer.headers()["content-type"], "text/html; charset=utf-8");
            assert!(answer.text().await.unwrap().contains("Too many attempts"));
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(
        statuses.len() <= 5,
        "the API's sign-in budget counts the pages: {statuses:?}"
    );
    app.finish().await;
}

/// The pages speak the first locale they know of the request's
/// `ui_locales`, then of the browser's `Accept-Language`, else English; a
/// locale that `ui_locales` chose holds for the pages that follow, errors
/// included.
#[tokio::test]
async fn the_pages_speak_the_locale_the_request_or_the_browser_asks_for() {
    let (app, client) = app_with_client(Engine::Sqlite).await;
    let cases: [(&str, Option<&'static str>, &str, &str); 5] = [
        ("", None, "en", ">Password</label>"),
        ("de", None, "de", ">Passwort</label>"),
        ("fr de-AT", Some("en"), "de", ">Passwort</label>"),
        (
            "",
            Some("fr, de;q=0.9, en;q=0.8"),
            "de",
            ">Passwort</label>",
        ),
        ("fr", Some("fr"), "en", ">Password</label>"),
    ];
    for (ui_locales, accept_language, lang, label) in cases {
        let mut browser = Browser::new(&app);
        browser.accept_language = accept_language;
        let page = browser
            .get(&client.authorize_path(&[("ui_locales", ui_locales)]))
            .await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let case = format!("ui_locales {ui_locales:?}, Accept-Language {accept_language:?}");
        assert!(html.contains(&format!("<html lang=\"{lang}\">")), "{case}");
        assert!(html.contains(label), "{case}: {html}");
    }

    let mut browser = Browser::new(&app);
    let wrong = browser
        .sign_in(
            &client.authorize_path(&[("ui_locales", "de")]),
            EMAIL,
            "Wrong-Password-1!",
        )
        .await;
    assert_eq!(wrong.status(), 401);
    let html = wrong.text().await.unwrap();
    assert!(
        html.contains("E-Mail-Adresse oder Passwort ist falsch."),
        "the POST without ui_locales keeps German: {html}"
    );
    let unknown = browser
        .get(
            "/oauth2/authorize?client_id=nobody&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback",
        )
        .await;
    assert_eq!(unknown.status(), 400);
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("Die Anwendung, die Sie hierher geschickt hat, ist nicht registriert."),
        "the service's refusal is translated"
    );
    app.finish().await;
}

/// An operator's `AUTHGATE_PAGES_DIR` changes texts, templates and the
/// stylesheet of a running server; one that does not parse stops the
/// start-up with the file's name.
#[tokio::test]
async fn the_operator_overrides_the_pages_texts_templates_and_stylesheet() {
    let dir = common::temp_dir("pages");
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::create_dir_all(dir.join("texts")).unwrap();
    std::fs::write(
        dir.join("texts/en.json"),
        r#"{"sign_in": "Log in to Acme"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("templates/signed_out.html"),
        r#"{% extends "base.html" %}{% block content %}<p>Bye from Acme.</p>{% endblock %}"#,
    )
    .unwrap();
    std::fs::write(dir.join("style.css"), "main { color: teal }").unwrap();
    let (app, client) = {
        let pages = dir.clone();
        let app = TestApp::start_with(Engine::Sqlite, |s| s.pages_dir = Some(pages)).await;
        let admin = app.admin_token("root@example.com").await;
        let client = public_client(&app, &admin, "Acme", CALLBACK).await;
        (app, client)
    };
    let mut browser = Browser::new(&app);
    let html = browser
        .get(&client.authorize_path(&[]))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(">Log in to Acme</button>"), "{html}");
    assert!(html.contains(">Email</label>"), "the other texts stay");
    let css = browser.get("/login/style.css").await.text().await.unwrap();
    assert_eq!(css, "main { color: teal }");
    let signed_out = browser.get("/oauth2/logout").await.text().await.unwrap();
    assert!(signed_out.contains("<p>Bye from Acme.</p>"), "{signed_out}");
    app.finish().await;

    std::fs::write(dir.join("templates/sign_in.html"), "{% if %}").unwrap();
    let settings = authgate_service::Settings {
        pages_dir: Some(dir.clone()),
        data_dir: common::temp_dir("data"),
        ..Default::default()
    };
    let Err(err) = authgate_http::App::build(settings).await else {
        panic!("a template that does not parse was accepted");
    };
    let err = format!("{err:#}");
    assert!(
        err.contains("AUTHGATE_PAGES_DIR") && err.contains("templates/sign_in.html"),
        "{err}"
    );
}

on_both_engines!(
    a_sign_in_rotates_the_browser_session_and_ends_the_old_one,
    a_code_is_stored_hashed_and_expires_after_sixty_seconds,
    a_recovery_code_answers_the_totp_page_once,
    with_mfa_required_the_pages_set_up_an_authenticator_and_show_the_recovery_codes,
    an_account_made_by_an_administrator_chooses_its_password_on_the_pages,
    a_person_signs_up_on_the_pages_and_signs_in_after_the_mailed_code,
    a_forgotten_password_is_reset_on_the_pages,
    a_client_with_consent_asks_once_per_scope_and_hears_a_denial,
    a_confidential_client_proves_itself_at_the_exchange,
    a_client_revokes_its_tokens_and_only_its_own,
    a_code_flow_refresh_token_rotates_for_its_client_only,
    a_client_without_the_refresh_grant_gets_no_refresh_token,
    user_info_answers_as_the_scopes_allow,
    logout_ends_the_browser_session_and_its_tokens,
    the_id_token_verifies_against_the_discovery_document,
    a_public_client_signs_a_user_in_with_pkce_and_gets_tokens_the_api_accepts,
    a_signed_in_browser_gets_its_next_code_without_a_page,
    an_untrusted_client_or_redirect_uri_gets_a_page_and_never_a_redirect,
    other_authorization_errors_go_back_to_the_client_with_state_and_iss,
    a_code_works_once_and_its_replay_revokes_what_it_issued,
    a_code_is_bound_to_its_client_redirect_uri_and_verifier,
    the_sign_in_page_says_what_went_wrong_and_checks_its_csrf_token,
    a_user_with_an_authenticator_answers_a_totp_page,
);

/// With the Cognito provider (on moto) the pages sign in through Cognito,
/// and the code flow's tokens are authgate's: `iss` = AUTHGATE_PUBLIC_URL,
/// keys at `/oauth2/jwks.json`, accepted by `/v1/auth/subject`.
#[cfg(feature = "cognito")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_cognito_the_pages_sign_in_through_the_pool_and_authgate_signs_the_tokens() {
    let app = common::moto_app(false, |_| {}).await;
    let (robot, secret) = app.create_client("ops robot", "admin");
    let admin = app.client_token(&robot, &secret).await;
    let client = public_client(&app, &admin, "spa", CALLBACK).await;

    // An account an administrator made in the pool: its first sign-in on the
    // pages answers Cognito's NEW_PASSWORD_REQUIRED on the new-password page.
    common::moto_admin_create_user(&app, EMAIL, "Temporary-Pass-123!").await;
    let mut browser = Browser::new(&app);
    let step = browser
        .sign_in(&client.authorize_path(&[]), EMAIL, "Temporary-Pass-123!")
        .await;
    let html = step.text().await.unwrap();
    assert!(html.contains(">Set password</button>"), "{html}");
    let form = Form::of(&html);
    let done = browser
        .post(
            "/login/new-password",
            &[
                ("csrf", form.hidden("csrf")),
                ("authorize", form.hidden("authorize")),
                ("email", form.hidden("email")),
                ("session", form.hidden("session")),
                ("code", PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status(), 303);
    let back = browser.get(&location(&done)).await;
    let code = redirect_params(&back)["code"].clone();
    let tokens = token_answer(client.exchange(&app, &code, &[]).await, 200).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let keys: jsonwebtoken::jwk::JwkSet = app
        .client
        .get(app.url("/oauth2/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    let key = keys.find(header.kid.as_deref().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[app.base.as_str()]);
    validation.set_audience(&[client.id.as_str()]);
    let id = jsonwebtoken::decode::<Value>(
        id_token,
        &jsonwebtoken::DecodingKey::from_jwk(key).unwrap(),
        &validation,
    )
    .expect("authgate's keys verify the code flow's id token")
    .claims;
    assert_eq!(id["email"], EMAIL);
    let access = tokens["access_token"].as_str().unwrap();
    let subject = json_of(app.get_bearer("/v1/auth/subject", access).await, 200).await;
    assert_eq!(subject["provider"], "cognito");
    assert_eq!(subject["user"]["email"], EMAIL);
    let refreshed = token_answer(
        refresh_as(&app, &client.id, tokens["refresh_token"].as_str().unwrap()).await,
        200,
    )
    .await;
    assert!(refreshed["access_token"].is_string());
    app.finish().await;
}
