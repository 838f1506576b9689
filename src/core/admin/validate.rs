//! The checks of each member an operator sets, with a message that names the member. The
//! rules that span members, and the token path's own reader as the last word, are in
//! [`check`].

use serde_json::{Map, Value};

use super::error::AdminError;
use crate::core::{
    claims,
    federation::{Federation, FEDERATED_JWT},
    guard::quota::{Quota, MAX_QUOTA},
    jwk::{Alg, BadKeySet, ClientKeys},
    jwks_cache::{is_valid_jwks_uri, MAX_JWKS_URI_CHARS},
    limit::{Limit, MAX_RATE},
    mtls::{
        is_valid_subject_dn, parse_sha256_hex, MAX_FINGERPRINTS, MAX_SUBJECT_DN_CHARS,
        SELF_SIGNED_TLS_CLIENT_AUTH, TLS_CLIENT_AUTH,
    },
    record::{Record, PRIVATE_KEY_JWT, SECRET_METHODS, TOKEN_TTL_RANGE},
    scope::ScopeToken,
};

/// The longest audience value.
const MAX_AUDIENCE_CHARS: usize = 512;
/// The longest grant type name.
const MAX_GRANT_CHARS: usize = 256;
/// At most this many scopes, audiences or grant types per record.
const MAX_LIST: usize = 256;

/// `list` without repeats, in order, if every entry passes `ok`; else the message `bad` makes
/// for the first entry that does not.
fn distinct(
    list: &[String],
    ok: impl Fn(&str) -> bool,
    bad: impl Fn(&str) -> String,
) -> Result<Vec<String>, AdminError> {
    let mut out: Vec<String> = Vec::new();
    for entry in list {
        if !ok(entry) {
            return Err(AdminError::invalid(bad(entry)));
        }
        if !out.contains(entry) {
            out.push(entry.clone());
        }
    }
    Ok(out)
}

/// A list of scope tokens (RFC 6749 §3.3); `what` names the member.
pub fn scope_list(what: &str, list: &[String]) -> Result<Vec<String>, AdminError> {
    let out = distinct(
        list,
        |s| ScopeToken::parse(s).is_some(),
        |s| {
            format!("{what}: {s:?} is not a scope token (RFC 6749 §3.3: printable ASCII except space, \" and \\)")
        },
    )?;
    if out.len() > MAX_LIST {
        return Err(AdminError::invalid(format!(
            "{what}: at most {MAX_LIST} entries"
        )));
    }
    Ok(out)
}

/// The `aud` values: 1 to [`MAX_LIST`], each without spaces or control characters.
pub fn audience_list(list: &[String]) -> Result<Vec<String>, AdminError> {
    if list.is_empty() || list.len() > MAX_LIST {
        return Err(AdminError::invalid(format!(
            "audience: 1 to {MAX_LIST} values"
        )));
    }
    distinct(
        list,
        |a| {
            !a.is_empty()
                && a.len() <= MAX_AUDIENCE_CHARS
                && !a.chars().any(|c| c.is_control() || c.is_whitespace())
        },
        |a| format!("audience: {a:?} must be 1-{MAX_AUDIENCE_CHARS} characters without spaces"),
    )
}

/// The default audiences: 1 or more values (their membership of `audience` is [`check`]ed).
pub fn default_audience(list: &[String]) -> Result<Vec<String>, AdminError> {
    let mut out: Vec<String> = Vec::new();
    for value in list {
        if !out.contains(value) {
            out.push(value.clone());
        }
    }
    if out.is_empty() {
        return Err(AdminError::invalid(
            "default_audience: 1 or more values of audience (null: every audience)",
        ));
    }
    Ok(out)
}

/// Static claims: no name the token sets itself, bounded in size ([`claims::check`]).
pub fn claims(claims: Map<String, Value>) -> Result<Map<String, Value>, AdminError> {
    claims::check(&claims).map_err(|e| AdminError::invalid(format!("claims: {}", e.0)))?;
    Ok(claims)
}

/// Grant type names (RFC 6749 A.10: a grant-name, or an absolute URI for an extension grant).
pub fn grant_list(list: &[String]) -> Result<Vec<String>, AdminError> {
    let out = distinct(
        list,
        |g| {
            !g.is_empty()
                && g.len() <= MAX_GRANT_CHARS
                && g.bytes().all(|b| (0x21..=0x7E).contains(&b))
        },
        |g| format!("grant_types: {g:?} is not a grant type name"),
    )?;
    if out.len() > MAX_LIST {
        return Err(AdminError::invalid("grant_types: too many entries"));
    }
    Ok(out)
}

