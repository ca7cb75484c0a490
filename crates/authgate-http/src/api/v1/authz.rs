//! `/v1/authz`: decisions (`check`) and the gateway authorizer (`forward`).

use crate::extract::ApiJson;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use authgate_api_types::authz::*;
use authgate_core::AuthError;
use authgate_core::authz::Decision;
use authgate_service::decisions::CheckRequest;
use authgate_service::forward::ForwardRequest;
use authgate_service::{Principal, RequestMeta};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

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
        .decisions
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
        .forward
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

pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(check))
        .routes(routes!(forward))
}
