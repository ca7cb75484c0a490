//! Assembling and running the HTTP server: [`Services`] built from
//! [`Settings`], the router with its layers (metrics, CORS, panics, request
//! ids, security headers, tracing), served until a shutdown signal, then
//! drained.

use crate::middleware;
use crate::state::AppState;
use anyhow::Context;
use authgate_service::{Services, Settings};
use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::PropagateRequestIdLayer;
use tower_http::trace::TraceLayer;

/// A built application, ready to serve.
pub struct App {
    pub state: AppState,
    pub router: Router,
    services: Arc<Services>,
}

/// The process-wide Prometheus recorder (metrics macros are global).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ])
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed");
            }
            handle
        })
        .clone()
}

impl App {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // The recorder first: the services publish gauges as they start.
        let metrics = metrics_handle();
        let services = Arc::new(Services::build(settings).await?);
        let settings = services.settings.clone();
        let trusted_proxies = Arc::new(
            middleware::TrustedProxies::parse(&settings.trusted_proxies)
                .map_err(|e| anyhow::anyhow!("AUTHGATE_TRUSTED_PROXIES: {e}"))?,
        );
        let mut state = AppState {
            services: services.clone(),
            metrics,
            openapi: Arc::new(String::new()),
            pages: crate::pages::Pages::load(settings.pages_dir.as_deref())
                .map_err(anyhow::Error::msg)?,
        };
        let (routes, openapi) = crate::router(&state);
        state.openapi = Arc::new(
            openapi
                .to_pretty_json()
                .context("cannot render the OpenAPI document")?,
        );
        let router = routes
            .fallback(|| async {
                crate::problem::ApiError(authgate_core::AuthError::NotFound("route".into()))
            })
            .layer(axum::middleware::from_fn(middleware::track_metrics))
            .with_state(state.clone())
            .layer(cors(&settings))
            .layer(CatchPanicLayer::custom(middleware::panic_response))
            .layer(axum::middleware::from_fn(middleware::request_scope))
            .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                let client = request
                    .extensions()
                    .get::<crate::client_address::ClientAddress>()
                    .map(|c| c.0.to_string())
                    .unwrap_or_default();
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id, client = %client)
            }))
            .layer(axum::middleware::from_fn_with_state(
                settings.public_url.starts_with("https://"),
                middleware::security_headers,
            ))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(axum::middleware::from_fn_with_state(
                trusted_proxies,
                middleware::identify_client,
            ));
        Ok(Self {
            state,
            router,
            services,
        })
    }

    /// Serve on `listener` until `shutdown` resolves; then stop accepting,
    /// let in-flight requests finish (at most the configured grace), close
    /// the database.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let grace = Duration::from_secs(self.state.settings.shutdown_grace);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: draining in-flight requests");
            let _ = stop_tx.send(true);
        };
        let server = axum::serve(
            listener,
            self.router
                .clone()
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(signal);
        let mut stopped = stop_rx.clone();
        let deadline = async move {
            let _ = stopped.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = server => result.context("server error")?,
            _ = deadline => tracing::warn!("grace period over; closing remaining connections"),
        }
        self.close(grace).await;
        tracing::info!("stopped");
        Ok(())
    }
}

impl App {
    /// Stop the background tasks, write the queued audit events, let mail
    /// under way go out (at most `grace`), close the database.
    pub async fn close(self, grace: Duration) {
        self.services.close(grace).await;
    }
}

fn cors(settings: &Settings) -> CorsLayer {
    use axum::http::{HeaderName, HeaderValue, Method, header};
    let origins: Vec<HeaderValue> = settings
        .cors_origin_list()
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("x-api-key"),
        ])
        .max_age(Duration::from_secs(600))
}
