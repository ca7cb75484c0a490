//! Assembling and running authgate: the store, mailer, provider, guard and
//! router built from [`Settings`], served until a shutdown signal, then
//! drained.

use crate::http;
use crate::ratelimit::RateLimits;
use crate::services::AuthService;
use crate::services::auth::{AuthzParts, SecurityOptions};
use crate::services::clients::MachineTokens;
use crate::services::forward::RouteRules;
use crate::settings::{ForwardDefault, MfaMode, ProviderKind, Settings};
use crate::state::AppState;
use anyhow::Context;
use async_trait::async_trait;
use authgate_core::{IdentityProvider, Notifier};
use authgate_embedded::keys::KeyRing;
use authgate_embedded::{EmbeddedConfig, EmbeddedProvider, MfaPolicy};
use authgate_guard::{Guard, GuardConfig, GuardError, JwksSource, KeySource};
use authgate_mail::{BackgroundNotifier, Mailer, Templates};
use authgate_store::Store;
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
    notifier: Arc<BackgroundNotifier>,
    background: Vec<tokio::task::JoinHandle<()>>,
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

/// Open the database and apply migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    if settings.database_url.is_none() {
        authgate_store::create_private_dir(&settings.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                settings.data_dir.display()
            )
        })?;
    }
    let store = Store::connect(&settings.database_url())
        .await
        .context("cannot open the database")?;
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;
    Ok(store)
}

/// The installation's key for decoy answers: made once, kept in the
/// database so that every instance answers alike.
async fn decoy_key(store: &Store) -> anyhow::Result<[u8; 32]> {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    let mut fresh = [0u8; 32];
    aws_lc_rs::rand::fill(&mut fresh).map_err(|_| anyhow::anyhow!("no randomness"))?;
    let stored = store
        .instance_secret(
            "decoy_key",
            &STANDARD.encode(fresh),
            authgate_core::now_millis(),
        )
        .await
        .context("cannot read the installation secrets")?;
    STANDARD
        .decode(stored)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| anyhow::anyhow!("the stored decoy key is damaged"))
}

/// authgate's own keys (machine-client tokens), read in process.
struct RingKeys(Arc<KeyRing>);

#[async_trait]
impl KeySource for RingKeys {
    async fn jwks(&self) -> Result<jsonwebtoken::jwk::JwkSet, GuardError> {
        serde_json::from_value(self.0.jwks())
            .map_err(|e| GuardError::JwksUnavailable(e.to_string()))
    }
}

/// The guard's keys, read from the provider in process.
struct ProviderKeys(Arc<dyn IdentityProvider>);

#[async_trait]
impl KeySource for ProviderKeys {
    async fn jwks(&self) -> Result<jsonwebtoken::jwk::JwkSet, GuardError> {
        let value = self
            .0
            .jwks()
            .await
            .map_err(|e| GuardError::JwksUnavailable(e.to_string()))?;
        serde_json::from_value(value).map_err(|e| GuardError::JwksUnavailable(e.to_string()))
    }
}

impl App {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let settings = Arc::new(settings);
        let store = open_store(&settings).await?;
        let mailer = match &settings.smtp_url {
            Some(url) => Mailer::smtp(url, &settings.mail_from, Templates::default())?,
            None => Mailer::outbox(
                settings.outbox_dir(),
                &settings.mail_from,
                Templates::default(),
            )?,
        };
        tracing::info!(mail = mailer.description(), "mail configured");
        let notifier = Arc::new(BackgroundNotifier::new(Arc::new(mailer)));
        let mut background = Vec::new();
        let mut key_ring: Option<Arc<KeyRing>> = None;

