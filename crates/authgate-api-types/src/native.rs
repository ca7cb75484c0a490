//! The JSON shapes of the native contract (camelCase), with their OpenAPI
//! schemas. Secrets arrive as [`Secret`] so they cannot be logged by accident.

use authgate_core::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignUpBody {
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(value_type = String, format = Password, example = "Correct-Horse-42!")]
    pub password: Secret,
    #[schema(example = "Ada")]
    pub name: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// `EMAIL`
    pub medium: String,
    /// Masked address, e.g. `a***@e***.com`.
    pub destination: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignUpResponse {
    pub user_sub: String,
    pub requires_confirmation: bool,
    pub can_sign_in: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmSignUpBody {
    pub email: String,
    #[schema(value_type = String)]
    pub code: Secret,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmSignUpResponse {
    pub confirmed: bool,
    pub can_sign_in: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailBody {
    pub email: String,
}

/// The same answer whether or not an account exists.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcceptedResponse {
    pub message: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignInBody {
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(value_type = String, format = Password, example = "Correct-Horse-42!")]
    pub password: Secret,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    /// The app user id (authgate's own).
    pub id: String,
    /// The provider subject.
    pub sub: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

/// Recovery codes as an answer shows them (the one time they are shown).
pub fn shown_once(codes: Vec<Secret>) -> Vec<String> {
    codes.into_iter().map(Secret::into_inner).collect()
}

/// A successful authentication.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionResponse {
    /// The only bearer token for protected APIs.
    pub access_token: String,
    /// Identity input; not a bearer token.
    pub id_token: String,
    /// Only for the refresh contract.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// `Bearer`
    pub token_type: String,
    pub expires_in: u64,
    /// RFC 3339
    pub expires_at: String,
    pub user: UserView,
    /// Only when this sign-in enrolled an authenticator (`MFA_SETUP_REQUIRED`):
    /// ten one-time recovery codes, shown this once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery_codes: Vec<String>,
}

/// Another step is needed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeResponseBody {
    /// `NEW_PASSWORD_REQUIRED`, `TOTP_REQUIRED`, `MFA_SETUP_REQUIRED`
    pub challenge: String,
    /// Opaque and short-lived.
    pub session: String,
    pub parameters: BTreeMap<String, String>,
}

/// A Session or a Challenge.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SignInResponse {
    Session(SessionResponse),
    Challenge(ChallengeResponseBody),
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshBody {
    #[schema(value_type = String)]
    pub refresh_token: Secret,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubjectUser {
    pub id: String,
    pub sub: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// RFC 3339
    pub created_at: String,
}

/// Who is calling.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubjectResponse {
    pub user: SubjectUser,
    /// `embedded` or `cognito`
    pub provider: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HealthResponse {
    /// `ok`; `degraded` when Redis is configured but unreachable (the
    /// instance still serves, counting rate limits and lockouts alone).
    pub status: String,
    /// Readiness only: `up` (a database that does not answer is a 503).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Readiness only, when `AUTHGATE_REDIS_URL` is set: `up` or `down`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewPasswordChallengeBody {
    pub email: String,
    /// The `session` of the challenge.
    #[schema(value_type = String)]
    pub session: Secret,
    #[schema(value_type = String, format = Password)]
    pub new_password: Secret,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeChallengeBody {
    pub email: String,
    /// The `session` of the challenge.
    #[schema(value_type = String)]
    pub session: Secret,
    /// The six-digit code of the authenticator app.
    #[schema(value_type = String)]
    pub code: Secret,
}

/// A TOTP secret to add to an authenticator app.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TotpEnrolmentResponse {
    /// Base32.
    pub secret: String,
    /// `otpauth://totp/…`, for a QR code.
    pub otpauth_uri: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeBody {
    #[schema(value_type = String)]
    pub code: Secret,
}

/// `POST /v1/auth/mfa/totp/verify`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TotpVerifyBody {
    /// A code of the new authenticator.
    #[schema(value_type = String)]
    pub code: Secret,
    /// Replacing an active authenticator: a code of the current one, or a
    /// recovery code.
    #[schema(value_type = Option<String>)]
    pub current_code: Option<Secret>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaEnabledResponse {
    pub mfa_enabled: bool,
    /// Ten one-time recovery codes, shown this once (the old ones stop working).
    pub recovery_codes: Vec<String>,
}

/// Recovery codes, shown once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodesResponse {
    pub recovery_codes: Vec<String>,
}

/// How many recovery codes are left.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodesLeftResponse {
    pub remaining: i64,
}

/// `POST /v1/auth/password-resets`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordResetRequestBody {
    pub email: String,
    /// Only within the cooling-off period after the authenticator was
    /// replaced: a recovery code lets the reset code go out at once.
    #[schema(value_type = Option<String>)]
    pub recovery_code: Option<Secret>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordResetConfirmBody {
    pub email: String,
    #[schema(value_type = String)]
    pub code: Secret,
    #[schema(value_type = String, format = Password)]
    pub new_password: Secret,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordResetResponse {
    pub password_reset: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChangeBody {
    #[schema(value_type = String, format = Password)]
    pub current_password: Secret,
    #[schema(value_type = String, format = Password)]
    pub new_password: Secret,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordBody {
    #[schema(value_type = String, format = Password)]
    pub password: Secret,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordVerifiedResponse {
    pub verified: bool,
    /// RFC 3339: until when sensitive operations accept this proof.
    pub verified_until: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminCreateUserBody {
    pub email: String,
    pub name: Option<String>,
    pub phone: Option<String>,
}

/// An account as administrators see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminUserView {
    /// The app user id.
    pub id: String,
    /// The provider subject.
    pub sub: String,
    pub email: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    /// `pending_confirmation`, `active`, `temporary_password`, `password_reset_required`
    pub status: String,
    pub enabled: bool,
    pub mfa_enabled: bool,
    pub platform_role: Option<String>,
    /// RFC 3339
    pub created_at: String,
}

/// One failed-attempt record of an account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LockoutRecord {
    /// `identifier` (attempts naming the address: sign-in, codes, resets)
    /// or `signed_in` (the signed-in user's own password and code checks)
    pub scope: String,
    /// `password`, `otp` or `mailed_code`
    pub factor: String,
    /// Consecutive failures counted.
    pub failures: u32,
    /// Seconds until the next attempt is checked (0: now).
    pub retry_after_seconds: u64,
    /// At `AUTHGATE_MAX_FAILED_ATTEMPTS`: refused until a reset or an
    /// administrator clears it.
    pub blocked: bool,
}

/// The failed-attempt records of an account (empty: nothing counting).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LockoutView {
    pub records: Vec<LockoutRecord>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminUserList {
    pub users: Vec<AdminUserView>,
}

#[derive(Debug, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AdminUserQuery {
    /// Emails starting with this.
    pub email_prefix: Option<String>,
    /// `pending_confirmation`, `active`, `temporary_password`, `password_reset_required`
    #[param(
        pattern = "^(pending_confirmation|active|temporary_password|password_reset_required)$"
    )]
    pub status: Option<String>,
    /// At most this many (default 100; more than 500 gives 500).
    #[serde(default, deserialize_with = "authgate_core::query::empty_as_none")]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentifierRecoveryBody {
    /// The verified phone number on the account, international form.
    pub phone: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaResetStartResponse {
    /// Opaque; the same kind of answer whether or not the account exists.
    pub session: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaResetVerifyBody {
    pub email: String,
    #[schema(value_type = String)]
    pub session: Secret,
    /// The mailed code.
    #[schema(value_type = String)]
    pub code: Secret,
    #[schema(value_type = String, format = Password)]
    pub password: Secret,
    /// A recovery code: needed within the cooling-off period after a mailed
    /// password reset (`AUTHGATE_MFA_RESET_COOLDOWN`), spent on success.
    #[serde(default, alias = "recovery_code")]
    #[schema(value_type = Option<String>)]
    pub recovery_code: Option<Secret>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaResetVerifyResponse {
    /// The new authenticator's secret (base32).
    pub secret: String,
    pub otpauth_uri: String,
    /// Recovery-only: it finishes this reset and nothing else.
    pub access_token: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaResetConfirmBody {
    /// The recovery-only token of the verify step.
    #[schema(value_type = String)]
    pub access_token: Secret,
    /// A code from the new authenticator.
    #[schema(value_type = String)]
    pub code: Secret,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaResetConfirmResponse {
    pub mfa_reset: bool,
    /// Ten new one-time recovery codes, shown this once.
    pub recovery_codes: Vec<String>,
}

/// The query of `GET /v1/admin/audit-events`: the domain's audit filter.
pub use authgate_core::AuditFilter as AuditQueryParams;

/// One authentication event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventView {
    pub id: i64,
    /// RFC 3339 (millisecond precision).
    pub at: String,
    pub kind: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// The error code of a failure.
    pub reason: Option<String>,
    pub provider: String,
    pub subject: Option<String>,
    /// The administrator who acted, for administrative events.
    pub actor: Option<String>,
    /// The object acted on (`tenant:<id>`, `role:<scope>/<key>`, `passkey:<id>`, ...).
    pub target: Option<String>,
    /// How a sign-in was made: `password` or `passkey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub email: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventList {
    pub events: Vec<AuditEventView>,
}

/// A passkey ceremony: `options` for
/// `PublicKeyCredential.parseCreationOptionsFromJSON()` (registration) or
/// `parseRequestOptionsFromJSON()` (sign-in), and the opaque `session` to
/// send back with the credential (single use, 5 minutes).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyCeremonyResponse {
    pub session: String,
    /// The `publicKey` member of the WebAuthn Level 3 JSON options.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

/// `POST /v1/auth/passkeys/register/start` takes an empty object (any
/// members are ignored; anything but an object is refused).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(from = "serde_json::Map<String, serde_json::Value>")]
pub struct EmptyBody {}

impl From<serde_json::Map<String, serde_json::Value>> for EmptyBody {
    fn from(_: serde_json::Map<String, serde_json::Value>) -> Self {
        EmptyBody {}
    }
}

/// `POST /v1/auth/passkeys/register/complete`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyRegisterBody {
    #[schema(value_type = String)]
    pub session: Secret,
    /// What `PublicKeyCredential.prototype.toJSON()` gives for the new credential.
    #[schema(value_type = RegistrationCredentialJson)]
    pub credential: serde_json::Value,
    /// A name for the list, e.g. "Laptop" (at most 100 characters).
    pub name: Option<String>,
}

/// One passkey of the signed-in user.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyView {
    /// The credential id, base64url.
    pub id: String,
    pub name: Option<String>,
    /// RFC 3339
    pub created_at: String,
    /// RFC 3339; `null` until it signs in.
    pub last_used_at: Option<String>,
    /// Synced to the owner's other devices.
    pub backed_up: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyList {
    pub passkeys: Vec<PasskeyView>,
}

/// An identity at an external OpenID provider, linked to the caller's
/// account (federation).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkedIdentityView {
    /// The link's id (for `DELETE /v1/auth/identities/{id}`).
    pub id: String,
    /// `oidc:<id>` of the configured provider.
    pub provider: String,
    /// The provider's button label.
    pub label: String,
    /// The upstream issuer.
    pub issuer: String,
    /// The person's `sub` at the provider.
    pub subject: String,
    /// The address the provider last said it verified.
    pub email: Option<String>,
    /// RFC 3339
    pub linked_at: String,
    /// RFC 3339: the last sign-in with it.
    pub last_used_at: String,
    /// False for the account's only way to sign in (a person who signed up
    /// with this provider).
    pub removable: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkedIdentityList {
    pub identities: Vec<LinkedIdentityView>,
}

/// `POST /v1/auth/passkeys/sign-in/start`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeySignInStartBody {
    /// With an email, that user's passkeys; without, any discoverable one.
    pub email: Option<String>,
}

/// `POST /v1/auth/passkeys/sign-in/complete`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeySignInBody {
    #[schema(value_type = String)]
    pub session: Secret,
    /// What `PublicKeyCredential.prototype.toJSON()` gives for the assertion.
    #[schema(value_type = AuthenticationCredentialJson)]
    pub credential: serde_json::Value,
}

/// The shape of a new credential as WebAuthn Level 3's
/// `PublicKeyCredential.prototype.toJSON()` gives it (the server reads it
/// as JSON and checks the ceremony; this type documents it).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct RegistrationCredentialJson {
    #[schema(pattern = "^[A-Za-z0-9_-]+$")]
    id: String,
    #[schema(pattern = "^[A-Za-z0-9_-]+$")]
    raw_id: String,
    /// `public-key`
    #[schema(pattern = "^public-key$")]
    r#type: String,
    response: AttestationResponseJson,
    #[schema(value_type = Object)]
    client_extension_results: Option<serde_json::Value>,
    authenticator_attachment: Option<String>,
}

/// `AuthenticatorAttestationResponseJSON`: base64url fields.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct AttestationResponseJson {
    #[schema(rename = "clientDataJSON", pattern = "^[A-Za-z0-9_-]+$")]
    client_data_json: String,
    #[schema(pattern = "^[A-Za-z0-9_-]+$")]
    attestation_object: String,
    transports: Option<Vec<String>>,
}

/// The shape of an assertion as `PublicKeyCredential.prototype.toJSON()`
/// gives it.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct AuthenticationCredentialJson {
    #[schema(pattern = "^[A-Za-z0-9_-]+$")]
    id: String,
    #[schema(pattern = "^[A-Za-z0-9_-]+$")]
    raw_id: String,
    /// `public-key`
    #[schema(pattern = "^public-key$")]
    r#type: String,
    response: AssertionResponseJson,
    #[schema(value_type = Object)]
    client_extension_results: Option<serde_json::Value>,
    authenticator_attachment: Option<String>,
}

/// `AuthenticatorAssertionResponseJSON`: base64url fields.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct AssertionResponseJson {
    #[schema(rename = "clientDataJSON", pattern = "^[A-Za-z0-9_-]+$")]
    client_data_json: String,
    #[schema(pattern = "^[A-Za-z0-9_-]+$")]
    authenticator_data: String,
    #[schema(pattern = "^[A-Za-z0-9_-]+$")]
    signature: String,
    #[schema(pattern = "^[A-Za-z0-9_-]*$")]
    user_handle: Option<String>,
}
