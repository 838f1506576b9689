//! The introspection and revocation endpoints (docs/introspection.md): the request read as at
//! the token endpoint, the core's checklist ([`crate::core::introspect`]), the answer with the
//! token endpoint's headers, and one log line (never the token; no usage data point, which
//! counts token-path requests).

use std::rc::Rc;

use worker::{web_sys, Context, Env};

use super::{
    error_response, guard,
    http::{self, BodyError},
    meter, store, wire, Fault, LogLine, GUARD_CACHE,
};
use crate::core::{
    config::Endpoint,
    credential::logged_client_id,
    error::Error,
    guard::{Limiter, Source},
    introspect::TokenOutcome,
    mtls::ClientCertificate,
    request::{HttpRequest, MAX_BODY_BYTES},
    token::Issuer,
};

/// One request to `endpoint` (introspection or revocation) of `issuer`: answers, and logs one
/// line.
pub async fn route(
    req: &web_sys::Request,
    headers: &wire::RequestHead,
    env: Env,
    ctx: Context,
    (issuer, endpoint): (&Issuer, Endpoint),
    started: u64,
) -> Result<web_sys::Response, Fault> {
    let outcome = if headers.method() == "POST" {
        answer(req, env, ctx, issuer, endpoint, headers, started).await
    } else {
        TokenOutcome {
            client_id: None,
            result: Err(Error::MethodNotAllowed),
        }
    };
    let authorization = headers.authorization();
    let answer = outcome
        .result
        .map_err(|error| (error, issuer.wire(error, authorization)));
    let logged = answer.as_ref().map(|_| ()).map_err(|(e, w)| (*e, w.status));
    let name = match endpoint {
        Endpoint::Revoke => "revoke",
        _ => "introspect",
    };
    let line = LogLine::new(name, Some(&issuer.tenant.name), logged, started);
    let client = (outcome.client_id.as_deref()).map(|id| logged_client_id(id, &issuer.pepper));
    let mut line = LogLine {
        isolate: Some(meter::spent()),
        ray: headers.ray(),
        country: headers.country(),
        ..line.client(client.as_ref())
    };
    if let Ok(answer) = &answer {
        line.outcome = answer.outcome;
        line.reason = answer.inactive.map(|why| why.reason());
    }
    // The log line only: the USAGE data points count token-path requests (docs/operating.md).
    worker::console_log!("{}", line.json());
    Ok(match answer {
        Ok(answer) => http::respond(200, http::Headers::NoStore, &[], &answer.body),
        Err((_, wire)) => error_response(wire),
    }?)
}

/// Reads the body and runs the core's checklist at `now_ms` (the request's start).
async fn answer(
    req: &web_sys::Request,
    env: Env,
    ctx: Context,
    issuer: &Issuer,
    endpoint: Endpoint,
    headers: &wire::RequestHead,
    now_ms: u64,
) -> TokenOutcome {
    let refused = |error| TokenOutcome {
        client_id: None,
        result: Err(error),
    };
    let declared = headers.content_length();
    let body = match http::read_body(req, declared, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return refused(Error::BodyTooLarge),
        Err(BodyError::Unreadable) => return refused(Error::MalformedBody),
    };
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
        dpop: None,
        url: headers.url(),
        certificate: certificate.as_ref(),
    };
    let verifier = super::sign::WebCryptoSigner;
    issuer
        .introspect_or_revoke(endpoint, &store, &limiter, &verifier, &http, now_ms)
        .await
}
