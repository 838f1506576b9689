//! The admin API's refusals: a status, a stable code and a message for the operator.

use std::fmt;

use super::contract::ErrorBody;

/// A refusal of the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    /// HTTP status.
    pub status: u16,
    /// Machine-readable code.
    pub code: &'static str,
    /// What was wrong, for a human. Never carries a secret.
    pub message: String,
}

impl AdminError {
    /// A refusal with this status and code.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// `400 invalid_request`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", message)
    }

    /// `401 unauthorized`: the bearer token is missing or wrong.
    pub fn unauthorized() -> Self {
        Self::new(401, "unauthorized", "an admin bearer token is required")
    }

    /// `404 not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }

    /// `405 method_not_allowed`; the message is the `Allow` header's value.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self::new(405, "method_not_allowed", allow)
    }

    /// `409 conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "conflict", message)
    }

    /// `413 too_large`: the body is over `limit` bytes.
    pub fn too_large(limit: usize) -> Self {
        Self::new(413, "too_large", format!("the body is over {limit} bytes"))
    }

    /// `503 unavailable`: storage or the guard object could not be reached; retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "unavailable", message)
    }

    /// `500 server_error`: a stored record that breaks the schema, and the like.
    pub fn fault(message: impl Into<String>) -> Self {
        Self::new(500, "server_error", message)
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code.to_owned(),
            message: self.message.clone(),
        }
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}
