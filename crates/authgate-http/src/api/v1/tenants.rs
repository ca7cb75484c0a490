//! Handlers of tenants and memberships (`/v1/tenants`).

use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use crate::wire::ToWire;
use authgate_api_types::authz::*;
use authgate_service::{Caller, RequestMeta};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// Create a tenant; the caller becomes its owner.
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", security(("bearer" = [])),
    request_body = TenantBody,
    responses((status = 201, body = TenantResponse), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn create_tenant(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(body): ApiJson<TenantBody>,
) -> ApiResult<(StatusCode, Json<TenantResponse>)> {
    let view = state
        .tenants
        .create_tenant(&meta, &caller, &body.name)
        .await?;
    Ok((StatusCode::CREATED, Json(view.to_wire())))
}

/// The caller's tenants, with the role there.
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants", security(("bearer" = [])),
    responses((status = 200, body = TenantList), (status = 401, body = Problem)))]
pub async fn list_tenants(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<TenantList>> {
    let tenants = state.tenants.my_tenants(&caller).await?;
    Ok(Json(TenantList {
        tenants: tenants.into_iter().map(ToWire::to_wire).collect(),
    }))
}

/// One tenant (members only: others get 404).
#[utoipa::path(get, path = "/v1/tenants/{id}", tag = "tenants", security(("bearer" = [])),
    params(("id" = String, Path, description = "tenant id")),
    responses((status = 200, body = TenantResponse), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TenantResponse>> {
    Ok(Json(
        state.tenants.get_tenant(&caller, &id).await?.to_wire(),
    ))
}

/// Rename a tenant (`tenant:update`).
#[utoipa::path(patch, path = "/v1/tenants/{id}", tag = "tenants", security(("bearer" = [])),
    params(("id" = String, Path, description = "tenant id")), request_body = TenantBody,
    responses((status = 200, body = TenantResponse), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn rename_tenant(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TenantBody>,
) -> ApiResult<Json<TenantResponse>> {
    Ok(Json(
        state
            .tenants
            .rename_tenant(&meta, &caller, &id, &body.name)
            .await?
            .to_wire(),
    ))
}

/// Delete a tenant with its memberships (`tenant:delete`: owners).
#[utoipa::path(delete, path = "/v1/tenants/{id}", tag = "tenants", security(("bearer" = [])),
    params(("id" = String, Path, description = "tenant id")),
    responses((status = 204, description = "deleted"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_tenant(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.tenants.delete_tenant(&meta, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Members and open invitations (`members:read`).
#[utoipa::path(get, path = "/v1/tenants/{id}/members", tag = "tenants", security(("bearer" = [])),
    params(("id" = String, Path, description = "tenant id")),
    responses((status = 200, body = MemberList), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<MemberList>> {
    let (members, invitations) = state.tenants.tenant_members(&caller, &id).await?;
    Ok(Json(MemberList {
        members: members.into_iter().map(ToWire::to_wire).collect(),
        invitations: invitations.into_iter().map(ToWire::to_wire).collect(),
    }))
}

/// Add a member by email (`members:write`); an address without an account
/// gets an invitation that binds on its first sign-in.
#[utoipa::path(post, path = "/v1/tenants/{id}/members", tag = "tenants", security(("bearer" = [])),
    params(("id" = String, Path, description = "tenant id")), request_body = AddMemberBody,
    responses(
        (status = 201, body = AddMemberResponse),
        (status = 403, description = "no members:write, or the role carries grants the caller lacks", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "already a member or invited", body = Problem),
        (status = 422, description = "unknown role or bad email", body = Problem)))]
pub async fn add_member(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AddMemberBody>,
) -> ApiResult<(StatusCode, Json<AddMemberResponse>)> {
    let added = state
        .tenants
        .add_member(&meta, &caller, &id, &body.email, &body.role)
        .await?;
    Ok((StatusCode::CREATED, Json(added.to_wire())))
}

/// Change a member's role (`members:write`, no escalation, an owner stays).
#[utoipa::path(patch, path = "/v1/tenants/{id}/members/{userId}", tag = "tenants", security(("bearer" = [])),
    params(("id" = String, Path, description = "tenant id"), ("userId" = String, Path, description = "app user id")),
    request_body = MemberRoleBody,
    responses((status = 204, description = "changed"), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "the last owner", body = Problem)))]
pub async fn change_member_role(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    Path((id, user_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<MemberRoleBody>,
) -> ApiResult<StatusCode> {
    state
        .tenants
        .change_member(&meta, &caller, &id, &user_id, Some(&body.role))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a member (`members:write`), or leave (any member, not the last owner).
#[utoipa::path(delete, path = "/v1/tenants/{id}/members/{userId}", tag = "tenants", security(("bearer" = [])),
    params(("id" = String, Path, description = "tenant id"), ("userId" = String, Path, description = "app user id")),
    responses((status = 204, description = "removed"), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "the last owner", body = Problem)))]
pub async fn remove_member(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    Path((id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .tenants
        .change_member(&meta, &caller, &id, &user_id, None)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Withdraw an invitation (`members:write`).
#[utoipa::path(delete, path = "/v1/tenants/{id}/invitations/{email}", tag = "tenants", security(("bearer" = [])),
    params(("id" = String, Path, description = "tenant id"), ("email" = String, Path, description = "the invited address")),
    responses((status = 204, description = "withdrawn"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn withdraw_invitation(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    Path((id, email)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .tenants
        .withdraw_invitation(&meta, &caller, &id, &email)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(create_tenant, list_tenants))
        .routes(routes!(get_tenant, rename_tenant, delete_tenant))
        .routes(routes!(list_members, add_member))
        .routes(routes!(withdraw_invitation))
        .routes(routes!(change_member_role, remove_member))
}
