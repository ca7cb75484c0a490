//! What OIDC discovery and the JWKS routes publish: the provider's issuer,
//! client id and keys, and authgate's own keys (machine-client tokens).

use crate::clients::Clients;
use authgate_core::{AuthError, Provider};

#[derive(Clone)]
pub struct Discovery {
    pub(crate) provider: Provider,
    pub(crate) clients: Clients,
}

impl Discovery {
    /// The issuer of user tokens.
    pub fn issuer(&self) -> String {
        self.provider.info.issuer()
    }

    /// Where the provider publishes its keys, when it does so itself.
    pub fn provider_jwks_url(&self) -> Option<String> {
        self.provider.info.jwks_url()
    }

    /// The keys of user tokens.
    pub async fn user_jwks(&self) -> Result<serde_json::Value, AuthError> {
        self.provider.info.jwks().await
    }

    /// The `alg` of every published user-token key, the signing key's
    /// first (discovery's `id_token_signing_alg_values_supported`); Cognito
    /// signs with RS256, which is also the answer when its keys cannot be
    /// read right now.
    pub async fn id_token_algorithms(&self) -> Vec<String> {
        let mut algorithms: Vec<String> = Vec::new();
        if let Ok(jwks) = self.user_jwks().await {
            for alg in jwks["keys"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|key| key["alg"].as_str())
            {
                if !algorithms.iter().any(|a| a == alg) {
                    algorithms.push(alg.to_string());
                }
            }
        }
        if algorithms.is_empty() {
            algorithms.push("RS256".into());
        }
        algorithms
    }

    /// The keys of authgate's own signatures (machine-client tokens; with
    /// the embedded provider also its user tokens).
    pub fn machine_jwks(&self) -> serde_json::Value {
        self.clients.machine_jwks()
    }
}
