//! Why a request was refused, and how that reason is put on the wire.
//!
//! [`Error`] names the precise internal reason (it goes to the operator's log); [`Error::wire`]
//! is the one exhaustive mapping to the RFC 6749 §5.2 answer a caller sees. Several reasons share
//! one answer on purpose: a caller is never told which check failed, and faults of ours are 5xx,
//! never a 4xx that would blame the caller.

use std::fmt;

use super::{assertion::Check, dpop::ProofCheck, guard::QuotaWindow, mtls::CertCheck};

/// A precise reason for not issuing a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The token endpoint was called with a method other than `POST`.
    MethodNotAllowed,
    /// The request URI has a query. RFC 6749 §2.3.1: client credentials MUST NOT be in the
    /// URI; this endpoint reads none there, so any query is refused rather than ignored.
    QueryInUri,
    /// The body is not `application/x-www-form-urlencoded`.
    UnsupportedContentType,
    /// The body is larger than [`crate::core::request::MAX_BODY_BYTES`].
    BodyTooLarge,
    /// The body is not a well-formed form (a bad percent escape, or not UTF-8).
    MalformedBody,
    /// A parameter this endpoint reads was given more than once (RFC 6749 §3.2).
    DuplicateParameter,
    /// `grant_type` is missing or empty.
    MissingGrantType,
    /// `grant_type` is present but not `client_credentials`.
    UnsupportedGrantType,
    /// The `Authorization: Basic` header does not decode to `id:secret` (RFC 6749 §2.3.1).
    MalformedBasic,
    /// Credentials came both in the `Authorization` header and in the body.
    MultipleAuthMethods,
    /// The body's `client_id` differs from the one in the `Authorization` header.
    ClientIdMismatch,
    /// No client credentials at all, or a `client_id` without a `client_secret`.
    NoCredentials,
    /// An `Authorization` header with a scheme other than `Basic`.
    UnsupportedAuthScheme,
    /// No client has this id (or the id is not a valid client id).
    UnknownClient,
    /// The secret matches none of the client's live secrets (wrong or expired).
    WrongSecret,
    /// The client record this isolate read is older than the client's latest creation (a
    /// stale copy of a deleted client's record, which may name its secrets or keys).
    StaleRecord,
    /// A client assertion (`private_key_jwt`) failed a check, or the client's method is not
    /// the one it used.
    Assertion(Check),
    /// A DPoP proof (RFC 9449) failed a check, is missing where the client's record requires
    /// one, or lacks the tenant's current nonce.
    Dpop(ProofCheck),
    /// A mutual-TLS client's certificate failed a check (RFC 8705 §2): none, unverified,
    /// revoked, or not the client's.
    Certificate(CertCheck),
    /// The client's record asks for certificate-bound tokens (RFC 8705 §3) and the request
    /// came without a client certificate: refused rather than issued unbound.
    CertificateRequired,
    /// A `DPoP` header from a client whose record asks for certificate-bound tokens: a token is
    /// bound to one key at most (docs/sender-constrained.md).
    TwoBindings,
    /// The client authenticated, but may not use the `client_credentials` grant.
    GrantNotAllowed,
    /// The client authenticated, but is disabled.
    ClientDisabled,
    /// `scope` does not follow the RFC 6749 §3.3 grammar.
    MalformedScope,
    /// A requested scope is not among the client's allowed scopes.
    ScopeNotAllowed,
    /// No scope was requested, and the tenant's `omitted_scope` grants nothing for it
    /// (`defaults` with no default scopes for the token's audiences, or `error`).
    NoScope,
    /// A `resource` that is not an absolute URI, or more audiences than a request may name.
    MalformedTarget,
    /// A requested audience (`resource` or `audience`) is not one of the client's.
    TargetNotAllowed,
    /// The client is over its issuance limit (docs/limits.md).
    RateLimited {
        /// Seconds until a token is available.
        retry_after: u64,
        /// The client's burst: the quota of `RateLimit-Policy`.
        burst: u64,
        /// Seconds an empty bucket takes to refill: the window of `RateLimit-Policy`.
        window: u64,
    },
    /// An enforced quota (the client's or its tenant's) is exhausted until its window's end
    /// (docs/limits.md, "Quotas").
    OverQuota {
        /// Seconds until the window ends.
        retry_after: u64,
        /// The exhausted figure: the quota of `RateLimit-Policy`.
        quota: u64,
        /// Which window: its name and length in `RateLimit-Policy`.
        window: QuotaWindow,
    },
    /// The source is blocked, or the client is under guard, after failed authentications.
    Throttled {
        /// Seconds until the block lapses.
        retry_after: u64,
    },
    /// The client store could not be reached; worth retrying.
    StoreUnavailable,
    /// The client's guard object could not be asked and the cached revocation state is stale:
    /// revocation fails closed.
    GuardUnavailable,
    /// A client's `jwks_uri` could not be fetched and no usable copy of its keys is cached
    /// ([`crate::core::jwks_cache`]); worth retrying.
    JwksUnavailable {
        /// Seconds until this isolate will fetch the URL again.
        retry_after: u64,
    },
    /// An introspection or revocation request without `token` (RFC 7662 §2.1, RFC 7009 §2.1).
    MissingToken,
    /// A revocation of a `refresh_token` (RFC 7009 §2.2.1): there are none.
    UnsupportedTokenType,
    /// The client authenticated at the introspection endpoint without the `introspect`
    /// permission of its record.
    IntrospectNotAllowed,
    /// The client holds as many revoked live tokens as its object keeps
    /// ([`crate::core::guard::tokens::MAX_REVOKED_TOKENS`]): the token stays valid.
    RevocationsFull {
        /// Seconds until the soonest of them expires.
        retry_after: u64,
    },
    /// A client record in the store breaks the schema (docs/storage-schema.md).
    BadClientRecord,
    /// The signing keys are missing or unusable, or signing failed.
    BadKeyMaterial,
    /// The Worker's configuration (vars, pepper) is missing or invalid.
    BadConfig,
}

