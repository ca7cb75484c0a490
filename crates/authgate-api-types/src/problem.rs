//! The body of every error answer of the native contract: RFC 9457
//! `application/problem+json` with authgate's stable `code`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// `https://authgate.dev/errors/<code>`
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// Stable machine code, e.g. `invalid_credentials`.
    pub code: String,
    pub detail: String,
    /// The request field the error is about, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `invalid_password` only: the rule broken, as a stable code
    /// (`min_length`, `max_length`, `digit`, `symbol`, `uppercase`,
    /// `lowercase`, `common_password`, `provider_policy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Filled in by the request-id middleware.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}
