//! For high-value routes: the issuer is asked whether the token is still active (RFC 7662),
//! which catches what a local check cannot: a revoked token, or one whose client has been
//! disabled since it was issued. The Worker authenticates as a client of its own
//! (`client_secret_basic`; the secret in `INTROSPECTION_CLIENT_SECRET`). Fails closed: an
//! unreachable or unconfigured introspection endpoint is 503, never a pass.

use base64ct::{Base64, Encoding};
use serde::Deserialize;
use worker::{wasm_bindgen::JsValue, Env, Fetch, Headers, Method, Request, RequestInit};

use crate::answer::Refusal;

/// The part of the introspection answer read here.
#[derive(Deserialize)]
struct Introspection {
    /// Whether the issuer considers the token active.
    active: bool,
}

/// Ok if the issuer says the token is active; `invalid_token` if it says not.
pub(crate) async fn require_active(env: &Env, token: &str) -> Result<(), Refusal> {
    let unavailable = || Refusal::Unavailable("introspection_unavailable");
    let setting = |name: &str| {
        env.var(name)
            .ok()
            .map(|v| v.to_string())
            .filter(|v| !v.is_empty())
    };
    let (Some(url), Some(id)) = (
        setting("INTROSPECTION_URL"),
        setting("INTROSPECTION_CLIENT_ID"),
    ) else {
        return Err(Refusal::Unavailable("introspection_not_configured"));
    };
    let Ok(secret) = env
        .secret("INTROSPECTION_CLIENT_SECRET")
        .map(|s| s.to_string())
    else {
        return Err(Refusal::Unavailable("introspection_not_configured"));
    };
    let answer = ask(&url, &id, &secret, token)
        .await
        .map_err(|_| unavailable())?;
    if answer.active {
        Ok(())
    } else {
        Err(Refusal::InvalidToken("inactive"))
    }
}

/// POSTs the token to the introspection endpoint and reads a 200 answer.
async fn ask(url: &str, id: &str, secret: &str, token: &str) -> Result<Introspection, ()> {
    let credentials = format!("{}:{}", form_encode(id), form_encode(secret));
    let headers = Headers::new();
    let basic = format!("Basic {}", Base64::encode_string(credentials.as_bytes()));
    headers.set("Authorization", &basic).map_err(drop)?;
    headers
        .set("Content-Type", "application/x-www-form-urlencoded")
        .map_err(drop)?;
    headers.set("Accept", "application/json").map_err(drop)?;
    let body = format!("token={}&token_type_hint=access_token", form_encode(token));
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(&body)));
    let request = Request::new_with_init(url, &init).map_err(drop)?;
    let mut response = Fetch::Request(request).send().await.map_err(drop)?;
    if response.status_code() != 200 {
        return Err(());
    }
    response.json().await.map_err(drop)
}

/// application/x-www-form-urlencoded of one value (RFC 6749 §2.3.1 asks it of Basic's parts).
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
