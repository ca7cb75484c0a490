//! Who a caller is: the app user behind a provider subject (created on
//! first sight, completed from the provider, invitations bound), the
//! platform grants of a role, the [`UserContext`] of a caller, and the
//! [`AdminActor`] of a principal allowed to administer.

use crate::events::EventRecorder;
use crate::principal::{ADMIN_GRANT, AdminActor, Caller, Principal};
use authgate_core::EventKind;
use authgate_core::authz::{ContextUser, MfaState, TenantMembership, UserContext, covering_grant};
use authgate_core::{AuthError, ContextStamp, Provider, now_millis};
use authgate_store::app_users::ContextSnapshot;
use authgate_store::catalog::RoleScope;
use authgate_store::{AppUser, Store};
use std::sync::Arc;
use uuid::Uuid;

#[derive(Clone)]
pub struct Subjects {
    pub(crate) provider: Provider,
    pub(crate) store: Store,
    pub(crate) events: EventRecorder,
    pub(crate) contexts: Arc<RememberedContexts>,
}

/// How many users' contexts an instance remembers (about 1 KiB each).
pub const REMEMBERED_CONTEXTS: usize = 10_000;

/// The contexts of recent callers, each under the [`ContextStamp`] it was
/// read at. An entry serves a request only when the session check of that
/// request read the same stamp from the store, so a write to the user, a
/// membership, a role or a tenant (which moves the stamp in the database,
/// see migration 0011) counts at the next request on every instance; there
/// is nothing to invalidate by hand and no time during which a change is
/// not seen.
pub struct RememberedContexts {
    by_subject: quick_cache::sync::Cache<String, Arc<ContextSnapshot>>,
}

impl RememberedContexts {
    pub fn new(capacity: usize) -> Self {
        Self {
            by_subject: quick_cache::sync::Cache::new(capacity.max(1)),
        }
    }

    /// The snapshot remembered for `sub`, if it was read at `stamp`.
    fn current(&self, sub: &str, stamp: ContextStamp) -> Option<Arc<ContextSnapshot>> {
        self.by_subject
            .get(sub)
            .filter(|snapshot| snapshot.stamp == stamp)
    }

    fn remember(&self, sub: &str, snapshot: Arc<ContextSnapshot>) {
        self.by_subject.insert(sub.to_string(), snapshot);
    }

