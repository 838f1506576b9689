//! `client …`: the admin API over HTTP (docs/admin-api.md).

use std::{fs, time::Duration};

use edge_token::core::{
    admin::{
        ClientInfo, ClientUpdate, Deleted, ErrorBody, ListEntry, ListPage, NewClient, NewSecret,
        Rotation, API_ROOT,
    },
    config::is_tenant_name,
    limit::Limit,
};
use serde::{de::DeserializeOwned, Serialize};

use crate::{output, ClientCommand, Failure, Fields, Target};

/// Environment variable holding the admin token of a deployed Worker.
const TOKEN_ENV: &str = "EDGE_TOKEN_ADMIN_TOKEN";

/// A connection to one tenant of the admin API.
pub struct Api {
    agent: ureq::Agent,
    base: String,
    tenant: String,
    token: String,
}

fn is_loopback(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or("");
    let authority = rest.split('/').next().unwrap_or("");
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// Reads `NAME=value` from a dotenv file (quotes stripped), as wrangler does.
pub fn dev_var(path: &std::path::Path, name: &str) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let (key, value) = line.trim().split_once('=')?;
        if key.trim() != name {
            return None;
        }
        let value = value.trim();
        let unquoted = ['\'', '"'].iter().find_map(|q| {
            value
                .strip_prefix(*q)
                .and_then(|v| v.strip_suffix(*q))
                .filter(|_| value.len() > 1)
        });
        Some(unquoted.unwrap_or(value).to_owned())
    })
}

/// Percent-encodes everything but RFC 3986 unreserved characters: fit for a path segment and
/// for a form value.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Api {
    /// Checks the target and finds the admin token.
    pub fn new(target: &Target) -> Result<Self, Failure> {
        let base = target.url.trim_end_matches('/').to_owned();
        let loopback_http = base.starts_with("http://") && is_loopback(&base);
        if !base.starts_with("https://") && !loopback_http {
            return Err(Failure::usage(format!(
                "--url must be https, or http on loopback (the admin token must not travel in clear): {base}"
            )));
        }
        if !is_tenant_name(&target.tenant) {
            return Err(Failure::usage(
                "--tenant must match ^[a-z0-9][a-z0-9-]{0,31}$",
            ));
        }
        let token = match std::env::var(TOKEN_ENV) {
            Ok(token) if !token.is_empty() => token,
            _ if is_loopback(&base) => {
                dev_var(&target.dev_vars, "ADMIN_TOKEN").ok_or_else(|| {
                    Failure::usage(format!(
                    "no admin token: set {TOKEN_ENV}, or ADMIN_TOKEN in {} (npm start writes one)",
                    target.dev_vars.display()
                ))
                })?
            }
            _ => {
                return Err(Failure::usage(format!(
                    "no admin token: set {TOKEN_ENV} to the Worker's ADMIN_TOKEN secret"
                )))
            }
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Ok(Self {
            agent,
            base,
            tenant: target.tenant.clone(),
            token,
        })
    }

    /// The URL of `path` under the tenant's root.
    pub fn url(&self, path: &str) -> String {
        format!(
            "{}{API_ROOT}{}/{path}",
            self.base,
            percent_encode(&self.tenant)
        )
    }

    fn client_url(&self, id: &str, rest: &str) -> String {
        self.url(&format!("clients/{}{rest}", percent_encode(id)))
    }

    /// Sends a request with `body` (JSON; `{}` for a POST or PATCH without one); the answer
    /// of a 2xx as `T`, else the API's message as a failure.
    pub fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        url: &str,
        body: Option<String>,
    ) -> Result<T, Failure> {
        let auth = format!("Bearer {}", self.token);
        let sent = match method {
            "GET" => self.agent.get(url).header("Authorization", &auth).call(),
            "DELETE" => self.agent.delete(url).header("Authorization", &auth).call(),
            method => {
                let body = body.unwrap_or_else(|| "{}".to_owned());
                let builder = if method == "PATCH" {
                    self.agent.patch(url)
                } else {
                    self.agent.post(url)
                };
                builder
                    .header("Authorization", &auth)
                    .header("Content-Type", "application/json")
                    .send(body)
            }
        };
        let mut response =
            sent.map_err(|e| Failure::new(format!("could not reach {}: {e}", self.base)))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| Failure::new(format!("unreadable answer: {e}")))?;
        if (200..300).contains(&status) {
            return serde_json::from_str(&text)
                .map_err(|e| Failure::new(format!("unexpected answer from the admin API: {e}")));
        }
        Err(self.refusal(status, &text))
    }

    /// The failure for a non-2xx answer.
    fn refusal(&self, status: u16, text: &str) -> Failure {
        let body: ErrorBody = serde_json::from_str(text).unwrap_or_else(|_| ErrorBody {
            error: "error".to_owned(),
            message: String::new(),
        });
        Failure::new(match status {
            401 => "the admin token was refused (401)".to_owned(),
            404 if body.error == "not_found" && body.message.is_empty() => format!(
                "{} has no admin API (404): is ADMIN_TOKEN set on the Worker?",
                self.base
            ),
            _ => format!("{status} {}: {}", body.error, body.message),
        })
    }
}

