//! The `authgate` command: `serve`, `migrate`, `keys rotate`, `admin …`,
//! `cognito bootstrap`.
//!
//! Configuration comes from an optional TOML file (`--config FILE`) and the
//! `AUTHGATE_*` environment variables, which override the file. With nothing
//! configured, `authgate serve` listens on 127.0.0.1:8080 with the embedded
//! provider, SQLite under `./authgate-data/` and mail written to
//! `./authgate-data/outbox/`.

use anyhow::Context;
use authgate_http::App;
use authgate_service::AdminActor;
use authgate_service::clients::ClientRequest;
use authgate_service::settings::LogFormat;
use authgate_service::{Services, Settings};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// mimalloc rather than glibc's allocator: a request allocates and frees
/// many small buffers on whichever worker thread runs it, which glibc pays
/// for in arena locking and consolidation (a fifth of the protected
/// request's time in a profile) and in memory it keeps per thread.
///
/// Built without transparent huge pages (feature `no_thp`): with THP on
/// `madvise`, mimalloc advises its arenas huge, and each touched 4 KiB
/// becomes 2 MiB resident (bench: peak 106 -> 86 MiB under sign-in load).
/// `MIMALLOC_PURGE_DELAY=0` returns freed memory at once (peak ~72 MiB).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "authgate", version, about = "A self-hostable Auth API", long_about = None,
    after_help = "Environment (override the config file): AUTHGATE_LISTEN, AUTHGATE_PUBLIC_URL, \
AUTHGATE_DATA_DIR, AUTHGATE_DATABASE_URL, AUTHGATE_PROVIDER, AUTHGATE_MFA, AUTHGATE_SMTP_URL, \
AUTHGATE_MAIL_FROM, AUTHGATE_CORS_ORIGINS, AUTHGATE_ACCESS_TOKEN_TTL, AUTHGATE_REFRESH_TOKEN_TTL, \
AUTHGATE_SIGN_UP_CODE_TTL, AUTHGATE_CLIENT_ID, AUTHGATE_MAX_BODY_BYTES, \
AUTHGATE_PASSWORD_MIN_LENGTH, AUTHGATE_HASH_CONCURRENCY, AUTHGATE_SHUTDOWN_GRACE, AUTHGATE_LOG, \
AUTHGATE_LOG_FORMAT (text|json), AUTHGATE_REDIS_URL, AUTHGATE_RATE_LIMITS (`sign-in=30/300s,…` or off), \
AUTHGATE_LOCKOUT_THRESHOLD, AUTHGATE_LOCKOUT_MAX_SECONDS, AUTHGATE_MAX_FAILED_ATTEMPTS, AUTHGATE_TRUSTED_PROXIES, AUTHGATE_FORWARD_RULES (gateway route rules: \
`METHODS PATH GRANT; …`), AUTHGATE_FORWARD_DEFAULT (authenticated|deny). See README.md for every setting.")]
struct Cli {
    /// A TOML file with settings (keys as in the environment, lower-case, without the prefix).
    #[arg(long, global = true, env = "AUTHGATE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (migrations run at start; SIGTERM drains and exits 0).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Signing keys of the embedded provider.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Users, platform roles and machine clients.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Cognito tooling (builds with `--features cognito`).
    #[cfg(feature = "cognito")]
    Cognito {
        #[command(subcommand)]
        command: CognitoCommand,
    },
}

