//! Passkeys on the native contract (`/v1/auth/passkeys/*`), driven by a
//! software authenticator ([`SoftPasskey`]) that answers with the WebAuthn
//! Level 3 JSON a browser's `toJSON()` gives: registration, the list,
//! sign-in with and without an email, MFA satisfied by the passkey, the
//! decoy answer for addresses without passkeys, deletion, and every refusal
//! with the reason its audit row records. The relying party is `localhost`,
//! the origin `http://localhost:<port>`, as on a development machine.

use crate::common::api::{Answer, SignInOutcome, refused};
use crate::common::passkey::SoftPasskey;
use crate::common::{Engine, PASSWORD, TestApp, now, totp_at};
use authgate_api_types::native::{PasskeyView, SessionResponse};
use authgate_service::settings::MfaMode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

on_both_engines!(
    a_passkey_is_registered_listed_and_signs_in_with_or_without_an_email,
    a_passkey_is_the_whole_sign_in_even_when_mfa_is_required,
    refused_passkeys_answer_invalid_credentials_and_audit_the_reason,
    registration_needs_user_verification_and_a_credential_of_nobody_else,
    an_address_without_passkeys_gets_the_same_shape_every_time,
    deleting_a_passkey_ends_nothing_else_and_only_the_owner_may,
);

/// An app whose passkeys are bound to `localhost`, with `configure` on top.
pub async fn passkey_app_with(
    engine: Engine,
    configure: impl FnOnce(&mut authgate_service::Settings),
) -> TestApp {
    TestApp::start_with(engine, |s| {
        s.webauthn_rp_id = Some("localhost".into());
        s.webauthn_origins = origin_of(&s.listen);
        configure(s);
    })
    .await
}

async fn passkey_app(engine: Engine) -> TestApp {
    passkey_app_with(engine, |_| {}).await
}

/// `http://localhost:<port>` for a listen address.
fn origin_of(listen: &str) -> String {
    let port = listen.rsplit(':').next().unwrap();
    format!("http://localhost:{port}")
}

/// The device of a person, at the app's origin.
pub fn device(app: &TestApp) -> SoftPasskey {
    SoftPasskey::new(&origin_of(&app.settings.listen))
}

/// A confirmed user who signed in with the password: the access token.
async fn signed_in(app: &TestApp, email: &str) -> String {
    app.confirmed_user(email).await;
    app.session(email).await.access_token
}

/// Register a passkey of `device` for the signed-in `access` token.
pub async fn register(
    app: &TestApp,
    device: &mut SoftPasskey,
    access: &str,
    name: Option<&str>,
) -> PasskeyView {
    let api = app.api();
    let ceremony = api
        .passkey_register_start(access)
        .await
        .expect("registration starts");
    let credential = device.create(&ceremony.options).await;
    api.passkey_register_complete(access, &ceremony.session, credential, name)
        .await
        .expect("the new passkey is stored")
}

/// Sign in with `device` (for `email`, or discoverable): the answer.
async fn passkey_sign_in(
    app: &TestApp,
    device: &mut SoftPasskey,
    email: Option<&str>,
) -> Answer<SessionResponse> {
    let api = app.api();
    let ceremony = api
        .passkey_sign_in_start(email)
        .await
        .expect("sign-in starts");
    let assertion = device.get(&ceremony.options).await;
    api.passkey_sign_in_complete(&ceremony.session, assertion)
        .await
}

/// A refused passkey sign-in: one answer whatever the reason.
fn not_signed_in(answer: Answer<SessionResponse>) {
    refused(answer, 401, "invalid_credentials");
}

