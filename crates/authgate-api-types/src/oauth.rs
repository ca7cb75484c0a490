//! The OAuth 2.0 wire types of `/oauth2/token`: the form, the token answer
//! and the RFC 6749 error object.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// OAuth token request (form-encoded).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct TokenForm {
    /// Optional here so that a missing one is answered as OAuth's
    /// `invalid_request`; required by the document.
    #[schema(value_type = GrantType, required = true)]
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<authgate_core::Secret>,
    pub scope: Option<String>,
    #[schema(value_type = Option<String>)]
    pub refresh_token: Option<authgate_core::Secret>,
    /// `authorization_code`: the code of the authorization response.
    #[schema(value_type = Option<String>)]
    pub code: Option<authgate_core::Secret>,
    /// `authorization_code`: the redirect URI of the authorization request.
    pub redirect_uri: Option<String>,
    /// `authorization_code`: the PKCE verifier (43 to 128 characters).
    #[schema(min_length = 43, max_length = 128, pattern = "^[A-Za-z0-9._~-]+$")]
    pub code_verifier: Option<String>,
}

/// The grants of the token endpoint.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    ClientCredentials,
    RefreshToken,
}

/// `POST /oauth2/revoke` (RFC 7009).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RevokeForm {
    /// Optional here so that a missing one is answered as OAuth's
    /// `invalid_request`; required by the document.
    #[schema(value_type = String, required = true, min_length = 1)]
    pub token: Option<authgate_core::Secret>,
    /// `refresh_token` or `access_token`; either way the token itself tells.
    pub token_type_hint: Option<String>,
    pub client_id: Option<String>,
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<authgate_core::Secret>,
}

/// OAuth token response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OAuthTokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// OAuth error (RFC 6749 §5.2).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OAuthError {
    pub error: String,
    pub error_description: String,
}
