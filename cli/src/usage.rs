//! `usage`: token requests per tenant, client, outcome and reason, read back from the Workers
//! Analytics Engine dataset the token Worker writes one data point per request into
//! (docs/operating.md, "Usage data points"), through the Analytics Engine SQL API of a
//! deployed Worker's account. Nothing local answers it: `wrangler dev` keeps no dataset.
//!
//! Analytics Engine may keep one point in N and mark it with `_sample_interval` = N, so a count
//! is `SUM(_sample_interval)` and a mean is weighted by it; counts are estimates when sampled.

use edge_token::core::{config::is_tenant_name, credential::looks_like_secret};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    args::UsageArgs,
    endpoint::Endpoint,
    failure::{Failure, Outcome},
    output::{print_json, table},
};

/// The environment variable holding the Cloudflare API token (permission: Account Analytics
/// Read).
pub const TOKEN_ENV: &str = "CLOUDFLARE_API_TOKEN";
/// The longest `--since`: Analytics Engine keeps data points for three months.
const MAX_DAYS: u32 = 90;
/// The most rows one answer holds.
const LIMIT: u32 = 1000;

/// What to count: the window and the filters, checked.
#[derive(Debug, PartialEq, Eq)]
pub struct Query {
    /// The dataset (wrangler.toml `analytics_engine_datasets`).
    dataset: String,
    /// How far back: an amount and its SQL unit (`MINUTE`, `HOUR`, `DAY`).
    since: (u32, &'static str),
    /// Only this tenant.
    tenant: Option<String>,
    /// Only this client: its id as logged, or the tag logged in place of an id.
    client: Option<String>,
}

impl Query {
    /// Checks the arguments of `usage`.
    pub fn new(args: &UsageArgs) -> Result<Self, Failure> {
        let dataset_ok = !args.dataset.is_empty()
            && args.dataset.len() <= 64
            && (args.dataset.bytes()).all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !dataset_ok {
            return Err(Failure::usage(
                "--dataset must be 1-64 of A-Z, a-z, 0-9 and _",
            ));
        }
        if args.tenant.as_deref().is_some_and(|t| !is_tenant_name(t)) {
            return Err(Failure::usage(
                "--tenant must match ^[a-z0-9][a-z0-9-]{0,31}$",
            ));
        }
        if let Some(client) = &args.client {
            let printable = (1..=256).contains(&client.len())
                && client.bytes().all(|b| (0x20..=0x7E).contains(&b));
            if !printable || looks_like_secret(client) {
                return Err(Failure::usage("--client must be a client id as its log lines show it (client_id, or client_tag): never a secret"));
            }
            if client.contains(['\'', '\\']) {
                return Err(Failure::usage("--client cannot name an id with ' or \\ (the query does not depend on the SQL API's escaping): leave --client out and find the id in the list"));
            }
        }
        Ok(Self {
            dataset: args.dataset.clone(),
            since: since(&args.since)?,
            tenant: args.tenant.clone(),
            client: args.client.clone(),
        })
    }

