//! `/v1/admin/clients`: the machine clients.

use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use crate::wire::ToWire;
use authgate_api_types::authz::*;
use authgate_service::{Principal, RequestMeta};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// The machine clients (`authgate admin create-client` registers them).
#[utoipa::path(get, path = "/v1/admin/clients", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = ClientList), (status = 403, body = Problem)))]
pub async fn list_clients(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<ClientList>> {
    let admin = state.subjects.require_admin(&principal).await?;
    let clients = state.clients.machine_clients(&admin).await?;
    Ok(Json(ClientList {
        clients: clients.into_iter().map(ToWire::to_wire).collect(),
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
    let actor = state.subjects.require_admin(&principal).await?;
    state
        .clients
        .revoke_machine_client(&meta, &actor, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