/// The RFC 6749 §5.2 `error` codes, and the two we use for our own faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `invalid_request`
    InvalidRequest,
    /// `invalid_client`
    InvalidClient,
    /// `unauthorized_client`
    UnauthorizedClient,
    /// `unsupported_grant_type`
    UnsupportedGrantType,
    /// `invalid_scope`
    InvalidScope,
    /// `invalid_target` (RFC 8707 §2)
    InvalidTarget,
    /// `unsupported_token_type` (RFC 7009 §2.2.1)
    UnsupportedTokenType,
    /// `invalid_dpop_proof` (RFC 9449 §5)
    InvalidDpopProof,
    /// `use_dpop_nonce` (RFC 9449 §8)
    UseDpopNonce,
    /// `server_error`: a fault of ours.
    ServerError,
    /// `temporarily_unavailable`: a fault of ours, worth retrying.
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The code as it appears in the `error` member.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// A fixed, human-readable `error_description`; it never names the failed check.
    pub fn description(self) -> &'static str {
        match self {
            Self::InvalidRequest => {
                "The request is missing a parameter, repeats one, or is malformed."
            }
            Self::InvalidClient => "Client authentication failed.",
            // Said alike whether the client lacks the grant or is disabled: it never tells which.
            Self::UnauthorizedClient => {
                "The client may not obtain tokens with this grant: it lacks the grant or is disabled."
            }
            Self::UnsupportedGrantType => "The grant type is not supported.",
            Self::InvalidScope => "The requested scope is invalid, unknown, or malformed.",
            Self::InvalidTarget => {
                "The requested resource or audience is invalid, unknown, or not allowed."
            }
            Self::UnsupportedTokenType => "The server does not revoke this type of token.",
            Self::InvalidDpopProof => "The DPoP proof is missing or invalid.",
            Self::UseDpopNonce => "The DPoP proof must carry the nonce of the DPoP-Nonce header.",
            Self::ServerError => "The server could not process the request.",
            Self::TemporarilyUnavailable => "The server is temporarily unavailable; retry later.",
        }
    }
}

