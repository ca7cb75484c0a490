//! Decisions: may a principal (a user or a machine client) do an action, on
//! a resource, in a tenant? Roles first (the user context's grants, or the
//! client's scopes), then the stored Cedar policies, where a `forbid`
//! overrides any role and a `permit` allows what no role grants.

use crate::principal::Principal;
use crate::subjects::Subjects;
use authgate_core::AuthError;
use authgate_core::authz::{Decision, UserContext, covering_grant, validate_action};
use authgate_core::now_millis;
use authgate_policy::{PolicyOutcome, PolicyRequest, StoredPolicy};
use authgate_store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;
use uuid::Uuid;

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

#[derive(Clone)]
pub struct DecisionService {
    pub(crate) store: Store,
    pub(crate) subjects: Subjects,
    pub(crate) policies: Arc<PolicyCache>,
}

impl DecisionService {
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
                let context = self.subjects.user_context(caller).await?;
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
