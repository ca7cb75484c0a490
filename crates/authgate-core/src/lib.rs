//! # authgate-core
//!
//! The domain of authgate, free of HTTP, SQL and provider SDKs: the
//! provider ports ([`provider`]) that the embedded and Cognito providers
//! implement, held as a [`Provider`] under its [`ProviderId`],
//! the result of an authentication step ([`AuthStep`]: tokens or a challenge),
//! the claims of a validated access token, the outgoing [`Notification`]s, audit
//! events, and the one error enum [`AuthError`] with its stable codes.
//!
//! Every secret that crosses these types (passwords, codes, tokens) is wrapped in
//! [`Secret`], whose `Debug` prints `[redacted]`, so a stray `{:?}` in a log line
//! cannot leak it.

pub mod audit;
pub mod authz;
pub mod error;
pub mod notify;
pub mod passkey;
pub mod policy;
pub mod provider;
pub mod query;
pub mod secret;
pub mod token;

pub use audit::{AuditEvent, AuditFilter, AuditOutcome, EventKind};
pub use error::AuthError;
pub use notify::{Notification, Notifier, SecurityEvent};
pub use passkey::{PasskeyCeremony, PasskeyCredential, PasskeyFailure, Passkeys};
pub use provider::{
    AccountFilter, AccountStatus, Administration, AuthStep, Authenticated, ChallengeKind,
    ChallengeParameters, ChallengeResponse, ChallengeStep, CodeDelivery, ContextStamp,
    IdentityProvider, NewAccount, PasswordSignIn, Provider, ProviderAccount, ProviderId,
    ProviderInfo, ProviderSessions, ProviderUser, SecondFactor, SelfService, SignUpOutcome,
    SignUpRequest, TokenSet, TotpAuthenticator, TotpEnrolment, TotpReplacement,
};
pub use secret::Secret;
pub use token::AccessClaims;

/// Milliseconds since the Unix epoch, the one time unit of the store.
pub fn now_millis() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Unix seconds as RFC 3339 (UTC), the form every contract shows times in.
pub fn rfc3339(unix_seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
