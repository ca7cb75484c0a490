//! Handlers of the account endpoints: TOTP enrolment, password reset,
//! change and re-verification. Each one parses, calls the service, renders.

use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use authgate_api_types::native::*;
use authgate_service::{Caller, RequestMeta};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

/// Start enrolling a TOTP authenticator: a new secret, active once verified.
#[utoipa::path(post, path = "/v1/auth/mfa/totp", tag = "mfa", security(("bearer" = [])),
    responses(
        (status = 200, body = TotpEnrolmentResponse),
        (status = 401, body = Problem),
        (status = 403, description = "MFA is turned off; or an authenticator is active and the password was not re-verified (reverification_required)", body = Problem),
    ))]
pub async fn begin_totp(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
) -> ApiResult<Json<TotpEnrolmentResponse>> {
    let enrolment = state.mfa.begin_totp_enrolment(&meta, &caller).await?;
    Ok(Json(TotpEnrolmentResponse {
        secret: enrolment.secret.into_inner(),
        otpauth_uri: enrolment.otpauth_uri.into_inner(),
    }))
}

/// Finish the enrolment with a code from the authenticator; answers ten
/// one-time recovery codes. Replacing an active authenticator also needs a
/// recent password verification and `currentCode` (a code of the current
/// authenticator or a recovery code); the user's other sessions end.
#[utoipa::path(post, path = "/v1/auth/mfa/totp/verify", tag = "mfa", security(("bearer" = [])),
    request_body = TotpVerifyBody,
    responses(
        (status = 429, description = "too_many_failed_attempts: a lockout after failed attempts; try again after Retry-After seconds", body = Problem),
        (status = 200, body = MfaEnabledResponse),
        (status = 400, description = "code_mismatch", body = Problem),
        (status = 401, body = Problem),
        (status = 403, description = "reverification_required", body = Problem),
        (status = 422, description = "currentCode missing", body = Problem),
    ))]
pub async fn verify_totp(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(body): ApiJson<TotpVerifyBody>,
) -> ApiResult<Json<MfaEnabledResponse>> {
    let codes = state
        .mfa
        .finish_totp_enrolment(&meta, &caller, &body.code, body.current_code.as_ref())
        .await?;
    Ok(Json(MfaEnabledResponse {
        mfa_enabled: true,
        recovery_codes: shown_once(codes),
    }))
}

/// A new set of ten recovery codes (the old ones stop working); needs the
/// password.
#[utoipa::path(post, path = "/v1/auth/mfa/recovery-codes", tag = "mfa", security(("bearer" = [])),
    request_body = PasswordBody,
    responses(
        (status = 429, description = "too_many_failed_attempts: a lockout after failed attempts; try again after Retry-After seconds", body = Problem),
        (status = 201, body = RecoveryCodesResponse),
        (status = 401, description = "invalid_credentials", body = Problem),
        (status = 409, description = "no authenticator is active", body = Problem),
    ))]
pub async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(body): ApiJson<PasswordBody>,
) -> ApiResult<(StatusCode, Json<RecoveryCodesResponse>)> {
    let codes = state
        .mfa
        .regenerate_recovery_codes(&meta, &caller, &body.password)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(RecoveryCodesResponse {
            recovery_codes: shown_once(codes),
        }),
    ))
}

/// How many unused recovery codes the signed-in user has.
#[utoipa::path(get, path = "/v1/auth/mfa/recovery-codes", tag = "mfa", security(("bearer" = [])),
    responses((status = 200, body = RecoveryCodesLeftResponse), (status = 401, body = Problem)))]
pub async fn recovery_codes_left(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<RecoveryCodesLeftResponse>> {
    Ok(Json(RecoveryCodesLeftResponse {
        remaining: state.mfa.recovery_codes_left(&caller).await?,
    }))
}

/// Ask for a password-reset code. The same answer whether or not the account exists.
#[utoipa::path(post, path = "/v1/auth/password-resets", tag = "password", request_body = PasswordResetRequestBody,
    responses((status = 202, body = AcceptedResponse)))]
pub async fn request_password_reset(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<PasswordResetRequestBody>,
) -> ApiResult<(StatusCode, Json<AcceptedResponse>)> {
    state
        .account
        .request_password_reset(&meta, &body.email, body.recovery_code.as_ref())
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(AcceptedResponse {
            message: "If an account exists for this email, a reset code has been sent.".into(),
        }),
    ))
}

/// Mail the sign-in identifier of the account with this phone number to the
/// address on file. The same answer whether or not anything matched.
#[utoipa::path(post, path = "/v1/auth/account-recovery/identifier", tag = "password",
    request_body = IdentifierRecoveryBody,
    responses(
        (status = 202, body = AcceptedResponse),
        (status = 422, description = "invalid_request (phone)", body = Problem),
    ))]
pub async fn recover_identifier(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<IdentifierRecoveryBody>,
) -> ApiResult<(StatusCode, Json<AcceptedResponse>)> {
    state.account.recover_identifier(&meta, &body.phone).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(AcceptedResponse {
            message:
                "If an account has this phone number, its sign-in identifier has been mailed to it."
                    .into(),
        }),
    ))
}

/// Set a new password with the mailed code; every session of the user ends.
#[utoipa::path(post, path = "/v1/auth/password-resets/confirm", tag = "password",
    request_body = PasswordResetConfirmBody,
    responses(
        (status = 200, body = PasswordResetResponse),
        (status = 400, description = "code_mismatch / code_expired", body = Problem),
        (status = 422, description = "invalid_request (newPassword breaks the policy)", body = Problem),
    ))]
pub async fn confirm_password_reset(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<PasswordResetConfirmBody>,
) -> ApiResult<Json<PasswordResetResponse>> {
    state
        .account
        .confirm_password_reset(&meta, &body.email, &body.code, &body.new_password)
        .await?;
    Ok(Json(PasswordResetResponse {
        password_reset: true,
    }))
}

/// Change the password; the user's other sessions end.
#[utoipa::path(patch, path = "/v1/auth/password", tag = "password", security(("bearer" = [])),
    request_body = PasswordChangeBody,
    responses(
        (status = 429, description = "too_many_failed_attempts: a lockout after failed attempts; try again after Retry-After seconds", body = Problem),
        (status = 204, description = "changed"),
        (status = 401, description = "invalid_credentials (wrong current password) or a bad token", body = Problem),
        (status = 422, description = "invalid_request (newPassword breaks the policy)", body = Problem),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(body): ApiJson<PasswordChangeBody>,
) -> ApiResult<StatusCode> {
    state
        .account
        .change_password(&meta, &caller, &body.current_password, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Re-enter the password before a sensitive operation.
#[utoipa::path(post, path = "/v1/auth/password-verifications", tag = "password",
    security(("bearer" = [])), request_body = PasswordBody,
    responses(
        (status = 429, description = "too_many_failed_attempts: a lockout after failed attempts; try again after Retry-After seconds", body = Problem),
        (status = 200, body = PasswordVerifiedResponse),
        (status = 401, description = "invalid_credentials", body = Problem),
    ))]
pub async fn verify_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(body): ApiJson<PasswordBody>,
) -> ApiResult<Json<PasswordVerifiedResponse>> {
    let until = state
        .account
        .verify_password(&meta, &caller, &body.password)
        .await?;
    Ok(Json(PasswordVerifiedResponse {
        verified: true,
        verified_until: authgate_core::rfc3339(until / 1000),
    }))
}
