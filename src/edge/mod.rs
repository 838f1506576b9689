//! The Workers: routing, and the translation between `worker` types and the core.
//!
//! Thin on purpose. Every decision is in [`crate::core`]; this layer reads the request, the
//! clock and the random source, calls the core, and writes the answer and one log line.
//!
//! One edge layer builds two Workers; the crate feature `admin-worker` selects which one the
//! entry serves (`scripts/build.sh` builds each):
//! - without it, the **token Worker** (wrangler.toml): the token endpoint, the JWKS and the
//!   metadata; no admin code at all;
//! - with it, the **admin Worker** (wrangler.admin.toml): the admin API alone.
//!
//! Both reach the guard objects through bindings with `script_name`: their classes are compiled
//! only into the third Worker, the **guard Worker** (feature `guard-worker`, wrangler.guard.toml),
//! whose entry is `objects.rs` instead of this module.

#[cfg(feature = "admin-worker")]
mod admin;
mod guard;
#[cfg(not(feature = "admin-worker"))]
mod introspect;
#[cfg(not(feature = "admin-worker"))]
mod jwks_fetch;
mod meter;
#[cfg(not(feature = "admin-worker"))]
mod sign;
mod state;
#[cfg(not(feature = "admin-worker"))]
mod store;
#[cfg(not(feature = "admin-worker"))]
mod verify;
#[cfg(not(feature = "admin-worker"))]
mod wire;

use std::{cell::RefCell, future::poll_fn, pin::pin, rc::Rc};

use futures_core::Stream;

#[cfg(not(feature = "admin-worker"))]
use worker::Method;
use worker::{console_error, event, Context, Date, Env, Headers, Request, Response, Result};

#[cfg(not(feature = "admin-worker"))]
use crate::core::cold::cold;
#[cfg(not(feature = "admin-worker"))]
use crate::core::{
    client::guard_name,
    config::Endpoint,
    credential::{logged_client_id, LoggedId},
    deployment::Deployment,
    dpop::current_nonce,
    guard::{Limiter, Source},
    mtls::ClientCertificate,
    request::{query_of, HttpRequest, MAX_BODY_BYTES},
    token::{Issuer, Outcome, JTI_BYTES},
};
use crate::core::{
    error::{Error, Wire},
    guard::IsolateCache,
};

thread_local! {
    /// What this isolate has learnt from the guard objects: leases, revocation views, blocks.
    static GUARD_CACHE: Rc<RefCell<IsolateCache>> = Rc::default();
}

/// Headers on every answer of the token endpoint (RFC 6749 §5.1, §5.2).
const NO_STORE: [(&str, &str); 3] = [
    ("Content-Type", "application/json;charset=UTF-8"),
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
];
/// The header that hands a DPoP nonce out (RFC 9449 §8).
#[cfg(not(feature = "admin-worker"))]
const DPOP_NONCE: &str = "DPoP-Nonce";
/// Headers on the public documents (JWKS, metadata): cacheable by anyone for five minutes.
#[cfg(not(feature = "admin-worker"))]
const PUBLIC: [(&str, &str); 3] = [
    ("Content-Type", "application/json;charset=UTF-8"),
    ("Cache-Control", "public, max-age=300"),
    ("Access-Control-Allow-Origin", "*"),
];

/// The entry of both Workers: builds (or reuses) the isolate's deployment, then hands the
/// request to the Worker's routes.
#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let started = Date::now().as_millis();
    let deployment = match state::deployment(&env) {
        Ok(deployment) => deployment,
        Err(problem) => {
            let wire = Error::BadConfig.wire();
            let line = LogLine::new(
                "startup",
                None,
                Err((Error::BadConfig, wire.status)),
                started,
            );
            console_error!("{}", line.detail(&problem).json());
            return error_response(wire);
        }
    };
    #[cfg(feature = "admin-worker")]
    return admin::handle(req, env, ctx, &deployment, started).await;
    #[cfg(not(feature = "admin-worker"))]
    return token_worker(req, env, ctx, &deployment, started).await;
}

