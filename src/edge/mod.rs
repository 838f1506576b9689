//! The Workers: routing, and the translation between the runtime's types and the core.
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
mod http;
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

use std::{cell::RefCell, rc::Rc};

use worker::{console_error, event, web_sys, Context, Date, Env};

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
    request::{HttpRequest, MAX_BODY_BYTES},
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

/// The header that hands a DPoP nonce out (RFC 9449 §8).
#[cfg(not(feature = "admin-worker"))]
const DPOP_NONCE: &str = "DPoP-Nonce";

/// The token Worker's entry: builds (or reuses) the isolate's deployment, then hands the
/// request to the routes. It takes and returns the runtime's own `Request` and `Response`, read
/// and written in few calls ([`wire`], [`http`]), and never fails: a route's [`Fault`] becomes
/// our own 500 here, so that workers-rs's glue for an `Err` (a `worker::Error` formatted
/// through `Display`, a `worker::Response::error`) is not compiled in.
#[cfg(not(feature = "admin-worker"))]
#[event(fetch)]
async fn fetch(
    req: web_sys::Request,
    env: Env,
    ctx: Context,
) -> std::result::Result<web_sys::Response, std::convert::Infallible> {
    let started = Date::now().as_millis();
    let answer = match state::deployment(&env) {
        Ok(deployment) => token_worker(req, env, ctx, &deployment, started).await,
        Err(problem) => bad_config(&problem, started).map_err(Fault::from),
    };
    Ok(answer.unwrap_or_else(|fault| fault_answer(fault, started)))
}

/// The admin Worker's entry: builds (or reuses) the isolate's deployment, then hands the
/// request, as workers-rs's `Request`, to the admin API.
#[cfg(feature = "admin-worker")]
#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> worker::Result<web_sys::Response> {
    let started = Date::now().as_millis();
    match state::deployment(&env) {
        Ok(deployment) => admin::handle(req.into(), env, ctx, &deployment, started)
            .await
            .map(Into::into),
        Err(problem) => Ok(bad_config(&problem, started)?),
    }
}

/// The answer while the deployment cannot be built (a binding missing or invalid): a 500, and
/// a "startup" line that names the binding at fault (never its value).
fn bad_config(problem: &str, started: u64) -> http::Answer {
    let wire = Error::BadConfig.wire();
    let line = LogLine::new(
        "startup",
        None,
        Err((Error::BadConfig, wire.status)),
        started,
    );
    console_error!("{}", line.detail(problem).json());
    error_response(wire)
}

/// What kept a token Worker's route from answering; never a request's fault (those are RFC
/// 6749 §5.2 answers), so it is answered alike for all: [`fault_answer`].
#[cfg(not(feature = "admin-worker"))]
#[derive(Clone, Copy)]
enum Fault {
    /// The runtime threw instead of building the `Response` (what it threw is not logged: its
    /// message may quote a header's value).
    Answer,
    /// An issued token did not serialise.
    TokenJson,
}

#[cfg(not(feature = "admin-worker"))]
impl From<wasm_bindgen::JsValue> for Fault {
    fn from(_: wasm_bindgen::JsValue) -> Self {
        Self::Answer
    }
}

#[cfg(not(feature = "admin-worker"))]
impl Fault {
    /// The fault's name in the log line's `reason`.
    fn reason(self) -> &'static str {
        match self {
            Self::Answer => "answer_not_built",
            Self::TokenJson => "token_not_serialised",
        }
    }
}

/// The answer to a [`Fault`]: a 500 `{"error":"server_error"}` with the token endpoint's
/// headers, and a "fault" line naming it. Should even that answer fail, the entry's promise
/// resolves to `undefined`, which the runtime answers with its own 500 (an uncaught exception);
/// a throw from inside the future would leave wasm-bindgen's task queue half-run.
#[cfg(not(feature = "admin-worker"))]
#[cold]
#[inline(never)]
fn fault_answer(fault: Fault, started: u64) -> web_sys::Response {
    let line = LogLine {
        outcome: "fault",
        status: 500,
        error: Some("server_error"),
        reason: Some(fault.reason()),
        ..LogLine::new("fetch", None, Ok(()), started)
    };
    console_error!("{}", line.json());
    http::respond(
        500,
        http::Headers::NoStore,
        &[],
        r#"{"error":"server_error"}"#,
    )
    .unwrap_or_else(|_| wasm_bindgen::JsCast::unchecked_into(wasm_bindgen::JsValue::UNDEFINED))
}

