//! Handlers of the CognitoApi profile. Each one parses the original's
//! snake_case body, calls the same `authgate_service` methods as
//! the native contract, and renders the original's answer.

use crate::compat::{CompatError, CompatJson, CompatMessage};
use crate::extract::bearer_from_headers;
use crate::state::AppState;
use authgate_api_types::native::{EmailBody, MfaResetVerifyBody as NativeMfaResetVerifyBody};
use authgate_api_types::profile::*;
use authgate_core::policy::normalize_email;
use authgate_core::{AuthError, ChallengeKind, ChallengeParameters, Secret};
use authgate_service::admin::ManagedUser;
use authgate_service::{Caller, Challenge, Principal, RequestMeta, SessionView, SignInResult};
use axum::Json;
use axum::extract::{FromRequestParts, Path};
use axum::http::HeaderMap;
use axum::http::request::Parts;

type CompatResult<T> = Result<Json<T>, CompatError>;

/// What every handler of the profile works with: the state and the request
/// metadata that audit events carry.
pub struct Cx {
    state: AppState,
    meta: RequestMeta,
}

impl std::ops::Deref for Cx {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.state
    }
}

impl FromRequestParts<AppState> for Cx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(meta) = RequestMeta::from_request_parts(parts, state).await;
        Ok(Cx {
            state: state.clone(),
            meta,
        })
    }
}

/// The account behind the `{user_id}` of a path, if its email is `email`.
/// Unknown ids and another account's id answer the same 404.
async fn matching_user(cx: &Cx, user_id: &str, email: &str) -> Result<ManagedUser, CompatError> {
    let email = normalize_email("email", email)?;
    match cx.admin_users.user_by_sub(user_id).await {
        Ok(user) if user.account.email.eq_ignore_ascii_case(&email) => Ok(user),
        Ok(_) | Err(AuthError::NotFound(_)) => Err(AuthError::NotFound("user".into()).into()),
        Err(err) => Err(err.into()),
    }
}

/// The caller behind an `Authorization: Bearer` access token.
async fn bearer_caller(cx: &Cx, headers: &HeaderMap) -> Result<Caller, CompatError> {
    let token = bearer_from_headers(headers).ok_or(AuthError::MissingToken)?;
    Ok(cx.authn.user(token).await?)
}

/// The caller behind an access token sent in a body.
async fn body_caller(cx: &Cx, token: &Secret) -> Result<Caller, CompatError> {
    Ok(cx.authn.user(token.expose()).await?)
}

/// End a session the profile does not hand out (its tokens never leave authgate).
async fn end_session(cx: &Cx, session: &SessionView) -> Result<(), CompatError> {
    let caller = body_caller(cx, &session.tokens.access_token).await?;
    cx.sessions.sign_out(&cx.meta, &caller).await?;
    Ok(())
}

/// The challenge `kind` the flow expects next; anything else is a 403 with
/// `message` (a session, if one came, is ended first).
async fn expect_challenge(
    cx: &Cx,
    result: SignInResult,
    kind: ChallengeKind,
    message: &str,
) -> Result<Challenge, CompatError> {
    match result {
        SignInResult::Challenge(step) if step.kind == kind => Ok(step),
        SignInResult::Session(session) => {
            end_session(cx, &session).await?;
            Err(AuthError::Forbidden(message.into()).into())
        }
        SignInResult::Challenge(_) => Err(AuthError::Forbidden(message.into()).into()),
    }
}

fn expect_session(result: SignInResult, message: &str) -> Result<SessionView, CompatError> {
    match result {
        SignInResult::Session(session) => Ok(session),
        SignInResult::Challenge(_) => Err(AuthError::Forbidden(message.into()).into()),
    }
}

/// `{email, status}` for an address that may or may not have an account.
fn email_status(body: EmailBody, status: &'static str) -> Json<EmailStatusResponse> {
    Json(EmailStatusResponse {
        email: body.email,
        status,
    })
}

fn tokens(session: SessionView, email: Option<String>, spent: Option<&Secret>) -> TokensResponse {
    TokensResponse {
        email,
        id_token: session.tokens.id_token.into_inner(),
        access_token: session.tokens.access_token.into_inner(),
        refresh_token: session
            .tokens
            .refresh_token
            .or_else(|| spent.cloned())
            .map(Secret::into_inner)
            .unwrap_or_default(),
        expires_in: session.tokens.expires_in,
    }
}

