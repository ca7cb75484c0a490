//! TOTP MFA and passwords on the embedded provider, through HTTP, on SQLite
//! and PostgreSQL: enrolment for a signed-in user, TOTP_REQUIRED and
//! MFA_SETUP_REQUIRED challenges (single use, bound to the user, a few tries,
//! replayed codes refused), MFA off, password reset by mailed code, password
//! change and re-verification, identifier recovery, and the
//! lost-authenticator reset. Written on the typed client (`common::api`).

use crate::common::api::{SignInOutcome, refused};
use crate::common::{Engine, PASSWORD, TestApp, now, other_code, totp_at};
use authgate_service::settings::MfaMode;

on_both_engines!(
    totp_enrolment_then_sign_in_asks_for_a_code_accepted_once,
    mfa_required_enrols_inside_the_sign_in,
    challenge_sessions_are_bound_to_their_user_and_kind,
    challenge_sessions_are_single_use_and_limited,
    mfa_off_refuses_enrolment,
    expired_challenge_sessions_are_refused,
    password_reset_by_mailed_code,
    password_change_keeps_this_session_and_ends_the_others,
    password_reverification,
    identifier_recovery_by_phone_reveals_nothing,
    lost_authenticator_reset_answers_strangers_like_wrong_codes,
    lost_authenticator_is_replaced_with_code_and_password,
);

const NEW_PASSWORD: &str = "Another-Horse-77?";

async fn totp_enrolment_then_sign_in_asks_for_a_code_accepted_once(engine: Engine) {
    let app = TestApp::start(engine).await;
    let api = app.api();
    let email = "ann@example.com";
    app.confirmed_user(email).await;
    let access = app.session(email).await.access_token;

    // A wrong code does not enrol.
    let pending = api.begin_totp(&access).await.unwrap();
    let wrong = other_code(&totp_at(&pending.secret, now()));
    refused(
        api.verify_totp(&access, wrong, None).await,
        400,
        "code_mismatch",
    );
    api.sign_in(email, PASSWORD).await.session();

    let secret = app.enrol_totp(&access).await.secret;
    let challenge = api
        .sign_in(email, PASSWORD)
        .await
        .challenge("TOTP_REQUIRED");

    // The enrolment used this step's code; the next step's is accepted (±1 step).
    let code = totp_at(&secret, now() + 30);
    api.answer_totp(email, &challenge.session, &code)
        .await
        .session();

    // The same code again, in a fresh challenge: replay refused.
    let again = api
        .sign_in(email, PASSWORD)
        .await
        .challenge("TOTP_REQUIRED");
    refused(
        api.answer_totp(email, &again.session, &code).await,
        400,
        "code_mismatch",
    );
    // A code from two steps ago is outside the window.
    refused(
        api.answer_totp(email, &again.session, &totp_at(&secret, now() - 90))
            .await,
        400,
        "code_mismatch",
    );
    app.finish().await;
}

async fn mfa_required_enrols_inside_the_sign_in(engine: Engine) {
    let app = TestApp::start_with(engine, |s| s.mfa = MfaMode::Required).await;
    let api = app.api();
    let email = "ben@example.com";
    app.confirmed_user(email).await;
    let setup = api
        .sign_in(email, PASSWORD)
        .await
        .challenge("MFA_SETUP_REQUIRED");
    let secret = setup.parameters["secret"].clone();
    assert!(setup.parameters["otpauthUri"].contains(&secret));

    refused(
        api.answer_mfa_setup(email, &setup.session, "abcdef").await,
        400,
        "code_mismatch",
    );
    let session = api
        .answer_mfa_setup(email, &setup.session, &totp_at(&secret, now()))
        .await
        .session();
    assert_eq!(
        session.recovery_codes.len(),
        10,
        "codes come with the authenticator"
    );
    api.subject(&session.access_token).await.unwrap();

    // Enrolled now: the next sign-in asks for a code of the same authenticator.
    let next = api
        .sign_in(email, PASSWORD)
        .await
        .challenge("TOTP_REQUIRED");
    api.answer_totp(email, &next.session, &totp_at(&secret, now() + 30))
        .await
        .session();
    app.finish().await;
}

