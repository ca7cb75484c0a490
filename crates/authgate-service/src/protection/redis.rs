//! [`RedisCounters`]: the [`Counters`] port on Redis (`AUTHGATE_REDIS_URL`),
//! so that every instance charges the same budgets and counts the same
//! failures. Each operation is one Lua script, atomic on the server and
//! timed by the server's clock (`TIME`), so instances with skewed clocks
//! still agree.
//!
//! Redis going away must never become a 5xx: when a call fails (or takes
//! longer than [`CALL_TIMEOUT`]), this instance marks Redis down, warns once,
//! sets `authgate_redis_up 0` and answers from its own [`LocalCounters`]
//! until a background probe reaches Redis again. Then it warns again,
//! sets the gauge back to 1 and uses Redis. Counts made locally meanwhile
//! stay local: the limits hold per instance during the outage.

use super::counters::{Budget, Counters, FailurePolicy, Failures, LocalCounters};
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The longest a request waits for Redis before answering from local counters.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// How often a down Redis is probed.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// GCRA: KEYS[1] the budget; ARGV interval µs, limit. Returns the µs to
/// wait (0: charged).
const CHARGE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next = tat + interval
if next - now > burst then return next - now - burst end
redis.call('SET', KEYS[1], string.format('%d', next), 'PX', math.ceil((next - now) / 1000) + 1)
return 0
";

/// The wait of a failure record, shared by the two failure scripts.
const WAIT: &str = r"
local function wait_ms(count, last, now)
  local threshold = tonumber(ARGV[1])
  if count < threshold or count == 0 then return 0 end
  local exponent = math.min(count - threshold, 30)
  local full = math.min(2 ^ exponent * 1000, tonumber(ARGV[2]))
  return math.max(0, math.floor(full - (now - last)))
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
";

/// KEYS[1] the record; ARGV threshold, max wait ms, hard limit, decay ms,
/// hard retention ms. Returns {count, wait ms} after one more failure.
const ADD_FAILURE: &str = r"
local count = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HSET', KEYS[1], 'at', now)
if count >= tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return {count, wait_ms(count, now, now)}
";

/// KEYS[1] the record; ARGV threshold, max wait ms. Returns {count, wait ms}.
const READ_FAILURES: &str = r"
local record = redis.call('HMGET', KEYS[1], 'n', 'at')
local count = tonumber(record[1]) or 0
local last = tonumber(record[2]) or now
return {count, wait_ms(count, last, now)}
";

/// Counters in Redis, with this process's own as the fallback.
pub struct RedisCounters {
    connection: ConnectionManager,
    up: AtomicBool,
    local: Arc<LocalCounters>,
    prefix: String,
    charge: redis::Script,
    add_failure: redis::Script,
    read_failures: redis::Script,
}

impl RedisCounters {
    /// Counters at `url` (`redis://host:port[/db]`). Connecting is lazy:
    /// an unreachable Redis at start is an outage like any other, not a
    /// start-up failure. A malformed URL is refused, and so is `rediss://`
    /// (this build has no TLS for Redis), saying why.
    pub fn new(url: &str, local: Arc<LocalCounters>) -> Result<Arc<Self>, String> {
        if url.starts_with("rediss://") || url.starts_with("valkeys://") {
            return Err(
                "TLS to Redis (rediss://) is not built in: use redis:// on a private network, or a TLS tunnel"
                    .into(),
            );
        }
        let client =
            redis::Client::open(url).map_err(|e| format!("cannot use this Redis URL: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("cannot use Redis: {e}"))?;
        metrics::gauge!("authgate_redis_up").set(1.0);
        Ok(Arc::new(Self {
            connection,
            up: AtomicBool::new(true),
            local,
            prefix: "authgate:".into(),
            charge: redis::Script::new(CHARGE),
            add_failure: redis::Script::new(&format!("{WAIT}{ADD_FAILURE}")),
            read_failures: redis::Script::new(&format!("{WAIT}{READ_FAILURES}")),
        }))
    }

    /// Check Redis now; mark it up or down. The background probe calls this
    /// while Redis is down; start-up calls it once.
    pub async fn probe(&self) -> bool {
        let mut connection = self.connection.clone();
        let pong = tokio::time::timeout(
            CALL_TIMEOUT,
            redis::cmd("PING").query_async::<String>(&mut connection),
        )
        .await;
        match pong {
            Ok(Ok(_)) => {
                self.mark_up();
                true
            }
            Ok(Err(err)) => {
                self.mark_down(&err.to_string());
                false
            }
            Err(_) => {
                self.mark_down("no answer in time");
                false
            }
        }
    }

    /// Probe while Redis is down, and publish `authgate_redis_up`, every
    /// [`PROBE_INTERVAL`], forever (the caller keeps the handle).
    pub fn spawn_probe(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let counters = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PROBE_INTERVAL);
            loop {
                tick.tick().await;
                if !counters.up.load(Ordering::Relaxed) {
                    counters.probe().await;
                }
                // Published every tick: the recorder may be installed after
                // these counters were made.
                let up = counters.up.load(Ordering::Relaxed);
                metrics::gauge!("authgate_redis_up").set(if up { 1.0 } else { 0.0 });
            }
        })
    }

    fn mark_up(&self) {
        if !self.up.swap(true, Ordering::Relaxed) {
            tracing::warn!("Redis is reachable again: rate limits and lockouts are shared again");
            metrics::gauge!("authgate_redis_up").set(1.0);
        }
    }

    fn mark_down(&self, why: &str) {
        if self.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                error = %why,
                "Redis is unreachable: rate limits and lockouts are counted by this instance alone until it returns"
            );
            metrics::gauge!("authgate_redis_up").set(0.0);
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Run `script` on Redis, or `None` when Redis is down or fails.
    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        key: &str,
        args: &[u64],
    ) -> Option<T> {
        if !self.up.load(Ordering::Relaxed) {
            return None;
        }
        let mut invocation = script.key(self.key(key));
        for arg in args {
            invocation.arg(*arg);
        }
        let mut connection = self.connection.clone();
        match tokio::time::timeout(CALL_TIMEOUT, invocation.invoke_async(&mut connection)).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(err)) => {
                self.mark_down(&err.to_string());
                None
            }
            Err(_) => {
                self.mark_down("no answer in time");
                None
            }
        }
    }
}