/// Create a user; a temporary password is mailed to the address. Open, as in
/// the original (rate limited).
#[utoipa::path(post, path = "/v1/users", tag = "cognitoapi", request_body = CreateUserBody,
    responses((status = 200, body = UserStatusResponse), (status = 409, description = "an account with this email exists (only with AUTHGATE_SIGN_UP_REVEALS_EXISTING=true; otherwise the same answer as a new account)", body = CompatMessage), (status = 422, description = "invalid email or phone", body = CompatMessage)))]
pub async fn create_user(
    cx: Cx,
    CompatJson(body): CompatJson<CreateUserBody>,
) -> CompatResult<UserStatusResponse> {
    let user_id = cx
        .admin_users
        .open_create_user(
            &cx.meta,
            &body.email,
            body.full_name,
            body.mobile_phone_number,
        )
        .await?;
    Ok(Json(UserStatusResponse {
        email: normalize_email("email", &body.email)?,
        user_id,
        status: "CREATED",
    }))
}

/// Delete a user: the user's own access token, or a platform admin's.
#[utoipa::path(delete, path = "/v1/users/{user_id}", tag = "cognitoapi", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "the user's sub")),
    responses((status = 200, body = UserStatusResponse), (status = 401, body = CompatMessage), (status = 403, description = "another user's id, not an admin", body = CompatMessage), (status = 404, body = CompatMessage)))]
pub async fn delete_user(
    cx: Cx,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> CompatResult<UserStatusResponse> {
    let caller = bearer_caller(&cx, &headers).await?;
    if caller.claims.sub == user_id {
        let target = cx.admin_users.user_by_sub(&user_id).await?;
        cx.admin_users.delete_own_account(&cx.meta, &caller).await?;
        return Ok(Json(UserStatusResponse {
            email: target.account.email,
            user_id,
            status: "DELETED",
        }));
    }
    let admin = cx
        .subjects
        .require_admin(&Principal::User(Box::new(caller)))
        .await?;
    let target = cx.admin_users.user_by_sub(&user_id).await?;
    cx.admin_users
        .admin_delete_user(&cx.meta, &admin, target.app_user.id)
        .await?;
    Ok(Json(UserStatusResponse {
        email: target.account.email,
        user_id,
        status: "DELETED",
    }))
}

/// Confirm a new user: the mailed temporary password, a new password; answers
/// the authenticator to enrol.
#[utoipa::path(post, path = "/v1/users/{user_id}/confirm", tag = "cognitoapi", request_body = ConfirmUserBody,
    params(("user_id" = String, Path, description = "the user's sub")),
    responses((status = 200, body = ConfirmUserResponse), (status = 401, description = "wrong temporary password", body = CompatMessage), (status = 404, body = CompatMessage), (status = 422, description = "the new password breaks the policy", body = CompatMessage)))]
pub async fn confirm_user(
    cx: Cx,
    Path(user_id): Path<String>,
    CompatJson(body): CompatJson<ConfirmUserBody>,
) -> CompatResult<ConfirmUserResponse> {
    let user = matching_user(&cx, &user_id, &body.email).await?;
    let signed_in = cx
        .sign_in
        .sign_in(&cx.meta, &body.email, &body.temporary_password)
        .await?;
    let step = expect_challenge(
        &cx,
        signed_in,
        ChallengeKind::NewPasswordRequired,
        "this user is already confirmed: sign in with v1/login",
    )
    .await?;
    let answered = cx
        .sign_in
        .respond_to_challenge(
            &cx.meta,
            ChallengeKind::NewPasswordRequired,
            &body.email,
            step.session,
            body.new_password,
        )
        .await?;
    let setup = expect_challenge(
        &cx,
        answered,
        ChallengeKind::MfaSetupRequired,
        "the password is set, but this server does not require MFA (AUTHGATE_MFA=required)",
    )
    .await?;
    let ChallengeParameters::TotpSetup(enrolment) = setup.parameters else {
        return Err(
            AuthError::Internal("MFA_SETUP_REQUIRED without an authenticator".into()).into(),
        );
    };
    Ok(Json(ConfirmUserResponse {
        email: user.account.email,
        user_id,
        qr_code_secret_url: crate::qr::data_url(enrolment.otpauth_uri.expose())?,
        qr_code_secret: enrolment.secret.into_inner(),
        otpauth_uri: enrolment.otpauth_uri.into_inner(),
        mfa_session: setup.session.into_inner(),
        status: "PENDING_MFA",
    }))
}

