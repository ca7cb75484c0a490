//! The [`Counters`] port: the two kinds of shared state abuse protection
//! needs, with one semantics for every implementation.
//!
//! - **Budgets** ([`Counters::charge`]): a generic cell rate algorithm
//!   (GCRA). A budget of `limit` per `window` allows a burst of `limit`
//!   requests and refills one every `window / limit`. The state is one
//!   number per key, the theoretical arrival time.
//! - **Failure records** ([`Counters::add_failure`]): consecutive failures
//!   of one identifier and the time of the last one; the wait they impose
//!   follows [`FailurePolicy`].
//!
//! [`LocalCounters`] keeps both in this process; `RedisCounters`
//! ([`super::redis`]) keeps them in Redis with the same arithmetic in Lua
//! and falls back to a `LocalCounters` while Redis is away.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `limit` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub limit: u32,
    pub window: Duration,
}

impl Budget {
    /// Microseconds between two refills: `window / limit`.
    pub(crate) fn interval_micros(&self) -> u64 {
        (self.window.as_micros() as u64 / u64::from(self.limit.max(1))).max(1)
    }
}

/// When failures start to cost time, and when they stop decaying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailurePolicy {
    /// Consecutive failures before each further one imposes a wait.
    pub threshold: u32,
    /// The longest wait.
    pub max_wait: Duration,
    /// Consecutive failures after which the record no longer decays.
    pub hard_limit: u32,
    /// A record below the hard limit is forgotten this long after its last failure.
    pub decay: Duration,
    /// A record at the hard limit is kept this long (so that the store of
    /// identifiers that never had an account stays bounded).
    pub hard_retention: Duration,
}

