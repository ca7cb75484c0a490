//! The authorization request (`GET /oauth2/authorize`, contracts/oauth.md):
//! its parameters checked in the order RFC 6749 §4.1.2.1 asks. Until the
//! client and its redirect URI are known to be good nothing redirects (an
//! error page instead, so that authgate never becomes an open redirector);
//! after that every error goes back to the client with `error`, `state` and
//! `iss`. Pure: the caller looks the client up and renders the outcome.

use authgate_store::clients::{Client, GrantType};

/// The query of an authorization request, as pairs in their order.
pub type Params = [(String, String)];

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No trustworthy place to send the browser: show an error page (400).
    Page(String),
    /// Send the browser back to the client with an OAuth error.
    Redirect(ErrorRedirect),
}

/// An OAuth error on its way back to the client's redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRedirect {
    pub redirect_uri: String,
    pub error: &'static str,
    pub description: String,
    pub state: Option<String>,
}

/// What `prompt` asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// No page may be shown: answer `login_required` (or `consent_required`)
    /// rather than ask.
    pub none: bool,
    /// Sign in again even with a browser session.
    pub login: bool,
    /// Ask for consent again.
    pub consent: bool,
}

/// A checked authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client: Client,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// S256 of the client's verifier.
    pub code_challenge: String,
    pub prompt: Prompt,
    /// Seconds: a sign-in older than this is not good enough.
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub identity_provider: Option<String>,
    pub ui_locales: Option<String>,
}

const MAX_STATE: usize = 2048;
const MAX_NONCE: usize = 512;
const MAX_HINT: usize = 320;

/// The one value of `name`: `Ok(None)` when absent or empty, `Err` when
/// given more than once (RFC 6749 §3.1: parameters must not repeat).
fn single<'a>(params: &'a Params, name: &str) -> Result<Option<&'a str>, String> {
    let mut values = params
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(format!("{name} is given more than once"));
    }
    Ok(first.filter(|v| !v.is_empty()))
}

