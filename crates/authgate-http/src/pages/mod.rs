//! The hosted pages (contracts/oauth.md, "Hosted pages") and the
//! authorization endpoint that leads to them: server-rendered HTML
//! (minijinja, autoescaped), one stylesheet, and one script for the
//! passkey buttons only (everything else works without it); the texts in
//! the request's locale ([`localized`]). Every form carries
//! a CSRF token (double submit: an HttpOnly cookie and a hidden field,
//! compared in constant time); the browser session is an opaque HttpOnly,
//! SameSite=Lax cookie (`__Host-` and `Secure` when the public URL is
//! https). Pages send `Content-Security-Policy` with `frame-ancestors
//! 'none'`, `Cache-Control: no-store` and `Referrer-Policy: no-referrer`.
//!
//! Handlers are thin: the authorization service decides, the sign-in
//! service signs in (lockout, rate limits, MFA, audit as on the JSON API),
//! and errors are shown in words ([`in_words`]).

mod render;

use crate::state::AppState;
use authgate_core::{AuthError, ChallengeKind, ChallengeParameters, Secret, TotpEnrolment};
use authgate_service::RequestMeta;
use authgate_service::federation::{Callback, FederatedSignIn};
use authgate_service::oauth::authorization::{
    AuthorizeOutcome, BROWSER_SESSION_TTL_SECS, BrowserSignIn,
};
use authgate_service::oauth::request::Refusal;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use render::{Page, message, text};
pub use render::{Pages, Ui};
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// The cookies of the pages, named for the public URL's scheme.
#[derive(Clone, Copy)]
struct Cookies {
    session: &'static str,
    csrf: &'static str,
    locale: &'static str,
    /// Set when the person said "Not now" to adding a passkey.
    passkey_declined: &'static str,
    /// An identity from an external provider waiting to be linked to the
    /// account the person signs in to next.
    link: &'static str,
    secure: bool,
}

impl Cookies {
    fn of(state: &AppState) -> Self {
        if state.settings.public_url.starts_with("https://") {
            Self {
                session: "__Host-authgate_session",
                csrf: "__Host-authgate_csrf",
                locale: "__Host-authgate_locale",
                passkey_declined: "__Host-authgate_passkey_declined",
                link: "__Host-authgate_link",
                secure: true,
            }
        } else {
            Self {
                session: "authgate_session",
                csrf: "authgate_csrf",
                locale: "authgate_locale",
                passkey_declined: "authgate_passkey_declined",
                link: "authgate_link",
                secure: false,
            }
        }
    }

