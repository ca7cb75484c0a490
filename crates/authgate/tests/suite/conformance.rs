//! The conformance suite: one set of black-box HTTP scenarios, run against
//! the embedded provider and against Cognito (the moto emulator). The same
//! scenario must give the same status and the same error code on both.
//!
//! Where moto cannot emulate Cognito, the test name says so and the test
//! checks what can be checked:
//! - moto sends no sign-up code and ConfirmSignUp accepts any code;
//! - moto has no ResendConfirmationCode (authgate answers 501, not 500);
//! - moto returns MFA_SETUP only after NEW_PASSWORD_REQUIRED;
//! - moto implements none of Cognito's WebAuthn operations: the passkey
//!   routes answer 501 `not_supported_by_provider` there.
//!
//! The Cognito half needs `--features cognito` and a moto server at
//! AUTHGATE_TEST_MOTO_URL (scripts/test starts one); without them it fails.

use crate::common;

use crate::common::{Engine, PASSWORD, TestApp, assert_problem, claims_of, current_totp};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Embedded,
    Cognito,
}

/// Generate one test per provider for each named async fn taking a [`Provider`].
macro_rules! on_both_providers {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name(super::Provider::Embedded).await }
            )*
        }
        #[cfg(feature = "cognito")]
        mod cognito {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name(super::Provider::Cognito).await }
            )*
        }
    };
}

on_both_providers!(
    session_lifecycle_with_code_mailed_on_embedded_and_unchecked_by_moto,
    wrong_password_and_unknown_user_get_one_answer,
    duplicate_sign_up_answers_like_a_new_one,
    weak_passwords_are_refused_before_the_provider,
    unconfirmed_accounts_cannot_sign_in,
    malformed_refresh_tokens_are_refused,
    unknown_challenge_sessions_are_refused,
    foreign_and_id_tokens_are_not_bearer_tokens,
    discovery_names_the_provider_issuer,
    totp_enrolment_then_sign_in_asks_for_the_code,
    password_change_then_only_the_new_password_works,
    password_reverification_proves_the_password,
    password_reset_with_the_code_ends_old_sessions,
    administration_from_creation_to_deletion,
    identifier_recovery_mails_the_identifier,
    lost_authenticator_replacement_with_moto_giving_every_user_one_secret,
    answered_challenge_sessions_cannot_be_reused,
    the_user_context_and_invitations_are_one_shape,
    passkeys_register_and_sign_in_on_embedded_and_are_a_provider_limit_on_moto,
);

/// Passkeys: a full ceremony on the embedded provider; on moto, which
/// implements none of Cognito's WebAuthn operations, every route answers
/// 501 `not_supported_by_provider` with a sentence naming the limit.
async fn passkeys_register_and_sign_in_on_embedded_and_are_a_provider_limit_on_moto(
    provider: Provider,
) {
    let app = match provider {
        Provider::Embedded => crate::passkeys::passkey_app_with(Engine::Sqlite, |_| {}).await,
        Provider::Cognito => cognito_app(false).await,
    };
    let email = "pk-conf@example.com";
    confirmed_user(&app, provider, email).await;
    let access = app.sign_in(email).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let api = app.api();
    match provider {
        Provider::Embedded => {
            let mut key = crate::passkeys::device(&app);
            crate::passkeys::register(&app, &mut key, &access, None).await;
            let start = api.passkey_sign_in_start(Some(email)).await.unwrap();
            let assertion = key.get(&start.options).await;
            api.passkey_sign_in_complete(&start.session, assertion)
                .await
                .expect("a passkey signs in");
        }
        Provider::Cognito => {
            let limit = |problem: authgate_api_types::problem::Problem| {
                assert!(problem.detail.contains("moto"), "{}", problem.detail);
            };
            limit(common::api::refused(
                api.passkey_register_start(&access).await,
                501,
                "not_supported_by_provider",
            ));
            limit(common::api::refused(
                api.passkeys(&access).await,
                501,
                "not_supported_by_provider",
            ));
            limit(common::api::refused(
                api.delete_passkey(&access, "AAE").await,
                501,
                "not_supported_by_provider",
            ));
            // moto refuses the USER_AUTH flow itself, as a pool without it does.
            let problem = common::api::refused(
                api.passkey_sign_in_start(Some(email)).await,
                501,
                "not_supported_by_provider",
            );
            assert!(problem.detail.contains("passkeys"), "{}", problem.detail);
            common::api::refused(
                api.passkey_sign_in_start(None).await,
                501,
                "not_supported_by_provider",
            );
        }
    }
    app.finish().await;
}

