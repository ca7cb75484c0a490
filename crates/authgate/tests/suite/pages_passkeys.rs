//! Passkeys on the hosted pages (contracts/oauth.md, "Hosted pages";
//! contracts/passkeys.md): the offer to add one after a password sign-in,
//! its ceremony bound to the fresh browser session, "Not now" remembered,
//! and "Sign in with a passkey" ending in a code whose id token says `hwk`.
//! The authenticator is the suite's software one; the page's script is
//! played by the test (tests/browser runs the real one in Chromium).

use crate::common::browser::{
    AppClient, Browser, Form, location, public_client, redirect_params, token_answer,
};
use crate::common::{Engine, PASSWORD, TestApp, claims_of, json_of};
use crate::passkeys::{device, passkey_app_with};
use reqwest::Method;
use serde_json::{Value, json};

on_both_engines!(
    a_password_sign_in_offers_a_passkey_that_then_signs_in_alone,
    not_now_is_remembered_and_the_offer_needs_a_fresh_sign_in,
);

const CALLBACK: &str = "http://127.0.0.1:9/callback";

/// An app with passkeys on, a public client, and two confirmed users.
async fn passkey_app_with_client(engine: Engine) -> (TestApp, AppClient) {
    let app = passkey_app_with(engine, |_| {}).await;
    let admin = app.admin_token("root@example.com").await;
    let client = public_client(&app, &admin, "Notes", CALLBACK).await;
    for email in ["ada@example.com", "grace@example.com"] {
        app.confirmed_user(email).await;
    }
    (app, client)
}

/// What the offer page's script does on `Add a passkey`: the ceremony
/// from `/login/passkey/register/start`, then the page's form.
async fn add_passkey(
    browser: &mut Browser<'_>,
    offer: &Form,
    device: &mut crate::common::passkey::SoftPasskey,
) -> reqwest::Response {
    let started = browser
        .post(
            "/login/passkey/register/start",
            &[("csrf", offer.hidden("csrf"))],
        )
        .await;
    let started: Value = json_of(started, 200).await;
    let credential = device.create(&started["options"]).await;
    browser
        .post(
            "/login/passkey/register",
            &[
                ("csrf", offer.hidden("csrf")),
                ("authorize", offer.hidden("authorize")),
                ("session", started["session"].as_str().unwrap()),
                ("credential", &credential.to_string()),
            ],
        )
        .await
}

