//! Abuse protection shared by every front end (`contracts/protection.md`):
//!
//! | module | owns |
//! |---|---|
//! | [`counters`] | the [`Counters`] port (budgets and failure records) and its in-process implementation |
//! | [`redis`] | the port on Redis, for many instances, with a local fallback |
//! | [`limits`] | rate-limit groups, `AUTHGATE_RATE_LIMITS`, the [`Throttle`] |
//! | [`lockout`] | failed attempts per identifier and factor, the [`Lockout`] |
//!
//! [`Protection::build`] picks the counters from the settings and starts
//! their background work.

pub mod counters;
pub mod limits;
pub mod lockout;
pub mod redis;

pub use counters::{Budget, Counters, FailurePolicy, Failures, LocalCounters};
pub use limits::{Group, RateLimits, Throttle, budget_key};
pub use lockout::{Factor, FactorLockout, Lockout};

use aws_lc_rs::digest;
use std::sync::Arc;
use std::time::Duration;

/// The key an identifier (a normalised email) is counted under: a digest,
/// so the shared store holds no addresses.
pub fn identifier_key(identifier: &str) -> String {
    let digest = digest::digest(&digest::SHA256, identifier.as_bytes());
    digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The identifier a signed-in user's password and code checks are counted
/// under (a token holder guessing the password is locked out like anyone).
pub fn signed_in_identifier(sub: &str) -> String {
    format!("sub:{sub}")
}

/// The counters, the throttle and the lockout of one instance.
#[derive(Clone)]
pub struct Protection {
    pub throttle: Throttle,
    pub lockout: Lockout,
    counters: Arc<dyn Counters>,
}

impl Protection {
    /// From the settings: Redis when `redis_url` is set (with a local
    /// fallback), else local counters. Returns the background tasks
    /// (housekeeping, the Redis probe) to keep and abort at shutdown.
    pub async fn build(
        redis_url: Option<&str>,
        limits: RateLimits,
        policy: FailurePolicy,
    ) -> Result<(Self, Vec<tokio::task::JoinHandle<()>>), String> {
        let local = Arc::new(LocalCounters::new());
        let mut background = Vec::new();
        {
            let local = local.clone();
            background.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    local.housekeeping(&policy);
                }
            }));
        }
        let counters: Arc<dyn Counters> = match redis_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => {
                let redis = redis::RedisCounters::new(url, local)
                    .map_err(|e| format!("AUTHGATE_REDIS_URL: {e}"))?;
                if redis.probe().await {
                    tracing::info!("rate limits and lockouts are shared through Redis");
                }
                background.push(redis.spawn_probe());
                redis
            }
            None => local,
        };
        Ok((
            Self {
                throttle: Throttle::new(counters.clone(), limits),
                lockout: Lockout::new(counters.clone(), policy),
                counters,
            },
            background,
        ))
    }

    /// Is the shared store (Redis) reachable? True without one.
    pub fn shared_store_up(&self) -> bool {
        self.counters.shared_store_up()
    }
}