/// Enrol the authenticator with its first code. The session this opens is
/// ended at once: the client signs in with v1/login. Without `mfa_session`
/// (older clients), the user's pending enrolment is answered.
#[utoipa::path(post, path = "/v1/users/{user_id}/confirm-mfa", tag = "cognitoapi", request_body = ConfirmMfaBody,
    params(("user_id" = String, Path, description = "the user's sub")),
    responses((status = 200, body = ConfirmMfaResponse), (status = 400, description = "wrong code", body = CompatMessage), (status = 401, description = "invalid mfa_session", body = CompatMessage), (status = 404, body = CompatMessage)))]
pub async fn confirm_mfa(
    cx: Cx,
    Path(user_id): Path<String>,
    CompatJson(body): CompatJson<ConfirmMfaBody>,
) -> CompatResult<ConfirmMfaResponse> {
    let user = matching_user(&cx, &user_id, &body.email).await?;
    let kind = ChallengeKind::MfaSetupRequired;
    let answered = match body.mfa_session.filter(|s| !s.is_empty()) {
        Some(session) => {
            cx.sign_in
                .respond_to_challenge(&cx.meta, kind, &body.email, session, body.otp)
                .await?
        }
        // An older client: the user's pending enrolment, found by the address.
        None => {
            cx.sign_in
                .respond_to_pending_challenge(&cx.meta, kind, &body.email, body.otp)
                .await?
        }
    };
    let session = expect_session(answered, "another step is required: sign in with v1/login")?;
    end_session(&cx, &session).await?;
    Ok(Json(ConfirmMfaResponse {
        email: user.account.email,
        user_id,
        mfa_status: "CONFIRMED",
        recovery_codes: authgate_api_types::native::shown_once(session.recovery_codes),
    }))
}

/// Send a new sign-up confirmation code. The same answer for every address.
#[utoipa::path(post, path = "/v1/resend-confirmation-code", tag = "cognitoapi", request_body = EmailBody,
    responses((status = 200, body = EmailStatusResponse)))]
pub async fn resend_confirmation_code(
    cx: Cx,
    CompatJson(body): CompatJson<EmailBody>,
) -> CompatResult<EmailStatusResponse> {
    cx.sign_in
        .resend_confirmation(&cx.meta, &body.email)
        .await?;
    Ok(email_status(body, "CONFIRMATION_CODE_SENT"))
}

/// Mail a password-reset code. The same answer for every address.
#[utoipa::path(post, path = "/v1/forgot-password", tag = "cognitoapi", request_body = EmailBody,
    responses((status = 200, body = EmailStatusResponse)))]
pub async fn forgot_password(
    cx: Cx,
    CompatJson(body): CompatJson<EmailBody>,
) -> CompatResult<EmailStatusResponse> {
    cx.account
        .request_password_reset(&cx.meta, &body.email, None)
        .await?;
    Ok(email_status(body, "PASSWORD_FORGOT_CONFIRMATION_SENT"))
}

/// Set a new password with the mailed code; every session ends.
#[utoipa::path(post, path = "/v1/users/{user_id}/confirm-password", tag = "cognitoapi", request_body = ConfirmPasswordBody,
    params(("user_id" = String, Path, description = "the user's sub")),
    responses((status = 200, body = UserStatusResponse), (status = 400, description = "wrong or expired code", body = CompatMessage), (status = 404, body = CompatMessage)))]
pub async fn confirm_password(
    cx: Cx,
    Path(user_id): Path<String>,
    CompatJson(body): CompatJson<ConfirmPasswordBody>,
) -> CompatResult<UserStatusResponse> {
    let user = matching_user(&cx, &user_id, &body.email).await?;
    cx.account
        .confirm_password_reset(
            &cx.meta,
            &body.email,
            &body.verification_code,
            &body.new_password,
        )
        .await?;
    Ok(Json(UserStatusResponse {
        email: user.account.email,
        user_id,
        status: "NEW_PASSWORD_SET_SUCCESSFULLY",
    }))
}

