//! The external OpenID providers people may sign in with (federation,
//! contracts/oauth.md): each configured entry checked at start-up (a wrong
//! entry stops the start-up naming its field; two entries with one id too),
//! and each upstream's discovery document fetched in the background, so an
//! issuer that is down or wrong is said clearly in the log without keeping
//! the server from starting (it is fetched again when someone signs in).
//!
//! [`FederationService`] is the sign-in with them on the hosted pages, and
//! the linked identities a person can list and remove
//! ([`FederationService::identities`]).

pub use authgate_federation::IdentityProviderSettings;
use authgate_federation::Upstream;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The configured upstream providers, by configuration order.
pub type IdentityProviders = Arc<Vec<Arc<Upstream>>>;

/// Check every entry; an error names the entry and its field.
pub fn identity_providers(
    entries: &[IdentityProviderSettings],
) -> Result<IdentityProviders, String> {
    let mut ids = BTreeSet::new();
    let mut upstreams = Vec::with_capacity(entries.len());
    for entry in entries {
        if !ids.insert(entry.id.clone()) {
            return Err(format!(
                "identity_providers: two entries have the id {:?}",
                entry.id
            ));
        }
        let upstream =
            Upstream::new(entry.clone()).map_err(|e| format!("identity_providers: {e}"))?;
        upstreams.push(Arc::new(upstream));
    }
    Ok(Arc::new(upstreams))
}

/// Fetch each upstream's discovery document once, in the background: a
/// provider that is down or answers for another issuer is logged (and
/// tried again at its next sign-in), never fatal.
pub fn check_in_background(providers: &IdentityProviders) -> Vec<tokio::task::JoinHandle<()>> {
    providers
        .iter()
        .map(|upstream| {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Err(err) = upstream.metadata().await {
                    tracing::warn!(
                        provider = %upstream.settings.id,
                        issuer = %upstream.settings.issuer,
                        error = %err,
                        "identity provider not reachable yet: its sign-in answers an error page until it is (tried again at each)"
                    );
                }
            })
        })
        .collect()
}

mod identities;
mod sign_in;

pub use identities::IdentityView;
pub use sign_in::{Callback, FederatedSignIn, FederationService, ProviderButton};

/// The app-user provider of an upstream configured under `id`.
pub fn provider_name(id: &str) -> String {
    authgate_core::ProviderId::oidc(id).as_str().to_string()
}

/// Is `provider` (`oidc:<id>`) one of the configured upstreams?
pub fn is_configured(providers: &IdentityProviders, provider: &str) -> bool {
    provider
        .strip_prefix("oidc:")
        .is_some_and(|id| providers.iter().any(|u| u.settings.id == id))
}
