//! `/v1/admin/roles`, `/v1/admin/policies` and platform roles: the authorization catalog's administration.

use crate::extract::{ApiJson, query_params};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use crate::wire::ToWire;
use authgate_api_types::authz::*;
use authgate_core::AuthError;
use authgate_service::catalog::{PolicyInput, RoleInput};
use authgate_service::{Principal, RequestMeta};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

/// Every role of the catalog.
#[utoipa::path(get, path = "/v1/admin/roles", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = RoleList), (status = 403, body = Problem)))]
pub async fn list_roles(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<RoleList>> {
    let admin = state.subjects.require_admin(&principal).await?;
    let roles = state.catalog.admin_roles(&admin).await?;
    Ok(Json(RoleList {
        roles: roles.into_iter().map(ToWire::to_wire).collect(),
    }))
}

/// Add a role (no grants beyond the caller's own).
#[utoipa::path(post, path = "/v1/admin/roles", tag = "admin", security(("bearer" = [])),
    request_body = RoleBody,
    responses((status = 201, body = RoleResponse), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_role(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    ApiJson(body): ApiJson<RoleBody>,
) -> ApiResult<(StatusCode, Json<RoleResponse>)> {
    let actor = state.subjects.require_admin(&principal).await?;
    let role = state
        .catalog
        .create_role(
            &meta,
            &actor,
            RoleInput {
                key: body.key,
                scope: body.scope,
                description: body.description,
                grants: body.grants,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(role.to_wire())))
}

/// One role (`?scope=` when the key exists in both scopes).
#[utoipa::path(get, path = "/v1/admin/roles/{key}", tag = "admin", security(("bearer" = [])),
    params(("key" = String, Path, description = "role key"), ScopeQuery),
    responses((status = 200, body = RoleResponse), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_role(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    scope: Result<Query<ScopeQuery>, QueryRejection>,
) -> ApiResult<Json<RoleResponse>> {
    let admin = state.subjects.require_admin(&principal).await?;
    let scope = query_params(scope)?.scope;
    Ok(Json(
        state
            .catalog
            .role(&admin, &key, scope.as_deref())
            .await?
            .to_wire(),
    ))
}

/// Replace a role's description and grants.
#[utoipa::path(put, path = "/v1/admin/roles/{key}", tag = "admin", security(("bearer" = [])),
    params(("key" = String, Path, description = "role key"), ScopeQuery), request_body = RoleUpdateBody,
    responses((status = 200, body = RoleResponse), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_role(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Path(key): Path<String>,
    scope: Result<Query<ScopeQuery>, QueryRejection>,
    ApiJson(body): ApiJson<RoleUpdateBody>,
) -> ApiResult<Json<RoleResponse>> {
    let actor = state.subjects.require_admin(&principal).await?;
    let scope = query_params(scope)?.scope;
    let role = state
        .catalog
        .update_role(
            &meta,
            &actor,
            &key,
            scope.as_deref(),
            RoleInput {
                key: key.clone(),
                scope: body.scope.unwrap_or_default(),
                description: body.description,
                grants: body.grants,
            },
        )
        .await?;
    Ok(Json(role.to_wire()))
}

/// Delete a role nobody holds.
#[utoipa::path(delete, path = "/v1/admin/roles/{key}", tag = "admin", security(("bearer" = [])),
    params(("key" = String, Path, description = "role key"), ScopeQuery),
    responses((status = 204, description = "deleted"), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "still assigned, or the built-in owner role", body = Problem)))]
pub async fn delete_role(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Path(key): Path<String>,
    scope: Result<Query<ScopeQuery>, QueryRejection>,
) -> ApiResult<StatusCode> {
    let actor = state.subjects.require_admin(&principal).await?;
    let scope = query_params(scope)?.scope;
    state
        .catalog
        .delete_role(&meta, &actor, &key, scope.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give a user a platform role of the catalog, or take it away (`null`);
/// no role beyond the caller's own grants.
#[utoipa::path(put, path = "/v1/admin/users/{id}/platform-role", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "app user id")), request_body = PlatformRoleBody,
    responses((status = 200, body = PlatformRoleResponse), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, description = "not a platform role", body = Problem)))]
pub async fn set_platform_role(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PlatformRoleBody>,
) -> ApiResult<Json<PlatformRoleResponse>> {
    let actor = state.subjects.require_admin(&principal).await?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| AuthError::NotFound("user".into()))?;
    let user = state
        .catalog
        .set_platform_role(&meta, &actor, id, body.role.as_deref())
        .await?;
    Ok(Json(PlatformRoleResponse {
        id: user.id.to_string(),
        platform_role: user.platform_role,
    }))
}

/// The stored Cedar policies.
#[utoipa::path(get, path = "/v1/admin/policies", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = PolicyList), (status = 403, body = Problem)))]
pub async fn list_policies(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<PolicyList>> {
    let admin = state.subjects.require_admin(&principal).await?;
    let policies = state.catalog.policies(&admin).await?;
    Ok(Json(PolicyList {
        policies: policies.into_iter().map(ToWire::to_wire).collect(),
    }))
}

/// Add a Cedar policy (validated first: 422 names what is wrong).
#[utoipa::path(post, path = "/v1/admin/policies", tag = "admin", security(("bearer" = [])),
    request_body = PolicyBody,
    responses((status = 201, body = PolicyResponse), (status = 403, body = Problem), (status = 422, body = Problem),
        (status = 501, description = "built without the `cedar` feature", body = Problem)))]
pub async fn create_policy(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    ApiJson(body): ApiJson<PolicyBody>,
) -> ApiResult<(StatusCode, Json<PolicyResponse>)> {
    let actor = state.subjects.require_admin(&principal).await?;
    let policy = state
        .catalog
        .create_policy(
            &meta,
            &actor,
            PolicyInput {
                id: body.id,
                description: body.description,
                policy: body.policy,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(policy.to_wire())))
}

/// One policy.
#[utoipa::path(get, path = "/v1/admin/policies/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "policy id")),
    responses((status = 200, body = PolicyResponse), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_policy(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<PolicyResponse>> {
    let admin = state.subjects.require_admin(&principal).await?;
    Ok(Json(state.catalog.policy(&admin, &id).await?.to_wire()))
}

/// Create or replace a policy under this id.
#[utoipa::path(put, path = "/v1/admin/policies/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "policy id")), request_body = PolicyBody,
    responses((status = 200, body = PolicyResponse), (status = 403, body = Problem), (status = 422, body = Problem),
        (status = 501, description = "built without the `cedar` feature", body = Problem)))]
pub async fn put_policy(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PolicyBody>,
) -> ApiResult<Json<PolicyResponse>> {
    let actor = state.subjects.require_admin(&principal).await?;
    let policy = state
        .catalog
        .put_policy(
            &meta,
            &actor,
            PolicyInput {
                id: Some(id),
                description: body.description,
                policy: body.policy,
            },
        )
        .await?;
    Ok(Json(policy.to_wire()))
}

/// Delete a policy.
#[utoipa::path(delete, path = "/v1/admin/policies/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "policy id")),
    responses((status = 204, description = "deleted"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_policy(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let actor = state.subjects.require_admin(&principal).await?;
    state.catalog.delete_policy(&meta, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