/// The realm announced to Basic clients on every `401`.
pub const WWW_AUTHENTICATE: &str = "Basic realm=\"token\"";
/// Seconds after which a caller may retry a temporary fault.
pub const RETRY_AFTER_SECONDS: &str = "5";

impl Wire {
    /// Answers `invalid_client` with `status` (400 or 401) unless the caller attempted HTTP
    /// Basic, which RFC 6749 §5.2 requires to be answered 401 with a challenge. A 400 carries
    /// no challenge.
    pub fn with_invalid_client_status(mut self, status: u16, basic_attempted: bool) -> Self {
        if self.code == ErrorCode::InvalidClient && !basic_attempted && status == 400 {
            self.status = 400;
            self.headers.retain(|(name, _)| *name != "WWW-Authenticate");
        }
        self
    }
}

/// How an [`Error`] is answered: status, `error` code and any extra headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wire {
    /// The HTTP status.
    pub status: u16,
    /// The `error` member.
    pub code: ErrorCode,
    /// Headers beyond the ones every token endpoint answer carries.
    pub headers: Vec<(&'static str, String)>,
    /// The `error_description` member: the code's, except where the status already tells
    /// the reason (a 405 names the method the endpoint accepts).
    pub description: &'static str,
}

/// The `error_description` of a client without the `introspect` permission.
pub const NO_INTROSPECTION: &str = "The client may not introspect tokens.";
/// The `error_description` of a 405: the method, not a missing parameter.
pub const POST_ONLY: &str = "This endpoint accepts only POST.";

impl Wire {
    /// The JSON body: `{"error": ..., "error_description": ...}`.
    pub fn body(&self) -> String {
        let body = serde_json::json!({ "error": self.code.as_str(), "error_description": self.description });
        crate::core::json::text(&body)
    }
}

fn header(name: &'static str, value: impl ToString) -> (&'static str, String) {
    (name, value.to_string())
}

