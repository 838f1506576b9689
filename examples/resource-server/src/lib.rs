//! An API protected by the token endpoint's access tokens: a resource server as a Rust Worker.
//!
//! Each request's `Authorization: Bearer` (or `DPoP`) token is checked locally against the
//! issuer's JWKS ([`jwks`]): its signature (Ed25519, verified by the runtime's WebCrypto),
//! `typ` `at+jwt` (RFC 9068), `iss`, `aud` (this API's identifier), `exp`/`nbf`/`iat` with a
//! small clock skew ([`token`]); a token bound to a client certificate or a DPoP key is served
//! only to its holder ([`binding`], [`dpop`]); then the scope that the route requires. Routes marked high-value also ask the
//! issuer's introspection endpoint (RFC 7662, [`introspect`]) whether the token is still
//! active. Refusals are RFC 6750 §3 challenges ([`answer`]).
//!
//! Configuration (wrangler.toml `[vars]` and one secret): `ISSUER` (the `iss` to accept),
//! `AUDIENCE` (this API's identifier), `JWKS_URL`, optional `JWKS_REFETCH_SECONDS` (how often
//! an unknown `kid` may make it fetch the JWKS again; default 60), and for the high-value
//! routes `INTROSPECTION_URL`, `INTROSPECTION_CLIENT_ID` and the secret
//! `INTROSPECTION_CLIENT_SECRET`.

// Built by CI without clippy (a second check build of every dependency): rustc's own
// lints at least fail the build.
#![deny(missing_docs, warnings)]

mod answer;
mod binding;
mod dpop;
mod introspect;
mod jwks;
mod subtle;
mod token;

use worker::{event, Context, Date, Env, Method, Request, Response, Result};

use answer::Refusal;

/// One route of the API: what it requires of a token.
struct Route {
    /// The HTTP method.
    method: Method,
    /// The exact path.
    path: &'static str,
    /// The scope a token must carry.
    scope: &'static str,
    /// Whether the issuer is asked, per request, that the token is still active.
    high_value: bool,
}

/// The API's routes. Edit this table for your own API.
const ROUTES: [Route; 3] = [
    Route {
        method: Method::Get,
        path: "/orders",
        scope: "orders:read",
        high_value: false,
    },
    Route {
        method: Method::Post,
        path: "/orders",
        scope: "orders:write",
        high_value: false,
    },
    Route {
        method: Method::Post,
        path: "/payments",
        scope: "payments:write",
        high_value: true,
    },
];

/// The settings read from the environment on each request (cheap: no parsing but numbers).
pub(crate) struct Config {
    /// The issuer whose tokens are accepted (`iss`).
    pub issuer: String,
    /// This API's identifier, which must be among a token's `aud`.
    pub audience: String,
    /// Where the issuer publishes its keys.
    pub jwks_url: String,
    /// Seconds between two fetches of the JWKS caused by an unknown `kid`.
    pub refetch_seconds: u64,
}

impl Config {
    /// Reads the settings; a missing one is a fault of the deployment.
    fn from_env(env: &Env) -> Option<Config> {
        let var = |name: &str| {
            env.var(name)
                .ok()
                .map(|v| v.to_string())
                .filter(|v| !v.is_empty())
        };
        Some(Config {
            issuer: var("ISSUER")?,
            audience: var("AUDIENCE")?,
            jwks_url: var("JWKS_URL")?,
            refetch_seconds: var("JWKS_REFETCH_SECONDS")
                .and_then(|s| s.parse().ok())
                .unwrap_or(60),
        })
    }
}

/// The Worker's entry: routes the request, checks its token, answers.
#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    let method = req.method();
    let Some(route) = ROUTES.iter().find(|r| r.path == path && r.method == method) else {
        return Response::error("not found", 404);
    };
    let Some(config) = Config::from_env(&env) else {
        log(route, 500, "configuration");
        return Response::error("server error", 500);
    };
    let scheme = token::scheme(authorization(&req).as_deref());
    match authorize(&req, &env, &config, route).await {
        Ok(claims) => {
            log(route, 200, "ok");
            Response::from_json(&serde_json::json!({
                "route": format!("{} {}", route.method, route.path),
                "client_id": claims.client_id,
            }))
        }
        Err(refusal) => {
            log(route, refusal.status(), refusal.reason());
            refusal.response(route.scope, scheme)
        }
    }
}

/// The token's claims once every check passed, or why the request is refused.
async fn authorize(
    req: &Request,
    env: &Env,
    config: &Config,
    route: &Route,
) -> std::result::Result<token::Claims, Refusal> {
    let header = authorization(req);
    let (scheme, token) = token::credentials(header.as_deref())?;
    let now_ms = Date::now().as_millis();
    let claims = token::verify(token, config, now_ms).await?;
    binding::check(req, scheme, token, claims.cnf.as_ref(), now_ms).await?;
    if !claims.has_scope(route.scope) {
        return Err(Refusal::InsufficientScope);
    }
    if route.high_value {
        introspect::require_active(env, token).await?;
    }
    Ok(claims)
}

/// The request's `Authorization` header, if any.
fn authorization(req: &Request) -> Option<String> {
    req.headers().get("Authorization").ok().flatten()
}

/// One JSON line per request: the route, the status and the internal reason; never the token.
fn log(route: &Route, status: u16, reason: &str) {
    let line = serde_json::json!({
        "route": format!("{} {}", route.method, route.path), "status": status, "reason": reason,
    });
    worker::console_log!("{line}");
}
