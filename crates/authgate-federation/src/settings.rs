//! The configuration of one upstream provider (`[[identity_providers]]`),
//! checked before it is used.

use authgate_core::Secret;
use openidconnect::AuthType;
use serde::Deserialize;

/// One `[[identity_providers]]` entry (contracts/oauth.md, "Federation").
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityProviderSettings {
    /// In URLs and in app users' provider (`oidc:<id>`).
    pub id: String,
    /// The button text: `Continue with <label>`.
    pub label: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Link an upstream user to the local account of the same address when
    /// both sides verified it (otherwise the person signs in to link).
    #[serde(default)]
    pub link_by_verified_email: bool,
    /// `client_secret_basic` (default) or `client_secret_post`.
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
}

fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(String::from).to_vec()
}

impl std::fmt::Debug for IdentityProviderSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityProviderSettings")
            .field("id", &self.id)
            .field("label", &self.label)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .field("link_by_verified_email", &self.link_by_verified_email)
            .finish_non_exhaustive()
    }
}

impl IdentityProviderSettings {
    /// What is wrong with this entry, naming the field.
    pub fn validate(&self) -> Result<(), String> {
        let named = |field: &str, problem: &str| {
            format!("identity provider {:?}: {field} {problem}", self.id)
        };
        if self.id.is_empty()
            || self.id.len() > 32
            || !self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(named(
                "id",
                "must be 1 to 32 characters of a-z, 0-9, - and _",
            ));
        }
        if self.label.trim().is_empty() {
            return Err(named("label", "is empty"));
        }
        match url::Url::parse(&self.issuer) {
            Ok(url)
                if url.scheme() == "https"
                    || (url.scheme() == "http" && is_loopback(url.host_str())) => {}
            _ => {
                return Err(named(
                    "issuer",
                    "must be an https URL (http only on loopback, for tests)",
                ));
            }
        }
        if self.client_id.is_empty() {
            return Err(named("client_id", "is empty"));
        }
        if self.client_secret.is_empty() {
            return Err(named("client_secret", "is empty"));
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            return Err(named("scopes", "must include openid"));
        }
        self.checked_auth_type().map(|_| ())
    }

    fn checked_auth_type(&self) -> Result<AuthType, String> {
        match self.token_endpoint_auth_method.as_deref() {
            None | Some("client_secret_basic") => Ok(AuthType::BasicAuth),
            Some("client_secret_post") => Ok(AuthType::RequestBody),
            Some(other) => Err(format!(
                "identity provider {:?}: token_endpoint_auth_method {other:?} is not \
                 client_secret_basic or client_secret_post",
                self.id
            )),
        }
    }

    pub(crate) fn auth_type(&self) -> AuthType {
        self.checked_auth_type().unwrap_or(AuthType::BasicAuth)
    }
}

fn is_loopback(host: Option<&str>) -> bool {
    matches!(host, Some("127.0.0.1" | "localhost" | "[::1]"))
}
