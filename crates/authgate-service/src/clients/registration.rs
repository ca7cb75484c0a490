//! What a client registration may say (contracts/oauth.md, "Clients"): the
//! type, the exact redirect and post-logout URIs (https; http only on a
//! loopback host, RFC 8252 §7.3; a private-use reverse-domain scheme only
//! for a public client, §7.1; never a wildcard, a fragment or credentials),
//! the grant types and their consistency with the rest, and the scopes.
//! Everything is checked before anything is stored; an error names the field.

use authgate_core::AuthError;
use authgate_core::authz::validate_grant;
use authgate_store::clients::{ClientType, GrantType};

/// A registration as an administrator asks for it (the command line's flags
/// or the body of `POST /v1/admin/clients`).
#[derive(Debug, Clone, Default)]
pub struct ClientRequest {
    pub name: String,
    /// `public` or `confidential` (the default).
    pub client_type: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_uris: Vec<String>,
    /// Empty: `openid email profile` for an app client; a machine client
    /// must name its scopes.
    pub scopes: Vec<String>,
    /// Empty: `authorization_code refresh_token` when redirect URIs are
    /// given, `client_credentials` otherwise.
    pub grant_types: Vec<String>,
    pub consent: bool,
}

/// A checked registration, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub name: String,
    pub client_type: ClientType,
    pub redirect_uris: Vec<String>,
    pub post_logout_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub consent: bool,
}

/// The scopes of an app client that names none.
pub const DEFAULT_APP_SCOPES: [&str; 3] = ["openid", "email", "profile"];
const MAX_URIS: usize = 20;
const MAX_URI_LENGTH: usize = 2000;

fn invalid(field: &str, message: impl Into<String>) -> AuthError {
    AuthError::invalid_field(field, message)
}

/// Trimmed, non-empty, first occurrence kept.
fn distinct(list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if !out.iter().any(|s| s == item) {
            out.push(item.to_string());
        }
    }
    out
}

/// May `uri` be registered (as a redirect or post-logout URI of a client of
/// `client_type`)? `Err` says why not.
pub fn check_redirect_uri(uri: &str, client_type: ClientType) -> Result<(), String> {
    if uri.len() > MAX_URI_LENGTH {
        return Err(format!("is longer than {MAX_URI_LENGTH} characters"));
    }
    if uri.contains('*') {
        return Err("has a wildcard: redirect URIs match exactly".into());
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("has white space".into());
    }
    let parsed = url::Url::parse(uri).map_err(|e| format!("is not an absolute URI ({e})"))?;
    if parsed.fragment().is_some() {
        return Err("has a fragment".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("has credentials".into());
    }
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "https" => Err("has no host".into()),
        "http" => match parsed.host_str() {
            Some("127.0.0.1" | "[::1]" | "localhost") => Ok(()),
            _ => Err("uses http on a host that is not loopback (use https)".into()),
        },
        scheme if scheme.contains('.') => match client_type {
            ClientType::Public => Ok(()),
            ClientType::Confidential => {
                Err("uses a private-use scheme, which only public clients may".into())
            }
        },
        _ => Err(
            "must be https, http on a loopback host, or a private-use reverse-domain scheme \
             (com.example.app:/callback)"
                .into(),
        ),
    }
}

fn uris(field: &str, list: &[String], client_type: ClientType) -> Result<Vec<String>, AuthError> {
    let list = distinct(list);
    if list.len() > MAX_URIS {
        return Err(invalid(field, format!("register at most {MAX_URIS} URIs")));
    }
    for uri in &list {
        check_redirect_uri(uri, client_type)
            .map_err(|why| invalid(field, format!("{uri} {why}")))?;
    }
    Ok(list)
}