impl Error {
    /// The answer a caller sees. Exhaustive: a new reason must choose its answer here.
    pub fn wire(self) -> Wire {
        use ErrorCode as C;
        let (status, code, headers) = match self {
            Self::MethodNotAllowed => (405, C::InvalidRequest, vec![header("Allow", "POST")]),
            Self::QueryInUri
            | Self::UnsupportedContentType
            | Self::BodyTooLarge
            | Self::MalformedBody
            | Self::DuplicateParameter
            | Self::MissingGrantType
            | Self::MalformedBasic
            | Self::MultipleAuthMethods
            | Self::ClientIdMismatch
            | Self::CertificateRequired
            | Self::TwoBindings
            | Self::MissingToken => (400, C::InvalidRequest, vec![]),
            Self::UnsupportedTokenType => (400, C::UnsupportedTokenType, vec![]),
            // Authenticated, and known not to hold the permission: forbidden (RFC 7662 §2.1
            // leaves the answer open).
            Self::IntrospectNotAllowed => (403, C::UnauthorizedClient, vec![]),
            Self::RevocationsFull { retry_after } => (
                503,
                C::TemporarilyUnavailable,
                vec![header("Retry-After", retry_after)],
            ),
            Self::UnsupportedGrantType => (400, C::UnsupportedGrantType, vec![]),
            // RFC 6749 §5.2 requires 401 + WWW-Authenticate when Basic was attempted; we answer
            // every authentication failure the same way, so the answer reveals nothing.
            Self::NoCredentials
            | Self::UnsupportedAuthScheme
            | Self::UnknownClient
            | Self::WrongSecret
            | Self::StaleRecord
            | Self::Assertion(_)
            | Self::Certificate(_) => (
                401,
                C::InvalidClient,
                vec![header("WWW-Authenticate", WWW_AUTHENTICATE)],
            ),
            Self::GrantNotAllowed | Self::ClientDisabled => (400, C::UnauthorizedClient, vec![]),
            // The nonce itself goes into a `DPoP-Nonce` header by the edge, on every answer of
            // a tenant that asks for nonces (RFC 9449 §8).
            Self::Dpop(ProofCheck::Nonce) => (400, C::UseDpopNonce, vec![]),
            Self::Dpop(_) => (400, C::InvalidDpopProof, vec![]),
            Self::MalformedScope | Self::ScopeNotAllowed | Self::NoScope => {
                (400, C::InvalidScope, vec![])
            }
            Self::MalformedTarget | Self::TargetNotAllowed => (400, C::InvalidTarget, vec![]),
            // draft-ietf-httpapi-ratelimit-headers: the policy is the bucket (quota = burst,
            // window = the time to refill it), and nothing remains until `retry_after`.
            Self::RateLimited {
                retry_after,
                burst,
                window,
            } => (
                429,
                C::TemporarilyUnavailable,
                vec![
                    header("Retry-After", retry_after),
                    header(
                        "RateLimit-Policy",
                        format!("\"client\";q={burst};w={window}"),
                    ),
                    header("RateLimit", format!("\"client\";r=0;t={retry_after}")),
                ],
            ),
            // The same headers as the bucket's, naming the exhausted window as the policy.
            Self::OverQuota {
                retry_after,
                quota,
                window,
            } => (
                429,
                C::TemporarilyUnavailable,
                vec![
                    header("Retry-After", retry_after),
                    header(
                        "RateLimit-Policy",
                        format!("\"{}\";q={quota};w={}", window.name(), window.seconds()),
                    ),
                    header(
                        "RateLimit",
                        format!("\"{}\";r=0;t={retry_after}", window.name()),
                    ),
                ],
            ),
            Self::Throttled { retry_after } => (
                429,
                C::TemporarilyUnavailable,
                vec![header("Retry-After", retry_after)],
            ),
            Self::StoreUnavailable => (
                503,
                C::TemporarilyUnavailable,
                vec![header("Retry-After", RETRY_AFTER_SECONDS)],
            ),
            Self::GuardUnavailable => (
                503,
                C::TemporarilyUnavailable,
                vec![header("Retry-After", 1)],
            ),
            Self::JwksUnavailable { retry_after } => (
                503,
                C::TemporarilyUnavailable,
                vec![header("Retry-After", retry_after)],
            ),
            Self::BadClientRecord | Self::BadKeyMaterial | Self::BadConfig => {
                (500, C::ServerError, vec![])
            }
        };
        let description = match self {
            Self::MethodNotAllowed => POST_ONLY,
            Self::IntrospectNotAllowed => NO_INTROSPECTION,
            _ => code.description(),
        };
        Wire {
            status,
            code,
            headers,
            description,
        }
    }