/// Is `text` an S256 code challenge: 43 characters of base64url (the
/// encoding of a SHA-256 digest, RFC 7636 §4.2)?
pub fn is_s256_challenge(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Check an authorization request. `client` is the registered client of
/// the request's `client_id`, if there is a live one.
pub fn check(params: &Params, client: Option<Client>) -> Result<AuthorizationRequest, Refusal> {
    let page = |message: &str| Refusal::Page(message.to_string());
    let client_id = single(params, "client_id").map_err(|m| page(&m))?;
    if client_id.is_none() {
        return Err(page("The request names no client (client_id is missing)."));
    }
    let Some(client) = client.filter(|c| c.revoked_at.is_none()) else {
        return Err(page(
            "The application that sent you here is not registered.",
        ));
    };
    let redirect_uri = single(params, "redirect_uri")
        .map_err(|m| page(&m))?
        .ok_or_else(|| page("The request has no redirect_uri."))?
        .to_string();
    if !client.redirect_uris.contains(&redirect_uri) {
        return Err(page(
            "The redirect URI of the request is not registered for this application.",
        ));
    }
    let state = single(params, "state").ok().flatten().map(str::to_string);
    let back = |error: &'static str, description: String| {
        Refusal::Redirect(ErrorRedirect {
            redirect_uri: redirect_uri.clone(),
            error,
            description,
            state: state.clone().filter(|s| s.len() <= MAX_STATE),
        })
    };
    let invalid = |description: String| back("invalid_request", description);
    let one = |name: &str| single(params, name).map_err(invalid);

    if single(params, "state").is_err() {
        return Err(invalid("state is given more than once".into()));
    }
    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
        return Err(invalid(format!(
            "state is longer than {MAX_STATE} characters"
        )));
    }
    match one("response_type")? {
        Some("code") => {}
        None => return Err(invalid("response_type is missing".into())),
        Some(other) => {
            return Err(back(
                "unsupported_response_type",
                format!("response_type {other:?} is not supported: use code"),
            ));
        }
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(back(
            "unauthorized_client",
            "the client is not registered for the authorization code flow".into(),
        ));
    }
    let code_challenge = match (one("code_challenge")?, one("code_challenge_method")?) {
        (None, _) => {
            return Err(invalid(
                "code_challenge is required (PKCE with S256)".into(),
            ));
        }
        (Some(_), None) | (Some(_), Some("plain")) => {
            return Err(invalid(
                "code_challenge_method must be S256 (plain and a missing method are refused)"
                    .into(),
            ));
        }
        (Some(_), Some(other)) if other != "S256" => {
            return Err(invalid(format!(
                "code_challenge_method {other:?} is not supported: use S256"
            )));
        }
        (Some(challenge), Some(_)) if !is_s256_challenge(challenge) => {
            return Err(invalid(
                "code_challenge must be the 43-character base64url S256 digest".into(),
            ));
        }
        (Some(challenge), Some(_)) => challenge.to_string(),
    };
    let scopes: Vec<String> = match one("scope")? {
        None => client.scopes.clone(),
        Some(text) => {
            let mut scopes: Vec<String> = Vec::new();
            for scope in text.split(' ').filter(|s| !s.is_empty()) {
                if !client.scopes.iter().any(|c| c == scope) {
                    return Err(back(
                        "invalid_scope",
                        format!("the client may not ask for the scope {scope}"),
                    ));
                }
                if !scopes.iter().any(|s| s == scope) {
                    scopes.push(scope.to_string());
                }
            }
            scopes
        }
    };
    let mut prompt = Prompt::default();
    if let Some(text) = one("prompt")? {
        for value in text.split(' ').filter(|s| !s.is_empty()) {
            match value {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                other => {
                    return Err(invalid(format!(
                        "prompt {other:?} is not supported: use none, login or consent"
                    )));
                }
            }
        }
        if prompt.none && (prompt.login || prompt.consent) {
            return Err(invalid(
                "prompt=none cannot be combined with another value".into(),
            ));
        }
    }
    let max_age = match one("max_age")? {
        None => None,
        Some(text) => Some(
            text.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| invalid("max_age must be a number of seconds".into()))?,
        ),
    };
    let nonce = one("nonce")?.map(str::to_string);
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE) {
        return Err(invalid(format!(
            "nonce is longer than {MAX_NONCE} characters"
        )));
    }
    let login_hint = one("login_hint")?
        .filter(|h| h.len() <= MAX_HINT)
        .map(str::to_string);
    let identity_provider = one("identity_provider")?.map(str::to_string);
    let ui_locales = one("ui_locales")?.map(str::to_string);
    Ok(AuthorizationRequest {
        client,
        redirect_uri: redirect_uri.clone(),
        scopes,
        state: state.clone(),
        nonce,
        code_challenge,
        prompt,
        max_age,
        login_hint,
        identity_provider,
        ui_locales,
    })
}