    fn set(&self, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
        let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if self.secure {
            text.push_str("; Secure");
        }
        if let Some(seconds) = max_age {
            text.push_str(&format!("; Max-Age={seconds}"));
        }
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// The value of cookie `name`, if the request has it.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

/// The request's CSRF token, or a new one to set.
fn csrf_token(headers: &HeaderMap, cookies: Cookies) -> (String, Option<HeaderValue>) {
    match cookie(headers, cookies.csrf) {
        Some(token) => (token, None),
        None => {
            let token = render::random_token();
            let set = cookies.set(cookies.csrf, &token, None);
            (token, Some(set))
        }
    }
}

/// A form of the pages whose CSRF token matches the browser's cookie. Any
/// other (unparseable, without the token, a forged one) is refused with
/// the "this page has expired" page before the handler runs.
pub struct Checked<F>(pub F);

/// A form that carries the pages' CSRF token.
pub trait WithCsrf {
    fn csrf(&self) -> &str;
}

macro_rules! with_csrf {
    ($($form:ty),*) => {
        $(impl WithCsrf for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })*
    };
}
with_csrf!(
    FederatedForm,
    ConsentForm,
    SignInForm,
    TotpForm,
    PasskeyForm,
    LogoutForm,
    AccountForm
);

impl<F> axum::extract::FromRequest<AppState> for Checked<F>
where
    F: serde::de::DeserializeOwned + WithCsrf + Send,
{
    type Rejection = Response;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, Response> {
        let headers = request.headers().clone();
        let Ok(Form(form)) = Form::<F>::from_request(request, state).await else {
            return Err(expired_form());
        };
        if !csrf_matches(&headers, Cookies::of(state), form.csrf()) {
            return Err(expired_form());
        }
        Ok(Checked(form))
    }
}

/// Does the form's CSRF token match the cookie's?
fn csrf_matches(headers: &HeaderMap, cookies: Cookies, presented: &str) -> bool {
    match cookie(headers, cookies.csrf) {
        Some(expected) if !presented.is_empty() => {
            expected.as_bytes().ct_eq(presented.as_bytes()).into()
        }
        _ => false,
    }
}

/// An error as a person reads it on a page, in the page's locale. (The
/// details of a refused password or request are the service's own words.)
pub fn in_words(err: &AuthError) -> String {
    let key = match err.code() {
        "invalid_password" | "invalid_request" => return err.public_detail(),
        "invalid_credentials" => "error_invalid_credentials",
        "user_not_confirmed" => "error_user_not_confirmed",
        "password_reset_required" => "error_password_reset_required",
        "code_mismatch" => "error_code_mismatch",
        "username_exists" => "error_username_exists",
        "already_confirmed" => "error_already_confirmed",
        "code_expired" | "invalid_session" => "error_expired",
        "too_many_failed_attempts" | "rate_limited" => "error_too_many_attempts",
        "provider_unavailable" | "store_unavailable" | "internal" => "error_unavailable",
        _ => "error_failed",
    };
    text(key)
}

/// A redirect that no cache keeps.
fn redirect(status: StatusCode, location: &str) -> Response {
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn error_page(status: StatusCode, message: &str) -> Response {
    Page::new("error.html", "error_title")
        .with("message", message)
        .status(status)
        .render()
}

/// The authorization request without `prompt=login`, for the way back
/// after a sign-in (which satisfied it).
fn after_sign_in(authorize: &str) -> String {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(authorize.as_bytes())
        .into_owned()
        .filter_map(|(k, v)| {
            if k != "prompt" {
                return Some((k, v));
            }
            let rest: Vec<&str> = v.split(' ').filter(|p| *p != "login").collect();
            (!rest.is_empty()).then(|| (k, rest.join(" ")))
        })
        .collect();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("/oauth2/authorize?{query}")
}

fn params_of(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// What an authorization request that needs no page leads to, or the page.
fn refusal(state: &AppState, refusal: Refusal) -> Response {
    match refusal {
        Refusal::Page(refused) => error_page(StatusCode::BAD_REQUEST, &message(&refused)),
        Refusal::Redirect(back) => redirect(
            StatusCode::FOUND,
            &state.authorization.error_redirect(&back),
        ),
    }
}

/// A page whose form carries the CSRF token (set as a cookie when the
/// browser has none yet) and the authorization request it belongs to.
fn form_page(headers: &HeaderMap, cookies: Cookies, page: Page, authorize: &str) -> Response {
    let (csrf, set_csrf) = csrf_token(headers, cookies);
    let mut response = page
        .with("csrf", &csrf)
        .with("authorize", authorize)
        .render();
    if let Some(set) = set_csrf {
        response.headers_mut().append(header::SET_COOKIE, set);
    }
    response
}

/// `authorize=<the authorization request>`: the query of the links between
/// the pages of one sign-in.
fn back_query(authorize: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("authorize", authorize)
        .finish()
}

/// The sign-in page for an authorization request.
struct SignInPage<'a> {
    state: &'a AppState,
    authorize: &'a str,
    client_name: &'a str,
    email: &'a str,
    error: Option<String>,
    notice: Option<&'static str>,
    status: StatusCode,
    /// The label of the external provider whose identity waits to be
    /// linked to the account the person signs in to.
    link_label: Option<&'a str>,
}

impl SignInPage<'_> {
    fn render(self, headers: &HeaderMap, cookies: Cookies) -> Response {
        let buttons: Vec<serde_json::Value> = self
            .state
            .federation
            .buttons()
            .into_iter()
            .map(|b| serde_json::json!({"id": b.id, "label": b.label}))
            .collect();
        let mut page = Page::new("sign_in.html", "sign_in_title")
            .with("client_name", self.client_name)
            .with("email", self.email)
            .with("back", &back_query(self.authorize))
            .with("link_label", self.link_label.unwrap_or_default())
            .with_value("identity_providers", &buttons)
            .flag("passkeys", self.state.authorization.passkeys_on())
            .error(self.error)
            .status(self.status);
        if let Some(notice) = self.notice {
            page = page.notice(notice);
        }
        form_page(headers, cookies, page, self.authorize)
    }
}

/// `GET /oauth2/authorize`: a code for a signed-in browser, the sign-in
/// page, an error page (unknown client, unregistered redirect URI: never a
/// redirect), or an OAuth error sent back to the client.
pub async fn authorize(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let cookies = Cookies::of(&state);
    let session = cookie(&headers, cookies.session).map(Secret::new);
    match state
        .authorization
        .authorize(&params_of(&query), session.as_ref())
        .await
    {
        Ok(AuthorizeOutcome::Redirect(location)) => redirect(StatusCode::FOUND, &location),
        Ok(AuthorizeOutcome::SignIn(request)) => SignInPage {
            state: &state,
            authorize: &query,
            client_name: &request.client.name,
            email: request.login_hint.as_deref().unwrap_or_default(),
            error: None,
            notice: None,
            status: StatusCode::OK,
            link_label: None,
        }
        .render(&headers, cookies),
        Ok(AuthorizeOutcome::Consent(request)) => {
            let page = Page::new("consent.html", "consent_title")
                .with("client_name", &request.client.name)
                .with_list("scopes", &request.scopes);
            form_page(&headers, cookies, page, &query)
        }
        Ok(AuthorizeOutcome::Federate(request)) => {
            // The round trip is bound to this browser by its CSRF cookie
            // (set now when it has none yet).
            let (csrf, set_csrf) = csrf_token(&headers, cookies);
            let provider = request.identity_provider.as_deref().unwrap_or_default();
            let mut response =
                go_upstream(&state, &meta, provider, &query, &Secret::new(csrf)).await;
            if let Some(set) = set_csrf {
                response.headers_mut().append(header::SET_COOKIE, set);
            }
            response
        }
        Err(refused) => refusal(&state, refused),
    }
}

#[derive(Deserialize)]
pub struct FederatedForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    authorize: String,
    /// The id of the external provider.
    #[serde(default)]
    provider: String,
}

