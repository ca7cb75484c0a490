//! Sign-in with an external OpenID provider (contracts/oauth.md,
//! "Federation") through authgate's pages, on SQLite and PostgreSQL: npm
//! `oidc-provider` is the upstream (its login name is the person's `sub`,
//! its address `<sub>@upstream.example`, verified unless the name starts
//! with "unverified"). The same app user every time, linking only on
//! verified addresses or after the person signs in to the account, and a
//! page in words for every failure.

use crate::common::browser::{
    AppClient, Browser, Form, location, public_client, redirect_params, token_answer,
};
use crate::common::{Engine, PASSWORD, TestApp, json_of};
use authgate_federation::testing::{UpstreamOp, free_port, sign_in_upstream, start_upstream};
use reqwest::Method;
use serde_json::{Value, json};

const CALLBACK: &str = "http://127.0.0.1:9/callback";

/// authgate with one external provider `upstream` (trusted to link on
/// verified addresses when `trusted`), and a public app client.
struct Federation {
    app: TestApp,
    upstream: UpstreamOp,
    client: AppClient,
}

async fn federation(engine: Engine, trusted: bool) -> Federation {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let upstream = start_upstream(&format!("{base}/oauth2/idpresponse")).await;
    let client_id = if trusted {
        "authgate-trusted"
    } else {
        "authgate"
    };
    let entry = json!([{
        "id": "upstream", "label": "Upstream", "issuer": upstream.issuer,
        "client_id": client_id, "client_secret": format!("{client_id}-secret"),
        "link_by_verified_email": trusted,
    }]);
    let app = TestApp::start_on(engine, listener, |settings| {
        settings.identity_providers = serde_json::from_value(entry).unwrap();
    })
    .await;
    let admin = app.admin_token("root@example.com").await;
    let client = public_client(&app, &admin, "Notes", CALLBACK).await;
    Federation {
        app,
        upstream,
        client,
    }
}

impl Federation {
    fn idp_response(&self) -> String {
        self.app.url("/oauth2/idpresponse")
    }

    /// Press `Continue with Upstream` on the sign-in page and sign in
    /// upstream as `login`: authgate's answer to the callback.
    async fn continue_with(&self, browser: &mut Browser<'_>, login: &str) -> reqwest::Response {
        let callback = self.upstream_callback(browser, login).await;
        browser.get(&callback).await
    }

    /// The same up to the callback URL the upstream sends the browser to.
    async fn upstream_callback(&self, browser: &mut Browser<'_>, login: &str) -> String {
        let page = browser.get(&self.client.authorize_path(&[])).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(
            html.contains(">Continue with Upstream</button>"),
            "no button: {html}"
        );
        let form = Form::of(&html);
        let started = browser
            .post(
                "/login/federated",
                &[
                    ("csrf", form.hidden("csrf")),
                    ("authorize", form.hidden("authorize")),
                    ("provider", form.hidden("provider")),
                ],
            )
            .await;
        assert_eq!(started.status(), 303, "not sent upstream");
        let upstream_url = location(&started);
        assert!(
            upstream_url.starts_with(&self.upstream.issuer),
            "{upstream_url}"
        );
        sign_in_upstream(&upstream_url, login, &self.idp_response()).await
    }

    /// A whole sign-in with the provider as `login` in a fresh browser:
    /// the code flow's tokens.
    async fn tokens_of(&self, login: &str) -> Value {
        let mut browser = Browser::new(&self.app);
        let back = self.continue_with(&mut browser, login).await;
        self.tokens_after(&mut browser, back).await
    }

    /// After authgate signed the browser in: the redirect to the client,
    /// its code exchanged.
    async fn tokens_after(&self, browser: &mut Browser<'_>, signed_in: reqwest::Response) -> Value {
        assert_eq!(signed_in.status(), 303, "not signed in");
        let back = browser.get(&location(&signed_in)).await;
        assert_eq!(back.status(), 302, "no code for the client");
        let code = redirect_params(&back)["code"].clone();
        token_answer(self.client.exchange(&self.app, &code, &[]).await, 200).await
    }

    async fn subject(&self, tokens: &Value) -> Value {
        json_of(
            self.app
                .get_bearer("/v1/auth/subject", tokens["access_token"].as_str().unwrap())
                .await,
            200,
        )
        .await
    }

    async fn identities(&self, token: &str) -> Value {
        json_of(self.app.get_bearer("/v1/auth/identities", token).await, 200).await
    }
}

/// An audit row's outcome, provider, target and method.
type FederatedRow = (String, String, Option<String>, Option<String>);

