//! The upstream leg of federation (contracts/oauth.md, "Federation"): an
//! external OpenID provider's discovery document, fetched and checked (its
//! `issuer` must be the configured one) and fetched again after a failure,
//! never crashing the server; the authorization request with PKCE (S256),
//! `state` and `nonce`; and the callback's code exchanged for an id token
//! whose signature, `iss`, `aud`, `azp`, `exp` and `nonce` are checked by
//! the `openidconnect` crate. What the upstream says about the person comes
//! out as an [`UpstreamIdentity`]; what authgate makes of it (app users,
//! linking, sessions) is the service's business, not this crate's.

mod settings;
#[cfg(feature = "testing")]
pub mod testing;

pub use settings::IdentityProviderSettings;

use authgate_core::Secret;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Why the upstream leg failed. The messages are for the operator's logs
/// and the audit row; the pages say it in words.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error(
        "the identity provider {provider} is unreachable or its discovery document is wrong: {detail}"
    )]
    Discovery { provider: String, detail: String },
    #[error("the identity provider {provider} refused the sign-in: {detail}")]
    Refused { provider: String, detail: String },
    #[error("the id token of {provider} did not verify: {detail}")]
    InvalidIdToken { provider: String, detail: String },
}

impl FederationError {
    /// The audit reason.
    pub fn reason(&self) -> &'static str {
        match self {
            FederationError::Discovery { .. } => "upstream_unavailable",
            FederationError::Refused { .. } => "upstream_refused",
            FederationError::InvalidIdToken { .. } => "upstream_id_token_invalid",
        }
    }
}

/// What an upstream provider says about the person who signed in there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamIdentity {
    /// The upstream issuer (`iss` of its id token).
    pub issuer: String,
    /// The upstream `sub`: with the provider's id, the key of the person.
    pub subject: String,
    /// The address, and whether the upstream says it verified it.
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

/// An authorization request sent upstream: where the browser goes, and what
/// authgate keeps (server-side, never in the browser) to check the answer.
#[derive(Debug)]
pub struct Begun {
    pub url: String,
    pub state: Secret,
    pub nonce: Secret,
    pub pkce_verifier: Secret,
}

type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How long after a failed discovery the next request tries again.
const RETRY_AFTER: Duration = Duration::from_secs(10);

/// One configured upstream provider.
pub struct Upstream {
    pub settings: IdentityProviderSettings,
    http: reqwest::Client,
    discovered: Mutex<Discovery>,
}

#[derive(Default)]
enum Discovery {
    #[default]
    Never,
    Found(Arc<CoreProviderMetadata>),
    Failed {
        at: Instant,
        detail: String,
    },
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("id", &self.settings.id)
            .field("issuer", &self.settings.issuer)
            .finish_non_exhaustive()
    }
}

impl Upstream {
    pub fn new(settings: IdentityProviderSettings) -> Result<Self, String> {
        settings.validate()?;
        let http = reqwest::Client::builder()
            // The token endpoint must not redirect us anywhere (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("identity provider {}: {e}", settings.id))?;
        Ok(Self {
            settings,
            http,
            discovered: Mutex::new(Discovery::Never),
        })
    }

    fn discovery_error(&self, detail: impl Into<String>) -> FederationError {
        FederationError::Discovery {
            provider: self.settings.id.clone(),
            detail: detail.into(),
        }
    }