/// A user with an authenticator: its secret and a code the next sign-in accepts.
async fn enrolled(app: &TestApp, email: &str) -> (String, String) {
    app.confirmed_user(email).await;
    let access = app.session(email).await.access_token;
    let secret = app.enrol_totp(&access).await.secret;
    let code = totp_at(&secret, now() + 30);
    (secret, code)
}

async fn challenge_sessions_are_bound_to_their_user_and_kind(engine: Engine) {
    let app = TestApp::start(engine).await;
    let api = app.api();
    let (_, code) = enrolled(&app, "cat@example.com").await;
    app.confirmed_user("dan@example.com").await;

    // Bound to its user: another email cannot answer it, and trying ends it.
    let challenge = api
        .sign_in("cat@example.com", PASSWORD)
        .await
        .challenge("TOTP_REQUIRED");
    for email in ["dan@example.com", "cat@example.com"] {
        refused(
            api.answer_totp(email, &challenge.session, &code).await,
            401,
            "invalid_session",
        );
    }
    // Bound to its kind: the MFA set-up endpoint refuses it.
    let challenge = api
        .sign_in("cat@example.com", PASSWORD)
        .await
        .challenge("TOTP_REQUIRED");
    refused(
        api.answer_mfa_setup("cat@example.com", &challenge.session, &code)
            .await,
        401,
        "invalid_session",
    );
    app.finish().await;
}

async fn challenge_sessions_are_single_use_and_limited(engine: Engine) {
    let app = TestApp::start(engine).await;
    let api = app.api();
    let email = "cat@example.com";
    let (secret, code) = enrolled(&app, email).await;

    // Single use: after a success the session cannot be answered again.
    let challenge = api
        .sign_in(email, PASSWORD)
        .await
        .challenge("TOTP_REQUIRED");
    api.answer_totp(email, &challenge.session, &code)
        .await
        .session();
    refused(
        api.answer_totp(email, &challenge.session, &code).await,
        401,
        "invalid_session",
    );

    // Three wrong codes use the session up.
    let challenge = api
        .sign_in(email, PASSWORD)
        .await
        .challenge("TOTP_REQUIRED");
    for _ in 0..3 {
        refused(
            api.answer_totp(email, &challenge.session, "000001").await,
            400,
            "code_mismatch",
        );
    }
    refused(
        api.answer_totp(email, &challenge.session, &totp_at(&secret, now()))
            .await,
        401,
        "invalid_session",
    );
    app.finish().await;
}

async fn expired_challenge_sessions_are_refused(engine: Engine) {
    let app = TestApp::start_with(engine, |s| s.challenge_ttl = 1).await;
    let api = app.api();
    let email = "ivy@example.com";
    let (_, code) = enrolled(&app, email).await;
    let challenge = api
        .sign_in(email, PASSWORD)
        .await
        .challenge("TOTP_REQUIRED");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    refused(
        api.answer_totp(email, &challenge.session, &code).await,
        401,
        "invalid_session",
    );
    app.finish().await;
}

async fn mfa_off_refuses_enrolment(engine: Engine) {
    let app = TestApp::start_with(engine, |s| s.mfa = MfaMode::Off).await;
    app.confirmed_user("eve@example.com").await;
    let access = app.session("eve@example.com").await.access_token;
    refused(app.api().begin_totp(&access).await, 403, "mfa_disabled");
    app.finish().await;
}

