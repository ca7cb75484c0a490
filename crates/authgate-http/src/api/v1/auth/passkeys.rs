//! Handlers of `/v1/auth/passkeys`: registration (signed in), the list and
//! deletion of the caller's passkeys, and sign-in with a passkey. Options
//! and credentials are the WebAuthn Level 3 JSON of the browser's
//! `parse*OptionsFromJSON()` / `toJSON()`. Each handler parses, calls the
//! passkey service, renders.

use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use crate::wire::ToWire;
use authgate_api_types::native::*;
use authgate_service::{Caller, Ceremony, RequestMeta};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

fn ceremony(ceremony: Ceremony) -> Json<PasskeyCeremonyResponse> {
    Json(PasskeyCeremonyResponse {
        session: ceremony.session.into_inner(),
        options: ceremony.options,
    })
}

/// Start registering a passkey for the signed-in user: creation options
/// (a discoverable credential, user verification required) and the session.
#[utoipa::path(post, path = "/v1/auth/passkeys/register/start", tag = "passkeys",
    security(("bearer" = [])), request_body = EmptyBody,
    responses(
        (status = 200, body = PasskeyCeremonyResponse),
        (status = 401, body = Problem),
        (status = 501, description = "not_supported_by_provider: passkeys are off (no domain name as RP id) or the provider has none", body = Problem),
    ))]
pub async fn register_start(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(_): ApiJson<EmptyBody>,
) -> ApiResult<Json<PasskeyCeremonyResponse>> {
    Ok(ceremony(
        state.passkeys.begin_registration(&meta, &caller).await?,
    ))
}

/// Finish the registration with the browser's new credential.
#[utoipa::path(post, path = "/v1/auth/passkeys/register/complete", tag = "passkeys",
    security(("bearer" = [])), request_body = PasskeyRegisterBody,
    responses(
        (status = 201, body = PasskeyView),
        (status = 401, description = "invalid_session: unknown, used or expired ceremony, or another user's", body = Problem),
        (status = 422, description = "no user verification, a credential registered already, or one that does not verify", body = Problem),
    ))]
pub async fn register_complete(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(body): ApiJson<PasskeyRegisterBody>,
) -> ApiResult<(StatusCode, Json<PasskeyView>)> {
    let passkey = state
        .passkeys
        .finish_registration(
            &meta,
            &caller,
            &body.session,
            &body.credential,
            body.name.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(passkey.to_wire())))
}

/// The signed-in user's passkeys, oldest first.
#[utoipa::path(get, path = "/v1/auth/passkeys", tag = "passkeys", security(("bearer" = [])),
    responses((status = 200, body = PasskeyList), (status = 401, body = Problem)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<PasskeyList>> {
    let passkeys = state.passkeys.list(&caller).await?;
    Ok(Json(PasskeyList {
        passkeys: passkeys.into_iter().map(ToWire::to_wire).collect(),
    }))
}

/// Delete one of the signed-in user's passkeys; nothing else ends.
#[utoipa::path(delete, path = "/v1/auth/passkeys/{id}", tag = "passkeys",
    security(("bearer" = [])), params(("id" = String, Path, description = "the credential id")),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, body = Problem),
        (status = 404, description = "not the caller's passkey", body = Problem),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.passkeys.delete(&meta, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start a passkey sign-in: with `email`, that user's passkeys (an address
/// without any gets an answer of the same shape); without, a discoverable
/// (usernameless) ceremony.
#[utoipa::path(post, path = "/v1/auth/passkeys/sign-in/start", tag = "passkeys",
    request_body = PasskeySignInStartBody,
    responses(
        (status = 200, body = PasskeyCeremonyResponse),
        (status = 422, description = "invalid email", body = Problem),
        (status = 429, description = "rate_limited", body = Problem),
        (status = 501, description = "not_supported_by_provider", body = Problem),
    ))]
pub async fn sign_in_start(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<PasskeySignInStartBody>,
) -> ApiResult<Json<PasskeyCeremonyResponse>> {
    Ok(ceremony(
        state.passkeys.begin_sign_in(body.email.as_deref()).await?,
    ))
}

/// Finish a passkey sign-in: the Session. A user-verified passkey needs no
/// second factor.
#[utoipa::path(post, path = "/v1/auth/passkeys/sign-in/complete", tag = "passkeys",
    request_body = PasskeySignInBody,
    responses(
        (status = 200, body = SessionResponse),
        (status = 401, description = "invalid_credentials: a bad or used session, an assertion that does not verify, an unknown credential, a counter that went backwards", body = Problem),
        (status = 422, description = "credential is not WebAuthn JSON", body = Problem),
        (status = 429, description = "rate_limited", body = Problem),
    ))]
pub async fn sign_in_complete(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<PasskeySignInBody>,
) -> ApiResult<Json<SessionResponse>> {
    Ok(Json(
        state
            .passkeys
            .finish_sign_in(&meta, &body.session, &body.credential, None)
            .await?
            .to_wire(),
    ))
}
