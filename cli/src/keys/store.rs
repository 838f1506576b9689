//! Where a key set lives (a JWK Set file, or the `SIGNING_KEYS` line of `.dev.vars`), read
//! and written whole: checked the way the Worker checks it, written through a temporary file
//! and a rename, readable by its owner only.

use std::{
    fs,
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use edge_token::core::keys::KeySet;
use serde_json::{json, Value};

use crate::{args::KeyFile, devvars, failure::Failure};

/// The kid (RFC 7638 thumbprint) of each key, checked the way the Worker checks them.
pub fn kids(keys: &[Value]) -> Result<Vec<String>, Failure> {
    let set = KeySet::from_jwk_set(&json!({ "keys": keys }).to_string())
        .map_err(|e| Failure::new(format!("unusable key set: {e}")))?;
    Ok(set.kids().map(str::to_owned).collect())
}

/// The next step after writing a set to a file: deploying it.
pub fn deploy_step(path: &Path) -> String {
    format!(
        "deploy it: npx wrangler secret put SIGNING_KEYS < {}",
        path.display()
    )
}

/// Where the set lives.
pub enum Store {
    /// A JSON JWK Set file.
    File(PathBuf),
    /// The `SIGNING_KEYS` line of a dotenv file.
    DevVars(PathBuf),
}

impl Store {
    /// The store `--file` / `--dev-vars` name.
    pub fn of(file: KeyFile) -> Self {
        match file.file {
            Some(path) => Self::File(path),
            None => Self::DevVars(file.dev_vars),
        }
    }

    /// Whether it is the local `.dev.vars` of `npm start`, whose verifiers and tokens are the
    /// developer's own: the rotation waits do not apply there.
    pub fn is_local(&self) -> bool {
        matches!(self, Self::DevVars(_))
    }

    /// Its file.
    pub fn path(&self) -> &Path {
        match self {
            Self::File(p) | Self::DevVars(p) => p,
        }
    }

    fn read(path: &Path) -> Result<String, Failure> {
        fs::read_to_string(path).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "; to start a key set: edge-token-admin keys generate --out {}",
                    path.display()
                )
            } else {
                String::new()
            };
            Failure::new(format!("cannot read {}: {e}{hint}", path.display()))
        })
    }

    /// The keys, checked.
    pub fn load(&self) -> Result<Vec<Value>, Failure> {
        let text = match self {
            Self::File(path) => Self::read(path)?,
            Self::DevVars(path) => devvars::read(path, "SIGNING_KEYS").ok_or_else(|| {
                Failure::new(format!(
                    "no SIGNING_KEYS in {} (`npm start` writes one in the checkout; pass --file for a JWK Set file)",
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

    /// Checks and writes the set (all or nothing).
    pub fn save(&self, keys: &[Value]) -> Result<(), Failure> {
        kids(keys)?;
        let set = json!({ "keys": keys }).to_string();
        let text = match self {
            Self::File(_) => format!("{set}\n"),
            Self::DevVars(path) => devvars::with_line(&Self::read(path)?, "SIGNING_KEYS", &set),
        };
        write_private(self.path(), &text, true)
    }

    /// What to do after a change.
    pub fn next_step(&self) -> String {
        match self {
            Self::File(path) => deploy_step(path),
            Self::DevVars(path) => format!(
                "{} updated: a running `npm start` reloads both Workers with it within a few seconds (the demo secret stays)",
                path.display()
            ),
        }
    }
}

/// Writes a file readable by its owner only; `replace` goes through a temporary file, else
/// an existing file is never overwritten.
pub fn write_private(path: &Path, text: &str, replace: bool) -> Result<(), Failure> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_key_file_points_to_keys_generate() {
        let store = Store::File(PathBuf::from("/nonexistent/keys.json"));
        let failure = store.load().unwrap_err();
        assert!(
            failure
                .message
                .contains("edge-token-admin keys generate --out /nonexistent/keys.json"),
            "{}",
            failure.message
        );
    }
}
