//! The deployment's configuration (`ISSUER` and `TENANTS`, read once per isolate) and the
//! caller's address (`CF-Connecting-IP`, the key of source throttling).

use edge_token::core::{
    config::{Endpoint, Tenants, MAX_TENANTS},
    guard::{source_key, source_shard, SOURCE_SHARDS},
};

use super::{budget, check, fields1, text, Target, Verdict};
use crate::mutate::Input;

/// This surface's targets.
pub fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "TENANTS",
            seeds: tenants_cases,
            dictionary: TENANT_WORDS,
            // Above the platform's 5 KB limit on a var's value.
            max_len: 8 * 1024,
            run: tenants,
            // Each tenant copies the origin into its issuer and metadata: the factor is a few
            // copies times MAX_TENANTS, bounded since the number of tenants is. Ten since the
            // metadata names the introspection and revocation endpoints (two more copies).
            budget: budget(10 * MAX_TENANTS, 20 * MAX_TENANTS),
        },
        Target {
            name: "CF-Connecting-IP",
            seeds: || fields1(ADDRESSES),
            dictionary: IP_WORDS,
            max_len: 1024,
            run: source_address,
            budget: budget(8, 16),
        },
    ]
}

const TENANT_WORDS: &[&[u8]] = &[
    b"\"token_paths\":[\"/oauth2/token\"]",
    b"\"issuer_path\":\"/t/w\"",
    b"\"scope_policy\":\"subset\"",
    b"\"scope_wildcard\":\"*\"",
    b"\"signing_keys\":\"KEYS_B\"",
    b"\"rate_limit\":{\"per_minute\":60,\"burst\":5}",
    b"\"invalid_client_status\":400",
    b"\"always_return_scope\":true",
    b"\"default\":{",
    b"},\"b\":{",
    b"18446744073709551616",
    b"-1",
    b"1e400",
    b"\\u0000",
    b"\\ud800",
    b"[[[[[[[[",
    b"https://",
    b"http://127.0.0.1:8787",
    b"[::1]",
    b"@",
];

/// Fields: `ISSUER`, `TENANTS`. One seed declares the most tenants under a long origin: each
/// tenant copies the origin into its issuer and metadata, the largest product of the two.
fn tenants_cases() -> Vec<Input> {
    let long_origin = format!("https://{}.example", "a".repeat(256)).into_bytes();
    let many: Vec<String> = (0..MAX_TENANTS)
        .map(|i| format!(r#""t{i}":{{"issuer_path":"/t{i}","token_paths":["/t{i}/token"]}}"#))
        .collect();
    let many_tenants = format!("{{{}}}", many.join(",")).into_bytes();
    let case = |origin: &[u8], tenants: &[u8]| vec![Some(origin.to_vec()), Some(tenants.to_vec())];
    vec![
        case(
            b"https://auth.example.com",
            br#"{"default":{"token_paths":["/oauth2/token"]}}"#,
        ),
        case(
            b"http://127.0.0.1:8787",
            br#"{"agile":{"token_paths":["/oAuth/rest/v2/Token"],"scope_wildcard":"*","invalid_client_status":400},"apx":{"token_paths":["/applixure/oauth2/token"],"scope_policy":"subset","always_return_scope":true,"rate_limit":{"per_minute":60,"burst":5}}}"#,
        ),
        case(
            b"https://a.example",
            br#"{"t1-w1":{"issuer_path":"/t1/w1","token_paths":["/t1/w1/oauth2/token"],"signing_keys":"KEYS_T1"},"root":{"token_paths":["/oauth2/access_token","/openam/oauth2/access_token"]}}"#,
        ),
        case(b"http://[::1]:8787", br#"{"a":{"token_paths":["/x","/x"]}}"#),
        case(&long_origin, &many_tenants),
    ]
}

fn tenants(input: &Input) -> Verdict {
    let origin = text(&input[0]).unwrap_or_default();
    let json = text(&input[1]).unwrap_or_default();
    let Ok(tenants) = Tenants::new(&origin, &json) else {
        return Ok(false);
    };
    let (tenants, routes) = tenants.into_tenants();
    let route = |path: &str| routes.get(path).copied();
    for (index, tenant) in tenants.iter().enumerate() {
        check(
            tenant.issuer.starts_with(&origin),
            "an issuer outside the origin",
        )?;
        for path in &tenant.token_paths {
            check(
                route(path) == Some((index, Endpoint::Token)),
                "a token path that does not lead to its tenant",
            )?;
        }
        check(
            route(&tenant.jwks_path) == Some((index, Endpoint::Jwks)),
            "a JWKS path that does not lead to its tenant",
        )?;
        check(
            route(&tenant.introspect_path) == Some((index, Endpoint::Introspect))
                && route(&tenant.revoke_path) == Some((index, Endpoint::Revoke)),
            "an introspection or revocation path that does not lead to its tenant",
        )?;
    }
    Ok(true)
}

const ADDRESSES: &[&[u8]] = &[
    b"203.0.113.7",
    b"2001:db8:1:2:3:4:5:6",
    b" ::ffff:192.0.2.1 ",
    b"::1",
    b"fe80::1%eth0",
];
const IP_WORDS: &[&[u8]] = &[b":", b"::", b".", b"255", b"ffff", b"%", b"0x1", b"00000"];

fn source_address(input: &Input) -> Verdict {
    let Some(key) = text(&input[0]).as_deref().and_then(source_key) else {
        return Ok(false);
    };
    check(source_shard(&key) < SOURCE_SHARDS, "a shard out of range")?;
    check(key.len() <= 64, "a source key longer than an address")?;
    Ok(true)
}
