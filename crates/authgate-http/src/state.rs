//! [`AppState`]: what every handler can reach — the services (through
//! `Deref`, so a handler writes `state.sign_in.sign_in(…)`), never the store
//! or the provider directly.

use authgate_service::Services;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub services: Arc<Services>,
    pub metrics: PrometheusHandle,
    /// The OpenAPI document, rendered once.
    pub openapi: Arc<String>,
    /// The hosted pages' templates, texts and stylesheet.
    pub pages: Arc<crate::pages::Pages>,
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}
