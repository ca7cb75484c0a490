//! The authorization catalog at run time: the roles (key, scope, description,
//! grants) that platform admins edit, the Cedar policies beside them
//! (validated before they are written), and the catalog clients read as
//! hints, with a version for `ETag`. Nobody writes a role whose grants they
//! do not hold; a role in use or the built-in owner role cannot be deleted.

use crate::decisions::PolicyCache;
use crate::events::{EventRecorder, RequestMeta};
use crate::principal::AdminActor;
use crate::subjects::Subjects;
use authgate_core::EventKind;
use authgate_core::authz::{grants_cover_all, validate_grant, validate_tenant_grant};
use authgate_core::{AuthError, now_millis};
use authgate_store::catalog::{PolicyRow, Role, RoleDeletion, RoleScope};
use authgate_store::{AppUser, Store, StoreError};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The tenant role a tenant's creator gets; a tenant always keeps one.
pub const OWNER_ROLE: &str = "owner";

/// A role as an admin writes it.
#[derive(Debug, Clone)]
pub struct RoleInput {
    pub key: String,
    pub scope: String,
    pub description: Option<String>,
    pub grants: Vec<String>,
}

/// A policy as an admin writes it.
#[derive(Debug, Clone)]
pub struct PolicyInput {
    pub id: Option<String>,
    pub description: Option<String>,
    pub policy: String,
}

/// What clients read: roles, every grant in use, policy descriptions, and a
/// version that changes whenever any of it does.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub roles: Vec<Role>,
    pub grants: Vec<String>,
    pub policies: Vec<PolicyRow>,
    pub version: String,
}

const MAX_GRANTS: usize = 100;

fn role_key(key: &str) -> Result<String, AuthError> {
    let key = key.trim();
    let valid = !key.is_empty()
        && key.len() <= 64
        && key.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if valid {
        Ok(key.to_string())
    } else {
        Err(AuthError::invalid_field(
            "key",
            "key must be 1 to 64 characters of a-z, 0-9, `_` and `-`, starting with a letter or digit",
        ))
    }
}

pub fn role_scope(scope: &str) -> Result<RoleScope, AuthError> {
    RoleScope::parse(scope.trim())
        .ok_or_else(|| AuthError::invalid_field("scope", "scope must be platform or tenant"))
}

/// The grants of a role of `scope`: well-formed, deduplicated, and for a
/// tenant role none that names a platform action.
fn grants(list: &[String], scope: RoleScope) -> Result<Vec<String>, AuthError> {
    if list.len() > MAX_GRANTS {
        return Err(AuthError::invalid_field(
            "grants",
            format!("at most {MAX_GRANTS} grants"),
        ));
    }
    let mut seen = BTreeSet::new();
    for grant in list {
        let grant = grant.trim();
        match scope {
            RoleScope::Platform => validate_grant(grant),
            RoleScope::Tenant => validate_tenant_grant(grant),
        }
        .map_err(|m| AuthError::invalid_field("grants", format!("grant {grant:?} {m}")))?;
        seen.insert(grant.to_string());
    }
    Ok(seen.into_iter().collect())
}

fn description(text: Option<&str>) -> Result<String, AuthError> {
    let text = text.unwrap_or_default().trim();
    if text.chars().count() > 500 {
        return Err(AuthError::invalid_field(
            "description",
            "description must be at most 500 characters",
        ));
    }
    Ok(text.to_string())
}

fn no_escalation(actor: &AdminActor, grants: &[String]) -> Result<(), AuthError> {
    if grants_cover_all(&actor.grants, grants) {
        Ok(())
    } else {
        Err(AuthError::InsufficientGrants(
            "the role would carry grants you do not hold yourself".into(),
        ))
    }
}

/// A policy can permit anything to anyone, so only an actor holding every
/// grant (`*`) writes or deletes one.
fn may_write_policies(actor: &AdminActor) -> Result<(), AuthError> {
    if actor.grants.iter().any(|g| g == "*") {
        Ok(())
    } else {
        Err(AuthError::InsufficientGrants(
            "writing or deleting a policy needs the grant * (a policy can permit anything)".into(),
        ))
    }
}

#[derive(Clone)]
pub struct CatalogService {
    pub(crate) store: Store,
    pub(crate) events: EventRecorder,
    pub(crate) subjects: Subjects,
    /// Invalidated at every policy change on this instance.
    pub(crate) policies: Arc<PolicyCache>,
}

