//! Who may do what. Owns the [`Principal`] behind a bearer token (a user or a
//! machine client), the [`UserContext`] of a user (app user, platform role,
//! tenants with their roles and grants, MFA), platform administration rights,
//! and decisions: roles first, then the stored Cedar policies, where a
//! `forbid` overrides any role and a `permit` allows what no role grants.
//!
//! Role keys are data read from the catalog; the only keys with a built-in
//! meaning are the tenant role [`OWNER_ROLE`] (a tenant's creator holds it and
//! a tenant always keeps one) and the machine-client scope [`ADMIN_SCOPE`].

use crate::auth::{AuthService, Caller};
use authgate_core::authz::{
    ContextUser, Decision, MfaState, TenantMembership, UserContext, covering_grant, validate_action,
};
use authgate_core::{AuthError, now_millis};
use authgate_policy::{PolicyOutcome, PolicyRequest, StoredPolicy};
use authgate_store::AppUser;
use authgate_store::catalog::RoleScope;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;
use uuid::Uuid;

/// The tenant role a tenant's creator gets; a tenant always keeps one.
pub const OWNER_ROLE: &str = "owner";
/// The grant that opens `/v1/admin/*` to a platform role.
pub const ADMIN_GRANT: &str = "platform:admin";
/// The machine-client scope that opens `/v1/admin/*` (it counts as every grant).
pub const ADMIN_SCOPE: &str = "admin";

/// A machine client authenticated by a client-credentials token.
#[derive(Debug, Clone)]
pub struct ClientCaller {
    pub client_id: String,
    pub scopes: Vec<String>,
}

impl ClientCaller {
    /// The platform-wide grants of the client: every grant with the `admin`
    /// scope, none otherwise (its scopes count in decisions only).
    pub fn grants(&self) -> Vec<String> {
        if self.scopes.iter().any(|s| s == ADMIN_SCOPE) {
            vec!["*".into()]
        } else {
            Vec::new()
        }
    }
}

/// Whoever presented a valid bearer token.
#[derive(Debug, Clone)]
pub enum Principal {
    User(Box<Caller>),
    Client(ClientCaller),
}

/// Someone the services let administer: a platform admin or a machine client
/// with the `admin` scope ([`AuthService::require_admin`]), the operator at
/// the command line ([`AdminActor::operator`]), or — inside the service, for
/// their own account only — the account's owner. Its fields are private to
/// this crate, so no front end can make one up: every administrative method
/// takes one, so none can run without the check.
#[derive(Debug, Clone)]
pub struct AdminActor {
    /// The provider subject of a user, `client:<id>`, or `cli`.
    pub(crate) id: String,
    /// The platform-wide grants held, for the no-escalation rule.
    pub(crate) grants: Vec<String>,
    pub(crate) app_user: Option<AppUser>,
}

impl AdminActor {
    /// The id written to audit rows.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The operator at the command line (`authgate admin …`): every grant.
    pub fn operator() -> Self {
        Self {
            id: "cli".into(),
            grants: vec!["*".into()],
            app_user: None,
        }
    }

    /// No escalation on someone else: the actor must hold every grant of
    /// `target` (the target's platform role, a client's scopes).
    pub fn require_all(&self, target: &[String], what: &str) -> Result<(), AuthError> {
        if authgate_core::authz::grants_cover_all(&self.grants, target) {
            Ok(())
        } else {
            Err(AuthError::Forbidden(format!(
                "{what} carries grants you do not hold yourself"
            )))
        }
    }
}

/// Stored policies, read at most every few seconds (and at once after a
/// change on this instance).
pub struct PolicyCache {
    loaded: RwLock<Option<(Instant, Arc<Vec<StoredPolicy>>)>>,
}

const POLICY_CACHE_TTL: Duration = Duration::from_secs(5);

impl PolicyCache {
    pub fn new() -> Self {
        Self {
            loaded: RwLock::new(None),
        }
    }

    pub async fn invalidate(&self) {
        *self.loaded.write().await = None;
    }
}

impl Default for PolicyCache {
    fn default() -> Self {
        Self::new()
    }
}

/// The longest `resource` a decision accepts, in bytes.
pub const MAX_RESOURCE_LEN: usize = 512;

/// A decision request.
#[derive(Debug, Clone)]
pub struct CheckRequest<'a> {
    pub action: &'a str,
    pub resource: Option<&'a str>,
    pub tenant_id: Option<&'a str>,
    pub ip: Option<&'a str>,
}

impl AuthService {
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

    /// The caller's context, from one query in the common case. A user seen
    /// for the first time, or known by subject only (an access token carries
    /// no email), is completed from the provider's record first, and
    /// invitations to the address bind. MFA is the state recorded at the last
    /// sign-in or enrolment through authgate: no provider call per request.
    pub async fn user_context(&self, caller: &Caller) -> Result<UserContext, AuthError> {
        let provider = self.provider.name();
        let sub = caller.claims.sub.as_str();
        let snapshot = match self.store.context_snapshot(provider, sub).await? {
            Some(snapshot) if snapshot.user.email.is_some() => snapshot,
            _ => {
                let account = match self.provider.admin_get_user(sub).await {
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
                    .ok_or_else(|| AuthError::Internal("app user vanished".into()))?
            }
        };
        let mut platform_grants = snapshot.platform_grants;
        let user = if snapshot.user.platform_role.is_none() && !caller.claims.groups.is_empty() {
            let user = self.with_group_role(snapshot.user, caller).await?;
            platform_grants = self.platform_grants(user.platform_role.as_deref()).await?;
            user
        } else {
            snapshot.user
        };
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
                .into_iter()
                .map(|t| TenantMembership {
                    id: t.tenant.id.to_string(),
                    name: t.tenant.name,
                    role: t.role,
                    grants: t.grants,
                })
                .collect(),
        })
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
                    "invitation_bound",
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
            Err(AuthError::Forbidden(
                "this needs a platform role that grants platform:admin, \
                 or a machine client with the admin scope"
                    .into(),
            ))
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

