//! [`Settings`]: every configuration value of authgate, with the defaults of
//! the configuration contract. The binary fills it from a TOML file and the
//! `AUTHGATE_*` environment variables (the field name, upper-cased, after the
//! `AUTHGATE_` prefix: `access_token_ttl` ← `AUTHGATE_ACCESS_TOKEN_TTL`).

use crate::protection::{FailurePolicy, RateLimits};
use serde::Deserialize;
use std::path::PathBuf;

/// `embedded` or `cognito`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    #[default]
    Embedded,
    Cognito,
}

/// `off`, `optional` or `required`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MfaMode {
    Off,
    #[default]
    Optional,
    Required,
}

/// `text` (default) or `json` log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The pool and app client of the Cognito provider.
#[derive(Clone, PartialEq, Eq)]
pub struct CognitoSettings {
    pub region: String,
    pub user_pool_id: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub endpoint_url: Option<String>,
}

impl std::fmt::Debug for CognitoSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CognitoSettings")
            .field("region", &self.region)
            .field("user_pool_id", &self.user_pool_id)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("endpoint_url", &self.endpoint_url)
            .finish()
    }
}

#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `address:port` to listen on.
    pub listen: String,
    /// External base URL; the embedded issuer is derived from it.
    pub public_url: String,
    /// SQLite file, mail outbox.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: SQLite in the data dir.
    pub database_url: Option<String>,
    /// `AUTHGATE_ENCRYPTION_KEY`: base64 of the 32-byte key that seals
    /// secrets at rest (TOTP secrets, signing keys, challenge state).
    pub encryption_key: Option<String>,
    /// `AUTHGATE_ENCRYPTION_KEY_FILE`: a file holding that key instead.
    /// Neither set: SQLite generates one into the data dir; PostgreSQL
    /// refuses to start.
    pub encryption_key_file: Option<PathBuf>,
    /// `AUTHGATE_SIGNING_ALG`: the algorithm of new signing keys (`ES256`,
    /// `RS256`, `EdDSA`); a change applies at the next `authgate keys rotate`.
    pub signing_alg: authgate_embedded::keys::SigningAlg,
    /// `AUTHGATE_REDIS_URL`: rate-limit and failed-attempt counters shared
    /// by every instance; unset: counted in this process.
    pub redis_url: Option<String>,
    pub provider: ProviderKind,
    pub cognito_region: Option<String>,
    pub cognito_user_pool_id: Option<String>,
    pub cognito_client_id: Option<String>,
    pub cognito_client_secret: Option<String>,
    pub cognito_endpoint_url: Option<String>,
    pub mfa: MfaMode,
    pub compat_cognito_api: bool,
    /// `smtp://host:port`; unset: mail goes to the outbox.
    pub smtp_url: Option<String>,
    pub mail_from: String,
    /// Comma-separated allowed origins.
    pub cors_origins: String,
    /// Seconds.
    pub access_token_ttl: u64,
    /// Seconds.
    pub refresh_token_ttl: u64,
    /// `AUTHGATE_REFRESH_REUSE_INTERVAL`: seconds during which the refresh
    /// token rotated last may be presented again and answer the same new
    /// refresh token (a double submit, two tabs, a lost answer); 0: strict.
    pub refresh_reuse_interval: u64,
    /// Seconds a sign-up confirmation code stays valid.
    pub sign_up_code_ttl: u64,
    /// Seconds a password-reset code stays valid.
    pub password_reset_code_ttl: u64,
    /// Seconds a sign-in challenge session stays valid (at most 300).
    pub challenge_ttl: u64,
    /// Seconds a password re-verification counts for sensitive operations.
    pub password_verification_ttl: u64,
    /// The `client_id` of tokens the embedded provider issues.
    pub client_id: String,
    pub log: String,
    pub log_format: LogFormat,
    /// `AUTHGATE_RATE_LIMITS`: per-group budgets (`sign-in=30/300s,…`),
    /// `off`, or empty for the defaults (see [`RateLimits::parse`]).
    pub rate_limits: String,
    /// `AUTHGATE_LOCKOUT_THRESHOLD`: consecutive failures of one identifier
    /// before each further attempt waits.
    pub lockout_threshold: u32,
    /// `AUTHGATE_LOCKOUT_MAX_SECONDS`: the longest such wait.
    pub lockout_max_seconds: u64,
    /// `AUTHGATE_MAX_FAILED_ATTEMPTS`: consecutive failures after which the
    /// factor is refused until a reset or an administrator.
    pub max_failed_attempts: u32,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    pub password_min_length: usize,
    pub password_require_digit: bool,
    pub password_require_symbol: bool,
    pub password_require_uppercase: bool,
    pub password_require_lowercase: bool,
    /// `AUTHGATE_PASSWORD_BLOCKLIST_FILE`: more passwords to refuse, one per
    /// line, beside the shipped list.
    pub password_blocklist_file: Option<PathBuf>,
    /// `AUTHGATE_PAGES_DIR`: the hosted pages' overrides: `templates/*.html`
    /// replace the built-in templates of the same name, `texts/<locale>.json`
    /// replace texts (or add a locale), `style.css` the stylesheet. A file
    /// that does not parse stops the start-up, naming it.
    pub pages_dir: Option<PathBuf>,
    /// `[[identity_providers]]` in the configuration file, or
    /// `AUTHGATE_IDENTITY_PROVIDERS` as a JSON array of the same entries:
    /// the external OpenID providers people may sign in with.
    #[serde(deserialize_with = "list_or_json")]
    pub identity_providers: Vec<authgate_federation::IdentityProviderSettings>,
    /// Argon2 hashes computed at once; 0 means one per CPU.
    pub hash_concurrency: usize,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub shutdown_grace: u64,
    /// Seconds between re-reads of the signing keys (picks up `keys rotate`).
    pub key_reload_interval: u64,
    /// Gateway route rules for `/v1/authz/forward`: `METHODS PATH GRANT`,
    /// separated by `;` or new lines (see the README).
    pub forward_rules: String,
    /// `authenticated` (default): a request no rule matches needs a valid
    /// token only; `deny`: it is refused.
    pub forward_default: ForwardDefault,
    /// A sign-up for an address that has an account answers 409 (Cognito's
    /// behaviour) instead of the generic answer.
    pub sign_up_reveals_existing: bool,
    /// Seconds after a mailed password reset during which a lost-authenticator
    /// reset needs a recovery code (and the reverse).
    pub mfa_reset_cooldown: u64,
    /// Comma-separated CIDRs of the proxies whose forwarded client address
    /// (`X-Forwarded-For`, `Forwarded`) and `X-Request-Id` authgate trusts.
    pub trusted_proxies: String,
    /// `AUTHGATE_WEBAUTHN_RP_ID`: the relying party of passkeys; default:
    /// the host of the public URL (when that is a domain name).
    pub webauthn_rp_id: Option<String>,
    /// `AUTHGATE_WEBAUTHN_RP_NAME`: shown by the authenticator.
    pub webauthn_rp_name: String,
    /// `AUTHGATE_WEBAUTHN_ORIGINS`: comma-separated origins allowed to run
    /// passkey ceremonies; default: the origin of the public URL.
    pub webauthn_origins: String,
}

