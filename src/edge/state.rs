//! What is fixed for an isolate: configuration, parsed keys, pepper. Built on the first request
//! and kept: an isolate's `env` does not change (a new secret or var means a new deployment,
//! hence new isolates), so keys are parsed once per isolate, not per request.

use std::{cell::OnceCell, rc::Rc};

use worker::Env;

use crate::core::{
    client::RecordCache, config::Config, keys::KeySet, secret::Pepper, token::Issuer,
};

thread_local! {
    static ISSUER: OnceCell<Rc<Issuer>> = const { OnceCell::new() };
}

/// The isolate's [`Issuer`], built on first use. A failure is not cached, and its message
/// names the binding at fault, never its value.
pub fn issuer(env: &Env) -> Result<Rc<Issuer>, String> {
    if let Some(issuer) = ISSUER.with(|cell| cell.get().cloned()) {
        return Ok(issuer);
    }
    let issuer = Rc::new(load(env)?);
    ISSUER.with(|cell| cell.get_or_init(|| issuer.clone()).clone());
    Ok(issuer)
}

fn binding(env: &Env, name: &str) -> Result<String, String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .map_err(|_| format!("{name} is not set"))
}

fn load(env: &Env) -> Result<Issuer, String> {
    let config = Config::new(&binding(env, "ISSUER")?, &binding(env, "TOKEN_PATH")?)
        .map_err(|e| e.to_string())?;
    let keys = KeySet::from_jwk_set(&binding(env, "SIGNING_KEYS")?).map_err(|e| e.to_string())?;
    let pepper = Pepper::new(&binding(env, "CLIENT_SECRET_PEPPER")?)
        .ok_or_else(|| "CLIENT_SECRET_PEPPER is shorter than 32 bytes".to_owned())?;
    Ok(Issuer {
        config,
        keys,
        pepper,
        records: RecordCache::default(),
    })
}
