//! Rate-limit groups and the [`Throttle`] that charges them.
//!
//! Each [`Group`] has its own budget, so a flood of refreshes never
//! throttles sign-in. The client-address groups are charged at the HTTP
//! edge, per address (IPv6 per /64, see [`budget_key`]); `mail` is charged
//! per recipient address by the services that send mail; `account` per
//! signed-in user by the services that check a password or a code for a
//! caller who already has a token. `AUTHGATE_RATE_LIMITS` overrides the
//! defaults of `contracts/protection.md` ([`RateLimits::parse`]).

use super::counters::{Budget, Counters};
use super::identifier_key;
use authgate_core::AuthError;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// A rate-limit group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// Password sign-in, challenges, passkey sign-in (per client address).
    SignIn,
    /// Sign-up, confirmation, resend (per client address).
    SignUp,
    /// Password resets, MFA reset, identifier recovery (per client address).
    Recovery,
    /// Refresh and the token endpoint (per client address).
    Token,
    /// Every request that sends a mail (per recipient address).
    Mail,
    /// Signed-in routes that check a password or a code (per user).
    Account,
}

impl Group {
    pub const ALL: [Group; 6] = [
        Group::SignIn,
        Group::SignUp,
        Group::Recovery,
        Group::Token,
        Group::Mail,
        Group::Account,
    ];

    /// The group's name in `AUTHGATE_RATE_LIMITS`, metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            Group::SignIn => "sign-in",
            Group::SignUp => "sign-up",
            Group::Recovery => "recovery",
            Group::Token => "token",
            Group::Mail => "mail",
            Group::Account => "account",
        }
    }

    /// The default budget (contracts/protection.md).
    pub fn default_budget(self) -> Budget {
        let (limit, seconds) = match self {
            Group::SignIn => (30, 300),
            Group::SignUp => (10, 300),
            Group::Recovery => (10, 300),
            Group::Token => (300, 300),
            Group::Mail => (5, 3600),
            Group::Account => (20, 300),
        };
        Budget {
            limit,
            window: Duration::from_secs(seconds),
        }
    }

    fn index(self) -> usize {
        Group::ALL
            .iter()
            .position(|g| *g == self)
            .unwrap_or_default()
    }
}

/// The budget of every group; `None` where a group is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    budgets: [Option<Budget>; 6],
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            budgets: Group::ALL.map(|g| Some(g.default_budget())),
        }
    }
}

impl RateLimits {
    /// Every group off (`AUTHGATE_RATE_LIMITS=off`).
    pub fn off() -> Self {
        Self { budgets: [None; 6] }
    }

    /// `AUTHGATE_RATE_LIMITS`: empty for the defaults, `off`, or a
    /// comma-separated list of `group=LIMIT/WINDOW` (window in `s`, `m` or
    /// `h`: `sign-in=30/300s,mail=5/1h`) or `group=off`; groups not named
    /// keep their defaults.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let spec = spec.trim();
        if spec.eq_ignore_ascii_case("off") {
            return Ok(Self::off());
        }
        let mut limits = Self::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| format!("`{item}` is not `group=LIMIT/WINDOW`"))?;
            let name = name.trim();
            let group = Group::ALL
                .into_iter()
                .find(|g| g.name() == name)
                .ok_or_else(|| {
                    format!(
                        "unknown group `{name}`; the groups are {}",
                        Group::ALL.map(Group::name).join(", ")
                    )
                })?;
            limits.budgets[group.index()] =
                parse_budget(value.trim()).map_err(|e| format!("{name}: {e}"))?;
        }
        Ok(limits)
    }

    pub fn budget(&self, group: Group) -> Option<Budget> {
        self.budgets[group.index()]
    }
}

fn parse_budget(value: &str) -> Result<Option<Budget>, String> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let (limit, window) = value
        .split_once('/')
        .ok_or_else(|| format!("`{value}` is not LIMIT/WINDOW (e.g. 30/300s)"))?;
    let limit: u32 = limit
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{limit}` is not a positive number of requests"))?;
    let window = window.trim();
    let (number, unit) = window.split_at(
        window
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(window.len()),
    );
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        other => return Err(format!("unknown unit `{other}` (use s, m or h)")),
    };
    let number: u64 = number
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{window}` is not a positive window"))?;
    Ok(Some(Budget {
        limit,
        window: Duration::from_secs(number * seconds),
    }))
}

/// The budget a client address is charged to: the address itself for IPv4,
/// its /64 for IPv6 (one subscriber's prefix: rotating the low 64 bits buys
/// no new budget).
pub fn budget_key(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !((1u128 << 64) - 1),
            )),
        },
        v4 => v4,
    }
}

/// Charges requests to their group's budget.
#[derive(Clone)]
pub struct Throttle {
    counters: Arc<dyn Counters>,
    limits: Arc<RateLimits>,
}

impl Throttle {
    pub fn new(counters: Arc<dyn Counters>, limits: RateLimits) -> Self {
        Self {
            counters,
            limits: Arc::new(limits),
        }
    }

