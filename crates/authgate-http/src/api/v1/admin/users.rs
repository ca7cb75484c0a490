//! Handlers of user administration (`/v1/admin/users`): platform admins only.

use crate::extract::{ApiJson, query_params};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::wire::ToWire;
use authgate_api_types::native::*;
use authgate_core::{AccountStatus, AuthError};
use authgate_service::{Principal, RequestMeta};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use uuid::Uuid;

fn user_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError(AuthError::NotFound("user".into())))
}

/// Create an account; its temporary password is mailed.
#[utoipa::path(post, path = "/v1/admin/users", tag = "admin", security(("bearer" = [])),
    request_body = AdminCreateUserBody,
    responses(
        (status = 201, body = AdminUserView),
        (status = 403, description = "not a platform admin (nor a client with the admin scope)", body = Problem),
        (status = 409, description = "username_exists", body = Problem),
    ))]
pub async fn create_user(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    ApiJson(body): ApiJson<AdminCreateUserBody>,
) -> ApiResult<(StatusCode, Json<AdminUserView>)> {
    let admin = state.subjects.require_admin(&principal).await?;
    let user = state
        .admin_users
        .admin_create_user(&meta, &admin, &body.email, body.name, body.phone)
        .await?;
    Ok((StatusCode::CREATED, Json(user.to_wire())))
}

/// List accounts, filtered by email prefix and status.
#[utoipa::path(get, path = "/v1/admin/users", tag = "admin", security(("bearer" = [])),
    params(AdminUserQuery),
    responses(
        (status = 200, body = AdminUserList),
        (status = 403, description = "not a platform admin (nor a client with the admin scope)", body = Problem),
    ))]
pub async fn list_users(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<AdminUserQuery>, QueryRejection>,
) -> ApiResult<Json<AdminUserList>> {
    let admin = state.subjects.require_admin(&principal).await?;
    let query = query_params(query)?;
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(value) => Some(AccountStatus::parse(value).ok_or_else(|| {
            AuthError::invalid_field(
                "status",
                "status must be pending_confirmation, active, temporary_password or password_reset_required",
            )
        })?),
    };
    let users = state
        .admin_users
        .admin_list_users(
            &admin,
            query.email_prefix,
            status,
            query.limit.unwrap_or(100).clamp(0, 500) as usize,
        )
        .await?;
    Ok(Json(AdminUserList {
        users: users.into_iter().map(ToWire::to_wire).collect(),
    }))
}

/// One account.
#[utoipa::path(get, path = "/v1/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "app user id")),
    responses(
        (status = 200, body = AdminUserView),
        (status = 403, description = "not a platform admin (nor a client with the admin scope)", body = Problem),
        (status = 404, body = Problem),
    ))]
pub async fn get_user(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<AdminUserView>> {
    let admin = state.subjects.require_admin(&principal).await?;
    Ok(Json(
        state
            .admin_users
            .admin_get_user(&admin, user_id(&id)?)
            .await?
            .to_wire(),
    ))
}

/// Delete an account for good.
#[utoipa::path(delete, path = "/v1/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "app user id")),
    responses(
        (status = 204, description = "deleted"),
        (status = 403, description = "not a platform admin (nor a client with the admin scope)", body = Problem),
        (status = 404, body = Problem),
    ))]
pub async fn delete_user(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let admin = state.subjects.require_admin(&principal).await?;
    state
        .admin_users
        .admin_delete_user(&meta, &admin, user_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disable an account: sign-in is refused and every session ends at once.
#[utoipa::path(post, path = "/v1/admin/users/{id}/disable", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "app user id")),
    responses(
        (status = 204, description = "disabled"),
        (status = 403, description = "not a platform admin (nor a client with the admin scope)", body = Problem),
        (status = 404, body = Problem),
    ))]
pub async fn disable_user(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let admin = state.subjects.require_admin(&principal).await?;
    state
        .admin_users
        .admin_set_enabled(&meta, &admin, user_id(&id)?, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enable a disabled account.
#[utoipa::path(post, path = "/v1/admin/users/{id}/enable", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "app user id")),
    responses(
        (status = 204, description = "enabled"),
        (status = 403, description = "not a platform admin (nor a client with the admin scope)", body = Problem),
        (status = 404, body = Problem),
    ))]
pub async fn enable_user(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let admin = state.subjects.require_admin(&principal).await?;
    state
        .admin_users
        .admin_set_enabled(&meta, &admin, user_id(&id)?, true)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Require a password reset: sessions end and a reset code is mailed.
#[utoipa::path(post, path = "/v1/admin/users/{id}/reset-password", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "app user id")),
    responses(
        (status = 204, description = "reset required"),
        (status = 403, description = "not a platform admin (nor a client with the admin scope)", body = Problem),
        (status = 404, body = Problem),
    ))]
pub async fn reset_user_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let admin = state.subjects.require_admin(&principal).await?;
    state
        .admin_users
        .admin_reset_password(&meta, &admin, user_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The account's failed-attempt records: is it locked out, for how long,
/// and by what.
#[utoipa::path(get, path = "/v1/admin/users/{id}/lockout", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "the app user id")),
    responses(
        (status = 200, body = LockoutView),
        (status = 403, description = "not a platform admin (nor a client with the admin scope)", body = Problem),
        (status = 404, body = Problem),
    ))]
pub async fn get_lockout(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<LockoutView>> {
    let admin = state.subjects.require_admin(&principal).await?;
    let records = state
        .admin_users
        .admin_lockout(&admin, user_id(&id)?)
        .await?;
    Ok(Json(LockoutView {
        records: records.into_iter().map(ToWire::to_wire).collect(),
    }))
}

/// Clear the account's failed-attempt records, also the block after
/// `AUTHGATE_MAX_FAILED_ATTEMPTS`.
#[utoipa::path(delete, path = "/v1/admin/users/{id}/lockout", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "the app user id")),
    responses(
        (status = 204, description = "cleared"),
        (status = 403, description = "not a platform admin, or a narrower one than the account's role", body = Problem),
        (status = 404, body = Problem),
    ))]
pub async fn clear_lockout(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let admin = state.subjects.require_admin(&principal).await?;
    state
        .admin_users
        .admin_clear_lockout(&meta, &admin, user_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The audit trail, newest first: why did a sign-in (or anything else) fail?
#[utoipa::path(get, path = "/v1/admin/audit-events", tag = "admin", security(("bearer" = [])),
    params(AuditQueryParams),
    responses(
        (status = 200, body = AuditEventList),
        (status = 403, description = "not a platform admin (nor a client with the admin scope)", body = Problem),
        (status = 422, description = "invalid_request (since)", body = Problem),
    ))]
pub async fn audit_events(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<AuditQueryParams>, QueryRejection>,
) -> ApiResult<Json<AuditEventList>> {
    let admin = state.subjects.require_admin(&principal).await?;
    let query = query_params(query)?;
    let rows = state.admin_users.admin_audit_events(&admin, query).await?;
    Ok(Json(AuditEventList {
        events: rows.into_iter().map(ToWire::to_wire).collect(),
    }))
}