async fn password_reset_by_mailed_code(engine: Engine) {
    let app = TestApp::start(engine).await;
    let api = app.api();
    let email = "fay@example.com";
    app.confirmed_user(email).await;
    let before = app.session(email).await;

    let known = api.request_password_reset(email).await.unwrap();
    let unknown = api
        .request_password_reset("ghost@example.com")
        .await
        .unwrap();
    assert_eq!(
        known.message, unknown.message,
        "the same answer for strangers"
    );
    assert_eq!(app.smtp.count_settled("ghost@example.com").await, 0);
    // Message 0 was the sign-up code; message 1 is the reset code.
    let code = app.smtp.code(email, 1).await;

    let weak = refused(
        api.confirm_password_reset(email, &code, "weak").await,
        422,
        "invalid_password",
    );
    assert_eq!(weak.field.as_deref(), Some("newPassword"));
    for (who, code) in [(email, other_code(&code)), ("ghost@example.com", &code)] {
        refused(
            api.confirm_password_reset(who, code, NEW_PASSWORD).await,
            400,
            "code_mismatch",
        );
    }
    let reset = api
        .confirm_password_reset(email, &code, NEW_PASSWORD)
        .await
        .unwrap();
    assert!(reset.password_reset);
    // Single use.
    refused(
        api.confirm_password_reset(email, &code, NEW_PASSWORD).await,
        400,
        "code_expired",
    );

    refused(
        api.sign_in(email, PASSWORD).await,
        401,
        "invalid_credentials",
    );
    api.sign_in(email, NEW_PASSWORD).await.session();
    // Sessions from before the reset are over.
    refused(
        api.refresh(before.refresh_token.as_deref().unwrap()).await,
        401,
        "invalid_refresh_token",
    );
    app.finish().await;
}

async fn password_change_keeps_this_session_and_ends_the_others(engine: Engine) {
    let app = TestApp::start(engine).await;
    let api = app.api();
    let email = "gus@example.com";
    app.confirmed_user(email).await;
    let here = app.session(email).await;
    let elsewhere = app.session(email).await;
    let access = &here.access_token;

    refused(
        api.change_password(access, "Wrong-Password-123", NEW_PASSWORD)
            .await,
        401,
        "invalid_credentials",
    );
    let weak = refused(
        api.change_password(access, PASSWORD, "weak").await,
        422,
        "invalid_password",
    );
    assert_eq!(weak.field.as_deref(), Some("newPassword"));
    api.change_password(access, PASSWORD, NEW_PASSWORD)
        .await
        .unwrap();

    // This session goes on, refresh included; the other one ended.
    api.subject(access).await.unwrap();
    api.refresh(here.refresh_token.as_deref().unwrap())
        .await
        .unwrap();
    refused(
        api.subject(&elsewhere.access_token).await,
        401,
        "token_revoked",
    );
    api.sign_in(email, NEW_PASSWORD).await.session();
    app.finish().await;
}

async fn password_reverification(engine: Engine) {
    let app = TestApp::start(engine).await;
    let api = app.api();
    app.confirmed_user("hal@example.com").await;
    let access = app.session("hal@example.com").await.access_token;
    refused(
        api.verify_password(&access, "Wrong-Password-123").await,
        401,
        "invalid_credentials",
    );
    let verified = api.verify_password(&access, PASSWORD).await.unwrap();
    assert!(verified.verified);
    assert!(verified.verified_until.ends_with('Z'), "RFC 3339 in UTC");
    refused(
        api.verify_password("", PASSWORD).await,
        401,
        "missing_token",
    );
    app.finish().await;
}

async fn identifier_recovery_by_phone_reveals_nothing(engine: Engine) {
    let app = TestApp::start(engine).await;
    let api = app.api();
    let email = "pia@example.com";
    let response = app
        .post(
            "/v1/auth/sign-up",
            serde_json::json!({"email": email, "password": PASSWORD, "phone": "+1 (555) 010-0100"}),
        )
        .await;
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    // Mail goes out in the background: let the sign-up code arrive first, so
    // the next message to this address is the identifier.
    app.smtp.code(email, 0).await;
    let known = api.recover_identifier("+15550100100").await.unwrap();
    let unknown = api.recover_identifier("+15550100999").await.unwrap();
    assert_eq!(known.message, unknown.message);
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
    let bad = refused(
        api.recover_identifier("call me").await,
        422,
        "invalid_request",
    );
    assert_eq!(bad.field.as_deref(), Some("phone"));
    let response = app
        .post(
            "/v1/auth/sign-up",
            serde_json::json!({"email": "q@example.com", "password": PASSWORD, "phone": "12"}),
        )
        .await;
    let bad = crate::common::assert_problem(response, 422, "invalid_request").await;
    assert_eq!(bad["field"], "phone");
    app.finish().await;
}

