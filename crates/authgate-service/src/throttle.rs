//! The [`Throttle`] port: request budgets shared by every front end, keyed by
//! a group and a client key (today the client address). [`InMemoryThrottle`]
//! keeps them in this process (a keyed GCRA limiter, governor); a shared
//! implementation (Redis) plugs in behind the same trait.

use authgate_core::AuthError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

/// Request budgets. `check` either lets a request through or answers
/// [`AuthError::RateLimited`] with the time to wait.
pub trait Throttle: Send + Sync {
    /// One request of the public routes from `client`.
    fn check_public(&self, client: IpAddr) -> Result<(), AuthError>;
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

/// Budgets counted in this process.
pub struct InMemoryThrottle {
    public: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

impl InMemoryThrottle {
    /// `per_minute` requests per client address; 0 turns limiting off.
    pub fn new(per_minute: u32) -> Self {
        Self {
            public: NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
        }
    }

    /// Forget idle keys so the table does not grow without bound.
    pub fn housekeeping(&self) {
        if let Some(limiter) = &self.public {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

impl Throttle for InMemoryThrottle {
    fn check_public(&self, client: IpAddr) -> Result<(), AuthError> {
        let Some(limiter) = &self.public else {
            return Ok(());
        };
        limiter.check_key(&budget_key(client)).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            AuthError::RateLimited {
                retry_after_secs: wait.as_secs().max(1),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_the_budget_of_their_64() {
        let throttle = InMemoryThrottle::new(2);
        for host in [
            "2001:db8:1:2::1",
            "2001:db8:1:2::ffff",
            "2001:db8:1:2:abcd::9",
        ] {
            let _ = throttle.check_public(host.parse().unwrap());
        }
        assert!(
            throttle
                .check_public("2001:db8:1:2::42".parse().unwrap())
                .is_err()
        );
        assert!(
            throttle
                .check_public("2001:db8:1:3::1".parse().unwrap())
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

    #[test]
    fn a_budget_refuses_past_its_limit_per_client_and_zero_turns_it_off() {
        let throttle = InMemoryThrottle::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(throttle.check_public(a).is_ok());
        assert!(throttle.check_public(a).is_ok());
        match throttle.check_public(a) {
            Err(AuthError::RateLimited { retry_after_secs }) => assert!(retry_after_secs >= 1),
            other => panic!("expected a rate limit, got {other:?}"),
        }
        assert!(
            throttle.check_public(b).is_ok(),
            "another client has its own budget"
        );
        let off = InMemoryThrottle::new(0);
        for _ in 0..100 {
            assert!(off.check_public(a).is_ok());
        }
    }
}
