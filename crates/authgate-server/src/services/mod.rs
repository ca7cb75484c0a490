//! Services: the business rules behind the HTTP handlers. Every contract (the
//! native one and the CognitoApi profile) calls these; handlers only
//! parse, call and render.

pub mod account;
pub mod admin;
pub mod auth;
pub mod authz;
pub mod catalog;
pub mod clients;
pub mod events;
pub mod forward;
pub mod mfa_reset;
pub mod recovery;
pub mod recovery_codes;
pub mod tenants;

pub use auth::{AuthService, Caller, SessionView, SignInResult};
pub use authz::{Actor, ClientCaller, Principal};
pub use events::{EventRecorder, RequestMeta};