    /// How many contexts are remembered (for tests and metrics).
    pub fn len(&self) -> usize {
        self.by_subject.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Subjects {
    /// The app user of a validated caller, created on first sight. A user
    /// without a platform role stored in authgate takes it from the token's
    /// groups (`cognito:groups`): the first group that names a platform role
    /// of the catalog. Groups are read per request, never stored, so a
    /// change in Cognito counts at the next token.
    pub async fn subject(&self, caller: &Caller) -> Result<AppUser, AuthError> {
        let user = self
            .store
            .find_or_create_app_user(
                caller.provider(self.provider.name()),
                &caller.claims.sub,
                caller.claims.email.as_deref(),
                caller.claims.name.as_deref(),
                now_millis(),
            )
            .await?;
        self.with_group_role(user, caller).await
    }

    /// The platform role from the token's groups, for a user without one.
    pub(crate) async fn with_group_role(
        &self,
        mut user: AppUser,
        caller: &Caller,
    ) -> Result<AppUser, AuthError> {
        if user.platform_role.is_none() {
            for group in &caller.claims.groups {
                if self
                    .store
                    .role(authgate_store::catalog::RoleScope::Platform, group)
                    .await?
                    .is_some()
                {
                    user.platform_role = Some(group.clone());
                    break;
                }
            }
        }
        Ok(user)
    }

    /// The grants of a platform role key (none for no role or an unknown key).
    pub(crate) async fn platform_grants(
        &self,
        role: Option<&str>,
    ) -> Result<Vec<String>, AuthError> {
        match role {
            None => Ok(Vec::new()),
            Some(key) => Ok(self
                .store
                .role(RoleScope::Platform, key)
                .await?
                .map(|r| r.grants)
                .unwrap_or_default()),
        }
    }

    /// The caller's context: in the common case from memory, checked against
    /// the stamp that the session check read in its one round trip (else one
    /// query). A user seen for the first time, or known by subject only (an
    /// access token carries no email), is completed from the provider's
    /// record first, and invitations to the address bind. MFA is the state recorded at the last
    /// sign-in or enrolment through authgate: no provider call per request.
    pub async fn user_context(&self, caller: &Caller) -> Result<UserContext, AuthError> {
        let snapshot = self.context_snapshot(caller).await?;
        let mut platform_grants = snapshot.platform_grants.clone();
        let mut user = snapshot.user.clone();
        if user.platform_role.is_none() && !caller.claims.groups.is_empty() {
            user = self.with_group_role(user, caller).await?;
            platform_grants = self.platform_grants(user.platform_role.as_deref()).await?;
        }
        Ok(UserContext {
            user: ContextUser {
                id: user.id.to_string(),
                sub: user.provider_sub,
                email: user.email,
                name: user.name,
                created_at: authgate_core::rfc3339(user.created_at / 1000),
            },
            provider: user.provider,
            platform_role: user.platform_role,
            platform_grants,
            mfa: MfaState {
                totp: user.mfa_totp,
            },
            tenants: snapshot
                .tenants
                .iter()
                .map(|t| TenantMembership {
                    id: t.tenant.id.to_string(),
                    name: t.tenant.name.clone(),
                    role: t.role.clone(),
                    grants: t.grants.clone(),
                })
                .collect(),
        })
    }

    /// The caller's [`ContextSnapshot`]: from memory when the session check
    /// read the stamp it was remembered at, else from the store (and then
    /// remembered).
    async fn context_snapshot(&self, caller: &Caller) -> Result<Arc<ContextSnapshot>, AuthError> {
        let sub = caller.claims.sub.as_str();
        if let Some(stamp) = caller.context_stamp
            && let Some(snapshot) = self.contexts.current(sub, stamp)
        {
            return Ok(snapshot);
        }
        let snapshot = Arc::new(self.read_context_snapshot(caller).await?);
        // A user known by subject only is completed from the provider at
        // every request until an address arrives: not remembered.
        if snapshot.user.email.is_some() {
            self.contexts.remember(sub, snapshot.clone());
        }
        Ok(snapshot)
    }

    async fn read_context_snapshot(&self, caller: &Caller) -> Result<ContextSnapshot, AuthError> {
        let provider = caller.provider(self.provider.name());
        let sub = caller.claims.sub.as_str();
        let found = self.store.context_snapshot(provider, sub).await?;
        if caller.claims.idp.is_some() {
            // A federated person's app user is written at each sign-in
            // with the provider: there is no account to complete it from.
            return found.ok_or(AuthError::TokenRevoked);
        }
        match found {
            Some(snapshot) if snapshot.user.email.is_some() => Ok(snapshot),
            _ => {
                let account = match self.provider.admin.admin_get_user(sub).await {
                    Ok(account) => Some(account),
                    // Deleted at the provider while the token is still valid.
                    Err(AuthError::NotFound(_)) => None,
                    Err(other) => return Err(other),
                };
                let email = match &account {
                    Some(account) => account.email_verified.then_some(account.email.as_str()),
                    None => caller.claims.email.as_deref(),
                };
                let name = account
                    .as_ref()
                    .and_then(|a| a.name.as_deref())
                    .or(caller.claims.name.as_deref());
                let (user, new_address) = self
                    .store
                    .upsert_app_user(provider, sub, email, name, now_millis())
                    .await?;
                if let Some(account) = &account
                    && account.mfa_enabled != user.mfa_totp
                {
                    self.store
                        .set_app_user_mfa(user.id, account.mfa_enabled, now_millis())
                        .await?;
                }
                if new_address {
                    self.bind_invitations(&user).await?;
                }
                self.store
                    .context_snapshot(provider, sub)
                    .await?
                    .ok_or_else(|| AuthError::Internal("app user vanished".into()))
            }
        }
    }

    /// Turn invitations to the user's address into memberships.
    pub(crate) async fn bind_invitations(&self, user: &AppUser) -> Result<(), AuthError> {
        let Some(email) = user.email.as_deref() else {
            return Ok(());
        };
        let bound = self
            .store
            .bind_invitations(user.id, email, now_millis())
            .await?;
        for invitation in bound {
            let target = format!("tenant:{}", invitation.tenant_id);
            let actor = invitation.invited_by.unwrap_or_default();
            self.events
                .record_change(
                    &actor,
                    EventKind::InvitationBound,
                    &Default::default(),
                    Some(&user.provider_sub),
                    &target,
                    &Ok::<(), AuthError>(()),
                )
                .await;
        }
        Ok(())
    }

    /// The actor behind a principal, if it may administer the platform: a
    /// user whose platform role grants `platform:admin`, or a machine client
    /// with the `admin` scope.
    pub async fn require_admin(&self, principal: &Principal) -> Result<AdminActor, AuthError> {
        let actor = self.actor(principal).await?;
        if covering_grant(&actor.grants, ADMIN_GRANT).is_some() {
            Ok(actor)
        } else {
            Err(AuthError::AdminRequired)
        }
    }

    /// Who acts, with the platform-wide grants held (not yet a right to
    /// administer anything: [`Self::require_admin`] decides that).
    pub(crate) async fn actor(&self, principal: &Principal) -> Result<AdminActor, AuthError> {
        match principal {
            Principal::User(caller) => {
                let user = self.subject(caller).await?;
                let grants = self.platform_grants(user.platform_role.as_deref()).await?;
                Ok(AdminActor {
                    id: user.provider_sub.clone(),
                    grants,
                    app_user: Some(user),
                })
            }
            Principal::Client(client) => Ok(AdminActor {
                id: format!("client:{}", client.client_id),
                grants: client.grants(),
                app_user: None,
            }),
        }
    }

    /// The provider subject of an app user id.
    pub(crate) async fn target(&self, id: Uuid) -> Result<AppUser, AuthError> {
        self.store
            .app_user(id)
            .await?
            .filter(|u| u.provider == self.provider.name())
            .ok_or_else(|| AuthError::NotFound("user".into()))
    }
}