impl ClientRequest {
    /// Check the request and fill in the defaults.
    pub fn validate(&self) -> Result<Registration, AuthError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(invalid("name", "name must be 1 to 100 characters"));
        }
        let client_type = match self.client_type.as_deref().map(str::trim) {
            None | Some("") => ClientType::Confidential,
            Some(text) => ClientType::parse(text).ok_or_else(|| {
                invalid(
                    "type",
                    format!("type {text:?} is neither public nor confidential"),
                )
            })?,
        };
        let redirect_uris = uris("redirectUris", &self.redirect_uris, client_type)?;
        let post_logout_uris = uris("postLogoutUris", &self.post_logout_uris, client_type)?;
        let mut grant_types = Vec::new();
        for text in distinct(&self.grant_types) {
            let grant = GrantType::parse(&text).ok_or_else(|| {
                invalid(
                    "grantTypes",
                    format!(
                        "{text:?} is not one of authorization_code, refresh_token, client_credentials"
                    ),
                )
            })?;
            grant_types.push(grant);
        }
        if grant_types.is_empty() {
            grant_types = if redirect_uris.is_empty() {
                vec![GrantType::ClientCredentials]
            } else {
                vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
            };
        }
        let code = grant_types.contains(&GrantType::AuthorizationCode);
        if code && redirect_uris.is_empty() {
            return Err(invalid(
                "redirectUris",
                "the authorization_code grant needs at least one redirect URI",
            ));
        }
        if !code && !redirect_uris.is_empty() {
            return Err(invalid(
                "redirectUris",
                "redirect URIs are for the authorization_code grant, which is not requested",
            ));
        }
        if !code && (!post_logout_uris.is_empty() || self.consent) {
            let field = if self.consent {
                "consent"
            } else {
                "postLogoutUris"
            };
            return Err(invalid(
                field,
                "post-logout URIs and consent are for the authorization_code grant",
            ));
        }
        if grant_types.contains(&GrantType::RefreshToken) && !code {
            return Err(invalid(
                "grantTypes",
                "refresh_token comes with authorization_code: only a signed-in user has one",
            ));
        }
        if grant_types.contains(&GrantType::ClientCredentials) && client_type == ClientType::Public
        {
            return Err(invalid(
                "grantTypes",
                "a public client has no secret, so it may not use client_credentials",
            ));
        }
        let mut scopes = distinct(&self.scopes);
        if scopes.is_empty() {
            if grant_types.contains(&GrantType::ClientCredentials) {
                return Err(invalid("scopes", "name at least one scope"));
            }
            scopes = DEFAULT_APP_SCOPES.map(String::from).to_vec();
        }
        for scope in &scopes {
            validate_grant(scope).map_err(|m| invalid("scopes", format!("scope {scope:?} {m}")))?;
        }
        Ok(Registration {
            name: name.to_string(),
            client_type,
            redirect_uris,
            post_logout_uris,
            scopes,
            grant_types,
            consent: self.consent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ClientType::{Confidential, Public};

    #[test]
    fn redirect_uris_follow_the_loopback_and_private_scheme_rules() {
        let cases: &[(&str, ClientType, bool)] = &[
            ("https://app.example/callback", Confidential, true),
            ("https://app.example/cb?x=1", Public, true),
            ("http://127.0.0.1:8080/cb", Public, true),
            ("http://[::1]/cb", Confidential, true),
            ("http://localhost:5173/cb", Public, true),
            ("com.example.app:/oauth2redirect", Public, true),
            ("com.example.app:/oauth2redirect", Confidential, false),
            ("http://app.example/cb", Public, false),
            ("http://127.0.0.1.evil.example/cb", Public, false),
            ("https://*.example/cb", Confidential, false),
            ("https://app.example/cb#frag", Public, false),
            ("https://user:pw@app.example/cb", Confidential, false),
            ("javascript:alert(1)", Public, false),
            ("myapp:/cb", Public, false),
            ("/relative/cb", Public, false),
            ("https://app.example/c b", Public, false),
            ("", Public, false),
        ];
        for (uri, client_type, allowed) in cases {
            assert_eq!(
                check_redirect_uri(uri, *client_type).is_ok(),
                *allowed,
                "{uri} for {client_type:?}: {:?}",
                check_redirect_uri(uri, *client_type)
            );
        }
    }

    fn request(
        client_type: &str,
        redirect: &[&str],
        grants: &[&str],
        scopes: &[&str],
    ) -> ClientRequest {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        ClientRequest {
            name: "app".into(),
            client_type: Some(client_type.into()).filter(|t: &String| !t.is_empty()),
            redirect_uris: list(redirect),
            scopes: list(scopes),
            grant_types: list(grants),
            ..Default::default()
        }
    }

    #[test]
    fn grant_types_default_from_the_redirect_uris() {
        use GrantType::*;
        let spa = request("public", &["https://app.example/cb"], &[], &[])
            .validate()
            .unwrap();
        assert_eq!(spa.grant_types, vec![AuthorizationCode, RefreshToken]);
        assert_eq!(spa.scopes, vec!["openid", "email", "profile"]);
        let robot = request("", &[], &[], &["orders:read", "orders:read"])
            .validate()
            .unwrap();
        assert_eq!(robot.client_type, Confidential);
        assert_eq!(robot.grant_types, vec![ClientCredentials]);
        assert_eq!(robot.scopes, vec!["orders:read"]);
    }

    #[test]
    fn inconsistent_registrations_are_refused_naming_the_field() {
        let cb: &[&str] = &["https://app.example/cb"];
        let cases: &[(ClientRequest, &str)] = &[
            (
                request("public", &[], &["client_credentials"], &["x"]),
                "grantTypes",
            ),
            (
                request("public", &[], &["authorization_code"], &[]),
                "redirectUris",
            ),
            (
                request("", cb, &["client_credentials"], &["x"]),
                "redirectUris",
            ),
            (request("", &[], &["refresh_token"], &["x"]), "grantTypes"),
            (request("", &[], &["password"], &["x"]), "grantTypes"),
            (request("secret", cb, &[], &[]), "type"),
            (request("", &[], &[], &[]), "scopes"),
            (request("", cb, &[], &["Bad Scope"]), "scopes"),
            (
                request("public", &["https://*.example/cb"], &[], &[]),
                "redirectUris",
            ),
            (
                ClientRequest {
                    consent: true,
                    ..request("", &[], &[], &["x"])
                },
                "consent",
            ),
            (
                ClientRequest {
                    post_logout_uris: vec!["http://evil.example/".into()],
                    ..request("public", cb, &[], &[])
                },
                "postLogoutUris",
            ),
            (
                ClientRequest {
                    name: " ".into(),
                    ..request("", &[], &[], &["x"])
                },
                "name",
            ),
        ];
        for (case, field) in cases {
            match case.validate() {
                Err(AuthError::InvalidRequest { field: Some(f), .. }) => {
                    assert_eq!(&f, field, "{case:?}")
                }
                other => panic!("{case:?} gave {other:?}, expected an error on {field}"),
            }
        }
    }
}
