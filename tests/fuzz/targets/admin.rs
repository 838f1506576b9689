//! The admin API (its bearer token, its routes, its request bodies and the changes they
//! make) and the stored client record, which the token path and the admin API both read.

use std::sync::OnceLock;

use edge_token::core::{
    admin::{
        check_admin_token, parse_body, parse_route, AdminAccess, AdminError, ClientUpdate,
        NewClient, Rotation, Route, MAX_ADMIN_BODY_BYTES,
    },
    client::{is_valid_client_id, Client},
    config::is_tenant_name,
    record::{Record, MAX_SECRETS},
    secret::{ClientSecret, Pepper, SecretHash},
};

use super::{budget, bytes, check, fields1, text, Target, Verdict};
use crate::mutate::Input;

/// The clock of every change: a fixed Unix time.
const NOW: u64 = 1_800_000_000;
/// The configured `ADMIN_TOKEN` (a test value).
const ADMIN_TOKEN: &str = "0123456789abcdef0123456789abcdef-fuzz";

/// This surface's targets.
pub fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "client record (KV JSON)",
            seeds: records,
            dictionary: RECORD_WORDS,
            max_len: 32 * 1024,
            run: client_record,
            budget: budget(64, 128),
        },
        Target {
            name: "admin request bodies and the changes they make",
            seeds: || fields1(BODIES),
            dictionary: RECORD_WORDS,
            max_len: 2 * MAX_ADMIN_BODY_BYTES,
            run: admin_body,
            budget: budget(64, 128),
        },
        Target {
            name: "admin routes",
            seeds: routes,
            dictionary: ROUTE_WORDS,
            max_len: 4 * 1024,
            run: admin_route,
            budget: budget(16, 32),
        },
        Target {
            name: "admin bearer token",
            seeds: || fields1(&[format!("Bearer {ADMIN_TOKEN}"), "bearer  x ".into()]),
            dictionary: TOKEN_WORDS,
            max_len: 16 * 1024,
            run: admin_token,
            budget: budget(8, 16),
        },
    ]
}

fn hash(secret: &str) -> SecretHash {
    Pepper::new("pepper-pepper-pepper-pepper-pepp")
        .expect("a long enough pepper")
        .hash(&ClientSecret::new(secret.to_owned()))
}

/// The record that updates, rotations and retirements apply to: made once, through the
/// admin API's own create.
fn stored() -> &'static Record {
    static STORED: OnceLock<Record> = OnceLock::new();
    STORED.get_or_init(|| {
        let input: NewClient = parse_body(BODIES[0]).expect("the first seed body is valid");
        Record::create(input, "svc".into(), &hash("first"), NOW - 10).expect("a valid client")
    })
}

const TOKEN_WORDS: &[&[u8]] = &[
    b"Bearer ",
    b"Basic ",
    b" ",
    b"\t",
    b"\n",
    ADMIN_TOKEN.as_bytes(),
];
const RECORD_WORDS: &[&[u8]] = &[
    b"\"client_credentials\"",
    b"\"scopes\":[\"a\",\"b\"]",
    b"\"default_scopes\":[\"a\"]",
    b"\"audience\":[\"https://api.example.com\"]",
    b"\"token_ttl\":3600",
    b"\"rate_limit\":{\"per_minute\":60,\"burst\":5}",
    b"\"rate_limit\":null",
    b"\"expires_at\":1800000100",
    b"\"old_secret_expires_at\":1800000100",
    b"\"extra\":{\"k\":[1,2,{}]}",
    b"\"hash\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"",
    b"18446744073709551616",
    b"-1",
    b"1e400",
    b"0.5",
    b"null",
    b"\\u0000",
    b"\\ud800",
    b"[[[[[[[[[[[[[[[[",
    b"{\"a\":{\"a\":{\"a\":",
    b"\"\\\"\"",
];

/// Fields: the client id the record is read for, and the stored JSON.
fn records() -> Vec<Input> {
    let first = stored().to_json();
    let rotated = stored()
        .rotate(&hash("second"), Rotation::default(), NOW)
        .expect("a first rotation")
        .to_json();
    let foreign = r#"{"v":1,"client_id":"a b","secrets":[{"hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","expires_at":1,"note":"x"}],"grant_types":[],"scopes":["a"],"default_scopes":[],"token_ttl":60,"audience":["x"],"disabled":true,"rate_limit":{"per_minute":1,"burst":1},"owner":{"team":["t"]}}"#;
    [("svc", first.as_str()), ("svc", &rotated), ("a b", foreign)]
        .iter()
        .map(|(id, json)| vec![Some(id.as_bytes().to_vec()), Some(json.as_bytes().to_vec())])
        .collect()
}

fn client_record(input: &Input) -> Verdict {
    let id = text(&input[0]).unwrap_or_default();
    let json = text(&input[1]).unwrap_or_default();
    let client = Client::from_json(&id, &json);
    let record = Record::read_stored(&id, &json);
    check(
        client.is_ok() == record.is_ok(),
        "the token path and the admin API disagree on a stored record",
    )?;
    let Ok(record) = record else {
        check(
            record.is_err_and(|e| e.status == 500),
            "a broken stored record is not a fault",
        )?;
        return Ok(false);
    };
    check(
        Record::parse(&record.to_json()).as_ref() == Some(&record),
        "a stored record does not survive a rewrite",
    )?;
    check(record.secrets.len() <= MAX_SECRETS, "too many secrets")?;
    let info = record.info("default", None, NOW);
    check(
        info.secrets.len() == record.secrets.len(),
        "a secret not shown",
    )?;
    for secret in &info.secrets {
        let retired = record.retire(&secret.id, NOW);
        check(
            retired
                .as_ref()
                .is_ok_and(|(next, _)| next.keeps_the_schema())
                || retired.is_err_and(|e| e.status == 409),
            "a retirement that is neither done nor a conflict",
        )?;
    }
    Ok(true)
}

