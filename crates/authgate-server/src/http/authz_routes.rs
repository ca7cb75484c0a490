//! Handlers of the user context, the authorization catalog, decisions, the
//! gateway authorizer, catalog administration (`/v1/admin/roles`,
//! `/v1/admin/policies`) and the OAuth token endpoint.

use crate::http::authz_dto::*;
use crate::http::extract::ApiJson;
use crate::http::problem::{ApiError, Problem};
use crate::services::authz::CheckRequest;
use crate::services::catalog::{PolicyInput, RoleInput};
use crate::services::forward::ForwardRequest;
use crate::services::{Caller, Principal, RequestMeta};
use crate::state::AppState;
use authgate_core::AuthError;
use authgate_core::authz::{Decision, UserContext};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

type ApiResult<T> = Result<T, ApiError>;

fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, AuthError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| AuthError::InvalidRequest {
            field: None,
            message: e.body_text(),
        })
}

/// Who is calling: the app user, platform role, tenants with role and
/// grants, and MFA state, in one shape whatever the provider.
#[utoipa::path(get, path = "/v1/auth/subject", tag = "authorization", security(("bearer" = [])),
    responses((status = 200, body = UserContext), (status = 401, body = Problem)))]
pub async fn subject(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<UserContext>> {
    Ok(Json(state.auth.user_context(&caller).await?))
}

/// Role keys, grants and policy hints; `If-None-Match` with the `ETag`
/// answers 304.
#[utoipa::path(get, path = "/v1/auth/authorization-catalog", tag = "authorization", security(("bearer" = [])),
    responses((status = 200, body = CatalogResponse), (status = 304, description = "unchanged"), (status = 401, body = Problem)))]
pub async fn catalog(
    State(state): State<AppState>,
    _principal: Principal,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let catalog = state.auth.catalog().await?;
    let etag = format!("\"{}\"", catalog.version);
    let unchanged = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        });
    let etag_header =
        HeaderValue::from_str(&etag).map_err(|_| AuthError::Internal("etag".into()))?;
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_header)]).into_response());
    }
    let body: CatalogResponse = catalog.into();
    Ok((
        [
            (header::ETAG, etag_header),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-cache"),
            ),
        ],
        Json(body),
    )
        .into_response())
}

/// May the bearer (a user or a machine client) do `action`?
#[utoipa::path(post, path = "/v1/authz/check", tag = "authorization", security(("bearer" = [])),
    request_body = CheckBody,
    responses((status = 200, body = Decision), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn check(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    ApiJson(body): ApiJson<CheckBody>,
) -> ApiResult<Json<Decision>> {
    let decision = state
        .auth
        .check(
            &principal,
            CheckRequest {
                action: body.action.trim(),
                resource: body.resource.as_deref(),
                tenant_id: body
                    .tenant_id
                    .as_deref()
                    .map(str::trim)
                    .filter(|t| !t.is_empty()),
                ip: meta.ip.as_deref(),
            },
        )
        .await?;
    Ok(Json(decision))
}

/// One original-request header, given by either header set. Both sets
/// with different values, a header sent twice, or a value that is not
/// text is ambiguous (403 `ambiguous_uri`): a client may have added one of
/// them. `None` when neither set has it.
fn original_header<'a>(
    headers: &'a HeaderMap,
    nginx: &'static str,
    traefik: &'static str,
) -> Result<Option<&'a str>, AuthError> {
    let mut seen: Option<&str> = None;
    for name in [nginx, traefik] {
        for value in headers.get_all(name) {
            let value = value
                .to_str()
                .map(str::trim)
                .map_err(|_| AuthError::Denied {
                    reason: "ambiguous_uri".into(),
                    detail: format!("{name} is not plain text"),
                })?;
            match seen {
                Some(first) if first != value => {
                    return Err(AuthError::Denied {
                        reason: "ambiguous_uri".into(),
                        detail: format!(
                            "the original request is named twice, differently ({nginx} / {traefik}): \
                             a gateway sends one set; clear the other"
                        ),
                    });
                }
                _ => seen = Some(value),
            }
        }
    }
    Ok(seen.filter(|v| !v.is_empty()))
}

/// The original method and URI of a gateway request; both are required.
fn original_request(headers: &HeaderMap) -> Result<(&str, &str), AuthError> {
    let method = original_header(headers, "x-original-method", "x-forwarded-method")?
        .ok_or_else(|| {
            AuthError::invalid_field(
                "X-Original-Method",
                "the gateway must send the original method: X-Original-Method (nginx) or X-Forwarded-Method (Traefik)",
            )
        })?;
    if !method.bytes().all(|b| b.is_ascii_alphabetic()) || method.len() > 32 {
        return Err(AuthError::invalid_field(
            "X-Original-Method",
            "the original method must be an HTTP method such as GET",
        ));
    }
    let uri = original_header(headers, "x-original-uri", "x-forwarded-uri")?.ok_or_else(|| {
        AuthError::invalid_field(
            "X-Original-URI",
            "the gateway must send the original URI: X-Original-URI (nginx) or X-Forwarded-Uri (Traefik)",
        )
    })?;
    Ok((method, uri))
}

