//! The JSON shapes of the CognitoApi profile: snake_case, field names and
//! status strings exactly as the original's README shows them. Secrets arrive
//! as [`Secret`] so that they cannot be logged by accident. Bodies whose
//! fields are one word each are the native ones (`EmailBody`,
//! `MfaResetVerifyBody`): camelCase and snake_case agree there.

use authgate_core::Secret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUserBody {
    pub full_name: Option<String>,
    pub email: String,
    pub mobile_phone_number: Option<String>,
}

/// `{email, user_id, status}`: `CREATED`, `PENDING_MFA`,
/// `NEW_PASSWORD_SET_SUCCESSFULLY`, `PASSWORD_CHANGED`, `PASSWORD_RESET_REQUIRED`,
/// `DELETED`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserStatusResponse {
    pub email: String,
    pub user_id: String,
    pub status: &'static str,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ConfirmUserBody {
    pub email: String,
    #[schema(value_type = String, format = Password)]
    pub temporary_password: Secret,
    #[schema(value_type = String, format = Password)]
    pub new_password: Secret,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfirmUserResponse {
    pub email: String,
    pub user_id: String,
    pub qr_code_secret: String,
    /// The QR code of `otpauth_uri` as a `data:image/png` URL, for older
    /// clients that show it as an image.
    pub qr_code_secret_url: String,
    pub otpauth_uri: String,
    pub mfa_session: String,
    /// `PENDING_MFA`
    pub status: &'static str,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ConfirmMfaBody {
    pub email: String,
    #[schema(value_type = String)]
    pub otp: Secret,
    /// The `mfa_session` of confirm. Older clients send none: the user's
    /// pending enrolment is found by the address, with the same checks and
    /// tries.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub mfa_session: Option<Secret>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfirmMfaResponse {
    pub email: String,
    pub user_id: String,
    /// `CONFIRMED`
    pub mfa_status: &'static str,
    /// Ten one-time recovery codes, shown this once (authgate's addition).
    pub recovery_codes: Vec<String>,
}

/// `{status, recovery_codes}` of a finished authenticator replacement.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaResetCompleteResponse {
    /// `MFA_RESET_COMPLETE`
    pub status: &'static str,
    /// Ten new one-time recovery codes, shown this once (authgate's addition).
    pub recovery_codes: Vec<String>,
}

/// `{email, status}`: `PASSWORD_FORGOT_CONFIRMATION_SENT`, `CONFIRMATION_CODE_SENT`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailStatusResponse {
    pub email: String,
    pub status: &'static str,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ConfirmPasswordBody {
    pub email: String,
    #[schema(value_type = String, format = Password)]
    pub new_password: Secret,
    #[schema(value_type = String)]
    pub verification_code: Secret,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePasswordBody {
    pub email: String,
    #[schema(value_type = String, format = Password)]
    pub old_password: Secret,
    #[schema(value_type = String, format = Password)]
    pub new_password: Secret,
    #[schema(value_type = String)]
    pub access_token: Secret,
}

#[derive(Debug, Serialize, ToSchema)]
/// Named apart from the native contract\'s type of the same name.
#[schema(as = ProfileMfaResetStartResponse)]
pub struct MfaResetStartResponse {
    /// `MFA_RESET_CODE_SENT`
    pub status: &'static str,
    pub session: String,
}

#[derive(Debug, Serialize, ToSchema)]
/// Named apart from the native contract\'s type of the same name.
#[schema(as = ProfileMfaResetVerifyResponse)]
pub struct MfaResetVerifyResponse {
    pub qr_code_secret: String,
    /// The QR code of `otpauth_uri` as a `data:image/png` URL.
    pub qr_code_secret_url: String,
    pub otpauth_uri: String,
    /// A recovery-only token for `/v1/mfa-reset/confirm` (not a bearer token).
    pub access_token: String,
    /// `NEW_TOTP_ISSUED`
    pub status: &'static str,
}

#[derive(Debug, Deserialize, ToSchema)]
/// Named apart from the native contract\'s type of the same name.
#[schema(as = ProfileMfaResetConfirmBody)]
pub struct MfaResetConfirmBody {
    #[schema(value_type = String)]
    pub access_token: Secret,
    #[schema(value_type = String)]
    pub otp: Secret,
}

/// `{status}`: `MFA_RESET_COMPLETE`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusResponse {
    pub status: &'static str,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginBody {
    pub email: String,
    #[schema(value_type = String, format = Password)]
    pub password: Secret,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub email: String,
    pub verification_session: String,
    /// `SOFTWARE_TOKEN_MFA`
    pub verification_type: &'static str,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MfaVerifyBody {
    pub email: String,
    #[schema(pattern = "^SOFTWARE_TOKEN_MFA$")]
    pub verification_type: String,
    #[schema(value_type = String)]
    pub verification_session: Secret,
    #[schema(value_type = String)]
    pub otp_code: Secret,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokensResponse {
    /// Only in the answer of `/v1/refresh-token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub id_token: String,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshTokenBody {
    pub email: String,
    #[schema(value_type = String)]
    pub refresh_token: Secret,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserInfoResponse {
    pub name: Option<String>,
    pub user_id: String,
    pub email: String,
    pub phone_number: Option<String>,
    pub groups: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LogoutBody {
    pub email: Option<String>,
    #[schema(value_type = String)]
    pub access_token: Secret,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogoutResponse {
    /// `logout`
    pub user_status: &'static str,
}

/// The signed-in passkey routes of the profile take the access token as
/// `Authorization: Bearer …` or here.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PasskeyTokenBody {
    #[schema(value_type = Option<String>)]
    pub access_token: Option<Secret>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyRegisterStartResponse {
    pub session: String,
    /// The `publicKey` member of the WebAuthn Level 3 JSON creation options.
    #[schema(value_type = Object)]
    pub credential_creation_options: serde_json::Value,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasskeyRegisterCompleteBody {
    #[schema(value_type = Option<String>)]
    pub access_token: Option<Secret>,
    #[schema(value_type = String)]
    pub session: Secret,
    /// What `PublicKeyCredential.prototype.toJSON()` gives.
    #[schema(value_type = crate::native::RegistrationCredentialJson)]
    pub credential: serde_json::Value,
    pub friendly_name: Option<String>,
}

/// `{credential_id, status}`: `PASSKEY_REGISTERED` or `PASSKEY_DELETED`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyStatusResponse {
    pub credential_id: String,
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyItem {
    pub credential_id: String,
    pub friendly_name: Option<String>,
    /// RFC 3339
    pub created_at: String,
    /// RFC 3339, `null` until it signs in.
    pub last_used_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyListResponse {
    pub passkeys: Vec<PasskeyItem>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasskeyDeleteBody {
    #[schema(value_type = Option<String>)]
    pub access_token: Option<Secret>,
    pub credential_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasskeyLoginStartBody {
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyLoginStartResponse {
    pub email: String,
    pub session: String,
    /// The `publicKey` member of the WebAuthn Level 3 JSON request options.
    #[schema(value_type = Object)]
    pub credential_request_options: serde_json::Value,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasskeyLoginCompleteBody {
    pub email: String,
    #[schema(value_type = String)]
    pub session: Secret,
    /// What `PublicKeyCredential.prototype.toJSON()` gives.
    #[schema(value_type = crate::native::AuthenticationCredentialJson)]
    pub credential: serde_json::Value,
}
