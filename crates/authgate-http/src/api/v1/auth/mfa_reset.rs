//! Handlers of lost-authenticator recovery (`/v1/auth/mfa-reset/*`).

use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use authgate_api_types::native::*;
use authgate_core::AuthError;
use authgate_service::mfa_reset::MfaRecovery;
use authgate_service::{MfaService, RequestMeta};
use axum::Json;
use axum::extract::State;

/// Start replacing a lost authenticator: a code is mailed. The same answer
/// for unknown accounts.
#[utoipa::path(post, path = "/v1/auth/mfa-reset/start", tag = "mfa", request_body = EmailBody,
    responses((status = 200, body = MfaResetStartResponse)))]
pub async fn start(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<EmailBody>,
) -> ApiResult<Json<MfaResetStartResponse>> {
    let session = state.mfa.mfa_reset_start(&meta, &body.email).await?;
    Ok(Json(MfaResetStartResponse {
        session: session.into_inner(),
    }))
}

/// Prove the mailed code and the password: a new TOTP secret and a
/// recovery-only token.
#[utoipa::path(post, path = "/v1/auth/mfa-reset/verify", tag = "mfa", request_body = MfaResetVerifyBody,
    responses(
        (status = 200, body = MfaResetVerifyResponse),
        (status = 400, description = "code_mismatch", body = Problem),
        (status = 401, description = "invalid_session / invalid_credentials", body = Problem),
        (status = 403, description = "recovery_cooldown: too soon after a mailed password reset, without a recovery code", body = Problem),
    ))]
pub async fn verify(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<MfaResetVerifyBody>,
) -> ApiResult<Json<MfaResetVerifyResponse>> {
    let recovery = prove_code_and_password(&body, &state.mfa, &meta).await?;
    Ok(Json(MfaResetVerifyResponse {
        secret: recovery.enrolment.secret.into_inner(),
        otpauth_uri: recovery.enrolment.otpauth_uri.into_inner(),
        access_token: recovery.recovery_token.into_inner(),
    }))
}

/// Prove the new authenticator: it replaces the old one, the recovery token
/// is spent and every session ends.
#[utoipa::path(post, path = "/v1/auth/mfa-reset/confirm", tag = "mfa", request_body = MfaResetConfirmBody,
    responses(
        (status = 200, body = MfaResetConfirmResponse),
        (status = 400, description = "code_mismatch", body = Problem),
        (status = 401, description = "invalid_token (recovery token)", body = Problem),
    ))]
pub async fn confirm(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<MfaResetConfirmBody>,
) -> ApiResult<Json<MfaResetConfirmResponse>> {
    let codes = state
        .mfa
        .mfa_reset_confirm(&meta, &body.access_token, &body.code)
        .await?;
    Ok(Json(MfaResetConfirmResponse {
        mfa_reset: true,
        recovery_codes: authgate_api_types::native::shown_once(codes),
    }))
}

/// Prove a verify body's code and password: the one call behind both
/// contracts' verify step (the CognitoApi profile sends the same body).
pub(crate) async fn prove_code_and_password(
    body: &MfaResetVerifyBody,
    mfa: &MfaService,
    meta: &RequestMeta,
) -> Result<MfaRecovery, AuthError> {
    mfa.mfa_reset_verify(
        meta,
        &body.email,
        &body.session,
        &body.code,
        &body.password,
        body.recovery_code.as_ref(),
    )
    .await
}