    /// The upstream's discovery document: fetched once, checked (its issuer
    /// must be the configured one), and after a failure fetched again on a
    /// request at least [`RETRY_AFTER`] later.
    pub async fn metadata(&self) -> Result<Arc<CoreProviderMetadata>, FederationError> {
        let mut discovered = self.discovered.lock().await;
        match &*discovered {
            Discovery::Found(metadata) => return Ok(metadata.clone()),
            Discovery::Failed { at, detail } if at.elapsed() < RETRY_AFTER => {
                return Err(self.discovery_error(detail.clone()));
            }
            _ => {}
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| self.discovery_error(format!("issuer {e}")))?;
        match CoreProviderMetadata::discover_async(issuer, &self.http).await {
            Ok(metadata) => {
                let metadata = Arc::new(metadata);
                *discovered = Discovery::Found(metadata.clone());
                tracing::info!(provider = %self.settings.id, issuer = %self.settings.issuer, "identity provider discovered");
                Ok(metadata)
            }
            Err(err) => {
                let detail = error_chain(&err);
                *discovered = Discovery::Failed {
                    at: Instant::now(),
                    detail: detail.clone(),
                };
                Err(self.discovery_error(detail))
            }
        }
    }

    async fn client(&self, redirect_uri: &str) -> Result<DiscoveredClient, FederationError> {
        let metadata = self.metadata().await?;
        let redirect = RedirectUrl::new(redirect_uri.to_string())
            .map_err(|e| self.discovery_error(format!("redirect URI {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            (*metadata).clone(),
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(
                self.settings.client_secret.expose().to_string(),
            )),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(self.settings.auth_type()))
    }

    /// The authorization request for the browser: code flow, S256 PKCE, a
    /// fresh `state` and `nonce`, the configured scopes.
    pub async fn begin(&self, redirect_uri: &str) -> Result<Begun, FederationError> {
        let client = self.client(redirect_uri).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in &self.settings.scopes {
            if scope != "openid" {
                request = request.add_scope(Scope::new(scope.clone()));
            }
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(Begun {
            url: url.to_string(),
            state: Secret::new(state.secret().clone()),
            nonce: Secret::new(nonce.secret().clone()),
            pkce_verifier: Secret::new(verifier.secret().clone()),
        })
    }

    /// Exchange the callback's `code` and check the id token against what
    /// [`Upstream::begin`] kept: signature (the upstream's published keys),
    /// `iss`, `aud`, `azp`, `exp`, `nonce`.
    pub async fn finish(
        &self,
        redirect_uri: &str,
        code: &str,
        nonce: &Secret,
        pkce_verifier: &Secret,
    ) -> Result<UpstreamIdentity, FederationError> {
        let client = self.client(redirect_uri).await?;
        let refused = |detail: String| FederationError::Refused {
            provider: self.settings.id.clone(),
            detail,
        };
        let invalid = |detail: String| FederationError::InvalidIdToken {
            provider: self.settings.id.clone(),
            detail,
        };
        let answer = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| refused(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.expose().to_string()))
            .request_async(&self.http)
            .await
            .map_err(|e| refused(error_chain(&e)))?;
        let id_token = answer
            .id_token()
            .ok_or_else(|| invalid("the token answer has no id token".into()))?;
        let claims: &CoreIdTokenClaims = id_token
            .claims(
                &client.id_token_verifier(),
                &Nonce::new(nonce.expose().to_string()),
            )
            .map_err(|e| invalid(e.to_string()))?;
        let mut identity = UpstreamIdentity {
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified().unwrap_or(false),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.to_string()),
        };
        // Many providers put the scopes' claims in UserInfo only (the code
        // flow's id token carries `sub`): ask it, for the same subject.
        if identity.email.is_none() || identity.name.is_none() {
            let request = client
                .user_info(
                    answer.access_token().clone(),
                    Some(claims.subject().clone()),
                )
                .map_err(|e| refused(format!("UserInfo: {e}")))?;
            let info: openidconnect::core::CoreUserInfoClaims = request
                .request_async(&self.http)
                .await
                .map_err(|e| refused(format!("UserInfo: {}", error_chain(&e))))?;
            if identity.email.is_none() {
                identity.email = info.email().map(|e| e.to_string());
                identity.email_verified = info.email_verified().unwrap_or(false);
            }
            if identity.name.is_none() {
                identity.name = info.name().and_then(|n| n.get(None)).map(|n| n.to_string());
            }
        }
        Ok(identity)
    }
}

/// An error and its causes, in one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
