//! How a command fails: a stable code, a message that points to the next step, and the exit
//! status; printed as text, or with `--json` as `{"error", "message"}` on standard error.

use serde::Serialize;

/// A failure for the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// A stable code for scripts: the admin API's own (`invalid_request`, `not_found`, …) or
    /// one of the CLI's (`usage`, `unreachable`, `invalid_token`, `failed`).
    pub error: String,
    /// What went wrong and, where there is one, what to do next.
    pub message: String,
    /// The exit status: 1 refused or failed, 2 bad usage.
    #[serde(skip)]
    pub code: u8,
}

impl Failure {
    /// Refused or failed, with a code: exit status 1.
    pub fn coded(error: &str, message: impl Into<String>) -> Self {
        Self {
            error: error.to_owned(),
            message: message.into(),
            code: 1,
        }
    }

    /// Failed, without a more precise code: exit status 1.
    pub fn new(message: impl Into<String>) -> Self {
        Self::coded("failed", message)
    }

    /// Bad usage: exit status 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            ..Self::coded("usage", message)
        }
    }

    /// The line printed on standard error.
    pub fn render(&self, json: bool) -> String {
        if json {
            serde_json::to_string(self).unwrap_or_default()
        } else {
            format!("edge-token-admin: {}", self.message)
        }
    }
}

/// A command's outcome.
pub type Outcome = Result<(), Failure>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_renders_as_a_line_of_text_or_of_json_without_its_exit_status() {
        let failure = Failure::usage("--scopes is required");
        assert_eq!(failure.code, 2);
        assert_eq!(
            failure.render(false),
            "edge-token-admin: --scopes is required"
        );
        assert_eq!(
            failure.render(true),
            r#"{"error":"usage","message":"--scopes is required"}"#
        );
        let refused = Failure::coded("conflict", "already exists");
        assert_eq!(refused.code, 1);
        assert!(refused.render(true).starts_with(r#"{"error":"conflict""#));
    }
}
