//! The native contract through HTTP against a running server, on SQLite and
//! on PostgreSQL: sign-up, confirmation, resend, sign-in, refresh rotation and
//! reuse, sign-out, the user context, the guard on authgate's own endpoints,
//! bad input, rate limits, operations endpoints and the audit trail.

use crate::common;

use crate::common::{Engine, PASSWORD, TestApp, assert_problem, claims_of, now};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_engines!(
    full_session_lifecycle,
    sign_up_rejects_bad_input_naming_the_field,
    confirmation_errors_are_distinct,
    wrong_codes_invalidate_the_code,
    expired_codes_are_refused,
    resend_answers_alike_and_replaces_the_code,
    unknown_user_and_wrong_password_look_the_same,
    refresh_rotates_and_reuse_revokes_the_family,
    a_token_two_rotations_old_is_reuse_too,
    sessions_started_before_generations_still_rotate,
    sign_out_ends_every_session_of_the_user,
    forged_and_malformed_tokens_get_401,
    subject_is_created_once_under_concurrent_first_calls,
    malformed_bodies_get_problem_answers,
    public_endpoints_are_rate_limited,
    operations_endpoints,
    audit_trail_explains_failures_without_secrets,
    rotated_keys_keep_old_tokens_valid,
);

async fn full_session_lifecycle(engine: Engine) {
    let app = TestApp::start(engine).await;
    let email = "ada@example.com";

    let response = app
        .post(
            "/v1/auth/sign-up",
            json!({"email": "Ada@Example.com", "password": PASSWORD, "name": "Ada"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["requiresConfirmation"], true);
    assert_eq!(body["canSignIn"], false);
    assert_eq!(body["delivery"]["medium"], "EMAIL");
    assert_eq!(body["delivery"]["destination"], "a***@e***.com");
    let user_sub = body["userSub"].as_str().unwrap().to_string();

    // Not confirmed yet: the right password is not enough.
    let response = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_problem(response, 403, "user_not_confirmed").await;

    let code = app.smtp.code(email, 0).await;
    let response = app
        .post(
            "/v1/auth/sign-up/confirm",
            json!({"email": email, "code": code}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["confirmed"], true);

    let session = app.sign_in(email).await;
    assert_eq!(session["tokenType"], "Bearer");
    assert_eq!(session["expiresIn"], 3600);
    assert!(session["expiresAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(session["user"]["sub"], user_sub.as_str());
    assert_eq!(session["user"]["email"], email);
    assert_eq!(session["user"]["name"], "Ada");
    let access = session["accessToken"].as_str().unwrap();
    let claims = claims_of(access);
    assert_eq!(claims["token_use"], "access");
    assert_eq!(claims["sub"], user_sub.as_str());
    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["client_id"], "authgate");
    for claim in [
        "auth_time",
        "exp",
        "iat",
        "jti",
        "origin_jti",
        "username",
        "scope",
    ] {
        assert!(!claims[claim].is_null(), "access token lacks {claim}");
    }
    let id_claims = claims_of(session["idToken"].as_str().unwrap());
    assert_eq!(id_claims["token_use"], "id");
    assert_eq!(id_claims["aud"], "authgate");
    assert_eq!(id_claims["email"], email);

    let response = app.get_bearer("/v1/auth/subject", access).await;
    assert_eq!(response.status(), StatusCode::OK);
    let subject: Value = response.json().await.unwrap();
    assert_eq!(subject["user"]["id"], session["user"]["id"]);
    assert_eq!(subject["user"]["sub"], user_sub.as_str());
    assert_eq!(subject["user"]["email"], email);
    assert_eq!(subject["user"]["name"], "Ada");
    assert_eq!(subject["provider"], "embedded");

    let response = app
        .post(
            "/v1/auth/token/refresh",
            json!({"refreshToken": session["refreshToken"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let refreshed: Value = response.json().await.unwrap();
    assert_ne!(refreshed["refreshToken"], session["refreshToken"]);
    assert_eq!(refreshed["user"]["id"], session["user"]["id"]);
    let new_access = refreshed["accessToken"].as_str().unwrap();
    assert_eq!(claims_of(new_access)["origin_jti"], claims["origin_jti"]);
    assert_eq!(claims_of(new_access)["auth_time"], claims["auth_time"]);

    let response = app.post_bearer("/v1/auth/sign-out", new_access).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app.get_bearer("/v1/auth/subject", new_access).await;
    assert_problem(response, 401, "token_revoked").await;
    let response = app.get_bearer("/v1/auth/subject", access).await;
    assert_problem(response, 401, "token_revoked").await;
    let response = app
        .post(
            "/v1/auth/token/refresh",
            json!({"refreshToken": refreshed["refreshToken"]}),
        )
        .await;
    assert_problem(response, 401, "invalid_refresh_token").await;

    // A new sign-in right after sign-out works at once.
    let again = app.sign_in(email).await;
    let response = app
        .get_bearer("/v1/auth/subject", again["accessToken"].as_str().unwrap())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    app.finish().await;
}

async fn sign_up_rejects_bad_input_naming_the_field(engine: Engine) {
    let app = TestApp::start(engine).await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": PASSWORD}),
            "invalid_request",
            "email",
            "email",
        ),
        (
            json!({"email": "a@example.com", "password": "Short1!"}),
            "invalid_password",
            "password",
            "14 characters",
        ),
        (
            json!({"email": "a@example.com", "password": "nodigits-here-at-all!"}),
            "invalid_password",
            "password",
            "digit",
        ),
        (
            json!({"email": "a@example.com", "password": "NoSpecialChars12345"}),
            "invalid_password",
            "password",
            "special",
        ),
        (
            json!({"email": "a@example.com", "password": "no-upper-case-12345"}),
            "invalid_password",
            "password",
            "upper-case",
        ),
        (
            json!({"email": "a@example.com", "password": "NO-LOWER-CASE-12345"}),
            "invalid_password",
            "password",
            "lower-case",
        ),
        (
            json!({"password": PASSWORD}),
            "invalid_request",
            "email",
            "email",
        ),
        (
            json!({"email": "a@example.com"}),
            "invalid_request",
            "password",
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": 12345}),
            "invalid_request",
            "password",
            "string",
        ),
    ];
    for (body, code, field, detail) in cases {
        let problem =
            assert_problem(app.post("/v1/auth/sign-up", body.clone()).await, 422, code).await;
        assert_eq!(problem["field"], field, "{body} -> {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(detail),
            "{body} -> {problem}"
        );
    }
    // Nothing was written by the rejected requests: the email is still free.
    let response = app.sign_up("a@example.com").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // The same address again (any case) restarts its pending sign-up.
    let again = app.sign_up("A@EXAMPLE.COM").await;
    assert_eq!(again.status(), StatusCode::CREATED);
    app.finish().await;
}

async fn confirmation_errors_are_distinct(engine: Engine) {
    let app = TestApp::start(engine).await;
    let email = "bob@example.com";
    assert_eq!(app.sign_up(email).await.status(), StatusCode::CREATED);
    let code = app.smtp.code(email, 0).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };

    let response = app
        .post(
            "/v1/auth/sign-up/confirm",
            json!({"email": email, "code": wrong}),
        )
        .await;
    assert_problem(response, 400, "code_mismatch").await;
    // An unknown account answers like a wrong code.
    let response = app
        .post(
            "/v1/auth/sign-up/confirm",
            json!({"email": "nobody@example.com", "code": code}),
        )
        .await;
    assert_problem(response, 400, "code_mismatch").await;

    let response = app
        .post(
            "/v1/auth/sign-up/confirm",
            json!({"email": email, "code": code}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .post(
            "/v1/auth/sign-up/confirm",
            json!({"email": email, "code": code}),
        )
        .await;
    assert_problem(response, 409, "already_confirmed").await;
    app.finish().await;
}

async fn wrong_codes_invalidate_the_code(engine: Engine) {
    // The code's own tries, not the address's lockout (tested in `protection`).
    let app = TestApp::start_with(engine, |s| s.lockout_threshold = 10).await;
    let email = "carol@example.com";
    app.sign_up(email).await;
    let code = app.smtp.code(email, 0).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let response = app
            .post(
                "/v1/auth/sign-up/confirm",
                json!({"email": email, "code": wrong}),
            )
            .await;
        assert_problem(response, 400, "code_mismatch").await;
    }
    // Five wrong tries used the code up: even the right one no longer works.
    let response = app
        .post(
            "/v1/auth/sign-up/confirm",
            json!({"email": email, "code": code}),
        )
        .await;
    assert_problem(response, 400, "code_expired").await;
    app.finish().await;
}

async fn expired_codes_are_refused(engine: Engine) {
    let app = TestApp::start_with(engine, |s| s.sign_up_code_ttl = 1).await;
    let email = "dave@example.com";
    app.sign_up(email).await;
    let code = app.smtp.code(email, 0).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let response = app
        .post(
            "/v1/auth/sign-up/confirm",
            json!({"email": email, "code": code}),
        )
        .await;
    assert_problem(response, 400, "code_expired").await;
    app.finish().await;
}

async fn resend_answers_alike_and_replaces_the_code(engine: Engine) {
    let app = TestApp::start(engine).await;
    let email = "erin@example.com";
    app.sign_up(email).await;
    let first = app.smtp.code(email, 0).await;

    let known = app
        .post(
            "/v1/auth/sign-up/resend-confirmation",
            json!({"email": email}),
        )
        .await;
    let unknown = app
        .post(
            "/v1/auth/sign-up/resend-confirmation",
            json!({"email": "ghost@example.com"}),
        )
        .await;
    assert_eq!(known.status(), StatusCode::ACCEPTED);
    assert_eq!(unknown.status(), StatusCode::ACCEPTED);
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(app.smtp.count_settled("ghost@example.com").await, 0);

    let second = app.smtp.code(email, 1).await;
    if first != second {
        let response = app
            .post(
                "/v1/auth/sign-up/confirm",
                json!({"email": email, "code": first}),
            )
            .await;
        assert_problem(response, 400, "code_mismatch").await;
    }
    let response = app
        .post(
            "/v1/auth/sign-up/confirm",
            json!({"email": email, "code": second}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // A confirmed account gets no more codes, and the answer is still the same.
    let response = app
        .post(
            "/v1/auth/sign-up/resend-confirmation",
            json!({"email": email}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(app.smtp.count_settled(email).await, 2);
    app.finish().await;
}

async fn unknown_user_and_wrong_password_look_the_same(engine: Engine) {
    let app = TestApp::start(engine).await;
    app.confirmed_user("frank@example.com").await;
    let wrong_password = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": "frank@example.com", "password": "Wrong-Password-123"}),
        )
        .await;
    let unknown_user = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": "nobody@example.com", "password": PASSWORD}),
        )
        .await;
    let a = assert_problem(wrong_password, 401, "invalid_credentials").await;
    let b = assert_problem(unknown_user, 401, "invalid_credentials").await;
    for field in ["type", "title", "status", "code", "detail"] {
        assert_eq!(a[field], b[field], "{field} differs");
    }
    app.finish().await;
}

/// The token chain: `first` and the `n` tokens that rotation answered after it.
async fn refresh_chain(app: &TestApp, first: &str, n: usize) -> Vec<String> {
    let mut chain = vec![first.to_string()];
    for _ in 0..n {
        let next = app
            .api()
            .refresh(chain.last().unwrap())
            .await
            .expect("the newest token refreshes")
            .refresh_token
            .expect("a rotated token");
        chain.push(next);
    }
    chain
}

async fn a_token_two_rotations_old_is_reuse_too(engine: Engine) {
    // A thief who rotates twice must not make the stolen token look unknown.
    let app = TestApp::start(engine).await;
    app.confirmed_user("ivy@example.com").await;
    let session = app.session("ivy@example.com").await;
    let chain = refresh_chain(&app, session.refresh_token.as_deref().unwrap(), 3).await;
    let response = app
        .post("/v1/auth/token/refresh", json!({"refreshToken": chain[1]}))
        .await;
    assert_problem(response, 401, "refresh_token_reused").await;
    let response = app
        .post("/v1/auth/token/refresh", json!({"refreshToken": chain[3]}))
        .await;
    assert_problem(response, 401, "invalid_refresh_token").await;
    app.finish().await;
}

/// A session started before refresh tokens named their generation (its
/// chain in `refresh_tokens`, as migration 0012 found it) keeps rotating.
async fn sessions_started_before_generations_still_rotate(engine: Engine) {
    let app = TestApp::start_with(engine, |s| s.refresh_reuse_interval = 0).await;
    app.confirmed_user("old@example.com").await;
    let sub = app.session("old@example.com").await.user.sub;
    let legacy = "Q2hhaW5lZC1iZWZvcmUtbWlncmF0aW9uLTAwMTItb2s";
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, legacy.as_bytes());
    let token_hash: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let now = authgate_core::now_millis();
    app.store()
        .await
        .create_refresh_family(
            authgate_store::refresh::NewFamily {
                family_id: "legacy-family",
                sub: &sub,
                auth_time: now / 1000,
                token_hash: Some(&token_hash),
                expires_at: now + 3_600_000,
            },
            now,
        )
        .await
        .unwrap();
    let chain = refresh_chain(&app, legacy, 2).await;
    assert!(
        chain.iter().all(|t| !t.starts_with("ag2.")),
        "the old chain goes on in its own format: {chain:?}"
    );
    let response = app
        .post("/v1/auth/token/refresh", json!({"refreshToken": legacy}))
        .await;
    assert_problem(response, 401, "refresh_token_reused").await;
    app.finish().await;
}

async fn refresh_rotates_and_reuse_revokes_the_family(engine: Engine) {
    // Strict rotation: no retry interval (retries are in `protection`).
    let app = TestApp::start_with(engine, |s| s.refresh_reuse_interval = 0).await;
    let email = "grace@example.com";
    app.confirmed_user(email).await;
    let session = app.sign_in(email).await;
    let other_session = app.sign_in(email).await;
    let first = session["refreshToken"].clone();

    let response = app
        .post("/v1/auth/token/refresh", json!({"refreshToken": first}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let second = response.json::<Value>().await.unwrap()["refreshToken"].clone();
    assert_ne!(first, second);

    // The rotated token is presented again: reuse. The family is revoked, so
    // the token that replaced it stops working too, and so do its access tokens.
    let response = app
        .post("/v1/auth/token/refresh", json!({"refreshToken": first}))
        .await;
    assert_problem(response, 401, "refresh_token_reused").await;
    let response = app
        .post("/v1/auth/token/refresh", json!({"refreshToken": second}))
        .await;
    assert_problem(response, 401, "invalid_refresh_token").await;
    let response = app
        .get_bearer("/v1/auth/subject", session["accessToken"].as_str().unwrap())
        .await;
    assert_problem(response, 401, "token_revoked").await;

    // Another session of the same user is untouched.
    let response = app
        .post(
            "/v1/auth/token/refresh",
            json!({"refreshToken": other_session["refreshToken"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let response = app
        .post(
            "/v1/auth/token/refresh",
            json!({"refreshToken": "not-a-token"}),
        )
        .await;
    assert_problem(response, 401, "invalid_refresh_token").await;
    let response = app
        .post("/v1/auth/token/refresh", json!({"refreshToken": ""}))
        .await;
    let problem = assert_problem(response, 422, "invalid_request").await;
    assert_eq!(problem["field"], "refreshToken");
    app.finish().await;
}

async fn sign_out_ends_every_session_of_the_user(engine: Engine) {
    let app = TestApp::start(engine).await;
    app.confirmed_user("heidi@example.com").await;
    app.confirmed_user("ivan@example.com").await;
    let laptop = app.sign_in("heidi@example.com").await;
    let phone = app.sign_in("heidi@example.com").await;
    let ivan = app.sign_in("ivan@example.com").await;

    // Both tokens are valid, and remembered by the guard as verified: a
    // sign-out must end them all the same.
    for session in [&laptop, &phone] {
        let response = app
            .get_bearer("/v1/auth/subject", session["accessToken"].as_str().unwrap())
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = app.post("/v1/auth/sign-out", json!({})).await;
    assert_problem(response, 401, "missing_token").await;

    let response = app
        .post_bearer("/v1/auth/sign-out", laptop["accessToken"].as_str().unwrap())
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for session in [&laptop, &phone] {
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
    }
    // Another user is not affected.
    let response = app
        .get_bearer("/v1/auth/subject", ivan["accessToken"].as_str().unwrap())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    app.finish().await;
}

async fn forged_and_malformed_tokens_get_401(engine: Engine) {
    let app = TestApp::start(engine).await;
    app.confirmed_user("judy@example.com").await;
    let session = app.sign_in("judy@example.com").await;
    let good = claims_of(session["accessToken"].as_str().unwrap());
    let with = |patch: Value| {
        let mut claims = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    };
    let cases = [
        (with(json!({"exp": now() - 120})), "expired"),
        (with(json!({"nbf": now() + 600})), "not yet valid"),
        (with(json!({"iss": "https://evil.example.com"})), "issuer"),
        (with(json!({"client_id": "someone-else"})), "client"),
        (with(json!({"token_use": "id"})), "token_use"),
    ];
    for (claims, what) in cases {
        let token = app.sign_with_server_key(&claims).await;
        let response = app.get_bearer("/v1/auth/subject", &token).await;
        let problem = assert_problem(response, 401, "invalid_token").await;
        assert!(
            !problem["detail"].as_str().unwrap().contains(&token),
            "{what}: token echoed"
        );
    }
    // The server's own key signs a valid token: the forging helper is sound.
    let token = app.sign_with_server_key(&good).await;
    assert_eq!(
        app.get_bearer("/v1/auth/subject", &token).await.status(),
        StatusCode::OK
    );

    // The id token is not a bearer token.
    let response = app
        .get_bearer("/v1/auth/subject", session["idToken"].as_str().unwrap())
        .await;
    assert_problem(response, 401, "invalid_token").await;

    // A key the server does not know, alg none, HMAC with the public key as secret, garbage.
    let stranger =
        aws_lc_rs::signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let access = session["accessToken"].as_str().unwrap();
    let header_kid = {
        use base64::Engine as _;
        let header = access.split('.').next().unwrap();
        let header: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(header)
                .unwrap(),
        )
        .unwrap();
        header["kid"].as_str().unwrap().to_string()
    };
    let b64 = |v: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let payload = access.split('.').nth(1).unwrap();
    let mut tampered_claims = good.clone();
    tampered_claims["sub"] = json!("someone-else");
    let tampered = format!(
        "{}.{}.{}",
        access.split('.').next().unwrap(),
        b64(&tampered_claims),
        access.split('.').nth(2).unwrap()
    );
    let bad_tokens = vec![
        common::sign_rs256(&stranger, "unknown-kid", &good),
        common::sign_rs256(&stranger, &header_kid, &good),
        format!("{}.{payload}.", b64(&json!({"alg": "none", "typ": "JWT"}))),
        format!(
            "{}.{payload}.c2lnbmF0dXJl",
            b64(&json!({"alg": "HS256", "typ": "JWT", "kid": header_kid}))
        ),
        tampered,
        "garbage".to_string(),
        "a.b.c".to_string(),
        "...".to_string(),
        "x".repeat(10_000),
    ];
    for token in bad_tokens {
        let response = app.get_bearer("/v1/auth/subject", &token).await;
        assert_problem(response, 401, "invalid_token").await;
    }
    let response = app
        .client
        .get(app.url("/v1/auth/subject"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "missing_token").await;
    app.finish().await;
}

async fn subject_is_created_once_under_concurrent_first_calls(engine: Engine) {
    let app = TestApp::start(engine).await;
    app.confirmed_user("ken@example.com").await;
    let session = app.sign_in("ken@example.com").await;
    let sub = session["user"]["sub"].as_str().unwrap().to_string();
    // Forget the app user so that the next calls are all "first".
    let pool = app.db.pool().await;
    sqlx::query("DELETE FROM app_users WHERE provider_sub = $1")
        .bind(&sub)
        .execute(&pool)
        .await
        .unwrap();
    let access = session["accessToken"].as_str().unwrap().to_string();
    let calls = (0..12).map(|_| {
        let client = app.client.clone();
        let url = app.url("/v1/auth/subject");
        let access = access.clone();
        tokio::spawn(async move {
            let response = client.get(url).bearer_auth(access).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()["user"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
    });
    let mut ids = Vec::new();
    for call in calls {
        ids.push(call.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "different app users: {ids:?}");
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM app_users WHERE provider_sub = $1")
        .bind(&sub)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
    pool.close().await;
    app.finish().await;
}

async fn malformed_bodies_get_problem_answers(engine: Engine) {
    let app = TestApp::start(engine).await;
    let post_raw = |body: Vec<u8>, content_type: &'static str| {
        app.client
            .post(app.url("/v1/auth/sign-up"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let response = post_raw(b"{\"email\": ".to_vec(), "application/json")
        .await
        .unwrap();
    assert_problem(response, 400, "malformed_json").await;
    let response = post_raw(b"not json at all".to_vec(), "application/json")
        .await
        .unwrap();
    assert_problem(response, 400, "malformed_json").await;
    let response = post_raw(b"[1,2,3]".to_vec(), "application/json")
        .await
        .unwrap();
    assert_problem(response, 422, "invalid_request").await;
    let response = post_raw(b"email=a".to_vec(), "application/x-www-form-urlencoded")
        .await
        .unwrap();
    assert_problem(response, 422, "invalid_request").await;

    let mut big = b"{\"email\":\"big@example.com\",\"password\":\"".to_vec();
    big.extend(std::iter::repeat_n(b'A', 1024 * 1024 + 10));
    big.extend(b"\"}");
    let response = post_raw(big, "application/json").await.unwrap();
    assert_problem(response, 413, "payload_too_large").await;
    // The oversized request wrote nothing.
    assert_eq!(
        app.sign_up("big@example.com").await.status(),
        StatusCode::CREATED
    );

    let response = app.get("/v1/no-such-route").await;
    assert_problem(response, 404, "not_found").await;
    let response = app
        .client
        .delete(app.url("/v1/auth/sign-in"))
        .send()
        .await
        .unwrap();
    assert_problem(response, 405, "method_not_allowed").await;
    app.finish().await;
}

async fn public_endpoints_are_rate_limited(engine: Engine) {
    let app = TestApp::start_with(engine, |s| s.rate_limits = "sign-in=3/60s".into()).await;
    let attempt = || {
        app.post(
            "/v1/auth/sign-in",
            json!({"email": "x@example.com", "password": "Wrong-Password-1"}),
        )
    };
    for _ in 0..3 {
        assert_eq!(attempt().await.status(), StatusCode::UNAUTHORIZED);
    }
    let response = attempt().await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    assert_problem(response, 429, "rate_limited").await;
    // Operations endpoints are not limited.
    assert_eq!(app.get("/health/live").await.status(), StatusCode::OK);
    app.finish().await;
}

async fn operations_endpoints(engine: Engine) {
    let app = TestApp::start(engine).await;
    let live: Value = app.get("/health/live").await.json().await.unwrap();
    assert_eq!(live["status"], "ok");
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), StatusCode::OK);

    // Request ids: generated and echoed; a client's own is replaced (only a
    // trusted proxy names it, see tests/security.rs).
    let response = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "req-123")
        .send()
        .await
        .unwrap();
    let generated = response.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");
    let response = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "req-456")
        .send()
        .await
        .unwrap();
    let echoed = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(echoed, "req-456");
    let problem = assert_problem(response, 404, "not_found").await;
    assert_eq!(problem["requestId"], echoed.as_str());

    let discovery: Value = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(discovery["issuer"], app.base.as_str());
    assert_eq!(
        discovery["jwks_uri"],
        format!("{}/.well-known/jwks.json", app.base)
    );
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    // New installations sign with ES256 (P-256).
    let key = &jwks["keys"][0];
    assert_eq!(
        (&key["kty"], &key["crv"], &key["alg"]),
        (&json!("EC"), &json!("P-256"), &json!("ES256"))
    );
    assert!(key["kid"].is_string() && key["x"].is_string() && key["y"].is_string());
    assert!(key.get("d").is_none(), "private part published");
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );

    let openapi: Value = app.get("/openapi.json").await.json().await.unwrap();
    let paths = openapi["paths"].as_object().unwrap();
    for path in [
        "/v1/auth/sign-up",
        "/v1/auth/sign-up/confirm",
        "/v1/auth/sign-up/resend-confirmation",
        "/v1/auth/sign-in",
        "/v1/auth/token/refresh",
        "/v1/auth/sign-out",
        "/v1/auth/subject",
        "/v1/auth/challenges/new-password",
        "/v1/auth/challenges/totp",
        "/v1/auth/challenges/mfa-setup",
        "/v1/auth/mfa/totp",
        "/v1/auth/mfa/totp/verify",
        "/v1/auth/password-resets",
        "/v1/auth/password-resets/confirm",
        "/v1/auth/password",
        "/v1/auth/password-verifications",
        "/v1/auth/account-recovery/identifier",
        "/v1/auth/mfa-reset/start",
        "/v1/auth/mfa-reset/verify",
        "/v1/auth/mfa-reset/confirm",
        "/v1/admin/audit-events",
        "/v1/admin/users",
        "/v1/admin/users/{id}",
        "/v1/admin/users/{id}/disable",
        "/v1/admin/users/{id}/enable",
        "/v1/admin/users/{id}/reset-password",
        "/v1/auth/authorization-catalog",
        "/v1/tenants",
        "/v1/tenants/{id}",
        "/v1/tenants/{id}/members",
        "/v1/tenants/{id}/members/{userId}",
        "/v1/tenants/{id}/invitations/{email}",
        "/v1/admin/roles",
        "/v1/admin/users/{id}/platform-role",
        "/v1/admin/clients",
        "/v1/admin/clients/{id}",
        "/v1/admin/roles/{key}",
        "/v1/admin/policies",
        "/v1/admin/policies/{id}",
        "/v1/authz/check",
        "/v1/authz/forward",
        "/v1/auth/mfa/recovery-codes",
        "/v1/auth/identities",
        "/v1/auth/identities/{id}",
        "/oauth2/token",
        "/oauth2/jwks.json",
        "/health/live",
        "/health/ready",
        "/metrics",
        "/openapi.json",
        "/.well-known/openid-configuration",
        "/.well-known/jwks.json",
    ] {
        assert!(paths.contains_key(path), "{path} missing from OpenAPI");
    }
    assert!(openapi["components"]["schemas"]["Problem"].is_object());
    // Every native refusal is documented as problem+json; a bearer route
    // documents 401, a route with a body its 400/413/422.
    let subject = &paths["/v1/auth/subject"]["get"]["responses"];
    assert!(
        subject["401"]["content"]["application/problem+json"].is_object(),
        "{subject}"
    );
    let sign_in = &paths["/v1/auth/sign-in"]["post"]["responses"];
    for status in ["400", "413", "422"] {
        assert!(
            sign_in[status]["content"]["application/problem+json"].is_object(),
            "{status}: {sign_in}"
        );
        assert!(sign_in[status]["content"].get("application/json").is_none());
    }
    // What the server enforces is in the request schemas, and parameters
    // are where the server reads them (each found wrong by schemathesis).
    let schema = |name: &str| &openapi["components"]["schemas"][name];
    let cases = [
        (
            &schema("SignInBody")["properties"]["email"]["format"],
            json!("email"),
        ),
        (
            &schema("SignInBody")["properties"]["password"]["minLength"],
            json!(1),
        ),
        (
            &schema("TokenForm")["properties"]["grant_type"]["$ref"],
            json!("#/components/schemas/GrantType"),
        ),
        (&schema("RevokeForm")["required"], json!(["token"])),
        (
            &schema("SignInBody")["properties"]["email"]["example"],
            json!("ada@example.com"),
        ),
        (
            &paths["/v1/auth/sign-in"]["post"]["responses"]["200"]["links"]["refresh"]["requestBody"],
            json!({"refreshToken": "$response.body#/refreshToken"}),
        ),
        (
            &paths["/oauth2/revoke"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
                ["schema"]["$ref"],
            json!("#/components/schemas/RevokeForm"),
        ),
        (
            &paths["/oauth2/userInfo"]["post"]["security"],
            json!([{"bearer": []}]),
        ),
        (
            &paths["/v1/admin/roles/{key}"]["get"]["parameters"][1]["in"],
            json!("query"),
        ),
        (
            &paths["/v1/auth/sign-in"]["post"]["responses"]["429"]["headers"]["Retry-After"]["schema"]
                ["type"],
            json!("integer"),
        ),
        (
            &paths["/oauth2/token"]["post"]["responses"]["429"]["content"]["application/json"]["schema"]
                ["$ref"],
            json!("#/components/schemas/OAuthError"),
        ),
    ];
    for (found, expected) in cases {
        assert_eq!(found, &expected);
    }

    // Metrics count requests by route and status, and auth events by kind and reason.
    app.post(
        "/v1/auth/sign-in",
        json!({"email": "m@example.com", "password": "Wrong-Password-1"}),
    )
    .await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("authgate_http_requests_total")
                && l.contains("route=\"/v1/auth/sign-in\"")
                && l.contains("status=\"401\"")),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("authgate_auth_events_total")
                && l.contains("kind=\"sign_in\"")
                && l.contains("reason=\"invalid_credentials\"")),
        "{metrics}"
    );
    app.finish().await;
}

async fn audit_trail_explains_failures_without_secrets(engine: Engine) {
    let app = TestApp::start_with(engine, |s| s.refresh_reuse_interval = 0).await;
    let email = "leo@example.com";
    app.sign_up(email).await;
    let code = app.smtp.code(email, 0).await;
    app.post(
        "/v1/auth/sign-up/confirm",
        json!({"email": email, "code": code}),
    )
    .await;
    app.post(
        "/v1/auth/sign-in",
        json!({"email": email, "password": "Wrong-Password-1"}),
    )
    .await;
    let session = app.sign_in(email).await;
    let refresh = session["refreshToken"].as_str().unwrap();
    app.post("/v1/auth/token/refresh", json!({"refreshToken": refresh}))
        .await;
    app.post("/v1/auth/token/refresh", json!({"refreshToken": refresh}))
        .await;

    // Audit rows are written in the background: wait for the last event.
    let rows = app
        .audit_rows_once(|r| r.reason.as_deref() == Some("refresh_token_reused"))
        .await;
    let expect = |kind: &str, outcome: &str, reason: Option<&str>| {
        assert!(
            rows.iter()
                .any(|r| r.kind == kind && r.outcome == outcome && r.reason.as_deref() == reason),
            "no {kind}/{outcome}/{reason:?} in {rows:?}"
        );
    };
    expect("sign_up", "success", None);
    expect("sign_up_confirm", "success", None);
    expect("sign_in", "failure", Some("invalid_credentials"));
    expect("sign_in", "success", None);
    expect("refresh", "success", None);
    expect("refresh", "failure", Some("refresh_token_reused"));
    assert!(
        rows.iter()
            .all(|r| r.request_id.as_deref().is_some_and(|id| !id.is_empty())),
        "request ids missing"
    );
    let failed_sign_in = rows
        .iter()
        .find(|r| r.kind == "sign_in" && r.outcome == "failure")
        .unwrap();
    assert_eq!(failed_sign_in.email.as_deref(), Some(email));

    let everything = format!("{rows:?}");
    for secret in [
        PASSWORD,
        "Wrong-Password-1",
        code.as_str(),
        refresh,
        session["accessToken"].as_str().unwrap(),
        session["idToken"].as_str().unwrap(),
    ] {
        assert!(
            !everything.contains(secret),
            "a secret reached the audit trail"
        );
    }
    app.finish().await;
}

async fn rotated_keys_keep_old_tokens_valid(engine: Engine) {
    let app = TestApp::start_with(engine, |s| s.key_reload_interval = 1).await;
    app.confirmed_user("mia@example.com").await;
    let before = app.sign_in("mia@example.com").await;
    let old_kid = jwt_kid(before["accessToken"].as_str().unwrap());

    let store = app.store().await;
    // The operator switches algorithm at the rotation (ES256 to RS256).
    let new_kid = authgate_embedded::keys::generate_and_store(
        &store,
        authgate_embedded::keys::SigningAlg::RS256,
    )
    .await
    .unwrap();
    store.close().await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;

    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()),
        "{kids:?}"
    );

    let after = app.sign_in("mia@example.com").await;
    assert_eq!(jwt_kid(after["accessToken"].as_str().unwrap()), new_kid);
    assert_eq!(
        jwt_header(after["idToken"].as_str().unwrap())["alg"],
        "RS256"
    );
    assert_eq!(
        jwt_header(before["accessToken"].as_str().unwrap())["alg"],
        "ES256"
    );
    let discovery: Value = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256"]),
        "both published, the signing key's first"
    );
    for session in [&before, &after] {
        let response = app
            .get_bearer("/v1/auth/subject", session["accessToken"].as_str().unwrap())
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    app.finish().await;
}

fn jwt_kid(token: &str) -> String {
    jwt_header(token)["kid"].as_str().unwrap().to_string()
}

fn jwt_header(token: &str) -> Value {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap()
}
