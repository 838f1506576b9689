//! `client …`: one function per command, each wiring the admin API to the output; the
//! requests are built by small pure functions.

use serde_json::{Map, Value};

use edge_token::core::{
    admin::{
        ClientInfo, ClientUpdate, Deleted, ListEntry, ListPage, NewClient, NewSecret, QuotaReport,
        Rotation,
    },
    federation::Federation,
    guard::{Quota, QuotaMode},
    limit::Limit,
    mtls::{SELF_SIGNED_TLS_CLIENT_AUTH, TLS_CLIENT_AUTH},
};

use crate::{
    api::Api,
    args::{ClientCommand, ClientRef, Fields, QuotaModeArg, Target},
    failure::{Failure, Outcome},
    output,
    text::percent_encode,
};

/// Runs a `client` command; `now` is the time the CLI started, in Unix seconds.
pub fn run(command: ClientCommand, json: bool, now: u64) -> Outcome {
    match command {
        ClientCommand::Create {
            target,
            id,
            signing_alg,
            fields,
        } => create(&target, id, signing_alg, fields, json),
        ClientCommand::Show(client) => show(&client, json),
        ClientCommand::Usage(client) => usage(&client, json),
        ClientCommand::List { target } => list(&target, json),
        ClientCommand::Update {
            client,
            fields,
            default_rate_limit,
            no_quota,
            all_audiences,
            clear_claims,
        } => {
            let resets = Resets {
                rate_limit: default_rate_limit,
                quota: no_quota,
                audiences: all_audiences,
                claims: clear_claims,
            };
            update(&client, fields, resets, json)
        }
        ClientCommand::Disable(client) => set_status(&client, "/disable", json),
        ClientCommand::Enable(client) => set_status(&client, "/enable", json),
        ClientCommand::Delete { client, yes } => delete(&client, yes, json),
        ClientCommand::RotateSecret {
            client,
            old_expires_in,
            old_expires_at,
        } => {
            let expiry = old_secret_expiry(old_expires_in.as_deref(), old_expires_at, now)?;
            rotate(&client, expiry, json)
        }
        ClientCommand::RetireSecret { client, secret_id } => retire(&client, &secret_id, json),
        ClientCommand::Assertion {
            key,
            client,
            audience,
            ttl,
        } => crate::assertion::print(&key, &client, &audience, ttl, now, json),
    }
}

fn create(
    target: &Target,
    id: Option<String>,
    signing_alg: Option<String>,
    fields: Fields,
    json: bool,
) -> Outcome {
    let key_file = fields
        .jwks
        .as_deref()
        .filter(|path| crate::assertion::is_private_key_file(path))
        .map(|path| path.display().to_string());
    let mut input = new_client(id, fields)?;
    if input.federation.is_some() {
        input.token_endpoint_auth_method = Some("federated_jwt".to_owned());
    }
    if input.jwks.is_some() || input.jwks_uri.is_some() {
        input.token_endpoint_auth_method = Some("private_key_jwt".to_owned());
        input.token_endpoint_auth_signing_alg = signing_alg;
    } else if signing_alg.is_some() && input.federation.is_none() {
        return Err(Failure::usage(
            "--signing-alg is for a private_key_jwt client: give --jwks FILE or --jwks-uri URL",
        ));
    }
    let api = Api::new(target)?;
    let answer: NewSecret = api.call_with("POST", &api.path("clients"), &input)?;
    output::created(&answer, key_file.as_deref(), json);
    Ok(())
}

fn show(client: &ClientRef, json: bool) -> Outcome {
    let api = Api::new(&client.target)?;
    let info: ClientInfo = api.call("GET", &api.client_path(&client.client_id, ""))?;
    output::client(&info, json);
    Ok(())
}

fn usage(client: &ClientRef, json: bool) -> Outcome {
    let api = Api::new(&client.target)?;
    let report: QuotaReport = api.call("GET", &api.client_path(&client.client_id, "/usage"))?;
    output::usage(&report, json);
    Ok(())
}

