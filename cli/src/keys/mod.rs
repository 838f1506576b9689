//! `keys …`: signing keys in a JWK Set (docs/storage-schema.md, `SIGNING_KEYS`).
//!
//! The first key signs; every key is published. Each key carries two members of ours, which
//! the Worker ignores and never publishes: `edge_token_added_at` and `edge_token_demoted_at`
//! (Unix seconds), so that `promote` can wait out JWKS caches and `retire` can wait until the
//! tokens a key signed have expired ([`rules`]). Those waits protect verifiers of a
//! deployment; in `.dev.vars` (`npm start`'s keys) the verifiers and tokens are the
//! developer's own, so there the commands do not wait and say what a verifier may notice.
//! Private keys are written to files only ([`store`]), never printed.

pub mod rules;
pub mod store;

use std::path::Path;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{json, Value};

use self::{
    rules::{describe, promote_refusal, promoted, retire_refusal, ADDED, JWKS_MAX_AGE},
    store::{deploy_step, kids, write_private, Store},
};
use crate::{
    args::{KeyFile, KeysCommand},
    failure::{Failure, Outcome},
    output,
};

/// Key algorithms `keys` can generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Alg {
    /// EdDSA over Ed25519 (RFC 8037): what the Worker signs with.
    Ed25519,
}

/// Runs a `keys` command; `now` is the time the CLI started, in Unix seconds.
pub fn run(command: KeysCommand, json: bool, now: u64) -> Outcome {
    match command {
        KeysCommand::Generate { out, alg } => generate_set(&out, alg, json, now),
        KeysCommand::Add { keys, alg } => add(keys, alg, json, now),
        KeysCommand::Promote { keys, kid, force } => promote(keys, &kid, force, json, now),
        KeysCommand::Retire {
            keys,
            kid,
            max_token_ttl,
            force,
        } => retire(keys, &kid, max_token_ttl, force, json, now),
        KeysCommand::List { keys } => list(keys, json),
    }
}

/// A fresh private JWK, added at `now`.
fn generate(alg: Alg, now: u64) -> Result<Value, Failure> {
    match alg {
        Alg::Ed25519 => {
            let mut seed = [0_u8; 32];
            getrandom::fill(&mut seed).map_err(|e| Failure::new(format!("no randomness: {e}")))?;
            let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(seed));
            Ok(json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "d": Base64UrlUnpadded::encode_string(&seed),
                "x": Base64UrlUnpadded::encode_string(pair.pk.as_ref()),
                ADDED: now,
            }))
        }
    }
}

/// The position of `kid` in the set.
fn position(keys: &[Value], kid: &str) -> Result<usize, Failure> {
    kids(keys)?
        .iter()
        .position(|k| k == kid)
        .ok_or_else(|| Failure::new(format!("no key {kid:?} in the set (see `keys list`)")))
}

/// Writes the changed set and says what was done, the keys, and the next step.
fn save_and_report(store: &Store, keys: &[Value], done: &str, json: bool) -> Outcome {
    store.save(keys)?;
    output::keys(
        done,
        &describe(&kids(keys)?, keys),
        &store.next_step(),
        json,
    );
    Ok(())
}

fn generate_set(out: &Path, alg: Alg, json: bool, now: u64) -> Outcome {
    let keys = vec![generate(alg, now)?];
    let kid = kids(&keys)?.remove(0);
    write_private(out, &(json!({ "keys": keys }).to_string() + "\n"), false)?;
    output::generated(&kid, out, &deploy_step(out), json);
    Ok(())
}

fn add(file: KeyFile, alg: Alg, json: bool, now: u64) -> Outcome {
    let store = Store::of(file);
    let mut keys = store.load()?;
    let key = generate(alg, now)?;
    let kid = kids(std::slice::from_ref(&key))?.remove(0);
    keys.insert(1.min(keys.len()), key);
    let when = if store.is_local() {
        "Promote it when you like: locally nothing waits (a verifier of yours that cached the JWKS may need to fetch it again).".to_owned()
    } else {
        format!("Promote it after {JWKS_MAX_AGE} s, once JWKS caches have it.")
    };
    let done = format!("added {kid} as next: published, not signing. {when}");
    save_and_report(&store, &keys, &done, json)
}

fn promote(file: KeyFile, kid: &str, force: bool, json: bool, now: u64) -> Outcome {
    let store = Store::of(file);
    let keys = store.load()?;
    let at = position(&keys, kid)?;
    if at == 0 {
        return Err(Failure::new(format!("{kid} already signs")));
    }
    if let (Some(reason), false) = (
        promote_refusal(kid, &keys[at], now),
        force || store.is_local(),
    ) {
        return Err(Failure::new(reason));
    }
    let done = format!("{kid} now signs; the previous key stays published until you retire it");
    save_and_report(&store, &promoted(keys, at, now), &done, json)
}

fn retire(file: KeyFile, kid: &str, max_ttl: u64, force: bool, json: bool, now: u64) -> Outcome {
    let store = Store::of(file);
    let mut keys = store.load()?;
    let at = position(&keys, kid)?;
    if at == 0 {
        return Err(Failure::new(format!(
            "{kid} is the signing key: promote another key first"
        )));
    }
    let refusal = retire_refusal(kid, &keys[at], max_ttl, now);
    if let (Some(reason), false) = (&refusal, force || store.is_local()) {
        return Err(Failure::new(reason.clone()));
    }
    keys.remove(at);
    let mut done = format!("retired {kid}: no longer published");
    if refusal.is_some() && store.is_local() {
        done.push_str(" (locally no wait: tokens it signed that have not expired stop verifying)");
    }
    save_and_report(&store, &keys, &done, json)
}

fn list(file: KeyFile, json: bool) -> Outcome {
    let store = Store::of(file);
    let keys = store.load()?;
    output::key_list(store.path(), &describe(&kids(&keys)?, &keys), json);
    Ok(())
}

#[cfg(test)]
mod tests {
    use edge_token::core::keys::KeySet;

    use super::*;

    #[test]
    fn a_generated_key_is_one_the_worker_accepts_with_our_members() {
        let key = generate(Alg::Ed25519, 1_000).unwrap();
        assert_eq!(key[ADDED], 1_000);
        let set = KeySet::from_jwk_set(&json!({ "keys": [key.clone()] }).to_string()).unwrap();
        assert!(!set.jwks_json().contains(key["d"].as_str().unwrap()));
        assert!(!set.jwks_json().contains(ADDED));
        assert_ne!(
            kids(&[key]).unwrap(),
            kids(&[generate(Alg::Ed25519, 1_000).unwrap()]).unwrap()
        );
    }
}
