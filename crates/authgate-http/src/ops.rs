//! Operations and discovery: health, Prometheus metrics, the OpenAPI
//! document, OIDC discovery and the JWKS.

use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use authgate_api_types::native::HealthResponse;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "operations",
    responses((status = 200, body = HealthResponse)))]
pub async fn live() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".into(),
        database: None,
        redis: None,
    })
}

/// The process can serve: the database answers. Redis, when configured,
/// is reported (`degraded` while it is away) but not required.
#[utoipa::path(get, path = "/health/ready", tag = "operations",
    responses((status = 200, body = HealthResponse), (status = 503, body = Problem)))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<HealthResponse>, ApiError> {
    let readiness = state.ready().await?;
    let up = |up: bool| if up { "up" } else { "down" }.to_string();
    Ok(Json(HealthResponse {
        status: if readiness.redis == Some(false) {
            "degraded"
        } else {
            "ok"
        }
        .into(),
        database: Some("up".into()),
        redis: readiness.redis.map(up),
    }))
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, content_type = "application/json", body = Object)))]
pub async fn openapi(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi.as_ref().clone(),
    )
}

/// OpenID Connect discovery. With Cognito, the issuer and keys are the pool's.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "discovery",
    responses((status = 200, content_type = "application/json", body = Object)))]
pub async fn openid_configuration(State(state): State<AppState>) -> impl IntoResponse {
    let discovery = &state.discovery;
    let algorithms = discovery.id_token_algorithms().await;
    let jwks_uri = discovery
        .provider_jwks_url()
        .unwrap_or_else(|| format!("{}/.well-known/jwks.json", state.settings.issuer()));
    let base = state.settings.issuer();
    let mut document = serde_json::json!({
        "issuer": discovery.issuer(),
        "jwks_uri": jwks_uri,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algorithms,
        "token_endpoint": format!("{base}/oauth2/token"),
        "grant_types_supported": ["refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "sid", "email", "email_verified", "name", "token_use", "client_id", "scope"],
    });
    // The code flow's tokens are authgate's own (issuer AUTHGATE_PUBLIC_URL):
    // it is advertised where that is the discovery issuer (the embedded
    // provider). With Cognito the issuer is the pool's, whose own tokens a
    // client of this document validates.
    if discovery.issuer() == base {
        document["authorization_endpoint"] = format!("{base}/oauth2/authorize").into();
        document["userinfo_endpoint"] = format!("{base}/oauth2/userInfo").into();
        document["end_session_endpoint"] = format!("{base}/oauth2/logout").into();
        document["revocation_endpoint"] = format!("{base}/oauth2/revoke").into();
        document["response_types_supported"] = serde_json::json!(["code"]);
        document["response_modes_supported"] = serde_json::json!(["query"]);
        document["code_challenge_methods_supported"] = serde_json::json!(["S256"]);
        document["authorization_response_iss_parameter_supported"] = true.into();
        document["scopes_supported"] = serde_json::json!(["openid", "email", "profile"]);
        document["grant_types_supported"] =
            serde_json::json!(["authorization_code", "refresh_token", "client_credentials"]);
        document["token_endpoint_auth_methods_supported"] =
            serde_json::json!(["client_secret_basic", "client_secret_post", "none"]);
    }
    Json(document)
}

/// The keys that verify the tokens.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "discovery",
    responses((status = 200, content_type = "application/json", body = Object)))]
pub async fn jwks(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let keys = state.discovery.user_jwks().await?;
    Ok(([(header::CACHE_CONTROL, "public, max-age=300")], Json(keys)))
}

/// Health, metrics, the OpenAPI document and discovery.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
        .routes(routes!(metrics))
        .routes(routes!(openapi))
        .routes(routes!(openid_configuration))
        .routes(routes!(jwks))
}