    /// One request of `group` from `client`.
    pub async fn client(&self, group: Group, client: IpAddr) -> Result<(), AuthError> {
        self.charge(group, &budget_key(client).to_string()).await
    }

    /// One mail to `recipient` (a normalised address, whether or not it
    /// has an account: the refusal reveals nothing).
    pub async fn mail(&self, recipient: &str) -> Result<(), AuthError> {
        self.charge(Group::Mail, &identifier_key(recipient)).await
    }

    /// One password or code check for the signed-in user `sub`.
    pub async fn account(&self, sub: &str) -> Result<(), AuthError> {
        self.charge(Group::Account, sub).await
    }

    async fn charge(&self, group: Group, key: &str) -> Result<(), AuthError> {
        let Some(budget) = self.limits.budget(group) else {
            return Ok(());
        };
        let key = format!("rl:{}:{key}", group.name());
        self.counters.charge(&key, budget).await.map_err(|wait| {
            metrics::counter!("authgate_rate_limited_total", "group" => group.name()).increment(1);
            // A flood must not become a flood of log lines: the metric counts.
            tracing::debug!(group = group.name(), "rate limited");
            AuthError::RateLimited {
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protection::counters::LocalCounters;

    #[test]
    fn the_rate_limits_setting_overrides_named_groups_only() {
        let secs = |limit, s| {
            Some(Budget {
                limit,
                window: Duration::from_secs(s),
            })
        };
        let cases: [(&str, [Option<Budget>; 6]); 5] = [
            (
                "",
                [
                    secs(30, 300),
                    secs(10, 300),
                    secs(10, 300),
                    secs(300, 300),
                    secs(5, 3600),
                    secs(20, 300),
                ],
            ),
            ("off", [None; 6]),
            (
                "sign-in=3/60s, token=off,mail=2/1h",
                [
                    secs(3, 60),
                    secs(10, 300),
                    secs(10, 300),
                    None,
                    secs(2, 3600),
                    secs(20, 300),
                ],
            ),
            (
                "recovery=1/2m,account=7/30",
                [
                    secs(30, 300),
                    secs(10, 300),
                    secs(1, 120),
                    secs(300, 300),
                    secs(5, 3600),
                    secs(7, 30),
                ],
            ),
            ("OFF", [None; 6]),
        ];
        for (spec, budgets) in cases {
            assert_eq!(
                RateLimits::parse(spec),
                Ok(RateLimits { budgets }),
                "{spec:?}"
            );
        }
        for (spec, names) in [
            ("login=3/60s", "unknown group `login`"),
            ("sign-in", "not `group=LIMIT/WINDOW`"),
            ("sign-in=0/60s", "positive number"),
            ("sign-in=3/0s", "positive window"),
            ("sign-in=3/5d", "unknown unit `d`"),
            ("sign-in=three/5s", "positive number"),
        ] {
            let err = RateLimits::parse(spec).expect_err(spec);
            assert!(err.contains(names), "{spec}: {err}");
        }
    }

    #[tokio::test]
    async fn a_flood_on_one_group_leaves_the_others_alone() {
        let limits = RateLimits::parse("token=2/60s,sign-in=2/60s").unwrap();
        let throttle = Throttle::new(Arc::new(LocalCounters::new()), limits);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..2 {
            throttle.client(Group::Token, ip).await.unwrap();
        }
        match throttle.client(Group::Token, ip).await {
            Err(AuthError::RateLimited { retry_after_secs }) => {
                assert!((1..=30).contains(&retry_after_secs))
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
        throttle.client(Group::SignIn, ip).await.unwrap();
        throttle
            .client(Group::SignIn, "192.0.2.8".parse().unwrap())
            .await
            .unwrap();
        let off = Throttle::new(Arc::new(LocalCounters::new()), RateLimits::off());
        for _ in 0..100 {
            off.client(Group::Token, ip).await.unwrap();
        }
    }

    #[tokio::test]
    async fn ipv6_clients_share_the_budget_of_their_64() {
        let limits = RateLimits::parse("sign-in=3/60s").unwrap();
        let throttle = Throttle::new(Arc::new(LocalCounters::new()), limits);
        for host in [
            "2001:db8:1:2::1",
            "2001:db8:1:2::ffff",
            "2001:db8:1:2:abcd::9",
        ] {
            throttle
                .client(Group::SignIn, host.parse().unwrap())
                .await
                .unwrap();
        }
        assert!(
            throttle
                .client(Group::SignIn, "2001:db8:1:2::42".parse().unwrap())
                .await
                .is_err()
        );
        assert!(
            throttle
                .client(Group::SignIn, "2001:db8:1:3::1".parse().unwrap())
                .await
                .is_ok(),
            "another /64"
        );
        assert_eq!(
            budget_key("::ffff:192.0.2.1".parse().unwrap()).to_string(),
            "192.0.2.1"
        );
        assert_eq!(
            budget_key("192.0.2.1".parse().unwrap()).to_string(),
            "192.0.2.1"
        );
    }
}