/// A contract body as the JSON text [`Api::call`] sends.
fn body(value: &impl Serialize) -> Option<String> {
    serde_json::to_string(value).ok()
}

fn split(list: &str) -> Vec<String> {
    list.split_whitespace().map(str::to_owned).collect()
}

/// The change that `fields` asks for; members it does not name stay absent.
fn update_of(fields: Fields) -> ClientUpdate {
    ClientUpdate {
        scopes: fields.scopes.as_deref().map(split),
        default_scopes: fields.default_scopes.as_deref().map(split),
        audience: (!fields.audience.is_empty()).then_some(fields.audience),
        token_ttl: fields.ttl,
        rate_limit: fields
            .per_minute
            .zip(fields.burst)
            .map(|(per_minute, burst)| Some(Limit { per_minute, burst })),
        grant_types: fields.grant_types.as_deref().map(split),
    }
}

/// A new client from `fields`, which must name its scopes and audience.
fn new_client(client_id: Option<String>, fields: Fields) -> Result<NewClient, Failure> {
    let update = update_of(fields);
    let scopes = update.scopes.ok_or_else(|| {
        Failure::usage("--scopes is required, e.g. --scopes \"orders:read orders:write\"")
    })?;
    let audience = update.audience.ok_or_else(|| {
        Failure::usage("--audience is required, e.g. --audience https://api.example.com")
    })?;
    Ok(NewClient {
        client_id,
        scopes,
        default_scopes: update.default_scopes.unwrap_or_default(),
        audience,
        token_ttl: update.token_ttl,
        rate_limit: update.rate_limit.flatten(),
        grant_types: update.grant_types,
    })
}

