//! authgate-guard's test suite, one binary: [`validate`] (one test per
//! validation rule), [`keys`] (JWKS fetching and rotation), [`http`] (the
//! extractor and the tower layer), [`remembered`] (verified tokens skipping
//! the signature check, and only that) and [`context`] (`CallerContext` and
//! its decisions against a stand-in for authgate).

mod common;

mod context;
mod http;
mod keys;
mod remembered;
mod validate;