    /// The SQL text: requests (sampling taken into account) and mean latency per tenant,
    /// client, outcome, reason and error code, most requests first.
    pub fn sql(&self) -> String {
        let (amount, unit) = self.since;
        let mut filters = vec![format!("timestamp > NOW() - INTERVAL '{amount}' {unit}")];
        if let Some(tenant) = &self.tenant {
            filters.push(format!("blob1 = {}", literal(tenant)));
        }
        if let Some(client) = &self.client {
            filters.push(format!("blob2 = {}", literal(client)));
        }
        format!(
            "SELECT blob1 AS tenant, blob2 AS client, blob6 AS client_kind, blob3 AS outcome, \
             blob4 AS reason, blob5 AS error, SUM(_sample_interval) AS requests, \
             SUM(_sample_interval * double2) / SUM(_sample_interval) AS mean_ms \
             FROM {} WHERE {} \
             GROUP BY blob1, blob2, blob6, blob3, blob4, blob5 \
             ORDER BY requests DESC LIMIT {LIMIT} FORMAT JSON",
            self.dataset,
            filters.join(" AND ")
        )
    }
}

/// `--since` as an SQL interval: a whole number then `m`, `h` or `d`, up to 90 days.
fn since(text: &str) -> Result<(u32, &'static str), Failure> {
    let bad = || {
        Failure::usage(format!("--since must be a number of minutes, hours or days such as 30m, 24h, 7d (at most {MAX_DAYS}d): {text:?}"))
    };
    let (amount, unit) = text.split_at(text.len().saturating_sub(1));
    let amount: u32 = (!amount.starts_with('+'))
        .then(|| amount.parse().ok())
        .flatten()
        .filter(|n| *n > 0)
        .ok_or_else(bad)?;
    let (unit, minutes) = match unit {
        "m" => ("MINUTE", 1),
        "h" => ("HOUR", 60),
        "d" => ("DAY", 1440),
        _ => return Err(bad()),
    };
    if u64::from(amount) * minutes > u64::from(MAX_DAYS) * 1440 {
        return Err(bad());
    }
    Ok((amount, unit))
}

/// `text` as an SQL string literal: quoted as it is ([`Query::new`] lets no `'` or `\` in).
fn literal(text: &str) -> String {
    format!("'{text}'")
}

/// The path of the account's SQL API.
fn path(account: &str) -> String {
    format!("/client/v4/accounts/{account}/analytics_engine/sql")
}

/// Checks the account id: 32 hexadecimal digits (it goes into the path).
fn account(args: &UsageArgs) -> Result<String, Failure> {
    let account = args.account.as_deref().unwrap_or_default().trim();
    if account.len() != 32 || !account.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Failure::usage("--account (or CLOUDFLARE_ACCOUNT_ID) must be the Cloudflare account id of the deployment: 32 hexadecimal digits (dashboard, Workers & Pages, Account details)"));
    }
    Ok(account.to_ascii_lowercase())
}

/// One row of the answer.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The tenant.
    pub tenant: String,
    /// The client id, or its log tag (`client_kind` says which); empty when none was known.
    pub client: String,
    /// `id`, `tag` or empty.
    pub client_kind: String,
    /// `issued`, `refused` or `fault`.
    pub outcome: String,
    /// The reason of a refusal (the log line's `reason`).
    pub reason: String,
    /// The error code answered (RFC 6749 §5.2).
    pub error: String,
    /// Requests, sampling taken into account.
    #[serde(deserialize_with = "number")]
    pub requests: f64,
    /// Mean latency in milliseconds.
    #[serde(deserialize_with = "number")]
    pub mean_ms: f64,
}

/// A number written as a JSON number or, as the SQL API writes 64-bit integers, as text.
fn number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| serde::de::Error::custom("not a number"))
}

/// The SQL API's answer (`FORMAT JSON`): the rows under `data`.
#[derive(Deserialize)]
struct Answer {
    data: Vec<Row>,
}

/// Reads the rows out of a 2xx answer's body.
pub fn parse(text: &str) -> Result<Vec<Row>, Failure> {
    serde_json::from_str::<Answer>(text)
        .map(|a| a.data)
        .map_err(|e| {
            Failure::new(format!(
                "unexpected answer from the Analytics Engine SQL API: {e}"
            ))
        })
}

/// The failure for a refused query: its status and the first line of the API's message
/// (which never holds the API token).
fn refusal(status: u16, text: &str) -> Failure {
    let first: String = text
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(300)
        .collect();
    let hint = match status {
        401 | 403 => {
            ": is CLOUDFLARE_API_TOKEN an API token of this account with Account Analytics Read?"
        }
        _ => "",
    };
    Failure::coded(
        "refused",
        format!("the Analytics Engine SQL API answered {status}{hint} {first}"),
    )
}

/// The SQL API request of a `usage` command: where, with which token, which query.
pub struct SqlRequest {
    /// The Cloudflare API's origin, checked by the CLI's URL rules.
    endpoint: Endpoint,
    /// The account's SQL API path.
    path: String,
    /// The `Authorization` value.
    authorization: String,
    /// The SQL text (the body, as `text/plain`).
    sql: String,
}

impl SqlRequest {
    /// Builds the request from the arguments and the API token (`CLOUDFLARE_API_TOKEN`).
    pub fn new(args: &UsageArgs, token: Option<String>) -> Result<Self, Failure> {
        let query = Query::new(args)?;
        let account = account(args)?;
        let endpoint = Endpoint::parse(&args.api_url)?;
        let token = token.filter(|t| !t.trim().is_empty()).ok_or_else(|| {
            Failure::usage(format!(
                "set {TOKEN_ENV} to a Cloudflare API token with Account Analytics Read"
            ))
        })?;
        Ok(Self {
            endpoint,
            path: path(&account),
            authorization: format!("Bearer {}", token.trim()),
            sql: query.sql(),
        })
    }