/// `uri` with `params` added to its query (a registered redirect URI may
/// carry a query of its own, which is kept).
pub fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(params);
            url.to_string()
        }
        // Registered URIs were parsed at registration; keep the rest safe.
        Err(_) => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authgate_store::clients::ClientType;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const CB: &str = "https://spa.example/cb";

    fn client() -> Client {
        Client {
            id: "agc_spa".into(),
            name: "spa".into(),
            client_type: ClientType::Public,
            secret_hash: None,
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            redirect_uris: vec![CB.into(), "http://127.0.0.1:9/cb?app=1".into()],
            post_logout_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            consent: false,
            created_at: 0,
            revoked_at: None,
        }
    }

    /// Changes to a good request: `(name, Some(value))` sets (`+name` adds
    /// another), `(name, None)` removes.
    type Changes<'a> = &'a [(&'a str, Option<&'a str>)];

    /// A good request with `changes` applied: `(name, Some(value))` sets or
    /// adds, `(name, None)` removes.
    fn params(changes: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
        let mut list: Vec<(String, String)> = [
            ("response_type", "code"),
            ("client_id", "agc_spa"),
            ("redirect_uri", CB),
            ("scope", "openid email"),
            ("state", "s-1"),
            ("nonce", "n-1"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (name, value) in changes {
            match value {
                Some(value) if name.starts_with('+') => {
                    list.push((name[1..].to_string(), value.to_string()))
                }
                Some(value) => match list.iter_mut().find(|(k, _)| k == name) {
                    Some(pair) => pair.1 = value.to_string(),
                    None => list.push((name.to_string(), value.to_string())),
                },
                None => list.retain(|(k, _)| k != name),
            }
        }
        list
    }

    #[test]
    fn a_good_request_is_taken_as_asked() {
        let request = check(
            &params(&[("prompt", Some("login")), ("max_age", Some("300"))]),
            Some(client()),
        )
        .unwrap();
        assert_eq!(request.redirect_uri, CB);
        assert_eq!(request.scopes, vec!["openid", "email"]);
        assert_eq!(request.state.as_deref(), Some("s-1"));
        assert_eq!(request.nonce.as_deref(), Some("n-1"));
        assert_eq!(request.code_challenge, CHALLENGE);
        assert!(request.prompt.login && !request.prompt.none);
        assert_eq!(request.max_age, Some(300));
        let defaults = check(&params(&[("scope", None)]), Some(client())).unwrap();
        assert_eq!(defaults.scopes, client().scopes);
    }

    #[test]
    fn without_a_trustworthy_redirect_uri_only_a_page_is_shown() {
        let cases: &[Changes] = &[
            &[("client_id", None)],
            &[("+client_id", Some("agc_other"))],
            &[("redirect_uri", None)],
            &[("redirect_uri", Some("https://evil.example/cb"))],
            &[("redirect_uri", Some("https://spa.example/cb/"))],
            &[("redirect_uri", Some("http://127.0.0.1:9/cb"))],
            &[("+redirect_uri", Some(CB))],
        ];
        for changes in cases {
            assert!(
                matches!(
                    check(&params(changes), Some(client())),
                    Err(Refusal::Page(_))
                ),
                "{changes:?}"
            );
        }
        assert!(matches!(check(&params(&[]), None), Err(Refusal::Page(_))));
        let revoked = Client {
            revoked_at: Some(1),
            ..client()
        };
        assert!(matches!(
            check(&params(&[]), Some(revoked)),
            Err(Refusal::Page(_))
        ));
    }

    #[test]
    fn every_other_error_goes_back_to_the_client_with_its_state() {
        let machine = Client {
            grant_types: vec![GrantType::ClientCredentials],
            ..client()
        };
        let cases: &[(Changes, &str)] = &[
            (
                &[("response_type", Some("token"))],
                "unsupported_response_type",
            ),
            (&[("response_type", None)], "invalid_request"),
            (&[("code_challenge", None)], "invalid_request"),
            (&[("code_challenge_method", None)], "invalid_request"),
            (
                &[("code_challenge_method", Some("plain"))],
                "invalid_request",
            ),
            (&[("code_challenge", Some("short"))], "invalid_request"),
            (&[("scope", Some("openid admin"))], "invalid_scope"),
            (&[("prompt", Some("none login"))], "invalid_request"),
            (&[("prompt", Some("select_account"))], "invalid_request"),
            (&[("max_age", Some("-1"))], "invalid_request"),
            (&[("max_age", Some("soon"))], "invalid_request"),
            (&[("+scope", Some("openid"))], "invalid_request"),
            (&[("+code_challenge", Some(CHALLENGE))], "invalid_request"),
        ];
        for (changes, error) in cases {
            match check(&params(changes), Some(client())) {
                Err(Refusal::Redirect(back)) => {
                    assert_eq!(
                        (back.error, back.redirect_uri.as_str()),
                        (*error, CB),
                        "{changes:?}"
                    );
                    assert_eq!(back.state.as_deref(), Some("s-1"), "{changes:?}");
                }
                other => panic!("{changes:?}: {other:?}"),
            }
        }
        match check(&params(&[]), Some(machine)) {
            Err(Refusal::Redirect(back)) => assert_eq!(back.error, "unauthorized_client"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_redirect_keeps_the_registered_query() {
        assert_eq!(
            with_query(
                "http://127.0.0.1:9/cb?app=1",
                &[("code", "c 1"), ("state", "s&t")]
            ),
            "http://127.0.0.1:9/cb?app=1&code=c+1&state=s%26t"
        );
    }
}