/// Force a password reset (platform admins only): sessions end, a code is mailed.
#[utoipa::path(post, path = "/v1/users/{user_id}/reset-password", tag = "cognitoapi", security(("bearer" = [])),
    request_body = EmailBody,
    params(("user_id" = String, Path, description = "the user's sub")),
    responses((status = 200, body = UserStatusResponse), (status = 401, body = CompatMessage), (status = 403, description = "not a platform admin", body = CompatMessage), (status = 404, body = CompatMessage)))]
pub async fn reset_password(
    cx: Cx,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    CompatJson(body): CompatJson<EmailBody>,
) -> CompatResult<UserStatusResponse> {
    let caller = bearer_caller(&cx, &headers).await?;
    let admin = cx
        .subjects
        .require_admin(&Principal::User(Box::new(caller.clone())))
        .await?;
    let user = matching_user(&cx, &user_id, &body.email).await?;
    cx.admin_users
        .admin_reset_password(&cx.meta, &admin, user.app_user.id)
        .await?;
    Ok(Json(UserStatusResponse {
        email: user.account.email,
        user_id,
        status: "PASSWORD_RESET_REQUIRED",
    }))
}

/// Change the password of the signed-in user (the access token in the body).
#[utoipa::path(post, path = "/v1/users/{user_id}/change-password", tag = "cognitoapi", request_body = ChangePasswordBody,
    params(("user_id" = String, Path, description = "the user's sub")),
    responses((status = 200, body = UserStatusResponse), (status = 401, description = "wrong old password or invalid token", body = CompatMessage), (status = 403, description = "the token is another user's", body = CompatMessage)))]
pub async fn change_password(
    cx: Cx,
    Path(user_id): Path<String>,
    CompatJson(body): CompatJson<ChangePasswordBody>,
) -> CompatResult<UserStatusResponse> {
    let caller = body_caller(&cx, &body.access_token).await?;
    if caller.claims.sub != user_id {
        return Err(AuthError::Forbidden("the access token is not this user's".into()).into());
    }
    cx.account
        .change_password(&cx.meta, &caller, &body.old_password, &body.new_password)
        .await?;
    Ok(Json(UserStatusResponse {
        email: body.email,
        user_id,
        status: "PASSWORD_CHANGED",
    }))
}

/// Start replacing a lost authenticator; a code is mailed. The same answer
/// for every address.
#[utoipa::path(post, path = "/v1/mfa-reset/start", tag = "cognitoapi", request_body = EmailBody,
    responses((status = 200, body = MfaResetStartResponse)))]
pub async fn mfa_reset_start(
    cx: Cx,
    CompatJson(body): CompatJson<EmailBody>,
) -> CompatResult<MfaResetStartResponse> {
    let session = cx.mfa.mfa_reset_start(&cx.meta, &body.email).await?;
    Ok(Json(MfaResetStartResponse {
        status: "MFA_RESET_CODE_SENT",
        session: session.into_inner(),
    }))
}

/// Prove the mailed code and the password: a brand-new authenticator secret.
#[utoipa::path(post, path = "/v1/mfa-reset/verify", tag = "cognitoapi", request_body = NativeMfaResetVerifyBody,
    responses((status = 200, body = MfaResetVerifyResponse), (status = 400, description = "wrong code", body = CompatMessage), (status = 401, description = "invalid session or password", body = CompatMessage)))]
pub async fn mfa_reset_verify(
    cx: Cx,
    CompatJson(body): CompatJson<NativeMfaResetVerifyBody>,
) -> CompatResult<MfaResetVerifyResponse> {
    let recovery =
        crate::api::v1::auth::mfa_reset::prove_code_and_password(&body, &cx.mfa, &cx.meta).await?;
    Ok(Json(MfaResetVerifyResponse {
        qr_code_secret_url: crate::qr::data_url(recovery.enrolment.otpauth_uri.expose())?,
        qr_code_secret: recovery.enrolment.secret.into_inner(),
        otpauth_uri: recovery.enrolment.otpauth_uri.into_inner(),
        access_token: recovery.recovery_token.into_inner(),
        status: "NEW_TOTP_ISSUED",
    }))
}

