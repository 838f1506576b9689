//! From raw HTTP parts to a typed token request: content type, body, parameters, and which
//! client authentication method was used (RFC 6749 §2.3.1, §3.2, §4.4.2).

use base64ct::{Base64, Encoding};

use super::{
    assertion::{Assertion, Check, ASSERTION_TYPE},
    audience::Requested,
    config::Endpoint,
    dpop::ProofInput,
    error::Error,
    form,
    mtls::ClientCertificate,
    secret::ClientSecret,
};

/// The largest body we read. A client-credentials request is well under 1 KiB.
pub const MAX_BODY_BYTES: usize = 8 * 1024;

/// The parts of an HTTP request the token endpoint looks at.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    /// The request URI's query (after `?`), if any. Any non-empty query is refused: RFC 6749
    /// §2.3.1 forbids credentials in the URI, and silently ignoring one would keep a client
    /// leaking its secret into every access log on the way.
    pub query: Option<&'a str>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    /// The body; the edge stops reading past [`MAX_BODY_BYTES`].
    pub body: &'a [u8],
    /// The `DPoP` header, if any (several are joined by ", ").
    pub dpop: Option<&'a str>,
    /// The request's URL, as the runtime serializes it (a DPoP proof's `htu` names it).
    pub url: &'a str,
    /// The client certificate of the connection, as the edge reported it (RFC 8705); `None`
    /// when none was presented.
    pub certificate: Option<&'a ClientCertificate>,
}

/// The query of a request URL as the runtime serializes it (WHATWG): between the first `?`
/// and the fragment; `None` without a `?`, `Some("")` for a bare one. The serialization
/// percent-encodes `#` everywhere before the fragment and `?` before the query, so the first
/// of each starts them; reading it so spares the Worker a URL parser.
pub fn query_of(url: &str) -> Option<&str> {
    let before_fragment = url.split_once('#').map_or(url, |(head, _)| head);
    before_fragment.split_once('?').map(|(_, query)| query)
}

/// The path of a request URL as the runtime serializes it (WHATWG, special scheme): from the
/// first `/` after `scheme://host` up to the query or fragment, `"/"` when there is none. The
/// serialization never leaves a `?` or `#` unencoded inside the path, so the first of either
/// ends it; a string without `://` is taken as a path already.
pub fn path_of(url: &str) -> &str {
    let after_host = match url.split_once("://") {
        Some((_, rest)) => match rest.find(['/', '?', '#']) {
            Some(i) if rest[i..].starts_with('/') => &rest[i..],
            _ => "",
        },
        None => url,
    };
    let path = after_host
        .find(['?', '#'])
        .map_or(after_host, |end| &after_host[..end]);
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

/// What the `Authorization` header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// No header.
    Absent,
    /// A scheme other than Basic.
    NotBasic,
    /// Basic, but not base64 of `form-urlencoded(id):form-urlencoded(secret)`.
    Malformed,
    /// Basic credentials, decoded.
    Credentials {
        /// The client id.
        id: String,
        /// The client secret.
        secret: ClientSecret,
    },
}

/// Whether an `Authorization` header attempts HTTP Basic, well-formed or not: then a failed
/// client authentication must be answered 401 with a challenge (RFC 6749 §5.2).
pub fn attempts_basic(header: Option<&str>) -> bool {
    header.is_some_and(|h| {
        let scheme = h.split_once(' ').map_or(h, |(scheme, _)| scheme);
        scheme.eq_ignore_ascii_case("basic")
    })
}

