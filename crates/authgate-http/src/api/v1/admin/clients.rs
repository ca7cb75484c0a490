//! `/v1/admin/clients`: the client registry (machine and app clients).

use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use crate::wire::ToWire;
use authgate_api_types::authz::*;
use authgate_service::clients::ClientRequest;
use authgate_service::{Principal, RequestMeta};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// Register a client, as `authgate admin create-client` does: a confidential
/// client's secret is in this answer only.
#[utoipa::path(post, path = "/v1/admin/clients", tag = "admin", security(("bearer" = [])),
    request_body = CreateClientBody,
    responses((status = 201, body = CreatedClient),
        (status = 422, description = "a field breaks the registration rules (named in `field`)", body = Problem),
        (status = 403, body = Problem)))]
pub async fn create_client(
    State(state): State<AppState>,
    meta: RequestMeta,
    principal: Principal,
    ApiJson(body): ApiJson<CreateClientBody>,
) -> ApiResult<(StatusCode, Json<CreatedClient>)> {
    let admin = state.subjects.require_admin(&principal).await?;
    let request = ClientRequest {
        name: body.name,
        client_type: body.client_type,
        redirect_uris: body.redirect_uris,
        post_logout_uris: body.post_logout_uris,
        scopes: body.scopes,
        grant_types: body.grant_types,
        consent: body.consent,
    };
    let (client, secret) = state.clients.create_client(&meta, &admin, &request).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedClient {
            client: client.to_wire(),
            client_secret: secret.map(|s| s.expose().to_string()),
        }),
    ))
}

/// The registered clients, machine and app.
#[utoipa::path(get, path = "/v1/admin/clients", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = ClientList), (status = 403, body = Problem)))]
pub async fn list_clients(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<ClientList>> {
    let admin = state.subjects.require_admin(&principal).await?;
    let clients = state.clients.clients(&admin).await?;
    Ok(Json(ClientList {
        clients: clients.into_iter().map(ToWire::to_wire).collect(),
    }))
}

/// Revoke a client: its secret and its tokens stop working at once.
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
    state.clients.revoke_client(&meta, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