/// The user context and tenants do not depend on the provider: the same
/// shape, filled from the provider's record, and invitations that bind on
/// the invited address's first sign-in.
async fn the_user_context_and_invitations_are_one_shape(provider: Provider) {
    let app = start(provider).await;
    confirmed_user(&app, provider, "ctx-owner@example.com").await;
    let owner = app.sign_in("ctx-owner@example.com").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let subject: Value = app
        .get_bearer("/v1/auth/subject", &owner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(subject["user"]["email"], "ctx-owner@example.com");
    assert_eq!(subject["mfa"]["totp"], false);
    assert_eq!(subject["tenants"], json!([]));
    assert!(subject.get("attributes").is_none() && subject.get("username").is_none());
    let tenant: Value = app
        .client
        .post(app.url("/v1/tenants"))
        .bearer_auth(&owner)
        .json(&json!({"name": "Both"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let invited: Value = app
        .client
        .post(app.url(&format!(
            "/v1/tenants/{}/members",
            tenant["id"].as_str().unwrap()
        )))
        .bearer_auth(&owner)
        .json(&json!({"email": "ctx-guest@example.com", "role": "viewer"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(invited["status"], "invited");
    confirmed_user(&app, provider, "ctx-guest@example.com").await;
    let guest = app.sign_in("ctx-guest@example.com").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let subject: Value = app
        .get_bearer("/v1/auth/subject", &guest)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(subject["tenants"][0]["id"], tenant["id"]);
    assert_eq!(subject["tenants"][0]["role"], "viewer");
    let decision: Value = app
        .client
        .post(app.url("/v1/authz/check"))
        .bearer_auth(&guest)
        .json(&json!({"action": "data:write", "tenantId": tenant["id"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(decision["reason"], "no_grant");
    app.finish().await;
}

async fn answered_challenge_sessions_cannot_be_reused(provider: Provider) {
    let app = start(provider).await;
    let email = "ria@example.com";
    confirmed_user(&app, provider, email).await;
    let session = app.sign_in(email).await;
    let access = session["accessToken"].as_str().unwrap();
    let enrolment: Value = app
        .post_bearer("/v1/auth/mfa/totp", access)
        .await
        .json()
        .await
        .unwrap();
    let secret = enrolment["secret"].as_str().unwrap().to_string();
    let response = app
        .client
        .post(app.url("/v1/auth/mfa/totp/verify"))
        .bearer_auth(access)
        .json(&json!({"code": current_totp(&secret).await}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_secs(
        30 - common::now() as u64 % 30 + 1,
    ))
    .await;

    let challenge: Value = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": email, "password": PASSWORD}),
        )
        .await
        .json()
        .await
        .unwrap();
    let code = current_totp(&secret).await;
    let answer = || {
        app.post(
            "/v1/auth/challenges/totp",
            json!({"email": email, "session": challenge["session"], "code": code}),
        )
    };
    assert_eq!(answer().await.status(), StatusCode::OK);
    assert_problem(answer().await, 401, "invalid_session").await;
    app.finish().await;
}

async fn lost_authenticator_replacement_with_moto_giving_every_user_one_secret(provider: Provider) {
    let app = start(provider).await;
    let email = "max@example.com";
    confirmed_user(&app, provider, email).await;
    let session = app.sign_in(email).await;
    let access = session["accessToken"].as_str().unwrap();
    let enrolment: Value = app
        .post_bearer("/v1/auth/mfa/totp", access)
        .await
        .json()
        .await
        .unwrap();
    let old_secret = enrolment["secret"].as_str().unwrap().to_string();
    let response = app
        .client
        .post(app.url("/v1/auth/mfa/totp/verify"))
        .bearer_auth(access)
        .json(&json!({"code": current_totp(&old_secret).await}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let mailed_before = app.smtp.messages_to(email).len();
    let start: Value = app
        .post("/v1/auth/mfa-reset/start", json!({"email": email}))
        .await
        .json()
        .await
        .unwrap();
    let code = app.smtp.code(email, mailed_before).await;
    let verify = |password: &str| {
        app.post(
            "/v1/auth/mfa-reset/verify",
            json!({"email": email, "session": start["session"], "code": code, "password": password}),
        )
    };
    assert_problem(
        verify("Wrong-Password-123").await,
        401,
        "invalid_credentials",
    )
    .await;
    let response = verify(PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let recovery: Value = response.json().await.unwrap();
    let new_secret = recovery["secret"].as_str().unwrap().to_string();
    let token = recovery["accessToken"].as_str().unwrap().to_string();
    assert_problem(
        app.get_bearer("/v1/auth/subject", &token).await,
        401,
        "invalid_token",
    )
    .await;

    // The embedded provider refuses a step already used: wait for a fresh one.
    tokio::time::sleep(std::time::Duration::from_secs(
        30 - common::now() as u64 % 30 + 1,
    ))
    .await;
    let response = app
        .post(
            "/v1/auth/mfa-reset/confirm",
            json!({"accessToken": token, "code": current_totp(&new_secret).await}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["mfaReset"], true);
    let response = app.get_bearer("/v1/auth/subject", access).await;
    assert_problem(response, 401, "token_revoked").await;
    let challenge: Value = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": email, "password": PASSWORD}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(challenge["challenge"], "TOTP_REQUIRED");
    app.finish().await;
}

/// A platform admin's access token (its app user gets the role in the database).
async fn admin_token(app: &TestApp, provider: Provider, email: &str) -> String {
    confirmed_user(app, provider, email).await;
    let session = app.sign_in(email).await;
    let pool = app.db.pool().await;
    sqlx::query("UPDATE app_users SET platform_role = 'admin' WHERE email = $1")
        .bind(email)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    session["accessToken"].as_str().unwrap().to_string()
}

async fn administration_from_creation_to_deletion(provider: Provider) {
    let app = start(provider).await;
    let admin = admin_token(&app, provider, "root@example.com").await;
    confirmed_user(&app, provider, "plain@example.com").await;
    let plain = app.sign_in("plain@example.com").await;
    let response = app
        .get_bearer("/v1/admin/users", plain["accessToken"].as_str().unwrap())
        .await;
    assert_problem(response, 403, "admin_required").await;

    let email = "new@example.com";
    let create = || {
        app.client
            .post(app.url("/v1/admin/users"))
            .bearer_auth(&admin)
            .json(&json!({"email": email, "name": "New"}))
            .send()
    };
    let response = create().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["status"], "temporary_password");
    assert_problem(create().await.unwrap(), 409, "username_exists").await;
    let id = created["id"].as_str().unwrap().to_string();

    // authgate mails the temporary password, whatever the provider.
    let temporary = app.smtp.temporary_password(email, 0).await;
    let challenge: Value = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": email, "password": temporary}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(challenge["challenge"], "NEW_PASSWORD_REQUIRED");
    let response = app
        .post(
            "/v1/auth/challenges/new-password",
            json!({"email": email, "session": challenge["session"], "newPassword": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let session: Value = response.json().await.unwrap();
    assert!(session["accessToken"].is_string(), "{session}");

    let got: Value = app
        .get_bearer(&format!("/v1/admin/users/{id}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["status"], "active");
    assert_eq!(got["email"], email);
    let list: Value = app
        .get_bearer("/v1/admin/users?emailPrefix=new", &admin)
        .await
        .json()
        .await
        .unwrap();
    let emails: Vec<&str> = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, vec![email]);

    let action = |what: &str| {
        app.client
            .post(app.url(&format!("/v1/admin/users/{id}/{what}")))
            .bearer_auth(&admin)
            .send()
    };
    assert_eq!(
        action("disable").await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let response = app
        .get_bearer("/v1/auth/subject", session["accessToken"].as_str().unwrap())
        .await;
    assert_problem(response, 401, "token_revoked").await;
    // moto still refreshes a disabled user's token; authgate refuses it.
    let response = app
        .post(
            "/v1/auth/token/refresh",
            json!({"refreshToken": session["refreshToken"]}),
        )
        .await;
    assert_problem(response, 401, "invalid_refresh_token").await;
    let response = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_problem(response, 401, "invalid_credentials").await;
    assert_eq!(
        action("enable").await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.sign_in(email).await["user"]["id"], id.as_str());

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
    let response = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_problem(response, 401, "invalid_credentials").await;
    app.finish().await;
}

async fn identifier_recovery_mails_the_identifier(provider: Provider) {
    let app = start(provider).await;
    let email = "phil@example.com";
    let response = app
        .post(
            "/v1/auth/sign-up",
            json!({"email": email, "password": PASSWORD, "phone": "+1 555 010 0177"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let before = app.smtp.messages_to(email).len();
    for phone in ["+15550100177", "+15550100999"] {
        let response = app
            .post(
                "/v1/auth/account-recovery/identifier",
                json!({"phone": phone}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let mut found = false;
    for _ in 0..100 {
        if app
            .smtp
            .messages_to(email)
            .iter()
            .skip(before)
            .any(|m| m.data.contains(&format!("Sign-in identifier: {email}")))
        {
            found = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(found, "the identifier was not mailed");
    app.finish().await;
}

/// The password-reset code: mailed by the embedded provider (after the
/// sign-up code); moto keeps it in its data.
async fn reset_code(app: &TestApp, provider: Provider, email: &str) -> String {
    match provider {
        Provider::Embedded => app.smtp.code(email, 1).await,
        Provider::Cognito => cognito_reset_code(app, email).await,
    }
}

#[cfg(feature = "cognito")]
async fn cognito_reset_code(app: &TestApp, email: &str) -> String {
    moto::reset_code(app, email).await
}

#[cfg(not(feature = "cognito"))]
async fn cognito_reset_code(_app: &TestApp, _email: &str) -> String {
    unreachable!("the Cognito tests are compiled only with the cognito feature")
}

async fn totp_enrolment_then_sign_in_asks_for_the_code(provider: Provider) {
    let app = start(provider).await;
    let email = "tom@example.com";
    confirmed_user(&app, provider, email).await;
    let session = app.sign_in(email).await;
    let access = session["accessToken"].as_str().unwrap();
    let response = app.post_bearer("/v1/auth/mfa/totp", access).await;
    assert_eq!(response.status(), StatusCode::OK);
    let enrolment: Value = response.json().await.unwrap();
    let secret = enrolment["secret"].as_str().unwrap().to_string();
    assert!(
        enrolment["otpauthUri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    let verify = |code: String| {
        app.client
            .post(app.url("/v1/auth/mfa/totp/verify"))
            .bearer_auth(access)
            .json(&json!({"code": code}))
            .send()
    };
    let code = current_totp(&secret).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_problem(verify(wrong.into()).await.unwrap(), 400, "code_mismatch").await;
    let response = verify(code).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["mfaEnabled"], true);
    let mfa_of = |token: String| {
        let app = &app;
        async move {
            let subject: Value = app
                .get_bearer("/v1/auth/subject", &token)
                .await
                .json()
                .await
                .unwrap();
            subject["mfa"]["totp"].clone()
        }
    };
    assert_eq!(mfa_of(access.to_string()).await, true);

    let response = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    let challenge: Value = response.json().await.unwrap();
    assert_eq!(challenge["challenge"], "TOTP_REQUIRED");
    let response = app
        .post(
            "/v1/auth/challenges/totp",
            json!({"email": email, "session": challenge["session"], "code": wrong}),
        )
        .await;
    assert_problem(response, 400, "code_mismatch").await;
    // The embedded provider refuses a code whose step was used (the enrolment
    // used this one), so wait for the next step; moto accepts only the current.
    tokio::time::sleep(std::time::Duration::from_secs(
        30 - common::now() as u64 % 30 + 1,
    ))
    .await;
    let code = current_totp(&secret).await;
    let response = app
        .post(
            "/v1/auth/challenges/totp",
            json!({"email": email, "session": challenge["session"], "code": code}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let signed_in: Value = response.json().await.unwrap();
    // The state recorded at sign-in (read from the provider) agrees.
    assert_eq!(
        mfa_of(signed_in["accessToken"].as_str().unwrap().to_string()).await,
        true
    );
    app.finish().await;
}

async fn password_change_then_only_the_new_password_works(provider: Provider) {
    let app = start(provider).await;
    let email = "una@example.com";
    confirmed_user(&app, provider, email).await;
    let here = app.sign_in(email).await;
    let elsewhere = app.sign_in(email).await;
    let access = here["accessToken"].as_str().unwrap();
    let change = |current: &str| {
        app.client
            .patch(app.url("/v1/auth/password"))
            .bearer_auth(access)
            .json(&json!({"currentPassword": current, "newPassword": "Another-Horse-77?"}))
            .send()
    };
    assert_problem(
        change("Wrong-Password-123").await.unwrap(),
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        change(PASSWORD).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let old = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_problem(old, 401, "invalid_credentials").await;
    let new = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": email, "password": "Another-Horse-77?"}),
        )
        .await;
    assert_eq!(new.status(), StatusCode::OK);
    // This session goes on; the other one is over at authgate's boundary.
    assert_eq!(
        app.get_bearer("/v1/auth/subject", access).await.status(),
        StatusCode::OK
    );
    let response = app
        .get_bearer(
            "/v1/auth/subject",
            elsewhere["accessToken"].as_str().unwrap(),
        )
        .await;
    assert_problem(response, 401, "token_revoked").await;
    app.finish().await;
}

async fn password_reverification_proves_the_password(provider: Provider) {
    let app = start(provider).await;
    confirmed_user(&app, provider, "val@example.com").await;
    let session = app.sign_in("val@example.com").await;
    let verify = |password: &str| {
        app.client
            .post(app.url("/v1/auth/password-verifications"))
            .bearer_auth(session["accessToken"].as_str().unwrap())
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
    assert_eq!(response.json::<Value>().await.unwrap()["verified"], true);
    app.finish().await;
}

async fn password_reset_with_the_code_ends_old_sessions(provider: Provider) {
    let app = start(provider).await;
    let email = "wyn@example.com";
    confirmed_user(&app, provider, email).await;
    let before = app.sign_in(email).await;
    for who in [email, "ghost@example.com"] {
        let response = app
            .post("/v1/auth/password-resets", json!({"email": who}))
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let code = reset_code(&app, provider, email).await;
    let response = app
        .post(
            "/v1/auth/password-resets/confirm",
            json!({"email": email, "code": code, "newPassword": "Another-Horse-77?"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let new = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": email, "password": "Another-Horse-77?"}),
        )
        .await;
    assert_eq!(new.status(), StatusCode::OK);
    let response = app
        .get_bearer("/v1/auth/subject", before["accessToken"].as_str().unwrap())
        .await;
    assert_problem(response, 401, "token_revoked").await;
    let response = app
        .post(
            "/v1/auth/token/refresh",
            json!({"refreshToken": before["refreshToken"]}),
        )
        .await;
    assert_problem(response, 401, "invalid_refresh_token").await;
    app.finish().await;
}

#[cfg(feature = "cognito")]
async fn cognito_app(mfa_required: bool) -> TestApp {
    moto::start(mfa_required).await
}

#[cfg(not(feature = "cognito"))]
async fn cognito_app(_mfa_required: bool) -> TestApp {
    unreachable!("the Cognito tests are compiled only with the cognito feature")
}

async fn start(provider: Provider) -> TestApp {
    match provider {
        Provider::Embedded => TestApp::start(Engine::Sqlite).await,
        Provider::Cognito => cognito_app(false).await,
    }
}

/// The confirmation code: mailed by the embedded provider; moto mails none
/// and accepts any code.
async fn confirmation_code(app: &TestApp, provider: Provider, email: &str) -> String {
    match provider {
        Provider::Embedded => app.smtp.code(email, 0).await,
        Provider::Cognito => "000000".to_string(),
    }
}

async fn confirmed_user(app: &TestApp, provider: Provider, email: &str) {
    assert_eq!(app.sign_up(email).await.status(), StatusCode::CREATED);
    let code = confirmation_code(app, provider, email).await;
    let response = app
        .post(
            "/v1/auth/sign-up/confirm",
            json!({"email": email, "code": code}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn session_lifecycle_with_code_mailed_on_embedded_and_unchecked_by_moto(provider: Provider) {
    let app = start(provider).await;
    let email = "pat@example.com";
    let response = app.sign_up(email).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["requiresConfirmation"], true);
    assert_eq!(body["canSignIn"], false);
    assert!(body["userSub"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(body["delivery"]["medium"], "EMAIL");

    let code = confirmation_code(&app, provider, email).await;
    let response = app
        .post(
            "/v1/auth/sign-up/confirm",
            json!({"email": email, "code": code}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let session = app.sign_in(email).await;
    assert_eq!(session["tokenType"], "Bearer");
    assert_eq!(session["user"]["email"], email);
    assert_eq!(session["user"]["sub"], body["userSub"]);
    let access = session["accessToken"].as_str().unwrap().to_string();
    assert_eq!(claims_of(&access)["token_use"], "access");

    let response = app.get_bearer("/v1/auth/subject", &access).await;
    assert_eq!(response.status(), StatusCode::OK);
    let subject: Value = response.json().await.unwrap();
    assert_eq!(subject["user"]["sub"], body["userSub"]);
    assert_eq!(subject["user"]["id"], session["user"]["id"]);
    assert_eq!(subject["user"]["email"], email);

    let response = app
        .post(
            "/v1/auth/token/refresh",
            json!({"refreshToken": session["refreshToken"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let refreshed: Value = response.json().await.unwrap();
    assert_eq!(refreshed["user"]["id"], session["user"]["id"]);
    assert!(refreshed["refreshToken"].is_string());

    let response = app.post_bearer("/v1/auth/sign-out", &access).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app.get_bearer("/v1/auth/subject", &access).await;
    assert_problem(response, 401, "token_revoked").await;
    let response = app
        .post(
            "/v1/auth/token/refresh",
            json!({"refreshToken": refreshed["refreshToken"]}),
        )
        .await;
    assert_problem(response, 401, "invalid_refresh_token").await;

    // Signing in again right away works.
    let again = app.sign_in(email).await;
    let response = app
        .get_bearer("/v1/auth/subject", again["accessToken"].as_str().unwrap())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    app.finish().await;
}

async fn wrong_password_and_unknown_user_get_one_answer(provider: Provider) {
    let app = start(provider).await;
    confirmed_user(&app, provider, "quinn@example.com").await;
    let wrong = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": "quinn@example.com", "password": "Wrong-Password-123"}),
        )
        .await;
    let unknown = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": "nobody@example.com", "password": PASSWORD}),
        )
        .await;
    let a = assert_problem(wrong, 401, "invalid_credentials").await;
    let b = assert_problem(unknown, 401, "invalid_credentials").await;
    assert_eq!(a["detail"], b["detail"]);
    app.finish().await;
}

/// A sign-up for a taken address answers like a new one (the owner gets a
/// notice); a pending one starts over.
async fn duplicate_sign_up_answers_like_a_new_one(provider: Provider) {
    let app = start(provider).await;
    for _ in 0..2 {
        assert_eq!(
            app.sign_up("rae@example.com").await.status(),
            StatusCode::CREATED
        );
    }
    confirmed_user(&app, provider, "ray@example.com").await;
    assert_eq!(
        app.sign_up("ray@example.com").await.status(),
        StatusCode::CREATED
    );
    app.smtp.notice("ray@example.com", "tried to sign up").await;
    app.finish().await;
}

async fn weak_passwords_are_refused_before_the_provider(provider: Provider) {
    let app = start(provider).await;
    let response = app
        .post(
            "/v1/auth/sign-up",
            json!({"email": "sam@example.com", "password": "short"}),
        )
        .await;
    let problem = assert_problem(response, 422, "invalid_password").await;
    assert_eq!(problem["field"], "password");
    // Nothing was created: the same email signs up fine afterwards.
    assert_eq!(
        app.sign_up("sam@example.com").await.status(),
        StatusCode::CREATED
    );
    app.finish().await;
}

async fn unconfirmed_accounts_cannot_sign_in(provider: Provider) {
    let app = start(provider).await;
    app.sign_up("tia@example.com").await;
    let response = app
        .post(
            "/v1/auth/sign-in",
            json!({"email": "tia@example.com", "password": PASSWORD}),
        )
        .await;
    assert_problem(response, 403, "user_not_confirmed").await;
    app.finish().await;
}

async fn malformed_refresh_tokens_are_refused(provider: Provider) {
    let app = start(provider).await;
    let forged_generation = "ag2.0b1c6a7e-6f43-4a5e-9b7e-2f1d3c4b5a69.0.bm90LWEtdGFn";
    for token in [
        "garbage",
        "cg1.bm9ib2R5.not-a-cognito-token",
        "a.b.c.d.e",
        forged_generation,
    ] {
        let response = app
            .post("/v1/auth/token/refresh", json!({"refreshToken": token}))
            .await;
        assert_problem(response, 401, "invalid_refresh_token").await;
    }
    app.finish().await;
}

async fn unknown_challenge_sessions_are_refused(provider: Provider) {
    let app = start(provider).await;
    confirmed_user(&app, provider, "uma@example.com").await;
    let response = app
        .post(
            "/v1/auth/challenges/totp",
            json!({"email": "uma@example.com", "session": "not-a-session", "code": "123456"}),
        )
        .await;
    assert_problem(response, 401, "invalid_session").await;
    let response = app
        .post(
            "/v1/auth/challenges/new-password",
            json!({"email": "uma@example.com", "session": "not-a-session", "newPassword": "short"}),
        )
        .await;
    let problem = assert_problem(response, 422, "invalid_password").await;
    assert_eq!(problem["field"], "newPassword");
    app.finish().await;
}

async fn foreign_and_id_tokens_are_not_bearer_tokens(provider: Provider) {
    let app = start(provider).await;
    confirmed_user(&app, provider, "vic@example.com").await;
    let session = app.sign_in("vic@example.com").await;
    let response = app
        .get_bearer("/v1/auth/subject", session["idToken"].as_str().unwrap())
        .await;
    assert_problem(response, 401, "invalid_token").await;
    let stranger =
        aws_lc_rs::signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let forged = common::sign_rs256(
        &stranger,
        "forged",
        &claims_of(session["accessToken"].as_str().unwrap()),
    );
    let response = app.get_bearer("/v1/auth/subject", &forged).await;
    assert_problem(response, 401, "invalid_token").await;
    app.finish().await;
}

async fn discovery_names_the_provider_issuer(provider: Provider) {
    let app = start(provider).await;
    let discovery: Value = app.get_json("/.well-known/openid-configuration").await;
    confirmed_user(&app, provider, "wes@example.com").await;
    let session = app.sign_in("wes@example.com").await;
    assert_eq!(
        discovery["issuer"],
        claims_of(session["accessToken"].as_str().unwrap())["iss"]
    );
    let jwks: Value = app
        .client
        .get(discovery["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!jwks["keys"].as_array().unwrap().is_empty());
    app.finish().await;
}

/// Embedded: resend answers 202 alike for every email. Moto does not
/// implement ResendConfirmationCode: authgate answers 501, never a 500.
#[tokio::test]
async fn resend_answers_202_on_embedded() {
    let app = start(Provider::Embedded).await;
    app.sign_up("xia@example.com").await;
    for email in ["xia@example.com", "nobody@example.com"] {
        let response = app
            .post(
                "/v1/auth/sign-up/resend-confirmation",
                json!({"email": email}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    app.finish().await;
}

#[cfg(feature = "cognito")]
mod moto {
    //! The Cognito side: a fresh pool per test in the moto emulator.

    use super::*;
    pub use crate::common::moto_url;

    pub async fn start(mfa_required: bool) -> TestApp {
        crate::common::moto_app(mfa_required, |_| {}).await
    }

    #[tokio::test]
    async fn resend_is_not_implemented_by_moto_and_answers_501_not_500() {
        let app = start(false).await;
        app.sign_up("yan@example.com").await;
        let response = app
            .post(
                "/v1/auth/sign-up/resend-confirmation",
                json!({"email": "yan@example.com"}),
            )
            .await;
        assert_problem(response, 501, "not_implemented").await;
        app.finish().await;
    }

    const TEMPORARY_PASSWORD: &str = "Temporary-Pass-123!";

    /// The reset code moto generated, from its data (`cognitoidp.CognitoIdpUser`).
    pub async fn reset_code(app: &TestApp, email: &str) -> String {
        let pool_id = app.settings.cognito_user_pool_id.clone().unwrap();
        let url = format!("{}/moto-api/data.json", moto_url());
        for _ in 0..20 {
            // moto answers 500 now and then while other tests write.
            if let Ok(response) = reqwest::get(&url).await
                && let Ok(data) = response.json::<Value>().await
                && let Some(code) = data["cognitoidp"]["CognitoIdpUser"]
                    .as_array()
                    .and_then(|users| {
                        users.iter().find(|u| {
                            u["user_pool_id"] == pool_id.as_str()
                                && u["attribute_lookup"]["email"] == email
                        })
                    })
                    .and_then(|u| u["confirmation_code"].as_str())
            {
                return code.to_string();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no reset code for {email} in moto's data")
    }

    /// A user created by an administrator, with a temporary password.
    async fn admin_create_user(app: &TestApp, email: &str) {
        crate::common::moto_admin_create_user(app, email, TEMPORARY_PASSWORD).await
    }

    use crate::common::current_totp as totp_code;

    /// Machine clients do not depend on the provider: with Cognito, authgate
    /// signs their tokens with its own keys (published at /oauth2/jwks.json,
    /// not the pool's JWKS) and its admin API and decisions accept them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn machine_clients_work_beside_cognito() {
        let app = start(false).await;
        let (id, secret) = app.create_client("robot", "admin,reports:read");
        let token = app.client_token(&id, &secret).await;
        let claims = claims_of(&token);
        assert_eq!(claims["iss"], app.base.as_str());
        assert_eq!(claims["client_id"], id.as_str());
        assert_eq!(
            app.get_bearer("/v1/admin/users", &token).await.status(),
            StatusCode::OK
        );
        let decision: Value = app
            .client
            .post(app.url("/v1/authz/check"))
            .bearer_auth(&token)
            .json(&json!({"action": "reports:read"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(decision["reason"], "client_scope");
        let keys: Value = app.get("/oauth2/jwks.json").await.json().await.unwrap();
        assert!(!keys["keys"].as_array().unwrap().is_empty());
        // A user's Cognito token is still a user token, not a client.
        confirmed_user(&app, Provider::Cognito, "beside@example.com").await;
        let user = app.sign_in("beside@example.com").await["accessToken"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            app.get_bearer("/v1/admin/users", &user).await.status(),
            StatusCode::FORBIDDEN
        );
        app.finish().await;
    }

    /// A Cognito group that names a platform role of the catalog is the
    /// user's platform role (authgate stores none): here `admin`, which opens
    /// the admin API; other groups are ignored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cognito_groups_name_the_platform_role() {
        let app = start(false).await;
        let email = "grouped@example.com";
        confirmed_user(&app, Provider::Cognito, email).await;
        let before = app.sign_in(email).await["accessToken"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            app.get_bearer("/v1/admin/users", &before).await.status(),
            StatusCode::FORBIDDEN
        );
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(moto_url())
            .credentials_provider(aws_sdk_cognitoidentityprovider::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .load()
            .await;
        let cognito = aws_sdk_cognitoidentityprovider::Client::new(&config);
        let pool = app.settings.cognito_user_pool_id.clone().unwrap();
        for group in ["beta-testers", "admin"] {
            cognito
                .create_group()
                .user_pool_id(&pool)
                .group_name(group)
                .send()
                .await
                .expect("CreateGroup");
            cognito
                .admin_add_user_to_group()
                .user_pool_id(&pool)
                .username(email)
                .group_name(group)
                .send()
                .await
                .expect("AdminAddUserToGroup");
        }
        let after = app.sign_in(email).await["accessToken"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(claims_of(&after)["cognito:groups"].is_array());
        let subject: Value = app
            .get_bearer("/v1/auth/subject", &after)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(subject["platformRole"], "admin");
        assert_eq!(subject["platformGrants"], json!(["*"]));
        assert!(subject.get("groups").is_none(), "{subject}");
        assert_eq!(
            app.get_bearer("/v1/admin/users", &after).await.status(),
            StatusCode::OK
        );
        app.finish().await;
    }

    /// The challenge chain through authgate's HTTP contract on Cognito:
    /// temporary password -> NEW_PASSWORD_REQUIRED -> MFA_SETUP_REQUIRED
    /// (moto only after a new password) -> TOTP_REQUIRED on the next sign-in.
    /// The embedded provider issues these challenges from issue 4 on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn challenge_chain_new_password_then_mfa_setup_then_totp_on_moto() {
        let app = start(true).await;
        let email = "zoe@example.com";
        admin_create_user(&app, email).await;

        let response = app
            .post(
                "/v1/auth/sign-in",
                json!({"email": email, "password": TEMPORARY_PASSWORD}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let challenge: Value = response.json().await.unwrap();
        assert_eq!(challenge["challenge"], "NEW_PASSWORD_REQUIRED");
        assert!(challenge.get("accessToken").is_none());
        let body = challenge.to_string();
        for leaked in ["FORCE_CHANGE_PASSWORD", "ChallengeName", "USERNAME"] {
            assert!(!body.contains(leaked), "provider vocabulary leaked: {body}");
        }

        let response = app
            .post(
                "/v1/auth/challenges/new-password",
                json!({"email": email, "session": challenge["session"], "newPassword": PASSWORD}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let setup: Value = response.json().await.unwrap();
        assert_eq!(setup["challenge"], "MFA_SETUP_REQUIRED");
        let secret = setup["parameters"]["secret"].as_str().unwrap().to_string();
        assert!(
            setup["parameters"]["otpauthUri"]
                .as_str()
                .unwrap()
                .starts_with("otpauth://totp/")
        );

        let wrong = app
            .post(
                "/v1/auth/challenges/mfa-setup",
                json!({"email": email, "session": setup["session"], "code": "000000"}),
            )
            .await;
        assert_problem(wrong, 400, "code_mismatch").await;
        let code = totp_code(&secret).await;
        let response = app
            .post(
                "/v1/auth/challenges/mfa-setup",
                json!({"email": email, "session": setup["session"], "code": code}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let session: Value = response.json().await.unwrap();
        assert!(session["accessToken"].is_string(), "{session}");
        let subject = app
            .get_bearer("/v1/auth/subject", session["accessToken"].as_str().unwrap())
            .await;
        assert_eq!(subject.status(), StatusCode::OK);

        let response = app
            .post(
                "/v1/auth/sign-in",
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        let totp: Value = response.json().await.unwrap();
        assert_eq!(totp["challenge"], "TOTP_REQUIRED");
        let code = totp_code(&secret).await;
        let response = app
            .post(
                "/v1/auth/challenges/totp",
                json!({"email": email, "session": totp["session"], "code": code}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.json::<Value>().await.unwrap()["accessToken"].is_string());

        // Every step is in the audit trail.
        let rows = app.audit_rows_once(|r| r.kind == "challenge_totp").await;
        for kind in [
            "challenge_new_password",
            "challenge_mfa_setup",
            "challenge_totp",
        ] {
            assert!(
                rows.iter()
                    .any(|r| r.kind == kind && r.outcome == "success"),
                "{kind} not audited: {rows:?}"
            );
        }
        app.finish().await;
    }
}
