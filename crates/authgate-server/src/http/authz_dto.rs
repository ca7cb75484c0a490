//! The JSON shapes of tenants, the authorization catalog, decisions and
//! machine clients (camelCase), with their OpenAPI schemas; OAuth's token
//! endpoint keeps OAuth's snake_case.

use crate::services::catalog::Catalog;
use crate::services::tenants::{Added, TenantView};
use authgate_store::catalog::{PolicyRow, Role};
use authgate_store::tenants::{Invitation, Member};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantBody {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantResponse {
    pub id: String,
    pub name: String,
    /// The caller's tenant role (absent for a platform role acting from outside).
    pub role: Option<String>,
    /// What the caller may do here (tenant role and platform role together).
    pub grants: Vec<String>,
    pub created_at: String,
}

impl From<TenantView> for TenantResponse {
    fn from(view: TenantView) -> Self {
        Self {
            id: view.tenant.id.to_string(),
            name: view.tenant.name,
            role: view.role,
            grants: view.grants,
            created_at: super::dto::rfc3339(view.tenant.created_at / 1000),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantList {
    pub tenants: Vec<TenantResponse>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddMemberBody {
    pub email: String,
    pub role: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberRoleBody {
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberResponse {
    pub user_id: String,
    pub sub: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: String,
    pub since: String,
}

impl From<Member> for MemberResponse {
    fn from(m: Member) -> Self {
        Self {
            user_id: m.user_id.to_string(),
            sub: m.sub,
            email: m.email,
            name: m.name,
            role: m.role,
            since: super::dto::rfc3339(m.since / 1000),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationResponse {
    pub email: String,
    pub role: String,
    pub invited_at: String,
}

impl From<Invitation> for InvitationResponse {
    fn from(i: Invitation) -> Self {
        Self {
            email: i.email,
            role: i.role,
            invited_at: super::dto::rfc3339(i.created_at / 1000),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    pub members: Vec<MemberResponse>,
    /// Addresses without an account yet; they become members on first sign-in.
    pub invitations: Vec<InvitationResponse>,
}

/// `status` is `member` (added) or `invited` (no account yet).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddMemberResponse {
    pub status: String,
    pub user_id: Option<String>,
    pub email: String,
    pub role: String,
}

impl From<Added> for AddMemberResponse {
    fn from(added: Added) -> Self {
        match added {
            Added::Member(m) => Self {
                status: "member".into(),
                user_id: Some(m.user_id.to_string()),
                email: m.email.unwrap_or_default(),
                role: m.role,
            },
            Added::Invited(i) => Self {
                status: "invited".into(),
                user_id: None,
                email: i.email,
                role: i.role,
            },
        }
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleBody {
    pub key: String,
    /// `platform` or `tenant`
    pub scope: String,
    #[serde(default)]
    pub description: Option<String>,
    pub grants: Vec<String>,
}

/// PUT: the key comes from the path.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleUpdateBody {
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub grants: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleResponse {
    pub key: String,
    pub scope: String,
    pub description: String,
    pub grants: Vec<String>,
    pub updated_at: String,
}

impl From<Role> for RoleResponse {
    fn from(role: Role) -> Self {
        Self {
            key: role.key,
            scope: role.scope.as_str().into(),
            description: role.description,
            grants: role.grants,
            updated_at: super::dto::rfc3339(role.updated_at / 1000),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleList {
    pub roles: Vec<RoleResponse>,
}

/// `{role}`: a platform role key, or `null` to take the role away.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PlatformRoleBody {
    pub role: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformRoleResponse {
    /// The app user id.
    pub id: String,
    pub platform_role: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ScopeQuery {
    /// `platform` or `tenant`; needed when a key exists in both scopes.
    pub scope: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyBody {
    /// Optional on POST (generated); taken from the path on PUT.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Cedar source: one or more `permit`/`forbid` policies.
    pub policy: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyResponse {
    pub id: String,
    pub description: String,
    pub policy: String,
    pub updated_at: String,
}

impl From<PolicyRow> for PolicyResponse {
    fn from(p: PolicyRow) -> Self {
        Self {
            id: p.id,
            description: p.description,
            policy: p.body,
            updated_at: super::dto::rfc3339(p.updated_at / 1000),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyList {
    pub policies: Vec<PolicyResponse>,
}

/// A role as clients see it in the catalog.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogRole {
    pub key: String,
    pub scope: String,
    pub description: String,
    pub grants: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogPolicy {
    pub id: String,
    pub description: String,
}

/// How to read the catalog.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogHints {
    /// How grants match actions.
    pub grant_syntax: String,
    /// The tenant role a tenant's creator holds.
    pub owner_role: String,
    /// Platform role grants hold in every tenant.
    pub platform_grants_apply_everywhere: bool,
    /// Actions under this prefix are platform actions: only a platform role
    /// grants them, never a tenant role (whatever its wildcard).
    pub platform_action_prefix: String,
    /// Decisions: roles, then policies (a forbid overrides, a permit adds).
    pub policy_evaluation: String,
    /// Role keys change at run time: do not compile them into clients.
    pub role_keys_are_data: bool,
}

/// `GET /v1/auth/authorization-catalog`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogResponse {
    /// Changes whenever a role or policy does; also the `ETag`.
    pub version: String,
    pub roles: Vec<CatalogRole>,
    /// Every grant some role carries.
    pub grants: Vec<String>,
    pub policies: Vec<CatalogPolicy>,
    pub hints: CatalogHints,
}

impl From<Catalog> for CatalogResponse {
    fn from(c: Catalog) -> Self {
        Self {
            version: c.version,
            roles: c
                .roles
                .into_iter()
                .map(|r| CatalogRole {
                    key: r.key,
                    scope: r.scope.as_str().into(),
                    description: r.description,
                    grants: r.grants,
                })
                .collect(),
            grants: c.grants,
            policies: c
                .policies
                .into_iter()
                .map(|p| CatalogPolicy {
                    id: p.id,
                    description: p.description,
                })
                .collect(),
            hints: CatalogHints {
                grant_syntax: "segments joined by `:`; a final `*` covers everything under its prefix \
                               (`devices:*` covers `devices:read`), `*` alone covers everything; \
                               a tenant role's grants never cover `platform:` actions"
                    .into(),
                owner_role: crate::services::authz::OWNER_ROLE.into(),
                platform_grants_apply_everywhere: true,
                platform_action_prefix: format!("{}:", authgate_core::authz::PLATFORM_NAMESPACE),
                policy_evaluation: "roles first; a policy forbid overrides them, a permit allows what no role grants".into(),
                role_keys_are_data: true,
            },
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckBody {
    /// A permission string, e.g. `devices:read`.
    pub action: String,
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// A machine client as administrators see it (never its secret).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientView {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    /// Set once revoked.
    pub revoked_at: Option<String>,
}

impl From<authgate_store::clients::MachineClient> for ClientView {
    fn from(c: authgate_store::clients::MachineClient) -> Self {
        Self {
            id: c.id,
            name: c.name,
            scopes: c.scopes,
            created_at: super::dto::rfc3339(c.created_at / 1000),
            revoked_at: c.revoked_at.map(|at| super::dto::rfc3339(at / 1000)),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientList {
    pub clients: Vec<ClientView>,
}

/// OAuth token request (form-encoded).
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenForm {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<authgate_core::Secret>,
    pub scope: Option<String>,
    #[schema(value_type = Option<String>)]
    pub refresh_token: Option<authgate_core::Secret>,
}

/// OAuth token response.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthTokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// OAuth error (RFC 6749 §5.2).
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    pub error: String,
    pub error_description: String,
}
