//! The token endpoint's request: the form body, the `Authorization` header and the Basic
//! credentials inside it, the whole request, and the `scope` parameter with its decision.

use base64ct::{Base64, Encoding};
use edge_token::core::{
    error::Error,
    form,
    request::{attempts_basic, Authorization, HttpRequest, TokenRequest, MAX_BODY_BYTES},
    scope::{self, OmittedScope, ScopePolicy, ScopeRules, ScopeToken, Scopes},
};

use super::{budget, bytes, check, fields1, text, Target, Verdict};
use crate::mutate::Input;

/// This surface's targets.
pub fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "form body",
            seeds: || fields1(BODIES),
            dictionary: FORM_WORDS,
            max_len: 2 * MAX_BODY_BYTES,
            run: form_body,
            budget: budget(64, 128),
        },
        Target {
            name: "Authorization header",
            seeds: || fields1(&authorizations()),
            dictionary: AUTH_WORDS,
            max_len: 2 * MAX_BODY_BYTES,
            run: authorization,
            budget: budget(8, 16),
        },
        Target {
            name: "Basic credentials (inside base64)",
            seeds: || fields1(CREDENTIALS),
            dictionary: FORM_WORDS,
            max_len: 2 * MAX_BODY_BYTES,
            run: basic_credentials,
            budget: budget(8, 16),
        },
        Target {
            name: "token request (content type, Authorization, body)",
            seeds: token_requests,
            dictionary: TOKEN_WORDS,
            max_len: 2 * MAX_BODY_BYTES,
            run: token_request,
            budget: budget(64, 128),
        },
        Target {
            name: "token request with Basic credentials",
            seeds: basic_token_requests,
            dictionary: TOKEN_WORDS,
            max_len: 2 * MAX_BODY_BYTES,
            run: basic_token_request,
            budget: budget(64, 128),
        },
        Target {
            name: "scope parameter and decision",
            seeds: scope_cases,
            dictionary: SCOPE_WORDS,
            max_len: 2 * MAX_BODY_BYTES,
            run: scope_decision,
            budget: budget(64, 128),
        },
    ]
}

/// `Authorization: Basic` of these credentials (RFC 7617: base64 of the bytes as they are).
fn basic_header(credentials: &[u8]) -> String {
    format!("Basic {}", Base64::encode_string(credentials))
}

const BODIES: &[&[u8]] = &[
    b"grant_type=client_credentials",
    b"grant_type=client_credentials&scope=orders%3Aread+orders%3Awrite",
    b"grant_type=client_credentials&client_id=svc&client_secret=etcs_abc%2B%2F%3D",
    b"grant_type=client_credentials&client_id=a%20b&client_secret=s%2B&scope=x+y&resource=r",
    b"b=2&&a=1&b=&flag",
    b"grant%5Ftype=client_credentials&scope=",
    // private_key_jwt: a well-formed (unsigned) assertion, so mutations reach its parser.
    b"grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJFZERTQSIsImtpZCI6ImsifQ.eyJpc3MiOiJzdmMiLCJzdWIiOiJzdmMiLCJleHAiOjF9.c2ln",
];
/// Bodies that go with Basic credentials (no `client_secret`).
const BASIC_BODIES: &[&[u8]] = &[
    b"grant_type=client_credentials",
    b"grant_type=client_credentials&scope=orders%3Aread+orders%3Awrite",
    b"scope=a&grant_type=client_credentials&client_id=svc&x=%2B",
    b"grant%5Ftype=client_credentials&scope=",
];
const CREDENTIALS: &[&[u8]] = &[
    b"svc:secret",
    b"svc%3Aa%2Bb+%25x:p%25%2B%3A+w",
    b"demo:etcs_0123456789abcdefghijklmnopqrstuvwxyzABCDEF_x",
    b"%C3%A9t%C3%A9:%F0%9F%94%91",
];
const FORM_WORDS: &[&[u8]] = &[
    b"grant_type",
    b"client_credentials",
    b"client_id",
    b"client_secret",
    b"client_assertion",
    b"client_assertion_type",
    b"scope",
    b"%2B",
    b"%25",
    b"%3A",
    b"%C3%A9",
    b"%FF",
    b"%F0%9F%94%91",
    b"%0",
    b"%%",
    b"&&",
    b"==",
    b"+",
    b":",
];
const AUTH_WORDS: &[&[u8]] = &[b"Basic ", b"basic", b"Bearer ", b"=", b"==", b"  ", b"Og=="];
const TOKEN_WORDS: &[&[u8]] = &[
    b"application/x-www-form-urlencoded",
    b"; charset=UTF-8",
    b"grant_type=client_credentials",
    b"&client_id=svc",
    b"&client_secret=s",
    b"&scope=a+b",
    b"Basic ",
    b"%2B",
    b"%3A",
    b"%FF",
    b"&&",
    b"=",
];

