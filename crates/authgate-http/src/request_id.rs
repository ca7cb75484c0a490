//! The id of the request being served, known to everything that renders an
//! answer inside it (problem bodies carry it). Set by
//! [`crate::middleware::request_scope`]; below every other module.

tokio::task_local! {
    /// The id of the request being served.
    pub static REQUEST_ID: String;
}

/// The current request id, inside a request.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}