async fn lost_authenticator_reset_answers_strangers_like_wrong_codes(engine: Engine) {
    let app = TestApp::start(engine).await;
    let api = app.api();
    let email = "lou@example.com";
    enrolled(&app, email).await;

    let known = api.mfa_reset_start(email).await.unwrap();
    let unknown = api.mfa_reset_start("ghost@example.com").await.unwrap();
    assert!(!known.session.is_empty() && !unknown.session.is_empty());
    assert_eq!(app.smtp.count_settled("ghost@example.com").await, 0);
    let code = app.smtp.code(email, 1).await;

    // An unknown address answers like a known one with a wrong code.
    refused(
        api.mfa_reset_verify("ghost@example.com", &unknown.session, &code, PASSWORD)
            .await,
        400,
        "code_mismatch",
    );
    refused(
        api.mfa_reset_verify(email, &known.session, other_code(&code), PASSWORD)
            .await,
        400,
        "code_mismatch",
    );
    refused(
        api.mfa_reset_verify(email, &known.session, &code, "Wrong-Password-123")
            .await,
        401,
        "invalid_credentials",
    );
    app.finish().await;
}

async fn lost_authenticator_is_replaced_with_code_and_password(engine: Engine) {
    let app = TestApp::start(engine).await;
    let api = app.api();
    let email = "lou@example.com";
    app.confirmed_user(email).await;
    let before = app.session(email).await;
    let old_secret = app.enrol_totp(&before.access_token).await.secret;

    let reset = api.mfa_reset_start(email).await.unwrap();
    let code = app.smtp.code(email, 1).await;
    let recovery = api
        .mfa_reset_verify(email, &reset.session, &code, PASSWORD)
        .await
        .unwrap();
    let new_secret = recovery.secret.clone();
    assert_ne!(new_secret, old_secret);
    // Recovery-only: not a bearer token, and the session is not verified twice.
    refused(
        api.subject(&recovery.access_token).await,
        401,
        "invalid_token",
    );
    refused(
        api.mfa_reset_verify(email, &reset.session, &code, PASSWORD)
            .await,
        401,
        "invalid_session",
    );

    // Only a code of the new authenticator confirms, once.
    refused(
        api.mfa_reset_confirm(&recovery.access_token, &totp_at(&old_secret, now()))
            .await,
        400,
        "code_mismatch",
    );
    let confirmed = api
        .mfa_reset_confirm(&recovery.access_token, &totp_at(&new_secret, now()))
        .await
        .unwrap();
    assert!(confirmed.mfa_reset);
    assert_eq!(confirmed.recovery_codes.len(), 10);
    refused(
        api.mfa_reset_confirm(&recovery.access_token, &totp_at(&new_secret, now()))
            .await,
        401,
        "invalid_token",
    );

    // Every earlier session ended; only the new authenticator signs in.
    refused(
        api.subject(&before.access_token).await,
        401,
        "token_revoked",
    );
    let challenge = api
        .sign_in(email, PASSWORD)
        .await
        .challenge("TOTP_REQUIRED");
    refused(
        api.answer_totp(email, &challenge.session, &totp_at(&old_secret, now() + 30))
            .await,
        400,
        "code_mismatch",
    );
    api.answer_totp(email, &challenge.session, &totp_at(&new_secret, now() + 30))
        .await
        .session();

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