/// Parses `30s`, `15m`, `24h`, `7d` (or bare seconds).
pub fn parse_duration(text: &str) -> Result<u64, Failure> {
    let bad = || {
        Failure::usage(format!(
            "{text:?} is not a duration such as 30s, 15m, 24h or 7d"
        ))
    };
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(factor).ok_or_else(bad)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Runs a `client` command.
pub fn run(command: ClientCommand, json: bool) -> Result<(), Failure> {
    match command {
        ClientCommand::Create { target, id, fields } => {
            let api = Api::new(&target)?;
            let input = new_client(id, fields)?;
            let answer: NewSecret = api.call("POST", &api.url("clients"), body(&input))?;
            output::created(&answer, &target.url, json);
        }
        ClientCommand::Show { target, client_id } => {
            let api = Api::new(&target)?;
            let info: ClientInfo = api.call("GET", &api.client_url(&client_id, ""), None)?;
            output::client(&info, json);
        }
        ClientCommand::List { target } => {
            let api = Api::new(&target)?;
            let mut clients: Vec<ListEntry> = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let query =
                    cursor.map_or(String::new(), |c| format!("?cursor={}", percent_encode(&c)));
                let page: ListPage =
                    api.call("GET", &format!("{}{query}", api.url("clients")), None)?;
                clients.extend(page.clients);
                cursor = page.cursor;
                if cursor.is_none() {
                    break;
                }
            }
            output::list(&target.tenant, &clients, json);
        }
        ClientCommand::Update {
            target,
            client_id,
            fields,
            default_rate_limit,
        } => {
            let api = Api::new(&target)?;
            let mut update = update_of(fields);
            if default_rate_limit {
                update.rate_limit = Some(None);
            }
            if update == ClientUpdate::default() {
                return Err(Failure::usage(
                    "nothing to update: name at least one setting",
                ));
            }
            let url = api.client_url(&client_id, "");
            let info: ClientInfo = api.call("PATCH", &url, body(&update))?;
            output::client(&info, json);
        }
        ClientCommand::Disable { target, client_id } => {
            let api = Api::new(&target)?;
            let url = api.client_url(&client_id, "/disable");
            output::client(&api.call("POST", &url, None)?, json);
        }
        ClientCommand::Enable { target, client_id } => {
            let api = Api::new(&target)?;
            let url = api.client_url(&client_id, "/enable");
            output::client(&api.call("POST", &url, None)?, json);
        }
        ClientCommand::Delete {
            target,
            client_id,
            yes,
        } => {
            if !yes {
                return Err(Failure::usage(format!(
                    "deleting {client_id:?} cannot be undone: add --yes to confirm"
                )));
            }
            let api = Api::new(&target)?;
            let answer: Deleted = api.call("DELETE", &api.client_url(&client_id, ""), None)?;
            output::deleted(&answer, json);
        }
        ClientCommand::RotateSecret {
            target,
            client_id,
            old_expires_in,
            old_expires_at,
        } => {
            let api = Api::new(&target)?;
            let old_secret_expires_at = match (old_expires_in, old_expires_at) {
                (Some(d), _) => Some(now() + parse_duration(&d)?),
                (None, at) => at,
            };
            let rotation = Rotation {
                old_secret_expires_at,
            };
            let url = api.client_url(&client_id, "/secrets");
            let answer: NewSecret = api.call("POST", &url, body(&rotation))?;
            output::rotated(&answer, &target.url, json);
        }
        ClientCommand::RetireSecret {
            target,
            client_id,
            secret_id,
        } => {
            let api = Api::new(&target)?;
            let rest = format!("/secrets/{}", percent_encode(&secret_id));
            let url = api.client_url(&client_id, &rest);
            output::client(&api.call("DELETE", &url, None)?, json);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit_or_seconds() {
        assert_eq!(parse_duration("90").ok(), Some(90));
        assert_eq!(parse_duration("15m").ok(), Some(900));
        assert_eq!(parse_duration("24h").ok(), Some(86_400));
        assert_eq!(parse_duration("7d").ok(), Some(604_800));
        for bad in ["", "h", "5w", "-1s", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(percent_encode("a b/c%"), "a%20b%2Fc%25");
        assert_eq!(percent_encode("Ab-9._~"), "Ab-9._~");
    }

    #[test]
    fn only_loopback_may_use_plain_http() {
        assert!(is_loopback("http://127.0.0.1:8787"));
        assert!(is_loopback("http://localhost"));
        assert!(is_loopback("http://[::1]:1/x"));
        assert!(!is_loopback("http://127.0.0.1.example.com"));
        assert!(!is_loopback("http://example.com"));
    }

    #[test]
    fn dev_vars_values_are_unquoted() {
        let dir = std::env::temp_dir().join(format!("eta-devvars-{}", std::process::id()));
        fs::write(&dir, "# c\nA='x y'\nADMIN_TOKEN=\"tok\"\nB = plain \n").unwrap();
        assert_eq!(dev_var(&dir, "A").as_deref(), Some("x y"));
        assert_eq!(dev_var(&dir, "ADMIN_TOKEN").as_deref(), Some("tok"));
        assert_eq!(dev_var(&dir, "B").as_deref(), Some("plain"));
        assert_eq!(dev_var(&dir, "C"), None);
        fs::remove_file(dir).unwrap();
    }
}
