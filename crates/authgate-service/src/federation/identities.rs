//! The identities at external providers linked to the caller's account
//! (`GET /v1/auth/identities`, `DELETE /v1/auth/identities/{id}`): listed
//! with the provider's label, removable unless removing one would leave the
//! account no way to sign in.

use super::sign_in::FederationService;
use crate::events::RequestMeta;
use crate::principal::Caller;
use authgate_core::{AuthError, EventKind, ProviderId, rfc3339};
use authgate_store::identities::LinkedIdentity;
use uuid::Uuid;

/// A linked identity as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityView {
    pub id: String,
    /// `oidc:<id>`.
    pub provider: String,
    /// The provider's label (its id once it is no longer configured).
    pub label: String,
    pub issuer: String,
    /// The provider's `sub`.
    pub subject: String,
    /// The address the provider last said it verified.
    pub email: Option<String>,
    /// RFC 3339.
    pub linked_at: String,
    pub last_used_at: String,
    /// False for the identity that is the account's only way to sign in.
    pub removable: bool,
}

impl FederationService {
    /// The caller's linked identities, oldest first.
    pub async fn identities(&self, caller: &Caller) -> Result<Vec<IdentityView>, AuthError> {
        let user = self.subjects.subject(caller).await?;
        let linked = self.store.identities_of(user.id).await?;
        Ok(linked
            .iter()
            .map(|identity| IdentityView {
                id: identity.id.to_string(),
                provider: identity.provider.clone(),
                label: self.label(identity.provider.trim_start_matches("oidc:")),
                issuer: identity.issuer.clone(),
                subject: identity.subject.clone(),
                email: identity.email.clone(),
                linked_at: rfc3339(identity.created_at / 1000),
                last_used_at: rfc3339(identity.last_used_at / 1000),
                removable: !is_the_account_itself(&user, identity),
            })
            .collect())
    }

    /// Remove one of the caller's linked identities. The identity a person
    /// who signed up with a provider *is* (their app user's own key) is
    /// their only way to sign in: `last_sign_in_method`. An account of the
    /// configured provider keeps its own sign-in, so any link may go.
    pub async fn unlink(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        id: &str,
    ) -> Result<(), AuthError> {
        let user = self.subjects.subject(caller).await?;
        let mut found: Option<LinkedIdentity> = None;
        let result = async {
            let wanted = Uuid::parse_str(id).map_err(|_| AuthError::NotFound("identity".into()))?;
            let identity = self
                .store
                .identities_of(user.id)
                .await?
                .into_iter()
                .find(|identity| identity.id == wanted)
                .ok_or_else(|| AuthError::NotFound("identity".into()))?;
            let itself = is_the_account_itself(&user, &identity);
            found = Some(identity);
            if itself {
                return Err(AuthError::LastSignInMethod);
            }
            if !self.store.unlink_identity(user.id, wanted).await? {
                return Err(AuthError::NotFound("identity".into()));
            }
            Ok(())
        }
        .await;
        match found {
            Some(identity) => {
                let provider = ProviderId::oidc(identity.provider.trim_start_matches("oidc:"));
                self.events
                    .record_federated(
                        EventKind::IdentityUnlinked,
                        meta,
                        &provider,
                        Some(&identity.issuer),
                        None,
                        Some(&user.provider_sub),
                        &result,
                    )
                    .await;
            }
            None => {
                // The path's id enters the row only when it is an id.
                let target = Uuid::parse_str(id).ok().map(|id| format!("identity:{id}"));
                self.events
                    .record_on(
                        EventKind::IdentityUnlinked,
                        meta,
                        &user.provider_sub,
                        target.as_deref(),
                        &result,
                    )
                    .await;
            }
        }
        result
    }
}

/// Is `identity` the key of a person who signed up with its provider?
fn is_the_account_itself(user: &authgate_store::AppUser, identity: &LinkedIdentity) -> bool {
    user.provider == identity.provider && user.provider_sub == identity.subject
}
