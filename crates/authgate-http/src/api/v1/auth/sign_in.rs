//! Handlers of the native authentication contract (`/v1/auth/*`). Each one
//! parses, calls [`authgate_service::SignInService`] or
//! [`authgate_service::SessionService`], and renders.

use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use crate::wire::ToWire;
use authgate_api_types::native::*;
use authgate_core::ChallengeKind;
use authgate_service::{Caller, RequestMeta, SignInResult};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

/// Create an account; a confirmation code is mailed.
#[utoipa::path(post, path = "/v1/auth/sign-up", tag = "auth", request_body = SignUpBody,
    responses(
        (status = 201, body = SignUpResponse),
        (status = 409, description = "username_exists", body = Problem),
        (status = 422, description = "invalid_request / invalid_password", body = Problem),
    ))]
pub async fn sign_up(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<SignUpBody>,
) -> ApiResult<(StatusCode, Json<SignUpResponse>)> {
    let outcome = state
        .sign_in
        .sign_up(&meta, &body.email, body.password, body.name, body.phone)
        .await?;
    Ok((StatusCode::CREATED, Json(outcome.to_wire())))
}

/// Confirm a sign-up with the mailed code.
#[utoipa::path(post, path = "/v1/auth/sign-up/confirm", tag = "auth", request_body = ConfirmSignUpBody,
    responses(
        (status = 200, body = ConfirmSignUpResponse),
        (status = 400, description = "code_mismatch / code_expired", body = Problem),
        (status = 409, description = "already_confirmed", body = Problem),
    ))]
pub async fn confirm_sign_up(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<ConfirmSignUpBody>,
) -> ApiResult<Json<ConfirmSignUpResponse>> {
    state
        .sign_in
        .confirm_sign_up(&meta, &body.email, &body.code)
        .await?;
    Ok(Json(ConfirmSignUpResponse {
        confirmed: true,
        can_sign_in: true,
    }))
}

/// Send a new confirmation code. The same answer whether or not the account exists.
#[utoipa::path(post, path = "/v1/auth/sign-up/resend-confirmation", tag = "auth", request_body = EmailBody,
    responses((status = 202, body = AcceptedResponse)))]
pub async fn resend_confirmation(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<EmailBody>,
) -> ApiResult<(StatusCode, Json<AcceptedResponse>)> {
    state
        .sign_in
        .resend_confirmation(&meta, &body.email)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(AcceptedResponse {
            message: "If an unconfirmed account exists for this email, a new code has been sent."
                .into(),
        }),
    ))
}

/// Sign in with email and password: a Session or a Challenge.
#[utoipa::path(post, path = "/v1/auth/sign-in", tag = "auth", request_body = SignInBody,
    responses(
        (status = 200, body = SignInResponse),
        (status = 401, description = "invalid_credentials (unknown user and wrong password alike)", body = Problem),
        (status = 403, description = "user_not_confirmed", body = Problem),
        (status = 429, description = "rate_limited", body = Problem),
    ))]
pub async fn sign_in(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<SignInBody>,
) -> ApiResult<Json<SignInResponse>> {
    Ok(Json(
        match state
            .sign_in
            .sign_in(&meta, &body.email, &body.password)
            .await?
        {
            SignInResult::Session(session) => SignInResponse::Session(session.to_wire()),
            SignInResult::Challenge(step) => SignInResponse::Challenge(step.to_wire()),
        },
    ))
}

fn sign_in_response(result: SignInResult) -> SignInResponse {
    match result {
        SignInResult::Session(session) => SignInResponse::Session(session.to_wire()),
        SignInResult::Challenge(step) => SignInResponse::Challenge(step.to_wire()),
    }
}

/// Answer `NEW_PASSWORD_REQUIRED`: a Session or the next Challenge.
#[utoipa::path(post, path = "/v1/auth/challenges/new-password", tag = "auth", request_body = NewPasswordChallengeBody,
    responses(
        (status = 200, body = SignInResponse),
        (status = 401, description = "invalid_session", body = Problem),
        (status = 422, description = "invalid_request (newPassword breaks the policy)", body = Problem),
    ))]
pub async fn new_password_challenge(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<NewPasswordChallengeBody>,
) -> ApiResult<Json<SignInResponse>> {
    let result = state
        .sign_in
        .respond_to_challenge(
            &meta,
            ChallengeKind::NewPasswordRequired,
            &body.email,
            body.session,
            body.new_password,
        )
        .await?;
    Ok(Json(sign_in_response(result)))
}

/// Answer `TOTP_REQUIRED` with a code from the authenticator app.
#[utoipa::path(post, path = "/v1/auth/challenges/totp", tag = "auth", request_body = CodeChallengeBody,
    responses(
        (status = 200, body = SignInResponse),
        (status = 400, description = "code_mismatch", body = Problem),
        (status = 401, description = "invalid_session", body = Problem),
    ))]
pub async fn totp_challenge(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<CodeChallengeBody>,
) -> ApiResult<Json<SignInResponse>> {
    let result = state
        .sign_in
        .respond_to_challenge(
            &meta,
            ChallengeKind::TotpRequired,
            &body.email,
            body.session,
            body.code,
        )
        .await?;
    Ok(Json(sign_in_response(result)))
}

/// Answer `MFA_SETUP_REQUIRED`: enrol the authenticator whose `secret` the
/// challenge carried by sending its first code.
#[utoipa::path(post, path = "/v1/auth/challenges/mfa-setup", tag = "auth", request_body = CodeChallengeBody,
    responses(
        (status = 200, body = SignInResponse),
        (status = 400, description = "code_mismatch", body = Problem),
        (status = 401, description = "invalid_session", body = Problem),
    ))]
pub async fn mfa_setup_challenge(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<CodeChallengeBody>,
) -> ApiResult<Json<SignInResponse>> {
    let result = state
        .sign_in
        .respond_to_challenge(
            &meta,
            ChallengeKind::MfaSetupRequired,
            &body.email,
            body.session,
            body.code,
        )
        .await?;
    Ok(Json(sign_in_response(result)))
}

/// Exchange a refresh token for a new Session; the refresh token rotates.
#[utoipa::path(post, path = "/v1/auth/token/refresh", tag = "auth", request_body = RefreshBody,
    responses(
        (status = 200, body = SessionResponse),
        (status = 401, description = "invalid_refresh_token / refresh_token_reused", body = Problem),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<RefreshBody>,
) -> ApiResult<Json<SessionResponse>> {
    Ok(Json(
        state
            .sessions
            .refresh(&meta, &body.refresh_token)
            .await?
            .to_wire(),
    ))
}

/// Sign out everywhere: revokes the refresh tokens and the access tokens issued so far.
#[utoipa::path(post, path = "/v1/auth/sign-out", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "signed out"),
        (status = 401, body = Problem),
    ))]
pub async fn sign_out(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
) -> ApiResult<StatusCode> {
    state.sessions.sign_out(&meta, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}
