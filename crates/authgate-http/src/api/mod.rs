//! The native JSON API, one module per version.

pub mod v1;