/// `POST /login/federated`: a `Continue with <label>` button.
pub async fn federated(
    State(state): State<AppState>,
    meta: RequestMeta,
    Checked(form): Checked<FederatedForm>,
) -> Response {
    if let Err(response) = checked_request(&state, &form.authorize).await {
        return response;
    }
    // The form's token is the browser's CSRF cookie (checked): it binds
    // the round trip to this browser.
    let browser = Secret::new(form.csrf.clone());
    go_upstream(&state, &meta, &form.provider, &form.authorize, &browser).await
}

/// Send the browser to the external provider `provider`, or say in words
/// why not.
async fn go_upstream(
    state: &AppState,
    meta: &RequestMeta,
    provider: &str,
    authorize: &str,
    browser: &Secret,
) -> Response {
    match state
        .federation
        .begin(meta, provider, authorize, browser)
        .await
    {
        Ok(url) => redirect(StatusCode::SEE_OTHER, &url),
        Err(err) => federation_error_page(&err),
    }
}

/// The error page of a federated sign-in that did not happen.
fn federation_error_page(err: &AuthError) -> Response {
    let (status, words) = match err.code() {
        "invalid_session" => (StatusCode::BAD_REQUEST, text("error_federation_callback")),
        "upstream_failed" => (StatusCode::BAD_GATEWAY, text("error_upstream_failed")),
        "not_found" => (
            StatusCode::BAD_REQUEST,
            text("error_unknown_identity_provider"),
        ),
        _ => (status_of(err), in_words(err)),
    };
    with_headers_of(err, error_page(status, &words))
}

/// `GET /oauth2/idpresponse`: the external provider sends the browser back.
/// Signed in, the browser goes on to the authorization request; an address
/// of an existing account that may not be linked without its owner shows
/// the sign-in page for it (the identity waits in a cookie); anything else
/// is a page that says what happened.
pub async fn idp_response(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = params_of(&query.unwrap_or_default());
    let value = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let callback = Callback {
        state: value("state"),
        code: value("code"),
        error: value("error"),
        error_description: value("error_description"),
    };
    let cookies = Cookies::of(&state);
    let browser = cookie(&headers, cookies.csrf).map(Secret::new);
    let previous = cookie(&headers, cookies.session).map(Secret::new);
    match state
        .federation
        .finish(&meta, &callback, browser.as_ref(), previous.as_ref())
        .await
    {
        Ok(FederatedSignIn::SignedIn { cookie, authorize }) => {
            let mut response = redirect(StatusCode::SEE_OTHER, &after_sign_in(&authorize));
            response.headers_mut().append(
                header::SET_COOKIE,
                cookies.set(
                    cookies.session,
                    cookie.expose(),
                    Some(BROWSER_SESSION_TTL_SECS),
                ),
            );
            response
        }
        Ok(FederatedSignIn::SignInToLink {
            authorize,
            email,
            label,
            link,
        }) => {
            let client_name = match checked_request(&state, &authorize).await {
                Ok(name) => name,
                Err(response) => return response,
            };
            let mut response = SignInPage {
                state: &state,
                authorize: &authorize,
                client_name: &client_name,
                email: &email,
                error: None,
                notice: None,
                status: StatusCode::OK,
                link_label: Some(&label),
            }
            .render(&headers, cookies);
            response.headers_mut().append(
                header::SET_COOKIE,
                cookies.set(cookies.link, link.expose(), Some(LINK_COOKIE_SECS)),
            );
            response
        }
        Err(err) => federation_error_page(&err),
    }
}

/// How long the browser keeps an identity waiting to be linked (the login
/// transaction behind it lives as long).
const LINK_COOKIE_SECS: i64 = 600;

#[derive(Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    authorize: String,
    #[serde(default)]
    decision: String,
}

/// `POST /login/consent`: `Allow` or `Deny`.
pub async fn consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    Checked(form): Checked<ConsentForm>,
) -> Response {
    let cookies = Cookies::of(&state);
    let session = cookie(&headers, cookies.session).map(Secret::new);
    match state
        .authorization
        .answer_consent(
            &params_of(&form.authorize),
            session.as_ref(),
            form.decision == "allow",
        )
        .await
    {
        Ok(location) => redirect(StatusCode::SEE_OTHER, &location),
        Err(refused) => refusal(&state, refused),
    }
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    authorize: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: Secret,
}

#[derive(Deserialize)]
pub struct TotpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    authorize: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    session: Secret,
    #[serde(default)]
    code: Secret,
    /// The set-up page's secret and URI, to show it again after a wrong code.
    #[serde(default)]
    secret: Secret,
    #[serde(default)]
    otpauth: Secret,
}

/// The page of a form that came back without its CSRF token or fields.
fn expired_form() -> Response {
    error_page(StatusCode::BAD_REQUEST, &text("error_expired_form"))
}

