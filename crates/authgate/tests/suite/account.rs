//! TOTP MFA and passwords on the embedded provider, through HTTP, on SQLite
//! and PostgreSQL: enrolment for a signed-in user, TOTP_REQUIRED and
//! MFA_SETUP_REQUIRED challenges (single use, bound to the user, a few tries,
//! replayed codes refused), MFA off, password reset by mailed code, password
//! change and re-verification.

use crate::common::{Engine, PASSWORD, TestApp, assert_problem, now, totp_at};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_engines!(
    totp_enrolment_then_sign_in_asks_for_a_code_accepted_once,
    mfa_required_enrols_inside_the_sign_in,
    challenge_sessions_are_bound_single_use_and_limited,
    mfa_off_refuses_enrolment,
    expired_challenge_sessions_are_refused,
    password_reset_by_mailed_code,
    password_change_keeps_this_session_and_ends_the_others,
    password_reverification,
    identifier_recovery_by_phone_reveals_nothing,
    lost_authenticator_is_replaced_with_code_and_password,
);

async fn lost_authenticator_is_replaced_with_code_and_password(engine: Engine) {
    let app = TestApp::start(engine).await;
    let email = "lou@example.com";
    app.confirmed_user(email).await;
    let session = app.sign_in(email).await;
    let old_secret = enrol(&app, session["accessToken"].as_str().unwrap()).await;

    let start = |who: &str| app.post("/v1/auth/mfa-reset/start", json!({"email": who}));
    let known: Value = start(email).await.json().await.unwrap();
    let unknown_response = start("ghost@example.com").await;
    assert_eq!(unknown_response.status(), StatusCode::OK);
    let unknown: Value = unknown_response.json().await.unwrap();
    assert!(known["session"].is_string() && unknown["session"].is_string());
    assert_eq!(app.smtp.count_settled("ghost@example.com").await, 0);
    let code = app.smtp.code(email, 1).await;

    let verify = |session: &Value, code: &str, password: &str| {
        app.post(
            "/v1/auth/mfa-reset/verify",
            json!({"email": email, "session": session, "code": code, "password": password}),
        )
    };
    let response = app
        .post(
            "/v1/auth/mfa-reset/verify",
            json!({"email": "ghost@example.com", "session": unknown["session"], "code": code, "password": PASSWORD}),
        )
        .await;
    // An unknown address answers like a known one with a wrong code.
    assert_problem(response, 400, "code_mismatch").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_problem(
        verify(&known["session"], wrong, PASSWORD).await,
        400,
        "code_mismatch",
    )
    .await;
    assert_problem(
        verify(&known["session"], &code, "Wrong-Password-123").await,
        401,
        "invalid_credentials",
    )
    .await;
    let response = verify(&known["session"], &code, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let recovery: Value = response.json().await.unwrap();
    let new_secret = recovery["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, old_secret);
    let recovery_token = recovery["accessToken"].as_str().unwrap().to_string();
    // Recovery-only: not a bearer token, and the session cannot be verified twice.
    assert_problem(
        app.get_bearer("/v1/auth/subject", &recovery_token).await,
        401,
        "invalid_token",
    )
    .await;
    assert_problem(
        verify(&known["session"], &code, PASSWORD).await,
        401,
        "invalid_session",
    )
    .await;

    let confirm = |token: &str, code: String| {
        app.post(
            "/v1/auth/mfa-reset/confirm",
            json!({"accessToken": token, "code": code}),
        )
    };
    assert_problem(
        confirm(&recovery_token, totp_at(&old_secret, now())).await,
        400,
        "code_mismatch",
    )
    .await;
    let response = confirm(&recovery_token, totp_at(&new_secret, now())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["mfaReset"], true);
    assert_problem(
        confirm(&recovery_token, totp_at(&new_secret, now())).await,
        401,
        "invalid_token",
    )
    .await;

    // Every earlier session ended; only the new authenticator signs in.
    let response = app
        .get_bearer("/v1/auth/subject", session["accessToken"].as_str().unwrap())
        .await;
    assert_problem(response, 401, "token_revoked").await;
    let challenge = sign_in_step(&app, email, PASSWORD).await;
    assert_eq!(challenge["challenge"], "TOTP_REQUIRED");
    let response = totp_challenge(
        &app,
        email,
        &challenge["session"],
        &totp_at(&old_secret, now() + 30),
    )
    .await;
    assert_problem(response, 400, "code_mismatch").await;
    let response = totp_challenge(
        &app,
        email,
        &challenge["session"],
        &totp_at(&new_secret, now() + 30),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);

    // Each step is in the audit trail.
    let rows = app.audit_rows_once(|r| r.kind == "mfa_reset_confirm").await;
    for kind in ["mfa_reset_start", "mfa_reset_verify", "mfa_reset_confirm"] {
        assert!(
            rows.iter()
                .any(|r| r.kind == kind && r.outcome == "success"),
            "{kind} not audited: {rows:?}"
        );
    }
    app.finish().await;
}

async fn identifier_recovery_by_phone_reveals_nothing(engine: Engine) {
    let app = TestApp::start(engine).await;
    let email = "pia@example.com";
    let response = app
        .post(
            "/v1/auth/sign-up",
            json!({"email": email, "password": PASSWORD, "phone": "+1 (555) 010-0100"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // Mail goes out in the background: let the sign-up code arrive first, so
    // the next message to this address is the identifier.
    app.smtp.code(email, 0).await;
    let recover = |phone: &str| {
        app.post(
            "/v1/auth/account-recovery/identifier",
            json!({"phone": phone}),
        )
    };
    let known = recover("+15550100100").await;
    let unknown = recover("+15550100999").await;
    assert_eq!(known.status(), StatusCode::ACCEPTED);
    assert_eq!(unknown.status(), StatusCode::ACCEPTED);
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());
    // Message 0 was the sign-up code; message 1 names the identifier.
    let mut mailed = None;
    for _ in 0..100 {
        if let Some(message) = app.smtp.messages_to(email).get(1) {
            mailed = Some(message.data.clone());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mailed = mailed.expect("the identifier is mailed to the address on file");
    assert!(
        mailed.contains(&format!("Sign-in identifier: {email}")),
        "{mailed}"
    );
    assert_eq!(app.smtp.count_settled(email).await, 2);
    let problem = assert_problem(recover("call me").await, 422, "invalid_request").await;
    assert_eq!(problem["field"], "phone");
    let problem = assert_problem(
        app.post(
            "/v1/auth/sign-up",
            json!({"email": "q@example.com", "password": PASSWORD, "phone": "12"}),
        )
        .await,
        422,
        "invalid_request",
    )
    .await;
    assert_eq!(problem["field"], "phone");
    app.finish().await;
}

async fn enrol(app: &TestApp, access: &str) -> String {
    let response = app.post_bearer("/v1/auth/mfa/totp", access).await;
    assert_eq!(response.status(), StatusCode::OK);
    let enrolment: Value = response.json().await.unwrap();
    let secret = enrolment["secret"].as_str().unwrap().to_string();
    assert!(
        enrolment["otpauthUri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/authgate:")
    );
    let response = app
        .client
        .post(app.url("/v1/auth/mfa/totp/verify"))
        .bearer_auth(access)
        .json(&json!({"code": totp_at(&secret, now())}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["mfaEnabled"], true);
    secret
}

async fn sign_in_step(app: &TestApp, email: &str, password: &str) -> Value {
    let response = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": email, "password": password}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn totp_challenge(
    app: &TestApp,
    email: &str,
    session: &Value,
    code: &str,
) -> reqwest::Response {
    app.post(
        "/v1/auth/challenges/totp",
        json!({"email": email, "session": session, "code": code}),
    )
    .await
}

async fn totp_enrolment_then_sign_in_asks_for_a_code_accepted_once(engine: Engine) {
    let app = TestApp::start(engine).await;
    let email = "ann@example.com";
    app.confirmed_user(email).await;
    let session = app.sign_in(email).await;
    let access = session["accessToken"].as_str().unwrap();

    // A wrong code does not enrol.
    let response = app.post_bearer("/v1/auth/mfa/totp", access).await;
    let pending: Value = response.json().await.unwrap();
    let wrong = if totp_at(pending["secret"].as_str().unwrap(), now()) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let response = app
        .client
        .post(app.url("/v1/auth/mfa/totp/verify"))
        .bearer_auth(access)
        .json(&json!({"code": wrong}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "code_mismatch").await;
    assert!(sign_in_step(&app, email, PASSWORD).await["accessToken"].is_string());

    let secret = enrol(&app, access).await;
    let challenge = sign_in_step(&app, email, PASSWORD).await;
    assert_eq!(challenge["challenge"], "TOTP_REQUIRED");
    assert!(challenge.get("accessToken").is_none());

    // The enrolment used this step's code; the next step's is accepted (±1 step).
    let code = totp_at(&secret, now() + 30);
    let response = totp_challenge(&app, email, &challenge["session"], &code).await;
    assert_eq!(response.status(), StatusCode::OK);
    let signed_in: Value = response.json().await.unwrap();
    assert!(signed_in["accessToken"].is_string());

    // The same code again, in a fresh challenge: replay refused.
    let again = sign_in_step(&app, email, PASSWORD).await;
    let response = totp_challenge(&app, email, &again["session"], &code).await;
    assert_problem(response, 400, "code_mismatch").await;
    // A code from two steps ago is outside the window.
    let response = totp_challenge(
        &app,
        email,
        &again["session"],
        &totp_at(&secret, now() - 90),
    )
    .await;
    assert_problem(response, 400, "code_mismatch").await;
    app.finish().await;
}

async fn mfa_required_enrols_inside_the_sign_in(engine: Engine) {
    let app = TestApp::start_with(engine, |s| {
        s.mfa = authgate_service::settings::MfaMode::Required
    })
    .await;
    let email = "ben@example.com";
    app.confirmed_user(email).await;
    let setup = sign_in_step(&app, email, PASSWORD).await;
    assert_eq!(setup["challenge"], "MFA_SETUP_REQUIRED");
    let secret = setup["parameters"]["secret"].as_str().unwrap().to_string();
    assert!(
        setup["parameters"]["otpauthUri"]
            .as_str()
            .unwrap()
            .contains(&secret)
    );

    let response = app
        .post(
            "/v1/auth/challenges/mfa-setup",
            json!({"email": email, "session": setup["session"], "code": "abcdef"}),
        )
        .await;
    assert_problem(response, 400, "code_mismatch").await;
    let response = app
        .post(
            "/v1/auth/challenges/mfa-setup",
            json!({"email": email, "session": setup["session"], "code": totp_at(&secret, now())}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let session: Value = response.json().await.unwrap();
    let response = app
        .get_bearer("/v1/auth/subject", session["accessToken"].as_str().unwrap())
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    // Enrolled now: the next sign-in asks for a code of the same authenticator.
    let next = sign_in_step(&app, email, PASSWORD).await;
    assert_eq!(next["challenge"], "TOTP_REQUIRED");
    let response =
        totp_challenge(&app, email, &next["session"], &totp_at(&secret, now() + 30)).await;
    assert_eq!(response.status(), StatusCode::OK);
    app.finish().await;
}

async fn challenge_sessions_are_bound_single_use_and_limited(engine: Engine) {
    let app = TestApp::start(engine).await;
    app.confirmed_user("cat@example.com").await;
    app.confirmed_user("dan@example.com").await;
    let session = app.sign_in("cat@example.com").await;
    let secret = enrol(&app, session["accessToken"].as_str().unwrap()).await;

    // Bound to its user: another email cannot answer it, and trying destroys it.
    let challenge = sign_in_step(&app, "cat@example.com", PASSWORD).await;
    let code = totp_at(&secret, now() + 30);
    let response = totp_challenge(&app, "dan@example.com", &challenge["session"], &code).await;
    assert_problem(response, 401, "invalid_session").await;
    let response = totp_challenge(&app, "cat@example.com", &challenge["session"], &code).await;
    assert_problem(response, 401, "invalid_session").await;
    // Bound to its kind: the MFA setup endpoint refuses it.
    let challenge = sign_in_step(&app, "cat@example.com", PASSWORD).await;
    let response = app
        .post(
            "/v1/auth/challenges/mfa-setup",
            json!({"email": "cat@example.com", "session": challenge["session"], "code": code}),
        )
        .await;
    assert_problem(response, 401, "invalid_session").await;

    // Single use: after a success the session cannot be answered again.
    let challenge = sign_in_step(&app, "cat@example.com", PASSWORD).await;
    let response = totp_challenge(&app, "cat@example.com", &challenge["session"], &code).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = totp_challenge(&app, "cat@example.com", &challenge["session"], &code).await;
    assert_problem(response, 401, "invalid_session").await;

    // Wrong codes use the session up.
    let challenge = sign_in_step(&app, "cat@example.com", PASSWORD).await;
    for _ in 0..3 {
        let response =
            totp_challenge(&app, "cat@example.com", &challenge["session"], "000001").await;
        assert_problem(response, 400, "code_mismatch").await;
    }
    let response = totp_challenge(
        &app,
        "cat@example.com",
        &challenge["session"],
        &totp_at(&secret, now()),
    )
    .await;
    assert_problem(response, 401, "invalid_session").await;
    app.finish().await;
}

async fn expired_challenge_sessions_are_refused(engine: Engine) {
    let app = TestApp::start_with(engine, |s| s.challenge_ttl = 1).await;
    app.confirmed_user("ivy@example.com").await;
    let session = app.sign_in("ivy@example.com").await;
    let secret = enrol(&app, session["accessToken"].as_str().unwrap()).await;
    let challenge = sign_in_step(&app, "ivy@example.com", PASSWORD).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let code = totp_at(&secret, now() + 30);
    let response = totp_challenge(&app, "ivy@example.com", &challenge["session"], &code).await;
    assert_problem(response, 401, "invalid_session").await;
    app.finish().await;
}

async fn mfa_off_refuses_enrolment(engine: Engine) {
    let app =
        TestApp::start_with(engine, |s| s.mfa = authgate_service::settings::MfaMode::Off).await;
    app.confirmed_user("eve@example.com").await;
    let session = app.sign_in("eve@example.com").await;
    let response = app
        .post_bearer(
            "/v1/auth/mfa/totp",
            session["accessToken"].as_str().unwrap(),
        )
        .await;
    assert_problem(response, 403, "mfa_disabled").await;
    app.finish().await;
}

async fn password_reset_by_mailed_code(engine: Engine) {
    let app = TestApp::start(engine).await;
    let email = "fay@example.com";
    app.confirmed_user(email).await;
    let before = app.sign_in(email).await;

    let known = app
        .post("/v1/auth/password-resets", json!({"email": email}))
        .await;
    let unknown = app
        .post(
            "/v1/auth/password-resets",
            json!({"email": "ghost@example.com"}),
        )
        .await;
    assert_eq!(known.status(), StatusCode::ACCEPTED);
    assert_eq!(unknown.status(), StatusCode::ACCEPTED);
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(app.smtp.count_settled("ghost@example.com").await, 0);
    // Message 0 was the sign-up code; message 1 is the reset code.
    let code = app.smtp.code(email, 1).await;
    let new_password = "Another-Horse-77?";
    let confirm = |code: &str, password: &str| {
        app.post(
            "/v1/auth/password-resets/confirm",
            json!({"email": email, "code": code, "newPassword": password}),
        )
    };
    let problem = assert_problem(confirm(&code, "weak").await, 422, "invalid_request").await;
    assert_eq!(problem["field"], "newPassword");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_problem(confirm(wrong, new_password).await, 400, "code_mismatch").await;
    let response = app
        .post(
            "/v1/auth/password-resets/confirm",
            json!({"email": "ghost@example.com", "code": code, "newPassword": new_password}),
        )
        .await;
    assert_problem(response, 400, "code_mismatch").await;
    let response = confirm(&code, new_password).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap()["passwordReset"],
        true
    );
    // Single use.
    assert_problem(confirm(&code, new_password).await, 400, "code_expired").await;

    let response = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_problem(response, 401, "invalid_credentials").await;
    let response = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": email, "password": new_password}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // Sessions from before the reset are over.
    let response = app
        .post(
            "/v1/auth/token/refresh",
            json!({"refreshToken": before["refreshToken"]}),
        )
        .await;
    assert_problem(response, 401, "invalid_refresh_token").await;
    app.finish().await;
}

async fn password_change_keeps_this_session_and_ends_the_others(engine: Engine) {
    let app = TestApp::start(engine).await;
    let email = "gus@example.com";
    app.confirmed_user(email).await;
    let here = app.sign_in(email).await;
    let elsewhere = app.sign_in(email).await;
    let access = here["accessToken"].as_str().unwrap();
    let change = |current: &str, new: &str| {
        app.client
            .patch(app.url("/v1/auth/password"))
            .bearer_auth(access)
            .json(&json!({"currentPassword": current, "newPassword": new}))
            .send()
    };
    assert_problem(
        change("Wrong-Password-123", "Another-Horse-77?")
            .await
            .unwrap(),
        401,
        "invalid_credentials",
    )
    .await;
    let problem = assert_problem(
        change(PASSWORD, "weak").await.unwrap(),
        422,
        "invalid_request",
    )
    .await;
    assert_eq!(problem["field"], "newPassword");
    let response = change(PASSWORD, "Another-Horse-77?").await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    assert_eq!(
        app.get_bearer("/v1/auth/subject", access).await.status(),
        StatusCode::OK
    );
    let response = app
        .post(
            "/v1/auth/token/refresh",
            json!({"refreshToken": here["refreshToken"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .get_bearer(
            "/v1/auth/subject",
            elsewhere["accessToken"].as_str().unwrap(),
        )
        .await;
    assert_problem(response, 401, "token_revoked").await;
    let response = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": email, "password": "Another-Horse-77?"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    app.finish().await;
}

async fn password_reverification(engine: Engine) {
    let app = TestApp::start(engine).await;
    app.confirmed_user("hal@example.com").await;
    let session = app.sign_in("hal@example.com").await;
    let access = session["accessToken"].as_str().unwrap();
    let verify = |password: &str| {
        app.client
            .post(app.url("/v1/auth/password-verifications"))
            .bearer_auth(access)
            .json(&json!({"password": password}))
            .send()
    };
    assert_problem(
        verify("Wrong-Password-123").await.unwrap(),
        401,
        "invalid_credentials",
    )
    .await;
    let response = verify(PASSWORD).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["verified"], true);
    assert!(body["verifiedUntil"].as_str().unwrap().ends_with('Z'));
    let response = app
        .post(
            "/v1/auth/password-verifications",
            json!({"password": PASSWORD}),
        )
        .await;
    assert_problem(response, 401, "missing_token").await;
    app.finish().await;
}