/// The claims of a JWT, unverified (the exchange checked it came from
/// authgate's token endpoint).
fn claims_of(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

async fn a_person_signs_in_with_the_provider_and_is_the_same_app_user_every_time(engine: Engine) {
    let fed = federation(engine, false).await;
    let tokens = fed.tokens_of("dana").await;
    let first = fed.subject(&tokens).await;
    assert_eq!(first["provider"], "oidc:upstream");
    assert_eq!(first["user"]["sub"], "dana");
    assert_eq!(first["user"]["email"], "dana@upstream.example");
    assert_eq!(first["user"]["name"], "Upstream dana");
    let id_token = claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["amr"], json!(["fed"]));
    assert_eq!(id_token["email"], "dana@upstream.example");

    // The address moves upstream: the same app user, with the new address.
    fed.upstream
        .move_address("dana", "dana.new@upstream.example")
        .await;
    let tokens = fed.tokens_of("dana").await;
    let again = fed.subject(&tokens).await;
    assert_eq!(again["user"]["id"], first["user"]["id"]);
    assert_eq!(again["user"]["email"], "dana.new@upstream.example");

    // The identity is listed; it is the account's only way in.
    let access = tokens["access_token"].as_str().unwrap();
    let listed = fed.identities(access).await;
    let identity = &listed["identities"][0];
    assert_eq!(listed["identities"].as_array().unwrap().len(), 1);
    assert_eq!(identity["provider"], "oidc:upstream");
    assert_eq!(identity["label"], "Upstream");
    assert_eq!(identity["issuer"], fed.upstream.issuer.as_str());
    assert_eq!(identity["subject"], "dana");
    assert_eq!(identity["email"], "dana.new@upstream.example");
    assert_eq!(identity["removable"], false);
    let path = format!("/v1/auth/identities/{}", identity["id"].as_str().unwrap());
    let refused = fed
        .app
        .call(Method::DELETE, &path, Some(access), None)
        .await;
    crate::common::assert_problem(refused, 409, "last_sign_in_method").await;

    // The provider keeps the person's password, authenticator and passkeys.
    for (method, path, body) in [
        (Method::POST, "/v1/auth/mfa/totp", Some(json!({}))),
        (Method::GET, "/v1/auth/mfa/recovery-codes", None),
        (
            Method::PATCH,
            "/v1/auth/password",
            Some(json!({"currentPassword": "x", "newPassword": "Another-Horse-43!"})),
        ),
        (Method::GET, "/v1/auth/passkeys", None),
    ] {
        let refused = fed.app.call(method, path, Some(access), body).await;
        crate::common::assert_problem(refused, 501, "not_supported_by_provider").await;
    }

    // The audit trail names the provider and the upstream issuer.
    let pool = fed.app.db.pool().await;
    let rows: Vec<FederatedRow> = sqlx::query_as(
        "SELECT outcome, provider, target, method FROM audit_events \
         WHERE kind = 'sign_in' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let issuer = format!("issuer:{}", fed.upstream.issuer);
    assert!(
        rows.iter()
            .any(|(outcome, provider, target, method)| outcome == "success"
                && provider == "oidc:upstream"
                && target.as_deref() == Some(issuer.as_str())
                && method.as_deref() == Some("federated")),
        "{rows:?}"
    );
    pool.close().await;
    fed.app.finish().await;
}

async fn an_unverified_address_never_enters_the_context(engine: Engine) {
    let fed = federation(engine, true).await;
    let tokens = fed.tokens_of("unverified-eve").await;
    let subject = fed.subject(&tokens).await;
    assert_eq!(subject["provider"], "oidc:upstream");
    assert_eq!(subject["user"]["email"], Value::Null);

    // An account with that address exists: even the trusted provider may
    // not link on an address it did not verify. The person is asked.
    fed.app
        .confirmed_user("unverified-fay@upstream.example")
        .await;
    let mut browser = Browser::new(&fed.app);
    let page = fed.continue_with(&mut browser, "unverified-fay").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign in to it to link it with"), "{html}");
    fed.app.finish().await;
}

async fn with_linking_off_the_person_signs_in_to_the_account_which_links_it(engine: Engine) {
    let fed = federation(engine, false).await;
    fed.app.confirmed_user("carol@upstream.example").await;
    let local = fed.app.session("carol@upstream.example").await;

    // The address is verified on both sides, but the provider is not
    // trusted to link: the sign-in page asks, prefilled.
    let mut browser = Browser::new(&fed.app);
    let page = fed.continue_with(&mut browser, "carol").await;
    assert_eq!(page.status(), 200);
    assert!(browser.cookies.contains_key("authgate_link"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Sign in to it to link it with <strong>Upstream</strong>"),
        "{html}"
    );
    assert!(html.contains("value=\"carol@upstream.example\""), "{html}");
    let signed_in = browser
        .submit_sign_in(&html, "carol@upstream.example", PASSWORD)
        .await;
    fed.tokens_after(&mut browser, signed_in).await;
    assert!(
        browser
            .cookies
            .get("authgate_link")
            .is_none_or(|v| v.is_empty()),
        "the link cookie goes"
    );

    // From now on the provider signs carol in to her account.
    let tokens = fed.tokens_of("carol").await;
    let subject = fed.subject(&tokens).await;
    assert_eq!(subject["provider"], "embedded");
    assert_eq!(subject["user"]["sub"], local.user.sub.as_str());
    let listed = fed.identities(&local.access_token).await;
    let identity = &listed["identities"][0];
    assert_eq!(identity["subject"], "carol");
    assert_eq!(identity["removable"], true, "her password stays");

    // Removed, the provider asks again.
    let path = format!("/v1/auth/identities/{}", identity["id"].as_str().unwrap());
    let removed = fed
        .app
        .call(Method::DELETE, &path, Some(&local.access_token), None)
        .await;
    assert_eq!(removed.status(), 204);
    let mut browser = Browser::new(&fed.app);
    let asked = fed.continue_with(&mut browser, "carol").await;
    assert_eq!(asked.status(), 200, "asked to sign in again");
    fed.app.finish().await;
}

async fn with_linking_on_only_verified_addresses_on_both_sides_link(engine: Engine) {
    let fed = federation(engine, true).await;
    fed.app.confirmed_user("erin@upstream.example").await;
    let local = fed.app.session("erin@upstream.example").await;
    let tokens = fed.tokens_of("erin").await;
    let subject = fed.subject(&tokens).await;
    assert_eq!(subject["provider"], "embedded", "linked at once");
    assert_eq!(subject["user"]["sub"], local.user.sub.as_str());

    // An account whose address is not confirmed: never linked, asked.
    let signed_up = fed.app.sign_up("gus@upstream.example").await;
    assert_eq!(signed_up.status(), 201);
    let mut browser = Browser::new(&fed.app);
    let asked = fed.continue_with(&mut browser, "gus").await;
    assert_eq!(asked.status(), 200);
    assert!(
        asked
            .text()
            .await
            .unwrap()
            .contains("Sign in to it to link it with")
    );
    fed.app.finish().await;
}

async fn a_forged_replayed_or_stolen_callback_gets_a_page_and_no_session(engine: Engine) {
    let fed = federation(engine, false).await;
    let forged = format!("{}?state=forged&code=anything", fed.idp_response());
    let mut browser = Browser::new(&fed.app);
    let page = browser.get(&forged).await;
    assert_eq!(page.status(), 400);
    assert!(!browser.cookies.contains_key("authgate_session"));
    let html = page.text().await.unwrap();
    assert!(html.contains("This sign-in is no longer valid"), "{html}");

    // A real callback works once; presented again it is refused.
    let mut browser = Browser::new(&fed.app);
    let callback = fed.upstream_callback(&mut browser, "hal").await;
    let first = browser.get(&callback).await;
    assert_eq!(first.status(), 303);
    let replayed = Browser::new(&fed.app).get(&callback).await;
    assert_eq!(replayed.status(), 400, "a replay signs nobody in");
    let again = browser.get(&callback).await;
    assert_eq!(again.status(), 400, "not even in the browser that used it");

    // Login CSRF: a callback started in the attacker's browser, opened in
    // the victim's, signs the victim in as nobody.
    let mut attacker = Browser::new(&fed.app);
    let stolen = fed.upstream_callback(&mut attacker, "mallory").await;
    let mut victim = Browser::new(&fed.app);
    victim.get(&fed.client.authorize_path(&[])).await;
    let refused = victim.get(&stolen).await;
    assert_eq!(refused.status(), 400);
    assert!(!victim.cookies.contains_key("authgate_session"));

    // The upstream's own error (the person cancelled there).
    let mut browser = Browser::new(&fed.app);
    let callback = fed.upstream_callback(&mut browser, "ivy").await;
    let state = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .to_string();
    let cancelled = browser
        .get(&format!(
            "{}?state={state}&error=access_denied",
            fed.idp_response()
        ))
        .await;
    assert_eq!(cancelled.status(), 502);
    assert!(
        cancelled
            .text()
            .await
            .unwrap()
            .contains("The external provider did not sign you in")
    );
    fed.app.finish().await;
}

async fn authorize_with_identity_provider_skips_the_sign_in_page(engine: Engine) {
    let fed = federation(engine, false).await;
    let mut browser = Browser::new(&fed.app);
    let straight = browser
        .get(
            &fed.client
                .authorize_path(&[("identity_provider", "upstream")]),
        )
        .await;
    assert_eq!(straight.status(), 303);
    let upstream_url = location(&straight);
    assert!(upstream_url.starts_with(&fed.upstream.issuer));
    let callback = sign_in_upstream(&upstream_url, "jo", &fed.idp_response()).await;
    let signed_in = browser.get(&callback).await;
    let tokens = fed.tokens_after(&mut browser, signed_in).await;
    assert_eq!(fed.subject(&tokens).await["user"]["sub"], "jo");

    let unknown = Browser::new(&fed.app)
        .get(
            &fed.client
                .authorize_path(&[("identity_provider", "nobody")]),
        )
        .await;
    assert_eq!(unknown.status(), 302);
    assert_eq!(redirect_params(&unknown)["error"], "invalid_request");
    fed.app.finish().await;
}

async fn invitations_bind_on_a_verified_address_and_decisions_follow_the_role(engine: Engine) {
    let fed = federation(engine, false).await;
    let (owner, _) = fed.app.user("owner@example.com").await;
    let tenant = fed.app.create_tenant(&owner, "Upstream team").await;
    for email in ["kim@upstream.example", "unverified-lee@upstream.example"] {
        let invited = json_of(
            fed.app.add_member(&owner, &tenant, email, "viewer").await,
            201,
        )
        .await;
        assert_eq!(invited["status"], "invited", "{email}");
    }

    // Kim's address is verified upstream: the invitation binds.
    let tokens = fed.tokens_of("kim").await;
    let subject = fed.subject(&tokens).await;
    assert_eq!(subject["tenants"][0]["id"], tenant.as_str());
    assert_eq!(subject["tenants"][0]["role"], "viewer");
    let access = tokens["access_token"].as_str().unwrap();
    let decide = |action: &'static str| {
        let body = json!({"action": action, "tenantId": tenant});
        fed.app
            .call(Method::POST, "/v1/authz/check", Some(access), Some(body))
    };
    let read = json_of(decide("data:read").await, 200).await;
    assert_eq!(
        (read["allowed"].as_bool(), read["reason"].as_str()),
        (Some(true), Some("tenant_role"))
    );
    let write = json_of(decide("data:write").await, 200).await;
    assert_eq!(write["allowed"], false);

    // Lee's is not: nothing binds on it.
    let tokens = fed.tokens_of("unverified-lee").await;
    assert_eq!(fed.subject(&tokens).await["tenants"], json!([]));
    fed.app.finish().await;
}

on_both_engines!(
    a_person_signs_in_with_the_provider_and_is_the_same_app_user_every_time,
    invitations_bind_on_a_verified_address_and_decisions_follow_the_role,
    an_unverified_address_never_enters_the_context,
    with_linking_off_the_person_signs_in_to_the_account_which_links_it,
    with_linking_on_only_verified_addresses_on_both_sides_link,
    a_forged_replayed_or_stolen_callback_gets_a_page_and_no_session,
    authorize_with_identity_provider_skips_the_sign_in_page,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_is_down_gets_a_page_in_words() {
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let entry = json!([{
        "id": "down", "label": "Down", "issuer": nobody,
        "client_id": "c", "client_secret": "s",
    }]);
    let app = TestApp::start_with(Engine::Sqlite, |settings| {
        settings.identity_providers = serde_json::from_value(entry).unwrap();
    })
    .await;
    let admin = app.admin_token("root@example.com").await;
    let client = public_client(&app, &admin, "Notes", CALLBACK).await;
    let mut browser = Browser::new(&app);
    let page = browser.get(&client.authorize_path(&[])).await;
    let form = Form::of(&page.text().await.unwrap());
    let refused = browser
        .post(
            "/login/federated",
            &[
                ("csrf", form.hidden("csrf")),
                ("authorize", form.hidden("authorize")),
                ("provider", "down"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 502);
    assert_eq!(
        refused.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("The external provider did not sign you in")
    );
    let straight = browser
        .get(&client.authorize_path(&[("identity_provider", "down")]))
        .await;
    assert_eq!(straight.status(), 502);
    let rows = app
        .audit_rows_once(|row| row.reason.as_deref() == Some("upstream_unavailable"))
        .await;
    assert!(
        rows.iter()
            .any(|row| row.method.as_deref() == Some("federated") && row.outcome == "failure")
    );
    app.finish().await;
}