/// The gateway authorizer: 200 with `X-Auth-User-Id`, `X-Auth-Subject`,
/// `X-Auth-Tenant-Id`, `X-Auth-Roles` for a valid access token (and a
/// permitted action when a route rule maps the original method and URI to a
/// grant), 401 without a valid token, 403 when not permitted (the `code` is
/// the decision's reason), 422 when the gateway did not name the original
/// request.
#[utoipa::path(get, path = "/v1/authz/forward", tag = "authorization", security(("bearer" = [])),
    params(
        ("X-Original-Method" = Option<String>, Header, description = "nginx; or X-Forwarded-Method (Traefik). Required; both sets with different values are refused"),
        ("X-Original-URI" = Option<String>, Header, description = "nginx; or X-Forwarded-Uri (Traefik). Required"),
        ("X-Tenant-Id" = Option<String>, Header, description = "the tenant, for rules with `tenant=header` and requests no rule covers; answered back only for a member"),
    ),
    responses(
        (status = 200, description = "allowed; identity in X-Auth-* headers"),
        (status = 401, body = Problem),
        (status = 403, description = "not permitted; `code` says why: no_grant, not_a_member, no_route, tenant_required, policy_forbid, ambiguous_uri", body = Problem),
        (status = 422, description = "the original method or URI is missing", body = Problem)))]
pub async fn forward(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (method, uri) = original_request(&headers)?;
    let tenant = headers
        .get("x-tenant-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let forwarded = state
        .auth
        .forward(
            &principal,
            ForwardRequest {
                method,
                uri,
                tenant_header: tenant,
                ip: meta.ip.as_deref(),
            },
        )
        .await?;
    if !forwarded.decision.allowed {
        return Err(ApiError(AuthError::Denied {
            reason: forwarded.decision.reason,
            detail: forwarded.decision.detail,
        }));
    }
    let mut response = StatusCode::OK.into_response();
    for (name, value) in forwarded.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
    Ok(response)
}

/// Every role of the catalog.
#[utoipa::path(get, path = "/v1/admin/roles", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = RoleList), (status = 403, body = Problem)))]
pub async fn list_roles(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<RoleList>> {
    state.auth.require_admin(&principal).await?;
    let roles = state.auth.catalog().await?.roles;
    Ok(Json(RoleList {
        roles: roles.into_iter().map(Into::into).collect(),
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
    let actor = state.auth.require_admin(&principal).await?;
    let role = state
        .auth
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
    Ok((StatusCode::CREATED, Json(role.into())))
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
    state.auth.require_admin(&principal).await?;
    let scope = query(scope)?.scope;
    Ok(Json(state.auth.role(&key, scope.as_deref()).await?.into()))
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
    let actor = state.auth.require_admin(&principal).await?;
    let scope = query(scope)?.scope;
    let role = state
        .auth
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
    Ok(Json(role.into()))
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
    let actor = state.auth.require_admin(&principal).await?;
    let scope = query(scope)?.scope;
    state
        .auth
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
    let actor = state.auth.require_admin(&principal).await?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| AuthError::NotFound("user".into()))?;
    let user = state
        .auth
        .set_platform_role(&meta, &actor, id, body.role.as_deref())
        .await?;
    Ok(Json(PlatformRoleResponse {
        id: user.id.to_string(),
        platform_role: user.platform_role,
    }))
}

/// The machine clients (`authgate admin create-client` registers them).
#[utoipa::path(get, path = "/v1/admin/clients", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = ClientList), (status = 403, body = Problem)))]
pub async fn list_clients(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<ClientList>> {
    state.auth.require_admin(&principal).await?;
    let clients = state.auth.machine_clients().await?;
    Ok(Json(ClientList {
        clients: clients.into_iter().map(Into::into).collect(),
    }))
}

/// Revoke a machine client: its secret and its tokens stop working at once.
#[utoipa::path(delete, path = "/v1/admin/clients/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "client id")),
    responses((status = 204, description = "revoked"), (status = 403, body = Problem),
        (status = 404, description = "unknown or already revoked", body = Problem)))]
pub async fn revoke_client(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let actor = state.auth.require_admin(&principal).await?;
    state.auth.revoke_machine_client(&meta, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The stored Cedar policies.
#[utoipa::path(get, path = "/v1/admin/policies", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = PolicyList), (status = 403, body = Problem)))]
pub async fn list_policies(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<PolicyList>> {
    state.auth.require_admin(&principal).await?;
    let policies = state
        .auth
        .store()
        .policies()
        .await
        .map_err(AuthError::from)?;
    Ok(Json(PolicyList {
        policies: policies.into_iter().map(Into::into).collect(),
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
    let actor = state.auth.require_admin(&principal).await?;
    if let Some(id) = body.id.as_deref()
        && state
            .auth
            .store()
            .policy(id.trim())
            .await
            .map_err(AuthError::from)?
            .is_some()
    {
        return Err(AuthError::Conflict(format!(
            "a policy {id} exists already: PUT it to replace it"
        ))
        .into());
    }
    let policy = state
        .auth
        .put_policy(
            &meta,
            &actor,
            PolicyInput {
                id: body.id,
                description: body.description,
                policy: body.policy,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(policy.into())))
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
    state.auth.require_admin(&principal).await?;
    Ok(Json(state.auth.policy(&id).await?.into()))
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
    let actor = state.auth.require_admin(&principal).await?;
    let policy = state
        .auth
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
    Ok(Json(policy.into()))
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
    let actor = state.auth.require_admin(&principal).await?;
    state.auth.delete_policy(&meta, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