/// What `/v1/authz/forward` does with a request no route rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ForwardDefault {
    #[default]
    Authenticated,
    Deny,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Print everything but secrets: the client secret and credentials in URLs.
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("data_dir", &self.data_dir)
            .field("provider", &self.provider)
            .field("mfa", &self.mfa)
            .field("compat_cognito_api", &self.compat_cognito_api)
            .finish_non_exhaustive()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./authgate-data"),
            database_url: None,
            encryption_key: None,
            encryption_key_file: None,
            signing_alg: Default::default(),
            redis_url: None,
            provider: ProviderKind::Embedded,
            cognito_region: None,
            cognito_user_pool_id: None,
            cognito_client_id: None,
            cognito_client_secret: None,
            cognito_endpoint_url: None,
            mfa: MfaMode::Optional,
            compat_cognito_api: false,
            smtp_url: None,
            mail_from: "no-reply@localhost".into(),
            cors_origins: String::new(),
            access_token_ttl: 3600,
            refresh_token_ttl: 86_400,
            refresh_reuse_interval: 10,
            sign_up_code_ttl: 86_400,
            password_reset_code_ttl: 900,
            challenge_ttl: 300,
            password_verification_ttl: 300,
            client_id: "authgate".into(),
            log: "info".into(),
            log_format: LogFormat::Text,
            rate_limits: String::new(),
            lockout_threshold: 5,
            lockout_max_seconds: 900,
            max_failed_attempts: 100,
            max_body_bytes: 1024 * 1024,
            password_min_length: 14,
            password_require_digit: true,
            password_require_symbol: true,
            password_require_uppercase: true,
            password_require_lowercase: true,
            password_blocklist_file: None,
            pages_dir: None,
            identity_providers: Vec::new(),
            hash_concurrency: 0,
            shutdown_grace: 20,
            key_reload_interval: 30,
            forward_rules: String::new(),
            forward_default: ForwardDefault::Authenticated,
            sign_up_reveals_existing: false,
            mfa_reset_cooldown: 72 * 3600,
            trusted_proxies: String::new(),
            webauthn_rp_id: None,
            webauthn_rp_name: "authgate".into(),
            webauthn_origins: String::new(),
        }
    }
}