/// Every page of the list, in order (bounded by the API's cursor: it ends on the last page).
fn list(target: &Target, json: bool) -> Outcome {
    let api = Api::new(target)?;
    let mut clients: Vec<ListEntry> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = cursor.map_or(String::new(), |c| format!("?cursor={}", percent_encode(&c)));
        let page: ListPage = api.call("GET", &format!("{}{query}", api.path("clients")))?;
        clients.extend(page.clients);
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    output::list(&target.tenant, &clients, json);
    Ok(())
}

fn update(client: &ClientRef, fields: Fields, resets: Resets, json: bool) -> Outcome {
    let change = update_request(fields, resets)?;
    let api = Api::new(&client.target)?;
    let path = api.client_path(&client.client_id, "");
    let info: ClientInfo = api.call_with("PATCH", &path, &change)?;
    output::client(&info, json);
    Ok(())
}

/// Disables or enables (`rest`: `/disable`, `/enable`).
fn set_status(client: &ClientRef, rest: &str, json: bool) -> Outcome {
    let api = Api::new(&client.target)?;
    let info: ClientInfo = api.call("POST", &api.client_path(&client.client_id, rest))?;
    output::client(&info, json);
    Ok(())
}

fn delete(client: &ClientRef, yes: bool, json: bool) -> Outcome {
    if !yes {
        return Err(Failure::usage(format!(
            "deleting {:?} cannot be undone: add --yes to confirm",
            client.client_id
        )));
    }
    let api = Api::new(&client.target)?;
    let answer: Deleted = api.call("DELETE", &api.client_path(&client.client_id, ""))?;
    output::deleted(&answer, json);
    Ok(())
}

fn rotate(client: &ClientRef, old_secret_expires_at: Option<u64>, json: bool) -> Outcome {
    let api = Api::new(&client.target)?;
    let path = api.client_path(&client.client_id, "/secrets");
    let rotation = Rotation {
        old_secret_expires_at,
    };
    let answer: NewSecret = api.call_with("POST", &path, &rotation)?;
    output::rotated(&answer, json);
    Ok(())
}

fn retire(client: &ClientRef, secret_id: &str, json: bool) -> Outcome {
    let api = Api::new(&client.target)?;
    let rest = format!("/secrets/{}", percent_encode(secret_id));
    let info: ClientInfo = api.call("DELETE", &api.client_path(&client.client_id, &rest))?;
    output::client(&info, json);
    Ok(())
}

fn split(list: &str) -> Vec<String> {
    list.split_whitespace().map(str::to_owned).collect()
}

/// `--claim NAME=VALUE` options as a claims object: VALUE as JSON when it parses as JSON,
/// else as text; `None` when there are none.
fn claims_of(options: &[String]) -> Result<Option<Map<String, Value>>, Failure> {
    if options.is_empty() {
        return Ok(None);
    }
    let mut claims = Map::new();
    for option in options {
        let (name, value) = option.split_once('=').ok_or_else(|| {
            Failure::usage(format!(
                "--claim {option:?} must be NAME=VALUE, e.g. --claim tenant_id=acme"
            ))
        })?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::from(value));
        claims.insert(name.to_owned(), value);
    }
    Ok(Some(claims))
}

