//! Handlers of `/v1/auth/identities`: the identities at external OpenID
//! providers linked to the caller's account, and their removal (never the
//! account's last way to sign in). Each handler calls the federation
//! service and renders.

use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use crate::wire::ToWire;
use authgate_api_types::native::LinkedIdentityList;
use authgate_service::{Caller, RequestMeta};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// The caller's linked identities, oldest first.
#[utoipa::path(get, path = "/v1/auth/identities", tag = "federation",
    security(("bearer" = [])),
    responses((status = 200, body = LinkedIdentityList), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<LinkedIdentityList>> {
    let identities = state.federation.identities(&caller).await?;
    Ok(Json(LinkedIdentityList {
        identities: identities.into_iter().map(ToWire::to_wire).collect(),
    }))
}

/// Remove one of the caller's linked identities: signing in with it stops;
/// the account and its sessions stay.
#[utoipa::path(delete, path = "/v1/auth/identities/{id}", tag = "federation",
    security(("bearer" = [])), params(("id" = String, Path, description = "the link's id")),
    responses(
        (status = 204, description = "removed"),
        (status = 401, body = Problem),
        (status = 404, description = "not one of the caller's identities", body = Problem),
        (status = 409, description = "last_sign_in_method: the account's only way to sign in", body = Problem),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.federation.unlink(&meta, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