/// What the sign-in page's script does on `Sign in with a passkey`: a
/// discoverable ceremony from the JSON API, then the page's form. Answers
/// the form's answer and what was posted (to replay it).
async fn passkey_sign_in(
    browser: &mut Browser<'_>,
    client: &AppClient,
    device: &mut crate::common::passkey::SoftPasskey,
) -> (reqwest::Response, Vec<(String, String)>) {
    let page = browser.get(&client.authorize_path(&[])).await;
    let html = page.text().await.unwrap();
    assert!(html.contains(">Sign in with a passkey</button>"), "{html}");
    assert!(html.contains(r#"<script src="/login/passkey.js"></script>"#));
    let form = Form::of(&html);
    let started: Value = json_of(
        browser
            .app()
            .call(
                Method::POST,
                "/v1/auth/passkeys/sign-in/start",
                None,
                Some(json!({})),
            )
            .await,
        200,
    )
    .await;
    let credential = device.get(&started["options"]).await;
    let posted = vec![
        ("csrf".to_string(), form.hidden("csrf").to_string()),
        (
            "authorize".to_string(),
            form.hidden("authorize").to_string(),
        ),
        (
            "session".to_string(),
            started["session"].as_str().unwrap().to_string(),
        ),
        ("credential".to_string(), credential.to_string()),
    ];
    let answer = browser.post_pairs("/login/passkey", &posted).await;
    (answer, posted)
}

async fn a_password_sign_in_offers_a_passkey_that_then_signs_in_alone(engine: Engine) {
    let (app, client) = passkey_app_with_client(engine).await;
    let mut phone = device(&app);

    let mut browser = Browser::new(&app);
    let offer = browser
        .sign_in(&client.authorize_path(&[]), "ada@example.com", PASSWORD)
        .await;
    assert_eq!(offer.status(), 200, "the offer, not yet the client");
    let html = offer.text().await.unwrap();
    for label in [
        ">Add a passkey</button>",
        ">Not now</button>",
        "Sign in faster next time",
    ] {
        assert!(html.contains(label), "{label}: {html}");
    }
    let added = add_passkey(&mut browser, &Form::of(&html), &mut phone).await;
    assert_eq!(added.status(), 303);
    let back = browser.get(&location(&added)).await;
    assert!(location(&back).starts_with(CALLBACK), "on to the client");

    // Another browser signs in with the passkey alone.
    let mut other = Browser::new(&app);
    let (answer, posted) = passkey_sign_in(&mut other, &client, &mut phone).await;
    assert_eq!(answer.status(), 303, "{:?}", answer.text().await);
    let back = other.get(&location(&answer)).await;
    let code = redirect_params(&back)["code"].clone();
    let tokens = token_answer(client.exchange(&app, &code, &[]).await, 200).await;
    let id = claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["amr"], json!(["hwk"]));
    assert_eq!(id["email"], "ada@example.com");

    // The same assertion again (a replay) signs nobody in, in words.
    let mut thief = Browser::new(&app);
    thief.cookies = other.cookies.clone();
    thief.cookies.remove("authgate_session");
    let replayed = thief.post_pairs("/login/passkey", &posted).await;
    assert_eq!(replayed.status(), 401);
    let html = replayed.text().await.unwrap();
    assert!(html.contains("The passkey did not sign you in"), "{html}");
    assert!(!thief.cookies.contains_key("authgate_session"));

    // With a passkey, a password sign-in goes straight on.
    let mut third = Browser::new(&app);
    let back = third
        .sign_in(&client.authorize_path(&[]), "ada@example.com", PASSWORD)
        .await;
    assert_eq!(back.status(), 302, "no offer for an account with a passkey");
    app.finish().await;
}

async fn not_now_is_remembered_and_the_offer_needs_a_fresh_sign_in(engine: Engine) {
    let (app, client) = passkey_app_with_client(engine).await;
    let mut browser = Browser::new(&app);
    let offer = browser
        .sign_in(&client.authorize_path(&[]), "grace@example.com", PASSWORD)
        .await;
    assert_eq!(offer.status(), 200);
    let offer = Form::of(&offer.text().await.unwrap());

    // The ceremony needs the page's CSRF token and a browser session.
    let forged = browser
        .post("/login/passkey/register/start", &[("csrf", "forged")])
        .await;
    assert_eq!(forged.status(), 400);
    assert!(
        json_of(forged, 400).await["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    let mut stranger = Browser::new(&app);
    stranger.cookies = browser.cookies.clone();
    stranger.cookies.remove("authgate_session");
    let no_session = stranger
        .post(
            "/login/passkey/register/start",
            &[("csrf", offer.hidden("csrf"))],
        )
        .await;
    assert_eq!(no_session.status(), 401);
    // A browser session signed in longer ago than ten minutes adds nothing.
    let pool = app.db.pool().await;
    sqlx::query("UPDATE browser_sessions SET auth_time = auth_time - 601")
        .execute(&pool)
        .await
        .unwrap();
    let stale = browser
        .post(
            "/login/passkey/register/start",
            &[("csrf", offer.hidden("csrf"))],
        )
        .await;
    assert_eq!(stale.status(), 401, "an old sign-in adds no passkey");
    sqlx::query("UPDATE browser_sessions SET auth_time = auth_time + 601")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let skipped = browser
        .post(
            "/login/passkey/skip",
            &[
                ("csrf", offer.hidden("csrf")),
                ("authorize", offer.hidden("authorize")),
            ],
        )
        .await;
    assert_eq!(skipped.status(), 303);
    assert!(browser.cookies.contains_key("authgate_passkey_declined"));
    let back = browser.get(&location(&skipped)).await;
    assert!(location(&back).starts_with(CALLBACK));

    let again = browser
        .sign_in(
            &client.authorize_path(&[("prompt", "login")]),
            "grace@example.com",
            PASSWORD,
        )
        .await;
    assert_eq!(again.status(), 302, "Not now holds for this browser");
    app.finish().await;
}