/// The step after a page sign-in: back to the authorization request with
/// the new browser session, the TOTP page, or a page that says what the
/// account needs first.
fn after_step(
    headers: &HeaderMap,
    cookies: Cookies,
    authorize: &str,
    email: &str,
    step: BrowserSignIn,
) -> Response {
    match step {
        BrowserSignIn::SignedIn {
            cookie: session,
            recovery_codes,
            offer_passkey,
        } => {
            let declined = cookie(headers, cookies.passkey_declined).is_some();
            let mut response = if !recovery_codes.is_empty() {
                let codes: Vec<String> = recovery_codes
                    .iter()
                    .map(|c| c.expose().to_string())
                    .collect();
                Page::new("recovery_codes.html", "recovery_codes_title")
                    .with_list("codes", &codes)
                    .with("continue_to", &after_sign_in(authorize))
                    .render()
            } else if offer_passkey && !declined {
                passkey_offer(headers, cookies, authorize, None)
            } else {
                redirect(StatusCode::SEE_OTHER, &after_sign_in(authorize))
            };
            response.headers_mut().append(
                header::SET_COOKIE,
                cookies.set(
                    cookies.session,
                    session.expose(),
                    Some(BROWSER_SESSION_TTL_SECS),
                ),
            );
            response
        }
        BrowserSignIn::Challenge(challenge) => match (&challenge.kind, &challenge.parameters) {
            (ChallengeKind::MfaSetupRequired, ChallengeParameters::TotpSetup(enrolment)) => {
                setup_page(
                    headers,
                    cookies,
                    authorize,
                    email,
                    &challenge.session,
                    enrolment,
                    None,
                )
            }
            (ChallengeKind::MfaSetupRequired, _) => error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                &text("error_authenticator_not_prepared"),
            ),
            (kind, _) => challenge_page(
                headers,
                cookies,
                authorize,
                email,
                *kind,
                &challenge.session,
                None,
            ),
        },
    }
}

/// [`after_step`], first linking the identity that waits in the browser's
/// link cookie (if any) to the account that just signed in. The sign-in
/// stands whatever comes of the link (the audit trail says); the cookie
/// goes once the sign-in is done.
async fn signed_in_step(
    state: &AppState,
    meta: &RequestMeta,
    headers: &HeaderMap,
    authorize: &str,
    email: &str,
    step: BrowserSignIn,
) -> Response {
    let cookies = Cookies::of(state);
    let link = cookie(headers, cookies.link).map(Secret::new);
    let signed_in = match (&step, &link) {
        (
            BrowserSignIn::SignedIn {
                cookie: session, ..
            },
            Some(link),
        ) => {
            let browser = cookie(headers, cookies.csrf).map(Secret::new);
            if let Err(err) = state
                .federation
                .link_after_sign_in(meta, link, browser.as_ref(), session)
                .await
            {
                tracing::warn!(code = err.code(), "identity not linked at the sign-in");
            }
            true
        }
        (BrowserSignIn::SignedIn { .. }, None) => false,
        (BrowserSignIn::Challenge(_), _) => false,
    };
    let mut response = after_step(headers, cookies, authorize, email, step);
    if signed_in {
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookies.set(cookies.link, "", Some(0)));
    }
    response
}

/// The TOTP set-up page: a QR code of the `otpauth://` URI, the secret in
/// text, and the first code.
fn setup_page(
    headers: &HeaderMap,
    cookies: Cookies,
    authorize: &str,
    email: &str,
    session: &Secret,
    enrolment: &TotpEnrolment,
    error: Option<String>,
) -> Response {
    let qr = match crate::qr::data_url(enrolment.otpauth_uri.expose()) {
        Ok(qr) => qr,
        Err(err) => return error_page_of(&err),
    };
    let page = Page::new("totp_setup.html", "totp_setup_title")
        .with("email", email)
        .with("session", session.expose())
        .with("qr", &qr)
        .with("secret", enrolment.secret.expose())
        .with("otpauth", enrolment.otpauth_uri.expose())
        .error(error);
    form_page(headers, cookies, page, authorize)
}

/// The page of a challenge: the TOTP code, or a new password.
fn challenge_page(
    headers: &HeaderMap,
    cookies: Cookies,
    authorize: &str,
    email: &str,
    kind: ChallengeKind,
    session: &Secret,
    error: Option<String>,
) -> Response {
    let (template, title) = match kind {
        ChallengeKind::NewPasswordRequired => ("new_password.html", "new_password_title"),
        _ => ("totp.html", "totp_title"),
    };
    let page = Page::new(template, title)
        .with("email", email)
        .with("session", session.expose())
        .error(error);
    form_page(headers, cookies, page, authorize)
}

/// The authorization request a form carries, checked again (it came back
/// from the browser): `Ok(client name)` when it may lead to a sign-in.
async fn checked_request(state: &AppState, authorize: &str) -> Result<String, Response> {
    match state
        .authorization
        .authorize(&params_of(authorize), None)
        .await
    {
        Ok(
            AuthorizeOutcome::SignIn(request)
            | AuthorizeOutcome::Consent(request)
            | AuthorizeOutcome::Federate(request),
        ) => Ok(request.client.name),
        Ok(AuthorizeOutcome::Redirect(location)) => Err(redirect(StatusCode::SEE_OTHER, &location)),
        Err(refused) => Err(refusal(state, refused)),
    }
}

/// The error page of a refusal, with its headers (`Retry-After` for a
/// rate limit or a lockout).
fn error_page_of(err: &AuthError) -> Response {
    with_headers_of(err, error_page(status_of(err), &in_words(err)))
}

/// A page that answers a refusal, with the refusal's headers
/// (`Retry-After` for a rate limit or a lockout), as the API sends them.
fn with_headers_of(err: &AuthError, mut page: Response) -> Response {
    crate::problem::error_headers(err, page.headers_mut());
    page
}

