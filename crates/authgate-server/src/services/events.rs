//! Recording authentication events: one audit row and one metric increment
//! per event, with the error code as the reason on failure. Nothing secret is
//! ever passed in: only kinds, codes, subjects, emails, addresses and ids.

use authgate_core::{AuditEvent, AuditOutcome, AuthError, now_millis};
use authgate_store::Store;

/// Who sent a request: the client address and the request id.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

/// Writes audit rows and counts `authgate_auth_events_total`.
#[derive(Clone)]
pub struct EventRecorder {
    store: Store,
    provider: &'static str,
}

impl EventRecorder {
    pub fn new(store: Store, provider: &'static str) -> Self {
        Self { store, provider }
    }

    /// Record the outcome of `kind` for the given subject/email.
    pub async fn record<T>(
        &self,
        kind: &'static str,
        meta: &RequestMeta,
        email: Option<&str>,
        subject: Option<&str>,
        result: &Result<T, AuthError>,
    ) {
        let (outcome, reason) = match result {
            Ok(_) => (AuditOutcome::Success, None),
            Err(err) => (AuditOutcome::Failure, Some(err.code())),
        };
        metrics::counter!(
            "authgate_auth_events_total",
            "kind" => kind,
            "outcome" => outcome.as_str(),
            "reason" => reason.unwrap_or("none"),
        )
        .increment(1);
        let event = AuditEvent {
            kind,
            outcome,
            reason,
            provider: self.provider,
            subject: subject.map(str::to_string),
            email: email.map(str::to_string),
            ip: meta.ip.clone(),
            request_id: meta.request_id.clone(),
            at_millis: now_millis(),
        };
        if let Err(err) = self.store.insert_audit_event(&event).await {
            tracing::error!(kind, error = %err, "audit event not written");
        }
        match reason {
            None => tracing::info!(kind, subject, "auth event"),
            Some(reason) => tracing::info!(kind, reason, subject, "auth event failed"),
        }
    }
}
