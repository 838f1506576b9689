//! What each command prints: text for people, or with `--json` the answer as JSON.

use std::path::Path;

use edge_token::core::{
    admin::{
        BlockList, Cleared, ClientInfo, Deleted, ListEntry, NewSecret, QuotaReport, SecretInfo,
    },
    guard::{Quota, QuotaMode, QuotaUsage, VIEW_TTL_MS},
};
use serde::Serialize;
use serde_json::{json, Value};

use crate::text::{percent_encode, time, time_or};

/// Prints `value` as indented JSON on standard output.
pub fn print_json(value: &impl Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Rows as lines of columns padded to the widest cell (the last column is not padded).
pub fn table(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:width$}"))
                .collect();
            cells.join("  ").trim_end().to_owned()
        })
        .collect()
}

/// A secret's last use as shown: a date, or that none was recorded yet. A use is recorded
/// when the token Worker's isolate asks the client's guard object, which it does for a request
/// that finds its view of the client older than [`VIEW_TTL_MS`], and within that time while
/// requests keep coming (docs/admin-api.md, "Last use of each secret").
fn last_use(secret: &SecretInfo) -> String {
    let within = VIEW_TTL_MS.div_ceil(1000);
    time_or(
        secret.last_used_at,
        &format!("not seen yet (recorded within {within} s while in use)"),
    )
}

/// A quota as shown: its figures and mode.
fn quota_text(quota: Option<Quota>) -> String {
    let Some(quota) = quota else {
        return "none".to_owned();
    };
    let figures: Vec<String> = [(quota.per_hour, "hour"), (quota.per_day, "day")]
        .iter()
        .filter_map(|(n, per)| n.map(|n| format!("{n} per {per}")))
        .collect();
    let mode = match quota.mode {
        QuotaMode::Enforce => "enforced",
        QuotaMode::Monitor => "monitor only",
    };
    format!("{} ({mode})", figures.join(", "))
}

/// One quota's counts as lines, under `label` (the client's or the tenant's).
fn quota_lines(label: &str, quota: Option<Quota>, usage: Option<QuotaUsage>) {
    println!("{label:<14}{}", quota_text(quota));
    match (quota, usage) {
        (None, _) => {}
        (Some(_), None) => println!("  counts      unavailable (its object did not answer)"),
        (Some(quota), Some(usage)) => {
            let of = |n: Option<u64>| n.map_or(String::new(), |n| format!(" of {n}"));
            let ends = |ms: u64| time(ms / 1_000);
            println!(
                "  this hour   {}{} (counts again from {})",
                usage.hour,
                of(quota.per_hour),
                ends(usage.hour_ends)
            );
            println!(
                "  this day    {}{} (counts again from {})",
                usage.day,
                of(quota.per_day),
                ends(usage.day_ends)
            );
        }
    }
}

/// `client usage`: a client's quota and its tenant's, with the tokens counted against each.
pub fn usage(report: &QuotaReport, json: bool) {
    if json {
        return print_json(report);
    }
    println!(
        "client        {} (tenant {})",
        report.client_id, report.tenant
    );
    quota_lines("quota", report.quota, report.quota_usage);
    quota_lines("tenant quota", report.tenant_quota, report.tenant_usage);
    println!("(counts: tokens issued or leased to the Worker's isolates and not given back)");
}

