//! The client registry and the OAuth `client_credentials` grant. A client is
//! registered once ([`registration`] checks what it may say); a confidential
//! client gets a 256-bit random secret of which only a SHA-256 hash is
//! stored (a fast hash is right for a high-entropy secret; the comparison is
//! constant-time), a public client none. Its access tokens are JWTs signed with
//! authgate's own keys (`iss` = authgate's issuer, `sub` = `client_id` = the
//! client id, `scope` = the granted scopes); a revoked client's tokens stop
//! working at once because every use looks the client up.
//!
//! Authenticating a client at the token endpoint reads it from
//! [`RememberedClients`] (at most a second old, forgotten at once on the
//! instance that revokes it): a client revoked on another instance may be
//! issued a token for up to a second longer, which no use accepts.

use crate::events::{EventRecorder, RequestMeta};
use crate::principal::{AdminActor, ClientCaller};
use authgate_core::EventKind;
use authgate_core::{AccessClaims, AuthError, Secret, now_millis};
use authgate_embedded::keys::KeyRing;
use authgate_store::Store;
use authgate_store::clients::{Client, ClientType, GrantType};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

pub mod registration;
pub use registration::ClientRequest;

/// Signs machine tokens.
pub struct MachineTokens {
    pub keys: Arc<KeyRing>,
    pub issuer: String,
    pub ttl: Duration,
}

/// The audit target of a client: `client:<id>`, the id cut to 64
/// characters (it may come from a request, unchecked).
pub fn audit_target(client_id: &str) -> String {
    format!("client:{}", client_id.chars().take(64).collect::<String>())
}

/// A token issued to a client.
#[derive(Debug, Clone)]
pub struct ClientToken {
    pub access_token: Secret,
    pub expires_in: u64,
    pub scopes: Vec<String>,
}

#[derive(Serialize)]
struct MachineClaims<'a> {
    sub: &'a str,
    iss: &'a str,
    client_id: &'a str,
    token_use: &'static str,
    scope: String,
    auth_time: i64,
    iat: i64,
    exp: i64,
    jti: String,
}

/// What an unknown client or a public one is compared against: no SHA-256
/// digest in hex is 64 zeros (as far as anyone will ever find).
const NO_SECRET: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn random_text(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

fn secret_hash(secret: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Clone)]
pub struct Clients {
    pub(crate) store: Store,
    pub(crate) events: EventRecorder,
    pub(crate) machine: Arc<MachineTokens>,
    pub(crate) remembered: Arc<RememberedClients>,
}

/// How long a client read for authentication is remembered.
const REMEMBER_CLIENT_FOR: Duration = Duration::from_secs(1);

/// Clients read recently for authentication, by id, each with the time it
/// was read: the token endpoint's hot path without a database read per
/// request. Bounded; only registered clients are remembered (an unknown id
/// is read every time, so made-up ids cannot fill it).
pub struct RememberedClients {
    by_id: quick_cache::sync::Cache<String, (std::time::Instant, Arc<Client>)>,
}

impl RememberedClients {
    pub fn new(capacity: usize) -> Self {
        Self {
            by_id: quick_cache::sync::Cache::new(capacity.max(1)),
        }
    }

    fn fresh(&self, id: &str) -> Option<Arc<Client>> {
        self.by_id
            .get(id)
            .filter(|(read_at, _)| read_at.elapsed() < REMEMBER_CLIENT_FOR)
            .map(|(_, client)| client)
    }

    fn remember(&self, client: &Client) {
        self.by_id.insert(
            client.id.clone(),
            (std::time::Instant::now(), Arc::new(client.clone())),
        );
    }

    fn forget(&self, id: &str) {
        self.by_id.remove(id);
    }
}

