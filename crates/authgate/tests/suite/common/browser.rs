//! A browser for the hosted pages without a browser: it keeps cookies,
//! follows nothing by itself (each redirect is looked at), reads forms'
//! hidden fields, and does the OAuth client's part of the code flow (PKCE,
//! the authorization URL, the code exchange) the way a stock client does.

use super::TestApp;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Response;
use serde_json::Value;
use std::collections::BTreeMap;

/// A PKCE pair (RFC 7636, S256).
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).unwrap();
        let verifier = URL_SAFE_NO_PAD.encode(bytes);
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
        Self {
            challenge: URL_SAFE_NO_PAD.encode(digest.as_ref()),
            verifier,
        }
    }
}

/// An app client's side of the flow: its id, redirect URI and PKCE pair.
pub struct AppClient {
    pub id: String,
    pub redirect_uri: String,
    pub pkce: Pkce,
}

impl AppClient {
    pub fn new(id: &str, redirect_uri: &str) -> Self {
        Self {
            id: id.to_string(),
            redirect_uri: redirect_uri.to_string(),
            pkce: Pkce::new(),
        }
    }

    /// `/oauth2/authorize?…` with the usual parameters, then `extra`
    /// (which replace a usual one of the same name; an empty value drops it).
    pub fn authorize_path(&self, extra: &[(&str, &str)]) -> String {
        let mut params: BTreeMap<&str, &str> = [
            ("response_type", "code"),
            ("client_id", self.id.as_str()),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("scope", "openid email profile"),
            ("state", "state-123"),
            ("nonce", "nonce-456"),
            ("code_challenge", self.pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]
        .into_iter()
        .collect();
        for (name, value) in extra {
            if value.is_empty() {
                params.remove(name);
            } else {
                params.insert(name, value);
            }
        }
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        format!("/oauth2/authorize?{query}")
    }

    /// `POST /oauth2/token` with `grant_type=authorization_code` as a public
    /// client, with `changes` to the usual form (an empty value drops one).
    pub async fn exchange(&self, app: &TestApp, code: &str, changes: &[(&str, &str)]) -> Response {
        let mut form: BTreeMap<&str, &str> = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("client_id", self.id.as_str()),
            ("code_verifier", self.pkce.verifier.as_str()),
        ]
        .into_iter()
        .collect();
        for (name, value) in changes {
            if value.is_empty() {
                form.remove(name);
            } else {
                form.insert(name, value);
            }
        }
        app.client
            .post(app.url("/oauth2/token"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}

/// The query parameters of a redirect's `Location`.
pub fn redirect_params(response: &Response) -> BTreeMap<String, String> {
    let location = location(response);
    let url = url::Url::parse(&location).unwrap_or_else(|e| panic!("{location}: {e}"));
    url.query_pairs().into_owned().collect()
}

pub fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location on a {} answer", response.status()))
        .to_str()
        .unwrap()
        .to_string()
}

/// A browser session on the pages: cookies kept across requests.
pub struct Browser<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    /// The `Set-Cookie` values seen, as sent.
    pub set_cookies: Vec<String>,
    /// The browser's `Accept-Language`, if it sends one.
    pub accept_language: Option<&'static str>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            set_cookies: Vec::new(),
            accept_language: None,
        }
    }

    fn keep_cookies(&mut self, response: &Response) {
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap().to_string();
            if let Some((name, rest)) = text.split_once('=') {
                let value = rest.split(';').next().unwrap_or_default();
                self.cookies.insert(name.to_string(), value.to_string());
            }
            self.set_cookies.push(text);
        }
    }

    /// A request with this browser's cookies and language.
    fn request(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let request = request.header("cookie", self.cookie_header());
        match self.accept_language {
            Some(language) => request.header("accept-language", language),
            None => request,
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// GET a path (or a full URL of this server).
    pub async fn get(&mut self, path: &str) -> Response {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            self.app.url(path)
        };
        let response = self.request(self.http.get(url)).send().await.unwrap();
        self.keep_cookies(&response);
        response
    }

    /// The server this browser talks to.
    pub fn app(&self) -> &'a TestApp {
        self.app
    }

    /// POST a form of owned pairs to a path.
    pub async fn post_pairs(&mut self, path: &str, form: &[(String, String)]) -> Response {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.post(path, &pairs).await
    }

    /// POST a form to a path.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let response = self
            .request(self.http.post(self.app.url(path)))
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        response
    }

    /// Sign in on the page of an authorization request: the final redirect
    /// to the client (after a TOTP step when `totp` gives the code).
    pub async fn sign_in(&mut self, authorize_path: &str, email: &str, password: &str) -> Response {
        let page = self.get(authorize_path).await;
        assert_eq!(page.status(), 200, "no sign-in page");
        let html = page.text().await.unwrap();
        let answer = self.submit_sign_in(&html, email, password).await;
        if answer.status() != 303 {
            return answer;
        }
        let back = location(&answer);
        self.get(&back).await
    }
}

impl Browser<'_> {
    /// Submit the sign-in form of the page `html` with `email` and
    /// `password`: authgate's answer.
    pub async fn submit_sign_in(&mut self, html: &str, email: &str, password: &str) -> Response {
        let form = Form::of(html);
        self.post(
            "/login/sign-in",
            &[
                ("csrf", form.hidden("csrf")),
                ("authorize", form.hidden("authorize")),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }
}

/// A page's form, as far as the tests read it.
pub struct Form {
    hidden: BTreeMap<String, String>,
}

fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Form {
    pub fn of(html: &str) -> Self {
        let mut hidden = BTreeMap::new();
        for input in html.split("<input").skip(1) {
            let tag = input.split('>').next().unwrap_or_default();
            if !tag.contains("type=\"hidden\"") {
                continue;
            }
            let attribute = |name: &str| {
                tag.split(&format!("{name}=\""))
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .map(unescape)
            };
            if let (Some(name), Some(value)) = (attribute("name"), attribute("value")) {
                hidden.insert(name, value);
            }
        }
        Self { hidden }
    }

    pub fn hidden(&self, name: &str) -> &str {
        self.hidden
            .get(name)
            .unwrap_or_else(|| panic!("no hidden field {name}"))
    }
}

/// Register a client with `POST /v1/admin/clients` as `admin` (asserting
/// 201): the answer, `client` and, for a confidential one, `clientSecret`.
pub async fn register_client(app: &TestApp, admin: &str, body: Value) -> Value {
    super::json_of(
        app.call(
            reqwest::Method::POST,
            "/v1/admin/clients",
            Some(admin),
            Some(body),
        )
        .await,
        201,
    )
    .await
}

/// Register a public app client named `name` for [`AppClient`]'s flows.
pub async fn public_client(
    app: &TestApp,
    admin: &str,
    name: &str,
    redirect_uri: &str,
) -> AppClient {
    let created = register_client(
        app,
        admin,
        serde_json::json!({"name": name, "type": "public", "redirectUris": [redirect_uri]}),
    )
    .await;
    AppClient::new(created["client"]["id"].as_str().unwrap(), redirect_uri)
}

/// The JSON body of a token answer, asserting its status.
pub async fn token_answer(response: Response, status: u16) -> Value {
    super::json_of(response, status).await
}