/// What a sign-in form needs before it signs anyone in: its authorization
/// request checked again (the client's name), and the browser's session
/// cookie, which a successful sign-in ends (rotation).
async fn sign_in_context(
    state: &AppState,
    headers: &HeaderMap,
    authorize: &str,
) -> Result<(String, Option<Secret>), Response> {
    let client_name = checked_request(state, authorize).await?;
    let previous = cookie(headers, Cookies::of(state).session).map(Secret::new);
    Ok((client_name, previous))
}

fn status_of(err: &AuthError) -> StatusCode {
    StatusCode::from_u16(err.status())
        .ok()
        .filter(|s| s.is_client_error())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
}

/// `POST /login/sign-in`: email and password.
pub async fn sign_in(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Checked(form): Checked<SignInForm>,
) -> Response {
    let cookies = Cookies::of(&state);
    let (client_name, previous) = match sign_in_context(&state, &headers, &form.authorize).await {
        Ok(context) => context,
        Err(response) => return response,
    };
    match state
        .authorization
        .sign_in_with_password(&meta, &form.email, &form.password, previous.as_ref())
        .await
    {
        Ok(step) => {
            signed_in_step(&state, &meta, &headers, &form.authorize, &form.email, step).await
        }
        Err(err) => with_headers_of(
            &err,
            SignInPage {
                state: &state,
                authorize: &form.authorize,
                client_name: &client_name,
                email: &form.email,
                error: Some(in_words(&err)),
                notice: None,
                status: status_of(&err),
                link_label: None,
            }
            .render(&headers, cookies),
        ),
    }
}

/// `POST /login/totp`: the code of the authenticator app.
pub async fn totp(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Checked(form): Checked<TotpForm>,
) -> Response {
    answer(state, meta, headers, form, ChallengeKind::TotpRequired).await
}

/// `POST /login/new-password`: the password of an account an administrator
/// created.
pub async fn new_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Checked(form): Checked<TotpForm>,
) -> Response {
    answer(
        state,
        meta,
        headers,
        form,
        ChallengeKind::NewPasswordRequired,
    )
    .await
}

/// `POST /login/mfa-setup`: the first code of the authenticator being set
/// up; a wrong one shows the set-up page again, with the same secret.
pub async fn mfa_setup(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Checked(form): Checked<TotpForm>,
) -> Response {
    answer(state, meta, headers, form, ChallengeKind::MfaSetupRequired).await
}

/// Answer the challenge `kind` of a page sign-in; a wrong answer shows the
/// page again (the login transaction allows a few tries).
async fn answer(
    state: AppState,
    meta: RequestMeta,
    headers: HeaderMap,
    form: TotpForm,
    kind: ChallengeKind,
) -> Response {
    let cookies = Cookies::of(&state);
    if let Err(response) = checked_request(&state, &form.authorize).await {
        return response;
    }
    let previous = cookie(&headers, cookies.session).map(Secret::new);
    match state
        .authorization
        .answer_challenge(
            &meta,
            kind,
            &form.email,
            form.session.clone(),
            form.code,
            previous.as_ref(),
        )
        .await
    {
        Ok(step) => {
            signed_in_step(&state, &meta, &headers, &form.authorize, &form.email, step).await
        }
        Err(err) if kind == ChallengeKind::MfaSetupRequired && err.code() == "code_mismatch" => {
            let enrolment = TotpEnrolment {
                secret: form.secret.clone(),
                otpauth_uri: form.otpauth.clone(),
            };
            setup_page(
                &headers,
                cookies,
                &form.authorize,
                &form.email,
                &form.session,
                &enrolment,
                Some(in_words(&err)),
            )
        }
        Err(err) if matches!(err.code(), "code_mismatch" | "invalid_password") => challenge_page(
            &headers,
            cookies,
            &form.authorize,
            &form.email,
            kind,
            &form.session,
            Some(in_words(&err)),
        ),
        Err(err) => error_page_of(&err),
    }
}

#[derive(Deserialize)]
pub struct PasskeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    authorize: String,
    /// The ceremony's session.
    #[serde(default)]
    session: Secret,
    /// `PublicKeyCredential.toJSON()`, as JSON text.
    #[serde(default)]
    credential: String,
}

/// The credential of a passkey form (`null` when it is not JSON: the
/// service refuses it as any credential that does not verify).
fn credential_of(form: &PasskeyForm) -> serde_json::Value {
    serde_json::from_str(&form.credential).unwrap_or(serde_json::Value::Null)
}

/// `POST /login/passkey`: the assertion of "Sign in with a passkey". A
/// refusal shows the sign-in page again, saying so in words.
pub async fn passkey_sign_in(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Checked(form): Checked<PasskeyForm>,
) -> Response {
    let cookies = Cookies::of(&state);
    let credential = credential_of(&form);
    let (client_name, previous) = match sign_in_context(&state, &headers, &form.authorize).await {
        Ok(context) => context,
        Err(response) => return response,
    };
    match state
        .authorization
        .sign_in_with_passkey(&meta, &form.session, &credential, previous.as_ref())
        .await
    {
        Ok(step) => signed_in_step(&state, &meta, &headers, &form.authorize, "", step).await,
        Err(err) => with_headers_of(
            &err,
            SignInPage {
                state: &state,
                authorize: &form.authorize,
                client_name: &client_name,
                email: "",
                error: Some(match err.code() {
                    "invalid_credentials" | "invalid_request" => text("passkey_failed"),
                    _ => in_words(&err),
                }),
                notice: None,
                status: status_of(&err),
                link_label: None,
            }
            .render(&headers, cookies),
        ),
    }
}

