//! Settings of the Cognito provider ([`CognitoConfig`]), where the AWS SDK
//! gets its credentials ([`AwsCredentials`]), and the one place that builds
//! the SDK client: explicit region, optional endpoint (moto, LocalStack),
//! retries off and bounded timeouts.
//!
//! Retries are off on purpose: an emulator answers the operations it does not
//! implement with HTTP 500, which the SDK would retry three times, and a
//! sign-in should fail fast rather than pile up behind a sick provider.

use authgate_core::Secret;
use aws_config::BehaviorVersion;
use aws_config::Region;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::config::Credentials;
use std::fmt;
use std::time::Duration;

/// How long to wait for a TCP (and TLS) connection to Cognito.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one Cognito operation may take in all.
pub(crate) const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long fetching the pool's JWKS may take.
pub(crate) const JWKS_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of the Cognito provider: which pool and app client to talk to.
#[derive(Clone, PartialEq, Eq)]
pub struct CognitoConfig {
    /// AWS region of the user pool, e.g. `eu-west-1`.
    pub region: String,
    /// The user pool id, e.g. `eu-west-1_AbCdEf123`.
    pub user_pool_id: String,
    /// The app client id.
    pub client_id: String,
    /// The app client secret, when the client has one: every user-facing
    /// call then carries a `SECRET_HASH`. Never printed by `Debug`.
    pub client_secret: Option<String>,
    /// Another endpoint than AWS's (moto, LocalStack), e.g. `http://127.0.0.1:5000`.
    pub endpoint_url: Option<String>,
}

impl fmt::Debug for CognitoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CognitoConfig")
            .field("region", &self.region)
            .field("user_pool_id", &self.user_pool_id)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("endpoint_url", &self.endpoint_url)
            .finish()
    }
}

/// Where the AWS SDK takes the credentials that sign the admin calls
/// (bootstrap and the provider's `admin_*` methods; the user-facing calls
/// are unsigned).
///
/// [`AwsCredentials::DefaultChain`] is what production uses: environment,
/// profile, web identity, ECS, IMDS. [`AwsCredentials::Static`] exists for
/// tests against an emulator (the workspace forbids `unsafe`, so a test cannot
/// `std::env::set_var` dummy keys) and for deployments that hand keys over
/// explicitly.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum AwsCredentials {
    /// The standard AWS credential chain.
    #[default]
    DefaultChain,
    /// Fixed keys.
    Static {
        access_key_id: String,
        secret_access_key: Secret,
    },
}

impl AwsCredentials {
    /// Fixed keys, e.g. `AwsCredentials::fixed("test", "test")` for moto.
    pub fn fixed(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        AwsCredentials::Static {
            access_key_id: access_key_id.into(),
            secret_access_key: Secret::new(secret_access_key.into()),
        }
    }
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AwsCredentials::DefaultChain => f.write_str("DefaultChain"),
            AwsCredentials::Static { access_key_id, .. } => f
                .debug_struct("Static")
                .field("access_key_id", access_key_id)
                .field("secret_access_key", &"[redacted]")
                .finish(),
        }
    }
}

/// Build the Cognito SDK client: explicit region, optional endpoint,
/// retries off, connect / operation timeouts.
pub(crate) async fn sdk_client(
    region: &str,
    endpoint_url: Option<&str>,
    credentials: &AwsCredentials,
) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        );
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let AwsCredentials::Static {
        access_key_id,
        secret_access_key,
    } = credentials
    {
        loader = loader.credentials_provider(Credentials::new(
            access_key_id.clone(),
            secret_access_key.expose().to_owned(),
            None,
            None,
            "authgate-static",
        ));
    }
    Client::new(&loader.load().await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_secrets() {
        let config = CognitoConfig {
            region: "us-east-1".into(),
            user_pool_id: "us-east-1_pool".into(),
            client_id: "client".into(),
            client_secret: Some("very-secret-value".into()),
            endpoint_url: None,
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("very-secret-value"), "{printed}");
        assert!(printed.contains("[redacted]"));

        let creds = AwsCredentials::fixed("AKIDEXAMPLE", "wJalrXUtnFEMI");
        let printed = format!("{creds:?}");
        assert!(!printed.contains("wJalrXUtnFEMI"), "{printed}");
        assert!(printed.contains("AKIDEXAMPLE"));
    }
}