/// A client's settings and secrets.
pub fn client(info: &ClientInfo, json: bool) {
    if json {
        return print_json(info);
    }
    let defaults = info.default_scopes.join(" ");
    let limit = &info.rate_limit;
    println!("client        {} (tenant {})", info.client_id, info.tenant);
    println!(
        "status        {}",
        if info.disabled { "DISABLED" } else { "enabled" }
    );
    println!(
        "created       {}",
        time_or(
            info.created_at,
            "not recorded (made before creation times were kept)"
        )
    );
    println!("grant_types   {}", info.grant_types.join(" "));
    if info.dpop_bound_access_tokens {
        println!("dpop-bound    yes (a token request needs a DPoP proof)");
    }
    if info.introspect {
        println!("introspect    yes (may call the introspection endpoint)");
    }
    println!(
        "scopes        {} (default: {})",
        info.scopes.join(" "),
        if defaults.is_empty() {
            "none, requests must name a scope"
        } else {
            &defaults
        }
    );
    println!("audience      {}", info.audience.join(" "));
    if let Some(f) = &info.federation {
        let claims = Value::Object(f.claims.clone());
        println!(
            "auth          federated_jwt: issuer {}, subject {}{}",
            f.issuer,
            f.subject,
            if f.claims.is_empty() {
                String::new()
            } else {
                format!(", claims {claims}")
            }
        );
    } else if let Some(dn) = &info.tls_client_auth_subject_dn {
        println!("auth          tls_client_auth: certificate subject {dn}");
    } else if !info.tls_client_certificate_sha256.is_empty() {
        println!(
            "auth          self_signed_tls_client_auth: certificate SHA-256 {}",
            info.tls_client_certificate_sha256.join(" ")
        );
    } else if let Some(method) = &info.token_endpoint_auth_method {
        let kids = info
            .jwks
            .as_ref()
            .and_then(|set| set["keys"].as_array())
            .map(|keys| {
                let kids: Vec<&str> = keys.iter().filter_map(|k| k["kid"].as_str()).collect();
                kids.join(" ")
            });
        println!(
            "auth          {method} ({}), keys: {}",
            info.token_endpoint_auth_signing_alg
                .as_deref()
                .unwrap_or("EdDSA"),
            kids.or_else(|| info.jwks_uri.clone()).unwrap_or_default()
        );
    }
    match &info.default_audience {
        Some(defaults) => println!("  default     {}", defaults.join(" ")),
        None => println!("  default     every audience"),
    }
    if !info.claims.is_empty() {
        println!(
            "claims        {}",
            serde_json::Value::from(info.claims.clone())
        );
    }
    println!("token_ttl     {} s", info.token_ttl);
    if info.tls_client_certificate_bound_access_tokens {
        println!("bound         to the client certificate of the connection (RFC 8705)");
    }
    println!(
        "rate_limit    {} per minute, burst {}{}",
        limit.per_minute,
        limit.burst,
        if info.rate_limit_is_default {
            " (default)"
        } else {
            ""
        }
    );
    println!("quota         {}", quota_text(info.quota));
    println!("secrets");
    let rows: Vec<Vec<String>> = info
        .secrets
        .iter()
        .map(|s| {
            vec![
                format!("  {}", s.id),
                (if s.live { "live" } else { "refused" }).to_owned(),
                format!("created {}", time_or(s.created_at, "unknown")),
                format!("expires {}", time_or(s.expires_at, "never")),
                format!("last used {}", last_use(s)),
            ]
        })
        .collect();
    for line in table(&rows) {
        println!("{line}");
    }
    if info.usage_unavailable {
        println!("  (the guard object did not answer: status and last use may be incomplete)");
    }
}

/// A new secret, shown once, under `heading`, with `note` on how it spreads, the client, and
/// a `curl` line to try it at its tenant's token path.
fn new_secret(answer: &NewSecret, heading: &str, note: &str, key_file: Option<&str>) {
    let id = &answer.client.client_id;
    let Some(secret) = &answer.client_secret else {
        return keyed(answer, heading, key_file);
    };
    println!("{heading}");
    println!("client_secret {secret}");
    println!("  (shown once: only its hash is stored{note})\n");
    client(&answer.client, false);
    let scope = answer.try_scope.as_deref().map_or(String::new(), |s| {
        format!(" -d 'scope={}'", percent_encode(s))
    });
    println!(
        "\ntry it: curl -u '{}:{}' -d grant_type=client_credentials{scope} {}",
        percent_encode(id),
        percent_encode(secret),
        answer.token_endpoint
    );
}

