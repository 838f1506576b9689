//! The admin API's HTTP glue (docs/admin-api.md): checks the admin token and the source,
//! reads the request, routes it to its operation ([`ops`]: KV, the guard objects, and the
//! core's decisions), and answers and logs it; a refused change writes nothing.

use std::rc::Rc;

use serde::Serialize;
use worker::{console_error, console_log, Context, Date, Env, Headers, Request, Response};

use super::{guard, http::BodyError, not_found, state, GUARD_CACHE};
use crate::core::{
    admin::{
        check_admin_token, parse_body, parse_route, AdminAccess, AdminError, AdminRequest, Route,
        ADMIN_PREFIX, MAX_ADMIN_BODY_BYTES, MIN_ADMIN_TOKEN_BYTES,
    },
    deployment::Deployment,
    error::Error,
    guard::{Limiter, Source},
    token::Issuer,
};

mod ops;

use ops::Admin;

/// The Worker secret that switches the API on.
const ADMIN_TOKEN: &str = "ADMIN_TOKEN";

/// A status and the JSON body of a success, or a refusal.
pub(super) type Answer = Result<(u16, String), AdminError>;

/// A success: `status` and `body` in JSON.
pub(super) fn reply(status: u16, body: &impl Serialize) -> Answer {
    serde_json::to_string(body)
        .map(|json| (status, json))
        .map_err(|_| AdminError::fault("the answer could not be encoded"))
}

/// The admin Worker's routes: answers every request. Without a usable `ADMIN_TOKEN`, or
/// outside `/admin/`, it answers exactly as a path that does not exist. A source that keeps
/// presenting wrong admin tokens is throttled like failed client authentications
/// ([`refuse_source`]).
pub async fn handle(
    req: Request,
    env: Env,
    ctx: Context,
    deployment: &Deployment,
    started: u64,
) -> worker::Result<Response> {
    let configured = state::text(&env, ADMIN_TOKEN);
    if configured
        .as_deref()
        .map(str::trim)
        .is_some_and(|t| !t.is_empty() && t.len() < MIN_ADMIN_TOKEN_BYTES)
    {
        console_error!(
            r#"{{"route":"admin","detail":"ADMIN_TOKEN is shorter than {MIN_ADMIN_TOKEN_BYTES} bytes: the admin API stays off"}}"#
        );
    }
    if !req.path().starts_with(ADMIN_PREFIX) {
        return Ok(not_found()?.into());
    }
    let authorization = req.headers().get("Authorization").ok().flatten();
    let access = check_admin_token(configured.as_deref(), authorization.as_deref());
    if access == AdminAccess::Off {
        return Ok(not_found()?.into());
    }
    let limiter = source_limiter(&req, env.clone(), ctx);
    if let Some(refused) = refuse_source(&limiter, access, started) {
        return refused;
    }
    let request = match parse_route(req.method().as_ref(), &req.path()) {
        Ok(request) => request,
        Err(error) => {
            log(None, error.status, None, started);
            let allow = (error.status == 405).then(|| error.message.clone());
            let extra: Vec<(&str, &str)> = allow.iter().map(|a| ("Allow", a.as_str())).collect();
            return answer(Err(error), &extra);
        }
    };
    let result = match deployment.tenant(&request.tenant) {
        Some(issuer) => dispatch(req, &env, issuer, &request).await,
        None => Err(AdminError::not_found(format!(
            "no tenant {:?} in TENANTS",
            request.tenant
        ))),
    };
    log(
        Some(&request),
        result.as_ref().map_or_else(|e| e.status, |(s, _)| *s),
        None,
        started,
    );
    answer(result, &[])
}

/// The request's source (`CF-Connecting-IP`, set by Cloudflare's edge) and the isolate's
/// memory of blocked sources, shared with the token Worker's `SOURCE_GUARD` shards.
fn source_limiter(req: &Request, env: Env, ctx: Context) -> Limiter<guard::DoBackend> {
    let address = req.headers().get("CF-Connecting-IP").ok().flatten();
    let source = Source::from_header(address.as_deref());
    Limiter {
        cache: GUARD_CACHE.with(Rc::clone),
        backend: guard::DoBackend::new(env, Rc::new(ctx)),
        source,
    }
}

