//! What is fixed for an isolate: the tenants, their parsed keys, the pepper. Built on the
//! first request and kept: an isolate's `env` does not change (a new secret or var means a new
//! deployment, hence new isolates), so keys are parsed once per isolate, not per request.

use std::{cell::OnceCell, rc::Rc};

use worker::Env;

use crate::core::{deployment::Deployment, secret::Pepper};

thread_local! {
    static DEPLOYMENT: OnceCell<Rc<Deployment>> = const { OnceCell::new() };
}

/// The isolate's [`Deployment`], built on first use. A failure is not cached, and its message
/// names the binding at fault, never its value.
pub fn deployment(env: &Env) -> Result<Rc<Deployment>, String> {
    if let Some(deployment) = DEPLOYMENT.with(|cell| cell.get().cloned()) {
        return Ok(deployment);
    }
    let deployment = Rc::new(load(env)?);
    DEPLOYMENT.with(|cell| cell.get_or_init(|| deployment.clone()).clone());
    Ok(deployment)
}

/// A secret, or a plain var of that name (so that `wrangler dev --var` works too).
fn text(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
}

fn binding(env: &Env, name: &str) -> Result<String, String> {
    text(env, name).ok_or_else(|| format!("{name} is not set"))
}

/// `TENANTS`: an object var (a table in wrangler.toml), or its JSON text (`--var`, secret).
fn tenants(env: &Env) -> Result<serde_json::Value, String> {
    let value: serde_json::Value = env
        .object_var("TENANTS")
        .map_err(|_| "TENANTS is not set".to_owned())?;
    match value {
        serde_json::Value::String(json) => {
            serde_json::from_str(&json).map_err(|_| "TENANTS is text but not JSON".to_owned())
        }
        value => Ok(value),
    }
}

fn load(env: &Env) -> Result<Deployment, String> {
    let pepper = Pepper::new(&binding(env, "CLIENT_SECRET_PEPPER")?)
        .ok_or_else(|| "CLIENT_SECRET_PEPPER is shorter than 32 bytes".to_owned())?;
    Deployment::new(&binding(env, "ISSUER")?, &tenants(env)?, pepper, |name| {
        text(env, name)
    })
    .map_err(|e| e.to_string())
}