    /// Sends it: the rows of a 2xx answer, else the failure.
    fn send(self) -> Result<Vec<Row>, Failure> {
        let answer = self.endpoint.send_body(
            "POST",
            &self.path,
            &[("Authorization", &self.authorization)],
            Some(("text/plain", self.sql)),
        )?;
        match answer.status {
            200..=299 => parse(&answer.text),
            300..=399 => Err(self.endpoint.redirected(&answer)),
            status => Err(refusal(status, &answer.text)),
        }
    }
}

/// Runs `usage`.
pub fn run(args: &UsageArgs, json: bool) -> Outcome {
    let rows = SqlRequest::new(args, std::env::var(TOKEN_ENV).ok())?.send()?;
    print(&rows, &args.since, json)
}

/// Prints the rows: a table, or with `--json` the rows as they came.
fn print(rows: &[Row], since: &str, json: bool) -> Outcome {
    if json {
        print_json(&rows);
        return Ok(());
    }
    let total: f64 = rows.iter().map(|r| r.requests).sum();
    println!("{total:.0} token request(s) in the last {since} (estimates where Analytics Engine sampled)");
    let head = [
        "  TENANT", "CLIENT", "OUTCOME", "REASON", "REQUESTS", "MEAN MS",
    ];
    let mut lines = vec![head.map(str::to_owned).to_vec()];
    lines.extend(rows.iter().map(|r| {
        let client = match (r.client_kind.as_str(), r.client.as_str()) {
            (_, "") => "-".to_owned(),
            ("tag", tag) => format!("tag:{tag}"),
            (_, id) => id.to_owned(),
        };
        vec![
            format!("  {}", r.tenant),
            client,
            r.outcome.clone(),
            if r.reason.is_empty() {
                "-".into()
            } else {
                r.reason.clone()
            },
            format!("{:.0}", r.requests),
            format!("{:.1}", r.mean_ms),
        ]
    }));
    for line in table(&lines) {
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(since: &str, tenant: Option<&str>, client: Option<&str>) -> UsageArgs {
        UsageArgs {
            since: since.into(),
            tenant: tenant.map(Into::into),
            client: client.map(Into::into),
            account: Some("0123456789ABCDEF0123456789abcdef".into()),
            dataset: "edge_token_usage".into(),
            api_url: "https://api.cloudflare.com".into(),
        }
    }

    #[test]
    fn the_query_counts_sampled_points_by_their_interval_within_the_window() {
        let sql = Query::new(&args("24h", None, None)).unwrap().sql();
        assert!(sql.contains("SUM(_sample_interval) AS requests"), "{sql}");
        assert!(sql.contains("SUM(_sample_interval * double2) / SUM(_sample_interval) AS mean_ms"));
        assert!(sql.contains(
            "FROM edge_token_usage WHERE timestamp > NOW() - INTERVAL '24' HOUR GROUP BY"
        ));
        assert!(sql.ends_with("ORDER BY requests DESC LIMIT 1000 FORMAT JSON"));
        assert!(!sql.contains("blob1 ="), "no tenant filter unless asked");
    }

    #[test]
    fn filters_are_quoted_literals_and_an_id_with_a_quote_or_backslash_is_refused() {
        for quote in ["it's", r"a\b", r"x\' OR 1=1"] {
            let failure = Query::new(&args("7d", None, Some(quote))).unwrap_err();
            assert_eq!(failure.code, 2, "{quote}");
        }
        let sql = Query::new(&args("7d", Some("acme"), Some("svc-1 (ops)")))
            .unwrap()
            .sql();
        assert!(
            sql.contains("INTERVAL '7' DAY AND blob1 = 'acme' AND blob2 = 'svc-1 (ops)' GROUP BY"),
            "{sql}"
        );
    }

    #[test]
    fn since_takes_minutes_hours_or_days_up_to_ninety_days() {
        assert_eq!(since("30m").unwrap(), (30, "MINUTE"));
        assert_eq!(since("90d").unwrap(), (90, "DAY"));
        assert_eq!(since("2160h").unwrap(), (2160, "HOUR"));
        for bad in [
            "",
            "24",
            "h",
            "0h",
            "-1h",
            "+1h",
            "91d",
            "2161h",
            "1.5h",
            "24H",
            "1w",
            "99999999999d",
        ] {
            assert_eq!(since(bad).unwrap_err().code, 2, "{bad:?}");
        }
    }

    #[test]
    fn bad_filters_accounts_and_datasets_are_usage_errors() {
        assert!(Query::new(&args("24h", Some("Acme"), None)).is_err());
        assert!(
            Query::new(&args("24h", None, Some("etcs_0123456789abcdef"))).is_err(),
            "a secret never goes into a query"
        );
        assert!(Query::new(&args("24h", None, Some("a\nb"))).is_err());
        let mut bad_dataset = args("24h", None, None);
        bad_dataset.dataset = "usage; DROP".into();
        assert_eq!(Query::new(&bad_dataset).unwrap_err().code, 2);
        assert_eq!(
            account(&args("24h", None, None)).unwrap(),
            "0123456789abcdef0123456789abcdef"
        );
        for bad in [None, Some("../../zones"), Some("0123456789abcdef")] {
            let mut a = args("24h", None, None);
            a.account = bad.map(Into::into);
            assert_eq!(account(&a).unwrap_err().code, 2, "{bad:?}");
        }
    }

    #[test]
    fn the_request_posts_the_query_to_the_accounts_sql_api_with_the_bearer_token() {
        let a = args("24h", Some("acme"), None);
        let request = SqlRequest::new(&a, Some(" tok-123 \n".into())).unwrap();
        assert_eq!(request.endpoint.origin(), "https://api.cloudflare.com");
        assert_eq!(
            request.path,
            "/client/v4/accounts/0123456789abcdef0123456789abcdef/analytics_engine/sql"
        );
        assert_eq!(request.authorization, "Bearer tok-123");
        assert_eq!(request.sql, Query::new(&a).unwrap().sql());
        let missing = SqlRequest::new(&a, Some("  ".into())).err().unwrap();
        assert!(missing.message.contains(TOKEN_ENV), "{}", missing.message);
    }

    #[test]
    fn the_api_url_follows_the_clis_url_rules() {
        for bad in [
            "http://api.cloudflare.com",
            "https://user:pw@api.cloudflare.com",
            "https://api.cloudflare.com/client/v4",
        ] {
            let mut a = args("24h", None, None);
            a.api_url = bad.into();
            let failure = SqlRequest::new(&a, Some("t".into())).err().unwrap();
            assert_eq!(failure.code, 2, "{bad}");
        }
        let mut local = args("24h", None, None);
        local.api_url = "http://127.0.0.1:9".into();
        assert!(SqlRequest::new(&local, Some("t".into())).is_ok());
    }

    /// An answer of the SQL API in `FORMAT JSON` (its shape: `meta`, `data`, `rows`), with a
    /// count written as text, as it writes 64-bit integers.
    const RECORDED: &str = r#"{
      "meta": [{"name":"tenant","type":"String"},{"name":"client","type":"String"},
               {"name":"client_kind","type":"String"},{"name":"outcome","type":"String"},
               {"name":"reason","type":"String"},{"name":"error","type":"String"},
               {"name":"requests","type":"UInt64"},{"name":"mean_ms","type":"Float64"}],
      "data": [
        {"tenant":"default","client":"billing","client_kind":"id","outcome":"issued","reason":"","error":"","requests":"1200","mean_ms":3.5},
        {"tenant":"default","client":"Xy3_kP0aQ1","client_kind":"tag","outcome":"refused","reason":"unknown_client","error":"invalid_client","requests":40,"mean_ms":2}
      ],
      "rows": 2,
      "rows_before_limit_at_least": 2
    }"#;

    #[test]
    fn a_recorded_answer_is_read_into_rows() {
        let rows = parse(RECORDED).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].client, "billing");
        assert!((rows[0].requests - 1200.0).abs() < f64::EPSILON);
        assert_eq!(rows[1].client_kind, "tag");
        assert_eq!(rows[1].reason, "unknown_client");
        assert!((rows[1].mean_ms - 2.0).abs() < f64::EPSILON);
        assert!(parse(r#"{"data":[{"tenant":"x"}]}"#).is_err());
        assert!(parse("Unknown identifier: blob9").is_err());
    }

    #[test]
    fn a_refusal_names_the_status_and_the_permission_to_check() {
        let failure = refusal(403, "Authentication error\nmore");
        assert!(failure.message.contains("403"));
        assert!(failure.message.contains("Account Analytics Read"));
        assert!(!failure.message.contains("more"));
    }
}