    /// A stable snake_case name of the reason, for the operator's log only.
    pub fn reason(self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "method_not_allowed",
            Self::QueryInUri => "query_in_uri",
            Self::UnsupportedContentType => "unsupported_content_type",
            Self::BodyTooLarge => "body_too_large",
            Self::MalformedBody => "malformed_body",
            Self::DuplicateParameter => "duplicate_parameter",
            Self::MissingGrantType => "missing_grant_type",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::MalformedBasic => "malformed_basic",
            Self::MultipleAuthMethods => "multiple_auth_methods",
            Self::ClientIdMismatch => "client_id_mismatch",
            Self::NoCredentials => "no_credentials",
            Self::UnsupportedAuthScheme => "unsupported_auth_scheme",
            Self::UnknownClient => "unknown_client",
            Self::WrongSecret => "wrong_secret",
            Self::StaleRecord => "stale_record",
            Self::Assertion(check) => check.reason(),
            Self::Dpop(check) => check.reason(),
            Self::Certificate(check) => check.reason(),
            Self::CertificateRequired => "certificate_required",
            Self::TwoBindings => "two_bindings",
            Self::GrantNotAllowed => "grant_not_allowed",
            Self::ClientDisabled => "client_disabled",
            Self::MalformedScope => "malformed_scope",
            Self::ScopeNotAllowed => "scope_not_allowed",
            Self::NoScope => "no_scope",
            Self::MalformedTarget => "malformed_target",
            Self::TargetNotAllowed => "target_not_allowed",
            Self::RateLimited { .. } => "rate_limited",
            Self::OverQuota { .. } => "over_quota",
            Self::Throttled { .. } => "throttled",
            Self::StoreUnavailable => "store_unavailable",
            Self::GuardUnavailable => "guard_unavailable",
            Self::JwksUnavailable { .. } => "jwks_unavailable",
            Self::MissingToken => "missing_token",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::IntrospectNotAllowed => "introspect_not_allowed",
            Self::RevocationsFull { .. } => "revocations_full",
            Self::BadClientRecord => "bad_client_record",
            Self::BadKeyMaterial => "bad_key_material",
            Self::BadConfig => "bad_config",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Error; 43] = [
        Error::MethodNotAllowed,
        Error::QueryInUri,
        Error::UnsupportedContentType,
        Error::BodyTooLarge,
        Error::MalformedBody,
        Error::DuplicateParameter,
        Error::MissingGrantType,
        Error::UnsupportedGrantType,
        Error::MalformedBasic,
        Error::MultipleAuthMethods,
        Error::ClientIdMismatch,
        Error::NoCredentials,
        Error::UnsupportedAuthScheme,
        Error::UnknownClient,
        Error::WrongSecret,
        Error::StaleRecord,
        Error::Assertion(Check::Replayed),
        Error::Assertion(Check::Malformed),
        Error::Dpop(ProofCheck::Signature),
        Error::Dpop(ProofCheck::Nonce),
        Error::Certificate(CertCheck::Unverified),
        Error::CertificateRequired,
        Error::TwoBindings,
        Error::GrantNotAllowed,
        Error::ClientDisabled,
        Error::MalformedScope,
        Error::ScopeNotAllowed,
        Error::NoScope,
        Error::MalformedTarget,
        Error::TargetNotAllowed,
        Error::RateLimited {
            retry_after: 2,
            burst: 12,
            window: 3,
        },
        Error::OverQuota {
            retry_after: 60,
            quota: 5,
            window: QuotaWindow::Hour,
        },
        Error::Throttled { retry_after: 30 },
        Error::StoreUnavailable,
        Error::GuardUnavailable,
        Error::JwksUnavailable { retry_after: 60 },
        Error::BadClientRecord,
        Error::BadKeyMaterial,
        Error::BadConfig,
        Error::MissingToken,
        Error::UnsupportedTokenType,
        Error::IntrospectNotAllowed,
        Error::RevocationsFull { retry_after: 9 },
    ];