impl Default for FailurePolicy {
    fn default() -> Self {
        Self {
            threshold: 5,
            max_wait: Duration::from_secs(900),
            hard_limit: 100,
            decay: Duration::from_secs(15 * 60),
            hard_retention: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

impl FailurePolicy {
    /// The wait imposed by `count` failures, `since_last` after the last:
    /// 2^(count − threshold) seconds from the last failure, at most `max_wait`.
    pub fn wait(&self, count: u32, since_last: Duration) -> Duration {
        if count < self.threshold || count == 0 {
            return Duration::ZERO;
        }
        let exponent = (count - self.threshold).min(30);
        let full = Duration::from_secs(1u64 << exponent).min(self.max_wait);
        full.saturating_sub(since_last)
    }

    /// How long a record of `count` failures is kept after its last one.
    pub fn retention(&self, count: u32) -> Duration {
        if count >= self.hard_limit {
            self.hard_retention
        } else {
            self.decay
        }
    }
}

/// The failure record of one identifier, as read now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failures {
    /// Consecutive failures (0: no record).
    pub count: u32,
    /// How long until the next attempt may be checked (zero: now).
    pub wait: Duration,
}

/// Shared counters. No method fails: an implementation that loses its
/// backing store answers from a local one instead (and says so in its
/// metrics), so a dependency outage never becomes a 5xx.
#[async_trait]
pub trait Counters: Send + Sync {
    /// Charge one request to `key`: `Ok`, or how long until it would fit.
    async fn charge(&self, key: &str, budget: Budget) -> Result<(), Duration>;
    /// The failure record of `key`.
    async fn failures(&self, key: &str, policy: &FailurePolicy) -> Failures;
    /// Add one failure to `key`'s record; the record after it.
    async fn add_failure(&self, key: &str, policy: &FailurePolicy) -> Failures;
    /// Forget `key`'s failures (a success, an administrator, a reset).
    async fn clear_failures(&self, key: &str);
    /// Is the shared store reachable? (Always true for local counters.)
    fn shared_store_up(&self) -> bool {
        true
    }
}

#[derive(Debug, Clone, Copy)]
struct FailureRecord {
    count: u32,
    last: Instant,
}

/// Counters in this process: one table of budgets, one of failure records,
/// each behind a mutex held for a few arithmetic operations.
pub struct LocalCounters {
    started: Instant,
    /// Theoretical arrival time of each budget, in µs since `started`.
    budgets: Mutex<HashMap<String, u64>>,
    failures: Mutex<HashMap<String, FailureRecord>>,
}

impl Default for LocalCounters {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalCounters {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            budgets: Mutex::default(),
            failures: Mutex::default(),
        }
    }

    fn now_micros(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    /// Forget budgets that are full again and failure records past their
    /// retention, so the tables do not grow without bound.
    pub fn housekeeping(&self, policy: &FailurePolicy) {
        let now = self.now_micros();
        lock(&self.budgets).retain(|_, tat| *tat > now);
        lock(&self.failures)
            .retain(|_, record| record.last.elapsed() < policy.retention(record.count));
    }

    fn charge_now(&self, key: &str, budget: Budget) -> Result<(), Duration> {
        let now = self.now_micros();
        let interval = budget.interval_micros();
        let burst = interval.saturating_mul(u64::from(budget.limit));
        let mut budgets = lock(&self.budgets);
        let tat = budgets.get(key).copied().unwrap_or(now).max(now);
        let next = tat + interval;
        if next - now > burst {
            return Err(Duration::from_micros(next - now - burst));
        }
        budgets.insert(key.to_string(), next);
        Ok(())
    }

    fn read(&self, key: &str, policy: &FailurePolicy) -> Failures {
        let failures = lock(&self.failures);
        match failures.get(key) {
            Some(record) if record.last.elapsed() < policy.retention(record.count) => Failures {
                count: record.count,
                wait: policy.wait(record.count, record.last.elapsed()),
            },
            _ => Failures::default(),
        }
    }

    fn add(&self, key: &str, policy: &FailurePolicy) -> Failures {
        let mut failures = lock(&self.failures);
        let count = match failures.get(key) {
            Some(record) if record.last.elapsed() < policy.retention(record.count) => {
                record.count.saturating_add(1)
            }
            _ => 1,
        };
        failures.insert(
            key.to_string(),
            FailureRecord {
                count,
                last: Instant::now(),
            },
        );
        Failures {
            count,
            wait: policy.wait(count, Duration::ZERO),
        }
    }
}

/// A poisoned lock still holds consistent numbers: take it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[async_trait]
impl Counters for LocalCounters {
    async fn charge(&self, key: &str, budget: Budget) -> Result<(), Duration> {
        self.charge_now(key, budget)
    }

    async fn failures(&self, key: &str, policy: &FailurePolicy) -> Failures {
        self.read(key, policy)
    }

    async fn add_failure(&self, key: &str, policy: &FailurePolicy) -> Failures {
        self.add(key, policy)
    }

    async fn clear_failures(&self, key: &str) {
        lock(&self.failures).remove(key);
    }
}

/// The behaviour every [`Counters`] implementation shares, run by the unit
/// tests here on [`LocalCounters`] and by the Redis tests on Redis.
#[doc(hidden)]
pub mod conformance {
    use super::*;

    /// A budget allows its burst, then refuses with a wait of about one
    /// refill; keys do not share budgets.
    pub async fn budgets(counters: &dyn Counters, prefix: &str) {
        let budget = Budget {
            limit: 3,
            window: Duration::from_secs(30),
        };
        let key = format!("{prefix}:a");
        for n in 1..=3 {
            assert_eq!(counters.charge(&key, budget).await, Ok(()), "request {n}");
        }
        let wait = counters
            .charge(&key, budget)
            .await
            .expect_err("the fourth request is over the budget");
        assert!(
            wait > Duration::from_secs(8) && wait <= Duration::from_secs(10),
            "one refill is 10 s away, not {wait:?}"
        );
        assert_eq!(
            counters.charge(&format!("{prefix}:b"), budget).await,
            Ok(()),
            "another key has its own budget"
        );
        let fast = Budget {
            limit: 1,
            window: Duration::from_millis(200),
        };
        let key = format!("{prefix}:fast");
        assert_eq!(counters.charge(&key, fast).await, Ok(()));
        assert!(counters.charge(&key, fast).await.is_err());
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(counters.charge(&key, fast).await, Ok(()), "refilled");
    }

    /// Failures count up, impose Cognito's doubling wait past the
    /// threshold, and are forgotten on a clear.
    pub async fn failures(counters: &dyn Counters, prefix: &str) {
        let policy = FailurePolicy {
            threshold: 2,
            max_wait: Duration::from_secs(4),
            hard_limit: 6,
            ..FailurePolicy::default()
        };
        let key = format!("{prefix}:fail");
        assert_eq!(counters.failures(&key, &policy).await, Failures::default());
        let mut waits = Vec::new();
        for _ in 0..6 {
            let record = counters.add_failure(&key, &policy).await;
            waits.push((record.count, record.wait.as_secs_f64().round() as u64));
        }
        assert_eq!(
            waits,
            [(1, 0), (2, 1), (3, 2), (4, 4), (5, 4), (6, 4)],
            "2^(n−threshold) s, at most max_wait"
        );
        let read = counters.failures(&key, &policy).await;
        assert_eq!(read.count, 6);
        assert!(read.wait > Duration::from_secs(3));
        counters.clear_failures(&key).await;
        assert_eq!(counters.failures(&key, &policy).await, Failures::default());

        let short = FailurePolicy {
            decay: Duration::from_millis(200),
            ..policy
        };
        let key = format!("{prefix}:decay");
        counters.add_failure(&key, &short).await;
        counters.add_failure(&key, &short).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            counters.add_failure(&key, &short).await.count,
            1,
            "a record older than the decay is forgotten"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_budgets_follow_the_shared_semantics() {
        conformance::budgets(&LocalCounters::new(), "t").await;
    }

    #[tokio::test]
    async fn local_failures_follow_the_shared_semantics() {
        conformance::failures(&LocalCounters::new(), "t").await;
    }

    #[test]
    fn the_wait_doubles_from_the_threshold_and_counts_down() {
        let policy = FailurePolicy::default();
        let cases = [
            (4, 0, 0),
            (5, 0, 1),
            (6, 0, 2),
            (10, 0, 32),
            (14, 0, 512),
            (15, 0, 900),
            (99, 0, 900),
            (10, 30, 2),
            (10, 40, 0),
        ];
        for (count, elapsed, wait) in cases {
            assert_eq!(
                policy.wait(count, Duration::from_secs(elapsed)),
                Duration::from_secs(wait),
                "{count} failures, {elapsed} s ago"
            );
        }
    }

    #[test]
    fn housekeeping_forgets_full_budgets_and_old_records() {
        let counters = LocalCounters::new();
        let budget = Budget {
            limit: 1,
            window: Duration::from_millis(1),
        };
        assert!(counters.charge_now("k", budget).is_ok());
        let policy = FailurePolicy {
            decay: Duration::ZERO,
            ..FailurePolicy::default()
        };
        counters.add("f", &policy);
        std::thread::sleep(Duration::from_millis(5));
        counters.housekeeping(&policy);
        assert!(lock(&counters.budgets).is_empty());
        assert!(lock(&counters.failures).is_empty());
    }
}
