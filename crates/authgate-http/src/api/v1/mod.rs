//! Version 1 of the native API: one module per URL prefix, each with its
//! own `router()`.
//!
//! | prefix | module |
//! |---|---|
//! | `/v1/auth` | [`auth`]: sign-up, sign-in, challenges, refresh, sign-out, account, MFA, recovery, the subject |
//! | `/v1/admin` | [`admin`]: users, audit events, roles, policies, machine clients |
//! | `/v1/tenants` | [`tenants`]: tenants, members, invitations |
//! | `/v1/authz` | [`authz`]: decisions and the gateway authorizer |

pub mod admin;
pub mod auth;
pub mod authz;
pub mod tenants;
