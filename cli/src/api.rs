//! A connection to one tenant of the admin API (docs/admin-api.md): where it is, the admin
//! token, and one call that turns an answer into a typed value or a failure.

use std::path::Path;

use edge_token::core::{
    admin::{ErrorBody, API_ROOT},
    config::is_tenant_name,
};
use serde::{de::DeserializeOwned, Serialize};

use crate::{
    args::Target,
    devvars,
    endpoint::{Answer, Endpoint},
    failure::Failure,
    text::percent_encode,
};

/// Environment variable holding the admin token of a deployed Worker.
const TOKEN_ENV: &str = "EDGE_TOKEN_ADMIN_TOKEN";

/// A connection to one tenant of the admin API.
pub struct Api {
    endpoint: Endpoint,
    tenant: String,
    token: String,
}

/// Where the admin token comes from: the environment, else (loopback only, so that a local
/// token never goes to a remote host) `ADMIN_TOKEN` in the dev vars file.
fn admin_token(
    from_env: Option<String>,
    endpoint: &Endpoint,
    dev_vars: &Path,
) -> Result<String, Failure> {
    if let Some(token) = from_env.filter(|t| !t.is_empty()) {
        return Ok(token);
    }
    if !endpoint.is_loopback() {
        return Err(Failure::usage(format!(
            "no admin token: set {TOKEN_ENV} to the Worker's ADMIN_TOKEN secret"
        )));
    }
    devvars::read(dev_vars, "ADMIN_TOKEN").ok_or_else(|| {
        Failure::usage(format!(
            "no admin token: set {TOKEN_ENV}, or ADMIN_TOKEN in {} (npm start writes one; run the CLI from the checkout, or pass --dev-vars)",
            dev_vars.display()
        ))
    })
}

impl Api {
    /// Checks the target and finds the admin token.
    pub fn new(target: &Target) -> Result<Self, Failure> {
        let endpoint = Endpoint::parse(&target.url)?;
        if !is_tenant_name(&target.tenant) {
            return Err(Failure::usage(
                "--tenant must match ^[a-z0-9][a-z0-9-]{0,31}$",
            ));
        }
        let token = admin_token(std::env::var(TOKEN_ENV).ok(), &endpoint, &target.dev_vars)?;
        Ok(Self {
            endpoint,
            tenant: target.tenant.clone(),
            token,
        })
    }

    /// The tenant's path to `rest` (`clients`, `clients/ID/…`).
    pub fn path(&self, rest: &str) -> String {
        format!("{API_ROOT}{}/{rest}", percent_encode(&self.tenant))
    }

    /// The path of one client, then `rest` (`""`, `/disable`, …).
    pub fn client_path(&self, id: &str, rest: &str) -> String {
        self.path(&format!("clients/{}{rest}", percent_encode(id)))
    }

    /// Sends a request without a body; the answer of a 2xx as `T`, else the API's refusal.
    pub fn call<T: DeserializeOwned>(&self, method: &str, path: &str) -> Result<T, Failure> {
        self.exchange(method, path, None)
    }

    /// Sends a request with `body` in JSON; the answer of a 2xx as `T`, else the refusal.
    pub fn call_with<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, Failure> {
        let json = serde_json::to_string(body)
            .map_err(|e| Failure::new(format!("cannot encode the request: {e}")))?;
        self.exchange(method, path, Some(json))
    }

    fn exchange<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        json: Option<String>,
    ) -> Result<T, Failure> {
        let auth = format!("Bearer {}", self.token);
        let answer = self
            .endpoint
            .send(method, path, &[("Authorization", &auth)], json)?;
        match answer.status {
            200..=299 => serde_json::from_str(&answer.text)
                .map_err(|e| Failure::new(format!("unexpected answer from the admin API: {e}"))),
            300..=399 => Err(self.endpoint.redirected(&answer)),
            _ => Err(self.refusal(&answer)),
        }
    }

    /// The failure for a 4xx or 5xx answer, with the API's code.
    fn refusal(&self, answer: &Answer) -> Failure {
        let body: Option<ErrorBody> = serde_json::from_str(&answer.text).ok();
        let (error, message) = body.map_or_else(
            || ("error".to_owned(), String::new()),
            |b| (b.error, b.message),
        );
        let text = match answer.status {
            401 => "the admin token was refused (401)".to_owned(),
            404 if error == "not_found" && message.is_empty() => format!(
                "{} has no admin API (404): is ADMIN_TOKEN set on the Worker?",
                self.endpoint.origin()
            ),
            status => format!("{status} {error}: {message}"),
        };
        Failure::coded(&error, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_vars_token_is_used_on_loopback_only() {
        let dir = std::env::temp_dir().join(format!("eta-token-{}", std::process::id()));
        std::fs::write(&dir, "ADMIN_TOKEN=local\n").unwrap();
        let local = Endpoint::parse("http://127.0.0.1:8787").unwrap();
        let remote = Endpoint::parse("https://token.example.com").unwrap();
        assert_eq!(admin_token(None, &local, &dir).unwrap(), "local");
        assert_eq!(
            admin_token(Some("env".into()), &remote, &dir).unwrap(),
            "env"
        );
        let refused = admin_token(Some(String::new()), &remote, &dir).unwrap_err();
        assert_eq!(refused.code, 2);
        let missing = admin_token(None, &local, Path::new("/nonexistent")).unwrap_err();
        assert!(missing.message.contains("npm start writes one"));
        std::fs::remove_file(dir).unwrap();
    }
}