/// Prove the new authenticator: it replaces the old one; every session ends.
#[utoipa::path(post, path = "/v1/mfa-reset/confirm", tag = "cognitoapi", request_body = MfaResetConfirmBody,
    responses((status = 200, body = MfaResetCompleteResponse), (status = 400, description = "wrong code", body = CompatMessage), (status = 401, description = "invalid recovery token", body = CompatMessage)))]
pub async fn mfa_reset_confirm(
    cx: Cx,
    CompatJson(body): CompatJson<MfaResetConfirmBody>,
) -> CompatResult<MfaResetCompleteResponse> {
    let codes = cx
        .mfa
        .mfa_reset_confirm(&cx.meta, &body.access_token, &body.otp)
        .await?;
    Ok(Json(MfaResetCompleteResponse {
        status: "MFA_RESET_COMPLETE",
        recovery_codes: authgate_api_types::native::shown_once(codes),
    }))
}

/// First login step: email and password; answers the TOTP challenge.
#[utoipa::path(post, path = "/v1/login", tag = "cognitoapi", request_body = LoginBody,
    responses((status = 200, body = LoginResponse), (status = 401, description = "wrong email or password", body = CompatMessage), (status = 403, description = "the user must confirm (or confirm MFA) first", body = CompatMessage)))]
pub async fn login(cx: Cx, CompatJson(body): CompatJson<LoginBody>) -> CompatResult<LoginResponse> {
    let result = cx
        .sign_in
        .sign_in(&cx.meta, &body.email, &body.password)
        .await?;
    let message = match &result {
        SignInResult::Challenge(step) if step.kind == ChallengeKind::NewPasswordRequired => {
            "this user is not confirmed yet: confirm with the temporary password (v1/users/{user_id}/confirm)"
        }
        SignInResult::Challenge(step) if step.kind == ChallengeKind::MfaSetupRequired => {
            "MFA is not confirmed for this user: confirm the user and the MFA first (v1/users/{user_id}/confirm, then confirm-mfa)"
        }
        _ => {
            "this user has no authenticator and this server does not require MFA (AUTHGATE_MFA=required)"
        }
    };
    let step = expect_challenge(&cx, result, ChallengeKind::TotpRequired, message).await?;
    Ok(Json(LoginResponse {
        email: body.email,
        verification_session: step.session.into_inner(),
        verification_type: "SOFTWARE_TOKEN_MFA",
    }))
}

/// Second login step: the TOTP code; answers the tokens.
#[utoipa::path(post, path = "/v1/mfa-verify", tag = "cognitoapi", request_body = MfaVerifyBody,
    responses((status = 200, body = TokensResponse), (status = 400, description = "wrong code or verification_type", body = CompatMessage), (status = 401, description = "invalid verification_session", body = CompatMessage)))]
pub async fn mfa_verify(
    cx: Cx,
    CompatJson(body): CompatJson<MfaVerifyBody>,
) -> CompatResult<TokensResponse> {
    if body.verification_type != "SOFTWARE_TOKEN_MFA" {
        return Err(AuthError::InvalidRequest {
            field: Some("verification_type".into()),
            message: "verification_type must be SOFTWARE_TOKEN_MFA".into(),
        }
        .into());
    }
    let answered = cx
        .sign_in
        .respond_to_challenge(
            &cx.meta,
            ChallengeKind::TotpRequired,
            &body.email,
            body.verification_session,
            body.otp_code,
        )
        .await?;
    let session = expect_session(answered, "another step is required: sign in again")?;
    Ok(Json(tokens(session, None, None)))
}

/// New tokens for a refresh token.
#[utoipa::path(post, path = "/v1/refresh-token", tag = "cognitoapi", request_body = RefreshTokenBody,
    responses((status = 200, body = TokensResponse), (status = 401, description = "invalid or reused refresh token", body = CompatMessage)))]