impl Clients {
    /// Register a client; a confidential client's secret is returned once
    /// and never stored. `admin` must hold every grant the client's scopes
    /// carry (an `admin`-scoped client is made by an administrator of all).
    pub async fn create_client(
        &self,
        meta: &RequestMeta,
        admin: &AdminActor,
        request: &ClientRequest,
    ) -> Result<(Client, Option<Secret>), AuthError> {
        let result = async {
            let registration = request.validate()?;
            let id = format!("agc_{}", random_text(15));
            let grants = ClientCaller::new(id.clone(), registration.scopes.clone()).grants();
            admin.require_all(&grants, "this client's scopes")?;
            let secret = match registration.client_type {
                ClientType::Public => None,
                ClientType::Confidential => Some(Secret::new(random_text(32))),
            };
            let client = Client {
                id,
                name: registration.name,
                client_type: registration.client_type,
                secret_hash: secret.as_ref().map(|s| secret_hash(s.expose())),
                scopes: registration.scopes,
                redirect_uris: registration.redirect_uris,
                post_logout_uris: registration.post_logout_uris,
                grant_types: registration.grant_types,
                consent: registration.consent,
                created_at: now_millis(),
                revoked_at: None,
            };
            self.store.insert_client(&client).await?;
            Ok((client, secret))
        }
        .await;
        let target = match &result {
            Ok((client, _)) => audit_target(&client.id),
            Err(_) => "client".to_string(),
        };
        self.events
            .record_change(
                &admin.id,
                EventKind::ClientCreate,
                meta,
                None,
                &target,
                &result,
            )
            .await;
        result
    }

    /// The public keys of authgate's own signatures (machine-client tokens;
    /// with the embedded provider also its user tokens).
    pub fn machine_jwks(&self) -> serde_json::Value {
        self.machine.keys.jwks()
    }

    /// Every registered client (secrets are not kept, only their hashes).
    pub async fn clients(&self, _admin: &AdminActor) -> Result<Vec<Client>, AuthError> {
        Ok(self.store.clients().await?)
    }

    /// Revoke a client: its secret stops working and the tokens it holds are
    /// refused at once. `actor` is the administrator (`cli` for the command).
    pub async fn revoke_client(
        &self,
        meta: &RequestMeta,
        actor: &AdminActor,
        client_id: &str,
    ) -> Result<(), AuthError> {
        let result = async {
            let client = self
                .store
                .client(client_id)
                .await?
                .ok_or_else(|| AuthError::NotFound("client".into()))?;
            let grants = ClientCaller::new(client.id.clone(), client.scopes.clone()).grants();
            actor.require_all(&grants, "this client's scopes")?;
            let revoked = self.store.revoke_client(client_id, now_millis()).await?;
            self.remembered.forget(client_id);
            if revoked {
                Ok(())
            } else {
                Err(AuthError::NotFound("client".into()))
            }
        }
        .await;
        let target = audit_target(client_id);
        self.events
            .record_change(
                &actor.id,
                EventKind::ClientRevoke,
                meta,
                None,
                &target,
                &result,
            )
            .await;
        result
    }

    /// The client of a token request. A confidential client proves itself
    /// with its secret (compared in constant time, and as slowly for an
    /// unknown id or a public client as for a known one); a public client
    /// names itself and presents no secret. Anything else, or a revoked
    /// client, is `invalid_client`.
    pub async fn authenticate(
        &self,
        client_id: &str,
        secret: Option<&Secret>,
    ) -> Result<Client, AuthError> {
        let client = match self.remembered.fresh(client_id) {
            Some(client) => Some(Client::clone(&client)),
            None => {
                let client = self.store.client(client_id).await?;
                if let Some(client) = &client {
                    self.remembered.remember(client);
                }
                client
            }
        };
        match (client, secret.filter(|s| !s.is_empty())) {
            (Some(client), None)
                if client.client_type == ClientType::Public && client.revoked_at.is_none() =>
            {
                Ok(client)
            }
            (client, Some(secret)) => {
                let presented = secret_hash(secret.expose());
                let stored = client
                    .as_ref()
                    .and_then(|c| c.secret_hash.as_deref())
                    .unwrap_or(NO_SECRET);
                let matches: bool = presented.as_bytes().ct_eq(stored.as_bytes()).into();
                match client {
                    Some(client) if matches && client.revoked_at.is_none() => Ok(client),
                    _ => Err(AuthError::InvalidClient),
                }
            }
            (_, None) => Err(AuthError::InvalidClient),
        }
    }