/// A token lifetime within [`TOKEN_TTL_RANGE`].
pub fn token_ttl(ttl: u64) -> Result<u64, AdminError> {
    if TOKEN_TTL_RANGE.contains(&ttl) {
        Ok(ttl)
    } else {
        Err(AdminError::invalid(format!(
            "token_ttl must be {} to {} seconds",
            TOKEN_TTL_RANGE.start(),
            TOKEN_TTL_RANGE.end()
        )))
    }
}

/// How a new client authenticates: `Some(alg)` for `private_key_jwt` (whose keys must then be
/// either `jwks`, public keys of `alg`, or a `jwks_uri`), `None` for a secret (no keys and no
/// algorithm given).
pub fn auth_method(
    method: Option<&str>,
    alg: Option<&str>,
    jwks: Option<&serde_json::Value>,
    jwks_uri: Option<&str>,
) -> Result<Option<Alg>, AdminError> {
    match method {
        Some(PRIVATE_KEY_JWT) => {
            let alg = alg.map_or(Some(Alg::EdDSA), Alg::parse).ok_or_else(|| {
                AdminError::invalid(
                    "token_endpoint_auth_signing_alg: one of EdDSA, ES256, RS256, PS256",
                )
            })?;
            match (jwks, jwks_uri) {
                (Some(jwks), None) => client_keys(jwks, alg)?,
                (None, Some(uri)) => key_uri(uri)?,
                (Some(_), Some(_)) => {
                    return Err(AdminError::invalid("give either jwks or jwks_uri, not both"))
                }
                (None, None) => {
                    return Err(AdminError::invalid(
                        "jwks: a private_key_jwt client needs its public keys (jwks or jwks_uri)",
                    ))
                }
            }
            Ok(Some(alg))
        }
        Some(FEDERATED_JWT) => {
            if alg.is_some() || jwks.is_some() || jwks_uri.is_some() {
                return Err(AdminError::invalid(
                    "a federated_jwt client has no keys of its own: its trusted issuer's are used",
                ));
            }
            Ok(None)
        }
        Some(TLS_CLIENT_AUTH | SELF_SIGNED_TLS_CLIENT_AUTH) => {
            if alg.is_some() || jwks.is_some() || jwks_uri.is_some() {
                return Err(AdminError::invalid(
                    "a mutual-TLS client has no keys: its certificate authenticates it",
                ));
            }
            Ok(None)
        }
        None => secret_only(alg, jwks.is_some() || jwks_uri.is_some()),
        Some(m) if SECRET_METHODS.contains(&m) => {
            secret_only(alg, jwks.is_some() || jwks_uri.is_some())
        }
        Some(_) => Err(AdminError::invalid(
            "token_endpoint_auth_method: client_secret_basic, client_secret_post, private_key_jwt, federated_jwt, tls_client_auth or self_signed_tls_client_auth",
        )),
    }
}

fn secret_only(alg: Option<&str>, keys: bool) -> Result<Option<Alg>, AdminError> {
    if alg.is_some() || keys {
        return Err(AdminError::invalid(
            "jwks, jwks_uri and token_endpoint_auth_signing_alg need token_endpoint_auth_method private_key_jwt",
        ));
    }
    Ok(None)
}

/// A JWK Set of public keys of `alg`, with the reason when it is not one.
pub fn client_keys(jwks: &serde_json::Value, alg: Alg) -> Result<(), AdminError> {
    ClientKeys::parse(jwks, alg)
        .map(|_| ())
        .map_err(|BadKeySet(why)| AdminError::invalid(format!("jwks: {why}")))
}

/// Whether a new client is federated: `federation` is given exactly for `federated_jwt`, and
/// keeps its rules ([`Federation::problem`]).
pub fn federation(
    method: Option<&str>,
    federation: Option<&Federation>,
) -> Result<bool, AdminError> {
    match (method, federation) {
        (Some(FEDERATED_JWT), Some(f)) => f
            .problem()
            .map_or(Ok(true), |why| Err(AdminError::invalid(why))),
        (Some(FEDERATED_JWT), None) => Err(AdminError::invalid(
            "federation: a federated_jwt client needs its trusted issuer and subject",
        )),
        (_, Some(_)) => Err(AdminError::invalid(
            "federation needs token_endpoint_auth_method federated_jwt",
        )),
        (_, None) => Ok(false),
    }
}

