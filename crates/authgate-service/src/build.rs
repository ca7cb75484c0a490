//! [`Services`]: the whole application without any front end, built from
//! [`Settings`]: the store (migrated), the mailer, the provider, authgate's
//! own signing keys, the guards, every service, and the background tasks
//! (key reload, counter housekeeping, the Redis probe). The HTTP server builds one; the CLI's
//! admin commands build one without a router.

use crate::account::AccountService;
use crate::admin::AdminUsers;
use crate::authn::Authenticator;
use crate::catalog::CatalogService;
use crate::clients::{Clients, MachineTokens};
use crate::decisions::{DecisionService, PolicyCache};
use crate::discovery::Discovery;
use crate::encryption;
use crate::events::EventRecorder;
use crate::forward::{ForwardAuth, RouteRules};
use crate::login::LoginTransactions;
use crate::mfa::MfaService;
use crate::notices::Notices;
use crate::oauth::AuthorizationService;
use crate::passkeys::PasskeyService;
use crate::protection::Protection;
use crate::recovery_codes::RecoveryCodes;
use crate::sessions::SessionService;
use crate::settings::{ForwardDefault, MfaMode, ProviderKind, Settings};
use crate::sign_in::SignInService;
use crate::subjects::{REMEMBERED_CONTEXTS, RememberedContexts, Subjects};
use crate::tenants::TenantService;
use anyhow::Context;
use async_trait::async_trait;
use authgate_core::{Notifier, Provider, ProviderInfo};
use authgate_embedded::keys::KeyRing;
use authgate_embedded::{EmbeddedConfig, EmbeddedProvider, MfaPolicy};
use authgate_guard::{Guard, GuardConfig, GuardError, JwksSource, KeySource};
use authgate_mail::{BackgroundNotifier, Mailer, Templates};
use authgate_store::Store;
use authgate_store::cipher::FieldCipher;
use authgate_store::sealing::SealReport;
use std::sync::Arc;
use std::time::Duration;

/// Every service of one authgate instance, one field per capability.
pub struct Services {
    pub sign_in: SignInService,
    pub sessions: SessionService,
    pub account: AccountService,
    pub mfa: MfaService,
    pub passkeys: PasskeyService,
    pub admin_users: AdminUsers,
    pub tenants: TenantService,
    pub catalog: CatalogService,
    pub decisions: DecisionService,
    pub forward: ForwardAuth,
    pub clients: Clients,
    /// The authorization code flow and the hosted pages' browser sessions.
    pub authorization: AuthorizationService,
    /// The app user and context of a caller.
    pub subjects: Subjects,
    pub discovery: Discovery,
    /// Bearer token → principal.
    pub authn: Authenticator,
    /// Rate limits and lockouts (in process, or shared through Redis).
    pub protection: Protection,
    /// The external OpenID providers people may sign in with.
    pub identity_providers: crate::federation::IdentityProviders,
    /// Sign-in with the external providers, and the identities linked.
    pub federation: crate::federation::FederationService,
    pub settings: Arc<Settings>,
    store: Store,
    events: EventRecorder,
    notifier: Arc<BackgroundNotifier>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

/// What `/health/ready` reports beside the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// `None` without Redis; else whether it answers now.
    pub redis: Option<bool>,
}

/// The MAC key of the code flow's refresh tokens: an instance secret made
/// once and shared by every instance (sealed like the others).
async fn code_flow_refresh_key(store: &Store) -> anyhow::Result<aws_lc_rs::hmac::Key> {
    let stored = store
        .instance_secret(
            "code_flow_refresh_key",
            &authgate_embedded::tokens::new_refresh_token(),
            authgate_core::now_millis(),
        )
        .await?;
    Ok(aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA256,
        stored.as_bytes(),
    ))
}

/// Open the database, apply migrations, and seal secrets at rest under the
/// installation's key (sealing what an earlier version stored in plain text).
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    Ok(open_sealed_store(settings, None).await?.0)
}

