//! Authentication of a request's bearer token: the one place where a token
//! becomes a [`Principal`] (a user's [`Caller`] or a machine client's
//! [`ClientCaller`]). The guard validates the signature, issuer, client and
//! `token_use`; then the session must still be live (not signed out, not
//! ended by a password change). Every front end asks this module, so no
//! front end can accept a token the others refuse.

use crate::clients::Clients;
use crate::principal::{Caller, Principal};
use crate::sessions::SessionService;
use authgate_core::{AccessClaims, AuthError, Secret};
use authgate_guard::{Guard, GuardError};
use std::sync::Arc;

/// The guard's reason for a token of another client.
const WRONG_CLIENT: &str = "wrong_client";

/// Turns bearer tokens into principals.
#[derive(Clone)]
pub struct Authenticator {
    sessions: SessionService,
    clients: Clients,
    /// Access tokens of the provider's users.
    guard: Arc<Guard>,
    /// CognitoApi profile only: also accepts id tokens, for `GET
    /// /v1/userinfo` and nothing else (`None` when the profile is off).
    id_token_guard: Option<Arc<Guard>>,
    /// Machine-client tokens: authgate's issuer and keys, any client id (the
    /// client is then looked up).
    machine_guard: Arc<Guard>,
    machine_issuer: String,
}

impl Authenticator {
    pub(crate) fn new(
        sessions: SessionService,
        clients: Clients,
        guard: Arc<Guard>,
        id_token_guard: Option<Arc<Guard>>,
        machine_guard: Arc<Guard>,
        machine_issuer: String,
    ) -> Self {
        Self {
            sessions,
            clients,
            guard,
            id_token_guard,
            machine_guard,
            machine_issuer,
        }
    }

    /// The guard of user access tokens (its JWKS cache serves readiness).
    pub fn guard(&self) -> &Arc<Guard> {
        &self.guard
    }

    /// A user's access token: the guard's validation plus the session check.
    /// The code flow's access tokens (authgate's issuer, an app client's
    /// `client_id`) count too.
    pub async fn user(&self, token: &str) -> Result<Caller, AuthError> {
        if self.is_foreign_authgate_token(token) {
            return self.app_client_user(token.trim()).await;
        }
        match self.user_with(&self.guard, token).await {
            Err(AuthError::InvalidToken { ref reason }) if reason == WRONG_CLIENT => {
                self.app_client_user(token.trim()).await
            }
            other => other,
        }
    }

    /// Does `token` claim authgate's own issuer while the provider's
    /// tokens have another (Cognito)? Then only the machine guard can
    /// verify it.
    fn is_foreign_authgate_token(&self, token: &str) -> bool {
        self.sessions.provider.info.issuer() != self.machine_issuer
            && authgate_core::token::unverified_claims(token.trim())
                .is_some_and(|c| c.iss == self.machine_issuer)
    }

    /// An access token of the authorization code flow: signed by authgate's
    /// keys for a live app client, on a session (the family its code
    /// started) that is still live.
    async fn app_client_user(&self, token: &str) -> Result<Caller, AuthError> {
        let claims = self.machine_guard.validate(token).await?;
        self.clients.app_client_of(&claims).await?;
        let stamp = self.sessions.check_client_session(&claims).await?;
        Ok(Caller::new(claims, Secret::new(token), stamp))
    }

    /// A user's access token or id token (the CognitoApi profile's
    /// `userinfo`, nothing else).
    pub async fn user_by_any_token(&self, token: &str) -> Result<Caller, AuthError> {
        let guard = self.id_token_guard.as_ref().ok_or_else(|| {
            AuthError::Internal("the CognitoApi profile's id-token guard is not configured".into())
        })?;
        self.user_with(guard, token).await
    }

    async fn user_with(&self, guard: &Guard, token: &str) -> Result<Caller, AuthError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::MissingToken);
        }
        let claims = provider_claims(guard.validate(token).await.map_err(AuthError::from)?);
        let stamp = self.sessions.check_session(&claims).await?;
        Ok(Caller::new(claims, Secret::new(token), stamp))
    }

    /// A user's access token, or a machine client's. Machine tokens carry
    /// authgate's own issuer: with a provider of another issuer (Cognito)
    /// they go straight to the machine guard; with the embedded provider
    /// (one issuer, one key ring) the user guard refuses them for their
    /// client and the machine guard takes over. Either way authgate's keys
    /// must have signed the token, for a client that still exists.
    pub async fn principal(&self, token: &str) -> Result<Principal, AuthError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::MissingToken);
        }
        if self.is_foreign_authgate_token(token) {
            let claims = self.machine_guard.validate(token).await?;
            if claims.client_id.as_deref() != Some(claims.sub.as_str()) {
                return Ok(Principal::User(Box::new(
                    self.app_client_user(token).await?,
                )));
            }
            return Ok(Principal::Client(
                self.clients.machine_caller(&claims).await?,
            ));
        }
        match self.guard.validate(token).await.map(provider_claims) {
            Ok(claims) => {
                let stamp = self.sessions.check_session(&claims).await?;
                Ok(Principal::User(Box::new(Caller::new(
                    claims,
                    Secret::new(token),
                    stamp,
                ))))
            }
            Err(refused @ GuardError::WrongClient) => {
                match self.machine_guard.validate(token).await {
                    Ok(claims) if claims.client_id.as_deref() == Some(claims.sub.as_str()) => Ok(
                        Principal::Client(self.clients.machine_caller(&claims).await?),
                    ),
                    Ok(_) => match self.app_client_user(token).await {
                        Ok(caller) => Ok(Principal::User(Box::new(caller))),
                        Err(_) => Err(refused.into()),
                    },
                    _ => Err(refused.into()),
                }
            }
            Err(refused) => Err(refused.into()),
        }
    }
}

/// The claims of a provider's token: an `idp` claim there names no
/// federated person (only authgate's code-flow tokens may), so it is
/// dropped rather than believed.
fn provider_claims(mut claims: AccessClaims) -> AccessClaims {
    claims.idp = None;
    claims
}
