//! `keys …`: signing keys in a JWK Set (docs/storage-schema.md, `SIGNING_KEYS`).
//!
//! The first key signs; every key is published. Each key carries two members of ours, which
//! the Worker ignores and never publishes: `edge_token_added_at` and `edge_token_demoted_at`
//! (Unix seconds), so that `promote` can wait out JWKS caches and `retire` can wait until the
//! tokens a key signed have expired. Private keys are written to files only, never printed.

use std::{
    fs,
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use base64ct::{Base64UrlUnpadded, Encoding};
use edge_token::core::keys::KeySet;
use serde_json::{json, Value};

use crate::{api::dev_var, output, Failure, KeyFile, KeysCommand};

/// When a key was added to the set.
const ADDED: &str = "edge_token_added_at";
/// When a key stopped signing.
const DEMOTED: &str = "edge_token_demoted_at";
/// The JWKS's `Cache-Control: max-age`: a key published for less may be unknown to verifiers.
const JWKS_MAX_AGE: u64 = 300;

/// Key algorithms `keys` can generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Alg {
    /// EdDSA over Ed25519 (RFC 8037): what the Worker signs with.
    Ed25519,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A fresh private JWK.
fn generate(alg: Alg) -> Result<Value, Failure> {
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
                ADDED: now(),
            }))
        }
    }
}

/// The kid (RFC 7638 thumbprint) of each key, checked the way the Worker checks them.
fn kids(keys: &[Value]) -> Result<Vec<String>, Failure> {
    let set = KeySet::from_jwk_set(&json!({ "keys": keys }).to_string())
        .map_err(|e| Failure::new(format!("unusable key set: {e}")))?;
    Ok(set.kids().map(str::to_owned).collect())
}

/// Where the set lives.
enum Store {
    File(PathBuf),
    DevVars(PathBuf),
}

impl Store {
    fn of(file: KeyFile) -> Self {
        match file.file {
            Some(path) => Self::File(path),
            None => Self::DevVars(file.dev_vars),
        }
    }

    fn path(&self) -> &Path {
        match self {
            Self::File(p) | Self::DevVars(p) => p,
        }
    }

    fn load(&self) -> Result<Vec<Value>, Failure> {
        let text = match self {
            Self::File(path) => fs::read_to_string(path)
                .map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))?,
            Self::DevVars(path) => dev_var(path, "SIGNING_KEYS").ok_or_else(|| {
                Failure::new(format!(
                    "no SIGNING_KEYS in {} (pass --file for a JWK Set file)",
                    path.display()
                ))
            })?,
        };
        let set: Value = serde_json::from_str(&text).map_err(|_| {
            Failure::new(format!("{} is not a JSON JWK Set", self.path().display()))
        })?;
        let keys = set["keys"].as_array().cloned().ok_or_else(|| {
            Failure::new(format!("{} has no \"keys\" array", self.path().display()))
        })?;
        kids(&keys)?;
        Ok(keys)
    }

    /// Validates and writes the set (through a temporary file and a rename: all or nothing).
    fn save(&self, keys: &[Value]) -> Result<(), Failure> {
        kids(keys)?;
        let set = json!({ "keys": keys }).to_string();
        let text = match self {
            Self::File(_) => format!("{set}\n"),
            Self::DevVars(path) => {
                let old = fs::read_to_string(path)
                    .map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))?;
                let line = format!("SIGNING_KEYS='{set}'");
                let mut found = false;
                let mut lines: Vec<String> = old
                    .lines()
                    .map(|l| {
                        if l.trim_start().starts_with("SIGNING_KEYS=") {
                            found = true;
                            line.clone()
                        } else {
                            l.to_owned()
                        }
                    })
                    .collect();
                if !found {
                    lines.push(line);
                }
                lines.join("\n") + "\n"
            }
        };
        write_private(self.path(), &text, true)
    }

    fn next_step(&self) -> String {
        match self {
            Self::File(path) => format!(
                "deploy it: npx wrangler secret put SIGNING_KEYS < {}",
                path.display()
            ),
            Self::DevVars(path) => format!(
                "{} updated: restart `npm start` (wrangler dev reads it at start)",
                path.display()
            ),
        }
    }
}

/// Writes a file readable by its owner only; `replace` goes through a temporary file.
fn write_private(path: &Path, text: &str, replace: bool) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::new(format!("cannot write {}: {e}", path.display()));
    let target = if replace {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".tmp-{}", std::process::id()));
        path.with_file_name(name)
    } else {
        path.to_owned()
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&target)
        .map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    if replace {
        fs::rename(&target, path).map_err(|e| {
            let _ = fs::remove_file(&target);
            fail(e)
        })?;
    }
    Ok(())
}

fn role(index: usize, key: &Value) -> &'static str {
    match (index, key.get(DEMOTED)) {
        (0, _) => "signing",
        (_, Some(_)) => "previous",
        _ => "next",
    }
}

fn describe(keys: &[Value]) -> Result<Vec<Value>, Failure> {
    Ok(kids(keys)?
        .into_iter()
        .zip(keys)
        .enumerate()
        .map(|(i, (kid, key))| {
            json!({
                "kid": kid,
                "role": role(i, key),
                "added_at": key.get(ADDED),
                "demoted_at": key.get(DEMOTED),
            })
        })
        .collect())
}

fn report(store: &Store, done: &str, keys: &[Value], json_out: bool) -> Result<(), Failure> {
    let described = describe(keys)?;
    let next = store.next_step();
    if json_out {
        output::value(&json!({ "done": done, "keys": described, "next_step": next }));
        return Ok(());
    }
    println!("{done}");
    print_keys(&described);
    println!("{next}");
    Ok(())
}

