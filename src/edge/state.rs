//! What is fixed for an isolate: the tenants, their parsed keys, the pepper. Built on the
//! first request and kept: an isolate's `env` does not change (a new secret or var means a new
//! deployment, hence new isolates), so keys are parsed once per isolate, not per request.

use std::{cell::OnceCell, rc::Rc};

use worker::{
    js_sys::{Reflect, JSON},
    wasm_bindgen::JsValue,
    Env,
};

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
pub fn text(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
}

fn binding(env: &Env, name: &str) -> Result<String, String> {
    text(env, name).ok_or_else(|| format!("{name} is not set"))
}

/// `TENANTS` as JSON text: an object var (tables in wrangler.toml) is serialised by the
/// runtime; a text var (`--var`, a secret) is taken as it is.
fn tenants(env: &Env) -> Result<String, String> {
    let value = Reflect::get(env, &JsValue::from_str("TENANTS")).unwrap_or(JsValue::UNDEFINED);
    if value.is_undefined() {
        return Err("TENANTS is not set".to_owned());
    }
    value
        .as_string()
        .or_else(|| JSON::stringify(&value).ok().and_then(|s| s.as_string()))
        .ok_or_else(|| "TENANTS is neither text nor an object".to_owned())
}

fn load(env: &Env) -> Result<Deployment, String> {
    let pepper = Pepper::new(&binding(env, "CLIENT_SECRET_PEPPER")?)
        .ok_or_else(|| "CLIENT_SECRET_PEPPER is shorter than 32 bytes".to_owned())?;
    Deployment::new(&binding(env, "ISSUER")?, &tenants(env)?, pepper, |name| {
        text(env, name)
    })
    .map_err(|e| e.to_string())
}
