//! [`Settings`]: every configuration value of authgate, with the defaults of
//! the configuration contract. The binary fills it from a TOML file and the
//! `AUTHGATE_*` environment variables (the field name, upper-cased, after the
//! `AUTHGATE_` prefix: `access_token_ttl` ← `AUTHGATE_ACCESS_TOKEN_TTL`).

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
    /// Shared rate-limit counters (not used yet: counters are per process).
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
    /// Requests per minute and client address on the public auth endpoints;
    /// 0 turns rate limiting off.
    pub rate_limit_per_minute: u32,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    pub password_min_length: usize,
    pub password_require_digit: bool,
    pub password_require_symbol: bool,
    pub password_require_uppercase: bool,
    pub password_require_lowercase: bool,
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
    /// Comma-separated CIDRs of the proxies whose `X-Request-Id` (and, from
    /// issue 13 on, forwarded client address) authgate trusts.
    pub trusted_proxies: String,
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
            sign_up_code_ttl: 86_400,
            password_reset_code_ttl: 900,
            challenge_ttl: 300,
            password_verification_ttl: 300,
            client_id: "authgate".into(),
            log: "info".into(),
            log_format: LogFormat::Text,
            rate_limit_per_minute: 120,
            max_body_bytes: 1024 * 1024,
            password_min_length: 14,
            password_require_digit: true,
            password_require_symbol: true,
            password_require_uppercase: true,
            password_require_lowercase: true,
            hash_concurrency: 0,
            shutdown_grace: 20,
            key_reload_interval: 30,
            forward_rules: String::new(),
            forward_default: ForwardDefault::Authenticated,
            sign_up_reveals_existing: false,
            mfa_reset_cooldown: 72 * 3600,
            trusted_proxies: String::new(),
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

    /// Where outgoing mail is written when no SMTP URL is set.
    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }

    /// The embedded provider's `iss`: the public URL without a trailing slash.
    pub fn issuer(&self) -> String {
        self.public_url.trim_end_matches('/').to_string()
    }

    pub fn password_policy(&self) -> authgate_core::policy::PasswordPolicy {
        authgate_core::policy::PasswordPolicy {
            min_length: self.password_min_length,
            require_digit: self.password_require_digit,
            require_symbol: self.password_require_symbol,
            require_uppercase: self.password_require_uppercase,
            require_lowercase: self.password_require_lowercase,
        }
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

    pub fn cors_origin_list(&self) -> Vec<String> {
        self.cors_origins
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            s.password_policy(),
            authgate_core::policy::PasswordPolicy::default()
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
