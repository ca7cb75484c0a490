//! [`AppState`]: what every handler can reach.

use crate::ratelimit::RateLimits;
use crate::services::AuthService;
use crate::settings::Settings;
use authgate_guard::Guard;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub auth: AuthService,
    pub guard: Arc<Guard>,
    /// CognitoApi profile only: a guard that also accepts id tokens, used by
    /// `GET /v1/userinfo` and nothing else (`None` when the profile is off).
    pub id_token_guard: Option<Arc<Guard>>,
    /// Validates machine-client tokens (authgate's issuer and keys, any
    /// client id; the client is then looked up).
    pub machine_guard: Arc<Guard>,
    pub settings: Arc<Settings>,
    pub metrics: PrometheusHandle,
    pub rate_limits: RateLimits,
    /// The OpenAPI document, rendered once.
    pub openapi: Arc<String>,
}

impl axum::extract::FromRef<AppState> for Arc<Guard> {
    fn from_ref(state: &AppState) -> Self {
        state.guard.clone()
    }
}
