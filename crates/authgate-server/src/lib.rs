//! # authgate-server
//!
//! The axum application of authgate: [`settings`] (every configuration value
//! and its default), [`services`] (the business rules: sign-up, sign-in,
//! refresh, sign-out, user context, audit events), [`http`] (routes, DTOs,
//! extractors, problem+json errors, middleware, OpenAPI), [`ratelimit`], and
//! [`app`], which assembles everything and serves it with a graceful drain.

pub mod app;
pub mod http;
pub mod ratelimit;
pub mod services;
pub mod settings;
pub mod state;

pub use app::App;
pub use settings::Settings;
