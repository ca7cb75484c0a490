//! `/v1/auth/subject` and `/v1/auth/authorization-catalog`: who is calling and the catalog's hints.

use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use crate::wire::ToWire;
use authgate_api_types::authz::*;
use authgate_core::AuthError;
use authgate_core::authz::UserContext;
use authgate_service::{Caller, Principal};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Who is calling: the app user, platform role, tenants with role and
/// grants, and MFA state, in one shape whatever the provider.
#[utoipa::path(get, path = "/v1/auth/subject", tag = "authorization", security(("bearer" = [])),
    responses((status = 200, body = UserContext), (status = 401, body = Problem)))]
pub async fn subject(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<UserContext>> {
    Ok(Json(state.subjects.user_context(&caller).await?))
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
    let catalog = state.catalog.catalog().await?;
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
    let body: CatalogResponse = catalog.to_wire();
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