impl Settings {
    /// The database URL, defaulting to `authgate.db` in the data dir.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("authgate.db").display()))
    }

    /// Where the generated encryption key lives when none is configured.
    pub fn generated_key_file(&self) -> PathBuf {
        self.data_dir.join("encryption.key")
    }

    /// Where outgoing mail is written when no SMTP URL is set.
    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }

    /// The embedded provider's `iss`: the public URL without a trailing slash.
    pub fn issuer(&self) -> String {
        self.public_url.trim_end_matches('/').to_string()
    }

    /// The rate-limit budgets, or an error naming the bad part.
    pub fn rate_limits(&self) -> Result<RateLimits, String> {
        RateLimits::parse(&self.rate_limits).map_err(|e| format!("AUTHGATE_RATE_LIMITS: {e}"))
    }

    /// The failed-attempt policy, or an error naming the bad setting.
    pub fn failure_policy(&self) -> Result<FailurePolicy, String> {
        if self.lockout_threshold == 0 {
            return Err("AUTHGATE_LOCKOUT_THRESHOLD must be at least 1".into());
        }
        if self.max_failed_attempts < self.lockout_threshold {
            return Err(format!(
                "AUTHGATE_MAX_FAILED_ATTEMPTS ({}) must not be below AUTHGATE_LOCKOUT_THRESHOLD ({})",
                self.max_failed_attempts, self.lockout_threshold
            ));
        }
        Ok(FailurePolicy {
            threshold: self.lockout_threshold,
            max_wait: std::time::Duration::from_secs(self.lockout_max_seconds.max(1)),
            hard_limit: self.max_failed_attempts,
            ..FailurePolicy::default()
        })
    }

    /// The password policy, with the shipped blocklist and the passwords of
    /// `AUTHGATE_PASSWORD_BLOCKLIST_FILE`; an unreadable file is an error
    /// naming it.
    pub fn password_policy(&self) -> Result<authgate_core::policy::PasswordPolicy, String> {
        use authgate_core::policy::Blocklist;
        let blocklist = match &self.password_blocklist_file {
            None => Blocklist::shipped(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    format!(
                        "AUTHGATE_PASSWORD_BLOCKLIST_FILE: cannot read {}: {e}",
                        path.display()
                    )
                })?;
                std::sync::Arc::new(Blocklist::shipped_and(&text))
            }
        };
        Ok(authgate_core::policy::PasswordPolicy {
            min_length: self.password_min_length,
            require_digit: self.password_require_digit,
            require_symbol: self.password_require_symbol,
            require_uppercase: self.password_require_uppercase,
            require_lowercase: self.password_require_lowercase,
            blocklist,
        })
    }

    /// The Cognito settings, or an error naming every missing variable.
    pub fn cognito(&self) -> Result<CognitoSettings, String> {
        let missing: Vec<&str> = [
            ("AUTHGATE_COGNITO_REGION", &self.cognito_region),
            ("AUTHGATE_COGNITO_USER_POOL_ID", &self.cognito_user_pool_id),
            ("AUTHGATE_COGNITO_CLIENT_ID", &self.cognito_client_id),
        ]
        .iter()
        .filter(|(_, value)| value.as_deref().is_none_or(|v| v.trim().is_empty()))
        .map(|(name, _)| *name)
        .collect();
        if !missing.is_empty() {
            return Err(format!(
                "AUTHGATE_PROVIDER=cognito needs {}",
                missing.join(", ")
            ));
        }
        Ok(CognitoSettings {
            region: self.cognito_region.clone().unwrap_or_default(),
            user_pool_id: self.cognito_user_pool_id.clone().unwrap_or_default(),
            client_id: self.cognito_client_id.clone().unwrap_or_default(),
            client_secret: self.cognito_client_secret.clone().filter(|s| !s.is_empty()),
            endpoint_url: self.cognito_endpoint_url.clone().filter(|s| !s.is_empty()),
        })
    }

    /// The relying party of passkeys. `Ok(None)`: passkeys are off, because
    /// nothing names a domain (the default public URL is an IP address);
    /// `Err`: a setting is wrong, with what to change.
    pub fn relying_party(&self) -> Result<Option<RelyingParty>, String> {
        let explicit = self
            .webauthn_rp_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty());
        let public = url::Url::parse(&self.public_url)
            .map_err(|e| format!("AUTHGATE_PUBLIC_URL is not a URL ({e})"))?;
        let id = match explicit {
            Some(id) => {
                if is_ip_address(id) {
                    return Err(format!(
                        "AUTHGATE_WEBAUTHN_RP_ID is the IP address {id}: WebAuthn binds passkeys to \
                         a domain name, never an address. Set AUTHGATE_WEBAUTHN_RP_ID to the domain \
                         your users open (example.com, or localhost on a development machine)"
                    ));
                }
                if id.contains(['/', ':']) {
                    return Err(format!(
                        "AUTHGATE_WEBAUTHN_RP_ID is {id}: it is a domain name (example.com), \
                         without scheme, port or path"
                    ));
                }
                id.to_ascii_lowercase()
            }
            None => match public.domain() {
                Some(domain) => domain.to_ascii_lowercase(),
                None => return Ok(None),
            },
        };
        let origins: Vec<String> = self
            .webauthn_origins
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let (origins, setting) = if origins.is_empty() {
            (
                vec![public.origin().ascii_serialization()],
                "AUTHGATE_PUBLIC_URL (the default of AUTHGATE_WEBAUTHN_ORIGINS)",
            )
        } else {
            (origins, "AUTHGATE_WEBAUTHN_ORIGINS")
        };
        let origins = origins
            .iter()
            .map(|origin| check_origin(origin, &id, setting))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(RelyingParty {
            id,
            name: match self.webauthn_rp_name.trim() {
                "" => "authgate".into(),
                name => name.to_string(),
            },
            origins,
        }))
    }

    pub fn cors_origin_list(&self) -> Vec<String> {
        self.cors_origins
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// Is `host` an IPv4 or IPv6 address (bracketed or not)?
fn is_ip_address(host: &str) -> bool {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok()
}

/// One allowed origin: http(s), a domain inside the RP id (https unless it
/// is localhost, as browsers require).
fn check_origin(origin: &str, rp_id: &str, setting: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(origin)
        .map_err(|e| format!("{setting}: {origin} is not an origin ({e})"))?;
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if !matches!(url.scheme(), "https" | "http") || host.is_empty() {
        return Err(format!(
            "{setting}: {origin} is not an origin like https://app.example.com"
        ));
    }
    if url.domain().is_none() {
        return Err(format!(
            "{setting}: {origin} is an IP address; passkeys need a domain name inside \
             AUTHGATE_WEBAUTHN_RP_ID ({rp_id}): use its domain (or http://localhost:<port> \
             with AUTHGATE_WEBAUTHN_RP_ID=localhost)"
        ));
    }
    if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
        return Err(format!(
            "{setting}: {origin} is outside the RP id {rp_id}: an origin's host must be {rp_id} \
             or a subdomain of it. Change AUTHGATE_WEBAUTHN_RP_ID or the origin"
        ));
    }
    if url.scheme() == "http" && host != "localhost" && !host.ends_with(".localhost") {
        return Err(format!(
            "{setting}: {origin} is plain http: browsers run WebAuthn on https origins only \
             (http is allowed for localhost)"
        ));
    }
    Ok(url)
}