/// The token Worker's routes: each tenant's token paths, introspection and revocation
/// endpoints, and documents; anything else, `/admin/...` included, is a plain 404.
#[cfg(not(feature = "admin-worker"))]
async fn token_worker(
    req: Request,
    env: Env,
    ctx: Context,
    deployment: &Deployment,
    started: u64,
) -> Result<Response> {
    let Some((issuer, endpoint)) = deployment.route(&req.path()) else {
        return not_found();
    };
    let body = match endpoint {
        Endpoint::Token => return token_route(req, env, ctx, issuer, started).await,
        Endpoint::Introspect | Endpoint::Revoke => {
            return cold(introspect::route(req, env, ctx, issuer, endpoint, started)).await
        }
        Endpoint::Jwks => issuer.keys.jwks_json(),
        Endpoint::Metadata => issuer.tenant.metadata_json(),
    };
    match req.method() {
        Method::Get | Method::Head => respond(200, &PUBLIC, &[], body.to_owned()),
        _ => respond(
            405,
            &PUBLIC,
            &[("Allow", "GET, HEAD".into())],
            r#"{"error":"method_not_allowed"}"#.into(),
        ),
    }
}

/// The token endpoint: answers, and logs one line.
#[cfg(not(feature = "admin-worker"))]
async fn token_route(
    req: Request,
    env: Env,
    ctx: Context,
    issuer: &Issuer,
    started: u64,
) -> Result<Response> {
    let headers = wire::TokenHeaders::read(&req);
    let (outcome, over_quota) = if req.method() == Method::Post {
        token(req, env.clone(), ctx, issuer, &headers, started).await
    } else {
        let refused = Outcome {
            client_id: None,
            result: Err(Error::MethodNotAllowed),
        };
        (refused, false)
    };
    let authorization = headers.authorization();
    let answer = outcome
        .result
        .map_err(|error| (error, issuer.wire(error, authorization)));
    let logged = answer.as_ref().map(|_| ()).map_err(|(e, w)| (*e, w.status));
    let line = LogLine::new("token", Some(&issuer.tenant.name), logged, started);
    let client = (outcome.client_id.as_deref()).map(|id| logged_client_id(id, &issuer.pepper));
    let line = LogLine {
        isolate: Some(meter::spent()),
        ray: headers.ray(),
        country: headers.country(),
        quota: over_quota.then_some("over"),
        ..line.client(client.as_ref())
    };
    wire::record(&line, &env);
    // A tenant that asks for DPoP nonces hands the current one out on every answer.
    let tenant = &issuer.tenant;
    let nonce =
        (tenant.dpop_nonce).then(|| current_nonce(&issuer.pepper, &tenant.name, started / 1000));
    match answer {
        Ok(token) => wire::issued(serde_json::to_string(&token)?, nonce),
        Err((_, mut wire)) => {
            wire.headers.extend(nonce.map(|n| (DPOP_NONCE, n)));
            error_response(wire)
        }
    }
}

/// The answer to a path that does not exist: not cached (a path may exist after the next
/// deploy) and not shared with other origins.
fn not_found() -> Result<Response> {
    respond(404, &NO_STORE, &[], r#"{"error":"not_found"}"#.into())
}

/// Reads the request's body and runs the core's checklist, at `now_ms` (the request's start);
/// with the outcome, whether a token was issued over a monitored quota.
#[cfg(not(feature = "admin-worker"))]
async fn token(
    mut req: Request,
    env: Env,
    ctx: Context,
    issuer: &Issuer,
    headers: &wire::TokenHeaders,
    now_ms: u64,
) -> (Outcome, bool) {
    let refused = |error| {
        let outcome = Outcome {
            client_id: None,
            result: Err(error),
        };
        (outcome, false)
    };
    let declared = headers.content_length();
    let body = match read_declared_body(&mut req, declared, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return refused(Error::BodyTooLarge),
        Err(BodyError::Unreadable) => return refused(Error::MalformedBody),
    };
    let mut jti = [0_u8; JTI_BYTES];
    if getrandom::fill(&mut jti).is_err() {
        return refused(Error::BadKeyMaterial);
    }
    let store = store::KvClientStore::new(&env);
    let limiter = Limiter {
        cache: GUARD_CACHE.with(Rc::clone),
        backend: guard::DoBackend::new(env.clone(), Rc::new(ctx)),
        source: Source::from_header(headers.source()),
    };
    let url = req.inner().url();
    let certificate = ClientCertificate::from_fields(&headers.tls());
    let http = HttpRequest {
        query: query_of(&url),
        content_type: headers.content_type(),
        authorization: headers.authorization(),
        body: &body,
        dpop: headers.dpop(),
        url: &url,
        certificate: certificate.as_ref(),
    };
    let outcome = issuer
        .issue(&store, &limiter, &sign::WebCryptoSigner, &http, now_ms, jti)
        .await;
    let over_quota = match (&outcome.result, &outcome.client_id) {
        (Ok(_), Some(id)) => limiter.over_quota(&guard_name(&issuer.tenant.name, id)),
        _ => false,
    };
    (outcome, over_quota)
}

/// Why a body was not read.
enum BodyError {
    /// Longer than allowed.
    TooLarge,
    /// The stream failed.
    Unreadable,
}

/// Reads the body, never holding more than `max` bytes of it: a declared length is checked
/// before reading (and then read in one call, the runtime enforcing the length); a body
/// without one is read chunk by chunk and abandoned past the limit.
#[cfg(feature = "admin-worker")]
async fn read_body(req: &mut Request, max: usize) -> std::result::Result<Vec<u8>, BodyError> {
    let declared: Option<usize> = req
        .headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|n| n.parse().ok());
    read_declared_body(req, declared, max).await
}