    /// May `principal` do `action` (on `resource`, in `tenant_id`)?
    pub async fn check(
        &self,
        principal: &Principal,
        request: CheckRequest<'_>,
    ) -> Result<Decision, AuthError> {
        Ok(self.decide(principal, request).await?.0)
    }

    /// [`Self::check`], also answering the user context it was decided on.
    pub(crate) async fn decide(
        &self,
        principal: &Principal,
        request: CheckRequest<'_>,
    ) -> Result<(Decision, Option<UserContext>), AuthError> {
        validate_action(request.action)
            .map_err(|m| AuthError::invalid_field("action", format!("action {m}")))?;
        if let Some(resource) = request.resource
            && resource.len() > MAX_RESOURCE_LEN
        {
            return Err(AuthError::invalid_field(
                "resource",
                "resource must be at most 512 characters",
            ));
        }
        let tenant = match request.tenant_id {
            None => None,
            Some(text) => Some(
                Uuid::parse_str(text)
                    .map_err(|_| {
                        AuthError::invalid_field("tenantId", "tenantId must be a tenant id")
                    })?
                    .to_string(),
            ),
        };
        let policies = self.stored_policies().await?;
        // Roles (or scopes) first, then the policies about the same principal.
        let apply_policies = |roles: Decision, who: authgate_policy::Principal<'_>| {
            if policies.is_empty() {
                return roles;
            }
            let outcome = authgate_policy::evaluate(
                &policies,
                &PolicyRequest {
                    principal: who,
                    action: request.action,
                    resource: request.resource,
                    tenant_id: tenant.as_deref(),
                    ip: request.ip,
                    now: now_millis() / 1000,
                },
            );
            combine(roles, outcome)
        };
        let (decision, context) = match principal {
            Principal::User(caller) => {
                let context = self.user_context(caller).await?;
                let tenant_role = tenant
                    .as_deref()
                    .and_then(|t| context.tenant(t))
                    .map(|m| m.role.as_str());
                let decision = apply_policies(
                    context.decide(request.action, tenant.as_deref()),
                    authgate_policy::Principal::User {
                        id: &context.user.id,
                        email: context.user.email.as_deref(),
                        platform_role: context.platform_role.as_deref(),
                        tenant_role,
                        mfa: context.mfa.totp,
                    },
                );
                (decision, Some(context))
            }
            Principal::Client(client) => {
                let scopes = match covering_grant(&client.scopes, request.action) {
                    Some(scope) => Decision::allow(
                        "client_scope",
                        format!("the client's scope {scope} covers {}", request.action),
                    ),
                    None => Decision::deny(
                        "no_grant",
                        format!("no scope of the client covers {}", request.action),
                    ),
                };
                let decision = apply_policies(
                    scopes,
                    authgate_policy::Principal::Client {
                        id: &client.client_id,
                        scopes: &client.scopes,
                    },
                );
                (decision, None)
            }
        };
        metrics::counter!(
            "authgate_authz_decisions_total",
            "allowed" => if decision.allowed { "true" } else { "false" },
            "reason" => decision.reason.clone(),
        )
        .increment(1);
        tracing::debug!(action = request.action, allowed = decision.allowed, reason = %decision.reason, "authorization decision");
        Ok((decision, context))
    }

    /// The stored policies, from the cache when fresh.
    pub(crate) async fn stored_policies(&self) -> Result<Arc<Vec<StoredPolicy>>, AuthError> {
        if let Some((at, policies)) = self.policies.loaded.read().await.as_ref()
            && at.elapsed() < POLICY_CACHE_TTL
        {
            return Ok(policies.clone());
        }
        let policies: Arc<Vec<StoredPolicy>> = Arc::new(
            self.store
                .policies()
                .await?
                .into_iter()
                .map(|p| StoredPolicy {
                    id: p.id,
                    text: p.body,
                })
                .collect(),
        );
        *self.policies.loaded.write().await = Some((Instant::now(), policies.clone()));
        Ok(policies)
    }
}

/// Roles first; a policy `forbid` overrides them, a `permit` adds to them.
fn combine(roles: Decision, policies: PolicyOutcome) -> Decision {
    match policies {
        PolicyOutcome::Forbid { policy_ids } => Decision::deny(
            "policy_forbid",
            format!("forbidden by policy {}", policy_ids.join(", ")),
        ),
        PolicyOutcome::Permit { policy_ids } if !roles.allowed => Decision::allow(
            "policy_permit",
            format!("permitted by policy {}", policy_ids.join(", ")),
        ),
        _ => roles,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbid_overrides_roles_and_permit_adds_to_them() {
        let allowed = Decision::allow("tenant_role", "x");
        let denied = Decision::deny("no_grant", "y");
        let forbid = PolicyOutcome::Forbid {
            policy_ids: vec!["p1".into()],
        };
        let permit = PolicyOutcome::Permit {
            policy_ids: vec!["p2".into()],
        };
        assert_eq!(combine(allowed.clone(), forbid).reason, "policy_forbid");
        assert_eq!(
            combine(denied.clone(), permit.clone()).reason,
            "policy_permit"
        );
        assert!(combine(denied.clone(), permit).allowed);
        assert_eq!(combine(allowed.clone(), PolicyOutcome::NoOpinion), allowed);
        assert_eq!(combine(denied.clone(), PolicyOutcome::NoOpinion), denied);
    }
}
