//! Tenants (workspaces) and their members. Every operation is decided by
//! grants: the caller's tenant role there plus their platform role
//! (`tenant:read`, `tenant:update`, `tenant:delete`, `members:read`,
//! `members:write`); nobody hands out, or takes away, a role whose grants
//! they do not hold themselves; a tenant always keeps an owner. Callers who
//! are not members get `404` (a tenant's existence is not revealed). Every
//! change is an audit event with the actor and `tenant:<id>` as target.

use crate::catalog::OWNER_ROLE;
use crate::events::{EventRecorder, RequestMeta};
use crate::principal::Caller;
use crate::subjects::Subjects;
use authgate_core::EventKind;
use authgate_core::authz::{covering_grant, grants_cover_all};
use authgate_core::policy::normalize_email;
use authgate_core::{AuthError, Provider, now_millis};
use authgate_store::catalog::RoleScope;
use authgate_store::tenants::{Invitation, Member, MembershipChange, Tenant};
use authgate_store::{AppUser, Store, StoreError};
use uuid::Uuid;

/// A tenant as one of its members sees it.
#[derive(Debug, Clone)]
pub struct TenantView {
    pub tenant: Tenant,
    /// The caller's role there (`None` for a platform role acting from outside).
    pub role: Option<String>,
    pub grants: Vec<String>,
}

/// Who acts in a tenant, with what.
struct TenantActor {
    user: AppUser,
    tenant: Tenant,
    role: Option<String>,
    /// Tenant role grants and platform role grants together.
    grants: Vec<String>,
}

impl TenantActor {
    fn require(&self, grant: &str) -> Result<(), AuthError> {
        if covering_grant(&self.grants, grant).is_some() {
            Ok(())
        } else {
            Err(AuthError::NoGrant(format!(
                "your role in this tenant does not grant {grant}"
            )))
        }
    }

    fn target(&self) -> String {
        format!("tenant:{}", self.tenant.id)
    }
}

/// What adding a member produced.
#[derive(Debug, Clone)]
pub enum Added {
    Member(Member),
    Invited(Invitation),
}

/// A tenant name: trimmed, 1 to 100 characters, no control characters.
fn tenant_name(name: &str) -> Result<String, AuthError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AuthError::invalid_field(
            "name",
            "name must be 1 to 100 characters without control characters",
        ));
    }
    Ok(name.to_string())
}

fn parse_id(id: &str, what: &str) -> Result<Uuid, AuthError> {
    Uuid::parse_str(id).map_err(|_| AuthError::NotFound(what.into()))
}

#[derive(Clone)]
pub struct TenantService {
    pub(crate) provider: Provider,
    pub(crate) store: Store,
    pub(crate) events: EventRecorder,
    pub(crate) subjects: Subjects,
}

impl TenantService {
    async fn in_tenant(&self, caller: &Caller, tenant_id: &str) -> Result<TenantActor, AuthError> {
        let user = self.subjects.subject(caller).await?;
        let id = parse_id(tenant_id, "tenant")?;
        let tenant = self
            .store
            .tenant(id)
            .await?
            .ok_or_else(|| AuthError::NotFound("tenant".into()))?;
        let role = self.store.membership_role(id, user.id).await?;
        let mut grants = self
            .subjects
            .platform_grants(user.platform_role.as_deref())
            .await?;
        if let Some(role) = role.as_deref()
            && let Some(definition) = self.store.role(RoleScope::Tenant, role).await?
        {
            grants.extend(definition.grants);
        }
        if role.is_none() && covering_grant(&grants, "tenant:read").is_none() {
            return Err(AuthError::NotFound("tenant".into()));
        }
        Ok(TenantActor {
            user,
            tenant,
            role,
            grants,
        })
    }

    /// An audit event of a change in `actor`'s tenant.
    async fn record_in_tenant<T>(
        &self,
        actor: &TenantActor,
        kind: EventKind,
        meta: &RequestMeta,
        subject: Option<&str>,
        result: &Result<T, AuthError>,
    ) {
        self.events
            .record_change(
                &actor.user.provider_sub,
                kind,
                meta,
                subject,
                &actor.target(),
                result,
            )
            .await;
    }

