//! # authgate-api-types
//!
//! The wire types of authgate's HTTP contracts, with their OpenAPI schemas:
//! [`native`] (the `/v1/auth` and `/v1/admin` contract, camelCase),
//! [`authz`] (tenants, the catalog, decisions, machine clients),
//! [`oauth`] (`/oauth2/token`), [`profile`] (the CognitoApi-compatible
//! profile, snake_case) and [`problem`] (the error body). Secrets arrive as `Secret` so they cannot be logged by
//! accident. The server renders these; the tests and any Rust client read
//! them.

pub mod authz;
pub mod native;
pub mod oauth;
pub mod problem;
pub mod profile;