/// Valid Basic headers of [`CREDENTIALS`], and a few that are not.
fn authorizations() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = CREDENTIALS.iter().map(|c| basic_header(c).into()).collect();
    for other in ["Bearer abc", "Basic", "Basic aWQ", "bAsIc  c3ZjOnM="] {
        out.push(other.into());
    }
    out
}

fn form_body(input: &Input) -> Verdict {
    let body = bytes(&input[0]);
    match form::parse(body) {
        Ok(pairs) => {
            let decoded: usize = pairs.iter().map(|(n, v)| n.len() + v.len()).sum();
            check(decoded <= body.len(), "decoding made the text longer")?;
            Ok(true)
        }
        Err(_) => Ok(false),
    }
}

fn authorization(input: &Input) -> Verdict {
    let header = text(&input[0]);
    let parsed = Authorization::parse(header.as_deref());
    let basic = matches!(
        parsed,
        Authorization::Malformed | Authorization::Credentials { .. }
    );
    check(
        attempts_basic(header.as_deref()) == basic,
        "attempts_basic disagrees with the parse",
    )?;
    Ok(matches!(parsed, Authorization::Credentials { .. }))
}

fn basic_credentials(input: &Input) -> Verdict {
    let raw = bytes(&input[0]);
    let header = basic_header(raw);
    let Authorization::Credentials { id, secret } = Authorization::parse(Some(&header)) else {
        return Ok(false);
    };
    let text = std::str::from_utf8(raw).map_err(|_| "not UTF-8, yet accepted".to_owned())?;
    let (raw_id, raw_secret) = text.split_once(':').ok_or("no colon, yet accepted")?;
    check(
        form::decode(raw_id).as_deref() == Ok(id.as_str())
            && form::decode(raw_secret).as_deref() == Ok(secret.expose()),
        "the credentials are not the form-decoded halves",
    )?;
    Ok(true)
}

/// Fields: `Content-Type`, `Authorization`, the body. Mostly requests that are accepted.
fn token_requests() -> Vec<Input> {
    const FORM: &[u8] = b"application/x-www-form-urlencoded";
    let auths = authorizations();
    let mut out: Vec<Input> = auths
        .iter()
        .zip(BASIC_BODIES.iter().cycle())
        .map(|(auth, body)| vec![Some(FORM.to_vec()), Some(auth.clone()), Some(body.to_vec())])
        .collect();
    for (content_type, body) in [
        (
            b"application/x-www-form-urlencoded; charset=UTF-8".as_slice(),
            BODIES[2],
        ),
        (b"Application/X-WWW-Form-Urlencoded", BODIES[3]),
        (
            FORM,
            b"client_secret=s&grant_type=client_credentials&client_id=svc",
        ),
    ] {
        out.push(vec![Some(content_type.to_vec()), None, Some(body.to_vec())]);
    }
    out
}

fn basic_token_requests() -> Vec<Input> {
    let mut out = Vec::new();
    for (i, credentials) in CREDENTIALS.iter().enumerate() {
        out.push(vec![
            Some(b"application/x-www-form-urlencoded".to_vec()),
            Some(credentials.to_vec()),
            Some(BASIC_BODIES[i % BASIC_BODIES.len()].to_vec()),
        ]);
    }
    out
}

/// The properties of any parse: an accepted request has credentials; a refusal is a 4xx.
fn judge(parsed: Result<TokenRequest, Error>) -> Verdict {
    match parsed {
        Ok(request) => {
            check(
                !request.client_id.is_empty(),
                "an empty client id was accepted",
            )?;
            check(
                request.scope.as_deref() != Some(""),
                "an empty scope was kept",
            )?;
            Ok(true)
        }
        Err(error) => {
            let status = error.wire().status;
            check(
                (400..500).contains(&status),
                &format!("a parse refusal answered {status}: {error:?}"),
            )?;
            Ok(false)
        }
    }
}