    /// The grants of a tenant role; `422` naming `role` when it is not one.
    async fn tenant_role_grants(&self, role: &str) -> Result<Vec<String>, AuthError> {
        self.store
            .role(RoleScope::Tenant, role.trim())
            .await?
            .map(|r| r.grants)
            .ok_or_else(|| {
                AuthError::invalid_field(
                    "role",
                    format!("{role:?} is not a tenant role of the catalog"),
                )
            })
    }

    /// No escalation: the actor must hold every grant of `role`.
    fn may_hand_out(actor: &TenantActor, role: &str, grants: &[String]) -> Result<(), AuthError> {
        if grants_cover_all(&actor.grants, grants) {
            Ok(())
        } else {
            Err(AuthError::InsufficientGrants(format!(
                "the role {role} carries grants you do not hold"
            )))
        }
    }

    pub async fn create_tenant(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        name: &str,
    ) -> Result<TenantView, AuthError> {
        let result = async {
            let name = tenant_name(name)?;
            let user = self.subjects.subject(caller).await?;
            let tenant = self
                .store
                .create_tenant(&name, user.id, OWNER_ROLE, now_millis())
                .await?;
            let grants = self
                .tenant_role_grants(OWNER_ROLE)
                .await
                .unwrap_or_default();
            Ok(TenantView {
                tenant,
                role: Some(OWNER_ROLE.into()),
                grants,
            })
        }
        .await;
        let target = match &result {
            Ok(view) => format!("tenant:{}", view.tenant.id),
            Err(_) => "tenant:".into(),
        };
        self.events
            .record_change(
                &caller.claims.sub,
                EventKind::TenantCreate,
                meta,
                None,
                &target,
                &result,
            )
            .await;
        result
    }

    pub async fn my_tenants(&self, caller: &Caller) -> Result<Vec<TenantView>, AuthError> {
        let user = self.subjects.subject(caller).await?;
        self.subjects.bind_invitations(&user).await?;
        Ok(self
            .store
            .user_tenants(user.id)
            .await?
            .into_iter()
            .map(|t| TenantView {
                tenant: t.tenant,
                role: Some(t.role),
                grants: t.grants,
            })
            .collect())
    }

    pub async fn get_tenant(
        &self,
        caller: &Caller,
        tenant_id: &str,
    ) -> Result<TenantView, AuthError> {
        let actor = self.in_tenant(caller, tenant_id).await?;
        actor.require("tenant:read")?;
        Ok(TenantView {
            tenant: actor.tenant,
            role: actor.role,
            grants: actor.grants,
        })
    }

    pub async fn rename_tenant(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        tenant_id: &str,
        name: &str,
    ) -> Result<TenantView, AuthError> {
        let actor = self.in_tenant(caller, tenant_id).await?;
        let result = async {
            actor.require("tenant:update")?;
            let name = tenant_name(name)?;
            if !self
                .store
                .rename_tenant(actor.tenant.id, &name, now_millis())
                .await?
            {
                return Err(AuthError::NotFound("tenant".into()));
            }
            Ok(TenantView {
                tenant: Tenant {
                    name,
                    ..actor.tenant.clone()
                },
                role: actor.role.clone(),
                grants: actor.grants.clone(),
            })
        }
        .await;
        self.record_in_tenant(&actor, EventKind::TenantRename, meta, None, &result)
            .await;
        result
    }

    pub async fn delete_tenant(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        tenant_id: &str,
    ) -> Result<(), AuthError> {
        let actor = self.in_tenant(caller, tenant_id).await?;
        let result = async {
            actor.require("tenant:delete")?;
            self.store.delete_tenant(actor.tenant.id).await?;
            Ok(())
        }
        .await;
        self.record_in_tenant(&actor, EventKind::TenantDelete, meta, None, &result)
            .await;
        result
    }

    pub async fn tenant_members(
        &self,
        caller: &Caller,
        tenant_id: &str,
    ) -> Result<(Vec<Member>, Vec<Invitation>), AuthError> {
        let actor = self.in_tenant(caller, tenant_id).await?;
        actor.require("members:read")?;
        Ok((
            self.store.members(actor.tenant.id).await?,
            self.store.invitations(actor.tenant.id).await?,
        ))
    }