pub async fn refresh_token(
    cx: Cx,
    CompatJson(body): CompatJson<RefreshTokenBody>,
) -> CompatResult<TokensResponse> {
    let session = cx.sessions.refresh(&cx.meta, &body.refresh_token).await?;
    let email = session.user.email.clone().unwrap_or(body.email);
    Ok(Json(tokens(
        session,
        Some(email),
        Some(&body.refresh_token),
    )))
}

/// The signed-in user. The bearer token may be the id token (as the original
/// client sends it) or the access token; this is the one route of authgate
/// that accepts an id token.
#[utoipa::path(get, path = "/v1/userinfo", tag = "cognitoapi", security(("bearer" = [])),
    responses((status = 200, body = UserInfoResponse), (status = 401, body = CompatMessage)))]
pub async fn userinfo(cx: Cx, headers: HeaderMap) -> CompatResult<UserInfoResponse> {
    let token = bearer_from_headers(&headers).ok_or(AuthError::MissingToken)?;
    let caller = cx.authn.user_by_any_token(token).await?;
    let account = cx.account.caller_account(&caller).await?;
    Ok(Json(UserInfoResponse {
        name: account.name,
        user_id: account.sub,
        email: account.email,
        phone_number: account.phone,
        groups: caller.claims.groups,
    }))
}

/// Sign out everywhere (the access token in the body).
#[utoipa::path(post, path = "/v1/logout", tag = "cognitoapi", request_body = LogoutBody,
    responses((status = 200, body = LogoutResponse), (status = 401, body = CompatMessage)))]
pub async fn logout(
    cx: Cx,
    CompatJson(body): CompatJson<LogoutBody>,
) -> CompatResult<LogoutResponse> {
    let caller = body_caller(&cx, &body.access_token).await?;
    cx.sessions.sign_out(&cx.meta, &caller).await?;
    Ok(Json(LogoutResponse {
        user_status: "logout",
    }))
}

/// The caller of a signed-in passkey route: `Authorization: Bearer …`, or
/// `access_token` in the body.
async fn passkey_caller(
    cx: &Cx,
    headers: &HeaderMap,
    body_token: Option<&Secret>,
) -> Result<Caller, CompatError> {
    match body_token.filter(|t| !t.is_empty()) {
        Some(token) => body_caller(cx, token).await,
        None => bearer_caller(cx, headers).await,
    }
}

/// The optional `{access_token}` body of the signed-in passkey routes: an
/// empty body or `null` is none; anything else must be a JSON object.
fn token_body(body: &[u8]) -> Result<PasskeyTokenBody, CompatError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(PasskeyTokenBody::default());
    }
    serde_json::from_slice::<Option<PasskeyTokenBody>>(body)
        .map(Option::unwrap_or_default)
        .map_err(|e| AuthError::MalformedJson(e.to_string()).into())
}

/// Start registering a passkey: creation options for
/// `PublicKeyCredential.parseCreationOptionsFromJSON()`.
#[utoipa::path(post, path = "/v1/passkeys/register/start", tag = "cognitoapi",
    security(("bearer" = [])), request_body = Option<PasskeyTokenBody>,
    responses((status = 200, body = PasskeyRegisterStartResponse), (status = 401, body = CompatMessage),
        (status = 501, description = "the provider has no passkeys here", body = CompatMessage)))]
pub async fn passkey_register_start(
    cx: Cx,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> CompatResult<PasskeyRegisterStartResponse> {
    let body = token_body(&body)?;
    let caller = passkey_caller(&cx, &headers, body.access_token.as_ref()).await?;
    let ceremony = cx.passkeys.begin_registration(&cx.meta, &caller).await?;
    Ok(Json(PasskeyRegisterStartResponse {
        session: ceremony.session.into_inner(),
        credential_creation_options: ceremony.options,
    }))
}

/// Finish the registration with what `toJSON()` gives for the new credential.
#[utoipa::path(post, path = "/v1/passkeys/register/complete", tag = "cognitoapi",
    security(("bearer" = [])), request_body = PasskeyRegisterCompleteBody,
    responses((status = 200, body = PasskeyStatusResponse), (status = 401, body = CompatMessage),
        (status = 422, description = "no user verification, or a credential registered already", body = CompatMessage)))]