impl Authorization {
    /// Parses an `Authorization` header value per RFC 7617 and RFC 6749 §2.3.1.
    pub fn parse(header: Option<&str>) -> Self {
        let Some(header) = header else {
            return Self::Absent;
        };
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Self::NotBasic;
        }
        let Ok(decoded) = Base64::decode_vec(rest.trim_start_matches(' ')) else {
            return Self::Malformed;
        };
        let Ok(decoded) = String::from_utf8(decoded) else {
            return Self::Malformed;
        };
        let Some((id, secret)) = decoded.split_once(':') else {
            return Self::Malformed;
        };
        match (form::decode(id), form::decode(secret)) {
            (Ok(id), Ok(secret)) if !id.is_empty() => Self::Credentials {
                id,
                secret: ClientSecret::new(secret),
            },
            _ => Self::Malformed,
        }
    }
}

/// How the client authenticated (RFC 6749 §2.3, RFC 7523 §2.2): one method per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A secret, over Basic or in the body.
    Secret(ClientSecret),
    /// A `private_key_jwt` assertion, read but not yet checked.
    Assertion(Box<Assertion>),
    /// A body `client_id` alone: the client authenticates with the certificate of the
    /// connection (RFC 8705 §2), checked against its record later. For a client of another
    /// method this is no credential at all.
    TlsClient,
}

/// A well-formed client-credentials token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The presented client id (not yet known to exist): Basic's or the body's, else the
    /// assertion's `sub`.
    pub client_id: String,
    /// The presented credential.
    pub credential: Credential,
    /// The raw `scope` parameter; `None` when omitted or empty.
    pub scope: Option<String>,
    /// The audiences it names (`resource`, `audience`), not yet checked.
    pub targets: Requested,
    /// At the introspection and revocation endpoints: the `token` asked about (never empty).
    pub token: Option<String>,
    /// At the introspection and revocation endpoints: `token_type_hint`, if any.
    pub token_type_hint: Option<String>,
    /// At the token endpoint: the DPoP proof and the URL it must name, when the request has a
    /// `DPoP` header (read and checked by `core::dpop` once the client is authenticated).
    pub dpop: Option<ProofInput>,
    /// The client certificate of the connection, if one was presented (RFC 8705): what a
    /// mutual-TLS client authenticates with, and what a certificate-bound token names.
    pub certificate: Option<ClientCertificate>,
}

/// The parameters this endpoint reads; any other is ignored (RFC 6749 §3.2).
#[derive(Default)]
struct Params {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
    token: Option<String>,
    token_type_hint: Option<String>,
    targets: Requested,
}

impl Params {
    /// Collects the known parameters; a repeat is an error even when one value is empty,
    /// and an empty value counts as omitted (RFC 6749 §3.2). The exceptions, which may
    /// repeat: `resource` (RFC 8707 §2) and `audience` (whose values may also be
    /// space-separated); their empty values are dropped.
    fn collect(pairs: Vec<(String, String)>) -> Result<Self, Error> {
        let mut params = Self::default();
        let mut seen = [false; 8];
        for (name, value) in pairs {
            let (index, slot) = match name.as_str() {
                "resource" if !value.is_empty() => {
                    params.targets.resources.push(value);
                    continue;
                }
                "audience" => {
                    let values = value.split(' ').filter(|v| !v.is_empty());
                    params.targets.audiences.extend(values.map(str::to_owned));
                    continue;
                }
                "grant_type" => (0, &mut params.grant_type),
                "scope" => (1, &mut params.scope),
                "client_id" => (2, &mut params.client_id),
                "client_secret" => (3, &mut params.client_secret),
                "client_assertion_type" => (4, &mut params.client_assertion_type),
                "client_assertion" => (5, &mut params.client_assertion),
                "token" => (6, &mut params.token),
                "token_type_hint" => (7, &mut params.token_type_hint),
                _ => continue,
            };
            if std::mem::replace(&mut seen[index], true) {
                return Err(Error::DuplicateParameter);
            }
            *slot = (!value.is_empty()).then_some(value);
        }
        Ok(params)
    }
}

/// `true` for `application/x-www-form-urlencoded`, with or without parameters, in any case.
fn is_form(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|value| {
        let essence = value.split(';').next().unwrap_or("").trim();
        essence.eq_ignore_ascii_case("application/x-www-form-urlencoded")
    })
}