/// A new private_key_jwt client: no secret; a shell line that signs a test assertion with
/// `client assertion` and sends it with curl. `key_file`: the private key file the client was
/// registered from, else a placeholder to replace.
fn keyed(answer: &NewSecret, heading: &str, key_file: Option<&str>) {
    if answer.client.federation.is_some() {
        return federated(answer, heading);
    }
    if answer.client.tls_client_auth_subject_dn.is_some()
        || !answer.client.tls_client_certificate_sha256.is_empty()
    {
        return mutual_tls(answer, heading);
    }
    println!("{heading}");
    println!("no secret: it authenticates with assertions signed by its keys (private_key_jwt)\n");
    client(&answer.client, false);
    let endpoint = &answer.token_endpoint;
    let scope = answer.try_scope.as_deref().map_or(String::new(), |s| {
        format!(" -d 'scope={}'", percent_encode(s))
    });
    let key = shell_quote(key_file.unwrap_or("PRIVATE_KEYS.json"));
    if key_file.is_none() {
        println!("\n(replace PRIVATE_KEYS.json by the private JWK Set of its keys, as `keys generate --out FILE` writes)");
    }
    println!(
        "\ntry it: curl -d grant_type=client_credentials -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer -d \"client_assertion=$(edge-token-admin client assertion --key {key} --client {} --audience {endpoint})\"{scope} {endpoint}",
        shell_quote(&answer.client.client_id),
    );
}

/// A new federated_jwt client: no secret, no key; the workload sends its platform's token.
fn federated(answer: &NewSecret, heading: &str) {
    println!("{heading}");
    println!("no secret: it authenticates with its platform's token (federated_jwt)\n");
    client(&answer.client, false);
    let endpoint = &answer.token_endpoint;
    let scope = answer.try_scope.as_deref().map_or(String::new(), |s| {
        format!(" -d 'scope={}'", percent_encode(s))
    });
    println!("\n(PLATFORM_TOKEN: the workload's token from its platform, with the trusted issuer's audience)");
    println!(
        "try it: curl -d grant_type=client_credentials -d client_id={} -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer -d \"client_assertion=$PLATFORM_TOKEN\"{scope} {endpoint}",
        shell_quote(&answer.client.client_id),
    );
}

/// A new mutual-TLS client: no secret, no key; it sends its client certificate.
fn mutual_tls(answer: &NewSecret, heading: &str) {
    println!("{heading}");
    println!("no secret: it authenticates with its TLS client certificate (RFC 8705)\n");
    client(&answer.client, false);
    let endpoint = &answer.token_endpoint;
    let scope = answer.try_scope.as_deref().map_or(String::new(), |s| {
        format!(" -d 'scope={}'", percent_encode(s))
    });
    println!("\n(client.pem, client.key: its certificate and key; docs/sender-constrained.md)");
    println!(
        "try it: curl --cert client.pem --key client.key -d grant_type=client_credentials -d client_id={}{scope} {endpoint}",
        shell_quote(&answer.client.client_id),
    );
}

/// `text` as one single-quoted shell word.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A new client, with its secret, shown once; `key_file`: the private key file a
/// private_key_jwt client was registered from, for its try-it line.
pub fn created(answer: &NewSecret, key_file: Option<&str>, json: bool) {
    if json {
        return print_json(answer);
    }
    let heading = format!("created client {}", answer.client.client_id);
    new_secret(answer, &heading, "", key_file);
}

/// A rotation: the new secret, shown once, and until when the old one works.
pub fn rotated(answer: &NewSecret, json: bool) {
    if json {
        return print_json(answer);
    }
    let heading = format!(
        "new secret {} for client {}",
        answer.secret_id.as_deref().unwrap_or(""),
        answer.client.client_id
    );
    let note = "; KV may take up to a minute to serve it everywhere";
    new_secret(answer, &heading, note, None);
}