/// What `authgate keys rewrap` did.
#[derive(Debug)]
pub struct Rewrapped {
    pub report: SealReport,
    /// The id of the key the values were sealed under.
    pub old_key: String,
    /// The id of the key they are sealed under now.
    pub new_key: String,
}

/// `authgate keys rewrap`: open the store under the configured key and
/// re-seal every secret sealed under the key in `old_key_file`.
pub async fn rewrap_secrets(
    settings: &Settings,
    old_key_file: &std::path::Path,
) -> anyhow::Result<Rewrapped> {
    let old = encryption::read_key_file(old_key_file)?;
    let (store, report, new_key) = open_sealed_store(settings, Some(&old)).await?;
    store.close().await;
    Ok(Rewrapped {
        report,
        old_key: old.id().to_string(),
        new_key,
    })
}

async fn open_sealed_store(
    settings: &Settings,
    previous: Option<&dyn FieldCipher>,
) -> anyhow::Result<(Store, SealReport, String)> {
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
    let (key, source) = encryption::sealing_key(settings, store.engine())?;
    let key_id = key.id().to_string();
    let store = store.with_cipher(Arc::new(key));
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;
    let report = store
        .seal_secrets(previous)
        .await
        .context("cannot seal the secrets at rest")?;
    tracing::info!(key = %key_id, from = %source, "secrets at rest are sealed");
    if report.sealed_plain > 0 {
        tracing::info!(
            values = report.sealed_plain,
            "sealed secrets an earlier version stored in plain text"
        );
    }
    Ok((store, report, key_id))
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
struct ProviderKeys(Arc<dyn ProviderInfo>);

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

impl Services {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let settings = Arc::new(settings);
        let identity_providers =
            crate::federation::identity_providers(&settings.identity_providers)
                .map_err(anyhow::Error::msg)?;
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

        let relying_party = settings.relying_party().map_err(anyhow::Error::msg)?;
        match &relying_party {
            Some(rp) => tracing::info!(rp_id = %rp.id, origins = rp.origins.len(), "passkeys on"),
            None => tracing::info!(
                "passkeys are off: the host of AUTHGATE_PUBLIC_URL is an IP address; set \
                 AUTHGATE_WEBAUTHN_RP_ID (a domain name, or localhost) and AUTHGATE_WEBAUTHN_ORIGINS"
            ),
        }
        let provider: Provider = match settings.provider {
            ProviderKind::Embedded => {
                let embedded = EmbeddedProvider::new(
                    EmbeddedConfig {
                        issuer: settings.issuer(),
                        client_id: settings.client_id.clone(),
                        access_token_ttl: Duration::from_secs(settings.access_token_ttl),
                        refresh_token_ttl: Duration::from_secs(settings.refresh_token_ttl),
                        refresh_reuse_interval: Duration::from_secs(
                            settings.refresh_reuse_interval,
                        ),
                        sign_up_code_ttl: Duration::from_secs(settings.sign_up_code_ttl),
                        password_reset_code_ttl: Duration::from_secs(
                            settings.password_reset_code_ttl,
                        ),
                        mfa: match settings.mfa {
                            MfaMode::Off => MfaPolicy::Off,
                            MfaMode::Optional => MfaPolicy::Optional,
                            MfaMode::Required => MfaPolicy::Required,
                        },
                        hash_concurrency: match settings.hash_concurrency {
                            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
                            n => n,
                        },
                        relying_party: relying_party.clone(),
                        signing_alg: settings.signing_alg,
                    },
                    store.clone(),
                    notifier.clone() as Arc<dyn Notifier>,
                )
                .await
                .map_err(|e| anyhow::anyhow!("cannot start the embedded provider: {e}"))?;
                key_ring = Some(embedded.key_ring());
                let embedded = Arc::new(embedded);
                let passkeys = embedded.clone();
                Provider::new(embedded).with_passkeys(passkeys)
            }
            ProviderKind::Cognito => cognito_provider(&settings).await?,
        };
        // authgate's own keys sign machine-client tokens whatever the provider.
        let key_ring = match key_ring {
            Some(keys) => keys,
            None => {
                let publish_retired = settings.access_token_ttl as i64 * 1000 + 5 * 60 * 1000;
                Arc::new(
                    KeyRing::load(store.clone(), publish_retired, settings.signing_alg)
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

        let jwks = match provider.info.jwks_url() {
            Some(url) => JwksSource::Url(url),
            None => JwksSource::Source(Arc::new(ProviderKeys(provider.info.clone()))),
        };
        let guard = Arc::new(Guard::new(GuardConfig::new(
            provider.info.issuer(),
            provider.info.client_id(),
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
            let mut config =
                GuardConfig::new(provider.info.issuer(), provider.info.client_id(), jwks);
            config.accept_id_tokens = true;
            Arc::new(Guard::new(config))
        });
        let (protection, protection_tasks) = Protection::build(
            settings.redis_url.as_deref(),
            settings.rate_limits().map_err(anyhow::Error::msg)?,
            settings.failure_policy().map_err(anyhow::Error::msg)?,
        )
        .await
        .map_err(anyhow::Error::msg)?;
        background.extend(protection_tasks);
        background.extend(crate::federation::check_in_background(&identity_providers));
        let decoy_key = decoy_key(&store).await?;
        let events = EventRecorder::spawn(store.clone(), provider.id.clone());
        let mail: Arc<dyn Notifier> = notifier.clone();
        let policy = settings.password_policy().map_err(anyhow::Error::msg)?;
        let subjects = Subjects {
            provider: provider.clone(),
            store: store.clone(),
            events: events.clone(),
            contexts: Arc::new(RememberedContexts::new(REMEMBERED_CONTEXTS)),
        };
        let notices = Notices {
            notifier: mail.clone(),
            decoy_key,
        };
        let recovery_codes = RecoveryCodes {
            provider: provider.clone(),
            store: store.clone(),
            notices: notices.clone(),
            cooldown: Duration::from_secs(settings.mfa_reset_cooldown),
        };
        let sessions = SessionService {
            provider: provider.clone(),
            store: store.clone(),
            events: events.clone(),
            subjects: subjects.clone(),
            app_users: Arc::new(crate::sessions::RememberedAppUsers::new(
                crate::sessions::REMEMBERED_APP_USERS,
            )),
        };
        let account = AccountService {
            provider: provider.clone(),
            store: store.clone(),
            events: events.clone(),
            notifier: mail.clone(),
            policy: policy.clone(),
            verification_ttl: Duration::from_secs(settings.password_verification_ttl),
            notices: notices.clone(),
            recovery_codes: recovery_codes.clone(),
            sessions: sessions.clone(),
            protection: protection.clone(),
        };
        let logins = LoginTransactions {
            store: store.clone(),
            provider: provider.id.clone(),
            ttl: Duration::from_secs(settings.challenge_ttl),
        };
        let policies = Arc::new(PolicyCache::new());
        let decisions = DecisionService {
            store: store.clone(),
            subjects: subjects.clone(),
            policies: policies.clone(),
        };
        let clients = Clients {
            store: store.clone(),
            events: events.clone(),
            machine: Arc::new(MachineTokens {
                keys: key_ring,
                issuer: settings.issuer(),
                ttl: Duration::from_secs(settings.access_token_ttl),
            }),
            remembered: Arc::new(crate::clients::RememberedClients::new(1_000)),
        };
        let authn = Authenticator::new(
            sessions.clone(),
            clients.clone(),
            guard,
            id_token_guard,
            machine_guard,
            settings.issuer(),
        );
        let sign_in = SignInService {
            provider: provider.clone(),
            events: events.clone(),
            policy,
            sign_up_reveals_existing: settings.sign_up_reveals_existing,
            notices: notices.clone(),
            sessions: sessions.clone(),
            recovery_codes: recovery_codes.clone(),
            logins: logins.clone(),
            protection: protection.clone(),
        };
        let passkeys = PasskeyService {
            provider: provider.clone(),
            events: events.clone(),
            sessions: sessions.clone(),
            logins: logins.clone(),
            notices: notices.clone(),
            relying_party_id: relying_party.as_ref().map(|rp| rp.id.clone()),
            protection: protection.clone(),
        };
        let authorization = AuthorizationService {
            store: store.clone(),
            clients: clients.clone(),
            sign_in: sign_in.clone(),
            passkeys: passkeys.clone(),
            sessions: sessions.clone(),
            events: events.clone(),
            tokens: clients.machine.clone(),
            provider_name: provider.name().to_string(),
            refresh_key: code_flow_refresh_key(&store).await?,
            refresh_ttl: Duration::from_secs(settings.refresh_token_ttl),
            reuse_interval: Duration::from_secs(settings.refresh_reuse_interval),
            identity_providers: identity_providers.clone(),
        };
        let federation = crate::federation::FederationService {
            providers: identity_providers.clone(),
            logins: logins.clone(),
            store: store.clone(),
            provider: provider.clone(),
            authorization: authorization.clone(),
            subjects: subjects.clone(),
            events: events.clone(),
            redirect_uri: format!("{}/oauth2/idpresponse", settings.issuer()),
        };
        Ok(Self {
            federation,
            sign_in,
            authorization,
            passkeys: passkeys.clone(),
            mfa: MfaService {
                provider: provider.clone(),
                store: store.clone(),
                events: events.clone(),
                notifier: mail.clone(),
                notices: notices.clone(),
                recovery_codes,
                sessions: sessions.clone(),
                subjects: subjects.clone(),
                account: account.clone(),
                logins,
                protection: protection.clone(),
            },
            admin_users: AdminUsers {
                provider: provider.clone(),
                store: store.clone(),
                events: events.clone(),
                notifier: mail,
                notices,
                subjects: subjects.clone(),
                sign_up_reveals_existing: settings.sign_up_reveals_existing,
                protection: protection.clone(),
            },
            tenants: TenantService {
                provider: provider.clone(),
                store: store.clone(),
                events: events.clone(),
                subjects: subjects.clone(),
            },
            catalog: CatalogService {
                store: store.clone(),
                events: events.clone(),
                subjects: subjects.clone(),
                policies,
            },
            forward: ForwardAuth {
                rules: Arc::new(forward_rules),
                decisions: decisions.clone(),
                subjects: subjects.clone(),
                store: store.clone(),
            },
            discovery: Discovery {
                provider,
                clients: clients.clone(),
            },
            sessions,
            account,
            decisions,
            clients,
            subjects,
            authn,
            protection,
            settings,
            store,
            events,
            notifier,
            background,
            identity_providers,
        })
    }

    /// Can this instance serve? The database must answer. Redis is
    /// reported, not required: without it this instance counts alone.
    pub async fn ready(&self) -> Result<Readiness, authgate_core::AuthError> {
        self.store
            .ping()
            .await
            .map_err(|_| authgate_core::AuthError::StoreUnavailable)?;
        Ok(Readiness {
            redis: self
                .settings
                .redis_url
                .as_deref()
                .filter(|u| !u.trim().is_empty())
                .map(|_| self.protection.shared_store_up()),
        })
    }

    /// Stop the background tasks, write the queued audit events, let mail
    /// under way go out (at most `grace`), close the database.
    pub async fn close(&self, grace: Duration) {
        for task in &self.background {
            task.abort();
        }
        self.events.flush().await;
        let undelivered = self.notifier.drain(grace).await;
        if undelivered > 0 {
            tracing::warn!(undelivered, "mail still being delivered at exit");
        }
        self.store.close().await;
    }
}

#[cfg(feature = "cognito")]
async fn cognito_provider(settings: &Settings) -> anyhow::Result<Provider> {
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
    let provider = Arc::new(provider);
    let passkeys = provider.clone();
    Ok(Provider::new(provider).with_passkeys(passkeys))
}

#[cfg(not(feature = "cognito"))]
async fn cognito_provider(_settings: &Settings) -> anyhow::Result<Provider> {
    anyhow::bail!(
        "this build of authgate has no Cognito provider: build it with `--features cognito`"
    )
}