const BODIES: &[&[u8]] = &[
    br#"{"scopes":["orders:read","orders:write"],"default_scopes":["orders:read"],"audience":["https://api.example.com"]}"#,
    br#"{"client_id":"svc-2","scopes":["a"],"audience":["x","y"],"token_ttl":60,"rate_limit":{"per_minute":600,"burst":50},"grant_types":["client_credentials","urn:x"]}"#,
    br#"{"scopes":["b"],"default_scopes":[],"audience":["z"],"token_ttl":86400,"rate_limit":null,"grant_types":[]}"#,
    br#"{"old_secret_expires_at":1800000100}"#,
    b"",
    b" \n",
];

/// An error of the admin API as a caller's input may cause it: 4xx, never a fault.
fn is_input_error(error: &AdminError) -> bool {
    (400..500).contains(&error.status)
}

/// One body, read as each of the three request types, each then applied as the API would.
fn admin_body(input: &Input) -> Verdict {
    let body = bytes(&input[0]);
    let mut accepted = false;
    let created = parse_body::<NewClient>(body)
        .and_then(|new| Record::create(new, "generated".into(), &hash("new"), NOW));
    let updated = parse_body::<ClientUpdate>(body).and_then(|update| stored().updated(update));
    let rotated = parse_body::<Rotation>(body)
        .and_then(|rotation| stored().rotate(&hash("next"), rotation, NOW));
    for result in [created, updated, rotated] {
        match result {
            Ok(record) => {
                accepted = true;
                check(
                    Client::from_json(&record.client_id, &record.to_json()).is_ok(),
                    "a change wrote a record the token path refuses",
                )?;
            }
            Err(error) => check(
                is_input_error(&error),
                &format!("a request body caused a {}", error.status),
            )?,
        }
    }
    Ok(accepted)
}

const ROUTE_WORDS: &[&[u8]] = &[
    b"/admin/v1/tenants/",
    b"default",
    b"/clients",
    b"/disable",
    b"/enable",
    b"/secrets",
    b"GET",
    b"POST",
    b"PATCH",
    b"DELETE",
    b"%2F",
    b"%25",
    b"%+1",
    b"%-1",
    b"%C3%A9",
    b"%FF",
    b"//",
];

/// Fields: the method and the path.
fn routes() -> Vec<Input> {
    let secret_id = stored().secrets[0].id();
    let retire = format!("/admin/v1/tenants/default/clients/svc/secrets/{secret_id}");
    [
        ("GET", "/admin/v1/tenants/default/clients"),
        ("POST", "/admin/v1/tenants/acme-1/clients"),
        ("PATCH", "/admin/v1/tenants/default/clients/a%20b%2Fc"),
        ("POST", "/admin/v1/tenants/default/clients/svc/disable"),
        ("POST", "/admin/v1/tenants/t/clients/svc/secrets"),
        ("DELETE", retire.as_str()),
    ]
    .iter()
    .map(|(method, path)| {
        vec![
            Some(method.as_bytes().to_vec()),
            Some(path.as_bytes().to_vec()),
        ]
    })
    .collect()
}

/// Whether every `%` of `path` starts a two-hex-digit escape.
fn escapes_are_well_formed(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    })
}

fn admin_route(input: &Input) -> Verdict {
    let method = text(&input[0]).unwrap_or_default();
    let path = text(&input[1]).unwrap_or_default();
    let request = match parse_route(&method, &path) {
        Ok(request) => request,
        Err(error) => {
            check(
                matches!(error.status, 400 | 404 | 405),
                &format!("a route refused with {}", error.status),
            )?;
            return Ok(false);
        }
    };
    check(
        is_tenant_name(&request.tenant),
        "a route to a bad tenant name",
    )?;
    check(
        request.route.client_id().is_none_or(is_valid_client_id),
        "a route to a bad client id",
    )?;
    check(
        escapes_are_well_formed(&path),
        "a path with a malformed escape was accepted",
    )?;
    if let Route::Retire(_, secret_id) = &request.route {
        let retired = stored().retire(secret_id, NOW);
        check(
            retired.is_err_and(|e| matches!(e.status, 404 | 409)),
            "retiring the only secret was not refused",
        )?;
    }
    Ok(true)
}

fn admin_token(input: &Input) -> Verdict {
    let header = text(&input[0]);
    let access = check_admin_token(Some(ADMIN_TOKEN), header.as_deref());
    check(access != AdminAccess::Off, "a configured API switched off")?;
    let allowed = access == AdminAccess::Allowed;
    check(
        !allowed || header.as_deref().is_some_and(|h| h.contains(ADMIN_TOKEN)),
        "allowed without the token",
    )?;
    Ok(allowed)
}
