//! [`GuardConfig`]: what a [`Guard`](crate::Guard) accepts — one issuer, one
//! client, one key source — and how lenient it is about clocks.

use std::time::Duration;

use crate::source::JwksSource;

/// The default clock-skew allowance for `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// The default minimum time between two fetches triggered by unknown `kid`s.
pub const DEFAULT_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// What a [`Guard`](crate::Guard) accepts.
#[derive(Clone, Debug)]
pub struct GuardConfig {
    /// The exact `iss` every token must carry.
    pub issuer: String,
    /// The client the token must be issued to: an access token's `client_id`
    /// (or an `aud` containing it); an id token's `aud`.
    pub client_id: String,
    /// Where the signing keys come from.
    pub jwks: JwksSource,
    /// Clock-skew allowance applied to `exp` and `nbf`. Default 30 s.
    pub leeway: Duration,
    /// A token with an unknown `kid` triggers a key refetch at most once per
    /// this interval. Default 30 s.
    pub min_refetch_interval: Duration,
    /// Migration switch: also accept id tokens (`token_use = "id"`, `aud` must
    /// contain `client_id`), logging a warning on each acceptance. Default false.
    pub accept_id_tokens: bool,
    /// Accept access tokens issued to any client: the caller checks
    /// `client_id` itself (authgate does so for machine clients, against its
    /// registry). Default false.
    pub any_client: bool,
    /// How many verified tokens to remember (keyed by a SHA-256 of the
    /// token), so a token presented again skips the signature check; its
    /// claims and its key are still checked every time. 0 turns it off.
    /// Default [`DEFAULT_VERIFIED_TOKENS`].
    pub verified_tokens: usize,
}

/// The default number of verified tokens a guard remembers (a few MiB).
pub const DEFAULT_VERIFIED_TOKENS: usize = 10_000;

impl GuardConfig {
    /// A configuration with the default leeway and refetch interval that
    /// accepts access tokens only.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>, jwks: JwksSource) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            jwks,
            leeway: DEFAULT_LEEWAY,
            min_refetch_interval: DEFAULT_MIN_REFETCH_INTERVAL,
            accept_id_tokens: false,
            any_client: false,
            verified_tokens: DEFAULT_VERIFIED_TOKENS,
        }
    }
}