fn policy_args(policy: &FailurePolicy) -> [u64; 5] {
    [
        u64::from(policy.threshold),
        policy.max_wait.as_millis() as u64,
        u64::from(policy.hard_limit),
        (policy.decay.as_millis() as u64).max(1),
        (policy.hard_retention.as_millis() as u64).max(1),
    ]
}

fn failures_of((count, wait_ms): (u32, u64)) -> Failures {
    Failures {
        count,
        wait: Duration::from_millis(wait_ms),
    }
}

#[async_trait]
impl Counters for RedisCounters {
    async fn charge(&self, key: &str, budget: Budget) -> Result<(), Duration> {
        let args = [budget.interval_micros(), u64::from(budget.limit)];
        match self.run::<u64>(&self.charge, key, &args).await {
            Some(0) => Ok(()),
            Some(wait) => Err(Duration::from_micros(wait)),
            None => self.local.charge(key, budget).await,
        }
    }

    async fn failures(&self, key: &str, policy: &FailurePolicy) -> Failures {
        match self
            .run(&self.read_failures, key, &policy_args(policy)[..2])
            .await
        {
            Some(record) => failures_of(record),
            None => self.local.failures(key, policy).await,
        }
    }

    async fn add_failure(&self, key: &str, policy: &FailurePolicy) -> Failures {
        match self.run(&self.add_failure, key, &policy_args(policy)).await {
            Some(record) => failures_of(record),
            None => self.local.add_failure(key, policy).await,
        }
    }

    async fn clear_failures(&self, key: &str) {
        // Both: a record made locally during an outage is cleared too.
        self.local.clear_failures(key).await;
        if self.up.load(Ordering::Relaxed) {
            let mut connection = self.connection.clone();
            let deleted = tokio::time::timeout(
                CALL_TIMEOUT,
                redis::cmd("DEL")
                    .arg(self.key(key))
                    .query_async::<i64>(&mut connection),
            )
            .await;
            match deleted {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => self.mark_down(&err.to_string()),
                Err(_) => self.mark_down("no answer in time"),
            }
        }
    }

    fn shared_store_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protection::counters::conformance;

    /// The machine's Redis (AUTHGATE_TEST_REDIS_URL, default
    /// 127.0.0.1:6379), as CI has it: its absence fails the test.
    fn redis_url() -> String {
        std::env::var("AUTHGATE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
    }

    fn unique(prefix: &str) -> String {
        format!("test:{prefix}:{}", uuid::Uuid::new_v4())
    }

    async fn connected() -> Arc<RedisCounters> {
        let counters = RedisCounters::new(&redis_url(), Arc::new(LocalCounters::new())).unwrap();
        assert!(
            counters.probe().await,
            "Redis must be reachable at {} for these tests",
            redis_url()
        );
        counters
    }

    #[tokio::test]
    async fn redis_budgets_follow_the_shared_semantics() {
        let counters = connected().await;
        conformance::budgets(counters.as_ref(), &unique("budget")).await;
        assert!(counters.shared_store_up());
    }

    #[tokio::test]
    async fn redis_failures_follow_the_shared_semantics() {
        let counters = connected().await;
        conformance::failures(counters.as_ref(), &unique("failures")).await;
    }

    #[tokio::test]
    async fn two_instances_share_one_budget_through_redis() {
        let a = connected().await;
        let b = connected().await;
        let key = unique("shared");
        let budget = Budget {
            limit: 4,
            window: Duration::from_secs(60),
        };
        for n in 0..4 {
            let instance = if n % 2 == 0 { &a } else { &b };
            assert_eq!(instance.charge(&key, budget).await, Ok(()));
        }
        assert!(a.charge(&key, budget).await.is_err());
        assert!(b.charge(&key, budget).await.is_err());
        assert!(
            a.local.charge(&key, budget).await.is_ok(),
            "nothing was counted locally while Redis answered"
        );
    }

    #[tokio::test]
    async fn an_unreachable_redis_falls_back_to_local_counters_without_failing() {
        // A port nothing listens on.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let counters = RedisCounters::new(
            &format!("redis://127.0.0.1:{port}"),
            Arc::new(LocalCounters::new()),
        )
        .unwrap();
        let budget = Budget {
            limit: 2,
            window: Duration::from_secs(60),
        };
        let started = std::time::Instant::now();
        assert_eq!(counters.charge("k", budget).await, Ok(()));
        assert!(
            !counters.shared_store_up(),
            "marked down on the first failure"
        );
        assert_eq!(counters.charge("k", budget).await, Ok(()));
        assert!(
            counters.charge("k", budget).await.is_err(),
            "the local budget still holds"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(!counters.probe().await);
        assert!(RedisCounters::new("not a url", Arc::new(LocalCounters::new())).is_err());
        let tls = RedisCounters::new("rediss://127.0.0.1:6380", Arc::new(LocalCounters::new()))
            .err()
            .unwrap();
        assert!(tls.contains("rediss://"), "{tls}");
    }
}