impl CatalogService {
    pub async fn catalog(&self) -> Result<Catalog, AuthError> {
        let roles = self.store.roles().await?;
        let policies = self.store.policies().await?;
        let grants: BTreeSet<String> = roles
            .iter()
            .flat_map(|r| r.grants.iter().cloned())
            .collect();
        let mut hasher = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for role in &roles {
            hasher.update(
                format!(
                    "{}\0{}\0{}\0{}\n",
                    role.scope.as_str(),
                    role.key,
                    role.description,
                    role.grants.join(" ")
                )
                .as_bytes(),
            );
        }
        for policy in &policies {
            hasher.update(
                format!(
                    "{}\0{}\0{}\n",
                    policy.id, policy.description, policy.updated_at
                )
                .as_bytes(),
            );
        }
        let digest = hasher.finish();
        let version = digest.as_ref()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Catalog {
            roles,
            grants: grants.into_iter().collect(),
            policies,
            version,
        })
    }

    /// One role by key; `scope` is needed when the key exists in both scopes.
    /// Every role of the catalog, for an administrator.
    pub async fn admin_roles(&self, _admin: &AdminActor) -> Result<Vec<Role>, AuthError> {
        Ok(self.catalog().await?.roles)
    }

    pub async fn role(
        &self,
        _admin: &AdminActor,
        key: &str,
        scope: Option<&str>,
    ) -> Result<Role, AuthError> {
        let scopes = match scope.filter(|s| !s.trim().is_empty()) {
            Some(scope) => vec![role_scope(scope)?],
            None => vec![RoleScope::Platform, RoleScope::Tenant],
        };
        let mut found = Vec::new();
        for scope in scopes {
            if let Some(role) = self.store.role(scope, key.trim()).await? {
                found.push(role);
            }
        }
        match found.len() {
            0 => Err(AuthError::NotFound("role".into())),
            1 => Ok(found.remove(0)),
            _ => Err(AuthError::invalid_field(
                "scope",
                format!(
                    "{key} is both a platform and a tenant role: add ?scope=platform or ?scope=tenant"
                ),
            )),
        }
    }

    pub async fn create_role(
        &self,
        meta: &RequestMeta,
        actor: &AdminActor,
        input: RoleInput,
    ) -> Result<Role, AuthError> {
        let mut target = String::from("role:");
        let result = async {
            let key = role_key(&input.key)?;
            let scope = role_scope(&input.scope)?;
            target = format!("role:{}/{key}", scope.as_str());
            let grants = grants(&input.grants, scope)?;
            no_escalation(actor, &grants)?;
            let now = now_millis();
            let role = Role {
                scope,
                key,
                description: description(input.description.as_deref())?,
                grants,
                created_at: now,
                updated_at: now,
            };
            match self.store.insert_role(&role).await {
                Ok(()) => Ok(role),
                Err(StoreError::Conflict) => Err(AuthError::AlreadyExists(format!(
                    "the {} role {} exists already",
                    role.scope.as_str(),
                    role.key
                ))),
                Err(other) => Err(other.into()),
            }
        }
        .await;
        self.events
            .record_change(
                &actor.id,
                EventKind::RoleCreate,
                meta,
                None,
                &target,
                &result,
            )
            .await;
        result
    }

    /// Replace a role's description and grants. The actor must hold the
    /// grants the role has now and the ones it gets.
    pub async fn update_role(
        &self,
        meta: &RequestMeta,
        actor: &AdminActor,
        key: &str,
        scope: Option<&str>,
        input: RoleInput,
    ) -> Result<Role, AuthError> {
        let mut target = format!("role:{key}");
        let result = async {
            let current = self
                .role(
                    actor,
                    key,
                    scope
                        .or(Some(input.scope.as_str()))
                        .filter(|s| !s.is_empty()),
                )
                .await?;
            target = format!("role:{}/{}", current.scope.as_str(), current.key);
            let grants = grants(&input.grants, current.scope)?;
            no_escalation(actor, &current.grants)?;
            no_escalation(actor, &grants)?;
            let description = description(input.description.as_deref())?;
            let now = now_millis();
            if !self
                .store
                .update_role(current.scope, &current.key, &description, &grants, now)
                .await?
            {
                return Err(AuthError::NotFound("role".into()));
            }
            Ok(Role {
                description,
                grants,
                updated_at: now,
                ..current
            })
        }
        .await;
        self.events
            .record_change(
                &actor.id,
                EventKind::RoleUpdate,
                meta,
                None,
                &target,
                &result,
            )
            .await;
        result
    }

    pub async fn delete_role(
        &self,
        meta: &RequestMeta,
        actor: &AdminActor,
        key: &str,
        scope: Option<&str>,
    ) -> Result<(), AuthError> {
        let mut target = format!("role:{key}");
        let result = async {
            let role = self.role(actor, key, scope).await?;
            target = format!("role:{}/{}", role.scope.as_str(), role.key);
            if role.scope == RoleScope::Tenant && role.key == OWNER_ROLE {
                return Err(AuthError::BuiltInRole);
            }
            no_escalation(actor, &role.grants)?;
            match self.store.delete_role(role.scope, &role.key).await? {
                RoleDeletion::Deleted => Ok(()),
                RoleDeletion::NotFound => Err(AuthError::NotFound("role".into())),
                RoleDeletion::InUse(n) => Err(AuthError::RoleInUse { assignments: n }),
            }
        }
        .await;
        self.events
            .record_change(
                &actor.id,
                EventKind::RoleDelete,
                meta,
                None,
                &target,
                &result,
            )
            .await;
        result
    }

    /// Give an app user a platform role of the catalog, or take it away
    /// (`None`). The actor must hold the grants of the role given and of the
    /// role taken away.
    pub async fn set_platform_role(
        &self,
        meta: &RequestMeta,
        actor: &AdminActor,
        user_id: uuid::Uuid,
        role: Option<&str>,
    ) -> Result<AppUser, AuthError> {
        let role = role.map(str::trim).filter(|r| !r.is_empty());
        let mut subject = None;
        let target = format!("role:platform/{}", role.unwrap_or_default());
        let result = async {
            let user = self.subjects.target(user_id).await?;
            subject = Some(user.provider_sub.clone());
            let current = self
                .subjects
                .platform_grants(user.platform_role.as_deref())
                .await?;
            no_escalation(actor, &current)?;
            if let Some(key) = role {
                let definition = self
                    .store
                    .role(RoleScope::Platform, key)
                    .await?
                    .ok_or_else(|| {
                        AuthError::invalid_field(
                            "role",
                            format!("{key} is not a platform role of the catalog"),
                        )
                    })?;
                no_escalation(actor, &definition.grants)?;
            }
            self.store
                .set_platform_role(user.id, role, now_millis())
                .await?;
            Ok(AppUser {
                platform_role: role.map(str::to_string),
                ..user
            })
        }
        .await;
        self.events
            .record_change(
                &actor.id,
                EventKind::PlatformRoleChange,
                meta,
                subject.as_deref(),
                &target,
                &result,
            )
            .await;
        result
    }

    /// Write a policy after validating it (`422` naming `policy` with Cedar's
    /// message; `501` in a build without Cedar).
    pub async fn put_policy(
        &self,
        meta: &RequestMeta,
        actor: &AdminActor,
        input: PolicyInput,
    ) -> Result<PolicyRow, AuthError> {
        let id = match input.id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(id) => role_key(id).map_err(|_| {
                AuthError::invalid_field(
                    "id",
                    "id must be 1 to 64 characters of a-z, 0-9, `_` and `-`",
                )
            })?,
            None => uuid::Uuid::now_v7().to_string(),
        };
        let target = format!("policy:{id}");
        let result = async {
            may_write_policies(actor)?;
            if !authgate_policy::enabled() {
                return Err(AuthError::NotImplemented(
                    "Cedar policies (this build lacks the `cedar` feature)".into(),
                ));
            }
            if input.policy.len() > 64 * 1024 {
                return Err(AuthError::invalid_field(
                    "policy",
                    "policy must be at most 64 KiB",
                ));
            }
            authgate_policy::validate(&input.policy).map_err(|e| {
                AuthError::invalid_field("policy", format!("the policy is not valid: {e}"))
            })?;
            let now = now_millis();
            let created_at = self.store.policy(&id).await?.map_or(now, |p| p.created_at);
            let row = PolicyRow {
                id: id.clone(),
                description: description(input.description.as_deref())?,
                body: input.policy.clone(),
                created_at,
                updated_at: now,
            };
            self.store.upsert_policy(&row).await?;
            self.policies.invalidate().await;
            Ok(row)
        }
        .await;
        self.events
            .record_change(
                &actor.id,
                EventKind::PolicyWrite,
                meta,
                None,
                &target,
                &result,
            )
            .await;
        result
    }

    /// Every stored policy.
    pub async fn policies(&self, _admin: &AdminActor) -> Result<Vec<PolicyRow>, AuthError> {
        Ok(self.store.policies().await?)
    }

    /// Add a policy under a new id (a taken id is a conflict: PUT replaces).
    pub async fn create_policy(
        &self,
        meta: &RequestMeta,
        actor: &AdminActor,
        input: PolicyInput,
    ) -> Result<PolicyRow, AuthError> {
        if let Some(id) = input.id.as_deref()
            && self.store.policy(id.trim()).await?.is_some()
        {
            return Err(AuthError::AlreadyExists(format!(
                "a policy {id} exists already: PUT it to replace it"
            )));
        }
        self.put_policy(meta, actor, input).await
    }

    pub async fn policy(&self, _admin: &AdminActor, id: &str) -> Result<PolicyRow, AuthError> {
        self.store
            .policy(id)
            .await?
            .ok_or_else(|| AuthError::NotFound("policy".into()))
    }

    pub async fn delete_policy(
        &self,
        meta: &RequestMeta,
        actor: &AdminActor,
        id: &str,
    ) -> Result<(), AuthError> {
        let result = async {
            may_write_policies(actor)?;
            if !self.store.delete_policy(id).await? {
                return Err(AuthError::NotFound("policy".into()));
            }
            self.policies.invalidate().await;
            Ok(())
        }
        .await;
        self.events
            .record_change(
                &actor.id,
                EventKind::PolicyDelete,
                meta,
                None,
                &format!("policy:{id}"),
                &result,
            )
            .await;
        result
    }
}