pub async fn passkey_register_complete(
    cx: Cx,
    headers: HeaderMap,
    CompatJson(body): CompatJson<PasskeyRegisterCompleteBody>,
) -> CompatResult<PasskeyStatusResponse> {
    let caller = passkey_caller(&cx, &headers, body.access_token.as_ref()).await?;
    let passkey = cx
        .passkeys
        .finish_registration(
            &cx.meta,
            &caller,
            &body.session,
            &body.credential,
            body.friendly_name.as_deref(),
        )
        .await?;
    Ok(Json(PasskeyStatusResponse {
        credential_id: passkey.id,
        status: "PASSKEY_REGISTERED",
    }))
}

/// The caller's passkeys.
#[utoipa::path(post, path = "/v1/passkeys/list", tag = "cognitoapi",
    security(("bearer" = [])), request_body = Option<PasskeyTokenBody>,
    responses((status = 200, body = PasskeyListResponse), (status = 401, body = CompatMessage)))]
pub async fn passkey_list(
    cx: Cx,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> CompatResult<PasskeyListResponse> {
    let body = token_body(&body)?;
    let caller = passkey_caller(&cx, &headers, body.access_token.as_ref()).await?;
    let passkeys = cx.passkeys.list(&caller).await?;
    Ok(Json(PasskeyListResponse {
        passkeys: passkeys
            .into_iter()
            .map(|p| PasskeyItem {
                credential_id: p.id,
                friendly_name: p.name,
                created_at: authgate_core::rfc3339(p.created_at / 1000),
                last_used_at: p.last_used_at.map(|at| authgate_core::rfc3339(at / 1000)),
            })
            .collect(),
    }))
}

/// Delete one of the caller's passkeys.
#[utoipa::path(post, path = "/v1/passkeys/delete", tag = "cognitoapi",
    security(("bearer" = [])), request_body = PasskeyDeleteBody,
    responses((status = 200, body = PasskeyStatusResponse), (status = 401, body = CompatMessage),
        (status = 404, description = "not the caller's passkey", body = CompatMessage)))]
pub async fn passkey_delete(
    cx: Cx,
    headers: HeaderMap,
    CompatJson(body): CompatJson<PasskeyDeleteBody>,
) -> CompatResult<PasskeyStatusResponse> {
    let caller = passkey_caller(&cx, &headers, body.access_token.as_ref()).await?;
    cx.passkeys
        .delete(&cx.meta, &caller, &body.credential_id)
        .await?;
    Ok(Json(PasskeyStatusResponse {
        credential_id: body.credential_id,
        status: "PASSKEY_DELETED",
    }))
}

/// Start a passkey sign-in for an email (the same shape for addresses
/// without an account or passkey).
#[utoipa::path(post, path = "/v1/passkeys/login/start", tag = "cognitoapi",
    request_body = PasskeyLoginStartBody,
    responses((status = 200, body = PasskeyLoginStartResponse), (status = 422, body = CompatMessage),
        (status = 501, description = "the provider has no passkeys here", body = CompatMessage)))]
pub async fn passkey_login_start(
    cx: Cx,
    CompatJson(body): CompatJson<PasskeyLoginStartBody>,
) -> CompatResult<PasskeyLoginStartResponse> {
    let email = normalize_email("email", &body.email)?;
    let ceremony = cx.passkeys.begin_sign_in(Some(&email)).await?;
    Ok(Json(PasskeyLoginStartResponse {
        email,
        session: ceremony.session.into_inner(),
        credential_request_options: ceremony.options,
    }))
}

/// Finish a passkey sign-in: the tokens (no MFA step follows a
/// user-verified passkey).
#[utoipa::path(post, path = "/v1/passkeys/login/complete", tag = "cognitoapi",
    request_body = PasskeyLoginCompleteBody,
    responses((status = 200, body = TokensResponse), (status = 401, description = "the passkey could not be verified", body = CompatMessage)))]
pub async fn passkey_login_complete(
    cx: Cx,
    CompatJson(body): CompatJson<PasskeyLoginCompleteBody>,
) -> CompatResult<TokensResponse> {
    let session = cx
        .passkeys
        .finish_sign_in(&cx.meta, &body.session, &body.credential, Some(&body.email))
        .await?;
    Ok(Json(tokens(session, None, None)))
}