fn token_request(input: &Input) -> Verdict {
    let content_type = text(&input[0]);
    let authorization = text(&input[1]);
    judge(TokenRequest::parse(&HttpRequest {
        query: None,
        content_type: content_type.as_deref(),
        authorization: authorization.as_deref(),
        body: bytes(&input[2]),
        dpop: None,
        url: "",
        certificate: None,
    }))
}

fn basic_token_request(input: &Input) -> Verdict {
    let content_type = text(&input[0]);
    let authorization = input[1].as_deref().map(basic_header);
    judge(TokenRequest::parse(&HttpRequest {
        query: None,
        content_type: content_type.as_deref(),
        authorization: authorization.as_deref(),
        body: bytes(&input[2]),
        dpop: None,
        url: "",
        certificate: None,
    }))
}

const SCOPE_WORDS: &[&[u8]] = &[
    b"orders:read",
    b"orders:write",
    b"*",
    b" ",
    b"  ",
    b"\"",
    b"\\",
    b"openid",
    b"!#[]~",
];

/// Fields: the requested scope (absent = omitted), the allowed scopes, the default scopes,
/// and the rules (first byte even = strict, odd = subset; the rest, if any, the wildcard).
fn scope_cases() -> Vec<Input> {
    let case = |requested: Option<&[u8]>, allowed: &[u8], defaults: &[u8], rules: &[u8]| {
        vec![
            requested.map(<[u8]>::to_vec),
            Some(allowed.to_vec()),
            Some(defaults.to_vec()),
            Some(rules.to_vec()),
        ]
    };
    vec![
        case(Some(b"b a"), b"a b c", b"a", b"0"),
        case(Some(b"a z a"), b"a b", b"", b"1"),
        case(None, b"orders:read orders:write", b"orders:read", b"0"),
        case(Some(b"*"), b"openid profile name", b"openid", b"0*"),
        case(Some(b"!#[]~ x"), b"!#[]~", b"!#[]~", b"1*"),
    ]
}

fn scope_list(field: &Option<Vec<u8>>) -> Scopes {
    let text = String::from_utf8_lossy(bytes(field));
    Scopes::parse(&text).unwrap_or_default()
}

fn scope_decision(input: &Input) -> Verdict {
    let requested = text(&input[0]);
    let (allowed, defaults) = (scope_list(&input[1]), scope_list(&input[2]));
    let rules_field = bytes(&input[3]);
    let rules = ScopeRules {
        policy: match rules_field.first() {
            Some(b) if b % 2 == 1 => ScopePolicy::Subset,
            _ => ScopePolicy::Strict,
        },
        wildcard: rules_field
            .get(1..)
            .and_then(|w| ScopeToken::parse(&String::from_utf8_lossy(w))),
        omitted: match rules_field.first().map(|b| b / 2 % 3) {
            Some(1) => OmittedScope::None,
            Some(2) => OmittedScope::Error,
            _ => OmittedScope::Defaults,
        },
    };
    if let Some(Ok(parsed)) = requested.as_deref().map(Scopes::parse) {
        let again = Scopes::parse(&parsed.to_scope_string());
        check(
            again.as_ref() == Ok(&parsed),
            "a parsed scope does not parse back",
        )?;
    }
    match scope::decide(requested.as_deref(), &allowed, &defaults, &rules) {
        Ok(grant) => {
            check(
                !grant.scopes.is_empty() || (requested.is_none() && defaults.is_empty()),
                "an empty grant for a named scope or beside defaults",
            )?;
            check(
                requested.is_none() || grant.scopes.is_subset_of(&allowed),
                "a grant beyond the allowed scopes",
            )?;
            Ok(true)
        }
        Err(error) => {
            check(
                matches!(
                    error,
                    Error::MalformedScope | Error::ScopeNotAllowed | Error::NoScope
                ),
                &format!("a scope refusal of another kind: {error:?}"),
            )?;
            Ok(false)
        }
    }
}