#[cfg(feature = "cognito")]
#[derive(Subcommand)]
enum CognitoCommand {
    /// Create a user pool and app client with CognitoApi's settings (email as
    /// username, TOTP MFA, the 14-character password policy, 1 h access and id
    /// tokens, 24 h refresh) and print the AUTHGATE_COGNITO_* values. With a
    /// passkey relying party (AUTHGATE_WEBAUTHN_RP_ID, or a public URL on a
    /// domain), passkeys too: Essentials tier, PASSWORD and WEB_AUTHN sign-in
    /// factors, user verification, ALLOW_USER_AUTH. Uses
    /// AUTHGATE_COGNITO_REGION and AUTHGATE_COGNITO_ENDPOINT_URL, and AWS
    /// credentials from the standard chain.
    Bootstrap {
        #[arg(long, default_value = "authgate")]
        pool_name: String,
        #[arg(long, default_value = "authgate")]
        client_name: String,
        /// Give the app client a secret (authgate then sends SECRET_HASH).
        #[arg(long)]
        with_secret: bool,
        /// Make MFA required for every user (default: optional).
        #[arg(long)]
        mfa_required: bool,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account; its temporary password is mailed (`Temporary password: …`).
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        phone: Option<String>,
    },
    /// Give the account with this email a platform role (e.g. `admin`).
    GrantPlatformRole {
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: String,
    },
    /// Register a client: without redirect URIs a machine client of
    /// `client_credentials`, with them an app client of the authorization code
    /// flow. Prints `client_id=` and, for a confidential client, its
    /// `client_secret=` (shown once and stored hashed). The scope `admin`
    /// opens the admin API.
    CreateClient {
        #[arg(long)]
        name: String,
        /// `public` (a SPA or mobile app: no secret, PKCE) or `confidential`.
        #[arg(long = "type", default_value = "confidential")]
        client_type: String,
        /// An exact redirect URI (repeatable): https, http on a loopback host,
        /// or a private-use scheme (`com.example.app:/cb`) for public clients.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// Where `/oauth2/logout` may send the browser (repeatable).
        #[arg(long = "post-logout-uri")]
        post_logout_uris: Vec<String>,
        /// Comma-separated scopes, e.g. `orders:read,admin` or
        /// `openid,email,profile` (the default for an app client).
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// Comma-separated: `authorization_code`, `refresh_token`,
        /// `client_credentials` (default: the first two with redirect URIs,
        /// the last without).
        #[arg(long = "grant-types", value_delimiter = ',')]
        grant_types: Vec<String>,
        /// Ask users before the client gets a code.
        #[arg(long)]
        consent: bool,
    },
    /// Revoke a client: its secret and its tokens stop working at once.
    RevokeClient {
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new signing key of AUTHGATE_SIGNING_ALG (ES256 by default). The old one stays in
    /// the JWKS until the tokens it signed expire.
    Rotate,
    /// Re-encrypt every secret at rest under the configured encryption key
    /// (AUTHGATE_ENCRYPTION_KEY or _FILE, or the generated key file), opening
    /// them with the previous key. Stop the servers first; start them with the new key.
    Rewrap {
        /// The file holding the previous key (base64 of 32 bytes).
        #[arg(long)]
        old_key_file: PathBuf,
    },
}

/// What `admin create-client` prints: `key=value` lines a script can read,
/// the secret (confidential clients only) shown this once.
fn created_client_text(
    client: &authgate_store::clients::Client,
    secret: Option<&authgate_core::Secret>,
) -> String {
    let grants: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
    let mut text = format!("client_id={}\n", client.id);
    if let Some(secret) = secret {
        text.push_str(&format!("client_secret={}\n", secret.expose()));
    }
    text.push_str(&format!(
        "type={}\nscopes={}\ngrant_types={}\n",
        client.client_type.as_str(),
        client.scopes.join(" "),
        grants.join(" ")
    ));
    for uri in &client.redirect_uris {
        text.push_str(&format!("redirect_uri={uri}\n"));
    }
    if secret.is_some() {
        text.push_str("# the secret is shown only now; authgate keeps a hash");
    } else {
        text.push_str("# a public client has no secret: it signs users in with PKCE");
    }
    text
}

fn load_settings(file: Option<&PathBuf>) -> anyhow::Result<Settings> {
    let mut builder = config::Config::builder();
    if let Some(file) = file {
        builder = builder.add_source(config::File::from(file.as_path()).required(true));
    }
    builder
        .add_source(
            config::Environment::with_prefix("AUTHGATE")
                .prefix_separator("_")
                .try_parsing(true),
        )
        .build()
        .context("cannot read the configuration")?
        .try_deserialize()
        .context("invalid configuration")
}

fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match settings.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = load_settings(cli.config.as_ref())?;
    init_logging(&settings);
    match cli.command {
        Command::Serve => {
            let listen = settings.listen.clone();
            let app = App::build(settings).await?;
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let addr = listener.local_addr()?;
            tracing::info!(%addr, "listening on http://{addr}");
            app.serve(listener, shutdown_signal()).await
        }
        Command::Migrate => {
            let store = authgate_service::open_store(&settings).await?;
            store.close().await;
            println!("migrations applied");
            Ok(())
        }
        #[cfg(feature = "cognito")]
        Command::Cognito {
            command:
                CognitoCommand::Bootstrap {
                    pool_name,
                    client_name,
                    with_secret,
                    mfa_required,
                },
        } => {
            let region = settings
                .cognito_region
                .clone()
                .context("set AUTHGATE_COGNITO_REGION (e.g. us-east-1)")?;
            let result = authgate_cognito::bootstrap(
                &region,
                settings.cognito_endpoint_url.as_deref(),
                &authgate_cognito::BootstrapOptions {
                    pool_name,
                    client_name,
                    generate_secret: with_secret,
                    mfa_required,
                    webauthn_relying_party: settings
                        .relying_party()
                        .map_err(anyhow::Error::msg)?
                        .map(|rp| rp.id),
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("bootstrap failed: {e}"))?;
            print!("{}", result.to_env());
            if let Some(endpoint) = &settings.cognito_endpoint_url {
                println!("AUTHGATE_COGNITO_ENDPOINT_URL={endpoint}");
            }
            Ok(())
        }
        Command::Admin { command } => {
            // The services without a router: the same rules as the API.
            let services = Services::build(settings).await?;
            let operator = AdminActor::operator();
            let result = match command {
                AdminCommand::CreateUser { email, name, phone } => services
                    .admin_users
                    .admin_create_user(&Default::default(), &operator, &email, name, phone)
                    .await
                    .map(|user| {
                        format!(
                            "created {} (id {}, sub {}); the temporary password was mailed",
                            user.account.email, user.app_user.id, user.account.sub
                        )
                    }),
                AdminCommand::CreateClient {
                    name,
                    client_type,
                    redirect_uris,
                    post_logout_uris,
                    scopes,
                    grant_types,
                    consent,
                } => {
                    let request = ClientRequest {
                        name,
                        client_type: Some(client_type),
                        redirect_uris,
                        post_logout_uris,
                        scopes,
                        grant_types,
                        consent,
                    };
                    services
                        .clients
                        .create_client(&Default::default(), &operator, &request)
                        .await
                        .map(|(client, secret)| created_client_text(&client, secret.as_ref()))
                }
                AdminCommand::RevokeClient { id } => services
                    .clients
                    .revoke_client(&Default::default(), &operator, &id)
                    .await
                    .map(|()| format!("client {id} revoked")),
                AdminCommand::GrantPlatformRole { email, role } => services
                    .admin_users
                    .grant_platform_role(&operator, &email, &role)
                    .await
                    .map(|user| {
                        format!(
                            "{email} (app user {}) now has the platform role {role}",
                            user.id
                        )
                    }),
            };
            services.close(std::time::Duration::from_secs(20)).await;
            match result {
                Ok(line) => {
                    println!("{line}");
                    Ok(())
                }
                Err(err) => Err(anyhow::anyhow!("{}", err.public_detail())),
            }
        }
        Command::Keys {
            command: KeysCommand::Rewrap { old_key_file },
        } => {
            let done = authgate_service::rewrap_secrets(&settings, &old_key_file).await?;
            println!(
                "re-encrypted under key {new}: {} secrets sealed under key {old}, {} stored in \
                 plain text; {} were already under key {new}",
                done.report.rewrapped,
                done.report.sealed_plain,
                done.report.current,
                new = done.new_key,
                old = done.old_key,
            );
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate,
        } => {
            let store = authgate_service::open_store(&settings).await?;
            let alg = settings.signing_alg;
            let kid = authgate_embedded::keys::generate_and_store(&store, alg)
                .await
                .map_err(|e| anyhow::anyhow!("cannot rotate keys: {e}"))?;
            store.close().await;
            println!(
                "new signing key {kid}; it signs with {alg}, and the previous key stays published \
                 until its tokens expire"
            );
            Ok(())
        }
    }
}
