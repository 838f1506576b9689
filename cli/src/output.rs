//! Human and JSON output.

use crate::api::percent_encode;
use serde_json::Value;

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC` (proleptic Gregorian, days-from-civil inverse).
pub fn time(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3_600,
        secs / 60 % 60,
        secs % 60
    )
}

fn when(value: &Value, never: &str) -> String {
    value.as_u64().map_or_else(|| never.to_owned(), time)
}

fn words(value: &Value) -> String {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// A client's settings and secrets.
pub fn client(info: &Value, json: bool) {
    if json {
        return print_json(info);
    }
    let defaults = words(&info["default_scopes"]);
    let limit = &info["rate_limit"];
    println!(
        "client        {} (tenant {})",
        info["client_id"].as_str().unwrap_or(""),
        info["tenant"].as_str().unwrap_or("")
    );
    println!(
        "status        {}",
        if info["disabled"] == true {
            "DISABLED"
        } else {
            "enabled"
        }
    );
    println!("grant_types   {}", words(&info["grant_types"]));
    println!(
        "scopes        {} (default: {})",
        words(&info["scopes"]),
        if defaults.is_empty() {
            "none, requests must name a scope"
        } else {
            &defaults
        }
    );
    println!("audience      {}", words(&info["audience"]));
    println!("token_ttl     {} s", info["token_ttl"]);
    println!(
        "rate_limit    {} per minute, burst {}{}",
        limit["per_minute"],
        limit["burst"],
        if info["rate_limit_is_default"] == true {
            " (default)"
        } else {
            ""
        }
    );
    println!("secrets");
    for s in info["secrets"].as_array().into_iter().flatten() {
        println!(
            "  {}  {}  created {}  expires {}  last used {}",
            s["id"].as_str().unwrap_or(""),
            if s["live"] == true {
                "live   "
            } else {
                "refused"
            },
            when(&s["created_at"], "unknown"),
            when(&s["expires_at"], "never"),
            when(&s["last_used_at"], "not seen"),
        );
    }
    if info["usage_unavailable"] == true {
        println!("  (the guard object did not answer: status and last use may be incomplete)");
    }
}

/// `curl` line to try a client, at its tenant's token path (from the admin API's answer).
fn curl(url: &str, answer: &Value, id: &str, secret: &str) -> String {
    let path = answer["token_path"].as_str().unwrap_or("/oauth2/token");
    format!(
        "curl -u '{}:{}' -d grant_type=client_credentials {}{path}",
        percent_encode(id),
        percent_encode(secret),
        url.trim_end_matches('/')
    )
}

/// A new client, with its secret, shown once.
pub fn created(answer: &Value, url: &str, json: bool) {
    if json {
        return print_json(answer);
    }
    let info = &answer["client"];
    let id = info["client_id"].as_str().unwrap_or("");
    let secret = answer["client_secret"].as_str().unwrap_or("");
    println!("created client {id}");
    println!("client_secret {secret}");
    println!("  (shown once: only its hash is stored)\n");
    client(info, false);
    println!("\ntry it: {}", curl(url, answer, id, secret));
}

/// A rotation: the new secret, shown once, and until when the old one works.
pub fn rotated(answer: &Value, url: &str, json: bool) {
    if json {
        return print_json(answer);
    }
    let info = &answer["client"];
    let id = info["client_id"].as_str().unwrap_or("");
    let secret = answer["client_secret"].as_str().unwrap_or("");
    println!(
        "new secret {} for client {id}",
        answer["secret_id"].as_str().unwrap_or("")
    );
    println!("client_secret {secret}");
    println!("  (shown once: only its hash is stored; KV may take up to a minute to serve it everywhere)\n");
    client(info, false);
    println!("\ntry it: {}", curl(url, answer, id, secret));
}

/// The tenant's clients.
pub fn list(tenant: &str, clients: &[Value], json: bool) {
    if json {
        return print_json(&serde_json::json!({ "tenant": tenant, "clients": clients }));
    }
    println!("{} client(s) in tenant {tenant}", clients.len());
    for c in clients {
        let status = match &c["disabled"] {
            Value::Bool(true) => "disabled",
            Value::Bool(false) => "enabled",
            _ => "status not in KV metadata (see `client show`)",
        };
        println!("  {}  {status}", c["client_id"].as_str().unwrap_or(""));
    }
}

/// A deletion.
pub fn deleted(answer: &Value, json: bool) {
    if json {
        return print_json(answer);
    }
    println!(
        "deleted client {} from tenant {} (refused at once; KV forgets it within a minute)",
        answer["client_id"].as_str().unwrap_or(""),
        answer["tenant"].as_str().unwrap_or("")
    );
}

/// Plain JSON for the other commands.
pub fn value(value: &Value) {
    print_json(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_calendar_dates() {
        assert_eq!(time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(time(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(time(1_767_225_599), "2025-12-31 23:59:59 UTC");
    }
}