/// [`read_body`] with the `Content-Length` already read.
async fn read_declared_body(
    req: &mut Request,
    declared: Option<usize>,
    max: usize,
) -> std::result::Result<Vec<u8>, BodyError> {
    match declared {
        Some(n) if n > max => return Err(BodyError::TooLarge),
        Some(_) => return req.bytes().await.map_err(|_| BodyError::Unreadable),
        None => {}
    }
    let Ok(stream) = req.stream() else {
        return Ok(Vec::new()); // no body at all
    };
    let mut stream = pin!(stream);
    let mut body = Vec::new();
    while let Some(chunk) = poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        body.extend_from_slice(&chunk.map_err(|_| BodyError::Unreadable)?);
        if body.len() > max {
            return Err(BodyError::TooLarge);
        }
    }
    Ok(body)
}

fn error_response(wire: Wire) -> Result<Response> {
    respond(wire.status, &NO_STORE, &wire.headers, wire.body())
}

fn respond(
    status: u16,
    base: &[(&str, &str)],
    extra: &[(&str, String)],
    body: String,
) -> Result<Response> {
    let headers = Headers::new();
    for (name, value) in base {
        headers.set(name, value)?;
    }
    for (name, value) in extra {
        headers.set(name, value)?;
    }
    Ok(Response::from_bytes(body.into_bytes())?
        .with_status(status)
        .with_headers(headers))
}

/// One structured line per request: absent fields are left out. It names the tenant, the
/// client and the precise reason for the operator, and never carries a secret, a token or a
/// header value.
#[derive(serde::Serialize)]
struct LogLine<'a> {
    route: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    /// In place of `client_id` when the presented id may not be logged (it may be a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    client_tag: Option<&'a str>,
    outcome: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    ms: u64,
    /// The request's `CF-Ray`, to find it in Cloudflare's own logs and traces.
    #[serde(skip_serializing_if = "Option::is_none")]
    ray: Option<&'a str>,
    /// The country Cloudflare located the source in (`request.cf.country`).
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<&'a str>,
    /// `"over"` on the line of a token issued over a monitored quota (docs/limits.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    quota: Option<&'a str>,
    /// On token lines: what this isolate has spent on storage so far ([`meter`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    isolate: Option<meter::Spent>,
}

impl<'a> LogLine<'a> {
    fn new(
        route: &'a str,
        tenant: Option<&'a str>,
        result: std::result::Result<(), (Error, u16)>,
        started: u64,
    ) -> Self {
        let (outcome, status, error, reason) = match result {
            Ok(()) => ("issued", 200, None, None),
            Err((e, status)) => {
                let outcome = if status >= 500 { "fault" } else { "refused" };
                (
                    outcome,
                    status,
                    Some(e.wire().code.as_str()),
                    Some(e.reason()),
                )
            }
        };
        Self {
            route,
            tenant,
            client_id: None,
            client_tag: None,
            outcome,
            status,
            error,
            reason,
            detail: None,
            ray: None,
            country: None,
            quota: None,
            isolate: None,
            ms: Date::now().as_millis().saturating_sub(started),
        }
    }

    /// The client id the caller presented: as it is when it may be logged, else its tag.
    #[cfg(not(feature = "admin-worker"))]
    fn client(mut self, client_id: Option<&'a LoggedId<'a>>) -> Self {
        match client_id {
            Some(LoggedId::Plain(id)) => self.client_id = Some(id),
            Some(LoggedId::Tag(tag)) => self.client_tag = Some(tag),
            None => {}
        }
        self
    }

    fn detail(mut self, detail: &'a str) -> Self {
        self.detail = Some(detail);
        self
    }

    fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