    /// Add the account with this address, or invite the address when it has
    /// no app user yet (the invitation binds on its first sign-in).
    pub async fn add_member(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        tenant_id: &str,
        email: &str,
        role: &str,
    ) -> Result<Added, AuthError> {
        let actor = self.in_tenant(caller, tenant_id).await?;
        let mut subject = None;
        let result = async {
            actor.require("members:write")?;
            let email = normalize_email("email", email)?;
            let role = role.trim().to_string();
            let grants = self.tenant_role_grants(&role).await?;
            Self::may_hand_out(&actor, &role, &grants)?;
            let now = now_millis();
            let existing = self
                .store
                .app_users_by_email(self.provider.name(), &email)
                .await?;
            match existing.into_iter().next() {
                Some(user) => {
                    subject = Some(user.provider_sub.clone());
                    match self
                        .store
                        .add_member(actor.tenant.id, user.id, &role, now)
                        .await
                    {
                        Err(StoreError::Conflict) => Err(AuthError::AlreadyExists(
                            "this user is a member of the tenant already".into(),
                        )),
                        Err(other) => Err(other.into()),
                        Ok(()) => Ok(Added::Member(Member {
                            user_id: user.id,
                            sub: user.provider_sub,
                            email: user.email,
                            name: user.name,
                            role,
                            since: now,
                        })),
                    }
                }
                None => {
                    let invitation = Invitation {
                        tenant_id: actor.tenant.id,
                        email,
                        role,
                        invited_by: Some(actor.user.provider_sub.clone()),
                        created_at: now,
                    };
                    match self.store.invite(&invitation).await {
                        Err(StoreError::Conflict) => Err(AuthError::AlreadyExists(
                            "this address is invited to the tenant already".into(),
                        )),
                        Err(other) => Err(other.into()),
                        Ok(()) => Ok(Added::Invited(invitation)),
                    }
                }
            }
        }
        .await;
        let kind = match &result {
            Ok(Added::Invited(_)) => EventKind::MemberInvite,
            _ => EventKind::MemberAdd,
        };
        self.record_in_tenant(&actor, kind, meta, subject.as_deref(), &result)
            .await;
        result
    }

    /// Withdraw an invitation (`members:write`).
    pub async fn withdraw_invitation(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        tenant_id: &str,
        email: &str,
    ) -> Result<(), AuthError> {
        let actor = self.in_tenant(caller, tenant_id).await?;
        let result = async {
            actor.require("members:write")?;
            let email = normalize_email("email", email)?;
            if self
                .store
                .delete_invitation(actor.tenant.id, &email)
                .await?
            {
                Ok(())
            } else {
                Err(AuthError::NotFound("invitation".into()))
            }
        }
        .await;
        self.record_in_tenant(&actor, EventKind::InvitationWithdraw, meta, None, &result)
            .await;
        result
    }

    /// Change a member's role (`Some`) or remove the member (`None`). A member
    /// may always leave; otherwise the caller needs `members:write` and must
    /// hold every grant of both the member's current and new role.
    pub async fn change_member(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        tenant_id: &str,
        user_id: &str,
        new_role: Option<&str>,
    ) -> Result<(), AuthError> {
        let actor = self.in_tenant(caller, tenant_id).await?;
        let mut subject = None;
        let result = async {
            let member_id = parse_id(user_id, "member")?;
            let leaving = new_role.is_none() && member_id == actor.user.id;
            if !leaving {
                actor.require("members:write")?;
            }
            let current = self
                .store
                .membership_role(actor.tenant.id, member_id)
                .await?
                .ok_or_else(|| AuthError::NotFound("member".into()))?;
            subject = self
                .store
                .app_user(member_id)
                .await?
                .map(|u| u.provider_sub);
            if !leaving {
                let current_grants = self.tenant_role_grants(&current).await.unwrap_or_default();
                Self::may_hand_out(&actor, &current, &current_grants)?;
            }
            let new_role = new_role.map(str::trim);
            if let Some(role) = new_role {
                let grants = self.tenant_role_grants(role).await?;
                Self::may_hand_out(&actor, role, &grants)?;
            }
            match self
                .store
                .change_membership(
                    actor.tenant.id,
                    member_id,
                    new_role,
                    OWNER_ROLE,
                    now_millis(),
                )
                .await?
            {
                MembershipChange::Done => Ok(()),
                MembershipChange::NotFound => Err(AuthError::NotFound("member".into())),
                MembershipChange::LastOwner => Err(AuthError::LastOwner),
            }
        }
        .await;
        let kind = if new_role.is_some() {
            EventKind::MemberRoleChange
        } else {
            EventKind::MemberRemove
        };
        self.record_in_tenant(&actor, kind, meta, subject.as_deref(), &result)
            .await;
        result
    }
}
