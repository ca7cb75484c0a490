//! Machine clients and the OAuth `client_credentials` grant. A client has an
//! id, a name, scopes, and a 256-bit random secret of which only a SHA-256
//! hash is stored (a fast hash is right for a high-entropy secret; the
//! comparison is constant-time). Its access tokens are JWTs signed with
//! authgate's own keys (`iss` = authgate's issuer, `sub` = `client_id` = the
//! client id, `scope` = the granted scopes); a revoked client's tokens stop
//! working at once because every use looks the client up.

use crate::events::{EventRecorder, RequestMeta};
use crate::principal::{AdminActor, ClientCaller};
use authgate_core::EventKind;
use authgate_core::authz::validate_grant;
use authgate_core::{AccessClaims, AuthError, Secret, now_millis};
use authgate_embedded::keys::KeyRing;
use authgate_store::Store;
use authgate_store::clients::MachineClient;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// Signs machine tokens.
pub struct MachineTokens {
    pub keys: Arc<KeyRing>,
    pub issuer: String,
    pub ttl: Duration,
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

/// Scopes: the grant syntax (`orders:read`, `admin`), deduplicated.
fn scopes(list: &[String]) -> Result<Vec<String>, AuthError> {
    let mut out: Vec<String> = Vec::new();
    for scope in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        validate_grant(scope)
            .map_err(|m| AuthError::invalid_field("scopes", format!("scope {scope:?} {m}")))?;
        if !out.iter().any(|s| s == scope) {
            out.push(scope.to_string());
        }
    }
    if out.is_empty() {
        return Err(AuthError::invalid_field(
            "scopes",
            "name at least one scope",
        ));
    }
    Ok(out)
}

#[derive(Clone)]
pub struct MachineClients {
    pub(crate) store: Store,
    pub(crate) events: EventRecorder,
    pub(crate) machine: Arc<MachineTokens>,
}

impl MachineClients {
    /// Register a client; the secret is returned once and never stored.
    pub async fn create_machine_client(
        &self,
        _admin: &AdminActor,
        name: &str,
        requested_scopes: &[String],
    ) -> Result<(MachineClient, Secret), AuthError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AuthError::invalid_field(
                "name",
                "name must be 1 to 100 characters",
            ));
        }
        let scopes = scopes(requested_scopes)?;
        let secret = Secret::new(random_text(32));
        let client = MachineClient {
            id: format!("agc_{}", random_text(15)),
            name: name.to_string(),
            secret_hash: secret_hash(secret.expose()),
            scopes,
            created_at: now_millis(),
            revoked_at: None,
        };
        self.store.insert_machine_client(&client).await?;
        self.events
            .record_change(
                "cli",
                EventKind::ClientCreate,
                &RequestMeta::default(),
                None,
                &format!("client:{}", client.id),
                &Ok::<(), AuthError>(()),
            )
            .await;
        Ok((client, secret))
    }

    /// The public keys of authgate's own signatures (machine-client tokens;
    /// with the embedded provider also its user tokens).
    pub fn machine_jwks(&self) -> serde_json::Value {
        self.machine.keys.jwks()
    }

    /// Every registered client (secrets are not kept, only their hashes).
    pub async fn machine_clients(
        &self,
        _admin: &AdminActor,
    ) -> Result<Vec<MachineClient>, AuthError> {
        Ok(self.store.machine_clients().await?)
    }

    /// Revoke a client: its secret stops working and the tokens it holds are
    /// refused at once. `actor` is the administrator (`cli` for the command).
    pub async fn revoke_machine_client(
        &self,
        meta: &RequestMeta,
        actor: &AdminActor,
        client_id: &str,
    ) -> Result<(), AuthError> {
        let result = async {
            let client = self
                .store
                .machine_client(client_id)
                .await?
                .ok_or_else(|| AuthError::NotFound("client".into()))?;
            let grants = ClientCaller::new(client.id.clone(), client.scopes.clone()).grants();
            actor.require_all(&grants, "this client's scopes")?;
            if self
                .store
                .revoke_machine_client(client_id, now_millis())
                .await?
            {
                Ok(())
            } else {
                Err(AuthError::NotFound("client".into()))
            }
        }
        .await;
        let target = format!("client:{}", client_id.chars().take(64).collect::<String>());
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

    /// The `client_credentials` grant: check the secret (constant time, and
    /// as slow for an unknown id as for a known one), narrow the scopes to the
    /// requested ones, sign a token.
    pub async fn client_credentials(
        &self,
        meta: &RequestMeta,
        client_id: &str,
        secret: &Secret,
        requested: Option<&str>,
    ) -> Result<ClientToken, AuthError> {
        let result = async {
            let client = self.store.machine_client(client_id).await?;
            let presented = secret_hash(secret.expose());
            let stored = client
                .as_ref()
                .map_or_else(|| "0".repeat(64), |c| c.secret_hash.clone());
            let matches: bool = presented.as_bytes().ct_eq(stored.as_bytes()).into();
            let client = match client {
                Some(client) if matches && client.revoked_at.is_none() => client,
                _ => return Err(AuthError::InvalidClient),
            };
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
        let target = format!("client:{}", client_id.chars().take(64).collect::<String>());
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
            .machine_client(client_id)
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

    #[test]
    fn scopes_are_checked_and_deduplicated() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            scopes(&list(&["admin", "orders:read", "admin"])).unwrap(),
            list(&["admin", "orders:read"])
        );
        assert!(scopes(&list(&["Bad Scope"])).is_err());
        assert!(scopes(&list(&[])).is_err());
    }
}
