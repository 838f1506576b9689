//! Human and JSON output.

use edge_token::core::admin::{BlockList, Cleared, ClientInfo, Deleted, ListEntry, NewSecret};
use serde::Serialize;
use serde_json::Value;

use crate::api::percent_encode;

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

fn when(unix: Option<u64>, never: &str) -> String {
    unix.map_or_else(|| never.to_owned(), time)
}

fn print_json(value: &impl Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
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
    println!("grant_types   {}", info.grant_types.join(" "));
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
    println!("token_ttl     {} s", info.token_ttl);
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
    println!("secrets");
    for s in &info.secrets {
        println!(
            "  {}  {}  created {}  expires {}  last used {}",
            s.id,
            if s.live { "live   " } else { "refused" },
            when(s.created_at, "unknown"),
            when(s.expires_at, "never"),
            when(s.last_used_at, "not seen"),
        );
    }
    if info.usage_unavailable {
        println!("  (the guard object did not answer: status and last use may be incomplete)");
    }
}

/// A new secret, shown once, under `heading`, with `note` on how it spreads, the client, and
/// a `curl` line to try it at its tenant's token path.
fn new_secret(answer: &NewSecret, url: &str, heading: &str, note: &str) {
    let id = &answer.client.client_id;
    let secret = &answer.client_secret;
    println!("{heading}");
    println!("client_secret {secret}");
    println!("  (shown once: only its hash is stored{note})\n");
    client(&answer.client, false);
    println!(
        "\ntry it: curl -u '{}:{}' -d grant_type=client_credentials {}{}",
        percent_encode(id),
        percent_encode(secret),
        url.trim_end_matches('/'),
        answer.token_path
    );
}

/// A new client, with its secret, shown once.
pub fn created(answer: &NewSecret, url: &str, json: bool) {
    if json {
        return print_json(answer);
    }
    let heading = format!("created client {}", answer.client.client_id);
    new_secret(answer, url, &heading, "");
}

/// A rotation: the new secret, shown once, and until when the old one works.
pub fn rotated(answer: &NewSecret, url: &str, json: bool) {
    if json {
        return print_json(answer);
    }
    let heading = format!(
        "new secret {} for client {}",
        answer.secret_id.as_deref().unwrap_or(""),
        answer.client.client_id
    );
    let note = "; KV may take up to a minute to serve it everywhere";
    new_secret(answer, url, &heading, note);
}

/// The tenant's clients.
pub fn list(tenant: &str, clients: &[ListEntry], json: bool) {
    if json {
        return print_json(&serde_json::json!({ "tenant": tenant, "clients": clients }));
    }
    println!("{} client(s) in tenant {tenant}", clients.len());
    for c in clients {
        let status = match c.disabled {
            Some(true) => "disabled",
            Some(false) => "enabled",
            None => "status not in KV metadata (see `client show`)",
        };
        println!("  {}  {status}", c.client_id);
    }
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