/// Whether a new client authenticates with mutual TLS (RFC 8705 §2): `tls_client_auth` with
/// exactly a valid subject DN, or `self_signed_tls_client_auth` with exactly 1 to
/// [`MAX_FINGERPRINTS`] SHA-256 fingerprints (returned in lowercase hex); neither member for
/// another method.
pub fn mtls(
    method: Option<&str>,
    subject_dn: Option<&str>,
    fingerprints: Option<&[String]>,
) -> Result<Option<Vec<String>>, AdminError> {
    match (method, subject_dn, fingerprints) {
        (Some(TLS_CLIENT_AUTH), Some(dn), None) => subject(dn).map(|()| Some(Vec::new())),
        (Some(TLS_CLIENT_AUTH), _, _) => Err(AdminError::invalid(
            "tls_client_auth_subject_dn: a tls_client_auth client needs its certificate's subject DN, and no fingerprint",
        )),
        (Some(SELF_SIGNED_TLS_CLIENT_AUTH), None, Some(prints)) => sha256_list(prints).map(Some),
        (Some(SELF_SIGNED_TLS_CLIENT_AUTH), _, _) => Err(AdminError::invalid(
            "tls_client_certificate_sha256: a self_signed_tls_client_auth client needs its certificate's SHA-256, and no subject DN",
        )),
        (_, None, None) => Ok(None),
        _ => Err(AdminError::invalid(
            "tls_client_auth_subject_dn and tls_client_certificate_sha256 need token_endpoint_auth_method tls_client_auth or self_signed_tls_client_auth",
        )),
    }
}

/// A subject DN a `tls_client_auth` record may hold ([`is_valid_subject_dn`]).
pub fn subject(dn: &str) -> Result<(), AdminError> {
    if is_valid_subject_dn(dn) {
        Ok(())
    } else {
        Err(AdminError::invalid(format!(
            "tls_client_auth_subject_dn: an RFC 4514 DN such as CN=svc,O=Example, 1-{MAX_SUBJECT_DN_CHARS} characters without control characters"
        )))
    }
}

/// 1 to [`MAX_FINGERPRINTS`] SHA-256 fingerprints, 64 hex digits each (`:` between bytes
/// allowed), in lowercase hex without separators.
pub fn sha256_list(prints: &[String]) -> Result<Vec<String>, AdminError> {
    let bad = || {
        AdminError::invalid(format!(
            "tls_client_certificate_sha256: 1 to {MAX_FINGERPRINTS} SHA-256 fingerprints of 64 hex digits"
        ))
    };
    if !(1..=MAX_FINGERPRINTS).contains(&prints.len()) {
        return Err(bad());
    }
    prints
        .iter()
        .map(|p| {
            let hex = p.replace(':', "").to_ascii_lowercase();
            parse_sha256_hex(&hex).map(|_| hex).ok_or_else(bad)
        })
        .collect()
}

/// A `jwks_uri` the token endpoint will fetch ([`is_valid_jwks_uri`]).
pub fn key_uri(uri: &str) -> Result<(), AdminError> {
    if is_valid_jwks_uri(uri) {
        Ok(())
    } else {
        Err(AdminError::invalid(format!(
            "jwks_uri: an https URL without user info or fragment, at most {MAX_JWKS_URI_CHARS} characters (http only to 127.0.0.1, [::1] or localhost, for local tests)"
        )))
    }
}

/// A rate limit that [`Limit::is_valid`] accepts.
pub fn limit(limit: Limit) -> Result<Limit, AdminError> {
    if limit.is_valid() {
        Ok(limit)
    } else {
        Err(AdminError::invalid(format!(
            "rate_limit: per_minute and burst must each be 1 to {MAX_RATE}"
        )))
    }
}

/// A quota that [`Quota::is_valid`] accepts.
pub fn quota(quota: Quota) -> Result<Quota, AdminError> {
    if quota.is_valid() {
        Ok(quota)
    } else {
        Err(AdminError::invalid(format!(
            "quota: per_hour or per_day is needed, each 1 to {MAX_QUOTA}"
        )))
    }
}

/// The rules that span members, then the token path's own reader as the last word: a record
/// this returns `Ok` for is one the token endpoint accepts.
pub fn check(record: &Record) -> Result<(), AdminError> {
    if record.scopes.is_empty() {
        return Err(AdminError::invalid("scopes: at least one scope"));
    }
    if !record.one_binding_at_most() {
        return Err(AdminError::invalid(
            "dpop_bound_access_tokens and tls_client_certificate_bound_access_tokens: a token is bound to one key at most, choose one",
        ));
    }
    let outside: Vec<&str> = record
        .default_scopes
        .iter()
        .filter(|s| !record.scopes.contains(s))
        .map(String::as_str)
        .collect();
    if !outside.is_empty() {
        return Err(AdminError::invalid(format!(
            "default_scopes must be a subset of scopes; not in scopes: {}",
            outside.join(" ")
        )));
    }
    let stray: Vec<&str> = record
        .default_audience
        .iter()
        .flatten()
        .filter(|a| !record.audience.contains(a))
        .map(String::as_str)
        .collect();
    if !stray.is_empty() {
        return Err(AdminError::invalid(format!(
            "default_audience must be a subset of audience; not in audience: {}",
            stray.join(" ")
        )));
    }
    if record.keeps_the_schema() {
        Ok(())
    } else {
        Err(AdminError::invalid("the record would break the schema"))
    }
}
