//! Audit events: one row for every authentication event, success or failure,
//! with a reason code that answers "why did this fail?". Never a secret.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Success,
    Failure,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Failure => "failure",
        }
    }
}

/// One audit row. `reason` is an [`crate::AuthError`] code for failures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// What happened: `sign_in`, `sign_up`, `refresh`, `sign_out`, ...
    pub kind: &'static str,
    pub outcome: AuditOutcome,
    pub reason: Option<&'static str>,
    pub provider: crate::ProviderId,
    /// The provider subject the event is about, when known.
    pub subject: Option<String>,
    /// Who did it, when it is not the subject (an administrator's subject).
    pub actor: Option<String>,
    /// The object acted on, when it is not a user: `tenant:<id>`,
    /// `role:<scope>/<key>`, `policy:<id>`, `client:<id>`.
    pub target: Option<String>,
    /// The email the request named, when it named one.
    pub email: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub at_millis: i64,
}
