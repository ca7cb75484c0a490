//! What OIDC discovery and the JWKS routes publish: the provider's issuer,
//! client id and keys, and authgate's own keys (machine-client tokens).

use crate::clients::MachineClients;
use authgate_core::{AuthError, Provider};

#[derive(Clone)]
pub struct Discovery {
    pub(crate) provider: Provider,
    pub(crate) clients: MachineClients,
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

    /// The keys of authgate's own signatures (machine-client tokens; with
    /// the embedded provider also its user tokens).
    pub fn machine_jwks(&self) -> serde_json::Value {
        self.clients.machine_jwks()
    }
}
