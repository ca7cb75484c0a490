//! The CognitoApi-compatible profile (AUTHGATE_COMPAT_COGNITO_API=true) on the
//! embedded provider, through HTTP: the original README's sequence end to end
//! with its exact field names and status strings, `{message}` errors, no user
//! enumeration, the id token at `/v1/userinfo` only, CORS, passkeys, no
//! profile routes when the profile is off, and what older clients of the
//! original need (the QR code as an image URL, confirm-mfa without a session).

use crate::common;

use crate::common::{Engine, TestApp, now, totp_at};
use authgate_service::settings::MfaMode;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

const NEW_PASSWORD: &str = "WpbyHbcIc#pNp9-x";
const CHANGED_PASSWORD: &str = "Another-Horse-77?";
const RESET_PASSWORD: &str = "#Y3KdGR9QKg_a9-z";

async fn compat_app() -> TestApp {
    TestApp::start_with(Engine::Sqlite, |s| {
        s.compat_cognito_api = true;
        s.mfa = MfaMode::Required;
        s.cors_origins = "http://localhost:3000".into();
    })
    .await
}

/// A 200 with a JSON body.
async fn ok(response: Response) -> Value {
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// A `{message}` error (never problem+json) with `status`.
async fn message(response: Response, status: u16) -> String {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert_eq!(content_type, "application/json");
    let body: Value = response.json().await.unwrap();
    let object = body.as_object().unwrap();
    assert_eq!(object.len(), 1, "only a message: {body}");
    let text = body["message"].as_str().unwrap().to_string();
    assert!(!text.is_empty());
    text
}

/// POST /v1/users, the mailed temporary password, confirm, confirm-mfa:
/// answers `(user_id, totp secret)`; the first TOTP step is used.
async fn enrolled_user(
    app: &TestApp,
    email: &str,
    code: impl AsyncFn(&str) -> String,
) -> (String, String) {
    let (user_id, secret, _) = enrolled_user_with_codes(app, email, code).await;
    (user_id, secret)
}

/// [`enrolled_user`], also answering the recovery codes of confirm-mfa.
async fn enrolled_user_with_codes(
    app: &TestApp,
    email: &str,
    code: impl AsyncFn(&str) -> String,
) -> (String, String, Vec<String>) {
    let created = ok(app
        .post(
            "/v1/users",
            json!({"full_name": "Jane Doe", "email": email, "mobile_phone_number": "+33601234567"}),
        )
        .await)
    .await;
    assert_eq!(created["email"], email);
    assert_eq!(created["status"], "CREATED");
    let user_id = created["user_id"].as_str().unwrap().to_string();
    assert_eq!(created.as_object().unwrap().len(), 3);
    let temporary = app.smtp.temporary_password(email, 0).await;

    let confirmed = ok(app
        .post(
            &format!("/v1/users/{user_id}/confirm"),
            json!({"email": email, "temporary_password": temporary, "new_password": NEW_PASSWORD}),
        )
        .await)
    .await;
    assert_eq!(confirmed["email"], email);
    assert_eq!(confirmed["user_id"], user_id.as_str());
    assert_eq!(confirmed["status"], "PENDING_MFA");
    let secret = confirmed["qr_code_secret"].as_str().unwrap().to_string();
    assert!(
        confirmed["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    assert!(confirmed["otpauth_uri"].as_str().unwrap().contains(&secret));
    assert_eq!(
        qr_image_content(&confirmed["qr_code_secret_url"]),
        confirmed["otpauth_uri"].as_str().unwrap(),
        "the QR image encodes the otpauth URI"
    );
    let mfa_session = confirmed["mfa_session"].as_str().unwrap().to_string();

    let good = code(&secret).await;
    let wrong = if good == "000000" { "111111" } else { "000000" };
    let response = app
        .post(
            &format!("/v1/users/{user_id}/confirm-mfa"),
            json!({"email": email, "otp": wrong, "mfa_session": mfa_session}),
        )
        .await;
    message(response, 400).await;
    let done = ok(app
        .post(
            &format!("/v1/users/{user_id}/confirm-mfa"),
            json!({"email": email, "otp": good, "mfa_session": mfa_session}),
        )
        .await)
    .await;
    let mut done = done;
    let codes = done
        .as_object_mut()
        .unwrap()
        .remove("recovery_codes")
        .unwrap();
    assert_eq!(codes.as_array().unwrap().len(), 10, "{codes}");
    assert_eq!(
        done,
        json!({"email": email, "user_id": user_id, "mfa_status": "CONFIRMED"})
    );
    let codes = codes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (user_id, secret, codes)
}

/// What the QR code behind a `data:image/png;base64,…` URL says, read back
/// with an independent decoder (rqrr), as a phone would.
fn qr_image_content(url: &Value) -> String {
    use base64::Engine as _;
    let url = url.as_str().expect("a qr_code_secret_url");
    let png = url
        .strip_prefix("data:image/png;base64,")
        .unwrap_or_else(|| panic!("not a PNG data URL: {url:.40}"));
    let png = base64::engine::general_purpose::STANDARD
        .decode(png)
        .unwrap();
    let image = image::load_from_memory(&png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        image.width() as usize,
        image.height() as usize,
        |x, y| image.get_pixel(x as u32, y as u32).0[0],
    );
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().expect("a readable QR code").1
}

/// Create a user and confirm it (`/v1/users`, `/confirm`): its id, its
/// authenticator secret and the confirm answer.
async fn confirmed_user(app: &TestApp, email: &str) -> (String, String, Value) {
    let created = ok(app
        .post(
            "/v1/users",
            json!({"full_name": "Old Client", "email": email, "mobile_phone_number": "+33601234567"}),
        )
        .await)
    .await;
    let user_id = created["user_id"].as_str().unwrap().to_string();
    let temporary = app.smtp.temporary_password(email, 0).await;
    let confirmed = ok(app
        .post(
            &format!("/v1/users/{user_id}/confirm"),
            json!({"email": email, "temporary_password": temporary, "new_password": NEW_PASSWORD}),
        )
        .await)
    .await;
    let secret = confirmed["qr_code_secret"].as_str().unwrap().to_string();
    (user_id, secret, confirmed)
}

/// The original's React example app: it shows `qr_code_secret_url` as an
/// image and confirms the MFA with `{email, otp}` only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_clients_show_the_qr_image_and_confirm_mfa_without_a_session() {
    let app = compat_app().await;
    let email = "old.client@example.com";
    let (user_id, secret, confirmed) = confirmed_user(&app, email).await;
    assert_eq!(
        qr_image_content(&confirmed["qr_code_secret_url"]),
        confirmed["otpauth_uri"].as_str().unwrap()
    );
    let path = format!("/v1/users/{user_id}/confirm-mfa");
    let confirm_mfa = |otp: String| app.post(&path, json!({"email": email, "otp": otp}));
    let good = now_code(&secret).await;
    let wrong = if good == "000000" { "111111" } else { "000000" };
    message(confirm_mfa(wrong.into()).await, 400).await;
    let done = ok(confirm_mfa(good.clone()).await).await;
    assert_eq!(done["mfa_status"], "CONFIRMED");
    assert_eq!(done["recovery_codes"].as_array().unwrap().len(), 10);
    // Enrolled: nothing is pending any more.
    message(confirm_mfa(good).await, 401).await;
    // The enrolment works: the user signs in with the authenticator.
    login(&app, email, NEW_PASSWORD, totp_at(&secret, now() + 30)).await;

    // The same tries as with the session: three wrong codes spend it.
    let other = "older.tries@example.com";
    let (other_id, other_secret, _) = confirmed_user(&app, other).await;
    let other_path = format!("/v1/users/{other_id}/confirm-mfa");
    let other_confirm = |otp: String| app.post(&other_path, json!({"email": other, "otp": otp}));
    let good = now_code(&other_secret).await;
    let wrong = if good == "000000" { "111111" } else { "000000" };
    for _ in 0..3 {
        message(other_confirm(wrong.into()).await, 400).await;
    }
    message(other_confirm(good).await, 401).await;
    // Another user's id with this address is refused as before.
    message(
        app.post(
            &format!("/v1/users/{user_id}/confirm-mfa"),
            json!({"email": other, "otp": "123456"}),
        )
        .await,
        404,
    )
    .await;
    app.finish().await;
}

/// The code of the embedded provider's authenticator now.
async fn now_code(secret: &str) -> String {
    totp_at(secret, now())
}

/// `DELETE` a path, with a bearer token or none.
async fn delete(app: &TestApp, path: &str, token: Option<&str>) -> Response {
    let request = app.client.delete(app.url(path));
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    request.send().await.unwrap()
}

/// login then mfa-verify with `code`: the tokens.
async fn login(app: &TestApp, email: &str, password: &str, code: String) -> Value {
    let step = ok(app
        .post("/v1/login", json!({"email": email, "password": password}))
        .await)
    .await;
    assert_eq!(step["email"], email);
    assert_eq!(step["verification_type"], "SOFTWARE_TOKEN_MFA");
    let tokens = ok(app
        .post(
            "/v1/mfa-verify",
            json!({
                "email": email,
                "verification_type": "SOFTWARE_TOKEN_MFA",
                "verification_session": step["verification_session"],
                "otp_code": code,
            }),
        )
        .await)
    .await;
    for field in ["id_token", "access_token", "refresh_token"] {
        assert!(tokens[field].as_str().is_some_and(|t| !t.is_empty()));
    }
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens.as_object().unwrap().len(), 4);
    tokens
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_readme_sequence_end_to_end() {
    let app = compat_app().await;
    let email = "user@example.com";
    let (user_id, secret, recovery_codes) = enrolled_user_with_codes(&app, email, now_code).await;

    // The user id is the provider subject, as the original answers Cognito's.
    let session = login(&app, email, NEW_PASSWORD, totp_at(&secret, now() + 30)).await;
    let claims = common::claims_of(session["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], user_id.as_str());

    let refreshed = ok(app
        .post(
            "/v1/refresh-token",
            json!({"email": email, "refresh_token": session["refresh_token"]}),
        )
        .await)
    .await;
    assert_eq!(refreshed["email"], email);
    assert_eq!(refreshed["expires_in"], 3600);
    assert_ne!(refreshed["refresh_token"], session["refresh_token"]);
    let access = refreshed["access_token"].as_str().unwrap().to_string();
    let id_token = refreshed["id_token"].as_str().unwrap().to_string();

    // userinfo: the id token (as the original client sends it) and the access token.
    for token in [&id_token, &access] {
        let info = ok(app.get_bearer("/v1/userinfo", token).await).await;
        assert_eq!(
            info,
            json!({"name": "Jane Doe", "user_id": user_id, "email": email,
                   "phone_number": "+33601234567", "groups": []})
        );
    }
    // The id token is accepted there only.
    let response = app.get_bearer("/v1/auth/subject", &id_token).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // change-password with the access token in the body.
    let changed = ok(app
        .post(
            &format!("/v1/users/{user_id}/change-password"),
            json!({"email": email, "old_password": NEW_PASSWORD,
                   "new_password": CHANGED_PASSWORD, "access_token": access}),
        )
        .await)
    .await;
    assert_eq!(changed["user_id"], user_id.as_str());
    let response = app
        .post(
            "/v1/login",
            json!({"email": email, "password": NEW_PASSWORD}),
        )
        .await;
    message(response, 401).await;

    // logout; the access token is refused afterwards.
    let out = ok(app
        .post(
            "/v1/logout",
            json!({"email": email, "access_token": access}),
        )
        .await)
    .await;
    assert_eq!(out, json!({"user_status": "logout"}));
    message(app.get_bearer("/v1/userinfo", &access).await, 401).await;
    message(app.get_bearer("/v1/userinfo", &id_token).await, 401).await;

    // forgot-password, confirm-password with the mailed code.
    let forgot = ok(app
        .post("/v1/forgot-password", json!({"email": email}))
        .await)
    .await;
    assert_eq!(
        forgot,
        json!({"email": email, "status": "PASSWORD_FORGOT_CONFIRMATION_SENT"})
    );
    let code = app.smtp.code(email, 1).await;
    let set = ok(app
        .post(
            &format!("/v1/users/{user_id}/confirm-password"),
            json!({"email": email, "new_password": RESET_PASSWORD, "verification_code": code}),
        )
        .await)
    .await;
    assert_eq!(
        set,
        json!({"email": email, "user_id": user_id, "status": "NEW_PASSWORD_SET_SUCCESSFULLY"})
    );

    // mfa-reset: start, verify (code + password), confirm with the new
    // authenticator. Right after a mailed password reset a mailbox is not
    // enough: the verify step also takes a recovery code.
    let started = ok(app
        .post("/v1/mfa-reset/start", json!({"email": email}))
        .await)
    .await;
    assert_eq!(started["status"], "MFA_RESET_CODE_SENT");
    let code = app.smtp.code(email, 2).await;
    let issued = ok(app
        .post(
            "/v1/mfa-reset/verify",
            json!({"email": email, "session": started["session"], "code": code,
                   "password": RESET_PASSWORD, "recovery_code": recovery_codes[0]}),
        )
        .await)
    .await;
    assert_eq!(issued["status"], "NEW_TOTP_ISSUED");
    let new_secret = issued["qr_code_secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret, "never the old secret again");
    assert!(
        issued["otpauth_uri"]
            .as_str()
            .unwrap()
            .contains(&new_secret)
    );
    assert_eq!(
        qr_image_content(&issued["qr_code_secret_url"]),
        issued["otpauth_uri"].as_str().unwrap()
    );
    let done = ok(app
        .post(
            "/v1/mfa-reset/confirm",
            json!({"access_token": issued["access_token"], "otp": totp_at(&new_secret, now())}),
        )
        .await)
    .await;
    assert_eq!(done["status"], "MFA_RESET_COMPLETE");
    assert_eq!(
        done["recovery_codes"].as_array().unwrap().len(),
        10,
        "{done}"
    );

    // Only the new authenticator signs in; then the user deletes itself.
    let session = login(
        &app,
        email,
        RESET_PASSWORD,
        totp_at(&new_secret, now() + 30),
    )
    .await;
    let access = session["access_token"].as_str().unwrap();
    let response = delete(&app, &format!("/v1/users/{user_id}"), Some(access)).await;
    let deleted = ok(response).await;
    assert_eq!(deleted["user_id"], user_id.as_str());
    let response = app
        .post(
            "/v1/login",
            json!({"email": email, "password": RESET_PASSWORD}),
        )
        .await;
    message(response, 401).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_accounts_get_the_same_answers() {
    let app = compat_app().await;
    let email = "known@example.com";
    enrolled_user(&app, email, now_code).await;
    let before = app.smtp.count_settled(email).await;
    for (path, status) in [
        (
            "/v1/forgot-password",
            Some("PASSWORD_FORGOT_CONFIRMATION_SENT"),
        ),
        (
            "/v1/resend-confirmation-code",
            Some("CONFIRMATION_CODE_SENT"),
        ),
        ("/v1/mfa-reset/start", Some("MFA_RESET_CODE_SENT")),
    ] {
        let known = ok(app.post(path, json!({"email": email})).await).await;
        let unknown = ok(app.post(path, json!({"email": "ghost@example.com"})).await).await;
        assert_eq!(known["status"], status.unwrap());
        assert_eq!(unknown["status"], status.unwrap());
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&known), keys(&unknown), "{path}");
    }
    assert_eq!(app.smtp.count_settled("ghost@example.com").await, 0);
    assert!(app.smtp.count_settled(email).await > before);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_a_message_with_a_4xx_status() {
    let app = compat_app().await;
    let email = "err@example.com";
    let (user_id, secret) = enrolled_user(&app, email, now_code).await;

    // Bad JSON: 400.
    let response = app
        .client
        .post(app.url("/v1/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    message(response, 400).await;
    // Missing fields.
    let text = message(app.post("/v1/login", json!({"email": email})).await, 422).await;
    assert!(text.contains("password"), "{text}");
    message(app.post("/v1/users", json!({"full_name": "X"})).await, 422).await;
    // Wrong password, unknown user: the same 401.
    let wrong = message(
        app.post(
            "/v1/login",
            json!({"email": email, "password": "Wrong-Password-1!"}),
        )
        .await,
        401,
    )
    .await;
    let unknown = message(
        app.post(
            "/v1/login",
            json!({"email": "ghost@example.com", "password": "Wrong-Password-1!"}),
        )
        .await,
        401,
    )
    .await;
    assert_eq!(wrong, unknown);
    // Wrong otp: 400; wrong verification_type: 422.
    let step = ok(app
        .post(
            "/v1/login",
            json!({"email": email, "password": NEW_PASSWORD}),
        )
        .await)
    .await;
    let good = totp_at(&secret, now() + 30);
    let bad = if good == "000000" { "111111" } else { "000000" };
    let verify = |kind: &str, otp: &str| {
        app.post(
            "/v1/mfa-verify",
            json!({"email": email, "verification_type": kind,
                   "verification_session": step["verification_session"], "otp_code": otp}),
        )
    };
    message(verify("SMS_MFA", &good).await, 422).await;
    message(verify("SOFTWARE_TOKEN_MFA", bad).await, 400).await;
    ok(verify("SOFTWARE_TOKEN_MFA", &good).await).await;
    // A path user id that is not this email's: 404, as for an unknown id.
    let other = message(
        app.post(
            "/v1/users/not-a-user/confirm-password",
            json!({"email": email, "new_password": RESET_PASSWORD, "verification_code": "123456"}),
        )
        .await,
        404,
    )
    .await;
    let mismatch = message(
        app.post(
            &format!("/v1/users/{user_id}/confirm-password"),
            json!({"email": "someone@example.com", "new_password": RESET_PASSWORD,
                   "verification_code": "123456"}),
        )
        .await,
        404,
    )
    .await;
    assert_eq!(other, mismatch);
    // An already-used email answers like a new one (a decoy user_id, a
    // notice to the owner): the profile tells no stranger who has an account.
    let again = ok(app
        .post(
            "/v1/users",
            json!({"full_name": "Again", "email": email, "mobile_phone_number": "+33601234567"}),
        )
        .await)
    .await;
    assert_eq!(again["status"], "CREATED");
    app.smtp.notice(email, "tried to sign up").await;
    // No token at userinfo; another method on a profile route.
    message(app.get("/v1/userinfo").await, 401).await;
    message(app.get("/v1/login").await, 405).await;
    let response = app
        .client
        .post(app.url("/v1/login"))
        .body("email=a")
        .send()
        .await
        .unwrap();
    message(response, 422).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_cannot_delete_or_change_a_user_but_an_admin_can() {
    let app = compat_app().await;
    let (alice, alice_secret) = enrolled_user(&app, "alice@example.com", now_code).await;
    let (bob, _) = enrolled_user(&app, "bob@example.com", now_code).await;
    let session = login(
        &app,
        "alice@example.com",
        NEW_PASSWORD,
        totp_at(&alice_secret, now() + 30),
    )
    .await;
    let access = session["access_token"].as_str().unwrap();
    let response = delete(&app, &format!("/v1/users/{bob}"), Some(access)).await;
    message(response, 403).await;
    // An unknown id answers the same to a non-admin.
    let response = delete(
        &app,
        "/v1/users/00000000-0000-0000-0000-000000000000",
        Some(access),
    )
    .await;
    message(response, 403).await;
    let response = app
        .post(
            &format!("/v1/users/{bob}/change-password"),
            json!({"email": "bob@example.com", "old_password": NEW_PASSWORD,
                   "new_password": CHANGED_PASSWORD, "access_token": access}),
        )
        .await;
    message(response, 403).await;
    // Forcing a reset is for platform admins only.
    let response = app
        .client
        .post(app.url(&format!("/v1/users/{bob}/reset-password")))
        .bearer_auth(access)
        .json(&json!({"email": "bob@example.com"}))
        .send()
        .await
        .unwrap();
    message(response, 403).await;
    // No token: 401.
    let response = delete(&app, &format!("/v1/users/{alice}"), None).await;
    message(response, 401).await;
    // Bob still signs in.
    let response = app
        .post(
            "/v1/login",
            json!({"email": "bob@example.com", "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    // A platform admin may force a reset and delete another user.
    let pool = app.db.pool().await;
    sqlx::query("UPDATE app_users SET platform_role = 'admin' WHERE email = $1")
        .bind("alice@example.com")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let response = app
        .client
        .post(app.url(&format!("/v1/users/{bob}/reset-password")))
        .bearer_auth(access)
        .json(&json!({"email": "bob@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok(response).await["status"], "PASSWORD_RESET_REQUIRED");
    let response = delete(&app, &format!("/v1/users/{bob}"), Some(access)).await;
    assert_eq!(ok(response).await["status"], "DELETED");
    let response = delete(&app, &format!("/v1/users/{bob}"), Some(access)).await;
    message(response, 404).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_before_confirmation_says_what_to_do() {
    let app = compat_app().await;
    let email = "early@example.com";
    let created = ok(app
        .post(
            "/v1/users",
            json!({"full_name": "Early", "email": email, "mobile_phone_number": ""}),
        )
        .await)
    .await;
    let user_id = created["user_id"].as_str().unwrap().to_string();
    let temporary = app.smtp.temporary_password(email, 0).await;
    let text = message(
        app.post("/v1/login", json!({"email": email, "password": temporary}))
            .await,
        403,
    )
    .await;
    assert!(text.contains("confirm"), "{text}");
    // Confirmed, MFA not yet: login says to confirm the MFA.
    ok(app
        .post(
            &format!("/v1/users/{user_id}/confirm"),
            json!({"email": email, "temporary_password": temporary, "new_password": NEW_PASSWORD}),
        )
        .await)
    .await;
    let text = message(
        app.post(
            "/v1/login",
            json!({"email": email, "password": NEW_PASSWORD}),
        )
        .await,
        403,
    )
    .await;
    assert!(text.contains("MFA"), "{text}");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_api_key_is_ignored_and_cors_preflight_answers() {
    let app = compat_app().await;
    let response = app
        .client
        .post(app.url("/v1/forgot-password"))
        .header("x-api-key", "whatever-the-client-had")
        .json(&json!({"email": "nobody@example.com"}))
        .send()
        .await
        .unwrap();
    ok(response).await;

    let response = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/v1/login"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-api-key,authorization",
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_lowercase())
            .unwrap_or_default()
    };
    assert_eq!(
        header("access-control-allow-origin"),
        "http://localhost:3000"
    );
    let allowed = header("access-control-allow-headers");
    for name in ["content-type", "x-api-key", "authorization"] {
        assert!(allowed.contains(name), "{allowed}");
    }
    assert!(header("access-control-allow-methods").contains("post"));

    // Another origin gets no CORS grant.
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/v1/login"))
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_answers_are_a_message_too() {
    let app = TestApp::start_with(Engine::Sqlite, |s| {
        s.compat_cognito_api = true;
        s.mfa = MfaMode::Required;
        s.rate_limits = "recovery=2/60s".into();
    })
    .await;
    let mut last = None;
    for _ in 0..5 {
        let response = app
            .post("/v1/forgot-password", json!({"email": "a@example.com"}))
            .await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            last = Some(response);
            break;
        }
    }
    let response = last.expect("the limit applies to the profile");
    assert!(response.headers().contains_key("retry-after"));
    message(response, 429).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_routes_say_which_setting_turns_passkeys_on() {
    // The default public URL is an IP address: no relying party.
    let app = compat_app().await;
    let (user_id, secret) = enrolled_user(&app, "pk-off@example.com", now_code).await;
    let tokens = login(
        &app,
        "pk-off@example.com",
        NEW_PASSWORD,
        totp_at(&secret, now() + 30),
    )
    .await;
    let access = tokens["access_token"].as_str().unwrap();
    let response = app.post_bearer("/v1/passkeys/register/start", access).await;
    let text = message(response, 501).await;
    assert!(text.contains("AUTHGATE_WEBAUTHN_RP_ID"), "{text}");
    let text = message(
        app.post(
            "/v1/passkeys/login/start",
            json!({"email": "pk-off@example.com"}),
        )
        .await,
        501,
    )
    .await;
    assert!(text.contains("passkeys are off"), "{text}");
    assert!(!user_id.is_empty());
    app.finish().await;
}

/// The profile with passkeys bound to `localhost`.
async fn compat_passkey_app() -> TestApp {
    crate::passkeys::passkey_app_with(Engine::Sqlite, |s| {
        s.compat_cognito_api = true;
        s.mfa = MfaMode::Required;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkeys_register_list_sign_in_and_delete_on_the_profile() {
    let app = compat_passkey_app().await;
    let email = "pk-compat@example.com";
    let (_, secret) = enrolled_user(&app, email, now_code).await;
    let tokens = login(&app, email, NEW_PASSWORD, totp_at(&secret, now() + 30)).await;
    let access = tokens["access_token"].as_str().unwrap();
    let mut key = crate::passkeys::device(&app);

    // The token as a bearer header…
    let started = ok(app.post_bearer("/v1/passkeys/register/start", access).await).await;
    let options = &started["credential_creation_options"];
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    let credential = key.create(options).await;
    // …or in the body.
    let registered = ok(app
        .post(
            "/v1/passkeys/register/complete",
            json!({"access_token": access, "session": started["session"],
                   "credential": credential, "friendly_name": "YubiKey"}),
        )
        .await)
    .await;
    assert_eq!(registered["status"], "PASSKEY_REGISTERED");
    let id = registered["credential_id"].as_str().unwrap().to_string();

    let listed = ok(app
        .post("/v1/passkeys/list", json!({"access_token": access}))
        .await)
    .await;
    assert_eq!(listed["passkeys"][0]["credential_id"], id.as_str());
    assert_eq!(listed["passkeys"][0]["friendly_name"], "YubiKey");
    assert!(listed["passkeys"][0]["last_used_at"].is_null());

    // Sign-in: no MFA step after the passkey, although MFA is required.
    let start = ok(app
        .post("/v1/passkeys/login/start", json!({"email": email}))
        .await)
    .await;
    assert_eq!(start["email"], email);
    let assertion = key.get(&start["credential_request_options"]).await;
    let signed_in = ok(app
        .post(
            "/v1/passkeys/login/complete",
            json!({"email": email, "session": start["session"], "credential": assertion}),
        )
        .await)
    .await;
    for field in ["id_token", "access_token", "refresh_token"] {
        assert!(
            signed_in[field].as_str().is_some_and(|t| !t.is_empty()),
            "{field}"
        );
    }
    assert_eq!(signed_in["expires_in"], 3600);
    let info = app
        .get_bearer("/v1/userinfo", signed_in["access_token"].as_str().unwrap())
        .await;
    assert_eq!(ok(info).await["email"], email);

    // The ceremony is bound to the address it was started for.
    let start = ok(app
        .post("/v1/passkeys/login/start", json!({"email": email}))
        .await)
    .await;
    let assertion = key.get(&start["credential_request_options"]).await;
    message(
        app.post(
            "/v1/passkeys/login/complete",
            json!({"email": "someone@example.com", "session": start["session"], "credential": assertion}),
        )
        .await,
        401,
    )
    .await;

    // An unknown address: the same shape.
    let stranger = ok(app
        .post(
            "/v1/passkeys/login/start",
            json!({"email": "nobody@example.com"}),
        )
        .await)
    .await;
    let keys = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&stranger), keys(&start));
    assert_eq!(
        keys(&stranger["credential_request_options"]),
        keys(&start["credential_request_options"])
    );

    let deleted = ok(app
        .post(
            "/v1/passkeys/delete",
            json!({"access_token": access, "credential_id": id}),
        )
        .await)
    .await;
    assert_eq!(deleted["status"], "PASSKEY_DELETED");
    let listed = ok(app.post_bearer("/v1/passkeys/list", access).await).await;
    assert_eq!(listed["passkeys"], json!([]));
    message(
        app.post(
            "/v1/passkeys/delete",
            json!({"access_token": access, "credential_id": id}),
        )
        .await,
        404,
    )
    .await;
    message(app.post("/v1/passkeys/list", json!({})).await, 401).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_is_in_the_openapi_document() {
    let app = compat_app().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    for path in [
        "/v1/users",
        "/v1/users/{user_id}",
        "/v1/users/{user_id}/confirm",
        "/v1/login",
        "/v1/mfa-verify",
        "/v1/userinfo",
        "/v1/passkeys/login/complete",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    // The profile's bodies keep their own names beside the native ones of
    // the same Rust name (one overwrote the other, so clients sent
    // `accessToken` where the profile reads `access_token`).
    let body = |path: &str| {
        let reference = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["$ref"]
            .as_str()
            .unwrap()
            .trim_start_matches("#/components/schemas/")
            .to_string();
        doc["components"]["schemas"][reference]["required"].clone()
    };
    assert_eq!(
        body("/v1/mfa-reset/confirm"),
        json!(["access_token", "otp"])
    );
    assert_eq!(
        body("/v1/auth/mfa-reset/confirm"),
        json!(["accessToken", "code"])
    );
    // 400 (malformed JSON) is a `{message}` like every profile refusal.
    assert!(
        doc["paths"]["/v1/login"]["post"]["responses"]["400"]["content"]["application/json"]
            .is_object()
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_are_absent_when_the_profile_is_off() {
    let app = TestApp::start_with(Engine::Sqlite, |s| s.mfa = MfaMode::Required).await;
    for path in [
        "/v1/users",
        "/v1/login",
        "/v1/forgot-password",
        "/v1/passkeys/list",
    ] {
        let response = app.post(path, json!({"email": "a@example.com"})).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        app.get("/v1/userinfo").await.status(),
        StatusCode::NOT_FOUND
    );
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert!(doc["paths"]["/v1/login"].is_null());
    app.finish().await;
}

/// The same sequence on the Cognito provider, against a pool in moto.
#[cfg(feature = "cognito")]
mod moto {
    use super::*;
    use crate::common::{current_totp, moto_app};

    /// create -> mailed temporary password -> confirm (NEW_PASSWORD_REQUIRED,
    /// then MFA_SETUP_REQUIRED) -> confirm-mfa -> login -> mfa-verify ->
    /// refresh-token -> userinfo (id and access token) -> change-password ->
    /// logout -> delete with its own new session. moto accepts a TOTP step
    /// more than once, so both logins use the current step.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_original_readme_sequence_on_moto() {
        let app = moto_app(true, |s| {
            s.compat_cognito_api = true;
            s.mfa = MfaMode::Required;
        })
        .await;
        let email = "mia@example.com";
        let (user_id, secret) = enrolled_user(&app, email, current_totp).await;

        let session = login(&app, email, NEW_PASSWORD, current_totp(&secret).await).await;
        let refreshed = ok(app
            .post(
                "/v1/refresh-token",
                json!({"email": email, "refresh_token": session["refresh_token"]}),
            )
            .await)
        .await;
        assert_eq!(refreshed["email"], email);
        for token in [&refreshed["id_token"], &refreshed["access_token"]] {
            let info = ok(app
                .get_bearer("/v1/userinfo", token.as_str().unwrap())
                .await)
            .await;
            assert_eq!(info["user_id"], user_id.as_str());
            assert_eq!(info["email"], email);
        }
        let access = refreshed["access_token"].as_str().unwrap().to_string();
        ok(app
            .post(
                &format!("/v1/users/{user_id}/change-password"),
                json!({"email": email, "old_password": NEW_PASSWORD,
                       "new_password": CHANGED_PASSWORD, "access_token": access}),
            )
            .await)
        .await;
        let out = ok(app
            .post(
                "/v1/logout",
                json!({"email": email, "access_token": access}),
            )
            .await)
        .await;
        assert_eq!(out["user_status"], "logout");
        message(app.get_bearer("/v1/userinfo", &access).await, 401).await;

        let session = login(&app, email, CHANGED_PASSWORD, current_totp(&secret).await).await;
        let response = delete(
            &app,
            &format!("/v1/users/{user_id}"),
            Some(session["access_token"].as_str().unwrap()),
        )
        .await;
        ok(response).await;
        app.finish().await;
    }
}