/// The reason of the newest failed passkey sign-in in the audit trail.
async fn audited_refusal(app: &TestApp, count: usize) -> Vec<String> {
    let refused_sign_in =
        |r: &crate::common::AuditSeen| r.kind == "sign_in" && r.outcome == "failure";
    let mut rows;
    loop {
        rows = app.audit_rows_once(refused_sign_in).await;
        if rows.iter().filter(|r| refused_sign_in(r)).count() >= count {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    rows.into_iter()
        .filter(refused_sign_in)
        .map(|r| {
            assert_eq!(r.method.as_deref(), Some("passkey"));
            r.reason.unwrap()
        })
        .collect()
}

async fn a_passkey_is_registered_listed_and_signs_in_with_or_without_an_email(engine: Engine) {
    let app = passkey_app(engine).await;
    let api = app.api();
    let access = signed_in(&app, "pk-ann@example.com").await;

    let ceremony = api.passkey_register_start(&access).await.unwrap();
    let options = &ceremony.options;
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["rp"]["name"], "authgate");
    assert_eq!(options["user"]["name"], "pk-ann@example.com");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert_eq!(options["attestation"], "none");
    assert!(
        URL_SAFE_NO_PAD
            .decode(options["challenge"].as_str().unwrap())
            .is_ok_and(|c| c.len() >= 16)
    );
    let mut laptop = device(&app);
    let credential = laptop.create(options).await;
    let view = api
        .passkey_register_complete(&access, &ceremony.session, credential, Some(" Laptop "))
        .await
        .unwrap();
    assert_eq!(view.name.as_deref(), Some("Laptop"));
    assert!(view.last_used_at.is_none());
    assert!(view.backed_up, "this software passkey says it is synced");

    let list = api.passkeys(&access).await.unwrap();
    assert_eq!(list.passkeys.len(), 1);
    assert_eq!(list.passkeys[0].id, view.id);

    // With the email: the user's passkeys are allowed, nothing else.
    let start = api
        .passkey_sign_in_start(Some("PK-Ann@Example.com"))
        .await
        .unwrap();
    assert_eq!(
        start.options["allowCredentials"],
        json!([{"type": "public-key", "id": view.id}])
    );
    assert_eq!(start.options["userVerification"], "required");
    let assertion = laptop.get(&start.options).await;
    let session = api
        .passkey_sign_in_complete(&start.session, assertion)
        .await
        .expect("the passkey signs in");
    assert_eq!(session.user.email.as_deref(), Some("pk-ann@example.com"));
    let subject = api.subject(&session.access_token).await.unwrap();
    assert_eq!(subject.user.id, session.user.id);
    assert!(session.refresh_token.is_some());

    // Without: a discoverable ceremony, the authenticator picks the account.
    let start = api.passkey_sign_in_start(None).await.unwrap();
    assert!(
        start.options["allowCredentials"]
            .as_array()
            .is_none_or(|a| a.is_empty())
    );
    let assertion = laptop.get(&start.options).await;
    let again = api
        .passkey_sign_in_complete(&start.session, assertion)
        .await
        .expect("the discoverable passkey signs in");
    assert_eq!(again.user.sub, session.user.sub);

    let used = api.passkeys(&access).await.unwrap();
    assert!(used.passkeys[0].last_used_at.is_some());
    let rows = app
        .audit_rows_once(|r| r.kind == "sign_in" && r.method.as_deref() == Some("passkey"))
        .await;
    assert!(rows.iter().any(|r| r.kind == "passkey_registered"
        && r.target.as_deref() == Some(&format!("passkey:{}", view.id))));
    assert!(
        rows.iter()
            .any(|r| r.kind == "sign_in" && r.method.as_deref() == Some("password")),
        "the password sign-in says so too"
    );
    app.smtp
        .notice("pk-ann@example.com", "A passkey was added to your account")
        .await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    for (path, method) in [
        ("/v1/auth/passkeys/register/start", "post"),
        ("/v1/auth/passkeys/register/complete", "post"),
        ("/v1/auth/passkeys", "get"),
        ("/v1/auth/passkeys/{id}", "delete"),
        ("/v1/auth/passkeys/sign-in/start", "post"),
        ("/v1/auth/passkeys/sign-in/complete", "post"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is documented"
        );
    }
    app.finish().await;
}

async fn a_passkey_is_the_whole_sign_in_even_when_mfa_is_required(engine: Engine) {
    let app = passkey_app_with(engine, |s| s.mfa = MfaMode::Required).await;
    let api = app.api();
    let email = "pk-mfa@example.com";
    app.confirmed_user(email).await;
    let setup = api
        .sign_in(email, PASSWORD)
        .await
        .challenge("MFA_SETUP_REQUIRED");
    let secret = setup.parameters["secret"].clone();
    let session = api
        .answer_mfa_setup(email, &setup.session, &totp_at(&secret, now()))
        .await
        .session();
    let mut phone = device(&app);
    register(&app, &mut phone, &session.access_token, None).await;

    api.sign_in(email, PASSWORD)
        .await
        .challenge("TOTP_REQUIRED");
    let by_passkey = passkey_sign_in(&app, &mut phone, Some(email))
        .await
        .expect("no TOTP challenge after a user-verified passkey");
    api.subject(&by_passkey.access_token)
        .await
        .expect("a full session");
    app.finish().await;
}

/// Replace the signature of an assertion with another valid-looking one.
fn with_forged_signature(mut assertion: Value) -> Value {
    let signature = assertion["response"]["signature"].as_str().unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    assertion["response"]["signature"] = URL_SAFE_NO_PAD.encode(bytes).into();
    assertion
}

async fn refused_passkeys_answer_invalid_credentials_and_audit_the_reason(engine: Engine) {
    let app = passkey_app(engine).await;
    let api = app.api();
    let ann = "pk-ref-ann@example.com";
    let bob = "pk-ref-bob@example.com";
    let ann_access = signed_in(&app, ann).await;
    let bob_access = signed_in(&app, bob).await;
    let mut ann_key = device(&app);
    let mut bob_key = device(&app);
    register(&app, &mut ann_key, &ann_access, None).await;
    let bobs = register(&app, &mut bob_key, &bob_access, None).await;
    let mut expected = Vec::new();

    // A replayed ceremony: the session is single use.
    let start = api.passkey_sign_in_start(Some(ann)).await.unwrap();
    let start_ids = [start.options["allowCredentials"][0]["id"].clone()];
    let assertion = ann_key.get(&start.options).await;
    api.passkey_sign_in_complete(&start.session, assertion.clone())
        .await
        .expect("the first answer signs in");
    not_signed_in(
        api.passkey_sign_in_complete(&start.session, assertion)
            .await,
    );
    expected.push("session_invalid");

    // A signature that does not verify (and the ceremony is spent by it).
    let start = api.passkey_sign_in_start(Some(ann)).await.unwrap();
    let assertion = ann_key.get(&start.options).await;
    not_signed_in(
        api.passkey_sign_in_complete(&start.session, with_forged_signature(assertion.clone()))
            .await,
    );
    expected.push("passkey_signature");
    not_signed_in(
        api.passkey_sign_in_complete(&start.session, assertion)
            .await,
    );
    expected.push("session_invalid");

    // Bob's credential answering a ceremony opened for Ann.
    let for_ann = api.passkey_sign_in_start(Some(ann)).await.unwrap();
    let for_bob = api.passkey_sign_in_start(Some(bob)).await.unwrap();
    let bobs_answer = bob_key.get(&for_bob.options).await;
    not_signed_in(
        api.passkey_sign_in_complete(&for_ann.session, bobs_answer)
            .await,
    );
    expected.push("passkey_unknown");

    // A cloned authenticator: its counter is behind the original's.
    let mut clone = ann_key.clone_device();
    passkey_sign_in(&app, &mut ann_key, Some(ann))
        .await
        .unwrap();
    not_signed_in(passkey_sign_in(&app, &mut clone, Some(ann)).await);
    expected.push("passkey_counter");

    // A credential of nobody: Bob deleted his.
    api.delete_passkey(&bob_access, &bobs.id).await.unwrap();
    not_signed_in(passkey_sign_in(&app, &mut bob_key, None).await);
    expected.push("passkey_unknown");

    // A disabled account's passkey answers like an unknown one.
    let admin = app.admin_token("pk-ref-admin@example.com").await;
    let ann_id = app.session(ann).await.user.id;
    let response = app
        .client
        .post(app.url(&format!("/v1/admin/users/{ann_id}/disable")))
        .bearer_auth(&admin)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let decoy = api.passkey_sign_in_start(Some(ann)).await.unwrap();
    assert_ne!(
        decoy.options["allowCredentials"][0]["id"], start_ids[0],
        "a disabled account's address gets a decoy"
    );
    not_signed_in(passkey_sign_in(&app, &mut ann_key, None).await);
    expected.push("passkey_unknown");

    assert_eq!(audited_refusal(&app, expected.len()).await, expected);
    app.finish().await;
}

async fn registration_needs_user_verification_and_a_credential_of_nobody_else(engine: Engine) {
    let app = passkey_app(engine).await;
    let api = app.api();
    let ann_access = signed_in(&app, "pk-reg-ann@example.com").await;
    let bob_access = signed_in(&app, "pk-reg-bob@example.com").await;
    let mut key = device(&app);

    let ceremony = api.passkey_register_start(&ann_access).await.unwrap();
    let unverified = key.create_unverified(&ceremony.options).await;
    let problem = refused(
        api.passkey_register_complete(&ann_access, &ceremony.session, unverified, None)
            .await,
        422,
        "invalid_request",
    );
    assert_eq!(problem.field.as_deref(), Some("credential"));
    assert!(
        problem.detail.contains("user verification"),
        "{}",
        problem.detail
    );

    // A ceremony is the starter's: Bob cannot finish Ann's.
    let ceremony = api.passkey_register_start(&ann_access).await.unwrap();
    let credential = key.create(&ceremony.options).await;
    refused(
        api.passkey_register_complete(&bob_access, &ceremony.session, credential.clone(), None)
            .await,
        401,
        "invalid_session",
    );
    let ceremony = api.passkey_register_start(&ann_access).await.unwrap();
    let credential = key.create(&ceremony.options).await;
    let anns = api
        .passkey_register_complete(&ann_access, &ceremony.session, credential.clone(), None)
        .await
        .unwrap();
    refused(
        api.passkey_register_complete(&ann_access, &ceremony.session, credential.clone(), None)
            .await,
        401,
        "invalid_session",
    );

    // Ann's credential presented for Bob's ceremony (with attestation
    // `none` nothing but the client data binds it to a ceremony): refused,
    // a credential id belongs to one account.
    let bobs = api.passkey_register_start(&bob_access).await.unwrap();
    let mut replayed = credential;
    let client_data = json!({
        "type": "webauthn.create",
        "challenge": bobs.options["challenge"],
        "origin": origin_of(&app.settings.listen),
        "crossOrigin": false,
    });
    replayed["response"]["clientDataJSON"] = URL_SAFE_NO_PAD.encode(client_data.to_string()).into();
    let problem = refused(
        api.passkey_register_complete(&bob_access, &bobs.session, replayed, None)
            .await,
        422,
        "invalid_request",
    );
    assert!(
        problem.detail.contains("registered already"),
        "{}",
        problem.detail
    );
    assert!(api.passkeys(&bob_access).await.unwrap().passkeys.is_empty());
    assert_eq!(
        api.passkeys(&ann_access).await.unwrap().passkeys[0].id,
        anns.id
    );

    // Not WebAuthn JSON at all.
    let ceremony = api.passkey_register_start(&ann_access).await.unwrap();
    let problem = refused(
        api.passkey_register_complete(&ann_access, &ceremony.session, json!({"id": 1}), None)
            .await,
        422,
        "invalid_request",
    );
    assert_eq!(problem.field.as_deref(), Some("credential"));
    app.finish().await;
}

async fn an_address_without_passkeys_gets_the_same_shape_every_time(engine: Engine) {
    let app = passkey_app(engine).await;
    let api = app.api();
    let access = signed_in(&app, "pk-shape@example.com").await;
    register(&app, &mut device(&app), &access, None).await;
    app.confirmed_user("pk-nokeys@example.com").await;

    let keys = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    let real = api
        .passkey_sign_in_start(Some("pk-shape@example.com"))
        .await
        .unwrap();
    for email in ["pk-nobody@example.com", "pk-nokeys@example.com"] {
        let first = api.passkey_sign_in_start(Some(email)).await.unwrap();
        let second = api.passkey_sign_in_start(Some(email)).await.unwrap();
        assert_eq!(keys(&first.options), keys(&real.options), "{email}");
        assert_eq!(
            first.options["allowCredentials"], second.options["allowCredentials"],
            "{email}: the same decoy every time"
        );
        assert_ne!(first.options["challenge"], second.options["challenge"]);
        let decoy = first.options["allowCredentials"].as_array().unwrap();
        assert!(!decoy.is_empty(), "{email}");
        assert_eq!(keys(&decoy[0]), keys(&real.options["allowCredentials"][0]));
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(decoy[0]["id"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
        // Any credential answering a decoy is refused.
        let mut stranger = device(&app);
        let stranger_access = signed_in(&app, &format!("x-{email}")).await;
        register(&app, &mut stranger, &stranger_access, None).await;
        let discoverable = api.passkey_sign_in_start(None).await.unwrap();
        let assertion = stranger.get(&discoverable.options).await;
        not_signed_in(
            api.passkey_sign_in_complete(&first.session, assertion)
                .await,
        );
    }
    app.finish().await;
}

async fn deleting_a_passkey_ends_nothing_else_and_only_the_owner_may(engine: Engine) {
    let app = passkey_app(engine).await;
    let api = app.api();
    let ann_access = signed_in(&app, "pk-del-ann@example.com").await;
    let bob_access = signed_in(&app, "pk-del-bob@example.com").await;
    let mut key = device(&app);
    let first = register(&app, &mut key, &ann_access, Some("one")).await;
    let second = register(&app, &mut device(&app), &ann_access, Some("two")).await;

    refused(
        api.delete_passkey(&bob_access, &first.id).await,
        404,
        "not_found",
    );
    refused(
        api.delete_passkey(&ann_access, "bm90LWEta2V5").await,
        404,
        "not_found",
    );
    api.delete_passkey(&ann_access, &first.id).await.unwrap();
    refused(
        api.delete_passkey(&ann_access, &first.id).await,
        404,
        "not_found",
    );

    let left = api.passkeys(&ann_access).await.unwrap();
    assert_eq!(left.passkeys.len(), 1);
    assert_eq!(left.passkeys[0].id, second.id);
    api.subject(&ann_access)
        .await
        .expect("the session that deleted it lives on");
    api.sign_in("pk-del-ann@example.com", PASSWORD)
        .await
        .session();
    let rows = app
        .audit_rows_once(|r| r.kind == "passkey_deleted" && r.outcome == "success")
        .await;
    assert!(rows.iter().any(|r| r.kind == "passkey_deleted"
        && r.target.as_deref() == Some(&format!("passkey:{}", first.id))));
    app.finish().await;
}