impl TokenRequest {
    /// Parses a token request, checking everything that needs no stored state, in the order
    /// a careful reader would: the envelope, the parameters, the grant type, the credentials.
    pub fn parse(http: &HttpRequest<'_>) -> Result<Self, Error> {
        Self::parse_at(http, Endpoint::Token)
    }

    /// Parses a request to `endpoint`: a token request needs `grant_type`; an introspection or
    /// revocation request (RFC 7662 §2.1, RFC 7009 §2.1) needs `token` instead, and ignores
    /// `grant_type`. The envelope and the client's credentials are read alike.
    pub fn parse_at(http: &HttpRequest<'_>, endpoint: Endpoint) -> Result<Self, Error> {
        if http.query.is_some_and(|query| !query.is_empty()) {
            return Err(Error::QueryInUri);
        }
        if !is_form(http.content_type) {
            return Err(Error::UnsupportedContentType);
        }
        if http.body.len() > MAX_BODY_BYTES {
            return Err(Error::BodyTooLarge);
        }
        let pairs = form::parse(http.body).map_err(|_| Error::MalformedBody)?;
        let mut params = Params::collect(pairs)?;
        if endpoint == Endpoint::Token {
            match params.grant_type.as_deref() {
                None => return Err(Error::MissingGrantType),
                Some("client_credentials") => {}
                Some(_) => return Err(Error::UnsupportedGrantType),
            }
        } else if params.token.is_none() {
            return Err(Error::MissingToken);
        }
        let asserted = params.client_assertion.is_some() || params.client_assertion_type.is_some();
        if asserted {
            if http.authorization.is_some() || params.client_secret.is_some() {
                return Err(Error::MultipleAuthMethods);
            }
            let (client_id, assertion) = Self::asserted(&mut params)?;
            return Ok(Self::presented(
                client_id, assertion, params, http, endpoint,
            ));
        }
        let (client_id, credential) = match Authorization::parse(http.authorization) {
            Authorization::NotBasic => return Err(Error::UnsupportedAuthScheme),
            Authorization::Malformed => return Err(Error::MalformedBasic),
            Authorization::Credentials { id, secret } => {
                if params.client_secret.is_some() {
                    return Err(Error::MultipleAuthMethods);
                }
                // A body `client_id` beside Basic is redundant; tolerated only when it agrees.
                if params
                    .client_id
                    .as_ref()
                    .is_some_and(|body_id| *body_id != id)
                {
                    return Err(Error::ClientIdMismatch);
                }
                (id, Credential::Secret(secret))
            }
            Authorization::Absent => match (params.client_id.take(), params.client_secret.take()) {
                (Some(id), Some(secret)) => (id, Credential::Secret(ClientSecret::new(secret))),
                // Its client named in the body and nothing else: a mutual-TLS client's (RFC 8705
                // §2), whatever the connection carries; the record decides.
                (Some(id), None) => (id, Credential::TlsClient),
                _ => return Err(Error::NoCredentials),
            },
        };
        Ok(Self::presented(
            client_id, credential, params, http, endpoint,
        ))
    }

    /// The request of `client_id`, which presented `credential`: the rest of its parameters,
    /// the connection's certificate, and, at the token endpoint only, the DPoP header's proof.
    fn presented(
        client_id: String,
        credential: Credential,
        params: Params,
        http: &HttpRequest<'_>,
        endpoint: Endpoint,
    ) -> Self {
        let dpop = (endpoint == Endpoint::Token)
            .then_some(http.dpop)
            .flatten()
            .map(|header| ProofInput {
                header: header.to_owned(),
                url: http.url.to_owned(),
            });
        Self {
            client_id,
            credential,
            scope: params.scope,
            targets: params.targets,
            token: params.token,
            token_type_hint: params.token_type_hint,
            dpop,
            certificate: http.certificate.cloned(),
        }
    }

