//! Refusals as RFC 6750 §3 and RFC 9449 §7.1 answers: a `WWW-Authenticate` challenge in the
//! scheme the request used (`Bearer`, or `DPoP` with the proof algorithms accepted), with an
//! error code when a token was presented, and the same code in a small JSON body. An invalid
//! token is answered without saying which check failed (the Worker's log line does, in
//! `reason`); a valid token whose binding the request does not satisfy is answered saying how,
//! which tells the client nothing it does not know.

use worker::{Headers, Response, Result};

use crate::dpop::ALGS;

/// The realm named in every challenge.
const REALM: &str = "api";

/// The authorization scheme a request used (RFC 6750 `Bearer`, RFC 9449 `DPoP`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// `Authorization: Bearer`, or no usable header.
    Bearer,
    /// `Authorization: DPoP`.
    Dpop,
}

/// Why a request is not served.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// No token at all (none, or another scheme): 401 with bare challenges (RFC 6750 §3.1).
    NoToken,
    /// A token that is not acceptable, whatever the check: 401 `invalid_token`.
    InvalidToken(&'static str),
    /// A valid token whose binding (`cnf`) this request does not satisfy: 401 `invalid_token`,
    /// saying how.
    Unbound(Mismatch),
    /// The DPoP proof is missing or not acceptable: 401 `invalid_dpop_proof` (RFC 9449 §7.1).
    InvalidProof(&'static str),
    /// A good token without the route's scope: 403 `insufficient_scope`.
    InsufficientScope,
    /// The issuer could not be asked (its keys or its introspection), or the proofs seen
    /// cannot be kept: 503, try again.
    Unavailable(&'static str),
}

/// How a valid token's binding and the request disagree.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mismatch {
    /// Certificate-bound (RFC 8705 §3), and no client certificate came with the request.
    NoCertificate,
    /// Certificate-bound, and the request's certificate is another one.
    OtherCertificate,
    /// Certificate-bound, and the edge reports the certificate revoked.
    RevokedCertificate,
    /// DPoP-bound, presented as a bearer token (RFC 9449 §7.2: no downgrade).
    DpopRequired,
    /// Presented with the DPoP scheme, and not DPoP-bound.
    NotDpopBound,
    /// A `cnf` claim this API cannot check: never ignored.
    UnknownBinding,
}

impl Mismatch {
    /// The internal reason, for the log.
    fn reason(self) -> &'static str {
        match self {
            Mismatch::NoCertificate => "no_certificate",
            Mismatch::OtherCertificate => "other_certificate",
            Mismatch::RevokedCertificate => "revoked_certificate",
            Mismatch::DpopRequired => "dpop_required",
            Mismatch::NotDpopBound => "not_dpop_bound",
            Mismatch::UnknownBinding => "unknown_binding",
        }
    }

    /// What the answer says (no quote or backslash: it goes into a challenge as is).
    fn description(self) -> &'static str {
        match self {
            Mismatch::NoCertificate => {
                "the access token is bound to a client certificate, and none was presented"
            }
            Mismatch::OtherCertificate => {
                "the access token is bound to another client certificate than the one presented"
            }
            Mismatch::RevokedCertificate => {
                "the client certificate the access token is bound to is revoked"
            }
            Mismatch::DpopRequired => {
                "the access token is DPoP-bound: present it with the DPoP scheme and a proof"
            }
            Mismatch::NotDpopBound => {
                "the access token is not DPoP-bound: present it with the Bearer scheme"
            }
            Mismatch::UnknownBinding => "the access token has a confirmation this API cannot check",
        }
    }
}

impl Refusal {
    /// The HTTP status.
    pub(crate) fn status(&self) -> u16 {
        match self {
            Refusal::InsufficientScope => 403,
            Refusal::Unavailable(_) => 503,
            _ => 401,
        }
    }

    /// The internal reason, for the log only.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Refusal::NoToken => "no_token",
            Refusal::InvalidToken(reason)
            | Refusal::InvalidProof(reason)
            | Refusal::Unavailable(reason) => reason,
            Refusal::Unbound(mismatch) => mismatch.reason(),
            Refusal::InsufficientScope => "insufficient_scope",
        }
    }

    /// The error code and description of the answer.
    fn error(&self) -> (Option<&'static str>, &'static str) {
        match self {
            Refusal::NoToken => (None, "an access token is required"),
            Refusal::InvalidToken(_) => (Some("invalid_token"), "the access token is not valid"),
            Refusal::Unbound(mismatch) => (Some("invalid_token"), mismatch.description()),
            Refusal::InvalidProof(_) => (Some("invalid_dpop_proof"), "the DPoP proof is not valid"),
            Refusal::InsufficientScope => (
                Some("insufficient_scope"),
                "the access token lacks the required scope",
            ),
            // 503 is no RFC 6750 case: RFC 6749's code.
            Refusal::Unavailable(_) => (
                Some("temporarily_unavailable"),
                "the token could not be checked now; try again",
            ),
        }
    }

    /// The `WWW-Authenticate` value for a request in `scheme`; none for a 503.
    fn challenge(&self, scope: &str, scheme: Scheme) -> Option<String> {
        match self {
            Refusal::Unavailable(_) => return None,
            // RFC 6750 §3.1 and RFC 9449 §7.1: no error code without a token; both schemes.
            Refusal::NoToken => {
                return Some(format!(
                    r#"Bearer realm="{REALM}", DPoP realm="{REALM}", algs="{ALGS}""#
                ))
            }
            _ => {}
        }
        let (code, description) = self.error();
        let mut params = format!(r#"realm="{REALM}", error="{}""#, code?);
        if matches!(self, Refusal::Unbound(_) | Refusal::InvalidProof(_)) {
            params += &format!(r#", error_description="{description}""#);
        }
        if matches!(self, Refusal::InsufficientScope) {
            params += &format!(r#", scope="{scope}""#);
        }
        // A DPoP-bound token presented as a bearer one, or a bad proof, is answered as DPoP.
        let in_dpop = scheme == Scheme::Dpop
            || matches!(
                self,
                Refusal::InvalidProof(_) | Refusal::Unbound(Mismatch::DpopRequired)
            );
        Some(if in_dpop {
            format!(r#"DPoP {params}, algs="{ALGS}""#)
        } else {
            format!("Bearer {params}")
        })
    }

    /// The answer to a request in `scheme`; `scope` is the route's, named in an
    /// `insufficient_scope` challenge.
    pub(crate) fn response(&self, scope: &str, scheme: Scheme) -> Result<Response> {
        let headers = Headers::new();
        headers.set("Cache-Control", "no-store")?;
        if let Refusal::Unavailable(_) = self {
            headers.set("Retry-After", "5")?;
        }
        if let Some(challenge) = self.challenge(scope, scheme) {
            headers.set("WWW-Authenticate", &challenge)?;
        }
        let (code, description) = self.error();
        let mut body = serde_json::json!({ "error_description": description });
        if let Some(code) = code {
            body["error"] = code.into();
        }
        Ok(Response::from_json(&body)?
            .with_status(self.status())
            .with_headers(headers))
    }
}