        let provider: Arc<dyn IdentityProvider> = match settings.provider {
            ProviderKind::Embedded => {
                let embedded = EmbeddedProvider::new(
                    EmbeddedConfig {
                        issuer: settings.issuer(),
                        client_id: settings.client_id.clone(),
                        access_token_ttl: Duration::from_secs(settings.access_token_ttl),
                        refresh_token_ttl: Duration::from_secs(settings.refresh_token_ttl),
                        sign_up_code_ttl: Duration::from_secs(settings.sign_up_code_ttl),
                        password_reset_code_ttl: Duration::from_secs(
                            settings.password_reset_code_ttl,
                        ),
                        challenge_ttl: Duration::from_secs(settings.challenge_ttl),
                        mfa: match settings.mfa {
                            MfaMode::Off => MfaPolicy::Off,
                            MfaMode::Optional => MfaPolicy::Optional,
                            MfaMode::Required => MfaPolicy::Required,
                        },
                        hash_concurrency: match settings.hash_concurrency {
                            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
                            n => n,
                        },
                    },
                    store.clone(),
                    notifier.clone() as Arc<dyn Notifier>,
                )
                .await
                .map_err(|e| anyhow::anyhow!("cannot start the embedded provider: {e}"))?;
                key_ring = Some(embedded.key_ring());
                Arc::new(embedded)
            }
            ProviderKind::Cognito => cognito_provider(&settings).await?,
        };
        // authgate's own keys sign machine-client tokens whatever the provider.
        let key_ring = match key_ring {
            Some(keys) => keys,
            None => {
                let publish_retired = settings.access_token_ttl as i64 * 1000 + 5 * 60 * 1000;
                Arc::new(
                    KeyRing::load(store.clone(), publish_retired)
                        .await
                        .map_err(|e| anyhow::anyhow!("cannot load the signing keys: {e}"))?,
                )
            }
        };
        {
            let keys = key_ring.clone();
            let every = Duration::from_secs(settings.key_reload_interval.max(1));
            background.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if let Err(err) = keys.reload().await {
                        tracing::warn!(error = %err, "signing keys not reloaded");
                    }
                }
            }));
        }
        let forward_rules = RouteRules::parse(
            &settings.forward_rules,
            settings.forward_default == ForwardDefault::Deny,
        )
        .map_err(|e| anyhow::anyhow!("AUTHGATE_FORWARD_RULES: {e}"))?;
        let machine_guard = {
            let mut config = GuardConfig::new(
                settings.issuer(),
                settings.client_id.clone(),
                JwksSource::Source(Arc::new(RingKeys(key_ring.clone()))),
            );
            config.any_client = true;
            Arc::new(Guard::new(config))
        };

        let jwks = match provider.jwks_url() {
            Some(url) => JwksSource::Url(url),
            None => JwksSource::Source(Arc::new(ProviderKeys(provider.clone()))),
        };
        let guard = Arc::new(Guard::new(GuardConfig::new(
            provider.issuer(),
            provider.client_id(),
            jwks.clone(),
        )));
        let id_token_guard = settings.compat_cognito_api.then(|| {
            if settings.mfa != MfaMode::Required {
                tracing::error!(
                    "AUTHGATE_COMPAT_COGNITO_API is on but AUTHGATE_MFA is not `required`: \
                     the CognitoApi profile requires mandatory MFA (set AUTHGATE_MFA=required); \
                     its login answers an error for accounts without an authenticator"
                );
            }
            let mut config = GuardConfig::new(provider.issuer(), provider.client_id(), jwks);
            config.accept_id_tokens = true;
            Arc::new(Guard::new(config))
        });
        let rate_limits = RateLimits::new(settings.rate_limit_per_minute);
        {
            let limits = rate_limits.clone();
            background.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    limits.housekeeping();
                }
            }));
        }
        let decoy_key = decoy_key(&store).await?;
        let trusted_proxies = Arc::new(
            http::middleware::TrustedProxies::parse(&settings.trusted_proxies)
                .map_err(|e| anyhow::anyhow!("AUTHGATE_TRUSTED_PROXIES: {e}"))?,
        );
        let auth = AuthService::new(
            provider,
            store,
            settings.password_policy(),
            Duration::from_secs(settings.password_verification_ttl),
            notifier.clone(),
            AuthzParts {
                machine: MachineTokens {
                    keys: key_ring,
                    issuer: settings.issuer(),
                    ttl: Duration::from_secs(settings.access_token_ttl),
                },
                forward_rules,
            },
            SecurityOptions {
                sign_up_reveals_existing: settings.sign_up_reveals_existing,
                mfa_reset_cooldown: Duration::from_secs(settings.mfa_reset_cooldown),
                decoy_key,
            },
        );
        let mut state = AppState {
            auth,
            guard,
            id_token_guard,
            machine_guard,
            settings: settings.clone(),
            metrics: metrics_handle(),
            rate_limits,
            openapi: Arc::new(String::new()),
        };
        let (routes, openapi) = http::router(&state);
        state.openapi = Arc::new(
            openapi
                .to_pretty_json()
                .context("cannot render the OpenAPI document")?,
        );
        let router = routes
            .fallback(|| async {
                http::problem::ApiError(authgate_core::AuthError::NotFound("route".into()))
            })
            .layer(axum::middleware::from_fn(http::middleware::track_metrics))
            .with_state(state.clone())
            .layer(cors(&settings))
            .layer(CatchPanicLayer::custom(http::middleware::panic_response))
            .layer(axum::middleware::from_fn(http::middleware::request_scope))
            .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
            }))
            .layer(axum::middleware::from_fn_with_state(
                settings.public_url.starts_with("https://"),
                http::middleware::security_headers,
            ))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(axum::middleware::from_fn_with_state(
                trusted_proxies,
                http::middleware::assign_request_id,
            ));
        Ok(Self {
            state,
            router,
            notifier,
            background,
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

#[cfg(feature = "cognito")]
async fn cognito_provider(settings: &Settings) -> anyhow::Result<Arc<dyn IdentityProvider>> {
    let cognito = settings.cognito().map_err(anyhow::Error::msg)?;
    let provider = authgate_cognito::CognitoProvider::new(authgate_cognito::CognitoConfig {
        region: cognito.region,
        user_pool_id: cognito.user_pool_id,
        client_id: cognito.client_id,
        client_secret: cognito.client_secret,
        endpoint_url: cognito.endpoint_url,
    })
    .await
    .map_err(|e| anyhow::anyhow!("cannot start the Cognito provider: {e}"))?;
    tracing::info!(issuer = %provider.issuer(), "Cognito provider configured");
    Ok(Arc::new(provider))
}

#[cfg(not(feature = "cognito"))]
async fn cognito_provider(_settings: &Settings) -> anyhow::Result<Arc<dyn IdentityProvider>> {
    anyhow::bail!(
        "this build of authgate has no Cognito provider: build it with `--features cognito`"
    )
}

impl App {
    /// Stop the background tasks, write the queued audit events, let mail
    /// under way go out (at most `grace`), close the database.
    pub async fn close(self, grace: Duration) {
        for task in self.background {
            task.abort();
        }
        self.state.auth.events().flush().await;
        let undelivered = self.notifier.drain(grace).await;
        if undelivered > 0 {
            tracing::warn!(undelivered, "mail still being delivered at exit");
        }
        self.state.auth.store().close().await;
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