    /// A `private_key_jwt` request's client id and assertion (RFC 7523 §2.2): the assertion
    /// type exactly, the assertion well-formed, and the client id the body's or else the
    /// assertion's `sub`.
    fn asserted(params: &mut Params) -> Result<(String, Credential), Error> {
        let refused = |check| Err(Error::Assertion(check));
        let (Some(ASSERTION_TYPE), Some(text)) = (
            params.client_assertion_type.as_deref(),
            params.client_assertion.as_deref(),
        ) else {
            return refused(Check::TypeUnsupported);
        };
        let assertion = Assertion::parse(text).map_err(Error::Assertion)?;
        let Some(client_id) = (params.client_id.take()).or_else(|| assertion.claims.sub.clone())
        else {
            return refused(Check::Malformed);
        };
        Ok((client_id, Credential::Assertion(Box::new(assertion))))
    }

    /// The presented secret, if the client sent one.
    pub fn secret(&self) -> Option<&ClientSecret> {
        match &self.credential {
            Credential::Secret(secret) => Some(secret),
            Credential::Assertion(_) | Credential::TlsClient => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    fn basic(raw: &str) -> String {
        format!("Basic {}", Base64::encode_string(raw.as_bytes()))
    }

    fn parse(authorization: Option<&str>, body: &str) -> Result<TokenRequest, Error> {
        TokenRequest::parse(&HttpRequest {
            query: None,
            content_type: FORM,
            authorization,
            body: body.as_bytes(),
            dpop: None,
            url: "",
            certificate: None,
        })
    }

    fn parse_at(endpoint: Endpoint, body: &str) -> Result<TokenRequest, Error> {
        TokenRequest::parse_at(
            &HttpRequest {
                query: None,
                content_type: FORM,
                authorization: Some(&basic("rs:secret")),
                body: body.as_bytes(),
                dpop: None,
                url: "",
                certificate: None,
            },
            endpoint,
        )
    }

    #[test]
    fn introspection_and_revocation_need_a_token_and_no_grant_type() {
        for endpoint in [Endpoint::Introspect, Endpoint::Revoke] {
            let req = parse_at(endpoint, "token=a.b.c&token_type_hint=access_token").unwrap();
            assert_eq!(req.token.as_deref(), Some("a.b.c"));
            assert_eq!(req.token_type_hint.as_deref(), Some("access_token"));
            assert_eq!(req.client_id, "rs");
            for body in ["", "token=", "grant_type=client_credentials"] {
                assert_eq!(parse_at(endpoint, body), Err(Error::MissingToken), "{body}");
            }
            assert_eq!(
                parse_at(endpoint, "token=a&token=b"),
                Err(Error::DuplicateParameter)
            );
        }
        // The token endpoint still wants its grant, and ignores a token.
        assert_eq!(
            parse_at(Endpoint::Token, "token=a"),
            Err(Error::MissingGrantType)
        );
    }

    #[test]
    fn basic_credentials_are_form_decoded_after_base64() {
        let header = basic("svc%3Aa%2Bb+%25x:p%25%2B%3A+w");
        let req = parse(Some(&header), "grant_type=client_credentials").unwrap();
        assert_eq!(req.client_id, "svc:a+b %x");
        assert_eq!(req.secret().unwrap().expose(), "p%+: w");
    }

    #[test]
    fn the_basic_scheme_name_is_case_insensitive() {
        let header = basic("id:secret").replacen("Basic", "bAsIc", 1);
        assert!(parse(Some(&header), "grant_type=client_credentials").is_ok());
    }

    #[test]
    fn a_raw_plus_in_a_basic_secret_is_a_space() {
        let req = parse(Some(&basic("id:a+b")), "grant_type=client_credentials").unwrap();
        assert_eq!(req.secret().unwrap().expose(), "a b");
    }

    #[test]
    fn malformed_basic_headers_are_invalid_requests() {
        for header in [
            "Basic !!!!".to_owned(),
            "Basic".to_owned(),
            "Basic aWQ".to_owned(), // unpadded
            basic("no-colon"),
            basic(":secret"),
            basic("id:bad%zzescape"),
            format!("Basic {}", Base64::encode_string(b"id:\xff")),
        ] {
            assert_eq!(
                parse(Some(&header), "grant_type=client_credentials"),
                Err(Error::MalformedBasic),
                "{header}"
            );
        }
    }

    #[test]
    fn another_scheme_is_an_authentication_failure() {
        assert_eq!(
            parse(Some("Bearer abc"), "grant_type=client_credentials"),
            Err(Error::UnsupportedAuthScheme)
        );
    }

    #[test]
    fn body_credentials_are_client_secret_post() {
        let req = parse(
            None,
            "grant_type=client_credentials&client_id=a%20b&client_secret=s%2B&scope=x+y",
        )
        .unwrap();
        assert_eq!(
            (req.client_id.as_str(), req.secret().unwrap().expose()),
            ("a b", "s+")
        );
        assert_eq!(req.scope.as_deref(), Some("x y"));
    }

    #[test]
    fn both_methods_at_once_are_an_invalid_request() {
        assert_eq!(
            parse(
                Some(&basic("id:s")),
                "grant_type=client_credentials&client_id=id&client_secret=s"
            ),
            Err(Error::MultipleAuthMethods)
        );
    }

    #[test]
    fn a_body_client_id_beside_basic_must_agree() {
        let header = basic("id:s");
        assert!(parse(Some(&header), "grant_type=client_credentials&client_id=id").is_ok());
        assert_eq!(
            parse(
                Some(&header),
                "grant_type=client_credentials&client_id=other"
            ),
            Err(Error::ClientIdMismatch)
        );
    }

    #[test]
    fn no_client_id_is_no_credentials() {
        for body in [
            "grant_type=client_credentials",
            "grant_type=client_credentials&client_secret=s",
            "grant_type=client_credentials&client_id=&client_secret=s",
        ] {
            assert_eq!(parse(None, body), Err(Error::NoCredentials), "{body}");
        }
    }

    #[test]
    fn a_client_id_alone_is_a_mutual_tls_request_carrying_the_connections_certificate() {
        for body in [
            "grant_type=client_credentials&client_id=id",
            "grant_type=client_credentials&client_id=id&client_secret=",
        ] {
            let req = parse(None, body).unwrap();
            assert_eq!(
                (req.client_id.as_str(), &req.credential),
                ("id", &Credential::TlsClient)
            );
            assert!(req.secret().is_none() && req.certificate.is_none());
        }
        let cert = crate::core::mtls::ClientCertificate {
            sha256: [1; 32],
            verified: true,
            revoked: false,
            subject_dn: Some("CN=id".into()),
        };
        let req = TokenRequest::parse(&HttpRequest {
            query: None,
            content_type: FORM,
            authorization: None,
            body: b"grant_type=client_credentials&client_id=id",
            dpop: None,
            url: "",
            certificate: Some(&cert),
        })
        .unwrap();
        assert_eq!(req.certificate, Some(cert));
    }

    #[test]
    fn a_duplicate_known_parameter_is_rejected_even_when_empty() {
        let header = basic("id:s");
        for body in [
            "grant_type=client_credentials&grant_type=client_credentials",
            "grant_type=client_credentials&scope=a&scope=",
            "grant_type=client_credentials&client_id=id&client_id=id",
            "grant_type=client_credentials&client_secret=&client_secret=s",
        ] {
            assert_eq!(
                parse(Some(&header), body),
                Err(Error::DuplicateParameter),
                "{body}"
            );
        }
    }

    /// A well-formed (unsigned, unchecked) assertion whose `sub` is `svc`.
    fn assertion() -> String {
        use base64ct::Base64UrlUnpadded as B;
        let part = |json: &str| B::encode_string(json.as_bytes());
        format!(
            "{}.{}.{}",
            part(r#"{"alg":"EdDSA"}"#),
            part(r#"{"sub":"svc"}"#),
            part("s")
        )
    }

    fn asserted(extra: &str) -> String {
        let kind = "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer";
        format!(
            "grant_type=client_credentials&client_assertion_type={kind}&client_assertion={}{extra}",
            assertion()
        )
    }

    #[test]
    fn an_assertion_names_its_client_by_sub_or_by_an_agreeing_body_client_id() {
        let req = parse(None, &asserted("")).unwrap();
        assert_eq!(req.client_id, "svc");
        assert!(matches!(req.credential, Credential::Assertion(_)));
        assert!(req.secret().is_none());
        // A disagreeing body client_id is looked up, and its sub check fails later.
        assert_eq!(
            parse(None, &asserted("&client_id=other"))
                .unwrap()
                .client_id,
            "other"
        );
    }

    #[test]
    fn an_assertion_beside_basic_or_a_client_secret_is_an_invalid_request() {
        assert_eq!(
            parse(Some(&basic("svc:s")), &asserted("")),
            Err(Error::MultipleAuthMethods)
        );
        assert_eq!(
            parse(None, &asserted("&client_secret=s")),
            Err(Error::MultipleAuthMethods)
        );
        assert_eq!(
            parse(None, &asserted("&client_assertion=x")),
            Err(Error::DuplicateParameter)
        );
    }

    #[test]
    fn the_assertion_type_must_be_exactly_jwt_bearer() {
        let a = assertion();
        for body in [
            format!("grant_type=client_credentials&client_assertion={a}"),
            format!("grant_type=client_credentials&client_assertion_type=jwt-bearer&client_assertion={a}"),
            "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer".to_owned(),
        ] {
            assert_eq!(
                parse(None, &body),
                Err(Error::Assertion(Check::TypeUnsupported)),
                "{body}"
            );
        }
        assert_eq!(
            parse(None, &asserted("").replace(&a, "not.a.jws")),
            Err(Error::Assertion(Check::Malformed))
        );
    }

    #[test]
    fn unknown_parameters_are_ignored_even_when_repeated() {
        let req = parse(
            Some(&basic("id:s")),
            "x=1&grant_type=client_credentials&x=2&realm=r",
        );
        assert!(req.is_ok());
    }

    #[test]
    fn resource_and_audience_may_repeat_and_audience_may_hold_several_values() {
        let req = parse(
            Some(&basic("id:s")),
            "grant_type=client_credentials&resource=https%3A%2F%2Fa&audience=b+c&resource=&resource=urn%3Ad&audience=e&audience=",
        )
        .unwrap();
        assert_eq!(req.targets.resources, ["https://a", "urn:d"]);
        assert_eq!(req.targets.audiences, ["b", "c", "e"]);
        let none = parse(
            Some(&basic("id:s")),
            "grant_type=client_credentials&resource=",
        )
        .unwrap();
        assert!(none.targets.is_empty(), "an empty value counts as omitted");
    }

    #[test]
    fn the_grant_type_is_required_and_must_be_client_credentials() {
        let header = basic("id:s");
        assert_eq!(parse(Some(&header), ""), Err(Error::MissingGrantType));
        assert_eq!(
            parse(Some(&header), "grant_type="),
            Err(Error::MissingGrantType)
        );
        assert_eq!(
            parse(Some(&header), "grant_type=password"),
            Err(Error::UnsupportedGrantType)
        );
        assert_eq!(
            parse(Some(&header), "grant_type=Client_Credentials"),
            Err(Error::UnsupportedGrantType)
        );
    }

    #[test]
    fn an_empty_scope_counts_as_omitted() {
        let req = parse(Some(&basic("id:s")), "grant_type=client_credentials&scope=").unwrap();
        assert_eq!(req.scope, None);
    }

    #[test]
    fn only_form_bodies_are_accepted() {
        let body = b"grant_type=client_credentials";
        for (content_type, ok) in [
            (None, false),
            (Some("application/json"), false),
            (Some("text/plain"), false),
            (
                Some("application/x-www-form-urlencoded; charset=UTF-8"),
                true,
            ),
            (Some("Application/X-WWW-Form-Urlencoded"), true),
        ] {
            let result = TokenRequest::parse(&HttpRequest {
                query: None,
                content_type,
                authorization: Some(&basic("id:s")),
                body,
                dpop: None,
                url: "",
                certificate: None,
            });
            assert_eq!(
                result.err() != Some(Error::UnsupportedContentType),
                ok,
                "{content_type:?}"
            );
        }
    }

    #[test]
    fn an_oversized_body_is_rejected() {
        let body = format!(
            "grant_type=client_credentials&pad={}",
            "x".repeat(MAX_BODY_BYTES)
        );
        assert_eq!(parse(Some(&basic("id:s")), &body), Err(Error::BodyTooLarge));
    }

    #[test]
    fn a_malformed_body_is_rejected() {
        assert_eq!(
            parse(Some(&basic("id:s")), "grant_type=client_credentials&x=%G0"),
            Err(Error::MalformedBody)
        );
    }

    #[test]
    fn the_path_is_read_from_the_serialized_url_as_a_url_parser_reads_it() {
        for url in [
            "https://auth.example.com/oauth2/token",
            "https://auth.example.com/oauth2/token?",
            "https://auth.example.com/a%3Fb/token?q=1#frag?x",
            "https://auth.example.com/token#only?fragment",
            "https://auth.example.com/",
            "https://auth.example.com",
            "https://auth.example.com?x=/y",
            "http://127.0.0.1:8787/t/acme/.well-known/jwks.json?realm=other#",
            "https://user:p@auth.example.com:8443/a//b/",
        ] {
            let parsed = url::Url::parse(url).unwrap();
            assert_eq!(path_of(url), parsed.path(), "{url}");
        }
    }

    #[test]
    fn a_url_without_a_scheme_is_taken_as_its_path() {
        assert_eq!(path_of("/oauth2/token?x=1"), "/oauth2/token");
        assert_eq!(path_of(""), "/");
    }

    #[test]
    fn the_query_is_read_from_the_serialized_url_as_a_url_parser_reads_it() {
        for url in [
            "https://auth.example.com/oauth2/token",
            "https://auth.example.com/oauth2/token?",
            "https://auth.example.com/oauth2/token?client_secret=s&x=%3F",
            "https://auth.example.com/a%3Fb/token?q=1#frag?x",
            "https://auth.example.com/token#only?fragment",
            "http://127.0.0.1:8787/oauth2/token?realm=other#",
        ] {
            let parsed = url::Url::parse(url).unwrap();
            assert_eq!(query_of(url), parsed.query(), "{url}");
        }
    }

    #[test]
    fn any_query_in_the_uri_is_refused_even_with_a_good_body() {
        let header = basic("id:s");
        for query in [
            "client_secret=s",
            "client_id=id&client_secret=s",
            "grant_type=client_credentials",
            "scope=a",
            "client_assertion=x",
            "realm=other",
        ] {
            let result = TokenRequest::parse(&HttpRequest {
                query: Some(query),
                content_type: FORM,
                authorization: Some(&header),
                body: b"grant_type=client_credentials",
                dpop: None,
                url: "",
                certificate: None,
            });
            assert_eq!(result, Err(Error::QueryInUri), "{query}");
        }
        let empty = TokenRequest::parse(&HttpRequest {
            query: Some(""),
            content_type: FORM,
            authorization: Some(&header),
            body: b"grant_type=client_credentials",
            dpop: None,
            url: "",
            certificate: None,
        });
        assert!(empty.is_ok(), "a bare '?' carries nothing");
    }
}
