//! The JSON shapes of tenants, the authorization catalog, decisions and
//! machine clients (camelCase), with their OpenAPI schemas.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantBody {
    /// Trimmed, then 1 to 100 characters without control characters.
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantResponse {
    pub id: String,
    pub name: String,
    /// The caller's tenant role (absent for a platform role acting from outside).
    pub role: Option<String>,
    /// What the caller may do here (tenant role and platform role together).
    /// Permissions (`devices:read`), prefixes (`devices:*`) or `*`.
    #[schema(inline, value_type = Vec<Grant>)]
    pub grants: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TenantList {
    pub tenants: Vec<TenantResponse>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddMemberBody {
    pub email: String,
    pub role: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberRoleBody {
    pub role: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberResponse {
    pub user_id: String,
    pub sub: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: String,
    pub since: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationResponse {
    pub email: String,
    pub role: String,
    pub invited_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MemberList {
    pub members: Vec<MemberResponse>,
    /// Addresses without an account yet; they become members on first sign-in.
    pub invitations: Vec<InvitationResponse>,
}

/// `status` is `member` (added) or `invited` (no account yet).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddMemberResponse {
    pub status: String,
    pub user_id: Option<String>,
    pub email: String,
    pub role: String,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleBody {
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")]
    pub key: String,
    /// `platform` or `tenant`
    #[schema(pattern = "^(platform|tenant)$")]
    pub scope: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Permissions (`devices:read`), prefixes (`devices:*`) or `*`.
    #[schema(inline, value_type = Vec<Grant>)]
    pub grants: Vec<String>,
}

/// PUT: the key comes from the path.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleUpdateBody {
    /// Like `?scope=`: which role of that key, when the key exists in both
    /// scopes (a role's scope never changes).
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Permissions (`devices:read`), prefixes (`devices:*`) or `*`.
    #[schema(inline, value_type = Vec<Grant>)]
    pub grants: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleResponse {
    pub key: String,
    pub scope: String,
    pub description: String,
    /// Permissions (`devices:read`), prefixes (`devices:*`) or `*`.
    #[schema(inline, value_type = Vec<Grant>)]
    pub grants: Vec<String>,
    pub updated_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoleList {
    pub roles: Vec<RoleResponse>,
}

/// `{role}`: a platform role key, or `null` to take the role away.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PlatformRoleBody {
    pub role: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformRoleResponse {
    /// The app user id.
    pub id: String,
    pub platform_role: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScopeQuery {
    /// `platform` or `tenant`; needed when a key exists in both scopes.
    #[param(pattern = "^(platform|tenant)$")]
    pub scope: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
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

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyResponse {
    pub id: String,
    pub description: String,
    pub policy: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PolicyList {
    pub policies: Vec<PolicyResponse>,
}

/// A role as clients see it in the catalog.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogRole {
    pub key: String,
    pub scope: String,
    pub description: String,
    /// Permissions (`devices:read`), prefixes (`devices:*`) or `*`.
    #[schema(inline, value_type = Vec<Grant>)]
    pub grants: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogPolicy {
    pub id: String,
    pub description: String,
}

/// How to read the catalog.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogResponse {
    /// Changes whenever a role or policy does; also the `ETag`.
    pub version: String,
    pub roles: Vec<CatalogRole>,
    /// Every grant some role carries.
    /// Permissions (`devices:read`), prefixes (`devices:*`) or `*`.
    #[schema(inline, value_type = Vec<Grant>)]
    pub grants: Vec<String>,
    pub policies: Vec<CatalogPolicy>,
    pub hints: CatalogHints,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckBody {
    /// A permission string, e.g. `devices:read`.
    #[schema(max_length = 128, pattern = "^[a-z0-9_.-]+(:[a-z0-9_.-]+)*$")]
    pub action: String,
    #[serde(default)]
    #[schema(max_length = 512)]
    pub resource: Option<String>,
    #[serde(default)]
    #[schema(format = Uuid)]
    pub tenant_id: Option<String>,
}

/// A client as administrators see it (never its secret).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientView {
    pub id: String,
    pub name: String,
    /// `public` (no secret, PKCE) or `confidential`.
    #[serde(rename = "type")]
    #[schema(example = "confidential")]
    pub client_type: String,
    pub scopes: Vec<String>,
    /// Matched exactly at `/oauth2/authorize`.
    pub redirect_uris: Vec<String>,
    /// Where `/oauth2/logout` may send the browser afterwards.
    pub post_logout_uris: Vec<String>,
    /// `authorization_code`, `refresh_token`, `client_credentials`.
    pub grant_types: Vec<String>,
    /// Whether users are asked before the client gets a code.
    pub consent: bool,
    pub created_at: String,
    /// Set once revoked.
    pub revoked_at: Option<String>,
}

/// `POST /v1/admin/clients`: register a machine client (no redirect URIs:
/// `client_credentials`) or an app client (redirect URIs: the
/// authorization code flow).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateClientBody {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// `public` or `confidential` (the default).
    #[serde(rename = "type", default)]
    pub client_type: Option<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_uris: Vec<String>,
    /// Default for an app client: `openid`, `email`, `profile`; a machine
    /// client names its scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Default: `authorization_code` and `refresh_token` with redirect URIs,
    /// `client_credentials` without.
    #[serde(default)]
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub consent: bool,
}

/// A registered client and, for a confidential one, its secret: shown only
/// in this answer (authgate keeps a hash).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedClient {
    pub client: ClientView,
    pub client_secret: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClientList {
    pub clients: Vec<ClientView>,
}

/// A grant: a permission (`devices:read`), a prefix (`devices:*`) or `*`.
#[derive(ToSchema)]
#[schema(
    value_type = String,
    max_length = 128,
    pattern = "^(\\*|[a-z0-9_.-]+(:[a-z0-9_.-]+)*(:\\*)?)$"
)]
pub struct Grant(#[allow(dead_code)] String);