/// The change that `fields` asks for; members it does not name stay absent. A `--jwks`
/// file is read here (its public members only).
fn update_of(fields: Fields) -> Result<ClientUpdate, Failure> {
    let jwks = fields
        .jwks
        .as_deref()
        .map(crate::assertion::public_jwks)
        .transpose()?;
    let quota = quota_of(&fields)?;
    let fingerprints = crate::certificate::fingerprints(&fields.cert_sha256, &fields.cert)?;
    Ok(ClientUpdate {
        scopes: fields.scopes.as_deref().map(split),
        default_scopes: fields.default_scopes.as_deref().map(split),
        audience: (!fields.audience.is_empty()).then_some(fields.audience),
        token_ttl: fields.ttl,
        rate_limit: fields
            .per_minute
            .zip(fields.burst)
            .map(|(per_minute, burst)| Some(Limit { per_minute, burst })),
        quota: quota.map(Some),
        grant_types: fields.grant_types.as_deref().map(split),
        jwks,
        jwks_uri: fields.jwks_uri,
        federation: match (fields.federated_issuer, fields.subject) {
            (Some(issuer), Some(subject)) => Some(Federation {
                issuer,
                subject,
                claims: claims_of(&fields.subject_claim)?.unwrap_or_default(),
            }),
            _ => None,
        },
        default_audience: (!fields.default_audience.is_empty())
            .then_some(Some(fields.default_audience)),
        claims: claims_of(&fields.claim)?,
        introspect: (fields.introspect || fields.no_introspect).then_some(fields.introspect),
        dpop_bound_access_tokens: (fields.dpop_bound || fields.no_dpop_bound)
            .then_some(fields.dpop_bound),
        tls_client_auth_subject_dn: fields.subject_dn,
        tls_client_certificate_sha256: fingerprints,
        tls_client_certificate_bound_access_tokens: (fields.certificate_bound
            || fields.no_certificate_bound)
            .then_some(fields.certificate_bound),
    })
}

/// The quota that `--quota-hour`, `--quota-day` and `--quota-mode` set, if any.
fn quota_of(fields: &Fields) -> Result<Option<Quota>, Failure> {
    if fields.quota_hour.is_none() && fields.quota_day.is_none() {
        return match fields.quota_mode {
            Some(_) => Err(Failure::usage(
                "--quota-mode needs --quota-hour or --quota-day (a quota is set as a whole)",
            )),
            None => Ok(None),
        };
    }
    let mode = match fields.quota_mode {
        Some(QuotaModeArg::Monitor) => QuotaMode::Monitor,
        Some(QuotaModeArg::Enforce) | None => QuotaMode::Enforce,
    };
    Ok(Some(Quota {
        per_hour: fields.quota_hour,
        per_day: fields.quota_day,
        mode,
    }))
}

/// The settings an update returns to their defaults.
#[derive(Default)]
struct Resets {
    /// The tenant's rate limit.
    rate_limit: bool,
    /// No quota.
    quota: bool,
    /// Every audience when a request names none.
    audiences: bool,
    /// No custom claims.
    claims: bool,
}

/// An update's request: at least one setting named.
fn update_request(fields: Fields, resets: Resets) -> Result<ClientUpdate, Failure> {
    let mut change = update_of(fields)?;
    if resets.rate_limit {
        change.rate_limit = Some(None);
    }
    if resets.quota {
        change.quota = Some(None);
    }
    if resets.audiences {
        change.default_audience = Some(None);
    }
    if resets.claims {
        change.claims = Some(Map::new());
    }
    if change == ClientUpdate::default() {
        return Err(Failure::usage(
            "nothing to update: name at least one setting",
        ));
    }
    Ok(change)
}

/// A new client from `fields`, which must name its scopes and audience.
fn new_client(client_id: Option<String>, fields: Fields) -> Result<NewClient, Failure> {
    let update = update_of(fields)?;
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
        quota: update.quota.flatten(),
        grant_types: update.grant_types,
        jwks: update.jwks,
        jwks_uri: update.jwks_uri,
        federation: update.federation,
        default_audience: update.default_audience.flatten(),
        claims: update.claims,
        introspect: update.introspect.unwrap_or(false),
        dpop_bound_access_tokens: update.dpop_bound_access_tokens.unwrap_or(false),
        token_endpoint_auth_method: match (
            &update.tls_client_auth_subject_dn,
            &update.tls_client_certificate_sha256,
        ) {
            (Some(_), _) => Some(TLS_CLIENT_AUTH.to_owned()),
            (None, Some(_)) => Some(SELF_SIGNED_TLS_CLIENT_AUTH.to_owned()),
            (None, None) => None,
        },
        tls_client_auth_subject_dn: update.tls_client_auth_subject_dn,
        tls_client_certificate_sha256: update.tls_client_certificate_sha256,
        tls_client_certificate_bound_access_tokens: update
            .tls_client_certificate_bound_access_tokens
            .unwrap_or(false),
        ..NewClient::default()
    })
}