/// The token Worker's routes: each tenant's token paths, introspection and revocation
/// endpoints, and documents; anything else, `/admin/...` included, is a plain 404.
#[cfg(not(feature = "admin-worker"))]
async fn token_worker(
    req: web_sys::Request,
    env: Env,
    ctx: Context,
    deployment: &Deployment,
    started: u64,
) -> std::result::Result<web_sys::Response, Fault> {
    let head = wire::RequestHead::read(&req);
    let Some((issuer, endpoint)) = deployment.route(head.path()) else {
        return Ok(not_found()?);
    };
    let body = match endpoint {
        Endpoint::Token => return token_route(&req, &head, env, ctx, issuer, started).await,
        Endpoint::Introspect | Endpoint::Revoke => {
            return cold(introspect::route(
                &req,
                &head,
                env,
                ctx,
                (issuer, endpoint),
                started,
            ))
            .await
        }
        Endpoint::Jwks => issuer.keys.jwks_json(),
        Endpoint::Metadata => issuer.tenant.metadata_json(),
    };
    Ok(match head.method() {
        "GET" | "HEAD" => http::respond(200, http::Headers::Public, &[], body),
        _ => http::respond(
            405,
            http::Headers::Public,
            &[("Allow", "GET, HEAD".into())],
            r#"{"error":"method_not_allowed"}"#,
        ),
    }?)
}

/// The token endpoint: answers, and logs one line.
#[cfg(not(feature = "admin-worker"))]
async fn token_route(
    req: &web_sys::Request,
    headers: &wire::RequestHead,
    env: Env,
    ctx: Context,
    issuer: &Issuer,
    started: u64,
) -> std::result::Result<web_sys::Response, Fault> {
    let (outcome, over_quota) = if headers.method() == "POST" {
        token(req, env.clone(), ctx, issuer, headers, started).await
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
        Ok(token) => {
            let extra: Vec<_> = nonce.into_iter().map(|n| (DPOP_NONCE, n)).collect();
            let json = serde_json::to_string(&token).map_err(|_| Fault::TokenJson)?;
            Ok(http::respond(200, http::Headers::NoStore, &extra, &json)?)
        }
        Err((_, mut wire)) => {
            wire.headers.extend(nonce.map(|n| (DPOP_NONCE, n)));
            Ok(error_response(wire)?)
        }
    }
}

/// The answer to a path that does not exist: not cached (a path may exist after the next
/// deploy) and not shared with other origins.
fn not_found() -> http::Answer {
    http::respond(404, http::Headers::NoStore, &[], r#"{"error":"not_found"}"#)
}

/// Reads the request's body and runs the core's checklist, at `now_ms` (the request's start);
/// with the outcome, whether a token was issued over a monitored quota.
#[cfg(not(feature = "admin-worker"))]
async fn token(
    req: &web_sys::Request,
    env: Env,
    ctx: Context,
    issuer: &Issuer,
    headers: &wire::RequestHead,
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
    let body = match http::read_body(req, declared, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(http::BodyError::TooLarge) => return refused(Error::BodyTooLarge),
        Err(http::BodyError::Unreadable) => return refused(Error::MalformedBody),
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
    let certificate = ClientCertificate::from_fields(&headers.tls());
    let http = HttpRequest {
        query: headers.query(),
        content_type: headers.content_type(),
        authorization: headers.authorization(),
        body: &body,
        dpop: headers.dpop(),
        url: headers.url(),
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

/// Reads the body of an admin request, never holding more than `max` bytes of it
/// ([`http::read_body`]).
#[cfg(feature = "admin-worker")]
async fn read_body(
    req: &worker::Request,
    max: usize,
) -> std::result::Result<Vec<u8>, http::BodyError> {
    let declared: Option<usize> = req
        .headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|n| n.parse().ok());
    http::read_body(req.inner(), declared, max).await
}

/// The RFC 6749 §5.2 answer of `wire`, with the token endpoint's headers.
fn error_response(wire: Wire) -> http::Answer {
    http::respond(
        wire.status,
        http::Headers::NoStore,
        &wire.headers,
        &wire.body(),
    )
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