/// The page that offers to add a passkey after a password sign-in.
fn passkey_offer(
    headers: &HeaderMap,
    cookies: Cookies,
    authorize: &str,
    error: Option<String>,
) -> Response {
    let page = Page::new("passkey_offer.html", "passkey_offer_title").error(error);
    form_page(headers, cookies, page, authorize)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /login/passkey/register/start` (the page's script): creation
/// options for a passkey of the browser session's person, as JSON
/// (`{session, options}`), or `{message}` in words.
pub async fn passkey_register_start(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let cookies = Cookies::of(&state);
    let answer = |status: StatusCode, body: serde_json::Value| {
        let mut response = (status, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    };
    let csrf = form.map(|Form(f)| f.csrf).unwrap_or_default();
    if !csrf_matches(&headers, cookies, &csrf) {
        return answer(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "message": text("error_expired_form") }),
        );
    }
    let session = cookie(&headers, cookies.session).map(Secret::new);
    match state
        .authorization
        .begin_page_passkey(&meta, session.as_ref())
        .await
    {
        Ok(ceremony) => answer(
            StatusCode::OK,
            serde_json::json!({ "session": ceremony.session.expose(), "options": ceremony.options }),
        ),
        Err(err) => answer(
            status_of(&err),
            serde_json::json!({ "message": in_words(&err) }),
        ),
    }
}

/// `POST /login/passkey/register`: the new passkey; then on to the client.
/// A passkey that is refused shows the offer again, saying so.
pub async fn passkey_register(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Checked(form): Checked<PasskeyForm>,
) -> Response {
    let cookies = Cookies::of(&state);
    let credential = credential_of(&form);
    if let Err(response) = checked_request(&state, &form.authorize).await {
        return response;
    }
    let session = cookie(&headers, cookies.session).map(Secret::new);
    match state
        .authorization
        .finish_page_passkey(&meta, session.as_ref(), &form.session, &credential)
        .await
    {
        Ok(()) => redirect(StatusCode::SEE_OTHER, &after_sign_in(&form.authorize)),
        Err(err) if err.code() == "invalid_session" => error_page_of(&err),
        Err(_) => passkey_offer(
            &headers,
            cookies,
            &form.authorize,
            Some(text("passkey_not_added")),
        ),
    }
}

/// `POST /login/passkey/skip`: "Not now" — on to the client, and this
/// browser is not asked again.
pub async fn passkey_skip(
    State(state): State<AppState>,
    Checked(form): Checked<PasskeyForm>,
) -> Response {
    let cookies = Cookies::of(&state);
    if let Err(response) = checked_request(&state, &form.authorize).await {
        return response;
    }
    let mut response = redirect(StatusCode::SEE_OTHER, &after_sign_in(&form.authorize));
    response.headers_mut().append(
        header::SET_COOKIE,
        cookies.set(cookies.passkey_declined, "1", Some(PASSKEY_DECLINED_SECS)),
    );
    response
}

/// How long "Not now" holds (a year).
const PASSKEY_DECLINED_SECS: i64 = 365 * 24 * 3600;

/// The pages' one script: the passkey buttons.
pub async fn passkey_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("passkey.js"),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    logout: String,
}

/// End the browser session, clear its cookie, and go where the request
/// says (a registered post-logout URI) or show "signed out".
async fn sign_out_now(
    state: &AppState,
    meta: &RequestMeta,
    headers: &HeaderMap,
    cookies: Cookies,
    redirect_to: Option<&str>,
) -> Response {
    let session = cookie(headers, cookies.session).map(Secret::new);
    if let Err(err) = state.authorization.log_out(meta, session.as_ref()).await {
        return error_page_of(&err);
    }
    let mut response = match redirect_to {
        Some(location) => redirect(StatusCode::FOUND, location),
        None => Page::new("signed_out.html", "signed_out_title").render(),
    };
    response.headers_mut().append(
        header::SET_COOKIE,
        cookies.set(cookies.session, "", Some(0)),
    );
    response
}

/// `GET /oauth2/logout` (OpenID Connect RP-Initiated Logout): with an
/// `id_token_hint` of this browser's session the session ends at once;
/// otherwise the person confirms on a page (so that no other site can sign
/// them out with a link).
pub async fn logout(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let cookies = Cookies::of(&state);
    let request = match state.authorization.logout_request(&params_of(&query)).await {
        Ok(request) => request,
        Err(refused) => return error_page(StatusCode::BAD_REQUEST, &message(&refused)),
    };
    let session_cookie = cookie(&headers, cookies.session).map(Secret::new);
    let session = state
        .authorization
        .browser_session(session_cookie.as_ref())
        .await;
    let confirmed = match (&session, &request.hinted_sid) {
        (None, _) => true,
        (Some(session), Some(sid)) => session.sid == *sid,
        (Some(_), None) => false,
    };
    if confirmed {
        return sign_out_now(
            &state,
            &meta,
            &headers,
            cookies,
            request.redirect.as_deref(),
        )
        .await;
    }
    let page = Page::new("sign_out.html", "sign_out_title").with("logout", &query);
    form_page(&headers, cookies, page, "")
}

/// `POST /oauth2/logout`: the confirmation of the sign-out page.
pub async fn confirm_logout(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Checked(form): Checked<LogoutForm>,
) -> Response {
    let cookies = Cookies::of(&state);
    match state
        .authorization
        .logout_request(&params_of(&form.logout))
        .await
    {
        Ok(request) => {
            sign_out_now(
                &state,
                &meta,
                &headers,
                cookies,
                request.redirect.as_deref(),
            )
            .await
        }
        Err(refused) => error_page(StatusCode::BAD_REQUEST, &message(&refused)),
    }
}

#[derive(Deserialize)]
pub struct BackQuery {
    #[serde(default)]
    authorize: String,
}

#[derive(Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    authorize: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: Secret,
    #[serde(default)]
    name: String,
    #[serde(default)]
    code: Secret,
    #[serde(default)]
    new_password: Secret,
}

/// The sign-in page once an account step is done, with its notice.
fn sign_in_again(
    state: &AppState,
    headers: &HeaderMap,
    form: &AccountForm,
    client_name: &str,
    notice: &'static str,
) -> Response {
    SignInPage {
        state,
        authorize: &form.authorize,
        client_name,
        email: &form.email,
        error: None,
        notice: Some(notice),
        status: StatusCode::OK,
        link_label: None,
    }
    .render(headers, Cookies::of(state))
}

fn sign_up_page(
    headers: &HeaderMap,
    cookies: Cookies,
    authorize: &str,
    email: &str,
    name: &str,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let page = Page::new("sign_up.html", "sign_up_title")
        .with("email", email)
        .with("name", name)
        .error(error)
        .status(status);
    form_page(headers, cookies, page, authorize)
}

fn code_page(
    headers: &HeaderMap,
    cookies: Cookies,
    template: &'static str,
    title: &'static str,
    form: &AccountForm,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let page = Page::new(template, title)
        .with("email", &form.email)
        .error(error)
        .status(status);
    form_page(headers, cookies, page, &form.authorize)
}

/// `GET /login/sign-up?authorize=…`: the sign-up page of a sign-in.
pub async fn sign_up_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(back): axum::extract::Query<BackQuery>,
) -> Response {
    if let Err(response) = checked_request(&state, &back.authorize).await {
        return response;
    }
    sign_up_page(
        &headers,
        Cookies::of(&state),
        &back.authorize,
        "",
        "",
        None,
        StatusCode::OK,
    )
}

/// `POST /login/sign-up`: email, password and name; then the mailed code.
pub async fn sign_up(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Checked(form): Checked<AccountForm>,
) -> Response {
    let cookies = Cookies::of(&state);
    if let Err(response) = checked_request(&state, &form.authorize).await {
        return response;
    }
    let name = Some(form.name.trim().to_string()).filter(|n| !n.is_empty());
    match state
        .sign_in
        .sign_up(&meta, &form.email, form.password.clone(), name, None)
        .await
    {
        Ok(_) => code_page(
            &headers,
            cookies,
            "confirm.html",
            "confirm_title",
            &form,
            None,
            StatusCode::OK,
        ),
        Err(err) => with_headers_of(
            &err,
            sign_up_page(
                &headers,
                cookies,
                &form.authorize,
                &form.email,
                &form.name,
                Some(in_words(&err)),
                status_of(&err),
            ),
        ),
    }
}

/// `POST /login/confirm`: the code mailed at sign-up.
pub async fn confirm_sign_up(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Checked(form): Checked<AccountForm>,
) -> Response {
    let cookies = Cookies::of(&state);
    let client_name = match checked_request(&state, &form.authorize).await {
        Ok(name) => name,
        Err(response) => return response,
    };
    match state
        .sign_in
        .confirm_sign_up(&meta, &form.email, &form.code)
        .await
    {
        Ok(()) => sign_in_again(&state, &headers, &form, &client_name, "confirmed_notice"),
        Err(err) => with_headers_of(
            &err,
            code_page(
                &headers,
                cookies,
                "confirm.html",
                "confirm_title",
                &form,
                Some(in_words(&err)),
                status_of(&err),
            ),
        ),
    }
}

/// `GET /login/forgot-password?authorize=…`.
pub async fn forgot_password_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(back): axum::extract::Query<BackQuery>,
) -> Response {
    if let Err(response) = checked_request(&state, &back.authorize).await {
        return response;
    }
    let page = Page::new("forgot.html", "forgot_title").with("email", "");
    form_page(&headers, Cookies::of(&state), page, &back.authorize)
}

/// `POST /login/forgot-password`: a code is mailed if the account exists;
/// the next page is the same either way.
pub async fn forgot_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Checked(form): Checked<AccountForm>,
) -> Response {
    let cookies = Cookies::of(&state);
    if let Err(response) = checked_request(&state, &form.authorize).await {
        return response;
    }
    match state
        .account
        .request_password_reset(&meta, &form.email, None)
        .await
    {
        Ok(()) => code_page(
            &headers,
            cookies,
            "reset.html",
            "reset_title",
            &form,
            None,
            StatusCode::OK,
        ),
        Err(err) => {
            let page = Page::new("forgot.html", "forgot_title")
                .with("email", &form.email)
                .error(Some(in_words(&err)))
                .status(status_of(&err));
            with_headers_of(&err, form_page(&headers, cookies, page, &form.authorize))
        }
    }
}

/// `POST /login/reset-password`: the mailed code and the new password.
pub async fn reset_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Checked(form): Checked<AccountForm>,
) -> Response {
    let cookies = Cookies::of(&state);
    let client_name = match checked_request(&state, &form.authorize).await {
        Ok(name) => name,
        Err(response) => return response,
    };
    match state
        .account
        .confirm_password_reset(&meta, &form.email, &form.code, &form.new_password)
        .await
    {
        Ok(()) => sign_in_again(&state, &headers, &form, &client_name, "reset_notice"),
        Err(err) => with_headers_of(
            &err,
            code_page(
                &headers,
                cookies,
                "reset.html",
                "reset_title",
                &form,
                Some(in_words(&err)),
                status_of(&err),
            ),
        ),
    }
}

/// The pages' one stylesheet.
pub async fn stylesheet(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        state.pages.stylesheet().to_string(),
    )
        .into_response()
}

/// The `ui_locales` of an authorization request: in the query of
/// `/oauth2/authorize`, or of the request a page link carries
/// (`?authorize=…`).
fn ui_locales(query: &str) -> Option<String> {
    let params = params_of(query);
    let value = |params: &[(String, String)], name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    value(&params, "ui_locales").or_else(|| {
        value(&params, "authorize").and_then(|inner| value(&params_of(&inner), "ui_locales"))
    })
}

/// The locale layer of the pages: what a request renders is in the first
/// locale the pages speak of the authorization request's `ui_locales`,
/// the locale cookie, `Accept-Language`, and English. A locale that
/// `ui_locales` chose is remembered in the cookie for the pages that follow
/// (their forms do not carry it).
pub async fn localized(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let pages = state.pages.clone();
    let cookies = Cookies::of(&state);
    let headers = request.headers();
    let asked = ui_locales(request.uri().query().unwrap_or_default())
        .and_then(|tags| pages.first_spoken(tags.split(' ')));
    let remembered = cookie(headers, cookies.locale).and_then(|c| pages.first_spoken([c.as_str()]));
    let accepted = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| pages.first_spoken(render::accept_language(v)));
    let locale = asked
        .clone()
        .or_else(|| remembered.clone())
        .or(accepted)
        .unwrap_or_else(|| render::DEFAULT_LOCALE.to_string());
    let mut response = render::UI
        .scope(Ui { pages, locale }, next.run(request))
        .await;
    if let Some(asked) = asked.filter(|asked| Some(asked) != remembered.as_ref()) {
        response.headers_mut().append(
            header::SET_COOKIE,
            cookies.set(cookies.locale, &asked, None),
        );
    }
    response
}

/// The pages and the authorization endpoint. The sign-in forms are in the
/// `sign-in` rate-limit group, refused as a page in words.
pub fn router(state: &AppState) -> axum::Router<AppState> {
    use authgate_service::protection::Group;
    use axum::routing::{get, post};
    let refuse = |err: AuthError| {
        let mut response = error_page(StatusCode::TOO_MANY_REQUESTS, &in_words(&err));
        crate::problem::error_headers(&err, response.headers_mut());
        response
    };
    let limited = |group: Group| {
        axum::middleware::from_fn_with_state(
            crate::ratelimit::limited(state, group, refuse),
            crate::ratelimit::charge,
        )
    };
    let forms = axum::Router::new()
        .route("/login/sign-in", post(sign_in))
        .route("/login/totp", post(totp))
        .route("/login/new-password", post(new_password))
        .route("/login/mfa-setup", post(mfa_setup))
        .route("/login/consent", post(consent))
        .route("/login/passkey", post(passkey_sign_in))
        .route(
            "/login/passkey/register/start",
            post(passkey_register_start),
        )
        .route("/login/passkey/register", post(passkey_register))
        .route("/login/passkey/skip", post(passkey_skip))
        .route("/login/federated", post(federated))
        .route("/oauth2/idpresponse", get(idp_response))
        .route_layer(limited(Group::SignIn));
    let sign_up_forms = axum::Router::new()
        .route("/login/sign-up", post(sign_up))
        .route("/login/confirm", post(confirm_sign_up))
        .route_layer(limited(Group::SignUp));
    let recovery_forms = axum::Router::new()
        .route("/login/forgot-password", post(forgot_password))
        .route("/login/reset-password", post(reset_password))
        .route_layer(limited(Group::Recovery));
    axum::Router::new()
        .route("/oauth2/authorize", get(authorize))
        .route("/oauth2/logout", get(logout).post(confirm_logout))
        .route("/login/style.css", get(stylesheet))
        .route("/login/passkey.js", get(passkey_script))
        .route("/login/sign-up", get(sign_up_form))
        .route("/login/forgot-password", get(forgot_password_form))
        .merge(forms)
        .merge(sign_up_forms)
        .merge(recovery_forms)
        .layer(axum::extract::DefaultBodyLimit::max(
            state.settings.max_body_bytes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            localized,
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_way_back_drops_prompt_login_only() {
        assert_eq!(
            after_sign_in("client_id=a&prompt=login&state=x%20y"),
            "/oauth2/authorize?client_id=a&state=x+y"
        );
        assert_eq!(
            after_sign_in("client_id=a&prompt=login+consent"),
            "/oauth2/authorize?client_id=a&prompt=consent"
        );
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("xauthgate_session=no; authgate_session=yes; other=1"),
        );
        assert_eq!(cookie(&headers, "authgate_session").as_deref(), Some("yes"));
        assert_eq!(cookie(&headers, "missing"), None);
    }
}