/// One client's row of a list: what its KV metadata says, `?` for what it lacks.
fn list_row(c: &ListEntry) -> Vec<String> {
    let status = match c.disabled {
        Some(true) => "disabled",
        Some(false) => "enabled",
        None => "?",
    };
    let words = |list: &Option<Vec<String>>| list.as_ref().map_or("?".to_owned(), |l| l.join(" "));
    vec![
        format!("  {}", c.client_id),
        status.to_owned(),
        c.created_at
            .map_or("?".to_owned(), |at| time(at).replace(" UTC", "")),
        words(&c.scopes),
        words(&c.audience),
    ]
}

/// The tenant's clients, one aligned row each, from the list's metadata; last use is one
/// guard object request per client, so only `client show` asks for it.
pub fn list(tenant: &str, clients: &[ListEntry], json: bool) {
    if json {
        return print_json(&json!({ "tenant": tenant, "clients": clients }));
    }
    println!("{} client(s) in tenant {tenant} (times UTC)", clients.len());
    let head = ["  CLIENT", "STATUS", "CREATED", "SCOPES", "AUDIENCE"];
    let mut rows = vec![head.map(str::to_owned).to_vec()];
    rows.extend(clients.iter().map(list_row));
    for line in table(&rows) {
        println!("{line}");
    }
    if clients
        .iter()
        .any(|c| c.scopes.is_none() || c.created_at.is_none())
    {
        println!("(? : not in the list's metadata, e.g. a client last written before it was kept)");
    }
    println!("last use of each secret: `client show ID`");
}

/// A deletion.
pub fn deleted(answer: &Deleted, json: bool) {
    if json {
        return print_json(answer);
    }
    println!(
        "deleted client {} from tenant {} (refused at once; KV forgets it within a minute)",
        answer.client_id, answer.tenant
    );
}

/// The blocked source addresses.
pub fn blocks(list: &BlockList, json: bool) {
    if json {
        return print_json(list);
    }
    if list.blocks.is_empty() {
        return println!("no source address is blocked");
    }
    for b in &list.blocks {
        println!(
            "  {:<24} blocked until {}  (block {}; the next lasts twice as long, up to 15 min)",
            b.source,
            time(b.blocked_until),
            b.blocks
        );
    }
}

/// What `blocks clear` forgot.
pub fn cleared(cleared: &Cleared, json: bool) {
    if json {
        return print_json(cleared);
    }
    println!(
        "cleared {} source address(es): not blocked, failures forgotten",
        cleared.cleared
    );
}

/// A key's row, as described by `keys::rules::describe`: kid, role, when added and, for a
/// key that stopped signing, when it did (a signing or next key has no demotion to show).
fn key_row(k: &Value) -> Vec<String> {
    let when = |v: &Value| v.as_u64().map_or_else(|| "not recorded".to_owned(), time);
    let role = k["role"].as_str().unwrap_or("");
    let mut row = vec![
        format!("  {}", k["kid"].as_str().unwrap_or("")),
        role.to_owned(),
        format!("added {}", when(&k["added_at"])),
    ];
    if role == "previous" {
        row.push(format!("demoted {}", when(&k["demoted_at"])));
    }
    row
}

/// Keys as described by `keys::rules::describe`, one aligned row each.
fn print_keys(described: &[Value]) {
    let rows: Vec<Vec<String>> = described.iter().map(key_row).collect();
    for line in table(&rows) {
        println!("{line}");
    }
}

/// A change to a key set: what was done, the keys, and the next step.
pub fn keys(done: &str, described: &[Value], next: &str, json: bool) {
    if json {
        return print_json(&json!({ "done": done, "keys": described, "next_step": next }));
    }
    println!("{done}");
    print_keys(described);
    println!("{next}");
}

/// The keys of the set in `path`.
pub fn key_list(path: &Path, described: &[Value], json: bool) {
    if json {
        return print_json(&json!({ "keys": described }));
    }
    println!("{} key(s) in {}", described.len(), path.display());
    print_keys(described);
}