    /// The `client_credentials` grant: check the secret (constant time, and
    /// as slow for an unknown id or a public client as for a known one),
    /// refuse a client not registered for the grant, narrow the scopes to
    /// the requested ones, sign a token.
    pub async fn client_credentials(
        &self,
        meta: &RequestMeta,
        client_id: &str,
        secret: &Secret,
        requested: Option<&str>,
    ) -> Result<ClientToken, AuthError> {
        let result = async {
            // A machine client always has a secret: none is no client (the
            // same answer, without a lookup, for every id).
            if secret.is_empty() {
                return Err(AuthError::InvalidClient);
            }
            let client = self.authenticate(client_id, Some(secret)).await?;
            if !client.allows(GrantType::ClientCredentials) {
                return Err(AuthError::UnauthorizedClient(
                    "the client is not registered for the client_credentials grant".into(),
                ));
            }
            let granted = match requested.map(str::trim).filter(|s| !s.is_empty()) {
                None => client.scopes.clone(),
                Some(text) => {
                    let wanted: Vec<String> = text.split_whitespace().map(str::to_string).collect();
                    if let Some(extra) = wanted.iter().find(|s| !client.scopes.contains(s)) {
                        return Err(AuthError::invalid_field(
                            "scope",
                            format!("the client may not ask for the scope {extra}"),
                        ));
                    }
                    wanted
                }
            };
            let now = now_millis() / 1000;
            let ttl = self.machine.ttl.as_secs();
            let token = self.machine.keys.sign(&MachineClaims {
                sub: &client.id,
                iss: &self.machine.issuer,
                client_id: &client.id,
                token_use: "access",
                scope: granted.join(" "),
                auth_time: now,
                iat: now,
                exp: now + ttl as i64,
                jti: uuid::Uuid::new_v4().to_string(),
            })?;
            Ok(ClientToken {
                access_token: Secret::new(token),
                expires_in: ttl,
                scopes: granted,
            })
        }
        .await;
        let target = audit_target(client_id);
        self.events
            .record_change(
                &target,
                EventKind::ClientToken,
                meta,
                None,
                &target,
                &result,
            )
            .await;
        result
    }

    /// The app client a code-flow access token was issued to: registered,
    /// live, of the authorization code flow, and not the token's subject
    /// (that would be a machine token).
    pub async fn app_client_of(&self, claims: &AccessClaims) -> Result<Client, AuthError> {
        let not_ours = || AuthError::InvalidToken {
            reason: "wrong_client".into(),
        };
        let client_id = claims.client_id.as_deref().ok_or_else(not_ours)?;
        if claims.sub == client_id {
            return Err(not_ours());
        }
        let client = self
            .store
            .client(client_id)
            .await?
            .filter(|c| c.allows(GrantType::AuthorizationCode))
            .ok_or_else(not_ours)?;
        if client.revoked_at.is_some() {
            return Err(AuthError::TokenRevoked);
        }
        Ok(client)
    }

    /// The client behind validated machine-token claims, if it still exists
    /// and is not revoked.
    pub async fn machine_caller(&self, claims: &AccessClaims) -> Result<ClientCaller, AuthError> {
        let refused = || AuthError::InvalidToken {
            reason: "the token is not a live machine-client token".into(),
        };
        let client_id = claims.client_id.as_deref().ok_or_else(refused)?;
        if claims.sub != client_id {
            return Err(refused());
        }
        let client = self
            .store
            .client(client_id)
            .await?
            .filter(|c| c.revoked_at.is_none())
            .ok_or(AuthError::TokenRevoked)?;
        let scopes = claims
            .scope
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .filter(|s| client.scopes.iter().any(|c| c == s))
            .map(str::to_string)
            .collect();
        Ok(ClientCaller::new(client.id, scopes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_hashed() {
        let a = random_text(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_text(32));
        assert_eq!(secret_hash("x").len(), 64);
        assert_ne!(secret_hash("x"), secret_hash("y"));
    }
}
