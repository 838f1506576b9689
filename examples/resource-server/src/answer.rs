//! Refusals as RFC 6750 §3 answers: the `WWW-Authenticate: Bearer` challenge, with an error
//! code when a token was presented, and the same code in a small JSON body. The answer never
//! says which check failed; the log line does (`reason`).

use worker::{Headers, Response, Result};

/// The realm named in every challenge.
const REALM: &str = "api";

/// Why a request is not served.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// No bearer token at all (none, or another scheme): 401 with a bare challenge (§3.1).
    NoToken,
    /// A token that is not acceptable, whatever the check: 401 `invalid_token`.
    InvalidToken(&'static str),
    /// A good token without the route's scope: 403 `insufficient_scope`.
    InsufficientScope,
    /// The issuer could not be asked (its keys or its introspection): 503, try again.
    Unavailable(&'static str),
}

impl Refusal {
    /// The HTTP status.
    pub(crate) fn status(&self) -> u16 {
        match self {
            Refusal::NoToken | Refusal::InvalidToken(_) => 401,
            Refusal::InsufficientScope => 403,
            Refusal::Unavailable(_) => 503,
        }
    }

    /// The internal reason, for the log only.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Refusal::NoToken => "no_token",
            Refusal::InvalidToken(reason) | Refusal::Unavailable(reason) => reason,
            Refusal::InsufficientScope => "insufficient_scope",
        }
    }

    /// The answer; `scope` is the route's, named in an `insufficient_scope` challenge.
    pub(crate) fn response(&self, scope: &str) -> Result<Response> {
        let headers = Headers::new();
        headers.set("Cache-Control", "no-store")?;
        let (code, description) = match self {
            Refusal::NoToken => (None, "a bearer token is required"),
            Refusal::InvalidToken(_) => (Some("invalid_token"), "the access token is not valid"),
            Refusal::InsufficientScope => (
                Some("insufficient_scope"),
                "the access token lacks the required scope",
            ),
            Refusal::Unavailable(_) => {
                headers.set("Retry-After", "5")?;
                (None, "the token could not be checked now; try again")
            }
        };
        let challenge = match (self, code) {
            (Refusal::Unavailable(_), _) => None,
            (Refusal::InsufficientScope, Some(code)) => Some(format!(
                r#"Bearer realm="{REALM}", error="{code}", scope="{scope}""#
            )),
            (_, Some(code)) => Some(format!(r#"Bearer realm="{REALM}", error="{code}""#)),
            (_, None) => Some(format!(r#"Bearer realm="{REALM}""#)),
        };
        if let Some(challenge) = challenge {
            headers.set("WWW-Authenticate", &challenge)?;
        }
        // No error code without a token (§3.1); 503 is no RFC 6750 case: RFC 6749's code.
        let code = match self {
            Refusal::Unavailable(_) => Some("temporarily_unavailable"),
            _ => code,
        };
        let mut body = serde_json::json!({ "error_description": description });
        if let Some(code) = code {
            body["error"] = code.into();
        }
        Ok(Response::from_json(&body)?
            .with_status(self.status())
            .with_headers(headers))
    }
}
