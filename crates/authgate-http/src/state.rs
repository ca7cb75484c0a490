//! [`AppState`]: what every handler can reach — the services, never the
//! store or the provider directly.

use authgate_service::throttle::Throttle;
use authgate_service::{AuthService, Authenticator, Settings};
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub auth: AuthService,
    pub authn: Authenticator,
    pub settings: Arc<Settings>,
    pub metrics: PrometheusHandle,
    pub throttle: Arc<dyn Throttle>,
    /// The OpenAPI document, rendered once.
    pub openapi: Arc<String>,
}