    #[test]
    fn every_authentication_failure_gets_the_same_answer() {
        let answers: Vec<_> = [
            Error::NoCredentials,
            Error::UnsupportedAuthScheme,
            Error::UnknownClient,
            Error::WrongSecret,
            Error::StaleRecord,
            Error::Assertion(Check::Signature),
            Error::Assertion(Check::Replayed),
            Error::Assertion(Check::MethodMismatch),
            Error::Certificate(CertCheck::Missing),
            Error::Certificate(CertCheck::Unverified),
            Error::Certificate(CertCheck::Revoked),
            Error::Certificate(CertCheck::Mismatch),
        ]
        .iter()
        .map(|e| (e.wire(), e.wire().body()))
        .collect();
        assert!(answers.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(answers[0].0.status, 401);
        assert_eq!(
            answers[0].0.headers,
            [("WWW-Authenticate", "Basic realm=\"token\"".to_owned())]
        );
    }

    #[test]
    fn faults_of_ours_are_never_4xx() {
        for e in [
            Error::StoreUnavailable,
            Error::GuardUnavailable,
            Error::BadClientRecord,
            Error::BadKeyMaterial,
            Error::BadConfig,
        ] {
            assert!(e.wire().status >= 500, "{e}");
        }
        assert_eq!(
            Error::StoreUnavailable.wire().headers,
            [("Retry-After", "5".to_owned())]
        );
        assert_eq!(
            Error::GuardUnavailable.wire().headers,
            [("Retry-After", "1".to_owned())]
        );
        let jwks = Error::JwksUnavailable { retry_after: 42 }.wire();
        assert_eq!(jwks.status, 503);
        assert_eq!(jwks.headers, [("Retry-After", "42".to_owned())]);
    }

    #[test]
    fn caller_errors_are_4xx_and_faults_5xx() {
        for e in ALL {
            let w = e.wire();
            let expected: &[u16] = match w.code {
                ErrorCode::ServerError => &[500],
                ErrorCode::TemporarilyUnavailable => &[429, 503],
                ErrorCode::UnauthorizedClient => &[400, 403],
                _ => &[400, 401, 405],
            };
            assert!(expected.contains(&w.status), "{e}");
        }
        assert_eq!(
            Error::GrantNotAllowed.wire().code,
            ErrorCode::UnauthorizedClient
        );
        assert_eq!(Error::NoScope.wire().code, ErrorCode::InvalidScope);
        assert_eq!(
            Error::UnsupportedGrantType.wire().code,
            ErrorCode::UnsupportedGrantType
        );
    }

    #[test]
    fn the_body_names_the_code_and_never_the_reason() {
        for e in ALL {
            let body: serde_json::Value = serde_json::from_str(&e.wire().body()).unwrap();
            assert_eq!(body["error"], e.wire().code.as_str());
            let text = e.wire().body();
            if e.reason() != e.wire().code.as_str() {
                assert!(!text.contains(e.reason()), "{text} leaks {e}");
            }
        }
    }

    #[test]
    fn introspection_and_revocation_refusals_have_their_own_answers() {
        let forbidden = Error::IntrospectNotAllowed.wire();
        assert_eq!(
            (forbidden.status, forbidden.code),
            (403, ErrorCode::UnauthorizedClient)
        );
        assert!(forbidden.body().contains("introspect"));
        let hint = Error::UnsupportedTokenType.wire();
        assert!(hint.body().contains(r#""error":"unsupported_token_type""#));
        assert_eq!(Error::MissingToken.wire().status, 400);
        let full = Error::RevocationsFull { retry_after: 9 }.wire();
        assert_eq!(
            (full.status, full.headers),
            (503, vec![("Retry-After", "9".to_owned())])
        );
    }

    #[test]
    fn every_refused_proof_gets_the_same_answer_but_a_missing_nonce() {
        use ProofCheck as P;
        let answers: Vec<_> = [P::Malformed, P::Typ, P::Signature, P::Replay, P::Required]
            .map(|check| Error::Dpop(check).wire())
            .to_vec();
        assert!(answers.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(
            (answers[0].status, answers[0].code.as_str()),
            (400, "invalid_dpop_proof")
        );
        let nonce = Error::Dpop(P::Nonce).wire();
        assert_eq!((nonce.status, nonce.code.as_str()), (400, "use_dpop_nonce"));
    }

    #[test]
    fn a_wrong_method_gets_405_with_allow_post() {
        let w = Error::MethodNotAllowed.wire();
        assert!(w.body().contains("accepts only POST"), "{}", w.body());
        assert_eq!(
            (w.status, w.headers),
            (405, vec![("Allow", "POST".to_owned())])
        );
    }

    #[test]
    fn over_the_limit_is_429_with_retry_after_and_ratelimit_headers() {
        let w = Error::RateLimited {
            retry_after: 2,
            burst: 12,
            window: 3,
        }
        .wire();
        assert_eq!((w.status, w.code), (429, ErrorCode::TemporarilyUnavailable));
        assert_eq!(
            w.headers,
            [
                ("Retry-After", "2".to_owned()),
                ("RateLimit-Policy", "\"client\";q=12;w=3".to_owned()),
                ("RateLimit", "\"client\";r=0;t=2".to_owned()),
            ]
        );
        let q = Error::OverQuota {
            retry_after: 60,
            quota: 5,
            window: QuotaWindow::TenantDay,
        }
        .wire();
        assert_eq!((q.status, q.code), (429, ErrorCode::TemporarilyUnavailable));
        assert_eq!(
            q.headers,
            [
                ("Retry-After", "60".to_owned()),
                ("RateLimit-Policy", "\"tenant-day\";q=5;w=86400".to_owned()),
                ("RateLimit", "\"tenant-day\";r=0;t=60".to_owned()),
            ]
        );
        let t = Error::Throttled { retry_after: 30 }.wire();
        assert_eq!(
            (t.status, t.headers),
            (429, vec![("Retry-After", "30".to_owned())])
        );
    }
}