/// Before and after the admin token is checked: a source this isolate knows to be blocked
/// gets `429` whatever it presents (no oracle), and a wrong token gets `401`, is reported to
/// the source's shard in the background (the same counters and blocks as failed client
/// authentications, docs/limits.md) and logged with its source. A success costs nothing: no
/// object request, no storage write. `None`: the request may go on.
fn refuse_source(
    limiter: &Limiter<guard::DoBackend>,
    access: AdminAccess,
    started: u64,
) -> Option<worker::Result<Response>> {
    let source = limiter.source.key();
    if let Err(Error::Throttled { retry_after }) = limiter.check_source(Date::now().as_millis()) {
        log(None, 429, Some(source), started);
        let error = AdminError::new(
            429,
            "too_many_requests",
            "too many failed admin authentications from this address; retry later",
        );
        let wait = retry_after.to_string();
        return Some(answer(Err(error), &[("Retry-After", wait.as_str())]));
    }
    if access != AdminAccess::Denied {
        return None;
    }
    limiter.report_failure(Date::now().as_millis());
    log(None, 401, Some(source), started);
    Some(answer(
        Err(AdminError::unauthorized()),
        &[("WWW-Authenticate", r#"Bearer realm="admin""#)],
    ))
}

async fn dispatch(mut req: Request, env: &Env, issuer: &Issuer, request: &AdminRequest) -> Answer {
    let kv = env
        .kv("CLIENTS")
        .map_err(|_| AdminError::fault("the CLIENTS binding is missing"))?;
    let admin = Admin {
        env,
        kv,
        issuer,
        tenant: &request.tenant,
        now_ms: Date::now().as_millis(),
    };
    let body = read_body(&mut req).await?;
    match &request.route {
        Route::List => {
            let cursor = req.url().ok().and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == "cursor")
                    .map(|(_, v)| v.into_owned())
            });
            admin.list(cursor).await
        }
        Route::Create => admin.create(parse_body(&body)?).await,
        Route::Show(id) => admin.show(id).await,
        Route::Update(id) => admin.update(id, parse_body(&body)?).await,
        Route::Delete(id) => admin.delete(id).await,
        Route::Disable(id) => admin.set_disabled(id, true).await,
        Route::Enable(id) => admin.set_disabled(id, false).await,
        Route::Rotate(id) => admin.rotate(id, parse_body(&body)?).await,
        Route::Retire(id, secret_id) => admin.retire(id, secret_id).await,
        Route::Usage(id) => admin.quota_report(id).await,
        Route::Blocks => admin.blocks().await,
        Route::ClearBlocks(source) => admin.clear_blocks(source.as_deref()).await,
    }
}

/// The body, at most [`MAX_ADMIN_BODY_BYTES`].
async fn read_body(req: &mut Request) -> Result<Vec<u8>, AdminError> {
    super::read_body(req, MAX_ADMIN_BODY_BYTES)
        .await
        .map_err(|error| match error {
            BodyError::TooLarge => AdminError::too_large(MAX_ADMIN_BODY_BYTES),
            BodyError::Unreadable => AdminError::invalid("unreadable body"),
        })
}

fn answer(result: Answer, extra: &[(&str, &str)]) -> worker::Result<Response> {
    let (status, body) = match result {
        Ok((status, body)) => (status, body),
        Err(error) => (
            error.status,
            serde_json::to_string(&error.body()).unwrap_or_default(),
        ),
    };
    let headers = Headers::new();
    headers.set("Content-Type", "application/json;charset=UTF-8")?;
    headers.set("Cache-Control", "no-store")?;
    for (name, value) in extra {
        headers.set(name, value)?;
    }
    Ok(Response::from_bytes(body.into_bytes())?
        .with_status(status)
        .with_headers(headers))
}

/// One line per admin request: what, on which client, and how it ended; for a refused admin
/// token, the source (`CF-Connecting-IP`, an IPv6 address per /64). Never a body, a secret or
/// a header value.
fn log(request: Option<&AdminRequest>, status: u16, source: Option<&str>, started: u64) {
    let mut line = serde_json::Map::new();
    line.insert("route".into(), "admin".into());
    if let Some(request) = request {
        line.insert("op".into(), request.route.op().into());
        line.insert("tenant".into(), request.tenant.clone().into());
        if let Some(id) = request.route.client_id() {
            line.insert("client_id".into(), id.into());
        }
    }
    if let Some(source) = source {
        line.insert("source".into(), source.into());
    }
    line.insert("status".into(), status.into());
    let ms = Date::now().as_millis().saturating_sub(started);
    line.insert("ms".into(), ms.into());
    let line = serde_json::Value::Object(line);
    console_log!("{line}");
}