fn print_keys(described: &[Value]) {
    for k in described {
        let when = |v: &Value| v.as_u64().map_or_else(|| "-".to_owned(), output::time);
        println!(
            "  {}  {:8}  added {}  demoted {}",
            k["kid"].as_str().unwrap_or(""),
            k["role"].as_str().unwrap_or(""),
            when(&k["added_at"]),
            when(&k["demoted_at"]),
        );
    }
}

fn position(keys: &[Value], kid: &str) -> Result<usize, Failure> {
    kids(keys)?
        .iter()
        .position(|k| k == kid)
        .ok_or_else(|| Failure::new(format!("no key {kid:?} in the set (see `keys list`)")))
}

/// Runs a `keys` command.
pub fn run(command: KeysCommand, json_out: bool) -> Result<(), Failure> {
    match command {
        KeysCommand::Generate { out, alg } => {
            let keys = vec![generate(alg)?];
            let kid = kids(&keys)?.remove(0);
            let set = json!({ "keys": keys }).to_string() + "\n";
            write_private(&out, &set, false)?;
            let next = format!(
                "deploy it: npx wrangler secret put SIGNING_KEYS < {}",
                out.display()
            );
            if json_out {
                output::value(&json!({ "kid": kid, "file": out, "next_step": next }));
            } else {
                println!(
                    "wrote a new key set with signing key {kid} to {}",
                    out.display()
                );
                println!("{next}");
            }
            Ok(())
        }
        KeysCommand::Add { keys: file, alg } => {
            let store = Store::of(file);
            let mut keys = store.load()?;
            let key = generate(alg)?;
            let kid = kids(std::slice::from_ref(&key))?.remove(0);
            keys.insert(1.min(keys.len()), key);
            store.save(&keys)?;
            report(
                &store,
                &format!(
                    "added {kid} as next: published, not signing. Promote it after {JWKS_MAX_AGE} s, once JWKS caches have it."
                ),
                &keys,
                json_out,
            )
        }
        KeysCommand::Promote {
            keys: file,
            kid,
            force,
        } => {
            let store = Store::of(file);
            let mut keys = store.load()?;
            let at = position(&keys, &kid)?;
            if at == 0 {
                return Err(Failure::new(format!("{kid} already signs")));
            }
            let added = keys[at].get(ADDED).and_then(Value::as_u64);
            if let Some(added) = added.filter(|a| now() < a + JWKS_MAX_AGE) {
                if !force {
                    return Err(Failure::new(format!(
                        "{kid} was added {} s ago: verifiers may cache the JWKS for {JWKS_MAX_AGE} s and not know it yet. Wait, or pass --force",
                        now().saturating_sub(added)
                    )));
                }
            }
            let mut key = keys.remove(at);
            if let Some(obj) = key.as_object_mut() {
                obj.remove(DEMOTED);
            }
            if let Some(obj) = keys[0].as_object_mut() {
                obj.insert(DEMOTED.into(), json!(now()));
            }
            keys.insert(0, key);
            store.save(&keys)?;
            report(
                &store,
                &format!("{kid} now signs; the previous key stays published until you retire it"),
                &keys,
                json_out,
            )
        }
        KeysCommand::Retire {
            keys: file,
            kid,
            max_token_ttl,
            force,
        } => {
            let store = Store::of(file);
            let mut keys = store.load()?;
            let at = position(&keys, &kid)?;
            if at == 0 {
                return Err(Failure::new(format!(
                    "{kid} is the signing key: promote another key first"
                )));
            }
            let key = &keys[at];
            let demoted = key.get(DEMOTED).and_then(Value::as_u64);
            let never_signed = demoted.is_none() && key.get(ADDED).is_some();
            let safe_from = demoted.map(|d| d + max_token_ttl + JWKS_MAX_AGE);
            let wait = match (never_signed, safe_from) {
                (true, _) => None,
                (false, Some(from)) if now() >= from => None,
                (false, Some(from)) => Some(format!(
                    "tokens signed by {kid} may live until {}: wait, or pass --force",
                    output::time(from)
                )),
                (false, None) => Some(format!(
                    "when {kid} stopped signing is not recorded: make sure its tokens have expired, then pass --force"
                )),
            };
            if let (Some(reason), false) = (wait, force) {
                return Err(Failure::new(reason));
            }
            keys.remove(at);
            store.save(&keys)?;
            report(
                &store,
                &format!("retired {kid}: no longer published"),
                &keys,
                json_out,
            )
        }
        KeysCommand::List { keys: file } => {
            let store = Store::of(file);
            let keys = store.load()?;
            let described = describe(&keys)?;
            if json_out {
                output::value(&json!({ "keys": described }));
            } else {
                println!("{} key(s) in {}", keys.len(), store.path().display());
                print_keys(&described);
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_one_the_worker_accepts_with_our_members() {
        let key = generate(Alg::Ed25519).unwrap();
        assert!(key.get(ADDED).is_some());
        let set = KeySet::from_jwk_set(&json!({ "keys": [key.clone()] }).to_string()).unwrap();
        assert!(!set.jwks_json().contains(key["d"].as_str().unwrap()));
        assert!(!set.jwks_json().contains(ADDED));
        assert_ne!(
            kids(&[key]).unwrap(),
            kids(&[generate(Alg::Ed25519).unwrap()]).unwrap()
        );
    }

    #[test]
    fn roles_follow_position_and_demotion() {
        let keys = [json!({}), json!({ DEMOTED: 1 }), json!({ ADDED: 1 })];
        let roles: Vec<&str> = keys.iter().enumerate().map(|(i, k)| role(i, k)).collect();
        assert_eq!(roles, ["signing", "previous", "next"]);
    }
}