/// A new key set file.
pub fn generated(kid: &str, out: &Path, next: &str, json: bool) {
    if json {
        return print_json(&json!({ "kid": kid, "file": out, "next_step": next }));
    }
    println!(
        "wrote a new key set with signing key {kid} to {}",
        out.display()
    );
    println!("{next}");
}

/// A claim's value as shown; a time claim with its UTC date beside the number.
fn claim(name: &str, value: &Value) -> String {
    match (name, value.as_u64()) {
        ("exp" | "iat" | "nbf" | "auth_time", Some(unix)) => format!("{unix}  ({})", time(unix)),
        _ => value.to_string(),
    }
}

/// A checked token: header, claims and, if valid, who signed it.
pub fn verified(header: &Value, claims: &Value, problems: &[String], kid: &str, json: bool) {
    let valid = problems.is_empty();
    if json {
        return print_json(&json!({
            "valid": valid,
            "problems": problems,
            "header": header,
            "claims": claims,
        }));
    }
    println!("header  {header}");
    println!("claims");
    let rows: Vec<Vec<String>> = claims
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| vec![format!("  {name}"), claim(name, value)])
        .collect();
    for line in table(&rows) {
        println!("{line}");
    }
    if valid {
        let exp = claims["exp"].as_u64().unwrap_or(0);
        println!("VALID: signed by {kid}, expires {}", time(exp));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns_are_aligned_to_the_widest_cell() {
        let rows = [
            vec!["a".to_owned(), "bb".to_owned(), "c".to_owned()],
            vec!["aaa".to_owned(), "b".to_owned(), "".to_owned()],
        ];
        assert_eq!(table(&rows), ["a    bb  c", "aaa  b"]);
    }

    #[test]
    fn a_list_row_shows_scopes_audience_and_creation_or_a_question_mark() {
        let entry = ListEntry {
            audience: Some(vec!["https://a".into(), "https://b".into()]),
            client_id: "svc".into(),
            created_at: Some(1_767_225_599),
            disabled: Some(false),
            scopes: Some(vec!["x".into(), "y".into()]),
        };
        assert_eq!(
            list_row(&entry),
            [
                "  svc",
                "enabled",
                "2025-12-31 23:59:59",
                "x y",
                "https://a https://b"
            ]
        );
        let old = ListEntry::from_metadata("old", Some(&json!({ "disabled": true })));
        assert_eq!(list_row(&old), ["  old", "disabled", "?", "?", "?"]);
    }

    #[test]
    fn only_a_key_that_stopped_signing_shows_a_demotion() {
        let signing = json!({ "kid": "a", "role": "signing", "added_at": 1_767_225_599 });
        assert_eq!(
            key_row(&signing),
            ["  a", "signing", "added 2025-12-31 23:59:59 UTC"]
        );
        let previous = json!({ "kid": "b", "role": "previous", "added_at": null, "demoted_at": 0 });
        assert_eq!(
            key_row(&previous),
            [
                "  b",
                "previous",
                "added not recorded",
                "demoted 1970-01-01 00:00:00 UTC"
            ]
        );
    }

    #[test]
    fn a_secret_not_seen_yet_says_within_what_time_a_use_is_recorded() {
        let secret = SecretInfo {
            created_at: None,
            expires_at: None,
            id: "ab".into(),
            last_used_at: None,
            live: true,
        };
        assert_eq!(
            last_use(&secret),
            "not seen yet (recorded within 1 s while in use)"
        );
    }

    #[test]
    fn time_claims_show_their_utc_date_beside_the_number() {
        assert_eq!(
            claim("exp", &json!(1_767_225_599)),
            "1767225599  (2025-12-31 23:59:59 UTC)"
        );
        assert_eq!(claim("sub", &json!("svc")), "\"svc\"");
        assert_eq!(claim("iat", &json!("x")), "\"x\"");
    }
}