/// When the current secret stops working after a rotation: `now` + `--old-expires-in`, or
/// `--old-expires-at`, or the API's default (absent).
fn old_secret_expiry(
    expires_in: Option<&str>,
    expires_at: Option<u64>,
    now: u64,
) -> Result<Option<u64>, Failure> {
    match expires_in {
        Some(duration) => Ok(Some(now + parse_duration(duration)?)),
        None => Ok(expires_at),
    }
}

/// Parses `30s`, `15m`, `24h`, `7d` (or bare seconds).
fn parse_duration(text: &str) -> Result<u64, Failure> {
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
    fn the_old_secret_expires_after_the_given_duration_or_at_the_given_time() {
        assert_eq!(
            old_secret_expiry(Some("1h"), None, 1_000).unwrap(),
            Some(4_600)
        );
        assert_eq!(old_secret_expiry(None, Some(9), 1_000).unwrap(), Some(9));
        assert_eq!(old_secret_expiry(None, None, 1_000).unwrap(), None);
        assert_eq!(old_secret_expiry(Some("2x"), None, 0).unwrap_err().code, 2);
    }

    #[test]
    fn an_update_names_only_what_was_given_and_at_least_one_setting() {
        let fields = Fields {
            ttl: Some(120),
            ..Fields::default()
        };
        let change = update_request(fields, Resets::default()).unwrap();
        assert_eq!(change.token_ttl, Some(120));
        assert_eq!(change.scopes, None);
        let reset = |resets| update_request(Fields::default(), resets).unwrap();
        let limit = Resets {
            rate_limit: true,
            ..Resets::default()
        };
        assert_eq!(reset(limit).rate_limit, Some(None));
        let audiences = Resets {
            audiences: true,
            ..Resets::default()
        };
        assert_eq!(reset(audiences).default_audience, Some(None));
        let claims = Resets {
            claims: true,
            ..Resets::default()
        };
        assert_eq!(reset(claims).claims, Some(Map::new()));
        assert_eq!(
            update_request(Fields::default(), Resets::default())
                .unwrap_err()
                .code,
            2
        );
    }

    #[test]
    fn claims_are_json_when_they_parse_as_json_and_text_otherwise() {
        let options = [
            "tenant_id=acme",
            "n=42",
            "roles=[\"a\",\"b\"]",
            "s=\"42\"",
            "eq=a=b",
        ]
        .map(str::to_owned);
        let claims = claims_of(&options).unwrap().unwrap();
        assert_eq!(
            Value::Object(claims),
            serde_json::json!({ "tenant_id": "acme", "n": 42, "roles": ["a", "b"], "s": "42", "eq": "a=b" })
        );
        assert_eq!(claims_of(&[]).unwrap(), None);
        assert_eq!(claims_of(&["novalue".to_owned()]).unwrap_err().code, 2);
    }

    #[test]
    fn a_new_client_needs_scopes_and_audience() {
        let fields = |scopes: Option<&str>, audience: &[&str]| Fields {
            scopes: scopes.map(str::to_owned),
            audience: audience.iter().map(|a| (*a).to_owned()).collect(),
            ..Fields::default()
        };
        let made = new_client(None, fields(Some("a b"), &["x"])).unwrap();
        assert_eq!(made.scopes, ["a", "b"]);
        assert!(made.default_scopes.is_empty());
        let no_scopes = new_client(None, fields(None, &["x"])).unwrap_err();
        assert!(no_scopes.message.contains("--scopes is required"));
        let no_audience = new_client(None, fields(Some("a"), &[])).unwrap_err();
        assert!(no_audience.message.contains("--audience is required"));
    }
}