pub use authgate_embedded::passkeys::RelyingParty;

/// A list given as a list (a configuration file) or as a JSON array in one
/// string (an environment variable).
fn list_or_json<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given<T> {
        List(Vec<T>),
        Json(String),
    }
    match Given::<T>::deserialize(deserializer)? {
        Given::List(list) => Ok(list),
        Given::Json(text) if text.trim().is_empty() => Ok(Vec::new()),
        Given::Json(text) => serde_json::from_str(&text).map_err(|e| {
            serde::de::Error::custom(format!(
                "AUTHGATE_IDENTITY_PROVIDERS is not a JSON array of providers: {e}"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relying_party(
        public_url: &str,
        rp_id: Option<&str>,
        origins: &str,
    ) -> Result<Option<RelyingParty>, String> {
        Settings {
            public_url: public_url.into(),
            webauthn_rp_id: rp_id.map(str::to_string),
            webauthn_origins: origins.into(),
            ..Settings::default()
        }
        .relying_party()
    }

    #[test]
    fn the_relying_party_follows_the_public_url_or_its_own_settings() {
        assert_eq!(
            relying_party("http://127.0.0.1:8080", None, ""),
            Ok(None),
            "the default public URL names no domain: passkeys are off"
        );
        let rp = relying_party("https://auth.example.com/", None, "")
            .unwrap()
            .unwrap();
        assert_eq!(rp.id, "auth.example.com");
        assert_eq!(rp.name, "authgate");
        assert_eq!(rp.origins[0].as_str(), "https://auth.example.com/");
        let rp = relying_party(
            "http://127.0.0.1:8080",
            Some("example.com"),
            "https://app.example.com, https://example.com:8443",
        )
        .unwrap()
        .unwrap();
        assert_eq!(rp.id, "example.com");
        assert_eq!(rp.origins.len(), 2);
        let dev = relying_party(
            "http://127.0.0.1:8080",
            Some("localhost"),
            "http://localhost:5173",
        )
        .unwrap()
        .unwrap();
        assert_eq!(dev.origins[0].as_str(), "http://localhost:5173/");
    }

    #[test]
    fn wrong_relying_party_settings_say_which_setting_to_change() {
        let cases = [
            (
                Some("127.0.0.1"),
                "",
                "AUTHGATE_WEBAUTHN_RP_ID is the IP address",
            ),
            (
                Some("[::1]"),
                "",
                "AUTHGATE_WEBAUTHN_RP_ID is the IP address",
            ),
            (Some("https://example.com"), "", "without scheme"),
            (
                Some("example.com"),
                "https://example.org",
                "outside the RP id example.com",
            ),
            (
                Some("example.com"),
                "https://badexample.com",
                "outside the RP id",
            ),
            (Some("example.com"), "http://app.example.com", "plain http"),
            (
                Some("localhost"),
                "http://127.0.0.1:3000",
                "is an IP address",
            ),
            (
                Some("example.com"),
                "",
                "AUTHGATE_PUBLIC_URL (the default of AUTHGATE_WEBAUTHN_ORIGINS)",
            ),
            (Some("example.com"), "not a url", "is not an origin"),
        ];
        for (rp_id, origins, expected) in cases {
            let err = relying_party("http://127.0.0.1:8080", rp_id, origins).unwrap_err();
            assert!(err.contains(expected), "{rp_id:?} {origins}: {err}");
        }
    }

    #[test]
    fn defaults_are_the_contracts() {
        let s = Settings::default();
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
        assert_eq!(s.issuer(), "http://127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("./authgate-data"));
        assert_eq!(s.database_url(), "sqlite://./authgate-data/authgate.db");
        assert_eq!(s.outbox_dir(), PathBuf::from("./authgate-data/outbox"));
        assert_eq!(s.provider, ProviderKind::Embedded);
        assert_eq!(s.mfa, MfaMode::Optional);
        assert!(!s.compat_cognito_api);
        assert_eq!(s.smtp_url, None);
        assert_eq!(s.mail_from, "no-reply@localhost");
        assert!(s.cors_origin_list().is_empty());
        assert_eq!((s.access_token_ttl, s.refresh_token_ttl), (3600, 86_400));
        assert_eq!(s.log, "info");
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(s.max_body_bytes, 1024 * 1024);
        let policy = s.password_policy().unwrap();
        let default = authgate_core::policy::PasswordPolicy::default();
        assert_eq!(
            (
                policy.min_length,
                policy.require_digit,
                policy.require_symbol
            ),
            (
                default.min_length,
                default.require_digit,
                default.require_symbol
            )
        );
        assert!(std::sync::Arc::ptr_eq(
            &policy.blocklist,
            &default.blocklist
        ));
        let missing = Settings {
            password_blocklist_file: Some("/nonexistent/list.txt".into()),
            ..Settings::default()
        };
        let err = missing.password_policy().unwrap_err();
        assert!(
            err.contains("AUTHGATE_PASSWORD_BLOCKLIST_FILE")
                && err.contains("/nonexistent/list.txt"),
            "{err}"
        );
    }

    #[test]
    fn cors_origins_are_a_comma_list() {
        let s = Settings {
            cors_origins: " https://a.example , ,https://b.example".into(),
            ..Settings::default()
        };
        assert_eq!(
            s.cors_origin_list(),
            vec!["https://a.example", "https://b.example"]
        );
    }
}
