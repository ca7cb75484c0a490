//! authgate's HTTP suite, one test binary: each module is a capability's
//! specification, run against a real server on SQLite and PostgreSQL
//! (`on_both_engines!`), and the conformance module against both providers.
//!
//! - [`api`]: the native contract (sign-up, sign-in, refresh, sign-out, errors)
//! - [`account`]: TOTP, passwords, re-verification, recovery
//! - [`passkeys`]: WebAuthn registration and sign-in with a software authenticator
//! - [`admin`]: the admin user lifecycle
//! - [`authz`]: tenants, catalog, decisions, machine-client tokens
//! - [`clients`]: the client registry (machine and app clients)
//! - [`oauth`]: the authorization code flow through the hosted pages
//! - [`pages_passkeys`]: passkeys on the hosted pages
//! - [`security`]: account-takeover and leak scenarios
//! - [`protection`]: rate-limit groups, lockout, mail limits, many instances on Redis
//! - [`compat`]: the CognitoApi profile
//! - [`conformance`]: one contract, embedded and Cognito (moto)
//! - [`gateway`]: forward auth behind a real nginx
//! - [`guard_context`]: the guard library against a live server
//! - [`cli`]: the `authgate` command

#[macro_use]
mod common;

mod account;
mod admin;
mod api;
mod authz;
mod cli;
mod clients;
mod compat;
mod conformance;
mod federation;
mod gateway;
mod guard_context;
mod oauth;
mod pages_passkeys;
mod passkeys;
mod protection;
mod security;
